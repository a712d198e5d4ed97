import Foundation
import TouchpointLinux

/// touchpoint's own token bucket for the sends to GOV.UK Notify, shaped
/// like Notify's (its API checks a bucket of at most 1,000 tokens refilled
/// at 50 a second before it reads the body, and a refused request still
/// spends a token): `capacity` sends may go at once after a quiet spell,
/// then `perSecond`. Kept below Notify's by the config's defaults
/// (`rate_burst` 500, `rate_limit` 2,400 a minute), so Notify's never
/// empties because of us. Pure: the time is passed in, in seconds of a
/// monotonic clock.
public struct TokenBucket: Sendable, Equatable {
    public let capacity: Double
    public let perSecond: Double
    public private(set) var tokens: Double
    private var at: Double

    /// Full, as Notify's starts.
    public init(capacity: Int, perMinute: Int, now: Double) {
        self.capacity = Double(max(1, capacity))
        perSecond = Double(max(1, perMinute)) / 60
        tokens = self.capacity
        at = now
    }

    /// How long to wait before the next send (0: now); a send that may go
    /// takes its token.
    public mutating func take(now: Double) -> Double {
        refill(now)
        guard tokens < 1 else {
            tokens -= 1
            return 0
        }
        return (1 - tokens) / perSecond
    }

    /// After Notify said 429: its bucket is empty whatever ours says (another
    /// sender with the key, a clock that drifted), so ours is emptied too.
    public mutating func empty(now: Double) {
        refill(now)
        tokens = 0
    }

    private mutating func refill(_ now: Double) {
        guard now > at else { return }
        tokens = min(capacity, tokens + (now - at) * perSecond)
        at = now
    }
}

/// The bucket shared by every send of one Notify client, and the pause the
/// whole lane takes after a 429: sends wait their turn here, in order, and
/// nothing is spent on a request that is never made (a look-up or a
/// receipt, which Notify does not count, never waits here).
actor NotifyRateLimit {
    private var bucket: TokenBucket
    /// No send before this (after a 429).
    private var pausedUntil: ContinuousClock.Instant?
    private let start = ContinuousClock.now

    init(capacity: Int, perMinute: Int) {
        bucket = TokenBucket(capacity: capacity, perMinute: perMinute, now: 0)
    }

    private func seconds(_ t: ContinuousClock.Instant) -> Double {
        let d = t - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }

    /// Waits until a send may go, and takes its token.
    func takeToken() async throws {
        while true {
            if let until = pausedUntil, until > .now {
                try await Pause.sleep(for: until - .now)
                continue
            }
            let wait = bucket.take(now: seconds(.now))
            if wait == 0 { return }
            try await Pause.sleep(for: .milliseconds(Int64((wait * 1000).rounded(.up))))
        }
    }

    /// Notify refused a send for its rate: every send waits `pause`, and the bucket starts again empty.
    func refused(pause: Duration) {
        bucket.empty(now: seconds(.now))
        let until = ContinuousClock.now + pause
        if pausedUntil.map({ $0 < until }) ?? true { pausedUntil = until }
    }
}

/// What GOV.UK Notify's data retention (7 days unless the service changed
/// it, 3 to 90) means for a notice whose answer was lost: inside it, Notify
/// can be asked by `reference` whether it took the notice; past it, finding
/// nothing proves nothing and sending again could send it twice, so the
/// notice is failed for staff to see, never sent again. Pure.
public enum NotifyRetention {
    /// Why the notice may not be sent again, or nil while Notify still keeps what it took.
    public static func tooLateToAsk(uncertain: Bool, lastAttempt: Date?, now: Date, retention: TimeInterval) -> String? {
        guard uncertain, let last = lastAttempt, now.timeIntervalSince(last) > retention else { return nil }
        return "an earlier attempt's answer was lost \(Int(retention / 86_400)) days or more ago, past Notify's retention: "
            + "whether it was sent cannot be known, so it is not sent again"
    }
}
