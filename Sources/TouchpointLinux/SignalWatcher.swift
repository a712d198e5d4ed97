import CLinux

#if canImport(Glibc)
import Glibc
#endif

/// Signals delivered as values, through a signalfd, rather than to a handler
/// that interrupts whichever thread they land on.
///
/// `block` must run first thing in `main`, before any thread starts: threads
/// inherit the mask, so a signal is then never delivered to one of them and
/// always waits in the signalfd, however early it arrives. (libdispatch's
/// signal sources would need no mask, but they start its manager thread,
/// which tries to renice itself and logs a warning in an unprivileged
/// service; and a SIGTERM sent before their registration finished was lost.)
public final class SignalWatcher: Sendable {
    public let signals: AsyncStream<Int32>
    private let loop: WakeLoop

    /// Blocks `signals` in the calling thread and every thread it starts later.
    public static func block(_ signals: [Int32]) {
        var set = sigset_t()
        sigemptyset(&set)
        for s in signals { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Starts watching `watched` (which `block` must have blocked).
    public init(_ watched: [Int32]) throws(SystemError) {
        var set = sigset_t()
        sigemptyset(&set)
        for s in watched { sigaddset(&set, s) }
        let fd = signalfd(-1, &set, Int32(SFD_CLOEXEC) | Int32(SFD_NONBLOCK))
        guard fd >= 0 else { throw SystemError("signalfd") }
        let (stream, continuation) = AsyncStream.makeStream(of: Int32.self, bufferingPolicy: .unbounded)
        signals = stream
        loop = try WakeLoop(name: "signals", descriptors: [fd], onReadable: { _ in
            var info = signalfd_siginfo()
            while withUnsafeMutableBytes(of: &info, { read(fd, $0.baseAddress, $0.count) }) == MemoryLayout<signalfd_siginfo>.size {
                continuation.yield(Int32(info.ssi_signo))
            }
        }, onStop: {
            continuation.finish()
            close(fd)
        })
    }

    public func stop() { loop.stop() }
}

extension posix_spawnattr_t {
    /// A child starts with no signal blocked, whatever the daemon blocks for
    /// its signalfd (a blocked SIGTERM would make a transport program unkillable
    /// by anything but SIGKILL).
    public mutating func unblockAllSignals() {
        var empty = sigset_t()
        sigemptyset(&empty)
        posix_spawnattr_setsigmask(&self, &empty)
        var flags: Int16 = 0
        posix_spawnattr_getflags(&self, &flags)
        posix_spawnattr_setflags(&self, flags | Int16(POSIX_SPAWN_SETSIGMASK))
    }
}
