import Foundation
import GRDB
import TouchpointLinux
#if canImport(Glibc)
import Glibc
#endif

/// A backup taken (`touchpointctl backup`).
public struct StoreBackup: Equatable, Sendable {
    public var path: String
    public var bytes: Int
    /// Events the backup holds: how far into the queue its state is.
    public var queueLine: Int
    /// Older backups removed to keep `backup.keep`.
    public var removed: [String]
}

extension Store {
    /// A consistent copy of the state taken while the service runs (SQLite's
    /// online backup, from one read snapshot: writers carry on), into
    /// `directory/touchpoint-YYYYMMDDTHHMMSS.db`, `0600` from its first
    /// byte, checked with `PRAGMA integrity_check`, made durable and only
    /// then given its name; the oldest beyond `keep` are removed.
    /// `stamp`: the hospital's local time of the backup, `YYYYMMDDTHHMMSS`.
    public func backup(into directory: String, stamp: String, keep: Int) async throws -> StoreBackup {
        try await readers.run { try self.blockingBackup(into: directory, stamp: stamp, keep: keep) }
    }

    func blockingBackup(into directory: String, stamp: String, keep: Int) throws -> StoreBackup {
        Blocking.check()
        if mkdir(directory, 0o700) != 0 && errno != EEXIST {
            throw StoreError("backup directory \(directory): cannot create: \(String(cString: strerror(errno)))")
        }
        var name = "touchpoint-\(stamp).db"
        var n = 1
        while FileManager.default.fileExists(atPath: directory + "/" + name) {
            n += 1
            name = "touchpoint-\(stamp)-\(n).db"
        }
        let final = directory + "/" + name
        let partial = directory + "/." + name + ".partial"
        unlink(partial)
        try Store.createOwnerOnly(partial, exclusive: true)
        do {
            var config = Configuration()
            config.label = "touchpoint-backup"
            let copy = try DatabaseQueue(path: partial, configuration: config)
            try pool.backup(to: copy)
            let (check, line) = try Self.checked(copy)
            // A backup is one file: no journal beside it.
            try copy.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
            try copy.close()
            guard check == "ok" else { throw StoreError("backup \(partial): integrity_check says \(check.prefix(200))") }
            try Self.durable(partial)
            guard rename(partial, final) == 0 else { throw StoreError("backup \(final): cannot rename: \(String(cString: strerror(errno)))") }
            try Self.durable(directory)
            let bytes = (try? FileManager.default.attributesOfItem(atPath: final)[.size] as? Int) ?? 0
            return StoreBackup(path: final, bytes: bytes, queueLine: line ?? 0, removed: try Self.prune(directory, keep: keep))
        } catch {
            unlink(partial)
            throw error
        }
    }

    /// A database's `integrity_check` ("ok" when whole) and how far into
    /// the queue its state is (nil: not touchpoint's state).
    static func checked(_ db: some DatabaseReader) throws -> (integrity: String, queueLine: Int?) {
        try db.read { db in
            (try String.fetchAll(db, sql: "PRAGMA integrity_check").joined(separator: "; "),
             try Int.fetchOne(db, sql: "SELECT line FROM queue_state WHERE id = 1"))
        }
    }

    /// Creates `path` (or, not `exclusive`, opens it) `0600` from its first
    /// byte: it holds patient data.
    static func createOwnerOnly(_ path: String, exclusive: Bool) throws(StoreError) {
        let fd = Glibc.open(path, O_RDWR | O_CREAT | O_CLOEXEC | (exclusive ? O_EXCL : 0), 0o600)
        guard fd >= 0 else { throw StoreError("\(path): cannot create: \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o600)
        Glibc.close(fd)
    }

    /// fsync of a file or a directory.
    static func durable(_ path: String) throws {
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw StoreError("\(path): cannot open to sync: \(String(cString: strerror(errno)))") }
        defer { Glibc.close(fd) }
        guard fsync(fd) == 0 else { throw StoreError("\(path): fsync failed: \(String(cString: strerror(errno)))") }
    }

    /// Removes the oldest backups beyond `keep`, oldest by when each was
    /// written (two in one second share a stamp, told apart by `-2`).
    static func prune(_ directory: String, keep: Int) throws -> [String] {
        func written(_ f: String) -> Date {
            ((try? FileManager.default.attributesOfItem(atPath: directory + "/" + f)[.modificationDate]) as? Date) ?? .distantPast
        }
        let names: [String] = try FileManager.default.contentsOfDirectory(atPath: directory)
            .filter { $0.hasPrefix("touchpoint-") && $0.hasSuffix(".db") }
        let dated: [(name: String, at: Date)] = names.map { (name: $0, at: written($0)) }
        let all: [String] = dated.sorted { a, b in a.at != b.at ? a.at < b.at : a.name < b.name }.map(\.name)
        let old = all.dropLast(max(keep, 1))
        for f in old { unlink(directory + "/" + f) }
        return old.map { directory + "/" + $0 }
    }
}

/// What `touchpointd --restore` put in place.
public struct StoreRestore: Equatable, Sendable {
    /// How far into the queue the restored state had read: the daemon reads on from there.
    public var queueLine: Int
    /// The database the restore replaced, kept beside it (nil if there was none).
    public var keptAs: String?
}

extension Store {
    /// Puts `backup` in place of the database at `path`, offline (the
    /// daemon stopped): the backup is checked with `integrity_check`, copied
    /// `0600` and owned as the state directory is, **dispatch is paused in
    /// the copy** (notices sent since the backup are due again: an admin
    /// looks before `touchpointctl resume`), and the database it replaces,
    /// with its `-wal`, is kept as `path.before-restore-STAMP`, never deleted.
    public static func restore(backup: String, to path: String, stamp: String) throws -> StoreRestore {
        var readOnly = Configuration()
        readOnly.readonly = true
        let check = try checked(DatabaseQueue(path: backup, configuration: readOnly))
        guard check.0 == "ok" else { throw StoreError("backup \(backup): integrity_check says \(check.0.prefix(200)); not restored") }
        guard let line = check.1 else { throw StoreError("backup \(backup): not a touchpoint state database (no queue position); not restored") }
        let dir = (path as NSString).deletingLastPathComponent
        var st = stat()
        guard stat(dir, &st) == 0 else { throw StoreError("state_dir \(dir): \(String(cString: strerror(errno)))") }
        let incoming = path + ".restoring"
        unlink(incoming)
        try createOwnerOnly(incoming, exclusive: true)
        do {
            let copy = try DatabaseQueue(path: incoming)
            try DatabaseQueue(path: backup, configuration: readOnly).backup(to: copy)
            try copy.write { db in
                try db.execute(sql: "INSERT OR REPLACE INTO meta (key, value) VALUES (?, '1')", arguments: [Setting.dispatchPaused.rawValue])
            }
            try copy.writeWithoutTransaction { db in try db.execute(sql: "PRAGMA journal_mode = DELETE") }
            try copy.close()
            guard chown(incoming, st.st_uid, st.st_gid) == 0 || getuid() != 0 else {
                throw StoreError("\(incoming): cannot give it to the state directory's owner: \(String(cString: strerror(errno)))")
            }
            try durable(incoming)
        } catch {
            unlink(incoming)
            throw error
        }
        var kept: String?
        if FileManager.default.fileExists(atPath: path) {
            let aside = "\(path).before-restore-\(stamp)"
            for suffix in ["", "-wal", "-shm"] where FileManager.default.fileExists(atPath: path + suffix) {
                guard rename(path + suffix, aside + suffix) == 0 else {
                    throw StoreError("\(path + suffix): cannot move aside: \(String(cString: strerror(errno))); nothing was replaced")
                }
            }
            kept = aside
        }
        guard rename(incoming, path) == 0 else { throw StoreError("\(path): cannot put the backup in place: \(String(cString: strerror(errno)))") }
        try durable(dir)
        return StoreRestore(queueLine: line, keptAs: kept)
    }
}
