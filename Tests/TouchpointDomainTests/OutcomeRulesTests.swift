import Foundation
import Testing
import TouchpointDomain

/// The outcome rules every front end shares (`OutcomeEntry`), as plain
/// values, and the state machine refusing what they refuse: before issue 34
/// they lived in the web view's form alone, and `touchpointctl outcome JOB
/// reached` (or a form posted with a worklist's `list`) recorded a check-in
/// call as reached with wound care unknown.
@Suite struct OutcomeRulesTests {
    /// The due check-in call and the rules of `CallOutcomeTests`.
    let calls = CallOutcomeTests()
    var rules: SchedulingRules { calls.rules }
    func dueCall() -> Job { calls.dueCall() }

    @Test func theRulesEveryFrontEndShares() {
        func fields(_ o: CallOutcome, wound: Bool? = nil, note: String? = nil, asks: Bool = true) -> [OutcomeEntry.Field] {
            OutcomeEntry(outcome: o, woundCare: wound, note: note, asksWoundCare: asks).problems.map(\.field)
        }
        #expect(fields(.reached) == [.woundCare], "reached on a check-in call needs the answer")
        #expect(fields(.reached, wound: true).isEmpty && fields(.reached, wound: false).isEmpty)
        #expect(fields(.reached, asks: false).isEmpty, "a worklist's call has no wound care question")
        #expect(fields(.noAnswer, wound: true) == [.woundCare], "wound care goes with reached only")
        #expect(fields(.notRequired) == [.note] && fields(.notRequired, note: "   \n") == [.note])
        #expect(fields(.notRequired, note: "readmitted").isEmpty)
        #expect(fields(.declined, note: String(repeating: "a", count: 1000)).isEmpty)
        #expect(fields(.declined, note: String(repeating: "a", count: 1001)) == [.note])
        let p = OutcomeEntry(outcome: .reached, woundCare: nil, note: nil, asksWoundCare: true).problems[0]
        #expect(p.message.contains("wound care") && p.formMessage == "Select whether wound care was discussed")
    }

    @Test func theStateMachineRefusesWhatTheRulesRefuseNamingTheField() {
        let machine = JobStateMachine(rules: rules, now: t("2026-12-02T10:00"))
        switch machine.record(.reached, on: dueCall(), woundCare: nil, note: nil, actor: "alice") {
        case .success: Issue.record("reached was recorded without the wound care answer")
        case .failure(let r): #expect(r.field == .woundCare && r.message.contains("wound care"))
        }
        switch machine.record(.declined, on: dueCall(), woundCare: nil, note: String(repeating: "x", count: 1001), actor: "alice") {
        case .success: Issue.record("a note over 1,000 characters was recorded")
        case .failure(let r): #expect(r.field == .note)
        }
        #expect((try? machine.record(.reached, on: dueCall(), woundCare: false, note: nil, actor: "alice").get())?.job.state == .done)
    }
}
