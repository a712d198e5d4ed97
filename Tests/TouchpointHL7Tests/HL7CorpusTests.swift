import Foundation
import Testing
import TouchpointDomain
import TouchpointHL7

/// The public corpus of real HL7 messages (`../shared/hl7/corpus`, with its
/// `PROVENANCE.md`), read where it lies and never copied into the
/// repository. What is checked of each file comes from its provenance
/// notes, which nobody here wrote.
enum Corpus {
    static let directory: String? = {
        let here = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../..").standardized.path
        let candidates = [ProcessInfo.processInfo.environment["TOUCHPOINT_HL7_CORPUS"], here + "/shared/hl7/corpus", "/work/shared/hl7/corpus"]
        return candidates.compactMap { $0 }.first { FileManager.default.fileExists(atPath: $0 + "/PROVENANCE.md") }
    }()

    static var files: [String] {
        guard let d = directory else { return [] }
        return ((try? FileManager.default.contentsOfDirectory(atPath: d)) ?? []).filter { $0.hasSuffix(".hl7") }.sorted()
    }

    static func bytes(_ name: String) -> [UInt8] {
        Array(FileManager.default.contents(atPath: directory! + "/" + name) ?? Data())
    }

    /// The bytes as an MLLP client sends the file (`mllp_send_strict.py`:
    /// line ends become CR), through our frame decoder.
    static func overTheWire(_ name: String) -> [UInt8] {
        var text = bytes(name)
        text = text.split(separator: 0x0A, omittingEmptySubsequences: false).map { line in
            line.last == 0x0D ? Array(line.dropLast()) : Array(line)
        }.joined(separator: [0x0D]).map { $0 }
        var d = MLLPFrameDecoder(maximumLength: 1 << 20)
        guard case .frame(let f)? = d.feed(MLLPFrameDecoder.framed(text)).first else { return [] }
        return f
    }
}

@Suite(.enabled(if: Corpus.directory != nil, "the public HL7 corpus (../shared/hl7/corpus) is not on this machine"))
struct HL7CorpusTests {
    let ack = HL7Acknowledgement(application: "TOUCHPOINT", facility: "TEST")
    let now = Date(timeIntervalSince1970: 1_796_290_200)

    /// Every message parses with its own encoding characters, and its ACK's
    /// MSA-2 is its MSH-10 byte for byte; the one batch file (FHS/BHS, no MSH
    /// first) is not a message and gets AR with an empty MSA-2.
    @Test(arguments: Corpus.files)
    func everyFileParsesAndItsAckRepeatsMSH10(_ name: String) throws {
        let wire = Corpus.overTheWire(name)
        #expect(!wire.isEmpty)
        guard let m = try? HL7Message(bytes: wire) else {
            #expect(name.contains("batch-fhs"), "\(name) did not parse")
            let reply = try HL7Message(bytes: ack.build(for: nil, code: .reject, controlID: "X", at: now, clock: .utc))
            #expect(reply.value(at: try HL7FieldPath(parsing: "MSA-2")) == .absent)
            return
        }
        let (code, trigger) = m.messageType
        // One sample (52, an ORU) has no trigger; every other has both.
        #expect(!code.isEmpty && (!trigger.isEmpty || code == "ORU"), "\(name): MSH-9")
        let reply = ack.build(for: m, code: .accept, controlID: "TP-1", at: now, clock: .utc)
        let parsed = try HL7Message(bytes: reply)
        let msa2 = try #require(parsed.segment("MSA")?.rawField(2, in: reply))
        #expect(Array(msa2) == Array(m.controlID), "\(name)")
        #expect(parsed.value(at: .msh(9)) == .text("ACK"))
        #expect(parsed.value(at: .msh(9, 2)).text == m.value(at: .msh(9, 2)).text)
        #expect(parsed.rawField(segment: "MSH", 5) == m.rawField(segment: "MSH", 3), "\(name): MSH-5 is their MSH-3")
        #expect(parsed.rawField(segment: "MSH", 12) == m.rawField(segment: "MSH", 12), "\(name): MSH-12 copied")
        // Every field of every segment can be read without a fault.
        for seg in m.segments {
            for f in 1...max(1, seg.fieldCount) { _ = seg.repetitions(f, in: m.bytes).map(m.decode) }
        }
    }

    /// What the provenance notes say of particular files.
    @Test func whatTheProvenanceNotesSay() throws {
        func message(_ prefix: String) throws -> HL7Message {
            let name = try #require(Corpus.files.first { $0.hasPrefix(prefix) })
            return try HL7Message(bytes: Corpus.overTheWire(name))
        }
        // 05: MSH-10 with a leading space, kept.
        #expect(try message("05-").controlID.first == UInt8(ascii: " "))
        // 15: routed on MSH-9 (ADT^A60), whatever the body holds.
        #expect(try message("15-").messageType == ("ADT", "A60"))
        // 39: Latin-1 bytes without MSH-18; 42: UTF-8 without MSH-18.
        #expect(try message("39-").characterSet == .latin1)
        #expect(try message("42-").characterSet == .utf8)
        // 54: MSH-2 is ^\& (no repetition character) and a stray VT at the end.
        let m54 = try message("54-")
        #expect(m54.encoding.repetition == nil && m54.encoding.escape == UInt8(ascii: "\\") && m54.encoding.subcomponent == UInt8(ascii: "&"))
        #expect(m54.messageType == ("ADT", "A01"))
        #expect(m54.value(at: try HL7FieldPath(parsing: "PID-29")).text == "20010131")
        // 48: two PID/MRG pairs; 34: a Z segment before PID.
        #expect(try message("48-").segments(named: "MRG").count == 2)
        #expect(try message("34-").segment("PID") != nil)
        // 52/53: escapes decoded (\F\, \.br\, \H\ \N\) leave no backslash sequence of theirs behind.
        for prefix in ["52-", "53-"] {
            let m = try message(prefix)
            let text = m.segments(named: "OBX").compactMap { $0.rawField(5, in: m.bytes) }.map(m.decode).joined()
            #expect(!text.contains("\\F\\") && !text.contains("\\.br\\") && !text.contains("\\H\\"), "\(prefix)")
        }
    }
}
