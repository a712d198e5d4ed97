import Foundation
import Logging
import NIOCore
import NIOPosix
import NIOSSL
import ServiceLifecycle
import Synchronization
import TouchpointConfig
import enum TouchpointDomain.MessageID
import TouchpointHL7
import TouchpointSystemd

/// `MLLPFrameDecoder` in a channel pipeline: the one decoder, fed what each read brings.
struct MLLPByteDecoder: ByteToMessageDecoder {
    typealias InboundOut = MLLPFrameDecoder.Item
    var frames: MLLPFrameDecoder

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        let bytes = buffer.readBytes(length: buffer.readableBytes) ?? []
        for item in frames.feed(bytes) { context.fireChannelRead(wrapInboundOut(item)) }
        return .needMoreData
    }

    mutating func decodeLast(context: ChannelHandlerContext, buffer: inout ByteBuffer, seenEOF: Bool) throws -> DecodingState {
        try decode(context: context, buffer: &buffer)
    }
}

/// Closes a connection that has said nothing for `idle_timeout`.
final class IdleCloser: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny
    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent { context.close(promise: nil) } else { context.fireUserInboundEventTriggered(event) }
    }
}

/// The MLLP listener: each allowed connection served in a task of its own,
/// its messages one at a time in order, each ACK one frame in one write.
public struct MLLPServer: Service {
    /// The longest a message may take to its ACK (`hl7.md`).
    static let ackDeadline: Duration = .seconds(5)

    let config: HL7Config
    let receiver: Receiver
    let logger: Logger
    let allow: [AddressRange]
    let open = OpenConnections()
    /// MLLP over TLS when `tls_cert` is set (`ReceiverTLS`).
    let tls: NIOSSLContext?

    public init(config: HL7Config, receiver: Receiver, logger: Logger) throws {
        self.config = config
        self.receiver = receiver
        self.logger = logger
        allow = try config.allow.map { text in
            guard let r = AddressRange(text) else { throw ReceiverStartupError("allow: \"\(text)\" is not an address or a range such as 10.20.0.0/16") }
            return r
        }
        tls = try ReceiverTLS.context(for: config)
    }

    typealias Connection = NIOAsyncChannel<MLLPFrameDecoder.Item, ByteBuffer>

    public func run() async throws {
        let server = try await listen()
        if tls == nil && !config.listensOnLoopback {
            logger.warning("MLLP without TLS on \(config.listen): patient data crosses the network in clear (set tls_cert and tls_key in \(config.file))")
        } else {
            logger.info("\(ReceiverTLS.summary(for: config))")
        }
        _ = ServiceNotifier.notify("READY=1\nSTATUS=receiving HL7 on \(config.listen)")
        try await withGracefulShutdownHandler {
            try await server.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { group in
                    for try await connection in connections {
                        group.addTask { await serve(connection) }
                    }
                }
            }
        } onGracefulShutdown: {
            _ = ServiceNotifier.notify("STOPPING=1")
            server.channel.close(promise: nil)
        }
    }

    func listen() async throws -> NIOAsyncChannel<Connection?, Never> {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 64)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
        let initializer = self.initializer()
        if let fd = ServiceNotifier.listenFDs().first {
            logger.info("HL7 listener from socket activation (fd \(fd))")
            return try await bootstrap.bind(fd, childChannelInitializer: initializer)
        }
        guard let colon = config.listen.lastIndex(of: ":"), let port = Int(config.listen[config.listen.index(after: colon)...]) else {
            throw ReceiverStartupError("listen: expected host:port such as 0.0.0.0:2575, got \"\(config.listen)\"")
        }
        let host = String(config.listen[..<colon]).trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        let server = try await bootstrap.bind(host: host, port: port, childChannelInitializer: initializer)
        logger.info("HL7 listener on \(config.listen)")
        return server
    }

    /// An allowed peer gets the decoder and the idle timeout; any other is closed before a byte is read.
    func initializer() -> @Sendable (Channel) -> EventLoopFuture<Connection?> {
        let (allow, logger, config, open, tls) = (self.allow, self.logger, self.config, self.open, self.tls)
        return { channel in
            let peer = channel.remoteAddress
            let allowed = allow.isEmpty ? peer.map(AddressRange.isLoopback) ?? false : allow.contains { r in peer.map(r.contains) ?? false }
            let admitted = allowed && open.take(below: config.maxConnections)
            guard admitted else {
                logger.warning(allowed ? "HL7 connection from \(peer?.description ?? "?") closed: max_connections (\(config.maxConnections)) are open"
                                       : "HL7 connection from \(peer?.description ?? "?") closed: not in allow")
                return channel.close().map { nil }
            }
            channel.closeFuture.whenComplete { _ in open.release() }
            return channel.eventLoop.makeCompletedFuture {
                let seconds = Int64(config.idleTimeout.seconds)
                // TLS first: the idle timeout covers a handshake that never ends (a slow-loris peer).
                if let tls { try channel.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: tls)) }
                try channel.pipeline.syncOperations.addHandler(IdleStateHandler(allTimeout: .seconds(max(1, seconds))))
                try channel.pipeline.syncOperations.addHandler(IdleCloser())
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(MLLPByteDecoder(frames: MLLPFrameDecoder(maximumLength: config.maxMessage))))
                return try Connection(wrappingChannelSynchronously: channel)
            }
        }
    }

    func serve(_ connection: Connection?) async {
        guard let connection else { return }
        let peer = connection.channel.remoteAddress?.description ?? "?"
        do {
            try await exchange(connection)
        } catch NIOSSLError.uncleanShutdown {
            // The engine closed without TLS's close_notify, as many do once they have their ACK: nothing to say.
        } catch let e as NIOSSLError {
            // A handshake that failed (no certificate, one the CA did not sign, plain MLLP to a TLS port): the admin's to see.
            logger.warning("HL7 connection from \(peer) closed: TLS: \(e)")
        } catch {
            // The peer went away, or the idle timeout closed it: the engine sends again what had no ACK.
        }
    }

    /// A connection's messages, one at a time in order, each with its ACK.
    func exchange(_ connection: Connection) async throws {
        let receiver = self.receiver
        try await connection.executeThenClose { inbound, outbound in
            func send(_ ack: [UInt8]) async throws {
                try await outbound.write(ByteBuffer(bytes: MLLPFrameDecoder.framed(ack)))
            }
            // Graceful shutdown: the message in hand is finished and acknowledged; then the connection closes.
            for try await item in inbound.cancelOnGracefulShutdown() {
                switch item {
                case .frame(let bytes):
                    // No ACK in time is no ACK at all (hl7.md: within 5 seconds): the engine sends it again.
                    guard let ack = await Deadline.within(Self.ackDeadline, { await receiver.handle(bytes) }) ?? nil else { return }
                    try await send(ack)
                case .garbage(let n):
                    try await send(receiver.garbage(n))
                case .tooLarge(let n):
                    try await send(receiver.tooLarge(n))
                    return
                }
            }
        }
    }
}

/// How many connections are open, for `max_connections`.
final class OpenConnections: Sendable {
    private let count = Mutex(0)

    func take(below limit: Int) -> Bool {
        count.withLock { n in
            guard n < limit else { return false }
            n += 1
            return true
        }
    }

    func release() { count.withLock { $0 -= 1 } }
}

public struct ReceiverStartupError: Error, CustomStringConvertible {
    public var description: String
    init(_ d: String) { description = d }
}

/// An address or a CIDR range of `allow`.
struct AddressRange: Sendable {
    let bytes: [UInt8]
    let prefix: Int

    init?(_ text: String) {
        let parts = text.split(separator: "/", maxSplits: 1)
        guard let first = parts.first, let b = Self.parse(String(first)) else { return nil }
        bytes = b
        if parts.count == 2 {
            guard let p = Int(parts[1]), (0...(b.count * 8)).contains(p) else { return nil }
            prefix = p
        } else {
            prefix = b.count * 8
        }
    }

    static func parse(_ s: String) -> [UInt8]? {
        var v4 = in_addr()
        if inet_pton(AF_INET, s, &v4) == 1 { return withUnsafeBytes(of: &v4) { Array($0) } }
        var v6 = in6_addr()
        if inet_pton(AF_INET6, s, &v6) == 1 { return withUnsafeBytes(of: &v6) { Array($0) } }
        return nil
    }

    static func address(_ a: SocketAddress) -> [UInt8]? {
        guard var ip = a.ipAddress else { return nil }
        if ip.hasPrefix("::ffff:"), ip.contains(".") { ip.removeFirst(7) }
        return parse(ip)
    }

    func contains(_ a: SocketAddress) -> Bool {
        guard let b = Self.address(a), b.count == bytes.count else { return false }
        var left = prefix
        for i in 0..<bytes.count where left > 0 {
            let bits = min(8, left)
            let mask = UInt8(truncatingIfNeeded: 0xFF << (8 - bits))
            if b[i] & mask != bytes[i] & mask { return false }
            left -= bits
        }
        return true
    }

    static func isLoopback(_ a: SocketAddress) -> Bool {
        AddressRange("127.0.0.0/8")!.contains(a) || AddressRange("::1")!.contains(a)
    }
}
