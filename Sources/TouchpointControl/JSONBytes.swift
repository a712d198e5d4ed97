import Foundation
import TouchpointDomain

/// Compact JSON into a byte array, escaped as Foundation's writer escapes
/// (slashes left alone).
struct JSONBytes {
    var out: [UInt8] = []

    mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { out.append(contentsOf: $0) }
    }

    mutating func array<T>(_ items: [T], _ element: (inout JSONBytes, T) -> Void) {
        raw("[")
        for (i, x) in items.enumerated() {
            if i > 0 { raw(",") }
            element(&self, x)
        }
        raw("]")
    }

    mutating func int(_ v: Int) { out.append(contentsOf: String(v).utf8) }

    mutating func bool(_ v: Bool?) {
        switch v {
        case nil: raw("null")
        case true?: raw("true")
        case false?: raw("false")
        }
    }

    mutating func date(_ d: Date?) {
        guard let d else { return raw("null") }
        out.append(UInt8(ascii: "\""))
        Timestamp.appendRFC3339(d, to: &out)
        out.append(UInt8(ascii: "\""))
    }

    mutating func string(_ value: String?) {
        guard var s = value else { return raw("null") }
        out.append(UInt8(ascii: "\""))
        s.withUTF8 { bytes in
            // Runs of bytes that need no escape go in whole.
            var start = 0
            for (i, b) in bytes.enumerated() where b < 0x20 || b == UInt8(ascii: "\"") || b == UInt8(ascii: "\\") {
                out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<i]))
                start = i + 1
                switch b {
                case UInt8(ascii: "\""): raw("\\\"")
                case UInt8(ascii: "\\"): raw("\\\\")
                case 0x0A: raw("\\n")
                case 0x0D: raw("\\r")
                case 0x09: raw("\\t")
                case 0x08: raw("\\b")
                case 0x0C: raw("\\f")
                default:
                    let hex: StaticString = "0123456789abcdef"
                    raw("\\u00")
                    hex.withUTF8Buffer { h in
                        out.append(h[Int(b >> 4)])
                        out.append(h[Int(b & 0xF)])
                    }
                }
            }
            out.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start...]))
        }
        out.append(UInt8(ascii: "\""))
    }
}
