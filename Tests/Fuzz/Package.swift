// swift-tools-version: 6.1
import PackageDescription

// libFuzzer executables, one per parser, over the checks in the main package's SwarmFuzzChecks.
// A package of its own so that the main package's `swift build` never builds them; build and run
// them with `scripts/fuzz`, which passes -sanitize=fuzzer,address and uses the scratch path
// .build-fuzz. SwiftPM links an executable with main aliased to `<module>_main`, so each target
// defines that symbol (with -parse-as-library, so Swift emits no main of its own) and hands over to
// libFuzzer's LLVMFuzzerRunDriver.
let targetNames = ["bencode", "metainfo", "peer-wire", "http-tracker", "udp-tracker", "resume-record", "magnet",
                   "extension-handshake", "ut-metadata", "pex", "krpc", "dht-table-state", "lsd", "dht-node",
                   "http-request", "mse-handshake", "utp"]

let package = Package(
    name: "swarmfs-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "swarmfs", path: "../.."),
    ],
    targets: [.target(name: "CFuzzerDriver")] + targetNames.map { name in
        .executableTarget(
            name: "fuzz-\(name)",
            dependencies: ["CFuzzerDriver", .product(name: "SwarmFuzzChecks", package: "swarmfs")],
            path: "Sources/fuzz-\(name)")
    },
    swiftLanguageModes: [.v6]
)
