import Foundation
import Synchronization
import TouchpointControl
import TouchpointCore
import TouchpointDomain
import TouchpointStore

/// The control socket's harness over the core: decodes a request, asks the
/// core on behalf of the person behind it, encodes the answer. It decides
/// nothing: roles, rules and the audit are the core's.
struct ControlRequests: Sendable {
    let core: Touchpoint
    /// Reloads the config (the daemon wraps the core's reload in systemd's
    /// RELOADING=1 ... READY=1).
    let reload: @Sendable (Person) async throws(CoreFailure) -> Void
    /// The last `status` reply, as sent.
    let statusReplies = StatusReplyCache()
    /// Small requests seen lately, decoded: a probe sends the same bytes each time.
    let recentRequests = RecentRequests()

    /// The reply frame's payload, and whether the connection stays open.
    /// Runs on the caller's executor (the connection's event loop): a cheap
    /// command such as `status` is answered without a hop to another thread.
    /// `refused`: the request was not one this peer may make (permission
    /// denied, an unknown command, a malformed frame): the connection's
    /// activity does not count it, and a run of them closes the connection.
    /// An answer that is "no" to a request that may be made (not found, a
    /// call already closed) is ordinary work: a script polling for a job
    /// that has not appeared yet is not an attacker.
    nonisolated(nonsending) func handle(_ payload: [UInt8], peer: Peer) async -> (reply: Data, keepOpen: Bool, refused: Bool) {
        let request: ControlRequest
        switch recentRequests.decode(payload) {
        case .failure(let f): return (ControlReply.failure(f), false, true)
        case .success(let r): request = r
        }
        let command: ControlCommand
        do throws(ControlFailure) {
            command = try ControlCommand(decoding: request)
        } catch {
            return (ControlReply.failure(error), true, true)
        }
        do throws(CoreFailure) {
            let person = try core.person(for: peer, actingFor: request.as, wards: request.asWards)
            return (try await run(command, person), true, false)
        } catch {
            return (ControlReply.failure(Self.wire(error)), true, error.kind == .permissionDenied)
        }
    }

    static func wire(_ f: CoreFailure) -> ControlFailure {
        var wire: ControlFailure
        switch f.kind {
        case .permissionDenied: wire = ControlFailure(.permissionDenied, f.message)
        case .notFound: wire = ControlFailure(.notFound, f.message)
        case .badRequest: wire = ControlFailure(.badRequest, f.message)
        case .refused, .failed: wire = ControlFailure(.failed, f.message)
        }
        wire.field = f.field
        return wire
    }

    /// The `status` reply if `payload` asks for it plainly, the peer may have
    /// it, and it is already made for the current state; else nil.
    func readyStatusReply(_ payload: [UInt8], peer: Peer) -> Data? {
        guard case .success(let request) = recentRequests.decode(payload),
              request.command == ControlCommand.Name.status.rawValue, request.as == nil, request.args == .init(),
              let person = try? core.person(for: peer, actingFor: nil),
              let allowed = core.quietCheck(.status, for: person) else { return nil }
        return statusReplies.reply(for: core.statusVersion, allowed)
    }

    private var zone: String { core.config.clock.identifier }

    nonisolated(nonsending) private func run(_ command: ControlCommand, _ person: Person) async throws(CoreFailure) -> Data {
        switch command {
        case .status: return try await status(person)
        case .calls(let q): return try await calls(q, person)
        case .outcome(let o): return try await outcome(o, person)
        case .jobs(let q): return try await jobs(q, person)
        case .job(let id):
            return ControlReply.success(WireViews.record(try await core.job(id, by: person), timeZone: zone))
        case .explain(let ref):
            return ControlReply.success(WireViews.explain(ref, try await core.explain(ref, by: person), timeZone: zone))
        case .rejects(let limit, let showLine):
            let (records, total) = try await core.rejects(limit: max(1, min(limit ?? 50, 10_000)), withLines: showLine, by: person)
            return ControlReply.success(WireViews.rejects(records, total: total))
        case .report(let q):
            return try await report(q, person)
        case .ingest:
            let s = try await core.ingest(by: person)
            return ControlReply.success(IngestReport(ingested: s.counts.ingested, duplicates: s.counts.duplicates,
                                                     rejected: s.counts.rejected, offset: s.position.offset))
        case .pause, .resume:
            try await (command == .pause ? core.pause(by: person) : core.resume(by: person))
            return try await status(person)
        case .reload:
            try await reload(person)
            return try await status(person)
        case .cancel(let id, let reason):
            return ControlReply.success(WireViews.record(try await core.cancel(id, reason: reason, by: person), timeZone: zone))
        case .retry(let id):
            return ControlReply.success(WireViews.record(try await core.retry(id, by: person), timeZone: zone))
        case .take(let id):
            return ControlReply.success(WireViews.record(try await core.take(id, by: person), timeZone: zone))
        case .patientKnown(let id):
            return ControlReply.success(PatientKnownReport(known: try await core.patientKnown(id, by: person)))
        case .reopen(let id, let reason):
            return ControlReply.success(WireViews.record(try await core.reopen(id, reason: reason, by: person), timeZone: zone))
        case .undeceased(let patient, let reason):
            let records = try await core.undeceased(patient, reason: reason, by: person)
            return ControlReply.success(JobsReport(jobs: records.map { WireViews.record($0, timeZone: zone) }, timeZone: zone))
        case .backup:
            let b = try await core.backup(by: person)
            return ControlReply.success(BackupReport(path: b.path, bytes: b.bytes, queueLine: b.queueLine, removed: b.removed))
        }
    }

    nonisolated(nonsending) private func report(_ q: ReportQuery, _ person: Person) async throws(CoreFailure) -> Data {
        try core.check(.report, for: person)
        let period = try ReportPeriod.parse(month: q.month, from: q.from, to: q.to, recent: q.recent).get()
        if let list = q.list, PledgeReportView.measure(list) == nil {
            throw .badRequest("the list asked for takes PROMISE.MEASURE, one of: \(PledgeReportView.allMeasures.joined(separator: ", "))", field: "list")
        }
        let r = try await core.report(period, place: q.ward, listing: q.list.flatMap(PledgeReportView.measure), by: person)
        return ControlReply.success(PledgeReportView(r, timeZone: zone, list: q.list))
    }

    /// The same state gives the same bytes: encoded again only after a
    /// write, a new second of uptime, a queue problem or a reload.
    nonisolated(nonsending) private func status(_ person: Person) async throws(CoreFailure) -> Data {
        let version = core.statusVersion
        let plain = person.via == .socket
        // The cache answers only someone the core allowed (it takes the proof):
        // it once answered an outsider whom core.status would have refused.
        let allowed = try core.check(.status, for: person)
        if plain, let cached = statusReplies.reply(for: version, allowed) { return cached }
        let reply = ControlReply.success(WireViews.status(try await core.status(by: person), timeZone: zone))
        if plain { statusReplies.keep(reply, for: version) }
        return reply
    }

    nonisolated(nonsending) private func calls(_ q: CallsQuery, _ person: Person) async throws(CoreFailure) -> Data {
        try core.check(.calls, for: person)
        guard let day = CallDay(q.date ?? "today") else {
            throw .badRequest("the day \"\((q.date ?? "").prefix(40))\" is not one: expected YYYY-MM-DD, today, tomorrow or yesterday", field: "date")
        }
        let list = try await core.calls(on: day, ward: q.ward, escalated: q.escalated, list: q.list, unassigned: q.unassigned, by: person)
        return ControlReply.success(json: WireViews.calls(list).json())
    }

    nonisolated(nonsending) private func outcome(_ o: OutcomeRequest, _ person: Person) async throws(CoreFailure) -> Data {
        let record = try await core.recordOutcome(o.outcome, on: o.job, woundCare: o.woundCare, note: o.note, seenOutcomes: o.seenOutcomes,
                                                concern: o.concern, by: person)
        return ControlReply.success(WireViews.record(record, timeZone: zone))
    }

    nonisolated(nonsending) private func jobs(_ q: JobsQuery, _ person: Person) async throws(CoreFailure) -> Data {
        try core.check(.jobs, for: person)
        var filter = JobFilter(ref: q.ref, patientID: q.patient, dueFrom: q.dueFrom, dueTo: q.dueTo, limit: max(1, min(q.limit ?? 100, 100_000)))
        if let k = q.kind {
            let known = JobKind.builtIns + [.concernFollowUp] + core.config.schedulingRules.contacts.map(\.kind)
            guard known.contains(JobKind(rawValue: k)) else {
                throw .badRequest("unknown kind \"\(k.prefix(40))\"; expected one of \(known.map(\.rawValue).joined(separator: ", "))", field: "kind")
            }
            filter.kind = JobKind(rawValue: k)
        }
        if let s = q.state {
            guard let state = JobState(rawValue: s) else {
                throw .badRequest("unknown state \"\(s.prefix(40))\"; expected one of \(JobState.allCases.map(\.rawValue).joined(separator: ", "))", field: "state")
            }
            filter.state = state
        }
        if let d = q.delivery {
            if d == DeliveryStatus.anyFailureWord {
                filter.delivery = DeliveryStatus.allCases.filter(\.isFailure)
            } else if let status = DeliveryStatus(rawValue: d) {
                filter.delivery = [status]
            } else {
                throw .badRequest("unknown delivery \"\(d.prefix(40))\"; expected failed or one of \(DeliveryStatus.allCases.map(\.rawValue).joined(separator: ", "))", field: "delivery")
            }
        }
        let jobs = try await core.jobs(filter, by: person)
        return ControlReply.success(JobsReport(jobs: jobs.map { WireViews.job($0) }, timeZone: zone))
    }
}

/// The last `status` reply and what it was made from.
final class StatusReplyCache: Sendable {
    private let last = Mutex<(version: StatusVersion, reply: Data)?>(nil)

    /// The reply kept for `version`, to someone the core allowed `status`.
    func reply(for version: StatusVersion, _ allowed: Authorization) -> Data? {
        guard allowed.operation == .status else { return nil }
        return last.withLock { $0?.version == version ? $0?.reply : nil }
    }
    func keep(_ reply: Data, for version: StatusVersion) { last.withLock { $0 = (version, reply) } }
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
