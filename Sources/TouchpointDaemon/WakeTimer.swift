import CLinux
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Sleeps until a wall-clock instant, a poke, or a wall-clock step.
///
/// A `CLOCK_REALTIME` timerfd armed with `TFD_TIMER_ABSTIME |
/// TFD_TIMER_CANCEL_ON_SET`: due times are wall-clock times, so the timer must
/// follow the wall clock (monotonic clocks do not), and when NTP or an admin
/// steps the clock the kernel wakes us at once (ECANCELED) to look again.
/// Between wakes the daemon makes no system calls at all: no polling tick.
final class WakeTimer: Sendable {
    /// Why the engine woke.
    enum Reason: Sendable { case timer, poke, clockStep }

    let wakes: AsyncStream<Reason>
    private let continuation: AsyncStream<Reason>.Continuation
    private let timerFD: Int32
    private let pipeFDs: (read: Int32, write: Int32)

    init() throws {
        (wakes, continuation) = AsyncStream.makeStream(of: Reason.self, bufferingPolicy: .bufferingNewest(4))
        timerFD = timerfd_create(CLOCK_REALTIME, Int32(TFD_CLOEXEC))
        guard timerFD >= 0 else { throw StoreErrorText("timerfd_create: \(String(cString: strerror(errno)))") }
        var p: [Int32] = [0, 0]
        guard pipe(&p) == 0 else { throw StoreErrorText("pipe: \(String(cString: strerror(errno)))") }
        for fd in p { _ = fcntl(fd, F_SETFD, FD_CLOEXEC); _ = fcntl(fd, F_SETFL, O_NONBLOCK) }
        pipeFDs = (p[0], p[1])
        // Armed from the start, so a clock step is noticed even before the first run.
        arm(at: nil)
        let thread = Thread { [self] in self.loop() }
        thread.name = "wake-timer"
        thread.start()
    }

    /// Wakes at `instant` (nil: disarmed, only pokes and clock steps wake).
    func arm(at instant: Date?) {
        var spec = itimerspec()
        if let instant {
            let t = max(instant.timeIntervalSince1970, 0.000_001)
            spec.it_value.tv_sec = Int(t.rounded(.down))
            spec.it_value.tv_nsec = Int((t - t.rounded(.down)) * 1e9)
            if spec.it_value.tv_sec == 0 && spec.it_value.tv_nsec == 0 { spec.it_value.tv_nsec = 1 }
        } else {
            // Disarmed, but still armed far ahead so a clock step is noticed.
            spec.it_value.tv_sec = Int(Date().timeIntervalSince1970) + 365 * 86_400
        }
        timerfd_settime(timerFD, Int32(TFD_TIMER_ABSTIME | TFD_TIMER_CANCEL_ON_SET), &spec, nil)
    }

    /// Makes the engine look again now (new jobs, a reload, a control request).
    func poke() {
        var b: UInt8 = 1
        _ = write(pipeFDs.write, &b, 1)
    }

    /// Ends the wake stream.
    func stop() {
        var b: UInt8 = 2
        _ = write(pipeFDs.write, &b, 1)
    }

    private func loop() {
        var fds = [pollfd(fd: timerFD, events: Int16(POLLIN), revents: 0),
                   pollfd(fd: pipeFDs.read, events: Int16(POLLIN), revents: 0)]
        loop: while true {
            let rc = poll(&fds, 2, -1)
            if rc < 0 && errno == EINTR { continue }
            if rc < 0 { break }
            if fds[1].revents != 0 {
                var buf = [UInt8](repeating: 0, count: 64)
                let n = read(pipeFDs.read, &buf, 64)
                if n > 0 && buf[0..<n].contains(2) { break loop }
                continuation.yield(.poke)
            }
            if fds[0].revents != 0 {
                var expirations: UInt64 = 0
                let n = read(timerFD, &expirations, 8)
                if n < 0 && errno == ECANCELED {
                    continuation.yield(.clockStep)
                } else if n == 8 {
                    continuation.yield(.timer)
                }
            }
        }
        continuation.finish()
        close(timerFD)
        close(pipeFDs.read)
        close(pipeFDs.write)
    }
}
