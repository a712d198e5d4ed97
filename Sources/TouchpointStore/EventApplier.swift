import Foundation
import GRDB
import TouchpointDomain

/// Applies validated queue lines inside the ingest transaction: idempotency,
/// booking rules, patient details, rejects. Its statements are prepared once
/// per batch.
struct EventApplier {
    let db: Database
    let now: Date
    let planner: Planner
    let jobs: JobWriter
    /// Whether this batch planned or changed a job (the engine then looks again).
    var changedJobs = false
    private let findEvent: PreparedSQL
    private let insertEvent: PreparedSQL
    private let insertReject: PreparedSQL
    private let findBooking: PreparedSQL
    private let saveBooking: PreparedSQL
    private let upsertPatient: PreparedSQL

    init(db: Database, now: Date, rules: SchedulingRules) throws {
        self.db = db
        self.now = now
        self.planner = Planner(rules: rules, now: now)
        self.jobs = try JobWriter(db: db, rules: rules, gatherCounts: true)
        findEvent = try PreparedSQL(db, "SELECT hash FROM events WHERE id = ?")
        insertEvent = try PreparedSQL(db, "INSERT INTO events (id, hash, type, ref, line, offset) VALUES (?, ?, ?, ?, ?, ?)")
        insertReject = try PreparedSQL(db, "INSERT INTO rejects (line, offset, event_id, code, message, raw, at) VALUES (?, ?, ?, ?, ?, ?, ?)")
        findBooking = try PreparedSQL(db, "SELECT \(Self.bookingColumns) FROM bookings WHERE kind = ? AND ref = ?")
        saveBooking = try PreparedSQL(db, """
            INSERT OR REPLACE INTO bookings (kind, ref, patient_id, at, ward, procedure, admit_at, clinic, mode,
                expected_at, delay_reason, performed_at, cancelled, cancel_reason, revision, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """)
        // One statement merges the details an event gives into what is known:
        // absent fields keep their value; deceased never goes back to false.
        upsertPatient = try PreparedSQL(db, """
            INSERT INTO patients (id, nhs_number, name, phone, email, channel, opted_out, voicemail_ok, deceased, updated_at)
            VALUES (?1, ?2, ?3, ?4, ?5, ?6, coalesce(?7, 0), coalesce(?8, 0), coalesce(?9, 0), ?10)
            ON CONFLICT (id) DO UPDATE SET
                nhs_number = coalesce(?2, nhs_number), name = coalesce(?3, name), phone = coalesce(?4, phone),
                email = coalesce(?5, email), channel = coalesce(?6, channel), opted_out = coalesce(?7, opted_out),
                voicemail_ok = coalesce(?8, voicemail_ok), deceased = max(deceased, coalesce(?9, 0)), updated_at = ?10
            """)
    }

    mutating func apply(_ line: IngestLine, counts: inout IngestCounts) throws {
        switch line.parsed {
        case .failure(let reject):
            try record(reject, line, &counts)
        case .success(let env):
            findEvent.bind(1, env.id)
            if let known = try findEvent.first(db, { $0.int(0) }) ?? nil {
                if UInt64(bitPattern: known) == env.contentHash {
                    counts.duplicates += 1
                } else {
                    try record(QueueReject(.conflict, "event id \"\(env.id.prefix(128))\" was already applied with different content", eventID: env.id), line, &counts)
                }
                return
            }
            var planned: Booking? = nil
            if let (kind, ref) = env.event.booking {
                let existing = try booking(kind, ref)
                switch BookingLedger.apply(env.event, to: existing, eventID: env.id) {
                case .failure(let reject):
                    try record(reject, line, &counts)
                    return
                case .success(let booking):
                    try save(booking)
                    planned = booking
                }
            }
            if let p = env.event.patient {
                let s = upsertPatient
                s.bind(1, p.id); s.bind(2, p.nhsNumber); s.bind(3, p.name); s.bind(4, p.phone); s.bind(5, p.email)
                s.bind(6, p.channel?.rawValue); s.bind(7, p.optedOut); s.bind(8, p.voicemailOK)
                s.bind(9, p.deceased == true ? true : nil); s.bind(10, now)
                try s.run(db)
            }
            // The jobs change in the same transaction as the event that caused them.
            if let b = planned {
                let patient = try Self.loadPatient(db, b.patientID) ?? Patient(id: b.patientID)
                let existing = env.event.typeName.hasSuffix(".booked") ? [] : try jobs.jobs(of: b.kind, b.ref)
                for u in planner.plan(env.event, booking: b, patient: patient, jobs: existing) {
                    try jobs.save(u, now: now)
                    changedJobs = true
                }
            } else if let details = env.event.patient, details.deceased == true,
                      let patient = try Self.loadPatient(db, details.id) {
                for u in planner.patientChanged(patient, jobs: try jobs.pendingJobs(ofPatient: details.id)) {
                    try jobs.save(u, now: now)
                    changedJobs = true
                }
            }
            let s = insertEvent
            s.bind(1, env.id); s.bind(2, Int64(bitPattern: env.contentHash)); s.bind(3, env.event.typeName)
            s.bind(4, env.event.booking?.ref); s.bind(5, line.line); s.bind(6, line.offset)
            try s.run(db)
            counts.ingested += 1
        }
    }

    private func record(_ reject: QueueReject, _ line: IngestLine, _ counts: inout IngestCounts) throws {
        // Only the rejects keep their raw line (admins see it with --show-line).
        counts.rejected += 1
        counts.rejects.append(RejectedLine(line: line.line, offset: line.offset, reject: reject))
        let s = insertReject
        s.bind(1, line.line); s.bind(2, line.offset); s.bind(3, reject.eventID); s.bind(4, reject.code.rawValue)
        s.bind(5, reject.message); s.bind(6, line.raw.map { String(decoding: $0, as: UTF8.self) }); s.bind(7, now)
        try s.run(db)
    }

    static let bookingColumns = "kind, ref, patient_id, at, ward, procedure, admit_at, clinic, mode, expected_at, delay_reason, performed_at, cancelled, cancel_reason, revision"

    private func booking(_ kind: BookingKind, _ ref: String) throws -> Booking? {
        findBooking.bind(1, kind.rawValue)
        findBooking.bind(2, ref)
        return try findBooking.first(db, Self.readBooking)
    }

    static func readBooking(_ r: PreparedSQL) -> Booking {
        Booking(
            kind: BookingKind(rawValue: r.string(0)!)!, ref: r.string(1)!, patientID: r.string(2)!, at: r.date(3)!,
            ward: r.string(4), procedure: r.string(5), admitAt: r.date(6), clinic: r.string(7),
            mode: r.string(8).flatMap(AppointmentMode.init(rawValue:)), expectedAt: r.date(9), delayReason: r.string(10),
            performedAt: r.date(11), cancelled: r.bool(12), cancelReason: r.string(13), revision: Int(r.int(14) ?? 1))
    }

    private func save(_ b: Booking) throws {
        let s = saveBooking
        s.bind(1, b.kind.rawValue); s.bind(2, b.ref); s.bind(3, b.patientID); s.bind(4, b.at); s.bind(5, b.ward)
        s.bind(6, b.procedure); s.bind(7, b.admitAt); s.bind(8, b.clinic); s.bind(9, b.mode?.rawValue)
        s.bind(10, b.expectedAt); s.bind(11, b.delayReason); s.bind(12, b.performedAt); s.bind(13, b.cancelled)
        s.bind(14, b.cancelReason); s.bind(15, b.revision); s.bind(16, now)
        try s.run(db)
    }

    static func loadBooking(_ db: Database, _ kind: BookingKind, _ ref: String) throws -> Booking? {
        let s = try PreparedSQL(db, "SELECT \(bookingColumns) FROM bookings WHERE kind = ? AND ref = ?")
        s.bind(1, kind.rawValue)
        s.bind(2, ref)
        return try s.first(db, readBooking)
    }

    static func loadPatient(_ db: Database, _ id: String) throws -> Patient? {
        let s = try db.cachedStatement(sql: "SELECT id, nhs_number, name, phone, email, channel, opted_out, voicemail_ok, deceased FROM patients WHERE id = ?")
        let q = PreparedSQL(s)
        q.bind(1, id)
        return try q.first(db) { r in
            Patient(id: r.string(0)!, nhsNumber: r.string(1), name: r.string(2), phone: r.string(3), email: r.string(4),
                    channel: r.string(5).flatMap(Channel.init(rawValue:)), optedOut: r.bool(6), voicemailOK: r.bool(7),
                    deceased: r.bool(8))
        } ?? nil
    }
}
