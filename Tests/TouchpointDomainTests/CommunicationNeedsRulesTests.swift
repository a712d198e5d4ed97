import Foundation
import Testing
import TouchpointDomain

/// Communication needs (hazard H-43) as plain values: the feed's codes, the
/// config's words, and what a need does to a notice coming due, with an
/// injected clock on both UK clock changes' Sundays.
@Suite struct CommunicationNeedsRulesTests {
    let london = HospitalClock(identifier: "Europe/London")!
    let needs = CommunicationNeeds([
        CommunicationNeed(code: "interpreter", label: "Interpreter needed"),
        CommunicationNeed(code: "easy_read", label: "Easy read", notices: .variant),
        CommunicationNeed(code: "no_phone", label: "No phone", notices: .call),
    ])

    func at(_ s: String) -> Date {
        guard case .success(let d) = Timestamp.parse(s, clock: london) else { Issue.record("cannot parse \(s)"); return Date() }
        return d
    }

    func patient(_ line: String) -> Result<PatientDetails, QueueReject> {
        QueueLineParser(clock: london).parse(#"{"v":1,"id":"u","type":"patient.updated","patient":{"id":"P1","communication_needs":\#(line)}}"#)
            .map { env in if case .patientUpdated(let p) = env.event { return p } else { return PatientDetails(id: "?") } }
    }

    @Test func theFeedsCodesAreReadClearedAndRefusedByPlace() throws {
        #expect(try patient(#"["interpreter:pl","no_phone","no_phone"]"#).get().communicationNeeds == ["interpreter:pl", "no_phone"])
        #expect(try patient("[]").get().communicationNeeds == [])
        let cleared = try patient("null").get()
        #expect(cleared.communicationNeeds == nil && cleared.cleared.contains(.communicationNeeds))
        var p = Patient(id: "P1")
        p.update(with: try patient(#"["bsl"]"#).get())
        #expect(p.communicationNeeds == ["bsl"])
        p.update(with: PatientDetails(id: "P1", name: "Ann"))
        #expect(p.communicationNeeds == ["bsl"], "an event that does not name them keeps them")
        p.update(with: cleared)
        #expect(p.communicationNeeds.isEmpty)
        for (bad, place) in [(#"["Interpreter"]"#, "[0]"), (#"["bsl", 3]"#, "[1]"), (#"["a:b:c"]"#, "[0]"), (#""bsl""#, ": expected a list")] {
            guard case .failure(let r) = patient(bad) else { Issue.record("\(bad) accepted"); continue }
            #expect(r.code == .invalidField && r.message.contains("patient.communication_needs\"" + place), "\(bad): \(r.message)")
        }
    }

    @Test func theConfigGivesTheWordsTheVariantsAndTheCallInstead() {
        #expect(needs.words(["interpreter:pl", "easy_read", "braille"]) == ["Interpreter needed (pl)", "Easy read", "Need \"braille\" (not in the config's [needs])"])
        #expect(needs.variants(["interpreter:pl", "easy_read"]) == ["easy_read"])
        #expect(needs.callInstead(["easy_read"]) == nil && needs.callInstead(["easy_read", "no_phone"])?.code == "no_phone")
        #expect(CommunicationNeeds.isCode("interpreter:pl") && !CommunicationNeeds.isCode("Interpreter") && !CommunicationNeeds.isCode(""))
    }

    @Test(arguments: ["2026-03-29T10:00", "2026-10-25T10:00", "2026-12-02T10:00"])
    func aNoticeComingDueForANeedThatSaysCallIsSuppressedAndACallTakesItsPlace(now: String) throws {
        var rules = SchedulingRules(clock: london)
        rules.needs = needs
        let machine = JobStateMachine(rules: rules, now: at(now))
        let notice = Job(id: "oa-O1-1", kind: .openAccessInfo, bookingKind: .openAccess, ref: "O1", patientID: "P1",
                         dueAt: at(now).addingTimeInterval(-60), expiresAt: at(now).addingTimeInterval(2 * 86_400),
                         createdAt: at(now).addingTimeInterval(-3600), rule: "test")
        var p = Patient(id: "P1", email: "p@example.org", channel: .email)
        #expect(machine.advance(notice, patient: p, channel: .email)?.job.state == .due, "no needs: it goes")
        p.communicationNeeds = ["easy_read"]
        #expect(machine.advance(notice, patient: p, channel: .email)?.job.state == .due, "a variant's need: it goes, in its words")
        p.communicationNeeds = ["easy_read", "no_phone"]
        let u = try #require(machine.advance(notice, patient: p, channel: .email))
        #expect(u.job.state == .suppressed && u.change.reason == "communication need \"No phone\": a call on the needs worklist instead (needs-oa-O1-1)")
        let need = try #require(machine.needsCallInstead(notice, patient: p))
        let call = machine.needsCall(for: notice, need: need).job
        #expect(call.id == "needs-oa-O1-1" && call.kind == .needsCall && call.worklist == "needs" && call.state == .due && call.isCall)
        #expect(call.dueAt == at(now) && call.expiresAt == notice.expiresAt && call.callDay == london.localDate(of: at(now)))
        #expect(call.kind.isMadeByTouchpoint && Planner(rules: rules, now: at(now)).replan(call, booking: Booking(kind: .openAccess, ref: "O1", patientID: "P1", at: at(now))) == nil,
                "never re-planned or cancelled as a removed contact")
        // A need that says call does not stop the check-in call itself.
        let checkin = Job(id: "call-S1", kind: .checkinCall, bookingKind: .surgery, ref: "S1", patientID: "P1",
                          dueAt: at(now).addingTimeInterval(-60), expiresAt: at(now).addingTimeInterval(86_400), createdAt: at(now).addingTimeInterval(-86_400), rule: "t")
        #expect(machine.advance(checkin, patient: p, channel: .email)?.job.state == .due)
    }
}
