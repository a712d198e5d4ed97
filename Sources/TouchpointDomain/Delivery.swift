import Foundation

/// How one attempt to hand a notice to its transport ended.
public enum DeliveryResult: Equatable, Sendable {
    /// The transport took it.
    case sent
    /// Not now (the gateway is busy, a timeout): try again later.
    case retry(String)
    /// Never (the gateway refused it, the message cannot be made).
    case failed(String)

    public var kind: DeliveryAttempt.Result {
        switch self {
        case .sent: return .sent
        case .retry: return .retry
        case .failed: return .failed
        }
    }

    /// The transport's words, if any.
    public var detail: String? {
        switch self {
        case .sent: return nil
        case .retry(let why), .failed(let why): return why
        }
    }
}

/// One attempt to hand a notice to the transport, as the job keeps it.
public struct DeliveryAttempt: Equatable, Sendable {
    public enum Result: String, Sendable, Codable, CaseIterable {
        case sent, retry, failed
    }

    public var at: Date
    public var result: Result
    /// The transport's words: an exit status, the first 2 KiB of standard error.
    public var detail: String?

    public init(at: Date, result: Result, detail: String?) {
        self.at = at
        self.result = result
        self.detail = detail
    }
}

/// Retry timing of `dispatch.md`: a notice not delivered waits
/// `backoff_initial`, doubling each time up to `backoff_max`, with jitter,
/// until its expiry or `max_age`.
public struct RetryPolicy: Sendable, Equatable {
    public var initial: TimeInterval
    public var maximum: TimeInterval
    public var maxAge: TimeInterval

    public init(initial: TimeInterval, maximum: TimeInterval, maxAge: TimeInterval) {
        self.initial = initial
        self.maximum = maximum
        self.maxAge = maxAge
    }

    /// The wait before attempt `n + 1` after `n` failed ones: doubling from
    /// `initial`, capped at `maximum`, plus up to a quarter more of jitter
    /// (`jitter` in 0...1), so notices that failed together do not all come
    /// back at the same instant.
    public func delay(afterAttempts n: Int, jitter: Double) -> TimeInterval {
        let base = min(initial * pow(2, Double(max(0, n - 1))), maximum)
        return base * (1 + 0.25 * min(max(jitter, 0), 1))
    }
}
