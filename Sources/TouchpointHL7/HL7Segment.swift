/// One segment of a message: where its bytes are and where each field
/// starts. Values are cut out of the message's bytes when asked for.
public struct HL7Segment: Sendable {
    /// The segment's bytes in the message, without its terminator.
    public let range: Range<Int>
    /// Each field's bytes, by HL7 number: index 0 is the segment's name.
    /// For MSH, index 1 is MSH-1 (the field separator itself) and index 2
    /// MSH-2 (the encoding characters), as HL7 numbers them.
    let fields: [Range<Int>]
    let encoding: HL7Encoding
    /// MSH, whose first two fields are the delimiters themselves (never split).
    let isMSH: Bool

    init(bytes: [UInt8], range: Range<Int>, encoding: HL7Encoding) {
        self.range = range
        self.encoding = encoding
        var fields: [Range<Int>] = []
        var start = range.lowerBound
        for i in range where bytes[i] == encoding.field {
            fields.append(start..<i)
            start = i + 1
        }
        fields.append(start..<range.upperBound)
        isMSH = fields.first.map { bytes[$0].elementsEqual("MSH".utf8) } == true
        // A segment that is "MSH" and nothing more (the fuzzer sent one as a
        // second segment) has no MSH-1: a range past its end crashed the
        // receiver on the first field looked up.
        if isMSH && range.count > 3 {
            // MSH-1 is the separator after "MSH": a field of its own in HL7's numbering.
            let separator = range.lowerBound + 3
            fields.insert(separator..<(separator + 1), at: 1)
        }
        self.fields = fields
    }

    func isNamed(_ name: [UInt8], in bytes: [UInt8]) -> Bool {
        guard let f = fields.first, f.count == name.count else { return false }
        return bytes[f].elementsEqual(name)
    }

    public func name(in bytes: [UInt8]) -> String { String(decoding: bytes[fields[0]], as: UTF8.self) }

    /// How many fields the segment has (its highest field number).
    public var fieldCount: Int { fields.count - 1 }

    /// Field `n` as sent (every repetition), or nil past the segment's end.
    public func rawField(_ n: Int, in bytes: [UInt8]) -> ArraySlice<UInt8>? {
        guard n >= 1, n < fields.count else { return nil }
        return bytes[fields[n]]
    }

    /// The repetitions of field `n`, each as sent.
    public func repetitions(_ n: Int, in bytes: [UInt8]) -> [ArraySlice<UInt8>] {
        guard let field = rawField(n, in: bytes) else { return [] }
        // MSH-1 and MSH-2 are not split: they are the delimiters.
        if n <= 2, isMSH { return [field] }
        guard let r = encoding.repetition else { return [field] }
        return split(field, on: r)
    }

    /// The bytes a path names within this segment, as sent. A path without
    /// a component means the first (and its first subcomponent), as HAPI's
    /// Terser reads it: `PID-5` is the family name, `MSH-9` the message code.
    func raw(_ path: HL7FieldPath, in bytes: [UInt8]) -> ArraySlice<UInt8>? {
        let reps = repetitions(path.field, in: bytes)
        guard path.repetition <= reps.count else { return nil }
        var value = reps[path.repetition - 1]
        // MSH-1 and MSH-2 are the delimiters themselves, never split.
        if path.field <= 2, isMSH { return value }
        let parts = split(value, on: encoding.component)
        let c = path.component ?? 1
        guard c <= parts.count else { return nil }
        value = parts[c - 1]
        guard let sep = encoding.subcomponent else { return (path.subcomponent ?? 1) == 1 ? value : nil }
        let subs = split(value, on: sep)
        let s = path.subcomponent ?? 1
        guard s <= subs.count else { return nil }
        return subs[s - 1]
    }

    /// The value a path names, decoded. `""` is an explicit null; a
    /// component asked for of a field sent as `""` is null too.
    public func value(_ path: HL7FieldPath, in message: HL7Message) -> HL7Value {
        if let whole = raw(path.wholeRepetition, in: message.bytes), Self.isNull(whole) { return .null }
        guard let raw = raw(path, in: message.bytes), !raw.isEmpty else { return .absent }
        if Self.isNull(raw) { return .null }
        return .text(message.decode(raw))
    }

    public static func isNull(_ raw: ArraySlice<UInt8>) -> Bool {
        raw.count == 2 && raw.first == 0x22 && raw.last == 0x22
    }

    public func split(_ s: ArraySlice<UInt8>, on c: UInt8) -> [ArraySlice<UInt8>] {
        var out: [ArraySlice<UInt8>] = []
        var start = s.startIndex
        for i in s.indices where s[i] == c {
            out.append(s[start..<i])
            start = i + 1
        }
        out.append(s[start..<s.endIndex])
        return out
    }
}
