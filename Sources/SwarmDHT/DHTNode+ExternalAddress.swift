import SwarmMetainfo

/// BEP 42 for our own id: responders tell us the address they see us at (`ip`); once enough of
/// them agree on a public address our id is not valid for, we take a valid id for it, so that
/// nodes that prefer verified ids (libtorrent's default) keep us in their tables. The table is
/// kept (refiled under the new id; its nodes start questionable again).
extension DHTNode {
    /// Responders that must name the same address before our id changes.
    static let externalAddressVotes = 5
    /// Distinct addresses counted at once (more: the count starts over).
    static let maxExternalAddressCandidates = 16

    /// Counts one responder's view of our address; may change our id.
    func noteExternalAddress(_ address: PeerAddress?, now: ContinuousClock.Instant) {
        guard let ip = address?.ipAddress, !ip.isBEP42Exempt, ip != externalAddress else { return }
        if externalAddressVotes[ip] == nil, externalAddressVotes.count >= Self.maxExternalAddressCandidates {
            externalAddressVotes.removeAll()
        }
        let votes = externalAddressVotes[ip, default: 0] + 1
        externalAddressVotes[ip] = votes
        guard votes >= Self.externalAddressVotes else { return }
        externalAddress = ip
        externalAddressVotes.removeAll()
        guard !table.ownID.isBEP42Valid(for: ip) else { return }
        var generator = SystemRandomNumberGenerator()
        let secureID = NodeID.secure(for: ip, using: &generator)
        if let refiled = try? RoutingTable(restoring: table.serialised(now: now), ownID: secureID, now: now) {
            table = refiled
        }
    }
}
