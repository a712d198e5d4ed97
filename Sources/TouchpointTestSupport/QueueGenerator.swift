import Foundation
import TouchpointDomain

/// Writes synthetic queue files of fictional patients, modelled on
/// `shared/tools/gen-queue.py`: the same mix of event types, every later event
/// about a booking made earlier, deterministic for a seed. The tests and
/// benchmarks carry this generator so they run without `../shared`.
public struct QueueGenerator {
    public struct Options: Sendable {
        public var events = 1000
        /// First day of bookings.
        public var start: LocalDate
        public var days = 120
        public var seed: UInt64 = 1
        /// Make every Nth line invalid (0: none).
        public var badEvery = 0

        public init(events: Int = 1000, start: LocalDate, days: Int = 120, seed: UInt64 = 1, badEvery: Int = 0) {
            self.events = events
            self.start = start
            self.days = days
            self.seed = seed
            self.badEvery = badEvery
        }
    }

    /// What the generator wrote about each broken line: its 1-based line number and expected code.
    public struct BrokenLine: Equatable, Sendable {
        public var line: Int
        public var code: RejectCode
    }

    static let first = ["Ann", "Bea", "Cara", "Dee", "Eve", "Fay", "Gail", "Hope", "Iris", "June", "Kay", "Lyn"]
    static let last = ["Example", "Sample", "Tester", "Placeholder", "Demo", "Fiction"]
    static let wards = (1...12).map { "Ward \($0)" }
    static let procedures = ["Wide local excision", "Mastectomy", "Sentinel node biopsy", "Reconstruction"]
    static let reasons = ["an emergency operation needed the theatre first",
                          "the operation before yours is taking longer than planned",
                          "we are waiting for a bed on the ward"]

    var rng: SplitMix64
    let options: Options
    var surgeries: [String] = []
    var clinics: [String] = []
    var patients: [String] = []

    public init(_ options: Options) {
        self.options = options
        self.rng = SplitMix64(seed: options.seed)
    }

    /// Writes the queue to `path`; returns the broken lines.
    @discardableResult
    public static func write(_ options: Options, to path: String) throws -> [BrokenLine] {
        var g = QueueGenerator(options)
        _ = FileManager.default.createFile(atPath: path, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
        defer { try? handle.close() }
        var broken: [BrokenLine] = []
        var buffer = ""
        for i in 0..<options.events {
            let (line, code) = g.line(i)
            if let code { broken.append(BrokenLine(line: i + 1, code: code)) }
            buffer += line
            buffer += "\n"
            if buffer.utf8.count > 1 << 20 {
                try handle.write(contentsOf: Data(buffer.utf8))
                buffer = ""
            }
        }
        try handle.write(contentsOf: Data(buffer.utf8))
        return broken
    }

    /// All lines in memory (for small queues).
    public static func lines(_ options: Options) -> [String] {
        var g = QueueGenerator(options)
        return (0..<options.events).map { g.line($0).0 }
    }

    mutating func pick<T>(_ items: [T]) -> T { items[rng.below(items.count)] }

    /// Line `i` (0-based), and the reject code if it is deliberately broken.
    public mutating func line(_ i: Int) -> (String, RejectCode?) {
        let eid = "gen-\(options.seed)-\(pad(i, 9))"
        if options.badEvery > 0 && i % options.badEvery == options.badEvery - 1 {
            switch rng.below(3) {
            case 0: return ("{\"v\":1,\"id\":\"\(eid)\",\"type\":\"surgery.booked\"", .malformedJSON)
            case 1: return ("{\"v\":1,\"id\":\"\(eid)\",\"type\":\"surgery.booked\",\"ref\":\"x\"}", .missingField)
            default: return ("{\"v\":9,\"id\":\"\(eid)\",\"type\":\"surgery.booked\"}", .unsupportedVersion)
            }
        }
        let r = rng.unit()
        let day = options.start.adding(days: rng.below(options.days))
        let minutes = 30 * (16 + rng.below(20))
        let at = "\(day)T\(pad(minutes / 60, 2)):\(pad(minutes % 60, 2))"
        var fields: [(String, String)]
        if r < 0.40 || surgeries.isEmpty || clinics.isEmpty {
            if r < 0.20 || (clinics.isEmpty && r < 0.6) {
                let ref = "S-\(pad(i, 9))"
                surgeries.append(ref)
                fields = [("type", q("surgery.booked")), ("ref", q(ref)), ("patient", newPatient(i)), ("at", q(at)),
                          ("ward", q(pick(Self.wards))), ("procedure", q(pick(Self.procedures)))]
            } else {
                fields = openAccessBooked(i, at)
            }
        } else if r < 0.50 {
            fields = [("type", q("surgery.rescheduled")), ("ref", q(pick(surgeries))), ("at", q(at))]
        } else if r < 0.58 {
            fields = [("type", q("surgery.delayed")), ("ref", q(pick(surgeries))), ("expected_at", q(at)),
                      ("reason", q(pick(Self.reasons)))]
        } else if r < 0.61 && surgeries.count > 1 {
            let ref = surgeries.remove(at: rng.below(surgeries.count))
            fields = [("type", q("surgery.cancelled")), ("ref", q(ref))]
        } else if r < 0.66 {
            fields = [("type", q("surgery.performed")), ("ref", q(pick(surgeries))), ("at", q(at))]
        } else if r < 0.86 {
            fields = openAccessBooked(i, at)
        } else if r < 0.92 {
            fields = [("type", q("open_access.rescheduled")), ("ref", q(pick(clinics))), ("at", q(at))]
        } else if r < 0.94 && clinics.count > 1 {
            let ref = clinics.remove(at: rng.below(clinics.count))
            fields = [("type", q("open_access.cancelled")), ("ref", q(ref))]
        } else {
            var p = "{\"id\":\(q(pick(patients))),\"phone\":\"+44770090\(pad(rng.below(10000), 4))\""
            if rng.unit() < 0.1 { p += ",\"opted_out\":true" }
            fields = [("type", q("patient.updated")), ("patient", p + "}")]
        }
        let body = ([("v", "1"), ("id", q(eid))] + fields).map { "\(q($0.0)):\($0.1)" }.joined(separator: ",")
        return ("{\(body)}", nil)
    }

    mutating func openAccessBooked(_ i: Int, _ at: String) -> [(String, String)] {
        let ref = "OA-\(pad(i, 9))"
        clinics.append(ref)
        return [("type", q("open_access.booked")), ("ref", q(ref)), ("patient", newPatient(i)), ("at", q(at)),
                ("clinic", q("Breast clinic")), ("mode", q(pick(["in_person", "phone", "video"])))]
    }

    mutating func newPatient(_ i: Int) -> String {
        let id = "P\(pad(i, 9))"
        let name = "\(pick(Self.first)) \(pick(Self.last))"
        let channel = pick(["sms", "sms", "sms", "email"])
        let voicemail = rng.unit() < 0.7
        var s = "{\"id\":\(q(id)),\"name\":\(q(name)),\"channel\":\(q(channel)),\"voicemail_ok\":\(voicemail)"
        if channel == "sms" {
            s += ",\"phone\":\"+44770090\(pad(rng.below(10000), 4))\""
        } else {
            s += ",\"email\":\"patient\(i)@example.org\""
        }
        patients.append(id)
        return s + "}"
    }

    func q(_ s: String) -> String { "\"\(s)\"" }

    func pad(_ n: Int, _ width: Int) -> String {
        let s = String(n)
        return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
    }
}

/// A small, fast, seedable PRNG (SplitMix64): the same seed gives the same queue on every machine.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
