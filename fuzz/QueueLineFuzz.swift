// libFuzzer target: the queue-line parser (JSON, validation, times, NHS and
// phone checks), on arbitrary bytes. Built by scripts/fuzz.
import Foundation

let fuzzParser = QueueLineParser(clock: HospitalClock(identifier: "Europe/London")!)

@_cdecl("LLVMFuzzerTestOneInput")
public func queueLineFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let result = fuzzParser.parse(UnsafeBufferPointer(start: data, count: size))
    if case .success(let envelope) = result {
        // A line that parses has an id of 1-128 characters and a known type.
        precondition(!envelope.id.isEmpty && envelope.id.unicodeScalars.count <= 128)
        precondition(QueueEvent.typeNames.contains(envelope.event.typeName))
    }
    return 0
}
