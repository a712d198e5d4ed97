import Foundation
import GRDB
import TouchpointDomain

/// One attempt to hand a notice to the transport.
public struct DeliveryAttempt: Equatable, Sendable {
    public var at: Date
    /// `sent`, `retry` or `failed`.
    public var result: String
    /// The transport's words: an exit status, the first 2 KiB of standard error.
    public var detail: String?
}

/// How a delivery attempt ended, as the store records it.
public enum DeliveryOutcome: Sendable {
    case sent
    case retry(String)
    case failed(String)
}

/// Retry timing of `dispatch.md`.
public struct RetryPolicy: Sendable {
    public var initial: TimeInterval
    public var maximum: TimeInterval
    public var maxAge: TimeInterval

    public init(initial: TimeInterval, maximum: TimeInterval, maxAge: TimeInterval) {
        self.initial = initial
        self.maximum = maximum
        self.maxAge = maxAge
    }

    /// The wait before attempt `n + 1` after `n` failed ones: doubling from
    /// `initial`, capped at `maximum`, plus up to a quarter more of jitter.
    public func delay(afterAttempts n: Int, jitter: Double) -> TimeInterval {
        let base = min(initial * pow(2, Double(max(0, n - 1))), maximum)
        return base * (1 + 0.25 * min(max(jitter, 0), 1))
    }
}

extension Store {
    /// Notices due for dispatch, oldest first, with what a message needs.
    public func dueNotices(limit: Int) throws -> [(Job, Patient, Booking)] {
        try pool.read { db in
            let s = try PreparedSQL(db, "SELECT \(JobWriter.columns) FROM jobs WHERE state = 'due' AND kind != 'checkin_call' ORDER BY due_at LIMIT ?")
            s.bind(1, limit)
            return try s.all(db, JobWriter.read).compactMap { job in
                guard let p = try? EventApplier.loadPatient(db, job.patientID),
                      let b = try? EventApplier.loadBooking(db, job.bookingKind, job.ref) else { return nil }
                return (job, p, b)
            }
        }
    }

    /// Records an attempt and moves the notice on: done, back in the queue
    /// after a backoff, or failed (dead letter) at its expiry or `max_age`.
    /// Returns the job as it now stands.
    @discardableResult
    public func recordDelivery(jobID: String, outcome: DeliveryOutcome, now: Date, rules: SchedulingRules,
                               retry policy: RetryPolicy, jitter: Double) throws -> Job? {
        try write { db in
            let s = try PreparedSQL(db, "SELECT \(JobWriter.columns) FROM jobs WHERE id = ?")
            s.bind(1, jobID)
            guard let job = try s.first(db, JobWriter.read), job.state == .due else { return nil }
            var j = job
            j.attempts += 1
            j.lastAttemptAt = now
            let (result, detail): (String, String?)
            let change: JobChange
            switch outcome {
            case .sent:
                (result, detail) = ("sent", nil)
                j.state = .done
                change = JobChange(jobID: j.id, at: now, actor: Planner.engine, from: .due, to: .done,
                                   reason: "handed to the transport (attempt \(j.attempts))")
            case .failed(let why):
                (result, detail) = ("failed", why)
                j.state = .failed
                change = JobChange(jobID: j.id, at: now, actor: Planner.engine, from: .due, to: .failed, reason: "the transport failed it: \(why.prefix(300))")
            case .retry(let why):
                (result, detail) = ("retry", why)
                let first = try Int64.fetchOne(db, sql: "SELECT min(at) FROM deliveries WHERE job_id = ?", arguments: [jobID]).map(Date.init(millis:)) ?? now
                let next = now.addingTimeInterval(policy.delay(afterAttempts: j.attempts, jitter: jitter))
                if next >= job.expiresAt || next.timeIntervalSince(first) > policy.maxAge {
                    j.state = .failed
                    let limit = next >= job.expiresAt ? "its expiry (\(Timestamp.rfc3339(job.expiresAt)))" : "transport.max_age"
                    change = JobChange(jobID: j.id, at: now, actor: Planner.engine, from: .due, to: .failed,
                                       reason: "not delivered after \(j.attempts) attempt(s); the next would pass \(limit): \(why.prefix(300))")
                } else {
                    j.state = .scheduled
                    j.dueAt = next
                    change = JobChange(jobID: j.id, at: now, actor: Planner.engine, from: .due, to: .scheduled,
                                       reason: "attempt \(j.attempts) not delivered (\(why.prefix(200))); next at \(Timestamp.rfc3339(next))")
                }
            }
            try db.execute(sql: "INSERT INTO deliveries (job_id, at, result, detail) VALUES (?, ?, ?, ?)",
                           arguments: [jobID, now.millis, result, detail.map { String($0.prefix(2300)) }])
            try JobWriter(db: db, rules: rules).save(JobUpdate(job: j, change: change), now: now)
            return j
        }
    }

    public func deliveries(jobID: String) async throws -> [DeliveryAttempt] {
        try await pool.read { db in
            try Row.fetchAll(db, sql: "SELECT at, result, detail FROM deliveries WHERE job_id = ? ORDER BY id", arguments: [jobID])
                .map { DeliveryAttempt(at: Date(millis: $0["at"]), result: $0["result"], detail: $0["detail"]) }
        }
    }
}
