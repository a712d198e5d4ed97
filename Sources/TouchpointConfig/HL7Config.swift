import Foundation
import TOMLKit
import TouchpointDomain
import TouchpointFeedMap
import TouchpointHL7

/// `/etc/touchpoint/hl7.toml`: the HL7 receiver's settings and its feeds
/// (`hl7.md`). Read with the same reader and messages as `touchpoint.toml`:
/// every problem named by file and key, unknown keys refused.
public struct HL7Config: Sendable, Equatable {
    public var file: String
    public var queueFile = "/var/spool/touchpoint/queue.jsonl"
    public var stateDir = "/var/lib/touchpoint-hl7"
    public var controlSocket = "/run/touchpoint/control.sock"
    public var clock: HospitalClock = .utc
    public var listen = "0.0.0.0:2575"
    public var allow: [String] = []
    public var tlsCert = ""
    public var tlsKey = ""
    public var tlsClientCA = ""
    public var maxMessage = 1 << 20
    public var maxConnections = 16
    public var idleTimeout: Duration = .seconds(600)
    public var rejectRetention: Duration = .seconds(14 * 86_400)
    public var feeds: [Feed] = []

    public init(file: String) { self.file = file }

    /// Whether `listen` is a loopback address (then `allow` may be empty).
    public var listensOnLoopback: Bool {
        listen.hasPrefix("127.") || listen.hasPrefix("[::1]") || listen.hasPrefix("localhost:")
    }
}

public enum HL7ConfigLoader {
    public static func load(path: String) throws(ConfigError) -> HL7Config {
        let (text, file) = try ConfigLoader.read(path)
        return try parse(text, file: file)
    }

    public static func parse(_ text: String, file: String) throws(ConfigError) -> HL7Config {
        let table = try ConfigLoader.toml(text, file: file)
        var r = TOMLReader(file: file, baseDir: (file as NSString).deletingLastPathComponent)
        let config = r.readHL7(table)
        if !r.issues.isEmpty { throw ConfigError(issues: r.issues) }
        return config
    }
}

extension TOMLReader {
    static let hl7Keys = ["queue_file", "state_dir", "control_socket", "time_zone", "listen", "allow", "tls_cert", "tls_key",
                          "tls_client_ca", "max_message", "max_connections", "idle_timeout", "reject_retention", "feed"]
    static let feedKeys = ["name", "sending_application", "sending_facility", "patient_id", "nhs_number", "appointment_id", "start",
                           "ward", "wards", "ref_prefix", "delay_reasons", "delay_reason_field", "delay_reason_default", "accept_acks", "map"]
    static let mapKeys = ["when", "as", "procedure", "clinic"]

    mutating func readHL7(_ root: TOMLTable) -> HL7Config {
        checkKeys(root, Self.hl7Keys, section: nil)
        var c = HL7Config(file: file)
        if let p = path(root, nil, "queue_file") { c.queueFile = p }
        if let p = path(root, nil, "state_dir") { c.stateDir = p }
        if let p = path(root, nil, "control_socket") { c.controlSocket = p }
        let zone = string(root, nil, "time_zone") ?? "Europe/London"
        if let rules = try? ZoneRules.load(identifier: zone) {
            c.clock = HospitalClock(rules: rules)
        } else {
            issue("time_zone", "unknown time zone \"\(zone)\" (expected an IANA name such as Europe/London)")
        }
        if let s = string(root, nil, "listen") { c.listen = s }
        c.allow = strings(root, nil, "allow") ?? []
        if !c.listensOnLoopback && c.allow.isEmpty {
            issue("allow", "required when listen is not a loopback address: the engine's addresses (such as \"10.20.0.0/16\")")
        }
        for (key, keyPath) in [("tls_cert", \HL7Config.tlsCert), ("tls_key", \.tlsKey), ("tls_client_ca", \.tlsClientCA)] {
            if let s = string(root, nil, key), !s.isEmpty { c[keyPath: keyPath] = ConfigLoader.absolutePath(s, relativeTo: baseDir) }
        }
        if c.tlsCert.isEmpty != c.tlsKey.isEmpty { issue("tls_key", "tls_cert and tls_key go together (MLLP over TLS needs both)") }
        if !c.tlsClientCA.isEmpty && c.tlsCert.isEmpty { issue("tls_client_ca", "needs tls_cert and tls_key (mutual TLS is TLS first)") }
        if let s = string(root, nil, "max_message") {
            if let n = Self.size(s), (1024...(64 << 20)).contains(n) { c.maxMessage = n } else {
                issue("max_message", "expected a size from 1KiB to 64MiB such as \"1MiB\", got \"\(s)\"")
            }
        }
        if let n = int(root, nil, "max_connections", 1...1024) { c.maxConnections = n }
        if let d = duration(root, nil, "idle_timeout") { c.idleTimeout = d }
        if let d = duration(root, nil, "reject_retention") { c.rejectRetention = d }
        c.feeds = readFeeds(root)
        return c
    }

    static func size(_ s: String) -> Int? {
        for (suffix, factor) in [("KiB", 1 << 10), ("MiB", 1 << 20), ("B", 1)] where s.hasSuffix(suffix) {
            return Int(s.dropLast(suffix.count)).map { $0 * factor }
        }
        return Int(s)
    }

    mutating func strings(_ t: TOMLTable?, _ section: String?, _ key: String) -> [String]? {
        guard let v = t?[key] else { return nil }
        if let s = v.string { return [s] }
        guard let arr = v.array, arr.allSatisfy({ $0.string != nil }) else {
            issue(full(section, key), "expected a string or a list of strings")
            return nil
        }
        return arr.compactMap(\.string)
    }

    mutating func fieldPath(_ text: String, _ key: String) -> HL7FieldPath? {
        do {
            return try HL7FieldPath(parsing: text)
        } catch {
            issue(key, "\(error.explanation), got \"\(text.prefix(40))\"")
            return nil
        }
    }

    mutating func fieldPaths(_ t: TOMLTable, _ section: String, _ key: String) -> [HL7FieldPath]? {
        strings(t, section, key).map { $0.compactMap { fieldPath($0, full(section, key)) } }
    }

    mutating func table(_ t: TOMLTable, _ section: String, _ key: String) -> [String: String] {
        guard let v = t[key] else { return [:] }
        guard let inner = v.table, inner.keys.allSatisfy({ inner[$0]?.string != nil }) else {
            issue(full(section, key), "expected a table of strings such as { \"W7\" = \"Ward 7\" }")
            return [:]
        }
        return Dictionary(uniqueKeysWithValues: inner.keys.map { ($0, inner[$0]!.string!) })
    }

    mutating func readFeeds(_ root: TOMLTable) -> [Feed] {
        guard let v = root["feed"] else {
            issue("feed", "required: at least one [[feed]] (the sending system whose messages touchpoint takes)")
            return []
        }
        guard let arr = v.array else {
            issue("feed", "expected [[feed]] tables")
            return []
        }
        var feeds: [Feed] = []
        for (i, item) in arr.enumerated() {
            let sec = "feed[\(i + 1)]"
            guard let t = item.table else {
                issue(sec, "expected a table ([[feed]])")
                continue
            }
            checkKeys(t, Self.feedKeys, section: sec)
            if let feed = readFeed(t, sec) {
                if feeds.contains(where: { $0.name == feed.name }) { issue("\(sec).name", "\"\(feed.name)\" names another feed too") }
                feeds.append(feed)
            }
        }
        return feeds
    }

    mutating func readFeed(_ t: TOMLTable, _ sec: String) -> Feed? {
        let before = issues.count
        let name = string(t, sec, "name") ?? ""
        if name.isEmpty || name.count > 32 || !name.allSatisfy({ ($0.isLowercase || $0.isNumber || $0 == "-") && $0.isASCII }) {
            issue("\(sec).name", "required: lower case letters, digits and - (at most 32), part of every event id")
        }
        let application = string(t, sec, "sending_application") ?? ""
        if application.isEmpty { issue("\(sec).sending_application", "required: MSH-3.1 of this feed's messages") }
        var patientID = PatientIDRule.first
        if let s = string(t, sec, "patient_id"), s != "first" {
            if let type = IdentifierType(parsing: s) { patientID = .matching(type) } else {
                issue("\(sec).patient_id", "expected \"first\" or an assigning authority and type such as \"RGT^MR\" or \"^MR\", got \"\(s)\"")
            }
        }
        var nhs: [IdentifierType] = [IdentifierType(authority: "NHS", type: "NH")]
        if let list = strings(t, sec, "nhs_number") {
            nhs = list.compactMap { s in
                let type = IdentifierType(parsing: s)
                if type == nil { issue("\(sec).nhs_number", "expected pairs such as \"NHS^NH\", got \"\(s)\"") }
                return type
            }
        }
        let appointmentID = fieldPaths(t, sec, "appointment_id") ?? [HL7FieldPath(segment: "SCH", field: 2, component: 1), HL7FieldPath(segment: "SCH", field: 1, component: 1)]
        let start = fieldPaths(t, sec, "start") ?? [HL7FieldPath(segment: "TQ1", field: 7), HL7FieldPath(segment: "SCH", field: 11, component: 4), HL7FieldPath(segment: "AIS", field: 4)]
        let ward = string(t, sec, "ward").flatMap { fieldPath($0, "\(sec).ward") } ?? HL7FieldPath(segment: "PV1", field: 3, component: 1)
        var feed = Feed(name: name, sendingApplication: application, sendingFacility: string(t, sec, "sending_facility").flatMap { $0.isEmpty ? nil : $0 },
                        patientID: patientID, nhsNumber: nhs, appointmentID: appointmentID, start: start, ward: ward,
                        wards: table(t, sec, "wards"), refPrefix: string(t, sec, "ref_prefix") ?? "",
                        delayReasons: table(t, sec, "delay_reasons"),
                        delayReasonField: string(t, sec, "delay_reason_field").flatMap { fieldPath($0, "\(sec).delay_reason_field") },
                        maps: [])
        if let d = string(t, sec, "delay_reason_default") {
            if d.isEmpty { issue("\(sec).delay_reason_default", "must not be empty: it is what a delayed patient is told") } else { feed.delayReasonDefault = d }
        }
        if let b = t["accept_acks"] {
            if let v = b.bool { feed.acceptAcks = v } else { issue("\(sec).accept_acks", "expected true or false") }
        }
        feed.maps = readMaps(t, sec)
        return issues.count == before ? feed : nil
    }

    mutating func readMaps(_ t: TOMLTable, _ sec: String) -> [FeedRule] {
        guard let arr = t["map"]?.array, !arr.isEmpty else {
            issue("\(sec).map", "required: at least one [[feed.map]] (which appointments are which bookings)")
            return []
        }
        var rules: [FeedRule] = []
        for (i, item) in arr.enumerated() {
            let m = "\(sec).map[\(i + 1)]"
            guard let mt = item.table else {
                issue(m, "expected a table ([[feed.map]])")
                continue
            }
            checkKeys(mt, Self.mapKeys, section: m)
            var when: [(HL7FieldPath, [String])] = []
            if let w = mt["when"]?.table {
                for key in w.keys.sorted() {
                    guard let path = fieldPath(key, "\(m).when") else { continue }
                    guard let values = strings(w, "\(m).when", key), !values.isEmpty else { continue }
                    when.append((path, values))
                }
            } else {
                issue("\(m).when", "required: a table of field path = values, such as { \"AIS-3.1\" = [\"BRS01\"] }")
            }
            let booking: FeedRule.Booking
            switch string(mt, m, "as") ?? "" {
            case "surgery": booking = .surgery
            case "open_access": booking = .openAccess
            case let s where s.hasPrefix("appointment:") && s.count > "appointment:".count:
                booking = .appointment(service: String(s.dropFirst("appointment:".count)))
            case let s:
                issue("\(m).as", "expected \"surgery\", \"open_access\" or \"appointment:SERVICE\", got \"\(s)\"")
                continue
            }
            rules.append(FeedRule(when: when, as: booking,
                                  procedure: string(mt, m, "procedure").flatMap { fieldPath($0, "\(m).procedure") },
                                  clinic: string(mt, m, "clinic").flatMap { fieldPath($0, "\(m).clinic") }))
        }
        return rules
    }
}
