import Foundation
import Logging
import TouchpointConfig
import TouchpointDispatch
import TouchpointDomain
import TouchpointStore

/// The daemon's side of the core: reading the queue, the engine's due work
/// and next wake, dispatch's notices and their deliveries, Notify's
/// receipts, the daily export's bookkeeping. None of it takes a person:
/// it is the service doing its own work, so no front end may hold one. The
/// daemon gets it, with the core, from `Touchpoint.open`; the control
/// socket's harness gets the core alone, whose every operation takes the
/// acting person (before, these sat on the same public type beside a public
/// store that the ingest service reached through).
public struct Engine: Sendable {
    let core: Touchpoint

    public var config: TouchpointConfig { core.config }
    public var templates: NoticeTemplates { core.templates }
    /// Bumped by each reload: anything derived from the config may be stale.
    public var configGeneration: UInt64 { core.configGeneration }

    public func readQueue() async -> Result<(IngestCounts, QueuePosition), StoreError> { await core.readQueue() }
    /// Stops reading the queue (at shutdown).
    public func stop() { core.stop() }
    /// Gives back the memory a long catch-up left in the store's caches.
    public func releaseMemory() async { await core.store.releaseMemory() }

    public func runDueJobs() async throws { try await core.runDueJobs() }
    public func nextWake(now: Date) async throws -> Date? { try await core.nextWake(now: now) }
    /// Logs feeds falling silent or heard again; when to look again.
    public func watchFeeds() async throws -> Date? { try await core.watchFeeds() }
    /// Logs escalations untaken too long; when to look again.
    public func watchEscalations() async throws -> Date? { try await core.watchEscalations() }
    public func exportDue(now: Date) async throws -> LocalDate? { try await core.exportDue(now: now) }
    public func exported(_ day: LocalDate) async throws { try await core.exported(day) }

    public var isDispatchPaused: Bool { core.isDispatchPaused }
    public func dueNotices(limit: Int) async throws -> [DueNotice] { try await core.dueNotices(limit: limit) }
    public func recordDelivery(_ result: DeliveryResult, jobID: String) async throws -> Job? {
        try await core.recordDelivery(result, jobID: jobID)
    }
    public func markSendUncertain(jobID: String) async throws { try await core.markSendUncertain(jobID: jobID) }
    public func setTransportHold(_ why: String?) { core.setTransportHold(why) }

    public func awaitingReceipts(limit: Int) async throws -> [Job] { try await core.awaitingReceipts(limit: limit) }
    public func recordReceipt(_ status: DeliveryStatus, jobID: String, detail: String? = nil) async throws -> Job? {
        try await core.recordReceipt(status, jobID: jobID, detail: detail)
    }

    public func readyLine() async -> String { await core.readyLine() }
    public func statusLine() async -> String { await core.statusLine() }
}

extension Touchpoint {
    /// The core over an opened store, with the config and templates already
    /// checked at start, and the engine that only the daemon holds. `now`
    /// is the clock every rule of the core reads (tests inject one).
    public static func open(store: Store, config: TouchpointConfig, templates: NoticeTemplates, logger: Logger,
                            now: @escaping @Sendable () -> Date = { Date() },
                            wakeEngine: @escaping @Sendable () -> Void) async throws -> (Touchpoint, Engine) {
        let core = try await Touchpoint(store: store, config: config, templates: templates, logger: logger, now: now, wakeEngine: wakeEngine)
        return (core, Engine(core: core))
    }
}
