"""Streaming through a real mount from a real swarm: priorities, on-demand fetching, remounts,
read time-outs and lying peers. (test_mount.py covers the filesystem itself.)"""

from __future__ import annotations

import errno
import os
import random
import time

import pytest

from swarmkit import make_single_payload, make_torrent
from swarmkit.waiting import wait_until

MiB = 1024 * 1024


def read_at(path, offset, length):
    fd = os.open(path, os.O_RDONLY)
    try:
        return os.pread(fd, length, offset)
    finally:
        os.close(fd)


def test_random_reads_from_partial_seeders_are_exact(swarmfs_mount, swarm, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=12 * MiB + 4321)
    s = swarm(payload, piece_size=64 * 1024, seeders=4, copies=1)
    m = swarmfs_mount(s.torrent, "--download", "on-demand")
    path = m.join(payload.files[0].path)
    rng = random.Random(7)
    for _ in range(40):
        offset = rng.randrange(0, payload.total_size)
        length = rng.choice([1, 4096, 65536, 200_000])
        assert read_at(path, offset, length) == payload.read(payload.files[0], offset, length)
    # Reads that straddle piece boundaries, and the very end of the file.
    for boundary in (64 * 1024, 5 * 64 * 1024, payload.total_size - 1):
        assert read_at(path, boundary - 1, 3) == payload.read(payload.files[0], boundary - 1, 3)


def test_on_demand_fetches_little_more_than_is_read(swarmfs_mount, swarm, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=48 * MiB)
    s = swarm(payload, piece_size=256 * 1024, seeders=2)
    m = swarmfs_mount(s.torrent, "--download", "on-demand")
    path = m.join(payload.files[0].path)
    assert read_at(path, 24 * MiB, 65536) == payload.read(payload.files[0], 24 * MiB, 65536)
    time.sleep(1.5)  # let any readahead land
    status = m.status()
    # One 64 KiB read: its 256 KiB piece, the readahead window (1 MiB after a first read) and
    # the kernel's own readahead (at most 512 KiB); not even the file's first and last pieces.
    assert status["verifiedBytes"] <= 4 * MiB, status["verifiedBytes"]
    assert status["verifiedBytes"] >= 65536


def test_whole_file_streams_exactly_with_background_fill(swarmfs_mount, swarm, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=16 * MiB + 77)
    s = swarm(payload, piece_size=128 * 1024, seeders=3)
    m = swarmfs_mount(s.torrent)
    with open(m.join(payload.files[0].path), "rb") as f:
        data = f.read()
    assert data == payload.read(payload.files[0])
    wait_until(lambda: m.status()["verifiedBytes"] == payload.total_size, timeout=30)


def test_second_mount_starts_where_the_first_stopped(swarmfs_mount, swarm, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=6 * MiB)
    s = swarm(payload, piece_size=64 * 1024, seeders=1)
    cache = os.path.join(workdir, "cache")
    first = swarmfs_mount(s.torrent, cache_dir=cache)
    wait_until(lambda: first.status()["verifiedBytes"] == payload.total_size, timeout=30)
    swarmfs_mount.unmount(first)
    s.stop()  # nobody left to download from: the second mount must serve from the cache alone
    second = swarmfs_mount(s.torrent, cache_dir=cache)
    assert second.status()["verifiedBytes"] == payload.total_size
    with open(second.join(payload.files[0].path), "rb") as f:
        assert f.read() == payload.read(payload.files[0])


def test_read_timeout_answers_eio_when_no_peer_has_the_data(swarmfs_mount, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=1 * MiB)
    torrent = make_torrent(payload, piece_size=64 * 1024, trackers=[],
                           out_path=os.path.join(workdir, "t.torrent"))
    m = swarmfs_mount(torrent, "--read-timeout", "1")
    started = time.monotonic()
    with pytest.raises(OSError) as raised:
        read_at(m.join(payload.files[0].path), 0, 4096)
    assert raised.value.errno == errno.EIO
    assert 0.8 <= time.monotonic() - started < 5


def test_corrupt_peer_never_reaches_a_reader(swarmfs_mount, evil_peer, lt_seeder, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=4 * MiB + 3)
    torrent = make_torrent(payload, piece_size=32 * 1024, trackers=[],
                           out_path=os.path.join(workdir, "t.torrent"))
    evil = evil_peer(torrent, payload.save_path, "corrupt")
    honest = lt_seeder(torrent, payload.save_path, use_tracker=False)
    m = swarmfs_mount(torrent, "--peer", evil.endpoint, "--peer", honest.endpoint)
    with open(m.join(payload.files[0].path), "rb") as f:
        assert f.read() == payload.read(payload.files[0])


def allocated_bytes(root):
    total = 0
    for directory, _, names in os.walk(root):
        if ".swarmfs" in directory:
            continue
        for name in names:
            total += os.stat(os.path.join(directory, name)).st_blocks * 512
    return total


def test_cache_size_limit_evicts_cold_pieces_and_rereads_correctly(swarmfs_mount, swarm, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=24 * MiB)
    s = swarm(payload, piece_size=128 * 1024, seeders=2)
    limit = 8 * MiB
    m = swarmfs_mount(s.torrent, "--cache-size", "8M")
    path = m.join(payload.files[0].path)
    expected = payload.read(payload.files[0])
    peak = 0
    for _ in range(2):
        # O_DIRECT-free but page-cache-proof: read with pread on a fresh descriptor, and drop the
        # kernel's cached pages first so the second pass really goes through swarmfs.
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1\n")
        got = bytearray()
        fd = os.open(path, os.O_RDONLY)
        try:
            while True:
                chunk = os.read(fd, 1 * MiB)
                if not chunk:
                    break
                got += chunk
                peak = max(peak, allocated_bytes(m.cache_dir))
        finally:
            os.close(fd)
        assert bytes(got) == expected
    # Under the limit plus one readahead window (a quarter of the limit) and pieces in flight.
    assert peak <= limit + limit // 4 + 4 * MiB, peak
    wait_until(lambda: allocated_bytes(m.cache_dir) <= limit + 1 * MiB, timeout=10)


def test_full_disk_fails_reads_then_recovers_when_space_returns(swarmfs_mount, swarm, workdir):
    import subprocess
    payload = make_single_payload(os.path.join(workdir, "seed"), size=4 * MiB)
    s = swarm(payload, piece_size=64 * 1024, seeders=1)
    cache = os.path.join(workdir, "tmpfs-cache")
    os.makedirs(cache)
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=6m", "tmpfs", cache], check=True)
    try:
        filler = os.path.join(cache, "filler")
        with open(filler, "wb") as f:
            f.write(b"\0" * (4 * MiB))
        log = os.path.join(workdir, "mount.log")
        m = swarmfs_mount(s.torrent, "--download", "on-demand", "--log-file", log, "--log-level", "info",
                          cache_dir=cache)
        path = m.join(payload.files[0].path)
        # Reading the whole file needs 4 MiB where 2 are free: a read fails with an error (never
        # wrong bytes, never a hang).
        with pytest.raises(OSError) as raised:
            with open(path, "rb") as f:
                while f.read(1 * MiB):
                    pass
        assert raised.value.errno in (errno.EIO, errno.ENOSPC)
        os.unlink(filler)
        # Space is back: after the pause the same reads succeed, byte-exact.
        def reads_back():
            try:
                with open(path, "rb") as f:
                    return f.read() == payload.read(payload.files[0])
            except OSError:
                return False
        wait_until(reads_back, timeout=30, interval=1.0)
        swarmfs_mount.unmount(m)
        # One clear message for the whole episode (no retry loop logging every few seconds), and
        # one when storing works again: pieces stored during the pause (their jobs started
        # before it) do not end the episode, and failures during it only extend the pause, so
        # whatever the order in which the in-flight jobs finish, the log is the same.
        with open(log) as f:
            text = f.read()
        assert text.count("cannot store piece") == 1, text
        assert text.count("storing pieces again") == 1, text
        assert text.index("cannot store piece") < text.index("storing pieces again"), text
    finally:
        subprocess.run(["umount", "-l", cache])


def test_no_keep_removes_the_torrent_data_at_unmount(swarmfs_mount, swarm, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=1 * MiB + 1)
    s = swarm(payload, piece_size=64 * 1024, seeders=1)
    cache = os.path.join(workdir, "shared-folder")
    os.makedirs(cache)
    mine = os.path.join(cache, "not-swarmfs.txt")
    with open(mine, "w") as f:
        f.write("a user's own file beside the cache\n")
    m = swarmfs_mount(s.torrent, "--no-keep", cache_dir=cache)
    with open(m.join(payload.files[0].path), "rb") as f:
        assert f.read() == payload.read(payload.files[0])
    swarmfs_mount.unmount(m)
    wait_until(lambda: not os.path.exists(os.path.join(cache, payload.files[0].path)), timeout=10)
    assert not os.path.exists(os.path.join(cache, ".swarmfs"))
    assert os.path.exists(mine)


def test_many_waiting_readers_share_the_piece_memory_budget(swarmfs_mount, swarm, workdir):
    """Reads waiting for pieces used to bypass the piece-memory budget (500 readers of
    different 16 MiB pieces held 8 GiB). Now they queue within it, oldest first; a reader killed
    while queued goes at once, and every other gets its exact bytes."""
    import subprocess
    piece = 64 * 1024
    pieces = 32
    payload = make_single_payload(os.path.join(workdir, "seed"), size=pieces * piece)
    # Slow seeders keep pieces in flight long enough for the status to see them.
    s = swarm(payload, piece_size=piece, seeders=3, upload_limit=96 * 1024)
    # --cache-size 1M leaves a budget of four 64 KiB pieces in memory.
    m = swarmfs_mount(s.torrent, "--download", "on-demand", "--cache-size", "1M")
    path = m.join(payload.files[0].path)
    outputs = {}
    readers = {}
    for index in range(0, pieces, 2):
        out = os.path.join(workdir, f"read-{index}")
        outputs[index] = out
        readers[index] = subprocess.Popen(
            ["dd", f"if={path}", f"of={out}", "iflag=direct", "bs=4k", "count=1", f"skip={index * piece // 4096}"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    killed = [index for index in readers if index % 8 == 6]
    try:
        wait_until(lambda: m.status()["pendingReads"] >= len(readers) // 2, timeout=30, interval=0.1)
        for index in killed:
            readers[index].kill()
        for index in killed:
            readers[index].wait(timeout=10)
        peak = 0
        limit = None
        deadline = time.monotonic() + 120  # a generous guard against a hang, not a speed bound
        while any(reader.poll() is None for reader in readers.values()):
            assert time.monotonic() < deadline, "readers still blocked"
            status = m.status()
            limit = status["pieceMemoryLimit"]
            peak = max(peak, status["piecesInMemory"])
            assert status["piecesInMemory"] <= limit, status
            time.sleep(0.1)
        assert limit == 4 and peak >= 1, (limit, peak)
        for index, reader in readers.items():
            if index in killed:
                continue
            assert reader.returncode == 0, (index, reader.returncode)
            with open(outputs[index], "rb") as f:
                assert f.read() == payload.read(payload.files[0], index * piece, 4096), index
    finally:
        for reader in readers.values():
            if reader.poll() is None:
                reader.kill()
                reader.wait(10)


def test_a_seek_gets_memory_when_background_fill_holds_the_whole_budget(swarmfs_mount, swarm, workdir):
    """Background fill keeps the piece budget full; a seek cancels the background requests.
    The read must not wait for good behind pieces that nobody fetches while reads wait: those
    are finished, and the read takes the next free slot."""
    piece = 64 * 1024
    payload = make_single_payload(os.path.join(workdir, "seed"), size=64 * piece)
    s = swarm(payload, piece_size=piece, seeders=2, upload_limit=128 * 1024)
    # --cache-size 1M: a budget of four pieces, background fill on while the cache is small.
    m = swarmfs_mount(s.torrent, "--download", "all", "--cache-size", "1M")
    name = payload.files[0].path
    wait_until(lambda: m.status()["piecesInMemory"] >= m.status()["pieceMemoryLimit"], timeout=30, interval=0.05)
    for target in (50, 37, 60):
        # m.read's deadline only guards against a hang (it kills the daemon and fails).
        assert m.read(name, target * piece + 100, 4096, timeout=60) == payload.read(payload.files[0], target * piece + 100, 4096)
