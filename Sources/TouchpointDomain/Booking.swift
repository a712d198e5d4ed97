import Foundation

/// A patient as touchpoint knows them: the merged details of every event that named them.
public struct Patient: Equatable, Sendable {
    public var id: String
    public var nhsNumber: String?
    public var name: String?
    /// What a nurse asks on the phone to be sure who she is speaking to
    /// (with the NHS number's last three digits): on the call list and page.
    public var birthDate: LocalDate?
    public var phone: String?
    public var email: String?
    /// nil: the configured default channel.
    public var channel: Channel?
    public var optedOut: Bool
    public var voicemailOK: Bool
    public var deceased: Bool
    /// The record this one was merged into (`patient.merged`): later events
    /// naming this id apply to that one. nil for a record in use.
    public var mergedInto: String?
    /// Communication needs (Accessible Information Standard), as the
    /// feed's codes: `interpreter:pl`, `no_phone` (`CommunicationNeeds`).
    public var communicationNeeds: [String] = []

    public init(id: String, nhsNumber: String? = nil, name: String? = nil, phone: String? = nil,
                email: String? = nil, channel: Channel? = nil, optedOut: Bool = false,
                voicemailOK: Bool = false, deceased: Bool = false, mergedInto: String? = nil, birthDate: LocalDate? = nil,
                communicationNeeds: [String] = []) {
        self.id = id
        self.communicationNeeds = communicationNeeds
        self.birthDate = birthDate
        self.mergedInto = mergedInto
        self.nhsNumber = nhsNumber
        self.name = name
        self.phone = phone
        self.email = email
        self.channel = channel
        self.optedOut = optedOut
        self.voicemailOK = voicemailOK
        self.deceased = deceased
    }

    /// Updates the fields `details` gives, clears those it gives as `null`;
    /// the others keep what an earlier event said.
    public mutating func update(with details: PatientDetails) {
        for field in details.cleared {
            switch field {
            case .nhsNumber: nhsNumber = nil
            case .name: name = nil
            case .birthDate: birthDate = nil
            case .phone: phone = nil
            case .email: email = nil
            case .channel: channel = nil
            case .optedOut: optedOut = false
            case .voicemailOK: voicemailOK = false
            case .communicationNeeds: communicationNeeds = []
            }
        }
        if let v = details.nhsNumber { nhsNumber = v }
        if let v = details.name { name = v }
        if let v = details.birthDate { birthDate = v }
        if let v = details.phone { phone = v }
        if let v = details.email { email = v }
        if let v = details.channel { channel = v }
        if let v = details.optedOut { optedOut = v }
        if let v = details.voicemailOK { voicemailOK = v }
        if let v = details.communicationNeeds { communicationNeeds = v }
        // Deceased is one-way: a later event that omits or contradicts it
        // must not bring contacts back for someone who has died.
        if details.deceased == true { deceased = true }
    }

    public init(details: PatientDetails) {
        self.init(id: details.id)
        update(with: details)
    }
}

/// A surgery or Open Access booking, as its events have left it.
public struct Booking: Equatable, Sendable {
    /// Which booking, and whose: fixed once booked (a second `*.booked` is a
    /// conflict, and no other event names a patient for a booking).
    public let kind: BookingKind
    public let ref: String
    /// Changed only by a merge of patient records (`reassigned(to:)`, `PatientRecords`).
    public internal(set) var patientID: String
    /// The surgery or appointment time as currently booked.
    public var at: Date
    public var ward: String?
    public var procedure: String?
    public var admitAt: Date?
    public var clinic: String?
    public var mode: AppointmentMode?
    /// The latest expected surgery time from a delay, and its reason.
    public var expectedAt: Date?
    public var delayReason: String?
    /// When surgery actually took place.
    public var performedAt: Date?
    public var cancelled: Bool
    public var cancelReason: String?
    /// 1 when booked, one more on each reschedule.
    public var revision: Int
    /// When touchpoint learnt of the booking as it stands: its booking or its
    /// last reschedule (the report's "booked less than a week ahead"). nil
    /// for bookings from before it was recorded.
    public var bookedAt: Date?
    /// An appointment: the hospital's code for its kind (`phone_consultation`).
    public var service: String?
    /// A treatment: where it ended (`primary`, `secondary`).
    public var pathway: Pathway?

    public init(kind: BookingKind, ref: String, patientID: String, at: Date, ward: String? = nil,
                procedure: String? = nil, admitAt: Date? = nil, clinic: String? = nil,
                mode: AppointmentMode? = nil, expectedAt: Date? = nil, delayReason: String? = nil,
                performedAt: Date? = nil, cancelled: Bool = false, cancelReason: String? = nil,
                revision: Int = 1, bookedAt: Date? = nil, service: String? = nil, pathway: Pathway? = nil) {
        self.bookedAt = bookedAt
        self.service = service
        self.pathway = pathway
        self.kind = kind
        self.ref = ref
        self.patientID = patientID
        self.at = at
        self.ward = ward
        self.procedure = procedure
        self.admitAt = admitAt
        self.clinic = clinic
        self.mode = mode
        self.expectedAt = expectedAt
        self.delayReason = delayReason
        self.performedAt = performedAt
        self.cancelled = cancelled
        self.cancelReason = cancelReason
        self.revision = revision
    }
}

/// The queue format's rules for how events change bookings.
public enum BookingLedger {
    /// The booking after `event`, given the booking as it stands (`nil`: never booked).
    /// Rejects `unknown_ref` and `conflict` exactly as the queue format says.
    /// `now`: when the event was read (a booking's or reschedule's `bookedAt`).
    public static func apply(_ event: QueueEvent, to existing: Booking?, eventID: String, now: Date? = nil) -> Result<Booking, QueueReject> {
        guard let (kind, ref) = event.booking else {
            return .failure(QueueReject(.invalidField, "event is not about a booking", eventID: eventID))
        }
        let space = kind.space
        switch event {
        case .surgeryBooked(_, let patient, let at, let ward, let procedure, let admitAt):
            if existing != nil { return .failure(alreadyBooked(space, ref, existing!, eventID)) }
            return .success(Booking(kind: .surgery, ref: ref, patientID: patient.id, at: at, ward: ward,
                                    procedure: procedure, admitAt: admitAt, bookedAt: now))
        case .openAccessBooked(_, let patient, let at, let clinic, let mode):
            if existing != nil { return .failure(alreadyBooked(space, ref, existing!, eventID)) }
            return .success(Booking(kind: .openAccess, ref: ref, patientID: patient.id, at: at,
                                    clinic: clinic, mode: mode, bookedAt: now))
        case .appointmentBooked(_, let patient, let at, let service, let clinic, let mode):
            if existing != nil { return .failure(alreadyBooked(space, ref, existing!, eventID)) }
            return .success(Booking(kind: .appointment, ref: ref, patientID: patient.id, at: at, clinic: clinic, mode: mode,
                                    bookedAt: now, service: service))
        case .treatmentCompleted(_, let patient, let at, let pathway):
            if existing != nil {
                return .failure(QueueReject(.conflict, "treatment \"\(ref)\" was already completed", eventID: eventID))
            }
            return .success(Booking(kind: .treatment, ref: ref, patientID: patient.id, at: at, bookedAt: now, pathway: pathway))
        default:
            break
        }
        guard var b = existing else {
            return .failure(QueueReject(.unknownRef, "\(space) booking \"\(ref)\" was never booked (send \(space).booked first)", eventID: eventID))
        }
        guard !b.cancelled else {
            return .failure(QueueReject(.conflict, "\(space) booking \"\(ref)\" was cancelled; no further events are accepted for it", eventID: eventID))
        }
        switch event {
        case .surgeryRescheduled(_, let at, let ward, let procedure, let admitAt):
            b.at = at
            if let ward { b.ward = ward }
            if let procedure { b.procedure = procedure }
            // A new date makes an old admission time meaningless.
            b.admitAt = admitAt
            b.expectedAt = nil
            b.delayReason = nil
            b.revision += 1
            b.bookedAt = now ?? b.bookedAt
        case .surgeryDelayed(_, let expectedAt, let reason):
            b.expectedAt = expectedAt
            b.delayReason = reason
        case .surgeryPerformed(_, let at):
            b.performedAt = at
        case .surgeryCancelled(_, let reason), .openAccessCancelled(_, let reason), .appointmentCancelled(_, let reason):
            b.cancelled = true
            b.cancelReason = reason
        case .openAccessRescheduled(_, let at, let clinic, let mode), .appointmentRescheduled(_, let at, let clinic, let mode):
            b.at = at
            if let clinic { b.clinic = clinic }
            if let mode { b.mode = mode }
            b.revision += 1
            b.bookedAt = now ?? b.bookedAt
        default:
            break
        }
        return .success(b)
    }

    private static func alreadyBooked(_ space: String, _ ref: String, _ b: Booking, _ eventID: String) -> QueueReject {
        if b.cancelled {
            return QueueReject(.conflict, "\(space) booking \"\(ref)\" was cancelled; a cancelled ref cannot be booked again", eventID: eventID)
        }
        return QueueReject(.conflict, "\(space) booking \"\(ref)\" is already booked (use \(space).rescheduled)", eventID: eventID)
    }
}
