import Foundation
import GRDB
import TouchpointDomain

/// Every fixed statement the store runs, each written once: one query per
/// question. (The few whose shape depends on the question, the job list's
/// filters and the call list's ward, are built in `StoreReading`.)
enum Query: Hashable, CaseIterable {
    case jobByID, jobsOfBooking, pendingJobsOfPatient, historyOfJob, saveJob, insertHistory, addToJobCount
    case jobCounts, jobsToCheck, nextCheckAt, nextScheduledCheck, scheduledJobs, dueNotices
    case bookingByKey, saveBooking, openBookingCount, patientByID, savePatient, patientCount, addToRecordCounts
    case eventHash, insertEvent, insertReject, rejects
    case deliveriesOfJob, firstDeliveryAt, insertDelivery, lastDelivery
    case attemptsOfCall, insertAttempt, insertDelay
    case insertAudit, setting, setSetting, queueTotals, advanceQueue

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
        case .historyOfJob: return "SELECT at, actor, from_state, to_state, reason FROM job_history WHERE job_id = ? ORDER BY id"
        case .saveJob:
            let names = JobColumn.allCases.map(\.name) + ["updated_at", "next_check_at"]
            return "INSERT OR REPLACE INTO jobs (\(names.joined(separator: ", "))) VALUES (\(names.map { _ in "?" }.joined(separator: ", ")))"
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
            return "INSERT OR REPLACE INTO bookings (\(BookingColumn.list), updated_at) VALUES (\(BookingColumn.allCases.map { _ in "?" }.joined(separator: ", ")), ?)"
        case .openBookingCount: return "SELECT open_bookings FROM queue_state WHERE id = 1"
        case .patientByID: return "SELECT \(PatientColumn.list) FROM patients WHERE id = ?"
        case .savePatient:
            return """
                INSERT OR REPLACE INTO patients (id, nhs_number, name, phone, email, channel, opted_out, voicemail_ok, deceased, updated_at)
                VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
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
        case .lastDelivery: return "SELECT max(at) FROM deliveries WHERE result = \(DeliveryAttempt.Result.sent.sqlLiteral)"
        case .attemptsOfCall: return "SELECT at, actor, outcome, wound_care, note FROM call_attempts WHERE job_id = ? ORDER BY id"
        case .insertAttempt: return "INSERT INTO call_attempts (job_id, at, actor, outcome, wound_care, note) VALUES (?, ?, ?, ?, ?, ?)"
        case .insertDelay: return "INSERT INTO delays (ref, at, expected_at) VALUES (?, ?, ?)"
        case .insertAudit: return "INSERT INTO audit (at, actor, action, subject, detail) VALUES (?, ?, ?, ?, ?)"
        case .setting: return "SELECT value FROM meta WHERE key = ?"
        case .setSetting: return "INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)"
        case .queueTotals:
            return "SELECT device, inode, offset, line, first_line_hash, ingested, duplicates, rejected, last_read_at FROM queue_state WHERE id = 1"
        case .advanceQueue:
            return """
                UPDATE queue_state SET device = ?, inode = ?, offset = ?, line = ?, first_line_hash = ?,
                    ingested = ingested + ?, duplicates = duplicates + ?, rejected = rejected + ?, last_read_at = ?
                WHERE id = 1
                """
        }
    }
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
