import Foundation
import Testing
@testable import TouchpointDomain

/// `ZoneRules` reads the system's tzdata itself; Foundation (ICU's own copy
/// of the tz database) is the independent answer it is checked against.
@Suite struct ZoneRulesTests {
    /// Zones whose rules did not change between ICU's copy and Debian's
    /// tzdata since 1970, covering: both UK changes, US rules, the southern
    /// hemisphere (daylight saving across the new year), a 30-minute change
    /// (Lord Howe), 30- and 45-minute offsets, Dublin's negative daylight
    /// saving, rules at 24:00 (Santiago), abolished daylight saving (Sao
    /// Paulo, Apia, Tehran), and no change at all.
    static let zones = ["Europe/London", "Europe/Dublin", "America/New_York", "America/St_Johns", "Australia/Sydney",
                        "Australia/Lord_Howe", "Pacific/Chatham", "Asia/Kolkata", "Asia/Kathmandu", "America/Sao_Paulo",
                        "Pacific/Apia", "Asia/Tehran", "America/Santiago", "UTC"]

    static let from = Int(LocalDate(year: 1970, month: 1, day: 1).daysSinceEpoch * 86_400)
    static let to = Int(LocalDate(year: 2100, month: 12, day: 31).daysSinceEpoch * 86_400)

    @Test(arguments: zones)
    func offsetsAgreeWithFoundationFrom1970To2100(zone: String) throws {
        let ours = try #require(try ZoneRules.load(identifier: zone), "tzdata lacks \(zone)")
        let theirs = try #require(TimeZone(identifier: zone))
        func foundation(_ t: Int) -> Int { theirs.secondsFromGMT(for: Date(timeIntervalSince1970: TimeInterval(t))) }
        var mismatches: [String] = []
        func check(_ t: Int) {
            let a = ours.offset(at: t), b = foundation(t)
            if a != b && mismatches.count < 5 { mismatches.append("\(Timestamp.rfc3339(Date(timeIntervalSince1970: TimeInterval(t)))): ours \(a), Foundation \(b)") }
        }
        // Every Foundation transition, exactly: a second before and at it.
        var transitions = 0
        var at = Date(timeIntervalSince1970: TimeInterval(Self.from))
        while let next = theirs.nextDaylightSavingTimeTransition(after: at), next.timeIntervalSince1970 < TimeInterval(Self.to) {
            let t = Int(next.timeIntervalSince1970)
            check(t - 1)
            check(t)
            transitions += 1
            at = next
        }
        // Ours too (the file's transitions up to 2037, then the rule's), and
        // every six hours in between.
        for t in ours.transitions where t >= Int64(Self.from) { check(Int(t) - 1); check(Int(t)) }
        for t in stride(from: Self.from, to: Self.to, by: 6 * 3600) { check(t) }
        #expect(mismatches.isEmpty, "\(zone): \(mismatches.joined(separator: "; "))")
        if zone == "Europe/London" { #expect(transitions > 250) }  // two a year: the walk did reach 2100
    }

    @Test func londonAroundBothChanges() throws {
        let london = try #require(try ZoneRules.load(identifier: "Europe/London"))
        let spring = LocalDate(year: 2026, month: 3, day: 29).daysSinceEpoch * 86_400 + 3600
        #expect(london.offset(at: spring - 1) == 0)
        #expect(london.offset(at: spring) == 3600)
        let autumn = LocalDate(year: 2026, month: 10, day: 25).daysSinceEpoch * 86_400 + 3600
        #expect(london.offset(at: autumn - 1) == 3600)
        #expect(london.offset(at: autumn) == 0)
        // Beyond the file's last transition (2037), from its rule.
        let spring2090 = LocalDate(year: 2090, month: 3, day: 26).daysSinceEpoch * 86_400 + 3600
        #expect(london.transitions.last! < Int64(spring2090))
        #expect(london.offset(at: spring2090 - 1) == 0)
        #expect(london.offset(at: spring2090) == 3600)
    }

    @Test func rulesAsTzdataWritesThem() throws {
        let uk = try #require(PosixRule("GMT0BST,M3.5.0/1,M10.5.0"))
        #expect(uk.standard == 0)
        #expect(uk.daylight?.offset == 3600)
        #expect(uk.daylight?.start == .init(day: .monthWeekDay(month: 3, week: 5, weekday: 0), seconds: 3600))
        #expect(uk.daylight?.end == .init(day: .monthWeekDay(month: 10, week: 5, weekday: 0), seconds: 7200))
        #expect(PosixRule("EST5EDT,M3.2.0,M11.1.0")?.standard == -5 * 3600)
        #expect(PosixRule("EST5EDT,M3.2.0,M11.1.0")?.daylight?.offset == -4 * 3600)
        let chatham = try #require(PosixRule("<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45"))
        #expect(chatham.standard == 12 * 3600 + 45 * 60)
        #expect(chatham.daylight?.offset == 13 * 3600 + 45 * 60)
        #expect(chatham.daylight?.start.seconds == 2 * 3600 + 45 * 60)
        let nuuk = try #require(PosixRule("<-02>2<-01>,M3.5.0/-1,M10.5.0/0"))
        #expect(nuuk.daylight?.start.seconds == -3600)
        #expect(PosixRule("<-03>3") == PosixRule(standard: -3 * 3600, daylight: nil))
        #expect(PosixRule("IST-1GMT0,M10.5.0,M3.5.0/1")?.daylight?.offset == 0)  // Dublin: winter is "daylight"
        // Julian days: J60 is 1 March in every year; 59 (zero-based) is 29 February in a leap year.
        let j = PosixRule.Change(day: .julianNoLeap(60), seconds: 0)
        #expect(j.date(in: 2028) == LocalDate(year: 2028, month: 3, day: 1))
        #expect(j.date(in: 2027) == LocalDate(year: 2027, month: 3, day: 1))
        #expect(PosixRule.Change(day: .zeroBased(59), seconds: 0).date(in: 2028) == LocalDate(year: 2028, month: 2, day: 29))
        // Daylight saving all year ("EST5EDT4,0/0,J365/25" as zic writes it) stays daylight over the new year.
        let allYear = try #require(PosixRule("EST5EDT4,0/0,J365/25"))
        let newYear = Int64(LocalDate(year: 2030, month: 1, day: 1).daysSinceEpoch * 86_400 + 5 * 3600)
        for t in [newYear - 3600, newYear, newYear + 3600, newYear + 180 * 86_400] { #expect(allYear.offset(at: t) == -4 * 3600) }
        for bad in ["", "G0", "GMT", "GMT0BST,M13.1.0,M10.5.0", "GMT0BST,M3.6.0,M10.5.0", "GMT0BST,M3.5.7,M10.5.0",
                    "GMT0BST,M3.5.0", "GMT0BST,J0,J365", "GMT0BST,366,0", "<+01", "GMT0BST,M3.5.0/1,M10.5.0x", "GMT200"] {
            #expect(PosixRule(bad) == nil, "\(bad) should be refused")
        }
    }

    @Test func aVersionOneFileReadsAsItsVersionTwoTwin() throws {
        let bytes = try #require(FileManager.default.contents(atPath: ZoneRules.systemDirectory + "/Europe/London"))
        var v1 = [UInt8](bytes)
        v1[4] = 0  // version 1: only the 32-bit block is read, and there is no rule after it
        let one = try ZoneRules(tzif: v1, identifier: "Europe/London")
        let two = try ZoneRules(tzif: [UInt8](bytes), identifier: "Europe/London")
        #expect(one.rule == nil)
        #expect(two.rule != nil)
        for t in stride(from: Self.from, to: Int(Int32.max), by: 3 * 3600) where one.offset(at: t) != two.offset(at: t) {
            Issue.record("the two blocks differ at \(t)")
            break
        }
    }

    @Test func aBadFileIsRefusedNamingIt() throws {
        let bytes = [UInt8](try #require(FileManager.default.contents(atPath: ZoneRules.systemDirectory + "/Europe/London")))
        for cut in [0, 10, 44, 100, bytes.count / 2, bytes.count - 3] {
            #expect(throws: ZoneRules.Failure.self) { try ZoneRules(tzif: Array(bytes.prefix(cut)), identifier: "Europe/London") }
        }
        do {
            _ = try ZoneRules(tzif: Array(bytes.prefix(bytes.count / 2)), identifier: "Europe/London")
        } catch {
            #expect("\(error)".hasPrefix("Europe/London: the tzdata file is cut short at byte"))
        }
        #expect(throws: ZoneRules.Failure(description: "Europe/Nowhere: not a tzdata (TZif) file")) {
            try ZoneRules(tzif: Array("# not a zone\n".utf8), identifier: "Europe/Nowhere")
        }
        // A zone with leap seconds counts seconds differently: refused, not misread.
        if let right = FileManager.default.contents(atPath: ZoneRules.systemDirectory + "/right/Europe/London") {
            #expect(throws: ZoneRules.Failure.self) { try ZoneRules(tzif: [UInt8](right), identifier: "right/Europe/London") }
        }
    }

    @Test func aNameNeverReadsOutsideTzdata() throws {
        for name in ["", "/etc/passwd", "../../../etc/passwd", "Europe/../../etc/passwd", "Europe//London", ".hidden",
                     "Europe/London\n", "Europe/Nowhere"] {
            #expect(try ZoneRules.load(identifier: name) == nil, "\(name)")
        }
        #expect(try ZoneRules.load(identifier: "UTC", directory: "/nonexistent") == .utc)
        #expect(try ZoneRules.load(identifier: "Etc/GMT+5")?.offset(at: 0) == -5 * 3600)
    }
}

/// The words touchpoint writes times in are `DateFormatter`'s en_GB words:
/// the same text as before they were written out, on every day of three years.
@Suite struct WallClockTextTests {
    @Test(arguments: ["Europe/London", "Australia/Lord_Howe"])
    func sameTextAsDateFormatter(zone: String) throws {
        let clock = try #require(HospitalClock(identifier: zone))
        func formatter(_ format: String) -> DateFormatter {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_GB")
            f.timeZone = TimeZone(identifier: zone)
            f.dateFormat = format
            return f
        }
        let checks: [(String, (Date) -> String)] = [
            ("HH:mm", clock.hhmm), ("EEE d MMM", clock.shortDay), ("yyyy-MM-dd HH:mm", clock.stamp),
            ("EEE d MMM HH:mm", { clock.dayAndTime($0) }), ("EEE d MMM yyyy HH:mm", { clock.dayAndTime($0, withYear: true) }),
            ("d MMM yyyy HH:mm", clock.dateAndTime), ("EEEE d MMMM yyyy", { clock.localDate(of: $0).longText }),
            ("EEEE d MMMM", { clock.localDate(of: $0).longTextWithoutYear }),
        ]
        let formatters = checks.map { formatter($0.0) }
        var day = LocalDate(year: 2026, month: 1, day: 1)
        var differences: [String] = []
        while day.year < 2029 {
            for time in [TimeOfDay(hour: 0, minute: 0), TimeOfDay(hour: 1, minute: 30), TimeOfDay(hour: 9, minute: 5), TimeOfDay(hour: 23, minute: 59)] {
                let instant = clock.instant(on: day, at: time)
                for ((format, ours), f) in zip(checks, formatters) where ours(instant) != f.string(from: instant) && differences.count < 5 {
                    differences.append("\(format) at \(Timestamp.rfc3339(instant)): \(ours(instant)) / \(f.string(from: instant))")
                }
            }
            day = day.adding(days: 1)
        }
        #expect(differences.isEmpty, "\(differences)")
    }
}
