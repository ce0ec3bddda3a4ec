"""Message Stream Encryption (MSE/PE): mounts served by peers that insist on encryption
(libtorrent pe_forced, transmission --encryption-required), a pe_forced leecher served by
`swarmfs seed --encryption require`, and the policies that must fail to connect."""

from __future__ import annotations

import errno
import json
import os

import pytest

from swarmkit import LibtorrentSeeder, assert_tree_matches, make_multi_payload, make_single_payload, make_torrent
from swarmkit.transmission import TransmissionSeeder
from swarmkit.waiting import TimeoutExpired, wait_until

KiB = 1024
MiB = 1024 * KiB


def seeded(workdir, procs, pool, encryption, *, size=3 * MiB + 11):
    """A payload, its torrent (no trackers) and a libtorrent seeder with `encryption`."""
    payload = make_single_payload(os.path.join(workdir, "seed"), size=size)
    torrent = make_torrent(payload, piece_size=64 * KiB, trackers=[], out_path=os.path.join(workdir, "t.torrent"))
    seeder = LibtorrentSeeder(torrent, payload.save_path, pool.ip(), pool.port(), procs=procs, use_tracker=False,
                              encryption=encryption).start()
    return payload, torrent, seeder



@pytest.mark.parametrize("policy", ["prefer", "require"])
def test_mount_is_served_by_a_pe_forced_libtorrent_seeder(policy, swarmfs_mount, procs, pool, workdir):
    payload, torrent, seeder = seeded(workdir, procs, pool, "forced")
    m = swarmfs_mount(torrent, "--peer", seeder.endpoint, "--no-trackers", "--download", "on-demand",
                      "--listen-host", pool.ip(), "--encryption", policy)
    f = payload.files[0]
    assert m.read(f.path, 1_000_000, 300_000, timeout=60) == payload.read(f, 1_000_000, 300_000)
    assert m.read(f.path, timeout=60) == payload.read(f)
    # The status file is refreshed twice a second.
    wait_until(lambda: seeder.uploaded() >= f.size // 2, timeout=10)


def test_pe_forced_libtorrent_leecher_downloads_from_require_seed(swarmfs_seed, lt_leecher, workdir):
    payload = make_multi_payload(os.path.join(workdir, "seed"))
    torrent = make_torrent(payload, piece_size=32 * KiB, trackers=[], out_path=os.path.join(workdir, "t.torrent"))
    seed = swarmfs_seed(torrent, payload.save_path, "--no-trackers", "--encryption", "require")
    leecher = lt_leecher(torrent, peers=[seed.endpoint], use_tracker=False, encryption="forced")
    report = leecher.wait_complete(60)
    assert report.get("hash_failures", 0) == 0
    assert_tree_matches(payload, leecher.save_path)


def test_mount_is_served_by_transmission_requiring_encryption(swarmfs_mount, procs, pool, workdir):
    payload = make_multi_payload(os.path.join(workdir, "seed"))
    torrent = make_torrent(payload, piece_size=32 * KiB, trackers=[], out_path=os.path.join(workdir, "t.torrent"))
    ip = pool.ip()
    seeder = TransmissionSeeder(torrent, payload.save_path, ip, pool.port(), pool.port(),
                                os.path.join(workdir, "transmission"), procs=procs, encryption="required").start()
    m = swarmfs_mount(torrent, "--peer", seeder.endpoint, "--no-trackers", "--download", "on-demand",
                      "--listen-host", pool.ip())
    for f in payload.files:
        assert m.read(f.path, timeout=60) == payload.read(f), f.path


@pytest.mark.parametrize("ours,theirs", [("require", "disabled"), ("disable", "forced")])
def test_mismatched_policies_never_connect(ours, theirs, swarmfs_mount, procs, pool, workdir):
    payload, torrent, seeder = seeded(workdir, procs, pool, theirs, size=1 * MiB)
    m = swarmfs_mount(torrent, "--peer", seeder.endpoint, "--no-trackers", "--download", "on-demand",
                      "--listen-host", pool.ip(), "--encryption", ours, "--read-timeout", "3")
    with pytest.raises(OSError) as info:
        m.read(payload.files[0].path, 0, 64 * KiB, timeout=30)
    assert info.value.errno == errno.EIO
    assert m.status()["peers"] == 0
    assert m.status()["verifiedBytes"] == 0
    assert seeder.uploaded() == 0


def test_prefer_falls_back_to_plaintext_for_a_peer_that_refuses_encryption(swarmfs_mount, procs, pool, workdir):
    payload, torrent, seeder = seeded(workdir, procs, pool, "disabled")
    m = swarmfs_mount(torrent, "--peer", seeder.endpoint, "--no-trackers", "--download", "on-demand",
                      "--listen-host", pool.ip())
    f = payload.files[0]
    assert m.read(f.path, timeout=60) == payload.read(f)
    wait_until(lambda: m.status()["peers"] >= 1, timeout=10)


def test_magnet_metadata_from_a_pe_forced_seeder(run, procs, pool, workdir):
    payload, torrent, seeder = seeded(workdir, procs, pool, "forced", size=1 * MiB + 5)
    link = f"magnet:?xt=urn:btih:{torrent.info_hash}&x.pe={seeder.endpoint}"
    env = dict(os.environ, XDG_CACHE_HOME=os.path.join(workdir, "xdg"))
    result = run("info", "--json", link, "--timeout", "60", "--listen-host", pool.ip(), "--encryption", "require",
                 env=env)
    assert result.returncode == 0, result.stderr
    expected = json.loads(run("info", "--json", torrent.path).stdout)
    got = json.loads(result.stdout)
    assert (got["infoHash"], got["files"], got["pieceCount"]) == \
        (expected["infoHash"], expected["files"], expected["pieceCount"])


def test_disable_refuses_an_encrypted_leecher(swarmfs_seed, lt_leecher, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=1 * MiB)
    torrent = make_torrent(payload, piece_size=64 * KiB, trackers=[], out_path=os.path.join(workdir, "t.torrent"))
    seed = swarmfs_seed(torrent, payload.save_path, "--no-trackers", "--encryption", "disable")
    leecher = lt_leecher(torrent, peers=[seed.endpoint], use_tracker=False, encryption="forced", timeout=8)
    with pytest.raises(TimeoutExpired):
        leecher.wait_complete(60)
    assert leecher.status().get("downloaded", 0) == 0
