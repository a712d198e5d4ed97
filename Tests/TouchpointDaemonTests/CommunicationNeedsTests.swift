import Foundation
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

/// Communication needs (scheduling.md, safety rules; hazard H-43, the
/// Accessible Information Standard): tags on the call list, a notice's
/// template variant, and a call on the needs worklist in place of a notice,
/// through the real daemon.
@Suite struct CommunicationNeedsTests {
    static let needs = """
        [needs.interpreter]
        label = "Interpreter needed"
        [needs.bsl]
        label = "BSL interpreter"
        [needs.easy_read]
        label = "Easy read"
        notices = "variant"
        [needs.no_phone]
        label = "No phone: contact by letter or carer"
        notices = "call"
        """

    func rfc(_ d: Date) -> String { Timestamp.rfc3339(d) }

    /// An Open Access booking 3 days ahead (its information is due at once) for a patient with `needs`.
    func openAccess(_ ref: String, _ patient: String, needs: String) -> String {
        #"{"v":1,"id":"\#(ref)","type":"open_access.booked","ref":"\#(ref)","patient":{"id":"\#(patient)","name":"Bea Example","email":"\#(patient.lowercased())@example.org","channel":"email","communication_needs":\#(needs)},"at":"\#(rfc(Date().addingTimeInterval(3 * 86_400)))","clinic":"Breast clinic","mode":"phone"}"#
    }

    func outbox(_ h: DaemonHarness) throws -> [String: String] {
        let dir = h.dir + "/spool/outbox"
        var out: [String: String] = [:]
        for f in (try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [] where f.hasSuffix(".json") && !f.hasPrefix(".") {
            let m = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/" + f))) as? [String: Any])
            out[m["job_id"] as? String ?? f] = m["body"] as? String
        }
        return out
    }

    @Test func needsAreTagsOnTheCallListAndChangeWhatANoticeDoes() throws {
        let h = try DaemonHarness(extraConfig: Self.needs)
        try "Subject: Your Open Access appointment\nHello {{patient.first_name}}. EASY READ: a nurse will phone you on {{date}}.\n"
            .write(toFile: h.dir + "/templates/open_access_info.email.easy_read.mustache", atomically: true, encoding: .utf8)
        try h.appendLines([
            #"{"v":1,"id":"s1","type":"surgery.booked","ref":"S1","patient":{"id":"P4","name":"Ann Example","phone":"07700 900123","communication_needs":["interpreter:pl","bsl"]},"at":"\#(h.time.day(-1))T10:30","ward":"Ward 7"}"#,
            #"{"v":1,"id":"s2","type":"surgery.booked","ref":"S2","patient":{"id":"P5","name":"Cat Example","phone":"07700 900125","communication_needs":["Interpreter"]},"at":"\#(h.time.day(-1))T11:30","ward":"Ward 7"}"#,
            openAccess("OA1", "P1", needs: #"["no_phone"]"#),
            openAccess("OA2", "P2", needs: #"["easy_read"]"#),
            openAccess("OA3", "P3", needs: #"["interpreter:ar"]"#),
        ])
        try h.start()
        defer { _ = try? h.stop() }
        // A code that is not one is refused, naming where; nothing else is lost.
        let rejects = try h.ctlJSON(RejectsReport.self, ["rejects"]).rejects
        #expect(rejects.map(\.eventID) == ["s2"] && rejects.first?.message.contains("patient.communication_needs\"[0]") == true, "\(rejects.map(\.message))")
        // Tags on the call list, in the config's words, in JSON and on the terminal.
        let calls = try h.ctlJSON(CallsReport.self, ["calls"]).calls
        #expect(calls.first { $0.job.id == "call-S1" }?.needs == ["Interpreter needed (pl)", "BSL interpreter"])
        #expect(try h.ctl(["calls"]).stdout.contains("needs: Interpreter needed (pl) · BSL interpreter"))
        #expect(try h.ctlJSON(JobView.self, ["job", "call-S1"]).call?.needs == ["Interpreter needed (pl)", "BSL interpreter"])
        #expect(try h.ctl(["calls", "--format", "csv"]).stdout.contains("Interpreter needed (pl); BSL interpreter"))
        // notices = "call": the notice is suppressed, saying why, and a call is on the needs worklist.
        try h.waitUntil(timeout: 20, "the notices decided") {
            try ["oa-OA1-1", "oa-OA2-1", "oa-OA3-1"].allSatisfy { [.done, .suppressed].contains(try h.ctlJSON(JobView.self, ["job", $0]).state) }
        }
        let suppressed = try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"])
        #expect(suppressed.state == .suppressed && suppressed.history?.last?.reason.contains("communication need \"No phone: contact by letter or carer\"") == true)
        let needsList = try h.ctlJSON(CallsReport.self, ["calls", "--list", "needs"])
        #expect(needsList.calls.map(\.job.id) == ["needs-oa-OA1-1"] && needsList.calls.first?.job.kind == .needsCall)
        #expect(needsList.calls.first?.needs == ["No phone: contact by letter or carer"])
        #expect(try h.ctlJSON(CallsReport.self, ["calls"]).lists?.contains("needs") == true, "offered beside the other lists")
        // notices = "variant": its template; notices = "send" (the default): the usual one.
        let sent = try outbox(h)
        #expect(sent["oa-OA2-1"]?.contains("EASY READ: a nurse will phone you on") == true, "\(sent["oa-OA2-1"] ?? "nil")")
        #expect(sent["oa-OA3-1"]?.contains("EASY READ") == false && sent["oa-OA3-1"]?.hasPrefix("Hello Bea,") == true)
        #expect(sent["oa-OA1-1"] == nil, "nothing sent to the patient with no phone")
        // The needs call is made like any call; the report counts it as no configured contact.
        #expect(try h.ctlJSON(JobView.self, ["outcome", "needs-oa-OA1-1", "reached", "--note", "spoke to her carer"]).state == .done)
        // null clears the needs.
        try h.appendLines([#"{"v":1,"id":"u1","type":"patient.updated","patient":{"id":"P4","communication_needs":null}}"#])
        try h.waitUntil(timeout: 20, "the needs cleared") { try h.ctlJSON(CallsReport.self, ["calls"]).calls.first { $0.job.id == "call-S1" }?.needs == nil }
    }

    /// A need that says call, recorded after the notice came due (held by a
    /// pause): the notice goes no further and the call takes its place.
    @Test func aNeedRecordedAfterTheNoticeCameDueStopsItAndPutsACallInItsPlace() throws {
        let h = try DaemonHarness(extraConfig: Self.needs)
        try h.start()
        defer { _ = try? h.stop() }
        #expect(try h.ctlJSON(StatusReport.self, ["pause"]).state == "paused")
        try h.appendLines([openAccess("OA4", "P6", needs: "[]")])
        try h.waitUntil(timeout: 20, "the notice comes due") { try h.ctlJSON(JobView.self, ["job", "oa-OA4-1"]).state == .due }
        try h.appendLines([#"{"v":1,"id":"u6","type":"patient.updated","patient":{"id":"P6","communication_needs":["no_phone"]}}"#])
        try h.waitUntil(timeout: 20, "the need applied") { try h.ctlJSON(JobView.self, ["job", "oa-OA4-1"]).state == .suppressed }
        #expect(try h.ctlJSON(JobView.self, ["job", "oa-OA4-1"]).history?.last?.reason.contains("communication need \"No phone: contact by letter or carer\" recorded") == true)
        #expect(try h.ctlJSON(CallsReport.self, ["calls", "--list", "needs"]).calls.map(\.job.id) == ["needs-oa-OA4-1"])
        #expect(try h.ctlJSON(StatusReport.self, ["resume"]).state == "running")
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try outbox(h)["oa-OA4-1"] == nil, "not sent once dispatch resumed")
        // The same update again changes nothing more (the call is not made twice).
        try h.appendLines([#"{"v":1,"id":"u7","type":"patient.updated","patient":{"id":"P6","communication_needs":["no_phone","bsl"]}}"#])
        try h.waitUntil(timeout: 20, "read") { try h.status().queue.line == 3 }
        #expect(try h.ctlJSON(JobsReport.self, ["jobs", "--ref", "OA4"]).jobs.filter { $0.kind == .needsCall }.count == 1)
    }

    @Test func aNeedsConfigIsCheckedByName() throws {
        let h = try DaemonHarness(extraConfig: """
            [needs.no_phone]
            notices = "letter"
            [needs.Easy]
            label = "x"
            """)
        let r = try h.runDaemonToExit(["--check-config", "--config", h.configPath])
        #expect(r.status != 0)
        #expect(r.stderr.contains("needs.no_phone.label") && r.stderr.contains("needs.Easy"), "\(r.stderr)")
    }
}
