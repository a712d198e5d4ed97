import Foundation
import TouchpointConfig
import TouchpointDomain
import TouchpointLinux

#if canImport(Glibc)
import Glibc
#endif

/// Hands a message to whatever carries it to the patient.
public protocol NoticeTransport: Sendable {
    /// `uncertain`: an earlier attempt may have been taken without an answer
    /// (a crash, a timeout); a transport that can ask first does.
    func deliver(_ message: NoticeMessage, uncertain: Bool) async -> DeliveryResult
    /// Whether an attempt can end without knowing if the notice was taken:
    /// such a notice is marked before it goes, so the next attempt asks first.
    var mayTakeWithoutAnswer: Bool { get }
}

/// A transport whose `deliver` blocks (a file written, a program run): the
/// daemon runs it on a lane of its own.
public protocol BlockingNoticeTransport: Sendable {
    func deliver(_ message: NoticeMessage) -> DeliveryResult
}

/// A blocking transport on its lane.
struct OnLane<T: BlockingNoticeTransport>: NoticeTransport {
    let lane: BlockingLane
    let transport: T
    var mayTakeWithoutAnswer: Bool { false }

    func deliver(_ message: NoticeMessage, uncertain: Bool) async -> DeliveryResult {
        do {
            return try await lane.run { transport.deliver(message) }
        } catch {
            return .retry("stopping")
        }
    }
}

extension NotifyClient: NoticeTransport {
    public func deliver(_ message: NoticeMessage, uncertain: Bool) async -> DeliveryResult {
        await send(message, uncertain: uncertain)
    }

    public var mayTakeWithoutAnswer: Bool { true }
}

/// The transport a config names. A new transport is a type here and a case
/// of `transport.kind`; nothing outside Dispatch changes.
public enum Transports {
    /// `lane` runs the blocking transports; `notify` is the Notify client
    /// for the config in force (`NotifyClients`).
    public static func make(_ config: TouchpointConfig.Transport, lane: BlockingLane, notify: NotifyClients) async -> NoticeTransport {
        switch config.kind {
        case .outbox: return OnLane(lane: lane, transport: OutboxTransport(directory: config.outboxDir))
        case .command: return OnLane(lane: lane, transport: CommandTransport(argv: config.command, timeout: config.timeout.seconds))
        case .notify: return await notify.client(for: config.notify)
        }
    }

    /// Removes what a crash in the middle of an outbox write left behind: the
    /// message is written again under the same name, so the leftover can go.
    public static func clearLeftovers(_ config: TouchpointConfig.Transport) {
        guard config.kind == .outbox, let names = try? FileManager.default.contentsOfDirectory(atPath: config.outboxDir) else { return }
        for n in names where n.hasPrefix(".") && n.hasSuffix(".json.tmp") {
            try? FileManager.default.removeItem(atPath: config.outboxDir + "/" + n)
        }
    }
}

/// Writes `<message_id>.json` into a directory: temporary name, fsync, rename,
/// fsync the directory. A redelivery overwrites the same name, so the outbox
/// sees each message exactly once.
public struct OutboxTransport: BlockingNoticeTransport {
    public let directory: String

    public init(directory: String) { self.directory = directory }

    public func deliver(_ message: NoticeMessage) -> DeliveryResult {
        Blocking.check()
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDir) {
            do {
                try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
            } catch {
                return .retry("cannot create the outbox \(directory): \(error)")
            }
        }
        do {
            try AtomicFile.write(message.json(), to: "\(directory)/\(message.messageID).json", mode: 0o640,
                                 temporaryName: ".\(message.messageID).json.tmp")
            return .sent
        } catch {
            return .retry(error.description)
        }
    }
}

/// Runs the configured program (no shell) with the message JSON on standard
/// input and TOUCHPOINT_MESSAGE_ID in its environment; kills it at the timeout.
/// Exit 0: sent; 75 (EX_TEMPFAIL) or a timeout: retry; anything else: failed.
public struct CommandTransport: BlockingNoticeTransport {
    public let argv: [String]
    public let timeout: TimeInterval

    public init(argv: [String], timeout: TimeInterval) {
        self.argv = argv
        self.timeout = timeout
    }

    public func deliver(_ message: NoticeMessage) -> DeliveryResult {
        Blocking.check()
        var inPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        guard pipe(&inPipe) == 0, pipe(&errPipe) == 0 else { return .retry("pipe: \(String(cString: strerror(errno)))") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, inPipe[0], 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)
        posix_spawn_file_actions_addclose(&actions, inPipe[1])
        posix_spawn_file_actions_addclose(&actions, errPipe[0])
        var attr = posix_spawnattr_t()
        posix_spawnattr_init(&attr)
        defer { posix_spawnattr_destroy(&attr) }
        // Its own process group, so a timeout kills whatever it started too.
        posix_spawnattr_setflags(&attr, Int16(POSIX_SPAWN_SETPGROUP))
        posix_spawnattr_setpgroup(&attr, 0)
        attr.unblockAllSignals()
        var env = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LISTEN_") && $0.key != "NOTIFY_SOCKET" && !$0.key.hasPrefix("WATCHDOG_") }
        env["TOUCHPOINT_MESSAGE_ID"] = message.messageID
        let cArgv: [UnsafeMutablePointer<CChar>?] = argv.map { strdup($0) } + [nil]
        let cEnv: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (cArgv + cEnv).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, argv[0], &actions, &attr, cArgv, cEnv)
        close(inPipe[0])
        close(errPipe[1])
        if rc != 0 {
            close(inPipe[1])
            close(errPipe[0])
            // The program gone or broken is the admin's to fix, not this
            // notice's fault: retried, so it goes once the program is back.
            return .retry("cannot run \(argv[0]): \(String(cString: strerror(rc)))")
        }
        // The message on standard input (a program that does not read it just gets EPIPE here).
        let json = [UInt8](message.json())
        signal(SIGPIPE, SIG_IGN)
        _ = json.withUnsafeBytes { write(inPipe[1], $0.baseAddress, $0.count) }
        close(inPipe[1])
        _ = fcntl(errPipe[0], F_SETFL, O_NONBLOCK)
        var stderrText = [UInt8]()
        var buf = [UInt8](repeating: 0, count: 4096)
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        var timedOut = false
        while true {
            let n = read(errPipe[0], &buf, buf.count)
            if n > 0 && stderrText.count < 2048 { stderrText += buf[0..<min(n, 2048 - stderrText.count)] }
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if Date() > deadline {
                kill(-pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                timedOut = true
                break
            }
            var pfd = pollfd(fd: errPipe[0], events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 10)
        }
        while true {
            let n = read(errPipe[0], &buf, buf.count)
            if n <= 0 { break }
            if stderrText.count < 2048 { stderrText += buf[0..<min(n, 2048 - stderrText.count)] }
        }
        close(errPipe[0])
        let err = String(decoding: stderrText, as: UTF8.self)
        if timedOut { return .retry("killed after the \(Int(timeout))s timeout" + (err.isEmpty ? "" : "; stderr: \(err)")) }
        let exited = (status & 0x7F) == 0
        let code = (status >> 8) & 0xFF
        if exited && code == 0 { return .sent }
        if exited && code == 75 { return .retry("exit 75 (try again later)" + (err.isEmpty ? "" : "; stderr: \(err)")) }
        return .failed((exited ? "exit \(code)" : "killed by signal \(status & 0x7F)") + (err.isEmpty ? "" : "; stderr: \(err)"))
    }
}

/// The Notify client for the configuration in force, shared by dispatch and
/// the receipt poller: made when first needed, made anew (the old one closed)
/// when a reload changes `[transport.notify]`, closed at shutdown.
public actor NotifyClients {
    var current: NotifyClient?

    public init() {}

    public func client(for config: TouchpointConfig.Notify) async -> NotifyClient {
        if let c = current, c.config == config { return c }
        let old = current
        let made = NotifyClient(config)
        current = made
        await old?.shutdown()
        return made
    }

    public func shutdown() async {
        await current?.shutdown()
        current = nil
    }
}
