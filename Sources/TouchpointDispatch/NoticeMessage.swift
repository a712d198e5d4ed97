import Foundation
import TouchpointConfig
import TouchpointDomain

/// One dispatched notice, as `dispatch.md` gives it to a transport.
public struct NoticeMessage: Codable, Equatable, Sendable {
    public var v = 1
    public var messageID: String
    public var jobID: String
    public var kind: String
    public var channel: String
    public var to: String
    public var subject: String?
    public var body: String
    public var ref: String
    public var patientID: String
    public var revision: Int
    public var dueAt: Date
    public var createdAt: Date

    enum CodingKeys: String, CodingKey {
        case v, kind, channel, to, subject, body, ref, revision
        case messageID = "message_id"
        case jobID = "job_id"
        case patientID = "patient_id"
        case dueAt = "due_at"
        case createdAt = "created_at"
    }

    /// Stable for the job (and so for its revision: every revision is a job of
    /// its own), safe as a file name, unique: a receiver drops a redelivery.
    public static func id(forJob jobID: String) -> String {
        let safe = String(jobID.map { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" || $0 == ".") ? $0 : "_" }.prefix(100))
        return "\(safe)-\(String(FNV1a.hash(jobID.utf8), radix: 16))"
    }

    public func json() -> Data {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        e.dateEncodingStrategy = .custom { d, enc in
            var c = enc.singleValueContainer()
            try c.encode(Timestamp.rfc3339(d))
        }
        return (try? e.encode(self)) ?? Data()
    }
}

/// Why a notice could not be made; the job fails with this reason.
public struct RenderFailure: Error, Equatable, Sendable {
    public var reason: String
}

/// Builds the message for a due notice from its job, patient and booking.
public struct MessageBuilder: Sendable {
    public let templates: NoticeTemplates
    public let config: TouchpointConfig

    public init(templates: NoticeTemplates, config: TouchpointConfig) {
        self.templates = templates
        self.config = config
    }

    public func build(_ job: Job, patient: Patient, booking: Booking, now: Date) -> Result<NoticeMessage, RenderFailure> {
        let channel = job.fallbackChannel ?? patient.channel ?? config.notices.defaultChannel
        guard channel != .none, let to = channel == .sms ? patient.phone : patient.email else {
            return .failure(RenderFailure(reason: "no address for channel \(channel.rawValue)"))
        }
        let clock = config.clock
        let when = job.kind == .waitNotice ? (job.expectedAt ?? booking.at) : booking.at
        var values: [String: Any] = [
            "patient": ["name": patient.name ?? "", "first_name": patient.name?.split(separator: " ").first.map(String.init) ?? ""],
            "hospital": ["name": config.hospital.name, "phone": config.hospital.phone],
            "date": clock.localDate(of: when).longTextWithoutYear, "time": clock.hhmm(booking.at), "revision": job.revision,
        ]
        if job.kind == .waitNotice {
            values["ward"] = booking.ward ?? ""
            values["procedure"] = booking.procedure ?? ""
            values["expected_time"] = clock.hhmm(job.expectedAt ?? booking.at)
            if let r = job.delayReason { values["reason"] = r }
        } else {
            values["clinic"] = booking.clinic ?? "the breast clinic"
            switch booking.mode {
            case .phone?: values["mode"] = "by phone"
            case .video?: values["mode"] = "by video call"
            default: values["mode"] = "in person"
            }
            if let service = booking.service { values["service"] = service.replacingOccurrences(of: "_", with: " ") }
        }
        guard let (subject, body) = templates.render(kind: job.kind, channel: channel, values: values,
                                                         variants: config.needs.variants(patient.communicationNeeds)) else {
            return .failure(RenderFailure(reason: "no template for \(job.kind.rawValue) by \(channel.rawValue)"))
        }
        if channel == .sms && body.count > config.notices.smsMaxChars {
            return .failure(RenderFailure(reason: "the SMS is \(body.count) characters, over notices.sms_max_chars (\(config.notices.smsMaxChars)); not sent cut short"))
        }
        return .success(NoticeMessage(messageID: NoticeMessage.id(forJob: job.id) + (job.fallbackChannel.map { "-\($0.rawValue)" } ?? ""), jobID: job.id, kind: job.kind.rawValue,
                                      channel: channel.rawValue, to: to, subject: subject, body: body, ref: job.ref,
                                      patientID: job.patientID, revision: job.revision, dueAt: job.dueAt, createdAt: now))
    }
}
