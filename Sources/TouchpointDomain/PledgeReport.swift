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
    public var counts: [PledgeMeasure: Int]
    public var byPlace: [String: [PledgeMeasure: Int]] = [:]
    public var listed: [PledgeMeasure: [PledgeEntry.Listed]] = [:]

    public init(_ pledge: Pledge) {
        self.pledge = pledge
        counts = Dictionary(uniqueKeysWithValues: (pledge.categories + pledge.extras).map { ($0, 0) })
    }

    /// The promise's headline (`report.md`).
    public var headline: Headline { Self.headline(pledge, counted: counted, counts) }

    /// The wait notice's second headline: delays notified of delays.
    public var delaysHeadline: Headline? {
        pledge == .waitNotice ? Headline(counts[.delaysNotified] ?? 0, of: counts[.delays] ?? 0) : nil
    }

    public static func headline(_ pledge: Pledge, counted: Int, _ counts: [PledgeMeasure: Int]) -> Headline {
        switch pledge {
        case .checkinCall:
            return Headline(counts[.calledOnDay] ?? 0, of: counted - (counts[.notRequired] ?? 0))
        case .waitNotice:
            return Headline(counts[.informed] ?? 0, of: counted - (counts[.suppressed] ?? 0))
        case .openAccessInfo:
            return Headline((counts[.inTime] ?? 0) + (counts[.inTimeLateBooking] ?? 0), of: counted - (counts[.suppressed] ?? 0))
        }
    }

    /// Adds one booking's entry; `listing` is the one measure whose jobs are kept (`--list`).
    mutating func add(_ e: PledgeEntry, listing: PledgeMeasure?) {
        let place = e.place ?? "(no \(pledge.placeWord))"
        if byPlace[place] == nil {
            byPlace[place] = Dictionary(uniqueKeysWithValues: ([.counted, .excluded] + pledge.categories + pledge.extras).map { ($0, 0) })
        }
        func list(_ measure: PledgeMeasure) {
            if measure == listing { listed[measure, default: []].append(e.contact) }
        }
        guard let category = e.category else {
            excluded += 1
            byPlace[place]![.excluded, default: 0] += 1
            list(.excluded)
            return
        }
        counted += 1
        counts[category, default: 0] += 1
        byPlace[place]![.counted, default: 0] += 1
        byPlace[place]![category, default: 0] += 1
        list(.counted)
        list(category)
        for (k, n) in e.extras {
            counts[k, default: 0] += n
            byPlace[place]![k, default: 0] += n
            list(k)
        }
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
    /// The contacts the hospital configured, by name.
    public var contacts: [ContactResult] = []
    /// What patients said, per promise, where the hospital's pledge words it
    /// its own way (else `Pledge.patientsSaid`).
    public var youSaid: [Pledge: String] = [:]
    /// The configured contacts with a promise that nobody was due in the
    /// period (for the leaflet; the report's tables count only what was due).
    public var uncountedPromises: [ContactResult] = []
    /// Month (`YYYY-MM`) -> promise -> headline, when the period spans more than one month.
    public var months: [(month: String, headlines: [Pledge: Headline])]

    public static func == (a: PledgeReport, b: PledgeReport) -> Bool {
        a.from == b.from && a.to == b.to && a.place == b.place && a.generatedAt == b.generatedAt && a.results == b.results
            && a.contacts == b.contacts && a.youSaid == b.youSaid && a.uncountedPromises == b.uncountedPromises
            && a.months.map(\.month) == b.months.map(\.month) && a.months.map(\.headlines) == b.months.map(\.headlines)
    }

    /// Counts `bookings` (the store gives those whose anchor may fall in the
    /// period) by `rules` as of `now`; `place` keeps one ward or clinic.
    /// `listing` (`PROMISE.MEASURE`'s measure) keeps the jobs behind that one number.
    public static func make(_ bookings: [BookingFacts], from: LocalDate, to: LocalDate, place: String?,
                            rules: PledgeRules, listing: (Pledge, PledgeMeasure)? = nil) -> PledgeReport {
        var results = Dictionary(uniqueKeysWithValues: Pledge.allCases.map { ($0, PledgeResult($0)) })
        // By month, keyed year * 12 + month (no text per entry: a year holds 200,000).
        var monthly: [Int: [Pledge: (counted: Int, counts: [PledgeMeasure: Int])]] = [:]
        var contacts: [String: ContactResult] = [:]
        for b in bookings where (b.kind == .appointment || b.kind == .treatment) && (place == nil || b.place == place) {
            let day = rules.clock.localDate(of: b.at)
            guard day >= from && day <= to else { continue }
            for (name, worklist, category) in rules.contactEntries(b) {
                var r = contacts[name] ?? ContactResult(name: name, worklist: worklist)
                if let category {
                    r.counted += 1
                    r.counts[category, default: 0] += 1
                } else {
                    r.excluded += 1
                }
                contacts[name] = r
            }
        }
        for b in bookings where place == nil || b.place == place {
            for e in rules.entries(b) where e.anchor >= from && e.anchor <= to {
                results[e.pledge]!.add(e, listing: listing?.0 == e.pledge ? listing?.1 : nil)
                guard let category = e.category else { continue }
                let month = e.anchor.year * 12 + e.anchor.month
                monthly[month, default: [:]][e.pledge, default: (0, [:])].counted += 1
                monthly[month, default: [:]][e.pledge, default: (0, [:])].counts[category, default: 0] += 1
            }
        }
        var months: [(String, [Pledge: Headline])] = []
        if from.year != to.year || from.month != to.month {
            var day = LocalDate(year: from.year, month: from.month, day: 1)
            while day <= to {
                let key = String(day.description.prefix(7))
                let found = monthly[day.year * 12 + day.month] ?? [:]
                months.append((key, Dictionary(uniqueKeysWithValues: Pledge.allCases.map { p in
                    let m = found[p] ?? (0, [:])
                    return (p, PledgeResult.headline(p, counted: m.counted, m.counts))
                })))
                day = day.month == 12 ? LocalDate(year: day.year + 1, month: 1, day: 1) : LocalDate(year: day.year, month: day.month + 1, day: 1)
            }
        }
        var report = PledgeReport(from: from, to: to, place: place, generatedAt: rules.now,
                                  results: Pledge.allCases.map { results[$0]! }, months: months)
        // A contact that keeps a promise of the pledge and that nobody was due
        // in the period: the leaflet says so rather than drop the promise.
        report.uncountedPromises = rules.rules.contacts.filter { $0.promise != nil && contacts[$0.name] == nil }.map { rule in
            var c = ContactResult(name: rule.name, worklist: rule.worklist)
            c.promise = rule.promise
            return c
        }
        report.contacts = contacts.values.sorted { $0.name < $1.name }.map { c in
            var c = c
            c.promise = rules.rules.contacts.first { $0.name == c.name }?.promise
            return c
        }
        return report
    }
}
