import Foundation
import GRDB
import TouchpointDomain

/// Every fixed statement the store runs, each written once: one query per
/// question. (The few whose shape depends on the question, the job list's
/// filters and the call list's ward, are built in `StoreReading`.)
enum Query: Hashable, CaseIterable {
    case jobByID, jobsOfBooking, pendingJobsOfPatient, bookingsWithJobsOfPatient, historyOfJob, saveJob, insertHistory, addToJobCount
    case jobCounts, jobsToCheck, nextCheckAt, nextScheduledCheck, scheduledJobs, dueNotices
    case bookingByKey, saveBooking, openBookingCount, patientByID, savePatient, patientCount, addToRecordCounts
    case eventHash, insertEvent, insertReject, rejects
    case deliveriesOfJob, firstDeliveryAt, insertDelivery, lastDelivery, awaitingReceipts, deliveryCounts
    case attemptsOfCall, insertAttempt, withdrawLastAttempt, insertDelay
    case insertAudit, setting, setSetting, queueTotals, advanceQueue, recordSourceEvents, sources, openCallsByWard

    /// The notices the dispatcher sends: written once, for the query and
    /// for the partial index that answers it (SQLite uses a partial index
    /// only for a query whose WHERE names the index's terms).
    static let dueNoticeFilter = "state = \(JobState.due.sqlLiteral) AND kind != \(JobKind.checkinCall.sqlLiteral) AND worklist IS NULL"

    var sql: String {
        let jobs = JobColumn.list()
        switch self {
        case .jobByID: return "SELECT \(jobs) FROM jobs WHERE id = ?"
        case .jobsOfBooking: return "SELECT \(jobs) FROM jobs WHERE booking_kind = ? AND ref = ? ORDER BY created_at, id"
        case .pendingJobsOfPatient:
            return "SELECT \(jobs) FROM jobs WHERE patient_id = ? AND state IN (\(JobState.scheduled.sqlLiteral), \(JobState.due.sqlLiteral))"
        case .bookingsWithJobsOfPatient: return "SELECT DISTINCT booking_kind, ref FROM jobs WHERE patient_id = ?"
        case .historyOfJob: return "SELECT at, actor, from_state, to_state, reason FROM job_history WHERE job_id = ? ORDER BY id"
        case .saveJob:
            return Self.upsert("jobs", JobColumn.allCases.map(\.name) + ["updated_at", "next_check_at"], key: "id",
                               fixed: JobColumn.fixed.map(\.name))
        case .insertHistory: return "INSERT INTO job_history (job_id, at, actor, from_state, to_state, reason) VALUES (?, ?, ?, ?, ?, ?)"
        case .addToJobCount: return "INSERT INTO job_counts (kind, state, n) VALUES (?1, ?2, ?3) ON CONFLICT (kind, state) DO UPDATE SET n = n + ?3"
        case .jobCounts: return "SELECT kind, state, n FROM job_counts WHERE n != 0"
        case .jobsToCheck: return "SELECT \(jobs) FROM jobs WHERE next_check_at <= ? ORDER BY next_check_at LIMIT ?"
        case .nextCheckAt: return "SELECT min(next_check_at) FROM jobs WHERE next_check_at IS NOT NULL"
        case .nextScheduledCheck:
            return "SELECT next_check_at FROM jobs WHERE next_check_at IS NOT NULL AND state = \(JobState.scheduled.sqlLiteral) ORDER BY next_check_at LIMIT 1"
        case .scheduledJobs: return "SELECT \(jobs) FROM jobs WHERE state IN (\(JobState.scheduled.sqlLiteral), \(JobState.due.sqlLiteral))"
        case .dueNotices:
            return "SELECT \(jobs) FROM jobs WHERE \(Self.dueNoticeFilter) ORDER BY due_at LIMIT ?"
        case .bookingByKey: return "SELECT \(BookingColumn.list) FROM bookings WHERE kind = ? AND ref = ?"
        case .saveBooking:
            return Self.upsert("bookings", BookingColumn.allCases.map(\.name) + ["updated_at"], key: "kind, ref",
                               fixed: BookingColumn.fixed.map(\.name))
        case .openBookingCount: return "SELECT open_bookings FROM queue_state WHERE id = 1"
        case .patientByID: return "SELECT \(PatientColumn.list) FROM patients WHERE id = ?"
        case .savePatient:
            return """
                INSERT OR REPLACE INTO patients (id, nhs_number, name, phone, email, channel, opted_out, voicemail_ok, deceased, merged_into, updated_at,
                                                 birth_date, communication_needs)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
                """
        case .patientCount: return "SELECT patients FROM queue_state WHERE id = 1"
        case .addToRecordCounts: return "UPDATE queue_state SET patients = patients + ?, open_bookings = open_bookings + ? WHERE id = 1"
        case .eventHash: return "SELECT hash FROM events WHERE id = ?"
        case .insertEvent: return "INSERT INTO events (id, hash, type, ref, line, offset) VALUES (?, ?, ?, ?, ?, ?)"
        case .insertReject: return "INSERT INTO rejects (line, offset, event_id, code, message, raw, at) VALUES (?, ?, ?, ?, ?, ?, ?)"
        case .rejects: return "SELECT line, offset, event_id, code, message, raw, at FROM rejects ORDER BY id DESC LIMIT ?"
        case .deliveriesOfJob: return "SELECT at, result, detail FROM deliveries WHERE job_id = ? ORDER BY id"
        case .firstDeliveryAt: return "SELECT min(at) FROM deliveries WHERE job_id = ?"
        case .insertDelivery: return "INSERT INTO deliveries (job_id, at, result, detail) VALUES (?, ?, ?, ?)"
        case .awaitingReceipts:
            return "SELECT \(jobs) FROM jobs WHERE delivery = \(DeliveryStatus.sending.sqlLiteral) ORDER BY delivery_at LIMIT ?"
        case .deliveryCounts: return "SELECT delivery, count(*) FROM jobs WHERE delivery IS NOT NULL GROUP BY delivery"
        case .lastDelivery: return "SELECT max(at) FROM deliveries WHERE result = \(DeliveryAttempt.Result.sent.sqlLiteral)"
        case .attemptsOfCall: return "SELECT at, actor, outcome, wound_care, note, withdrawn FROM call_attempts WHERE job_id = ? ORDER BY id"
        case .withdrawLastAttempt:
            return "UPDATE call_attempts SET withdrawn = ? WHERE id = (SELECT max(id) FROM call_attempts WHERE job_id = ? AND withdrawn IS NULL)"
        case .insertAttempt: return "INSERT INTO call_attempts (job_id, at, actor, outcome, wound_care, note) VALUES (?, ?, ?, ?, ?, ?)"
        case .insertDelay: return "INSERT INTO delays (ref, at, expected_at) VALUES (?, ?, ?)"
        case .insertAudit: return "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)"
        case .setting: return "SELECT value FROM meta WHERE key = ?"
        case .setSetting: return "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"
        case .queueTotals:
            return "SELECT device, inode, offset, line, first_line_hash, ingested, duplicates, rejected, last_read_at, not_known FROM queue_state WHERE id = 1"
        case .advanceQueue:
            return """
                UPDATE queue_state SET device = ?, inode = ?, offset = ?, line = ?, first_line_hash = ?,
                    ingested = ingested + ?, duplicates = duplicates + ?, rejected = rejected + ?, last_read_at = ?,
                    not_known = not_known + ?
                WHERE id = 1
                """
        case .recordSourceEvents:
            return """
                INSERT INTO sources (source, events, last_event_at) VALUES (?1, ?2, ?3)
                ON CONFLICT (source) DO UPDATE SET events = events + ?2, last_event_at = ?3
                """
        case .sources: return "SELECT source, events, last_event_at FROM sources ORDER BY source"
        case .openCallsByWard:
            return "SELECT ward, count(*) FROM jobs WHERE kind = \(JobKind.checkinCall.sqlLiteral)"
                + " AND state IN (\(JobState.scheduled.sqlLiteral), \(JobState.due.sqlLiteral)) GROUP BY ward"
        }
    }
}

extension Query {
    /// Saves a row whole, one parameter per column in `columns`' order. An
    /// upsert rather than `INSERT OR REPLACE`, which deletes the row and
    /// inserts it again, re-writing every index entry: this sets only the
    /// columns not `fixed` for the row's life, and SQLite leaves alone the
    /// indexes none of whose columns it sets.
    static func upsert(_ table: String, _ columns: [String], key: String, fixed: [String]) -> String {
        "INSERT INTO \(table) (\(columns.joined(separator: ", "))) VALUES (\(columns.map { _ in "?" }.joined(separator: ", ")))"
            + " ON CONFLICT (\(key)) DO UPDATE SET "
            + columns.filter { !fixed.contains($0) }.map { "\($0) = excluded.\($0)" }.joined(separator: ", ")
    }
}

/// The statements whose shape depends on the question (and the report's
/// bookings of a period), built here beside the fixed ones so that
/// `QueryPlanTests` plans them too.
extension Query {
    /// The job list's statement for a filter, its parameters in the order
    /// of `JobFilter`'s fields. A ref is looked up with every booking kind,
    /// so the by-booking index answers it rather than a scan of every job.
    static func jobs(_ f: JobFilter) -> String {
        var sql = "SELECT \(JobColumn.list()) FROM jobs WHERE 1"
        if f.kind != nil { sql += " AND kind = ?" }
        if f.state != nil { sql += " AND state = ?" }
        if f.ref != nil { sql += " AND booking_kind IN (\(BookingKind.allCases.map(\.sqlLiteral).joined(separator: ", "))) AND ref = ?" }
        if f.patientID != nil { sql += " AND patient_id = ?" }
        if f.dueFrom != nil { sql += " AND due_at >= ?" }
        if f.dueTo != nil { sql += " AND due_at < ?" }
        if let d = f.delivery {
            sql += " AND delivery IS NOT NULL AND delivery IN (\(d.map(\.sqlLiteral).joined(separator: ", ")))"
        }
        // A scope of no wards sees nothing (IN () is not SQL). Wards are
        // kept tidied (WardNames), so case is all two spellings can differ by.
        if let w = f.wards { sql += w.isEmpty ? " AND 0" : " AND ward COLLATE NOCASE IN (\(Array(repeating: "?", count: w.count).joined(separator: ", ")))" }
        return sql + " ORDER BY due_at, id LIMIT \(max(1, f.limit))"
    }

    /// The call list's statement: parameters the worklist, the day's start
    /// and end (not for the escalated list), the ward, each when asked for.
    static func calls(ward: Bool, escalated: Bool, list: Bool) -> String {
        let checkin = "j.kind = \(JobKind.checkinCall.sqlLiteral)"
        let calls = list ? "j.worklist = ?"
            : escalated ? "(\(checkin) OR j.kind = \(JobKind.concernFollowUp.sqlLiteral) OR j.worklist IS NOT NULL)" : checkin
        var sql = """
            SELECT \(JobColumn.list(alias: "j")), p.name, p.phone, p.voicemail_ok, b.procedure, b.at, p.birth_date, p.nhs_number, p.communication_needs
            FROM jobs j
            LEFT JOIN patients p ON p.id = j.patient_id
            LEFT JOIN bookings b ON b.kind = j.booking_kind AND b.ref = j.ref
            WHERE \(calls)
            """
        sql += escalated
            ? " AND j.state = \(JobState.escalated.sqlLiteral)"
            // A day's calls, and those of its calls not made that were carried
            // to a later day (overdue since it): an evening's list still shows them.
            : " AND j.state IN (\(JobState.scheduled.sqlLiteral), \(JobState.due.sqlLiteral)) AND ((j.due_at >= ? AND j.due_at < ?) OR j.overdue_since = ?)"
        if ward { sql += " AND j.ward = ? COLLATE NOCASE" }
        return sql + " ORDER BY (j.overdue_since IS NULL), j.overdue_since, j.due_at, j.id"
    }

    /// The bookings of a period, by their day (through `bookings_day`).
    static let pledgeBookings = """
        SELECT b.kind, b.ref, coalesce(b.ward, b.clinic), b.at, b.performed_at, b.expected_at, b.booked_at, b.cancelled, b.patient_id
        FROM bookings b WHERE coalesce(b.performed_at, b.at) >= ? AND coalesce(b.performed_at, b.at) < ?
        """
}

/// The statements of one transaction, prepared on first use and reused for
/// the rest of it: an ingest batch runs each of them tens of thousands of
/// times. GRDB keeps the compiled statements across transactions.
final class StatementCache {
    private var prepared: [Query: PreparedSQL] = [:]

    func statement(_ q: Query, _ db: Database) throws -> PreparedSQL {
        if let p = prepared[q] { return p }
        let p = PreparedSQL(try db.cachedStatement(sql: q.sql))
        prepared[q] = p
        return p
    }
}
