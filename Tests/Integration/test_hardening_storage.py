"""Storage hardening (issue 11): descriptors pinned while replies use them, an untrusted cache
folder (symlinks and FIFOs never followed or opened), and `--download none` serving only bytes it
checked. Every command runs with a generous timeout: a hang fails the test instead of stalling it.
"""

from __future__ import annotations

import errno
import json
import os
import random
import shutil
import subprocess
import threading

import pytest

from swarmkit import KiB, MiB, make_multi_payload, make_single_payload, make_torrent
from swarmkit.mount import mounted
from swarmkit.waiting import wait_until

MANY_FILES = 2_000
READERS = 300
FD_LIMIT = 1024


def _many_files_payload(workdir):
    rng = random.Random(11)
    layout = [(f"d{i % 37:02d}/f{i:04d}.bin", rng.randint(1, 24 * KiB)) for i in range(MANY_FILES)]
    return make_multi_payload(os.path.join(workdir, "seed-many"), layout=layout, name="many")


def _drop_page_cache(path):
    """Drops the kernel's cached pages of a file on the mount, so the next read reaches the
    daemon (the mount keeps pages across opens)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _fd_count(pid):
    return len(os.listdir(f"/proc/{pid}/fd"))


def _mount_limited(swarmfs_bin, procs, torrent, mnt, cache, *extra, listen_port):
    """`swarmfs mount` (and so its daemon) under `ulimit -n 1024`."""
    argv = ["prlimit", f"--nofile={FD_LIMIT}:{FD_LIMIT}", "--", swarmfs_bin, "mount", torrent.path,
            mnt, "--cache-dir", cache, "--listen-port", str(listen_port), *map(str, extra)]
    return mounted(argv, mnt, procs=procs, timeout=120, swarmfs_bin=swarmfs_bin)


def _hammer(m, payload, seconds_budget_reads=8):
    """READERS threads open, read (all or a random range) and close random files, checking every
    byte; the daemon's open descriptors are sampled meanwhile. Returns (errors, max fds)."""
    files = [f for f in payload.files if f.size > 0]
    expected = {f.path: payload.read(f) for f in files}
    errors = []
    lock = threading.Lock()
    samples = []
    stop = threading.Event()
    pid = m.daemon_pids[0]

    def sampler():
        while not stop.is_set():
            try:
                samples.append(_fd_count(pid))
            except FileNotFoundError:
                return
            stop.wait(0.05)

    def reader(seed):
        rng = random.Random(seed)
        for _ in range(seconds_budget_reads):
            f = rng.choice(files)
            path = m.join(f.path)
            try:
                _drop_page_cache(path)
                with open(path, "rb", buffering=0) as fh:
                    if rng.random() < 0.5:
                        got, want = fh.read(), expected[f.path]
                    else:
                        start = rng.randrange(f.size)
                        length = rng.randint(1, f.size - start)
                        fh.seek(start)
                        got, want = fh.read(length), expected[f.path][start:start + length]
                if got != want:
                    with lock:
                        errors.append(f"{f.path}: wrong bytes ({len(got)} read, {len(want)} expected)")
            except OSError as e:
                with lock:
                    errors.append(f"{f.path}: {e}")

    watcher = threading.Thread(target=sampler, daemon=True)
    watcher.start()
    threads = [threading.Thread(target=reader, args=(i,)) for i in range(READERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.set()
    watcher.join()
    return errors, max(samples, default=0)


def _getfattr_all(mnt):
    result = subprocess.run(["getfattr", "-R", "-d", "-m", "-", mnt], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "user.swarmfs.progress" in result.stdout


# -- item 5: reply descriptors pinned by count, bounded -----------------------------------------

@pytest.mark.timeout(900)
def test_many_readers_of_many_files_from_a_complete_folder(swarmfs_bin, procs, pool, workdir):
    payload = _many_files_payload(workdir)
    torrent = make_torrent(payload, piece_size=16 * KiB, out_path=os.path.join(workdir, "many.torrent"))
    mnt = os.path.join(workdir, "mnt")
    with _mount_limited(swarmfs_bin, procs, torrent, mnt, payload.save_path, "--download", "none",
                        listen_port=pool.port()) as m:
        errors, max_fds = _hammer(m, payload)
        print(f"daemon descriptors: at most {max_fds} while {READERS} readers read {MANY_FILES} files")
        assert not errors, f"{len(errors)} bad reads, first: {errors[:5]}"
        # The store's LRU (64) plus one per file with an open reader (at most READERS) plus the
        # daemon's own (FUSE, logs, loops): never one per file of the torrent.
        assert max_fds < 64 + READERS + 100, f"daemon held {max_fds} descriptors"
        _getfattr_all(m.path)
        # Every reader is closed: only the LRU's descriptors (and the daemon's own) stay open.
        wait_until(lambda: _fd_count(m.daemon_pids[0]) < 64 + 100, timeout=30,
                   message="descriptors of closed files stayed open")


@pytest.mark.timeout(900)
def test_many_readers_of_many_files_while_downloading(swarmfs_bin, procs, pool, lt_seeder, workdir):
    payload = _many_files_payload(workdir)
    torrent = make_torrent(payload, piece_size=16 * KiB, out_path=os.path.join(workdir, "many.torrent"))
    seeder = lt_seeder(torrent, payload.save_path, use_tracker=False)
    mnt = os.path.join(workdir, "mnt")
    cache = os.path.join(workdir, "cache")
    with _mount_limited(swarmfs_bin, procs, torrent, mnt, cache, "--download", "all", "--peer",
                        seeder.endpoint, "--no-trackers", "--listen-host", pool.ip(),
                        listen_port=pool.port()) as m:
        errors, _ = _hammer(m, payload)
        assert not errors, f"{len(errors)} bad reads, first: {errors[:5]}"
        _getfattr_all(m.path)


# -- item 12: --download none serves the bytes it checked ---------------------------------------

def _read_through_mount(path, offset, length):
    _drop_page_cache(path)
    with open(path, "rb", buffering=0) as fh:
        fh.seek(offset)
        return fh.read(length)


@pytest.mark.parametrize("how", ["in-place", "replaced"])
def test_none_mode_never_serves_bytes_changed_after_their_check(swarmfs_bin, procs, pool, workdir, how):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=1 * MiB + 5)
    torrent = make_torrent(payload, piece_size=64 * KiB, out_path=os.path.join(workdir, "s.torrent"))
    original = payload.read(payload.files[0])
    source = payload.local_path(payload.files[0])
    mnt = os.path.join(workdir, "mnt")
    with _mount_limited(swarmfs_bin, procs, torrent, mnt, payload.save_path, "--download", "none",
                        listen_port=pool.port()) as m:
        inside = m.join(payload.name)
        assert _read_through_mount(inside, 0, 64 * KiB) == original[:64 * KiB]
        changed = bytearray(original)
        changed[1000:1016] = b"NOT THE TORRENT!"
        if how == "in-place":
            with open(source, "r+b") as fh:
                fh.seek(1000)
                fh.write(b"NOT THE TORRENT!")
        else:
            with open(source + ".new", "wb") as fh:
                fh.write(changed)
            os.replace(source + ".new", source)
        with pytest.raises(OSError) as failure:
            got = _read_through_mount(inside, 0, 64 * KiB)
            assert got != bytes(changed[:64 * KiB]), "served bytes that were never checked"
        assert failure.value.errno == errno.EIO
        # The unchanged part of the file still reads (its pieces check again, and match).
        assert _read_through_mount(inside, 128 * KiB, 64 * KiB) == original[128 * KiB:192 * KiB]


# -- item 11: the cache folder is untrusted -----------------------------------------------------

def _run(swarmfs_bin, *args, timeout=120):
    return subprocess.run([swarmfs_bin, *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, stdin=subprocess.DEVNULL)


@pytest.fixture
def multi(workdir):
    payload = make_multi_payload(os.path.join(workdir, "seed-multi"))
    torrent = make_torrent(payload, piece_size=32 * KiB, out_path=os.path.join(workdir, "m.torrent"))
    return payload, torrent


def _outside_copy(workdir, payload, rel):
    outside = os.path.join(workdir, "outside")
    os.makedirs(outside, exist_ok=True)
    target = os.path.join(outside, os.path.basename(rel))
    shutil.copy(payload.local_path(rel), target)
    return target


def test_verify_does_not_follow_a_symlinked_payload_file(swarmfs_bin, multi, workdir):
    payload, torrent = multi
    rel = "multi/media/movie.mkv"
    target = _outside_copy(workdir, payload, rel)
    os.unlink(payload.local_path(rel))
    os.symlink(target, payload.local_path(rel))  # the right bytes, but outside the folder
    result = _run(swarmfs_bin, "verify", "--json", torrent.path, payload.save_path)
    assert result.returncode == 1, result.stdout + result.stderr
    report = json.loads(result.stdout)
    by_path = {f["path"]: f for f in report["files"]}
    assert by_path["multi/media/movie.mkv"]["complete"] is False
    assert by_path["multi/README.txt"]["complete"] is True
    assert "movie.mkv" in result.stderr and "symbolic link" in result.stderr, result.stderr


def test_verify_does_not_follow_a_symlinked_directory(swarmfs_bin, multi, workdir):
    payload, torrent = multi
    folder = os.path.join(payload.save_path, "multi", "media")
    outside = os.path.join(workdir, "outside-media")
    shutil.move(folder, outside)
    os.symlink(outside, folder)
    result = _run(swarmfs_bin, "verify", "--json", torrent.path, payload.save_path)
    assert result.returncode == 1, result.stdout + result.stderr
    by_path = {f["path"]: f for f in json.loads(result.stdout)["files"]}
    assert by_path["multi/media/movie.mkv"]["complete"] is False
    assert by_path["multi/media/subs/movie.srt"]["complete"] is False
    assert "multi/media" in result.stderr and "symbolic link" in result.stderr, result.stderr


def test_fifo_at_a_payload_path_does_not_hang_verify_or_mount(swarmfs_bin, procs, pool, multi, workdir):
    payload, torrent = multi
    victim = payload.local_path("multi/README.txt")
    os.unlink(victim)
    os.mkfifo(victim)
    result = _run(swarmfs_bin, "verify", "--json", torrent.path, payload.save_path)
    assert result.returncode == 1, result.stdout + result.stderr
    by_path = {f["path"]: f for f in json.loads(result.stdout)["files"]}
    assert by_path["multi/README.txt"]["complete"] is False
    assert by_path["multi/z-last.bin"]["complete"] is True
    assert "README.txt" in result.stderr and "FIFO" in result.stderr, result.stderr
    mnt = os.path.join(workdir, "mnt")
    with _mount_limited(swarmfs_bin, procs, torrent, mnt, payload.save_path, "--download", "none",
                        listen_port=pool.port()) as m:
        with pytest.raises(OSError) as failure:
            _read_through_mount(m.join("multi", "README.txt"), 0, 100)
        assert failure.value.errno == errno.EIO
        assert _read_through_mount(m.join("multi", "z-last.bin"), 0, 100) == payload.read("multi/z-last.bin", 0, 100)


def _seeded_cache(swarmfs_bin, workdir, payload, torrent):
    """A cache root holding one complete entry (made by `swarmfs download`)."""
    root = os.path.join(workdir, "root")
    info_hash = torrent.info_hash.lower()
    entry = os.path.join(root, info_hash)
    os.makedirs(entry)
    shutil.copytree(os.path.join(payload.save_path, payload.name), os.path.join(entry, payload.name))
    return root, entry


def test_symlinked_lock_is_refused_and_its_target_untouched(swarmfs_bin, procs, pool, multi, workdir):
    payload, torrent = multi
    cache = os.path.join(workdir, "cache")
    shutil.copytree(payload.save_path, cache)
    precious = os.path.join(workdir, "precious.txt")
    with open(precious, "w") as fh:
        fh.write("do not truncate me\n")
    os.makedirs(os.path.join(cache, ".swarmfs"))
    os.symlink(precious, os.path.join(cache, ".swarmfs", "lock"))
    mnt = os.path.join(workdir, "mnt")
    os.makedirs(mnt)
    result = _run(swarmfs_bin, "mount", torrent.path, mnt, "--cache-dir", cache, "--download", "on-demand",
                  "--no-trackers", "--listen-host", pool.ip(), "--listen-port", pool.port())
    assert result.returncode != 0, "mounted over a symlinked lock"
    assert "lock" in result.stderr and "symbolic link" in result.stderr, result.stderr
    result = _run(swarmfs_bin, "download", torrent.path, "-o", cache, "--no-trackers",
                  "--listen-host", pool.ip(), "--listen-port", pool.port())
    assert result.returncode != 0
    assert "symbolic link" in result.stderr, result.stderr
    with open(precious) as fh:
        assert fh.read() == "do not truncate me\n"


def test_download_never_writes_through_a_symlinked_folder(swarmfs_bin, procs, pool, lt_seeder, workdir):
    payload = make_multi_payload(os.path.join(workdir, "seed"),
                                 layout=(("a.bin", 300_000), ("sub/b.bin", 200_000)), name="multi")
    torrent = make_torrent(payload, piece_size=32 * KiB, out_path=os.path.join(workdir, "t.torrent"))
    seeder = lt_seeder(torrent, payload.save_path, use_tracker=False)
    out = os.path.join(workdir, "out")
    outside = os.path.join(workdir, "outside")
    os.makedirs(out)
    os.makedirs(outside)
    os.symlink(outside, os.path.join(out, "multi"))
    result = _run(swarmfs_bin, "download", torrent.path, "-o", out, "--peer", seeder.endpoint,
                  "--no-trackers", "--listen-host", pool.ip(), "--listen-port", pool.port(), timeout=120)
    assert result.returncode != 0, result.stdout + result.stderr
    assert "symbolic link" in result.stderr, result.stderr[-2000:]
    assert os.listdir(outside) == [], "wrote outside the download folder"


def test_symlinked_or_fifo_resume_record_is_treated_as_missing(swarmfs_bin, procs, pool, multi, workdir):
    payload, torrent = multi
    root, entry = _seeded_cache(swarmfs_bin, workdir, payload, torrent)
    state = os.path.join(entry, ".swarmfs")
    os.makedirs(state)
    shutil.copy(torrent.path, os.path.join(state, "torrent"))
    os.mkfifo(os.path.join(state, "resume"))
    result = _run(swarmfs_bin, "cache", "list", "--json", "--root", root)
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert len(listed) == 1
    assert "resume" in result.stderr and "FIFO" in result.stderr, result.stderr
    mnt = os.path.join(workdir, "mnt")
    with _mount_limited(swarmfs_bin, procs, torrent, mnt, entry, "--download", "on-demand", "--no-trackers",
                        "--listen-host", pool.ip(), listen_port=pool.port()) as m:
        assert _read_through_mount(m.join("multi", "README.txt"), 0, 100) == payload.read("multi/README.txt", 0, 100)
    # A symlinked record: never read through, never written through.
    os.unlink(os.path.join(state, "resume"))
    decoy = os.path.join(workdir, "decoy")
    with open(decoy, "wb") as fh:
        fh.write(b"decoy")
    os.symlink(decoy, os.path.join(state, "resume"))
    result = _run(swarmfs_bin, "cache", "list", "--json", "--root", root)
    assert result.returncode == 0, result.stderr
    assert "symbolic link" in result.stderr, result.stderr
    with _mount_limited(swarmfs_bin, procs, torrent, os.path.join(workdir, "mnt2"), entry, "--download",
                        "on-demand", "--no-trackers", "--listen-host", pool.ip(), listen_port=pool.port()) as m:
        assert _read_through_mount(m.join("multi", "README.txt"), 0, 100) == payload.read("multi/README.txt", 0, 100)
    with open(decoy, "rb") as fh:
        assert fh.read() == b"decoy"
