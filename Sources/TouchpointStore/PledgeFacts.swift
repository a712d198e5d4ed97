import Foundation
import GRDB
import TouchpointDomain

/// A booking's key (kind, ref) as the report stitches its rows together.
struct BookingKey: Hashable {
    var kind: String
    var ref: String
}

extension StoreReading {
    /// What the pledge report counts, for the bookings whose day (the
    /// surgery's when performed, else as booked; the appointment's) falls in
    /// [`from`, `to`): each booking with its contacts, what happened to them
    /// and when, and its delays. A few set-wise queries over the period, each
    /// through an index (`bookings_day`, then the jobs, history, deliveries
    /// and attempts of those bookings by their own indexes); the counting is
    /// Domain's (`PledgeRules`).
    public func pledgeFacts(from: Date, to: Date) throws -> [BookingFacts] {
        let period = "coalesce(b.performed_at, b.at) >= ? AND coalesce(b.performed_at, b.at) < ?"
        func run<T>(_ sql: String, _ read: (PreparedSQL) throws -> T) throws -> [T] {
            let s = PreparedSQL(try db.cachedStatement(sql: sql))
            s.bind(1, from)
            s.bind(2, to)
            return try s.all(db, read)
        }
        var bookings: [BookingKey: BookingFacts] = [:]
        var order: [BookingKey] = []
        for (key, facts) in try run("""
            SELECT b.kind, b.ref, coalesce(b.ward, b.clinic), b.at, b.performed_at, b.expected_at, b.booked_at, b.cancelled, p.deceased
            FROM bookings b LEFT JOIN patients p ON p.id = b.patient_id WHERE \(period)
            """, { r in
                (BookingKey(kind: try r.required(0), ref: try r.required(1)),
                 BookingFacts(kind: try r.value(0, as: BookingKind.self), ref: try r.required(1), place: r.string(2),
                              at: try r.requiredDate(3), performedAt: r.date(4), expectedAt: r.date(5), bookedAt: r.date(6),
                              cancelled: r.bool(7), patientDeceased: r.bool(8), contacts: []))
            }) {
            bookings[key] = facts
            order.append(key)
        }

        // What happened to each job, by its id.
        let ofPeriod = "JOIN jobs j ON j.id = x.job_id JOIN bookings b ON b.kind = j.booking_kind AND b.ref = j.ref WHERE \(period)"
        var transitions: [String: (failed: Date?, cancelled: Date?, escalated: Bool)] = [:]
        for (job, state, at) in try run("""
            SELECT x.job_id, x.to_state, max(x.at) FROM job_history x \(ofPeriod)
            AND x.to_state IN (\(JobState.failed.sqlLiteral), \(JobState.cancelled.sqlLiteral), \(JobState.escalated.sqlLiteral))
            GROUP BY x.job_id, x.to_state
            """, { r in (try r.required(0), try r.value(1, as: JobState.self), try r.requiredDate(2)) }) {
            var t = transitions[job] ?? (nil, nil, false)
            switch state {
            case .failed: t.failed = at
            case .cancelled: t.cancelled = at
            default: t.escalated = true
            }
            transitions[job] = t
        }
        var sent: [String: Date] = [:]
        for (job, at) in try run("""
            SELECT x.job_id, min(x.at) FROM deliveries x \(ofPeriod) AND x.result = \(DeliveryAttempt.Result.sent.sqlLiteral) GROUP BY x.job_id
            """, { r in (try r.required(0), try r.requiredDate(1)) }) {
            sent[job] = at
        }
        var attempts: [String: [CallAttempt]] = [:]
        for (job, a) in try run("""
            SELECT x.job_id, x.at, x.actor, x.outcome, x.wound_care FROM call_attempts x \(ofPeriod) ORDER BY x.id
            """, { r in
                (try r.required(0), CallAttempt(at: try r.requiredDate(1), by: try r.required(2), outcome: try r.value(3, as: CallOutcome.self),
                                                woundCare: r.int(4).map { $0 != 0 }, note: nil))
            }) {
            attempts[job, default: []].append(a)
        }

        for (key, contact) in try run("""
            SELECT j.booking_kind, j.ref, j.id, j.kind, j.state, j.due_at, j.created_at, j.call_day, j.outcome, j.expected_at,
                   j.last_attempt_at, j.attempts
            FROM bookings b JOIN jobs j ON j.booking_kind = b.kind AND j.ref = b.ref WHERE \(period)
            """, { r in
                let id = try r.required(2)
                let t = transitions[id]
                return (BookingKey(kind: try r.required(0), ref: try r.required(1)),
                        ContactFacts(id: id, kind: try r.value(3, as: JobKind.self), state: try r.value(4, as: JobState.self),
                                     dueAt: try r.requiredDate(5), createdAt: try r.requiredDate(6),
                                     callDay: r.string(7).flatMap(LocalDate.init(iso:)), outcome: try r.optionalValue(8, as: CallOutcome.self),
                                     expectedAt: r.date(9), attempts: attempts[id] ?? [], lastAttemptAt: r.date(10),
                                     attemptCount: Int(r.int(11) ?? 0), sentAt: sent[id], failedAt: t?.failed,
                                     cancelledAt: t?.cancelled, escalated: t?.escalated ?? false))
            }) {
            bookings[key]?.contacts.append(contact)
        }
        for (ref, delay) in try run("""
            SELECT x.ref, x.at, x.expected_at FROM delays x JOIN bookings b ON b.kind = \(BookingKind.surgery.sqlLiteral) AND b.ref = x.ref
            WHERE \(period) ORDER BY x.id
            """, { r in (try r.required(0), DelayFact(at: try r.requiredDate(1), expectedAt: try r.requiredDate(2))) }) {
            bookings[BookingKey(kind: BookingKind.surgery.rawValue, ref: ref)]?.delays.append(delay)
        }
        return order.compactMap { bookings[$0] }
    }
}
