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
    /// whether or not the name exists. Also the answer while the attempts in
    /// hand would use up what is left before the lock (`until` is then nil:
    /// not locked yet, but no more guesses are checked until they are decided).
    case locked(until: Date?)
    /// Too many sign-ins waiting for the password check from this source (or
    /// in all): nothing was checked or counted; try again after `retryAfter`
    /// seconds.
    case busy(retryAfter: Int)
}

/// Accounts and sessions, in the web view's own SQLite database (mode 0600,
/// under `state_dir`): it holds no patient data. Every call blocks, so the
/// web view runs them on a lane of their own; password hashing (bcrypt, cost
/// 12) runs on another, so ten sign-ins at once never stall the pages.
public final class Accounts: Sendable {
    let db: DatabaseQueue
    let lane = BlockingLane(name: "web-accounts")
    let hashing = BlockingLane(name: "web-bcrypt", threads: 2)
    /// Places in the hashing queue: a few per source, a bounded number in all.
    let gate: SignInGate
    static let cost: UInt8 = 12
    /// Compared against when the name is unknown, so a wrong name costs what a wrong password does.
    static let decoy = Bcrypt.hash("decoy password, never anyone's", cost: cost)

    public init(path: String, gate: SignInGate = SignInGate()) throws {
        self.gate = gate
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
        m.registerMigration("v2: names compared ignoring case; sign-ins in hand") { db in
            // One account per person whatever the case in which a system
            // passes the name (SSO headers come as typed): each account has
            // its normalised name, and every look-up is by it. Not UNIQUE:
            // accounts made before this release may differ in case only;
            // while more than one of them is enabled, the name is refused
            // (ambiguous) until an admin disables all but one.
            try db.execute(sql: """
                ALTER TABLE accounts ADD COLUMN name_key TEXT;
                ALTER TABLE sign_in_failures ADD COLUMN pending INTEGER NOT NULL DEFAULT 0;
                """)
            for name in try String.fetchAll(db, sql: "SELECT name FROM accounts") {
                try db.execute(sql: "UPDATE accounts SET name_key = ? WHERE name = ?", arguments: [Accounts.key(name), name])
            }
            try db.execute(sql: "CREATE INDEX accounts_key ON accounts (name_key)")
        }
        return m
    }

    /// The form of a name that accounts are found by: trimmed, in Unicode's
    /// composed form (NFC) and without case, so `NURSE2`, ` nurse2` and
    /// `nurse2` are one account, and `José` typed either way is one name.
    public static func key(_ name: String) -> String {
        name.trimmingCharacters(in: .whitespacesAndNewlines).precomposedStringWithCanonicalMapping.lowercased()
    }

    /// The account whose normalised name is `key`, nil when there is none.
    /// Accounts made before names were compared ignoring case may differ in
    /// case only: then the one enabled is the account (an admin settles it
    /// by disabling the others), and with more than one enabled the name is
    /// `.ambiguous`, refused everywhere.
    static func row(_ db: Database, key: String, columns: String = "name, wards, disabled") throws -> Row? {
        let rows = try Row.fetchAll(db, sql: "SELECT \(columns) FROM accounts WHERE name_key = ? ORDER BY name", arguments: [key])
        guard rows.count > 1 else { return rows.first }
        let enabled = rows.filter { !($0["disabled"] as Bool) }
        if enabled.count > 1 { throw AccountError.ambiguous(enabled.map { $0["name"] as String }) }
        return enabled.first ?? rows.first
    }

    /// `row`, with an ambiguous name taken as no account.
    static func unambiguousRow(_ db: Database, key: String, columns: String = "name, wards, disabled") throws -> Row? {
        do {
            return try row(db, key: key, columns: columns)
        } catch AccountError.ambiguous {
            return nil
        }
    }

    /// The account an admin's command names: the exact name, else the one its
    /// normalised name finds.
    static func canonicalName(_ db: Database, _ name: String) throws -> String {
        if try Bool.fetchOne(db, sql: "SELECT 1 FROM accounts WHERE name = ?", arguments: [name]) == true { return name }
        guard let row = try Self.row(db, key: Self.key(name)) else { throw AccountError.noSuchAccount(name) }
        return row["name"]
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
    /// Accounts made before names were compared ignoring case, differing in case only.
    case ambiguous([String])

    public var description: String {
        switch self {
        case .exists(let n): return "an account \"\(n)\" already exists (names are compared ignoring case)"
        case .ambiguous(let names):
            return "accounts \(names.map { "\"\($0)\"" }.joined(separator: " and ")) differ only in case, so none of them can sign in: disable all but one (touchpoint-web user disable NAME)"
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
        let key = Self.key(name)
        try db.write { db in
            if let other = try String.fetchOne(db, sql: "SELECT name FROM accounts WHERE name_key = ? OR name = ?", arguments: [key, name]) {
                throw AccountError.exists(other)
            }
            let now = Date().millis
            try db.execute(sql: "INSERT INTO accounts (name, name_key, password_hash, wards, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [name, key, hash, wardsJSON, now, now])
        }
    }

    public func setPassword(_ name: String, _ password: String) throws {
        try Self.checkPassword(password)
        let hash = Bcrypt.hash(password, cost: Self.cost)
        try db.write { db in
            let name = try Self.canonicalName(db, name)
            try db.execute(sql: "UPDATE accounts SET password_hash = ?, updated_at = ? WHERE name = ?", arguments: [hash, Date().millis, name])
            // A new password unlocks the account and ends its sessions (a
            // password changed because it leaked must shut the door).
            try db.execute(sql: "DELETE FROM sign_in_failures WHERE name = ?", arguments: [Self.key(name)])
            try db.execute(sql: "DELETE FROM sessions WHERE account = ?", arguments: [name])
        }
    }

    /// Disabling an account ends its sessions at once.
    public func setDisabled(_ name: String, _ disabled: Bool) throws {
        try db.write { db in
            let name = try Self.canonicalName(db, name)
            try db.execute(sql: "UPDATE accounts SET disabled = ?, updated_at = ? WHERE name = ?", arguments: [disabled, Date().millis, name])
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
    /// Checks a name and password.
    ///
    /// The attempt is taken before the hash is checked, in one transaction
    /// (`reserve`): an attempt in hand counts against the name as a failure
    /// would, and is forgiven when the password proves right (`settle`). So
    /// however many attempts arrive at once, no more than
    /// `policy.maxFailures` wrong passwords are ever checked for a name within
    /// `policy.lockout`: the rest are told "locked" without a check. (Reading
    /// the lock, then checking, then counting let every attempt in flight be
    /// checked: 200 at once were 200 guesses.)
    ///
    /// Before that, the attempt needs a place in the hashing queue (`gate`):
    /// a few per source (`source`: the client's address, or the proxy's
    /// forwarded one) and a bounded number in all, so a flood of bogus
    /// sign-ins is answered at once (busy) rather than queued ahead of a real
    /// nurse's. A wrong name costs what a wrong password does (a decoy hash
    /// is checked), failures are counted for any name, and a locked name is
    /// answered the same whether or not it exists.
    public func signIn(_ name: String, password: String, source: String = "-", policy: SessionPolicy,
                       now: Date = Date()) async throws -> SignIn {
        let key = Self.key(name)
        guard let ticket = gate.enter(source) else { return .busy(retryAfter: gate.retryAfter()) }
        defer { gate.leave(ticket) }
        let reserved = try await lane.run { [db] in try db.write { db in try Self.reserve(db, key: key, policy: policy, now: now) } }
        let found: (hash: String?, disabled: Bool)
        switch reserved {
        case .locked(let until): return .locked(until: until)
        case .reserved(let hash, let disabled): found = (hash, disabled)
        }
        let hash = found.hash ?? Self.decoy
        let started = ContinuousClock.now
        let matches = try await hashing.run { Bcrypt.verify(password, hash: hash) }
        gate.hashed(in: ContinuousClock.now - started)
        let right = matches && found.hash != nil && !found.disabled
        let (token, csrf) = (Self.token(), Self.token())
        let account = try await lane.run { [db] in
            try db.write { db -> Account? in
                try Self.settle(db, key: key, right: right, policy: policy, now: now)
                guard right, let row = try Self.unambiguousRow(db, key: key), !(row["disabled"] as Bool) else { return nil }
                let account = Self.account(row)
                try db.execute(sql: "INSERT INTO sessions (token_hash, account, csrf, created_at, seen_at) VALUES (?, ?, ?, ?, ?)",
                               arguments: [Self.sha256(token), account.name, csrf, now.millis, now.millis])
                return account
            }
        }
        guard let account else { return .refused }
        return .signedIn(token: token, session: WebSession(account: account, csrf: csrf, tokenHash: Self.sha256(token)))
    }

    enum Reservation {
        case locked(until: Date?)
        /// The attempt is counted; the account's hash (nil: no such account, the decoy is checked).
        case reserved(hash: String?, disabled: Bool)
    }

    /// Takes an attempt for `key`, or says it is locked: locked until a
    /// time, or the failures so far and the attempts in hand already reach
    /// the limit.
    static func reserve(_ db: Database, key: String, policy: SessionPolicy, now: Date) throws -> Reservation {
        // Forget failures older than a lockout (and with them names never seen again).
        try db.execute(sql: """
            DELETE FROM sign_in_failures
            WHERE last_at < ? AND (locked_until IS NULL OR locked_until < ?) AND pending = 0
            """, arguments: [now.millis - policy.lockout.millis, now.millis])
        if let r = try Row.fetchOne(db, sql: "SELECT failures, pending, locked_until FROM sign_in_failures WHERE name = ?", arguments: [key]) {
            if let until = r["locked_until"] as Int64?, until > now.millis {
                return .locked(until: Date(timeIntervalSince1970: TimeInterval(until) / 1000))
            }
            if (r["failures"] as Int) + (r["pending"] as Int) >= policy.maxFailures { return .locked(until: nil) }
        }
        try db.execute(sql: """
            INSERT INTO sign_in_failures (name, failures, pending, last_at) VALUES (?, 0, 1, ?)
            ON CONFLICT(name) DO UPDATE SET pending = pending + 1, last_at = excluded.last_at,
                locked_until = CASE WHEN locked_until <= excluded.last_at THEN NULL ELSE locked_until END
            """, arguments: [key, now.millis])
        // Names that are ambiguous (accounts from before names were compared
        // ignoring case) sign nobody in: checked against the decoy.
        let found = try Self.unambiguousRow(db, key: key, columns: "name, password_hash, disabled")
        return .reserved(hash: found?["password_hash"], disabled: found?["disabled"] ?? false)
    }

    /// Decides an attempt taken by `reserve`: a right password forgives the
    /// failures (the attempts still in hand stay counted); a wrong one is a
    /// failure, and the last allowed failure locks the name: the next
    /// attempt, even with the right password, is told so.
    static func settle(_ db: Database, key: String, right: Bool, policy: SessionPolicy, now: Date) throws {
        if right {
            try db.execute(sql: "UPDATE sign_in_failures SET failures = 0, pending = MAX(pending - 1, 0) WHERE name = ?", arguments: [key])
            try db.execute(sql: "DELETE FROM sign_in_failures WHERE name = ? AND pending = 0 AND locked_until IS NULL", arguments: [key])
            return
        }
        try db.execute(sql: """
            INSERT INTO sign_in_failures (name, failures, pending, last_at) VALUES (?, 1, 0, ?)
            ON CONFLICT(name) DO UPDATE SET failures = failures + 1, pending = MAX(pending - 1, 0), last_at = excluded.last_at
            """, arguments: [key, now.millis])
        let failures = try Int.fetchOne(db, sql: "SELECT failures FROM sign_in_failures WHERE name = ?", arguments: [key]) ?? 0
        if failures >= policy.maxFailures {
            try db.execute(sql: "UPDATE sign_in_failures SET failures = 0, locked_until = ? WHERE name = ?",
                           arguments: [now.millis + policy.lockout.millis, key])
        }
    }

    /// At start: attempts that were in hand when the web view last stopped
    /// (killed mid-check) were never decided; they count as failures, the
    /// safe side, so a crash can never give back guesses.
    public func settleInterruptedSignIns() async throws {
        try await lane.run { [db] in
            try db.write { db in
                try db.execute(sql: "UPDATE sign_in_failures SET failures = failures + pending, pending = 0 WHERE pending > 0")
            }
        }
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
    /// Found by the normalised name, as every look-up is: a name in another case is the same account.
    public func account(named name: String) async throws -> Account? {
        let key = Self.key(name)
        return try await lane.run { [db] in
            try db.read { db in try Self.row(db, key: key).map(Self.account) }
        }
    }
}
