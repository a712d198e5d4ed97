import Foundation
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

/// Issue 14's figures, against `NotifyDouble` on loopback (a stand-in for
/// GOV.UK Notify built from its documentation).
extension Benchmarks {
    static func notify(_ o: BenchmarkOptions) throws -> [BenchmarkRow] {
        try notifyLateness(o) + notifyThroughput(o)
    }

    /// p99 from due time to Notify's 201, for 1,000 wait notices due 20 ms
    /// apart (Notify's own refill, 50 a second: faster than that no client
    /// can keep up for long, and touchpoint's bucket, 500 at once then 40 a
    /// second, holds this pace for 50 s); then the idle daemon with no
    /// receipt awaited.
    static func notifyLateness(_ o: BenchmarkOptions) throws -> [BenchmarkRow] {
        let double = try NotifyDouble()
        double.looksToFinal(3)
        let h = try DaemonHarness()
        try h.useNotify(double, notify: #"receipt_poll = "10s""#)
        try h.start()
        let start = Date().addingTimeInterval(3)
        var due: [String: Date] = [:]
        var lines: [String] = []
        for i in 0..<o.notices {
            let admit = start.addingTimeInterval(Double(i) * 0.020)
            let phone = "+4477001\(String(format: "%05d", i))"  // clear of Notify's smoke-test numbers (07700 900000, 900111, 900222)
            due[phone] = Date(timeIntervalSince1970: (admit.timeIntervalSince1970 * 1000).rounded() / 1000)
            lines.append(#"{"v":1,"id":"late-\#(i)","type":"surgery.booked","ref":"S-LATE-\#(i)","patient":{"id":"PL\#(i)","phone":"\#(phone)"},"at":"\#(Timestamp.rfc3339(admit.addingTimeInterval(7200)))","admit_at":"\#(Timestamp.rfc3339(admit))","ward":"Ward 7"}"#)
        }
        try h.appendLines(lines)
        try h.waitUntil(timeout: 300, "every wait notice is accepted") { try h.status().jobs[.waitNotice]?[.done] == o.notices }
        let late = double.notifications.compactMap { n in due[n.recipient].map { n.createdAt.timeIntervalSince($0) * 1000 } }.sorted()
        guard late.count == o.notices else { throw HarnessError("\(late.count) notices reached the double, not \(o.notices)") }
        let p = { (q: Double) in percentile(late, q) }
        o.log(String(format: "notify lateness: p50 %.1f p90 %.1f p99 %.1f max %.1f ms", p(0.5), p(0.9), p(0.99), late.last!))
        // Receipts: each notice asked after once a round, rounds 10 s apart.
        try h.waitUntil(timeout: 120, "every receipt is in") { (try h.status().transport?.deliveries[.delivered] ?? 0) == o.notices }
        let gets = double.requests.filter { $0.method == "GET" && !$0.path.contains("reference=") }
        let looks = gets.count
        // Rounds: bursts of look-ups; the shortest gap between two bursts.
        var rounds = gets.isEmpty ? 0 : 1
        var shortest = Double.infinity
        var last = gets.first?.at
        var burstStart = gets.first?.at
        for g in gets.dropFirst() {
            if g.at.timeIntervalSince(last!) > 2 {
                shortest = min(shortest, g.at.timeIntervalSince(burstStart!))
                rounds += 1
                burstStart = g.at
            }
            last = g.at
        }
        // Then idle: no receipt awaited, nothing due. Two windows: in the
        // first the HTTP client's pool closes its idle connection (once, 60 s
        // after the last request); the second is the daemon at rest.
        let pid = h.process!.processIdentifier
        func wakes(over seconds: Int) -> Int {
            let before = voluntarySwitches(pid)
            Thread.sleep(forTimeInterval: Double(seconds))
            return voluntarySwitches(pid).reduce(0) { $0 + $1.value - (before[$1.key] ?? 0) }
        }
        Thread.sleep(forTimeInterval: 5)
        let first = wakes(over: o.idleSeconds)
        let rest = wakes(over: o.idleSeconds)
        try h.stop()
        return [
            BenchmarkRow(scenario: "notify: \(o.notices) wait notices due 20 ms apart, due time to the double's 201 (loopback)",
                         ours: String(format: "p99 %.1f ms (p50 %.1f, max %.1f)", p(0.99), p(0.5), late.last!),
                         baseline: "-", ratio: "-", target: "p99 < 20 ms (as for the outbox)", met: p(0.99) < 20),
            BenchmarkRow(scenario: "notify: receipt look-ups for \(o.notices) notices, each final at its third look, `receipt_poll` 10 s",
                         ours: String(format: "%d look-ups in %d rounds, rounds at least %.1f s apart", looks, rounds, shortest),
                         // The notices go over 20 s, so their looks fall in a round or two more than three.
                         baseline: "-", ratio: "-", target: "three per notice, one a round, rounds ≥ 10 s apart",
                         met: looks == 3 * o.notices && shortest >= 10),
            BenchmarkRow(scenario: "notify: idle, no receipt awaited: voluntary context switches over \(o.idleSeconds) s, then the next \(o.idleSeconds) s",
                         ours: "\(first), then \(rest)", baseline: "-", ratio: "-", target: "0", met: rest == 0 && first <= 2),
        ]
    }

    /// 10,000 notices due at once through a double that enforces Notify's
    /// real token bucket (1,000, refilled 50 a second; a refused request spends a token).
    static func notifyThroughput(_ o: BenchmarkOptions) throws -> [BenchmarkRow] {
        let n = o.notifyNotices
        let double = try NotifyDouble()
        double.enforceTokenBucket()
        let h = try DaemonHarness()
        try h.useNotify(double, notify: #"receipt_poll = "1h""#)
        let at = Timestamp.rfc3339(Date().addingTimeInterval(3 * 86_400))
        try h.appendLines((0..<n).map { i in
            #"{"v":1,"id":"oa-\#(i)","type":"open_access.booked","ref":"OA-\#(i)","patient":{"id":"PO\#(i)","email":"p\#(i)@example.org","channel":"email"},"at":"\#(at)","clinic":"Breast clinic"}"#
        })
        let started = Date()
        try h.start(timeout: 600)
        try h.waitUntil(timeout: 900, "every notice is accepted") { try h.status().jobs[.openAccessInfo]?[.done] == n }
        let took = Date().timeIntervalSince(started)
        let refused = double.refusedForRate
        let once = double.keptByReference.values.allSatisfy { $0 == 1 } && double.notifications.count == n
        try h.stop()
        o.log(String(format: "notify throughput: %d notices in %.1f s, %d refused for rate", n, took, refused))
        // Ours: 500 at once, then 40 a second (rate_burst, rate_limit); Notify's: 999, then 50.
        let ownPace = Double(max(0, n - 500)) / 40
        return [BenchmarkRow(scenario: "notify: \(n) notices due at once, double with Notify's token bucket (start to the last 201)",
                             ours: String(format: "%.1f min, %d refused with 429, each sent once: %@", took / 60, refused, once ? "yes" : "no"),
                             baseline: String(format: "Notify's bucket itself: (%d - 999) / 50 a second = %.1f min; ours (%d - 500) / 40 = %.1f min",
                                              n, Double(max(0, n - 999)) / 50 / 60, n, ownPace / 60),
                             ratio: "-", target: "ours plus a minute, no 429", met: refused == 0 && once && took < ownPace + 60)]
    }
}
