import CLinux
import Foundation
import GRDB
import Synchronization
import TouchpointDomain
import TouchpointLinux

#if canImport(Glibc)
import Glibc
#endif

/// Why the store could not be opened or written, in words an admin can act on.
public struct StoreError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

/// touchpoint's durable state: one SQLite database in `state_dir`.
///
/// WAL with `synchronous=FULL`: a committed batch (effects and read position
/// together) survives a crash or a power cut; readers (the control socket)
/// never wait for the writer (ingest).
///
/// Its only way in is `read` and `write`, which run on the store's own
/// threads (one writer, two readers): no SQLite call can block an event loop.
public final class Store: Sendable {
    public let path: String
    let pool: DatabasePool
    private let writer = BlockingLane(name: "store-writer")
    let readers = BlockingLane(name: "store-reader", threads: 2)
    /// Counts write transactions: what `status` last read stays true until it moves.
    private let writes = Atomic<UInt64>(0)
    private let statusCache = Mutex<(writes: UInt64, snapshot: StatusSnapshot)?>(nil)

    /// Write transactions so far: anything read from the database before it
    /// last moved may be stale.
    public var writeCount: UInt64 { writes.load(ordering: .sequentiallyConsistent) }

    /// Runs `body` in one write transaction on the writer's thread: all of it
    /// is committed, or none of it.
    public func write<T: Sendable>(_ body: @escaping @Sendable (StoreWriter) throws -> T) async throws -> T {
        try await writer.run { try self.blockingWrite(body) }
    }

    /// Runs `body` in a read transaction (a consistent snapshot) on a reader
    /// thread; readers never wait for the writer (WAL).
    public func read<T: Sendable>(_ body: @escaping @Sendable (StoreReader) throws -> T) async throws -> T {
        try await readers.run { try self.blockingRead(body) }
    }

    /// `write`, on the calling thread, which must be a lane's (the queue
    /// reader commits each batch from its own, while the next is parsed).
    /// Debug builds stop at once if it is an event loop.
    public func blockingWrite<T>(_ body: (StoreWriter) throws -> T) throws -> T {
        Blocking.check()
        defer { writes.add(1, ordering: .sequentiallyConsistent) }
        return try pool.write { db in
            let w = StoreWriter(transaction: StoreTransaction(db: db, cache: StatementCache(), counts: JobCountDeltas()))
            let result = try body(w)
            try w.flushCounts()
            return result
        }
    }

    /// `read`, on the calling thread, which must be a lane's.
    public func blockingRead<T>(_ body: (StoreReader) throws -> T) throws -> T {
        Blocking.check()
        return try pool.read { db in
            try body(StoreReader(transaction: StoreTransaction(db: db, cache: StatementCache(), counts: nil)))
        }
    }

    /// Opens (creating if needed) the database at `path`, mode 0600, and
    /// migrates it, on the store's writer thread. `migrating` hears the
    /// migrations an existing database is about to run, before they start
    /// (an upgrade over a large state takes a while; an admin should see why).
    public static func open(path: String, migrating: @escaping @Sendable ([String]) -> Void = { _ in }) async throws(StoreError) -> Store {
        let opening = BlockingLane(name: "store-open")
        defer { opening.shutdown() }
        do {
            return try await opening.run { try Store(path: path, migrating: migrating) }
        } catch let e as StoreError {
            throw e
        } catch {
            throw StoreError("database \(path): \(error)")
        }
    }

    init(path: String, migrating: ([String]) -> Void = { _ in }) throws(StoreError) {
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
        try Store.createOwnerOnly(path, exclusive: false)

        var config = Configuration()
        config.busyMode = .timeout(5)
        config.label = "touchpoint"
        // Only GRDB's synchronous API is used, on the store's own threads, so
        // its dispatch queues run our work inline and start no worker thread.
        // Should one ever start, the default QoS keeps the nice value the
        // service was given (the user-initiated default would try to lower it).
        config.qos = .default
        config.prepareDatabase { db in
            try db.execute(sql: "PRAGMA foreign_keys = ON")
            // A sort larger than the page cache (an index built by a
            // migration, a large ORDER BY) would otherwise go to unlinked
            // files in /var/tmp: building an index on patient ids over a
            // million events' state opened two there (measured with strace).
            // Patient data stays in the state database: sort in memory.
            try db.execute(sql: "PRAGMA temp_store = MEMORY")
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
                try db.execute(sql: "PRAGMA cache_size = -\(Self.writerCacheKiB)")
            }
            // Each migration is one transaction: a crash during one leaves the
            // database as it was before it, and the next start runs it again.
            let pending = try pool.read { db in try db.tableExists("grdb_migrations") ? try Schema.pending(db) : [] }
            if !pending.isEmpty { migrating(pending) }
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

    /// The writer's page cache in KiB. A catch-up does not get a larger one:
    /// a batch of 20,000 events dirties more pages than any cache that keeps
    /// the daemon within its memory budget, so SQLite writes them to the WAL
    /// as it goes either way. Measured on a million events: 256 MiB, 64 MiB
    /// and 24 MiB took the same time; the peak went from 411 to 139 MiB, and
    /// to 123-127 MiB with the heap trimmed after each batch. 8 MiB took the
    /// same time again and peaks 12-15 MiB lower; it left the idle daemon
    /// larger until the heap's thresholds were fixed (`Heap`, `docs/benchmarks.md` "The
    /// ingest write path").
    static let writerCacheKiB = 8_192

    /// While a backlog is read the WAL is folded back into the database less
    /// often (40 MiB rather than 4), so a page written by several batches is
    /// copied back once. On the calling lane's thread.
    public func setCatchingUp(_ catchingUp: Bool) {
        Blocking.check()
        try? pool.writeWithoutTransaction { db in
            try db.execute(sql: "PRAGMA wal_autocheckpoint = \(catchingUp ? 10_000 : 1_000)")
        }
    }

    /// Hands back what a bulk read filled: the writer's page cache and the C
    /// heap's free pages. An idle daemon should hold its working set, not its
    /// peak. (Not GRDB's `releaseMemory()`: closing the readers goes through a
    /// concurrent dispatch queue, and libdispatch then keeps a worker thread
    /// that wakes every second for good.)
    public func releaseMemory() async {
        _ = try? await writer.run {
            self.pool.writeWithoutTransaction { $0.releaseMemory() }
            Heap.handBackFreePages()
        }
    }

    /// Lets the work in hand finish, folds the WAL back into the database
    /// (a clean stop leaves one file a backup can copy) and stops the store's
    /// threads. The connections themselves are left for the kernel to close
    /// at exit: GRDB frees their dispatch queues through libdispatch, which
    /// would start a worker thread (and its renice warning) just to stop.
    public func close() async {
        _ = try? await writer.run {
            try self.pool.writeWithoutTransaction { try $0.checkpoint(.truncate) }
        }
        writer.shutdown()
        readers.shutdown()
    }

    // MARK: Status

    /// The status figures, read again only after a write: counting a million
    /// patients for every `status` (a monitoring probe may ask many times a
    /// second) would make the answer cost more than the work it reports on.
    public func statusSnapshot() async throws -> StatusSnapshot {
        let seen = writes.load(ordering: .sequentiallyConsistent)
        if let cached = statusCache.withLock({ $0 }), cached.writes == seen { return cached.snapshot }
        let snapshot = try await read { try $0.statusSnapshot() }
        // Kept only if nothing was written meanwhile: it would be stale at once.
        statusCache.withLock { if writes.load(ordering: .sequentiallyConsistent) == seen { $0 = (seen, snapshot) } }
        return snapshot
    }
}

extension Date {
    /// Milliseconds since the epoch, as the database stores instants.
    public var millis: Int64 { Int64((timeIntervalSince1970 * 1000).rounded()) }
    public init(millis: Int64) { self.init(timeIntervalSince1970: TimeInterval(millis) / 1000) }
}
