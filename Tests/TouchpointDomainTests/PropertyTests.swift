import Foundation
import Testing
import TouchpointTestSupport
@testable import TouchpointDomain

/// The engine's rules applied to plain values, as the store applies them:
/// the ledger, then the planner, then time passing.
struct Simulation {
    var rules: SchedulingRules
    var now: Date
    var bookings: [String: Booking] = [:]
    var patients: [String: Patient] = [:]
    var jobs: [String: Job] = [:]
    var order: [String] = []

    mutating func save(_ updates: [JobUpdate]) {
        for u in updates {
            if jobs[u.job.id] == nil { order.append(u.job.id) }
            jobs[u.job.id] = u.job
        }
    }

    mutating func apply(_ event: QueueEvent) {
        if let details = event.patient {
            var p = patients[details.id] ?? Patient(id: details.id)
            p.update(with: details)
            patients[details.id] = p
        }
        let planner = Planner(rules: rules, now: now)
        if let (kind, ref) = event.booking {
            let key = "\(kind.rawValue):\(ref)"
            guard case .success(let b) = BookingLedger.apply(event, to: bookings[key], eventID: "e") else { return }
            bookings[key] = b
            let mine = order.compactMap { jobs[$0] }.filter { $0.bookingKind == kind && $0.ref == ref }
            save(planner.plan(event, booking: b, patient: patients[b.patientID] ?? Patient(id: b.patientID), jobs: mine))
        } else if let p = event.patient.flatMap({ patients[$0.id] }) {
            save(planner.patientChanged(p, jobs: order.compactMap { jobs[$0] }.filter { $0.patientID == p.id }))
        }
    }

    mutating func advance(to t: Date) {
        now = t
        let machine = JobStateMachine(rules: rules, now: now)
        for id in order {
            var j = jobs[id]!
            let p = patients[j.patientID]
            for _ in 0..<400 {
                guard let u = machine.advance(j, patient: p, channel: p?.channel ?? .sms) else { break }
                j = u.job
            }
            jobs[id] = j
        }
    }
}

/// Random but realistic sequences of events for a few bookings and patients.
struct EventSequence {
    var rng: SplitMix64
    let start: Date

    init(seed: UInt64, start: Date) {
        rng = SplitMix64(seed: seed)
        self.start = start
    }

    mutating func time(within days: Int) -> Date {
        start.addingTimeInterval(TimeInterval(rng.below(days * 96)) * 900)
    }

    mutating func events(_ n: Int) -> [(advance: TimeInterval, event: QueueEvent)] {
        var out: [(TimeInterval, QueueEvent)] = []
        for _ in 0..<n {
            let ref = "R\(rng.below(6))"
            let patient = "P\(rng.below(4))"
            let at = time(within: 20)
            let e: QueueEvent
            switch rng.below(12) {
            case 0, 1: e = .surgeryBooked(ref: ref, patient: PatientDetails(id: patient, phone: "+447700900123"), at: at, ward: "Ward 1", procedure: nil,
                                          admitAt: rng.below(2) == 0 ? at.addingTimeInterval(-5400) : nil)
            case 2: e = .surgeryRescheduled(ref: ref, at: at, ward: nil, procedure: nil, admitAt: nil)
            case 3: e = .surgeryDelayed(ref: ref, expectedAt: at, reason: "a delay")
            case 4: e = .surgeryPerformed(ref: ref, at: at)
            case 5: e = .surgeryCancelled(ref: ref, reason: nil)
            case 6, 7: e = .openAccessBooked(ref: ref, patient: PatientDetails(id: patient, email: "p@example.org", channel: .email), at: at, clinic: nil, mode: nil)
            case 8: e = .openAccessRescheduled(ref: ref, at: at, clinic: nil, mode: nil)
            case 9: e = .openAccessCancelled(ref: ref, reason: nil)
            case 10: e = .patientUpdated(PatientDetails(id: patient, optedOut: rng.below(2) == 0))
            default: e = .patientUpdated(PatientDetails(id: patient, deceased: rng.below(4) == 0 ? true : nil))
            }
            out.append((TimeInterval(rng.below(3 * 96)) * 900, e))
        }
        return out
    }
}

@Suite struct SchedulingProperties {
    static let seeds: [UInt64] = Array(1...150)

    func run(seed: UInt64) -> Simulation {
        var rules = SchedulingRules(clock: london)
        rules.closedDates = [LocalDate(year: 2026, month: 3, day: 30)]
        let start = t("2026-03-20T08:00")  // spans the spring clock change
        var gen = EventSequence(seed: seed, start: start)
        var sim = Simulation(rules: rules, now: start)
        for (step, event) in gen.events(80) {
            sim.advance(to: sim.now.addingTimeInterval(step))
            sim.apply(event)
            // The engine runs as soon as ingest changed jobs (the daemon pokes it).
            sim.advance(to: sim.now)
            check(sim, seed: seed)
        }
        sim.advance(to: sim.now.addingTimeInterval(30 * 86_400))
        check(sim, seed: seed)
        return sim
    }

    func check(_ sim: Simulation, seed: UInt64) {
        for j in sim.jobs.values {
            // No job is ever due after it expires.
            #expect(j.dueAt <= j.expiresAt, "seed \(seed): \(j.id) due \(utc(j.dueAt)) after it expires \(utc(j.expiresAt))")
            guard j.state.isPending else { continue }
            // A cancelled booking has no pending jobs.
            let b = sim.bookings["\(j.bookingKind.rawValue):\(j.ref)"]!
            #expect(!b.cancelled, "seed \(seed): \(j.id) pending on a cancelled booking")
            // A deceased patient has no pending jobs.
            #expect(sim.patients[j.patientID]?.deceased != true, "seed \(seed): \(j.id) pending for a deceased patient")
            // A pending job waits for something in the future.
            if let next = j.nextCheck(rules: sim.rules) {
                #expect(next > sim.now, "seed \(seed): \(j.id) left behind at \(utc(sim.now))")
            }
        }
    }

    @Test(arguments: seeds)
    func invariantsHoldForRandomEventSequences(seed: UInt64) {
        let sim = run(seed: seed)
        #expect(!sim.jobs.isEmpty)
    }

    @Test(arguments: Array(seeds.prefix(40)))
    func theSameQueueFromEmptyGivesTheSameJobs(seed: UInt64) {
        let a = run(seed: seed)
        let b = run(seed: seed)
        #expect(a.order == b.order)
        #expect(a.jobs == b.jobs)
    }

    @Test func everyJobReachesAnEndWhenTimeRunsOut() {
        // After a month with no events, only calls waiting for an outcome remain pending.
        for seed in Self.seeds.prefix(30) {
            let sim = run(seed: seed)
            for j in sim.jobs.values where j.state.isPending {
                #expect(j.kind == .checkinCall && j.state == .due || j.state == .scheduled && j.dueAt > sim.now,
                        "seed \(seed): \(j.id) still \(j.state.rawValue)")
            }
        }
    }
}
