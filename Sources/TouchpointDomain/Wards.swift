/// The ward names the hospital uses (`calls.wards`), and what a booking's
/// ward is called once read.
///
/// Why: the call list is a ward's, and a ward-limited account sees only its
/// wards. A booking sent as "WARD 7" or " Ward  7" while the ward's nurses
/// look at "Ward 7" would put its call on a list nobody opens (hazard H-42).
/// So a ward is compared without case and without surrounding or repeated
/// spaces everywhere, a booking's ward is kept under the configured spelling
/// it matches, and one that matches none goes on the **unassigned** list,
/// which everyone sees, instead of nowhere. An empty list turns the check
/// off (every ward is assigned) but not the comparison. Pure.
public struct WardNames: Sendable, Equatable {
    /// As configured, tidied.
    public let configured: [String]
    private let byKey: [String: String]

    public init(_ configured: [String]) {
        let tidy = configured.map(Self.tidy).filter { !$0.isEmpty }
        self.configured = tidy
        var byKey: [String: String] = [:]
        for w in tidy where byKey[Self.key(w)] == nil { byKey[Self.key(w)] = w }
        self.byKey = byKey
    }

    /// Whether bookings are checked against the list (it names a ward).
    public var checked: Bool { !configured.isEmpty }

    /// The ward without surrounding spaces and with each run of spaces one space.
    public static func tidy(_ ward: String) -> String {
        ward.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
    }

    /// What two spellings of one ward share: tidied and without case.
    public static func key(_ ward: String) -> String {
        tidy(ward).lowercased()
    }

    /// Whether two spellings name one ward.
    public static func same(_ a: String, _ b: String) -> Bool {
        key(a) == key(b)
    }

    /// The ward as touchpoint keeps it: the configured spelling it matches,
    /// else tidied as written.
    public func named(_ ward: String?) -> String? {
        guard let ward else { return nil }
        return byKey[Self.key(ward)] ?? Self.tidy(ward)
    }

    /// Whether a call of this ward belongs to no ward the hospital named
    /// (only while the check is on; a call with no ward at all is one).
    public func isUnassigned(_ ward: String?) -> Bool {
        guard checked else { return false }
        guard let ward else { return true }
        return byKey[Self.key(ward)] == nil
    }

    /// Whether `ward` is one of `wards`, compared as wards are.
    public static func contains(_ wards: [String], _ ward: String) -> Bool {
        let k = key(ward)
        return wards.contains { key($0) == k }
    }
}
