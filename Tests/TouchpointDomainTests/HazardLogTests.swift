import Foundation
import Testing

/// The clinical safety hazard log (`docs/clinical-safety/hazard-log.md`)
/// cannot rot: every hazard has its cause, effect, harm, ratings that follow
/// the DCB0129 matrix, a status and controls, and every control of
/// touchpoint's names tests that exist. Renaming or deleting a test that
/// proves a control fails this suite until the log is updated.
@Suite struct HazardLogTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../..").standardized.path

    @Test func everyHazardIsCompleteRatedAndVerifiedByTestsThatExist() throws {
        let log = try HazardLog(text: String(contentsOfFile: Self.root + "/docs/clinical-safety/hazard-log.md", encoding: .utf8))
        let tests = try TestIndex(directory: Self.root + "/Tests")
        let problems = log.problems(knownTests: tests)
        #expect(problems.isEmpty, "\(problems.joined(separator: "\n"))")
        #expect(log.hazards.count >= 20)
    }

    /// The structured identification (`hazard-identification.md`): every
    /// row of the guide-word table names hazards the log has, or says why
    /// there is none, or that it is open; every guide word is asked of the
    /// functions; and every hazard of the log is reached from some row.
    @Test func everyRowOfTheGuideWordTableHasAHazardOrAReason() throws {
        let text = try String(contentsOfFile: Self.root + "/docs/clinical-safety/hazard-identification.md", encoding: .utf8)
        let log = try HazardLog(text: String(contentsOfFile: Self.root + "/docs/clinical-safety/hazard-log.md", encoding: .utf8))
        let known = Set(log.hazards.map(\.id))
        let words = ["wrong patient", "wrong time", "omission", "duplication", "wrong content", "delayed", "stale", "unavailable",
                     "misleading display", "privacy"]
        var rows = 0
        var asked = Set<String>()
        var reached = Set<String>()
        for line in text.split(separator: "\n") where line.hasPrefix("| ") && !line.hasPrefix("| function") {
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            guard cells.count >= 6 else { continue }
            rows += 1
            let (word, what, answer) = (cells[2], cells[3], cells[4])
            #expect(words.contains(word), "\(cells[1]): \"\(word)\" is not a guide word")
            asked.insert(word)
            #expect(!what.isEmpty, "\(cells[1]), \(word): no what-if")
            let ids = answer.matches(of: /H-\d\d/).map { String($0.output) }
            for id in ids { #expect(known.contains(id), "\(cells[1]), \(word): \(id) is not in the hazard log") }
            reached.formUnion(ids)
            #expect(!ids.isEmpty || answer.hasPrefix("open:") || answer.count >= 40, "\(cells[1]), \(word): neither a hazard nor a reason")
        }
        #expect(rows >= 40)
        #expect(asked == Set(words), "guide words never asked: \(Set(words).subtracting(asked))")
        #expect(known.subtracting(reached).isEmpty, "hazards no row reaches: \(known.subtracting(reached).sorted())")
    }

    /// A hazard's evidence is never a skip: `scripts/safety-evidence`, which
    /// `scripts/test` runs after every full run, fails when a test a control
    /// of touchpoint's names was skipped, failed or did not run, and passes
    /// when each passed; a control of the trust's needs no test.
    @Test func aControlsTestThatWasSkippedOrNotRunFailsTheEvidence() throws {
        let dir = NSTemporaryDirectory() + "tp-evidence-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try """
            ### H-01: A booking never reaches the list
            - C-01.1 (touchpoint) Rejected lines are named. Verified by `IngestTests.rejects`, `QueueLineTests.codes`.
            - C-01.2 (trust) Someone looks every day.
            """.write(toFile: dir + "/log.md", atomically: true, encoding: .utf8)
        func evidence(_ cases: String) throws -> CommandOutcome {
            try #"<?xml version="1.0" encoding="UTF-8"?><testsuites><testsuite name="TestResults">\#(cases)</testsuite></testsuites>"#
                .write(toFile: dir + "/results.xml", atomically: true, encoding: .utf8)
            return try CommandOutcome.run("/usr/bin/python3", [Self.root + "/scripts/safety-evidence", dir + "/results.xml", "--log", dir + "/log.md", "--out", dir + "/evidence.md"])
        }
        let passed = #"<testcase classname="M.IngestTests" name="rejects()"/><testcase classname="M.QueueLineTests" name="codes()"/>"#
        #expect(try evidence(passed).status == 0)
        let skipped = try evidence(#"<testcase classname="M.IngestTests" name="rejects()"><skipped/></testcase><testcase classname="M.QueueLineTests" name="codes()"/>"#)
        #expect(skipped.status == 1 && skipped.stderr.contains("C-01.1 (H-01): IngestTests.rejects skipped"), "\(skipped.stderr)")
        let missing = try evidence(#"<testcase classname="M.IngestTests" name="rejects()"/>"#)
        #expect(missing.status == 1 && missing.stderr.contains("QueueLineTests.codes not run"), "\(missing.stderr)")
        let report = try String(contentsOfFile: dir + "/evidence.md", encoding: .utf8)
        #expect(report.contains("| H-01 | C-01.1 | touchpoint |") && report.contains("| H-01 | C-01.2 | trust |"))
        // A test run on its own (the clock step): skipped in the main run, passed
        // in its own, it passed; failed in its own, it failed.
        func second(_ cases: String) throws -> CommandOutcome {
            try #"<?xml version="1.0" encoding="UTF-8"?><testsuites><testsuite name="TestResults">\#(cases)</testsuite></testsuites>"#
                .write(toFile: dir + "/alone.xml", atomically: true, encoding: .utf8)
            return try CommandOutcome.run("/usr/bin/python3", [Self.root + "/scripts/safety-evidence", dir + "/results.xml", dir + "/alone.xml", "--log", dir + "/log.md", "--out", dir + "/evidence.md"])
        }
        try #"<?xml version="1.0" encoding="UTF-8"?><testsuites><testsuite name="TestResults"><testcase classname="M.IngestTests" name="rejects()"><skipped/></testcase><testcase classname="M.QueueLineTests" name="codes()"/></testsuite></testsuites>"#
            .write(toFile: dir + "/results.xml", atomically: true, encoding: .utf8)
        #expect(try second(#"<testcase classname="M.IngestTests" name="rejects()"/>"#).status == 0)
        let failedAlone = try second(#"<testcase classname="M.IngestTests" name="rejects()"><failure message="x"/></testcase>"#)
        #expect(failedAlone.status == 1 && failedAlone.stderr.contains("IngestTests.rejects failed"), "\(failedAlone.stderr)")
        #expect(try second("").status == 1, "skipped in both runs")
    }

    @Test func theCheckCatchesWhatItShould() throws {
        let tests = try TestIndex(directory: Self.root + "/Tests")
        let good = """
            ### H-01: A hazard

            | | |
            |---|---|
            | Cause | a cause |
            | Effect | an effect |
            | Harm | a harm |
            | Initial risk | Major × Medium = 3 |
            | Residual risk | Major × Very low = 2 |
            | Why rated so | how often, and what the controls change |
            | Status | Closed |

            - C-01.1 (touchpoint) A control. Verified by `HazardLogTests.theCheckCatchesWhatItShould`.
            - C-01.2 (trust) The trust's part.
            """
        #expect(try HazardLog(text: good).problems(knownTests: tests) == [])
        let cases: [(String, String, String)] = [
            ("a renamed test", "HazardLogTests.theCheckCatchesWhatItShould", "HazardLogTests.aTestThatIsNotThere"),
            ("a rating off the matrix", "Major × Medium = 3", "Major × Medium = 2"),
            ("an unknown severity", "Major × Very low = 2", "Awful × Very low = 2"),
            ("a missing harm", "| Harm | a harm |\n", ""),
            ("a rating without its reason", "| Why rated so | how often, and what the controls change |\n", ""),
            ("no test named", " Verified by `HazardLogTests.theCheckCatchesWhatItShould`.", ""),
            ("a residual above the initial", "Major × Very low = 2", "Catastrophic × Very high = 5"),
            ("a control without an owner", "C-01.2 (trust)", "C-01.2"),
        ]
        for (what, from, to) in cases {
            let broken = good.replacingOccurrences(of: from, with: to)
            #expect(broken != good, "\(what): the case does not change the text")
            #expect(!(try HazardLog(text: broken).problems(knownTests: tests)).isEmpty, "\(what) went unnoticed")
        }
    }
}

/// The hazard log, read from its Markdown.
struct HazardLog {
    struct Control {
        var id: String
        var owner: String?
        var tests: [String]
    }

    struct Hazard {
        var id: String
        var title: String
        var fields: [String: String] = [:]
        var controls: [Control] = []
    }

    var hazards: [Hazard] = []

    static let severities = ["Minor", "Significant", "Considerable", "Major", "Catastrophic"]
    static let likelihoods = ["Very low", "Low", "Medium", "High", "Very high"]
    /// DCB0129's matrix: `matrix[likelihood][severity]`.
    static let matrix = [[1, 1, 2, 2, 3], [1, 2, 2, 3, 4], [2, 2, 3, 3, 4], [2, 3, 3, 4, 5], [3, 4, 4, 5, 5]]
    static let statuses = ["Open", "Closed", "Transferred"]
    static let required = ["Cause", "Effect", "Harm", "Initial risk", "Residual risk", "Why rated so", "Status"]

    init(text: String) throws {
        for raw in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if line.hasPrefix("### H-") {
                let header = line.dropFirst(4)
                let parts = header.split(separator: ":", maxSplits: 1)
                hazards.append(Hazard(id: String(parts[0]), title: parts.count > 1 ? parts[1].trimmingCharacters(in: .whitespaces) : ""))
            } else if hazards.isEmpty {
                continue
            } else if line.hasPrefix("| "), !line.hasPrefix("| |") {
                let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
                if cells.count >= 2 { hazards[hazards.count - 1].fields[cells[0]] = cells[1] }
            } else if line.hasPrefix("- C-") {
                hazards[hazards.count - 1].controls.append(Self.control(line))
            }
        }
    }

    static func control(_ line: String) -> Control {
        let words = line.dropFirst(2).split(separator: " ", maxSplits: 2).map(String.init)
        let owner = words.count > 1 && words[1].hasPrefix("(") && words[1].hasSuffix(")") ? String(words[1].dropFirst().dropLast()) : nil
        var tests: [String] = []
        var rest = Substring(line)
        while let open = rest.firstIndex(of: "`") {
            let after = rest[rest.index(after: open)...]
            guard let close = after.firstIndex(of: "`") else { break }
            let name = String(after[..<close])
            let parts = name.split(separator: ".")
            if parts.count == 2, parts.allSatisfy({ $0.allSatisfy { $0.isLetter || $0.isNumber } }), parts[0].first!.isUppercase {
                tests.append(name)
            }
            rest = after[after.index(after: close)...]
        }
        return Control(id: words.first ?? "", owner: owner, tests: tests)
    }

    /// "Major × Medium = 3" -> its risk, checked against the matrix.
    static func rating(_ text: String) -> (severity: Int, risk: Int)? {
        let sides = text.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces) }
        guard sides.count == 2, let risk = Int(sides[1]) else { return nil }
        let factors = sides[0].split(separator: "×").map { $0.trimmingCharacters(in: .whitespaces) }
        guard factors.count == 2, let s = severities.firstIndex(of: factors[0]), let l = likelihoods.firstIndex(of: factors[1]),
              matrix[l][s] == risk else { return nil }
        return (s, risk)
    }

    func problems(knownTests: TestIndex) -> [String] {
        var out: [String] = []
        if Set(hazards.map(\.id)).count != hazards.count { out.append("hazard ids are not unique") }
        for h in hazards {
            for f in Self.required where (h.fields[f] ?? "").isEmpty { out.append("\(h.id): no \(f.lowercased())") }
            let initial = h.fields["Initial risk"].flatMap(Self.rating)
            let residual = h.fields["Residual risk"].flatMap(Self.rating)
            if h.fields["Initial risk"] != nil && initial == nil { out.append("\(h.id): the initial risk \"\(h.fields["Initial risk"]!)\" is not a rating of the matrix") }
            if h.fields["Residual risk"] != nil && residual == nil { out.append("\(h.id): the residual risk \"\(h.fields["Residual risk"]!)\" is not a rating of the matrix") }
            if let i = initial, let r = residual, r.risk > i.risk { out.append("\(h.id): the residual risk is above the initial risk") }
            if let s = h.fields["Status"], !Self.statuses.contains(where: { s.hasPrefix($0) }) { out.append("\(h.id): unknown status \"\(s)\"") }
            if h.controls.isEmpty { out.append("\(h.id): no control") }
            for c in h.controls {
                switch c.owner {
                case "touchpoint":
                    if c.tests.isEmpty { out.append("\(c.id): a control of touchpoint's names no test") }
                    for t in c.tests where !knownTests.contains(t) { out.append("\(c.id): no test \(t) in Tests/") }
                case "trust":
                    break
                default:
                    out.append("\(c.id): no owner (touchpoint) or (trust)")
                }
            }
            if !h.controls.contains(where: { $0.owner == "touchpoint" && !$0.tests.isEmpty }) {
                out.append("\(h.id): no control verified by a test")
            }
        }
        return out
    }
}

/// The tests in `Tests/`, as `Suite.function`.
struct TestIndex {
    var names: Set<String> = []

    init(directory: String) throws {
        let files = FileManager.default.enumerator(atPath: directory)?.compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") } ?? []
        for file in files {
            var suite: String? = nil
            var nextIsTest = false
            for raw in try String(contentsOfFile: directory + "/" + file, encoding: .utf8).split(separator: "\n") {
                let line = raw.trimmingCharacters(in: .whitespaces)
                if let r = line.range(of: "struct "), line.hasPrefix("@Suite") || line.hasPrefix("struct ") {
                    suite = String(line[r.upperBound...].prefix { $0.isLetter || $0.isNumber })
                }
                if line.hasPrefix("@Test") { nextIsTest = true }
                if nextIsTest, let r = line.range(of: "func "), let suite {
                    names.insert(suite + "." + line[r.upperBound...].prefix { $0.isLetter || $0.isNumber })
                    nextIsTest = false
                }
            }
        }
    }

    func contains(_ name: String) -> Bool { names.contains(name) }
}

/// A program's exit status and standard error (this target has no test-support library).
struct CommandOutcome {
    var status: Int32
    var stderr: String

    static func run(_ path: String, _ args: [String]) throws -> CommandOutcome {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        let err = Pipe()
        p.standardError = err
        p.standardOutput = FileHandle.nullDevice
        try p.run()
        let data = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return CommandOutcome(status: p.terminationStatus, stderr: String(decoding: data, as: UTF8.self))
    }
}
