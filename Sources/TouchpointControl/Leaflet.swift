import Foundation
import Mustache
import TouchpointDomain

/// "You said, we did": the service pledge's own leaflet with its third
/// column filled from touchpoint's records, for the clinic wall and for what
/// Breast Cancer Now asks a hospital to publish. One A4 page, self-contained
/// (no script, no link it needs), no patient, ward or clinician named, and
/// every count from 1 to 4 shown as "fewer than 5": small numbers can
/// identify patients.
public enum Leaflet {
    /// The smallest count shown as a number (below it, "fewer than 5"); 0
    /// is shown, as it identifies nobody.
    static let smallest = 5

    /// The leaflet for a report (`touchpointctl report --format leaflet`,
    /// the web view's `/report/leaflet`).
    public static func html(_ r: PledgeReportView) -> String {
        let rows: [[String: Any]] = r.promises.map { p in
            var v: [String: Any] = ["key": p.key.rawValue, "said": p.youSaid ?? p.key.patientsSaid, "promise": p.promise,
                                    "did": didWords(p.key, p.headline)]
            if let d = p.delaysHeadline, d.denominator > 0 {
                v["also"] = "\(count(d.numerator).prefix(1).uppercased() + count(d.numerator).dropFirst()) of \(count(d.denominator)) "
                    + "delays on the day \(d.numerator == 1 ? "was" : "were") explained to the patient in time\(percent(d))."
            }
            if let months = r.months, months.count > 1 { v["chart"] = chart(months, p.key) }
            return v
        }
        let contacts: [[String: Any]] = ((r.contacts ?? []) + (r.uncountedPromises ?? [])).sorted { $0.name < $1.name }.compactMap { c in
            guard let promise = c.promise else { return nil }
            let done = c.list == nil ? "sent on time" : "called on the day planned"
            let h = c.headline
            let did = h.denominator == 0 ? "Nobody was due this contact in this period."
                : "\(count(h.numerator).prefix(1).uppercased() + count(h.numerator).dropFirst()) of \(count(h.denominator)) \(done)\(percent(h))."
            return ["key": c.name, "promise": promise, "did": did]
        }
        let v: [String: Any] = ["period": periodWords(r), "rows": rows, "contacts": contacts, "hasContacts": !contacts.isEmpty,
                                "made": longDate(HospitalClock.named(r.timeZone).localDate(of: r.generatedAt))]
        return page.render(v)
    }

    /// A count as the leaflet shows it.
    static func count(_ n: Int) -> String {
        (1..<smallest).contains(n) ? "fewer than \(smallest)" : String(n)
    }

    /// " (97 %)", or nothing when either count is shown as "fewer than 5"
    /// (the percentage would give it away) or nothing was counted.
    static func percent(_ h: PledgeReportView.HeadlineView) -> String {
        guard let p = h.percent, h.numerator == 0 || h.numerator >= smallest, h.denominator >= smallest else { return "" }
        return " (\(Int(p.rounded())) %)"
    }

    /// The headline in plain words ("We called 212 of 219 patients (97 %)
    /// the day after their surgery").
    static func didWords(_ p: Pledge, _ h: PledgeReportView.HeadlineView) -> String {
        guard h.denominator > 0 else { return "No patients were counted in this period." }
        let (n, d, pct) = (count(h.numerator), count(h.denominator), percent(h))
        switch p {
        case .checkinCall: return "We called \(n) of \(d) patients\(pct) the day after their surgery."
        case .waitNotice: return "We told \(n) of \(d) patients\(pct) waiting for surgery how long they would wait and why."
        case .openAccessInfo: return "\(n.prefix(1).uppercased() + n.dropFirst()) of \(d) patients\(pct) had the Open Access information before their appointment."
        }
    }

    static func longDate(_ d: LocalDate) -> String { "\(d.day) \(d.monthName) \(d.year)" }

    /// "1 October to 31 December 2026".
    static func periodWords(_ r: PledgeReportView) -> String {
        guard let a = LocalDate(iso: r.from), let b = LocalDate(iso: r.to) else { return ReportFormat.period(r) }
        if a == b { return longDate(a) }
        let start = a.year == b.year ? "\(a.day) \(a.monthName)" : longDate(a)
        return "\(start) to \(longDate(b))"
    }

    /// Each month's headline as a small bar with its percentage written on
    /// it; a month with fewer than 5 counted, or fewer than 5 kept, has no
    /// bar and says so (its percentage would name the count).
    static func chart(_ months: [PledgeReportView.MonthView], _ p: Pledge) -> [String: Any] {
        let barWidth = 30, gap = 6, height = 34, top = 12
        var described: [String] = []
        let bars: [[String: Any]] = months.enumerated().map { i, m in
            let h = m.headlines[p.rawValue]
            let month = Int(m.month.suffix(2)).map { LocalDate(year: 2000, month: max(1, min(12, $0)), day: 1).monthName } ?? m.month
            let shown = h.flatMap { $0.percent != nil && !percent($0).isEmpty ? $0.percent : nil }
            let barHeight = shown.map { max(1, Int(($0 / 100 * Double(height)).rounded())) } ?? 0
            let value = shown.map { "\(Int($0.rounded()))%" } ?? (h?.denominator == 0 || h == nil ? "none" : "<5")
            described.append("\(month) \(shown.map { "\(Int($0.rounded())) %" } ?? (value == "none" ? "none counted" : "fewer than 5"))")
            let x = i * (barWidth + gap)
            return ["x": x, "y": top + height - barHeight, "h": barHeight, "w": barWidth, "labelX": x + barWidth / 2,
                    "valueY": top + height - barHeight - 3, "value": value, "month": String(month.prefix(3)), "monthY": top + height + 12]
        }
        return ["bars": bars, "width": max(1, months.count) * (barWidth + gap), "height": top + height + 16, "baseY": top + height,
                "label": "Month by month: " + described.joined(separator: ", ")]
    }

    static let page = ReportPage.template(#"""
        <!DOCTYPE html>
        <html lang="en-GB">
        <head>
        <meta charset="utf-8">
        <title>You said, we did: our service pledge, {{period}} – touchpoint</title>
        <style>
        @page { size: A4; margin: 12mm; }
        * { box-sizing: border-box; }
        body { font-family: Arial, "Liberation Sans", sans-serif; font-size: 10pt; line-height: 1.25; color: #212b32; margin: 0 auto; max-width: 186mm; padding: 2mm; }
        h1 { font-size: 20pt; margin: 0 0 1mm; color: #005eb8; }
        .lede { margin: 0 0 3mm; }
        table { border-collapse: collapse; width: 100%; }
        th, td { text-align: left; vertical-align: top; padding: 1.6mm 3mm 1.6mm 0; border-bottom: 1px solid #d8dde0; }
        thead th { font-size: 12pt; color: #005eb8; border-bottom: 2px solid #005eb8; }
        th[scope=row] { font-weight: normal; font-style: italic; width: 27%; }
        td.promise { width: 33%; }
        .did { font-weight: bold; margin: 0 0 1mm; }
        .also { margin: 0 0 1mm; }
        tr { page-break-inside: avoid; }
        svg { display: block; margin-top: 1mm; }
        .how { font-size: 8.5pt; color: #4c6272; margin-top: 3mm; }
        @media screen and (max-width: 600px) {
          table, tbody, tr, th, td { display: block; width: auto !important; }
          thead { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
          td:empty { display: none; }
        }
        </style>
        </head>
        <body>
        <h1>You said, we did</h1>
        <p class="lede">How our breast care team kept its service pledge, {{period}}.</p>
        <table>
        <thead><tr><th scope="col">You said</th><th scope="col">We plan to</th><th scope="col">We did</th></tr></thead>
        <tbody>
        {{#rows}}
        <tr id="{{key}}"><th scope="row">{{said}}</th><td class="promise">{{promise}}</td><td><p class="did">{{did}}</p>{{#also}}<p class="also">{{also}}</p>{{/also}}
        {{#chart}}<svg role="img" aria-label="{{label}}" width="{{width}}" height="{{height}}" viewBox="0 0 {{width}} {{height}}"><line x1="0" y1="{{baseY}}" x2="{{width}}" y2="{{baseY}}" stroke="#4c6272"/>{{#bars}}<rect x="{{x}}" y="{{y}}" width="{{w}}" height="{{h}}" fill="#005eb8"/><text x="{{labelX}}" y="{{valueY}}" text-anchor="middle" font-size="9" font-weight="bold" fill="#212b32">{{value}}</text><text x="{{labelX}}" y="{{monthY}}" text-anchor="middle" font-size="9" fill="#212b32">{{month}}</text>{{/bars}}</svg>{{/chart}}
        </td></tr>
        {{/rows}}
        {{#contacts}}
        <tr id="{{key}}"><td></td><td class="promise">{{promise}}</td><td><p class="did">{{did}}</p></td></tr>
        {{/contacts}}
        </tbody>
        </table>
        <p class="how"><strong>How we know:</strong> counted from touchpoint’s own record of every call and notice, as it was made, for the patients whose surgery or appointment fell in the period; a booking cancelled before its contact was due is not counted. No patient is named, and a number from 1 to 4 is shown as “fewer than 5”. Made {{made}}.</p>
        </body>
        </html>
        """#)
}
