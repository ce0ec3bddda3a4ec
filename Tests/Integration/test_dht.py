"""The DHT (BEP 5) on a loopback mesh of real libtorrent DHT nodes (swarmkit/dht.py): swarmfs
finds a libtorrent seeder of a torrent that has no tracker, a libtorrent leecher finds swarmfs
through our announce, the routing table survives a restart, and --no-dht stays silent.

Every swarmfs here gets its own XDG_CACHE_HOME, so the DHT state file is the test's own."""

from __future__ import annotations

import os
import re

import pytest

from swarmkit import make_single_payload, make_torrent, mounted
from swarmkit.dht import DHTMesh
from swarmkit.waiting import wait_until

MiB = 1024 * 1024

pytestmark = pytest.mark.slow


@pytest.fixture
def mesh(procs, pool):
    m = DHTMesh(procs, pool, size=8).start()
    yield m
    m.stop()


def _payload_and_torrent(workdir, size=MiB + 4321):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=size)
    torrent = make_torrent(payload, piece_size=32 * 1024, trackers=[],
                           out_path=os.path.join(workdir, "t.torrent"))
    return payload, torrent


def _env(workdir):
    env = dict(os.environ)
    env["XDG_CACHE_HOME"] = os.path.join(workdir, "xdg")
    return env


def _state_file(workdir):
    return os.path.join(workdir, "xdg", "swarmfs", ".swarmfs", "dht.state")


def _compact_nodes(path):
    """Number of IPv4 nodes in a saved table (bencoded `5:nodes<len>:<26 bytes each>`)."""
    data = open(path, "rb").read()
    match = re.search(rb"5:nodes(\d+):", data)
    return int(match.group(1)) // 26 if match else 0


def _start_seed(swarmfs_bin, procs, pool, torrent, data_dir, workdir, *extra):
    ip, port = pool.endpoint()
    proc = procs.spawn("swarmfs-seed", [swarmfs_bin, "seed", torrent.path, "--cache-dir", data_dir,
                                        "--listen-host", ip, "--listen-port", str(port),
                                        "--log-level", "info", *extra], env=_env(workdir))
    proc.wait_for_output(r"torrent running", 30)
    proc.endpoint = f"{ip}:{port}"
    proc.port = port
    return proc


def test_mount_reads_a_payload_whose_only_peer_is_found_through_the_dht(
        swarmfs_bin, procs, pool, mesh, workdir):
    payload, torrent = _payload_and_torrent(workdir)
    seeder = mesh.seeder(torrent, payload.save_path)
    mnt = os.path.join(workdir, "mnt")
    argv = [swarmfs_bin, "mount", torrent.path, mnt, "--cache-dir", os.path.join(workdir, "cache"),
            "--listen-host", pool.ip(), "--listen-port", str(pool.port()),
            "--dht-bootstrap", mesh.bootstrap, "--log-level", "debug", "-f"]
    with mounted(argv, mnt, procs=procs, swarmfs_bin=swarmfs_bin, env=_env(workdir)) as m:
        name = payload.files[0].path
        data = m.read(name, timeout=60)
        assert data == payload.read(name)
        # The seeder was named by the DHT alone (no tracker, no --peer).
        assert re.search(r"DHT found peers", m.command.output()), m.command.tail()
    assert seeder.running()
    # The table was saved at exit.
    assert _compact_nodes(_state_file(workdir)) >= 3


def test_libtorrent_leecher_finds_swarmfs_seed_through_our_announce(
        swarmfs_bin, procs, pool, mesh, workdir):
    payload, torrent = _payload_and_torrent(workdir)
    seed = _start_seed(swarmfs_bin, procs, pool, torrent, payload.save_path, workdir,
                       "--dht-bootstrap", mesh.bootstrap)
    # The first lookup ends with our announce_peer to the closest mesh nodes.
    seed.wait_for_output(r"DHT lookup done", 40)
    mesh.wait_announced(seed.endpoint, 10)
    leecher = mesh.leecher(torrent, os.path.join(workdir, "leech"))
    report = leecher.wait_complete(60)
    assert report["downloaded_from"].get(seed.endpoint, 0) > 0, report
    got = open(os.path.join(workdir, "leech", payload.files[0].path), "rb").read()
    assert got == payload.read(payload.files[0].path)


def test_routing_table_is_saved_at_exit_and_the_next_run_starts_from_it(
        swarmfs_bin, procs, pool, mesh, workdir):
    payload, torrent = _payload_and_torrent(workdir)
    first = _start_seed(swarmfs_bin, procs, pool, torrent, payload.save_path, workdir,
                        "--dht-bootstrap", mesh.bootstrap)
    first.wait_for_output(r"DHT lookup done", 40)
    first.stop()
    state = _state_file(workdir)
    assert os.path.isfile(state)
    saved = _compact_nodes(state)
    assert saved >= 3, f"{saved} nodes saved"

    # No bootstrap host at all: only the saved table can lead to the seeder.
    mnt = os.path.join(workdir, "mnt")
    mesh.seeder(torrent, payload.save_path)
    argv = [swarmfs_bin, "mount", torrent.path, mnt, "--cache-dir", os.path.join(workdir, "cache"),
            "--listen-host", pool.ip(), "--listen-port", str(pool.port()), "--no-upload",
            "--dht-bootstrap", "none", "--log-level", "info", "-f"]
    with mounted(argv, mnt, procs=procs, swarmfs_bin=swarmfs_bin, env=_env(workdir)) as m:
        line = m.command.wait_for_output(r"DHT bootstrap.*", 30).group(0)
        assert "saved table" in line and "0 bootstrap hosts" in line, line
        name = payload.files[0].path
        assert m.read(name, timeout=60) == payload.read(name)


def _udp_sockets_of(pid, port):
    """How many UDP sockets bound to `port` the process holds (its fds against /proc/net/udp{,6};
    other UDP sockets, such as local service discovery's on 6771, do not count)."""
    inodes = set()
    for fd in os.listdir(f"/proc/{pid}/fd"):
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    udp = set()
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                if int(fields[1].rsplit(":", 1)[1], 16) == port:
                    udp.add(fields[9])
    return len(inodes & udp)


def test_no_dht_opens_no_dht_socket(swarmfs_bin, procs, pool, workdir):
    payload, torrent = _payload_and_torrent(workdir)
    # uTP shares the UDP socket: off too, or the socket stays for it.
    quiet = _start_seed(swarmfs_bin, procs, pool, torrent, payload.save_path, workdir, "--no-dht", "--no-utp")
    # With the DHT on (a bootstrap host that does not answer) the same command holds one.
    other = os.path.join(workdir, "other")
    payload2 = make_single_payload(other, size=40_000)
    torrent2 = make_torrent(payload2, piece_size=32 * 1024, trackers=[],
                            out_path=os.path.join(workdir, "t2.torrent"))
    dark = pool.endpoint()
    loud = _start_seed(swarmfs_bin, procs, pool, torrent2, payload2.save_path, workdir,
                       "--dht-bootstrap", f"{dark[0]}:{dark[1]}")
    # The DHT's socket takes the TCP listen port's number (free: the pool leases both).
    wait_until(lambda: _udp_sockets_of(loud.pid, loud.port) == 1, 10, 0.1, "the DHT's UDP socket never appeared")
    assert _udp_sockets_of(quiet.pid, quiet.port) == 0
    assert "DHT" not in quiet.output()


def test_bare_magnet_is_resolved_and_read_through_the_dht_only(swarmfs_bin, procs, pool, mesh, workdir):
    payload, torrent = _payload_and_torrent(workdir)
    mesh.seeder(torrent, payload.save_path)
    link = f"magnet:?xt=urn:btih:{torrent.info_hash}"  # no tr, no x.pe: the DHT or nothing
    mnt = os.path.join(workdir, "mnt")
    argv = [swarmfs_bin, "mount", link, mnt, "--cache-dir", os.path.join(workdir, "cache"),
            "--listen-host", pool.ip(), "--listen-port", str(pool.port()),
            "--dht-bootstrap", mesh.bootstrap, "--log-level", "debug", "-f"]
    with mounted(argv, mnt, procs=procs, swarmfs_bin=swarmfs_bin, env=_env(workdir)) as m:
        name = payload.files[0].path
        # Opening waits for the metadata (fetched from the peer the DHT named), then the data.
        with open(os.path.join(m.path, name), "rb") as f:
            assert f.read() == payload.read(name)


# BEP 32: the IPv6 DHT, a DHT of its own. An IPv6 listen address gives swarmfs an IPv6 node (and
# no IPv4 one); the mesh is libtorrent nodes on [::1], IPv6's one loopback address.

@pytest.fixture
def mesh6(procs, pool):
    m = DHTMesh(procs, pool, size=8, ipv6=True).start()
    yield m
    m.stop()


def _state_file6(workdir):
    return os.path.join(workdir, "xdg", "swarmfs", ".swarmfs", "dht6.state")


def _compact_nodes6(path):
    """Number of IPv6 nodes in a saved table (bencoded `6:nodes6<len>:<38 bytes each>`)."""
    data = open(path, "rb").read()
    match = re.search(rb"6:nodes6(\d+):", data)
    return int(match.group(1)) // 38 if match else 0


def test_bare_magnet_is_resolved_and_read_through_the_ipv6_dht(swarmfs_bin, procs, pool, mesh6, workdir):
    payload, torrent = _payload_and_torrent(workdir)
    mesh6.seeder(torrent, payload.save_path)
    link = f"magnet:?xt=urn:btih:{torrent.info_hash}"  # the IPv6 DHT or nothing
    mnt = os.path.join(workdir, "mnt")
    argv = [swarmfs_bin, "mount", link, mnt, "--cache-dir", os.path.join(workdir, "cache"),
            "--listen-host", "::1", "--listen-port", str(pool.port()),
            "--dht-bootstrap", mesh6.bootstrap, "--log-level", "debug", "-f"]
    with mounted(argv, mnt, procs=procs, swarmfs_bin=swarmfs_bin, env=_env(workdir)) as m:
        name = payload.files[0].path
        with open(os.path.join(m.path, name), "rb") as f:
            assert f.read() == payload.read(name)
        output = m.command.output()
        assert re.search(r"DHT started.*family=IPv6", output), m.command.tail()
        assert not re.search(r"DHT started.*family=IPv4", output), m.command.tail()
    # The IPv6 table is kept in a file of its own, in `nodes6`.
    assert _compact_nodes6(_state_file6(workdir)) >= 3
    assert not os.path.exists(_state_file(workdir))


def test_libtorrent_finds_swarmfs_seed_through_our_ipv6_announce(swarmfs_bin, procs, pool, mesh6, workdir):
    payload, torrent = _payload_and_torrent(workdir)
    port = pool.port()
    seed = procs.spawn("swarmfs-seed6", [swarmfs_bin, "seed", torrent.path, "--cache-dir", payload.save_path,
                                         "--listen-host", "::1", "--listen-port", str(port),
                                         "--dht-bootstrap", mesh6.bootstrap, "--log-level", "info"],
                       env=_env(workdir))
    seed.wait_for_output(r"DHT lookup done", 40)
    endpoint = f"[::1]:{port}"
    mesh6.wait_announced(endpoint, 10)
    leecher = mesh6.leecher(torrent, os.path.join(workdir, "leech"))
    report = leecher.wait_complete(60)
    assert report["downloaded_from"].get(endpoint, 0) > 0, report
    got = open(os.path.join(workdir, "leech", payload.files[0].path), "rb").read()
    assert got == payload.read(payload.files[0].path)
