import Foundation
import NIOPosix

/// Where blocking work runs: SQLite through GRDB's synchronous API, file
/// reads and writes, a transport program, account look-ups.
///
/// Swift concurrency in touchpointd runs on SwiftNIO's event loops (an idle
/// daemon then wakes 0 times), and an event loop must never block: a slow
/// disk would stall every control connection on it. So blocking work goes to
/// a lane: a few threads of its own that sleep on a condition variable while
/// there is nothing to do. Not libdispatch, whose worker threads renice
/// themselves to imitate a quality-of-service class (an unprivileged service
/// may not, and each start logged "Failed to set thread priority for worker
/// thread"), nor `NIOThreadPool`, whose shutdown goes through libdispatch.
public final class BlockingLane: @unchecked Sendable {
    // @unchecked: `work` and `stopping` are touched only with `condition` locked.
    private let condition = NSCondition()
    private var work: [@Sendable () -> Void] = []
    private var next = 0
    private var stopping = false
    public let name: String

    public init(name: String, threads: Int = 1) {
        self.name = name
        for i in 0..<threads {
            let t = Thread { [self] in self.serve() }
            t.name = threads == 1 ? name : "\(name)-\(i)"
            t.start()
        }
    }

    private func serve() {
        while true {
            condition.lock()
            while next == work.count && !stopping { condition.wait() }
            if next == work.count {
                condition.unlock()
                return
            }
            let item = work[next]
            next += 1
            if next == work.count {
                work.removeAll(keepingCapacity: true)
                next = 0
            }
            condition.unlock()
            item()
        }
    }

    /// Runs `body` on the lane without waiting for it.
    public func submit(_ body: @escaping @Sendable () -> Void) {
        condition.lock()
        work.append(body)
        condition.signal()
        condition.unlock()
    }

    /// Runs `body` on the lane and returns its result. Work once submitted
    /// always runs to its end (a transaction is never cut short).
    public func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            submit { continuation.resume(with: Result(catching: body)) }
        }
    }

    /// Lets the work in hand finish, then ends the threads.
    public func shutdown() {
        condition.lock()
        stopping = true
        condition.broadcast()
        condition.unlock()
    }
}

/// The check that blocking work is not on an event loop, in debug builds
/// (the tests run the debug daemon): a call that would block one stops the
/// daemon there, with the place, instead of stalling every connection on it.
public enum Blocking {
    @inline(__always)
    public static func check(_ file: StaticString = #fileID, _ line: UInt = #line) {
        assert(MultiThreadedEventLoopGroup.currentEventLoop == nil,
               "blocking work on a NIO event loop (\(file):\(line)): run it on a BlockingLane", file: file, line: line)
    }
}
