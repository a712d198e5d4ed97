import Foundation
import NIOCore

/// The control socket's wire protocol.
///
/// Each message is one frame: a 4-byte big-endian length, then that many
/// bytes of UTF-8 JSON. Length prefixes (rather than newlines) let either side
/// refuse an oversized frame before buffering it.
public enum ControlProtocol {
    /// Bumped on any incompatible change; a peer of another version gets an error naming both.
    public static let version = 1
    /// The largest frame accepted (payload bytes).
    public static let maximumFrameLength = 1 << 20
}

/// One unit read off a control connection: a frame's payload, or the news
/// that the peer sent one too large to accept (its bytes are then skipped,
/// never buffered).
public enum ControlFrame: Sendable, Equatable {
    case payload(ByteBuffer)
    case tooLarge(Int)
}

/// Splits a control connection's bytes into frames. The one decoder of the
/// protocol: the daemon runs it in its channel pipeline, the client through
/// `NIOSingleStepByteToMessageProcessor` on the bytes it reads, and the fuzz
/// target on arbitrary input.
public struct ControlFrameDecoder: NIOSingleStepByteToMessageDecoder {
    public typealias InboundOut = ControlFrame
    private var refused = false

    public init() {}

    public mutating func decode(buffer: inout ByteBuffer) throws -> ControlFrame? {
        if refused {
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return nil
        }
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return nil }
        if Int(length) > ControlProtocol.maximumFrameLength {
            // Everything after an oversized length is that frame's: skip it all.
            refused = true
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return .tooLarge(Int(length))
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return nil }
        buffer.moveReaderIndex(forwardBy: 4)
        return .payload(buffer.readSlice(length: Int(length))!)
    }

    public mutating func decodeLast(buffer: inout ByteBuffer, seenEOF: Bool) throws -> ControlFrame? {
        try decode(buffer: &buffer)
    }
}

extension ByteBuffer {
    /// Writes `payload` as one frame: its length, then its bytes.
    public mutating func writeControlFrame(_ payload: some Collection<UInt8>) {
        writeInteger(UInt32(payload.count))
        writeBytes(payload)
    }
}

extension ByteBufferAllocator {
    /// `payload` as one frame, copied once into a buffer of its own.
    public func controlFrame(_ payload: some Collection<UInt8>) -> ByteBuffer {
        var b = buffer(capacity: 4 + payload.count)
        b.writeControlFrame(payload)
        return b
    }
}

/// A request to the daemon: a command and its arguments.
public struct ControlRequest: Codable, Equatable, Sendable {
    public var v: Int
    public var command: String
    public var args: Arguments
    /// The person a delegate (the web view) asks on behalf of (`web.md`):
    /// accepted only from a member of `control.delegate_group`, only for
    /// staff commands.
    public var `as`: String?
    /// With `as`: the wards that person's account is limited to (absent: every ward).
    public var asWards: [String]?

    /// Every command's arguments, all optional; each command reads the ones it takes.
    public struct Arguments: Codable, Equatable, Sendable {
        public var limit: Int?
        public var showLine: Bool?
        /// A job id (`job`) or a booking ref (`explain`, `jobs --ref`).
        public var job: String?
        public var ref: String?
        public var kind: String?
        public var state: String?
        public var patient: String?
        public var dueFrom: Date?
        public var dueTo: Date?
        /// `calls`: `YYYY-MM-DD`, `today`, `tomorrow` or `yesterday` (in the hospital's zone).
        public var date: String?
        public var ward: String?
        public var escalated: Bool?
        /// `calls`: the day's calls of wards none of `calls.wards` names.
        public var unassigned: Bool?
        /// `outcome`: an outcome's raw value (`no_answer`).
        public var outcome: String?
        public var woundCare: Bool?
        public var note: String?
        /// `report`: `YYYY-MM`, or `from` and `to` (`YYYY-MM-DD`); `list`: `PROMISE.MEASURE`.
        public var month: String?
        /// `report` with no period: `recent` asks for a manager's default (this
        /// month to date once it has 7 days, else the last complete month).
        public var period: String?
        public var from: String?
        public var to: String?
        public var list: String?
        /// `outcome`: how many outcomes the call had when the person chose
        /// theirs; if another nurse recorded one since, nothing is recorded.
        public var seenOutcomes: Int?
        /// `jobs`: a delivery status, or `failed` for every failure.
        public var delivery: String?
        /// `outcome`: the patient raised a concern (with `reached`; the note says what).
        public var concern: Bool?
        /// `reopen`, `undeceased`: why (in the audit and the job's history).
        public var reason: String?

        public init(limit: Int? = nil, showLine: Bool? = nil, job: String? = nil, ref: String? = nil, kind: String? = nil,
                    state: String? = nil, patient: String? = nil, dueFrom: Date? = nil, dueTo: Date? = nil,
                    date: String? = nil, ward: String? = nil, escalated: Bool? = nil, outcome: String? = nil,
                    woundCare: Bool? = nil, note: String? = nil, seenOutcomes: Int? = nil, month: String? = nil,
                    from: String? = nil, to: String? = nil, list: String? = nil, delivery: String? = nil, unassigned: Bool? = nil,
                    concern: Bool? = nil, reason: String? = nil, period: String? = nil) {
            self.period = period
            self.concern = concern
            self.reason = reason
            self.delivery = delivery
            self.seenOutcomes = seenOutcomes
            self.month = month
            self.from = from
            self.to = to
            self.list = list
            self.date = date
            self.ward = ward
            self.escalated = escalated
            self.unassigned = unassigned
            self.outcome = outcome
            self.woundCare = woundCare
            self.note = note
            self.limit = limit
            self.showLine = showLine
            self.job = job
            self.ref = ref
            self.kind = kind
            self.state = state
            self.patient = patient
            self.dueFrom = dueFrom
            self.dueTo = dueTo
        }

        enum CodingKeys: String, CodingKey {
            case limit, job, ref, kind, state, patient, date, ward, escalated, outcome, note, month, from, to, list, delivery, unassigned
            case concern, reason, period
            case seenOutcomes = "seen_outcomes"
            case woundCare = "wound_care"
            case showLine = "show_line"
            case dueFrom = "due_from"
            case dueTo = "due_to"
        }
    }

    public init(command: String, args: Arguments = .init(), as person: String? = nil, asWards: [String]? = nil,
                v: Int = ControlProtocol.version) {
        self.v = v
        self.command = command
        self.args = args
        self.as = person
        self.asWards = asWards
    }

    enum CodingKeys: String, CodingKey {
        case v, command, args
        case `as`
        case asWards = "as_wards"
    }

    /// Parses a request frame's payload. Checks the version before anything else,
    /// so a client of another version gets an error naming both.
    public static func decode(_ payload: [UInt8]) -> Result<ControlRequest, ControlFailure> {
        let data = Data(payload)
        struct Versioned: Decodable { var v: Int? }
        guard let versioned = try? JSONDecoder().decode(Versioned.self, from: data) else {
            return .failure(ControlFailure(.badRequest, "the request is not a JSON object"))
        }
        guard let v = versioned.v else {
            return .failure(ControlFailure(.badRequest, "the request has no protocol version \"v\""))
        }
        guard v == ControlProtocol.version else {
            return .failure(ControlFailure(.unsupportedVersion,
                "touchpointctl speaks control protocol version \(v), this touchpointd speaks version \(ControlProtocol.version); use the touchpointctl that came with this touchpointd"))
        }
        do {
            return .success(try ControlJSON.decoder.decode(ControlRequest.self, from: data))
        } catch {
            return .failure(ControlFailure(.badRequest, "malformed request: \(Self.describe(error))"))
        }
    }

    static func describe(_ error: Error) -> String {
        switch error {
        case DecodingError.keyNotFound(let key, _): return "missing \"\(key.stringValue)\""
        case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
            return "wrong type at \"\(ctx.codingPath.map(\.stringValue).joined(separator: "."))\""
        case DecodingError.dataCorrupted(let ctx): return ctx.debugDescription
        default: return "\(error)"
        }
    }
}

/// An error reply: a code the client maps to an exit status, and a message for a person.
public struct ControlFailure: Error, Codable, Equatable, Sendable {
    public enum Code: String, Codable, Sendable {
        case badRequest = "bad_request"
        case unsupportedVersion = "unsupported_version"
        case frameTooLarge = "frame_too_large"
        case unknownCommand = "unknown_command"
        case permissionDenied = "permission_denied"
        case notFound = "not_found"
        case failed
        case unavailable
    }

    public var code: Code
    public var message: String
    /// The request's field a rule refused (`wound_care`, `note`), when one
    /// did: each front end names it in its own terms. Absent otherwise (and
    /// from older daemons).
    public var field: String?

    public init(_ code: Code, _ message: String, field: String? = nil) {
        self.code = code
        self.message = message
        self.field = field
    }
}

/// The reply frame: `{"v":1,"ok":true,"result":{...}}` or `{"v":1,"ok":false,"error":{...}}`.
public enum ControlReply {
    /// `{"v":1,"ok":true,"result":` ... `}`: a success reply is this fixed frame
    /// around the result, so a client can take the result without parsing it.
    public static let successPrefix = Data(#"{"v":\#(ControlProtocol.version),"ok":true,"result":"#.utf8)

    public static func success<T: Encodable>(_ result: T) -> Data {
        guard let body = try? ControlJSON.encoder.encode(result) else {
            return failure(ControlFailure(.failed, "the daemon could not encode its reply"))
        }
        return success(json: body)
    }

    /// A success reply around a result already written as JSON.
    public static func success(json body: some Sequence<UInt8>) -> Data {
        var out = successPrefix
        out.append(contentsOf: body)
        out.append(UInt8(ascii: "}"))
        return out
    }

    public static func failure(_ error: ControlFailure) -> Data {
        struct Envelope: Encodable {
            var v = ControlProtocol.version
            var ok = false
            var error: ControlFailure
        }
        return try! ControlJSON.encoder.encode(Envelope(error: error))
    }
}

/// The JSON conventions of the control protocol and `--json`: snake_case keys
/// as written in each type's CodingKeys, RFC 3339 UTC timestamps.
public enum ControlJSON {
    public static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { date, enc in
            var c = enc.singleValueContainer()
            try c.encode(Timestamp.rfc3339(date))
        }
        return e
    }()

    public static let decoder: JSONDecoder = {
        let d = JSONDecoder()
        d.dateDecodingStrategy = .custom { dec in
            let s = try dec.singleValueContainer().decode(String.self)
            guard case .success(let date) = Timestamp.parse(s, clock: .utc) else {
                throw DecodingError.dataCorrupted(.init(codingPath: dec.codingPath, debugDescription: "not an RFC 3339 time"))
            }
            return date
        }
        return d
    }()
}

import TouchpointDomain
