import SwarmStorage

extension StorageError {
    /// The kind of failure a reader is told about (carried in `ContentReadError.storage`).
    public var readFailureKind: StorageFailureKind {
        switch self {
        case .diskFull: .noSpace
        case let .io(_, _, _, code): .systemCall(errno: code)
        case .readOnly: .readOnly
        case .shortFile: .damaged
        default: .unavailable
        }
    }
}
