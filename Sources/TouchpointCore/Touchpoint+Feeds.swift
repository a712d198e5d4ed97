import Foundation
import Synchronization
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
        let (began, ended) = silentFeeds.replace(with: Set(silent.map { $0.source ?? "" }))
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
    var anyFeedSilent: Bool { !silentFeeds.isEmpty }
}

/// Escalations are taken (hazard H-04): an escalated call nobody has taken
/// for `calls.escalation_alert_after` of call-window time is a `status`
/// warning and one journal warning (`EscalationAge`).
extension Touchpoint {
    /// The escalated calls untaken past the alert at `now`, and when the
    /// next would be (for the engine's timer).
    func untakenEscalations(now: Date) async throws -> (late: [Job], next: Date?) {
        let rules = live.config.schedulingRules
        let clock = rules.clock
        let escalated = try await store.read { try $0.calls(day: clock.localDate(of: now), ward: nil, escalated: true, clock: clock) }
        var late: [Job] = []
        var next: Date?
        for row in escalated where row.job.takenBy == nil {
            guard let at = EscalationAge.alertAt(from: row.job.escalatedAt ?? watchingSince, after: rules.escalationAlertAfter, rules: rules) else { continue }
            if at <= now { late.append(row.job) } else { next = min(next ?? at, at) }
        }
        return (late, next)
    }

    /// Logs each escalation that has just become late, once; when to look again.
    func watchEscalations() async throws -> Date? {
        let (late, next) = try await untakenEscalations(now: now())
        let new = alertedEscalations.replace(with: Set(late.map(\.id))).began
        let hours = EscalationAge.words(live.config.schedulingRules.escalationAlertAfter)
        for job in late where new.contains(job.id) {
            logger.warning("escalated call \(job.id) (\(job.ref)) has waited \(hours) of call time and nobody has taken it",
                           metadata: ["MESSAGE_ID": "\(MessageID.escalationUntaken)", "job": "\(job.id)", "ref": "\(job.ref)"])
        }
        return next
    }
}

/// What was reported to the journal as going on (silent feeds, late
/// escalations), so that each start and end is reported once.
final class Reported: Sendable {
    private let current = Mutex<Set<String>>([])

    /// Takes what is going on now; answers what began and what ended since last time.
    func replace(with now: Set<String>) -> (began: Set<String>, ended: Set<String>) {
        current.withLock { known in
            defer { known = now }
            return (now.subtracting(known), known.subtracting(now))
        }
    }

    var isEmpty: Bool { current.withLock { $0.isEmpty } }
}
