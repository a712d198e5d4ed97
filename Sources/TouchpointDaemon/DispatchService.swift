import Foundation
import Logging
import ServiceLifecycle
import TouchpointCore
import TouchpointDispatch
import TouchpointDomain
import TouchpointLinux
import TouchpointSystemd

/// Hands due notices to the transport, one at a time, on a lane of its own:
/// a slow transport holds up only the notices behind it, never the call list
/// or the control socket.
struct DispatchService: Service {
    let engine: Engine
    let engineTimer: WakeTimer
    let logger: Logger
    let doorbell: Doorbell
    /// The Notify client in force, shared with the receipt poller.
    let notify: NotifyClients
    /// Rung when a notice is accepted by a transport that gives receipts.
    let receipts: Doorbell
    let lane = BlockingLane(name: "dispatch")

    /// While the transport refuses everything (Notify's 403): since which
    /// config, how many tries, and when to try again. A reload tries at once.
    struct Hold {
        var generation: UInt64
        var tries: Int
        var until: ContinuousClock.Instant
    }

    func run() async throws {
        let transport = engine.config.transport
        _ = try? await lane.run { Transports.clearLeftovers(transport) }
        var hold: Hold?
        await withDiscardingTaskGroup { retries in
            for await _ in doorbell.stream.cancelOnGracefulShutdown() {
                if let h = hold, h.generation == engine.configGeneration, ContinuousClock.now < h.until { continue }
                do {
                    if let why = try await dispatchDue() {
                        let tries = (hold?.tries ?? 0) + 1
                        let t = engine.config.transport
                        let wait = Backoff(initial: t.backoffInitial.seconds, maximum: t.backoffMax.seconds).delay(afterFailures: tries)
                        hold = Hold(generation: engine.configGeneration, tries: tries, until: .now + .seconds(wait))
                        engine.setTransportHold("\(DispatchService.loggable(why)) (trying again in \(Int(wait)) s, or at a reload)")
                        retries.addTask { [doorbell] in
                            if (try? await Pause.sleep(for: .seconds(wait))) != nil { doorbell.ring() }
                        }
                    } else if hold != nil {
                        hold = nil
                        engine.setTransportHold(nil)
                    }
                } catch is CancellationError {
                    break
                } catch {
                    // The state could not be read or written (a full disk): the
                    // notices stay due and are tried again, the daemon stays up.
                    let wait = Backoff.dispatch.delay(afterFailures: 1)
                    logger.error("could not dispatch notices (trying again in \(Int(wait)) s): \(error)",
                                 metadata: ["MESSAGE_ID": "\(MessageID.stateError)"])
                    retries.addTask { [doorbell] in
                        if (try? await Pause.sleep(for: .seconds(wait))) != nil { doorbell.ring() }
                    }
                }
            }
            retries.cancelAll()
        }
        await notify.shutdown()
        lane.shutdown()
    }

    /// Sends what is due; returns why the transport takes nothing, if it
    /// refused everything (the notice it refused stays due, unattempted).
    private func dispatchDue() async throws -> String? {
        var handled = 0
        defer { if handled > 0 { engineTimer.poke() } }  // retries went back in the queue: the engine's timer covers them
        while !engine.isDispatchPaused {
            let due = try await engine.dueNotices(limit: 200)
            if due.isEmpty { break }
            for notice in due {
                try Task.checkCancellation()
                if engine.isDispatchPaused { return nil }
                let result = try await deliver(notice)
                if case .held(let why) = result { return why }
                let after = try await engine.recordDelivery(result, jobID: notice.job.id)
                handled += 1
                log(notice.job, after, result)
                if case .accepted = result { receipts.ring() }
            }
        }
        return nil
    }

    /// Builds the message and hands it to the transport in force; a transport
    /// that may take it without answering gets it marked first.
    private func deliver(_ notice: DueNotice) async throws -> DeliveryResult {
        let (config, templates) = (engine.config, engine.templates)
        switch MessageBuilder(templates: templates, config: config).build(notice.job, patient: notice.patient, booking: notice.booking, now: Date()) {
        case .failure(let f):
            return .failed(f.reason)
        case .success(let message):
            let transport = await Transports.make(config.transport, lane: lane, notify: notify)
            // An attempt whose answer was lost longer ago than Notify keeps
            // notifications cannot be looked up (NotifyRetention).
            if config.transport.kind == .notify,
               let why = NotifyRetention.tooLateToAsk(uncertain: notice.job.sendUncertain, lastAttempt: notice.job.lastAttemptAt, now: Date(),
                                                      retention: config.transport.notify.retention.seconds) {
                return .failed(why)
            }
            if transport.mayTakeWithoutAnswer && !notice.job.sendUncertain {
                try await engine.markSendUncertain(jobID: notice.job.id)
            }
            return await transport.deliver(message, uncertain: notice.job.sendUncertain)
        }
    }

    /// The transport's words without its standard error: a gateway may print
    /// the number or address it refused, and that must not reach the journal.
    /// The full text stays with the attempt (`touchpointctl job JOB`, admins).
    static func loggable(_ why: String) -> String {
        let kept = why.components(separatedBy: "; stderr: ").first ?? why
        return kept == why ? String(kept.prefix(300)) : kept + " (its standard error is kept with the job: touchpointctl job)"
    }

    private func log(_ job: Job, _ after: Job?, _ result: DeliveryResult) {
        let state = after?.state ?? job.state
        let meta: Logger.Metadata = ["MESSAGE_ID": "\(MessageID.forState(state))", "job": "\(job.id)", "ref": "\(job.ref)",
                                     "kind": "\(job.kind.rawValue)", "state": "\(state.rawValue)"]
        switch result {
        case .sent:
            logger.info("notice \(job.id) (\(job.ref)) handed to the transport", metadata: meta)
        case .accepted(let id):
            logger.info("notice \(job.id) (\(job.ref)) accepted by Notify as \(id)", metadata: meta)
        case .held:
            break
        case .retry(let why):
            logger.warning("notice \(job.id) (\(job.ref)) not delivered, \(state == .failed ? "giving up" : "will retry"): \(Self.loggable(why))", metadata: meta)
        case .failed(let why):
            logger.error("notice \(job.id) (\(job.ref)) failed: \(Self.loggable(why))", metadata: meta)
        case .undeliverable(let why):
            let next = state == .due ? "sent once by the other channel instead" : "failed, no other channel"
            logger.warning("notice \(job.id) (\(job.ref)): the transport will not send to this address, \(next): \(Self.loggable(why))", metadata: meta)
        }
    }
}
