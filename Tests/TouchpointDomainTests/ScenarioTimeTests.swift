import Foundation
import Testing
import TouchpointConfig
import TouchpointDomain
import TouchpointTestSupport

/// Every end-to-end test builds its times from `ScenarioTime`; this suite
/// shows that its scenarios hold whatever the real hour, weekday or season
/// the suite runs in (CI runs day and night): started at any minute of any
/// hour, on an ordinary week and on both UK clock-change days, the hospital
/// is late morning, inside the default call window, after the wait notices'
/// 06:00 floor, outside the default quiet hours, and hours from midnight.
@Suite struct ScenarioTimeTests {
    static let london = HospitalClock(identifier: "Europe/London")!
    /// An ordinary Friday, and the UK's clock changes of 2026 and 2027.
    static let days = [LocalDate(year: 2026, month: 11, day: 27),
                       LocalDate(year: 2026, month: 3, day: 29), LocalDate(year: 2026, month: 10, day: 25),
                       LocalDate(year: 2027, month: 3, day: 28), LocalDate(year: 2027, month: 10, day: 31)]

    /// Every minute of each day, as London's wall clock shows it (the hours a
    /// London CI machine runs at, both readings of the autumn hour included).
    static func instants(on day: LocalDate) -> [Date] {
        let start = london.instant(on: day, at: TimeOfDay(hour: 0, minute: 0))
        let end = london.instant(on: day.adding(days: 1), at: TimeOfDay(hour: 0, minute: 0))
        return stride(from: start.timeIntervalSince1970, to: end.timeIntervalSince1970, by: 60).map { Date(timeIntervalSince1970: $0) }
    }

    @Test(arguments: days)
    func everyMinuteOfTheDayGivesALateMorningHospital(day: LocalDate) throws {
        // The shipped defaults, as the daemon reads them from a minimal config.
        let config = try ConfigLoader.parse("[hospital]\nname = \"Test\"\nphone = \"01632 960 000\"\n", file: "/tmp/touchpoint.toml")
        let window = config.calls.window
        let quiet = try #require(config.notices.quietHours)
        let instants = Self.instants(on: day)
        #expect(instants.count == (day.month == 3 ? 23 : day.month == 10 ? 25 : 24) * 60)
        for now in instants {
            let t = ScenarioTime(now: now)
            #expect(HospitalClock(identifier: t.zoneIdentifier) != nil, "tzdata lacks \(t.zoneIdentifier)")
            let local = t.local(now)
            #expect(local.date == t.today)
            #expect(local.time.hour == ScenarioTime.localHour, "\(now): \(local) in \(t.zoneIdentifier)")
            // Two hours on (the longest scenario, with room to spare) nothing has moved.
            for later in [now, now.addingTimeInterval(2 * 3600)] {
                let l = t.local(later)
                #expect(l.date == t.today)
                #expect(window.contains(l.time))
                #expect(!quiet.contains(l.time))
                #expect(l.time >= TimeOfDay(hour: 6, minute: 0))
            }
            // Yesterday's 10:30 surgery: its call (09:00 today) is due; today's calls date is today.
            #expect(t.at(t.day(0), 9, 0) <= now)
            #expect(t.at(t.day(1), 0, 0).timeIntervalSince(now) > 12 * 3600)
        }
    }

    @Test func theZonesAreTzdatasFixedOffsets() {
        #expect(ScenarioTime(now: Date(timeIntervalSince1970: 11 * 3600)).zoneIdentifier == "Etc/GMT")
        // 02:50 UTC: nine hours east, which POSIX-style names spell with a minus.
        #expect(ScenarioTime(now: Date(timeIntervalSince1970: 2 * 3600 + 50 * 60)).zoneIdentifier == "Etc/GMT-9")
        // 23:55 UTC: twelve hours east (11:55 tomorrow there).
        #expect(ScenarioTime(now: Date(timeIntervalSince1970: 23 * 3600 + 55 * 60)).zoneIdentifier == "Etc/GMT-12")
        // 14:00 UTC: three hours west.
        #expect(ScenarioTime(now: Date(timeIntervalSince1970: 14 * 3600)).zoneIdentifier == "Etc/GMT+3")
        // Every UTC hour maps into tzdata's range (UTC-12 ... UTC+14).
        let zones = Set((0..<24).map { ScenarioTime(now: Date(timeIntervalSince1970: Double($0) * 3600)).zoneIdentifier })
        #expect(zones.count == 24)
    }
}

/// The check that would have caught the night-time failures: no end-to-end
/// test or benchmark builds its times from a real zone or the machine's own
/// (those scenarios hold only at some hours); they take them from their
/// harness's `ScenarioTime`. Real zones and their clock changes belong in the
/// pure Domain tests, with an injected clock.
@Suite struct EndToEndTestsUseTheScenarioClock {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized.path

    @Test func noEndToEndTestNamesARealZone() throws {
        let dirs = ["Tests/TouchpointDaemonTests", "Sources/TouchpointBenchmarks", "Sources/TouchpointTestSupport"]
        let banned = ["Europe/London", "HospitalClock(identifier", "TimeZone(identifier", "TimeZone.current", "HospitalClock.system", "Calendar.current", "DateFormatter()"]
        var found: [String] = []
        for dir in dirs {
            let path = Self.root + "/" + dir
            for file in try FileManager.default.contentsOfDirectory(atPath: path) where file.hasSuffix(".swift") && file != "ScenarioTime.swift" {
                let text = try String(contentsOfFile: path + "/" + file, encoding: .utf8)
                for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                    for b in banned where line.contains(b) { found.append("\(dir)/\(file):\(n + 1): \(b)") }
                }
            }
        }
        #expect(found.isEmpty, "use the harness's ScenarioTime instead: \(found)")
    }
}
