import Foundation

/// Where reading of the queue file stands, committed with the effects of the lines before it.
public struct QueuePosition: Equatable, Sendable {
    /// Identity of the file read (st_dev, st_ino); nil before the first read.
    public var device: UInt64?
    public var inode: UInt64?
    /// Byte offset just past the last line applied, and that line's number.
    public var offset: Int
    public var line: Int
    /// Hash of the file's first line, to notice a file replaced in place.
    public var firstLineHash: UInt64?

    public init(device: UInt64? = nil, inode: UInt64? = nil, offset: Int = 0, line: Int = 0, firstLineHash: UInt64? = nil) {
        self.device = device
        self.inode = inode
        self.offset = offset
        self.line = line
        self.firstLineHash = firstLineHash
    }
}

/// One line read from the queue file, validated, waiting to be applied.
public struct IngestLine: Sendable {
    public var line: Int
    public var offset: Int
    public var parsed: Result<QueueEnvelope, QueueReject>
    /// The raw bytes, kept only for rejects (admins may see them with
    /// `rejects --show-line`): a slice of the chunk the line was read from,
    /// so a batch of 20,000 lines holds one buffer, not 20,000 copies.
    public var raw: ArraySlice<UInt8>?

    public init(line: Int, offset: Int, parsed: Result<QueueEnvelope, QueueReject>, raw: ArraySlice<UInt8>?) {
        self.line = line
        self.offset = offset
        self.parsed = parsed
        self.raw = raw
    }
}

/// A line rejected during a batch, for the log (no raw line: it holds patient data).
public struct RejectedLine: Equatable, Sendable {
    public var line: Int
    public var offset: Int
    public var reject: QueueReject

    public init(line: Int, offset: Int, reject: QueueReject) {
        self.line = line
        self.offset = offset
        self.reject = reject
    }
}

/// What one read of the queue file did.
/// A surgery booking whose ward is none the hospital named (`WardNames`).
public struct UnassignedWard: Equatable, Sendable {
    public var ref: String
    public var ward: String?
    public var eventID: String

    public init(ref: String, ward: String?, eventID: String) {
        self.ref = ref
        self.ward = ward
        self.eventID = eventID
    }
}

public struct IngestCounts: Equatable, Sendable {
    public var ingested = 0
    public var duplicates = 0
    public var rejected = 0
    /// `patient.updated` and `patient.merged` about patients touchpoint has
    /// no booking for: read, and nothing about them kept.
    public var notKnown = 0
    /// The rejected lines themselves (this read only; not kept in totals).
    public var rejects: [RejectedLine] = []
    /// Whether any job was planned or changed.
    public var changedJobs = false
    /// Surgery bookings whose ward matches none of `calls.wards` (this read
    /// only): their calls are on the unassigned list.
    public var unassigned: [UnassignedWard] = []

    public init(ingested: Int = 0, duplicates: Int = 0, rejected: Int = 0, notKnown: Int = 0) {
        self.notKnown = notKnown
        self.ingested = ingested
        self.duplicates = duplicates
        self.rejected = rejected
    }

    public static func += (a: inout IngestCounts, b: IngestCounts) {
        a.ingested += b.ingested
        a.duplicates += b.duplicates
        a.rejected += b.rejected
        a.notKnown += b.notKnown
        a.rejects += b.rejects
        a.unassigned += b.unassigned
        a.changedJobs = a.changedJobs || b.changedJobs
    }
}
