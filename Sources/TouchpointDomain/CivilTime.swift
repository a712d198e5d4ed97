import Foundation

/// A date on the wall calendar of the hospital, with no time zone attached.
///
/// Call days, closed dates and "the day after surgery" are calendar dates, not
/// instants: arithmetic on them must never go through 24-hour periods, or the
/// days UK clocks change would shift a call by an hour.
public struct LocalDate: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    public init(year: Int, month: Int, day: Int) {
        self.year = year
        self.month = month
        self.day = day
    }

    /// Parses `YYYY-MM-DD`; nil when it is not a real date.
    public init?(iso text: Substring) {
        let b = Array(text.utf8)
        guard b.count == 10, b[4] == UInt8(ascii: "-"), b[7] == UInt8(ascii: "-"),
              let y = Digits.parse(b, 0, 4), let m = Digits.parse(b, 5, 2), let d = Digits.parse(b, 8, 2),
              LocalDate.isValid(year: y, month: m, day: d)
        else { return nil }
        self.init(year: y, month: m, day: d)
    }

    public init?(iso text: String) { self.init(iso: Substring(text)) }

    public static func isValid(year: Int, month: Int, day: Int) -> Bool {
        guard (1...9999).contains(year), (1...12).contains(month), day >= 1 else { return false }
        return day <= daysInMonth(year: year, month: month)
    }

    public static func daysInMonth(year: Int, month: Int) -> Int {
        switch month {
        case 2: return (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 (Howard Hinnant's days_from_civil).
    public var daysSinceEpoch: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    public init(daysSinceEpoch z0: Int) {
        let z = z0 + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        self.init(year: yoe + era * 400 + (m <= 2 ? 1 : 0), month: m, day: d)
    }

    public func adding(days: Int) -> LocalDate { LocalDate(daysSinceEpoch: daysSinceEpoch + days) }

    /// ISO weekday: 1 is Monday, 7 is Sunday.
    public var isoWeekday: Int {
        let d = daysSinceEpoch  // 1970-01-01 was a Thursday (4)
        return ((d % 7 + 7) % 7 + 3) % 7 + 1
    }

    public var description: String {
        Digits.pad(year, 4) + "-" + Digits.pad(month, 2) + "-" + Digits.pad(day, 2)
    }

    public static func < (a: LocalDate, b: LocalDate) -> Bool {
        (a.year, a.month, a.day) < (b.year, b.month, b.day)
    }
}

/// A time of day on the wall clock (`09:00`), as config and the call window use it.
public struct TimeOfDay: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var hour: Int
    public var minute: Int
    public var second: Int

    public init(hour: Int, minute: Int, second: Int = 0) {
        self.hour = hour
        self.minute = minute
        self.second = second
    }

    /// Parses `HH:MM`.
    public init?(hhmm text: Substring) {
        let b = Array(text.utf8)
        guard b.count == 5, b[2] == UInt8(ascii: ":"),
              let h = Digits.parse(b, 0, 2), let m = Digits.parse(b, 3, 2), h < 24, m < 60
        else { return nil }
        self.init(hour: h, minute: m)
    }

    public var secondsOfDay: Int { hour * 3600 + minute * 60 + second }

    public var description: String { Digits.pad(hour, 2) + ":" + Digits.pad(minute, 2) }

    public static func < (a: TimeOfDay, b: TimeOfDay) -> Bool { a.secondsOfDay < b.secondsOfDay }
}

/// A wall-clock date and time with no zone: what a hospital system writes as `2026-12-01T08:30`.
public struct LocalDateTime: Hashable, Comparable, Sendable, CustomStringConvertible {
    public var date: LocalDate
    public var time: TimeOfDay
    /// Milliseconds past `time.second`, for RFC 3339 fractions.
    public var millisecond: Int

    public init(date: LocalDate, time: TimeOfDay, millisecond: Int = 0) {
        self.date = date
        self.time = time
        self.millisecond = millisecond
    }

    /// Seconds since the epoch if this wall time were UTC.
    /// The wall time counted as if it were UTC: the instant it names once its offset is taken off.
    public var secondsAsIfUTC: Int { date.daysSinceEpoch * 86_400 + time.secondsOfDay }

    public var description: String { "\(date)T\(time)" }

    public static func < (a: LocalDateTime, b: LocalDateTime) -> Bool {
        (a.date, a.time.secondsOfDay, a.millisecond) < (b.date, b.time.secondsOfDay, b.millisecond)
    }
}

enum Digits {
    /// `n` in at least `width` digits, zero-padded (no `String(format:)`: it is slow on Linux).
    static func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }

    /// Parses `count` ASCII digits starting at `start`; nil if any is not a digit.
    @inline(__always)
    static func parse(_ b: [UInt8], _ start: Int, _ count: Int) -> Int? {
        var v = 0
        var i = start
        while i < start + count {
            let c = b[i] &- 48
            guard c < 10 else { return nil }
            v = v * 10 + Int(c)
            i += 1
        }
        return v
    }
}
