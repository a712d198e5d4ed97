import NIOCore
import NIOPosix
import Synchronization

/// A time limit on async work, for the ACK (5 s) and for the question to
/// touchpointd (2 s): one mechanism for both.
enum Deadline {
    /// `work`'s result, or nil when it takes longer than `limit`. The work
    /// goes on to its end (a queue append is never cut short halfway);
    /// only its answer is dropped. An unstructured task, because a task
    /// group would wait for it: the point is not to. The deadline is an
    /// event loop's scheduled task, cancelled when the work ends: not
    /// `Task.sleep`, whose timer libdispatch keeps (and wakes for) after a
    /// cancel, so an idle receiver went on waking once a second.
    static func within<T: Sendable>(_ limit: Duration, _ work: @escaping @Sendable () async -> T) async -> T? {
        await withCheckedContinuation { (c: CheckedContinuation<T?, Never>) in
            let once = ResumeOnce(c)
            let timer = MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: TimeAmount(limit)) {
                once.resume(nil)
            }
            Task {
                once.resume(await work())
                timer.cancel()  // no timer left to wake an idle receiver
            }
        }
    }
}

/// A continuation resumed by whichever comes first, once.
final class ResumeOnce<T: Sendable>: Sendable {
    private let continuation: Mutex<CheckedContinuation<T?, Never>?>

    init(_ c: CheckedContinuation<T?, Never>) { continuation = Mutex(c) }

    func resume(_ value: T?) { continuation.withLock { $0.take() }?.resume(returning: value) }
}
