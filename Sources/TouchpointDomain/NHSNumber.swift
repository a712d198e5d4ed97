/// The NHS number check: ten digits, the last a modulus-11 check digit.
///
/// A mistyped NHS number would attach a contact to the wrong person's record
/// in the hospital's systems, so an invalid one is rejected at the door.
public enum NHSNumber {
    /// The ten digits of `text` (spaces allowed between groups, as printed on
    /// letters: `943 476 5919`), or nil when it fails the check.
    public static func normalised(_ text: String) -> String? {
        var digits: [Int] = []
        digits.reserveCapacity(10)
        for u in text.utf8 {
            if u == 0x20 { continue }
            let d = u &- 48
            guard d < 10 else { return nil }
            digits.append(Int(d))
        }
        guard digits.count == 10 else { return nil }
        var sum = 0
        for i in 0..<9 { sum += digits[i] * (10 - i) }
        var check = 11 - sum % 11
        if check == 11 { check = 0 }
        guard check != 10, check == digits[9] else { return nil }
        return String(digits.map { Character(String($0)) })
    }
}
