import Foundation
import Logging
import ServiceLifecycle
import TouchpointLinux
import TouchpointSystemd

#if canImport(Glibc)
import Glibc
#endif

/// SIGTERM and SIGINT stop the daemon (this service returns, and the group
/// shuts the others down in order); SIGHUP reloads the config, as
/// `touchpointctl reload` does.
struct SignalService: Service {
    let signals: SignalWatcher
    let logger: Logger
    let deadline: ShutdownDeadline
    let reload: @Sendable () async -> Void

    func run() async throws {
        defer { signals.stop() }
        for await signal in signals.signals.cancelOnGracefulShutdown() {
            switch signal {
            case SIGHUP:
                await reload()
            default:
                logger.info("\(signal == SIGINT ? "SIGINT" : "SIGTERM"): stopping")
                ServiceNotifier.notify("STOPPING=1")
                deadline.arm()
                return
            }
        }
    }
}
