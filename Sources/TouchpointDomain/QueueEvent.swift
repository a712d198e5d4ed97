import Foundation

/// Why a queue line was not applied. The raw values are the spec's codes.
public enum RejectCode: String, Sendable, Codable, CaseIterable {
    case malformedJSON = "malformed_json"
    case unsupportedVersion = "unsupported_version"
    case missingField = "missing_field"
    case invalidField = "invalid_field"
    case unknownType = "unknown_type"
    case unknownRef = "unknown_ref"
    case conflict
    case lineTooLong = "line_too_long"
}

/// A queue line that was not applied: the code and a message naming the field.
///
/// The message is written to the journal, so it names fields and what was
/// expected but never repeats a value that could be patient data.
public struct QueueReject: Error, Equatable, Sendable {
    public var code: RejectCode
    public var message: String
    /// The event id, when one could be read.
    public var eventID: String?

    public init(_ code: RejectCode, _ message: String, eventID: String? = nil) {
        self.code = code
        self.message = message
        self.eventID = eventID
    }
}

/// How notices reach a patient.
public enum Channel: String, Sendable, Codable, CaseIterable {
    case sms, email, none
}

/// How an Open Access appointment is held.
public enum AppointmentMode: String, Sendable, Codable, CaseIterable {
    case inPerson = "in_person"
    case phone, video
}

/// A patient field an event may clear by giving it as `null` (a phone
/// number the patient no longer has). `deceased` is not one: a death
/// recorded in error is corrected by an admin, never by the feed.
public enum PatientField: String, Sendable, CaseIterable {
    case nhsNumber = "nhs_number"
    case name, phone, email, channel
    case birthDate = "birth_date"
    case optedOut = "opted_out"
    case voicemailOK = "voicemail_ok"
    case communicationNeeds = "communication_needs"
}

/// The patient details an event carries: only the fields it gives are
/// updated, and those it gives as `null` are cleared.
public struct PatientDetails: Equatable, Sendable {
    public var id: String
    public var nhsNumber: String?
    public var name: String?
    public var birthDate: LocalDate?
    /// E.164.
    public var phone: String?
    public var email: String?
    public var channel: Channel?
    public var optedOut: Bool?
    public var voicemailOK: Bool?
    public var deceased: Bool?
    /// The whole list when given (`[]` or `null` says there are none now).
    public var communicationNeeds: [String]?
    /// The fields given as `null`.
    public var cleared: Set<PatientField>

    public init(id: String, nhsNumber: String? = nil, name: String? = nil, phone: String? = nil,
                email: String? = nil, channel: Channel? = nil, optedOut: Bool? = nil,
                voicemailOK: Bool? = nil, deceased: Bool? = nil, cleared: Set<PatientField> = [], birthDate: LocalDate? = nil) {
        self.id = id
        self.birthDate = birthDate
        self.cleared = cleared
        self.nhsNumber = nhsNumber
        self.name = name
        self.phone = phone
        self.email = email
        self.channel = channel
        self.optedOut = optedOut
        self.voicemailOK = voicemailOK
        self.deceased = deceased
    }
}

/// Which name space a booking `ref` belongs to: `surgery.*`, `open_access.*`,
/// `appointment.*` and `treatment.*` refs are separate.
public enum BookingKind: String, Sendable, Codable, CaseIterable {
    case surgery
    case openAccess = "open_access"
    /// An appointment of a kind the hospital names (`service`), for configured contacts (`contacts.md`).
    case appointment
    /// The end of a treatment (`treatment.completed`), for configured contacts.
    case treatment

    /// The event types' prefix for this name space.
    public var space: String { rawValue }
}

/// Where a patient's treatment stands when it ends (`treatment.completed`).
public enum Pathway: String, Sendable, Codable, CaseIterable {
    case primary, secondary
}

/// One event from the queue file, validated.
public enum QueueEvent: Equatable, Sendable {
    case surgeryBooked(ref: String, patient: PatientDetails, at: Date, ward: String, procedure: String?, admitAt: Date?)
    case surgeryRescheduled(ref: String, at: Date, ward: String?, procedure: String?, admitAt: Date?)
    case surgeryDelayed(ref: String, expectedAt: Date, reason: String)
    case surgeryPerformed(ref: String, at: Date)
    case surgeryCancelled(ref: String, reason: String?)
    case openAccessBooked(ref: String, patient: PatientDetails, at: Date, clinic: String?, mode: AppointmentMode?)
    case openAccessRescheduled(ref: String, at: Date, clinic: String?, mode: AppointmentMode?)
    case openAccessCancelled(ref: String, reason: String?)
    case patientUpdated(PatientDetails)
    /// Two records of one patient merged by the hospital: `patient` survives, `mergedID` is retired.
    case patientMerged(patient: PatientDetails, mergedID: String)
    case appointmentBooked(ref: String, patient: PatientDetails, at: Date, service: String, clinic: String?, mode: AppointmentMode?)
    case appointmentRescheduled(ref: String, at: Date, clinic: String?, mode: AppointmentMode?)
    case appointmentCancelled(ref: String, reason: String?)
    case treatmentCompleted(ref: String, patient: PatientDetails, at: Date, pathway: Pathway?)

    /// The event types of queue format version 1 (`contacts.md` adds the last four).
    public static let typeNames = [
        "surgery.booked", "surgery.rescheduled", "surgery.delayed", "surgery.performed", "surgery.cancelled",
        "open_access.booked", "open_access.rescheduled", "open_access.cancelled", "patient.updated", "patient.merged",
        "appointment.booked", "appointment.rescheduled", "appointment.cancelled", "treatment.completed",
    ]

    /// The event types a configured contact can be planned `on`.
    public static let contactTriggers = ["appointment.booked", "treatment.completed"]

    public var typeName: String {
        switch self {
        case .surgeryBooked: return "surgery.booked"
        case .surgeryRescheduled: return "surgery.rescheduled"
        case .surgeryDelayed: return "surgery.delayed"
        case .surgeryPerformed: return "surgery.performed"
        case .surgeryCancelled: return "surgery.cancelled"
        case .openAccessBooked: return "open_access.booked"
        case .openAccessRescheduled: return "open_access.rescheduled"
        case .openAccessCancelled: return "open_access.cancelled"
        case .patientUpdated: return "patient.updated"
        case .patientMerged: return "patient.merged"
        case .appointmentBooked: return "appointment.booked"
        case .appointmentRescheduled: return "appointment.rescheduled"
        case .appointmentCancelled: return "appointment.cancelled"
        case .treatmentCompleted: return "treatment.completed"
        }
    }

    /// Whether this event makes a new booking (`*.booked`): a booking that
    /// cannot have jobs yet.
    public var isBooking: Bool {
        switch self {
        case .surgeryBooked, .openAccessBooked, .appointmentBooked, .treatmentCompleted: return true
        default: return false
        }
    }

    /// The booking this event is about, if any.
    public var booking: (kind: BookingKind, ref: String)? {
        switch self {
        case .surgeryBooked(let ref, _, _, _, _, _), .surgeryRescheduled(let ref, _, _, _, _),
             .surgeryDelayed(let ref, _, _), .surgeryPerformed(let ref, _), .surgeryCancelled(let ref, _):
            return (.surgery, ref)
        case .openAccessBooked(let ref, _, _, _, _), .openAccessRescheduled(let ref, _, _, _),
             .openAccessCancelled(let ref, _):
            return (.openAccess, ref)
        case .appointmentBooked(let ref, _, _, _, _, _), .appointmentRescheduled(let ref, _, _, _), .appointmentCancelled(let ref, _):
            return (.appointment, ref)
        case .treatmentCompleted(let ref, _, _, _):
            return (.treatment, ref)
        case .patientUpdated, .patientMerged:
            return nil
        }
    }

    /// The patient details this event carries, if any.
    public var patient: PatientDetails? {
        switch self {
        case .surgeryBooked(_, let p, _, _, _, _), .openAccessBooked(_, let p, _, _, _), .patientUpdated(let p),
             .patientMerged(let p, _), .appointmentBooked(_, let p, _, _, _, _), .treatmentCompleted(_, let p, _, _):
            return p
        default:
            return nil
        }
    }
}

extension QueueEvent {
    /// The same event about another patient record: a patient merged away
    /// is named by later events under the id the hospital retired.
    public func withPatientID(_ id: String) -> QueueEvent {
        func moved(_ p: PatientDetails) -> PatientDetails {
            var p = p
            p.id = id
            return p
        }
        switch self {
        case .surgeryBooked(let ref, let p, let at, let ward, let procedure, let admitAt):
            return .surgeryBooked(ref: ref, patient: moved(p), at: at, ward: ward, procedure: procedure, admitAt: admitAt)
        case .openAccessBooked(let ref, let p, let at, let clinic, let mode):
            return .openAccessBooked(ref: ref, patient: moved(p), at: at, clinic: clinic, mode: mode)
        case .patientUpdated(let p):
            return .patientUpdated(moved(p))
        case .patientMerged(let p, let mergedID):
            return .patientMerged(patient: moved(p), mergedID: mergedID)
        case .appointmentBooked(let ref, let p, let at, let service, let clinic, let mode):
            return .appointmentBooked(ref: ref, patient: moved(p), at: at, service: service, clinic: clinic, mode: mode)
        case .treatmentCompleted(let ref, let p, let at, let pathway):
            return .treatmentCompleted(ref: ref, patient: moved(p), at: at, pathway: pathway)
        default:
            return self
        }
    }
}

/// A queue line that passed validation: the event and what identifies it.
public struct QueueEnvelope: Equatable, Sendable {
    public var id: String
    /// Stable hash of the line's content, to tell a duplicate from a conflict.
    public var contentHash: UInt64
    public var event: QueueEvent
    /// The writer that sent it (`hl7:theatres`); nil when it gave none.
    public var source: String?

    public init(id: String, contentHash: UInt64, event: QueueEvent, source: String? = nil) {
        self.id = id
        self.contentHash = contentHash
        self.event = event
        self.source = source
    }
}
