import CFuzzerDriver
import SwarmFuzzChecks

/// The executable's entry point (SwiftPM aliases main to it): runs libFuzzer over the HTTP request parsers (route, Range).
@_cdecl("fuzz_http_request_main")
public func fuzzMain(_ argc: CInt, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> CInt {
    var argc = argc
    var argv = argv
    return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
        FuzzTarget.httpRequest.fuzzOne(data, size)
        return 0
    }
}
