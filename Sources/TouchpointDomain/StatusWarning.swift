import Foundation

/// What `status` warns of: conditions that leave the service running (exit
/// 0) but a list incomplete or a patient unseen, said in `status` and its
/// JSON's `"warnings"` and on every page of the web view, so that whoever
/// looks finds them. Pure.
public enum StatusWarning: Equatable, Sendable {
    /// A feed the hospital expects has been silent longer than it may be.
    case feedSilent(SilentFeed)
    /// Check-in calls still to make whose ward is none of `calls.wards`.
    case unassignedCalls(Int)
    /// Escalated calls nobody has taken for `calls.escalation_alert_after`.
    case untakenEscalations(Int, after: TimeInterval)

    /// The warnings a snapshot of the state gives under these rules, with
    /// the feeds already found silent (`FeedSilence.check`).
    public static func of(_ snapshot: StatusSnapshot, rules: SchedulingRules, silent: [SilentFeed] = [], untaken: Int = 0) -> [StatusWarning] {
        var out = silent.map(StatusWarning.feedSilent)
        if untaken > 0 { out.append(.untakenEscalations(untaken, after: rules.escalationAlertAfter)) }
        let unassigned = snapshot.openCallsByWard.filter { rules.wards.isUnassigned($0.ward) }.reduce(0) { $0 + $1.calls }
        if unassigned > 0 { out.append(.unassignedCalls(unassigned)) }
        return out
    }

    /// The words `status` and the web view's banner show, times in the hospital's zone.
    public func words(_ clock: HospitalClock) -> String {
        switch self {
        case .feedSilent(let f):
            let from = f.source.map { "from \($0)" } ?? "in the queue"
            let since = f.lastEventAt.map { t in "since \(clock.localDate(of: t).shortText) \(clock.hhmm(t))" }
                ?? "since touchpoint started"
            return "No bookings \(from) \(since): the list may be incomplete. Tell the integration team."
        case .untakenEscalations(let n, let after):
            return "\(n) escalated call\(n == 1 ? " has" : "s have") waited \(EscalationAge.words(after)) of call time and nobody has taken \(n == 1 ? "it" : "them"): "
                + "the breast care nurse's list (touchpointctl calls --escalated; take one with touchpointctl take JOB)"
        case .unassignedCalls(let n):
            return "\(n) check-in call\(n == 1 ? " is" : "s are") on the unassigned list: \(n == 1 ? "its" : "their") ward is none of calls.wards "
                + "(touchpointctl calls --unassigned; add the ward to calls.wards or ask the integration team to send its name)"
        }
    }
}
