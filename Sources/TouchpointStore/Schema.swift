import GRDB
import TouchpointDomain

/// Versioned migrations. A migration is never edited once released: add a new one.
enum Schema {
    static var migrator: DatabaseMigrator {
        var m = DatabaseMigrator()
        m.registerMigration("v1: queue, patients, bookings, events, rejects, audit") { db in
            try db.execute(sql: """
                CREATE TABLE queue_state (
                    id INTEGER PRIMARY KEY CHECK (id = 1),
                    device INTEGER, inode INTEGER,
                    offset INTEGER NOT NULL DEFAULT 0,
                    line INTEGER NOT NULL DEFAULT 0,
                    first_line_hash INTEGER,
                    ingested INTEGER NOT NULL DEFAULT 0,
                    duplicates INTEGER NOT NULL DEFAULT 0,
                    rejected INTEGER NOT NULL DEFAULT 0,
                    last_read_at INTEGER
                );
                INSERT INTO queue_state (id) VALUES (1);

                CREATE TABLE patients (
                    id TEXT PRIMARY KEY NOT NULL,
                    nhs_number TEXT, name TEXT, phone TEXT, email TEXT, channel TEXT,
                    opted_out INTEGER NOT NULL DEFAULT 0,
                    voicemail_ok INTEGER NOT NULL DEFAULT 0,
                    deceased INTEGER NOT NULL DEFAULT 0,
                    updated_at INTEGER NOT NULL
                ) WITHOUT ROWID;

                CREATE TABLE bookings (
                    kind TEXT NOT NULL, ref TEXT NOT NULL,
                    patient_id TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    ward TEXT, procedure TEXT, admit_at INTEGER, clinic TEXT, mode TEXT,
                    expected_at INTEGER, delay_reason TEXT, performed_at INTEGER,
                    cancelled INTEGER NOT NULL DEFAULT 0, cancel_reason TEXT,
                    revision INTEGER NOT NULL DEFAULT 1,
                    updated_at INTEGER NOT NULL,
                    PRIMARY KEY (kind, ref)
                ) WITHOUT ROWID;
                CREATE INDEX bookings_patient ON bookings (patient_id);

                CREATE TABLE events (
                    id TEXT PRIMARY KEY NOT NULL,
                    hash INTEGER NOT NULL,
                    type TEXT NOT NULL,
                    ref TEXT,
                    line INTEGER NOT NULL,
                    offset INTEGER NOT NULL
                ) WITHOUT ROWID;

                CREATE TABLE rejects (
                    id INTEGER PRIMARY KEY,
                    line INTEGER NOT NULL,
                    offset INTEGER NOT NULL,
                    event_id TEXT,
                    code TEXT NOT NULL,
                    message TEXT NOT NULL,
                    raw BLOB,
                    at INTEGER NOT NULL
                );

                CREATE TABLE audit (
                    id INTEGER PRIMARY KEY,
                    at INTEGER NOT NULL,
                    actor TEXT NOT NULL,
                    action TEXT NOT NULL,
                    subject TEXT,
                    detail TEXT
                );
                """)
        }
        m.registerMigration("v2: jobs, job history, job counts") { db in
            try db.execute(sql: """
                CREATE TABLE jobs (
                    id TEXT PRIMARY KEY NOT NULL,
                    kind TEXT NOT NULL, booking_kind TEXT NOT NULL, ref TEXT NOT NULL, patient_id TEXT NOT NULL,
                    state TEXT NOT NULL,
                    due_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,
                    created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL,
                    revision INTEGER NOT NULL DEFAULT 1, attempts INTEGER NOT NULL DEFAULT 0,
                    ward TEXT, expected_at INTEGER, delay_reason TEXT,
                    call_day TEXT, overdue_since TEXT, outcome TEXT, wound_care INTEGER,
                    rule TEXT NOT NULL,
                    next_check_at INTEGER
                ) WITHOUT ROWID;
                CREATE INDEX jobs_booking ON jobs (booking_kind, ref);
                CREATE INDEX jobs_patient ON jobs (patient_id);
                CREATE INDEX jobs_next_check ON jobs (next_check_at) WHERE next_check_at IS NOT NULL;
                CREATE INDEX jobs_scheduled_due ON jobs (due_at) WHERE state = \(JobState.scheduled.sqlLiteral);

                CREATE TABLE job_history (
                    id INTEGER PRIMARY KEY,
                    job_id TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    actor TEXT NOT NULL,
                    from_state TEXT,
                    to_state TEXT NOT NULL,
                    reason TEXT NOT NULL
                );
                CREATE INDEX job_history_job ON job_history (job_id);

                CREATE TABLE job_counts (
                    kind TEXT NOT NULL, state TEXT NOT NULL, n INTEGER NOT NULL,
                    PRIMARY KEY (kind, state)
                ) WITHOUT ROWID;
                """)
        }
        m.registerMigration("v3: call notes and last attempt") { db in
            try db.execute(sql: """
                ALTER TABLE jobs ADD COLUMN note TEXT;
                ALTER TABLE jobs ADD COLUMN last_attempt_at INTEGER;
                CREATE INDEX jobs_calls ON jobs (kind, state, due_at);
                CREATE TABLE meta (key TEXT PRIMARY KEY NOT NULL, value TEXT) WITHOUT ROWID;
                """)
        }
        m.registerMigration("v4: deliveries") { db in
            try db.execute(sql: """
                CREATE TABLE deliveries (
                    id INTEGER PRIMARY KEY,
                    job_id TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    result TEXT NOT NULL,
                    detail TEXT
                );
                CREATE INDEX deliveries_job ON deliveries (job_id);
                """)
        }
        m.registerMigration("v5: fewer job indexes keyed by time") { db in
            // Each index keyed by a time takes its inserts at random places; a
            // million jobs made three of them, and ingest spent its time
            // reading their pages back in. The next due job is found through
            // jobs_next_check (a scheduled job's next check is its due time),
            // and only call jobs need the by-day index the call list uses.
            try db.execute(sql: """
                DROP INDEX jobs_scheduled_due;
                DROP INDEX jobs_calls;
                CREATE INDEX jobs_calls ON jobs (state, due_at) WHERE kind = \(JobKind.checkinCall.sqlLiteral);
                """)
        }
        m.registerMigration("v6: every outcome of a call") { db in
            // Each outcome staff record, kept whole (the job keeps only the
            // last): the call's attempts for the web view and the report.
            // Calls recorded before this migration have only their last.
            try db.execute(sql: """
                CREATE TABLE call_attempts (
                    id INTEGER PRIMARY KEY,
                    job_id TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    actor TEXT NOT NULL,
                    outcome TEXT NOT NULL,
                    wound_care INTEGER,
                    note TEXT
                );
                CREATE INDEX call_attempts_job ON call_attempts (job_id);
                """)
        }
        m.registerMigration("v7: what the pledge report counts") { db in
            // When each booking was made or last moved, and each delay as it
            // was learnt: the report's "booked less than a week ahead" and
            // "delays notified in time". Older bookings and delays have none.
            // The report reads the bookings of a period by their day (the
            // surgery's when performed, else as booked).
            try db.execute(sql: """
                ALTER TABLE bookings ADD COLUMN booked_at INTEGER;
                CREATE TABLE delays (
                    id INTEGER PRIMARY KEY,
                    ref TEXT NOT NULL,
                    at INTEGER NOT NULL,
                    expected_at INTEGER NOT NULL
                );
                CREATE INDEX delays_ref ON delays (ref);
                CREATE INDEX bookings_day ON bookings (coalesce(performed_at, at));
                """)
        }
        m.registerMigration("v8: delivery receipts") { db in
            // A notice's id at a transport that gives receipts (GOV.UK Notify),
            // the latest word on its delivery, whether it may have been taken
            // without an answer, and the other channel it went by once after
            // its delivery failed. The receipt poller, `status`'s counts
            // and `jobs --delivery` read only the notices that have receipts,
            // through their own small index.
            try db.execute(sql: """
                ALTER TABLE jobs ADD COLUMN notification_id TEXT;
                ALTER TABLE jobs ADD COLUMN delivery TEXT;
                ALTER TABLE jobs ADD COLUMN delivery_at INTEGER;
                ALTER TABLE jobs ADD COLUMN send_uncertain INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE jobs ADD COLUMN fallback_channel TEXT;
                CREATE INDEX jobs_delivery ON jobs (delivery, delivery_at) WHERE delivery IS NOT NULL;
                """)
        }
        m.registerMigration("v9: contacts a hospital configures") { db in
            // contacts.md: an appointment's service and a treatment's pathway
            // (their contacts' filters), and the worklist of a configured call.
            try db.execute(sql: """
                ALTER TABLE bookings ADD COLUMN service TEXT;
                ALTER TABLE bookings ADD COLUMN pathway TEXT;
                ALTER TABLE jobs ADD COLUMN worklist TEXT;
                """)
        }
        m.registerMigration("v10: due notices found by an index") { db in
            // The dispatcher asks for the notices that are due after every
            // change; without an index that was a scan of every job (45 ms
            // with a million events' state, for each event appended). Only
            // due notices are in it, so it stays a few entries long and costs
            // ingest nothing.
            try db.execute(sql: """
                CREATE INDEX jobs_due_notices ON jobs (due_at)
                WHERE \(Query.dueNoticeFilter)
                """)
        }
        m.registerMigration("v11: patients and open bookings kept counted") { db in
            // `status` counted every patient and open booking each time the
            // state had changed: 40 ms with a million events' state, after
            // every appended event. Ingest now keeps both counts, as it keeps
            // the job counts, in the transaction that changes them.
            try db.execute(sql: """
                ALTER TABLE queue_state ADD COLUMN patients INTEGER NOT NULL DEFAULT 0;
                ALTER TABLE queue_state ADD COLUMN open_bookings INTEGER NOT NULL DEFAULT 0;
                UPDATE queue_state SET patients = (SELECT count(*) FROM patients),
                                       open_bookings = (SELECT count(*) FROM bookings WHERE cancelled = 0);
                """)
        }
        m.registerMigration("v12: the last notice sent found by an index") { db in
            // `status` names when a notice last went; that was a read of
            // every delivery ever made (a year of notices is about 100,000),
            // each time the state had changed. One more entry per delivery.
            try db.execute(sql: "CREATE INDEX deliveries_sent ON deliveries (result, at)")
        }
        m.registerMigration("v13: no index that no statement reads") { db in
            // Every index costs each write of its table a page at a random
            // place. bookings_patient (v1) answered no statement, and
            // delays_ref (v7) none since the report reads every delay in
            // order; together a tenth of what a catch-up wrote.
            // `QueryPlanTests` now fails for an index no statement uses.
            try db.execute(sql: "DROP INDEX bookings_patient; DROP INDEX delays_ref")
        }
        m.registerMigration("v14: writers of the queue, merged patients, patients not known") { db in
            // queue-format.md's writers: each event's `source`, and when the
            // last event of each was read (`status`; feed silence). A record
            // the hospital merged away points at its survivor. `not_known`
            // counts updates about patients touchpoint has no booking for.
            try db.execute(sql: """
                CREATE TABLE sources (
                    source TEXT PRIMARY KEY NOT NULL,
                    events INTEGER NOT NULL,
                    last_event_at INTEGER NOT NULL
                ) WITHOUT ROWID;
                ALTER TABLE patients ADD COLUMN merged_into TEXT;
                ALTER TABLE queue_state ADD COLUMN not_known INTEGER NOT NULL DEFAULT 0;
                """)
        }
        m.registerMigration("v15: the patient's date of birth") { db in
            // scheduling.md's safety rules: who the patient is, confirmed on the phone (YYYY-MM-DD).
            try db.execute(sql: "ALTER TABLE patients ADD COLUMN birth_date TEXT")
        }
        m.registerMigration("v16: an escalation's age and who took it") { db in
            // scheduling.md's safety rules: escalations are taken. A call
            // escalated before this release has no age: it counts from the upgrade.
            try db.execute(sql: """
                ALTER TABLE jobs ADD COLUMN escalated_at INTEGER;
                ALTER TABLE jobs ADD COLUMN taken_by TEXT;
                ALTER TABLE jobs ADD COLUMN taken_at INTEGER;
                UPDATE jobs SET escalated_at = CAST(strftime('%s', 'now') AS INTEGER) * 1000 WHERE state = \(JobState.escalated.sqlLiteral);
                """)
        }
        m.registerMigration("v17: outcomes withdrawn, communication needs") { db in
            // scheduling.md's safety rules: a call reopened keeps the outcome
            // that closed it, withdrawn (who, when, why); a patient's
            // communication needs, as the codes of [needs], space-separated.
            try db.execute(sql: """
                ALTER TABLE call_attempts ADD COLUMN withdrawn TEXT;
                ALTER TABLE patients ADD COLUMN communication_needs TEXT;
                """)
        }
        return m
    }

    /// The migrations an existing database has yet to run, by name (empty
    /// for one that is up to date; every one of them for a new file).
    static func pending(_ db: Database) throws -> [String] {
        let done = Set(try migrator.appliedIdentifiers(db))
        return migrator.migrations.filter { !done.contains($0) }
    }
}
