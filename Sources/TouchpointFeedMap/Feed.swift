import TouchpointHL7

/// One `[[feed]]` of `hl7.toml`: a sending system and how its messages
/// become touchpoint's bookings (`hl7.md`). Built by the config reader,
/// which has checked every path and name; the mapping reads it as it is.
public struct Feed: Sendable, Equatable {
    /// Lower case; part of every event id and the events' `source`.
    public var name: String
    /// MSH-3.1 (and MSH-4.1 when `sendingFacility` is set) that this feed's messages carry.
    public var sendingApplication: String
    public var sendingFacility: String?
    public var patientID: PatientIDRule
    /// CX-4^CX-5 pairs that mark an NHS number.
    public var nhsNumber: [IdentifierType]
    /// The appointment's id: the first of these that is not empty.
    public var appointmentID: [HL7FieldPath]
    /// The start: the first of these that is present.
    public var start: [HL7FieldPath]
    public var ward: HL7FieldPath?
    /// Ward codes as sent -> ward names; a code not here is kept as sent.
    public var wards: [String: String]
    public var refPrefix: String
    /// Delay reason codes -> the words the patient is sent.
    public var delayReasons: [String: String]
    public var delayReasonField: HL7FieldPath?
    public var delayReasonDefault: String
    public var acceptAcks: Bool
    /// Which appointments are which bookings; the first that matches wins.
    public var maps: [FeedRule]

    public init(name: String, sendingApplication: String, sendingFacility: String? = nil, patientID: PatientIDRule,
                nhsNumber: [IdentifierType], appointmentID: [HL7FieldPath], start: [HL7FieldPath], ward: HL7FieldPath?,
                wards: [String: String] = [:], refPrefix: String = "", delayReasons: [String: String] = [:],
                delayReasonField: HL7FieldPath? = nil, delayReasonDefault: String = "the theatre list is running later than planned",
                acceptAcks: Bool = false, maps: [FeedRule]) {
        self.name = name
        self.sendingApplication = sendingApplication
        self.sendingFacility = sendingFacility
        self.patientID = patientID
        self.nhsNumber = nhsNumber
        self.appointmentID = appointmentID
        self.start = start
        self.ward = ward
        self.wards = wards
        self.refPrefix = refPrefix
        self.delayReasons = delayReasons
        self.delayReasonField = delayReasonField
        self.delayReasonDefault = delayReasonDefault
        self.acceptAcks = acceptAcks
        self.maps = maps
    }

    /// Whether `message` comes from this feed's sender.
    public func sends(_ message: HL7Message) -> Bool {
        guard message.value(at: .msh(3, 1)).text == sendingApplication else { return false }
        guard let facility = sendingFacility, !facility.isEmpty else { return true }
        return message.value(at: .msh(4, 1)).text == facility
    }
}

/// CX-4 (assigning authority) and CX-5 (identifier type); an empty
/// authority matches any (`^MR`).
public struct IdentifierType: Sendable, Hashable {
    public var authority: String
    public var type: String

    public init(authority: String, type: String) {
        self.authority = authority
        self.type = type
    }

    /// Reads `RGT^MR` or `^MR`.
    public init?(parsing text: String) {
        let parts = text.split(separator: "^", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[1].isEmpty else { return nil }
        authority = String(parts[0])
        type = String(parts[1])
    }

    func matches(authority a: String?, type t: String?) -> Bool {
        (authority.isEmpty || a == authority) && t == type
    }
}

/// Which PID-3 repetition is the patient's id.
public enum PatientIDRule: Sendable, Equatable {
    case first
    case matching(IdentifierType)
}

/// One `[[feed.map]]`: the appointments it takes (every key must match one
/// of its values) and the booking they become.
public struct FeedRule: Sendable, Equatable {
    public enum Booking: Sendable, Equatable {
        case surgery
        case openAccess
        case appointment(service: String)
    }

    public var when: [(HL7FieldPath, [String])]
    public var booking: Booking
    public var procedure: HL7FieldPath?
    public var clinic: HL7FieldPath?

    public init(when: [(HL7FieldPath, [String])], as booking: Booking, procedure: HL7FieldPath? = nil, clinic: HL7FieldPath? = nil) {
        self.when = when
        self.booking = booking
        self.procedure = procedure
        self.clinic = clinic
    }

    public static func == (a: FeedRule, b: FeedRule) -> Bool {
        a.booking == b.booking && a.procedure == b.procedure && a.clinic == b.clinic
            && a.when.count == b.when.count && zip(a.when, b.when).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    /// Whether every condition holds (each path's value is one of its values).
    func matches(_ m: HL7Message) -> Bool {
        when.allSatisfy { path, values in
            // Any segment of the name may hold it (several AIS in one message).
            m.values(at: path).contains(where: values.contains)
        }
    }
}

extension HL7Message {
    /// The values at `path` in every segment of its name (a message may have several AIS).
    func values(at path: HL7FieldPath) -> [String] {
        segments(named: path.segment).compactMap { $0.value(path, in: self).text }
    }
}
