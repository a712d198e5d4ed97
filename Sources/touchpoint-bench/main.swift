import ArgumentParser
import Foundation
import TouchpointBenchmarks
import TouchpointTestSupport

/// Runs issue 8's benchmarks against the release build next to it (scripts/bench builds it).
struct TouchpointBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "touchpoint-bench",
        abstract: "Measure touchpointd against its targets, each with its baseline from the same run.")

    @Option(help: "Events for the ingest and restart scenario.") var events = 1_000_000
    @Option(help: "Events for the idle scenario (about 1.1 jobs each).") var idleEvents = 100_000
    @Option(help: "Seconds to watch the idle daemon.") var idleSeconds = 60
    @Option(help: "Notices for the lateness scenario.") var notices = 1_000
    @Option(help: "Calls on the day for the call-list scenario.") var calls = 1_000
    @Option(help: "Scenarios to run: ingest, idle, lateness, calls, web, report, notify, hl7 (repeatable; all by default).") var only: [String] = []
    @Flag(help: "Compare the repo's queue generator with ../shared/tools/gen-queue.py instead.") var crossCheck = false
    @Option(help: "gen-queue.py, for --cross-check.") var genQueue = DaemonHarness.repoRoot + "/../shared/tools/gen-queue.py"

    func run() throws {
        if crossCheck {
            let (report, agrees) = try GeneratorCrossCheck.run(events: events, script: genQueue) {
                FileHandle.standardError.write(Data(("bench: " + $0 + "\n").utf8))
            }
            print(report)
            if !agrees { throw ExitCode(1) }
            return
        }
        var o = BenchmarkOptions()
        o.events = events
        o.idleEvents = idleEvents
        o.idleSeconds = idleSeconds
        o.notices = notices
        o.calls = calls
        o.only = Set(only)
        let rows = try Benchmarks.run(o)
        print(BenchmarkRow.table(rows))
    }
}

TouchpointBench.main()
