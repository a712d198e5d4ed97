import Foundation
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

/// The ward's call list and outcomes through the real daemon and CLI.
/// The default call window (09:00-17:00): each test's hospital clock is late
/// morning (`ScenarioTime`), so the scenarios hold at whatever hour they run.
@Suite struct CallListEndToEndTests {
    static let quickRetry = "[calls]\nretry_after = \"1s\"\n"

    func booking(_ h: DaemonHarness, _ ref: String, _ patient: String, name: String, daysAgo: Int, ward: String = "Ward 7", voicemail: Bool = true) -> String {
        #"{"v":1,"id":"\#(ref)-b","type":"surgery.booked","ref":"\#(ref)","patient":{"id":"\#(patient)","name":"\#(name)","phone":"07700 9001\#(patient.suffix(2))","voicemail_ok":\#(voicemail)},"at":"\#(h.time.day(-daysAgo))T10:30","ward":"\#(ward)","procedure":"Wide local excision"}"#
    }

    @Test func aSurgeryYesterdayPutsThePatientOnTodaysListWithEveryColumn() throws {
        let h = try DaemonHarness(extraConfig: Self.quickRetry)
        try h.appendLines([booking(h, "S1", "P01", name: "Ann Example", daysAgo: 1),
                           booking(h, "S2", "P02", name: "Bea Sample", daysAgo: 1, ward: "Ward 9", voicemail: false),
                           booking(h, "S3", "P03", name: "Cara Tester", daysAgo: 0)])
        try h.start()
        let r = try h.ctlJSON(CallsReport.self, ["calls"])
        #expect(r.date == h.time.day(0).description)
        #expect(r.calls.map(\.job.id) == ["call-S1", "call-S2"])
        let ann = r.calls[0]
        #expect(ann.patientName == "Ann Example" && ann.phone == "+447700900101" && ann.voicemailOK && ann.procedure == "Wide local excision")
        #expect(ann.surgeryAt == h.time.at(h.time.day(-1), 10, 30))
        #expect(ann.job.state == .due && ann.job.attempts == 0 && ann.lastAttemptAt == nil && ann.job.ward == "Ward 7")
        #expect(r.calls[1].voicemailOK == false)
        let raw = try h.ctl(["calls", "--json"]).stdout
        for key in ["\"date\"", "\"ward\"", "\"calls\"", "\"patient_name\"", "\"phone\"", "\"voicemail_ok\"", "\"procedure\"", "\"surgery_at\"", "\"last_attempt_at\"", "\"overdue_since\"", "\"attempts\""] {
            #expect(raw.contains(key), "calls JSON lacks \(key)")
        }
        #expect(try h.ctlJSON(CallsReport.self, ["calls", "--ward", "Ward 9"]).calls.map(\.job.id) == ["call-S2"])
        #expect(try h.ctlJSON(CallsReport.self, ["calls", "--date", "tomorrow"]).calls.map(\.job.id) == ["call-S3"])
        #expect(try h.ctl(["calls", "--date", "someday"]).status == 1)
        // The table fits 80 columns and names everyone.
        let table = try h.ctl(["calls"])
        #expect(table.status == 0)
        #expect(table.stdout.split(separator: "\n").allSatisfy { $0.count <= 80 }, "\(table.stdout)")
        #expect(table.stdout.contains("Ann Example") && table.stdout.contains("07700 900101"))
        try h.stop()
    }

    @Test func eachOutcomeDoesWhatTheSpecSays() throws {
        let h = try DaemonHarness(extraConfig: Self.quickRetry)
        try h.appendLines((1...6).map { booking(h, "S\($0)", "P0\($0)", name: "Patient \($0)", daysAgo: 1) })
        try h.start()
        // reached, with wound care: done; a second outcome is refused.
        let done = try h.ctlJSON(JobView.self, ["outcome", "call-S1", "reached", "--wound-care", "--note", "healing well"])
        #expect(done.state == .done && done.outcome == .reached && done.woundCare == true)
        #expect(done.history?.last?.actor == (getuid() == 0 ? "root" : NSUserName()))
        let again = try h.ctl(["outcome", "call-S1", "reached"])
        #expect(again.status == 1 && again.stderr.contains("already closed"))
        // Three no-answers: back after retry_after each time, then escalated.
        for attempt in 1...3 {
            try h.waitUntil(timeout: 10, "call-S2 is due for attempt \(attempt)") { try h.ctlJSON(JobView.self, ["job", "call-S2"]).state == .due }
            let j = try h.ctlJSON(JobView.self, ["outcome", "call-S2", "no-answer"])
            #expect(j.attempts == attempt)
            #expect(j.state == (attempt < 3 ? .scheduled : .escalated))
        }
        // Wrong number: escalated at once.
        #expect(try h.ctlJSON(JobView.self, ["outcome", "call-S3", "wrong-number"]).state == .escalated)
        #expect(try h.ctlJSON(JobView.self, ["outcome", "call-S4", "declined"]).state == .done)
        #expect(try h.ctl(["outcome", "call-S5", "not-required"]).status == 1)
        #expect(try h.ctlJSON(JobView.self, ["outcome", "call-S5", "not-required", "--note", "readmitted"]).state == .done)
        // Unknown job, a notice, bad usage.
        #expect(try h.ctl(["outcome", "call-NOPE", "reached"]).status == 1)
        #expect(try h.ctl(["outcome", "wait-S6-1", "reached"]).stderr.contains("not a call"))
        #expect(try h.ctl(["outcome", "call-S6", "sort-of"]).status == 2)
        // The nurse's list holds the escalated calls; reaching the patient closes one.
        let nurse = try h.ctlJSON(CallsReport.self, ["calls", "--escalated"])
        #expect(Set(nurse.calls.map(\.job.id)) == ["call-S2", "call-S3"])
        #expect(try h.ctlJSON(JobView.self, ["outcome", "call-S3", "reached", "--no-wound-care"]).state == .done)
        #expect(try h.ctlJSON(CallsReport.self, ["calls", "--escalated"]).calls.map(\.job.id) == ["call-S2"])
        // The note never reaches the log.
        #expect(!h.daemonStderr.contains("healing well") && !h.daemonStderr.contains("readmitted"))
        try h.stop()
    }

    @Test func anUnfinishedCallCarriesOverAsOverdueThenEscalates() throws {
        let h = try DaemonHarness(extraConfig: Self.quickRetry)
        // Surgery 2 days ago: the call was yesterday, not made: overdue today.
        // Surgery 4 days ago: 2 open days overdue have passed: escalated.
        // The overdue call is S9 and today's S3: both due at the window's
        // start, so only the overdue-first rule puts S9 first (by due time
        // and id alone S3 would lead).
        try h.appendLines([booking(h, "S9", "P01", name: "Ann Example", daysAgo: 2), booking(h, "S2", "P02", name: "Bea Sample", daysAgo: 4),
                           booking(h, "S3", "P03", name: "Cara Tester", daysAgo: 1)])
        try h.start()
        let today = try h.ctlJSON(CallsReport.self, ["calls"])
        #expect(today.calls.map(\.job.id) == ["call-S9", "call-S3"], "overdue first")
        #expect(today.calls[0].job.dueAt >= today.calls[1].job.dueAt, "the overdue call is not also the earlier one")
        #expect(today.calls[0].job.overdueSince == h.time.day(-1).description)
        #expect(today.calls[1].job.overdueSince == nil)
        #expect(try h.ctlJSON(CallsReport.self, ["calls", "--escalated"]).calls.map(\.job.id) == ["call-S2"])
        #expect(try h.ctl(["calls"]).stdout.contains("OVERDUE since \(h.time.day(-1))"))
        try h.stop()
    }

    /// The evening nurse's list (issue 30, C-03.4): a day whose window has
    /// closed still shows its calls that were not made, carried to the next
    /// open day, rather than "no calls"; once made, a call leaves it.
    @Test func aDaysListStillShowsItsCallsNotMadeAsCarriedToTheNextOpenDay() throws {
        let h = try DaemonHarness(extraConfig: Self.quickRetry)
        // Surgery 2 days ago: the call was yesterday's, not made, carried to today.
        try h.appendLines([booking(h, "S1", "P01", name: "Ann Example", daysAgo: 2)])
        try h.start()
        defer { _ = try? h.stop() }
        let yesterday = try h.ctlJSON(CallsReport.self, ["calls", "--date", "yesterday"])
        #expect(yesterday.calls.map(\.job.id) == ["call-S1"], "yesterday's list keeps its unfinished call")
        let table = try h.ctl(["calls", "--date", "yesterday"]).stdout
        #expect(table.contains("NOT MADE: carried to \(h.time.day(0).shortText)"), "\(table)")
        #expect(try h.ctl(["calls", "--date", "yesterday", "--format", "html"]).stdout.contains("NOT MADE: carried to"))
        #expect(try h.ctl(["calls"]).stdout.contains("OVERDUE since \(h.time.day(-1))"), "and today's list has it, overdue")
        #expect(try h.ctl(["outcome", "call-S1", "reached", "--wound-care"]).status == 0)
        #expect(try h.ctlJSON(CallsReport.self, ["calls", "--date", "yesterday"]).calls.isEmpty, "made: off both lists")
    }

    @Test func theHTMLPageIsWellFormedAndTheCSVRoundTrips() throws {
        let h = try DaemonHarness(extraConfig: Self.quickRetry)
        try h.appendLines([booking(h, "S1", "P01", name: "Ann \\\"Nan\\\" O'Brien, Jr", daysAgo: 1),
                           booking(h, "S2", "P02", name: "=HYPERLINK(1)", daysAgo: 1),
                           booking(h, "S3", "P03", name: "Zoë <Example>", daysAgo: 1)])
        try h.start()
        let html = try h.ctl(["calls", "--format", "html"])
        #expect(html.status == 0)
        #expect(!html.stdout.contains("<script") && !html.stdout.contains("src=") && !html.stdout.contains("href="))
        let checked = try DaemonHarness.run("/usr/bin/python3", ["-c", """
            import sys, xml.etree.ElementTree as ET
            root = ET.fromstring(sys.stdin.read() if False else open(sys.argv[1]).read())
            rows = root.findall('.//{*}tbody/{*}tr') or root.findall('.//tbody/tr')
            print(len(rows))
            """, try write(html.stdout, h.dir + "/calls.html")])
        #expect(checked.status == 0, "not well-formed: \(checked.stderr)")
        #expect(checked.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "3")
        #expect(html.stdout.contains("Zoë &lt;Example&gt;"))
        let csv = try h.ctl(["calls", "--format", "csv"])
        let parsed = try DaemonHarness.run("/usr/bin/python3", ["-c", """
            import csv, json, sys
            with open(sys.argv[1], newline='', encoding='utf-8-sig') as f:
                print(json.dumps(list(csv.DictReader(f))))
            """, try write(csv.stdout, h.dir + "/calls.csv")])
        #expect(parsed.status == 0, "\(parsed.stderr)")
        let rows = try JSONSerialization.jsonObject(with: Data(parsed.stdout.utf8)) as! [[String: String]]
        #expect(rows.count == 3)
        #expect(rows.map { $0["job"]! } == ["call-S1", "call-S2", "call-S3"])
        #expect(rows[0]["patient"] == "Ann \"Nan\" O'Brien, Jr")
        #expect(rows[1]["patient"] == "'=HYPERLINK(1)", "a formula is defused")
        #expect(rows[2]["patient"] == "Zoë <Example>")
        #expect(rows[0]["phone"] == "07700 900101")
        try h.stop()
    }

    @Test func theDailyExportWritesEachWardsList() throws {
        let h = try DaemonHarness(extraConfig: Self.quickRetry.replacingOccurrences(of: "[calls]\n", with: "[calls]\nexport_dir = \"exports\"\nexport_at = \"07:00\"\n"))
        try h.appendLines([booking(h, "S1", "P01", name: "Ann Example", daysAgo: 1), booking(h, "S2", "P02", name: "Bea Sample", daysAgo: 1, ward: "Ward 9")])
        try h.start()
        let dir = h.dir + "/exports"
        let base = "\(dir)/calls-\(h.time.day(0))-"
        try h.waitUntil(timeout: 10, "the lists are written") {
            ["ward-7.html", "ward-7.csv", "ward-9.html", "ward-9.csv"].allSatisfy { FileManager.default.fileExists(atPath: base + $0) }
        }
        for f in ["ward-7.html", "ward-7.csv", "ward-9.html", "ward-9.csv"] {
            let mode = try FileManager.default.attributesOfItem(atPath: base + f)[.posixPermissions] as! Int
            #expect(mode == 0o640, "\(f) is \(String(mode, radix: 8))")
        }
        let ward7 = try String(contentsOfFile: base + "ward-7.html", encoding: .utf8)
        #expect(ward7.contains("Ann Example") && !ward7.contains("Bea Sample"))
        // Written once a day: a restart does not write again.
        let before = try FileManager.default.attributesOfItem(atPath: base + "ward-7.html")[.modificationDate] as! Date
        try h.stop()
        try h.start()
        Thread.sleep(forTimeInterval: 0.5)
        #expect(try FileManager.default.attributesOfItem(atPath: base + "ward-7.html")[.modificationDate] as! Date == before)
        try h.stop()
    }

    /// Names of symbols only ("***", "+++") give the same slug: each still
    /// gets its own file, so no ward's printed list is overwritten by
    /// another's and a call missed. Two spellings of one ward ("Ward 7",
    /// "WARD 7") are one ward (H-42): one list, both calls on it.
    @Test func wardsWhoseNamesGiveTheSameFileNameEachKeepTheirList() throws {
        let h = try DaemonHarness(extraConfig: "[calls]\nexport_dir = \"exports\"\nexport_at = \"07:00\"\n")
        try h.appendLines([booking(h, "S1", "P01", name: "Ann Example", daysAgo: 1), booking(h, "S2", "P02", name: "Bea Sample", daysAgo: 1, ward: "WARD 7"),
                           booking(h, "S3", "P03", name: "Cara Tester", daysAgo: 1, ward: "Ward 9"), booking(h, "S4", "P04", name: "Dee Person", daysAgo: 1, ward: "***"),
                           booking(h, "S5", "P05", name: "Eve Example", daysAgo: 1, ward: "+++")])
        try h.start()
        let dir = h.dir + "/exports"
        var html: [String] = []
        try h.waitUntil(timeout: 10, "the lists are written") {
            html = try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".html") }.sorted()
            return html.count == 4
        }
        #expect(html.contains("calls-\(h.time.day(0))-ward-9.html"), "\(html)")
        let ward7 = try String(contentsOfFile: dir + "/calls-\(h.time.day(0))-ward-7.html", encoding: .utf8)
        #expect(ward7.contains("Ann Example") && ward7.contains("Bea Sample"), "one ward, one list")
        let lists = try html.map { try String(contentsOfFile: dir + "/" + $0, encoding: .utf8) }
        for name in ["Ann Example", "Bea Sample", "Cara Tester", "Dee Person", "Eve Example"] {
            #expect(lists.filter { $0.contains(name) }.count == 1, "\(name) in \(html)")
        }
        try h.stop()
    }

    /// Hazard H-05's control: whoever records an outcome sees whose call it
    /// was, so an outcome put on the wrong call is noticed at once.
    @Test func theOutcomeConfirmationNamesThePatient() throws {
        let h = try DaemonHarness()
        try h.appendLines([booking(h, "S1", "P01", name: "Ann Example", daysAgo: 1)])
        try h.start()
        let r = try h.ctl(["outcome", "call-S1", "reached", "--wound-care"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("patient Ann Example (P01)"), "\(r.stdout)")
        #expect(try h.ctlJSON(JobView.self, ["job", "call-S1"]).patientName == "Ann Example")
        // The note and the name go to the terminal, never to the log.
        #expect(!h.daemonStderr.contains("Ann Example"))
        try h.stop()
    }

    /// What hospital systems and staff typed reaches a nurse's terminal as
    /// text: an escape sequence in a name, a ward or a note cannot clear her
    /// screen or retitle her window, and a newline cannot forge a line of
    /// the list. `--json` keeps the data exactly as it came.
    @Test func controlCharactersInTheDataReachTheTerminalAsText() throws {
        let h = try DaemonHarness()
        try h.appendLines([#"{"v":1,"id":"b1","type":"surgery.booked","ref":"S1","patient":{"id":"P01","name":"Ann\u001b[2J\u001b]52;c;ZXZpbA==\u0007 Example\u202e","phone":"07700 900101"},"at":"\#(h.time.day(-1))T10:30","ward":"Ward\u001b[8m7","procedure":"one\ntwo\u009b"}"#])
        try h.append(#"{"v":1,"id":"b2","type":"surgery.booked","ref":"S2","patient":{"id":"P02"},"at":"\#(h.time.day(1))T10:30","ward":"Ward 7"}"# + "\n")
        try h.start()
        let reason = "wrong patient\n  today 09:00  root  due -> done  reached\u{1B}[8m"
        #expect(try h.ctl(["cancel", "call-S2", "--reason", reason]).status == 0)
        for args in [["calls"], ["calls", "--ward", "Ward\u{1B}[8m7"], ["job", "call-S1"], ["explain", "S1"], ["jobs"], ["job", "call-S2"]] {
            let out = try h.ctl(args)
            #expect(out.status == 0, "\(args): \(out.stderr)")
            let hidden = out.stdout.unicodeScalars.filter { TerminalText.hidden($0.value) && $0 != "\n" }
            #expect(hidden.isEmpty, "\(args) printed \(hidden.map { String($0.value, radix: 16) })")
        }
        let list = try h.ctl(["calls"]).stdout
        #expect(list.contains(#"Ann\u001b[2J\u001b]"#), "\(list)")  // the column cuts the name short
        #expect(try h.ctl(["job", "call-S1"]).stdout.contains(#"patient Ann\u001b[2J\u001b]52;c;ZXZpbA==\u0007 Example\u202e (P01)"#))
        #expect(list.contains(#"Ward\u001b[8m7"#) && list.contains(#"one\ntwo\u009b"#), "\(list)")
        let cancelled = try h.ctl(["job", "call-S2"]).stdout
        #expect(cancelled.contains(#"wrong patient\n  today 09:00"#) && !cancelled.contains("\n  today 09:00  root  due -> done"), "\(cancelled)")
        let exact = try h.ctlJSON(CallsReport.self, ["calls"]).calls[0]
        #expect(exact.patientName == "Ann\u{1B}[2J\u{1B}]52;c;ZXZpbA==\u{07} Example\u{202E}" && exact.job.ward == "Ward\u{1B}[8m7")
        try h.stop()
    }

    /// Hazard H-18's control: a list printed on a machine whose clock zone is
    /// not the hospital's still shows the hospital's times (the reply names
    /// the zone), so a 09:00 call never reads as 08:00.
    @Test func theListShowsTheHospitalsTimesWhateverTheMachinesZone() throws {
        let h = try DaemonHarness()
        try h.appendLines([booking(h, "S1", "P01", name: "Ann Example", daysAgo: 1)])
        try h.start()
        let machine = h.time.zoneIdentifier == "Etc/GMT" ? "Asia/Tokyo" : "UTC"
        let csv = try h.ctl(["calls", "--format", "csv"], environment: ["TZ": machine])
        #expect(csv.status == 0)
        #expect(csv.stdout.contains(",\(h.time.day(0)) 09:00,"), "\(csv.stdout)")
        let table = try h.ctl(["calls"], environment: ["TZ": machine])
        #expect(table.stdout.contains("due 09:00"), "\(table.stdout)")
        let html = try h.ctl(["calls", "--format", "html"], environment: ["TZ": machine])
        #expect(html.stdout.contains("due 09:00"))
        try h.stop()
    }

    /// Hazard H-23's control: a printed or exported list holds what a ward
    /// needs to call, and no more: never an NHS number or an email address.
    @Test func thePrintedListCarriesNoNHSNumberOrEmail() throws {
        let h = try DaemonHarness()
        try h.appendLines([#"{"v":1,"id":"b1","type":"surgery.booked","ref":"S1","patient":{"id":"P01","name":"Ann Example","phone":"07700 900101","email":"ann.example@example.org","nhs_number":"943 476 5919"},"at":"\#(h.time.day(-1))T10:30","ward":"Ward 7"}"#])
        try h.start()
        for format in ["table", "csv", "html"] {
            let out = try h.ctl(["calls", "--format", format]).stdout
            #expect(out.contains("Ann Example"))
            for secret in ["9434765919", "943 476 5919", "ann.example@example.org"] {
                #expect(!out.contains(secret), "\(format) shows \(secret)")
            }
        }
        try h.stop()
    }

    func write(_ text: String, _ path: String) throws -> String {
        try text.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }
}

#if canImport(Glibc)
import Glibc
#endif
