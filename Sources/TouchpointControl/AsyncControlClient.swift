import Foundation
import NIOCore
import NIOPosix
import Synchronization

/// Writes each payload as one control frame.
public struct ControlFrameEncoder: MessageToByteEncoder {
    public typealias OutboundIn = ByteBuffer

    public init() {}

    public func encode(data: ByteBuffer, out: inout ByteBuffer) throws {
        out.writeControlFrame(data.readableBytesView)
    }
}

/// Matches replies to requests on one connection: the daemon answers a
/// connection's requests in the order they were sent, so the first reply
/// that comes back is the first request's.
final class ControlReplyHandler: ChannelDuplexHandler {
    typealias InboundIn = ControlFrame
    typealias OutboundIn = (ByteBuffer, EventLoopPromise<ByteBuffer>)
    typealias OutboundOut = ByteBuffer

    /// Promises of requests sent and not yet answered (event loop only).
    private var waiting: [EventLoopPromise<ByteBuffer>] = []

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let (payload, reply) = unwrapOutboundIn(data)
        guard context.channel.isActive else {
            // Closed already: nothing will answer, so fail it now (a promise left waiting would leak).
            reply.fail(ClientError.unreachable("the connection to the daemon is closed"))
            promise?.fail(ChannelError.ioOnClosedChannel)
            return
        }
        waiting.append(reply)
        context.write(wrapOutboundOut(payload), promise: promise)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        guard !waiting.isEmpty else { return }
        let reply = waiting.removeFirst()
        switch unwrapInboundIn(data) {
        case .payload(let p): reply.succeed(p)
        case .tooLarge: reply.fail(ClientError.protocolError("the daemon sent an oversized reply"))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        failAll(ClientError.unreachable("the daemon closed the connection"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        failAll(ClientError.unreachable("the connection to the daemon failed: \(error)"))
        context.close(promise: nil)
    }

    private func failAll(_ error: ClientError) {
        let pending = waiting
        waiting = []
        for p in pending { p.fail(error) }
    }
}

/// The control protocol's client for a program that serves many people at
/// once (the web view): non-blocking, on SwiftNIO, a few connections kept
/// open and used in turn, each reconnected when it is lost (the daemon
/// restarted). Requests, replies and errors are those of `ControlClient`.
public final class AsyncControlClient: ControlTransport {
    public let socketPath: String
    private let slots: [Slot]
    private let next = Atomic<Int>(0)

    /// One connection, opened on first use and again after it is lost.
    final class Slot: Sendable {
        enum State {
            case idle
            case connecting(EventLoopFuture<any Channel>)
            case connected(any Channel)
        }
        let state = Mutex<State>(.idle)

        func forget() { state.withLock { $0 = .idle } }
    }

    public init(socketPath: String, connections: Int = 4) {
        self.socketPath = socketPath
        slots = (0..<max(1, connections)).map { _ in Slot() }
    }

    /// Sends one request payload and returns the reply's `result` JSON, or
    /// throws its error. A connection found lost (the daemon restarted) is
    /// opened again and the request sent on it; a request lost after it was
    /// written is sent again only if its command changes nothing
    /// (`mayResend`, the command's own declaration).
    public func exchange(_ payload: Data, mayResend: Bool) async throws(ClientError) -> Data {
        let slot = slots[next.add(1, ordering: .relaxed).oldValue % slots.count]
        switch await exchange(payload, on: slot) {
        case .replied(let bytes):
            return try ControlClient.unwrap(bytes)
        case .notSent:
            // Never written: safe to send on a new connection.
            return try await resend(payload, on: slot)
        case .lost where mayResend:
            return try await resend(payload, on: slot)
        case .lost(let e):
            throw .unreachable("\(e.message); the request may or may not have been carried out: look before trying again")
        }
    }

    private func resend(_ payload: Data, on slot: Slot) async throws(ClientError) -> Data {
        switch await exchange(payload, on: slot) {
        case .replied(let bytes): return try ControlClient.unwrap(bytes)
        case .notSent(let e), .lost(let e): throw e
        }
    }

    enum Exchange {
        case replied([UInt8])
        /// Never written: safe to send again.
        case notSent(ClientError)
        /// Written, then the connection went: the daemon may have acted on it.
        case lost(ClientError)
    }

    private func exchange(_ payload: Data, on slot: Slot) async -> Exchange {
        let channel: any Channel
        do {
            channel = try await connection(slot).get()
        } catch {
            slot.forget()
            return .notSent((error as? ClientError) ?? .unreachable("cannot reach touchpointd at \(socketPath): \(error) (is the service running?)"))
        }
        let reply = channel.eventLoop.makePromise(of: ByteBuffer.self)
        let written = channel.eventLoop.makePromise(of: Void.self)
        channel.writeAndFlush((channel.allocator.buffer(bytes: payload), reply), promise: written)
        do {
            try await written.futureResult.get()
        } catch {
            reply.fail(ClientError.unreachable("unused"))
            slot.forget()
            return .notSent(.unreachable("the connection to touchpointd at \(socketPath) was lost: \(error)"))
        }
        do {
            return .replied(Array(try await reply.futureResult.get().readableBytesView))
        } catch {
            slot.forget()
            return .lost((error as? ClientError) ?? .unreachable("\(error)"))
        }
    }

    private func connection(_ slot: Slot) -> EventLoopFuture<any Channel> {
        let group = MultiThreadedEventLoopGroup.singleton
        let promise = group.any().makePromise(of: (any Channel).self)
        let existing: EventLoopFuture<any Channel>? = slot.state.withLock { state in
            switch state {
            case .connected(let channel) where channel.isActive:
                return channel.eventLoop.makeSucceededFuture(channel)
            case .connecting(let future):
                return future
            default:
                state = .connecting(promise.futureResult)
                return nil
            }
        }
        if let existing {
            promise.fail(ClientError.unreachable("unused"))
            return existing
        }
        // Connect outside the lock: a future that completes at once runs its
        // callbacks at once.
        let path = socketPath
        ClientBootstrap(group: group)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandlers([
                        ByteToMessageHandler(ControlFrameDecoder(), maximumBufferSize: 4 + ControlProtocol.maximumFrameLength),
                        MessageToByteHandler(ControlFrameEncoder()),
                        ControlReplyHandler(),
                    ])
                }
            }
            .connect(unixDomainSocketPath: path)
            .whenComplete { result in
                switch result {
                case .success(let channel):
                    slot.state.withLock { $0 = .connected(channel) }
                    promise.succeed(channel)
                case .failure(let error):
                    slot.state.withLock { $0 = .idle }
                    promise.fail(ClientError.unreachable("cannot reach touchpointd at \(path): \(error) (is the service running? systemctl status touchpointd)"))
                }
            }
        return promise.futureResult
    }
}
