import Foundation
import TouchpointDomain

/// The hospital clock an end-to-end test runs its scenario on.
///
/// CI runs at every hour of the day and night, on every weekday, in the weeks
/// of both UK clock changes. A scenario such as "a surgery yesterday puts a
/// call on today's list, due 09:00, and a nurse records it" only holds while
/// the hospital's local time is inside the call window, after 06:00 (wait
/// notices) and outside quiet hours. Rather than teaching the shipped daemon
/// a "fake now", each test's hospital sits in a fixed-offset zone
/// (`Etc/GMT-9` and the like, which have no daylight saving) chosen so that
/// it is late morning there at the moment the test starts: from
/// `localHour`:00 to `localHour`:59, whatever the real hour. Every rule the
/// daemon applies is the same in any zone; the rules that depend on a zone's
/// own changes (the UK clock changes) are tested as pure Domain code with an
/// injected clock.
///
/// A test builds every time it writes from this value (`day(_:)`, `at`,
/// `local`), never from the machine's own zone or a hard-coded one.
public struct ScenarioTime: Sendable {
    /// The local hour at which every scenario starts: 09:00 call windows have
    /// begun two hours ago, 17:00 ends five hours later, quiet hours
    /// (20:00-08:00) are eight hours away, and midnight twelve.
    public static let localHour = 11

    /// The `time_zone` the test's config names.
    public let zoneIdentifier: String
    public let clock: HospitalClock
    /// The hospital's date when the scenario was set up.
    public let today: LocalDate

    public init(now: Date = Date(), localHour: Int = ScenarioTime.localHour) {
        let offset = Self.offsetHours(now: now, localHour: localHour)
        zoneIdentifier = Self.etcZone(offsetHours: offset)
        guard let clock = HospitalClock(identifier: zoneIdentifier) else {
            // tzdata always has Etc/GMT-14 ... Etc/GMT+12; without them nothing here can run.
            fatalError("tzdata lacks \(zoneIdentifier): install tzdata")
        }
        self.clock = clock
        today = clock.localDate(of: now)
    }

    /// Hours east of UTC that put `now` in the hour `localHour`, within the
    /// range tzdata's fixed-offset zones cover (UTC-12 to UTC+14).
    static func offsetHours(now: Date, localHour: Int) -> Int {
        let utcHour = Int((now.timeIntervalSince1970 / 3600).rounded(.down)) % 24
        let east = ((localHour - utcHour) % 24 + 24) % 24  // 0...23
        return east > 14 ? east - 24 : east
    }

    /// tzdata's name for a fixed offset: POSIX-style, so the sign is inverted
    /// (`Etc/GMT-9` is nine hours east of UTC).
    static func etcZone(offsetHours: Int) -> String {
        if offsetHours == 0 { return "Etc/GMT" }
        return offsetHours > 0 ? "Etc/GMT-\(offsetHours)" : "Etc/GMT+\(-offsetHours)"
    }

    /// The hospital's date `offset` days from `today`.
    public func day(_ offset: Int) -> LocalDate { today.adding(days: offset) }

    /// The instant of a local wall-clock time.
    public func at(_ day: LocalDate, _ hour: Int, _ minute: Int, _ second: Int = 0) -> Date {
        clock.instant(on: day, at: TimeOfDay(hour: hour, minute: minute, second: second))
    }

    /// An instant's local wall-clock date and time.
    public func local(_ instant: Date) -> LocalDateTime { clock.localDateTime(of: instant) }

    /// `HH:MM` of an instant on the hospital's clock, as notices print it.
    public func hhmm(_ instant: Date) -> String { local(instant).time.description }
}
