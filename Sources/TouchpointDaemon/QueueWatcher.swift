import CLinux
import Foundation
import Logging
import TouchpointLinux

#if canImport(Glibc)
import Glibc
#endif

/// Tells the reader when the queue file may have changed, through inotify on
/// its directory (so creation, replacement and deletion are seen too): the
/// daemon sleeps until the kernel says something happened, it never polls.
final class QueueWatcher: Sendable {
    let changes: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    private let loop: WakeLoop

    init(path: String) throws(SystemError) {
        let directory = (path as NSString).deletingLastPathComponent
        let fileName = (path as NSString).lastPathComponent
        let (changes, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
        self.changes = changes
        self.continuation = continuation
        let fd = inotify_init1(Int32(IN_CLOEXEC) | Int32(IN_NONBLOCK))
        guard fd >= 0 else { throw SystemError("inotify_init1") }
        let mask = UInt32(IN_MODIFY | IN_CREATE | IN_MOVED_TO | IN_MOVED_FROM | IN_DELETE | IN_CLOSE_WRITE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF)
        if inotify_add_watch(fd, directory, mask) < 0 {
            let e = SystemError("cannot watch the queue directory \(directory) (create it; the queue file itself may come later)")
            close(fd)
            throw e
        }
        loop = try WakeLoop(name: "queue-watcher", descriptors: [fd], onReadable: { _ in
            var buf = [UInt8](repeating: 0, count: 64 * 1024)
            while true {
                let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                if n <= 0 { break }
                if Self.concernsFile(buf, n, fileName) { continuation.yield() }
            }
        }, onStop: {
            continuation.finish()
            close(fd)
        })
    }

    /// Asks for a read as if the file had changed (a retry after a failed commit).
    func poke() { continuation.yield() }

    /// Stops the watcher thread.
    func stop() { loop.stop() }

    /// Whether any event in the buffer concerns the queue file (or the directory itself).
    private static func concernsFile(_ buf: [UInt8], _ n: Int, _ fileName: String) -> Bool {
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
