import Foundation
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

/// Issue 15's figure: the pledge report for a year of a large trust.
extension Benchmarks {
    static func report(_ o: BenchmarkOptions) throws -> [BenchmarkRow] {
        let h = try DaemonHarness()
        // A year of bookings up to today: about 100,000 (surgeries and Open
        // Access appointments, with their reschedules, delays, cancellations).
        let options = QueueGenerator.Options(events: o.reportEvents, start: h.time.day(-365), days: 365, seed: 15)
        try QueueGenerator.write(options, to: h.queuePath)
        try h.start(timeout: 1800)
        let status = try h.status()
        let jobs = status.jobs.values.reduce(0) { $0 + $1.values.reduce(0, +) }
        try h.stop()
        // A year's outcomes and deliveries, written straight into the state (as
        // if recorded over the year): most calls answered on their day, most
        // notices accepted when due.
        let (reached, noAnswer, declined) = (CallOutcome.reached.rawValue, CallOutcome.noAnswer.rawValue, CallOutcome.declined.rawValue)
        let call = JobKind.checkinCall.rawValue
        let seed = """
            INSERT INTO call_attempts (job_id, at, actor, outcome, wound_care, note)
              SELECT id, due_at + (abs(random()) % 28800000), 'bench', CASE abs(random()) % 10 WHEN 0 THEN '\(noAnswer)' WHEN 1 THEN '\(declined)' ELSE '\(reached)' END, 1, NULL
              FROM jobs WHERE kind = '\(call)' AND abs(random()) % 10 < 9;
            INSERT INTO deliveries (job_id, at, result, detail)
              SELECT id, due_at + (abs(random()) % 600000), 'sent', NULL FROM jobs WHERE kind <> '\(call)' AND abs(random()) % 10 < 9;
            SELECT count(*) FROM bookings; SELECT count(*) FROM call_attempts; SELECT count(*) FROM deliveries;
            """
        let seeded = try DaemonHarness.run("/usr/bin/sqlite3", [h.databasePath, seed])
        guard seeded.status == 0 else { throw HarnessError("seeding: \(seeded.stderr)") }
        let counts = seeded.stdout.split(separator: "\n").compactMap { Int($0) }
        let bookings = counts.first ?? 0
        o.log("report: \(bookings) bookings, \(jobs) jobs, \(counts.dropFirst().first ?? 0) call outcomes, \(counts.last ?? 0) deliveries")
        try h.start(timeout: 600)
        let (from, to) = (h.time.day(-365).description, h.time.day(0).description)
        var times: [Double] = []
        var reply = ""
        for _ in 0..<7 {
            let t = Date()
            let r = try DaemonHarness.run(DaemonHarness.ctlPath, ["--socket", h.socketPath, "report", "--from", from, "--to", to, "--json"])
            times.append(Date().timeIntervalSince(t))
            guard r.status == 0 else { throw HarnessError("report: \(r.stderr)") }
            reply = r.stdout
        }
        let counted = (try? ControlJSON.decoder.decode(PledgeReportView.self, from: Data(reply.utf8)))?.promises.map(\.counted).reduce(0, +) ?? 0
        try h.stop()
        // The largest of the report's queries (every job, each kept if its
        // booking is in the period), by sqlite3 on the same database.
        let clock = h.time.clock
        let start = Int64(clock.instant(on: h.time.day(-365), at: TimeOfDay(hour: 0, minute: 0)).timeIntervalSince1970 * 1000)
        let end = Int64(clock.instant(on: h.time.day(1), at: TimeOfDay(hour: 0, minute: 0)).timeIntervalSince1970 * 1000)
        let largest = """
            SELECT booking_kind, ref, id, kind, state, due_at, created_at, call_day, outcome, expected_at, last_attempt_at, attempts FROM jobs;
            """
        _ = (start, end)
        var sqliteTimes: [Double] = []
        for _ in 0..<7 {
            let t = Date()
            let r = try DaemonHarness.run("/usr/bin/sqlite3", ["-readonly", h.databasePath, largest])
            sqliteTimes.append(Date().timeIntervalSince(t))
            guard r.status == 0 else { throw HarnessError("sqlite3: \(r.stderr)") }
        }
        let (ours, base) = (median(times), median(sqliteTimes))
        o.log(String(format: "report: touchpointctl report %.3f s (%d counted); sqlite3, the largest query: %.3f s", ours, counted, base))
        return [BenchmarkRow(scenario: "`touchpointctl report` for a year, \(bookings) bookings, \(jobs) jobs (median of 7, process start included)",
                             ours: String(format: "%.2f s", ours), baseline: String(format: "sqlite3, the report's largest query alone: %.2f s", base),
                             ratio: String(format: "%.2f", ours / base), target: "< 1 s", met: ours < 1)]
    }
}
