import Foundation
import GRDB
import TouchpointDomain

/// One transaction's connection and prepared statements. Valid only inside
/// the closure given to `Store.read` or `Store.write`, on the store's thread.
public struct StoreTransaction {
    let db: Database
    let cache: StatementCache
    /// Job count changes, written once when a write transaction ends.
    let counts: JobCountDeltas?

    func statement(_ q: Query) throws -> PreparedSQL { try cache.statement(q, db) }
}

/// The questions asked of the state, answered inside a read or write
/// transaction (`Store.read`, `Store.write`).
public protocol StoreReading {
    var transaction: StoreTransaction { get }
}

/// A read transaction (a snapshot: what it reads is consistent).
public struct StoreReader: StoreReading {
    public let transaction: StoreTransaction
}


extension StoreReading {
    var db: Database { transaction.db }
    func statement(_ q: Query) throws -> PreparedSQL { try transaction.statement(q) }

    // MARK: Jobs

    public func job(id: String) throws -> Job? {
        let s = try statement(.jobByID)
        s.bind(1, id)
        return try s.first(db) { try $0.job() }
    }

    /// A job with its history, its patient's name and, for a notice, its
    /// delivery attempts.
    public func record(jobID: String) throws -> JobRecord? {
        guard let job = try job(id: jobID) else { return nil }
        let patient = try patient(id: job.patientID)
        var call: CallRow?
        if !job.isNotice {
            let booking = try booking(job.bookingKind, job.ref)
            call = CallRow(job: job, patientName: patient?.name, phone: patient?.phone, voicemailOK: patient?.voicemailOK ?? false,
                           procedure: booking?.procedure, surgeryAt: booking?.at, birthDate: patient?.birthDate, nhsNumber: patient?.nhsNumber,
                           communicationNeeds: patient?.communicationNeeds ?? [])
        }
        return JobRecord(job: job, history: try history(jobID: jobID),
                         deliveries: job.isNotice ? try deliveries(jobID: jobID) : [],
                         attempts: job.isNotice ? [] : try attempts(jobID: jobID),
                         patientName: patient?.name, call: call)
    }

    /// Every outcome recorded on a call, oldest first.
    public func attempts(jobID: String) throws -> [CallAttempt] {
        let s = try statement(.attemptsOfCall)
        s.bind(1, jobID)
        return try s.all(db) { r in
            CallAttempt(at: try r.requiredDate(0), by: try r.required(1), outcome: try r.value(2, as: CallOutcome.self),
                        woundCare: r.int(3).map { $0 != 0 }, note: r.string(4), withdrawn: r.string(5))
        }
    }

    public func history(jobID: String) throws -> [JobChange] {
        let s = try statement(.historyOfJob)
        s.bind(1, jobID)
        return try s.all(db) { r in
            JobChange(jobID: jobID, at: try r.requiredDate(0), actor: try r.required(1),
                      from: try r.optionalValue(2, as: JobState.self), to: try r.value(3, as: JobState.self),
                      reason: try r.required(4))
        }
    }

    public func jobs(of kind: BookingKind, _ ref: String) throws -> [Job] {
        let s = try statement(.jobsOfBooking)
        s.bind(1, kind.rawValue)
        s.bind(2, ref)
        return try s.all(db) { try $0.job() }
    }

    public func pendingJobs(ofPatient id: String) throws -> [Job] {
        let s = try statement(.pendingJobsOfPatient)
        s.bind(1, id)
        return try s.all(db) { try $0.job() }
    }

    public func jobs(_ f: JobFilter) throws -> [Job] {
        var binds: [(PreparedSQL, Int32) -> Void] = []
        if let k = f.kind { binds.append { $0.bind($1, k.rawValue) } }
        if let s = f.state { binds.append { $0.bind($1, s.rawValue) } }
        if let r = f.ref { binds.append { $0.bind($1, r) } }
        if let p = f.patientID { binds.append { $0.bind($1, p) } }
        if let d = f.dueFrom { binds.append { $0.bind($1, d) } }
        if let d = f.dueTo { binds.append { $0.bind($1, d) } }
        for w in f.wards ?? [] { binds.append { $0.bind($1, WardNames.tidy(w)) } }
        let s = PreparedSQL(try db.cachedStatement(sql: Query.jobs(f)))
        for (i, bind) in binds.enumerated() { bind(s, Int32(i + 1)) }
        return try s.all(db) { try $0.job() }
    }

    /// Jobs whose next check has come (dispatch, expiry, carry-over, escalation), oldest first.
    public func jobsToCheck(now: Date, limit: Int) throws -> [Job] {
        let s = try statement(.jobsToCheck)
        s.bind(1, now)
        s.bind(2, limit)
        return try s.all(db) { try $0.job() }
    }

    /// The earliest instant a job needs looking at, nil if none will.
    public func nextCheckAt() throws -> Date? {
        try statement(.nextCheckAt).first(db) { $0.date(0) } ?? nil
    }

    /// Jobs not yet finished (scheduled or due), for a reload to re-plan.
    public func scheduledJobs() throws -> [Job] {
        try statement(.scheduledJobs).all(db) { try $0.job() }
    }

    /// Notices the transport accepted whose final receipt has not come,
    /// the longest waiting first.
    public func awaitingReceipts(limit: Int) throws -> [Job] {
        let s = try statement(.awaitingReceipts)
        s.bind(1, limit)
        return try s.all(db) { try $0.job() }
    }

    /// Notices by what their receipts say (only those that have receipts).
    public func deliveryCounts() throws -> [DeliveryStatus: Int] {
        var out: [DeliveryStatus: Int] = [:]
        for (k, n) in try statement(.deliveryCounts).all(db, { r in (try r.value(0, as: DeliveryStatus.self), Int(r.int(1) ?? 0)) }) {
            out[k] = n
        }
        return out
    }

    /// Notices due for dispatch, oldest first.
    public func dueNotices(limit: Int) throws -> [Job] {
        let s = try statement(.dueNotices)
        s.bind(1, limit)
        return try s.all(db) { try $0.job() }
    }

    /// The call list for a day (calls due that day, overdue first, then by
    /// due time) or, with `escalated`, the breast care nurse's list. `list`:
    /// a configured worklist instead of the check-in calls; the escalated list
    /// without one has every list's.
    public func calls(day: LocalDate, ward: String?, escalated: Bool, list: String? = nil, clock: HospitalClock) throws -> [CallRow] {
        let s = PreparedSQL(try db.cachedStatement(sql: Query.calls(ward: ward != nil, escalated: escalated, list: list != nil)))
        var i: Int32 = 1
        if let list {
            s.bind(i, list)
            i += 1
        }
        if !escalated {
            s.bind(i, clock.instant(on: day, at: TimeOfDay(hour: 0, minute: 0)))
            s.bind(i + 1, clock.instant(on: day.adding(days: 1), at: TimeOfDay(hour: 0, minute: 0)))
            s.bind(i + 2, day.description)
            i += 3
        }
        if let ward { s.bind(i, WardNames.tidy(ward)) }
        let e = JobColumn.end
        return try s.all(db) { r in
            CallRow(job: try r.job(), patientName: r.string(e), phone: r.string(e + 1), voicemailOK: r.bool(e + 2),
                    procedure: r.string(e + 3), surgeryAt: r.date(e + 4), birthDate: r.string(e + 5).flatMap(LocalDate.init(iso:)),
                    nhsNumber: r.string(e + 6), communicationNeeds: PatientColumn.needs(r.string(e + 7)))
        }
    }

    // MARK: Bookings, patients, events

    public func booking(_ kind: BookingKind, _ ref: String) throws -> Booking? {
        let s = try statement(.bookingByKey)
        s.bind(1, kind.rawValue)
        s.bind(2, ref)
        return try s.first(db) { try $0.booking() }
    }

    public func patient(id: String) throws -> Patient? {
        let s = try statement(.patientByID)
        s.bind(1, id)
        return try s.first(db) { try $0.patient() }
    }

    /// The content hash an event id was applied with, nil if it never was.
    public func appliedEventHash(id: String) throws -> UInt64? {
        let s = try statement(.eventHash)
        s.bind(1, id)
        return try s.first(db) { $0.int(0).map { UInt64(bitPattern: $0) } } ?? nil
    }

    // MARK: Deliveries

    public func deliveries(jobID: String) throws -> [DeliveryAttempt] {
        let s = try statement(.deliveriesOfJob)
        s.bind(1, jobID)
        return try s.all(db) { r in
            DeliveryAttempt(at: try r.requiredDate(0), result: try r.value(1, as: DeliveryAttempt.Result.self), detail: r.string(2))
        }
    }

    public func firstDeliveryAt(jobID: String) throws -> Date? {
        let s = try statement(.firstDeliveryAt)
        s.bind(1, jobID)
        return try s.first(db) { $0.date(0) } ?? nil
    }

    // MARK: The queue, rejects, settings

    public func queueTotals() throws -> QueueTotals {
        guard let totals = try statement(.queueTotals).first(db, { r in
            QueueTotals(
                position: QueuePosition(device: r.int(0).map { UInt64(bitPattern: $0) }, inode: r.int(1).map { UInt64(bitPattern: $0) },
                                        offset: Int(r.int(2) ?? 0), line: Int(r.int(3) ?? 0),
                                        firstLineHash: r.int(4).map { UInt64(bitPattern: $0) }),
                counts: IngestCounts(ingested: Int(r.int(5) ?? 0), duplicates: Int(r.int(6) ?? 0), rejected: Int(r.int(7) ?? 0),
                                     notKnown: Int(r.int(9) ?? 0)),
                lastReadAt: r.date(8))
        }) else { throw StoreError("the database has no queue position (queue_state is empty): it is damaged") }
        return totals
    }

    /// The most recent rejects, oldest first.
    public func rejects(limit: Int, withRaw: Bool) throws -> [RejectRecord] {
        let s = try statement(.rejects)
        s.bind(1, limit)
        return try s.all(db) { r in
            RejectRecord(line: Int(r.int(0) ?? 0), offset: Int(r.int(1) ?? 0), eventID: r.string(2),
                         code: try r.value(3, as: RejectCode.self), message: try r.required(4),
                         raw: withRaw ? r.string(5) : nil, at: try r.requiredDate(6))
        }.reversed()
    }

    func setting(_ key: Setting) throws -> String? {
        let s = try statement(.setting)
        s.bind(1, key.rawValue)
        return try s.first(db) { $0.string(0) } ?? nil
    }

    public func isDispatchPaused() throws -> Bool { try setting(.dispatchPaused) == "1" }

    public func lastExportDay() throws -> LocalDate? { try setting(.lastExport).flatMap { LocalDate(iso: $0) } }

    /// Jobs by kind and state, as kept counted (one small table).
    public func jobCounts() throws -> [JobKind: [JobState: Int]] {
        var counts: [JobKind: [JobState: Int]] = [:]
        let rows: [(JobKind, JobState, Int)] = try statement(.jobCounts).all(db) { r in
            (try r.value(0, as: JobKind.self), try r.value(1, as: JobState.self), Int(r.int(2) ?? 0))
        }
        for (kind, state, n) in rows {
            counts[kind, default: [:]][state] = n
        }
        return counts
    }

    public func statusSnapshot() throws -> StatusSnapshot {
        StatusSnapshot(
            totals: try queueTotals(), patients: try count(.patientCount), bookings: try count(.openBookingCount),
            jobCounts: try jobCounts(), nextDueAt: try instant(.nextScheduledCheck), lastDispatch: try instant(.lastDelivery),
            paused: try isDispatchPaused(), deliveries: try deliveryCounts(), sources: try sources(),
            openCallsByWard: try openCallsByWard())
    }

    /// The check-in calls still to make (scheduled or due), by ward as kept.
    public func openCallsByWard() throws -> [(ward: String?, calls: Int)] {
        try statement(.openCallsByWard).all(db) { r in (r.string(0), Int(r.int(1) ?? 0)) }
    }

    /// Each writer of the queue, by name (events that named none first).
    public func sources() throws -> [QueueSource] {
        try statement(.sources).all(db) { r in
            let name: String = try r.required(0)
            return QueueSource(name: name.isEmpty ? nil : name, events: Int(r.int(1) ?? 0), lastEventAt: try r.requiredDate(2))
        }
    }

    /// The bookings a patient has jobs of (a merge moves them; a booking
    /// with no job at all finds its patient through the retired record).
    public func bookingsWithJobs(ofPatient id: String) throws -> [(kind: BookingKind, ref: String)] {
        let s = try statement(.bookingsWithJobsOfPatient)
        s.bind(1, id)
        return try s.all(db) { r in (try r.value(0, as: BookingKind.self), try r.required(1)) }
    }

    private func count(_ q: Query) throws -> Int {
        let n: Int64?? = try statement(q).first(db) { $0.int(0) }
        return Int((n ?? nil) ?? 0)
    }

    private func instant(_ q: Query) throws -> Date? {
        let d: Date?? = try statement(q).first(db) { $0.date(0) }
        return d ?? nil
    }
}
