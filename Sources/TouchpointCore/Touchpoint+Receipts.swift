import Foundation
import Logging
import TouchpointDomain
import TouchpointStore

/// The engine's side of transports that give receipts (GOV.UK Notify): a
/// notice marked before it goes, so that after a crash or a lost answer the
/// transport is asked whether it already has it; the receipts as they come;
/// a transport held while nothing can be sent.
extension Touchpoint {
    /// Made durable before the notice is handed over.
    func markSendUncertain(jobID: String) async throws {
        try await store.write { try $0.markSendUncertain(jobID: jobID) }
    }

    /// Notices accepted whose final receipt has not come, the longest waiting first.
    func awaitingReceipts(limit: Int) async throws -> [Job] {
        try await store.read { try $0.awaitingReceipts(limit: limit) }
    }

    /// Keeps the latest word on a notice's delivery (nil: nothing changed).
    func recordReceipt(_ status: DeliveryStatus, jobID: String, detail: String? = nil) async throws -> Job? {
        let rules = live.config.schedulingRules
        let defaultChannel = live.config.notices.defaultChannel
        let u: JobUpdate? = try await store.write { w in
            let now = self.now()
            guard let job = try w.job(id: jobID) else { return nil }
            let fallback = status.isFailure ? JobStateMachine.fallback(for: job, patient: try w.patient(id: job.patientID), defaultChannel: defaultChannel) : nil
            guard let u = JobStateMachine(rules: rules, now: now).receipt(status, on: job, detail: detail, fallback: fallback) else {
                return nil
            }
            try w.save(u, rules: rules, now: now)
            return u
        }
        guard let u else { return nil }
        if u.job.state == .due { wakeEngine() }
        let meta: Logger.Metadata = ["MESSAGE_ID": "\(status.isFailure ? MessageID.forState(.failed) : MessageID.forState(.done))",
                                     "job": "\(u.job.id)", "ref": "\(u.job.ref)", "kind": "\(u.job.kind.rawValue)",
                                     "delivery": "\(status.rawValue)"]
        if status.isFailure || status == .unknown {
            logger.warning("notice \(u.job.id) (\(u.job.ref)): \(u.change.reason)", metadata: meta)
        } else {
            logger.info("notice \(u.job.id) (\(u.job.ref)): \(u.change.reason)", metadata: meta)
        }
        return u.job
    }

    /// Why nothing can be sent now (a key the transport refuses), shown in
    /// `status`; nil when dispatch is not held.
    public var transportHold: String? { hold.withLock { $0 } }

    /// Dispatch says the transport refuses everything (or has stopped doing so).
    func setTransportHold(_ why: String?) {
        let was = hold.withLock { h in
            defer { h = why }
            return h
        }
        guard was != why else { return }
        if let why {
            logger.error("dispatch held: \(why)", metadata: ["MESSAGE_ID": "\(MessageID.stateError)"])
        } else if was != nil {
            logger.notice("dispatch no longer held: the transport takes notices again")
        }
    }
}
