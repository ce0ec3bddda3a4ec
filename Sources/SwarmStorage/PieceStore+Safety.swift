import Glibc

extension PieceStore {
    /// Refuses, with `.unsafeEntry` naming the first one found, a cache folder where something on
    /// the way to a file of the layout is a symlink, FIFO, socket or device, or where a file's
    /// place holds anything but a regular file (see `unsafeEntries`).
    ///
    /// Every open is confined anyway (`ConfinedPath`); this check lets a session fail at start
    /// with one clear message instead of failing each write.
    public func refuseUnsafeEntries() throws(StorageError) {
        if let first = unsafeEntries(limit: 1).first { throw first }
    }

    /// Up to `limit` entries of the folder that swarmfs refuses to use (each an `.unsafeEntry`),
    /// in layout order. Missing entries are fine (they would be created) and so is a regular file
    /// where a folder belongs (its files are simply missing). One `lstat` per file and folder.
    public func unsafeEntries(limit: Int = .max) -> [StorageError] {
        var found: [StorageError] = []
        var directories = Set<String>()
        var refused = Set<String>()
        for file in layout.files where !file.isPadding && found.count < limit {
            var relative = ""
            for (position, name) in file.path.enumerated() {
                relative += "/" + name
                let isLast = position == file.path.count - 1
                if !isLast && directories.contains(relative) { continue }
                if refused.contains(relative) { break }
                var info = stat()
                // Every earlier component was seen to be a real folder, so this lstat follows no link.
                if lstat(directory + relative, &info) != 0 { break }
                let kind = EntryKind(mode: info.st_mode)
                if !isLast && kind == .directory {
                    directories.insert(relative)
                    continue
                }
                // A regular file ends the walk: the file itself, or a file where a folder belongs.
                if kind != .regularFile {
                    refused.insert(relative)
                    found.append(.unsafeEntry(path: directory + relative, kind: kind))
                }
                break
            }
        }
        return found
    }
}
