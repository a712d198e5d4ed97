import Foundation
import Testing
import TouchpointFuzzing

/// Every input the fuzzers kept (fuzz/corpus) through the same targets they
/// fuzz: what once found new paths in the decoders must still run clean.
@Suite struct FuzzCorpusTests {
    static let corpus = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../fuzz/corpus").standardized.path

    static func inputs(_ target: String) throws -> [Data] {
        let dir = corpus + "/" + target
        return try FileManager.default.contentsOfDirectory(atPath: dir).sorted().map { try Data(contentsOf: URL(fileURLWithPath: dir + "/" + $0)) }
    }

    @Test func theControlCorpusRunsClean() throws {
        let inputs = try Self.inputs("control")
        #expect(inputs.count > 10)
        for input in inputs { input.withUnsafeBytes { FuzzTargets.control($0) } }
    }

    @Test func theQueueLineCorpusRunsClean() throws {
        let inputs = try Self.inputs("queue-line")
        #expect(inputs.count > 10)
        for input in inputs { input.withUnsafeBytes { FuzzTargets.queueLine($0) } }
    }

    @Test func theHL7CorpusRunsClean() throws {
        let inputs = try Self.inputs("hl7")
        #expect(inputs.count >= 8)
        for input in inputs { input.withUnsafeBytes { FuzzTargets.hl7($0) } }
    }
}
