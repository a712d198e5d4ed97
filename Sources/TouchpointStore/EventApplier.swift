import Foundation
import GRDB
import TouchpointDomain

/// Applies validated queue lines inside the ingest transaction: idempotency,
/// booking rules, patient details, rejects.
struct EventApplier {
    let db: Database
    let now: Date

    mutating func apply(_ line: IngestLine, counts: inout IngestCounts) throws {
        switch line.parsed {
        case .failure(let reject):
            try record(reject, line, &counts)
        case .success(let env):
            if let known = try Int64.fetchOne(db.cachedStatement(sql: "SELECT hash FROM events WHERE id = ?"), arguments: [env.id]) {
                if UInt64(bitPattern: known) == env.contentHash {
                    counts.duplicates += 1
                } else {
                    try record(QueueReject(.conflict, "event id \"\(env.id.prefix(128))\" was already applied with different content", eventID: env.id), line, &counts)
                }
                return
            }
            if let (kind, ref) = env.event.booking {
                let existing = try Self.loadBooking(db, kind, ref)
                switch BookingLedger.apply(env.event, to: existing, eventID: env.id) {
                case .failure(let reject):
                    try record(reject, line, &counts)
                    return
                case .success(let booking):
                    try save(booking)
                }
            }
            if let details = env.event.patient {
                var p = try Self.loadPatient(db, details.id) ?? Patient(id: details.id)
                p.update(with: details)
                try save(p)
            }
            try db.cachedStatement(sql: "INSERT INTO events (id, hash, type, ref, line, offset) VALUES (?, ?, ?, ?, ?, ?)")
                .execute(arguments: [env.id, Int64(bitPattern: env.contentHash), env.event.typeName,
                                     env.event.booking?.ref, line.line, line.offset])
            counts.ingested += 1
        }
    }

    private func record(_ reject: QueueReject, _ line: IngestLine, _ counts: inout IngestCounts) throws {
        // Only the rejects keep their raw line (admins see it with --show-line).
        counts.rejected += 1
        counts.rejects.append(RejectedLine(line: line.line, offset: line.offset, reject: reject))
        try db.cachedStatement(sql: "INSERT INTO rejects (line, offset, event_id, code, message, raw, at) VALUES (?, ?, ?, ?, ?, ?, ?)")
            .execute(arguments: [line.line, line.offset, reject.eventID, reject.code.rawValue, reject.message,
                                 line.raw.map { Data($0) }, now.millis])
    }

    static func loadBooking(_ db: Database, _ kind: BookingKind, _ ref: String) throws -> Booking? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM bookings WHERE kind = ? AND ref = ?"),
                                         arguments: [kind.rawValue, ref])
        else { return nil }
        return Booking(
            kind: kind, ref: ref, patientID: row["patient_id"], at: Date(millis: row["at"]),
            ward: row["ward"], procedure: row["procedure"], admitAt: (row["admit_at"] as Int64?).map(Date.init(millis:)),
            clinic: row["clinic"], mode: (row["mode"] as String?).flatMap(AppointmentMode.init(rawValue:)),
            expectedAt: (row["expected_at"] as Int64?).map(Date.init(millis:)), delayReason: row["delay_reason"],
            performedAt: (row["performed_at"] as Int64?).map(Date.init(millis:)),
            cancelled: row["cancelled"], cancelReason: row["cancel_reason"], revision: row["revision"])
    }

    private func save(_ b: Booking) throws {
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO bookings (kind, ref, patient_id, at, ward, procedure, admit_at, clinic, mode,
                expected_at, delay_reason, performed_at, cancelled, cancel_reason, revision, updated_at)
            VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                b.kind.rawValue, b.ref, b.patientID, b.at.millis, b.ward, b.procedure, b.admitAt?.millis, b.clinic,
                b.mode?.rawValue, b.expectedAt?.millis, b.delayReason, b.performedAt?.millis, b.cancelled,
                b.cancelReason, b.revision, now.millis,
            ])
    }

    static func loadPatient(_ db: Database, _ id: String) throws -> Patient? {
        guard let row = try Row.fetchOne(db.cachedStatement(sql: "SELECT * FROM patients WHERE id = ?"), arguments: [id])
        else { return nil }
        return Patient(
            id: id, nhsNumber: row["nhs_number"], name: row["name"], phone: row["phone"], email: row["email"],
            channel: (row["channel"] as String?).flatMap(Channel.init(rawValue:)), optedOut: row["opted_out"],
            voicemailOK: row["voicemail_ok"], deceased: row["deceased"])
    }

    private func save(_ p: Patient) throws {
        try db.cachedStatement(sql: """
            INSERT OR REPLACE INTO patients (id, nhs_number, name, phone, email, channel, opted_out, voicemail_ok,
                deceased, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
            """).execute(arguments: [
                p.id, p.nhsNumber, p.name, p.phone, p.email, p.channel?.rawValue, p.optedOut, p.voicemailOK,
                p.deceased, now.millis,
            ])
    }
}
