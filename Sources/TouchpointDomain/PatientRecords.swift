import Foundation

/// The queue format's rules for patient records: which events about a
/// patient touchpoint keeps, how a death stays recorded, and what a merge of
/// two records does (`queue-format.md`, "Patient object" and `patient.merged`).
///
/// Pure: the applier gives it the records as they stand and saves what it returns.
public enum PatientRecords {
    /// What an event's patient details do to the record as it stands.
    public enum Update: Equatable, Sendable {
        /// The record as it now stands (a new one for a booking's first event).
        case record(Patient)
        /// `patient.updated` for a patient touchpoint has no booking for:
        /// ignored and counted, and nothing about them kept (the hospital's
        /// ADT feed carries every patient it has).
        case notKnown
    }

    /// Applies `details` to `known` (nil: no record yet). `makesBooking`:
    /// the event books something for this patient, so a record is made.
    public static func update(_ known: Patient?, with details: PatientDetails, makesBooking: Bool,
                              eventID: String) -> Result<Update, QueueReject> {
        guard var p = known ?? (makesBooking ? Patient(id: details.id) : nil) else { return .success(.notKnown) }
        if p.deceased, details.deceased == false {
            return .failure(deathStands(eventID))
        }
        p.update(with: details)
        return .success(.record(p))
    }

    /// The two records after a merge, or nil when touchpoint knows neither
    /// (`not_known`: nothing kept).
    public struct Merge: Equatable, Sendable {
        /// The surviving record: its own details, then the event's; a death
        /// or an opt-out on either record stands on it.
        public var survivor: Patient
        /// The retired record, pointing at the survivor; its details stay
        /// for the jobs that were done under it.
        public var retired: Patient
        /// Whether the survivor is a record touchpoint did not have before.
        public var survivorIsNew: Bool
        /// Whether the retired record was one in use (the count of patients loses it).
        public var retiredWasInUse: Bool
    }

    /// `merged`: the record of `mergedID` as it stands, nil when touchpoint
    /// has none (a retired record is then made, so that later events naming
    /// `mergedID` still find the survivor).
    public static func merge(survivor: Patient?, merged: Patient?, mergedID: String, details: PatientDetails,
                             eventID: String) -> Result<Merge?, QueueReject> {
        var s: Patient
        switch (survivor, merged) {
        case (nil, nil):
            return .success(nil)
        case (nil, let m?):
            // The survivor is new to touchpoint: it starts from what the retired record knew.
            s = m
            s.id = details.id
            s.mergedInto = nil
        case (let known?, nil):
            s = known
        case (let known?, let m?):
            // What the survivor's record lacks, the retired one may know (the
            // phone the ward calls on): the survivor's own values win.
            s = known
            s.nhsNumber = s.nhsNumber ?? m.nhsNumber
            s.name = s.name ?? m.name
            s.birthDate = s.birthDate ?? m.birthDate
            s.phone = s.phone ?? m.phone
            s.email = s.email ?? m.email
            s.channel = s.channel ?? m.channel
            if s.communicationNeeds.isEmpty { s.communicationNeeds = m.communicationNeeds }
        }
        if (s.deceased || merged?.deceased == true), details.deceased == false {
            return .failure(deathStands(eventID))
        }
        s.update(with: details)
        if merged?.deceased == true { s.deceased = true }
        if merged?.optedOut == true { s.optedOut = true }
        let retired = (merged ?? Patient(id: mergedID)).retired(into: s.id)
        return .success(Merge(survivor: s, retired: retired, survivorIsNew: survivor == nil,
                              retiredWasInUse: merged != nil && merged?.mergedInto == nil))
    }

    /// The record a patient id now names: itself, or the record it was
    /// merged into (followed through at most `limit` merges, so a loop the
    /// hospital sent by mistake ends).
    public static func resolve(_ id: String, limit: Int = 16, record: (String) throws -> Patient?) rethrows -> String {
        var id = id
        for _ in 0..<limit {
            guard let next = try record(id)?.mergedInto, next != id else { return id }
            id = next
        }
        return id
    }

    static func deathStands(_ eventID: String) -> QueueReject {
        QueueReject(.conflict, "field \"patient.deceased\": this patient's death is recorded; the feed cannot undo it (an admin corrects a death recorded in error)",
                    eventID: eventID)
    }
}

extension Patient {
    /// The record retired by a merge into `survivor` (the id it was known by kept).
    public func retired(into survivor: String) -> Patient {
        var p = self
        p.mergedInto = survivor
        return p
    }
}

extension Booking {
    /// This booking under the surviving record of a merge.
    public func reassigned(to patientID: String) -> Booking {
        var b = self
        b.patientID = patientID
        return b
    }
}

extension Job {
    /// This job under the surviving record of a merge.
    public func reassigned(to patientID: String) -> Job {
        var j = self
        j.patientID = patientID
        return j
    }
}
