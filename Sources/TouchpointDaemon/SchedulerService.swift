import Foundation
import Logging
import ServiceLifecycle
import TouchpointDomain
import TouchpointStore
import TouchpointSystemd

/// The engine: handles every job whose time has come, then sleeps until the
/// next one (or a poke, or a clock step). Jobs that came due while the daemon
/// was down are handled once, at start.
struct SchedulerService: Service {
    let store: Store
    let runtime: RuntimeState
    let timer: WakeTimer
    let logger: Logger
    /// Rung when notices may be due for dispatch.
    let doorbell: DispatchService.Doorbell

    /// The wait before looking again after the state could not be read or
    /// written: 5 s, doubling up to a minute.
    static let retry = RetryPolicy(initial: 5, maximum: 60, maxAge: .infinity)

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
                    try await runDue(reason: reason)
                    failures = 0
                } catch {
                    // The state could not be read or written (a full disk, an I/O
                    // error): nothing was changed, so look again after a while,
                    // backing off, and keep the daemon up for reads meanwhile.
                    failures += 1
                    let wait = Self.retry.delay(afterAttempts: failures, jitter: 0)
                    logger.error("could not update the jobs (trying again in \(Int(wait)) s): \(error)",
                                 metadata: ["MESSAGE_ID": "\(MessageID.stateError)"])
                    arm(next: Date().addingTimeInterval(wait))
                }
            }
        } onGracefulShutdown: {
            timer.stop()
        }
    }

    private func runDue(reason: WakeTimer.Reason) async throws {
        let config = runtime.config
        let rules = config.schedulingRules
        let store = self.store
        let updates = try await offload(on: WorkQueue.engine) {
            try store.runDue(now: Date(), rules: rules, defaultChannel: config.notices.defaultChannel)
        }
        for u in updates { log(u) }
        // Every run: notices that came due now, or were waiting (a pause, a retry), go out.
        doorbell.ring()
        let export = CallListExport(store: store, logger: logger)
        let nextExport: Date?
        do {
            try await export.runIfDue(config: config, now: Date())
            nextExport = try export.nextExport(config: config, now: Date())
        } catch {
            // Try again in five minutes rather than spin on a directory that cannot be written.
            logger.error("could not write the call lists (trying again in 5 minutes): \(error)")
            nextExport = Date().addingTimeInterval(300)
        }
        let next = [try store.nextCheckAt(), nextExport].compactMap { $0 }.min()
        await reportStatus(store: store)
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

    /// Keeps systemd's STATUS= line current: what `systemctl status` shows.
    func reportStatus(store: Store) async {
        guard let snapshot = try? await store.statusSnapshot() else { return }
        let (totals, counts) = (snapshot.totals, snapshot.jobCounts)
        let scheduled = counts.values.reduce(0) { $0 + ($1["scheduled"] ?? 0) }
        let callsDue = counts["checkin_call"]?["due"] ?? 0
        let escalated = counts["checkin_call"]?["escalated"] ?? 0
        ServiceNotifier.notify("STATUS=\(totals.counts.ingested) events applied, \(totals.counts.rejected) rejected; \(scheduled) contacts scheduled, \(callsDue) calls due, \(escalated) escalated")
    }

    func log(_ u: JobUpdate) {
        let meta: Logger.Metadata = [
            "MESSAGE_ID": "\(MessageID.forState(u.change.to))", "job": "\(u.job.id)", "ref": "\(u.job.ref)",
            "kind": "\(u.job.kind.rawValue)", "state": "\(u.change.to.rawValue)",
        ]
        let text = "job \(u.job.id) (\(u.job.kind.rawValue), \(u.job.ref)): \(u.change.from?.rawValue ?? "new") -> \(u.change.to.rawValue): \(u.change.reason)"
        switch u.change.to {
        case .expired, .escalated, .failed:
            logger.warning("\(text)", metadata: meta)
        default:
            logger.info("\(text)", metadata: meta)
        }
    }
}

extension MessageID {
    static func forState(_ s: JobState) -> String {
        switch s {
        case .due: return jobDue
        case .expired: return jobExpired
        case .escalated: return jobEscalated
        case .suppressed: return jobSuppressed
        case .cancelled: return jobCancelled
        case .done: return jobDone
        default: return jobPlanned
        }
    }
}

/// Serial queues for blocking work, one per kind, so a slow transport holds up
/// only the notices behind it. Serial queues, not the global concurrent ones:
/// on Linux the first use of a global concurrent queue starts libdispatch's
/// one-second worker-pool monitor, which would wake an idle daemon every second.
enum WorkQueue {
    static let engine = DispatchQueue(label: "touchpoint.engine")
    static let dispatch = DispatchQueue(label: "touchpoint.dispatch")
    static let control = DispatchQueue(label: "touchpoint.control")
    static let readAhead = DispatchQueue(label: "touchpoint.read-ahead")
}

/// Runs blocking work (SQLite through GRDB's synchronous API, a transport) on
/// `queue`, so it never holds one of the few Swift concurrency threads.
func offload<T: Sendable>(on queue: DispatchQueue = WorkQueue.control, _ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { cont in
        queue.async { cont.resume(with: Result { try work() }) }
    }
}
