import NIOCore
import NIOPosix

/// Waiting a while in a task, on an event loop's timer.
///
/// Not `Task.sleep`: SwiftNIO takes over Swift concurrency's global executor
/// but not its delayed jobs, so `Task.sleep` goes through libdispatch, whose
/// worker threads try to renice themselves and log "Failed to set thread
/// priority" in an unprivileged service. An event loop's timer does the same
/// wait on a thread the daemon already has.
enum Pause {
    /// Waits `duration`; throws `CancellationError` if the task is cancelled first.
    static func sleep(for duration: Duration) async throws {
        let nanoseconds = Int64(duration.components.seconds) * 1_000_000_000 + Int64(duration.components.attoseconds / 1_000_000_000)
        let loop = MultiThreadedEventLoopGroup.singleton.any()
        let scheduled = loop.scheduleTask(in: .nanoseconds(nanoseconds)) {}
        try await withTaskCancellationHandler {
            try await scheduled.futureResult.get()
        } onCancel: {
            scheduled.cancel()
        }
    }
}

/// How long the services have to stop after a stop signal, below the unit's
/// `TimeoutStopSec` (30 s): past it they are cancelled rather than the
/// daemon killed. (Not the service group's own timeout, which waits with
/// `Task.sleep`.)
final class ShutdownDeadline: Sendable {
    private let passes: AsyncStream<Void>
    private let continuation: AsyncStream<Void>.Continuation
    static let grace: Duration = .seconds(10)

    init() {
        (passes, continuation) = AsyncStream.makeStream(of: Void.self, bufferingPolicy: .bufferingNewest(1))
    }

    /// Starts the clock (the first stop signal).
    func arm() {
        let continuation = self.continuation
        let grace = Int64(Self.grace.components.seconds)
        MultiThreadedEventLoopGroup.singleton.any().scheduleTask(in: .seconds(grace)) { continuation.yield() }
    }

    /// Returns when the deadline has passed; throws if cancelled first.
    func passed() async throws {
        for await _ in passes { return }
        throw CancellationError()
    }
}
