import ArgumentParser
import SwarmSession

/// `--no-dht` and `--dht-bootstrap`: the engine's DHT nodes (BEP 5; IPv6 too, BEP 32, where the
/// machine has it), on by default. Their routing tables are kept in the cache root's state folder
/// (ROOT/.swarmfs/dht.state, dht6.state) between runs.
struct DHTOptions: ParsableArguments {
    @Flag(name: .long, help: "Do not use the DHT (no UDP socket, no DHT traffic at all).")
    var noDht = false

    @Option(name: .long, help: ArgumentHelp(
        "A DHT node to join the DHT through when the saved routing table is too small (HOST:PORT; repeatable; " +
            "'none': only the saved table). Default: router.bittorrent.com:6881, dht.transmissionbt.com:6881, " +
            "router.utorrent.com:6881, dht.libtorrent.org:25401.", valueName: "host:port"))
    var dhtBootstrap: [String] = []

    func validate() throws {
        for entry in dhtBootstrap where entry != "none" {
            guard let colon = entry.lastIndex(of: ":"), let port = UInt16(entry[entry.index(after: colon)...]), port > 0,
                  colon != entry.startIndex else {
                throw ValidationError("--dht-bootstrap '\(entry)' is not HOST:PORT")
            }
        }
    }

    /// Turns the DHT on (unless `--no-dht`) with the table kept under `stateRoot`.
    func apply(to engine: inout EngineConfiguration, stateRoot: String) {
        engine.dht.enabled = !noDht
        engine.dht.stateRoot = stateRoot
        if !dhtBootstrap.isEmpty { engine.dht.bootstrap = dhtBootstrap.filter { $0 != "none" } }
    }

    /// The same options on a command line (for the mount daemon).
    var arguments: [String] {
        (noDht ? ["--no-dht"] : []) + dhtBootstrap.flatMap { ["--dht-bootstrap", $0] }
    }
}
