import Foundation
import TOMLKit
import TouchpointDomain

/// Reads and validates `touchpoint.toml`. Unknown keys are errors: a typo must
/// never silently fall back to a default in a service that phones patients.
public enum ConfigLoader {
    /// Loads the file at `path`, resolving relative paths against its directory.
    public static func load(path: String) throws(ConfigError) -> TouchpointConfig {
        let (text, file) = try read(path)
        return try parse(text, file: file)
    }

    /// A config file's text and absolute path; a file that cannot be read,
    /// or is not UTF-8, is an issue naming it (every config file touchpoint reads).
    public static func read(_ path: String) throws(ConfigError) -> (text: String, file: String) {
        let absolute = absolutePath(path, relativeTo: FileManager.default.currentDirectoryPath)
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: absolute))
            guard let s = String(data: data, encoding: .utf8) else {
                throw ConfigError(issues: [ConfigIssue(file: absolute, key: nil, message: "is not UTF-8 text")])
            }
            return (s, absolute)
        } catch let e as ConfigError {
            throw e
        } catch {
            throw ConfigError(issues: [ConfigIssue(file: absolute, key: nil, message: "cannot be read: \(describe(error)) (check the path given with --config and its permissions)")])
        }
    }

    /// Parses config text; `file` names it in errors and anchors relative paths.
    public static func parse(_ text: String, file: String) throws(ConfigError) -> TouchpointConfig {
        let table = try toml(text, file: file)
        var r = TOMLReader(file: file, baseDir: (file as NSString).deletingLastPathComponent)
        let config = r.read(table)
        if !r.issues.isEmpty { throw ConfigError(issues: r.issues) }
        return config!
    }

    /// TOML text as a table; a syntax error names the file, line and column
    /// (every config file touchpoint reads: touchpoint.toml, web.toml).
    public static func toml(_ text: String, file: String) throws(ConfigError) -> TOMLTable {
        do {
            return try TOMLTable(string: text)
        } catch let e as TOMLParseError {
            throw ConfigError(issues: [ConfigIssue(file: file, key: nil, message: "line \(e.source.begin.line), column \(e.source.begin.column): \(e.description)")])
        } catch {
            throw ConfigError(issues: [ConfigIssue(file: file, key: nil, message: "not valid TOML: \(error)")])
        }
    }

    static func absolutePath(_ path: String, relativeTo base: String) -> String {
        let joined = path.hasPrefix("/") ? path : (base as NSString).appendingPathComponent(path)
        return (joined as NSString).standardizingPath
    }

    static func describe(_ error: Error) -> String {
        let ns = error as NSError
        if let underlying = ns.userInfo[NSUnderlyingErrorKey] as? NSError, underlying.domain == NSPOSIXErrorDomain {
            return String(cString: strerror(Int32(underlying.code)))
        }
        if ns.domain == NSCocoaErrorDomain && ns.code == NSFileReadNoSuchFileError { return "no such file" }
        if ns.domain == NSCocoaErrorDomain && ns.code == NSFileReadNoPermissionError { return "permission denied" }
        return ns.localizedDescription
    }
}

/// Walks a config file's TOML tables, collecting every issue rather than
/// stopping at the first, each naming the file and the key, in one style:
/// the reader of `touchpoint.toml` and of the web view's `web.toml` alike
/// (they had a reader each, with messages of their own).
public struct TOMLReader {
    public let file: String
    /// Relative paths in the file are relative to this directory.
    public let baseDir: String
    public var issues: [ConfigIssue] = []

    public init(file: String, baseDir: String) {
        self.file = file
        self.baseDir = baseDir
    }

    public mutating func issue(_ key: String?, _ message: String) {
        issues.append(ConfigIssue(file: file, key: key, message: message))
    }

    /// Reports keys of `table` that are not in `known`.
    public mutating func checkKeys(_ table: TOMLTable, _ known: [String], section: String?) {
        for key in table.keys where !known.contains(key) {
            let full = section.map { "\($0).\(key)" } ?? key
            let near = known.min { editDistance($0, key) < editDistance($1, key) }
            var msg = "unknown key"
            if let near, editDistance(near, key) <= 2 { msg += " (did you mean \"\(near)\"?)" }
            msg += "; known keys\(section.map { " in [\($0)]" } ?? " at the top level"): \(known.joined(separator: ", "))"
            issue(full, msg)
        }
    }

    public mutating func section(_ root: TOMLTable, _ name: String, _ known: [String]) -> TOMLTable? {
        guard let v = root[name] else { return nil }
        guard let t = v.table else {
            issue(name, "expected a table ([\(name)])")
            return nil
        }
        checkKeys(t, known, section: name)
        return t
    }

    public mutating func string(_ t: TOMLTable?, _ section: String?, _ key: String) -> String? {
        guard let v = t?[key] else { return nil }
        guard let s = v.string else {
            issue(full(section, key), "expected a string in quotes")
            return nil
        }
        return s
    }

    public mutating func int(_ t: TOMLTable?, _ section: String?, _ key: String, _ range: ClosedRange<Int>) -> Int? {
        guard let v = t?[key] else { return nil }
        guard let i = v.int, range.contains(i) else {
            issue(full(section, key), "expected a whole number from \(range.lowerBound) to \(range.upperBound)")
            return nil
        }
        return i
    }

    public mutating func duration(_ t: TOMLTable?, _ section: String?, _ key: String) -> Duration? {
        guard let s = string(t, section, key) else { return nil }
        guard let d = parseDuration(s) else {
            issue(full(section, key), "expected a duration such as 90s, 10m, 2h or 1d, got \"\(s)\"")
            return nil
        }
        return d
    }

    public mutating func timeOfDay(_ t: TOMLTable?, _ section: String, _ key: String) -> TimeOfDay? {
        guard let s = string(t, section, key) else { return nil }
        guard let d = TimeOfDay(hhmm: Substring(s)) else {
            issue(full(section, key), "expected a time of day HH:MM (24-hour), got \"\(s)\"")
            return nil
        }
        return d
    }

    public mutating func window(_ t: TOMLTable?, _ section: String, _ key: String) -> DailyWindow? {
        guard let s = string(t, section, key) else { return nil }
        guard let w = DailyWindow(s) else {
            issue(full(section, key), "expected a window HH:MM-HH:MM such as 09:00-17:00, got \"\(s)\"")
            return nil
        }
        return w
    }

    public mutating func path(_ t: TOMLTable?, _ section: String?, _ key: String) -> String? {
        guard let s = string(t, section, key) else { return nil }
        guard !s.isEmpty else {
            issue(full(section, key), "must not be empty")
            return nil
        }
        return ConfigLoader.absolutePath(s, relativeTo: baseDir)
    }

    public func full(_ section: String?, _ key: String) -> String { section.map { "\($0).\(key)" } ?? key }

    mutating func read(_ root: TOMLTable) -> TouchpointConfig? {
        checkKeys(root, ["time_zone", "state_dir", "queue_file", "templates_dir", "hospital", "control",
                         "calendar", "calls", "wait_notice", "open_access", "notices", "transport", "log", "contact", "feed", "needs", "backup", "leaflet"],
                  section: nil)
        var tzName = "Europe/London"
        if let s = string(root, nil, "time_zone") { tzName = s }
        var clock: HospitalClock?
        do {
            clock = try ZoneRules.load(identifier: tzName).map(HospitalClock.init(rules:))
            if clock == nil {
                issue("time_zone", "unknown time zone \"\(tzName)\" (expected an IANA name such as Europe/London, "
                    + "found in \(ZoneRules.systemDirectory); is tzdata installed?)")
            }
        } catch {
            issue("time_zone", "\(error)")
        }
        var c = TouchpointConfig(file: file, clock: clock ?? .utc,
                                 hospital: readHospital(root))
        if let p = path(root, nil, "state_dir") { c.stateDir = p }
        if let p = path(root, nil, "queue_file") { c.queueFile = p }
        if let p = path(root, nil, "templates_dir") { c.templatesDir = p }
        readControl(root, into: &c.control)
        readCalendar(root, into: &c.calendar)
        readCalls(root, into: &c.calls)
        let wait = section(root, "wait_notice", ["lead", "coalesce"])
        if let d = duration(wait, "wait_notice", "lead") { c.waitNotice.lead = d }
        if let d = duration(wait, "wait_notice", "coalesce") { c.waitNotice.coalesce = d }
        let oa = section(root, "open_access", ["days_before", "send_at"])
        if let i = int(oa, "open_access", "days_before", 0...90) { c.openAccess.daysBefore = i }
        if let t = timeOfDay(oa, "open_access", "send_at") { c.openAccess.sendAt = t }
        readNotices(root, into: &c.notices)
        readTransport(root, into: &c.transport)
        readLog(root, into: &c)
        c.contacts = readContacts(root)
        c.feedSources = readFeeds(root)
        c.needs = readNeeds(root)
        c.youSaid = readLeaflet(root)
        if let keep = int(section(root, "backup", ["keep"]), "backup", "keep", 1...365) { c.backupKeep = keep }
        return issues.isEmpty ? c : nil
    }

    /// `[leaflet.you_said]`: what patients said, per promise, in a hospital's
    /// own pledge (the leaflet's first column); a promise left out keeps the
    /// seed pledge's words (`Pledge.patientsSaid`).
    mutating func readLeaflet(_ root: TOMLTable) -> [Pledge: String] {
        guard let leaflet = section(root, "leaflet", ["you_said"]) else { return [:] }
        guard let v = leaflet["you_said"] else { return [:] }
        guard let t = v.table else {
            issue("leaflet.you_said", "expected a table ([leaflet.you_said])")
            return [:]
        }
        checkKeys(t, Pledge.allCases.map(\.rawValue), section: "leaflet.you_said")
        var out: [Pledge: String] = [:]
        for pledge in Pledge.allCases {
            guard let s = string(t, "leaflet.you_said", pledge.rawValue) else { continue }
            let words = s.trimmingCharacters(in: .whitespacesAndNewlines)
            guard !words.isEmpty, words.count <= 300 else {
                issue("leaflet.you_said.\(pledge.rawValue)", "expected what patients said, 1 to 300 characters")
                continue
            }
            out[pledge] = words
        }
        return out
    }

    /// `[needs.CODE]` (communication needs, DCB1605): the words staff see
    /// (`label`) and what the need does to a notice (`notices`).
    mutating func readNeeds(_ root: TOMLTable) -> CommunicationNeeds {
        guard let v = root["needs"] else { return CommunicationNeeds() }
        guard let table = v.table else {
            issue("needs", "expected [needs.CODE] tables ([needs.no_phone])")
            return CommunicationNeeds()
        }
        var out: [CommunicationNeed] = []
        for code in table.keys.sorted() {
            let sec = "needs.\(code)"
            guard CommunicationNeeds.isCode(code), !code.contains(":") else {
                issue(sec, "a need's code is lower case letters, digits and _ (interpreter, easy_read); a qualifier such as :pl comes from the feed")
                continue
            }
            guard let t = table[code]?.table else {
                issue(sec, "expected a table ([\(sec)])")
                continue
            }
            checkKeys(t, ["label", "notices"], section: sec)
            guard let label = string(t, sec, "label"), !label.trimmingCharacters(in: .whitespaces).isEmpty, label.count <= 80 else {
                issue("\(sec).label", "required: the words staff see, at most 80 characters (\"Interpreter needed\")")
                continue
            }
            var notices = CommunicationNeed.Notices.send
            if let s = string(t, sec, "notices") {
                guard let n = CommunicationNeed.Notices(rawValue: s) else {
                    issue("\(sec).notices", "expected \"send\", \"variant\" or \"call\"")
                    continue
                }
                notices = n
            }
            out.append(CommunicationNeed(code: code, label: label, notices: notices))
        }
        return CommunicationNeeds(out)
    }

    /// `[feed]` with its `[[feed.source]]` tables: a name (the events'
    /// `source`) and `silent_after` in whole open days.
    mutating func readFeeds(_ root: TOMLTable) -> [ExpectedFeed] {
        guard let feed = section(root, "feed", ["source"]), let v = feed["source"] else { return [] }
        guard let arr = v.array else {
            issue("feed.source", "expected [[feed.source]] tables")
            return []
        }
        var out: [ExpectedFeed] = []
        for (i, item) in arr.enumerated() {
            let sec = "feed.source[\(i + 1)]"
            guard let t = item.table else {
                issue(sec, "expected a table ([[feed.source]])")
                continue
            }
            checkKeys(t, ["name", "silent_after"], section: sec)
            guard let name = string(t, sec, "name"), !name.isEmpty, name.count <= 128 else {
                issue("\(sec).name", "expected the writer's name as its events give it in `source` (hl7:theatres)")
                continue
            }
            if out.contains(where: { $0.source == name }) { issue("\(sec).name", "\"\(name)\" is listed twice") }
            var days = 1
            if let d = duration(t, sec, "silent_after") {
                let whole = Int(d.components.seconds)
                if whole % 86_400 != 0 || whole < 86_400 || whole > 30 * 86_400 {
                    issue("\(sec).silent_after", "counted in open days: 1d to 30d")
                } else {
                    days = whole / 86_400
                }
            }
            out.append(ExpectedFeed(source: name, silentAfterOpenDays: days))
        }
        return out
    }

    static let contactKeys = ["name", "on", "pathway", "service", "mode", "send", "expires", "to", "list", "promise"]

    /// `[[contact]]` (`contacts.md`): each rule checked, every problem named
    /// by its place (`contact[2].send`).
    mutating func readContacts(_ root: TOMLTable) -> [ContactRule] {
        guard let v = root["contact"] else { return [] }
        guard let arr = v.array else {
            issue("contact", "expected [[contact]] tables")
            return []
        }
        var rules: [ContactRule] = []
        for (i, item) in arr.enumerated() {
            let sec = "contact[\(i + 1)]"
            guard let t = item.table else {
                issue(sec, "expected a table ([[contact]])")
                continue
            }
            checkKeys(t, Self.contactKeys, section: sec)
            if let rule = readContact(t, sec, taken: rules.map(\.name)) { rules.append(rule) }
        }
        return rules
    }

    mutating func readContact(_ t: TOMLTable, _ sec: String, taken: [String]) -> ContactRule? {
        let before = issues.count
        let name = string(t, sec, "name") ?? ""
        if name.isEmpty {
            issue("\(sec).name", "required: the contact's name (lower case letters, digits and _), which is its job kind")
        } else if name.count > 48 || !ContactRule.isCode(name)
                    || !(name.first?.isLetter ?? false) {
            issue("\(sec).name", "expected lower case letters, digits and _ (starting with a letter, at most 48), got \"\(name)\"")
        } else if JobKind(rawValue: name).isBuiltIn {
            issue("\(sec).name", "\"\(name)\" is a built-in kind; choose another name")
        } else if taken.contains(name) {
            issue("\(sec).name", "\"\(name)\" is configured twice")
        }
        let on = string(t, sec, "on") ?? ""
        if !QueueEvent.contactTriggers.contains(on) {
            issue("\(sec).on", on.isEmpty ? "required: the event type that plans it (\(QueueEvent.contactTriggers.joined(separator: " or ")))"
                : "expected \(QueueEvent.contactTriggers.joined(separator: " or ")), got \"\(on)\"")
        }
        var pathway: Pathway?
        if let p = string(t, sec, "pathway") {
            pathway = Pathway(rawValue: p)
            if pathway == nil { issue("\(sec).pathway", "expected \"primary\" or \"secondary\", got \"\(p)\"") }
            if on == "appointment.booked" { issue("\(sec).pathway", "only for contacts on treatment.completed") }
        }
        let service = string(t, sec, "service")
        if service != nil && on == "treatment.completed" { issue("\(sec).service", "only for contacts on appointment.booked") }
        var mode: AppointmentMode?
        if let m = string(t, sec, "mode") {
            mode = AppointmentMode(rawValue: m)
            if mode == nil { issue("\(sec).mode", "expected \"in_person\", \"phone\" or \"video\", got \"\(m)\"") }
        }
        let sendText = string(t, sec, "send") ?? ""
        let send = RelativeTime(sendText)
        if send == nil {
            issue("\(sec).send", sendText.isEmpty ? "required: when it is due, relative to the event (\"+1d 10:00\", \"-2d 10:00\", \"+0d\")"
                : "expected days and an optional local time such as \"+1d 10:00\", \"-2d 10:00\" or \"+0d\", got \"\(sendText)\"")
        }
        var expires: RelativeTime?
        if let e = string(t, sec, "expires") {
            expires = RelativeTime(e)
            if expires == nil { issue("\(sec).expires", "expected days and an optional local time such as \"+14d\" or \"+0d\", got \"\(e)\"") }
        }
        let to = string(t, sec, "to") ?? "patient"
        let list = string(t, sec, "list") ?? ""
        var audience = ContactRule.Audience.patient
        switch to {
        case "patient":
            if !list.isEmpty { issue("\(sec).list", "only with to = \"list\"") }
        case "list":
            if list.trimmingCharacters(in: .whitespaces).isEmpty {
                issue("\(sec).list", "required with to = \"list\": the worklist's name staff see (\"pre-surgery options\")")
            }
            audience = .list(list)
        default:
            issue("\(sec).to", "expected \"patient\" (a notice) or \"list\" (a call on a worklist), got \"\(to)\"")
        }
        let promise = string(t, sec, "promise")?.trimmingCharacters(in: .whitespacesAndNewlines)
        if let promise, promise.isEmpty || promise.count > 300 {
            issue("\(sec).promise", "expected the pledge's promise this contact keeps, 1 to 300 characters (\"We'll make sure ...\")")
        }
        guard issues.count == before, let send else { return nil }
        var rule = ContactRule(name: name, on: on, pathway: pathway, service: service, mode: mode, send: send, expires: expires, to: audience)
        rule.promise = promise
        return rule
    }

    mutating func readHospital(_ root: TOMLTable) -> TouchpointConfig.Hospital {
        let hospitalT = section(root, "hospital", ["name", "phone"])
        let name = string(hospitalT, "hospital", "name")
        let phone = string(hospitalT, "hospital", "phone")
        if name?.isEmpty ?? true { issue("hospital.name", "required: the hospital's name, used in messages") }
        if phone?.isEmpty ?? true { issue("hospital.phone", "required: the breast care nurses' phone line, used in messages") }
        return .init(name: name ?? "", phone: phone ?? "")
    }

    mutating func readControl(_ root: TOMLTable, into c: inout TouchpointConfig.Control) {
        let control = section(root, "control", ["socket", "admin_group", "staff_group", "delegate_group", "feed_group", "idle_timeout"])
        if let p = path(control, "control", "socket") {
            c.socket = p
            if p.utf8.count > 107 { issue("control.socket", "path is \(p.utf8.count) bytes; a Unix socket path must be at most 107") }
        }
        if let s = string(control, "control", "admin_group") { c.adminGroup = s }
        if let s = string(control, "control", "staff_group") { c.staffGroup = s }
        if let s = string(control, "control", "delegate_group") { c.delegateGroup = s }
        if let s = string(control, "control", "feed_group") { c.feedGroup = s }
        if let d = duration(control, "control", "idle_timeout") {
            if d < .seconds(1) { issue("control.idle_timeout", "must be at least 1s") } else { c.idleTimeout = d }
        }
    }

    mutating func readCalendar(_ root: TOMLTable, into c: inout TouchpointConfig.Calendar) {
        let cal = section(root, "calendar", ["closed_dates", "closed_dates_file"])
        if let v = cal?["closed_dates"] {
            if let arr = v.array {
                for (i, item) in arr.enumerated() {
                    if let s = item.string, let d = LocalDate(iso: s) {
                        c.closedDates.insert(d)
                    } else if let d = item.date, LocalDate.isValid(year: d.year, month: d.month, day: d.day) {
                        c.closedDates.insert(LocalDate(year: d.year, month: d.month, day: d.day))
                    } else {
                        issue("calendar.closed_dates[\(i)]", "expected a date \"YYYY-MM-DD\"")
                    }
                }
            } else {
                issue("calendar.closed_dates", "expected a list of dates, such as [\"2026-12-25\"]")
            }
        }
        if let s = string(cal, "calendar", "closed_dates_file"), !s.isEmpty {
            let p = ConfigLoader.absolutePath(s, relativeTo: baseDir)
            if let text = try? String(contentsOfFile: p, encoding: .utf8) {
                let days = ClosedDaysICS.dates(in: text)
                if days.isEmpty && !text.contains("BEGIN:VCALENDAR") {
                    issue("calendar.closed_dates_file", "\(p) is not an ICS calendar (expected BEGIN:VCALENDAR and all-day VEVENTs)")
                }
                c.closedDatesFromFile = days
            } else {
                issue("calendar.closed_dates_file", "cannot read \(p) (expected an ICS file of closed days)")
            }
            c.closedDatesFile = p
        }
    }

    mutating func readCalls(_ root: TOMLTable, into c: inout TouchpointConfig.Calls) {
        let calls = section(root, "calls", ["days_after_surgery", "days", "window", "retry_after", "max_attempts", "escalate_after_days", "export_dir", "export_at", "wards", "escalation_alert_after"])
        if let i = int(calls, "calls", "days_after_surgery", 0...30) { c.daysAfterSurgery = i }
        if let v = calls?["days"] {
            let names = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
            if let arr = v.array {
                var days = Set<Int>()
                for (i, item) in arr.enumerated() {
                    if let s = item.string, let idx = names.firstIndex(of: s.lowercased()) {
                        days.insert(idx + 1)
                    } else {
                        issue("calls.days[\(i)]", "expected one of \(names.joined(separator: ", "))")
                    }
                }
                if arr.count == 0 { issue("calls.days", "must name at least one day") }
                c.days = days
            } else {
                issue("calls.days", "expected a list such as [\"mon\", \"tue\"]")
            }
        }
        if let w = window(calls, "calls", "window") {
            if w.crossesMidnight { issue("calls.window", "the call window must not cross midnight") } else { c.window = w }
        }
        if let d = duration(calls, "calls", "retry_after") { c.retryAfter = d }
        if let i = int(calls, "calls", "max_attempts", 1...20) { c.maxAttempts = i }
        if let i = int(calls, "calls", "escalate_after_days", 0...30) { c.escalateAfterDays = i }
        if let s = string(calls, "calls", "export_dir"), !s.isEmpty {
            c.exportDir = ConfigLoader.absolutePath(s, relativeTo: baseDir)
        }
        if let t = timeOfDay(calls, "calls", "export_at") { c.exportAt = t }
        if let d = duration(calls, "calls", "escalation_alert_after") {
            if d.seconds < 60 || d.seconds > 7 * 86_400 { issue("calls.escalation_alert_after", "from 1m to 7d of call-window time") } else { c.escalationAlertAfter = d }
        }
        if let w = strings(calls, "calls", "wards", "ward names", valid: { !WardNames.tidy($0).isEmpty && $0.count <= 200 }) {
            var seen: [String: String] = [:]
            for name in w {
                if let first = seen[WardNames.key(name)] {
                    issue("calls.wards", "\"\(name)\" and \"\(first)\" are one ward (wards are compared without case or extra spaces)")
                }
                seen[WardNames.key(name)] = name
            }
            c.wards = w
        }
    }

    mutating func readNotices(_ root: TOMLTable, into c: inout TouchpointConfig.Notices) {
        let notices = section(root, "notices", ["quiet_hours", "default_channel", "sms_max_chars"])
        if let s = string(notices, "notices", "quiet_hours") {
            if s.isEmpty {
                c.quietHours = nil
            } else if let w = DailyWindow(s) {
                c.quietHours = w
            } else {
                issue("notices.quiet_hours", "expected a window HH:MM-HH:MM such as 20:00-08:00, or \"\" for none; got \"\(s)\"")
            }
        }
        if let s = string(notices, "notices", "default_channel") {
            if let ch = Channel(rawValue: s) { c.defaultChannel = ch } else {
                issue("notices.default_channel", "expected \"sms\", \"email\" or \"none\", got \"\(s)\"")
            }
        }
        if let i = int(notices, "notices", "sms_max_chars", 70...10_000) { c.smsMaxChars = i }
    }

    mutating func readTransport(_ root: TOMLTable, into c: inout TouchpointConfig.Transport) {
        let tr = section(root, "transport", ["kind", "outbox_dir", "command", "timeout", "backoff_initial", "backoff_max", "max_age", "notify"])
        if let s = string(tr, "transport", "kind") {
            if let k = TouchpointConfig.TransportKind(rawValue: s) { c.kind = k } else {
                issue("transport.kind", "expected \"outbox\", \"command\" or \"notify\", got \"\(s)\"")
            }
        }
        if let tr { readNotify(tr, kind: c.kind, into: &c.notify) } else if c.kind == .notify { readNotify(TOMLTable(), kind: c.kind, into: &c.notify) }
        if let p = path(tr, "transport", "outbox_dir") { c.outboxDir = p }
        if let v = tr?["command"] {
            if let arr = v.array, arr.allSatisfy({ $0.string != nil }) {
                c.command = arr.compactMap(\.string)
                if let first = c.command.first {
                    c.command[0] = ConfigLoader.absolutePath(first, relativeTo: baseDir)
                }
            } else {
                issue("transport.command", "expected a list of strings: the program and its arguments (no shell)")
            }
        }
        checkCommand(c)
        if let d = duration(tr, "transport", "timeout") { c.timeout = d }
        if let d = duration(tr, "transport", "backoff_initial") { c.backoffInitial = d }
        if let d = duration(tr, "transport", "backoff_max") { c.backoffMax = d }
        if let d = duration(tr, "transport", "max_age") { c.maxAge = d }
        if c.backoffMax < c.backoffInitial {
            issue("transport.backoff_max", "must not be shorter than transport.backoff_initial")
        }
    }

    static let notifyKeys = ["base_url", "api_key_file", "sms_template_id", "email_template_id", "sms_sender_id", "email_reply_to_id",
                             "rate_limit", "rate_burst", "retention", "receipt_poll", "receipt_max_age", "timeout", "proxy", "ca_file"]

    /// `[transport.notify]`: read always (a typo is an error even while
    /// another transport is in force); the key and the required ids are
    /// checked only when `kind` is notify.
    mutating func readNotify(_ tr: TOMLTable, kind: TouchpointConfig.TransportKind, into n: inout TouchpointConfig.Notify) {
        var t: TOMLTable?
        if let v = tr["notify"] {
            if let table = v.table {
                checkKeys(table, Self.notifyKeys, section: "transport.notify")
                t = table
            } else {
                issue("transport.notify", "expected a table ([transport.notify])")
            }
        }
        let sec = "transport.notify"
        if let u = string(t, sec, "base_url") { n.baseURL = u }
        if let p = path(t, sec, "api_key_file") { n.apiKeyFile = p }
        for (key, keyPath) in [("sms_template_id", \TouchpointConfig.Notify.smsTemplateID), ("email_template_id", \.emailTemplateID),
                               ("sms_sender_id", \.smsSenderID), ("email_reply_to_id", \.emailReplyToID)] {
            guard let id = string(t, sec, key) else { continue }
            if !id.isEmpty && !NotifyAPIKey.isUUID(id) { issue("\(sec).\(key)", "expected the id Notify shows for it (36 characters, 8-4-4-4-12), got \"\(id)\"") }
            n[keyPath: keyPath] = id
        }
        if let r = int(t, sec, "rate_limit", 1...3000) { n.rateLimit = r }
        if let b = int(t, sec, "rate_burst", 1...999) { n.rateBurst = b }
        if let d = duration(t, sec, "retention") {
            if d < .seconds(3 * 86_400) || d > .seconds(90 * 86_400) {
                issue("\(sec).retention", "Notify keeps notifications from 3 to 90 days (7 unless the service changed it); got \(Int(d.seconds / 86_400)) days")
            } else {
                n.retention = d
            }
        }
        if let d = duration(t, sec, "receipt_poll") { n.receiptPoll = d }
        if let d = duration(t, sec, "receipt_max_age") { n.receiptMaxAge = d }
        if let d = duration(t, sec, "timeout") { n.timeout = d }
        if let p = string(t, sec, "proxy") { n.proxy = p }
        if let p = string(t, sec, "ca_file") { n.caFile = p.isEmpty ? "" : ConfigLoader.absolutePath(p, relativeTo: baseDir) }
        if n.receiptPoll < .seconds(1) { issue("\(sec).receipt_poll", "at least 1s") }
        if n.receiptMaxAge > n.retention {
            issue("\(sec).receipt_max_age", "longer than retention (\(Int(n.retention.seconds / 86_400)) days): Notify forgets a notification after that, so its receipt could never come")
        }
        guard kind == .notify else { return }
        checkNotifyURLs(n)
        if n.smsTemplateID.isEmpty { issue("\(sec).sms_template_id", "required when transport.kind is \"notify\": the id of a Notify text message template whose body is ((body))") }
        if n.emailTemplateID.isEmpty { issue("\(sec).email_template_id", "required when transport.kind is \"notify\": the id of a Notify email template whose subject is ((subject)) and body ((body))") }
        if !n.caFile.isEmpty, !FileManager.default.isReadableFile(atPath: n.caFile) { issue("\(sec).ca_file", "\(n.caFile) cannot be read") }
        readNotifyKey(&n)
    }

    /// `base_url` must be https, except on a loopback address; `proxy` is an http URL.
    mutating func checkNotifyURLs(_ n: TouchpointConfig.Notify) {
        let sec = "transport.notify"
        if let u = URL(string: n.baseURL), let scheme = u.scheme, let host = u.host, u.query == nil {
            let loopback = ["127.0.0.1", "::1", "localhost", "[::1]"].contains(host)
            if scheme != "https" && !(scheme == "http" && loopback) {
                issue("\(sec).base_url", "must be https:// (http:// only on a loopback address, for a local relay or a test double), got \"\(n.baseURL)\"")
            }
        } else {
            issue("\(sec).base_url", "expected a URL such as https://api.notifications.service.gov.uk, got \"\(n.baseURL)\"")
        }
        if !n.proxy.isEmpty {
            if let u = URL(string: n.proxy), u.scheme == "http", u.host != nil, u.port != nil {} else {
                issue("\(sec).proxy", "expected http://HOST:PORT, got \"\(n.proxy)\"")
            }
        }
    }

    /// The key from systemd's credentials when given, else `api_key_file`.
    /// Errors name the file, never its content.
    mutating func readNotifyKey(_ n: inout TouchpointConfig.Notify) {
        var file = n.apiKeyFile
        var key = "transport.notify.api_key_file"
        if let dir = ProcessInfo.processInfo.environment["CREDENTIALS_DIRECTORY"], FileManager.default.fileExists(atPath: dir + "/notify-api-key") {
            file = dir + "/notify-api-key"
            key = "transport.notify (the credential notify-api-key)"
        }
        n.apiKeySource = file
        guard let data = FileManager.default.contents(atPath: file) else {
            issue(key, "\(file) cannot be read (\(FileManager.default.fileExists(atPath: file) ? "permission denied" : "no such file"))")
            return
        }
        guard let k = NotifyAPIKey(String(decoding: data, as: UTF8.self)) else {
            issue(key, "\(file) does not hold a Notify API key (name-serviceid-secret, the last two 36 characters each)")
            return
        }
        n.apiKey = k
    }

    /// A missing gateway program is caught when the config loads, not at the
    /// first notice: it is the admin's to fix, and no patient's notice should
    /// wait to find out.
    mutating func checkCommand(_ c: TouchpointConfig.Transport) {
        if c.kind == .command && c.command.isEmpty {
            issue("transport.command", "required when transport.kind is \"command\": the program and its arguments")
        } else if c.kind == .command, let program = c.command.first {
            var st = stat()
            if stat(program, &st) != 0 {
                issue("transport.command", "the program \(program) does not exist")
            } else if st.st_mode & S_IFMT != S_IFREG || access(program, X_OK) != 0 {
                issue("transport.command", "the program \(program) is not an executable file")
            }
        }
    }

    mutating func readLog(_ root: TOMLTable, into c: inout TouchpointConfig) {
        let (level, target) = readLog(root)
        if let level { c.logLevel = level }
        if let target { c.logTarget = target }
    }

    /// `[log]`: `level` and `target`, as both programs' files have them.
    public mutating func readLog(_ root: TOMLTable) -> (level: TouchpointConfig.LogLevel?, target: TouchpointConfig.LogTarget?) {
        let log = section(root, "log", ["level", "target"])
        var out: (level: TouchpointConfig.LogLevel?, target: TouchpointConfig.LogTarget?) = (nil, nil)
        if let s = string(log, "log", "level") {
            if let l = TouchpointConfig.LogLevel(rawValue: s) { out.level = l } else {
                issue("log.level", "expected one of \(TouchpointConfig.LogLevel.allCases.map(\.rawValue).joined(separator: ", ")), got \"\(s)\"")
            }
        }
        if let s = string(log, "log", "target") {
            if let t = TouchpointConfig.LogTarget(rawValue: s) { out.target = t } else {
                issue("log.target", "expected \"auto\", \"journal\" or \"stderr\", got \"\(s)\"")
            }
        }
        return out
    }

    /// A list of strings, each passing `valid`; `what` says what one is, for the message.
    public mutating func strings(_ t: TOMLTable?, _ section: String?, _ key: String, _ what: String,
                                 valid: (String) -> Bool = { _ in true }) -> [String]? {
        guard let v = t?[key] else { return nil }
        guard let arr = v.array, arr.allSatisfy({ $0.string.map(valid) ?? false }) else {
            issue(full(section, key), "expected a list of \(what) in quotes")
            return nil
        }
        return arr.compactMap(\.string)
    }
}

/// `90s`, `10m`, `2h`, `1d` (a whole number and one unit).
public func parseDuration(_ s: String) -> Duration? {
    guard let unit = s.last, let n = Int(s.dropLast()), n >= 0 else { return nil }
    switch unit {
    case "s": return .seconds(n)
    case "m": return .seconds(n * 60)
    case "h": return .seconds(n * 3600)
    case "d": return .seconds(n * 86_400)
    default: return nil
    }
}

private func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a), b = Array(b)
    var prev = Array(0...b.count)
    for i in 1...max(a.count, 1) where !a.isEmpty {
        var cur = [i] + Array(repeating: 0, count: b.count)
        for j in 1...max(b.count, 1) where !b.isEmpty {
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
        }
        prev = cur
    }
    return prev[b.count]
}
