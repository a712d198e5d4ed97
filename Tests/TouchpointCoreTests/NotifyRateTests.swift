import Foundation
import Testing
import TouchpointDispatch
import TouchpointDomain

/// touchpoint's side of Notify's limits and statuses, with plain values.
@Suite struct NotifyRateTests {
    /// The bucket's shape: `capacity` at once after a quiet spell, then the refill, never more.
    @Test func theBucketLetsABurstGoThenTheRefill() {
        var b = TokenBucket(capacity: 500, perMinute: 2400, now: 0)
        #expect((0..<500).allSatisfy { _ in b.take(now: 0) == 0 })
        let wait = b.take(now: 0)
        #expect(abs(wait - 1.0 / 40) < 1e-9)
        #expect(b.take(now: wait) == 0, "one token a 40th of a second")
        // Ten seconds later: 400 more, and no more than the capacity however long it rests.
        #expect((0..<400).allSatisfy { _ in b.take(now: wait + 10) == 0 } && b.take(now: wait + 10) > 0)
        var rested = TokenBucket(capacity: 500, perMinute: 2400, now: 0)
        _ = rested.take(now: 0)
        #expect((0..<500).filter { _ in rested.take(now: 3600) == 0 }.count == 500 && rested.take(now: 3600) > 0)
        // After Notify's 429 the bucket is empty, whatever it held.
        var refused = TokenBucket(capacity: 500, perMinute: 2400, now: 0)
        refused.empty(now: 0)
        #expect(refused.take(now: 0) > 0)
    }

    /// Every status Notify's code has maps to one of ours; `sent` is final and not a failure.
    @Test func everyStatusOfNotifysListIsKnown() throws {
        var words = ["cancelled", "created", "sending", "sent", "delivered", "pending", "failed", "technical-failure", "temporary-failure",
                     "permanent-failure", "pending-virus-check", "validation-failed", "virus-scan-failed", "returned-letter", "accepted", "received"]
        // The contract's list, where it is on this machine (it is not copied here).
        let contract = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../../shared/notify/notify-contract.json")
        if let data = try? Data(contentsOf: contract), let o = try JSONSerialization.jsonObject(with: data) as? [String: Any],
           let all = (o["statuses"] as? [String: Any])?["all"] as? [String] {
            words += all
        }
        for w in words { #expect(DeliveryStatus(notify: w) != nil, "\(w)") }
        #expect(DeliveryStatus(notify: "sent") == .sent && DeliveryStatus.sent.isFinal && !DeliveryStatus.sent.isFailure)
        #expect(DeliveryStatus.sent.words == "sent, no receipt from this country")
        #expect(DeliveryStatus(notify: "pending-virus-check") == .sending)
        #expect(DeliveryStatus(notify: "a-status-notify-adds-next-year") == nil)
    }

    /// A lost answer may be asked after by reference while Notify keeps what
    /// it took; one day past the retention it is failed, never sent again.
    @Test func aLostAnswerPastNotifysRetentionIsNotSentAgain() {
        let sent = Date(timeIntervalSince1970: 1_790_000_000)
        let week = 7.0 * 86_400
        #expect(NotifyRetention.tooLateToAsk(uncertain: true, lastAttempt: sent, now: sent.addingTimeInterval(week - 60), retention: week) == nil)
        let why = NotifyRetention.tooLateToAsk(uncertain: true, lastAttempt: sent, now: sent.addingTimeInterval(week + 86_400), retention: week)
        #expect(why?.contains("past Notify's retention") == true && why?.contains("not sent again") == true)
        #expect(NotifyRetention.tooLateToAsk(uncertain: false, lastAttempt: sent, now: sent.addingTimeInterval(30 * 86_400), retention: week) == nil,
                "a notice never sent uncertainly is simply sent")
        #expect(NotifyRetention.tooLateToAsk(uncertain: true, lastAttempt: sent, now: sent.addingTimeInterval(10 * 86_400), retention: 90 * 86_400) == nil,
                "a service that keeps 90 days can still be asked on the tenth")
    }
}
