import Foundation
import Testing
import TouchpointDomain

/// Escalations are taken (scheduling.md, safety rules; hazard H-04): an
/// escalation's age in call-window time, with an injected clock across both
/// UK clock changes, and the rule of taking one.
@Suite struct EscalationAgeTests {
    let london = HospitalClock(identifier: "Europe/London")!

    func at(_ s: String) -> Date {
        guard case .success(let d) = Timestamp.parse(s, clock: london) else { Issue.record("cannot parse \(s)"); return Date() }
        return d
    }

    @Test func theAlertCountsOnlyTheCallWindowOfOpenDaysAcrossBothChanges() {
        let weekdays = SchedulingRules(clock: london, callDays: Set(1...5))
        // Friday 16:30 to Monday 09:30, the spring change between: one hour of window.
        #expect(EscalationAge.windowTime(from: at("2026-03-27T16:30"), to: at("2026-03-30T09:30"), rules: weekdays) == 3600)
        // Four hours from Friday 16:30: half an hour on Friday, three and a half on Monday.
        #expect(EscalationAge.alertAt(from: at("2026-03-27T16:30"), after: 4 * 3600, rules: weekdays) == at("2026-03-30T12:30"))
        // Every day open: Saturday 16:00 and the change's own Sunday, 09:00 BST on.
        let daily = SchedulingRules(clock: london)
        #expect(EscalationAge.alertAt(from: at("2026-03-28T16:00"), after: 4 * 3600, rules: daily) == at("2026-03-29T12:00"))
        #expect(Timestamp.rfc3339(at("2026-03-29T12:00")) == "2026-03-29T11:00:00Z")
        // The autumn change's Sunday: the window is seven wall-clock hours as on any day.
        #expect(EscalationAge.windowTime(from: at("2026-10-25T00:00"), to: at("2026-10-26T00:00"), rules: daily) == 8 * 3600)
        // Escalated before the window opens: counted from its start.
        #expect(EscalationAge.alertAt(from: at("2026-12-02T07:00"), after: 3600, rules: daily) == at("2026-12-02T10:00"))
        #expect(EscalationAge.words(4 * 3600) == "4 h" && EscalationAge.words(3 * 3600 + 600) == "3 h 10 min" && EscalationAge.words(45 * 60) == "45 min")
    }

    @Test func aNurseTakesAnEscalatedCallAndAnotherMayTakeItOver() throws {
        let rules = SchedulingRules(clock: london)
        let now = at("2026-12-02T11:00")
        let machine = JobStateMachine(rules: rules, now: now)
        var call = Job(id: "call-S1", kind: .checkinCall, bookingKind: .surgery, ref: "S1", patientID: "P1", state: .due,
                       dueAt: at("2026-12-02T09:00"), expiresAt: at("2026-12-04T17:00"), createdAt: at("2026-12-01T10:00"), rule: "test")
        guard case .failure(let notYet) = machine.take(call, actor: "alice") else { Issue.record("a due call was taken"); return }
        #expect(notYet.message.contains("only an escalated call is taken"))
        call = JobUpdate.transition(call, to: .escalated, "wrong number", actor: "bob", at: at("2026-12-02T10:00")).job
        #expect(call.escalatedAt == at("2026-12-02T10:00") && call.takenBy == nil)
        let taken = try machine.take(call, actor: "alice").get()
        #expect(taken.job.takenBy == "alice" && taken.job.takenAt == now && taken.job.state == .escalated && taken.change.reason == "taken by alice")
        guard case .failure = machine.take(taken.job, actor: "alice") else { Issue.record("taken twice by one nurse"); return }
        let over = try machine.take(taken.job, actor: "carol").get()
        #expect(over.job.takenBy == "carol" && over.change.reason == "taken by carol, taken over from alice")
        // Still escalated after another outcome: the age and the owner stay.
        let again = JobUpdate.transition(over.job, to: .escalated, "no answer", actor: "carol", at: at("2026-12-02T12:00")).job
        #expect(again.escalatedAt == at("2026-12-02T10:00") && again.takenBy == "carol")
    }
}
