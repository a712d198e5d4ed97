// libFuzzer target: the control socket's frame decoder and request parser, on
// arbitrary bytes. Built by scripts/fuzz; not part of the package build.
@_cdecl("LLVMFuzzerTestOneInput")
public func controlFuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    var buffer = Array(UnsafeBufferPointer(start: data, count: size))
    let decoder = FrameDecoder()
    while true {
        guard let frame = try? decoder.next(from: &buffer) else { break }
        _ = ControlRequest.decode(frame)
    }
    // Also as one frame's payload, whatever its length prefix said.
    _ = ControlRequest.decode(Array(UnsafeBufferPointer(start: data, count: size)))
    return 0
}
