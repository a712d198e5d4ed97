import Foundation
import Synchronization
import NIOCore
import TouchpointLinux

#if canImport(Glibc)
import Glibc
#endif

/// Why a request did not get an answer, mapped to `touchpointctl`'s exit codes.
public enum ClientError: Error, Equatable, Sendable {
    /// 69: the daemon cannot be reached.
    case unreachable(String)
    /// 77: permission denied.
    case permissionDenied(String)
    /// 1: the daemon refused or failed the request.
    case refused(ControlFailure)
    /// 1: the reply could not be understood.
    case protocolError(String)

    public var message: String {
        switch self {
        case .unreachable(let m), .permissionDenied(let m), .protocolError(let m): return m
        case .refused(let f): return f.message
        }
    }

    /// The exit status of `cli.md`.
    public var exitCode: Int32 {
        switch self {
        case .unreachable: return 69
        case .permissionDenied: return 77
        case .refused(let f): return f.code == .permissionDenied ? 77 : 1
        case .protocolError: return 1
        }
    }
}

/// A blocking transport for the control socket: one connection, any number
/// of requests, one at a time.
///
/// The CLI makes one request and exits, so plain blocking sockets are the
/// simplest correct thing; the daemon side is SwiftNIO. The connection and
/// the frames read ahead are behind a lock, so one request's bytes never
/// interleave with another's.
public final class ControlClient: ControlTransport {
    public let socketPath: String
    private let connection = Mutex<Connection>(Connection())

    struct Connection: ~Copyable {
        var fd: Int32 = -1
        var frames = NIOSingleStepByteToMessageProcessor(ControlFrameDecoder(), maximumBufferSize: 4 + ControlProtocol.maximumFrameLength)
        /// Frames read but not yet asked for (one request, one reply: normally none).
        var pending: [ControlFrame] = []

        deinit { if fd >= 0 { close(fd) } }
    }

    public static let defaultSocket = "/run/touchpoint/control.sock"

    public init(socketPath: String) {
        self.socketPath = socketPath
    }

    private func unreachable(_ reason: String) -> ClientError {
        .unreachable("cannot reach touchpointd at \(socketPath): \(reason) (is the service running? systemctl status touchpointd)")
    }

    public func connect(timeoutSeconds: Int = 300) throws(ClientError) {
        let fd = try open(timeoutSeconds: timeoutSeconds)
        connection.withLock { c in
            if c.fd >= 0 { close(c.fd) }
            c.fd = fd
        }
    }

    private func open(timeoutSeconds: Int) throws(ClientError) -> Int32 {
        var st = stat()
        if stat(socketPath, &st) != 0 {
            let e = errno
            if e == EACCES {
                throw .permissionDenied("cannot reach touchpointd at \(socketPath): permission denied on its directory (you need to be in the staff or admin group)")
            }
            throw unreachable(e == ENOENT ? "no such file" : String(cString: strerror(e)))
        }
        if st.st_mode & S_IFMT != S_IFSOCK {
            let kind = st.st_mode & S_IFMT == S_IFREG ? "a regular file" : st.st_mode & S_IFMT == S_IFDIR ? "a directory" : "not a socket"
            throw .unreachable("cannot reach touchpointd at \(socketPath): it is \(kind), not a socket (check --socket or $TOUCHPOINT_SOCKET)")
        }
        let s = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard s >= 0 else { throw unreachable(String(cString: strerror(errno))) }
        guard let rc = UnixSocketAddress.with(socketPath, { Glibc.connect(s, $0, $1) }) else {
            close(s)
            throw unreachable("socket path too long")
        }
        if rc != 0 {
            let e = errno
            close(s)
            switch e {
            case EACCES, EPERM:
                // Say whose socket it is: the group named is the one to join.
                let owner = UnixAccounts.userName(uid: st.st_uid) ?? "uid \(st.st_uid)"
                let group = UnixAccounts.groupName(gid: st.st_gid) ?? "gid \(st.st_gid)"
                throw .permissionDenied("permission denied on \(socketPath): it belongs to user \(owner), group \(group) (mode \(String(st.st_mode & 0o777, radix: 8))); you need to be in the group \(group)")
            case ECONNREFUSED:
                throw unreachable("connection refused")
            case ENOENT:
                throw unreachable("no such file")
            default:
                throw unreachable(String(cString: strerror(e)))
            }
        }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        return s
    }

    /// Sends `request` and returns the reply's `result` JSON (or throws its error).
    public func send(_ request: ControlRequest) throws(ClientError) -> Data {
        guard let payload = try? ControlJSON.encoder.encode(request) else {
            throw .protocolError("could not encode the request")
        }
        return try sendRaw(payload)
    }

    public func exchange(_ payload: Data, mayResend: Bool) throws(ClientError) -> Data {
        try sendRaw(payload)
    }

    /// Sends an already-encoded request payload (tests use this for odd requests).
    public func sendRaw(_ payload: Data) throws(ClientError) -> Data {
        try connection.withLock { c throws(ClientError) -> Data in
            if c.fd < 0 { c.fd = try open(timeoutSeconds: 300) }
            let fd = c.fd
            let frame = ByteBufferAllocator().controlFrame(payload)
            let ok = frame.readableBytesView.withUnsafeBytes { p -> Bool in
                var sent = 0
                while sent < p.count {
                    let n = Glibc.send(fd, p.baseAddress! + sent, p.count - sent, Int32(MSG_NOSIGNAL))
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { return false }
                    sent += n
                }
                return true
            }
            guard ok else { throw unreachable("the connection was closed while sending (\(String(cString: strerror(errno))))") }
            return try Self.unwrap(try readFrame(&c))
        }
    }

    private func readFrame(_ c: inout Connection) throws(ClientError) -> [UInt8] {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        var bytes = ByteBuffer()
        while true {
            do {
                var read: [ControlFrame] = []
                try c.frames.process(buffer: bytes) { read.append($0) }
                c.pending += read
            } catch {
                throw .protocolError("the daemon's reply could not be read: \(error)")
            }
            bytes.clear()
            if !c.pending.isEmpty {
                switch c.pending.removeFirst() {
                case .payload(let p): return Array(p.readableBytesView)
                case .tooLarge: throw .protocolError("the daemon sent an oversized reply")
                }
            }
            let fd = c.fd
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                throw .unreachable("touchpointd at \(socketPath) did not answer in time")
            }
            if n <= 0 {
                throw unreachable("the daemon closed the connection without answering")
            }
            bytes.writeBytes(chunk[0..<n])
        }
    }

    static func unwrap(_ payload: [UInt8]) throws(ClientError) -> Data {
        // The usual case, a success frame: the result is the bytes inside it.
        let prefix = ControlReply.successPrefix
        if payload.count > prefix.count, payload.last == UInt8(ascii: "}"), payload.starts(with: prefix) {
            return Data(payload[prefix.count..<(payload.count - 1)])
        }
        guard let obj = try? JSONSerialization.jsonObject(with: Data(payload)) as? [String: Any] else {
            throw .protocolError("the daemon's reply is not JSON")
        }
        if let v = obj["v"] as? Int, v != ControlProtocol.version {
            throw .protocolError("touchpointd speaks control protocol version \(v), this touchpointctl speaks version \(ControlProtocol.version); use the touchpointctl that came with touchpointd")
        }
        if obj["ok"] as? Bool == true {
            let result = obj["result"] ?? NSNull()
            guard let data = try? JSONSerialization.data(withJSONObject: result, options: [.fragmentsAllowed]) else {
                throw .protocolError("the daemon's reply could not be read")
            }
            return data
        }
        if let err = obj["error"] as? [String: Any], let data = try? JSONSerialization.data(withJSONObject: err),
           let failure = try? JSONDecoder().decode(ControlFailure.self, from: data) {
            throw .refused(failure)
        }
        throw .protocolError("the daemon's reply has neither a result nor an error")
    }
}
