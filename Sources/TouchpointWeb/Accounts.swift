import Crypto
import Foundation
import GRDB
import HummingbirdBcrypt
import TouchpointLinux

/// A nurse's account on the web view: one per person, never a shared ward login.
public struct Account: Equatable, Sendable {
    public var name: String
    /// The wards whose calls the account sees; empty: every ward.
    public var wards: [String]
    public var disabled: Bool
}

/// A signed-in browser: found by the hash of its cookie's token.
public struct WebSession: Equatable, Sendable {
    public var account: Account
    /// The per-session token every form carries back (CSRF).
    public var csrf: String
    var tokenHash: String
}

/// What a sign-in attempt came to.
public enum SignIn: Equatable, Sendable {
    case signedIn(token: String, session: WebSession)
    /// Wrong name or wrong password: the page never says which.
    case refused
    /// Too many failures for this name: locked until then. Said the same
    /// whether or not the name exists.
    case locked(until: Date)
}

/// Accounts and sessions, in the web view's own SQLite database (mode 0600,
/// under `state_dir`): it holds no patient data. Every call blocks, so the
/// web view runs them on a lane of their own; password hashing (bcrypt, cost
/// 12) runs on another, so ten sign-ins at once never stall the pages.
public final class Accounts: Sendable {
    let db: DatabaseQueue
    let lane = BlockingLane(name: "web-accounts")
    let hashing = BlockingLane(name: "web-bcrypt", threads: 2)
    static let cost: UInt8 = 12
    /// Compared against when the name is unknown, so a wrong name costs what a wrong password does.
    static let decoy = Bcrypt.hash("decoy password, never anyone's", cost: cost)

    public init(path: String) throws {
        let dir = (path as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd >= 0 { fchmod(fd, 0o600); close(fd) }
        var config = Configuration()
        config.busyMode = .timeout(5)
        // WAL: the pages' session look-ups read without locking out the
        // administrator's commands, and the other way round.
        config.journalMode = .wal
        config.qos = .default
        db = try DatabaseQueue(path: path, configuration: config)
        try Self.migrator.migrate(db)
    }

    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1: accounts, sessions, sign-in failures") { db in
            try db.execute(sql: """
                CREATE TABLE accounts (
                    name TEXT PRIMARY KEY NOT NULL,
                    password_hash TEXT,
                    wards TEXT NOT NULL DEFAULT '[]',
                    disabled INTEGER NOT NULL DEFAULT 0,
                    created_at INTEGER NOT NULL,
                    updated_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE TABLE sessions (
                    token_hash TEXT PRIMARY KEY NOT NULL,
                    account TEXT NOT NULL REFERENCES accounts(name) ON DELETE CASCADE,
                    csrf TEXT NOT NULL,
                    created_at INTEGER NOT NULL,
                    seen_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                CREATE INDEX sessions_account ON sessions (account);
                CREATE TABLE sign_in_failures (
                    name TEXT PRIMARY KEY NOT NULL,
                    failures INTEGER NOT NULL,
                    last_at INTEGER NOT NULL,
                    locked_until INTEGER
                ) WITHOUT ROWID;
                """)
        }
        return m
    }

    /// A random token: 256 bits, hex.
    static func token() -> String {
        var g = SystemRandomNumberGenerator()
        return hex((0..<32).map { _ in UInt8.random(in: .min ... .max, using: &g) })
    }

    static func sha256(_ s: String) -> String {
        hex(SHA256.hash(data: Data(s.utf8)))
    }

    /// Lower-case hex, written out: `String(format:)` goes through
    /// CoreFoundation, which a page should not pull in (idle memory).
    static func hex<Bytes: Sequence>(_ bytes: Bytes) -> String where Bytes.Element == UInt8 {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.underestimatedCount * 2)
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// A generated password: 16 characters from an alphabet without look-alikes.
    public static func generatedPassword() -> String {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyzACDEFGHJKLMNPQRTUVWXY346789")
        var g = SystemRandomNumberGenerator()
        return String((0..<16).map { _ in alphabet[Int(g.next(upperBound: UInt64(alphabet.count)))] })
    }

    static func checkPassword(_ password: String) throws(AccountError) {
        guard password.count >= 12 else { throw .weakPassword }
    }
}

/// Why an account command was refused.
public enum AccountError: Error, Equatable, CustomStringConvertible {
    case exists(String)
    case noSuchAccount(String)
    case weakPassword
    case badName(String)

    public var description: String {
        switch self {
        case .exists(let n): return "an account \"\(n)\" already exists"
        case .noSuchAccount(let n): return "no account \"\(n)\" (touchpoint-web user list)"
        case .weakPassword: return "a password must be at least 12 characters"
        case .badName(let n): return "\"\(n)\" is not a name an account can have (1 to 64 letters, digits, . _ - @)"
        }
    }
}

// MARK: The administrator's commands (touchpoint-web user ...)

extension Accounts {
    static func checkName(_ name: String) throws(AccountError) {
        guard (1...64).contains(name.count), name.allSatisfy({ $0.isLetter || $0.isNumber || "._-@".contains($0) }) else { throw .badName(name) }
    }

    /// Adds an account with `password` (hashed with bcrypt).
    public func add(_ name: String, wards: [String], password: String) throws {
        try Self.checkName(name)
        try Self.checkPassword(password)
        let hash = Bcrypt.hash(password, cost: Self.cost)
        let wardsJSON = String(decoding: try JSONEncoder().encode(wards), as: UTF8.self)
        try db.write { db in
            if try Bool.fetchOne(db, sql: "SELECT 1 FROM accounts WHERE name = ?", arguments: [name]) == true { throw AccountError.exists(name) }
            let now = Date().millis
            try db.execute(sql: "INSERT INTO accounts (name, password_hash, wards, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
                           arguments: [name, hash, wardsJSON, now, now])
        }
    }

    public func setPassword(_ name: String, _ password: String) throws {
        try Self.checkPassword(password)
        let hash = Bcrypt.hash(password, cost: Self.cost)
        try db.write { db in
            try db.execute(sql: "UPDATE accounts SET password_hash = ?, updated_at = ? WHERE name = ?", arguments: [hash, Date().millis, name])
            if db.changesCount == 0 { throw AccountError.noSuchAccount(name) }
            // A new password unlocks the account and ends its sessions (a
            // password changed because it leaked must shut the door).
            try db.execute(sql: "DELETE FROM sign_in_failures WHERE name = ?", arguments: [name])
            try db.execute(sql: "DELETE FROM sessions WHERE account = ?", arguments: [name])
        }
    }

    /// Disabling an account ends its sessions at once.
    public func setDisabled(_ name: String, _ disabled: Bool) throws {
        try db.write { db in
            try db.execute(sql: "UPDATE accounts SET disabled = ?, updated_at = ? WHERE name = ?", arguments: [disabled, Date().millis, name])
            if db.changesCount == 0 { throw AccountError.noSuchAccount(name) }
            if disabled { try db.execute(sql: "DELETE FROM sessions WHERE account = ?", arguments: [name]) }
        }
    }

    public func list() throws -> [Account] {
        try db.read { db in try Row.fetchAll(db, sql: "SELECT name, wards, disabled FROM accounts ORDER BY name").map(Self.account) }
    }

    static func account(_ r: Row) -> Account {
        let wards = (try? JSONDecoder().decode([String].self, from: Data((r["wards"] as String).utf8))) ?? []
        return Account(name: r["name"], wards: wards, disabled: r["disabled"])
    }
}

extension Date {
    var millis: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
}

// MARK: Signing in, sessions

/// The limits of `web.toml` that sign-in and sessions follow.
public struct SessionPolicy: Sendable {
    public var idle: Duration
    public var max: Duration
    public var maxFailures: Int
    public var lockout: Duration

    public init(idle: Duration, max: Duration, maxFailures: Int, lockout: Duration) {
        self.idle = idle
        self.max = max
        self.maxFailures = maxFailures
        self.lockout = lockout
    }

    public init(_ c: WebConfig) {
        self.init(idle: c.sessionIdle, max: c.sessionMax, maxFailures: c.loginMaxFailures, lockout: c.loginLockout)
    }
}

extension Duration {
    var millis: Int64 { components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000 }
}

extension Accounts {
    /// Checks a name and password. A wrong name costs what a wrong password
    /// does (a decoy hash is checked), failures are counted for any name, and
    /// a locked name is answered the same whether or not it exists.
    public func signIn(_ name: String, password: String, policy: SessionPolicy, now: Date = Date()) async throws -> SignIn {
        let key = name.lowercased()
        let found: (hash: String?, disabled: Bool, lockedUntil: Int64?) = try await lane.run { [db] in
            try db.read { db in
                let row = try Row.fetchOne(db, sql: "SELECT password_hash, disabled FROM accounts WHERE name = ?", arguments: [name])
                let locked = try Int64.fetchOne(db, sql: "SELECT locked_until FROM sign_in_failures WHERE name = ?", arguments: [key])
                return (row?["password_hash"], row?["disabled"] ?? false, locked)
            }
        }
        if let until = found.lockedUntil, until > now.millis {
            return .locked(until: Date(timeIntervalSince1970: TimeInterval(until) / 1000))
        }
        let hash = found.hash ?? Self.decoy
        let matches = try await hashing.run { Bcrypt.verify(password, hash: hash) }
        if matches && found.hash != nil && !found.disabled {
            let (token, csrf) = (Self.token(), Self.token())
            let account = try await lane.run { [db] in
                try db.write { db -> Account? in
                    try db.execute(sql: "DELETE FROM sign_in_failures WHERE name = ?", arguments: [key])
                    try db.execute(sql: "INSERT INTO sessions (token_hash, account, csrf, created_at, seen_at) VALUES (?, ?, ?, ?, ?)",
                                   arguments: [Self.sha256(token), name, csrf, now.millis, now.millis])
                    return try Row.fetchOne(db, sql: "SELECT name, wards, disabled FROM accounts WHERE name = ?", arguments: [name]).map(Self.account)
                }
            }
            guard let account else { return .refused }
            return .signedIn(token: token, session: WebSession(account: account, csrf: csrf, tokenHash: Self.sha256(token)))
        }
        try await lane.run { [db] in
            try db.write { db in
                // Forget failures older than a lockout (and with them names never seen again).
                try db.execute(sql: "DELETE FROM sign_in_failures WHERE last_at < ? AND (locked_until IS NULL OR locked_until < ?)",
                               arguments: [now.millis - policy.lockout.millis, now.millis])
                try db.execute(sql: """
                    INSERT INTO sign_in_failures (name, failures, last_at) VALUES (?, 1, ?)
                    ON CONFLICT(name) DO UPDATE SET failures = failures + 1, last_at = excluded.last_at
                    """, arguments: [key, now.millis])
                let failures = try Int.fetchOne(db, sql: "SELECT failures FROM sign_in_failures WHERE name = ?", arguments: [key]) ?? 0
                // The last allowed failure locks the name: the next attempt, even
                // with the right password, is told so.
                if failures >= policy.maxFailures {
                    try db.execute(sql: "UPDATE sign_in_failures SET failures = 0, locked_until = ? WHERE name = ?",
                                   arguments: [now.millis + policy.lockout.millis, key])
                }
            }
        }
        return .refused
    }

    /// The session a cookie's token belongs to, if it is still alive: not
    /// idle longer than `policy.idle`, not older than `policy.max`, its
    /// account not disabled. A session found alive is marked seen (at most
    /// every 30 seconds, so a page's requests do not each write).
    public func session(token: String, policy: SessionPolicy, now: Date = Date()) async throws -> WebSession? {
        let hash = Self.sha256(token)
        return try await lane.run { [db] in
            // Every page asks: a read with a statement prepared once, and a
            // write only when the session ends or is marked seen.
            guard let row = try db.read({ db in
                try Row.fetchOne(db.cachedStatement(sql: """
                    SELECT s.csrf, s.created_at, s.seen_at, a.name, a.wards, a.disabled
                    FROM sessions s JOIN accounts a ON a.name = s.account WHERE s.token_hash = ?
                    """), arguments: [hash])
            }) else { return nil }
            let created: Int64 = row["created_at"], seen: Int64 = row["seen_at"]
            let n = now.millis
            if (row["disabled"] as Bool) || n - seen > policy.idle.millis || n - created > policy.max.millis {
                try db.write { try $0.execute(sql: "DELETE FROM sessions WHERE token_hash = ?", arguments: [hash]) }
                return nil
            }
            if n - seen > 30_000 {
                try db.write { try $0.execute(sql: "UPDATE sessions SET seen_at = ? WHERE token_hash = ?", arguments: [n, hash]) }
            }
            return WebSession(account: Self.account(row), csrf: row["csrf"], tokenHash: hash)
        }
    }

    /// Ends a session (sign out).
    public func end(_ session: WebSession) async throws {
        try await lane.run { [db] in
            try db.write { db in try db.execute(sql: "DELETE FROM sessions WHERE token_hash = ?", arguments: [session.tokenHash]) }
        }
    }
}

extension Accounts {
    /// An account by name (the proxy's users may have one, for their wards).
    public func account(named name: String) async throws -> Account? {
        try await lane.run { [db] in
            try db.read { db in
                try Row.fetchOne(db, sql: "SELECT name, wards, disabled FROM accounts WHERE name = ?", arguments: [name]).map(Self.account)
            }
        }
    }
}
