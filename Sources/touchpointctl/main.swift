import ArgumentParser
import Foundation
import Synchronization
import TouchpointControl
import TouchpointDomain

#if canImport(Glibc)
import Glibc
#endif

/// Options every command takes, before or after the command name.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: "The daemon's control socket (else $TOUCHPOINT_SOCKET, else /run/touchpoint/control.sock).")
    var socket: String?

    @Flag(name: .long, help: "Print one JSON object on standard output.")
    var json = false

    @Option(name: .customLong("as"), help: ArgumentHelp("Act for this person (members of control.delegate_group only, staff commands only; recorded as NAME via web).", valueName: "name"))
    var actingFor: String?

    @Option(name: .customLong("as-ward"), help: ArgumentHelp("With --as: a ward that person's work is limited to (repeatable).", valueName: "ward"))
    var asWards: [String] = []

    func validate() throws {
        if !asWards.isEmpty && actingFor == nil { throw ValidationError("--as-ward goes with --as NAME") }
    }

    var socketPath: String {
        socket ?? ProcessInfo.processInfo.environment["TOUCHPOINT_SOCKET"] ?? ControlClient.defaultSocket
    }

    /// The client library over one blocking connection, acting for `--as` if given.
    var client: TouchpointClient {
        TouchpointClient(ControlClient(socketPath: socketPath),
                         acting: actingFor.map { Delegation(name: $0, wards: asWards) })
    }

    /// Asks the daemon; on failure prints the one-line error and exits with
    /// the spec's code. The client library is async; over the blocking
    /// connection its call never waits on anything but the socket, so the
    /// command (a plain one: ArgumentParser's async commands are not run
    /// from a main.swift) waits for it here.
    func ask<Value>(_ call: @escaping @Sendable (TouchpointClient) async throws(ClientError) -> ControlAnswer<Value>) throws -> ControlAnswer<Value> {
        let client = self.client
        let done = DispatchSemaphore(value: 0)
        let result = Mutex<Result<ControlAnswer<Value>, ClientError>?>(nil)
        Task {
            let r: Result<ControlAnswer<Value>, ClientError>
            do throws(ClientError) { r = .success(try await call(client)) } catch { r = .failure(error) }
            result.withLock { $0 = r }
            done.signal()
        }
        done.wait()
        switch result.withLock({ $0 })! {
        case .success(let answer): return answer
        case .failure(let error):
            var line = error.message
            if case .refused(let f) = error, let flags = Self.flags(forField: f.field) { line += " (give \(flags))" }
            FileHandle.standardError.write(Data("touchpointctl: \(line)\n".utf8))
            throw ExitCode(error.exitCode)
        }
    }

    /// The daemon names the request's field a rule refused; the command line
    /// names it by its flags.
    static func flags(forField field: String?) -> String? {
        switch field {
        case "wound_care": return "--wound-care or --no-wound-care"
        case "note": return "--note TEXT"
        case "month": return "--month YYYY-MM"
        case "from", "to": return "--from and --to, YYYY-MM-DD"
        case "date": return "--date YYYY-MM-DD, today, tomorrow or yesterday"
        case "list": return "--list PROMISE.MEASURE"
        case "kind", "state", "delivery": return "--\(field!) with one of those"
        default: return nil
        }
    }

    /// Prints the answer as JSON (`--json`, the daemon's bytes as they came) or through `human`.
    func output<Value>(_ answer: ControlAnswer<Value>, human: (Value) -> String) throws {
        if json {
            writeLine(answer.json)
            return
        }
        print(human(try decode(answer, forTerminal: true)), terminator: "")
    }

    /// The answer's value; for a terminal, its control characters made
    /// visible first (`TerminalText`). A reply that cannot be read is exit 1.
    func decode<Value>(_ answer: ControlAnswer<Value>, forTerminal: Bool) throws -> Value {
        do {
            return try forTerminal ? answer.valueForTerminal() : answer.value()
        } catch {
            FileHandle.standardError.write(Data("touchpointctl: \(error.message)\n".utf8))
            throw ExitCode(1)
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Version, uptime, queue position and counts, jobs.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.output(global.ask { c throws(ClientError) in try await c.status() }) { HumanOutput.status($0, style: .detect(zone: $0.timeZone)) }
    }
}

struct Ingest: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Read the queue file now and print what was read (admin).")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.output(global.ask { c throws(ClientError) in try await c.ingest() }) { HumanOutput.ingest($0) }
    }
}

struct Rejects: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Rejected queue lines: line, offset, event id, code, message.")
    @OptionGroup var global: GlobalOptions

    @Option(help: "Show at most this many (the most recent).")
    var limit = 50

    @Flag(help: "Add the raw line (admin only: it holds patient data).")
    var showLine = false

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let answer = try global.ask { c throws(ClientError) in try await c.rejects(limit: limit, showLine: showLine) }
        try global.output(answer) { HumanOutput.rejects($0, style: .detect()) }
    }
}

/// A time on the command line: RFC 3339, a local date-time, or a date (its start), in local time.
struct TimeArgument: ExpressibleByArgument {
    var date: Date

    init?(argument: String) {
        let clock = HospitalClock.system
        if let d = LocalDate(iso: argument) {
            date = clock.instant(on: d, at: TimeOfDay(hour: 0, minute: 0))
        } else if case .success(let d) = Timestamp.parse(argument, clock: clock) {
            date = d
        } else {
            return nil
        }
    }

    static var defaultCompletionKind: CompletionKind { .default }
}

struct Jobs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List jobs (planned contacts), soonest due first.")
    @OptionGroup var global: GlobalOptions

    @Option(help: "checkin_call, wait_notice or open_access_info.") var kind: String?
    @Option(help: "scheduled, due, done, cancelled, expired, suppressed, escalated or failed.") var state: String?
    @Option(help: "A booking ref.") var ref: String?
    @Option(help: "A patient id.") var patient: String?
    @Option(help: "Due at or after (YYYY-MM-DD, or a date and time).") var dueFrom: TimeArgument?
    @Option(help: "Due before (YYYY-MM-DD, or a date and time).") var dueTo: TimeArgument?
    @Option(help: "Notices whose delivery receipts say: failed (any failure), sending, delivered, sent (abroad, no receipt from the country), permanent_failure, temporary_failure, technical_failure or unknown.")
    var delivery: String?
    @Option(help: "At most this many.") var limit = 100

    func validate() throws {
        guard limit >= 1 else { throw ValidationError("--limit must be at least 1") }
    }

    func run() throws {
        let query = JobsQuery(kind: kind, state: state, delivery: delivery, ref: ref, patient: patient,
                              dueFrom: dueFrom?.date, dueTo: dueTo?.date, limit: limit)
        try global.output(try global.ask { c throws(ClientError) in try await c.jobs(query) }) { HumanOutput.jobs($0, style: .detect(zone: $0.timeZone)) }
    }
}

struct JobCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "job", abstract: "One job with its full history.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The job id (from touchpointctl jobs).") var id: String

    func run() throws {
        try global.output(global.ask { c throws(ClientError) in try await c.job(id) }) { HumanOutput.job($0, style: .detect(zone: $0.timeZone)) }
    }
}

struct Explain: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Why each job of a booking is in its state: the rule, its inputs, the history.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The booking ref (surgery or Open Access).") var ref: String

    func run() throws {
        try global.output(global.ask { c throws(ClientError) in try await c.explain(ref) }) { HumanOutput.explain($0, style: .detect(zone: $0.timeZone)) }
    }
}

struct PatientKnown: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "patient-known",
        abstract: "Whether touchpoint has a booking for this patient id: prints yes (exit 0) or no (exit 1), nothing else.",
        discussion: "For the feed role (control.feed_group: the HL7 receiver) and admins.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The hospital's patient id.") var patient: String

    func run() throws {
        let answer = try global.ask { c throws(ClientError) in try await c.patientKnown(patient) }
        if global.json {
            writeLine(answer.json)
        } else {
            print(try global.decode(answer, forTerminal: false).known ? "yes" : "no")
        }
        if try !global.decode(answer, forTerminal: false).known { throw ExitCode(1) }
    }
}

struct Calls: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The ward's check-in call list for a day: overdue first, then by due time.",
        discussion: "--format html writes one printable page (A4); csv opens in a spreadsheet.")
    @OptionGroup var global: GlobalOptions

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, csv, html }

    @Option(help: "YYYY-MM-DD, today, tomorrow or yesterday.") var date = "today"
    @Option(help: "Only this ward.") var ward: String?
    @Flag(help: "The escalated calls, for the breast care nurse.") var escalated = false
    @Option(help: "A configured worklist (contacts.md) instead of the check-in calls.") var list: String?
    @Flag(help: "The day's calls of wards none of calls.wards names, which everyone sees.") var unassigned = false
    @Option(help: "table, json, csv or html.") var format: Format = .table

    func run() throws {
        let query = CallsQuery(date: date, ward: ward, escalated: escalated, list: list, unassigned: unassigned)
        let answer = try global.ask { c throws(ClientError) in try await c.calls(query) }
        if global.json || format == .json {
            writeLine(answer.json)
            return
        }
        let report = try global.decode(answer, forTerminal: format == .table)
        switch format {
        case .table: print(CallListFormat.table(report, style: .detect(zone: report.timeZone)), terminator: "")
        case .csv: FileHandle.standardOutput.write(Data(CallListFormat.csv(report, clock: report.clock).utf8))
        case .html: FileHandle.standardOutput.write(Data(CallListFormat.html(report, clock: report.clock).utf8))
        case .json: break
        }
    }
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "The pledge report: how each promise was kept, for a month or a period.",
        discussion: "The default period is this month up to today. --list PROMISE.MEASURE (e.g. checkin_call.not_called) lists the jobs behind a number (ids only).")
    @OptionGroup var global: GlobalOptions

    enum Format: String, ExpressibleByArgument, CaseIterable { case table, json, csv, html, leaflet }

    @Option(help: "YYYY-MM.") var month: String?
    @Option(help: "YYYY-MM-DD (with --to).") var from: String?
    @Option(help: "YYYY-MM-DD (with --from).") var to: String?
    @Option(help: "Only this ward (or Open Access clinic).") var ward: String?
    @Option(help: "table, json, csv, html, or leaflet (\"you said, we did\": one A4 page for the clinic wall).") var format: Format = .table
    @Option(help: "PROMISE.MEASURE: the jobs behind that number.") var list: String?

    func run() throws {
        let query = ReportQuery(month: month, from: from, to: to, ward: ward, list: list)
        let answer = try global.ask { c throws(ClientError) in try await c.report(query) }
        if global.json || format == .json {
            writeLine(answer.json)
            return
        }
        let report = try global.decode(answer, forTerminal: format == .table)
        switch format {
        case .table: print(ReportFormat.table(report, style: .detect(zone: report.timeZone)), terminator: "")
        case .csv: FileHandle.standardOutput.write(Data(ReportFormat.csv(report).utf8))
        case .html: FileHandle.standardOutput.write(Data(ReportFormat.html(report).utf8))
        case .leaflet: FileHandle.standardOutput.write(Data(Leaflet.html(report).utf8))
        case .json: break
        }
    }
}

struct Outcome: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Record what happened on a check-in call.",
        discussion: "OUTCOME: reached, no-answer, voicemail-left, busy, wrong-number, declined, not-required (needs --note).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The call's job id (from touchpointctl calls).") var job: String
    @Argument(help: "reached, no-answer, voicemail-left, busy, wrong-number, declined or not-required.") var outcome: String
    @Flag(name: .customLong("wound-care"), inversion: .prefixedNo, help: "With reached: whether wound care was discussed.")
    var woundCare: Bool?
    @Option(help: "A note (kept with the call; never logged).") var note: String?
    @Flag(help: "With reached: the patient raised a concern; the breast care nurse follows it up (say what in --note).")
    var concern = false

    func validate() throws {
        guard CallOutcome(commandLine: outcome) != nil else {
            throw ValidationError("unknown outcome '\(outcome)'; expected one of \(CallOutcome.allCases.map(\.commandLine).joined(separator: ", "))")
        }
    }

    func run() throws {
        let entry = OutcomeRequest(job: job, outcome: CallOutcome(commandLine: outcome)!, woundCare: woundCare, note: note, concern: concern)
        try global.output(try global.ask { c throws(ClientError) in try await c.outcome(entry) }) { HumanOutput.job($0, style: .detect(zone: $0.timeZone)) }
    }
}

struct Pause: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Stop dispatching notices; due notices wait (admin).")
    @OptionGroup var global: GlobalOptions
    func run() throws {
        try global.output(global.ask { c throws(ClientError) in try await c.pause() }) { _ in "dispatch paused: due notices wait until touchpointctl resume\n" }
    }
}

struct Resume: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Start dispatching notices again (admin).")
    @OptionGroup var global: GlobalOptions
    func run() throws {
        try global.output(global.ask { c throws(ClientError) in try await c.resume() }) { _ in "dispatch resumed\n" }
    }
}

struct Reload: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Re-read the config and templates; an invalid one is refused and the old one stays (admin).")
    @OptionGroup var global: GlobalOptions
    func run() throws {
        try global.output(global.ask { c throws(ClientError) in try await c.reload() }) { _ in "configuration reloaded\n" }
    }
}

struct Cancel: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Cancel a pending job (admin).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The job id.") var job: String
    @Option(help: "Why (recorded with the job).") var reason: String

    func run() throws {
        try global.output(global.ask { c throws(ClientError) in try await c.cancel(job, reason: reason) }) { HumanOutput.job($0, style: .detect(zone: $0.timeZone)) }
    }
}

struct Take: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Take an escalated call: the escalated list shows who has it (staff).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The job id (touchpointctl calls --escalated).") var job: String

    func run() throws {
        try global.output(global.ask { c throws(ClientError) in try await c.take(job) }) { HumanOutput.job($0, style: .detect(zone: $0.timeZone)) }
    }
}

struct Reopen: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Return a call closed in error to the list, within 24 hours of its outcome (staff).",
        discussion: "The outcome stays in the call's history, withdrawn, with who reopened it and why.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The call's job id.") var job: String
    @Option(help: "What was recorded in error (kept in the history and the audit; never logged).") var reason: String

    func run() throws {
        try global.output(global.ask { c throws(ClientError) in try await c.reopen(job, reason: reason) }) { HumanOutput.job($0, style: .detect(zone: $0.timeZone)) }
    }
}

struct Backup: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Write a consistent copy of the state while the service runs (admin): STATE_DIR/backups/touchpoint-YYYYMMDDTHHMMSS.db.",
        discussion: "Checked with integrity_check; the oldest beyond backup.keep are removed. Prints the file's path. Restoring: see the README.")
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.output(global.ask { c throws(ClientError) in try await c.backup() }) { "\($0.path)\n" }
    }
}

struct Undeceased: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Undo a death recorded in error: its cancelled jobs still of use are planned again (admin).",
        discussion: "Correct the hospital's own record too: the next update from the feed that says deceased records the death again.")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The patient id.") var patient: String
    @Option(help: "How the death came to be recorded in error (kept in the audit; never logged).") var reason: String

    func run() throws {
        try global.output(global.ask { c throws(ClientError) in try await c.undeceased(patient, reason: reason) }) { HumanOutput.jobs($0, style: .detect(zone: $0.timeZone)) }
    }
}

struct Retry: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Put a failed notice back in the queue (admin).")
    @OptionGroup var global: GlobalOptions
    @Argument(help: "The job id.") var job: String

    func run() throws {
        try global.output(global.ask { c throws(ClientError) in try await c.retry(job) }) { HumanOutput.job($0, style: .detect(zone: $0.timeZone)) }
    }
}

struct TouchpointCtl: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "touchpointctl",
        abstract: "Control and query touchpointd over its Unix socket.",
        discussion: "Exit codes: 0 success, 1 refused or failed, 2 bad usage, 69 daemon unreachable, 77 permission denied.",
        version: TouchpointVersion.cli,
        subcommands: [Status.self, Calls.self, Outcome.self, Jobs.self, JobCommand.self, Explain.self, Rejects.self, Report.self,
                      Ingest.self, Pause.self, Resume.self, Reload.self, Cancel.self, Retry.self, Take.self, Reopen.self, Undeceased.self, Backup.self,
                      PatientKnown.self])

    // Lets --socket and --json stand before the command too.
    @OptionGroup var global: GlobalOptions
}

enum TouchpointVersion {
    static let cli = "0.1.0 (control protocol \(ControlProtocol.version))"
}

// Parse, run, and map ArgumentParser's usage errors (64) to cli.md's 2.
do {
    var command = try TouchpointCtl.parseAsRoot()
    try command.run()
} catch {
    let code = TouchpointCtl.exitCode(for: error)
    if code == .success {
        TouchpointCtl.exit(withError: error)
    }
    if error is ExitCode {
        exit(code.rawValue)
    }
    let message = TouchpointCtl.fullMessage(for: error)
    if code == .validationFailure || code.rawValue == 64 {
        FileHandle.standardError.write(Data("touchpointctl: \(message)\n".utf8))
        exit(2)
    }
    FileHandle.standardError.write(Data("touchpointctl: \(message)\n".utf8))
    exit(code.rawValue == 0 ? 1 : code.rawValue)
}

/// The daemon's JSON as it came, and a newline: no conversion to a String
/// and back (a thousand-call list is most of a megabyte).
func writeLine(_ data: Data) {
    var out = data
    out.append(0x0A)
    FileHandle.standardOutput.write(out)
}
