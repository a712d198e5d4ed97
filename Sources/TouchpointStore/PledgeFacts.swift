import Foundation
import GRDB
import TouchpointDomain

/// The period's bookings, as `pledgeBookings` reads them, in the order
/// read, with where each is by its ref (surgeries and Open Access
/// appointments are ref name spaces of their own).
public struct PledgeBookings: Sendable {
    var list: [BookingFacts] = []
    var surgeries: [String: Int] = [:]
    var openAccess: [String: Int] = [:]

    func index(_ kind: String, _ ref: String) -> Int? {
        kind == BookingKind.surgery.rawValue ? surgeries[ref] : openAccess[ref]
    }
}

/// What happened to one job, as the report needs it: the last time it
/// became failed or cancelled, whether it was escalated, when a notice was
/// first accepted, a call's outcomes.
struct JobHappenings: Sendable {
    var failed: Date?
    var cancelled: Date?
    var escalated = false
    var sent: Date?
    var attempts: [CallAttempt] = []
}

/// What happened to jobs, by job id, as `pledgeEvents` reads them; and
/// delays by surgery ref.
public struct PledgeEvents: Sendable {
    var jobs: [String: JobHappenings] = [:]
    var delays: [String: [DelayFact]] = [:]
}

/// The report's facts in a few reads: the period's bookings (through
/// their index, `bookings_day`) then their jobs on one of the store's
/// readers, and what happened to jobs on the other, each in one pass over
/// its table; `adding(_:)` puts them together.
/// For a year of a large trust that is several times faster than reaching
/// them booking by booking, and for a month still a fraction of a second.
/// The counting is Domain's (`PledgeRules`).
extension StoreReading {
    func each(_ sql: String, binding: [Date] = [], _ body: (PreparedSQL) throws -> Void) throws {
        let s = PreparedSQL(try db.cachedStatement(sql: sql))
        for (i, d) in binding.enumerated() { s.bind(Int32(i + 1), d) }
        try s.each(db, body)
    }

    /// The bookings whose day (the surgery's when performed, else as
    /// booked; the appointment's) falls in [`from`, `to`).
    public func pledgeBookings(from: Date, to: Date) throws -> PledgeBookings {
        var deceased = Set<String>()
        try each("SELECT id FROM patients WHERE deceased = 1") { deceased.insert(try $0.required(0)) }
        var out = PledgeBookings()
        try each(Query.pledgeBookings, binding: [from, to]) { r in
            let (kind, ref) = (try r.value(0, as: BookingKind.self), try r.required(1) as String)
            if kind == .surgery { out.surgeries[ref] = out.list.count } else { out.openAccess[ref] = out.list.count }
            out.list.append(BookingFacts(kind: kind, ref: ref, place: r.string(2),
                                          at: try r.requiredDate(3), performedAt: r.date(4), expectedAt: r.date(5), bookedAt: r.date(6),
                                          cancelled: r.bool(7), patientDeceased: try !deceased.isEmpty && deceased.contains(r.required(8)),
                                          contacts: []))
        }
        return out
    }

    /// Adds their jobs to `bookings` (what happened to each is added after, `adding(_:)`).
    public func addPledgeJobs(to bookings: inout PledgeBookings) throws {
        try each("""
            SELECT booking_kind, ref, id, kind, state, due_at, created_at, call_day, outcome, expected_at, last_attempt_at, attempts,
                   delivery, delivery_at FROM jobs
            """) { r in
            guard let i = bookings.index(try r.required(0), try r.required(1)) else { return }
            let delivery = try r.optionalValue(12, as: DeliveryStatus.self)
            bookings.list[i].contacts.append(ContactFacts(
                id: try r.required(2), kind: try r.value(3, as: JobKind.self), state: try r.value(4, as: JobState.self),
                dueAt: try r.requiredDate(5), createdAt: try r.requiredDate(6),
                callDay: r.string(7).flatMap(LocalDate.init(iso:)), outcome: try r.optionalValue(8, as: CallOutcome.self),
                expectedAt: r.date(9), lastAttemptAt: r.date(10), attemptCount: Int(r.int(11) ?? 0),
                failedAt: delivery?.isFailure == true ? r.date(13) : nil, delivery: delivery))
        }
    }

    /// What happened to every job (only the transitions, deliveries and
    /// outcomes the report counts), and every delay.
    public func pledgeEvents() throws -> PledgeEvents {
        var e = PledgeEvents()
        try each("""
            SELECT job_id, to_state, at FROM job_history
            WHERE to_state IN (\(JobState.failed.sqlLiteral), \(JobState.cancelled.sqlLiteral), \(JobState.escalated.sqlLiteral))
            """) { r in
            let id = try r.required(0)
            let when = try r.requiredDate(2)
            switch try r.value(1, as: JobState.self) {
            case .failed: e.jobs[id, default: JobHappenings()].failed = max(e.jobs[id]?.failed ?? when, when)
            case .cancelled: e.jobs[id, default: JobHappenings()].cancelled = max(e.jobs[id]?.cancelled ?? when, when)
            default: e.jobs[id, default: JobHappenings()].escalated = true
            }
        }
        try each("SELECT job_id, at FROM deliveries WHERE result = \(DeliveryAttempt.Result.sent.sqlLiteral)") { r in
            let id = try r.required(0)
            let when = try r.requiredDate(1)
            e.jobs[id, default: JobHappenings()].sent = min(e.jobs[id]?.sent ?? when, when)
        }
        try each("SELECT job_id, at, actor, outcome, wound_care FROM call_attempts WHERE withdrawn IS NULL ORDER BY id") { r in
            e.jobs[try r.required(0), default: JobHappenings()].attempts.append(CallAttempt(
                at: try r.requiredDate(1), by: try r.required(2), outcome: try r.value(3, as: CallOutcome.self),
                woundCare: r.int(4).map { $0 != 0 }, note: nil))
        }
        try each("SELECT ref, at, expected_at FROM delays ORDER BY id") { r in
            e.delays[try r.required(0), default: []].append(DelayFact(at: try r.requiredDate(1), expectedAt: try r.requiredDate(2)))
        }
        return e
    }
}

extension PledgeBookings {
    /// The bookings in the order they were read, each job with what happened
    /// to it, each surgery with its delays.
    public consuming func adding(_ e: PledgeEvents) -> [BookingFacts] {
        for b in list.indices {
            for i in list[b].contacts.indices {
                guard let h = e.jobs[list[b].contacts[i].id] else { continue }
                list[b].contacts[i].attempts = h.attempts
                list[b].contacts[i].sentAt = h.sent
                // The later of a failed state and a delivery failure (read with the job).
                if let failed = h.failed { list[b].contacts[i].failedAt = max(failed, list[b].contacts[i].failedAt ?? failed) }
                list[b].contacts[i].cancelledAt = h.cancelled
                list[b].contacts[i].escalated = h.escalated
            }
        }
        for (ref, delays) in e.delays {
            if let b = surgeries[ref] { list[b].delays = delays }
        }
        return list
    }
}
