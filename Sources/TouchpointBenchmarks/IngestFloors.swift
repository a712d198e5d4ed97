import Foundation
import TouchpointDomain
import TouchpointLinux
import TouchpointTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// Lower bounds for issue 17's catch-up, measured beside it so the ratio it
/// asks for can be judged against them in the same run (`docs/benchmarks.md`, "The ingest
/// write path"): what SQLite needs for the rows the events change after they
/// are made, what the store needs if every row were written once, and what
/// the domain's own work needs with no store at all. A redesign can overlap
/// the last two on two cores; it cannot go below the larger.
extension Benchmarks {
    /// The three lower bounds measured beside the catch-up, as rows of the
    /// table, each against the same baseline: the random part alone, the
    /// store alone, the domain alone. On the stopped daemon's state.
    static func floorRows(_ h: DaemonHarness, _ o: BenchmarkOptions, baseline: TimeInterval) throws -> [BenchmarkRow] {
        let (floor, floorCounts) = try randomPartAlone(h, o)
        let store = try storeAlone(h, o)
        let domain = try domainAlone(h, o)
        return [
            BenchmarkRow(scenario: "the random part alone: `sqlite3` updating in place the rows those events changed after they were made (jobs, bookings: \(floorCounts)), one statement each, one transaction, on a copy of the state",
                         ours: String(format: "%.1f s", floor), baseline: String(format: "sqlite3 .import %.1f s", baseline),
                         ratio: String(format: "%.2f", floor / baseline), target: "-", met: nil),
            BenchmarkRow(scenario: "the store alone: `sqlite3` writing that end state once, in key order, into an empty database of the same schema, then building its indexes (no catch-up that ends in this schema writes less)",
                         ours: String(format: "%.1f s (rows %.1f, indexes %.1f)", store.load + store.indexes, store.load, store.indexes),
                         baseline: String(format: "sqlite3 .import %.1f s", baseline),
                         ratio: String(format: "%.2f", (store.load + store.indexes) / baseline), target: "-", met: nil),
            BenchmarkRow(scenario: "the domain alone: the same events parsed and applied in memory by the daemon's rules, no store, one thread (holding every event and the whole state: \(domain.heldMiB) MiB, the state alone \(domain.stateMiB) MiB)",
                         ours: String(format: "%.1f s (parse %.1f, apply %.1f)", domain.parse + domain.apply, domain.parse, domain.apply),
                         baseline: String(format: "sqlite3 .import %.1f s", baseline),
                         ratio: String(format: "%.2f", (domain.parse + domain.apply) / baseline), target: "-", met: nil),
        ]
    }

    /// What SQLite itself needs for the random part of the ingest's work:
    /// the rows the events changed after they were made (bookings moved, jobs
    /// re-planned), updated in place in one transaction on a copy of the
    /// state, as one statement each (no per-row overhead). Returns the time
    /// and the counts of jobs and bookings updated.
    static func randomPartAlone(_ h: DaemonHarness, _ o: BenchmarkOptions) throws -> (TimeInterval, String) {
        let floorDB = h.dir + "/floor.sqlite"
        try FileManager.default.copyItem(atPath: h.databasePath, toPath: floorDB)
        let prep = try DaemonHarness.run("/usr/bin/sqlite3", [floorDB, """
            CREATE TABLE floor_jobs AS SELECT id FROM jobs ORDER BY random()
                LIMIT (SELECT count(*) FROM job_history WHERE from_state IS NOT NULL);
            CREATE TABLE floor_bookings AS SELECT kind, ref FROM bookings ORDER BY random()
                LIMIT (SELECT count(*) FROM events WHERE type NOT LIKE '%.booked' AND type != 'treatment.completed');
            SELECT (SELECT count(*) FROM floor_jobs) || ' ' || (SELECT count(*) FROM floor_bookings);
            """], timeout: 600)
        guard prep.status == 0 else { throw HarnessError("sqlite3 floor preparation: \(prep.stderr)") }
        let t = Date()
        let floorRun = try DaemonHarness.run("/usr/bin/sqlite3", [floorDB, "PRAGMA journal_mode=WAL;", "PRAGMA synchronous=FULL;", """
            BEGIN;
            UPDATE jobs SET due_at = due_at + 60000, next_check_at = next_check_at + 60000, updated_at = updated_at + 1, revision = revision + 1
                WHERE id IN (SELECT id FROM floor_jobs);
            UPDATE bookings SET at = at + 60000, revision = revision + 1, updated_at = updated_at + 1
                WHERE (kind, ref) IN (SELECT kind, ref FROM floor_bookings);
            COMMIT;
            """], timeout: 1800)
        let floor = Date().timeIntervalSince(t)
        guard floorRun.status == 0 else { throw HarnessError("sqlite3 floor: \(floorRun.stderr)") }
        let floorCounts = prep.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        o.log(String(format: "ingest: sqlite3 updating the changed rows (jobs, bookings: %@) in place: %.1f s", floorCounts, floor))
        try? FileManager.default.removeItem(atPath: floorDB)

        return (floor, floorCounts)
    }

    /// The ingest's end state written once, in key order, into an empty
    /// database of the same schema (WAL, `synchronous=FULL`, the daemon's
    /// 20 MiB cache), then its indexes built: every row inserted once at the
    /// end of its B-tree, every index built by one sort. No catch-up that ends
    /// in this schema can write less. Returns the load and the index times.
    static func storeAlone(_ h: DaemonHarness, _ o: BenchmarkOptions) throws -> (load: TimeInterval, indexes: TimeInterval) {
        let db = h.dir + "/store-alone.sqlite"
        defer { for suffix in ["", "-wal", "-shm"] { try? FileManager.default.removeItem(atPath: db + suffix) } }
        let schema = try DaemonHarness.run("/usr/bin/sqlite3", ["-readonly", h.databasePath,
            "SELECT sql || ';' FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"])
        let indexes = try DaemonHarness.run("/usr/bin/sqlite3", ["-readonly", h.databasePath,
            "SELECT sql || ';' FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"])
        let tables = try DaemonHarness.run("/usr/bin/sqlite3", ["-readonly", h.databasePath, """
            SELECT m.name || '|' || coalesce((SELECT group_concat(name, ', ') FROM
                (SELECT name FROM pragma_table_info(m.name) WHERE pk > 0 ORDER BY pk)), 'rowid')
            FROM sqlite_master m WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%' AND m.name != 'grdb_migrations'
            """])
        guard schema.status == 0, indexes.status == 0, tables.status == 0 else {
            throw HarnessError("sqlite3 reading the schema: \(schema.stderr) \(indexes.stderr) \(tables.stderr)")
        }
        let made = try DaemonHarness.run("/usr/bin/sqlite3", [db, "PRAGMA journal_mode=WAL;", schema.stdout])
        guard made.status == 0 else { throw HarnessError("sqlite3 making the empty schema: \(made.stderr)") }
        let copies = tables.stdout.split(separator: "\n").map { row -> String in
            let parts = row.split(separator: "|", maxSplits: 1)
            return "INSERT INTO main.\(parts[0]) SELECT * FROM state.\(parts[0]) ORDER BY \(parts[1]);"
        }
        // The state's own pages read once beforehand, so the load times the writes.
        _ = try DaemonHarness.run("/bin/sh", ["-c", "cat '\(h.databasePath)' > /dev/null"], timeout: 600)
        let setup = ["PRAGMA synchronous=FULL;", "PRAGMA cache_size=-20480;"]
        var t = Date()
        let load = try DaemonHarness.run("/usr/bin/sqlite3", [db] + setup + [
            "ATTACH '\(h.databasePath)' AS state;", "BEGIN;"] + copies + ["COMMIT;"], timeout: 1800)
        let loaded = Date().timeIntervalSince(t)
        guard load.status == 0 else { throw HarnessError("sqlite3 loading the end state: \(load.stderr)") }
        t = Date()
        let built = try DaemonHarness.run("/usr/bin/sqlite3", [db] + setup + ["BEGIN;", indexes.stdout, "COMMIT;"], timeout: 1800)
        let indexed = Date().timeIntervalSince(t)
        guard built.status == 0 else { throw HarnessError("sqlite3 building the indexes: \(built.stderr)") }
        o.log(String(format: "ingest: sqlite3 writing the end state once in key order %.1f s, its indexes %.1f s", loaded, indexed))
        return (loaded, indexed)
    }

    /// The domain's own work with no store: every line of the queue parsed
    /// (`QueueLineParser`) and applied in memory by the rules the daemon
    /// applies (`BookingLedger`, `Patient.update(with:)`, `Planner`), the
    /// whole state held in dictionaries, on one thread. It leaves out what
    /// needs the store (a deceased patient's jobs on other bookings, the
    /// history, the rejects' lines), so it is a lower bound. Returns the parse
    /// and apply times, the memory held with every event parsed, and the
    /// memory of the state alone once the events are gone.
    static func domainAlone(_ h: DaemonHarness, _ o: BenchmarkOptions) throws -> (parse: TimeInterval, apply: TimeInterval, heldMiB: Int, stateMiB: Int) {
        let before = residentKiB(getpid())
        let parser = QueueLineParser(clock: h.time.clock)
        var t = Date()
        var events: [QueueEnvelope] = []
        events.reserveCapacity(o.events)
        // The file's bytes go once parsed: only the events count as held.
        try Data(contentsOf: URL(fileURLWithPath: h.queuePath)).withUnsafeBytes { (raw: UnsafeRawBufferPointer) in
            let bytes = raw.bindMemory(to: UInt8.self)
            var start = 0
            for i in 0..<bytes.count where bytes[i] == 0x0A {
                if case .success(let e) = parser.parse(UnsafeBufferPointer(rebasing: bytes[start..<i])) { events.append(e) }
                start = i + 1
            }
        }
        let parse = Date().timeIntervalSince(t)

        struct Key: Hashable { var kind: BookingKind; var ref: String }
        let now = Date()
        let planner = Planner(rules: SchedulingRules(clock: h.time.clock), now: now)
        var applied: [String: UInt64] = [:]
        var bookings: [Key: Booking] = [:]
        var patients: [String: Patient] = [:]
        var jobs: [Key: [Job]] = [:]
        t = Date()
        for env in events where applied[env.id] == nil {
            var booking: Booking?
            if let (kind, ref) = env.event.booking {
                let key = Key(kind: kind, ref: ref)
                guard case .success(let b) = BookingLedger.apply(env.event, to: bookings[key], eventID: env.id, now: now) else { continue }
                bookings[key] = b
                if env.event.isBooking { jobs[key] = [] }
                booking = b
            }
            if let details = env.event.patient {
                patients[details.id, default: Patient(id: details.id)].update(with: details)
            }
            if let b = booking {
                let key = Key(kind: b.kind, ref: b.ref)
                for u in planner.plan(env.event, booking: b, patient: patients[b.patientID] ?? Patient(id: b.patientID), jobs: jobs[key] ?? []) {
                    if let i = jobs[key]?.firstIndex(where: { $0.id == u.job.id }) {
                        jobs[key]![i] = u.job
                    } else {
                        jobs[key, default: []].append(u.job)
                    }
                }
            }
            applied[env.id] = env.contentHash
        }
        let apply = Date().timeIntervalSince(t)
        let heldMiB = (residentKiB(getpid()) - before) / 1024
        // The events go: a catch-up could stream them, but not the state it folds them into.
        events = []
        Heap.handBackFreePages()
        let stateMiB = (residentKiB(getpid()) - before) / 1024
        let planned = jobs.values.reduce(0) { $0 + $1.count }
        o.log(String(format: "ingest: the domain alone: parse %.1f s, apply %.1f s (%d bookings, %d patients, %d jobs), %d MiB held, %d MiB of it the state",
                     parse, apply, bookings.count, patients.count, planned, heldMiB, stateMiB))
        return (parse, apply, heldMiB, stateMiB)
    }
}
