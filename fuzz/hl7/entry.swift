// libFuzzer entry: `FuzzTargets.hl7`. Built by scripts/fuzz only (with
// -sanitize=fuzzer). SwiftPM names an executable's entry point
// `touchpoint_fuzz_hl7_main`; it hands over to libFuzzer's driver.
import TouchpointFuzzing

@_silgen_name("LLVMFuzzerRunDriver")
func fuzzerRunDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                     _ test: @convention(c) (UnsafePointer<UInt8>?, Int) -> Int32) -> Int32

@_cdecl("touchpoint_fuzz_hl7_main")
func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var (count, arguments) = (argc, argv)
    return fuzzerRunDriver(&count, &arguments) { data, size in
        FuzzTargets.hl7(UnsafeRawBufferPointer(start: data, count: size))
        return 0
    }
}
