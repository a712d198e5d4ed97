import Foundation
import Testing
import TouchpointDomain

/// Correcting a mistake (scheduling.md, safety rules; hazards H-44, H-45):
/// the rules of a concern's follow-up and of reopening a call, as plain
/// values with an injected clock, across both UK clock changes.
@Suite struct CorrectionRulesTests {
    let london = HospitalClock(identifier: "Europe/London")!

    func at(_ s: String) -> Date {
        guard case .success(let d) = Timestamp.parse(s, clock: london) else { Issue.record("cannot parse \(s)"); return Date() }
        return d
    }

    func closedCall(at closedAt: Date, from: JobState = .due) -> (Job, [JobChange], [CallAttempt]) {
        var call = Job(id: "call-S1", kind: .checkinCall, bookingKind: .surgery, ref: "S1", patientID: "P1", state: .done,
                       dueAt: closedAt.addingTimeInterval(-3600), expiresAt: closedAt.addingTimeInterval(4 * 86_400),
                       createdAt: closedAt.addingTimeInterval(-86_400), rule: "test")
        call.outcome = .declined
        call.lastAttemptAt = closedAt
        let history = [JobChange(jobID: call.id, at: closedAt, actor: "alice", from: from, to: .done, reason: "outcome declined")]
        return (call, history, [CallAttempt(at: closedAt, by: "alice", outcome: .declined, woundCare: nil, note: nil)])
    }

    /// 24 hours is elapsed time: across the autumn change it ends an hour
    /// earlier on the wall clock, across the spring change an hour later.
    @Test(arguments: [("2026-10-24T10:00", "2026-10-25T09:00", "2026-10-25T09:01"),
                      ("2026-03-28T10:00", "2026-03-29T11:00", "2026-03-29T11:01"),
                      ("2026-12-02T10:00", "2026-12-03T10:00", "2026-12-03T10:01")])
    func aCallIsReopenedWithin24HoursOfItsOutcomeAcrossBothChanges(closed: String, lastChance: String, tooLate: String) throws {
        let (call, history, attempts) = closedCall(at: at(closed))
        let rules = SchedulingRules(clock: london)
        let ok = try JobStateMachine(rules: rules, now: at(lastChance)).reopen(call, reason: "wrong patient", actor: "bob",
                                                                                history: history, outcomes: attempts).get()
        #expect(ok.job.state == .due && ok.job.dueAt == at(lastChance) && ok.job.outcome == nil && ok.job.lastAttemptAt == nil)
        #expect(ok.change.reason.hasPrefix("reopened by bob: wrong patient (the outcome declined recorded by alice at "))
        guard case .failure(let late) = JobStateMachine(rules: rules, now: at(tooLate)).reopen(call, reason: "wrong patient", actor: "bob",
                                                                                               history: history, outcomes: attempts)
        else { Issue.record("reopened more than 24 hours after its outcome"); return }
        #expect(late.message.contains("more than 24 hours ago"))
    }

    @Test func aReopenNeedsAReasonAClosedCallAndGoesBackWhereItCameFrom() throws {
        let closedAt = at("2026-12-02T10:00")
        let machine = JobStateMachine(rules: SchedulingRules(clock: london), now: closedAt.addingTimeInterval(600))
        let (call, history, attempts) = closedCall(at: closedAt)
        for reason in ["", "  \n", String(repeating: "x", count: 1001)] {
            guard case .failure = machine.reopen(call, reason: reason, actor: "bob", history: history, outcomes: attempts) else {
                Issue.record("reopened with the reason \(reason.prefix(5).debugDescription)"); return
            }
        }
        var open = call
        open.state = .due
        guard case .failure(let due) = machine.reopen(open, reason: "x", actor: "bob", history: [], outcomes: []) else {
            Issue.record("a call still open was reopened"); return
        }
        #expect(due.message.contains("only a call closed by its outcome is reopened"))
        var notice = Job(id: "wait-S1-1", kind: .waitNotice, bookingKind: .surgery, ref: "S1", patientID: "P1", state: .done,
                         dueAt: call.dueAt, expiresAt: call.expiresAt, createdAt: call.createdAt, rule: "test")
        notice.outcome = nil
        guard case .failure = machine.reopen(notice, reason: "x", actor: "bob", history: history, outcomes: attempts) else {
            Issue.record("a notice was reopened"); return
        }
        // Closed from the escalated list: back there, its earlier attempt its last.
        let (c2, h2, _) = closedCall(at: closedAt, from: .escalated)
        let earlier = CallAttempt(at: closedAt.addingTimeInterval(-7200), by: "alice", outcome: .noAnswer, woundCare: nil, note: nil)
        let back = try machine.reopen(c2, reason: "x", actor: "bob", history: h2,
                                      outcomes: [earlier, CallAttempt(at: closedAt, by: "alice", outcome: .declined, woundCare: nil, note: nil)]).get()
        #expect(back.job.state == .escalated && back.job.lastAttemptAt == earlier.at && back.change.reason.hasSuffix("back on the escalated list"))
    }

    @Test func aConcernsFollowUpIsEscalatedAtOnceForTheCallsWardWithTheNote() {
        let now = at("2026-03-29T10:30")
        let machine = JobStateMachine(rules: SchedulingRules(clock: london), now: now)
        var call = closedCall(at: now).0
        call.ward = "Ward 7"
        let f = machine.concernFollowUp(for: call, note: "swelling", actor: "alice", number: 2).job
        #expect(f.id == "concern-call-S1-2" && f.kind == .concernFollowUp && f.state == .escalated && f.escalatedAt == now)
        #expect(f.ward == "Ward 7" && f.note == "swelling" && f.patientID == "P1" && f.ref == "S1" && f.isCall && !f.isNotice)
        #expect(f.callDay == LocalDate(year: 2026, month: 3, day: 29), "the hospital's day, on the spring change's own Sunday")
    }
}
