/// Where a value is in a message, as an integration engineer writes it:
/// `SEG-F[.C[.S]]`, the first repetition unless `[n]` follows the field
/// (`PID-3[2].1`), the first component unless one is named (`PID-5` is
/// `PID-5.1`). Within a message the first segment of the name counts.
public struct HL7FieldPath: Sendable, Hashable, CustomStringConvertible {
    public var segment: String
    public var field: Int
    /// 1-based.
    public var repetition: Int
    public var component: Int?
    public var subcomponent: Int?

    public init(segment: String, field: Int, repetition: Int = 1, component: Int? = nil, subcomponent: Int? = nil) {
        self.segment = segment
        self.field = field
        self.repetition = repetition
        self.component = component
        self.subcomponent = subcomponent
    }

    public static func msh(_ field: Int, _ component: Int? = nil) -> HL7FieldPath {
        HL7FieldPath(segment: "MSH", field: field, component: component)
    }

    /// The same field and repetition, all of it.
    var wholeRepetition: HL7FieldPath { HL7FieldPath(segment: segment, field: field, repetition: repetition) }

    public struct ParseFailure: Error, Equatable, Sendable {
        public var explanation: String
    }

    /// Reads `SEG-F[n].C.S`; the failure says what was expected.
    public init(parsing text: String) throws(ParseFailure) {
        let expected = "expected a field path such as PID-3, SCH-11.4 or PID-3[2].1"
        let parts = text.split(separator: "-", maxSplits: 1, omittingEmptySubsequences: false)
        guard parts.count == 2, parts[0].count == 3,
              parts[0].allSatisfy({ ($0.isUppercase && $0.isASCII) || ($0.isNumber && $0.isASCII) }),
              parts[0].first?.isLetter == true
        else { throw ParseFailure(explanation: "\(expected): the segment is three capital letters or digits, then -") }
        segment = String(parts[0])
        var rest = Substring(parts[1])
        func number(_ what: String) throws(ParseFailure) -> Int {
            let digits = rest.prefix { $0.isASCII && $0.isNumber }
            guard let n = Int(digits), n >= 1, n <= 999 else { throw ParseFailure(explanation: "\(expected): \(what) is a number from 1") }
            rest = rest.dropFirst(digits.count)
            return n
        }
        field = try number("the field")
        repetition = 1
        if rest.first == "[" {
            rest = rest.dropFirst()
            repetition = try number("the repetition in [n]")
            guard rest.first == "]" else { throw ParseFailure(explanation: "\(expected): [n] closes with ]") }
            rest = rest.dropFirst()
        }
        if rest.first == "." {
            rest = rest.dropFirst()
            component = try number("the component")
            if rest.first == "." {
                rest = rest.dropFirst()
                subcomponent = try number("the subcomponent")
            }
        }
        guard rest.isEmpty else { throw ParseFailure(explanation: "\(expected): \"\(rest.prefix(20))\" follows the path") }
    }

    public var description: String {
        var s = "\(segment)-\(field)"
        if repetition != 1 { s += "[\(repetition)]" }
        if let component { s += ".\(component)" }
        if let subcomponent { s += ".\(subcomponent)" }
        return s
    }

    /// The location as ERR names it: `SCH^1^11` (segment, its sequence, field), then component and subcomponent when set.
    public var errLocation: String {
        var s = "\(segment)^1^\(field)"
        if repetition != 1 || component != nil { s += "^\(repetition)" }
        if let component { s += "^\(component)" }
        if let subcomponent { s += "^\(subcomponent)" }
        return s
    }
}
