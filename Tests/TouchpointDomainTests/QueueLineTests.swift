import Foundation
import Testing
@testable import TouchpointDomain

/// Every validation rule and reject code of queue-format.md.
@Suite struct QueueLineTests {
    let parser = QueueLineParser(clock: HospitalClock(identifier: "Europe/London")!)

    func reject(_ line: String) -> QueueReject? {
        if case .failure(let r) = parser.parse(line) { return r }
        return nil
    }

    func event(_ line: String) -> QueueEvent? {
        if case .success(let e) = parser.parse(line) { return e.event }
        return nil
    }

    static let booked = #"{"v":1,"id":"theatre-000181","type":"surgery.booked","ref":"S-2026-0042","patient":{"id":"RX1-448812","name":"Ann Example","phone":"+447700900123","channel":"sms","voicemail_ok":true},"at":"2026-12-01T08:30","ward":"Ward 7","procedure":"Wide local excision"}"#

    @Test func theSpecExamplesAreAccepted() throws {
        let e = try #require(event(Self.booked))
        guard case .surgeryBooked(let ref, let p, let at, let ward, let procedure, nil) = e else {
            Issue.record("wrong event \(e)")
            return
        }
        #expect(ref == "S-2026-0042")
        #expect(p.phone == "+447700900123" && p.voicemailOK == true && p.channel == .sms)
        #expect(Timestamp.rfc3339(at) == "2026-12-01T08:30:00Z")
        #expect(ward == "Ward 7" && procedure == "Wide local excision")
        #expect(event(#"{"v":1,"id":"theatre-000190","type":"surgery.delayed","ref":"S-2026-0042","expected_at":"2026-12-01T11:00","reason":"an emergency operation needed the theatre first"}"#) != nil)
        #expect(event(#"{"v":1,"id":"opd-7731","type":"open_access.booked","ref":"OA-77","patient":{"id":"RX1-110034","name":"Bea Example","email":"bea@example.org","channel":"email"},"at":"2026-12-10T14:00","clinic":"Breast clinic","mode":"phone"}"#) != nil)
    }

    /// queue-format.md: `null` clears a field (`deceased: null` says "not
    /// deceased", as `false` does); `source` names the writer; a merge names
    /// the survivor and the retired id.
    @Test func nullsSourcesAndMergesParse() throws {
        let line = #"{"v":1,"id":"u","type":"patient.updated","source":"hl7:pas","patient":{"id":"P","phone":null,"email":null,"name":"Ann","deceased":null}}"#
        guard case .success(let env) = parser.parse(line), case .patientUpdated(let p) = env.event else {
            Issue.record("not parsed: \(line)")
            return
        }
        #expect(env.source == "hl7:pas")
        #expect(p.cleared == [.phone, .email] && p.name == "Ann" && p.phone == nil && p.deceased == false)
        var known = Patient(id: "P", name: "Old", phone: "+447700900123", email: "a@example.org", voicemailOK: true)
        known.update(with: p)
        #expect(known.phone == nil && known.email == nil && known.name == "Ann" && known.voicemailOK)
        let merged = event(#"{"v":1,"id":"m","type":"patient.merged","patient":{"id":"NEW"},"merged_id":"OLD"}"#)
        #expect(merged == .patientMerged(patient: PatientDetails(id: "NEW"), mergedID: "OLD"))
    }

    /// The record rules on plain values: not known, a death stands, a merge
    /// keeps the survivor's values and takes the retired record's death and opt-out.
    @Test func patientRecordRules() throws {
        #expect(PatientRecords.update(nil, with: PatientDetails(id: "P"), makesBooking: false, eventID: "e") == .success(.notKnown))
        #expect(PatientRecords.update(nil, with: PatientDetails(id: "P"), makesBooking: true, eventID: "e") == .success(.record(Patient(id: "P"))))
        let dead = Patient(id: "P", deceased: true)
        guard case .failure(let r) = PatientRecords.update(dead, with: PatientDetails(id: "P", deceased: false), makesBooking: false, eventID: "e") else {
            Issue.record("a death was undone")
            return
        }
        #expect(r.code == .conflict && r.eventID == "e")
        #expect(try PatientRecords.merge(survivor: nil, merged: nil, mergedID: "A", details: PatientDetails(id: "B"), eventID: "e").get() == nil)
        let a = Patient(id: "A", name: "Ann", phone: "+447700900123", optedOut: true, deceased: true)
        let b = Patient(id: "B", name: "Ann Example")
        let m = try #require(try PatientRecords.merge(survivor: b, merged: a, mergedID: "A", details: PatientDetails(id: "B"), eventID: "e").get())
        #expect(m.survivor == Patient(id: "B", name: "Ann Example", phone: "+447700900123", optedOut: true, deceased: true))
        #expect(m.retired.mergedInto == "B" && m.retired.id == "A" && !m.survivorIsNew && m.retiredWasInUse)
        let onto = try #require(try PatientRecords.merge(survivor: nil, merged: b, mergedID: "B", details: PatientDetails(id: "C"), eventID: "e").get())
        #expect(onto.survivor.id == "C" && onto.survivor.name == "Ann Example" && onto.survivorIsNew)
        // A chain of merges is followed, and a loop the hospital sent ends.
        let records = ["A": Patient(id: "A", mergedInto: "B"), "B": Patient(id: "B", mergedInto: "C"), "C": Patient(id: "C"),
                       "X": Patient(id: "X", mergedInto: "Y"), "Y": Patient(id: "Y", mergedInto: "X")]
        #expect(PatientRecords.resolve("A") { records[$0] } == "C")
        #expect(["X", "Y"].contains(PatientRecords.resolve("X") { records[$0] }))
    }

    /// `birth_date` (safety rules, "Who the patient is"): a real date as
    /// YYYY-MM-DD, kept; `null` clears it; anything else is a reject naming
    /// the field, never the value.
    @Test func theDateOfBirthIsADateOrARejectNamingTheField() throws {
        func with(_ born: String) -> String {
            Self.booked.replacingOccurrences(of: #""name":"Ann Example""#, with: #""name":"Ann Example","birth_date":\#(born)"#)
        }
        guard case .surgeryBooked(_, let p, _, _, _, _) = try #require(event(with(#""1961-03-14""#))) else { Issue.record("not a booking"); return }
        #expect(p.birthDate == LocalDate(year: 1961, month: 3, day: 14))
        guard case .surgeryBooked(_, let cleared, _, _, _, _) = try #require(event(with("null"))) else { Issue.record("not a booking"); return }
        #expect(cleared.birthDate == nil && cleared.cleared.contains(.birthDate))
        for bad in [#""1961-02-30""#, #""14/03/1961""#, #""19610314""#, #""1066-10-14""#, "19610314"] {
            let r = reject(with(bad))
            #expect(r?.code == .invalidField && r?.message.contains("patient.birth_date") == true && r?.message.contains("1961") != true, "\(bad): \(String(describing: r))")
        }
        var patient = Patient(id: "P1")
        patient.update(with: PatientDetails(id: "P1", birthDate: LocalDate(year: 1961, month: 3, day: 14)))
        patient.update(with: PatientDetails(id: "P1", name: "Ann"))
        #expect(patient.birthDate == LocalDate(year: 1961, month: 3, day: 14), "an event that omits it keeps it")
        patient.update(with: PatientDetails(id: "P1", cleared: [.birthDate]))
        #expect(patient.birthDate == nil)
    }

    @Test func everyEventTypeParses() {
        let lines = [
            #"{"v":1,"id":"a","type":"surgery.rescheduled","ref":"S1","at":"2026-12-02T09:00","ward":"Ward 2"}"#,
            #"{"v":1,"id":"b","type":"surgery.performed","ref":"S1","at":"2026-12-02T09:40"}"#,
            #"{"v":1,"id":"c","type":"surgery.cancelled","ref":"S1"}"#,
            #"{"v":1,"id":"d","type":"open_access.rescheduled","ref":"O1","at":"2026-12-12T10:00","mode":"video"}"#,
            #"{"v":1,"id":"e","type":"open_access.cancelled","ref":"O1","reason":"patient request"}"#,
            #"{"v":1,"id":"f","type":"patient.updated","patient":{"id":"P1","deceased":true}}"#,
        ]
        for l in lines { #expect(event(l) != nil, "\(l)") }
    }

    @Test(arguments: [
        (#"{"v":1,"id":"x","type":"surgery.booked""#, RejectCode.malformedJSON),
        (#"not json"#, .malformedJSON),
        (#"[1,2]"#, .malformedJSON),
        (#"{"v":1,"id":"x","id":"y","type":"surgery.cancelled","ref":"S"}"#, .malformedJSON),
        (#"{"v":9,"id":"x","type":"surgery.booked"}"#, .unsupportedVersion),
        (#"{"id":"x","type":"surgery.cancelled","ref":"S"}"#, .missingField),
        (#"{"v":1,"type":"surgery.cancelled","ref":"S"}"#, .missingField),
        (#"{"v":1,"id":"x","type":"surgery.booked","ref":"x"}"#, .missingField),
        (#"{"v":1,"id":"x","ref":"S"}"#, .missingField),
        (#"{"v":"1","id":"x","type":"surgery.cancelled","ref":"S"}"#, .invalidField),
        (#"{"v":1,"id":"","type":"surgery.cancelled","ref":"S"}"#, .invalidField),
        (#"{"v":1,"id":7,"type":"surgery.cancelled","ref":"S"}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"surgery.cancelled","ref":""}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"surgery.performed","ref":"S","at":"2026-12-01"}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"surgery.performed","ref":"S","at":"soon"}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"surgery.performed","ref":"S","at":"9999-12-31T23:59"}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"surgery.performed","ref":"S","at":"0001-01-01T00:00"}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"surgery.delayed","ref":"S","expected_at":"2100-01-01T00:00:00Z","reason":"r"}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"surgery.rescheduled","ref":"S","at":"2026-12-01T08:30","admit_at":"1999-12-31T23:59:59Z"}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"surgery.booked","ref":"S","patient":{"id":"P"},"at":"2026-12-01T08:30","ward":"   "}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"surgery.cancelled","ref":" \t"}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"patient.updated","patient":{"id":" "}}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"open_access.booked","ref":"O","patient":{"id":"P"},"at":"2026-12-01T10:00","mode":"carrier pigeon"}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"patient.updated","patient":{"id":"P","nhs_number":"9434765918"}}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"patient.updated","patient":{"id":"P","phone":"12345"}}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"patient.updated","patient":{"id":"P","email":"not-an-address"}}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"patient.updated","patient":{"id":"P","channel":"fax"}}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"patient.updated","patient":{"id":"P","opted_out":"yes"}}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"patient.updated","patient":"P"}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"surgery.boked","ref":"S"}"#, .unknownType),
        (#"{"v":1,"id":"x","type":"patient.merged","patient":{"id":"P"}}"#, .missingField),
        (#"{"v":1,"id":"x","type":"patient.merged","patient":{"id":"P"},"merged_id":"P"}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"patient.merged","merged_id":"Q"}"#, .missingField),
        (#"{"v":1,"id":"x","type":"surgery.cancelled","ref":"S","source":""}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"surgery.cancelled","ref":"S","source":7}"#, .invalidField),
        (#"{"v":1,"id":"x","type":"surgery.cancelled","ref":"S","source":"\#(String(repeating: "w", count: 65))"}"#, .invalidField),
    ])
    func rejectCodes(line: String, code: RejectCode) throws {
        let r = try #require(reject(line), "accepted: \(line)")
        #expect(r.code == code, "\(line): \(r.message)")
        #expect(!r.message.isEmpty)
    }

    /// contacts.md's event types: each parses, each field is checked with the
    /// same reject codes, and the booking rules (unknown_ref, conflict) hold.
    @Test func theConfiguredContactsEventsParseAndAreCheckedAsTheOthersAre() throws {
        let p = #""patient":{"id":"P1","name":"Hana Sample","phone":"07700 900202"}"#
        let booked = #"{"v":1,"id":"a1","type":"appointment.booked","ref":"A1",\#(p),"at":"2026-12-10T11:00","service":"phone_consultation","mode":"phone"}"#
        guard case .appointmentBooked(_, _, _, let service, nil, .phone?)? = event(booked) else {
            Issue.record("appointment.booked did not parse")
            return
        }
        #expect(service == "phone_consultation")
        #expect(event(#"{"v":1,"id":"t1","type":"treatment.completed","ref":"T1",\#(p),"at":"2026-12-01T15:00","pathway":"primary"}"#) != nil)
        #expect(event(#"{"v":1,"id":"a2","type":"appointment.rescheduled","ref":"A1","at":"2026-12-12T11:00"}"#) != nil)
        #expect(event(#"{"v":1,"id":"a3","type":"appointment.cancelled","ref":"A1"}"#) != nil)
        let missing = reject(#"{"v":1,"id":"a1","type":"appointment.booked","ref":"A1",\#(p),"at":"2026-12-10T11:00"}"#)
        #expect(missing?.code == .missingField && missing?.message.contains("\"service\"") == true)
        let badService = reject(#"{"v":1,"id":"a1","type":"appointment.booked","ref":"A1",\#(p),"at":"2026-12-10T11:00","service":"Phone Consult!"}"#)
        #expect(badService?.code == .invalidField && badService?.message.contains("\"service\"") == true)
        let badPathway = reject(#"{"v":1,"id":"t1","type":"treatment.completed","ref":"T1",\#(p),"at":"2026-12-01T15:00","pathway":"tertiary"}"#)
        #expect(badPathway?.code == .invalidField && badPathway?.message.contains("\"pathway\"") == true)
        #expect(reject(#"{"v":1,"id":"t1","type":"treatment.completed","ref":"T1","at":"2026-12-01T15:00"}"#)?.code == .missingField)
        // The booking rules: rescheduled before booked, completed twice, after a cancel.
        let moved = try #require(event(#"{"v":1,"id":"a2","type":"appointment.rescheduled","ref":"A1","at":"2026-12-12T11:00"}"#))
        guard case .failure(let unknown) = BookingLedger.apply(moved, to: nil, eventID: "a2") else { Issue.record("accepted"); return }
        #expect(unknown.code == .unknownRef && unknown.message.contains("appointment booking"))
        let done = try #require(event(#"{"v":1,"id":"t1","type":"treatment.completed","ref":"T1",\#(p),"at":"2026-12-01T15:00"}"#))
        let first = try BookingLedger.apply(done, to: nil, eventID: "t1").get()
        guard case .failure(let twice) = BookingLedger.apply(done, to: first, eventID: "t2") else { Issue.record("accepted"); return }
        #expect(twice.code == .conflict)
        var cancelled = try BookingLedger.apply(try #require(event(booked)), to: nil, eventID: "a1").get()
        cancelled.cancelled = true
        guard case .failure(let after) = BookingLedger.apply(moved, to: cancelled, eventID: "a2") else { Issue.record("accepted"); return }
        #expect(after.code == .conflict)
    }

    @Test func messagesNameTheFieldButNeverPatientData() throws {
        let r = try #require(reject(#"{"v":1,"id":"x","type":"patient.updated","patient":{"id":"P","phone":"0770 SECRET 123","nhs_number":"9434765919"}}"#))
        #expect(r.message.contains("patient.phone"))
        #expect(!r.message.contains("SECRET"))
        let n = try #require(reject(#"{"v":1,"id":"x","type":"patient.updated","patient":{"id":"P","nhs_number":"9434765918"}}"#))
        #expect(n.message.contains("patient.nhs_number") && !n.message.contains("9434765918"))
        #expect(n.eventID == "x")
        let missing = try #require(reject(#"{"v":1,"id":"x","type":"surgery.booked","ref":"x"}"#))
        #expect(missing.message.contains("\"patient\""))
    }

    /// A year such as 0001 or 9999 is a sender's error: refused, naming the
    /// field, while the first and last minutes of the years kept are taken.
    @Test func timesOutsideThePlannableYearsAreRefused() throws {
        func performed(_ at: String) -> String { #"{"v":1,"id":"x","type":"surgery.performed","ref":"S","at":"\#(at)"}"# }
        let r = try #require(reject(performed("9999-12-31T23:59")))
        #expect(r.message == #"field "at": expected a time in the years 2000 to 2099"#)
        #expect(event(performed("2000-01-01T00:00")) != nil)
        #expect(event(performed("2099-12-31T23:59")) != nil)
        #expect(reject(performed("2099-12-31T23:59:00-01:00"))?.code == .invalidField)
        let leap = try #require(reject(performed("2027-02-29T09:00")))
        #expect(leap.message.contains("no such day in the calendar"))
    }

    @Test func aLineCutShortStillNamesItsEvent() throws {
        #expect(reject(#"{"v":1,"id":"gen-1-000000049","type":"surgery.booked""#)?.eventID == "gen-1-000000049")
        #expect(reject(#"{"v":1,"patient":{"id":"P1"},"type":"surgery.booked""#)?.eventID == nil)
        #expect(reject(#"{"v":1,"note":"id","type":"x""#)?.eventID == nil)
        #expect(reject(#"{"v":1,"id":"#)?.eventID == nil)
    }

    @Test func lineTooLong() throws {
        let long = #"{"v":1,"id":"x","type":"surgery.cancelled","ref":"S","reason":""# + String(repeating: "a", count: 70_000) + #""}"#
        #expect(reject(long)?.code == .lineTooLong)
    }

    @Test func unknownExtraFieldsAreIgnored() {
        #expect(event(#"{"v":1,"id":"x","type":"surgery.cancelled","ref":"S","future_field":{"a":[1,2]}}"#) != nil)
    }

    @Test func contentHashIgnoresOrderAndSpacing() throws {
        let a = try parser.parse(#"{"v":1,"id":"x","type":"surgery.cancelled","ref":"S"}"#).get()
        let b = try parser.parse(#"{ "ref" : "S", "type":"surgery.cancelled", "id":"x", "v":1 }"#).get()
        let c = try parser.parse(#"{"v":1,"id":"x","type":"surgery.cancelled","ref":"T"}"#).get()
        #expect(a.contentHash == b.contentHash)
        #expect(a.contentHash != c.contentHash)
    }

    @Test func nhsNumbers() {
        #expect(NHSNumber.normalised("9434765919") == "9434765919")
        #expect(NHSNumber.normalised("943 476 5919") == "9434765919")
        #expect(NHSNumber.normalised("9434765918") == nil)
        #expect(NHSNumber.normalised("943476591") == nil)
        #expect(NHSNumber.normalised("94347659190") == nil)
        #expect(NHSNumber.normalised("4010232137") == "4010232137")
        // 000000006: weighted sum 12, remainder 1, check digit 10: never valid, whatever the last digit.
        for last in 0...9 { #expect(NHSNumber.normalised("000000006\(last)") == nil) }
        // Remainder 0 gives check digit 0.
        #expect(NHSNumber.normalised("0000000000") == "0000000000")
    }

    @Test func phoneNumbersBecomeE164() {
        #expect(PhoneNumber.e164("07700 900123") == "+447700900123")
        #expect(PhoneNumber.e164("07700-900-123") == "+447700900123")
        #expect(PhoneNumber.e164("+447700900123") == "+447700900123")
        #expect(PhoneNumber.e164("+44 (0)7700 900123") == "+447700900123")
        #expect(PhoneNumber.e164("0044 7700 900123") == "+447700900123")
        #expect(PhoneNumber.e164("01632 960123") == "+441632960123")
        #expect(PhoneNumber.e164("12345") == nil)
        #expect(PhoneNumber.e164("07700 90012x") == nil)
        #expect(PhoneNumber.e164("+0123456789") == nil)
        #expect(PhoneNumber.e164("") == nil)
    }
}

@Suite struct JSONParserTests {
    @Test func parsesEscapesAndUnicode() throws {
        let v = try JSONParser.parse(#"{"a":"caf\u00e9 \ud83d\ude00 \"q\" \\ \n","b":[true,false,null,-1.5e3]}"#)
        #expect(v["a"] == .string("café 😀 \"q\" \\ \n"))
        #expect(v["b"] == .array([.bool(true), .bool(false), .null, .number("-1.5e3")]))
    }

    @Test func refusesWhatIsNotJSON() {
        for bad in [#"{"a":1,}"#, #"{"a":01}"#, #"{"a":"\x"}"#, #"{"a":"\ud800"}"#, "{\"a\":\"\u{01}\"}", #"{"a" 1}"#,
                    String(repeating: "[", count: 100) + String(repeating: "]", count: 100), #"{"a":1} x"#, ""] {
            #expect(throws: JSONParseError.self, "\(bad)") { try JSONParser.parse(bad) }
        }
    }

    @Test func refusesInvalidUTF8() {
        let bytes: [UInt8] = [0x7B, 0x22, 0x61, 0x22, 0x3A, 0x22, 0xC3, 0x28, 0x22, 0x7D]
        _ = bytes.withUnsafeBufferPointer { b in
            #expect(throws: JSONParseError.self) { try JSONParser.parse(b) }
        }
    }
}

@Suite struct BookingLedgerTests {
    let at = Date(timeIntervalSince1970: 1_800_000_000)
    let patient = PatientDetails(id: "P1", name: "Ann Example")

    @Test func unknownRefAndConflict() {
        let resched = QueueEvent.surgeryRescheduled(ref: "S1", at: at, ward: nil, procedure: nil, admitAt: nil)
        #expect(BookingLedger.apply(resched, to: nil, eventID: "e").failureCode == .unknownRef)
        let booked = QueueEvent.surgeryBooked(ref: "S1", patient: patient, at: at, ward: "Ward 1", procedure: nil, admitAt: nil)
        let b = try! BookingLedger.apply(booked, to: nil, eventID: "e1").get()
        #expect(BookingLedger.apply(booked, to: b, eventID: "e2").failureCode == .conflict)
        let moved = try! BookingLedger.apply(resched, to: b, eventID: "e3").get()
        #expect(moved.revision == 2)
        let cancelled = try! BookingLedger.apply(.surgeryCancelled(ref: "S1", reason: nil), to: moved, eventID: "e4").get()
        #expect(cancelled.cancelled)
        #expect(BookingLedger.apply(resched, to: cancelled, eventID: "e5").failureCode == .conflict)
        #expect(BookingLedger.apply(booked, to: cancelled, eventID: "e6").failureCode == .conflict)
    }

    @Test func deceasedIsOneWay() {
        var p = Patient(details: PatientDetails(id: "P", deceased: true))
        p.update(with: PatientDetails(id: "P", phone: "+447700900123", deceased: false))
        #expect(p.deceased)
        #expect(p.phone == "+447700900123")
    }
}

extension Result {
    var failureCode: RejectCode? {
        if case .failure(let e) = self { return (e as? QueueReject)?.code }
        return nil
    }
}
