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
