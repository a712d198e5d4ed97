import Foundation
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The `notify` transport through the real daemon against `NotifyDouble`, a
/// stand-in for GOV.UK Notify built from its public documentation (Notify
/// itself cannot be reached from here, and a test must send no real message).
@Suite struct NotifyTransportTests {
    func rfc(_ d: Date) -> String { Timestamp.rfc3339(d) }

    /// An Open Access booking 3 days ahead: its information is due at once.
    func openAccess(_ ref: String, _ patient: String, sms: Bool = false, phone: String = "07700 900123") -> String {
        let contact = sms ? #""phone":"\#(phone)","channel":"sms""# : #""email":"\#(patient.lowercased())@example.org","channel":"email""#
        return #"{"v":1,"id":"\#(ref)","type":"open_access.booked","ref":"\#(ref)","patient":{"id":"\#(patient)","name":"Bea Example",\#(contact)},"at":"\#(rfc(Date().addingTimeInterval(3 * 86_400)))","clinic":"Breast clinic","mode":"phone"}"#
    }

    func job(_ h: DaemonHarness, _ id: String) throws -> JobView { try h.ctlJSON(JobView.self, ["job", id]) }

    @Test func eachKindAndChannelGoesWithTheRightJSONAndItsReceiptsAreFollowed() throws {
        let notify = try NotifyDouble()
        notify.looksToFinal(2)
        notify.finalStatus("permanent-failure", for: "+447700900555")
        let h = try DaemonHarness()
        try h.useNotify(notify)
        let surgery = Date().addingTimeInterval(3600)
        try h.appendLines([
            openAccess("OA1", "P1"),
            openAccess("OA2", "P2", sms: true, phone: "07700 900555"),
            #"{"v":1,"id":"e1","type":"surgery.booked","ref":"S1","patient":{"id":"P3","name":"Ann Example","phone":"07700 900123","channel":"sms"},"at":"\#(rfc(surgery))","admit_at":"\#(rfc(Date().addingTimeInterval(-60)))","ward":"Ward 7"}"#,
            #"{"v":1,"id":"e2","type":"surgery.booked","ref":"S2","patient":{"id":"P4","name":"Cat Example","email":"p4@example.org","channel":"email"},"at":"\#(rfc(surgery))","admit_at":"\#(rfc(Date().addingTimeInterval(-60)))","ward":"Ward 7"}"#,
        ])
        try h.start()
        for id in ["oa-OA1-1", "oa-OA2-1", "wait-S1-1", "wait-S2-1"] {
            try h.waitUntil(timeout: 20, "\(id) accepted") { try job(h, id).state == .done }
        }
        let sent = notify.notifications
        #expect(sent.count == 4)
        let email = try #require(sent.first { $0.type == "email" && $0.recipient == "p1@example.org" })
        #expect(email.templateID == notify.emailTemplateID)
        #expect(email.personalisation["subject"]?.contains("Open Access appointment") == true && email.personalisation["body"]?.hasPrefix("Hello Bea,") == true)
        let waitEmail = try #require(sent.first { $0.type == "email" && $0.recipient == "p4@example.org" })
        #expect(waitEmail.personalisation["subject"]?.isEmpty == false && waitEmail.personalisation["body"]?.hasPrefix("Hello Cat,") == true)
        let texts = sent.filter { $0.type == "sms" }
        #expect(texts.count == 2 && texts.allSatisfy { $0.templateID == notify.smsTemplateID && $0.personalisation.keys.sorted() == ["body"] })
        #expect(Set(texts.map(\.recipient)) == ["+447700900555", "+447700900123"])
        // References: one per notice, opaque (no patient data).
        let refs = sent.compactMap(\.reference)
        #expect(Set(refs).count == 4 && refs.allSatisfy { !$0.contains("P1") && !$0.contains("Bea") && !$0.contains("900") })
        // Receipts: sending, then final; the failure is listed and counted.
        try h.waitUntil(timeout: 20, "the receipts come") {
            try ["oa-OA1-1", "oa-OA2-1", "wait-S1-1", "wait-S2-1"].allSatisfy { try job(h, $0).delivery?.isFinal == true }
        }
        #expect(try job(h, "oa-OA1-1").delivery == .delivered && job(h, "wait-S1-1").delivery == .delivered)
        #expect(try job(h, "oa-OA2-1").delivery == .permanentFailure)
        let failed = try h.ctlJSON(JobsReport.self, ["jobs", "--delivery", "failed"]).jobs.map(\.id)
        #expect(failed == ["oa-OA2-1"])
        let status = try h.status()
        #expect(status.transport?.kind == "notify" && status.transport?.held == nil)
        #expect(status.transport?.deliveries == [.delivered: 3, .permanentFailure: 1])
        let history = try job(h, "oa-OA2-1").history?.map(\.reason) ?? []
        #expect(history.contains { $0.contains("delivery receipt: permanent failure") }, "\(history)")
        // Nothing more is asked once every receipt is final.
        let asked = notify.requests.count
        Thread.sleep(forTimeInterval: 2.5)
        #expect(notify.requests.count == asked)
        try h.stop()
        let log = try String(contentsOfFile: h.dir + "/daemon.stderr", encoding: .utf8)
        #expect(!log.contains(notify.secret) && !log.contains("900555") && !log.contains("p1@example.org"))
    }

    @Test func aTextThatCannotBeDeliveredGoesOnceByEmailWhenThePatientHasOne() throws {
        let notify = try NotifyDouble()
        notify.finalStatus("permanent-failure", for: "+447700900555")
        notify.finalStatus("temporary-failure", for: "p1@example.org")
        let h = try DaemonHarness()
        try h.useNotify(notify)
        try h.appendLines([#"{"v":1,"id":"OA1","type":"open_access.booked","ref":"OA1","patient":{"id":"P1","name":"Bea Example","phone":"07700 900555","email":"p1@example.org","channel":"sms"},"at":"\#(rfc(Date().addingTimeInterval(3 * 86_400)))","clinic":"Breast clinic"}"#])
        try h.start()
        try h.waitUntil(timeout: 30, "the text fails, the email goes and fails too") {
            try notify.notifications.count == 2 && job(h, "oa-OA1-1").delivery?.isFinal == true
        }
        let sent = notify.notifications
        #expect(sent.map(\.type) == ["sms", "email"] && sent[1].recipient == "p1@example.org")
        #expect(sent[0].reference != sent[1].reference)
        let j = try job(h, "oa-OA1-1")
        #expect(j.state == .done && j.delivery == .temporaryFailure)
        let reasons = j.history?.map(\.reason) ?? []
        #expect(reasons.contains { $0.contains("permanent failure") && $0.contains("sending it once by email instead") }, "\(reasons)")
        // Once: the email's failure is final, listed, not sent a third time.
        Thread.sleep(forTimeInterval: 2)
        #expect(notify.notifications.count == 2)
        #expect(try h.ctlJSON(JobsReport.self, ["jobs", "--delivery", "failed"]).jobs.map(\.id) == ["oa-OA1-1"])
        try h.stop()
    }

    @Test func theKeyComesFromSystemdsCredentialsAndRequestsGoThroughTheProxy() throws {
        let notify = try NotifyDouble()
        let proxy = try ConnectProxy()
        let h = try DaemonHarness()
        try h.useNotify(notify, key: "not used", notify: "proxy = \"\(proxy.url)\"\n")
        try FileManager.default.removeItem(atPath: h.notifyKeyPath)
        let credentials = h.dir + "/credentials"
        try FileManager.default.createDirectory(atPath: credentials, withIntermediateDirectories: true)
        try notify.apiKey.write(toFile: credentials + "/notify-api-key", atomically: true, encoding: .utf8)
        try h.appendLines([openAccess("OA1", "P1")])
        try h.start(environment: ["CREDENTIALS_DIRECTORY": credentials])
        try h.waitUntil(timeout: 20, "the notice is accepted") { try job(h, "oa-OA1-1").state == .done }
        #expect(notify.notifications.count == 1 && proxy.targets.contains("127.0.0.1:\(notify.port)"))
        try h.stop()
        // Without the credential and with no key file, the config is refused, naming the file.
        let r = try h.runDaemonToExit(["--check-config", "--config", h.configPath])
        #expect(r.status != 0 && r.stderr.contains(h.notifyKeyPath) && r.stderr.contains("no such file"), "\(r.stderr)")
    }

    @Test func overHTTPSTheTrustsOwnRootCertificateIsTrustedFromCAFile() throws {
        let dir = NSTemporaryDirectory() + "notify-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let made = try DaemonHarness.run("/usr/bin/openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                                                              "-keyout", dir + "/key.pem", "-out", dir + "/cert.pem",
                                                              "-subj", "/CN=touchpoint test root", "-addext", "subjectAltName=IP:127.0.0.1"])
        try #require(made.status == 0, "\(made.stderr)")
        let notify = try NotifyDouble(tls: (dir + "/cert.pem", dir + "/key.pem"))
        let h = try DaemonHarness()
        // Without the certificate the server is not trusted: retried, not sent.
        try h.useNotify(notify)
        try h.appendLines([openAccess("OA1", "P1")])
        try h.start()
        try h.waitUntil(timeout: 20, "a first attempt fails on the certificate") { try job(h, "oa-OA1-1").deliveries?.isEmpty == false }
        #expect(try job(h, "oa-OA1-1").state != .done && notify.notifications.isEmpty)
        try h.stop()
        // With it in ca_file, the notice goes.
        try h.useNotify(notify, notify: "ca_file = \"\(dir)/cert.pem\"\n")
        try h.start()
        try h.waitUntil(timeout: 20, "the notice is accepted over HTTPS") { try job(h, "oa-OA1-1").state == .done }
        #expect(notify.notifications.count == 1 && notify.baseURL.hasPrefix("https://"))
        try h.stop()
    }

    @Test func a400FailsTheNoticeWithNotifysMessage() throws {
        let notify = try NotifyDouble()
        notify.inject(.status(400, error: "BadRequestError", message: "Template has been deleted"))
        let h = try DaemonHarness()
        try h.useNotify(notify)
        try h.appendLines([openAccess("OA1", "P1", sms: true)])
        try h.start()
        try h.waitUntil(timeout: 20, "the notice fails") { try job(h, "oa-OA1-1").state == .failed }
        let j = try job(h, "oa-OA1-1")
        #expect(j.deliveries?.count == 1 && j.deliveries?.first?.detail?.contains("400 BadRequestError: Template has been deleted") == true)
        #expect(notify.notifications.isEmpty)
        try h.stop()
    }

    @Test func a403HoldsEveryNoticeUntilTheKeyIsFixedAndReloaded() throws {
        let notify = try NotifyDouble()
        let h = try DaemonHarness()
        let wrong = "touchpoint_test_double-\(notify.serviceID)-\(UUID().uuidString.lowercased())"
        try h.useNotify(notify, key: wrong)
        try h.appendLines([openAccess("OA1", "P1"), openAccess("OA2", "P2")])
        try h.start()
        try h.waitUntil(timeout: 20, "status says dispatch is held") { try h.status().transport?.held != nil }
        let held = try #require(try h.status().transport?.held)
        #expect(held.contains("403") && held.contains("API key"), "\(held)")
        #expect(!held.contains(wrong.suffix(36)))
        #expect(try job(h, "oa-OA1-1").state == .due && job(h, "oa-OA2-1").state == .due)
        #expect(try job(h, "oa-OA1-1").deliveries?.isEmpty != false, "a hold is not an attempt of the notice")
        #expect(notify.notifications.isEmpty)
        // The admin fixes the key and reloads: both go, once each.
        try notify.apiKey.write(toFile: h.notifyKeyPath, atomically: true, encoding: .utf8)
        #expect(try h.ctl(["reload"]).status == 0)
        try h.waitUntil(timeout: 20, "both notices go") { try job(h, "oa-OA1-1").state == .done && job(h, "oa-OA2-1").state == .done }
        #expect(notify.keptByReference.values.sorted() == [1, 1])
        try h.waitUntil(timeout: 10, "the hold is lifted") { try h.status().transport?.held == nil }
        try h.stop()
    }

    /// A 429 for the rate is Notify's refusal before it read the body: the
    /// same send goes again after a pause that holds the whole lane, not
    /// counted as an attempt of the notice; a 500 is an attempt, retried
    /// with the notice's backoff.
    @Test func ratesAndServerErrorsAreRetriedWithBackoff() throws {
        let notify = try NotifyDouble()
        notify.inject(.status(429, error: "RateLimitError", message: "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds"),
                      .status(500, error: "Exception", message: "Internal server error"))
        let h = try DaemonHarness()
        try h.useNotify(notify)
        try h.appendLines([openAccess("OA1", "P1")])
        try h.start()
        try h.waitUntil(timeout: 30, "the notice goes on the third post") { try job(h, "oa-OA1-1").state == .done }
        let d = try #require(try job(h, "oa-OA1-1").deliveries)
        #expect(d.map(\.result) == [.retry, .sent])
        #expect(d[0].detail?.contains("500") == true)
        #expect(d[1].at.timeIntervalSince(d[0].at) >= 0.9)
        let posts = notify.requests.filter { $0.method == "POST" }.map(\.at)
        #expect(posts.count == 3 && posts[1].timeIntervalSince(posts[0]) >= 0.9, "the lane paused after the 429")
        #expect(notify.keptByReference.values.sorted() == [1])
        try h.stop()
    }

    @Test func anAnswerLostAfterNotifyTookTheNoticeIsAdoptedNotSentAgain() throws {
        let notify = try NotifyDouble()
        notify.inject(.dropAfterBody)
        let h = try DaemonHarness()
        try h.useNotify(notify)
        try h.appendLines([openAccess("OA1", "P1")])
        try h.start()
        try h.waitUntil(timeout: 30, "the notice is done") { try job(h, "oa-OA1-1").state == .done }
        #expect(notify.notifications.count == 1 && notify.postsByReference.values.sorted() == [1])
        #expect(notify.requests.contains { $0.method == "GET" && $0.path.contains("reference=") }, "asked Notify by reference first")
        let j = try job(h, "oa-OA1-1")
        #expect(j.delivery != nil && j.deliveries?.map(\.result) == [.retry, .sent])
        try h.stop()
    }

    /// 20 rounds of kill -9 while 500 notices go out through a double that
    /// answers slowly and sometimes drops the connection after the body:
    /// every notice reaches it exactly once.
    @Test func killedTwentyTimesWhileSendingEveryNoticeReachesNotifyExactlyOnce() throws {
        let notify = try NotifyDouble()
        notify.faultAtRandom(slow: 0.05, drop: 0.05, seconds: 0.3)
        let h = try DaemonHarness()
        // 450 Open Access notices and 50 of a configured contact (contacts.md).
        try h.useNotify(notify, extra: ContactsEndToEndTests.seedContacts)
        let soon = rfc(Date().addingTimeInterval(86_400))
        try h.appendLines((1...450).map { openAccess("OA\($0)", "P\($0)") } + (1...50).map { i in
            #"{"v":1,"id":"A\#(i)","type":"appointment.booked","ref":"A\#(i)","patient":{"id":"PA\#(i)","name":"Hana Sample","email":"pa\#(i)@example.org","channel":"email"},"at":"\#(soon)","service":"phone_consultation","mode":"phone"}"#
        })
        for round in 1...20 {
            try h.start(timeout: 60)
            Thread.sleep(forTimeInterval: Double.random(in: 0.2...0.8))
            try h.crash()
            _ = round
        }
        notify.stopFaults()
        try h.start(timeout: 60)
        try h.waitUntil(timeout: 120, "every notice is done") {
            let jobs = try h.status().jobs
            return jobs[.openAccessInfo]?[.done] == 450 && jobs[JobKind(rawValue: "phone_appointment_prep")]?[.done] == 50
        }
        let kept = notify.keptByReference
        #expect(kept.count == 500, "\(kept.count) references reached Notify")
        #expect(kept.values.allSatisfy { $0 == 1 }, "sent twice: \(kept.filter { $0.value > 1 }.keys.sorted().prefix(5))")
        let posted = notify.postsByReference.values.reduce(0, +)
        #expect(posted >= 500)
        try h.stop()
    }
}
