import Foundation
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

#if canImport(Glibc)
import Glibc
#endif

@Suite(.serialized) struct HL7ReceiverTests {
    @Test func aBookingSentWithMllpSendIsAppendedAcknowledgedAndPlanned() throws {
        let s = try HL7Scenario()
        try s.start()
        defer { try? s.stop() }
        // Debian's mllp_send, as an integration engineer would first try it.
        let yesterday = s.daemon.time.day(-1)
        let message = s.siu("S12", id: "MSG-1", ref: "TH-1", start: s.ts(yesterday, 10, 30))
        let framed = s.dir + "/one.mllp"
        try Data([0x0B] + message + [0x1C, 0x0D]).write(to: URL(fileURLWithPath: framed))
        let sent = try DaemonHarness.run("/usr/bin/mllp_send", ["-p", "\(s.port)", "-f", framed, "127.0.0.1"])
        #expect(sent.status == 0, "\(sent.stderr)")
        #expect(sent.stdout.contains("MSA|AA|MSG-1"), "\(sent.stdout)")
        // In the queue, once, with its source; then planned by the daemon.
        let queue = try String(contentsOfFile: s.daemon.queuePath, encoding: .utf8)
        #expect(queue.split(separator: "\n").filter { $0.contains(#""ref":"TH-1""#) && $0.contains(#""source":"hl7:theatres""#) }.count == 1, "\(queue)")
        try s.daemon.waitUntil(timeout: 20, "the call is planned") {
            (try? s.daemon.ctlJSON(CallsReport.self, ["calls"]))?.calls.contains { $0.job.ref == "TH-1" } == true
        }
        let explain = try s.daemon.ctl(["explain", "TH-1"])
        #expect(explain.status == 0 && explain.stdout.contains("checkin_call"), "\(explain.stdout)")
        // The same message again: the same ACK, nothing written again.
        let client = try MLLPClient(port: s.port)
        defer { client.close() }
        let again = client.send(message)
        #expect(msa(again) == ["MSA", "AA", "MSG-1"])
        #expect(try String(contentsOfFile: s.daemon.queuePath, encoding: .utf8) == queue)
        // A phone change for the patient it booked, sent twice (the engine lost the first ACK): one line.
        let a08 = Array([
            "MSH|^~\\&|ORMIS|RGT|TOUCHPOINT|RGT|\(s.ts(yesterday, 12, 0))||ADT^A08|A08-1|P|2.4",
            "PID|1||P-TH-1^^^RGT^MR||Example^Ann||||||||07700 900999^ORN^CP",
        ].joined(separator: "\r").utf8)
        #expect(msa(client.send(a08)) == ["MSA", "AA", "A08-1"])
        #expect(msa(client.send(a08)) == ["MSA", "AA", "A08-1"])
        let updates = try String(contentsOfFile: s.daemon.queuePath, encoding: .utf8).split(separator: "\n").filter { $0.contains(#""type":"patient.updated""#) }
        #expect(updates.count == 1 && updates.first?.contains(#""phone":"+447700900999""#) == true, "\(updates)")
    }

    @Test func contentErrorsGetAEWithERRAndTheLogHoldsNoPatientData() throws {
        let s = try HL7Scenario()
        try s.start()
        let client = try MLLPClient(port: s.port)
        let bad = client.send(s.siu("S12", id: "MSG-BAD", ref: "TH-2", start: s.ts(s.daemon.time.day(1), 9, 0), nhs: "9990000019"))
        #expect(msa(bad).prefix(3) == ["MSA", "AE", "MSG-BAD"])
        let err = bad?.first { $0.first == "ERR" } ?? []
        #expect(err.count > 3 && err[2] == "PID^1^3" && err[3].hasPrefix("102^"), "\(err)")
        // Not a message: AR with an empty MSA-2, and the connection goes on.
        let junk = client.send(Array("hello, not HL7".utf8))
        #expect(msa(junk).prefix(3) == ["MSA", "AR", ""])
        let good = client.send(s.siu("S12", id: "MSG-OK", ref: "TH-3", start: s.ts(s.daemon.time.day(1), 9, 0)))
        #expect(msa(good) == ["MSA", "AA", "MSG-OK"])
        client.close()
        try s.stop()
        let log = s.receiverLog
        #expect(log.contains("MSG-BAD") && log.contains("PID-3"), "\(log)")
        for secret in ["Ann", "Example", "07700", "900123", "9990000019", "9990000018", "P-TH-2"] {
            #expect(!log.contains(secret), "\(secret) in the receiver's log")
        }
        // The admin's view: counts per feed, and the rejects without patient data unless asked (as root).
        let bin = DaemonHarness.binDir + "/touchpoint-hl7"
        let status = try DaemonHarness.run(bin, ["status", "--config", s.dir + "/hl7.toml"])
        #expect(status.stdout.contains("theatres: received 2, accepted 1, ignored 0, rejected 1; last message 20"), "\(status.stdout) \(status.stderr)")
        let rejects = try DaemonHarness.run(bin, ["rejects", "--config", s.dir + "/hl7.toml"])
        #expect(rejects.stdout.contains("theatres AE PID-3: PID-3: an NHS number that fails the check") && !rejects.stdout.contains("Example"), "\(rejects.stdout)")
        #expect(rejects.stdout.contains("- AR -: no MSH segment at the start of the message"), "\(rejects.stdout)")
        if getuid() == 0 {
            #expect(try DaemonHarness.run(bin, ["rejects", "--show-message", "--config", s.dir + "/hl7.toml"]).stdout.contains("Example^Ann"))
        }
    }

    @Test func aPeerNotInAllowIsClosedBeforeAByteIsRead() throws {
        let s = try HL7Scenario(topLevel: #"allow = ["10.9.9.0/24"]"#)
        try s.start()
        let client = try MLLPClient(port: s.port)
        #expect(client.send(s.siu("S12", id: "X-1", ref: "TH-5", start: s.ts(s.daemon.time.day(1), 9, 0))) == nil)
        client.close()
        try s.stop()
        #expect(s.receiverLog.contains("closed: not in allow"))
        #expect(try String(contentsOfFile: s.daemon.queuePath, encoding: .utf8).isEmpty)
    }

    @Test func aSameDayDelayGetsOurWordsNeverTheSenders() throws {
        let s = try HL7Scenario()
        try s.start()
        defer { try? s.stop() }
        let today = s.daemon.time.day(0)
        let client = try MLLPClient(port: s.port)
        defer { client.close() }
        #expect(msa(client.send(s.siu("S12", id: "D-1", ref: "TH-9", start: s.ts(today, 23, 0)))) == ["MSA", "AA", "D-1"])
        #expect(msa(client.send(s.siu("S13", id: "D-2", ref: "TH-9", start: s.ts(today, 23, 40), reason: "EMERG^Mr Smith's emergency"))) == ["MSA", "AA", "D-2"])
        let queue = try String(contentsOfFile: s.daemon.queuePath, encoding: .utf8)
        let delayed = queue.split(separator: "\n").first { $0.contains(#""type":"surgery.delayed""#) }
        #expect(delayed?.contains(#""reason":"an emergency operation needed the theatre first""#) == true, "\(queue)")
        #expect(!queue.contains("Smith"))
    }

    /// A patient another writer booked is known through touchpointd's
    /// `patient-known`; a patient nobody booked gets nothing written; with
    /// touchpointd down the question cannot be asked, so no ACK (the engine
    /// keeps the message) until it is back.
    @Test func anUpdateForAPatientAnotherWriterBookedIsAskedOfTheDaemon() throws {
        let s = try HL7Scenario()
        let day = s.daemon.time.day(2)
        try s.daemon.appendLines([#"{"v":1,"id":"nightly-1","type":"surgery.booked","ref":"NX-1","source":"nightly","patient":{"id":"P-OTHER","phone":"07700 900123"},"at":"\#(day)T09:00","ward":"Ward 7"}"#])
        try s.start()
        defer { try? s.stop() }
        func a08(_ id: String, _ patient: String) -> [UInt8] {
            Array([
                "MSH|^~\\&|ORMIS|RGT|TOUCHPOINT|RGT|\(s.ts(day, 8, 0))||ADT^A08|\(id)|P|2.4",
                "PID|1||\(patient)^^^RGT^MR||Example^Ann||||||||07700 900888^ORN^CP",
            ].joined(separator: "\r").utf8)
        }
        var client = try MLLPClient(port: s.port)
        #expect(msa(client.send(a08("U-1", "P-OTHER"))) == ["MSA", "AA", "U-1"])
        #expect(msa(client.send(a08("U-2", "P-NOBODY"))) == ["MSA", "AA", "U-2"])
        var lines = try String(contentsOfFile: s.daemon.queuePath, encoding: .utf8).split(separator: "\n")
        #expect(lines.filter { $0.contains(#""type":"patient.updated""#) && $0.contains(#""id":"P-OTHER""#) }.count == 1, "\(lines)")
        #expect(!lines.contains { $0.contains("P-NOBODY") })
        try s.daemon.waitUntil(timeout: 10, "the update is applied") { try s.daemon.status().queue.ingested == 2 }
        // touchpointd stopped: no ACK, the connection closed, nothing written.
        try s.daemon.stop()
        #expect(client.send(a08("U-3", "P-OTHER")) == nil)
        client.close()
        lines = try String(contentsOfFile: s.daemon.queuePath, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 2)
        #expect(s.receiverLog.contains("patient-known"))
        // Back: the engine's resend is answered.
        try s.daemon.start()
        client = try MLLPClient(port: s.port)
        defer { client.close() }
        #expect(msa(client.send(a08("U-3", "P-OTHER"))) == ["MSA", "AA", "U-3"])
        #expect(try String(contentsOfFile: s.daemon.queuePath, encoding: .utf8).split(separator: "\n").count == 3)
    }

    /// The ACK comes within 5 seconds or not at all: a queue file that
    /// hangs the append (here a FIFO nobody reads, as a hung NFS mount
    /// would) gets the connection closed with no ACK, so the engine keeps
    /// the message, and the receiver still answers a new connection's peer.
    @Test func noAckInFiveSecondsIsNoAckAtAll() throws {
        let s = try HL7Scenario()
        let fifo = s.dir + "/hung.jsonl"
        #expect(mkfifo(fifo, 0o620) == 0)
        let config = try String(contentsOfFile: s.dir + "/hl7.toml", encoding: .utf8)
        try config.replacingOccurrences(of: "queue_file = \"\(s.daemon.queuePath)\"", with: "queue_file = \"\(fifo)\"")
            .write(toFile: s.dir + "/hl7.toml", atomically: true, encoding: .utf8)
        try s.start()
        defer {
            kill(s.receiver.processIdentifier, SIGKILL)  // its lane is stuck in open(2) on the FIFO
            s.receiver.waitUntilExit()
            try? s.daemon.stop()
        }
        let client = try MLLPClient(port: s.port)
        defer { client.close() }
        let sent = Date()
        #expect(client.send(s.siu("S12", id: "SLOW-1", ref: "TH-S", start: s.ts(s.daemon.time.day(1), 9, 0))) == nil)
        let waited = Date().timeIntervalSince(sent)
        #expect(waited >= 4.5 && waited < 9, "closed after \(waited) s")
    }
}
