import Foundation
import TouchpointControl
import TouchpointDomain

/// What the pages show, worked out from the daemon's replies: plain values
/// for the templates, in the hospital's zone (never the server's or the
/// browser's), status in words as well as colour.
enum Views {
    /// Formatters in the hospital's zone, en-GB.
    struct Clock {
        let zone: TimeZone
        private let time: DateFormatter
        private let weekday: DateFormatter
        private let dayMonth: DateFormatter
        private let full: DateFormatter
        private let longDay: DateFormatter

        init(_ zone: TimeZone) {
            self.zone = zone
            func make(_ format: String, _ tz: TimeZone) -> DateFormatter {
                let f = DateFormatter()
                f.locale = Locale(identifier: "en_GB")
                f.timeZone = tz
                f.dateFormat = format
                return f
            }
            time = make("HH:mm", zone)
            weekday = make("EEE", zone)
            dayMonth = make("d MMM", zone)
            full = make("EEE d MMM yyyy, HH:mm", zone)
            longDay = make("EEEE d MMMM yyyy", TimeZone(secondsFromGMT: 0)!)
        }

        func hhmm(_ d: Date) -> String { time.string(from: d) }
        func stamp(_ d: Date) -> String { full.string(from: d) }

        /// "Friday 27 November 2026" for a hospital calendar day.
        func long(_ day: LocalDate) -> String {
            longDay.string(from: Date(timeIntervalSince1970: TimeInterval(day.daysSinceEpoch * 86_400)))
        }

        /// A past day as a nurse says it: the weekday within the last week, else "26 Nov".
        func since(_ day: LocalDate, today: LocalDate) -> String {
            let noon = Date(timeIntervalSince1970: TimeInterval(day.daysSinceEpoch * 86_400 + 43_200))
            let f = today.daysSinceEpoch - day.daysSinceEpoch < 7 ? weekday : dayMonth
            f.timeZone = TimeZone(secondsFromGMT: 0)
            return f.string(from: noon)
        }

        func today(_ now: Date = Date()) -> LocalDate {
            var cal = Calendar(identifier: .gregorian)
            cal.timeZone = zone
            let c = cal.dateComponents([.year, .month, .day], from: now)
            return LocalDate(year: c.year!, month: c.month!, day: c.day!)
        }
    }

    /// A call's status tag: text and the class that colours it.
    struct Status {
        var text: String
        var cssClass: String
        var tries: String?
    }

    static func status(_ job: JobView, maxAttempts: Int?, clock: Clock, today: LocalDate) -> Status {
        let tries = job.attempts > 0 ? "tries \(job.attempts)\(maxAttempts.map { " of \($0)" } ?? "")" : nil
        switch job.state {
        case .escalated:
            return Status(text: "Escalated", cssClass: "tag-escalated", tries: tries)
        case .done:
            return Status(text: "Done\(job.outcome.map { ": \($0.words)" } ?? "")", cssClass: "tag-closed", tries: tries)
        case .cancelled, .expired, .suppressed:
            return Status(text: job.state.rawValue.capitalized, cssClass: "tag-closed", tries: tries)
        default:
            if let since = job.overdueSince.flatMap(LocalDate.init(iso:)) {
                return Status(text: "Overdue since \(clock.since(since, today: today))", cssClass: "tag-overdue", tries: tries)
            }
            if job.state == .scheduled && job.attempts > 0 {
                return Status(text: "Try again \(clock.hhmm(job.dueAt))", cssClass: "tag-retry", tries: tries)
            }
            return Status(text: "Due \(clock.hhmm(job.dueAt))", cssClass: "tag-due", tries: tries)
        }
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

    /// One row of a call list.
    static func row(_ c: CallEntry, ward: Bool, maxAttempts: Int?, clock: Clock, today: LocalDate) -> [String: Any] {
        let s = status(c.job, maxAttempts: maxAttempts, clock: clock, today: today)
        var row: [String: Any] = [
            "name": c.patientName ?? "Name not given (\(c.job.patientID))", "job": c.job.id,
            "phone": CallListFormat.dialable(c.phone), "tel": tel(c.phone), "voicemail": c.voicemailOK ? "OK" : "not OK",
            "voicemailOK": c.voicemailOK,
            "tag": s.text, "tagClass": s.cssClass, "ward": c.job.ward ?? "no ward",
        ]
        if let t = s.tries { row["tries"] = t }
        if let p = c.procedure { row["procedure"] = p }
        _ = ward
        return row
    }

    /// Calls of several lists (an account's wards) in the order a nurse
    /// works: overdue first, then by due time.
    static func merged(_ lists: [CallsReport]) -> [CallEntry] {
        lists.flatMap(\.calls).sorted { a, b in
            if a.isOverdue != b.isOverdue { return a.isOverdue }
            if a.job.dueAt != b.job.dueAt { return a.job.dueAt < b.job.dueAt }
            return a.job.id < b.job.id
        }
    }
}

/// A form field's error, linked from the error summary.
struct FieldError {
    var field: String
    var message: String

    var values: [String: Any] { ["field": field, "message": message] }
}
