import Foundation
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

#if canImport(Glibc)
import Glibc
import Synchronization
#endif

/// Notices through the real daemon to a real outbox directory or a real program.
/// The default quiet hours (20:00-08:00) apply: each test's hospital clock is
/// late morning (`ScenarioTime`), so a notice due now goes now.
@Suite struct DispatchTests {
    func rfc(_ d: Date) -> String { Timestamp.rfc3339(d) }

    /// An Open Access booking 3 days ahead: its information is due at once.
    func openAccess(_ ref: String, _ patient: String, optedOut: Bool = false) -> String {
        #"{"v":1,"id":"\#(ref)","type":"open_access.booked","ref":"\#(ref)","patient":{"id":"\#(patient)","name":"Bea Example","email":"\#(patient.lowercased())@example.org","channel":"email","opted_out":\#(optedOut)},"at":"\#(rfc(Date().addingTimeInterval(3 * 86_400)))","clinic":"Breast clinic","mode":"phone"}"#
    }

    func outboxFiles(_ h: DaemonHarness) -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: h.dir + "/spool/outbox")) ?? []).filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }
    }

    func script(_ h: DaemonHarness, _ body: String) throws -> String {
        let path = h.dir + "/send-notice"
        try ("#!/bin/bash\n" + body).write(toFile: path, atomically: true, encoding: .utf8)
        chmod(path, 0o755)
        return path
    }

    @Test func aNoticeDueNowLandsInTheOutboxWithEveryField() throws {
        let h = try DaemonHarness()
        try h.appendLines([openAccess("OA1", "P1")])
        try h.start()
        try h.waitUntil(timeout: 10, "the notice is sent") { try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"]).state == .done }
        let files = outboxFiles(h)
        #expect(files.count == 1)
        let path = h.dir + "/spool/outbox/" + files[0]
        let m = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        for key in ["v", "message_id", "job_id", "kind", "channel", "to", "subject", "body", "ref", "patient_id", "revision", "due_at", "created_at"] {
            #expect(m[key] != nil, "message lacks \(key)")
        }
        #expect(files[0] == "\(m["message_id"] as! String).json")
        #expect(m["job_id"] as? String == "oa-OA1-1" && m["kind"] as? String == "open_access_info" && m["channel"] as? String == "email")
        #expect(m["to"] as? String == "p1@example.org" && m["ref"] as? String == "OA1" && m["patient_id"] as? String == "P1" && m["revision"] as? Int == 1)
        let body = m["body"] as? String ?? ""
        #expect(body.hasPrefix("Hello Bea,") && body.contains("01632 960 000") && body.contains("by phone") && body.contains("write down"))
        #expect((m["subject"] as? String)?.contains("Open Access appointment") == true)
        let mode = try FileManager.default.attributesOfItem(atPath: path)[.posixPermissions] as! Int
        #expect(mode == 0o640)
        let job = try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"])
        #expect(job.deliveries?.map(\.result) == [.sent])
        #expect(try h.status().lastDispatch != nil)
        try h.stop()
    }

    @Test func aCommandThatExits75TwiceThen0IsRetriedWithGrowingDelays() throws {
        let h = try DaemonHarness()
        let s = try script(h, """
            n=$(cat "\(h.dir)/count" 2>/dev/null || echo 0); n=$((n+1)); echo $n > "\(h.dir)/count"
            cat > "\(h.dir)/stdin-$n"; echo "$TOUCHPOINT_MESSAGE_ID" > "\(h.dir)/id-$n"
            [ $n -le 2 ] && { echo "gateway busy" >&2; exit 75; }
            exit 0
            """)
        try h.writeConfig(h.config().replacingOccurrences(of: "[transport]\noutbox_dir = \"spool/outbox\"",
            with: "[transport]\nkind = \"command\"\ncommand = [\"\(s)\"]\nbackoff_initial = \"1s\"\nbackoff_max = \"10s\"\ntimeout = \"5s\""))
        try h.appendLines([openAccess("OA1", "P1")])
        try h.start()
        try h.waitUntil(timeout: 30, "the notice is sent on the third try") { try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"]).state == .done }
        let job = try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"])
        let d = try #require(job.deliveries)
        #expect(d.map(\.result) == [.retry, .retry, .sent])
        #expect(d[0].detail?.contains("gateway busy") == true)
        let gap1 = d[1].at.timeIntervalSince(d[0].at)
        let gap2 = d[2].at.timeIntervalSince(d[1].at)
        #expect(gap1 >= 0.9 && gap2 > gap1, "gaps \(gap1) s then \(gap2) s")
        // The message on standard input, the same message id every time.
        let ids = try (1...3).map { try String(contentsOfFile: h.dir + "/id-\($0)", encoding: .utf8) }
        #expect(Set(ids).count == 1)
        let stdin = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: h.dir + "/stdin-3"))) as? [String: Any]
        #expect(stdin?["job_id"] as? String == "oa-OA1-1")
        #expect((stdin?["message_id"] as? String).map { $0 + "\n" } == ids[0])
        try h.stop()
    }

    @Test func exitOneFailsAtOnceKeepingStandardErrorAndAHangIsKilledAndRetried() throws {
        let h = try DaemonHarness()
        let s = try script(h, """
            cat > /dev/null
            case "$TOUCHPOINT_MESSAGE_ID" in
              oa-OA1-*) echo "the gateway refused this number" >&2; exit 1 ;;
              *) n=$(cat "\(h.dir)/hang" 2>/dev/null || echo 0); echo $((n+1)) > "\(h.dir)/hang"
                 [ $n -eq 0 ] && sleep 60; exit 0 ;;
            esac
            """)
        try h.writeConfig(h.config().replacingOccurrences(of: "[transport]\noutbox_dir = \"spool/outbox\"",
            with: "[transport]\nkind = \"command\"\ncommand = [\"\(s)\"]\nbackoff_initial = \"1s\"\ntimeout = \"1s\""))
        try h.appendLines([openAccess("OA1", "P1"), openAccess("OA2", "P2")])
        try h.start()
        try h.waitUntil(timeout: 30, "both settle") {
            try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"]).state == .failed && h.ctlJSON(JobView.self, ["job", "oa-OA2-1"]).state == .done
        }
        let failed = try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"])
        #expect(failed.deliveries?.map(\.result) == [.failed])
        #expect(failed.deliveries?.first?.detail?.contains("exit 1; stderr: the gateway refused this number") == true)
        // The transport's standard error stays with the job; it never reaches the log.
        #expect(!h.daemonStderr.contains("the gateway refused this number"))
        #expect(h.daemonStderr.contains("notice oa-OA1-1 (OA1) failed: exit 1"))
        let hung = try h.ctlJSON(JobView.self, ["job", "oa-OA2-1"])
        #expect(hung.deliveries?.map(\.result) == [.retry, .sent])
        #expect(hung.deliveries?.first?.detail?.contains("killed after the 1s timeout") == true)
        // An admin puts the failed one back; it fails again (the script still refuses).
        let retried = try h.ctlJSON(JobView.self, ["retry", "oa-OA1-1"])
        #expect(retried.history?.contains { $0.reason == "put back in the queue by \(getuid() == 0 ? "root" : NSUserName())" } == true)
        try h.waitUntil(timeout: 10, "it is tried again") { try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"]).deliveries?.count == 2 }
        try h.stop()
    }

    @Test func pauseHoldsNoticesAndResumeSendsThem() throws {
        let h = try DaemonHarness()
        try h.start()
        #expect(try h.ctlJSON(StatusReport.self, ["pause"]).state == "paused")
        try h.appendLines([openAccess("OA1", "P1")])
        try h.waitUntil(timeout: 10, "the notice comes due") { try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"]).state == .due }
        Thread.sleep(forTimeInterval: 1)
        #expect(try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"]).state == .due)
        #expect(outboxFiles(h).isEmpty)
        #expect(try h.ctlJSON(StatusReport.self, ["resume"]).state == "running")
        try h.waitUntil(timeout: 10, "resumed, it is sent") { try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"]).state == .done }
        #expect(outboxFiles(h).count == 1)
        try h.stop()
    }

    @Test func anOptedOutPatientsNoticeIsSuppressed() throws {
        let h = try DaemonHarness()
        try h.appendLines([openAccess("OA1", "P1", optedOut: true)])
        try h.start()
        try h.waitUntil(timeout: 10, "suppressed") { try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"]).state == .suppressed }
        #expect(try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"]).history?.last?.reason == "patient has opted out of notices")
        Thread.sleep(forTimeInterval: 0.5)
        #expect(outboxFiles(h).isEmpty)
        try h.stop()
    }

    @Test func aDelaySendsAWaitNoticeWithTheNewTimeAndTheReason() throws {
        let h = try DaemonHarness()
        let surgery = Date().addingTimeInterval(3600)
        try h.appendLines([#"{"v":1,"id":"e1","type":"surgery.booked","ref":"S1","patient":{"id":"P1","name":"Ann Example","phone":"07700 900123","channel":"sms"},"at":"\#(rfc(surgery))","admit_at":"\#(rfc(Date().addingTimeInterval(-60)))","ward":"Ward 7"}"#])
        try h.start()
        try h.waitUntil(timeout: 10, "the first notice goes") { try h.ctlJSON(JobView.self, ["job", "wait-S1-1"]).state == .done }
        let expected = surgery.addingTimeInterval(7200)
        try h.appendLines([#"{"v":1,"id":"e2","type":"surgery.delayed","ref":"S1","expected_at":"\#(rfc(expected))","reason":"an emergency operation needed the theatre first"}"#])
        try h.waitUntil(timeout: 10, "the delay notice goes") { try h.ctlJSON(JobView.self, ["job", "wait-S1-2"]).state == .done }
        #expect(outboxFiles(h).count == 2)
        let messages = try outboxFiles(h).map { try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: h.dir + "/spool/outbox/" + $0))) as! [String: Any] }
        let delay = try #require(messages.first { $0["job_id"] as? String == "wait-S1-2" })
        let body = delay["body"] as? String ?? ""
        #expect(body.contains("an emergency operation needed the theatre first") && body.contains(h.time.hhmm(expected)), "\(body)")
        #expect(body.hasPrefix("Hello Ann,") && delay["to"] as? String == "+447700900123")
        try h.stop()
    }

    @Test func templateProblemsAreConfigErrorsAndLongSMSFail() throws {
        let h = try DaemonHarness(extraConfig: "[notices]\nsms_max_chars = 70\n")
        try "We expect you at {{expected_time}} in {{clinic}}.".write(toFile: h.dir + "/templates/wait_notice.sms.mustache", atomically: true, encoding: .utf8)
        try FileManager.default.removeItem(atPath: h.dir + "/templates/open_access_info.email.mustache")
        let r = try h.runDaemonToExit(["--check-config", "--config", h.configPath])
        #expect(r.status == 1)
        #expect(r.stderr.contains("wait_notice.sms.mustache: line 1: {{clinic}} is not a value a wait_notice has"), "\(r.stderr)")
        #expect(r.stderr.contains("templates_dir: no template open_access_info.email.mustache"))
        // Put the real ones back: a 70-character limit fails the SMS at render time.
        try FileManager.default.removeItem(atPath: h.dir + "/templates")
        try FileManager.default.copyItem(atPath: DaemonHarness.repoRoot + "/seeds/templates", toPath: h.dir + "/templates")
        try h.appendLines([#"{"v":1,"id":"e1","type":"open_access.booked","ref":"OA1","patient":{"id":"P1","name":"Ann Example","phone":"07700 900123","channel":"sms"},"at":"\#(rfc(Date().addingTimeInterval(3 * 86_400)))"}"#])
        try h.start()
        try h.waitUntil(timeout: 10, "the SMS fails") { try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"]).state == .failed }
        #expect(try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"]).deliveries?.first?.detail?.contains("over notices.sms_max_chars (70)") == true)
        // A reload with a broken template is refused and the old templates stay.
        try "{{#unclosed}}".write(toFile: h.dir + "/templates/wait_notice.sms.mustache", atomically: true, encoding: .utf8)
        #expect(try h.ctl(["reload"]).status == 1)
        try h.stop()
    }

    /// C-13.1 as a gateway sees it: one that takes each file as it lands
    /// (so an overwrite by name cannot hide a second write) sees every
    /// notice, and anything a crash made the daemon send again comes under
    /// the same message id, which the gateway drops (dispatch.md: at least
    /// once, the id the notice's own).
    @Test func aGatewayTakingFilesAsTheyLandSeesEveryNoticeAndAResendOnlyUnderItsOwnID() throws {
        let h = try DaemonHarness()
        try h.appendLines((1...300).map { openAccess("OA\($0)", "P\($0)") })
        let outbox = h.dir + "/spool/outbox", taken = h.dir + "/taken"
        try FileManager.default.createDirectory(atPath: taken, withIntermediateDirectories: true)
        let stop = GatewayStop()
        let gateway = Thread {
            var n = 0
            var last = false
            repeat {
                last = stop.requested.withLock { $0 }
                for f in ((try? FileManager.default.contentsOfDirectory(atPath: outbox)) ?? []) where f.hasSuffix(".json") && !f.hasPrefix(".") {
                    n += 1
                    rename(outbox + "/" + f, taken + "/\(n)-" + f)
                }
                usleep(2_000)
            } while !last
        }
        gateway.start()
        var rng = SplitMix64(seed: UInt64(Date().timeIntervalSince1970))
        for _ in 0..<15 {
            try h.start(waitReady: false)
            usleep(useconds_t(50_000 + rng.below(300_000)))
            try h.crash()
        }
        try h.start()
        try h.waitUntil(timeout: 120, "every notice is done") { try h.ctlJSON(StatusReport.self, ["status"]).jobs[.openAccessInfo]?[.done] == 300 }
        Thread.sleep(forTimeInterval: 0.2)
        stop.requested.withLock { $0 = true }
        while !gateway.isFinished { usleep(10_000) }
        var seen: [String: Int] = [:]
        for f in try FileManager.default.contentsOfDirectory(atPath: taken) {
            let m = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: taken + "/" + f))) as! [String: Any]
            let id = m["message_id"] as! String
            #expect(f.hasSuffix("-\(id).json"), "\(f) holds \(id): a file's name is its message's id")
            seen[id, default: 0] += 1
        }
        #expect(seen.count == 300, "\(seen.count) of 300 notices reached the gateway")
        let twice = seen.filter { $0.value > 1 }
        print("gateway: 300 notices, \(twice.count) written again after a kill -9 (each under its own id), 15 kills")
        #expect(twice.count <= 15 * 4, "\(twice.count) sent again: more than a crash's in-flight sends")
        try h.stop()
    }

    @Test func killNineWhileDispatching500NoticesLosesNothingAndDoublesNothing() throws {
        // 450 Open Access notices and 50 of a configured contact (contacts.md).
        let h = try DaemonHarness(extraConfig: ContactsEndToEndTests.seedContacts)
        let soon = Timestamp.rfc3339(Date().addingTimeInterval(86_400))
        try h.appendLines((1...450).map { openAccess("OA\($0)", "P\($0)") } + (1...50).map { i in
            #"{"v":1,"id":"A\#(i)","type":"appointment.booked","ref":"A\#(i)","patient":{"id":"PA\#(i)","name":"Hana Sample","email":"pa\#(i)@example.org","channel":"email"},"at":"\#(soon)","service":"phone_consultation","mode":"phone"}"#
        })
        var rng = SplitMix64(seed: UInt64(Date().timeIntervalSince1970))
        for _ in 0..<20 {
            try h.start(waitReady: false)
            usleep(useconds_t(50_000 + rng.below(400_000)))
            try h.crash()
        }
        try h.start()
        try h.waitUntil(timeout: 120, "every notice is done") {
            let jobs = try h.ctlJSON(StatusReport.self, ["status"]).jobs
            return jobs[.openAccessInfo]?[.done] == 450 && jobs[JobKind(rawValue: "phone_appointment_prep")]?[.done] == 50
        }
        let files = outboxFiles(h)
        #expect(files.count == 500, "\(files.count) messages in the outbox")
        let ids = try files.map { f -> String in
            let m = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: h.dir + "/spool/outbox/" + f))) as! [String: Any]
            return m["job_id"] as! String
        }
        #expect(Set(ids).count == 500)
        #expect(((try? FileManager.default.contentsOfDirectory(atPath: h.dir + "/spool/outbox")) ?? []).count == 500, "no leftovers")
        try h.stop()
    }
}

/// Tells the test's gateway thread to take what is left and stop.
final class GatewayStop: Sendable {
    let requested = Mutex(false)
}
