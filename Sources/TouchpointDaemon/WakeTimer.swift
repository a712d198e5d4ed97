import CLinux
import Foundation
import TouchpointLinux

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
    /// Why the timer's owner woke.
    enum Reason: Sendable { case timer, poke, clockStep }

    let wakes: AsyncStream<Reason>
    private let timerFD: Int32
    private let loop: WakeLoop

    init(name: String) throws(SystemError) {
        let (wakes, continuation) = AsyncStream.makeStream(of: Reason.self, bufferingPolicy: .bufferingNewest(4))
        self.wakes = wakes
        let fd = timerfd_create(CLOCK_REALTIME, Int32(TFD_CLOEXEC) | Int32(TFD_NONBLOCK))
        guard fd >= 0 else { throw SystemError("timerfd_create") }
        timerFD = fd
        loop = try WakeLoop(name: name, descriptors: [fd], onReadable: { _ in
            var expirations: UInt64 = 0
            let n = read(fd, &expirations, 8)
            if n < 0 && errno == ECANCELED {
                continuation.yield(.clockStep)
            } else if n == 8 {
                continuation.yield(.timer)
            }
        }, onWake: {
            continuation.yield(.poke)
        }, onStop: {
            continuation.finish()
            close(fd)
        })
        // Armed from the start, so a clock step is noticed even before the first run.
        arm(at: nil)
    }

    /// Wakes at `instant` (nil: only pokes and clock steps wake).
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

    /// Makes the owner look again now (new jobs, a reload, a control request).
    func poke() { loop.wake() }

    /// Ends the wake stream.
    func stop() { loop.stop() }
}
