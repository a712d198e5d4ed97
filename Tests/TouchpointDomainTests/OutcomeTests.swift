import Foundation
import Testing
@testable import TouchpointDomain

@Suite struct CallOutcomeTests {
    let rules = SchedulingRules(clock: london)

    /// Surgery Tue 1 Dec; the call is due Wed 2 Dec 09:00.
    func dueCall() -> Job {
        let b = surgery("2026-12-01T08:30")
        var j = Planner(rules: rules, now: t("2026-11-30T12:00Z")).plan(booked(b), booking: b, patient: ann, jobs: [])
            .first { $0.job.kind == .checkinCall }!.job
        j.state = .due
        return j
    }

    func record(_ o: CallOutcome, _ job: Job, at now: String, woundCare: Bool? = nil, note: String? = nil) -> Result<Job, Refusal> {
        JobStateMachine(rules: rules, now: t(now)).record(o, on: job, woundCare: woundCare, note: note, actor: "alice").map(\.job)
    }

    @Test func reachedClosesTheCallWithWoundCare() throws {
        let j = try record(.reached, dueCall(), at: "2026-12-02T10:00", woundCare: true, note: "healing well").get()
        #expect(j.state == .done && j.outcome == .reached && j.woundCare == true && j.note == "healing well")
        #expect(j.lastAttemptAt == t("2026-12-02T10:00"))
        // A second outcome is refused.
        guard case .failure(let f) = record(.reached, j, at: "2026-12-02T10:05") else { Issue.record("accepted twice"); return }
        #expect(f.message.contains("already closed"))
    }

    /// Two nurses with the call open: the second, who saw no outcome, is told
    /// who recorded the first and when, and nothing changes, even though the
    /// call is due again and would otherwise take her outcome.
    @Test func anOutcomeOnACallRecordedSinceItWasSeenIsRefused() throws {
        let machine = JobStateMachine(rules: rules, now: t("2026-12-02T11:40"))
        let first = CallAttempt(at: t("2026-12-02T09:30"), by: "alice via web", outcome: .noAnswer, woundCare: nil, note: nil)
        var j = dueCall()
        j.attempts = 1  // alice's no answer; the call came back at 11:30
        switch machine.record(.reached, on: j, woundCare: true, note: nil, actor: "bob via web", seenOutcomes: 0, outcomes: [first]) {
        case .success: Issue.record("bob's outcome was taken over alice's")
        case .failure(let r):
            #expect(r.message.contains("already recorded by alice via web at 2026-12-02 09:30 (no answer)"), "\(r.message)")
        }
        // Seen as it is: taken.
        #expect((try? machine.record(.reached, on: j, woundCare: true, note: nil, actor: "bob via web", seenOutcomes: 1, outcomes: [first]).get()) != nil)
        // Closed since: says so, and who closed it.
        var done = j
        done.state = .done
        let closing = CallAttempt(at: t("2026-12-02T11:35"), by: "carol", outcome: .reached, woundCare: true, note: nil)
        guard case .failure(let r) = machine.record(.declined, on: done, woundCare: nil, note: nil, actor: "bob", outcomes: [first, closing]) else {
            Issue.record("an outcome on a closed call was taken"); return
        }
        #expect(r.message.contains("already recorded by carol") && r.message.contains("already closed"))
    }

    @Test func threeAttemptsEndEscalated() throws {
        var j = try record(.noAnswer, dueCall(), at: "2026-12-02T09:30").get()
        #expect(j.state == .scheduled && j.attempts == 1 && utc(j.dueAt) == "2026-12-02T11:30:00Z")
        // Recording again before it comes back is refused.
        #expect((try? record(.busy, j, at: "2026-12-02T09:35").get()) == nil)
        j.state = .due  // the engine makes it due at 11:30
        j = try record(.voicemailLeft, j, at: "2026-12-02T15:30").get()
        // 17:30 is past the window: back at the start of the next open day, overdue.
        #expect(j.state == .scheduled && j.attempts == 2 && utc(j.dueAt) == "2026-12-03T09:00:00Z")
        #expect(j.overdueSince == LocalDate(year: 2026, month: 12, day: 2))
        j.state = .due
        let last = try record(.busy, j, at: "2026-12-03T09:10").get()
        #expect(last.state == .escalated && last.attempts == 3)
    }

    @Test func wrongNumberEscalatesAtOnce() throws {
        let j = try record(.wrongNumber, dueCall(), at: "2026-12-02T09:30").get()
        #expect(j.state == .escalated)
        // The nurse's attempts keep it with her; reaching the patient closes it.
        let still = try record(.noAnswer, j, at: "2026-12-03T10:00").get()
        #expect(still.state == .escalated && still.attempts == 2)
        let closed = try record(.reached, still, at: "2026-12-03T11:00", woundCare: false).get()
        #expect(closed.state == .done && closed.woundCare == false)
    }

    @Test func declinedAndNotRequiredAreDone() throws {
        #expect(try record(.declined, dueCall(), at: "2026-12-02T09:30").get().state == .done)
        #expect((try? record(.notRequired, dueCall(), at: "2026-12-02T09:30").get()) == nil, "a note is required")
        #expect(try record(.notRequired, dueCall(), at: "2026-12-02T09:30", note: "readmitted").get().state == .done)
    }

    @Test func refusalsChangeNothing() {
        var notDue = dueCall()
        notDue.state = .scheduled
        if case .failure(let f) = record(.reached, notDue, at: "2026-12-01T10:00") { #expect(f.message.contains("not due yet")) } else { Issue.record("accepted") }
        let b = surgery("2026-12-01T08:30")
        var notice = Planner(rules: rules, now: t("2026-11-30T12:00Z")).plan(booked(b), booking: b, patient: ann, jobs: [])
            .first { $0.job.kind == .waitNotice }!.job
        notice.state = .due
        if case .failure(let f) = record(.reached, notice, at: "2026-12-02T10:00") { #expect(f.message.contains("not a call")) } else { Issue.record("accepted") }
        if case .failure(let f) = record(.noAnswer, dueCall(), at: "2026-12-02T10:00", woundCare: true) { #expect(f.message.contains("reached only")) } else { Issue.record("accepted") }
    }

    @Test func aRetryOnAClosedDayGoesToTheNextOpenDay() throws {
        var r = rules
        r.closedDates = [LocalDate(year: 2026, month: 12, day: 3)]
        let j = try JobStateMachine(rules: r, now: t("2026-12-02T16:00")).record(.noAnswer, on: dueCall(), woundCare: nil, note: nil, actor: "bob").get().job
        #expect(utc(j.dueAt) == "2026-12-04T09:00:00Z")
    }
}
