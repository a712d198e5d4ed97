import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A datagram socket standing in for systemd's NOTIFY_SOCKET, so tests see
/// exactly what the daemon tells systemd (READY=1, STATUS=, STOPPING=1, ...).
/// This is the real sd_notify protocol, not a double: libsystemd writes to it.
public final class NotifyListener: @unchecked Sendable {
    // @unchecked: `fd` is immutable after init; `received` is guarded by `lock`.
    public let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var received: [String] = []

    public init(path: String) throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { p in
            p.copyBytes(from: bytes)
            p[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else { throw HarnessError("cannot bind notify socket \(path): \(String(cString: strerror(errno)))") }
    }

    deinit {
        close(fd)
        unlink(path)
    }

    /// All messages received so far (each a newline-separated list of assignments).
    public var messages: [String] {
        drain(timeout: 0)
        return lock.withLock { received }
    }

    /// Waits until a message contains `assignment` (such as `READY=1`); returns it.
    @discardableResult
    public func wait(for assignment: String, timeout: TimeInterval) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        var seen = 0
        while true {
            let all = lock.withLock { received }
            for m in all[seen...] where m.split(separator: "\n").contains(Substring(assignment)) { return m }
            seen = all.count
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return nil }
            drain(timeout: min(left, 0.2))
        }
    }

    private func drain(timeout: TimeInterval) {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        var buf = [UInt8](repeating: 0, count: 4096)
        var wait = Int32(timeout * 1000)
        while poll(&pfd, 1, wait) > 0 {
            let n = recv(fd, &buf, buf.count, 0)
            if n <= 0 { break }
            let text = String(decoding: buf[0..<n], as: UTF8.self)
            lock.withLock { received.append(text) }
            wait = 0
        }
    }
}

public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
