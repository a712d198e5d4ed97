import Foundation
import TouchpointDomain

/// `status`: what an admin checks first.
public struct StatusReport: Codable, Equatable, Sendable {
    public struct Queue: Codable, Equatable, Sendable {
        public var path: String
        public var offset: Int
        public var line: Int
        public var ingested: Int
        public var duplicates: Int
        public var rejected: Int
        /// Updates and merges about patients touchpoint has no booking for (nothing kept).
        public var notKnown: Int
        /// Each writer of the queue (`source`): its events and when the last one was read.
        public var sources: [Source]
        /// Why the queue file cannot be read right now, if it cannot.
        public var error: String?
        public var lastReadAt: Date?

        public init(path: String, offset: Int, line: Int, ingested: Int, duplicates: Int, rejected: Int,
                    notKnown: Int = 0, sources: [Source] = [], error: String? = nil, lastReadAt: Date? = nil) {
            self.notKnown = notKnown
            self.sources = sources
            self.path = path
            self.offset = offset
            self.line = line
            self.ingested = ingested
            self.duplicates = duplicates
            self.rejected = rejected
            self.error = error
            self.lastReadAt = lastReadAt
        }

        enum CodingKeys: String, CodingKey {
            case path, offset, line, ingested, duplicates, rejected, error, sources
            case notKnown = "not_known"
            case lastReadAt = "last_read_at"
        }

        /// A writer of the queue file; `source` null for events that named none.
        public struct Source: Codable, Equatable, Sendable {
            public var source: String?
            public var events: Int
            public var lastEventAt: Date

            public init(source: String?, events: Int, lastEventAt: Date) {
                self.source = source
                self.events = events
                self.lastEventAt = lastEventAt
            }

            enum CodingKeys: String, CodingKey {
                case source, events
                case lastEventAt = "last_event_at"
            }

            // `source` is written as null, not left out: a writer that names none is still a writer.
            public func encode(to encoder: any Encoder) throws {
                var c = encoder.container(keyedBy: CodingKeys.self)
                try c.encode(source, forKey: .source)
                try c.encode(events, forKey: .events)
                try c.encode(lastEventAt, forKey: .lastEventAt)
            }
        }
    }

    public var version: String
    /// `running` or `paused`.
    public var state: String
    public var uptimeSeconds: Int
    public var queue: Queue
    public var patients: Int
    public var bookings: Int
    /// Jobs by kind, then by state.
    public var jobs: [JobKind: [JobState: Int]]
    public var nextDueAt: Date?
    public var lastDispatch: Date?
    /// The hospital's zone, in which `touchpointctl` shows the times.
    public var timeZone: String?
    /// The transport in force: its kind, why it takes nothing now (if so),
    /// and for one that gives receipts, notices by what their receipts say.
    public var transport: Transport?
    /// What needs someone's attention although the service runs (a list that
    /// may be incomplete, a call nobody's list shows); written `[]` when
    /// nothing does, absent from a daemon older than the field.
    public var warnings: [String]?

    public struct Transport: Codable, Equatable, Sendable {
        public var kind: String
        public var held: String?
        public var deliveries: [DeliveryStatus: Int]

        public init(kind: String, held: String?, deliveries: [DeliveryStatus: Int]) {
            self.kind = kind
            self.held = held
            self.deliveries = deliveries
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(kind, forKey: .kind)
            try c.encode(held, forKey: .held)
            try c.encode(deliveries, forKey: .deliveries)
        }
    }

    public init(version: String, state: String, uptimeSeconds: Int, queue: Queue, patients: Int, bookings: Int,
                jobs: [JobKind: [JobState: Int]] = [:], nextDueAt: Date? = nil, lastDispatch: Date? = nil, timeZone: String? = nil,
                transport: Transport? = nil, warnings: [String] = []) {
        self.warnings = warnings
        self.transport = transport
        self.version = version
        self.state = state
        self.uptimeSeconds = uptimeSeconds
        self.queue = queue
        self.patients = patients
        self.bookings = bookings
        self.jobs = jobs
        self.nextDueAt = nextDueAt
        self.lastDispatch = lastDispatch
        self.timeZone = timeZone
    }

    enum CodingKeys: String, CodingKey {
        case version, state, queue, patients, bookings, jobs, transport, warnings
        case uptimeSeconds = "uptime_s"
        case nextDueAt = "next_due_at"
        case lastDispatch = "last_dispatch"
        case timeZone = "time_zone"
    }

    // Encode nil optionals as null: the JSON output names every field.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(version, forKey: .version)
        try c.encode(state, forKey: .state)
        try c.encode(uptimeSeconds, forKey: .uptimeSeconds)
        try c.encode(queue, forKey: .queue)
        try c.encode(patients, forKey: .patients)
        try c.encode(bookings, forKey: .bookings)
        try c.encode(jobs, forKey: .jobs)
        try c.encode(nextDueAt, forKey: .nextDueAt)
        try c.encode(lastDispatch, forKey: .lastDispatch)
        try c.encode(timeZone, forKey: .timeZone)
        try c.encode(warnings ?? [], forKey: .warnings)
        try c.encodeIfPresent(transport, forKey: .transport)
    }
}

extension DeliveryStatus: CodingKeyRepresentable {}

/// `patient-known`: whether touchpoint has a booking for the patient, and nothing else.
public struct PatientKnownReport: Codable, Equatable, Sendable {
    public var known: Bool

    public init(known: Bool) { self.known = known }
}

/// `backup`: the copy made.
public struct BackupReport: Codable, Equatable, Sendable {
    public var path: String
    public var bytes: Int
    /// The queue line the backup's state has read to.
    public var queueLine: Int
    public var removed: [String]

    public init(path: String, bytes: Int, queueLine: Int, removed: [String]) {
        self.path = path
        self.bytes = bytes
        self.queueLine = queueLine
        self.removed = removed
    }

    enum CodingKeys: String, CodingKey {
        case path, bytes, removed
        case queueLine = "queue_line"
    }
}

/// `ingest`: what one read of the queue file did.
public struct IngestReport: Codable, Equatable, Sendable {
    public var ingested: Int
    public var duplicates: Int
    public var rejected: Int
    public var offset: Int

    public init(ingested: Int, duplicates: Int, rejected: Int, offset: Int) {
        self.ingested = ingested
        self.duplicates = duplicates
        self.rejected = rejected
        self.offset = offset
    }
}

/// `rejects`: the queue lines that were not applied.
public struct RejectsReport: Codable, Equatable, Sendable {
    public struct Entry: Codable, Equatable, Sendable {
        public var line: Int
        public var offset: Int
        public var eventID: String?
        public var code: RejectCode
        public var message: String
        public var at: Date
        /// The raw line: admins only (it holds patient data).
        public var rawLine: String?

        public init(line: Int, offset: Int, eventID: String?, code: RejectCode, message: String, at: Date, rawLine: String?) {
            self.line = line
            self.offset = offset
            self.eventID = eventID
            self.code = code
            self.message = message
            self.at = at
            self.rawLine = rawLine
        }

        enum CodingKeys: String, CodingKey {
            case line, offset, code, message, at
            case eventID = "event_id"
            case rawLine = "raw_line"
        }

        public func encode(to encoder: Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(line, forKey: .line)
            try c.encode(offset, forKey: .offset)
            try c.encode(eventID, forKey: .eventID)
            try c.encode(code, forKey: .code)
            try c.encode(message, forKey: .message)
            try c.encode(at, forKey: .at)
            if let rawLine { try c.encode(rawLine, forKey: .rawLine) }
        }
    }

    public var rejects: [Entry]
    /// Total rejected lines since the state was created (the list may be limited).
    public var total: Int

    public init(rejects: [Entry], total: Int) {
        self.rejects = rejects
        self.total = total
    }
}
