import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// An HTTP proxy as most NHS networks have one, reduced to what an HTTP
/// client asks of it: `CONNECT host:port`, answered 200, then bytes piped
/// both ways. On loopback, for tests; it counts the tunnels it opened.
public final class ConnectProxy: Sendable {
    let listener: Int32
    public let port: Int
    let tunnels = Mutex<[String]>([])

    public var url: String { "http://127.0.0.1:\(port)" }
    /// `host:port` of each tunnel asked for.
    public var targets: [String] { tunnels.withLock { $0 } }

    public init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var addr = IPv4.address("127.0.0.1", port: 0)
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        guard bound == 0, listen(fd, 16) == 0 else { throw HarnessError("proxy: cannot listen") }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        listener = fd
        port = Int(UInt16(bigEndian: addr.sin_port))
        Thread { [self] in self.acceptLoop() }.start()
    }

    deinit { shutdown(listener, Int32(SHUT_RDWR)); close(listener) }

    func acceptLoop() {
        while true {
            let client = accept(listener, nil, nil)
            if client < 0 { return }
            Thread { [self] in self.serve(client) }.start()
        }
    }

    func serve(_ client: Int32) {
        var head = [UInt8]()
        var byte: UInt8 = 0
        while !head.suffix(4).elementsEqual([13, 10, 13, 10]) && head.count < 8192 {
            guard read(client, &byte, 1) == 1 else { close(client); return }
            head.append(byte)
        }
        let first = String(decoding: head, as: UTF8.self).split(separator: "\r\n").first.map(String.init) ?? ""
        let parts = first.split(separator: " ")
        guard parts.count == 3, parts[0] == "CONNECT", let colon = parts[1].lastIndex(of: ":"),
              let port = UInt16(parts[1][parts[1].index(after: colon)...]) else {
            _ = "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n".withCString { write(client, $0, strlen($0)) }
            close(client)
            return
        }
        tunnels.withLock { $0.append(String(parts[1])) }
        let upstream = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        let host = String(parts[1][..<colon])
        guard IPv4.connect(upstream, host == "localhost" ? "127.0.0.1" : host, port: port) else {
            _ = "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n".withCString { write(client, $0, strlen($0)) }
            close(client)
            close(upstream)
            return
        }
        _ = "HTTP/1.1 200 Connection established\r\n\r\n".withCString { write(client, $0, strlen($0)) }
        Thread { Self.pipe(from: upstream, to: client) }.start()
        Self.pipe(from: client, to: upstream)
    }

    static func pipe(from a: Int32, to b: Int32) {
        var buf = [UInt8](repeating: 0, count: 16384)
        while true {
            let n = read(a, &buf, buf.count)
            if n <= 0 { break }
            if write(b, buf, n) != n { break }
        }
        shutdown(b, Int32(SHUT_WR))
        shutdown(a, Int32(SHUT_RD))
    }
}
