import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Starts the real `touchpoint-web` beside a `DaemonHarness`'s daemon, as
/// the web view's own Unix user (a staff member and a delegate), with its
/// state in the daemon's temp directory. Root only: it makes that user.
public final class WebHarness: @unchecked Sendable {
    // @unchecked: belongs to one test; the process is only touched from its task.
    public let daemon: DaemonHarness
    public let accounts: TestAccounts
    public let port: Int
    public var dir: String { daemon.dir }
    public var configPath: String { dir + "/web.toml" }
    public var stateDir: String { dir + "/web" }
    public var base: String { "http://127.0.0.1:\(port)" }
    private var process: Process?
    private var notify: NotifyListener?
    private var stderrFile: String { dir + "/web.stderr" }

    /// `TOUCHPOINT_WEB` names another build of it (the size-optimised one `scripts/build-web` makes).
    public static var webPath: String { ProcessInfo.processInfo.environment["TOUCHPOINT_WEB"] ?? DaemonHarness.binDir + "/touchpoint-web" }

    /// The daemon's config is rewritten to name `accounts`' groups; `config`
    /// is added to web.toml (keys other than listen, control_socket, state_dir).
    public init(daemon: DaemonHarness, accounts: TestAccounts, config: String = "", listen: String? = nil) throws {
        self.daemon = daemon
        self.accounts = accounts
        port = try Self.freePort()
        try daemon.useGroups(of: accounts)
        try writeConfig(listen: listen ?? "127.0.0.1:\(port)", extra: config)
        try FileManager.default.createDirectory(atPath: stateDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        try TestAccounts.sh("/bin/chown", ["\(accounts.web):\(accounts.web)", stateDir])
    }

    public func writeConfig(listen: String, extra: String = "") throws {
        let text = """
            listen = "\(listen)"
            control_socket = "\(daemon.socketPath)"
            state_dir = "\(stateDir)"
            \(extra)
            """
        try text.write(toFile: configPath, atomically: true, encoding: .utf8)
        chmod(configPath, 0o644)
    }

    /// A TCP port nothing listens on now (the kernel's choice).
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let ok = withUnsafeMutablePointer(to: &addr) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) == 0 && getsockname(fd, $0, &len) == 0 }
        }
        guard ok else { throw HarnessError("no free port") }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// `touchpoint-web user ...` (as root, as an admin runs it).
    public func user(_ args: [String], stdin: String? = nil) throws -> CommandResult {
        if let stdin {
            let input = dir + "/password-input"
            try stdin.write(toFile: input, atomically: true, encoding: .utf8)
            defer { unlink(input) }
            let quoted = ([Self.webPath, "user"] + args + ["--config", configPath]).map { "'\($0)'" }.joined(separator: " ")
            return try DaemonHarness.run("/bin/sh", ["-c", "\(quoted) < '\(input)'"])
        }
        return try DaemonHarness.run(Self.webPath, ["user"] + args + ["--config", configPath])
    }

    /// Adds an account with `password`.
    public func addAccount(_ name: String, password: String, wards: [String] = []) throws {
        let r = try user(["add", name, "--password-stdin"] + wards.flatMap { ["--ward", $0] }, stdin: password + "\n")
        guard r.status == 0 else { throw HarnessError("user add \(name): \(r.stderr)") }
    }

    /// Starts touchpoint-web as its own user; returns once it sent READY=1.
    /// `launcher` runs it through another program (systemd-socket-activate).
    /// Without `waitReady` it returns at once (systemd-socket-activate starts
    /// the program at the first connection).
    /// Waits until something accepts connections on `port` (a launcher such
    /// as systemd-socket-activate, before it starts the web view).
    public func waitListening(timeout: TimeInterval = 10) throws {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            let connected = IPv4.connect(fd, "127.0.0.1", port: UInt16(port))
            close(fd)
            if connected { return }
            Thread.sleep(forTimeInterval: 0.05)
        }
        throw HarnessError("nothing listens on 127.0.0.1:\(port) after \(timeout) s")
    }

    public func start(journal: Bool = false, launcher: [String] = [], waitReady: Bool = true, timeout: TimeInterval = 60) throws {
        let notifyPath = dir + "/web-notify.sock"
        notify = nil
        let listener = try NotifyListener(path: notifyPath)
        chmod(notifyPath, 0o777)
        notify = listener
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        var args = launcher + [Self.webPath, "--config", configPath] + (journal ? [] : ["--log-target", "stderr"])
        args = ["--reuid=\(accounts.web)", "--regid=\(accounts.web)", "--init-groups", "--"] + args
        p.arguments = args
        var env = ProcessInfo.processInfo.environment
        env["NOTIFY_SOCKET"] = notifyPath
        p.environment = env
        _ = FileManager.default.createFile(atPath: stderrFile, contents: nil)
        p.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: stderrFile))
        p.standardOutput = FileHandle.nullDevice
        p.standardInput = FileHandle.nullDevice
        try p.run()
        process = p
        guard waitReady else { return }
        try self.waitReady(timeout: timeout)
    }

    /// Waits for READY=1 from the web view.
    public func waitReady(timeout: TimeInterval = 60) throws {
        guard let notify, let process else { throw HarnessError("touchpoint-web was not started") }
        try notify.waitReady(of: process, program: "touchpoint-web", timeout: timeout) { stderr }
    }

    public var pid: Int32? { process?.processIdentifier }

    public var stderr: String { (try? String(contentsOfFile: stderrFile, encoding: .utf8)) ?? "" }

    /// SIGTERM, then waits; returns the exit status.
    @discardableResult
    public func stop(timeout: TimeInterval = 30) throws -> Int32 {
        guard let p = process else { return 0 }
        kill(p.processIdentifier, SIGTERM)
        let deadline = Date().addingTimeInterval(timeout)
        while p.isRunning {
            if Date() > deadline { throw HarnessError("touchpoint-web did not stop within \(timeout)s") }
            usleep(10_000)
        }
        process = nil
        return p.terminationStatus
    }

    deinit {
        if let p = process, p.isRunning { kill(p.processIdentifier, SIGKILL) }
    }

    /// A browser of our own: curl with a cookie jar of its own.
    public func client(base: String? = nil) -> WebClient { WebClient(base: base ?? self.base, dir: dir) }
}

/// What a page came back as.
public struct WebResponse: Sendable {
    public var status: Int
    /// Header names in lower case.
    public var headers: [String: String]
    public var body: String

    public init(status: Int, headers: [String: String], body: String) {
        self.status = status
        self.headers = headers
        self.body = body
    }

    public func header(_ name: String) -> String? { headers[name.lowercased()] }

    /// The value of a hidden form field (the first with that name).
    public func field(_ name: String) -> String? {
        guard let r = body.range(of: "name=\"\(name)\" value=\"") else { return nil }
        let rest = body[r.upperBound...]
        return rest.firstIndex(of: "\"").map { String(rest[..<$0]) }
    }
}

/// Drives the web view with curl: cookies kept between requests, redirects
/// not followed (the tests look at them).
public final class WebClient: @unchecked Sendable {
    // @unchecked: used by one test at a time; its only state is a file path.
    public let base: String
    let jar: String
    /// curl's own options for every request (`--unix-socket PATH`).
    public var curlOptions: [String] = []
    public var user: String?

    init(base: String, dir: String) {
        self.base = base
        // A directory of its own that any user may write: a client may run
        // curl as another user (a proxy's).
        let own = dir + "/client-\(UUID().uuidString)"
        try? FileManager.default.createDirectory(atPath: own, withIntermediateDirectories: true)
        chmod(own, 0o777)
        jar = own + "/cookies"
    }

    public func get(_ path: String, headers: [String: String] = [:]) throws -> WebResponse {
        try request(["-X", "GET"], path, headers: headers)
    }

    /// POSTs a form (application/x-www-form-urlencoded).
    public func post(_ path: String, form: [(String, String)], headers: [String: String] = [:]) throws -> WebResponse {
        var allowed = CharacterSet.alphanumerics
        allowed.insert(charactersIn: "-._~")
        let body = form.map { "\($0.0)=\($0.1.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" }.joined(separator: "&")
        return try request(["-X", "POST", "--data-raw", body], path, headers: headers)
    }

    func request(_ args: [String], _ path: String, headers: [String: String]) throws -> WebResponse {
        let out = jar + ".body", head = jar + ".head"
        var argv = ["-s", "-b", jar, "-c", jar, "-o", out, "-D", head, "-w", "%{http_code}"] + curlOptions + args
        for (k, v) in headers { argv += ["-H", "\(k): \(v)"] }
        argv.append(base + path)
        var exe = "/usr/bin/curl"
        if let user {
            argv = ["--reuid=\(user)", "--regid=\(user)", "--init-groups", "--", exe] + argv
            exe = "/usr/bin/setpriv"
        }
        let r = try DaemonHarness.run(exe, argv)
        guard let status = Int(r.stdout.trimmingCharacters(in: .whitespaces)) else { throw HarnessError("curl \(path): \(r.stderr)") }
        var headers: [String: String] = [:]
        for line in ((try? String(contentsOfFile: head, encoding: .utf8)) ?? "").split(separator: "\r\n") {
            guard let colon = line.firstIndex(of: ":") else { continue }
            let name = line[..<colon].lowercased()
            let value = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
            headers[name] = headers[name].map { $0 + "\n" + value } ?? value
        }
        return WebResponse(status: status, headers: headers, body: (try? String(contentsOfFile: out, encoding: .utf8)) ?? "")
    }
}
