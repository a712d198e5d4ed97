import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import NIOCore
import TouchpointLinux

#if canImport(Glibc)
import Glibc
#endif

/// Lets a request through only for a signed-in person: their session
/// cookie (`auth = "accounts"`), or the proxy's header from a trusted
/// proxy's Unix socket (`auth = "proxy"`). Anyone else goes to sign in.
struct SignedIn: RouterMiddleware {
    typealias Context = WebContext
    let app: WebApp

    func handle(_ request: Request, context: WebContext, next: (Request, WebContext) async throws -> Response) async throws -> Response {
        let identity = try await app.identity(request, context)
        if case .refused(let why) = identity {
            context.notes.user.withLock { $0 = "(refused)" }
            return app.proxyRefusal(why)
        }
        guard case .viewer(var viewer) = identity else {
            if request.method == .get && request.cookies[WebApp.cookieName] != nil && app.config.auth == .accounts {
                return WebApp.redirect("/login?ended=1")
            }
            return WebApp.redirect("/login")
        }
        var context = context
        viewer.warnings = await app.currentWarnings()
        context.viewer = viewer
        context.notes.user.withLock { $0 = viewer.name }
        return try await next(request, context)
    }
}

/// A sign-in or outcome form's fields.
struct LoginForm: Decodable {
    var username: String?
    var password: String?
}

struct CSRFForm: PostedForm {
    var csrf: String?
}

/// Who a request comes from, as far as signing in goes.
enum Identity {
    case viewer(Viewer)
    /// Nobody signed in: go to sign in.
    case none
    /// `auth = "proxy"`: the trusted proxy named someone touchpoint does not
    /// let in (no account, disabled): a page that says to ask an admin.
    case refused(String)
}

extension WebApp {
    /// The person making a request, if signed in.
    func viewer(_ request: Request, _ context: WebContext) async throws -> Viewer? {
        if case .viewer(let v) = try await identity(request, context) { return v }
        return nil
    }

    func identity(_ request: Request, _ context: WebContext) async throws -> Identity {
        switch config.auth {
        case .accounts:
            guard let token = request.cookies[Self.cookieName]?.value, token.count == 64,
                  let session = try await accounts.session(token: token, policy: policy) else { return .none }
            return .viewer(Viewer(name: session.account.name, wards: session.account.wards, csrf: session.csrf,
                                  flashKey: session.tokenHash, session: session))
        case .proxy:
            return try await proxyIdentity(request, context)
        }
    }

    /// The Unix user at the other end of a connection on the Unix socket (`SO_PEERCRED`).
    func unixPeer(_ context: WebContext) async -> (uid: UInt32, name: String?)? {
        guard context.channel.remoteAddress?.protocol == .unix || context.channel.localAddress?.protocol == .unix,
              let provider = context.channel as? SocketOptionProvider,
              let cred: PeerCredentials = try? await provider.unsafeGetSocketOption(level: SocketOptionLevel(SOL_SOCKET),
                                                                                   name: SocketOptionName(SO_PEERCRED)).get()
        else { return nil }
        return (cred.uid, UnixAccounts.userName(uid: cred.uid))
    }

    /// `auth = "proxy"`: the header is believed only from a trusted proxy
    /// user's connection on the Unix socket (`SO_PEERCRED`); from anyone
    /// else it is ignored. The name it gives must be an account's, enabled,
    /// found as every name is (ignoring case, trimmed, NFC): behind a trust's
    /// single sign-on every employee has a name, and a name with no account
    /// saw every ward. The viewer is the account (its name and its wards),
    /// whatever case the proxy passed.
    func proxyIdentity(_ request: Request, _ context: WebContext) async throws -> Identity {
        guard let peer = await unixPeer(context) else { return .none }
        guard let user = peer.name, config.trustedProxyUsers.contains(user) else {
            if request.headers[values: HTTPField.Name(config.proxyUserHeader)!].isEmpty == false {
                logger.notice("ignored \(config.proxyUserHeader) from uid \(peer.uid): not one of trusted_proxy_users")
            }
            return .none
        }
        let values = request.headers[values: HTTPField.Name(config.proxyUserHeader)!]
        guard values.count == 1, let given = values.first else {
            if values.count > 1 { logger.warning("\(config.proxyUserHeader) sent \(values.count) times by the proxy: refused") }
            return .none
        }
        let name = given.trimmingCharacters(in: .whitespaces)
        guard (try? Accounts.checkName(name)) != nil else { return .none }
        let account: Account?
        do {
            account = try await accounts.account(named: name)
        } catch let e as AccountError {
            logger.warning("sign-in through the proxy refused: \(e)")
            return .refused("More than one touchpoint account has this name. Ask your touchpoint administrator to sort it out.")
        }
        guard let account else {
            logger.notice("sign-in through the proxy refused: no touchpoint account for this name")
            return .refused("You do not have a touchpoint account. Ask your touchpoint administrator to make one for you, naming the wards you work on.")
        }
        guard !account.disabled else {
            logger.notice("sign-in through the proxy refused: \(account.name)'s account is disabled")
            return .refused("Your touchpoint account is disabled. Ask your touchpoint administrator if you need it.")
        }
        let mac = HMAC<SHA256>.authenticationCode(for: Data(account.name.utf8), using: SymmetricKey(data: proxySecret))
        return .viewer(Viewer(name: account.name, wards: account.wards, csrf: Accounts.hex(mac),
                              flashKey: "proxy:" + account.name, session: nil))
    }

    /// The page for a name the proxy vouches for that touchpoint does not let in.
    func proxyRefusal(_ why: String) -> Response {
        message(nil, status: .forbidden, title: "You cannot use touchpoint yet", [why])
    }

    /// Where a sign-in comes from, for the hashing queue's share: the
    /// client's address; on the Unix socket behind the trust's reverse proxy,
    /// the address the proxy forwards (believed from `trusted_proxy_users`
    /// only), else the peer's user.
    func signInSource(_ request: Request, _ context: WebContext) async -> String {
        if let ip = context.channel.remoteAddress?.ipAddress { return ip }
        guard let peer = await unixPeer(context) else { return "-" }
        if let user = peer.name, config.trustedProxyUsers.contains(user),
           let forwarded = request.headers[HTTPField.Name("X-Forwarded-For")!]?.split(separator: ",").last {
            return forwarded.trimmingCharacters(in: .whitespaces)
        }
        return "uid \(peer.uid)"
    }

    /// A POST is refused (403) unless it carries the viewer's CSRF token and
    /// comes from this site (`Origin`, `Sec-Fetch-Site`, when the browser sends them).
    func isForged(_ request: Request, token: String?, viewer: Viewer?) -> Bool {
        if crossSite(request) { return true }
        guard let viewer else { return false }
        guard let token, token.utf8.count == viewer.csrf.utf8.count else { return true }
        // Constant time: the comparison says nothing about how much matched.
        return zip(token.utf8, viewer.csrf.utf8).reduce(UInt8(0)) { $0 | ($1.0 ^ $1.1) } != 0
    }

    /// A request another site made the browser send. `Sec-Fetch-Site` says
    /// so where the browser sends it; else `Origin`, unless it is `null`
    /// (what a browser sends from a page with `Referrer-Policy:
    /// no-referrer`, ours): then the form's token alone decides.
    func crossSite(_ request: Request) -> Bool {
        if let site = request.headers[HTTPField.Name("Sec-Fetch-Site")!] { return site != "same-origin" && site != "none" }
        guard let origin = request.headers[.origin], origin != "null" else { return false }
        guard let host = request.head.authority, let url = URL(string: origin), let originHost = url.host else { return true }
        let port = url.port.map { ":\($0)" } ?? ""
        return "\(originHost)\(port)" != host && "[\(originHost)]\(port)" != host
    }

    func forbidden(_ viewer: Viewer?) -> Response {
        message(viewer, status: .forbidden, title: "That form could not be accepted", [
            "The form was out of date or did not come from this site, so nothing was changed.",
        ], link: ("/calls", "Go to today’s calls"))
    }

    /// Secure cookies over TLS and behind a proxy (which serves HTTPS).
    var secureCookies: Bool { config.usesTLS || config.auth == .proxy }

    func sessionCookie(_ token: String, maxAge: Int? = nil) -> Cookie {
        Cookie(name: Self.cookieName, value: token, maxAge: maxAge ?? Int(policy.max.components.seconds), path: "/",
               secure: secureCookies, httpOnly: true, sameSite: .strict)
    }

    // MARK: Pages

    func loginPage(_ request: Request, _ context: WebContext) async throws -> Response {
        if config.auth == .proxy {
            return message(nil, status: .unauthorized, title: "Sign in through the trust’s sign-in page", [
                "touchpoint uses the trust’s single sign-on. Open touchpoint from the trust’s link, not this address.",
            ])
        }
        if try await viewer(request, context) != nil { return Self.redirect("/calls") }
        var v = chrome(nil, title: "Sign in")
        if request.uri.queryParameters.get("out") != nil { v["signedOut"] = true }
        if request.uri.queryParameters.get("ended") != nil { v["ended"] = true }
        return Self.html(Templates.render("login", v))
    }

    func login(_ request: Request, _ context: WebContext) async throws -> Response {
        guard config.auth == .accounts else { return notFound(nil) }
        if crossSite(request) { return forbidden(nil) }
        var request = request
        let body = try await request.collectBody(upTo: context.maxUploadSize)
        let form = (try? URLEncodedFormDecoder().decode(LoginForm.self, from: String(buffer: body))) ?? LoginForm()
        let name = (form.username ?? "").trimmingCharacters(in: .whitespaces)
        let password = form.password ?? ""
        var errors: [FieldError] = []
        if name.isEmpty { errors.append(FieldError(field: "username", message: "Enter your username")) }
        if password.isEmpty { errors.append(FieldError(field: "password", message: "Enter your password")) }
        if errors.isEmpty {
            switch try await accounts.signIn(name, password: password, source: await signInSource(request, context), policy: policy) {
            case .signedIn(let token, let session):
                context.notes.user.withLock { $0 = session.account.name }
                logger.info("\(session.account.name) signed in")
                var response = Self.redirect("/calls")
                response.setCookie(sessionCookie(token))
                return response
            case .refused:
                context.notes.user.withLock { $0 = "(refused)" }
                errors = [FieldError(field: "username", message: "The username or password is not right. Check them and try again.")]
            case .busy(let seconds):
                context.notes.user.withLock { $0 = "(busy)" }
                let e = FieldError(field: "username", message: "Too many sign-ins are being checked from this computer just now. Wait \(seconds) second\(seconds == 1 ? "" : "s") and try again.")
                var v = chrome(nil, title: "Sign in", errors: [e])
                v["username"] = name
                v["usernameError"] = e.message
                var response = Self.html(Templates.render("login", v), status: .tooManyRequests)
                response.headers[.retryAfter] = "\(seconds)"
                return response
            case .locked:
                context.notes.user.withLock { $0 = "(locked)" }
                let minutes = Int(policy.lockout.components.seconds / 60)
                errors = [FieldError(field: "username", message: "Too many failed sign-ins: this account is locked for \(minutes) minutes. Wait, or ask your touchpoint administrator.")]
            }
        }
        var v = chrome(nil, title: "Sign in", errors: errors)
        v["username"] = name
        for e in errors { v[e.field + "Error"] = e.message }
        return Self.html(Templates.render("login", v), status: errors.isEmpty ? .ok : .unauthorized)
    }

    func logout(_ request: Request, _ context: WebContext) async throws -> Response {
        var request = request
        let body = try await request.collectBody(upTo: context.maxUploadSize)
        let form = (try? URLEncodedFormDecoder().decode(CSRFForm.self, from: String(buffer: body))) ?? CSRFForm()
        if isForged(request, token: form.csrf, viewer: context.viewer) { return forbidden(context.viewer) }
        guard let viewer = context.viewer else { return Self.redirect("/login") }
        if let session = viewer.session { try await accounts.end(session) }
        _ = flashes.withLock { $0.removeValue(forKey: viewer.flashKey) }
        logger.info("\(viewer.name) signed out")
        if config.auth == .proxy { return message(nil, status: .ok, title: "Signed out of touchpoint", ["Close the browser window to sign out of the trust’s sign-in too."]) }
        var response = Self.redirect("/login?out=1")
        response.setCookie(sessionCookie("", maxAge: 0))
        return response
    }
}
