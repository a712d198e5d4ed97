import Foundation
import Testing
@testable import TouchpointDomain

let london = HospitalClock(identifier: "Europe/London")!

/// An instant from a local London time, or an RFC 3339 time with offset.
func t(_ s: String, _ clock: HospitalClock = london) -> Date { try! Timestamp.parse(s, clock: clock).get() }
func utc(_ d: Date) -> String { Timestamp.rfc3339(d) }

func surgery(_ at: String, ref: String = "S1", admit: String? = nil, clock: HospitalClock = london) -> Booking {
    Booking(kind: .surgery, ref: ref, patientID: "P1", at: t(at, clock), ward: "Ward 7", admitAt: admit.map { t($0, clock) })
}

func openAccess(_ at: String, ref: String = "O1") -> Booking {
    Booking(kind: .openAccess, ref: ref, patientID: "P1", at: t(at), clinic: "Breast clinic")
}

let ann = Patient(id: "P1", name: "Ann Example", phone: "+447700900123", channel: .sms)

func booked(_ b: Booking) -> QueueEvent {
    .surgeryBooked(ref: b.ref, patient: PatientDetails(id: "P1"), at: b.at, ward: b.ward!, procedure: nil, admitAt: b.admitAt)
}

@Suite struct CheckInCallTests {
    let rules = SchedulingRules(clock: london)

    func call(_ b: Booking, rules: SchedulingRules? = nil, now: String = "2026-01-01T00:00Z") -> Job {
        let p = Planner(rules: rules ?? self.rules, now: t(now))
        return p.plan(booked(b), booking: b, patient: ann, jobs: []).first { $0.job.kind == .checkinCall }!.job
    }

    @Test func dueAtNineTheDayAfterSurgeryInLocalTime() {
        #expect(utc(call(surgery("2026-12-01T08:30")).dueAt) == "2026-12-02T09:00:00Z")
        #expect(utc(call(surgery("2026-07-01T08:30")).dueAt) == "2026-07-02T08:00:00Z")
    }

    @Test(arguments: [
        // Around the spring change (2026-03-29): 09:00 local every day, whatever the offset.
        ("2026-03-27T10:00", "2026-03-28T09:00:00Z"),
        ("2026-03-28T10:00", "2026-03-29T08:00:00Z"),  // the call is on the change day: 09:00 BST
        ("2026-03-29T01:30", "2026-03-30T08:00:00Z"),  // surgery inside the gap
        ("2026-03-29T10:00", "2026-03-30T08:00:00Z"),
        ("2026-03-30T10:00", "2026-03-31T08:00:00Z"),
        // Around the autumn change (2026-10-25).
        ("2026-10-23T10:00", "2026-10-24T08:00:00Z"),
        ("2026-10-24T10:00", "2026-10-25T09:00:00Z"),  // the call is on the change day: 09:00 GMT
        ("2026-10-25T01:30", "2026-10-26T09:00:00Z"),  // surgery in the repeated hour
        ("2026-10-25T10:00", "2026-10-26T09:00:00Z"),
        ("2026-10-26T10:00", "2026-10-27T09:00:00Z"),
    ])
    func acrossBothUKClockChanges(at: String, due: String) {
        #expect(utc(call(surgery(at)).dueAt) == due)
    }

    @Test func lateEveningSurgeryJustBeforeTheChangeKeepsItsLocalDate() {
        // 23:30 BST on 24 Oct is 22:30Z: the local date is still the 24th.
        #expect(utc(call(surgery("2026-10-24T23:30")).dueAt) == "2026-10-25T09:00:00Z")
    }

    @Test func closedDatesAndDaysMoveTheCallToTheNextOpenDay() {
        var r = rules
        r.closedDates = [LocalDate(year: 2026, month: 12, day: 25), LocalDate(year: 2026, month: 12, day: 28)]
        r.callDays = Set(1...5)  // weekdays
        // Surgery Thu 24 Dec: the 25th is closed, 26/27 a weekend, 28th closed: Tue 29 Dec.
        let j = call(surgery("2026-12-24T10:00"), rules: r)
        #expect(utc(j.dueAt) == "2026-12-29T09:00:00Z")
        #expect(j.callDay == LocalDate(year: 2026, month: 12, day: 29))
        // Escalation after 2 open days overdue: Wed 30, Thu 31 Dec, at the window end.
        #expect(utc(j.expiresAt) == "2026-12-31T17:00:00Z")
        #expect(j.rule.contains("not an open call day"))
    }

    @Test func closedDaysFromAnICSCalendar() {
        let ics = """
            BEGIN:VCALENDAR\r
            VERSION:2.0\r
            BEGIN:VEVENT\r
            DTSTART;VALUE=DATE:20261225\r
            DTEND;VALUE=DATE:20261226\r
            SUMMARY:Christmas Day\r
            END:VEVENT\r
            BEGIN:VEVENT\r
            DTSTART;VALUE=DATE:20261228\r
            DTEND;VALUE=DATE:20261230\r
            SUMMARY:Boxing Day (substitute) and a closure\r
            END:VEVENT\r
            END:VCALENDAR\r

            """
        let days = ClosedDaysICS.dates(in: ics)
        #expect(days == [LocalDate(year: 2026, month: 12, day: 25), LocalDate(year: 2026, month: 12, day: 28), LocalDate(year: 2026, month: 12, day: 29)])
        var r = rules
        r.closedDates = days
        #expect(utc(call(surgery("2026-12-27T10:00"), rules: r).dueAt) == "2026-12-30T09:00:00Z")
    }

    @Test func performedRebasesAndRescheduleReplans() throws {
        let p = Planner(rules: rules, now: t("2026-11-30T12:00Z"))
        var b = surgery("2026-12-01T08:30")
        let jobs = p.plan(booked(b), booking: b, patient: ann, jobs: []).map(\.job)
        b.performedAt = t("2026-12-03T14:00")
        let u = p.plan(.surgeryPerformed(ref: "S1", at: b.performedAt!), booking: b, patient: ann, jobs: jobs)
        let call = try #require(u.first { $0.job.kind == .checkinCall })
        #expect(utc(call.job.dueAt) == "2026-12-04T09:00:00Z")
        #expect(call.change.reason.contains("surgery performed"))
        // The pending wait notice is cancelled once surgery has taken place.
        #expect(u.contains { $0.job.kind == .waitNotice && $0.job.state == .cancelled })
    }

    @Test func aDueCallCarriesOverAsOverdueThenEscalates() {
        let r = rules
        var job = call(surgery("2026-12-01T08:30"))  // call day Wed 2 Dec
        func advance(_ now: String) -> JobUpdate? {
            JobStateMachine(rules: r, now: t(now)).advance(job, patient: ann, channel: .sms)
        }
        #expect(advance("2026-12-02T08:59") == nil)
        job = advance("2026-12-02T09:00")!.job
        #expect(job.state == .due)
        #expect(job.nextCheck(rules: r) == t("2026-12-02T17:00"))
        job = advance("2026-12-02T17:00")!.job
        #expect(job.state == .due && job.overdueSince == LocalDate(year: 2026, month: 12, day: 2))
        #expect(utc(job.dueAt) == "2026-12-03T09:00:00Z")
        job = advance("2026-12-03T17:00")!.job
        #expect(job.state == .due && utc(job.dueAt) == "2026-12-04T09:00:00Z")
        let last = advance("2026-12-04T17:00")!
        #expect(last.job.state == .escalated)
        #expect(last.change.reason.contains("2 open day(s) overdue"))
    }

    @Test func aCallIsKeptForAPatientWhoOptedOutButNotForOneWhoDied() {
        var optedOut = ann
        optedOut.optedOut = true
        let b = surgery("2026-12-01T08:30")
        let p = Planner(rules: rules, now: t("2026-11-01T00:00Z"))
        let kept = p.plan(booked(b), booking: b, patient: optedOut, jobs: [])
        #expect(kept.contains { $0.job.kind == .checkinCall && $0.job.state == .scheduled }, "the call is kept for a patient who opted out")
        var dead = ann
        dead.deceased = true
        let planned = p.plan(booked(b), booking: b, patient: dead, jobs: [])
        // Not vacuous: the same jobs as for the living patient, each cancelled.
        #expect(!planned.isEmpty && planned.count == kept.count && planned.allSatisfy { $0.job.state == .cancelled }, "\(planned.map(\.job.state))")
        let jobs = p.plan(booked(b), booking: b, patient: ann, jobs: []).map(\.job)
        let cancelled = p.patientChanged(dead, jobs: jobs)
        #expect(cancelled.count == 2 && cancelled.allSatisfy { $0.job.state == .cancelled })
    }
}

@Suite struct WaitNoticeTests {
    let rules = SchedulingRules(clock: london)

    func planned(_ b: Booking, now: String = "2026-01-01T00:00Z") -> [Job] {
        Planner(rules: rules, now: t(now)).plan(booked(b), booking: b, patient: ann, jobs: []).map(\.job)
    }

    func wait(_ b: Booking) -> Job { planned(b).first { $0.kind == .waitNotice }! }

    @Test func dueTwoHoursBeforeOrAtAdmissionNeverBeforeSix() {
        #expect(utc(wait(surgery("2026-12-01T10:30")).dueAt) == "2026-12-01T08:30:00Z")
        #expect(utc(wait(surgery("2026-12-01T10:30", admit: "2026-12-01T07:15")).dueAt) == "2026-12-01T07:15:00Z")
        #expect(utc(wait(surgery("2026-12-01T07:30")).dueAt) == "2026-12-01T06:00:00Z")
        #expect(utc(wait(surgery("2026-12-01T07:30")).expiresAt) == "2026-12-01T07:30:00Z")
    }

    @Test func onBothClockChangeDays() {
        // 08:30 BST on 29 Mar: two hours before is 06:30 BST (05:30Z); 06:00 floor is 05:00Z.
        #expect(utc(wait(surgery("2026-03-29T08:30")).dueAt) == "2026-03-29T05:30:00Z")
        // 07:30 on 29 Mar: 05:30 BST would be before 06:00 BST: held to 06:00 BST = 05:00Z.
        #expect(utc(wait(surgery("2026-03-29T07:30")).dueAt) == "2026-03-29T05:00:00Z")
        // 07:30 GMT on 25 Oct: 2h before is 05:30 GMT, below 06:00 GMT: 06:00Z.
        #expect(utc(wait(surgery("2026-10-25T07:30")).dueAt) == "2026-10-25T06:00:00Z")
        // 02:30 GMT on 25 Oct (after the repeated hour): its notice cannot come before 06:00: it expires unsent.
        let early = wait(surgery("2026-10-25T02:30"))
        #expect(early.dueAt <= early.expiresAt)
        #expect(early.rule.contains("expires unsent"))
    }

    @Test func aDelayBeforeTheNoticeChangesThePlannedNotice() {
        let b0 = surgery("2026-12-01T10:30")
        let jobs = planned(b0)
        var b = b0
        b.expectedAt = t("2026-12-01T12:00")
        b.delayReason = "an emergency operation needed the theatre first"
        let p = Planner(rules: rules, now: t("2026-11-30T18:00Z"))
        let u = p.plan(.surgeryDelayed(ref: "S1", expectedAt: b.expectedAt!, reason: b.delayReason!), booking: b, patient: ann, jobs: jobs)
        #expect(u.count == 1)
        #expect(u[0].job.id == "wait-S1-1")
        #expect(u[0].job.expectedAt == b.expectedAt && u[0].job.delayReason == b.delayReason)
        #expect(utc(u[0].job.dueAt) == "2026-12-01T08:30:00Z")
        #expect(u[0].job.expiresAt == b.expectedAt)
    }

    @Test func delaysWhileWaitingAreSentAndCoalesced() {
        var jobs = planned(surgery("2026-12-01T10:30"))
        // The first notice went at 08:30.
        jobs = jobs.map { j in var j = j; if j.kind == .waitNotice { j.state = .done }; return j }
        var b = surgery("2026-12-01T10:30")
        func delay(_ now: String, _ expected: String, _ reason: String) -> [JobUpdate] {
            b.expectedAt = t(expected)
            return Planner(rules: rules, now: t(now)).plan(.surgeryDelayed(ref: "S1", expectedAt: t(expected), reason: reason),
                                                          booking: b, patient: ann, jobs: jobs)
        }
        // First delay at 09:40: a new notice, due at once.
        var u = delay("2026-12-01T09:40", "2026-12-01T11:30", "the operation before yours is taking longer")
        #expect(u.count == 1 && u[0].job.id == "wait-S1-2" && utc(u[0].job.dueAt) == "2026-12-01T09:40:00Z")
        jobs.append(u[0].job)
        // It went out; a second delay 3 minutes later is held until 10 minutes after the last notice.
        jobs[jobs.count - 1].state = .done
        u = delay("2026-12-01T09:43", "2026-12-01T12:00", "we are waiting for a bed")
        #expect(u.count == 1 && u[0].job.id == "wait-S1-3" && utc(u[0].job.dueAt) == "2026-12-01T09:50:00Z")
        jobs.append(u[0].job)
        // A third within the window joins the held notice: one notice, the latest time and reason.
        u = delay("2026-12-01T09:45", "2026-12-01T12:30", "an emergency operation needed the theatre first")
        #expect(u.count == 1 && u[0].job.id == "wait-S1-3")
        #expect(u[0].job.expectedAt == t("2026-12-01T12:30") && u[0].job.delayReason == "an emergency operation needed the theatre first")
        #expect(utc(u[0].job.dueAt) == "2026-12-01T09:50:00Z")
    }

    @Test func noDelayNoticeOnceSurgeryHasTakenPlace() {
        var b = surgery("2026-12-01T10:30")
        var jobs = planned(b)
        b.performedAt = t("2026-12-01T10:40")
        let p = Planner(rules: rules, now: t("2026-12-01T10:41"))
        jobs = jobs.map { j in
            p.plan(.surgeryPerformed(ref: "S1", at: b.performedAt!), booking: b, patient: ann, jobs: jobs).first { $0.job.id == j.id }?.job ?? j
        }
        #expect(jobs.first { $0.kind == .waitNotice }?.state == .cancelled)
        b.expectedAt = t("2026-12-01T12:00")
        #expect(p.plan(.surgeryDelayed(ref: "S1", expectedAt: b.expectedAt!, reason: "x"), booking: b, patient: ann, jobs: jobs).isEmpty)
    }

    @Test func quietHoursDoNotApplyToWaitNotices() {
        // Admission at 06:30 is inside quiet hours (20:00-08:00) but the patient is at the hospital.
        #expect(utc(wait(surgery("2026-12-01T09:00", admit: "2026-12-01T06:30")).dueAt) == "2026-12-01T06:30:00Z")
    }

    @Test func rescheduleAfterTheNoticeWentPlansANewOne() {
        var jobs = planned(surgery("2026-12-01T10:30"))
        jobs = jobs.map { j in var j = j; if j.kind == .waitNotice { j.state = .done }; return j }
        let moved = surgery("2026-12-08T10:30")
        let u = Planner(rules: rules, now: t("2026-12-01T11:00Z")).plan(
            .surgeryRescheduled(ref: "S1", at: moved.at, ward: nil, procedure: nil, admitAt: nil), booking: moved, patient: ann, jobs: jobs)
        let newWait = u.first { $0.job.kind == .waitNotice }!
        #expect(newWait.job.id == "wait-S1-2" && utc(newWait.job.dueAt) == "2026-12-08T08:30:00Z")
        let call = u.first { $0.job.kind == .checkinCall }!
        #expect(utc(call.job.dueAt) == "2026-12-09T09:00:00Z")
    }
}

@Suite struct OpenAccessTests {
    let rules = SchedulingRules(clock: london)

    func info(_ b: Booking, now: String, rules: SchedulingRules? = nil) -> Job {
        Planner(rules: rules ?? self.rules, now: t(now)).plan(
            .openAccessBooked(ref: b.ref, patient: PatientDetails(id: "P1"), at: b.at, clinic: nil, mode: nil),
            booking: b, patient: ann, jobs: [])[0].job
    }

    @Test func sevenDaysBeforeAtTen() {
        let j = info(openAccess("2026-12-10T14:00"), now: "2026-11-01T00:00Z")
        #expect(utc(j.dueAt) == "2026-12-03T10:00:00Z")
        #expect(utc(j.expiresAt) == "2026-12-10T14:00:00Z")
        // Across a clock change: appointment after the spring change, send day before it.
        #expect(utc(info(openAccess("2026-04-02T14:00"), now: "2026-01-01T00:00Z").dueAt) == "2026-03-26T10:00:00Z")
        #expect(utc(info(openAccess("2026-04-05T14:00"), now: "2026-01-01T00:00Z").dueAt) == "2026-03-29T09:00:00Z")
        #expect(utc(info(openAccess("2026-11-01T14:00"), now: "2026-01-01T00:00Z").dueAt) == "2026-10-25T10:00:00Z")
    }

    @Test func aBookingAfterTheSendTimeIsDueAtOnce() {
        let j = info(openAccess("2026-12-10T14:00"), now: "2026-12-05T11:00Z")
        #expect(utc(j.dueAt) == "2026-12-05T11:00:00Z")
        #expect(j.rule.contains("due at once"))
    }

    @Test func quietHoursThatCrossMidnightHoldANotice() {
        // Booked at 23:10 for an appointment in 3 days: due at once, but held to 08:00.
        let j = info(openAccess("2026-12-10T14:00"), now: "2026-12-07T23:10Z")
        #expect(utc(j.dueAt) == "2026-12-08T08:00:00Z")
        // Booked at 02:00: held to 08:00 the same morning.
        #expect(utc(info(openAccess("2026-12-10T14:00"), now: "2026-12-08T02:00Z").dueAt) == "2026-12-08T08:00:00Z")
        // A send time configured inside quiet hours is held too.
        var r = rules
        r.openAccessSendAt = TimeOfDay(hour: 21, minute: 0)
        #expect(utc(info(openAccess("2026-12-10T14:00"), now: "2026-11-01T00:00Z", rules: r).dueAt) == "2026-12-04T08:00:00Z")
        // Unless waiting would pass the appointment: then it is not held.
        let tight = info(openAccess("2026-12-08T07:30"), now: "2026-12-07T23:10Z")
        #expect(utc(tight.dueAt) == "2026-12-07T23:10:00Z")
        #expect(tight.rule.contains("not held"))
    }

    @Test func expiresUnsentAtTheAppointmentAndIsSuppressedWithoutConsent() {
        let j = info(openAccess("2026-12-10T14:00"), now: "2026-11-01T00:00Z")
        let late = JobStateMachine(rules: rules, now: t("2026-12-10T15:00")).advance(j, patient: ann, channel: .sms)!
        #expect(late.job.state == .expired)
        #expect(late.change.reason.contains("late"))
        var out = ann
        out.optedOut = true
        #expect(JobStateMachine(rules: rules, now: t("2026-12-03T10:00")).advance(j, patient: out, channel: .sms)?.job.state == .suppressed)
        var noPhone = ann
        noPhone.phone = nil
        #expect(JobStateMachine(rules: rules, now: t("2026-12-03T10:00")).advance(j, patient: noPhone, channel: .sms)?.change.reason == "no phone number for SMS")
        #expect(JobStateMachine(rules: rules, now: t("2026-12-03T10:00")).advance(j, patient: ann, channel: .none)?.job.state == .suppressed)
        #expect(JobStateMachine(rules: rules, now: t("2026-12-03T10:00")).advance(j, patient: ann, channel: .sms)?.job.state == .due)
    }

    @Test func rescheduledBeforeAndAfterTheInformationWent() {
        let b = openAccess("2026-12-10T14:00")
        let first = info(b, now: "2026-11-01T00:00Z")
        let moved = openAccess("2026-12-17T14:00")
        let event = QueueEvent.openAccessRescheduled(ref: "O1", at: moved.at, clinic: nil, mode: nil)
        let p = Planner(rules: rules, now: t("2026-12-01T09:00Z"))
        let before = p.plan(event, booking: moved, patient: ann, jobs: [first])
        #expect(before.count == 1 && before[0].job.id == "oa-O1-1" && utc(before[0].job.dueAt) == "2026-12-10T10:00:00Z")
        var sent = first
        sent.state = .done
        let after = Planner(rules: rules, now: t("2026-12-12T09:00Z")).plan(event, booking: moved, patient: ann, jobs: [sent])
        #expect(after.count == 1 && after[0].job.id == "oa-O1-2" && after[0].job.revision == 2)
        #expect(utc(after[0].job.dueAt) == "2026-12-12T09:00:00Z")  // its planned time (10 Dec) had passed: at once
    }
}

@Suite struct LordHoweTests {
    @Test func halfHourShiftAcrossTheChange() {
        let lh = HospitalClock(identifier: "Australia/Lord_Howe")!
        let rules = SchedulingRules(clock: lh)
        // Surgery on Sat 3 Oct 2026; the call on Sun 4 Oct, the day clocks go forward 30 minutes.
        let b = surgery("2026-10-03T10:00", clock: lh)
        let call = Planner(rules: rules, now: t("2026-01-01T00:00Z")).plan(booked(b), booking: b, patient: ann, jobs: []).first { $0.job.kind == .checkinCall }!.job
        #expect(lh.localDateTime(of: call.dueAt).description == "2026-10-04T09:00")
        #expect(utc(call.dueAt) == "2026-10-03T22:00:00Z")  // 09:00 +11:00
        let before = surgery("2026-10-02T10:00", clock: lh)
        let c2 = Planner(rules: rules, now: t("2026-01-01T00:00Z")).plan(booked(before), booking: before, patient: ann, jobs: []).first { $0.job.kind == .checkinCall }!.job
        #expect(utc(c2.dueAt) == "2026-10-02T22:30:00Z")  // 09:00 +10:30
        // A wait notice 2h before a 04:15 surgery on the change day lands in the gap... and is held to 06:00.
        let w = Planner(rules: rules, now: t("2026-01-01T00:00Z")).plan(booked(surgery("2026-10-04T08:00", clock: lh)), booking: surgery("2026-10-04T08:00", clock: lh), patient: ann, jobs: []).first { $0.job.kind == .waitNotice }!.job
        #expect(lh.localDateTime(of: w.dueAt).description == "2026-10-04T06:00")
    }
}
