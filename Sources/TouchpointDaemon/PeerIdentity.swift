import Foundation
import TouchpointControl

#if canImport(Glibc)
import Glibc
#endif

/// `struct ucred` from SO_PEERCRED (Glibc's Swift module does not export it).
struct PeerCredentials: Sendable, Equatable {
    var pid: Int32 = 0
    var uid: UInt32 = 0
    var gid: UInt32 = 0
}

/// Who may do what through the control socket.
public enum Role: String, Sendable, Comparable {
    case staff, admin

    public static func < (a: Role, b: Role) -> Bool { a == .staff && b == .admin }
}

/// A client of the control socket as the kernel vouches for it: never from anything it sends.
struct Caller: Sendable {
    var credentials: PeerCredentials
    var userName: String
    var role: Role?
}

/// Maps peer credentials to roles: admin is root or a member of
/// `control.admin_group`; staff is a member of `control.staff_group`.
struct Authorizer: Sendable {
    var adminGroup: String
    var staffGroup: String

    func identify(_ cred: PeerCredentials) -> Caller {
        let name = UnixAccounts.userName(uid: cred.uid) ?? "uid \(cred.uid)"
        if cred.uid == 0 { return Caller(credentials: cred, userName: name, role: .admin) }
        let groups = Self.groups(of: name, uid: cred.uid, primary: cred.gid)
        var role: Role? = nil
        if let g = Self.gid(of: staffGroup), groups.contains(g) { role = .staff }
        if let g = Self.gid(of: adminGroup), groups.contains(g) { role = .admin }
        return Caller(credentials: cred, userName: name, role: role)
    }

    static func gid(of group: String) -> UInt32? {
        var grp = group_t()
        var result: UnsafeMutablePointer<group_t>? = nil
        var buf = [CChar](repeating: 0, count: 16_384)
        guard getgrnam_r(group, &grp, &buf, buf.count, &result) == 0, result != nil else { return nil }
        return grp.gr_gid
    }

    static func groups(of user: String, uid: UInt32, primary: UInt32) -> Set<UInt32> {
        var out: Set<UInt32> = [primary]
        guard UnixAccounts.userName(uid: uid) != nil else { return out }
        var count: Int32 = 64
        var list = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(user, primary, &list, &count) < 0 {
            list = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(user, primary, &list, &count)
        }
        for g in list.prefix(Int(max(count, 0))) { out.insert(g) }
        return out
    }
}

typealias group_t = group
