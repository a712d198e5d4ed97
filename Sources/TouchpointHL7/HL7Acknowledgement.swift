import Foundation
import TouchpointDomain

/// MSA-1: how the message was taken (HL7 table 0008).
public enum AcknowledgementCode: String, Sendable, CaseIterable {
    /// Application accept: the events are safely in the queue file.
    case accept = "AA"
    /// Application error: the content is wrong; sending it again will not help.
    case error = "AE"
    /// Application reject: not a message we take (sender, type, unreadable).
    case reject = "AR"
    /// The enhanced mode's accept acknowledgements (MSH-15).
    case commitAccept = "CA"
    case commitError = "CE"
    case commitReject = "CR"

    /// The enhanced mode's accept acknowledgement for an original-mode code:
    /// CA when the events are safely in the queue file (all an accept
    /// acknowledgement promises), CE and CR for what AE and AR say.
    public var commit: AcknowledgementCode {
        switch self {
        case .accept, .commitAccept: .commitAccept
        case .error, .commitError: .commitError
        case .reject, .commitReject: .commitReject
        }
    }
}

/// What went wrong, for ERR: where (a field path), HL7's error code (table
/// 0357) and words for the integration team. The words never hold patient
/// data: they name the field and what was expected, not the value.
public struct HL7Error: Sendable, Equatable {
    /// Table 0357.
    public enum Code: Int, Sendable {
        case segmentSequence = 100
        case requiredFieldMissing = 101
        case dataType = 102
        case tableValueNotFound = 103
        case unsupportedMessageType = 200
        case unsupportedEvent = 201
        case unsupportedProcessingID = 202
        case unsupportedVersion = 203
        case unknownKey = 204
        case duplicateKey = 205
        case applicationInternal = 207

        var text: String {
            switch self {
            case .segmentSequence: return "Segment sequence error"
            case .requiredFieldMissing: return "Required field missing"
            case .dataType: return "Data type error"
            case .tableValueNotFound: return "Table value not found"
            case .unsupportedMessageType: return "Unsupported message type"
            case .unsupportedEvent: return "Unsupported event code"
            case .unsupportedProcessingID: return "Unsupported processing id"
            case .unsupportedVersion: return "Unsupported version id"
            case .unknownKey: return "Unknown key identifier"
            case .duplicateKey: return "Duplicate key identifier"
            case .applicationInternal: return "Application internal error"
            }
        }
    }

    public var location: HL7FieldPath?
    public var code: Code
    public var message: String

    public init(_ code: Code, at location: HL7FieldPath? = nil, _ message: String) {
        self.code = code
        self.location = location
        self.message = message
    }
}

/// Builds the acknowledgement of a message (original mode, or an accept
/// acknowledgement in enhanced mode): MSH with sender and receiver swapped,
/// MSH-9 `ACK^<trigger>^ACK`, a new MSH-10, MSH-11 and MSH-12 copied, MSA-2
/// the message's MSH-10 byte for byte, and an ERR for each error.
///
/// It is written with the message's own encoding characters, so MSH-10's
/// bytes mean in the ACK what they meant in the message.
public struct HL7Acknowledgement: Sendable {
    /// Our MSH-3 and MSH-4.
    public var application: String
    public var facility: String

    public init(application: String = "TOUCHPOINT", facility: String = "") {
        self.application = application
        self.facility = facility
    }

    /// The ACK of `message` (nil: bytes that were not a message, answered
    /// with an empty MSA-2).
    public func build(for message: HL7Message?, code: AcknowledgementCode, errors: [HL7Error] = [],
                      controlID: String, at now: Date, clock: HospitalClock) -> [UInt8] {
        let enc = message?.encoding ?? .standard
        let f = enc.field
        func raw(_ n: Int) -> [UInt8] { message.flatMap { Array($0.rawField(segment: "MSH", n) ?? []) } ?? [] }
        var out: [UInt8] = Array("MSH".utf8)
        out.append(f)
        out += enc.msh2
        let trigger = message.map { Array($0.rawValue(at: .msh(9, 2)) ?? []) } ?? []
        let fields: [[UInt8]] = [
            enc.escape(application), enc.escape(facility),
            raw(3), raw(4),
            Array(HL7Time.text(now, clock: clock).utf8),
            [],
            Array("ACK".utf8) + [enc.component] + trigger + [enc.component] + Array("ACK".utf8),
            enc.escape(controlID),
            message == nil ? Array("P".utf8) : raw(11),
            message == nil ? Array("2.5".utf8) : raw(12),
        ]
        for field in fields {
            out.append(f)
            out += field
        }
        out.append(0x0D)
        out += Array("MSA".utf8) + [f] + Array(code.rawValue.utf8) + [f] + (message.map { Array($0.controlID) } ?? [])
        if let first = errors.first {
            out += [f] + enc.escape(first.message)
        }
        out.append(0x0D)
        for e in errors {
            out += segment(for: e, enc)
            out.append(0x0D)
        }
        return out
    }

    /// ERR, readable by v2.3/2.4 engines (ERR-1, segment^sequence^field^code&text)
    /// and by v2.5+ ones (ERR-2 location, ERR-3 code, ERR-4 severity, ERR-8 user message).
    func segment(for e: HL7Error, _ enc: HL7Encoding) -> [UInt8] {
        let f = enc.field, c = enc.component
        let sub = enc.subcomponent ?? c
        let location = e.location.map { Array($0.errLocation.utf8).map { $0 == UInt8(ascii: "^") ? c : $0 } } ?? []
        let code = Array(String(e.code.rawValue).utf8)
        let codeText = enc.escape(e.code.text)
        var err1: [UInt8] = []
        if let l = e.location {
            err1 = Array(l.segment.utf8) + [c] + Array("1".utf8) + [c] + Array(String(l.field).utf8) + [c]
        } else {
            err1 = [c, c, c]
        }
        err1 += code + [sub] + codeText + [sub] + Array("HL70357".utf8)
        var out = Array("ERR".utf8) + [f] + err1 + [f] + location + [f]
        out += code + [c] + codeText + [c] + Array("HL70357".utf8)
        out += [f] + Array("E".utf8) + [f, f, f, f] + enc.escape(e.message)
        return out
    }
}
