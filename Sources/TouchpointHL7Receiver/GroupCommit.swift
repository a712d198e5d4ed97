import Synchronization
import TouchpointLinux

/// Messages that arrive on several connections while the receiver is busy
/// with one commit wait together and share the next one: one append, one
/// `fdatasync`, one SQLite transaction (a group commit, as `hl7.md` allows:
/// "one `fdatasync` may cover messages that arrived together"). A message
/// that arrives while nothing is in hand is committed at once, alone, so a
/// quiet feed waits for no one.
///
/// Each connection has at most one message in hand (the engine waits for
/// its ACK), so a batch is never larger than `max_connections`, and a
/// connection's messages stay in their order.
final class GroupCommit<Item: Sendable, Result: Sendable>: Sendable {
    struct Waiting: Sendable {
        let item: Item
        let done: @Sendable (Result) -> Void
    }

    private let lane: BlockingLane
    /// The messages waiting for the next commit, and whether a commit is
    /// in hand on the lane (then it takes them when it is done).
    private let waiting = Mutex<(items: [Waiting], draining: Bool)>(([], false))

    /// `lane`: one thread, on which every commit runs.
    init(lane: BlockingLane) {
        self.lane = lane
    }

    /// `item`'s result, after the commit it joined. `commit` returns one
    /// result per item, in their order; it is the same function each time.
    func submit(_ item: Item, commit: @escaping @Sendable ([Item]) -> [Result]) async -> Result {
        await withCheckedContinuation { (c: CheckedContinuation<Result, Never>) in
            let start = waiting.withLock { s in
                s.items.append(Waiting(item: item, done: { c.resume(returning: $0) }))
                defer { s.draining = true }
                return !s.draining
            }
            if start { lane.submit { self.drain(commit) } }
        }
    }

    /// Commits what is waiting, then what came meanwhile, until nothing is.
    private func drain(_ commit: @Sendable ([Item]) -> [Result]) {
        while true {
            let batch = waiting.withLock { s in
                let b = s.items
                s.items = []
                if b.isEmpty { s.draining = false }
                return b
            }
            if batch.isEmpty { return }
            let results = commit(batch.map(\.item))
            precondition(results.count == batch.count, "a commit answers every message it took")
            for (w, r) in zip(batch, results) { w.done(r) }
        }
    }
}
