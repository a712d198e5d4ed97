import Foundation
import TouchpointLinux

/// Makes a reply safe to print on a terminal before it is decoded for a person.
///
/// Names, wards, procedures and notes come from hospital systems and from
/// staff. Printed as they are, an escape sequence in one of them could clear
/// the nurse's screen, retitle her window or write to her clipboard, and a
/// carriage return or newline could overwrite or forge a line of the call
/// list. `journalctl` shows such characters escaped; so does `touchpointctl`:
/// every control character inside a reply's strings (C0, DEL, C1) and the
/// Unicode controls that reorder text (bidirectional overrides and
/// isolates) is turned into its visible escape (`\n`, `\u001b`, `\u202e`).
/// The JSON itself is untouched: `--json`, CSV and the printable page carry
/// the data as it is (they escape it in their own way).
public enum TerminalText {
    /// `reply` (the daemon's JSON) with every such character inside its
    /// strings written as a visible escape. Works on the JSON text: control
    /// characters can only stand inside strings, escaped or (DEL, C1, the
    /// format controls) raw.
    public static func visible(_ reply: Data) -> Data {
        let b = [UInt8](reply)
        var out = [UInt8]()
        out.reserveCapacity(b.count)
        var i = 0
        while i < b.count {
            let c = b[i]
            if c == 0x5C, i + 1 < b.count {  // a backslash escape
                let e = b[i + 1]
                if "nrtbf".utf8.contains(e) {
                    out += [0x5C, 0x5C, e]  // \n becomes the two characters \ and n
                    i += 2
                    continue
                }
                if e == 0x75, i + 6 <= b.count, let v = hex(b[(i + 2)..<(i + 6)]), hidden(v) {
                    out += [0x5C]  // \u001b becomes the six characters \u001b
                    out += b[i..<(i + 6)]
                    i += 6
                    continue
                }
                out += [c, e]
                i += 2
                continue
            }
            if let (scalar, length) = decode(b, at: i), hidden(scalar) {
                out += Array(("\\" + ControlCharacters.escape(scalar)).utf8)  // its backslash escaped: the string reads \u001b
                i += length
                continue
            }
            out.append(c)
            i += 1
        }
        return Data(out)
    }

    /// Characters a terminal acts on or that reorder what is shown (by
    /// their Unicode scalar value).
    public static func hidden(_ v: UInt32) -> Bool {
        ControlCharacters.contains(v) || (0x202A...0x202E).contains(v) || (0x2066...0x2069).contains(v)
    }

    private static func hex(_ digits: ArraySlice<UInt8>) -> UInt32? {
        UInt32(String(decoding: digits, as: UTF8.self), radix: 16)
    }

    /// The raw characters that may stand unescaped in JSON and still be
    /// hidden: DEL, C1 (two bytes in UTF-8) and the format controls (three).
    private static func decode(_ b: [UInt8], at i: Int) -> (UInt32, Int)? {
        let c = b[i]
        if c == 0x7F { return (0x7F, 1) }
        if c == 0xC2, i + 1 < b.count, (0x80...0x9F).contains(b[i + 1]) { return (UInt32(b[i + 1]), 2) }
        if c == 0xE2, i + 2 < b.count, b[i + 1] == 0x80 || b[i + 1] == 0x81, (0x80...0xBF).contains(b[i + 2]) {
            return (0x2000 + UInt32(b[i + 1] & 0x3F) << 6 + UInt32(b[i + 2] & 0x3F), 3)
        }
        return nil
    }
}
