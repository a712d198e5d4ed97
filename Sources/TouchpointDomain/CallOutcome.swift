import Foundation

/// What happened when the ward phoned a patient (`scheduling.md`, check-in call).
public enum CallOutcome: String, Sendable, Codable, CaseIterable {
    case reached
    case noAnswer = "no_answer"
    case voicemailLeft = "voicemail_left"
    case busy
    case wrongNumber = "wrong_number"
    case declined
    case notRequired = "not_required"

    /// The spelling on the command line (`no-answer`).
    public var commandLine: String { rawValue.replacingOccurrences(of: "_", with: "-") }

    public init?(commandLine: String) {
        self.init(rawValue: commandLine.replacingOccurrences(of: "-", with: "_"))
    }

    /// Ends the call (done).
    public var closes: Bool { self == .reached || self == .declined || self == .notRequired }
}

/// Why an outcome was refused; nothing was changed.
public struct OutcomeRefusal: Error, Equatable, Sendable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

extension Planner {
    /// Records an outcome given by `actor` (a Unix user) for a call.
    public func record(_ outcome: CallOutcome, on job: Job, woundCare: Bool?, note: String?, actor: String)
        -> Result<(JobUpdate, note: String?), OutcomeRefusal>
    {
        guard job.kind == .checkinCall else {
            return .failure(OutcomeRefusal("\(job.id) is a \(job.kind.rawValue), not a call: outcomes are for check-in calls"))
        }
        switch job.state {
        case .due, .escalated:
            break
        case .scheduled:
            let when = local(job.dueAt)
            return .failure(OutcomeRefusal(job.attempts > 0
                ? "\(job.id) is not due: the next try is at \(when) (an outcome for the last try was already recorded)"
                : "\(job.id) is not due yet: it comes on the list at \(when)"))
        default:
            return .failure(OutcomeRefusal("\(job.id) is already closed (\(job.state.rawValue)\(job.outcome.map { ", \($0)" } ?? "")); nothing was changed"))
        }
        if woundCare != nil && outcome != .reached {
            return .failure(OutcomeRefusal("--wound-care / --no-wound-care go with reached only"))
        }
        if outcome == .notRequired && (note ?? "").trimmingCharacters(in: .whitespaces).isEmpty {
            return .failure(OutcomeRefusal("not-required needs a --note saying why (e.g. still in hospital, readmitted)"))
        }
        var j = job
        j.outcome = outcome.rawValue
        j.lastAttemptAt = now
        if let note, !note.isEmpty { j.note = note }
        let by = "outcome \(outcome.rawValue) recorded by \(actor)"
        if outcome.closes {
            j.woundCare = outcome == .reached ? woundCare : nil
            var why = by
            if outcome == .reached, let w = woundCare { why += w ? " (wound care discussed)" : " (wound care not discussed)" }
            if job.state == .escalated { why += "; closes the escalated call" }
            return .success((JobUpdate(job: j, change: JobChange(jobID: j.id, at: now, actor: actor, from: job.state, to: .done, reason: why)).with(state: .done), note))
        }
        if outcome == .wrongNumber {
            j.attempts += 1
            return .success((update(j, to: .escalated, by, actor: actor), note))
        }
        // An attempt: no answer, voicemail, busy.
        j.attempts += 1
        if job.state == .escalated {
            return .success((update(j, to: .escalated, "\(by); still with the breast care nurse (attempt \(j.attempts))", actor: actor), note))
        }
        if j.attempts >= rules.maxAttempts {
            return .success((update(j, to: .escalated, "\(by); \(j.attempts) attempts without reaching the patient: handed to the breast care nurse", actor: actor), note))
        }
        let clock = rules.clock
        let today = clock.localDate(of: now)
        let windowEnd = clock.instant(on: today, at: rules.callWindow.end)
        var retry = now.addingTimeInterval(rules.retryAfter)
        var where_ = "back on the list at \(local(retry))"
        if retry >= windowEnd || !rules.isOpen(today) {
            guard let next = rules.nextOpenDay(after: today) else {
                return .failure(OutcomeRefusal("no open call day ahead: check calls.days and calendar.closed_dates"))
            }
            retry = clock.instant(on: next, at: rules.callWindow.start)
            where_ = "past today's window: back on the list at the start of \(next)"
            j.overdueSince = job.overdueSince ?? job.callDay ?? today
        }
        j.dueAt = min(retry, job.expiresAt)
        return .success((update(j, to: .scheduled, "\(by) (attempt \(j.attempts) of \(rules.maxAttempts)); \(where_)", actor: actor), note))
    }

    private func update(_ job: Job, to state: JobState, _ reason: String, actor: String) -> JobUpdate {
        var j = job
        j.state = state
        return JobUpdate(job: j, change: JobChange(jobID: j.id, at: now, actor: actor, from: job.state, to: state, reason: reason))
    }
}

extension JobUpdate {
    func with(state: JobState) -> JobUpdate {
        var u = self
        u.job.state = state
        return u
    }
}
