import Foundation

/// The rules of `scheduling.md`: which contacts a booking gets, when they are
/// due and when they expire, and how they move as events arrive and time passes.
///
/// Pure: the same booking, patient, jobs, rules and `now` always give the same
/// jobs. Every due time comes from the local calendar of the hospital's zone
/// (`HospitalClock`), never from adding 24-hour periods to an instant.
public struct Planner: Sendable {
    public let rules: SchedulingRules
    public let now: Date
    public static let engine = "touchpointd"

    public init(rules: SchedulingRules, now: Date) {
        self.rules = rules
        self.now = now
    }

    private var clock: HospitalClock { rules.clock }

    // MARK: Due times

    /// The check-in call: the day after surgery (or the actual surgery), moved to an open day.
    public func callPlan(_ b: Booking) -> (day: LocalDate, dueAt: Date, expiresAt: Date, rule: String)? {
        let base = b.performedAt ?? b.at
        let baseDay = clock.localDate(of: base)
        let target = baseDay.adding(days: rules.daysAfterSurgery)
        guard let day = rules.openDay(onOrAfter: target) else { return nil }
        let escalationDay = rules.escalationDay(for: day)
        let due = clock.instant(on: day, at: rules.callWindow.start)
        let expires = clock.instant(on: escalationDay, at: rules.callWindow.end)
        var rule = "surgery \(b.performedAt != nil ? "performed" : "booked") on \(baseDay) + \(rules.daysAfterSurgery) day(s) = \(target)"
        if target != day { rule += ", not an open call day, so the next open day \(day)" }
        rule += "; due at the start of the call window (\(rules.callWindow.start)); escalated if not finished by \(rules.callWindow.end) on \(escalationDay) (\(rules.escalateAfterDays) open day(s) overdue)"
        return (day, due, expires, rule)
    }

    /// The first wait notice: at admission, else the lead time before surgery, never before 06:00 that day.
    public func waitPlan(_ b: Booking) -> (dueAt: Date, expiresAt: Date, rule: String) {
        let surgeryDay = clock.localDate(of: b.at)
        let earliest = clock.instant(on: surgeryDay, at: rules.waitEarliest)
        var rule: String
        var due: Date
        if let admit = b.admitAt {
            due = admit
            rule = "due at admission (\(local(admit)))"
        } else {
            due = b.at.addingTimeInterval(-rules.waitLead)
            rule = "due \(Self.words(rules.waitLead)) before surgery at \(local(b.at))"
        }
        if due < earliest {
            due = earliest
            rule += ", but never before \(rules.waitEarliest) on the day of surgery"
        }
        let expires = b.expectedAt ?? b.at
        if due > expires {
            due = expires
            rule += "; surgery is before that, so it expires unsent"
        }
        rule += "; expires at the expected surgery time (\(local(expires)))"
        return (due, expires, rule)
    }

    /// Open Access information: days before the appointment at the send time,
    /// at once if that has passed, held out of quiet hours when there is time.
    public func openAccessPlan(_ b: Booking) -> (dueAt: Date, expiresAt: Date, rule: String) {
        let day = clock.localDate(of: b.at).adding(days: -rules.openAccessDaysBefore)
        var due = clock.instant(on: day, at: rules.openAccessSendAt)
        var rule = "\(rules.openAccessDaysBefore) day(s) before the appointment on \(clock.localDate(of: b.at)), at \(rules.openAccessSendAt) on \(day)"
        if due < now {
            due = now
            rule += "; that had passed when the booking arrived, so due at once"
        }
        if rules.inQuietHours(due) {
            let end = rules.endOfQuietHours(containing: due)
            if end < b.at {
                due = end
                rule += "; inside quiet hours, so held until they end (\(local(end)))"
            } else {
                rule += "; inside quiet hours, but waiting for them to end would pass the appointment, so not held"
            }
        }
        if due > b.at { due = b.at }
        rule += "; expires at the appointment (\(local(b.at)))"
        return (due, b.at, rule)
    }

    // MARK: Events

    /// The jobs an event creates or changes for its booking (`b` is the
    /// booking once the event is applied; `jobs` are the booking's jobs before).
    public func plan(_ event: QueueEvent, booking b: Booking, patient: Patient, jobs: [Job]) -> [JobUpdate] {
        switch event {
        case .surgeryBooked:
            return surgeryBooked(b, patient)
        case .openAccessBooked:
            let p = openAccessPlan(b)
            return [create(Job(id: "oa-\(b.ref)-1", kind: .openAccessInfo, bookingKind: .openAccess, ref: b.ref,
                               patientID: b.patientID, dueAt: p.dueAt, expiresAt: p.expiresAt, createdAt: now,
                               revision: 1, rule: p.rule), patient, "planned by open_access.booked")]
        case .surgeryRescheduled:
            return replanCall(b, jobs, because: "surgery rescheduled to \(local(b.at))") + surgeryRescheduled(b, patient, jobs)
        case .surgeryDelayed(_, let expectedAt, let reason):
            return surgeryDelayed(b, patient, jobs, expectedAt: expectedAt, reason: reason)
        case .surgeryPerformed(_, let at):
            var out = replanCall(b, jobs, because: "surgery performed at \(local(at))")
            for j in jobs where j.kind == .waitNotice && j.state.isPending {
                out.append(update(j, to: .cancelled, "surgery has taken place (\(local(at)))"))
            }
            return out
        case .surgeryCancelled(_, let reason), .openAccessCancelled(_, let reason), .appointmentCancelled(_, let reason):
            let why = "booking cancelled" + (reason.map { ": \($0)" } ?? "")
            return jobs.filter { $0.state.isPending }.map { update($0, to: .cancelled, why) }
        case .openAccessRescheduled:
            return openAccessRescheduled(b, patient, jobs)
        case .patientUpdated, .patientMerged:
            return []
        case .appointmentBooked, .treatmentCompleted:
            return rules.contacts.filter { $0.on == event.typeName && $0.applies(to: b) }.compactMap {
                createContact($0, b, patient, revision: 1, "planned by \(event.typeName)")
            }
        case .appointmentRescheduled:
            return contactsRescheduled(b, patient, jobs)
        }
    }

    // MARK: Configured contacts

    /// A configured contact's due time and expiry for `b` (`contacts.md`): a
    /// notice at once if its time has passed and held out of quiet hours when
    /// there is time; a call moved to the next open day. Without `expires` a
    /// notice due before the event expires at it, and one due after it a week
    /// after its due time; a call is escalated as the check-in call is.
    public func contactPlan(_ rule: ContactRule, _ b: Booking) -> (dueAt: Date, expiresAt: Date, callDay: LocalDate?, rule: String)? {
        let target = rule.send.instant(after: b.at, clock: clock)
        var words = "\(rule.words): \(rule.send) from \(local(b.at)) = \(local(target))"
        if rule.worklist != nil {
            let targetDay = clock.localDate(of: target)
            guard let day = rules.openDay(onOrAfter: targetDay) else { return nil }
            let due = day == targetDay ? target : clock.instant(on: day, at: clock.localDateTime(of: target).time)
            if day != targetDay { words += ", not an open call day, so \(day)" }
            var expires: Date
            if let e = rule.expires {
                expires = e.instant(after: b.at, clock: clock)
                words += "; escalated if not finished by \(local(expires)) (expires \(e))"
            } else {
                let escalationDay = rules.escalationDay(for: day)
                expires = clock.instant(on: escalationDay, at: rules.callWindow.end)
                words += "; escalated if not finished by \(rules.callWindow.end) on \(escalationDay)"
            }
            expires = max(expires, due)
            return (due, expires, day, words)
        }
        let expires = rule.expires.map { $0.instant(after: b.at, clock: clock) }
            ?? (target < b.at ? b.at : target.addingTimeInterval(7 * 86_400))
        var due = target
        if due < now {
            due = now
            words += "; that had passed when the event arrived, so due at once"
        }
        if rules.inQuietHours(due) {
            let end = rules.endOfQuietHours(containing: due)
            if end < expires {
                due = end
                words += "; inside quiet hours, so held until they end (\(local(end)))"
            }
        }
        if due > expires { due = expires }
        words += "; expires \(local(expires))"
        return (due, expires, nil, words)
    }

    private func createContact(_ rule: ContactRule, _ b: Booking, _ patient: Patient, revision: Int, _ reason: String) -> JobUpdate? {
        guard let p = contactPlan(rule, b) else { return nil }
        var job = Job(id: "\(rule.name)-\(b.ref)-\(revision)", kind: rule.kind, bookingKind: b.kind, ref: b.ref, patientID: b.patientID,
                      dueAt: p.dueAt, expiresAt: p.expiresAt, createdAt: now, revision: revision, ward: b.clinic,
                      callDay: p.callDay, rule: p.rule)
        job.worklist = rule.worklist
        return create(job, patient, reason)
    }

    /// An appointment moved: each contact not yet due follows it; a notice
    /// already sent goes again, revised; a contact whose filters no longer
    /// hold (say, the mode changed) is cancelled, one that now holds is planned.
    private func contactsRescheduled(_ b: Booking, _ patient: Patient, _ jobs: [Job]) -> [JobUpdate] {
        var out: [JobUpdate] = []
        let because = "appointment moved to \(local(b.at))"
        for rule in rules.contacts where rule.on == "appointment.booked" {
            let mine = jobs.filter { $0.kind == rule.kind }
            guard rule.applies(to: b) else {
                out += mine.filter { $0.state.isPending }.map { update($0, to: .cancelled, "no longer applies: \(because)") }
                continue
            }
            if let pending = mine.last(where: { $0.state.isPending }) {
                guard pending.attempts == 0, let p = contactPlan(rule, b) else { continue }
                var j = pending
                (j.dueAt, j.expiresAt, j.callDay, j.rule, j.ward) = (p.dueAt, p.expiresAt, p.callDay, p.rule, b.clinic)
                j.overdueSince = nil
                out.append(update(j, to: .scheduled, "re-planned: \(because)"))
            } else if !patient.deceased, mine.isEmpty || (rule.worklist == nil && mine.contains { $0.state == .done }) {
                let revision = (mine.map(\.revision).max() ?? 0) + 1
                let why = mine.isEmpty ? "planned by appointment.rescheduled" : "planned by appointment.rescheduled: the notice already went, so an update (revision \(revision))"
                if let u = createContact(rule, b, patient, revision: revision, why) { out.append(u) }
            }
        }
        return out
    }

    /// A check-in call the day after surgery and a wait notice on the day.
    private func surgeryBooked(_ b: Booking, _ patient: Patient) -> [JobUpdate] {
        var out: [JobUpdate] = []
        if let call = callPlan(b) {
            out.append(create(Job(id: "call-\(b.ref)", kind: .checkinCall, bookingKind: .surgery, ref: b.ref,
                                  patientID: b.patientID, dueAt: call.dueAt, expiresAt: call.expiresAt,
                                  createdAt: now, ward: b.ward, callDay: call.day, rule: call.rule),
                              patient, "planned by surgery.booked"))
        }
        let wait = waitPlan(b)
        out.append(create(Job(id: "wait-\(b.ref)-1", kind: .waitNotice, bookingKind: .surgery, ref: b.ref,
                              patientID: b.patientID, dueAt: wait.dueAt, expiresAt: wait.expiresAt, createdAt: now,
                              ward: b.ward, expectedAt: b.at, rule: wait.rule),
                          patient, "planned by surgery.booked"))
        return out
    }

    /// The planned wait notice follows the new date; one already gone is
    /// replaced by a new one for the new date.
    private func surgeryRescheduled(_ b: Booking, _ patient: Patient, _ jobs: [Job]) -> [JobUpdate] {
        var out: [JobUpdate] = []
        let waits = jobs.filter { $0.kind == .waitNotice }
        let plan = waitPlan(b)
        if let planned = waits.last(where: { $0.state == .scheduled }) {
            var j = planned
            j.dueAt = plan.dueAt
            j.expiresAt = plan.expiresAt
            j.expectedAt = b.at
            j.delayReason = nil
            j.rule = plan.rule
            j.ward = b.ward
            out.append(update(j, to: .scheduled, "re-planned: surgery rescheduled to \(local(b.at))"))
            for other in waits where other.state.isPending && other.id != planned.id {
                out.append(update(other, to: .cancelled, "replaced: surgery rescheduled"))
            }
        } else if !patient.deceased {
            for other in waits where other.state.isPending {
                out.append(update(other, to: .cancelled, "replaced: surgery rescheduled"))
            }
            out.append(create(Job(id: "wait-\(b.ref)-\(waits.count + 1)", kind: .waitNotice, bookingKind: .surgery,
                                  ref: b.ref, patientID: b.patientID, dueAt: plan.dueAt, expiresAt: plan.expiresAt,
                                  createdAt: now, ward: b.ward, expectedAt: b.at, rule: plan.rule),
                              patient, "planned by surgery.rescheduled"))
        }
        return out
    }

    /// A delay: the notice not yet sent carries it; once one has gone, a new
    /// notice (coalesced with others within `wait_notice.coalesce`).
    private func surgeryDelayed(_ b: Booking, _ patient: Patient, _ jobs: [Job], expectedAt: Date, reason: String) -> [JobUpdate] {
        let waits = jobs.filter { $0.kind == .waitNotice }
        let expected = local(expectedAt)
        // A notice not sent yet carries the new time and reason: the patient gets one notice.
        if let pending = waits.last(where: { $0.state.isPending }) {
            var j = pending
            j.expectedAt = expectedAt
            j.delayReason = reason
            j.expiresAt = expectedAt
            if j.dueAt > j.expiresAt { j.dueAt = j.expiresAt }
            j.rule += "; delayed: now expected at \(expected)"
            var out = [update(j, to: j.state, "delay: expected time now \(expected); the notice not yet sent carries it")]
            for other in waits where other.state.isPending && other.id != pending.id {
                out.append(update(other, to: .cancelled, "superseded by a later delay"))
            }
            return out
        }
        // A new notice only while the patient is waiting: the first notice's
        // moment has come (it is due or went), and surgery has not taken place.
        // Cancelled notices (surgery performed, booking moved, patient deceased) get none.
        guard !patient.deceased, b.performedAt == nil, let latest = waits.last, latest.state != .cancelled else {
            return []
        }
        // A new notice, at once, or when the coalescing window after the
        // last delay notice closes.
        var due = now
        var rule = "delay: surgery now expected at \(expected); due at once"
        if latest.id != "wait-\(b.ref)-1", latest.dueAt.addingTimeInterval(rules.waitCoalesce) > now {
            due = latest.dueAt.addingTimeInterval(rules.waitCoalesce)
            rule = "delay: surgery now expected at \(expected); held until \(local(due)) so delays within \(Self.words(rules.waitCoalesce)) of the last notice go as one"
        }
        if due > expectedAt { due = expectedAt }
        return [create(Job(id: "wait-\(b.ref)-\(waits.count + 1)", kind: .waitNotice, bookingKind: .surgery, ref: b.ref,
                           patientID: b.patientID, dueAt: due, expiresAt: expectedAt, createdAt: now, ward: b.ward,
                           expectedAt: expectedAt, delayReason: reason, rule: rule + "; expires at \(expected)"),
                       patient, "planned by surgery.delayed")]
    }

    /// Not yet sent: re-planned; already sent: a new revision.
    private func openAccessRescheduled(_ b: Booking, _ patient: Patient, _ jobs: [Job]) -> [JobUpdate] {
        let plan = openAccessPlan(b)
        let infos = jobs.filter { $0.kind == .openAccessInfo }
        if let pending = infos.last(where: { $0.state.isPending }) {
            var j = pending
            j.dueAt = plan.dueAt
            j.expiresAt = plan.expiresAt
            j.rule = plan.rule
            return [update(j, to: .scheduled, "re-planned: appointment moved to \(local(b.at))")]
        }
        guard !patient.deceased else { return [] }
        let revision = (infos.map(\.revision).max() ?? 0) + 1
        return [create(Job(id: "oa-\(b.ref)-\(revision)", kind: .openAccessInfo, bookingKind: .openAccess, ref: b.ref,
                           patientID: b.patientID, dueAt: plan.dueAt, expiresAt: plan.expiresAt, createdAt: now,
                           revision: revision, rule: plan.rule),
                       patient, "planned by open_access.rescheduled: the information already went, so an update (revision \(revision))")]
    }

    /// A patient's record changed: deceased cancels every pending job at once.
    /// A communication need that says call, recorded after a notice came
    /// due, stops that notice and puts a call in its place, as if it had
    /// been known when the notice came due (a scheduled one is judged then).
    /// (Opt-out is applied when a notice comes due; calls are kept.)
    public func patientChanged(_ patient: Patient, jobs: [Job]) -> [JobUpdate] {
        if patient.deceased { return jobs.filter { $0.state.isPending }.map { update($0, to: .cancelled, Self.deceasedReason) } }
        guard let need = rules.needs.callInstead(patient.communicationNeeds) else { return [] }
        let machine = JobStateMachine(rules: rules, now: now)
        let existing = Set(jobs.map(\.id))
        return jobs.filter { $0.isNotice && $0.state == .due }.flatMap { notice -> [JobUpdate] in
            let call = JobStateMachine.needsCallID(notice)
            let stop = update(notice, to: .suppressed, "communication need \"\(need.label)\" recorded: a call on the \(CommunicationNeeds.worklist) worklist instead (\(call))")
            return existing.contains(call) ? [stop] : [stop, machine.needsCall(for: notice, need: need)]
        }
    }

    /// Two patient records merged: the retired record's pending jobs go to
    /// the survivor (each with a line in its history), and a death on either
    /// record cancels them with the survivor's own.
    public func merged(_ retiredJobs: [Job], into survivor: Patient, survivorJobs: [Job]) -> [JobUpdate] {
        let moved = retiredJobs.filter { $0.state.isPending }.map {
            update($0.reassigned(to: survivor.id), to: $0.state, "patient records merged: now under the surviving record")
        }
        return moved + patientChanged(survivor, jobs: survivorJobs + moved.map(\.job))
    }

    private func replanCall(_ b: Booking, _ jobs: [Job], because: String) -> [JobUpdate] {
        guard var call = jobs.first(where: { $0.kind == .checkinCall }), call.state.isPending,
              call.attempts == 0, let plan = callPlan(b) else { return [] }
        call.dueAt = plan.dueAt
        call.expiresAt = plan.expiresAt
        call.callDay = plan.day
        call.overdueSince = nil
        call.rule = plan.rule
        call.ward = b.ward
        return [update(call, to: .scheduled, "re-planned: \(because)")]
    }

    /// Re-plans a job not yet due under changed rules (a reload); nil if
    /// nothing changes. A pending job of a contact no longer configured is
    /// cancelled.
    public func replan(_ job: Job, booking b: Booking) -> JobUpdate? {
        guard !job.kind.isMadeByTouchpoint else { return nil }
        let contact = job.kind.isBuiltIn ? nil : rules.contacts.first { $0.kind == job.kind }
        if !job.kind.isBuiltIn, contact == nil, job.state.isPending {
            return update(job, to: .cancelled, "contact \(job.kind) removed from the configuration")
        }
        guard job.state == .scheduled, let j = planned(job, b, contact: contact), j != job else { return nil }
        return update(j, to: .scheduled, "re-planned: the configuration changed (due \(local(job.dueAt)) -> \(local(j.dueAt)))")
    }

    /// Why a job was cancelled (or a notice suppressed) for a death, in its history.
    public static let deceasedReason = "patient recorded as deceased"

    /// A death recorded in error is undone (`undeceased`): each job the death
    /// cancelled (`deathCancelled`, by its history) whose booking stands is
    /// planned again by its rules; one whose time has passed stays cancelled,
    /// and its history says so. `actor` and `reason` go in every line.
    public func undeceased(_ deathCancelled: [Job], bookings: [Booking], actor: String, reason: String) -> [JobUpdate] {
        deathCancelled.compactMap { job in
            guard let b = bookings.first(where: { $0.kind == job.bookingKind && $0.ref == job.ref }), !b.cancelled else { return nil }
            let because = "the death was recorded in error (undone by \(actor): \(reason))"
            let contact = job.kind.isBuiltIn ? nil : rules.contacts.first { $0.kind == job.kind }
            var again = job
            again.state = .scheduled
            // A call already tried is not re-planned from the booking: it comes back now.
            if job.attempts > 0 { again.dueAt = max(job.dueAt, now) }
            let j = planned(again, b, contact: contact) ?? again
            guard now < j.expiresAt, job.kind.isBuiltIn || contact != nil else {
                return JobUpdate(job: job, change: JobChange(jobID: job.id, at: now, actor: actor, from: job.state, to: job.state,
                                                             reason: "not planned again after \(because): of no use since \(local(j.expiresAt))"))
            }
            return JobUpdate.transition(j, to: .scheduled, "planned again: \(because); due \(local(j.dueAt))", actor: actor, at: now)
        }
    }

    /// `job` with its due time and expiry as its rule gives them for `b`
    /// now; nil when its rule no longer plans it that way (a call already
    /// tried, a delay's notice, a contact whose filters no longer hold).
    private func planned(_ job: Job, _ b: Booking, contact: ContactRule?) -> Job? {
        var j = job
        switch job.kind {
        case .checkinCall:
            guard job.attempts == 0, let p = callPlan(b) else { return nil }
            (j.callDay, j.dueAt, j.expiresAt, j.rule) = (p.day, p.dueAt, p.expiresAt, p.rule)
        case .waitNotice:
            // Only the planned notice follows the rules; delay notices keep their time.
            guard job.id == "wait-\(b.ref)-1", job.delayReason == nil else { return nil }
            let p = waitPlan(b)
            (j.dueAt, j.expiresAt, j.rule) = (p.dueAt, p.expiresAt, p.rule)
        case .openAccessInfo:
            let p = openAccessPlan(b)
            (j.dueAt, j.expiresAt, j.rule) = (p.dueAt, p.expiresAt, p.rule)
        default:
            guard let rule = contact, job.attempts == 0, rule.applies(to: b), let p = contactPlan(rule, b) else { return nil }
            (j.dueAt, j.expiresAt, j.callDay, j.rule) = (p.dueAt, p.expiresAt, p.callDay, p.rule)
            j.worklist = rule.worklist
        }
        return j
    }

    // MARK: Helpers

    private func create(_ job: Job, _ patient: Patient, _ reason: String) -> JobUpdate {
        var j = job
        if patient.deceased {
            j.state = .cancelled
            return JobUpdate(job: j, change: JobChange(jobID: j.id, at: now, actor: Self.engine, from: nil, to: .cancelled,
                                                       reason: "not planned: \(Self.deceasedReason)"))
        }
        return JobUpdate(job: j, change: JobChange(jobID: j.id, at: now, actor: Self.engine, from: nil, to: j.state,
                                                   reason: "\(reason): due \(local(j.dueAt))"))
    }

    private func update(_ job: Job, to state: JobState, _ reason: String) -> JobUpdate {
        JobUpdate.transition(job, to: state, reason, actor: Self.engine, at: now)
    }

    public func local(_ d: Date) -> String {
        let l = clock.localDateTime(of: d)
        return "\(l.date) \(l.time)"
    }

    public static func words(_ seconds: TimeInterval) -> String {
        let s = Int(seconds.rounded())
        if s % 86_400 == 0 && s >= 86_400 { return "\(s / 86_400)d" }
        if s % 3600 == 0 && s >= 3600 { return "\(s / 3600)h" }
        if s >= 3600 { return "\(s / 3600)h \(s % 3600 / 60)m" }
        if s % 60 == 0 && s >= 60 { return "\(s / 60)m" }
        if s >= 60 { return "\(s / 60)m \(s % 60)s" }
        return "\(s)s"
    }
}
