#if canImport(Glibc)
import Glibc
#endif

/// A Unix socket path as the C socket calls take it.
public enum UnixSocketAddress {
    /// Calls `body` with a `sockaddr_un` for `path`; nil when the path is too long for one.
    public static func with<T>(_ path: String, _ body: (UnsafePointer<sockaddr>, socklen_t) -> T) -> T? {
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { return nil }
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            p.copyBytes(from: bytes)
            p[bytes.count] = 0
        }
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
    }
}

/// User and group names from the system's account database, for messages
/// about who may use the socket: the client names a socket's owner, the
/// daemon names the user at the other end.
public enum UnixAccounts {
    public static func userName(uid: uid_t) -> String? {
        var pwd = passwd()
        var result: UnsafeMutablePointer<passwd>? = nil
        var buf = [CChar](repeating: 0, count: 4096)
        guard getpwuid_r(uid, &pwd, &buf, buf.count, &result) == 0, result != nil else { return nil }
        return String(cString: pwd.pw_name)
    }

    public static func groupName(gid: gid_t) -> String? {
        var grp = group()
        var result: UnsafeMutablePointer<group>? = nil
        var buf = [CChar](repeating: 0, count: 16_384)
        guard getgrgid_r(gid, &grp, &buf, buf.count, &result) == 0, result != nil else { return nil }
        return String(cString: grp.gr_name)
    }

    /// The id of a group, nil if the system has no such group.
    public static func gid(of group: String) -> gid_t? {
        var grp = Glibc.group()
        var result: UnsafeMutablePointer<Glibc.group>? = nil
        var buf = [CChar](repeating: 0, count: 16_384)
        guard getgrnam_r(group, &grp, &buf, buf.count, &result) == 0, result != nil else { return nil }
        return grp.gr_gid
    }

    /// Every group a user is in: the primary one and the supplementary ones.
    public static func groups(of user: String, primary: gid_t) -> Set<gid_t> {
        var count: Int32 = 64
        var list = [gid_t](repeating: 0, count: Int(count))
        if getgrouplist(user, primary, &list, &count) < 0 {
            list = [gid_t](repeating: 0, count: Int(count))
            _ = getgrouplist(user, primary, &list, &count)
        }
        return Set(list.prefix(Int(max(count, 0)))).union([primary])
    }
}

/// `struct ucred` from SO_PEERCRED (Glibc's Swift module does not export
/// it): who is at the other end of a Unix socket, as the kernel says.
public struct PeerCredentials: Sendable, Equatable {
    public var pid: Int32 = 0
    public var uid: UInt32 = 0
    public var gid: UInt32 = 0

    public init(pid: Int32 = 0, uid: UInt32 = 0, gid: UInt32 = 0) {
        self.pid = pid
        self.uid = uid
        self.gid = gid
    }
}
