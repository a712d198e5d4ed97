import Foundation
import TouchpointDomain

/// The call list as JSON, written directly: byte for byte what `JSONEncoder`
/// (sorted keys, RFC 3339 times) makes of a `CallsReport`, which a test checks
/// with 200 seeded lists of awkward values.
///
/// Why by hand, the one reply that is: a ward's day can hold a thousand
/// calls, and `JSONEncoder` (which writes every other reply from the types'
/// own `Codable`) spent most of `calls --json` on them; even an encoder of
/// our own over `Codable` (tried 2026-12-02) took 37-39 ms for a 1000-call
/// day against 28.8 ms this way (sqlite3's own -json of the same rows: 16-17
/// ms; the target is at most twice that). So each field of a call is named
/// here a second time; the test fails when the two disagree.
extension CallsReport {
    public func json() -> [UInt8] {
        var w = JSONBytes()
        w.out.reserveCapacity(256 + calls.count * 700)
        w.raw("{\"calls\":")
        w.array(calls) { w, c in c.write(to: &w) }
        w.raw(",\"date\":"); w.string(date)
        w.raw(",\"escalated\":"); w.bool(escalated)
        w.raw(",\"hospital\":"); w.string(hospital)
        if let list { w.raw(",\"list\":"); w.string(list) }
        if let lists { w.raw(",\"lists\":"); w.array(lists) { w, l in w.string(l) } }
        if let maxAttempts { w.raw(",\"max_attempts\":"); w.int(maxAttempts) }
        w.raw(",\"time_zone\":"); w.string(timeZone)
        if let unassigned { w.raw(",\"unassigned\":"); w.bool(unassigned) }
        w.raw(",\"ward\":"); w.string(ward)
        w.raw("}")
        return w.out
    }
}

extension CallEntry {
    func write(to w: inout JSONBytes) {
        let j = job
        w.raw("{\"attempts\":"); w.int(j.attempts)
        w.raw(",\"birth_date\":"); w.string(birthDate)
        if let needs { w.raw(",\"communication_needs\":"); w.array(needs) { w, n in w.string(n) } }
        if let concern = j.concern { w.raw(",\"concern\":"); w.string(concern) }
        w.raw(",\"created_at\":"); w.date(j.createdAt)
        w.raw(",\"delay_reason\":"); w.string(j.delayReason)
        if let deliveries = j.deliveries {
            w.raw(",\"deliveries\":")
            w.array(deliveries) { w, d in
                w.raw("{\"at\":"); w.date(d.at)
                if let detail = d.detail { w.raw(",\"detail\":"); w.string(detail) }
                w.raw(",\"result\":"); w.string(d.result.rawValue)
                w.raw("}")
            }
        }
        if let delivery = j.delivery { w.raw(",\"delivery\":"); w.string(delivery.rawValue) }
        w.raw(",\"due_at\":"); w.date(j.dueAt)
        if let at = j.escalatedAt { w.raw(",\"escalated_at\":"); w.date(at) }
        w.raw(",\"expected_at\":"); w.date(j.expectedAt)
        w.raw(",\"expires_at\":"); w.date(j.expiresAt)
        if let history = j.history {
            w.raw(",\"history\":")
            w.array(history) { w, h in
                w.raw("{\"actor\":"); w.string(h.actor)
                w.raw(",\"at\":"); w.date(h.at)
                w.raw(",\"from\":"); w.string(h.from?.rawValue)
                w.raw(",\"reason\":"); w.string(h.reason)
                w.raw(",\"to\":"); w.string(h.to.rawValue)
                w.raw("}")
            }
        }
        w.raw(",\"id\":"); w.string(j.id)
        w.raw(",\"kind\":"); w.string(j.kind.rawValue)
        w.raw(",\"last_attempt_at\":"); w.date(lastAttemptAt)
        w.raw(",\"nhs_number_end\":"); w.string(nhsNumberEnd)
        w.raw(",\"note\":"); w.string(note)
        w.raw(",\"outcome\":"); w.string(j.outcome?.rawValue)
        w.raw(",\"overdue_since\":"); w.string(j.overdueSince)
        w.raw(",\"patient_id\":"); w.string(j.patientID)
        w.raw(",\"patient_name\":"); w.string(patientName)
        w.raw(",\"phone\":"); w.string(phone)
        w.raw(",\"procedure\":"); w.string(procedure)
        if let reason = j.reason { w.raw(",\"reason\":"); w.string(reason) }
        w.raw(",\"ref\":"); w.string(j.ref)
        w.raw(",\"revision\":"); w.int(j.revision)
        w.raw(",\"state\":"); w.string(j.state.rawValue)
        w.raw(",\"surgery_at\":"); w.date(surgeryAt)
        if let at = j.takenAt { w.raw(",\"taken_at\":"); w.date(at) }
        if let by = j.takenBy { w.raw(",\"taken_by\":"); w.string(by) }
        if let tz = j.timeZone { w.raw(",\"time_zone\":"); w.string(tz) }
        w.raw(",\"voicemail_ok\":"); w.bool(voicemailOK)
        w.raw(",\"ward\":"); w.string(j.ward)
        if let worklist = j.worklist { w.raw(",\"worklist\":"); w.string(worklist) }
        w.raw(",\"wound_care\":"); w.bool(j.woundCare)
        w.raw("}")
    }
}
