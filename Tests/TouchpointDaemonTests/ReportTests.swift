import Foundation
import GRDB
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

/// The pledge report through the real daemon and CLI: a day of bookings,
/// outcomes recorded with `touchpointctl`, notices sent by the outbox, and
/// the report's numbers checked against a count done here, by SQL on the
/// state database, for every measure and ward.
@Suite struct ReportEndToEndTests {
    func surgery(_ h: DaemonHarness, _ ref: String, day: Int, at: String, ward: String, channel: String = "sms") -> String {
        #"{"v":1,"id":"\#(ref)-b","type":"surgery.booked","ref":"\#(ref)","patient":{"id":"P\#(ref)","name":"Patient \#(ref)","phone":"07700 900\#(ref.suffix(3))","channel":"\#(channel)"},"at":"\#(h.time.day(day))T\#(at)","ward":"\#(ward)"}"#
    }

    @Test func theReportsNumbersAreThoseCountedFromTheRecords() throws {
        let h = try DaemonHarness()
        try FileManager.default.createDirectory(atPath: h.dir + "/spool/outbox", withIntermediateDirectories: true)
        let noon = "12:30"  // later today: its wait notice (due 2 h before) goes now
        try h.appendLines([
            surgery(h, "S101", day: -1, at: "10:30", ward: "Ward 7"),
            surgery(h, "S102", day: -1, at: "10:30", ward: "Ward 7"),
            surgery(h, "S103", day: -1, at: "11:00", ward: "Ward 9"),
            surgery(h, "S104", day: -1, at: "11:30", ward: "Ward 9"),
            surgery(h, "S105", day: -1, at: "12:00", ward: "Ward 9"),
            surgery(h, "S106", day: 0, at: "15:00", ward: "Ward 7"),
            surgery(h, "S107", day: 0, at: noon, ward: "Ward 9"),
            surgery(h, "S108", day: 0, at: noon, ward: "Ward 7", channel: "none"),
            #"{"v":1,"id":"S106-c","type":"surgery.cancelled","ref":"S106","reason":"patient unwell"}"#,
            #"{"v":1,"id":"S107-d","type":"surgery.delayed","ref":"S107","expected_at":"\#(h.time.day(0))T14:00","reason":"theatre overran"}"#,
            #"{"v":1,"id":"O1-b","type":"open_access.booked","ref":"O1","patient":{"id":"PO1","name":"Olive","email":"o@example.org","channel":"email"},"at":"\#(h.time.day(3))T10:00","clinic":"Clinic A"}"#,
            #"{"v":1,"id":"O2-b","type":"open_access.booked","ref":"O2","patient":{"id":"PO2","name":"Oona","email":"oo@example.org","channel":"email"},"at":"\#(h.time.day(20))T10:00","clinic":"Clinic A"}"#,
        ])
        try h.start()
        #expect(try h.ctl(["outcome", "call-S101", "reached", "--wound-care"]).status == 0)
        #expect(try h.ctl(["outcome", "call-S102", "no-answer"]).status == 0)
        #expect(try h.ctl(["outcome", "call-S103", "not-required", "--note", "readmitted"]).status == 0)
        #expect(try h.ctl(["outcome", "call-S104", "declined"]).status == 0)
        // The notices due now go out (the outbox).
        try h.waitUntil("today's notices sent") {
            let jobs = try h.ctlJSON(JobsReport.self, ["jobs", "--ref", "S107", "--kind", "wait_notice"]).jobs
            return !jobs.isEmpty && jobs.allSatisfy { $0.state == .done }
        }
        try h.waitUntil("the Open Access information sent") { try h.ctlJSON(JobView.self, ["job", "oa-O1-1"]).state == .done }

        let (from, to) = (h.time.day(-2), h.time.day(4))
        let r = try h.ctlJSON(PledgeReportView.self, ["report", "--from", from.description, "--to", to.description])
        let counted = try independentCount(h, from: from, to: to)
        for p in r.promises {
            let mine = try #require(counted[p.key.rawValue])
            #expect(p.counted == (mine["counted"] ?? 0) && p.excluded == (mine["excluded"] ?? 0), "\(p.key): counted \(p.counted)/\(mine["counted"] ?? -1), excluded \(p.excluded)/\(mine["excluded"] ?? -1)")
            for m in (p.key.categories + p.key.extras).map(\.rawValue) {
                #expect(p.counts[m] == (mine[m] ?? 0), "\(p.key).\(m): report \(p.counts[m] ?? -1), counted here \(mine[m] ?? 0)")
            }
            for (ward, c) in p.byWard {
                for (m, n) in c {
                    #expect(n == (counted["\(p.key.rawValue)@\(ward)"]?[m] ?? 0), "\(p.key) \(ward).\(m): \(n)")
                }
            }
        }
        // What the scenario was built to show.
        let calls = try #require(r.promises.first { $0.key == .checkinCall })
        #expect(calls.counts["called_on_day"] == 3 && calls.counts["not_called"] == 1 && calls.counts["not_required"] == 1)
        #expect(calls.excluded == 1 && calls.headline.numerator == 3 && calls.headline.denominator == 4)
        let waits = try #require(r.promises.first { $0.key == .waitNotice })
        #expect(waits.counts["informed"] == 1 && waits.counts["suppressed"] == 1 && waits.counts["delays_notified"] == 1)
        let info = try #require(r.promises.first { $0.key == .openAccessInfo })
        #expect(info.counted == 1 && info.counts["in_time_late_booking"] == 1)
        // --list names jobs, never patients; formats; a bad measure is refused naming the good ones.
        let list = try h.ctlJSON(PledgeReportView.self, ["report", "--from", from.description, "--to", to.description, "--list", "checkin_call.not_called"])
        #expect(list.list?.jobs.map(\.job) == ["call-S105"])
        let html = try h.ctl(["report", "--from", from.description, "--to", to.description, "--format", "html"]).stdout
        #expect(html.contains("<html lang=\"en-GB\">") && html.contains("3 of 4 (75 %)") && !html.contains("Patient S10"))
        let csv = try h.ctl(["report", "--from", from.description, "--to", to.description, "--format", "csv"]).stdout
        #expect(csv.hasPrefix("promise,ward,measure,value\r\n") && csv.contains("checkin_call,Ward 9,not_required,1"))
        // The leaflet (issue 33): the same numbers in words, every one under 5
        // shown as such, and no patient, ward or clinic named.
        let leaflet = try h.ctl(["report", "--from", from.description, "--to", to.description, "--format", "leaflet"]).stdout
        #expect(leaflet.contains("We called fewer than 5 of fewer than 5 patients the day after their surgery."), "3 of 4")
        #expect(leaflet.contains("Not everyone felt supported after surgery.") && leaflet.contains("<th scope=\"col\">We did</th>"))
        for named in ["Ward 7", "Ward 9", "Clinic A", "Patient S10", "Olive", "07700"] { #expect(!leaflet.contains(named), "the leaflet names \(named)") }
        let bad = try h.ctl(["report", "--list", "checkin_call.everything"])
        #expect(bad.status == 1 && bad.stderr.contains("checkin_call.not_called"))
        #expect(try h.ctl(["report", "--month", "2026-13"]).status == 1)
    }

    /// The leaflet at its fullest (three months of charts, the seed's four
    /// contacts with their promises) printed by headless Chromium at A4 is one
    /// page; the PDF and a PNG of it (pdftoppm, when there) are kept in
    /// `.build/screenshots` to be looked at.
    @Test(.enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium") || BrowserTests.required,
                   "no Chromium here: bash scripts/setup --browser"))
    func theLeafletPrintsOnOneA4Page() throws {
        let h = try DaemonHarness(extraConfig: ContactsEndToEndTests.seedContacts)
        try h.appendLines([surgery(h, "S201", day: -1, at: "10:30", ward: "Ward 7")])
        try h.start()
        #expect(try h.ctl(["outcome", "call-S201", "reached", "--wound-care"]).status == 0)
        let (from, to) = (h.time.day(-70), h.time.day(0))
        let leaflet = try h.ctl(["report", "--from", from.description, "--to", to.description, "--format", "leaflet"]).stdout
        #expect(leaflet.contains("Holistic Needs Assessment") && leaflet.contains("<svg role=\"img\""))
        try leaflet.write(toFile: h.dir + "/leaflet.html", atomically: true, encoding: .utf8)
        let pdf = try LeafletPrint.pdf(h.dir + "/leaflet.html", dir: h.dir)
        #expect(try LeafletPrint.pages(pdf) == 1, "the leaflet prints on one A4 page")
        let shots = DaemonHarness.repoRoot + "/.build/screenshots"
        try FileManager.default.createDirectory(atPath: shots, withIntermediateDirectories: true)
        _ = try? FileManager.default.removeItem(atPath: shots + "/leaflet.pdf")
        try FileManager.default.copyItem(atPath: pdf, toPath: shots + "/leaflet.pdf")
        if FileManager.default.isExecutableFile(atPath: "/usr/bin/pdftoppm") {
            _ = try DaemonHarness.run("/usr/bin/pdftoppm", ["-png", "-r", "60", "-singlefile", pdf, shots + "/leaflet-print"])
        }
        try h.stop()
    }

    /// The report's measures counted from the database with SQL of their own,
    /// by promise and by `promise@ward`.
    func independentCount(_ h: DaemonHarness, from: LocalDate, to: LocalDate) throws -> [String: [String: Int]] {
        let db = try stateDatabase(h)
        let clock = h.time.clock
        let start = clock.instant(on: from, at: TimeOfDay(hour: 0, minute: 0)).timeIntervalSince1970 * 1000
        let end = clock.instant(on: to.adding(days: 1), at: TimeOfDay(hour: 0, minute: 0)).timeIntervalSince1970 * 1000
        let now = Date().timeIntervalSince1970 * 1000
        var out: [String: [String: Int]] = [:]
        func add(_ promise: String, _ ward: String?, _ measure: String, _ n: Int = 1) {
            out[promise, default: [:]][measure, default: 0] += n
            out["\(promise)@\(ward ?? "")", default: [:]][measure, default: 0] += n
        }
        try db.read { db in
            let calls = try Row.fetchAll(db, sql: """
                SELECT b.ward, j.state, j.outcome, j.call_day, j.due_at, b.cancelled,
                  (SELECT min(a.at) FROM call_attempts a WHERE a.job_id = j.id AND a.outcome <> 'not_required') AS first_at,
                  (SELECT count(*) FROM call_attempts a WHERE a.job_id = j.id AND a.outcome = 'reached') AS reached,
                  (SELECT count(*) FROM call_attempts a WHERE a.job_id = j.id AND a.outcome = 'reached' AND a.wound_care = 1) AS wound,
                  (SELECT count(*) FROM call_attempts a WHERE a.job_id = j.id AND a.outcome = 'declined') AS declined,
                  (SELECT count(*) FROM job_history x WHERE x.job_id = j.id AND x.to_state = 'escalated') AS escalated,
                  (SELECT max(x.at) FROM job_history x WHERE x.job_id = j.id AND x.to_state = 'cancelled') AS cancelled_at
                FROM jobs j JOIN bookings b ON b.kind = 'surgery' AND b.ref = j.ref
                WHERE j.kind = 'checkin_call' AND coalesce(b.performed_at, b.at) >= ? AND coalesce(b.performed_at, b.at) < ?
                """, arguments: [start, end])
            for r in calls {
                let ward: String? = r["ward"]
                if let at: Double = r["cancelled_at"], (r["cancelled"] as Bool), at < r["due_at"] { add("checkin_call", ward, "excluded"); continue }
                guard (r["due_at"] as Double) <= now || (r["first_at"] as Double?) != nil else { continue }
                add("checkin_call", ward, "counted")
                if (r["state"] as String) == "done" && (r["outcome"] as String?) == "not_required" {
                    add("checkin_call", ward, "not_required")
                } else if let first: Double = r["first_at"] {
                    let day = clock.localDate(of: Date(timeIntervalSince1970: first / 1000)).description
                    add("checkin_call", ward, day <= (r["call_day"] as String) ? "called_on_day" : "called_later")
                } else {
                    add("checkin_call", ward, "not_called")
                }
                if (r["reached"] as Int) > 0 { add("checkin_call", ward, "reached") }
                if (r["wound"] as Int) > 0 { add("checkin_call", ward, "wound_care_discussed") }
                if (r["declined"] as Int) > 0 { add("checkin_call", ward, "declined") }
                if (r["escalated"] as Int) > 0 || (r["state"] as String) == "escalated" { add("checkin_call", ward, "escalated") }
            }
            // Wait notices, by surgery: the first notice decides whether it counts.
            let waits = try Row.fetchAll(db, sql: """
                SELECT b.ref, b.ward, b.cancelled, coalesce(b.expected_at, b.at) AS deadline,
                  (SELECT min(j.due_at) FROM jobs j WHERE j.kind = 'wait_notice' AND j.ref = b.ref) AS first_due,
                  (SELECT count(*) FROM jobs j WHERE j.kind = 'wait_notice' AND j.ref = b.ref AND j.state = 'suppressed') AS suppressed,
                  (SELECT count(*) FROM jobs j WHERE j.kind = 'wait_notice' AND j.ref = b.ref AND j.state = 'failed') AS failed,
                  (SELECT min(d.at) FROM deliveries d JOIN jobs j ON j.id = d.job_id WHERE j.ref = b.ref AND j.kind = 'wait_notice' AND d.result = 'sent') AS sent,
                  (SELECT count(*) FROM jobs j WHERE j.kind = 'wait_notice' AND j.ref = b.ref AND j.state = 'cancelled') AS cancelled_jobs
                FROM bookings b WHERE b.kind = 'surgery' AND coalesce(b.performed_at, b.at) >= ? AND coalesce(b.performed_at, b.at) < ?
                """, arguments: [start, end])
            for r in waits {
                let ward: String? = r["ward"]
                guard let firstDue: Double = r["first_due"] else { continue }
                if (r["cancelled"] as Bool) && (r["cancelled_jobs"] as Int) > 0 && firstDue > now { add("wait_notice", ward, "excluded"); continue }
                guard firstDue <= now || (r["sent"] as Double?) != nil else { continue }
                add("wait_notice", ward, "counted")
                if let sent: Double = r["sent"], sent < r["deadline"] { add("wait_notice", ward, "informed") }
                else if (r["failed"] as Int) > 0 { add("wait_notice", ward, "failed") }
                else if (r["suppressed"] as Int) > 0 { add("wait_notice", ward, "suppressed") }
                else { add("wait_notice", ward, "not_sent") }
                let delays = try Row.fetchAll(db, sql: "SELECT at, expected_at FROM delays WHERE ref = ?", arguments: [r["ref"] as String])
                for d in delays {
                    add("wait_notice", ward, "delays")
                    let notified = try Int.fetchOne(db, sql: """
                        SELECT count(*) FROM deliveries x JOIN jobs j ON j.id = x.job_id
                        WHERE j.ref = ? AND j.kind = 'wait_notice' AND x.result = 'sent' AND x.at >= ? AND x.at <= ? AND j.expected_at >= ?
                        """, arguments: [r["ref"] as String, d["at"] as Double, (d["at"] as Double) + 15 * 60 * 1000, d["expected_at"] as Double]) ?? 0
                    if notified > 0 { add("wait_notice", ward, "delays_notified") }
                }
            }
            // Open Access: this scenario's one counted appointment was booked three days ahead.
            let infos = try Row.fetchAll(db, sql: """
                SELECT b.clinic, b.at, b.booked_at, j.due_at,
                  (SELECT min(d.at) FROM deliveries d WHERE d.job_id = j.id AND d.result = 'sent') AS sent
                FROM bookings b JOIN jobs j ON j.booking_kind = b.kind AND j.ref = b.ref
                WHERE b.kind = 'open_access' AND b.at >= ? AND b.at < ?
                """, arguments: [start, end])
            for r in infos {
                let clinic: String? = r["clinic"]
                guard (r["due_at"] as Double) <= now else { continue }
                add("open_access_info", clinic, "counted")
                let appointment = clock.localDate(of: Date(timeIntervalSince1970: (r["at"] as Double) / 1000))
                guard let sent: Double = r["sent"], sent < r["at"] else { add("open_access_info", clinic, "not_sent"); continue }
                let sentDay = clock.localDate(of: Date(timeIntervalSince1970: sent / 1000))
                if sentDay <= appointment.adding(days: -7) { add("open_access_info", clinic, "in_time") }
                else if sent - (r["booked_at"] as Double) <= 3_600_000 { add("open_access_info", clinic, "in_time_late_booking") }
                else { add("open_access_info", clinic, "late") }
            }
        }
        return out
    }
}

/// Headless Chromium prints a page to PDF at A4, as a team lead printing the
/// leaflet would, and the PDF's pages are counted.
enum LeafletPrint {
    static func pdf(_ html: String, dir: String) throws -> String {
        let out = dir + "/leaflet.pdf"
        let r = try DaemonHarness.run("/usr/bin/chromium", [
            "--headless", "--no-sandbox", "--disable-gpu", "--no-pdf-header-footer", "--user-data-dir=\(dir)/chromium-profile",
            "--print-to-pdf=\(out)", "file://" + html,
        ], timeout: 120)
        guard FileManager.default.fileExists(atPath: out) else { throw HarnessError("chromium wrote no PDF: \(r.stderr.suffix(500))") }
        return out
    }

    /// The number of pages: the page objects of the PDF Chromium writes
    /// (`/Type /Page`, not the `/Type /Pages` tree above them).
    static func pages(_ pdf: String) throws -> Int {
        let bytes = try Data(contentsOf: URL(fileURLWithPath: pdf))
        let text = String(decoding: bytes, as: UTF8.self)
        return text.components(separatedBy: "/Type /Page").count - 1 - (text.components(separatedBy: "/Type /Pages").count - 1)
    }
}
