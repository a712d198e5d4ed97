import Foundation
import Logging
import Synchronization
import Testing
import TouchpointConfig
import TouchpointLinux
import TouchpointTestSupport

@testable import TouchpointHL7Receiver

#if canImport(Glibc)
import Glibc
#endif

/// The group commit: messages that arrive together share one append, one
/// `fdatasync` and one SQLite transaction, and behave as they would one by
/// one. The receiver's commit is called directly here, on its real queue
/// file and its real SQLite state; the live receiver is driven over MLLP in
/// `HL7ReceiverTests` and `HL7ResilienceTests`.
@Suite struct HL7CommitTests {
    /// While one commit is in hand, whatever arrives waits and goes in the next, together.
    @Test func messagesThatArriveDuringACommitShareTheNext() async throws {
        let gate = DispatchSemaphore(value: 0)
        let batches = Mutex<[[Int]]>([])
        let commits = GroupCommit<Int, Int>(lane: BlockingLane(name: "group-commit-test"))
        let commit: @Sendable ([Int]) -> [Int] = { batch in
            batches.withLock { $0.append(batch) }
            if batch == [0] { gate.wait() }  // the first commit is slow (an fdatasync)
            return batch.map { $0 * 10 }
        }
        let results = try await withThrowingTaskGroup(of: (Int, Int).self) { group in
            group.addTask { (0, await commits.submit(0, commit: commit)) }
            while batches.withLock({ $0.isEmpty }) { try await Task.sleep(for: .milliseconds(5)) }
            for n in 1...7 { group.addTask { (n, await commits.submit(n, commit: commit)) } }
            // All seven are waiting before the first commit ends.
            try await Task.sleep(for: .milliseconds(200))
            gate.signal()
            return try await group.reduce(into: [Int: Int]()) { $0[$1.0] = $1.1 }
        }
        #expect(results == Dictionary(uniqueKeysWithValues: (0...7).map { ($0, $0 * 10) }))
        let seen = batches.withLock { $0 }
        #expect(seen.count == 2 && seen[0] == [0] && Set(seen[1]) == Set(1...7), "\(seen)")
        // Alone, a message is committed at once, by itself.
        #expect(await commits.submit(8, commit: commit) == 80)
        #expect(batches.withLock { $0.last } == [8])
    }

    func receiver(_ s: HL7Scenario) throws -> Receiver {
        try Receiver(config: HL7ConfigLoader.load(path: s.dir + "/hl7.toml"), logger: Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() }))
    }

    func codes(_ steps: [Receiver.Step]) -> [String] {
        steps.map { step in
            guard case .reply(let ack) = step else { return "ask" }
            guard let ack else { return "none" }
            let segments = String(decoding: ack, as: UTF8.self).split(separator: "\r").map { $0.split(separator: "|", omittingEmptySubsequences: false).map(String.init) }
            let m = msa(segments)
            return m.count > 2 ? "\(m[1]) \(m[2])" : "?"
        }
    }

    func queueLines(_ s: HL7Scenario) throws -> [String] {
        try String(contentsOfFile: s.daemon.queuePath, encoding: .utf8).split(separator: "\n").map(String.init)
    }

    /// In one batch, a reschedule sees the booking an earlier message made
    /// and the same message twice is written once; a batch whose append
    /// fails is not acknowledged at all and is all written when sent again.
    @Test func aBatchBehavesAsItsMessagesWouldOneByOne() throws {
        let s = try HL7Scenario()
        let r = try receiver(s)
        let day = s.daemon.time.day(5)
        let book = s.siu("S12", id: "B-1", ref: "TH-1", start: s.ts(day, 9, 0))
        let move = s.siu("S13", id: "B-2", ref: "TH-1", start: s.ts(day, 11, 0))
        let bad = s.siu("S12", id: "B-3", ref: "TH-2", start: s.ts(day, 9, 0), nhs: "9990000019")
        let steps = r.commit([book, move, book, bad].map { Receiver.Submission(frame: $0, daemonSaid: [:]) })
        #expect(codes(steps) == ["AA B-1", "AA B-2", "AA B-1", "AE B-3"])
        let types = try queueLines(s).map { $0.contains("surgery.booked") ? "booked" : $0.contains("surgery.rescheduled") ? "rescheduled" : "other" }
        #expect(types == ["booked", "rescheduled"], "\(types)")
        // The queue file gone (an admin's mistake): no ACK for any of the batch, nothing recorded.
        let aside = s.daemon.queuePath + ".aside"
        try FileManager.default.moveItem(atPath: s.daemon.queuePath, toPath: aside)
        let book3 = s.siu("S12", id: "B-4", ref: "TH-3", start: s.ts(day, 9, 0))
        let move3 = s.siu("S13", id: "B-5", ref: "TH-3", start: s.ts(day, 10, 0))
        let failed = r.commit([book3, move3, bad].map { Receiver.Submission(frame: $0, daemonSaid: [:]) })
        #expect(codes(failed) == ["none", "none", "AE B-3"], "B-3 was answered before, in the first batch")
        try FileManager.default.moveItem(atPath: aside, toPath: s.daemon.queuePath)
        let again = r.commit([book3, move3].map { Receiver.Submission(frame: $0, daemonSaid: [:]) })
        #expect(codes(again) == ["AA B-4", "AA B-5"])
        let th3 = try queueLines(s).filter { $0.contains(#""ref":"TH-3""#) }
        #expect(th3.count == 2 && th3[0].contains("surgery.booked") && th3[1].contains("surgery.rescheduled"), "\(th3)")
    }
}
