import NIOCore

/// How the engine reaches a peer: over uTP first when it is on (a short connect timeout: two SYNs,
/// about 1.5 s), then over TCP, as libtorrent does; it remembers per address which worked, so a
/// TCP-only peer costs the uTP attempt once. With only one transport on, only that one.
///
/// Invariants: used on the engine's loop only; `preferred` holds at most `memoryLimit` addresses.
final class PeerDialer {
    enum Transport { case utp, tcp }

    /// The address outbound connections leave from ("0.0.0.0": any).
    let connectFromHost: String
    private let utp: UTPService?
    private let tcp: Bool
    private var preferred: [String: Transport] = [:]
    static let memoryLimit = 4096

    init(connectFromHost: String, utp: UTPService?, tcp: Bool) {
        self.connectFromHost = connectFromHost
        self.utp = utp
        self.tcp = tcp
    }

    /// TCP only, from `connectFromHost` (unit tests, and an engine with uTP off).
    static func tcpOnly(from connectFromHost: String) -> PeerDialer {
        PeerDialer(connectFromHost: connectFromHost, utp: nil, tcp: true)
    }

    /// Connects to `candidate` and installs the owner's pipeline on the new channel.
    func connect(on eventLoop: EventLoop, to candidate: PeerDirectory.Candidate,
                 install: @escaping @Sendable (Channel) throws -> Void) -> EventLoopFuture<Channel> {
        let address = candidate.address
        guard let utp, preferred[address] != .tcp || !tcp else {
            return PeerDialing.connect(on: eventLoop, from: connectFromHost, to: candidate, install: install)
        }
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        return utp.connect(host: candidate.host, port: candidate.port, install: install).map { channel in
            bound.value.remember(address, .utp)
            return channel
        }.flatMapError { error in
            let dialer = bound.value
            guard dialer.tcp else { return eventLoop.makeFailedFuture(error) }
            return PeerDialing.connect(on: eventLoop, from: dialer.connectFromHost, to: candidate, install: install).map { channel in
                bound.value.remember(address, .tcp)
                return channel
            }
        }
    }

    private func remember(_ address: String, _ transport: Transport) {
        if preferred.count >= Self.memoryLimit, preferred[address] == nil { preferred.removeAll(keepingCapacity: true) }
        preferred[address] = transport
    }
}
