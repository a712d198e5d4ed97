import Mustache

/// The printable call list (`calls --format html`, the daily export, the web
/// view's print page): one self-contained A4 page. A Mustache template, so
/// every value is HTML-escaped by the renderer, not by hand. Kept in code:
/// `touchpointctl` is a single binary with no resource files.
public enum PrintPage {
    /// The page's one `<style>` element's text: the web view allows exactly
    /// it (by hash) in its Content-Security-Policy, and nothing inline else.
    public static var styleText: String {
        let start = source.range(of: "<style>")!.upperBound
        let end = source.range(of: "</style>")!.lowerBound
        return String(source[start..<end])
    }

    static let template: MustacheTemplate = {
        do {
            return try MustacheTemplate(string: source)
        } catch {
            fatalError("the print page template does not parse: \(error)")  // a build-time constant: the tests render it
        }
    }()

    static let source = #"""
        <!DOCTYPE html>
        <html lang="en-GB">
        <head>
        <meta charset="utf-8"/>
        <title>{{title}}</title>
        <style>
        @page { size: A4 landscape; margin: 12mm; }
        body { font-family: "DejaVu Sans", Arial, sans-serif; font-size: 11pt; color: #000; margin: 0; }
        h1 { font-size: 16pt; margin: 0 0 2mm 0; }
        p.meta { margin: 0 0 4mm 0; font-size: 10pt; }
        table { width: 100%; border-collapse: collapse; table-layout: fixed; }
        th, td { border: 1px solid #555; padding: 2mm; vertical-align: top; text-align: left; }
        th { background: #e8e8e8; font-size: 10pt; }
        thead { display: table-header-group; }
        tr { page-break-inside: avoid; }
        td.n { width: 6mm; text-align: right; }
        td.phone { white-space: nowrap; font-size: 12pt; }
        td.ticks { font-size: 10pt; white-space: nowrap; line-height: 1.6; }
        .t { display: inline-block; width: 50%; }
        .nowrap { white-space: nowrap; }
        td.wc { font-size: 10pt; }
        .small { font-size: 9pt; }
        .warn { border: 1mm solid #000; padding: 2mm; }
        .box { display: inline-block; width: 3.5mm; height: 3.5mm; border: 1px solid #000; margin-right: 1mm; vertical-align: -0.5mm; }
        tr.overdue .st, tr.esc .st { font-weight: bold; }
        tr.overdue td:first-child, tr.esc td:first-child { border-left: 2mm solid #000; }
        td.none { text-align: center; padding: 8mm; }
        .w4 { width: 4%; } .w9 { width: 9%; } .w13 { width: 13%; } .w16 { width: 16%; } .w21 { width: 21%; } .w24 { width: 24%; }
        </style>
        </head>
        <body>
        <h1>{{title}}</h1>
        <p class="meta">{{hospital}} · {{count}} patient(s) · overdue calls first · printed {{printed}}. Record each outcome in touchpoint as well.</p>
        {{#warnings}}<p class="warn"><strong>Warning:</strong> {{text}}</p>{{/warnings}}
        <table>
        <colgroup><col class="w4"/><col class="w16"/><col class="w13"/><col class="w13"/><col class="w21"/><col class="w9"/><col class="w24"/></colgroup>
        <thead><tr><th>#</th><th>Patient</th><th>Phone</th><th>Status</th><th>Outcome</th><th>Wound care</th><th>Notes, initials, time</th></tr></thead>
        <tbody>
        {{#rows}}
        <tr class="{{class}}">
        <td class="n">{{n}}</td>
        <td><strong>{{name}}</strong>{{#identity}}<br/><span class="small">{{identity}}</span>{{/identity}}{{#needs}}<br/><strong class="small">Needs: {{needs}}</strong>{{/needs}}<br/><span class="small">{{detail}}</span></td>
        <td class="phone">{{phone}}<br/><span class="small">voicemail {{#voicemail}}OK{{/voicemail}}{{^voicemail}}<strong>not OK</strong>{{/voicemail}}</span></td>
        <td><span class="st">{{status}}</span><br/><span class="small">tries so far: {{attempts}}{{#surgery}}<br/><span class="nowrap">surgery {{surgery}}</span>{{/surgery}}</span></td>
        <td class="ticks"><span class="t"><span class="box"></span> reached</span><span class="t"><span class="box"></span> no answer</span><br/><span class="t"><span class="box"></span> voicemail</span><span class="t"><span class="box"></span> busy</span><br/><span class="t"><span class="box"></span> wrong no.</span><span class="t"><span class="box"></span> declined</span></td>
        <td class="wc"><span class="box"></span> discussed</td>
        <td class="write"></td>
        </tr>
        {{/rows}}
        {{#empty}}
        <tr><td colspan="7" class="none">No calls on this list.</td></tr>
        {{/empty}}
        </tbody>
        </table>
        </body>
        </html>

        """#
}
