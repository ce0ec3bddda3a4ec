import SwarmContent
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The read requests waiting for data, and the lookups waiting for a magnet's tree. Each is
/// owned by the registry until someone *claims* it — the completion, or the shutdown — and the
/// claimer alone replies. An interrupt never replies: it cancels the ticket, which makes the
/// completion fire with `.cancelled` (a lookup's with `.interrupted`).
///
/// The registry also counts replies in progress so that shutdown can wait for them before the
/// session (which replies need) is destroyed.
final class PendingReads: Sendable {
    private struct Entry {
        let request: FuseRequest
        var ticket: ReadTicket?
        var interrupted = false
    }

    private struct State {
        var entries: [UInt64: Entry] = [:]
        var nextID: UInt64 = 1
        var replying = 0
        var closed = false
    }

    private let state = Mutex(State())

    /// Registers `request`; nil once closed (the caller replies itself at once).
    func register(_ request: FuseRequest) -> UInt64? {
        state.withLock { state in
            guard !state.closed else { return nil }
            let id = state.nextID
            state.nextID += 1
            state.entries[id] = Entry(request: request)
            return id
        }
    }

    /// Records the ticket of read `id`. Returns true when the read was interrupted before its
    /// ticket existed: the caller must cancel it now.
    func attach(_ ticket: ReadTicket, to id: UInt64) -> Bool {
        state.withLock { state in
            guard state.entries[id] != nil else { return false }
            state.entries[id]?.ticket = ticket
            return state.entries[id]?.interrupted ?? false
        }
    }

    /// Marks read `id` interrupted; returns its ticket to cancel if it has one yet.
    func interrupt(_ id: UInt64) -> ReadTicket? {
        state.withLock { state in
            guard state.entries[id] != nil else { return nil }
            state.entries[id]?.interrupted = true
            return state.entries[id]?.ticket
        }
    }

    /// Takes ownership of read `id`'s request to reply; nil if someone else already has.
    /// Every successful claim must be followed by `replied()`.
    func claim(_ id: UInt64) -> FuseRequest? {
        state.withLock { state in
            guard let entry = state.entries.removeValue(forKey: id) else { return nil }
            state.replying += 1
            return entry.request
        }
    }

    /// The reply of a claimed request has been sent.
    func replied(count: Int = 1) {
        state.withLock { $0.replying -= count }
    }

    /// Refuses new reads and claims every waiting one (with its ticket, to cancel), for
    /// shutdown. The caller replies to each, then calls `replied(count:)`.
    func close() -> [(request: FuseRequest, ticket: ReadTicket?)] {
        state.withLock { state in
            state.closed = true
            let all = state.entries.values.map { ($0.request, $0.ticket) }
            state.entries.removeAll()
            state.replying += all.count
            return all
        }
    }

    /// Waits (polling) until no reply is in progress, at most `milliseconds`.
    /// Returns whether none is.
    @discardableResult
    func waitForReplies(milliseconds: Int) -> Bool {
        for _ in 0..<max(1, milliseconds) {
            if state.withLock({ $0.replying == 0 }) { return true }
            usleep(1000)
        }
        return state.withLock { $0.replying == 0 }
    }

    /// Reads waiting right now.
    var count: Int { state.withLock { $0.entries.count } }
}
