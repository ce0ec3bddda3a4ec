/// The `Content-Type` of a torrent's file, from its extension, and whether it is media (for
/// playlists and the page's player).
///
/// Nothing from a torrent is ever served as a type a browser would run on this origin (HTML,
/// SVG, JavaScript): those go out as `text/plain` or `application/octet-stream`, with
/// `X-Content-Type-Options: nosniff`, so a torrent cannot script the status page.
public enum MediaType {
    /// The type for `fileName` (case-insensitive extension); `application/octet-stream` if unknown.
    public static func of(_ fileName: String) -> String {
        table[fileExtension(fileName)]?.type ?? "application/octet-stream"
    }

    /// Whether the file is audio or video (listed in playlists).
    public static func isMedia(_ fileName: String) -> Bool {
        table[fileExtension(fileName)]?.media ?? false
    }

    /// The lowercased extension after the last dot ("" without one).
    static func fileExtension(_ fileName: String) -> String {
        guard let dot = fileName.lastIndex(of: "."), dot != fileName.startIndex else { return "" }
        return String(fileName[fileName.index(after: dot)...]).lowercased()
    }

    private static let table: [String: (type: String, media: Bool)] = [
        "mp4": ("video/mp4", true), "m4v": ("video/mp4", true), "mkv": ("video/x-matroska", true),
        "webm": ("video/webm", true), "avi": ("video/x-msvideo", true), "mov": ("video/quicktime", true),
        "ts": ("video/mp2t", true), "m2ts": ("video/mp2t", true), "mpg": ("video/mpeg", true),
        "mpeg": ("video/mpeg", true), "ogv": ("video/ogg", true), "wmv": ("video/x-ms-wmv", true),
        "flv": ("video/x-flv", true),
        "mp3": ("audio/mpeg", true), "flac": ("audio/flac", true), "ogg": ("audio/ogg", true),
        "oga": ("audio/ogg", true), "opus": ("audio/opus", true), "m4a": ("audio/mp4", true),
        "aac": ("audio/aac", true), "wav": ("audio/wav", true), "wma": ("audio/x-ms-wma", true),
        "txt": ("text/plain; charset=utf-8", false), "nfo": ("text/plain; charset=utf-8", false),
        "log": ("text/plain; charset=utf-8", false), "md": ("text/plain; charset=utf-8", false),
        "srt": ("text/plain; charset=utf-8", false), "vtt": ("text/vtt; charset=utf-8", false),
        "json": ("application/json", false), "pdf": ("application/pdf", false),
        "jpg": ("image/jpeg", false), "jpeg": ("image/jpeg", false), "png": ("image/png", false),
        "gif": ("image/gif", false), "webp": ("image/webp", false),
        "zip": ("application/zip", false), "gz": ("application/gzip", false),
        "iso": ("application/octet-stream", false),
        // Active content from a torrent is shown as text, never run (see above).
        "html": ("text/plain; charset=utf-8", false), "htm": ("text/plain; charset=utf-8", false),
        "js": ("text/plain; charset=utf-8", false), "svg": ("text/plain; charset=utf-8", false),
        "xml": ("text/plain; charset=utf-8", false),
    ]
}
