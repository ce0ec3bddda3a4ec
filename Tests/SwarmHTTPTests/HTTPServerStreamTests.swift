#if canImport(Glibc)
import Glibc
#endif
import Dispatch
import Logging
import SwarmContent
import SwarmMetainfo
import Synchronization
import Testing
@testable import SwarmHTTP

/// A source whose reads wait until the test answers them, counting readers and cancellations.
final class HeldSource: TorrentContentSource {
    struct State {
        var open: Set<UInt64> = []
        var opened = 0
        var closed = 0
        var pending: [(@Sendable (Result<ReadableSpan, ContentReadError>) -> Void)] = []
        var cancelled = 0
        var reads: [(offset: Int64, length: Int)] = []
    }

    let metainfo: Metainfo
    let state = Mutex(State())

    init(metainfo: Metainfo) { self.metainfo = metainfo }

    func openReader(fileIndex: Int) -> ReaderID {
        state.withLock { state in
            state.opened += 1
            state.open.insert(UInt64(state.opened))
            return ReaderID(rawValue: UInt64(state.opened))
        }
    }

    func closeReader(_ reader: ReaderID) {
        state.withLock { state in
            state.closed += 1
            state.open.remove(reader.rawValue)
        }
    }

    func read(_ reader: ReaderID, fileIndex: Int, offset: Int64, length: Int,
              completion: @escaping @Sendable (Result<ReadableSpan, ContentReadError>) -> Void) -> ReadTicket {
        let fired = Mutex(false)
        let once: @Sendable (Result<ReadableSpan, ContentReadError>) -> Void = { result in
            let first = fired.withLock { fired in defer { fired = true }; return !fired }
            if first { completion(result) }
        }
        state.withLock { state in
            state.pending.append(once)
            state.reads.append((offset, length))
        }
        return ReadTicket { [self] in
            self.state.withLock { $0.cancelled += 1 }
            once(.failure(.cancelled))
        }
    }

    func statusSnapshot() -> SessionStatus {
        SessionStatus(infoHash: metainfo.infoHash.hex, name: metainfo.name, totalLength: metainfo.layout.totalLength,
                      verifiedBytes: 0, verifiedPieces: 0, pieceCount: metainfo.layout.pieceCount, downloadedBytes: 0,
                      uploadedBytes: 0, downloadRate: 0, uploadRate: 0, peers: 0, cacheDiskBytes: 0, pendingReads: 0,
                      piecesWaitingForReaders: 0, files: [])
    }

    /// Answers the oldest pending read with `byte` repeated (from memory).
    func answerOldest(byte: UInt8) -> Bool {
        guard let (completion, length) = state.withLock({ state -> ((@Sendable (Result<ReadableSpan, ContentReadError>) -> Void), Int)? in
            guard !state.pending.isEmpty else { return nil }
            return (state.pending.removeFirst(), state.reads[state.reads.count - 1 - state.pending.count].length)
        }) else { return false }
        let bytes = [UInt8](repeating: byte, count: length)
        bytes.withUnsafeBytes { completion(.success(ReadableSpan(memory: $0))) }
        return true
    }
}

/// Waits (polling, bounded) until `condition` holds; the bound only keeps a broken build from hanging.
func eventually(_ condition: () -> Bool, attempts: Int = 1000) async -> Bool {
    for _ in 0..<attempts {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return condition()
}

/// A blocking TCP client on loopback.
struct RawClient {
    let fd: Int32

    init?(port: Int, receiveBuffer: Int32? = nil) {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBuffer {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size))
        }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if connected != 0 { close(fd); return nil }
    }

    func send(_ text: String) {
        _ = Array(text.utf8).withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
    }

    /// Reads until `count` bytes arrived or the peer closed.
    func receive(atLeast count: Int) -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while out.count < count {
            let got = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if got <= 0 { break }
            out += chunk[..<got]
        }
        return out
    }

    func shutdown() {
        _ = Glibc.shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }
}

@Suite(.serialized) struct HTTPServerStreamTests {
    static func torrent(length: Int) throws -> Metainfo {
        // A single-file torrent of `length` bytes with 16 KiB pieces (hashes are not checked here).
        let pieces = (length + 16383) / 16384
        let info = "d6:lengthi\(length)e4:name5:a.mkv12:piece lengthi16384e6:pieces\(pieces * 20):"
        let bytes = Array(("d4:info" + info).utf8) + [UInt8](repeating: 7, count: pieces * 20) + Array("ee".utf8)
        return try Metainfo(bytes: bytes)
    }

    @Test func aClosedConnectionCancelsItsReadAndClosesItsReader() async throws {
        let source = HeldSource(metainfo: try Self.torrent(length: 4 << 20))
        let server = try await HTTPServer.start(catalog: SingleTorrentCatalog(content: source, startTime: 0),
                                                configuration: HTTPServerConfiguration(), logger: Logger(label: "test"))
        let hash = source.metainfo.infoHash.hex
        let client = try #require(RawClient(port: server.port))
        client.send("GET /t/\(hash)/a.mkv HTTP/1.1\r\nHost: x\r\n\r\n")
        #expect(await eventually { source.state.withLock { $0.pending.count == 1 } })
        client.shutdown()
        #expect(await eventually { source.state.withLock { $0.cancelled == 1 && $0.closed == 1 && $0.open.isEmpty } })
        await server.stop()
    }

    @Test func oneReadAtATimeAndTheHeadComesWithTheFirstBytes() async throws {
        let source = HeldSource(metainfo: try Self.torrent(length: 3 << 20))
        var configuration = HTTPServerConfiguration()
        configuration.firstChunk = 64 * 1024
        configuration.chunk = 1 << 20
        let server = try await HTTPServer.start(catalog: SingleTorrentCatalog(content: source, startTime: 0),
                                                configuration: configuration, logger: Logger(label: "test"))
        let hash = source.metainfo.infoHash.hex
        let client = try #require(RawClient(port: server.port))
        client.send("GET /t/\(hash)/a.mkv HTTP/1.1\r\nHost: x\r\nRange: bytes=100-\r\n\r\n")
        let received = Mutex<[UInt8]>([])
        DispatchQueue.global().async {
            while true {
                let bytes = client.receive(atLeast: 1)
                if bytes.isEmpty { return }
                received.withLock { $0 += bytes }
            }
        }
        let total = (3 << 20) - 100
        var answered = 0
        // Until every byte was answered (counting only the reads answered so far).
        while source.state.withLock({ $0.reads.prefix(answered).reduce(0) { $0 + $1.length } }) < total {
            // The next read is asked only after the previous chunk was written: never two at once.
            #expect(await eventually { source.state.withLock { $0.pending.count == 1 } })
            #expect(source.state.withLock { $0.pending.count } == 1)
            guard source.answerOldest(byte: UInt8(answered + 1)) else { break }
            answered += 1
        }
        let reads = source.state.withLock { $0.reads }
        #expect(reads.first?.offset == 100 && reads.first?.length == 64 * 1024)
        #expect(reads.dropFirst().allSatisfy { $0.length <= 1 << 20 })
        #expect(reads.reduce(0) { $0 + $1.length } == total)
        #expect(await eventually { received.withLock { $0.count } > total })
        let bytes = received.withLock { $0 }
        let text = String(decoding: bytes.prefix(400), as: UTF8.self)
        #expect(text.hasPrefix("HTTP/1.1 206 Partial Content"))
        #expect(text.contains("Content-Range: bytes 100-\((3 << 20) - 1)/\(3 << 20)"))
        // The body is each answer in order: chunk k holds the byte k+1.
        let body = Array(bytes.suffix(total))
        try #require(body.count == total, "received \(bytes.count) bytes, reads \(reads)")
        var position = 0
        for (index, read) in reads.enumerated() {
            #expect(body[position..<(position + read.length)].allSatisfy { $0 == UInt8(index + 1) })
            position += read.length
        }
        #expect(await eventually { source.state.withLock { $0.closed == 1 } })
        client.shutdown()
        await server.stop()
    }

    @Test func aClientThatTakesNothingIsDroppedAndItsReaderClosed() async throws {
        let source = HeldSource(metainfo: try Self.torrent(length: 64 << 20))
        var configuration = HTTPServerConfiguration()
        configuration.firstChunk = 1 << 20
        configuration.chunk = 1 << 20
        configuration.stallTimeout = .milliseconds(300)
        let server = try await HTTPServer.start(catalog: SingleTorrentCatalog(content: source, startTime: 0),
                                                configuration: configuration, logger: Logger(label: "test"))
        let client = try #require(RawClient(port: server.port, receiveBuffer: 16 * 1024))
        client.send("GET /t/\(source.metainfo.infoHash.hex)/a.mkv HTTP/1.1\r\nHost: x\r\n\r\n")
        // Answer every read the server asks for; it stops asking once the socket is full.
        var answered = 0
        while answered < 64, await eventually({ source.state.withLock { $0.pending.count == 1 } }, attempts: 50) {
            _ = source.answerOldest(byte: 1)
            answered += 1
        }
        #expect(answered < 64, "the server kept reading for a client that takes nothing")
        #expect(await eventually { source.state.withLock { $0.closed == 1 && $0.open.isEmpty } })
        client.shutdown()
        await server.stop()
    }

    @Test func http10KeepAliveIsAnsweredAndHonoured() async throws {
        let source = HeldSource(metainfo: try Self.torrent(length: 1000))
        let server = try await HTTPServer.start(catalog: SingleTorrentCatalog(content: source, startTime: 0),
                                                configuration: HTTPServerConfiguration(), logger: Logger(label: "test"))
        let client = try #require(RawClient(port: server.port))
        client.send("HEAD /status.json HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
        let first = String(decoding: client.receive(atLeast: 20), as: UTF8.self)
        #expect(first.hasPrefix("HTTP/1.0 200 OK") && first.contains("Connection: keep-alive"))
        client.send("HEAD /nothing HTTP/1.0\r\n\r\n")
        let second = String(decoding: client.receive(atLeast: 1 << 20), as: UTF8.self)
        #expect(second.hasPrefix("HTTP/1.0 404") && second.contains("Connection: close"))
        client.shutdown()
        await server.stop()
    }

    @Test func aTrickledRequestHeadIsCutOff() async throws {
        let source = HeldSource(metainfo: try Self.torrent(length: 1000))
        var configuration = HTTPServerConfiguration()
        configuration.requestTimeout = .milliseconds(200)
        let server = try await HTTPServer.start(catalog: SingleTorrentCatalog(content: source, startTime: 0),
                                                configuration: configuration, logger: Logger(label: "test"))
        let client = try #require(RawClient(port: server.port))
        client.send("GET / HTTP/1.1\r\nHost: x\r\n")
        // Never finished: the server closes the connection without an answer.
        #expect(client.receive(atLeast: 1).isEmpty)
        client.shutdown()
        await server.stop()
    }
}
