import Foundation
import Synchronization

/// One call on the list: the job's fields plus what a nurse needs to make it.
public struct CallEntry: Codable, Equatable, Sendable {
    public var job: JobView
    public var patientName: String?
    public var phone: String?
    public var voicemailOK: Bool
    public var procedure: String?
    public var surgeryAt: Date?
    public var lastAttemptAt: Date?
    public var note: String?

    public init(job: JobView, patientName: String?, phone: String?, voicemailOK: Bool, procedure: String?,
                surgeryAt: Date?, lastAttemptAt: Date?, note: String?) {
        self.job = job
        self.patientName = patientName
        self.phone = phone
        self.voicemailOK = voicemailOK
        self.procedure = procedure
        self.surgeryAt = surgeryAt
        self.lastAttemptAt = lastAttemptAt
        self.note = note
    }

    enum Extra: String, CodingKey {
        case patientName = "patient_name"
        case phone
        case voicemailOK = "voicemail_ok"
        case procedure
        case surgeryAt = "surgery_at"
        case lastAttemptAt = "last_attempt_at"
        case note
    }

    public init(from decoder: Decoder) throws {
        job = try JobView(from: decoder)
        let c = try decoder.container(keyedBy: Extra.self)
        patientName = try c.decodeIfPresent(String.self, forKey: .patientName)
        phone = try c.decodeIfPresent(String.self, forKey: .phone)
        voicemailOK = try c.decodeIfPresent(Bool.self, forKey: .voicemailOK) ?? false
        procedure = try c.decodeIfPresent(String.self, forKey: .procedure)
        surgeryAt = try c.decodeIfPresent(Date.self, forKey: .surgeryAt)
        lastAttemptAt = try c.decodeIfPresent(Date.self, forKey: .lastAttemptAt)
        note = try c.decodeIfPresent(String.self, forKey: .note)
    }

    public func encode(to encoder: Encoder) throws {
        try job.encode(to: encoder)
        var c = encoder.container(keyedBy: Extra.self)
        try c.encode(patientName, forKey: .patientName)
        try c.encode(phone, forKey: .phone)
        try c.encode(voicemailOK, forKey: .voicemailOK)
        try c.encode(procedure, forKey: .procedure)
        try c.encode(surgeryAt, forKey: .surgeryAt)
        try c.encode(lastAttemptAt, forKey: .lastAttemptAt)
        try c.encode(note, forKey: .note)
    }

    public var isOverdue: Bool { job.overdueSince != nil }
}

/// `calls`: `{"date","ward","calls":[...]}`.
public struct CallsReport: Codable, Equatable, Sendable {
    /// `YYYY-MM-DD`, or nil for the escalated list.
    public var date: String?
    public var ward: String?
    public var escalated: Bool
    public var hospital: String
    public var calls: [CallEntry]

    public init(date: String?, ward: String?, escalated: Bool, hospital: String, calls: [CallEntry]) {
        self.date = date
        self.ward = ward
        self.escalated = escalated
        self.hospital = hospital
        self.calls = calls
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(date, forKey: .date)
        try c.encode(ward, forKey: .ward)
        try c.encode(escalated, forKey: .escalated)
        try c.encode(hospital, forKey: .hospital)
        try c.encode(calls, forKey: .calls)
    }
}

/// The call list as a nurse reads it: on screen, in a spreadsheet, on paper.
public enum CallListFormat {
    /// A phone number for dialling from a UK ward: `07700 900123`; others stay E.164.
    public static func dialable(_ e164: String?) -> String {
        guard let p = e164 else { return "no number" }
        if p.hasPrefix("+44"), p.count == 13 {
            let national = "0" + p.dropFirst(3)
            return String(national.prefix(5)) + " " + String(national.dropFirst(5))
        }
        return p
    }

    /// Formatters are costly to make: one set per zone, reused for every row.
    final class Formatters: @unchecked Sendable {
        // @unchecked: read-only after init; DateFormatter.string(from:) is used
        // from one thread at a time (one render).
        let time: DateFormatter
        let day: DateFormatter
        let stamp: DateFormatter
        let dayTime: DateFormatter
        let dayTimeYear: DateFormatter
        let calendar: Calendar

        init(_ tz: TimeZone) {
            func make(_ format: String) -> DateFormatter {
                let f = DateFormatter()
                f.timeZone = tz
                f.locale = Locale(identifier: "en_GB")
                f.dateFormat = format
                return f
            }
            time = make("HH:mm")
            day = make("EEE d MMM")
            stamp = make("yyyy-MM-dd HH:mm")
            dayTime = make("EEE d MMM HH:mm")
            dayTimeYear = make("EEE d MMM yyyy HH:mm")
            var cal = Calendar(identifier: .gregorian)
            cal.timeZone = tz
            calendar = cal
        }

        private static let cache = Mutex<[String: Formatters]>([:])
        static func `for`(_ tz: TimeZone) -> Formatters {
            cache.withLock { c in
                if let f = c[tz.identifier] { return f }
                let f = Formatters(tz)
                c[tz.identifier] = f
                return f
            }
        }
    }

    static func time(_ d: Date, _ tz: TimeZone) -> String { Formatters.for(tz).time.string(from: d) }

    static func day(_ d: Date, _ tz: TimeZone) -> String { Formatters.for(tz).day.string(from: d) }

    static func title(_ r: CallsReport) -> String {
        var t = r.escalated ? "Escalated check-in calls (breast care nurse)" : "Check-in calls"
        if let d = r.date, let ld = LocalDate(iso: d) {
            let f = DateFormatter()
            f.locale = Locale(identifier: "en_GB")
            f.timeZone = TimeZone(secondsFromGMT: 0)
            f.dateFormat = "EEEE d MMMM yyyy"
            t += " for " + f.string(from: Date(timeIntervalSince1970: TimeInterval(ld.daysSinceEpoch * 86_400)))
        }
        if let w = r.ward { t += ", \(w)" }
        return t
    }

    static func status(_ c: CallEntry, _ tz: TimeZone) -> String {
        if c.job.state == "escalated" { return "ESCALATED" }
        if let o = c.job.overdueSince { return "OVERDUE since \(o)" }
        if c.job.state == "scheduled" && c.job.attempts > 0 { return "retry \(time(c.job.dueAt, tz))" }
        return "due \(time(c.job.dueAt, tz))"
    }

    static func fit(_ s: String, _ width: Int) -> String {
        s.count <= width ? s : String(s.prefix(max(0, width - 1))) + "…"
    }

    /// A table for an 80-column terminal, in the order a nurse works: overdue
    /// first, then by due time. Each call takes two lines: who to ring, then
    /// its status, procedure and ward.
    public static func table(_ r: CallsReport, style: OutputStyle) -> String {
        var out = style.bold(title(r)) + "\n"
        if r.calls.isEmpty { return out + "no calls\n" }
        // 18 + 2 + 20 + 2 + 13 + 2 + 9 + 2 + 5 = 73 columns.
        func pad(_ s: String, _ w: Int) -> String { fit(s, w).padding(toLength: w, withPad: " ", startingAt: 0) }
        out += style.bold(pad("JOB", 18) + "  " + pad("PATIENT", 20) + "  " + pad("PHONE", 13) + "  " + pad("VOICEMAIL", 9) + "  TRIES") + "\n"
        for c in r.calls {
            out += pad(c.job.id, 18) + "  " + pad(c.patientName ?? c.job.patientID, 20) + "  " + pad(dialable(c.phone), 13) + "  "
                + pad(c.voicemailOK ? "ok" : "not ok", 9) + "  " + String(c.job.attempts) + "\n"
            var detail = status(c, style.timeZone)
            if let p = c.procedure { detail += " · \(p)" }
            if let w = c.job.ward, r.ward == nil { detail += " · \(w)" }
            let line = "  " + fit(detail, 78)
            out += (c.isOverdue || c.job.state == "escalated" ? style.warn(line) : line) + "\n"
        }
        let overdue = r.calls.filter(\.isOverdue).count
        out += "\(r.calls.count) call(s)\(overdue > 0 ? ", \(overdue) overdue" : "")\n"
        out += "record what happened: touchpointctl outcome JOB OUTCOME (see its --help)\n"
        return out
    }

    /// RFC 4180 CSV with a UTF-8 byte order mark, so a spreadsheet opens it
    /// with names intact; cells that a spreadsheet would run as a formula are
    /// prefixed with an apostrophe.
    public static func csv(_ r: CallsReport, timeZone tz: TimeZone) -> String {
        func cell(_ s: String) -> String {
            var v = s
            if let f = v.first, "=+-@\t\r".contains(f) { v = "'" + v }
            if v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
                v = "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            }
            return v
        }
        var lines = [["job", "ward", "patient", "phone", "voicemail_ok", "procedure", "surgery", "due", "state", "overdue_since", "attempts", "last_attempt", "done", "outcome", "notes"].joined(separator: ",")]
        let df = Formatters.for(tz).stamp
        for c in r.calls {
            let fields = [c.job.id, c.job.ward ?? "", c.patientName ?? "", dialable(c.phone), c.voicemailOK ? "yes" : "no",
                          c.procedure ?? "", c.surgeryAt.map(df.string(from:)) ?? "", df.string(from: c.job.dueAt), c.job.state,
                          c.job.overdueSince ?? "", String(c.job.attempts), c.lastAttemptAt.map(df.string(from:)) ?? "",
                          "", "", ""]
            lines.append(fields.map(cell).joined(separator: ","))
        }
        return "\u{FEFF}" + lines.joined(separator: "\r\n") + "\r\n"
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    /// One self-contained page (no scripts, no external files) that prints on A4:
    /// the ward, the date, a row per patient, boxes to tick and space to write.
    public static func html(_ r: CallsReport, timeZone tz: TimeZone, generatedAt: Date = Date()) -> String {
        let t = escape(title(r))
        var rows = ""
        for (i, c) in r.calls.enumerated() {
            let st = escape(status(c, tz))
            let cls = c.job.state == "escalated" ? "esc" : c.isOverdue ? "overdue" : ""
            rows += """
                <tr class="\(cls)">
                <td class="n">\(i + 1)</td>
                <td><strong>\(escape(c.patientName ?? c.job.patientID))</strong><br/><span class="small">\([r.ward == nil ? c.job.ward : nil, c.procedure].compactMap { $0 }.map(escape).joined(separator: " · "))</span></td>
                <td class="phone">\(escape(dialable(c.phone)))<br/><span class="small">voicemail \(c.voicemailOK ? "OK" : "<strong>not OK</strong>")</span></td>
                <td><span class="st">\(st)</span><br/><span class="small">tries so far: \(c.job.attempts)\(c.surgeryAt.map { "<br/><span class=\"nowrap\">surgery \(escape(day($0, tz)))</span>" } ?? "")</span></td>
                <td class="ticks"><span class="t"><span class="box"></span> reached</span><span class="t"><span class="box"></span> no answer</span><br/><span class="t"><span class="box"></span> voicemail</span><span class="t"><span class="box"></span> busy</span><br/><span class="t"><span class="box"></span> wrong no.</span><span class="t"><span class="box"></span> declined</span></td>
                <td class="wc"><span class="box"></span> discussed</td>
                <td class="write"></td>
                </tr>

                """
        }
        if r.calls.isEmpty {
            rows = "<tr><td colspan=\"7\" class=\"none\">No calls on this list.</td></tr>\n"
        }
        let f = DateFormatter()
        f.timeZone = tz
        f.locale = Locale(identifier: "en_GB")
        f.dateFormat = "d MMM yyyy HH:mm"
        return """
            <!DOCTYPE html>
            <html lang="en-GB">
            <head>
            <meta charset="utf-8"/>
            <title>\(t)</title>
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
            .box { display: inline-block; width: 3.5mm; height: 3.5mm; border: 1px solid #000; margin-right: 1mm; vertical-align: -0.5mm; }
            tr.overdue .st, tr.esc .st { font-weight: bold; }
            tr.overdue td:first-child, tr.esc td:first-child { border-left: 2mm solid #000; }
            td.none { text-align: center; padding: 8mm; }
            </style>
            </head>
            <body>
            <h1>\(t)</h1>
            <p class="meta">\(escape(r.hospital)) · \(r.calls.count) patient(s) · overdue calls first · printed \(escape(f.string(from: generatedAt))). Record each outcome in touchpoint as well.</p>
            <table>
            <colgroup><col style="width:4%"/><col style="width:16%"/><col style="width:13%"/><col style="width:13%"/><col style="width:21%"/><col style="width:9%"/><col style="width:24%"/></colgroup>
            <thead><tr><th>#</th><th>Patient</th><th>Phone</th><th>Status</th><th>Outcome</th><th>Wound care</th><th>Notes, initials, time</th></tr></thead>
            <tbody>
            \(rows)</tbody>
            </table>
            </body>
            </html>

            """
    }
}

import TouchpointDomain
