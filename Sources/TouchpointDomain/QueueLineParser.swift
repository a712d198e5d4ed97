import Foundation

/// Validates one queue line against queue format version 1.
///
/// Pure: the same bytes and zone always give the same event or the same
/// reject, so a line read again after a crash or a rotation is judged the same.
public struct QueueLineParser: Sendable {
    /// The longest line accepted, in bytes (without its newline).
    public static let maximumLineLength = 65_536

    public let clock: HospitalClock

    public init(clock: HospitalClock) {
        self.clock = clock
    }

    public func parse(_ line: String) -> Result<QueueEnvelope, QueueReject> {
        var copy = line
        return copy.withUTF8 { parse($0) }
    }

    /// Validates `bytes` (one line, without its newline).
    public func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Result<QueueEnvelope, QueueReject> {
        if bytes.count > QueueLineParser.maximumLineLength {
            return .failure(QueueReject(.lineTooLong, "line is \(bytes.count) bytes, longer than the limit of \(QueueLineParser.maximumLineLength)"))
        }
        let json: JSONValue
        do {
            json = try JSONParser.parse(bytes)
        } catch {
            return .failure(QueueReject(.malformedJSON, "not valid JSON: \(error.description)",
                                        eventID: Self.bestEffortEventID(bytes)))
        }
        guard case .object = json else {
            return .failure(QueueReject(.malformedJSON, "the line is JSON but not an object"))
        }
        var reader = FieldReader(object: json, clock: clock, prefix: "")
        // The id first, so every later reject can name it.
        let id: String
        switch json["id"] {
        case nil, .null?:
            reader.eventID = nil
            return .failure(QueueReject(.missingField, "missing field \"id\""))
        case .string(let s)?:
            let n = s.unicodeScalars.count
            guard n >= 1 && n <= 128 else {
                return .failure(QueueReject(.invalidField, "field \"id\": expected a string of 1 to 128 characters, got \(n)"))
            }
            id = s
        default:
            return .failure(QueueReject(.invalidField, "field \"id\": expected a string"))
        }
        reader.eventID = id
        do throws(QueueReject) {
            switch json["v"] {
            case nil, .null?:
                throw reader.reject(.missingField, "missing field \"v\"")
            case .number(let n)?:
                guard n == "1" else {
                    throw reader.reject(.unsupportedVersion, "queue format version \(n.prefix(20)) is not supported; this daemon reads version 1")
                }
            default:
                throw reader.reject(.invalidField, "field \"v\": expected the integer 1")
            }
            let type = try reader.requiredString("type")
            let event = try parseEvent(type: type, reader: &reader)
            let source = try reader.optionalString("source")
            if let source, !(1...64).contains(source.unicodeScalars.count) || !source.contains(where: { !$0.isWhitespace }) {
                throw reader.reject(.invalidField, "field \"source\": expected the writer's name, 1 to 64 characters")
            }
            return .success(QueueEnvelope(id: id, contentHash: json.contentHash, event: event, source: source))
        } catch {
            return .failure(error)
        }
    }

    /// The top-level `"id"` of a line that is not valid JSON (say, cut short),
    /// so the reject can still name the event. Only a plain string at depth 1 counts.
    static func bestEffortEventID(_ b: UnsafeBufferPointer<UInt8>) -> String? {
        var depth = 0
        var i = 0
        while i < b.count {
            switch b[i] {
            case 0x7B, 0x5B: depth += 1
            case 0x7D, 0x5D: depth -= 1
            case 0x22:
                // A string: a key if followed by ':'.
                let start = i + 1
                var j = start
                while j < b.count && b[j] != 0x22 {
                    j += b[j] == 0x5C ? 2 : 1
                }
                guard j < b.count else { return nil }
                var k = j + 1
                while k < b.count && (b[k] == 0x20 || b[k] == 0x09) { k += 1 }
                if depth == 1, k < b.count, b[k] == 0x3A, j - start == 2, b[start] == 0x69, b[start + 1] == 0x64 {
                    k += 1
                    while k < b.count && (b[k] == 0x20 || b[k] == 0x09) { k += 1 }
                    guard k < b.count, b[k] == 0x22 else { return nil }
                    let vStart = k + 1
                    var e = vStart
                    while e < b.count && b[e] != 0x22 && b[e] != 0x5C && e - vStart <= 128 { e += 1 }
                    guard e < b.count, b[e] == 0x22, e > vStart else { return nil }
                    return String(validating: UnsafeBufferPointer(rebasing: b[vStart..<e]), as: UTF8.self)
                }
                i = j
            default: break
            }
            i += 1
        }
        return nil
    }

    private func parseEvent(type: String, reader r: inout FieldReader) throws(QueueReject) -> QueueEvent {
        switch type {
        case "surgery.booked":
            return .surgeryBooked(
                ref: try r.ref(), patient: try r.patient(required: true)!, at: try r.requiredTime("at"),
                ward: try r.requiredString("ward"), procedure: try r.optionalString("procedure"),
                admitAt: try r.optionalTime("admit_at"))
        case "surgery.rescheduled":
            return .surgeryRescheduled(
                ref: try r.ref(), at: try r.requiredTime("at"), ward: try r.optionalString("ward"),
                procedure: try r.optionalString("procedure"), admitAt: try r.optionalTime("admit_at"))
        case "surgery.delayed":
            return .surgeryDelayed(
                ref: try r.ref(), expectedAt: try r.requiredTime("expected_at"),
                reason: try r.requiredString("reason"))
        case "surgery.performed":
            return .surgeryPerformed(ref: try r.ref(), at: try r.requiredTime("at"))
        case "surgery.cancelled":
            return .surgeryCancelled(ref: try r.ref(), reason: try r.optionalString("reason"))
        case "open_access.booked":
            return .openAccessBooked(
                ref: try r.ref(), patient: try r.patient(required: true)!, at: try r.requiredTime("at"),
                clinic: try r.optionalString("clinic"), mode: try r.optionalEnum("mode", AppointmentMode.self))
        case "open_access.rescheduled":
            return .openAccessRescheduled(
                ref: try r.ref(), at: try r.requiredTime("at"), clinic: try r.optionalString("clinic"),
                mode: try r.optionalEnum("mode", AppointmentMode.self))
        case "open_access.cancelled":
            return .openAccessCancelled(ref: try r.ref(), reason: try r.optionalString("reason"))
        case "patient.updated":
            return .patientUpdated(try r.patient(required: true)!)
        case "patient.merged":
            let survivor = try r.patient(required: true)!
            let merged = try r.requiredString("merged_id")
            guard merged.unicodeScalars.count <= 128 else {
                throw r.reject(.invalidField, "field \"merged_id\": expected 1 to 128 characters")
            }
            guard merged != survivor.id else {
                throw r.reject(.invalidField, "field \"merged_id\": names the surviving record itself (\"patient.id\")")
            }
            return .patientMerged(patient: survivor, mergedID: merged)
        case "appointment.booked":
            return .appointmentBooked(
                ref: try r.ref(), patient: try r.patient(required: true)!, at: try r.requiredTime("at"),
                service: try r.code("service"), clinic: try r.optionalString("clinic"),
                mode: try r.optionalEnum("mode", AppointmentMode.self))
        case "appointment.rescheduled":
            return .appointmentRescheduled(
                ref: try r.ref(), at: try r.requiredTime("at"), clinic: try r.optionalString("clinic"),
                mode: try r.optionalEnum("mode", AppointmentMode.self))
        case "appointment.cancelled":
            return .appointmentCancelled(ref: try r.ref(), reason: try r.optionalString("reason"))
        case "treatment.completed":
            return .treatmentCompleted(
                ref: try r.ref(), patient: try r.patient(required: true)!, at: try r.requiredTime("at"),
                pathway: try r.optionalEnum("pathway", Pathway.self))
        default:
            throw r.reject(.unknownType, "unknown event type \"\(type.prefix(64))\"; expected one of \(QueueEvent.typeNames.joined(separator: ", "))")
        }
    }
}

/// Reads typed fields out of a JSON object, naming the field in every reject.
struct FieldReader {
    var object: JSONValue
    var clock: HospitalClock
    /// `patient.` inside the patient object, so messages name the full path.
    var prefix: String
    var eventID: String?

    func reject(_ code: RejectCode, _ message: String) -> QueueReject {
        QueueReject(code, message, eventID: eventID)
    }

    private func name(_ key: String) -> String { "\"\(prefix)\(key)\"" }

    func optionalString(_ key: String) throws(QueueReject) -> String? {
        switch object[key] {
        case nil, .null?: return nil
        case .string(let s)?: return s
        default: throw reject(.invalidField, "field \(name(key)): expected a string")
        }
    }

    func requiredString(_ key: String) throws(QueueReject) -> String {
        guard let s = try optionalString(key) else { throw reject(.missingField, "missing field \(name(key))") }
        // A blank ward or reference would list a call under no name anyone can read.
        guard s.contains(where: { !$0.isWhitespace }) else {
            throw reject(.invalidField, "field \(name(key)): must not be empty or only spaces")
        }
        return s
    }

    func ref() throws(QueueReject) -> String {
        let s = try requiredString("ref")
        guard s.unicodeScalars.count <= 128 else {
            throw reject(.invalidField, "field \(name("ref")): expected 1 to 128 characters")
        }
        return s
    }

    /// The hospital's own code for something (`service`): lower case letters,
    /// digits and `_`, 1 to 64 of them.
    func code(_ key: String) throws(QueueReject) -> String {
        let s = try requiredString(key)
        guard s.utf8.count <= 64, ContactRule.isCode(s) else {
            throw reject(.invalidField, "field \(name(key)): expected the hospital's code for it (lower case letters, digits and _, at most 64)")
        }
        return s
    }

    func optionalBool(_ key: String) throws(QueueReject) -> Bool? {
        switch object[key] {
        case nil, .null?: return nil
        case .bool(let b)?: return b
        default: throw reject(.invalidField, "field \(name(key)): expected true or false")
        }
    }

    func optionalEnum<E: RawRepresentable & CaseIterable>(_ key: String, _: E.Type) throws(QueueReject) -> E? where E.RawValue == String {
        guard let s = try optionalString(key) else { return nil }
        guard let v = E(rawValue: s) else {
            let allowed = E.allCases.map { "\"\($0.rawValue)\"" }.joined(separator: ", ")
            throw reject(.invalidField, "field \(name(key)): expected one of \(allowed)")
        }
        return v
    }

    func optionalTime(_ key: String) throws(QueueReject) -> Date? {
        guard let s = try optionalString(key) else { return nil }
        switch Timestamp.parse(s, clock: clock) {
        case .success(let d):
            guard Timestamp.plannable.contains(d) else {
                throw reject(.invalidField, "field \(name(key)): expected a time in the years 2000 to 2099")
            }
            return d
        case .failure(let f): throw reject(.invalidField, "field \(name(key)): \(f.explanation)")
        }
    }

    func requiredTime(_ key: String) throws(QueueReject) -> Date {
        guard let d = try optionalTime(key) else { throw reject(.missingField, "missing field \(name(key))") }
        return d
    }

    func patient(required: Bool) throws(QueueReject) -> PatientDetails? {
        guard let value = object["patient"], value != .null else {
            if required { throw reject(.missingField, "missing field \"patient\"") }
            return nil
        }
        guard case .object = value else { throw reject(.invalidField, "field \"patient\": expected an object") }
        let p = FieldReader(object: value, clock: clock, prefix: "patient.", eventID: eventID)
        let id = try p.requiredString("id")
        guard id.unicodeScalars.count <= 128 else {
            throw reject(.invalidField, "field \"patient.id\": expected 1 to 128 characters")
        }
        var details = PatientDetails(id: id)
        for field in PatientField.allCases where value[field.rawValue] == .null {
            details.cleared.insert(field)
        }
        if let nhs = try p.optionalString("nhs_number") {
            guard let ok = NHSNumber.normalised(nhs) else {
                throw reject(.invalidField, "field \"patient.nhs_number\": not a valid NHS number (10 digits with a modulus-11 check digit)")
            }
            details.nhsNumber = ok
        }
        details.name = try p.optionalString("name")
        if let born = try p.optionalString("birth_date") {
            // A real calendar date, and not one that would make the patient older than anyone alive.
            guard let d = LocalDate(iso: born), d.year >= 1880 else {
                throw reject(.invalidField, "field \"patient.birth_date\": expected a date as YYYY-MM-DD")
            }
            details.birthDate = d
        }
        if let phone = try p.optionalString("phone") {
            guard let e164 = PhoneNumber.e164(phone) else {
                throw reject(.invalidField, "field \"patient.phone\": expected an E.164 (+447700900123) or UK national (07700 900123) number")
            }
            details.phone = e164
        }
        if let email = try p.optionalString("email") {
            guard Self.looksLikeEmail(email) else {
                throw reject(.invalidField, "field \"patient.email\": expected an address such as name@example.org")
            }
            details.email = email
        }
        details.channel = try p.optionalEnum("channel", Channel.self)
        details.optedOut = try p.optionalBool("opted_out")
        details.voicemailOK = try p.optionalBool("voicemail_ok")
        details.communicationNeeds = try Self.communicationNeeds(value[PatientField.communicationNeeds.rawValue], p)
        // `null` says "not deceased" as `false` does: refused after a death (`PatientRecords`).
        details.deceased = value["deceased"] == .null ? false : try p.optionalBool("deceased")
        return details
    }

    /// `communication_needs`: a list of at most 20 codes, each a need's name
    /// in lower case with an optional qualifier (`interpreter:pl`, `bsl`).
    static func communicationNeeds(_ value: JSONValue?, _ p: FieldReader) throws(QueueReject) -> [String]? {
        guard let value, value != .null else { return nil }
        let field = "field \"patient.\(PatientField.communicationNeeds.rawValue)\""
        guard case .array(let items) = value, items.count <= 20 else {
            throw p.reject(.invalidField, "\(field): expected a list of at most 20 codes such as [\"interpreter:pl\", \"no_phone\"]")
        }
        var codes: [String] = []
        for (i, item) in items.enumerated() {
            guard case .string(let code) = item, CommunicationNeeds.isCode(code) else {
                throw p.reject(.invalidField, "\(field)[\(i)]: expected a code such as \"easy_read\" or \"interpreter:pl\" (lower case, at most 40 characters)")
            }
            if !codes.contains(code) { codes.append(code) }
        }
        return codes
    }

    static func looksLikeEmail(_ s: String) -> Bool {
        let parts = s.split(separator: "@", omittingEmptySubsequences: false)
        guard parts.count == 2, !parts[0].isEmpty, parts[1].contains("."), !parts[1].hasPrefix("."),
              !parts[1].hasSuffix("."), s.utf8.count <= 254
        else { return false }
        return !s.unicodeScalars.contains { $0.properties.isWhitespace || $0.value < 0x20 }
    }
}
