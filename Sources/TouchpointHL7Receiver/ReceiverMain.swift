import Foundation
import Logging
import ServiceLifecycle
import TouchpointConfig
import TouchpointLinux
import TouchpointSystemd

#if canImport(Glibc)
import Glibc
#endif

/// `touchpoint-hl7` serving: the config, the journal, the listener; until
/// SIGTERM or SIGINT, after which the message in hand is finished and
/// acknowledged (graceful shutdown) and the rest wait for the engine's resend.
public enum ReceiverMain {
    public static func serve(configPath: String, logTarget: TouchpointConfig.LogTarget = .auto) async -> Int32 {
        let config: HL7Config
        do {
            config = try HL7ConfigLoader.load(path: configPath)
        } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            return 1
        }
        let destination: LogDestination = switch logTarget {
        case .auto: LogDestination.detect()
        case .journal: .journal
        case .stderr: LogDestination.standardError()
        }
        LoggingSystem.bootstrap { _ in JournalLogHandler(identifier: "touchpoint-hl7", destination: destination) }
        let logger = Logger(label: "touchpoint-hl7")
        let status: Int32
        do {
            let receiver = try Receiver(config: config, logger: logger)
            let watcher = try SignalWatcher([SIGTERM, SIGINT, SIGHUP])
            let group = ServiceGroup(configuration: .init(
                services: [
                    .init(service: try MLLPServer(config: config, receiver: receiver, logger: logger)),
                    .init(service: ReceiverStopSignals(signals: watcher, logger: logger), successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [], logger: logger))
            try await group.run()
            status = 0
        } catch {
            logger.critical("cannot serve: \(error)")
            FileHandle.standardError.write(Data("touchpoint-hl7: \(error)\n".utf8))
            status = 1
        }
        await JournalLogHandler.flushed()
        return status
    }
}

/// SIGTERM and SIGINT stop the receiver; SIGHUP is logged (hl7.toml is read at start).
struct ReceiverStopSignals: Service {
    let signals: SignalWatcher
    let logger: Logger

    func run() async throws {
        defer { signals.stop() }
        for await signal in signals.signals.cancelOnGracefulShutdown() {
            if signal == SIGHUP {
                logger.notice("SIGHUP: touchpoint-hl7 reads hl7.toml at start only; restart it to apply changes")
                continue
            }
            logger.info("\(signal == SIGINT ? "SIGINT" : "SIGTERM"): stopping")
            return
        }
    }
}
