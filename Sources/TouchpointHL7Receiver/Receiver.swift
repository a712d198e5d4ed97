import Foundation
import Logging
import Synchronization
import TouchpointConfig
import TouchpointControl
import TouchpointDomain
import TouchpointFeedMap
import TouchpointHL7
import TouchpointLinux

/// What the receiver does with one message: the ACK to send, or nil for a
/// transient fault (no ACK: the connection is closed and the engine sends
/// the message again). The order is what makes kill -9 safe at any point:
/// the events are appended and `fdatasync`ed, then what was acknowledged is
/// recorded, then the ACK goes. Killed before the record, the message comes
/// again and gives the same event ids (they hash its bytes), which the
/// daemon counts as duplicates.
public final class Receiver: Sendable {
    let config: HL7Config
    let mapper: FeedMapper
    let state: ReceiverState
    let queue: QueueAppender
    let lane: BlockingLane
    let logger: Logger
    let acknowledgement = HL7Acknowledgement()
    let now: @Sendable () -> Date
    /// touchpointd, for its one question (`patient-known`, the feed role).
    let daemon: TouchpointClient
    /// How long the question may take: the ACK comes within 5 seconds or not at all.
    static let questionTimeout: Duration = .seconds(2)

    public init(config: HL7Config, logger: Logger, now: @escaping @Sendable () -> Date = Date.init) throws {
        self.config = config
        daemon = TouchpointClient(AsyncControlClient(socketPath: config.controlSocket, connections: 2))
        self.logger = logger
        self.now = now
        mapper = FeedMapper(feeds: config.feeds, clock: config.clock)
        state = try ReceiverState(directory: config.stateDir)
        queue = QueueAppender(path: config.queueFile)
        lane = BlockingLane(name: "hl7-receiver")
    }

    /// The ACK for `frame`, or nil (transient: close without one).
    ///
    /// The mapping is pure and quick, so when it needs touchpointd's word on
    /// a patient the receiver has not booked itself, it stops there, the
    /// question goes over the control socket (never from the lane's thread),
    /// and the mapping runs again with the answer: at most once per patient
    /// id the message names (a merge names two).
    public func handle(_ frame: [UInt8]) async -> [UInt8]? {
        var answers: [String: Bool] = [:]
        for _ in 0..<4 {
            let said = answers
            guard let step = try? await lane.run({ self.handleBlocking(frame, daemonSaid: said) }) else { return nil }
            switch step {
            case .reply(let ack): return ack
            case .ask(let id):
                guard answers[id] == nil, let known = await askDaemon(id) else {
                    return transient("touchpointd could not be asked whether it knows a patient (patient-known)", [:])
                }
                answers[id] = known
            }
        }
        return transient("a message named more patients than the receiver asks about", [:])
    }

    /// touchpointd's `patient-known`, or nil when it cannot be asked in time.
    func askDaemon(_ patient: String) async -> Bool? {
        let daemon = self.daemon
        return await Deadline.within(Self.questionTimeout) { try? await daemon.patientKnown(patient).value().known } ?? nil
    }

    /// What one pass over a message came to.
    enum Step {
        case reply([UInt8]?)
        /// The mapping needs touchpointd's word on this patient id.
        case ask(String)
    }

    /// The ACK for bytes that were not a frame's content (garbage before a VT).
    public func garbage(_ count: Int) -> [UInt8] {
        let e = HL7Error(.segmentSequence, "\(count) bytes outside an MLLP frame (expected 0x0B, a message, 0x1C 0x0D)")
        logger.warning("not a message: \(count) bytes outside an MLLP frame", metadata: ["MESSAGE_ID": "\(MessageID.hl7Rejected)", "ack": "AR"])
        return acknowledgement.build(for: nil, code: .reject, errors: [e], controlID: newControlID(), at: now(), clock: config.clock)
    }

    /// The ACK for a frame over `max_message`, after which the connection is closed.
    public func tooLarge(_ count: Int) -> [UInt8] {
        let e = HL7Error(.applicationInternal, "a message of \(count) bytes is over max_message (\(config.maxMessage)); the connection is closed")
        logger.warning("message of \(count) bytes over max_message refused", metadata: ["MESSAGE_ID": "\(MessageID.hl7Rejected)", "ack": "AR"])
        return acknowledgement.build(for: nil, code: .reject, errors: [e], controlID: newControlID(), at: now(), clock: config.clock)
    }

    func newControlID() -> String { "TP" + String(UInt64.random(in: 0...UInt64.max), radix: 36) }

    func handleBlocking(_ frame: [UInt8], daemonSaid: [String: Bool]) -> Step {
        let asked = Mutex<String?>(nil)
        let reply = handleBlocking(frame, patientKnown: { [state] id in
            if (try? state.knows(patient: id)) == true { return true }
            if let said = daemonSaid[id] { return said }
            asked.withLock { $0 = $0 ?? id }
            return nil
        }, asking: { asked.withLock { $0 != nil } })
        if let id = asked.withLock({ $0 }), reply == nil { return .ask(id) }
        return .reply(reply)
    }

    /// `asking`: whether the mapping stopped for touchpointd's word on a
    /// patient (then its transient outcome is not logged: the question is asked).
    func handleBlocking(_ frame: [UInt8], patientKnown: @escaping @Sendable (String) -> Bool?,
                        asking: () -> Bool = { false }) -> [UInt8]? {
        let at = now()
        let message: HL7Message
        do {
            message = try HL7Message(bytes: frame)
        } catch {
            try? state.reject(feed: nil, code: "AR", location: nil, message: error.explanation, raw: frame, now: at,
                              retention: config.rejectRetention.seconds)
            logger.warning("not a message: \(error.explanation)", metadata: ["MESSAGE_ID": "\(MessageID.hl7Rejected)", "ack": "AR"])
            return acknowledgement.build(for: nil, code: .reject, errors: [HL7Error(.segmentSequence, error.explanation)],
                                         controlID: newControlID(), at: at, clock: config.clock)
        }
        let (code, trigger) = message.messageType
        let controlID = String(decoding: message.controlID, as: UTF8.self)
        var meta: Logger.Metadata = ["msh9": "\(code)^\(trigger)", "msh10": "\(TerminalSafe.text(controlID))"]
        // The same message again (sender, control id and bytes): the ACK it had, nothing written again.
        let key = [message.value(at: .msh(3)).text ?? "", message.value(at: .msh(4)).text ?? "", controlID, String(FNV1a.hash(frame), radix: 16)]
            .joined(separator: "\u{1F}")
        do {
            if let had = try state.acknowledged(key), let ackCode = AcknowledgementCode(rawValue: had) {
                meta["ack"] = "\(had)"
                logger.info("message sent again: answered as before, nothing written", metadata: meta)
                return acknowledgement.build(for: message, code: ackCode, controlID: newControlID(), at: at, clock: config.clock)
            }
        } catch {
            return transient("the receiver's state cannot be read: \(error)", meta)
        }
        let memory = FeedMemory(booking: { [state] in try? state.booking($0) }, patientKnown: patientKnown)
        let mapping = mapper.map(message, now: at, memory: memory)
        if let feed = mapping.feed { meta["feed"] = "\(feed)" }
        let summary = "message \(TerminalSafe.text(controlID)) (\(code)^\(trigger)\(mapping.feed.map { ", feed \($0)" } ?? ""))"
        switch mapping.outcome {
        case .transient(let why):
            if asking() { return nil }
            return transient("\(summary): \(why)", meta)
        case .refused(let ackCode, let error):
            meta["ack"] = "\(ackCode.rawValue)"
            meta["code"] = "\(error.code.rawValue)"
            if let l = error.location { meta["field"] = "\(l)" }
            do {
                try state.reject(feed: mapping.feed, code: ackCode.rawValue, location: error.location?.description, message: error.message,
                                 raw: frame, now: at, retention: config.rejectRetention.seconds)
                try state.record(key: key, code: ackCode.rawValue, feed: mapping.feed, outcome: "rejected", mapping: nil, now: at)
            } catch {
                return transient("the receiver's state cannot be written: \(error)", meta)
            }
            logger.warning("\(summary): \(ackCode.rawValue), \(error.message)", metadata: meta.merging(["MESSAGE_ID": "\(MessageID.hl7Rejected)"]) { $1 })
            return acknowledgement.build(for: message, code: ackCode, errors: [error], controlID: newControlID(), at: at, clock: config.clock)
        case .accepted, .ignored:
            let lines = mapping.queueLines(message: frame)
            let ids = lines.map(\.id)
            do {
                try queue.append(lines.map(\.line))
            } catch {
                return transient("\(summary): \(error)", meta)
            }
            let outcome: String
            if case .ignored = mapping.outcome { outcome = "ignored" } else { outcome = "accepted" }
            do {
                try state.record(key: key, code: AcknowledgementCode.accept.rawValue, feed: mapping.feed, outcome: outcome, mapping: mapping, now: at)
            } catch {
                // The events are safely in the queue; a resend would give the same ids (duplicates the daemon ignores).
                logger.error("the receiver's state cannot be written: \(error)", metadata: meta.merging(["MESSAGE_ID": "\(MessageID.hl7Fault)"]) { $1 })
            }
            meta["ack"] = "AA"
            meta["refs"] = "\(Set(mapping.events.compactMap(\.ref)).sorted().joined(separator: ","))"
            meta["events"] = "\(ids.joined(separator: ","))"
            var words = "\(summary): AA"
            if case .ignored(let why) = mapping.outcome { words += ", ignored: \(why)" }
            if !ids.isEmpty { words += ", refs \(meta["refs"]!), events \(ids.joined(separator: " "))" }
            logger.info("\(words)", metadata: meta)
            return acknowledgement.build(for: message, code: .accept, controlID: newControlID(), at: at, clock: config.clock)
        }
    }

    func transient(_ why: String, _ meta: Logger.Metadata) -> [UInt8]? {
        logger.error("message not acknowledged (the engine will send it again): \(why)",
                     metadata: meta.merging(["MESSAGE_ID": "\(MessageID.hl7Fault)"]) { $1 })
        return nil
    }
}

/// Control characters out of what goes to the log (a control id is the sender's bytes).
enum TerminalSafe {
    static func text(_ s: String) -> String {
        String(s.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : Character($0) }.prefix(64))
    }
}
