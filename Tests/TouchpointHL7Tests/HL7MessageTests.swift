import Foundation
import Testing
import TouchpointDomain
import TouchpointHL7

/// Our own fixtures (the public corpus is checked in `HL7CorpusTests`, never copied).
enum Fixture {
    /// A theatre booking as an ORMIS-like feed sends it: PID before SCH, a
    /// mobile with CP, an NHS number after a local MRN.
    static let siuS12 = [
        "MSH|^~\\&|ORMIS|RGT|TOUCHPOINT|RGT|20261201093000||SIU^S12^SIU_S12|MSG-0001|P|2.4|||||GBR|UNICODE UTF-8",
        "PID|1||M123456^^^RGT^MR~9990000018^^^NHS^NH||Example^Ann^^^Mrs^^L||19600101|F|||1 High Street^^Town||01234 567890^PRN^PH~07700 900123^ORN^CP",
        "SCH|PL-77^ORMIS|TH-991^ORMIS||||ROUTINE|||90|MIN|^^90^20261203083000^20261203100000",
        "RGS|1",
        "AIS|1||BRS01^Wide local excision^LOCAL|20261203083000|||90|MIN",
        "AIL|1||W7^Theatre 3^^RGT",
        "PV1|1|I|W7^^^RGT",
    ]

    static func message(_ segments: [String], terminator: String = "\r") throws -> HL7Message {
        try HL7Message(bytes: Array(segments.joined(separator: terminator).utf8))
    }

    static func path(_ s: String) -> HL7FieldPath { try! HL7FieldPath(parsing: s) }
}

@Suite struct HL7MessageTests {
    @Test(arguments: ["\r", "\n", "\r\n", "\r\r\n\n"])
    func segmentsEndAtAnyTerminator(_ terminator: String) throws {
        let m = try Fixture.message(Fixture.siuS12, terminator: terminator)
        #expect(m.segments.count == 7)
        #expect(m.messageType == ("SIU", "S12"))
        #expect(m.value(at: Fixture.path("SCH-2.1")) == .text("TH-991"))
        #expect(m.value(at: Fixture.path("AIS-3.2")) == .text("Wide local excision"))
        #expect(m.value(at: Fixture.path("PV1-3.1")) == .text("W7"))
        #expect(String(decoding: m.controlID, as: UTF8.self) == "MSG-0001")
    }

    @Test func fieldsAreNumberedAsHL7NumbersThemMSHIncluded() throws {
        let m = try Fixture.message(Fixture.siuS12)
        #expect(m.value(at: .msh(3)) == .text("ORMIS"))
        #expect(m.value(at: .msh(7)) == .text("20261201093000"))
        #expect(m.value(at: .msh(9, 3)) == .text("SIU_S12"))
        #expect(m.value(at: .msh(12)) == .text("2.4"))
        #expect(m.rawValue(at: .msh(1)).map { Array($0) } == [UInt8(ascii: "|")])
        #expect(m.rawValue(at: .msh(2)).map { String(decoding: $0, as: UTF8.self) } == "^~\\&")
        // Repetitions, components and the first of a segment's name.
        #expect(m.value(at: Fixture.path("PID-3[2].1")) == .text("9990000018"))
        #expect(m.value(at: Fixture.path("PID-3[2].4")) == .text("NHS"))
        #expect(m.value(at: Fixture.path("PID-3[3].1")) == .absent)
        #expect(m.value(at: Fixture.path("PID-13[2].3")) == .text("CP"))
        #expect(m.value(at: Fixture.path("SCH-11.4")) == .text("20261203083000"))
        #expect(m.value(at: Fixture.path("AIL-3.4")) == .text("RGT"))
        #expect(m.value(at: Fixture.path("ZZZ-1")) == .absent)
        #expect(m.value(at: Fixture.path("PID-99")) == .absent)
        #expect(m.segments(named: "AIS").count == 1)
    }

    /// The fuzzer's find (fuzz/corpus/hl7/crash-bare-msh-segment): a second
    /// segment that is "MSH" and nothing more, last in the message. Its
    /// fields are looked up as any other's; before, the first look-up read
    /// past the message's bytes and the receiver died.
    @Test func aSegmentThatIsOnlyMSHHasNoFields() throws {
        let m = try HL7Message(bytes: Array("MSH|^~\\&|A|B|C|D|20261201||ADT^A08|X1|P|2.4\rMSH".utf8))
        let bare = try #require(m.segments.last)
        #expect(bare.name(in: m.bytes) == "MSH" && bare.fieldCount == 0)
        for f in 0...12 { #expect(bare.repetitions(f, in: m.bytes).count <= 1) }
        #expect(m.value(at: .msh(10)) == .text("X1"))
    }

    @Test func segmentsAreFoundByNameInAnyOrder() throws {
        var reordered = Fixture.siuS12
        reordered.swapAt(1, 2)  // SCH before PID
        reordered.append("ZXX|1|local stuff")
        let m = try Fixture.message(reordered)
        #expect(m.value(at: Fixture.path("PID-5.2")) == .text("Ann"))
        #expect(m.value(at: Fixture.path("SCH-1.1")) == .text("PL-77"))
    }

    @Test func theMessagesOwnEncodingCharactersAreUsed() throws {
        let m = try Fixture.message([
            "MSH#*@!%#ORMIS#RGT#TP#RGT#20261201093000##SIU*S12#ID 1#P#2.4",
            "PID#1##M1***RGT*MR@N2***NHS*NH##Example*Ann!F!Jo%Sub",
            "NTE#1##a # b !F! c",
        ])
        #expect(m.encoding.field == UInt8(ascii: "#") && m.encoding.component == UInt8(ascii: "*"))
        #expect(m.messageType == ("SIU", "S12"))
        #expect(m.value(at: Fixture.path("PID-3[2].4")) == .text("NHS"))
        #expect(m.value(at: Fixture.path("PID-5")) == .text("Example"))
        #expect(m.value(at: Fixture.path("PID-5.2")) == .text("Ann#Jo"))
        #expect(m.value(at: Fixture.path("PID-5.2.2")) == .text("Sub"))
        #expect(m.value(at: Fixture.path("PID-5.3")) == .absent)
    }

    @Test func escapesAreDecodedAndOnesNotUnderstoodKept() throws {
        let m = try Fixture.message([
            "MSH|^~\\&|A|B|C|D|20261201093000||ADT^A08|X1|P|2.5",
            "NTE|1||one\\F\\two\\S\\three\\T\\four\\R\\five\\E\\six|\\X4869\\ there\\.br\\next line|\\H\\bold\\N\\ \\Z99\\ kept|broken \\F",
        ])
        #expect(m.value(at: Fixture.path("NTE-3")) == .text("one|two^three&four~five\\six"))
        #expect(m.value(at: Fixture.path("NTE-4")) == .text("Hi there\nnext line"))
        #expect(m.value(at: Fixture.path("NTE-5")) == .text("bold \\Z99\\ kept"))
        #expect(m.value(at: Fixture.path("NTE-6")) == .text("broken \\F"))
        // An escaped delimiter does not split: the component is the whole text.
        #expect(m.value(at: Fixture.path("NTE-3.2")) == .absent)
    }

    @Test func anExplicitNullIsNotAnEmptyField() throws {
        let m = try Fixture.message(["MSH|^~\\&|A|B|C|D|20261201093000||ADT^A08|X1|P|2.5", #"PID|1||P1^^^RGT^MR||Example^Ann||||||||""|^NET^Internet^""||"#])
        #expect(m.value(at: Fixture.path("PID-13")) == .null)
        #expect(m.value(at: Fixture.path("PID-13.1")) == .null)
        #expect(m.value(at: Fixture.path("PID-14.4")) == .null)
        #expect(m.value(at: Fixture.path("PID-14.1")) == .absent)
        #expect(m.value(at: Fixture.path("PID-15")) == .absent)
    }

    @Test func latin1IsReadWhenDeclaredOrWhenTheBytesAreNotUTF8() throws {
        let name: [UInt8] = Array("PID|1||P1^^^RGT^MR||M".utf8) + [0xFC] + Array("ller^J".utf8) + [0xF6] + Array("rg".utf8)
        let undeclared = try HL7Message(bytes: Array("MSH|^~\\&|A|B|C|D|20261201093000||ADT^A08|X1|P|2.5\r".utf8) + name)
        #expect(undeclared.characterSet == .latin1)
        #expect(undeclared.value(at: Fixture.path("PID-5")) == .text("Müller"))
        #expect(undeclared.value(at: Fixture.path("PID-5.2")) == .text("Jörg"))
        let declared = try HL7Message(bytes: Array("MSH|^~\\&|A|B|C|D|20261201093000||ADT^A08|X1|P|2.5||||||8859/1\r".utf8) + name)
        #expect(declared.characterSet == .latin1 && declared.value(at: Fixture.path("PID-5")) == .text("Müller"))
        let utf8 = try Fixture.message(["MSH|^~\\&|A|B|C|D|20261201093000||ADT^A08|X1|P|2.5", "PID|1||P1||Müller^Jörg"])
        #expect(utf8.characterSet == .utf8 && utf8.value(at: Fixture.path("PID-5.2")) == .text("Jörg"))
        // \Xhh\ bytes are read in the message's character set too.
        let hex = try Fixture.message(["MSH|^~\\&|A|B|C|D|20261201093000||ADT^A08|X1|P|2.5||||||8859/1", "PID|1||P1||M\\XFC\\ller"])
        #expect(hex.value(at: Fixture.path("PID-5")) == .text("Müller"))
    }

    @Test func whatIsNotAMessageIsRefusedSayingWhy() {
        #expect(throws: HL7Message.ParseFailure.noMSH) { try HL7Message(bytes: Array("PID|1||P1".utf8)) }
        #expect(throws: HL7Message.ParseFailure.noMSH) { try HL7Message(bytes: []) }
        #expect(throws: HL7Message.ParseFailure.noMSH) { try HL7Message(bytes: [0xFF, 0x00, 0x41]) }
        for bad in ["MSH", "MSHA^~\\&|x", "MSH|^|x", "MSH|^^\\&|x", "MSH| ~\\&|x", "MSH|^~\\&^~\\&|x"] {
            #expect(throws: HL7Message.ParseFailure.self, "\(bad)") { try HL7Message(bytes: Array(bad.utf8)) }
        }
        // A blank line before MSH is not content.
        #expect((try? HL7Message(bytes: Array("\r\nMSH|^~\\&|A|B|C|D|1||ADT^A08|X|P|2.5".utf8)))?.messageType.trigger == "A08")
    }
}

@Suite struct HL7FieldPathTests {
    @Test func pathsAsEngineersWriteThem() throws {
        #expect(try HL7FieldPath(parsing: "PID-3") == HL7FieldPath(segment: "PID", field: 3))
        #expect(try HL7FieldPath(parsing: "SCH-11.4") == HL7FieldPath(segment: "SCH", field: 11, component: 4))
        #expect(try HL7FieldPath(parsing: "PID-3[2].1") == HL7FieldPath(segment: "PID", field: 3, repetition: 2, component: 1))
        #expect(try HL7FieldPath(parsing: "AIL-3.1.2") == HL7FieldPath(segment: "AIL", field: 3, component: 1, subcomponent: 2))
        #expect(try HL7FieldPath(parsing: "ZU1-2").segment == "ZU1")
        for text in ["PID-3", "SCH-11.4", "PID-3[2].1", "AIL-3.1.2"] {
            #expect(try HL7FieldPath(parsing: text).description == text)
        }
        #expect(try HL7FieldPath(parsing: "SCH-11.4").errLocation == "SCH^1^11^1^4")
        #expect(try HL7FieldPath(parsing: "SCH-11").errLocation == "SCH^1^11")
    }

    @Test(arguments: ["", "PID", "PID-", "pid-3", "PI-3", "PIDS-3", "PID-0", "PID-3.", "PID-3[0]", "PID-3[2", "PID-3.1.2.3", "PID-x", "1ID-3", "PID-3 "])
    func badPathsSayWhatWasExpected(_ text: String) {
        do {
            let path = try HL7FieldPath(parsing: text)
            Issue.record("\(text) was read as \(path)")
        } catch {
            #expect(error.explanation.hasPrefix("expected a field path"), "\(error.explanation)")
        }
    }
}
