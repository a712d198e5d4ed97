import Foundation
import TouchpointDomain
import TouchpointStore

/// One booking and why each of its jobs is in its state (`explain`).
public struct BookingExplanation: Sendable, Equatable {
    public var booking: Booking
    public var patientDeceased: Bool
    public var patientOptedOut: Bool
    /// Why a surgery booking's call is on the unassigned list, if it is.
    public var unassigned: String? = nil
    /// Each job with its history; `job.rule` says what set its due time.
    public var jobs: [JobRecord]
}

extension Touchpoint {
    public func jobs(_ filter: JobFilter, by person: Person) async throws(CoreFailure) -> [Job] {
        try authorize(.jobs, person)
        var scoped = filter
        scoped.wards = person.wards
        return try await stored("listing jobs") { [scoped] in try await store.read { try $0.jobs(scoped) } }
    }

    /// One job with its history (and, for a notice, its delivery attempts).
    public func job(_ id: String, by person: Person) async throws(CoreFailure) -> JobRecord {
        try authorize(.job, person)
        guard let record = try await stored("reading the job", { try await store.read { try $0.record(jobID: id) } }),
              person.sees(record.job, names: live.config.schedulingRules.wards) else {
            throw .notFound("no job \"\(id)\"")
        }
        var shown = record
        shown.call?.needs = live.config.needs.words(record.call?.communicationNeeds ?? [])
        return shown
    }

    /// Every job of a booking (either name space), why it is in its state,
    /// and its history: "why is (or isn't) this patient on the list?"
    public func explain(_ ref: String, by person: Person) async throws(CoreFailure) -> [BookingExplanation] {
        try authorize(.explain, person)
        let found = try await stored("explaining the booking") {
            try await store.read { r in
                try BookingKind.allCases.compactMap { kind -> BookingExplanation? in
                    guard let b = try r.booking(kind, ref) else { return nil }
                    let p = try r.patient(id: b.patientID)
                    let jobs = try r.jobs(of: kind, ref).map { JobRecord(job: $0, history: try r.history(jobID: $0.id)) }
                    return BookingExplanation(booking: b, patientDeceased: p?.deceased ?? false, patientOptedOut: p?.optedOut ?? false, jobs: jobs)
                }
            }
        }
        let names = live.config.schedulingRules.wards
        let seen = found.filter {
            $0.booking.kind == .surgery ? person.sees(call: $0.booking.ward, names: names) : person.sees(ward: $0.booking.ward ?? $0.booking.clinic)
        }.map { e -> BookingExplanation in
            var e = e
            if e.booking.kind == .surgery, names.isUnassigned(e.booking.ward) {
                e.unassigned = "its ward, \(e.booking.ward.map { "\"\($0)\"" } ?? "none"), is none of calls.wards (\(names.configured.joined(separator: ", "))): "
                    + "its check-in call is on the unassigned list, which everyone sees"
            }
            return e
        }
        guard !seen.isEmpty else {
            throw .notFound("no booking \"\(ref)\": it was never booked, or its booking was rejected (see the rejected lines)")
        }
        return seen
    }

    /// Whether touchpoint has a booking for this patient id (or for the
    /// record it was merged into): yes or no, and nothing else. The HL7
    /// receiver asks before it writes a patient's update (`hl7.md`: the ADT
    /// feed carries every patient of the hospital). Neither logged nor
    /// audited: it is asked for every ADT message, and the id is patient data.
    public func patientKnown(_ id: String, by person: Person) async throws(CoreFailure) -> Bool {
        try authorize(.patientKnown, person)
        guard !id.isEmpty, id.unicodeScalars.count <= 128 else {
            throw .badRequest("patient-known needs a patient id of 1 to 128 characters", field: "patient")
        }
        return try await stored("looking up the patient") {
            try await store.read { r in try r.patient(id: id) != nil }
        }
    }

    /// An admin cancels a pending job, saying why.
    public func cancel(_ jobID: String, reason: String, by person: Person) async throws(CoreFailure) -> JobRecord {
        try authorize(.cancel, person)
        let actor = person.recordedName
        let record = try await change(jobID, action: .cancel, by: actor) { machine, job in machine.cancel(job, reason: reason, actor: actor) }
        log(record.job, "cancel by \(actor); now \(record.job.state.rawValue)", level: .notice)
        return record
    }

    /// A nurse takes an escalated call (`take`): her wards hold, in the
    /// transaction that records it, as for an outcome.
    public func take(_ jobID: String, by person: Person) async throws(CoreFailure) -> JobRecord {
        try authorize(.take, person)
        let actor = person.recordedName
        let rules = live.config.schedulingRules
        let record = try await stored("taking the call") {
            try await store.write { w -> Result<JobRecord, CoreFailure> in
                let now = self.now()
                guard let job = try w.job(id: jobID), person.sees(job, names: rules.wards) else {
                    return .failure(.notFound("no job \"\(jobID)\" (the escalated list gives each call's job id)"))
                }
                switch JobStateMachine(rules: rules, now: now).take(job, actor: actor) {
                case .failure(let refusal):
                    return .failure(.refused(refusal.message))
                case .success(let u):
                    try w.save(u, rules: rules, now: now)
                    try w.audit(actor: actor, action: Operation.take.rawValue, subject: jobID, detail: u.change.reason, now: now)
                    return .success(JobRecord(job: u.job, history: try w.history(jobID: jobID), patientName: try w.patient(id: job.patientID)?.name))
                }
            }
        }.get()
        log(record.job, "taken by \(actor)", level: .notice)
        wakeEngine()
        return record
    }

    /// An admin puts a failed notice back in the queue.
    public func retry(_ jobID: String, by person: Person) async throws(CoreFailure) -> JobRecord {
        try authorize(.retry, person)
        let actor = person.recordedName
        let record = try await change(jobID, action: .retry, by: actor) { machine, job in machine.retry(job, actor: actor) }
        log(record.job, "retry by \(actor); now \(record.job.state.rawValue)", level: .notice)
        return record
    }

    /// Applies the state machine's decision on one job in one transaction,
    /// with the audit; a refusal changes nothing.
    private func change(_ jobID: String, action: Operation, by actor: String,
                        _ decide: @escaping @Sendable (JobStateMachine, Job) -> Result<JobUpdate, Refusal>) async throws(CoreFailure) -> JobRecord {
        let rules = live.config.schedulingRules
        let record = try await stored("changing the job") {
            try await store.write { w -> Result<JobRecord, CoreFailure> in
                let now = self.now()
                guard let job = try w.job(id: jobID) else { return .failure(.notFound("no job \"\(jobID)\" (touchpointctl jobs lists them)")) }
                switch decide(JobStateMachine(rules: rules, now: now), job) {
                case .failure(let refusal):
                    return .failure(.refused(refusal.message))
                case .success(let u):
                    try w.save(u, rules: rules, now: now)
                    try w.audit(actor: actor, action: action.rawValue, subject: jobID, detail: u.change.reason, now: now)
                    return .success(JobRecord(job: u.job, history: try w.history(jobID: jobID), deliveries: try w.deliveries(jobID: jobID),
                                              patientName: try w.patient(id: job.patientID)?.name))
                }
            }
        }.get()
        wakeEngine()
        return record
    }
}
