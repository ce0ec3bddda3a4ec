import ArgumentParser
import SwarmMetainfo
import Synchronization
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `swarmfs create PATH -o OUT.torrent …`: makes a v1 torrent of a file or a folder.
struct CreateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "create",
        abstract: "Make a .torrent file of a file or a folder.",
        discussion: """
            Files are added in byte-wise sorted order, so the same folder always gives the same \
            torrent (use --creation-date for byte-identical output). Without --piece-length a size \
            is chosen like libtorrent does (about 2,000 pieces, 16 KiB to 4 MiB). Hashing uses \
            every core; a progress line is shown on a terminal.
            """
    )

    @Argument(help: "The file or folder to share.")
    var path: String

    @Option(name: [.short, .customLong("output")], help: "Where to write the .torrent file.")
    var output: String

    @Option(name: .customLong("announce"), help: "A tracker URL (repeatable; each one is a tier).")
    var announce: [String] = []

    @Option(name: .customLong("piece-length"),
            help: "Bytes per piece: a power of two from 16 KiB to 256 MiB (e.g. 262144, 256K, 4M).")
    var pieceLength: String?

    @Flag(name: .customLong("private"), help: "Mark the torrent private (BEP 27).")
    var isPrivate = false

    @Option(help: "A free-text comment.")
    var comment: String?

    @Option(name: .customLong("web-seed"), help: "A web seed URL (repeatable, BEP 19).")
    var webSeed: [String] = []

    @Option(name: .customLong("creation-date"), help: "Creation date in seconds since 1970 (default: now).")
    var creationDate: Int64?

    @Option(help: "Hashing threads (default: one per core).")
    var threads: Int?

    @Flag(name: [.short, .long], help: "Print nothing but errors.")
    var quiet = false

    func run() throws {
        try CLIError.reporting { try execute() }
    }

    private func execute() throws {
        var options = TorrentBuilder.Options()
        options.announce = announce
        options.isPrivate = isPrivate
        options.comment = comment
        options.webSeeds = webSeed
        options.createdBy = "swarmfs \(SwarmVersion.string)"
        options.creationDate = creationDate
        options.threads = threads.map { max(1, $0) }
        if let pieceLength {
            guard let bytes = Self.parseBytes(pieceLength), bytes <= Int64(Int.max),
                  TorrentBuilder.isValidPieceLength(Int(bytes)) else {
                throw CLIError.badInput(
                    "piece length '\(pieceLength)' is not a power of two between 16 KiB and 256 MiB")
            }
            options.pieceLength = Int(bytes)
        }

        let builder: TorrentBuilder
        do throws(TorrentBuildError) {
            builder = try TorrentBuilder(path: path, options: options)
        } catch {
            throw CLIError.badInput(error.description)
        }
        let progress = quiet || isatty(STDERR_FILENO) == 0 ? nil : ProgressLine()
        let bytes: [UInt8]
        do throws(TorrentBuildError) {
            if let progress {
                bytes = try builder.build { done, total in progress.update(done, total) }
            } else {
                bytes = try builder.build()
            }
        } catch {
            progress?.finish()
            throw CLIError.runtime(error.description)
        }
        progress?.finish()
        try Self.writeAtomically(bytes, to: output)

        if !quiet {
            let metainfo = try? Metainfo(bytes: bytes)
            let layout = builder.layout
            print("Created \(output): \(layout.files.count) file(s), "
                  + "\(InfoCommand.humanBytes(layout.totalLength)), "
                  + "\(layout.pieceCount) pieces of \(InfoCommand.humanBytes(Int64(layout.pieceLength))), "
                  + "info-hash \(metainfo?.infoHash.hex ?? "?")")
        }
    }

    /// Parses `262144`, `256K`, `256KiB`, `4M`, `1G` (binary multiples); nil if malformed.
    static func parseBytes(_ text: String) -> Int64? {
        var digits = Substring(text)
        var multiplier: Int64 = 1
        let suffixes: [(String, Int64)] = [("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30),
                                           ("K", 1 << 10), ("M", 1 << 20), ("G", 1 << 30), ("B", 1)]
        let upper = text.uppercased()
        for (suffix, value) in suffixes where upper.hasSuffix(suffix) {
            digits = digits.dropLast(suffix.count)
            multiplier = value
            break
        }
        guard let number = Int64(digits), number >= 0 else { return nil }
        let (product, overflow) = number.multipliedReportingOverflow(by: multiplier)
        return overflow ? nil : product
    }

    /// Writes via a temporary file in the same folder and a rename, so a failed run never leaves
    /// a half-written torrent behind.
    static func writeAtomically(_ bytes: [UInt8], to path: String) throws {
        let temporary = path + ".tmp-\(getpid())"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else {
            throw CLIError.runtime("cannot write \(path): \(String(cString: strerror(errno)))")
        }
        var offset = 0
        while offset < bytes.count {
            let written = bytes.withUnsafeBytes { raw in
                write(fd, raw.baseAddress.map { $0 + offset }, raw.count - offset)
            }
            if written < 0 {
                if errno == EINTR { continue }
                let reason = String(cString: strerror(errno))
                close(fd)
                unlink(temporary)
                throw CLIError.runtime("cannot write \(path): \(reason)")
            }
            offset += written
        }
        if fsync(fd) != 0 || close(fd) != 0 || rename(temporary, path) != 0 {
            let reason = String(cString: strerror(errno))
            unlink(temporary)
            throw CLIError.runtime("cannot write \(path): \(reason)")
        }
    }
}

/// A `Hashing: 42% (…)` line on stderr, redrawn at most once per percent.
private final class ProgressLine: Sendable {
    private let lastPercent = Mutex(-1)

    func update(_ done: Int64, _ total: Int64) {
        let percent = total > 0 ? Int(done * 100 / total) : 100
        let changed = lastPercent.withLock { last in
            guard percent > last else { return false }
            last = percent
            return true
        }
        if changed {
            writeStandardError("\rHashing: \(percent)% (\(InfoCommand.humanBytes(done)) of "
                               + "\(InfoCommand.humanBytes(total)))\u{1B}[K")
        }
    }

    func finish() {
        if lastPercent.withLock({ $0 >= 0 }) { writeStandardError("\n") }
    }
}
