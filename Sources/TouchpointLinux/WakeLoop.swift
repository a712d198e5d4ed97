import CLinux
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// A thread that sleeps in poll(2) until one of its file descriptors becomes
/// readable, or until it is woken, and says which. touchpointd waits on the
/// kernel this way (a timerfd for due jobs, inotify for the queue file, a
/// signalfd for signals) instead of polling on a tick: between events it
/// makes no system call at all.
///
/// The handlers run on the loop's thread and must read their descriptor, or
/// poll reports it again at once.
public final class WakeLoop: Sendable {
    private let wakeFD: Int32
    private let stopping = Atomic<Bool>(false)

    /// Starts the thread. `onReadable(i)` runs when `descriptors[i]` is
    /// readable, `onWake` after `wake()`, `onStop` once the loop has ended
    /// (to close the descriptors and finish any stream fed from the handlers).
    public init(name: String, descriptors: [Int32],
                onReadable: @escaping @Sendable (Int) -> Void,
                onWake: @escaping @Sendable () -> Void = {},
                onStop: @escaping @Sendable () -> Void = {}) throws(SystemError) {
        let fd = eventfd(0, Int32(EFD_CLOEXEC) | Int32(EFD_NONBLOCK))
        guard fd >= 0 else { throw SystemError("eventfd") }
        wakeFD = fd
        let thread = Thread { [self] in
            self.run(descriptors, onReadable, onWake)
            onStop()
            close(fd)
        }
        thread.name = name
        thread.start()
    }

    /// Runs `onWake` on the loop's thread soon (wakes coalesce).
    public func wake() {
        _ = eventfd_write(wakeFD, 1)
    }

    /// Ends the loop; `onStop` runs on its thread.
    public func stop() {
        stopping.store(true, ordering: .releasing)
        _ = eventfd_write(wakeFD, 1)
    }

    private func run(_ descriptors: [Int32], _ onReadable: (Int) -> Void, _ onWake: () -> Void) {
        var fds = descriptors.map { pollfd(fd: $0, events: Int16(POLLIN), revents: 0) }
        fds.append(pollfd(fd: wakeFD, events: Int16(POLLIN), revents: 0))
        let wakeIndex = fds.count - 1
        while !stopping.load(ordering: .acquiring) {
            let rc = poll(&fds, nfds_t(fds.count), -1)
            if rc < 0 && errno == EINTR { continue }
            if rc < 0 { break }
            if fds[wakeIndex].revents != 0 {
                var count: eventfd_t = 0
                _ = eventfd_read(wakeFD, &count)
                if stopping.load(ordering: .acquiring) { break }
                onWake()
            }
            for i in 0..<wakeIndex where fds[i].revents != 0 {
                onReadable(i)
            }
        }
    }
}
