import Foundation
import NIOCore
import NIOPosix
import Synchronization
import TouchpointControl
import TouchpointDomain
import TouchpointLinux

/// A call list as the daemon gave it, with each row already rendered: a
/// ward's list is the same for every nurse who may see it, so it is asked
/// for and rendered once, not once per page.
struct RenderedList: Sendable {
    let report: CallsReport
    let rows: [RenderedRow]
    /// Every row's HTML, in order, in one buffer: a page copies it whole.
    let html: ByteBuffer
    let fetchedAt: Date
}

/// One row's HTML (Mustache-escaped) with what the list is sorted by.
struct RenderedRow: Sendable {
    let overdue: Bool
    let dueAt: Date
    let id: String
    let html: String
}

/// The call lists the web view has asked for, kept for `freshFor` (two
/// seconds): fifty nurses opening the list at once cost the daemon one
/// `calls` request, not fifty. A list is asked for by one request while the
/// others wait for its answer; an outcome recorded here drops every list at
/// once, so the nurse who recorded it never sees her call still on it.
/// Anything else (an outcome at `touchpointctl`, a call coming due) shows
/// within two seconds; the page says when its list was read.
final class CallListCache: Sendable {
    struct Key: Hashable {
        var day: String?
        var ward: String?
        var escalated: Bool
        /// A configured worklist; nil for the check-in calls.
        var list: String? = nil
        /// The day's calls of wards none of `calls.wards` names.
        var unassigned = false
    }

    private enum Slot {
        /// Asked for, nothing kept yet: everyone waits for the answer.
        case loading(EventLoopFuture<RenderedList>, generation: UInt64)
        /// Kept; past `until`, one request asks again (`refreshing`) while
        /// the others are given this one.
        case ready(RenderedList, until: NIODeadline, refreshing: Bool)
    }

    private let slots = Mutex<(generation: UInt64, lists: [Key: Slot])>((0, [:]))
    let freshFor: TimeAmount
    /// Decoding a thousand calls and rendering their rows takes tens of
    /// milliseconds: not on an event loop, where it would hold up every
    /// other page on that loop.
    let renderer = BlockingLane(name: "web-render")

    init(freshFor: TimeAmount = .seconds(2)) {
        self.freshFor = freshFor
    }

    private enum Step {
        case have(RenderedList)
        case wait(EventLoopFuture<RenderedList>)
        case load(EventLoopPromise<RenderedList>?, generation: UInt64, stale: RenderedList?)
    }

    /// The list for `key`: kept, being asked for, or asked for now with
    /// `fetch` (the daemon's reply, decoded and rendered off the event loop).
    func list(_ key: Key, fetch: () async throws(ClientError) -> Data) async throws(ClientError) -> RenderedList {
        let now = NIODeadline.now()
        let step: Step = slots.withLock { s in
            switch s.lists[key] {
            case .ready(let list, let until, _) where until > now:
                return .have(list)
            case .ready(let list, _, true):
                return .have(list)  // someone is asking again: this one meanwhile
            case .ready(let list, let until, false):
                s.lists[key] = .ready(list, until: until, refreshing: true)
                return .load(nil, generation: s.generation, stale: list)
            case .loading(let future, let generation) where generation == s.generation:
                return .wait(future)
            default:
                let promise = MultiThreadedEventLoopGroup.singleton.any().makePromise(of: RenderedList.self)
                s.lists[key] = .loading(promise.futureResult, generation: s.generation)
                return .load(promise, generation: s.generation, stale: nil)
            }
        }
        switch step {
        case .have(let list):
            return list
        case .wait(let future):
            do {
                return try await future.get()
            } catch {
                throw (error as? ClientError) ?? .unreachable("\(error)")
            }
        case .load(let promise, let generation, let stale):
            do {
                let data = try await fetch()
                let list: RenderedList
                do {
                    list = try await renderer.run { try Self.render(ControlJSON.decoder.decode(CallsReport.self, from: data)) }
                } catch {
                    throw ClientError.protocolError("touchpointd's call list could not be read")
                }
                slots.withLock { s in
                    // Dropped meanwhile (an outcome was recorded): keep nothing read before it.
                    if s.generation == generation { s.lists[key] = .ready(list, until: NIODeadline.now() + freshFor, refreshing: false) }
                }
                promise?.succeed(list)
                return list
            } catch {
                slots.withLock { s in
                    switch s.lists[key] {
                    case .loading(_, let g)? where g == generation: s.lists[key] = nil
                    case .ready(_, let until, true)? where stale != nil: if let stale { s.lists[key] = .ready(stale, until: until, refreshing: false) }
                    default: break
                    }
                }
                promise?.fail(error)
                throw (error as? ClientError) ?? .unreachable("\(error)")
            }
        }
    }

    /// Forgets every list (an outcome was just recorded).
    func drop() {
        slots.withLock { s in
            s.generation += 1
            s.lists.removeAll()
        }
    }

    static func render(_ report: CallsReport) -> RenderedList {
        let clock = report.clock
        let today = clock.today()
        let rows = report.calls.map { c in
            RenderedRow(overdue: c.isOverdue, dueAt: c.job.dueAt, id: c.job.id,
                        html: Templates.render("row", Views.row(c, maxAttempts: report.maxAttempts, clock: clock, today: today,
                                                                listDay: report.date.flatMap(LocalDate.init(iso:)))))
        }
        var html = ByteBuffer()
        html.reserveCapacity(rows.reduce(0) { $0 + $1.html.utf8.count })
        for r in rows { html.writeString(r.html) }
        return RenderedList(report: report, rows: rows, html: html, fetchedAt: Date())
    }
}
