import ArgumentParser
import SwarmSession
import SwarmStorage

/// How a command that runs the engine finds and accepts peers (download, seed).
struct PeerOptions: ParsableArguments {
    @Option(name: .long, help: "Connect to this peer directly (HOST:PORT; repeatable).")
    var peer: [String] = []

    @Option(name: .long, help: "The most peer connections at once.")
    var maxPeers: Int = 50

    @Option(name: .long, help: "TCP port to accept peers on (default: a free one in 6881-6889).")
    var listenPort: UInt16?

    @Option(name: .long, help: "Address to listen on and to connect from (default: every address).")
    var listenHost: String = "0.0.0.0"

    @Flag(name: .long, help: "Do not contact the torrent's trackers (use --peer).")
    var noTrackers = false

    @Flag(name: .long, help: "Do not download from the torrent's web seeds (BEP 19 url-list, a magnet's ws).")
    var noWebSeeds = false

    @Flag(name: .long, help: "Do not look for peers on the local network (BEP 14 multicast).")
    var noLsd = false

    @OptionGroup var rates: RateOptions

    @OptionGroup var dht: DHTOptions

    @OptionGroup var encryption: EncryptionOptions
    @OptionGroup var transports: TransportOptions

    func validate() throws {
        guard maxPeers > 0 else { throw ValidationError("--max-peers must be at least 1") }
    }

    func apply(to configuration: inout SessionConfiguration, engine: inout EngineConfiguration) {
        configuration.peers = peer
        configuration.maxPeers = maxPeers
        configuration.useTrackers = !noTrackers
        configuration.useWebSeeds = !noWebSeeds
        engine.listenPort = listenPort
        engine.listenHost = listenHost
        engine.localDiscovery = !noLsd
        rates.apply(to: &engine)
        dht.apply(to: &engine, stateRoot: CacheRoot.defaultPath())
        encryption.apply(to: &engine)
        transports.apply(to: &engine)
    }
}
