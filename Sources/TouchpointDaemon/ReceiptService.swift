import Foundation
import Logging
import ServiceLifecycle
import Synchronization
import TouchpointCore
import TouchpointDispatch
import TouchpointDomain
import TouchpointLinux
import TouchpointSystemd

/// Follows the delivery of the notices Notify accepted (`dispatch.md`,
/// "Delivery receipts"): while any receipt is awaited, each such notice is
/// asked after once every `receipt_poll`, until its status is final or
/// `receipt_max_age` has passed. With none awaited it waits on its doorbell
/// and the daemon does not wake.
struct ReceiptService: Service {
    let engine: Engine
    let notify: NotifyClients
    /// Rung by dispatch when a notice is accepted.
    let doorbell: Doorbell
    let logger: Logger
    /// Notices asked after in one round, the longest waiting first.
    static let perRound = 1000
    /// The unknown status words already logged, per notice (once each).
    let unrecognised = SeenOnce()

    func run() async throws {
        doorbell.ring()  // receipts awaited from before a restart
        try await cancelWhenGracefulShutdown {
            for await _ in doorbell.stream {
                do {
                    while try await pollRound() {}
                } catch is CancellationError {
                    return
                } catch {
                    logger.error("could not follow delivery receipts (trying again at the next notice): \(error)",
                                 metadata: ["MESSAGE_ID": "\(MessageID.stateError)"])
                }
            }
        }
    }

    /// Waits `receipt_poll`, then asks after every awaited notice once.
    /// False when none is awaited (or the transport gives no receipts).
    private func pollRound() async throws -> Bool {
        let config = engine.config.transport
        guard config.kind == .notify, !(try await engine.awaitingReceipts(limit: 1)).isEmpty else { return false }
        try await Pause.sleep(for: config.notify.receiptPoll)
        let settings = engine.config.transport.notify
        let client = await notify.client(for: settings)
        for job in try await engine.awaitingReceipts(limit: Self.perRound) {
            try Task.checkCancellation()
            guard let id = job.notificationID else { continue }
            if let at = job.deliveryAt, Date().timeIntervalSince(at) > settings.receiptMaxAge.seconds {
                _ = try await engine.recordReceipt(.unknown, jobID: job.id)
                continue
            }
            switch await client.receipt(for: id) {
            case .status(let status, let word):
                if status != .sending { _ = try await engine.recordReceipt(status, jobID: job.id, detail: "Notify: \(word)") }
            case .unavailable(let why):
                logger.debug("no receipt for \(job.id) this round: \(why)")
            case .unrecognised(let word):
                // Kept in the journal once per notice and word; the notice is asked after again.
                if unrecognised.first("\(job.id) \(word)") {
                    logger.warning("notice \(job.id) (\(job.ref)): Notify gave the status \"\(word)\", which touchpoint does not know; still asking until receipt_max_age",
                                   metadata: ["MESSAGE_ID": "\(MessageID.stateError)", "job": "\(job.id)", "delivery_word": "\(word)"])
                }
            case .refused(let why):
                logger.warning("Notify refused the receipt request (\(why)); trying again next round")
                return true
            }
        }
        return true
    }
}

/// What has been seen, so that it is logged once.
final class SeenOnce: Sendable {
    private let seen = Mutex<Set<String>>([])

    /// True the first time `key` is given.
    func first(_ key: String) -> Bool { seen.withLock { $0.insert(key).inserted } }
}
