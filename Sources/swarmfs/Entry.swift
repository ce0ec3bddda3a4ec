import CMallocTuning
import SwarmCLI

/// The `swarmfs` executable: everything lives in SwarmCLI.
@main
struct Entry {
    static func main() async {
        // Before any thread starts. glibc's defaults (an arena per allocating thread, up to eight
        // per core, and an mmap threshold that rises after every large free) let freed piece and
        // socket buffers pile up in arenas: a mount streaming 1 GiB peaked at ~100 MiB RSS for
        // ~31 MiB of live heap (heaptrack). Two arenas and a fixed 128 KiB threshold keep RSS
        // close to what is really in use.
        _ = swarmfs_tune_malloc(2, 512 * 1024)
        await CLIError.runMain(SwarmCommand.self)
    }
}
