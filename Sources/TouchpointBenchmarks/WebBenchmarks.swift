import Foundation
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Issue 13's figures for the web view: `/calls` under `wrk` (Debian's),
/// signed in, with `touchpointctl calls --json` run beside it in the same
/// period; the same while ten people sign in at once; the idle web view's
/// memory and wake-ups. Root only (the web view runs as its own user).
extension Benchmarks {
    static func web(_ o: BenchmarkOptions) throws -> [BenchmarkRow] {
        guard getuid() == 0 else { throw HarnessError("the web benchmark makes the web view's user: run it as root") }
        let h = try DaemonHarness()
        let web = try WebHarness(daemon: h, accounts: try TestAccounts())
        let yesterday = h.time.day(-1)
        var lines: [String] = []
        for i in 0..<o.calls {
            let minutes = 8 * 60 + (i * 600) / o.calls
            let at = h.time.clock.instant(on: yesterday, at: TimeOfDay(hour: minutes / 60, minute: minutes % 60))
            lines.append(#"{"v":1,"id":"call-\#(i)","type":"surgery.booked","ref":"S-CALL-\#(i)","patient":{"id":"PC\#(i)","name":"Caller Example \#(i)","phone":"+447700\#(String(format: "%06d", i))","voicemail_ok":true},"at":"\#(Timestamp.rfc3339(at))","ward":"Ward 7","procedure":"Wide local excision"}"#)
        }
        try h.appendLines(lines)
        try h.start(timeout: 600)
        let password = "benchmark password"
        try web.addAccount("nurse", password: password)
        for i in 0..<10 { try web.addAccount("login\(i)", password: password) }
        try web.start()
        let nurse = web.client()
        let signIn = try nurse.post("/login", form: [("username", "nurse"), ("password", password)])
        guard signIn.status == 303, let cookie = signIn.header("set-cookie")?.split(separator: ";").first else {
            throw HarnessError("sign-in: \(signIn.status)")
        }
        let page = try nurse.get("/calls")
        let rows = page.body.components(separatedBy: "Record outcome<span").count - 1
        guard rows == o.calls else { throw HarnessError("/calls shows \(rows) calls, not \(o.calls)") }
        o.log("web: /calls shows \(rows) calls (\(page.body.utf8.count / 1024) KiB)")

        // 1. /calls under wrk, with touchpointctl calls --json beside it.
        let url = web.base + "/calls"
        let ctl = CommandLoop { _ = try? DaemonHarness.run(DaemonHarness.ctlPath, ["--socket", h.socketPath, "calls", "--json"]) }
        let plain = try wrk(url: url, cookie: String(cookie), seconds: 10)
        let ctlRate = ctl.stop() / 10
        o.log("web: \(plain.summary); touchpointctl calls --json beside it: \(String(format: "%.1f", ctlRate))/s")

        // 2. The same while ten people sign in at once (bcrypt, cost 12), twice.
        let logins = CommandLoop(limit: 2) {
            Thread.sleep(forTimeInterval: 2)
            let group = DispatchGroup()
            for i in 0..<10 {
                DispatchQueue.global().async(group: group) {
                    let c = web.client()
                    _ = try? c.post("/login", form: [("username", "login\(i)"), ("password", password)])
                }
            }
            group.wait()
        }
        let busy = try wrk(url: url, cookie: String(cookie), seconds: 10)
        _ = logins.stop()
        o.log("web: with ten sign-ins at once: \(busy.summary)")

        // 3. Idle: no request comes.
        let pid = try requirePid(web.pid)
        Thread.sleep(forTimeInterval: 10)
        let before = voluntarySwitches(pid)
        Thread.sleep(forTimeInterval: TimeInterval(o.idleSeconds / 2))
        let after = voluntarySwitches(pid)
        let switches = after.reduce(0) { $0 + $1.value - (before[$1.key] ?? 0) }
        let (rss, anon, pss) = (residentKiB(pid), anonymousKiB(pid), proportionalKiB(pid))
        o.log("web: idle \(switches) voluntary context switches over \(o.idleSeconds / 2) s, RSS \(rss) KiB (anonymous \(anon) KiB, PSS \(pss) KiB)")
        o.log("web: resident by mapping: " + residentByMapping(pid).prefix(8).map { "\($0.name) \($0.kib) KiB" }.joined(separator: ", "))
        try web.stop()
        try h.stop()
        return [
            BenchmarkRow(scenario: "`/calls`, a \(o.calls)-call day, signed in: wrk, 50 connections, 10 s",
                         ours: String(format: "%.0f requests/s, p99 %.1f ms, %d errors", plain.rate, plain.p99, plain.errors),
                         baseline: String(format: "`touchpointctl calls --json` in the same 10 s: %.1f /s", ctlRate),
                         ratio: "-", target: "no errors, p99 < 100 ms", met: plain.errors == 0 && plain.p99 < 100),
            BenchmarkRow(scenario: "`/calls` as above while ten people sign in at once (twice)",
                         ours: String(format: "p99 %.1f ms, %d errors", busy.p99, busy.errors), baseline: "-", ratio: "-",
                         target: "p99 ≤ 200 ms", met: busy.errors == 0 && busy.p99 <= 200),
            BenchmarkRow(scenario: "idle touchpoint-web: voluntary context switches over \(o.idleSeconds / 2) s",
                         ours: "\(switches)", baseline: "-", ratio: "-", target: "0", met: switches == 0),
            BenchmarkRow(scenario: "idle touchpoint-web: resident memory after the runs above",
                         ours: String(format: "%.1f MiB (its own heap and stacks %.1f MiB; PSS %.1f MiB)", Double(rss) / 1024, Double(anon) / 1024, Double(pss) / 1024),
                         baseline: "-", ratio: "-", target: "< 40 MiB", met: rss < 40 * 1024),
        ]
    }

    static func requirePid(_ pid: Int32?) throws -> Int32 {
        guard let pid else { throw HarnessError("touchpoint-web is not running") }
        return pid
    }

    struct WrkResult {
        var rate: Double
        var p99: Double
        var errors: Int
        var summary: String { String(format: "%.0f requests/s, p50 %.1f ms, p99 %.1f ms, %d errors", rate, p50, p99, errors) }
        var p50: Double
    }

    /// `wrk -t2 -c50 -d10s --latency` with the session cookie.
    static func wrk(url: String, cookie: String, seconds: Int) throws -> WrkResult {
        let r = try DaemonHarness.run("/usr/bin/wrk", ["-t2", "-c50", "-d\(seconds)s", "--latency", "-H", "Cookie: \(cookie)", url],
                                      timeout: TimeInterval(seconds + 60))
        guard r.status == 0 else { throw HarnessError("wrk: \(r.stderr)") }
        func ms(_ percent: String) -> Double {
            guard let line = r.stdout.split(separator: "\n").first(where: { $0.trimmingCharacters(in: .whitespaces).hasPrefix(percent) }),
                  let v = line.split(separator: " ", omittingEmptySubsequences: true).last else { return .infinity }
            let s = String(v)
            if s.hasSuffix("us") { return (Double(s.dropLast(2)) ?? .infinity) / 1000 }
            if s.hasSuffix("ms") { return Double(s.dropLast(2)) ?? .infinity }
            if s.hasSuffix("s") { return (Double(s.dropLast(1)) ?? .infinity) * 1000 }
            return .infinity
        }
        let rate = r.stdout.split(separator: "\n").first { $0.hasPrefix("Requests/sec:") }
            .flatMap { Double($0.split(separator: " ").last ?? "") } ?? 0
        var errors = 0
        for line in r.stdout.split(separator: "\n") {
            if line.contains("Non-2xx or 3xx responses:") { errors += Int(line.split(separator: " ").last ?? "") ?? 0 }
            if line.contains("Socket errors:") {
                errors += line.split(separator: ",").compactMap { Int($0.split(separator: " ").last ?? "") }.reduce(0, +)
            }
        }
        return WrkResult(rate: rate, p99: ms("99%"), errors: errors, p50: ms("50%"))
    }
}

/// Runs `body` again and again on a thread of its own until stopped (or
/// `limit` times); `stop` says how many runs finished.
final class CommandLoop: @unchecked Sendable {
    // @unchecked: `runs` and `stopping` are only touched with `lock` held.
    private let lock = NSLock()
    private var runs = 0
    private var stopping = false
    private let done = DispatchSemaphore(value: 0)

    init(limit: Int = .max, _ body: @escaping @Sendable () -> Void) {
        Thread { [self] in
            while true {
                lock.lock()
                let go = !stopping && runs < limit
                lock.unlock()
                guard go else { break }
                body()
                lock.lock()
                runs += 1
                lock.unlock()
            }
            done.signal()
        }.start()
    }

    func stop() -> Double {
        lock.lock()
        stopping = true
        lock.unlock()
        done.wait()
        lock.lock()
        defer { lock.unlock() }
        return Double(runs)
    }
}

extension Benchmarks {
    /// Resident KiB of each mapped file (and `[anon]`, `[heap]`, `[stack]`),
    /// largest first, from `/proc/PID/smaps`.
    static func residentByMapping(_ pid: Int32) -> [(name: String, kib: Int)] {
        // Read to the end: a proc file says its size is 0.
        guard let data = FileHandle(forReadingAtPath: "/proc/\(pid)/smaps")?.readDataToEndOfFile() else { return [] }
        let text = String(decoding: data, as: UTF8.self)
        var sums: [String: Int] = [:]
        var current = "[anon]"
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            if let first = fields.first, first.contains("-"), first.allSatisfy({ $0.isHexDigit || $0 == "-" }) {
                current = fields.count >= 6 ? String(fields[5...].joined(separator: " ").split(separator: "/").last ?? "") : "[anon]"
            } else if line.hasPrefix("Rss:"), fields.count >= 2, let k = Int(fields[1]) {
                sums[current, default: 0] += k
            }
        }
        return sums.map { ($0.key, $0.value) }.sorted { $0.1 > $1.1 }
    }
}
