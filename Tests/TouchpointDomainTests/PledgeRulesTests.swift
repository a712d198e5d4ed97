import Foundation
import Testing
@testable import TouchpointDomain

/// The report's counting rules (`report.md`), case by case, each category
/// with a booking in it and each boundary from both sides, with an injected
/// Europe/London clock.
@Suite struct PledgeRulesTests {
    /// Quiet hours 20:00-08:00, Open Access 7 days before, coalesce 10 min (the defaults).
    let rules = SchedulingRules(clock: london)
    let now = t("2026-12-20T12:00")

    func counter(_ now: Date? = nil) -> PledgeRules { PledgeRules(rules: rules, now: now ?? self.now) }

    func surgeryFacts(at: String = "2026-12-01T10:30", performed: String? = nil, cancelled: Bool = false,
                      _ contacts: [ContactFacts], delays: [DelayFact] = [], expected: String? = nil) -> BookingFacts {
        BookingFacts(kind: .surgery, ref: "S1", place: "Ward 7", at: t(at), performedAt: performed.map { t($0) },
                     expectedAt: expected.map { t($0) }, cancelled: cancelled, contacts: contacts, delays: delays)
    }

    /// A call planned for Wed 2 Dec (surgery Tue 1 Dec), due 09:00.
    func call(day: String = "2026-12-02", state: JobState = .due, attempts: [(String, CallOutcome)] = [], outcome: CallOutcome? = nil,
              cancelledAt: String? = nil, escalated: Bool = false) -> ContactFacts {
        ContactFacts(id: "call-S1", kind: .checkinCall, state: state, dueAt: t("\(day)T09:00"), createdAt: t("2026-11-20T10:00"),
                     callDay: LocalDate(iso: day), outcome: outcome ?? attempts.last?.1,
                     attempts: attempts.map { CallAttempt(at: t($0.0), by: "alice", outcome: $0.1, woundCare: $0.1 == .reached ? true : nil, note: nil) },
                     attemptCount: attempts.count, cancelledAt: cancelledAt.map { t($0) }, escalated: escalated)
    }

    func category(_ b: BookingFacts, _ p: Pledge, now: Date? = nil) -> PledgeMeasure? {
        counter(now).entries(b).first { $0.pledge == p }.map { $0.category ?? .excluded }
    }

    // MARK: Check-in calls

    @Test func theFirstAttemptOnThePlannedDayCountsUpTo2359() {
        let onDay = surgeryFacts([call(state: .done, attempts: [("2026-12-02T23:59", .reached)])])
        #expect(category(onDay, .checkinCall) == .calledOnDay)
        let nextDay = surgeryFacts([call(state: .done, attempts: [("2026-12-03T00:00", .reached)])])
        #expect(category(nextDay, .checkinCall) == .calledLater)
        // The first attempt decides, not the one that reached her.
        let tried = surgeryFacts([call(state: .done, attempts: [("2026-12-02T16:00", .noAnswer), ("2026-12-03T10:00", .reached)])])
        #expect(category(tried, .checkinCall) == .calledOnDay)
        #expect(category(surgeryFacts([call()]), .checkinCall) == .notCalled)
        let notRequired = surgeryFacts([call(state: .done, attempts: [("2026-12-02T10:00", .notRequired)])])
        #expect(category(notRequired, .checkinCall) == .notRequired)
    }

    @Test func aClosedDayMovesThePlannedDay() throws {
        // Surgery Thu 24 Dec; Fri 25 Dec is closed, so the call is planned for Mon 28 Dec... unless open.
        var closed = rules
        closed.closedDates = [LocalDate(iso: "2026-12-25")!, LocalDate(iso: "2026-12-26")!, LocalDate(iso: "2026-12-27")!]
        let b = Booking(kind: .surgery, ref: "S1", patientID: "P1", at: t("2026-12-24T10:30"), ward: "Ward 7")
        let planned = try #require(Planner(rules: closed, now: t("2026-12-20T10:00")).plan(booked(b), booking: b, patient: ann, jobs: [])
            .first { $0.job.kind == .checkinCall }?.job)
        #expect(planned.callDay == LocalDate(iso: "2026-12-28"))
        let facts = surgeryFacts(at: "2026-12-24T10:30", [ContactFacts(
            id: planned.id, kind: .checkinCall, state: .done, dueAt: planned.dueAt, createdAt: planned.createdAt, callDay: planned.callDay,
            outcome: .reached, attempts: [CallAttempt(at: t("2026-12-28T09:30"), by: "alice", outcome: .reached, woundCare: true, note: nil)],
            attemptCount: 1)])
        #expect(PledgeRules(rules: closed, now: t("2026-12-29T12:00")).entries(facts).first?.category == .calledOnDay)
    }

    @Test func aBookingCancelledBeforeItsCallWasDueIsExcludedAndAfterItIsCounted() {
        let before = surgeryFacts(cancelled: true, [call(state: .cancelled, cancelledAt: "2026-12-01T20:00")])
        #expect(category(before, .checkinCall) == .excluded)
        let after = surgeryFacts(cancelled: true, [call(state: .cancelled, cancelledAt: "2026-12-02T12:00")])
        #expect(category(after, .checkinCall) == .notCalled)
        // Not yet due: not in the report at all.
        #expect(category(surgeryFacts([call(state: .scheduled)]), .checkinCall, now: t("2026-12-02T08:00")) == nil)
    }

    @Test func aSurgeryPerformedOnAnotherDayIsCountedOnThatDay() {
        let b = surgeryFacts(at: "2026-12-01T10:30", performed: "2026-12-03T14:00",
                             [call(day: "2026-12-04", state: .done, attempts: [("2026-12-04T09:10", .reached)])])
        let e = counter().entries(b).first { $0.pledge == .checkinCall }
        #expect(e?.anchor == LocalDate(iso: "2026-12-03") && e?.category == .calledOnDay)
    }

    @Test func reachedWoundCareDeclinedAndEscalatedAreCountedBeside() {
        let b = surgeryFacts([call(state: .done, attempts: [("2026-12-02T10:00", .noAnswer), ("2026-12-02T12:00", .reached)], escalated: true)])
        let e = counter().entries(b).first!
        #expect(e.extras == [.reached: 1, .woundCareDiscussed: 1, .escalated: 1])
        let declined = surgeryFacts([call(state: .done, attempts: [("2026-12-02T10:00", .declined)])])
        #expect(counter().entries(declined).first!.extras == [.declined: 1])
    }

    // MARK: Wait notices

    func notice(_ id: String = "wait-S1-1", due: String = "2026-12-01T06:00", sent: String? = nil, state: JobState = .done,
                expected: String = "2026-12-01T10:30", failed: String? = nil, created: String = "2026-11-20T10:00") -> ContactFacts {
        ContactFacts(id: id, kind: .waitNotice, state: state, dueAt: t(due), createdAt: t(created), expectedAt: t(expected),
                     sentAt: sent.map { t($0) }, failedAt: failed.map { t($0) })
    }

    @Test func aWaitNoticeInformsWhenAcceptedBeforeTheSurgery() {
        #expect(category(surgeryFacts([notice(sent: "2026-12-01T06:00")]), .waitNotice) == .informed)
        #expect(category(surgeryFacts([notice(sent: "2026-12-01T10:31")]), .waitNotice) == .notSent, "after the expected time")
        #expect(category(surgeryFacts([notice(state: .suppressed)]), .waitNotice) == .suppressed)
        #expect(category(surgeryFacts([notice(state: .failed, failed: "2026-12-01T06:05")]), .waitNotice) == .failed)
        #expect(category(surgeryFacts([notice(state: .expired)]), .waitNotice) == .notSent)
        // Receipts (notify): delivered is counted beside; a failure that came back fails it.
        var delivered = notice(sent: "2026-12-01T06:00")
        delivered.delivery = .delivered
        let entry = counter().entries(surgeryFacts([delivered])).first { $0.pledge == .waitNotice }
        #expect(entry?.category == .informed && entry?.extras[.delivered] == 1)
        var bounced = notice(sent: "2026-12-01T06:00", failed: "2026-12-01T06:10")
        bounced.delivery = .permanentFailure
        #expect(category(surgeryFacts([bounced]), .waitNotice) == .failed)
        // Delayed to 14:00: a notice at 11:00 still informs.
        #expect(category(surgeryFacts([notice(sent: "2026-12-01T11:00", expected: "2026-12-01T14:00")], expected: "2026-12-01T14:00"), .waitNotice) == .informed)
    }

    @Test func aDelayIsNotifiedWithinTheCoalesceWindowAndFiveMinutesNotASecondLater() {
        // Coalesce 10 min: the window is 15 min after the delay was learnt.
        let delay = DelayFact(at: t("2026-12-01T08:00"), expectedAt: t("2026-12-01T13:00"))
        func facts(sentAt: String) -> BookingFacts {
            surgeryFacts([notice(sent: "2026-12-01T06:00"),
                          notice("wait-S1-2", due: "2026-12-01T08:00", sent: sentAt, expected: "2026-12-01T13:00", created: "2026-12-01T08:00")],
                         delays: [delay], expected: "2026-12-01T13:00")
        }
        let atLimit = counter().entries(facts(sentAt: "2026-12-01T08:15:00")).first { $0.pledge == .waitNotice }!
        #expect(atLimit.extras == [.delays: 1, .delaysNotified: 1])
        let late = counter().entries(facts(sentAt: "2026-12-01T08:15:01")).first { $0.pledge == .waitNotice }!
        #expect(late.extras == [.delays: 1])
        // A delay learnt before the first notice was due, or on another day, is not counted.
        let early = surgeryFacts([notice(sent: "2026-12-01T06:00")], delays: [DelayFact(at: t("2026-12-01T05:00"), expectedAt: t("2026-12-01T13:00"))])
        #expect(counter().entries(early).first { $0.pledge == .waitNotice }!.extras.isEmpty)
    }

    // MARK: Open Access

    func openAccess(at: String = "2026-12-15T10:00", bookedAt: String? = "2026-12-01T10:00", _ contacts: [ContactFacts]) -> BookingFacts {
        BookingFacts(kind: .openAccess, ref: "O1", place: "Clinic A", at: t(at), bookedAt: bookedAt.map { t($0) }, contacts: contacts)
    }

    func info(due: String = "2026-12-08T10:00", sent: String? = nil, state: JobState = .done) -> ContactFacts {
        ContactFacts(id: "oa-O1-1", kind: .openAccessInfo, state: state, dueAt: t(due), createdAt: t("2026-12-01T10:00"), sentAt: sent.map { t($0) })
    }

    @Test func informationExactlyDaysBeforeIsInTimeADayLessIsLate() {
        // Appointment Tue 15 Dec; 7 days before is Tue 8 Dec (by local date).
        #expect(category(openAccess([info(sent: "2026-12-08T23:59")]), .openAccessInfo) == .inTime)
        #expect(category(openAccess([info(sent: "2026-12-09T00:00")]), .openAccessInfo) == .late)
        #expect(category(openAccess([info(sent: "2026-12-15T10:01")]), .openAccessInfo) == .notSent, "after the appointment")
        #expect(category(openAccess([info(state: .suppressed)]), .openAccessInfo) == .suppressed)
        #expect(category(openAccess([info(state: .expired)]), .openAccessInfo) == .notSent)
        #expect(category(openAccess([info(state: .failed)]), .openAccessInfo) == .failed)
        // Sent, then its delivery failed: failed, not in time.
        var bounced = info(sent: "2026-12-08T10:00")
        bounced.failedAt = t("2026-12-08T10:20")
        #expect(category(openAccess([bounced]), .openAccessInfo) == .failed)
        // Cancelled before the information was due: excluded; after it was sent: counted as sent.
        var cancelled = openAccess([info(state: .cancelled)])
        cancelled.cancelled = true
        cancelled.contacts[0].cancelledAt = t("2026-12-07T12:00")
        #expect(category(cancelled, .openAccessInfo) == .excluded)
        var cancelledAfter = openAccess([info(sent: "2026-12-08T10:00")])
        cancelledAfter.cancelled = true
        #expect(category(cancelledAfter, .openAccessInfo) == .inTime)
    }

    @Test func aLateBookingSentWithinAnHourOfBookingOrOfTheEndOfQuietHoursIsInTime() {
        // Booked Sat 12 Dec 10:00 for Tue 15 Dec: three days ahead.
        let late = "2026-12-12T10:00"
        #expect(category(openAccess(bookedAt: late, [info(due: late, sent: "2026-12-12T11:00")]), .openAccessInfo) == .inTimeLateBooking)
        #expect(category(openAccess(bookedAt: late, [info(due: late, sent: "2026-12-12T11:00:01")]), .openAccessInfo) == .late)
        // Booked at 22:00, in quiet hours (20:00-08:00): within an hour of 08:00 next day.
        let night = "2026-12-12T22:00"
        #expect(category(openAccess(bookedAt: night, [info(due: "2026-12-13T08:00", sent: "2026-12-13T08:45")]), .openAccessInfo) == .inTimeLateBooking)
        #expect(category(openAccess(bookedAt: night, [info(due: "2026-12-13T08:00", sent: "2026-12-13T09:30")]), .openAccessInfo) == .late)
        // Not due yet: not counted.
        #expect(category(openAccess([info(state: .scheduled)]), .openAccessInfo, now: t("2026-12-05T12:00")) == nil)
    }

    // MARK: The report

    @Test func theReportCountsHeadlinesByWardAndMonth() {
        let bookings = [
            surgeryFacts([call(state: .done, attempts: [("2026-12-02T10:00", .reached)])]),
            BookingFacts(kind: .surgery, ref: "S2", place: "Ward 9", at: t("2026-11-10T10:00"), contacts: [
                ContactFacts(id: "call-S2", kind: .checkinCall, state: .due, dueAt: t("2026-11-11T09:00"), createdAt: t("2026-11-01T10:00"),
                             callDay: LocalDate(iso: "2026-11-11")),
            ]),
            surgeryFacts(at: "2026-12-05T10:00", [call(day: "2026-12-06", state: .done, attempts: [("2026-12-06T10:00", .notRequired)])]),
        ]
        let r = PledgeReport.make(bookings, from: LocalDate(iso: "2026-11-01")!, to: LocalDate(iso: "2026-12-31")!, place: nil, rules: counter(),
                                  listing: (.checkinCall, .notCalled))
        let calls = r.results.first { $0.pledge == .checkinCall }!
        #expect(calls.counted == 3 && calls.headline == Headline(1, of: 2))
        #expect(calls.byPlace["Ward 9"]?[.notCalled] == 1 && calls.byPlace["Ward 7"]?[.calledOnDay] == 1)
        #expect(calls.listed[.notCalled]?.map(\.job) == ["call-S2"])
        #expect(r.months.map(\.month) == ["2026-11", "2026-12"])
        #expect(r.months[0].headlines[.checkinCall] == Headline(0, of: 1) && r.months[1].headlines[.checkinCall] == Headline(1, of: 1))
        #expect(Headline(0, of: 0).percent == nil)
        let ward7 = PledgeReport.make(bookings, from: LocalDate(iso: "2026-11-01")!, to: LocalDate(iso: "2026-12-31")!, place: "Ward 7", rules: counter())
        #expect(ward7.results.first!.counted == 2)
    }
}
