/// How urgently a piece is wanted, highest first. The picker serves a higher class completely
/// before it looks at a lower one.
public enum PiecePriority: Int, Comparable, Sendable, CaseIterable {
    /// Not wanted (already verified, or `--download on-demand` outside any read).
    case none = 0
    /// Background fill: the rest of the torrent, in order.
    case background = 1
    /// The first and last pieces of a file: container headers and indexes that players seek to.
    case fileEdge = 2
    /// Inside a reader's readahead window.
    case soon = 3
    /// Under a read that is waiting right now.
    case now = 4

    public static func < (lhs: PiecePriority, rhs: PiecePriority) -> Bool { lhs.rawValue < rhs.rawValue }
}
