import Foundation
import Testing
import TouchpointControl
import TouchpointDomain
@testable import TouchpointSystemd
import TouchpointTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// A journald listening, not just its socket file (a journald that has gone leaves that behind).
let journalRunning = LogDestination.journalIsListening()
let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized.path

@Suite(.serialized) struct JournalTests {
    /// Names, numbers and addresses of the test's fictional patients: none may reach the journal.
    static let secrets = ["Ann Journaltest", "Bea Journaltest", "+447700900555", "07700 900555", "07700900555",
                          "7700900555", "bea.journaltest@example.org", "9434765919"]

    @Test(.enabled(if: journalRunning, "needs a running systemd-journald (scripts/test starts one as root)"))
    func ourEntriesCarryTheirFieldsAndNoPatientData() throws {
        // Each test's hospital clock is late morning (ScenarioTime): a wait
        // notice for an admission a minute ago is due now, at any real hour.
        let h = try DaemonHarness()
        let tomorrow = Timestamp.rfc3339(Date().addingTimeInterval(86_400))
        try h.appendLines([
            #"{"v":1,"id":"j1","type":"surgery.booked","ref":"S-J1","patient":{"id":"PJ1","name":"Ann Journaltest","phone":"07700 900555","nhs_number":"943 476 5919"},"at":"\#(tomorrow)","ward":"Ward 7"}"#,
            #"{"v":1,"id":"j2","type":"open_access.booked","ref":"O-J2","patient":{"id":"PJ2","name":"Bea Journaltest","email":"bea.journaltest@example.org","channel":"email"},"at":"\#(Timestamp.rfc3339(Date().addingTimeInterval(3 * 86_400)))"}"#,
            #"{"v":1,"id":"j3","type":"patient.updated","patient":{"id":"PJ3","name":"Ann Journaltest","phone":"not a phone 07700 900555"}}"#,
            #"{"v":1,"id":"j4","type":"surgery.delayed","ref":"S-NOPE","expected_at":"\#(tomorrow)","reason":"x"}"#,
            #"{"v":1,"id":"j5","type":"patient.updated","patient":{"id":"PJ1","name":"Ann Journaltest","nhs_number":"9434765918"}}"#,
            // Admitted a minute ago: its wait notice comes due at once, and is logged with its job.
            #"{"v":1,"id":"j6","type":"surgery.booked","ref":"S-J6","patient":{"id":"PJ6","name":"Bea Journaltest","phone":"+447700900555"},"at":"\#(Timestamp.rfc3339(Date().addingTimeInterval(3600)))","admit_at":"\#(Timestamp.rfc3339(Date().addingTimeInterval(-60)))","ward":"Ward 7"}"#,
        ])
        try h.start(journal: true)
        let pid = try #require(h.pid)
        _ = try h.ctl(["status"])
        try h.stop()
        var entries: [[String: Any]] = []
        try h.waitUntil(timeout: 10, "our entries are in the journal") {
            let out = try DaemonHarness.run("/usr/bin/journalctl", ["-o", "json", "--no-pager", "_PID=\(pid)"])
            entries = out.stdout.split(separator: "\n").compactMap {
                try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
            }
            return entries.contains { ($0["MESSAGE_ID"] as? String) == MessageID.stopped }
        }
        func field(_ e: [String: Any], _ k: String) -> String? { e[k] as? String }
        #expect(entries.allSatisfy { field($0, "SYSLOG_IDENTIFIER") == "touchpointd" })
        #expect(entries.allSatisfy { field($0, "PRIORITY") != nil && field($0, "CODE_FILE") != nil && field($0, "CODE_LINE") != nil && field($0, "CODE_FUNC") != nil })
        let ids = Set(entries.compactMap { field($0, "MESSAGE_ID") })
        for id in [MessageID.started, MessageID.ingested, MessageID.rejected, MessageID.jobDue, MessageID.stopped] {
            #expect(ids.contains(id), "no entry with MESSAGE_ID \(id)")
        }
        #expect(ids.isSubset(of: Set(MessageID.all)), "a MESSAGE_ID without a catalog entry: \(ids.subtracting(MessageID.all))")
        // A reject names line, code and event in fields of its own, at warning priority.
        let rejects = entries.filter { field($0, "MESSAGE_ID") == MessageID.rejected }
        #expect(rejects.count == 3)
        #expect(rejects.allSatisfy { field($0, "PRIORITY") == "4" && field($0, "TOUCHPOINT_LINE") != nil && field($0, "TOUCHPOINT_CODE") != nil && field($0, "TOUCHPOINT_EVENT_ID") != nil })
        // Job entries carry the job, the ref and the kind.
        let jobs = entries.filter { field($0, "TOUCHPOINT_JOB") != nil }
        #expect(jobs.contains { field($0, "TOUCHPOINT_JOB") == "wait-S-J6-1" && field($0, "MESSAGE_ID") == MessageID.jobDue })
        for e in jobs { #expect(field(e, "TOUCHPOINT_REF") != nil && field(e, "TOUCHPOINT_KIND") != nil) }
        // No patient data anywhere in the journal, under any field.
        let all = try DaemonHarness.run("/usr/bin/journalctl", ["-o", "json", "--no-pager", "_PID=\(pid)"]).stdout
        #expect(!all.isEmpty)
        for s in Self.secrets { #expect(!all.contains(s), "the journal holds patient data: \(s)") }
    }

    /// The daemon's last words reach the journal. Entries go to journald
    /// from a thread of their own, and the daemon (and the web view) exited
    /// without waiting for it, losing what it had not sent yet ("stopped"
    /// among them: seen once in CI). Both now `flush` on the way out, which
    /// returns once every entry logged before it has been handed over.
    @Test(.enabled(if: journalRunning, "needs a running systemd-journald (scripts/test starts one as root)"))
    func flushReturnsOnceEveryEntryLoggedBeforeItIsWithJournald() throws {
        let marker = "flush-\(UUID().uuidString)"
        for i in 0..<300 {
            JournalPump.shared.enqueue([("MESSAGE", "\(marker) \(i)"), ("PRIORITY", "7"), ("SYSLOG_IDENTIFIER", "touchpoint-test")])
        }
        JournalLogHandler.flush(timeout: 10)
        #expect(JournalPump.shared.isIdle)
        // journald stores what it was handed in its own time.
        var seen = 0
        for _ in 0..<100 where seen < 300 {
            let out = try DaemonHarness.run("/usr/bin/journalctl", ["-o", "cat", "--no-pager", "SYSLOG_IDENTIFIER=touchpoint-test", "_PID=\(getpid())"])
            seen = out.stdout.components(separatedBy: marker).count - 1
            if seen < 300 { Thread.sleep(forTimeInterval: 0.2) }
        }
        #expect(seen == 300)
    }

    /// A ref or an event id comes from a hospital system. On standard error
    /// (the journal's stream under systemd) a newline in one would start a
    /// line of its own, an entry touchpointd never wrote: it is written `\n`.
    /// C-04.1 and C-42.2 read from the journal itself, not standard error:
    /// an escalation (a wrong number escalates at once) and a booking of a
    /// ward none of `calls.wards` names each have their entry, with its own
    /// MESSAGE_ID, the job or ref in a field of its own, at warning priority
    /// for the ward, and no patient data.
    @Test(.enabled(if: journalRunning, "needs a running systemd-journald (scripts/test starts one as root)"))
    func escalationsAndUnassignedWardsHaveEntriesOfTheirOwn() throws {
        let h = try DaemonHarness(extraConfig: "[calls]\nwards = [\"Ward 7\"]\n")
        try h.appendLines([
            #"{"v":1,"id":"j1","type":"surgery.booked","ref":"S-J1","patient":{"id":"PJ1","name":"Ann Journaltest","phone":"07700 900555"},"at":"\#(h.time.day(-1))T10:30","ward":"Ward 9"}"#,
        ])
        try h.start(journal: true)
        let pid = try #require(h.pid)
        #expect(try h.ctl(["outcome", "call-S-J1", "wrong-number"]).status == 0)
        try h.stop()
        var entries: [[String: Any]] = []
        try h.waitUntil(timeout: 10, "our entries are in the journal") {
            let out = try DaemonHarness.run("/usr/bin/journalctl", ["-o", "json", "--no-pager", "_PID=\(pid)"])
            entries = out.stdout.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            return entries.contains { ($0["MESSAGE_ID"] as? String) == MessageID.stopped }
        }
        func field(_ e: [String: Any], _ k: String) -> String? { e[k] as? String }
        let escalated = entries.filter { field($0, "MESSAGE_ID") == MessageID.jobEscalated }
        #expect(escalated.count == 1 && field(escalated[0], "TOUCHPOINT_JOB") == "call-S-J1", "\(escalated)")
        let ward = entries.filter { field($0, "MESSAGE_ID") == MessageID.wardUnassigned }
        #expect(ward.count == 1 && field(ward[0], "TOUCHPOINT_REF") == "S-J1" && field(ward[0], "PRIORITY") == "4", "\(ward)")
        let all = entries.map { "\($0)" }.joined()
        for secret in ["Ann Journaltest", "07700 900555", "7700900555"] { #expect(!all.contains(secret), "the journal holds \(secret)") }
    }

    @Test func aNewlineInAnIDCannotForgeALogLine() throws {
        let h = try DaemonHarness()
        let forged = #"\ntouchpointd[1]: notice: all calls made\r"#
        try h.appendLines([
            #"{"v":1,"id":"bad\#(forged)","type":"surgery.booked","ref":"S-F1","patient":{"id":"PF1"},"at":"\#(h.time.day(1))T10:30"}"#,
            // Admitted a minute ago: its wait notice comes due at once, and is logged with its ref.
            #"{"v":1,"id":"f2","type":"surgery.booked","ref":"S-F2\#(forged)","patient":{"id":"PF2"},"at":"\#(Timestamp.rfc3339(Date().addingTimeInterval(3600)))","admit_at":"\#(Timestamp.rfc3339(Date().addingTimeInterval(-60)))","ward":"Ward 7"}"#,
        ])
        try h.start()
        try h.stop()
        let lines = h.daemonStderr.split(separator: "\n")
        #expect(lines.contains { $0.contains("rejected queue line 1") && $0.contains(#"bad\ntouchpointd[1]: notice: all calls made\r"#) }, "\(lines)")
        #expect(lines.contains { $0.contains(#"S-F2\ntouchpointd[1]"#) }, "\(lines)")
        #expect(!lines.contains { $0.hasPrefix("touchpointd[1]") }, "\(lines)")
        #expect(!h.daemonStderr.contains("\r"))
    }
}

@Suite struct NotifyTests {
    @Test func readyStatusStoppingAndWatchdogPingsAtHalfTheInterval() throws {
        let h = try DaemonHarness()
        try h.appendLines([#"{"v":1,"id":"n1","type":"treatment.completed","ref":"T-n1","at":"2026-01-01T10:00","patient":{"id":"P1"}}"#])
        try h.start(environment: ["WATCHDOG_USEC": "1000000"])
        let ready = try #require(h.notify?.messages.first { $0.contains("READY=1") })
        #expect(ready.contains("STATUS=1 events applied"))
        Thread.sleep(forTimeInterval: 3.2)
        let pings = try #require(h.notify?.timedMessages.filter { $0.text.contains("WATCHDOG=1") })
        #expect((5...8).contains(pings.count), "\(pings.count) pings in 3.2 s with a 1 s watchdog")
        // About half the interval apart, and never a whole interval (when systemd would kill it).
        let gaps = zip(pings.dropFirst(), pings).map { $0.at.timeIntervalSince($1.at) }.sorted()
        #expect((0.35...0.7).contains(gaps[gaps.count / 2]), "median gap \(gaps[gaps.count / 2]) s: \(gaps)")
        #expect(gaps.allSatisfy { $0 < 1.0 }, "gaps \(gaps)")
        #expect(h.notify?.messages.contains { $0.hasPrefix("STATUS=") && $0.contains("contacts scheduled") } == true)
        try h.stop()
        #expect(h.notify?.messages.last?.contains("STOPPING=1") == true)
    }

    /// C-15.1 shown failing the other way: an engine stuck on its database
    /// (another process holding the write lock, as a hung disk or a wedged
    /// writer would) stops the pings, so systemd's watchdog would restart it;
    /// once the lock goes they come again, and nothing is lost.
    @Test func anEngineStuckOnItsDatabaseStopsPingingTheWatchdog() throws {
        let h = try DaemonHarness()
        try h.start(environment: ["WATCHDOG_USEC": "1000000"])
        Thread.sleep(forTimeInterval: 1.2)
        let lock = Process()
        lock.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        lock.arguments = ["-c", """
            import sqlite3, sys, time
            c = sqlite3.connect(sys.argv[1], isolation_level=None)
            c.execute("BEGIN EXCLUSIVE")
            print("locked", flush=True)
            time.sleep(3.5)
            c.execute("COMMIT")
            """, h.databasePath]
        let out = Pipe()
        lock.standardOutput = out
        try lock.run()
        _ = out.fileHandleForReading.availableData  // "locked"
        let locked = Date()
        lock.waitUntilExit()
        let released = Date()
        #expect(lock.terminationStatus == 0)
        Thread.sleep(forTimeInterval: 1.5)
        let pings = try #require(h.notify?.timedMessages.filter { $0.text.contains("WATCHDOG=1") }.map(\.at))
        let during = pings.filter { $0 > locked.addingTimeInterval(0.6) && $0 < released.addingTimeInterval(-0.1) }
        #expect(during.isEmpty, "\(during.count) pings while the engine could not write")
        #expect(pings.filter { $0 > released }.count >= 2, "the pings come again once the lock goes")
        #expect(try h.status().state == "running")
        try h.stop()
    }

    @Test func noWatchdogNoPings() throws {
        let h = try DaemonHarness()
        try h.start()
        Thread.sleep(forTimeInterval: 1.5)
        #expect(h.notify?.messages.contains { $0.contains("WATCHDOG=1") } == false)
        try h.stop()
    }
}

@Suite struct SocketActivationTests {
    @Test func theControlSocketComesFromSystemd() throws {
        let h = try DaemonHarness()
        let activated = h.dir + "/activated.sock"
        try h.start(waitReady: false, launcher: ["/usr/bin/systemd-socket-activate", "-l", activated, "-E", "NOTIFY_SOCKET"])
        // systemd-socket-activate binds the socket after it starts: wait for it, as a
        // client of systemd's own .socket unit never has to (systemd binds before it).
        let bound = Date().addingTimeInterval(10)
        while !FileManager.default.fileExists(atPath: activated) && Date() < bound { Thread.sleep(forTimeInterval: 0.02) }
        // The first connection starts the daemon, which takes the listening socket.
        let r = try DaemonHarness.run(DaemonHarness.ctlPath, ["--socket", activated, "status", "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try ControlJSON.decoder.decode(StatusReport.self, from: Data(r.stdout.utf8)).state == "running")
        #expect(h.notify?.wait(for: "READY=1", timeout: 30) != nil)
        // It did not make a socket of its own at the configured path.
        #expect(!FileManager.default.fileExists(atPath: h.socketPath))
        #expect(h.daemonStderr.contains("socket activation"))
        try h.stop()
    }
}

@Suite struct UnitFileTests {
    @Test func theServiceScoresSafeAndVerifiesClean() throws {
        let unit = repoRoot + "/systemd/touchpointd.service"
        let sec = try DaemonHarness.run("/usr/bin/systemd-analyze", ["security", "--offline=yes", "--no-pager", unit])
        let line = try #require(sec.stdout.split(separator: "\n").first { $0.contains("Overall exposure level") })
        let score = Double(line.split(separator: ":").last!.trimmingCharacters(in: .whitespaces).split(separator: " ").first!)!
        #expect(score < 1.0, "\(line)")
        // verify, in a root holding the OS's own units and our installed files.
        let root = NSTemporaryDirectory() + "tp-root-\(getpid())-\(Int.random(in: 0..<1_000_000))"
        defer { try? FileManager.default.removeItem(atPath: root) }
        let install = try DaemonHarness.run("/bin/bash", [repoRoot + "/scripts/install"],
                                            environment: ["DESTDIR": root, "BIN_DIR": DaemonHarness.binDir])
        #expect(install.status == 0, "\(install.stderr)")
        for f in ["/usr/sbin/touchpointd", "/usr/bin/touchpointctl", "/lib/systemd/system/touchpointd.service",
                  "/lib/systemd/system/touchpointd.socket", "/usr/lib/sysusers.d/touchpoint.conf", "/usr/lib/tmpfiles.d/touchpoint.conf",
                  "/usr/lib/systemd/catalog/touchpoint.catalog", "/usr/share/man/man1/touchpointctl.1", "/usr/share/man/man1/touchpointd.1",
                  "/usr/share/bash-completion/completions/touchpointctl", "/etc/touchpoint/touchpoint.toml",
                  "/usr/lib/touchpoint/libswiftCore.so", "/usr/lib/touchpoint/libFoundation.so"] {
            #expect(FileManager.default.fileExists(atPath: root + f), "not installed: \(f)")
        }
        try FileManager.default.createDirectory(atPath: root + "/usr/lib/systemd/system", withIntermediateDirectories: true)
        try FileManager.default.createDirectory(atPath: root + "/bin", withIntermediateDirectories: true)
        for target in try FileManager.default.contentsOfDirectory(atPath: "/lib/systemd/system") where target.hasSuffix(".target") {
            try? FileManager.default.copyItem(atPath: "/lib/systemd/system/" + target, toPath: root + "/usr/lib/systemd/system/" + target)
        }
        try? FileManager.default.copyItem(atPath: "/bin/kill", toPath: root + "/bin/kill")
        let verify = try DaemonHarness.run("/usr/bin/systemd-analyze", ["verify", "--root=" + root, "--man=no",
                                                                         root + "/lib/systemd/system/touchpointd.service",
                                                                         root + "/lib/systemd/system/touchpointd.socket",
                                                                         root + "/lib/systemd/system/touchpoint-backup.service",
                                                                         root + "/lib/systemd/system/touchpoint-backup.timer"])
        #expect(verify.status == 0 && verify.stderr.isEmpty, "verify: \(verify.stderr)")
        // The catalog explains every MESSAGE_ID the daemon uses.
        _ = try DaemonHarness.run("/usr/bin/journalctl", ["--root=" + root, "--update-catalog"])
        let catalog = try DaemonHarness.run("/usr/bin/journalctl", ["--root=" + root, "--list-catalog", "--no-pager"]).stdout
        for id in MessageID.all { #expect(catalog.contains(id), "no catalog entry for \(id)") }
        // The installed default config refuses to start until the hospital is
        // named. (The program finds its runtime in /usr/lib/touchpoint, its
        // RUNPATH: here that is inside the staging root.)
        let check = try DaemonHarness.run(root + "/usr/sbin/touchpointd", ["--check-config", "--config", root + "/etc/touchpoint/touchpoint.toml"],
                                          environment: ["LD_LIBRARY_PATH": root + "/usr/lib/touchpoint"])
        #expect(check.status == 1 && check.stderr.contains("hospital.name: required"))
    }
}
