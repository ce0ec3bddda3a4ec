"""`swarmfs mount DIR MOUNTPOINT`: a library of torrents on a real kernel mount, against real
libtorrent seeders (one per torrent, reached with --peer, no tracker).

Each torrent is a folder named after it at the mount root, holding the torrent's files (below
its own top folder for a multi-file torrent). Changes to DIR are waited for as conditions,
never as a fixed time; every mount goes through `mounted`, which unmounts and stops the daemon
by PID even when a test fails.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import subprocess
import sys
import threading

import pytest

from swarmkit import (KiB, MiB, assert_tree_matches, is_mounted, make_multi_payload,
                      make_single_payload, make_torrent, mounted, wait_until)


def library_argv(swarmfs_bin, pool, library, mnt, cache, *extra):
    """A foreground library mount fetching on demand from the peers given with --peer."""
    return [swarmfs_bin, "mount", library, mnt, "--cache-dir", cache, "--listen-host", pool.ip(),
            "--no-trackers", "--download", "on-demand", "-f", *map(str, extra)]


def seeded(lt_seeder, workdir, name, *, size=1 * MiB + 7, seed=1, multi=False, piece=64 * KiB):
    """A payload, its torrent (in workdir, not yet in the library) and a seeder of it."""
    save = os.path.join(workdir, f"seed-{name}-{seed}")
    if multi:
        payload = make_multi_payload(save, name=name, seed=seed)
    else:
        payload = make_single_payload(save, size=size, name=name, seed=seed)
    torrent = make_torrent(payload, piece_size=piece, trackers=[],
                           out_path=os.path.join(workdir, f"{name}-{seed}.torrent"))
    seeder = lt_seeder(torrent, payload.save_path, use_tracker=False)
    return payload, torrent, seeder


def drop(torrent, library, as_name):
    """Puts a .torrent into the library the way a download would: written aside, renamed in."""
    temporary = os.path.join(library, f".{as_name}.part")
    shutil.copyfile(torrent.path, temporary)
    os.replace(temporary, os.path.join(library, as_name))


def wait_listing(m, predicate, why, timeout=15.0):
    wait_until(lambda: predicate(m.listdir()), timeout, 0.02, why)
    return m.listdir()


def read_all(m, folder, payload, f):
    return m.read(f"{folder}/{f.torrent_path}", 0, None, timeout=60)


def start_blocked_reader(path):
    """A child that reads 64 KiB of `path` and prints how it ended (ok N / error ERRNO)."""
    code = ("import os, sys\n"
            "try:\n"
            "    fd = os.open(sys.argv[1], os.O_RDONLY)\n"
            "    print('ok', len(os.pread(fd, 65536, 0)), flush=True)\n"
            "except OSError as e:\n"
            "    print('error', e.errno, flush=True)\n")
    return subprocess.Popen([sys.executable, "-c", code, path], stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)


def sleeping(pid):
    with open(f"/proc/{pid}/stat") as f:
        return f.read().rsplit(")", 1)[1].split()[0] in ("S", "D")


def test_two_torrents_read_in_parallel_byte_exact(swarmfs_bin, procs, pool, lt_seeder, workdir):
    single, single_torrent, single_seeder = seeded(lt_seeder, workdir, "single.bin", size=3 * MiB + 12_345)
    multi, multi_torrent, multi_seeder = seeded(lt_seeder, workdir, "multi", multi=True)
    library = os.path.join(workdir, "library")
    os.makedirs(library)
    shutil.copyfile(single_torrent.path, os.path.join(library, "one.torrent"))
    shutil.copyfile(multi_torrent.path, os.path.join(library, "two.torrent"))
    mnt = os.path.join(workdir, "mnt")
    argv = library_argv(swarmfs_bin, pool, library, mnt, os.path.join(workdir, "cache"),
                        "--peer", single_seeder.endpoint, "--peer", multi_seeder.endpoint)
    with mounted(argv, mnt, procs=procs, swarmfs_bin=swarmfs_bin) as m:
        # Every torrent in the folder is there once the mount answers.
        assert m.listdir() == ["multi", "single.bin"]
        assert m.listdir("single.bin") == ["single.bin"]
        assert sorted(m.listdir("multi")) == sorted({f.torrent_path.split("/")[0] for f in multi.files})

        jobs = [("single.bin", single, f) for f in single.files] + \
               [("multi", multi, f) for f in multi.files]
        results = {}

        def reader(folder, payload, f):
            try:
                results[(folder, f.path)] = hashlib.sha256(read_all(m, folder, payload, f)).hexdigest()
            except Exception as exc:  # reported below
                results[(folder, f.path)] = repr(exc)
        threads = [threading.Thread(target=reader, args=job) for job in jobs]
        for t in threads:
            t.start()
        for t in threads:
            t.join(120)
        for folder, payload, f in jobs:
            assert results.get((folder, f.path)) == f.sha256, (folder, f.path, results.get((folder, f.path)))

        status = m.status()
        assert status["torrentCount"] == 2
        by_folder = {t["folder"]: t for t in status["torrents"]}
        assert by_folder["single.bin"]["infoHash"] == single_torrent.info_hash
        assert by_folder["multi"]["state"] == "running"
        assert by_folder["single.bin"]["verifiedBytes"] == single.total_size
        one = subprocess.run([swarmfs_bin, "status", m.join("multi"), "--json"], capture_output=True,
                             text=True, timeout=15)
        assert one.returncode == 0, one.stderr
        assert '"infoHash":"%s"' % multi_torrent.info_hash in one.stdout
        human = subprocess.run([swarmfs_bin, "status", m.path], capture_output=True, text=True, timeout=15)
        assert human.returncode == 0 and "single.bin" in human.stdout and "multi" in human.stdout


def test_added_removed_and_replaced_while_mounted(swarmfs_bin, procs, pool, lt_seeder, workdir):
    first, first_torrent, first_seeder = seeded(lt_seeder, workdir, "clip.bin", seed=1)
    second, second_torrent, second_seeder = seeded(lt_seeder, workdir, "clip.bin", seed=2)
    library = os.path.join(workdir, "library")
    os.makedirs(library)
    mnt = os.path.join(workdir, "mnt")
    argv = library_argv(swarmfs_bin, pool, library, mnt, os.path.join(workdir, "cache"),
                        "--peer", first_seeder.endpoint, "--peer", second_seeder.endpoint)
    with mounted(argv, mnt, procs=procs, swarmfs_bin=swarmfs_bin) as m:
        assert m.listdir() == []
        # Dropped in: the folder appears (the kernel was told; nothing stale is cached).
        drop(first_torrent, library, "clip.torrent")
        wait_listing(m, lambda names: names == ["clip.bin"], "the dropped torrent never appeared")
        f = first.files[0]
        assert m.read(f"clip.bin/{f.torrent_path}", 0, None) == first.read(f, 0, f.size)

        # Replaced by another torrent of the same name: the folder now reads the new content.
        drop(second_torrent, library, "clip.torrent")
        g = second.files[0]

        def new_content():
            try:
                return m.read(f"clip.bin/{g.torrent_path}", 0, 4096, timeout=30) == second.read(g, 0, 4096)
            except OSError:
                return False  # between the old folder going and the new one coming
        wait_until(new_content, 20, 0.05, "the replaced torrent still reads the old content")
        assert hashlib.sha256(m.read(f"clip.bin/{g.torrent_path}", 0, None)).hexdigest() == g.sha256
        assert m.status()["torrents"][0]["infoHash"] == second_torrent.info_hash

        # Removed: the folder goes.
        os.unlink(os.path.join(library, "clip.torrent"))
        wait_listing(m, lambda names: names == [], "the removed torrent is still listed")
        with pytest.raises(FileNotFoundError):
            os.stat(m.join("clip.bin"))


def test_removed_while_a_reader_is_blocked_fails_the_reader(swarmfs_bin, procs, pool, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed-absent"), size=2 * MiB + 5, name="absent.bin")
    torrent = make_torrent(payload, piece_size=64 * KiB, trackers=[],
                           out_path=os.path.join(workdir, "absent.torrent"))
    library = os.path.join(workdir, "library")
    os.makedirs(library)
    shutil.copyfile(torrent.path, os.path.join(library, "absent.torrent"))
    # The only peer is not running: its address is leased and nobody listens there, so the read
    # waits (no --read-timeout) for a piece that never comes.
    dead_ip, dead_port = pool.endpoint()
    mnt = os.path.join(workdir, "mnt")
    argv = library_argv(swarmfs_bin, pool, library, mnt, os.path.join(workdir, "cache"),
                        "--peer", f"{dead_ip}:{dead_port}")
    with mounted(argv, mnt, procs=procs, swarmfs_bin=swarmfs_bin) as m:
        path = m.join("absent.bin", "absent.bin")
        assert os.stat(path).st_size == payload.total_size
        reader = start_blocked_reader(path)
        try:
            wait_until(lambda: sleeping(reader.pid) and m.status()["torrents"][0]["pendingReads"] >= 1,
                       10, 0.02, "the read should be waiting for the absent peer")
            assert reader.poll() is None
            os.unlink(os.path.join(library, "absent.torrent"))
            out, _ = reader.communicate(timeout=20)
            assert out.split()[:2] in (["error", str(errno.EIO)], ["error", str(errno.ENOENT)]), out
        finally:
            if reader.poll() is None:
                reader.kill()
                reader.wait(5)
        wait_listing(m, lambda names: names == [], "the removed torrent is still listed")
        # The mount goes on.
        assert m.status()["torrentCount"] == 0


def test_malformed_duplicate_named_and_magnet_files(swarmfs_bin, procs, pool, lt_seeder, workdir):
    a, a_torrent, a_seeder = seeded(lt_seeder, workdir, "movie.bin", seed=1)
    b, b_torrent, b_seeder = seeded(lt_seeder, workdir, "movie.bin", seed=2)
    library = os.path.join(workdir, "library")
    os.makedirs(library)
    shutil.copyfile(a_torrent.path, os.path.join(library, "a.torrent"))
    mnt = os.path.join(workdir, "mnt")
    argv = library_argv(swarmfs_bin, pool, library, mnt, os.path.join(workdir, "cache"),
                        "--peer", a_seeder.endpoint, "--peer", b_seeder.endpoint)
    with mounted(argv, mnt, procs=procs, swarmfs_bin=swarmfs_bin) as m:
        assert m.listdir() == ["movie.bin"]
        with open(os.path.join(library, "broken.torrent"), "wb") as fh:
            fh.write(b"d4:infod4:name")
        drop(b_torrent, library, "b.torrent")
        # The same torrent under a second file name is still one folder.
        drop(a_torrent, library, "a-copy.torrent")
        hex_hash = "ab" * 20
        with open(os.path.join(library, "later.magnet"), "w") as fh:
            fh.write(f"# to fetch\nmagnet:?xt=urn:btih:{hex_hash}&dn=Later%20Show\n")
        names = wait_listing(m, lambda n: len(n) == 3, "the duplicate-named torrent and the magnet never appeared")
        assert names == ["Later Show", "movie.bin", "movie.bin (2)"]
        # Shared names are numbered in info-hash order.
        first, second = sorted([(a_torrent.info_hash, a), (b_torrent.info_hash, b)], key=lambda t: t[0])
        for folder, (_, payload) in (("movie.bin", first), ("movie.bin (2)", second)):
            f = payload.files[0]
            assert m.read(f"{folder}/{f.torrent_path}", 0, 64 * KiB) == payload.read(f, 0, 64 * KiB)
        assert m.listdir("Later Show") == []

        def broken_listed():
            return [p["file"] for p in m.status()["problems"]] == ["broken.torrent"]
        wait_until(broken_listed, 10, 0.05, "the malformed file is not in status")
        status = m.status()
        states = {t["folder"]: t["state"] for t in status["torrents"]}
        assert states == {"movie.bin": "running", "movie.bin (2)": "running", "Later Show": "magnet"}
        magnet = next(t for t in status["torrents"] if t["folder"] == "Later Show")
        assert magnet["infoHash"] == hex_hash and "metadata" in magnet["reason"]
        human = subprocess.run([swarmfs_bin, "status", m.path], capture_output=True, text=True, timeout=15)
        assert "broken.torrent" in human.stdout and "magnet" in human.stdout, human.stdout


def test_library_refuses_no_keep(swarmfs_bin, run, workdir):
    library = os.path.join(workdir, "library")
    mnt = os.path.join(workdir, "mnt")
    os.makedirs(library)
    os.makedirs(mnt)
    result = run("mount", library, mnt, "--no-keep", "-f", timeout=30)
    assert result.returncode == 2, result
    assert "--no-keep" in result.stderr
    assert not is_mounted(mnt)


def allocated_bytes(root):
    total = 0
    for directory, _, names in os.walk(root):
        if ".swarmfs" in directory:
            continue
        for name in names:
            total += os.stat(os.path.join(directory, name)).st_blocks * 512
    return total


def test_one_cache_size_for_the_whole_library(swarmfs_bin, procs, pool, lt_seeder, workdir):
    """`--cache-size` bounds all the library's torrents together and evicts the least recently
    read pieces whichever torrent holds them."""
    first, first_torrent, first_seeder = seeded(lt_seeder, workdir, "first.bin", size=12 * MiB, piece=128 * KiB)
    second, second_torrent, second_seeder = seeded(lt_seeder, workdir, "second.bin", size=12 * MiB, seed=2,
                                                   piece=128 * KiB)
    library = os.path.join(workdir, "library")
    os.makedirs(library)
    shutil.copyfile(first_torrent.path, os.path.join(library, "first.torrent"))
    shutil.copyfile(second_torrent.path, os.path.join(library, "second.torrent"))
    cache = os.path.join(workdir, "cache")
    limit = 8 * MiB
    mnt = os.path.join(workdir, "mnt")
    argv = library_argv(swarmfs_bin, pool, library, mnt, cache, "--cache-size", "8M",
                        "--peer", first_seeder.endpoint, "--peer", second_seeder.endpoint)
    peak = 0

    def read_through(m, folder, payload):
        nonlocal peak
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("1\n")
        got = bytearray()
        fd = os.open(m.join(f"{folder}/{payload.files[0].torrent_path}"), os.O_RDONLY)
        try:
            while True:
                chunk = os.read(fd, 1 * MiB)
                if not chunk:
                    break
                got += chunk
                peak = max(peak, allocated_bytes(cache))
        finally:
            os.close(fd)
        assert hashlib.sha256(got).hexdigest() == payload.files[0].sha256, folder

    with mounted(argv, mnt, procs=procs, swarmfs_bin=swarmfs_bin) as m:
        first_dir = os.path.join(cache, first_torrent.info_hash)
        second_dir = os.path.join(cache, second_torrent.info_hash)
        read_through(m, "first.bin", first)
        read_through(m, "second.bin", second)
        # The first torrent's pieces are the coldest: reading the second evicted them, not its own.
        wait_until(lambda: allocated_bytes(cache) <= limit + 1 * MiB, timeout=10)
        assert allocated_bytes(first_dir) < allocated_bytes(second_dir), \
            (allocated_bytes(first_dir), allocated_bytes(second_dir))
        read_through(m, "first.bin", first)   # evicted pieces come back, byte-exact
    # One limit for both: under it plus one readahead window (a quarter of it) and pieces in flight.
    assert peak <= limit + limit // 4 + 4 * MiB, peak


def test_library_seeds_every_torrent_through_one_listening_port(swarmfs_bin, procs, pool, lt_leecher,
                                                                workdir):
    """Complete caches of two torrents, one listening port: libtorrent leechers of each torrent
    connect to the same address and the engine's router hands each to its torrent."""
    payloads = []
    library = os.path.join(workdir, "library")
    cache = os.path.join(workdir, "cache")
    os.makedirs(library)
    for name, multi, seed in [("alpha.bin", False, 1), ("beta", True, 2)]:
        save = os.path.join(workdir, f"seed-{name}")
        payload = make_multi_payload(save, name=name, seed=seed) if multi else \
            make_single_payload(save, size=2 * MiB + 99, name=name, seed=seed)
        torrent = make_torrent(payload, piece_size=32 * KiB, trackers=[],
                               out_path=os.path.join(workdir, f"{name}.torrent"))
        shutil.copyfile(torrent.path, os.path.join(library, f"{name}.torrent"))
        shutil.copytree(payload.save_path, os.path.join(cache, torrent.info_hash))
        payloads.append((payload, torrent))
    ip, port = pool.endpoint()
    mnt = os.path.join(workdir, "mnt")
    argv = [swarmfs_bin, "mount", library, mnt, "--cache-dir", cache, "--listen-host", ip,
            "--listen-port", str(port), "--no-trackers", "--download", "on-demand", "-f"]
    with mounted(argv, mnt, procs=procs, swarmfs_bin=swarmfs_bin) as m:
        wait_until(lambda: all(t.get("state") == "running" and t.get("verifiedBytes") == p.total_size
                               for t, (p, _) in zip(sorted(m.status()["torrents"], key=lambda t: t["folder"]),
                                                    payloads)), 30, 0.1, "the torrents did not start")
        leechers = [(payload, lt_leecher(torrent, peers=[f"{ip}:{port}"], use_tracker=False))
                    for payload, torrent in payloads]
        for payload, leecher in leechers:
            leecher.wait_complete(60)
            assert_tree_matches(payload, leecher.save_path)
        # Each torrent counts what it uploaded (status is published on the torrent's next tick).
        wait_until(lambda: all(t["uploadedBytes"] >= p.total_size for t, (p, _) in
                               zip(sorted(m.status()["torrents"], key=lambda t: t["folder"]), payloads)),
                   10, 0.1, f"uploads not counted per torrent: {m.status()['torrents']}")
