import Foundation
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The figures issue 8 asks for, each measured against the real daemon (the
/// release build next to this program) in a fresh directory, with its baseline
/// measured in the same run.
public struct BenchmarkOptions: Sendable {
    public var events = 1_000_000
    public var idleEvents = 100_000
    public var idleSeconds = 60
    public var notices = 1_000
    /// Single events appended to the daemon after the big ingest.
    public var appends = 1_000
    public var calls = 1_000
    public var statusSeconds = 5
    /// Events for the report scenario: a year of a large trust, about 100,000 bookings.
    public var reportEvents = 170_000
    /// Notices for the Notify throughput scenario.
    public var notifyNotices = 10_000
    /// Messages for the HL7 receiver's scenario (each round, each client pattern).
    public var hl7Messages = 2_000
    /// Scenario names to run (`ingest`, `idle`, `lateness`, `calls`, `web`, `report`, `notify`, `hl7`); all when empty.
    public var only: Set<String> = []
    public var log: @Sendable (String) -> Void = { FileHandle.standardError.write(Data(("bench: " + $0 + "\n").utf8)) }

    public init() {}

    func runs(_ name: String) -> Bool { only.isEmpty || only.contains(name) }
}

/// One line of the table: our figure, the baseline's, their ratio, the target.
public struct BenchmarkRow: Sendable {
    public var scenario: String
    public var ours: String
    public var baseline: String
    public var ratio: String
    public var target: String
    /// Whether the target is met; nil for a row that measures a bound, not us.
    public var met: Bool?

    public static func table(_ rows: [BenchmarkRow]) -> String {
        var out = "| scenario | touchpoint | baseline (same run) | ratio | target | met |\n|---|---|---|---|---|---|\n"
        for r in rows {
            out += "| \(r.scenario) | \(r.ours) | \(r.baseline) | \(r.ratio) | \(r.target) | \(r.met.map { $0 ? "yes" : "**no**" } ?? "-") |\n"
        }
        return out
    }
}

public enum Benchmarks {
    public static func run(_ o: BenchmarkOptions) throws -> [BenchmarkRow] {
        var rows: [BenchmarkRow] = []
        if o.runs("ingest") { rows += try ingestAndRestart(o) }
        if o.runs("idle") { rows += try idleAndStatus(o) }
        if o.runs("lateness") { rows += try lateness(o) }
        if o.runs("calls") { rows += try callList(o) }
        if o.runs("web") { rows += try web(o) }
        if o.runs("report") { rows += try report(o) }
        if o.runs("notify") { rows += try notify(o) }
        if o.runs("hl7") { rows += try hl7(o) }
        return rows
    }

    /// A start date for generated bookings ten days ahead on the scenario's
    /// hospital clock: their Open Access information (a week before) and
    /// everything else comes due after any scenario has finished.
    static func futureStart(_ time: ScenarioTime) -> LocalDate { time.day(10) }

    // MARK: Ingest 1M, restart, memory after ingest

    static func ingestAndRestart(_ o: BenchmarkOptions) throws -> [BenchmarkRow] {
        let h = try DaemonHarness()
        o.log("ingest: writing \(o.events) events to \(h.queuePath)")
        var t = Date()
        try QueueGenerator.write(.init(events: o.events, start: futureStart(h.time), seed: 1), to: h.queuePath)
        o.log(String(format: "ingest: generated in %.1f s", Date().timeIntervalSince(t)))

        // Baseline: the same events as CSV, imported by sqlite3 into one table keyed by the
        // event id as text, durably (WAL, synchronous=FULL).
        let csv = h.dir + "/events.csv"
        try writeCSV(queue: h.queuePath, to: csv)
        let baseDB = h.dir + "/baseline.sqlite"
        t = Date()
        let imp = try DaemonHarness.run("/usr/bin/sqlite3", [baseDB, "PRAGMA journal_mode=WAL;", "PRAGMA synchronous=FULL;",
                                                             "CREATE TABLE events(line INTEGER, id TEXT PRIMARY KEY, type TEXT, ref TEXT, patient_id TEXT, name TEXT, phone TEXT, email TEXT, at TEXT, ward TEXT, detail TEXT);",
                                                             ".mode csv", ".import \(csv) events"], timeout: 1800)
        let baseline = Date().timeIntervalSince(t)
        guard imp.status == 0 else { throw HarnessError("sqlite3 .import failed: \(imp.stderr)") }
        let imported = try DaemonHarness.run("/usr/bin/sqlite3", [baseDB, "SELECT count(*) FROM events"]).stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        guard Int(imported) == o.events else { throw HarnessError("sqlite3 imported \(imported) rows, not \(o.events)") }
        o.log(String(format: "ingest: sqlite3 .import %.1f s", baseline))

        t = Date()
        try h.start(timeout: 3600)
        let ingest = readyAt(h).timeIntervalSince(t)
        let pid = h.pid!
        // Once the engine's first run over the new jobs is done.
        Thread.sleep(forTimeInterval: 2)
        let rssAfter = residentKiB(pid)
        let peak = peakResidentKiB(pid)
        let s = try h.status()
        guard s.queue.ingested + s.queue.rejected + s.queue.duplicates == o.events, s.queue.rejected == 0 else {
            throw HarnessError("ingest read \(s.queue.ingested) events, \(s.queue.rejected) rejected, of \(o.events)")
        }
        let jobs = s.jobs.values.reduce(0) { $0 + $1.values.reduce(0, +) }
        o.log(String(format: "ingest: touchpointd %.1f s, %d jobs, RSS %d KiB (peak %d KiB)", ingest, jobs, rssAfter, peak))
        try h.stop(timeout: 120)

        // Restart: open the state and read the (already consumed) queue to its end.
        var restarts: [Double] = []
        for _ in 0..<5 {
            t = Date()
            try h.start(timeout: 600)
            restarts.append(readyAt(h).timeIntervalSince(t))
            try h.stop(timeout: 120)
        }
        let restart = median(restarts)
        o.log("ingest: restarts \(restarts.map { String(format: "%.3f", $0) })")

        let floors = try floorRows(h, o, baseline: baseline)

        // One event at a time to the running daemon over that state.
        try h.start(timeout: 600)
        let appends = try singleAppends(h, count: o.appends)
        try h.stop(timeout: 120)
        o.log(String(format: "ingest: single appends p50 %.2f p99 %.2f max %.2f ms", appends.p50, appends.p99, appends.max))
        let perEvent = ingest / Double(o.events) * 1e6
        return [
            BenchmarkRow(scenario: "ingest \(o.events) events to durable state (\(jobs) jobs planned)",
                         ours: String(format: "%.1f s (%.0f µs/event)", ingest, perEvent), baseline: String(format: "sqlite3 .import %.1f s", baseline),
                         ratio: String(format: "%.2f", ingest / baseline), target: "≤ 5", met: ingest / baseline <= 5),
        ] + floors + [
            BenchmarkRow(scenario: "restart with \(jobs) jobs until READY (median of 5)", ours: String(format: "%.3f s", restart),
                         baseline: "-", ratio: "-", target: "< 0.1 s", met: restart < 0.1),
            BenchmarkRow(scenario: "resident memory after the \(o.events) ingest (peak)", ours: "\(rssAfter / 1024) MiB (\(peak / 1024) MiB)",
                         baseline: "-", ratio: "-", target: "< 96 MiB (peak ≤ 128 MiB)", met: rssAfter < 96 * 1024 && peak <= 128 * 1024),
            BenchmarkRow(scenario: "one event appended to the running daemon over that state, write to its job answering `job` (\(o.appends) appends, one at a time)",
                         ours: String(format: "p99 %.2f ms (p50 %.2f, max %.2f)", appends.p99, appends.p50, appends.max),
                         baseline: "-", ratio: "-", target: "p99 < 10 ms", met: appends.p99 < 10),
        ]
    }

    /// Appends `count` surgery bookings one at a time, each once the last is
    /// in, and times each from the end of its write to the moment its
    /// check-in call answers `job` (asked over the control socket every
    /// 0.2 ms, as `touchpointctl job` asks it, without a process start).
    static func singleAppends(_ h: DaemonHarness, count: Int) throws -> (p50: Double, p99: Double, max: Double) {
        let client = ControlClient(socketPath: h.socketPath)
        try client.connect()
        let day = futureStart(h.time).adding(days: 30)
        var late: [Double] = []
        for i in 0..<count {
            let ref = "S-ONE-\(i)"
            let line = #"{"v":1,"id":"one-\#(i)","type":"surgery.booked","ref":"\#(ref)","patient":{"id":"PONE\#(i)","phone":"+447700900123"},"at":"\#(day)T10:00","ward":"Ward 1","procedure":"Wide local excision"}"# + "\n"
            try h.append(line)
            let written = DispatchTime.now().uptimeNanoseconds
            let request = ControlCommand.job(id: "call-\(ref)").request()
            var tries = 0
            while (try? client.send(request)) == nil {
                tries += 1
                guard tries < 50_000 else { throw HarnessError("job call-\(ref) never appeared") }
                usleep(200)
            }
            late.append(Double(DispatchTime.now().uptimeNanoseconds - written) / 1e6)
            usleep(5_000)
        }
        late.sort()
        return (percentile(late, 0.5), percentile(late, 0.99), late.last!)
    }

    /// One CSV row per queue line: the fields a flat table would keep.
    static func writeCSV(queue: String, to path: String) throws {
        let text = try String(contentsOfFile: queue, encoding: .utf8)
        var out = ""
        out.reserveCapacity(text.utf8.count)
        let handle = FileHandle(forWritingAtPath: path) ?? {
            _ = FileManager.default.createFile(atPath: path, contents: nil)
            return FileHandle(forWritingAtPath: path)!
        }()
        defer { try? handle.close() }
        func field(_ s: String?) -> String {
            guard let s else { return "" }
            return "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\""
        }
        var line = 0
        for raw in text.split(separator: "\n") {
            line += 1
            guard let v = try? JSONParser.parse(String(raw)) else { continue }
            func str(_ j: JSONValue?) -> String? { if case .string(let s)? = j { return s }; return nil }
            let p = v["patient"]
            let detail = str(v["procedure"]) ?? str(v["reason"]) ?? str(v["clinic"])
            out += [String(line), field(str(v["id"])), field(str(v["type"])), field(str(v["ref"])), field(str(p?["id"])),
                    field(str(p?["name"])), field(str(p?["phone"])), field(str(p?["email"])),
                    field(str(v["at"]) ?? str(v["expected_at"])), field(str(v["ward"])), field(detail)].joined(separator: ",")
            out += "\n"
            if out.utf8.count > 1 << 22 {
                handle.write(Data(out.utf8))
                out.removeAll(keepingCapacity: true)
            }
        }
        handle.write(Data(out.utf8))
    }

    // MARK: Idle cost, memory at rest, status throughput

    static func idleAndStatus(_ o: BenchmarkOptions) throws -> [BenchmarkRow] {
        let h = try DaemonHarness()
        // Bookings a week ahead and no delays (a delay's notice goes within
        // minutes): nothing comes due while the daemon is watched.
        let lines = QueueGenerator.lines(.init(events: o.idleEvents, start: futureStart(h.time), seed: 2)).filter { !$0.contains("\"surgery.delayed\"") }
        try h.appendLines(lines)
        try h.start(timeout: 600)
        let pid = h.pid!
        let windowEnd = Date().addingTimeInterval(TimeInterval(10 + o.idleSeconds))
        var s = try h.status()
        for _ in 0..<100 where (s.nextDueAt ?? .distantFuture) < windowEnd {
            Thread.sleep(forTimeInterval: 0.1)  // the engine's first run
            s = try h.status()
        }
        if let next = s.nextDueAt, next < windowEnd {
            throw HarnessError("the idle scenario has a job due at \(Timestamp.rfc3339(next)), inside its window")
        }
        let jobs = s.jobs.values.reduce(0) { $0 + $1.values.reduce(0, +) }
        // Let the first engine run and its notices settle (and libdispatch's
        // idle worker threads exit), then count.
        Thread.sleep(forTimeInterval: 10)
        let before = voluntarySwitches(pid)
        o.log("idle: \(jobs) jobs, next due \(s.nextDueAt.map(Timestamp.rfc3339) ?? "none"); watching for \(o.idleSeconds) s")
        Thread.sleep(forTimeInterval: TimeInterval(o.idleSeconds))
        let after = voluntarySwitches(pid)
        // Threads that came meanwhile count in full; one that left takes its count with it.
        let switches = after.reduce(0) { $0 + $1.value - (before[$1.key] ?? 0) }
        let rss = residentKiB(pid)
        o.log("idle: \(switches) voluntary context switches, RSS \(rss) KiB")

        // status, one request after another on one connection; and what this
        // machine allows any program: a bare request and reply on a Unix socket.
        // Three windows each, alternating, and the median: this VM's round
        // trips vary by a fifth from one second to the next.
        var rates: [Double] = []
        var bares: [Double] = []
        let replyBytes = try statusReplySize(socket: h.socketPath)
        for _ in 0..<3 {
            rates.append(try statusRate(socket: h.socketPath, seconds: o.statusSeconds))
            bares.append(bareRoundTrips(replyBytes: replyBytes, seconds: o.statusSeconds))
        }
        o.log("status: \(rates.map { Int($0) }) requests/s; bare \(bares.map { Int($0) })")
        let (rate, bare) = (median(rates), median(bares))
        o.log(String(format: "status: %.0f requests/s; bare socket round trips %.0f/s", rate, bare))
        try h.stop()
        return [
            BenchmarkRow(scenario: "idle: voluntary context switches over \(o.idleSeconds) s, \(jobs) jobs, none due, watchdog off",
                         ours: "\(switches)", baseline: "-", ratio: "-", target: "0", met: switches == 0),
            BenchmarkRow(scenario: "resident memory, idle, \(jobs) jobs", ours: String(format: "%.1f MiB", Double(rss) / 1024),
                         baseline: "-", ratio: "-", target: "< 32 MiB", met: rss < 32 * 1024),
            BenchmarkRow(scenario: "`status` requests per second on one connection (\(jobs) jobs, median of 3 × \(o.statusSeconds) s)", ours: String(format: "%.0f /s", rate),
                         baseline: String(format: "bare Unix-socket request and reply, no work: %.0f /s", bare),
                         ratio: String(format: "%.2f", rate / bare), target: "> 20,000", met: rate > 20_000),
        ]
    }

    /// Requests answered per second, each sent once the previous answer is in.
    static func statusRate(socket: String, seconds: Int) throws -> Double {
        let conn = try RawControlConnection(path: socket)
        let request = controlFrame(try ControlJSON.encoder.encode(ControlCommand.status.request()))
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        let prefix = Array(ControlReply.successPrefix)
        var count = 0
        let start = Date()
        let end = start.addingTimeInterval(TimeInterval(seconds))
        while true {
            if count % 256 == 0, Date() >= end { break }
            guard conn.send(request) == request.count else { throw HarnessError("send failed") }
            // One reply: a 4-byte length, then that many bytes.
            var have = 0
            var need = 4
            while have < need {
                let n = buffer.withUnsafeMutableBytes { recv(conn.fd, $0.baseAddress! + have, $0.count - have, 0) }
                guard n > 0 else { throw HarnessError("the daemon closed the connection after \(count) replies") }
                have += n
                if need == 4, have >= 4 {
                    need = 4 + (Int(buffer[0]) << 24 | Int(buffer[1]) << 16 | Int(buffer[2]) << 8 | Int(buffer[3]))
                    guard need <= buffer.count else { throw HarnessError("a status reply of \(need) bytes") }
                }
            }
            guard have == need, buffer[4..<(4 + prefix.count)].elementsEqual(prefix) else {
                throw HarnessError("not a success reply: \(String(decoding: buffer[4..<have], as: UTF8.self))")
            }
            count += 1
        }
        return Double(count) / Date().timeIntervalSince(start)
    }

    static func statusReplySize(socket: String) throws -> Int {
        let conn = try RawControlConnection(path: socket)
        conn.sendFrame(#"{"v":1,"command":"status","args":{}}"#)
        guard let reply = conn.readFrame() else { throw HarnessError("no status reply") }
        return try JSONSerialization.data(withJSONObject: reply).count + 4
    }

    /// The most request-and-reply exchanges per second one connection can
    /// carry here: a thread that answers each 40-byte request with
    /// `replyBytes` at once, over a socketpair. The ceiling for `status`.
    static func bareRoundTrips(replyBytes: Int, seconds: Int) -> Double {
        var fds: [Int32] = [0, 0]
        socketpair(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0, &fds)
        let (client, server) = (fds[0], fds[1])
        let answerer = Thread {
            var buf = [UInt8](repeating: 0, count: 4096)
            let reply = [UInt8](repeating: 0x78, count: replyBytes)
            while read(server, &buf, buf.count) > 0 { _ = reply.withUnsafeBytes { write(server, $0.baseAddress, $0.count) } }
            close(server)
        }
        answerer.start()
        let request = [UInt8](repeating: 0x72, count: 40)
        var buf = [UInt8](repeating: 0, count: 65_536)
        var count = 0
        let start = Date()
        let end = start.addingTimeInterval(TimeInterval(seconds))
        while count % 256 != 0 || Date() < end {
            _ = request.withUnsafeBytes { write(client, $0.baseAddress, $0.count) }
            var got = 0
            while got < replyBytes {
                let n = read(client, &buf, buf.count)
                if n <= 0 { break }
                got += n
            }
            count += 1
        }
        let rate = Double(count) / Date().timeIntervalSince(start)
        close(client)
        return rate
    }

    // MARK: Dispatch lateness

    static func lateness(_ o: BenchmarkOptions) throws -> [BenchmarkRow] {
        let h = try DaemonHarness()
        try h.start()
        // When each message appears in the outbox, seen from outside: inotify,
        // timed with the real-time clock (a file's mtime has only the kernel's
        // coarse 4 ms tick).
        let outbox = h.dir + "/spool/outbox"
        try FileManager.default.createDirectory(atPath: outbox, withIntermediateDirectories: true)
        let arrivals = OutboxWatcher(directory: outbox)
        // Wait notices due at admission: 1,000 admissions, 10 ms apart, from 3 s on.
        let first = Date().addingTimeInterval(3)
        var due: [String: Date] = [:]
        var lines: [String] = []
        for i in 0..<o.notices {
            let admit = first.addingTimeInterval(Double(i) * 0.010)
            let ref = "S-LATE-\(i)"
            due["wait-\(ref)-1"] = Date(timeIntervalSince1970: (admit.timeIntervalSince1970 * 1000).rounded() / 1000)
            lines.append(#"{"v":1,"id":"late-\#(i)","type":"surgery.booked","ref":"\#(ref)","patient":{"id":"PL\#(i)","phone":"+4477009\#(String(format: "%05d", i))"},"at":"\#(Timestamp.rfc3339(admit.addingTimeInterval(7200)))","admit_at":"\#(Timestamp.rfc3339(admit))","ward":"Ward 7"}"#)
        }
        try h.appendLines(lines)
        try h.waitUntil(timeout: 300, "every wait notice is sent") {
            try h.status().jobs[.waitNotice]?[.done] == o.notices
        }
        let seen = arrivals.stop()
        var late: [Double] = []
        for name in try FileManager.default.contentsOfDirectory(atPath: outbox) where name.hasSuffix(".json") && !name.hasPrefix(".") {
            let path = outbox + "/" + name
            let m = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as! [String: Any]
            guard let job = m["job_id"] as? String, let d = due[job], let at = seen[name] else { continue }
            late.append(at.timeIntervalSince(d) * 1000)
        }
        try h.stop()
        guard late.count == o.notices else { throw HarnessError("\(late.count) notices in the outbox, not \(o.notices)") }
        late.sort()
        let p = { (q: Double) in percentile(late, q) }
        o.log(String(format: "lateness: p50 %.1f p90 %.1f p99 %.1f max %.1f ms", p(0.5), p(0.9), p(0.99), late.last!))
        return [BenchmarkRow(scenario: "dispatch lateness, \(o.notices) notices due 10 ms apart (message appears in the outbox − due time)",
                             ours: String(format: "p99 %.1f ms (p50 %.1f, max %.1f)", p(0.99), p(0.5), late.last!),
                             baseline: "-", ratio: "-", target: "p99 < 20 ms", met: p(0.99) < 20)]
    }

    // MARK: The day's call list

    static func callList(_ o: BenchmarkOptions) throws -> [BenchmarkRow] {
        // The scenario's hospital clock is late morning: today's calls are due.
        let h = try DaemonHarness()
        let today = h.time.today
        let yesterday = today.adding(days: -1)
        var lines: [String] = []
        for i in 0..<o.calls {
            let minutes = 8 * 60 + (i * 600) / o.calls
            let at = h.time.clock.instant(on: yesterday, at: TimeOfDay(hour: minutes / 60, minute: minutes % 60))
            lines.append(#"{"v":1,"id":"call-\#(i)","type":"surgery.booked","ref":"S-CALL-\#(i)","patient":{"id":"PC\#(i)","name":"Caller Example \#(i)","phone":"+447700\#(String(format: "%06d", i))","voicemail_ok":true},"at":"\#(Timestamp.rfc3339(at))","ward":"Ward \#(i % 12 + 1)","procedure":"Wide local excision"}"#)
        }
        // And a background of other bookings, as a real day has.
        try QueueGenerator.write(.init(events: 20_000, start: futureStart(h.time), seed: 4), to: h.queuePath)
        try h.appendLines(lines)
        try h.start(timeout: 600)
        let listed = try h.ctlJSON(CallsReport.self, ["calls"]).calls.count
        guard listed == o.calls else { throw HarnessError("calls listed \(listed), not \(o.calls)") }

        var ours: [Double] = []
        for _ in 0..<21 {
            let t = Date()
            let r = try DaemonHarness.run(DaemonHarness.ctlPath, ["--socket", h.socketPath, "calls", "--json"])
            ours.append(Date().timeIntervalSince(t) * 1000)
            guard r.status == 0 else { throw HarnessError("calls --json: \(r.stderr)") }
        }
        let from = h.time.clock.instant(on: today, at: TimeOfDay(hour: 0, minute: 0)).timeIntervalSince1970 * 1000
        let to = h.time.clock.instant(on: today.adding(days: 1), at: TimeOfDay(hour: 0, minute: 0)).timeIntervalSince1970 * 1000
        let sql = """
            SELECT j.*, p.name, p.phone, p.voicemail_ok, b.procedure, b.at FROM jobs j
            LEFT JOIN patients p ON p.id = j.patient_id LEFT JOIN bookings b ON b.kind = j.booking_kind AND b.ref = j.ref
            WHERE j.kind = '\(JobKind.checkinCall.rawValue)' AND j.state IN ('\(JobState.scheduled.rawValue)','\(JobState.due.rawValue)') AND j.due_at >= \(Int64(from)) AND j.due_at < \(Int64(to))
            ORDER BY (j.overdue_since IS NULL), j.overdue_since, j.due_at, j.id
            """
        var base: [Double] = []
        for _ in 0..<21 {
            let t = Date()
            let r = try DaemonHarness.run("/usr/bin/sqlite3", ["-readonly", "-json", h.databasePath, sql])
            base.append(Date().timeIntervalSince(t) * 1000)
            let rows = (try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8)) as? [Any])?.count ?? 0
            guard rows == o.calls else { throw HarnessError("sqlite3 selected \(rows) rows, not \(o.calls): \(r.stderr)") }
        }
        try h.stop()
        let (a, b) = (median(ours), median(base))
        o.log(String(format: "calls: touchpointctl %.1f ms, sqlite3 %.1f ms", a, b))
        return [BenchmarkRow(scenario: "`touchpointctl calls --json`, a \(o.calls)-call day (median of 21, process start included)",
                             ours: String(format: "%.1f ms", a), baseline: String(format: "sqlite3 -json, same rows: %.1f ms", b),
                             ratio: String(format: "%.2f", a / b), target: "≤ 2", met: a / b <= 2)]
    }

    // MARK: Helpers

    /// When READY=1 arrived on the notify socket (timed by its receiving thread).
    static func readyAt(_ h: DaemonHarness) -> Date {
        h.notify?.timedMessages.first { $0.text.split(separator: "\n").contains("READY=1") }?.at ?? Date()
    }

    static func median(_ xs: [Double]) -> Double { xs.sorted()[xs.count / 2] }

    /// The q-quantile of values already sorted (q = 0.99 for the p99).
    static func percentile(_ sorted: [Double], _ q: Double) -> Double { sorted[min(sorted.count - 1, Int(Double(sorted.count) * q))] }

    /// Voluntary context switches of each thread of `pid` so far, by thread id.
    static func voluntarySwitches(_ pid: Int32) -> [String: Int] {
        let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/\(pid)/task")) ?? []
        var out: [String: Int] = [:]
        for tid in tasks {
            guard let s = try? String(contentsOfFile: "/proc/\(pid)/task/\(tid)/status", encoding: .utf8),
                  let line = s.split(separator: "\n").first(where: { $0.hasPrefix("voluntary_ctxt_switches:") }) else { continue }
            out[tid] = Int(line.split(separator: "\t").last!.trimmingCharacters(in: .whitespaces)) ?? 0
        }
        return out
    }
}

/// Records when each file is renamed into a directory (the outbox's atomic
/// hand-over), by the wall clock, on its own thread.
final class OutboxWatcher: @unchecked Sendable {
    // @unchecked: `seen` is only touched with `lock` held; the fds are set once.
    private let fd: Int32
    private let lock = NSLock()
    private var seen: [String: Date] = [:]
    private var stopping = false
    private let done = DispatchSemaphore(value: 0)

    init(directory: String) {
        fd = inotify_init1(Int32(IN_NONBLOCK))
        inotify_add_watch(fd, directory, UInt32(IN_MOVED_TO))
        Thread { [self] in self.loop() }.start()
    }

    private func loop() {
        var buf = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&p, 1, 50)
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            let now = Date()
            if n > 0 {
                var i = 0
                let header = MemoryLayout<inotify_event>.size
                lock.lock()
                while i + header <= n {
                    let len = buf.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: i, as: inotify_event.self).len) }
                    let name = String(decoding: buf[(i + header)..<(i + header + len)].prefix { $0 != 0 }, as: UTF8.self)
                    if seen[name] == nil { seen[name] = now }
                    i += header + len
                }
                lock.unlock()
            }
            lock.lock()
            let stop = stopping
            lock.unlock()
            if stop && n <= 0 { break }
        }
        close(fd)
        done.signal()
    }

    /// Stops watching; each file's first arrival time.
    func stop() -> [String: Date] {
        lock.lock()
        stopping = true
        lock.unlock()
        done.wait()
        lock.lock()
        defer { lock.unlock() }
        return seen
    }
}
