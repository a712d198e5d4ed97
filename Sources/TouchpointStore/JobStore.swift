import Foundation
import GRDB
import TouchpointDomain

/// Reads and writes jobs with their history, keeping the per-kind/state
/// counts `status` shows in step. Used inside a write transaction.
struct JobWriter {
    let db: Database
    let rules: SchedulingRules
    private let insert: PreparedSQL
    private let history: PreparedSQL
    private let count: PreparedSQL
    private let byBooking: PreparedSQL
    private let byPatient: PreparedSQL
    /// When set, count changes gather here and `flushCounts()` writes them
    /// once: an ingest batch moves tens of thousands of jobs between a dozen
    /// (kind, state) pairs.
    private let pending: CountDeltas?

    final class CountDeltas {
        struct Key: Hashable {
            var kind: JobKind
            var state: JobState
        }
        var byKey: [Key: Int] = [:]
    }

    static let columns = "id, kind, booking_kind, ref, patient_id, state, due_at, expires_at, created_at, revision, attempts, ward, expected_at, delay_reason, call_day, overdue_since, outcome, wound_care, rule, note, last_attempt_at"

    init(db: Database, rules: SchedulingRules, gatherCounts: Bool = false) throws {
        self.db = db
        self.rules = rules
        self.pending = gatherCounts ? CountDeltas() : nil
        insert = try PreparedSQL(db, """
            INSERT OR REPLACE INTO jobs (\(Self.columns), updated_at, next_check_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        history = try PreparedSQL(db, "INSERT INTO job_history (job_id, at, actor, from_state, to_state, reason) VALUES (?, ?, ?, ?, ?, ?)")
        count = try PreparedSQL(db, """
            INSERT INTO job_counts (kind, state, n) VALUES (?1, ?2, ?3)
            ON CONFLICT (kind, state) DO UPDATE SET n = n + ?3
            """)
        byBooking = try PreparedSQL(db, "SELECT \(Self.columns) FROM jobs WHERE booking_kind = ? AND ref = ? ORDER BY created_at, id")
        byPatient = try PreparedSQL(db, "SELECT \(Self.columns) FROM jobs WHERE patient_id = ? AND state IN ('scheduled', 'due')")
    }

    func jobs(of kind: BookingKind, _ ref: String) throws -> [Job] {
        byBooking.bind(1, kind.rawValue)
        byBooking.bind(2, ref)
        return try byBooking.all(db, Self.read)
    }

    func pendingJobs(ofPatient id: String) throws -> [Job] {
        byPatient.bind(1, id)
        return try byPatient.all(db, Self.read)
    }

    /// Saves a job as a rule left it, with the history line and the counts.
    func save(_ u: JobUpdate, now: Date) throws {
        let j = u.job
        let s = insert
        s.bind(1, j.id); s.bind(2, j.kind.rawValue); s.bind(3, j.bookingKind.rawValue); s.bind(4, j.ref)
        s.bind(5, j.patientID); s.bind(6, j.state.rawValue); s.bind(7, j.dueAt); s.bind(8, j.expiresAt)
        s.bind(9, j.createdAt); s.bind(10, j.revision); s.bind(11, j.attempts); s.bind(12, j.ward)
        s.bind(13, j.expectedAt); s.bind(14, j.delayReason); s.bind(15, j.callDay?.description)
        s.bind(16, j.overdueSince?.description); s.bind(17, j.outcome); s.bind(18, j.woundCare); s.bind(19, j.rule)
        s.bind(20, j.note); s.bind(21, j.lastAttemptAt); s.bind(22, now); s.bind(23, j.nextCheck(rules: rules))
        try s.run(db)
        let c = u.change
        history.bind(1, c.jobID); history.bind(2, c.at); history.bind(3, c.actor); history.bind(4, c.from?.rawValue)
        history.bind(5, c.to.rawValue); history.bind(6, c.reason)
        try history.run(db)
        if c.from != c.to {
            if let from = c.from { try bump(j.kind, from, -1) }
            try bump(j.kind, c.to, 1)
        }
    }

    private func bump(_ kind: JobKind, _ state: JobState, _ by: Int) throws {
        if let pending {
            pending.byKey[CountDeltas.Key(kind: kind, state: state), default: 0] += by
        } else {
            try addToCount(kind, state, by)
        }
    }

    private func addToCount(_ kind: JobKind, _ state: JobState, _ by: Int) throws {
        count.bind(1, kind.rawValue); count.bind(2, state.rawValue); count.bind(3, by)
        try count.run(db)
    }

    /// Writes the gathered count changes; call before the transaction commits.
    func flushCounts() throws {
        guard let pending else { return }
        for (key, by) in pending.byKey where by != 0 {
            try addToCount(key.kind, key.state, by)
        }
        pending.byKey.removeAll()
    }

    static func read(_ r: PreparedSQL) -> Job {
        Job(id: r.string(0)!, kind: JobKind(rawValue: r.string(1)!)!, bookingKind: BookingKind(rawValue: r.string(2)!)!,
            ref: r.string(3)!, patientID: r.string(4)!, state: JobState(rawValue: r.string(5)!)!, dueAt: r.date(6)!,
            expiresAt: r.date(7)!, createdAt: r.date(8)!, revision: Int(r.int(9) ?? 1), attempts: Int(r.int(10) ?? 0),
            ward: r.string(11), expectedAt: r.date(12), delayReason: r.string(13),
            callDay: r.string(14).flatMap { LocalDate(iso: $0) }, overdueSince: r.string(15).flatMap { LocalDate(iso: $0) },
            outcome: r.string(16), woundCare: r.int(17).map { $0 != 0 }, rule: r.string(18)!, note: r.string(19),
            lastAttemptAt: r.date(20))
    }
}

/// One line of a job's history, as `job` and `explain` show it.
public struct JobHistoryEntry: Equatable, Sendable {
    public var at: Date
    public var actor: String
    public var from: String?
    public var to: String
    public var reason: String
}

/// Filters of `touchpointctl jobs`.
public struct JobFilter: Sendable {
    public var kind: JobKind?
    public var state: JobState?
    public var ref: String?
    public var patientID: String?
    public var dueFrom: Date?
    public var dueTo: Date?
    public var limit: Int

    public init(kind: JobKind? = nil, state: JobState? = nil, ref: String? = nil, patientID: String? = nil,
                dueFrom: Date? = nil, dueTo: Date? = nil, limit: Int = 100) {
        self.kind = kind
        self.state = state
        self.ref = ref
        self.patientID = patientID
        self.dueFrom = dueFrom
        self.dueTo = dueTo
        self.limit = limit
    }
}

extension Store {
    /// Moves every job whose next check has come (dispatch, expiry, call
    /// carry-over, escalation), in transactions of at most 2,000 jobs.
    /// Returns what changed, for the log.
    public func runDue(now: Date, rules: SchedulingRules, defaultChannel: Channel) throws -> [JobUpdate] {
        var all: [JobUpdate] = []
        while true {
            let (seen, batch): (Int, [JobUpdate]) = try write { db in
                let writer = try JobWriter(db: db, rules: rules)
                let due = try PreparedSQL(db, "SELECT \(JobWriter.columns) FROM jobs WHERE next_check_at <= ? ORDER BY next_check_at LIMIT 2000")
                due.bind(1, now)
                let jobs = try due.all(db, JobWriter.read)
                let planner = Planner(rules: rules, now: now)
                var out: [JobUpdate] = []
                for job in jobs {
                    var current = job
                    let patient = job.kind.isNotice ? try EventApplier.loadPatient(db, job.patientID) : nil
                    let channel = patient?.channel ?? defaultChannel
                    // Several steps may be owed after downtime (due, overdue, escalated).
                    for _ in 0..<400 {
                        guard let u = planner.advance(current, patient: patient, channel: channel) else { break }
                        try writer.save(u, now: now)
                        out.append(u)
                        current = u.job
                    }
                }
                return (jobs.count, out)
            }
            all += batch
            // Each job was advanced as far as `now` allows; a short batch means none is left.
            if seen < 2000 { break }
        }
        return all
    }

    /// The earliest instant a job needs looking at, nil if none will.
    public func nextCheckAt() throws -> Date? {
        try pool.read { db in try Int64.fetchOne(db, sql: "SELECT min(next_check_at) FROM jobs WHERE next_check_at IS NOT NULL").map(Date.init(millis:)) }
    }

    /// Re-plans jobs not yet due under new rules (a reload). Returns what changed.
    public func replan(rules: SchedulingRules, now: Date) throws -> [JobUpdate] {
        try write { db in
            let writer = try JobWriter(db: db, rules: rules)
            let planner = Planner(rules: rules, now: now)
            let scheduled = try PreparedSQL(db, "SELECT \(JobWriter.columns) FROM jobs WHERE state = 'scheduled'")
            var out: [JobUpdate] = []
            for job in try scheduled.all(db, JobWriter.read) {
                guard let booking = try EventApplier.loadBooking(db, job.bookingKind, job.ref),
                      let u = planner.replan(job, booking: booking) else { continue }
                try writer.save(u, now: now)
                out.append(u)
            }
            return out
        }
    }

    static func readJobCounts(_ db: Database) throws -> [String: [String: Int]] {
        var out: [String: [String: Int]] = [:]
        for row in try Row.fetchAll(db, sql: "SELECT kind, state, n FROM job_counts WHERE n != 0") {
            out[row["kind"], default: [:]][row["state"]] = row["n"]
        }
        return out
    }

    public func jobs(_ f: JobFilter) async throws -> [Job] {
        try await pool.read { db in
            var sql = "SELECT \(JobWriter.columns) FROM jobs WHERE 1"
            var args: [(PreparedSQL, Int32) -> Void] = []
            if let k = f.kind { sql += " AND kind = ?"; args.append { $0.bind($1, k.rawValue) } }
            if let s = f.state { sql += " AND state = ?"; args.append { $0.bind($1, s.rawValue) } }
            if let r = f.ref { sql += " AND ref = ?"; args.append { $0.bind($1, r) } }
            if let p = f.patientID { sql += " AND patient_id = ?"; args.append { $0.bind($1, p) } }
            if let d = f.dueFrom { sql += " AND due_at >= ?"; args.append { $0.bind($1, d) } }
            if let d = f.dueTo { sql += " AND due_at < ?"; args.append { $0.bind($1, d) } }
            sql += " ORDER BY due_at, id LIMIT \(max(1, f.limit))"
            let s = try PreparedSQL(db, sql)
            for (i, bind) in args.enumerated() { bind(s, Int32(i + 1)) }
            return try s.all(db, JobWriter.read)
        }
    }

    public func job(id: String) async throws -> (Job, [JobHistoryEntry])? {
        try await pool.read { db in
            let s = try PreparedSQL(db, "SELECT \(JobWriter.columns) FROM jobs WHERE id = ?")
            s.bind(1, id)
            guard let job = try s.first(db, JobWriter.read) else { return nil }
            return (job, try Self.history(db, id))
        }
    }

    /// Every job of a booking (either name space) with its history, and the booking.
    public func explain(ref: String) async throws -> [(Booking, [(Job, [JobHistoryEntry])])] {
        try await pool.read { db in
            var out: [(Booking, [(Job, [JobHistoryEntry])])] = []
            for kind in BookingKind.allCases {
                guard let b = try EventApplier.loadBooking(db, kind, ref) else { continue }
                let s = try PreparedSQL(db, "SELECT \(JobWriter.columns) FROM jobs WHERE booking_kind = ? AND ref = ? ORDER BY created_at, id")
                s.bind(1, kind.rawValue)
                s.bind(2, ref)
                let jobs = try s.all(db, JobWriter.read)
                out.append((b, try jobs.map { ($0, try Self.history(db, $0.id)) }))
            }
            return out
        }
    }

    static func history(_ db: Database, _ id: String) throws -> [JobHistoryEntry] {
        try Row.fetchAll(db, sql: "SELECT at, actor, from_state, to_state, reason FROM job_history WHERE job_id = ? ORDER BY id", arguments: [id])
            .map { JobHistoryEntry(at: Date(millis: $0["at"]), actor: $0["actor"], from: $0["from_state"], to: $0["to_state"], reason: $0["reason"]) }
    }
}

/// One line of the ward's call list: the call and what a nurse needs to make it.
public struct CallRow: Sendable {
    public var job: Job
    public var patientName: String?
    public var phone: String?
    public var voicemailOK: Bool
    public var procedure: String?
    public var surgeryAt: Date?
}

extension Store {
    /// Records a call outcome for `actor`, in one transaction; refuses (changing
    /// nothing) an outcome for a job that is not a call, not due, closed or unknown.
    public func recordOutcome(jobID: String, outcome: CallOutcome, woundCare: Bool?, note: String?, actor: String,
                              now: Date, rules: SchedulingRules) throws -> Result<Job, OutcomeRefusal> {
        try write { db in
            let s = try PreparedSQL(db, "SELECT \(JobWriter.columns) FROM jobs WHERE id = ?")
            s.bind(1, jobID)
            guard let job = try s.first(db, JobWriter.read) else {
                return .failure(OutcomeRefusal("no job \"\(jobID)\" (touchpointctl calls lists today's calls with their job ids)"))
            }
            switch Planner(rules: rules, now: now).record(outcome, on: job, woundCare: woundCare, note: note, actor: actor) {
            case .failure(let f):
                return .failure(f)
            case .success(let (u, _)):
                try JobWriter(db: db, rules: rules).save(u, now: now)
                try db.execute(sql: "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, 'outcome', ?, ?)",
                               arguments: [now.millis, actor, jobID, outcome.rawValue])
                return .success(u.job)
            }
        }
    }

    /// The call list for `day` (calls due that day, overdue first, then by due
    /// time) or, with `escalated`, the breast care nurse's list.
    public func calls(day: LocalDate, ward: String?, escalated: Bool, rules: SchedulingRules) async throws -> [CallRow] {
        let from = rules.clock.instant(on: day, at: TimeOfDay(hour: 0, minute: 0))
        let to = rules.clock.instant(on: day.adding(days: 1), at: TimeOfDay(hour: 0, minute: 0))
        return try await pool.read { db in
            let cols = JobWriter.columns.split(separator: ",").map { "j." + $0.trimmingCharacters(in: .whitespaces) }.joined(separator: ", ")
            var sql = """
                SELECT \(cols), p.name, p.phone, p.voicemail_ok, b.procedure, b.at
                FROM jobs j
                LEFT JOIN patients p ON p.id = j.patient_id
                LEFT JOIN bookings b ON b.kind = j.booking_kind AND b.ref = j.ref
                WHERE j.kind = 'checkin_call'
                """
            sql += escalated ? " AND j.state = 'escalated'" : " AND j.state IN ('scheduled', 'due') AND j.due_at >= ? AND j.due_at < ?"
            if ward != nil { sql += " AND j.ward = ?" }
            sql += " ORDER BY (j.overdue_since IS NULL), j.overdue_since, j.due_at, j.id"
            let s = try PreparedSQL(db, sql)
            var i: Int32 = 1
            if !escalated {
                s.bind(1, from)
                s.bind(2, to)
                i = 3
            }
            if let ward { s.bind(i, ward) }
            return try s.all(db) { r in
                CallRow(job: JobWriter.read(r), patientName: r.string(21), phone: r.string(22), voicemailOK: r.bool(23),
                        procedure: r.string(24), surgeryAt: r.date(25))
            }
        }
    }
}

extension Store {
    /// An admin cancels a pending job, with a reason; refused (changing nothing) otherwise.
    public func cancelJob(id: String, reason: String, actor: String, now: Date, rules: SchedulingRules) throws -> Result<Job, OutcomeRefusal> {
        try changeJob(id: id, actor: actor, now: now, rules: rules, action: "cancel") { job in
            guard job.state.isPending else {
                return .failure(OutcomeRefusal("\(job.id) is \(job.state.rawValue): only a scheduled or due job can be cancelled"))
            }
            var j = job
            j.state = .cancelled
            return .success(JobUpdate(job: j, change: JobChange(jobID: j.id, at: now, actor: actor, from: job.state, to: .cancelled,
                                                               reason: "cancelled by \(actor): \(reason)")))
        }
    }

    /// An admin puts a failed notice back in the queue, due now.
    public func retryJob(id: String, actor: String, now: Date, rules: SchedulingRules) throws -> Result<Job, OutcomeRefusal> {
        try changeJob(id: id, actor: actor, now: now, rules: rules, action: "retry") { job in
            guard job.state == .failed else {
                return .failure(OutcomeRefusal("\(job.id) is \(job.state.rawValue): only a failed notice can be retried"))
            }
            guard now < job.expiresAt else {
                return .failure(OutcomeRefusal("\(job.id) expired at \(Timestamp.rfc3339(job.expiresAt)): it is of no use now"))
            }
            var j = job
            j.state = .scheduled
            j.dueAt = now
            return .success(JobUpdate(job: j, change: JobChange(jobID: j.id, at: now, actor: actor, from: .failed, to: .scheduled,
                                                               reason: "put back in the queue by \(actor)")))
        }
    }

    private func changeJob(id: String, actor: String, now: Date, rules: SchedulingRules, action: String,
                           _ change: (Job) -> Result<JobUpdate, OutcomeRefusal>) throws -> Result<Job, OutcomeRefusal> {
        try write { db in
            let s = try PreparedSQL(db, "SELECT \(JobWriter.columns) FROM jobs WHERE id = ?")
            s.bind(1, id)
            guard let job = try s.first(db, JobWriter.read) else {
                return .failure(OutcomeRefusal("no job \"\(id)\" (touchpointctl jobs lists them)"))
            }
            switch change(job) {
            case .failure(let f): return .failure(f)
            case .success(let u):
                try JobWriter(db: db, rules: rules).save(u, now: now)
                try db.execute(sql: "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)",
                               arguments: [now.millis, actor, action, id, u.change.reason])
                return .success(u.job)
            }
        }
    }
}
