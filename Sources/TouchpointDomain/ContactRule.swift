import Foundation

/// A time relative to an event's `at` (`contacts.md`): whole local days
/// before or after, and a local time of day (`"+1d 10:00"`, `"-2d 10:00"`),
/// or the event's own time of day when none is given (`"+0d"` is `at` itself).
/// Local days, never 24-hour periods, so a rule holds across a clock change.
public struct RelativeTime: Equatable, Sendable, CustomStringConvertible {
    public var days: Int
    public var time: TimeOfDay?

    public init(days: Int, time: TimeOfDay? = nil) {
        self.days = days
        self.time = time
    }

    /// `+1d 10:00`, `-2d 10:00`, `+0d`, `-7d`; nil when it is not that shape.
    public init?(_ text: String) {
        let parts = text.split(separator: " ", omittingEmptySubsequences: true)
        guard (1...2).contains(parts.count), let first = parts.first, first.count >= 3,
              first.first == "+" || first.first == "-", first.last == "d",
              let n = Int(first.dropFirst().dropLast()), (0...366).contains(n),
              first.dropFirst().dropLast().allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        days = first.first == "-" ? -n : n
        if parts.count == 2 {
            guard let t = TimeOfDay(hhmm: parts[1]) else { return nil }
            time = t
        } else {
            time = nil
        }
    }

    /// The instant this names for an event at `at`.
    public func instant(after at: Date, clock: HospitalClock) -> Date {
        let local = clock.localDateTime(of: at)
        return clock.instant(on: local.date.adding(days: days), at: time ?? local.time)
    }

    public var description: String {
        (days < 0 ? "-" : "+") + "\(abs(days))d" + (time.map { " \($0)" } ?? "")
    }
}

/// A contact a breast care team configured (`[[contact]]`, `contacts.md`):
/// a notice to the patient or a call on a named worklist, due at a time
/// relative to the event that plans it.
public struct ContactRule: Equatable, Sendable {
    /// Who it is for: the patient (a notice, from `<name>.<channel>.mustache`)
    /// or staff, on the named worklist (a call, like the check-in call).
    public enum Audience: Equatable, Sendable {
        case patient
        case list(String)
    }

    /// The job kind: lower case, unique, not a built-in kind.
    public var name: String
    /// The event type that plans it (`appointment.booked`, `treatment.completed`).
    public var on: String
    public var pathway: Pathway?
    public var service: String?
    public var mode: AppointmentMode?
    public var send: RelativeTime
    /// After this it is of no use (a notice expires, a call is escalated).
    public var expires: RelativeTime?
    public var to: Audience
    /// The pledge's promise this contact keeps, for the leaflet ("We'll make
    /// sure everyone finishing treatment ... knows the symptoms"); a contact
    /// without one is not on the leaflet.
    public var promise: String?

    public init(name: String, on: String, pathway: Pathway? = nil, service: String? = nil, mode: AppointmentMode? = nil,
                send: RelativeTime, expires: RelativeTime? = nil, to: Audience) {
        self.name = name
        self.on = on
        self.pathway = pathway
        self.service = service
        self.mode = mode
        self.send = send
        self.expires = expires
        self.to = to
    }

    public var kind: JobKind { JobKind(rawValue: name) }

    /// Lower case letters, digits and `_` only: how a contact's name and an
    /// appointment's `service` code are written (they go into job ids,
    /// file names and SQL text as they are).
    public static func isCode(_ s: String) -> Bool {
        s.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x5F }
    }

    /// The worklist of a contact made by staff; nil for a notice.
    public var worklist: String? {
        if case .list(let name) = to { return name }
        return nil
    }

    /// The booking kind its event makes.
    public var bookingKind: BookingKind { on == "treatment.completed" ? .treatment : .appointment }

    /// Whether it is planned for this booking (its kind and the filters).
    public func applies(to b: Booking) -> Bool {
        guard b.kind == bookingKind else { return false }
        if let p = pathway, b.pathway != p { return false }
        if let s = service, b.service != s { return false }
        if let m = mode, b.mode != m { return false }
        return true
    }

    /// In words, for `explain`.
    public var words: String {
        var filters: [String] = []
        if let s = service { filters.append("service \(s)") }
        if let p = pathway { filters.append("pathway \(p.rawValue)") }
        if let m = mode { filters.append("mode \(m.rawValue)") }
        return "contact \(name) (on \(on)\(filters.isEmpty ? "" : ", " + filters.joined(separator: ", ")), send \(send))"
    }
}
