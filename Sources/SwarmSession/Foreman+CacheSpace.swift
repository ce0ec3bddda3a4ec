import NIOCore
import SwarmPieces

/// The Foreman under the engine's `--cache-size`: it steers its picker by its `CacheShare`, and
/// is the `CacheSpaceMember` that offers cold pieces and evicts them (withdrawn from readers,
/// no longer claimed by the record, holes punched on the pool).
extension Foreman: CacheSpaceMember {
    /// Lets background fill run only while a size limit has room for it (`CacheShare.steer`).
    func updateBackgroundFill() {
        cache.steer(&picker, downloadAll: configuration.downloadMode == .all)
    }

    /// Keeps the cache under `--cache-size`: the engine's `CacheSpace` evicts the coldest
    /// verified pieces of all its torrents (least recently read or verified), through
    /// `evictionCandidates` and `evict` below.
    func enforceCacheLimit() {
        defer { updateBackgroundFill() }
        cache.enforce()
    }

    /// Never what a reader waits for or reads ahead into, nor a piece being evicted already.
    func evictionCandidates() -> [(piece: Int, stamp: UInt64, bytes: Int64)] {
        guard !stopped else { return [] }
        return cache.candidates(have: picker.have) { picker.isReadOrReadAhead($0) }
    }

    /// Withdraws the pieces from readers (a piece being replied from right now refuses and
    /// stays), stops claiming them in the record and punches their holes on the pool.
    func evict(_ pieces: [Int]) -> Bool {
        let verified = self.verified
        guard let evicted = cache.beginEviction(of: pieces, withdraw: { verified.withdraw($0) }) else { return false }
        let checkpointer = self.checkpointer
        let logger = self.logger
        let bound = NIOLoopBound(self, eventLoop: eventLoop)
        logger.debug("evicting cold pieces", metadata: ["pieces": "\(evicted.count)", "limit": "\(cache.limit ?? 0)"])
        threadPool.runIfActive(eventLoop: eventLoop) {
            do {
                try checkpointer.evict(evicted)
            } catch {
                logger.error("cannot evict pieces from the cache", metadata: ["error": "\(error)"])
            }
        }.whenComplete { _ in
            bound.value.evictionFinished(evicted)
        }
        return true
    }

    /// The holes are punched: the pieces are ordinary missing pieces again, fetched at once for
    /// any read that came for them meanwhile.
    private func evictionFinished(_ victims: [Int]) {
        cache.evictionFinished(victims)
        for piece in victims {
            picker.pieceEvicted(piece)
            for _ in readDesk.ids(waitingFor: piece) {
                picker.addWaitingRead(pieces: piece..<(piece + 1))
            }
        }
        enforceCacheLimit()
        updateBackgroundFill()
        scheduler.fillAll()
    }
}
