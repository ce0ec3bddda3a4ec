import Foundation
import SwarmSession
import Synchronization

/// The live progress line: percent, rate, peers, ETA. On a terminal it redraws one line; otherwise
/// it prints a plain line every five seconds so logs stay readable.
final class ProgressReporter: Sendable {
    private let session: TorrentSession
    private let isTerminal = isatty(STDERR_FILENO) == 1
    private let task = Mutex<Task<Void, Never>?>(nil)

    init(session: TorrentSession) {
        self.session = session
    }

    func start() {
        let interval: Duration = isTerminal ? .milliseconds(500) : .seconds(5)
        let running = Task { [self] in
            while !Task.isCancelled {
                try? await Task.sleep(for: interval)
                if Task.isCancelled { break }
                emit(line(), final: false)
            }
        }
        task.withLock { $0 = running }
    }

    func stop(final complete: Bool) {
        task.withLock { $0?.cancel() }
        emit(line(), final: true)
    }

    private func line() -> String {
        let status = session.statusSnapshot()
        let percent = status.totalLength > 0 ? Double(status.verifiedBytes) * 100 / Double(status.totalLength) : 100
        var text = String(format: "%5.1f%%", percent)
            + "  \(ByteSize.format(status.verifiedBytes)) / \(ByteSize.format(status.totalLength))"
            + "  ↓ \(DisplayFigures.rate(status.downloadRate))  ↑ \(DisplayFigures.rate(status.uploadRate))"
            + "  \(status.peers) peers"
        if status.uploadedBytes > 0 {
            text += String(format: "  ratio %.2f", status.shareRatio)
        }
        // No ETA while nothing arrives (a decayed rate is exactly 0) or when it is beyond use.
        let remaining = status.totalLength - min(status.verifiedBytes, status.totalLength)
        if let eta = DisplayFigures.eta(remaining: remaining, rate: status.downloadRate) {
            text += "  " + eta
        }
        return text
    }

    private func emit(_ text: String, final: Bool) {
        let output = isTerminal ? "\r\u{1B}[K" + text + (final ? "\n" : "") : text + "\n"
        FileHandle.standardError.write(Data(output.utf8))
    }
}
