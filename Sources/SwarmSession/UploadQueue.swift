import DequeModule
import NIOCore
import SwarmPieces
import SwarmWire

/// Blocks of peers' requests on their way out: read from disk, then sent at once or, under
/// `--max-upload-rate`, queued until the token bucket allows them.
///
/// Invariants:
/// - Every block a peer can make us hold — being read from disk or queued here — is reserved
///   first (`reserve`), and each reservation is released exactly once (sent, refused, cancelled
///   or its peer gone). `reservedBytes <= totalByteLimit` and no peer holds more than
///   `perPeerByteLimit`: a request that does not fit is refused, so what leechers ask for cannot
///   grow our memory, however long they keep their pipelines full.
/// - `order` lists queued blocks first-in first-out with the ticket each was queued under; an
///   entry whose ticket is no longer the one in `queued` (cancelled, or its peer left) is dropped
///   when it comes up, and the deque is rebuilt when such entries outnumber live ones. Cancel is
///   O(1), and the queue's memory is proportional to what it holds.
struct UploadQueue {
    struct Key: Hashable {
        let peer: PeerKey
        let request: BlockRequest
    }

    private struct Queued {
        let ticket: UInt64
        let block: ByteBuffer
    }

    /// The most bytes held for all peers together.
    let totalByteLimit: Int
    /// The most bytes held for one peer (its share).
    let perPeerByteLimit: Int

    private var order: Deque<(key: Key, ticket: UInt64)> = []
    private var queued: [Key: Queued] = [:]
    private var reservedByPeer: [PeerKey: Int] = [:]
    private(set) var reservedBytes = 0
    private var nextTicket: UInt64 = 0

    /// 16 MiB in all and 4 MiB a peer (256 blocks of 16 KiB, the most requests we ever served a
    /// peer at once): seconds of any sensible upload limit, a bounded cost for unlimited ones.
    init(totalByteLimit: Int = 16 << 20, perPeerByteLimit: Int = 4 << 20) {
        self.totalByteLimit = max(0, totalByteLimit)
        self.perPeerByteLimit = max(0, min(perPeerByteLimit, totalByteLimit))
    }

    /// Blocks waiting for upload tokens.
    var count: Int { queued.count }
    var isEmpty: Bool { queued.isEmpty }
    /// What `peer` holds reserved (blocks being read plus queued).
    func reservedBytes(of peer: PeerKey) -> Int { reservedByPeer[peer] ?? 0 }

    /// Reserves room for a block of `length` bytes for `peer` before it is read from disk.
    /// False when that would take the peer past its share or the queue past its limit: the
    /// request is then refused (BEP 6 `reject`).
    mutating func reserve(_ length: Int, for peer: PeerKey) -> Bool {
        let held = reservedByPeer[peer] ?? 0
        guard length > 0, length <= perPeerByteLimit - held, length <= totalByteLimit - reservedBytes else {
            return false
        }
        reservedByPeer[peer] = held + length
        reservedBytes += length
        return true
    }

    /// Gives back a reservation whose block was sent, or dropped without being queued.
    mutating func release(_ length: Int, for peer: PeerKey) {
        guard let held = reservedByPeer[peer] else { return }
        let returned = min(max(0, length), held)
        reservedBytes -= returned
        reservedByPeer[peer] = held == returned ? nil : held - returned
    }

    /// Queues a reserved block until tokens allow it (behind every block queued before it).
    mutating func enqueue(_ block: ByteBuffer, for request: BlockRequest, peer: PeerKey) {
        let key = Key(peer: peer, request: request)
        if let replaced = queued[key] {
            // The same request twice: the peer gets it once, and the older reservation goes.
            release(replaced.block.readableBytes, for: peer)
        }
        nextTicket &+= 1
        queued[key] = Queued(ticket: nextTicket, block: block)
        order.append((key, nextTicket))
    }

    /// Drops a queued block the peer cancelled (its reservation is released). True if it was
    /// queued; false if it is still being read from disk, or went out already.
    mutating func cancel(_ request: BlockRequest, peer: PeerKey) -> Bool {
        guard let entry = queued.removeValue(forKey: Key(peer: peer, request: request)) else { return false }
        release(entry.block.readableBytes, for: peer)
        compactIfSparse()
        return true
    }

    /// The block queued longest, taken off the queue with its reservation released.
    mutating func popFirst() -> (peer: PeerKey, request: BlockRequest, block: ByteBuffer)? {
        while let (key, ticket) = order.popFirst() {
            guard let entry = queued[key], entry.ticket == ticket else { continue }
            queued[key] = nil
            release(entry.block.readableBytes, for: key.peer)
            return (key.peer, key.request, entry.block)
        }
        return nil
    }

    /// Drops every block queued for a peer that left. Its reads still on the disk release their
    /// own reservations when they finish.
    mutating func removeAll(of peer: PeerKey) {
        for (key, entry) in queued where key.peer == peer {
            queued[key] = nil
            release(entry.block.readableBytes, for: peer)
        }
        compactIfSparse()
    }

    /// Rebuilds `order` once dropped entries outnumber live ones (amortised O(1) per cancel).
    private mutating func compactIfSparse() {
        guard order.count > 2 * queued.count + 64 else { return }
        order = Deque(order.filter { queued[$0.key]?.ticket == $0.ticket })
    }
}
