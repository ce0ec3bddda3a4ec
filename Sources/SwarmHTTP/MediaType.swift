import SwarmMetainfo

/// The `Content-Type` of a torrent's file, from its extension, and whether it is media (for
/// playlists and the page's player).
///
/// Nothing from a torrent is ever served as a type a browser would run on this origin (HTML,
/// SVG, JavaScript): those go out as `text/plain` or `application/octet-stream`, with
/// `X-Content-Type-Options: nosniff`, so a torrent cannot script the status page.
public enum MediaType {
    /// The type for `fileName` (case-insensitive extension); `application/octet-stream` if unknown.
    public static func of(_ fileName: String) -> String {
        table[MediaFile.fileExtension(fileName)] ?? "application/octet-stream"
    }

    /// Whether the file is audio or video (listed in playlists).
    public static func isMedia(_ fileName: String) -> Bool {
        MediaFile.isPlayable(fileName)
    }

    private static let table: [String: String] = [
        "mp4": "video/mp4", "m4v": "video/mp4", "mkv": "video/x-matroska",
        "webm": "video/webm", "avi": "video/x-msvideo", "mov": "video/quicktime",
        "ts": "video/mp2t", "m2ts": "video/mp2t", "mpg": "video/mpeg",
        "mpeg": "video/mpeg", "ogv": "video/ogg", "wmv": "video/x-ms-wmv",
        "flv": "video/x-flv",
        "mp3": "audio/mpeg", "flac": "audio/flac", "ogg": "audio/ogg",
        "oga": "audio/ogg", "opus": "audio/opus", "m4a": "audio/mp4",
        "aac": "audio/aac", "wav": "audio/wav", "wma": "audio/x-ms-wma",
        "txt": "text/plain; charset=utf-8", "nfo": "text/plain; charset=utf-8",
        "log": "text/plain; charset=utf-8", "md": "text/plain; charset=utf-8",
        "srt": "text/plain; charset=utf-8", "vtt": "text/vtt; charset=utf-8",
        "json": "application/json", "pdf": "application/pdf",
        "jpg": "image/jpeg", "jpeg": "image/jpeg", "png": "image/png",
        "gif": "image/gif", "webp": "image/webp",
        "zip": "application/zip", "gz": "application/gzip",
        "iso": "application/octet-stream",
        // Active content from a torrent is shown as text, never run (see above).
        "html": "text/plain; charset=utf-8", "htm": "text/plain; charset=utf-8",
        "js": "text/plain; charset=utf-8", "svg": "text/plain; charset=utf-8",
        "xml": "text/plain; charset=utf-8",
    ]
}
