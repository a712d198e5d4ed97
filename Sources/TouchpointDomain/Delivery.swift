import Foundation

/// How one attempt to hand a notice to its transport ended.
public enum DeliveryResult: Equatable, Sendable {
    /// The transport took it.
    case sent
    /// The transport took it and will say later whether it reached the
    /// patient (GOV.UK Notify): its id for the notice, to ask after.
    case accepted(notificationID: String)
    /// Nothing can be sent by anyone until an admin fixes the transport (its
    /// key refused): not this notice's attempt, which waits with every other.
    case held(String)
    /// Not now (the gateway is busy, a timeout): try again later.
    case retry(String)
    /// Never (the gateway refused it, the message cannot be made).
    case failed(String)
    /// Never to this address (Notify will not text a landline, or cannot read
    /// the number or address): the patient's other channel, once, when they
    /// have one; failed otherwise.
    case undeliverable(String)

    public var kind: DeliveryAttempt.Result {
        switch self {
        case .sent, .accepted: return .sent
        case .retry, .held: return .retry
        case .failed, .undeliverable: return .failed
        }
    }

    /// The transport's words, if any.
    public var detail: String? {
        switch self {
        case .sent: return nil
        case .accepted(let id): return "notification \(id)"
        case .retry(let why), .failed(let why), .held(let why), .undeliverable(let why): return why
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

/// Whether a notice the transport accepted reached the patient, as its
/// receipts say (`dispatch.md`, "Delivery receipts"). Only the `notify`
/// transport gives receipts; other notices have none.
public enum DeliveryStatus: String, Sendable, Codable, CaseIterable {
    /// Accepted, no final word yet.
    case sending
    case delivered
    /// Handed to a network abroad that sends no delivery receipts: final,
    /// as Notify counts it (its `sent`); shown as "sent, no receipt from this country".
    case sent
    /// The number or address does not work.
    case permanentFailure = "permanent_failure"
    /// Phone off, inbox full: the provider gave up.
    case temporaryFailure = "temporary_failure"
    case technicalFailure = "technical_failure"
    /// No final word within `receipt_max_age`.
    case unknown

    /// What `jobs --delivery` takes for every failure at once.
    public static let anyFailureWord = "failed"

    public var isFinal: Bool { self != .sending }
    public var isFailure: Bool { self == .permanentFailure || self == .temporaryFailure || self == .technicalFailure }

    /// What staff read for it (`jobs --delivery`, the report).
    public var words: String {
        switch self {
        case .sent: "sent, no receipt from this country"
        default: rawValue.replacingOccurrences(of: "_", with: " ")
        }
    }

    /// From each of Notify's status words (its `app/constants.py`, all of
    /// them): `created`, `sending`, `pending` and the letters' `accepted`,
    /// `received` and `pending-virus-check` are not final; `sent` is final,
    /// as Notify itself counts it (an international text where the country
    /// gives no receipts); the failures as Notify files them (its `failed`
    /// filter); `cancelled` (letters) is a permanent failure. Nil for a word
    /// Notify did not have when this was written: the caller keeps and logs
    /// it and goes on asking.
    public init?(notify: String) {
        switch notify {
        case "created", "sending", "pending", "accepted", "received", "pending-virus-check": self = .sending
        case "sent": self = .sent
        case "delivered": self = .delivered
        case "permanent-failure", "returned-letter", "cancelled": self = .permanentFailure
        case "temporary-failure": self = .temporaryFailure
        case "technical-failure", "validation-failed", "virus-scan-failed", "failed": self = .technicalFailure
        default: return nil
        }
    }
}
