import Foundation

/// How a job moves between states once it exists (`scheduling.md`,
/// `dispatch.md`): as time passes (due, overdue, escalated, expired,
/// suppressed), when staff record a call's outcome, when the transport says
/// how a delivery went, and when an admin cancels or retries.
///
/// Pure: the same job, rules and `now` always give the same decision. The
/// store only saves what this decided; a refusal changes nothing.
public struct JobStateMachine: Sendable {
    public let rules: SchedulingRules
    public let now: Date

    public init(rules: SchedulingRules, now: Date) {
        self.rules = rules
        self.now = now
    }

    private var clock: HospitalClock { rules.clock }

    private func local(_ d: Date) -> String {
        let l = clock.localDateTime(of: d)
        return "\(l.date) \(l.time)"
    }

    private func words(_ seconds: TimeInterval) -> String { Planner.words(seconds) }

    private func engine(_ job: Job, to state: JobState, _ reason: String) -> JobUpdate {
        JobUpdate.transition(job, to: state, reason, actor: Planner.engine, at: now)
    }

    // MARK: Time

    /// What happens to a job whose next check has come. `channel` is the
    /// patient's channel in force (their own or the default). nil: nothing to
    /// do yet.
    public func advance(_ job: Job, patient: Patient?, channel: Channel) -> JobUpdate? {
        guard let check = job.nextCheck(rules: rules), check <= now else { return nil }
        switch (job.state, job.isCall) {
        case (.scheduled, _):
            return comeDue(job, patient: patient, channel: channel)
        case (.due, true):
            return carryOver(job)
        case (.due, false):
            return engine(job, to: .expired, "not sent by \(local(job.expiresAt)), when it stopped being of use")
        default:
            return nil
        }
    }

    /// A scheduled job's due time has come: it goes on the list or out for
    /// dispatch, unless it is already of no use or may not go to this patient.
    private func comeDue(_ job: Job, patient: Patient?, channel: Channel) -> JobUpdate {
        let late = now.timeIntervalSince(job.dueAt)
        let plannedLate = job.createdAt > job.dueAt
        if now >= job.expiresAt {
            // Always say how late: an admin must see what was missed and by how much.
            let how = plannedLate
                ? " (\(words(late)) late: it was planned after its due time \(local(job.dueAt)))"
                : " (\(words(late)) late: touchpointd was not running at \(local(job.dueAt)), when it came due)"
            if job.isCall {
                return engine(job, to: .escalated, "not finished by \(local(job.expiresAt))\(how)")
            }
            return engine(job, to: .expired, "not sent by \(local(job.expiresAt)), when it stopped being of use\(how)")
        }
        if job.isNotice, let why = Self.suppression(patient, channel) {
            return engine(job, to: .suppressed, why)
        }
        if let need = needsCallInstead(job, patient: patient) {
            return engine(job, to: .suppressed, "communication need \"\(need.label)\": a call on the \(CommunicationNeeds.worklist) worklist instead (\(Self.needsCallID(job)))")
        }
        var lateness = ""
        if late > 60 {
            lateness = plannedLate
                ? " (\(words(late)) after its due time: it was planned after \(local(job.dueAt)))"
                : " (\(words(late)) late: touchpointd was not running at \(local(job.dueAt)))"
        }
        if job.isCall {
            let list = job.worklist.map { "the \($0) list" } ?? "the call list"
            return engine(job, to: .due, "on \(list) for \(clock.localDate(of: job.dueAt))\(lateness)")
        }
        return engine(job, to: .due, "due for dispatch\(lateness)")
    }

    /// A due call not finished by its window's end: on the next open day's
    /// list as overdue, or escalated once it has been overdue long enough.
    private func carryOver(_ job: Job) -> JobUpdate? {
        if now >= job.expiresAt {
            return engine(job, to: .escalated, "not finished after \(rules.escalateAfterDays) open day(s) overdue: handed to the breast care nurse")
        }
        let listed = clock.localDate(of: job.dueAt)
        guard let next = rules.nextOpenDay(after: listed) else { return nil }
        var j = job
        j.overdueSince = job.overdueSince ?? job.callDay ?? listed
        j.dueAt = clock.instant(on: next, at: rules.callWindow.start)
        return engine(j, to: .due, "not finished on \(listed): on the list for \(next) as overdue")
    }

    /// Why a notice may not go to this patient, or nil if it may.
    public static func suppression(_ patient: Patient?, _ channel: Channel) -> String? {
        guard let p = patient else { return "no details for this patient" }
        if p.deceased { return Planner.deceasedReason }
        if p.optedOut { return "patient has opted out of notices" }
        switch channel {
        case .none: return "patient's channel is none"
        case .sms: return p.phone == nil ? "no phone number for SMS" : nil
        case .email: return p.email == nil ? "no email address" : nil
        }
    }

    // MARK: Call outcomes

    /// A call's outcome, given by `actor` (as the history records them).
    ///
    /// `seenOutcomes` is how many outcomes the call had when the nurse chose
    /// hers (the web view's form carries it); `outcomes` are those it has
    /// now. If someone has recorded one since, nothing changes and the
    /// refusal says who recorded what and when, so two nurses with the same
    /// call open never both record it.
    /// `concern`: the patient raised a concern (`reached --concern`); the
    /// caller adds `concernFollowUp(for:)` in the same transaction.
    public func record(_ outcome: CallOutcome, on job: Job, woundCare: Bool?, note: String?, actor: String,
                       seenOutcomes: Int? = nil, outcomes: [CallAttempt] = [], concern: Bool = false) -> Result<JobUpdate, Refusal>
    {
        let changed = seenOutcomes.map { $0 != outcomes.count } ?? false
        let closed = !(job.state == .due || job.state == .escalated || job.state == .scheduled)
        if changed || closed, job.isCall, let last = outcomes.last {
            let now = closed ? "already closed" : "now \(job.state == .scheduled ? "waiting for its next try" : job.state.rawValue)"
            return .failure(Refusal("already recorded by \(last.by) at \(local(last.at)) (\(last.outcome.words)); the call is \(now), and nothing was changed"))
        }
        if let refusal = refuseOutcome(outcome, on: job, woundCare: woundCare, note: note, concern: concern) {
            return .failure(refusal)
        }
        var j = job
        j.outcome = outcome
        j.lastAttemptAt = now
        // A concern's follow-up keeps the concern as its note; each outcome's note is in its attempts.
        if let note, !note.isEmpty, job.kind != .concernFollowUp { j.note = note }
        let by = "outcome \(outcome.rawValue) recorded by \(actor)"
        if outcome.closes {
            j.woundCare = outcome == .reached ? woundCare : nil
            var why = by
            if outcome == .reached, let w = woundCare { why += w ? " (wound care discussed)" : " (wound care not discussed)" }
            if concern { why += "; the patient raised a concern: with the breast care nurse to follow up" }
            if job.state == .escalated { why += "; closes the escalated call" }
            return .success(JobUpdate.transition(j, to: .done, why, actor: actor, at: now))
        }
        j.attempts += 1
        if outcome == .wrongNumber {
            return .success(JobUpdate.transition(j, to: .escalated, by, actor: actor, at: now))
        }
        if job.state == .escalated {
            return .success(JobUpdate.transition(j, to: .escalated, "\(by); still with the breast care nurse (attempt \(j.attempts))", actor: actor, at: now))
        }
        if j.attempts >= rules.maxAttempts {
            return .success(JobUpdate.transition(j, to: .escalated, "\(by); \(j.attempts) attempts without reaching the patient: handed to the breast care nurse", actor: actor, at: now))
        }
        return retryLater(j, after: job, by: by, actor: actor)
    }

    /// Why an outcome may not be recorded on this job now, or nil if it may.
    private func refuseOutcome(_ outcome: CallOutcome, on job: Job, woundCare: Bool?, note: String?, concern: Bool) -> Refusal? {
        guard job.isCall else {
            return Refusal("\(job.id) is a \(job.kind.rawValue), not a call: outcomes are for calls made from a list")
        }
        switch job.state {
        case .due, .escalated:
            break
        case .scheduled:
            let when = local(job.dueAt)
            return Refusal(job.attempts > 0
                ? "\(job.id) is not due: the next try is at \(when) (an outcome for the last try was already recorded)"
                : "\(job.id) is not due yet: it comes on the list at \(when)")
        default:
            return Refusal("\(job.id) is already closed (\(job.state.rawValue)\(job.outcome.map { ", \($0.rawValue)" } ?? "")); nothing was changed")
        }
        let entry = OutcomeEntry(outcome: outcome, woundCare: woundCare, note: note, asksWoundCare: job.kind == .checkinCall, concern: concern)
        return entry.problems.first.map { Refusal($0.message, field: $0.field) }
    }

    /// The communication need that puts a call in place of `job`, a notice
    /// coming due, if the patient has one (`[needs.CODE] notices = "call"`).
    public func needsCallInstead(_ job: Job, patient: Patient?) -> CommunicationNeed? {
        guard job.isNotice, let p = patient else { return nil }
        return rules.needs.callInstead(p.communicationNeeds)
    }

    public static func needsCallID(_ notice: Job) -> String { "needs-\(notice.id)" }

    /// The call on the needs worklist that takes the place of `notice` when
    /// `u`, its `advance`, stopped it coming due for a communication need
    /// (and not for a reason `suppression` gives first); else nil.
    public func callInPlace(of notice: Job, after u: JobUpdate, patient: Patient?, channel: Channel) -> JobUpdate? {
        guard notice.state == .scheduled, u.job.state == .suppressed, Self.suppression(patient, channel) == nil,
              let need = needsCallInstead(notice, patient: patient) else { return nil }
        return needsCall(for: notice, need: need)
    }

    /// The call that stands in for `notice` (suppressed for `need`): on the
    /// needs worklist now, until the notice would have stopped being of use,
    /// then escalated like any call; the note says what the notice was for.
    public func needsCall(for notice: Job, need: CommunicationNeed) -> JobUpdate {
        var j = Job(id: Self.needsCallID(notice), kind: .needsCall, bookingKind: notice.bookingKind, ref: notice.ref,
                    patientID: notice.patientID, state: .due, dueAt: now, expiresAt: max(notice.expiresAt, now.addingTimeInterval(3600)),
                    createdAt: now, ward: notice.ward, callDay: clock.localDate(of: now),
                    rule: "in place of \(notice.id) (\(notice.kind)): communication need \"\(need.label)\"",
                    note: "Instead of the \(notice.kind.rawValue.replacingOccurrences(of: "_", with: " ")): \(need.label)")
        j.worklist = CommunicationNeeds.worklist
        return JobUpdate(job: j, change: JobChange(jobID: j.id, at: now, actor: Planner.engine, from: nil, to: .due,
                                                   reason: "on the \(CommunicationNeeds.worklist) worklist in place of \(notice.id): communication need \"\(need.label)\""))
    }

    /// The follow-up of a concern the patient raised on `call`: straight on
    /// the escalated list (its age starts now, nobody has it yet), with the
    /// nurse's note saying what it is. `number`: 1, then one more for each
    /// concern raised on the same call (after a reopen).
    public func concernFollowUp(for call: Job, note: String, actor: String, number: Int) -> JobUpdate {
        let today = clock.localDate(of: now)
        var j = Job(id: "concern-\(call.id)-\(number)", kind: .concernFollowUp, bookingKind: call.bookingKind, ref: call.ref,
                    patientID: call.patientID, state: .escalated, dueAt: now, expiresAt: now, createdAt: now, ward: call.ward,
                    callDay: today, rule: "a concern the patient raised on \(call.id), recorded by \(actor) at \(local(now))", note: note)
        j.escalatedAt = now
        return JobUpdate(job: j, change: JobChange(jobID: j.id, at: now, actor: actor, from: nil, to: .escalated,
                                                   reason: "the patient raised a concern on \(call.id) (recorded by \(actor)): for the breast care nurse to follow up"))
    }

    /// How long after its outcome a closed call may be reopened.
    public static let reopenWithin: TimeInterval = 24 * 3600

    /// A call closed in error goes back to the list (`reopen`): to the
    /// escalated list if it was closed from there or its time has passed,
    /// else due now (after the window it carries to the next open day as
    /// any unfinished call does). The outcome that closed it stays in the
    /// history, marked withdrawn by the caller; `history` is the job's.
    /// `outcomes`: the call's, the closing one last.
    public func reopen(_ job: Job, reason: String, actor: String, history: [JobChange], outcomes: [CallAttempt]) -> Result<JobUpdate, Refusal> {
        let why = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !why.isEmpty else { return .failure(Refusal("reopen needs a reason saying what was recorded in error")) }
        guard why.count <= OutcomeEntry.maximumNoteLength else {
            return .failure(Refusal("a reason is at most 1,000 characters; this one has \(why.count)"))
        }
        guard job.isCall else { return .failure(Refusal("\(job.id) is a \(job.kind.rawValue), not a call: only a call is reopened")) }
        guard job.state == .done, let closing = history.last(where: { $0.to == .done }) else {
            return .failure(Refusal("\(job.id) is \(job.state.rawValue): only a call closed by its outcome is reopened"))
        }
        guard now.timeIntervalSince(closing.at) <= Self.reopenWithin else {
            return .failure(Refusal("\(job.id) was closed at \(local(closing.at)), more than 24 hours ago: a call is reopened within 24 hours of its outcome"))
        }
        var j = job
        let old = job.outcome.map { "the outcome \($0.words) recorded by \(closing.actor) at \(local(closing.at)) is withdrawn" } ?? "its outcome is withdrawn"
        j.outcome = nil
        j.woundCare = nil
        // The last attempt is the one before, if any: the withdrawn one was perhaps never made.
        j.lastAttemptAt = outcomes.filter { $0.withdrawn == nil }.dropLast().last?.at
        let back = closing.from == .escalated || now >= job.expiresAt
        if !back { j.dueAt = now }
        let whither = back ? "back on the escalated list" : "back on the call list"
        return .success(JobUpdate.transition(j, to: back ? .escalated : .due, "reopened by \(actor): \(why) (\(old)); \(whither)",
                                             actor: actor, at: now))
    }

    /// An attempt that did not reach the patient: back on the list after
    /// `calls.retry_after`, or at the next open day's window if that is past
    /// today's.
    private func retryLater(_ attempted: Job, after job: Job, by: String, actor: String) -> Result<JobUpdate, Refusal> {
        var j = attempted
        let today = clock.localDate(of: now)
        let windowEnd = clock.instant(on: today, at: rules.callWindow.end)
        var retry = now.addingTimeInterval(rules.retryAfter)
        var when = "back on the list at \(local(retry))"
        if retry >= windowEnd || !rules.isOpen(today) {
            guard let next = rules.nextOpenDay(after: today) else {
                return .failure(Refusal("no open call day ahead: check calls.days and calendar.closed_dates"))
            }
            retry = clock.instant(on: next, at: rules.callWindow.start)
            when = "past today's window: back on the list at the start of \(next)"
            j.overdueSince = job.overdueSince ?? job.callDay ?? today
        }
        j.dueAt = min(retry, job.expiresAt)
        return .success(JobUpdate.transition(j, to: .scheduled, "\(by) (attempt \(j.attempts) of \(rules.maxAttempts)); \(when)", actor: actor, at: now))
    }

    // MARK: Deliveries

    /// How a delivery attempt moves a due notice on: done, back in the queue
    /// after a backoff, or failed (the dead letter list) when the next try
    /// would pass its expiry or `max_age` since its first attempt. Returns the
    /// update and the attempt to keep; nil when the notice is no longer due
    /// (cancelled meanwhile, say).
    /// `fallback`: the patient's other channel, for a notice the transport
    /// will never send to this address (`undeliverable`).
    public func deliver(_ result: DeliveryResult, on job: Job, firstAttemptAt: Date?, policy: RetryPolicy, jitter: Double,
                        fallback: Channel? = nil) -> (update: JobUpdate, attempt: DeliveryAttempt)?
    {
        guard job.state == .due, job.isNotice else { return nil }
        if case .held = result { return nil }
        var j = job
        j.attempts += 1
        j.lastAttemptAt = now
        let attempt = DeliveryAttempt(at: now, result: result.kind, detail: result.detail.map { String($0.prefix(2300)) })
        switch result {
        case .sent:
            j.sendUncertain = false
            return (engine(j, to: .done, "handed to the transport (attempt \(j.attempts))"), attempt)
        case .accepted(let id):
            j.sendUncertain = false
            j.notificationID = id
            j.delivery = .sending
            j.deliveryAt = now
            return (engine(j, to: .done, "accepted by the transport (attempt \(j.attempts)); its delivery is followed"), attempt)
        case .failed(let why):
            j.sendUncertain = false
            return (engine(j, to: .failed, "the transport failed it: \(why.prefix(300))"), attempt)
        case .undeliverable(let why):
            j.sendUncertain = false
            if let other = usable(fallback, for: job) {
                j.fallbackChannel = other
                j.dueAt = now
                return (engine(j, to: .due, "the transport will not send to this address (\(why.prefix(200))); sending it once by \(other.rawValue) instead"), attempt)
            }
            return (engine(j, to: .failed, "the transport will not send to this address, and there is no other channel: \(why.prefix(300))"), attempt)
        case .held:
            return nil
        case .retry(let why):
            let next = now.addingTimeInterval(policy.delay(afterAttempts: j.attempts, jitter: jitter))
            if next >= job.expiresAt || next.timeIntervalSince(firstAttemptAt ?? now) > policy.maxAge {
                let limit = next >= job.expiresAt ? "its expiry (\(Timestamp.rfc3339(job.expiresAt)))" : "transport.max_age"
                return (engine(j, to: .failed, "not delivered after \(j.attempts) attempt(s); the next would pass \(limit): \(why.prefix(300))"), attempt)
            }
            j.dueAt = next
            return (engine(j, to: .scheduled, "attempt \(j.attempts) not delivered (\(why.prefix(200))); next at \(Timestamp.rfc3339(next))"), attempt)
        }
    }

    /// A receipt for a notice the transport accepted: the latest word on its
    /// delivery, in its history. A failure goes once more by `fallback`, the
    /// patient's other channel when they have an address there and the
    /// notice is still of use. Nil when it adds nothing (the same word, or a
    /// final word already in).
    public func receipt(_ status: DeliveryStatus, on job: Job, detail: String? = nil, fallback: Channel? = nil) -> JobUpdate? {
        guard job.notificationID != nil, let current = job.delivery, !current.isFinal, status != current else { return nil }
        var j = job
        j.delivery = status
        j.deliveryAt = now
        let words = status == .unknown ? "no final delivery receipt within transport.notify.receipt_max_age"
            : "delivery receipt: \(status.words)"
        let why = words + (detail.map { " (\($0.prefix(200)))" } ?? "")
        if status.isFailure, let other = usable(fallback, for: job) {
            j.fallbackChannel = other
            j.notificationID = nil
            j.delivery = nil
            j.deliveryAt = nil
            j.sendUncertain = false
            j.dueAt = now
            return JobUpdate.transition(j, to: .due, why + "; sending it once by \(other.rawValue) instead", actor: "touchpointd", at: now)
        }
        return JobUpdate.transition(j, to: j.state, why, actor: "touchpointd", at: now)
    }

    /// `fallback`, when the notice may still go by it: once (not after an
    /// earlier fallback), and only while it is of use.
    private func usable(_ fallback: Channel?, for job: Job) -> Channel? {
        guard job.fallbackChannel == nil, let other = fallback, other != .none, now < job.expiresAt else { return nil }
        return other
    }

    /// The patient's other channel for a notice whose delivery failed: email
    /// after a text, a text after an email, when they have that address and
    /// may be sent notices at all.
    public static func fallback(for job: Job, patient: Patient?, defaultChannel: Channel) -> Channel? {
        guard let p = patient, job.fallbackChannel == nil, suppression(p, .sms) == nil || suppression(p, .email) == nil else { return nil }
        let used = p.channel ?? defaultChannel
        switch used {
        case .sms: return (p.email?.isEmpty == false && suppression(p, .email) == nil) ? .email : nil
        case .email: return (p.phone?.isEmpty == false && suppression(p, .sms) == nil) ? .sms : nil
        case .none: return nil
        }
    }

    // MARK: Admins

    /// An admin cancels a pending job, saying why.
    public func cancel(_ job: Job, reason: String, actor: String) -> Result<JobUpdate, Refusal> {
        guard !reason.trimmingCharacters(in: .whitespaces).isEmpty else {
            return .failure(Refusal("cancel needs a reason saying why"))
        }
        guard job.state.isPending else {
            return .failure(Refusal("\(job.id) is \(job.state.rawValue): only a scheduled or due job can be cancelled"))
        }
        return .success(JobUpdate.transition(job, to: .cancelled, "cancelled by \(actor): \(reason)", actor: actor, at: now))
    }

    /// A nurse takes an escalated call: the list shows who has it. Another
    /// nurse may take it over (a shift ends); the history keeps both.
    public func take(_ job: Job, actor: String) -> Result<JobUpdate, Refusal> {
        guard job.state == .escalated else {
            return .failure(Refusal("\(job.id) is \(job.state.rawValue): only an escalated call is taken"))
        }
        guard job.takenBy != actor else { return .failure(Refusal("\(job.id) is already yours (taken \(local(job.takenAt ?? now)))")) }
        var j = job
        let from = job.takenBy.map { ", taken over from \($0)" } ?? ""
        j.takenBy = actor
        j.takenAt = now
        return .success(JobUpdate(job: j, change: JobChange(jobID: j.id, at: now, actor: actor, from: .escalated, to: .escalated,
                                                            reason: "taken by \(actor)\(from)")))
    }

    /// An admin puts a failed notice back in the queue, due now.
    public func retry(_ job: Job, actor: String) -> Result<JobUpdate, Refusal> {
        guard job.state == .failed else {
            return .failure(Refusal("\(job.id) is \(job.state.rawValue): only a failed notice can be retried"))
        }
        guard now < job.expiresAt else {
            return .failure(Refusal("\(job.id) expired at \(Timestamp.rfc3339(job.expiresAt)): it is of no use now"))
        }
        var j = job
        j.dueAt = now
        return .success(JobUpdate.transition(j, to: .scheduled, "put back in the queue by \(actor)", actor: actor, at: now))
    }
}
