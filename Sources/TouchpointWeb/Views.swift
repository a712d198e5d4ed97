import Foundation
import TouchpointControl
import TouchpointDomain

/// What the pages show, worked out from the daemon's replies: plain values
/// for the templates, in the hospital's zone (never the server's or the
/// browser's), status in words as well as colour.
enum Views {
    /// A call's status tag: text and the class that colours it.
    struct Status {
        var text: String
        var cssClass: String
        var tries: String?
    }

    static func status(_ job: JobView, maxAttempts: Int?, clock: HospitalClock, today: LocalDate, listDay: LocalDate? = nil) -> Status {
        let tries = job.attempts > 0 ? "tries \(job.attempts)\(maxAttempts.map { " of \($0)" } ?? "")" : nil
        // The one derivation (`CallStatus`), said as the tag says it.
        switch CallStatus(job, listDay: listDay, clock: clock) {
        case .carried(let to):
            return Status(text: "Not made: carried to \(clock.localDate(of: to).spoken(today: today))", cssClass: "tag-overdue", tries: tries)
        case .escalated:
            return Status(text: "Escalated", cssClass: "tag-escalated", tries: tries)
        case .done(let outcome):
            return Status(text: "Done\(outcome.map { ": \($0.words)" } ?? "")", cssClass: "tag-closed", tries: tries)
        case .closed(let state):
            return Status(text: state.rawValue.capitalized, cssClass: "tag-closed", tries: tries)
        case .overdue(let since):
            let day = LocalDate(iso: since).map { $0.spoken(today: today) } ?? since
            return Status(text: "Overdue since \(day)", cssClass: "tag-overdue", tries: tries)
        case .retry(let at):
            return Status(text: "Try again \(clock.hhmm(at))", cssClass: "tag-retry", tries: tries)
        case .due(let at):
            return Status(text: "Due \(clock.hhmm(at))", cssClass: "tag-due", tries: tries)
        }
    }

    /// The address of a call's page: its job id as one path segment, every
    /// byte but the unreserved ones percent-encoded (a space, `%`, `/`, `?`,
    /// `#`, any non-ASCII letter), so the route decodes exactly the id
    /// (`WebApp.jobID`).
    static let hexDigits = Array("0123456789ABCDEF".unicodeScalars)

    static func callPath(_ jobID: String) -> String {
        var out = "/calls/"
        for b in jobID.utf8 {
            switch b {
            case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
                 UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                out.unicodeScalars.append("%")
                out.unicodeScalars.append(hexDigits[Int(b >> 4)])
                out.unicodeScalars.append(hexDigits[Int(b & 0xF)])
            }
        }
        return out
    }

    /// `tel:` wants the number as dialled: E.164 as stored.
    static func tel(_ phone: String?) -> String { phone?.filter { $0 == "+" || $0.isNumber } ?? "" }

    static func outcomeLabel(_ o: CallOutcome) -> String {
        switch o {
        case .reached: return "Reached the patient"
        case .noAnswer: return "No answer"
        case .voicemailLeft: return "Left a voicemail"
        case .busy: return "Line busy"
        case .wrongNumber: return "Wrong number (goes to the breast care nurse)"
        case .declined: return "Patient declined the call"
        case .notRequired: return "Call not required (say why in the note)"
        }
    }

    /// An escalated call's age and owner: "Escalated 3 h 10 min ago; taken
    /// by alice via web" or "...; nobody has taken it yet".
    static func escalationText(_ job: JobView, now: Date) -> String {
        let (age, takenBy) = CallListFormat.escalation(job, now: now)
        return age.prefix(1).uppercased() + age.dropFirst() + (takenBy.map { "; taken by \($0)" } ?? "; nobody has taken it yet")
    }

    /// One row of a call list.
    static func row(_ c: CallEntry, maxAttempts: Int?, clock: HospitalClock, today: LocalDate, listDay: LocalDate? = nil) -> [String: Any] {
        let s = status(c.job, maxAttempts: maxAttempts, clock: clock, today: today, listDay: listDay)
        var row: [String: Any] = [
            "name": c.patientName ?? "Name not given (\(c.job.patientID))", "callPath": Views.callPath(c.job.id),
            "phone": CallListFormat.dialable(c.phone), "tel": tel(c.phone), "voicemail": c.voicemailOK ? "OK" : "not OK",
            "voicemailOK": c.voicemailOK,
            "tag": s.text, "tagClass": s.cssClass, "ward": c.job.ward ?? "no ward",
        ]
        if let t = s.tries { row["tries"] = t }
        if c.job.kind == .concernFollowUp { row["tag"] = "Concern to follow up" }
        if c.job.state == .escalated { row["tries"] = [s.tries, escalationText(c.job, now: Date())].compactMap { $0 }.joined(separator: "; ") }
        if let p = c.procedure { row["procedure"] = p }
        if let who = CallListFormat.identity(birthDate: c.birthDate, nhsNumberEnd: c.nhsNumberEnd) { row["identity"] = who }
        if let needs = c.needs, !needs.isEmpty { row["needs"] = needs }
        return row
    }

    /// Calls of several lists (an account's wards) in the order a nurse
    /// works: overdue first, then by due time. One list is in that order already.
    static func merged(_ lists: [CallsReport]) -> [CallEntry] {
        guard lists.count > 1 else { return lists.first?.calls ?? [] }
        return lists.flatMap(\.calls).sorted { a, b in
            if a.isOverdue != b.isOverdue { return a.isOverdue }
            if a.job.dueAt != b.job.dueAt { return a.job.dueAt < b.job.dueAt }
            return a.job.id < b.job.id
        }
    }

    /// The same for rendered rows.
    static func merged(_ lists: [RenderedList]) -> [RenderedRow] {
        guard lists.count > 1 else { return lists.first?.rows ?? [] }
        return lists.flatMap(\.rows).sorted { a, b in
            if a.overdue != b.overdue { return a.overdue }
            if a.dueAt != b.dueAt { return a.dueAt < b.dueAt }
            return a.id < b.id
        }
    }
}

/// A form field's error, linked from the error summary.
struct FieldError {
    var field: String
    var message: String

    var values: [String: Any] { ["field": field, "message": message] }
}

/// The web view's own ways of writing a time, beside the domain's
/// (`WallClockText`): the same British English words, in the hospital's zone
/// (the one each reply names, `HospitalClock.named`), never the server's or
/// the browser's.
extension HospitalClock {
    /// "Fri 27 Nov 2026, 14:05"
    func pageTime(_ instant: Date) -> String {
        let t = localDateTime(of: instant)
        return "\(t.date.shortText) \(t.date.year), \(t.time.hhmm)"
    }

    func today(_ now: Date = Date()) -> LocalDate { localDate(of: now) }
}

extension LocalDate {
    /// A past day as a nurse says it: the weekday within the last week, else "26 Nov".
    func spoken(today: LocalDate) -> String {
        today.daysSinceEpoch - daysSinceEpoch < 7 ? String(weekdayName.prefix(3)) : "\(day) \(monthName.prefix(3))"
    }
}
