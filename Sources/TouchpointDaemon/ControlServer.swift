import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import TouchpointControl
import TouchpointSystemd

#if canImport(Glibc)
import Glibc
#endif

/// One inbound unit on a control connection: a frame, or the news that the
/// client sent one too large to accept.
enum InboundFrame: Sendable {
    case payload(ByteBuffer)
    case tooLarge(Int)
}

/// Splits the byte stream into length-prefixed frames, refusing any over the
/// limit before buffering it.
struct ControlFrameDecoder: ByteToMessageDecoder {
    typealias InboundOut = InboundFrame
    private var refused = false

    mutating func decode(context: ChannelHandlerContext, buffer: inout ByteBuffer) throws -> DecodingState {
        if refused {
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            return .needMoreData
        }
        guard let length = buffer.getInteger(at: buffer.readerIndex, as: UInt32.self) else { return .needMoreData }
        if Int(length) > ControlProtocol.maximumFrameLength {
            refused = true
            buffer.moveReaderIndex(forwardBy: buffer.readableBytes)
            context.fireChannelRead(wrapInboundOut(.tooLarge(Int(length))))
            return .needMoreData
        }
        guard buffer.readableBytes >= 4 + Int(length) else { return .needMoreData }
        buffer.moveReaderIndex(forwardBy: 4)
        let payload = buffer.readSlice(length: Int(length))!
        context.fireChannelRead(wrapInboundOut(.payload(payload)))
        return .continue
    }
}

/// A count shared between tasks: requests in progress on one connection (so
/// the idle timer does not cut a slow `ingest` short), or open connections.
final class SharedCount: Sendable {
    let value = Atomic<Int>(0)
}

/// Closes a connection idle for the configured time (no request arriving),
/// unless a request is being served.
final class IdleCloser: ChannelInboundHandler, Sendable {
    typealias InboundIn = NIOAny
    let activity: SharedCount

    init(activity: SharedCount) { self.activity = activity }

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if event is IdleStateHandler.IdleStateEvent {
            if activity.value.load(ordering: .relaxed) == 0 { context.close(promise: nil) }
            return
        }
        context.fireUserInboundEventTriggered(event)
    }
}

/// The control socket: framed JSON requests, answered by `CommandHandler`.
struct ControlServer: Service {
    let socketPath: String
    let staffGroup: String
    let handler: CommandHandler
    let authorizer: @Sendable () -> Authorizer
    let logger: Logger
    let ready: @Sendable () -> Void

    static let idleTimeout: TimeAmount = .seconds(60)
    /// Enough that a flood of idle clients cannot lock an admin out; the file
    /// limit is raised at start to leave room.
    static let maximumConnections = 1000

    func run() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
        let initializer: @Sendable (Channel) -> EventLoopFuture<(NIOAsyncChannel<InboundFrame, ByteBuffer>, PeerCredentials, SharedCount)> = { channel in
            let credentials: EventLoopFuture<PeerCredentials> =
                (channel as? SocketOptionProvider)?.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
                ?? channel.eventLoop.makeSucceededFuture(PeerCredentials(pid: 0, uid: UInt32.max, gid: UInt32.max))
            return credentials.flatMapThrowing { cred in
                let activity = SharedCount()
                try channel.pipeline.syncOperations.addHandler(IdleStateHandler(readTimeout: Self.idleTimeout))
                try channel.pipeline.syncOperations.addHandler(IdleCloser(activity: activity))
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ControlFrameDecoder()))
                let async = try NIOAsyncChannel<InboundFrame, ByteBuffer>(wrappingChannelSynchronously: channel)
                return (async, cred, activity)
            }
        }
        let server: NIOAsyncChannel<(NIOAsyncChannel<InboundFrame, ByteBuffer>, PeerCredentials, SharedCount), Never>
        if let fd = ServiceNotifier.listenFDs().first {
            server = try await bootstrap.bind(fd, childChannelInitializer: initializer)
            logger.info("control socket from socket activation (fd \(fd))")
        } else {
            try Self.prepareSocketPath(socketPath)
            server = try await bootstrap.bind(unixDomainSocketPath: socketPath, cleanupExistingSocketFile: true,
                                              childChannelInitializer: initializer)
            chmod(socketPath, 0o660)
            if let gid = Authorizer.gid(of: staffGroup) {
                _ = chown(socketPath, UInt32.max, gid)  // -1 keeps the owner
            }
            logger.info("control socket at \(socketPath)")
        }
        ready()
        let active = SharedCount()  // open connections
        try await withGracefulShutdownHandler {
            try await server.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { tasks in
                    // When the listening socket closes (graceful shutdown), the
                    // connections still open are cancelled: a half-sent frame or a
                    // client that never reads must not hold the daemon up.
                    defer { tasks.cancelAll() }
                    for try await (connection, cred, activity) in connections {
                        let now = active.value.add(1, ordering: .relaxed).newValue
                        tasks.addTask {
                            defer { active.value.subtract(1, ordering: .relaxed) }
                            if now > Self.maximumConnections {
                                await Self.refuse(connection, ControlFailure(.unavailable, "touchpointd has too many control connections open (\(Self.maximumConnections)); try again shortly"))
                                return
                            }
                            let session = ControlSession(connection: connection, caller: authorizer().identify(cred), activity: activity,
                                                         handler: handler, logger: logger)
                            await session.serve()
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
        if ServiceNotifier.listenFDs().isEmpty { unlink(socketPath) }
    }

    /// Removes a stale socket file, but refuses to take over a live one.
    static func prepareSocketPath(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard st.st_mode & S_IFMT == S_IFSOCK else {
            throw StoreErrorText("control.socket \(path) exists and is not a socket; remove it or choose another path")
        }
        let client = ControlClient(socketPath: path)
        if (try? client.connect(timeoutSeconds: 2)) != nil {
            throw StoreErrorText("another touchpointd is already listening on \(path)")
        }
    }

    static func refuse(_ connection: NIOAsyncChannel<InboundFrame, ByteBuffer>, _ failure: ControlFailure) async {
        try? await connection.executeThenClose { _, outbound in
            try await outbound.write(ByteBuffer(bytes: ControlProtocol.frame(ControlReply.failure(failure))))
        }
    }

}

/// One control connection, served on its channel's event loop: the frame
/// comes in, the reply goes out, and a cheap command like `status` runs in
/// between, all on one thread (a monitoring probe may ask thousands of times a
/// second). Commands that read the database in earnest offload that work.
actor ControlSession {
    let connection: NIOAsyncChannel<InboundFrame, ByteBuffer>
    let caller: Caller
    let activity: SharedCount
    let handler: CommandHandler
    let logger: Logger
    private let eventLoop: any EventLoop

    nonisolated var unownedExecutor: UnownedSerialExecutor { eventLoop.executor.asUnownedSerialExecutor() }

    init(connection: NIOAsyncChannel<InboundFrame, ByteBuffer>, caller: Caller, activity: SharedCount, handler: CommandHandler, logger: Logger) {
        self.connection = connection
        self.caller = caller
        self.activity = activity
        self.handler = handler
        self.logger = logger
        self.eventLoop = connection.channel.eventLoop
    }

    func serve() async {
        do {
            try await connection.executeThenClose { inbound, outbound in
                for try await frame in inbound {
                    switch frame {
                    case .tooLarge(let n):
                        let f = ControlFailure(.frameTooLarge, "request of \(n) bytes is over the limit of \(ControlProtocol.maximumFrameLength); closing the connection")
                        try await outbound.write(ByteBuffer(bytes: ControlProtocol.frame(ControlReply.failure(f))))
                        return
                    case .payload(let buffer):
                        activity.value.add(1, ordering: .relaxed)
                        let (reply, keepOpen) = await handler.handle(Array(buffer.readableBytesView), caller: caller)
                        activity.value.subtract(1, ordering: .relaxed)
                        try await outbound.write(ByteBuffer(bytes: ControlProtocol.frame(reply)))
                        if !keepOpen { return }
                    }
                }
            }
        } catch {
            logger.debug("control connection ended: \(error)")
        }
    }
}
