import Foundation
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

/// Contacts a hospital configures (`contacts.md`) through the real daemon:
/// the four examples of `seeds/touchpoint.toml`, with their templates from
/// `seeds/templates`. The scenario's hospital clock is late morning (11:00),
/// so 10:00 today has passed and 10:00 on later days has not.
@Suite struct ContactsEndToEndTests {
    /// The `[[contact]]` tables of the seed config, as a hospital would copy them.
    static var seedContacts: String {
        let seeds = (try? String(contentsOfFile: DaemonHarness.repoRoot + "/seeds/touchpoint.toml", encoding: .utf8)) ?? ""
        guard let start = seeds.range(of: "[[contact]]") else { return "" }
        return String(seeds[start.lowerBound...])
    }

    func rfc(_ d: Date) -> String { Timestamp.rfc3339(d) }
    func job(_ h: DaemonHarness, _ id: String) throws -> JobView { try h.ctlJSON(JobView.self, ["job", id]) }

    func messages(_ h: DaemonHarness) throws -> [[String: Any]] {
        let dir = h.dir + "/spool/outbox"
        let names = ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }
        return try names.map { try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/" + $0))) as! [String: Any] }
    }

    func treatment(_ ref: String, _ patient: String, at: Date, pathway: String) -> String {
        #"{"v":1,"id":"\#(ref)","type":"treatment.completed","ref":"\#(ref)","patient":{"id":"\#(patient)","name":"Gina Example","phone":"07700 900201","email":"\#(patient.lowercased())@example.org","channel":"email"},"at":"\#(rfc(at))","pathway":"\#(pathway)"}"#
    }

    func appointment(_ ref: String, _ patient: String, at: Date, service: String, mode: String = "phone") -> String {
        #"{"v":1,"id":"\#(ref)","type":"appointment.booked","ref":"\#(ref)","patient":{"id":"\#(patient)","name":"Hana Sample","phone":"07700 900202","email":"\#(patient.lowercased())@example.org","channel":"email","voicemail_ok":true},"at":"\#(rfc(at))","service":"\#(service)","clinic":"Breast clinic","mode":"\#(mode)"}"#
    }

    @Test func theFourSeedContactsArePlannedSentListedMovedAndCancelled() throws {
        let h = try DaemonHarness(extraConfig: Self.seedContacts)
        let time = h.time
        try h.appendLines([
            // Due today at 10:00 (passed): sent at once.
            treatment("T1", "P1", at: time.at(time.day(-1), 15, 0), pathway: "primary"),
            appointment("A1", "P2", at: time.at(time.day(2), 11, 0), service: "phone_consultation"),
            // On the worklist today at 10:00.
            appointment("A2", "P3", at: time.at(time.day(7), 14, 0), service: "reconstruction_consultation", mode: "in_person"),
            // Not yet due: 10:00 in three days; then moved; another cancelled.
            appointment("A3", "P4", at: time.at(time.day(5), 11, 0), service: "phone_consultation"),
            appointment("A4", "P5", at: time.at(time.day(6), 11, 0), service: "phone_consultation"),
            // A secondary pathway: no secondary-symptoms information, but the HNA offer in 28 days.
            treatment("T2", "P6", at: time.at(time.day(-1), 12, 0), pathway: "secondary"),
        ])
        try h.start()
        try h.waitUntil(timeout: 20, "the due notices go") {
            try job(h, "secondary_symptoms_info-T1-1").state == .done && job(h, "phone_appointment_prep-A1-1").state == .done
        }
        let sent = try messages(h)
        let symptoms = try #require(sent.first { $0["job_id"] as? String == "secondary_symptoms_info-T1-1" })
        #expect(symptoms["kind"] as? String == "secondary_symptoms_info" && (symptoms["body"] as? String)?.contains("01632 960 000") == true)
        let prep = try #require(sent.first { $0["job_id"] as? String == "phone_appointment_prep-A1-1" })
        #expect((prep["subject"] as? String)?.contains("phone appointment") == true && (prep["body"] as? String)?.contains("We will call you") == true)
        // The worklist: listed today at 10:00, recorded like a check-in call.
        let list = try h.ctlJSON(CallsReport.self, ["calls", "--list", "pre-surgery options"])
        #expect(list.list == "pre-surgery options" && list.calls.map(\.job.id) == ["reconstruction_options_call-A2-1"])
        #expect(list.calls.first?.job.dueAt == time.at(time.day(0), 10, 0) && list.calls.first?.job.worklist == "pre-surgery options")
        #expect(try h.ctlJSON(CallsReport.self, ["calls"]).calls.isEmpty, "not on the check-in list")
        #expect(try h.ctl(["outcome", "reconstruction_options_call-A2-1", "reached"]).status == 0)
        #expect(try job(h, "reconstruction_options_call-A2-1").state == .done)
        // Future: 10:00 local in three days; the HNA offer 28 days after its treatment.
        #expect(try job(h, "phone_appointment_prep-A3-1").dueAt == time.at(time.day(3), 10, 0))
        #expect(try job(h, "hna_offer-T2-1").dueAt == time.at(time.day(27), 10, 0))
        #expect(throws: (any Error).self) { try job(h, "secondary_symptoms_info-T2-1") }
        // Moved, cancelled, deceased.
        try h.appendLines([
            #"{"v":1,"id":"A3-moved","type":"appointment.rescheduled","ref":"A3","at":"\#(rfc(time.at(time.day(9), 11, 0)))"}"#,
            #"{"v":1,"id":"A4-off","type":"appointment.cancelled","ref":"A4","reason":"patient asked"}"#,
            #"{"v":1,"id":"P6-died","type":"patient.updated","patient":{"id":"P6","deceased":true}}"#,
        ])
        try h.waitUntil(timeout: 20, "the events are applied") { try job(h, "hna_offer-T2-1").state == .cancelled }
        #expect(try job(h, "phone_appointment_prep-A3-1").dueAt == time.at(time.day(7), 10, 0))
        #expect(try job(h, "phone_appointment_prep-A4-1").state == .cancelled)
        // explain, jobs, status show them like the built-ins.
        let explained = try h.ctlJSON(ExplainReport.self, ["explain", "A3"])
        #expect(explained.jobs.first?.reason?.contains("contact phone_appointment_prep") == true)
        #expect(try h.ctlJSON(JobsReport.self, ["jobs", "--kind", "hna_offer"]).jobs.map(\.id).sorted() == ["hna_offer-T1-1", "hna_offer-T2-1"])
        #expect(try h.status().jobs[JobKind(rawValue: "phone_appointment_prep")]?[.done] == 1)
        // The report counts each against its own time.
        let report = try h.ctlJSON(PledgeReportView.self, ["report", "--from", time.day(-1).description, "--to", time.day(7).description])
        let byName = Dictionary(uniqueKeysWithValues: (report.contacts ?? []).map { ($0.name, $0) })
        #expect(byName["secondary_symptoms_info"]?.counts["on_time"] == 1 && byName["secondary_symptoms_info"]?.counted == 1)
        #expect(byName["phone_appointment_prep"]?.counts["on_time"] == 1 && byName["phone_appointment_prep"]?.excluded == 1)
        #expect(byName["reconstruction_options_call"]?.counts["called_on_day"] == 1 && byName["reconstruction_options_call"]?.list == "pre-surgery options")
        #expect(byName["hna_offer"]?.excluded == 1 && byName["hna_offer"]?.counted == 0)
        let csv = try h.ctl(["report", "--from", time.day(-1).description, "--to", time.day(7).description, "--format", "csv"]).stdout
        #expect(csv.contains("contact:phone_appointment_prep,,on_time,1"))
        try h.stop()
    }

    @Test func aReloadThatRemovesAContactCancelsItsJobsAndABadRuleIsRefused() throws {
        let h = try DaemonHarness(extraConfig: Self.seedContacts)
        try h.appendLines([treatment("T1", "P1", at: h.time.at(h.time.day(-1), 12, 0), pathway: "primary")])
        try h.start()
        try h.waitUntil(timeout: 20, "planned") { try job(h, "hna_offer-T1-1").state == .scheduled }
        // A bad rule: refused by --check-config and by reload; the old rules stay.
        let bad = Self.seedContacts.replacingOccurrences(of: #"send = "+28d 10:00""#, with: #"send = "28 days later""#)
        try h.writeConfig(h.config(extra: bad))
        let check = try h.runDaemonToExit(["--check-config", "--config", h.configPath])
        #expect(check.status != 0 && check.stderr.contains("contact[4].send"), "\(check.stderr)")
        let refused = try h.ctl(["reload"])
        #expect(refused.status != 0 && refused.stderr.contains("contact[4].send"), "\(refused.stderr)")
        #expect(try job(h, "hna_offer-T1-1").state == .scheduled)
        // Without the HNA offer: its pending job is cancelled, saying why.
        let without = Self.seedContacts.components(separatedBy: "[[contact]]").dropLast().joined(separator: "[[contact]]")
        try h.writeConfig(h.config(extra: without))
        #expect(try h.ctl(["reload"]).status == 0)
        let cancelled = try job(h, "hna_offer-T1-1")
        #expect(cancelled.state == .cancelled)
        #expect(cancelled.history?.last?.reason.contains("removed from the configuration") == true)
        try h.stop()
    }

    @Test func aMissingTemplateForAConfiguredNoticeIsAConfigError() throws {
        let h = try DaemonHarness(extraConfig: Self.seedContacts)
        try FileManager.default.removeItem(atPath: h.dir + "/templates/hna_offer.sms.mustache")
        try "Hello {{patient.first_name}}, {{ward}}".write(toFile: h.dir + "/templates/phone_appointment_prep.sms.mustache", atomically: true, encoding: .utf8)
        let r = try h.runDaemonToExit(["--check-config", "--config", h.configPath])
        #expect(r.status != 0)
        #expect(r.stderr.contains("no template hna_offer.sms.mustache"), "\(r.stderr)")
        #expect(r.stderr.contains("{{ward}} is not a value a phone_appointment_prep has"), "\(r.stderr)")
    }
}
