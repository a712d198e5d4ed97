import Foundation
import TouchpointDomain

/// What kind of booking a ref is, as the queue names it.
public enum FeedBookingKind: String, Sendable, Equatable {
    case surgery
    case openAccess = "open_access"
    case appointment
}

/// One queue event a message gives (`queue-format.md`), before it has its
/// id: the receiver numbers them and adds `source`.
public struct FeedEvent: Sendable, Equatable {
    public var type: String
    public var ref: String?
    public var patient: PatientReading?
    public var at: Date?
    public var ward: String?
    public var procedure: String?
    public var clinic: String?
    public var service: String?
    public var expectedAt: Date?
    public var reason: String?
    public var mergedID: String?

    public init(type: String, ref: String? = nil, patient: PatientReading? = nil, at: Date? = nil, ward: String? = nil,
                procedure: String? = nil, clinic: String? = nil, service: String? = nil, expectedAt: Date? = nil,
                reason: String? = nil, mergedID: String? = nil) {
        self.type = type
        self.ref = ref
        self.patient = patient
        self.at = at
        self.ward = ward
        self.procedure = procedure
        self.clinic = clinic
        self.service = service
        self.expectedAt = expectedAt
        self.reason = reason
        self.mergedID = mergedID
    }

    /// The event's queue line (without its newline).
    public func line(id: String, source: String) -> [UInt8] {
        var fields: [(String, JSONText)] = [("v", .raw("1")), ("id", .string(id)), ("type", .string(type)), ("source", .string(source))]
        if let ref { fields.append(("ref", .string(ref))) }
        if let patient { fields.append(("patient", .raw(patient.json))) }
        if let at { fields.append(("at", .string(Timestamp.rfc3339(at)))) }
        if let ward { fields.append(("ward", .string(ward))) }
        if let procedure { fields.append(("procedure", .string(procedure))) }
        if let clinic { fields.append(("clinic", .string(clinic))) }
        if let service { fields.append(("service", .string(service))) }
        if let expectedAt { fields.append(("expected_at", .string(Timestamp.rfc3339(expectedAt)))) }
        if let reason { fields.append(("reason", .string(reason))) }
        if let mergedID { fields.append(("merged_id", .string(mergedID))) }
        return Array(JSONText.object(fields).utf8)
    }
}

extension PatientReading {
    /// The patient object: what the message said, `null` for what it cleared.
    var json: String {
        var fields: [(String, JSONText)] = [("id", .string(id))]
        func add(_ key: String, _ change: Change<String>) {
            switch change {
            case .keep: break
            case .clear: fields.append((key, .raw("null")))
            case .set(let v): fields.append((key, .string(v)))
            }
        }
        add("nhs_number", nhsNumber)
        add("name", name)
        add("birth_date", birthDate)
        add("phone", phone)
        add("email", email)
        // Only a death is sent: `false` after `true` is a conflict the daemon refuses (an admin corrects it).
        if deceased { fields.append(("deceased", .raw("true"))) }
        return JSONText.object(fields)
    }
}

/// A little JSON writer: what the queue lines need, escaped as RFC 8259 asks.
enum JSONText {
    case raw(String)
    case string(String)

    var text: String {
        switch self {
        case .raw(let r): return r
        case .string(let s): return Self.quoted(s)
        }
    }

    static func object(_ fields: [(String, JSONText)]) -> String {
        "{" + fields.map { quoted($0.0) + ":" + $0.1.text }.joined(separator: ",") + "}"
    }

    static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where u.value < 0x20 || u.value == 0x2028 || u.value == 0x2029:
                out += String(format: "\\u%04x", u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out + "\""
    }
}
