import Foundation
import Logging
import TouchpointControl
import TouchpointCore
import TouchpointDomain
import TouchpointLinux
import TouchpointSystemd

/// The daily export, a front end over the core like the control socket:
/// each open day's call list per ward (html and csv, mode 0640) written at
/// `calls.export_at`, so a ward can print it without a shell.
struct CallListExport: Sendable {
    let core: Touchpoint
    let engine: Engine
    let logger: Logger
    let lane = BlockingLane(name: "export")
    static let person = Person.daemon("daily export")

    /// Writes the lists whose time has come, once a day.
    func runIfDue(now: Date) async throws {
        guard let dir = core.config.calls.exportDir, let day = try await engine.exportDue(now: now) else { return }
        let list = try await core.calls(on: .date(day), ward: nil, escalated: false, by: Self.person)
        var byWard: [String: CallList] = [:]
        // One ward under one name (the first spelling seen: WardNames), and
        // the calls of wards the hospital never named on a list of their own.
        let names = core.config.schedulingRules.wards
        var spelling: [String: String] = [:]
        for row in list.rows {
            let written = names.isUnassigned(row.job.ward) ? "unassigned" : row.job.ward ?? "no ward"
            let ward = spelling[WardNames.key(written)] ?? written
            spelling[WardNames.key(written)] = ward
            byWard[ward, default: CallList(day: day, ward: ward, escalated: false, hospital: list.hospital, clock: list.clock, maxAttempts: list.maxAttempts, rows: [])].rows.append(row)
        }
        let files = Self.fileNames(Array(byWard.keys)).sorted { $0.key < $1.key }.map { ward, file -> (String, String, String) in
            let report = WireViews.calls(byWard[ward]!, ward: ward)
            return ("\(dir)/calls-\(day)-\(file)", CallListFormat.html(report, clock: list.clock, generatedAt: now),
                    CallListFormat.csv(report, clock: list.clock))
        }
        try await lane.run {
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o750])
            for (base, html, csv) in files {
                try AtomicFile.write(Array(html.utf8), to: base + ".html", mode: 0o640)
                try AtomicFile.write(Array(csv.utf8), to: base + ".csv", mode: 0o640)
            }
        }
        try await engine.exported(day)
        logger.notice("wrote the call lists for \(day): \(byWard.count) ward(s), \(list.rows.count) call(s), in \(dir)",
                      metadata: ["MESSAGE_ID": "\(MessageID.callListsWritten)"])
    }

    /// Each ward's file name: its slug, and where two wards' spellings give
    /// the same slug ("Ward 7" and "WARD 7" from two systems), a short hash
    /// of the exact name after it. One ward's list never overwrites another's.
    static func fileNames(_ wards: [String]) -> [String: String] {
        var out: [String: String] = [:]
        for (s, same) in Dictionary(grouping: wards, by: slug) {
            for ward in same {
                if same.count == 1 && !s.isEmpty {
                    out[ward] = s
                    continue
                }
                let hash = String(format: "%08x", UInt32(truncatingIfNeeded: FNV1a.hash(ward.utf8)))
                out[ward] = s.isEmpty ? hash : s + "-" + hash
            }
        }
        return out
    }

    static func slug(_ s: String) -> String {
        let out = s.lowercased().map { $0.isLetter || $0.isNumber ? $0 : "-" }
        return String(out).split(separator: "-").joined(separator: "-")
    }
}
