import Foundation

/// A daily window on the wall clock, such as the call window `09:00-17:00`
/// or quiet hours `20:00-08:00` (which cross midnight).
public struct DailyWindow: Hashable, Sendable, CustomStringConvertible {
    public var start: TimeOfDay
    public var end: TimeOfDay

    public init(start: TimeOfDay, end: TimeOfDay) {
        self.start = start
        self.end = end
    }

    public init?(_ text: String) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 2, let s = TimeOfDay(hhmm: parts[0]), let e = TimeOfDay(hhmm: parts[1]), s != e else {
            return nil
        }
        self.init(start: s, end: e)
    }

    public var crossesMidnight: Bool { end < start }

    /// Whether a wall time falls inside the window (start inclusive, end exclusive).
    public func contains(_ t: TimeOfDay) -> Bool {
        crossesMidnight ? (t >= start || t < end) : (t >= start && t < end)
    }

    public var description: String { "\(start)-\(end)" }
}
