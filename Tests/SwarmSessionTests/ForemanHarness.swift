import Foundation
import Logging
import NIOCore
import NIOEmbedded
import NIOPosix
import SwarmContent
import SwarmMetainfo
import SwarmPieces
@testable import SwarmSession
import SwarmStorage
import SwarmWire
import Synchronization
import Testing

/// A clock that moves only when a test says so.
final class ManualClock: ForemanClock {
    private let current = Mutex(NIODeadline.uptimeNanoseconds(1_000_000_000_000))

    var now: NIODeadline { current.withLock { $0 } }

    func advance(by amount: TimeAmount) {
        current.withLock { $0 = $0 + amount }
    }
}

/// Every result a read's completion received, in order (a read must be answered exactly once).
final class ReadOutcomes: Sendable {
    private let results = Mutex<[Result<ReadableSpan, ContentReadError>]>([])

    func record(_ result: Result<ReadableSpan, ContentReadError>) {
        results.withLock { $0.append(result) }
    }

    var all: [Result<ReadableSpan, ContentReadError>] { results.withLock { $0 } }
}

/// A Foreman on a testing event loop, with a manual clock, a real thread pool and a real
/// `PieceStore` in a temporary directory holding none of the torrent's pieces. Peers are
/// `NIOAsyncTestingChannel`s: what the Foreman sends them is read back as frames.
final class ForemanHarness: Sendable {
    let loop = NIOAsyncTestingEventLoop()
    let clock = ManualClock()
    let threadPool: NIOThreadPool
    let root: URL
    let metainfo: Metainfo
    /// The torrent's bytes: what honest peers send.
    let content: [UInt8]
    let store: PieceStore
    let foreman: NIOLoopBound<Foreman>

    static let logger: Logger = {
        var logger = Logger(label: "foreman-test")
        logger.logLevel = .critical
        return logger
    }()

    /// Runs `body` on a fresh harness and always takes it down, also when `body` throws.
    /// `memoryBudget` is the engine's piece-memory budget in bytes (a torrent alone may always
    /// hold four pieces), `cacheSize` its `--cache-size`.
    static func with(pieces: Int, pieceLength: Int = 16 * 1024, memoryBudget: Int = 16 * 1024 * 1024,
                     cacheSize: Int64? = nil, configure: (inout SessionConfiguration) -> Void = { _ in },
                     _ body: (ForemanHarness) async throws -> Void) async throws {
        let harness = try await ForemanHarness(pieces: pieces, pieceLength: pieceLength, memoryBudget: memoryBudget,
                                               cacheSize: cacheSize, configure: configure)
        do {
            try await body(harness)
        } catch {
            await harness.close()
            throw error
        }
        await harness.close()
    }

    private init(pieces: Int, pieceLength: Int, memoryBudget: Int, cacheSize: Int64?,
                 configure: (inout SessionConfiguration) -> Void) async throws {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("swarmfs-foreman-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        let source = root.appendingPathComponent("source.bin")
        var generator = SystemRandomNumberGenerator()
        content = (0..<(pieces * pieceLength)).map { _ in UInt8.random(in: 0...255, using: &generator) }
        try Data(content).write(to: source)
        var options = TorrentBuilder.Options()
        options.pieceLength = pieceLength
        metainfo = try Metainfo(bytes: TorrentBuilder(path: source.path, options: options).build())
        let cache = root.appendingPathComponent("cache").path
        try FileManager.default.createDirectory(atPath: cache, withIntermediateDirectories: true)
        var configuration = SessionConfiguration(cacheDirectory: cache)
        configuration.useTrackers = false
        configure(&configuration)
        store = try PieceStore(layout: metainfo.layout, directory: cache)
        threadPool = NIOThreadPool(numberOfThreads: 2)
        threadPool.start()
        let have = Bitfield(count: metainfo.layout.pieceCount)
        let status = SessionStatus(
            infoHash: metainfo.infoHash.hex, name: metainfo.name, totalLength: metainfo.layout.totalLength,
            verifiedBytes: 0, verifiedPieces: 0, pieceCount: metainfo.layout.pieceCount,
            downloadedBytes: 0, uploadedBytes: 0, downloadRate: 0, uploadRate: 0, peers: 0,
            cacheDiskBytes: 0, pendingReads: 0, piecesWaitingForReaders: 0, files: [])
        let checkpointer = Checkpointer(store: store, infoHash: metainfo.infoHash, verified: have)
        let (metainfo, loop, threadPool, store, clock) = (metainfo, loop, threadPool, store, clock)
        let frozen = configuration
        // What the engine shares among its torrents, here for this one torrent alone.
        foreman = try await loop.executeInContext {
            let foreman = Foreman(metainfo: metainfo, have: have, eventLoop: loop, threadPool: threadPool, store: store,
                                  configuration: frozen, logger: Self.logger, ourPeerID: PeerID.generate(),
                                  verified: VerifiedPieces(have), statusBoard: StatusBoard(status),
                                  checkpointer: checkpointer,
                                  rateLimits: RateLimits(maxUploadRate: 0, maxDownloadRate: 0, now: clock.now),
                                  memoryBudget: PieceMemoryBudget(totalBytes: memoryBudget),
                                  cacheSpace: CacheSpace(limit: cacheSize), dialer: .tcpOnly(from: "127.0.0.1"), clock: clock)
            foreman.start()
            return NIOLoopBound(foreman, eventLoop: loop)
        }
    }

    private func close() async {
        let foreman = self.foreman
        if let stopped = try? await loop.executeInContext({ foreman.value.shutdown() }) {
            try? await stopped.get()
        }
        try? await threadPool.shutdownGracefully()
        await loop.shutdownGracefully()
        store.close()
        try? FileManager.default.removeItem(at: root)
    }

    /// Runs `body` on the loop, where the Foreman lives.
    func onLoop<T: Sendable>(_ body: @escaping @Sendable (Foreman) throws -> T) async throws -> T {
        let foreman = self.foreman
        return try await loop.executeInContext { try body(foreman.value) }
    }

    /// Waits until `condition` holds on the loop. Bounded so that a broken Foreman fails the
    /// test instead of hanging it; the bound is far above what the condition needs.
    func waitUntil(_ what: String, _ condition: @escaping @Sendable (Foreman) -> Bool) async throws {
        for _ in 0..<1000 {
            if try await onLoop(condition) { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("never happened: \(what)")
        throw CancellationError()
    }

    /// Waits until `outcomes` holds at least `count` results (completions run on the pool).
    func waitForOutcomes(_ outcomes: ReadOutcomes, count: Int = 1) async throws {
        for _ in 0..<1000 {
            if outcomes.all.count >= count { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("a read was never answered")
        throw CancellationError()
    }

    /// A peer whose connection came in and completed its handshake.
    func connectPeer(host: String = "127.0.0.1", port: Int = 6881) async throws -> TestPeer {
        let channel = NIOAsyncTestingChannel(loop: loop)
        let pieceCount = metainfo.layout.pieceCount
        let key = try await onLoop { foreman in
            let peer = PeerConnection(key: foreman.makePeerKey(), host: host, address: "\(host):\(port)",
                                      isOutbound: false, pieceCount: pieceCount, foreman: foreman)
            try channel.pipeline.syncOperations.addHandler(peer)
            return peer.key
        }
        try await channel.connect(to: SocketAddress(ipAddress: host, port: port)).get()
        var peer = TestPeer(key: key, host: host, channel: channel)
        try await peer.receive(.handshake(Handshake.ours(infoHash: metainfo.infoHash, peerID: PeerID.generate())))
        peer.heardOnJoining = try await peer.sentMessages()
        return peer
    }

    /// The bytes of a block, as an honest peer sends it.
    func block(_ spec: BlockSpec) -> ByteBuffer {
        let start = metainfo.layout.pieceOffset(spec.piece) + Int64(spec.begin)
        return ByteBuffer(bytes: content[Int(start)..<Int(start) + spec.length])
    }

    var allPieces: ByteBuffer {
        ByteBuffer(bytes: Bitfield.full(count: metainfo.layout.pieceCount).wireBytes)
    }
}

/// The far end of one peer connection.
struct TestPeer: Sendable {
    let key: PeerKey
    let host: String
    let channel: NIOAsyncTestingChannel
    /// What the Foreman sent right after the peer's handshake (its own handshake aside).
    var heardOnJoining: [PeerMessage] = []

    /// The peer sends `frame` to the Foreman.
    func receive(_ frame: PeerWireFrame) async throws {
        try await channel.writeInbound(frame)
    }

    func receive(_ message: PeerMessage) async throws {
        try await receive(.message(message))
    }

    /// What the Foreman sent this peer since the last call.
    func sentMessages() async throws -> [PeerMessage] {
        var messages: [PeerMessage] = []
        while let frame = try await channel.readOutbound(as: PeerWireFrame.self) {
            if case let .message(message) = frame { messages.append(message) }
        }
        return messages
    }

    /// The blocks the Foreman asked this peer for since the last call.
    func requests() async throws -> [BlockSpec] {
        try await sentMessages().compactMap { message in
            guard case let .request(request) = message else { return nil }
            return BlockSpec(piece: Int(request.piece), begin: Int(request.begin), length: Int(request.length))
        }
    }
}
