import Foundation
import TouchpointControl
import TouchpointCore
import TouchpointDomain
import TouchpointStore

/// How the core's answers look on the wire (`cli.md`'s JSON). The control
/// harness and the daily export both show calls this way.
enum WireViews {
    static func job(_ j: Job, history: [JobChange]? = nil, deliveries: [DeliveryAttempt]? = nil, reason: Bool = false,
                    timeZone: String? = nil) -> JobView {
        var v = JobView(id: j.id, kind: j.kind, ref: j.ref, patientID: j.patientID, state: j.state,
                        dueAt: j.dueAt, expiresAt: j.expiresAt, createdAt: j.createdAt, attempts: j.attempts, revision: j.revision,
                        ward: j.ward, outcome: j.outcome, woundCare: j.woundCare, overdueSince: j.overdueSince?.description,
                        expectedAt: j.expectedAt, delayReason: j.delayReason,
                        history: history?.map { .init(at: $0.at, actor: $0.actor, from: $0.from, to: $0.to, reason: $0.reason) },
                        reason: reason ? j.rule : nil)
        v.delivery = j.delivery
        v.worklist = j.worklist
        v.escalatedAt = j.escalatedAt
        v.takenBy = j.takenBy
        v.takenAt = j.takenAt
        if j.kind == .concernFollowUp { v.concern = j.note }
        if let deliveries, j.isNotice {
            v.deliveries = deliveries.map { .init(at: $0.at, result: $0.result, detail: $0.detail) }
        }
        v.timeZone = timeZone
        return v
    }

    /// A job given on its own, with its history and deliveries.
    static func record(_ r: JobRecord, timeZone: String) -> JobView {
        var v = job(r.job, history: r.history, deliveries: r.deliveries, timeZone: timeZone)
        v.patientName = r.patientName
        if !r.job.isNotice {
            v.outcomes = r.attempts.map { .init(at: $0.at, by: $0.by, outcome: $0.outcome, woundCare: $0.woundCare, note: $0.note, withdrawn: $0.withdrawn) }
            v.call = r.call.map { .init(phone: $0.phone, voicemailOK: $0.voicemailOK, procedure: $0.procedure, surgeryAt: $0.surgeryAt,
                                        birthDate: $0.birthDate?.description, nhsNumberEnd: $0.nhsNumberEnd,
                                        needs: $0.needs.isEmpty ? nil : $0.needs) }
        }
        return v
    }

    static func calls(_ list: CallList, ward: String? = nil) -> CallsReport {
        CallsReport(date: list.day?.description, ward: ward ?? list.ward, escalated: list.escalated, hospital: list.hospital,
                    timeZone: list.clock.identifier, maxAttempts: list.maxAttempts, list: list.list,
                    lists: list.lists.isEmpty ? nil : list.lists, unassigned: list.unassigned ? true : nil,
                    calls: list.rows.map {
                        CallEntry(job: job($0.job), patientName: $0.patientName, phone: $0.phone, voicemailOK: $0.voicemailOK,
                                  procedure: $0.procedure, surgeryAt: $0.surgeryAt, lastAttemptAt: $0.job.lastAttemptAt, note: $0.job.note,
                                  birthDate: $0.birthDate?.description, nhsNumberEnd: $0.nhsNumberEnd,
                                  needs: $0.needs.isEmpty ? nil : $0.needs)
                    })
    }

    static func status(_ s: ServiceStatus, timeZone: String) -> StatusReport {
        let t = s.snapshot.totals
        return StatusReport(
            version: s.version, state: s.paused ? "paused" : "running", uptimeSeconds: s.uptimeSeconds,
            queue: .init(path: s.queueFile, offset: t.position.offset, line: t.position.line, ingested: t.counts.ingested,
                         duplicates: t.counts.duplicates, rejected: t.counts.rejected, notKnown: t.counts.notKnown,
                         sources: s.snapshot.sources.map { .init(source: $0.name, events: $0.events, lastEventAt: $0.lastEventAt) },
                         error: s.queueProblem, lastReadAt: t.lastReadAt),
            patients: s.snapshot.patients, bookings: s.snapshot.bookings, jobs: s.snapshot.jobCounts,
            nextDueAt: s.snapshot.nextDueAt, lastDispatch: s.snapshot.lastDispatch, timeZone: timeZone,
            transport: .init(kind: s.transportKind, held: s.transportHold, deliveries: s.snapshot.deliveries),
            warnings: s.warnings.map { $0.words(HospitalClock.named(timeZone)) })
    }

    static func explain(_ ref: String, _ found: [BookingExplanation], timeZone: String) -> ExplainReport {
        ExplainReport(
            ref: ref,
            bookings: found.map {
                .init(kind: $0.booking.kind, at: $0.booking.at, cancelled: $0.booking.cancelled, revision: $0.booking.revision,
                      patientDeceased: $0.patientDeceased, patientOptedOut: $0.patientOptedOut, unassigned: $0.unassigned)
            },
            jobs: found.flatMap { $0.jobs.map { job($0.job, history: $0.history, reason: true) } },
            timeZone: timeZone)
    }

    static func rejects(_ records: [RejectRecord], total: Int) -> RejectsReport {
        RejectsReport(rejects: records.map {
            .init(line: $0.line, offset: $0.offset, eventID: $0.eventID, code: $0.code, message: $0.message, at: $0.at, rawLine: $0.raw)
        }, total: total)
    }
}
