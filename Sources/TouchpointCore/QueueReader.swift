import Foundation
import Logging
import Synchronization
import TouchpointDomain
import TouchpointLinux
import TouchpointStore

#if canImport(Glibc)
import Glibc
#endif

/// What the reader can say about the queue file right now, for `status`.
public struct QueueHealth: Sendable, Equatable {
    /// Why the file cannot be read now (missing, unreadable), or nil when all is well.
    public var problem: String?
}

/// Reads the queue file from the committed position and applies its complete
/// lines in batches, each batch one transaction with the new position.
///
/// All file and database work runs on the reader's own lane (one thread),
/// never on an event loop, so a long ingest never starves the control socket;
/// while a batch is committed, the next is parsed on a second lane.
final class QueueReader: @unchecked Sendable {
    // @unchecked: every mutable stored property below is touched only from
    // work running on `work` (a lane of one thread); `health` and `stopping`
    // are the exceptions and are protected by their own Mutex/atomic wrappers.
    // The read-ahead lane reads (never writes) fd, parser and file identity
    // while the work thread waits for it in `apply`.
    private let work = BlockingLane(name: "queue-reader")
    private let readAheadLane = BlockingLane(name: "read-ahead")
    private let store: Store
    private let logger: Logger
    /// The scheduling rules in force (they change on reload).
    private let rules: @Sendable () -> SchedulingRules
    /// The core's clock: events are applied as of now.
    private let now: @Sendable () -> Date
    private var path: String
    private var parser: QueueLineParser
    private var fd: Int32 = -1
    private var fdIdentity: (dev: UInt64, ino: UInt64)?
    private var position: QueuePosition
    private var reportedProblem: String?
    let health = Mutex(QueueHealth())
    private let stopping = Atomic<Bool>(false)

    /// Lines applied per transaction: large enough to amortise the commit's
    /// fsync, small enough that a crash re-reads little and readers see progress.
    static let batchLines = 20_000
    static let chunkBytes = 4 << 20

    init(path: String, clock: HospitalClock, store: Store, position: QueuePosition, logger: Logger,
         now: @escaping @Sendable () -> Date = { Date() }, rules: @escaping @Sendable () -> SchedulingRules) {
        self.now = now
        self.rules = rules
        self.path = path
        self.parser = QueueLineParser(clock: clock)
        self.store = store
        self.logger = logger
        self.position = position
    }

    deinit {
        if fd >= 0 { close(fd) }
    }

    /// Applies a reloaded config: the zone for local times and the file path.
    func reconfigure(path newPath: String, clock: HospitalClock) {
        work.submit {
            self.parser = QueueLineParser(clock: clock)
            if newPath != self.path {
                self.path = newPath
                self.closeFile()
            }
        }
    }

    func stop() { stopping.store(true, ordering: .relaxed) }

    /// Reads everything complete that is there now. Safe to call at any time; calls queue up.
    func readAvailable() async -> Result<(IngestCounts, QueuePosition), StoreError> {
        do {
            return try await work.run { self.readAll() }
        } catch {
            return .failure(StoreError("the queue was not read: touchpointd is stopping"))
        }
    }

    // MARK: On the work lane

    private func readAll() -> Result<(IngestCounts, QueuePosition), StoreError> {
        var total = IngestCounts()
        // A backlog is checkpointed less often until this read ends, however it ends.
        var catchingUp = false
        defer { if catchingUp { store.setCatchingUp(false) } }
        Blocking.check()
        var ahead: Batch? = nil
        while !stopping.load(ordering: .relaxed) {
            guard prepareFile() else { break }
            let batch = ahead.flatMap { $0.start == position && $0.identity == fdIdentityKey ? $0 : nil } ?? readBatch(from: position)
            ahead = nil
            if batch.lines.isEmpty && batch.position == position {
                // Nothing new. If the file was rotated away, move to its successor.
                if batch.drainedOldFile {
                    switchToNewFile()
                    continue
                }
                break
            }
            // A full batch means there is probably more: parse the next one on
            // the other core while this one is committed. The work thread does
            // not touch the reader's state while it waits in `apply`, and the
            // read-ahead only reads it (fd, parser, file identity).
            let readAhead = ReadAhead()
            if batch.lines.count >= Self.batchLines {
                if !catchingUp {
                    catchingUp = true
                    store.setCatchingUp(true)
                }
                readAhead.start(on: readAheadLane) { self.readBatch(from: batch.position) }
            }
            do {
                let (now, rules) = (self.now(), rules())
                let counts = try store.blockingWrite { w in
                    try IngestApplier.apply(batch.lines, position: batch.position, in: w, now: now, rules: rules)
                }
                position = batch.position
                // Each batch's working set is gone once it is committed: hand
                // its pages back, so a catch-up's peak is one batch, not the
                // heap's high-water mark.
                if catchingUp { Heap.handBackFreePages() }
                total += counts
                total.rejects = []
                total.unassigned = []
                logRejects(counts.rejects)
                logUnassigned(counts.unassigned)
            } catch {
                _ = readAhead.wait()
                let msg = "cannot commit queue lines to the database: \(error); the lines stay in the queue file and are read again shortly"
                logger.error("\(msg)", metadata: ["MESSAGE_ID": "\(MessageID.stateError)"])
                setProblem(msg)
                return .failure(StoreError(msg))
            }
            ahead = readAhead.wait()
        }
        if total.ingested + total.duplicates + total.rejected + total.notKnown > 0 {
            logger.info(
                "read the queue file: \(total.ingested) applied, \(total.duplicates) duplicates, \(total.rejected) rejected, \(total.notKnown) about patients not known",
                metadata: ["MESSAGE_ID": "\(MessageID.ingested)", "offset": "\(position.offset)"])
        }
        return .success((total, position))
    }

    private var fdIdentityKey: [UInt64] { fdIdentity.map { [$0.dev, $0.ino] } ?? [] }

    private func setProblem(_ problem: String?) {
        health.withLock { $0.problem = problem }
        if let problem, problem != reportedProblem {
            logger.error("\(problem)", metadata: ["MESSAGE_ID": "\(MessageID.queueUnreadable)"])
        } else if problem == nil, reportedProblem != nil {
            logger.notice("the queue file \(path) can be read again")
        }
        reportedProblem = problem
    }

    private func closeFile() {
        if fd >= 0 { close(fd) }
        fd = -1
        fdIdentity = nil
    }

    /// Opens the file if needed and notices rotation and truncation.
    /// Returns false when there is nothing that can be read now.
    private func prepareFile() -> Bool {
        var st = stat()
        let statRC = stat(path, &st)
        let statErrno = errno
        if fd >= 0 {
            // Still reading a file that was renamed or deleted: finish its
            // complete lines first (readBatch drains it), then switch.
            if statRC != 0 || (UInt64(st.st_dev), UInt64(st.st_ino)) != fdIdentity! { return true }
        }
        if statRC != 0 {
            if statErrno == ENOENT {
                setProblem(nil)
                return false  // not there yet: waited for, not an error
            }
            setProblem("cannot read the queue file \(path): \(String(cString: strerror(statErrno)))")
            return false
        }
        if fd < 0 {
            let f = open(path, O_RDONLY | O_CLOEXEC)
            if f < 0 {
                let e = errno
                setProblem("cannot read the queue file \(path): \(String(cString: strerror(e)))\(e == EACCES ? " (the service user needs read permission)" : "")")
                return false
            }
            var fst = stat()
            fstat(f, &fst)
            if fst.st_mode & S_IFMT != S_IFREG {
                close(f)
                setProblem("the queue file \(path) is not a regular file")
                return false
            }
            fd = f
            fdIdentity = (UInt64(fst.st_dev), UInt64(fst.st_ino))
            if let dev = position.device, let ino = position.inode, (dev, ino) != fdIdentity! {
                restart(because: "the queue file was replaced (new inode)")
            }
        }
        setProblem(nil)
        var fst = stat()
        fstat(fd, &fst)
        if Int(fst.st_size) < position.offset {
            restart(because: "the queue file was truncated (size \(fst.st_size) is below the read position \(position.offset))")
        } else if let known = position.firstLineHash, position.offset > 0, firstLineHash() != known {
            restart(because: "the queue file's first line changed (the file was rewritten in place)")
        }
        return true
    }

    private func restart(because reason: String) {
        logger.notice("\(reason); reading it again from the beginning (lines already applied count as duplicates)",
                      metadata: ["MESSAGE_ID": "\(MessageID.queueRotated)"])
        position = QueuePosition(device: fdIdentity?.dev, inode: fdIdentity?.ino, offset: 0, line: 0, firstLineHash: nil)
    }

    private func switchToNewFile() {
        closeFile()
        if prepareFile() {
            restart(because: "the queue file was rotated (renamed or deleted, and a new one is in its place)")
        } else {
            position = QueuePosition()
        }
    }

    /// Hash of the file's first line (at most its first 4 KiB), nil if it has none yet.
    private func firstLineHash() -> UInt64? {
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, 4096, 0) }
        guard n > 0 else { return nil }
        let end = buf[0..<n].firstIndex(of: 0x0A) ?? (n == 4096 ? 4096 : -1)
        guard end >= 0 else { return nil }
        return FNV1a.hash(buf[0..<end])
    }

    /// Hands a read-ahead batch from its lane back to the work lane.
    final class ReadAhead: @unchecked Sendable {
        // @unchecked: `batch` is written once on the read-ahead lane before
        // `done` is signalled, and read only after waiting on `done`.
        private var batch: Batch?
        private let done = DispatchSemaphore(value: 0)
        private var started = false

        func start(on lane: BlockingLane, _ read: @escaping @Sendable () -> Batch) {
            started = true
            lane.submit {
                self.batch = read()
                self.done.signal()
            }
        }

        /// The batch read ahead, once it is read; nil if none was started.
        func wait() -> Batch? {
            guard started else { return nil }
            done.wait()
            started = false
            return batch
        }
    }

    struct Batch {
        var lines: [IngestLine] = []
        /// Where this batch started, and in which file (to tell a stale read-ahead).
        var start: QueuePosition
        var identity: [UInt64]
        var position: QueuePosition
        /// The file being read was renamed or deleted and has no more complete lines.
        var drainedOldFile = false
    }

    private func readBatch(from position: QueuePosition) -> Batch {
        var batch = Batch(start: position, identity: fdIdentityKey, position: position)
        batch.position.device = fdIdentity?.dev
        batch.position.inode = fdIdentity?.ino
        // No more than the file holds past the position (pread would stop at
        // its end anyway): one appended line must not cost a zeroed 4 MiB buffer.
        var st = stat()
        let available = fstat(fd, &st) == 0 ? Int(st.st_size) - position.offset : Self.chunkBytes
        var chunk = [UInt8](repeating: 0, count: max(1, min(Self.chunkBytes, available)))
        let n = chunk.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(position.offset)) }
        if n <= 0 {
            batch.drainedOldFile = isStale()
            return batch
        }
        var offset = position.offset
        var line = position.line
        // Room for the lines this chunk probably holds (queue lines are about
        // 200 bytes), so a backlog's batch is not grown by doubling.
        batch.lines.reserveCapacity(min(Self.batchLines, n / 128 + 1))
        chunk.withUnsafeBufferPointer { buf in
            var start = 0
            while start < n && batch.lines.count < Self.batchLines {
                let base = buf.baseAddress! + start
                guard let nlPtr = memchr(base, 0x0A, n - start) else {
                    // No newline in what we have. Past the line limit it can only be
                    // too long: find its end and reject it; else it is incomplete.
                    if n - start > QueueLineParser.maximumLineLength, let end = findNewline(from: offset + (n - start)) {
                        line += 1
                        batch.lines.append(IngestLine(line: line, offset: offset,
                            parsed: .failure(QueueReject(.lineTooLong, "line is \(end - offset) bytes, longer than the limit of \(QueueLineParser.maximumLineLength)")),
                            raw: nil))
                        offset = end + 1
                        batch.position.offset = offset
                        batch.position.line = line
                    }
                    return
                }
                let nl = UnsafePointer(nlPtr.assumingMemoryBound(to: UInt8.self)) - buf.baseAddress!
                line += 1
                var end = nl
                if end > start && buf[end - 1] == 0x0D { end -= 1 }  // CRLF
                let bytes = UnsafeBufferPointer(rebasing: buf[start..<end])
                if !Self.isBlank(bytes) {
                    // The raw line is kept for any reject (parse or store rules), for admins.
                    batch.lines.append(IngestLine(line: line, offset: offset, parsed: parser.parse(bytes), raw: chunk[start..<end]))
                }
                offset += nl + 1 - start
                start = nl + 1
                batch.position.offset = offset
                batch.position.line = line
            }
        }
        if batch.position.offset > 0 && batch.position.firstLineHash == nil {
            batch.position.firstLineHash = firstLineHash()
        }
        if batch.lines.isEmpty && batch.position == position { batch.drainedOldFile = isStale() }
        return batch
    }

    /// Whether the open file is no longer the one at `path`.
    private func isStale() -> Bool {
        var st = stat()
        if stat(path, &st) != 0 { return errno == ENOENT }
        return (UInt64(st.st_dev), UInt64(st.st_ino)) != fdIdentity!
    }

    /// The offset of the next newline at or after `from`, nil if none yet.
    private func findNewline(from: Int) -> Int? {
        var pos = from
        var buf = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = buf.withUnsafeMutableBytes { pread(fd, $0.baseAddress, $0.count, off_t(pos)) }
            if n <= 0 { return nil }
            if let i = buf[0..<n].firstIndex(of: 0x0A) { return pos + i }
            pos += n
        }
    }

    static func isBlank(_ b: UnsafeBufferPointer<UInt8>) -> Bool {
        for c in b where c != 0x20 && c != 0x09 { return false }
        return true
    }

    /// A ward the hospital did not name: a warning per booking (its ref and
    /// the ward as sent; a ward is no patient's data), the first 50 of a batch.
    private func logUnassigned(_ unassigned: [UnassignedWard]) {
        for u in unassigned.prefix(50) {
            let ward = u.ward.map { String(reflecting: String($0.prefix(80))) } ?? "no ward"
            logger.warning("surgery \(String(reflecting: u.ref)): \(ward) matches none of calls.wards; its check-in call is on the unassigned list",
                           metadata: ["MESSAGE_ID": "\(MessageID.wardUnassigned)", "ref": "\(u.ref)", "event_id": "\(u.eventID)"])
        }
        if unassigned.count > 50 {
            logger.warning("\(unassigned.count - 50) more bookings of wards none of calls.wards names in this batch; see touchpointctl calls --unassigned",
                           metadata: ["MESSAGE_ID": "\(MessageID.wardUnassigned)"])
        }
    }

    /// One warning per rejected line (never the raw line), at most 50 a batch, then a summary.
    private func logRejects(_ rejects: [RejectedLine]) {
        for r in rejects.prefix(50) {
            var meta: Logger.Metadata = ["MESSAGE_ID": "\(MessageID.rejected)", "line": "\(r.line)", "offset": "\(r.offset)", "code": "\(r.reject.code.rawValue)"]
            if let id = r.reject.eventID { meta["event_id"] = "\(id)" }
            logger.warning("rejected queue line \(r.line): \(r.reject.code.rawValue): \(r.reject.message)", metadata: meta)
        }
        if rejects.count > 50 {
            logger.warning("\(rejects.count - 50) more queue lines rejected in this batch; see touchpointctl rejects",
                           metadata: ["MESSAGE_ID": "\(MessageID.rejected)"])
        }
    }
}
