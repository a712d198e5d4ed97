import Foundation

// What the core's operations answer with: a job with its history, a call
// list's row, the rejects, the status snapshot. They are the domain's (the
// store fills them, the core returns them, the front ends show them), so no
// front end or test needs the store's module to read an answer.

/// A job with its history, as `job` and `explain` show it.
public struct JobRecord: Equatable, Sendable {
    public var job: Job
    public var history: [JobChange]
    public var deliveries: [DeliveryAttempt]
    /// A call: every outcome recorded on it.
    public var attempts: [CallAttempt]
    /// The patient's name, for whoever asked about this one job.
    public var patientName: String?
    /// A call: what the nurse needs to make it (phone, voicemail consent,
    /// procedure, surgery), as the call list has them.
    public var call: CallRow?

    public init(job: Job, history: [JobChange], deliveries: [DeliveryAttempt] = [], attempts: [CallAttempt] = [], patientName: String? = nil,
                call: CallRow? = nil) {
        self.call = call
        self.job = job
        self.history = history
        self.deliveries = deliveries
        self.attempts = attempts
        self.patientName = patientName
    }
}

/// Filters of `touchpointctl jobs`.
public struct JobFilter: Sendable, Equatable {
    public var kind: JobKind?
    public var state: JobState?
    public var ref: String?
    public var patientID: String?
    public var dueFrom: Date?
    public var dueTo: Date?
    /// Notices whose receipts say this (any of them).
    public var delivery: [DeliveryStatus]?
    /// Only jobs of these wards (a ward-limited person's scope, applied by
    /// the query so that `limit` counts what they may see).
    public var wards: [String]?
    public var limit: Int

    public init(kind: JobKind? = nil, state: JobState? = nil, ref: String? = nil, patientID: String? = nil,
                dueFrom: Date? = nil, dueTo: Date? = nil, delivery: [DeliveryStatus]? = nil, wards: [String]? = nil, limit: Int = 100) {
        self.delivery = delivery
        self.wards = wards
        self.kind = kind
        self.state = state
        self.ref = ref
        self.patientID = patientID
        self.dueFrom = dueFrom
        self.dueTo = dueTo
        self.limit = limit
    }
}

/// One line of the ward's call list: the call and what a nurse needs to make it.
public struct CallRow: Equatable, Sendable {
    public var job: Job
    public var patientName: String?
    public var phone: String?
    public var voicemailOK: Bool
    public var procedure: String?
    public var surgeryAt: Date?
    /// Who the patient is, to confirm on the phone: the date of birth and
    /// the NHS number's last three digits (never the whole number).
    public var birthDate: LocalDate?
    public var nhsNumberEnd: String?
    /// The patient's communication needs, as the feed's codes (`CommunicationNeeds` gives their words).
    public var communicationNeeds: [String]
    /// Those needs in the words staff see (`CommunicationNeeds.words`), as
    /// the core gives them from the hospital's config.
    public var needs: [String] = []

    public init(job: Job, patientName: String?, phone: String?, voicemailOK: Bool, procedure: String?, surgeryAt: Date?,
                birthDate: LocalDate? = nil, nhsNumber: String? = nil, communicationNeeds: [String] = []) {
        self.communicationNeeds = communicationNeeds
        self.birthDate = birthDate
        self.nhsNumberEnd = nhsNumber.map { String($0.suffix(3)) }
        self.job = job
        self.patientName = patientName
        self.phone = phone
        self.voicemailOK = voicemailOK
        self.procedure = procedure
        self.surgeryAt = surgeryAt
    }
}

/// A rejected queue line as recorded.
public struct RejectRecord: Equatable, Sendable {
    public var line: Int
    public var offset: Int
    public var eventID: String?
    public var code: RejectCode
    public var message: String
    /// The raw line: only when asked for (it holds patient data).
    public var raw: String?
    public var at: Date

    public init(line: Int, offset: Int, eventID: String?, code: RejectCode, message: String, raw: String?, at: Date) {
        self.line = line
        self.offset = offset
        self.eventID = eventID
        self.code = code
        self.message = message
        self.raw = raw
        self.at = at
    }
}

/// Where reading of the queue stands, and its totals since the state was created.
public struct QueueTotals: Equatable, Sendable {
    public var position: QueuePosition
    public var counts: IngestCounts
    public var lastReadAt: Date?

    public init(position: QueuePosition, counts: IngestCounts, lastReadAt: Date?) {
        self.position = position
        self.counts = counts
        self.lastReadAt = lastReadAt
    }
}

/// A writer of the queue file (the event's `source`), as `status` shows it:
/// how many of its events were read and when the last one was.
public struct QueueSource: Equatable, Sendable {
    /// nil for events that named no source.
    public var name: String?
    public var events: Int
    public var lastEventAt: Date

    public init(name: String?, events: Int, lastEventAt: Date) {
        self.name = name
        self.events = events
        self.lastEventAt = lastEventAt
    }
}

/// What `status` reports from the database, read in one go.
/// A ward and how many check-in calls it still has to make.
public struct WardCount: Equatable, Sendable {
    public var ward: String?
    public var calls: Int

    public init(ward: String?, calls: Int) {
        self.ward = ward
        self.calls = calls
    }
}

public struct StatusSnapshot: Equatable, Sendable {
    public var totals: QueueTotals
    public var patients: Int
    public var bookings: Int
    public var jobCounts: [JobKind: [JobState: Int]]
    public var nextDueAt: Date?
    public var lastDispatch: Date?
    public var paused: Bool
    public var deliveries: [DeliveryStatus: Int] = [:]
    /// Each writer of the queue and when its last event was read.
    public var sources: [QueueSource] = []
    /// The check-in calls still to make, by ward as kept (`WardNames` decides which are unassigned).
    public var openCallsByWard: [WardCount] = []

    public init(totals: QueueTotals, patients: Int, bookings: Int, jobCounts: [JobKind: [JobState: Int]], nextDueAt: Date?,
                lastDispatch: Date?, paused: Bool, deliveries: [DeliveryStatus: Int] = [:], sources: [QueueSource] = [],
                openCallsByWard: [(ward: String?, calls: Int)] = []) {
        self.sources = sources
        self.openCallsByWard = openCallsByWard.map { WardCount(ward: $0.ward, calls: $0.calls) }
        self.totals = totals
        self.patients = patients
        self.bookings = bookings
        self.jobCounts = jobCounts
        self.nextDueAt = nextDueAt
        self.lastDispatch = lastDispatch
        self.paused = paused
        self.deliveries = deliveries
    }
}
