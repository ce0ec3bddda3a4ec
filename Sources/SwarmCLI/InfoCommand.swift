import ArgumentParser
import Logging
import SwarmMetainfo
import SwarmSession
import SwarmStorage

/// `swarmfs info [--json] FILE.torrent|MAGNET`: what `transmission-show` prints, or one JSON
/// object. A magnet link's metadata comes from its cache folder, or from the swarm (and is then
/// kept there, so a mount of the same link starts at once).
struct InfoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "info",
        abstract: "Show what a .torrent file or a magnet link's torrent contains.",
        discussion: """
            Prints the name, info-hash, sizes, piece geometry, private flag, trackers by tier, \
            web seeds and the files. With --json, prints one JSON object with the keys name, \
            infoHash, totalLength, pieceLength, pieceCount, private, trackers, webSeeds and \
            files ({path, length}; padding files left out), plus comment, createdBy, \
            creationDate and magnet. Given a magnet link, fetches the metadata from the peers the \
            link names (x.pe), its trackers and --peer, waiting at most --timeout seconds.
            """
    )

    @Flag(name: .long, help: "Print one JSON object instead of text.")
    var json = false

    @Argument(help: "The .torrent file, or a magnet link.")
    var torrent: String

    @Option(name: .long, help: "Give up on a magnet link's metadata after this many seconds.")
    var timeout: Double = 60

    @Option(name: .long, help: "Ask this peer for a magnet link's metadata (HOST:PORT; repeatable).")
    var peer: [String] = []

    @Option(name: .long, help: "Address to connect from (default: any).")
    var listenHost: String = "0.0.0.0"

    @OptionGroup var dht: DHTOptions

    @OptionGroup var encryption: EncryptionOptions
    @OptionGroup var transports: TransportOptions

    @OptionGroup var logging: LoggingOptions

    func validate() throws {
        guard timeout > 0, timeout.isFinite else { throw ValidationError("--timeout must be a positive number of seconds") }
    }

    func run() async throws {
        try await CLIError.reporting { try await execute() }
    }

    private func execute() async throws {
        let metainfo: Metainfo
        switch try TorrentReference.parse(torrent) {
        case let .file(path):
            do throws(MetainfoError) {
                metainfo = try Metainfo(contentsOf: path)
            } catch {
                throw CLIError.badInput(error.description)
            }
        case let .magnet(magnet):
            metainfo = try await resolve(magnet)
        }
        print(json ? Self.json(metainfo) : Self.text(metainfo, file: torrent), terminator: "")
    }

    private func resolve(_ magnet: MagnetLink) async throws(CLIError) -> Metainfo {
        let directory = CacheRoot.directory(root: CacheRoot.defaultPath(), infoHash: magnet.infoHash)
        if let cached = MagnetResolver.cached(magnet, directory: directory) { return cached }
        let logger: Logger
        do {
            logger = try logging.bootstrap()
        } catch {
            throw .badInput("\(error)")
        }
        var configuration = EngineConfiguration()
        configuration.listens = false
        configuration.listenHost = listenHost
        dht.apply(to: &configuration, stateRoot: CacheRoot.defaultPath())
        encryption.apply(to: &configuration)
        transports.apply(to: &configuration)
        let engine: SwarmEngine
        do {
            engine = try await SwarmEngine.start(configuration: configuration, logger: logger)
        } catch {
            throw .runtime("\(error)")
        }
        let outcome: Result<FetchedMetadata, CLIError>
        do throws(CLIError) {
            outcome = .success(try await MagnetResolver.fetch(magnet, engine: engine, peers: peer, useTrackers: true,
                                                              timeout: .milliseconds(Int64(timeout * 1000)), logger: logger))
        } catch {
            outcome = .failure(error)
        }
        await engine.shutdown()
        let metainfo = try outcome.get().metainfo
        MagnetResolver.store(metainfo, directory: directory, logger: logger)
        return metainfo
    }

    /// The human-readable report, modelled on `transmission-show`.
    static func text(_ metainfo: Metainfo, file: String) -> String {
        let layout = metainfo.layout
        var out = "Name: \(metainfo.name)\nFile: \(file)\n\nGENERAL\n\n"
        out += "  Name: \(metainfo.name)\n"
        out += "  Hash: \(metainfo.infoHash.hex)\n"
        if let createdBy = metainfo.createdBy { out += "  Created by: \(createdBy)\n" }
        if let date = metainfo.creationDate { out += "  Created on: \(utcDate(date))\n" }
        if let comment = metainfo.comment, !comment.isEmpty { out += "  Comment: \(comment)\n" }
        out += "  Piece Count: \(layout.pieceCount)\n"
        out += "  Piece Size: \(humanBytes(Int64(layout.pieceLength))) (\(layout.pieceLength) bytes)\n"
        out += "  Total Size: \(humanBytes(layout.totalLength)) (\(layout.totalLength) bytes)\n"
        out += "  Privacy: \(metainfo.isPrivate ? "Private torrent" : "Public torrent")\n"
        out += "\nTRACKERS\n"
        if metainfo.trackers.isEmpty { out += "\n  (none)\n" }
        for (number, tier) in metainfo.trackers.enumerated() {
            out += "\n  Tier #\(number + 1)\n"
            for url in tier { out += "  \(url)\n" }
        }
        if !metainfo.webSeeds.isEmpty {
            out += "\nWEBSEEDS\n\n"
            for url in metainfo.webSeeds { out += "  \(url)\n" }
        }
        let files = metainfo.userFiles
        out += "\nFILES (\(files.count))\n\n"
        for file in files {
            out += "  \(file.joinedPath) (\(humanBytes(file.length)))\n"
        }
        return out
    }

    /// The `--json` object; the key set is part of the CLI contract (CLI.md).
    static func json(_ metainfo: Metainfo) -> String {
        var fields: [(String, String)] = [
            ("name", JSONText.quote(metainfo.name)),
            ("infoHash", JSONText.quote(metainfo.infoHash.hex)),
            ("totalLength", "\(metainfo.layout.totalLength)"),
            ("pieceLength", "\(metainfo.layout.pieceLength)"),
            ("pieceCount", "\(metainfo.layout.pieceCount)"),
            ("private", metainfo.isPrivate ? "true" : "false"),
            ("trackers", "[" + metainfo.trackers.map { tier in
                "[" + tier.map(JSONText.quote).joined(separator: ",") + "]"
            }.joined(separator: ",") + "]"),
            ("webSeeds", "[" + metainfo.webSeeds.map(JSONText.quote).joined(separator: ",") + "]"),
            ("files", "[" + metainfo.userFiles.map { file in
                "{\"path\":\(JSONText.quote(file.joinedPath)),\"length\":\(file.length)}"
            }.joined(separator: ",") + "]"),
            ("isSingleFile", metainfo.isSingleFile ? "true" : "false"),
        ]
        fields.append(("comment", metainfo.comment.map(JSONText.quote) ?? "null"))
        fields.append(("createdBy", metainfo.createdBy.map(JSONText.quote) ?? "null"))
        fields.append(("creationDate", metainfo.creationDate.map { "\($0)" } ?? "null"))
        let magnet = MagnetLink(infoHash: metainfo.infoHash, displayName: metainfo.name,
                                trackers: metainfo.trackers.flatMap { $0 }, exactLength: metainfo.layout.totalLength)
        fields.append(("magnet", JSONText.quote(magnet.uri)))
        return "{" + fields.map { "\(JSONText.quote($0.0)):\($0.1)" }.joined(separator: ",") + "}\n"
    }

    /// `1536` -> `1.50 KiB`; below 1 KiB exact bytes.
    static func humanBytes(_ bytes: Int64) -> String {
        let units = ["KiB", "MiB", "GiB", "TiB", "PiB", "EiB"]
        guard bytes >= 1024 else { return "\(bytes) B" }
        var value = Double(bytes)
        var unit = -1
        while value >= 1024, unit < units.count - 1 {
            value /= 1024
            unit += 1
        }
        let hundredths = Int((value * 100).rounded())
        let fraction = hundredths % 100
        return "\(hundredths / 100).\(fraction < 10 ? "0" : "")\(fraction) \(units[unit])"
    }

    /// Seconds since 1970 as `YYYY-MM-DD HH:MM:SS UTC` (civil-from-days, no Foundation).
    static func utcDate(_ seconds: Int64) -> String {
        let days = seconds >= 0 ? seconds / 86_400 : (seconds - 86_399) / 86_400
        let secondOfDay = seconds - days * 86_400
        let shifted = days + 719_468
        let era = (shifted >= 0 ? shifted : shifted - 146_096) / 146_097
        let dayOfEra = shifted - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36_524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let monthIndex = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * monthIndex + 2) / 5 + 1
        let month = monthIndex < 10 ? monthIndex + 3 : monthIndex - 9
        let year = yearOfEra + era * 400 + (month <= 2 ? 1 : 0)
        func two(_ value: Int64) -> String { value < 10 ? "0\(value)" : "\(value)" }
        return "\(year)-\(two(month))-\(two(day)) \(two(secondOfDay / 3600)):"
            + "\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60)) UTC"
    }
}
