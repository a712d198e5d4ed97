import Foundation
import Mustache
import TouchpointDomain

/// The pledge report as a manager reads it: at a terminal, in a spreadsheet,
/// on one printed page (with each promise month by month as a small chart
/// for a period of more than a month). The same HTML body goes into the web
/// view's `/report`.
public enum ReportFormat {
    
    static func period(_ r: PledgeReportView) -> String {
        r.from == r.to ? r.from : "\(r.from) to \(r.to)"
    }

    /// For an 80-column terminal: each promise in the pledge's words, its
    /// headline, its counts, a line per ward or clinic.
    public static func table(_ r: PledgeReportView, style: OutputStyle) -> String {
        var out = style.bold("Pledge report, \(period(r))\(r.ward.map { ", \($0)" } ?? "")") + "\n"
        for p in r.promises {
            out += "\n" + style.bold(wrap("“\(p.promise)”", 78)) + "\n"
            out += "  \(headlineWords(p.key)): \(p.headline.words)\n"
            if let d = p.delaysHeadline { out += "  delays notified in time: \(d.words)\n" }
            out += "  counted \(p.counted), excluded \(p.excluded)\n"
            let measures = p.key.categories + p.key.extras
            out += "  " + measures.map { "\($0.words) \(p.counts[$0.rawValue] ?? 0)" }.joined(separator: ", ") + "\n"
            for place in p.byWard.keys.sorted() {
                let c = p.byWard[place] ?? [:]
                let h = PledgeReportView.HeadlineView(PledgeResult.headline(p.key, counted: c[PledgeMeasure.counted.rawValue] ?? 0,
                                                                             PledgeReportView.measures(c)))
                out += "    \(place): \(h.words)\n"
            }
        }
        for c in r.contacts ?? [] {
            out += "\n" + style.bold("Contact \(c.name)\(c.list.map { " (the \($0) list)" } ?? "")") + "\n"
            out += "  \(c.list == nil ? "sent on time" : "called on the planned day"): \(c.headline.words)\n"
            out += "  counted \(c.counted), excluded \(c.excluded)\n"
            out += "  " + ContactResult.categories(c.list != nil).map { "\($0.words) \(c.counts[$0.rawValue] ?? 0)" }.joined(separator: ", ") + "\n"
        }
        if let l = r.list {
            out += "\n" + style.bold("\(l.measure): \(l.jobs.count) job(s)") + "\n"
            for j in l.jobs { out += "  \(j.job)  \(j.ref)  \(j.place ?? "-")  \(j.date)  \(j.state.rawValue)\n" }
        }
        return out
    }

    static func headlineWords(_ p: Pledge) -> String {
        switch p {
        case .checkinCall: return "called on the planned day"
        case .waitNotice: return "told the wait before surgery"
        case .openAccessInfo: return "information in time"
        }
    }

    static func wrap(_ s: String, _ width: Int) -> String {
        var lines: [String] = [], line = ""
        for word in s.split(separator: " ") {
            if line.count + word.count + 1 > width, !line.isEmpty { lines.append(line); line = "" }
            line += (line.isEmpty ? "" : " ") + word
        }
        return (lines + [line]).joined(separator: "\n")
    }

    /// `promise,ward,measure,value` rows (ward empty for the whole).
    public static func csv(_ r: PledgeReportView) -> String {
        var rows = ["promise,ward,measure,value"]
        func cell(_ s: String) -> String {
            var v = s
            if let f = v.first, "=+-@\t\r".contains(f) { v = "'" + v }
            return v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" }) ? "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : v
        }
        // One promise's or contact's whole: its counts, with counted and excluded.
        func whole(_ counts: [String: Int], counted: Int, excluded: Int) -> [String: Int] {
            counts.merging([PledgeMeasure.counted.rawValue: counted, PledgeMeasure.excluded.rawValue: excluded]) { _, n in n }
        }
        for p in r.promises {
            let measures = ([.counted, .excluded] + p.key.categories + p.key.extras).map(\.rawValue)
            let all = whole(p.counts, counted: p.counted, excluded: p.excluded)
            for m in measures { rows.append("\(p.key.rawValue),,\(m),\(all[m] ?? 0)") }
            for place in p.byWard.keys.sorted() {
                for m in measures { rows.append("\(p.key.rawValue),\(cell(place)),\(m),\(p.byWard[place]?[m] ?? 0)") }
            }
        }
        for c in r.contacts ?? [] {
            let all = whole(c.counts, counted: c.counted, excluded: c.excluded)
            for m in ([.counted, .excluded] + ContactResult.categories(c.list != nil)).map(\.rawValue) {
                rows.append("contact:\(c.name),,\(m),\(all[m] ?? 0)")
            }
        }
        return rows.joined(separator: "\r\n") + "\r\n"
    }

    /// The report's body (no page around it): each promise with its
    /// headline, a chart month by month when there is more than one month,
    /// its counts and its wards or clinics. Mustache escapes every value.
    public static func body(_ r: PledgeReportView) -> String {
        ReportPage.body.render(values(r))
    }

    /// One self-contained printable page.
    public static func html(_ r: PledgeReportView) -> String {
        var v = values(r)
        v["body"] = body(r)
        return ReportPage.page.render(v)
    }

    static func values(_ r: PledgeReportView) -> [String: Any] {
        let promises: [[String: Any]] = r.promises.map { p in
            let measures = p.key.categories + p.key.extras
            var v: [String: Any] = [
                "key": p.key.rawValue, "promise": p.promise, "headlineWords": headlineWords(p.key).prefix(1).uppercased() + headlineWords(p.key).dropFirst(),
                "headline": p.headline.words, "counted": p.counted, "excluded": p.excluded,
                "counts": measures.map { ["name": $0.words, "value": p.counts[$0.rawValue] ?? 0] },
                "placeWord": p.key.placeWord.capitalized, "placeLower": p.key.placeWord,
                "places": p.byWard.keys.sorted().map { place -> [String: Any] in
                    let c = p.byWard[place] ?? [:]
                    let counted = c[PledgeMeasure.counted.rawValue] ?? 0
                    let h = PledgeResult.headline(p.key, counted: counted, PledgeReportView.measures(c))
                    return ["name": place, "headline": PledgeReportView.HeadlineView(h).words, "counted": counted]
                },
            ]
            v["hasPlaces"] = !p.byWard.isEmpty
            if let d = p.delaysHeadline { v["delays"] = d.words }
            if let months = r.months { v["chart"] = chart(months, p.key) }
            return v
        }
        let contacts: [[String: Any]] = (r.contacts ?? []).map { c in
            ["name": c.name.replacingOccurrences(of: "_", with: " "), "list": c.list as Any, "headline": c.headline.words,
             "counted": c.counted, "excluded": c.excluded,
             "counts": ContactResult.categories(c.list != nil).map { "\($0.words) \(c.counts[$0.rawValue] ?? 0)" }.joined(separator: ", ")]
        }
        return ["title": "Pledge report, \(period(r))\(r.ward.map { ", \($0)" } ?? "")", "promises": promises,
                "generated": Timestamp.rfc3339(r.generatedAt), "contacts": contacts, "hasContacts": !contacts.isEmpty]
    }

    /// Each month's headline percentage as a bar, with its value written on
    /// it (the chart is read, not guessed at): inline SVG, no script.
    static func chart(_ months: [PledgeReportView.MonthView], _ p: Pledge) -> [String: Any] {
        let barWidth = 44, gap = 12, height = 110, top = 22
        let names = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
        let bars: [[String: Any]] = months.enumerated().map { i, m in
            let h = m.headlines[p.rawValue]
            let pct = h?.percent
            let barHeight = max(pct == nil ? 0 : 1, Int(((pct ?? 0) / 100 * Double(height)).rounded()))
            let x = i * (barWidth + gap)
            let monthNumber = Int(m.month.suffix(2)) ?? 1
            let label = names[max(0, min(11, monthNumber - 1))] + " " + m.month.prefix(4).suffix(2)
            return ["x": x, "y": top + height - barHeight, "h": barHeight, "w": barWidth, "labelX": x + barWidth / 2,
                    "valueY": top + height - barHeight - 5, "value": pct.map { "\(Int($0.rounded()))%" } ?? "none",
                    "month": label, "monthY": top + height + 16,
                    "title": "\(label): \(h?.words ?? "nothing counted")"]
        }
        return ["bars": bars, "width": max(1, months.count) * (barWidth + gap), "height": top + height + 24,
                "baseY": top + height, "topY": top, "topLabelY": top - 4,
                "label": "\(headlineWords(p).prefix(1).uppercased() + headlineWords(p).dropFirst()), month by month"]
    }
}

/// The report's templates, kept in code as the print page's are.
enum ReportPage {
    static func template(_ source: String) -> MustacheTemplate {
        do {
            return try MustacheTemplate(string: source)
        } catch {
            fatalError("a report template does not parse: \(error)")  // constants: the tests render them
        }
    }

    static let body = template(#"""
        {{#promises}}
        <section class="promise" aria-labelledby="p-{{key}}">
        <h2 id="p-{{key}}">“{{promise}}”</h2>
        <p class="headline"><strong>{{headlineWords}}: {{headline}}</strong>{{#delays}}<br>Delays notified in time: {{delays}}{{/delays}}</p>
        {{#chart}}
        <figure class="chart-figure">
        <svg class="chart" role="img" aria-label="{{label}}" width="{{width}}" height="{{height}}" viewBox="0 0 {{width}} {{height}}">
        <line x1="0" y1="{{topY}}" x2="{{width}}" y2="{{topY}}" stroke="#d8dde0" stroke-dasharray="4 3"/>
        <text x="{{width}}" y="{{topLabelY}}" text-anchor="end" font-size="10" fill="#4c6272">100%</text>
        <line x1="0" y1="{{baseY}}" x2="{{width}}" y2="{{baseY}}" stroke="#4c6272"/>
        {{#bars}}<g><title>{{title}}</title><rect x="{{x}}" y="{{y}}" width="{{w}}" height="{{h}}" fill="#005eb8"/><text x="{{labelX}}" y="{{valueY}}" text-anchor="middle" font-size="12" font-weight="bold" fill="#212b32">{{value}}</text><text x="{{labelX}}" y="{{monthY}}" text-anchor="middle" font-size="12" fill="#212b32">{{month}}</text></g>{{/bars}}
        </svg>
        <figcaption>{{label}}</figcaption>
        </figure>
        {{/chart}}
        <div class="tables">
        <table class="report-counts">
        <caption>What was counted</caption>
        <tbody>
        <tr><th scope="row">counted</th><td>{{counted}}</td></tr>
        <tr><th scope="row">excluded (cancelled before the contact was due)</th><td>{{excluded}}</td></tr>
        {{#counts}}<tr><th scope="row">{{name}}</th><td>{{value}}</td></tr>{{/counts}}
        </tbody>
        </table>
        {{#hasPlaces}}
        <table class="report-places">
        <caption>By {{placeLower}}</caption>
        <thead><tr><th scope="col">{{placeWord}}</th><th scope="col">Headline</th><th scope="col">Counted</th></tr></thead>
        <tbody>
        {{#places}}<tr><td>{{name}}</td><td>{{headline}}</td><td>{{counted}}</td></tr>{{/places}}
        </tbody>
        </table>
        {{/hasPlaces}}
        </div>
        </section>
        {{/promises}}
        {{#hasContacts}}
        <section class="promise" aria-labelledby="p-contacts">
        <h2 id="p-contacts">Contacts the breast care team added</h2>
        <table class="report-places">
        <caption>Each against its own time: sent on time, or called on the planned day</caption>
        <thead><tr><th scope="col">Contact</th><th scope="col">Headline</th><th scope="col">Counted</th><th scope="col">Counts</th></tr></thead>
        <tbody>
        {{#contacts}}<tr><td>{{name}}{{#list}}<br><span class="small">the {{list}} list</span>{{/list}}</td><td>{{headline}}</td><td>{{counted}}</td><td>{{counts}}</td></tr>{{/contacts}}
        </tbody>
        </table>
        </section>
        {{/hasContacts}}
        """#)

    static let page = template(#"""
        <!DOCTYPE html>
        <html lang="en-GB">
        <head>
        <meta charset="utf-8">
        <title>{{title}} – touchpoint</title>
        <style>
        @page { size: A4; margin: 14mm; }
        body { font-family: Arial, "Liberation Sans", sans-serif; font-size: 11pt; color: #212b32; margin: 0 auto; max-width: 190mm; padding: 6mm; }
        h1 { font-size: 18pt; margin: 0 0 2mm; }
        h2 { font-size: 12pt; font-weight: normal; font-style: italic; margin: 0 0 2mm; }
        .promise { border-top: 2px solid #005eb8; padding-top: 3mm; margin-top: 6mm; }
        .headline { font-size: 15pt; margin: 0 0 2mm; }
        .tables { display: flex; flex-wrap: wrap; gap: 4mm 12mm; align-items: flex-start; }
        figure { margin: 2mm 0 3mm; }
        figcaption { font-size: 9pt; color: #4c6272; }
        caption { text-align: left; font-weight: bold; padding-bottom: 1mm; }
        table { border-collapse: collapse; margin: 0 0 3mm; }
        th, td { text-align: left; padding: 1mm 3mm 1mm 0; border-bottom: 1px solid #d8dde0; font-weight: normal; }
        thead th { font-weight: bold; }
        td { text-align: right; }
        .report-places td:first-child { text-align: left; }
        .promise { page-break-inside: avoid; }
        .meta { font-size: 9pt; color: #4c6272; }
        .visually-hidden { position: absolute; width: 1px; height: 1px; overflow: hidden; clip: rect(0 0 0 0); }
        </style>
        </head>
        <body>
        <h1>{{title}}</h1>
        <p class="meta">touchpoint’s own records; made {{generated}}. Each number counts bookings as report.md defines it; no patient is named.</p>
        {{{body}}}
        </body>
        </html>
        """#)
}
