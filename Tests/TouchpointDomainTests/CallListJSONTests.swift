import Foundation
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

/// `calls --json` is written by hand for speed; it must stay exactly what
/// the Codable types encode to, or a hospital's scripts would see a change.
@Suite struct CallListJSONTests {
    static let awkward = ["", "Ann Example", "O'Brien \"Annie\"", "back\\slash / slash", "tab\tnew\nline\rret",
                          "\u{01}\u{08}\u{0C}\u{1F}", "Zoë Ševčíková", "日本語", "emoji 🙂", "</script>"]

    /// A seeded source of awkward values.
    final class Gen {
        var rng: SplitMix64
        init(_ seed: Int) { rng = SplitMix64(seed: UInt64(seed)) }
        func below(_ n: Int) -> Int { rng.below(n) }
        func pick<T>(_ xs: [T]) -> T { xs[rng.below(xs.count)] }
        func maybe<T>(_ x: @autoclosure () -> T) -> T? { rng.below(3) == 0 ? nil : x() }
        func date() -> Date { Date(timeIntervalSince1970: 1_790_000_000 + Double(rng.below(40_000_000)) + Double(rng.below(1000)) / 1000) }
    }

    func entry(_ g: Gen) -> CallEntry {
        var job = JobView(id: "call-S-\(g.below(100_000))", kind: .checkinCall, ref: g.pick(Self.awkward), patientID: g.pick(Self.awkward),
                          state: g.pick([.scheduled, .due, .escalated]), dueAt: g.date(), expiresAt: g.date(), createdAt: g.date(),
                          attempts: g.below(5), revision: 1 + g.below(3), ward: g.maybe(g.pick(Self.awkward)),
                          outcome: g.maybe(g.pick([.noAnswer, .busy])), woundCare: g.maybe(g.below(2) == 0),
                          overdueSince: g.maybe("2026-11-2\(g.below(9))"), expectedAt: g.maybe(g.date()),
                          delayReason: g.maybe(g.pick(Self.awkward)))
        if g.below(4) == 0 {
            job.history = (0..<g.below(3)).map { _ in
                JobView.Change(at: g.date(), actor: g.pick(Self.awkward), from: g.maybe(.scheduled), to: .due, reason: g.pick(Self.awkward))
            }
            job.reason = g.maybe(g.pick(Self.awkward))
            job.timeZone = g.maybe("Etc/GMT-9")
            job.deliveries = (0..<g.below(3)).map { _ in JobView.Delivery(at: g.date(), result: .retry, detail: g.maybe(g.pick(Self.awkward))) }
        }
        // What an escalation, a worklist and a concern add (each absent from most calls).
        job.escalatedAt = g.maybe(g.date())
        job.takenBy = g.maybe(g.pick(Self.awkward))
        job.takenAt = g.maybe(g.date())
        job.worklist = g.maybe(g.pick(Self.awkward))
        job.delivery = g.maybe(g.pick([.sent, .delivered]))
        job.concern = g.maybe(g.pick(Self.awkward))
        return CallEntry(job: job, patientName: g.maybe(g.pick(Self.awkward)), phone: g.maybe("+447700900\(g.below(900) + 100)"),
                         voicemailOK: g.below(2) == 0, procedure: g.maybe(g.pick(Self.awkward)), surgeryAt: g.maybe(g.date()),
                         lastAttemptAt: g.maybe(g.date()), note: g.maybe(g.pick(Self.awkward)),
                         birthDate: g.maybe("19\(50 + g.below(40))-0\(1 + g.below(9))-1\(g.below(10))"), nhsNumberEnd: g.maybe("\(100 + g.below(900))"),
                         needs: g.maybe((0..<(1 + g.below(2))).map { _ in g.pick(Self.awkward) }))
    }

    @Test(arguments: 0..<200)
    func theHandWrittenCallListIsWhatFoundationsEncoderWrites(seed: Int) throws {
        let g = Gen(seed)
        let report = CallsReport(date: g.maybe("2026-11-26"), ward: g.maybe(g.pick(Self.awkward)), escalated: g.below(2) == 0,
                                 hospital: g.pick(Self.awkward), timeZone: g.maybe("Europe/London"), calls: (0..<g.below(6)).map { _ in entry(g) })
        let fast = String(decoding: report.json(), as: UTF8.self)
        let reference = String(decoding: try ControlJSON.encoder.encode(report), as: UTF8.self)
        #expect(fast == reference)
        // And it reads back as the same report.
        #expect(try ControlJSON.decoder.decode(CallsReport.self, from: Data(fast.utf8)) == report)
    }
}

/// `TerminalText.visible`: what a reply's strings become on a terminal.
@Suite struct TerminalTextTests {
    func shown(_ value: String) throws -> String {
        let reply = try JSONEncoder().encode(["v": value])
        return try JSONDecoder().decode([String: String].self, from: TerminalText.visible(reply))["v"]!
    }

    @Test func controlsBecomeVisibleEscapesAndTheRestIsUntouched() throws {
        #expect(try shown("Ann\u{1B}[2J Example") == #"Ann\u001b[2J Example"#)
        #expect(try shown("one\ntwo\rthree\tfour\u{08}\u{0C}") == #"one\ntwo\rthree\tfour\b\f"#)
        #expect(try shown("del\u{7F} c1\u{9B} bell\u{07} nul\u{00}") == #"del\u007f c1\u009b bell\u0007 nul\u0000"#)
        #expect(try shown("evil\u{202E}txt.exe \u{2066}x\u{2069}") == #"evil\u202etxt.exe \u2066x\u2069"#)
        for kept in ["Zoë Ševčíková", "日本語 🙂", #"back\slash "quoted" / slash"#, "\u{2019}s \u{2014} \u{20AC}5", "\u{A0}\u{A9}", ""] {
            #expect(try shown(kept) == kept)
        }
        // Already visible escapes stay as they were; keys and numbers are untouched.
        #expect(try shown(#"\n is a backslash and n"#) == #"\n is a backslash and n"#)
        let reply = Data(#"{"a\u001bb":[1,2.5,true,null],"c":"\u00e9\u001b"}"#.utf8)
        #expect(String(decoding: TerminalText.visible(reply), as: UTF8.self) == #"{"a\\u001bb":[1,2.5,true,null],"c":"\u00e9\\u001b"}"#)
    }
}
