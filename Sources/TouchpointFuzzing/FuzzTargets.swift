import Foundation
import NIOCore
import TouchpointControl
import TouchpointDomain
import TouchpointHL7

/// What the fuzzers feed arbitrary bytes to: the code the daemon runs on
/// what arrives from outside, the control socket's frames and requests and
/// the queue file's lines, and the HL7 receiver's MLLP frames and messages. Built into the package (the corpus is replayed by
/// the tests) and, by `scripts/fuzz`, into libFuzzer targets.
public enum FuzzTargets {
    /// The control socket's decoder, as the daemon's pipeline runs it, and
    /// the request parser on every frame it yields.
    public static func control(_ bytes: UnsafeRawBufferPointer) {
        let processor = NIOSingleStepByteToMessageProcessor(ControlFrameDecoder(), maximumBufferSize: 4 + ControlProtocol.maximumFrameLength)
        // In two pieces, as a socket may deliver them.
        let cut = bytes.count / 2
        for piece in [UnsafeRawBufferPointer(rebasing: bytes[..<cut]), UnsafeRawBufferPointer(rebasing: bytes[cut...])] {
            try? processor.process(buffer: ByteBuffer(bytes: piece)) { frame in
                if case .payload(let payload) = frame {
                    precondition(payload.readableBytes <= ControlProtocol.maximumFrameLength)
                    decodeRequest(Array(payload.readableBytesView))
                }
            }
        }
        // Also as one frame's payload, whatever its length prefix said.
        decodeRequest(Array(bytes))
    }

    /// What the daemon does with a frame's payload: the request, then the
    /// command it names (`ControlCommand`, the one list of commands).
    static func decodeRequest(_ payload: [UInt8]) {
        if case .success(let request) = ControlRequest.decode(payload), let command = try? ControlCommand(decoding: request) {
            // Encoding it again gives a request for the same command (times
            // may lose precision a client never sends, so only the name is compared).
            precondition((try? ControlCommand(decoding: command.request()))?.name == command.name)
        }
    }

    static let parser = QueueLineParser(clock: HospitalClock(identifier: "Europe/London")!)

    /// The queue-line parser (JSON, validation, times, NHS and phone checks).
    public static func queueLine(_ bytes: UnsafeRawBufferPointer) {
        let result = parser.parse(bytes.bindMemory(to: UInt8.self))
        if case .success(let envelope) = result {
            // A line that parses has an id of 1-128 characters and a known type.
            precondition(!envelope.id.isEmpty && envelope.id.unicodeScalars.count <= 128)
            precondition(QueueEvent.typeNames.contains(envelope.event.typeName))
        }
    }

    static let london = HospitalClock(identifier: "Europe/London")!

    /// The HL7 receiver's reading of a connection: MLLP frames however the
    /// reads split them, each frame parsed, every field of every segment
    /// read, and the acknowledgement built (which must parse and repeat
    /// MSH-10). The bytes are also taken as one message, unframed.
    public static func hl7(_ bytes: UnsafeRawBufferPointer) {
        var decoder = MLLPFrameDecoder(maximumLength: 65_536)
        let cut = bytes.count / 3
        var frames: [[UInt8]] = []
        for piece in [bytes[..<cut], bytes[cut...]] {
            for case .frame(let f) in decoder.feed(piece) { frames.append(f) }
        }
        frames.append(Array(bytes))
        for frame in frames {
            precondition(frame.count <= max(65_536, bytes.count))
            acknowledge(frame)
        }
    }

    static func acknowledge(_ frame: [UInt8]) {
        let message = try? HL7Message(bytes: frame)
        if let m = message {
            for seg in m.segments {
                for f in 0...min(seg.fieldCount, 64) { _ = seg.repetitions(f, in: m.bytes).map(m.decode) }
            }
            _ = m.messageType
            if let t = m.value(at: .msh(7)).text { _ = try? HL7Time(parsing: t).instant(clock: london) }
        }
        let ack = HL7Acknowledgement().build(for: message, code: message == nil ? .reject : .accept,
                                               errors: [HL7Error(.dataType, at: .msh(7), "fuzz")], controlID: "F1",
                                               at: Date(timeIntervalSince1970: 1_796_290_200), clock: london)
        guard let m = message else { return }
        let reply = try? HL7Message(bytes: ack)
        precondition(reply?.segment("MSA")?.rawField(2, in: ack).map(Array.init) == Array(m.controlID))
    }
}
