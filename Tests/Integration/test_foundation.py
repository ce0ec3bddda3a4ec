"""Foundation cross-checks (issue 2): `swarmfs info` and `swarmfs create` against libtorrent.

Run: SWARMFS_BIN=.build/debug/swarmfs /usr/bin/python3 -m pytest -q Tests/Integration/test_foundation.py

- torrents libtorrent makes (single file, multi-file, with BEP 47 padding) give the same info-hash,
  file list, piece length and piece count in `swarmfs info --json` as in libtorrent;
- torrents `swarmfs create` makes load in libtorrent with the same metadata, and a libtorrent
  session pointed at the payload re-checks them to 100% (and to < 100% when a byte is flipped);
- every malformed torrent of the unit-test corpus exits 2 within a second with one sentence on
  stderr naming the file; directories and missing paths too; `--help`/`--version` work.
Needs only subprocess, tempfile and Debian's python3-libtorrent.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import time

import libtorrent as lt
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SWARMFS = os.environ.get("SWARMFS_BIN") or os.path.join(REPO, ".build", "debug", "swarmfs")
CORPUS = os.path.join(REPO, "Tests", "SwarmMetainfoTests", "Corpus")


def swarmfs(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([SWARMFS, *args], capture_output=True, text=True, timeout=timeout)


def info_json(path: str) -> dict:
    result = swarmfs("info", "--json", path)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def write_random(path: str, size: int, seed: int) -> None:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    rng = random.Random(seed)
    with open(path, "wb") as handle:
        handle.write(rng.randbytes(size))


@pytest.fixture
def payloads(tmp_path):
    """A single file and a folder whose sizes straddle piece boundaries (16 KiB pieces)."""
    single = str(tmp_path / "single" / "movie.bin")
    write_random(single, 3 * 16384 + 1, 1)  # last piece of one byte
    folder = str(tmp_path / "multi" / "album")
    for index, (name, size) in enumerate([("a.bin", 16384), ("b/c.bin", 7), ("b/d.bin", 40000),
                                          ("e.empty", 0), ("f/g/h.bin", 1), ("z.bin", 20000)]):
        write_random(os.path.join(folder, name), size, 10 + index)
    return {"single": single, "multi": folder}


def lt_make(source: str, out: str, flags: int, piece_size: int = 16384,
            trackers=("http://127.0.0.1:6969/announce",), private: bool = False) -> lt.torrent_info:
    storage = lt.file_storage()
    lt.add_files(storage, source)
    creator = lt.create_torrent(storage, piece_size, flags=flags)
    for tier, url in enumerate(trackers):
        creator.add_tracker(url, tier)
    creator.set_priv(private)
    lt.set_piece_hashes(creator, os.path.dirname(source))
    with open(out, "wb") as handle:
        handle.write(lt.bencode(creator.generate()))
    return lt.torrent_info(out)


def is_pad(files: lt.file_storage, index: int) -> bool:
    return bool(files.file_flags(index) & lt.file_storage.flag_pad_file)


def lt_view(info: lt.torrent_info) -> dict:
    """What swarmfs info --json must report, computed by libtorrent."""
    files = info.files()
    user_files = [{"path": files.file_path(i).replace(os.sep, "/"), "length": files.file_size(i)}
                  for i in range(files.num_files()) if not is_pad(files, i)]
    tiers: dict[int, list[str]] = {}
    for entry in info.trackers():
        tiers.setdefault(entry.tier, []).append(entry.url)
    return {
        "name": info.name(),
        "infoHash": str(info.info_hashes().v1),
        "totalLength": info.total_size(),
        "pieceLength": info.piece_length(),
        "pieceCount": info.num_pieces(),
        "private": info.priv(),
        "trackers": [tiers[tier] for tier in sorted(tiers)],
        "files": user_files,
    }


def expect_same(ours: dict, theirs: dict) -> None:
    for key, value in theirs.items():
        if key == "files":
            # libtorrent's add_files order is not sorted; compare as sets, and order when it is.
            assert sorted(map(json.dumps, ours["files"])) == sorted(map(json.dumps, value)), key
        else:
            assert ours[key] == value, key


@pytest.mark.parametrize("kind", ["single", "multi"])
@pytest.mark.parametrize("padding", [False, True], ids=["no-padding", "padding"])
def test_libtorrent_torrents_read_the_same(payloads, tmp_path, kind, padding):
    flags = lt.create_torrent.v1_only
    if padding:
        flags |= lt.create_torrent.canonical_files
    info = lt_make(payloads[kind], str(tmp_path / "lt.torrent"), flags)
    theirs = lt_view(info)
    if padding and kind == "multi":
        files = info.files()
        assert any(is_pad(files, i) for i in range(files.num_files())), "expected BEP 47 padding"
    ours = info_json(str(tmp_path / "lt.torrent"))
    expect_same(ours, theirs)
    assert set(ours) >= {"name", "infoHash", "totalLength", "pieceLength", "pieceCount", "private",
                         "trackers", "webSeeds", "files"}


def lt_recheck(torrent: str, save_path: str, timeout: float = 30) -> float:
    """Progress libtorrent reaches after checking the payload in save_path from scratch (no
    resume data and no seed mode, so every piece is hashed); waits for torrent_checked_alert."""
    session = lt.session({
        "listen_interfaces": "127.0.0.1:0", "enable_dht": False, "enable_lsd": False,
        "enable_upnp": False, "enable_natpmp": False,
        "alert_mask": lt.alert.category_t.status_notification | lt.alert.category_t.error_notification,
    })
    try:
        params = lt.add_torrent_params()
        params.ti = lt.torrent_info(torrent)
        params.save_path = save_path
        params.flags &= ~lt.torrent_flags.seed_mode
        handle = session.add_torrent(params)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            time.sleep(0.1)  # not wait_for_alert: its binding can segfault (see peers/lt_peer.py)
            for alert in session.pop_alerts():
                if isinstance(alert, lt.torrent_checked_alert):
                    return handle.status().progress
                if isinstance(alert, lt.torrent_error_alert):
                    raise AssertionError(f"libtorrent error: {alert.message()}")
        raise AssertionError("libtorrent did not finish checking in time")
    finally:
        for handle in session.get_torrents():
            session.remove_torrent(handle)
        del session


@pytest.mark.parametrize("kind", ["single", "multi"])
def test_created_torrents_load_and_verify_in_libtorrent(payloads, tmp_path, kind):
    source = payloads[kind]
    out = str(tmp_path / "ours.torrent")
    result = swarmfs("create", source, "-o", out, "--announce", "http://127.0.0.1:6969/announce",
                     "--announce", "udp://127.0.0.1:6969", "--web-seed", "http://127.0.0.1:8000/",
                     "--comment", "made by the test", "--piece-length", "16K", "--private")
    assert result.returncode == 0, result.stderr
    info = lt.torrent_info(out)
    ours = info_json(out)
    expect_same(ours, lt_view(info))
    assert ours["trackers"] == [["http://127.0.0.1:6969/announce"], ["udp://127.0.0.1:6969"]]
    assert [seed["url"] for seed in info.web_seeds()] == ["http://127.0.0.1:8000/"]
    assert ours["webSeeds"] == ["http://127.0.0.1:8000/"]
    assert info.priv() and info.comment() == "made by the test"

    # The info-hash is SHA-1 of the raw info dictionary as written.
    raw = lt.bdecode(open(out, "rb").read())
    assert hashlib.sha1(lt.bencode(raw[b"info"])).hexdigest() == ours["infoHash"]

    assert lt_recheck(out, os.path.dirname(source)) == pytest.approx(1.0)

    # Flip one byte of the payload: libtorrent must now find a piece invalid.
    victim = source if kind == "single" else os.path.join(source, "b", "d.bin")
    with open(victim, "r+b") as handle:
        handle.seek(100)
        byte = handle.read(1)
        handle.seek(100)
        handle.write(bytes([byte[0] ^ 0xFF]))
    assert 0.0 < lt_recheck(out, os.path.dirname(source)) < 1.0


def test_create_picks_a_libtorrent_like_piece_length_and_is_deterministic(tmp_path):
    source = str(tmp_path / "big.bin")
    write_random(source, 3 * 1024 * 1024, 7)
    first, second = str(tmp_path / "1.torrent"), str(tmp_path / "2.torrent")
    for out in (first, second):
        result = swarmfs("create", source, "-o", out, "--creation-date", "1700000000", "--quiet")
        assert result.returncode == 0, result.stderr
        assert result.stdout == ""
    assert open(first, "rb").read() == open(second, "rb").read()
    info = lt.torrent_info(first)
    # libtorrent's rule: smallest power of two >= 16 KiB giving at most ~2048 pieces.
    assert info.piece_length() == 16384 * 2 ** max(0, (3 * 1024 * 1024 // 2048 - 1).bit_length() - 14)
    assert lt_recheck(first, str(tmp_path)) == pytest.approx(1.0)


def test_info_text_reports_like_transmission_show(payloads, tmp_path):
    out = str(tmp_path / "t.torrent")
    assert swarmfs("create", payloads["multi"], "-o", out, "--announce", "http://127.0.0.1:1/a",
                   "--quiet").returncode == 0
    ours = info_json(out)
    result = swarmfs("info", out)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    for needle in ["Name: album", "Hash: " + ours["infoHash"], f"Piece Count: {ours['pieceCount']}",
                   "Piece Size: 16.00 KiB", f"({ours['totalLength']} bytes)", "Privacy: Public torrent",
                   "Tier #1", "http://127.0.0.1:1/a", "album/b/d.bin", "album/e.empty"]:
        assert needle in text, needle


def corpus_cases():
    with open(os.path.join(CORPUS, "manifest.json"), encoding="utf-8") as handle:
        return json.load(handle)


@pytest.mark.parametrize("case", [c for c in corpus_cases() if c["expect"] == "error"],
                         ids=lambda c: c["file"])
def test_malformed_torrents_exit_2_quickly_naming_the_file(case):
    path = os.path.join(CORPUS, case["file"])
    started = time.monotonic()
    result = swarmfs("info", path, timeout=10)
    assert time.monotonic() - started < 1.0
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and path in lines[0], result.stderr


@pytest.mark.parametrize("case", [c for c in corpus_cases() if c["expect"] == "ok"],
                         ids=lambda c: c["file"])
def test_edge_case_torrents_read_as_the_manifest_says(case):
    ours = info_json(os.path.join(CORPUS, case["file"]))
    assert ours["name"] == case["name"]
    assert [[f["path"], f["length"]] for f in ours["files"]] == case["files"]
    assert ours["pieceCount"] == case["pieceCount"]
    assert ours["trackers"] == case["trackers"]
    assert ours["private"] == case["private"]
    if "infoHash" in case:
        assert ours["infoHash"] == case["infoHash"]


def test_directories_and_missing_paths_are_bad_input(tmp_path):
    for args, needle in [(["info", str(tmp_path)], str(tmp_path)),
                         (["info", str(tmp_path / "nope.torrent")], "nope.torrent"),
                         (["create", str(tmp_path / "nope"), "-o", str(tmp_path / "x.torrent")], "nope"),
                         (["create", str(tmp_path), "-o", str(tmp_path / "x.torrent")], str(tmp_path)),
                         (["create", str(tmp_path), "-o", str(tmp_path / "x.torrent"),
                           "--piece-length", "1000"], "1000")]:
        result = swarmfs(*args)
        assert result.returncode == 2, (args, result.stderr)
        assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not os.path.exists(tmp_path / "x.torrent")


def test_usage_errors_exit_2_and_help_lists_every_command():
    assert swarmfs("create").returncode == 2
    assert swarmfs("info", "--no-such-flag", "x").returncode == 2
    result = swarmfs("--help")
    assert result.returncode == 0
    for command in ["info", "create", "download", "mount", "unmount", "status", "seed", "verify", "cache"]:
        assert command in result.stdout
    for command in ["info", "create"]:
        assert swarmfs(command, "--help").returncode == 0
    version = swarmfs("--version")
    assert version.returncode == 0 and version.stdout.strip()
