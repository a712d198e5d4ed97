import CLinux
import Foundation
import Logging
import ServiceLifecycle
import TouchpointConfig
import TouchpointControl
import TouchpointLinux
import TouchpointSystemd

#if canImport(Glibc)
import Glibc
#endif

/// What `touchpoint-web`'s main hands over to: serving, checking the
/// config, and the administrator's account commands.
public enum WebMain {
    /// Blocked on the main thread before any other starts, then read from a signalfd.
    public static let signals: [Int32] = [SIGTERM, SIGINT, SIGHUP]

    /// `touchpoint-web --check-config`: 0 when the file is good, else 1 with each problem.
    public static func checkConfig(path: String) -> Int32 {
        do {
            let c = try WebConfig.load(path: path)
            print("\(c.file): ok (listen \(c.listen), auth \(c.auth.rawValue), touchpointd at \(c.controlSocket))")
            return 0
        } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            return 1
        }
    }

    /// Serves until SIGTERM or SIGINT; 0 after a clean stop.
    public static func serve(configPath: String, logTarget: TouchpointConfig.LogTarget? = nil) async -> Int32 {
        Heap.limitArenas()
        Heap.returnLargeBlocksPromptly()
        let config: WebConfig
        do {
            config = try WebConfig.load(path: configPath)
        } catch {
            FileHandle.standardError.write(Data((error.description + "\n").utf8))
            return 1
        }
        let destination: LogDestination = switch logTarget ?? config.logTarget {
        case .auto: LogDestination.detect()
        case .journal: .journal
        case .stderr: LogDestination.standardError()
        }
        LoggingSystem.bootstrap { _ in
            var h = JournalLogHandler(identifier: "touchpoint-web", destination: destination)
            h.logLevel = config.logLevel.swiftLogLevel
            return h
        }
        let logger = Logger(label: "touchpoint-web")
        let status = await serve(config, logger: logger)
        // The last entries may still be on their way to journald.
        await JournalLogHandler.flushed()
        return status
    }

    private static func serve(_ config: WebConfig, logger: Logger) async -> Int32 {
        do {
            let accounts = try Accounts(path: config.databasePath)
            try await accounts.settleInterruptedSignIns()
            let app = WebApp(config: config, accounts: accounts, daemon: AsyncControlClient(socketPath: config.controlSocket), logger: logger)
            let watcher = try SignalWatcher(signals)
            let group = ServiceGroup(configuration: .init(
                services: [
                    .init(service: WebServer(app: app, logger: logger)),
                    .init(service: StopSignals(signals: watcher, logger: logger), successTerminationBehavior: .gracefullyShutdownGroup),
                ],
                gracefulShutdownSignals: [], logger: logger))
            try await group.run()
            withExtendedLifetime(accounts) {}
            return 0
        } catch {
            logger.critical("cannot serve: \(error)")
            FileHandle.standardError.write(Data("touchpoint-web: \(error)\n".utf8))
            return 1
        }
    }
}

/// SIGTERM and SIGINT stop the web view (its open requests are answered
/// first); SIGHUP is logged: the config is read at start only.
struct StopSignals: Service {
    let signals: SignalWatcher
    let logger: Logger

    func run() async throws {
        defer { signals.stop() }
        for await signal in signals.signals.cancelOnGracefulShutdown() {
            if signal == SIGHUP {
                logger.notice("SIGHUP: touchpoint-web reads web.toml at start only; restart it to apply changes")
                continue
            }
            logger.info("\(signal == SIGINT ? "SIGINT" : "SIGTERM"): stopping")
            return
        }
    }
}

// MARK: touchpoint-web user ...

extension Accounts {
    /// The accounts of `config`, opened for the administrator's commands.
    /// Run as root, the command becomes the state directory's owner first
    /// (the `touchpoint-web` user), so every file it makes stays the web
    /// view's and readable by nobody else.
    public static func openForAdmin(_ config: WebConfig) throws -> Accounts {
        if geteuid() == 0 {
            var st = stat()
            if stat(config.stateDir, &st) != 0 {
                try FileManager.default.createDirectory(atPath: config.stateDir, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
                if let pw = getpwnam("touchpoint-web") { chown(config.stateDir, pw.pointee.pw_uid, pw.pointee.pw_gid) }
                _ = stat(config.stateDir, &st)
            }
            if st.st_uid != 0 {
                guard setgroups(0, nil) == 0, setgid(st.st_gid) == 0, setuid(st.st_uid) == 0 else {
                    throw AccountError.badName("cannot become the owner of \(config.stateDir)")
                }
            }
        }
        return try Accounts(path: config.databasePath)
    }
}

