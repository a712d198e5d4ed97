/// MLLP's framing: `<VT>` message `<FS><CR>`. One decoder, used by the
/// receiver, its tests and the fuzzer; it holds no I/O, so each can feed it
/// bytes as they come.
///
/// What real clients do (`../shared/hl7/CLIENTS.md`): the last segment may
/// have no terminator; a `<CR>` (or `<LF>`) after `<FS>` belongs to the
/// frame, not to the next message; bytes between frames (a stray `<CR>`, a
/// newline) are skipped, and so is a stray `<VT>` inside a frame. Anything else before `<VT>` is garbage: it is
/// reported once, up to the next `<VT>`, so a receiver can answer it (AR)
/// and the frames after it still arrive.
public struct MLLPFrameDecoder: Sendable {
    public static let start: UInt8 = 0x0B
    public static let end: UInt8 = 0x1C
    public static let carriageReturn: UInt8 = 0x0D

    public enum Item: Equatable, Sendable {
        /// A whole message's bytes (between VT and FS).
        case frame([UInt8])
        /// A frame longer than the limit: its bytes were dropped. The
        /// receiver answers AR and closes (the rest of the stream cannot be trusted).
        case tooLarge(Int)
        /// Bytes outside any frame (not VT, CR or LF).
        case garbage(Int)
    }

    public let maximumLength: Int
    private var inFrame = false
    private var frame: [UInt8] = []
    private var overLimit = 0
    private var garbage = 0

    public init(maximumLength: Int) {
        self.maximumLength = maximumLength
    }

    /// Whether a frame (or garbage) is part-way through: at a connection's
    /// end, that is a message cut short.
    public var isPartWay: Bool { inFrame || garbage > 0 }

    /// Feeds `bytes`; returns what they complete, in order.
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [Item] {
        var out: [Item] = []
        for b in bytes {
            if inFrame {
                if b == Self.end {
                    inFrame = false
                    if overLimit > 0 {
                        out.append(.tooLarge(overLimit))
                    } else {
                        out.append(.frame(frame))
                    }
                    frame = []
                    overLimit = 0
                } else if overLimit > 0 {
                    overLimit += 1
                } else if frame.count >= maximumLength {
                    overLimit = frame.count + 1
                    frame = []
                } else if b == Self.start {
                    // A stray VT inside a frame (corpus/54 ends with one) is
                    // not text: dropped, and the frame goes on.
                } else {
                    frame.append(b)
                }
                continue
            }
            if b == Self.start {
                if garbage > 0 {
                    out.append(.garbage(garbage))
                    garbage = 0
                }
                inFrame = true
                continue
            }
            if (b == Self.carriageReturn || b == 0x0A) && garbage == 0 { continue }
            garbage += 1
        }
        return out
    }

    /// A message framed for the wire.
    public static func framed(_ message: [UInt8]) -> [UInt8] {
        var out: [UInt8] = [start]
        out.reserveCapacity(message.count + 3)
        out += message
        out += [end, carriageReturn]
        return out
    }
}
