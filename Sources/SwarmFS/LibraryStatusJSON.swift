import SwarmContent

/// The status documents of a library mount: the root's lists every torrent (one summary each,
/// no files), the files that show nothing and why; a folder's is the torrent's own `StatusJSON`
/// (or, for an empty folder, why it is empty).
enum LibraryStatusJSON {
    /// The root's document. With `maxBytes`, the torrent list stops where the document would
    /// outgrow it and `torrentsOmitted` says how many were left out (each folder's own status
    /// attribute still answers).
    static func library(folders: [(LibraryVolume, String)], pending: [LibraryPendingTorrent],
                        problems: [LibraryFileProblem], extra: [(String, String)], maxBytes: Int) -> String {
        var head = "{\"torrentCount\":\(folders.count + pending.count),"
        for (name, value) in extra { head += "\(quote(name)):\(quote(value))," }
        let problemList = problems.map { "{\"file\":\(quote($0.file)),\"reason\":\(quote($0.reason))}" }
        var entries = folders.map { volume, name in summary(volume, name: name) }
        entries += pending.map { "{\"folder\":\(quote($0.folder)),\"infoHash\":\(quote($0.infoHash)),\"state\":\(quote($0.state))}" }
        let problemsText = "\"problems\":[" + problemList.joined(separator: ",") + "]"
        var room = maxBytes - head.utf8.count - problemsText.utf8.count
            - "\"torrentsOmitted\":\(entries.count),\"torrents\":[],}".utf8.count
        var kept = 0
        for entry in entries {
            let cost = entry.utf8.count + (kept > 0 ? 1 : 0)
            guard cost <= room else { break }
            room -= cost
            kept += 1
        }
        var out = head
        if kept < entries.count { out += "\"torrentsOmitted\":\(entries.count - kept)," }
        out += "\"torrents\":[" + entries.prefix(kept).joined(separator: ",") + "],"
        // Problems come last and are cut too if they alone overflow (a folder of junk files).
        if out.utf8.count + problemsText.utf8.count + 1 <= maxBytes {
            out += problemsText
        } else {
            out += "\"problems\":[],\"problemsOmitted\":\(problems.count)"
        }
        return out + "}"
    }

    /// One torrent's line in the root's list.
    static func summary(_ volume: LibraryVolume, name: String) -> String {
        var out = "{\"folder\":\(quote(name)),\"infoHash\":\(quote(volume.infoHash)),"
            + "\"name\":\(quote(volume.torrentName)),"
        if let status = volume.gate?.status() {
            out += "\"state\":\"running\",\"totalLength\":\(status.totalLength),"
                + "\"verifiedBytes\":\(status.verifiedBytes),\"downloadedBytes\":\(status.downloadedBytes),"
                + "\"uploadedBytes\":\(status.uploadedBytes),\"downloadRate\":\(StatusJSON.number(status.downloadRate)),"
                + "\"uploadRate\":\(StatusJSON.number(status.uploadRate)),\"peers\":\(status.peers),"
                + "\"pendingReads\":\(status.pendingReads)}"
        } else {
            out += "\"state\":\(quote(volume.gate == nil ? volume.state : "stopped")),"
                + "\"reason\":\(quote(volume.reason ?? "the torrent was removed from the library"))}"
        }
        return out
    }

    /// A folder's own document.
    static func folder(_ volume: LibraryVolume, name: String, extra: [(String, String)]) -> String {
        let fields = extra + [("folder", name), ("state", volume.gate == nil ? volume.state : "running")]
        if let status = volume.gate?.status() {
            return StatusJSON.encode(status, extra: fields, maxBytes: StatusJSON.attributeLimit)
        }
        var out = "{\"infoHash\":\(quote(volume.infoHash)),\"name\":\(quote(volume.torrentName)),"
        for (key, value) in fields { out += "\(quote(key)):\(quote(value))," }
        return out + "\"reason\":\(quote(volume.reason ?? "the torrent was removed from the library"))}"
    }

    static func quote(_ text: String) -> String { StatusJSON.quote(text) }
}
