import Foundation

/// "N of M": a headline, with its percentage (nil when M is 0).
public struct Headline: Equatable, Sendable {
    public var numerator: Int
    public var denominator: Int
    public var percent: Double? { denominator == 0 ? nil : Double(numerator) * 100 / Double(denominator) }

    public init(_ numerator: Int, of denominator: Int) {
        self.numerator = numerator
        self.denominator = denominator
    }
}

/// One promise's numbers for a period: how many bookings counted, the
/// categories and extras, the headline(s), the same per ward or clinic, and
/// the jobs behind each number (for `--list`).
public struct PledgeResult: Equatable, Sendable {
    public var pledge: Pledge
    public var counted = 0
    public var excluded = 0
    /// Every measure of `pledge.categories` and `pledge.extras`, 0 included.
    public var counts: [String: Int]
    public var byPlace: [String: [String: Int]] = [:]
    public var listed: [String: [PledgeEntry.Listed]] = [:]

    public init(_ pledge: Pledge) {
        self.pledge = pledge
        counts = Dictionary(uniqueKeysWithValues: (pledge.categories + pledge.extras).map { ($0, 0) })
    }

    /// The promise's headline (`report.md`).
    public var headline: Headline { Self.headline(pledge, counted: counted, counts) }

    /// The wait notice's second headline: delays notified of delays.
    public var delaysHeadline: Headline? {
        pledge == .waitNotice ? Headline(counts["delays_notified"] ?? 0, of: counts["delays"] ?? 0) : nil
    }

    public static func headline(_ pledge: Pledge, counted: Int, _ counts: [String: Int]) -> Headline {
        switch pledge {
        case .checkinCall:
            return Headline(counts["called_on_day"] ?? 0, of: counted - (counts["not_required"] ?? 0))
        case .waitNotice:
            return Headline(counts["informed"] ?? 0, of: counted - (counts["suppressed"] ?? 0))
        case .openAccessInfo:
            return Headline((counts["in_time"] ?? 0) + (counts["in_time_late_booking"] ?? 0), of: counted - (counts["suppressed"] ?? 0))
        }
    }

    mutating func add(_ e: PledgeEntry) {
        let place = e.place ?? "(no \(pledge.placeWord))"
        var mine = byPlace[place] ?? Dictionary(uniqueKeysWithValues: (["counted", "excluded"] + pledge.categories + pledge.extras).map { ($0, 0) })
        guard let category = e.category else {
            excluded += 1
            mine["excluded", default: 0] += 1
            listed["excluded", default: []].append(e.contact)
            byPlace[place] = mine
            return
        }
        counted += 1
        counts[category, default: 0] += 1
        mine["counted", default: 0] += 1
        mine[category, default: 0] += 1
        listed["counted", default: []].append(e.contact)
        listed[category, default: []].append(e.contact)
        for (k, n) in e.extras {
            counts[k, default: 0] += n
            mine[k, default: 0] += n
            listed[k, default: []].append(e.contact)
        }
        byPlace[place] = mine
    }
}

/// The pledge report for a period (`report.md`): each promise's numbers, and
/// for a period longer than a month each promise's headline month by month.
public struct PledgeReport: Equatable, Sendable {
    public var from: LocalDate
    public var to: LocalDate
    public var place: String?
    public var generatedAt: Date
    public var results: [PledgeResult]
    /// Month (`YYYY-MM`) -> promise -> headline, when the period spans more than one month.
    public var months: [(month: String, headlines: [Pledge: Headline])]

    public static func == (a: PledgeReport, b: PledgeReport) -> Bool {
        a.from == b.from && a.to == b.to && a.place == b.place && a.generatedAt == b.generatedAt && a.results == b.results
            && a.months.map(\.month) == b.months.map(\.month) && a.months.map(\.headlines) == b.months.map(\.headlines)
    }

    /// Counts `bookings` (the store gives those whose anchor may fall in the
    /// period) by `rules` as of `now`; `place` keeps one ward or clinic.
    public static func make(_ bookings: [BookingFacts], from: LocalDate, to: LocalDate, place: String?,
                            rules: PledgeRules) -> PledgeReport {
        var results = Dictionary(uniqueKeysWithValues: Pledge.allCases.map { ($0, PledgeResult($0)) })
        var monthly: [String: [Pledge: (counted: Int, counts: [String: Int])]] = [:]
        for b in bookings where place == nil || b.place == place {
            for e in rules.entries(b) where e.anchor >= from && e.anchor <= to {
                results[e.pledge]!.add(e)
                guard let category = e.category else { continue }
                let month = String(e.anchor.description.prefix(7))
                var m = monthly[month, default: [:]][e.pledge] ?? (0, [:])
                m.counted += 1
                m.counts[category, default: 0] += 1
                monthly[month, default: [:]][e.pledge] = m
            }
        }
        var months: [(String, [Pledge: Headline])] = []
        if from.year != to.year || from.month != to.month {
            var day = LocalDate(year: from.year, month: from.month, day: 1)
            while day <= to {
                let key = String(day.description.prefix(7))
                let found = monthly[key] ?? [:]
                months.append((key, Dictionary(uniqueKeysWithValues: Pledge.allCases.map { p in
                    let m = found[p] ?? (0, [:])
                    return (p, PledgeResult.headline(p, counted: m.counted, m.counts))
                })))
                day = day.month == 12 ? LocalDate(year: day.year + 1, month: 1, day: 1) : LocalDate(year: day.year, month: day.month + 1, day: 1)
            }
        }
        return PledgeReport(from: from, to: to, place: place, generatedAt: rules.now,
                            results: Pledge.allCases.map { results[$0]! }, months: months)
    }
}
