import Foundation
import GRDB
import GRDBSQLite

/// A statement prepared once per ingest batch and driven through SQLite's C
/// API: binding by index and reading columns by index, with no dictionaries,
/// existentials or name lookups on the path a million events take.
///
/// Valid only inside the transaction closure that created it.
struct PreparedSQL {
    let statement: Statement
    var handle: OpaquePointer { statement.sqliteStatement }

    init(_ db: Database, _ sql: String) throws {
        statement = try db.makeStatement(sql: sql)
    }

    init(_ statement: Statement) {
        self.statement = statement
        sqlite3_clear_bindings(statement.sqliteStatement)
    }

    private static let transient = unsafeBitCast(-1, to: sqlite3_destructor_type.self)

    func bind(_ i: Int32, _ v: String?) {
        guard let v else { sqlite3_bind_null(handle, i); return }
        var s = v
        s.withUTF8 { b in
            if let base = b.baseAddress {
                _ = base.withMemoryRebound(to: CChar.self, capacity: b.count) {
                    sqlite3_bind_text(handle, i, $0, Int32(b.count), Self.transient)
                }
            } else {
                _ = sqlite3_bind_text(handle, i, "", 0, Self.transient)
            }
        }
    }

    func bind(_ i: Int32, _ v: Int64?) {
        guard let v else { sqlite3_bind_null(handle, i); return }
        sqlite3_bind_int64(handle, i, v)
    }

    func bind(_ i: Int32, _ v: Int?) { bind(i, v.map(Int64.init)) }
    func bind(_ i: Int32, _ v: Bool?) { bind(i, v.map { $0 ? Int64(1) : 0 }) }
    func bind(_ i: Int32, _ v: Date?) { bind(i, v?.millis) }

    /// Runs a statement that returns no rows.
    func run(_ db: Database) throws {
        defer { sqlite3_reset(handle) }
        let rc = sqlite3_step(handle)
        guard rc == SQLITE_DONE || rc == SQLITE_ROW else { throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: db.lastErrorMessage) }
    }

    /// Steps to the first row and hands it to `read`; nil when there is none.
    func first<T>(_ db: Database, _ read: (PreparedSQL) throws -> T) throws -> T? {
        defer { sqlite3_reset(handle) }
        let rc = sqlite3_step(handle)
        if rc == SQLITE_DONE { return nil }
        guard rc == SQLITE_ROW else { throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: db.lastErrorMessage) }
        return try read(self)
    }

    /// Every row, each handed to `read`.
    func all<T>(_ db: Database, _ read: (PreparedSQL) throws -> T) throws -> [T] {
        defer { sqlite3_reset(handle) }
        var out: [T] = []
        while true {
            let rc = sqlite3_step(handle)
            if rc == SQLITE_DONE { return out }
            guard rc == SQLITE_ROW else { throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: db.lastErrorMessage) }
            out.append(try read(self))
        }
    }

    /// Every row, each handed to `body` as it is stepped to (nothing kept).
    func each(_ db: Database, _ body: (PreparedSQL) throws -> Void) throws {
        defer { sqlite3_reset(handle) }
        while true {
            let rc = sqlite3_step(handle)
            if rc == SQLITE_DONE { return }
            guard rc == SQLITE_ROW else { throw DatabaseError(resultCode: ResultCode(rawValue: rc), message: db.lastErrorMessage) }
            try body(self)
        }
    }

    func int(_ col: Int32) -> Int64? {
        sqlite3_column_type(handle, col) == SQLITE_NULL ? nil : sqlite3_column_int64(handle, col)
    }

    func string(_ col: Int32) -> String? {
        guard let p = sqlite3_column_text(handle, col) else { return nil }
        return String(cString: p)
    }

    func date(_ col: Int32) -> Date? { int(col).map(Date.init(millis:)) }
    func bool(_ col: Int32) -> Bool { (int(col) ?? 0) != 0 }

    /// A column that must hold a value of `T` (a kind, a state): a row that
    /// does not is a damaged database, reported as such rather than guessed at.
    func value<T: RawRepresentable>(_ col: Int32, as: T.Type) throws -> T where T.RawValue == String {
        guard let s = string(col), let v = T(rawValue: s) else {
            throw StoreError("the database holds \(string(col).map { "\"\($0)\"" } ?? "nothing") where a \(T.self) belongs (column \(col) of \(statement.sql.prefix(60))...)")
        }
        return v
    }

    func optionalValue<T: RawRepresentable>(_ col: Int32, as: T.Type) throws -> T? where T.RawValue == String {
        string(col) == nil ? nil : try value(col, as: T.self)
    }

    func required(_ col: Int32) throws -> String {
        guard let s = string(col) else { throw StoreError("the database holds no value in column \(col) of \(statement.sql.prefix(60))...") }
        return s
    }

    func requiredDate(_ col: Int32) throws -> Date {
        guard let d = date(col) else { throw StoreError("the database holds no time in column \(col) of \(statement.sql.prefix(60))...") }
        return d
    }
}
