import CLinux
import Foundation
import Logging
import NIOCore
import ServiceLifecycle
import TouchpointConfig
import TouchpointCore
import TouchpointDispatch
import TouchpointDomain
import TouchpointLinux
import TouchpointStore
import TouchpointSystemd

#if canImport(Glibc)
import Glibc
#endif

/// What `touchpointd` was asked to do on its command line.
public struct DaemonOptions: Sendable {
    public var configPath: String
    public var logLevel: TouchpointConfig.LogLevel?
    public var logTarget: TouchpointConfig.LogTarget?

    public init(configPath: String, logLevel: TouchpointConfig.LogLevel? = nil, logTarget: TouchpointConfig.LogTarget? = nil) {
        self.configPath = configPath
        self.logLevel = logLevel
        self.logTarget = logTarget
    }
}

/// A start-up step that failed, in one line an admin can act on.
struct StartupError: Error, CustomStringConvertible {
    var description: String
    init(_ d: String) { description = d }
}

/// The daemon's entry points. `main` parses arguments and calls one of these.
public enum Daemon {
    /// The signals touchpointd handles itself. `main` blocks them before any
    /// thread starts, so they always wait in the signalfd.
    public static let signals = [SIGTERM, SIGINT, SIGHUP]

    /// `touchpointd --check-config`: prints what is wrong and returns 0 or 1, like `nginx -t`.
    public static func checkConfig(path: String) -> Int32 {
        do {
            let config = try ConfigLoader.load(path: path)
            _ = try NoticeTemplates.load(for: config)
            print("\(config.file): configuration and templates are valid")
            return 0
        } catch {
            printError(error.description)
            return 1
        }
    }

    /// `touchpointd --restore BACKUP`: puts a backup in place of the state
    /// database, with touchpointd stopped (it holds the state lock while it
    /// runs, so a running one is refused). Dispatch starts paused; the old
    /// database is kept beside it. Exit 0 or 1.
    public static func restore(configPath: String, backup: String) -> Int32 {
        do {
            let config = try ConfigLoader.load(path: configPath)
            let lock: StateLock
            do {
                lock = try StateLock(stateDir: config.stateDir)
            } catch {
                printError("\(error): stop it first (systemctl stop touchpointd.socket touchpointd.service)")
                return 1
            }
            defer { _ = lock }
            let r = try Store.restore(backup: backup, to: config.databasePath, stamp: config.clock.fileStamp(Date()))
            print("restored \(backup): the state as of queue line \(r.queueLine); touchpointd reads on from there when it starts")
            if let kept = r.keptAs { print("the database it replaced is kept as \(kept)") }
            print("dispatch is paused: notices sent since the backup are due again; check touchpointctl jobs --state due, then touchpointctl resume")
            return 0
        } catch {
            printError("\(error)")
            return 1
        }
    }

    static func printError(_ text: String) {
        for line in text.split(separator: "\n") {
            FileHandle.standardError.write(Data("touchpointd: \(line)\n".utf8))
        }
    }

    /// A start-up failure: one line on standard error for the admin at the
    /// terminal, and an entry in the journal when there is one.
    static func fail(_ error: Error, _ logger: Logger, _ destination: LogDestination) -> Int32 {
        if case .journal = destination {
            logger.critical("cannot start: \(error)", metadata: ["MESSAGE_ID": "\(MessageID.stateError)"])
        }
        printError("\(error)")
        return 1
    }

    /// Runs until SIGTERM or SIGINT; returns the exit status.
    public static func run(_ options: DaemonOptions) async -> Int32 {
        // The daemon's threads mostly wait.
        Heap.limitArenas()
        Heap.returnLargeBlocksPromptly()
        let startup = BlockingLane(name: "startup")
        defer { startup.shutdown() }
        let loaded = try? await startup.run { () -> Result<(TouchpointConfig, NoticeTemplates), ConfigError> in
            do throws(ConfigError) {
                let config = try ConfigLoader.load(path: options.configPath)
                return .success((config, try NoticeTemplates.load(for: config)))
            } catch {
                return .failure(error)
            }
        }
        guard case .success(let (config, templates))? = loaded else {
            if case .failure(let e)? = loaded { printError(e.description) }
            return 1
        }
        let destination = logDestination(options.logTarget ?? config.logTarget)
        let level = options.logLevel ?? config.logLevel
        LoggingSystem.bootstrap { _ in
            var h = JournalLogHandler(identifier: "touchpointd", destination: destination)
            h.logLevel = level.swiftLogLevel
            return h
        }
        let logger = Logger(label: "touchpointd")
        prepareProcess()
        let status: Int32
        do {
            status = try await serve(config, templates, logger: logger, startup: startup)
        } catch {
            status = fail(error, logger, destination)
        }
        // The last entries ("stopped") may still be on their way to journald.
        await JournalLogHandler.flushed()
        return status
    }

    static func logDestination(_ target: TouchpointConfig.LogTarget) -> LogDestination {
        switch target {
        case .auto: return LogDestination.detect()
        case .journal: return .journal
        case .stderr: return LogDestination.standardError()
        }
    }

    /// Outbox files are read by the transport's group; nothing is
    /// world-readable. Room for the control connections (up to 1,000)
    /// besides the daemon's own files.
    static func prepareProcess() {
        umask(0o027)
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < min(limit.rlim_max, 4096) {
            limit.rlim_cur = min(limit.rlim_max, 4096)
            setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }
    }

    /// Opens the state, starts every service and runs until a stop signal.
    static func serve(_ config: TouchpointConfig, _ templates: NoticeTemplates, logger: Logger, startup: BlockingLane) async throws -> Int32 {
        let lock = try await startup.run { try StateLock(stateDir: config.stateDir) }
        defer { withExtendedLifetime(lock) {} }
        let store = try await Store.open(path: config.databasePath) { pending in
            logger.notice("upgrading the database \(config.databasePath): \(pending.joined(separator: "; ")); on a large state this takes a while, and an interrupted upgrade is run again at the next start",
                          metadata: ["MESSAGE_ID": "\(MessageID.schemaUpgrade)"])
        }
        let c = config.control
        let missing = try await startup.run { [c.adminGroup, c.staffGroup].filter { UnixAccounts.gid(of: $0) == nil } }
        for group in missing {
            logger.warning("group \(group) does not exist: that role has no members but root until it is created")
        }
        let timer = try WakeTimer(name: "engine")
        let (core, engine) = try await Touchpoint.open(store: store, config: config, templates: templates, logger: logger,
                                                       wakeEngine: { timer.poke() })
        let group = try services(core, engine, timer: timer, logger: logger)
        logger.info("touchpointd \(TouchpointVersion.string) starting (config \(config.file), state \(config.stateDir))",
                    metadata: ["MESSAGE_ID": "\(MessageID.started)"])
        var status: Int32 = 0
        do {
            try await runUntilStopped(group.services, deadline: group.deadline, logger: logger)
        } catch {
            status = fail(error, logger, .detect())
        }
        ServiceNotifier.notify("STOPPING=1")
        engine.stop()
        group.watcher.stop()
        await store.close()
        // Kept until the process exits (see `Store.close`).
        _ = Unmanaged.passRetained(store)
        logger.info("touchpointd stopped", metadata: ["MESSAGE_ID": "\(MessageID.stopped)"])
        return status
    }

    /// Runs the services until they stop; if they have not stopped within
    /// `ShutdownDeadline.grace` of a stop signal, cancels them.
    static func runUntilStopped(_ services: ServiceGroup, deadline: ShutdownDeadline, logger: Logger) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { tasks in
            tasks.addTask { try await services.run(); return true }
            tasks.addTask { try await deadline.passed(); return false }
            let stopped = try await tasks.next()
            tasks.cancelAll()
            if stopped == false {
                logger.warning("the services did not stop within \(ShutdownDeadline.grace) of the stop signal: cancelling them")
            }
        }
    }

    /// The task tree: the control socket, ingest, the engine, dispatch and
    /// signals, each a service of one group that owns the order of shutdown.
    static func services(_ core: Touchpoint, _ engine: Engine, timer: WakeTimer, logger: Logger) throws -> (services: ServiceGroup, watcher: QueueWatcher, deadline: ShutdownDeadline) {
        let config = core.config
        let watcher = try QueueWatcher(path: config.queueFile)
        let signals = try SignalWatcher(Self.signals)
        let reload: @Sendable (Person) async throws(CoreFailure) -> Void = { person throws(CoreFailure) in
            var ts = timespec()
            clock_gettime(CLOCK_MONOTONIC, &ts)
            ServiceNotifier.notify("RELOADING=1\nMONOTONIC_USEC=\(UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000)")
            defer { ServiceNotifier.notify("READY=1") }
            try await core.reload(by: person)
        }
        let readiness = Readiness(engine: engine, logger: logger)
        let control = ControlServer(
            socketPath: config.control.socket, staffGroup: config.control.staffGroup,
            requests: ControlRequests(core: core, reload: reload),
            idleTimeout: .nanoseconds(Int64(config.control.idleTimeout.seconds * 1e9)), logger: logger,
            ready: { await readiness.mark(.socket) })
        let ingest = IngestService(engine: engine, watcher: watcher, timer: timer, logger: logger, caughtUp: { await readiness.mark(.caughtUp) })
        let doorbell = Doorbell()
        let engineService = EngineService(engine: engine, timer: timer, export: CallListExport(core: core, engine: engine, logger: logger),
                                          logger: logger, doorbell: doorbell)
        let (notify, receiptsDoorbell) = (NotifyClients(), Doorbell())
        let dispatch = DispatchService(engine: engine, engineTimer: timer, logger: logger, doorbell: doorbell, notify: notify, receipts: receiptsDoorbell)
        let receipts = ReceiptService(engine: engine, notify: notify, doorbell: receiptsDoorbell, logger: logger)
        let deadline = ShutdownDeadline()
        let signalService = SignalService(signals: signals, logger: logger, deadline: deadline,
                                          reload: { try? await reload(Person.daemon("SIGHUP")) })
        func entry(_ s: any Service) -> ServiceGroupConfiguration.ServiceConfiguration {
            .init(service: s, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup)
        }
        var groupConfig = ServiceGroupConfiguration(
            services: [entry(signalService), entry(control), entry(ingest), entry(engineService), entry(dispatch), entry(receipts)], logger: logger)
        // The group's own timeout waits with Task.sleep (libdispatch): the
        // deadline is `ShutdownDeadline`'s, armed by the stop signal.
        groupConfig.maximumGracefulShutdownDuration = nil
        return (ServiceGroup(configuration: groupConfig), watcher, deadline)
    }
}

/// One daemon per state directory: an flock on `state_dir/touchpointd.lock`,
/// released by the kernel however the process ends (kill -9 included).
final class StateLock: Sendable {
    let fd: Int32

    init(stateDir: String) throws(StartupError) {
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: stateDir, isDirectory: &isDir) {
            do {
                try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw StartupError("state_dir \(stateDir): cannot create it: \(String(cString: strerror(errno))) (create it, owned by the service user)")
            }
        }
        let path = (stateDir as NSString).appendingPathComponent("touchpointd.lock")
        let f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard f >= 0 else {
            throw StartupError("state_dir \(stateDir): cannot write there: \(String(cString: strerror(errno))) (it must be writable by the service user)")
        }
        guard flock(f, LOCK_EX | LOCK_NB) == 0 else {
            var buf = [UInt8](repeating: 0, count: 32)
            let n = read(f, &buf, 31)
            let pid = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            close(f)
            throw StartupError("another touchpointd (pid \(pid)) is running on state_dir \(stateDir)")
        }
        ftruncate(f, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pwrite(f, pid, pid.count, 0)
        fd = f
    }

    deinit { close(fd) }
}

/// READY=1 once the socket is up and the queue has been read to its end.
actor Readiness {
    enum Step: Sendable { case socket, caughtUp }
    private var steps: Set<Int> = []
    let engine: Engine
    let logger: Logger

    init(engine: Engine, logger: Logger) {
        self.engine = engine
        self.logger = logger
    }

    func mark(_ step: Step) async {
        steps.insert(step == .socket ? 0 : 1)
        guard steps.count == 2 else { return }
        steps.insert(2)  // once
        ServiceNotifier.notify("READY=1\nSTATUS=\(await engine.readyLine())")
        logger.info("ready")
    }
}
