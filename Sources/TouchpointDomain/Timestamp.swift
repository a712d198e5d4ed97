import Foundation

/// Reads the queue format's times: RFC 3339 with an offset, or a local
/// date-time without one (read in the hospital's zone).
public enum Timestamp {
    public enum Failure: Error, Equatable, Sendable {
        case dateWithoutTime
        case noSuchDate
        case malformed

        /// What was expected, for a reject message (never echoes the value).
        public var explanation: String {
            switch self {
            case .dateWithoutTime:
                return "a date without a time; expected a date and time such as 2026-12-01T08:30"
            case .noSuchDate:
                return "no such day in the calendar (a month has 28 to 31 days, February 29 only in a leap year)"
            case .malformed:
                return "expected an RFC 3339 time (2026-12-01T08:30:00Z) or a local date-time (2026-12-01T08:30)"
            }
        }
    }

    /// The times a queue event may carry: 2000-01-01 to the end of 2099, UTC.
    /// A year such as 0001 or 9999 is a sender's error, not a booking: a
    /// surgery two thousand years ago put an escalated call on the nurse's
    /// list, and one in 9999 a due time past the year 9999, which the wire
    /// format cannot carry (`touchpointctl jobs` then failed for everyone).
    public static let plannable = Date(timeIntervalSince1970: 946_684_800)..<Date(timeIntervalSince1970: 4_102_444_800)

    /// Parses `text`; local times are read with `clock`.
    public static func parse(_ text: String, clock: HospitalClock) -> Result<Date, Failure> {
        var text = text
        return text.withUTF8 { parse(bytes: $0, clock: clock) }
    }

    static func parse(bytes b: UnsafeBufferPointer<UInt8>, clock: HospitalClock) -> Result<Date, Failure> {
        let n = b.count
        func digits(_ at: Int, _ count: Int) -> Int? {
            guard at + count <= n else { return nil }
            var v = 0
            for i in at..<(at + count) {
                let c = b[i] &- 48
                guard c < 10 else { return nil }
                v = v * 10 + Int(c)
            }
            return v
        }
        guard n >= 10, let y = digits(0, 4), b[4] == 0x2D, let mo = digits(5, 2), b[7] == 0x2D,
              let d = digits(8, 2)
        else { return .failure(.malformed) }
        guard LocalDate.isValid(year: y, month: mo, day: d) else {
            return .failure((1...12).contains(mo) && (1...31).contains(d) && y >= 1 ? .noSuchDate : .malformed)
        }
        if n == 10 { return .failure(.dateWithoutTime) }
        let sep = b[10]
        guard sep == 0x54 || sep == 0x74 || sep == 0x20,  // T t space
              let h = digits(11, 2), n > 13, b[13] == 0x3A, let mi = digits(14, 2), h < 24, mi < 60
        else { return .failure(.malformed) }
        var i = 16
        var s = 0
        var millis = 0
        if i < n, b[i] == 0x3A {
            guard let sec = digits(i + 1, 2), sec <= 60 else { return .failure(.malformed) }
            s = min(sec, 59)  // a leap second is read as :59
            i += 3
            if i < n, b[i] == 0x2E {  // fraction
                i += 1
                var scale = 100
                let start = i
                while i < n, b[i] &- 48 < 10 {
                    millis += Int(b[i] &- 48) * scale
                    scale /= 10
                    i += 1
                }
                guard i > start else { return .failure(.malformed) }
            }
        }
        let local = LocalDateTime(
            date: LocalDate(year: y, month: mo, day: d),
            time: TimeOfDay(hour: h, minute: mi, second: s), millisecond: millis)
        if i == n {
            return .success(clock.instant(of: local))
        }
        var offset = 0
        switch b[i] {
        case 0x5A, 0x7A:  // Z z
            guard i + 1 == n else { return .failure(.malformed) }
        case 0x2B, 0x2D:  // + -
            guard i + 6 == n, let oh = digits(i + 1, 2), b[i + 3] == 0x3A, let om = digits(i + 4, 2),
                  oh < 24, om < 60
            else { return .failure(.malformed) }
            offset = (oh * 3600 + om * 60) * (b[i] == 0x2B ? 1 : -1)
        default:
            return .failure(.malformed)
        }
        let seconds = local.secondsAsIfUTC - offset
        return .success(Date(timeIntervalSince1970: TimeInterval(seconds) + TimeInterval(millis) / 1000))
    }

    /// RFC 3339 in UTC with `Z`, as the JSON output uses (milliseconds when not whole).
    public static func rfc3339(_ date: Date) -> String {
        var out = [UInt8]()
        out.reserveCapacity(24)
        appendRFC3339(date, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends `rfc3339(date)`'s bytes: written digit by digit into the
    /// caller's buffer, since it runs for every time in every reply (a
    /// thousand-call list has seven thousand).
    public static func appendRFC3339(_ date: Date, to out: inout [UInt8]) {
        let ms = Int64((date.timeIntervalSince1970 * 1000).rounded())
        let secs = Int(ms.quotientFloor(1000))
        let frac = Int(ms - Int64(secs) * 1000)
        let days = Int((Double(secs) / 86_400).rounded(.down))
        let sod = secs - days * 86_400
        let dt = LocalDate(daysSinceEpoch: days)
        func put2(_ v: Int) {
            out.append(UInt8(48 + v / 10 % 10))
            out.append(UInt8(48 + v % 10))
        }
        put2(dt.year / 100); put2(dt.year % 100); out.append(0x2D); put2(dt.month); out.append(0x2D); put2(dt.day)
        out.append(0x54); put2(sod / 3600); out.append(0x3A); put2(sod % 3600 / 60); out.append(0x3A); put2(sod % 60)
        if frac != 0 {
            out.append(0x2E)
            out.append(UInt8(48 + frac / 100))
            put2(frac % 100)
        }
        out.append(0x5A)
    }
}

extension Int64 {
    func quotientFloor(_ d: Int64) -> Int64 {
        let q = self / d
        return (self % d != 0 && (self < 0) != (d < 0)) ? q - 1 : q
    }
}
