import Foundation
import TouchpointDomain
import TouchpointStore

/// The period a report covers: local dates of the hospital, both ends included.
public enum ReportPeriod: Sendable, Equatable {
    /// The current month up to today (the default).
    case thisMonth
    /// The current month up to today once it has had 7 days, else the last
    /// complete month: on the first days of a month "this month" is a day or
    /// two of zeros, and a manager opening the report wants last month's.
    case recentMonth
    /// `YYYY-MM`: the whole month.
    case month(year: Int, month: Int)
    case range(from: LocalDate, to: LocalDate)

    /// From the request's `month`, or `from` and `to`; nil for neither.
    /// Says what is wrong in words a person can act on.
    public static func parse(month: String?, from: String?, to: String?, recent: Bool = false) -> Result<ReportPeriod, CoreFailure> {
        if let month {
            guard from == nil && to == nil else { return .failure(.badRequest("give a month, or a start and an end date, not both", field: "month")) }
            let parts = month.split(separator: "-")
            guard parts.count == 2, parts[0].count == 4, parts[1].count == 2, let y = Int(parts[0]), let m = Int(parts[1]), (1...12).contains(m) else {
                return .failure(.badRequest("a month is YYYY-MM, for example 2026-11 (got \"\(month.prefix(20))\")", field: "month"))
            }
            return .success(.month(year: y, month: m))
        }
        switch (from, to) {
        case (nil, nil):
            return .success(recent ? .recentMonth : .thisMonth)
        case (let f?, let t?):
            guard let a = LocalDate(iso: f) else { return .failure(.badRequest("the start date is YYYY-MM-DD, for example 2026-11-01 (got \"\(f.prefix(20))\")", field: "from")) }
            guard let b = LocalDate(iso: t) else { return .failure(.badRequest("the end date is YYYY-MM-DD, for example 2026-11-30 (got \"\(t.prefix(20))\")", field: "to")) }
            guard a <= b else { return .failure(.badRequest("the start date \(a) is after the end date \(b)", field: "from")) }
            guard b.daysSinceEpoch - a.daysSinceEpoch < 3 * 366 else { return .failure(.badRequest("a report covers at most three years", field: "from")) }
            return .success(.range(from: a, to: b))
        default:
            return .failure(.badRequest("a start date and an end date go together", field: "from"))
        }
    }

    public func dates(today: LocalDate) -> (LocalDate, LocalDate) {
        switch self {
        case .thisMonth:
            return (LocalDate(year: today.year, month: today.month, day: 1), today)
        case .recentMonth:
            if today.day >= 7 { return ReportPeriod.thisMonth.dates(today: today) }
            let (y, m) = today.month == 1 ? (today.year - 1, 12) : (today.year, today.month - 1)
            return ReportPeriod.month(year: y, month: m).dates(today: today)
        case .month(let y, let m):
            return (LocalDate(year: y, month: m, day: 1), LocalDate(year: y, month: m, day: LocalDate.daysInMonth(year: y, month: m)))
        case .range(let a, let b):
            return (a, b)
        }
    }
}

extension Touchpoint {
    /// The pledge report for `period` ("you said, we did"): read-only; the
    /// store gives the facts, Domain counts them (`PledgeRules`). `place`
    /// keeps one ward (calls, wait notices) or clinic (Open Access).
    /// `listing` keeps the jobs behind one measure (`--list`).
    public func report(_ period: ReportPeriod, place: String?, listing: (Pledge, PledgeMeasure)? = nil,
                       by person: Person) async throws(CoreFailure) -> PledgeReport {
        try authorize(.report, person)
        if let wards = person.wards {
            // A person limited to wards sees their wards' numbers, one at a time.
            guard let place else { throw .badRequest("the report is for one of \(wards.joined(separator: ", ")): name it", field: "ward") }
            guard person.sees(ward: place) else { throw person.outsideWards(place) }
        }
        let config = live.config
        let clock = config.clock
        let now = self.now()
        let (from, to) = period.dates(today: clock.localDate(of: now))
        let midnight = TimeOfDay(hour: 0, minute: 0)
        let (start, end) = (clock.instant(on: from, at: midnight), clock.instant(on: to.adding(days: 1), at: midnight))
        let started = ContinuousClock.now
        let facts = try await stored("reading the report") {
            // The store's two readers at once: what happened to jobs, and the
            // period's bookings with their jobs.
            async let events = store.read { try $0.pledgeEvents() }
            let bookings = try await store.read { r in
                var b = try r.pledgeBookings(from: start, to: end)
                try r.addPledgeJobs(to: &b)
                return b
            }
            return bookings.adding(try await events)
        }
        let read = ContinuousClock.now
        var report = PledgeReport.make(facts, from: from, to: to, place: place, rules: PledgeRules(rules: config.schedulingRules, now: now),
                                       listing: listing)
        report.youSaid = config.youSaid
        logger.info("report \(from) to \(to) for \(person.recordedName): \(facts.count) bookings read in \(read - started), counted in \(ContinuousClock.now - read)")
        return report
    }
}
