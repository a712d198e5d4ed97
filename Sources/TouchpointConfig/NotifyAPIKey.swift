import Foundation

/// A GOV.UK Notify API key: `{key name}-{service id}-{secret}`, the last two
/// 36-character UUIDs. The secret signs each request's JWT and is never
/// written anywhere: not in a log, not in an error, not in `description`.
public struct NotifyAPIKey: Equatable, Sendable, CustomStringConvertible, CustomDebugStringConvertible, CustomReflectable {
    public let name: String
    public let serviceID: String
    public let secret: String

    /// Nil when `text` is not a Notify key (the reason never quotes it).
    public init?(_ text: String) {
        let key = text.trimmingCharacters(in: .whitespacesAndNewlines)
        guard key.utf8.count > 74, !key.contains(where: { $0.isWhitespace }) else { return nil }
        let secret = String(key.suffix(36))
        let rest = key.dropLast(37)
        guard key.dropLast(36).hasSuffix("-") else { return nil }
        let service = String(rest.suffix(36))
        guard rest.dropLast(36).hasSuffix("-"), Self.isUUID(service), Self.isUUID(secret) else { return nil }
        name = String(rest.dropLast(37))
        guard !name.isEmpty else { return nil }
        serviceID = service
        self.secret = secret
    }

    /// 8-4-4-4-12 hexadecimal digits.
    public static func isUUID(_ s: String) -> Bool {
        let parts = s.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.map(\.count) == [8, 4, 4, 4, 12] else { return false }
        return parts.allSatisfy { $0.allSatisfy(\.isHexDigit) }
    }

    public var description: String { "Notify key \"\(name)\" for service \(serviceID)" }
    public var debugDescription: String { description }
    public var customMirror: Mirror { Mirror(self, children: ["name": name, "serviceID": serviceID]) }
}
