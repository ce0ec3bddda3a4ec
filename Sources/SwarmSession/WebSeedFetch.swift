import AsyncHTTPClient
import NIOCore
import NIOHTTP1
import SwarmMetainfo

/// Why a web seed could not give a span.
enum WebSeedError: Error, Sendable, CustomStringConvertible {
    /// The server answered a range request with another status (404, 500, or 200 for a range
    /// that is not the whole file: it ignores `Range`).
    case status(url: String, code: UInt, range: String)
    /// The body was longer or shorter than the range asked for.
    case wrongLength(url: String, expected: Int, received: Int)
    /// The request failed (connection, timeout, redirect loop...).
    case transport(url: String, detail: String)

    var description: String {
        switch self {
        case let .status(url, code, range): "\(url) answered \(code) to Range: \(range)"
        case let .wrongLength(url, expected, received): "\(url) sent \(received) bytes for a range of \(expected)"
        case let .transport(url, detail): "\(url): \(detail)"
        }
    }
}

/// Fetches one contiguous span of the torrent from a web seed: the HTTP range requests of its
/// parts, one after the other, handing the bytes on in order as they arrive (`received`, which
/// may be called many times; padding comes as zeros). Bounded: a body is never read past the
/// range it was asked for.
enum WebSeedFetch {
    /// The longest a whole range request may take (a slow seed at 64 KiB/s still gives 4 MiB).
    static let requestDeadline = TimeAmount.seconds(120)

    static func fetch(_ parts: [WebSeedLocation.Part], client: HTTPClient, userAgent: String,
                      received: (ByteBuffer) -> Void) async throws(WebSeedError) {
        for part in parts {
            switch part {
            case let .zeros(length):
                received(ByteBuffer(repeating: 0, count: length))
            case let .fetch(url, fileOffset, length):
                try await fetchRange(url: url, offset: fileOffset, length: length, client: client, userAgent: userAgent,
                                     received: received)
            }
        }
    }

    private static func fetchRange(url: String, offset: Int64, length: Int, client: HTTPClient, userAgent: String,
                                   received: (ByteBuffer) -> Void) async throws(WebSeedError) {
        guard length > 0 else { return }
        let range = "bytes=\(offset)-\(offset + Int64(length) - 1)"
        var request = HTTPClientRequest(url: url)
        request.headers.add(name: "Range", value: range)
        request.headers.add(name: "User-Agent", value: userAgent)
        var got = 0
        do {
            let response = try await client.execute(request, timeout: requestDeadline)
            // 206 is the answer; 200 carries the whole file, which is what was asked for only
            // when the range starts the file (the rest of the body is not read).
            guard response.status == .partialContent || (response.status == .ok && offset == 0) else {
                throw WebSeedError.status(url: url, code: response.status.code, range: range)
            }
            for try await chunk in response.body {
                let wanted = min(chunk.readableBytes, length - got)
                if response.status == .partialContent, wanted < chunk.readableBytes {
                    throw WebSeedError.wrongLength(url: url, expected: length, received: got + chunk.readableBytes)
                }
                received(chunk.getSlice(at: chunk.readerIndex, length: wanted)!)
                got += wanted
                if got == length { break }
            }
        } catch let error as WebSeedError {
            throw error
        } catch {
            throw .transport(url: url, detail: "\(error)")
        }
        guard got == length else { throw .wrongLength(url: url, expected: length, received: got) }
    }
}
