import Foundation

/// The numbers of `scheduling.md`, from config, with the hospital's calendar.
public struct SchedulingRules: Sendable, Equatable {
    public var clock: HospitalClock
    /// ISO weekdays on which calls are made.
    public var callDays: Set<Int>
    public var closedDates: Set<LocalDate>
    public var daysAfterSurgery: Int
    public var callWindow: DailyWindow
    public var retryAfter: TimeInterval
    public var maxAttempts: Int
    public var escalateAfterDays: Int
    public var waitLead: TimeInterval
    public var waitCoalesce: TimeInterval
    /// Wait notices are never due before this time on the day of surgery.
    public var waitEarliest: TimeOfDay
    public var openAccessDaysBefore: Int
    public var openAccessSendAt: TimeOfDay
    public var quietHours: DailyWindow?
    /// The contacts the hospital configured (`[[contact]]`, `contacts.md`).
    public var contacts: [ContactRule] = []
    /// The hospital's communication needs (`[needs.CODE]`).
    public var needs = CommunicationNeeds()
    /// The ward names the hospital uses (`calls.wards`).
    public var wards = WardNames([])
    /// How long an escalated call may wait untaken, in call-window time (`EscalationAge`).
    public var escalationAlertAfter: TimeInterval = 4 * 3600

    public init(clock: HospitalClock, callDays: Set<Int> = Set(1...7), closedDates: Set<LocalDate> = [],
                daysAfterSurgery: Int = 1,
                callWindow: DailyWindow = DailyWindow(start: TimeOfDay(hour: 9, minute: 0), end: TimeOfDay(hour: 17, minute: 0)),
                retryAfter: TimeInterval = 7200, maxAttempts: Int = 3, escalateAfterDays: Int = 2,
                waitLead: TimeInterval = 7200, waitCoalesce: TimeInterval = 600,
                waitEarliest: TimeOfDay = TimeOfDay(hour: 6, minute: 0), openAccessDaysBefore: Int = 7,
                openAccessSendAt: TimeOfDay = TimeOfDay(hour: 10, minute: 0),
                quietHours: DailyWindow? = DailyWindow(start: TimeOfDay(hour: 20, minute: 0), end: TimeOfDay(hour: 8, minute: 0)),
                contacts: [ContactRule] = [], wards: WardNames = WardNames([])) {
        self.contacts = contacts
        self.wards = wards
        self.clock = clock
        self.callDays = callDays
        self.closedDates = closedDates
        self.daysAfterSurgery = daysAfterSurgery
        self.callWindow = callWindow
        self.retryAfter = retryAfter
        self.maxAttempts = maxAttempts
        self.escalateAfterDays = escalateAfterDays
        self.waitLead = waitLead
        self.waitCoalesce = waitCoalesce
        self.waitEarliest = waitEarliest
        self.openAccessDaysBefore = openAccessDaysBefore
        self.openAccessSendAt = openAccessSendAt
        self.quietHours = quietHours
    }

    /// Whether calls are made on `day`.
    public func isOpen(_ day: LocalDate) -> Bool {
        callDays.contains(day.isoWeekday) && !closedDates.contains(day)
    }

    /// `day` if open, else the next open day (nil if none within a year: a config with no open days).
    public func openDay(onOrAfter day: LocalDate) -> LocalDate? {
        var d = day
        for _ in 0..<366 {
            if isOpen(d) { return d }
            d = d.adding(days: 1)
        }
        return nil
    }

    /// The open day after `day`.
    public func nextOpenDay(after day: LocalDate) -> LocalDate? { openDay(onOrAfter: day.adding(days: 1)) }

    /// The day a call listed on `callDay` goes to the breast care nurse if
    /// not finished: `escalate_after_days` open days later (or the last open
    /// day there is).
    public func escalationDay(for callDay: LocalDate) -> LocalDate {
        var day = callDay
        for _ in 0..<escalateAfterDays {
            guard let next = nextOpenDay(after: day) else { break }
            day = next
        }
        return day
    }

    /// Whether an instant falls inside quiet hours.
    public func inQuietHours(_ instant: Date) -> Bool {
        guard let q = quietHours else { return false }
        return q.contains(clock.localDateTime(of: instant).time)
    }

    /// The end of the quiet hours that `instant` is inside.
    public func endOfQuietHours(containing instant: Date) -> Date {
        guard let q = quietHours else { return instant }
        let local = clock.localDateTime(of: instant)
        // Ends today if the end is still ahead on the wall clock, else tomorrow.
        let day = local.time < q.end ? local.date : local.date.adding(days: 1)
        return clock.instant(on: day, at: q.end)
    }
}

/// Closed days from an ICS calendar (such as the UK bank holidays calendar a trust publishes).
public enum ClosedDaysICS {
    /// Every all-day date an event covers (DTSTART;VALUE=DATE, up to DTEND, exclusive).
    public static func dates(in text: String) -> Set<LocalDate> {
        var out = Set<LocalDate>()
        var start: LocalDate? = nil
        var end: LocalDate? = nil
        // Unfold continuation lines (RFC 5545: a line starting with a space continues the previous one).
        let unfolded = text.replacingOccurrences(of: "\r\n", with: "\n").replacingOccurrences(of: "\n ", with: "")
        for raw in unfolded.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line == "BEGIN:VEVENT" { start = nil; end = nil; continue }
            if line.hasPrefix("DTSTART") { start = date(line) }
            if line.hasPrefix("DTEND") { end = date(line) }
            if line == "END:VEVENT", let s = start {
                let e = end ?? s.adding(days: 1)
                var d = s
                repeat {
                    out.insert(d)
                    d = d.adding(days: 1)
                } while d < e
            }
        }
        return out
    }

    static func date(_ line: String) -> LocalDate? {
        guard let colon = line.lastIndex(of: ":") else { return nil }
        let v = line[line.index(after: colon)...].prefix(8)
        guard v.count == 8, let y = Int(v.prefix(4)), let m = Int(v.dropFirst(4).prefix(2)), let d = Int(v.suffix(2)),
              LocalDate.isValid(year: y, month: m, day: d) else { return nil }
        return LocalDate(year: y, month: m, day: d)
    }
}
