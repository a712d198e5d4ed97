/// A message's encoding characters: MSH-1 (the field separator) and MSH-2
/// (component, repetition, escape, subcomponent, and from v2.7 truncation).
/// Each message brings its own; `|^~\&` is only the usual choice.
public struct HL7Encoding: Sendable, Equatable {
    public var field: UInt8
    public var component: UInt8
    /// nil when MSH-2 has none (corpus/54 sends `^\&`: no repetitions).
    public var repetition: UInt8?
    /// nil when MSH-2 has none (escapes are then not possible).
    public var escape: UInt8?
    public var subcomponent: UInt8?

    public static let standard = HL7Encoding(field: 0x7C, component: 0x5E, repetition: 0x7E, escape: 0x5C, subcomponent: 0x26)

    public init(field: UInt8, component: UInt8, repetition: UInt8?, escape: UInt8?, subcomponent: UInt8?) {
        self.field = field
        self.component = component
        self.repetition = repetition
        self.escape = escape
        self.subcomponent = subcomponent
    }

    /// Reads MSH-1 and MSH-2 from the MSH segment's bytes.
    init(msh: ArraySlice<UInt8>) throws(HL7Message.ParseFailure) {
        let b = Array(msh)
        guard b.count >= 4 else { throw .badEncodingCharacters("the segment ends after MSH") }
        let f = b[3]
        guard Self.mayDelimit(f) else { throw .badEncodingCharacters("MSH-1 is a letter, digit, space or control character") }
        var chars: [UInt8] = []
        var i = 4
        while i < b.count, b[i] != f {
            chars.append(b[i])
            i += 1
        }
        // Two characters at least (component and repetition); v2.7 adds a fifth (truncation), which we read past.
        guard chars.count >= 2, chars.count <= 5 else {
            throw .badEncodingCharacters("MSH-2 has \(chars.count) characters; expected 4 (such as ^~\\&)")
        }
        guard chars.allSatisfy(Self.mayDelimit), Set(chars + [f]).count == chars.count + 1 else {
            throw .badEncodingCharacters("MSH-2 repeats a character or uses a letter, digit, space or control character")
        }
        field = f
        let usual: [UInt8] = Array("^~\\&".utf8)
        if chars.allSatisfy(usual.contains), let component = chars.first, component == usual[0] {
            // The usual characters, some left out: each keeps its usual role
            // (`^\&` is component, escape, subcomponent; not a repetition of `\`).
            self.component = component
            repetition = chars.contains(usual[1]) ? usual[1] : nil
            escape = chars.contains(usual[2]) ? usual[2] : nil
            subcomponent = chars.contains(usual[3]) ? usual[3] : nil
        } else {
            component = chars[0]
            repetition = chars[1]
            escape = chars.count > 2 ? chars[2] : nil
            subcomponent = chars.count > 3 ? chars[3] : nil
        }
    }

    static func mayDelimit(_ c: UInt8) -> Bool {
        c > 0x20 && c < 0x7F && !(c >= 0x30 && c <= 0x39) && !(c >= 0x41 && c <= 0x5A) && !(c >= 0x61 && c <= 0x7A)
    }

    /// The bytes of `raw` with HL7's escapes decoded: `\F\ \S\ \T\ \R\ \E\`
    /// give back the delimiters, `\Xhh..\` the bytes in hex, `\.br\` a line
    /// break. Formatting escapes (`\H\`, `\N\`, `\.sp\`, ...) are dropped, and
    /// one not understood is kept as sent, so nothing a sender wrote is lost.
    public func unescape(_ raw: ArraySlice<UInt8>) -> [UInt8] {
        guard let e = escape, raw.contains(e) else { return Array(raw) }
        var out: [UInt8] = []
        out.reserveCapacity(raw.count)
        var i = raw.startIndex
        while i < raw.endIndex {
            let c = raw[i]
            guard c == e, let close = raw[(i + 1)...].firstIndex(of: e) else {
                out.append(c)
                i += 1
                continue
            }
            let body = raw[(i + 1)..<close]
            if let decoded = decodeEscape(body) {
                out.append(contentsOf: decoded)
            } else {
                out.append(contentsOf: raw[i...close])
            }
            i = close + 1
        }
        return out
    }

    /// One escape's bytes, or nil for one not understood.
    private func decodeEscape(_ body: ArraySlice<UInt8>) -> [UInt8]? {
        guard let first = body.first else { return nil }
        switch (first, body.count) {
        case (UInt8(ascii: "F"), 1): return [field]
        case (UInt8(ascii: "S"), 1): return [component]
        case (UInt8(ascii: "R"), 1): return repetition.map { [$0] }
        case (UInt8(ascii: "E"), 1): return escape.map { [$0] }
        case (UInt8(ascii: "T"), 1): return subcomponent.map { [$0] }
        case (UInt8(ascii: "H"), 1), (UInt8(ascii: "N"), 1): return []
        case (UInt8(ascii: "X"), _):
            let hex = Array(body.dropFirst())
            guard hex.count % 2 == 0, !hex.isEmpty else { return nil }
            var bytes: [UInt8] = []
            for k in stride(from: 0, to: hex.count, by: 2) {
                guard let hi = Self.hexValue(hex[k]), let lo = Self.hexValue(hex[k + 1]) else { return nil }
                bytes.append(hi << 4 | lo)
            }
            return bytes
        case (UInt8(ascii: "."), _):
            let word = String(decoding: body.dropFirst(), as: UTF8.self).lowercased()
            if word == "br" { return [0x0A] }
            // .sp, .in, .ti, .ce, .fi, .nf, .sk: layout for a printer, not text.
            if ["sp", "in", "ti", "ce", "fi", "nf", "sk"].contains(where: word.hasPrefix) { return [] }
            return nil
        default:
            return nil
        }
    }

    static func hexValue(_ c: UInt8) -> UInt8? {
        switch c {
        case 0x30...0x39: return c - 0x30
        case 0x41...0x46: return c - 0x41 + 10
        case 0x61...0x66: return c - 0x61 + 10
        default: return nil
        }
    }

    /// `text` as a value of a field: the delimiters and the escape
    /// character escaped, line breaks as `\.br\`. For what touchpoint
    /// writes into an acknowledgement (ERR's words).
    public func escape(_ text: String) -> [UInt8] {
        var out: [UInt8] = []
        let e = escape ?? 0x5C
        for b in text.utf8 {
            switch b {
            case field: out += [e, UInt8(ascii: "F"), e]
            case component: out += [e, UInt8(ascii: "S"), e]
            case repetition: out += [e, UInt8(ascii: "R"), e]
            case e: out += [e, UInt8(ascii: "E"), e]
            case subcomponent: out += [e, UInt8(ascii: "T"), e]
            case 0x0A: out += [e] + Array(".br".utf8) + [e]
            case 0x0D, 0x0B, 0x1C: out.append(0x20)
            default: out.append(b)
            }
        }
        return out
    }

    /// The encoding characters as MSH-2 writes them.
    public var msh2: [UInt8] {
        [component] + [repetition, escape, subcomponent].compactMap { $0 }
    }
}
