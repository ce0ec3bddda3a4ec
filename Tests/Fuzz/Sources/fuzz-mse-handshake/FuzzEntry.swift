import CFuzzerDriver
import SwarmFuzzChecks

/// The executable's entry point (SwiftPM aliases main to it): runs libFuzzer over the mse-handshake parser.
@_cdecl("fuzz_mse_handshake_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        FuzzTarget.mseHandshake.fuzzOne(data, size)
        return 0
    }
}
