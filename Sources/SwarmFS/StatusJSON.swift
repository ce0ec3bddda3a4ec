import SwarmContent
import SwarmMetainfo

/// The `swarmfs status --json` document (keys as in CLI.md), also served as the root's
/// `user.swarmfs.status` extended attribute. Hand-written so the key order is stable and no
/// Foundation is needed in the filesystem.
public enum StatusJSON {
    /// The most an extended attribute value may hold on Linux (XATTR_SIZE_MAX).
    public static let attributeLimit = 64 * 1024

    /// Encodes `status`; `extra` adds string fields (e.g. the mountpoint) at the top level. With
    /// `maxBytes`, the `files` list stops where the document would outgrow it and
    /// `filesOmitted` says how many files were left out (a 20,000-file torrent does not fit in
    /// an extended attribute; each file's own `user.swarmfs.progress` still answers).
    public static func encode(_ status: SessionStatus, extra: [(String, String)] = [], maxBytes: Int? = nil) -> String {
        var out = "{"
        func key(_ name: String) { out += "\"\(name)\":" }
        func field(_ name: String, _ value: String, comma: Bool = true) {
            key(name); out += value; if comma { out += "," }
        }
        field("infoHash", quote(status.infoHash))
        field("name", quote(status.name))
        field("totalLength", String(status.totalLength))
        field("verifiedBytes", String(status.verifiedBytes))
        field("verifiedPieces", String(status.verifiedPieces))
        field("pieceCount", String(status.pieceCount))
        field("downloadedBytes", String(status.downloadedBytes))
        field("uploadedBytes", String(status.uploadedBytes))
        field("shareRatio", number(status.shareRatio))
        field("downloadRate", number(status.downloadRate))
        field("uploadRate", number(status.uploadRate))
        field("peers", String(status.peers))
        field("cacheDiskBytes", String(status.cacheDiskBytes))
        field("pendingReads", String(status.pendingReads))
        field("piecesWaitingForReaders", String(status.piecesWaitingForReaders))
        field("piecesInMemory", String(status.piecesInMemory))
        field("pieceMemoryLimit", String(status.pieceMemoryLimit))
        for (name, value) in extra { field(name, quote(value)) }
        let entries = status.files.map { file in
            "{\"path\":\(quote(file.path)),\"length\":\(file.length),\"verifiedBytes\":\(file.verifiedBytes)}"
        }
        var kept = entries.count
        if let maxBytes {
            // Room for the list after the omission count (at its widest) and the closing bytes.
            var room = maxBytes - out.utf8.count - "\"filesOmitted\":\(entries.count),\"files\":[]}".utf8.count
            kept = 0
            for entry in entries {
                let cost = entry.utf8.count + (kept > 0 ? 1 : 0)
                guard cost <= room else { break }
                room -= cost
                kept += 1
            }
        }
        if kept < entries.count { field("filesOmitted", String(entries.count - kept)) }
        key("files")
        out += "[" + entries.prefix(kept).joined(separator: ",") + "]}"
        return out
    }

    /// A JSON number; non-finite values (which JSON cannot hold) become 0.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    static func quote(_ text: String) -> String { JSONText.quote(text) }
}
