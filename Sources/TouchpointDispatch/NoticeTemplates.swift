import Foundation
import Mustache
import TouchpointConfig
import TouchpointDomain

/// The notice templates, `<kind>.<channel>.mustache`, checked when the config
/// is loaded or reloaded: a missing template or a value the kind does not have
/// is a config error, never a surprise at send time.
public struct NoticeTemplates: Sendable {
    struct Compiled: Sendable {
        var subject: MustacheTemplate?
        var body: MustacheTemplate
    }

    let templates: [String: Compiled]

    /// The values each kind of notice has (`dispatch.md`).
    public static let values: [JobKind: Set<String>] = {
        let common: Set<String> = ["patient.name", "patient.first_name", "hospital.name", "hospital.phone", "date", "time", "revision"]
        return [
            .waitNotice: common.union(["ward", "procedure", "expected_time", "reason"]),
            .openAccessInfo: common.union(["clinic", "mode"]),
        ]
    }()

    public static let channels: [Channel] = [.sms, .email]

    /// The values a configured notice has (`contacts.md`): its event's.
    public static let contactValues: Set<String> = ["patient.name", "patient.first_name", "hospital.name", "hospital.phone",
                                                    "date", "time", "revision", "clinic", "mode", "service"]

    /// Loads and checks every template a notice of `config` may need (every
    /// notice kind, built in or configured in its contacts, both channels),
    /// from its `templates_dir`; and the variants for communication needs
    /// (`<kind>.<channel>.<need>.mustache`, `[needs.CODE] notices =
    /// "variant"`), each optional and checked like the rest when present.
    public static func load(for config: TouchpointConfig) throws(ConfigError) -> NoticeTemplates {
        let (directory, configFile) = (config.templatesDir, config.file)
        var issues: [ConfigIssue] = []
        var out: [String: Compiled] = [:]
        var values = Self.values
        let configured = config.contacts.filter { $0.worklist == nil }.map(\.kind)
        for kind in configured { values[kind] = contactValues }
        let variants = config.needs.needs.values.filter { $0.notices == .variant }.map(\.code).sorted()
        for kind in [JobKind.waitNotice, .openAccessInfo] + configured {
            for channel in channels {
                let key = "\(kind.rawValue).\(channel.rawValue)"
                let path = (directory as NSString).appendingPathComponent(key + ".mustache")
                guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                    issues.append(ConfigIssue(file: configFile, key: "templates_dir",
                                              message: "no template \(key).mustache in \(directory) (every kind needs one for sms and for email)"))
                    continue
                }
                if let c = compile(text, path: path, kind: kind, channel: channel, values: values[kind]!, issues: &issues) { out[key] = c }
                for need in variants {
                    let variantPath = (directory as NSString).appendingPathComponent("\(key).\(need).mustache")
                    guard let text = try? String(contentsOfFile: variantPath, encoding: .utf8) else { continue }
                    if let c = compile(text, path: variantPath, kind: kind, channel: channel, values: values[kind]!, issues: &issues) {
                        out["\(key).\(need)"] = c
                    }
                }
            }
        }
        if !issues.isEmpty { throw ConfigError(issues: issues) }
        return NoticeTemplates(templates: out)
    }

    /// One template checked and compiled: an email's first line is its
    /// subject; every value it uses must be one the kind has.
    static func compile(_ text: String, path: String, kind: JobKind, channel: Channel, values: Set<String>,
                        issues: inout [ConfigIssue]) -> Compiled? {
        func issue(_ m: String) { issues.append(ConfigIssue(file: path, key: nil, message: m)) }
        var bodyText = text
        var subjectText: String? = nil
        if channel == .email {
            let lines = text.split(separator: "\n", maxSplits: 1, omittingEmptySubsequences: false)
            guard let first = lines.first, first.hasPrefix("Subject:") else {
                issue("an email template's first line must be \"Subject: ...\"")
                return nil
            }
            subjectText = first.dropFirst("Subject:".count).trimmingCharacters(in: .whitespaces)
            bodyText = lines.count > 1 ? String(lines[1]).trimmingCharacters(in: .newlines) : ""
        }
        var ok = true
        for (lineNo, tag) in tags(in: text) where !values.contains(tag) {
            issue("line \(lineNo): {{\(tag)}} is not a value a \(kind.rawValue) has; it has \(values.sorted().joined(separator: ", "))")
            ok = false
        }
        do {
            let body = try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + bodyText)
            let subject = try subjectText.map { try MustacheTemplate(string: "{{% CONTENT_TYPE: TEXT}}" + $0) }
            return ok ? Compiled(subject: subject, body: body) : nil
        } catch {
            issue("not a valid Mustache template: \(error)")
            return nil
        }
    }

    /// The names a template uses, with their line numbers ({{name}}, {{{name}}},
    /// {{&name}}, sections); comments, pragmas and partials are not values.
    static func tags(in text: String) -> [(Int, String)] {
        var out: [(Int, String)] = []
        for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            var rest = Substring(line)
            while let open = rest.range(of: "{{") {
                rest = rest[open.upperBound...]
                guard let close = rest.range(of: "}}") else { break }
                var tag = rest[..<close.lowerBound].trimmingCharacters(in: .whitespaces)
                rest = rest[close.upperBound...]
                if rest.hasPrefix("}") { rest = rest.dropFirst() }
                if let f = tag.first, "!%>=".contains(f) { continue }
                if let f = tag.first, "{&#^/".contains(f) { tag = String(tag.dropFirst()).trimmingCharacters(in: .whitespaces) }
                if tag.hasSuffix("}") { tag = String(tag.dropLast()) }
                if !tag.isEmpty && tag != "." { out.append((i + 1, tag)) }
            }
        }
        return out
    }

    /// `variants`: the patient's needs that have one (`CommunicationNeeds.variants`),
    /// tried in order before the usual template.
    func render(kind: JobKind, channel: Channel, values: [String: Any], variants: [String] = []) -> (subject: String?, body: String)? {
        let key = "\(kind.rawValue).\(channel.rawValue)"
        guard let t = variants.lazy.compactMap({ self.templates["\(key).\($0)"] }).first ?? templates[key] else { return nil }
        return (t.subject?.render(values).trimmingCharacters(in: .whitespacesAndNewlines),
                t.body.render(values).trimmingCharacters(in: .whitespacesAndNewlines))
    }
}
