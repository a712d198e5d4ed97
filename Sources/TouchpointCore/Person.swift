import Foundation
import TouchpointDomain

/// What a person may do (`cli.md`, Roles). Admins may do everything staff
/// may. `feed` is not a person: a writer of the queue (the HL7 receiver)
/// that may ask `status` and `patient-known`, and nothing a person asks.
public enum Role: String, Sendable, Codable {
    case feed, staff, admin
}

/// How a request reached the core: the history and the audit say so.
public enum Via: Sendable, Equatable {
    /// `touchpointctl` (or anything else) on the control socket, as its Unix user.
    case socket
    /// A delegate (the web view, running as `delegateUser`) acting for a named person.
    case delegate(delegateUser: String)
    /// The daemon itself: a signal, the daily export, the engine.
    case daemon
}

/// The person on whose behalf an operation runs. Every operation of the core
/// takes one: the role decides what is allowed, the name goes into the job's
/// history and the audit trail.
public struct Person: Sendable, Equatable {
    /// A Unix user name, or the name a delegate vouches for.
    public var name: String
    /// nil: in neither group (refused everything).
    public var role: Role?
    public var via: Via
    /// The wards this person's work is limited to (an account of the web
    /// view limited with `--ward`); nil: every ward. Every operation holds
    /// to it, in the same transaction as what it reads or changes: a call
    /// of another ward is not found, a list is of these wards only.
    public var wards: [String]?

    public init(name: String, role: Role?, via: Via = .socket, wards: [String]? = nil) {
        self.name = name
        self.role = role
        self.via = via
        self.wards = wards.flatMap { $0.isEmpty ? nil : $0 }
    }

    /// The refusal for asking about a ward outside the person's.
    func outsideWards(_ ward: String) -> CoreFailure {
        .permissionDenied("permission denied: \(name) works on \((wards ?? []).joined(separator: ", ")) only, not \(ward.prefix(60))")
    }

    /// Whether a job, call or booking of `ward` is this person's to see
    /// (with a scope, one of no ward is not).
    public func sees(ward: String?) -> Bool {
        guard let wards else { return true }
        return ward.map { WardNames.contains(wards, $0) } ?? false
    }

    /// Whether a call of `ward` is this person's to see and act on: their
    /// wards', or one on the unassigned list, which everyone sees (a call of
    /// a ward nobody named must not be seen by nobody).
    public func sees(call ward: String?, names: WardNames) -> Bool {
        names.isUnassigned(ward) || sees(ward: ward)
    }

    /// Whether `job` is this person's to see: a check-in call as above, any
    /// other job by its ward alone.
    public func sees(_ job: Job, names: WardNames) -> Bool {
        job.kind == .checkinCall ? sees(call: job.ward, names: names) : sees(ward: job.ward)
    }

    /// How the history and the audit name this person: `alice`, or
    /// `alice via web` for someone the web view acts for (never the web
    /// view's own user alone).
    public var recordedName: String {
        if case .delegate = via { return "\(name) via web" }
        return name
    }

    /// The daemon acting on its own account (SIGHUP, the daily export).
    public static func daemon(_ what: String) -> Person { Person(name: what, role: .admin, via: .daemon) }
}

/// Every operation the core offers, with the role it needs: the one place
/// the role rules live. Staff operations may also be asked for by a delegate
/// on someone's behalf; admin ones never.
public enum Operation: String, Sendable, CaseIterable {
    case status, calls, outcome, jobs, job, explain, rejects, report
    case rejectsWithLines = "rejects with raw lines"
    case ingest, pause, resume, reload, cancel, retry, take, reopen, undeceased, backup
    case patientKnown = "patient-known"

    /// The person's role it needs (admins may do what staff may).
    public var needs: Role {
        switch self {
        case .status, .calls, .outcome, .jobs, .job, .explain, .rejects, .report, .take, .reopen: return .staff
        case .rejectsWithLines, .ingest, .pause, .resume, .reload, .cancel, .retry, .patientKnown, .undeceased, .backup: return .admin
        }
    }

    /// Whether the `feed` role may ask it: `status` and `patient-known`, no more
    /// (a compromised receiver, the part facing the hospital network, reads no call list).
    public var forFeed: Bool { self == .status || self == .patientKnown }

    func allows(_ role: Role) -> Bool {
        switch role {
        case .feed: return forFeed
        case .staff: return needs == .staff
        case .admin: return true
        }
    }
}

/// The groups behind the roles, for messages that say which one to join.
public struct RoleGroups: Sendable, Equatable {
    public var admin: String
    public var staff: String
    public var delegate: String
    public var feed: String

    public init(admin: String, staff: String, delegate: String, feed: String = "touchpoint-feed") {
        self.feed = feed
        self.admin = admin
        self.staff = staff
        self.delegate = delegate
    }
}

extension Operation {
    /// Refuses `person` unless their role allows this operation (and, acting
    /// through a delegate, unless it is a staff operation).
    func authorize(_ person: Person, groups: RoleGroups) throws(CoreFailure) {
        if case .delegate(let user) = person.via, needs == .admin {
            throw .permissionDenied("permission denied: \(rawValue) cannot be asked for on someone's behalf (\(user) acting for \(person.name)); it is for admins at the server")
        }
        guard let role = person.role else {
            let group = needs == .admin ? groups.admin : groups.staff
            throw .permissionDenied("permission denied: \(person.name) is not in the group \(group) (ask an admin to add you)")
        }
        guard allows(role) else {
            if role == .feed {
                throw .permissionDenied("permission denied: \(person.name) is in \(groups.feed), the feed role, which may ask status and patient-known only")
            }
            throw .permissionDenied("permission denied: \(rawValue) needs the admin role (root or the group \(groups.admin))")
        }
    }
}

/// Why the core did not do what was asked, in one line the person can act on.
public struct CoreFailure: Error, Equatable, Sendable, CustomStringConvertible {
    public enum Kind: String, Sendable {
        /// The person's role does not allow it.
        case permissionDenied
        /// No such job or booking.
        case notFound
        /// The request itself is wrong (an unknown state, a bad date).
        case badRequest
        /// Refused by the rules (a call already closed, a config with errors): nothing changed.
        case refused
        /// The state could not be read or written (a full disk).
        case failed
    }

    public var kind: Kind
    public var message: String
    /// The part of the request at fault, when a rule names one (`wound_care`, `note`).
    public var field: String?

    public init(_ kind: Kind, _ message: String, field: String? = nil) {
        self.kind = kind
        self.message = message
        self.field = field
    }

    public static func permissionDenied(_ m: String) -> CoreFailure { CoreFailure(.permissionDenied, m) }
    public static func notFound(_ m: String) -> CoreFailure { CoreFailure(.notFound, m) }
    public static func badRequest(_ m: String, field: String? = nil) -> CoreFailure { CoreFailure(.badRequest, m, field: field) }
    public static func refused(_ m: String) -> CoreFailure { CoreFailure(.refused, m) }

    public var description: String { message }
}
