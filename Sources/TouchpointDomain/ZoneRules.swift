import Foundation

/// A time zone's offsets from UTC over time, read from the system's tzdata
/// (`/usr/share/zoneinfo`, RFC 8536 TZif files).
///
/// Why not Foundation's `TimeZone`: on Linux it answers from the copy of the
/// tz database built into the Swift toolchain's ICU, which changes only when
/// the toolchain does, while Debian updates `tzdata` whenever a country
/// changes its clocks. The hospital's due times should follow the same rules
/// as the machine's own clock, journald and `date`. Asking ICU also brought
/// several MiB of its code and data into every process that formats a time
/// (the web view's idle-memory target, issue 13), and took a lock per call.
///
/// Only the offset is read: `HospitalClock` does the gap and overlap rules.
/// Checked against Foundation at every transition and every six hours from
/// 1970 to 2100 for zones with both daylight-saving schemes, southern ones,
/// half-hour and 45-minute ones, and Dublin's negative daylight saving
/// (`ZoneRulesTests`).
public struct ZoneRules: Sendable, Equatable {
    /// The tz name ("Europe/London"), or "UTC".
    public var identifier: String { table.identifier }
    /// One immutable table, shared: a clock is copied into every plan and
    /// parse, and a copy should cost one reference count, not four.
    private let table: Table

    final class Table: Sendable {
        let identifier: String
        /// Transition instants (seconds since the epoch), ascending.
        let transitions: [Int64]
        /// The UTC offset in force from each transition on.
        let offsetsFrom: [Int32]
        /// The offset before the first transition (time type 0, RFC 8536 3.2).
        let initialOffset: Int32
        /// The footer's rule, for instants after the last transition.
        let rule: PosixRule?

        init(identifier: String, transitions: [Int64], offsetsFrom: [Int32], initialOffset: Int32, rule: PosixRule?) {
            self.identifier = identifier
            self.transitions = transitions
            self.offsetsFrom = offsetsFrom
            self.initialOffset = initialOffset
            self.rule = rule
        }
    }

    var transitions: [Int64] { table.transitions }
    var rule: PosixRule? { table.rule }

    /// UTC, with no file behind it.
    public static let utc = ZoneRules(identifier: "UTC", transitions: [], offsetsFrom: [], initialOffset: 0, rule: nil)

    init(identifier: String, transitions: [Int64], offsetsFrom: [Int32], initialOffset: Int32, rule: PosixRule?) {
        table = Table(identifier: identifier, transitions: transitions, offsetsFrom: offsetsFrom, initialOffset: initialOffset, rule: rule)
    }

    public static func == (a: ZoneRules, b: ZoneRules) -> Bool {
        a.table === b.table || (a.table.identifier == b.table.identifier && a.table.transitions == b.table.transitions
            && a.table.offsetsFrom == b.table.offsetsFrom && a.table.initialOffset == b.table.initialOffset && a.table.rule == b.table.rule)
    }

    /// Seconds east of UTC at an instant.
    public func offset(at secondsSinceEpoch: Int) -> Int {
        let t = Int64(secondsSinceEpoch)
        let table = self.table
        let transitions = table.transitions
        guard let last = transitions.last, t >= transitions[0] else {
            if transitions.isEmpty, let rule = table.rule { return rule.offset(at: t) }
            return Int(table.initialOffset)
        }
        if t >= last, let rule = table.rule { return rule.offset(at: t) }
        // The last transition at or before t.
        var lo = 0, hi = transitions.count - 1
        while lo < hi {
            let mid = (lo + hi + 1) / 2
            if transitions[mid] <= t { lo = mid } else { hi = mid - 1 }
        }
        return Int(table.offsetsFrom[lo])
    }

    /// Where Debian's `tzdata` installs the zones.
    public static let systemDirectory = "/usr/share/zoneinfo"

    /// The zone's rules from the system's tzdata; nil when there is no such
    /// zone. Throws when the file is there but cannot be read as TZif.
    public static func load(identifier: String, directory: String = systemDirectory) throws -> ZoneRules? {
        // A name, never a path: no "..", no leading "/", only tz's characters.
        let allowed = identifier.utf8.allSatisfy { c in
            (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || (c >= 0x30 && c <= 0x39) || c == 0x2F || c == 0x5F || c == 0x2B || c == 0x2D
        }
        guard !identifier.isEmpty, allowed, !identifier.hasPrefix("/"),
              !identifier.split(separator: "/", omittingEmptySubsequences: false).contains(where: { $0.isEmpty || $0.hasPrefix(".") }) else { return nil }
        guard let bytes = FileManager.default.contents(atPath: directory + "/" + identifier) else {
            return identifier == "UTC" ? .utc : nil
        }
        return try ZoneRules(tzif: [UInt8](bytes), identifier: identifier)
    }

    /// Why a zone could not be read, naming the file.
    public struct Failure: Error, CustomStringConvertible, Equatable {
        public var description: String
    }

    /// Reads a TZif file's bytes (version 1, 2, 3 or 4).
    public init(tzif bytes: [UInt8], identifier: String) throws {
        var r = TZifReader(bytes: bytes, name: identifier)
        let first = try r.header()
        var header = first
        var timeSize = 4
        if first.version >= 2 {
            // Skip the 32-bit block; the 64-bit one follows with its own header.
            try r.skip(first.v1DataSize)
            header = try r.header()
            timeSize = 8
        }
        if header.leapCount != 0 {
            throw Failure(description: "\(identifier): the tzdata file counts leap seconds (a right/ zone); use the zone without them")
        }
        var transitions: [Int64] = []
        transitions.reserveCapacity(header.timeCount)
        for _ in 0..<header.timeCount { transitions.append(timeSize == 8 ? try r.int64() : Int64(try r.int32())) }
        var indices: [Int] = []
        for _ in 0..<header.timeCount { indices.append(Int(try r.byte())) }
        var offsets: [Int32] = []
        for _ in 0..<header.typeCount {
            offsets.append(try r.int32())
            try r.skip(2)  // isdst, abbreviation index: not needed for an offset
        }
        guard !offsets.isEmpty else { throw Failure(description: "\(identifier): the tzdata file has no local time types") }
        guard indices.allSatisfy({ $0 < offsets.count }) else {
            throw Failure(description: "\(identifier): the tzdata file names a local time type it does not have")
        }
        guard zip(transitions, transitions.dropFirst()).allSatisfy({ $0 < $1 }) else {
            throw Failure(description: "\(identifier): the tzdata file's transitions are not in order")
        }
        try r.skip(header.charCount + header.isStdCount + header.isUTCount)
        var rule: PosixRule?
        if first.version >= 2 {
            let footer = try r.footer()
            if !footer.isEmpty {
                guard let parsed = PosixRule(footer) else {
                    throw Failure(description: "\(identifier): the tzdata file's rule \"\(footer)\" could not be read")
                }
                rule = parsed
            }
        }
        self.init(identifier: identifier, transitions: transitions, offsetsFrom: indices.map { offsets[$0] },
                  initialOffset: offsets[0], rule: rule)
    }
}

/// The big-endian fields of a TZif file, failing with the file's name.
private struct TZifReader {
    let bytes: [UInt8]
    let name: String
    var at = 0

    struct Header {
        var version: Int
        var isUTCount, isStdCount, leapCount, timeCount, typeCount, charCount: Int
        var v1DataSize: Int { timeCount * 5 + typeCount * 6 + charCount + leapCount * 8 + isStdCount + isUTCount }
    }

    func truncated() -> ZoneRules.Failure { ZoneRules.Failure(description: "\(name): the tzdata file is cut short at byte \(at)") }

    mutating func skip(_ n: Int) throws {
        guard n >= 0, at + n <= bytes.count else { throw truncated() }
        at += n
    }

    /// n bytes, big-endian, as TZif stores its integers.
    mutating func bigEndian(_ n: Int) throws -> UInt64 {
        guard at + n <= bytes.count else { throw truncated() }
        var v: UInt64 = 0
        for i in 0..<n { v = v << 8 | UInt64(bytes[at + i]) }
        at += n
        return v
    }

    mutating func byte() throws -> UInt8 { UInt8(try bigEndian(1)) }

    mutating func int32() throws -> Int32 { Int32(bitPattern: UInt32(try bigEndian(4))) }

    mutating func int64() throws -> Int64 { Int64(bitPattern: try bigEndian(8)) }

    mutating func header() throws -> Header {
        guard at + 44 <= bytes.count, Array(bytes[at..<at + 4]) == Array("TZif".utf8) else {
            throw ZoneRules.Failure(description: "\(name): not a tzdata (TZif) file")
        }
        let v = bytes[at + 4]
        let version = v == 0 ? 1 : Int(v) - Int(UInt8(ascii: "0"))
        guard (1...9).contains(version) else { throw ZoneRules.Failure(description: "\(name): unknown TZif version") }
        at += 20
        var counts: [Int] = []
        for _ in 0..<6 {
            let c = try int32()
            guard c >= 0, c < 1 << 20 else { throw ZoneRules.Failure(description: "\(name): the tzdata file's counts are out of range") }
            counts.append(Int(c))
        }
        return Header(version: version, isUTCount: counts[0], isStdCount: counts[1], leapCount: counts[2],
                      timeCount: counts[3], typeCount: counts[4], charCount: counts[5])
    }

    /// The newline-enclosed POSIX TZ string after the 64-bit block.
    mutating func footer() throws -> String {
        guard at < bytes.count, bytes[at] == UInt8(ascii: "\n") else { throw truncated() }
        guard let end = bytes[(at + 1)...].firstIndex(of: UInt8(ascii: "\n")) else { throw truncated() }
        defer { at = end + 1 }
        return String(decoding: bytes[(at + 1)..<end], as: UTF8.self)
    }
}

/// A POSIX TZ rule as tzdata writes it in a file's footer ("GMT0BST,M3.5.0/1,M10.5.0"):
/// a standard offset and, optionally, a daylight offset with the rules for
/// its start and end each year. Extended as RFC 8536 3.3.1 allows (hours
/// from -167 to 167 in the transition times).
struct PosixRule: Sendable, Equatable {
    /// Seconds east of UTC (POSIX writes west: "EST5" is -5 hours).
    var standard: Int
    var daylight: Daylight?

    /// Daylight saving: its offset, and when it starts and ends each year.
    struct Daylight: Sendable, Equatable {
        var offset: Int
        var start: Change
        var end: Change
    }

    /// When daylight saving starts or ends: a day of the year and a local time
    /// (in the offset in force just before the change).
    struct Change: Sendable, Equatable {
        enum Day: Sendable, Equatable {
            case julianNoLeap(Int)  // Jn: 1...365, February 29 never counted
            case zeroBased(Int)  // n: 0...365, February 29 counted
            case monthWeekDay(month: Int, week: Int, weekday: Int)  // Mm.w.d: week 5 is the last, weekday 0 is Sunday
        }
        var day: Day
        var seconds: Int  // after local midnight; may be negative or over 24 hours

        func date(in year: Int) -> LocalDate {
            switch day {
            case .julianNoLeap(let n):
                var d = LocalDate(year: year, month: 1, day: 1).adding(days: n - 1)
                if LocalDate.daysInMonth(year: year, month: 2) == 29 && n >= 60 { d = d.adding(days: 1) }
                return d
            case .zeroBased(let n):
                return LocalDate(year: year, month: 1, day: 1).adding(days: n)
            case .monthWeekDay(let month, let week, let weekday):
                let first = LocalDate(year: year, month: month, day: 1)
                let firstWeekday = first.isoWeekday % 7  // 0 = Sunday, as POSIX counts
                var day = 1 + (weekday - firstWeekday + 7) % 7 + (week - 1) * 7
                while day > LocalDate.daysInMonth(year: year, month: month) { day -= 7 }
                return LocalDate(year: year, month: month, day: day)
            }
        }

        /// The instant of this change in a year, read with the offset in force before it.
        func instant(in year: Int, offsetBefore: Int) -> Int64 {
            Int64(date(in: year).daysSinceEpoch * 86_400 + seconds - offsetBefore)
        }
    }

    func offset(at t: Int64) -> Int {
        guard let daylight else { return standard }
        // The changes of the years around t, in order; the last one at or
        // before t decides. Three years cover a southern zone whose daylight
        // saving spans the new year, and the hours either side of it.
        let year = LocalDate(daysSinceEpoch: Int((Double(t + Int64(standard)) / 86_400).rounded(.down))).year
        var latest: (at: Int64, offset: Int)?
        for y in (year - 1)...(year + 1) {
            for (at, offset) in [(daylight.start.instant(in: y, offsetBefore: standard), daylight.offset),
                                 (daylight.end.instant(in: y, offsetBefore: daylight.offset), standard)] where at <= t {
                // On a tie the start wins: "all year daylight" rules end one
                // year at the instant the next year's starts.
                if latest == nil || at > latest!.at || (at == latest!.at && offset == daylight.offset) {
                    latest = (at, offset)
                }
            }
        }
        return latest?.offset ?? standard
    }
}

extension PosixRule {
    init?(_ text: String) {
        var s = Substring(text)
        guard Self.skipName(&s), let std = Self.offset(&s) else { return nil }
        standard = -std
        if s.isEmpty { daylight = nil; return }
        guard Self.skipName(&s) else { return nil }
        var dst = standard + 3600
        if let first = s.first, first != "," {
            guard let o = Self.offset(&s) else { return nil }
            dst = -o
        }
        guard Self.eat(",", &s), let start = Self.change(&s),
              Self.eat(",", &s), let end = Self.change(&s), s.isEmpty else { return nil }
        daylight = Daylight(offset: dst, start: start, end: end)
    }

    /// "GMT" or "<+0530>".
    private static func skipName(_ s: inout Substring) -> Bool {
        if s.first == "<" {
            guard let close = s.firstIndex(of: ">") else { return false }
            s = s[s.index(after: close)...]
            return true
        }
        let name = s.prefix { $0.isLetter }
        guard name.count >= 3 else { return false }
        s = s.dropFirst(name.count)
        return true
    }

    /// "[+-]hh[:mm[:ss]]" in seconds, as written (west positive for offsets).
    private static func offset(_ s: inout Substring) -> Int? {
        var sign = 1
        if s.first == "+" { s.removeFirst() } else if s.first == "-" { sign = -1; s.removeFirst() }
        guard let hours = number(&s), hours <= 167 else { return nil }
        var seconds = hours * 3600
        for unit in [60, 1] {
            guard s.first == ":" else { break }
            s.removeFirst()
            guard let n = number(&s), n < 60 else { return nil }
            seconds += n * unit
        }
        return sign * seconds
    }

    private static func eat(_ c: Character, _ s: inout Substring) -> Bool {
        guard s.first == c else { return false }
        s.removeFirst()
        return true
    }

    private static func number(_ s: inout Substring) -> Int? {
        let digits = s.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 3, let n = Int(digits) else { return nil }
        s = s.dropFirst(digits.count)
        return n
    }

    /// "M3.5.0/1", "J60", "59/-1"; the time defaults to 02:00.
    private static func change(_ s: inout Substring) -> Change? {
        let day: Change.Day
        if s.first == "M" {
            s.removeFirst()
            guard let m = number(&s), (1...12).contains(m), eat(".", &s),
                  let w = number(&s), (1...5).contains(w), eat(".", &s),
                  let d = number(&s), (0...6).contains(d) else { return nil }
            day = .monthWeekDay(month: m, week: w, weekday: d)
        } else if s.first == "J" {
            s.removeFirst()
            guard let n = number(&s), (1...365).contains(n) else { return nil }
            day = .julianNoLeap(n)
        } else {
            guard let n = number(&s), (0...365).contains(n) else { return nil }
            day = .zeroBased(n)
        }
        var seconds = 7200
        if s.first == "/" {
            s.removeFirst()
            guard let t = offset(&s) else { return nil }
            seconds = t
        }
        return Change(day: day, seconds: seconds)
    }
}
