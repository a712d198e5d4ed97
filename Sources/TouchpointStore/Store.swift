import CLinux
import Foundation
import GRDB
import Synchronization
import TouchpointDomain

#if canImport(Glibc)
import Glibc
#endif

/// Why the store could not be opened or written, in words an admin can act on.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// Where reading of the queue file stands, committed with the effects of the lines before it.
public struct QueuePosition: Equatable, Sendable {
    /// Identity of the file read (st_dev, st_ino); nil before the first read.
    public var device: UInt64?
    public var inode: UInt64?
    /// Byte offset just past the last line applied, and that line's number.
    public var offset: Int
    public var line: Int
    /// Hash of the file's first line, to notice a file replaced in place.
    public var firstLineHash: UInt64?

    public init(device: UInt64? = nil, inode: UInt64? = nil, offset: Int = 0, line: Int = 0, firstLineHash: UInt64? = nil) {
        self.device = device
        self.inode = inode
        self.offset = offset
        self.line = line
        self.firstLineHash = firstLineHash
    }
}

/// One line read from the queue file, validated, waiting to be applied.
public struct IngestLine: Sendable {
    public var line: Int
    public var offset: Int
    public var parsed: Result<QueueEnvelope, QueueReject>
    /// The raw bytes, kept only for rejects (admins may see them with `rejects --show-line`).
    public var raw: [UInt8]?

    public init(line: Int, offset: Int, parsed: Result<QueueEnvelope, QueueReject>, raw: [UInt8]?) {
        self.line = line
        self.offset = offset
        self.parsed = parsed
        self.raw = raw
    }
}

/// A line rejected during a batch, for the log (no raw line: it holds patient data).
public struct RejectedLine: Equatable, Sendable {
    public var line: Int
    public var offset: Int
    public var reject: QueueReject
}

/// What one read of the queue file did.
public struct IngestCounts: Equatable, Sendable {
    public var ingested = 0
    public var duplicates = 0
    public var rejected = 0
    /// The rejected lines themselves (this read only; not kept in totals).
    public var rejects: [RejectedLine] = []
    /// Whether any job was planned or changed.
    public var changedJobs = false

    public init(ingested: Int = 0, duplicates: Int = 0, rejected: Int = 0) {
        self.ingested = ingested
        self.duplicates = duplicates
        self.rejected = rejected
    }

    public static func += (a: inout IngestCounts, b: IngestCounts) {
        a.ingested += b.ingested
        a.duplicates += b.duplicates
        a.rejected += b.rejected
        a.rejects += b.rejects
        a.changedJobs = a.changedJobs || b.changedJobs
    }
}

/// A reject as recorded.
public struct RejectRecord: Equatable, Sendable {
    public var line: Int
    public var offset: Int
    public var eventID: String?
    public var code: String
    public var message: String
    public var raw: String?
    public var at: Date
}

/// Totals since the state was created.
public struct QueueTotals: Equatable, Sendable {
    public var position: QueuePosition
    public var counts: IngestCounts
    public var lastReadAt: Date?
}

/// touchpoint's durable state: one SQLite database in `state_dir`.
///
/// WAL with `synchronous=FULL`: a committed batch (effects and read position
/// together) survives a crash or a power cut; readers (the control socket)
/// never wait for the writer (ingest).
public final class Store: Sendable {
    public let path: String
    let pool: DatabasePool
    /// Counts write transactions: what `status` last read stays true until it moves.
    private let writes = Atomic<UInt64>(0)
    private let statusCache = Mutex<(writes: UInt64, snapshot: StatusSnapshot)?>(nil)

    /// Write transactions so far: anything read from the database before it
    /// last moved may be stale.
    public var writeCount: UInt64 { writes.load(ordering: .sequentiallyConsistent) }

    /// Every write goes through here, so the status cache knows when it is stale.
    func write<T>(_ updates: (Database) throws -> T) throws -> T {
        defer { writes.add(1, ordering: .sequentiallyConsistent) }
        return try pool.write(updates)
    }

    /// Opens (creating if needed) the database at `path`, mode 0600, and migrates it.
    public init(path: String) throws(StoreError) {
        self.path = path
        let dir = (path as NSString).deletingLastPathComponent
        var isDir: ObjCBool = false
        if !FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true,
                                                        attributes: [.posixPermissions: 0o700])
            } catch {
                throw StoreError("state_dir \(dir): cannot create it: \(Self.errnoText(error)) (create it, owned by the service user)")
            }
        } else if !isDir.boolValue {
            throw StoreError("state_dir \(dir): is not a directory")
        }
        if access(dir, W_OK | X_OK) != 0 {
            throw StoreError("state_dir \(dir): cannot write there: \(String(cString: strerror(errno))) (it must be writable by the service user)")
        }
        // Create the file ourselves so it is 0600 from its first byte; SQLite
        // gives the -wal and -shm files the same mode.
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        if fd < 0 {
            throw StoreError("database \(path): cannot open: \(String(cString: strerror(errno)))")
        }
        fchmod(fd, 0o600)
        close(fd)

        var config = Configuration()
        config.busyMode = .timeout(5)
        config.label = "touchpoint"
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA foreign_keys = ON")
        }
        do {
            pool = try DatabasePool(path: path, configuration: config)
            // DatabasePool sets synchronous=NORMAL on its writer; FULL makes each
            // commit durable on power loss, and costs one fsync per batch.
            try pool.writeWithoutTransaction { db in
                try db.execute(sql: "PRAGMA synchronous = FULL")
                // A 20 MiB page cache for the writer: ingest touches the events,
                // bookings and patients indexes at random; SQLite's 2 MiB default
                // turns that into a pread per lookup.
                try db.execute(sql: "PRAGMA cache_size = -\(WriterCache.steady.rawValue)")
            }
            try Schema.migrator.migrate(pool)
            // Take the write lock once now: a database another process holds
            // (a sqlite3 shell mid-transaction, a backup tool) is refused at
            // start, not found out at the first queue line.
            try pool.writeWithoutTransaction { db in try db.execute(sql: "BEGIN IMMEDIATE; COMMIT") }
        } catch let e as DatabaseError {
            if e.resultCode == .SQLITE_NOTADB || e.resultCode == .SQLITE_CORRUPT {
                throw StoreError("database \(path) is damaged or not a touchpoint database (\(e.message ?? "\(e.resultCode)")); refusing to start with an empty state: restore it from a backup, or move it aside to start afresh")
            }
            if e.resultCode == .SQLITE_BUSY || e.resultCode == .SQLITE_LOCKED {
                throw StoreError("database \(path) is locked by another process (a sqlite3 shell or backup tool holding a write transaction?); refusing to start until it lets go")
            }
            throw StoreError("database \(path): \(e.message ?? "\(e.resultCode)")")
        } catch {
            throw StoreError("database \(path): \(error)")
        }
    }

    static func errnoText(_ error: Error) -> String {
        let ns = error as NSError
        if let u = ns.userInfo[NSUnderlyingErrorKey] as? NSError, u.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(u.code)))
        }
        return ns.localizedDescription
    }

    /// The writer's page cache in KiB: `steady` normally; `catchUp` while a
    /// backlog is read (a million-line queue after an outage), when every
    /// insert into the jobs' time indexes lands on a random page and a small
    /// cache turns each into a read. Handed back by `releaseMemory()`.
    public enum WriterCache: Int, Sendable {
        case steady = 20_480
        case catchUp = 262_144
    }

    public func setWriterCache(_ size: WriterCache) {
        // While catching up, the WAL is also folded back into the database
        // less often (40 MiB rather than 4), so a page written by several
        // batches is copied back once.
        let checkpoint = size == .catchUp ? 10_000 : 1_000
        try? pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA cache_size = -\(size.rawValue); PRAGMA wal_autocheckpoint = \(checkpoint)")
        }
    }

    /// Hands back what a bulk read filled: the writer's page cache and the C
    /// heap's free pages. An idle daemon should hold its working set, not its
    /// peak. (Not GRDB's `releaseMemory()`: closing the readers goes through a
    /// concurrent dispatch queue, and libdispatch then keeps a worker thread
    /// that wakes every second for good.)
    public func releaseMemory() {
        pool.writeWithoutTransaction { $0.releaseMemory() }
        malloc_trim(0)
    }

    // MARK: Queue position and totals

    /// What `status` reports from the database, read in one go.
    public struct StatusSnapshot: Sendable {
        public var totals: QueueTotals
        public var patients: Int
        public var bookings: Int
        public var jobCounts: [String: [String: Int]]
        public var nextDueAt: Date?
        public var lastDispatch: Date?
        public var paused: Bool
    }

    /// The status figures, read again only after a write: counting a million
    /// patients for every `status` (a monitoring probe may ask many times a
    /// second) would make the answer cost more than the work it reports on.
    nonisolated(nonsending) public func statusSnapshot() async throws -> StatusSnapshot {
        let seen = writes.load(ordering: .sequentiallyConsistent)
        if let cached = statusCache.withLock({ $0 }), cached.writes == seen { return cached.snapshot }
        let snapshot = try await pool.read { db in
            StatusSnapshot(
                totals: try Self.readTotals(db),
                patients: try Int.fetchOne(db, sql: "SELECT count(*) FROM patients") ?? 0,
                bookings: try Int.fetchOne(db, sql: "SELECT count(*) FROM bookings WHERE cancelled = 0") ?? 0,
                jobCounts: try Self.readJobCounts(db),
                nextDueAt: try Int64.fetchOne(db, sql: "SELECT next_check_at FROM jobs WHERE next_check_at IS NOT NULL AND state = 'scheduled' ORDER BY next_check_at LIMIT 1").map(Date.init(millis:)),
                lastDispatch: try Int64.fetchOne(db, sql: "SELECT max(at) FROM deliveries WHERE result = 'sent'").map(Date.init(millis:)),
                paused: try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = 'dispatch.paused'") == "1")
        }
        // Kept only if nothing was written meanwhile: it would be stale at once.
        statusCache.withLock { if writes.load(ordering: .sequentiallyConsistent) == seen { $0 = (seen, snapshot) } }
        return snapshot
    }

    public func queueTotals() throws -> QueueTotals {
        try pool.read { db in try Self.readTotals(db) }
    }

    public func queueTotalsAsync() async throws -> QueueTotals {
        try await pool.read { db in try Self.readTotals(db) }
    }

    static func readTotals(_ db: Database) throws -> QueueTotals {
        let row = try Row.fetchOne(db, sql: "SELECT * FROM queue_state WHERE id = 1")!
        let pos = QueuePosition(
            device: (row["device"] as Int64?).map { UInt64(bitPattern: $0) },
            inode: (row["inode"] as Int64?).map { UInt64(bitPattern: $0) },
            offset: row["offset"], line: row["line"],
            firstLineHash: (row["first_line_hash"] as Int64?).map { UInt64(bitPattern: $0) })
        let counts = IngestCounts(ingested: row["ingested"], duplicates: row["duplicates"], rejected: row["rejected"])
        let last = (row["last_read_at"] as Int64?).map { Date(millis: $0) }
        return QueueTotals(position: pos, counts: counts, lastReadAt: last)
    }

    // MARK: Ingest

    /// Applies `lines` in order and moves the read position to `position`, in one transaction.
    public func apply(_ lines: [IngestLine], position: QueuePosition, now: Date, rules: SchedulingRules) throws -> IngestCounts {
        try write { db in
            var applier = try EventApplier(db: db, now: now, rules: rules)
            var counts = IngestCounts()
            for line in lines {
                try applier.apply(line, counts: &counts)
            }
            try applier.jobs.flushCounts()
            try db.execute(
                sql: """
                    UPDATE queue_state SET device = ?, inode = ?, offset = ?, line = ?, first_line_hash = ?,
                        ingested = ingested + ?, duplicates = duplicates + ?, rejected = rejected + ?,
                        last_read_at = ?
                    WHERE id = 1
                    """,
                arguments: [position.device.map { Int64(bitPattern: $0) }, position.inode.map { Int64(bitPattern: $0) },
                            position.offset, position.line, position.firstLineHash.map { Int64(bitPattern: $0) },
                            counts.ingested, counts.duplicates, counts.rejected, now.millis])
            counts.changedJobs = applier.changedJobs
            return counts
        }
    }

    // MARK: Reads for the control socket

    public func rejects(limit: Int, withRaw: Bool) async throws -> [RejectRecord] {
        try await pool.read { db in
            let rows = try Row.fetchAll(db, sql: "SELECT * FROM rejects ORDER BY id DESC LIMIT ?", arguments: [limit])
            return rows.reversed().map { row in
                RejectRecord(line: row["line"], offset: row["offset"], eventID: row["event_id"], code: row["code"],
                             message: row["message"],
                             raw: withRaw ? (row["raw"] as Data?).map { String(decoding: $0, as: UTF8.self) } : nil,
                             at: Date(millis: row["at"]))
            }
        }
    }

    public func patient(id: String) throws -> Patient? {
        try pool.read { db in try EventApplier.loadPatient(db, id) }
    }

    public func booking(kind: BookingKind, ref: String) throws -> Booking? {
        try pool.read { db in try EventApplier.loadBooking(db, kind, ref) }
    }

    // MARK: Small settings the daemon keeps

    public func meta(_ key: String) throws -> String? {
        try pool.read { db in try String.fetchOne(db, sql: "SELECT value FROM meta WHERE key = ?", arguments: [key]) }
    }

    public func setMeta(_ key: String, _ value: String) throws {
        try write { db in
            try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", arguments: [key, value])
        }
    }

    // MARK: Audit

    /// Records who changed what: every change through the socket, reloads, rotations.
    public func audit(actor: String, action: String, subject: String? = nil, detail: String? = nil, now: Date = Date()) throws {
        try write { db in
            try db.execute(sql: "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
                           arguments: [now.millis, actor, action, subject, detail])
        }
    }
}

extension Date {
    /// Milliseconds since the epoch, as the database stores instants.
    public var millis: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
    public init(millis: Int64) { self.init(timeIntervalSince1970: TimeInterval(millis) / 1000) }
}
