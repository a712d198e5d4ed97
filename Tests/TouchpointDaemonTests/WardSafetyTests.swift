import Foundation
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

/// scheduling.md, safety rules, "Wards" (hazard H-42): a ward written
/// another way is the same ward, and a ward the hospital never named puts
/// its call on the unassigned list that everyone sees, never on no list.
@Suite struct WardSafetyTests {
    static let wards = """
        [calls]
        wards = ["Ward 7", "Day Surgery Unit"]
        """

    static func bookings(_ h: DaemonHarness) -> [String] {
        [
            #"{"v":1,"id":"e1","type":"surgery.booked","ref":"S1","patient":{"id":"P1","name":"Ann Example","phone":"07700 900123"},"at":"\#(h.time.day(-1))T10:30","ward":"WARD 7"}"#,
            #"{"v":1,"id":"e2","type":"surgery.booked","ref":"S2","patient":{"id":"P2","name":"Bea Example","phone":"07700 900124"},"at":"\#(h.time.day(-1))T11:30","ward":"  ward   7 "}"#,
            #"{"v":1,"id":"e3","type":"surgery.booked","ref":"S3","patient":{"id":"P3","name":"Cat Example","phone":"07700 900125"},"at":"\#(h.time.day(-1))T12:30","ward":"Ward 9"}"#,
        ]
    }

    @Test func aWardWrittenTwoWaysIsOneAndAnUnnamedWardsCallIsUnassignedNotLost() throws {
        let h = try DaemonHarness(extraConfig: Self.wards)
        try h.appendLines(Self.bookings(h))
        try h.start()
        defer { _ = try? h.stop() }
        // Ward 7's list has both spellings' calls, under the hospital's name.
        let ward7 = try h.ctlJSON(CallsReport.self, ["calls", "--ward", "ward 7", "--json"])
        #expect(ward7.calls.map(\.job.id).sorted() == ["call-S1", "call-S2"])
        #expect(ward7.calls.allSatisfy { $0.job.ward == "Ward 7" }, "\(ward7.calls.map(\.job.ward))")
        // Ward 9 is none of calls.wards: its call is planned, on the unassigned list.
        let unassigned = try h.ctlJSON(CallsReport.self, ["calls", "--unassigned", "--json"])
        #expect(unassigned.calls.map(\.job.id) == ["call-S3"] && unassigned.unassigned == true)
        #expect(try h.ctl(["calls", "--unassigned"]).stdout.contains("Unassigned check-in calls"))
        // A warning in status (exit 0), in the journal, and explain says why.
        let status = try h.ctl(["status", "--json"])
        #expect(status.status == 0)
        let warnings = try h.status().warnings ?? []
        #expect(warnings.count == 1 && warnings[0].hasPrefix("1 check-in call is on the unassigned list"), "\(warnings)")
        #expect(try h.ctl(["status"]).stdout.contains("warning: 1 check-in call is on the unassigned list"))
        let logged = h.daemonStderr.components(separatedBy: "\n").filter { $0.contains("matches none of calls.wards") }
        #expect(logged.count == 1 && logged[0].contains("\"S3\"") && logged[0].contains("\"Ward 9\""), "\(logged)")
        #expect(!h.daemonStderr.contains("Cat Example") && !h.daemonStderr.contains("07700 900125"))
        let explain = try h.ctl(["explain", "S3"]).stdout
        #expect(explain.contains("unassigned: its ward, \"Ward 9\", is none of calls.wards"), "\(explain)")
        #expect(try !h.ctl(["explain", "S1"]).stdout.contains("unassigned"))
        // Once its call is made, the warning ends.
        #expect(try h.ctl(["outcome", "call-S3", "declined"]).status == 0)
        #expect(try h.status().warnings == [])
    }

    /// The control taken away: with no `calls.wards` nothing is unassigned,
    /// and the two spellings of Ward 7 are still one ward.
    @Test func withNoWardsConfiguredNothingIsUnassignedButSpellingsStillMatch() throws {
        let h = try DaemonHarness()
        try h.appendLines(Self.bookings(h))
        try h.start()
        defer { _ = try? h.stop() }
        #expect(try h.ctlJSON(CallsReport.self, ["calls", "--unassigned", "--json"]).calls.isEmpty)
        #expect(try h.status().warnings == [])
        #expect(try h.ctlJSON(CallsReport.self, ["calls", "--ward", "Ward 7", "--json"]).calls.map(\.job.id).sorted() == ["call-S1", "call-S2"])
    }

    /// A ward-limited account (the web view acting for alice, Ward 7 only)
    /// sees the unassigned list and can record the call, though Ward 9 is
    /// not hers; another named ward's call stays out of her reach.
    @Test(.enabled(if: isRoot, "creating users needs root"))
    func aWardLimitedAccountSeesAndMakesTheUnassignedCalls() throws {
        let accounts = try TestAccounts()
        let h = try DaemonHarness(extraConfig: Self.wards)
        try h.useGroups(of: accounts)
        try h.appendLines(Self.bookings(h) + [
            #"{"v":1,"id":"e4","type":"surgery.booked","ref":"S4","patient":{"id":"P4","name":"Dee Example","phone":"07700 900126"},"at":"\#(h.time.day(-1))T12:30","ward":"Day Surgery Unit"}"#,
        ])
        try h.start()
        defer { _ = try? h.stop() }
        let alice = ["--as", "alice", "--as-ward", "WARD 7"]
        func ctl(_ args: [String]) throws -> CommandResult { try h.ctl(alice + args, user: accounts.web) }
        let mine = try ctl(["calls", "--json"])
        #expect(mine.stdout.contains("call-S1") && mine.stdout.contains("call-S2") && !mine.stdout.contains("call-S4"), "\(mine.stderr)")
        let unassigned = try ctl(["calls", "--unassigned", "--json"])
        #expect(unassigned.status == 0 && unassigned.stdout.contains("call-S3") && !unassigned.stdout.contains("call-S4"), "\(unassigned.stderr)")
        #expect(try ctl(["outcome", "call-S3", "declined"]).status == 0)
        #expect(try ctl(["outcome", "call-S4", "declined"]).status == 1, "Day Surgery Unit is a named ward, not hers")
    }
}
