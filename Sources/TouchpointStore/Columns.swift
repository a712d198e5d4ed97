import Foundation
import TouchpointDomain

/// The one place where the domain's enums meet SQL: a kind, state or outcome
/// is stored as its raw value, bound as a parameter, or (where SQLite needs to
/// see it when the statement is prepared, as for a partial index) written
/// into the SQL text through `sqlLiteral`.
protocol SQLEnum: RawRepresentable where RawValue == String {}

extension SQLEnum {
    /// The raw value as an SQL string literal (raw values hold no quotes).
    var sqlLiteral: String { "'\(rawValue)'" }
}

extension JobKind: SQLEnum {}
extension JobState: SQLEnum {}
extension CallOutcome: SQLEnum {}
extension BookingKind: SQLEnum {}
extension DeliveryAttempt.Result: SQLEnum {}
extension DeliveryStatus: SQLEnum {}

/// Small settings the daemon keeps in the `meta` table, named once.
enum Setting: String {
    /// "1" while an admin has paused dispatch.
    case dispatchPaused = "dispatch.paused"
    /// The last day whose call lists were exported.
    case lastExport = "calls.last_export"
}

/// The columns of `jobs`, in the order every job query selects them, so a
/// row is read by name rather than by a number written out in each place.
enum JobColumn: Int32, CaseIterable {
    case id, kind, bookingKind, ref, patientID, state, dueAt, expiresAt, createdAt, revision, attempts, ward
    case expectedAt, delayReason, callDay, overdueSince, outcome, woundCare, rule, note, lastAttemptAt
    case notificationID, delivery, deliveryAt, sendUncertain, fallbackChannel, worklist, escalatedAt, takenBy, takenAt

    /// What a job keeps for life (`let` in `Job`): an upsert that sets none
    /// of them leaves the indexes they key untouched.
    static let fixed: [JobColumn] = [.id, .kind, .bookingKind, .ref, .patientID]

    var name: String {
        switch self {
        case .id: return "id"
        case .kind: return "kind"
        case .bookingKind: return "booking_kind"
        case .ref: return "ref"
        case .patientID: return "patient_id"
        case .state: return "state"
        case .dueAt: return "due_at"
        case .expiresAt: return "expires_at"
        case .createdAt: return "created_at"
        case .revision: return "revision"
        case .attempts: return "attempts"
        case .ward: return "ward"
        case .expectedAt: return "expected_at"
        case .delayReason: return "delay_reason"
        case .callDay: return "call_day"
        case .overdueSince: return "overdue_since"
        case .outcome: return "outcome"
        case .woundCare: return "wound_care"
        case .rule: return "rule"
        case .note: return "note"
        case .lastAttemptAt: return "last_attempt_at"
        case .notificationID: return "notification_id"
        case .delivery: return "delivery"
        case .deliveryAt: return "delivery_at"
        case .sendUncertain: return "send_uncertain"
        case .fallbackChannel: return "fallback_channel"
        case .worklist: return "worklist"
        case .escalatedAt: return "escalated_at"
        case .takenBy: return "taken_by"
        case .takenAt: return "taken_at"
        }
    }

    /// `id, kind, ...` (or `j.id, j.kind, ...` with a table alias).
    static func list(alias: String? = nil) -> String {
        allCases.map { (alias.map { $0 + "." } ?? "") + $0.name }.joined(separator: ", ")
    }

    /// The column just past the job's, where a joined query's extra columns start.
    static let end = Int32(allCases.count)
}

/// The columns of `bookings`, in the order booking queries select them.
enum BookingColumn: Int32, CaseIterable {
    case kind, ref, patientID, at, ward, procedure, admitAt, clinic, mode, expectedAt, delayReason, performedAt
    case cancelled, cancelReason, revision, bookedAt, service, pathway

    /// What a booking keeps for life (`let` in `Booking`), as `JobColumn.fixed`.
    static let fixed: [BookingColumn] = [.kind, .ref, .patientID]

    var name: String {
        switch self {
        case .bookedAt: return "booked_at"
        case .service: return "service"
        case .pathway: return "pathway"
        case .kind: return "kind"
        case .ref: return "ref"
        case .patientID: return "patient_id"
        case .at: return "at"
        case .ward: return "ward"
        case .procedure: return "procedure"
        case .admitAt: return "admit_at"
        case .clinic: return "clinic"
        case .mode: return "mode"
        case .expectedAt: return "expected_at"
        case .delayReason: return "delay_reason"
        case .performedAt: return "performed_at"
        case .cancelled: return "cancelled"
        case .cancelReason: return "cancel_reason"
        case .revision: return "revision"
        }
    }

    static let list = allCases.map(\.name).joined(separator: ", ")
}

/// The columns of `patients`, in the order patient queries select them.
enum PatientColumn: Int32, CaseIterable {
    case id, nhsNumber, name, phone, email, channel, optedOut, voicemailOK, deceased, mergedInto, birthDate, communicationNeeds

    var name: String {
        switch self {
        case .id: return "id"
        case .nhsNumber: return "nhs_number"
        case .name: return "name"
        case .phone: return "phone"
        case .email: return "email"
        case .channel: return "channel"
        case .optedOut: return "opted_out"
        case .voicemailOK: return "voicemail_ok"
        case .deceased: return "deceased"
        case .mergedInto: return "merged_into"
        case .birthDate: return "birth_date"
        case .communicationNeeds: return "communication_needs"
        }
    }

    static let list = allCases.map(\.name).joined(separator: ", ")

    /// `communication_needs` holds the codes space-separated (a code has no space), NULL for none.
    static func needs(_ column: String?) -> [String] { column?.split(separator: " ").map(String.init) ?? [] }
    static func needs(_ codes: [String]) -> String? { codes.isEmpty ? nil : codes.joined(separator: " ") }
}

extension PreparedSQL {
    /// Binds a job column's parameter (the statements list `JobColumn` in order).
    func bind(_ c: JobColumn, _ v: String?) { bind(c.rawValue + 1, v) }
    func bind(_ c: JobColumn, _ v: Date?) { bind(c.rawValue + 1, v) }
    func bind(_ c: JobColumn, _ v: Int?) { bind(c.rawValue + 1, v) }
    func bind(_ c: JobColumn, _ v: Bool?) { bind(c.rawValue + 1, v) }

    /// A job from the columns of `JobColumn.list`, starting at `base`.
    func job(from base: Int32 = 0) throws -> Job {
        func col(_ c: JobColumn) -> Int32 { base + c.rawValue }
        var j = Job(
            id: try required(col(.id)), kind: try value(col(.kind), as: JobKind.self),
            bookingKind: try value(col(.bookingKind), as: BookingKind.self), ref: try required(col(.ref)),
            patientID: try required(col(.patientID)), state: try value(col(.state), as: JobState.self),
            dueAt: try requiredDate(col(.dueAt)), expiresAt: try requiredDate(col(.expiresAt)),
            createdAt: try requiredDate(col(.createdAt)), revision: Int(int(col(.revision)) ?? 1),
            attempts: Int(int(col(.attempts)) ?? 0), ward: string(col(.ward)), expectedAt: date(col(.expectedAt)),
            delayReason: string(col(.delayReason)), callDay: string(col(.callDay)).flatMap { LocalDate(iso: $0) },
            overdueSince: string(col(.overdueSince)).flatMap { LocalDate(iso: $0) },
            outcome: try optionalValue(col(.outcome), as: CallOutcome.self), woundCare: int(col(.woundCare)).map { $0 != 0 },
            rule: try required(col(.rule)), note: string(col(.note)), lastAttemptAt: date(col(.lastAttemptAt)))
        j.notificationID = string(col(.notificationID))
        j.delivery = try optionalValue(col(.delivery), as: DeliveryStatus.self)
        j.deliveryAt = date(col(.deliveryAt))
        j.escalatedAt = date(col(.escalatedAt))
        j.takenBy = string(col(.takenBy))
        j.takenAt = date(col(.takenAt))
        j.sendUncertain = bool(col(.sendUncertain))
        j.fallbackChannel = try optionalValue(col(.fallbackChannel), as: Channel.self)
        j.worklist = string(col(.worklist))
        return j
    }

    func booking() throws -> Booking {
        func col(_ c: BookingColumn) -> Int32 { c.rawValue }
        return Booking(
            kind: try value(col(.kind), as: BookingKind.self), ref: try required(col(.ref)),
            patientID: try required(col(.patientID)), at: try requiredDate(col(.at)), ward: string(col(.ward)),
            procedure: string(col(.procedure)), admitAt: date(col(.admitAt)), clinic: string(col(.clinic)),
            mode: try optionalValue(col(.mode), as: AppointmentMode.self), expectedAt: date(col(.expectedAt)),
            delayReason: string(col(.delayReason)), performedAt: date(col(.performedAt)), cancelled: bool(col(.cancelled)),
            cancelReason: string(col(.cancelReason)), revision: Int(int(col(.revision)) ?? 1), bookedAt: date(col(.bookedAt)),
            service: string(col(.service)), pathway: try optionalValue(col(.pathway), as: Pathway.self))
    }

    func patient() throws -> Patient {
        func col(_ c: PatientColumn) -> Int32 { c.rawValue }
        return Patient(
            id: try required(col(.id)), nhsNumber: string(col(.nhsNumber)), name: string(col(.name)),
            phone: string(col(.phone)), email: string(col(.email)),
            channel: try optionalValue(col(.channel), as: Channel.self), optedOut: bool(col(.optedOut)),
            voicemailOK: bool(col(.voicemailOK)), deceased: bool(col(.deceased)), mergedInto: string(col(.mergedInto)),
            birthDate: string(col(.birthDate)).flatMap(LocalDate.init(iso:)),
            communicationNeeds: PatientColumn.needs(string(col(.communicationNeeds))))
    }
}
