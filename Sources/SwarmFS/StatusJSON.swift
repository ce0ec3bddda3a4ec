import SwarmSession

/// The `swarmfs status --json` document (keys as in CLI.md), also served as the root's
/// `user.swarmfs.status` extended attribute. Hand-written so the key order is stable and no
/// Foundation is needed in the filesystem.
public enum StatusJSON {
    /// Encodes `status`; `extra` adds string fields (e.g. the mountpoint) at the top level.
    public static func encode(_ status: SessionStatus, extra: [(String, String)] = []) -> String {
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
        field("downloadRate", number(status.downloadRate))
        field("uploadRate", number(status.uploadRate))
        field("peers", String(status.peers))
        field("cacheDiskBytes", String(status.cacheDiskBytes))
        field("pendingReads", String(status.pendingReads))
        field("piecesWaitingForReaders", String(status.piecesWaitingForReaders))
        for (name, value) in extra { field(name, quote(value)) }
        key("files")
        out += "["
        for (position, file) in status.files.enumerated() {
            if position > 0 { out += "," }
            out += "{\"path\":\(quote(file.path)),\"length\":\(file.length),"
            out += "\"verifiedBytes\":\(file.verifiedBytes)}"
        }
        out += "]}"
        return out
    }

    /// A JSON number; non-finite values (which JSON cannot hold) become 0.
    static func number(_ value: Double) -> String {
        guard value.isFinite else { return "0" }
        if value == value.rounded(), abs(value) < 1e15 { return String(Int64(value)) }
        return String(value)
    }

    /// A JSON string literal with every control character escaped.
    public static func quote(_ text: String) -> String {
        var out = "\""
        out.reserveCapacity(text.utf8.count + 2)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case _ where scalar.value < 0x20 || scalar.value == 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
