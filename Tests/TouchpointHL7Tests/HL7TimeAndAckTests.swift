import Foundation
import Testing
import TouchpointDomain
import TouchpointHL7

@Suite struct HL7TimeTests {
    let london = HospitalClock.named("Europe/London")

    func utc(_ s: String) -> Date {
        guard case .success(let d) = Timestamp.parse(s, clock: .utc) else { fatalError(s) }
        return d
    }

    @Test func withAnOffsetTheTimeIsExact() throws {
        #expect(try HL7Time(parsing: "20261203083000+0000").instant(clock: london) == utc("2026-12-03T08:30:00Z"))
        #expect(try HL7Time(parsing: "20260615083000+0100").instant(clock: london) == utc("2026-06-15T07:30:00Z"))
        #expect(try HL7Time(parsing: "202606150830-0400").instant(clock: london) == utc("2026-06-15T12:30:00Z"))
        #expect(try HL7Time(parsing: "20260615083000.292+0215").instant(clock: london) == utc("2026-06-15T06:15:00.292Z"))
    }

    /// Without an offset: the hospital's wall clock, in winter and summer and
    /// across both UK clock changes (2026: 29 March forward, 25 October back).
    @Test(arguments: [
        ("20261203083000", "2026-12-03T08:30:00Z"),
        ("20260615083000", "2026-06-15T07:30:00Z"),
        ("202603290059", "2026-03-29T00:59:00Z"),   // just before the spring change
        ("202603290130", "2026-03-29T01:30:00Z"),   // in the gap: moved forward by it (02:30 BST)
        ("202603290300", "2026-03-29T02:00:00Z"),   // after it
        ("202610250030", "2026-10-24T23:30:00Z"),   // BST still
        ("202610250130", "2026-10-25T00:30:00Z"),   // occurs twice: the first (BST)
        ("202610250230", "2026-10-25T02:30:00Z"),   // GMT
    ])
    func withoutAnOffsetTheHospitalsClockAcrossBothChanges(_ text: String, _ expected: String) throws {
        #expect(try HL7Time(parsing: text).instant(clock: london) == utc(expected))
    }

    @Test func precisionIsWhatWasSentAndAMinuteIsNeededForATime() throws {
        #expect(try HL7Time(parsing: "2026").precision == .year)
        #expect(try HL7Time(parsing: "20261203").precision == .day)
        #expect(try HL7Time(parsing: "2026120308").precision == .hour)
        #expect(try HL7Time(parsing: "202612030830").precision == .minute)
        #expect(throws: HL7Time.Failure.notPreciseEnough(.day)) { try HL7Time(parsing: "20261203").instant(clock: london) }
        #expect(throws: HL7Time.Failure.notPreciseEnough(.hour)) { try HL7Time(parsing: "2026120308+0000").instant(clock: london) }
        // A date of death may be a date: read as its local midnight.
        #expect(try HL7Time(parsing: "20260615").anyInstant(clock: london) == utc("2026-06-14T23:00:00Z"))
    }

    @Test(arguments: ["", "20", "2026120", "20261203x", "202612030830+01", "202612030830+2500", "202612030830 ", "2026-12-03", "202612030830.+0000"])
    func malformedTimesAreRefused(_ text: String) {
        #expect(throws: HL7Time.Failure.malformed) { try HL7Time(parsing: text) }
    }

    @Test(arguments: ["20260230", "20261301", "202612032400", "202612030860", "20250229"])
    func timesThatDoNotExistAreRefused(_ text: String) {
        #expect(throws: HL7Time.Failure.noSuchDate) { try HL7Time(parsing: text) }
    }

    @Test func msh7IsWrittenWithItsOffset() {
        #expect(HL7Time.text(utc("2026-12-03T08:30:05Z"), clock: london) == "20261203083005+0000")
        #expect(HL7Time.text(utc("2026-06-15T07:30:00Z"), clock: london) == "20260615083000+0100")
    }
}

@Suite struct HL7AcknowledgementTests {
    let now = Date(timeIntervalSince1970: 1_796_290_200)  // 2026-12-03T09:30:00Z
    let ack = HL7Acknowledgement(application: "TOUCHPOINT", facility: "RGT")

    func segments(_ bytes: [UInt8]) -> [[String]] {
        String(decoding: bytes, as: UTF8.self).split(separator: "\r").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
    }

    @Test func anAcceptSwapsTheSidesAndRepeatsTheControlIDByteForByte() throws {
        var lines = Fixture.siuS12
        lines[0] = lines[0].replacingOccurrences(of: "|MSG-0001|", with: "| 77\\F\\x^y|")
        let m = try Fixture.message(lines)
        let bytes = ack.build(for: m, code: .accept, controlID: "TP-1", at: now, clock: .named("Europe/London"))
        let s = segments(bytes)
        #expect(s.count == 2)
        #expect(Array(s[0].prefix(12)) == ["MSH", "^~\\&", "TOUCHPOINT", "RGT", "ORMIS", "RGT", "20261203093000+0000", "", "ACK^S12^ACK", "TP-1", "P", "2.4"])
        #expect(s[1] == ["MSA", "AA", " 77\\F\\x^y"])
        // MSA-2 is the raw bytes of MSH-10, escapes and all.
        let msa = try HL7Message(bytes: bytes).segment("MSA")!
        #expect(Array(msa.rawField(2, in: bytes)!) == Array(m.controlID))
        #expect(!bytes.contains(0x0A) && bytes.last == 0x0D)
    }

    @Test func anErrorNamesTheFieldInERRAndNeverTheValue() throws {
        let m = try Fixture.message(Fixture.siuS12)
        let bytes = ack.build(for: m, code: .error, errors: [HL7Error(.requiredFieldMissing, at: Fixture.path("SCH-11.4"), "SCH-11.4 (the start): a time to the day only | a time to the minute is needed")],
                              controlID: "TP-2", at: now, clock: .utc)
        let reply = try HL7Message(bytes: bytes)
        #expect(reply.value(at: Fixture.path("MSA-1")) == .text("AE"))
        #expect(reply.value(at: Fixture.path("MSA-3")).text?.contains("a time to the minute is needed") == true)
        #expect(reply.value(at: Fixture.path("ERR-2")) == .text("SCH"))
        #expect(reply.value(at: Fixture.path("ERR-2.3")) == .text("11"))
        #expect(reply.value(at: Fixture.path("ERR-2.5")) == .text("4"))
        #expect(reply.value(at: Fixture.path("ERR-3.1")) == .text("101"))
        #expect(reply.value(at: Fixture.path("ERR-4")) == .text("E"))
        // The | in the words is escaped, so ERR keeps its fields.
        #expect(reply.value(at: Fixture.path("ERR-8")).text?.hasSuffix("| a time to the minute is needed") == true)
        #expect(reply.value(at: Fixture.path("ERR-1.4.1")) == .text("101"))
    }

    @Test func bytesThatAreNotAMessageGetAnARWithAnEmptyMSA2() throws {
        let bytes = ack.build(for: nil, code: .reject, errors: [HL7Error(.segmentSequence, "no MSH segment at the start of the message")],
                              controlID: "TP-3", at: now, clock: .utc)
        let reply = try HL7Message(bytes: bytes)
        #expect(reply.value(at: Fixture.path("MSA-1")) == .text("AR"))
        #expect(reply.value(at: Fixture.path("MSA-2")) == .absent)
        #expect(reply.value(at: .msh(9)) == .text("ACK"))
    }

    @Test func theAckUsesTheMessagesOwnEncodingCharacters() throws {
        let m = try Fixture.message(["MSH#*@!%#ORMIS#RGT#TP#RGT#20261201093000##SIU*S12#ID#1#P#2.4"])
        let bytes = ack.build(for: m, code: .accept, controlID: "TP-4", at: now, clock: .utc)
        #expect(String(decoding: bytes, as: UTF8.self).hasPrefix("MSH#*@!%#TOUCHPOINT#RGT#ORMIS#RGT#"))
        #expect(String(decoding: bytes, as: UTF8.self).contains("#ACK*S12*ACK#TP-4#"))
    }
}

@Suite struct MLLPFrameTests {
    static let one = Array("MSH|^~\\&|A|B|C|D|1||ADT^A08|X1|P|2.5\rPID|1".utf8)
    static let two = Array("MSH|^~\\&|A|B|C|D|1||ADT^A08|X2|P|2.5\r".utf8)

    @Test func framesAreFoundWhereverTheReadsSplitThem() {
        let stream = MLLPFrameDecoder.framed(Self.one) + [0x0A] + MLLPFrameDecoder.framed(Self.two) + [0x0D, 0x0A]
        for cut in 0...stream.count {
            var d = MLLPFrameDecoder(maximumLength: 1024)
            let items = d.feed(stream[..<cut]) + d.feed(stream[cut...])
            #expect(items == [.frame(Self.one), .frame(Self.two)], "cut at \(cut)")
            #expect(!d.isPartWay)
        }
    }

    @Test func aFrameOverTheLimitIsReportedAndTheNextStillArrives() {
        var d = MLLPFrameDecoder(maximumLength: 10)
        let items = d.feed(MLLPFrameDecoder.framed(Array(repeating: 0x41, count: 25)) + MLLPFrameDecoder.framed(Array("MSH|^~\\&".utf8)))
        #expect(items == [.tooLarge(25), .frame(Array("MSH|^~\\&".utf8))])
    }

    @Test func garbageBeforeAFrameIsReportedOnceAndCutShortIsPartWay() {
        var d = MLLPFrameDecoder(maximumLength: 1024)
        #expect(d.feed(Array("hello".utf8)).isEmpty)
        #expect(d.isPartWay)
        #expect(d.feed(MLLPFrameDecoder.framed(Self.two)) == [.garbage(5), .frame(Self.two)])
        #expect(d.feed([0x0B] + Self.two).isEmpty)
        #expect(d.isPartWay)
        // A stray VT inside a frame is dropped, and the frame goes on.
        var e = MLLPFrameDecoder(maximumLength: 1024)
        #expect(e.feed([0x0B] + Self.two + [0x0B, 0x0D, 0x1C, 0x0D]) == [.frame(Self.two + [0x0D])])
    }
}
