import Foundation

/// The three promises of the service pledge touchpoint keeps, in the
/// pledge's own words (`report.md`).
public enum Pledge: String, CaseIterable, Sendable, Codable {
    case checkinCall = "checkin_call"
    case waitNotice = "wait_notice"
    case openAccessInfo = "open_access_info"

    public var promise: String {
        switch self {
        case .checkinCall:
            return "We'll call patients the day after their surgery to check in and talk them through wound care."
        case .waitNotice:
            return "We'll make sure patients waiting before their surgery know how long they'll have to wait and why."
        case .openAccessInfo:
            return "We'll make sure information about Open Access is provided to patients before their Open Access appointment so they can prepare questions."
        }
    }

    /// What patients said, in the seed pledge's words: the leaflet's "you
    /// said" (a hospital's own pledge sets its own, `[leaflet.you_said]`).
    public var patientsSaid: String {
        switch self {
        case .checkinCall: return "Not everyone felt supported after surgery."
        case .waitNotice: return "Patients have to wait alone before surgery."
        case .openAccessInfo: return "Not all primary breast cancer patients understood Open Access or felt comfortable using it."
        }
    }

    /// The categories each counted booking falls in exactly one of, in order.
    public var categories: [PledgeMeasure] {
        switch self {
        case .checkinCall: return [.calledOnDay, .calledLater, .notCalled, .notRequired]
        case .waitNotice: return [.informed, .suppressed, .failed, .notSent]
        case .openAccessInfo: return [.inTime, .inTimeLateBooking, .late, .suppressed, .failed, .notSent]
        }
    }

    /// What else is counted beside the categories.
    public var extras: [PledgeMeasure] {
        switch self {
        case .checkinCall: return [.reached, .woundCareDiscussed, .declined, .escalated, .concernsFound]
        case .waitNotice: return [.delays, .delaysNotified, .delivered, .sentNoReceipt]
        case .openAccessInfo: return [.delivered, .sentNoReceipt]
        }
    }

    /// Every measure `--list` takes for this promise.
    public var measures: [PledgeMeasure] { categories + extras + [.counted, .excluded] }

    /// Ward (calls, wait notices) or clinic (Open Access).
    public var placeWord: String { self == .openAccessInfo ? "clinic" : "ward" }
}

/// One contact (a job) as the report needs it: what happened to it and when,
/// all recorded when it happened.
public struct ContactFacts: Equatable, Sendable {
    public var id: String
    public var kind: JobKind
    public var state: JobState
    public var dueAt: Date
    public var createdAt: Date
    /// A call: its planned day (after the closed-day rule).
    public var callDay: LocalDate?
    public var outcome: CallOutcome?
    /// A wait notice: the expected surgery time it carries.
    public var expectedAt: Date?
    /// A call: every outcome recorded (kept since migration v6).
    public var attempts: [CallAttempt]
    /// A call: the last outcome's time and count, all older calls kept.
    public var lastAttemptAt: Date?
    public var attemptCount: Int
    /// A notice: when the transport first accepted it.
    public var sentAt: Date?
    /// A notice: when it failed, or a delivery failure came back for it.
    public var failedAt: Date?
    public var cancelledAt: Date?
    /// A call: escalated at some point.
    public var escalated: Bool
    /// A notice whose transport gives receipts: the latest word on its delivery.
    public var delivery: DeliveryStatus?

    public init(id: String, kind: JobKind, state: JobState, dueAt: Date, createdAt: Date, callDay: LocalDate? = nil,
                outcome: CallOutcome? = nil, expectedAt: Date? = nil, attempts: [CallAttempt] = [], lastAttemptAt: Date? = nil,
                attemptCount: Int = 0, sentAt: Date? = nil, failedAt: Date? = nil, cancelledAt: Date? = nil, escalated: Bool = false,
                delivery: DeliveryStatus? = nil) {
        self.delivery = delivery
        self.id = id
        self.kind = kind
        self.state = state
        self.dueAt = dueAt
        self.createdAt = createdAt
        self.callDay = callDay
        self.outcome = outcome
        self.expectedAt = expectedAt
        self.attempts = attempts
        self.lastAttemptAt = lastAttemptAt
        self.attemptCount = attemptCount
        self.sentAt = sentAt
        self.failedAt = failedAt
        self.cancelledAt = cancelledAt
        self.escalated = escalated
    }
}

/// A delay as touchpoint learnt it: when it was ingested, the new time.
public struct DelayFact: Equatable, Sendable {
    public var at: Date
    public var expectedAt: Date

    public init(at: Date, expectedAt: Date) {
        self.at = at
        self.expectedAt = expectedAt
    }
}

/// A booking with its contacts: what the store gives the report.
public struct BookingFacts: Equatable, Sendable {
    public var kind: BookingKind
    public var ref: String
    /// The ward (surgery) or clinic (Open Access).
    public var place: String?
    public var at: Date
    public var performedAt: Date?
    public var expectedAt: Date?
    /// When touchpoint first learnt of the booking (migration v7; nil before).
    public var bookedAt: Date?
    public var cancelled: Bool
    public var patientDeceased: Bool
    public var contacts: [ContactFacts]
    public var delays: [DelayFact]

    public init(kind: BookingKind, ref: String, place: String?, at: Date, performedAt: Date? = nil, expectedAt: Date? = nil,
                bookedAt: Date? = nil, cancelled: Bool = false, patientDeceased: Bool = false, contacts: [ContactFacts],
                delays: [DelayFact] = []) {
        self.kind = kind
        self.ref = ref
        self.place = place
        self.at = at
        self.performedAt = performedAt
        self.expectedAt = expectedAt
        self.bookedAt = bookedAt
        self.cancelled = cancelled
        self.patientDeceased = patientDeceased
        self.contacts = contacts
        self.delays = delays
    }
}

/// Where one booking lands for one promise.
public struct PledgeEntry: Equatable, Sendable {
    public var pledge: Pledge
    public var anchor: LocalDate
    public var place: String?
    /// nil when excluded (cancelled, or the patient died, before the contact was due).
    public var category: PledgeMeasure?
    /// Extras this booking adds to (`reached`, `delays` 2, ...).
    public var extras: [PledgeMeasure: Int]
    /// The job the `--list` shows for it.
    public var contact: Listed

    public var excluded: Bool { category == nil }

    /// A job behind a number: no patient, only ids.
    public struct Listed: Equatable, Sendable, Codable {
        public var job: String
        public var ref: String
        public var place: String?
        public var date: LocalDate
        public var state: JobState

        public init(job: String, ref: String, place: String?, date: LocalDate, state: JobState) {
            self.job = job
            self.ref = ref
            self.place = place
            self.date = date
            self.state = state
        }

        enum CodingKeys: String, CodingKey { case job, ref, place, date, state }

        public init(from decoder: Decoder) throws {
            let c = try decoder.container(keyedBy: CodingKeys.self)
            job = try c.decode(String.self, forKey: .job)
            ref = try c.decode(String.self, forKey: .ref)
            place = try c.decodeIfPresent(String.self, forKey: .place)
            let d = try c.decode(String.self, forKey: .date)
            guard let day = LocalDate(iso: d) else { throw DecodingError.dataCorruptedError(forKey: .date, in: c, debugDescription: "not a date") }
            date = day
            state = try c.decode(JobState.self, forKey: .state)
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(job, forKey: .job)
            try c.encode(ref, forKey: .ref)
            try c.encode(place, forKey: .place)
            try c.encode(date.description, forKey: .date)
            try c.encode(state, forKey: .state)
        }
    }
}
