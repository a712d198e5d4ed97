import Testing
import TouchpointDomain

/// `calls.wards` (scheduling.md, safety rules: wards), with plain values.
@Suite struct WardTests {
    /// "WARD 7", " Ward  7 " and "ward 7" are one ward, kept under the
    /// hospital's spelling; a ward it does not name is unassigned, as is a
    /// call with no ward; an empty list assigns every ward.
    @Test func aWardWrittenTwoWaysIsOneWardAndOneNobodyNamedIsUnassigned() {
        let names = WardNames(["Ward 7", "Day Surgery Unit"])
        #expect(names.named("WARD 7") == "Ward 7")
        #expect(names.named("  ward   7 ") == "Ward 7")
        #expect(names.named("day surgery\tunit") == "Day Surgery Unit")
        #expect(names.named("Ward  9 ") == "Ward 9", "tidied, as written")
        #expect(!names.isUnassigned("WARD 7") && !names.isUnassigned(" ward 7"))
        #expect(names.isUnassigned("Ward 9") && names.isUnassigned(nil) && names.isUnassigned("Ward 77"))
        let off = WardNames([])
        #expect(!off.checked && !off.isUnassigned("Anything") && !off.isUnassigned(nil))
        #expect(off.named(" WARD  7") == "WARD 7")
        #expect(WardNames.same("WARD 7", "Ward 7") && !WardNames.same("Ward 7", "Ward 71"))
        #expect(WardNames.contains(["Ward 7"], "ward 7 ") && !WardNames.contains(["Ward 7"], "Ward 8"))
    }

    /// `status` warns of the calls still to make whose ward is unassigned, and of nothing else.
    @Test func statusWarnsOfUnassignedCallsStillToMake() {
        let clock = HospitalClock.named("Europe/London")
        var rules = SchedulingRules(clock: clock)
        rules.wards = WardNames(["Ward 7"])
        var snapshot = StatusSnapshot(totals: QueueTotals(position: QueuePosition(), counts: IngestCounts(), lastReadAt: nil), patients: 3, bookings: 3, jobCounts: [:], nextDueAt: nil, lastDispatch: nil, paused: false,
                                      openCallsByWard: [(ward: "Ward 7", calls: 4), (ward: "Ward 9", calls: 2), (ward: nil, calls: 1)])
        #expect(StatusWarning.of(snapshot, rules: rules) == [.unassignedCalls(3)])
        #expect(StatusWarning.unassignedCalls(3).words(clock).hasPrefix("3 check-in calls are on the unassigned list"))
        snapshot.openCallsByWard = [WardCount(ward: "Ward 7", calls: 4)]
        #expect(StatusWarning.of(snapshot, rules: rules).isEmpty)
        #expect(StatusWarning.of(StatusSnapshot(totals: QueueTotals(position: QueuePosition(), counts: IngestCounts(), lastReadAt: nil), patients: 0, bookings: 0, jobCounts: [:], nextDueAt: nil, lastDispatch: nil,
                                                paused: false, openCallsByWard: [(ward: "Ward 9", calls: 2)]),
                                 rules: SchedulingRules(clock: clock)).isEmpty, "no wards configured: no check")
    }
}
