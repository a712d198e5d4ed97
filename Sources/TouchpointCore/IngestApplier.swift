import Foundation
import TouchpointDomain
import TouchpointStore

/// Applies validated queue lines inside one write transaction: idempotency
/// (duplicate or conflict), the booking rules, patient details, the jobs the
/// planner makes of each event, rejects, and the read position, all
/// committed together.
struct IngestApplier {
    let store: StoreWriter
    let now: Date
    let rules: SchedulingRules
    let planner: Planner
    private(set) var counts = IngestCounts()

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
        for line in lines { try applier.apply(line) }
        try store.advanceQueue(to: position, counts: applier.counts, now: now)
        return applier.counts
    }

    mutating func apply(_ line: IngestLine) throws {
        switch line.parsed {
        case .failure(let reject):
            try record(reject, line)
        case .success(let env):
            if let known = try store.appliedEventHash(id: env.id) {
                if known == env.contentHash {
                    counts.duplicates += 1
                } else {
                    try record(QueueReject(.conflict, "event id \"\(env.id.prefix(128))\" was already applied with different content", eventID: env.id), line)
                }
                return
            }
            var booking: Booking? = nil
            if let (kind, ref) = env.event.booking {
                switch BookingLedger.apply(env.event, to: try store.booking(kind, ref), eventID: env.id, now: now) {
                case .failure(let reject):
                    return try record(reject, line)
                case .success(let b):
                    try store.save(b, now: now)
                    if case .surgeryDelayed(_, let expectedAt, _) = env.event { try store.addDelay(ref: ref, at: now, expectedAt: expectedAt) }
                    booking = b
                }
            }
            if let details = env.event.patient { try store.merge(details, now: now) }
            // The jobs change in the same transaction as the event that caused them.
            try plan(env.event, booking: booking)
            try store.recordApplied(env, line: line.line, offset: line.offset)
            counts.ingested += 1
        }
    }

    private mutating func plan(_ event: QueueEvent, booking: Booking?) throws {
        var updates: [JobUpdate] = []
        if let b = booking {
            let patient = try store.patient(id: b.patientID) ?? Patient(id: b.patientID)
            let existing = event.isBooking ? [] : try store.jobs(of: b.kind, b.ref)
            updates = planner.plan(event, booking: b, patient: patient, jobs: existing)
        } else if let details = event.patient, details.deceased == true, let patient = try store.patient(id: details.id) {
            updates = planner.patientChanged(patient, jobs: try store.pendingJobs(ofPatient: details.id))
        }
        for u in updates {
            try store.save(u, rules: rules, now: now)
            counts.changedJobs = true
        }
    }

    private mutating func record(_ reject: QueueReject, _ line: IngestLine) throws {
        // Only the rejects keep their raw line (admins see it with --show-line).
        counts.rejected += 1
        counts.rejects.append(RejectedLine(line: line.line, offset: line.offset, reject: reject))
        try store.recordReject(reject, line: line.line, offset: line.offset, raw: line.raw, now: now)
    }
}
