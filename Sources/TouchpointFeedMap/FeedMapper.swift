import Foundation
import TouchpointDomain
import TouchpointHL7

/// A booking this receiver has written, as it last wrote it: what an S13 or
/// S14 is compared with (rescheduled, delayed, or nothing changed).
public struct WrittenBooking: Sendable, Equatable {
    public var kind: FeedBookingKind
    public var start: Date
    public var ward: String?
    public var procedure: String?
    public var clinic: String?
    public var cancelled: Bool

    public init(kind: FeedBookingKind, start: Date, ward: String?, procedure: String?, clinic: String?, cancelled: Bool = false) {
        self.kind = kind
        self.start = start
        self.ward = ward
        self.procedure = procedure
        self.clinic = clinic
        self.cancelled = cancelled
    }
}

/// What the mapping may ask of the receiver: the bookings it wrote, and
/// whether touchpoint knows a patient (`nil`: it cannot tell now, a
/// transient fault: no ACK, the engine sends the message again).
public struct FeedMemory: Sendable {
    public var booking: @Sendable (String) -> WrittenBooking?
    public var patientKnown: @Sendable (String) -> Bool?

    public init(booking: @escaping @Sendable (String) -> WrittenBooking?, patientKnown: @escaping @Sendable (String) -> Bool?) {
        self.booking = booking
        self.patientKnown = patientKnown
    }
}

/// What a message comes to: the ACK's code and errors, the events to
/// append, and what the receiver then remembers.
public struct Mapping: Sendable, Equatable {
    public enum Outcome: Sendable, Equatable {
        /// Events to append (maybe none); then AA.
        case accepted
        /// Acknowledged and counted as ignored (nothing for touchpoint in it).
        case ignored(String)
        /// AE (content) or AR (sender, type): recorded in the rejects.
        case refused(AcknowledgementCode, HL7Error)
        /// No ACK: the engine will send it again.
        case transient(String)
    }

    public var outcome: Outcome
    public var feed: String?
    public var events: [FeedEvent] = []
    /// Bookings as written by these events.
    public var written: [(ref: String, booking: WrittenBooking)] = []
    /// Patients these events booked (the receiver keeps a keyed hash of each).
    public var booked: [String] = []

    /// The events as queue lines, each with its id (`hl7-<feed>-<hash>-<n>`,
    /// the hash taken over the message's bytes, so a message sent again gives
    /// the same ids, which the daemon counts as duplicates) and `source`.
    public func queueLines(message bytes: [UInt8]) -> [(id: String, line: [UInt8])] {
        let feed = self.feed ?? ""
        let hash = String(FNV1a.hash(bytes), radix: 16)
        return events.enumerated().map { n, e in
            let id = "hl7-\(feed)-\(hash)-\(n + 1)"
            return (id, e.line(id: id, source: "hl7:\(feed)"))
        }
    }

    public static func == (a: Mapping, b: Mapping) -> Bool {
        a.outcome == b.outcome && a.feed == b.feed && a.events == b.events && a.booked == b.booked
            && a.written.map(\.ref) == b.written.map(\.ref) && a.written.map(\.booking) == b.written.map(\.booking)
    }
}

/// HL7 messages to queue events, as `hl7.md`'s table says: routed on MSH-9
/// (never on EVN-1 or on which segments are present), each feed's paths and
/// maps applied. Pure: the receiver supplies what it wrote and what
/// touchpoint knows, and appends what comes back.
public struct FeedMapper: Sendable {
    public let feeds: [Feed]
    public let clock: HospitalClock

    public init(feeds: [Feed], clock: HospitalClock) {
        self.feeds = feeds
        self.clock = clock
    }

    public func map(_ m: HL7Message, now: Date, memory: FeedMemory) -> Mapping {
        guard let feed = feeds.first(where: { $0.sends(m) }) else {
            return Mapping(outcome: .refused(.reject, HL7Error(.unknownKey, at: .msh(3), "MSH-3 (and MSH-4): no feed is configured for this sending application")))
        }
        let context = MappingContext(feed: feed, message: m, clock: clock, now: now, memory: memory)
        var mapping: Mapping
        do {
            mapping = try context.route()
        } catch let e as ContentError {
            mapping = Mapping(outcome: .refused(.error, e.hl7Error))
        } catch let t as TransientFault {
            mapping = Mapping(outcome: .transient(t.why))
        } catch {
            mapping = Mapping(outcome: .refused(.error, HL7Error(.applicationInternal, "\(error)")))
        }
        mapping.feed = feed.name
        return mapping
    }

    /// The code to send for `code`: the enhanced mode's accept
    /// acknowledgement (CA, CE, CR) when the message's feed has
    /// `accept_acks = true` and its MSH-15 is AL; the original mode's
    /// otherwise (MSH-15 empty, NE, ER or SU: the engine waits for an ACK
    /// whichever it is, so it always gets one). touchpoint sends no
    /// application acknowledgement later: the accept is all there is.
    public func acknowledgementCode(_ code: AcknowledgementCode, for m: HL7Message) -> AcknowledgementCode {
        guard let feed = feeds.first(where: { $0.sends(m) }), feed.acceptAcks,
              m.value(at: .msh(15)).text == "AL" else { return code }
        return code.commit
    }
}

/// The queue format's cancel reason codes (`queue-format.md`), shown to staff, never sent to the patient.
public enum CancelReason: String, Sendable {
    case cancelled
    case deleted
    case didNotAttend = "did_not_attend"
    case noLongerInScope = "no longer in scope"
}

struct TransientFault: Error {
    var why: String
}

/// One message being mapped for one feed.
struct MappingContext {
    let feed: Feed
    let message: HL7Message
    let clock: HospitalClock
    let now: Date
    let memory: FeedMemory

    func route() throws -> Mapping {
        let (code, trigger) = message.messageType
        switch (code, trigger) {
        case ("SIU", "S12"), ("SIU", "S13"), ("SIU", "S14"):
            return try schedule(trigger: trigger, start: feed.start)
        case ("SIU", "S15"): return try cancel(.cancelled)
        case ("SIU", "S17"): return try cancel(.deleted)
        case ("SIU", "S26"): return try cancel(.didNotAttend)
        case ("ADT", "A05"), ("ADT", "A14"):
            return try schedule(trigger: trigger, start: [HL7FieldPath(segment: "PV2", field: 8), HL7FieldPath(segment: "EVN", field: 3)])
        case ("ADT", "A38"), ("ADT", "A27"): return try cancel(.cancelled)
        case ("ADT", "A40"): return try merge()
        default:
            return try update() ?? Mapping(outcome: .ignored("\(code)^\(trigger) is not a message touchpoint takes"))
        }
    }

    // MARK: Bookings

    /// The booking's ref: the prefix and the first appointment id present.
    func ref() throws(ContentError) -> String {
        for path in feed.appointmentID {
            if let id = message.value(at: path).text, !id.isEmpty {
                let ref = feed.refPrefix + id
                guard ref.unicodeScalars.count <= 128 else { throw ContentError(.dataType, at: path, "the appointment id is longer than 128 characters") }
                return ref
            }
        }
        throw ContentError(.requiredFieldMissing, at: feed.appointmentID.first, "no appointment id (appointment_id names where it is)")
    }

    /// The first start present, read to the minute.
    func start(_ paths: [HL7FieldPath]) throws(ContentError) -> Date? {
        for path in paths {
            guard let text = message.value(at: path).text else { continue }
            do {
                return try HL7Time(parsing: text).instant(clock: clock)
            } catch {
                throw ContentError(.dataType, at: path, "the start time: \(error.explanation)")
            }
        }
        return nil
    }

    func value(_ path: HL7FieldPath?) -> String? {
        path.flatMap { message.values(at: $0).first }
    }

    func ward() -> String? {
        value(feed.ward).map { feed.wards[$0] ?? $0 }
    }

    func patient() throws -> PatientReading {
        guard let pid = message.segment("PID") else {
            throw ContentError(.requiredFieldMissing, at: PatientReading.pid3, "no PID segment: a booking needs its patient")
        }
        return try PatientReading.read(message, pid: pid, feed: feed)
    }

    func schedule(trigger: String, start paths: [HL7FieldPath]) throws -> Mapping {
        let ref = try ref()
        let written = memory.booking(ref)
        guard let rule = feed.maps.first(where: { $0.matches(message) }) else {
            if let written, !written.cancelled {
                return cancelled(ref, written, reason: .noLongerInScope)
            }
            return Mapping(outcome: .ignored("no [[feed.map]] matches this appointment"))
        }
        let kind: FeedBookingKind
        var service: String?
        switch rule.booking {
        case .surgery: kind = .surgery
        case .openAccess: kind = .openAccess
        case .appointment(let s): kind = .appointment; service = s
        }
        let ward = kind == .surgery ? self.ward() : nil
        let procedure = kind == .surgery ? value(rule.procedure) : nil
        let clinic = kind == .surgery ? nil : value(rule.clinic) ?? self.ward()
        if let written, written.cancelled {
            // touchpointd refuses any event for a booking after its cancel
            // (`conflict`): say so to the sender, who can book it under a new id.
            throw ContentError(.duplicateKey, at: feed.appointmentID.first,
                               "this appointment id was cancelled; touchpoint takes a new booking only under a new id")
        }
        guard let written else {
            do {
                return try booked(ref, kind, service: service, start: paths, ward: ward, procedure: procedure, clinic: clinic)
            } catch let e as ContentError where trigger != "S12" && trigger != "A05" && trigger != "A14" {
                // An S13/S14 for a ref never written books it when it can; else there is nothing to do.
                return Mapping(outcome: .ignored("an update for an appointment never booked, without what a booking needs (\(e.explanation))"))
            }
        }
        let newStart = try start(paths) ?? written.start
        var now = written
        now.start = newStart
        if kind == .surgery { now.ward = ward ?? written.ward; now.procedure = procedure ?? written.procedure } else { now.clinic = clinic ?? written.clinic }
        guard now != written else { return Mapping(outcome: .accepted) }
        var mapping = Mapping(outcome: .accepted, written: [(ref, now)])
        if isSameDayDelay(written, now) {
            mapping.events = [FeedEvent(type: "surgery.delayed", ref: ref, expectedAt: newStart, reason: delayReason())]
            if now.ward != written.ward || now.procedure != written.procedure {
                mapping.events.append(FeedEvent(type: "surgery.rescheduled", ref: ref, at: newStart, ward: now.ward, procedure: now.procedure))
            }
            return mapping
        }
        let type = kind == .openAccess ? "open_access.rescheduled" : kind == .appointment ? "appointment.rescheduled" : "surgery.rescheduled"
        mapping.events = [FeedEvent(type: type, ref: ref, at: newStart, ward: kind == .surgery ? now.ward : nil,
                                    procedure: kind == .surgery ? now.procedure : nil, clinic: kind == .surgery ? nil : now.clinic)]
        return mapping
    }

    /// A later start on the same local day as the old one, and that day today: a delay, told to the patient with a reason we wrote.
    func isSameDayDelay(_ old: WrittenBooking, _ new: WrittenBooking) -> Bool {
        old.kind == .surgery && new.start > old.start && clock.localDate(of: new.start) == clock.localDate(of: old.start)
            && clock.localDate(of: old.start) == clock.localDate(of: now)
    }

    /// The reason from `delay_reasons` for the code sent, never the sender's free text (it reaches the patient).
    func delayReason() -> String {
        value(feed.delayReasonField).flatMap { feed.delayReasons[$0] } ?? feed.delayReasonDefault
    }

    func booked(_ ref: String, _ kind: FeedBookingKind, service: String?, start paths: [HL7FieldPath], ward: String?,
                procedure: String?, clinic: String?) throws -> Mapping {
        guard let at = try start(paths) else {
            throw ContentError(.requiredFieldMissing, at: paths.first, "no start time (start names where it is)")
        }
        let patient = try patient()
        if kind == .surgery && ward == nil {
            throw ContentError(.requiredFieldMissing, at: feed.ward, "no ward (a surgery's check-in call is made by its ward)")
        }
        let type = kind == .openAccess ? "open_access.booked" : kind == .appointment ? "appointment.booked" : "surgery.booked"
        let event = FeedEvent(type: type, ref: ref, patient: patient, at: at, ward: ward, procedure: procedure, clinic: clinic, service: service)
        return Mapping(outcome: .accepted, events: [event],
                       written: [(ref, WrittenBooking(kind: kind, start: at, ward: ward, procedure: procedure, clinic: clinic))], booked: [patient.id])
    }

    func cancelled(_ ref: String, _ written: WrittenBooking, reason: CancelReason) -> Mapping {
        var now = written
        now.cancelled = true
        let type = written.kind == .openAccess ? "open_access.cancelled" : written.kind == .appointment ? "appointment.cancelled" : "surgery.cancelled"
        return Mapping(outcome: .accepted, events: [FeedEvent(type: type, ref: ref, reason: reason.rawValue)], written: [(ref, now)])
    }

    func cancel(_ reason: CancelReason) throws -> Mapping {
        let ref = try ref()
        guard let written = memory.booking(ref) else {
            return Mapping(outcome: .ignored("a cancellation of an appointment touchpoint was never sent"))
        }
        guard !written.cancelled else { return Mapping(outcome: .ignored("a cancellation of an appointment already cancelled")) }
        return cancelled(ref, written, reason: reason)
    }

    // MARK: Patients

    /// Whether touchpoint knows `id`; a question it cannot answer now is a transient fault.
    func known(_ id: String) throws -> Bool {
        guard let known = memory.patientKnown(id) else {
            throw TransientFault(why: "touchpointd could not be asked whether it knows the patient")
        }
        return known
    }

    /// `patient.updated` for a known patient, from any message with a PID; nil when there is none.
    func update() throws -> Mapping? {
        guard message.segment("PID") != nil else { return nil }
        let patient = try patient()
        guard try known(patient.id) else {
            return Mapping(outcome: .ignored("a patient touchpoint has no booking for (nothing about them is written)"))
        }
        let changes = patient.nhsNumber != .keep || patient.name != .keep || patient.birthDate != .keep || patient.phone != .keep
            || patient.email != .keep || patient.deceased
        guard changes else { return Mapping(outcome: .accepted) }
        return Mapping(outcome: .accepted, events: [FeedEvent(type: "patient.updated", patient: patient)])
    }

    /// `patient.merged` for each PID/MRG pair where either patient is known.
    func merge() throws -> Mapping {
        let pids = message.segments(named: "PID")
        let mrgs = message.segments(named: "MRG")
        guard !pids.isEmpty, pids.count == mrgs.count else {
            throw ContentError(.segmentSequence, at: HL7FieldPath(segment: "MRG", field: 1), "a merge needs a PID and an MRG for each pair")
        }
        var events: [FeedEvent] = []
        for (pid, mrg) in zip(pids, mrgs) {
            let survivor = try PatientReading.read(message, pid: pid, feed: feed)
            let prior = try priorID(mrg)
            if try known(survivor.id) || known(prior) {
                events.append(FeedEvent(type: "patient.merged", patient: survivor, mergedID: prior))
            }
        }
        guard !events.isEmpty else { return Mapping(outcome: .ignored("a merge of patients touchpoint has no booking for")) }
        return Mapping(outcome: .accepted, events: events)
    }

    /// MRG-1: the prior id, by the feed's patient id rule.
    func priorID(_ mrg: HL7Segment) throws(ContentError) -> String {
        let path = HL7FieldPath(segment: "MRG", field: 1)
        for rep in mrg.repetitions(1, in: message.bytes) {
            let parts = mrg.split(rep, on: message.encoding.component).map { message.decode(PatientReading.first($0, message)) }
            func c(_ n: Int) -> String? { parts.count >= n && !parts[n - 1].isEmpty ? parts[n - 1] : nil }
            switch feed.patientID {
            case .first:
                if let id = c(1) { return id }
            case .matching(let type):
                if type.matches(authority: c(4), type: c(5)), let id = c(1) { return id }
                // Senders often leave MRG-1's type out (Epic's merges: `40800000^^^MRENTR`):
                // the authority the feed names is enough there, when the feed names one.
                if !type.authority.isEmpty, c(4) == type.authority, c(5) == nil, let id = c(1) { return id }
            }
        }
        throw ContentError(.requiredFieldMissing, at: path, "no prior patient identifier of the kind this feed names (patient_id)")
    }
}
