import Foundation
import Testing
import TouchpointConfig
import TouchpointDomain

@Suite struct ConfigTests {
    let minimal = """
        [hospital]
        name = "Test Hospital"
        phone = "01632 960 000"
        """

    func issues(_ text: String) -> [ConfigIssue] {
        do {
            _ = try ConfigLoader.parse(text, file: "/etc/touchpoint/touchpoint.toml")
            return []
        } catch {
            return error.issues
        }
    }

    @Test func defaultsMatchTheSpec() throws {
        let c = try ConfigLoader.parse(minimal, file: "/etc/touchpoint/touchpoint.toml")
        #expect(c.timeZone == "Europe/London")
        #expect(c.stateDir == "/var/lib/touchpoint")
        #expect(c.queueFile == "/var/spool/touchpoint/queue.jsonl")
        #expect(c.control.socket == "/run/touchpoint/control.sock")
        #expect(c.calls.window.description == "09:00-17:00")
        #expect(c.calls.retryAfter == .seconds(7200))
        #expect(c.calls.maxAttempts == 3 && c.calls.escalateAfterDays == 2 && c.calls.daysAfterSurgery == 1)
        #expect(c.calls.days == Set(1...7))
        #expect(c.waitNotice.lead == .seconds(7200) && c.waitNotice.coalesce == .seconds(600))
        #expect(c.openAccess.daysBefore == 7 && c.openAccess.sendAt == TimeOfDay(hour: 10, minute: 0))
        #expect(c.notices.quietHours?.description == "20:00-08:00")
        #expect(c.notices.smsMaxChars == 612 && c.notices.defaultChannel == .sms)
        #expect(c.transport.kind == .outbox && c.transport.timeout == .seconds(30) && c.transport.maxAge == .seconds(86_400))
    }

    @Test func theNotifyTransportNeedsAKeyTemplatesAndHTTPSAndNeverShowsTheKey() throws {
        let dir = NSTemporaryDirectory() + "notify-config-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let (service, secret) = (UUID().uuidString.lowercased(), UUID().uuidString.lowercased())
        try "made_up_key-\(service)-\(secret)\n".write(toFile: dir + "/good", atomically: true, encoding: .utf8)
        try "not a key \(secret)".write(toFile: dir + "/bad", atomically: true, encoding: .utf8)
        let (sms, email) = (UUID().uuidString.lowercased(), UUID().uuidString.lowercased())
        func notify(_ section: String) -> String {
            minimal + "\n[transport]\nkind = \"notify\"\n\n[transport.notify]\n" + section
        }
        let good = "api_key_file = \"\(dir)/good\"\nsms_template_id = \"\(sms)\"\nemail_template_id = \"\(email)\"\n"
        let c = try ConfigLoader.parse(notify(good), file: "/etc/touchpoint/touchpoint.toml")
        #expect(c.transport.kind == .notify && c.transport.notify.apiKey?.serviceID == service && c.transport.notify.apiKey?.secret == secret)
        #expect(c.transport.notify.baseURL == "https://api.notifications.service.gov.uk" && c.transport.notify.rateLimit == 2400 && c.transport.notify.rateBurst == 500)
        #expect(c.transport.notify.receiptPoll == .seconds(60) && c.transport.notify.receiptMaxAge == .seconds(72 * 3600))
        #expect(!"\(c.transport.notify.apiKey!)".contains(secret) && !String(reflecting: c.transport.notify).contains(secret))
        // Each problem names its key; none quotes the key.
        let found = issues(notify("api_key_file = \"\(dir)/bad\"\nbase_url = \"http://notify.example.org\"\nsms_template_id = \"12\"\nproxy = \"proxy:8080\"\nrate_limit = 5000\n"))
        let byKey = Dictionary(found.map { ($0.key ?? "", $0.message) }, uniquingKeysWith: { a, _ in a })
        #expect(byKey["transport.notify.base_url"]?.contains("must be https://") == true)
        #expect(byKey["transport.notify.sms_template_id"]?.contains("36 characters") == true)
        #expect(byKey["transport.notify.email_template_id"]?.contains("required") == true)
        #expect(byKey["transport.notify.api_key_file"]?.contains("does not hold a Notify API key") == true)
        #expect(byKey["transport.notify.proxy"] != nil && byKey["transport.notify.rate_limit"] != nil)
        #expect(!found.map(\.message).joined().contains(secret))
        let missing = issues(notify("api_key_file = \"\(dir)/none\"\nsms_template_id = \"\(sms)\"\nemail_template_id = \"\(email)\"\n"))
        #expect(missing.map(\.message) == ["\(dir)/none cannot be read (no such file)"])
        // http:// only on loopback (a relay, a test double); a typo is an error whatever the kind.
        #expect(issues(notify(good + "base_url = \"http://127.0.0.1:8080\"\n")).isEmpty)
        #expect(issues(minimal + "\n[transport.notify]\nrecipt_poll = \"1m\"\n").first?.key == "transport.notify.recipt_poll")
    }

    @Test func relativePathsAreRelativeToTheFile() throws {
        let c = try ConfigLoader.parse(minimal + "\n[control]\nsocket = \"run/c.sock\"\n", file: "/srv/tp/conf/touchpoint.toml")
        #expect(c.control.socket == "/srv/tp/conf/run/c.sock")
        let d = try ConfigLoader.parse("state_dir = \"../state\"\n" + minimal, file: "/srv/tp/conf/touchpoint.toml")
        #expect(d.stateDir == "/srv/tp/state")
    }

    @Test func unknownKeysAreErrorsThatNameFileAndKey() {
        let found = issues(minimal + "\n[calls]\nmax_attempt = 3\n")
        #expect(found.count == 1)
        #expect(found.first?.key == "calls.max_attempt")
        #expect(found.first?.description.hasPrefix("/etc/touchpoint/touchpoint.toml: calls.max_attempt: unknown key (did you mean \"max_attempts\"?)") == true)
        #expect(issues("tiem_zone = \"UTC\"\n" + minimal).first?.key == "tiem_zone")
    }

    /// `[[feed.source]]` and `calls.wards` (scheduling.md, safety rules):
    /// the feeds watched for silence, in whole open days, and the wards.
    /// Issue 33: the leaflet's words a hospital's own pledge sets: what
    /// patients said per promise, and the promise each contact keeps.
    @Test func theLeafletsWordsAreReadAndCheckedByName() throws {
        let good = try ConfigLoader.parse("""
            [hospital]
            name = "X"
            phone = "01632 960 000"
            [leaflet.you_said]
            checkin_call = "  We felt alone at home after the operation.  "
            [[contact]]
            name = "hna_offer"
            on = "treatment.completed"
            send = "+28d 10:00"
            promise = "We'll offer a Holistic Needs Assessment."
            """, file: "/etc/touchpoint/touchpoint.toml")
        #expect(good.youSaid == [.checkinCall: "We felt alone at home after the operation."])
        #expect(good.contacts.first?.promise == "We'll offer a Holistic Needs Assessment.")
        let bad = issues("""
            [hospital]
            name = "X"
            phone = "01632 960 000"
            [leaflet.you_said]
            checkin_calls = "typo"
            wait_notice = ""
            [[contact]]
            name = "hna_offer"
            on = "treatment.completed"
            send = "+28d 10:00"
            promise = "\(String(repeating: "x", count: 301))"
            """)
        #expect(bad.contains { $0.key == "leaflet.you_said.checkin_calls" }, "\(bad)")
        #expect(bad.contains { $0.key == "leaflet.you_said.wait_notice" && $0.message.contains("1 to 300") }, "\(bad)")
        #expect(bad.contains { $0.key == "contact[1].promise" && $0.message.contains("1 to 300") }, "\(bad)")
    }

    @Test func feedSourcesAndWardsAreReadAndCheckedByName() throws {
        let good = try ConfigLoader.parse("""
            [hospital]
            name = "X"
            phone = "01632 960 000"
            [calls]
            wards = ["Ward 7", " Day  Surgery Unit "]
            [[feed.source]]
            name = "hl7:theatres"
            silent_after = "2d"
            [[feed.source]]
            name = "hl7:clinics"
            """, file: "/etc/touchpoint/touchpoint.toml")
        #expect(good.expectedFeeds == [ExpectedFeed(source: "hl7:theatres", silentAfterOpenDays: 2), ExpectedFeed(source: "hl7:clinics", silentAfterOpenDays: 1)])
        #expect(good.schedulingRules.wards.configured == ["Ward 7", "Day Surgery Unit"])
        let none = try ConfigLoader.parse("[hospital]\nname = \"X\"\nphone = \"01632 960 000\"\n", file: "/etc/touchpoint/touchpoint.toml")
        #expect(none.expectedFeeds == [ExpectedFeed(source: nil, silentAfterOpenDays: 1)], "none configured: the whole queue, one open day")
        let bad = issues("""
            [hospital]
            name = "X"
            [calls]
            wards = ["Ward 7", "WARD  7"]
            [[feed.source]]
            name = "hl7:theatres"
            silent_after = "12h"
            [[feed.source]]
            name = "hl7:theatres"
            silence = "1d"
            """)
        #expect(bad.contains { $0.key == "feed.source[1].silent_after" && $0.message.contains("open days") }, "\(bad)")
        #expect(bad.contains { $0.key == "feed.source[2].name" && $0.message.contains("twice") }, "\(bad)")
        #expect(bad.contains { $0.key == "feed.source[2].silence" }, "\(bad)")
        #expect(bad.contains { $0.key == "calls.wards" && $0.message.contains("are one ward") }, "\(bad)")
    }

    @Test func badValuesSayWhatWasExpected() {
        let found = issues("""
            time_zone = "Mars/Olympus"
            [hospital]
            name = "X"
            [calls]
            window = "9-5"
            retry_after = "2 hours"
            max_attempts = 0
            days = ["mon", "funday"]
            [notices]
            quiet_hours = "20:00"
            default_channel = "pigeon"
            [transport]
            kind = "command"
            [log]
            level = "chatty"
            """)
        let keys = Set(found.compactMap(\.key))
        for k in ["time_zone", "hospital.phone", "calls.window", "calls.retry_after", "calls.max_attempts", "calls.days[1]",
                  "notices.quiet_hours", "notices.default_channel", "transport.command", "log.level"] {
            #expect(keys.contains(k), "no issue for \(k): \(found)")
        }
        #expect(found.first { $0.key == "calls.window" }?.message.contains("HH:MM-HH:MM") == true)
    }

    @Test func syntaxErrorsGiveLineAndColumn() {
        let found = issues("[hospital\nname = 1")
        #expect(found.count == 1)
        #expect(found[0].message.contains("line 1"))
    }

    @Test func windowsMayCrossMidnight() throws {
        let w = try #require(DailyWindow("20:00-08:00"))
        #expect(w.contains(TimeOfDay(hour: 23, minute: 0)) && w.contains(TimeOfDay(hour: 7, minute: 59)))
        #expect(!w.contains(TimeOfDay(hour: 8, minute: 0)) && !w.contains(TimeOfDay(hour: 12, minute: 0)))
        let c = try ConfigLoader.parse(minimal + "\n[notices]\nquiet_hours = \"\"\n", file: "/x.toml")
        #expect(c.notices.quietHours == nil)
    }

    @Test func theDemoConfigIsValid() throws {
        let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../seeds/touchpoint.toml").standardized.path
        let c = try ConfigLoader.load(path: path)
        #expect(c.hospital.name.isEmpty == false)
        #expect(c.calendar.closedDates.contains(LocalDate(year: 2026, month: 12, day: 25)))
    }
}
