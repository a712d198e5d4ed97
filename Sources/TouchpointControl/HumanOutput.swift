import Foundation
import TouchpointDomain

#if canImport(Glibc)
import Glibc
#endif

/// How to style human output: colour only on a terminal (and never with NO_COLOR).
public struct OutputStyle: Sendable {
    public var colour: Bool
    public var clock: HospitalClock

    /// For a terminal; times in `zone` (the hospital's, as the daemon's
    /// reply names it), else this machine's.
    public static func detect(zone: String? = nil) -> OutputStyle {
        OutputStyle(colour: isatty(1) == 1 && ProcessInfo.processInfo.environment["NO_COLOR"] == nil,
                    clock: HospitalClock.named(zone))
    }

    func bold(_ s: String) -> String { colour ? "\u{1B}[1m\(s)\u{1B}[0m" : s }
    func warn(_ s: String) -> String { colour ? "\u{1B}[33m\(s)\u{1B}[0m" : s }
}

/// Renders replies for a person at a terminal: aligned, local times, plain words.
public enum HumanOutput {
    public static func status(_ s: StatusReport, style: OutputStyle) -> String {
        var out = style.bold("touchpointd \(s.version)") + ", \(s.state), up \(duration(s.uptimeSeconds))\n"
        for w in s.warnings ?? [] { out += style.warn("warning: \(w)") + "\n" }
        out += "queue file   \(s.queue.path)\n"
        if let e = s.queue.error { out += "             " + style.warn("problem: \(e)") + "\n" }
        var read = "read to      line \(number(s.queue.line)) (byte \(number(s.queue.offset)))"
        if let at = s.queue.lastReadAt { read += ", last read \(localTime(at, style))" }
        out += read + "\n"
        out += "events       \(number(s.queue.ingested)) applied, \(number(s.queue.duplicates)) duplicates, \(number(s.queue.rejected)) rejected"
        out += s.queue.notKnown > 0 ? ", \(number(s.queue.notKnown)) about patients not known\n" : "\n"
        for (i, w) in s.queue.sources.enumerated() {
            out += (i == 0 ? "writers      " : "             ")
                + "\(w.source ?? "(unnamed)"): last event \(localTime(w.lastEventAt, style)), \(number(w.events)) events\n"
        }
        out += "state        \(number(s.patients)) patients, \(number(s.bookings)) open bookings\n"
        if s.jobs.isEmpty {
            out += "jobs         none\n"
        } else {
            for (i, kind) in s.jobs.keys.sorted(by: { $0.rawValue < $1.rawValue }).enumerated() {
                let states = s.jobs[kind]!.sorted { $0.key.rawValue < $1.key.rawValue }.map { "\($0.value) \($0.key.rawValue)" }.joined(separator: ", ")
                out += (i == 0 ? "jobs         " : "             ") + "\(kind.rawValue): \(states)\n"
            }
        }
        out += "next due     \(s.nextDueAt.map { localTime($0, style) } ?? "nothing scheduled")\n"
        if let t = s.transport {
            out += "transport    \(t.kind)\n"
            if let held = t.held { out += "             " + style.warn("held: \(held)") + "\n" }
            if !t.deliveries.isEmpty {
                let words = DeliveryStatus.allCases.compactMap { d in t.deliveries[d].map { "\($0) \(d.rawValue)" } }.joined(separator: ", ")
                out += "deliveries   \(words)\n"
            }
        }
        return out
    }

    public static func ingest(_ r: IngestReport) -> String {
        "read the queue file: \(number(r.ingested)) applied, \(number(r.duplicates)) duplicates, \(number(r.rejected)) rejected; now at byte \(number(r.offset))\n"
    }

    public static func rejects(_ r: RejectsReport, style: OutputStyle) -> String {
        if r.rejects.isEmpty { return "no rejected lines\n" }
        var rows: [[String]] = [["LINE", "OFFSET", "EVENT ID", "CODE", "MESSAGE"]]
        for e in r.rejects {
            rows.append([String(e.line), String(e.offset), e.eventID ?? "-", e.code.rawValue, e.message])
        }
        var out = table(rows, style: style)
        for e in r.rejects where e.rawLine != nil {
            out += "line \(e.line): \(e.rawLine!)\n"
        }
        if r.total > r.rejects.count {
            out += "(\(r.rejects.count) most recent of \(number(r.total)); use --limit for more)\n"
        }
        return out
    }

    public static func jobs(_ r: JobsReport, style: OutputStyle) -> String {
        if r.jobs.isEmpty { return "no jobs\n" }
        let receipts = r.jobs.contains { $0.delivery != nil }
        var rows: [[String]] = [["JOB", "KIND", "REF", "STATE", "DUE", "EXPIRES"] + (receipts ? ["DELIVERY"] : [])]
        for j in r.jobs {
            rows.append([j.id, j.kind.rawValue, j.ref, j.state.rawValue, localTime(j.dueAt, style), localTime(j.expiresAt, style)]
                        + (receipts ? [j.delivery?.words ?? "-"] : []))
        }
        return table(rows, style: style)
    }

    public static func job(_ j: JobView, style: OutputStyle) -> String {
        let patient = j.patientName.map { "\($0) (\(j.patientID))" } ?? j.patientID
        var out = style.bold("\(j.id)") + "  \(j.kind.rawValue) for \(j.ref), patient \(patient)\n"
        if let c = j.call, let who = CallListFormat.identity(birthDate: c.birthDate, nhsNumberEnd: c.nhsNumberEnd) { out += "identity  \(who)\n" }
        out += "state     \(j.state.rawValue)\n"
        out += "due       \(localTime(j.dueAt, style))\n"
        out += "expires   \(localTime(j.expiresAt, style))\n"
        if let w = j.ward { out += "ward      \(w)\n" }
        if j.kind == .openAccessInfo { out += "revision  \(j.revision)\n" }
        if j.kind == .checkinCall { out += "attempts  \(j.attempts)\n" }
        if let o = j.overdueSince { out += "overdue   since \(o)\n" }
        if let e = j.expectedAt, j.kind == .waitNotice { out += "expected  \(localTime(e, style))\(j.delayReason.map { " (\($0))" } ?? "")\n" }
        if let o = j.outcome { out += "outcome   \(o.rawValue)\(j.woundCare.map { $0 ? ", wound care discussed" : ", wound care not discussed" } ?? "")\n" }
        if let r = j.reason { out += "why       \(r)\n" }
        if let d = j.delivery { out += "delivery  \(d.words)\n" }
        if let d = j.deliveries, !d.isEmpty {
            out += "deliveries\n"
            for a in d { out += "  \(localTime(a.at, style))  \(a.result.rawValue)\(a.detail.map { "  \($0)" } ?? "")\n" }
        }
        if let h = j.history, !h.isEmpty {
            out += "history\n"
            for c in h {
                out += "  \(localTime(c.at, style))  \(c.actor)  \(c.from?.rawValue ?? "new") -> \(c.to.rawValue)  \(c.reason)\n"
            }
        }
        return out
    }

    public static func explain(_ r: ExplainReport, style: OutputStyle) -> String {
        var out = ""
        for b in r.bookings {
            out += style.bold("\(b.kind == .surgery ? "surgery" : "Open Access") booking \(r.ref)") + ": \(b.kind == .surgery ? "surgery" : "appointment") \(localTime(b.at, style))"
            if b.revision > 1 { out += " (rescheduled \(b.revision - 1) time(s))" }
            if b.cancelled { out += ", cancelled" }
            if b.patientDeceased { out += "; patient recorded as deceased" }
            if b.patientOptedOut { out += "; patient has opted out of notices" }
            out += "\n"
            if let why = b.unassigned { out += "  unassigned: \(why)\n" }
        }
        if r.jobs.isEmpty { out += "no jobs\n" }
        for j in r.jobs { out += "\n" + job(j, style: style) }
        return out
    }

    /// Columns padded to their widest cell; the last column is not padded.
    public static func table(_ rows: [[String]], style: OutputStyle) -> String {
        guard let header = rows.first else { return "" }
        var widths = Array(repeating: 0, count: header.count)
        for r in rows { for (i, c) in r.enumerated() where i < widths.count - 1 { widths[i] = max(widths[i], c.count) } }
        var out = ""
        for (n, r) in rows.enumerated() {
            var line = ""
            for (i, c) in r.enumerated() {
                line += i < r.count - 1 ? c.padding(toLength: widths[i] + 2, withPad: " ", startingAt: 0) : c
            }
            out += (n == 0 ? style.bold(line) : line) + "\n"
        }
        return out
    }

    public static func number(_ n: Int) -> String {
        let s = String(n)
        var out = ""
        for (i, ch) in s.reversed().enumerated() {
            if i > 0 && i % 3 == 0 && ch != "-" { out.append(",") }
            out.append(ch)
        }
        return String(out.reversed())
    }

    public static func duration(_ seconds: Int) -> String {
        if seconds < 60 { return "\(seconds)s" }
        if seconds < 3600 { return "\(seconds / 60)m \(seconds % 60)s" }
        if seconds < 86_400 { return "\(seconds / 3600)h \(String(format: "%02d", seconds % 3600 / 60))m" }
        return "\(seconds / 86_400)d \(seconds % 86_400 / 3600)h"
    }

    /// A local time as a person reads it: `today 09:00`, `Fri 27 Nov 09:00`, the year only when it is not this one.
    public static func localTime(_ date: Date, _ style: OutputStyle) -> String {
        let clock = style.clock
        let day = clock.localDate(of: date), today = clock.localDate(of: Date())
        if day == today { return "today " + clock.hhmm(date) }
        return clock.dayAndTime(date, withYear: day.year != today.year)
    }
}

extension CallOutcome {
    /// The spelling on the command line (`no-answer`); JSON uses the raw value (`no_answer`).
    public var commandLine: String { rawValue.replacingOccurrences(of: "_", with: "-") }

    public init?(commandLine: String) {
        self.init(rawValue: commandLine.replacingOccurrences(of: "-", with: "_"))
    }
}
