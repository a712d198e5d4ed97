import Foundation
import Testing
import TouchpointDomain

/// Feed silence (scheduling.md, safety rules; hazard H-01) with an injected
/// clock: open days, the same wall-clock time, both UK clock changes.
@Suite struct FeedSilenceTests {
    let london = HospitalClock(identifier: "Europe/London")!

    func at(_ s: String) -> Date {
        guard case .success(let d) = Timestamp.parse(s, clock: london) else { Issue.record("cannot parse \(s)"); return Date() }
        return d
    }

    /// Weekdays only: a feed last heard Friday 14:02 is silent from Monday 14:02.
    var weekdays: SchedulingRules { SchedulingRules(clock: london, callDays: Set(1...5)) }

    @Test func silentAfterCountsOpenDaysAtTheSameWallClockTimeAcrossBothChanges() {
        // Friday 27 March 2026, the weekend of the spring change: Monday 14:02 BST.
        #expect(FeedSilence.deadline(after: at("2026-03-27T14:02"), openDays: 1, rules: weekdays) == at("2026-03-30T14:02"))
        // Friday 23 October, the weekend of the autumn change: Monday 14:02 GMT.
        #expect(FeedSilence.deadline(after: at("2026-10-23T14:02"), openDays: 1, rules: weekdays) == at("2026-10-26T14:02"))
        // Every day open, across the changes' own nights: 24 wall-clock hours, 23 or 25 real ones.
        let daily = SchedulingRules(clock: london)
        #expect(FeedSilence.deadline(after: at("2026-03-28T14:02"), openDays: 1, rules: daily).timeIntervalSince(at("2026-03-28T14:02")) == 23 * 3600)
        #expect(FeedSilence.deadline(after: at("2026-10-24T14:02"), openDays: 1, rules: daily).timeIntervalSince(at("2026-10-24T14:02")) == 25 * 3600)
        // Two open days, a bank holiday closed between.
        var holiday = weekdays
        holiday.closedDates = [LocalDate(year: 2026, month: 12, day: 28)]
        #expect(FeedSilence.deadline(after: at("2026-12-24T09:00"), openDays: 2, rules: holiday) == at("2026-12-29T09:00"))
    }

    @Test func eachExpectedFeedIsJudgedByItsOwnLastEventAndTheWholeQueueByAny() {
        let feeds = [ExpectedFeed(source: "hl7:theatres", silentAfterOpenDays: 1), ExpectedFeed(source: "hl7:clinics", silentAfterOpenDays: 2)]
        let started = at("2026-11-30T08:00")  // Monday
        let last = ["hl7:theatres": at("2026-12-01T14:02"), "hl7:clinics": at("2026-12-01T10:00")]
        // Wednesday 15:00: theatres silent since 14:02; clinics may be silent until Thursday 10:00.
        let (silent, next) = FeedSilence.check(feeds, lastEvents: last, started: started, now: at("2026-12-02T15:00"), rules: weekdays)
        #expect(silent == [SilentFeed(source: "hl7:theatres", lastEventAt: at("2026-12-01T14:02"), since: at("2026-12-02T14:02"))])
        #expect(next == at("2026-12-03T10:00"))
        // A minute before: nothing silent, the timer set for 14:02.
        let early = FeedSilence.check(feeds, lastEvents: last, started: started, now: at("2026-12-02T14:01"), rules: weekdays)
        #expect(early.silent.isEmpty && early.next == at("2026-12-02T14:02"))
        // A source never heard is silent from when touchpoint started watching.
        let never = FeedSilence.check([ExpectedFeed(source: "hl7:adt", silentAfterOpenDays: 1)], lastEvents: last, started: started,
                                      now: at("2026-12-01T08:00"), rules: weekdays)
        #expect(never.silent.map(\.source) == ["hl7:adt"] && never.silent.first?.lastEventAt == nil)
        // The whole queue (no source configured): its latest event of any writer.
        let whole = FeedSilence.check([ExpectedFeed(source: nil, silentAfterOpenDays: 1)], lastEvents: last, started: started,
                                      now: at("2026-12-02T14:30"), rules: weekdays)
        #expect(whole.silent.map(\.lastEventAt) == [at("2026-12-01T14:02")])
    }

    @Test func theWarningSaysWhoIsSilentSinceWhenAndWhatToDo() {
        let f = SilentFeed(source: "hl7:theatres", lastEventAt: at("2026-11-30T14:02"), since: at("2026-12-01T14:02"))
        #expect(StatusWarning.feedSilent(f).words(london)
                == "No bookings from hl7:theatres since Mon 30 Nov 14:02: the list may be incomplete. Tell the integration team.")
        let whole = SilentFeed(source: nil, lastEventAt: nil, since: at("2026-12-01T14:02"))
        #expect(StatusWarning.feedSilent(whole).words(london).hasPrefix("No bookings in the queue since touchpoint started"))
    }
}
