import Foundation
import Testing
import TouchpointDomain

@Suite struct LogThrottleTests {
    let t0 = Date(timeIntervalSince1970: 1_790_000_000)

    @Test func theFirstInEachMinuteIsLoggedWithHowManyWereLeftOut() {
        let log = LogThrottle<String>(interval: 60)
        #expect(log.admit("mallory", at: t0) == 0)
        for s in 1..<60 { #expect(log.admit("mallory", at: t0 + Double(s)) == nil) }
        // Another source has its own minute.
        #expect(log.admit("bob", at: t0 + 30) == 0)
        #expect(log.admit("mallory", at: t0 + 60) == 59)
        #expect(log.admit("mallory", at: t0 + 61) == nil)
        #expect(log.admit("mallory", at: t0 + 200) == 1)
        #expect(LogThrottle<String>.suffix(0) == "")
        #expect(LogThrottle<String>.suffix(59).contains("59 more"))
    }

    @Test func manySourcesCostBoundedMemoryAndEachIsStillLoggedOnce() {
        let log = LogThrottle<Int>(interval: 60, capacity: 100)
        // 100 busy sources fill it; the 101st starts it again rather than growing.
        for i in 0..<100 { #expect(log.admit(i, at: t0) == 0) }
        #expect(log.admit(100, at: t0 + 1) == 0)
        #expect(log.admit(100, at: t0 + 2) == nil)
        // Those whose minute is over are forgotten first.
        for i in 200..<299 { _ = log.admit(i, at: t0 + 70) }
        #expect(log.admit(100, at: t0 + 71) == 1)
    }
}
