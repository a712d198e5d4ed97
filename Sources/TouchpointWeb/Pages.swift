import Crypto
import Foundation
import Hummingbird
import TouchpointControl
import TouchpointDomain

/// The outcome form's fields, as the browser sends them.
struct OutcomeForm: PostedForm {
    var csrf: String?
    var outcome: String?
    var wound_care: String?
    var note: String?
    var seen_outcomes: Int?
    /// The list the nurse came from, to go back to: the breast care nurse's (`nurse`) or the ward's.
    var list: String?
    /// `yes`: the patient raised a concern (with reached).
    var concern: String?
}

/// "Reopen this call": what was recorded in error.
struct ReopenForm: PostedForm {
    var csrf: String?
    var reason: String?
}

/// A form a signed-in person posts, carrying its CSRF token.
protocol PostedForm: Decodable {
    var csrf: String? { get }
}

/// A form posted to a call's address, or the answer that refuses it.
enum CallPost<Form: PostedForm> {
    case accepted(Viewer, jobID: String, Form)
    case refused(Response)

    var refusal: Response {
        if case .refused(let r) = self { return r }
        return Response(status: .internalServerError)
    }
}

extension WebApp {
    /// What every form posted to a call's address goes through first: a
    /// viewer (else sign in), a job id (else 404), a form that decodes and
    /// carries this session's token from this site (else 403).
    func callPost<Form: PostedForm>(_ type: Form.Type, _ request: Request, _ context: WebContext) async throws -> CallPost<Form> {
        guard let viewer = context.viewer else { return .refused(Self.redirect("/login")) }
        guard let id = Self.jobID(context) else { return .refused(notFound(viewer)) }
        var request = request
        let body = try await request.collectBody(upTo: context.maxUploadSize)
        guard let form = try? URLEncodedFormDecoder().decode(Form.self, from: String(buffer: body)),
              !isForged(request, token: form.csrf, viewer: viewer) else { return .refused(forbidden(viewer)) }
        return .accepted(viewer, jobID: id, form)
    }

    // MARK: Call lists

    /// The lists a viewer may see: the ward asked for, else each of their
    /// wards, else all wards in one; each from the cache when it is fresh.
    func callLists(day: String?, ward: String?, escalated: Bool, list: String? = nil, unassigned: Bool = false,
                   _ viewer: Viewer) async throws(ClientError) -> [RenderedList] {
        // The unassigned list is every ward's, whatever the viewer's: one request.
        let wards: [String?] = unassigned ? [nil] : ward.map { [$0] } ?? (viewer.wards.isEmpty ? [nil] : viewer.wards.map { $0 })
        var found: [RenderedList] = []
        for w in wards {
            let key = CallListCache.Key(day: escalated ? nil : day, ward: w, escalated: escalated, list: escalated ? nil : list, unassigned: unassigned)
            found.append(try await cachedList(key, for: viewer))
        }
        return found
    }

    private func cachedList(_ key: CallListCache.Key, for viewer: Viewer) async throws(ClientError) -> RenderedList {
        try await self.lists.list(key) { () async throws(ClientError) -> Data in
            try await daemon(for: viewer).calls(CallsQuery(date: key.day, ward: key.ward, escalated: key.escalated, list: key.list,
                                                           unassigned: key.unassigned)).json
        }
    }

    static func query(_ pairs: [(String, String?)]) -> String {
        var allowed = CharacterSet.urlQueryAllowed
        allowed.remove(charactersIn: "&=+#")
        let parts = pairs.compactMap { k, v in v.map { "\(k)=\($0.addingPercentEncoding(withAllowedCharacters: allowed) ?? "")" } }
        return parts.isEmpty ? "" : "?" + parts.joined(separator: "&")
    }

    func takeFlash(_ viewer: Viewer) -> Flash? {
        flashes.withLock { $0.removeValue(forKey: viewer.flashKey) }
    }

    func callsPage(_ request: Request, _ context: WebContext) async throws -> Response {
        try await listPage(request, context, escalated: false)
    }

    func escalatedPage(_ request: Request, _ context: WebContext) async throws -> Response {
        try await listPage(request, context, escalated: true)
    }

    /// The day's calls of wards none of `calls.wards` names: every account sees them.
    func unassignedPage(_ request: Request, _ context: WebContext) async throws -> Response {
        try await listPage(request, context, escalated: false, unassigned: true)
    }

    func listPage(_ request: Request, _ context: WebContext, escalated: Bool, unassigned: Bool = false) async throws -> Response {
        guard let viewer = context.viewer else { return Self.redirect("/login") }
        let q = request.uri.queryParameters
        let dateText = q.get("date").flatMap { $0.isEmpty ? nil : $0 }
        let ward = unassigned ? nil : q.get("ward").flatMap { $0.isEmpty ? nil : $0 }
        let worklist = escalated || unassigned ? nil : q.get("list").flatMap { $0.isEmpty ? nil : $0 }
        var errors: [FieldError] = []
        var day: String?
        if let d = dateText, !escalated {
            if LocalDate(iso: d) != nil { day = d } else { errors.append(FieldError(field: "date", message: "Enter a real date, for example 27 11 2026")) }
        }
        if let ward, !viewer.sees(ward: ward) { return notYourWard(viewer) }
        let lists: [RenderedList]
        do {
            lists = try await callLists(day: day, ward: ward, escalated: escalated, list: worklist, unassigned: unassigned, viewer)
        } catch {
            return failure(error, viewer, doing: escalated ? "escalated list" : "call list")
        }
        var v = listValues(lists, viewer: viewer, ward: ward, escalated: escalated, errors: errors)
        if unassigned { unassignedValues(&v, lists) }
        v["dateError"] = errors.first?.message
        if errors.isEmpty, let d = dateText { v["date"] = d }
        v["refresh"] = (escalated ? "/calls/escalated" : unassigned ? "/calls/unassigned" : "/calls") + Self.query([("date", day), ("ward", ward), ("list", worklist)])
        if !escalated && !unassigned { v["printLink"] = "/print" + Self.query([("date", day), ("ward", ward), ("list", worklist)]) }
        if let flash = takeFlash(viewer) {
            v["flash"] = flash.text
            v["flashTitle"] = flash.title
        }
        // The page around the rows is rendered per request; the rows are the
        // cached buffer (one list) or joined here (an account's several wards).
        let page = Templates.render("calls", v)
        guard let marker = page.range(of: Self.rowsMarker) else { return Self.html(page) }
        let rows: ByteBuffer = lists.count == 1 ? lists[0].html : ByteBuffer(string: Views.merged(lists).map(\.html).joined())
        // Written as three buffers, the cached rows shared rather than copied:
        // a 1,000-call list is 400 KiB, and fifty nurses' copies at once left
        // the heap megabytes bigger after they had gone (issue 13's idle memory).
        let parts = [ByteBuffer(substring: page[..<marker.lowerBound]), rows, ByteBuffer(substring: page[marker.upperBound...])]
        return Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8"], body: .init(contentsOf: parts))
    }

    /// Where the rows go in the rendered page.
    static let rowsMarker = "\u{1}touchpoint-rows\u{1}"

    func listValues(_ lists: [RenderedList], viewer: Viewer, ward: String?, escalated: Bool, errors: [FieldError]) -> [String: Any] {
        let first = lists.first?.report
        let clock = HospitalClock.named(first?.timeZone)
        let today = clock.today()
        let day = first?.date.flatMap(LocalDate.init(iso:)) ?? today
        let rows = Views.merged(lists)
        let worklist = first?.list
        let calls = worklist.map { "Calls on the \($0) list" } ?? "Check-in calls"
        let title = escalated ? "Escalated calls" : day == today ? (worklist == nil ? "Today’s check-in calls" : "Today’s \(calls.lowercased())")
            : "\(calls) for \(day.longText)"
        var v = chrome(viewer, title: title, errors: errors)
        var heading = escalated ? "Escalated calls" : "\(calls): \(day.longText)"
        if let ward { heading += ", \(ward)" }
        v["heading"] = heading
        v[escalated ? "navEscalated" : "navCalls"] = true
        v["asOf"] = clock.hhmm(lists.map(\.fetchedAt).min() ?? Date())
        v["rowsHTML"] = Self.rowsMarker
        v["empty"] = rows.isEmpty
        v["emptyText"] = escalated ? "No calls are with the breast care nurse." : "No calls on this list."
        if let worklist { v["list"] = worklist }
        let others = (first?.lists ?? []).filter { $0 != worklist }
        if !escalated && (!others.isEmpty || worklist != nil) {
            v["otherLists"] = (worklist == nil ? [] : [["name": "check-in calls", "href": "/calls" + Self.query([("date", day.description)])]])
                + others.map { ["name": $0, "href": "/calls" + Self.query([("date", day.description), ("list", $0)])] }
            v["hasOtherLists"] = true
        }
        let overdue = rows.filter(\.overdue).count
        v["caption"] = "\(rows.count) call\(rows.count == 1 ? "" : "s") to make"
            + (overdue > 0 ? ", \(overdue) overdue (shown first), then by the time each is due" : ", by the time each is due")
        v["showFilters"] = !escalated
        v["filterAction"] = "/calls"
        let seen = Set(lists.flatMap { $0.report.calls.compactMap(\.job.ward) })
        let choices = viewer.wards.isEmpty ? Array(seen.union([ward].compactMap { $0 })).sorted() : viewer.wards
        v["hasWardChoice"] = choices.count > 1 || (viewer.wards.isEmpty && !choices.isEmpty)
        v["allWardsLabel"] = viewer.wards.isEmpty ? "All wards" : "All my wards"
        v["wards"] = choices.map { ["name": $0, "selected": $0 == ward] }
        return v
    }

    /// The unassigned list's own words: what it is, and what ends it.
    func unassignedValues(_ v: inout [String: Any], _ lists: [RenderedList]) {
        let clock = HospitalClock.named(lists.first?.report.timeZone)
        let day = lists.first?.report.date.flatMap(LocalDate.init(iso:)) ?? clock.today()
        v["title"] = "Unassigned calls"
        v["heading"] = "Unassigned check-in calls: \(day.longText)"
        v["intro"] = "These patients’ bookings came with a ward that is none of the hospital’s. Every account sees them, so that nobody is missed: "
            + "make the call, or ask the integration team to send the ward as the hospital writes it."
        v["emptyText"] = "No call is unassigned: every booking came with one of the hospital’s wards."
        v["navCalls"] = nil
        v["navUnassigned"] = true
        v["hasWardChoice"] = false
        v["filterAction"] = "/calls/unassigned"
    }

    func notYourWard(_ viewer: Viewer) -> Response {
        message(viewer, status: .forbidden, title: "Not one of your wards", [
            "Your account shows the calls of \(viewer.wards.joined(separator: ", ")) only. Ask your touchpoint administrator if you need another ward.",
        ], link: ("/calls", "Go to your calls"))
    }

    // MARK: One call

    /// The job id in a call's address, decoded once as a path segment: the
    /// router hands the segment as sent, so a ref with a space
    /// (`/calls/call-S%20PT%20W4`) was looked up with its `%20`, and that
    /// patient's call could not be opened. `Views.callPath` is its inverse.
    static func jobID(_ context: WebContext) -> String? {
        guard let raw = context.parameters.get("job"), let id = raw.removingPercentEncoding, !id.isEmpty else { return nil }
        return id
    }

    /// A job with a call page: a check-in or worklist call (anything else is
    /// "not found"). Whether it is of the viewer's wards is the daemon's
    /// rule: it answers "not found" for another ward's job, and refuses an
    /// outcome on one in the transaction that would record it.
    static func isCall(_ job: JobView) -> Bool {
        job.kind == .checkinCall || job.kind == .concernFollowUp || job.worklist != nil
    }

    func callPage(_ request: Request, _ context: WebContext) async throws -> Response {
        guard let viewer = context.viewer else { return Self.redirect("/login") }
        guard let id = Self.jobID(context) else { return notFound(viewer) }
        return await showCall(id, viewer, form: nil, errors: [], conflict: nil, status: .ok)
    }

    /// The call page: fetched afresh, with what the nurse typed kept after an error.
    func showCall(_ id: String, _ viewer: Viewer, form: OutcomeForm?, errors: [FieldError], conflict: String?,
                  status: HTTPResponse.Status, reason: String? = nil) async -> Response {
        let job: JobView
        do {
            job = try await daemon(for: viewer).job(id).value()
        } catch {
            return failure(error, viewer, doing: "one call")
        }
        guard Self.isCall(job) else { return notFound(viewer) }
        var v = callValues(job, viewer: viewer, errors: errors)
        v["conflict"] = conflict
        if let reason { v["reason"] = reason }
        if let form {
            v["note"] = form.note ?? ""
            v["woundYes"] = form.wound_care == "yes"
            v["woundNo"] = form.wound_care == "no"
            v["outcomes"] = Self.outcomeChoices(checked: form.outcome.flatMap(CallOutcome.init(rawValue:)))
            v["concernChecked"] = form.concern == "yes"
        }
        for e in errors { v[Self.errorKey(e.field)] = e.message }
        return Self.html(Templates.render("call", v), status: status)
    }

    /// The template's value that shows a form field's error.
    static func errorKey(_ field: String) -> String {
        switch field {
        case "outcome": return "outcomeError"
        case "wound-yes": return "woundError"
        case "concern": return "concernError"
        case "reason": return "reasonError"
        default: return "noteError"
        }
    }

    static func outcomeChoices(checked: CallOutcome?) -> [[String: Any]] {
        CallOutcome.allCases.enumerated().map { i, o in
            ["id": i == 0 ? "outcome" : "outcome-\(o.rawValue)", "value": o.rawValue, "label": Views.outcomeLabel(o), "checked": o == checked]
        }
    }

    func callValues(_ job: JobView, viewer: Viewer, errors: [FieldError]) -> [String: Any] {
        let clock = HospitalClock.named(job.timeZone)
        let today = clock.today()
        let s = Views.status(job, maxAttempts: nil, clock: clock, today: today)
        var v = chrome(viewer, title: "Record a call’s outcome", errors: errors)
        v["name"] = job.patientName ?? "Name not given (\(job.patientID))"
        v["callPath"] = Views.callPath(job.id)
        v["seenOutcomes"] = (job.outcomes ?? []).count
        v["phone"] = CallListFormat.dialable(job.call?.phone)
        v["tel"] = Views.tel(job.call?.phone)
        v["voicemail"] = job.call?.voicemailOK == true ? "Yes: a message may be left" : "No: do not leave a message"
        v["voicemailOK"] = job.call?.voicemailOK == true
        v["ward"] = job.ward ?? "no ward"
        // Who the patient is, to confirm on the phone before anything else (H-05).
        v["born"] = job.call?.birthDate.flatMap(LocalDate.init(iso:))?.birthText
        v["nhsEnd"] = job.call?.nhsNumberEnd
        v["surgery"] = job.call?.surgeryAt.map(clock.pageTime) ?? "not known"
        v["procedure"] = job.call?.procedure
        v["tag"] = s.text
        v["tagClass"] = s.cssClass
        v["tries"] = job.attempts > 0 ? "\(job.attempts) tr\(job.attempts == 1 ? "y" : "ies") so far" : nil
        let attempts = job.outcomes ?? []
        v["hasAttempts"] = !attempts.isEmpty
        v["attempts"] = attempts.map { a -> [String: Any] in
            var outcome = a.outcome.words.prefix(1).uppercased() + a.outcome.words.dropFirst()
            if let w = a.woundCare { outcome += w ? ", wound care discussed" : ", wound care not discussed" }
            if let w = a.withdrawn { outcome += " (\(w))" }
            return ["when": clock.pageTime(a.at), "by": a.by, "outcome": outcome, "note": a.note ?? ""]
        }
        let escalated = job.state == .escalated
        if escalated {
            v["escalation"] = Views.escalationText(job, now: Date())
            v["canTake"] = job.takenBy != viewer.name + " via web"
        }
        v["back"] = escalated ? "/calls/escalated" : "/calls" + Self.query([("list", job.worklist)])
        v["backLabel"] = escalated ? "the escalated calls" : job.worklist.map { "the \($0) list" } ?? "today’s calls"
        v[escalated ? "navEscalated" : "navCalls"] = true
        v["canRecord"] = job.state == .due || escalated
        v["list"] = escalated ? "nurse" : job.worklist.map { "list:" + $0 } ?? "ward"
        // A worklist call (contacts.md) is about an appointment, and wound care is the check-in call's.
        v["worklist"] = job.worklist
        v["asksWoundCare"] = job.kind == .checkinCall
        v["whenLabel"] = job.worklist == nil ? "Surgery" : "Appointment"
        v["closedText"] = Self.closedText(job, last: attempts.last, clock: clock)
        v["callKind"] = job.kind == .concernFollowUp ? "Concern to follow up" : job.kind == .needsCall ? "Call in place of a notice" : "Check-in call"
        v["concern"] = job.concern
        v["canConcern"] = job.kind != .concernFollowUp
        // A call closed by its outcome in the last 24 hours may be reopened (the daemon holds the rule).
        if job.state == .done, let closing = attempts.last(where: { $0.withdrawn == nil }),
           Date().timeIntervalSince(closing.at) <= JobStateMachine.reopenWithin {
            v["canReopen"] = true
            v["reason"] = ""
        }
        let needs = job.call?.needs ?? []
        v["hasNeeds"] = !needs.isEmpty
        v["needs"] = needs
        v["outcomes"] = Self.outcomeChoices(checked: nil)
        v["note"] = ""
        return v
    }

    /// Why a call takes no outcome now, in words.
    static func closedText(_ job: JobView, last: JobView.Attempt?, clock: HospitalClock) -> String? {
        switch job.state {
        case .due, .escalated:
            return nil
        case .done:
            guard let last else { return "This call is closed\(job.outcome.map { ": \($0.words)" } ?? "")." }
            return "This call is closed: \(last.outcome.words), recorded by \(last.by) at \(clock.pageTime(last.at))."
        case .scheduled:
            return job.attempts > 0
                ? "The next try is at \(clock.pageTime(job.dueAt)): the call comes back on the list then."
                : "This call is not due yet: it comes on the list at \(clock.pageTime(job.dueAt))."
        default:
            return "This call is \(job.state.rawValue): there is nothing to record."
        }
    }

    // MARK: Recording an outcome

    func recordOutcome(_ request: Request, _ context: WebContext) async throws -> Response {
        let posted = try await callPost(OutcomeForm.self, request, context)
        guard case .accepted(let viewer, let id, let form) = posted else { return posted.refusal }
        // The call as it is now: whether it asks about wound care, and that it
        // is a call. (Its ward is held to the account's by the daemon, for
        // this look and again when the outcome is recorded.)
        let current: JobView
        do {
            current = try await daemon(for: viewer).job(id).value()
        } catch {
            return failure(error, viewer, doing: "recording an outcome")
        }
        guard Self.isCall(current) else { return notFound(viewer) }
        let outcome = form.outcome.flatMap(CallOutcome.init(rawValue:))
        let note = (form.note ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        // Whether the call asks about wound care is the call's (a check-in
        // call does, a configured worklist's does not), never the form's: a
        // form posted with `list=list:x` skipped the question. The daemon
        // refuses `reached` without the answer all the same
        // (`OutcomeEntry`); asking here first keeps what the nurse typed.
        let worklist = current.worklist
        // Wound care goes with reached only; a radio cannot be cleared without script, so it is dropped otherwise.
        let asksWoundCare = current.kind == .checkinCall
        let woundCare: Bool? = outcome == .reached && asksWoundCare
            ? (form.wound_care == "yes" ? true : form.wound_care == "no" ? false : nil) : nil
        let concern = form.concern == "yes" && current.kind != .concernFollowUp
        var errors: [FieldError] = []
        if let outcome {
            let entry = OutcomeEntry(outcome: outcome, woundCare: woundCare, note: note, asksWoundCare: asksWoundCare, concern: concern)
            for problem in entry.problems { errors.append(FieldError(field: Self.formField(problem.field), message: problem.formMessage)) }
        } else {
            errors.append(FieldError(field: "outcome", message: "Select what happened on the call"))
        }
        guard let outcome, errors.isEmpty else {
            return await showCall(id, viewer, form: form, errors: errors, conflict: nil, status: .badRequest)
        }
        let recorded = OutcomeRequest(job: id, outcome: outcome, woundCare: woundCare, note: note.isEmpty ? nil : note, seenOutcomes: form.seen_outcomes,
                                      concern: concern)
        let job: JobView
        do {
            job = try await daemon(for: viewer).outcome(recorded).value()
        } catch .refused(let f) where f.code != .notFound && f.code != .permissionDenied {
            return await refused(f, call: id, viewer)
        } catch {
            return failure(error, viewer, doing: "recording an outcome")
        }
        self.lists.drop()
        var text = "\(job.patientName ?? job.patientID): \(outcome.words)"
        if let w = woundCare { text += w ? ", wound care discussed" : ", wound care not discussed" }
        if job.state == .escalated && outcome != .reached { text += ". The call is now with the breast care nurse" }
        if concern { text += ". The concern is on the escalated list for the breast care nurse to follow up" }
        flashes.withLock { $0[viewer.flashKey] = Flash(title: "Outcome recorded", text: text + ".") }
        if let worklist { return Self.redirect("/calls" + Self.query([("list", worklist)])) }
        return Self.redirect(form.list == "nurse" ? "/calls/escalated" : "/calls")
    }

    /// The call page again, saying why the daemon refused (nothing was recorded).
    func refused(_ f: ControlFailure, call id: String, _ viewer: Viewer) async -> Response {
        let text = f.message.prefix(1).uppercased() + f.message.dropFirst()
        return await showCall(id, viewer, form: nil, errors: [], conflict: text.hasSuffix(".") ? text : text + ".", status: .conflict)
    }

    /// "I'll take this" on an escalated call: the list then shows who has it.
    func takeCall(_ request: Request, _ context: WebContext) async throws -> Response {
        let posted = try await callPost(CSRFForm.self, request, context)
        guard case .accepted(let viewer, let id, let _) = posted else { return posted.refusal }
        let job: JobView
        do {
            job = try await daemon(for: viewer).take(id).value()
        } catch .refused(let f) where f.code != .notFound && f.code != .permissionDenied {
            return await refused(f, call: id, viewer)
        } catch {
            return failure(error, viewer, doing: "taking a call")
        }
        self.lists.drop()
        flashes.withLock { $0[viewer.flashKey] = Flash(title: "Call taken", text: "You have taken \(job.patientName ?? job.patientID)’s call.") }
        return Self.redirect("/calls/escalated")
    }

    /// "Reopen this call": a call closed in error goes back to the list, its
    /// outcome kept in the history, withdrawn, with who and why.
    func reopenCall(_ request: Request, _ context: WebContext) async throws -> Response {
        let posted = try await callPost(ReopenForm.self, request, context)
        guard case .accepted(let viewer, let id, let form) = posted else { return posted.refusal }
        let reason = (form.reason ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty, reason.count <= OutcomeEntry.maximumNoteLength else {
            let message = reason.isEmpty ? "Say what was recorded in error" : "The reason must be 1,000 characters or fewer"
            return await showCall(id, viewer, form: nil, errors: [FieldError(field: "reason", message: message)], conflict: nil,
                                  status: .badRequest, reason: reason)
        }
        let job: JobView
        do {
            job = try await daemon(for: viewer).reopen(id, reason: reason).value()
        } catch .refused(let f) where f.code != .notFound && f.code != .permissionDenied {
            return await refused(f, call: id, viewer)
        } catch {
            return failure(error, viewer, doing: "reopening a call")
        }
        self.lists.drop()
        let name = job.patientName ?? job.patientID
        let escalated = job.state == .escalated
        flashes.withLock {
            $0[viewer.flashKey] = Flash(title: "Call reopened", text: "\(name)’s call is back on \(escalated ? "the escalated list" : "the list"): its outcome is withdrawn.")
        }
        if escalated { return Self.redirect("/calls/escalated") }
        return Self.redirect("/calls" + Self.query([("list", job.worklist)]))
    }

    /// The form's field for a field the outcome rules name.
    static func formField(_ f: OutcomeEntry.Field) -> String {
        switch f {
        case .woundCare: return "wound-yes"
        case .note: return "note"
        case .outcome: return "outcome"
        case .concern: return "concern"
        }
    }

    // MARK: Print

    /// `/print`: the A4 page of `touchpointctl calls --format html`.
    func printPage(_ request: Request, _ context: WebContext) async throws -> Response {
        guard let viewer = context.viewer else { return Self.redirect("/login") }
        let q = request.uri.queryParameters
        let day = q.get("date").flatMap { LocalDate(iso: $0) == nil ? nil : $0 }
        let ward = q.get("ward").flatMap { $0.isEmpty ? nil : $0 }
        if let ward, !viewer.sees(ward: ward) { return notYourWard(viewer) }
        let worklist = q.get("list").flatMap { $0.isEmpty ? nil : $0 }
        let lists: [RenderedList]
        do {
            lists = try await callLists(day: day, ward: ward, escalated: false, list: worklist, viewer)
        } catch {
            return failure(error, viewer, doing: "print page")
        }
        guard var report = lists.first?.report else { return notFound(viewer) }
        report.calls = Views.merged(lists.map(\.report))
        report.ward = ward ?? (viewer.wards.isEmpty ? nil : viewer.wards.joined(separator: ", "))
        var response = Self.html(CallListFormat.html(report, clock: report.clock, warnings: viewer.warnings))
        response.headers[.contentSecurityPolicy] = Self.printPolicy
        return response
    }

    /// The print page has one `<style>` element: allowed by its hash, nothing else inline.
    static let printPolicy: String = {
        let hash = Data(SHA256.hash(data: Data(PrintPage.styleText.utf8))).base64EncodedString()
        return "default-src 'none'; style-src 'sha256-\(hash)'; img-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    }()
}
