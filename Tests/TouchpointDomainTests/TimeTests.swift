import Foundation
import Testing
@testable import TouchpointDomain

/// The spec's time rules, with both UK daylight-saving changes.
@Suite struct TimeTests {
    let london = HospitalClock(identifier: "Europe/London")!

    func instant(_ s: String) -> Date {
        guard case .success(let d) = Timestamp.parse(s, clock: london) else { Issue.record("cannot parse \(s)"); return Date() }
        return d
    }

    @Test func localTimesInWinterAndSummer() {
        #expect(Timestamp.rfc3339(instant("2026-12-01T08:30")) == "2026-12-01T08:30:00Z")
        #expect(Timestamp.rfc3339(instant("2026-07-01T08:30")) == "2026-07-01T07:30:00Z")
        #expect(Timestamp.rfc3339(instant("2026-07-01T08:30:15")) == "2026-07-01T07:30:15Z")
    }

    @Test func offsetsAreHonoured() {
        #expect(Timestamp.rfc3339(instant("2026-12-01T08:30:00Z")) == "2026-12-01T08:30:00Z")
        #expect(Timestamp.rfc3339(instant("2026-12-01T08:30:00+01:00")) == "2026-12-01T07:30:00Z")
        #expect(Timestamp.rfc3339(instant("2026-12-01T08:30:00-05:30")) == "2026-12-01T14:00:00Z")
        #expect(Timestamp.rfc3339(instant("2026-12-01T08:30:00.250Z")) == "2026-12-01T08:30:00.250Z")
    }

    @Test func springForwardGapMovesForwardByTheGap() {
        // 2026-03-29: UK clocks go from 01:00 GMT to 02:00 BST.
        #expect(Timestamp.rfc3339(instant("2026-03-29T01:30")) == "2026-03-29T01:30:00Z")  // = 02:30 BST
        #expect(Timestamp.rfc3339(instant("2026-03-29T00:59")) == "2026-03-29T00:59:00Z")
        #expect(Timestamp.rfc3339(instant("2026-03-29T02:00")) == "2026-03-29T01:00:00Z")
        #expect(london.localDateTime(of: instant("2026-03-29T01:30")).description == "2026-03-29T02:30")
        // The days either side are ordinary.
        #expect(Timestamp.rfc3339(instant("2026-03-28T01:30")) == "2026-03-28T01:30:00Z")
        #expect(Timestamp.rfc3339(instant("2026-03-30T01:30")) == "2026-03-30T00:30:00Z")
    }

    @Test func autumnOverlapMeansFirstOccurrence() {
        // 2026-10-25: UK clocks go from 02:00 BST back to 01:00 GMT; 01:30 happens twice.
        #expect(Timestamp.rfc3339(instant("2026-10-25T01:30")) == "2026-10-25T00:30:00Z")
        #expect(Timestamp.rfc3339(instant("2026-10-25T00:30")) == "2026-10-24T23:30:00Z")
        #expect(Timestamp.rfc3339(instant("2026-10-25T02:00")) == "2026-10-25T02:00:00Z")
        #expect(Timestamp.rfc3339(instant("2026-10-24T01:30")) == "2026-10-24T00:30:00Z")
        #expect(Timestamp.rfc3339(instant("2026-10-26T01:30")) == "2026-10-26T01:30:00Z")
    }

    @Test func lordHoweHalfHourShift() throws {
        let lh = try #require(HospitalClock(identifier: "Australia/Lord_Howe"))
        // 2026-10-04 02:00 +10:30 -> 02:30 +11:00: 02:15 does not exist, moves forward 30 minutes.
        let gap = try Timestamp.parse("2026-10-04T02:15", clock: lh).get()
        #expect(Timestamp.rfc3339(gap) == "2026-10-03T15:45:00Z")
        #expect(lh.localDateTime(of: gap).description == "2026-10-04T02:45")
        // 2026-04-05 02:00 +11:00 -> 01:30 +10:30: 01:45 happens twice; the first is +11:00.
        let overlap = try Timestamp.parse("2026-04-05T01:45", clock: lh).get()
        #expect(Timestamp.rfc3339(overlap) == "2026-04-04T14:45:00Z")
    }

    @Test func badTimesAreRefusedWithAReason() {
        #expect(Timestamp.parse("2026-12-01", clock: london) == .failure(.dateWithoutTime))
        for day in ["2026-02-30T08:30", "2027-02-29T09:00", "2026-04-31T10:00"] {
            #expect(Timestamp.parse(day, clock: london) == .failure(.noSuchDate), "\(day)")
        }
        #expect((try? Timestamp.parse("2028-02-29T09:00", clock: london).get()) != nil)
        for bad in ["2026-13-01T08:30", "2026-12-01T24:00", "2026-12-01T08:30+1", "tomorrow",
                    "2026-12-01T08:30:00Zjunk", "2026-12-01T08", ""] {
            #expect(Timestamp.parse(bad, clock: london) == .failure(.malformed), "\(bad)")
        }
    }

    @Test func civilDatesRoundTrip() {
        var d = LocalDate(year: 1970, month: 1, day: 1)
        #expect(d.daysSinceEpoch == 0)
        #expect(d.isoWeekday == 4)
        d = LocalDate(year: 2026, month: 11, day: 26)
        #expect(d.isoWeekday == 4)  // a Thursday
        for n in stride(from: -800_000, to: 800_000, by: 997) {
            #expect(LocalDate(daysSinceEpoch: n).daysSinceEpoch == n)
        }
        #expect(LocalDate(year: 2028, month: 2, day: 28).adding(days: 1) == LocalDate(year: 2028, month: 2, day: 29))
        #expect(LocalDate(iso: "2026-02-29") == nil)
    }

    @Test func localDateTimeAcrossChanges() {
        // An instant's wall time in London: the day after each change keeps 09:00 = 09:00.
        #expect(london.instant(on: LocalDate(year: 2026, month: 3, day: 30), at: TimeOfDay(hour: 9, minute: 0)).timeIntervalSince1970
            - london.instant(on: LocalDate(year: 2026, month: 3, day: 29), at: TimeOfDay(hour: 9, minute: 0)).timeIntervalSince1970 == 86_400)
        #expect(london.instant(on: LocalDate(year: 2026, month: 3, day: 29), at: TimeOfDay(hour: 9, minute: 0)).timeIntervalSince1970
            - london.instant(on: LocalDate(year: 2026, month: 3, day: 28), at: TimeOfDay(hour: 9, minute: 0)).timeIntervalSince1970 == 82_800)
        #expect(london.instant(on: LocalDate(year: 2026, month: 10, day: 25), at: TimeOfDay(hour: 9, minute: 0)).timeIntervalSince1970
            - london.instant(on: LocalDate(year: 2026, month: 10, day: 24), at: TimeOfDay(hour: 9, minute: 0)).timeIntervalSince1970 == 90_000)
    }
}
