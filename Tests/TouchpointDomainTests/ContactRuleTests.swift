import Foundation
import Testing
@testable import TouchpointDomain

/// Contacts a hospital configures (`contacts.md`): each rule shape with an
/// injected clock, in Europe/London, including both clock changes.
@Suite struct ContactRuleTests {
    let secondary = ContactRule(name: "secondary_symptoms_info", on: "treatment.completed", pathway: .primary,
                                send: RelativeTime("+1d 10:00")!, expires: RelativeTime("+14d")!, to: .patient)
    let phonePrep = ContactRule(name: "phone_appointment_prep", on: "appointment.booked", service: "phone_consultation",
                                send: RelativeTime("-2d 10:00")!, expires: RelativeTime("+0d")!, to: .patient)
    let options = ContactRule(name: "reconstruction_options_call", on: "appointment.booked", service: "reconstruction_consultation",
                              send: RelativeTime("-7d 10:00")!, expires: RelativeTime("+0d")!, to: .list("pre-surgery options"))
    let weekBefore = ContactRule(name: "week_before", on: "appointment.booked", send: RelativeTime("-7d")!, to: .patient)

    func rules(_ contacts: [ContactRule], callDays: Set<Int> = Set(1...7), closed: Set<LocalDate> = []) -> SchedulingRules {
        SchedulingRules(clock: london, callDays: callDays, closedDates: closed, contacts: contacts)
    }

    func treatment(_ at: String, pathway: Pathway = .primary) -> (QueueEvent, Booking) {
        let b = Booking(kind: .treatment, ref: "T1", patientID: "P1", at: t(at), pathway: pathway)
        return (.treatmentCompleted(ref: "T1", patient: PatientDetails(id: "P1"), at: b.at, pathway: pathway), b)
    }

    func appointment(_ at: String, service: String, mode: AppointmentMode? = .phone) -> (QueueEvent, Booking) {
        let b = Booking(kind: .appointment, ref: "A1", patientID: "P1", at: t(at), clinic: "Breast clinic", mode: mode, service: service)
        return (.appointmentBooked(ref: "A1", patient: PatientDetails(id: "P1"), at: b.at, service: service, clinic: b.clinic, mode: mode), b)
    }

    @Test func relativeTimesParseAndRefuseWhatIsNotThatShape() {
        #expect(RelativeTime("+1d 10:00") == RelativeTime(days: 1, time: TimeOfDay(hour: 10, minute: 0)))
        #expect(RelativeTime("-2d 10:00") == RelativeTime(days: -2, time: TimeOfDay(hour: 10, minute: 0)))
        #expect(RelativeTime("+0d") == RelativeTime(days: 0) && RelativeTime("-7d")?.days == -7)
        for bad in ["1d", "+1", "+1h", "+d", "+1d 25:00", "+1d10:00", "", "+1d 10:00 x", "++1d"] {
            #expect(RelativeTime(bad) == nil, "\(bad)")
        }
    }

    /// `+1d 10:00` after an event in the week of each UK clock change: 10:00
    /// local the next day, whatever the offset, never 24 hours later.
    @Test(arguments: [
        ("2026-03-28T15:00", "2026-03-29T09:00:00Z"),  // Saturday before the spring change: 10:00 BST
        ("2026-03-29T00:30", "2026-03-30T09:00:00Z"),  // the change's own night
        ("2026-10-24T15:00", "2026-10-25T10:00:00Z"),  // Saturday before the autumn change: 10:00 GMT
        ("2026-10-25T01:30+01:00", "2026-10-26T10:00:00Z"),  // the first 01:30 of the repeated hour
    ])
    func aDayAfterAtTenIsLocalAcrossBothClockChanges(completed: String, due: String) {
        let (event, b) = treatment(completed)
        let u = Planner(rules: rules([secondary]), now: b.at).plan(event, booking: b, patient: ann, jobs: [])
        #expect(u.count == 1 && u.first?.job.kind == JobKind(rawValue: "secondary_symptoms_info"))
        #expect(utc(u[0].job.dueAt) == due)
        #expect(u[0].job.isNotice && u[0].job.id == "secondary_symptoms_info-T1-1")
        // Expires 14 local days after the event, at its time of day.
        #expect(london.localDateTime(of: u[0].job.expiresAt).time == london.localDateTime(of: b.at).time)
    }

    @Test func filtersKeepAContactToItsPathwayServiceAndMode() {
        let (event, b) = treatment("2026-06-01T12:00", pathway: .secondary)
        #expect(Planner(rules: rules([secondary]), now: b.at).plan(event, booking: b, patient: ann, jobs: []).isEmpty)
        let (e2, b2) = appointment("2026-06-10T11:00", service: "reconstruction_consultation")
        let planned = Planner(rules: rules([secondary, phonePrep, options]), now: t("2026-06-01T12:00")).plan(e2, booking: b2, patient: ann, jobs: [])
        #expect(planned.map(\.job.kind.rawValue) == ["reconstruction_options_call"])
    }

    /// `-2d 10:00` before an appointment that moves: re-planned while not
    /// sent; sent again, revised, once it went.
    @Test func twoDaysBeforeFollowsTheAppointmentAndGoesAgainOnceSent() throws {
        let now = t("2026-12-01T12:00")
        let (event, b) = appointment("2026-12-10T11:00", service: "phone_consultation")
        let planner = Planner(rules: rules([phonePrep]), now: now)
        let first = try #require(planner.plan(event, booking: b, patient: ann, jobs: []).first?.job)
        #expect(utc(first.dueAt) == "2026-12-08T10:00:00Z" && first.expiresAt == b.at)
        var moved = b
        moved.at = t("2026-12-14T11:00")
        moved.revision = 2
        let again = QueueEvent.appointmentRescheduled(ref: "A1", at: moved.at, clinic: nil, mode: nil)
        let replanned = planner.plan(again, booking: moved, patient: ann, jobs: [first])
        #expect(replanned.count == 1 && replanned[0].job.id == first.id && utc(replanned[0].job.dueAt) == "2026-12-12T10:00:00Z")
        var sent = first
        sent.state = .done
        let revised = planner.plan(again, booking: moved, patient: ann, jobs: [sent])
        #expect(revised.map(\.job.id) == ["phone_appointment_prep-A1-2"] && revised[0].job.revision == 2)
        #expect(revised[0].change.reason.contains("already went"))
        // Moved to a service the contact is not for: cancelled.
        var other = moved
        other.service = "face_to_face"
        let cancelled = Planner(rules: rules([phonePrep]), now: now).plan(again, booking: other, patient: ann, jobs: [first])
        #expect(cancelled.map(\.job.state) == [.cancelled])
    }

    /// `-7d` for an appointment booked 3 days ahead: due at once, and held
    /// to the end of quiet hours when booked at night.
    @Test func aWeekBeforeForABookingThreeDaysAheadIsDueAtOnceOutsideQuietHours() throws {
        let (event, b) = appointment("2026-12-10T11:00", service: "any")
        let day = try #require(Planner(rules: rules([weekBefore]), now: t("2026-12-07T14:00")).plan(event, booking: b, patient: ann, jobs: []).first?.job)
        #expect(day.dueAt == t("2026-12-07T14:00") && day.rule.contains("due at once"))
        let night = try #require(Planner(rules: rules([weekBefore]), now: t("2026-12-07T22:30")).plan(event, booking: b, patient: ann, jobs: []).first?.job)
        #expect(night.dueAt == t("2026-12-08T08:00") && night.rule.contains("quiet hours"))
    }

    /// A worklist call whose day is closed moves to the next open day, keeps
    /// its time, goes on its list, and is escalated like the check-in call.
    @Test func aWorklistCallOnAClosedDayMovesToTheNextOpenDay() throws {
        // Appointment Fri 1 Jan 2027 14:00; -7d 10:00 is Fri 25 Dec (closed), then Sat/Sun (no calls), Mon 28 Dec (closed).
        let (event, b) = appointment("2027-01-01T14:00", service: "reconstruction_consultation", mode: .inPerson)
        let r = rules([options], callDays: Set(1...5), closed: [LocalDate(iso: "2026-12-25")!, LocalDate(iso: "2026-12-28")!])
        let job = try #require(Planner(rules: r, now: t("2026-12-01T12:00")).plan(event, booking: b, patient: ann, jobs: []).first?.job)
        #expect(job.dueAt == t("2026-12-29T10:00") && job.callDay == LocalDate(iso: "2026-12-29"))
        #expect(job.isCall && job.worklist == "pre-surgery options" && job.expiresAt == b.at)
        // Due on its list, then carried over; outcomes as for the check-in call.
        let due = try #require(JobStateMachine(rules: r, now: t("2026-12-29T10:00")).advance(job, patient: ann, channel: .sms))
        #expect(due.job.state == .due && due.change.reason.contains("pre-surgery options"))
        let reached = JobStateMachine(rules: r, now: t("2026-12-29T10:30")).record(.reached, on: due.job, woundCare: nil, note: nil, actor: "alice")
        #expect((try? reached.get())?.job.state == .done)
    }

    /// `expires` passing: a notice not sent by then expires; one planned
    /// after it is due at its expiry (and expires unsent).
    @Test func aNoticeExpiresWhenItsExpiryPasses() throws {
        let (event, b) = appointment("2026-12-10T11:00", service: "phone_consultation")
        let job = try #require(Planner(rules: rules([phonePrep]), now: t("2026-12-01T12:00")).plan(event, booking: b, patient: ann, jobs: []).first?.job)
        var due = job
        due.state = .due
        let after = JobStateMachine(rules: rules([phonePrep]), now: t("2026-12-10T11:00")).advance(due, patient: ann, channel: .sms)
        #expect(after?.job.state == .expired)
        // Booked after the appointment's own time has gone: due at its expiry.
        let late = try #require(Planner(rules: rules([phonePrep]), now: t("2026-12-10T12:00")).plan(event, booking: b, patient: ann, jobs: []).first?.job)
        #expect(late.dueAt == late.expiresAt)
    }

    /// A reload: a contact no longer configured has its pending jobs
    /// cancelled; a changed rule re-plans one not yet due.
    @Test func aReloadCancelsARemovedContactsJobsAndReplansChangedOnes() throws {
        let (event, b) = appointment("2026-12-10T11:00", service: "phone_consultation")
        let job = try #require(Planner(rules: rules([phonePrep]), now: t("2026-12-01T12:00")).plan(event, booking: b, patient: ann, jobs: []).first?.job)
        let removed = try #require(Planner(rules: rules([]), now: t("2026-12-02T12:00")).replan(job, booking: b))
        #expect(removed.job.state == .cancelled && removed.change.reason.contains("removed from the configuration"))
        var changed = phonePrep
        changed.send = RelativeTime("-3d 09:00")!
        let replanned = try #require(Planner(rules: rules([changed]), now: t("2026-12-02T12:00")).replan(job, booking: b))
        #expect(utc(replanned.job.dueAt) == "2026-12-07T09:00:00Z")
    }

    @Test func deceasedCancelsAndAnAppointmentCancelCancels() {
        let (event, b) = appointment("2026-12-10T11:00", service: "phone_consultation")
        let planner = Planner(rules: rules([phonePrep]), now: t("2026-12-01T12:00"))
        let job = planner.plan(event, booking: b, patient: ann, jobs: [])[0].job
        var cancelledBooking = b
        cancelledBooking.cancelled = true
        #expect(planner.plan(.appointmentCancelled(ref: "A1", reason: "patient asked"), booking: cancelledBooking, patient: ann, jobs: [job]).map(\.job.state) == [.cancelled])
        var dead = ann
        dead.deceased = true
        #expect(planner.patientChanged(dead, jobs: [job]).map(\.job.state) == [.cancelled])
    }
}
