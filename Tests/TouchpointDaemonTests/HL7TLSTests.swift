import Foundation
import Testing
import TouchpointControl
import TouchpointTestSupport

/// MLLP over TLS, driven by Python's `ssl` (OpenSSL: what an integration
/// team's scripts use), with certificates made by `openssl` for the test: a
/// trust's CA, the receiver's certificate, an engine's the CA signed and a
/// stranger's it did not.
@Suite(.serialized) struct HL7TLSTests {
    /// The certificates, in `dir`: ca, server, engine (signed by ca), stranger (self-signed).
    static func certificates(in dir: String) throws {
        func openssl(_ args: [String]) throws {
            let r = try DaemonHarness.run("/usr/bin/openssl", args)
            guard r.status == 0 else { throw HarnessError("openssl \(args.first ?? ""): \(r.stderr)") }
        }
        for (name, cn) in [("ca", "Test Trust CA"), ("server", "touchpoint-hl7"), ("stranger", "engine")] {
            try openssl(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=\(cn)",
                         "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", "\(dir)/\(name).key", "-out", "\(dir)/\(name).pem"])
        }
        try openssl(["req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=engine", "-keyout", "\(dir)/engine.key", "-out", "\(dir)/engine.csr"])
        try openssl(["x509", "-req", "-in", "\(dir)/engine.csr", "-CA", "\(dir)/ca.pem", "-CAkey", "\(dir)/ca.key", "-CAcreateserial",
                     "-days", "2", "-out", "\(dir)/engine.pem"])
    }

    /// One message over TLS; stdout is the ACK (segments on lines), or empty when none came.
    static let client = """
        import socket, ssl, sys
        port, ca, cert, key, path = sys.argv[1:6]
        ctx = ssl.create_default_context(cafile=ca)
        if cert != "-":
            ctx.load_cert_chain(cert, key)
        got = b""
        try:
            with ctx.wrap_socket(socket.create_connection(("127.0.0.1", int(port)), timeout=10), server_hostname="127.0.0.1") as t:
                t.sendall(b"\\x0b" + open(path, "rb").read() + b"\\x1c\\x0d")
                while not got.endswith(b"\\x1c\\x0d"):
                    b = t.recv(4096)
                    if not b:
                        break
                    got += b
        except (ssl.SSLError, OSError) as e:
            print("no ACK: %s" % e, file=sys.stderr)
        sys.stdout.write(got.decode("ascii", "replace").replace("\\r", "\\n"))
        """

    /// A directory of its own for a test's certificates.
    static func certificateDirectory() throws -> String {
        let dir = NSTemporaryDirectory() + "touchpoint-hl7-tls-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try certificates(in: dir)
        return dir
    }

    func send(_ s: HL7Scenario, _ message: [UInt8], certificates dir: String, as certificate: String?) throws -> String {
        let file = s.dir + "/message-\(UUID().uuidString).hl7"
        try Data(message).write(to: URL(fileURLWithPath: file))
        let args = ["-c", Self.client, "\(s.port)", dir + "/server.pem", certificate.map { "\(dir)/\($0).pem" } ?? "-",
                    certificate.map { "\(dir)/\($0).key" } ?? "-", file]
        return try DaemonHarness.run("/usr/bin/python3", args).stdout
    }

    @Test func mutualTLSServesOnlyAnEngineWhoseCertificateTheTrustsCASigned() throws {
        let dir = try Self.certificateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let s = try HL7Scenario(topLevel: """
            tls_cert = "\(dir)/server.pem"
            tls_key = "\(dir)/server.key"
            tls_client_ca = "\(dir)/ca.pem"
            """)
        let check = try DaemonHarness.run(DaemonHarness.binDir + "/touchpoint-hl7", ["--check-config", "--config", s.dir + "/hl7.toml"])
        #expect(check.status == 0 && check.stdout.contains("MLLP over mutual TLS"), "\(check.stdout)\(check.stderr)")
        try s.start()
        defer { try? s.stop() }
        let day = s.daemon.time.day(-1)  // operated on yesterday: the check-in call is today's
        let ack = try send(s, s.siu("S12", id: "TLS-1", ref: "TH-TLS", start: s.ts(day, 9, 0)), certificates: dir, as: "engine")
        #expect(ack.contains("MSA|AA|TLS-1"), "\(ack)\n\(s.receiverLog)")
        // No certificate, one the CA did not sign, or plain MLLP on the TLS port: no ACK, nothing written.
        for (certificate, id) in [(nil, "TLS-2"), ("stranger", "TLS-3")] as [(String?, String)] {
            let none = try send(s, s.siu("S12", id: id, ref: "TH-\(id)", start: s.ts(day, 9, 0)), certificates: dir, as: certificate)
            #expect(!none.contains("MSA"), "\(certificate ?? "no certificate"): \(none)")
        }
        let plain = try MLLPClient(port: s.port)
        #expect(plain.send(s.siu("S12", id: "TLS-4", ref: "TH-TLS-4", start: s.ts(day, 9, 0))) == nil)
        plain.close()
        let queue = try String(contentsOfFile: s.daemon.queuePath, encoding: .utf8)
        #expect(queue.contains(#""ref":"TH-TLS""#) && !queue.contains("TH-TLS-"), "\(queue)")
        try s.daemon.waitUntil(timeout: 20, "the call is planned") {
            (try? s.daemon.ctlJSON(CallsReport.self, ["calls"]))?.calls.contains { $0.job.ref == "TH-TLS" } == true
        }
        let log = s.receiverLog
        #expect(log.components(separatedBy: "closed: TLS:").count - 1 >= 3, "each refused handshake logged: \(log)")
    }

    /// A key that is not the certificate's, or a certificate file that is
    /// not one, stops the receiver at `--check-config` and at start, naming the key.
    @Test func aKeyThatIsNotTheCertificatesIsRefusedAtStart() throws {
        let dir = try Self.certificateDirectory()
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let bin = DaemonHarness.binDir + "/touchpoint-hl7"
        for (cert, key, says) in [("server.pem", "stranger.key", "tls_cert and tls_key"), ("server.key", "server.key", "tls_cert: cannot read")] {
            let s = try HL7Scenario(topLevel: "tls_cert = \"\(dir)/\(cert)\"\ntls_key = \"\(dir)/\(key)\"")
            let check = try DaemonHarness.run(bin, ["--check-config", "--config", s.dir + "/hl7.toml"])
            #expect(check.status == 1 && check.stderr.contains(says), "\(check.stderr)")
            let serve = try DaemonHarness.run(bin, ["--config", s.dir + "/hl7.toml", "--log-target", "stderr"])
            #expect(serve.status == 1 && serve.stderr.contains(says), "\(serve.stderr)")
        }
    }
}
