import Foundation
import TouchpointDomain
import TouchpointTestSupport

/// Our queue generator against the shared `gen-queue.py`: the same mix of
/// events, and the same jobs once the real daemon has read each file. Run once
/// (`touchpoint-bench --cross-check`); the benchmark itself uses ours, which
/// writes a million lines in seconds rather than a minute.
public enum GeneratorCrossCheck {
    public static func run(events: Int, script: String, log: (String) -> Void) throws -> (report: String, agrees: Bool) {
        let time = ScenarioTime()
        let start = Benchmarks.futureStart(time)
        let ours = try DaemonHarness(time: time)
        try QueueGenerator.write(.init(events: events, start: start, seed: 1), to: ours.queuePath)
        let theirs = try DaemonHarness(time: time)
        let gen = try DaemonHarness.run("/usr/bin/python3", [script, "--events", String(events), "--start", "\(start)", "--seed", "1", "--out", theirs.queuePath], timeout: 1800)
        guard gen.status == 0 else { throw HarnessError("gen-queue.py failed: \(gen.stderr)") }

        let a = try typeShares(ours.queuePath)
        let b = try typeShares(theirs.queuePath)
        try ours.start(timeout: 1800)
        try theirs.start(timeout: 1800)
        let (sa, sb) = (try ours.status(), try theirs.status())
        try ours.stop()
        try theirs.stop()
        var report = "| | repo generator | gen-queue.py |\n|---|---|---|\n"
        var agrees = true
        for type in Set(a.keys).union(b.keys).sorted() {
            let (x, y) = (a[type] ?? 0, b[type] ?? 0)
            if abs(x - y) > 0.01 { agrees = false }
            report += String(format: "| %@ | %.2f %% | %.2f %% |\n", type, x * 100, y * 100)
        }
        report += "| applied / rejected | \(sa.queue.ingested) / \(sa.queue.rejected) | \(sb.queue.ingested) / \(sb.queue.rejected) |\n"
        if sa.queue.rejected != 0 || sb.queue.rejected != 0 { agrees = false }
        for kind in Set(sa.jobs.keys).union(sb.jobs.keys).sorted(by: { $0.rawValue < $1.rawValue }) {
            let x = sa.jobs[kind]?.values.reduce(0, +) ?? 0
            let y = sb.jobs[kind]?.values.reduce(0, +) ?? 0
            if abs(Double(x - y)) > 0.05 * Double(max(x, y, 1)) { agrees = false }
            report += "| \(kind.rawValue) jobs | \(x) | \(y) |\n"
        }
        log("cross-check: \(agrees ? "the generators agree" : "the generators DIFFER")")
        return (report, agrees)
    }

    /// Each event type's share of the lines.
    static func typeShares(_ path: String) throws -> [String: Double] {
        var counts: [String: Int] = [:]
        var total = 0
        for raw in try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n") {
            total += 1
            if let v = try? JSONParser.parse(String(raw)), case .string(let t)? = v["type"] { counts[t, default: 0] += 1 }
        }
        return counts.mapValues { Double($0) / Double(max(total, 1)) }
    }
}
