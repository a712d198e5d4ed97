import Foundation
import TouchpointLinux
import TouchpointControl

#if canImport(Glibc)
import Glibc
#endif

/// A datagram socket standing in for systemd's NOTIFY_SOCKET, so tests see
/// exactly what the daemon tells systemd (READY=1, STATUS=, STOPPING=1, ...).
/// This is the real sd_notify protocol, not a double: libsystemd writes to it.
public final class NotifyListener: @unchecked Sendable {
    // @unchecked: `fd` and `stopPipe` are set once in init; `received` is guarded by
    // `lock`, `done` by `stopped`.
    public let path: String
    private let fd: Int32
    private let lock = NSLock()
    private var received: [(at: Date, text: String)] = []

    public init(path: String) throws {
        self.path = path
        unlink(path)
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let rc = UnixSocketAddress.with(path) { bind(fd, $0, $1) } ?? -1
        guard rc == 0 else { throw HarnessError("cannot bind notify socket \(path): \(String(cString: strerror(errno)))") }
        var p: [Int32] = [0, 0]
        _ = pipe(&p)
        stopPipe = (p[0], p[1])
        // Receive on a thread of its own, so each message is timed when it arrives.
        let thread = Thread { [self] in self.receive() }
        thread.start()
    }

    private var stopPipe: (read: Int32, write: Int32) = (-1, -1)
    private let stopped = NSCondition()
    private var done = false

    deinit {
        var b: UInt8 = 1
        _ = write(stopPipe.write, &b, 1)
        stopped.lock()
        while !done { stopped.wait() }
        stopped.unlock()
        close(stopPipe.read)
        close(stopPipe.write)
        close(fd)
        unlink(path)
    }

    private func receive() {
        var fds = [pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: stopPipe.read, events: Int16(POLLIN), revents: 0)]
        var buf = [UInt8](repeating: 0, count: 4096)
        while poll(&fds, 2, -1) >= 0 {
            if fds[1].revents != 0 { break }
            if fds[0].revents != 0 {
                let n = recv(fd, &buf, buf.count, 0)
                if n > 0 {
                    let text = String(decoding: buf[0..<n], as: UTF8.self)
                    lock.withLock { received.append((Date(), text)) }
                }
            }
        }
        stopped.lock()
        done = true
        stopped.signal()
        stopped.unlock()
    }

    /// All messages received so far (each a newline-separated list of assignments).
    public var messages: [String] {
        drain(timeout: 0)
        return lock.withLock { received.map(\.text) }
    }

    /// Messages with the time each arrived.
    public var timedMessages: [(at: Date, text: String)] {
        drain(timeout: 0)
        return lock.withLock { received }
    }

    /// Waits until a message contains `assignment` (such as `READY=1`); returns it.
    @discardableResult
    public func wait(for assignment: String, timeout: TimeInterval) -> String? {
        let deadline = Date().addingTimeInterval(timeout)
        var seen = 0
        while true {
            let all = lock.withLock { received.map(\.text) }
            for m in all[seen...] where m.split(separator: "\n").contains(Substring(assignment)) { return m }
            seen = all.count
            let left = deadline.timeIntervalSinceNow
            if left <= 0 { return nil }
            drain(timeout: min(left, 0.005))
        }
    }

    /// Waits for READY=1 from `process` (or what it launches), in slices, so
    /// that a program that exits first (a config error) is reported at once
    /// rather than at the timeout. Throws naming `program` and its `stderr`.
    public func waitReady(of process: Process, program: String, timeout: TimeInterval, stderr: () -> String) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while wait(for: "READY=1", timeout: 0.2) == nil {
            if !process.isRunning && wait(for: "READY=1", timeout: 0.05) == nil {
                throw HarnessError("\(program) exited (status \(process.terminationStatus)) before it was ready; stderr:\n\(stderr())")
            }
            if Date() > deadline {
                throw HarnessError("\(program) did not become ready in \(timeout)s; stderr:\n\(stderr())")
            }
        }
    }

    /// Messages arrive on the receiving thread; this only waits a little.
    private func drain(timeout: TimeInterval) {
        if timeout > 0 { usleep(useconds_t(timeout * 1_000_000)) }
    }
}

public struct HarnessError: Error, CustomStringConvertible {
    public var description: String
    public init(_ d: String) { description = d }
}
