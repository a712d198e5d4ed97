import Foundation
import NIOCore
import TouchpointControl
import TouchpointLinux

#if canImport(Glibc)
import Glibc
#endif

/// A control-socket connection that sends whatever bytes a test wants: for
/// abuse tests (garbage, oversized or half-sent frames, idle or non-reading clients).
public final class RawControlConnection {
    public let fd: Int32
    /// The protocol's own decoder: bytes read past the last frame returned
    /// stay in it (replies can arrive together).
    private var frames = NIOSingleStepByteToMessageProcessor(ControlFrameDecoder())
    private var decoded: [ControlFrame] = []

    public init(path: String) throws {
        fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        let rc = UnixSocketAddress.with(path) { connect(fd, $0, $1) } ?? -1
        guard rc == 0 else {
            close(fd)
            throw HarnessError("connect \(path): \(String(cString: strerror(errno)))")
        }
    }

    deinit { close(fd) }

    @discardableResult
    public func send(_ bytes: [UInt8]) -> Int {
        bytes.withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    public func sendFrame(_ json: String) {
        send(Array(ByteBufferAllocator().controlFrame(Array(json.utf8)).readableBytesView))
    }

    /// The next reply frame's JSON, or nil if the daemon closed the connection (or `timeout` passed).
    public func readFrame(timeout: TimeInterval = 5) -> [String: Any]? {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if !decoded.isEmpty, case .payload(let frame) = decoded.removeFirst() {
                return try? JSONSerialization.jsonObject(with: Data(frame.readableBytesView)) as? [String: Any]
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 100) >= 0 else { return nil }
            if pfd.revents == 0 { continue }
            let n = recv(fd, &chunk, chunk.count, 0)
            if n <= 0 { return nil }
            try? frames.process(buffer: ByteBuffer(bytes: chunk[0..<n])) { decoded.append($0) }
        }
        return nil
    }

    /// Whether the daemon has closed its end (reads EOF within `timeout`).
    public func isClosedByPeer(timeout: TimeInterval = 5) -> Bool {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            if poll(&pfd, 1, 100) > 0 {
                let n = recv(fd, &chunk, chunk.count, 0)
                if n == 0 { return true }
                if n < 0 { return errno == ECONNRESET }
            }
        }
        return false
    }
}

/// Resident memory of a process, in KiB.
public func residentKiB(_ pid: Int32) -> Int { procStatusKiB(pid, "VmRSS:") }

/// The most resident memory a process has had (`VmHWM`), in KiB.
public func peakResidentKiB(_ pid: Int32) -> Int { procStatusKiB(pid, "VmHWM:") }

/// Of the resident memory: what is the process's own (heap, stacks), not
/// pages of its program and libraries' files.
public func anonymousKiB(_ pid: Int32) -> Int { procStatusKiB(pid, "RssAnon:") }

/// The proportional set size: shared pages counted once across the
/// processes that share them.
public func proportionalKiB(_ pid: Int32) -> Int {
    guard let s = try? String(contentsOfFile: "/proc/\(pid)/smaps_rollup", encoding: .utf8),
          let line = s.split(separator: "\n").first(where: { $0.hasPrefix("Pss:") }) else { return 0 }
    return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
}

private func procStatusKiB(_ pid: Int32, _ field: String) -> Int {
    guard let s = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
          let line = s.split(separator: "\n").first(where: { $0.hasPrefix(field) }) else { return 0 }
    return Int(line.split(separator: " ", omittingEmptySubsequences: true)[1]) ?? 0
}

/// `payload` framed as the control protocol frames it (its own encoder).
public func controlFrame(_ payload: some Collection<UInt8>) -> [UInt8] {
    Array(ByteBufferAllocator().controlFrame(payload).readableBytesView)
}

public func controlFrame(_ json: String) -> [UInt8] { controlFrame(Array(json.utf8)) }
