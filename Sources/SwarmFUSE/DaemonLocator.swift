#if canImport(Glibc)
import Glibc
#endif

/// Finds the swarmfs daemon serving a mountpoint: the process that holds /dev/fuse and has
/// `mount` and the mountpoint on its command line (which the daemon keeps there for this).
public enum DaemonLocator {
    public static func daemons(servingMountpoint mountpoint: String) -> [pid_t] {
        guard let directory = opendir("/proc") else { return [] }
        defer { closedir(directory) }
        let me = getpid()
        var result: [pid_t] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard let pid = pid_t(name), pid != me else { continue }
            guard let commandLine = ProcessTools.readFile("/proc/\(pid)/cmdline", limit: 1 << 16) else { continue }
            let arguments = commandLine.split(separator: "\0").map(String.init)
            guard arguments.contains("mount"), arguments.contains(mountpoint),
                  arguments.first.map({ $0.split(separator: "/").last?.contains("swarmfs") ?? false }) ?? false,
                  holdsFuseDevice(pid) else { continue }
            result.append(pid)
        }
        return result
    }

    static func holdsFuseDevice(_ pid: pid_t) -> Bool {
        guard let directory = opendir("/proc/\(pid)/fd") else { return false }
        defer { closedir(directory) }
        var buffer = [CChar](repeating: 0, count: 256)
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            guard name != ".", name != ".." else { continue }
            let count = readlink("/proc/\(pid)/fd/\(name)", &buffer, buffer.count - 1)
            guard count > 0 else { continue }
            let target = buffer.withUnsafeBufferPointer { raw in
                String(decoding: raw.prefix(count).map { UInt8(bitPattern: $0) }, as: UTF8.self)
            }
            if target == "/dev/fuse" { return true }
        }
        return false
    }
}
