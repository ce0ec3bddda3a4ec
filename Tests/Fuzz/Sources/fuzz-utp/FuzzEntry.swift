import CFuzzerDriver
import SwarmFuzzChecks

/// The executable's entry point (SwiftPM aliases main to it): runs libFuzzer over the uTP packet parser and connection.
@_cdecl("fuzz_utp_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        FuzzTarget.utp.fuzzOne(data, size)
        return 0
    }
}
