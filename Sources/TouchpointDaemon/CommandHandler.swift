import Foundation
import Logging
import Synchronization
import TouchpointControl
import TouchpointStore
import TouchpointSystemd

/// Answers control requests: checks the caller's role, runs the command,
/// records changes in the audit log with the caller's user name.
struct CommandHandler: Sendable {
    let store: Store
    let reader: QueueReader
    let runtime: RuntimeState
    let logger: Logger

    /// The role each command needs (`cli.md`).
    static let roles: [String: Role] = [
        "status": .staff, "rejects": .staff, "ingest": .admin,
    ]

    /// The reply frame's payload, and whether the connection stays open.
    func handle(_ payload: [UInt8], caller: Caller) async -> (Data, Bool) {
        let request: ControlRequest
        switch ControlRequest.decode(payload) {
        case .failure(let f):
            return (ControlReply.failure(f), false)
        case .success(let r):
            request = r
        }
        guard let needed = Self.roles[request.command] else {
            return (ControlReply.failure(ControlFailure(.unknownCommand, "unknown command \"\(request.command.prefix(40))\"; this touchpointd knows \(Self.roles.keys.sorted().joined(separator: ", "))")), true)
        }
        let config = runtime.config
        guard let role = caller.role else {
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
            return (ControlReply.failure(ControlFailure(.permissionDenied, "permission denied: \(what) needs the admin role (root or the group \(config.control.adminGroup))")), true)
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

    private func run(_ request: ControlRequest, caller: Caller) async throws -> Data {
        switch request.command {
        case "status":
            return ControlReply.success(try await status())
        case "ingest":
            switch await reader.readAvailable() {
            case .failure(let e):
                throw ControlFailure(.failed, e.description)
            case .success(let (counts, position)):
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
        default:
            throw ControlFailure(.unknownCommand, "unknown command \"\(request.command)\"")
        }
    }

    func status() async throws -> StatusReport {
        let totals = try await store.queueTotalsAsync()
        let counts = try await store.counts()
        let config = runtime.config
        return StatusReport(
            version: TouchpointVersion.string, state: "running",
            uptimeSeconds: Int(Date().timeIntervalSince(runtime.startedAt)),
            queue: .init(path: config.queueFile, offset: totals.position.offset, line: totals.position.line,
                         ingested: totals.counts.ingested, duplicates: totals.counts.duplicates,
                         rejected: totals.counts.rejected, error: reader.health.withLock { $0.problem },
                         lastReadAt: totals.lastReadAt),
            patients: counts["patients"] ?? 0, bookings: counts["bookings"] ?? 0)
    }
}
