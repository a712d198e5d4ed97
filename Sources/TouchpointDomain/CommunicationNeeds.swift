import Foundation

/// Communication needs (the Accessible Information Standard, DCB1605): what
/// a patient needs to be reached in a way they can use. The feed sends codes
/// (`interpreter:pl`, `no_phone`); the hospital's config (`[needs.CODE]`)
/// gives each the words staff see and what it does to a notice.
public struct CommunicationNeed: Equatable, Sendable {
    /// What a need does to a notice due for the patient.
    public enum Notices: String, Sendable, CaseIterable {
        /// Sent as to anyone (the default: the need is for the ward's call).
        case send
        /// Sent with the template's variant for the need when there is one
        /// (`wait_notice.sms.easy_read.mustache`), else the usual template.
        case variant
        /// Not sent: suppressed, saying why, and a call on the needs worklist
        /// instead (a patient with no phone who has a carer to ring).
        case call
    }

    /// The need's name, without a qualifier: `interpreter`.
    public var code: String
    public var label: String
    public var notices: Notices

    public init(code: String, label: String, notices: Notices = .send) {
        self.code = code
        self.label = label
        self.notices = notices
    }
}

/// The hospital's communication needs, and what a patient's codes mean.
public struct CommunicationNeeds: Equatable, Sendable {
    /// The worklist a need's calls go on (`notices = "call"`).
    public static let worklist = "needs"

    public var needs: [String: CommunicationNeed]

    public init(_ needs: [CommunicationNeed] = []) {
        self.needs = Dictionary(needs.map { ($0.code, $0) }, uniquingKeysWith: { _, last in last })
    }

    /// `easy_read`, `interpreter:pl`: lower case letters, digits and `_`,
    /// an optional `:` and qualifier, at most 40 characters.
    public static func isCode(_ s: String) -> Bool {
        guard (1...40).contains(s.count) else { return false }
        let parts = s.split(separator: ":", omittingEmptySubsequences: false)
        guard parts.count <= 2 else { return false }
        return parts.allSatisfy { part in
            !part.isEmpty && part.unicodeScalars.allSatisfy { ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_" || $0 == "-" }
        }
    }

    static func base(_ code: String) -> String { String(code.split(separator: ":").first ?? Substring(code)) }

    /// The need a code names, if the hospital configured it.
    public func need(_ code: String) -> CommunicationNeed? { needs[Self.base(code)] }

    /// The words staff see for a patient's codes: "Interpreter needed (pl)";
    /// a code the config does not name is shown as it came, never dropped.
    public func words(_ codes: [String]) -> [String] {
        codes.map { code in
            let qualifier = code.split(separator: ":").dropFirst().first.map { " (\($0))" } ?? ""
            guard let n = need(code) else { return "Need \"\(code)\" (not in the config's [needs])" }
            return n.label + qualifier
        }
    }

    /// The first of the patient's needs that puts a call on the needs
    /// worklist in place of a notice.
    public func callInstead(_ codes: [String]) -> CommunicationNeed? {
        codes.lazy.compactMap { need($0) }.first { $0.notices == .call }
    }

    /// The template variants to try for the patient's needs, in their order.
    public func variants(_ codes: [String]) -> [String] {
        codes.compactMap { code in need(code)?.notices == .variant ? Self.base(code) : nil }
    }
}
