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
    public init(_ message: String) { self.message = message }
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

    public init(at: Date, by: String, outcome: CallOutcome, woundCare: Bool?, note: String?) {
        self.at = at
        self.by = by
        self.outcome = outcome
        self.woundCare = woundCare
        self.note = note
    }
}
