import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Throw-away Unix users and groups for the role and web view tests (root only).
public final class TestAccounts: @unchecked Sendable {
    // @unchecked: immutable after init (the names are derived from `suffix`).
    public let suffix = String(Int.random(in: 100_000..<999_999))
    public var adminGroup: String { "tpa\(suffix)" }
    public var staffGroup: String { "tps\(suffix)" }
    public var delegateGroup: String { "tpd\(suffix)" }
    public var feedGroup: String { "tpf\(suffix)" }
    public var admin: String { "tpadm\(suffix)" }
    public var staff: String { "tpstf\(suffix)" }
    public var outsider: String { "tpout\(suffix)" }
    /// The web view's user: staff (to reach the socket) and a delegate.
    public var web: String { "tpweb\(suffix)" }
    /// The HL7 receiver's user: staff (to reach the socket) and the feed role.
    public var feed: String { "tpfeed\(suffix)" }

    public init() throws {
        for g in [adminGroup, staffGroup, delegateGroup, feedGroup] { try Self.sh("/usr/sbin/groupadd", [g]) }
        // Admins are in the staff group too: the socket's group (cli.md) is the staff group.
        try Self.sh("/usr/sbin/useradd", ["-M", "-U", "-G", "\(adminGroup),\(staffGroup)", admin])
        try Self.sh("/usr/sbin/useradd", ["-M", "-U", "-G", staffGroup, staff])
        try Self.sh("/usr/sbin/useradd", ["-M", "-U", outsider])
        try Self.sh("/usr/sbin/useradd", ["-M", "-U", "-G", "\(staffGroup),\(delegateGroup)", web])
        try Self.sh("/usr/sbin/useradd", ["-M", "-U", "-G", "\(staffGroup),\(feedGroup)", feed])
    }

    deinit {
        for u in [admin, staff, outsider, web, feed] { _ = try? DaemonHarness.run("/usr/sbin/userdel", [u]) }
        for g in [adminGroup, staffGroup, delegateGroup, feedGroup] { _ = try? DaemonHarness.run("/usr/sbin/groupdel", [g]) }
    }

    /// The `[control]` section naming these groups.
    public func controlSection() -> String {
        "[control]\nsocket = \"control.sock\"\nadmin_group = \"\(adminGroup)\"\nstaff_group = \"\(staffGroup)\"\ndelegate_group = \"\(delegateGroup)\"\nfeed_group = \"\(feedGroup)\""
    }

    public static func sh(_ cmd: String, _ args: [String]) throws {
        let r = try DaemonHarness.run(cmd, args)
        guard r.status == 0 else { throw HarnessError("\(cmd) \(args): \(r.stderr)") }
    }
}

