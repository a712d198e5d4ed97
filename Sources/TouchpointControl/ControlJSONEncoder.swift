import Foundation
import TouchpointDomain

/// The control protocol's one JSON encoder: what Foundation's `JSONEncoder`
/// writes with sorted keys, unescaped slashes and RFC 3339 times (tests check
/// byte for byte, for every reply the daemon sends), in a fraction of its time.
///
/// Why our own: Foundation's encoder is slow on large replies (about 22 ms
/// for a 1000-call list on this project's machine; ours about 6). It walks
/// the types' own `Codable` conformances, so a field is named once, in its
/// type's `CodingKeys`. The call list alone is still written by hand
/// (`CallsReport.json()`, which says why).
///
/// How: each value is written as JSON the moment it is encoded, into one
/// scratch buffer; objects and arrays keep where their values' bytes are,
/// and at the end each object is written with its keys sorted by their
/// UTF-8 bytes (as Foundation sorts them), one sort per shape of object.
public struct ControlJSONEncoder: Sendable {
    public init() {}

    public func encode<T: Encodable>(_ value: T) throws -> Data {
        Data(try encodeBytes(value))
    }

    public func encodeBytes<T: Encodable>(_ value: T) throws -> [UInt8] {
        let state = EncodingState()
        let root = try state.node(for: value, path: [])
        var w = JSONBytes()
        w.out.reserveCapacity(state.scratch.out.count + 64)
        state.write(root, to: &w)
        return w.out
    }
}

/// A value on its way out: a leaf already written (its bytes in the
/// scratch buffer), or an object or array, references so that containers
/// `Encoder` hands out can be filled after they are returned.
enum JSONTree {
    case leaf(Range<Int>)
    case object(JSONObject)
    case array(JSONArray)
}

/// Reference types because `Encoder` hands out containers that write into
/// their parent after being returned. Each belongs to one `encode` call on
/// one thread and is never shared.
final class JSONObject {
    var entries: [(key: String, value: JSONTree)]
    init() {
        entries = []
        entries.reserveCapacity(32)
    }
}

final class JSONArray {
    var items: [JSONTree] = []
}

/// One `encode` call's scratch buffer and the key orders it has worked out.
final class EncodingState {
    var scratch = JSONBytes()
    /// Objects of the same shape (a thousand calls) share one order,
    /// found by their entry count and checked key by key.
    private var orders: [Int: [(keys: [String], order: [(index: Int, key: [UInt8])])]] = [:]

    init() {
        scratch.out.reserveCapacity(1 << 16)
        scratch.raw("nulltruefalse")
    }

    private func leaf(_ write: (inout JSONBytes) -> Void) -> JSONTree {
        let start = scratch.out.count
        write(&scratch)
        return .leaf(start..<scratch.out.count)
    }

    /// The three literals, written once at the start of the scratch buffer.
    var null: JSONTree { .leaf(0..<4) }
    func bool(_ b: Bool) -> JSONTree { b ? .leaf(4..<8) : .leaf(8..<13) }
    func string(_ s: String) -> JSONTree { leaf { $0.string(s) } }
    func date(_ d: Date) -> JSONTree { leaf { $0.date(d) } }
    func number(_ n: String) -> JSONTree { leaf { $0.out.append(contentsOf: n.utf8) } }

    /// Doubles as Foundation writes them: the shortest form that reads back, no `.0`.
    func number(_ v: Double, path: @autoclosure () -> [any CodingKey]) throws -> JSONTree {
        guard v.isFinite else {
            throw EncodingError.invalidValue(v, .init(codingPath: path(), debugDescription: "\(v) is not a JSON number"))
        }
        var s = v.description
        if s.hasSuffix(".0") { s.removeLast(2) }
        return number(s)
    }

    /// `path` and `key` are kept apart so that the common case (nobody asks
    /// for the coding path) builds no array.
    func node<T: Encodable>(for value: T, path: [any CodingKey], key: (any CodingKey)? = nil) throws -> JSONTree {
        // The types most fields hold, without a dynamic cast or an encoder each.
        if T.self == String.self { return string(unsafeBitCast(value, to: String.self)) }
        if T.self == Date.self { return date(unsafeBitCast(value, to: Date.self)) }
        if T.self == String?.self { return unsafeBitCast(value, to: String?.self).map(string) ?? null }
        if T.self == Date?.self { return unsafeBitCast(value, to: Date?.self).map(date) ?? null }
        if let d = value as? Date { return date(d) }
        let encoder = TreeEncoder(state: self, path: path, key: key)
        try value.encode(to: encoder)
        // A value that encoded nothing is an empty object, as Foundation writes it.
        return encoder.root ?? .object(JSONObject())
    }

    func write(_ node: JSONTree, to w: inout JSONBytes) {
        switch node {
        case .leaf(let r):
            scratch.out.withUnsafeBufferPointer { w.out.append(contentsOf: UnsafeBufferPointer(rebasing: $0[r])) }
        case .object(let o):
            w.raw("{")
            for (i, key) in order(of: o.entries) {
                w.out.append(contentsOf: key)
                write(o.entries[i].value, to: &w)
            }
            w.raw("}")
        case .array(let a):
            w.array(a.items) { w, item in write(item, to: &w) }
        }
    }

    /// The entries to write, in order, each with its key as written (`"key":`,
    /// after a comma but for the first); a key given twice is written once,
    /// with its last value, as Foundation keeps it.
    private func order(of entries: [(key: String, value: JSONTree)]) -> [(index: Int, key: [UInt8])] {
        if let shapes = orders[entries.count] {
            for shape in shapes where shape.keys.indices.allSatisfy({ shape.keys[$0] == entries[$0].key }) {
                return shape.order
            }
        }
        let sorted = entries.indices.sorted {
            entries[$0].key == entries[$1].key ? $0 < $1 : entries[$0].key.utf8.lexicographicallyPrecedes(entries[$1].key.utf8)
        }
        let kept = sorted.indices.filter { $0 + 1 == sorted.count || entries[sorted[$0 + 1]].key != entries[sorted[$0]].key }
        let order = kept.enumerated().map { n, position in
            var w = JSONBytes()
            if n > 0 { w.raw(",") }
            w.string(entries[sorted[position]].key)
            w.raw(":")
            return (index: sorted[position], key: w.out)
        }
        orders[entries.count, default: []].append((entries.map(\.key), order))
        return order
    }
}

final class TreeEncoder: Encoder {
    let state: EncodingState
    let path: [any CodingKey]
    let key: (any CodingKey)?
    var codingPath: [any CodingKey] { key.map { path + [$0] } ?? path }
    var userInfo: [CodingUserInfoKey: Any] { [:] }
    /// What was encoded; handed to `land` (a super encoder's slot in its parent) as it is set.
    var root: JSONTree? { didSet { if let root { land?(root) } } }
    private let land: ((JSONTree) -> Void)?

    init(state: EncodingState, path: [any CodingKey], key: (any CodingKey)? = nil, land: ((JSONTree) -> Void)? = nil) {
        self.state = state
        self.path = path
        self.key = key
        self.land = land
    }

    func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
        if case .object(let o)? = root { return KeyedEncodingContainer(KeyedTree(state: state, object: o, codingPath: codingPath)) }
        let o = JSONObject()
        root = .object(o)
        return KeyedEncodingContainer(KeyedTree(state: state, object: o, codingPath: codingPath))
    }

    func unkeyedContainer() -> any UnkeyedEncodingContainer {
        if case .array(let a)? = root { return UnkeyedTree(state: state, array: a, codingPath: codingPath) }
        let a = JSONArray()
        root = .array(a)
        return UnkeyedTree(state: state, array: a, codingPath: codingPath)
    }

    func singleValueContainer() -> any SingleValueEncodingContainer { SingleTree(encoder: self) }
}

struct KeyedTree<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let state: EncodingState
    let object: JSONObject
    let codingPath: [any CodingKey]

    private func put(_ v: JSONTree, _ key: Key) { object.entries.append((key.stringValue, v)) }

    mutating func encodeNil(forKey key: Key) throws { put(state.null, key) }
    mutating func encode(_ value: Bool, forKey key: Key) throws { put(state.bool(value), key) }
    mutating func encode(_ value: String, forKey key: Key) throws { put(state.string(value), key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { put(try state.number(value, path: codingPath + [key]), key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { put(try state.number(Double(value), path: codingPath + [key]), key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { put(state.number(String(value)), key) }
    mutating func encode(_ value: Int8, forKey key: Key) throws { put(state.number(String(value)), key) }
    mutating func encode(_ value: Int16, forKey key: Key) throws { put(state.number(String(value)), key) }
    mutating func encode(_ value: Int32, forKey key: Key) throws { put(state.number(String(value)), key) }
    mutating func encode(_ value: Int64, forKey key: Key) throws { put(state.number(String(value)), key) }
    mutating func encode(_ value: UInt, forKey key: Key) throws { put(state.number(String(value)), key) }
    mutating func encode(_ value: UInt8, forKey key: Key) throws { put(state.number(String(value)), key) }
    mutating func encode(_ value: UInt16, forKey key: Key) throws { put(state.number(String(value)), key) }
    mutating func encode(_ value: UInt32, forKey key: Key) throws { put(state.number(String(value)), key) }
    mutating func encode(_ value: UInt64, forKey key: Key) throws { put(state.number(String(value)), key) }
    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws {
        put(try state.node(for: value, path: codingPath, key: key), key)
    }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key) -> KeyedEncodingContainer<NestedKey> {
        let o = JSONObject()
        put(.object(o), key)
        return KeyedEncodingContainer(KeyedTree<NestedKey>(state: state, object: o, codingPath: codingPath + [key]))
    }

    mutating func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
        let a = JSONArray()
        put(.array(a), key)
        return UnkeyedTree(state: state, array: a, codingPath: codingPath + [key])
    }

    mutating func superEncoder() -> any Encoder { slot("super", path: codingPath) }
    mutating func superEncoder(forKey key: Key) -> any Encoder { slot(key.stringValue, path: codingPath + [key]) }

    /// A super encoder: an entry kept for it, filled with whatever it is given.
    private func slot(_ key: String, path: [any CodingKey]) -> any Encoder {
        let o = object
        let index = o.entries.count
        o.entries.append((key, .object(JSONObject())))
        return TreeEncoder(state: state, path: path) { o.entries[index].value = $0 }
    }
}

struct UnkeyedTree: UnkeyedEncodingContainer {
    let state: EncodingState
    let array: JSONArray
    let codingPath: [any CodingKey]
    var count: Int { array.items.count }

    private func put(_ v: JSONTree) { array.items.append(v) }
    private var here: [any CodingKey] { codingPath + [IndexKey(array.items.count)] }

    mutating func encodeNil() throws { put(state.null) }
    mutating func encode(_ value: Bool) throws { put(state.bool(value)) }
    mutating func encode(_ value: String) throws { put(state.string(value)) }
    mutating func encode(_ value: Double) throws { put(try state.number(value, path: here)) }
    mutating func encode(_ value: Float) throws { put(try state.number(Double(value), path: here)) }
    mutating func encode(_ value: Int) throws { put(state.number(String(value))) }
    mutating func encode(_ value: Int8) throws { put(state.number(String(value))) }
    mutating func encode(_ value: Int16) throws { put(state.number(String(value))) }
    mutating func encode(_ value: Int32) throws { put(state.number(String(value))) }
    mutating func encode(_ value: Int64) throws { put(state.number(String(value))) }
    mutating func encode(_ value: UInt) throws { put(state.number(String(value))) }
    mutating func encode(_ value: UInt8) throws { put(state.number(String(value))) }
    mutating func encode(_ value: UInt16) throws { put(state.number(String(value))) }
    mutating func encode(_ value: UInt32) throws { put(state.number(String(value))) }
    mutating func encode(_ value: UInt64) throws { put(state.number(String(value))) }
    mutating func encode<T: Encodable>(_ value: T) throws { put(try state.node(for: value, path: codingPath, key: IndexKey(count))) }

    mutating func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type) -> KeyedEncodingContainer<NestedKey> {
        let o = JSONObject()
        let path = here
        put(.object(o))
        return KeyedEncodingContainer(KeyedTree<NestedKey>(state: state, object: o, codingPath: path))
    }

    mutating func nestedUnkeyedContainer() -> any UnkeyedEncodingContainer {
        let a = JSONArray()
        let path = here
        put(.array(a))
        return UnkeyedTree(state: state, array: a, codingPath: path)
    }

    mutating func superEncoder() -> any Encoder {
        let a = array
        let index = a.items.count
        let path = here
        a.items.append(.object(JSONObject()))
        return TreeEncoder(state: state, path: path) { a.items[index] = $0 }
    }
}

struct SingleTree: SingleValueEncodingContainer {
    let encoder: TreeEncoder
    var state: EncodingState { encoder.state }
    var codingPath: [any CodingKey] { encoder.codingPath }

    private func put(_ v: JSONTree) { encoder.root = v }

    mutating func encodeNil() throws { put(state.null) }
    mutating func encode(_ value: Bool) throws { put(state.bool(value)) }
    mutating func encode(_ value: String) throws { put(state.string(value)) }
    mutating func encode(_ value: Double) throws { put(try state.number(value, path: codingPath)) }
    mutating func encode(_ value: Float) throws { put(try state.number(Double(value), path: codingPath)) }
    mutating func encode(_ value: Int) throws { put(state.number(String(value))) }
    mutating func encode(_ value: Int8) throws { put(state.number(String(value))) }
    mutating func encode(_ value: Int16) throws { put(state.number(String(value))) }
    mutating func encode(_ value: Int32) throws { put(state.number(String(value))) }
    mutating func encode(_ value: Int64) throws { put(state.number(String(value))) }
    mutating func encode(_ value: UInt) throws { put(state.number(String(value))) }
    mutating func encode(_ value: UInt8) throws { put(state.number(String(value))) }
    mutating func encode(_ value: UInt16) throws { put(state.number(String(value))) }
    mutating func encode(_ value: UInt32) throws { put(state.number(String(value))) }
    mutating func encode(_ value: UInt64) throws { put(state.number(String(value))) }
    mutating func encode<T: Encodable>(_ value: T) throws { put(try state.node(for: value, path: encoder.path, key: encoder.key)) }
}

struct IndexKey: CodingKey {
    let intValue: Int?
    var stringValue: String { "Index \(intValue ?? 0)" }
    init(_ i: Int) { intValue = i }
    init?(stringValue: String) { nil }
    init?(intValue: Int) { self.intValue = intValue }
}
