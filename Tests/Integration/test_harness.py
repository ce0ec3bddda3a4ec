"""Tests of the harness itself, so the swarmfs tests can trust it.

Each real peer is checked against another real client: the libtorrent seeders and the aria2
seeder must serve a libtorrent leecher complete, correct data (through opentracker or directly),
and every adversarial mode must really misbehave in a way libtorrent notices. Mount handling is
checked with btfs, a FUSE BitTorrent filesystem that is not ours.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time

import pytest

from swarmkit import (ADVERSARIAL_MODES, AddressPool, MiB, MountFailed, ProcessGroup,
                      assert_tree_matches, bdecode, bencode, compare_tree, fuse_daemon_pids,
                      is_mounted, make_multi_payload, make_single_payload, make_torrent,
                      mounted, pid_alive, piece_hashes, wait_until)
from swarmkit.mount import cleanup_below
from swarmkit.netalloc import port_is_free


# -- payloads and torrents ----------------------------------------------------------------------

def test_payloads_are_deterministic_and_varied(tmp_path):
    a = make_multi_payload(str(tmp_path / "a"))
    b = make_multi_payload(str(tmp_path / "b"))
    assert [f.sha256 for f in a.files] == [f.sha256 for f in b.files]
    sizes = [f.size for f in a.files]
    assert 0 in sizes, "needs empty files"
    assert any(f.torrent_path.count("/") >= 3 for f in a.files), "needs nested folders"
    assert any(s % 2 for s in sizes), "needs odd sizes"
    assert len({f.sha256 for f in a.files if f.size}) == len([s for s in sizes if s])
    other_seed = make_multi_payload(str(tmp_path / "c"), seed=2)
    assert other_seed.files[0].sha256 != a.files[0].sha256
    single = make_single_payload(str(tmp_path / "s"), size=MiB + 3)
    assert os.path.getsize(single.content_path) == MiB + 3
    assert compare_tree(a, str(tmp_path / "b")) == []


def test_compare_tree_catches_every_kind_of_difference(tmp_path):
    p = make_multi_payload(str(tmp_path / "p"))
    root = str(tmp_path / "p")
    assert compare_tree(p, root) == []
    big = p.local_path(p.largest())
    with open(big, "r+b") as f:  # one flipped byte
        f.seek(12345)
        byte = f.read(1)
        f.seek(12345)
        f.write(bytes([byte[0] ^ 1]))
    os.remove(p.local_path(p.files[0]))
    with open(os.path.join(p.content_path, "extra.bin"), "wb") as f:
        f.write(b"x")
    problems = compare_tree(p, root)
    assert any("content of" in x and p.largest().path in x for x in problems)
    assert any(x.startswith("missing:") for x in problems)
    assert any(x.startswith("unexpected file:") for x in problems)
    with pytest.raises(AssertionError):
        assert_tree_matches(p, root)


def test_torrent_describes_the_payload(tmp_path):
    p = make_multi_payload(str(tmp_path / "seed"))
    piece = 32 * 1024
    t = make_torrent(p, piece, ["http://127.0.0.1:1/announce"], private=True, comment="hi")
    meta = bdecode(open(t.path, "rb").read())
    info = meta[b"info"]
    # Our own bencode round-trips libtorrent's and gives the same info-hash.
    assert hashlib.sha1(bencode(info)).hexdigest() == t.info_hash
    assert info[b"private"] == 1 and meta[b"comment"] == b"hi"
    assert meta[b"announce"] == b"http://127.0.0.1:1/announce"
    files = [("/".join(x.decode() for x in f[b"path"]), f[b"length"]) for f in info[b"files"]]
    assert files == [(f.torrent_path, f.size) for f in p.files]
    # Independent check of every piece hash over the concatenated files.
    data = b"".join(open(p.local_path(f), "rb").read() for f in p.files)
    assert t.total_size == len(data) and t.num_pieces == -(-len(data) // piece)
    expected = [hashlib.sha1(data[i:i + piece]).digest() for i in range(0, len(data), piece)]
    assert piece_hashes(t) == expected
    assert t.piece_size(t.num_pieces - 1) == len(data) - piece * (t.num_pieces - 1)


# -- processes and addresses --------------------------------------------------------------------

def test_process_group_stops_everything_by_pid(tmp_path):
    group = ProcessGroup(str(tmp_path / "logs"))
    polite = group.spawn("sleeper", ["sleep", "300"])
    stubborn = group.spawn("stubborn", [sys.executable, "-c",
                                        "import signal, time\n"
                                        "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                        "print('ignoring', flush=True)\n"
                                        "time.sleep(300)"])
    stubborn.wait_for_output("ignoring", 10)
    started = time.monotonic()
    group.stop_all(grace=0.5)
    assert not pid_alive(polite.pid) and not pid_alive(stubborn.pid)
    assert stubborn.returncode() == -signal.SIGKILL
    assert time.monotonic() - started < 10


def test_address_pool_hands_out_distinct_free_endpoints():
    a, b = AddressPool(), AddressPool()
    try:
        ips = [a.ip() for _ in range(10)] + [b.ip() for _ in range(10)]
        ports = a.ports(10) + b.ports(10)
        assert len(set(ips)) == 20 and all(ip.startswith("127.0.") for ip in ips)
        assert "127.0.0.1" not in ips
        assert len(set(ports)) == 20 and all(port_is_free(p) for p in ports)
        first, last = a.port_range(5)
        assert last - first == 4
    finally:
        a.release()
        b.release()


# -- real peers against a real client -----------------------------------------------------------

@pytest.mark.parametrize("udp", [False, True], ids=["http", "udp"])
def test_libtorrent_leecher_downloads_from_seeders_via_opentracker(udp, swarm, lt_leecher,
                                                                   multi_payload):
    s = swarm(multi_payload, piece_size=32 * 1024, seeders=2, udp_tracker=udp)
    assert s.tracker is not None and s.torrent is not None
    assert sorted(s.tracker.peers(s.torrent.info_hash)) == \
        sorted((x.ip, x.port) for x in s.seeders)
    leecher = lt_leecher(s.torrent, use_tracker=True)
    report = leecher.wait_complete(60)
    assert report["hash_failures"] == 0
    assert_tree_matches(multi_payload, leecher.save_path)
    # Per-peer counters are sampled while connections close, so the last blocks may be missing
    # from them; the tree check above already proves the download is complete.
    from_seeders = sum(leecher.downloaded_from(x.ip) for x in s.seeders)
    assert from_seeders >= multi_payload.total_size * 0.9


def test_partial_seeders_each_hold_only_their_pieces(swarm, lt_leecher, single_payload):
    s = swarm(single_payload, piece_size=32 * 1024, seeders=3, copies=1)
    leecher = lt_leecher(s.torrent, use_tracker=True)
    leecher.wait_complete(60)
    assert_tree_matches(single_payload, leecher.save_path)
    # Each seeder holds a third of the pieces, so each must have served about a third.
    third = single_payload.total_size / 3
    for seeder in s.seeders:
        got = leecher.downloaded_from(seeder.ip)
        assert third * 0.8 < got < third * 1.2, (seeder.endpoint, got, third)


def test_aria2_seeder_serves_a_libtorrent_leecher(tracker, aria2_seeder, lt_leecher,
                                                  single_payload, tmp_path):
    t = make_torrent(single_payload, 64 * 1024, [tracker.announce_url],
                     out_path=str(tmp_path / "a.torrent"))
    tracker.allow(t.info_hash)
    seeder = aria2_seeder(t, single_payload.save_path, tracker=tracker)
    leecher = lt_leecher(t, use_tracker=True)
    report = leecher.wait_complete(60)
    assert_tree_matches(single_payload, leecher.save_path)
    # aria2 names itself in the extension handshake ("aria2/1.36.0") and its peer ids start "A2-".
    ours = [v for k, v in report["peers"].items() if k.startswith(seeder.ip + ":")]
    assert any("aria2" in v["client"] or v.get("peer_id", "").startswith("A2-") for v in ours), report["peers"]
    # The only source: nearly everything came from aria2 (counters may miss the final blocks).
    assert leecher.downloaded_from(seeder.ip) >= single_payload.total_size * 0.9


def test_libtorrent_peers_without_tracker_only_use_direct_peers(tracker, lt_seeder, lt_leecher,
                                                                multi_payload, tmp_path):
    t = make_torrent(multi_payload, 16 * 1024, [tracker.announce_url],
                     out_path=str(tmp_path / "m.torrent"))
    tracker.allow(t.info_hash)
    seeder = lt_seeder(t, multi_payload.save_path, use_tracker=False)
    leecher = lt_leecher(t, peers=[seeder.endpoint], use_tracker=False)
    leecher.wait_complete(60)
    assert_tree_matches(multi_payload, leecher.save_path)
    wait_until(lambda: seeder.uploaded_to(leecher.ip) == multi_payload.total_size, 5)
    # The torrent names a live tracker, but neither peer ever announced to it.
    counts = tracker.scrape(t.info_hash) or {}
    assert counts.get("complete", 0) == 0 and counts.get("incomplete", 0) == 0
    assert tracker.peers(t.info_hash) == []
    assert not seeder.status()["announced"] and not leecher.status()["announced"]


# -- the adversarial peer -----------------------------------------------------------------------

def test_evil_peer_in_honest_mode_serves_a_libtorrent_client(evil_peer, lt_leecher,
                                                             multi_payload, tmp_path):
    t = make_torrent(multi_payload, 32 * 1024, [], out_path=str(tmp_path / "m.torrent"))
    peer = evil_peer(t, multi_payload.save_path, "honest")
    leecher = lt_leecher(t, peers=[peer.endpoint], use_tracker=False)
    report = leecher.wait_complete(60)
    assert report["hash_failures"] == 0
    assert_tree_matches(multi_payload, leecher.save_path)
    handshake = peer.wait_event("handshake")
    assert handshake["info_hash_ok"] and handshake["peer_id"].startswith("-LT")
    assert peer.bytes_served() == multi_payload.total_size


def test_evil_peer_partial_mask_is_respected(evil_peer, lt_seeder, lt_leecher, single_payload,
                                             tmp_path):
    t = make_torrent(single_payload, 32 * 1024, [], out_path=str(tmp_path / "s.torrent"))
    mask = [i % 2 == 0 for i in range(t.num_pieces)]
    peer = evil_peer(t, single_payload.save_path, "honest", have_mask=mask)
    other = lt_seeder(t, single_payload.save_path, have_mask=[not m for m in mask],
                      use_tracker=False)
    leecher = lt_leecher(t, peers=[peer.endpoint, other.endpoint], use_tracker=False)
    leecher.wait_complete(60)
    assert_tree_matches(single_payload, leecher.save_path)
    served = {e["piece"] for e in peer.events("served")}
    assert served and all(mask[i] for i in served)


def test_corrupt_mode_is_caught_by_libtorrent_hash_checks(evil_peer, lt_seeder, lt_leecher,
                                                          single_payload, tmp_path):
    t = make_torrent(single_payload, 32 * 1024, [], out_path=str(tmp_path / "s.torrent"))
    peer = evil_peer(t, single_payload.save_path, "corrupt")
    honest = lt_seeder(t, single_payload.save_path, use_tracker=False)
    leecher = lt_leecher(t, peers=[peer.endpoint, honest.endpoint], use_tracker=False)
    report = leecher.wait_complete(60)
    assert_tree_matches(single_payload, leecher.save_path)
    assert peer.events("served-corrupt"), "the evil peer never got to serve a corrupt block"
    assert report["hash_failures"] >= 1


def test_choked_allowed_fast_mode_serves_libtorrent_alone(evil_peer, lt_leecher, single_payload,
                                                          tmp_path):
    """The mode is protocol-correct BEP 6: libtorrent downloads everything from it although it
    is never unchoked (so the swarmfs test against it can only pass by using allowed-fast)."""
    t = make_torrent(single_payload, 32 * 1024, [], out_path=str(tmp_path / "s.torrent"))
    peer = evil_peer(t, single_payload.save_path, "choked-allowed-fast")
    leecher = lt_leecher(t, peers=[peer.endpoint], use_tracker=False)
    leecher.wait_complete(60)
    assert_tree_matches(single_payload, leecher.save_path)
    assert peer.bytes_served() >= single_payload.total_size
    assert not [e for e in peer.events("sent") if e.get("what") != "allowed-fast"]


# Modes that break the protocol (not `choked-allowed-fast`, which follows BEP 6).
@pytest.mark.parametrize("mode", [m for m in ADVERSARIAL_MODES
                                  if m not in ("honest", "corrupt", "choked-allowed-fast")])
def test_each_misbehaviour_happens_and_libtorrent_drops_it(mode, evil_peer, lt_seeder,
                                                           lt_leecher, single_payload,
                                                           tmp_path):
    t = make_torrent(single_payload, 32 * 1024, [], out_path=str(tmp_path / "s.torrent"))
    peer = evil_peer(t, single_payload.save_path, mode)
    honest = lt_seeder(t, single_payload.save_path, use_tracker=False)
    # The evil peer first, so libtorrent meets it before the download is over.
    leecher = lt_leecher(t, peers=[peer.endpoint, honest.endpoint], use_tracker=False)
    leecher.wait_complete(60)
    assert_tree_matches(single_payload, leecher.save_path)
    expected = {"vanish-mid-piece": "vanished"}.get(mode, "sent")
    if mode != "unsolicited-piece":
        e = peer.wait_event(expected, 10)
        assert mode == "vanish-mid-piece" or e["what"] in (mode, "length-prefix-2^31", "garbage")
    else:
        peer.wait_event("sent", 10, where=lambda e: e["what"] == "unsolicited-piece")
    if mode not in ("unsolicited-piece",):
        # The misbehaving connection did not survive.
        peer.wait_event("closed", 15)


# -- mounts (checked with btfs, a FUSE client that is not ours) ---------------------------------

@pytest.mark.timeout(120)
def test_mounted_finds_daemon_and_always_cleans_up(swarm, procs, single_payload, tmp_path):
    s = swarm(single_payload, piece_size=64 * 1024, seeders=1)
    mnt = str(tmp_path / "mnt")
    argv = ["btfs", f"--data-directory={tmp_path / 'btfs-data'}", s.torrent.path, mnt]
    with pytest.raises(RuntimeError, match="boom"):
        with mounted(argv, mnt, procs=procs, timeout=30) as m:
            assert m.daemon_pids, "daemon not found"
            daemons = list(m.daemon_pids)
            assert set(fuse_daemon_pids(mnt)) <= set(daemons)
            # btfs adds the torrent asynchronously and fills its tree when libtorrent's
            # torrent_added alert arrives, so for a few ms after mounting its root lists empty
            # (seen in 3 of 15 mounts here). The harness under test is what matters, not btfs.
            assert wait_until(m.listdir, 15) == [single_payload.name]
            head = m.read(single_payload.name, 100_000, 5000, timeout=60)
            assert head == single_payload.read(single_payload.name, 100_000, 5000)
            raise RuntimeError("boom")  # a failing test body
    assert not is_mounted(mnt)
    assert not any(pid_alive(pid) for pid in daemons)


def test_cleanup_below_catches_mounts_made_without_the_helpers(swarm, single_payload, tmp_path):
    s = swarm(single_payload, piece_size=64 * 1024, seeders=1)
    mnt = str(tmp_path / "stray")
    os.makedirs(mnt)
    subprocess.run(["btfs", f"--data-directory={tmp_path / 'btfs-data'}", s.torrent.path, mnt],
                   check=True, timeout=30, stdin=subprocess.DEVNULL)
    wait_until(lambda: is_mounted(mnt) and fuse_daemon_pids(mnt), 15)
    daemons = fuse_daemon_pids(mnt)
    done = cleanup_below(str(tmp_path))
    assert f"unmounted {mnt}" in done
    assert not is_mounted(mnt)
    wait_until(lambda: not any(pid_alive(p) for p in daemons), 10)


def test_mounted_reports_a_failing_mount_command(procs, tmp_path):
    mnt = str(tmp_path / "mnt")
    with pytest.raises(MountFailed, match="exited 3"):
        with mounted(["sh", "-c", "echo cannot mount >&2; exit 3"], mnt, procs=procs,
                     timeout=10):
            pass
    assert not is_mounted(mnt)


# -- the watchdog -------------------------------------------------------------------------------

def test_watchdog_fails_a_hanging_test_and_kills_its_processes(pytester):
    here = os.path.dirname(os.path.abspath(__file__))
    pytester.makeconftest(f"import sys\nsys.path.insert(0, {here!r})\n"
                          f"exec(open({os.path.join(here, 'conftest.py')!r}).read())")
    pytester.makepyfile(test_hang="""
        import time, pytest

        @pytest.mark.timeout(2)
        def test_hangs(procs):
            p = procs.spawn("sleeper", ["sleep", "600"])
            open("sleeper.pid", "w").write(str(p.pid))
            time.sleep(600)
    """)
    started = time.monotonic()
    result = pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider")
    assert time.monotonic() - started < 60
    result.assert_outcomes(failed=1)
    assert "watchdog" in result.stdout.str()
    pid = int((pytester.path / "sleeper.pid").read_text())
    assert not pid_alive(pid)


# -- the swarmfs_mount fixture against the real swarmfs ---------------------------------------

@pytest.mark.timeout(150)
def test_swarmfs_mount_fixture_finds_the_daemon_and_cleans_up(swarm, swarmfs_mount,
                                                             single_payload):
    s = swarm(single_payload, piece_size=64 * 1024, seeders=1)
    m = swarmfs_mount(s.torrent, timeout=60)
    assert m.daemon_pids, "no process holds /dev/fuse with the mount point on its command line"
    daemons = list(m.daemon_pids)
    assert single_payload.name in m.listdir()
    got = m.read(single_payload.name, 70_000, 100_000, timeout=60)
    assert got == single_payload.read(single_payload.name, 70_000, 100_000)
    swarmfs_mount.unmount(m)
    assert not is_mounted(m.path)
    assert not any(pid_alive(pid) for pid in daemons)
