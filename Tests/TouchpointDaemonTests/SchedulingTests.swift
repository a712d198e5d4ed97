import Foundation
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The engine in the real daemon: events in the queue file become the jobs the spec says.
@Suite struct SchedulingEndToEndTests {
    func rfc(_ d: Date) -> String { Timestamp.rfc3339(d) }

    @Test func eventsBecomeTheJobsTheSpecSays() throws {
        let h = try DaemonHarness()
        let t = h.time
        let day1 = t.day(1)
        let day10 = t.day(10)
        try h.appendLines([
            #"{"v":1,"id":"e1","type":"surgery.booked","ref":"S1","patient":{"id":"P1","name":"Ann Example","phone":"07700 900123"},"at":"\#(day1)T10:30","ward":"Ward 7","procedure":"Mastectomy"}"#,
            #"{"v":1,"id":"e2","type":"open_access.booked","ref":"O1","patient":{"id":"P2","email":"bea@example.org","channel":"email"},"at":"\#(day10)T14:00","clinic":"Breast clinic","mode":"phone"}"#,
        ])
        try h.start()
        let jobs = try h.ctlJSON(JobsReport.self, ["jobs"]).jobs
        let byID = Dictionary(uniqueKeysWithValues: jobs.map { ($0.id, $0) })
        #expect(Set(byID.keys) == ["call-S1", "wait-S1-1", "oa-O1-1"])
        let call = try #require(byID["call-S1"])
        #expect(call.kind == .checkinCall && call.state == .scheduled && call.ward == "Ward 7" && call.patientID == "P1")
        #expect(call.dueAt == t.at(day1.adding(days: 1), 9, 0))
        #expect(call.expiresAt == t.at(day1.adding(days: 3), 17, 0))
        let wait = try #require(byID["wait-S1-1"])
        #expect(wait.dueAt == t.at(day1, 8, 30) && wait.expiresAt == t.at(day1, 10, 30))
        let info = try #require(byID["oa-O1-1"])
        #expect(info.dueAt == t.at(day10.adding(days: -7), 10, 0) && info.expiresAt == t.at(day10, 14, 0) && info.revision == 1)
        // Filters.
        #expect(try h.ctlJSON(JobsReport.self, ["jobs", "--kind", "checkin_call"]).jobs.map(\.id) == ["call-S1"])
        #expect(try h.ctlJSON(JobsReport.self, ["jobs", "--ref", "O1"]).jobs.map(\.id) == ["oa-O1-1"])
        #expect(try h.ctlJSON(JobsReport.self, ["jobs", "--patient", "P1", "--limit", "1"]).jobs.count == 1)
        #expect(try h.ctlJSON(JobsReport.self, ["jobs", "--state", "done"]).jobs.isEmpty)
        #expect(try h.ctl(["jobs", "--state", "finished"]).status == 1)
        // Raw JSON names every field of cli.md, null where it does not apply.
        let raw = try h.ctl(["job", "call-S1", "--json"]).stdout
        for key in ["\"id\"", "\"kind\"", "\"ref\"", "\"patient_id\"", "\"state\"", "\"due_at\"", "\"expires_at\"", "\"attempts\"",
                    "\"revision\"", "\"ward\"", "\"outcome\":null", "\"wound_care\":null", "\"overdue_since\":null", "\"history\""] {
            #expect(raw.contains(key), "job JSON lacks \(key): \(raw)")
        }
        // explain: the rule and inputs, and the history.
        let ex = try h.ctlJSON(ExplainReport.self, ["explain", "S1"])
        #expect(ex.jobs.map(\.id) == ["call-S1", "wait-S1-1"])
        #expect(ex.jobs[0].reason?.contains("surgery booked on \(day1) + 1 day(s)") == true)
        #expect(ex.jobs[0].history?.first?.reason.contains("planned by surgery.booked") == true)
        let human = try h.ctl(["explain", "S1"])
        #expect(human.status == 0 && human.stdout.contains("why") && human.stdout.contains("history"))
        #expect(try h.ctl(["explain", "NOPE"]).status == 1)
        // status counts the jobs and names the next one due.
        let s = try h.status()
        #expect(s.jobs[.checkinCall]?[.scheduled] == 1)
        #expect(s.jobs[.waitNotice]?[.scheduled] == 1)
        #expect(s.jobs[.openAccessInfo]?[.scheduled] == 1)
        #expect(s.nextDueAt == [call.dueAt, wait.dueAt, info.dueAt].min())
        try h.stop()
    }

    @Test func aRescheduleDelayAndCancellationChangeTheJobsInTheSameRead() throws {
        let h = try DaemonHarness()
        let t = h.time
        let day2 = t.day(2)
        let day5 = t.day(5)
        try h.appendLines([
            #"{"v":1,"id":"e1","type":"surgery.booked","ref":"S1","patient":{"id":"P1","phone":"07700 900123"},"at":"\#(day2)T10:30","ward":"Ward 7"}"#,
            #"{"v":1,"id":"e2","type":"surgery.rescheduled","ref":"S1","at":"\#(day5)T11:00"}"#,
            #"{"v":1,"id":"e3","type":"surgery.delayed","ref":"S1","expected_at":"\#(day5)T13:00","reason":"an emergency operation needed the theatre first"}"#,
            #"{"v":1,"id":"e4","type":"surgery.booked","ref":"S2","patient":{"id":"P2","phone":"07700 900456"},"at":"\#(day2)T10:30","ward":"Ward 7"}"#,
            #"{"v":1,"id":"e5","type":"surgery.cancelled","ref":"S2","reason":"patient unwell"}"#,
            #"{"v":1,"id":"e6","type":"surgery.booked","ref":"S3","patient":{"id":"P3","phone":"07700 900789"},"at":"\#(day2)T09:00","ward":"Ward 7"}"#,
            #"{"v":1,"id":"e7","type":"patient.updated","patient":{"id":"P3","deceased":true}}"#,
        ])
        try h.start()
        let jobs = Dictionary(uniqueKeysWithValues: try h.ctlJSON(JobsReport.self, ["jobs"]).jobs.map { ($0.id, $0) })
        #expect(jobs["call-S1"]?.dueAt == t.at(day5.adding(days: 1), 9, 0))
        #expect(jobs["wait-S1-1"]?.dueAt == t.at(day5, 9, 0))
        #expect(jobs["wait-S1-1"]?.expectedAt == t.at(day5, 13, 0))
        #expect(jobs["wait-S1-1"]?.delayReason == "an emergency operation needed the theatre first")
        #expect(jobs["call-S2"]?.state == .cancelled && jobs["wait-S2-1"]?.state == .cancelled)
        #expect(jobs["call-S3"]?.state == .cancelled && jobs["wait-S3-1"]?.state == .cancelled)
        let history = try h.ctlJSON(JobView.self, ["job", "call-S3"]).history ?? []
        #expect(history.last?.reason == "patient recorded as deceased")
        try h.stop()
    }

    @Test func aJobComesDueWhileRunningWithoutPolling() throws {
        let h = try DaemonHarness()
        try h.start()
        let admit = Date().addingTimeInterval(2)
        let surgery = Date().addingTimeInterval(3600)
        try h.appendLines([#"{"v":1,"id":"e1","type":"surgery.booked","ref":"S1","patient":{"id":"P1","phone":"07700 900123"},"at":"\#(rfc(surgery))","admit_at":"\#(rfc(admit))","ward":"Ward 7"}"#])
        try h.waitUntil(timeout: 10, "the wait notice is planned") { try h.ctlJSON(JobView.self, ["job", "wait-S1-1"]).state == .scheduled }
        try h.waitUntil(timeout: 10, "the wait notice comes due and goes") { try h.ctlJSON(JobView.self, ["job", "wait-S1-1"]).state == .done }
        let job = try h.ctlJSON(JobView.self, ["job", "wait-S1-1"])
        // It came due on time (well within a second), not on a polling tick, and was sent.
        let history = try #require(job.history)
        #expect(history.map(\.to) == [.scheduled, .due, .done])
        #expect(abs(history[1].at.timeIntervalSince(admit)) < 1.0, "became due at \(history[1].at), due \(admit)")
        try h.stop()
    }

    @Test func jobsDueWhileTheDaemonWasDownAreHandledOnceAtStart() throws {
        let h = try DaemonHarness()
        try h.start()
        let now = Date()
        // S1's notice comes due while the daemon is down and is still useful;
        // S2's comes due and stops being useful (surgery passes) while it is down.
        try h.appendLines([
            #"{"v":1,"id":"e1","type":"surgery.booked","ref":"S1","patient":{"id":"P1","phone":"07700 900123"},"at":"\#(rfc(now.addingTimeInterval(3600)))","admit_at":"\#(rfc(now.addingTimeInterval(3)))","ward":"Ward 7"}"#,
            #"{"v":1,"id":"e2","type":"surgery.booked","ref":"S2","patient":{"id":"P2","phone":"07700 900456"},"at":"\#(rfc(now.addingTimeInterval(4)))","admit_at":"\#(rfc(now.addingTimeInterval(3)))","ward":"Ward 7"}"#,
        ])
        try h.waitUntil(timeout: 10, "both planned") { try h.ctlJSON(JobsReport.self, ["jobs", "--kind", "wait_notice"]).jobs.count == 2 }
        try h.stop()
        Thread.sleep(forTimeInterval: max(0, now.addingTimeInterval(5.5).timeIntervalSinceNow))
        try h.start()
        let s1 = try h.ctlJSON(JobView.self, ["job", "wait-S1-1"])
        let s2 = try h.ctlJSON(JobView.self, ["job", "wait-S2-1"])
        #expect(s1.state == .done)
        #expect(s2.state == .expired)
        #expect(s1.history?.map(\.to) == [.scheduled, .due, .done])
        #expect(s2.history?.map(\.to) == [.scheduled, .expired])
        #expect(s2.history?.last?.reason.contains("late: touchpointd was not running") == true)
        #expect(h.daemonStderr.contains("warning: job wait-S2-1") && h.daemonStderr.contains("late"))
        // Started again, nothing happens twice.
        try h.stop()
        try h.start()
        #expect(try h.ctlJSON(JobView.self, ["job", "wait-S1-1"]).history?.count == 3)
        #expect(try h.ctlJSON(JobView.self, ["job", "wait-S2-1"]).history?.count == 2)
        try h.stop()
    }

    @Test func reloadWithChangedRulesReplansJobsNotYetDue() throws {
        let h = try DaemonHarness()
        let t = h.time
        let day3 = t.day(3)
        try h.appendLines([#"{"v":1,"id":"e1","type":"surgery.booked","ref":"S1","patient":{"id":"P1","phone":"07700 900123"},"at":"\#(day3)T10:30","ward":"Ward 7"}"#])
        try h.start()
        #expect(try h.ctlJSON(JobView.self, ["job", "call-S1"]).dueAt == t.at(day3.adding(days: 1), 9, 0))
        let config = try String(contentsOfFile: h.configPath, encoding: .utf8)
        try h.writeConfig(config + "\n[calls]\nwindow = \"10:30-16:00\"\ndays_after_surgery = 2\n")
        h.signal(SIGHUP)
        try h.waitUntil(timeout: 10, "the call is re-planned") {
            try h.ctlJSON(JobView.self, ["job", "call-S1"]).dueAt == t.at(day3.adding(days: 2), 10, 30)
        }
        let job = try h.ctlJSON(JobView.self, ["job", "call-S1"])
        #expect(job.history?.last?.reason.contains("configuration changed") == true)
        #expect(job.expiresAt == t.at(day3.adding(days: 4), 16, 0))
        try h.stop()
    }
}

/// C-17.1. The machine's wall clock is stepped here for real (back 30 s, then
/// forward again to where it would have been), so these tests run on their own
/// (`scripts/test` runs them after the rest, with TOUCHPOINT_CLOCK_STEP_TESTS=1),
/// never beside tests whose deadlines read the wall clock; alone they are
/// skipped, and `scripts/safety-evidence` takes their own run's results.
@Suite(.serialized) struct ClockStepTests {
    static let enabled = getuid() == 0 && ProcessInfo.processInfo.environment["TOUCHPOINT_CLOCK_STEP_TESTS"] == "1"

    /// A step back by 30 s. Without the timer's cancel-on-set, the engine's
    /// next wake (the watchdog's ping half a second ahead) would come 30.5 s
    /// later, and systemd would kill a healthy daemon after 1 s; with it, the
    /// engine wakes at once, pings, and looks again at what is due: the notice
    /// it sent before the step, whose due time lies ahead again, is not sent twice.
    @Test(.enabled(if: enabled, "steps the machine's clock: needs root and TOUCHPOINT_CLOCK_STEP_TESTS=1 (scripts/test runs it alone)"))
    func aWallClockStepBackKeepsTheEngineAwakeAndSendsNothingTwice() throws {
        let h = try DaemonHarness()
        let at = Timestamp.rfc3339(Date().addingTimeInterval(3 * 86_400))
        try h.appendLines([#"{"v":1,"id":"OA1","type":"open_access.booked","ref":"OA1","patient":{"id":"P1","email":"p1@example.org","channel":"email"},"at":"\#(at)","clinic":"Breast clinic","mode":"phone"}"#])
        try h.start(environment: ["WATCHDOG_USEC": "1000000"])
        try h.waitUntil(timeout: 10, "the notice is sent") { try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"]).state == .done }
        Thread.sleep(forTimeInterval: 1)
        let step = try WallClockStep(by: -30)
        defer { step.undo() }
        let pingsBefore = pings(h)
        // Thread.sleep counts monotonic time: 3 s, whatever the wall clock says.
        Thread.sleep(forTimeInterval: 3)
        let pingsAfter = pings(h)
        #expect(pingsAfter - pingsBefore >= 4, "\(pingsAfter - pingsBefore) watchdog pings in the 3 s after the clock went back 30 s (one every 0.5 s is due)")
        #expect(h.daemonStderr.contains("the wall clock was stepped"))
        step.undo()
        Thread.sleep(forTimeInterval: 1)
        let job = try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"])
        #expect(job.state == .done && job.deliveries?.count == 1)
        let outbox = try FileManager.default.contentsOfDirectory(atPath: h.dir + "/spool/outbox").filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }
        #expect(outbox.count == 1, "\(outbox.count) notices in the outbox for one due")
        #expect(pings(h) - pingsAfter >= 1, "the engine kept pinging after the clock came forward again")
        try h.stop()
    }

    func pings(_ h: DaemonHarness) -> Int { h.notify?.messages.filter { $0.contains("WATCHDOG=1") }.count ?? 0 }
}

/// A step of the machine's wall clock, undone by setting it to where it would
/// have been without the step (the time before it plus the monotonic time since).
final class WallClockStep {
    private let wallBefore: timespec
    private let monotonicBefore: timespec
    private var undone = false

    init(by seconds: Int) throws {
        var wall = timespec(), mono = timespec()
        clock_gettime(CLOCK_MONOTONIC, &mono)
        clock_gettime(CLOCK_REALTIME, &wall)
        wallBefore = wall
        monotonicBefore = mono
        wall.tv_sec += seconds
        guard clock_settime(CLOCK_REALTIME, &wall) == 0 else { throw HarnessError("clock_settime: \(String(cString: strerror(errno)))") }
    }

    func undo() {
        guard !undone else { return }
        undone = true
        var mono = timespec()
        clock_gettime(CLOCK_MONOTONIC, &mono)
        var nanos = Int(wallBefore.tv_nsec) + Int(mono.tv_nsec) - Int(monotonicBefore.tv_nsec)
        var secs = wallBefore.tv_sec + mono.tv_sec - monotonicBefore.tv_sec
        if nanos < 0 { nanos += 1_000_000_000; secs -= 1 }
        if nanos >= 1_000_000_000 { nanos -= 1_000_000_000; secs += 1 }
        var wall = timespec(tv_sec: secs, tv_nsec: nanos)
        clock_settime(CLOCK_REALTIME, &wall)
    }
}
