import Foundation
import Logging
import TouchpointConfig
import TouchpointControl
import TouchpointDomain
import TouchpointStore
import TouchpointSystemd

#if canImport(Glibc)
import Glibc
#endif

/// Writes each open day's call list per ward (html and csv, mode 0640) at
/// `calls.export_at`, so a ward can print it without a shell.
struct CallListExport: Sendable {
    let store: Store
    let logger: Logger
    static let lastKey = "calls.last_export"

    /// When the next export is due (nil: export is off).
    func nextExport(config: TouchpointConfig, now: Date) throws -> Date? {
        guard config.calls.exportDir != nil else { return nil }
        let rules = config.schedulingRules
        let today = rules.clock.localDate(of: now)
        let last = try store.meta(Self.lastKey).flatMap { LocalDate(iso: $0) }
        var day = rules.openDay(onOrAfter: today) ?? today
        if let last, last >= day, let next = rules.nextOpenDay(after: last) { day = next }
        return rules.clock.instant(on: day, at: config.calls.exportAt)
    }

    /// Exports today's lists if their time has come and they were not written yet.
    func runIfDue(config: TouchpointConfig, now: Date) async throws {
        guard let dir = config.calls.exportDir, let due = try nextExport(config: config, now: now), due <= now else { return }
        let rules = config.schedulingRules
        let day = rules.clock.localDate(of: due)
        let calls = try await store.calls(day: day, ward: nil, escalated: false, rules: rules)
        var byWard: [String: [CallRow]] = [:]
        for c in calls { byWard[c.job.ward ?? "no ward", default: []].append(c) }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
        for (ward, rows) in byWard {
            let report = CallsReport(date: day.description, ward: ward, escalated: false, hospital: config.hospital.name,
                                     calls: rows.map {
                                         CallEntry(job: CommandHandler.view($0.job), patientName: $0.patientName, phone: $0.phone,
                                                   voicemailOK: $0.voicemailOK, procedure: $0.procedure, surgeryAt: $0.surgeryAt,
                                                   lastAttemptAt: $0.job.lastAttemptAt, note: $0.job.note)
                                     })
            let base = "\(dir)/calls-\(day)-\(Self.slug(ward))"
            try Self.writeAtomically(base + ".html", CallListFormat.html(report, timeZone: rules.clock.timeZone, generatedAt: now))
            try Self.writeAtomically(base + ".csv", CallListFormat.csv(report, timeZone: rules.clock.timeZone))
        }
        try store.setMeta(Self.lastKey, day.description)
        logger.notice("wrote the call lists for \(day): \(byWard.count) ward(s), \(calls.count) call(s), in \(dir)",
                      metadata: ["MESSAGE_ID": "\(MessageID.callListsWritten)"])
    }

    static func slug(_ s: String) -> String {
        let out = s.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        return String(out).split(separator: "-").joined(separator: "-")
    }

    /// Temporary file, fsync, rename: a printer never sees half a list. Mode 0640: it holds patient data.
    static func writeAtomically(_ path: String, _ text: String) throws {
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o640)
        guard fd >= 0 else { throw StoreErrorText("cannot write \(tmp): \(String(cString: strerror(errno)))") }
        fchmod(fd, 0o640)
        let bytes = Array(text.utf8)
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n <= 0 { close(fd); throw StoreErrorText("cannot write \(tmp): \(String(cString: strerror(errno)))") }
            off += n
        }
        fsync(fd)
        close(fd)
        guard rename(tmp, path) == 0 else { throw StoreErrorText("cannot rename \(tmp): \(String(cString: strerror(errno)))") }
    }
}
