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

    func run() async throws {
        try await withGracefulShutdownHandler {
            // The first wake is the ingest service's poke once the queue has been
            // read to its end: jobs and exports are judged on the whole state.
            for await reason in timer.wakes {
                if reason == .clockStep {
                    logger.notice("the wall clock was stepped; looking again at what is due")
                }
                try await runDue(reason: reason)
            }
        } onGracefulShutdown: {
            timer.stop()
        }
    }

    private func runDue(reason: WakeTimer.Reason) async throws {
        let config = runtime.config
        let rules = config.schedulingRules
        let store = self.store
        let updates = try await offload {
            try store.runDue(now: Date(), rules: rules, defaultChannel: config.notices.defaultChannel)
        }
        for u in updates { log(u) }
        let export = CallListExport(store: store, logger: logger)
        var nextExport = try export.nextExport(config: config, now: Date())
        do {
            try await export.runIfDue(config: config, now: Date())
            nextExport = try export.nextExport(config: config, now: Date())
        } catch {
            // Try again in five minutes rather than spin on a directory that cannot be written.
            logger.error("could not write the call lists (trying again in 5 minutes): \(error)")
            nextExport = Date().addingTimeInterval(300)
        }
        let next = [try store.nextCheckAt(), nextExport].compactMap { $0 }.min()
        timer.arm(at: next)
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
    public static let jobDue = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b0b"
    public static let jobExpired = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b0c"
    public static let jobEscalated = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b0d"
    public static let jobSuppressed = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b0e"
    public static let jobPlanned = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b0f"
    public static let jobCancelled = "2f0b9a3c6d1e4b7f8a5c0d2e4f6a8b10"

    static func forState(_ s: JobState) -> String {
        switch s {
        case .due: return jobDue
        case .expired: return jobExpired
        case .escalated: return jobEscalated
        case .suppressed: return jobSuppressed
        case .cancelled: return jobCancelled
        default: return jobPlanned
        }
    }
}

/// Runs blocking work (SQLite through GRDB's synchronous API) on a dispatch
/// queue, so it never holds one of the few Swift concurrency threads.
func offload<T: Sendable>(_ work: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { cont in
        DispatchQueue.global().async { cont.resume(with: Result { try work() }) }
    }
}
