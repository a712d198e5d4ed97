import Foundation
import Testing
import TouchpointConfig
import TouchpointControl
import TouchpointDispatch
import TouchpointDomain
import TouchpointTestSupport

/// GOV.UK Notify as its server behaves (`../shared/notify/NOTIFY-CONTRACT.md`),
/// issue 29: the double checked against the contract's points with `curl`,
/// then the real daemon against that double.
@Suite(.serialized) struct NotifyAsItBehavesTests {
    func rfc(_ d: Date) -> String { Timestamp.rfc3339(d) }

    func job(_ h: DaemonHarness, _ id: String) throws -> JobView { try h.ctlJSON(JobView.self, ["job", id]) }

    /// `curl` to the double: the status and the body.
    func curl(_ notify: NotifyDouble, _ method: String, _ path: String, token: String?, body: String? = nil) throws -> (Int, String) {
        var args = ["-s", "-o", "-", "-w", "\n%{http_code}", "-X", method, notify.baseURL + path]
        if let token { args += ["-H", "Authorization: Bearer \(token)"] }
        if let body { args += ["-H", "Content-Type: application/json", "--data-binary", body] }
        let r = try DaemonHarness.run("/usr/bin/curl", args)
        let lines = r.stdout.split(separator: "\n", omittingEmptySubsequences: false)
        return (Int(lines.last ?? "") ?? 0, lines.dropLast().joined(separator: "\n"))
    }

    func token(_ notify: NotifyDouble, secret: String? = nil) -> String {
        NotifyToken.make(key: NotifyAPIKey("test-\(notify.serviceID)-\(secret ?? notify.secret)")!, now: Date())
    }

    /// The points a double written from the documentation gets wrong, each as the real server has it.
    @Test func theDoubleAnswersAsNotifysServerDoes() throws {
        let notify = try NotifyDouble()
        let good = token(notify)
        // 401 without a token; 403 AuthError for a secret that matches no key (contract points 3, 7).
        #expect(try curl(notify, "GET", "/v2/notifications", token: nil) == (401, #"{"errors":[{"error":"AuthError","message":"Unauthorized: authentication token must be provided"}],"status_code":401}"#))
        let wrong = try curl(notify, "GET", "/v2/notifications", token: token(notify, secret: UUID().uuidString.lowercased()))
        #expect(wrong.0 == 403 && wrong.1.contains(#""error":"AuthError","message":"Invalid token: API key not found""#), "\(wrong)")
        // Every schema error at once, in jsonschema's order, unknown properties refused (points 13, 17, 18).
        let schema = try curl(notify, "POST", "/v2/notifications/sms", token: good,
                              body: #"{"phone_number":447700900123,"template_id":"x","reference":null,"colour":"red"}"#)
        #expect(schema.0 == 400)
        let messages = ((try? JSONSerialization.jsonObject(with: Data(schema.1.utf8))) as? [String: Any])?["errors"] as? [[String: String]] ?? []
        #expect(messages.map { $0["message"] ?? "" } == ["phone_number 447700900123 is not of type string", "template_id is not a valid UUID",
                                                          "reference None is not of type string", "Additional properties are not allowed (colour was unexpected)"])
        // A UK landline: 400 InvalidPhoneError, no field prefix (point 25).
        let sms = { (to: String) in #"{"phone_number":"\#(to)","template_id":"\#(notify.smsTemplateID)","personalisation":{"body":"hi"},"reference":"r-\#(to)"}"# }
        #expect(try curl(notify, "POST", "/v2/notifications/sms", token: good, body: sms("020 7946 0000")) == (400, #"{"errors":[{"error":"InvalidPhoneError","message":"Not a UK mobile number"}],"status_code":400}"#))
        // A smoke-test number: 201 with an id, nothing kept (point 30).
        let smoke = try curl(notify, "POST", "/v2/notifications/sms", token: good, body: sms("07700900111"))
        let smokeID = ((try? JSONSerialization.jsonObject(with: Data(smoke.1.utf8))) as? [String: Any])?["id"] as? String ?? ""
        #expect(smoke.0 == 201 && !smokeID.isEmpty)
        #expect(try curl(notify, "GET", "/v2/notifications/\(smokeID)", token: good).0 == 404)
        // International: `sent`, final (point 35); past the retention, nothing is found (point 31).
        let abroad = try curl(notify, "POST", "/v2/notifications/sms", token: good, body: sms("+33 6 12 34 56 78"))
        let abroadID = ((try? JSONSerialization.jsonObject(with: Data(abroad.1.utf8))) as? [String: Any])?["id"] as? String ?? ""
        #expect(try curl(notify, "GET", "/v2/notifications/\(abroadID)", token: good).1.contains(#""status":"sent""#))
        notify.age(by: 8 * 86_400)
        #expect(try curl(notify, "GET", "/v2/notifications/\(abroadID)", token: good).0 == 404)
        #expect(try curl(notify, "GET", "/v2/notifications?reference=r-%2B33%206%2012%2034%2056%2078", token: good).1.contains(#""notifications":[]"#))
        // The bucket: POSTs only, a burst of capacity - 1, a refused POST spends a token (point 10).
        notify.enforceTokenBucket(capacity: 5, perSecond: 0.01)
        let codes = try (0..<6).map { _ in try curl(notify, "POST", "/v2/notifications/sms", token: good, body: sms("07700900123")).0 }
        #expect(codes == [201, 201, 201, 201, 429, 429], "\(codes)")
        #expect(try curl(notify, "GET", "/v2/notifications", token: good).0 == 200, "a GET is not rate limited")
    }

    /// Notify sends abroad and says `sent`, final where the country gives no
    /// receipts: the notice is done with it at the first look-up, shown as
    /// such, not polled on until `receipt_max_age` and called unknown.
    @Test func anInternationalTextReportedSentIsFinalAtTheFirstLookUp() throws {
        let notify = try NotifyDouble()
        notify.looksToFinal(5)
        let h = try DaemonHarness()
        try h.useNotify(notify)
        try h.appendLines([#"{"v":1,"id":"OA1","type":"open_access.booked","ref":"OA1","patient":{"id":"P1","name":"Bea Example","phone":"+33 6 12 34 56 78","channel":"sms"},"at":"\#(rfc(Date().addingTimeInterval(3 * 86_400)))","clinic":"Breast clinic"}"#])
        try h.start()
        defer { _ = try? h.stop() }
        try h.waitUntil(timeout: 20, "the receipt comes") { try job(h, "oa-OA1-1").delivery?.isFinal == true }
        let j = try job(h, "oa-OA1-1")
        #expect(j.delivery == .sent)
        #expect(j.history?.contains { $0.reason.contains("sent, no receipt from this country") } == true, "\(j.history ?? [])")
        let looks = notify.requests.filter { $0.method == "GET" && $0.path.hasPrefix("/v2/notifications/") }.count
        #expect(looks == 1)
        Thread.sleep(forTimeInterval: 2.5)
        #expect(notify.requests.filter { $0.method == "GET" && $0.path.hasPrefix("/v2/notifications/") }.count == looks, "not asked again")
        #expect(try h.ctl(["job", "oa-OA1-1"]).stdout.contains("delivery  sent, no receipt from this country"))
        #expect(try h.ctl(["jobs", "--delivery", "sent"]).stdout.contains("sent, no receipt from this country"))
        // The report counts it beside the delivered ones, in the same words.
        let report = try h.ctl(["report", "--from", "\(h.time.day(0))", "--to", "\(h.time.day(5))"]).stdout
        #expect(report.contains("delivered 0, sent, no receipt from this country 1"), "\(report)")
    }

    /// A landline Notify will not text (400 InvalidPhoneError) is never
    /// tried again: the notice goes once by email when the patient has one.
    @Test func aLandlineNotifyWillNotTextGoesByEmailInstead() throws {
        let notify = try NotifyDouble()
        let h = try DaemonHarness()
        try h.useNotify(notify)
        try h.appendLines([#"{"v":1,"id":"OA1","type":"open_access.booked","ref":"OA1","patient":{"id":"P1","name":"Bea Example","phone":"020 7946 0000","email":"p1@example.org","channel":"sms"},"at":"\#(rfc(Date().addingTimeInterval(3 * 86_400)))","clinic":"Breast clinic"}"#])
        try h.start()
        defer { _ = try? h.stop() }
        try h.waitUntil(timeout: 20, "the email goes") { try job(h, "oa-OA1-1").state == .done }
        #expect(notify.notifications.map(\.type) == ["email"])
        let reasons = try job(h, "oa-OA1-1").history?.map(\.reason) ?? []
        #expect(reasons.contains { $0.contains("will not send to this address") && $0.contains("sending it once by email instead") }, "\(reasons)")
    }

    /// A status Notify adds that touchpoint does not know is neither dropped
    /// nor taken for an answer: it is logged once, with the word and the
    /// notice (no recipient), and the notice asked after again until a word
    /// touchpoint knows comes.
    @Test func aStatusTouchpointDoesNotKnowIsLoggedOnceAndAskedAgain() throws {
        let notify = try NotifyDouble()
        notify.finalStatus("a-status-notify-adds-next-year", for: "p1@example.org")
        let h = try DaemonHarness()
        try h.useNotify(notify)
        try h.appendLines([#"{"v":1,"id":"OA1","type":"open_access.booked","ref":"OA1","patient":{"id":"P1","name":"Bea Example","email":"p1@example.org","channel":"email"},"at":"\#(rfc(Date().addingTimeInterval(3 * 86_400)))","clinic":"Breast clinic"}"#])
        try h.start()
        defer { _ = try? h.stop() }
        let looks = { notify.requests.filter { $0.method == "GET" && $0.path.hasPrefix("/v2/notifications/") }.count }
        try h.waitUntil(timeout: 20, "Notify is asked three times") { looks() >= 3 }
        #expect(try job(h, "oa-OA1-1").delivery?.isFinal == false, "an unknown word is not an answer")
        let warnings = h.daemonStderr.components(separatedBy: "\n").filter { $0.contains("a-status-notify-adds-next-year") }
        #expect(warnings.count == 1 && warnings[0].contains("oa-OA1-1"), "\(warnings)")
        #expect(!h.daemonStderr.contains("p1@example.org") && !h.daemonStderr.contains("Bea Example"))
        notify.finalStatus("delivered", for: "p1@example.org")
        try h.waitUntil(timeout: 20, "the known word settles it") { try job(h, "oa-OA1-1").delivery == .delivered }
    }

    /// 10,000 notices due at once through a double that enforces Notify's
    /// real bucket (1,000, 50 a second, refused requests spending tokens) and
    /// answers as fast as it can: all sent, none twice, none refused, in the
    /// time touchpoint's own bucket allows (500 at once, then 40 a second).
    @Test(.timeLimit(.minutes(10))) func tenThousandNoticesDueAtOnceKeepWithinNotifysBucket() throws {
        let n = 10_000
        let notify = try NotifyDouble()
        notify.enforceTokenBucket()
        let h = try DaemonHarness()
        try h.useNotify(notify, notify: #"receipt_poll = "1h""#)
        let at = rfc(Date().addingTimeInterval(3 * 86_400))
        try h.appendLines((0..<n).map { i in
            #"{"v":1,"id":"oa-\#(i)","type":"open_access.booked","ref":"OA-\#(i)","patient":{"id":"PO\#(i)","email":"p\#(i)@example.org","channel":"email"},"at":"\#(at)","clinic":"Breast clinic"}"#
        })
        try h.start(timeout: 600)
        defer { _ = try? h.stop() }
        let first = Date()
        try h.waitUntil(timeout: 540, "every notice is accepted") { try h.status().jobs[.openAccessInfo]?[.done] == n }
        let took = Date().timeIntervalSince(first)
        #expect(notify.refusedForRate == 0)
        #expect(notify.notifications.count == n && notify.keptByReference.values.allSatisfy { $0 == 1 })
        // The posts themselves: never more than 500 + 40 a second since the first.
        let posts = notify.requests.filter { $0.method == "POST" }.map(\.at).sorted()
        let start = try #require(posts.first)
        for (i, t) in posts.enumerated() where i % 250 == 0 {
            #expect(Double(i + 1) <= 500 + 40 * t.timeIntervalSince(start) + 1, "post \(i + 1) at \(t.timeIntervalSince(start)) s")
        }
        #expect(took < Double(n - 500) / 40 + 60, "\(took) s")
    }
}
