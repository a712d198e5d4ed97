import Foundation
import Mustache
import TouchpointDomain

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
    /// Who the patient is, to confirm on the phone: `YYYY-MM-DD`, and the
    /// NHS number's last three digits (the list never carries the whole number).
    public var birthDate: String?
    public var nhsNumberEnd: String?
    /// Communication needs in the words staff see ("Interpreter needed
    /// (pl)"), shown as tags; absent when there are none.
    public var needs: [String]?

    public init(job: JobView, patientName: String?, phone: String?, voicemailOK: Bool, procedure: String?,
                surgeryAt: Date?, lastAttemptAt: Date?, note: String?, birthDate: String? = nil, nhsNumberEnd: String? = nil,
                needs: [String]? = nil) {
        self.needs = needs
        self.birthDate = birthDate
        self.nhsNumberEnd = nhsNumberEnd
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
        case birthDate = "birth_date"
        case nhsNumberEnd = "nhs_number_end"
        case needs = "communication_needs"
    }

    public init(from decoder: Decoder) throws {
        job = try JobView(from: decoder)
        job.patientName = nil  // the entry's own `patient_name`, below
        job.outcomes = nil
        job.call = nil
        let c = try decoder.container(keyedBy: Extra.self)
        patientName = try c.decodeIfPresent(String.self, forKey: .patientName)
        phone = try c.decodeIfPresent(String.self, forKey: .phone)
        voicemailOK = try c.decodeIfPresent(Bool.self, forKey: .voicemailOK) ?? false
        procedure = try c.decodeIfPresent(String.self, forKey: .procedure)
        surgeryAt = try c.decodeIfPresent(Date.self, forKey: .surgeryAt)
        lastAttemptAt = try c.decodeIfPresent(Date.self, forKey: .lastAttemptAt)
        note = try c.decodeIfPresent(String.self, forKey: .note)
        birthDate = try c.decodeIfPresent(String.self, forKey: .birthDate)
        nhsNumberEnd = try c.decodeIfPresent(String.self, forKey: .nhsNumberEnd)
        needs = try c.decodeIfPresent([String].self, forKey: .needs)
    }

    public func encode(to encoder: Encoder) throws {
        try job.encode(to: encoder)
        var c = encoder.container(keyedBy: Extra.self)
        try c.encode(patientName, forKey: .patientName)
        try c.encode(phone, forKey: .phone)
        try c.encode(voicemailOK, forKey: .voicemailOK)
        try c.encode(procedure, forKey: .procedure)
        try c.encode(birthDate, forKey: .birthDate)
        try c.encode(nhsNumberEnd, forKey: .nhsNumberEnd)
        try c.encodeIfPresent(needs, forKey: .needs)
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
    /// The hospital's zone: the list's times are shown in it, whatever the
    /// zone of the machine that prints them.
    public var timeZone: String?
    /// `calls.max_attempts`: how many tries before a call goes to the breast
    /// care nurse (the web view shows "tries 2 of 3").
    public var maxAttempts: Int?
    /// A configured worklist (`contacts.md`); nil for the check-in calls.
    public var list: String?
    /// The configured worklists there are, to offer beside this one.
    public var lists: [String]?
    /// True for the unassigned list: the day's calls of wards none of
    /// `calls.wards` names (absent otherwise).
    public var unassigned: Bool?
    public var calls: [CallEntry]

    public init(date: String?, ward: String?, escalated: Bool, hospital: String, timeZone: String?, maxAttempts: Int? = nil,
                list: String? = nil, lists: [String]? = nil, unassigned: Bool? = nil, calls: [CallEntry]) {
        self.unassigned = unassigned
        self.list = list
        self.lists = lists
        self.maxAttempts = maxAttempts
        self.date = date
        self.ward = ward
        self.escalated = escalated
        self.hospital = hospital
        self.timeZone = timeZone
        self.calls = calls
    }

    enum CodingKeys: String, CodingKey {
        case date, ward, escalated, hospital, calls, list, lists, unassigned
        case timeZone = "time_zone"
        case maxAttempts = "max_attempts"
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(date, forKey: .date)
        try c.encode(ward, forKey: .ward)
        try c.encode(escalated, forKey: .escalated)
        try c.encode(hospital, forKey: .hospital)
        try c.encodeIfPresent(list, forKey: .list)
        try c.encodeIfPresent(lists, forKey: .lists)
        try c.encodeIfPresent(maxAttempts, forKey: .maxAttempts)
        try c.encode(timeZone, forKey: .timeZone)
        try c.encodeIfPresent(unassigned, forKey: .unassigned)
        try c.encode(calls, forKey: .calls)
    }

    /// The zone to show this list's times in: the hospital's, else this machine's.
    public var clock: HospitalClock { HospitalClock.named(timeZone) }
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

    /// Who the patient is, to confirm on the phone: "born 14 March 1961,
    /// NHS number ending 919"; nil when the hospital sent neither.
    public static func identity(birthDate: String?, nhsNumberEnd: String?) -> String? {
        let parts = [birthDate.flatMap(LocalDate.init(iso:)).map { "born \($0.birthText)" }, nhsNumberEnd.map { "NHS number ending \($0)" }]
            .compactMap { $0 }
        return parts.isEmpty ? nil : parts.joined(separator: ", ")
    }

    /// An escalated call's age and who has it: ("escalated 3 h 10 min ago",
    /// "alice via web"); the owner nil while nobody has taken it.
    public static func escalation(_ job: JobView, now: Date) -> (age: String, takenBy: String?) {
        (job.escalatedAt.map { "escalated \(EscalationAge.words(now.timeIntervalSince($0))) ago" } ?? JobState.escalated.rawValue, job.takenBy)
    }

    static func title(_ r: CallsReport) -> String {
        let calls = r.list.map { "calls on the \($0) list" } ?? "check-in calls"
        var t = r.escalated ? "Escalated \(r.list == nil ? "calls" : calls) (breast care nurse)"
            : r.unassigned == true ? "Unassigned check-in calls (wards none of calls.wards names)" : calls.prefix(1).uppercased() + calls.dropFirst()
        if let d = r.date, let ld = LocalDate(iso: d) { t += " for " + ld.longText }
        if let w = r.ward { t += ", \(w)" }
        return t
    }

    /// The status for the terminal's table (`CallStatus`, said in capitals where it needs the eye).
    static func status(_ c: CallEntry, _ clock: HospitalClock, listDay: LocalDate? = nil) -> String {
        switch CallStatus(c.job, listDay: listDay, clock: clock) {
        case .carried(let to): return "NOT MADE: carried to \(clock.localDate(of: to).shortText)"
        case .escalated: return "ESCALATED"
        case .overdue(let since): return "OVERDUE since \(since)"
        case .retry(let at): return "retry \(clock.hhmm(at))"
        case .due(let at): return "due \(clock.hhmm(at))"
        case .done(let o): return "done\(o.map { ": \($0.words)" } ?? "")"
        case .closed(let s): return s.rawValue
        }
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
        let listDay = r.date.flatMap(LocalDate.init(iso:))
        out += style.bold(pad("JOB", 18) + "  " + pad("PATIENT", 20) + "  " + pad("PHONE", 13) + "  " + pad("VOICEMAIL", 9) + "  TRIES") + "\n"
        for c in r.calls {
            out += pad(c.job.id, 18) + "  " + pad(c.patientName ?? c.job.patientID, 20) + "  " + pad(dialable(c.phone), 13) + "  "
                + pad(c.voicemailOK ? "ok" : "not ok", 9) + "  " + String(c.job.attempts) + "\n"
            var detail = status(c, style.clock, listDay: listDay)
            if let who = identity(birthDate: c.birthDate, nhsNumberEnd: c.nhsNumberEnd) { detail += " · \(who)" }
            if let p = c.procedure { detail += " · \(p)" }

            if let w = c.job.ward, r.ward == nil { detail += " · \(w)" }
            let line = "  " + fit(detail, 78)
            out += (c.isOverdue || c.job.state == .escalated ? style.warn(line) : line) + "\n"
            // Communication needs, on a line of their own so that none is cut off.
            if let needs = c.needs, !needs.isEmpty { out += style.bold("  needs: " + needs.joined(separator: " · ")) + "\n" }
            if c.job.state == .escalated {
                // Its age and who has it, on a line of its own (never cut short).
                let (age, takenBy) = escalation(c.job, now: Date())
                let owner = "  " + age + (takenBy.map { ", taken by \($0)" } ?? ", NOT TAKEN: touchpointctl take \(c.job.id)")
                out += (takenBy == nil ? style.warn(owner) : owner) + "\n"
            }
            // A concern to follow up says what it is (the nurse's words; never logged).
            if let concern = c.job.concern { out += "  concern: " + fit(concern, 69) + "\n" }
        }
        let overdue = r.calls.filter(\.isOverdue).count
        out += "\(r.calls.count) call(s)\(overdue > 0 ? ", \(overdue) overdue" : "")\n"
        out += "record what happened: touchpointctl outcome JOB OUTCOME (see its --help)\n"
        return out
    }

    /// RFC 4180 CSV with a UTF-8 byte order mark, so a spreadsheet opens it
    /// with names intact; cells that a spreadsheet would run as a formula are
    /// prefixed with an apostrophe.
    public static func csv(_ r: CallsReport, clock: HospitalClock) -> String {
        func cell(_ s: String) -> String {
            var v = s
            if let f = v.first, "=+-@\t\r".contains(f) { v = "'" + v }
            if v.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) {
                v = "\"" + v.replacingOccurrences(of: "\"", with: "\"\"") + "\""
            }
            return v
        }
        var lines = [["job", "ward", "patient", "born", "nhs_number_ends", "communication_needs", "phone", "voicemail_ok", "procedure", "surgery", "due", "state", "overdue_since", "attempts", "last_attempt", "done", "outcome", "notes"].joined(separator: ",")]
        for c in r.calls {
            let fields = [c.job.id, c.job.ward ?? "", c.patientName ?? "", c.birthDate ?? "", c.nhsNumberEnd ?? "", (c.needs ?? []).joined(separator: "; "), dialable(c.phone), c.voicemailOK ? "yes" : "no",
                          c.procedure ?? "", c.surgeryAt.map(clock.stamp) ?? "", clock.stamp(c.job.dueAt), c.job.state.rawValue,
                          c.job.overdueSince ?? "", String(c.job.attempts), c.lastAttemptAt.map(clock.stamp) ?? "",
                          "", "", ""]
            lines.append(fields.map(cell).joined(separator: ","))
        }
        return "\u{FEFF}" + lines.joined(separator: "\r\n") + "\r\n"
    }

    /// One self-contained page (no scripts, no external files) that prints on A4:
    /// the ward, the date, a row per patient, boxes to tick and space to write.
    /// Rendered from `PrintPage.template`; Mustache escapes every value.
    /// `warnings`: what touchpointd warned of when it was printed (a list
    /// that may be incomplete says so on paper too).
    public static func html(_ r: CallsReport, clock: HospitalClock, generatedAt: Date = Date(), warnings: [String] = []) -> String {
        let listDay = r.date.flatMap(LocalDate.init(iso:))
        let rows: [[String: Any]] = r.calls.enumerated().map { i, c in
            [
                "n": i + 1, "name": c.patientName ?? c.job.patientID,
                "identity": identity(birthDate: c.birthDate, nhsNumberEnd: c.nhsNumberEnd) ?? "",
                "needs": (c.needs ?? []).joined(separator: " · "),
                "detail": [r.ward == nil ? c.job.ward : nil, c.procedure].compactMap { $0 }.joined(separator: " · "),
                "phone": dialable(c.phone), "voicemail": c.voicemailOK, "status": status(c, clock, listDay: listDay), "attempts": c.job.attempts,
                "surgery": c.surgeryAt.map(clock.shortDay) ?? "", "class": c.job.state == .escalated ? "esc" : c.isOverdue ? "overdue" : "",
            ]
        }
        let values: [String: Any] = ["title": title(r), "hospital": r.hospital, "count": r.calls.count, "printed": clock.dateAndTime(generatedAt),
                                     "rows": rows, "empty": r.calls.isEmpty, "warnings": warnings.map { ["text": $0] }]
        return PrintPage.template.render(values)
    }
}

/// Where a call stands, derived once from its job for every front end: the
/// terminal's table says it in capitals, the web view's tag in a sentence
/// (before, each derived it on its own, and the two could disagree).
public enum CallStatus: Equatable, Sendable {
    case escalated
    case done(CallOutcome?)
    /// Cancelled, expired or suppressed: off the list.
    case closed(JobState)
    /// Due on an earlier day and not yet made (`YYYY-MM-DD`, as the wire gives it).
    case overdue(since: String)
    /// Tried, and due again at this time.
    case retry(at: Date)
    case due(at: Date)
    /// Not made on the list's day: carried to a later open day (the list
    /// of a day whose window has closed still shows its unfinished calls).
    case carried(to: Date)

    /// `listDay`: the day of the list the call is shown on, if it is a day's.
    public init(_ job: JobView, listDay: LocalDate? = nil, clock: HospitalClock? = nil) {
        if let listDay, let clock, job.state.isPending, job.overdueSince == listDay.description, clock.localDate(of: job.dueAt) > listDay {
            self = .carried(to: job.dueAt)
            return
        }
        switch job.state {
        case .escalated: self = .escalated
        case .done: self = .done(job.outcome)
        case .cancelled, .expired, .suppressed: self = .closed(job.state)
        default:
            if let since = job.overdueSince { self = .overdue(since: since) }
            else if job.state == .scheduled && job.attempts > 0 { self = .retry(at: job.dueAt) }
            else { self = .due(at: job.dueAt) }
        }
    }
}
