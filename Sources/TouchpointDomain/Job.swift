import Foundation

/// What a job is: one of the three contacts built in, or a contact a breast
/// care team configured (`contacts.md`), named by its rule. A name, not a
/// closed set, so that a team adds a contact without a release.
public struct JobKind: RawRepresentable, Hashable, Sendable, Codable, Comparable, CustomStringConvertible {
    public let rawValue: String

    public init(rawValue: String) { self.rawValue = rawValue }

    /// "We'll call patients the day after their surgery": made by ward staff from the call list.
    public static let checkinCall = JobKind(rawValue: "checkin_call")
    /// "...know how long they'll have to wait and why": sent on the day of surgery and on each delay.
    public static let waitNotice = JobKind(rawValue: "wait_notice")
    /// "...information about Open Access ... before their appointment".
    public static let openAccessInfo = JobKind(rawValue: "open_access_info")

    /// A concern the patient raised on a call (`reached --concern`): the
    /// breast care nurse follows it up from the escalated list, with the
    /// nurse's note. Not a contact of the pledge, and no rule plans it.
    public static let concernFollowUp = JobKind(rawValue: "concern_follow_up")
    /// A call in place of a notice, for a patient whose communication need
    /// says so (`[needs.CODE] notices = "call"`): on the needs worklist.
    public static let needsCall = JobKind(rawValue: "needs_call")

    /// Made by touchpoint from something that happened (a concern, a need),
    /// not planned by a rule: never re-planned, and no configured contact.
    public var isMadeByTouchpoint: Bool { self == .concernFollowUp || self == .needsCall }

    /// The contacts built in, in the pledge's order.
    public static let builtIns: [JobKind] = [.checkinCall, .waitNotice, .openAccessInfo]
    public var isBuiltIn: Bool { Self.builtIns.contains(self) }
    public var description: String { rawValue }

    public init(from decoder: Decoder) throws {
        rawValue = try decoder.singleValueContainer().decode(String.self)
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(rawValue)
    }

    public static func < (a: JobKind, b: JobKind) -> Bool { a.rawValue < b.rawValue }
}

/// Where a job stands (`scheduling.md`).
public enum JobState: String, Sendable, Codable, CaseIterable {
    case scheduled, due, done, cancelled, expired, suppressed, escalated, failed

    /// Still waiting for something to happen to it.
    public var isPending: Bool { self == .scheduled || self == .due }
}

/// One planned contact with a patient.
public struct Job: Equatable, Sendable {
    /// Stable: derived from the booking, the kind and a sequence number, so
    /// the same queue always gives the same ids.
    public let id: String
    /// What the job is and whose: fixed for its life (the store writes a
    /// job's changes without touching the indexes these key).
    public let kind: JobKind
    public let bookingKind: BookingKind
    public let ref: String
    /// Changed only by a merge of patient records (`reassigned(to:)`, `PatientRecords`).
    public internal(set) var patientID: String
    public var state: JobState
    /// When it becomes (or became) due.
    public var dueAt: Date
    /// After this it is no use: a notice not sent by then expires; a call
    /// not finished by then is escalated.
    public var expiresAt: Date
    public var createdAt: Date
    /// Open Access information: 1, then one more for each notice after a reschedule.
    public var revision: Int
    public var attempts: Int
    public var ward: String?
    /// Wait notice: the expected surgery time and the reason for a delay.
    public var expectedAt: Date?
    public var delayReason: String?
    /// Call: the day it was planned for (kept when it carries over as overdue).
    public var callDay: LocalDate?
    public var overdueSince: LocalDate?
    /// A call: the last outcome recorded.
    public var outcome: CallOutcome?
    public var woundCare: Bool?
    /// In words: the rule and the inputs that set `dueAt` (for `explain`).
    public var rule: String
    /// A call: the staff's note with the last outcome (may hold clinical detail: never logged).
    public var note: String?
    /// A call: when the last outcome was recorded.
    public var lastAttemptAt: Date?
    /// A configured contact made by staff (`to = "list"`): the worklist it is on.
    public var worklist: String?
    /// A notice whose transport gives receipts: its id there, and the latest
    /// word on its delivery and when it came.
    public var notificationID: String?
    public var delivery: DeliveryStatus?
    public var deliveryAt: Date?
    /// A notice handed to a transport that may have taken it without saying
    /// so (a crash, a timeout, a dropped connection): before sending it again
    /// the transport is asked whether it has it (`reference`).
    public var sendUncertain = false
    /// A notice whose delivery failed, sent once more by the patient's other
    /// channel: that channel (never a second time).
    public var fallbackChannel: Channel?
    /// A call on the breast care nurse's list: since when, and the nurse who
    /// took it (`take`), so an escalation always has an age and, once
    /// taken, an owner (hazard H-04).
    public var escalatedAt: Date?
    public var takenBy: String?
    public var takenAt: Date?

    public init(id: String, kind: JobKind, bookingKind: BookingKind, ref: String, patientID: String,
                state: JobState = .scheduled, dueAt: Date, expiresAt: Date, createdAt: Date, revision: Int = 1,
                attempts: Int = 0, ward: String? = nil, expectedAt: Date? = nil, delayReason: String? = nil,
                callDay: LocalDate? = nil, overdueSince: LocalDate? = nil, outcome: CallOutcome? = nil,
                woundCare: Bool? = nil, rule: String, note: String? = nil, lastAttemptAt: Date? = nil) {
        self.note = note
        self.lastAttemptAt = lastAttemptAt
        self.id = id
        self.kind = kind
        self.bookingKind = bookingKind
        self.ref = ref
        self.patientID = patientID
        self.state = state
        self.dueAt = dueAt
        self.expiresAt = expiresAt
        self.createdAt = createdAt
        self.revision = revision
        self.attempts = attempts
        self.ward = ward
        self.expectedAt = expectedAt
        self.delayReason = delayReason
        self.callDay = callDay
        self.overdueSince = overdueSince
        self.outcome = outcome
        self.woundCare = woundCare
        self.rule = rule
    }

    /// Made by staff from a list (the check-in call, a configured worklist
    /// contact) rather than sent.
    public var isCall: Bool { kind == .checkinCall || kind == .concernFollowUp || worklist != nil }
    public var isNotice: Bool { !isCall }

    /// When the engine must next look at this job (nil: nothing more will happen by itself).
    public func nextCheck(rules: SchedulingRules) -> Date? {
        switch state {
        case .scheduled:
            return dueAt
        case .due:
            if isNotice { return expiresAt }
            // A due call: at the end of today's window it carries over as overdue,
            // and at `expiresAt` it is escalated.
            let clock = rules.clock
            let today = callDayInForce(rules: rules)
            let windowEnd = clock.instant(on: today, at: rules.callWindow.end)
            return min(windowEnd, expiresAt)
        default:
            return nil
        }
    }

    /// The open day a due call is currently listed on: its call day, or the
    /// open day it carried over to.
    func callDayInForce(rules: SchedulingRules) -> LocalDate {
        rules.clock.localDate(of: dueAt)
    }
}

/// A change of a job's state, as the job's history records it.
public struct JobChange: Equatable, Sendable {
    public var jobID: String
    public var at: Date
    /// `touchpointd` for the engine, or the Unix user who asked.
    public var actor: String
    public var from: JobState?
    public var to: JobState
    public var reason: String

    public init(jobID: String, at: Date, actor: String, from: JobState?, to: JobState, reason: String) {
        self.jobID = jobID
        self.at = at
        self.actor = actor
        self.from = from
        self.to = to
        self.reason = reason
    }
}

/// A job as a rule left it, and the line its history gets.
public struct JobUpdate: Equatable, Sendable {
    public var job: Job
    public var change: JobChange

    public init(job: Job, change: JobChange) {
        self.job = job
        self.change = change
    }

    /// `job` moved to `state` by `actor` at `at`, for `reason`.
    public static func transition(_ job: Job, to state: JobState, _ reason: String, actor: String, at: Date) -> JobUpdate {
        var j = job
        j.state = state
        if state == .escalated, job.state != .escalated {
            // A new escalation: its age starts now, and nobody has it yet.
            j.escalatedAt = at
            j.takenBy = nil
            j.takenAt = nil
        }
        return JobUpdate(job: j, change: JobChange(jobID: j.id, at: at, actor: actor, from: job.state, to: state, reason: reason))
    }
}

// Job counts travel as JSON objects keyed by kind, then state (`status`).
extension JobKind: CodingKeyRepresentable {}
extension JobState: CodingKeyRepresentable {}
