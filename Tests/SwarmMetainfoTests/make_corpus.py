#!/usr/bin/env python3
"""Generates the malformed/edge-case .torrent corpus for SwarmMetainfoTests.

Writes Corpus/*.torrent and Corpus/manifest.json, which maps each file to its expected outcome:
  {"file": ..., "expect": "ok", "name": ..., "files": [[path, length], ...], "pieceCount": N,
   "infoHash": hex (SHA-1 of the raw info bytes, computed here independently), "private": bool,
   "trackers": [[...]], "webSeeds": [...]}
  {"file": ..., "expect": "error", "code": <MetainfoError.code>}
Expected values are written by hand from BEP 3/12/19/27/47 and swarmfs's sanitising rules
(PathSanitizer); nothing here runs swarmfs. Run: python3 Tests/SwarmMetainfoTests/make_corpus.py
"""
import hashlib
import json
import os
import shutil

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "Corpus")


def benc(value, sort=True):
    """Bencode; with sort=False dictionaries keep insertion order (to make unsorted torrents)."""
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, int):
        return b"i%de" % value
    if isinstance(value, str):
        value = value.encode()
    if isinstance(value, (bytes, bytearray)):
        return b"%d:%s" % (len(value), bytes(value))
    if isinstance(value, list):
        return b"l" + b"".join(benc(v, sort) for v in value) + b"e"
    if isinstance(value, dict):
        items = [(k.encode() if isinstance(k, str) else k, v) for k, v in value.items()]
        if sort:
            items.sort()
        return b"d" + b"".join(benc(k, sort) + benc(v, sort) for k, v in items) + b"e"
    raise TypeError(value)


def pieces_for(total, piece_length):
    count = (total + piece_length - 1) // piece_length
    return bytes(range(20)) * count


def single(name="hello.txt", length=100, piece_length=32, **extra_info):
    info = {"name": name, "length": length, "piece length": piece_length,
            "pieces": pieces_for(length, piece_length)}
    info.update(extra_info)
    return info


def multi(name, files, piece_length=16, **extra_info):
    total = sum(f["length"] for f in files)
    info = {"name": name, "files": files, "piece length": piece_length,
            "pieces": pieces_for(total, piece_length)}
    info.update(extra_info)
    return info


cases = []


def ok(file, data, name, files, piece_count, info_bytes=None, private=False, trackers=None,
       web_seeds=None):
    entry = {"file": file, "expect": "ok", "name": name, "files": files, "pieceCount": piece_count,
             "private": private, "trackers": trackers or [], "webSeeds": web_seeds or []}
    if info_bytes is not None:
        entry["infoHash"] = hashlib.sha1(info_bytes).hexdigest()
    cases.append((file, data, entry))


def err(file, data, code):
    cases.append((file, data, {"file": file, "expect": "error", "code": code}))


def torrent(info, sort=True, **root):
    top = {"announce": "http://127.0.0.1:6969/announce", "info": info}
    top.update(root)
    return benc(top, sort)


# ---- valid and edge cases -------------------------------------------------------------------
info = single()
ok("single.torrent", torrent(info), "hello.txt", [["hello.txt", 100]], 4, benc(info),
   trackers=[["http://127.0.0.1:6969/announce"]])

# Unsorted keys and unknown fields: the info-hash covers the raw bytes, not a re-encoding.
files = [{"path": ["b.bin"], "length": 20, "x-unknown": "keep me"},
         {"length": 12, "path": ["a", "c.txt"]}]
info = {"piece length": 16, "name": "unsorted", "files": files, "zz-extra": [1, 2, {"q": 1}],
        "pieces": pieces_for(32, 16), "a-extra": 7}
raw_info = benc(info, sort=False)
data = (b"d8:announce30:http://127.0.0.1:6969/announce4:info" + raw_info
        + b"7:comment5:hello13:creation datei1700000000e1:zi0ee")
ok("unsorted_unknown.torrent", data, "unsorted", [["unsorted/b.bin", 20], ["unsorted/a/c.txt", 12]],
   2, raw_info, trackers=[["http://127.0.0.1:6969/announce"]])

info = single(name="plain", **{"name.utf-8": "caf\u00e9.txt"})
ok("name_utf8.torrent", torrent(info), "caf\u00e9.txt", [["caf\u00e9.txt", 100]], 4, benc(info),
   trackers=[["http://127.0.0.1:6969/announce"]])

info = single(name=b"caf\xe9.txt")
ok("non_utf8_name.torrent", torrent(info), "caf\ufffd.txt", [["caf\ufffd.txt", 100]], 4, benc(info),
   trackers=[["http://127.0.0.1:6969/announce"]])

files = [{"path": [b"r\xe9sum\xe9.txt"], "length": 5},
         {"path": [b"bad"], "path.utf-8": ["good.txt"], "length": 5},
         {"path": ["x"], "path.utf-8": [b"\xff"], "length": 5}]
info = multi(b"dir\xff", files, piece_length=16)
ok("non_utf8_paths.torrent", torrent(info), "dir\ufffd",
   [["dir\ufffd/r\ufffdsum\ufffd.txt", 5], ["dir\ufffd/good.txt", 5], ["dir\ufffd/x", 5]], 1, benc(info),
   trackers=[["http://127.0.0.1:6969/announce"]])

hostile = [
    {"path": ["..", "..", "etc", "passwd"], "length": 1},
    {"path": ["/abs"], "length": 1},
    {"path": [b"a\x00b"], "length": 1},
    {"path": [".", "x"], "length": 1},
    {"path": ["", "y"], "length": 1},
    {"path": ["dup"], "length": 1},
    {"path": ["dup"], "length": 1},
    {"path": ["c"], "length": 1},
    {"path": ["c", "d"], "length": 1},
    {"path": ["..", ".."], "length": 1},
    {"path": ["movie.mkv"], "length": 1},
    {"path": ["movie.mkv"], "length": 1},
]
info = multi("..", hostile, piece_length=4)
ok("hostile_paths.torrent", torrent(info), "_", [
    ["_/etc/passwd", 1], ["_/_abs", 1], ["_/a_b", 1], ["_/x", 1], ["_/y", 1], ["_/dup", 1],
    ["_/dup (2)", 1], ["_/c (2)", 1], ["_/c/d", 1], ["_/_", 1], ["_/movie.mkv", 1],
    ["_/movie (2).mkv", 1]], 3, benc(info), trackers=[["http://127.0.0.1:6969/announce"]])

info = single(name="/etc/passwd")
ok("absolute_name.torrent", torrent(info), "_etc_passwd", [["_etc_passwd", 100]], 4, benc(info),
   trackers=[["http://127.0.0.1:6969/announce"]])

info = single(name=".swarmfs")  # would collide with swarmfs's own state folder in DIR
ok("reserved_name.torrent", torrent(info), "_.swarmfs", [["_.swarmfs", 100]], 4, benc(info),
   trackers=[["http://127.0.0.1:6969/announce"]])

long_name = "\u00e9" * 300  # 600 bytes of UTF-8; trimmed at a character boundary to 254 bytes
info = single(name=long_name)
ok("long_name.torrent", torrent(info), "\u00e9" * 127, [["\u00e9" * 127, 100]], 4, benc(info),
   trackers=[["http://127.0.0.1:6969/announce"]])

padded = [{"path": ["one.bin"], "length": 10},
          {"path": [".pad", "6"], "length": 6, "attr": "p"},
          {"path": ["two.bin"], "length": 17},
          {"path": [".pad", "15"], "length": 15, "attr": "p"},
          {"path": ["three.bin"], "length": 1}]
info = multi("padded", padded, piece_length=16)
ok("padding.torrent", torrent(info), "padded",
   [["padded/one.bin", 10], ["padded/two.bin", 17], ["padded/three.bin", 1]], 4, benc(info),
   trackers=[["http://127.0.0.1:6969/announce"]])

empties = [{"path": ["e1"], "length": 0}, {"path": ["data"], "length": 33},
           {"path": ["sub", "e2"], "length": 0}, {"path": ["tail"], "length": 0}]
info = multi("empties", empties, piece_length=16)
ok("empty_files.torrent", torrent(info), "empties",
   [["empties/e1", 0], ["empties/data", 33], ["empties/sub/e2", 0], ["empties/tail", 0]], 3,
   benc(info), trackers=[["http://127.0.0.1:6969/announce"]])

# Names whose trimming at a character boundary would leave "..": trimmed at a scalar boundary.
accents = "\u0301" * 127
info = single(name="..." + accents)
ok("dots_accents_name.torrent", torrent(info), "..." + accents[:126], [["..." + accents[:126], 100]], 4,
   benc(info), trackers=[["http://127.0.0.1:6969/announce"]])
info = multi("t", [{"path": [".." + accents, "f"], "length": 3}, {"path": [".", "." + accents * 2], "length": 3}])
ok("dots_accents_path.torrent", torrent(info), "t",
   [["t/.." + accents[:126] + "/f", 3], ["t/." + accents, 3]], 1, benc(info),
   trackers=[["http://127.0.0.1:6969/announce"]])

# NFC and NFD spellings are two names on Linux (and in libtorrent): both kept verbatim.
info = multi("forms", [{"path": ["caf\u00e9"], "length": 3}, {"path": ["cafe\u0301"], "length": 4}])
ok("nfc_nfd.torrent", torrent(info), "forms", [["forms/caf\u00e9", 3], ["forms/cafe\u0301", 4]], 1,
   benc(info), trackers=[["http://127.0.0.1:6969/announce"]])

# A file beside a folder of its name: the folder keeps its path, the file is renamed (libtorrent).
info = multi("t", [{"path": ["a"], "length": 3}, {"path": ["a", "b"], "length": 4}])
ok("file_beside_folder.torrent", torrent(info), "t", [["t/a (2)", 3], ["t/a/b", 4]], 1, benc(info),
   trackers=[["http://127.0.0.1:6969/announce"]])

info = single(name="../../../tmp/x")
ok("path_as_name.torrent", torrent(info), ".._.._.._tmp_x", [[".._.._.._tmp_x", 100]], 4, benc(info),
   trackers=[["http://127.0.0.1:6969/announce"]])

info = single(name="tiers.bin", private=1)
data = torrent(info, **{"announce-list": [["http://a.example/ann", "http://b.example/ann"], [],
                                          ["udp://c.example:80"]],
                        "url-list": ["http://seed.example/", "http://seed2.example/"]})
ok("tiers_private.torrent", data, "tiers.bin", [["tiers.bin", 100]], 4, benc(info), private=True,
   trackers=[["http://a.example/ann", "http://b.example/ann"], ["udp://c.example:80"]],
   web_seeds=["http://seed.example/", "http://seed2.example/"])

info = single(name="ws.bin")
data = benc({"info": info, "url-list": "http://seed.example/ws.bin"})
ok("webseed_string_no_tracker.torrent", data, "ws.bin", [["ws.bin", 100]], 4, benc(info),
   web_seeds=["http://seed.example/ws.bin"])

info = single(name="last.bin", length=33, piece_length=16)
ok("one_byte_last_piece.torrent", torrent(info), "last.bin", [["last.bin", 33]], 3, benc(info),
   trackers=[["http://127.0.0.1:6969/announce"]])

# ---- malformed ------------------------------------------------------------------------------
good = torrent(single())
err("empty.torrent", b"", "invalidBencode")
err("truncated.torrent", good[: len(good) // 2], "invalidBencode")
err("not_bencode.torrent", b"hello, world\n", "invalidBencode")
err("trailing_garbage.torrent", good + b"garbage", "invalidBencode")
err("top_level_list.torrent", benc([1, 2, 3]), "notADictionary")
err("missing_info.torrent", benc({"announce": "http://x/"}), "missingField")
err("info_not_dict.torrent", benc({"info": "nope"}), "wrongType")
info = single(); del info["name"]
err("missing_name.torrent", torrent(info), "missingField")
info = single(); del info["piece length"]
err("missing_piece_length.torrent", torrent(info), "missingField")
err("zero_piece_length.torrent", torrent(dict(single(), **{"piece length": 0})), "invalidPieceLength")
err("negative_piece_length.torrent", torrent(dict(single(), **{"piece length": -16})),
    "invalidPieceLength")
err("absurd_piece_length.torrent", torrent(dict(single(), **{"piece length": 512 << 20})),
    "invalidPieceLength")
err("piece_length_string.torrent", torrent(dict(single(), **{"piece length": "32"})), "wrongType")
info = single(); del info["pieces"]
err("missing_pieces.torrent", torrent(info), "missingField")
err("pieces_not_20.torrent", torrent(dict(single(), pieces=b"x" * 79)), "piecesNotMultipleOf20")
err("pieces_mismatch.torrent", torrent(dict(single(), pieces=b"x" * 60)), "pieceCountMismatch")
err("negative_length.torrent", torrent(single(length=-5)), "negativeLength")
info = single(); del info["length"]
err("no_length_no_files.torrent", torrent(info), "missingField")
err("length_and_files.torrent",
    torrent(dict(single(), files=[{"path": ["a"], "length": 100}])), "lengthAndFiles")
err("files_empty.torrent", torrent(multi("m", [])), "noFiles")
err("file_missing_length.torrent", torrent(dict(multi("m", [{"path": ["a"], "length": 3}]),
                                                files=[{"path": ["a"]}])), "missingField")
err("file_negative_length.torrent",
    torrent(dict(multi("m", [{"path": ["a"], "length": 3}]), files=[{"path": ["a"], "length": -3}])),
    "negativeLength")
err("file_empty_path.torrent", torrent(multi("m", [{"path": [], "length": 3}])), "emptyFilePath")
err("file_path_not_list.torrent", torrent(multi("m", [{"path": "a/b", "length": 3}])), "wrongType")
err("files_not_list.torrent", torrent(dict(multi("m", [{"path": ["a"], "length": 3}]), files=5)),
    "wrongType")
err("nesting_bomb.torrent", b"l" * 100000 + b"e" * 100000, "invalidBencode")
err("dict_nesting_bomb.torrent", b"d1:a" * 5000 + b"i0e" + b"e" * 5000, "invalidBencode")
err("leading_zero_int.torrent", good.replace(b"i100e", b"i0100e"), "invalidBencode")
err("negative_zero.torrent", good.replace(b"i100e", b"i-0e"), "invalidBencode")
err("int_overflow.torrent", good.replace(b"i100e", b"i99999999999999999999e"), "invalidBencode")
err("string_past_end.torrent", b"d4:info99999:abce", "invalidBencode")
err("string_length_leading_zero.torrent", good.replace(b"4:info", b"04:info"), "invalidBencode")
err("duplicate_key.torrent", b"d4:infod6:lengthi1e4:name1:a12:piece lengthi16e6:pieces20:"
    + bytes(20) + b"6:lengthi1eee", "invalidBencode")
err("non_string_key.torrent", b"di1ei2ee", "invalidBencode")
# Sizes whose arithmetic would overflow (issue 11): refused, never trapped on.
INT64_MAX = (1 << 63) - 1
err("length_int64_max.torrent", torrent(dict(single(), length=INT64_MAX, pieces=bytes(20))), "sizeOverflow")
err("length_int64_max_piece_1.torrent",
    torrent(dict(single(), length=INT64_MAX, pieces=bytes(20), **{"piece length": 1})), "pieceCountMismatch")
err("offsets_near_int64_max.torrent", torrent({
    "name": "m", "piece length": 1 << 20, "pieces": bytes(20),
    "files": [{"path": ["a"], "length": INT64_MAX - 10}, {"path": ["b"], "length": 5}]}), "sizeOverflow")
err("zero_total.torrent", torrent(multi("nothing", [{"path": ["zero"], "length": 0}])), "emptyTorrent")
err("zero_length_single.torrent", torrent(single(length=0)), "emptyTorrent")
err("empty_name.torrent", torrent(single(name="")), "emptyName")
err("empty_name_utf8.torrent", torrent(single(name="x", **{"name.utf-8": ""})), "emptyName")
err("total_overflow.torrent", torrent({
    "name": "m", "piece length": 1 << 20, "pieces": b"",
    "files": [{"path": ["a"], "length": 1 << 62}, {"path": ["b"], "length": 1 << 62}]}),
    "totalLengthOverflow")


def main():
    if os.path.isdir(OUT):
        for entry in os.listdir(OUT):
            if entry.startswith("."):
                continue
            path = os.path.join(OUT, entry)
            if os.path.isdir(path):
                shutil.rmtree(path)
            else:
                os.remove(path)
    os.makedirs(OUT, exist_ok=True)
    manifest = []
    for file, data, entry in cases:
        with open(os.path.join(OUT, file), "wb") as handle:
            handle.write(data)
        manifest.append(entry)
    with open(os.path.join(OUT, "manifest.json"), "w", encoding="utf-8") as handle:
        json.dump(manifest, handle, indent=1, ensure_ascii=False)
        handle.write("\n")
    print(f"wrote {len(manifest)} cases to {OUT}")


if __name__ == "__main__":
    main()
