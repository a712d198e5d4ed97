import Foundation
import Synchronization

/// The hospital's time zone rules: turns wall-clock times into instants and back.
///
/// Every due time in touchpoint is a wall-clock time on a calendar date
/// ("09:00 the day after surgery"). This type is the single place where such
/// a time becomes an instant, so the spec's daylight-saving rules hold
/// everywhere: a time inside the spring-forward gap moves forward by the gap,
/// a time that occurs twice in autumn means its first occurrence.
public struct HospitalClock: Sendable, Equatable {
    /// The zone's offsets, from the system's tzdata (see `ZoneRules` for why not ICU's).
    public let rules: ZoneRules

    public init(rules: ZoneRules) {
        self.rules = rules
    }

    /// nil when tzdata does not know the zone (fail loudly at config time).
    public init?(identifier: String) {
        guard let rules = try? ZoneRules.load(identifier: identifier) else { return nil }
        self.init(rules: rules)
    }

    public static let utc = HospitalClock(rules: .utc)

    /// The tz name ("Europe/London").
    public var identifier: String { rules.identifier }

    /// The zone a reply names, read from tzdata once per process; the
    /// machine's own when the reply names none or tzdata lacks it.
    public static func named(_ identifier: String?) -> HospitalClock {
        known.withLock { known in
            let key = identifier ?? ""
            if let clock = known[key] { return clock }
            let clock = identifier.flatMap(HospitalClock.init(identifier:)) ?? .system
            known[key] = clock
            return clock
        }
    }

    private static let known = Mutex<[String: HospitalClock]>([:])

    /// The machine's own zone, for `touchpointctl` when the daemon names
    /// none: `TZ` if it names a zone, else the zone `/etc/localtime` links to,
    /// else that file itself; UTC when there is none.
    public static var system: HospitalClock {
        if var tz = ProcessInfo.processInfo.environment["TZ"], !tz.isEmpty {
            if tz.hasPrefix(":") { tz.removeFirst() }
            if let clock = HospitalClock(identifier: tz) { return clock }
        }
        if let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/etc/localtime"),
           let range = target.range(of: "zoneinfo/"), let clock = HospitalClock(identifier: String(target[range.upperBound...])) {
            return clock
        }
        if let bytes = FileManager.default.contents(atPath: "/etc/localtime"),
           let rules = try? ZoneRules(tzif: [UInt8](bytes), identifier: "localtime") {
            return HospitalClock(rules: rules)
        }
        return .utc
    }

    private func offset(at secondsSinceEpoch: Int) -> Int {
        rules.offset(at: secondsSinceEpoch)
    }

    /// The instant of a wall-clock time, with the gap/overlap rules.
    public func instant(of local: LocalDateTime) -> Date {
        let wall = local.secondsAsIfUTC
        // The offsets in force well before and well after this wall time: a
        // zone changes offset at most once in any 2-day span.
        let before = offset(at: wall - 86_400)
        let after = offset(at: wall + 86_400)
        let candidates = before == after ? [wall - before] : [wall - before, wall - after]
        // Valid readings: instants whose own offset gives back this wall time.
        let valid = candidates.filter { offset(at: $0) == wall - $0 }
        let seconds: Int
        if let first = valid.min() {
            seconds = first  // one reading, or the first of two (autumn overlap)
        } else {
            // Inside a gap: read with the offset before the change, which moves
            // the time forward by the length of the gap (01:30 GMT = 02:30 BST).
            seconds = wall - before
        }
        return Date(timeIntervalSince1970: TimeInterval(seconds) + TimeInterval(local.millisecond) / 1000)
    }

    public func instant(on date: LocalDate, at time: TimeOfDay) -> Date {
        instant(of: LocalDateTime(date: date, time: time))
    }

    /// The wall-clock date and time of an instant.
    public func localDateTime(of instant: Date) -> LocalDateTime {
        let t = instant.timeIntervalSince1970
        let whole = Int(t.rounded(.down))
        let millis = Int(((t - TimeInterval(whole)) * 1000).rounded(.down))
        let wall = whole + offset(at: whole)
        let days = Int((Double(wall) / 86_400).rounded(.down))
        let sod = wall - days * 86_400
        return LocalDateTime(
            date: LocalDate(daysSinceEpoch: days),
            time: TimeOfDay(hour: sod / 3600, minute: sod % 3600 / 60, second: sod % 60),
            millisecond: millis)
    }

    public func localDate(of instant: Date) -> LocalDate { localDateTime(of: instant).date }
}
