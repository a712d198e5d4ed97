/// What `status` warns of: conditions that leave the service running (exit
/// 0) but a list incomplete or a patient unseen, said in `status` and its
/// JSON's `"warnings"`, so that whoever looks finds them. Pure.
public enum StatusWarning: Equatable, Sendable {
    /// Check-in calls still to make whose ward is none of `calls.wards`.
    case unassignedCalls(Int)

    /// The warnings a snapshot of the state gives under these rules.
    public static func of(_ snapshot: StatusSnapshot, rules: SchedulingRules) -> [StatusWarning] {
        var out: [StatusWarning] = []
        let unassigned = snapshot.openCallsByWard.filter { rules.wards.isUnassigned($0.ward) }.reduce(0) { $0 + $1.calls }
        if unassigned > 0 { out.append(.unassignedCalls(unassigned)) }
        return out
    }

    /// The words `status` shows.
    public var words: String {
        switch self {
        case .unassignedCalls(let n):
            return "\(n) check-in call\(n == 1 ? " is" : "s are") on the unassigned list: \(n == 1 ? "its" : "their") ward is none of calls.wards "
                + "(touchpointctl calls --unassigned; add the ward to calls.wards or ask the integration team to send its name)"
        }
    }
}
