import SwarmFS
import SwarmMetainfo
import Testing
@testable import SwarmLibrary

/// A small single-file .torrent: `length` varies the info-hash.
func torrentBytes(name: String, length: Int = 5) -> [UInt8] {
    let info = "d6:lengthi\(length)e4:name\(name.utf8.count):\(name)12:piece lengthi16384e6:pieces20:"
        + String(repeating: "x", count: 20) + "e"
    return Array("d4:info\(info)e".utf8)
}

func infoHash(name: String, length: Int = 5) throws -> InfoHash {
    try Metainfo(bytes: torrentBytes(name: name, length: length)).infoHash
}

func seen(_ bytes: [UInt8]) -> LibraryFileObservation { LibraryFileObservation(.contents(bytes)) }
let gone = LibraryFileObservation(.absent)

extension LibraryUpdate {
    var added: [String] { changes.compactMap { if case let .add(t) = $0 { t.folder } else { nil } } }
    var removed: [String] { changes.compactMap { if case let .remove(_, folder) = $0 { folder } else { nil } } }
    var renamed: [String] { changes.compactMap { if case let .rename(_, from, to) = $0 { "\(from)->\(to)" } else { nil } } }
}

@Suite struct LibraryCatalogTests {
    @Test func torrentFilesBecomeFoldersAndOtherFilesAreIgnored() {
        var catalog = LibraryCatalog()
        let update = catalog.update(["a.torrent": seen(torrentBytes(name: "alpha")),
                                     "notes.txt": seen(Array("hello".utf8)),
                                     "b.TORRENT": seen(torrentBytes(name: "beta"))])
        #expect(update.added == ["alpha", "beta"])
        #expect(update.removed.isEmpty && update.newProblems.isEmpty)
        #expect(catalog.torrents.map(\.folder) == ["alpha", "beta"])
    }

    @Test func aRemovedFileRemovesItsFolder() {
        var catalog = LibraryCatalog()
        _ = catalog.update(["a.torrent": seen(torrentBytes(name: "alpha"))])
        let update = catalog.update(["a.torrent": gone])
        #expect(update.removed == ["alpha"])
        #expect(catalog.torrents.isEmpty)
    }

    @Test func aReplacedFileSwapsTheTorrent() throws {
        var catalog = LibraryCatalog()
        _ = catalog.update(["a.torrent": seen(torrentBytes(name: "alpha"))])
        let update = catalog.update(["a.torrent": seen(torrentBytes(name: "alpha", length: 9))])
        #expect(update.removed == ["alpha"] && update.added == ["alpha"])
        #expect(catalog.torrents.map(\.infoHash) == [try infoHash(name: "alpha", length: 9)])
        // Removals come first, so the name is free when the new torrent takes it.
        guard case .remove = update.changes.first else { Issue.record("\(update.changes)"); return }
    }

    @Test func rewritingTheSameTorrentChangesNothing() {
        var catalog = LibraryCatalog()
        _ = catalog.update(["a.torrent": seen(torrentBytes(name: "alpha"))])
        let update = catalog.update(["a.torrent": seen(torrentBytes(name: "alpha"))])
        #expect(update.changes.isEmpty)
    }

    @Test func theSameTorrentInTwoFilesIsOneFolderUntilBothAreGone() {
        var catalog = LibraryCatalog()
        let first = catalog.update(["a.torrent": seen(torrentBytes(name: "alpha")),
                                    "copy.torrent": seen(torrentBytes(name: "alpha"))])
        #expect(first.added == ["alpha"])
        #expect(catalog.update(["a.torrent": gone]).changes.isEmpty)
        #expect(catalog.update(["copy.torrent": gone]).removed == ["alpha"])
    }

    @Test func sharedNamesAreNumberedInInfoHashOrderWhateverTheEventOrder() throws {
        let hashes = try [5, 6, 7].map { try infoHash(name: "movie", length: $0) }
        let ordered = hashes.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
        let files = [5, 6, 7].map { ("m\($0).torrent", torrentBytes(name: "movie", length: $0)) }

        var together = LibraryCatalog()
        _ = together.update(Dictionary(uniqueKeysWithValues: files.map { ($0.0, seen($0.1)) }))
        var oneByOne = LibraryCatalog()
        for (name, bytes) in files.reversed() { _ = oneByOne.update([name: seen(bytes)]) }

        let expected = ["movie", "movie (2)", "movie (3)"]
        for catalog in [together, oneByOne] {
            #expect(ordered.map { catalog.torrent($0)?.folder } == expected)
        }
    }

    @Test func aNewTorrentWithAnEarlierInfoHashRenamesTheOthers() throws {
        let hashes = try [5, 6].map { try infoHash(name: "movie", length: $0) }
        let (low, high) = hashes[0].bytes.lexicographicallyPrecedes(hashes[1].bytes) ? (5, 6) : (6, 5)
        var catalog = LibraryCatalog()
        _ = catalog.update(["high.torrent": seen(torrentBytes(name: "movie", length: high))])
        let update = catalog.update(["low.torrent": seen(torrentBytes(name: "movie", length: low))])
        #expect(update.renamed == ["movie->movie (2)"])
        #expect(update.added == ["movie"])
        #expect(catalog.update(["low.torrent": gone]).renamed == ["movie (2)->movie"])
    }

    @Test func aNumberedNameATorrentAsksForItselfIsNotGivenToAnother() {
        var catalog = LibraryCatalog()
        _ = catalog.update(["a.torrent": seen(torrentBytes(name: "x", length: 5)),
                            "b.torrent": seen(torrentBytes(name: "x", length: 6)),
                            "c.torrent": seen(torrentBytes(name: "x (2)", length: 7))])
        #expect(Set(catalog.torrents.map(\.folder)) == ["x", "x (2)", "x (3)"])
        #expect(catalog.torrents.first { $0.name == "x (2)" }?.folder == "x (2)")
    }

    @Test func malformedFilesAreReportedOnceAndNeverStopTheOthers() {
        var catalog = LibraryCatalog()
        let update = catalog.update(["bad.torrent": seen(Array("junk".utf8)),
                                     "good.torrent": seen(torrentBytes(name: "good")),
                                     "fifo.torrent": LibraryFileObservation(.unreadable("not a regular file"))])
        #expect(update.added == ["good"])
        #expect(update.newProblems.map(\.file) == ["bad.torrent", "fifo.torrent"])
        #expect(catalog.problems.map(\.file) == ["bad.torrent", "fifo.torrent"])
        // Fixed in place: the problem goes, the folder comes.
        let fixed = catalog.update(["bad.torrent": seen(torrentBytes(name: "fixed"))])
        #expect(fixed.added == ["fixed"] && fixed.newProblems.isEmpty)
        #expect(catalog.problems.map(\.file) == ["fifo.torrent"])
        _ = catalog.update(["fifo.torrent": gone])
        #expect(catalog.problems.isEmpty)
    }

    @Test func aFileStillBeingWrittenIsNotLoggedAsMalformed() {
        var catalog = LibraryCatalog()
        let partial = Array(torrentBytes(name: "alpha").prefix(10))
        let update = catalog.update(["a.torrent": LibraryFileObservation(.contents(partial), mayBeIncomplete: true)])
        #expect(update.newProblems.isEmpty && update.changes.isEmpty)
        #expect(catalog.problems.first?.reason.hasPrefix("incomplete") == true)
        #expect(catalog.update(["a.torrent": seen(torrentBytes(name: "alpha"))]).added == ["alpha"])
        #expect(catalog.problems.isEmpty)
        // A folder or FIFO of a library name is never written to: reported at once.
        let fifo = catalog.update(["f.torrent": LibraryFileObservation(.unreadable("not a regular file"), mayBeIncomplete: true)])
        #expect(fifo.newProblems.map(\.file) == ["f.torrent"])
    }

    @Test func magnetFilesListOneFolderPerLinkAndSkipCommentsAndBadLines() throws {
        let hexA = String(repeating: "ab", count: 20)
        let hexB = String(repeating: "cd", count: 20)
        let text = "# my list\n\nmagnet:?xt=urn:btih:\(hexA)&dn=First%20one\n  magnet:?xt=urn:btih:\(hexB)\nnot a link\n"
        var catalog = LibraryCatalog()
        let update = catalog.update(["list.magnet": seen(Array(text.utf8))])
        #expect(update.added == ["First one", hexB])
        #expect(catalog.torrents.allSatisfy { $0.isMagnet })
        #expect(update.newProblems.map(\.file) == ["list.magnet"])
        #expect(update.newProblems.first?.reason.contains("line 5") == true)
    }

    @Test func aTorrentFileWinsOverAMagnetForTheSameInfoHash() throws {
        let hash = try infoHash(name: "alpha")
        var catalog = LibraryCatalog()
        _ = catalog.update(["a.magnet": seen(Array("magnet:?xt=urn:btih:\(hash.hex)&dn=alpha\n".utf8))])
        #expect(catalog.torrent(hash)?.isMagnet == true)
        let update = catalog.update(["a.torrent": seen(torrentBytes(name: "alpha"))])
        #expect(update.removed == ["alpha"] && update.added == ["alpha"])
        #expect(catalog.torrent(hash)?.isMagnet == false)
    }

    @Test func hostileNamesBecomeOneSafeComponentOfAtMost255Bytes() {
        let long = String(repeating: "é", count: 200)  // 400 bytes
        let names = LibraryCatalog.folderNames([
            (InfoHash(bytes: [UInt8](repeating: 1, count: 20))!, LibraryCatalog.truncated(long, toBytes: 255)),
            (InfoHash(bytes: [UInt8](repeating: 2, count: 20))!, LibraryCatalog.truncated(long, toBytes: 255)),
        ])
        #expect(names.values.allSatisfy { $0.utf8.count <= 255 })
        #expect(Set(names.values).count == 2)
        var catalog = LibraryCatalog()
        _ = catalog.update(["m.magnet": seen(Array("magnet:?xt=urn:btih:\(String(repeating: "ef", count: 20))&dn=..%2F..%2Fetc\n".utf8))])
        #expect(catalog.torrents.map(\.folder) == [".._.._etc"])
    }

    @Test func theNumberOfFilesTrackedIsBounded() {
        var catalog = LibraryCatalog()
        var batch: [String: LibraryFileObservation] = [:]
        for index in 0...LibraryCatalog.maxFiles { batch["f\(index).torrent"] = LibraryFileObservation(.unreadable("x")) }
        _ = catalog.update(batch)
        #expect(catalog.problems.count == LibraryCatalog.maxFiles)
        #expect(catalog.ignoredFiles == 1)
    }
}
