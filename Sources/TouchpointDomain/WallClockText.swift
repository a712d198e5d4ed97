import Foundation

/// Dates and times as the ward and patients read them, in British English:
/// "14:05", "Fri 27 Nov", "Friday 27 November 2026".
///
/// Written out rather than through `DateFormatter` so that every time
/// touchpoint shows (the web view, the printed list, the CSV, the terminal,
/// a patient's notice) is read with the same zone rules as the due times
/// (`ZoneRules`, the server's tzdata), never with ICU's older copy; and
/// because making formatters costs more than rendering a list page.
/// `WallClockTextTests` holds the text equal to `DateFormatter`'s en_GB output.
extension LocalDate {
    static let weekdayNames = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
    static let monthNames = ["January", "February", "March", "April", "May", "June", "July", "August", "September",
                             "October", "November", "December"]

    /// "Friday"
    public var weekdayName: String { Self.weekdayNames[isoWeekday - 1] }
    /// "November"
    public var monthName: String { Self.monthNames[month - 1] }

    /// "Fri 27 Nov"
    public var shortText: String { "\(weekdayName.prefix(3)) \(day) \(monthName.prefix(3))" }
    /// "Friday 27 November"
    public var longTextWithoutYear: String { "\(weekdayName) \(day) \(monthName)" }
    /// "Friday 27 November 2026"
    public var longText: String { "\(longTextWithoutYear) \(year)" }
    /// "14 March 1961": a date of birth, as a nurse reads it out (no weekday).
    public var birthText: String { "\(day) \(monthName) \(year)" }
}

extension TimeOfDay {
    /// "09:05"
    public var hhmm: String { Digits.pad(hour, 2) + ":" + Digits.pad(minute, 2) }
}

extension HospitalClock {
    /// "14:05"
    public func hhmm(_ instant: Date) -> String { localDateTime(of: instant).time.hhmm }

    /// "Fri 27 Nov"
    public func shortDay(_ instant: Date) -> String { localDate(of: instant).shortText }

    /// "2026-11-27 14:05", for spreadsheets.
    public func stamp(_ instant: Date) -> String {
        let t = localDateTime(of: instant)
        return "\(t.date) \(t.time.hhmm)"
    }

    /// "20261127T140512": a file name's time, sorting as time does.
    public func fileStamp(_ instant: Date) -> String {
        let t = localDateTime(of: instant)
        return String(format: "%04d%02d%02dT%02d%02d%02d", t.date.year, t.date.month, t.date.day, t.time.hour, t.time.minute, t.time.second)
    }

    /// "Fri 27 Nov 14:05", with the year ("Fri 27 Nov 2026 14:05") when asked.
    public func dayAndTime(_ instant: Date, withYear: Bool = false) -> String {
        let t = localDateTime(of: instant)
        return t.date.shortText + (withYear ? " \(t.date.year)" : "") + " " + t.time.hhmm
    }

    /// "27 Nov 2026 14:05"
    public func dateAndTime(_ instant: Date) -> String {
        let t = localDateTime(of: instant)
        return "\(t.date.day) \(t.date.monthName.prefix(3)) \(t.date.year) \(t.time.hhmm)"
    }
}
