import Crypto
import Foundation
import GRDB
import TouchpointFeedMap

#if canImport(Glibc)
import Glibc
#endif

/// The receiver's own small state (`state_dir`, 0700; the database 0600):
/// what it acknowledged (so a message sent again gets the ACK it had and
/// nothing is written twice), the bookings it wrote (what a reschedule is
/// compared with), a keyed hash of each patient it booked (so an update
/// that follows a booking by a millisecond is not lost, and no id is kept),
/// and the messages it refused, raw, for `reject_retention`.
///
/// Blocking (SQLite): used on the receiver's lane only, which is why its
/// look-ups need no read transaction of their own (`inDatabase`): nothing
/// else writes the database while they run. The statements on the path of
/// every message are prepared once (`cachedStatement`).
final class ReceiverState: @unchecked Sendable {
    let db: DatabaseQueue
    private let key: SymmetricKey

    init(directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
        let path = directory + "/receiver.sqlite"
        var config = Configuration()
        config.prepareDatabase { db in try db.execute(sql: "PRAGMA journal_mode = WAL; PRAGMA synchronous = FULL") }
        let old = umask(0o077)
        defer { umask(old) }
        db = try DatabaseQueue(path: path, configuration: config)
        key = try Self.patientKey(directory + "/patient.key")
        var migrator = DatabaseMigrator()
        migrator.registerMigration("v1") { db in
            try db.execute(sql: """
                CREATE TABLE acknowledged (key TEXT PRIMARY KEY, code TEXT NOT NULL, at REAL NOT NULL);
                CREATE TABLE bookings (ref TEXT PRIMARY KEY, kind TEXT NOT NULL, start REAL NOT NULL, ward TEXT, procedure TEXT,
                                       clinic TEXT, cancelled INTEGER NOT NULL);
                CREATE TABLE patients (hash TEXT PRIMARY KEY);
                CREATE TABLE rejects (id INTEGER PRIMARY KEY, at REAL NOT NULL, feed TEXT, code TEXT NOT NULL, location TEXT,
                                      message TEXT NOT NULL, raw BLOB NOT NULL);
                CREATE TABLE counts (feed TEXT NOT NULL, outcome TEXT NOT NULL, n INTEGER NOT NULL, last REAL NOT NULL,
                                     PRIMARY KEY (feed, outcome));
                """)
        }
        try migrator.migrate(db)
    }

    /// The key of the patient hashes: made once, kept beside the state (0600).
    static func patientKey(_ path: String) throws -> SymmetricKey {
        if let data = FileManager.default.contents(atPath: path), data.count == 32 { return SymmetricKey(data: data) }
        let key = SymmetricKey(size: .bits256)
        let data = key.withUnsafeBytes { Data($0) }
        guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o600]) else {
            throw CocoaError(.fileWriteNoPermission)
        }
        return key
    }

    func hash(patient id: String) -> String {
        let hex = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        out.reserveCapacity(64)
        for byte in HMAC<SHA256>.authenticationCode(for: Data(id.utf8), using: key) {
            out.append(hex[Int(byte >> 4)])
            out.append(hex[Int(byte & 0x0F)])
        }
        return String(decoding: out, as: UTF8.self)
    }

    func acknowledged(_ key: String) throws -> String? {
        try db.inDatabase { try String.fetchOne($0.cachedStatement(sql: "SELECT code FROM acknowledged WHERE key = ?"), arguments: [key]) }
    }

    func booking(_ ref: String) throws -> WrittenBooking? {
        try db.inDatabase { db in
            try Row.fetchOne(db.cachedStatement(sql: "SELECT kind, start, ward, procedure, clinic, cancelled FROM bookings WHERE ref = ?"), arguments: [ref]).flatMap { r in
                FeedBookingKind(rawValue: r[0]).map {
                    WrittenBooking(kind: $0, start: Date(timeIntervalSince1970: r[1]), ward: r[2], procedure: r[3], clinic: r[4], cancelled: r[5])
                }
            }
        }
    }

    func knows(patient id: String) throws -> Bool {
        let h = hash(patient: id)
        return try db.inDatabase { try Bool.fetchOne($0.cachedStatement(sql: "SELECT 1 FROM patients WHERE hash = ?"), arguments: [h]) ?? false }
    }

    /// What one message came to, for `commit`.
    struct Entry: Sendable {
        /// Sender, control id and a hash of the bytes; nil for bytes that
        /// were not a message (kept in the rejects only, never answered "as before").
        var key: String?
        /// The original-mode code (AA, AE, AR): a resend in enhanced mode gets its C form.
        var code: String
        var feed: String?
        var outcome: String
        var mapping: Mapping?
        /// A refused message, kept raw for `reject_retention` (with the
        /// entry's time, feed and code).
        var refused: Refused?
        var at: Date
    }

    /// What is kept of a refused message beside its entry.
    struct Refused: Sendable {
        var location: String?
        var message: String
        var raw: [UInt8]
    }

    /// What a batch of messages came to, in one transaction, after their
    /// events are in the queue file (`GroupCommit`).
    func commit(_ entries: [Entry], retention: TimeInterval) throws {
        guard !entries.isEmpty else { return }
        let hashes = entries.map { ($0.mapping?.booked ?? []).map(hash(patient:)) }
        try db.write { db in
            for (e, patients) in zip(entries, hashes) {
                try record(e, patients: patients, db)
            }
            if entries.contains(where: { $0.refused != nil }) {
                try db.execute(sql: "DELETE FROM rejects WHERE at < ?", arguments: [entries[0].at.timeIntervalSince1970 - retention])
            }
        }
    }

    private func record(_ e: Entry, patients: [String], _ db: Database) throws {
        let at = e.at.timeIntervalSince1970
        if let r = e.refused {
            try db.execute(sql: "INSERT INTO rejects (at, feed, code, location, message, raw) VALUES (?, ?, ?, ?, ?, ?)",
                           arguments: [at, e.feed, e.code, r.location, r.message, Data(r.raw)])
        }
        guard let key = e.key else { return }
        try db.cachedStatement(sql: "INSERT OR REPLACE INTO acknowledged (key, code, at) VALUES (?, ?, ?)").execute(arguments: [key, e.code, at])
        for (ref, b) in e.mapping?.written ?? [] {
            try db.cachedStatement(sql: "INSERT OR REPLACE INTO bookings VALUES (?, ?, ?, ?, ?, ?, ?)").execute(
                arguments: [ref, b.kind.rawValue, b.start.timeIntervalSince1970, b.ward, b.procedure, b.clinic, b.cancelled])
        }
        for h in patients { try db.cachedStatement(sql: "INSERT OR IGNORE INTO patients VALUES (?)").execute(arguments: [h]) }
        try db.cachedStatement(sql: """
            INSERT INTO counts VALUES (?, ?, 1, ?) ON CONFLICT (feed, outcome) DO UPDATE SET n = n + 1, last = excluded.last
            """).execute(arguments: [e.feed ?? "", e.outcome, at])
    }

    struct FeedCount: Sendable {
        var feed: String
        var outcome: String
        var n: Int
        var last: Date
    }

    func counts() throws -> [FeedCount] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT feed, outcome, n, last FROM counts ORDER BY feed, outcome").map {
                FeedCount(feed: $0[0], outcome: $0[1], n: $0[2], last: Date(timeIntervalSince1970: $0[3]))
            }
        }
    }
}

extension ReceiverState {
    struct Reject: Sendable {
        var at: Date
        var feed: String?
        var code: String
        var location: String?
        var message: String
        var raw: [UInt8]
    }

    func rejects(limit: Int) throws -> [Reject] {
        try db.read { db in
            try Row.fetchAll(db, sql: "SELECT at, feed, code, location, message, raw FROM rejects ORDER BY id DESC LIMIT ?", arguments: [limit]).map {
                Reject(at: Date(timeIntervalSince1970: $0[0]), feed: $0[1], code: $0[2], location: $0[3], message: $0[4], raw: Array(($0[5] as Data?) ?? Data()))
            }
        }
    }
}

/// `touchpoint-hl7 status` and `rejects`: the receiver's own state, read
/// (never written) by an admin. Raw messages hold patient data: shown only
/// with `showMessage`, which the command allows root and touchpoint-admin.
public enum ReceiverReports {
    public static func status(stateDir: String, clock: @escaping (Date) -> String) throws -> String {
        let counts = try ReceiverState(directory: stateDir).counts()
        guard !counts.isEmpty else { return "no messages received yet" }
        var byFeed: [String: [ReceiverState.FeedCount]] = [:]
        for c in counts { byFeed[c.feed, default: []].append(c) }
        return byFeed.keys.sorted().map { feed in
            let rows = byFeed[feed]!
            let n = { (o: String) in rows.first { $0.outcome == o }?.n ?? 0 }
            let last = rows.map(\.last).max()!
            let name = feed.isEmpty ? "(no feed)" : feed
            return "\(name): received \(rows.reduce(0) { $0 + $1.n }), accepted \(n("accepted")), ignored \(n("ignored")), rejected \(n("rejected")); last message \(clock(last))"
        }.joined(separator: "\n")
    }

    public static func rejects(stateDir: String, limit: Int, showMessage: Bool, clock: @escaping (Date) -> String) throws -> String {
        let rows = try ReceiverState(directory: stateDir).rejects(limit: limit)
        guard !rows.isEmpty else { return "no rejected messages" }
        return rows.map { r in
            var line = "\(clock(r.at)) \(r.feed ?? "-") \(r.code) \(r.location ?? "-"): \(r.message)"
            if showMessage {
                line += "\n" + String(decoding: r.raw, as: UTF8.self).split(whereSeparator: { $0 == "\r" || $0 == "\n" }).map { "    " + $0 }.joined(separator: "\n")
            }
            return line
        }.joined(separator: "\n")
    }
}
