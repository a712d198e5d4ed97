import Foundation
import GRDB
import GRDBSQLite
import Testing
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
    ]

    @Test func everyStatementOnAHotPathUsesAnIndex() async throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("plans-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try await Store.open(path: dir + "/touchpoint.sqlite")
        let plans: [(Query, [String])] = try await store.read { r in
            try Query.allCases.map { q in
                // Planned with every parameter NULL: the plan does not depend on the values.
                let s = try r.transaction.db.makeStatement(sql: "EXPLAIN QUERY PLAN " + q.sql)
                s.setUncheckedArguments(StatementArguments(Array(repeating: DatabaseValue.null, count: Int(sqlite3_bind_parameter_count(s.sqliteStatement)))))
                return (q, try Row.fetchAll(s).map { $0["detail"] as String })
            }
        }
        await store.close()
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
}
