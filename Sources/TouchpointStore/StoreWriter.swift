import Foundation
import GRDB
import TouchpointDomain

/// Changes to the job counts `status` shows, gathered over a transaction and
/// written once at its end: an ingest batch moves tens of thousands of jobs
/// between a dozen (kind, state) pairs.
final class JobCountDeltas {
    struct Key: Hashable {
        var kind: JobKind
        var state: JobState
    }
    var byKey: [Key: Int] = [:]
}

/// A write transaction: saves what the domain decided. It decides nothing
/// itself; every change of a job comes in as a `JobUpdate`.
public struct StoreWriter: StoreReading {
    public let transaction: StoreTransaction

    /// Saves a job as a rule left it, with its history line; `rules` set when
    /// the engine next looks at it.
    public func save(_ u: JobUpdate, rules: SchedulingRules, now: Date) throws {
        try save(u.job, rules: rules, now: now)
        try record(u.change, kind: u.job.kind)
    }

    /// Saves a job's row as it now stands (ingest writes each changed job
    /// once per batch, and its changes with `record`).
    public func save(_ j: Job, rules: SchedulingRules, now: Date) throws {
        let s = try statement(.saveJob)
        s.bind(.id, j.id); s.bind(.kind, j.kind.rawValue); s.bind(.bookingKind, j.bookingKind.rawValue)
        s.bind(.ref, j.ref); s.bind(.patientID, j.patientID); s.bind(.state, j.state.rawValue)
        s.bind(.dueAt, j.dueAt); s.bind(.expiresAt, j.expiresAt); s.bind(.createdAt, j.createdAt)
        s.bind(.revision, j.revision); s.bind(.attempts, j.attempts); s.bind(.ward, j.ward)
        s.bind(.expectedAt, j.expectedAt); s.bind(.delayReason, j.delayReason); s.bind(.callDay, j.callDay?.description)
        s.bind(.overdueSince, j.overdueSince?.description); s.bind(.outcome, j.outcome?.rawValue)
        s.bind(.woundCare, j.woundCare); s.bind(.rule, j.rule); s.bind(.note, j.note); s.bind(.lastAttemptAt, j.lastAttemptAt)
        s.bind(.notificationID, j.notificationID); s.bind(.delivery, j.delivery?.rawValue); s.bind(.deliveryAt, j.deliveryAt)
        s.bind(.sendUncertain, j.sendUncertain); s.bind(.fallbackChannel, j.fallbackChannel?.rawValue)
        s.bind(.worklist, j.worklist)
        s.bind(.escalatedAt, j.escalatedAt); s.bind(.takenBy, j.takenBy); s.bind(.takenAt, j.takenAt)
        s.bind(JobColumn.end + 1, now)
        s.bind(JobColumn.end + 2, j.nextCheck(rules: rules))
        try s.run(db)
    }

    /// Records a change of a job: its history line and the counts `status` shows.
    public func record(_ c: JobChange, kind: JobKind) throws {
        try addHistory(c)
        if c.from != c.to {
            if let from = c.from { count(kind, from, -1) }
            count(kind, c.to, 1)
        }
    }

    private func addHistory(_ c: JobChange) throws {
        let h = try statement(.insertHistory)
        h.bind(1, c.jobID); h.bind(2, c.at); h.bind(3, c.actor); h.bind(4, c.from?.rawValue)
        h.bind(5, c.to.rawValue); h.bind(6, c.reason)
        try h.run(db)
    }

    private func count(_ kind: JobKind, _ state: JobState, _ by: Int) {
        transaction.counts?.byKey[JobCountDeltas.Key(kind: kind, state: state), default: 0] += by
    }

    /// Writes the gathered count changes (the store does, before commit).
    func flushCounts() throws {
        guard let counts = transaction.counts else { return }
        let s = try statement(.addToJobCount)
        for (key, by) in counts.byKey where by != 0 {
            s.bind(1, key.kind.rawValue); s.bind(2, key.state.rawValue); s.bind(3, by)
            try s.run(db)
        }
        counts.byKey.removeAll()
    }

    /// Keeps a delay as it was learnt: when, and the new expected time (the
    /// report counts the delays notified in time).
    public func addDelay(ref: String, at: Date, expectedAt: Date) throws {
        let s = try statement(.insertDelay)
        s.bind(1, ref); s.bind(2, at); s.bind(3, expectedAt)
        try s.run(db)
    }

    /// Keeps an outcome with its call.
    public func addAttempt(_ a: CallAttempt, jobID: String) throws {
        let s = try statement(.insertAttempt)
        s.bind(1, jobID); s.bind(2, a.at); s.bind(3, a.by); s.bind(4, a.outcome.rawValue); s.bind(5, a.woundCare); s.bind(6, a.note)
        try s.run(db)
    }

    /// Marks the outcome that closed a call as withdrawn (`reopen`): kept,
    /// shown with `words`, no longer counted by the report.
    public func withdrawLastAttempt(jobID: String, words: String) throws {
        let s = try statement(.withdrawLastAttempt)
        s.bind(1, words); s.bind(2, jobID)
        try s.run(db)
    }

    /// Keeps a delivery attempt with its notice.
    public func addDelivery(_ attempt: DeliveryAttempt, jobID: String) throws {
        let s = try statement(.insertDelivery)
        s.bind(1, jobID); s.bind(2, attempt.at); s.bind(3, attempt.result.rawValue); s.bind(4, attempt.detail)
        try s.run(db)
    }

    // MARK: Ingest

    public func save(_ b: Booking, now: Date) throws {
        let s = try statement(.saveBooking)
        func col(_ c: BookingColumn) -> Int32 { c.rawValue + 1 }
        s.bind(col(.kind), b.kind.rawValue); s.bind(col(.ref), b.ref); s.bind(col(.patientID), b.patientID)
        s.bind(col(.at), b.at); s.bind(col(.ward), b.ward); s.bind(col(.procedure), b.procedure)
        s.bind(col(.admitAt), b.admitAt); s.bind(col(.clinic), b.clinic); s.bind(col(.mode), b.mode?.rawValue)
        s.bind(col(.expectedAt), b.expectedAt); s.bind(col(.delayReason), b.delayReason)
        s.bind(col(.performedAt), b.performedAt); s.bind(col(.cancelled), b.cancelled)
        s.bind(col(.cancelReason), b.cancelReason); s.bind(col(.revision), b.revision); s.bind(col(.bookedAt), b.bookedAt)
        s.bind(col(.service), b.service); s.bind(col(.pathway), b.pathway?.rawValue)
        s.bind(Int32(BookingColumn.allCases.count) + 1, now)
        try s.run(db)
    }

    /// Saves a patient's record as it now stands (ingest merges an event's
    /// details in memory: `Patient.update(with:)`).
    public func save(_ p: Patient, now: Date) throws {
        let s = try statement(.savePatient)
        s.bind(1, p.id); s.bind(2, p.nhsNumber); s.bind(3, p.name); s.bind(4, p.phone); s.bind(5, p.email)
        s.bind(6, p.channel?.rawValue); s.bind(7, p.optedOut); s.bind(8, p.voicemailOK); s.bind(9, p.deceased)
        s.bind(10, p.mergedInto); s.bind(11, now); s.bind(12, p.birthDate?.description)
        s.bind(13, PatientColumn.needs(p.communicationNeeds))
        try s.run(db)
    }

    /// Records that an event was applied (its id and content hash tell a later duplicate from a conflict).
    public func recordApplied(_ env: QueueEnvelope, line: Int, offset: Int) throws {
        let s = try statement(.insertEvent)
        s.bind(1, env.id); s.bind(2, Int64(bitPattern: env.contentHash)); s.bind(3, env.event.typeName)
        s.bind(4, env.event.booking?.ref); s.bind(5, line); s.bind(6, offset)
        try s.run(db)
    }

    /// Records a rejected line; the raw line is kept for admins only.
    public func recordReject(_ reject: QueueReject, line: Int, offset: Int, raw: ArraySlice<UInt8>?, now: Date) throws {
        let s = try statement(.insertReject)
        s.bind(1, line); s.bind(2, offset); s.bind(3, reject.eventID); s.bind(4, reject.code.rawValue)
        s.bind(5, reject.message); s.bind(6, raw.map { String(decoding: $0, as: UTF8.self) }); s.bind(7, now)
        try s.run(db)
    }

    /// Changes the kept counts of patients and of bookings not cancelled
    /// (`status` shows them; counting the tables each time cost 40 ms with
    /// a million events' state).
    public func addToCounts(patients: Int, openBookings: Int) throws {
        guard patients != 0 || openBookings != 0 else { return }
        let s = try statement(.addToRecordCounts)
        s.bind(1, patients); s.bind(2, openBookings)
        try s.run(db)
    }

    /// Moves the read position on, with the counts of what was read up to it.
    public func advanceQueue(to p: QueuePosition, counts: IngestCounts, now: Date) throws {
        let s = try statement(.advanceQueue)
        s.bind(1, p.device.map { Int64(bitPattern: $0) }); s.bind(2, p.inode.map { Int64(bitPattern: $0) })
        s.bind(3, p.offset); s.bind(4, p.line); s.bind(5, p.firstLineHash.map { Int64(bitPattern: $0) })
        s.bind(6, counts.ingested); s.bind(7, counts.duplicates); s.bind(8, counts.rejected); s.bind(9, now)
        s.bind(10, counts.notKnown)
        try s.run(db)
    }

    /// Counts `count` events read from a writer (`""`: events naming none), the last of them now.
    public func recordEvents(from source: String, count: Int, now: Date) throws {
        let s = try statement(.recordSourceEvents)
        s.bind(1, source); s.bind(2, count); s.bind(3, now)
        try s.run(db)
    }

    // MARK: Settings and the audit trail

    func setSetting(_ key: Setting, _ value: String) throws {
        let s = try statement(.setSetting)
        s.bind(1, key.rawValue); s.bind(2, value)
        try s.run(db)
    }

    /// A notice about to go to a transport that may take it without
    /// answering: on a crash or a lost answer, the transport is asked first.
    public func markSendUncertain(jobID: String) throws {
        try db.execute(sql: "UPDATE jobs SET send_uncertain = 1 WHERE id = ?", arguments: [jobID])
    }

    public func setDispatchPaused(_ paused: Bool) throws { try setSetting(.dispatchPaused, paused ? "1" : "0") }

    public func setLastExportDay(_ day: LocalDate) throws { try setSetting(.lastExport, day.description) }

    /// Records who changed or saw what: every change through the socket,
    /// reloads, views of raw lines.
    public func audit(actor: String, action: String, subject: String? = nil, detail: String? = nil, now: Date) throws {
        let s = try statement(.insertAudit)
        s.bind(1, now); s.bind(2, actor); s.bind(3, action); s.bind(4, subject); s.bind(5, detail)
        try s.run(db)
    }
}
