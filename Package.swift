// swift-tools-version: 6.1
import PackageDescription

// Dependencies point one way:
// Bencode <- Metainfo <- {Wire, Tracker, Pieces, Storage, DHT}; Storage <- Content (the read API)
// Metainfo <- MSE (the encryption handshake, RC4, DH);
// {Wire, Tracker, Pieces, Content, DHT, MSE, UTP} <- Session;  Content <- FS <- {FUSE, Library, HTTP};  {Session, FUSE, Library, HTTP} <- CLI
let package = Package(
    name: "swarmfs",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swarmfs", targets: ["swarmfs"]),
        // For the libFuzzer package in Tests/Fuzz, which can only depend on products.
        .library(name: "SwarmFuzzChecks", targets: ["SwarmFuzzChecks"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.6.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.80.0"),
        .package(url: "https://github.com/apple/swift-crypto", from: "3.12.0"),
        .package(url: "https://github.com/apple/swift-collections", from: "1.1.0"),
        .package(url: "https://github.com/apple/swift-system", from: "1.4.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.24.0"),
        // Modular exponentiation for MSE's 768-bit Diffie-Hellman (SwarmMSE only).
        .package(url: "https://github.com/attaswift/BigInt", exact: "6.0.1"),
    ],
    targets: [
        .target(name: "SwarmBencode"),
        .target(name: "SwarmMetainfo", dependencies: [
            "SwarmBencode",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .target(name: "SwarmWire", dependencies: [
            "SwarmBencode", "SwarmMetainfo",
            .product(name: "NIOCore", package: "swift-nio"),
        ]),
        // Message Stream Encryption's pure parts: RC4, the DH exchange, the handshake state machine.
        .target(name: "SwarmMSE", dependencies: [
            "SwarmMetainfo",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "BigInt", package: "BigInt"),
        ]),
        // The BEP 5 DHT's pure parts: node ids, KRPC codec, routing table, write tokens. No I/O.
        .target(name: "SwarmDHT", dependencies: [
            "SwarmBencode", "SwarmMetainfo",
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        // uTP (BEP 29)'s pure parts: packet codec, the connection state machine, LEDBAT. No I/O.
        .target(name: "SwarmUTP", dependencies: [
            .product(name: "DequeModule", package: "swift-collections"),
        ]),
        .target(name: "SwarmTracker", dependencies: [
            "SwarmBencode", "SwarmMetainfo",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SwarmPieces", dependencies: [
            "SwarmMetainfo",
            .product(name: "Collections", package: "swift-collections"),
        ]),
        .target(name: "SwarmStorage", dependencies: [
            "SwarmMetainfo",
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "SystemPackage", package: "swift-system"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The read API the filesystem serves from (TorrentContentSource and its types), and
        // DirectoryContentSource over a complete payload: no BitTorrent engine below the filesystem.
        .target(name: "SwarmContent", dependencies: ["SwarmMetainfo", "SwarmStorage"]),
        .target(name: "SwarmSession", dependencies: [
            "SwarmMetainfo", "SwarmWire", "SwarmTracker", "SwarmPieces", "SwarmStorage", "SwarmContent", "SwarmDHT",
            "SwarmMSE", "SwarmUTP",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "Collections", package: "swift-collections"),
            // Web seeds (BEP 19): HTTP range requests.
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
        .target(name: "SwarmFS", dependencies: ["SwarmMetainfo", "SwarmContent"]),
        .target(name: "SwarmLibrary", dependencies: [
            "SwarmMetainfo", "SwarmStorage", "SwarmContent", "SwarmFS",
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The HTTP server (`--http`, `swarmfs serve`): Range streaming over the same read API the
        // filesystem uses, playlists, status and a small web page (embedded, see Web/).
        .target(name: "SwarmHTTP", dependencies: [
            "SwarmMetainfo", "SwarmContent", "SwarmFS",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ], resources: [.embedInCode("Web/index.html"), .embedInCode("Web/app.js"), .embedInCode("Web/style.css")]),
        .systemLibrary(name: "CFuse3", pkgConfig: "fuse3",
                       providers: [.apt(["libfuse3-dev"])]),
        .target(name: "SwarmFUSE", dependencies: [
            "CFuse3", "SwarmFS", "SwarmContent",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "SwarmCLI", dependencies: [
            "SwarmBencode", "SwarmMetainfo", "SwarmTracker", "SwarmStorage", "SwarmSession",
            "SwarmContent", "SwarmFS", "SwarmFUSE", "SwarmLibrary", "SwarmHTTP",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .target(name: "CMallocTuning"),
        .executableTarget(name: "swarmfs", dependencies: ["SwarmCLI", "CMallocTuning"]),
        // The parser invariants that the fuzz targets (Tests/Fuzz) and the corpus replay test share.
        .target(name: "SwarmFuzzChecks", dependencies: [
            "SwarmBencode", "SwarmMetainfo", "SwarmWire", "SwarmTracker", "SwarmStorage", "SwarmDHT", "SwarmHTTP",
            "SwarmMSE", "SwarmUTP",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),

        .testTarget(name: "SwarmBencodeTests", dependencies: ["SwarmBencode", "SwarmMetainfo"]),
        .testTarget(name: "SwarmMetainfoTests", dependencies: ["SwarmMetainfo", "SwarmBencode"],
                    exclude: ["make_corpus.py"], resources: [.copy("Corpus")]),
        .testTarget(name: "SwarmWireTests", dependencies: [
            "SwarmWire", .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "SwarmTrackerTests", dependencies: [
            "SwarmTracker", "SwarmBencode", "SwarmMetainfo",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SwarmPiecesTests", dependencies: ["SwarmPieces"]),
        .testTarget(name: "SwarmMSETests", dependencies: ["SwarmMSE", "SwarmMetainfo"]),
        .testTarget(name: "SwarmDHTTests", dependencies: ["SwarmDHT", "SwarmMetainfo", "SwarmBencode"]),
        .testTarget(name: "SwarmUTPTests", dependencies: ["SwarmUTP", "SwarmMetainfo"]),
        .testTarget(name: "SwarmFuzzReplayTests", dependencies: ["SwarmFuzzChecks"]),
        .testTarget(name: "SwarmStorageTests", dependencies: ["SwarmStorage"]),
        .testTarget(name: "SwarmSessionTests", dependencies: [
            "SwarmSession", "SwarmContent", .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOEmbedded", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "SwarmCLITests", dependencies: ["SwarmCLI"]),
        .testTarget(name: "SwarmLibraryTests", dependencies: [
            "SwarmLibrary", "SwarmFS", "SwarmContent", "SwarmMetainfo",
            .product(name: "Logging", package: "swift-log"),
        ]),
        .testTarget(name: "SwarmHTTPTests", dependencies: [
            "SwarmHTTP", "SwarmContent", "SwarmFS", "SwarmMetainfo",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
        ]),
        .testTarget(name: "SwarmFSTests", dependencies: [
            "SwarmFS", "SwarmFUSE", "SwarmContent", "SwarmMetainfo", "SwarmStorage",
            .product(name: "Logging", package: "swift-log"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
