import Foundation
import TouchpointDomain

/// `report` (`report.md`): `{"from","to","ward","generated_at","promises":[...]}`,
/// and for a period of more than a month each promise's headline month by
/// month (`months`); with `--list`, the jobs behind one measure (`list`).
public struct PledgeReportView: Codable, Equatable, Sendable {
    public struct HeadlineView: Codable, Equatable, Sendable {
        public var numerator: Int
        public var denominator: Int
        public var percent: Double?

        public init(_ h: Headline) {
            numerator = h.numerator
            denominator = h.denominator
            percent = h.percent.map { ($0 * 10).rounded() / 10 }
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(numerator, forKey: .numerator)
            try c.encode(denominator, forKey: .denominator)
            try c.encode(percent, forKey: .percent)  // null when the denominator is 0
        }

        /// "N of M (P %)".
        public var words: String {
            "\(numerator) of \(denominator)" + (percent.map { " (\(Self.percentText($0)) %)" } ?? "")
        }

        static func percentText(_ p: Double) -> String {
            p == p.rounded() ? String(Int(p)) : String(format: "%.1f", p)
        }
    }

    public struct PromiseView: Codable, Equatable, Sendable {
        public var key: Pledge
        public var promise: String
        public var counted: Int
        public var excluded: Int
        public var headline: HeadlineView
        public var delaysHeadline: HeadlineView?
        public var counts: [String: Int]
        /// By ward (calls, wait notices) or by clinic (Open Access).
        public var byWard: [String: [String: Int]]
        /// What patients said (the leaflet's first column).
        public var youSaid: String?

        enum CodingKeys: String, CodingKey {
            case key, promise, counted, excluded, headline, counts
            case youSaid = "you_said"
            case delaysHeadline = "delays_headline"
            case byWard = "by_ward"
        }
    }

    /// A contact the hospital configured (`contacts.md`).
    public struct ContactView: Codable, Equatable, Sendable {
        public var name: String
        /// A worklist contact's list.
        public var list: String?
        public var counted: Int
        public var excluded: Int
        public var headline: HeadlineView
        public var counts: [String: Int]
        /// The pledge's promise it keeps, when the config gives one.
        public var promise: String?
    }

    public struct MonthView: Codable, Equatable, Sendable {
        public var month: String
        public var headlines: [String: HeadlineView]
    }

    public struct ListView: Codable, Equatable, Sendable {
        public var measure: String
        public var jobs: [PledgeEntry.Listed]
    }

    public var from: String
    public var to: String
    public var ward: String?
    public var generatedAt: Date
    public var timeZone: String?
    public var promises: [PromiseView]
    public var months: [MonthView]?
    public var list: ListView?
    /// The contacts the hospital configured, when there are any.
    public var contacts: [ContactView]?
    /// Configured contacts with a promise that nobody was due in the period
    /// (the leaflet shows their promise; the tables count only what was due).
    public var uncountedPromises: [ContactView]?

    enum CodingKeys: String, CodingKey {
        case from, to, ward, promises, months, list, contacts
        case uncountedPromises = "uncounted_promises"
        case generatedAt = "generated_at"
        case timeZone = "time_zone"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(from, forKey: .from)
        try c.encode(to, forKey: .to)
        try c.encode(ward, forKey: .ward)
        try c.encode(generatedAt, forKey: .generatedAt)
        try c.encodeIfPresent(timeZone, forKey: .timeZone)
        try c.encode(promises, forKey: .promises)
        try c.encodeIfPresent(months, forKey: .months)
        try c.encodeIfPresent(list, forKey: .list)
        try c.encodeIfPresent(contacts, forKey: .contacts)
        try c.encodeIfPresent(uncountedPromises, forKey: .uncountedPromises)
    }

    /// The wire view of a report; `list` (`PROMISE.MEASURE`) adds the jobs
    /// behind one number.
    public init(_ r: PledgeReport, timeZone: String?, list: String? = nil) {
        from = r.from.description
        to = r.to.description
        ward = r.place
        generatedAt = r.generatedAt
        self.timeZone = timeZone
        promises = r.results.map { p in
            PromiseView(key: p.pledge, promise: p.pledge.promise, counted: p.counted, excluded: p.excluded,
                        headline: HeadlineView(p.headline), delaysHeadline: p.delaysHeadline.map(HeadlineView.init),
                        counts: Self.named(p.counts), byWard: p.byPlace.mapValues(Self.named),
                        youSaid: r.youSaid[p.pledge] ?? p.pledge.patientsSaid)
        }
        contacts = r.contacts.isEmpty ? nil : r.contacts.map { c in
            ContactView(name: c.name, list: c.worklist, counted: c.counted, excluded: c.excluded, headline: HeadlineView(c.headline),
                        counts: Self.named(c.counts), promise: c.promise)
        }
        uncountedPromises = r.uncountedPromises.isEmpty ? nil : r.uncountedPromises.map { c in
            ContactView(name: c.name, list: c.worklist, counted: 0, excluded: 0, headline: HeadlineView(c.headline), counts: [:], promise: c.promise)
        }
        months = r.months.isEmpty ? nil : r.months.map { m in
            MonthView(month: m.month, headlines: Dictionary(uniqueKeysWithValues: m.headlines.map { ($0.key.rawValue, HeadlineView($0.value)) }))
        }
        if let list, let (pledge, measure) = Self.measure(list) {
            let result = r.results.first { $0.pledge == pledge }
            self.list = ListView(measure: list, jobs: result?.listed[measure] ?? [])
        }
    }

    /// `checkin_call.not_called` -> (promise, measure), if it names one.
    public static func measure(_ text: String) -> (Pledge, PledgeMeasure)? {
        let parts = text.split(separator: ".", maxSplits: 1).map(String.init)
        guard parts.count == 2, let p = Pledge(rawValue: parts[0]), let m = PledgeMeasure(rawValue: parts[1]),
              p.measures.contains(m) else { return nil }
        return (p, m)
    }

    /// Counts keyed by the measures' names, as the wire carries them.
    static func named(_ counts: [PledgeMeasure: Int]) -> [String: Int] {
        Dictionary(uniqueKeysWithValues: counts.map { ($0.key.rawValue, $0.value) })
    }

    /// Counts read back from the wire; a name this release does not know is left out.
    public static func measures(_ counts: [String: Int]) -> [PledgeMeasure: Int] {
        Dictionary(uniqueKeysWithValues: counts.compactMap { k, v in PledgeMeasure(rawValue: k).map { ($0, v) } })
    }

    /// Every measure `--list` takes, for the error that names them.
    public static var allMeasures: [String] { Pledge.allCases.flatMap { p in p.measures.map { "\(p.rawValue).\($0.rawValue)" } } }
}
