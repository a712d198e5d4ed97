import Foundation

/// How long an escalated call has waited, counted as the ward counts it:
/// only the call window of open days (`calls.window`, `calls.days`, the
/// closed dates), so a call escalated at 16:30 on a Friday has waited half
/// an hour by Monday 09:00, not two and a half days. The escalation alert
/// (`calls.escalation_alert_after`, 4 hours) is measured this way. Pure.
public enum EscalationAge {
    /// Window time between `from` and `to`, in seconds.
    public static func windowTime(from: Date, to: Date, rules: SchedulingRules) -> TimeInterval {
        guard to > from else { return 0 }
        var total: TimeInterval = 0
        var day = rules.clock.localDate(of: from)
        let last = rules.clock.localDate(of: to)
        while day <= last {
            if rules.isOpen(day) {
                let start = max(from, rules.clock.instant(on: day, at: rules.callWindow.start))
                let end = min(to, rules.clock.instant(on: day, at: rules.callWindow.end))
                if end > start { total += end.timeIntervalSince(start) }
            }
            day = day.adding(days: 1)
        }
        return total
    }

    /// When a call escalated at `from` will have waited `after` of window
    /// time (nil if no open day comes within a year).
    public static func alertAt(from: Date, after: TimeInterval, rules: SchedulingRules) -> Date? {
        var left = after
        var day = rules.clock.localDate(of: from)
        for _ in 0..<366 {
            if rules.isOpen(day) {
                let start = max(from, rules.clock.instant(on: day, at: rules.callWindow.start))
                let end = rules.clock.instant(on: day, at: rules.callWindow.end)
                if end > start {
                    let span = end.timeIntervalSince(start)
                    if span >= left { return start.addingTimeInterval(left) }
                    left -= span
                }
            }
            day = day.adding(days: 1)
        }
        return nil
    }

    /// "3 h 20 min", "45 min": an age as the list shows it.
    public static func words(_ seconds: TimeInterval) -> String {
        let minutes = Int(seconds / 60)
        if minutes < 60 { return "\(minutes) min" }
        return minutes % 60 == 0 ? "\(minutes / 60) h" : "\(minutes / 60) h \(minutes % 60) min"
    }
}
