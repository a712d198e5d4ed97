import Foundation
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Things that go wrong on a real server, done to the real daemon: the disk
/// fills, the queue file is deleted or replaced under it, its database is held
/// by someone else, the gateway program vanishes. Each time it must say what is
/// wrong, keep answering, lose nothing, and carry on once the problem is gone.
@Suite(.serialized) struct FailureDrillTests {
    static let isRoot = getuid() == 0

    func patients(_ prefix: String, _ range: ClosedRange<Int>) -> [String] {
        range.map {
            #"{"v":1,"id":"\#(prefix)-\#($0)","type":"treatment.completed","ref":"T-\#(prefix)-\#($0)","at":"2026-01-01T10:00","patient":{"id":"\#(prefix)P\#($0)","name":"Drill Patient \#($0)","phone":"07700 900\#(String(format: "%03d", $0 % 1000))","email":"drill\#($0)@example.org"}}"#
        }
    }

    // MARK: The state directory's filesystem fills up

    @Test(.enabled(if: isRoot, "mounting a small tmpfs needs root"))
    func aFullDiskIsReportedReadsKeepWorkingAndIngestResumesWhenSpaceReturns() throws {
        let h = try DaemonHarness()
        try FileManager.default.createDirectory(atPath: h.stateDir, withIntermediateDirectories: true)
        let mount = try DaemonHarness.run("/bin/mount", ["-t", "tmpfs", "-o", "size=3m,mode=0700", "tmpfs", h.stateDir])
        try #require(mount.status == 0, "mount: \(mount.stderr)")
        defer { _ = try? DaemonHarness.run("/bin/umount", ["-l", h.stateDir]) }

        // Three patients whose wait notices come due while the disk is full.
        let admit = Date().addingTimeInterval(4)
        let waits = (1...3).map {
            #"{"v":1,"id":"w\#($0)","type":"surgery.booked","ref":"S\#($0)","patient":{"id":"W\#($0)","phone":"07700 900\#($0)00"},"at":"\#(Timestamp.rfc3339(admit.addingTimeInterval(3600)))","admit_at":"\#(Timestamp.rfc3339(admit))","ward":"Ward 7"}"#
        }
        try h.appendLines(patients("a", 1...47) + waits)
        try h.start()
        #expect(try h.status().queue.ingested == 50)

        // Fill the filesystem to the last byte.
        let filler = h.stateDir + "/filler"
        let fd = open(filler, O_WRONLY | O_CREAT, 0o600)
        let chunk = [UInt8](repeating: 0x41, count: 64 * 1024)
        while chunk.withUnsafeBytes({ write(fd, $0.baseAddress, $0.count) }) > 0 {}
        #expect(errno == ENOSPC)
        while chunk.withUnsafeBytes({ write(fd, $0.baseAddress, 512) }) > 0 {}
        close(fd)

        try h.appendLines(patients("b", 1...3000))
        try h.waitUntil(timeout: 30, "the full disk is reported") {
            try h.status().queue.error?.contains("full") == true
        }
        // It keeps answering reads while it cannot write.
        let s = try h.status()
        #expect(s.queue.ingested < 3050)
        #expect(s.state == "running")
        #expect(try h.ctl(["rejects"]).status == 0)
        #expect(try h.ctl(["jobs"]).status == 0)
        #expect(h.daemonStderr.contains("cannot commit queue lines to the database"))
        // The notices come due meanwhile: the engine cannot record that, says
        // so, and stays up.
        try h.waitUntil(timeout: 30, "the engine reports it cannot write") {
            h.daemonStderr.contains("could not update the jobs")
        }
        #expect(try h.status().state == "running")
        #expect(try h.ctlJSON(JobView.self, ["job", "wait-S1-1"]).state == .scheduled)

        // Space comes back: no file event, yet it picks up where it stopped.
        try FileManager.default.removeItem(atPath: filler)
        try h.waitUntil(timeout: 60, "ingest resumes once there is space") { try h.status().queue.ingested == 3050 }
        let after = try h.status()
        #expect(after.queue.error == nil)
        #expect(after.queue.rejected == 0 && after.queue.duplicates == 0)
        #expect(try query(h, "SELECT count(*) FROM events") == 3050)
        #expect(try query(h, "SELECT count(*) FROM patients") == 3050)
        try h.waitUntil(timeout: 90, "the wait notices go once there is space") {
            try (1...3).allSatisfy { try h.ctlJSON(JobView.self, ["job", "wait-S\($0)-1"]).state == .done }
        }
        let outbox = try FileManager.default.contentsOfDirectory(atPath: h.dir + "/spool/outbox").filter { $0.hasSuffix(".json") && !$0.hasPrefix(".") }
        #expect(outbox.count == 3, "each notice sent once: \(outbox)")
        try h.stop()
        // The failed writes were logged without the data they carried.
        for secret in ["Drill Patient", "07700 900", "+44770090", "@example.org"] {
            #expect(!h.daemonStderr.contains(secret), "the log holds patient data: \(secret)")
        }
        // And a restart finds all of it.
        try h.start()
        #expect(try h.status().queue.ingested == 3050)
        try h.stop()
    }

    // MARK: The queue file, under the daemon's feet

    @Test func theQueueFileDeletedWhileRunningIsWaitedForAndItsSuccessorRead() throws {
        let h = try DaemonHarness()
        try h.appendLines(patients("a", 1...5))
        try h.start()
        #expect(try h.status().queue.ingested == 5)
        try FileManager.default.removeItem(atPath: h.queuePath)
        // Gone is waited for, not an error, and the daemon stays up.
        Thread.sleep(forTimeInterval: 0.5)
        var s = try h.status()
        #expect(s.queue.error == nil && s.queue.ingested == 5)
        try h.appendLines(patients("b", 1...3))
        try h.waitUntil(timeout: 10, "the new file is read") { try h.status().queue.ingested == 8 }
        s = try h.status()
        #expect(s.queue.line == 3 && s.queue.duplicates == 0 && s.queue.rejected == 0)
        try h.stop()
    }

    @Test func aQueueFileReplacedByRenameIsReadFromItsStart() throws {
        let h = try DaemonHarness()
        try h.appendLines(patients("a", 1...5))
        try h.start()
        // The writer's atomic replace: the new file holds the old lines and more.
        let next = h.queuePath + ".tmp"
        try ((patients("a", 1...5) + patients("b", 1...4)).joined(separator: "\n") + "\n").write(toFile: next, atomically: false, encoding: .utf8)
        #expect(rename(next, h.queuePath) == 0)
        try h.waitUntil(timeout: 10, "the replacement is read") { try h.status().queue.ingested == 9 }
        let s = try h.status()
        #expect(s.queue.duplicates == 5, "the old lines are counted as duplicates, not applied twice")
        #expect(s.queue.line == 9)
        try h.stop()
    }

    @Test func aQueueFileReplacedByAnUnreadableOneIsReportedThenRead() throws {
        let h = try DaemonHarness()
        try h.appendLines(patients("a", 1...5))
        // As root everything is readable: run the daemon as nobody, who owns the state.
        let user: String? = Self.isRoot ? "nobody" : nil
        if user != nil {
            try FileManager.default.createDirectory(atPath: h.stateDir, withIntermediateDirectories: true)
            _ = chown(h.stateDir, 65534, 65534)
            _ = chown(h.dir, 65534, 65534)
        }
        try h.start(user: user)
        #expect(try h.status().queue.ingested == 5)
        // Made unreadable in place: the file it has open still reads, so
        // lines written meanwhile are not lost.
        chmod(h.queuePath, 0o000)
        try h.appendLines(patients("m", 1...2))
        try h.waitUntil(timeout: 10, "lines appended after chmod 000 are read through the open file") { try h.status().queue.ingested == 7 }
        #expect(try h.status().queue.error == nil)
        let next = h.queuePath + ".tmp"
        try (patients("b", 1...4).joined(separator: "\n") + "\n").write(toFile: next, atomically: false, encoding: .utf8)
        chmod(next, 0o000)
        #expect(rename(next, h.queuePath) == 0)
        try h.waitUntil(timeout: 10, "the unreadable file is reported") {
            try h.status().queue.error?.contains("Permission denied") == true
        }
        #expect(try h.status().queue.ingested == 7)
        chmod(h.queuePath, 0o644)
        try h.waitUntil(timeout: 10, "it is read once readable") { try h.status().queue.ingested == 11 }
        #expect(try h.status().queue.error == nil)
        try h.stop()
    }

    // MARK: The database, at start

    @Test func aDatabaseHeldByAnotherProcessIsRefusedAtStartAndNothingIsLost() throws {
        let h = try DaemonHarness()
        try h.appendLines(patients("a", 1...20))
        try h.start()
        try h.stop()
        // A sqlite3 shell in the middle of a write transaction.
        let marker = h.dir + "/locked"
        let holder = Process()
        holder.executableURL = URL(fileURLWithPath: "/usr/bin/sqlite3")
        holder.arguments = [h.databasePath, "BEGIN IMMEDIATE;", ".shell touch \(marker)", ".shell sleep 8"]
        holder.standardOutput = FileHandle.nullDevice
        holder.standardError = FileHandle.nullDevice
        try holder.run()
        defer { if holder.isRunning { holder.terminate() }; holder.waitUntilExit() }
        try h.waitUntil(timeout: 10, "sqlite3 holds the write lock") { FileManager.default.fileExists(atPath: marker) }

        let r = try h.runDaemonToExit(["--config", h.configPath], timeout: 30)
        #expect(r.status == 1)
        #expect(r.stderr.contains("is locked by another process"), "\(r.stderr)")
        #expect(!r.stderr.contains("ready"))
        holder.terminate()
        holder.waitUntilExit()

        try h.start()
        let s = try h.status()
        #expect(s.queue.ingested == 20 && s.queue.duplicates == 0)
        try h.stop()
    }

    @Test func aDatabaseWithAScribbledHeaderIsRefusedAndLeftAsItWas() throws {
        let h = try DaemonHarness()
        try h.appendLines(patients("a", 1...20))
        try h.start()
        try h.stop()
        // Checkpointed by the clean stop: scribble over the first page's header.
        let fd = open(h.databasePath, O_WRONLY)
        let junk = [UInt8](repeating: 0xEE, count: 100)
        #expect(pwrite(fd, junk, junk.count, 0) == junk.count)
        close(fd)
        let before = try Data(contentsOf: URL(fileURLWithPath: h.databasePath))
        let r = try h.runDaemonToExit(["--config", h.configPath])
        #expect(r.status == 1)
        #expect(r.stderr.contains("is damaged or not a touchpoint database"), "\(r.stderr)")
        #expect(r.stderr.contains("refusing to start with an empty state"))
        #expect(try Data(contentsOf: URL(fileURLWithPath: h.databasePath)) == before, "the damaged file was not touched")
    }

    // MARK: The gateway program

    @Test func aMissingTransportProgramIsAConfigErrorAndOneThatGoesLaterIsWaitedFor() throws {
        let program = NSTemporaryDirectory() + "tp-gateway-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        let h = try DaemonHarness()
        try h.writeConfig(h.config().replacingOccurrences(of: "[transport]\noutbox_dir = \"spool/outbox\"",
            with: "[transport]\nkind = \"command\"\ncommand = [\"\(program)\"]\nbackoff_initial = \"1s\"\nbackoff_max = \"2s\""))
        defer { try? FileManager.default.removeItem(atPath: program) }

        // Missing at start: refused, naming the key and the program.
        let check = try h.runDaemonToExit(["--check-config", "--config", h.configPath])
        #expect(check.status == 1)
        #expect(check.stderr.contains("transport.command") && check.stderr.contains("\(program) does not exist"), "\(check.stderr)")

        // Present at start, gone when the notice is due: retried, not given up.
        let sent = h.dir + "/sent"
        try "#!/bin/bash\ncat >> \(sent)\necho >> \(sent)\n".write(toFile: program, atomically: true, encoding: .utf8)
        chmod(program, 0o755)
        try h.start()
        try FileManager.default.moveItem(atPath: program, toPath: program + ".away")
        let at = Timestamp.rfc3339(Date().addingTimeInterval(3 * 86_400))
        try h.appendLines([#"{"v":1,"id":"OA1","type":"open_access.booked","ref":"OA1","patient":{"id":"P1","name":"Bea Example","email":"bea@example.org","channel":"email"},"at":"\#(at)","clinic":"Breast clinic","mode":"phone"}"#])
        try h.waitUntil(timeout: 20, "the notice is tried and kept for retry") {
            let job = try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"])
            // Retried: back to scheduled for its next try, then due again; never failed.
            return [JobState.scheduled, .due].contains(job.state) && job.deliveries?.first?.result == .retry
        }
        let job = try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"])
        #expect(job.deliveries?.first?.detail?.contains("cannot run \(program)") == true, "\(job.deliveries)")
        try FileManager.default.moveItem(atPath: program + ".away", toPath: program)
        try h.waitUntil(timeout: 20, "the notice goes once the program is back") {
            try h.ctlJSON(JobView.self, ["job", "oa-OA1-1"]).state == .done
        }
        let lines = try String(contentsOfFile: sent, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 1, "sent exactly once")
        try h.stop()
    }
}
