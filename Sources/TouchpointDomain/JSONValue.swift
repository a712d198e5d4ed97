/// A parsed JSON value, as the queue reader needs it.
///
/// Queue lines are small, flat objects read a million at a time, so this is a
/// deliberately small, strict parser: UTF-8 validated, duplicate keys refused
/// (an ambiguous line about a patient must not be guessed at), nesting bounded.
public enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    /// The number's text as written (validated JSON number grammar).
    case number(String)
    case string(String)
    case array([JSONValue])
    /// Members in the order written.
    case object([(String, JSONValue)])

    public subscript(key: String) -> JSONValue? {
        guard case .object(let members) = self else { return nil }
        for (k, v) in members where k == key { return v }
        return nil
    }

    public static func == (a: JSONValue, b: JSONValue) -> Bool {
        switch (a, b) {
        case (.null, .null): return true
        case (.bool(let x), .bool(let y)): return x == y
        case (.number(let x), .number(let y)): return x == y
        case (.string(let x), .string(let y)): return x == y
        case (.array(let x), .array(let y)): return x == y
        case (.object(let x), .object(let y)):
            return x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: return false
        }
    }

    /// A stable 64-bit hash of the content, independent of member order and
    /// white space: "the same event sent again" is the same content however
    /// the sender serialised it.
    public var contentHash: UInt64 {
        var h = FNV1a()
        hash(into: &h)
        return h.value
    }

    private func hash(into h: inout FNV1a) {
        switch self {
        case .null: h.add(0x6E)
        case .bool(let b): h.add(b ? 0x74 : 0x66)
        case .number(let s):
            h.add(0x23)
            h.add(s)
        case .string(let s):
            h.add(0x22)
            h.add(s)
        case .array(let items):
            h.add(0x5B)
            for item in items { item.hash(into: &h) }
            h.add(0x5D)
        case .object(let members):
            h.add(0x7B)
            for (k, v) in members.sorted(by: { $0.0.utf8.lexicographicallyPrecedes($1.0.utf8) }) {
                h.add(0x22)
                h.add(k)
                v.hash(into: &h)
            }
            h.add(0x7D)
        }
    }
}

public struct JSONParseError: Error, Equatable, Sendable {
    /// Byte offset in the line where parsing failed.
    public var offset: Int
    public var reason: String

    public var description: String { "\(reason) at byte \(offset + 1)" }
}

public struct JSONParser {
    public static let maximumDepth = 32

    private let b: UnsafeBufferPointer<UInt8>
    private var i = 0

    private init(_ b: UnsafeBufferPointer<UInt8>) { self.b = b }

    /// Parses one complete JSON document from `bytes` (surrounding white space allowed).
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) throws(JSONParseError) -> JSONValue {
        var p = JSONParser(bytes)
        p.skipSpace()
        let v = try p.value(depth: 0)
        p.skipSpace()
        if p.i != bytes.count { throw p.fail("unexpected text after the JSON value") }
        return v
    }

    public static func parse(_ text: String) throws(JSONParseError) -> JSONValue {
        var copy = text
        let result = copy.withUTF8 { buf in Result { () throws(JSONParseError) -> JSONValue in try parse(buf) } }
        return try result.get()
    }

    private func fail(_ reason: String) -> JSONParseError { JSONParseError(offset: i, reason: reason) }

    @inline(__always)
    private mutating func skipSpace() {
        while i < b.count {
            switch b[i] {
            case 0x20, 0x09, 0x0A, 0x0D: i += 1
            default: return
            }
        }
    }

    private mutating func value(depth: Int) throws(JSONParseError) -> JSONValue {
        guard i < b.count else { throw fail("unexpected end of line") }
        switch b[i] {
        case 0x7B: return try object(depth: depth + 1)
        case 0x5B: return try array(depth: depth + 1)
        case 0x22: return .string(try string())
        case 0x74: try literal("true"); return .bool(true)
        case 0x66: try literal("false"); return .bool(false)
        case 0x6E: try literal("null"); return .null
        case 0x2D, 0x30...0x39: return .number(try number())
        default: throw fail("unexpected character")
        }
    }

    private mutating func literal(_ word: StaticString) throws(JSONParseError) {
        let n = word.utf8CodeUnitCount
        guard i + n <= b.count, word.withUTF8Buffer({ w in (0..<n).allSatisfy { b[i + $0] == w[$0] } }) else {
            throw fail("invalid literal")
        }
        i += n
    }

    private mutating func object(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= JSONParser.maximumDepth else { throw fail("nested too deeply") }
        i += 1
        var members: [(String, JSONValue)] = []
        skipSpace()
        if i < b.count, b[i] == 0x7D {
            i += 1
            return .object(members)
        }
        while true {
            skipSpace()
            guard i < b.count, b[i] == 0x22 else { throw fail("expected a member name in quotes") }
            let keyStart = i
            let key = try string()
            for (k, _) in members where k == key {
                throw JSONParseError(offset: keyStart, reason: "duplicate member \"\(key.prefix(40))\"")
            }
            skipSpace()
            guard i < b.count, b[i] == 0x3A else { throw fail("expected ':'") }
            i += 1
            skipSpace()
            members.append((key, try value(depth: depth)))
            skipSpace()
            guard i < b.count else { throw fail("unexpected end of line, expected ',' or '}'") }
            if b[i] == 0x2C {
                i += 1
                continue
            }
            if b[i] == 0x7D {
                i += 1
                return .object(members)
            }
            throw fail("expected ',' or '}'")
        }
    }

    private mutating func array(depth: Int) throws(JSONParseError) -> JSONValue {
        guard depth <= JSONParser.maximumDepth else { throw fail("nested too deeply") }
        i += 1
        var items: [JSONValue] = []
        skipSpace()
        if i < b.count, b[i] == 0x5D {
            i += 1
            return .array(items)
        }
        while true {
            skipSpace()
            items.append(try value(depth: depth))
            skipSpace()
            guard i < b.count else { throw fail("unexpected end of line, expected ',' or ']'") }
            if b[i] == 0x2C {
                i += 1
                continue
            }
            if b[i] == 0x5D {
                i += 1
                return .array(items)
            }
            throw fail("expected ',' or ']'")
        }
    }

    private mutating func number() throws(JSONParseError) -> String {
        let start = i
        if b[i] == 0x2D { i += 1 }
        guard i < b.count else { throw fail("invalid number") }
        if b[i] == 0x30 {
            i += 1
        } else if b[i] >= 0x31 && b[i] <= 0x39 {
            while i < b.count, b[i] &- 48 < 10 { i += 1 }
        } else {
            throw fail("invalid number")
        }
        if i < b.count, b[i] == 0x2E {
            i += 1
            let s = i
            while i < b.count, b[i] &- 48 < 10 { i += 1 }
            guard i > s else { throw fail("invalid number") }
        }
        if i < b.count, b[i] == 0x65 || b[i] == 0x45 {
            i += 1
            if i < b.count, b[i] == 0x2B || b[i] == 0x2D { i += 1 }
            let s = i
            while i < b.count, b[i] &- 48 < 10 { i += 1 }
            guard i > s else { throw fail("invalid number") }
        }
        return String(decoding: UnsafeBufferPointer(rebasing: b[start..<i]), as: UTF8.self)
    }

    private mutating func string() throws(JSONParseError) -> String {
        i += 1  // opening quote
        let start = i
        // Fast path: no escapes.
        while i < b.count {
            let c = b[i]
            if c == 0x22 {
                let raw = UnsafeBufferPointer(rebasing: b[start..<i])
                i += 1
                guard let s = String(validating: raw, as: UTF8.self) else {
                    throw JSONParseError(offset: start, reason: "invalid UTF-8 in a string")
                }
                return s
            }
            if c == 0x5C { break }
            if c < 0x20 { throw fail("control character in a string") }
            i += 1
        }
        var out = [UInt8](UnsafeBufferPointer(rebasing: b[start..<i]))
        while i < b.count {
            let c = b[i]
            if c == 0x22 {
                i += 1
                guard let s = String(validating: out, as: UTF8.self) else {
                    throw JSONParseError(offset: start, reason: "invalid UTF-8 in a string")
                }
                return s
            }
            if c < 0x20 { throw fail("control character in a string") }
            if c != 0x5C {
                out.append(c)
                i += 1
                continue
            }
            i += 1
            guard i < b.count else { break }
            switch b[i] {
            case 0x22: out.append(0x22)
            case 0x5C: out.append(0x5C)
            case 0x2F: out.append(0x2F)
            case 0x62: out.append(0x08)
            case 0x66: out.append(0x0C)
            case 0x6E: out.append(0x0A)
            case 0x72: out.append(0x0D)
            case 0x74: out.append(0x09)
            case 0x75:
                var scalar = try hex4()
                if (0xD800..<0xDC00).contains(scalar) {
                    guard i + 2 < b.count, b[i + 1] == 0x5C, b[i + 2] == 0x75 else {
                        throw fail("unpaired surrogate")
                    }
                    i += 2
                    let low = try hex4()
                    guard (0xDC00..<0xE000).contains(low) else { throw fail("unpaired surrogate") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if (0xDC00..<0xE000).contains(scalar) {
                    throw fail("unpaired surrogate")
                }
                out.append(contentsOf: Array(String(Unicode.Scalar(scalar)!).utf8))
            default:
                throw fail("invalid escape")
            }
            i += 1
        }
        throw fail("unterminated string")
    }

    /// Reads the 4 hex digits after `\u`; leaves `i` on the last one.
    private mutating func hex4() throws(JSONParseError) -> UInt32 {
        guard i + 4 < b.count else { throw fail("invalid \\u escape") }
        var v: UInt32 = 0
        for k in 1...4 {
            let c = b[i + k]
            let d: UInt8
            switch c {
            case 0x30...0x39: d = c - 0x30
            case 0x41...0x46: d = c - 0x41 + 10
            case 0x61...0x66: d = c - 0x61 + 10
            default: throw fail("invalid \\u escape")
            }
            v = v << 4 | UInt32(d)
        }
        i += 4
        return v
    }
}
