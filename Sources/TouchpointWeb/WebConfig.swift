import Foundation
import TOMLKit
import TouchpointConfig

/// `/etc/touchpoint/web.toml` (`web.md`): every key has its default here.
/// Unknown keys and bad values are errors naming the file and key, as for
/// `touchpoint.toml`.
public struct WebConfig: Equatable, Sendable {
    /// Where the web view listens: a TCP address, or a Unix socket behind a reverse proxy.
    public enum Listen: Equatable, Sendable, CustomStringConvertible {
        case tcp(host: String, port: Int)
        case unix(path: String)

        /// Loopback: no other machine can reach it, so plain HTTP is allowed.
        public var isLocal: Bool {
            switch self {
            case .unix: return true
            case .tcp(let host, _): return host == "127.0.0.1" || host == "::1" || host == "localhost" || host.hasPrefix("127.")
            }
        }

        public var description: String {
            switch self {
            case .tcp(let host, let port): return host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)"
            case .unix(let path): return "unix:\(path)"
            }
        }
    }

    public enum Auth: String, Equatable, Sendable { case accounts, proxy }

    public var file: String
    public var listen: Listen = .tcp(host: "127.0.0.1", port: 8470)
    public var controlSocket = "/run/touchpoint/control.sock"
    public var stateDir = "/var/lib/touchpoint-web"
    public var tlsCert: String?
    public var tlsKey: String?
    public var auth: Auth = .accounts
    public var proxyUserHeader = "X-Remote-User"
    public var trustedProxyUsers: [String] = []
    public var sessionIdle: Duration = .seconds(15 * 60)
    public var sessionMax: Duration = .seconds(12 * 3600)
    public var loginMaxFailures = 5
    public var loginLockout: Duration = .seconds(15 * 60)
    /// The names this server answers to in `Host` (`server_names`); empty:
    /// this machine's own (`allowedHosts(hostName:)`).
    public var serverNames: [String] = []
    public var logLevel: TouchpointConfig.LogLevel = .info
    public var logTarget: TouchpointConfig.LogTarget = .auto

    public var usesTLS: Bool { tlsCert != nil && tlsKey != nil }

    /// A name or address as `Host` carries it, without the port.
    static func isHostName(_ s: String) -> Bool {
        !s.isEmpty && s.utf8.count <= 253 && s.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-.:[]".unicodeScalars.contains($0)) }
    }

    /// The names a request's `Host` may give, lower case: `server_names`,
    /// else this machine's (`localhost`, the loopback addresses, its host
    /// name, the address it listens on). On a Unix socket behind a reverse
    /// proxy without `server_names`, nil: the proxy chooses which names
    /// reach this server.
    public func allowedHosts(hostName: String) -> Set<String>? {
        if !serverNames.isEmpty { return Set(serverNames.map(Self.bare)) }
        guard case .tcp(let host, _) = listen else { return nil }
        var names: Set<String> = ["localhost", "127.0.0.1", "::1", hostName.lowercased()]
        if let dot = hostName.firstIndex(of: ".") { names.insert(hostName[..<dot].lowercased()) }
        if host != "0.0.0.0" && host != "::" { names.insert(host.lowercased()) }
        return names
    }

    /// A `Host` value without its port and brackets: `[::1]:8470` is `::1`.
    public static func bare(_ host: String) -> String {
        var h = host.lowercased()
        if h.hasPrefix("[") {
            if let close = h.firstIndex(of: "]") { h = String(h[h.index(after: h.startIndex)..<close]) }
            return h
        }
        if let colon = h.lastIndex(of: ":"), h.firstIndex(of: ":") == colon { h = String(h[..<colon]) }
        if h.hasSuffix(".") { h.removeLast() }
        return h
    }
    public var databasePath: String { (stateDir as NSString).appendingPathComponent("web.sqlite") }

    public init(file: String) { self.file = file }

    /// Loads and checks the file at `path`.
    public static func load(path: String) throws(ConfigError) -> WebConfig {
        let absolute = path.hasPrefix("/") ? path : (FileManager.default.currentDirectoryPath as NSString).appendingPathComponent(path)
        guard let data = FileManager.default.contents(atPath: absolute) else {
            let why = FileManager.default.fileExists(atPath: absolute) ? "permission denied" : "no such file"
            throw ConfigError(issues: [ConfigIssue(file: absolute, key: nil, message: "cannot be read: \(why) (check the path given with --config and its permissions)")])
        }
        return try parse(String(decoding: data, as: UTF8.self), file: (absolute as NSString).standardizingPath)
    }

    public static func parse(_ text: String, file: String) throws(ConfigError) -> WebConfig {
        let table = try ConfigLoader.toml(text, file: file)
        var reader = WebConfigReader(file: file, base: (file as NSString).deletingLastPathComponent)
        let config = reader.read(table)
        if !reader.issues.isEmpty { throw ConfigError(issues: reader.issues) }
        return config
    }
}

/// Walks web.toml with the config reader `touchpoint.toml` has
/// (`TOMLReader`): every problem collected, each naming the file and key in
/// the same words.
struct WebConfigReader {
    var r: TOMLReader
    var issues: [ConfigIssue] { r.issues }

    init(file: String, base: String) { r = TOMLReader(file: file, baseDir: base) }

    static let keys = ["listen", "control_socket", "state_dir", "tls_cert", "tls_key", "auth", "proxy_user_header",
                       "trusted_proxy_users", "session_idle", "session_max", "login_max_failures", "login_lockout", "server_names", "log"]

    mutating func issue(_ key: String, _ message: String) { r.issue(key, message) }

    /// A path, relative to the file's directory; an empty string is "none" (`tls_cert = ""`).
    mutating func optionalPath(_ t: TOMLTable, _ key: String) -> String? {
        guard let s = r.string(t, nil, key), !s.isEmpty else { return nil }
        return r.path(t, nil, key)
    }

    mutating func read(_ t: TOMLTable) -> WebConfig {
        var c = WebConfig(file: r.file)
        r.checkKeys(t, Self.keys, section: nil)
        if let s = r.string(t, nil, "listen") { c.listen = listen(s) ?? c.listen }
        if let p = r.path(t, nil, "control_socket") { c.controlSocket = p }
        if let p = r.path(t, nil, "state_dir") { c.stateDir = p }
        c.tlsCert = optionalPath(t, "tls_cert")
        c.tlsKey = optionalPath(t, "tls_key")
        if let s = r.string(t, nil, "auth") {
            if let a = WebConfig.Auth(rawValue: s) { c.auth = a } else { issue("auth", "expected \"accounts\" or \"proxy\", got \"\(s)\"") }
        }
        if let s = r.string(t, nil, "proxy_user_header") { c.proxyUserHeader = s }
        if let users = r.strings(t, nil, "trusted_proxy_users", "Unix user names") { c.trustedProxyUsers = users }
        for (key, set) in [("session_idle", \WebConfig.sessionIdle), ("session_max", \WebConfig.sessionMax), ("login_lockout", \WebConfig.loginLockout)] {
            guard let d = r.duration(t, nil, key) else { continue }
            if d > .zero { c[keyPath: set] = d } else { issue(key, "must be longer than nothing") }
        }
        if let i = r.int(t, nil, "login_max_failures", 1...100) { c.loginMaxFailures = i }
        if let names = r.strings(t, nil, "server_names", "host names or addresses (for example \"touchpoint.trust.nhs.uk\")",
                                 valid: WebConfig.isHostName) {
            c.serverNames = names.map { $0.lowercased() }
        }
        let (level, target) = r.readLog(t)
        if let level { c.logLevel = level }
        if let target { c.logTarget = target }
        check(&c)
        return c
    }

    /// `127.0.0.1:8470`, `[::1]:8470` or `unix:/run/touchpoint-web/web.sock`.
    mutating func listen(_ s: String) -> WebConfig.Listen? {
        if s.hasPrefix("unix:") {
            let p = String(s.dropFirst(5))
            guard p.hasPrefix("/"), p.utf8.count <= 107 else { issue("listen", "expected unix:/absolute/path (at most 107 bytes)"); return nil }
            return .unix(path: p)
        }
        guard let colon = s.lastIndex(of: ":"), let port = Int(s[s.index(after: colon)...]), (1...65535).contains(port) else {
            issue("listen", "expected HOST:PORT (127.0.0.1:8470) or unix:/path, got \"\(s)\"")
            return nil
        }
        var host = String(s[..<colon])
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        return .tcp(host: host.isEmpty ? "0.0.0.0" : host, port: port)
    }

    /// Rules across keys: patient data never crosses a network in clear.
    mutating func check(_ c: inout WebConfig) {
        if (c.tlsCert == nil) != (c.tlsKey == nil) { issue(c.tlsCert == nil ? "tls_cert" : "tls_key", "tls_cert and tls_key go together") }
        if !c.listen.isLocal && !c.usesTLS {
            issue("listen", "\(c.listen) is not loopback: tls_cert and tls_key are required (patient data never crosses a network in clear)")
        }
        for (key, p) in [("tls_cert", c.tlsCert), ("tls_key", c.tlsKey)] {
            if let p, !FileManager.default.isReadableFile(atPath: p) { issue(key, "cannot read \(p)") }
        }
        if c.auth == .proxy {
            guard case .unix = c.listen else { issue("auth", "auth = \"proxy\" needs a unix listen (the proxy's peer is checked on the socket)"); return }
            if c.trustedProxyUsers.isEmpty { issue("trusted_proxy_users", "auth = \"proxy\" needs the Unix users allowed to set \(c.proxyUserHeader)") }
        }
    }
}
