import Foundation
import TouchpointDomain

/// HL7's times (TS, DTM): `YYYY[MM[DD[HH[MM[SS[.S[S[S[S]]]]]]]]][+/-ZZZZ]`,
/// as precise as the digits sent. With an offset the time is exact; without
/// one it is the hospital's wall clock, read with the queue format's rules
/// (a time in the spring gap moves forward by the gap, one that occurs
/// twice in autumn is the first).
public struct HL7Time: Sendable, Equatable {
    public enum Precision: Int, Sendable, Comparable {
        case year = 4, month = 6, day = 8, hour = 10, minute = 12, second = 14

        public static func < (a: Precision, b: Precision) -> Bool { a.rawValue < b.rawValue }
    }

    public var local: LocalDateTime
    public var precision: Precision
    /// Seconds east of UTC, when sent.
    public var offset: Int?

    public enum Failure: Error, Equatable, Sendable {
        case malformed
        case noSuchDate
        /// A date (or an hour) where a time to the minute is needed.
        case notPreciseEnough(Precision)

        /// What was wrong, never the value itself.
        public var explanation: String {
            switch self {
            case .malformed: return "not an HL7 time (YYYYMMDDHHMM[SS[.SSSS]][+ZZZZ])"
            case .noSuchDate: return "no such date or time of day"
            case .notPreciseEnough(let p): return "a time to the \(p) only; a time to the minute is needed"
            }
        }
    }

    /// Reads `text`; any precision is accepted here (`instant` asks for minutes).
    public init(parsing text: String) throws(Failure) {
        let b = Array(text.utf8)
        var i = 0
        func digits(_ n: Int) -> Int? {
            guard i + n <= b.count else { return nil }
            var v = 0
            for k in i..<(i + n) {
                let d = b[k] &- 48
                guard d < 10 else { return nil }
                v = v * 10 + Int(d)
            }
            i += n
            return v
        }
        guard let year = digits(4) else { throw .malformed }
        var parts = [year]
        var precision = Precision.year
        for (width, p) in [(2, Precision.month), (2, .day), (2, .hour), (2, .minute), (2, .second)] {
            guard i < b.count, b[i] &- 48 < 10 else { break }
            guard let v = digits(width) else { throw .malformed }
            parts.append(v)
            precision = p
        }
        var millisecond = 0
        if precision == .second, i < b.count, b[i] == UInt8(ascii: ".") {
            i += 1
            let start = i
            var scale = 100
            while i < b.count, b[i] &- 48 < 10, i - start < 4 {
                millisecond += Int(b[i] &- 48) * scale
                scale /= 10
                i += 1
            }
            guard i > start else { throw .malformed }
        }
        var offset: Int?
        if i < b.count, b[i] == UInt8(ascii: "+") || b[i] == UInt8(ascii: "-") {
            let sign = b[i] == UInt8(ascii: "+") ? 1 : -1
            i += 1
            guard let hh = digits(2), let mm = digits(2), hh < 24, mm < 60 else { throw .malformed }
            offset = sign * (hh * 3600 + mm * 60)
        }
        guard i == b.count else { throw .malformed }
        let month = parts.count > 1 ? parts[1] : 1
        let day = parts.count > 2 ? parts[2] : 1
        let hour = parts.count > 3 ? parts[3] : 0
        let minute = parts.count > 4 ? parts[4] : 0
        let second = parts.count > 5 ? min(parts[5], 59) : 0
        guard LocalDate.isValid(year: year, month: month, day: day), hour < 24, minute < 60, (parts.count > 5 ? parts[5] : 0) <= 60 else {
            throw .noSuchDate
        }
        local = LocalDateTime(date: LocalDate(year: year, month: month, day: day),
                              time: TimeOfDay(hour: hour, minute: minute, second: second), millisecond: millisecond)
        self.precision = precision
        self.offset = offset
    }

    /// The instant, for a time that must be known to the minute.
    public func instant(clock: HospitalClock) throws(Failure) -> Date {
        guard precision >= .minute else { throw .notPreciseEnough(precision) }
        return anyInstant(clock: clock)
    }

    /// The instant, whatever the precision (a date of death sent as a date).
    public func anyInstant(clock: HospitalClock) -> Date {
        guard let offset else { return clock.instant(of: local) }
        return Date(timeIntervalSince1970: TimeInterval(local.secondsAsIfUTC - offset) + TimeInterval(local.millisecond) / 1000)
    }

    /// `now` as HL7 writes it in MSH-7, with its offset: `20261202014500+0000`.
    public static func text(_ instant: Date, clock: HospitalClock) -> String {
        let l = clock.localDateTime(of: instant)
        let offset = l.secondsAsIfUTC - Int(instant.timeIntervalSince1970.rounded(.down))
        func two(_ n: Int) -> String { n < 10 ? "0\(n)" : "\(n)" }
        let sign = offset < 0 ? "-" : "+"
        let o = abs(offset)
        return "\(l.date.year)\(two(l.date.month))\(two(l.date.day))\(two(l.time.hour))\(two(l.time.minute))\(two(l.time.second))"
            + "\(sign)\(two(o / 3600))\(two(o % 3600 / 60))"
    }
}
