import Foundation
import Logging
import ServiceLifecycle
import TouchpointConfig
import TouchpointDispatch
import TouchpointDomain
import TouchpointStore
import TouchpointSystemd

/// Hands due notices to the transport, one at a time, off the Swift
/// concurrency threads: a slow transport holds up only the notices behind it,
/// never the call list or the control socket.
struct DispatchService: Service {
    let store: Store
    let runtime: RuntimeState
    let engine: WakeTimer
    let logger: Logger
    let doorbell: Doorbell

    /// Something may be due for dispatch (the engine made notices due, a resume, a retry).
    final class Doorbell: Sendable {
        let stream: AsyncStream<Void>
        private let continuation: AsyncStream<Void>.Continuation
        init() { (stream, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1)) }
        func ring() { continuation.yield() }
        func close() { continuation.finish() }
    }

    func run() async throws {
        // A crash in the middle of an outbox write leaves a temporary file: the
        // message is written again (same name), so the leftover can go.
        let outbox = runtime.config.transport.outboxDir
        if let names = try? FileManager.default.contentsOfDirectory(atPath: outbox) {
            for n in names where n.hasPrefix(".") && n.hasSuffix(".json.tmp") {
                try? FileManager.default.removeItem(atPath: outbox + "/" + n)
            }
        }
        await withDiscardingTaskGroup { retries in
            for await _ in doorbell.stream.cancelOnGracefulShutdown() {
                do {
                    try await dispatchDue()
                } catch {
                    // The state could not be read or written (a full disk): the
                    // notices stay due and are tried again, the daemon stays up.
                    logger.error("could not dispatch notices (trying again in \(Self.retryAfterStoreError) s): \(error)",
                                 metadata: ["MESSAGE_ID": "\(MessageID.stateError)"])
                    retries.addTask { [doorbell] in
                        if (try? await Task.sleep(for: .seconds(Self.retryAfterStoreError))) != nil { doorbell.ring() }
                    }
                }
            }
            retries.cancelAll()
        }
    }

    static let retryAfterStoreError = 10

    private func dispatchDue() async throws {
        var handled = 0
        while true {
            if (try? store.meta("dispatch.paused")) == "1" { break }
            let config = runtime.config
            let builder = MessageBuilder(templates: runtime.templates, config: config)
            let transport: NoticeTransport = config.transport.kind == .outbox
                ? OutboxTransport(directory: config.transport.outboxDir)
                : CommandTransport(argv: config.transport.command, timeout: config.transport.timeout.seconds)
            let policy = RetryPolicy(initial: config.transport.backoffInitial.seconds, maximum: config.transport.backoffMax.seconds,
                                     maxAge: config.transport.maxAge.seconds)
            let rules = config.schedulingRules
            let store = self.store
            let due = try await offload(on: WorkQueue.dispatch) { try store.dueNotices(limit: 200) }
            if due.isEmpty { break }
            for (job, patient, booking) in due {
                if Task.isCancelled { return }
                if (try? store.meta("dispatch.paused")) == "1" { break }
                let outcome: DeliveryOutcome
                switch builder.build(job, patient: patient, booking: booking, now: Date()) {
                case .failure(let f):
                    outcome = .failed(f.reason)
                case .success(let message):
                    let result = try await offload(on: WorkQueue.dispatch) { transport.deliver(message) }
                    switch result {
                    case .sent: outcome = .sent
                    case .retry(let why): outcome = .retry(why)
                    case .failed(let why): outcome = .failed(why)
                    }
                }
                let after = try await offload(on: WorkQueue.dispatch) {
                    try store.recordDelivery(jobID: job.id, outcome: outcome, now: Date(), rules: rules, retry: policy,
                                             jitter: Double.random(in: 0...1))
                }
                handled += 1
                log(job, after, outcome)
            }
        }
        // Retries were put back in the queue: the engine's timer covers them.
        if handled > 0 { engine.poke() }
    }

    /// The transport's words without its standard error: a gateway may print
    /// the number or address it refused, and that must not reach the journal.
    /// The full text stays with the attempt (`touchpointctl job JOB`, admins).
    static func loggable(_ why: String) -> String {
        let kept = why.components(separatedBy: "; stderr: ").first ?? why
        return kept == why ? String(kept.prefix(300)) : kept + " (its standard error is kept with the job: touchpointctl job)"
    }

    private func log(_ job: Job, _ after: Job?, _ outcome: DeliveryOutcome) {
        let state = after?.state ?? job.state
        let meta: Logger.Metadata = ["MESSAGE_ID": "\(MessageID.forState(state))", "job": "\(job.id)", "ref": "\(job.ref)",
                                     "kind": "\(job.kind.rawValue)", "state": "\(state.rawValue)"]
        switch outcome {
        case .sent:
            logger.info("notice \(job.id) (\(job.ref)) handed to the transport", metadata: meta)
        case .retry(let why):
            logger.warning("notice \(job.id) (\(job.ref)) not delivered, \(state == .failed ? "giving up" : "will retry"): \(Self.loggable(why))", metadata: meta)
        case .failed(let why):
            logger.error("notice \(job.id) (\(job.ref)) failed: \(Self.loggable(why))", metadata: meta)
        }
    }
}
