import ArgumentParser
import SwarmSession

/// `--max-upload-rate` / `--max-download-rate`, shared by the commands that run the engine.
struct RateOptions: ParsableArguments {
    @Option(name: .long, help: "Upload at most this many bytes per second (K/M/G suffixes; 0 = no limit).")
    var maxUploadRate: ByteSize?

    @Option(name: .long, help: "Download at most this many bytes per second (K/M/G suffixes; 0 = no limit).")
    var maxDownloadRate: ByteSize?

    func apply(to configuration: inout EngineConfiguration) {
        configuration.maxUploadRate = maxUploadRate?.bytes ?? 0
        configuration.maxDownloadRate = maxDownloadRate?.bytes ?? 0
    }

    /// The same options as daemon arguments.
    var arguments: [String] {
        var result: [String] = []
        if let maxUploadRate { result += ["--max-upload-rate", String(maxUploadRate.bytes)] }
        if let maxDownloadRate { result += ["--max-download-rate", String(maxDownloadRate.bytes)] }
        return result
    }
}
