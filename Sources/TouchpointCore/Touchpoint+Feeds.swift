import Foundation
import TouchpointDomain

/// Feed silence (hazard H-01, `FeedSilence`): which of the feeds the
/// hospital expects have been silent too long, for `status` and the web
/// view's banner, and the journal's one entry when a silence starts and one
/// when it ends.
extension Touchpoint {
    /// The feeds silent at `now`, and when the next may fall silent.
    func feedSilence(_ snapshot: StatusSnapshot, now: Date) -> (silent: [SilentFeed], next: Date?) {
        var last: [String: Date] = [:]
        for s in snapshot.sources { last[s.name ?? ""] = s.lastEventAt }
        let config = live.config
        return FeedSilence.check(config.expectedFeeds, lastEvents: last, started: watchingSince, now: now, rules: config.schedulingRules)
    }

    /// Looks at the feeds, logs each silence that began or ended since it
    /// last looked, and says when to look again (the engine's timer).
    func watchFeeds() async throws -> Date? {
        let now = self.now()
        let snapshot = try await store.statusSnapshot()
        let (silent, next) = feedSilence(snapshot, now: now)
        let names = Set(silent.map { $0.source ?? "" })
        let (began, ended) = silentFeeds.withLock { known -> (Set<String>, Set<String>) in
            defer { known = names }
            return (names.subtracting(known), known.subtracting(names))
        }
        let clock = live.config.clock
        for f in silent where began.contains(f.source ?? "") {
            logger.warning("\(StatusWarning.feedSilent(f).words(clock))",
                           metadata: ["MESSAGE_ID": "\(MessageID.feedSilent)", "source": "\(f.source ?? "(the whole queue)")"])
        }
        for name in ended.sorted() {
            logger.notice("bookings \(name.isEmpty ? "in the queue" : "from \(name)") again: the feed is no longer silent",
                          metadata: ["MESSAGE_ID": "\(MessageID.feedHeard)", "source": "\(name.isEmpty ? "(the whole queue)" : name)"])
        }
        return next
    }

    /// Whether any feed was found silent when last looked at (an event from
    /// it should be looked at at once, to end the silence in the journal).
    var anyFeedSilent: Bool { silentFeeds.withLock { !$0.isEmpty } }
}
