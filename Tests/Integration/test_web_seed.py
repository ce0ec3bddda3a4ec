"""Web seeds (BEP 19, "GetRight style"): a plain HTTP server holding the torrent's files, named
by the torrent's `url-list` or a magnet's `ws`, is one more source of pieces. Tested against
peers/web_seed.py (single byte ranges; honest, corrupt, 404 and Range-ignoring modes); every
case checks the bytes."""

from __future__ import annotations

import os
import re

from swarmkit import assert_tree_matches, make_multi_payload, make_single_payload, make_torrent, mounted
from swarmkit.libtorrent_peers import LIBTORRENT_PYTHON

MiB = 1024 * 1024
PEERS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers")


def web_seed(procs, pool, root, mode="honest"):
    """A web_seed.py serving `root`; returns (process, "http://ip:port/")."""
    ip, port = pool.ip(), pool.port()
    proc = procs.spawn(f"web-seed-{mode}", ["/usr/bin/python3", "-u", os.path.join(PEERS_DIR, "web_seed.py"),
                                            "--ip", ip, "--port", str(port), "--root", root, "--mode", mode])
    proc.wait_for_output(r"^READY$", 20)
    return proc, f"http://{ip}:{port}/"


def requests(proc):
    """(path, range) of every request the web seed answered."""
    return [tuple(line.split()[1:3]) for line in proc.output().splitlines() if line.startswith("GET ")]


def download(swarmfs_bin, procs, torrent, out, *extra):
    proc = procs.spawn("download", [swarmfs_bin, "download", torrent, "-o", out, "--no-trackers",
                                    "--log-level", "debug", *map(str, extra)])
    rc = proc.wait(90)
    assert rc == 0, f"swarmfs download exited {rc}:\n{proc.tail()}"
    return proc


def test_mount_reads_a_single_file_torrent_from_its_web_seed_alone(swarmfs_bin, procs, pool, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=3 * MiB + 4321, name="movie.mkv")
    server, url = web_seed(procs, pool, payload.save_path)
    # A URL ending in "/" is a folder: the torrent's name is appended (BEP 19).
    torrent = make_torrent(payload, piece_size=64 * 1024, web_seeds=[url], out_path=os.path.join(workdir, "t.torrent"))
    mnt = os.path.join(workdir, "mnt")
    argv = [swarmfs_bin, "mount", torrent.path, mnt, "--cache-dir", os.path.join(workdir, "cache"),
            "--no-trackers", "--listen-host", pool.ip(), "--listen-port", str(pool.port()), "-f"]
    with mounted(argv, mnt, procs=procs, swarmfs_bin=swarmfs_bin) as m:
        # A read in the middle first: ranges follow the reads, not the file's start.
        with open(os.path.join(m.path, "movie.mkv"), "rb") as f:
            f.seek(2 * MiB)
            assert f.read(100_000) == payload.read("movie.mkv")[2 * MiB:2 * MiB + 100_000]
            f.seek(0)
            assert f.read() == payload.read("movie.mkv")
    asked = requests(server)
    assert asked and all(path == "/movie.mkv" and rng.startswith("bytes=") for path, rng in asked), asked


def test_download_of_a_multi_file_torrent_with_padding_from_a_web_seed(swarmfs_bin, procs, pool, workdir):
    payload = make_multi_payload(os.path.join(workdir, "seed"), name="pack",
                                 layout=[("a.bin", 200_000), ("sub dir/b é.bin", 1 * MiB + 3), ("c.bin", 70_001)])
    server, url = web_seed(procs, pool, payload.save_path)
    # A multi-file torrent's URL is the folder holding the torrent's folder ("/" added if missing).
    torrent = make_torrent(payload, piece_size=32 * 1024, web_seeds=[url.rstrip("/")], pad_files=True,
                           out_path=os.path.join(workdir, "t.torrent"))
    out = os.path.join(workdir, "out")
    download(swarmfs_bin, procs, torrent.path, out)
    assert_tree_matches(payload, out)
    paths = {path for path, _ in requests(server)}
    assert paths == {"/pack/a.bin", "/pack/sub%20dir/b%20%C3%A9.bin", "/pack/c.bin"}, paths  # never a padding file


def test_magnet_ws_is_a_source_of_pieces(swarmfs_bin, procs, pool, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=2 * MiB + 99, name="data.bin")
    server, url = web_seed(procs, pool, payload.save_path)
    torrent = make_torrent(payload, piece_size=64 * 1024, out_path=os.path.join(workdir, "t.torrent"))
    # The metadata comes from a peer that never serves pieces: every byte is the web seed's.
    ip, port = pool.ip(), pool.port()
    meta = procs.spawn("metadata-honest", [LIBTORRENT_PYTHON, "-u", os.path.join(PEERS_DIR, "metadata_peer.py"),
                                           "--ip", ip, "--port", str(port), "--mode", "honest", torrent.path])
    meta.wait_for_output(r"^READY$", 20)
    link = f"magnet:?xt=urn:btih:{torrent.info_hash}&dn=data.bin&x.pe={ip}:{port}&ws={url}"
    out = os.path.join(workdir, "out")
    download(swarmfs_bin, procs, link, out)
    assert_tree_matches(payload, out)
    assert requests(server)


def test_a_corrupt_web_seed_is_banned_and_the_swarm_completes(swarmfs_bin, procs, pool, lt_seeder, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=2 * MiB + 5, name="data.bin")
    server, url = web_seed(procs, pool, payload.save_path, mode="corrupt")
    torrent = make_torrent(payload, piece_size=32 * 1024, web_seeds=[url], out_path=os.path.join(workdir, "t.torrent"))
    # A slow honest peer (256 KiB/s): the web seed answers first, and keeps failing the hash check.
    seeder = lt_seeder(torrent, payload.save_path, use_tracker=False, upload_limit=256 * 1024)
    out = os.path.join(workdir, "out")
    proc = download(swarmfs_bin, procs, torrent.path, out, "--peer", seeder.endpoint)
    assert_tree_matches(payload, out)
    assert re.search(r"closing peer that broke the protocol.*failed the hash check.*peer=http://", proc.output()), proc.tail()
    # Banned: never asked again after its pipe closed.
    asked = len(requests(server))
    assert asked > 0 and not re.search(r"web seed starting.*\n(.*\n)*.*web seed starting", proc.output()), proc.tail()


def test_failing_web_seeds_and_no_web_seeds(swarmfs_bin, procs, pool, lt_seeder, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=1 * MiB + 5, name="data.bin")
    missing, missing_url = web_seed(procs, pool, payload.save_path, mode="missing")
    no_range, no_range_url = web_seed(procs, pool, payload.save_path, mode="no-range")
    torrent = make_torrent(payload, piece_size=32 * 1024, web_seeds=[missing_url, no_range_url],
                           out_path=os.path.join(workdir, "t.torrent"))
    seeder = lt_seeder(torrent, payload.save_path, use_tracker=False)
    # A web seed that answers 404, or 200 to a range past the file's start, is given up on (for
    # a while); the peer completes the download.
    proc = download(swarmfs_bin, procs, torrent.path, os.path.join(workdir, "out"), "--peer", seeder.endpoint)
    assert_tree_matches(payload, os.path.join(workdir, "out"))
    assert re.search(r"web seed failed.*404", proc.output()), proc.tail()
    # --no-web-seeds asks neither.
    before = len(requests(missing)) + len(requests(no_range))
    download(swarmfs_bin, procs, torrent.path, os.path.join(workdir, "out2"), "--peer", seeder.endpoint, "--no-web-seeds")
    assert_tree_matches(payload, os.path.join(workdir, "out2"))
    assert len(requests(missing)) + len(requests(no_range)) == before
