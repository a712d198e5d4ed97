import Foundation
import GRDB
import TouchpointDomain

/// A booking's key (kind, ref) as the report stitches its rows together.
public struct BookingKey: Hashable, Sendable {
    var kind: String
    var ref: String
}

/// The period's bookings, as `pledgeBookings` reads them.
public struct PledgeBookings: Sendable {
    var order: [BookingKey]
    var facts: [BookingKey: BookingFacts]
    public var keys: Set<BookingKey> { Set(order) }
}

/// What happened to jobs, by job id, as `pledgeEvents` reads them: the
/// last time each became failed or cancelled, whether it was escalated,
/// when a notice was first accepted, a call's outcomes; and delays by ref.
public struct PledgeEvents: Sendable {
    var failed: [String: Date] = [:]
    var cancelled: [String: Date] = [:]
    var escalated: Set<String> = []
    var sent: [String: Date] = [:]
    var attempts: [String: [CallAttempt]] = [:]
    var delays: [String: [DelayFact]] = [:]
}

/// The report's facts in three reads: the period's bookings (through
/// their index, `bookings_day`), then their jobs and what happened to jobs,
/// each in one pass over its table, on the store's two readers at once.
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
        var out = PledgeBookings(order: [], facts: [:])
        try each("""
            SELECT b.kind, b.ref, coalesce(b.ward, b.clinic), b.at, b.performed_at, b.expected_at, b.booked_at, b.cancelled, b.patient_id
            FROM bookings b WHERE coalesce(b.performed_at, b.at) >= ? AND coalesce(b.performed_at, b.at) < ?
            """, binding: [from, to]) { r in
            let (kind, ref) = (try r.required(0), try r.required(1))
            let key = BookingKey(kind: kind, ref: ref)
            out.facts[key] = BookingFacts(kind: try r.value(0, as: BookingKind.self), ref: ref, place: r.string(2),
                                          at: try r.requiredDate(3), performedAt: r.date(4), expectedAt: r.date(5), bookedAt: r.date(6),
                                          cancelled: r.bool(7), patientDeceased: try !deceased.isEmpty && deceased.contains(r.required(8)),
                                          contacts: [])
            out.order.append(key)
        }
        return out
    }

    /// Adds their jobs to `bookings`, each with what happened to it (`events`).
    public func addPledgeJobs(to bookings: inout PledgeBookings, events e: PledgeEvents) throws {
        try each("""
            SELECT booking_kind, ref, id, kind, state, due_at, created_at, call_day, outcome, expected_at, last_attempt_at, attempts FROM jobs
            """) { r in
            guard let i = bookings.facts.index(forKey: BookingKey(kind: try r.required(0), ref: try r.required(1))) else { return }
            let id = try r.required(2)
            bookings.facts.values[i].contacts.append(ContactFacts(
                id: id, kind: try r.value(3, as: JobKind.self), state: try r.value(4, as: JobState.self),
                dueAt: try r.requiredDate(5), createdAt: try r.requiredDate(6),
                callDay: r.string(7).flatMap(LocalDate.init(iso:)), outcome: try r.optionalValue(8, as: CallOutcome.self),
                expectedAt: r.date(9), attempts: e.attempts[id] ?? [], lastAttemptAt: r.date(10), attemptCount: Int(r.int(11) ?? 0),
                sentAt: e.sent[id], failedAt: e.failed[id], cancelledAt: e.cancelled[id], escalated: e.escalated.contains(id)))
        }
        for (ref, delays) in e.delays {
            if let i = bookings.facts.index(forKey: BookingKey(kind: BookingKind.surgery.rawValue, ref: ref)) { bookings.facts.values[i].delays = delays }
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
            case .failed: e.failed[id] = max(e.failed[id] ?? when, when)
            case .cancelled: e.cancelled[id] = max(e.cancelled[id] ?? when, when)
            default: e.escalated.insert(id)
            }
        }
        try each("SELECT job_id, at FROM deliveries WHERE result = \(DeliveryAttempt.Result.sent.sqlLiteral)") { r in
            let id = try r.required(0)
            let when = try r.requiredDate(1)
            e.sent[id] = min(e.sent[id] ?? when, when)
        }
        try each("SELECT job_id, at, actor, outcome, wound_care FROM call_attempts ORDER BY id") { r in
            e.attempts[try r.required(0), default: []].append(CallAttempt(
                at: try r.requiredDate(1), by: try r.required(2), outcome: try r.value(3, as: CallOutcome.self),
                woundCare: r.int(4).map { $0 != 0 }, note: nil))
        }
        try each("SELECT ref, at, expected_at FROM delays ORDER BY id") { r in
            e.delays[try r.required(0), default: []].append(DelayFact(at: try r.requiredDate(1), expectedAt: try r.requiredDate(2)))
        }
        return e
    }

    /// The three reads one after the other, in one transaction.
    public func pledgeFacts(from: Date, to: Date) throws -> [BookingFacts] {
        var bookings = try pledgeBookings(from: from, to: to)
        try addPledgeJobs(to: &bookings, events: try pledgeEvents())
        return bookings.inOrder
    }
}

extension PledgeBookings {
    /// The bookings in the order they were read.
    public var inOrder: [BookingFacts] { order.compactMap { facts[$0] } }
}
