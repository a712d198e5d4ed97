import Foundation
import Testing
import TouchpointControl
import TouchpointDomain
import TouchpointTestSupport

/// A hospital's scripts read the daemon's replies; each must be byte for byte
/// what `JSONEncoder` writes of the value it decodes to, for every reply type
/// the daemon sends, filled as a real day fills them: the call list, written
/// by hand for speed, beside the rest.
@Suite struct WireJSONTests {
    /// The reply's result, as sent, and as Foundation writes the value it decodes to.
    func sentAndReference<T: Codable>(_ type: T.Type, _ client: ControlClient, _ command: ControlCommand) throws -> (sent: String, reference: String) {
        let result = try client.send(command.request())
        let value = try ControlJSON.decoder.decode(T.self, from: result)
        return (String(decoding: result, as: UTF8.self), String(decoding: try ControlJSON.encoder.encode(value), as: UTF8.self))
    }

    @Test func everyReplyIsWhatTheEncoderWrites() throws {
        let h = try DaemonHarness()
        let yesterday = h.time.day(-1)
        try h.appendLines([
            #"{"v":1,"id":"e1","type":"surgery.booked","ref":"S1","patient":{"id":"P1","name":"Ann \"Annie\" O'Brien / Zoë","phone":"07700 900101","voicemail_ok":true},"at":"\#(yesterday)T10:30","ward":"Ward 7","procedure":"Wide local excision\tleft"}"#,
            #"{"v":1,"id":"e2","type":"surgery.booked","ref":"S2","patient":{"id":"P2","name":"Bea 日本語 🙂","phone":"07700 900102"},"at":"\#(h.time.day(3))T09:00","ward":"Ward 9","admit_at":"\#(h.time.day(3))T07:00"}"#,
            #"{"v":1,"id":"e3","type":"appointment.booked","ref":"A1","patient":{"id":"P3","name":"Cara","phone":"07700 900103","email":"cara@example.org"},"at":"\#(h.time.day(10))T14:00","service":"phone_consultation","mode":"phone"}"#,
            "not json at all",
        ])
        try h.start()
        let client = ControlClient(socketPath: h.socketPath)
        _ = try client.send(ControlCommand.outcome(.init(job: "call-S1", outcome: .noAnswer, note: "rang\nno answer \\ left a message")).request())
        var checked: [(String, String, String)] = []
        func check<T: Codable>(_ type: T.Type, _ command: ControlCommand) throws {
            let (sent, reference) = try sentAndReference(type, client, command)
            checked.append(("\(command)", sent, reference))
        }
        try check(StatusReport.self, .status)
        try check(CallsReport.self, .calls(.init()))
        try check(CallsReport.self, .calls(.init(date: yesterday.description)))
        try check(JobsReport.self, .jobs(.init()))
        try check(JobView.self, .job(id: "call-S1"))
        try check(ExplainReport.self, .explain(ref: "S1"))
        try check(ExplainReport.self, .explain(ref: "A1"))
        try check(RejectsReport.self, .rejects(limit: nil, showLine: true))
        try check(PledgeReportView.self, .report(.init(from: h.time.day(-7).description, to: h.time.day(14).description)))
        try check(IngestReport.self, .ingest)
        for (command, sent, reference) in checked {
            #expect(sent == reference, "\(command)")
        }
        // Not a vacuous comparison: the call list carries the call and its outcome.
        #expect(checked[1].1.contains(#""patient_name":"Ann \"Annie\" O'Brien / Zoë""#))
        #expect(checked[4].1.contains(#""note":"rang\nno answer \\ left a message""#))
        try h.stop()
    }
}
