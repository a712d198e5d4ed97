import Foundation
import Synchronization
import Testing
import TouchpointDomain
import TouchpointFeedMap
import TouchpointHL7

/// A receiver's memory, in a test: the bookings written and the patients touchpoint knows.
final class TestMemory: Sendable {
    let bookings = Mutex<[String: WrittenBooking]>([:])
    let known = Mutex<Set<String>>([])
    let reachable = Mutex(true)

    var memory: FeedMemory {
        FeedMemory(booking: { ref in self.bookings.withLock { $0[ref] } },
                   patientKnown: { id in self.reachable.withLock { $0 } ? self.known.withLock { $0.contains(id) } : nil })
    }

    /// Remembers what a mapping wrote, as the receiver does once the events are in the queue.
    func keep(_ m: Mapping) {
        bookings.withLock { b in for (ref, w) in m.written { b[ref] = w } }
        known.withLock { k in for id in m.booked { k.insert(id) } }
    }
}

@Suite struct FeedMapperTests {
    static let london = HospitalClock.named("Europe/London")

    static let theatres = Feed(
        name: "theatres", sendingApplication: "ORMIS", patientID: .matching(IdentifierType(authority: "RGT", type: "MR")),
        nhsNumber: [IdentifierType(authority: "NHS", type: "NH"), IdentifierType(authority: "NHSNBR", type: "NHSNMBR")],
        appointmentID: [Fixture.path("SCH-2.1"), Fixture.path("SCH-1.1"), Fixture.path("PV1-19.1")],
        start: [Fixture.path("TQ1-7"), Fixture.path("SCH-11.4"), Fixture.path("AIS-4")], ward: Fixture.path("PV1-3.1"),
        wards: ["W7": "Ward 7", "DSU": "Day Surgery Unit"], refPrefix: "TH-",
        delayReasons: ["EMERG": "an emergency operation needed the theatre first"], delayReasonField: Fixture.path("SCH-6.1"),
        maps: [FeedRule(when: [(Fixture.path("AIS-3.1"), ["BRS01", "BRS02"])], as: .surgery, procedure: Fixture.path("AIS-3.2")),
               FeedRule(when: [(Fixture.path("AIL-3.1"), ["OAC"])], as: .openAccess, clinic: Fixture.path("AIL-3.2")),
               FeedRule(when: [(Fixture.path("PV1-2"), ["P"])], as: .surgery)])

    let mapper = FeedMapper(feeds: [Self.theatres], clock: Self.london)
    /// 2026-12-03 07:00 UTC: a winter morning in London.
    let now = Date(timeIntervalSince1970: 1_796_281_200)

    static func siu(_ trigger: String, id: String = "991", start: String = "20261203083000", code: String = "BRS01",
                    ward: String = "W7", reason: String = "", pid: String? = nil) -> [String] {
        [
            "MSH|^~\\&|ORMIS|RGT|TOUCHPOINT|RGT|20261201093000||SIU^\(trigger)^SIU_S12|MSG-\(trigger)-\(id)-\(start)|P|2.4",
            pid ?? "PID|1||M123456^^^RGT^MR~9990000018^^^NHS^NH||Example^Ann^^^Mrs^^L||19600101|F|||||07700 900123^ORN^CP",
            "SCH|PL-\(id)|\(id)^ORMIS||||\(reason)|||90|MIN|^^90^\(start)",
            "RGS|1",
            "AIS|1||\(code)^Wide local excision^LOCAL|\(start)",
            "PV1|1|I|\(ward)^^^RGT",
        ]
    }

    func map(_ segments: [String], _ memory: TestMemory, at: Date? = nil) throws -> Mapping {
        let m = mapper.map(try Fixture.message(segments), now: at ?? now, memory: memory.memory)
        memory.keep(m)
        return m
    }

    func line(_ e: FeedEvent) -> String { String(decoding: e.line(id: "x", source: "hl7:theatres"), as: UTF8.self) }

    @Test func aNewTheatreBookingBecomesSurgeryBookedWithEverything() throws {
        let memory = TestMemory()
        let m = try map(Self.siu("S12"), memory)
        #expect(m.outcome == .accepted && m.feed == "theatres")
        let e = try #require(m.events.first)
        #expect(m.events.count == 1 && e.type == "surgery.booked" && e.ref == "TH-991" && e.ward == "Ward 7" && e.procedure == "Wide local excision")
        #expect(e.at == Date(timeIntervalSince1970: 1_796_286_600))  // 08:30 GMT
        #expect(e.patient?.id == "M123456" && e.patient?.nhsNumber == .set("9990000018") && e.patient?.name == .set("Ann Example"))
        #expect(e.patient?.phone == .set("+447700900123") && e.patient?.birthDate == .set("1960-01-01"))
        #expect(m.booked == ["M123456"])
        #expect(line(e) == #"{"v":1,"id":"x","type":"surgery.booked","source":"hl7:theatres","ref":"TH-991","patient":{"id":"M123456","nhs_number":"9990000018","name":"Ann Example","birth_date":"1960-01-01","phone":"+447700900123"},"at":"2026-12-03T08:30:00Z","ward":"Ward 7","procedure":"Wide local excision"}"#)
    }

    /// PID-7, the date of birth the nurse confirms on the phone (safety
    /// rules, "Who the patient is"): to the day it is sent, `""` clears it,
    /// a year or month alone is not a date of birth, and one that is no real
    /// date is refused naming PID-7.
    @Test func theDateOfBirthIsReadFromPID7ToTheDay() throws {
        func born(_ pid7: String) throws -> Mapping {
            try map(Self.siu("S12", pid: "PID|1||M123456^^^RGT^MR||Example^Ann||\(pid7)|F"), TestMemory())
        }
        #expect(try born("196003141230").events.first?.patient?.birthDate == .set("1960-03-14"))
        #expect(try born("\"\"").events.first?.patient?.birthDate == .clear)
        #expect(try born("1960").events.first?.patient?.birthDate == .keep)
        #expect(try born("").events.first?.patient?.birthDate == .keep)
        let bad = try born("19600231")
        guard case .refused(let code, let error) = bad.outcome else { Issue.record("\(bad.outcome)"); return }
        #expect(code == .error && error.location == Fixture.path("PID-7") && error.code == .dataType && !error.message.contains("19600231"), "\(error)")
    }

    @Test func theSameBookingAgainChangesNothingAndARescheduleSaysWhatChanged() throws {
        let memory = TestMemory()
        _ = try map(Self.siu("S12"), memory)
        let again = try map(Self.siu("S14"), memory)
        #expect(again.outcome == .accepted && again.events.isEmpty, "\(again)")
        let moved = try map(Self.siu("S13", start: "20261210083000", ward: "DSU"), memory)
        try #require(moved.events.map(\.type) == ["surgery.rescheduled"], "\(moved)")
        #expect(moved.events[0].at == Date(timeIntervalSince1970: 1_796_891_400) && moved.events[0].ward == "Day Surgery Unit")
    }

    @Test func aLaterStartTheSameDayTodayIsADelayWithOurWordsNeverTheSenders() throws {
        let memory = TestMemory()
        _ = try map(Self.siu("S12"), memory)
        let delayed = try map(Self.siu("S13", start: "20261203113000", reason: "EMERG^emergency case in theatre 2 for Mr Smith"), memory)
        #expect(delayed.events.map(\.type) == ["surgery.delayed"])
        #expect(delayed.events[0].expectedAt == Date(timeIntervalSince1970: 1_796_297_400))
        #expect(delayed.events[0].reason == "an emergency operation needed the theatre first")
        // An unmapped code gets the feed's default, not the text sent.
        let later = try map(Self.siu("S14", start: "20261203123000", reason: "OTHER^the surgeon is stuck in traffic"), memory)
        #expect(later.events.first?.reason == "the theatre list is running later than planned")
        // The same change on another day than today is a reschedule.
        let memory2 = TestMemory()
        _ = try map(Self.siu("S12", start: "20261205083000"), memory2)
        #expect(try map(Self.siu("S13", start: "20261205113000"), memory2).events.map(\.type) == ["surgery.rescheduled"])
    }

    @Test func cancelsDeletesAndNoShowsCancelWithTheirReasonAndOnlyWhatWasWritten() throws {
        for (trigger, reason) in [("S15", "cancelled"), ("S17", "deleted"), ("S26", "did_not_attend")] {
            let memory = TestMemory()
            #expect(try map(Self.siu(trigger), memory).outcome == .ignored("a cancellation of an appointment touchpoint was never sent"))
            _ = try map(Self.siu("S12"), memory)
            let c = try map(Self.siu(trigger), memory)
            #expect(c.events.map(\.type) == ["surgery.cancelled"] && c.events[0].reason == reason, "\(trigger)")
            #expect(try map(Self.siu(trigger), memory).events.isEmpty, "a second \(trigger) writes nothing")
        }
        // No longer in scope: the procedure code changed to one no map takes.
        let memory = TestMemory()
        _ = try map(Self.siu("S12"), memory)
        let out = try map(Self.siu("S14", code: "ORTHO9"), memory)
        #expect(out.events.map(\.type) == ["surgery.cancelled"] && out.events[0].reason == "no longer in scope")
    }

    @Test func anAppointmentNoMapTakesWritesNothing() throws {
        let m = try map(Self.siu("S12", code: "ORTHO9"), TestMemory())
        #expect(m.outcome == .ignored("no [[feed.map]] matches this appointment") && m.events.isEmpty && m.booked.isEmpty)
    }

    @Test func contentErrorsNameTheFieldAndNeverTheValue() throws {
        let noStart = try map(Self.siu("S12", start: "20261203"), TestMemory())
        guard case .refused(.error, let e) = noStart.outcome else { Issue.record("\(noStart.outcome)"); return }
        #expect(e.location == Fixture.path("SCH-11.4") && e.code == .dataType && e.message.contains("a time to the minute is needed"))
        let badNHS = try map(Self.siu("S12", pid: "PID|1||M1^^^RGT^MR~9990000019^^^NHS^NH||Example^Ann"), TestMemory())
        guard case .refused(.error, let n) = badNHS.outcome else { Issue.record("\(badNHS.outcome)"); return }
        #expect(n.location == Fixture.path("PID-3") && !n.message.contains("9990000019"))
        let noID = try map(Self.siu("S12", pid: "PID|1||9990000018^^^NHS^NH||Example^Ann"), TestMemory())
        guard case .refused(.error, let i) = noID.outcome else { Issue.record("\(noID.outcome)"); return }
        #expect(i.code == .requiredFieldMissing && i.message.contains("patient_id"))
        let noWard = try map(Self.siu("S12", ward: ""), TestMemory())
        guard case .refused(.error, let w) = noWard.outcome else { Issue.record("\(noWard.outcome)"); return }
        #expect(w.location == Fixture.path("PV1-3.1"))
        // A sender no feed names is AR.
        var other = Self.siu("S12")
        other[0] = other[0].replacingOccurrences(of: "|ORMIS|", with: "|CERNER|")
        guard case .refused(.reject, let r) = try map(other, TestMemory()).outcome else { Issue.record("not AR"); return }
        #expect(r.location == .msh(3))
    }

    @Test func routedOnMSH9NeverOnTheBody() throws {
        var lines = Self.siu("S12")
        lines[0] = lines[0].replacingOccurrences(of: "SIU^S12^SIU_S12", with: "ADT^A60^ADT_A60")
        let m = try map(lines, TestMemory())
        // An ADT^A60 with a PID: a patient touchpoint does not know, so nothing.
        #expect(m.events.isEmpty && m.booked.isEmpty)
    }

    @Test func updatesAndMergesOnlyForPatientsTouchpointKnows() throws {
        let memory = TestMemory()
        let a08 = [
            "MSH|^~\\&|ORMIS|RGT|TOUCHPOINT|RGT|20261201093000||ADT^A08|A08-1|P|2.4",
            (["PID", "1", "", "M123456^^^RGT^MR", "", "Example^Ann"] + Array(repeating: "", count: 7) + ["07700 900999^PRN^CP", #""""#]
                + Array(repeating: "", count: 14) + ["20261202", "Y"]).joined(separator: "|"),
        ]
        #expect(try map(a08, memory).outcome == .ignored("a patient touchpoint has no booking for (nothing about them is written)"))
        _ = try map(Self.siu("S12"), memory)
        let u = try map(a08, memory)
        let p = try #require(u.events.first?.patient)
        #expect(u.events.map(\.type) == ["patient.updated"] && p.phone == .set("+447700900999") && p.email == .keep && p.deceased)
        #expect(line(u.events[0]).contains(#""patient":{"id":"M123456","name":"Ann Example","phone":"+447700900999","deceased":true}"#))
        // touchpointd cannot be asked: no ACK, the engine sends it again.
        memory.reachable.withLock { $0 = false }
        #expect(try map(a08, memory).outcome == .transient("touchpointd could not be asked whether it knows the patient"))
        memory.reachable.withLock { $0 = true }
        let a40 = [
            "MSH|^~\\&|ORMIS|RGT|TOUCHPOINT|RGT|20261201093000||ADT^A40|A40-1|P|2.4",
            "PID|1||M999^^^RGT^MR||Example^Ann",
            "MRG|M123456^^^RGT^MR",
            "PID|1||M777^^^RGT^MR||Other^Person",
            "MRG|M778^^^RGT^MR",
        ]
        let merged = try map(a40, memory)
        #expect(merged.events.map(\.type) == ["patient.merged"] && merged.events[0].mergedID == "M123456" && merged.events[0].patient?.id == "M999")
        // MRG-1 with the feed's authority and no type, as Epic sends it; another authority's id is not taken.
        var untyped = a40.prefix(3).map { $0 }
        untyped[2] = "MRG|M123456^^^RGT"
        #expect(try map(untyped, memory).events.first?.mergedID == "M123456")
        untyped[2] = "MRG|M123456^^^OTHER"
        guard case .refused(.error, let e) = try map(untyped, memory).outcome else {
            Issue.record("an MRG-1 of another authority was taken")
            return
        }
        #expect(e.location?.description == "MRG-1")
    }

    @Test func aPreAdmissionIsASurgeryKeyedOnTheVisitAndItsCancelCancelsIt() throws {
        let memory = TestMemory()
        let a05 = [
            "MSH|^~\\&|ORMIS|RGT|TOUCHPOINT|RGT|20261201093000||ADT^A05|A05-1|P|2.4",
            "EVN|A05|20261201093000|202612050800",
            "PID|1||M5^^^RGT^MR||Example^Bea",
            "PV1|1|P|DSU^^^RGT||||||||||||||||V0005",
            "PV2||||||||20261205073000",
        ]
        let m = try map(a05, memory)
        #expect(m.events.map(\.type) == ["surgery.booked"] && m.events[0].ref == "TH-V0005" && m.events[0].ward == "Day Surgery Unit")
        #expect(m.events[0].at == Date(timeIntervalSince1970: 1_796_455_800))  // PV2-8 (07:30) before EVN-3
        let a38 = ["MSH|^~\\&|ORMIS|RGT|TOUCHPOINT|RGT|20261201093000||ADT^A38|A38-1|P|2.4", "PID|1||M5^^^RGT^MR", "PV1|1|P|DSU||||||||||||||||V0005"]
        #expect(try map(a38, memory).events.map(\.type) == ["surgery.cancelled"])
    }

    /// touchpointd refuses any event for a booking after its cancel: a
    /// message that would book a cancelled ref again is refused to the
    /// sender (AE, ERR on the appointment id), not passed on to be rejected.
    @Test func aCancelledRefIsNotBookedAgain() throws {
        let memory = TestMemory()
        _ = try map(Self.siu("S12"), memory)
        let s15 = Self.siu("S15")
        #expect(try map(s15, memory).events.map(\.type) == ["surgery.cancelled"])
        #expect(try map(s15, memory).outcome == .ignored("a cancellation of an appointment already cancelled"))
        guard case .refused(.error, let e) = try map(Self.siu("S12"), memory).outcome else {
            Issue.record("a cancelled ref was booked again")
            return
        }
        #expect(e.code == .duplicateKey && e.location?.description == "SCH-2.1")
    }

    @Test func openAccessTakesItsClinic() throws {
        var lines = Self.siu("S12", code: "CONS")
        lines.insert("AIL|1||OAC^Breast clinic", at: 5)
        let m = try map(lines, TestMemory())
        #expect(m.events.map(\.type) == ["open_access.booked"] && m.events[0].clinic == "Breast clinic" && m.events[0].ward == nil)
    }

    @Test func timesWithoutAnOffsetAreLondonsAcrossBothClockChanges() throws {
        // 2026-03-29 01:30 does not exist in London (moved forward to 02:30 BST = 01:30Z);
        // 2026-10-25 01:30 occurs twice (the first, BST = 00:30Z).
        let spring = try map(Self.siu("S12", start: "20260329013000"), TestMemory(), at: Date(timeIntervalSince1970: 1_774_000_000))
        #expect(spring.outcome == .accepted, "\(spring)")
        #expect(spring.events.first?.at == Date(timeIntervalSince1970: 1_774_747_800))
        let autumn = try map(Self.siu("S12", start: "20261025013000"), TestMemory(), at: Date(timeIntervalSince1970: 1_792_000_000))
        #expect(autumn.events.first?.at == Date(timeIntervalSince1970: 1_792_888_200))
    }

    /// Enhanced mode (hl7.md): with `accept_acks = true`, a message whose
    /// MSH-15 is AL gets CA, CE or CR for what would be AA, AE or AR; any
    /// other MSH-15, or a feed without `accept_acks`, the original mode's.
    @Test func acceptAcknowledgementsOnlyForAFeedThatWantsThemAndMSH15AL() throws {
        var enhanced = Self.theatres
        enhanced.acceptAcks = true
        let mapper = FeedMapper(feeds: [enhanced], clock: Self.london)
        func msh15(_ value: String) throws -> HL7Message {
            var lines = Self.siu("S12")
            lines[0] += "|||\(value)|NE"
            return try Fixture.message(lines)
        }
        #expect(try msh15("AL").value(at: .msh(15)).text == "AL" && msh15("AL").value(at: .msh(16)).text == "NE")
        for (code, commit) in [(AcknowledgementCode.accept, AcknowledgementCode.commitAccept), (.error, .commitError), (.reject, .commitReject)] {
            #expect(mapper.acknowledgementCode(code, for: try msh15("AL")) == commit)
            #expect(self.mapper.acknowledgementCode(code, for: try msh15("AL")) == code, "a feed without accept_acks")
            for other in ["", "NE", "ER", "SU"] {
                #expect(mapper.acknowledgementCode(code, for: try msh15(other)) == code, "MSH-15 \(other)")
            }
        }
        // The dry run says what the receiver would: CA, and CE for a content error.
        var dry = DryRun(feeds: [enhanced], clock: Self.london)
        let good = dry.run(Array(try msh15("AL").bytes), now: now)
        #expect(String(decoding: good.ack, as: UTF8.self).contains("\rMSA|CA|MSG-S12-991-20261203083000") && !good.lines.isEmpty)
        var bad = Self.siu("S12", start: "2026120")
        bad[0] += "|||AL"
        let refused = dry.run(Array(try Fixture.message(bad).bytes), now: now)
        #expect(String(decoding: refused.ack, as: UTF8.self).contains("\rMSA|CE|") && refused.lines.isEmpty)
    }
}
