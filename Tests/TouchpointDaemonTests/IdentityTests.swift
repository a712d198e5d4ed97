import Foundation
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

/// scheduling.md, safety rules, "Who the patient is" (hazard H-05): next to
/// the name, the date of birth and the NHS number's last three digits, so
/// that the nurse confirms identity on the phone; on every list and page a
/// nurse calls from, and never the whole NHS number.
@Suite struct IdentityTests {
    static func bookings(_ h: DaemonHarness) -> [String] {
        [
            #"{"v":1,"id":"e1","type":"surgery.booked","ref":"S1","patient":{"id":"P1","name":"Ann Example","phone":"07700 900123","nhs_number":"9434765919","birth_date":"1961-03-14"},"at":"\#(h.time.day(-1))T10:30","ward":"Ward 7"}"#,
            #"{"v":1,"id":"e2","type":"surgery.booked","ref":"S2","patient":{"id":"P2","name":"Bea Example","phone":"07700 900124"},"at":"\#(h.time.day(-1))T11:30","ward":"Ward 7"}"#,
        ]
    }

    @Test func theCallListAndCallShowTheDateOfBirthAndTheNHSNumbersLastThreeDigits() throws {
        let h = try DaemonHarness()
        try h.appendLines(Self.bookings(h))
        try h.start()
        defer { _ = try? h.stop() }
        let list = try h.ctlJSON(CallsReport.self, ["calls", "--json"])
        let ann = try #require(list.calls.first { $0.job.id == "call-S1" })
        #expect(ann.birthDate == "1961-03-14" && ann.nhsNumberEnd == "919")
        let bea = try #require(list.calls.first { $0.job.id == "call-S2" })
        #expect(bea.birthDate == nil && bea.nhsNumberEnd == nil)
        let raw = try h.ctl(["calls", "--json"]).stdout
        #expect(!raw.contains("9434765919"), "the list never carries the whole NHS number")
        #expect(try h.ctl(["calls"]).stdout.contains("born 14 March 1961, NHS number ending 919"))
        let html = try h.ctl(["calls", "--format", "html"]).stdout
        #expect(html.contains("born 14 March 1961, NHS number ending 919") && !html.contains("9434765919"), "the printed list")
        let csv = try h.ctl(["calls", "--format", "csv"]).stdout
        #expect(csv.contains("Ann Example,1961-03-14,919,"), "\(csv)")
        let job = try h.ctlJSON(JobView.self, ["job", "call-S1"])
        #expect(job.call?.birthDate == "1961-03-14" && job.call?.nhsNumberEnd == "919")
        #expect(try h.ctl(["job", "call-S1"]).stdout.contains("identity  born 14 March 1961, NHS number ending 919"))
        // A later event that does not give it keeps it; one that clears it, clears it.
        try h.appendLines([#"{"v":1,"id":"e3","type":"patient.updated","patient":{"id":"P1","phone":"07700 900125"}}"#])
        try h.waitUntil(timeout: 10, "the update is read") { try h.status().queue.ingested == 3 }
        #expect(try h.ctlJSON(JobView.self, ["job", "call-S1"]).call?.birthDate == "1961-03-14")
        try h.appendLines([#"{"v":1,"id":"e4","type":"patient.updated","patient":{"id":"P1","birth_date":null}}"#])
        try h.waitUntil(timeout: 10, "the clear is read") { try h.ctlJSON(JobView.self, ["job", "call-S1"]).call?.birthDate == nil }
        #expect(!h.daemonStderr.contains("1961") && !h.daemonStderr.contains("9434765919"))
    }
}
