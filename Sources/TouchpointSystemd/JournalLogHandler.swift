import CSystemd
import Foundation
import Logging
import TouchpointDomain
import TouchpointLinux

#if canImport(Glibc)
import Glibc
#endif

/// Where log lines go: the journal's native protocol, or standard error.
public enum LogDestination: Sendable {
    case journal
    /// Standard error; `priorityPrefixes` when stderr is itself connected to the journal (`<N>` prefixes).
    case standardError(priorityPrefixes: Bool)

    /// The journal when a journald is listening on its socket; else stderr
    /// (with `<N>` prefixes when `JOURNAL_STREAM` says stderr is the journal).
    public static func detect(environment: [String: String] = ProcessInfo.processInfo.environment) -> LogDestination {
        journalIsListening() ? .journal : standardError(environment: environment)
    }

    /// Standard error, with `<N>` prefixes when it is itself the journal.
    public static func standardError(environment: [String: String] = ProcessInfo.processInfo.environment) -> LogDestination {
        .standardError(priorityPrefixes: stderrIsJournal(environment))
    }

    /// Whether a journald answers on `path`. The socket file alone proves
    /// nothing: a journald that has gone leaves it behind, and every entry
    /// sent to it would be refused.
    public static func journalIsListening(path: String = "/run/systemd/journal/socket") -> Bool {
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return UnixSocketAddress.with(path) { connect(fd, $0, $1) == 0 } ?? false
    }

    static func stderrIsJournal(_ env: [String: String]) -> Bool {
        guard let js = env["JOURNAL_STREAM"] else { return false }
        let parts = js.split(separator: ":")
        guard parts.count == 2, let dev = UInt64(parts[0]), let ino = UInt64(parts[1]) else { return false }
        var st = stat()
        guard fstat(2, &st) == 0 else { return false }
        return UInt64(st.st_dev) == dev && UInt64(st.st_ino) == ino
    }
}

/// A swift-log handler writing to journald through `sd_journal_sendv`.
///
/// Metadata keys become journal fields (upper-cased, `[A-Z0-9_]`, never a
/// leading underscore, which journald reserves for trusted fields). A log call
/// never fails the work it reports on: if the journal refuses the entry, the
/// line goes to standard error instead.
public struct JournalLogHandler: LogHandler {
    public var metadata: Logger.Metadata = [:]
    public var logLevel: Logger.Level = .info
    public var metadataProvider: Logger.MetadataProvider?
    let identifier: String
    let destination: LogDestination

    public init(identifier: String, destination: LogDestination) {
        self.identifier = identifier
        self.destination = destination
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    static func priority(_ level: Logger.Level) -> Int {
        switch level {
        case .trace, .debug: return 7
        case .info: return 6
        case .notice: return 5
        case .warning: return 4
        case .error: return 3
        case .critical: return 2
        }
    }

    /// A journal field name for a metadata key: `job` -> `TOUCHPOINT_JOB`;
    /// keys already in upper case (`MESSAGE_ID`) are kept.
    static func fieldName(_ key: String) -> String {
        var out = ""
        for u in key.unicodeScalars {
            switch u {
            case "A"..."Z", "0"..."9": out.unicodeScalars.append(u)
            case "a"..."z": out.unicodeScalars.append(Unicode.Scalar(u.value - 32)!)
            default: out.append("_")
            }
        }
        while out.hasPrefix("_") { out.removeFirst() }
        if out.isEmpty { out = "FIELD" }
        if key == key.uppercased() && key.first?.isLetter == true { return String(out.prefix(64)) }
        return String(("TOUCHPOINT_" + out).prefix(64))
    }

    public func log(event: LogEvent) {
        var fields: [(String, String)] = []
        var all = metadata
        if let provided = metadataProvider?.get() { all.merge(provided) { $1 } }
        if let m = event.metadata { all.merge(m) { $1 } }
        let message = event.message.description
        switch destination {
        case .journal:
            fields.append(("MESSAGE", message))
            fields.append(("PRIORITY", String(Self.priority(event.level))))
            fields.append(("SYSLOG_IDENTIFIER", identifier))
            fields.append(("CODE_FILE", event.file))
            fields.append(("CODE_LINE", String(event.line)))
            fields.append(("CODE_FUNC", event.function))
            for (k, v) in all.sorted(by: { $0.key < $1.key }) {
                fields.append((Self.fieldName(k), "\(v)"))
            }
            // Handed to the journal thread: the caller never waits on journald.
            JournalPump.shared.enqueue(fields)
        case .standardError(let prefixes):
            writeStderr(event.level, message, all, prefixes: prefixes)
        }
    }

    private func writeStderr(_ level: Logger.Level, _ message: String, _ metadata: Logger.Metadata, prefixes: Bool) {
        var line = prefixes ? "<\(Self.priority(level))>" : ""
        if !prefixes { line += "\(identifier)[\(getpid())]: \(level.rawValue): " }
        line += Self.oneLine(message)
        let extra = metadata.filter { $0.key != "MESSAGE_ID" }.sorted { $0.key < $1.key }
        if !extra.isEmpty { line += " (" + extra.map { "\($0.key)=\(Self.oneLine("\($0.value)"))" }.joined(separator: " ") + ")" }
        line += "\n"
        var bytes = Array(line.utf8)
        _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
    }

    /// Waits (at most `timeout`) until the entries logged so far are with
    /// journald. Entries go to the journal from a thread of their own; a
    /// process that exits without waiting loses its last words ("stopped"
    /// among them) whenever that thread is behind.
    public static func flush(timeout: TimeInterval = 2) {
        JournalPump.shared.drain(timeout: timeout)
    }

    /// `flush` on a thread of its own, for a caller on an event loop (the
    /// end of `Daemon.run`, of `WebMain.serve`).
    public static func flushed(timeout: TimeInterval = 2) async {
        await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
            Thread {
                flush(timeout: timeout)
                done.resume()
            }.start()
        }
    }

    /// `text` on one line, its control characters written as escapes
    /// (`\n`, `\u001b`). A ref or event id comes from a hospital system: a
    /// newline in one would otherwise start a line of its own, which the
    /// journal's stream (or whoever reads standard error) takes for an entry
    /// touchpointd never wrote. (The journal's own fields keep any bytes.)
    static func oneLine(_ text: String) -> String {
        guard text.unicodeScalars.contains(where: { ControlCharacters.contains($0.value) }) else { return text }
        var out = ""
        for u in text.unicodeScalars {
            switch u {
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where ControlCharacters.contains(u.value): out += ControlCharacters.escape(u.value)
            default: out.unicodeScalars.append(u)
            }
        }
        return out
    }

    /// Sends one entry; returns 0 or a negative errno.
    static func send(_ fields: [(String, String)]) -> Int32 {
        // One contiguous buffer, so every iovec points into memory that stays
        // valid for the whole call.
        var blob: [UInt8] = []
        var ranges: [(start: Int, count: Int)] = []
        for (k, v) in fields {
            let start = blob.count
            blob.append(contentsOf: k.utf8)
            blob.append(UInt8(ascii: "="))
            blob.append(contentsOf: v.utf8)
            ranges.append((start, blob.count - start))
        }
        return blob.withUnsafeMutableBytes { p -> Int32 in
            var iov = ranges.map { iovec(iov_base: p.baseAddress! + $0.start, iov_len: $0.count) }
            return sd_journal_sendv(&iov, Int32(iov.count))
        }
    }
}

/// One thread that hands entries to journald, behind a bounded queue.
///
/// `sd_journal_sendv` writes to a datagram socket and can block when journald
/// is slow; the work being logged must not. When the queue is full, entries
/// are dropped and counted, and the count is logged once there is room.
final class JournalPump: @unchecked Sendable {
    // @unchecked: `queue`, `dropped` and `sending` are only touched with `condition` locked.
    static let shared = JournalPump()
    static let capacity = 10_000
    private let condition = NSCondition()
    private var queue: [[(String, String)]] = []
    private var dropped = 0
    /// A batch taken off the queue and not yet all sent.
    private var sending = false

    private init() {
        let t = Thread { [self] in self.run() }
        t.name = "journal"
        t.start()
    }

    func enqueue(_ fields: [(String, String)]) {
        condition.lock()
        if queue.count >= Self.capacity {
            dropped += 1
        } else {
            queue.append(fields)
            condition.broadcast()
        }
        condition.unlock()
    }

    /// Whether every entry enqueued has been handed to journald.
    var isIdle: Bool {
        condition.lock()
        defer { condition.unlock() }
        return !busy
    }

    /// Entries waiting or being sent (with `condition` locked).
    private var busy: Bool { !queue.isEmpty || sending }

    /// Waits until every entry enqueued so far has been handed to journald,
    /// or `timeout` has passed.
    func drain(timeout: TimeInterval) {
        let deadline = Date().addingTimeInterval(timeout)
        condition.lock()
        defer { condition.unlock() }
        while busy {
            if !condition.wait(until: deadline) { return }
        }
    }

    private func run() {
        while true {
            condition.lock()
            while queue.isEmpty { condition.wait() }
            let batch = queue
            queue.removeAll(keepingCapacity: true)
            let lost = dropped
            dropped = 0
            sending = true
            condition.unlock()
            defer {
                condition.lock()
                sending = false
                condition.broadcast()
                condition.unlock()
            }
            if lost > 0 {
                _ = JournalLogHandler.send([("MESSAGE", "\(lost) log entries were dropped: journald was not taking them fast enough"),
                                            ("PRIORITY", "4"), ("SYSLOG_IDENTIFIER", "touchpointd"), ("MESSAGE_ID", MessageID.logsDropped)])
            }
            for fields in batch where JournalLogHandler.send(fields) != 0 {
                // The journal refused it: standard error keeps the line.
                let text = JournalLogHandler.oneLine(fields.first { $0.0 == "MESSAGE" }?.1 ?? "") + "\n"
                FileHandle.standardError.write(Data(("touchpointd: " + text).utf8))
            }
        }
    }
}

/// sd_notify: tells systemd (or a test's NOTIFY_SOCKET) how the service is doing.
public enum ServiceNotifier {
    /// Sends `state` (e.g. `READY=1\nSTATUS=...`); a no-op without `NOTIFY_SOCKET`.
    @discardableResult
    public static func notify(_ state: String) -> Bool {
        sd_notify(0, state) > 0
    }

    /// The watchdog interval when systemd asked for pings, else nil.
    public static func watchdogInterval() -> Duration? {
        var usec: UInt64 = 0
        guard sd_watchdog_enabled(0, &usec) > 0, usec > 0 else { return nil }
        return .microseconds(Int64(usec))
    }

    /// File descriptors passed by socket activation (`LISTEN_FDS`), starting at 3.
    public static func listenFDs() -> [Int32] {
        let n = sd_listen_fds(1)
        guard n > 0 else { return [] }
        return (0..<n).map { SD_LISTEN_FDS_START + $0 }
    }
}
