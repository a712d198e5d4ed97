/// Phone numbers as the hospital sends them, stored as E.164.
///
/// Ward staff dial from the call list and the SMS gateway needs one form, so
/// every number is normalised once, on the way in.
public enum PhoneNumber {
    /// E.164 (`+447700900123`) for an E.164 or UK national number (`07700 900123`),
    /// or nil when it is neither. Spaces, dashes, dots and brackets are ignored.
    public static func e164(_ text: String) -> String? {
        var digits: [UInt8] = []
        var plus = false
        var first = true
        for u in text.utf8 {
            switch u {
            case 0x20, 0x2D, 0x2E, 0x28, 0x29: continue  // space - . ( )
            case 0x2B where first && !plus:
                plus = true
                continue
            case 0x30...0x39:
                digits.append(u)
            default:
                return nil
            }
            first = false
        }
        if plus {
            // "+44 (0)7700 900123" is common in UK signatures: drop the (0).
            if digits.starts(with: Array("440".utf8)) && digits.count == 13 { digits.remove(at: 2) }
            guard (8...15).contains(digits.count), digits[0] != 0x30 else { return nil }
            return "+" + String(decoding: digits, as: UTF8.self)
        }
        if digits.starts(with: Array("00".utf8)) {
            let rest = digits.dropFirst(2)
            guard (8...15).contains(rest.count), rest.first != 0x30 else { return nil }
            return "+" + String(decoding: rest, as: UTF8.self)
        }
        // UK national: a 0 trunk prefix and 9 or 10 further digits.
        guard digits.first == 0x30, digits.count == 10 || digits.count == 11, digits[1] != 0x30 else {
            return nil
        }
        return "+44" + String(decoding: digits.dropFirst(), as: UTF8.self)
    }
}
