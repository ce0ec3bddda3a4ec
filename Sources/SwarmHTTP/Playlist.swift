/// M3U playlists and the URLs in them.
public enum Playlist {
    /// An extended M3U listing the media files of `torrents`, each as an absolute URL on `base`
    /// (`http://HOST:PORT`).
    public static func m3u(_ torrents: [HTTPTorrent], base: String) -> String {
        var out = "#EXTM3U\n"
        for torrent in torrents {
            for file in torrent.files where MediaType.isMedia(file.path.last ?? "") {
                // A line break in a title would start a new entry: titles are one line.
                let title = file.path.joined(separator: "/").map { $0.isNewline ? " " : $0 }
                out += "#EXTINF:-1,\(String(title))\n\(base)\(filePath(infoHash: torrent.infoHash, path: file.path))\n"
            }
        }
        return out
    }

    /// The server path of a file: `/t/INFOHASH/` and each component percent-encoded.
    public static func filePath(infoHash: String, path: [String]) -> String {
        "/t/\(infoHash)/" + path.map(percentEncode).joined(separator: "/")
    }

    /// `text` with everything but RFC 3986 unreserved characters percent-encoded.
    public static func percentEncode(_ text: String) -> String {
        var out = ""
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                 UInt8(ascii: "_"), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(byte))
            default:
                let digits = Array("0123456789ABCDEF".unicodeScalars)
                out += "%"
                out.unicodeScalars.append(digits[Int(byte >> 4)])
                out.unicodeScalars.append(digits[Int(byte & 0xF)])
            }
        }
        return out
    }

    /// The `http://HOST` base for absolute URLs: the request's `Host` header when it is a plain
    /// host name or address with an optional port (nothing that could inject into the playlist),
    /// else `fallback` (the address the server is bound to).
    public static func base(host: String?, fallback: String) -> String {
        guard let host, !host.isEmpty, host.utf8.count <= 255,
              host.utf8.allSatisfy({ byte in
                  switch byte {
                  case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                       UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "."),
                       UInt8(ascii: ":"), UInt8(ascii: "["), UInt8(ascii: "]"): true
                  default: false
                  }
              }) else { return "http://\(fallback)" }
        return "http://\(host)"
    }
}
