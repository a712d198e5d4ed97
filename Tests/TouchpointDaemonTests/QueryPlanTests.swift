import Foundation
#if canImport(Glibc)
import Glibc
#endif
import GRDB
import GRDBSQLite
import Testing
import TouchpointDomain
@testable import TouchpointStore
import TouchpointTestSupport

/// Every statement the store runs on a hot path finds its rows through an
/// index: a statement that scans a table costs nothing on a test's state and
/// 20-45 ms with a million events', paid by every event appended.
@Suite struct QueryPlanTests {
    /// Statements that read a whole table on purpose, each with why it may.
    static let scans: [Query: String] = [
        .scheduledJobs: "a reload re-plans every pending job",
        .jobCounts: "job_counts is one row per kind and state",
        .rejects: "newest first by rowid, LIMIT",
        .sources: "sources is one row per writer of the queue",
    ]

    /// Each statement's plan on a new store, with the schema's indexes.
    static func plans(of statements: [String]) async throws -> (plans: [[String]], indexes: [String]) {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plans-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await Store.open(path: dir + "/touchpoint.sqlite")
        let result = try await store.read { r in
            let db = r.transaction.db
            let plans = try statements.map { sql in
                // Planned with every parameter NULL: the plan does not depend on the values.
                let s = try db.makeStatement(sql: "EXPLAIN QUERY PLAN " + sql)
                s.setUncheckedArguments(StatementArguments(Array(repeating: DatabaseValue.null, count: Int(sqlite3_bind_parameter_count(s.sqliteStatement)))))
                return try Row.fetchAll(s).map { $0["detail"] as String }
            }
            let indexes = try String.fetchAll(db, sql: "SELECT name FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL ORDER BY name")
            return (plans, indexes)
        }
        await store.close()
        return result
    }

    @Test func everyStatementOnAHotPathUsesAnIndex() async throws {
        let plans = Array(zip(Query.allCases, try await Self.plans(of: Query.allCases.map(\.sql)).plans))
        for (q, plan) in plans {
            // "SCAN t" reads every row of t; "SCAN t USING ... INDEX" walks an
            // index in order (with a LIMIT or a range), which is what we want.
            // SQLite 3.40 calls a min() or max() it can only answer by reading
            // every row "SEARCH t", with no index named: that is a scan too.
            let scans = plan.filter {
                ($0.hasPrefix("SCAN ") || $0.hasPrefix("SEARCH ")) && !$0.contains("USING") && !$0.hasPrefix("SCAN CONSTANT")
            }
            if let why = Self.scans[q] {
                #expect(!why.isEmpty)
            } else {
                #expect(scans.isEmpty, "\(q) reads a whole table: \(plan.joined(separator: "; "))")
            }
        }
        #expect(plans.first { $0.0 == .dueNotices }?.1.contains { $0.contains("jobs_due_notices") } == true)
        #expect(plans.first { $0.0 == .lastDelivery }?.1.contains { $0.contains("deliveries_sent") } == true)
    }

    /// Every index answers a statement the store runs: each one costs every
    /// write of its table a page at a random place (`v13` dropped two that
    /// answered none, a tenth of what a catch-up wrote). And the job list
    /// asked by ref or by patient finds them through an index.
    @Test func everyIndexAnswersAStatement() async throws {
        let calls = [false, true].flatMap { ward in [(false, false), (true, false), (false, true)].map { Query.calls(ward: ward, escalated: $0.0, list: $0.1) } }
        let filters = [JobFilter(ref: "S1"), JobFilter(patientID: "P1"), JobFilter(kind: .checkinCall, state: .due), JobFilter(delivery: [.permanentFailure]),
                       JobFilter(wards: ["Ward 7", "Ward 9"]), JobFilter(wards: [])]
        let statements = Query.allCases.map(\.sql) + calls + filters.map(Query.jobs) + [Query.pledgeBookings]
        let (plans, indexes) = try await Self.plans(of: statements)
        #expect(indexes.count >= 10 && !indexes.contains("bookings_patient") && !indexes.contains("delays_ref"))
        for index in indexes {
            #expect(plans.contains { $0.contains { $0.contains("INDEX \(index) ") || $0.hasSuffix("INDEX \(index)") } }, "no statement reads \(index)")
        }
        for (filter, plan) in zip(filters.prefix(2), plans[(Query.allCases.count + calls.count)...]) {
            // "SCAN jobs USING INDEX" would walk a whole index: a scan too.
            #expect(!plan.contains { $0.hasPrefix("SCAN jobs") } && plan.contains { $0.hasPrefix("SEARCH jobs USING INDEX") },
                    "jobs \(filter): \(plan.joined(separator: "; "))")
        }
    }
}

/// Patient data stays in the state database: a sort larger than SQLite's page
/// cache is done in memory, never in a temporary file.
@Suite(.serialized) struct TemporaryFileTests {
    @Test func aSortLargerThanTheCacheOpensNoTemporaryFile() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("sorts-\(UUID().uuidString)").path
        let temp = dir + "/temp"
        try FileManager.default.createDirectory(atPath: temp, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        // SQLite unlinks a temporary file as soon as it has opened it; the
        // kernel still reports its creation.
        let watch = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
        #expect(watch >= 0)
        defer { close(watch) }
        #expect(inotify_add_watch(watch, temp, UInt32(IN_CREATE)) >= 0)
        let store = try await Store.open(path: dir + "/touchpoint.sqlite")
        let (sorted, mode) = try await store.read { r in
            let db = r.transaction.db
            // (Process-wide: this suite runs alone, and the default comes back.)
            try db.execute(sql: "PRAGMA temp_store_directory = '\(temp)'")
            defer { try? db.execute(sql: "PRAGMA temp_store_directory = ''") }
            // 30 MB of random keys against a 2 MiB reader cache.
            let rows = try Row.fetchCursor(db, sql: """
                WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM n WHERE x < 150000)
                SELECT randomblob(200) AS b FROM n ORDER BY b
                """)
            var count = 0
            while try rows.next() != nil { count += 1 }
            return (count, try Int.fetchOne(db, sql: "PRAGMA temp_store"))
        }
        await store.close()
        var buffer = [UInt8](repeating: 0, count: 4096)
        let created = read(watch, &buffer, buffer.count)
        #expect(sorted == 150_000)
        #expect(created < 0 && errno == EAGAIN, "SQLite created a temporary file in \(temp)")
        #expect(mode == 2)
    }
}
