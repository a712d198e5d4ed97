import Foundation
import Testing
import TouchpointConfig
import TouchpointFeedMap
import TouchpointHL7
import TouchpointTestSupport

@Suite struct HL7ConfigTests {
    static let example = DaemonHarness.repoRoot + "/systemd/hl7.toml"

    func issues(_ text: String) -> [String] {
        do {
            _ = try HL7ConfigLoader.parse(text, file: "/etc/touchpoint/hl7.toml")
            return []
        } catch {
            return error.issues.map(\.description)
        }
    }

    static let minimal = """
        listen = "127.0.0.1:2575"
        [[feed]]
        name = "theatres"
        sending_application = "ORMIS"
        [[feed.map]]
        when = { "AIS-3.1" = ["BRS01"] }
        as = "surgery"
        """

    @Test func theInstalledExampleIsValidAndSaysWhatTheSpecSays() throws {
        let c = try HL7ConfigLoader.load(path: Self.example)
        #expect(c.feeds.map(\.name) == ["theatres"] && c.maxMessage == 1 << 20 && c.maxConnections == 16 && c.idleTimeout == .seconds(600))
        let f = c.feeds[0]
        #expect(f.patientID == .matching(IdentifierType(authority: "RGT", type: "MR")) && f.wards["W7"] == "Ward 7" && f.maps.count == 2)
        #expect(f.start.map(\.description) == ["TQ1-7", "SCH-11.4", "AIS-4"])
        // The defaults of hl7.md for what a feed leaves out.
        let m = try HL7ConfigLoader.parse(Self.minimal, file: "/x/hl7.toml").feeds[0]
        #expect(m.appointmentID.map(\.description) == ["SCH-2.1", "SCH-1.1"] && m.ward?.description == "PV1-3.1" && m.patientID == .first)
        #expect(m.nhsNumber == [IdentifierType(authority: "NHS", type: "NH")])
    }

    @Test func everyProblemIsNamedByFileAndKey() {
        let bad = issues("""
            listen = "0.0.0.0:2575"
            max_mesage = "1MiB"
            tls_cert = "/etc/ssl/x.pem"
            [[feed]]
            name = "Theatres"
            sending_application = "ORMIS"
            start = ["SCH-11.4", "SCH11"]
            patient_id = "MR"
            [[feed.map]]
            when = { "AIS-3" = ["BRS01"] }
            as = "operation"
            """)
        let expected = ["allow: required when listen is not a loopback address", "max_mesage: unknown key (did you mean \"max_message\"?)",
                        "tls_key: tls_cert and tls_key go together", "feed[1].name: required: lower case", "feed[1].start: expected a field path",
                        "feed[1].patient_id: expected \"first\" or an assigning authority", "feed[1].map[1].as: expected \"surgery\""]
        for e in expected {
            #expect(bad.contains { $0.contains("/etc/touchpoint/hl7.toml") && $0.contains(e) }, "\(e) in \(bad)")
        }
        #expect(issues("listen = \"127.0.0.1:2575\"").contains { $0.contains("feed: required: at least one [[feed]]") })
        #expect(issues(Self.minimal.replacingOccurrences(of: "[[feed.map]]\nwhen = { \"AIS-3.1\" = [\"BRS01\"] }\nas = \"surgery\"", with: ""))
            .contains { $0.contains("feed[1].map: required") })
        #expect(issues(Self.minimal).isEmpty)
    }
}

/// `touchpoint-hl7 map`, the real program, on our own demo messages.
@Suite struct HL7MapCommandTests {
    @Test func aDryRunShowsTheEventsAndTheAckAndWritesNothing() throws {
        let bin = DaemonHarness.binDir + "/touchpoint-hl7"
        let seeds = DaemonHarness.repoRoot + "/seeds/hl7"
        let r = try DaemonHarness.run(bin, ["map", "--config", HL7ConfigTests.example, seeds + "/siu-s12-booking.hl7", seeds + "/siu-s13-delay.hl7"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.first == "# \(seeds)/siu-s12-booking.hl7: SIU^S12 -> AA")
        #expect(lines.contains { $0.hasPrefix(#"{"v":1,"id":"hl7-theatres-"#) && $0.contains(#""type":"surgery.booked","source":"hl7:theatres","ref":"TH-1001""#) })
        // The demo's list is for 2026-12-03: a later start that day is a delay
        // on the day itself (hl7.md), a reschedule on any other day.
        var london = Calendar(identifier: .gregorian)
        london.timeZone = TimeZone(identifier: "Europe/London")!
        let today = london.dateComponents([.year, .month, .day], from: Date())
        if today.year == 2026 && today.month == 12 && today.day == 3 {
            #expect(lines.contains { $0.contains(#""type":"surgery.delayed""#) && $0.contains(#""expected_at":"2026-12-03T11:30:00Z""#) })
        } else {
            #expect(lines.contains { $0.contains(#""type":"surgery.rescheduled""#) && $0.contains(#""at":"2026-12-03T11:30:00Z""#) })
        }
        #expect(lines.contains("  MSA|AA|DEMO-0001") && lines.contains("  MSA|AA|DEMO-0002"))
        // A message refused: exit 1, the ACK says AE and names the field.
        let dir = NSTemporaryDirectory() + "hl7-map-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let text = try String(contentsOfFile: seeds + "/siu-s12-booking.hl7", encoding: .utf8).replacingOccurrences(of: "^20261203083000", with: "^20261203")
            .replacingOccurrences(of: "|20261203083000", with: "|20261203")
        try text.write(toFile: dir + "/bad.hl7", atomically: true, encoding: .utf8)
        let bad = try DaemonHarness.run(bin, ["map", "--config", HL7ConfigTests.example, dir + "/bad.hl7"])
        #expect(bad.status == 1)
        #expect(bad.stdout.contains("SIU^S12 -> AE") && bad.stdout.contains("ERR|SCH^1^11") && !bad.stdout.contains("Ann"), "\(bad.stdout)")
        // Not a message at all: AR with an empty MSA-2.
        try Data("hello".utf8).write(to: URL(fileURLWithPath: dir + "/junk.hl7"))
        let junk = try DaemonHarness.run(bin, ["map", "--config", HL7ConfigTests.example, dir + "/junk.hl7"])
        #expect(junk.status == 1 && junk.stdout.contains("not a message -> AR (no MSH segment") && junk.stdout.contains("  MSA|AR||no MSH segment"), "\(junk.stdout)")
    }
}

/// Every file of the public corpus through the real `touchpoint-hl7 map`
/// with a feed config written for it (`docs/hl7-corpus.toml`), in order:
/// each gets one ACK, whose MSA-2 is its MSH-10 byte for byte, and the code
/// `hl7.md`'s table gives it (written here file by file, each with why).
@Suite(.enabled(if: Corpus.directory != nil, "the public HL7 corpus (../shared/hl7/corpus) is not on this machine"))
struct HL7CorpusMapTests {
    /// The ACK each file gets, and the rule of hl7.md that gives it.
    static let expected: [String: (code: String, why: String)] = {
        var e: [String: (String, String)] = [:]
        for f in ["01", "07", "20", "47"] { e[f] = ("AA", "mapped: *.booked") }
        e["02"] = ("AA", "ref already written: *.rescheduled")
        e["08"] = ("AA", "ref already written, no longer matches any map: *.cancelled, no longer in scope")
        for f in ["10", "11"] { e[f] = ("AE", "a ref written and cancelled: touchpointd would refuse its booking again (conflict), so the sender is told") }
        e["03"] = ("AA", "SIU^S15 for a ref written: *.cancelled")
        for f in ["04", "12", "13", "14", "28", "29"] { e[f] = ("AA", "a cancel of a ref not written (or already cancelled): nothing") }
        for f in ["05", "06", "09"] { e[f] = ("AA", "no map matches, or not what a booking needs: ignored") }
        e["15"] = ("AA", "routed on MSH-9 (ADT^A60), any message with PID: patient.updated for a patient touchpoint knows")
        for f in ["21", "22", "23", "24", "25", "27", "33", "34", "35", "36", "37", "38", "40", "42", "44", "46", "50"] {
            e[f] = ("AA", "a patient touchpoint has no booking for: nothing written")
        }
        for f in ["26", "39", "48"] { e[f] = ("AA", "ADT^A40, neither patient known: nothing") }
        e["30"] = ("AE", "ADT^A14 mapped, no PV2-8 or EVN-3: a mapped message without a required item")
        e["31"] = ("AE", "PV2-8 to the day only: a time with less precision than a minute where one is needed")
        for f in ["32", "41", "43", "49", "51", "52", "53", "54"] { e[f] = ("AR", "a sender no feed names") }
        e["45"] = ("AR", "an FHS/BHS batch: not a message (no MSH first), MSA-2 empty")
        return e
    }()

    @Test func everyFileGetsTheAckTheSpecGives() throws {
        let dir = try #require(Corpus.directory)
        let files = Corpus.files
        #expect(files.count == Self.expected.count, "a corpus file without an expected ACK here, or one gone")
        let r = try DaemonHarness.run(DaemonHarness.binDir + "/touchpoint-hl7",
                                      ["map", "--config", DaemonHarness.repoRoot + "/docs/hl7-corpus.toml"] + files.map { dir + "/" + $0 })
        // One result per file, in order.
        let heads = r.stdout.split(separator: "\n").filter { $0.hasPrefix("# ") }
        #expect(heads.count == files.count, "\(heads.count) results for \(files.count) files")
        var blocks: [(file: String, lines: [Substring])] = []
        for line in r.stdout.split(separator: "\n") {
            if line.hasPrefix("# ") { blocks.append((String(line.dropFirst(2 + dir.count + 1).prefix { $0 != ":" }), [])) } else if !blocks.isEmpty { blocks[blocks.count - 1].lines.append(line) }
        }
        for (file, lines) in blocks {
            let want = try #require(Self.expected[String(file.prefix(2))], "no expectation for \(file)")
            let msa = lines.first { $0.hasPrefix("  MSA|") }.map { $0.dropFirst(2).split(separator: "|", omittingEmptySubsequences: false) } ?? []
            #expect(msa.count >= 3 && msa[1] == want.code, "\(file): \(msa.prefix(2).joined(separator: "|")), expected \(want.code) (\(want.why))")
            // MSA-2 is MSH-10 byte for byte (empty for what is not a message).
            let message = Corpus.bytes(file)
            let controlID: String = {
                guard message.starts(with: Array("MSH".utf8)) else { return "" }
                let fieldSep = message[3]
                let firstSegment = message.prefix { $0 != 0x0D && $0 != 0x0A }
                let fields = firstSegment.split(separator: fieldSep, omittingEmptySubsequences: false)
                return fields.count > 9 ? String(decoding: fields[9], as: UTF8.self) : ""
            }()
            #expect(msa.count >= 3 && String(msa[2]) == controlID, "\(file): MSA-2 \(msa.count >= 3 ? String(msa[2]) : "-") is not MSH-10 \(controlID)")
        }
    }
}
