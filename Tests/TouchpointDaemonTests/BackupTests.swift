import Foundation
import GRDB
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

/// `touchpointctl backup` (cli.md) and the README's restore, on the real
/// daemon: a backup taken while 10,000 events are read is whole, and a
/// restore from it, once the rest of the queue is read again, reaches the
/// state the run that made it reached.
@Suite struct BackupTests {
    /// What the state has come to: every job's id, kind, state, due time and
    /// revision, and how many events, bookings and patients it holds.
    func endState(_ h: DaemonHarness) throws -> [String] {
        try stateDatabase(h).read { db in
            try String.fetchAll(db, sql: "SELECT id || ' ' || kind || ' ' || state || ' ' || due_at || ' ' || revision FROM jobs ORDER BY id")
                + [try String.fetchOne(db, sql: "SELECT (SELECT count(*) FROM events) || ' ' || (SELECT count(*) FROM bookings) || ' ' || (SELECT count(*) FROM patients)") ?? ""]
        }
    }

    @Test func aBackupTakenWhileTenThousandEventsAreReadRestoresToTheSameEndState() throws {
        let h = try DaemonHarness(extraConfig: "[backup]\nkeep = 30\n")
        try h.start()
        let lines = QueueGenerator.lines(.init(events: 10_000, start: h.time.day(10), seed: 5))
        var backups: [BackupReport] = []
        for chunk in stride(from: 0, to: lines.count, by: 1000) {
            try h.appendLines(Array(lines[chunk..<min(chunk + 1000, lines.count)]))
            backups.append(try h.ctlJSON(BackupReport.self, ["backup"]))
        }
        try h.waitUntil(timeout: 120, "all 10,000 read") { try h.status().queue.line == 10_000 }
        // Each is whole, 0600, in STATE_DIR/backups; at least one caught the queue part read.
        for b in backups {
            #expect(b.path.hasPrefix(h.stateDir + "/backups/touchpoint-") && b.path.hasSuffix(".db"))
            let mode = try FileManager.default.attributesOfItem(atPath: b.path)[.posixPermissions] as! Int
            #expect(mode == 0o600, "\(b.path): \(String(mode, radix: 8))")
            let check = try DaemonHarness.run("/usr/bin/sqlite3", ["-readonly", b.path, "PRAGMA integrity_check"])
            #expect(check.stdout == "ok\n", "\(check.stdout) \(check.stderr)")
            #expect(!FileManager.default.fileExists(atPath: b.path + "-wal"), "one file, no journal beside it")
        }
        let midway = try #require(backups.first { $0.queueLine > 0 && $0.queueLine < 10_000 }, "\(backups.map(\.queueLine))")
        try h.waitUntil(timeout: 60, "the jobs planned") { try h.status().jobs.values.flatMap(\.values).reduce(0, +) > 0 }
        let before = try endState(h)
        // Refused while touchpointd runs: it holds the state.
        let running = try h.runDaemonToExit(["--restore", midway.path, "--config", h.configPath])
        #expect(running.status == 1 && running.stderr.contains("stop it first"), "\(running.stderr)")
        #expect(try h.stop() == 0)

        // The README's restore: stopped, touchpointd --restore BACKUP, start.
        let restored = try h.runDaemonToExit(["--restore", midway.path, "--config", h.configPath])
        #expect(restored.status == 0, "\(restored.stderr)")
        #expect(restored.stdout.contains("queue line \(midway.queueLine)") && restored.stdout.contains("dispatch is paused"), "\(restored.stdout)")
        let mode = try FileManager.default.attributesOfItem(atPath: h.databasePath)[.posixPermissions] as! Int
        #expect(mode == 0o600)
        let kept = try FileManager.default.contentsOfDirectory(atPath: h.stateDir).filter { $0.hasPrefix("touchpoint.sqlite.before-restore-") }
        #expect(kept.contains { !$0.hasSuffix("-wal") && !$0.hasSuffix("-shm") }, "the replaced database is kept: \(kept)")
        try h.start()
        #expect(try h.status().state == "paused", "dispatch starts paused after a restore")
        try h.waitUntil(timeout: 120, "the rest of the queue read again") { try h.status().queue.line == 10_000 }
        let s = try h.status()
        // From the backup's position: had it read the queue from the start, the backup's events would be duplicates.
        #expect(s.queue.ingested == 10_000 && s.queue.duplicates == 0 && s.queue.rejected == 0,
                "\(s.queue.ingested) applied, \(s.queue.duplicates) duplicates (the backup had \(midway.queueLine))")
        try h.waitUntil(timeout: 60, "the same end state") { try endState(h) == before }
        #expect(try endState(h) == before)
        #expect(try h.ctlJSON(StatusReport.self, ["resume"]).state == "running")
        #expect(try h.stop() == 0)
        // A file that is not a backup is refused, and nothing is replaced.
        try "not a database".write(toFile: h.dir + "/junk.db", atomically: true, encoding: .utf8)
        let junk = try h.runDaemonToExit(["--restore", h.dir + "/junk.db", "--config", h.configPath])
        #expect(junk.status == 1, "\(junk.stderr)")
        #expect(try endState(h) == before, "nothing replaced")
    }

    @Test func backupKeepRemovesTheOldestAndOnlyAnAdminTakesOne() throws {
        let h = try DaemonHarness(extraConfig: "[backup]\nkeep = 2\n")
        try h.start()
        defer { _ = try? h.stop() }
        let made = try (0..<3).map { _ in try h.ctlJSON(BackupReport.self, ["backup"]) }
        #expect(made[2].removed == [made[0].path])
        let left = try FileManager.default.contentsOfDirectory(atPath: h.stateDir + "/backups").filter { $0.hasSuffix(".db") }.sorted()
        #expect(left == [made[1].path, made[2].path].map { ($0 as NSString).lastPathComponent }.sorted())
        #expect(try h.ctl(["backup"]).stdout.hasPrefix(h.stateDir + "/backups/touchpoint-"), "prints the path")
        #expect(!h.daemonStderr.contains("Example"), "no patient data in what it logs")
    }
}
