import AsyncHTTPClient
import Crypto
import Foundation
import NIOCore
import NIOHTTP1
import NIOSSL
import TouchpointConfig
import TouchpointDomain
import TouchpointLinux

/// GOV.UK Notify's API, version 2 (`dispatch.md`, "The `notify` transport"):
/// a notice sent through a pass-through template, a notice looked up by its
/// `reference` when an earlier attempt may have been taken without an answer,
/// and a notification's status for its receipt. One client per configuration
/// (its key, proxy, certificates), shared by dispatch and the receipt poller,
/// and one rate limit for both.
public final class NotifyClient: Sendable {
    public let config: TouchpointConfig.Notify
    let http: HTTPClient
    let limiter: NotifyRateLimit

    public init(_ config: TouchpointConfig.Notify) {
        self.config = config
        var c = HTTPClient.Configuration()
        var tls = TLSConfiguration.makeClientConfiguration()
        if !config.caFile.isEmpty { tls.additionalTrustRoots = [.file(config.caFile)] }
        c.tlsConfiguration = tls
        if !config.proxy.isEmpty, let u = URL(string: config.proxy), let host = u.host, let port = u.port {
            c.proxy = .server(host: host, port: port)
        }
        c.timeout = .init(connect: .seconds(10), read: .seconds(Int64(config.timeout.components.seconds)))
        c.redirectConfiguration = .disallow
        c.decompression = .disabled
        http = HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: c)
        limiter = NotifyRateLimit(capacity: config.rateBurst, perMinute: config.rateLimit)
    }

    /// Closes the connections (before the client is dropped).
    public func shutdown() async {
        try? await http.shutdown()
    }

    // MARK: Sending

    /// Sends `message`; when `uncertain`, first asks whether Notify already has
    /// it (by `reference`) and adopts it if so, so a notice goes once.
    public func send(_ message: NoticeMessage, uncertain: Bool) async -> DeliveryResult {
        guard let key = config.apiKey else { return .held("no Notify API key is loaded (\(config.apiKeySource))") }
        if uncertain {
            switch await lookUp(reference: message.messageID, key: key) {
            case .found(let id): return .accepted(notificationID: id)
            case .notFound: break
            case .answer(let result): return result
            }
        }
        let sms = message.channel == Channel.sms.rawValue
        var body: [String: Any] = ["template_id": sms ? config.smsTemplateID : config.emailTemplateID, "reference": message.messageID]
        if sms {
            body["phone_number"] = message.to
            body["personalisation"] = ["body": message.body]
            if !config.smsSenderID.isEmpty { body["sms_sender_id"] = config.smsSenderID }
        } else {
            body["email_address"] = message.to
            body["personalisation"] = ["subject": message.subject ?? "", "body": message.body]
            if !config.emailReplyToID.isEmpty { body["email_reply_to_id"] = config.emailReplyToID }
        }
        let json = (try? JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])) ?? Data()
        let path = sms ? "/v2/notifications/sms" : "/v2/notifications/email"
        return await post(path, body: json, key: key)
    }

    /// The pauses after Notify's 429 `RateLimitError`, one after another,
    /// before the notice itself is put back with its own backoff: its
    /// bucket refills 50 a second, so a second is plenty unless something
    /// else spends the key's tokens.
    static let rateLimitPauses: [Duration] = [.seconds(1), .seconds(2), .seconds(4), .seconds(8), .seconds(16), .seconds(32)]

    /// A send, within touchpoint's token bucket. A 429 for the rate is
    /// Notify's refusal before it read the body (nothing was made), so the
    /// same send goes again after a pause that holds every send (the lane
    /// waits: quick retries would each spend a token of Notify's and keep
    /// its bucket empty); the daily limit holds dispatch until it is tried
    /// again later.
    func post(_ path: String, body: Data, key: NotifyAPIKey) async -> DeliveryResult {
        for pause in Self.rateLimitPauses + [nil] {
            do {
                try await limiter.takeToken()
            } catch {
                return .retry("stopping")
            }
            switch await request(.POST, path, body: body, key: key) {
            case .failure(let why):
                return .retry(why.words)
            case .success(let (status, data)):
                if status == 201, let id = (Self.object(data)?["id"] as? String), !id.isEmpty {
                    return .accepted(notificationID: id)
                }
                guard status == 429, Self.firstError(data).0 == "RateLimitError", let pause else { return Self.refusal(status, data) }
                await limiter.refused(pause: pause)
            }
        }
        return .retry("Notify refused sends for its rate limit after every pause")
    }

    enum LookUp {
        case found(String)
        case notFound
        case answer(DeliveryResult)
    }

    /// `GET /v2/notifications?reference=`: the notification sent under this reference, if any.
    func lookUp(reference: String, key: NotifyAPIKey) async -> LookUp {
        let q = reference.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_."))) ?? reference
        switch await request(.GET, "/v2/notifications?reference=\(q)", body: nil, key: key) {
        case .failure(let why):
            return .answer(.retry("could not ask Notify whether it already has this notice: \(why.words)"))
        case .success(let (status, data)):
            guard status == 200 else {
                if case .held(let why) = Self.refusal(status, data) { return .answer(.held(why)) }
                return .answer(.retry("could not ask Notify whether it already has this notice (\(status))"))
            }
            let found = (Self.object(data)?["notifications"] as? [[String: Any]] ?? [])
                .first { ($0["reference"] as? String) == reference }
            return (found?["id"] as? String).map(LookUp.found) ?? .notFound
        }
    }

    /// How an answer other than 201 moves the notice on.
    static func refusal(_ status: Int, _ data: Data) -> DeliveryResult {
        let (error, message) = Self.firstError(data)
        let words = "Notify answered \(status)\(error.map { " \($0)" } ?? "")\(message.map { ": \(Self.scrub($0))" } ?? "")"
        switch (status, error ?? "") {
        case (400, "InvalidPhoneError"):
            // A UK landline without Notify's permission, or a number it cannot send to: never this number.
            return .undeliverable(words)
        case (400, "ValidationError") where message.map(Self.namesTheRecipient) ?? false:
            return .undeliverable(words)
        case (400, _): return .failed(words)
        case (401, _), (403, _):
            return .held(words + "; check the API key (transport.notify.api_key_file, or the credential notify-api-key), then reload")
        case (429, "TooManyRequestsError"):
            return .held(words + " (the service's daily limit: sends wait until it is tried again)")
        default: return .retry(words)
        }
    }

    /// A schema error about the number or the address, not about what touchpoint sent.
    static func namesTheRecipient(_ message: String) -> Bool {
        message.hasPrefix("phone_number ") || message.hasPrefix("email_address ")
    }

    // MARK: Receipts

    public enum Receipt: Sendable, Equatable {
        case status(DeliveryStatus, String)
        /// Notify did not answer, or not in a way that says anything.
        case unavailable(String)
        /// The key was refused.
        case refused(String)
        /// A status word touchpoint does not know (Notify added one): logged
        /// once per notice; it is asked again.
        case unrecognised(String)
    }

    /// `GET /v2/notifications/ID`: the notification's status now.
    public func receipt(for notificationID: String) async -> Receipt {
        guard let key = config.apiKey else { return .refused("no Notify API key is loaded") }
        let id = notificationID.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-"))) ?? notificationID
        switch await request(.GET, "/v2/notifications/\(id)", body: nil, key: key) {
        case .failure(let why):
            return .unavailable(why.words)
        case .success(let (status, data)):
            if status == 401 || status == 403 { return .refused("Notify answered \(status)") }
            if status == 404 {
                // Past the service's retention, or one of Notify's test numbers, which it does not keep: no receipt will come.
                return .status(.unknown, "Notify has no notification \(notificationID) (past its retention, or never kept)")
            }
            guard status == 200, let word = Self.object(data)?["status"] as? String else {
                return .unavailable("Notify answered \(status) for notification \(notificationID)")
            }
            guard let s = DeliveryStatus(notify: word) else { return .unrecognised(String(word.prefix(40))) }
            return .status(s, word)
        }
    }

    // MARK: HTTP

    /// One request with a fresh token (a send has taken its place in the
    /// bucket first: `post`). A failure is the transport's words (never the
    /// key, never the body).
    func request(_ method: HTTPMethod, _ path: String, body: Data?, key: NotifyAPIKey) async -> Result<(Int, Data), NoAnswer> {
        var req = HTTPClientRequest(url: config.baseURL.trimmingSuffix("/") + path)
        req.method = method
        req.headers.add(name: "Authorization", value: "Bearer " + NotifyToken.make(key: key, now: Date()))
        req.headers.add(name: "User-Agent", value: "touchpoint")
        if let body {
            req.headers.add(name: "Content-Type", value: "application/json")
            req.body = .bytes(ByteBuffer(bytes: body))
        }
        do {
            let response = try await http.execute(req, timeout: .seconds(Int64(config.timeout.components.seconds)))
            let bytes = try await response.body.collect(upTo: 1 << 20)
            return .success((Int(response.status.code), Data(bytes.readableBytesView)))
        } catch {
            return .failure(NoAnswer(words: "no answer from Notify (\(String(describing: error).prefix(200)))"))
        }
    }

    /// No answer came (the transport's words; never the key, never the body).
    struct NoAnswer: Error {
        var words: String
    }

    static func object(_ data: Data) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: data)) as? [String: Any]
    }

    /// `{"status_code":400,"errors":[{"error":"BadRequestError","message":"..."}]}`.
    static func firstError(_ data: Data) -> (String?, String?) {
        guard let first = (object(data)?["errors"] as? [[String: Any]])?.first else { return (nil, nil) }
        return (first["error"] as? String, first["message"] as? String)
    }

    /// Notify's words without anything that could be a number or an address
    /// (they go to the journal): runs of six or more digits, and anything
    /// with an @.
    static func scrub(_ s: String) -> String {
        var out = ""
        var digits = ""
        for word in s.prefix(300).split(separator: " ", omittingEmptySubsequences: false) {
            let w = word.contains("@") ? "(address)" : String(word)
            out += (out.isEmpty ? "" : " ") + w
        }
        var result = ""
        for c in out {
            if c.isNumber || (c == "+" && digits.isEmpty) {
                digits.append(c)
            } else {
                result += digits.count >= 6 ? "(number)" : digits
                digits = ""
                result.append(c)
            }
        }
        return result + (digits.count >= 6 ? "(number)" : digits)
    }
}

extension String {
    func trimmingSuffix(_ s: String) -> String { hasSuffix(s) ? String(dropLast(s.count)) : self }
}

/// The JWT each Notify request carries: HS256 over `{"iss": service id,
/// "iat": seconds}`, signed with the key's secret.
public enum NotifyToken {
    public static func make(key: NotifyAPIKey, now: Date) -> String {
        let header = base64URL(Data(#"{"alg":"HS256","typ":"JWT"}"#.utf8))
        let claims = base64URL(Data(#"{"iss":"\#(key.serviceID)","iat":\#(Int(now.timeIntervalSince1970))}"#.utf8))
        let signed = header + "." + claims
        let mac = HMAC<SHA256>.authenticationCode(for: Data(signed.utf8), using: SymmetricKey(data: Data(key.secret.utf8)))
        return signed + "." + base64URL(Data(mac))
    }

    public static func base64URL(_ d: Data) -> String {
        d.base64EncodedString().replacingOccurrences(of: "+", with: "-").replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
    }
}
