import AsyncHTTPClient
import NIOCore

/// An HTTP(S) tracker (BEP 3, compact BEP 23, `peers6` BEP 7), through AsyncHTTPClient.
struct HTTPTrackerClient: TrackerClient {
    let url: String
    let httpClient: HTTPClient
    /// Bodies above this size fail (`collect(upTo:)` stops buffering at the bound).
    let maxResponseBytes: Int

    func announce(_ request: AnnounceRequest, timeout: Duration) async throws(TrackerError) -> AnnounceResponse {
        var httpRequest = HTTPClientRequest(url: HTTPAnnounceURL.make(base: url, request: request))
        httpRequest.method = .GET
        httpRequest.headers.add(name: "User-Agent", value: "swarmfs/0.1")
        // Announces are minutes apart and many trackers (opentracker) close after each answer, so a
        // pooled connection would only ever be a stale one.
        httpRequest.headers.add(name: "Connection", value: "close")
        let timeAmount = TimeAmount.nanoseconds(Int64(clamping: timeout.nanosecondsClamped))
        let body: [UInt8]
        let statusCode: UInt
        let reasonPhrase: String
        do {
            let response = try await httpClient.execute(httpRequest, timeout: timeAmount)
            statusCode = response.status.code
            reasonPhrase = response.status.reasonPhrase
            if let declared = response.headers.first(name: "Content-Length").flatMap(Int.init), declared > maxResponseBytes {
                throw TrackerError.malformedResponse(url: url, detail: "response of \(declared) bytes exceeds \(maxResponseBytes)")
            }
            let buffer = try await response.body.collect(upTo: maxResponseBytes)
            body = Array(buffer.readableBytesView)
        } catch let error as TrackerError {
            throw error
        } catch let error as HTTPClientError where error == .deadlineExceeded || error == .readTimeout || error == .connectTimeout {
            throw .timeout(url: url)
        } catch is NIOTooManyBytesError {
            throw .malformedResponse(url: url, detail: "response exceeds \(maxResponseBytes) bytes")
        } catch {
            throw .transport(url: url, underlying: "\(error)")
        }
        guard statusCode == 200 else {
            // Some trackers send a bencoded `failure reason` with an error status: prefer it.
            if case let .failure(_, reason)? = Self.failureReason(in: body, url: url) {
                throw .failure(url: url, reason: reason)
            }
            throw .transport(url: url, underlying: "HTTP \(statusCode) \(reasonPhrase)")
        }
        return try HTTPTrackerResponse.parse(body, url: url)
    }

    private static func failureReason(in body: [UInt8], url: String) -> TrackerError? {
        do {
            _ = try HTTPTrackerResponse.parse(body, url: url)
            return nil
        } catch {
            return error
        }
    }
}
