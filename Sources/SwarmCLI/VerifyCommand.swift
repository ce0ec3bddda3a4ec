import ArgumentParser
import Foundation
import SwarmMetainfo
import SwarmStorage
import Synchronization

/// `swarmfs verify FILE.torrent DIR`: hashes every piece found under DIR (the torrent's own layout,
/// as any client downloads it) and reports per-file completion. Exit 0 only if everything is
/// complete, 1 if something is missing or wrong, 2 for bad input. Never modifies DIR.
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check which pieces and files of a torrent are complete in a directory.")

    @Argument(help: "The .torrent file.")
    var torrent: String

    @Argument(help: "The directory holding the torrent's files (DIR/<name>...).")
    var directory: String

    @Flag(name: .long, help: "Print the report as JSON.")
    var json = false

    @Option(name: .long, help: "Hashing threads (default: one per CPU).")
    var threads: Int?

    func run() throws {
        try CLIError.reporting { try verify() }
    }

    private func verify() throws {
        let metainfo = try loadTorrent(torrent)
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory), isDirectory.boolValue else {
            throw CLIError.badInput("\(directory) is not a directory")
        }
        let store: PieceStore
        do {
            store = try PieceStore(layout: metainfo.layout, directory: directory, mode: .readOnly)
        } catch {
            throw CLIError.badInput("cannot use \(directory): \(error)")
        }
        defer { store.close() }
        let started = Date()
        let result: RecheckResult
        do {
            result = try Recheck.run(store: store, metainfo: metainfo, record: nil,
                                     threads: max(1, threads ?? Recheck.defaultThreads),
                                     trustRecord: false, progress: VerifyProgress.reporter())
        } catch {
            throw CLIError.runtime("verifying \(directory) failed: \(error)")
        }
        VerifyProgress.finish()
        // Symlinks, FIFOs and the like were treated as missing; say which, so the report's
        // incomplete files are explained.
        for problem in store.unsafeEntries(limit: 20) {
            writeStandardError("warning: \(problem)\n")
        }
        let report = VerifyReport(metainfo: metainfo, verified: result.verified)
        if json {
            print(report.json())
        } else {
            print(report.text())
            let seconds = Date().timeIntervalSince(started)
            let rate = seconds > 0 ? Double(result.bytesHashed) / seconds / 1_048_576 : 0
            writeStandardError(String(format: "hashed %@ in %.1f s (%.0f MiB/s)\n",
                                      ByteSize.format(result.bytesHashed), seconds, rate))
        }
        if !result.verified.isComplete { throw ExitCode(1) }
    }
}

/// The per-file table of `verify`.
struct VerifyReport {
    let metainfo: Metainfo
    let verified: Bitfield

    private var userFiles: [(file: TorrentFile, verifiedBytes: Int64)] {
        let bytes = FileCompletion.verifiedBytes(layout: metainfo.layout, verified: verified)
        return metainfo.layout.files.filter { !$0.isPadding }.map { ($0, bytes[$0.index]) }
    }

    func text() -> String {
        var lines: [String] = []
        for (file, done) in userFiles {
            let percent = file.length > 0 ? Double(done) * 100 / Double(file.length) : 100
            let state = done == file.length ? "complete" : "incomplete"
            lines.append(String(format: "%6.1f%%  %@  %@", percent, state, file.joinedPath))
        }
        lines.append("\(verified.setCount)/\(verified.count) pieces valid")
        let missing = missingRanges
        if !missing.isEmpty {
            let shown = missing.prefix(20).map { $0.lowerBound == $0.upperBound ? "\($0.lowerBound)" : "\($0.lowerBound)-\($0.upperBound)" }
            lines.append("missing pieces: " + shown.joined(separator: ", ") + (missing.count > 20 ? ", ..." : ""))
        }
        return lines.joined(separator: "\n")
    }

    /// Runs of pieces that are not valid, as inclusive ranges.
    var missingRanges: [ClosedRange<Int>] {
        var ranges: [ClosedRange<Int>] = []
        var start: Int?
        for piece in 0...verified.count {
            let missing = piece < verified.count && !verified[piece]
            if missing, start == nil { start = piece }
            if !missing, let first = start {
                ranges.append(first...(piece - 1))
                start = nil
            }
        }
        return ranges
    }

    func json() -> String {
        struct FileJSON: Encodable {
            let path: String
            let length: Int64
            let verifiedBytes: Int64
            let complete: Bool
        }
        struct ReportJSON: Encodable {
            let name: String
            let infoHash: String
            let pieceCount: Int
            let validPieces: Int
            let complete: Bool
            let missingPieces: [[Int]]
            let files: [FileJSON]
        }
        let report = ReportJSON(
            name: metainfo.name, infoHash: metainfo.infoHash.hex, pieceCount: verified.count,
            validPieces: verified.setCount, complete: verified.isComplete,
            missingPieces: missingRanges.map { [$0.lowerBound, $0.upperBound] },
            files: userFiles.map { FileJSON(path: $0.file.joinedPath, length: $0.file.length,
                                            verifiedBytes: $0.verifiedBytes, complete: $0.verifiedBytes == $0.file.length) })
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        guard let data = try? encoder.encode(report) else { return "{}" }
        return String(decoding: data, as: UTF8.self)
    }
}

/// A throttled "checked N/M pieces" line on a terminal's stderr (silent otherwise).
enum VerifyProgress {
    private static let lastDraw = Mutex<UInt64>(0)
    private static let isTerminal = isatty(STDERR_FILENO) == 1

    static func reporter() -> (@Sendable (RecheckProgress) -> Void)? {
        guard isTerminal else { return nil }
        return { progress in
            let now = DispatchTime.now().uptimeNanoseconds
            let draw = lastDraw.withLock { last in
                guard now - last > 200_000_000 else { return false }
                last = now
                return true
            }
            if draw {
                let line = "\r\u{1B}[Kchecking \(progress.piecesDone)/\(progress.piecesTotal) pieces, "
                    + "\(progress.piecesVerified) valid"
                writeStandardError(line)
            }
        }
    }

    static func finish() {
        if isTerminal { writeStandardError("\r\u{1B}[K") }
    }
}
