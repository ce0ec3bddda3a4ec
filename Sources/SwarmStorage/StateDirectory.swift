/// The hidden DIR/.swarmfs/ folder holding swarmfs's own state beside the torrent's files
/// (resume record, lock, a copy of the .torrent, the last-used stamp).
public enum StateDirectory {
    /// The state folder's name inside a cache directory.
    public static let name = ".swarmfs"

    /// DIR/.swarmfs for a cache directory.
    public static func path(_ directory: String) -> String {
        directory + "/" + name
    }
}
