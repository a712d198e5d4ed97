import Foundation
import Logging
import TouchpointConfig
import TouchpointDispatch
import TouchpointDomain
import TouchpointStore

/// A notice due for dispatch with what its message needs.
public struct DueNotice: Sendable, Equatable {
    public var job: Job
    public var patient: Patient
    public var booking: Booking
}

/// The engine's side of the core: what the daemon's timer, dispatch and
/// queue watcher call. These act as touchpointd itself, not for a person.
extension Touchpoint {
    /// Reads whatever complete lines the queue file has now and applies them.
    func readQueue() async -> Result<(IngestCounts, QueuePosition), StoreError> {
        let result = await reader.readAvailable()
        // New jobs, or news from a feed reported silent (its end goes to the journal at once).
        if case .success(let (counts, _)) = result, counts.changedJobs || (counts.ingested + counts.duplicates + counts.notKnown > 0 && anyFeedSilent) {
            wakeEngine()
        }
        return result
    }

    /// Moves every job whose next check has come (due, overdue, escalated,
    /// expired, suppressed), in transactions of at most 2,000 jobs, and logs
    /// each change.
    func runDueJobs() async throws {
        let config = live.config
        let (rules, channel) = (config.schedulingRules, config.notices.defaultChannel)
        while true {
            let (seen, updates) = try await store.write { w in try Self.advance(w, rules: rules, defaultChannel: channel, now: self.now()) }
            for u in updates { log(u) }
            // Each job was advanced as far as `now` allows; a short batch means none is left.
            if seen < Self.engineBatch { break }
        }
    }

    static let engineBatch = 2000

    static func advance(_ w: StoreWriter, rules: SchedulingRules, defaultChannel: Channel, now: Date) throws -> (Int, [JobUpdate]) {
        let jobs = try w.jobsToCheck(now: now, limit: engineBatch)
        let machine = JobStateMachine(rules: rules, now: now)
        var out: [JobUpdate] = []
        for job in jobs {
            var current = job
            let patient = job.isNotice ? try w.patient(id: job.patientID) : nil
            let channel = patient?.channel ?? defaultChannel
            // Several steps may be owed after downtime (due, overdue, escalated).
            for _ in 0..<400 {
                guard let u = machine.advance(current, patient: patient, channel: channel) else { break }
                try w.save(u, rules: rules, now: now)
                out.append(u)
                // A notice a communication need stops: its call, in the same transaction.
                if let call = machine.callInPlace(of: current, after: u, patient: patient, channel: channel), try w.job(id: call.job.id) == nil {
                    try w.save(call, rules: rules, now: now)
                    out.append(call)
                }
                current = u.job
            }
        }
        return (jobs.count, out)
    }

    /// When the engine must next look: the next job check or, with
    /// `calls.export_dir` set, the next daily export.
    func nextWake(now: Date) async throws -> Date? {
        let config = live.config
        let (check, lastExport) = try await store.read { r in (try r.nextCheckAt(), try r.lastExportDay()) }
        return [check, Self.nextExport(config: config, lastExport: lastExport, now: now)].compactMap { $0 }.min()
    }

    /// When the next daily export of the call lists is due (nil: export is off).
    static func nextExport(config: TouchpointConfig, lastExport: LocalDate?, now: Date) -> Date? {
        guard config.calls.exportDir != nil else { return nil }
        let rules = config.schedulingRules
        let today = rules.clock.localDate(of: now)
        var day = rules.openDay(onOrAfter: today) ?? today
        if let lastExport, lastExport >= day, let next = rules.nextOpenDay(after: lastExport) { day = next }
        return rules.clock.instant(on: day, at: config.calls.exportAt)
    }

    /// The day whose call lists are due for export now, if any.
    func exportDue(now: Date) async throws -> LocalDate? {
        let config = live.config
        let last = try await store.read { try $0.lastExportDay() }
        guard let due = Self.nextExport(config: config, lastExport: last, now: now), due <= now else { return nil }
        return config.clock.localDate(of: due)
    }

    /// Records that `day`'s lists were written, so a restart does not write them again.
    func exported(_ day: LocalDate) async throws {
        try await store.write { try $0.setLastExportDay(day) }
    }

    /// Whether an admin has paused dispatch.
    var isDispatchPaused: Bool { paused.load(ordering: .sequentiallyConsistent) }

    /// Notices due for dispatch, oldest first, with their patient and booking.
    func dueNotices(limit: Int) async throws -> [DueNotice] {
        try await store.read { r in
            // A call never goes to a transport, whatever a state it was put in.
            try r.dueNotices(limit: limit).compactMap { job in
                guard job.isNotice, let p = try r.patient(id: job.patientID), let b = try r.booking(job.bookingKind, job.ref) else { return nil }
                return DueNotice(job: job, patient: p, booking: b)
            }
        }
    }

    /// Keeps a delivery attempt and moves the notice on as the state machine
    /// decides: done, back in the queue after a backoff, or failed. Returns
    /// the job as it now stands (nil if it was no longer due).
    func recordDelivery(_ result: DeliveryResult, jobID: String) async throws -> Job? {
        let config = live.config
        let rules = config.schedulingRules
        let t = config.transport
        let policy = RetryPolicy(initial: t.backoffInitial.seconds, maximum: t.backoffMax.seconds, maxAge: t.maxAge.seconds)
        let jitter = Double.random(in: 0...1)
        let defaultChannel = config.notices.defaultChannel
        return try await store.write { w in
            let now = self.now()
            guard let job = try w.job(id: jobID) else { return nil }
            var fallback: Channel?
            if case .undeliverable = result {
                fallback = JobStateMachine.fallback(for: job, patient: try w.patient(id: job.patientID), defaultChannel: defaultChannel)
            }
            guard let (u, attempt) = JobStateMachine(rules: rules, now: now).deliver(result, on: job, firstAttemptAt: try w.firstDeliveryAt(jobID: jobID),
                                                                                     policy: policy, jitter: jitter, fallback: fallback)
            else { return nil }
            try w.addDelivery(attempt, jobID: jobID)
            try w.save(u, rules: rules, now: now)
            return u.job
        }
    }

    /// Logs a change the engine made, with the fields a journal search needs.
    func log(_ u: JobUpdate) {
        let text = "job \(u.job.id) (\(u.job.kind.rawValue), \(u.job.ref)): \(u.change.from?.rawValue ?? "new") -> \(u.change.to.rawValue): \(u.change.reason)"
        let meta: Logger.Metadata = [
            "MESSAGE_ID": "\(MessageID.forState(u.change.to))", "job": "\(u.job.id)", "ref": "\(u.job.ref)",
            "kind": "\(u.job.kind.rawValue)", "state": "\(u.change.to.rawValue)",
        ]
        switch u.change.to {
        case .expired, .escalated, .failed: logger.warning("\(text)", metadata: meta)
        default: logger.info("\(text)", metadata: meta)
        }
    }

    /// The `STATUS=` line sent with READY: the queue's totals only, a single
    /// row (the full summary counts every booking, which a restart over a
    /// million should not wait for).
    func readyLine() async -> String {
        guard let t = try? await store.read({ try $0.queueTotals() }) else { return "running" }
        return "\(t.counts.ingested) events applied, \(t.counts.rejected) rejected"
    }

    /// The one-line summary systemd's `STATUS=` shows.
    /// Sent after every engine run, so it reads only the two rows it needs
    /// (the queue's totals, the kept job counts), not `status`'s whole snapshot.
    func statusLine() async -> String {
        guard let (t, counts) = try? await store.read({ (try $0.queueTotals(), try $0.jobCounts()) }) else { return "running" }
        let scheduled = counts.values.reduce(0) { $0 + ($1[.scheduled] ?? 0) }
        let callsDue = counts[.checkinCall]?[.due] ?? 0
        let escalated = counts[.checkinCall]?[.escalated] ?? 0
        return "\(t.counts.ingested) events applied, \(t.counts.rejected) rejected; \(scheduled) contacts scheduled, \(callsDue) calls due, \(escalated) escalated"
    }
}
