/// What travels on a peer connection: one handshake first, then messages.
public enum PeerWireFrame: Sendable, Equatable {
    /// The 68-byte handshake.
    case handshake(Handshake)
    /// A length-prefixed message.
    case message(PeerMessage)
}
