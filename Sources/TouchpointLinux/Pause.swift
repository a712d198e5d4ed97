import NIOCore
import NIOPosix

/// Waiting a while in a task, on an event loop's timer.
///
/// Not `Task.sleep`: SwiftNIO takes over Swift concurrency's global executor
/// but not its delayed jobs, so `Task.sleep` goes through libdispatch, whose
/// worker threads try to renice themselves and log "Failed to set thread
/// priority" in an unprivileged service. An event loop's timer does the same
/// wait on a thread the daemon already has.
public enum Pause {
    /// Waits `duration`; throws `CancellationError` if the task is cancelled first.
    public static func sleep(for duration: Duration) async throws {
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
