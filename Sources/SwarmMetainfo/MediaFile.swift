/// Which of a torrent's files are audio or video, by extension: what playlists list, what the
/// web page plays, and whose last bytes a player reads right after the first (an MP4's `moov`,
/// Matroska's cues, an AVI's index, the last Ogg page for the duration, ID3v1).
public enum MediaFile {
    /// Whether `fileName` (its extension, case-insensitively) is audio or video.
    public static func isPlayable(_ fileName: String) -> Bool {
        extensions.contains(fileExtension(fileName))
    }

    /// The lowercased extension after the last dot ("" without one, or for a dot file).
    public static func fileExtension(_ fileName: String) -> String {
        guard let dot = fileName.lastIndex(of: "."), dot != fileName.startIndex else { return "" }
        return String(fileName[fileName.index(after: dot)...]).lowercased()
    }

    static let extensions: Set<String> = [
        "mp4", "m4v", "mkv", "webm", "avi", "mov", "ts", "m2ts", "mpg", "mpeg", "ogv", "wmv", "flv",
        "mp3", "flac", "ogg", "oga", "opus", "m4a", "aac", "wav", "wma",
    ]
}
