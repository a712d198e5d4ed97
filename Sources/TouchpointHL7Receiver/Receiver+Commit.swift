import Foundation
import Logging
import Synchronization
import TouchpointDomain
import TouchpointFeedMap
import TouchpointHL7

/// One commit of the messages that arrived together (`GroupCommit`), on the
/// lane's thread: each message read and mapped in arrival order, their
/// events appended in one write and one `fdatasync`, what they came to in
/// one SQLite transaction, then each its ACK.
///
/// All or nothing for the queue file: if the append fails, no message in
/// the batch is acknowledged (a later message may have been mapped on what
/// an earlier one wrote), and each comes again from its engine.
extension Receiver {
    /// What the batch's messages know of each other before anything is
    /// committed: a message mapped after another in the same batch sees the
    /// booking that one wrote and the patient it booked, as it would had
    /// they been committed one by one.
    struct BatchMemory {
        /// A message's key (sender, control id, bytes) and its place in the batch.
        var keys: [String: Int] = [:]
        var written: [String: WrittenBooking] = [:]
        var booked: Set<String> = []
    }

    /// A message read and mapped, to be committed with its batch.
    struct Prepared {
        var message: HL7Message?
        var entry: ReceiverState.Entry
        var lines: [(id: String, line: [UInt8])] = []
        /// AE or AR with its error; nil for AA.
        var refusal: (code: AcknowledgementCode, error: HL7Error)?
        var meta: Logger.Metadata
        var summary: String
    }

    enum Plan {
        /// Nothing to commit: the ACK it had before, a transient fault, or a question for touchpointd.
        case answered(Step)
        case commit(Prepared)
        /// The same message as an earlier one in this batch (sent again on
        /// another connection while the first was in hand): its answer.
        case sameAs(Int, HL7Message, Logger.Metadata)
    }

    func commit(_ batch: [Submission]) -> [Step] {
        var memory = BatchMemory()
        var plans: [Plan] = []
        for (i, s) in batch.enumerated() { plans.append(plan(s, index: i, memory: &memory)) }
        let prepared = plans.compactMap { plan -> Prepared? in if case .commit(let p) = plan { p } else { nil } }
        var appendFault: String?
        do {
            try queue.append(prepared.flatMap { $0.lines.map(\.line) })
        } catch {
            appendFault = error.description
        }
        var stateFault: String?
        if appendFault == nil {
            do {
                try state.commit(prepared.map(\.entry), retention: config.rejectRetention.seconds)
            } catch {
                stateFault = "\(error)"
            }
        }
        var codes: [AcknowledgementCode?] = []
        var steps: [Step] = []
        for plan in plans {
            switch plan {
            case .answered(let step):
                codes.append(nil)
                steps.append(step)
            case .commit(let p):
                let (step, code) = finish(p, appendFault: appendFault, stateFault: stateFault)
                codes.append(code)
                steps.append(step)
            case .sameAs(let first, let message, let meta):
                codes.append(codes[first])
                guard let code = codes[first] else {
                    steps.append(.reply(transient("the same message, in hand on another connection, was not acknowledged", meta)))
                    continue
                }
                steps.append(.reply(answeredAsBefore(message, code, meta, at: now())))
            }
        }
        return steps
    }

    /// Reads and maps one message of a batch; nothing is written yet.
    func plan(_ s: Submission, index: Int, memory: inout BatchMemory) -> Plan {
        let at = now()
        let message: HL7Message
        do {
            message = try HL7Message(bytes: s.frame)
        } catch {
            let why = error.explanation
            let entry = ReceiverState.Entry(key: nil, code: AcknowledgementCode.reject.rawValue, feed: nil, outcome: "rejected", mapping: nil,
                                            refused: .init(location: nil, message: why, raw: s.frame), at: at)
            return .commit(Prepared(message: nil, entry: entry, refusal: (.reject, HL7Error(.segmentSequence, why)), meta: [:], summary: "not a message"))
        }
        let (code, trigger) = message.messageType
        let controlID = String(decoding: message.controlID, as: UTF8.self)
        var meta = Self.meta(message)
        // The same message again (sender, control id and bytes): the ACK it had, nothing written again.
        let key = [message.value(at: .msh(3)).text ?? "", message.value(at: .msh(4)).text ?? "", controlID, String(FNV1a.hash(s.frame), radix: 16)]
            .joined(separator: "\u{1F}")
        if let first = memory.keys[key] { return .sameAs(first, message, meta) }
        do {
            if let had = try state.acknowledged(key), let ackCode = AcknowledgementCode(rawValue: had) {
                return .answered(.reply(answeredAsBefore(message, ackCode, meta, at: at)))
            }
        } catch {
            return .answered(.reply(transient("the receiver's state cannot be read: \(error)", meta)))
        }
        let asked = FirstQuestion()
        let mapping = mapper.map(message, now: at, memory: feedMemory(memory, daemonSaid: s.daemonSaid, asked: asked))
        if let feed = mapping.feed { meta["feed"] = "\(feed)" }
        let summary = "message \(TerminalSafe.text(controlID)) (\(code)^\(trigger)\(mapping.feed.map { ", feed \($0)" } ?? ""))"
        switch mapping.outcome {
        case .transient(let why):
            if let id = asked.patient { return .answered(.ask(id)) }
            return .answered(.reply(transient("\(summary): \(why)", meta)))
        case .refused(let ackCode, let error):
            memory.keys[key] = index
            let entry = ReceiverState.Entry(key: key, code: ackCode.rawValue, feed: mapping.feed, outcome: "rejected", mapping: nil,
                                            refused: .init(location: error.location?.description, message: error.message, raw: s.frame), at: at)
            return .commit(Prepared(message: message, entry: entry, refusal: (ackCode, error), meta: meta, summary: summary))
        case .accepted, .ignored:
            memory.keys[key] = index
            for (ref, b) in mapping.written { memory.written[ref] = b }
            memory.booked.formUnion(mapping.booked)
            let outcome: String
            if case .ignored = mapping.outcome { outcome = "ignored" } else { outcome = "accepted" }
            let entry = ReceiverState.Entry(key: key, code: AcknowledgementCode.accept.rawValue, feed: mapping.feed, outcome: outcome,
                                            mapping: mapping, refused: nil, at: at)
            return .commit(Prepared(message: message, entry: entry, lines: mapping.queueLines(message: s.frame), meta: meta, summary: summary))
        }
    }

    /// What the mapping may look up: the batch's own writes first, then the
    /// receiver's state, then what touchpointd said; a patient none of them
    /// knows is noted in `asked` (the question goes after the commit).
    func feedMemory(_ batch: BatchMemory, daemonSaid: [String: Bool], asked: FirstQuestion) -> FeedMemory {
        FeedMemory(booking: { [state] ref in batch.written[ref] ?? (try? state.booking(ref)) ?? nil }, patientKnown: { [state] id in
            if batch.booked.contains(id) || (try? state.knows(patient: id)) == true { return true }
            if let said = daemonSaid[id] { return said }
            asked.note(id)
            return nil
        })
    }

    /// A committed message's ACK and log line, or a transient fault if its batch could not be written.
    func finish(_ p: Prepared, appendFault: String?, stateFault: String?) -> (Step, AcknowledgementCode?) {
        if let fault = appendFault { return (.reply(transient("\(p.summary): \(fault)", p.meta)), nil) }
        var meta = p.meta
        if let refusal = p.refusal {
            let (code, error) = refusal
            if let fault = stateFault { return (.reply(transient("the receiver's state cannot be written: \(fault)", meta)), nil) }
            meta["ack"] = "\(code.rawValue)"
            meta["code"] = "\(error.code.rawValue)"
            if let l = error.location { meta["field"] = "\(l)" }
            let words = p.message == nil ? "not a message: \(error.message)" : "\(p.summary): \(code.rawValue), \(error.message)"
            logger.warning("\(words)", metadata: meta.merging(["MESSAGE_ID": "\(MessageID.hl7Rejected)"]) { $1 })
            return (.reply(ack(p.message, code, [error], at: p.entry.at)), code)
        }
        if let fault = stateFault {
            // The events are safely in the queue; a resend would give the same ids (duplicates the daemon ignores).
            logger.error("the receiver's state cannot be written: \(fault)", metadata: meta.merging(["MESSAGE_ID": "\(MessageID.hl7Fault)"]) { $1 })
        }
        let ids = p.lines.map(\.id)
        let refs = Set(p.entry.mapping?.events.compactMap(\.ref) ?? []).sorted().joined(separator: ",")
        meta["ack"] = "AA"
        meta["refs"] = "\(refs)"
        meta["events"] = "\(ids.joined(separator: ","))"
        var words = "\(p.summary): AA"
        if case .ignored(let why) = p.entry.mapping?.outcome { words += ", ignored: \(why)" }
        if !ids.isEmpty { words += ", refs \(refs), events \(ids.joined(separator: " "))" }
        logger.info("\(words)", metadata: meta)
        return (.reply(ack(p.message, .accept, at: p.entry.at)), .accept)
    }
}

/// The first patient a mapping needed touchpointd's word on (the question
/// is asked after the commit, off the lane).
final class FirstQuestion: Sendable {
    private let first = Mutex<String?>(nil)

    func note(_ id: String) { first.withLock { $0 = $0 ?? id } }

    var patient: String? { first.withLock { $0 } }
}
