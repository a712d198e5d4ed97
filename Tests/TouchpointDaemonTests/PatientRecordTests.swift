import Foundation
import GRDB
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

/// The queue format's patient rules on the real daemon and its real
/// database (`queue-format.md`: "Patient object", `patient.updated`,
/// `patient.merged`, and each writer's `source` in `status`).
@Suite(.serialized) struct PatientRecordTests {
    func text(_ h: DaemonHarness, _ sql: String) throws -> String? {
        try stateDatabase(h).read { db in try String.fetchOne(db, sql: sql) }
    }

    @Test func anUpdateForAPatientNeverBookedKeepsNothingAndIsCountedNotKnown() throws {
        let h = try DaemonHarness()
        try h.appendLines([
            #"{"v":1,"id":"u1","type":"patient.updated","patient":{"id":"ADT-77","name":"Nora Neverbooked","phone":"07700 900777"}}"#,
            #"{"v":1,"id":"m1","type":"patient.merged","patient":{"id":"ADT-78","name":"Nora Neverbooked"},"merged_id":"ADT-79"}"#,
        ])
        try h.start()
        let s = try h.status()
        #expect(s.queue.notKnown == 2 && s.queue.ingested == 0 && s.queue.rejected == 0)
        #expect(s.patients == 0)
        // Nothing about them: no record, no event id, no reject, no line in the database at all.
        #expect(try query(h, "SELECT count(*) FROM patients") == 0)
        #expect(try query(h, "SELECT count(*) FROM events") == 0)
        #expect(try query(h, "SELECT count(*) FROM rejects") == 0)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: h.stateDir + "/touchpoint.sqlite"))
        #expect(bytes.range(of: Data("Neverbooked".utf8)) == nil && bytes.range(of: Data("ADT-77".utf8)) == nil)
        // The human status says so too.
        #expect(try h.ctl(["status"]).stdout.contains("2 about patients not known"))
        try h.stop()
    }

    @Test func nullClearsAFieldAndADeathCannotBeUndoneByTheFeed() throws {
        let h = try DaemonHarness()
        let day = h.time.day(3)
        try h.appendLines([
            #"{"v":1,"id":"b1","type":"surgery.booked","ref":"S1","patient":{"id":"P1","name":"Ann Example","phone":"07700 900123","email":"ann@example.org","voicemail_ok":true},"at":"\#(day)T09:00","ward":"Ward 7"}"#,
            // The patient no longer has that phone; an empty name is not a clear.
            #"{"v":1,"id":"u1","type":"patient.updated","patient":{"id":"P1","phone":null,"voicemail_ok":null}}"#,
            #"{"v":1,"id":"u2","type":"patient.updated","patient":{"id":"P1","deceased":true}}"#,
            #"{"v":1,"id":"u3","type":"patient.updated","patient":{"id":"P1","deceased":false}}"#,
            #"{"v":1,"id":"u4","type":"patient.updated","patient":{"id":"P1","deceased":null}}"#,
        ])
        try h.start()
        #expect(try text(h, "SELECT phone FROM patients WHERE id = 'P1'") == nil)
        #expect(try query(h, "SELECT count(*) FROM patients WHERE id = 'P1' AND phone IS NULL AND email = 'ann@example.org' AND name = 'Ann Example' AND voicemail_ok = 0 AND deceased = 1") == 1)
        let r = try h.ctlJSON(RejectsReport.self, ["rejects"]).rejects
        #expect(r.map(\.eventID) == ["u3", "u4"])
        #expect(r.allSatisfy { $0.code == .conflict && $0.message.contains("patient.deceased") })
        try h.stop()
    }

    @Test func aMergeMovesBookingsAndPendingJobsAndLaterEventsOfTheRetiredIdFollow() throws {
        let h = try DaemonHarness()
        let day = h.time.day(3)
        let later = h.time.day(6)
        try h.appendLines([
            // The same woman under two hospital numbers: a surgery under one, Open Access under the other.
            #"{"v":1,"id":"b1","type":"surgery.booked","ref":"S1","patient":{"id":"OLD-1","name":"Ann Example","phone":"07700 900123"},"at":"\#(day)T09:00","ward":"Ward 7"}"#,
            #"{"v":1,"id":"b2","type":"open_access.booked","ref":"OA1","patient":{"id":"NEW-1","email":"ann@example.org","channel":"email"},"at":"\#(later)T14:00"}"#,
            #"{"v":1,"id":"m1","type":"patient.merged","source":"hl7:pas","patient":{"id":"NEW-1","name":"Ann Example"},"merged_id":"OLD-1"}"#,
            // The theatre system still names the old number.
            #"{"v":1,"id":"b3","type":"surgery.booked","ref":"S2","patient":{"id":"OLD-1","phone":"07700 900456"},"at":"\#(later)T09:00","ward":"Ward 7"}"#,
        ])
        try h.start()
        let s = try h.status()
        #expect(s.queue.ingested == 4 && s.queue.rejected == 0)
        #expect(s.patients == 1)
        #expect(try query(h, "SELECT count(*) FROM bookings WHERE patient_id = 'NEW-1'") == 3)
        #expect(try query(h, "SELECT count(*) FROM jobs WHERE patient_id = 'OLD-1' AND state IN ('scheduled', 'due')") == 0)
        #expect(try query(h, "SELECT count(*) FROM jobs WHERE patient_id = 'NEW-1'") == 5)
        #expect(try text(h, "SELECT merged_into FROM patients WHERE id = 'OLD-1'") == "NEW-1")
        // The survivor has the retired record's phone (then the later booking's), and each job says why it moved.
        #expect(try text(h, "SELECT phone FROM patients WHERE id = 'NEW-1'") == "+447700900456")
        let history = try h.ctlJSON(JobView.self, ["job", "call-S1"]).history ?? []
        #expect(history.contains { $0.reason.contains("patient records merged") })
        // A death on the retired number reaches the survivor: every pending job of both bookings cancelled.
        try h.appendLines([#"{"v":1,"id":"d1","type":"patient.updated","patient":{"id":"OLD-1","deceased":true}}"#])
        try h.waitUntil(timeout: 10, "the death is read") { try h.status().queue.ingested == 5 }
        #expect(try query(h, "SELECT count(*) FROM jobs WHERE state IN ('scheduled', 'due')") == 0)
        #expect(try query(h, "SELECT deceased FROM patients WHERE id = 'NEW-1'") == 1)
        try h.stop()
    }

    @Test func aMergeOntoANewIdCarriesADeathOrOptOutOfTheRetiredRecord() throws {
        let h = try DaemonHarness()
        let day = h.time.day(4)
        try h.appendLines([
            #"{"v":1,"id":"b1","type":"open_access.booked","ref":"OA1","patient":{"id":"A","email":"a@example.org","opted_out":true},"at":"\#(day)T14:00"}"#,
            #"{"v":1,"id":"m1","type":"patient.merged","patient":{"id":"B","name":"Bea Example"},"merged_id":"A"}"#,
            // Already merged: a second merge of the same pair changes nothing but details.
            #"{"v":1,"id":"m2","type":"patient.merged","patient":{"id":"B","name":"Bea Example"},"merged_id":"A"}"#,
            #"{"v":1,"id":"m3","type":"patient.merged","patient":{"id":"C"},"merged_id":"C"}"#,
        ])
        try h.start()
        let s = try h.status()
        #expect(s.queue.ingested == 3 && s.queue.rejected == 1)
        #expect(s.patients == 1)
        #expect(try query(h, "SELECT opted_out FROM patients WHERE id = 'B'") == 1)
        #expect(try text(h, "SELECT email FROM patients WHERE id = 'B'") == "a@example.org")
        #expect(try text(h, "SELECT patient_id FROM jobs WHERE id LIKE 'oa-OA1-%'") == "B")
        #expect(try h.ctlJSON(RejectsReport.self, ["rejects"]).rejects.first?.message.contains("merged_id") == true)
        try h.stop()
    }

    @Test func statusShowsEachWriterAndWhenItsLastEventArrived() throws {
        let h = try DaemonHarness()
        try h.appendLines([
            #"{"v":1,"id":"t1","type":"treatment.completed","ref":"T1","at":"2026-01-01T10:00","patient":{"id":"P1"},"source":"hl7:theatres"}"#,
            #"{"v":1,"id":"t2","type":"treatment.completed","ref":"T2","at":"2026-01-01T10:00","patient":{"id":"P2"},"source":"hl7:theatres"}"#,
            #"{"v":1,"id":"t3","type":"treatment.completed","ref":"T3","at":"2026-01-01T10:00","patient":{"id":"P3"},"source":"nightly-export"}"#,
            #"{"v":1,"id":"t4","type":"treatment.completed","ref":"T4","at":"2026-01-01T10:00","patient":{"id":"P4"}}"#,
            #"{"v":1,"id":"t5","type":"treatment.completed","ref":"T5","at":"2026-01-01T10:00","patient":{"id":"P5"},"source":""}"#,
        ])
        let before = Date()
        try h.start()
        let s = try h.status()
        #expect(s.queue.ingested == 4 && s.queue.rejected == 1)
        #expect(s.queue.sources.map(\.source) == [nil, "hl7:theatres", "nightly-export"])
        #expect(s.queue.sources.map(\.events) == [1, 2, 1])
        #expect(s.queue.sources.allSatisfy { $0.lastEventAt >= before.addingTimeInterval(-1) })
        #expect(try h.ctlJSON(RejectsReport.self, ["rejects"]).rejects.first?.message.contains("\"source\"") == true)
        // A resend is news from its writer too: the feed is alive.
        try h.appendLines([#"{"v":1,"id":"t3","type":"treatment.completed","ref":"T3","at":"2026-01-01T10:00","patient":{"id":"P3"},"source":"nightly-export"}"#])
        try h.waitUntil(timeout: 10, "the resend is read") { try h.status().queue.duplicates == 1 }
        #expect(try h.status().queue.sources.last?.events == 2)
        let human = try h.ctl(["status"]).stdout
        #expect(human.contains("hl7:theatres: last event") && human.contains("(unnamed): last event"))
        try h.stop()
    }
}
