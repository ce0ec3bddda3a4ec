import CFuse3

#if canImport(Glibc)
import Glibc
#endif

/// Reading extended attributes of a path (getxattr(2) is not in Swift's Glibc module).
public enum ExtendedAttributes {
    /// An errno from getxattr.
    public struct Failure: Error, Sendable, Equatable {
        public let errno: Int32
    }

    /// The value of attribute `name` of `path` (following symlinks).
    public static func value(of path: String, name: String) -> Result<[UInt8], Failure> {
        for _ in 0..<4 {
            let size = getxattr(path, name, nil, 0)
            guard size >= 0 else { return .failure(Failure(errno: errno)) }
            // Room for growth between the two calls (the status changes constantly).
            var buffer = [UInt8](repeating: 0, count: size + 4096)
            let count = getxattr(path, name, &buffer, buffer.count)
            if count >= 0 { return .success(Array(buffer[0..<count])) }
            if errno != ERANGE { return .failure(Failure(errno: errno)) }
        }
        return .failure(Failure(errno: ERANGE))
    }
}
