import Foundation
import Logging
import Synchronization
import TouchpointConfig
import TouchpointDispatch
import TouchpointDomain
import TouchpointLinux
import TouchpointStore

/// The application core: every operation a front end offers (the control
/// socket, the web view through it, the daily export, a signal) is a typed
/// method here that takes the acting person. The role rules are checked and
/// the audit is written here, once; the front ends only decode, call and
/// encode. The runtime (the engine's timer, dispatch, the queue watcher)
/// calls the engine's methods.
///
/// Decisions come from Domain (`Planner`, `JobStateMachine`), the store
/// keeps them, and no blocking work runs on the caller's thread: the store
/// and the queue reader have lanes of their own, and so does this core for
/// the files it reads (a reload).
public final class Touchpoint: Sendable {
    let store: Store
    /// The clock every rule of the core reads: the system's, or a test's.
    let now: @Sendable () -> Date
    /// Refusals reach the journal once a minute per person (`LogThrottle` says why).
    let refusalLog = LogThrottle<String>()
    let live: LiveConfig
    let reader: QueueReader
    let logger: Logger
    /// Tells the engine to look again now (new jobs, a change, a reload).
    let wakeEngine: @Sendable () -> Void
    /// For the core's own file work (reading a config on reload).
    let lane = BlockingLane(name: "core")
    /// Whether an admin has paused dispatch: kept in the state, and here so
    /// that dispatch asks it before each notice without a trip to the store.
    let paused: Atomic<Bool>
    /// Why the transport takes nothing now (`transportHold`), if it does not.
    let hold = Mutex<String?>(nil)
    /// When this core began to watch the feeds: a feed never heard is silent from here.
    let watchingSince: Date
    /// The feeds found silent when last looked at (`watchFeeds`).
    let silentFeeds = Reported()
    /// The escalations already logged as untaken too long (`watchEscalations`).
    let alertedEscalations = Reported()

    /// Opens the core over an opened store, with the config and templates
    /// already checked at start.
    init(store: Store, config: TouchpointConfig, templates: NoticeTemplates, logger: Logger,
         now: @escaping @Sendable () -> Date, wakeEngine: @escaping @Sendable () -> Void) async throws {
        self.store = store
        self.now = now
        self.logger = logger
        self.wakeEngine = wakeEngine
        watchingSince = now()
        let live = LiveConfig(config: config, templates: templates)
        self.live = live
        let (position, paused) = try await store.read { r in (try r.queueTotals().position, try r.isDispatchPaused()) }
        self.paused = Atomic(paused)
        reader = QueueReader(path: config.queueFile, clock: config.clock, store: store, position: position, logger: logger, now: now,
                             rules: { live.config.schedulingRules })
    }

    /// The configuration in force.
    public var config: TouchpointConfig { live.config }
    public var templates: NoticeTemplates { live.templates }
    /// Bumped by each reload: anything derived from the config may be stale.
    public var configGeneration: UInt64 { live.generation }
    public var startedAt: Date { live.startedAt }

    /// Stops reading the queue (at shutdown).
    func stop() { reader.stop() }

    /// Why the queue file cannot be read now, if it cannot.
    public var queueProblem: String? { reader.health.withLock { $0.problem } }

    var groups: RoleGroups {
        let c = live.config.control
        return RoleGroups(admin: c.adminGroup, staff: c.staffGroup, delegate: c.delegateGroup, feed: c.feedGroup)
    }

    /// Refuses `person` unless their role allows `op`; a refusal is logged.
    func authorize(_ op: Operation, _ person: Person) throws(CoreFailure) {
        do {
            try op.authorize(person, groups: groups)
        } catch {
            if let leftOut = refusalLog.admit(person.recordedName, at: now()) {
                logger.notice("\(op.rawValue) refused for \(person.recordedName): \(error.message)\(LogThrottle<String>.suffix(leftOut))",
                              metadata: ["MESSAGE_ID": "\(MessageID.controlDenied)"])
            }
            throw error
        }
    }

    /// Runs store work, turning a failure to read or write the state into
    /// one the person can act on.
    func stored<T: Sendable>(_ what: String, _ work: () async throws -> T) async throws(CoreFailure) -> T {
        do {
            return try await work()
        } catch let f as CoreFailure {
            throw f
        } catch {
            logger.error("\(what) failed: \(error)", metadata: ["MESSAGE_ID": "\(MessageID.stateError)"])
            throw CoreFailure(.failed, "\(what) failed: \(error)")
        }
    }
}

// MARK: Who is asking

/// A client of the control socket as the kernel vouches for it
/// (`SO_PEERCRED`), with the groups it was in when it connected.
public struct Peer: Sendable, Equatable {
    public var uid: UInt32
    public var name: String
    public var isAdmin: Bool
    public var isStaff: Bool
    public var isDelegate: Bool
    /// In `control.feed_group`: the feed role, whatever else it is in.
    public var isFeed: Bool = false
}

extension Touchpoint {
    /// Looks a client up in the account database, on the core's lane (a
    /// hospital's accounts may come from a directory over the network: never
    /// an event loop's wait).
    public func peer(uid: UInt32, gid: UInt32) async -> Peer {
        let g = groups
        let lookup: @Sendable () -> Peer = {
            let name = UnixAccounts.userName(uid: uid) ?? "uid \(uid)"
            if uid == 0 { return Peer(uid: 0, name: name, isAdmin: true, isStaff: true, isDelegate: false) }
            let memberOf = UnixAccounts.groups(of: name, primary: gid)
            func member(_ group: String) -> Bool { UnixAccounts.gid(of: group).map(memberOf.contains) ?? false }
            return Peer(uid: uid, name: name, isAdmin: member(g.admin), isStaff: member(g.staff), isDelegate: member(g.delegate),
                        isFeed: member(g.feed))
        }
        return (try? await lane.run(lookup)) ?? Peer(uid: uid, name: "uid \(uid)", isAdmin: false, isStaff: false, isDelegate: false)
    }

    /// The person a request from `peer` acts for. `actingFor` is the
    /// request's `as`: accepted only from a member of
    /// `control.delegate_group`, and the named person then acts as staff
    /// (the web view has no admin functions).
    public func person(for peer: Peer, actingFor: String?, wards: [String]? = nil) throws(CoreFailure) -> Person {
        guard let actingFor else {
            if wards != nil { throw .badRequest("wards to act within (\"as_wards\") go with a person to act for (\"as\")") }
            // The feed group wins over every other: the receiver's user is in
            // the staff group only to open the socket (`hl7.md`).
            if peer.isFeed && peer.uid != 0 { return Person(name: peer.name, role: .feed) }
            return Person(name: peer.name, role: peer.isAdmin ? .admin : peer.isStaff ? .staff : nil)
        }
        guard peer.isDelegate, !peer.isFeed, peer.uid != 0 else {
            if let leftOut = refusalLog.admit(peer.name, at: now()) {
                logger.notice("a request acting for someone else was refused for \(peer.name): not in \(groups.delegate)\(LogThrottle<String>.suffix(leftOut))",
                              metadata: ["MESSAGE_ID": "\(MessageID.controlDenied)"])
            }
            throw .permissionDenied("permission denied: only members of the group \(groups.delegate) may act for someone else (\"as\"); \(peer.name) is not one")
        }
        let who = actingFor.trimmingCharacters(in: .whitespaces)
        guard !who.isEmpty, who.count <= 64, who.unicodeScalars.allSatisfy({ $0.value >= 0x20 && $0.value != 0x7F }) else {
            throw .badRequest("\"as\" must name a person (1 to 64 printable characters)")
        }
        if let wards, wards.contains(where: { $0.isEmpty || $0.count > 200 }) {
            throw .badRequest("each ward to act within (\"as_wards\") must be a ward's name")
        }
        return Person(name: who, role: .staff, via: .delegate(delegateUser: peer.name), wards: wards)
    }
}

/// Proof that the core allowed an operation for a person: only `check`
/// makes one, and a front end's shortcut (a cached reply) takes one, so no
/// cache can answer someone the role rules refuse.
public struct Authorization: Sendable {
    public let operation: Operation
    public let person: Person
    fileprivate init(_ operation: Operation, _ person: Person) {
        self.operation = operation
        self.person = person
    }
}

extension Touchpoint {
    /// Refuses `person` unless their role allows `op`: for a front end that
    /// must say "permission denied" before it looks at the request's details.
    @discardableResult
    public func check(_ op: Operation, for person: Person) throws(CoreFailure) -> Authorization {
        try authorize(op, person)
        return Authorization(op, person)
    }

    /// `check` without the log line for a refusal: for a fast path that,
    /// refused, passes the request on to the ordinary path (which logs it).
    public func quietCheck(_ op: Operation, for person: Person) -> Authorization? {
        (try? op.authorize(person, groups: groups)).map { Authorization(op, person) }
    }
}
