import Foundation
import TouchpointDomain

/// Every operation of the control socket, with its arguments: the one list
/// of commands. The daemon decodes each request into it (`init(decoding:)`),
/// the client library encodes it (`request`), the fuzzer feeds the decoder.
/// Before, the commands were listed in four places (the core, the daemon's
/// harness, the CLI's and the web view's string literals) and each argument
/// was one of twenty-one optionals that every command read as it liked.
public enum ControlCommand: Equatable, Sendable {
    case status
    case calls(CallsQuery)
    case outcome(OutcomeRequest)
    case jobs(JobsQuery)
    case job(id: String)
    case explain(ref: String)
    case rejects(limit: Int?, showLine: Bool)
    case report(ReportQuery)
    case ingest
    case pause
    case resume
    case reload
    case cancel(job: String, reason: String)
    case retry(job: String)
    /// A nurse takes an escalated call: the list shows who has it.
    case take(job: String)
    /// A call closed in error goes back to the list (within 24 hours).
    case reopen(job: String, reason: String)
    /// An admin undoes a death recorded in error.
    case undeceased(patient: String, reason: String)
    /// Whether touchpoint has a booking for this patient id: yes or no, nothing else.
    case patientKnown(patient: String)
    /// A consistent copy of the state, taken while the service runs.
    case backup

    /// The commands by their names on the wire (`cli.md`).
    public enum Name: String, CaseIterable, Sendable {
        case status, calls, outcome, jobs, job, explain, rejects, report, ingest, pause, resume, reload, cancel, retry, take, reopen, undeceased, backup
        case patientKnown = "patient-known"
    }

    public var name: Name {
        switch self {
        case .status: return .status
        case .calls: return .calls
        case .outcome: return .outcome
        case .jobs: return .jobs
        case .job: return .job
        case .explain: return .explain
        case .rejects: return .rejects
        case .report: return .report
        case .ingest: return .ingest
        case .pause: return .pause
        case .resume: return .resume
        case .reload: return .reload
        case .cancel: return .cancel
        case .retry: return .retry
        case .take: return .take
        case .reopen: return .reopen
        case .undeceased: return .undeceased
        case .patientKnown: return .patientKnown
        case .backup: return .backup
        }
    }

    /// Whether a client may send the request again after the connection
    /// was lost with it unanswered: only for a command that changes
    /// nothing. Declared here for each command, never inferred: the client
    /// once resent anything but `outcome`, so a new command that changes
    /// something would have been carried out twice.
    public var mayResend: Bool {
        switch self {
        case .status, .calls, .jobs, .job, .explain, .rejects, .report, .patientKnown: return true
        case .outcome, .ingest, .pause, .resume, .reload, .cancel, .retry, .take, .reopen, .undeceased, .backup: return false
        }
    }
}

/// `calls`: a day's list for a ward, the escalated list, or a worklist's.
public struct CallsQuery: Equatable, Sendable {
    /// `YYYY-MM-DD`, `today`, `tomorrow` or `yesterday`, on the hospital's calendar; nil: today.
    public var date: String?
    public var ward: String?
    public var escalated: Bool
    /// A configured worklist (`contacts.md`); nil: the check-in calls.
    public var list: String?
    /// The day's check-in calls of wards none of `calls.wards` names.
    public var unassigned: Bool

    public init(date: String? = nil, ward: String? = nil, escalated: Bool = false, list: String? = nil, unassigned: Bool = false) {
        self.unassigned = unassigned
        self.date = date
        self.ward = ward
        self.escalated = escalated
        self.list = list
    }
}

/// `outcome`: what happened on a call (the rules are the domain's `OutcomeEntry`).
public struct OutcomeRequest: Equatable, Sendable {
    public var job: String
    public var outcome: CallOutcome
    public var woundCare: Bool?
    public var note: String?
    /// How many outcomes the call had when the person chose theirs; if
    /// another was recorded since, nothing is (`web.md`).
    public var seenOutcomes: Int?
    /// The patient raised a concern (`reached --concern`): followed up from the escalated list.
    public var concern: Bool

    public init(job: String, outcome: CallOutcome, woundCare: Bool? = nil, note: String? = nil, seenOutcomes: Int? = nil,
                concern: Bool = false) {
        self.concern = concern
        self.job = job
        self.outcome = outcome
        self.woundCare = woundCare
        self.note = note
        self.seenOutcomes = seenOutcomes
    }
}

/// `jobs`: the filters, as given (the daemon checks kinds, states and deliveries against its config).
public struct JobsQuery: Equatable, Sendable {
    public var kind: String?
    public var state: String?
    public var delivery: String?
    public var ref: String?
    public var patient: String?
    public var dueFrom: Date?
    public var dueTo: Date?
    public var limit: Int?

    public init(kind: String? = nil, state: String? = nil, delivery: String? = nil, ref: String? = nil, patient: String? = nil,
                dueFrom: Date? = nil, dueTo: Date? = nil, limit: Int? = nil) {
        self.kind = kind
        self.state = state
        self.delivery = delivery
        self.ref = ref
        self.patient = patient
        self.dueFrom = dueFrom
        self.dueTo = dueTo
        self.limit = limit
    }
}

/// `report`: a month, or a period, for a place; `list` names a measure whose jobs to list.
public struct ReportQuery: Equatable, Sendable {
    /// The wire's `period` for `recent`.
    public static let recentPeriod = "recent"

    public var month: String?
    public var from: String?
    public var to: String?
    public var ward: String?
    public var list: String?
    /// With no month and no dates: the period a manager opening the report
    /// expects (this month to date once it has 7 days, else the last complete
    /// month) rather than `report.md`'s current month up to today.
    public var recent: Bool

    public init(month: String? = nil, from: String? = nil, to: String? = nil, ward: String? = nil, list: String? = nil, recent: Bool = false) {
        self.recent = recent
        self.month = month
        self.from = from
        self.to = to
        self.ward = ward
        self.list = list
    }
}

// MARK: The wire

extension ControlCommand {
    /// The request frame's JSON for this command (`cli.md`'s wire format,
    /// unchanged: `{"v":1,"command":...,"args":{...}}`).
    public var arguments: ControlRequest.Arguments {
        switch self {
        case .status, .ingest, .pause, .resume, .reload, .backup:
            return .init()
        case .calls(let q):
            return .init(date: q.date, ward: q.ward, escalated: q.escalated ? true : nil, list: q.list, unassigned: q.unassigned ? true : nil)
        case .outcome(let o):
            return .init(job: o.job, outcome: o.outcome.rawValue, woundCare: o.woundCare, note: o.note, seenOutcomes: o.seenOutcomes,
                         concern: o.concern ? true : nil)
        case .jobs(let q):
            return .init(limit: q.limit, ref: q.ref, kind: q.kind, state: q.state, patient: q.patient, dueFrom: q.dueFrom, dueTo: q.dueTo,
                         delivery: q.delivery)
        case .job(let id):
            return .init(job: id)
        case .explain(let ref):
            return .init(ref: ref)
        case .rejects(let limit, let showLine):
            return .init(limit: limit, showLine: showLine ? true : nil)
        case .report(let q):
            return .init(ward: q.ward, month: q.month, from: q.from, to: q.to, list: q.list, period: q.recent ? ReportQuery.recentPeriod : nil)
        case .cancel(let job, let reason):
            return .init(job: job, note: reason)
        case .retry(let job), .take(let job):
            return .init(job: job)
        case .patientKnown(let patient):
            return .init(patient: patient)
        case .reopen(let job, let reason):
            return .init(job: job, reason: reason)
        case .undeceased(let patient, let reason):
            return .init(patient: patient, reason: reason)
        }
    }

    public func request(acting delegation: Delegation? = nil) -> ControlRequest {
        ControlRequest(command: name.rawValue, args: arguments, as: delegation?.name, asWards: delegation?.wards)
    }

    /// A request as the daemon received it, as a command; a request that
    /// names no known command or lacks what its command needs is refused
    /// with a message in the words of the operation.
    public init(decoding r: ControlRequest) throws(ControlFailure) {
        guard let name = Name(rawValue: r.command) else {
            let known = Name.allCases.map(\.rawValue).sorted().joined(separator: ", ")
            throw ControlFailure(.unknownCommand, "unknown command \"\(r.command.prefix(40))\"; this touchpointd knows \(known)")
        }
        let a = r.args
        func needs(_ value: String?, _ what: String) throws(ControlFailure) -> String {
            guard let value, !value.isEmpty else { throw ControlFailure(.badRequest, "\(name.rawValue) needs \(what)") }
            return value
        }
        switch name {
        case .status: self = .status
        case .ingest: self = .ingest
        case .pause: self = .pause
        case .resume: self = .resume
        case .reload: self = .reload
        case .backup: self = .backup
        case .calls: self = .calls(CallsQuery(date: a.date, ward: a.ward, escalated: a.escalated == true, list: a.list, unassigned: a.unassigned == true))
        case .outcome:
            let id = try needs(a.job, "a job id")
            let raw = try needs(a.outcome, "an outcome")
            guard let outcome = CallOutcome(rawValue: raw) ?? CallOutcome(commandLine: raw) else {
                throw ControlFailure(.badRequest, "unknown outcome \"\(raw.prefix(40))\"; expected one of \(CallOutcome.allCases.map(\.commandLine).joined(separator: ", "))")
            }
            self = .outcome(OutcomeRequest(job: id, outcome: outcome, woundCare: a.woundCare, note: a.note, seenOutcomes: a.seenOutcomes,
                                           concern: a.concern == true))
        case .jobs:
            self = .jobs(JobsQuery(kind: a.kind, state: a.state, delivery: a.delivery, ref: a.ref, patient: a.patient,
                                   dueFrom: a.dueFrom, dueTo: a.dueTo, limit: a.limit))
        case .job: self = .job(id: try needs(a.job, "a job id"))
        case .explain: self = .explain(ref: try needs(a.ref, "a booking ref"))
        case .rejects: self = .rejects(limit: a.limit, showLine: a.showLine == true)
        case .report: self = .report(ReportQuery(month: a.month, from: a.from, to: a.to, ward: a.ward, list: a.list, recent: a.period == ReportQuery.recentPeriod))
        case .cancel: self = .cancel(job: try needs(a.job, "a job id"), reason: a.note ?? "")
        case .retry: self = .retry(job: try needs(a.job, "a job id"))
        case .take: self = .take(job: try needs(a.job, "a job id"))
        case .patientKnown: self = .patientKnown(patient: try needs(a.patient, "a patient id"))
        case .reopen: self = .reopen(job: try needs(a.job, "a job id"), reason: a.reason ?? "")
        case .undeceased: self = .undeceased(patient: try needs(a.patient, "a patient id"), reason: a.reason ?? "")
        }
    }
}

/// The person a delegate (the web view) acts for, and the wards their
/// account is limited to (`web.md`): the daemon believes both only from a
/// member of `control.delegate_group`, and holds every operation to the
/// wards (nil: every ward).
public struct Delegation: Equatable, Sendable {
    public var name: String
    public var wards: [String]?

    public init(name: String, wards: [String]? = nil) {
        self.name = name
        self.wards = wards.flatMap { $0.isEmpty ? nil : $0 }
    }
}
