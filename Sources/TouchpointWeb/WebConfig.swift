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
    /// this machine's own (`defaultServerNames`).
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

/// Walks web.toml, collecting every problem rather than stopping at the first.
struct WebConfigReader {
    let file: String
    let base: String
    var issues: [ConfigIssue] = []

    static let keys = ["listen", "control_socket", "state_dir", "tls_cert", "tls_key", "auth", "proxy_user_header",
                       "trusted_proxy_users", "session_idle", "session_max", "login_max_failures", "login_lockout", "server_names", "log"]

    mutating func issue(_ key: String, _ message: String) { issues.append(ConfigIssue(file: file, key: key, message: message)) }

    func path(_ s: String) -> String {
        ((s.hasPrefix("/") ? s : (base as NSString).appendingPathComponent(s)) as NSString).standardizingPath
    }

    mutating func string(_ t: TOMLTable, _ key: String, prefix: String = "") -> String? {
        guard let v = t[key] else { return nil }
        guard let s = v.string else { issue(prefix + key, "expected a string in quotes"); return nil }
        return s
    }

    mutating func duration(_ t: TOMLTable, _ key: String) -> Duration? {
        guard let s = string(t, key) else { return nil }
        guard let d = parseDuration(s), d > .zero else { issue(key, "expected a duration such as 90s, 15m or 12h, got \"\(s)\""); return nil }
        return d
    }

    mutating func read(_ t: TOMLTable) -> WebConfig {
        var c = WebConfig(file: file)
        for key in t.keys where !Self.keys.contains(key) {
            issue(key, "unknown key; known keys: \(Self.keys.joined(separator: ", "))")
        }
        if let s = string(t, "listen") { c.listen = listen(s) ?? c.listen }
        if let s = string(t, "control_socket") { c.controlSocket = path(s) }
        if let s = string(t, "state_dir") { c.stateDir = path(s) }
        if let s = string(t, "tls_cert"), !s.isEmpty { c.tlsCert = path(s) }
        if let s = string(t, "tls_key"), !s.isEmpty { c.tlsKey = path(s) }
        if let s = string(t, "auth") {
            if let a = WebConfig.Auth(rawValue: s) { c.auth = a } else { issue("auth", "expected \"accounts\" or \"proxy\", got \"\(s)\"") }
        }
        if let s = string(t, "proxy_user_header") { c.proxyUserHeader = s }
        if let v = t["trusted_proxy_users"] {
            if let arr = v.array, arr.allSatisfy({ $0.string != nil }) { c.trustedProxyUsers = arr.compactMap(\.string) } else {
                issue("trusted_proxy_users", "expected a list of Unix user names")
            }
        }
        if let d = duration(t, "session_idle") { c.sessionIdle = d }
        if let d = duration(t, "session_max") { c.sessionMax = d }
        if let v = t["login_max_failures"] {
            if let i = v.int, (1...100).contains(i) { c.loginMaxFailures = i } else { issue("login_max_failures", "expected a whole number from 1 to 100") }
        }
        if let d = duration(t, "login_lockout") { c.loginLockout = d }
        if let v = t["server_names"] {
            if let arr = v.array, arr.allSatisfy({ ($0.string.map(WebConfig.isHostName) ?? false) }) {
                c.serverNames = arr.compactMap(\.string).map { $0.lowercased() }
            } else {
                issue("server_names", "expected a list of host names or addresses, for example [\"touchpoint.trust.nhs.uk\"]")
            }
        }
        readLog(t, &c)
        check(&c)
        return c
    }

    mutating func readLog(_ t: TOMLTable, _ c: inout WebConfig) {
        guard let v = t["log"] else { return }
        guard let log = v.table else { issue("log", "expected a table ([log])"); return }
        for key in log.keys where !["level", "target"].contains(key) { issue("log.\(key)", "unknown key; known keys in [log]: level, target") }
        if let s = string(log, "level", prefix: "log.") {
            if let l = TouchpointConfig.LogLevel(rawValue: s) { c.logLevel = l } else { issue("log.level", "expected one of \(TouchpointConfig.LogLevel.allCases.map(\.rawValue).joined(separator: ", "))") }
        }
        if let s = string(log, "target", prefix: "log.") {
            if let l = TouchpointConfig.LogTarget(rawValue: s) { c.logTarget = l } else { issue("log.target", "expected \"auto\", \"journal\" or \"stderr\"") }
        }
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
