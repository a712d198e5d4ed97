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

/// A count shared between tasks: the open connections.
final class SharedCount: Sendable {
    let value = Atomic<Int>(0)
}

/// What one connection is doing: requests in progress, and when it last
/// finished one (monotonic nanoseconds).
final class ConnectionActivity: Sendable {
    let busy = Atomic<Int>(0)
    let lastActive = Atomic<Int64>(NIODeadline.now().uptimeNanoseconds.clamped)

    func begin() { busy.add(1, ordering: .relaxed) }
    func end() {
        lastActive.store(NIODeadline.now().uptimeNanoseconds.clamped, ordering: .relaxed)
        busy.subtract(1, ordering: .relaxed)
    }
}

/// The open connections, and one timer that closes those idle for
/// `idleTimeout` (`cli.md`: 60 s). Not a timer per connection: NIO leaves a
/// cancelled timer armed, so each `touchpointctl` would have woken an idle
/// daemon once more, a minute after it had gone. This timer (a timerfd that
/// can be disarmed) is armed while a connection is open and disarmed when the
/// last one closes.
final class ConnectionRegistry: Sendable {
    private let open = Mutex<[ObjectIdentifier: (channel: any Channel, activity: ConnectionActivity)]>([:])
    let idleTimeout: TimeAmount
    let timer: WakeTimer

    init(idleTimeout: TimeAmount) throws {
        self.idleTimeout = idleTimeout
        timer = try WakeTimer()
    }

    func add(_ channel: any Channel, _ activity: ConnectionActivity) {
        open.withLock {
            $0[ObjectIdentifier(channel)] = (channel, activity)
            if $0.count == 1 { timer.arm(at: Self.deadline($0.values.map(\.activity), idleTimeout)) }
        }
    }

    func remove(_ channel: any Channel) {
        open.withLock {
            $0.removeValue(forKey: ObjectIdentifier(channel))
            if $0.isEmpty { timer.arm(at: nil) }
        }
    }

    /// Closes the connections that have had no request for `idleTimeout` and
    /// are not serving one, sets the timer for the next that could be, and
    /// returns how many it closed.
    func closeIdle() -> Int {
        let now = NIODeadline.now().uptimeNanoseconds.clamped
        let idleOnes = open.withLock { entries in
            let idle = entries.values.filter {
                $0.activity.busy.load(ordering: .relaxed) == 0 && $0.activity.lastActive.load(ordering: .relaxed) <= now - idleTimeout.nanoseconds
            }
            let rest = entries.values.filter { e in !idle.contains { $0.activity === e.activity } }.map(\.activity)
            timer.arm(at: rest.isEmpty ? nil : Self.deadline(rest, idleTimeout))
            return idle
        }
        for e in idleOnes { e.channel.close(promise: nil) }
        return idleOnes.count
    }

    /// When the first of these connections could have been idle long enough
    /// (one serving a request counts as active now).
    private static func deadline(_ activities: [ConnectionActivity], _ idle: TimeAmount) -> Date {
        let now = NIODeadline.now().uptimeNanoseconds.clamped
        let earliest = activities.map { $0.busy.load(ordering: .relaxed) > 0 ? now : $0.lastActive.load(ordering: .relaxed) }.min() ?? now
        return Date().addingTimeInterval(Double(earliest + idle.nanoseconds - now) / 1e9)
    }
}

extension UInt64 {
    fileprivate var clamped: Int64 { Int64(clamping: self) }
}

extension ByteBufferAllocator {
    /// A reply as one frame (`ControlProtocol`): its length, then its bytes,
    /// copied once into the buffer the channel writes.
    fileprivate func frame(_ payload: Data) -> ByteBuffer {
        var framed = buffer(capacity: 4 + payload.count)
        framed.writeInteger(UInt32(payload.count))
        framed.writeBytes(payload)
        return framed
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

    /// A connection with no request for this long is closed (`cli.md`).
    /// `TOUCHPOINT_CONTROL_IDLE_SECONDS` shortens it for the tests, which
    /// cannot wait a minute.
    static let idleTimeout: TimeAmount = .seconds(
        ProcessInfo.processInfo.environment["TOUCHPOINT_CONTROL_IDLE_SECONDS"].flatMap(Int64.init) ?? 60)
    /// Enough that a flood of idle clients cannot lock an admin out; the file
    /// limit is raised at start to leave room.
    static let maximumConnections = 1000

    func run() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let bootstrap = ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 256)
        let handler = self.handler
        let authorizer = self.authorizer
        let initializer: @Sendable (Channel) -> EventLoopFuture<(NIOAsyncChannel<InboundFrame, ByteBuffer>, Caller, ConnectionActivity)> = { channel in
            let credentials: EventLoopFuture<PeerCredentials> =
                (channel as? SocketOptionProvider)?.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
                ?? channel.eventLoop.makeSucceededFuture(PeerCredentials(pid: 0, uid: UInt32.max, gid: UInt32.max))
            return credentials.flatMapThrowing { cred in
                let activity = ConnectionActivity()
                let caller = authorizer().identify(cred)
                try channel.pipeline.syncOperations.addHandler(ByteToMessageHandler(ControlFrameDecoder()))
                try channel.pipeline.syncOperations.addHandler(StatusFastPath(handler: handler, caller: caller, activity: activity))
                let async = try NIOAsyncChannel<InboundFrame, ByteBuffer>(wrappingChannelSynchronously: channel)
                return (async, caller, activity)
            }
        }
        let server: NIOAsyncChannel<(NIOAsyncChannel<InboundFrame, ByteBuffer>, Caller, ConnectionActivity), Never>
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
        let registry = try ConnectionRegistry(idleTimeout: Self.idleTimeout)
        try await withGracefulShutdownHandler {
            try await server.executeThenClose { connections in
                try await withThrowingDiscardingTaskGroup { tasks in
                    // When the listening socket closes (graceful shutdown), the
                    // connections still open are cancelled: a half-sent frame or a
                    // client that never reads must not hold the daemon up.
                    defer { tasks.cancelAll() }
                    tasks.addTask {
                        for await _ in registry.timer.wakes {
                            let closed = registry.closeIdle()
                            if closed > 0 { logger.debug("closed \(closed) control connections idle for \(Self.idleTimeout.nanoseconds / 1_000_000_000) s") }
                        }
                    }
                    defer { registry.timer.stop() }
                    for try await (connection, caller, activity) in connections {
                        let now = active.value.add(1, ordering: .relaxed).newValue
                        registry.add(connection.channel, activity)
                        tasks.addTask {
                            defer {
                                registry.remove(connection.channel)
                                active.value.subtract(1, ordering: .relaxed)
                            }
                            if now > Self.maximumConnections {
                                await Self.refuse(connection, ControlFailure(.unavailable, "touchpointd has too many control connections open (\(Self.maximumConnections)); try again shortly"))
                                return
                            }
                            let session = ControlSession(connection: connection, caller: caller, activity: activity,
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
            try await outbound.write(connection.channel.allocator.frame(ControlReply.failure(failure)))
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
    let activity: ConnectionActivity
    let handler: CommandHandler
    let logger: Logger
    private let eventLoop: any EventLoop

    nonisolated var unownedExecutor: UnownedSerialExecutor { eventLoop.executor.asUnownedSerialExecutor() }

    init(connection: NIOAsyncChannel<InboundFrame, ByteBuffer>, caller: Caller, activity: ConnectionActivity, handler: CommandHandler, logger: Logger) {
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
                        try await outbound.write(connection.channel.allocator.frame(ControlReply.failure(f)))
                        return
                    case .payload(let buffer):
                        activity.begin()
                        let (reply, keepOpen) = await handler.handle(Array(buffer.readableBytesView), caller: caller)
                        activity.end()
                        try await outbound.write(connection.channel.allocator.frame(reply))
                        if !keepOpen { return }
                    }
                }
            }
        } catch {
            logger.debug("control connection ended: \(error)")
        }
    }
}

/// Answers `status` in the channel pipeline, on the event loop, when the
/// reply is already made (nothing written since, same second of uptime) and
/// no earlier request on this connection is still being answered, so replies
/// stay in order. Everything else goes on to `ControlSession`. A monitoring
/// probe asking many times a second costs a look-up and a write.
final class StatusFastPath: ChannelDuplexHandler {
    typealias InboundIn = InboundFrame
    typealias InboundOut = InboundFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let handler: CommandHandler
    let caller: Caller
    let activity: ConnectionActivity
    /// Requests passed on whose replies have not been written yet (event loop only).
    private var outstanding = 0

    init(handler: CommandHandler, caller: Caller, activity: ConnectionActivity) {
        self.handler = handler
        self.caller = caller
        self.activity = activity
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if outstanding == 0, case .payload(let buffer) = frame,
           let reply = handler.readyStatusReply(Array(buffer.readableBytesView), caller: caller) {
            activity.begin()
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.frame(reply)), promise: nil)
            activity.end()
            return
        }
        outstanding += 1
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        // One reply per request passed on.
        if outstanding > 0 { outstanding -= 1 }
        context.write(data, promise: promise)
    }
}
