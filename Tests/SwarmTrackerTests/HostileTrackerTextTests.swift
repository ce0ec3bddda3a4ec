import Logging
import NIOCore
import NIOPosix
import SwarmMetainfo
import Synchronization
import Testing
@testable import SwarmTracker

/// Issue 11 item 9: what a tracker says reaches our log, so it is cut to one short line of
/// printable characters (hostile trackers send control characters, ANSI escapes, megabytes).
@Suite("Tracker text is one printable line")
struct HostileTrackerTextTests {
    private let url = "http://tracker.test/announce"
    private static let hostile = "\u{1B}[2J\u{1B}[31mowned\r\nFAKE LOG LINE\u{07}\u{00}\u{9B}31m"
        + String(repeating: "x", count: 2_000_000)

    private func bencodedString(_ text: String) -> [UInt8] {
        Array("\(text.utf8.count):".utf8) + Array(text.utf8)
    }

    private func isOneShortPrintableLine(_ text: String) -> Bool {
        text.unicodeScalars.count <= 300
            && text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F && !(0x80...0x9F).contains($0.value) }
    }

    @Test func aFailureReasonIsCutToOnePrintableLine() {
        let body = Array("d14:failure reason".utf8) + bencodedString(Self.hostile) + Array("e".utf8)
        do {
            _ = try HTTPTrackerResponse.parse(body, url: url)
            Issue.record("a failure reason must fail the announce")
        } catch {
            guard case let .failure(_, reason) = error else {
                Issue.record("\(error)")
                return
            }
            #expect(isOneShortPrintableLine(reason))
            #expect(reason.hasPrefix("?[2J?[31mowned  FAKE LOG LINE"))
            #expect(isOneShortPrintableLine(String(error.description.dropFirst("tracker \(url) refused the announce: ".count))))
        }
    }

    @Test func aWarningMessageIsCutToOnePrintableLine() throws {
        let body = Array("d8:intervali120e5:peers0:15:warning message".utf8) + bencodedString(Self.hostile)
            + Array("e".utf8)
        let response = try HTTPTrackerResponse.parse(body, url: url)
        let warning = try #require(response.warning)
        #expect(isOneShortPrintableLine(warning))
    }

    @Test func plainTextIsKeptAndLongTextEndsInAnEllipsis() {
        #expect(TrackerText.oneLine("Requested download is not authorized.") == "Requested download is not authorized.")
        let cut = TrackerText.oneLine(String(repeating: "a", count: 500))
        #expect(cut.count == TrackerText.maxLength && cut.hasSuffix("…"))
        #expect(TrackerText.oneLine("\u{202E}evil") == "?evil")
    }
}

/// Every log record, for tests that count what was said.
final class LogRecords: Sendable {
    struct Record: Sendable {
        let level: Logger.Level
        let message: String
        let metadata: [String: String]
    }

    private let records = Mutex<[Record]>([])

    var all: [Record] { records.withLock { $0 } }

    func logger() -> Logger {
        var logger = Logger(label: "test.records") { _ in Handler(sink: self) }
        logger.logLevel = .trace
        return logger
    }

    fileprivate func append(_ record: Record) { records.withLock { $0.append(record) } }

    private struct Handler: LogHandler {
        let sink: LogRecords
        var metadata: Logger.Metadata = [:]
        var logLevel: Logger.Level = .trace
        subscript(metadataKey key: String) -> Logger.Metadata.Value? {
            get { metadata[key] }
            set { metadata[key] = newValue }
        }

        func log(event: LogEvent) {
            let fields = (event.metadata ?? [:]).mapValues { "\($0)" }
            sink.append(Record(level: event.level, message: "\(event.message)", metadata: fields))
        }
    }
}

@Suite("A tracker's words are logged once", .serialized)
struct TrackerLogOnceTests {
    private let request = AnnounceRequest(
        infoHash: InfoHash(bytes: [UInt8](repeating: 9, count: 20))!, peerID: Array("-SF0100-onceonceonce".utf8),
        port: 6881, left: 100, event: .started)

    @Test func anUnchangedWarningIsLoggedOnceAndOnOneLine() async throws {
        let warning = "\u{1B}[31mupgrade your client\nFAKE: line" + String(repeating: "!", count: 100_000)
        let body = Array("d8:intervali1800e5:peers0:15:warning message\(warning.utf8.count):".utf8)
            + Array(warning.utf8) + Array("e".utf8)
        let server = try await FakeHTTPServer(behaviour: .answer(body: body), group: MultiThreadedEventLoopGroup.singleton)
        let records = LogRecords()
        let set = TrackerSet(tiers: [[server.url]], eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                             logger: records.logger())
        for _ in 0..<3 { _ = try await set.announce(request).get() }
        await server.close()
        let warnings = records.all.filter { $0.level >= .warning }
        #expect(warnings.count == 1)
        for record in warnings {
            let text = record.message + record.metadata.values.joined()
            #expect(text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F })
            #expect(text.count < 1_000)
        }
    }

    @Test func anUnchangedFailureReasonIsReportedOnce() async throws {
        let reason = "torrent not registered\u{1B}[2J\r\nFAKE: line"
        let body = Array("d14:failure reason\(reason.utf8.count):".utf8) + Array(reason.utf8) + Array("e".utf8)
        let server = try await FakeHTTPServer(behaviour: .answer(body: body), group: MultiThreadedEventLoopGroup.singleton)
        let records = LogRecords()
        let set = TrackerSet(tiers: [[server.url]], eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
                             logger: records.logger())
        for _ in 0..<3 {
            guard case let .failure(error) = await set.announce(request) else {
                Issue.record("announce succeeded")
                return
            }
            #expect(error.description.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F })
        }
        await server.close()
        let reported = records.all.filter { $0.level >= .info }
        #expect(reported.count == 1)
        for record in reported {
            let text = record.message + record.metadata.values.joined()
            #expect(text.unicodeScalars.allSatisfy { $0.value >= 0x20 && $0.value != 0x7F })
        }
    }
}
