"""Magnet links (BEP 9): metadata from peers, trackers and peer exchange, against real
libtorrent peers and peers that lie about the metadata, on loopback.

Every case checks the bytes (or the info dictionary's files) against the payload.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import time

from swarmkit import assert_tree_matches, make_single_payload, make_torrent, mounted
from swarmkit.bencode import bdecode, bencode
from swarmkit.libtorrent_peers import LIBTORRENT_PYTHON
from swarmkit.waiting import wait_until

MiB = 1024 * 1024
PEERS_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "peers")


def info_hash(torrent_path: str) -> str:
    with open(torrent_path, "rb") as f:
        return hashlib.sha1(bencode(bdecode(f.read())[b"info"])).hexdigest()


def magnet(torrent_path: str, *, peers=(), trackers=(), name="payload") -> str:
    link = f"magnet:?xt=urn:btih:{info_hash(torrent_path)}&dn={name}"
    link += "".join(f"&x.pe={p}" for p in peers)
    link += "".join(f"&tr={t}" for t in trackers)
    return link


def metadata_peer(procs, pool, torrent_path: str, mode: str, delay: float = 0.0):
    """A `peers/metadata_peer.py` in `mode` on a fresh address; returns (process, endpoint)."""
    ip, port = pool.ip(), pool.port()
    proc = procs.spawn(f"metadata-{mode}", [LIBTORRENT_PYTHON, "-u", os.path.join(PEERS_DIR, "metadata_peer.py"),
                                            "--ip", ip, "--port", str(port), "--mode", mode,
                                            "--delay", str(delay), torrent_path])
    proc.wait_for_output(r"^READY$", 20)
    return proc, f"{ip}:{port}"


def requests_seen(proc) -> int:
    return sum(1 for line in proc.output().splitlines() if line.startswith("EVENT") and '"request"' in line)


def test_magnet_mount_reads_before_metadata_then_starts_offline(swarmfs_mount, lt_seeder, pool, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=3 * MiB + 123)
    torrent = make_torrent(payload, piece_size=32 * 1024, trackers=[], out_path=os.path.join(workdir, "t.torrent"))
    seeder = lt_seeder(torrent, payload.save_path, use_tracker=False)
    link = magnet(torrent.path, peers=[seeder.endpoint])
    cache = os.path.join(workdir, "cache")
    name = payload.files[0].path

    m = swarmfs_mount(link, "--listen-host", pool.ip(), "--no-trackers", cache_dir=cache)
    # The mount answered before the metadata may have come: a lookup waits for it.
    with open(os.path.join(m.path, name), "rb") as f:
        assert f.read() == payload.read(name)
    assert os.listdir(m.path) == [name]
    status = m.status()
    assert status["infoHash"] == info_hash(torrent.path)
    wait_until(lambda: m.status()["verifiedBytes"] == payload.total_size, timeout=30,
               message="the cache did not complete")
    swarmfs_mount.unmount(m)

    # The second mount of the same link needs no network: the seeder is gone.
    seeder.stop()
    again = swarmfs_mount(link, "--listen-host", pool.ip(), "--no-trackers", cache_dir=cache)
    assert os.listdir(again.path) == [name]  # at once: no lookup had to wait
    with open(os.path.join(again.path, name), "rb") as f:
        assert f.read() == payload.read(name)


def test_magnet_download_through_tracker(swarmfs_bin, procs, swarm, pool, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=2 * MiB + 7)
    s = swarm(payload, piece_size=64 * 1024, seeders=2)
    link = magnet(s.torrent.path, trackers=[s.tracker.announce_url])
    out = os.path.join(workdir, "out")
    proc = procs.spawn("download", [swarmfs_bin, "download", link, "-o", out, "--listen-host", pool.ip(),
                                    "--log-level", "info"])
    assert proc.wait(90) == 0, proc.tail()
    assert_tree_matches(payload, out)


def test_metadata_liars_are_dropped_and_the_real_metadata_wins(run, procs, pool, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=16 * MiB)
    # 1,024 pieces: an info dictionary of two 16 KiB metadata pieces.
    torrent = make_torrent(payload, piece_size=16 * 1024, trackers=[], out_path=os.path.join(workdir, "t.torrent"))
    liars = {mode: metadata_peer(procs, pool, torrent.path, mode) for mode in ("wrong-bytes", "wrong-size", "huge-size")}
    # The honest peer answers last, so the liars are heard (and must be seen through) first.
    _, honest = metadata_peer(procs, pool, torrent.path, "honest", delay=3.0)
    link = magnet(torrent.path, peers=[endpoint for _, endpoint in liars.values()] + [honest])
    env = dict(os.environ, XDG_CACHE_HOME=os.path.join(workdir, "xdg"))
    result = run("info", "--json", link, "--timeout", "60", "--listen-host", pool.ip(), env=env)
    assert result.returncode == 0, result.stderr
    expected = json.loads(run("info", "--json", torrent.path).stdout)
    got = json.loads(result.stdout)
    keys = ("infoHash", "name", "files", "pieceCount", "pieceLength", "totalLength")
    assert {k: got[k] for k in keys} == {k: expected[k] for k in keys}
    # Both liars stating a plausible size were asked, failed the hash check and were dropped.
    assert requests_seen(liars["wrong-size"][0]) > 0 and requests_seen(liars["wrong-bytes"][0]) > 0
    assert result.stderr.count("failed its hash check") >= 2, result.stderr


def test_only_liars_means_a_clear_timeout(run, procs, pool, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=256 * 1024)
    torrent = make_torrent(payload, piece_size=16 * 1024, trackers=[], out_path=os.path.join(workdir, "t.torrent"))
    liars = [metadata_peer(procs, pool, torrent.path, mode)[1]
             for mode in ("wrong-bytes", "wrong-size", "huge-size", "reject")]
    env = dict(os.environ, XDG_CACHE_HOME=os.path.join(workdir, "xdg"))
    started = time.monotonic()
    result = run("info", magnet(torrent.path, peers=liars), "--timeout", "3", "--listen-host", pool.ip(), env=env)
    assert result.returncode == 1
    assert "no peer sent the metadata" in result.stderr
    assert result.stderr.count("\n") >= 1 and "Traceback" not in result.stderr
    assert time.monotonic() - started < 30
    assert not os.path.exists(os.path.join(workdir, "xdg", "swarmfs", info_hash(torrent.path), ".swarmfs", "torrent"))


def test_we_serve_metadata_to_a_magnet_leecher(swarmfs_seed, procs, pool, workdir):
    """libtorrent, given only a magnet link naming us, gets the info dictionary and the bytes."""
    payload = make_single_payload(os.path.join(workdir, "seed"), size=1 * MiB + 5)
    torrent = make_torrent(payload, piece_size=16 * 1024, trackers=[], out_path=os.path.join(workdir, "t.torrent"))
    seed = swarmfs_seed(torrent, payload.save_path, "--no-trackers", "--listen-host", "127.0.0.1")
    out = os.path.join(workdir, "lt-out")
    script = (
        "import libtorrent as lt, sys, time\n"
        "ses = lt.session({'listen_interfaces': '%s:%d', 'enable_dht': False, 'enable_lsd': False})\n"
        "p = lt.parse_magnet_uri(sys.argv[1]); p.save_path = sys.argv[2]\n"
        "h = ses.add_torrent(p); h.connect_peer(('127.0.0.1', int(sys.argv[3])))\n"
        "end = time.time() + 60\n"
        "while time.time() < end and not h.status().is_seeding: time.sleep(0.1)\n"
        "print('DONE' if h.status().is_seeding else 'TIMEOUT', flush=True)\n"
    ) % (pool.ip(), pool.port())
    port = seed.endpoint.rsplit(":", 1)[1]
    proc = procs.spawn("lt-magnet", [LIBTORRENT_PYTHON, "-c", script, magnet(torrent.path), out, port])
    proc.wait_for_output(r"^(DONE|TIMEOUT)$", 90)
    assert "DONE" in proc.output(), proc.tail()
    assert_tree_matches(payload, out)


def test_peer_exchange_introduces_a_peer_nobody_else_names(swarmfs_mount, lt_seeder, lt_leecher, pool, workdir):
    """libtorrent's ut_pex tells us of a seeder we were never given; and ours tells libtorrent."""
    payload = make_single_payload(os.path.join(workdir, "seed"), size=4 * MiB)
    torrent = make_torrent(payload, piece_size=64 * 1024, trackers=[], out_path=os.path.join(workdir, "t.torrent"))
    # A slow seeder, so that the leecher stays a leecher (connected to it) for the whole test.
    seeder = lt_seeder(torrent, payload.save_path, use_tracker=False, upload_limit=64 * 1024)
    leecher = lt_leecher(torrent, peers=[seeder.endpoint], use_tracker=False, keep_running=True)
    wait_until(lambda: leecher.status().get("num_peers", 0) >= 1, timeout=30, message="leecher never connected")
    log = os.path.join(workdir, "mount.log")
    ours = (pool.ip(), pool.port())
    m = swarmfs_mount(torrent, "--peer", leecher.endpoint, "--no-trackers", "--listen-host", ours[0],
                      "--log-file", log, "--log-level", "debug", listen_port=ours[1])
    # Only PEX from the leecher can have named the seeder to us: we dial it.
    dialled = f"outbound=true peer={seeder.endpoint}"

    def connected_to_seeder() -> bool:
        with open(log) as f:
            return any("peer connected" in line and dialled in line for line in f)
    wait_until(connected_to_seeder, timeout=30, message="we never dialled the seeder: no peer exchange")
    with open(log) as f:
        assert "peers exchanged" in f.read()

    # Ours: a second leecher given only our address reaches the seeder (it learns of the seeder
    # from our ut_pex, or the seeder of it from the first leecher, which learnt it from ours).
    second = lt_leecher(torrent, peers=[f"{ours[0]}:{ours[1]}"], use_tracker=False, keep_running=True)
    wait_until(lambda: any(k.rsplit(":", 1)[0] == second.ip for k in seeder.status().get("peers", {})),
               timeout=30, message="the second leecher never met the seeder: we sent no peer exchange")
    assert m.daemon_alive()


def test_magnet_file_in_a_library(swarmfs_bin, procs, lt_seeder, pool, workdir):
    """A .magnet file in a library folder: a placeholder folder at once, the torrent's files once
    the metadata came; removing the file while a second link still waits for metadata is clean."""
    payload = make_single_payload(os.path.join(workdir, "seed"), size=2 * MiB + 9, name="show.bin")
    torrent = make_torrent(payload, piece_size=32 * 1024, trackers=[], out_path=os.path.join(workdir, "t.torrent"))
    seeder = lt_seeder(torrent, payload.save_path, use_tracker=False)
    library = os.path.join(workdir, "library")
    os.makedirs(library)
    with open(os.path.join(library, "list.magnet"), "w") as fh:
        fh.write(magnet(torrent.path, peers=[seeder.endpoint], name="Show") + "\n")
        # Nobody has this one: it stays a placeholder, looking, until it leaves.
        fh.write("magnet:?xt=urn:btih:" + "cd" * 20 + "&dn=Nobody\n")
    mnt = os.path.join(workdir, "mnt")
    argv = [swarmfs_bin, "mount", library, mnt, "--cache-dir", os.path.join(workdir, "cache"),
            "--listen-host", pool.ip(), "--no-trackers", "-f"]
    with mounted(argv, mnt, procs=procs, swarmfs_bin=swarmfs_bin) as m:
        wait_until(lambda: os.path.exists(os.path.join(m.path, "Show", "show.bin")), timeout=30,
                   message="the magnet's torrent never appeared")
        with open(os.path.join(m.path, "Show", "show.bin"), "rb") as f:
            assert f.read() == payload.read("show.bin")
        status = m.status()
        states = {t["folder"]: t["state"] for t in status["torrents"]}
        assert states == {"Show": "running", "Nobody": "magnet"}, status
        os.remove(os.path.join(library, "list.magnet"))
        wait_until(lambda: os.listdir(m.path) == [], timeout=15, message="the folders did not leave")


def test_a_lookup_waiting_for_the_metadata_can_be_interrupted(swarmfs_mount, procs, pool, workdir):
    # Nobody has this torrent: a lookup in the root waits for metadata that never comes, for up
    # to --read-timeout (120 s here). Ctrl+C must end it at once, as it ends a waiting read.
    link = "magnet:?xt=urn:btih:" + "ab" * 20 + "&dn=Nobody"
    m = swarmfs_mount(link, "--listen-host", pool.ip(), "--no-trackers", "--read-timeout", "120")
    target = os.path.join(m.path, "Nobody")
    # The waiter installs Python's Ctrl+C handler itself: a suite started in the background by a
    # shell without job control inherits SIGINT ignored, and Python then installs none.
    waiter = procs.spawn("stat-waiter", ["/usr/bin/python3", "-c",
                                         "import os, signal, sys\n"
                                         "signal.signal(signal.SIGINT, signal.default_int_handler)\n"
                                         "print('STATTING', flush=True)\n"
                                         "try:\n    os.stat(sys.argv[1])\n"
                                         "except KeyboardInterrupt:\n    print('INTERRUPTED', flush=True); sys.exit(3)\n"
                                         "print('ANSWERED', flush=True)\n", target])
    waiter.wait_for_output(r"^STATTING$", 10)
    time.sleep(1.0)
    assert waiter.running(), waiter.tail()  # still waiting for the tree
    os.kill(waiter.pid, signal.SIGINT)
    waiter.wait_for_output(r"^INTERRUPTED$", 10)
    wait_until(lambda: not waiter.running(), 10, message="the interrupted lookup's caller did not exit")
    # The mount still answers, and still waits for its tree.
    assert os.listdir(m.path) == []


def test_the_metadata_phase_hands_its_connections_to_the_torrent(swarmfs_bin, procs, lt_seeder, pool, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=2 * MiB + 7)
    torrent = make_torrent(payload, piece_size=32 * 1024, trackers=[], out_path=os.path.join(workdir, "t.torrent"))
    seeder = lt_seeder(torrent, payload.save_path, use_tracker=False)
    link = magnet(torrent.path, peers=[seeder.endpoint])
    out = os.path.join(workdir, "out")
    proc = procs.spawn("download", [swarmfs_bin, "download", link, "-o", out, "--no-trackers",
                                    "--listen-host", pool.ip(), "--log-level", "debug"])
    assert proc.wait(60) == 0, proc.tail()
    with open(os.path.join(out, payload.files[0].path), "rb") as f:
        assert f.read() == payload.read(payload.files[0].path)
    log = proc.output()
    # The connection that brought the metadata brought the data: taken over, never dialled again.
    assert re.search(rf"peer taken over from the metadata phase.*peer={re.escape(seeder.endpoint)}", log), proc.tail()
    assert len(re.findall(rf"peer connected.*peer={re.escape(seeder.endpoint)}", log)) == 1, proc.tail()


def test_the_metadata_phase_says_interested_before_asking_for_the_metadata(run, procs, pool, workdir):
    """`interested` goes out with our first messages, so that a peer which unchokes for it has
    done so by the time the metadata is in and the torrent takes the connection over (a round
    trip sooner to the first block from peers that do not unchoke newcomers unasked)."""
    payload = make_single_payload(os.path.join(workdir, "seed"), size=256 * 1024)
    torrent = make_torrent(payload, piece_size=16 * 1024, trackers=[], out_path=os.path.join(workdir, "t.torrent"))
    peer, endpoint = metadata_peer(procs, pool, torrent.path, "honest")
    env = dict(os.environ, XDG_CACHE_HOME=os.path.join(workdir, "xdg"))
    result = run("info", "--json", magnet(torrent.path, peers=[endpoint]), "--timeout", "30",
                 "--listen-host", pool.ip(), env=env)
    assert result.returncode == 0, result.stderr
    events = [json.loads(line[len("EVENT "):])["event"] for line in peer.output().splitlines()
              if line.startswith("EVENT ")]
    assert "interested" in events and "request" in events, events
    assert events.index("interested") < events.index("request"), events
