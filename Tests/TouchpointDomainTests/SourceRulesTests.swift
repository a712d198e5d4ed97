import Foundation
import Testing

/// Rules the code keeps, checked so that they stay kept: short functions, and
/// job states, kinds and call outcomes named only through their enums (their
/// raw values are written once, in Domain, and SQL gets them from the store's
/// one mapping).
@Suite struct SourceRulesTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized.path

    static func sources() throws -> [(path: String, text: String)] {
        let base = root + "/Sources"
        let files = FileManager.default.enumerator(atPath: base)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") } ?? []
        return try files.sorted().map { ("Sources/" + $0, try String(contentsOfFile: base + "/" + $0, encoding: .utf8)) }
    }

    /// The longest a function, initializer or closure-valued property may be.
    static let maximumLines = 80

    /// The layers: the domain imports nothing of ours and does no I/O; the
    /// core holds the rules and names its log events without the journald
    /// glue (only the programs and their runtimes pick where logs go).
    @Test func eachLayerImportsOnlyWhatItMay() throws {
        let forbidden: [String: [String]] = [
            "Sources/TouchpointDomain/": ["TouchpointStore", "TouchpointSystemd", "TouchpointLinux", "TouchpointConfig", "TouchpointCore",
                                          "TouchpointControl", "Glibc", "NIO", "GRDB", "Logging"],
            "Sources/TouchpointCore/": ["TouchpointSystemd", "TouchpointControl", "TouchpointDaemon", "TouchpointWeb", "NIO"],
            "Sources/TouchpointControl/": ["TouchpointStore", "TouchpointCore", "TouchpointSystemd"],
        ]
        var found: [String] = []
        for (path, text) in try Self.sources() {
            for (layer, modules) in forbidden where path.hasPrefix(layer) {
                for line in text.split(separator: "\n") where line.hasPrefix("import ") {
                    let module = line.dropFirst("import ".count).trimmingCharacters(in: .whitespaces)
                    if modules.contains(where: { module == $0 || module.hasPrefix($0) }) { found.append("\(path): \(line)") }
                }
            }
        }
        #expect(found.isEmpty, "\(found.joined(separator: "\n"))")
    }

    @Test func noFunctionIsLongerThanEightyLines() throws {
        var long: [String] = []
        for (path, text) in try Self.sources() {
            for f in SwiftOutline.functions(in: text) where f.lines > Self.maximumLines {
                long.append("\(path):\(f.line): \(f.name) is \(f.lines) lines")
            }
        }
        #expect(long.isEmpty, "split these: \(long)")
    }

    /// The raw values of `JobState`, `JobKind`'s built-in kinds and `CallOutcome`.
    static let rawValues = ["scheduled", "due", "done", "cancelled", "expired", "suppressed", "escalated", "failed",
                            "checkin_call", "wait_notice", "open_access_info",
                            "reached", "no_answer", "voicemail_left", "busy", "wrong_number", "declined", "not_required"]

    /// Where such a word is written for another reason, and why.
    static let allowed: [(file: String, contains: String)] = [
        // The enums themselves: the one place their raw values are written.
        ("Sources/TouchpointDomain/Job.swift", "case"),
        ("Sources/TouchpointDomain/Job.swift", "public static let"),
        ("Sources/TouchpointDomain/CallOutcome.swift", "case"),
        // The report's promises and measures are named as `report.md` names
        // them, which is also how the job kinds and outcomes are named.
        ("Sources/TouchpointDomain/Pledge.swift", "case"),
        ("Sources/TouchpointDomain/PledgeMeasure.swift", "case"),
        // `jobs --delivery failed`: every delivery failure, not a job state.
        ("Sources/TouchpointDomain/Delivery.swift", "anyFailureWord"),
        // Notify's own status words (its `cancelled` and `failed`), read into ours.
        ("Sources/TouchpointDomain/Delivery.swift", "\"returned-letter\""),
        ("Sources/TouchpointDomain/Delivery.swift", "\"validation-failed\""),
        // `[wait_notice]` is also the name of a config section.
        ("Sources/TouchpointConfig/ConfigLoader.swift", "wait_notice"),
        // Column names: the CSV's `due` and `done` columns, the bookings table's `cancelled` column.
        ("Sources/TouchpointControl/CallList.swift", "\"voicemail_ok\""),
        ("Sources/TouchpointStore/Columns.swift", "case .cancelled: return \"cancelled\""),
    ]

    @Test func statesKindsAndOutcomesAreNamedThroughTheirEnums() throws {
        var found: [String] = []
        for (path, text) in try Self.sources() {
            for (n, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
                for v in Self.rawValues where line.contains("\"\(v)\"") || line.contains("'\(v)'") {
                    if Self.allowed.contains(where: { path == $0.file && line.contains($0.contains) }) { continue }
                    found.append("\(path):\(n + 1): \(v)")
                }
            }
        }
        #expect(found.isEmpty, "use the enum (its rawValue, or sqlLiteral in SQL): \(found)")
    }

    @Test func theOutlineFindsFunctionsAndTheirEnds() {
        let text = #"""
            struct S {
                func a() {
                    let s = "}"
                    let r = #"{"x":"}"}"#
                    let m = """
                        }}}
                        """
                }
                // func notAFunction() {
                init(x: Int) { _ = x }
            }
            """#
        let fs = SwiftOutline.functions(in: text)
        #expect(fs.map(\.name) == ["a", "init"])
        #expect(fs.map(\.lines) == [7, 1])
    }
}

/// Just enough of Swift's lexical structure to find where a function's body
/// ends: braces outside strings (plain, multi-line, raw) and comments.
enum SwiftOutline {
    struct Function {
        var name: String
        var line: Int
        var lines: Int
    }

    static func functions(in text: String) -> [Function] {
        let chars = Array(text.unicodeScalars)
        var depth = 0
        var line = 1
        var pending: (name: String, line: Int)? = nil
        var open: [(name: String, line: Int, depth: Int)] = []
        var out: [Function] = []
        var i = 0
        func at(_ s: String, _ k: Int) -> Bool {
            let u = Array(s.unicodeScalars)
            return k + u.count <= chars.count && Array(chars[k..<(k + u.count)]) == u
        }
        while i < chars.count {
            let c = chars[i]
            if c == "\n" { line += 1; i += 1; continue }
            if at("//", i) {
                while i < chars.count && chars[i] != "\n" { i += 1 }
                continue
            }
            if at("/*", i) {
                while i < chars.count && !at("*/", i) { if chars[i] == "\n" { line += 1 }; i += 1 }
                i += 2
                continue
            }
            if c == "#" || c == "\"" {
                var hashes = 0
                var k = i
                while k < chars.count && chars[k] == "#" { hashes += 1; k += 1 }
                if k < chars.count && chars[k] == "\"" {
                    let multi = at("\"\"\"", k)
                    let close = (multi ? "\"\"\"" : "\"") + String(repeating: "#", count: hashes)
                    k += multi ? 3 : 1
                    while k < chars.count && !at(close, k) {
                        if chars[k] == "\\" && hashes == 0 { k += 1 }
                        if k < chars.count && chars[k] == "\n" { line += 1 }
                        k += 1
                    }
                    i = k + close.unicodeScalars.count
                    continue
                }
            }
            if let name = declaration(chars, i) {
                pending = (name, line)
            }
            if c == "{" {
                depth += 1
                if let p = pending { open.append((p.name, p.line, depth)); pending = nil }
            } else if c == "}" {
                if let last = open.last, last.depth == depth {
                    open.removeLast()
                    out.append(Function(name: last.name, line: last.line, lines: line - last.line + 1))
                }
                depth -= 1
            }
            i += 1
        }
        return out.sorted { $0.line < $1.line }
    }

    /// `func NAME` or `init` starting at `i` (at a word boundary).
    static func declaration(_ chars: [Unicode.Scalar], _ i: Int) -> String? {
        if i > 0, chars[i - 1].properties.isAlphabetic || chars[i - 1] == "_" || chars[i - 1] == "." { return nil }
        let rest = String(String.UnicodeScalarView(chars[i..<min(chars.count, i + 80)]))
        if rest.hasPrefix("func ") {
            return String(rest.dropFirst(5).prefix { $0.isLetter || $0.isNumber || $0 == "_" || "=<>!+-*/".contains($0) })
        }
        if rest.hasPrefix("init(") || rest.hasPrefix("init?(") || rest.hasPrefix("init<") { return "init" }
        return nil
    }
}
