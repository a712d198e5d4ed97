import Foundation

/// A writer of the queue the hospital expects to hear from (`[[feed.source]]`),
/// and how many open days it may be silent.
public struct ExpectedFeed: Sendable, Equatable {
    /// The queue event's `source` (`hl7:theatres`); nil for the whole queue,
    /// which is what is watched when no source is configured.
    public var source: String?
    public var silentAfterOpenDays: Int

    public init(source: String?, silentAfterOpenDays: Int) {
        self.source = source
        self.silentAfterOpenDays = silentAfterOpenDays
    }
}

/// A feed that has been silent longer than it may be.
public struct SilentFeed: Sendable, Equatable, Hashable {
    public var source: String?
    /// Its last event; nil when none came since touchpoint started.
    public var lastEventAt: Date?
    public var since: Date

    public init(source: String?, lastEventAt: Date?, since: Date) {
        self.source = source
        self.lastEventAt = lastEventAt
        self.since = since
    }
}

/// Feed silence (scheduling.md, safety rules; hazard H-01): bookings that
/// never arrive put nobody on the list, and nothing else would notice. A
/// feed is silent once `silent_after` open days have passed since its last
/// event (or since touchpoint started, for one never heard), at the same
/// wall-clock time: a feed last heard on Friday at 14:02 with one open day
/// and a closed weekend is silent from Monday 14:02, whatever the clocks did
/// on Sunday. Pure: the time and the last events are passed in.
public enum FeedSilence {
    /// When a feed last heard at `last` becomes silent.
    public static func deadline(after last: Date, openDays: Int, rules: SchedulingRules) -> Date {
        let local = rules.clock.localDateTime(of: last)
        var day = local.date
        for _ in 0..<max(1, openDays) {
            guard let next = rules.nextOpenDay(after: day) else { return .distantFuture }
            day = next
        }
        return rules.clock.instant(on: day, at: local.time)
    }

    /// The feeds silent at `now`, and when the next of the others would
    /// fall silent if nothing came (for the engine's timer).
    /// `lastEvents`: each source's last event (`""` for events that named
    /// none); `started`: when touchpoint started watching.
    public static func check(_ feeds: [ExpectedFeed], lastEvents: [String: Date], started: Date, now: Date,
                             rules: SchedulingRules) -> (silent: [SilentFeed], next: Date?) {
        var silent: [SilentFeed] = []
        var next: Date?
        for feed in feeds {
            let last = feed.source.map { lastEvents[$0] } ?? lastEvents.values.max()
            let at = deadline(after: last ?? started, openDays: feed.silentAfterOpenDays, rules: rules)
            if at <= now {
                silent.append(SilentFeed(source: feed.source, lastEventAt: last, since: at))
            } else {
                next = min(next ?? at, at)
            }
        }
        return (silent, next)
    }
}
