import Foundation
import TouchpointConfig
import TouchpointDispatch
import TouchpointDomain
import TouchpointStore

/// What an admin checks first (`status`).
public struct ServiceStatus: Sendable, Equatable {
    public var version: String
    public var paused: Bool
    /// Why the transport takes nothing now, if it does not.
    public var transportHold: String?
    public var transportKind: String
    public var uptimeSeconds: Int
    public var queueFile: String
    /// Why the queue file cannot be read now, if it cannot.
    public var queueProblem: String?
    public var snapshot: StatusSnapshot
    /// What needs someone's attention although the service runs (`StatusWarning`).
    public var warnings: [StatusWarning] = []
}

/// What one read of the queue file did (`ingest`).
public struct IngestSummary: Sendable, Equatable {
    public var counts: IngestCounts
    public var position: QueuePosition
}

extension Touchpoint {
    public func status(by person: Person) async throws(CoreFailure) -> ServiceStatus {
        try authorize(.status, person)
        let snapshot = try await stored("reading the status") { try await store.statusSnapshot() }
        let now = now()
        return ServiceStatus(version: TouchpointVersion.string, paused: snapshot.paused, transportHold: transportHold,
                             transportKind: live.config.transport.kind.rawValue,
                             uptimeSeconds: Int(Date().timeIntervalSince(startedAt)), queueFile: live.config.queueFile,
                             queueProblem: queueProblem, snapshot: snapshot,
                             warnings: StatusWarning.of(snapshot, rules: live.config.schedulingRules,
                                                        silent: feedSilence(snapshot, now: now).silent,
                                                        untaken: (try? await untakenEscalations(now: now).late.count) ?? 0))
    }

    /// What makes `status`'s answer change: the state, a second of uptime,
    /// a queue problem, a reload. A front end may keep its encoded answer
    /// while this stays the same.
    public var statusVersion: StatusVersion {
        StatusVersion(writes: store.writeCount, uptime: Int(Date().timeIntervalSince(startedAt)),
                      problem: queueProblem, config: configGeneration)
    }

    /// The most recent rejected lines; with `withLines` (admins only, and
    /// audited) the raw lines, which hold patient data.
    public func rejects(limit: Int, withLines: Bool, by person: Person) async throws(CoreFailure) -> (records: [RejectRecord], total: Int) {
        try authorize(withLines ? .rejectsWithLines : .rejects, person)
        let actor = person.recordedName
        let (records, total) = try await stored("reading the rejects") {
            try await store.read { r in (try r.rejects(limit: limit, withRaw: withLines), try r.queueTotals().counts.rejected) }
        }
        if withLines {
            try await audit(actor, .rejectsWithLines, detail: "\(records.count) lines shown")
        }
        return (records, total)
    }

    /// Holds every due notice (they still expire on time) until `resume`.
    public func pause(by person: Person) async throws(CoreFailure) {
        try await setPaused(true, .pause, by: person)
    }

    public func resume(by person: Person) async throws(CoreFailure) {
        try await setPaused(false, .resume, by: person)
    }

    private func setPaused(_ paused: Bool, _ op: Operation, by person: Person) async throws(CoreFailure) {
        try authorize(op, person)
        let actor = person.recordedName
        try await stored("\(op.rawValue)") {
            try await store.write { w in
                try w.setDispatchPaused(paused)
                try w.audit(actor: actor, action: op.rawValue, now: self.now())
            }
        }
        self.paused.store(paused, ordering: .sequentiallyConsistent)
        logger.notice("dispatch \(paused ? "paused" : "resumed") by \(actor)")
        wakeEngine()
    }

    /// Reads the queue file now.
    public func ingest(by person: Person) async throws(CoreFailure) -> IngestSummary {
        try authorize(.ingest, person)
        switch await readQueue() {
        case .failure(let e):
            throw CoreFailure(.failed, e.description)
        case .success(let (counts, position)):
            try await audit(person.recordedName, .ingest,
                            detail: "\(counts.ingested) applied, \(counts.duplicates) duplicates, \(counts.rejected) rejected")
            return IngestSummary(counts: counts, position: position)
        }
    }

    /// Re-reads the config and templates. An invalid one is refused with
    /// every problem named and the running one stays; a valid one re-plans
    /// the jobs not yet due if the rules changed (jobs done never change).
    public func reload(by person: Person) async throws(CoreFailure) {
        try authorize(.reload, person)
        let file = live.config.file
        let loaded: Result<(TouchpointConfig, NoticeTemplates), ConfigError>
        do {
            loaded = try await lane.run {
                do throws(ConfigError) {
                    let config = try ConfigLoader.load(path: file)
                    return .success((config, try NoticeTemplates.load(for: config)))
                } catch {
                    return .failure(error)
                }
            }
        } catch {
            throw CoreFailure(.failed, "reload: \(error)")
        }
        switch loaded {
        case .failure(let problems):
            logger.error("configuration reload refused, keeping the running one: \(problems.description.replacingOccurrences(of: "\n", with: "; "))",
                         metadata: ["MESSAGE_ID": "\(MessageID.configRefused)"])
            throw .refused("the new configuration was refused; the running one stays: " + problems.description.replacingOccurrences(of: "\n", with: "; "))
        case .success(let (config, templates)):
            await apply(config, templates, by: person.recordedName)
        }
    }

    private func apply(_ loaded: TouchpointConfig, _ templates: NoticeTemplates, by actor: String) async {
        let old = live.config
        var new = loaded
        // These are bound at start; keep the running values and say so.
        for (key, was, now) in [("state_dir", old.stateDir, new.stateDir), ("control.socket", old.control.socket, new.control.socket)] where was != now {
            logger.warning("config reload: \(key) changed from \(was) to \(now); that takes effect only on restart")
        }
        new.stateDir = old.stateDir
        new.control.socket = old.control.socket
        live.replace(new, templates)
        reader.reconfigure(path: new.queueFile, clock: new.clock)
        // Changed rules re-plan the jobs not yet due; jobs already done never change.
        if new.schedulingRules != old.schedulingRules {
            let rules = new.schedulingRules
            do {
                let changed = try await store.write { w in try Self.replan(w, rules: rules, now: self.now()) }
                logger.notice("config reload re-planned \(changed) job(s) not yet due")
            } catch {
                logger.error("config reload could not re-plan jobs: \(error)", metadata: ["MESSAGE_ID": "\(MessageID.stateError)"])
            }
        }
        wakeEngine()
        try? await audit(actor, .reload, detail: "config \(new.file)")
        logger.notice("configuration reloaded from \(new.file)", metadata: ["MESSAGE_ID": "\(MessageID.configReloaded)"])
    }

    /// A death recorded in error is undone (`undeceased`, admin): the
    /// patient is living again, each job the death cancelled that is still
    /// of use is planned again by its rules, and the audit says who and
    /// why. Returns the jobs it looked at, as they now stand. The patient id
    /// is patient data: neither it nor the reason goes to the journal.
    public func undeceased(_ patientID: String, reason: String, by person: Person) async throws(CoreFailure) -> [JobRecord] {
        try authorize(.undeceased, person)
        let why = reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !why.isEmpty else { throw .badRequest("undeceased needs a reason saying how the death came to be recorded in error", field: "reason") }
        let actor = person.recordedName
        let rules = live.config.schedulingRules
        let records = try await stored("undoing the death") {
            try await store.write { w -> Result<[JobRecord], CoreFailure> in
                let now = self.now()
                guard var patient = try w.patient(id: patientID) else { return .failure(.notFound("no patient \"\(patientID)\" has a booking here")) }
                if let survivor = patient.mergedInto {
                    return .failure(.refused("this record was merged into \(survivor): undo the death on that record"))
                }
                guard patient.deceased else { return .failure(.refused("this patient is not recorded as deceased; nothing was changed")) }
                patient.deceased = false
                try w.save(patient, now: now)
                var cancelled: [Job] = []
                var bookings: [Booking] = []
                for (kind, ref) in try w.bookingsWithJobs(ofPatient: patientID) {
                    if let b = try w.booking(kind, ref) { bookings.append(b) }
                    for job in try w.jobs(of: kind, ref) where job.patientID == patientID {
                        let last = try w.history(jobID: job.id).last
                        if let last, last.to == job.state, job.state == .cancelled || job.state == .suppressed,
                           last.reason.hasSuffix(Planner.deceasedReason) { cancelled.append(job) }
                    }
                }
                let updates = Planner(rules: rules, now: now).undeceased(cancelled, bookings: bookings, actor: actor, reason: why)
                for u in updates { try w.save(u, rules: rules, now: now) }
                let again = updates.filter { $0.job.state == .scheduled }.count
                try w.audit(actor: actor, action: Operation.undeceased.rawValue, subject: patientID,
                            detail: "\(why); \(again) of \(cancelled.count) job(s) the death cancelled planned again", now: now)
                return .success(try updates.compactMap { try w.record(jobID: $0.job.id) })
            }
        }.get()
        let again = records.filter { $0.job.state == .scheduled }.map(\.job.id)
        logger.notice("a death recorded in error was undone by \(actor): \(again.count) job(s) planned again\(again.isEmpty ? "" : " (\(again.joined(separator: ", ")))")",
                      metadata: ["MESSAGE_ID": "\(MessageID.deathUndone)"])
        wakeEngine()
        return records
    }

    /// Re-plans every job not yet due under `rules`, and cancels the pending
    /// jobs of a contact no longer configured; returns how many changed.
    static func replan(_ w: StoreWriter, rules: SchedulingRules, now: Date) throws -> Int {
        let planner = Planner(rules: rules, now: now)
        var changed = 0
        for job in try w.scheduledJobs() {
            guard let booking = try w.booking(job.bookingKind, job.ref), let u = planner.replan(job, booking: booking) else { continue }
            try w.save(u, rules: rules, now: now)
            changed += 1
        }
        return changed
    }

    /// A backup of the state while the service runs (`touchpointctl
    /// backup`, admin; `touchpoint-backup.timer` daily): its path, size and
    /// how far into the queue it is. Restoring it is the README's.
    public func backup(by person: Person) async throws(CoreFailure) -> StoreBackup {
        try authorize(.backup, person)
        let config = live.config
        let stamp = config.clock.fileStamp(now())
        let made = try await stored("taking a backup") { try await store.backup(into: config.backupDir, stamp: stamp, keep: config.backupKeep) }
        try await audit(person.recordedName, .backup, detail: "\(made.path), \(made.bytes) bytes, queue line \(made.queueLine)")
        let removed = made.removed.isEmpty ? "" : "; \(made.removed.count) older removed (backup.keep = \(config.backupKeep))"
        logger.notice("backup written to \(made.path) (\(made.bytes) bytes, the queue read to line \(made.queueLine))\(removed)")
        return made
    }

    func audit(_ actor: String, _ op: Operation, subject: String? = nil, detail: String? = nil) async throws(CoreFailure) {
        try await stored("recording the audit") {
            try await store.write { try $0.audit(actor: actor, action: op.rawValue, subject: subject, detail: detail, now: self.now()) }
        }
    }
}

/// What `status`'s answer is made from (see `Touchpoint.statusVersion`).
public struct StatusVersion: Sendable, Equatable {
    var writes: UInt64
    var uptime: Int
    var problem: String?
    var config: UInt64
}
