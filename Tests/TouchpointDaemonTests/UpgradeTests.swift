import Foundation
import GRDB
import Testing
import TouchpointTestSupport

/// Each row of `sql` in the daemon's database, its columns joined.
func rows(_ h: DaemonHarness, _ sql: String) throws -> [String] {
    try stateDatabase(h).read { db in
        try Row.fetchAll(db, sql: sql).map { row in
            row.databaseValues.map { $0.isNull ? "∅" : "\($0.storage)" }.joined(separator: "|")
        }
    }
}

/// An installed daemon's database, made by the release before the batch
/// write path (commit bde8e65, schema v9): the new daemon opens it, carries
/// on reading the same queue file, and ends with the state it would have
/// made itself from the whole queue.
@Suite struct UpgradeTests {
    /// `queue.jsonl.gz`: 4,000 generated lines (`gen-queue.py --events 4000
    /// --start 2099-01-05 --seed 7 --bad-every 97`), fictional patients.
    /// `release.sqlite.gz`: the state `touchpointd` bde8e65 left after reading
    /// the first 3,000 of them (2,970 applied, 30 rejected) with `time_zone =
    /// "Etc/UTC"`, vacuumed.
    static let fixtures = DaemonHarness.repoRoot + "/Tests/Fixtures/release-bde8e65"

    /// The harness's config in the zone the fixture was made in (UTC: a
    /// fixed zone, and every booking in it is in 2099, so nothing here
    /// depends on the hour the test runs).
    static func utc(_ h: DaemonHarness) throws -> String {
        let config = h.config()
        let zone = "time_zone = \"\(h.time.zoneIdentifier)\""
        try #require(config.contains(zone))
        return config.replacingOccurrences(of: zone, with: "time_zone = \"Etc/UTC\"")
    }

    /// Unpacks `path` into `file`, byte for byte.
    static func gunzip(_ path: String, to file: String) throws {
        let r = try DaemonHarness.run("/bin/sh", ["-c", "gzip -dc \"$0\" > \"$1\"", path, file])
        guard r.status == 0 else { throw HarnessError("gzip -dc \(path): \(r.stderr)") }
    }

    /// What both databases must agree on: every column that does not record
    /// when this run happened to read a line. The jobs compared in full are
    /// those planned for 2099; a delay's notice is due when its line is read
    /// (the release read them on 2026-11-27, this run now, perhaps at night
    /// when quiet hours hold them), so only that it exists is compared.
    static let comparisons = [
        "SELECT kind, ref, patient_id, at, ward, procedure, admit_at, clinic, mode, expected_at, delay_reason, performed_at, cancelled, cancel_reason, revision, service, pathway FROM bookings ORDER BY kind, ref",
        "SELECT id, nhs_number, name, phone, email, channel, opted_out, voicemail_ok, deceased FROM patients ORDER BY id",
        "SELECT id, kind, booking_kind, ref, patient_id, expires_at FROM jobs ORDER BY id",
        "SELECT id, state, due_at, attempts, ward, expected_at, delay_reason, call_day, outcome, worklist, rule FROM jobs WHERE due_at > \(planned) ORDER BY id",
        "SELECT job_id, from_state, to_state, reason FROM job_history WHERE job_id IN (SELECT id FROM jobs WHERE due_at > \(planned)) ORDER BY job_id, id",
        "SELECT kind, state, count(*) FROM jobs WHERE due_at > \(planned) GROUP BY kind, state ORDER BY kind, state",
        "SELECT id, hash, type, ref, line, offset FROM events ORDER BY id",
        "SELECT line, offset, event_id, code, message FROM rejects ORDER BY line",
        "SELECT ref, expected_at FROM delays ORDER BY ref, expected_at",
    ]
    /// 2096-10-02: after the fixture was made, before its bookings.
    static let planned: Int64 = 4_000_000_000_000

    /// The counts `status` keeps, against the jobs themselves.
    static let countsDisagree = """
        SELECT count(*) FROM (SELECT kind, state, count(*) FROM jobs GROUP BY kind, state
                              EXCEPT SELECT kind, state, n FROM job_counts WHERE n != 0)
        """

    @Test func aDatabaseMadeByThePreviousReleaseIsCarriedOnAsIfThisReleaseHadMadeItAll() throws {
        let fresh = try DaemonHarness()
        // The release read the queue's local times in UTC.
        try fresh.writeConfig(Self.utc(fresh))
        let unpacked = fresh.dir + "/all.jsonl"
        try Self.gunzip(Self.fixtures + "/queue.jsonl.gz", to: unpacked)
        let lines = try String(contentsOfFile: unpacked, encoding: .utf8).split(separator: "\n").map(String.init)
        try #require(lines.count == 4000)

        // The upgraded daemon: the release's state and the queue file it read.
        let upgraded = try DaemonHarness()
        try upgraded.writeConfig(Self.utc(upgraded))
        try upgraded.appendLines(Array(lines[..<3000]))
        try FileManager.default.createDirectory(atPath: upgraded.stateDir, withIntermediateDirectories: true,
                                                attributes: [.posixPermissions: 0o700])
        try Self.gunzip(Self.fixtures + "/release.sqlite.gz", to: upgraded.databasePath)
        chmod(upgraded.databasePath, 0o600)
        #expect(try rows(upgraded, "SELECT identifier FROM grdb_migrations ORDER BY identifier").last?.contains("v9:") == true)
        // An upgrade keeps the queue file; the copy here is a new file, so the
        // position the release recorded is moved onto it.
        var st = stat()
        stat(upgraded.queuePath, &st)
        let db = try DatabaseQueue(path: upgraded.databasePath)
        try db.write { try $0.execute(sql: "UPDATE queue_state SET device = ?, inode = ?", arguments: [Int64(bitPattern: UInt64(st.st_dev)), Int64(bitPattern: UInt64(st.st_ino))]) }
        try db.close()

        try upgraded.start()
        var s = try upgraded.status()
        #expect(s.queue.ingested == 2970)
        #expect(s.queue.rejected == 30)
        #expect(s.queue.duplicates == 0, "the release's lines were read again")
        try upgraded.appendLines(Array(lines[3000...]))
        try upgraded.waitUntil(timeout: 60, "the rest of the queue is read") {
            s = try upgraded.status()
            return s.queue.line == 4000
        }
        try upgraded.stop()

        // The same queue, read whole by this release.
        try fresh.appendLines(lines)
        try fresh.start()
        let f = try fresh.status()
        try fresh.stop()

        // The counts v11 keeps: set from the release's tables by the
        // upgrade, carried on by ingest, equal to the tables in both.
        for (status, h) in [(s, upgraded), (f, fresh)] {
            #expect(["int64(\(status.patients))"] == (try rows(h, "SELECT count(*) FROM patients")))
            #expect(["int64(\(status.bookings))"] == (try rows(h, "SELECT count(*) FROM bookings WHERE cancelled = 0")))
        }
        #expect(s.patients == f.patients && s.bookings == f.bookings)
        #expect(s.queue.ingested == f.queue.ingested)
        #expect(s.queue.rejected == f.queue.rejected)
        #expect(s.queue.duplicates == 0 && f.queue.duplicates == 0)
        #expect(try rows(upgraded, Self.countsDisagree) == ["int64(0)"])
        #expect(try rows(fresh, Self.countsDisagree) == ["int64(0)"])
        for sql in Self.comparisons {
            let (a, b) = (try rows(upgraded, sql), try rows(fresh, sql))
            #expect(!a.isEmpty, "\(sql) found nothing")
            // (Compared first, so a difference is reported as its first row, not two whole tables.)
            let same = a == b
            #expect(same, "\(sql): \(a.count) rows against \(b.count); first difference: \(zip(a, b).first { $0 != $1 }.map { "\($0.0) / \($0.1)" } ?? "in the row count")")
        }
    }

    /// kill -9 while the upgrade runs: the database stays as it was (each
    /// migration is one transaction), the next start runs it again, and
    /// nothing read before is lost or read twice.
    @Test func killNineDuringTheUpgradeLosesNothing() throws {
        let h = try DaemonHarness()
        try QueueGenerator.write(.init(events: 200_000, start: h.time.day(10), seed: 5), to: h.queuePath)
        try h.start(timeout: 300)
        let before = try h.status()
        try h.stop()
        let v10 = "SELECT count(*) FROM grdb_migrations WHERE identifier LIKE 'v10:%'"
        /// The database as the release left it: v10 and v12 add an index
        /// each, v11 two counts to the queue's row (which the release's code
        /// never reads).
        func downgrade() throws {
            let db = try DatabaseQueue(path: h.databasePath)
            try db.write {
                try $0.execute(sql: """
                    DROP INDEX IF EXISTS jobs_due_notices; DROP INDEX IF EXISTS deliveries_sent;
                    DELETE FROM grdb_migrations WHERE identifier LIKE 'v10:%' OR identifier LIKE 'v11:%' OR identifier LIKE 'v12:%'
                    """)
                if try $0.columns(in: "queue_state").contains(where: { $0.name == "patients" }) {
                    try $0.execute(sql: "ALTER TABLE queue_state DROP COLUMN patients; ALTER TABLE queue_state DROP COLUMN open_bookings")
                }
            }
            try db.close()
        }
        var interrupted = 0
        for _ in 0..<10 where interrupted < 2 {
            try downgrade()
            let notices = h.daemonStderr.components(separatedBy: "upgrading the database").count
            try h.start(waitReady: false)
            let deadline = Date().addingTimeInterval(60)
            while h.daemonStderr.components(separatedBy: "upgrading the database").count == notices && Date() < deadline {
                usleep(500)
            }
            try h.crash()
            // Killed before the migration committed: the database lacks v10.
            if try rows(h, v10) == ["int64(0)"] { interrupted += 1 }
        }
        print("upgrade interrupted by kill -9 \(interrupted) time(s)")
        #expect(interrupted >= 1, "every kill came after the upgrade had committed; make the state larger")
        if try rows(h, v10) != ["int64(0)"] { try downgrade() }
        try h.start(timeout: 300)
        let after = try h.status()
        try h.stop()
        #expect(h.daemonStderr.contains("upgrading the database"))
        #expect(try rows(h, v10) == ["int64(1)"])
        #expect(try rows(h, "PRAGMA integrity_check") == [#"string("ok")"#])
        #expect(after.queue.ingested == before.queue.ingested && after.queue.ingested == 200_000)
        #expect(after.queue.duplicates == 0 && after.queue.rejected == 0)
        #expect(after.jobs == before.jobs)
        #expect(after.patients == before.patients && after.bookings == before.bookings)
        #expect(try rows(h, Self.countsDisagree) == ["int64(0)"])
    }
}
