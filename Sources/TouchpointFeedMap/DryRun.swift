import Foundation
import TouchpointDomain
import TouchpointHL7

/// `touchpoint-hl7 map`: messages through a feed's config, each answered
/// with the ACK and the queue lines the receiver would give, nothing
/// written. An integration team runs it on a day's messages before going
/// live. Messages are taken in order and remembered as the receiver would
/// remember them (a booking, then its reschedule); whether touchpoint
/// knows a patient is answered from the bookings of this run only, as the
/// daemon is not asked.
public struct DryRun {
    public struct Result: Sendable {
        public var message: HL7Message?
        public var mapping: Mapping?
        public var ack: [UInt8]
        public var lines: [[UInt8]]
        /// What was wrong with bytes that are not a message.
        public var problem: String?
    }

    let mapper: FeedMapper
    let acknowledgement: HL7Acknowledgement
    var bookings: [String: WrittenBooking] = [:]
    var patients: Set<String> = []
    var count = 0

    public init(feeds: [Feed], clock: HospitalClock) {
        mapper = FeedMapper(feeds: feeds, clock: clock)
        acknowledgement = HL7Acknowledgement()
    }

    /// The messages of a file's bytes: MLLP frames when it starts with one
    /// (after blank lines), else the file as one message. A file that merely
    /// holds a VT somewhere (corpus/54 has a stray one inside a field) is a
    /// message; read as frames it came to none, and `map` printed nothing for it.
    public static func messages(in bytes: [UInt8]) -> [[UInt8]] {
        guard bytes.first(where: { $0 != 0x0A && $0 != 0x0D && $0 != 0x20 && $0 != 0x09 }) == MLLPFrameDecoder.start else { return [bytes] }
        var d = MLLPFrameDecoder(maximumLength: 64 << 20)
        return d.feed(bytes).compactMap { if case .frame(let f) = $0 { return f } else { return nil } }
    }

    public mutating func run(_ bytes: [UInt8], now: Date) -> Result {
        count += 1
        let controlID = "DRYRUN-\(count)"
        let message: HL7Message
        do {
            message = try HL7Message(bytes: bytes)
        } catch {
            let why = error.explanation
            let ack = acknowledgement.build(for: nil, code: .reject, errors: [HL7Error(.segmentSequence, why)],
                                            controlID: controlID, at: now, clock: mapper.clock)
            return Result(message: nil, mapping: nil, ack: ack, lines: [], problem: why)
        }
        let (known, written) = (patients, bookings)
        let memory = FeedMemory(booking: { written[$0] }, patientKnown: { known.contains($0) })
        let mapping = mapper.map(message, now: now, memory: memory)
        let (code, errors): (AcknowledgementCode, [HL7Error])
        switch mapping.outcome {
        case .accepted, .ignored: (code, errors) = (.accept, [])
        case .refused(let c, let e): (code, errors) = (c, [e])
        case .transient(let why): (code, errors) = (.reject, [HL7Error(.applicationInternal, why)])
        }
        var lines: [[UInt8]] = []
        if code == .accept, mapping.feed != nil {
            lines = mapping.queueLines(message: bytes).map(\.line)
            for (ref, b) in mapping.written { bookings[ref] = b }
            patients.formUnion(mapping.booked)
        }
        let ack = acknowledgement.build(for: message, code: mapper.acknowledgementCode(code, for: message), errors: errors,
                                        controlID: controlID, at: now, clock: mapper.clock)
        return Result(message: message, mapping: mapping, ack: ack, lines: lines, problem: nil)
    }
}
