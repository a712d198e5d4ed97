import Foundation

/// The report's count of one configured contact (`contacts.md`: "the report
/// counts each as sent on time, late, suppressed, failed or not sent,
/// against its send"; a worklist contact as the check-in call is counted).
public struct ContactResult: Equatable, Sendable {
    public var name: String
    /// Set for a worklist contact.
    public var worklist: String?
    public var counted = 0
    public var excluded = 0
    public var counts: [PledgeMeasure: Int]
    /// The pledge's promise the contact keeps (`[[contact]] promise`), for the leaflet.
    public var promise: String?

    public init(name: String, worklist: String?) {
        self.name = name
        self.worklist = worklist
        counts = Dictionary(uniqueKeysWithValues: Self.categories(worklist != nil).map { ($0, 0) })
    }

    /// The categories, in order: a call's as the check-in call's, a notice's
    /// on time, late, suppressed, failed, not sent.
    public static func categories(_ call: Bool) -> [PledgeMeasure] {
        call ? [.calledOnDay, .calledLater, .notCalled, .notRequired] : [.onTime, .late, .suppressed, .failed, .notSent]
    }

    /// On time (or called on the planned day) out of those counted, less the
    /// suppressed (or not required).
    public var headline: Headline {
        worklist != nil
            ? Headline(counts[.calledOnDay] ?? 0, of: counted - (counts[.notRequired] ?? 0))
            : Headline(counts[.onTime] ?? 0, of: counted - (counts[.suppressed] ?? 0))
    }
}

extension PledgeRules {
    /// Where each configured contact of an appointment or a treatment lands:
    /// (contact, worklist, category; nil when excluded), anchored on the
    /// event's day. Counted once its first job came due, as the promises are.
    public func contactEntries(_ b: BookingFacts) -> [(name: String, worklist: String?, category: PledgeMeasure?)] {
        guard b.kind == .appointment || b.kind == .treatment else { return [] }
        var out: [(String, String?, PledgeMeasure?)] = []
        let byKind = Dictionary(grouping: b.contacts.filter { !$0.kind.isBuiltIn && !$0.kind.isMadeByTouchpoint }, by: \.kind)
        for (kind, jobs) in byKind.sorted(by: { $0.key < $1.key }) {
            let ordered = jobs.sorted { $0.createdAt < $1.createdAt }
            guard let first = ordered.first else { continue }
            let rule = rules.contacts.first { $0.kind == kind }
            let isCall = rule?.worklist != nil || first.callDay != nil
            if excludedBeforeDue(first, b) {
                out.append((kind.rawValue, rule?.worklist, nil))
                continue
            }
            guard ordered.contains(where: { $0.dueAt <= now || $0.sentAt != nil || !$0.attempts.isEmpty || $0.attemptCount > 0 }) else { continue }
            if isCall {
                out.append((kind.rawValue, rule?.worklist ?? "", callCategory(first)))
                continue
            }
            out.append((kind.rawValue, nil, contactNoticeCategory(ordered, b, rule: rule)))
        }
        return out
    }

    /// Sent (accepted, no failure after) by the end of the day its `send`
    /// names, or of the day it was planned when that had passed: on time;
    /// later but before its expiry: late; else as a wait notice's.
    func contactNoticeCategory(_ notices: [ContactFacts], _ b: BookingFacts, rule: ContactRule?) -> PledgeMeasure {
        let sent = notices.compactMap { n -> (Date, ContactFacts)? in
            guard let s = n.sentAt, n.failedAt == nil else { return nil }
            return (s, n)
        }.min { $0.0 < $1.0 }
        guard let (at, notice) = sent else {
            let general = noticeCategory(notices, before: .distantFuture)
            return general == .informed ? .notSent : general
        }
        let target = rule.map { clock.localDate(of: $0.send.instant(after: b.at, clock: clock)) } ?? clock.localDate(of: notice.dueAt)
        let planned = clock.localDate(of: notice.createdAt)
        return clock.localDate(of: at) <= max(target, planned) ? .onTime : .late
    }
}
