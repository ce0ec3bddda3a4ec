import Foundation

/// A real libtorrent seeder (Debian's python3-libtorrent) on its own loopback address, seeding a
/// small generated file. Started by PID and stopped by PID.
final class LibtorrentSeeder: @unchecked Sendable {
    static let python = "/usr/bin/python3"

    /// True when python3 can import libtorrent.
    static let isAvailable: Bool = {
        guard FileManager.default.isExecutableFile(atPath: python) else { return false }
        let probe = Process()
        probe.executableURL = URL(fileURLWithPath: python)
        probe.arguments = ["-c", "import libtorrent"]
        probe.standardOutput = FileHandle.nullDevice
        probe.standardError = FileHandle.nullDevice
        guard (try? probe.run()) != nil else { return false }
        probe.waitUntilExit()
        return probe.terminationStatus == 0
    }()

    let host: String
    let pieceLength: Int
    let directory: String
    private let process: Process

    /// Seeds `size` pseudo-random bytes in pieces of `pieceLength` on `host`; returns once it seeds.
    /// Waits with `Task.sleep`, never blocking a cooperative thread (other tests run meanwhile).
    static func start(host: String, size: Int, pieceLength: Int) async throws -> LibtorrentSeeder {
        let seeder = try LibtorrentSeeder(host: host, size: size, pieceLength: pieceLength)
        do {
            try await seeder.waitUntilReady()
        } catch {
            seeder.stop()
            throw error
        }
        return seeder
    }

    private var readyFile: String { directory + "/ready" }
    private var logFile: String { directory + "/seed.log" }
    private(set) var port = 0
    private(set) var infoHashHex = ""
    private(set) var content: [UInt8] = []

    private init(host: String, size: Int, pieceLength: Int) throws {
        directory = NSTemporaryDirectory() + "swarmfs-lt-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let script = directory + "/seed.py"
        try Self.script.write(toFile: script, atomically: true, encoding: .utf8)
        let readyFile = directory + "/ready"
        let log = directory + "/seed.log"
        process = Process()
        process.executableURL = URL(fileURLWithPath: Self.python)
        process.arguments = [script, directory, host, String(size), String(pieceLength), readyFile]
        _ = FileManager.default.createFile(atPath: log, contents: nil)
        let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
        process.standardOutput = handle
        process.standardError = handle
        try process.run()

        self.host = host
        self.pieceLength = pieceLength
    }

    /// How long the seeder may take to come up. A start-up deadline, not a timing check: with
    /// CI's unit tests beside a release build on two cores, one seeder printed nothing for 30 s
    /// (the script now logs each step, so a next time says where the time went).
    static let startDeadline = Duration.seconds(90)

    private func waitUntilReady() async throws {
        let deadline = ContinuousClock.now + Self.startDeadline
        var ready: String?
        while ContinuousClock.now < deadline && process.isRunning {
            if let text = try? String(contentsOfFile: readyFile, encoding: .utf8), text.hasSuffix("\n") {
                ready = text
                break
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        let fields = ready?.split(whereSeparator: \.isWhitespace) ?? []
        guard fields.count == 2, let port = Int(fields[1]) else {
            throw SeederError.notReady(log: (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "")
        }
        self.port = port
        infoHashHex = String(fields[0])
        content = Array(try Data(contentsOf: URL(fileURLWithPath: directory + "/payload.bin")))
    }

    enum SeederError: Error { case notReady(log: String) }

    func stop() {
        Self.stop(process)
        try? FileManager.default.removeItem(atPath: directory)
    }

    private static func stop(_ process: Process) {
        guard process.isRunning else { return }
        kill(process.processIdentifier, SIGTERM)
        let deadline = ContinuousClock.now + .seconds(3)
        while process.isRunning && ContinuousClock.now < deadline { usleep(20_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
    }

    private static let script = #"""
import os, random, signal, sys, time
started = time.time()
def step(what):
    print(f"{time.time() - started:.2f}s {what}", flush=True)
import libtorrent as lt
step("libtorrent imported")

directory, host, size, piece_length, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
payload = os.path.join(directory, "payload.bin")
rng = random.Random(1234)
with open(payload, "wb") as f:
    f.write(rng.randbytes(size))

fs = lt.file_storage()
lt.add_files(fs, payload)
# v1 only: a hybrid torrent's info_hash() is its truncated v2 hash, not the SHA-1 BEP 9 checks.
t = lt.create_torrent(fs, piece_length, flags=lt.create_torrent.v1_only)
lt.set_piece_hashes(t, directory)
info = lt.torrent_info(lt.bencode(t.generate()))
step("torrent made")

ses = lt.session({
    "listen_interfaces": f"{host}:0", "outgoing_interfaces": host,
    "enable_dht": False, "enable_lsd": False, "enable_upnp": False, "enable_natpmp": False,
    "enable_outgoing_utp": False, "enable_incoming_utp": False,
    "allow_multiple_connections_per_ip": True, "unchoke_slots_limit": -1,
    "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.error_notification,
})
atp = lt.add_torrent_params()
atp.ti = info
atp.save_path = directory
atp.flags &= ~(lt.torrent_flags.auto_managed | lt.torrent_flags.paused)
atp.flags |= lt.torrent_flags.seed_mode
handle = ses.add_torrent(atp)
step("session started")

stop = []
signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
deadline = time.time() + 20
while not handle.status().is_seeding and time.time() < deadline:
    time.sleep(0.05)
step(f"seeding: {handle.status().is_seeding}")
with open(ready + ".tmp", "w") as f:
    f.write(f"{info.info_hash()} {ses.listen_port()}\n")
os.rename(ready + ".tmp", ready)
while not stop:
    time.sleep(0.1)
"""#
}
