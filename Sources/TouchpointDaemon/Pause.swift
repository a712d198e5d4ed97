import NIOCore
import NIOPosix

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
