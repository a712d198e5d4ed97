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
    public static var ctlPath: String { binDir + "/touchpointctl" }

    /// A fresh directory with a config; `extraConfig` is appended (later sections override nothing: keep keys unique).
    public init(extraConfig: String = "", topLevel: String = "", hospital: Bool = true) throws {
        var template = "/tmp/tp-XXXXXX".utf8CString
        guard let p = template.withUnsafeMutableBufferPointer({ mkdtemp($0.baseAddress!) }) else {
            throw HarnessError("mkdtemp failed")
        }
        dir = String(cString: p)
        chmod(dir, 0o755)
        try FileManager.default.createDirectory(atPath: dir + "/spool", withIntermediateDirectories: true)
        try writeConfig(Self.config(dir: dir, topLevel: topLevel, extra: extraConfig, hospital: hospital))
        guard FileManager.default.isExecutableFile(atPath: Self.daemonPath) else {
            throw HarnessError("no touchpointd at \(Self.daemonPath): run `swift build --build-tests` first, or set TOUCHPOINT_BIN_DIR")
        }
    }

    public static func config(dir: String, topLevel: String = "", extra: String = "", hospital: Bool = true) -> String {
        var s = """
            time_zone = "Europe/London"
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
    public func start(waitReady: Bool = true, timeout: TimeInterval = 120, user: String? = nil,
                      arguments: [String] = [], environment: [String: String] = [:]) throws {
        notify = nil  // the old listener removes its socket file when it goes
        let listener = try NotifyListener(path: notifyPath)
        notify = listener
        let p = Process()
        var args = ["--config", configPath] + arguments
        if let user, getuid() == 0 {
            p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
            args = ["--reuid=\(user)", "--regid=\(user == "nobody" ? "nogroup" : user)", "--clear-groups", "--", Self.daemonPath] + args
            chmod(notifyPath, 0o777)
        } else {
            p.executableURL = URL(fileURLWithPath: Self.daemonPath)
        }
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["NOTIFY_SOCKET"] = notifyPath
        env["TOUCHPOINT_LOG"] = env["TOUCHPOINT_TEST_JOURNAL"] == nil ? "stderr" : nil
        for (k, v) in environment { env[k] = v }
        p.environment = env
        _ = FileManager.default.createFile(atPath: stderrFile, contents: nil)
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrFile))
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        process = p
        if waitReady {
            guard listener.wait(for: "READY=1", timeout: timeout) != nil else {
                throw HarnessError("touchpointd did not become ready in \(timeout)s; stderr:\n\(daemonStderr)")
            }
        }
    }

    /// Runs the daemon binary to completion (for --check-config and start-up failures).
    public func runDaemonToExit(_ arguments: [String], timeout: TimeInterval = 60) throws -> CommandResult {
        try Self.run(Self.daemonPath, arguments, environment: ["TOUCHPOINT_LOG": "stderr"], timeout: timeout)
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
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        p.environment = env
        let out = Pipe()
        let err = Pipe()
        p.standardOutput = out
        p.standardError = err
        p.standardInput = FileHandle.nullDevice
        try p.run()
        // Read both pipes fully before waiting, so a large output cannot block the child.
        let outData = LockedData()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async {
            outData.set(out.fileHandleForReading.readDataToEndOfFile())
            group.leave()
        }
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        if group.wait(timeout: .now() + timeout) == .timedOut {
            p.terminate()
            throw HarnessError("\(path) \(args) did not finish in \(timeout)s")
        }
        p.waitUntilExit()
        return CommandResult(status: p.terminationStatus, stdout: String(decoding: outData.get(), as: UTF8.self),
                             stderr: String(decoding: errData, as: UTF8.self))
    }
}

final class LockedData: @unchecked Sendable {
    // @unchecked: `data` is only read or written under `lock`.
    private let lock = NSLock()
    private var data = Data()
    func set(_ d: Data) { lock.withLock { data = d } }
    func get() -> Data { lock.withLock { data } }
}
