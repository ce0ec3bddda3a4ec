import SwarmFS
import SwarmMetainfo

/// What the watcher saw of one library file.
public enum LibraryFileSnapshot: Sendable, Equatable {
    /// The file is gone (deleted or moved away).
    case absent
    /// Its bytes, read whole (up to the size limit).
    case contents([UInt8])
    /// It exists but cannot be used (not a regular file, too large, unreadable), and why.
    case unreadable(String)
}

/// One observation of a library file, as the watcher reports it.
public struct LibraryFileObservation: Sendable, Equatable {
    public let snapshot: LibraryFileSnapshot
    /// The file was only created so far (no close after writing seen): its writer may still be
    /// filling it, so failing to parse it is not yet worth a log line.
    public let mayBeIncomplete: Bool

    public init(_ snapshot: LibraryFileSnapshot, mayBeIncomplete: Bool = false) {
        self.snapshot = snapshot
        self.mayBeIncomplete = mayBeIncomplete
    }
}

/// A torrent the library shows, and the folder it shows it in.
public struct LibraryTorrent: Sendable {
    /// Where the library knows the torrent from.
    public enum Origin: Sendable {
        /// A .torrent file: the files are known.
        case metainfo(Metainfo)
        /// A magnet link: an empty folder until the metadata is fetched.
        case magnet(MagnetLink)
    }

    public let infoHash: InfoHash
    public let origin: Origin
    /// The folder name at the mount root, unique in the library.
    public let folder: String

    public var isMagnet: Bool {
        if case .magnet = origin { return true }
        return false
    }

    /// The name the torrent calls itself (the folder may add ` (2)`).
    public var name: String {
        switch origin {
        case let .metainfo(metainfo): metainfo.name
        case let .magnet(link): link.displayName ?? link.infoHash.hex
        }
    }
}

/// One change to the set of folders.
public enum LibraryChange: Sendable {
    case add(LibraryTorrent)
    case remove(infoHash: InfoHash, folder: String)
    case rename(infoHash: InfoHash, from: String, to: String)
}

/// The outcome of one batch of file observations: folder changes (removals first, then renames,
/// then additions, so that names never collide on the way) and the files that just turned out
/// malformed (each worth one log line).
public struct LibraryUpdate: Sendable {
    public var changes: [LibraryChange] = []
    public var newProblems: [LibraryFileProblem] = []
}

/// The library's bookkeeping, pure: which file of the library folder holds which torrents,
/// which files are malformed, which folder each torrent gets. Fed file observations (from
/// inotify, or a test), it answers with the changes to make to the mounted tree.
///
/// Invariants: `torrents` is a function of `files` alone (re-deriving it from the same files
/// gives the same folders, whatever order events came in): a torrent named by several files is
/// one folder, a .torrent file wins over a magnet link for the same info-hash (the file with the
/// smallest name wins among equals), and torrents that share a name get `name`, `name (2)`, ...
/// in info-hash order. Folder names are unique byte for byte. At most `maxFiles` files are
/// tracked; more are counted in `ignoredFiles`.
public struct LibraryCatalog: Sendable {
    /// Most library files tracked (each holds at most `maxMagnetsPerFile` torrents).
    public static let maxFiles = 10_000
    /// Largest .magnet file read.
    public static let maxMagnetFileSize = 1 << 20
    /// Most magnet links taken from one file.
    public static let maxMagnetsPerFile = 1_000
    /// Longest folder name (NAME_MAX).
    static let maxNameBytes = 255

    private struct FileRecord {
        var offers: [LibraryTorrent.Origin] = []
        var problem: String?
    }

    private var files: [String: FileRecord] = [:]
    private var current: [InfoHash: LibraryTorrent] = [:]
    /// Files beyond `maxFiles` that were not tracked.
    public private(set) var ignoredFiles = 0

    public init() {}

    /// Whether the library looks at a file of this name (`*.torrent`, `*.magnet`, any case).
    public static func isLibraryFile(_ name: String) -> Bool {
        let lower = name.lowercased()
        return (lower.hasSuffix(".torrent") && lower.count > ".torrent".count)
            || (lower.hasSuffix(".magnet") && lower.count > ".magnet".count)
    }

    /// The torrents shown, by folder name.
    public var torrents: [LibraryTorrent] {
        current.values.sorted { $0.folder.utf8.lexicographicallyPrecedes($1.folder.utf8) }
    }

    /// The torrent with this info-hash, if shown.
    public func torrent(_ infoHash: InfoHash) -> LibraryTorrent? { current[infoHash] }

    /// Files that show nothing (or not all they hold), and why, by file name.
    public var problems: [LibraryFileProblem] {
        files.compactMap { name, record in record.problem.map { LibraryFileProblem(file: name, reason: $0) } }
            .sorted { $0.file.utf8.lexicographicallyPrecedes($1.file.utf8) }
    }

    /// Applies what was seen of some files (names relative to the library folder).
    public mutating func update(_ batch: [String: LibraryFileObservation]) -> LibraryUpdate {
        var update = LibraryUpdate()
        for (name, observation) in batch.sorted(by: { $0.key.utf8.lexicographicallyPrecedes($1.key.utf8) }) {
            guard Self.isLibraryFile(name) else { continue }
            if case .absent = observation.snapshot {
                files.removeValue(forKey: name)
                continue
            }
            guard files[name] != nil || files.count < Self.maxFiles else {
                ignoredFiles += 1
                continue
            }
            var record = Self.parse(name: name, observation.snapshot)
            // Only bytes can be incomplete: a FIFO or a folder of that name never will be written.
            if record.problem != nil, record.offers.isEmpty, observation.mayBeIncomplete,
               case .contents = observation.snapshot {
                record.problem = "incomplete: waiting for its writer to finish"
            } else if let problem = record.problem {
                update.newProblems.append(LibraryFileProblem(file: name, reason: problem))
            }
            files[name] = record
        }
        let next = derive()
        update.changes = Self.difference(from: current, to: next)
        current = next
        return update
    }

    // MARK: Parsing

    private static func parse(name: String, _ snapshot: LibraryFileSnapshot) -> FileRecord {
        switch snapshot {
        case .absent:
            return FileRecord()
        case let .unreadable(reason):
            return FileRecord(problem: "unreadable: \(reason)")
        case let .contents(bytes):
            if name.lowercased().hasSuffix(".torrent") {
                do {
                    return FileRecord(offers: [.metainfo(try Metainfo(bytes: bytes))])
                } catch {
                    return FileRecord(problem: "malformed torrent: \(error)")
                }
            }
            return parseMagnets(bytes)
        }
    }

    /// One magnet URI a line; blank lines and lines starting with `#` are skipped. Good lines
    /// are used even when others are bad; the bad ones are reported.
    private static func parseMagnets(_ bytes: [UInt8]) -> FileRecord {
        guard bytes.count <= maxMagnetFileSize else {
            return FileRecord(problem: "unreadable: larger than \(maxMagnetFileSize) bytes")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            return FileRecord(problem: "malformed magnet file: not UTF-8 text")
        }
        var record = FileRecord()
        var bad: [String] = []
        for (number, rawLine) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = rawLine.trimmingPrefix(while: \.isWhitespace)
            guard !line.isEmpty, !line.hasPrefix("#") else { continue }
            guard record.offers.count < maxMagnetsPerFile else {
                bad.append("more than \(maxMagnetsPerFile) links")
                break
            }
            do {
                record.offers.append(.magnet(try MagnetLink(parsing: String(line))))
            } catch {
                if bad.count < 3 { bad.append("line \(number + 1): \(error)") }
            }
        }
        if !bad.isEmpty { record.problem = "malformed magnet link: " + bad.joined(separator: "; ") }
        return record
    }

    // MARK: Deriving the folders

    /// The torrents the files name, each with its folder.
    private func derive() -> [InfoHash: LibraryTorrent] {
        var chosen: [InfoHash: LibraryTorrent.Origin] = [:]
        for name in files.keys.sorted(by: { $0.utf8.lexicographicallyPrecedes($1.utf8) }) {
            for offer in files[name]?.offers ?? [] {
                let hash = Self.infoHash(of: offer)
                switch (chosen[hash], offer) {
                case (nil, _), (.magnet?, .metainfo): chosen[hash] = offer
                default: break
                }
            }
        }
        let folders = Self.folderNames(chosen.map { ($0.key, Self.baseName(of: $0.value)) })
        var result: [InfoHash: LibraryTorrent] = [:]
        for (hash, origin) in chosen {
            result[hash] = LibraryTorrent(infoHash: hash, origin: origin, folder: folders[hash] ?? hash.hex)
        }
        return result
    }

    private static func infoHash(of origin: LibraryTorrent.Origin) -> InfoHash {
        switch origin {
        case let .metainfo(metainfo): metainfo.infoHash
        case let .magnet(link): link.infoHash
        }
    }

    /// The name a torrent asks for, made safe as one path component and at most NAME_MAX bytes.
    private static func baseName(of origin: LibraryTorrent.Origin) -> String {
        let raw: String = switch origin {
        case let .metainfo(metainfo): metainfo.name
        case let .magnet(link): link.displayName ?? link.infoHash.hex
        }
        var name = String(raw.map { $0 == "/" || $0 == "\0" || $0.isNewline ? "_" : $0 })
        if name.isEmpty || name == "." || name == ".." { name = "_" }
        return truncated(name, toBytes: maxNameBytes)
    }

    /// Distinct folder names: torrents sharing a name get `name`, `name (2)`, `name (3)`, ... in
    /// info-hash order, skipping any name another torrent asks for itself.
    static func folderNames(_ wanted: [(InfoHash, String)]) -> [InfoHash: String] {
        let ordered = wanted.sorted { left, right in
            if !left.1.utf8.elementsEqual(right.1.utf8) { return left.1.utf8.lexicographicallyPrecedes(right.1.utf8) }
            return left.0.bytes.lexicographicallyPrecedes(right.0.bytes)
        }
        let asked = Set(wanted.map { Array($0.1.utf8) })
        var given = Set<[UInt8]>()
        var result: [InfoHash: String] = [:]
        for (hash, name) in ordered {
            var candidate = name
            var suffix = 1
            while given.contains(Array(candidate.utf8)) || (suffix > 1 && asked.contains(Array(candidate.utf8))) {
                suffix += 1
                let tail = " (\(suffix))"
                candidate = truncated(name, toBytes: maxNameBytes - tail.utf8.count) + tail
            }
            given.insert(Array(candidate.utf8))
            result[hash] = candidate
        }
        return result
    }

    /// `text` cut to at most `limit` UTF-8 bytes, at a character boundary.
    static func truncated(_ text: String, toBytes limit: Int) -> String {
        guard text.utf8.count > limit else { return text }
        var result = ""
        var used = 0
        for character in text {
            let size = character.utf8.count
            guard used + size <= limit else { break }
            result.append(character)
            used += size
        }
        return result.isEmpty ? "_" : result
    }

    /// The changes that turn folders `old` into `new`.
    private static func difference(from old: [InfoHash: LibraryTorrent],
                                   to new: [InfoHash: LibraryTorrent]) -> [LibraryChange] {
        func byFolder(_ left: LibraryTorrent, _ right: LibraryTorrent) -> Bool {
            left.folder.utf8.lexicographicallyPrecedes(right.folder.utf8)
        }
        var removals: [LibraryChange] = []
        var renames: [LibraryChange] = []
        var additions: [LibraryTorrent] = []
        for torrent in old.values.sorted(by: byFolder) {
            guard let replacement = new[torrent.infoHash] else {
                removals.append(.remove(infoHash: torrent.infoHash, folder: torrent.folder))
                continue
            }
            if torrent.isMagnet != replacement.isMagnet {
                // The metadata came (or went): the folder is made again with its files.
                removals.append(.remove(infoHash: torrent.infoHash, folder: torrent.folder))
                additions.append(replacement)
            } else if !torrent.folder.utf8.elementsEqual(replacement.folder.utf8) {
                renames.append(.rename(infoHash: torrent.infoHash, from: torrent.folder, to: replacement.folder))
            }
        }
        for torrent in new.values.sorted(by: byFolder) where old[torrent.infoHash] == nil {
            additions.append(torrent)
        }
        return removals + renames + additions.sorted(by: byFolder).map { .add($0) }
    }
}
