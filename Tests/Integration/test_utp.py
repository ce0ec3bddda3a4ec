"""uTP (BEP 29) against real libtorrent peers whose TCP is off: a uTP-only seeder serves a
mount byte-exact, directly and through a lossy, delayed UDP relay; a uTP-only leecher downloads
from `swarmfs seed`; with `--no-utp` a uTP-only peer gives nothing."""

from __future__ import annotations

import os
import time

import pytest

from swarmkit import assert_tree_matches, make_multi_payload, make_single_payload, make_torrent, sha256_bytes
from swarmkit.udp_proxy import UDPProxy
from swarmkit.waiting import wait_until

MiB = 1024 * 1024


def utp_seeder_and_torrent(lt_seeder, workdir, size=6 * MiB + 4321, piece_size=64 * 1024):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=size)
    torrent = make_torrent(payload, piece_size=piece_size, trackers=[], out_path=os.path.join(workdir, "t.torrent"))
    seeder = lt_seeder(torrent, payload.save_path, use_tracker=False, transport="utp")
    return payload, torrent, seeder


def read_whole(m, payload):
    f = payload.files[0]
    data = m.read(f.path, timeout=120)
    return data, f


def test_utp_only_libtorrent_seeder_serves_a_mount(lt_seeder, swarmfs_mount, workdir):
    payload, torrent, seeder = utp_seeder_and_torrent(lt_seeder, workdir)
    # Both transports on (the default): the dial tries uTP first, which is all this peer speaks.
    m = swarmfs_mount(torrent, "--peer", seeder.endpoint, "--no-trackers")
    data, f = read_whole(m, payload)
    assert len(data) == f.size
    assert sha256_bytes(data) == sha256_bytes(payload.read(f))
    wait_until(lambda: m.status()["verifiedBytes"] == payload.total_size, timeout=30)
    # All of it came from the seeder, and its TCP is off (status refreshed every 0.5 s).
    wait_until(lambda: seeder.uploaded() >= payload.total_size, timeout=10)


def test_utp_only_libtorrent_leecher_downloads_from_swarmfs_seed(swarmfs_seed, lt_leecher, workdir):
    payload = make_multi_payload(os.path.join(workdir, "seed"))
    torrent = make_torrent(payload, piece_size=32 * 1024, trackers=[], out_path=os.path.join(workdir, "t.torrent"))
    # uTP only on our side too: whatever arrives came over uTP, on the UDP port of the same number.
    seed = swarmfs_seed(torrent, payload.save_path, "--no-trackers", "--listen-host", "127.0.0.1")
    leecher = lt_leecher(torrent, peers=[seed.endpoint], use_tracker=False, transport="utp")
    report = leecher.wait_complete(90)
    assert report.get("hash_failures", 0) == 0
    assert_tree_matches(payload, leecher.save_path)


def test_utp_through_a_lossy_delayed_relay_stays_byte_exact(lt_seeder, swarmfs_mount, procs, pool, workdir):
    payload, torrent, seeder = utp_seeder_and_torrent(lt_seeder, workdir, size=4 * MiB + 77)
    ip, port = pool.endpoint()
    # 3 % of datagrams lost each way, 25 ms each way: every loss path (fast retransmit,
    # timeouts, selective acks, reordering around a resend) gets exercised in 4 MiB. About one
    # run in twelve, one of libtorrent's packets is lost three times in a row and libtorrent
    # drops the connection without a word (utp_num_resends = 3); the mount must then give up on
    # its end and dial again (the next test makes that happen every time).
    proxy = UDPProxy(ip, port, seeder.endpoint, procs=procs, delay_ms=25, loss=3, seed=7).start()
    m = swarmfs_mount(torrent, "--peer", proxy.endpoint, "--no-trackers", "--no-tcp")
    data, f = read_whole(m, payload)
    assert sha256_bytes(data) == sha256_bytes(payload.read(f))
    wait_until(lambda: m.status()["verifiedBytes"] == payload.total_size, timeout=60)
    stats = proxy.stop()
    assert stats.get("dropped", 0) > 0, stats
    assert stats.get("relayed", 0) > (payload.total_size // 1500), stats


def test_utp_peer_that_goes_silent_is_given_up_and_redialled(lt_seeder, swarmfs_mount, procs, pool, workdir):
    payload, torrent, seeder = utp_seeder_and_torrent(lt_seeder, workdir, size=3 * MiB + 5)
    ip, port = pool.endpoint()
    # 8 s of silence both ways mid-transfer: libtorrent resends its packets 3 times and drops its
    # end of the connection without a word; ours must notice (its requests go unacked), give up
    # and dial again, which works once the route is back. Before the fix ours held the dead
    # connection for 79 s of back-off, past this read's deadline.
    proxy = UDPProxy(ip, port, seeder.endpoint, procs=procs, delay_ms=5, blackout_after=700,
                     blackout_secs=8).start()
    m = swarmfs_mount(torrent, "--peer", proxy.endpoint, "--no-trackers", "--no-tcp")
    f = payload.files[0]
    data = m.read(f.path, timeout=60)
    assert sha256_bytes(data) == sha256_bytes(payload.read(f))
    stats = proxy.stop()
    assert stats["blackout_dropped"] > 0, stats
    assert stats["syns_up"] >= 2, stats  # a second connection carried the rest


def test_no_utp_gets_nothing_from_a_utp_only_peer(lt_seeder, swarmfs_mount, workdir):
    payload, torrent, seeder = utp_seeder_and_torrent(lt_seeder, workdir, size=2 * MiB)
    m = swarmfs_mount(torrent, "--peer", seeder.endpoint, "--no-trackers", "--no-utp")
    # Several dial rounds (each a refused TCP connect) pass without a byte.
    time.sleep(6)
    status = m.status()
    assert status["verifiedBytes"] == 0, status
    assert status["peers"] == 0, status
    assert seeder.uploaded() == 0


def test_encrypted_utp_serves_a_mount(lt_seeder, swarmfs_mount, workdir):
    # uTP and MSE together: a libtorrent seeder that speaks uTP only and RC4 only (pe_forced);
    # `--encryption require` on our side, so nothing plaintext could have carried a byte.
    payload = make_single_payload(os.path.join(workdir, "seed"), size=3 * MiB + 77)
    torrent = make_torrent(payload, piece_size=64 * 1024, trackers=[], out_path=os.path.join(workdir, "t.torrent"))
    seeder = lt_seeder(torrent, payload.save_path, use_tracker=False, transport="utp", encryption="forced")
    m = swarmfs_mount(torrent, "--peer", seeder.endpoint, "--no-trackers", "--encryption", "require")
    data, f = read_whole(m, payload)
    assert sha256_bytes(data) == sha256_bytes(payload.read(f))
    wait_until(lambda: seeder.uploaded() >= payload.total_size, timeout=30)


def test_encrypted_utp_leecher_downloads_from_swarmfs_seed(swarmfs_seed, lt_leecher, workdir):
    # The other way: incoming uTP, MSE's receiver in front of the handshake router.
    payload = make_single_payload(os.path.join(workdir, "seed"), size=2 * MiB + 5)
    torrent = make_torrent(payload, piece_size=32 * 1024, trackers=[], out_path=os.path.join(workdir, "t.torrent"))
    seed = swarmfs_seed(torrent, payload.save_path, "--no-trackers", "--listen-host", "127.0.0.1", "--encryption", "require")
    leecher = lt_leecher(torrent, peers=[seed.endpoint], use_tracker=False, transport="utp", encryption="forced")
    report = leecher.wait_complete(90)
    assert report.get("hash_failures", 0) == 0
    assert_tree_matches(payload, leecher.save_path)
