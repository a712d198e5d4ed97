import Foundation
import GRDB
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The daemon's database, opened read-only, to check what it holds.
func stateDatabase(_ h: DaemonHarness) throws -> DatabaseQueue {
    var c = Configuration()
    c.readonly = true
    return try DatabaseQueue(path: h.databasePath, configuration: c)
}

/// Asks the daemon's database directly, to check it agrees with the file.
func query(_ h: DaemonHarness, _ sql: String) throws -> Int? {
    try stateDatabase(h).read { db in try Int.fetchOne(db, sql: sql) }
}

@Suite(.serialized) struct IngestTests {
    @Test func tenThousandGeneratedEventsWithNoRejects() throws {
        let h = try DaemonHarness()
        try QueueGenerator.write(.init(events: 10_000, start: h.time.day(10), seed: 7), to: h.queuePath)
        try h.start()
        let s = try h.status()
        #expect(s.queue.ingested == 10_000)
        #expect(s.queue.rejected == 0)
        #expect(s.queue.duplicates == 0)
        let size = try FileManager.default.attributesOfItem(atPath: h.queuePath)[.size] as! Int
        #expect(s.queue.offset == size)
        #expect(s.queue.line == 10_000)
        #expect(try query(h, "SELECT count(*) FROM events") == 10_000)
        #expect(try query(h, "SELECT count(*) FROM rejects") == 0)
        #expect(try query(h, "SELECT count(DISTINCT line) FROM events") == 10_000)
        // The state files hold patient data: owner only.
        for suffix in ["", "-wal"] {
            let mode = try FileManager.default.attributesOfItem(atPath: h.databasePath + suffix)[.posixPermissions] as! Int
            #expect(mode == 0o600, "mode of touchpoint.sqlite\(suffix) is \(String(mode, radix: 8))")
        }
        #expect(try h.stop() == 0)
    }

    @Test func everyFiftiethLineBrokenIsRejectedWithItsCode() throws {
        let h = try DaemonHarness()
        let broken = try QueueGenerator.write(.init(events: 10_000, start: h.time.day(10), seed: 11, badEvery: 50), to: h.queuePath)
        #expect(broken.count == 200)
        try h.start()
        let s = try h.status()
        #expect(s.queue.rejected == 200)
        #expect(s.queue.ingested == 9_800)
        let rejects = try h.ctlJSON(RejectsReport.self, ["rejects", "--limit", "1000"])
        #expect(rejects.total == 200)
        #expect(rejects.rejects.map(\.line) == broken.map(\.line))
        #expect(rejects.rejects.map(\.code) == broken.map(\.code))
        #expect(rejects.rejects.allSatisfy { $0.rawLine == nil })
        #expect(Set(rejects.rejects.map(\.line)) == Set(stride(from: 50, through: 10_000, by: 50)))
        // Every broken line still names its event id, even the ones cut short.
        #expect(rejects.rejects.allSatisfy { $0.eventID?.hasPrefix("gen-11-") == true })
        #expect(rejects.rejects.map(\.eventID) == broken.map { "gen-11-" + String(format: "%09d", $0.line - 1) })
        // The human table lists them too.
        let table = try h.ctl(["rejects", "--limit", "3"])
        #expect(table.status == 0)
        #expect(table.stdout.contains("LINE") && table.stdout.contains("9950"))
        try h.stop()
    }

    @Test func duplicatesAreCountedAndConflictsRejected() throws {
        let h = try DaemonHarness()
        let (d1, d2) = (h.time.day(4), h.time.day(5))
        let booked = #"{"v":1,"id":"e1","type":"surgery.booked","ref":"S1","patient":{"id":"P1","name":"Ann Example","phone":"07700 900123"},"at":"\#(d1)T08:30","ward":"Ward 7"}"#
        try h.appendLines([booked])
        try h.start()
        // The same event again, re-serialised: a duplicate. Same id, other content: a conflict.
        let reordered = #"{"id":"e1","v":1,"type":"surgery.booked","at":"\#(d1)T08:30","ref":"S1","ward":"Ward 7","patient":{"phone":"07700 900123","name":"Ann Example","id":"P1"}}"#
        let conflicting = #"{"v":1,"id":"e1","type":"surgery.booked","ref":"S1","patient":{"id":"P1"},"at":"\#(d2)T08:30","ward":"Ward 7"}"#
        let bookedAgain = #"{"v":1,"id":"e2","type":"surgery.booked","ref":"S1","patient":{"id":"P1"},"at":"\#(d2)T08:30","ward":"Ward 7"}"#
        let unknown = #"{"v":1,"id":"e3","type":"surgery.performed","ref":"S404","at":"\#(d2)T08:30"}"#
        try h.appendLines([booked, reordered, conflicting, bookedAgain, unknown])
        let report = try h.ctlJSON(IngestReport.self, ["ingest"])
        // The watcher may have read some of it already; the totals are what count.
        try h.waitUntil("all five lines read") { try h.status().queue.line == 6 }
        let s = try h.status()
        #expect(s.queue.ingested == 1)
        #expect(s.queue.duplicates == 2)
        #expect(s.queue.rejected == 3)
        #expect(report.offset == s.queue.offset)
        let r = try h.ctlJSON(RejectsReport.self, ["rejects"])
        #expect(r.rejects.map(\.code) == [.conflict, .conflict, .unknownRef])
        #expect(r.rejects.map(\.line) == [4, 5, 6])
        #expect(r.rejects[0].message.contains("different content"))
        #expect(r.rejects[1].message.contains("already booked"))
        // Admins may see the raw line.
        let shown = try h.ctlJSON(RejectsReport.self, ["rejects", "--show-line"])
        #expect(shown.rejects[2].rawLine == unknown)
        try h.stop()
    }

    @Test func aPartialLastLineWaitsForItsNewline() throws {
        let h = try DaemonHarness()
        try h.appendLines([#"{"v":1,"id":"p1","type":"treatment.completed","ref":"T-p1","at":"2026-01-01T10:00","patient":{"id":"P1"}}"#])
        try h.start()
        try h.append(#"{"v":1,"id":"p2","type":"treatment.completed","ref":"T-p2","at":"2026-01-01T10:00","#)
        _ = try h.ctlJSON(IngestReport.self, ["ingest"])
        var s = try h.status()
        #expect(s.queue.ingested == 1 && s.queue.rejected == 0 && s.queue.line == 1)
        try h.append(#""patient":{"id":"P2"}}"#)
        _ = try h.ctlJSON(IngestReport.self, ["ingest"])
        s = try h.status()
        #expect(s.queue.ingested == 1 && s.queue.rejected == 0)
        // The newline arrives: noticed by inotify, without an `ingest`.
        try h.append("\n")
        try h.waitUntil(timeout: 10, "the completed line is applied") { try h.status().queue.ingested == 2 }
        s = try h.status()
        #expect(s.queue.rejected == 0 && s.queue.line == 2)
        try h.stop()
    }

    @Test func blankAndOverlongLines() throws {
        let h = try DaemonHarness()
        let long = #"{"v":1,"id":"L","type":"surgery.cancelled","ref":"S","reason":""# + String(repeating: "x", count: 100_000) + #""}"#
        try h.append("\n   \t\n" + long + "\n" + #"{"v":1,"id":"ok","type":"treatment.completed","ref":"T-ok","at":"2026-01-01T10:00","patient":{"id":"P1"}}"# + "\n")
        try h.start()
        let s = try h.status()
        #expect(s.queue.ingested == 1)
        #expect(s.queue.rejected == 1)
        let r = try h.ctlJSON(RejectsReport.self, ["rejects"])
        #expect(r.rejects.first?.code == .lineTooLong)
        #expect(r.rejects.first?.line == 3)
        try h.stop()
    }

    @Test func killNineInTheMiddleOfALargeIngestLosesNothingAndDoublesNothing() throws {
        let h = try DaemonHarness()
        let total = 200_000
        try QueueGenerator.write(.init(events: total, start: h.time.day(10), seed: 3), to: h.queuePath)
        let size = try FileManager.default.attributesOfItem(atPath: h.queuePath)[.size] as! Int
        var kills = 0
        // Crash it at three different points of the ingest, then let it finish.
        for fraction in [0.15, 0.45, 0.75] {
            try h.start(waitReady: false)
            try h.waitUntil(timeout: 300, "ingest passes \(Int(fraction * 100))%") {
                try h.status().queue.offset >= Int(Double(size) * fraction)
            }
            let before = try h.status().queue.offset
            if before < size {
                try h.crash()
                kills += 1
            } else {
                try h.stop()
            }
        }
        #expect(kills >= 1, "the ingest finished before any kill; make the queue larger")
        try h.start(timeout: 300)
        let s = try h.status()
        #expect(s.queue.ingested == total)
        #expect(s.queue.duplicates == 0)
        #expect(s.queue.rejected == 0)
        #expect(s.queue.offset == size)
        #expect(try query(h, "SELECT count(*) FROM events") == total)
        #expect(try query(h, "SELECT count(DISTINCT line) FROM events") == total)
        #expect(try query(h, "SELECT min(line) FROM events") == 1)
        #expect(try query(h, "SELECT max(line) FROM events") == total)
        // The kept counts status shows agree with the tables.
        #expect(s.patients == (try query(h, "SELECT count(*) FROM patients")))
        #expect(s.bookings == (try query(h, "SELECT count(*) FROM bookings WHERE cancelled = 0")))
        // Planning happened exactly once too: each job was created once, and
        // the counts status keeps agree with the jobs themselves.
        #expect(try query(h, "SELECT count(*) FROM (SELECT job_id FROM job_history WHERE from_state IS NULL GROUP BY job_id HAVING count(*) > 1)") == 0)
        #expect(try query(h, "SELECT count(*) FROM jobs WHERE id NOT IN (SELECT job_id FROM job_history)") == 0)
        #expect(try query(h, """
            SELECT count(*) FROM (SELECT kind, state, count(*) FROM jobs GROUP BY kind, state
                                  EXCEPT SELECT kind, state, n FROM job_counts WHERE n != 0)
            """) == 0)
        try h.stop()
    }

    @Test func rotationByRenameAndTruncationPickUpTheNewContent() throws {
        let h = try DaemonHarness()
        func lines(_ prefix: String, _ n: Int) -> [String] {
            (1...n).map { #"{"v":1,"id":"\#(prefix)-\#($0)","type":"treatment.completed","ref":"T-\#(prefix)-\#($0)","at":"2026-01-01T10:00","patient":{"id":"P\#($0)"}}"# }
        }
        try h.appendLines(lines("a", 10))
        try h.start()
        #expect(try h.status().queue.ingested == 10)
        // logrotate-style: the old file is renamed (after one more line), a new one takes its place.
        try h.appendLines(lines("late", 1))
        try FileManager.default.moveItem(atPath: h.queuePath, toPath: h.queuePath + ".1")
        try h.appendLines(lines("b", 5))
        try h.waitUntil(timeout: 10, "the new file is read") { try h.status().queue.ingested == 16 }
        var s = try h.status()
        #expect(s.queue.line == 5)
        #expect(s.queue.duplicates == 0 && s.queue.rejected == 0)
        // Truncated in place and written anew.
        let fd = open(h.queuePath, O_WRONLY | O_TRUNC)
        close(fd)
        try h.appendLines(lines("c", 3))
        try h.waitUntil(timeout: 10, "the truncated file is read again") { try h.status().queue.ingested == 19 }
        s = try h.status()
        #expect(s.queue.line == 3)
        // Replaced by a longer file whose first line differs (copied over, same inode).
        try (lines("d", 30).joined(separator: "\n") + "\n").write(toFile: h.queuePath + ".new", atomically: false, encoding: .utf8)
        let data = try Data(contentsOf: URL(fileURLWithPath: h.queuePath + ".new"))
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: h.queuePath))
        try handle.truncate(atOffset: 0)
        try handle.write(contentsOf: data)
        try handle.close()
        try h.waitUntil(timeout: 10, "the rewritten file is read") { try h.status().queue.ingested == 49 }
        #expect(try h.status().queue.duplicates == 0)
        try h.stop()
    }

    @Test func aQueueFileThatDoesNotExistYetIsWaitedFor() throws {
        let h = try DaemonHarness()
        try h.start()
        var s = try h.status()
        #expect(s.queue.ingested == 0 && s.queue.error == nil)
        try h.appendLines([#"{"v":1,"id":"x","type":"treatment.completed","ref":"T-x","at":"2026-01-01T10:00","patient":{"id":"P1"}}"#])
        try h.waitUntil(timeout: 10, "the new file is read") { try h.status().queue.ingested == 1 }
        s = try h.status()
        #expect(s.queue.error == nil)
        try h.stop()
    }
}
