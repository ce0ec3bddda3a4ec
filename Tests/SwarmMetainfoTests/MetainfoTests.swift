import SwarmBencode
import SwarmMetainfo
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// A multi-file torrent built by hand, with keys deliberately out of order and unknown fields.
private let unsortedInfo = Array(("d12:piece lengthi16e4:name8:unsorted5:filesld6:lengthi20e4:pathl5:b.bine"
    + "9:x-unknown7:keep meed4:pathl1:a5:c.txte6:lengthi12eee6:pieces40:"
    + String(repeating: "p", count: 40) + "8:zz-extrali1ei2eee").utf8)

private func torrent(info: [UInt8], extra: String = "") -> [UInt8] {
    Array("d8:announce20:http://t.example/ann4:info".utf8) + info + Array((extra + "e").utf8)
}

@Suite("Metainfo parsing")
struct MetainfoTests {
    @Test("the info-hash is SHA-1 of the raw info bytes, not of a re-encoding")
    func rawInfoHash() throws {
        let bytes = torrent(info: unsortedInfo, extra: "7:comment2:hi13:creation datei1700000000e")
        let metainfo = try Metainfo(bytes: bytes)
        #expect(metainfo.rawInfo == unsortedInfo)
        #expect(metainfo.infoHash == InfoHash.sha1(of: unsortedInfo))
        let reencoded = BencodeEncoder.encode(try BencodeDecoder.decode(unsortedInfo))
        #expect(reencoded != unsortedInfo)
        #expect(metainfo.infoHash != InfoHash.sha1(of: reencoded))
        #expect(metainfo.name == "unsorted")
        #expect(metainfo.comment == "hi")
        #expect(metainfo.creationDate == 1_700_000_000)
        #expect(!metainfo.isSingleFile)
        #expect(metainfo.userFiles.map(\.path) == [["unsorted", "b.bin"], ["unsorted", "a", "c.txt"]])
        #expect(metainfo.layout.pieceCount == 2)
        #expect(metainfo.pieceHash(1) == ArraySlice(Array(repeating: UInt8(ascii: "p"), count: 20)))
        #expect(metainfo.pieceHash(2).isEmpty)
        #expect(metainfo.trackers == [["http://t.example/ann"]])
    }

    @Test("parsing the info dictionary alone (BEP 9) gives the same torrent")
    func infoDictionaryAlone() throws {
        let full = try Metainfo(bytes: torrent(info: unsortedInfo))
        let alone = try Metainfo(infoDictionary: unsortedInfo, trackers: [["udp://x:1"]])
        #expect(alone.infoHash == full.infoHash)
        #expect(alone.layout.files == full.layout.files)
        #expect(alone.trackers == [["udp://x:1"]])
    }

    @Test("a torrent written by the encoder parses back with every field")
    func encodedRoundTrip() throws {
        let info: BencodeValue = [
            "name": "payload.bin", "piece length": 16384, "length": 40_000,
            "pieces": .bytes(Array(repeating: 7, count: 60)), "private": 1,
        ]
        let root: BencodeValue = [
            "announce": "http://ignored.example/", "info": info,
            "announce-list": [["http://a/"], ["http://b/", "http://c/"]],
            "url-list": ["http://seed/"], "created by": "test", "comment.utf-8": "ü",
        ]
        let metainfo = try Metainfo(bytes: BencodeEncoder.encode(root))
        #expect(metainfo.isSingleFile && metainfo.isPrivate)
        #expect(metainfo.name == "payload.bin")
        #expect(metainfo.layout.files.map(\.path) == [["payload.bin"]])
        #expect(metainfo.layout.pieceCount == 3)
        #expect(metainfo.layout.pieceSize(2) == 40_000 - 32_768)
        #expect(metainfo.trackers == [["http://a/"], ["http://b/", "http://c/"]])
        #expect(metainfo.webSeeds == ["http://seed/"])
        #expect(metainfo.createdBy == "test")
        #expect(metainfo.comment == "ü")
        #expect(metainfo.infoHash == InfoHash.sha1(of: BencodeEncoder.encode(info)))
    }

    @Test("padding files stay in the layout but not in userFiles")
    func padding() throws {
        let info: BencodeValue = [
            "name": "p", "piece length": 16, "pieces": .bytes(Array(repeating: 0, count: 40)),
            "files": [["length": 10, "path": ["a"]],
                      ["length": 6, "path": [".pad", "6"], "attr": "p"],
                      ["length": 5, "path": ["b"]]],
        ]
        let metainfo = try Metainfo(bytes: BencodeEncoder.encode(["info": info]))
        #expect(metainfo.layout.files.count == 3)
        #expect(metainfo.layout.files[1].isPadding)
        #expect(metainfo.userFiles.map(\.index) == [0, 2])
        #expect(metainfo.userFiles.map(\.offset) == [0, 16])
        #expect(metainfo.trackers.isEmpty)
    }

    @Test("errors from a file name the file; directories and missing files are reported")
    func fileErrors() throws {
        let missing = "/nonexistent/swarmfs-\(UInt64.random(in: 0...UInt64.max)).torrent"
        do {
            _ = try Metainfo(contentsOf: missing)
            Issue.record("a missing file parsed")
        } catch {
            #expect(error.code == "cannotRead")
            #expect(error.description.contains(missing))
        }
        let fifo = "/tmp/swarmfs-fifo-\(UInt64.random(in: 0...UInt64.max))"
        #expect(mkfifo(fifo, 0o600) == 0)
        defer { unlink(fifo) }
        do {
            _ = try Metainfo(contentsOf: fifo)
            Issue.record("a FIFO parsed")
        } catch {
            #expect(error.code == "cannotRead")
            #expect(error.description.contains(fifo))
        }
        do {
            _ = try Metainfo(contentsOf: "/tmp")
            Issue.record("a directory parsed")
        } catch {
            #expect(error.code == "isDirectory")
            #expect(error.description.contains("/tmp"))
        }
    }
}
