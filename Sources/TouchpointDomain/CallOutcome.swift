import Foundation

/// What happened when the ward phoned a patient (`scheduling.md`, check-in call).
public enum CallOutcome: String, Sendable, Codable, CaseIterable {
    case reached
    case noAnswer = "no_answer"
    case voicemailLeft = "voicemail_left"
    case busy
    case wrongNumber = "wrong_number"
    case declined
    case notRequired = "not_required"

    /// Ends the call (done).
    public var closes: Bool { self == .reached || self == .declined || self == .notRequired }

    /// An attempt that did not reach the patient: the call comes back later.
    public var isAttempt: Bool { self == .noAnswer || self == .voicemailLeft || self == .busy }

    /// In words, as a nurse would say it.
    public var words: String {
        switch self {
        case .reached: return "reached"
        case .noAnswer: return "no answer"
        case .voicemailLeft: return "voicemail left"
        case .busy: return "busy"
        case .wrongNumber: return "wrong number"
        case .declined: return "declined"
        case .notRequired: return "not required"
        }
    }
}

/// Why a change was refused; nothing was changed. The message says why in
/// words the person who asked can act on.
public struct Refusal: Error, Equatable, Sendable {
    public var message: String
    /// The part of the request at fault, when it is one (`wound_care`,
    /// `note`): a front end points the person at it in its own terms (the
    /// form's field, the command's flag).
    public var field: OutcomeEntry.Field?
    public init(_ message: String, field: OutcomeEntry.Field? = nil) {
        self.message = message
        self.field = field
    }
}

/// What a person records for a call, with the rules every front end shares
/// (`scheduling.md`, `web.md`): `reached` on a call that asks about wound
/// care needs the answer, yes or no; wound care goes with `reached` only;
/// `not required` needs a note saying why; a note is 1,000 characters at
/// most. The state machine refuses an entry with a problem, so the web
/// view, `touchpointctl` and anything after them get the same answer in
/// the same words; a form may ask first to keep what was typed.
public struct OutcomeEntry: Equatable, Sendable {
    /// The parts of an entry a rule can be about, by their names on the wire.
    public enum Field: String, Sendable, Codable {
        case outcome
        case woundCare = "wound_care"
        case note
        case concern
    }

    /// One rule an entry breaks.
    public struct Problem: Equatable, Sendable {
        public var field: Field
        /// In the words of the operation, for any front end.
        public var message: String
        /// In the words of a form's error summary.
        public var formMessage: String
    }

    public static let maximumNoteLength = 1000

    public var outcome: CallOutcome
    public var woundCare: Bool?
    public var note: String?
    /// The check-in call asks whether wound care was discussed; a configured
    /// worklist's call (`contacts.md`) is about an appointment and does not.
    public var asksWoundCare: Bool
    /// The patient raised a concern on the call (`reached --concern`): the
    /// breast care nurse follows it up, so the note must say what it is.
    public var concern: Bool

    public init(outcome: CallOutcome, woundCare: Bool?, note: String?, asksWoundCare: Bool, concern: Bool = false) {
        self.concern = concern
        self.outcome = outcome
        self.woundCare = woundCare
        self.note = note
        self.asksWoundCare = asksWoundCare
    }

    public var problems: [Problem] {
        var out: [Problem] = []
        if outcome == .reached && asksWoundCare && woundCare == nil {
            out.append(Problem(field: .woundCare, message: "reached needs the wound care answer: whether wound care was discussed (yes or no)",
                               formMessage: "Select whether wound care was discussed"))
        }
        if woundCare != nil && outcome != .reached {
            out.append(Problem(field: .woundCare, message: "wound care (discussed or not) goes with reached only",
                               formMessage: "Wound care goes with reached only"))
        }
        let text = (note ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        if outcome == .notRequired && text.isEmpty {
            out.append(Problem(field: .note, message: "not required needs a note saying why (e.g. still in hospital, readmitted)",
                               formMessage: "Say in the note why the call is not required"))
        }
        if concern && outcome != .reached {
            out.append(Problem(field: .concern, message: "a concern goes with reached only: the patient raised it on the call",
                               formMessage: "A concern goes with reached only"))
        } else if concern && text.isEmpty {
            out.append(Problem(field: .note, message: "a concern needs a note saying what it is, for the breast care nurse who follows it up",
                               formMessage: "Say in the note what the patient’s concern is"))
        }
        if text.count > Self.maximumNoteLength {
            out.append(Problem(field: .note, message: "a note is at most 1,000 characters; this one has \(text.count)",
                               formMessage: "The note must be 1,000 characters or fewer"))
        }
        return out
    }
}

/// One outcome recorded on a call, as the call keeps them all: when, by
/// whom, what happened, the wound care answer and the note given with it.
public struct CallAttempt: Equatable, Sendable {
    public var at: Date
    /// As the history names them: `alice`, or `alice via web`.
    public var by: String
    public var outcome: CallOutcome
    public var woundCare: Bool?
    /// May hold clinical detail: shown to staff, never logged.
    public var note: String?
    /// An outcome recorded in error and withdrawn when the call was
    /// reopened: who, when and why, in words. Kept in the history, left out
    /// of the report's counts.
    public var withdrawn: String?

    public init(at: Date, by: String, outcome: CallOutcome, woundCare: Bool?, note: String?, withdrawn: String? = nil) {
        self.withdrawn = withdrawn
        self.at = at
        self.by = by
        self.outcome = outcome
        self.woundCare = woundCare
        self.note = note
    }
}
