import Foundation
import Logging
import ServiceLifecycle
import TouchpointCore
import TouchpointDomain
import TouchpointLinux

/// Reads the queue at start, then each time the kernel says it changed.
struct IngestService: Service {
    let engine: Engine
    let watcher: QueueWatcher
    let timer: WakeTimer
    let logger: Logger
    let caughtUp: @Sendable () async -> Void

    /// A read this large was a catch-up or a backlog: give its memory back.
    static let bulk = 10_000

    func run() async throws {
        await withDiscardingTaskGroup { retries in
            var failures = 0
            /// Whether it was a bulk read. Lines that could not be committed
            /// stay in the file and are read again after a while, even if the
            /// file does not change again (space coming back on a full disk is
            /// no file event).
            func read() async -> Bool {
                switch await engine.readQueue() {
                case .success(let (counts, _)):
                    failures = 0
                    return counts.ingested + counts.duplicates + counts.rejected + counts.notKnown >= Self.bulk
                case .failure:
                    failures += 1
                    let wait = Duration.seconds(Backoff.ingest.delay(afterFailures: failures))
                    retries.addTask { [watcher] in
                        if (try? await Pause.sleep(for: wait)) != nil { watcher.poke() }
                    }
                    return false
                }
            }
            _ = await read()
            await engine.releaseMemory()
            await caughtUp()
            timer.poke()  // the engine's first run, on the state as read
            for await _ in watcher.changes.cancelOnGracefulShutdown() {
                if await read() { await engine.releaseMemory() }
            }
            retries.cancelAll()
        }
        engine.stop()
    }
}
