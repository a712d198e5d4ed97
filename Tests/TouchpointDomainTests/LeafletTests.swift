import Foundation
import Testing
@testable import TouchpointControl
@testable import TouchpointDomain

/// Issue 33: "you said, we did" for a crafted quarter whose numbers are known,
/// built as plain values (the report the core would give) and rendered.
@Suite struct LeafletTests {
    /// October to December 2026: 219 surgeries, 212 called on the day (97 %),
    /// 3 not required; 40 wait notices with 3 delays on the day, all explained
    /// (fewer than 5); 12 Open Access appointments, 9 in time; a configured
    /// contact with a promise, and one without (not on the leaflet). By ward,
    /// as the core gives it, which the leaflet must not show.
    static func quarter() -> PledgeReportView {
        var calls = PledgeResult(.checkinCall)
        calls.counted = 222
        calls.counts[.calledOnDay] = 212
        calls.counts[.calledLater] = 4
        calls.counts[.notCalled] = 3
        calls.counts[.notRequired] = 3
        calls.byPlace = ["Ward 7": [.counted: 100], "Ward 9": [.counted: 122]]
        var waits = PledgeResult(.waitNotice)
        waits.counted = 40
        waits.counts[.informed] = 40
        waits.counts[.delays] = 3
        waits.counts[.delaysNotified] = 3
        var info = PledgeResult(.openAccessInfo)
        info.counted = 12
        info.counts[.inTime] = 9
        info.counts[.late] = 3
        let clock = HospitalClock(identifier: "Europe/London")!
        var report = PledgeReport(
            from: LocalDate(year: 2026, month: 10, day: 1), to: LocalDate(year: 2026, month: 12, day: 31), place: nil,
            generatedAt: clock.instant(on: LocalDate(year: 2027, month: 1, day: 4), at: TimeOfDay(hour: 9, minute: 0)),
            results: [calls, waits, info],
            months: [
                ("2026-10", [.checkinCall: Headline(70, of: 72), .waitNotice: Headline(14, of: 14), .openAccessInfo: Headline(3, of: 4)]),
                ("2026-11", [.checkinCall: Headline(71, of: 73), .waitNotice: Headline(13, of: 13), .openAccessInfo: Headline(4, of: 5)]),
                ("2026-12", [.checkinCall: Headline(71, of: 74), .waitNotice: Headline(13, of: 13), .openAccessInfo: Headline(2, of: 3)]),
            ])
        var hna = ContactResult(name: "hna_offer", worklist: nil)
        hna.counted = 30
        hna.counts = [.onTime: 27]
        hna.promise = "If you feel you need more support you can request a Holistic Needs Assessment from your breast care nurse at any point."
        var quiet = ContactResult(name: "internal_reminder", worklist: "admin")
        quiet.counted = 8
        report.contacts = [hna, quiet]
        report.youSaid = [.waitNotice: "We waited on our own before the operation and nobody said why."]
        return PledgeReportView(report, timeZone: "Europe/London")
    }

    @Test func theQuartersNumbersInWordsAndCharts() throws {
        let page = Leaflet.html(Self.quarter())
        #expect(page.contains("You said, we did") && page.contains("1 October to 31 December 2026"))
        #expect(page.contains("We called 212 of 219 patients (97 %) the day after their surgery."), "219 = 222 counted less 3 not required")
        #expect(page.contains("We told 40 of 40 patients (100 %) waiting for surgery how long they would wait and why."))
        #expect(page.contains("9 of 12 patients (75 %) had the Open Access information before their appointment."))
        // The patients' words: the seed pledge's, or the hospital's own.
        #expect(page.contains("Not everyone felt supported after surgery."))
        #expect(page.contains("We waited on our own before the operation and nobody said why."))
        #expect(!page.contains("Patients have to wait alone before surgery."), "the hospital's own words replace the seed's")
        #expect(page.contains(Pledge.checkinCall.promise.replacingOccurrences(of: "'", with: "&#39;")) || page.contains(Pledge.checkinCall.promise))
        // A configured contact with its promise; one without is not there.
        #expect(page.contains("Holistic Needs Assessment") && page.contains("27 of 30 sent on time (90 %)."))
        #expect(!page.contains("internal_reminder") && !page.contains("admin"))
        // Month by month, each chart with its words for those who cannot see it.
        #expect(page.components(separatedBy: "<svg role=\"img\"").count - 1 == 3)
        #expect(page.contains(#"aria-label="Month by month: October 97 %, November 97 %, December 96 %""#))
        #expect(page.contains(">97%<") && page.contains(">Oct<") && page.contains(">Dec<"))
        // No ward, no script, nothing fetched.
        #expect(!page.contains("Ward 7") && !page.contains("Ward 9"))
        #expect(!page.contains("<script") && !page.contains("src=") && !page.contains("href="))
        #expect(page.contains("@page { size: A4;"))
        #expect(page.contains("Made 4 January 2027."))
    }

    /// Counts from 1 to 4 are "fewer than 5", and no percentage gives them
    /// away, in the words or in a chart's bar; 0 and 5 are shown.
    @Test func fewerThanFiveIsShownAsSuch() throws {
        let page = Leaflet.html(Self.quarter())
        #expect(page.contains("Fewer than 5 of fewer than 5 delays on the day were explained to the patient in time."), "3 of 3 delays")
        #expect(!page.contains("3 of 3") && !page.contains("(100 %) in time"))
        // Open Access month by month: 3 of 4 and 2 of 3 are under 5, 4 of 5 too (4 kept).
        #expect(page.contains(#"aria-label="Month by month: October fewer than 5, November fewer than 5, December fewer than 5""#))
        #expect(!page.contains(">75%<") && !page.contains(">80%<") && !page.contains(">67%<"))
        #expect(Leaflet.count(0) == "0" && Leaflet.count(1) == "fewer than 5" && Leaflet.count(4) == "fewer than 5" && Leaflet.count(5) == "5")
        let small = PledgeReportView.HeadlineView(Headline(5, of: 6))
        #expect(Leaflet.percent(small) == " (83 %)")
        #expect(Leaflet.percent(PledgeReportView.HeadlineView(Headline(4, of: 60))).isEmpty, "4 of 60 would be named by 7 %")
        #expect(Leaflet.percent(PledgeReportView.HeadlineView(Headline(0, of: 60))) == " (0 %)")
        #expect(Leaflet.didWords(.checkinCall, PledgeReportView.HeadlineView(Headline(0, of: 0))) == "No patients were counted in this period.")
    }
}
