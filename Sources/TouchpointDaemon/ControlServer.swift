import Foundation
import Logging
import NIOCore
import NIOPosix
import ServiceLifecycle
import Synchronization
import TouchpointControl
import TouchpointCore
import class TouchpointDomain.LogThrottle
import TouchpointLinux
import TouchpointSystemd

#if canImport(Glibc)
import Glibc
#endif

/// What one connection is doing: requests in progress, and when it last
/// had a request accepted (monotonic nanoseconds). A refused request (one
/// the peer may not make: `ControlRequests.handle`) is not activity: a
/// client that sent one every 25 s kept a connection open forever, and a
/// thousand of them locked the admins out.
final class ConnectionActivity: Sendable {
    let busy = Atomic<Int>(0)
    let lastActive = Atomic<Int64>(NIODeadline.now().uptimeNanoseconds.clamped)
    /// Refused requests on this connection since its last accepted one.
    let refusals = Atomic<Int>(0)
    /// After this many refusals in a row the connection is closed: nobody at
    /// a terminal sends that many, a script probing the socket does.
    static let maximumRefusals = 8

    func begin() { busy.add(1, ordering: .relaxed) }
    /// Ends a request; false once the connection has had `maximumRefusals` in a row.
    @discardableResult
    func end(accepted: Bool) -> Bool {
        defer { busy.subtract(1, ordering: .relaxed) }
        if accepted {
            lastActive.store(NIODeadline.now().uptimeNanoseconds.clamped, ordering: .relaxed)
            refusals.store(0, ordering: .relaxed)
            return true
        }
        return refusals.add(1, ordering: .relaxed).newValue < Self.maximumRefusals
    }
}

/// Who may hold how many control connections. Each peer (by uid) has a share
/// (`perPeer`); everyone but the admins and the delegates (the web view) may
/// use the connections up to `maximum - reserve`, and the reserve is theirs:
/// with one global cap, one staff user's thousand idle connections had root's
/// `touchpointctl status` refused and the ward's web view answered 400.
final class ConnectionShares: Sendable {
    let maximum: Int
    let reserve: Int
    let perPeer: Int
    private let state = Mutex<(total: Int, byUID: [UInt32: Int])>((0, [:]))

    init(maximum: Int, reserve: Int, perPeer: Int) {
        self.maximum = maximum
        self.reserve = reserve
        self.perPeer = perPeer
    }

    /// Takes a place for `peer`, or says why not.
    func admit(_ peer: Peer) -> ControlFailure? {
        // The web view and the HL7 receiver serve many people each: they are not held to one user's share.
        let privileged = peer.isAdmin || peer.isDelegate || peer.isFeed
        return state.withLock { s -> ControlFailure? in
            let mine = s.byUID[peer.uid, default: 0]
            if privileged {
                guard s.total < maximum else {
                    return ControlFailure(.unavailable, "touchpointd has too many control connections open (\(maximum)); try again shortly")
                }
            } else {
                guard mine < perPeer else {
                    return ControlFailure(.unavailable, "\(peer.name) has \(perPeer) control connections open already, the most one user may; close some and try again")
                }
                guard s.total < maximum - reserve else {
                    return ControlFailure(.unavailable, "touchpointd has too many control connections open (\(maximum - reserve)); try again shortly")
                }
            }
            s.total += 1
            s.byUID[peer.uid] = mine + 1
            return nil
        }
    }

    func release(_ peer: Peer) {
        state.withLock { s in
            s.total -= 1
            let left = s.byUID[peer.uid, default: 1] - 1
            s.byUID[peer.uid] = left > 0 ? left : nil
        }
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
        timer = try WakeTimer(name: "idle-connections")
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

/// One accepted connection: its channel, who is at the other end, what it is doing.
typealias ControlConnection = (channel: NIOAsyncChannel<ControlFrame, ByteBuffer>, peer: Peer, activity: ConnectionActivity)

/// The control socket: framed JSON requests, answered through `ControlRequests`.
struct ControlServer: Service {
    let socketPath: String
    let staffGroup: String
    let requests: ControlRequests
    /// A connection with no request for this long is closed (`control.idle_timeout`, 60 s).
    let idleTimeout: TimeAmount
    let logger: Logger
    let ready: @Sendable () async -> Void

    /// All connections together; the file limit is raised at start to leave room.
    static let maximumConnections = 1000
    /// Kept for admins and the web view whatever anyone else holds.
    static let reservedConnections = 100
    /// One user's share: more than any front end or script of theirs needs.
    static let connectionsPerPeer = 32

    func run() async throws {
        let setup = BlockingLane(name: "control-setup")
        defer { setup.shutdown() }
        let server = try await listen(setup)
        await ready()
        let registry = try ConnectionRegistry(idleTimeout: idleTimeout)
        try await withGracefulShutdownHandler {
            try await server.executeThenClose { connections in
                try await serve(connections, registry)
            }
        } onGracefulShutdown: {
            server.channel.close(promise: nil)
        }
        if ServiceNotifier.listenFDs().isEmpty {
            let path = socketPath
            _ = try? await setup.run { unlink(path) }
        }
    }

    /// A channel for each accepted connection: who is at the other end (by
    /// `SO_PEERCRED`, looked up off the event loop), the frame decoder, the
    /// `status` fast path.
    private func initializer() -> @Sendable (Channel) -> EventLoopFuture<ControlConnection> {
        let requests = self.requests
        return { channel in
            let credentials: EventLoopFuture<PeerCredentials> =
                (channel as? SocketOptionProvider)?.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET), name: SocketOptionName(SO_PEERCRED))
                ?? channel.eventLoop.makeSucceededFuture(PeerCredentials(pid: 0, uid: UInt32.max, gid: UInt32.max))
            return credentials.flatMap { cred in
                channel.eventLoop.makeFutureWithTask { await requests.core.peer(uid: cred.uid, gid: cred.gid) }
            }.flatMapThrowing { peer in
                let activity = ConnectionActivity()
                try channel.pipeline.syncOperations.addHandler(
                    ByteToMessageHandler(ControlFrameDecoder(), maximumBufferSize: 4 + ControlProtocol.maximumFrameLength))
                try channel.pipeline.syncOperations.addHandler(StatusFastPath(requests: requests, peer: peer, activity: activity))
                let async = try NIOAsyncChannel<ControlFrame, ByteBuffer>(wrappingChannelSynchronously: channel)
                return (async, peer, activity)
            }
        }
    }

    /// The listening socket: from socket activation, else made at `socketPath`
    /// (mode 0660, the staff group). Files and the account database are
    /// touched on `setup`, off the event loop.
    private func listen(_ setup: BlockingLane) async throws -> NIOAsyncChannel<ControlConnection, Never> {
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton).serverChannelOption(.backlog, value: 256)
        if let fd = ServiceNotifier.listenFDs().first {
            let server = try await bootstrap.bind(fd, childChannelInitializer: initializer())
            logger.info("control socket from socket activation (fd \(fd))")
            return server
        }
        let (path, staff) = (socketPath, staffGroup)
        try await setup.run { try Self.prepareSocketPath(path) }
        let server = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true,
                                              childChannelInitializer: initializer())
        try await setup.run {
            chmod(path, 0o660)
            if let gid = UnixAccounts.gid(of: staff) {
                _ = chown(path, UInt32.max, gid)  // -1 keeps the owner
            }
        }
        logger.info("control socket at \(path)")
        return server
    }

    /// Serves each connection in a task of its own until the listening
    /// socket closes (graceful shutdown); then the connections still open are
    /// cancelled: a half-sent frame or a client that never reads must not
    /// hold the daemon up.
    private func serve(_ connections: NIOAsyncChannelInboundStream<ControlConnection>, _ registry: ConnectionRegistry) async throws {
        let (requests, logger, idleTimeout) = (self.requests, self.logger, self.idleTimeout)
        let shares = ConnectionShares(maximum: Self.maximumConnections, reserve: Self.reservedConnections, perPeer: Self.connectionsPerPeer)
        let refusalLog = LogThrottle<UInt32>()
        try await withThrowingDiscardingTaskGroup { tasks in
            defer { tasks.cancelAll() }
            tasks.addTask {
                for await _ in registry.timer.wakes {
                    let closed = registry.closeIdle()
                    if closed > 0 { logger.debug("closed \(closed) control connections idle for \(idleTimeout.nanoseconds / 1_000_000_000) s") }
                }
            }
            defer { registry.timer.stop() }
            for try await (connection, peer, activity) in connections {
                let refusal = shares.admit(peer)
                registry.add(connection.channel, activity)
                tasks.addTask {
                    defer {
                        registry.remove(connection.channel)
                        if refusal == nil { shares.release(peer) }
                    }
                    if let refusal {
                        if let leftOut = refusalLog.admit(peer.uid, at: Date()) {
                            logger.notice("control connection from \(peer.name) refused: \(refusal.message)\(LogThrottle<UInt32>.suffix(leftOut))")
                        }
                        await Self.refuse(connection, refusal)
                        return
                    }
                    await ControlSession(connection: connection, peer: peer, activity: activity, requests: requests, logger: logger).serve()
                }
            }
        }
    }

    /// Removes a stale socket file, but refuses to take over a live one.
    static func prepareSocketPath(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        guard st.st_mode & S_IFMT == S_IFSOCK else {
            throw StartupError("control.socket \(path) exists and is not a socket; remove it or choose another path")
        }
        let client = ControlClient(socketPath: path)
        if (try? client.connect(timeoutSeconds: 2)) != nil {
            throw StartupError("another touchpointd is already listening on \(path)")
        }
    }

    static func refuse(_ connection: NIOAsyncChannel<ControlFrame, ByteBuffer>, _ failure: ControlFailure) async {
        try? await connection.executeThenClose { _, outbound in
            try await outbound.write(connection.channel.allocator.controlFrame(ControlReply.failure(failure)))
        }
    }

}

/// One control connection, served on its channel's event loop: the frame
/// comes in, the reply goes out, and a cheap command like `status` runs in
/// between, all on one thread (a monitoring probe may ask thousands of times a
/// second). Commands that read the database in earnest offload that work.
actor ControlSession {
    let connection: NIOAsyncChannel<ControlFrame, ByteBuffer>
    let peer: Peer
    let activity: ConnectionActivity
    let requests: ControlRequests
    let logger: Logger
    private let eventLoop: any EventLoop

    nonisolated var unownedExecutor: UnownedSerialExecutor { eventLoop.executor.asUnownedSerialExecutor() }

    init(connection: NIOAsyncChannel<ControlFrame, ByteBuffer>, peer: Peer, activity: ConnectionActivity, requests: ControlRequests, logger: Logger) {
        self.connection = connection
        self.peer = peer
        self.activity = activity
        self.requests = requests
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
                        try await outbound.write(connection.channel.allocator.controlFrame(ControlReply.failure(f)))
                        return
                    case .payload(let buffer):
                        activity.begin()
                        let (reply, keepOpen, refused) = await requests.handle(Array(buffer.readableBytesView), peer: peer)
                        let goOn = activity.end(accepted: !refused)
                        try await outbound.write(connection.channel.allocator.controlFrame(reply))
                        if !keepOpen { return }
                        if !goOn {
                            logger.notice("control connection from \(peer.name) closed after \(ConnectionActivity.maximumRefusals) refused requests in a row")
                            return
                        }
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
    typealias InboundIn = ControlFrame
    typealias InboundOut = ControlFrame
    typealias OutboundIn = ByteBuffer
    typealias OutboundOut = ByteBuffer

    let requests: ControlRequests
    let peer: Peer
    let activity: ConnectionActivity
    /// Requests passed on whose replies have not been written yet (event loop only).
    private var outstanding = 0

    init(requests: ControlRequests, peer: Peer, activity: ConnectionActivity) {
        self.requests = requests
        self.peer = peer
        self.activity = activity
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        let frame = unwrapInboundIn(data)
        if outstanding == 0, case .payload(let buffer) = frame,
           let reply = requests.readyStatusReply(Array(buffer.readableBytesView), peer: peer) {
            activity.begin()
            context.writeAndFlush(wrapOutboundOut(context.channel.allocator.controlFrame(reply)), promise: nil)
            activity.end(accepted: true)
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
