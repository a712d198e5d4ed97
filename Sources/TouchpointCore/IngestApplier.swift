import Foundation
import TouchpointDomain
import TouchpointStore

/// Applies a batch of validated queue lines inside one write transaction:
/// idempotency (duplicate or conflict), the booking rules, patient details,
/// the jobs the planner makes of each event, rejects, and the read position,
/// all committed together.
///
/// The batch is applied in three steps (`docs/benchmarks.md`, "The ingest write path"):
/// the rows its events touch are read first, in key order; the events are
/// then applied one by one to that working set in memory, by the same domain
/// rules as ever; and what changed is written once, in key order. A booking
/// rescheduled twice in a batch, a patient whose details come with every
/// booking, a job planned and re-planned: each row is written once, and a
/// batch goes through each B-tree in key order. (Events themselves are
/// recorded as they are applied: their keys come in queue order.) It gained
/// 4 % on a million events against a statement per event: most of a
/// catch-up is the pages the workload changes at random (`docs/benchmarks.md`).
struct IngestApplier {
    let store: StoreWriter
    let now: Date
    let rules: SchedulingRules
    let planner: Planner
    private(set) var counts = IngestCounts()
    private var set = WorkingSet()

    init(_ store: StoreWriter, now: Date, rules: SchedulingRules) {
        self.store = store
        self.now = now
        self.rules = rules
        self.planner = Planner(rules: rules, now: now)
    }

    /// Applies `lines` in order and moves the read position to `position`.
    static func apply(_ lines: [IngestLine], position: QueuePosition, in store: StoreWriter,
                      now: Date, rules: SchedulingRules) throws -> IngestCounts {
        var applier = IngestApplier(store, now: now, rules: rules)
        try applier.load(for: lines)
        for line in lines { try applier.apply(line) }
        try applier.write()
        try store.advanceQueue(to: position, counts: applier.counts, now: now)
        return applier.counts
    }

    // MARK: Reading what the batch touches

    /// Reads, in key order, every row the batch's events name: their event
    /// ids, bookings, the jobs of bookings that already exist, and patients.
    mutating func load(for lines: [IngestLine]) throws {
        var ids: [String] = []
        var keys = Set<BookingKey>()
        var patients = Set<String>()
        ids.reserveCapacity(lines.count)
        for line in lines {
            guard case .success(let env) = line.parsed else { continue }
            ids.append(env.id)
            if let (kind, ref) = env.event.booking { keys.insert(BookingKey(kind: kind, ref: ref)) }
            if let p = env.event.patient { patients.insert(p.id) }
        }
        for id in ids.sorted() where set.eventHashes[id] == nil {
            if let hash = try store.appliedEventHash(id: id) { set.eventHashes[id] = hash }
        }
        for key in keys.sorted() {
            let booking = try store.booking(key.kind, key.ref)
            set.bookings[key] = .some(booking)
            if let booking {
                patients.insert(booking.patientID)
                set.jobs[key] = try store.jobs(of: key.kind, key.ref)
            }
        }
        for id in patients.sorted() {
            set.patients[id] = .some(try store.patient(id: id))
        }
    }

    private func booking(_ key: BookingKey) throws -> Booking? {
        if let known = set.bookings[key] { return known }
        return try store.booking(key.kind, key.ref)
    }

    private mutating func patient(_ id: String) throws -> Patient? {
        if let known = set.patients[id] { return known }
        let p = try store.patient(id: id)
        set.patients[id] = .some(p)
        return p
    }

    /// A booking's jobs as they stand in this batch.
    private mutating func jobs(of key: BookingKey) throws -> [Job] {
        if let known = set.jobs[key] { return known }
        let j = try store.jobs(of: key.kind, key.ref)
        set.jobs[key] = j
        return j
    }

    // MARK: Applying, in memory

    mutating func apply(_ line: IngestLine) throws {
        switch line.parsed {
        case .failure(let reject):
            try record(reject, line)
        case .success(var env):
            // Every event read is news from its writer (`status`: the last event per source).
            set.sources[env.source ?? "", default: 0] += 1
            if let known = set.eventHashes[env.id] {
                if known == env.contentHash {
                    counts.duplicates += 1
                } else {
                    try record(QueueReject(.conflict, "event id \"\(env.id.prefix(128))\" was already applied with different content", eventID: env.id), line)
                }
                return
            }
            // A record the hospital merged away is named by its survivor from then on.
            if let details = env.event.patient {
                let id = try resolvedPatientID(details.id)
                if id != details.id { env.event = env.event.withPatientID(id) }
            }
            if case .patientMerged(let survivor, let mergedID) = env.event {
                return try merge(env, survivor: survivor, mergedID: mergedID, line)
            }
            var patientRecord: Patient? = nil
            if let details = env.event.patient {
                switch PatientRecords.update(try patient(details.id), with: details, makesBooking: env.event.isBooking, eventID: env.id) {
                case .failure(let reject): return try record(reject, line)
                case .success(.notKnown):
                    // Nothing about this patient is kept, not even the event's id.
                    counts.notKnown += 1
                    return
                case .success(.record(let p)): patientRecord = p
                }
            }
            var booking: Booking? = nil
            if let (kind, ref) = env.event.booking {
                let key = BookingKey(kind: kind, ref: ref)
                let before = try self.booking(key)
                switch BookingLedger.apply(env.event, to: before, eventID: env.id, now: now) {
                case .failure(let reject):
                    return try record(reject, line)
                case .success(var b):
                    // One ward under one name (WardNames); a ward none of calls.wards names is noted for the journal.
                    b.ward = rules.wards.named(b.ward)
                    let alreadyNoted = before.map { rules.wards.isUnassigned($0.ward) && $0.ward == b.ward } ?? false
                    if b.kind == .surgery, !b.cancelled, rules.wards.isUnassigned(b.ward), !alreadyNoted {
                        counts.unassigned.append(UnassignedWard(ref: ref, ward: b.ward, eventID: env.id))
                    }
                    set.openBookings += (b.cancelled ? 0 : 1) - (before.map { $0.cancelled ? 0 : 1 } ?? 0)
                    set.bookings[key] = .some(b)
                    set.changedBookings.insert(key)
                    if env.event.isBooking { set.jobs[key] = [] }
                    if case .surgeryDelayed(_, let expectedAt, _) = env.event { try store.addDelay(ref: ref, at: now, expectedAt: expectedAt) }
                    booking = b
                }
            }
            if let p = patientRecord {
                if try patient(p.id) == nil { set.newPatients += 1 }
                keep(p)
            }
            // The jobs change in the same transaction as the event that caused them.
            try plan(env.event, booking: booking)
            try applied(env, line)
        }
    }

    private mutating func applied(_ env: QueueEnvelope, _ line: IngestLine) throws {
        set.eventHashes[env.id] = env.contentHash
        try store.recordApplied(env, line: line.line, offset: line.offset)
        counts.ingested += 1
    }

    private mutating func keep(_ p: Patient) {
        set.patients[p.id] = .some(p)
        set.changedPatients.insert(p.id)
    }

    /// The record `id` names now (itself, or the survivor of its merge).
    private mutating func resolvedPatientID(_ id: String) throws -> String {
        try PatientRecords.resolve(id) { try patient($0) }
    }

    /// `patient.merged`: the retired record's bookings and pending jobs go to
    /// the survivor, and the retired id names the survivor from now on.
    private mutating func merge(_ env: QueueEnvelope, survivor details: PatientDetails, mergedID: String, _ line: IngestLine) throws {
        let retiredID = try resolvedPatientID(mergedID)
        let survivor = try patient(details.id)
        if retiredID == details.id {
            // Merged before (a resend under a new id): only the details are news.
            guard let s = survivor else { return }
            switch PatientRecords.update(s, with: details, makesBooking: false, eventID: env.id) {
            case .failure(let reject): return try record(reject, line)
            case .success(.record(let p)): keep(p)
            case .success(.notKnown): keep(s)  // not reached: the survivor is known
            }
            return try applied(env, line)
        }
        switch PatientRecords.merge(survivor: survivor, merged: try patient(retiredID), mergedID: retiredID, details: details, eventID: env.id) {
        case .failure(let reject):
            return try record(reject, line)
        case .success(nil):
            counts.notKnown += 1
        case .success(let m?):
            set.newPatients += (m.survivorIsNew ? 1 : 0) - (m.retiredWasInUse ? 1 : 0)
            keep(m.survivor)
            keep(m.retired)
            for key in try bookingKeys(ofPatient: retiredID) {
                guard let b = try booking(key), b.patientID == retiredID else { continue }
                set.bookings[key] = .some(b.reassigned(to: m.survivor.id))
                set.changedBookings.insert(key)
            }
            let survivorJobs = survivor == nil ? [] : try pendingJobs(ofPatient: m.survivor.id)
            try keep(planner.merged(try pendingJobs(ofPatient: retiredID), into: m.survivor, survivorJobs: survivorJobs))
            try applied(env, line)
        }
    }

    /// The bookings of a patient: those with jobs in the database, and those
    /// this batch has made or moved.
    private mutating func bookingKeys(ofPatient id: String) throws -> [BookingKey] {
        var keys = Set(try store.bookingsWithJobs(ofPatient: id).map { BookingKey(kind: $0.kind, ref: $0.ref) })
        for (key, b) in set.bookings where b?.patientID == id { keys.insert(key) }
        return keys.sorted()
    }

    private mutating func plan(_ event: QueueEvent, booking: Booking?) throws {
        var updates: [JobUpdate] = []
        if var b = booking {
            let id = try resolvedPatientID(b.patientID)
            if id != b.patientID {
                // A booking with no jobs when its patient was merged: it follows now.
                b = b.reassigned(to: id)
                set.bookings[BookingKey(kind: b.kind, ref: b.ref)] = .some(b)
            }
            let patient = try self.patient(id) ?? Patient(id: id)
            updates = planner.plan(event, booking: b, patient: patient, jobs: try jobs(of: BookingKey(kind: b.kind, ref: b.ref)))
        } else if let details = event.patient, details.deceased == true || details.communicationNeeds != nil, let patient = try self.patient(details.id) {
            updates = planner.patientChanged(patient, jobs: try pendingJobs(ofPatient: details.id))
        }
        try keep(updates)
    }

    /// Puts the jobs as rules left them into the batch's working set.
    private mutating func keep(_ updates: [JobUpdate]) throws {
        for u in updates {
            let key = BookingKey(kind: u.job.bookingKind, ref: u.job.ref)
            var list = try jobs(of: key)
            if let i = list.firstIndex(where: { $0.id == u.job.id }) {
                list[i] = u.job
            } else {
                list.append(u.job)
            }
            set.jobs[key] = list
            set.changedJobs[u.job.id] = key
            set.changes.append((u.change, u.job.kind))
            counts.changedJobs = true
        }
    }

    /// A patient's pending jobs: the database's, with this batch's versions
    /// of the bookings it has touched in their place.
    private mutating func pendingJobs(ofPatient id: String) throws -> [Job] {
        var out = try store.pendingJobs(ofPatient: id).filter { set.jobs[BookingKey(kind: $0.bookingKind, ref: $0.ref)] == nil }
        for key in set.jobs.keys.sorted() {
            out += set.jobs[key]!.filter { $0.patientID == id && $0.state.isPending }
        }
        return out
    }

    private mutating func record(_ reject: QueueReject, _ line: IngestLine) throws {
        // Only the rejects keep their raw line (admins see it with --show-line).
        counts.rejected += 1
        counts.rejects.append(RejectedLine(line: line.line, offset: line.offset, reject: reject))
        try store.recordReject(reject, line: line.line, offset: line.offset, raw: line.raw, now: now)
    }

    // MARK: Writing, once per row, in key order

    func write() throws {
        for key in set.changedBookings.sorted() {
            if let b = set.bookings[key] ?? nil { try store.save(b, now: now) }
        }
        for id in set.changedPatients.sorted() {
            if let p = set.patients[id] ?? nil { try store.save(p, now: now) }
        }
        for (id, key) in set.changedJobs.sorted(by: { $0.key < $1.key }) {
            guard let job = set.jobs[key]?.first(where: { $0.id == id }) else { continue }
            try store.save(job, rules: rules, now: now)
        }
        for (change, kind) in set.changes { try store.record(change, kind: kind) }
        try store.addToCounts(patients: set.newPatients, openBookings: set.openBookings)
        for (source, events) in set.sources.sorted(by: { $0.key < $1.key }) {
            try store.recordEvents(from: source, count: events, now: now)
        }
    }
}

/// A booking's key, as the store keys it.
struct BookingKey: Hashable, Comparable {
    var kind: BookingKind
    var ref: String

    static func < (a: BookingKey, b: BookingKey) -> Bool {
        a.kind.rawValue != b.kind.rawValue ? a.kind.rawValue < b.kind.rawValue : a.ref < b.ref
    }
}

/// The rows one batch reads and changes. A value of `.some(nil)` is a row
/// known not to exist (a booking about to be made).
struct WorkingSet {
    var eventHashes: [String: UInt64] = [:]
    var bookings: [BookingKey: Booking?] = [:]
    var patients: [String: Patient?] = [:]
    /// Every job of each booking the batch touched, as it now stands.
    var jobs: [BookingKey: [Job]] = [:]
    var changedBookings = Set<BookingKey>()
    var changedPatients = Set<String>()
    var changedJobs: [String: BookingKey] = [:]
    /// Events read per writer (`""`: events that name none).
    var sources: [String: Int] = [:]
    /// Patients first seen, and the change in bookings not cancelled.
    var newPatients = 0
    var openBookings = 0
    /// Each job change in order, for the history and the counts.
    var changes: [(JobChange, JobKind)] = []
}
