import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Appends events to the queue file as `queue-format.md`'s writers must:
/// `O_APPEND`, `flock(LOCK_EX)`, the path checked to still name the file
/// held (an admin may have rotated it), whole lines in one `write`,
/// `fdatasync`, and only then the lock released and success reported.
///
/// A write the disk cut short (`ENOSPC`) is taken back with `ftruncate` to
/// where the file ended, under the lock: half a line would otherwise join
/// the next writer's first line into one the daemon rejects.
///
/// Blocking: run it on a lane, never on an event loop. Used from one lane
/// thread at a time, so its descriptor needs no lock of its own.
final class QueueAppender: @unchecked Sendable {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    let path: String
    private var fd: Int32 = -1

    init(path: String) {
        self.path = path
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Appends `lines` (each without its newline) as one write, durably.
    func append(_ lines: [[UInt8]]) throws(Failure) {
        guard !lines.isEmpty else { return }
        var bytes: [UInt8] = []
        for line in lines {
            bytes += line
            bytes.append(0x0A)
        }
        try lockCurrentFile()
        defer { flock(fd, LOCK_UN) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw failure("cannot stat the queue file") }
        let before = st.st_size
        var written = 0
        while written < bytes.count {
            let n = bytes.withUnsafeBytes { write(fd, $0.baseAddress! + written, bytes.count - written) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                let why = failure("cannot write to the queue file")
                _ = ftruncate(fd, before)
                throw why
            }
            written += n
        }
        guard fdatasync(fd) == 0 else {
            let why = failure("fdatasync of the queue file failed")
            _ = ftruncate(fd, before)
            throw why
        }
    }

    /// Opens the file if need be and locks it; if the path has meanwhile
    /// come to name another file (rotation), that one is opened instead.
    private func lockCurrentFile() throws(Failure) {
        for _ in 0..<8 {
            if fd < 0 {
                fd = open(path, O_WRONLY | O_APPEND | O_CLOEXEC)
                guard fd >= 0 else { throw failure("cannot open the queue file \(path)") }
            }
            while flock(fd, LOCK_EX) != 0 {
                guard errno == EINTR else { throw failure("cannot lock the queue file") }
            }
            var held = stat(), named = stat()
            if fstat(fd, &held) == 0, stat(path, &named) == 0, held.st_ino == named.st_ino, held.st_dev == named.st_dev {
                return
            }
            // Rotated (or removed): let go of the old file and open what the path names now.
            flock(fd, LOCK_UN)
            close(fd)
            fd = -1
        }
        throw Failure(description: "the queue file \(path) kept changing under the lock")
    }

    private func failure(_ what: String) -> Failure {
        Failure(description: "\(what): \(String(cString: strerror(errno)))")
    }
}
