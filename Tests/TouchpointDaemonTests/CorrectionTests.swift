import Foundation
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

/// scheduling.md, safety rules: a concern found on the call (H-44), a call
/// closed in error (H-45) and a death recorded in error (H-46), through the
/// real daemon and `touchpointctl` as a nurse and an admin use them.
@Suite struct CorrectionTests {
    static func bookings(_ h: DaemonHarness) -> [String] {
        [
            #"{"v":1,"id":"e1","type":"surgery.booked","ref":"S1","patient":{"id":"P1","name":"Ann Example","phone":"07700 900123"},"at":"\#(h.time.day(-1))T10:30","ward":"Ward 7"}"#,
            #"{"v":1,"id":"e2","type":"surgery.booked","ref":"S2","patient":{"id":"P2","name":"Bea Example","phone":"07700 900124"},"at":"\#(h.time.day(-1))T11:30","ward":"Ward 7"}"#,
            #"{"v":1,"id":"e3","type":"surgery.booked","ref":"S3","patient":{"id":"P3","name":"Cat Example","phone":"07700 900125"},"at":"\#(h.time.day(-1))T12:30","ward":"Ward 7"}"#,
        ]
    }

    @Test func aConcernOnTheCallGoesToTheEscalatedListWithThePatientsWords() throws {
        let h = try DaemonHarness()
        try h.appendLines(Self.bookings(h))
        try h.start()
        defer { _ = try? h.stop() }
        let words = "swelling under the arm since Sunday"
        // A concern goes with reached, and says what it is.
        let declined = try h.ctl(["outcome", "call-S1", "declined", "--concern", "--note", words])
        #expect(declined.status != 0 && declined.stderr.contains("a concern goes with reached only"), "\(declined.stderr)")
        let silent = try h.ctl(["outcome", "call-S1", "reached", "--wound-care", "--concern"])
        #expect(silent.status != 0 && silent.stderr.contains("a concern needs a note"), "\(silent.stderr)")
        #expect(try h.ctlJSON(JobView.self, ["job", "call-S1"]).state == .due, "nothing recorded by a refused outcome")

        let done = try h.ctlJSON(JobView.self, ["outcome", "call-S1", "reached", "--wound-care", "--concern", "--note", words])
        #expect(done.state == .done && done.outcome == .reached)
        let escalated = try h.ctlJSON(CallsReport.self, ["calls", "--escalated"]).calls
        #expect(escalated.map(\.job.id) == ["concern-call-S1-1"], "\(escalated.map(\.job.id))")
        let followUp = try #require(escalated.first?.job)
        #expect(followUp.kind == .concernFollowUp && followUp.ref == "S1" && followUp.escalatedAt != nil)
        #expect(followUp.concern == words && escalated.first?.note == words, "\(followUp.concern ?? "nil") / \(escalated.first?.note ?? "nil")")
        let table = try h.ctl(["calls", "--escalated"]).stdout
        #expect(table.contains("NOT TAKEN") && table.contains("concern: \(words)"), "\(table)")
        #expect(try !h.ctlJSON(CallsReport.self, ["calls"]).calls.contains { $0.job.id == "concern-call-S1-1" }, "not a ward's call to make")
        let report = try h.ctlJSON(PledgeReportView.self, ["report", "--from", h.time.day(-2).description, "--to", h.time.day(1).description])
        let calls = try #require(report.promises.first { $0.key == .checkinCall })
        #expect(calls.counts["concerns_found"] == 1 && calls.counts["reached"] == 1, "\(calls.counts)")
        #expect(try h.ctl(["report", "--from", h.time.day(-2).description, "--to", h.time.day(1).description]).stdout.contains("concern"))
        // The breast care nurse takes it and closes it.
        #expect(try h.ctl(["take", "concern-call-S1-1"]).status == 0)
        #expect(try h.ctlJSON(JobView.self, ["outcome", "concern-call-S1-1", "reached", "--note", "seen in clinic"]).state == .done)
        #expect(try h.ctlJSON(CallsReport.self, ["calls", "--escalated"]).calls.isEmpty)
        #expect(!h.daemonStderr.contains("swelling") && !h.daemonStderr.contains("Ann Example"), "the patient's words are never logged")
    }

    @Test func aCallClosedInErrorIsReopenedWithAReasonAndItsOutcomeKeptWithdrawn() throws {
        let h = try DaemonHarness()
        try h.appendLines(Self.bookings(h))
        try h.start()
        defer { _ = try? h.stop() }
        #expect(try h.ctl(["outcome", "call-S2", "declined"]).status == 0)
        #expect(try !h.ctlJSON(CallsReport.self, ["calls"]).calls.contains { $0.job.id == "call-S2" && $0.job.state == .due })
        let blank = try h.ctl(["reopen", "call-S2", "--reason", "  "])
        #expect(blank.status != 0 && blank.stderr.contains("reason"), "\(blank.stderr)")
        #expect(try h.ctl(["reopen", "call-S3", "--reason", "wrong patient"]).stderr.contains("only a call closed by its outcome is reopened"))
        let open = try h.ctlJSON(JobView.self, ["reopen", "call-S2", "--reason", "declined was Ann's answer, not Bea's"])
        #expect(open.state == .due && open.outcome == nil)
        let withdrawn = try #require(open.outcomes?.first?.withdrawn)
        #expect(withdrawn.contains("declined was Ann's answer, not Bea's"), "\(withdrawn)")
        #expect(open.history?.last?.reason.hasPrefix("reopened by ") == true, "\(open.history?.last?.reason ?? "")")
        let today = try h.ctlJSON(CallsReport.self, ["calls"]).calls
        #expect(today.contains { $0.job.id == "call-S2" && $0.job.state == .due }, "back on today's list")
        #expect(try h.ctl(["job", "call-S2"]).stdout.contains("withdrawn"))
        let report = try h.ctlJSON(PledgeReportView.self, ["report", "--from", h.time.day(-2).description, "--to", h.time.day(1).description])
        let calls = try #require(report.promises.first { $0.key == .checkinCall })
        #expect(calls.counts["declined"] == 0 && calls.counts["called_on_day"] == 0, "the withdrawn outcome is not counted: \(calls.counts)")
        #expect(!h.daemonStderr.contains("Bea"), "the reason is never logged")
    }

    @Test func anAdminUndoesADeathRecordedInErrorAndTheCallIsPlannedAgain() throws {
        let h = try DaemonHarness()
        try h.appendLines(Self.bookings(h) + [#"{"v":1,"id":"d3","type":"patient.updated","patient":{"id":"P3","deceased":true}}"#])
        try h.start()
        defer { _ = try? h.stop() }
        try h.waitUntil("the death applied") { try h.ctlJSON(JobView.self, ["job", "call-S3"]).state == .cancelled }
        #expect(try h.ctl(["undeceased", "P1", "--reason", "wrong patient"]).stderr.contains("not recorded as deceased"))
        let undone = try h.ctlJSON(JobsReport.self, ["undeceased", "P3", "--reason", "the ward recorded another patient's death"])
        let call = try #require(undone.jobs.first { $0.kind == .checkinCall })
        #expect(call.id == "call-S3" && [.scheduled, .due].contains(call.state), "\(call.id) \(call.state)")
        try h.waitUntil("the call back on today's list") {
            try h.ctlJSON(CallsReport.self, ["calls"]).calls.contains { $0.job.id == call.id && $0.job.state == .due }
        }
        // A feed that says deceased: false after true is a conflict, never applied silently.
        try h.appendLines([#"{"v":1,"id":"d1","type":"patient.updated","patient":{"id":"P3","deceased":true}}"#,
                           #"{"v":1,"id":"d2","type":"patient.updated","patient":{"id":"P3","deceased":false}}"#])
        try h.waitUntil("the feed's undo refused") { try h.ctlJSON(RejectsReport.self, ["rejects"]).rejects.contains { $0.eventID == "d2" } }
        #expect(!h.daemonStderr.contains("another patient"), "the reason is never logged")
    }
}
