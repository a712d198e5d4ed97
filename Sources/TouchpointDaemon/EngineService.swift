import Foundation
import Logging
import ServiceLifecycle
import TouchpointCore
import TouchpointDomain
import TouchpointSystemd

/// The engine: handles every job whose time has come, writes the day's call
/// lists when they are due, then sleeps until the next thing is due (or a
/// poke, or a clock step). Jobs that came due while the daemon was down are
/// handled once, at start.
struct EngineService: Service {
    let engine: Engine
    let timer: WakeTimer
    let export: CallListExport
    let logger: Logger
    /// Rung when notices may be due for dispatch.
    let doorbell: Doorbell

    func run() async throws {
        await withGracefulShutdownHandler {
            // The first wake is the ingest service's poke once the queue has been
            // read to its end: jobs and exports are judged on the whole state.
            var failures = 0
            for await reason in timer.wakes {
                if reason == .clockStep {
                    logger.notice("the wall clock was stepped; looking again at what is due")
                }
                do {
                    try await runDue()
                    failures = 0
                } catch {
                    // The state could not be read or written (a full disk, an I/O
                    // error): nothing was changed, so look again after a while,
                    // backing off, and keep the daemon up for reads meanwhile.
                    failures += 1
                    let wait = Backoff.engine.delay(afterFailures: failures)
                    logger.error("could not update the jobs (trying again in \(Int(wait)) s): \(error)",
                                 metadata: ["MESSAGE_ID": "\(MessageID.stateError)"])
                    arm(next: Date().addingTimeInterval(wait))
                }
            }
        } onGracefulShutdown: {
            timer.stop()
        }
    }

    private func runDue() async throws {
        try await engine.runDueJobs()
        // Every run: notices that came due now, or were waiting (a pause, a retry), go out.
        doorbell.ring()
        var next = try await engine.nextWake(now: Date())
        if let silence = try await engine.watchFeeds() { next = min(next ?? silence, silence) }
        if let alert = try await engine.watchEscalations() { next = min(next ?? alert, alert) }
        do {
            try await export.runIfDue(now: Date())
        } catch {
            // Try again in five minutes rather than spin on a directory that cannot be written.
            logger.error("could not write the call lists (trying again in 5 minutes): \(error)")
            next = min(next ?? .distantFuture, Date().addingTimeInterval(300))
        }
        ServiceNotifier.notify("STATUS=\(await engine.statusLine())")
        arm(next: next)
    }

    /// Sets the timer for `next`, or sooner to feed the watchdog. It is fed
    /// from this loop, the one that would hang, at half its interval: a stuck
    /// database or engine stops the pings.
    private func arm(next: Date?) {
        var next = next
        if let interval = ServiceNotifier.watchdogInterval() {
            ServiceNotifier.notify("WATCHDOG=1")
            let ping = Date().addingTimeInterval(TimeInterval(interval.components.seconds) / 2 + TimeInterval(interval.components.attoseconds) / 2e18)
            next = min(next ?? ping, ping)
        }
        timer.arm(at: next)
    }
}

/// Something may be due for dispatch (the engine made notices due, a resume, a retry).
final class Doorbell: Sendable {
    let stream: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    init() { (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1)) }
    func ring() { continuation.yield() }
}

/// How long the daemon waits before trying its own I/O again after a failure
/// (a full disk, a locked database): doubling from `initial` up to `maximum`.
/// Not the notices' retry policy, which is the hospital's (`transport.*`).
struct Backoff: Sendable {
    var initial: TimeInterval
    var maximum: TimeInterval

    func delay(afterFailures n: Int) -> TimeInterval {
        min(initial * pow(2, Double(max(0, n - 1))), maximum)
    }

    /// The engine: 5 s, doubling up to a minute.
    static let engine = Backoff(initial: 5, maximum: 60)
    /// Reading the queue: 1 s, doubling up to 30 s.
    static let ingest = Backoff(initial: 1, maximum: 30)
    /// Dispatch, when the state cannot be read or written: 10 s each time.
    static let dispatch = Backoff(initial: 10, maximum: 10)
}
