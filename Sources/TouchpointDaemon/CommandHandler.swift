import Foundation
import Logging
import Synchronization
import TouchpointConfig
import TouchpointControl
import TouchpointDomain
import TouchpointStore
import TouchpointSystemd

/// Answers control requests: checks the caller's role, runs the command,
/// records changes in the audit log with the caller's user name.
struct CommandHandler: Sendable {
    let store: Store
    let reader: QueueReader
    let runtime: RuntimeState
    let timer: WakeTimer
    let logger: Logger
    /// Re-reads the config (the same as SIGHUP); returns the problems if refused.
    let reload: @Sendable (String) -> ConfigError?
    /// The last `status` reply, as sent.
    let statusReplies = StatusReplyCache()
    /// Small requests seen lately, decoded: a probe sends the same bytes each time.
    let recentRequests = RecentRequests()

    /// The role each command needs (`cli.md`).
    static let roles: [String: Role] = [
        "status": .staff, "rejects": .staff, "ingest": .admin, "jobs": .staff, "job": .staff, "explain": .staff,
        "calls": .staff, "outcome": .staff,
        "pause": .admin, "resume": .admin, "reload": .admin, "cancel": .admin, "retry": .admin,
    ]

    /// The reply frame's payload, and whether the connection stays open.
    /// Runs on the caller's executor (the connection's event loop): a cheap
    /// command such as `status` is answered without a hop to another thread.
    nonisolated(nonsending) func handle(_ payload: [UInt8], caller: Caller) async -> (Data, Bool) {
        let request: ControlRequest
        switch recentRequests.decode(payload) {
        case .failure(let f):
            return (ControlReply.failure(f), false)
        case .success(let r):
            request = r
        }
        guard let needed = Self.roles[request.command] else {
            return (ControlReply.failure(ControlFailure(.unknownCommand, "unknown command \"\(request.command.prefix(40))\"; this touchpointd knows \(Self.roles.keys.sorted().joined(separator: ", "))")), true)
        }
        guard let role = caller.role else {
            let config = runtime.config
            logger.notice("control request \(request.command) refused for \(caller.userName): in neither group",
                          metadata: ["MESSAGE_ID": "\(MessageID.controlDenied)"])
            let group = needed == .admin ? config.control.adminGroup : config.control.staffGroup
            return (ControlReply.failure(ControlFailure(.permissionDenied, "permission denied: \(caller.userName) is not in the group \(group) (ask an admin to add you)")), true)
        }
        var required = needed
        if request.command == "rejects" && request.args.showLine == true { required = .admin }
        guard role >= required else {
            logger.notice("control request \(request.command) refused for \(caller.userName): needs \(required.rawValue)",
                          metadata: ["MESSAGE_ID": "\(MessageID.controlDenied)"])
            let what = request.command == "rejects" ? "rejects --show-line" : request.command
            return (ControlReply.failure(ControlFailure(.permissionDenied, "permission denied: \(what) needs the admin role (root or the group \(runtime.config.control.adminGroup))")), true)
        }
        do {
            return (try await run(request, caller: caller), true)
        } catch let f as ControlFailure {
            return (ControlReply.failure(f), true)
        } catch {
            logger.error("control request \(request.command) failed: \(error)")
            return (ControlReply.failure(ControlFailure(.failed, "\(request.command) failed: \(error)")), true)
        }
    }

    /// The `status` reply if `payload` asks for it, the caller may have it,
    /// and it is already made for the current state; else nil.
    func readyStatusReply(_ payload: [UInt8], caller: Caller) -> Data? {
        guard caller.role != nil, case .success(let request) = recentRequests.decode(payload),
              request.command == "status", request.args == .init() else { return nil }
        return statusReplies.reply(for: statusKey())
    }

    func statusKey() -> StatusReplyCache.Key {
        StatusReplyCache.Key(writes: store.writeCount, uptime: Int(Date().timeIntervalSince(runtime.startedAt)),
                             problem: reader.health.withLock { $0.problem }, config: runtime.generation)
    }

    nonisolated(nonsending) private func run(_ request: ControlRequest, caller: Caller) async throws -> Data {
        switch request.command {
        case "status":
            // The same state gives the same bytes: encoded again only after a
            // write, a new second of uptime, a queue problem or a reload.
            let key = statusKey()
            if let cached = statusReplies.reply(for: key) { return cached }
            let reply = ControlReply.success(try await status())
            statusReplies.keep(reply, for: key)
            return reply
        case "ingest":
            switch await reader.readAvailable() {
            case .failure(let e):
                throw ControlFailure(.failed, e.description)
            case .success(let (counts, position)):
                if counts.changedJobs { timer.poke() }
                try? store.audit(actor: caller.userName, action: "ingest",
                                 detail: "\(counts.ingested) applied, \(counts.duplicates) duplicates, \(counts.rejected) rejected")
                return ControlReply.success(IngestReport(ingested: counts.ingested, duplicates: counts.duplicates,
                                                         rejected: counts.rejected, offset: position.offset))
            }
        case "rejects":
            let limit = max(1, min(request.args.limit ?? 50, 10_000))
            let showLine = request.args.showLine == true
            let records = try await store.rejects(limit: limit, withRaw: showLine)
            if showLine { try? store.audit(actor: caller.userName, action: "rejects --show-line", detail: "\(records.count) lines shown") }
            let total = try await store.queueTotalsAsync().counts.rejected
            return ControlReply.success(RejectsReport(
                rejects: records.map {
                    .init(line: $0.line, offset: $0.offset, eventID: $0.eventID, code: $0.code, message: $0.message,
                          at: $0.at, rawLine: $0.raw)
                }, total: total))
        case "jobs":
            let a = request.args
            var filter = JobFilter(limit: max(1, min(a.limit ?? 100, 100_000)))
            if let k = a.kind {
                guard let kind = JobKind(rawValue: k) else {
                    throw ControlFailure(.badRequest, "unknown kind \"\(k)\"; expected one of \(JobKind.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                filter.kind = kind
            }
            if let s = a.state {
                guard let state = JobState(rawValue: s) else {
                    throw ControlFailure(.badRequest, "unknown state \"\(s)\"; expected one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                filter.state = state
            }
            filter.ref = a.ref
            filter.patientID = a.patient
            filter.dueFrom = a.dueFrom
            filter.dueTo = a.dueTo
            return ControlReply.success(JobsReport(jobs: try await store.jobs(filter).map { Self.view($0) }))
        case "job":
            guard let id = request.args.job, let (job, history) = try await store.job(id: id) else {
                throw ControlFailure(.notFound, "no job \"\(request.args.job ?? "")\" (touchpointctl jobs lists them)")
            }
            var view = Self.view(job, history: history)
            if job.kind.isNotice {
                view.deliveries = try await store.deliveries(jobID: id).map { .init(at: $0.at, result: $0.result, detail: $0.detail) }
            }
            return ControlReply.success(view)
        case "explain":
            guard let ref = request.args.ref else { throw ControlFailure(.badRequest, "explain needs a booking ref") }
            let found = try await store.explain(ref: ref)
            guard !found.isEmpty else {
                throw ControlFailure(.notFound, "no booking \"\(ref)\": it was never booked, or its booking was rejected (touchpointctl rejects)")
            }
            var bookings: [ExplainReport.BookingSummary] = []
            var jobs: [JobView] = []
            for (b, js) in found {
                let p = try store.patient(id: b.patientID)
                bookings.append(.init(kind: b.kind.rawValue, at: b.at, cancelled: b.cancelled, revision: b.revision,
                                      patientDeceased: p?.deceased ?? false, patientOptedOut: p?.optedOut ?? false))
                jobs += js.map { Self.view($0.0, history: $0.1, reason: true) }
            }
            return ControlReply.success(ExplainReport(ref: ref, bookings: bookings, jobs: jobs))
        case "calls":
            let a = request.args
            let config = runtime.config
            let rules = config.schedulingRules
            let today = rules.clock.localDate(of: Date())
            let day: LocalDate
            switch a.date ?? "today" {
            case "today": day = today
            case "tomorrow": day = today.adding(days: 1)
            case "yesterday": day = today.adding(days: -1)
            case let d:
                guard let parsed = LocalDate(iso: d) else {
                    throw ControlFailure(.badRequest, "--date \"\(d.prefix(40))\": expected YYYY-MM-DD, today, tomorrow or yesterday")
                }
                day = parsed
            }
            let escalated = a.escalated == true
            let rows = try await store.calls(day: day, ward: a.ward, escalated: escalated, rules: rules)
            return ControlReply.success(json: CallsReport(
                date: escalated ? nil : day.description, ward: a.ward, escalated: escalated, hospital: config.hospital.name,
                calls: rows.map {
                    CallEntry(job: Self.view($0.job), patientName: $0.patientName, phone: $0.phone, voicemailOK: $0.voicemailOK,
                              procedure: $0.procedure, surgeryAt: $0.surgeryAt, lastAttemptAt: $0.job.lastAttemptAt, note: $0.job.note)
                }).json())
        case "outcome":
            let a = request.args
            guard let id = a.job, let raw = a.outcome else { throw ControlFailure(.badRequest, "outcome needs a job and an outcome") }
            guard let outcome = CallOutcome(rawValue: raw) ?? CallOutcome(commandLine: raw) else {
                throw ControlFailure(.badRequest, "unknown outcome \"\(raw.prefix(40))\"; expected one of \(CallOutcome.allCases.map(\.commandLine).joined(separator: ", "))")
            }
            let rules = runtime.config.schedulingRules
            let store = self.store
            let actor = caller.userName
            let result = try await offload {
                try store.recordOutcome(jobID: id, outcome: outcome, woundCare: a.woundCare, note: a.note, actor: actor,
                                        now: Date(), rules: rules)
            }
            switch result {
            case .failure(let refusal):
                throw ControlFailure(.failed, refusal.message)
            case .success(let job):
                // The note may hold clinical detail: it is never logged.
                logger.info("call \(job.id) (\(job.ref)): outcome \(outcome.rawValue) recorded by \(actor); now \(job.state.rawValue)",
                            metadata: ["MESSAGE_ID": "\(MessageID.forState(job.state))", "job": "\(job.id)", "ref": "\(job.ref)",
                                       "kind": "\(job.kind.rawValue)", "state": "\(job.state.rawValue)"])
                timer.poke()
                guard let (j, h) = try await store.job(id: id) else { throw ControlFailure(.notFound, "no job \"\(id)\"") }
                return ControlReply.success(Self.view(j, history: h))
            }
        case "pause", "resume":
            let paused = request.command == "pause"
            try store.setMeta("dispatch.paused", paused ? "1" : "0")
            try store.audit(actor: caller.userName, action: request.command)
            logger.notice("dispatch \(paused ? "paused" : "resumed") by \(caller.userName)")
            timer.poke()
            return ControlReply.success(try await status())
        case "reload":
            if let problems = reload(caller.userName) {
                throw ControlFailure(.failed, "the new configuration was refused; the running one stays: " + problems.description.replacingOccurrences(of: "\n", with: "; "))
            }
            return ControlReply.success(try await status())
        case "cancel", "retry":
            guard let id = request.args.job else { throw ControlFailure(.badRequest, "\(request.command) needs a job id") }
            let reason = request.args.note ?? ""
            if request.command == "cancel" && reason.trimmingCharacters(in: .whitespaces).isEmpty {
                throw ControlFailure(.badRequest, "cancel needs --reason saying why")
            }
            let rules = runtime.config.schedulingRules
            let (store, actor, command) = (self.store, caller.userName, request.command)
            let result = try await offload {
                command == "cancel"
                    ? try store.cancelJob(id: id, reason: reason, actor: actor, now: Date(), rules: rules)
                    : try store.retryJob(id: id, actor: actor, now: Date(), rules: rules)
            }
            switch result {
            case .failure(let refusal):
                throw ControlFailure(.failed, refusal.message)
            case .success(let job):
                logger.notice("job \(job.id) (\(job.ref)): \(command) by \(actor); now \(job.state.rawValue)",
                              metadata: ["MESSAGE_ID": "\(MessageID.forState(job.state))", "job": "\(job.id)", "ref": "\(job.ref)",
                                         "kind": "\(job.kind.rawValue)", "state": "\(job.state.rawValue)"])
                timer.poke()
                guard let (j, h) = try await store.job(id: id) else { throw ControlFailure(.notFound, "no job \"\(id)\"") }
                return ControlReply.success(Self.view(j, history: h))
            }
        default:
            throw ControlFailure(.unknownCommand, "unknown command \"\(request.command)\"")
        }
    }

    static func view(_ j: Job, history: [JobHistoryEntry]? = nil, reason: Bool = false) -> JobView {
        JobView(id: j.id, kind: j.kind.rawValue, ref: j.ref, patientID: j.patientID, state: j.state.rawValue,
                dueAt: j.dueAt, expiresAt: j.expiresAt, createdAt: j.createdAt, attempts: j.attempts, revision: j.revision,
                ward: j.ward, outcome: j.outcome, woundCare: j.woundCare, overdueSince: j.overdueSince?.description,
                expectedAt: j.expectedAt, delayReason: j.delayReason,
                history: history?.map { .init(at: $0.at, actor: $0.actor, from: $0.from, to: $0.to, reason: $0.reason) },
                reason: reason ? j.rule : nil)
    }

    nonisolated(nonsending) func status() async throws -> StatusReport {
        let s = try await store.statusSnapshot()
        let config = runtime.config
        return StatusReport(
            version: TouchpointVersion.string, state: s.paused ? "paused" : "running",
            uptimeSeconds: Int(Date().timeIntervalSince(runtime.startedAt)),
            queue: .init(path: config.queueFile, offset: s.totals.position.offset, line: s.totals.position.line,
                         ingested: s.totals.counts.ingested, duplicates: s.totals.counts.duplicates,
                         rejected: s.totals.counts.rejected, error: reader.health.withLock { $0.problem },
                         lastReadAt: s.totals.lastReadAt),
            patients: s.patients, bookings: s.bookings,
            jobs: s.jobCounts, nextDueAt: s.nextDueAt, lastDispatch: s.lastDispatch)
    }
}

/// The last `status` reply and what it was made from.
final class StatusReplyCache: Sendable {
    struct Key: Equatable {
        var writes: UInt64
        var uptime: Int
        var problem: String?
        /// The config's generation (a reload may move the queue file).
        var config: UInt64
    }

    private let last = Mutex<(key: Key, reply: Data)?>(nil)

    func reply(for key: Key) -> Data? { last.withLock { $0?.key == key ? $0?.reply : nil } }
    func keep(_ reply: Data, for key: Key) { last.withLock { $0 = (key, reply) } }
}

/// Decoded small requests by their bytes. Decoding is a pure function of the
/// payload, so a monitoring probe that asks `status` thousands of times a
/// second has it decoded once.
final class RecentRequests: Sendable {
    static let maximumBytes = 256
    static let capacity = 64
    private let known = Mutex<[[UInt8]: ControlRequest]>([:])

    func decode(_ payload: [UInt8]) -> Result<ControlRequest, ControlFailure> {
        guard payload.count <= Self.maximumBytes else { return ControlRequest.decode(payload) }
        if let hit = known.withLock({ $0[payload] }) { return .success(hit) }
        let result = ControlRequest.decode(payload)
        if case .success(let request) = result {
            known.withLock {
                if $0.count >= Self.capacity { $0.removeAll(keepingCapacity: true) }
                $0[payload] = request
            }
        }
        return result
    }
}
