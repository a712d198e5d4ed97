import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// IPv4 sockets on loopback, for the test doubles and probes (the product
/// itself listens through NIO).
enum IPv4 {
    /// An IPv4 address (dotted) and port, as the socket calls take it.
    static func address(_ host: String, port: UInt16) -> sockaddr_in {
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr(host)
        addr.sin_port = port.bigEndian
        return addr
    }

    /// Connects `fd` to `host:port`; whether it did.
    static func connect(_ fd: Int32, _ host: String, port: UInt16) -> Bool {
        var addr = address(host, port: port)
        return withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        } == 0
    }
}
