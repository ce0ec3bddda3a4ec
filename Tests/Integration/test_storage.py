"""`swarmfs verify` and `swarmfs cache` against folders laid out by libtorrent's own payload tools
(the same layout any client produces), checked with real .torrent files from libtorrent."""

from __future__ import annotations

import json
import os
import shutil

import pytest

from swarmkit import aria2c_leecher_argv
from swarmkit.torrents import make_torrent


def _flip_byte(path: str, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_verify_complete_folder_exits_zero(run, multi_payload):
    torrent = make_torrent(multi_payload, piece_size=32 * 1024)
    result = run("verify", torrent.path, multi_payload.save_path)
    assert result.returncode == 0, result.stderr
    assert f"{torrent.num_pieces}/{torrent.num_pieces} pieces valid" in result.stdout
    assert "incomplete" not in result.stdout
    # verify never writes into the folder it checks
    assert not os.path.exists(os.path.join(multi_payload.save_path, ".swarmfs"))


def test_verify_reports_the_damaged_file_and_piece(run, multi_payload):
    torrent = make_torrent(multi_payload, piece_size=32 * 1024)
    victim = multi_payload.file("multi/media/movie.mkv")
    _flip_byte(multi_payload.local_path(victim), 100_000)
    result = run("verify", "--json", torrent.path, multi_payload.save_path)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["infoHash"] == torrent.info_hash
    assert report["validPieces"] == torrent.num_pieces - 1
    offset_in_torrent = sum(f.size for f in multi_payload.files[:multi_payload.files.index(victim)]) + 100_000
    bad_piece = offset_in_torrent // (32 * 1024)
    assert report["missingPieces"] == [[bad_piece, bad_piece]]
    assert report["complete"] is False
    by_path = {f["path"]: f for f in report["files"]}
    assert by_path["multi/media/movie.mkv"]["complete"] is False
    assert by_path["multi/media/movie.mkv"]["verifiedBytes"] <= victim.size - 32 * 1024
    assert by_path["multi/README.txt"]["complete"] is True
    assert by_path["multi/empty.dat"]["complete"] is True


def test_verify_missing_and_truncated_files(run, single_payload):
    torrent = make_torrent(single_payload, piece_size=64 * 1024)
    path = single_payload.local_path(single_payload.files[0])
    with open(path, "r+b") as f:
        f.truncate(1024 * 1024)
    result = run("verify", torrent.path, single_payload.save_path)
    assert result.returncode == 1
    assert f"16/{torrent.num_pieces} pieces valid" in result.stdout
    assert f"missing pieces: 16-{torrent.num_pieces - 1}" in result.stdout
    os.remove(path)
    result = run("verify", torrent.path, single_payload.save_path)
    assert result.returncode == 1
    assert f"0/{torrent.num_pieces} pieces valid" in result.stdout


def test_verify_bad_input_exits_two(run, single_payload, tmp_path):
    torrent = make_torrent(single_payload, piece_size=64 * 1024)
    garbage = tmp_path / "garbage.torrent"
    garbage.write_bytes(b"d4:infoi3ee")
    for args in (["verify", str(tmp_path / "missing.torrent"), single_payload.save_path],
                 ["verify", str(garbage), single_payload.save_path],
                 ["verify", torrent.path, str(tmp_path / "no-such-dir")]):
        result = run(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr.strip(), "one sentence on stderr"


def _fake_cache_entry(root: str, torrent, payload, last_used: int) -> str:
    """A cache directory as a mount leaves it: the torrent's files plus .swarmfs/torrent."""
    entry = os.path.join(root, torrent.info_hash)
    shutil.copytree(payload.save_path, entry)
    os.makedirs(os.path.join(entry, ".swarmfs"))
    shutil.copy(torrent.path, os.path.join(entry, ".swarmfs", "torrent"))
    stamp = os.path.join(entry, ".swarmfs", "last-used")
    open(stamp, "w").close()
    os.utime(stamp, (last_used, last_used))
    return entry


def test_cache_list_remove_prune(run, tmp_path):
    from swarmkit import make_single_payload

    root = tmp_path / "xdg" / "swarmfs"
    root.mkdir(parents=True)
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    entries = []
    for index, name in enumerate(["alpha.bin", "beta.bin", "gamma.bin"]):
        payload = make_single_payload(str(tmp_path / f"p{index}"), size=300_000 + index, name=name, seed=index + 5)
        torrent = make_torrent(payload, piece_size=16 * 1024)
        entries.append((name, torrent, _fake_cache_entry(str(root), torrent, payload, 1_000_000 + index)))

    listed = json.loads(run("cache", "list", "--json", env=env, check=True).stdout)
    assert [e["name"] for e in listed] == ["gamma.bin", "beta.bin", "alpha.bin"]
    assert all(e["sizeOnDisk"] >= 300_000 for e in listed)
    assert {e["infoHash"] for e in listed} == {t.info_hash for _, t, _ in entries}

    text = run("cache", "list", env=env, check=True).stdout
    assert "alpha.bin" in text and entries[0][1].info_hash in text

    removed = run("cache", "remove", "beta.bin", env=env, check=True)
    assert "beta.bin" in removed.stdout
    assert not os.path.exists(entries[1][2])
    assert run("cache", "remove", "beta.bin", env=env).returncode == 2

    # Prune to a size that fits one entry: the least recently used (alpha) goes first.
    result = run("cache", "prune", "--max-size", "400K", env=env, check=True)
    assert "alpha.bin" in result.stdout
    assert not os.path.exists(entries[0][2])
    assert os.path.exists(entries[2][2])
    run("cache", "prune", "--max-size", "0", env=env, check=True)
    assert json.loads(run("cache", "list", "--json", env=env, check=True).stdout) == []
    bad_size = run("cache", "prune", "--max-size", "12Q", env=env)
    assert bad_size.returncode == 2 and "max-size" in bad_size.stderr  # usage error


# -- crash safety (issue 5): kill -9 during `swarmfs download`, restart, finish ---------------------

MiB = 1024 * 1024


def _valid_pieces(torrent, path: str) -> set[int]:
    """Pieces of a single-file torrent whose bytes in `path` match the .torrent's hashes."""
    import hashlib

    from swarmkit.torrents import piece_hashes

    hashes = piece_hashes(torrent)
    valid = set()
    if not os.path.exists(path):
        return valid
    with open(path, "rb") as f:
        for index, expected in enumerate(hashes):
            f.seek(index * torrent.piece_length)
            if hashlib.sha1(f.read(torrent.piece_size(index))).digest() == expected:
                valid.add(index)
    return valid


def _record_claims(path: str, piece_count: int):
    """The pieces a resume record claims in this boot (None if absent or not intact). Format,
    little-endian: "SWFSRES2", u8 hash length, hash, u32 pieces, u32 files, synced bitfield,
    unsynced bitfield, 36-byte boot id (zeros if unknown), files × (i64 size, i64 mtime ns),
    SHA-256 of all that. Unsynced pieces count only if the boot id is this machine's current one."""
    import hashlib
    import struct

    if not os.path.exists(path):
        return None
    data = open(path, "rb").read()
    body, seal = data[:-32], data[-32:]
    if len(data) < 40 or hashlib.sha256(body).digest() != seal or not body.startswith(b"SWFSRES2"):
        return None
    hash_len = body[8]
    pieces, _files = struct.unpack_from("<II", body, 9 + hash_len)
    assert pieces == piece_count
    width = (pieces + 7) // 8
    start = 17 + hash_len
    synced, unsynced = body[start:start + width], body[start + width:start + 2 * width]
    boot = body[start + 2 * width:start + 2 * width + 36]
    with open("/proc/sys/kernel/random/boot_id", "rb") as f:
        this_boot = f.read().strip()

    def bits(field):
        return {i for i in range(pieces) if field[i // 8] & (0x80 >> (i % 8))}
    return bits(synced) | (bits(unsynced) if boot == this_boot else set())


def _start_download(swarmfs_bin, procs, torrent, out, seeder, ip, name, *extra):
    return procs.spawn(name, [swarmfs_bin, "download", torrent.path, "-o", out, "--peer", seeder.endpoint,
                              "--no-trackers", "--listen-host", ip, "--log-level", "info", *extra])


def _pieces_equal_to_payload(torrent, payload, path: str, pieces) -> set[int]:
    """Of `pieces`, those whose bytes in `path` are exactly the payload's (compared byte for byte,
    not by hash)."""
    expected = payload.read(payload.files[0])
    same = set()
    with open(path, "rb") as f:
        for index in pieces:
            start = index * torrent.piece_length
            f.seek(start)
            if f.read(torrent.piece_size(index)) == expected[start:start + torrent.piece_size(index)]:
                same.add(index)
    return same


# (RNG seed, what is done to the resume record at the second kill). Each seed downloads into its
# own folder from scratch: a kill at a random point (these seeds draw 5.1 s, 2.2 s and 5.8 s:
# around, before and after the run's first checkpoint, which comes 5 s in), then a kill once a
# sealed record is on disk (waiting for a checkpoint if there is none), which is then damaged.
KILL_9_SEEDS = ((20261125, "truncate"), (7, "corrupt"), (2, "truncate-and-corrupt"))


@pytest.mark.timeout(170)
def test_kill_9_at_random_points_never_loses_or_misclaims(swarmfs_bin, procs, lt_seeder, pool, workdir):
    import random
    import signal
    import time

    from swarmkit import assert_tree_matches, make_single_payload, wait_until

    # Killed runs download at most 1 MiB/s (their own limit), so every kill lands mid-download;
    # the last run of each seed has no limit and finishes at once.
    payload = make_single_payload(os.path.join(workdir, "seed"), size=16 * MiB + 4_321)
    torrent = make_torrent(payload, piece_size=64 * 1024, trackers=[],
                           out_path=os.path.join(workdir, "t.torrent"))
    seeder = lt_seeder(torrent, payload.save_path, use_tracker=False)
    slow = ("--max-download-rate", "1M")
    in_flight_bound = 40 * 64 * 1024  # fetched again per kill, at most
    uploads = []  # per seed: (listen addresses of its runs, kills)
    for seed, damage in KILL_9_SEEDS:
        rng = random.Random(seed)
        out = os.path.join(workdir, f"out-{seed}")
        data_path = os.path.join(out, payload.name)
        record_path = os.path.join(out, ".swarmfs", "resume")
        ips = []
        on_disk = 0
        for kill in ("random", damage):
            ips.append(pool.ip())
            proc = _start_download(swarmfs_bin, procs, torrent, out, seeder, ips[-1],
                                   f"seed{seed}-{kill}", *slow)
            # Whatever was verified on disk at the last kill is adopted at start, whatever the
            # record says (missing, stale, torn or corrupt): nothing written is fetched again.
            adopted = int(proc.wait_for_output(r"cache checked .*verifiedPieces=(\d+)", 30).group(1))
            assert adopted == on_disk, f"seed {seed} {kill}: adopted {adopted} of {on_disk} pieces on disk"
            if kill == "random":
                time.sleep(rng.uniform(0.3, 6.0))  # before or after the run's first checkpoint
            else:
                # The record to damage must be a sealed one: wait for a checkpoint if none yet.
                wait_until(lambda: not proc.running() or _record_claims(record_path, torrent.num_pieces) is not None,
                           30, 0.05)
                time.sleep(rng.uniform(0.0, 1.5))
            assert proc.running(), (f"seed {seed}: the download ended before the {kill} kill "
                                    f"(exit {proc.returncode()}); make the payload bigger:\n{proc.tail()}")
            proc.popen.send_signal(signal.SIGKILL)
            proc.wait(10)
            valid = _valid_pieces(torrent, data_path)
            # What passes its SHA-1 is byte for byte the payload.
            assert _pieces_equal_to_payload(torrent, payload, data_path, valid) == valid
            claims = _record_claims(record_path, torrent.num_pieces)
            print(f"seed {seed} {kill} kill: {len(valid)} pieces on disk, record claims "
                  f"{'none' if claims is None else len(claims)}")
            if claims is not None:
                assert claims <= valid, f"record claims pieces not on disk: {sorted(claims - valid)[:10]}"
            if kill != "random":
                assert os.path.isfile(record_path), f"seed {seed}: no resume record to damage"
                assert claims is not None, f"seed {seed}: the record on disk is not intact"
                size = os.path.getsize(record_path)
                if "truncate" in kill:  # a torn record: re-check, never trust, never crash
                    with open(record_path, "r+b") as f:
                        f.truncate(size // 2 if kill == "truncate" else size - 1)
                if "corrupt" in kill:  # same length (if not truncated), three bytes changed
                    with open(record_path, "r+b") as f:
                        f.seek(20)
                        f.write(b"\xff\xff\xff")
                assert _record_claims(record_path, torrent.num_pieces) is None, "damage went unnoticed"
            on_disk = len(valid)
            # `verify` (a full re-hash, read-only) agrees with the piece count Python computes.
            result = subprocess_run_verify(swarmfs_bin, torrent.path, out)
            assert f"{len(valid)}/{torrent.num_pieces} pieces valid" in result.stdout, result.stdout

        ips.append(pool.ip())
        final = _start_download(swarmfs_bin, procs, torrent, out, seeder, ips[-1], f"seed{seed}-final")
        assert int(final.wait_for_output(r"cache checked .*verifiedPieces=(\d+)", 30).group(1)) == on_disk
        rc = final.wait(90)
        assert rc == 0, final.tail()
        assert_tree_matches(payload, out)
        assert _record_claims(record_path, torrent.num_pieces) == set(range(torrent.num_pieces))
        uploads.append((seed, ips, len(ips) - 1))
        last_fetch = (torrent.num_pieces - on_disk - 4) * torrent.piece_length

    # Everything fetched more than once was in flight at a kill: at most a few pieces per kill
    # beyond the payload (the seeder counts what it sent to each address; its status lags 0.5 s,
    # so first wait until it shows the last run's download).
    wait_until(lambda: seeder.uploaded_to(uploads[-1][1][-1]) >= last_fetch, 10, 0.1,
               f"the seeder's counters never showed the last download: {seeder.status()}")
    for seed, ips, kills in uploads:
        per_run = [seeder.uploaded_to(ip) for ip in ips]
        print(f"seed {seed}: the seeder sent {per_run} bytes to its runs")
        connections = {k: v for k, v in seeder.status().get("peers", {}).items()
                       if k.rsplit(":", 1)[0] in ips}
        assert sum(per_run) <= payload.total_size + kills * in_flight_bound, \
            f"seed {seed}: the seeder sent {per_run} bytes to runs {ips}: {connections}"


def subprocess_run_verify(swarmfs_bin, torrent_path, out):
    import subprocess
    return subprocess.run([swarmfs_bin, "verify", torrent_path, out], capture_output=True, text=True, timeout=60)


# -- through a mount (issue 5): adopting another client's folder, damage behind our back -----------

def test_mount_adopts_a_folder_downloaded_by_libtorrent_with_no_peers(swarmfs_mount, lt_seeder, lt_leecher,
                                                                       pool, workdir):
    from swarmkit import make_multi_payload

    payload = make_multi_payload(os.path.join(workdir, "seed"))
    torrent = make_torrent(payload, piece_size=32 * 1024, trackers=[],
                           out_path=os.path.join(workdir, "t.torrent"))
    seeder = lt_seeder(torrent, payload.save_path, use_tracker=False)
    other_client = os.path.join(workdir, "downloaded-by-libtorrent")
    leecher = lt_leecher(torrent, peers=[seeder.endpoint], save_path=other_client, use_tracker=False)
    leecher.wait_complete(60)
    leecher.process.stop()
    seeder.process.stop()  # nobody to download from: everything must come from the adopted folder
    m = swarmfs_mount(torrent, "--no-trackers", "--download", "on-demand", "--read-timeout", "5",
                      cache_dir=other_client)
    assert m.status()["verifiedBytes"] == payload.total_size
    for f in payload.files:
        with open(m.join(f.path), "rb") as handle:
            assert handle.read() == payload.read(f), f.path


def test_mount_adopts_a_folder_downloaded_by_aria2c_with_no_peers(swarmfs_mount, procs, tracker, lt_seeder,
                                                                    pool, workdir):
    from swarmkit import make_multi_payload

    payload = make_multi_payload(os.path.join(workdir, "seed"))
    torrent = make_torrent(payload, piece_size=32 * 1024, trackers=[tracker.announce_url],
                           out_path=os.path.join(workdir, "t.torrent"))
    tracker.allow(torrent.info_hash)
    seeder = lt_seeder(torrent, payload.save_path)  # READY once the tracker has it
    other_client = os.path.join(workdir, "downloaded-by-aria2c")
    os.makedirs(other_client)
    # aria2c finds the seeder through the tracker only (no DHT, LPD or PEX) and exits once done.
    leech_ip, leech_port = pool.endpoint()
    aria2 = procs.spawn("aria2c-leecher", aria2c_leecher_argv(torrent.path, other_client, leech_ip, leech_port))
    assert aria2.wait(60) == 0, aria2.tail()
    from swarmkit import assert_tree_matches
    assert_tree_matches(payload, other_client)
    seeder.stop()
    tracker.stop()  # nobody to download from: everything must come from the adopted folder
    m = swarmfs_mount(torrent, "--no-trackers", "--download", "on-demand", "--read-timeout", "5",
                      cache_dir=other_client)
    assert m.status()["verifiedBytes"] == payload.total_size
    for f in payload.files:
        with open(m.join(f.path), "rb") as handle:
            assert handle.read() == payload.read(f), f.path


def test_bytes_flipped_behind_our_back_are_never_served(swarmfs_mount, lt_seeder, workdir):
    from swarmkit import make_single_payload

    payload = make_single_payload(os.path.join(workdir, "seed"), size=2 * MiB + 99)
    torrent = make_torrent(payload, piece_size=64 * 1024, trackers=[],
                           out_path=os.path.join(workdir, "t.torrent"))
    cache = os.path.join(workdir, "cache")
    shutil.copytree(payload.save_path, cache)
    first = swarmfs_mount(torrent, "--no-trackers", "--download", "on-demand", cache_dir=cache)
    assert first.status()["verifiedBytes"] == payload.total_size
    swarmfs_mount.unmount(first)  # leaves a resume record claiming every piece

    data = os.path.join(cache, payload.name)
    _flip_byte(data, 5 * 64 * 1024 + 10)  # piece 5, same size, new mtime
    # Without a peer the damaged piece cannot be served at all: EIO after the read timeout.
    second = swarmfs_mount(torrent, "--no-trackers", "--download", "on-demand", "--read-timeout", "2",
                           cache_dir=cache)
    assert second.status()["verifiedBytes"] == payload.total_size - 64 * 1024
    with open(second.join(payload.files[0].path), "rb") as handle:
        assert handle.read(64 * 1024) == payload.read(payload.files[0], 0, 64 * 1024)
        handle.seek(5 * 64 * 1024)
        try:
            got = handle.read(64 * 1024)
        except OSError:
            got = None
        assert got is None, "a piece that fails its hash must never be served"
    swarmfs_mount.unmount(second)

    # With a seeder it is fetched again and served exactly.
    seeder = lt_seeder(torrent, payload.save_path, use_tracker=False)
    third = swarmfs_mount(torrent, "--no-trackers", "--peer", seeder.endpoint, cache_dir=cache)
    with open(third.join(payload.files[0].path), "rb") as handle:
        assert handle.read() == payload.read(payload.files[0])
