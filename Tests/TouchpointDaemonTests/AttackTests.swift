import Foundation
import GRDB
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Issue 34: what an attacker found, each finding reproduced against the real
/// programs (curl over real TCP, raw clients on the real control socket).
/// Each of these failed before its fix.
@Suite(.serialized, .enabled(if: getuid() == 0, "the web view runs as its own user: creating it needs root"))
struct SignInAttackTests {
    /// `count` sign-ins for `name` sent at once: one curl per source address
    /// (127.0.0.2 up), each with its share of the requests in parallel (`-Z`).
    /// The pages, one per request.
    static func parallelSignIns(_ s: WebScenario, name: String, password: String, count: Int, sources: Int) throws -> [WebResponse] {
        let dir = s.web.dir + "/flood-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let each = count / sources
        var curls: [(Process, Pipe)] = []
        for source in 0..<sources {
            let p = Process(), out = Pipe()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
            p.arguments = ["-s", "--no-progress-meter", "-Z", "--parallel-immediate", "--parallel-max", "\(each)", "--interface", "127.0.0.\(source + 2)",
                           "-X", "POST", "--data-raw", "username=\(name)&password=\(password.replacingOccurrences(of: " ", with: "+"))",
                           "-o", "\(dir)/s\(source)-#1.body", "-w", "%{url} %{http_code} %header{retry-after}\\n",
                           "\(s.web.base)/login?n=[1-\(each)]"]
            p.standardOutput = out
            curls.append((p, out))
        }
        for (p, _) in curls { try p.run() }
        var out: [WebResponse] = []
        for (source, (p, pipe)) in curls.enumerated() {
            let written = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            p.waitUntilExit()
            // One line per request: its URL (whose n names the body's file), status, Retry-After.
            for line in written.split(separator: "\n") {
                let parts = line.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count >= 2, let n = parts[0].split(separator: "=").last, let status = Int(parts[1]) else { continue }
                let retry = parts.count > 2 && !parts[2].isEmpty ? ["retry-after": String(parts[2])] : [:]
                out.append(WebResponse(status: status, headers: retry,
                                       body: (try? String(contentsOfFile: "\(dir)/s\(source)-\(n).body", encoding: .utf8)) ?? ""))
            }
        }
        return out
    }

    /// Finding 1: 200 wrong passwords at once, then the right one. Before:
    /// all 200 were checked (401, none locked) and the right one signed in.
    @Test func twoHundredWrongPasswordsAtOnceAreNoMoreGuessesThanTheLimit() throws {
        let s = try WebScenario(webConfig: "login_max_failures = 5\nlogin_lockout = \"15m\"")
        let pages = try Self.parallelSignIns(s, name: "alice", password: "not her password", count: 200, sources: 40)
        #expect(pages.count == 200 && pages.allSatisfy { $0.status != 0 }, "every request answered")
        let checked = pages.filter { $0.body.contains("not right") }.count
        let locked = pages.filter { $0.body.contains("this account is locked") }.count
        let busy = pages.filter { $0.status == 429 }.count
        // Only a password checked and found wrong says "not right".
        #expect(checked <= 5, "\(checked) wrong passwords were checked (login_max_failures = 5)")
        #expect(checked + locked + busy == 200, "checked \(checked), locked \(locked), busy \(busy)")
        #expect(pages.filter { $0.header("set-cookie") != nil }.isEmpty)
        // Then the right one: locked, no session.
        let right = try s.web.client().post("/login", form: [("username", "alice"), ("password", WebScenario.alicePassword)])
        #expect(right.status == 401 && right.body.contains("locked"), "\(right.status)")
        #expect(right.header("set-cookie") == nil)
        // The same name in another case is the same account, locked too.
        let upper = try s.web.client().post("/login", form: [("username", "ALICE"), ("password", WebScenario.alicePassword)])
        #expect(upper.body.contains("locked"))
    }

    /// A flood from one address is answered "busy" (429, Retry-After) beyond
    /// its share of the hashing queue, having checked nothing, and a nurse at
    /// another PC signs in while it lasts. Before: sixty bogus sign-ins queued
    /// ahead of hers (12.6 s).
    @Test func aFloodFromOneAddressGetsBusyAndCannotQueueAheadOfANurse() throws {
        let s = try WebScenario(webConfig: "login_max_failures = 100")
        let flood = try Self.parallelSignIns(s, name: "mallory", password: "guess", count: 60, sources: 1)
        let busy = flood.filter { $0.status == 429 }
        #expect(busy.count >= 60 - 4, "\(busy.count) of 60 were told busy; the share is 4")
        #expect(busy.allSatisfy { Int($0.header("retry-after") ?? "") ?? 0 >= 1 }, "each with Retry-After")
        #expect(busy.allSatisfy { $0.body.contains("Wait") && !$0.body.contains("not right") })
        // Nothing the flood sent was counted against a name: a real sign-in goes through.
        #expect(try s.signedIn("bob", WebScenario.bobPassword).get("/calls").status == 200)
    }

    /// kill -9 while a password is being checked: the attempt in hand counts
    /// as a failure at the next start, never as a guess given back (with the
    /// check-then-count of before, an attempt cut short was never counted).
    @Test func anAttemptCutShortByKill9CountsAsAFailure() throws {
        let s = try WebScenario(webConfig: "login_max_failures = 3")
        for i in 1...2 { _ = try s.web.client().post("/login", form: [("username", "alice"), ("password", "wrong \(i)")]) }
        let inFlight = Process()
        inFlight.executableURL = URL(fileURLWithPath: "/usr/bin/curl")
        inFlight.arguments = ["-s", "-o", "/dev/null", "--data-raw", "username=alice&password=wrong+3", s.web.base + "/login"]
        try inFlight.run()
        // Kill once the attempt is taken (pending in the database) and before its check ends.
        // Polled in-process (a sqlite3 process per look took long enough under
        // CI's load to miss the check, a few hundred milliseconds, and time out).
        var read = Configuration()
        read.readonly = true
        let db = try DatabaseQueue(path: s.web.stateDir + "/web.sqlite", configuration: read)
        try s.daemon.waitUntil(timeout: 30, "the third attempt is in hand") {
            try db.read { try Int.fetchOne($0, sql: "SELECT pending FROM sign_in_failures WHERE name = 'alice'") } == 1
        }
        kill(try #require(s.web.pid), SIGKILL)
        inFlight.waitUntilExit()
        try s.web.start()
        let next = try s.web.client().post("/login", form: [("username", "alice"), ("password", WebScenario.alicePassword)])
        #expect(next.body.contains("this account is locked"), "2 failures and 1 cut short are 3 (login_max_failures): \(next.status)")
    }
}

@Suite(.serialized, .enabled(if: getuid() == 0, "the web view runs as its own user: creating it needs root"))
struct ProxyNameTests {
    /// A scenario behind a trusted proxy on the web view's Unix socket.
    static func proxied() throws -> (WebScenario, WebClient) {
        let s = try WebScenario(start: false)
        let sockDir = s.web.dir + "/run"
        try FileManager.default.createDirectory(atPath: sockDir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o755])
        try TestAccounts.sh("/bin/chown", [s.web.accounts.web, sockDir])
        let socketPath = sockDir + "/web.sock"
        try s.web.writeConfig(listen: "unix:\(socketPath)",
                              extra: "auth = \"proxy\"\ntrusted_proxy_users = [\"\(s.web.accounts.staff)\"]\nproxy_user_header = \"X-Remote-User\"")
        try s.daemon.start()
        try s.web.addAccount("nurse2", password: "nurse two's long password", wards: ["Ward 9"])
        try s.web.addAccount("tdis", password: "a disabled account's password")
        #expect(try s.web.user(["disable", "tdis"]).status == 0)
        try s.web.start()
        let proxy = s.web.client()
        proxy.curlOptions = ["--unix-socket", socketPath]
        proxy.user = s.web.accounts.staff
        return (s, proxy)
    }

    /// Finding 3: `NURSE2` saw every ward where `nurse2` sees Ward 9; `TDIS`
    /// got in where `tdis` is disabled; a name with no account saw every ward.
    @Test func namesAreOneAccountWhateverTheCaseAndUnknownNamesAreRefused() throws {
        let (s, proxy) = try Self.proxied()
        defer { withExtendedLifetime(s) {} }
        for given in ["nurse2", "NURSE2", " Nurse2 "] {
            let r = try proxy.get("/calls", headers: ["X-Remote-User": given])
            #expect(r.status == 200 && r.body.contains("Dee Person"), "\(given): \(r.status)")
            #expect(!r.body.contains("Ann Example"), "\(given) sees another ward")
            #expect(r.body.contains("Signed in as <strong>nurse2</strong>"), "\(given): the account's own name")
            #expect(try proxy.get("/calls/call-S1", headers: ["X-Remote-User": given]).status == 404, "\(given) opens another ward's call")
        }
        for given in ["tdis", "TDIS", "Tdis"] {
            let r = try proxy.get("/calls", headers: ["X-Remote-User": given])
            #expect(r.status == 403 && r.body.contains("disabled") && !r.body.contains("Ann Example"), "\(given): \(r.status)")
        }
        for given in ["carol", "everyone-at-the-trust"] {
            let r = try proxy.get("/calls", headers: ["X-Remote-User": given])
            #expect(r.status == 403 && r.body.contains("do not have a touchpoint account") && r.body.contains("administrator"), "\(given): \(r.status)")
            #expect(!r.body.contains("Ann Example") && !r.body.contains("Dee Person"))
        }
    }

    @Test func aSecondAccountWithTheSameNameInAnotherCaseIsRefused() throws {
        let s = try WebScenario(start: false)
        try s.web.addAccount("nurse2", password: "nurse two's long password")
        let again = try s.web.user(["add", "NURSE2", "--password-stdin"], stdin: "another long password\n")
        #expect(again.status != 0 && again.stderr.contains("already exists") && again.stderr.contains("nurse2"), "\(again.stderr)")
        // The admin's commands find the account in any case.
        #expect(try s.web.user(["disable", "Nurse2"]).status == 0)
        #expect(try s.web.user(["list"]).stdout.contains("nurse2"))
    }
}

@Suite(.serialized, .enabled(if: getuid() == 0, "the web view runs as its own user: creating it needs root"))
struct OutcomeAndAddressTests {
    /// Finding 4: `reached` without the wound-care answer, posted with a
    /// worklist's `list` field, was recorded with wound care null; and
    /// `touchpointctl outcome JOB reached` took no flag.
    @Test func reachedWithoutTheWoundCareAnswerIsRefusedByEveryFrontEnd() throws {
        let s = try WebScenario()
        let alice = try s.signedIn("alice", WebScenario.alicePassword)
        let page = try alice.get("/calls/call-S1")
        let csrf = try #require(page.field("csrf"))
        for list in ["list:x", "list:pre-surgery options", "ward", "nurse"] {
            let r = try alice.post("/calls/call-S1/outcome", form: [("csrf", csrf), ("seen_outcomes", "0"), ("outcome", "reached"), ("list", list)])
            #expect(r.status == 400 && r.body.contains("Select whether wound care was discussed") && r.body.contains("#wound-yes"), "list=\(list): \(r.status)")
        }
        #expect(try s.job("call-S1").state == .due, "nothing recorded")
        let ctl = try s.daemon.ctl(["outcome", "call-S2", "reached"])
        #expect(ctl.status == 1 && ctl.stderr.contains("wound care") && ctl.stderr.contains("--wound-care or --no-wound-care"), "\(ctl.stderr)")
        #expect(try s.job("call-S2").state == .due)
        // The delegate's own request, as any other client could send it.
        let raw = try s.daemon.ctl(["--as", "alice", "outcome", "call-S2", "reached", "--json"], user: s.web.accounts.web)
        #expect(raw.status == 1 && raw.stderr.contains("wound care"))
        // With the answer, both go through.
        #expect(try s.daemon.ctl(["outcome", "call-S2", "reached", "--no-wound-care"]).status == 0)
        let ok = try alice.post("/calls/call-S1/outcome", form: [("csrf", csrf), ("seen_outcomes", "0"), ("outcome", "reached"), ("wound_care", "yes")])
        #expect(ok.status == 303)
        #expect(try s.job("call-S1").woundCare == true)
    }

    /// Finding 4: the call for ref "S PT W4" was on the list, but its link
    /// `/calls/call-S%20PT%20W4` gave 404. Ids with a space, `%`, `/`, `?`,
    /// `#` and letters beyond ASCII each open from the list's own link and
    /// take an outcome.
    @Test func aCallWhoseRefNeedsEncodingOpensFromItsLinkAndTakesAnOutcome() throws {
        let s = try WebScenario(start: false)
        let y = s.daemon.time.day(-1)
        let refs = ["S PT W4", "S%41", "S/7", "S?x#y", "Sé ü"]
        try s.daemon.appendLines(refs.enumerated().map { i, ref in
            let jsonRef = ref.replacingOccurrences(of: "\\", with: "\\\\")
            return #"{"v":1,"id":"enc\#(i)","type":"surgery.booked","ref":"\#(jsonRef)","patient":{"id":"PE\#(i)","name":"Enc Patient\#(i)","phone":"07700 900\#(300 + i)"},"at":"\#(y)T09:00","ward":"Ward 9"}"#
        })
        try s.daemon.start()
        try s.web.addAccount("bob", password: WebScenario.bobPassword)
        try s.web.start()
        let bob = try s.signedIn("bob", WebScenario.bobPassword)
        let list = try bob.get("/calls")
        for (i, ref) in refs.enumerated() {
            let job = "call-" + ref
            // RFC 3986's unreserved bytes as they are, every other byte as %XX.
            let path = "/calls/" + job.utf8.map { b -> String in
                let c = Character(Unicode.Scalar(b))
                return b < 0x80 && (c.isLetter || c.isNumber || "-._~".contains(c)) ? String(c) : "%" + String(b, radix: 16, uppercase: true)
            }.joined()
            #expect(list.body.contains("href=\"\(path)\""), "the list links \(job) as \(path)")
            let page = try bob.get(path)
            #expect(page.status == 200 && page.body.contains("Enc Patient\(i)"), "\(path): \(page.status)")
            #expect(page.body.contains("action=\"\(path)/outcome\""))
            let done = try bob.post(path + "/outcome", form: [("csrf", page.field("csrf")!), ("seen_outcomes", "0"), ("outcome", "declined")])
            #expect(done.status == 303, "\(path): \(done.status)")
            #expect(try s.job(job).state == .done, "\(job) recorded")
        }
    }

    /// Finding 4: two `Host` headers were answered 200 (RFC 9112: 400); and a
    /// name that is not this server's (a DNS-rebinding page's) reached the pages.
    @Test func twoHostHeadersOrAForeignHostGet400() throws {
        let s = try WebScenario()
        let c = s.web.client()
        #expect(try c.get("/healthz").status == 200)
        #expect(try c.get("/healthz", headers: ["Host": "localhost:\(s.web.port)"]).status == 200)
        // curl sends one Host whatever it is given: the request is written by hand.
        let raw = """
            import socket, sys
            s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
            s.sendall(b"GET /login HTTP/1.1\\r\\nHost: 127.0.0.1:" + sys.argv[1].encode() + b"\\r\\nHost: evil.example\\r\\nConnection: close\\r\\n\\r\\n")
            print(s.recv(100).split(b" ")[1].decode())
            """
        let twice = try DaemonHarness.run("/usr/bin/python3", ["-c", raw, "\(s.web.port)"])
        #expect(twice.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "400", "two Hosts: \(twice.stdout) \(twice.stderr)")
        let foreign = try c.get("/login", headers: ["Host": "rebind.attacker.example"])
        #expect(foreign.status == 400 && foreign.body.contains("does not answer to that name"))
        let signIn = try c.post("/login", form: [("username", "bob"), ("password", WebScenario.bobPassword)],
                                headers: ["Host": "rebind.attacker.example"])
        #expect(signIn.status == 400 && signIn.header("set-cookie") == nil)
    }

    /// `server_names` names the hosts a trust's address gives.
    @Test func serverNamesAreTheNamesAnswered() throws {
        let s = try WebScenario(webConfig: "server_names = [\"touchpoint.example.nhs.uk\"]")
        let c = s.web.client()
        #expect(try c.get("/login", headers: ["Host": "touchpoint.example.nhs.uk"]).status == 200)
        #expect(try c.get("/login", headers: ["Host": "TOUCHPOINT.example.nhs.uk:\(s.web.port)"]).status == 200)
        #expect(try c.get("/login").status == 400, "127.0.0.1 is not one of server_names")
    }
}

/// Finding 2: a staff user's thousand idle connections, kept alive by a
/// refused request every 25 s, had root's `status` refused ("too many
/// control connections open (1000)") and the web view answering 400.
@Suite(.serialized, .enabled(if: getuid() == 0, "the web view runs as its own user: creating it needs root"))
struct ControlConnectionShareTests {
    static let helper = DaemonHarness.repoRoot + "/tests/abuse/hold_control_connections.py"

    /// Starts the helper as `user`: it opens `count` connections, sends
    /// `requests` requests for `command` on each, prints what happened and
    /// keeps what is open until `release` is called.
    static func hold(_ s: WebScenario, user: String, count: Int, command: String, requests: Int) throws
        -> (report: [String: Any], release: () -> Void)
    {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/setpriv")
        p.arguments = ["--reuid=\(user)", "--regid=\(user)", "--init-groups", "--", "/usr/bin/python3", helper,
                       s.daemon.socketPath, "\(count)", command, "\(requests)"]
        let out = Pipe(), input = Pipe()
        p.standardOutput = out
        p.standardInput = input
        try p.run()
        var line = Data()
        while !line.contains(UInt8(ascii: "\n")) {
            let chunk = out.fileHandleForReading.availableData
            if chunk.isEmpty { break }
            line.append(chunk)
        }
        let report = (try? JSONSerialization.jsonObject(with: line) as? [String: Any]) ?? [:]
        return (report, {
            try? input.fileHandleForWriting.close()
            p.waitUntilExit()
        })
    }

    @Test func aThousandConnectionsFromOneStaffUserLeaveRootAndTheWebViewServed() throws {
        let s = try WebScenario()
        let bob = try s.signedIn("bob", WebScenario.bobPassword)
        let (report, release) = try Self.hold(s, user: s.web.accounts.staff, count: 1000, command: "pause", requests: 1)
        defer { release() }
        #expect(report["opened"] as? Int == 1000, "\(report)")
        #expect(report["kept"] as? Int == 32, "one user's share is 32: \(report)")
        #expect(report["too_many"] as? Int == 968, "\(report)")
        #expect((report["messages"] as? [String])?.first?.contains("32 control connections open already") == true, "\(report)")
        // While they are held: root's status, and the ward's list.
        let status = try s.daemon.ctl(["status"])
        #expect(status.status == 0, "root's status: \(status.stderr)")
        #expect(try bob.get("/calls").status == 200)
        // Another staff user has a share of their own.
        #expect(try s.daemon.ctl(["status"], user: s.web.accounts.admin).status == 0)
        // 968 refusals are one line in the journal, not 968 (journald's rate limit would drop the rest of the log).
        let logged = s.daemon.daemonStderr.split(separator: "\n").filter { $0.contains("control connection from \(s.web.accounts.staff) refused") }
        #expect(logged.count == 1, "\(logged.count) lines")
    }

    @Test func refusedRequestsInARowCloseTheConnection() throws {
        let s = try WebScenario()
        let (report, release) = try Self.hold(s, user: s.web.accounts.staff, count: 4, command: "pause", requests: 8)
        defer { release() }
        #expect(report["closed_after_refusals"] as? Int == 4 && report["kept"] as? Int == 0, "\(report)")
        // 32 refused requests, one line (then one a minute, saying how many were left out).
        let logged = s.daemon.daemonStderr.split(separator: "\n").filter { $0.contains("pause refused for \(s.web.accounts.staff)") }
        #expect(logged.count == 1, "\(logged)")
    }

    /// A "no" to a request the peer may make is ordinary work: a script
    /// polling for a job that has not appeared yet (the benchmark does) is
    /// not closed after eight "not found" answers, as an attacker's eight
    /// permission-denied ones are.
    @Test func notFoundAnswersAreNotRefusals() throws {
        let h = try DaemonHarness()
        try h.start()
        let c = try RawControlConnection(path: h.socketPath)
        for i in 0..<20 {
            c.sendFrame(#"{"v":1,"command":"job","args":{"job":"not-there-yet"}}"#)
            let reply = c.readFrame()
            #expect((reply?["error"] as? [String: Any])?["code"] as? String == "not_found", "answer \(i)")
        }
        c.sendFrame(#"{"v":1,"command":"status","args":{}}"#)
        #expect(c.readFrame()?["ok"] as? Bool == true, "still open after 20 not-found answers")
        try h.stop()
    }

    /// Idle means no accepted request: refused ones keep nothing open.
    @Test func refusedRequestsAreNotActivity() throws {
        let h = try DaemonHarness(extraConfig: "")
        try h.writeConfig(h.config().replacingOccurrences(of: "[control]\nsocket = \"control.sock\"",
                                                         with: "[control]\nsocket = \"control.sock\"\nidle_timeout = \"2s\""))
        try h.start()
        let refused = try RawControlConnection(path: h.socketPath)
        let accepted = try RawControlConnection(path: h.socketPath)
        let start = Date()
        var refusedClosedAt: TimeInterval?
        while Date().timeIntervalSince(start) < 4 {
            if refusedClosedAt == nil {
                refused.sendFrame(#"{"v":1,"command":"no-such-command","args":{}}"#)
                if refused.readFrame(timeout: 1) == nil { refusedClosedAt = Date().timeIntervalSince(start) }
            }
            accepted.sendFrame(#"{"v":1,"command":"status","args":{}}"#)
            #expect(accepted.readFrame(timeout: 2)?["ok"] as? Bool == true, "the connection with accepted requests stays open")
            usleep(500_000)
        }
        let closed = try #require(refusedClosedAt, "the connection sending only refused requests was never closed")
        #expect(closed >= 1.5 && closed < 4, "closed after \(closed) s (idle_timeout 2 s)")
        try h.stop()
    }
}
