import ArgumentParser
import Foundation
import SwarmFS
import SwarmFUSE

/// `swarmfs status MOUNTPOINT [--json]`: progress, rates, peers and per-file completion, read
/// from the mount root's `user.swarmfs.status` extended attribute (no socket needed). For a
/// library, MOUNTPOINT lists every torrent and MOUNTPOINT/FOLDER shows one.
struct StatusCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "status",
        abstract: "Show the progress of a mounted torrent, or of a library's torrents.")

    @Argument(help: "The mountpoint (or, in a library, the mountpoint/FOLDER of one torrent).")
    var mountpoint: String

    @Flag(name: .long, help: "Print the status as JSON.")
    var json = false

    func run() throws {
        let text = try readStatus()
        if json {
            print(text)
            return
        }
        guard let document = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any] else {
            throw MountFailure(exitCode: 1, message: "\(mountpoint) returned a malformed status").exit()
        }
        print(Self.render(document))
    }

    private func readStatus() throws -> String {
        switch ExtendedAttributes.value(of: mountpoint, name: SwarmFileSystem.AttributeName.status) {
        case let .success(bytes):
            return String(decoding: bytes, as: UTF8.self)
        case let .failure(error):
            let reason = error.errno == ENODATA || error.errno == ENOTSUP
                ? "is not a swarmfs mount" : "cannot be read: \(String(cString: strerror(error.errno)))"
            throw MountFailure(exitCode: 1, message: "\(mountpoint) \(reason)").exit()
        }
    }

    /// The human-readable status.
    static func render(_ document: [String: Any]) -> String {
        if let torrents = document["torrents"] as? [[String: Any]] {
            return renderLibrary(document, torrents: torrents)
        }
        if let reason = document["reason"] as? String {
            return "\(document["name"] as? String ?? "?")  (\(document["infoHash"] as? String ?? "?"))\n"
                + "state     \(document["state"] as? String ?? "?"): \(reason)"
        }
        func int(_ key: String, _ from: [String: Any] = document) -> Int64 {
            (from[key] as? NSNumber)?.int64Value ?? 0
        }
        func double(_ key: String) -> Double { (document[key] as? NSNumber)?.doubleValue ?? 0 }
        func percent(_ part: Int64, _ whole: Int64) -> String {
            whole > 0 ? String(format: "%5.1f%%", Double(part) * 100 / Double(whole)) : "100.0%"
        }
        let total = int("totalLength")
        let verified = int("verifiedBytes")
        var lines: [String] = []
        lines.append("\(document["name"] as? String ?? "?")  (\(document["infoHash"] as? String ?? "?"))")
        lines.append("progress  \(percent(verified, total))  \(ByteSize.format(verified)) of \(ByteSize.format(total))"
            + "  pieces \(int("verifiedPieces"))/\(int("pieceCount"))")
        lines.append("rates     down \(DisplayFigures.rate(double("downloadRate")))"
            + "  up \(DisplayFigures.rate(double("uploadRate")))  peers \(int("peers"))")
        lines.append("traffic   downloaded \(ByteSize.format(int("downloadedBytes")))"
            + "  uploaded \(ByteSize.format(int("uploadedBytes")))" + String(format: "  ratio %.2f", double("shareRatio"))
            + "  cache \(ByteSize.format(int("cacheDiskBytes")))")
        lines.append("readers   \(int("pendingReads")) reads waiting, \(int("piecesWaitingForReaders")) pieces wanted now")
        let files = document["files"] as? [[String: Any]] ?? []
        if !files.isEmpty { lines.append("files:") }
        for file in files {
            let length = int("length", file)
            lines.append("  \(percent(int("verifiedBytes", file), length))  \(ByteSize.format(length).padding(toLength: 10, withPad: " ", startingAt: 0))  \(file["path"] as? String ?? "?")")
        }
        let omitted = int("filesOmitted")
        if omitted > 0 {
            lines.append("  … and \(omitted) more files (each file's user.swarmfs.progress attribute has its own)")
        }
        return lines.joined(separator: "\n")
    }

    /// A library: one line per torrent, then the files that show nothing.
    static func renderLibrary(_ document: [String: Any], torrents: [[String: Any]]) -> String {
        func int(_ key: String, _ from: [String: Any]) -> Int64 { (from[key] as? NSNumber)?.int64Value ?? 0 }
        func double(_ key: String, _ from: [String: Any]) -> Double { (from[key] as? NSNumber)?.doubleValue ?? 0 }
        var lines = ["library \(document["library"] as? String ?? "?"): \(int("torrentCount", document)) torrents"]
        for torrent in torrents {
            let folder = torrent["folder"] as? String ?? "?"
            let state = torrent["state"] as? String ?? "?"
            if state == "running" {
                let total = int("totalLength", torrent)
                let verified = int("verifiedBytes", torrent)
                let percent = total > 0 ? String(format: "%5.1f%%", Double(verified) * 100 / Double(total)) : "100.0%"
                lines.append("  \(percent)  down \(DisplayFigures.rate(double("downloadRate", torrent)))"
                    + "  up \(DisplayFigures.rate(double("uploadRate", torrent)))  peers \(int("peers", torrent))  \(folder)")
            } else {
                let reason = torrent["reason"] as? String
                lines.append("  \(state.padding(toLength: 8, withPad: " ", startingAt: 0))  \(folder)" + (reason.map { "  (\($0))" } ?? ""))
            }
        }
        let omitted = int("torrentsOmitted", document)
        if omitted > 0 { lines.append("  … and \(omitted) more (each folder's status has its own)") }
        let problems = document["problems"] as? [[String: Any]] ?? []
        if !problems.isEmpty { lines.append("skipped files:") }
        for problem in problems {
            lines.append("  \(problem["file"] as? String ?? "?"): \(problem["reason"] as? String ?? "?")")
        }
        return lines.joined(separator: "\n")
    }
}
