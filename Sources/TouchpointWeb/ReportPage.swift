import Foundation
import Hummingbird
import TouchpointControl
import TouchpointDomain

extension WebApp {
    /// `/report?from=&to=&ward=`: the pledge report for the period, for the
    /// viewer's ward if they have one. With no period, what a manager opening
    /// it expects: this month to date once it has 7 days, else the last
    /// complete month (a month's first days are nearly all zeros), and the
    /// page says which.
    func reportPage(_ request: Request, _ context: WebContext) async throws -> Response {
        guard let viewer = context.viewer else { return Self.redirect("/login") }
        let q = request.uri.queryParameters
        let from = q.get("from").flatMap { $0.isEmpty ? nil : $0 }
        let to = q.get("to").flatMap { $0.isEmpty ? nil : $0 }
        var ward = q.get("ward").flatMap { $0.isEmpty ? nil : $0 }
        if let w = ward, !viewer.sees(ward: w) { return notYourWard(viewer) }
        // An account limited to wards sees its wards' numbers only, one at a time.
        if ward == nil, let first = viewer.wards.first { ward = first }
        var errors: [FieldError] = []
        if (from == nil) != (to == nil) || [from, to].compactMap({ $0 }).contains(where: { LocalDate(iso: $0) == nil }) {
            errors.append(FieldError(field: "from", message: "Enter a real start and end date, for example 1 11 2026 and 30 11 2026"))
        }
        let query = ReportQuery(from: errors.isEmpty ? from : nil, to: errors.isEmpty ? to : nil, ward: ward, recent: true)
        let report: PledgeReportView
        do {
            report = try await daemon(for: viewer).report(query).value()
        } catch .refused(let f) where f.code == .badRequest {
            errors.append(FieldError(field: "from", message: f.message.prefix(1).uppercased() + f.message.dropFirst()))
            report = try await daemon(for: viewer).report(ReportQuery(ward: ward, recent: true)).value()
        } catch {
            return failure(error, viewer, doing: "report")
        }
        var v = chrome(viewer, title: "Pledge report", errors: errors)
        v["navReport"] = true
        v["heading"] = "Pledge report: \(report.from == report.to ? report.from : "\(report.from) to \(report.to)")\(report.ward.map { ", \($0)" } ?? "")"
        v["from"] = report.from
        v["to"] = report.to
        v["fromError"] = errors.first?.message
        if query.from == nil { v["periodNote"] = Self.periodNote(report) }
        v["body"] = ReportFormat.body(report)
        let places = Set(report.promises.flatMap { $0.byWard.keys }).union([ward].compactMap { $0 })
        let choices = viewer.wards.isEmpty ? places.sorted() : viewer.wards
        v["hasWardChoice"] = choices.count > 1 || (viewer.wards.isEmpty && !choices.isEmpty)
        v["allWards"] = viewer.wards.isEmpty
        v["wards"] = choices.map { ["name": $0, "selected": $0 == ward] }
        return Self.html(Templates.render("report", v))
    }

    /// `/report/leaflet?from=&to=`: "you said, we did", the pledge's leaflet
    /// with what the records show (`Leaflet`), one A4 page to print. It is
    /// the whole team's, so an account limited to wards is told so rather
    /// than shown one ward's numbers under the team's name.
    func leafletPage(_ request: Request, _ context: WebContext) async throws -> Response {
        guard let viewer = context.viewer else { return Self.redirect("/login") }
        guard viewer.wards.isEmpty else {
            return message(viewer, status: .forbidden, title: "The leaflet is the whole team’s", [
                "It counts every ward and clinic, and your account shows \(viewer.wards.joined(separator: ", ")) only. Ask your touchpoint administrator or the breast care team lead to print it.",
            ], link: ("/report", "Go to the pledge report"))
        }
        let q = request.uri.queryParameters
        let from = q.get("from").flatMap { $0.isEmpty ? nil : $0 }
        let to = q.get("to").flatMap { $0.isEmpty ? nil : $0 }
        do {
            let report = try await daemon(for: viewer).report(ReportQuery(from: from, to: to, recent: true)).value()
            return Self.html(Leaflet.html(report))
        } catch {
            return failure(error, viewer, doing: "leaflet")
        }
    }

    /// Which default period the page shows, in words: one that ended before
    /// the report's day (the hospital's) is last month, since this month has
    /// had fewer than 7 days; else this month to date.
    static func periodNote(_ report: PledgeReportView) -> String? {
        guard let from = LocalDate(iso: report.from), let to = LocalDate(iso: report.to) else { return nil }
        let today = HospitalClock.named(report.timeZone).localDate(of: report.generatedAt)
        let month = "\(from.monthName) \(from.year)"
        if to < today {
            return "Showing last month, \(month): this month has had fewer than 7 days so far. Choose dates to see another period."
        }
        return "Showing this month to date, \(month). Choose dates to see another period."
    }
}
