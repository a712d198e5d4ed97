import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import Synchronization

/// A stand-in for GOV.UK Notify's API (version 2), built from how the real
/// service's code behaves (`../shared/notify/NOTIFY-CONTRACT.md`, read from
/// alphagov/notifications-api), not Notify itself: it cannot run here (no
/// network, and a test must not send real messages). Where the real server
/// differs from its documentation it follows the server: a token bucket
/// (1,000, 50 a second, checked before the body is read, a refused request
/// spending a token), 401/403 `AuthError`, a UK landline refused as 400
/// `InvalidPhoneError`, every schema error at once, unknown properties
/// refused, `sent` final for an international number, the smoke-test numbers
/// answered 201 and never kept, and nothing found past the retention.
/// It listens on loopback and answers:
///
/// - `POST /v2/notifications/sms` and `/email`: the JWT checked (HS256 with
///   the key's secret, `iss` the service id, `iat` within 30 s of its clock),
///   the body checked (recipient, a known `template_id`, `personalisation`),
///   201 with `{"id","reference","content","uri","template"}`;
/// - errors as `{"status_code":N,"errors":[{"error":"...","message":"..."}]}`
///   (400 `BadRequestError`/`ValidationError`, 403 `AuthError`, 429
///   `RateLimitError`, 500 `Exception`);
/// - `GET /v2/notifications/ID`, and `GET /v2/notifications?reference=` (the list);
/// - each notification moves `created` -> `sending` -> its final status
///   (`delivered` unless the test set another for its recipient) at the
///   look the test chose (the first by default).
///
/// Faults on demand: a slow answer, a connection dropped after the request
/// body arrived (the notification kept, as when Notify took it and the answer
/// was lost), and any status with Notify's error body.
public final class NotifyDouble: Sendable {
    public struct Notification: Sendable {
        public var id: String
        public var reference: String?
        public var type: String
        public var recipient: String
        public var templateID: String
        public var personalisation: [String: String]
        public var status: String
        public var looks: Int
        /// When it was taken (the 201 goes at once unless a fault delays it).
        public var createdAt: Date
    }

    public enum Fault: Sendable {
        /// Answer this status with Notify's error body.
        case status(Int, error: String, message: String)
        /// Take the notification, answer after this many seconds.
        case slow(Double)
        /// Take the notification, then close the connection without answering.
        case dropAfterBody
    }

    struct State {
        var notifications: [Notification] = []
        var posts: [String: Int] = [:]
        var faults: [Fault] = []
        var randomFaults: (slow: Double, drop: Double, seconds: Double)?
        var keys: Set<String> = []
        var finalStatus: [String: String] = [:]
        var requests: [(method: String, path: String, at: Date)] = []
        var looksToFinal = 1
        /// Notify's token bucket when a test asks for it (`enforceTokenBucket`).
        var bucket: (tokens: Double, max: Double, perSecond: Double, at: Date)?
        /// How long notifications are kept (the service's data retention).
        var retention: TimeInterval = 7 * 86_400
        /// How many POSTs the bucket refused.
        var refusedForRate = 0
    }

    public let serviceID = UUID().uuidString.lowercased()
    public let secret = UUID().uuidString.lowercased()
    public let smsTemplateID = UUID().uuidString.lowercased()
    public let emailTemplateID = UUID().uuidString.lowercased()
    /// The API key a test writes for the daemon (a made-up one, unlike any real key).
    public var apiKey: String { "touchpoint_test_double-\(serviceID)-\(secret)" }
    let state = Mutex(State())
    let channel: Channel
    public var port: Int { channel.localAddress?.port ?? 0 }
    let tls: Bool
    public var baseURL: String { "\(tls ? "https" : "http")://127.0.0.1:\(port)" }

    /// `tls`: a certificate and its key (PEM files) to serve HTTPS with.
    public init(tls certificate: (certificate: String, key: String)? = nil) throws {
        let box = Box()
        let context = try certificate.map { c in
            try NIOSSLContext(configuration: .makeServerConfiguration(
                certificateChain: try NIOSSLCertificate.fromPEMFile(c.certificate).map { .certificate($0) },
                privateKey: .privateKey(try NIOSSLPrivateKey(file: c.key, format: .pem))))
        }
        tls = context != nil
        channel = try ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(ChannelOptions.socketOption(.so_reuseaddr), value: 1)
            .childChannelInitializer { ch in
                ch.eventLoop.makeCompletedFuture {
                    if let context { try ch.pipeline.syncOperations.addHandler(NIOSSLServerHandler(context: context)) }
                }.flatMap {
                    ch.pipeline.configureHTTPServerPipeline().flatMap { ch.pipeline.addHandler(Handler(double: box)) }
                }
            }
            .bind(host: "127.0.0.1", port: 0).wait()
        state.withLock { $0.keys = [secret] }
        box.double.withLock { $0 = self }
    }

    deinit { try? channel.close().wait() }

    // MARK: What a test sets

    /// The next requests meet these faults, one each, in order.
    public func inject(_ faults: Fault...) { state.withLock { $0.faults += faults } }
    /// Every POST meets a slow answer or a dropped connection with these chances.
    public func faultAtRandom(slow: Double, drop: Double, seconds: Double) {
        state.withLock { $0.randomFaults = (slow, drop, seconds) }
    }
    public func stopFaults() { state.withLock { $0.randomFaults = nil; $0.faults = [] } }
    /// Refuses the key (as Notify does when a key is revoked), or takes it again.
    public func revokeKey(_ revoked: Bool) { state.withLock { $0.keys = revoked ? [] : [secret] } }
    /// Notify's rate limit as its server has it (api `check_service_over_api_rate_limit`):
    /// a bucket of `capacity` tokens, full at first, refilled `perSecond`, never
    /// below 0; every POST takes one before its body is read, and is refused
    /// (429) when fewer than 1 is left after its own, so 999 go in one burst.
    public func enforceTokenBucket(capacity: Double = 1000, perSecond: Double = 50) {
        state.withLock { $0.bucket = (capacity, capacity, perSecond, Date()) }
    }
    /// How long notifications are kept (7 days unless the service changed it).
    public func keep(for seconds: TimeInterval) { state.withLock { $0.retention = seconds } }
    /// Time passes for what is kept: every notification made this much earlier.
    public func age(by seconds: TimeInterval) {
        state.withLock { s in for i in s.notifications.indices { s.notifications[i].createdAt.addTimeInterval(-seconds) } }
    }
    /// How many requests the rate limit refused.
    public var refusedForRate: Int { state.withLock { $0.refusedForRate } }
    /// How many looks (GETs) a notification takes to reach its final status;
    /// before, it is `sending`.
    public func looksToFinal(_ n: Int) { state.withLock { $0.looksToFinal = n } }
    /// The status a notification to this recipient ends in (`permanent-failure`, ...).
    public func finalStatus(_ status: String, for recipient: String) { state.withLock { $0.finalStatus[recipient] = status } }

    // MARK: What a test reads

    public var notifications: [Notification] { state.withLock { $0.notifications } }
    /// How many times each reference was POSTed (taken or not).
    public var postsByReference: [String: Int] { state.withLock { $0.posts } }
    /// How many notifications were kept for each reference.
    public var keptByReference: [String: Int] {
        state.withLock { s in s.notifications.reduce(into: [:]) { $0[$1.reference ?? "", default: 0] += 1 } }
    }
    public var requests: [(method: String, path: String, at: Date)] { state.withLock { $0.requests } }

    // MARK: Answering

    enum Action {
        case answer(Int, String, delay: Double)
        case drop
    }

    func handle(method: HTTPMethod, uri: String, headers: HTTPHeaders, body: [UInt8]) -> Action {
        let path = uri.split(separator: "?", maxSplits: 1).first.map(String.init) ?? uri
        state.withLock { $0.requests.append((method.rawValue, uri, Date())) }
        if let refused = checkToken(headers["Authorization"].first) {
            let code = refused.hasPrefix("Unauthorized") ? 401 : 403
            return .answer(code, Self.error(code, "AuthError", refused), delay: 0)
        }
        if method == .POST, !takeToken() {
            return .answer(429, Self.error(429, "RateLimitError", "Exceeded rate limit for key type LIVE of 3000 requests per 60 seconds"), delay: 0)
        }
        switch (method, path) {
        case (.POST, "/v2/notifications/sms"), (.POST, "/v2/notifications/email"):
            return post(sms: path.hasSuffix("sms"), body: body)
        case (.GET, "/v2/notifications"):
            let ref = URLComponents(string: uri)?.queryItems?.first { $0.name == "reference" }?.value
            let found = state.withLock { s in s.notifications.filter { (ref == nil || $0.reference == ref) && Date().timeIntervalSince($0.createdAt) <= s.retention } }
            return .answer(200, Self.json(["notifications": found.map(Self.view), "links": ["current": "\(baseURL)/v2/notifications"]]), delay: 0)
        case (.GET, _) where path.hasPrefix("/v2/notifications/"):
            let id = String(path.dropFirst("/v2/notifications/".count))
            let found: Notification? = state.withLock { s in
                guard let i = s.notifications.firstIndex(where: { $0.id == id }),
                      Date().timeIntervalSince(s.notifications[i].createdAt) <= s.retention else { return nil }
                s.notifications[i].looks += 1
                let looks = s.notifications[i].looks
                let international = s.notifications[i].type == "sms" && !Self.normalised(s.notifications[i].recipient).hasPrefix("+44")
                // Abroad, `sent` at once, and final where the country gives no receipts (as the test's numbers do).
                s.notifications[i].status = international ? "sent"
                    : looks < s.looksToFinal ? "sending" : (s.finalStatus[s.notifications[i].recipient] ?? "delivered")
                return s.notifications[i]
            }
            guard let found else { return .answer(404, Self.error(404, "NoResultFound", "No result found"), delay: 0) }
            return .answer(200, Self.json(Self.view(found)), delay: 0)
        default:
            return .answer(404, Self.error(404, "NoResultFound", "No result found"), delay: 0)
        }
    }

    /// The bucket's check for one POST: true when it may go on.
    func takeToken() -> Bool {
        state.withLock { s in
            guard var b = s.bucket else { return true }
            let now = Date()
            b.tokens = max(0, min(b.max, b.tokens + now.timeIntervalSince(b.at) * b.perSecond) - 1)
            b.at = now
            s.bucket = b
            if b.tokens < 1 { s.refusedForRate += 1 }
            return b.tokens >= 1
        }
    }

    func post(sms: Bool, body: [UInt8]) -> Action {
        guard let o = (try? JSONSerialization.jsonObject(with: Data(body))) as? [String: Any] else {
            return .answer(400, Self.error(400, "BadRequestError", "Invalid JSON supplied in POST data"), delay: 0)
        }
        let reference = o["reference"] as? String
        let fault: Fault? = state.withLock { s in
            if let r = reference { s.posts[r, default: 0] += 1 }
            if !s.faults.isEmpty { return s.faults.removeFirst() }
            if let r = s.randomFaults {
                let x = Double.random(in: 0..<1)
                if x < r.drop { return .dropAfterBody }
                if x < r.drop + r.slow { return .slow(r.seconds) }
            }
            return nil
        }
        if case .status(let code, let error, let message)? = fault { return .answer(code, Self.error(code, error, message), delay: 0) }
        let recipientKey = sms ? "phone_number" : "email_address"
        let problems = Self.schemaErrors(o, sms: sms)
        if !problems.isEmpty {
            let body = Self.json(["status_code": 400, "errors": problems.map { ["error": "ValidationError", "message": $0] }])
            return .answer(400, body, delay: 0)
        }
        let recipient = o[recipientKey] as? String ?? ""
        guard let template = o["template_id"] as? String, template == (sms ? smsTemplateID : emailTemplateID) else {
            return .answer(400, Self.error(400, "BadRequestError", "Template not found"), delay: 0)
        }
        guard let p = o["personalisation"] as? [String: String], p["body"] != nil, sms || p["subject"] != nil else {
            return .answer(400, Self.error(400, "BadRequestError", "Missing personalisation: body"), delay: 0)
        }
        let number = sms ? Self.normalised(recipient) : ""
        if sms, number.hasPrefix("+44"), !number.hasPrefix("+447") {
            // A UK landline, without the service's sms_to_uk_landlines permission (not a default).
            return .answer(400, Self.error(400, "InvalidPhoneError", "Not a UK mobile number"), delay: 0)
        }
        let n = Notification(id: UUID().uuidString.lowercased(), reference: reference, type: sms ? "sms" : "email", recipient: recipient,
                             templateID: template, personalisation: p, status: "created", looks: 0, createdAt: Date())
        // Notify's smoke-test recipients: a 201 with an id, and nothing kept.
        let smokeTest = ["+447700900000", "+447700900111", "+447700900222"].contains(number)
            || recipient.hasPrefix("simulate-delivered") && recipient.hasSuffix("@notifications.service.gov.uk")
        if !smokeTest { state.withLock { $0.notifications.append(n) } }
        var created: [String: Any] = [
            "id": n.id, "reference": reference as Any, "uri": "\(baseURL)/v2/notifications/\(n.id)",
            "template": ["id": template, "version": 1, "uri": "\(baseURL)/services/\(serviceID)/templates/\(template)"],
        ]
        created["content"] = sms ? ["body": p["body"]!, "from_number": "touchpoint"] as [String: Any]
            : ["body": p["body"]!, "subject": p["subject"]!, "from_email": "test@notifications.service.gov.uk"]
        switch fault {
        case .dropAfterBody?: return .drop
        case .slow(let s)?: return .answer(201, Self.json(created), delay: s)
        default: return .answer(201, Self.json(created), delay: 0)
        }
    }

    /// A number as Notify compares them: digits with a + and the country
    /// code (07700 900123 and 447700900123 are +447700900123).
    static func normalised(_ number: String) -> String {
        let digits = number.filter(\.isNumber)
        if number.trimmingCharacters(in: .whitespaces).hasPrefix("+") { return "+" + digits }
        if digits.hasPrefix("0") && !digits.hasPrefix("00") { return "+44" + digits.dropFirst() }
        if digits.hasPrefix("00") { return "+" + digits.dropFirst(2) }
        return "+" + digits
    }

    /// The schema's errors, all of them, in jsonschema's order (each
    /// property's in the schema's order, then `required`, then
    /// `additionalProperties`), with Python's quotes taken out as Notify does.
    static func schemaErrors(_ o: [String: Any], sms: Bool) -> [String] {
        let recipient = sms ? "phone_number" : "email_address"
        let properties = sms ? [recipient, "template_id", "reference", "personalisation", "scheduled_for", "sms_sender_id"]
            : [recipient, "template_id", "reference", "personalisation", "scheduled_for", "email_reply_to_id", "one_click_unsubscribe_url",
               "sanitise_content_for"]
        func python(_ v: Any) -> String { v is NSNull ? "None" : "\(v)" }
        var errors: [String] = []
        for key in properties {
            guard let v = o[key] else { continue }
            switch key {
            case recipient:
                if !(v is String) { errors.append("\(key) \(python(v)) is not of type string") }
                else if sms, (v as! String).contains(where: \.isLetter) { errors.append("phone_number Must not contain letters or symbols") }
                else if !sms, !(v as! String).contains("@") { errors.append("email_address Not a valid email address") }
            case "template_id", "sms_sender_id", "email_reply_to_id":
                if UUID(uuidString: v as? String ?? "") == nil { errors.append("\(key) is not a valid UUID") }
            case "reference":
                if !(v is String) { errors.append("reference \(python(v)) is not of type string") }
            case "personalisation":
                if !(v is [String: Any]) { errors.append("personalisation \(python(v)) is not of type object") }
            default:
                break
            }
        }
        for key in [recipient, "template_id"] where o[key] == nil { errors.append("\(key) is a required property") }
        let extra = o.keys.filter { !properties.contains($0) }.sorted()
        if !extra.isEmpty {
            errors.append("Additional properties are not allowed (\(extra.joined(separator: ", ")) \(extra.count == 1 ? "was" : "were") unexpected)")
        }
        return errors
    }

    /// Notify's check: a Bearer JWT signed HS256 with a known secret, `iss`
    /// the service id, `iat` within 30 s of now. The reason if refused.
    func checkToken(_ header: String?) -> String? {
        guard let header, !header.isEmpty else { return "Unauthorized: authentication token must be provided" }
        guard header.prefix(7).lowercased() == "bearer " else { return "Unauthorized: authentication bearer scheme must be used" }
        let parts = header.dropFirst(7).split(separator: ".", omittingEmptySubsequences: false).map(String.init)
        guard parts.count == 3, let claimsData = Self.base64URLDecode(parts[1]),
              let claims = (try? JSONSerialization.jsonObject(with: claimsData)) as? [String: Any] else {
            return "Invalid token: make sure your API token matches the example at https://docs.notifications.service.gov.uk/rest-api.html#authorisation-header"
        }
        guard let iss = claims["iss"] as? String else { return "Invalid token: iss field not provided" }
        guard UUID(uuidString: iss) != nil else { return "Invalid token: service id is not the right data type" }
        guard iss.lowercased() == serviceID else { return "Invalid token: service not found" }
        // A token without iat matches no key (PyJWT's decode, key by key).
        guard let iat = claims["iat"] as? Int else { return "Invalid token: API key not found" }
        guard abs(Double(iat) - Date().timeIntervalSince1970) <= 30 else {
            return "Error: Your system clock must be accurate to within 30 seconds"
        }
        let keys = state.withLock { $0.keys }
        let signed = Data((parts[0] + "." + parts[1]).utf8)
        let valid = keys.contains { secret in
            let mac = HMAC<SHA256>.authenticationCode(for: signed, using: SymmetricKey(data: Data(secret.utf8)))
            return Self.base64URL(Data(mac)) == parts[2]
        }
        return valid ? nil : "Invalid token: API key not found"
    }

    static func view(_ n: Notification) -> [String: Any] {
        [
            "id": n.id, "reference": n.reference as Any, "type": n.type, "status": n.status,
            n.type == "sms" ? "phone_number" : "email_address": n.recipient,
            "body": n.personalisation["body"] ?? "", "subject": n.personalisation["subject"] as Any,
            "template": ["id": n.templateID, "version": 1], "created_at": Date().description,
        ]
    }

    static func error(_ code: Int, _ error: String, _ message: String) -> String {
        json(["status_code": code, "errors": [["error": error, "message": message]]])
    }

    static func json(_ o: Any) -> String {
        (try? JSONSerialization.data(withJSONObject: o, options: [.sortedKeys])).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    }

    static func base64URL(_ d: Data) -> String {
        d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }

    static func base64URLDecode(_ s: String) -> Data? {
        var b = s.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        while b.count % 4 != 0 { b += "=" }
        return Data(base64Encoded: b)
    }

    /// The double, set once it is made (the handlers are made before).
    final class Box: Sendable {
        let double = Mutex<NotifyDouble?>(nil)
    }

    final class Handler: ChannelInboundHandler, @unchecked Sendable {
        // @unchecked: a handler lives on its channel's event loop only.
        typealias InboundIn = HTTPServerRequestPart
        typealias OutboundOut = HTTPServerResponsePart
        let box: Box
        var head: HTTPRequestHead?
        var body: [UInt8] = []

        init(double: Box) { box = double }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            switch unwrapInboundIn(data) {
            case .head(let h):
                head = h
                body = []
            case .body(var b):
                body += b.readBytes(length: b.readableBytes) ?? []
            case .end:
                guard let head, let double = box.double.withLock({ $0 }) else { return }
                let action = double.handle(method: head.method, uri: head.uri, headers: head.headers, body: body)
                switch action {
                case .drop:
                    context.close(promise: nil)
                case .answer(let status, let text, let delay):
                    let respond = { [context] in
                        var h = HTTPHeaders()
                        h.add(name: "Content-Type", value: "application/json")
                        h.add(name: "Content-Length", value: String(text.utf8.count))
                        context.write(self.wrapOutboundOut(.head(HTTPResponseHead(version: head.version, status: HTTPResponseStatus(statusCode: status), headers: h))), promise: nil)
                        context.write(self.wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: text)))), promise: nil)
                        context.writeAndFlush(self.wrapOutboundOut(.end(nil)), promise: nil)
                    }
                    if delay > 0 {
                        context.eventLoop.scheduleTask(in: .milliseconds(Int64(delay * 1000))) { respond() }
                    } else {
                        respond()
                    }
                }
            }
        }
    }
}
