import Foundation
import Logging
import TouchpointDomain
import TouchpointStore

/// Which day's call list: `today`, `tomorrow`, `yesterday` or a date, on the
/// hospital's calendar (never the client's: a ward PC's clock zone is not the
/// hospital's).
public enum CallDay: Sendable, Equatable {
    case today, tomorrow, yesterday
    case date(LocalDate)

    /// `YYYY-MM-DD`, `today`, `tomorrow` or `yesterday`.
    public init?(_ text: String) {
        switch text {
        case "today": self = .today
        case "tomorrow": self = .tomorrow
        case "yesterday": self = .yesterday
        default:
            guard let d = LocalDate(iso: text) else { return nil }
            self = .date(d)
        }
    }

    func resolve(today: LocalDate) -> LocalDate {
        switch self {
        case .today: return today
        case .tomorrow: return today.adding(days: 1)
        case .yesterday: return today.adding(days: -1)
        case .date(let d): return d
        }
    }
}

/// A ward's call list for a day, or the breast care nurse's escalated list.
public struct CallList: Sendable, Equatable {
    /// nil for the escalated list (it has no day).
    public var day: LocalDate?
    public var ward: String?
    public var escalated: Bool
    public var hospital: String
    /// The hospital's clock, in whose zone the list's times are read.
    public var clock: HospitalClock
    /// Tries before a call goes to the breast care nurse.
    public var maxAttempts: Int
    /// A configured worklist; nil for the check-in calls.
    public var list: String?
    /// The day's check-in calls of wards none of `calls.wards` names.
    public var unassigned = false
    /// The configured worklists there are.
    public var lists: [String]
    public var rows: [CallRow]

    public init(day: LocalDate?, ward: String?, escalated: Bool, hospital: String, clock: HospitalClock, maxAttempts: Int,
                list: String? = nil, lists: [String] = [], rows: [CallRow]) {
        self.list = list
        self.lists = lists
        self.maxAttempts = maxAttempts
        self.day = day
        self.ward = ward
        self.escalated = escalated
        self.hospital = hospital
        self.clock = clock
        self.rows = rows
    }
}

extension Touchpoint {
    /// The call list for a day (overdue first, then by due time), or with
    /// `escalated` the breast care nurse's list.
    /// With `unassigned`, the day's check-in calls whose ward is none the
    /// hospital named (`WardNames`): every person sees them, whatever their wards.
    public func calls(on day: CallDay, ward: String?, escalated: Bool, list: String? = nil, unassigned: Bool = false,
                      by person: Person) async throws(CoreFailure) -> CallList {
        try authorize(.calls, person)
        let config = live.config
        let names = config.schedulingRules.wards
        if unassigned, ward != nil || escalated || list != nil {
            throw .badRequest("the unassigned list is every ward's: ask for it without a ward, worklist or the escalated list", field: "unassigned")
        }
        let clock = config.clock
        let lists = config.worklists
        if let ward, !person.sees(ward: ward) { throw person.outsideWards(ward) }
        if let list, !lists.contains(list) {
            throw .badRequest("no worklist \"\(list.prefix(60))\"; the configured ones: \(lists.isEmpty ? "none" : lists.joined(separator: ", "))")
        }
        let date = day.resolve(today: clock.localDate(of: self.now()))
        let rows = try await stored("reading the call list") {
            try await store.read { try $0.calls(day: date, ward: ward, escalated: escalated, list: list, clock: clock) }
        }.filter { person.sees($0.job, names: names) && (!unassigned || names.isUnassigned($0.job.ward)) }.map { row in
            var r = row
            r.needs = config.needs.words(row.communicationNeeds)
            return r
        }
        var calls = CallList(day: escalated ? nil : date, ward: ward, escalated: escalated, hospital: config.hospital.name,
                             clock: clock, maxAttempts: config.schedulingRules.maxAttempts, list: list, lists: lists, rows: rows)
        calls.unassigned = unassigned
        return calls
    }

    /// Records what happened on a call: the job's history and the audit name
    /// the person; a refusal (not due, already closed, a note missing)
    /// changes nothing.
    /// `seenOutcomes`: how many outcomes the call had when the person chose
    /// theirs (the web form's); if another was recorded since, nothing is.
    /// `concern`: the patient raised a concern (`reached --concern`); a
    /// follow-up goes on the escalated list with the note, in the same
    /// transaction as the outcome.
    public func recordOutcome(_ outcome: CallOutcome, on jobID: String, woundCare: Bool?, note: String?,
                              seenOutcomes: Int? = nil, concern: Bool = false, by person: Person) async throws(CoreFailure) -> JobRecord {
        try authorize(.outcome, person)
        let rules = live.config.schedulingRules
        let actor = person.recordedName
        let record = try await stored("recording the outcome") {
            try await store.write { w -> Result<JobRecord, CoreFailure> in
                let now = self.now()
                // The person's wards hold in the transaction that records:
                // a call of another ward is not found (the web view once
                // checked this itself, a moment before the outcome).
                guard let job = try w.job(id: jobID), person.sees(job, names: rules.wards) else {
                    return .failure(.notFound("no job \"\(jobID)\" (the call list gives each call's job id)"))
                }
                let outcomes = job.isCall ? try w.attempts(jobID: jobID) : []
                switch JobStateMachine(rules: rules, now: now).record(outcome, on: job, woundCare: woundCare, note: note, actor: actor,
                                                                       seenOutcomes: seenOutcomes, outcomes: outcomes, concern: concern) {
                case .failure(let refusal):
                    return .failure(CoreFailure(refusal.field == nil ? .refused : .badRequest, refusal.message, field: refusal.field?.rawValue))
                case .success(let u):
                    try w.save(u, rules: rules, now: now)
                    try w.addAttempt(CallAttempt(at: now, by: actor, outcome: outcome, woundCare: outcome == .reached ? woundCare : nil,
                                                 note: note.flatMap { $0.isEmpty ? nil : $0 }), jobID: jobID)
                    try w.audit(actor: actor, action: Operation.outcome.rawValue, subject: jobID, detail: outcome.rawValue, now: now)
                    if concern, let note {
                        var number = 1
                        while try w.job(id: "concern-\(jobID)-\(number)") != nil { number += 1 }
                        let followUp = JobStateMachine(rules: rules, now: now).concernFollowUp(for: job, note: note, actor: actor, number: number)
                        try w.save(followUp, rules: rules, now: now)
                    }
                    guard let record = try w.record(jobID: jobID) else { return .failure(.notFound("no job \"\(jobID)\"")) }
                    return .success(record)
                }
            }
        }.get()
        // The note may hold clinical detail: it is never logged.
        log(record.job, "outcome \(outcome.rawValue) recorded by \(actor); now \(record.job.state.rawValue)" + (concern ? "; a concern to follow up is on the escalated list" : ""))
        wakeEngine()
        return record
    }

    /// A call closed in error goes back to the list (`reopen`), within 24
    /// hours of its outcome: the outcome stays in its history, withdrawn,
    /// with who reopened it and why. The person's wards hold.
    public func reopen(_ jobID: String, reason: String, by person: Person) async throws(CoreFailure) -> JobRecord {
        try authorize(.reopen, person)
        let actor = person.recordedName
        let rules = live.config.schedulingRules
        let record = try await stored("reopening the call") {
            try await store.write { w -> Result<JobRecord, CoreFailure> in
                let now = self.now()
                guard let job = try w.job(id: jobID), person.sees(job, names: rules.wards) else {
                    return .failure(.notFound("no job \"\(jobID)\" (the call list gives each call's job id)"))
                }
                switch JobStateMachine(rules: rules, now: now).reopen(job, reason: reason, actor: actor, history: try w.history(jobID: jobID),
                                                                       outcomes: try w.attempts(jobID: jobID)) {
                case .failure(let refusal):
                    return .failure(.refused(refusal.message))
                case .success(let u):
                    try w.save(u, rules: rules, now: now)
                    try w.withdrawLastAttempt(jobID: jobID, words: "withdrawn by \(actor) at \(rules.clock.localDateTime(of: now).time): \(reason.trimmingCharacters(in: .whitespacesAndNewlines))")
                    // The reason may name what was wrong about the patient: the audit keeps it, the journal never.
                    try w.audit(actor: actor, action: Operation.reopen.rawValue, subject: jobID, detail: u.change.reason, now: now)
                    guard let record = try w.record(jobID: jobID) else { return .failure(.notFound("no job \"\(jobID)\"")) }
                    return .success(record)
                }
            }
        }.get()
        log(record.job, "reopened by \(actor); now \(record.job.state.rawValue)", level: .notice)
        wakeEngine()
        return record
    }

    /// Logs a change to a job with the fields a journal search needs (never patient data).
    func log(_ job: Job, _ text: String, level: Logger.Level = .info) {
        logger.log(level: level, "\(job.isNotice ? "notice" : "call") \(job.id) (\(job.ref)): \(text)",
                   metadata: ["MESSAGE_ID": "\(MessageID.forState(job.state))", "job": "\(job.id)", "ref": "\(job.ref)",
                              "kind": "\(job.kind.rawValue)", "state": "\(job.state.rawValue)"])
    }
}

extension MessageID {
    /// The catalog entry for a job's new state.
    public static func forState(_ s: JobState) -> String {
        switch s {
        case .due: return jobDue
        case .expired: return jobExpired
        case .escalated: return jobEscalated
        case .suppressed: return jobSuppressed
        case .cancelled: return jobCancelled
        case .done: return jobDone
        default: return jobPlanned
        }
    }
}
