import Logging
import Foundation
import TouchpointDomain

/// What touchpointd reads from `touchpoint.toml` (see `config.md`): every key has its default here.
public struct TouchpointConfig: Equatable, Sendable {
    public struct Hospital: Equatable, Sendable {
        public var name: String
        public var phone: String
    }

    public struct Control: Equatable, Sendable {
        public var socket = "/run/touchpoint/control.sock"
        public var adminGroup = "touchpoint-admin"
        public var staffGroup = "touchpoint-staff"
        /// May act for a named person (`web.md`): the web view's group.
        public var delegateGroup = "touchpoint-web"
        /// The `feed` role: `status` and `patient-known` only, whatever other
        /// group its members are in (the HL7 receiver's user, `hl7.md`).
        public var feedGroup = "touchpoint-feed"
        /// A control connection with no request for this long is closed (`cli.md`: 60 s).
        public var idleTimeout: Duration = .seconds(60)
    }

    public struct Calendar: Equatable, Sendable {
        public var closedDates: Set<LocalDate> = []
        /// An ICS file of closed days (absolute), if any.
        public var closedDatesFile: String?
        /// The days that file closes, read when the config is loaded (and reloaded).
        public var closedDatesFromFile: Set<LocalDate> = []
    }

    public struct Calls: Equatable, Sendable {
        public var daysAfterSurgery = 1
        /// ISO weekdays (1 Monday ... 7 Sunday) on which calls are made.
        public var days: Set<Int> = Set(1...7)
        public var window = DailyWindow(start: TimeOfDay(hour: 9, minute: 0), end: TimeOfDay(hour: 17, minute: 0))
        public var retryAfter: Duration = .seconds(2 * 3600)
        public var maxAttempts = 3
        public var escalateAfterDays = 2
        /// Where each open day's call list is written per ward (html and csv); nil: no export.
        public var exportDir: String?
        public var exportAt = TimeOfDay(hour: 7, minute: 0)
        /// The ward names the hospital uses; empty: every ward is assigned (`WardNames`).
        public var wards: [String] = []
        public var escalationAlertAfter: Duration = .seconds(4 * 3600)
    }

    public struct WaitNotice: Equatable, Sendable {
        public var lead: Duration = .seconds(2 * 3600)
        public var coalesce: Duration = .seconds(10 * 60)
    }

    public struct OpenAccess: Equatable, Sendable {
        public var daysBefore = 7
        public var sendAt = TimeOfDay(hour: 10, minute: 0)
    }

    public struct Notices: Equatable, Sendable {
        public var quietHours: DailyWindow? = DailyWindow(start: TimeOfDay(hour: 20, minute: 0), end: TimeOfDay(hour: 8, minute: 0))
        public var defaultChannel: Channel = .sms
        public var smsMaxChars = 612
    }

    public enum TransportKind: String, Equatable, Sendable, CaseIterable {
        case outbox, command, notify
    }

    /// `[transport.notify]` (`dispatch.md`, "The `notify` transport").
    public struct Notify: Equatable, Sendable {
        public var baseURL = "https://api.notifications.service.gov.uk"
        public var apiKeyFile = "/etc/touchpoint/notify-api-key"
        /// Read when the config loads (from `$CREDENTIALS_DIRECTORY/notify-api-key`
        /// when systemd provides it, else `api_key_file`); nil unless kind is notify.
        public var apiKey: NotifyAPIKey?
        /// Where the key was read from, for messages.
        public var apiKeySource = ""
        public var smsTemplateID = ""
        public var emailTemplateID = ""
        public var smsSenderID = ""
        public var emailReplyToID = ""
        /// Sends a minute, the refill of touchpoint's own token bucket: 2,400
        /// (40 a second) against Notify's 3,000 (50), a fifth kept spare for
        /// clock drift and anything else sending with the same key.
        public var rateLimit = 2400
        /// The bucket's size: how many sends may go at once after a quiet
        /// spell. 500 against Notify's 999.
        public var rateBurst = 500
        /// How long Notify keeps a notification (the service's data
        /// retention, 7 days unless the service changed it, 3 to 90): a
        /// look-up by reference or by id finds nothing older.
        public var retention: Duration = .seconds(7 * 86_400)
        public var receiptPoll: Duration = .seconds(60)
        public var receiptMaxAge: Duration = .seconds(72 * 3600)
        public var timeout: Duration = .seconds(30)
        public var proxy = ""
        public var caFile = ""
    }

    public struct Transport: Equatable, Sendable {
        public var kind: TransportKind = .outbox
        public var outboxDir = "/var/spool/touchpoint/outbox"
        public var command: [String] = []
        public var timeout: Duration = .seconds(30)
        public var backoffInitial: Duration = .seconds(60)
        public var backoffMax: Duration = .seconds(3600)
        public var maxAge: Duration = .seconds(24 * 3600)
        public var notify = Notify()
    }

    public enum LogLevel: String, Equatable, Sendable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    /// Where the log goes: `auto` is the journal when a journald answers,
    /// else standard error.
    public enum LogTarget: String, Equatable, Sendable, CaseIterable {
        case auto, journal, stderr
    }

    /// The file this was read from (absolute).
    public var file: String
    public var clock: HospitalClock
    /// `time_zone` as configured (the clock's tz name).
    public var timeZone: String { clock.identifier }
    public var stateDir = "/var/lib/touchpoint"
    public var queueFile = "/var/spool/touchpoint/queue.jsonl"
    public var templatesDir = "/etc/touchpoint/templates"
    public var hospital: Hospital
    public var control = Control()
    public var calendar = Calendar()
    public var calls = Calls()
    public var waitNotice = WaitNotice()
    public var openAccess = OpenAccess()
    public var notices = Notices()
    public var transport = Transport()
    public var logLevel: LogLevel = .info
    public var logTarget: LogTarget = .auto
    /// The contacts the hospital configured (`[[contact]]`).
    public var contacts: [ContactRule] = []
    /// `[[feed.source]]`: the writers the hospital expects and how long each
    /// may be silent; none configured: the whole queue, one open day.
    public var feedSources: [ExpectedFeed] = []
    /// `backup.keep`: how many backups `touchpointctl backup` keeps.
    public var backupKeep = 7
    /// `[needs.CODE]`: the communication needs the hospital records.
    public var needs = CommunicationNeeds()
    /// `[leaflet.you_said]`: the patients' words per promise, where the
    /// hospital's pledge has its own.
    public var youSaid: [Pledge: String] = [:]

    /// The worklists there are: the configured contacts' and, when a need
    /// puts calls in place of notices, the needs worklist.
    public var worklists: [String] {
        var lists = Set(contacts.compactMap(\.worklist))
        if needs.needs.values.contains(where: { $0.notices == .call }) { lists.insert(CommunicationNeeds.worklist) }
        return lists.sorted()
    }

    /// What is watched for silence (`FeedSilence`).
    public var expectedFeeds: [ExpectedFeed] {
        feedSources.isEmpty ? [ExpectedFeed(source: nil, silentAfterOpenDays: 1)] : feedSources
    }

    public static func == (a: TouchpointConfig, b: TouchpointConfig) -> Bool {
        a.file == b.file && a.timeZone == b.timeZone && a.stateDir == b.stateDir && a.queueFile == b.queueFile
            && a.templatesDir == b.templatesDir && a.hospital == b.hospital && a.control == b.control
            && a.calendar == b.calendar && a.calls == b.calls && a.waitNotice == b.waitNotice
            && a.openAccess == b.openAccess && a.notices == b.notices && a.transport == b.transport
            && a.logLevel == b.logLevel && a.logTarget == b.logTarget && a.contacts == b.contacts && a.feedSources == b.feedSources
            && a.needs == b.needs && a.backupKeep == b.backupKeep && a.youSaid == b.youSaid
    }

    /// The scheduling rules these settings make.
    public var schedulingRules: SchedulingRules {
        var rules = SchedulingRules(
            clock: clock, callDays: calls.days, closedDates: calendar.closedDates.union(calendar.closedDatesFromFile),
            daysAfterSurgery: calls.daysAfterSurgery, callWindow: calls.window,
            retryAfter: calls.retryAfter.seconds, maxAttempts: calls.maxAttempts, escalateAfterDays: calls.escalateAfterDays,
            waitLead: waitNotice.lead.seconds, waitCoalesce: waitNotice.coalesce.seconds,
            openAccessDaysBefore: openAccess.daysBefore, openAccessSendAt: openAccess.sendAt,
            quietHours: notices.quietHours, contacts: contacts, wards: WardNames(calls.wards))
        rules.escalationAlertAfter = calls.escalationAlertAfter.seconds
        rules.needs = needs
        return rules
    }

    /// The path of the database inside `state_dir`.
    public var databasePath: String { (stateDir as NSString).appendingPathComponent("touchpoint.sqlite") }
    /// Where `touchpointctl backup` writes: `STATE_DIR/backups`.
    public var backupDir: String { (stateDir as NSString).appendingPathComponent("backups") }
}

/// One thing wrong with a config file: where, which key, what was expected.
public struct ConfigIssue: Error, Equatable, Sendable, CustomStringConvertible {
    public var file: String
    /// Dotted key (`calls.window`), or nil for the file as a whole.
    public var key: String?
    public var message: String

    public init(file: String, key: String?, message: String) {
        self.file = file
        self.key = key
        self.message = message
    }

    public var description: String {
        if let key { return "\(file): \(key): \(message)" }
        return "\(file): \(message)"
    }
}

/// Every problem found in a config file, so an admin fixes them all in one go.
public struct ConfigError: Error, Equatable, Sendable, CustomStringConvertible {
    public var issues: [ConfigIssue]
    public init(issues: [ConfigIssue]) { self.issues = issues }
    public var description: String { issues.map(\.description).joined(separator: "\n") }
}

extension Duration {
    /// Whole and fractional seconds, for arithmetic with `Date`.
    public var seconds: TimeInterval {
        TimeInterval(components.seconds) + TimeInterval(components.attoseconds) / 1e18
    }
}

extension TouchpointConfig.LogLevel {
    /// The same level in swift-log's terms.
    public var swiftLogLevel: Logger.Level {
        switch self {
        case .trace: return .trace
        case .debug: return .debug
        case .info: return .info
        case .notice: return .notice
        case .warning: return .warning
        case .error: return .error
        case .critical: return .critical
        }
    }
}
