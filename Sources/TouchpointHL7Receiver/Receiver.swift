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
///
/// Messages that arrive together on several connections share one commit
/// (`GroupCommit`): their events in one append and one `fdatasync`, what
/// they came to in one SQLite transaction.
public final class Receiver: Sendable {
    let config: HL7Config
    let mapper: FeedMapper
    let state: ReceiverState
    let queue: QueueAppender
    let logger: Logger
    let acknowledgement = HL7Acknowledgement()
    let now: @Sendable () -> Date
    /// touchpointd, for its one question (`patient-known`, the feed role).
    let daemon: TouchpointClient
    /// How long the question may take: the ACK comes within 5 seconds or not at all.
    static let questionTimeout: Duration = .seconds(2)
    /// The commits, on the receiver's one lane thread (SQLite and the queue file block).
    let commits: GroupCommit<Submission, Step>

    public init(config: HL7Config, logger: Logger, now: @escaping @Sendable () -> Date = Date.init) throws {
        self.config = config
        daemon = TouchpointClient(AsyncControlClient(socketPath: config.controlSocket, connections: 2))
        self.logger = logger
        self.now = now
        mapper = FeedMapper(feeds: config.feeds, clock: config.clock)
        state = try ReceiverState(directory: config.stateDir)
        queue = QueueAppender(path: config.queueFile)
        commits = GroupCommit(lane: BlockingLane(name: "hl7-receiver"))
    }

    /// A message and what touchpointd has already said about its patients.
    struct Submission: Sendable {
        var frame: [UInt8]
        var daemonSaid: [String: Bool]
    }

    /// What one pass over a message came to.
    enum Step: Sendable {
        case reply([UInt8]?)
        /// The mapping needs touchpointd's word on this patient id.
        case ask(String)
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
            switch await commits.submit(Submission(frame: frame, daemonSaid: answers), commit: { [self] in commit($0) }) {
            case .reply(let ack): return ack
            case .ask(let id):
                guard answers[id] == nil, let known = await askDaemon(id) else {
                    return transient("touchpointd could not be asked whether it knows a patient (patient-known)", Self.meta(frame))
                }
                answers[id] = known
            }
        }
        return transient("a message named more patients than the receiver asks about", Self.meta(frame))
    }

    /// A message's type and control id, what every log line about it carries (never patient data).
    static func meta(_ m: HL7Message) -> Logger.Metadata {
        let (code, trigger) = m.messageType
        return ["msh9": "\(code)^\(trigger)", "msh10": "\(TerminalSafe.text(String(decoding: m.controlID, as: UTF8.self)))"]
    }

    /// The same for a frame, where no parsed message is to hand.
    static func meta(_ frame: [UInt8]) -> Logger.Metadata {
        (try? HL7Message(bytes: frame)).map(meta) ?? [:]
    }

    /// The ACK a message sent again gets: the code it had, nothing written again.
    func answeredAsBefore(_ message: HL7Message, _ code: AcknowledgementCode, _ meta: Logger.Metadata, at: Date) -> [UInt8] {
        logger.info("message sent again: answered as before, nothing written", metadata: meta.merging(["ack": "\(code.rawValue)"]) { $1 })
        return ack(message, code, at: at)
    }

    /// touchpointd's `patient-known`, or nil when it cannot be asked in time.
    func askDaemon(_ patient: String) async -> Bool? {
        let daemon = self.daemon
        return await Deadline.within(Self.questionTimeout) { try? await daemon.patientKnown(patient).value().known } ?? nil
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

    /// The ACK for `message` with `code` in the mode its feed and MSH-15 ask for.
    func ack(_ message: HL7Message?, _ code: AcknowledgementCode, _ errors: [HL7Error] = [], at: Date) -> [UInt8] {
        acknowledgement.build(for: message, code: message.map { mapper.acknowledgementCode(code, for: $0) } ?? code, errors: errors,
                              controlID: newControlID(), at: at, clock: config.clock)
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
