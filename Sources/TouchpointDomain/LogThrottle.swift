import Foundation
import Synchronization

/// How often one source's repeated refusals reach the journal: the first in
/// each interval, and with it how many were left out since the last one.
///
/// Why: a refusal is worth an admin's attention once; logged every time, a
/// client that retries in a loop (or an attacker holding connections open)
/// would write thousands of lines a minute, and journald's rate limit would
/// then drop everything else touchpointd says, the lines that matter
/// included. sshd (`MaxStartups`) and Postfix (`anvil`) do the same.
public final class LogThrottle<Source: Hashable & Sendable>: Sendable {
    public let interval: TimeInterval
    /// Sources remembered at most; past it, those whose interval is over are forgotten.
    public let capacity: Int
    private let seen = Mutex<[Source: (loggedAt: Date, leftOut: Int)]>([:])

    public init(interval: TimeInterval = 60, capacity: Int = 4096) {
        self.interval = interval
        self.capacity = capacity
    }

    /// Whether to log this occurrence: `nil` to leave it out, or how many
    /// were left out before it (for `suffix`).
    public func admit(_ source: Source, at now: Date) -> Int? {
        seen.withLock { seen -> Int? in
            if let last = seen[source], now.timeIntervalSince(last.loggedAt) < interval {
                seen[source]?.leftOut += 1
                return nil
            }
            let leftOut = seen[source]?.leftOut ?? 0
            if seen[source] == nil && seen.count >= capacity {
                seen = seen.filter { now.timeIntervalSince($0.value.loggedAt) < interval }
                // Still full (that many sources at once): start again, which costs a line each, not memory.
                if seen.count >= capacity { seen.removeAll(keepingCapacity: true) }
            }
            seen[source] = (now, 0)
            return leftOut
        }
    }

    /// What a line adds when some before it were left out.
    public static func suffix(_ leftOut: Int) -> String {
        leftOut == 0 ? "" : " (\(leftOut) more like it since the last such line, not logged)"
    }
}
