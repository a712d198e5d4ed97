import Foundation
import TouchpointDomain

/// A job as `cli.md` shows it: fields that do not apply are null.
public struct JobView: Codable, Equatable, Sendable {
    public struct Change: Codable, Equatable, Sendable {
        public var at: Date
        public var actor: String
        public var from: JobState?
        public var to: JobState
        public var reason: String

        public init(at: Date, actor: String, from: JobState?, to: JobState, reason: String) {
            self.at = at
            self.actor = actor
            self.from = from
            self.to = to
            self.reason = reason
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(at, forKey: .at)
            try c.encode(actor, forKey: .actor)
            try c.encode(from, forKey: .from)
            try c.encode(to, forKey: .to)
            try c.encode(reason, forKey: .reason)
        }
    }

    public var id: String
    public var kind: JobKind
    public var ref: String
    public var patientID: String
    public var state: JobState
    public var dueAt: Date
    public var expiresAt: Date
    public var createdAt: Date
    public var attempts: Int
    public var revision: Int
    public var ward: String?
    public var outcome: CallOutcome?
    public var woundCare: Bool?
    public var overdueSince: String?
    /// Wait notices: the expected surgery time and the delay's reason.
    public var expectedAt: Date?
    public var delayReason: String?
    /// `job` and `explain` only.
    public var history: [Change]?
    /// `explain` only: the rule and inputs that set `due_at`.
    public var reason: String?
    /// `job` only, for notices: each delivery attempt (when, result, the transport's words).
    public var deliveries: [Delivery]?
    /// A job given on its own (`job`, `outcome`, `cancel`, `retry`): the
    /// hospital's zone, in which `touchpointctl` shows its times.
    public var timeZone: String?
    /// A job given on its own: the patient's name, so that whoever recorded
    /// an outcome sees whose call it was (the wrong call is caught at once).
    public var patientName: String?
    /// A notice whose transport gives receipts: the latest word on its
    /// delivery (`sending`, `delivered`, `permanent_failure`, ...).
    public var delivery: DeliveryStatus?
    /// A configured worklist call (`contacts.md`): its list.
    public var worklist: String?
    /// A call given on its own: every outcome recorded on it.
    public var outcomes: [Attempt]?
    /// An escalated call: since when, and the nurse who took it (`take`).
    public var escalatedAt: Date?
    public var takenBy: String?
    public var takenAt: Date?
    /// A call given on its own: what the nurse needs to make it.
    public var call: CallDetails?
    /// A concern to follow up (`concern_follow_up`): what the patient raised,
    /// in the note of the nurse who made the call.
    public var concern: String?

    public struct CallDetails: Codable, Equatable, Sendable {
        public var phone: String?
        public var voicemailOK: Bool
        public var procedure: String?
        public var surgeryAt: Date?
        /// Who the patient is: `YYYY-MM-DD`, and the NHS number's last three digits.
        public var birthDate: String?
        public var nhsNumberEnd: String?
        /// The patient's communication needs, in the words staff see (`[needs]`).
        public var needs: [String]?

        public init(phone: String?, voicemailOK: Bool, procedure: String?, surgeryAt: Date?, birthDate: String? = nil, nhsNumberEnd: String? = nil,
                    needs: [String]? = nil) {
            self.needs = needs
            self.birthDate = birthDate
            self.nhsNumberEnd = nhsNumberEnd
            self.phone = phone
            self.voicemailOK = voicemailOK
            self.procedure = procedure
            self.surgeryAt = surgeryAt
        }

        enum CodingKeys: String, CodingKey {
            case phone, procedure
            case voicemailOK = "voicemail_ok"
            case surgeryAt = "surgery_at"
            case birthDate = "birth_date"
            case nhsNumberEnd = "nhs_number_end"
            case needs = "communication_needs"
        }
    }

    public struct Attempt: Codable, Equatable, Sendable {
        public var at: Date
        public var by: String
        public var outcome: CallOutcome
        public var woundCare: Bool?
        public var note: String?
        /// Withdrawn when the call was reopened: who, when and why.
        public var withdrawn: String?

        public init(at: Date, by: String, outcome: CallOutcome, woundCare: Bool?, note: String?, withdrawn: String? = nil) {
            self.withdrawn = withdrawn
            self.at = at
            self.by = by
            self.outcome = outcome
            self.woundCare = woundCare
            self.note = note
        }

        enum CodingKeys: String, CodingKey {
            case at, by, outcome, note, withdrawn
            case woundCare = "wound_care"
        }
    }

    public struct Delivery: Codable, Equatable, Sendable {
        public var at: Date
        public var result: DeliveryAttempt.Result
        public var detail: String?

        public init(at: Date, result: DeliveryAttempt.Result, detail: String?) {
            self.at = at
            self.result = result
            self.detail = detail
        }
    }

    public init(id: String, kind: JobKind, ref: String, patientID: String, state: JobState, dueAt: Date, expiresAt: Date,
                createdAt: Date, attempts: Int, revision: Int, ward: String?, outcome: CallOutcome?, woundCare: Bool?,
                overdueSince: String?, expectedAt: Date?, delayReason: String?, history: [Change]? = nil, reason: String? = nil) {
        self.id = id
        self.kind = kind
        self.ref = ref
        self.patientID = patientID
        self.state = state
        self.dueAt = dueAt
        self.expiresAt = expiresAt
        self.createdAt = createdAt
        self.attempts = attempts
        self.revision = revision
        self.ward = ward
        self.outcome = outcome
        self.woundCare = woundCare
        self.overdueSince = overdueSince
        self.expectedAt = expectedAt
        self.delayReason = delayReason
        self.history = history
        self.reason = reason
    }

    enum CodingKeys: String, CodingKey {
        case id, kind, ref, state, attempts, revision, ward, outcome, history, reason, deliveries, delivery, worklist
        case timeZone = "time_zone"
        case patientName = "patient_name"
        case outcomes, call, concern
        case patientID = "patient_id"
        case dueAt = "due_at"
        case expiresAt = "expires_at"
        case createdAt = "created_at"
        case woundCare = "wound_care"
        case overdueSince = "overdue_since"
        case expectedAt = "expected_at"
        case delayReason = "delay_reason"
        case escalatedAt = "escalated_at"
        case takenBy = "taken_by"
        case takenAt = "taken_at"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if let escalatedAt { try c.encode(escalatedAt, forKey: .escalatedAt) }
        if let takenBy { try c.encode(takenBy, forKey: .takenBy) }
        if let takenAt { try c.encode(takenAt, forKey: .takenAt) }
        if let concern { try c.encode(concern, forKey: .concern) }
        try c.encode(id, forKey: .id)
        try c.encode(kind, forKey: .kind)
        try c.encode(ref, forKey: .ref)
        try c.encode(patientID, forKey: .patientID)
        try c.encode(state, forKey: .state)
        try c.encode(dueAt, forKey: .dueAt)
        try c.encode(expiresAt, forKey: .expiresAt)
        try c.encode(createdAt, forKey: .createdAt)
        try c.encode(attempts, forKey: .attempts)
        try c.encode(revision, forKey: .revision)
        try c.encode(ward, forKey: .ward)
        try c.encode(outcome, forKey: .outcome)
        try c.encode(woundCare, forKey: .woundCare)
        try c.encode(overdueSince, forKey: .overdueSince)
        try c.encode(expectedAt, forKey: .expectedAt)
        try c.encode(delayReason, forKey: .delayReason)
        if let delivery { try c.encode(delivery, forKey: .delivery) }
        if let worklist { try c.encode(worklist, forKey: .worklist) }
        if let history { try c.encode(history, forKey: .history) }
        if let reason { try c.encode(reason, forKey: .reason) }
        if let deliveries { try c.encode(deliveries, forKey: .deliveries) }
        if let timeZone { try c.encode(timeZone, forKey: .timeZone) }
        if let patientName { try c.encode(patientName, forKey: .patientName) }
        if let outcomes { try c.encode(outcomes, forKey: .outcomes) }
        if let call { try c.encode(call, forKey: .call) }
    }
}

/// `jobs`: `{"jobs":[job...]}`.
public struct JobsReport: Codable, Equatable, Sendable {
    public var jobs: [JobView]
    /// The hospital's zone, in which `touchpointctl` shows the times.
    public var timeZone: String?

    public init(jobs: [JobView], timeZone: String?) {
        self.jobs = jobs
        self.timeZone = timeZone
    }

    enum CodingKeys: String, CodingKey {
        case jobs
        case timeZone = "time_zone"
    }
}

/// `explain REF`: every job of the booking, why it is in its state, and its history.
public struct ExplainReport: Codable, Equatable, Sendable {
    public struct BookingSummary: Codable, Equatable, Sendable {
        public var kind: BookingKind
        public var at: Date
        public var cancelled: Bool
        public var revision: Int
        public var patientDeceased: Bool
        public var patientOptedOut: Bool
        /// Why the booking's check-in call is on the unassigned list, if it is.
        public var unassigned: String?

        public init(kind: BookingKind, at: Date, cancelled: Bool, revision: Int, patientDeceased: Bool, patientOptedOut: Bool,
                    unassigned: String? = nil) {
            self.unassigned = unassigned
            self.kind = kind
            self.at = at
            self.cancelled = cancelled
            self.revision = revision
            self.patientDeceased = patientDeceased
            self.patientOptedOut = patientOptedOut
        }

        enum CodingKeys: String, CodingKey {
            case kind, at, cancelled, revision, unassigned
            case patientDeceased = "patient_deceased"
            case patientOptedOut = "patient_opted_out"
        }
    }

    public var ref: String
    public var bookings: [BookingSummary]
    public var jobs: [JobView]
    public var timeZone: String?

    public init(ref: String, bookings: [BookingSummary], jobs: [JobView], timeZone: String?) {
        self.ref = ref
        self.bookings = bookings
        self.jobs = jobs
        self.timeZone = timeZone
    }

    enum CodingKeys: String, CodingKey {
        case ref, bookings, jobs
        case timeZone = "time_zone"
    }
}
