import Foundation
import TouchpointDomain

#if canImport(Glibc)
import Glibc
#endif

/// The real `touchpoint-hl7` beside the real `touchpointd`, driven over MLLP
/// by Debian's `mllp_send` (python3-hl7) and by a strict client of our own
/// that reads whole ACK frames and checks MSA-1 and MSA-2.
public final class HL7Scenario {
    public let daemon: DaemonHarness
    public let port: Int
    public let dir: String
    public private(set) var receiver = Process()

    /// `topLevel`: more settings for hl7.toml's top (TLS); `feed`: more for its one feed (`accept_acks`).
    public init(topLevel: String = "", feed: String = "", time: ScenarioTime = ScenarioTime()) throws {
        daemon = try DaemonHarness(time: time)
        dir = daemon.dir + "/hl7"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        port = try WebHarness.freePort()
        let config = """
            queue_file = "\(daemon.queuePath)"
            state_dir = "\(dir)/state"
            control_socket = "\(daemon.socketPath)"
            time_zone = "\(daemon.time.zoneIdentifier)"
            listen = "127.0.0.1:\(port)"
            idle_timeout = "5s"
            \(topLevel)

            [[feed]]
            name = "theatres"
            sending_application = "ORMIS"
            patient_id = "RGT^MR"
            appointment_id = ["SCH-2.1"]
            wards = { "W7" = "Ward 7" }
            delay_reasons = { "EMERG" = "an emergency operation needed the theatre first" }
            delay_reason_field = "SCH-6.1"
            \(feed)

            [[feed.map]]
            when = { "AIS-3.1" = ["BRS01"] }
            as = "surgery"
            procedure = "AIS-3.2"
            """
        try config.write(toFile: dir + "/hl7.toml", atomically: true, encoding: .utf8)
        try daemon.appendLines([])
    }

    public func start() throws {
        try daemon.start()
        _ = FileManager.default.createFile(atPath: dir + "/receiver.stderr", contents: nil)
        try startReceiver()
    }

    /// Starts `touchpoint-hl7` (again) and waits until it listens; its log goes on in receiver.stderr.
    public func startReceiver() throws {
        receiver = Process()
        receiver.executableURL = URL(fileURLWithPath: DaemonHarness.binDir + "/touchpoint-hl7")
        receiver.arguments = ["--config", dir + "/hl7.toml", "--log-target", "stderr"]
        receiver.environment = ["PATH": "/usr/bin:/bin"]
        let log = try FileHandle(forWritingTo: URL(fileURLWithPath: dir + "/receiver.stderr"))
        log.seekToEndOfFile()
        receiver.standardError = log
        receiver.standardOutput = FileHandle.nullDevice
        try receiver.run()
        let deadline = Date().addingTimeInterval(30)
        while (try? MLLPClient(port: port)) == nil {
            guard Date() < deadline, receiver.isRunning else { throw HarnessError("touchpoint-hl7 did not start listening") }
            usleep(50_000)
        }
    }

    /// kill -9, as a power cut or the OOM killer would.
    public func crashReceiver() {
        kill(receiver.processIdentifier, SIGKILL)
        receiver.waitUntilExit()
    }

    public func stop() throws {
        if receiver.isRunning {
            receiver.terminate()
            receiver.waitUntilExit()
        }
        _ = try daemon.stop()
    }

    public var receiverLog: String { (try? String(contentsOfFile: dir + "/receiver.stderr", encoding: .utf8)) ?? "" }

    /// HL7's local time of `day` at `hh:mm` in the scenario's zone.
    public func ts(_ day: LocalDate, _ hh: Int, _ mm: Int) -> String {
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        return "\(day.year)\(two(day.month))\(two(day.day))\(two(hh))\(two(mm))"
    }

    public func siu(_ trigger: String, id: String, ref: String, start: String, nhs: String = "9990000018", reason: String = "") -> [UInt8] {
        Array([
            "MSH|^~\\&|ORMIS|RGT|TOUCHPOINT|RGT|\(start)||SIU^\(trigger)^SIU_S12|\(id)|P|2.4",
            "PID|1||P-\(ref)^^^RGT^MR~\(nhs)^^^NHS^NH||Example^Ann||19600101|F|||||07700 900123^ORN^CP",
            "SCH|PL|\(ref)||||\(reason)|||90|MIN|^^90^\(start)",
            "AIS|1||BRS01^Wide local excision|\(start)",
            "PV1|1|I|W7",
        ].joined(separator: "\r").utf8)
    }
}

/// An ACK's MSA segment, fields split (MSA-1 at index 1, MSA-2 at 2), or
/// empty for no ACK or one without MSA.
public func msa(_ ack: [[String]]?) -> [String] { ack?.first { $0.first == "MSA" } ?? [] }

/// A strict MLLP client: one message at a time, the whole ACK frame read.
public struct MLLPClient {
    public let fd: Int32

    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_port = in_port_t(UInt16(port).bigEndian)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        let ok = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard ok == 0 else {
            _ = Glibc.close(fd)
            throw HarnessError("cannot connect to 127.0.0.1:\(port)")
        }
        var tv = timeval(tv_sec: 10, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    public func close() { _ = Glibc.close(fd) }

    /// Sends `message` framed and returns the ACK's segments (fields split), or nil when the connection closed without one.
    public func send(_ message: [UInt8]) -> [[String]]? {
        let frame = [UInt8(0x0B)] + message + [0x1C, 0x0D]
        _ = frame.withUnsafeBytes { Glibc.send(fd, $0.baseAddress!, $0.count, Int32(MSG_NOSIGNAL)) }
        var got: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        while !(got.count >= 2 && got[got.count - 2] == 0x1C && got.last == 0x0D) {
            let n = recv(fd, &buffer, buffer.count, 0)
            guard n > 0 else { return nil }
            got += buffer[0..<n]
        }
        guard got.first == 0x0B else { return [] }
        return String(decoding: got.dropFirst().dropLast(2), as: UTF8.self).split(separator: "\r").map {
            $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init)
        }
    }
}

