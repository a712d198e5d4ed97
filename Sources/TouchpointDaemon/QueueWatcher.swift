import Foundation
import Logging

#if canImport(Glibc)
import Glibc
#endif

/// Tells the reader when the queue file may have changed, through inotify on
/// its directory (so creation, replacement and deletion are seen too): the
/// daemon sleeps until the kernel says something happened, it never polls.
final class QueueWatcher: Sendable {
    let changes: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    private let inotifyFD: Int32
    private let wakePipe: (read: Int32, write: Int32)
    private let directory: String
    private let fileName: String

    init(path: String, logger: Logger) throws {
        directory = (path as NSString).deletingLastPathComponent
        fileName = (path as NSString).lastPathComponent
        (changes, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        inotifyFD = inotify_init1(Int32(IN_CLOEXEC))
        guard inotifyFD >= 0 else { throw StoreErrorText("inotify_init1: \(String(cString: strerror(errno)))") }
        var p: [Int32] = [0, 0]
        guard pipe(&p) == 0 else { throw StoreErrorText("pipe2: \(String(cString: strerror(errno)))") }
        _ = fcntl(p[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(p[1], F_SETFD, FD_CLOEXEC)
        wakePipe = (p[0], p[1])
        let mask = UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
        if inotify_add_watch(inotifyFD, directory, mask) < 0 {
            throw StoreErrorText("cannot watch the queue directory \(directory): \(String(cString: strerror(errno))) (create it; the queue file itself may come later)")
        }
        let thread = Thread { [self] in self.loop() }
        thread.name = "queue-watcher"
        thread.start()
    }

    /// Asks for a read as if the file had changed (a retry after a failed commit).
    func poke() { continuation.yield() }

    /// Stops the watcher thread.
    func stop() {
        var b: UInt8 = 1
        _ = write(wakePipe.write, &b, 1)
    }

    private func loop() {
        var fds = [pollfd(fd: inotifyFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: wakePipe.read, events: Int16(POLLIN), revents: 0)]
        var buf = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let rc = poll(&fds, 2, -1)
            if rc < 0 && errno == EINTR { continue }
            if rc < 0 || fds[1].revents != 0 { break }
            let n = buf.withUnsafeMutableBytes { read(inotifyFD, $0.baseAddress, $0.count) }
            if n <= 0 { continue }
            if relevant(buf, n) { continuation.yield() }
        }
        continuation.finish()
        close(inotifyFD)
        close(wakePipe.read)
        close(wakePipe.write)
    }

    /// Whether any event in the buffer concerns the queue file (or the directory itself).
    private func relevant(_ buf: [UInt8], _ n: Int) -> Bool {
        var i = 0
        let header = MemoryLayout<inotify_event>.size
        while i + header <= n {
            let (mask, len) = buf.withUnsafeBytes { p -> (UInt32, Int) in
                let ev = p.loadUnaligned(fromByteOffset: i, as: inotify_event.self)
                return (ev.mask, Int(ev.len))
            }
            if len == 0 { return true }  // about the directory itself, or overflow
            if mask & UInt32(IN_Q_OVERFLOW) != 0 { return true }
            let nameBytes = buf[(i + header)..<(i + header + len)].prefix { $0 != 0 }
            if String(decoding: nameBytes, as: UTF8.self) == fileName { return true }
            i += header + len
        }
        return false
    }
}

struct StoreErrorText: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}
