/// One HL7 v2 message as the sender wrote it: its bytes, its own encoding
/// characters (MSH-1 and MSH-2), and its segments found by name.
///
/// Why bytes and not a `String`: MSA-2 of the acknowledgement must be the
/// message's MSH-10 byte for byte, the same message sent again is known by
/// its bytes, and a message may be ISO-8859-1 (MSH-18, or bytes that are
/// not UTF-8). Values are decoded (escapes, then the character set) only
/// when asked for.
///
/// Segments end at `\r`, `\n` or `\r\n` (feeds mix them, and clients turn one
/// into another); empty lines are skipped. Nothing depends on the order of
/// segments: the first of a name is the one a field path means.
public struct HL7Message: Sendable {
    public let bytes: [UInt8]
    public let encoding: HL7Encoding
    public let characterSet: HL7CharacterSet
    /// Each segment: where its bytes are (without the terminator).
    public let segments: [HL7Segment]

    public enum ParseFailure: Error, Equatable, Sendable {
        /// No `MSH` at the start (after any blank lines): not a message.
        case noMSH
        /// An MSH whose encoding characters cannot be read.
        case badEncodingCharacters(String)

        public var explanation: String {
            switch self {
            case .noMSH: return "no MSH segment at the start of the message"
            case .badEncodingCharacters(let why): return "MSH-1/MSH-2 (the encoding characters): \(why)"
            }
        }
    }

    public init(bytes: [UInt8]) throws(ParseFailure) {
        self.bytes = bytes
        let lines = Self.lines(bytes)
        guard let first = lines.first, first.count >= 4,
              bytes[first.lowerBound] == UInt8(ascii: "M"), bytes[first.lowerBound + 1] == UInt8(ascii: "S"),
              bytes[first.lowerBound + 2] == UInt8(ascii: "H")
        else { throw .noMSH }
        encoding = try HL7Encoding(msh: bytes[first])
        var segments: [HL7Segment] = []
        segments.reserveCapacity(lines.count)
        for line in lines {
            segments.append(HL7Segment(bytes: bytes, range: line, encoding: encoding))
        }
        self.segments = segments
        characterSet = HL7CharacterSet.of(bytes, declared: segments[0].rawField(18, in: bytes))
    }

    /// The ranges of the non-empty lines.
    static func lines(_ b: [UInt8]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var start = 0
        var i = 0
        while i < b.count {
            let c = b[i]
            if c == 0x0D || c == 0x0A {
                if i > start { out.append(start..<i) }
                start = i + 1
            }
            i += 1
        }
        if start < b.count { out.append(start..<b.count) }
        return out
    }

    /// The first segment named `name`, or nil.
    public func segment(_ name: String) -> HL7Segment? {
        let key = Array(name.utf8)
        return segments.first { $0.isNamed(key, in: bytes) }
    }

    /// Every segment named `name`, in order.
    public func segments(named name: String) -> [HL7Segment] {
        let key = Array(name.utf8)
        return segments.filter { $0.isNamed(key, in: bytes) }
    }

    /// The value at `path`, decoded: escapes, then the character set.
    public func value(at path: HL7FieldPath) -> HL7Value {
        guard let seg = segment(path.segment) else { return .absent }
        return seg.value(path, in: self)
    }

    /// The bytes at `path` as sent (no escapes decoded): for MSA-2, which
    /// must repeat MSH-10 byte for byte.
    public func rawValue(at path: HL7FieldPath) -> ArraySlice<UInt8>? {
        guard let seg = segment(path.segment) else { return nil }
        return seg.raw(path, in: bytes)
    }

    /// MSH-9's message code and trigger (`SIU`, `S12`), upper-cased.
    public var messageType: (code: String, trigger: String) {
        let code = value(at: .msh(9, 1)).text ?? ""
        let trigger = value(at: .msh(9, 2)).text ?? ""
        return (code.uppercased(), trigger.uppercased())
    }

    /// MSH-10 as sent, the whole field.
    public var controlID: ArraySlice<UInt8> { rawField(segment: "MSH", 10) ?? [] }

    /// A whole field as sent (every repetition and component), of the first segment named `segment`.
    public func rawField(segment name: String, _ n: Int) -> ArraySlice<UInt8>? {
        segment(name)?.rawField(n, in: bytes)
    }

    /// Decodes `raw` (a field, component or subcomponent as sent) to text.
    public func decode(_ raw: ArraySlice<UInt8>) -> String {
        characterSet.string(encoding.unescape(raw))
    }
}

/// What a field path holds in a message. HL7 tells apart a value left out
/// (an empty field: "leave it as it is") from `""` (an explicit null:
/// "clear it").
public enum HL7Value: Equatable, Sendable {
    case absent
    case null
    case text(String)

    /// The text, or nil when absent or null.
    public var text: String? {
        if case .text(let s) = self { return s }
        return nil
    }
}

/// A message's text encoding: UTF-8 unless MSH-18 names ISO-8859-1 or the
/// bytes are not valid UTF-8 (real feeds send Latin-1 without saying so).
public enum HL7CharacterSet: String, Sendable {
    case utf8 = "UTF-8"
    case latin1 = "ISO-8859-1"

    static func of(_ bytes: [UInt8], declared: ArraySlice<UInt8>?) -> HL7CharacterSet {
        if let declared {
            let name = String(decoding: declared, as: UTF8.self).uppercased().filter { $0.isLetter || $0.isNumber }
            if name.hasPrefix("8859") || name.hasPrefix("ISO8859") || name == "LATIN1" { return .latin1 }
        }
        return String(validating: bytes, as: UTF8.self) == nil ? .latin1 : .utf8
    }

    func string(_ bytes: [UInt8]) -> String {
        switch self {
        case .utf8:
            return String(decoding: bytes, as: UTF8.self)
        case .latin1:
            // ISO-8859-1 is the first 256 code points of Unicode.
            var s = String.UnicodeScalarView()
            for b in bytes { s.append(Unicode.Scalar(b)) }
            return String(s)
        }
    }
}
