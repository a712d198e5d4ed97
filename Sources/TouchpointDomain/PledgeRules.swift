import Foundation

/// The report's counting rules (`report.md`), over one booking's facts at a
/// time: which promise it counts for, on which day, in which category, and
/// what it adds to the other measures. Pure: the same facts, rules and
/// `now` always count the same.
///
/// Choices where `report.md` leaves room (also in `docs/design.md`):
/// - A call closed as `not_required` is `not_required` even if attempts came
///   before (it leaves the headline's denominator either way).
/// - A call's first attempt is its first outcome other than `not_required`;
///   calls recorded before every outcome was kept (migration v6) have only
///   their last, which stands in for the first.
/// - A wait notice informs if it was accepted before the surgery's expected
///   time as last known (a delay's new time, else the booked time); a notice
///   that later failed does not inform.
/// - Open Access information sent after the appointment is `not_sent`.
/// - A notice whose delivery receipt came back as a failure has failed (at
///   the receipt's time), unless it went by the other channel and that was
///   delivered; `delivered` counts the notices whose receipt says so.
/// - A booking counts once its first contact has come due; one cancelled
///   (or whose patient died) before then is `excluded`.
public struct PledgeRules: Sendable {
    public let rules: SchedulingRules
    public let now: Date

    public init(rules: SchedulingRules, now: Date) {
        self.rules = rules
        self.now = now
    }

    var clock: HospitalClock { rules.clock }

    /// Where a booking lands, for each promise it belongs to; none while its
    /// first contact is not yet due.
    public func entries(_ b: BookingFacts) -> [PledgeEntry] {
        switch b.kind {
        case .surgery:
            return [checkinCall(b), waitNotice(b)].compactMap { $0 }
        case .openAccess:
            return [openAccessInfo(b)].compactMap { $0 }
        case .appointment, .treatment:
            return []
        }
    }

    /// The surgery's day: when it was performed if known, else as booked.
    func surgeryDay(_ b: BookingFacts) -> LocalDate { clock.localDate(of: b.performedAt ?? b.at) }

    /// Excluded: the contact was cancelled before it came due, because the
    /// booking was cancelled or the patient died.
    func excludedBeforeDue(_ c: ContactFacts, _ b: BookingFacts) -> Bool {
        guard c.state == .cancelled, let at = c.cancelledAt, b.cancelled || b.patientDeceased else { return false }
        return at < c.dueAt
    }

    func listed(_ c: ContactFacts, _ b: BookingFacts, _ day: LocalDate) -> PledgeEntry.Listed {
        PledgeEntry.Listed(job: c.id, ref: b.ref, place: b.place, date: day, state: c.state)
    }

    // MARK: 1. Check-in calls

    func checkinCall(_ b: BookingFacts) -> PledgeEntry? {
        guard let call = b.contacts.first(where: { $0.kind == .checkinCall }) else { return nil }
        let day = surgeryDay(b)
        let entry = PledgeEntry(pledge: .checkinCall, anchor: day, place: b.place, category: nil, extras: [:],
                                contact: listed(call, b, day))
        if excludedBeforeDue(call, b) { return entry }
        guard call.dueAt <= now || call.attemptCount > 0 || !call.attempts.isEmpty else { return nil }
        var e = entry
        e.category = callCategory(call)
        let outcomes = call.attempts.isEmpty ? (call.outcome.map { [$0] } ?? []) : call.attempts.map(\.outcome)
        if outcomes.contains(.reached) {
            e.extras[.reached] = 1
            let wound = call.attempts.last(where: { $0.outcome == .reached })?.woundCare
            if wound == true { e.extras[.woundCareDiscussed] = 1 }
        }
        if outcomes.contains(.declined) { e.extras[.declined] = 1 }
        if call.escalated || call.state == .escalated { e.extras[.escalated] = 1 }
        if b.contacts.contains(where: { $0.kind == .concernFollowUp }) { e.extras[.concernsFound] = 1 }
        return e
    }

    func callCategory(_ call: ContactFacts) -> PledgeMeasure {
        if call.state == .done && call.outcome == .notRequired { return .notRequired }
        let first: Date? = call.attempts.isEmpty
            ? (call.outcome == .notRequired ? nil : call.lastAttemptAt)
            : call.attempts.first(where: { $0.outcome != .notRequired })?.at
        guard let first else { return .notCalled }
        let planned = call.callDay ?? clock.localDate(of: call.dueAt)
        return clock.localDate(of: first) <= planned ? .calledOnDay : .calledLater
    }

    // MARK: 2. Wait notices

    func waitNotice(_ b: BookingFacts) -> PledgeEntry? {
        let notices = b.contacts.filter { $0.kind == .waitNotice }.sorted { $0.createdAt < $1.createdAt }
        guard let first = notices.first else { return nil }
        let day = surgeryDay(b)
        let entry = PledgeEntry(pledge: .waitNotice, anchor: day, place: b.place, category: nil, extras: [:],
                                contact: listed(first, b, day))
        if excludedBeforeDue(first, b) { return entry }
        guard first.dueAt <= now || first.sentAt != nil else { return nil }
        var e = entry
        e.category = noticeCategory(notices, before: b.expectedAt ?? b.at)
        if notices.contains(where: { $0.delivery == .delivered }) { e.extras[.delivered] = 1 }
        if notices.contains(where: { $0.delivery == .sent }) { e.extras[.sentNoReceipt] = 1 }
        // Delays on the day of surgery, once the first notice was due or sent.
        let firstDueOrSent = min(first.dueAt, first.sentAt ?? first.dueAt)
        let counted = b.delays.filter { clock.localDate(of: $0.at) == day && $0.at >= firstDueOrSent }
        if !counted.isEmpty {
            e.extras[.delays] = counted.count
            let window = rules.waitCoalesce + 5 * 60
            let notified = counted.filter { d in
                notices.contains { n in
                    guard let sent = n.sentAt, n.failedAt == nil || n.failedAt! < sent else { return false }
                    return sent >= d.at && sent <= d.at.addingTimeInterval(window) && (n.expectedAt ?? .distantPast) >= d.expectedAt
                }
            }
            if !notified.isEmpty { e.extras[.delaysNotified] = notified.count }
        }
        return e
    }

    /// informed (accepted before `deadline`, no failure after), failed,
    /// suppressed, or not_sent, in that order.
    func noticeCategory(_ notices: [ContactFacts], before deadline: Date) -> PledgeMeasure {
        if notices.contains(where: { n in n.sentAt.map { $0 < deadline } == true && n.failedAt == nil }) { return .informed }
        if notices.contains(where: { $0.failedAt != nil || $0.state == .failed }) { return .failed }
        if notices.contains(where: { $0.state == .suppressed }) && !notices.contains(where: { $0.sentAt != nil }) { return .suppressed }
        return .notSent
    }

    // MARK: 3. Open Access information

    func openAccessInfo(_ b: BookingFacts) -> PledgeEntry? {
        let infos = b.contacts.filter { $0.kind == .openAccessInfo }.sorted { $0.createdAt < $1.createdAt }
        guard let first = infos.first else { return nil }
        let day = clock.localDate(of: b.at)
        let entry = PledgeEntry(pledge: .openAccessInfo, anchor: day, place: b.place, category: nil, extras: [:],
                                contact: listed(first, b, day))
        if excludedBeforeDue(first, b) { return entry }
        guard infos.contains(where: { $0.dueAt <= now || $0.sentAt != nil }) else { return nil }
        var e = entry
        e.category = openAccessCategory(infos, b, day)
        if infos.contains(where: { $0.delivery == .delivered }) { e.extras[.delivered] = 1 }
        if infos.contains(where: { $0.delivery == .sent }) { e.extras[.sentNoReceipt] = 1 }
        return e
    }

    func openAccessCategory(_ infos: [ContactFacts], _ b: BookingFacts, _ day: LocalDate) -> PledgeMeasure {
        let sent = infos.compactMap { n -> Date? in
            guard let s = n.sentAt, n.failedAt == nil else { return nil }
            return s
        }.min()
        guard let sent, sent < b.at else {
            let general = noticeCategory(infos, before: b.at)
            return general == .informed ? .notSent : general
        }
        let latestInTime = day.adding(days: -rules.openAccessDaysBefore)
        if clock.localDate(of: sent) <= latestInTime { return .inTime }
        if let booked = b.bookedAt, clock.localDate(of: booked) > latestInTime,
           sent.timeIntervalSince(endOfQuietHours(from: booked)) <= 3600 {
            return .inTimeLateBooking
        }
        return .late
    }

    /// `at`, or the end of the quiet hours it falls in.
    func endOfQuietHours(from at: Date) -> Date {
        guard let quiet = rules.quietHours else { return at }
        let local = clock.localDateTime(of: at)
        guard quiet.contains(local.time) else { return at }
        // It ends at its end time: tomorrow when it crosses midnight and `at` is before midnight.
        let endDay = quiet.crossesMidnight && local.time >= quiet.start ? local.date.adding(days: 1) : local.date
        return clock.instant(on: endDay, at: quiet.end)
    }
}
