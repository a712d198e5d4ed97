import Crypto
import Foundation
import Hummingbird
import Logging
import NIOCore
import Synchronization
import TouchpointControl
import TouchpointDomain
import TouchpointLinux

#if canImport(Glibc)
import Glibc
#endif

/// The web view: each page is a thin adapter that asks `touchpointd` (over
/// the control socket, acting for the signed-in nurse) and renders what it
/// says. It keeps no patient data: accounts and sessions only.
public final class WebApp: Sendable {
    public let config: WebConfig
    let accounts: Accounts
    /// touchpointd, over the control socket: every page asks through this, acting for its viewer.
    let daemon: TouchpointClient
    let logger: Logger
    let policy: SessionPolicy
    /// One-time confirmations ("Outcome recorded for ..."), by session. In
    /// memory: they hold a patient's name and live only until the next page.
    let flashes = Mutex<[String: Flash]>([:])
    /// The call lists, asked for once and rendered once for everyone.
    let lists = CallListCache()
    /// Signs CSRF tokens for `auth = "proxy"` (no session row to keep one in).
    let proxySecret: [UInt8] = { var g = SystemRandomNumberGenerator(); return (0..<32).map { _ in UInt8.random(in: 0...255, using: &g) } }()
    static let cookieName = "touchpoint_session"
    /// The names `Host` may give (nil: any, behind a proxy).
    let allowedHosts: Set<String>?
    /// What touchpointd's `status` warns of (a silent feed, unassigned
    /// calls), shown as a banner on every page: asked at most every 5 s.
    let warnings = Mutex<(at: ContinuousClock.Instant, text: [String])?>(nil)

    public init(config: WebConfig, accounts: Accounts, daemon: AsyncControlClient, logger: Logger) {
        self.config = config
        self.accounts = accounts
        self.daemon = TouchpointClient(daemon)
        self.logger = logger
        self.policy = SessionPolicy(config)
        var name = [CChar](repeating: 0, count: 256)
        gethostname(&name, name.count - 1)
        self.allowedHosts = config.allowedHosts(hostName: String(cString: name))
    }

    /// Every page and what it needs: the sign-in pages and `/healthz` are
    /// open; the rest go through `SignedIn`.
    public func router() -> Router<WebContext> {
        let router = Router(context: WebContext.self)
        router.get("/login") { request, context in try await self.loginPage(request, context) }
        router.post("/login") { request, context in try await self.login(request, context) }
        router.get("/healthz") { _, _ in await self.health() }
        router.get("/static/app.css") { _, _ in Self.stylesheet() }
        let signedIn = router.group().add(middleware: SignedIn(app: self))
        signedIn.get("/") { _, _ in Self.redirect("/calls") }
        signedIn.post("/logout") { request, context in try await self.logout(request, context) }
        signedIn.get("/calls") { request, context in try await self.callsPage(request, context) }
        signedIn.get("/calls/escalated") { request, context in try await self.escalatedPage(request, context) }
        signedIn.get("/calls/unassigned") { request, context in try await self.unassignedPage(request, context) }
        signedIn.get("/calls/:job") { request, context in try await self.callPage(request, context) }
        signedIn.post("/calls/:job/outcome") { request, context in try await self.recordOutcome(request, context) }
        signedIn.post("/calls/:job/take") { request, context in try await self.takeCall(request, context) }
        signedIn.post("/calls/:job/reopen") { request, context in try await self.reopenCall(request, context) }
        signedIn.get("/print") { request, context in try await self.printPage(request, context) }
        signedIn.get("/report") { request, context in try await self.reportPage(request, context) }
        signedIn.get("/report/leaflet") { request, context in try await self.leafletPage(request, context) }
        return router
    }

    // MARK: Asking the daemon

    /// The client acting for `viewer`: the daemon records `NAME via web` and
    /// holds every request to the account's wards.
    func daemon(for viewer: Viewer?) -> TouchpointClient {
        daemon.acting(for: viewer.map { Delegation(name: $0.name, wards: $0.wards) })
    }

    /// `/healthz`: 200 when the daemon answers, 503 when it does not. No data, no sign-in.
    func health() async -> Response {
        do {
            _ = try await daemon.status()
            return Self.text("ok\n", status: .ok)
        } catch {
            return Self.text("touchpointd is not answering\n", status: .serviceUnavailable)
        }
    }

    // MARK: Responses

    static func html(_ body: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func text(_ body: String, status: HTTPResponse.Status) -> Response {
        Response(status: status, headers: [.contentType: "text/plain; charset=utf-8"], body: .init(byteBuffer: ByteBuffer(string: body)))
    }

    static func redirect(_ to: String) -> Response {
        Response(status: .seeOther, headers: [.location: to])
    }

    static func stylesheet() -> Response {
        Response(status: .ok, headers: [.contentType: "text/css; charset=utf-8", .cacheControl: "no-cache"],
                 body: .init(byteBuffer: ByteBuffer(string: Stylesheet.css)))
    }

    /// The values every page's header needs.
    func chrome(_ viewer: Viewer?, title: String, errors: [FieldError] = []) -> [String: Any] {
        var v: [String: Any] = ["title": title, "hasErrors": !errors.isEmpty, "errors": errors.map(\.values)]
        if let viewer {
            v["user"] = viewer.name
            v["csrf"] = viewer.csrf
            v["hasWarnings"] = !viewer.warnings.isEmpty
            v["warnings"] = viewer.warnings.map { ["text": $0] }
        }
        return v
    }

    /// The daemon's warnings for the banner, from a cache of at most 5 s (a
    /// page costs one `status` a few seconds, not one each). None when the
    /// daemon does not answer: the page says that itself.
    func currentWarnings() async -> [String] {
        let now = ContinuousClock.now
        if let kept = warnings.withLock({ $0 }), now - kept.at < .seconds(5) { return kept.text }
        guard let report = try? await daemon.status().value() else { return [] }
        let text = report.warnings ?? []
        warnings.withLock { $0 = (now, text) }
        return text
    }

    /// A page with no patient data: not found, not allowed, the daemon away.
    func message(_ viewer: Viewer?, status: HTTPResponse.Status, title: String, _ paragraphs: [String],
                 link: (href: String, text: String)? = nil) -> Response {
        var v = chrome(viewer, title: title)
        v["paragraphs"] = paragraphs
        if let link { v["link"] = ["href": link.href, "text": link.text] }
        return Self.html(Templates.render("message", v), status: status)
    }

    /// What a nurse sees when the daemon did not give an answer. The
    /// details go to the journal (they hold no patient data), not the page.
    func failure(_ error: ClientError, _ viewer: Viewer?, doing: String) -> Response {
        switch error {
        case .unreachable(let why):
            logger.warning("touchpointd did not answer (\(doing)): \(why)")
            return notAnswering(viewer, busy: false)
        case .permissionDenied(let why):
            logger.error("touchpointd refused the web view (\(doing)): \(why)")
            return message(viewer, status: .serviceUnavailable, title: "touchpoint is not available", [
                "The web view is not allowed to ask touchpoint for the call list. Tell the service desk: the web view's user must be in the staff and delegate groups.",
            ])
        case .refused(let f) where f.code == .notFound:
            return notFound(viewer)
        case .refused(let f) where f.code == .unavailable:
            // The daemon is there but cannot serve now (too many connections):
            // to the nurse that is the daemon not answering (`web.md`: 503).
            logger.warning("touchpointd could not serve the web view (\(doing)): \(f.message)")
            return notAnswering(viewer, busy: true)
        case .refused(let f):
            logger.notice("touchpointd refused a request (\(doing)): \(f.code.rawValue)")
            return message(viewer, status: .badRequest, title: "That could not be done", [f.message], link: ("/calls", "Back to today’s calls"))
        case .protocolError(let why):
            logger.error("touchpointd's reply could not be read (\(doing)): \(why)")
            return message(viewer, status: .badGateway, title: "Something went wrong", [
                "touchpoint gave an answer the web view could not read. Tell the service desk.",
            ])
        }
    }

    /// The 503 page of `web.md` for a daemon that cannot serve the page:
    /// gone, or there but too busy (its connections full).
    func notAnswering(_ viewer: Viewer?, busy: Bool) -> Response {
        message(viewer, status: .serviceUnavailable, title: "touchpoint is not answering", [
            "The call list cannot be shown because the touchpoint service is \(busy ? "overloaded" : "not answering"). Nothing you did was lost.",
            "Try again in a minute. If it goes on, tell the service desk, and phone patients from the printed list.",
        ], link: ("/calls", "Try again"))
    }

    func notFound(_ viewer: Viewer?) -> Response {
        message(viewer, status: .notFound, title: "Page not found", [
            "There is no page at this address, or it is not one you can see.",
        ], link: ("/calls", "Go to today’s calls"))
    }
}

/// A one-time confirmation: its heading ("Outcome recorded", "Call taken",
/// "Call reopened") and what was done, naming the patient.
struct Flash: Sendable {
    var title: String
    var text: String
}
