import Foundation
import TouchpointDomain
import TouchpointHL7

/// A detail an HL7 message says something about: HL7 tells apart a field
/// left empty (keep what touchpoint has) from `""` (clear it).
public enum Change<Value: Sendable & Equatable>: Sendable, Equatable {
    case keep
    case clear
    case set(Value)
}

/// What a message's PID says of the patient, read as `hl7.md` says: the id
/// by the feed's rule, the NHS number from any repetition of PID-3 (and
/// PID-2), the legal name, a mobile, an email, and a death.
public struct PatientReading: Sendable, Equatable {
    public var id: String
    public var nhsNumber: Change<String>
    public var name: Change<String>
    public var phone: Change<String>
    public var email: Change<String>
    /// PID-7, `YYYY-MM-DD` (the nurse confirms it on the phone); a date given
    /// to the year or month only is kept as nothing.
    public var birthDate: Change<String> = .keep
    /// True when PID-30 is Y, or PID-29 is set and PID-30 does not say N.
    public var deceased: Bool
}

/// A content error: what a message lacks or holds wrongly, named by field.
/// Never carries a value (it reaches the log and the ACK).
public struct ContentError: Error, Sendable, Equatable {
    public var path: HL7FieldPath?
    public var code: HL7Error.Code
    public var explanation: String

    init(_ code: HL7Error.Code, at path: HL7FieldPath?, _ explanation: String) {
        self.code = code
        self.path = path
        self.explanation = explanation
    }

    public var hl7Error: HL7Error {
        HL7Error(code, at: path, path.map { "\($0): \(explanation)" } ?? explanation)
    }
}

extension PatientReading {
    static let pid3 = HL7FieldPath(segment: "PID", field: 3)

    /// Reads the PID segment of `m` (`pid`: which one, for a merge's pairs).
    static func read(_ m: HL7Message, pid: HL7Segment, feed: Feed) throws(ContentError) -> PatientReading {
        let b = m.bytes
        func cx(_ raw: ArraySlice<UInt8>, _ c: Int) -> String? {
            let parts = pid.split(raw, on: m.encoding.component)
            guard c <= parts.count else { return nil }
            let first = m.encoding.subcomponent.map { pid.split(parts[c - 1], on: $0)[0] } ?? parts[c - 1]
            let s = m.decode(first)
            return s.isEmpty ? nil : s
        }
        let ids = pid.repetitions(3, in: b)
        var id: String?
        switch feed.patientID {
        case .first:
            id = ids.first.flatMap { cx($0, 1) }
        case .matching(let type):
            id = ids.first { type.matches(authority: cx($0, 4), type: cx($0, 5)) }.flatMap { cx($0, 1) }
        }
        guard let id, !id.isEmpty else {
            throw ContentError(.requiredFieldMissing, at: pid3, "no patient identifier of the kind this feed names (patient_id)")
        }
        guard id.unicodeScalars.count <= 128 else { throw ContentError(.dataType, at: pid3, "the patient identifier is longer than 128 characters") }
        // NHS number: every repetition of PID-3, then PID-2.
        var nhs: Change<String> = .keep
        for raw in ids + pid.repetitions(2, in: b) where feed.nhsNumber.contains(where: { $0.matches(authority: cx(raw, 4), type: cx(raw, 5)) }) {
            guard let number = cx(raw, 1) else { continue }
            guard let valid = NHSNumber.normalised(number) else {
                throw ContentError(.dataType, at: pid3, "an NHS number that fails the check (10 digits, modulus 11)")
            }
            nhs = .set(valid)
            break
        }
        var reading = PatientReading(id: id, nhsNumber: nhs, name: name(m, pid), phone: phone(m, pid), email: email(m, pid), deceased: deceased(m, pid))
        reading.birthDate = try birthDate(m, pid)
        return reading
    }

    static let pid7 = HL7FieldPath(segment: "PID", field: 7)

    /// PID-7 (DTM): its date, when it is given to the day.
    static func birthDate(_ m: HL7Message, _ pid: HL7Segment) throws(ContentError) -> Change<String> {
        guard let rep = pid.repetitions(7, in: m.bytes).first else { return .keep }
        if HL7Segment.isNull(rep) { return .clear }
        let text = m.decode(first(pid.split(rep, on: m.encoding.component).first ?? rep, m))
        let digits = Array(text.prefix(8))
        guard digits.count == 8, digits.allSatisfy(\.isASCII), digits.allSatisfy(\.isNumber) else { return .keep }
        let iso = "\(String(digits[0..<4]))-\(String(digits[4..<6]))-\(String(digits[6..<8]))"
        guard let d = LocalDate(iso: iso), d.year >= 1880 else {
            throw ContentError(.dataType, at: pid7, "a date of birth that is not a real date")
        }
        return .set(d.description)
    }

    /// PID-5: the repetition of type L (legal) if there is one, else the first; "given family".
    static func name(_ m: HL7Message, _ pid: HL7Segment) -> Change<String> {
        let reps = pid.repetitions(5, in: m.bytes)
        if reps.count == 1, HL7Segment.isNull(reps[0]) { return .clear }
        let parts = reps.map { pid.split($0, on: m.encoding.component).map { m.decode(first($0, m)) } }
        guard let chosen = parts.first(where: { $0.count > 6 && $0[6] == "L" }) ?? parts.first else { return .keep }
        let family = chosen.first ?? ""
        let given = chosen.count > 1 ? chosen[1] : ""
        let full = [given, family].filter { !$0.isEmpty }.joined(separator: " ")
        return full.isEmpty ? .keep : .set(full)
    }

    static func first(_ component: ArraySlice<UInt8>, _ m: HL7Message) -> ArraySlice<UInt8> {
        guard let sub = m.encoding.subcomponent, let i = component.firstIndex(of: sub) else { return component }
        return component[..<i]
    }

    /// The XTNs of PID-13 then PID-14, each as its components.
    static func numbers(_ m: HL7Message, _ pid: HL7Segment) -> (all: [[String]], cleared: Bool) {
        var all: [[String]] = []
        var cleared = false
        for field in [13, 14] {
            for rep in pid.repetitions(field, in: m.bytes) {
                if HL7Segment.isNull(rep) { cleared = true; continue }
                let comps = pid.split(rep, on: m.encoding.component).map { m.decode(first($0, m)) }
                if comps.contains(where: { !$0.isEmpty }) { all.append(comps) }
            }
        }
        return (all, cleared)
    }

    /// A mobile: the first XTN with equipment CP, else the first UK mobile in XTN-1 or XTN-12.
    static func phone(_ m: HL7Message, _ pid: HL7Segment) -> Change<String> {
        let (all, cleared) = numbers(m, pid)
        func component(_ x: [String], _ n: Int) -> String { x.count >= n ? x[n - 1] : "" }
        if let cp = all.first(where: { component($0, 3).uppercased() == "CP" }) {
            let number = component(cp, 1).isEmpty ? component(cp, 12) : component(cp, 1)
            if let e164 = PhoneNumber.e164(number) { return .set(e164) }
        }
        for x in all {
            for text in [component(x, 1), component(x, 12)] where isUKMobile(text) {
                if let e164 = PhoneNumber.e164(text) { return .set(e164) }
            }
        }
        return all.isEmpty && cleared ? .clear : .keep
    }

    static func isUKMobile(_ text: String) -> Bool {
        let digits = text.filter { $0.isNumber || $0 == "+" }
        return digits.hasPrefix("07") || digits.hasPrefix("+447")
    }

    /// An email: XTN-4, else an XTN-1 holding @, where XTN-2 is NET or XTN-3 Internet/X.400.
    static func email(_ m: HL7Message, _ pid: HL7Segment) -> Change<String> {
        let (all, cleared) = numbers(m, pid)
        func component(_ x: [String], _ n: Int) -> String { x.count >= n ? x[n - 1] : "" }
        for x in all where component(x, 2).uppercased() == "NET" || ["INTERNET", "X.400"].contains(component(x, 3).uppercased()) {
            for text in [component(x, 4), component(x, 1)] where text.contains("@") && !text.contains(" ") {
                return .set(text)
            }
        }
        return all.isEmpty && cleared ? .clear : .keep
    }

    static func deceased(_ m: HL7Message, _ pid: HL7Segment) -> Bool {
        let indicator = pid.value(HL7FieldPath(segment: "PID", field: 30), in: m).text?.uppercased()
        if indicator == "Y" { return true }
        if indicator == "N" { return false }
        return pid.value(HL7FieldPath(segment: "PID", field: 29), in: m).text != nil
    }
}
