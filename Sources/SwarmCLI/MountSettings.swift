import ArgumentParser
import Dispatch
import Foundation
import Logging
import SwarmContent
import SwarmFS
import SwarmFUSE
import SwarmHTTP
import SwarmMetainfo
import SwarmSession
import SwarmStorage
import Synchronization

/// Every mount setting after merging `-o` options (flags given explicitly win).
struct MountSettings {
    var torrent: String
    var mountpoint: String
    var cacheDirectory: String?
    var download: String
    var cacheSize: Int64?
    var readTimeout: Double?
    var peers: [String]
    var listenPort: UInt16?
    var listenHost: String?
    var maxPeers: Int?
    var noTrackers: Bool
    var noWebSeeds: Bool
    var keep: Bool
    var noUpload: Bool
    var noLsd: Bool
    var rates: RateOptions
    var dht: DHTOptions
    var encryption: EncryptionOptions
    var transports: TransportOptions
    var foreground: Bool
    var fuseOptions: [String]
    var logging: LoggingOptions
    var holdReadsWhile: String?
    var fuseDebug: Bool
    var http: HTTPAddress?

    init(command: MountCommand) throws {
        let parsed: SwarmMountOptions
        do {
            parsed = try SwarmMountOptions.parse(command.options)
        } catch {
            throw ValidationError(error.description)
        }
        torrent = TorrentReference.isMagnet(command.torrent) ? command.torrent : PathTools.absolute(command.torrent)
        mountpoint = PathTools.absolute(command.mountpoint)
        cacheDirectory = (command.cacheDir ?? parsed.cacheDirectory).map(PathTools.absolute)
        download = command.download ?? parsed.download ?? DownloadMode.all.rawValue
        guard download == "none" || DownloadMode(rawValue: download) != nil else {
            throw ValidationError("--download must be all, on-demand or none, not '\(download)'")
        }
        if let size = command.cacheSize {
            cacheSize = size.bytes
        } else if let text = parsed.cacheSize {
            guard let bytes = ByteSize.parse(text) else { throw ValidationError("cache_size '\(text)' is not a size") }
            cacheSize = bytes
        }
        readTimeout = try command.readTimeout ?? parsed.readTimeout.map { text in
            guard let seconds = Double(text) else { throw ValidationError("read_timeout '\(text)' is not a number") }
            return seconds
        }
        if let timeout = readTimeout, !(timeout > 0 && timeout.isFinite) {
            throw ValidationError("--read-timeout must be a positive number of seconds")
        }
        peers = command.peer + parsed.peers
        listenPort = try command.listenPort ?? parsed.listenPort.map { text in
            guard let port = UInt16(text) else { throw ValidationError("listen_port '\(text)' is not a port") }
            return port
        }
        listenHost = command.listenHost ?? parsed.listenHost
        maxPeers = try command.maxPeers ?? parsed.maxPeers.map { text in
            guard let count = Int(text), count > 0 else { throw ValidationError("max_peers '\(text)' is not a count") }
            return count
        }
        if let maxPeers, maxPeers < 1 { throw ValidationError("--max-peers must be at least 1") }
        let off = parsed.disabled
        noTrackers = command.noTrackers || off.contains("no_trackers")
        noWebSeeds = command.noWebSeeds || off.contains("no_web_seeds")
        keep = command.keep
        noUpload = command.noUpload || off.contains("no_upload")
        noLsd = command.noLsd || off.contains("no_lsd")
        rates = command.rates
        dht = command.dht
        if off.contains("no_dht") { dht.noDht = true }
        encryption = command.encryption
        // `--encryption` on the command line wins; it cannot be told from its default, so `-o`
        // applies only while the command line says `prefer`.
        if let text = parsed.encryption, encryption.encryption == .prefer {
            guard let policy = PeerEncryptionPolicy(rawValue: text) else {
                throw ValidationError("peer_encryption '\(text)' must be prefer, require or disable")
            }
            encryption.encryption = policy
        }
        transports = command.transports
        if off.contains("no_utp") { transports.noUtp = true }
        if off.contains("no_tcp") { transports.noTcp = true }
        try transports.validate()
        foreground = command.foreground || parsed.foreground
        fuseOptions = parsed.fuseOptions
        logging = command.logging
        if command.logging.logFile == nil, let file = parsed.logFile { logging.logFile = PathTools.absolute(file) }
        if let level = parsed.logLevel {
            guard let value = Logger.Level(rawValue: level) else { throw ValidationError("log_level '\(level)' is unknown") }
            logging.logLevel = value
        }
        if let file = logging.logFile { logging.logFile = PathTools.absolute(file) }
        holdReadsWhile = command.debugHoldReadsWhile
        fuseDebug = command.fuseDebug
        http = try (command.http ?? parsed.http).map { text in
            guard let address = HTTPAddress.parse(text) else { throw ValidationError("--http '\(text)' is not [HOST:]PORT") }
            return address
        }
    }

    /// The daemon's arguments (after the executable): everything explicit, so that the daemon
    /// does not depend on our working directory, and MOUNTPOINT stays on its command line.
    func daemonArguments(readyFd: Int32) -> [String] {
        var arguments = ["mount", torrent, mountpoint, "--foreground", "--ready-fd", String(readyFd),
                         "--download", download, "--log-level", logging.logLevel.rawValue]
        if let cacheDirectory { arguments += ["--cache-dir", cacheDirectory] }
        if let cacheSize { arguments += ["--cache-size", String(cacheSize)] }
        if let readTimeout { arguments += ["--read-timeout", String(readTimeout)] }
        for peer in peers { arguments += ["--peer", peer] }
        if let listenPort { arguments += ["--listen-port", String(listenPort)] }
        if let listenHost { arguments += ["--listen-host", listenHost] }
        if let maxPeers { arguments += ["--max-peers", String(maxPeers)] }
        if noTrackers { arguments.append("--no-trackers") }
        if noWebSeeds { arguments.append("--no-web-seeds") }
        if !keep { arguments.append("--no-keep") }
        if noUpload { arguments.append("--no-upload") }
        if noLsd { arguments.append("--no-lsd") }
        arguments += rates.arguments
        arguments += dht.arguments
        arguments += encryption.arguments
        arguments += transports.arguments
        if let file = logging.logFile { arguments += ["--log-file", file] }
        if let holdReadsWhile { arguments += ["--debug-hold-reads-while", holdReadsWhile] }
        if fuseDebug { arguments.append("--fuse-debug") }
        if let http { arguments += ["--http", "[\(http.host)]:\(http.port)"] }
        if !fuseOptions.isEmpty {
            let escaped = fuseOptions.map { $0.replacingOccurrences(of: ",", with: "\\,") }
            arguments += ["-o", escaped.joined(separator: ",")]
        }
        return arguments
    }
}

extension MountSettings {
    /// The kernel mount's options: MOUNTPOINT, the name /proc/mounts shows, `-o` and `--fuse-debug`.
    func fuseMountOptions(fsName: String) -> FuseMountOptions {
        var options = FuseMountOptions(mountpoint: mountpoint, fsName: fsName)
        options.fuseOptions = fuseOptions
        options.debug = fuseDebug
        return options
    }

    /// How each torrent's session runs.
    func sessionConfiguration(cacheDirectory: String) -> SessionConfiguration {
        var configuration = SessionConfiguration(cacheDirectory: cacheDirectory)
        configuration.downloadMode = DownloadMode(rawValue: download) ?? .all
        configuration.peers = peers
        if let maxPeers { configuration.maxPeers = maxPeers }
        configuration.readTimeout = readTimeout.map { .milliseconds(DisplayFigures.clampedInt64($0 * 1000)) }
        configuration.uploadEnabled = !noUpload
        configuration.useTrackers = !noTrackers
        configuration.useWebSeeds = !noWebSeeds
        return configuration
    }

    /// What the engine shares among the mount's torrents (one for a torrent file, all of a
    /// library's): the listening socket, the rate limits and `--cache-size`.
    func engineConfiguration(listensFor configuration: SessionConfiguration) -> EngineConfiguration {
        var engine = EngineConfiguration()
        engine.listenPort = listenPort
        if let listenHost { engine.listenHost = listenHost }
        // A mount that neither uploads nor was given a port has no use for a listening socket.
        engine.listens = configuration.uploadEnabled || listenPort != nil
        engine.cacheSizeLimit = cacheSize
        engine.localDiscovery = !noLsd
        rates.apply(to: &engine)
        // A library's cache root is --cache-dir; a single torrent's folder sits in the default root.
        let isLibrary = LibraryMountDaemon.isLibrary(torrent)
        transports.apply(to: &engine)
        dht.apply(to: &engine, stateRoot: (isLibrary ? cacheDirectory : nil) ?? CacheRoot.defaultPath())
        encryption.apply(to: &engine)
        return engine
    }
}
