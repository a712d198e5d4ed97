import Foundation
import Testing
import TouchpointControl
import TouchpointTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Start-up failures, signals, and the errors an admin sees.
@Suite struct LifecycleTests {
    /// One line per problem, naming what to fix; never a crash or a backtrace.
    func expectOneLineErrors(_ r: CommandResult, containing: String) {
        #expect(r.status == 1)
        let lines = r.stderr.split(separator: "\n")
        #expect(!lines.isEmpty)
        #expect(lines.allSatisfy { $0.hasPrefix("touchpointd: ") }, "stderr: \(r.stderr)")
        #expect(r.stderr.contains(containing), "stderr: \(r.stderr)")
        #expect(!r.stderr.contains("Fatal error") && !r.stderr.contains("Backtrace") && !r.stderr.contains("Stack dump"))
    }

    @Test func aMalformedConfigIsRefusedWithFileKeyAndExpectation() throws {
        let h = try DaemonHarness(extraConfig: "[calls]\nwindow = \"nine to five\"\nmax_atempts = 2\n")
        let r = try h.runDaemonToExit(["--config", h.configPath])
        expectOneLineErrors(r, containing: "\(h.configPath): calls.window: expected a window HH:MM-HH:MM")
        #expect(r.stderr.contains("calls.max_atempts: unknown key (did you mean \"max_attempts\"?)"))
        #expect(!FileManager.default.fileExists(atPath: h.stateDir), "nothing is written for a bad config")
        let check = try h.runDaemonToExit(["--check-config", "--config", h.configPath])
        #expect(check.status == 1)
        #expect(check.stderr == r.stderr)
    }

    @Test func checkConfigPassesAGoodConfigAndATOMLSyntaxErrorIsOneLine() throws {
        let h = try DaemonHarness()
        let ok = try h.runDaemonToExit(["--check-config", "--config", h.configPath])
        #expect(ok.status == 0)
        #expect(ok.stdout.contains("configuration and templates are valid"))
        try h.writeConfig("[hospital\nname = 1\n")
        expectOneLineErrors(try h.runDaemonToExit(["--config", h.configPath]), containing: "line 1")
        let missing = try h.runDaemonToExit(["--config", h.dir + "/nope.toml"])
        expectOneLineErrors(missing, containing: "nope.toml: cannot be read: no such file")
    }

    @Test func missingHospitalDetailsAreRequired() throws {
        let h = try DaemonHarness(hospital: false)
        let r = try h.runDaemonToExit(["--config", h.configPath])
        expectOneLineErrors(r, containing: "hospital.name: required")
        #expect(r.stderr.contains("hospital.phone: required"))
    }

    @Test func aStateDirectoryThatCannotBeWrittenIsAOneLineError() throws {
        let h = try DaemonHarness()
        try FileManager.default.createDirectory(atPath: h.stateDir, withIntermediateDirectories: true)
        chmod(h.stateDir, 0o555)
        let r: CommandResult
        if getuid() == 0 {
            // root writes anywhere: run as nobody, as a real service user would be.
            r = try DaemonHarness.run("/usr/bin/setpriv", ["--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                                                           DaemonHarness.daemonPath, "--config", h.configPath, "--log-target", "stderr"])
        } else {
            r = try h.runDaemonToExit(["--config", h.configPath])
        }
        expectOneLineErrors(r, containing: "state_dir \(h.stateDir): cannot write there")
        chmod(h.stateDir, 0o755)
    }

    @Test func aDamagedDatabaseIsRefusedNotReplaced() throws {
        let h = try DaemonHarness()
        try FileManager.default.createDirectory(atPath: h.stateDir, withIntermediateDirectories: true)
        let junk = Data(repeating: 0x5A, count: 8192)
        try junk.write(to: URL(fileURLWithPath: h.databasePath))
        let r = try h.runDaemonToExit(["--config", h.configPath])
        expectOneLineErrors(r, containing: "damaged or not a touchpoint database")
        #expect(try Data(contentsOf: URL(fileURLWithPath: h.databasePath)) == junk, "the file was not touched")
    }

    @Test func anUnreadableQueueFileIsReportedThenReadWhenItCanBe() throws {
        let h = try DaemonHarness()
        try h.appendLines([#"{"v":1,"id":"x","type":"treatment.completed","ref":"T-x","at":"2026-01-01T10:00","patient":{"id":"P1"}}"#])
        chmod(h.queuePath, 0o000)
        // As root everything is readable: run the daemon as nobody, who owns the state.
        let user: String? = getuid() == 0 ? "nobody" : nil
        if user != nil {
            try FileManager.default.createDirectory(atPath: h.stateDir, withIntermediateDirectories: true)
            _ = chown(h.stateDir, 65534, 65534)
            _ = chown(h.dir, 65534, 65534)
        }
        try h.start(user: user)
        var s = try h.status()
        #expect(s.queue.ingested == 0)
        #expect(s.queue.error?.contains("cannot read the queue file") == true)
        #expect(s.queue.error?.contains("Permission denied") == true)
        let human = try h.ctl(["status"])
        #expect(human.stdout.contains("problem: cannot read the queue file"))
        chmod(h.queuePath, 0o644)
        try h.waitUntil(timeout: 10, "the file is read once readable") { try h.status().queue.ingested == 1 }
        s = try h.status()
        #expect(s.queue.error == nil)
        #expect(h.daemonStderr.contains("cannot read the queue file"))
        try h.stop()
    }

    @Test func sigtermStopsCleanlyAndTheCLISaysTheDaemonIsGone() throws {
        let h = try DaemonHarness()
        try h.start()
        #expect(try h.stop() == 0)
        #expect(!FileManager.default.fileExists(atPath: h.socketPath))
        let r = try h.ctl(["status"])
        #expect(r.status == 69)
        #expect(r.stderr == "touchpointctl: cannot reach touchpointd at \(h.socketPath): no such file (is the service running? systemctl status touchpointd)\n")
        #expect(h.notify?.messages.contains { $0.contains("STOPPING=1") } == true)
    }

    @Test func sighupReloadsAValidConfigAndRefusesAnInvalidOne() throws {
        let h = try DaemonHarness()
        try h.start()
        let good = try String(contentsOfFile: h.configPath, encoding: .utf8)
        try h.writeConfig(good + "\n[log]\nlevel = \"banana\"\n")
        h.signal(SIGHUP)
        try h.waitUntil(timeout: 10, "the refusal is logged") { h.daemonStderr.contains("configuration reload refused") }
        #expect(h.daemonStderr.contains("log.level"))
        #expect(try h.status().state == "running")
        // A valid change is applied: a new queue file path.
        try h.writeConfig(good.replacingOccurrences(of: "spool/queue.jsonl", with: "spool/other.jsonl"))
        h.signal(SIGHUP)
        try h.waitUntil(timeout: 10, "the reload is logged") { h.daemonStderr.contains("configuration reloaded") }
        try h.waitUntil(timeout: 10, "status shows the new path") { try h.status().queue.path.hasSuffix("other.jsonl") }
        #expect(h.notify?.messages.contains { $0.contains("RELOADING=1") && $0.contains("MONOTONIC_USEC=") } == true)
        try h.stop()
    }

    @Test func twoDaemonsCannotShareAStateDirectory() throws {
        let h = try DaemonHarness()
        try h.start()
        let r = try h.runDaemonToExit(["--config", h.configPath])
        #expect(r.status == 1)
        #expect(r.stderr.contains("another touchpointd"))
        #expect(try h.status().state == "running")
        try h.stop()
    }

    @Test func badUsageExitsTwo() throws {
        let r = try DaemonHarness.run(DaemonHarness.ctlPath, ["status", "--no-such-flag"])
        #expect(r.status == 2)
        #expect(r.stderr.hasPrefix("touchpointctl: "))
        let r2 = try DaemonHarness.run(DaemonHarness.ctlPath, ["rejects", "--limit", "0"])
        #expect(r2.status == 2)
        let help = try DaemonHarness.run(DaemonHarness.ctlPath, ["--help"])
        #expect(help.status == 0 && help.stdout.contains("status"))
    }

    @Test func optionsMayStandBeforeOrAfterTheCommand() throws {
        let h = try DaemonHarness()
        try h.start()
        let before = try DaemonHarness.run(DaemonHarness.ctlPath, ["--json", "--socket", h.socketPath, "status"])
        let after = try DaemonHarness.run(DaemonHarness.ctlPath, ["status", "--socket", h.socketPath, "--json"])
        let env = try DaemonHarness.run(DaemonHarness.ctlPath, ["status", "--json"], environment: ["TOUCHPOINT_SOCKET": h.socketPath])
        for r in [before, after, env] {
            #expect(r.status == 0, "\(r.stderr)")
            #expect((try? ControlJSON.decoder.decode(StatusReport.self, from: Data(r.stdout.utf8))) != nil)
        }
        try h.stop()
    }
}
