/// FNV-1a, 64 bits: a hash that is the same on every run and machine (Swift's
/// `Hasher` is seeded per process). touchpoint keeps these hashes: an event's
/// content (duplicate or conflict), the queue file's first line (rewritten in
/// place?), a message's id.
public struct FNV1a: Sendable {
    public private(set) var value: UInt64 = 0xcbf2_9ce4_8422_2325

    public init() {}

    @inline(__always)
    public mutating func add(_ byte: UInt8) {
        value = (value ^ UInt64(byte)) &* 0x0000_0100_0000_01B3
    }

    public mutating func add(bytes: some Sequence<UInt8>) {
        for b in bytes { add(b) }
    }

    /// Adds a string and a terminator, so "ab","c" differs from "a","bc".
    public mutating func add(_ s: String) {
        add(bytes: s.utf8)
        add(0)
    }

    public static func hash(_ bytes: some Sequence<UInt8>) -> UInt64 {
        var h = FNV1a()
        h.add(bytes: bytes)
        return h.value
    }
}
