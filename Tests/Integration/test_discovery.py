"""BEP 14 local service discovery between two swarmfs processes, in a private network namespace
(loopback with multicast on): nothing is given but the torrent, no tracker, no --peer."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from swarmkit import assert_tree_matches, make_single_payload, make_torrent

MiB = 1024 * 1024


def netns_usable() -> bool:
    if os.geteuid() != 0 or shutil.which("unshare") is None or shutil.which("ip") is None:
        return False
    probe = subprocess.run(["unshare", "--net", "sh", "-c", "ip link set lo up && ip link set lo multicast on"],
                           capture_output=True, timeout=10)
    return probe.returncode == 0


SCRIPT = r'''
set -u
ip link set lo up
ip link set lo multicast on
ip route add 239.0.0.0/8 dev lo
"$BIN" download "$TORRENT" -o "$OUT" --listen-host 127.0.0.3 --listen-port 7102 --no-trackers \
    $LSD_FLAG --log-level debug --log-file "$LOGS/download.log" &
download=$!
trap 'kill $download ${seed:-} 2>/dev/null; wait 2>/dev/null' EXIT
# The downloader listens for announcements before the seeder makes its first one.
for _ in $(seq 200); do
    ss -uln | grep -q ':6771 ' && break
    sleep 0.05
done
"$BIN" seed "$TORRENT" --cache-dir "$SEED_DIR" --listen-host 127.0.0.2 --listen-port 7101 --no-trackers \
    $LSD_FLAG --log-level debug --log-file "$LOGS/seed.log" &
seed=$!
for _ in $(seq $WAIT_TENTHS); do
    kill -0 $download 2>/dev/null || break
    sleep 0.1
done
if kill -0 $download 2>/dev/null; then echo "download still running"; exit 3; fi
wait $download
'''


def run_pair(swarmfs_bin, procs, workdir, payload, torrent, lsd: bool, wait_seconds: int) -> int:
    env = dict(os.environ, BIN=swarmfs_bin, TORRENT=torrent.path, OUT=os.path.join(workdir, "out"),
               SEED_DIR=payload.save_path, LOGS=workdir, LSD_FLAG="" if lsd else "--no-lsd",
               WAIT_TENTHS=str(wait_seconds * 10))
    proc = procs.spawn("lsd-netns", ["unshare", "--net", "sh", "-c", SCRIPT], env=env)
    return proc.wait(wait_seconds + 30)


@pytest.mark.skipif(not netns_usable(), reason="needs root, unshare --net and ip (iproute2)")
def test_two_swarmfs_find_each_other_on_the_local_network(swarmfs_bin, procs, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=2 * MiB + 3)
    torrent = make_torrent(payload, piece_size=64 * 1024, trackers=[], out_path=os.path.join(workdir, "t.torrent"))
    rc = run_pair(swarmfs_bin, procs, workdir, payload, torrent, lsd=True, wait_seconds=60)
    with open(os.path.join(workdir, "download.log")) as f:
        log = f.read()
    assert rc == 0, log[-3000:]
    assert "peer found on the local network" in log
    assert_tree_matches(payload, os.path.join(workdir, "out"))


@pytest.mark.skipif(not netns_usable(), reason="needs root, unshare --net and ip (iproute2)")
def test_no_lsd_finds_nobody(swarmfs_bin, procs, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=256 * 1024)
    torrent = make_torrent(payload, piece_size=64 * 1024, trackers=[], out_path=os.path.join(workdir, "t.torrent"))
    rc = run_pair(swarmfs_bin, procs, workdir, payload, torrent, lsd=False, wait_seconds=5)
    assert rc == 3  # still downloading after 5 s: nobody found
    with open(os.path.join(workdir, "download.log")) as f:
        assert "peer found on the local network" not in f.read()
