/// Bounds the decoder enforces so that hostile input cannot exhaust memory or the stack.
public struct BencodeLimits: Sendable, Hashable {
    /// Maximum nesting of lists and dictionaries.
    public var maxDepth: Int
    /// Maximum input size in bytes.
    public var maxInputSize: Int
    /// Maximum number of values (of any kind) in the input.
    public var maxElementCount: Int

    /// Creates limits; the defaults suit .torrent files and protocol messages.
    public init(maxDepth: Int = 64, maxInputSize: Int = 64 << 20, maxElementCount: Int = 4_000_000) {
        self.maxDepth = maxDepth
        self.maxInputSize = maxInputSize
        self.maxElementCount = maxElementCount
    }

    /// The defaults.
    public static let `default` = BencodeLimits()
}
