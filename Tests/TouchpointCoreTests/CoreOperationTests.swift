import Foundation
import Logging
import Synchronization
import Testing
import TouchpointConfig
import TouchpointCore
import TouchpointDispatch
import TouchpointDomain
import TouchpointStore
import TouchpointTestSupport

/// The core called directly: every operation with a `Person` and the
/// core's clock injected (issue 35: before, no test target imported the
/// core, and it read `Date()` inline). A real SQLite store in a temp
/// directory, the repository's templates; no daemon, no socket.
final class CoreFixture: Sendable {
    let dir: String
    let core: Touchpoint
    let engine: Engine
    let clock: HospitalClock
    private let instant: InjectedNow
    /// What the core logged: level, message and MESSAGE_ID.
    let logged = LoggedLines()

    /// Two surgeries the day before `now` (local): S7 on Ward 7, S9 on Ward 9; and one line that is rejected.
    init(now: Date, zone: String = "Europe/London") async throws {
        dir = NSTemporaryDirectory() + "tp-core-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir + "/spool/outbox", withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: DaemonHarness.repoRoot + "/seeds/templates", toPath: dir + "/templates")
        clock = HospitalClock(identifier: zone)!
        instant = InjectedNow(now)
        let yesterday = clock.localDate(of: now).adding(days: -1)
        let lines = [
            #"{"v":1,"id":"e7","type":"surgery.booked","ref":"S7","patient":{"id":"P7","name":"Ann Example","phone":"07700 900123"},"at":"\#(yesterday)T10:30","ward":"Ward 7"}"#,
            #"{"v":1,"id":"e9","type":"surgery.booked","ref":"S9","patient":{"id":"P9","name":"Dee Person","phone":"07700 900789"},"at":"\#(yesterday)T11:30","ward":"Ward 9"}"#,
            #"{"v":1,"id":"bad","type":"surgery.booked","ref":"SX"}"#,
        ]
        try (lines.joined(separator: "\n") + "\n").write(toFile: dir + "/spool/queue.jsonl", atomically: true, encoding: .utf8)
        let toml = """
            time_zone = "\(zone)"
            state_dir = "state"
            queue_file = "spool/queue.jsonl"
            templates_dir = "templates"
            [hospital]
            name = "Test Hospital"
            phone = "01632 960 000"
            [control]
            socket = "control.sock"
            [transport]
            outbox_dir = "spool/outbox"
            """
        try toml.write(toFile: dir + "/touchpoint.toml", atomically: true, encoding: .utf8)
        let config = try ConfigLoader.load(path: dir + "/touchpoint.toml")
        let store = try await Store.open(path: config.databasePath)
        let logged = self.logged
        let logger = Logger(label: "core-tests") { _ in CapturingLogHandler(lines: logged) }
        let instant = self.instant
        (core, engine) = try await Touchpoint.open(store: store, config: config, templates: try NoticeTemplates.load(for: config),
                                                   logger: logger, now: { instant.value.withLock { $0 } }, wakeEngine: {})
        _ = await engine.readQueue()
        try await engine.runDueJobs()
    }

    func set(now: Date) { instant.value.withLock { $0 = now } }

    /// Appends queue lines and has the engine read them and run what is due.
    func append(_ lines: [String]) async throws {
        let h = try #require(FileHandle(forWritingAtPath: dir + "/spool/queue.jsonl"))
        try h.seekToEnd()
        try h.write(contentsOf: Data((lines.joined(separator: "\n") + "\n").utf8))
        try h.close()
        _ = await engine.readQueue()
        try await engine.runDueJobs()
    }

    deinit { try? FileManager.default.removeItem(atPath: dir) }

    static let staff = Person(name: "alice", role: .staff)
    static let admin = Person(name: "root", role: .admin)
    static let outsider = Person(name: "eve", role: nil)
    /// The web view acting for a nurse whose account is limited to Ward 9.
    static let ward9 = Person(name: "nina", role: .staff, via: .delegate(delegateUser: "touchpoint-web"), wards: ["Ward 9"])
}

/// The time the core reads, as a test sets it.
/// The lines a core logged, for tests of what reaches the journal.
final class LoggedLines: Sendable {
    let lines = Mutex<[(level: Logger.Level, message: String, id: String?)]>([])
    func with(id: String) -> [String] { lines.withLock { $0.filter { $0.id == id }.map(\.message) } }
}

struct CapturingLogHandler: LogHandler {
    let lines: LoggedLines
    var metadata: Logger.Metadata = [:]
    var logLevel: Logger.Level = .trace
    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }
    func log(level: Logger.Level, message: Logger.Message, metadata: Logger.Metadata?, source: String, file: String, function: String, line: UInt) {
        let id = metadata?["MESSAGE_ID"].map { "\($0)" }
        lines.lines.withLock { $0.append((level, "\(message)", id)) }
    }
}

final class InjectedNow: Sendable {
    let value: Mutex<Date>
    init(_ now: Date) { value = Mutex(now) }
}

/// The instant of a local time in London.
func london(_ y: Int, _ m: Int, _ d: Int, _ h: Int, _ min: Int) -> Date {
    HospitalClock(identifier: "Europe/London")!.instant(on: LocalDate(year: y, month: m, day: d), at: TimeOfDay(hour: h, minute: min))
}

/// What the core refused, or nil if it did it.
func refusal<T>(_ body: () async throws -> T) async -> CoreFailure? {
    do {
        _ = try await body()
        return nil
    } catch {
        return (error as? CoreFailure) ?? CoreFailure(.failed, "not a CoreFailure: \(error)")
    }
}

@Suite struct CoreOperationTests {

    /// A concern found on the call (H-44): `reached --concern` closes the
    /// call and puts a follow-up, with the note, on the escalated list in
    /// the same transaction; the report counts it. Without a note, or with
    /// another outcome, nothing is recorded.
    @Test func aConcernOnTheCallClosesItAndPutsAFollowUpOnTheEscalatedList() async throws {
        let f = try await CoreFixture(now: london(2026, 10, 20, 10, 0))
        #expect(await refusal { try await f.core.recordOutcome(.reached, on: "call-S7", woundCare: true, note: nil, concern: true, by: CoreFixture.staff) }?.field == "note")
        #expect(await refusal { try await f.core.recordOutcome(.noAnswer, on: "call-S7", woundCare: nil, note: "lump", concern: true, by: CoreFixture.staff) }?.field == "concern")
        #expect(try await f.core.calls(on: .today, ward: nil, escalated: true, by: CoreFixture.staff).rows.isEmpty, "nothing recorded by a refusal")
        let done = try await f.core.recordOutcome(.reached, on: "call-S7", woundCare: true, note: "swelling under the arm since Sunday",
                                                  concern: true, by: CoreFixture.staff)
        #expect(done.job.state == .done && done.history.last?.reason.contains("raised a concern") == true)
        let nurse = try await f.core.calls(on: .today, ward: nil, escalated: true, by: CoreFixture.staff).rows
        #expect(nurse.map(\.job.id) == ["concern-call-S7-1"])
        let followUp = try #require(nurse.first?.job)
        #expect(followUp.kind == .concernFollowUp && followUp.note == "swelling under the arm since Sunday" && followUp.escalatedAt != nil)
        #expect(followUp.ward == "Ward 7" && followUp.ref == "S7")
        #expect(try await f.core.calls(on: .today, ward: nil, escalated: true, by: CoreFixture.ward9).rows.isEmpty, "Ward 7's concern is not Ward 9's")
        // The breast care nurse takes it and closes it; its concern stays its note.
        _ = try await f.core.take("concern-call-S7-1", by: CoreFixture.staff)
        let closed = try await f.core.recordOutcome(.reached, on: "concern-call-S7-1", woundCare: nil, note: "seen in clinic", by: CoreFixture.staff)
        #expect(closed.job.state == .done && closed.job.note == "swelling under the arm since Sunday")
        let report = try await f.core.report(.range(from: LocalDate(year: 2026, month: 10, day: 19), to: LocalDate(year: 2026, month: 10, day: 20)),
                                             place: nil, by: CoreFixture.staff)
        let calls = try #require(report.results.first { $0.pledge == .checkinCall })
        #expect(calls.counts[.concernsFound] == 1 && calls.counts[.reached] == 1)
        #expect(report.contacts.isEmpty, "a follow-up is not a configured contact")
        #expect(!f.logged.lines.withLock { $0.map(\.message) }.joined().contains("swelling"), "the note is never logged")
    }

    /// Correcting a mistake (H-45): a call closed in error is reopened by a
    /// nurse within 24 hours with a reason; the outcome stays in its
    /// history, withdrawn, and the report stops counting it.
    @Test func aCallClosedInErrorIsReopenedWithin24HoursAndItsOutcomeWithdrawn() async throws {
        let f = try await CoreFixture(now: london(2026, 10, 20, 10, 0))
        _ = try await f.core.recordOutcome(.reached, on: "call-S7", woundCare: true, note: nil, by: CoreFixture.staff)
        f.set(now: london(2026, 10, 20, 10, 20))
        #expect(await refusal { try await f.core.reopen("call-S7", reason: " ", by: CoreFixture.staff) }?.kind == .refused)
        #expect(await refusal { try await f.core.reopen("call-S7", reason: "wrong patient", by: CoreFixture.ward9) }?.kind == .notFound)
        #expect(await refusal { try await f.core.reopen("call-S9", reason: "wrong patient", by: CoreFixture.staff) }?.kind == .refused, "not closed")
        let open = try await f.core.reopen("call-S7", reason: "recorded on the wrong patient", by: CoreFixture.staff)
        #expect(open.job.state == .due && open.job.outcome == nil && open.job.woundCare == nil && open.job.lastAttemptAt == nil)
        #expect(open.history.last?.reason == "reopened by alice: recorded on the wrong patient (the outcome reached recorded by alice at 2026-10-20 10:00 is withdrawn); back on the call list")
        #expect(open.attempts.map(\.withdrawn) == ["withdrawn by alice at 10:20: recorded on the wrong patient"])
        let today = try await f.core.calls(on: .today, ward: nil, escalated: false, by: CoreFixture.staff).rows
        #expect(today.map(\.job.id).contains("call-S7"), "back on today's list")
        let period = ReportPeriod.range(from: LocalDate(year: 2026, month: 10, day: 19), to: LocalDate(year: 2026, month: 10, day: 20))
        let report = try await f.core.report(period, place: nil, by: CoreFixture.staff).results.first { $0.pledge == .checkinCall }
        #expect(report?.counts[.reached] == 0 && report?.counts[.calledOnDay] == 0, "the withdrawn outcome is not counted")
        #expect(report?.counts[.notCalled] == 2, "S7 is not called again yet, nor is S9")
        // Recorded again, then too late to reopen a day later.
        _ = try await f.core.recordOutcome(.declined, on: "call-S7", woundCare: nil, note: nil, by: CoreFixture.staff)
        f.set(now: london(2026, 10, 21, 10, 21))
        let late = await refusal { try await f.core.reopen("call-S7", reason: "wrong", by: CoreFixture.staff) }
        #expect(late?.kind == .refused && late?.message.contains("more than 24 hours ago") == true)
        // An escalated call closed in error goes back to the escalated list.
        _ = try await f.core.recordOutcome(.wrongNumber, on: "call-S9", woundCare: nil, note: nil, by: CoreFixture.admin)
        _ = try await f.core.recordOutcome(.declined, on: "call-S9", woundCare: nil, note: nil, by: CoreFixture.admin)
        #expect(try await f.core.reopen("call-S9", reason: "declined was another patient's", by: CoreFixture.admin).job.state == .escalated)
    }

    /// A death recorded in error (H-46): only an admin undoes it, with a
    /// reason; the call it cancelled is planned again by its rule, the wait
    /// notice whose time has passed stays cancelled with its reason, and a
    /// later `deceased: false` from the feed is no conflict.
    @Test func anAdminUndoesADeathRecordedInErrorAndTheJobsStillOfUseArePlannedAgain() async throws {
        let f = try await CoreFixture(now: london(2026, 10, 19, 8, 0))
        try await f.append([
            #"{"v":1,"id":"d1","type":"surgery.booked","ref":"S20","patient":{"id":"P20","name":"Fay Living","phone":"07700 900222"},"at":"2026-10-19T14:00","ward":"Ward 7"}"#,
            #"{"v":1,"id":"d2","type":"patient.updated","patient":{"id":"P20","deceased":true}}"#,
        ])
        #expect(try await f.core.job("call-S20", by: CoreFixture.staff).job.state == .cancelled)
        #expect(await refusal { try await f.core.undeceased("P20", reason: "wrong patient", by: CoreFixture.staff) }?.kind == .permissionDenied)
        #expect(await refusal { try await f.core.undeceased("P20", reason: "", by: CoreFixture.admin) }?.kind == .badRequest)
        #expect(await refusal { try await f.core.undeceased("P7", reason: "x", by: CoreFixture.admin) }?.kind == .refused, "not deceased")
        f.set(now: london(2026, 10, 19, 15, 0))
        let records = try await f.core.undeceased("P20", reason: "death recorded on the wrong record by the PAS", by: CoreFixture.admin)
        let call = try #require(records.first { $0.job.id == "call-S20" })
        #expect(call.job.state == .scheduled && call.job.dueAt == london(2026, 10, 20, 9, 0))
        #expect(call.history.last?.actor == "root" && call.history.last?.reason.hasPrefix("planned again: the death was recorded in error (undone by root") == true)
        let wait = try #require(records.first { $0.job.id == "wait-S20-1" })
        #expect(wait.job.state == .cancelled && wait.history.last?.reason.contains("not planned again") == true, "its surgery has begun")
        #expect(f.logged.with(id: MessageID.deathUndone).count == 1)
        #expect(!f.logged.with(id: MessageID.deathUndone).joined().contains("P20"), "no patient id in the journal")
        f.set(now: london(2026, 10, 20, 9, 1))
        try await f.append([#"{"v":1,"id":"d3","type":"patient.updated","patient":{"id":"P20","deceased":false}}"#])
        #expect(try await f.core.job("call-S20", by: CoreFixture.staff).job.state == .due, "on the list the day after surgery")
        let rejected = try await f.core.rejects(limit: 10, withLines: false, by: CoreFixture.admin).records.map(\.eventID)
        #expect(rejected == ["bad"], "the fixture's one bad line, and no conflict for d3: \(rejected)")
    }

    /// Escalations are taken (H-04) through the core with its clock: a call
    /// escalated on Saturday at 16:00 and untaken for four hours of call
    /// window (the last hour of Saturday, three on the spring change's
    /// Sunday) is a status warning and one journal warning; taken, neither.
    @Test func anEscalationUntakenForFourWindowHoursIsAWarningUntilANurseTakesIt() async throws {
        let f = try await CoreFixture(now: london(2026, 3, 28, 16, 0))
        _ = try await f.core.recordOutcome(.wrongNumber, on: "call-S7", woundCare: nil, note: nil, by: CoreFixture.staff)
        f.set(now: london(2026, 3, 29, 11, 59))
        #expect(try await f.core.status(by: CoreFixture.staff).warnings.filter { if case .untakenEscalations = $0 { true } else { false } }.isEmpty)
        #expect(try await f.engine.watchEscalations() == london(2026, 3, 29, 12, 0))
        f.set(now: london(2026, 3, 29, 12, 1))
        let warnings = try await f.core.status(by: CoreFixture.staff).warnings
        #expect(warnings.contains(.untakenEscalations(1, after: 4 * 3600)), "\(warnings)")
        _ = try await f.engine.watchEscalations()
        _ = try await f.engine.watchEscalations()
        #expect(f.logged.with(id: MessageID.escalationUntaken).count == 1)
        let taken = try await f.core.take("call-S7", by: CoreFixture.staff)
        #expect(taken.job.takenBy == "alice" && taken.history.last?.reason == "taken by alice")
        #expect(try await f.core.status(by: CoreFixture.staff).warnings.isEmpty)
        // A nurse of another ward cannot take it; nor can anyone take a call that is not escalated.
        #expect(await refusal { try await f.core.take("call-S7", by: CoreFixture.ward9) }?.kind == .notFound)
        #expect(await refusal { try await f.core.take("call-S9", by: CoreFixture.staff) }?.kind == .refused)
    }

    /// Feed silence (H-01) through the core with its clock: a queue silent
    /// for an open day (no source configured), across the spring change's
    /// night, is a status warning and one journal entry; an event ends it,
    /// with one entry more.
    @Test func aQueueSilentForAnOpenDayIsAWarningAndOneJournalEntryEachWay() async throws {
        let f = try await CoreFixture(now: london(2026, 3, 28, 11, 0))  // Saturday, the night before the spring change
        #expect(try await f.core.status(by: CoreFixture.staff).warnings.isEmpty)
        #expect(try await f.engine.watchFeeds() == london(2026, 3, 29, 11, 0), "the engine looks again when the silence would begin")
        f.set(now: london(2026, 3, 29, 10, 59))
        #expect(try await f.core.status(by: CoreFixture.staff).warnings.isEmpty, "23 real hours: not yet a day on the ward's clock")
        f.set(now: london(2026, 3, 29, 11, 1))
        let warnings = try await f.core.status(by: CoreFixture.staff).warnings
        guard case .feedSilent(let silent) = try #require(warnings.first) else { Issue.record("\(warnings)"); return }
        #expect(warnings.count == 1 && silent.source == nil && silent.lastEventAt == london(2026, 3, 28, 11, 0))
        _ = try await f.engine.watchFeeds()
        _ = try await f.engine.watchFeeds()
        let began = f.logged.with(id: MessageID.feedSilent)
        #expect(began == ["No bookings in the queue since Sat 28 Mar 11:00: the list may be incomplete. Tell the integration team."], "\(began)")
        // An event comes: the warning goes, and the journal says so once.
        let handle = try #require(FileHandle(forWritingAtPath: f.dir + "/spool/queue.jsonl"))
        handle.seekToEndOfFile()
        handle.write(Data((#"{"v":1,"id":"e10","type":"patient.updated","patient":{"id":"P7","phone":"07700 900124"}}"# + "\n").utf8))
        try handle.close()
        _ = await f.engine.readQueue()
        _ = try await f.engine.watchFeeds()
        _ = try await f.engine.watchFeeds()
        #expect(f.logged.with(id: MessageID.feedHeard).count == 1 && f.logged.with(id: MessageID.feedSilent).count == 1)
        #expect(try await f.core.status(by: CoreFixture.staff).warnings.isEmpty)
    }
    static let now = london(2026, 12, 2, 10, 0)

    @Test func status() async throws {
        let f = try await CoreFixture(now: Self.now)
        let s = try await f.core.status(by: CoreFixture.staff)
        #expect(!s.paused && s.snapshot.totals.counts.ingested == 2 && s.snapshot.totals.counts.rejected == 1)
        #expect(await refusal { try await f.core.status(by: CoreFixture.outsider) }?.kind == .permissionDenied)
    }

    @Test func calls() async throws {
        let f = try await CoreFixture(now: Self.now)
        let all = try await f.core.calls(on: .today, ward: nil, escalated: false, by: CoreFixture.staff)
        #expect(all.day == LocalDate(year: 2026, month: 12, day: 2) && Set(all.rows.map(\.job.id)) == ["call-S7", "call-S9"])
        // A person limited to Ward 9 gets Ward 9's calls, asked for or not, and is refused Ward 7's.
        let mine = try await f.core.calls(on: .today, ward: nil, escalated: false, by: CoreFixture.ward9)
        #expect(mine.rows.map(\.job.id) == ["call-S9"])
        #expect(await refusal { try await f.core.calls(on: .today, ward: "Ward 7", escalated: false, by: CoreFixture.ward9) }?.kind == .permissionDenied)
        #expect(await refusal { try await f.core.calls(on: .today, ward: nil, escalated: false, by: CoreFixture.outsider) }?.kind == .permissionDenied)
        // Tomorrow, by the injected clock: nothing due.
        #expect(try await f.core.calls(on: .tomorrow, ward: nil, escalated: false, by: CoreFixture.staff).rows.isEmpty)
    }

    @Test func outcome() async throws {
        let f = try await CoreFixture(now: Self.now)
        // The rules: reached needs the wound care answer; refused naming the field, nothing changed.
        let noAnswer = await refusal { try await f.core.recordOutcome(.reached, on: "call-S7", woundCare: nil, note: nil, by: CoreFixture.staff) }
        #expect(noAnswer?.kind == .badRequest && noAnswer?.field == "wound_care")
        #expect(try await f.core.job("call-S7", by: CoreFixture.staff).job.state == .due)
        // Another ward's call, for a person limited to Ward 9: not found, in the transaction that would record it.
        let other = await refusal { try await f.core.recordOutcome(.declined, on: "call-S7", woundCare: nil, note: nil, by: CoreFixture.ward9) }
        #expect(other?.kind == .notFound)
        #expect(try await f.core.job("call-S7", by: CoreFixture.staff).job.state == .due)
        // Recorded at the injected time, in the person's name.
        f.set(now: london(2026, 12, 2, 10, 42))
        let done = try await f.core.recordOutcome(.reached, on: "call-S7", woundCare: true, note: "healing", by: CoreFixture.staff)
        #expect(done.job.state == .done && done.job.lastAttemptAt == london(2026, 12, 2, 10, 42) && done.history.last?.actor == "alice")
        let web = try await f.core.recordOutcome(.noAnswer, on: "call-S9", woundCare: nil, note: nil, by: CoreFixture.ward9)
        #expect(web.history.last?.actor == "nina via web" && web.job.attempts == 1)
    }

    @Test func jobsAndJob() async throws {
        let f = try await CoreFixture(now: Self.now)
        let all = try await f.core.jobs(JobFilter(), by: CoreFixture.staff)
        #expect(Set(all.map(\.ref)) == ["S7", "S9"])
        #expect(try await f.core.jobs(JobFilter(), by: CoreFixture.ward9).allSatisfy { $0.ward == "Ward 9" })
        // The limit counts what the person may see (a Ward 7 job comes first for everyone else).
        #expect(all.first?.ward == "Ward 7", "\(all.map { ($0.id, $0.ward) })")
        #expect(try await f.core.jobs(JobFilter(limit: 1), by: CoreFixture.staff).map(\.id) == all.prefix(1).map(\.id))
        #expect(try await f.core.jobs(JobFilter(limit: 1), by: CoreFixture.ward9).map(\.id) == all.filter { $0.ward == "Ward 9" }.prefix(1).map(\.id))
        #expect(try await f.core.job("call-S9", by: CoreFixture.ward9).job.ref == "S9")
        #expect(await refusal { try await f.core.job("call-S7", by: CoreFixture.ward9) }?.kind == .notFound)
        #expect(await refusal { try await f.core.job("nope", by: CoreFixture.staff) }?.kind == .notFound)
    }

    @Test func explain() async throws {
        let f = try await CoreFixture(now: Self.now)
        #expect(try await f.core.explain("S7", by: CoreFixture.staff).first?.jobs.isEmpty == false)
        #expect(await refusal { try await f.core.explain("S7", by: CoreFixture.ward9) }?.kind == .notFound)
    }

    @Test func rejects() async throws {
        let f = try await CoreFixture(now: Self.now)
        let (records, total) = try await f.core.rejects(limit: 10, withLines: false, by: CoreFixture.staff)
        #expect(total == 1 && records.first?.eventID == "bad")
        #expect(await refusal { try await f.core.rejects(limit: 10, withLines: true, by: CoreFixture.staff) }?.kind == .permissionDenied,
                "the raw line is the admin's")
        #expect(try await f.core.rejects(limit: 10, withLines: true, by: CoreFixture.admin).records.first?.line != nil)
    }

    /// Issue 33: the report a manager opens with no period is this month to
    /// date once it has had 7 days, else the last complete month (on the 1st
    /// "this month" is a day of zeros); by the hospital's local date, so just
    /// after midnight on the 7th in summer time (23:xx UTC on the 6th) it is
    /// already this month, and on 1 January last month is December.
    @Test func theRecentPeriodIsLastMonthUntilTheSeventh() async throws {
        let f = try await CoreFixture(now: london(2026, 12, 1, 0, 10))
        func period() async throws -> (LocalDate, LocalDate) {
            let r = try await f.core.report(.recentMonth, place: nil, by: CoreFixture.staff)
            return (r.from, r.to)
        }
        let cases: [(Date, LocalDate, LocalDate)] = [
            (london(2026, 12, 1, 0, 10), LocalDate(year: 2026, month: 11, day: 1), LocalDate(year: 2026, month: 11, day: 30)),
            (london(2026, 12, 6, 23, 59), LocalDate(year: 2026, month: 11, day: 1), LocalDate(year: 2026, month: 11, day: 30)),
            (london(2026, 12, 7, 0, 0), LocalDate(year: 2026, month: 12, day: 1), LocalDate(year: 2026, month: 12, day: 7)),
            (london(2026, 4, 7, 0, 30), LocalDate(year: 2026, month: 4, day: 1), LocalDate(year: 2026, month: 4, day: 7)),
            (london(2026, 4, 6, 23, 30), LocalDate(year: 2026, month: 3, day: 1), LocalDate(year: 2026, month: 3, day: 31)),
            (london(2027, 1, 1, 9, 0), LocalDate(year: 2026, month: 12, day: 1), LocalDate(year: 2026, month: 12, day: 31)),
            (london(2027, 3, 3, 9, 0), LocalDate(year: 2027, month: 2, day: 1), LocalDate(year: 2027, month: 2, day: 28)),
        ]
        for (now, from, to) in cases {
            f.set(now: now)
            let (a, b) = try await period()
            #expect(a == from && b == to, "at \(now): \(a) to \(b)")
        }
        // The command line keeps report.md's default: this month up to today.
        f.set(now: london(2026, 12, 1, 9, 0))
        let r = try await f.core.report(.thisMonth, place: nil, by: CoreFixture.staff)
        #expect(r.from == LocalDate(year: 2026, month: 12, day: 1) && r.to == LocalDate(year: 2026, month: 12, day: 1))
        guard case .success(let recent) = ReportPeriod.parse(month: nil, from: nil, to: nil, recent: true) else { Issue.record("no period"); return }
        #expect(recent == .recentMonth)
        guard case .success(let given) = ReportPeriod.parse(month: "2026-10", from: nil, to: nil, recent: true) else { Issue.record("a month"); return }
        #expect(given == .month(year: 2026, month: 10), "a period asked for wins")
    }

    @Test func report() async throws {
        let f = try await CoreFixture(now: Self.now)
        let r = try await f.core.report(.thisMonth, place: nil, by: CoreFixture.staff)
        #expect(r.from == LocalDate(year: 2026, month: 12, day: 1) && r.to == LocalDate(year: 2026, month: 12, day: 2), "this month to today, by the injected clock")
        #expect(await refusal { try await f.core.report(.thisMonth, place: nil, by: CoreFixture.ward9) }?.field == "ward")
        #expect(await refusal { try await f.core.report(.thisMonth, place: "Ward 7", by: CoreFixture.ward9) }?.kind == .permissionDenied)
        #expect(try await f.core.report(.thisMonth, place: "Ward 9", by: CoreFixture.ward9).place == "Ward 9")
        // The period's words are the operation's, not a command line's.
        guard case .failure(let bad) = ReportPeriod.parse(month: "2026-13", from: nil, to: nil) else { Issue.record("a month 13"); return }
        #expect(bad.field == "month" && !bad.message.contains("--"))
    }

    @Test func ingestPauseResumeReload() async throws {
        let f = try await CoreFixture(now: Self.now)
        #expect(await refusal { try await f.core.ingest(by: CoreFixture.staff) }?.kind == .permissionDenied)
        #expect(try await f.core.ingest(by: CoreFixture.admin).counts.ingested == 0, "read already")
        for person in [CoreFixture.staff, CoreFixture.ward9] {
            #expect(await refusal { try await f.core.pause(by: person) }?.kind == .permissionDenied)
        }
        try await f.core.pause(by: CoreFixture.admin)
        #expect(try await f.core.status(by: CoreFixture.staff).paused && f.engine.isDispatchPaused)
        try await f.core.resume(by: CoreFixture.admin)
        #expect(try await !f.core.status(by: CoreFixture.staff).paused)
        #expect(await refusal { try await f.core.reload(by: CoreFixture.staff) }?.kind == .permissionDenied)
        try await f.core.reload(by: CoreFixture.admin)
    }

    /// C-30.1: with dispatch paused, a due notice is not lost from sight: it
    /// still expires at its time, with a warning saying it was not sent; the
    /// pause and the resume are in the audit with the admin's name.
    @Test func aNoticeExpiringWhileDispatchIsPausedSaysSoAndThePauseIsAudited() async throws {
        let f = try await CoreFixture(now: london(2026, 10, 20, 10, 0))
        try await f.core.pause(by: CoreFixture.admin)
        // Surgery at 11:00 today: its wait notice is due at once, of use until the surgery starts.
        try await f.append([#"{"v":1,"id":"w1","type":"surgery.booked","ref":"W1","patient":{"id":"PW","name":"Wendy Wait","phone":"07700 900111","channel":"sms"},"at":"2026-10-20T11:00","ward":"Ward 7"}"#])
        let due = try await f.core.job("wait-W1-1", by: CoreFixture.admin).job
        #expect(due.state == .due && f.engine.isDispatchPaused)
        f.set(now: due.expiresAt.addingTimeInterval(60))
        try await f.engine.runDueJobs()
        let expired = try await f.core.job("wait-W1-1", by: CoreFixture.admin)
        #expect(expired.job.state == .expired && expired.history.last?.reason.hasPrefix("not sent by ") == true, "\(expired.history.last?.reason ?? "")")
        #expect(f.logged.lines.withLock { $0.contains { $0.level == .warning && $0.message.contains("wait-W1-1") && $0.message.contains("not sent by") } })
        try await f.core.resume(by: CoreFixture.admin)
        let audit = try DaemonHarness.run("/usr/bin/sqlite3", [f.dir + "/state/touchpoint.sqlite",
            "SELECT actor, action FROM audit WHERE action IN ('\(Operation.pause.rawValue)', '\(Operation.resume.rawValue)') ORDER BY id"])
        #expect(audit.stdout == "root|pause\nroot|resume\n", "\(audit.stdout) \(audit.stderr)")
    }

    /// C-12.1 beyond the formats: a patient's details are theirs by id, an
    /// update changes only the fields it gives, and a notice goes to the
    /// number as it stands when it is sent; another patient on the same
    /// number (a shared family phone) is a record of their own.
    @Test func aChangedPhoneIsTheOneANoticeGoesToAndOnlyTheGivenFieldsChange() async throws {
        let f = try await CoreFixture(now: london(2026, 3, 29, 10, 0))
        try await f.append([
            #"{"v":1,"id":"w1","type":"surgery.booked","ref":"W1","patient":{"id":"PW","name":"Wendy Wait","phone":"07700 900111","channel":"sms","voicemail_ok":true},"at":"2026-03-29T14:00","ward":"Ward 7"}"#,
            #"{"v":1,"id":"w2","type":"surgery.booked","ref":"W2","patient":{"id":"PX","name":"Xena Wait","phone":"07700 900111","channel":"sms"},"at":"2026-03-29T15:00","ward":"Ward 7"}"#,
            #"{"v":1,"id":"u1","type":"patient.updated","patient":{"id":"PW","phone":"07700 900222"}}"#,
        ])
        f.set(now: london(2026, 3, 29, 13, 1))
        try await f.engine.runDueJobs()
        let due = try await f.engine.dueNotices(limit: 10)
        let wendy = try #require(due.first { $0.job.id == "wait-W1-1" })
        #expect(wendy.patient.phone == "+447700900222" && wendy.patient.name == "Wendy Wait" && wendy.patient.voicemailOK && wendy.patient.channel == .sms,
                "the new phone; the rest as it was")
        #expect(due.first { $0.job.id == "wait-W2-1" }?.patient.phone == "+447700900111", "the other patient on the old number keeps it")
        let record = try await f.core.job("wait-W1-1", by: CoreFixture.admin)
        #expect(record.job.patientID == "PW")
    }

    @Test func onlyAnAdminTakesABackup() async throws {
        let f = try await CoreFixture(now: Self.now)
        for person in [CoreFixture.staff, CoreFixture.ward9, CoreFixture.outsider] {
            #expect(await refusal { try await f.core.backup(by: person) }?.kind == .permissionDenied)
        }
        let b = try await f.core.backup(by: CoreFixture.admin)
        #expect(b.path.hasPrefix(f.dir + "/state/backups/touchpoint-") && b.queueLine == 3)
    }

    @Test func cancelAndRetry() async throws {
        let f = try await CoreFixture(now: Self.now)
        #expect(await refusal { try await f.core.cancel("call-S7", reason: "moved", by: CoreFixture.staff) }?.kind == .permissionDenied)
        let cancelled = try await f.core.cancel("call-S7", reason: "moved to another trust", by: CoreFixture.admin)
        #expect(cancelled.job.state == .cancelled && cancelled.history.last?.actor == "root")
        // Retry is for a failed notice: a cancelled call is refused, and nothing changes.
        #expect(await refusal { try await f.core.retry("call-S7", by: CoreFixture.admin) }?.kind == .refused)
        #expect(await refusal { try await f.core.retry("call-S7", by: CoreFixture.staff) }?.kind == .permissionDenied)
    }

    /// The core's "today" is the hospital's, by the injected clock, across
    /// both UK clock changes: at 00:30 UTC on 29 March (01:30 BST after the
    /// change at 01:00) and at 23:30 UTC on 25 October (23:30 GMT) and 23:30
    /// UTC on 24 October (00:30 BST on the 25th, before the change back).
    @Test(arguments: [
        ("2026-03-29T00:30:00Z", "2026-03-29"),
        ("2026-03-28T23:30:00Z", "2026-03-28"),
        ("2026-10-24T23:30:00Z", "2026-10-25"),
        ("2026-10-25T23:30:00Z", "2026-10-25"),
    ])
    func todayIsTheHospitalsAcrossClockChanges(_ instant: String, _ day: String) async throws {
        let now = ISO8601DateFormatter().date(from: instant)!
        let f = try await CoreFixture(now: now)
        let list = try await f.core.calls(on: .today, ward: nil, escalated: false, by: CoreFixture.staff)
        #expect(list.day?.description == day)
    }
}
