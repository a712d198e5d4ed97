import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import NIOPosix

import ServiceLifecycle
import Synchronization
import CLinux
import TouchpointLinux
import TouchpointSystemd

#if canImport(Glibc)
import Glibc
#endif

/// The HTTP server: Hummingbird's HTTP/1.1 channel (and TLS) on a listening
/// socket of our own. Not Hummingbird's `Application`: its date cache wakes
/// the process every second (an idle web view should not wake at all), and
/// it cannot take a socket from systemd (`LISTEN_FDS`).
///
/// Every response, the router's or an error's, gets the security headers
/// here, and one access-log line: method, route (never the query), status,
/// user, duration.
public struct WebServer: Service {
    let app: WebApp
    let logger: Logger
    /// Open connections, told to finish their current request and close on shutdown.
    let connections: Connections

    public init(app: WebApp, logger: Logger) {
        self.app = app
        self.logger = logger
        // With nobody connected, nothing is kept: the lists (fresh for two
        // seconds only) and the heap's free pages go back.
        connections = Connections { [lists = app.lists] in
            lists.drop()
            Heap.handBackFreePages()
        }
    }

    public func run() async throws {
        let responder = app.router().buildResponder()
        let (app, logger) = (self.app, self.logger)
        let respond: HTTPChannelHandler.Responder = { request, writer, channel in
            let started = ContinuousClock.now
            let context = WebContext(source: .init(channel: channel, logger: logger))
            var response: Response
            do {
                if let refusal = app.hostRefusal(request) {
                    response = refusal
                } else {
                    response = try await responder.respond(to: request, context: context)
                }
            } catch let error as HTTPResponseError {
                response = app.errorPage(error.status)
            } catch {
                logger.error("a request failed: \(type(of: error))")
                response = app.errorPage(.internalServerError)
            }
            if response.headers[.contentType] == nil, response.status.code >= 400 {
                // The router's own "no such route" has no body: a page instead.
                response = app.errorPage(response.status)
            }
            app.addSecurityHeaders(&response)
            app.accessLog(request, response.status, user: context.notes.user.withLock { $0 }, since: started)
            try await writer.write(response: response.head, body: response.body)
        }
        let http = HTTP1Channel(responder: respond, configuration: .init(idleTimeout: .seconds(75)))
        if let tls = try app.config.tlsConfiguration() {
            try await serve(TLSChannel(http, tlsConfiguration: tls))
        } else {
            try await serve(http)
        }
    }

    private func serve<Child: ServerChildChannel>(_ child: Child) async throws {
        let server = try await listen(child)
        ServiceNotifier.notify("READY=1\nSTATUS=serving on \(app.config.listen)")
        logger.info("touchpoint-web serving on \(app.config.listen), asking touchpointd at \(app.config.controlSocket)")
        let connections = self.connections
        try await withGracefulShutdownHandler {
            try await withThrowingDiscardingTaskGroup { group in
                try await server.executeThenClose { inbound in
                    for try await connection in inbound {
                        group.addTask {
                            let id = connections.add(connection.channel)
                            defer { connections.remove(id) }
                            await child.handle(value: connection, logger: logger)
                        }
                    }
                }
            }
        } onGracefulShutdown: {
            ServiceNotifier.notify("STOPPING=1")
            server.channel.close(promise: nil)
            connections.quiesce()
        }
        logger.info("touchpoint-web stopped")
    }

    /// The listening socket: systemd's (`LISTEN_FDS`), else the configured
    /// address (a Unix socket is made mode 0666: any local user may reach
    /// the sign-in page, and only `trusted_proxy_users` are believed).
    private func listen<Child: ServerChildChannel>(_ child: Child) async throws -> NIOAsyncChannel<Child.Value, Never> {
        let logger = self.logger
        let bootstrap = ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.backlog, value: 256)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.allowRemoteHalfClosure, value: true)
        let setup: @Sendable (any Channel) -> EventLoopFuture<Child.Value> = { child.setup(channel: $0, logger: logger) }
        if let fd = ServiceNotifier.listenFDs().first {
            return try await bootstrap.bind(fd, childChannelInitializer: setup)
        }
        switch app.config.listen {
        case .tcp(let host, let port):
            return try await bootstrap.bind(host: host, port: port, childChannelInitializer: setup)
        case .unix(let path):
            let server = try await bootstrap.bind(unixDomainSocketPath: path, cleanupExistingSocketFile: true, childChannelInitializer: setup)
            chmod(path, 0o666)
            return server
        }
    }
}

/// The open connections, so that a stop lets each finish its request.
final class Connections: Sendable {
    private let open = Mutex<(next: Int, channels: [Int: any Channel])>((0, [:]))

    func add(_ channel: any Channel) -> Int {
        open.withLock { o in
            o.next += 1
            o.channels[o.next] = channel
            return o.next
        }
    }

    /// When the last connection goes, `whenIdle` runs: a thousand-call page
    /// is 400 KB, fifty at once grow the heap, which malloc otherwise keeps.
    func remove(_ id: Int) {
        let idle = open.withLock { o in
            o.channels.removeValue(forKey: id)
            return o.channels.isEmpty
        }
        if idle { whenIdle() }
    }

    /// Run when no connection is open (set once, before serving).
    let whenIdle: @Sendable () -> Void

    init(whenIdle: @escaping @Sendable () -> Void = {}) {
        self.whenIdle = whenIdle
    }

    /// Each connection closes once its request in hand is answered.
    func quiesce() {
        for channel in open.withLock({ Array($0.channels.values) }) {
            channel.eventLoop.execute { channel.pipeline.fireUserInboundEventTriggered(ChannelShouldQuiesceEvent()) }
        }
    }
}

extension WebConfig {
    /// The server's certificate and key, when it serves TLS.
    func tlsConfiguration() throws -> TLSConfiguration? {
        guard let cert = tlsCert, let key = tlsKey else { return nil }
        var tls = TLSConfiguration.makeServerConfiguration(
            certificateChain: try NIOSSLCertificate.fromPEMFile(cert).map { .certificate($0) },
            privateKey: .privateKey(try NIOSSLPrivateKey(file: key, format: .pem)))
        tls.minimumTLSVersion = .tlsv12
        return tls
    }
}

extension WebApp {
    /// The headers of `web.md` on every response: a strict policy (the
    /// stylesheet and nothing inline; the print page sets its own), no
    /// sniffing, no referrer, nothing cached where patient data may be, HSTS
    /// over TLS.
    func addSecurityHeaders(_ response: inout Response) {
        if response.headers[.contentSecurityPolicy] == nil {
            response.headers[.contentSecurityPolicy] =
                "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        }
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        response.headers[HTTPField.Name("X-Frame-Options")!] = "DENY"
        response.headers[HTTPField.Name("Cross-Origin-Opener-Policy")!] = "same-origin"
        response.headers[HTTPField.Name("Cross-Origin-Resource-Policy")!] = "same-origin"
        response.headers[HTTPField.Name("Permissions-Policy")!] = "camera=(), microphone=(), geolocation=(), payment=()"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        if config.usesTLS { response.headers[.strictTransportSecurity] = "max-age=31536000" }
    }

    /// A request whose `Host` is missing, sent twice, or not one of this
    /// server's names is answered 400 before any route sees it (RFC 9112
    /// section 3.2; a foreign name is how a DNS-rebinding page would reach a
    /// ward PC's loopback server).
    func hostRefusal(_ request: Request) -> Response? {
        let again = request.headers[values: HTTPField.Name("Host")!]
        guard let authority = request.head.authority, again.isEmpty else {
            logger.notice("refused a request with \(again.isEmpty ? "no Host" : "more than one Host")")
            return message(nil, status: .badRequest, title: "That request could not be read",
                           ["The request did not name this server once (its Host header). Open touchpoint from its usual address."])
        }
        if let allowed = allowedHosts, !allowed.contains(WebConfig.bare(authority)) {
            logger.notice("refused a request for a host that is not this server's (server_names)")
            return message(nil, status: .badRequest, title: "That request could not be read",
                           ["This server does not answer to that name. Open touchpoint from its usual address."])
        }
        return nil
    }

    /// A page for an error the router raised (no such page, bad method).
    func errorPage(_ status: HTTPResponse.Status) -> Response {
        switch status {
        case .notFound: return notFound(nil)
        case .methodNotAllowed: return message(nil, status: status, title: "That cannot be done here", ["This address does not take that kind of request."])
        case .contentTooLarge: return message(nil, status: status, title: "That form is too large", ["Shorten the note and try again."])
        default: return message(nil, status: status, title: "Something went wrong", ["The page could not be shown. Try again; if it goes on, tell the service desk."])
        }
    }

    /// The route a path belongs to, for the log: never the query, and never
    /// a path a person typed (it could hold anything).
    static func route(_ path: String) -> String {
        switch path {
        case "/", "/login", "/logout", "/calls", "/calls/escalated", "/calls/unassigned", "/print", "/report", "/report/leaflet", "/healthz", "/static/app.css": return path
        default:
            let parts = path.split(separator: "/", omittingEmptySubsequences: false)
            if parts.count == 3, parts[1] == "calls" { return "/calls/:job" }
            if parts.count == 4, parts[1] == "calls", parts[3] == "outcome" { return "/calls/:job/outcome" }
            if parts.count == 4, parts[1] == "calls", parts[3] == "take" { return "/calls/:job/take" }
            if parts.count == 4, parts[1] == "calls", parts[3] == "reopen" { return "/calls/:job/reopen" }
            return "(other)"
        }
    }

    func accessLog(_ request: Request, _ status: HTTPResponse.Status, user: String?, since started: ContinuousClock.Instant) {
        let elapsed = (ContinuousClock.now - started).components
        let ms = Double(elapsed.seconds) * 1000 + Double(elapsed.attoseconds / 1_000_000_000_000) / 1000
        let route = Self.route(request.uri.path)
        let tenths = Int((ms * 10).rounded())
        let duration = "\(tenths / 10).\(tenths % 10)"
        logger.info("\(request.method.rawValue) \(route) \(status.code) \(user ?? "-") \(duration)ms",
                    metadata: ["HTTP_METHOD": "\(request.method.rawValue)", "HTTP_ROUTE": "\(route)", "HTTP_STATUS": "\(status.code)",
                               "WEB_USER": "\(user ?? "-")", "DURATION_MS": "\(duration)"])
    }
}
