import Foundation
import TouchpointControl

#if canImport(Glibc)
import Glibc
#endif

/// What a finished command printed and how it exited.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Starts the real `touchpointd` on a fresh temp directory and drives it
/// through the real `touchpointctl`, as an admin would.
public final class DaemonHarness: @unchecked Sendable {
    // @unchecked: a harness belongs to one test; its mutable state (the
    // process) is only touched from that test's task.
    public let dir: String
    /// The hospital clock of this test's scenario: a zone where it is late
    /// morning now (see `ScenarioTime`). Build every time from it.
    public let time: ScenarioTime
    public var configPath: String { dir + "/touchpoint.toml" }
    public var queuePath: String { dir + "/spool/queue.jsonl" }
    public var socketPath: String { dir + "/control.sock" }
    public var stateDir: String { dir + "/state" }
    public var databasePath: String { stateDir + "/touchpoint.sqlite" }
    public var notifyPath: String { dir + "/notify.sock" }
    public private(set) var process: Process?
    public private(set) var notify: NotifyListener?
    private var stderrFile: String { dir + "/daemon.stderr" }

    /// The directory holding the built `touchpointd` and `touchpointctl`.
    public static let binDir: String = {
        if let d = ProcessInfo.processInfo.environment["TOUCHPOINT_BIN_DIR"] { return d }
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0]
        return (exe as NSString).deletingLastPathComponent
    }()

    public static var daemonPath: String { binDir + "/touchpointd" }

    /// The repository this harness was built from.
    public static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
        .appendingPathComponent("../..").standardized.path
    /// `TOUCHPOINT_CTL` names another build of it (the benchmark's static one).
    public static var ctlPath: String { ProcessInfo.processInfo.environment["TOUCHPOINT_CTL"] ?? binDir + "/touchpointctl" }

    /// A fresh directory with a config; `extraConfig` is appended (later sections override nothing: keep keys unique).
    public init(extraConfig: String = "", topLevel: String = "", hospital: Bool = true, time: ScenarioTime = ScenarioTime()) throws {
        self.time = time
        var template = "/tmp/tp-XXXXXX".utf8CString
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw HarnessError("mkdtemp failed")
        }
        dir = String(cString: p)
        chmod(dir, 0o755)
        try FileManager.default.createDirectory(atPath: dir + "/spool", withIntermediateDirectories: true)
        // The repository's notice templates (seeds/templates), as a real install has them.
        try FileManager.default.copyItem(atPath: Self.repoRoot + "/seeds/templates", toPath: dir + "/templates")
        try writeConfig(config(topLevel: topLevel, extra: extraConfig, hospital: hospital))
        guard FileManager.default.isExecutableFile(atPath: Self.daemonPath) else {
            throw HarnessError("no touchpointd at \(Self.daemonPath): run `swift build --build-tests` first, or set TOUCHPOINT_BIN_DIR")
        }
    }

    /// The test config: paths inside `dir`, this scenario's `time_zone`;
    /// `extra` is appended (keep its keys unique).
    public func config(topLevel: String = "", extra: String = "", hospital: Bool = true) -> String {
        var s = """
            time_zone = "\(time.zoneIdentifier)"
            state_dir = "state"
            queue_file = "spool/queue.jsonl"
            templates_dir = "templates"
            \(topLevel)

            """
        if hospital {
            s += """
                [hospital]
                name = "Test Hospital"
                phone = "01632 960 000"

                """
        }
        s += """
            [control]
            socket = "control.sock"

            [transport]
            outbox_dir = "spool/outbox"

            \(extra)
            """
        return s
    }

    deinit {
        if let p = process, p.isRunning {
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
        }
        if ProcessInfo.processInfo.environment["TOUCHPOINT_KEEP_TEST_DIRS"] == nil {
            try? FileManager.default.removeItem(atPath: dir)
        }
    }

    public func writeConfig(_ text: String) throws {
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
    }

    /// The config as written (its extra sections kept), with `accounts`'
    /// groups for the roles in its `[control]` section.
    public func useGroups(of accounts: TestAccounts) throws {
        let current = (try? String(contentsOfFile: configPath, encoding: .utf8)) ?? config()
        try writeConfig(current.replacingOccurrences(of: "[control]\nsocket = \"control.sock\"", with: accounts.controlSection()))
    }

    /// Appends raw text to the queue file, as a hospital system would.
    public func append(_ text: String) throws {
        if !FileManager.default.fileExists(atPath: queuePath) {
            _ = FileManager.default.createFile(atPath: queuePath, contents: nil, attributes: [.posixPermissions: 0o644])
        }
        let h = try FileHandle(forWritingTo: URL(fileURLWithPath: queuePath))
        try h.seekToEnd()
        try h.write(contentsOf: Data(text.utf8))
        try h.close()
    }

    public func appendLines(_ lines: [String]) throws {
        try append(lines.map { $0 + "\n" }.joined())
    }

    /// Starts the daemon; with `waitReady`, returns once it sent READY=1.
    /// `user` runs it as that user (through setpriv) when the tests run as root.
    /// `launcher` runs the daemon through another program (e.g. `systemd-socket-activate -l PATH`);
    /// `journal` lets it log to the journal instead of standard error.
    public func start(waitReady: Bool = true, timeout: TimeInterval = 120, user: String? = nil,
                      arguments: [String] = [], environment: [String: String] = [:],
                      launcher: [String] = [], journal: Bool = false) throws {
        notify = nil  // the old listener removes its socket file when it goes
        let listener = try NotifyListener(path: notifyPath)
        notify = listener
        let p = Process()
        // Logs to standard error (a file the test reads) unless the test reads the journal.
        var args = ["--config", configPath] + (journal ? [] : ["--log-target", "stderr"]) + arguments
        if let user, getuid() == 0 {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            args = ["--reuid=\(user)", "--regid=\(user == "nobody" ? "nogroup" : user)", "--clear-groups", "--", Self.daemonPath] + args
            chmod(notifyPath, 0o777)
        } else if let first = launcher.first {
            p.executableURL = URL(fileURLWithPath: first)
            args = Array(launcher.dropFirst()) + [Self.daemonPath] + args
        } else {
            p.executableURL = URL(fileURLWithPath: Self.daemonPath)
        }
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["NOTIFY_SOCKET"] = notifyPath
        for (k, v) in environment { env[k] = v }
        p.environment = env
        _ = FileManager.default.createFile(atPath: stderrFile, contents: nil)
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrFile))
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        process = p
        if waitReady {
            try listener.waitReady(of: p, program: "touchpointd", timeout: timeout) { daemonStderr }
        }
    }

    /// Runs the daemon binary to completion (for --check-config and start-up failures).
    public func runDaemonToExit(_ arguments: [String], timeout: TimeInterval = 60) throws -> CommandResult {
        try Self.run(Self.daemonPath, arguments + ["--log-target", "stderr"], timeout: timeout)
    }

    /// What the daemon wrote to standard error so far.
    public var daemonStderr: String {
        (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? ""
    }

    /// SIGTERM, then waits; returns the exit status.
    @discardableResult
    public func stop(timeout: TimeInterval = 30) throws -> Int32 {
        guard let p = process else { return 0 }
        kill(p.processIdentifier, SIGTERM)
        try wait(p, timeout: timeout)
        process = nil
        return p.terminationStatus
    }

    /// kill -9, as a crash would.
    public func crash() throws {
        guard let p = process else { return }
        kill(p.processIdentifier, SIGKILL)
        try wait(p, timeout: 30)
        process = nil
    }

    /// The daemon's process id (the launcher's, which execs the daemon).
    public var pid: Int32? { process?.processIdentifier }

    public func signal(_ sig: Int32) {
        if let p = process { kill(p.processIdentifier, sig) }
    }

    private func wait(_ p: Process, timeout: TimeInterval) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning {
            if Date() > deadline { throw HarnessError("touchpointd did not exit within \(timeout)s") }
            usleep(10_000)
        }
    }

    /// Runs `touchpointctl --socket <ours> args...`.
    public func ctl(_ args: [String], user: String? = nil, environment: [String: String] = [:]) throws -> CommandResult {
        var argv = ["--socket", socketPath] + args
        var exe = Self.ctlPath
        if let user, getuid() == 0 {
            argv = ["--reuid=\(user)", "--regid=\(user)", "--init-groups", "--", Self.ctlPath] + argv
            exe = "/usr/bin/setpriv"
        }
        return try Self.run(exe, argv, environment: environment)
    }

    /// Runs a command and decodes its `--json` output.
    public func ctlJSON<T: Decodable>(_ type: T.Type, _ args: [String]) throws -> T {
        let r = try ctl(args + ["--json"])
        guard r.status == 0 else { throw HarnessError("touchpointctl \(args) exited \(r.status): \(r.stderr)") }
        return try ControlJSON.decoder.decode(T.self, from: Data(r.stdout.utf8))
    }

    public func status() throws -> StatusReport { try ctlJSON(StatusReport.self, ["status"]) }

    /// Polls `condition` (test code only) until it holds or `timeout` passes.
    public func waitUntil(timeout: TimeInterval = 60, _ what: String, _ condition: () throws -> Bool) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while true {
            if (try? condition()) == true { return }
            if Date() > deadline { throw HarnessError("timed out after \(timeout)s waiting for: \(what)") }
            usleep(20_000)
        }
    }

    public static func run(_ path: String, _ args: [String], environment: [String: String] = [:],
                           timeout: TimeInterval = 120) throws -> CommandResult {
        // Output goes to files, not pipes: with tests running in parallel, a
        // process spawned at the same moment can inherit a pipe's write end and
        // hold EOF back; a file needs no EOF, only the child's exit.
        var template = "/tmp/tp-run-XXXXXX".utf8CString
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else { throw HarnessError("mkdtemp failed") }
        let dir = String(cString: p)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        _ = FileManager.default.createFile(atPath: dir + "/out", contents: nil)
        _ = FileManager.default.createFile(atPath: dir + "/err", contents: nil)
        let out = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/out"))
        let err = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/err"))
        defer { try? out.close(); try? err.close() }
        let path = path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
        // posix_spawn and waitpid, not Foundation's Process: its child monitor
        // was seen to leave an exited child unreaped (isRunning stuck at true).
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, out.fileDescriptor, 1)
        posix_spawn_file_actions_adddup2(&actions, err.fileDescriptor, 2)
        let argv: [UnsafeMutablePointer<CChar>?] = ([path] + args).map { strdup($0) } + [nil]
        let envp: [UnsafeMutablePointer<CChar>?] = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { (argv + envp).forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, path, &actions, nil, argv, envp)
        guard rc == 0 else { throw HarnessError("cannot run \(path): \(String(cString: strerror(rc)))") }
        let deadline = Date().addingTimeInterval(timeout)
        var status: Int32 = 0
        while true {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { break }
            if r < 0 && errno != EINTR { throw HarnessError("waitpid: \(String(cString: strerror(errno)))") }
            if Date() > deadline {
                kill(pid, SIGKILL)
                _ = waitpid(pid, &status, 0)
                throw HarnessError("\(path) \(args) did not finish in \(timeout)s")
            }
            usleep(2_000)
        }
        let exitStatus: Int32 = (status & 0x7F) == 0 ? (status >> 8) & 0xFF : 128 + (status & 0x7F)
        return CommandResult(status: exitStatus,
                             stdout: (try? String(contentsOfFile: dir + "/out", encoding: .utf8)) ?? "",
                             stderr: (try? String(contentsOfFile: dir + "/err", encoding: .utf8)) ?? "")
    }
}
