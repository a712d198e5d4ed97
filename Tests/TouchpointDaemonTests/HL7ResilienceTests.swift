import Foundation
import GRDB
import Synchronization
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// How many messages the streams have had ACKed so far.
final class Progress: Sendable {
    let count = Atomic<Int>(0)
}

/// Nothing lost, nothing doubled (hl7.md, queue-format.md "Writers"): the
/// real receiver and daemon killed with -9 while an engine streams, a second
/// writer appending beside the receiver, and the queue rotated under both.
@Suite(.serialized) struct HL7ResilienceTests {
    static let connections = 4
    static let perConnection = 500

    /// One connection's messages, in order: a booking of each ref, then (a
    /// few messages later) its reschedule, so that order matters.
    static func messages(_ s: HL7Scenario, connection c: Int) -> [(id: String, bytes: [UInt8])] {
        let day = s.daemon.time.day(3)
        var out: [(String, [UInt8])] = []
        for i in 0..<(perConnection / 2) {
            let ref = "K\(c)-\(i)"
            out.append(("B\(c)-\(i)", s.siu("S12", id: "B\(c)-\(i)", ref: ref, start: s.ts(day, 9, 0))))
            out.append(("R\(c)-\(i)", s.siu("S14", id: "R\(c)-\(i)", ref: ref, start: s.ts(day.adding(days: 1), 9, 30))))
        }
        // Interleave: booking i, then the reschedule of booking i - 2.
        var ordered: [(String, [UInt8])] = []
        for i in 0..<(perConnection / 2) {
            ordered.append(out[2 * i])
            if i >= 2 { ordered.append(out[2 * (i - 2) + 1]) }
        }
        ordered += [out[2 * (perConnection / 2 - 2) + 1], out[2 * (perConnection / 2 - 1) + 1]]
        return ordered
    }

    /// Sends `messages` on one connection as an engine does: the next only
    /// after an AA for this one; a connection lost (or refused) is opened
    /// again and the unacknowledged message sent again. The ids ACKed, in order.
    static func stream(port: Int, _ messages: [(id: String, bytes: [UInt8])], acked total: Progress) -> [String] {
        var done: [String] = []
        var client: MLLPClient? = nil
        var i = 0
        let deadline = Date().addingTimeInterval(600)
        while i < messages.count && Date() < deadline {
            if client == nil {
                client = try? MLLPClient(port: port)
                if client == nil { usleep(20_000); continue }
            }
            let ack = msa(client!.send(messages[i].bytes))
            if ack.count >= 3, ack[1] == "AA", ack[2] == messages[i].id {
                done.append(messages[i].id)
                i += 1
                total.count.add(1, ordering: .relaxed)
            } else {
                client!.close()
                client = nil
            }
        }
        client?.close()
        return done
    }

    /// The queue's events as (id, type, ref, whole line), in file order, over the rotated files first.
    static func events(_ paths: [String]) throws -> [(id: String, type: String, ref: String?, line: Substring)] {
        try paths.flatMap { path in
            try String(contentsOfFile: path, encoding: .utf8).split(separator: "\n").map { line in
                let o = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any], "not one JSON object: \(line.prefix(80))")
                return (o["id"] as! String, o["type"] as! String, o["ref"] as? String, line)
            }
        }
    }

    /// What the daemon made of it all: the bookings and jobs, without the times of day they were made.
    static func endState(_ h: DaemonHarness) throws -> [String] {
        try stateDatabase(h).read { db in
            try String.fetchAll(db, sql: "SELECT kind || ' ' || ref || ' ' || patient_id || ' ' || at || ' ' || revision || ' ' || cancelled FROM bookings ORDER BY kind, ref")
                + String.fetchAll(db, sql: "SELECT id || ' ' || state || ' ' || due_at || ' ' || revision FROM jobs ORDER BY id")
        }
    }

    /// Checks what a run left: every ACKed message's events are in the
    /// queue, every line of an id is the same line, bookings come before
    /// their reschedules and each connection's bookings in its order. Returns
    /// how many lines were written twice (the one window, docs/hl7.md).
    static func checkQueue(_ paths: [String], acked: [[String]]) throws -> Int {
        let all = try events(paths)
        var firstIndex: [String: Int] = [:]
        var lineOf: [String: Substring] = [:]
        for (n, e) in all.enumerated() {
            if let known = lineOf[e.id] {
                #expect(known == e.line, "event \(e.id) written twice with different content")
            } else {
                lineOf[e.id] = e.line
                firstIndex[e.id] = n
            }
        }
        let hl7 = all.filter { $0.id.hasPrefix("hl7-") }
        func first(_ type: String, _ ref: String) -> Int? {
            hl7.firstIndex { $0.type == type && $0.ref == ref }
        }
        for (c, ids) in acked.enumerated() {
            var lastBooking = -1
            for id in ids {
                let i = Int(id.dropFirst(id.firstIndex(of: "-")!.utf16Offset(in: id) + 1))!
                let ref = "K\(c)-\(i)"
                if id.hasPrefix("B") {
                    let at = try #require(first("surgery.booked", ref), "booking \(ref) ACKed AA but not in the queue")
                    #expect(at > lastBooking, "connection \(c): booking \(ref) out of order")
                    lastBooking = at
                    #expect(Set(hl7.filter { $0.type == "surgery.booked" && $0.ref == ref }.map(\.id)).count == 1)
                } else {
                    let at = try #require(first("surgery.rescheduled", ref), "reschedule of \(ref) ACKed AA but not in the queue")
                    #expect(at > first("surgery.booked", ref)!, "the reschedule of \(ref) before its booking")
                }
            }
        }
        return all.count - lineOf.count
    }

    func runStream(_ s: HL7Scenario, during: (Progress) throws -> Void = { _ in }) throws -> [[String]] {
        let total = Progress()
        let results = Mutex<[Int: [String]]>([:])
        let port = s.port
        let all = (0..<Self.connections).map { Self.messages(s, connection: $0) }
        let group = DispatchGroup()
        for c in 0..<Self.connections {
            let messages = all[c]
            DispatchQueue.global().async(group: group) {
                let done = Self.stream(port: port, messages, acked: total)
                results.withLock { $0[c] = done }
            }
        }
        try during(total)
        group.wait()
        return (0..<Self.connections).map { c in results.withLock { $0[c] ?? [] } }
    }

    @Test func twentyKillNinesWhileFourConnectionsStreamLoseAndDoubleNothing() throws {
        let time = ScenarioTime()
        // The run without kills: the end state to match.
        let calm = try HL7Scenario(time: time)
        try calm.start()
        let calmAcked = try runStream(calm)
        try calm.daemon.waitUntil(timeout: 120, "every event is applied") { try calm.daemon.status().queue.ingested == Self.connections * Self.perConnection }
        let expected = try Self.endState(calm.daemon)
        try calm.stop()
        #expect(calmAcked.map(\.count) == Array(repeating: Self.perConnection, count: Self.connections))

        let s = try HL7Scenario(time: time)
        try s.start()
        defer { try? s.stop() }
        let acked = try runStream(s) { total in
            // Twenty kill -9 rounds spread over the stream; every fifth kills touchpointd too.
            for round in 1...20 {
                let due = round * Self.connections * Self.perConnection / 21
                while total.count.load(ordering: .relaxed) < due { usleep(2_000) }
                usleep(UInt32.random(in: 0..<20_000))
                s.crashReceiver()
                if round % 5 == 0 {
                    try s.daemon.crash()
                    try s.daemon.start()
                }
                try s.startReceiver()
            }
        }
        #expect(acked.map(\.count) == Array(repeating: Self.perConnection, count: Self.connections))
        let doubled = try Self.checkQueue([s.daemon.queuePath], acked: acked)
        // The one window (docs/hl7.md): lines appended again, same ids, which the daemon counts as duplicates.
        print("hl7 kill -9: \(doubled) lines written twice in 20 rounds")
        try s.daemon.waitUntil(timeout: 120, "every event is applied") {
            try s.daemon.status().queue.ingested == Self.connections * Self.perConnection
        }
        let st = try s.daemon.status()
        #expect(st.queue.rejected == 0 && st.queue.duplicates == doubled)
        #expect(try Self.endState(s.daemon) == expected)
    }

    /// A second writer (a nightly script, in Python, by queue-format.md's
    /// rules: O_APPEND, flock, one write per line, fdatasync, the inode
    /// checked) appends beside the receiver, and the file is rotated (lock,
    /// rename, a new file, unlock) three times while both write: no line
    /// interleaved, none lost, the daemon reads each old file to its end.
    @Test func twoWritersAndRotationsLoseNoLine() throws {
        let s = try HL7Scenario()
        try s.start()
        defer { try? s.stop() }
        let script = s.dir + "/writer.py"
        try """
            import fcntl, json, os, sys
            path, n = sys.argv[1], int(sys.argv[2])
            fd = None
            for i in range(n):
                while True:
                    if fd is None:
                        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
                    fcntl.flock(fd, fcntl.LOCK_EX)
                    try:
                        st = os.stat(path)
                    except FileNotFoundError:
                        st = None
                    mine = os.fstat(fd)
                    if st is not None and (st.st_dev, st.st_ino) == (mine.st_dev, mine.st_ino):
                        break
                    fcntl.flock(fd, fcntl.LOCK_UN)
                    os.close(fd)
                    fd = None
                line = json.dumps({"v": 1, "id": "nightly-%d" % i, "type": "treatment.completed", "ref": "N-%d" % i,
                                   "at": "2026-01-01T10:00", "source": "nightly", "patient": {"id": "NP-%d" % i, "note": "x" * 3000}})
                os.write(fd, (line + "\\n").encode())
                os.fdatasync(fd)
                fcntl.flock(fd, fcntl.LOCK_UN)
            """.write(toFile: script, atomically: true, encoding: .utf8)
        let writer = Process()
        writer.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        writer.arguments = [script, s.daemon.queuePath, "1500"]
        try writer.run()
        var rotated: [String] = []
        let acked = try runStream(s) { total in
            for round in 1...3 {
                while total.count.load(ordering: .relaxed) < round * 500 { usleep(2_000) }
                let path = s.daemon.queuePath
                let fd = open(path, O_WRONLY | O_APPEND)
                flock(fd, LOCK_EX)
                let old = path + ".\(round)"
                rename(path, old)
                close(open(path, O_WRONLY | O_CREAT | O_EXCL, 0o620))
                flock(fd, LOCK_UN)
                close(fd)
                rotated.append(old)
            }
        }
        writer.waitUntilExit()
        #expect(writer.terminationStatus == 0)
        let files = rotated + [s.daemon.queuePath]
        _ = try Self.checkQueue(files, acked: acked)
        let all = try Self.events(files)
        #expect(Set(all.filter { $0.id.hasPrefix("nightly-") }.map(\.id)).count == 1500)
        #expect(files.allSatisfy { (try? String(contentsOfFile: $0, encoding: .utf8).split(separator: "\n").count) ?? 0 > 0 })
        let distinct = Set(all.map(\.id)).count
        try s.daemon.waitUntil(timeout: 120, "every file is read to its end") {
            let st = try s.daemon.status()
            return st.queue.ingested + st.queue.duplicates >= all.count
        }
        let st = try s.daemon.status()
        #expect(st.queue.ingested == distinct && st.queue.rejected == 0)
        #expect(st.queue.sources.map(\.source) == ["hl7:theatres", "nightly"])
    }

    /// A full disk under the queue file (a small tmpfs): no ACK, nothing
    /// half-written, and the engine's resend is AA once there is room.
    @Test(.enabled(if: getuid() == 0, "mounting a small tmpfs needs root"))
    func aFullDiskGetsNoAckAndLosesNothingOnceThereIsRoom() throws {
        let s = try HL7Scenario()
        let spool = (s.daemon.queuePath as NSString).deletingLastPathComponent
        try FileManager.default.createDirectory(atPath: spool, withIntermediateDirectories: true)
        let mount = try DaemonHarness.run("/bin/mount", ["-t", "tmpfs", "-o", "size=256k,mode=0750", "tmpfs", spool])
        try #require(mount.status == 0, "mount: \(mount.stderr)")
        defer { _ = try? DaemonHarness.run("/bin/umount", ["-l", spool]) }
        try s.daemon.appendLines([])
        try s.start()
        defer { try? s.stop() }
        let client = try MLLPClient(port: s.port)
        #expect(msa(client.send(s.siu("S12", id: "F-1", ref: "FD-1", start: s.ts(s.daemon.time.day(2), 9, 0)))) == ["MSA", "AA", "F-1"])
        client.close()
        // Fill the filesystem to its last byte.
        let filler = spool + "/filler"
        let fd = open(filler, O_WRONLY | O_CREAT, 0o600)
        let block = [UInt8](repeating: 0x78, count: 4096)
        while block.withUnsafeBytes({ write(fd, $0.baseAddress!, 4096) }) > 0 {}
        var one: UInt8 = 0x78
        while write(fd, &one, 1) > 0 {}
        close(fd)
        // The queue file's last page may still hold a message or two; the next gets no ACK.
        var again = try MLLPClient(port: s.port)
        var refused: (n: Int, message: [UInt8], before: Data)? = nil
        for n in 2...40 {
            let before = try Data(contentsOf: URL(fileURLWithPath: s.daemon.queuePath))
            let message = s.siu("S12", id: "F-\(n)", ref: "FD-\(n)", start: s.ts(s.daemon.time.day(2), 10, 0))
            if again.send(message) == nil {
                refused = (n, message, before)
                break
            }
        }
        again.close()
        let (n, message, before) = try #require(refused, "every message got an ACK with the disk full")
        #expect(try Data(contentsOf: URL(fileURLWithPath: s.daemon.queuePath)) == before, "a partial line left in the queue")
        #expect(s.receiverLog.contains("message not acknowledged") && s.receiverLog.contains("No space left on device"))
        // Room again: the resend is AA and its booking is in the queue once.
        try FileManager.default.removeItem(atPath: filler)
        again = try MLLPClient(port: s.port)
        defer { again.close() }
        #expect(msa(again.send(message)) == ["MSA", "AA", "F-\(n)"])
        let lines = try String(contentsOfFile: s.daemon.queuePath, encoding: .utf8).split(separator: "\n")
        #expect(lines.filter { $0.contains(#""ref":"FD-\#(n)""#) }.count == 1)
        try s.daemon.waitUntil(timeout: 20, "every booking is applied") { try s.daemon.status().queue.ingested == n }
    }
}
