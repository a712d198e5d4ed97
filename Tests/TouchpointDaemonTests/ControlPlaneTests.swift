import Foundation
import GRDB
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

#if canImport(Glibc)
import Glibc
#endif

let isRoot = getuid() == 0

@Suite struct RoleTests {
    @Test(.enabled(if: isRoot, "creating users needs root"))
    func staffAdminsAndOutsidersGetWhatTheirRoleAllows() throws {
        let accounts = try TestAccounts()
        let h = try DaemonHarness(extraConfig: "", topLevel: "")
        try h.writeConfig(h.config().replacingOccurrences(
            of: "[control]\nsocket = \"control.sock\"",
            with: "[control]\nsocket = \"control.sock\"\nadmin_group = \"\(accounts.adminGroup)\"\nstaff_group = \"\(accounts.staffGroup)\""))
        let yesterday = h.time.day(-1)
        try h.appendLines([#"{"v":1,"id":"e1","type":"surgery.booked","ref":"S1","patient":{"id":"P1","name":"Ann Example","phone":"07700 900123"},"at":"\#(yesterday)T10:30","ward":"Ward 7"}"#,
                           #"{"v":1,"id":"e2","type":"surgery.booked","ref":"S2","patient":{"id":"P2","phone":"07700 900124"},"at":"\#(yesterday)T10:30","ward":"Ward 7"}"#,
                           "not json"])
        try h.start()
        // The socket is 0660, group staff: the outsider cannot even connect.
        let mode = try FileManager.default.attributesOfItem(atPath: h.socketPath)[.posixPermissions] as! Int
        #expect(mode == 0o660)
        let every = [["status"], ["calls"], ["jobs"], ["job", "call-S1"], ["explain", "S1"], ["rejects"], ["rejects", "--show-line"],
                     ["ingest"], ["pause"], ["resume"], ["reload"], ["cancel", "wait-S2-1", "--reason", "test"], ["retry", "call-S1"],
                     ["outcome", "call-S1", "busy"]]
        for args in every {
            let r = try h.ctl(args, user: accounts.outsider)
            #expect(r.status == 77, "outsider \(args): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("permission denied"))
        }
        // Staff: lists and outcomes; not pause, reload, cancel or raw lines.
        for args in [["status"], ["calls"], ["jobs"], ["job", "call-S1"], ["explain", "S1"], ["rejects"]] {
            #expect(try h.ctl(args, user: accounts.staff).status == 0, "staff \(args)")
        }
        #expect(try h.ctl(["outcome", "call-S1", "reached", "--wound-care"], user: accounts.staff).status == 0)
        for args in [["pause"], ["reload"], ["cancel", "call-S2", "--reason", "test"], ["rejects", "--show-line"], ["ingest"], ["retry", "call-S2"]] {
            let r = try h.ctl(args, user: accounts.staff)
            #expect(r.status == 77, "staff \(args): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(accounts.adminGroup), "the message names the group needed: \(r.stderr)")
        }
        // Admin: everything.
        for args in [["pause"], ["resume"], ["reload"], ["rejects", "--show-line"], ["ingest"], ["cancel", "call-S2", "--reason", "duplicate booking"]] {
            let r = try h.ctl(args, user: accounts.admin)
            #expect(r.status == 0, "admin \(args): \(r.stderr)")
        }
        #expect(try h.ctl(["retry", "call-S2"], user: accounts.admin).status == 1, "not failed: refused, not denied")
        // The audit trail and the jobs' histories name each user.
        try h.stop()
        let db = try stateDatabase(h)
        let audit = try db.read { try Row.fetchAll($0, sql: "SELECT actor, action FROM audit").map { "\($0["actor"] as String) \($0["action"] as String)" } }
        for line in ["\(accounts.staff) outcome", "\(accounts.admin) pause", "\(accounts.admin) resume", "\(accounts.admin) reload",
                     "\(accounts.admin) cancel", "\(accounts.admin) rejects with raw lines", "\(accounts.admin) ingest"] {
            #expect(audit.contains(line), "audit lacks \(line): \(audit)")
        }
        let actors = try db.read { try String.fetchAll($0, sql: "SELECT actor FROM job_history WHERE job_id IN ('call-S1', 'call-S2')") }
        #expect(actors.contains(accounts.staff) && actors.contains(accounts.admin))
    }

    /// The feed role (`control.feed_group`, the HL7 receiver's user): in the
    /// staff group only to open the socket, it may ask `status` and
    /// `patient-known` and is refused everything else, the call list first.
    @Test(.enabled(if: getuid() == 0, "making users and groups needs root"))
    func theFeedRoleMayAskStatusAndPatientKnownOnly() throws {
        let accounts = try TestAccounts()
        let h = try DaemonHarness(extraConfig: "", topLevel: "")
        try h.writeConfig(h.config().replacingOccurrences(of: "[control]\nsocket = \"control.sock\"", with: accounts.controlSection()))
        let yesterday = h.time.day(-1)
        try h.appendLines([#"{"v":1,"id":"e1","type":"surgery.booked","ref":"S1","patient":{"id":"P1","name":"Ann Example","phone":"07700 900123"},"at":"\#(yesterday)T10:30","ward":"Ward 7"}"#,
                           #"{"v":1,"id":"m1","type":"patient.merged","patient":{"id":"P9"},"merged_id":"P1"}"#])
        try h.start()
        #expect(try h.ctl(["status"], user: accounts.feed).status == 0)
        let yes = try h.ctl(["patient-known", "P1"], user: accounts.feed)
        #expect(yes.status == 0 && yes.stdout == "yes\n")
        #expect(try h.ctl(["patient-known", "P9"], user: accounts.feed).stdout == "yes\n")
        let no = try h.ctl(["patient-known", "P2"], user: accounts.feed)
        #expect(no.status == 1 && no.stdout == "no\n" && no.stderr.isEmpty)
        #expect(try h.ctl(["--json", "patient-known", "P2"], user: accounts.feed).stdout.contains(#""known":false"#))
        for args in [["calls"], ["calls", "--escalated"], ["jobs"], ["job", "call-S1"], ["explain", "S1"], ["rejects"], ["report"],
                     ["outcome", "call-S1", "busy"], ["ingest"], ["pause"], ["reload"]] {
            let r = try h.ctl(args, user: accounts.feed)
            #expect(r.status == 77, "feed \(args): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains("feed role"), "feed \(args): \(r.stderr)")
        }
        // Nor may it act for someone else, although it is a member of the staff group.
        #expect(try h.ctl(["calls", "--as", "alice"], user: accounts.feed).status == 77)
        // Staff may not ask it (it answers a question about any patient id); admins may.
        #expect(try h.ctl(["patient-known", "P1"], user: accounts.staff).status == 77)
        #expect(try h.ctl(["patient-known", "P1"], user: accounts.admin).status == 0)
        try h.stop()
    }
}

/// Issue 35, finding 0: the `status` reply, once made, was returned from
/// its cache before the core's role check, so a user in no touchpoint group
/// got it (exit 0) once anyone had asked. The cache now takes the core's
/// proof of authorization.
@Suite struct CachedReplyTests {
    @Test(.enabled(if: isRoot, "creating users needs root"))
    func anOutsiderIsRefusedStatusWhateverWasAskedBefore() throws {
        let accounts = try TestAccounts()
        let h = try DaemonHarness()
        try h.useGroups(of: accounts)
        try h.start()
        // A socket the outsider can open (a mode an admin widened, a socket
        // unit's SocketMode=): the daemon's own rules are all that stand.
        chmod(h.socketPath, 0o666)
        // Cold: nothing asked yet. Refused by the daemon, naming the group.
        let cold = try h.ctl(["status"], user: accounts.outsider)
        #expect(cold.status == 77 && cold.stderr.contains("is not in the group \(accounts.staffGroup)"), "\(cold.stderr)")
        // Warm: root or staff asks, then the outsider at once (the kept reply
        // is good for the rest of that second of uptime, so twenty rounds
        // put many of the outsider's asks on a warm cache: the fast path on
        // the connection's first request, the cached one behind it).
        var leaked = 0
        for round in 0..<20 {
            #expect(try h.ctl(["status"], user: round % 2 == 0 ? nil : accounts.staff).status == 0)
            let r = try h.ctl(["status"], user: accounts.outsider)
            if r.status != 77 || !r.stderr.contains("permission denied") || !r.stdout.isEmpty { leaked += 1 }
        }
        #expect(leaked == 0, "an outsider got status \(leaked) times of 20")
        #expect(try h.ctl(["status", "--json"], user: accounts.outsider).status == 77)
        try h.stop()
    }
}

/// Issue 35: the acting person's wards are the core's rule, held in the
/// transaction that reads or records: a ward-limited delegate asking with
/// `touchpointctl` (as any client could) gets what the web view would.
@Suite struct ScopeTests {
    @Test(.enabled(if: isRoot, "creating users needs root"))
    func aWardLimitedDelegateIsRefusedAnotherWardsCallsWhateverTheFrontEnd() throws {
        let accounts = try TestAccounts()
        let h = try DaemonHarness()
        try h.useGroups(of: accounts)
        try h.appendLines([
            #"{"v":1,"id":"e1","type":"surgery.booked","ref":"S7","patient":{"id":"P7","name":"Ann Example","phone":"07700 900123"},"at":"\#(h.time.day(-1))T10:30","ward":"Ward 7"}"#,
            #"{"v":1,"id":"e2","type":"surgery.booked","ref":"S9","patient":{"id":"P9","name":"Dee Person","phone":"07700 900789"},"at":"\#(h.time.day(-1))T11:30","ward":"Ward 9"}"#,
        ])
        try h.start()
        let alice = ["--as", "alice", "--as-ward", "Ward 7"]
        func ctl(_ args: [String]) throws -> CommandResult { try h.ctl(alice + args, user: accounts.web) }
        // Her list is her ward's, with or without --ward.
        let list = try ctl(["calls", "--json"])
        #expect(list.status == 0 && list.stdout.contains("call-S7") && !list.stdout.contains("call-S9"), "\(list.stderr)")
        let other = try ctl(["calls", "--ward", "Ward 9"])
        #expect(other.status == 77 && other.stderr.contains("Ward 7 only"), "\(other.stderr)")
        // Another ward's call: not found, and no outcome recorded on it.
        #expect(try ctl(["job", "call-S9"]).status == 1)
        let outcome = try ctl(["outcome", "call-S9", "declined"])
        #expect(outcome.status == 1 && outcome.stderr.contains("no job"), "\(outcome.stderr)")
        #expect(try h.ctlJSON(JobView.self, ["job", "call-S9"]).state == .due, "nothing recorded on Ward 9's call")
        #expect(try ctl(["explain", "S9"]).status == 1)
        #expect(try !ctl(["jobs", "--json"]).stdout.contains("S9"))
        let report = try ctl(["report", "--ward", "Ward 9"])
        #expect(report.status == 77, "\(report.stderr)")
        // Her own ward's call takes the outcome.
        #expect(try ctl(["outcome", "call-S7", "declined"]).status == 0)
        // Wards without a person to act for, or from someone not a delegate: refused.
        #expect(try h.ctl(["--as-ward", "Ward 7", "calls"], user: accounts.web).status == 2)
        #expect(try h.ctl(alice + ["calls"], user: accounts.staff).status == 77)
        try h.stop()
    }
}

/// `web.md`'s trust model: a delegate (the web view) acts for a named
/// person with `as`, for staff commands only; anyone else's `as` is refused.
@Suite struct DelegateTests {
    @Test(.enabled(if: isRoot, "creating users needs root"))
    func onlyADelegateMayActForSomeoneAndOnlyForStaffCommands() throws {
        let accounts = try TestAccounts()
        let h = try DaemonHarness()
        try h.useGroups(of: accounts)
        try h.appendLines([#"{"v":1,"id":"e1","type":"surgery.booked","ref":"S1","patient":{"id":"P1","name":"Ann Example","phone":"07700 900123"},"at":"\#(h.time.day(-1))T10:30","ward":"Ward 7"}"#])
        try h.start()
        // The delegate reads the list and records an outcome for alice.
        #expect(try h.ctl(["--as", "alice", "calls"], user: accounts.web).status == 0)
        let r = try h.ctl(["--as", "alice", "outcome", "call-S1", "reached", "--wound-care", "--json"], user: accounts.web)
        #expect(r.status == 0, "\(r.stderr)")
        let job = try ControlJSON.decoder.decode(JobView.self, from: Data(r.stdout.utf8))
        #expect(job.history?.last?.actor == "alice via web")
        // An admin command through the delegate: refused, with exit 77.
        for args in [["pause"], ["reload"], ["rejects", "--show-line"], ["cancel", "wait-S1-1", "--reason", "x"], ["ingest"]] {
            let d = try h.ctl(["--as", "alice"] + args, user: accounts.web)
            #expect(d.status == 77, "as alice \(args): \(d.status) \(d.stderr)")
            #expect(d.stderr.contains("permission denied"))
        }
        // `as` from staff, an admin or root, who are not delegates: refused.
        for user in [accounts.staff, accounts.admin] {
            let d = try h.ctl(["--as", "alice", "status"], user: user)
            #expect(d.status == 77 && d.stderr.contains(accounts.delegateGroup), "\(user): \(d.status) \(d.stderr)")
        }
        #expect(try h.ctl(["--as", "alice", "status"]).status == 77, "root is not a delegate either")
        // The delegate on its own account is staff: its own name, never alone in the record.
        #expect(try h.ctl(["status"], user: accounts.web).status == 0)
        try h.stop()
        let db = try stateDatabase(h)
        let audit = try db.read { try Row.fetchAll($0, sql: "SELECT actor, action FROM audit").map { "\($0["actor"] as String) \($0["action"] as String)" } }
        #expect(audit.contains("alice via web outcome"), "\(audit)")
        #expect(!audit.contains { $0.hasPrefix(accounts.web) })
    }
}

@Suite(.serialized) struct AbuseTests {
    func expectStillAnswers(_ h: DaemonHarness) throws {
        let t0 = Date()
        let r = try h.ctl(["status", "--json"])
        #expect(r.status == 0, "status after abuse: \(r.stderr)")
        #expect(Date().timeIntervalSince(t0) < 2, "status took \(Date().timeIntervalSince(t0)) s")
    }

    @Test func badFramesGetAnErrorAndAClosedConnection() throws {
        let h = try DaemonHarness()
        try h.start()
        let pid = try #require(h.pid)
        _ = try h.ctl(["status"])
        let before = residentKiB(pid)
        // Random bytes: a bogus length or junk JSON; answered or closed, never a crash.
        var rng = SplitMix64(seed: 42)
        for _ in 0..<50 {
            let c = try RawControlConnection(path: h.socketPath)
            c.send((0..<Int(rng.below(300) + 1)).map { _ in UInt8(rng.below(256)) })
            _ = c.isClosedByPeer(timeout: 0.2)
        }
        try expectStillAnswers(h)
        // Malformed JSON in a good frame: an error, then closed.
        var c = try RawControlConnection(path: h.socketPath)
        c.sendFrame("{not json")
        #expect(c.readFrame()?["ok"] as? Bool == false)
        #expect(c.isClosedByPeer())
        // A 2 MiB frame: refused before it is read, then closed.
        c = try RawControlConnection(path: h.socketPath)
        let n = 2 << 20
        c.send([UInt8(n >> 24 & 0xFF), UInt8(n >> 16 & 0xFF), UInt8(n >> 8 & 0xFF), UInt8(n & 0xFF)] + [UInt8](repeating: 0x20, count: 65_536))
        let big = c.readFrame()
        #expect((big?["error"] as? [String: Any])?["code"] as? String == "frame_too_large")
        #expect(c.isClosedByPeer())
        // Another protocol version: an error naming both, then closed.
        c = try RawControlConnection(path: h.socketPath)
        c.sendFrame(#"{"v":2,"command":"status","args":{}}"#)
        let msg = ((c.readFrame()?["error"] as? [String: Any])?["message"] as? String) ?? ""
        #expect(msg.contains("version 2") && msg.contains("version 1"), "\(msg)")
        #expect(c.isClosedByPeer())
        // A half-sent frame left open does not hold anyone else up.
        let half = try RawControlConnection(path: h.socketPath)
        half.send([0, 0, 0, 100] + Array("{\"v\":1,".utf8))
        try expectStillAnswers(h)
        // A client that sends requests but never reads the replies.
        let deaf = try RawControlConnection(path: h.socketPath)
        var flags = fcntl(deaf.fd, F_GETFL)
        flags |= O_NONBLOCK
        _ = fcntl(deaf.fd, F_SETFL, flags)
        let req = controlFrame(#"{"v":1,"command":"status","args":{}}"#)
        for _ in 0..<20_000 where deaf.send(req) > 0 {}
        try expectStillAnswers(h)
        withExtendedLifetime(half) {}
        withExtendedLifetime(deaf) {}
        #expect(residentKiB(pid) < before + 30_000, "memory grew from \(before) KiB to \(residentKiB(pid)) KiB")
        try h.stop()
    }

    /// `status` may be answered straight from the pipeline; sent behind
    /// other requests on the same connection it must still come back after
    /// their replies, and after a write it must show the new state.
    @Test func repliesComeBackInTheOrderRequestsWereSent() throws {
        let h = try DaemonHarness()
        try h.appendLines([#"{"v":1,"id":"o1","type":"treatment.completed","ref":"T-o1","at":"2026-01-01T10:00","patient":{"id":"P1"}}"#])
        try h.start()
        let c = try RawControlConnection(path: h.socketPath)
        let status = #"{"v":1,"command":"status","args":{}}"#
        // Warm the status reply, so the next ones may take the fast path.
        c.sendFrame(status)
        #expect((c.readFrame()?["result"] as? [String: Any])?["version"] != nil)
        for _ in 0..<20 {
            var burst: [UInt8] = []
            for json in [#"{"v":1,"command":"jobs","args":{}}"#, status, #"{"v":1,"command":"rejects","args":{}}"#, status, status] {
                burst += controlFrame(json)
            }
            c.send(burst)
            let replies = (0..<5).map { _ in c.readFrame()?["result"] as? [String: Any] }
            #expect(replies[0]?["jobs"] != nil, "the jobs reply first")
            #expect(replies[1]?["version"] != nil)
            #expect(replies[2]?["rejects"] != nil, "then rejects: \(String(describing: replies[2]))")
            #expect(replies[3]?["version"] != nil && replies[4]?["version"] != nil)
        }
        // A write, then status: the new count, not the one made before it.
        try h.appendLines([#"{"v":1,"id":"o2","type":"treatment.completed","ref":"T-o2","at":"2026-01-01T10:00","patient":{"id":"P2"}}"#])
        try h.waitUntil(timeout: 10, "the new line is counted") {
            c.sendFrame(status)
            let q = (c.readFrame()?["result"] as? [String: Any])?["queue"] as? [String: Any]
            return q?["ingested"] as? Int == 2
        }
        try h.stop()
    }

    /// `cli.md`: idle connections are closed after 60 s (`control.idle_timeout`,
    /// 2 s here); one that keeps asking stays open.
    @Test func idleConnectionsAreClosedAndBusyOnesKept() throws {
        let h = try DaemonHarness()
        try h.writeConfig(h.config().replacingOccurrences(of: "[control]\nsocket = \"control.sock\"",
                                                          with: "[control]\nsocket = \"control.sock\"\nidle_timeout = \"2s\""))
        try h.start()
        let status = #"{"v":1,"command":"status","args":{}}"#
        let idle = try RawControlConnection(path: h.socketPath)
        idle.sendFrame(status)
        #expect(idle.readFrame() != nil)
        let busy = try RawControlConnection(path: h.socketPath)
        for _ in 0..<8 {
            busy.sendFrame(status)
            #expect(busy.readFrame() != nil, "a connection in use stays open")
            Thread.sleep(forTimeInterval: 0.5)
        }
        #expect(idle.isClosedByPeer(timeout: 3), "an idle connection is closed")
        busy.sendFrame(status)
        #expect(busy.readFrame() != nil)
        try h.stop()
    }

    @Test func fiveHundredIdleConnectionsCostOnlyTheirConnections() throws {
        let h = try DaemonHarness()
        try h.start()
        let pid = try #require(h.pid)
        _ = try h.ctl(["status"])
        let before = residentKiB(pid)
        var idle: [RawControlConnection] = []
        for _ in 0..<500 { idle.append(try RawControlConnection(path: h.socketPath)) }
        try expectStillAnswers(h)
        idle.removeAll()
        Thread.sleep(forTimeInterval: 1)
        try expectStillAnswers(h)
        #expect(residentKiB(pid) < before + 30_000, "memory grew from \(before) KiB to \(residentKiB(pid)) KiB")
        try h.stop()
    }
}

@Suite struct UnreachableTests {
    @Test func withTheDaemonStoppedEveryCommandExits69() throws {
        let h = try DaemonHarness()
        for args in [["status"], ["calls"], ["jobs"], ["job", "x"], ["explain", "x"], ["rejects"], ["ingest"], ["pause"], ["resume"],
                     ["reload"], ["cancel", "x", "--reason", "y"], ["retry", "x"], ["outcome", "x", "reached"]] {
            let r = try h.ctl(args)
            #expect(r.status == 69, "\(args): \(r.status)")
            #expect(r.stderr.hasPrefix("touchpointctl: cannot reach touchpointd at \(h.socketPath): no such file"))
            #expect(r.stderr.split(separator: "\n").count == 1)
        }
    }

    @Test func aSocketPathThatIsARegularFileIsReportedAsSuch() throws {
        let h = try DaemonHarness()
        try "not a socket".write(toFile: h.socketPath, atomically: true, encoding: .utf8)
        let r = try h.ctl(["status"])
        #expect(r.status == 69)
        #expect(r.stderr == "touchpointctl: cannot reach touchpointd at \(h.socketPath): it is a regular file, not a socket (check --socket or $TOUCHPOINT_SOCKET)\n")
    }

    @Test(.enabled(if: isRoot, "running as another user needs root"))
    func aSocketOfAnotherUserIsReportedAsSuch() throws {
        let accounts = try TestAccounts()
        let h = try DaemonHarness()
        try h.start()
        // The socket is root's, group root (no staff group exists here), mode 0660.
        let r = try h.ctl(["status"], user: accounts.outsider)
        #expect(r.status == 77)
        #expect(r.stderr.contains("it belongs to user root, group root (mode 660); you need to be in the group root"), "\(r.stderr)")
        try h.stop()
    }
}
