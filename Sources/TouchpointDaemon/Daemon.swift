import CLinux
import Foundation
import Logging
import ServiceLifecycle
import TouchpointConfig
import TouchpointDispatch
import TouchpointDomain
import TouchpointStore
import TouchpointSystemd
import UnixSignals

#if canImport(Glibc)
import Glibc
#endif

/// What `touchpointd` was asked to do on its command line.
public struct DaemonOptions: Sendable {
    public var configPath: String
    public var logLevel: TouchpointConfig.LogLevel?

    public init(configPath: String, logLevel: TouchpointConfig.LogLevel? = nil) {
        self.configPath = configPath
        self.logLevel = logLevel
    }
}

/// The daemon's entry points. `main` parses arguments and calls one of these.
public enum Daemon {
    /// `touchpointd --check-config`: prints what is wrong and returns 0 or 1, like `nginx -t`.
    public static func checkConfig(path: String) -> Int32 {
        do {
            let config = try ConfigLoader.load(path: path)
            _ = try NoticeTemplates.load(directory: config.templatesDir, configFile: config.file)
            print("\(config.file): configuration and templates are valid")
            return 0
        } catch {
            printError(error.description)
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
        // Two malloc arenas, not glibc's eight per core: the daemon's threads
        // mostly wait, and every arena keeps its own free pages resident.
        mallopt(M_ARENA_MAX, 2)
        let config: TouchpointConfig
        let templates: NoticeTemplates
        do {
            config = try ConfigLoader.load(path: options.configPath)
            templates = try NoticeTemplates.load(directory: config.templatesDir, configFile: config.file)
        } catch {
            printError(error.description)
            return 1
        }
        let level = options.logLevel ?? config.logLevel
        let destination = LogDestination.detect()
        LoggingSystem.bootstrap { _ in
            var h = JournalLogHandler(identifier: "touchpointd", destination: destination)
            h.logLevel = level.swiftLogLevel
            return h
        }
        let logger = Logger(label: "touchpointd")
        // Outbox files are read by the transport's group; nothing is world-readable.
        umask(0o027)
        // Room for the control connections (up to 1,000) besides the daemon's own files.
        var limit = rlimit()
        if getrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit) == 0, limit.rlim_cur < min(limit.rlim_max, 4096) {
            limit.rlim_cur = min(limit.rlim_max, 4096)
            setrlimit(__rlimit_resource_t(RLIMIT_NOFILE.rawValue), &limit)
        }

        let lock: StateLock
        let store: Store
        do {
            lock = try StateLock(stateDir: config.stateDir)
            store = try Store(path: config.databasePath)
        } catch {
            return fail(error, logger, destination)
        }
        defer { withExtendedLifetime(lock) {} }

        for group in [config.control.adminGroup, config.control.staffGroup] where Authorizer.gid(of: group) == nil {
            logger.warning("group \(group) does not exist: that role has no members but root until it is created")
        }

        let runtime = RuntimeState(config: config, templates: templates)
        let reader: QueueReader
        let watcher: QueueWatcher
        let timer: WakeTimer
        do {
            reader = try QueueReader(path: config.queueFile, clock: config.clock, store: store, logger: logger,
                                     rules: { runtime.config.schedulingRules })
            watcher = try QueueWatcher(path: config.queueFile, logger: logger)
            timer = try WakeTimer()
        } catch {
            return fail(error, logger, destination)
        }

        let reload = ReloadService(runtime: runtime, reader: reader, store: store, timer: timer, logger: logger)
        let handler = CommandHandler(store: store, reader: reader, runtime: runtime, timer: timer, logger: logger,
                                     reload: { reload.reload(actor: $0) })
        let readiness = Readiness(handler: handler)
        let control = ControlServer(
            socketPath: config.control.socket, staffGroup: config.control.staffGroup, handler: handler,
            authorizer: { Authorizer(adminGroup: runtime.config.control.adminGroup, staffGroup: runtime.config.control.staffGroup) },
            logger: logger, ready: { readiness.mark(.socket) })
        let ingest = IngestService(reader: reader, watcher: watcher, timer: timer, logger: logger, caughtUp: { readiness.mark(.caughtUp) },
                                   releaseMemory: { _ = try? await offload(on: WorkQueue.engine) { store.releaseMemory() } })
        let doorbell = DispatchService.Doorbell()
        let scheduler = SchedulerService(store: store, runtime: runtime, timer: timer, logger: logger, doorbell: doorbell)
        let dispatch = DispatchService(store: store, runtime: runtime, engine: timer, logger: logger, doorbell: doorbell)

        var groupConfig = ServiceGroupConfiguration(
            services: [
                .init(service: control, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: ingest, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: reload, successTerminationBehavior: .ignore, failureTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: scheduler, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
                .init(service: dispatch, successTerminationBehavior: .gracefullyShutdownGroup, failureTerminationBehavior: .gracefullyShutdownGroup),
            ],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger)
        // Below the unit's TimeoutStopSec (30s): past it, cancel rather than be killed.
        groupConfig.maximumGracefulShutdownDuration = .seconds(10)
        let group = ServiceGroup(configuration: groupConfig)
        logger.info("touchpointd \(TouchpointVersion.string) starting (config \(config.file), state \(config.stateDir))",
                    metadata: ["MESSAGE_ID": "\(MessageID.started)"])
        var status: Int32 = 0
        do {
            try await group.run()
        } catch {
            status = fail(error, logger, destination)
        }
        ServiceNotifier.notify("STOPPING=1")
        reader.stop()
        watcher.stop()
        logger.info("touchpointd stopped", metadata: ["MESSAGE_ID": "\(MessageID.stopped)"])
        return status
    }
}

extension TouchpointConfig.LogLevel {
    var swiftLogLevel: Logger.Level {
        switch self {
        case .trace: return .trace
        case .debug: return .debug
        case .info: return .info
        case .notice: return .notice
        case .warning: return .warning
        case .error: return .error
        case .critical: return .critical
        }
    }
}

/// One daemon per state directory: an flock on `state_dir/touchpointd.lock`,
/// released by the kernel however the process ends (kill -9 included).
final class StateLock: Sendable {
    let fd: Int32

    init(stateDir: String) throws {
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: stateDir, isDirectory: &isDir) {
            do {
                try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw StoreError("state_dir \(stateDir): cannot create it: \(String(cString: strerror(errno))) (create it, owned by the service user)")
            }
        }
        let path = (stateDir as NSString).appendingPathComponent("touchpointd.lock")
        let f = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard f >= 0 else {
            throw StoreError("state_dir \(stateDir): cannot write there: \(String(cString: strerror(errno))) (it must be writable by the service user)")
        }
        guard flock(f, LOCK_EX | LOCK_NB) == 0 else {
            var buf = [UInt8](repeating: 0, count: 32)
            let n = read(f, &buf, 31)
            let pid = n > 0 ? String(decoding: buf[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            close(f)
            throw StoreError("another touchpointd (pid \(pid)) is running on state_dir \(stateDir)")
        }
        ftruncate(f, 0)
        let pid = Array("\(getpid())\n".utf8)
        _ = pwrite(f, pid, pid.count, 0)
        fd = f
    }

    deinit { close(fd) }
}

/// READY=1 once the socket is up and the queue has been read to its end.
final class Readiness: Sendable {
    enum Step: Sendable { case socket, caughtUp }
    private let steps = Synchronization.Mutex<Set<Int>>([])
    let handler: CommandHandler

    init(handler: CommandHandler) { self.handler = handler }

    func mark(_ step: Step) {
        let done = steps.withLock { s -> Bool in
            s.insert(step == .socket ? 0 : 1)
            return s.count == 2
        }
        if done {
            let summary = (try? handler.store.queueTotals()).map {
                "STATUS=\($0.counts.ingested) events applied, \($0.counts.rejected) rejected"
            } ?? "STATUS=running"
            ServiceNotifier.notify("READY=1\n\(summary)")
            handler.logger.info("ready")
        }
    }
}

import Synchronization

/// Reads the queue at start, then each time the kernel says it changed.
struct IngestService: Service {
    let reader: QueueReader
    let watcher: QueueWatcher
    let timer: WakeTimer
    let logger: Logger
    let caughtUp: @Sendable () -> Void
    /// Gives back the memory a bulk read filled (off the concurrency threads).
    let releaseMemory: @Sendable () async -> Void

    /// The wait before reading again after lines could not be committed (a
    /// full disk, a locked database): 1 s, doubling up to 30 s.
    static let retry = RetryPolicy(initial: 1, maximum: 30, maxAge: .infinity)
    /// A read this large was a catch-up or a backlog: give its memory back.
    static let bulk = 10_000

    func run() async throws {
        await withDiscardingTaskGroup { retries in
            var failures = 0
            /// Whether it was a bulk read. New or changed jobs may be due sooner
            /// than the engine's timer: it is poked to look. Lines that could not
            /// be committed stay in the file and are read again after a while,
            /// even if the file does not change again (space coming back on a
            /// full disk is no file event).
            func read(_ result: Result<(IngestCounts, QueuePosition), StoreError>) -> Bool {
                switch result {
                case .success(let (counts, _)):
                    failures = 0
                    if counts.changedJobs { timer.poke() }
                    return counts.ingested + counts.duplicates + counts.rejected >= Self.bulk
                case .failure:
                    failures += 1
                    let wait = Duration.seconds(Self.retry.delay(afterAttempts: failures, jitter: 0))
                    retries.addTask { [watcher] in
                        if (try? await Task.sleep(for: wait)) != nil { watcher.poke() }
                    }
                    return false
                }
            }
            _ = read(await reader.readAvailable())
            await releaseMemory()
            caughtUp()
            timer.poke()  // the engine's first run, on the state as read
            for await _ in watcher.changes.cancelOnGracefulShutdown() {
                if read(await reader.readAvailable()) { await releaseMemory() }
            }
            retries.cancelAll()
        }
        reader.stop()
    }
}

/// SIGHUP: re-reads the config; an invalid one is refused and the old one kept.
struct ReloadService: Service {
    let runtime: RuntimeState
    let reader: QueueReader
    let store: Store
    let timer: WakeTimer
    let logger: Logger

    func run() async throws {
        let signals = await UnixSignalsSequence(trapping: .sighup)
        for await _ in signals.cancelOnGracefulShutdown() {
            _ = reload(actor: "SIGHUP")
        }
    }

    /// Applies a new config if it is valid; returns the problems otherwise.
    func reload(actor: String) -> ConfigError? {
        let old = runtime.config
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        ServiceNotifier.notify("RELOADING=1\nMONOTONIC_USEC=\(UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000)")
        defer { ServiceNotifier.notify("READY=1") }
        do {
            var new = try ConfigLoader.load(path: old.file)
            let templates = try NoticeTemplates.load(directory: new.templatesDir, configFile: new.file)
            // These are bound at start; keep the running values and say so.
            for (key, was, now) in [("state_dir", old.stateDir, new.stateDir), ("control.socket", old.control.socket, new.control.socket)] where was != now {
                logger.warning("config reload: \(key) changed from \(was) to \(now); that takes effect only on restart")
            }
            new.stateDir = old.stateDir
            new.control.socket = old.control.socket
            runtime.replace(new, templates)
            reader.reconfigure(path: new.queueFile, clock: new.clock)
            // Changed rules re-plan the jobs not yet due; jobs already done never change.
            if new.schedulingRules != old.schedulingRules {
                do {
                    let changed = try store.replan(rules: new.schedulingRules, now: Date())
                    logger.notice("config reload re-planned \(changed.count) job(s) not yet due")
                } catch {
                    logger.error("config reload could not re-plan jobs: \(error)", metadata: ["MESSAGE_ID": "\(MessageID.stateError)"])
                }
            }
            timer.poke()
            try? store.audit(actor: actor, action: "reload", detail: "config \(new.file)")
            logger.notice("configuration reloaded from \(new.file)", metadata: ["MESSAGE_ID": "\(MessageID.configReloaded)"])
            return nil
        } catch {
            logger.error("configuration reload refused, keeping the running one: \(error.description.replacingOccurrences(of: "\n", with: "; "))",
                         metadata: ["MESSAGE_ID": "\(MessageID.configRefused)"])
            return error
        }
    }
}
