import Synchronization

/// The queue in front of the password check. bcrypt at cost 12 takes a
/// quarter of a second on one of two threads, so sixty bogus sign-ins sent at
/// once kept a real nurse waiting twelve seconds. Here each source (a
/// client's address; behind a proxy, the address it forwards) may have a few
/// attempts waiting or being checked, and all sources together a bounded
/// number; an attempt past either is answered at once (429, `Retry-After`),
/// having checked and counted nothing.
public final class SignInGate: Sendable {
    public let perSource: Int
    public let total: Int
    private let state = Mutex<State>(State())

    struct State {
        var inHand = 0
        var bySource: [String: Int] = [:]
        /// A running mean of one check's duration (seconds), for `Retry-After`.
        var meanCheck = 0.25
    }

    /// A place in the queue, given back by `leave`.
    public struct Ticket: Sendable {
        let source: String
    }

    /// Four per source: a nurse who double-clicks, or a ward PC shared by a
    /// shift, is never turned away, while one address can keep at most a
    /// second's worth of checks queued. Thirty-two in all: eight seconds of
    /// work on two threads at the most.
    public init(perSource: Int = 4, total: Int = 32) {
        self.perSource = perSource
        self.total = total
    }

    public func enter(_ source: String) -> Ticket? {
        state.withLock { s in
            let mine = s.bySource[source, default: 0]
            guard mine < perSource, s.inHand < total else { return nil }
            s.bySource[source] = mine + 1
            s.inHand += 1
            return Ticket(source: source)
        }
    }

    public func leave(_ ticket: Ticket) {
        state.withLock { s in
            s.inHand -= 1
            let left = s.bySource[ticket.source, default: 1] - 1
            s.bySource[ticket.source] = left > 0 ? left : nil
        }
    }

    /// Records how long a check took.
    func hashed(in d: Duration) {
        let seconds = Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
        state.withLock { $0.meanCheck = $0.meanCheck * 0.8 + seconds * 0.2 }
    }

    /// Seconds until the queue in hand has been worked off (two threads check), at least one.
    public func retryAfter() -> Int {
        state.withLock { s in max(1, Int((Double(s.inHand) * s.meanCheck / 2).rounded(.up))) }
    }

    /// Attempts waiting or being checked now.
    public var inHand: Int { state.withLock { $0.inHand } }
}
