"""`swarmfs mount` on real kernel mounts.

Most cases serve a complete cache (`--download none --cache-dir <payload>`), which exercises the
whole FUSE path (inode table, attributes, reads spliced from the cache file, interrupts,
shutdown) without the swarm; reads can be held (`--debug-hold-reads-while FILE`) to test blocked
readers. The last cases mount against libtorrent seeders through the real engine.

Every mount is made through `mounted`/`swarmfs_mount`, which unmount and stop the daemon by PID
even when a test fails.
"""

from __future__ import annotations

import contextlib
import errno
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request

import pytest

from swarmkit import (KiB, MiB, bdecode, bencode, call_with_deadline, fuse_daemon_pids,
                      is_mounted, make_multi_payload, make_single_payload, make_torrent, mounted,
                      pid_alive, processes_naming, wait_until)
from swarmkit.payload import Payload, PayloadFile

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELPER = os.path.join(REPO, "Mount", "mount.fuse.swarmfs")


# -- helpers ------------------------------------------------------------------------------------

def serve_complete(swarmfs_mount, payload, torrent, *extra, **kwargs):
    """Mount `torrent` serving `payload` (complete) without any peer."""
    return swarmfs_mount(torrent, "--download", "none", *extra, cache_dir=payload.save_path,
                         **kwargs)


def mount_path(payload: Payload, f: PayloadFile) -> str:
    """Where a payload file shows up below the mount root (same layout as the download DIR)."""
    return f.path


def wait_blocked(pid: int, timeout: float = 5.0) -> None:
    """Wait until process `pid` sleeps (blocked in a read), not running or gone."""
    def sleeping():
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state in ("S", "D")
    wait_until(sleeping, timeout, 0.02)


def start_blocked_reader(path: str) -> subprocess.Popen:
    """A child that reads `path` and prints how it ended (ok / errno name)."""
    code = (
        "import os, sys\n"
        "try:\n"
        "    fd = os.open(sys.argv[1], os.O_RDONLY)\n"
        "    data = os.pread(fd, 65536, 0)\n"
        "    print('ok', len(data), flush=True)\n"
        "except OSError as e:\n"
        "    print('error', e.errno, flush=True)\n"
    )
    return subprocess.Popen([sys.executable, "-c", code, path], stdout=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True)


@contextlib.contextmanager
def blocked_reader(path: str, settle: float, why: str = "the read should be waiting"):
    """A `start_blocked_reader` child, yielded once it sleeps in its read and is still there
    `settle` s later; killed and reaped on the way out, whatever happened."""
    reader = start_blocked_reader(path)
    try:
        wait_blocked(reader.pid)
        time.sleep(settle)
        assert reader.poll() is None, why
        yield reader
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait(5)


@pytest.fixture
def multi(workdir):
    payload = make_multi_payload(os.path.join(workdir, "seed-multi"))
    torrent = make_torrent(payload, piece_size=32 * KiB, out_path=os.path.join(workdir, "m.torrent"))
    return payload, torrent


@pytest.fixture
def single(workdir):
    payload = make_single_payload(os.path.join(workdir, "seed"), size=3 * MiB + 12_345)
    torrent = make_torrent(payload, piece_size=64 * KiB, out_path=os.path.join(workdir, "s.torrent"))
    return payload, torrent


def foreground_argv(swarmfs_bin, torrent, mnt, cache, *extra):
    return [swarmfs_bin, "mount", torrent.path, mnt, "--cache-dir", cache, "--download", "none",
            "-f", *extra]


# -- metadata -----------------------------------------------------------------------------------

def test_listing_and_stat_match_the_torrent(swarmfs_mount, multi, single):
    for payload, torrent in (multi, single):
        m = serve_complete(swarmfs_mount, payload, torrent)
        seen = {}
        for root, dirs, files in os.walk(m.path):
            for name in dirs:
                st = os.stat(os.path.join(root, name))
                assert oct(st.st_mode & 0o7777) == oct(0o555)
                assert st.st_uid == os.getuid() and st.st_gid == os.getgid()
            for name in files:
                full = os.path.join(root, name)
                st = os.stat(full)
                assert oct(st.st_mode & 0o7777) == oct(0o444)
                assert st.st_uid == os.getuid()
                seen[os.path.relpath(full, m.path)] = st.st_size
        assert seen == {f.path: f.size for f in payload.files}
        # Inode numbers are stable within a mount and differ between files.
        inodes = {os.stat(os.path.join(m.path, p)).st_ino for p in seen}
        assert len(inodes) == len(seen)
        # statfs: read-only, sized like the torrent.
        vfs = os.statvfs(m.path)
        assert vfs.f_flag & os.ST_RDONLY
        assert vfs.f_blocks * vfs.f_frsize >= payload.total_size


def test_padding_files_are_hidden(swarmfs_mount, workdir):
    payload = make_multi_payload(os.path.join(workdir, "seed-pad"))
    torrent = make_torrent(payload, piece_size=16 * KiB, pad_files=True,
                           out_path=os.path.join(workdir, "pad.torrent"))
    m = serve_complete(swarmfs_mount, payload, torrent)
    found = set()
    for root, dirs, files in os.walk(m.path):
        assert ".pad" not in dirs
        found.update(os.path.relpath(os.path.join(root, f), m.path) for f in files)
    assert found == {f.path for f in payload.files}
    for f in payload.files:
        assert m.read(f.path) == payload.read(f)


def test_twenty_thousand_files_list_instantly(swarmfs_mount, workdir):
    save = os.path.join(workdir, "many")
    files = []
    for i in range(20_000):
        rel = f"many/d{i // 1000:02d}/s{i % 10}/f{i:05d}.txt"
        os.makedirs(os.path.join(save, os.path.dirname(rel)), exist_ok=True)
        with open(os.path.join(save, rel), "wb") as out:
            out.write(b"%d\n" % i)
        files.append(PayloadFile(rel, rel[len("many/"):], len(b"%d\n" % i), ""))
    payload = Payload(save, "many", True, files)
    torrent = make_torrent(payload, piece_size=16 * KiB, out_path=os.path.join(workdir, "many.torrent"))
    m = serve_complete(swarmfs_mount, payload, torrent, timeout=120)
    start = time.monotonic()
    count = 0
    total = 0
    for root, _, names in os.walk(m.path):
        for name in names:
            total += os.lstat(os.path.join(root, name)).st_size
            count += 1
    elapsed = time.monotonic() - start
    assert count == 20_000
    assert total == sum(f.size for f in files)
    assert elapsed < 5.0, f"walking and stat-ing 20,000 files took {elapsed:.2f} s"
    assert m.read("many/d19/s9/f19999.txt") == b"19999\n"


# Hand-made file paths (raw `path`, `path.utf-8` or None, length) and where swarmfs's
# PathSanitizer puts them below the torrent's folder: `/` and NUL become `_`; empty, `.` and `..`
# components are dropped (`_` when nothing is left); names are cut to 255 bytes at a character
# boundary; `path.utf-8` wins when it is valid UTF-8, else `path` is decoded lossily; duplicates
# in one folder, and a file colliding with a folder, become `stem (2).ext`, ... in torrent order.
HOSTILE_NAME = b"../hostile"
HOSTILE_TOP = ".._hostile"
ESCAPE = "swarmkit-escape-{token}"  # an absolute first component: /tmp/<this>


def hostile_files(token: str) -> list[tuple[list[bytes], object, int, list[str]]]:
    escape = ESCAPE.format(token=token)
    long_ascii = b"L" * 300
    long_accented = "\u00e9" * 200
    return [
        ([b"..", b"..", b"escaped.txt"], None, 11, ["escaped.txt"]),
        ([b".", b"", b"dot", b"", b"file.txt"], None, 12, ["dot", "file.txt"]),
        ([b"", b"root.txt"], None, 13, ["root.txt"]),
        ([b"/tmp/" + escape.encode(), b"abs.txt"], None, 14, ["_tmp_" + escape, "abs.txt"]),
        ([b"legacy-nul.txt"], [b"nul\x00byte.txt"], 15, ["nul_byte.txt"]),
        ([b"legacy", b"c.txt"], [b"a/b", b"c.txt"], 16, ["a_b", "c.txt"]),
        ([b"fallback.txt"], [b"\xff\xfe"], 17, ["fallback.txt"]),  # invalid path.utf-8
        ([b"caf\xe9"], None, 18, ["caf\ufffd"]),  # invalid UTF-8 in `path`: decoded lossily
        ([long_ascii + b".bin"], None, 19, ["L" * 255]),
        ([long_ascii], None, 20, ["L" * 251 + " (2)"]),
        ([long_accented.encode()], None, 21, ["\u00e9" * 127]),
        ([b"dup.txt"], None, 22, ["dup.txt"]),
        ([b"dup.txt"], None, 23, ["dup (2).txt"]),
        ([b".", b"dup.txt"], None, 24, ["dup (3).txt"]),
        ([b"x/y"], None, 25, ["x_y"]),
        ([b"x_y"], None, 26, ["x_y (2)"]),
        # A file beside a folder of its name is renamed; the folder keeps its path (libtorrent).
        ([b"c"], None, 27, ["c (2)"]),
        ([b"c", b"d"], None, 28, ["c", "d"]),
        ([b"..", b"."], None, 29, ["_"]),
    ]


def write_hostile_torrent(path: str, files, piece_length: int = 16 * KiB) -> None:
    """A multi-file torrent with the given file list; the piece hashes are placeholders (the
    content is never read)."""
    entries = []
    for raw, utf8, length, _ in files:
        entry = {"length": length, "path": raw}
        if utf8 is not None:
            entry["path.utf-8"] = utf8
        entries.append(entry)
    total = sum(length for _, _, length, _ in files)
    pieces = -(-total // piece_length)
    info = {"name": HOSTILE_NAME, "piece length": piece_length, "pieces": b"\x00" * 20 * pieces,
            "files": entries}
    with open(path, "wb") as out:
        out.write(bencode({"info": info, "creation date": 1_600_000_000}))


def tree_below(root: str) -> tuple[set, set]:
    """({relative folders}, {relative files}) below `root`, never following symlinks."""
    folders, files = set(), set()
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames:
            folders.add(os.path.relpath(os.path.join(dirpath, name), root))
        for name in filenames:
            files.add(os.path.relpath(os.path.join(dirpath, name), root))
    return folders, files


def test_hostile_names_stay_inside_the_mount(swarmfs_mount, run, workdir):
    token = f"{os.getpid()}-{random.randrange(1 << 30)}"
    files = hostile_files(token)
    torrent = os.path.join(workdir, "hostile.torrent")
    write_hostile_torrent(torrent, files)
    expected_files = {"/".join([HOSTILE_TOP, *want]): length for _, _, length, want in files}
    expected_folders = {os.path.dirname(p) for p in expected_files}
    for folder in list(expected_folders):
        while folder:
            expected_folders.add(folder)
            folder = os.path.dirname(folder)
    escape_paths = [os.path.join("/tmp", ESCAPE.format(token=token)),
                    os.path.join(os.path.dirname(workdir), "escaped.txt")]

    # `swarmfs info --json` lists the sanitised paths, in torrent order.
    result = run("info", "--json", torrent)
    assert result.returncode == 0, result.stderr
    info = json.loads(result.stdout)
    assert info["name"] == HOSTILE_TOP
    assert [(f["path"], f["length"]) for f in info["files"]] == list(expected_files.items())

    jail = os.path.join(workdir, "jail")  # the cache dir's parent: must stay holding only it
    os.makedirs(jail)
    cache = os.path.join(jail, "cache")
    mnt = os.path.join(workdir, "mnt")
    m = swarmfs_mount(torrent, "--download", "on-demand", "--no-trackers", cache_dir=cache,
                      mountpoint=mnt)
    root = os.path.realpath(m.path)
    names = []
    for dirpath, dirnames, filenames in os.walk(m.path):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            names.append(name)
            st = os.lstat(full)
            assert not os.path.islink(full), full
            assert os.path.realpath(full).startswith(root + "/"), full
            assert st.st_dev == os.lstat(m.path).st_dev, full
    assert all(n not in (".", "..", "") and "/" not in n and "\0" not in n for n in names), names
    assert all(len(n.encode()) <= 255 for n in names)
    folders, found = tree_below(m.path)
    assert folders == expected_folders
    assert found == set(expected_files)
    for rel, length in expected_files.items():
        assert os.lstat(m.join(rel)).st_size == length, rel

    # The usual tools walk it without a complaint.
    listing = subprocess.run(["ls", "-lR", m.path], capture_output=True, text=True, timeout=60)
    assert listing.returncode == 0 and listing.stderr == "", listing.stderr
    found_lines = subprocess.run(["find", m.path], capture_output=True, text=True, timeout=60)
    assert found_lines.returncode == 0 and found_lines.stderr == "", found_lines.stderr
    assert sorted(found_lines.stdout.splitlines()) == sorted(
        [m.path] + [os.path.join(m.path, p) for p in expected_folders | set(expected_files)])

    # Nothing was written outside the cache dir, while mounted or at shutdown.
    swarmfs_mount.unmount(m)
    assert os.listdir(jail) == ["cache"]
    assert sorted(os.listdir(workdir)) == ["hostile.torrent", "jail", "logs", "mnt"]
    for path in escape_paths:
        assert not os.path.lexists(path), path
    cache_folders, cache_files = tree_below(cache)
    for rel in cache_folders | cache_files:
        full = os.path.join(cache, rel)
        assert not os.path.islink(full), full
        if rel.split("/")[0] == ".swarmfs":
            continue
        assert rel in expected_folders or rel in expected_files, rel


def with_creation_date(torrent, out_path: str, date) -> str:
    """A copy of `torrent` whose `creation date` is `date` (None: no such key). It is outside
    the info dictionary, so the info-hash stays the same."""
    with open(torrent.path, "rb") as f:
        meta = bdecode(f.read())
    meta.pop(b"creation date", None)
    if date is not None:
        meta[b"creation date"] = date
    with open(out_path, "wb") as f:
        f.write(bencode(meta))
    return out_path


def mount_times(m) -> dict[str, float]:
    """st_mtime of the mount root and of every folder and file below it."""
    times = {".": m.stat().st_mtime}
    for dirpath, dirnames, filenames in os.walk(m.path):
        for name in dirnames + filenames:
            full = os.path.join(dirpath, name)
            times[os.path.relpath(full, m.path)] = os.lstat(full).st_mtime
    return times


def test_mtime_is_the_torrents_creation_date(swarmfs_mount, multi, workdir):
    payload, torrent = multi
    date = 1_234_567_890  # 2009-02-13 23:31:30 UTC
    dated = with_creation_date(torrent, os.path.join(workdir, "dated.torrent"), date)
    m = serve_complete(swarmfs_mount, payload, dated)
    times = mount_times(m)
    assert {"multi", "multi/a/b/c", "multi/a/b/c/deep.bin", "multi/empty.dat"} <= set(times)
    assert times == {rel: date for rel in times}
    swarmfs_mount.unmount(m)

    # Without a creation date: the time of the mount.
    undated = with_creation_date(torrent, os.path.join(workdir, "undated.torrent"), None)
    before = int(time.time())  # the daemon reads a whole-second clock
    m = serve_complete(swarmfs_mount, payload, undated)
    after = time.time()
    times = mount_times(m)
    assert len(set(times.values())) == 1, times
    assert before <= times["."] <= after, (before, times["."], after)


# -- kernel side --------------------------------------------------------------------------------

READ_AHEAD_KB = 512  # FuseMountOptions.largestSplicedRead / 1024, set on the mount's bdi
LIBFUSE_MAX_BACKGROUND = 12  # libfuse's default, which swarmfs raises in `init`
LIBFUSE_CONGESTION_THRESHOLD = 9  # 3/4 of it


def fusectl_values(connection: str, names) -> dict:
    """The mount's FUSE connection settings from fusectl (/sys/fs/fuse/connections/N/...).
    When fusectl is not mounted on the host, it is mounted in a private mount namespace of a
    short-lived `unshare`, so the host is left as it was. None when neither is possible."""
    host = os.path.join("/sys/fs/fuse/connections", connection)
    if os.path.isdir(host):
        out = {}
        for name in names:
            with open(os.path.join(host, name)) as f:
                out[name] = int(f.read())
        return out
    if shutil.which("unshare") is None or os.geteuid() != 0:
        return None
    script = ('mount -t fusectl fusectl /sys/fs/fuse/connections && cd "/sys/fs/fuse/connections/$0"'
              ' && for n in "$@"; do printf "%s %s\\n" "$n" "$(cat "$n")"; done')
    result = subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                             connection, *names], capture_output=True, text=True, timeout=30,
                            stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        return None
    return {name: int(value) for name, value in (line.split() for line in result.stdout.splitlines())}


def test_kernel_side_is_tuned(swarmfs_mount, multi):
    payload, torrent = multi
    m = serve_complete(swarmfs_mount, payload, torrent)
    # `swarmfs mount` returns once the daemon has tuned the mount and answers.
    assert m.command.wait(30) == 0, m.command.tail()
    dev = m.stat().st_dev
    major, minor = os.major(dev), os.minor(dev)
    bdi = f"/sys/class/bdi/{major}:{minor}"
    assert os.path.isdir(bdi), f"no bdi for the mount's device {major}:{minor}"
    with open(os.path.join(bdi, "read_ahead_kb")) as f:
        read_ahead = int(f.read())
    if os.geteuid() == 0:
        assert read_ahead == READ_AHEAD_KB
    else:  # only root may write the bdi's read_ahead_kb; swarmfs leaves the default then
        assert read_ahead > 0
    # The fusectl connection is named after the kernel's dev_t (major << 20 | minor).
    values = fusectl_values(str((major << 20) | minor), ["max_background", "congestion_threshold"])
    if values is None:
        pytest.skip("fusectl is not mounted and cannot be mounted here (needs root and unshare)")
    assert values["max_background"] > LIBFUSE_MAX_BACKGROUND, values
    assert LIBFUSE_CONGESTION_THRESHOLD < values["congestion_threshold"] <= values["max_background"], values


# -- reading ------------------------------------------------------------------------------------

def test_every_file_is_byte_exact(swarmfs_mount, multi, single):
    for payload, torrent in (multi, single):
        m = serve_complete(swarmfs_mount, payload, torrent)
        for f in payload.files:
            assert m.read(f.path) == payload.read(f), f.path
            # And through cat(1)/cmp(1), the way users read.
            result = subprocess.run(["cmp", payload.local_path(f), m.join(f.path)],
                                    capture_output=True, timeout=30)
            assert result.returncode == 0, result.stderr


def test_random_offsets_across_piece_and_file_boundaries(swarmfs_mount, multi):
    payload, torrent = multi
    m = serve_complete(swarmfs_mount, payload, torrent)
    rng = random.Random(4)
    piece = torrent.piece_length
    for f in payload.files:
        offsets = {0, max(0, f.size - 1), f.size, f.size + 10}
        for k in range(1, f.size // piece + 1):  # around every piece boundary inside the file
            offsets.update({k * piece - 1, k * piece, max(0, k * piece - 100)})
        offsets.update(rng.randrange(0, f.size + 1) for _ in range(10))
        for offset in sorted(offsets):
            length = rng.choice([1, 100, 4096, piece, piece + 1, 3 * piece])
            assert m.read(f.path, offset, length) == payload.read(f, offset, length), \
                (f.path, offset, length)


def test_eight_parallel_readers(swarmfs_mount, multi):
    payload, torrent = multi
    m = serve_complete(swarmfs_mount, payload, torrent)
    big = [f for f in payload.files if f.size > 0]
    errors = []

    def reader(seed):
        rng = random.Random(seed)
        try:
            for _ in range(60):
                f = rng.choice(big)
                offset = rng.randrange(0, f.size)
                length = rng.randrange(1, 256 * KiB)
                if m.read(f.path, offset, length) != payload.read(f, offset, length):
                    errors.append((f.path, offset, length))
            f = big[seed % len(big)]
            if m.read(f.path) != payload.read(f):
                errors.append((f.path, "whole"))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads)
    assert errors == []


def test_a_complete_folder_damaged_behind_our_back_is_never_served(swarmfs_mount, single):
    payload, torrent = single
    f = payload.files[0]
    path = os.path.join(payload.save_path, f.path)
    damaged_at = torrent.piece_length + 100  # inside the second piece
    with open(path, "r+b") as handle:
        handle.seek(damaged_at)
        original = handle.read(1)
        handle.seek(damaged_at)
        handle.write(bytes([original[0] ^ 0xFF]))
    m = serve_complete(swarmfs_mount, payload, torrent)
    expected = payload.read(f)
    with open(m.join(f.path), "rb", buffering=0) as handle:
        # The damaged piece fails with EIO, each time; its neighbours read back exact.
        for _ in range(2):
            with pytest.raises(OSError) as info:
                os.pread(handle.fileno(), 10, torrent.piece_length)
            assert info.value.errno == errno.EIO
        assert os.pread(handle.fileno(), torrent.piece_length, 0) == expected[:torrent.piece_length]
        third = 2 * torrent.piece_length
        assert os.pread(handle.fileno(), 4096, third) == expected[third:third + 4096]
    # What was read is verified (the kernel may have read ahead a little); the damaged piece never.
    verified = m.status()["verifiedBytes"]
    assert 2 * torrent.piece_length <= verified <= payload.total_size - torrent.piece_length


def test_writes_are_refused_with_erofs(swarmfs_mount, multi):
    payload, torrent = multi
    m = serve_complete(swarmfs_mount, payload, torrent)
    f = next(f for f in payload.files if f.size > 0)
    target = m.join(f.path)
    attempts = [
        lambda: os.open(target, os.O_WRONLY),
        lambda: os.open(target, os.O_RDWR),
        lambda: os.open(target, os.O_RDONLY | os.O_TRUNC),
        lambda: os.open(m.join(payload.name, "new.txt"), os.O_WRONLY | os.O_CREAT, 0o644),
        lambda: os.mkdir(m.join(payload.name, "newdir")),
        lambda: os.unlink(target),
        lambda: os.rename(target, target + ".moved"),
        lambda: os.truncate(target, 0),
        lambda: os.chmod(target, 0o644),
        lambda: os.utime(target, (1, 1)),
        lambda: os.setxattr(target, "user.x", b"1"),
        lambda: os.symlink("x", m.join(payload.name, "link")),
    ]
    for attempt in attempts:
        with pytest.raises(OSError) as info:
            attempt()
        assert info.value.errno == errno.EROFS, (info.value, attempt)
    assert m.read(f.path) == payload.read(f)


def test_status_and_extended_attributes(swarmfs_mount, run, multi):
    payload, torrent = multi
    m = serve_complete(swarmfs_mount, payload, torrent)
    status = m.status()
    for key in ("infoHash", "totalLength", "verifiedBytes", "downloadedBytes", "uploadedBytes",
                "downloadRate", "uploadRate", "peers", "cacheDiskBytes", "files"):
        assert key in status, key
    assert status["infoHash"] == torrent.info_hash
    assert status["totalLength"] == payload.total_size
    # A complete folder is hash-checked as it is read: nothing counts as verified before.
    assert status["verifiedBytes"] == 0
    for f in payload.files:
        with open(m.join(f.path), "rb") as handle:
            assert handle.read() == payload.read(f)
    status = m.status()
    assert status["verifiedBytes"] == payload.total_size
    assert [f["path"] for f in status["files"]] == [f.path for f in payload.files]
    assert [f["length"] for f in status["files"]] == [f.size for f in payload.files]
    human = run("status", m.path)
    assert human.returncode == 0 and "100.0%" in human.stdout
    f = payload.largest()
    assert os.getxattr(m.join(f.path), "user.swarmfs.progress") == b"100.0"
    first, last = os.getxattr(m.join(f.path), "user.swarmfs.pieces").decode().split("-")
    assert 0 <= int(first) <= int(last) < torrent.num_pieces
    assert set(os.listxattr(m.join(f.path))) == {"user.swarmfs.progress", "user.swarmfs.pieces"}
    with pytest.raises(OSError) as info:
        os.getxattr(m.join(f.path), "user.nothing")
    assert info.value.errno == errno.ENODATA
    not_ours = run("status", os.path.dirname(m.path))
    assert not_ours.returncode != 0


# -- blocked readers, unmount, signals ---------------------------------------------------------

def test_reader_killed_while_blocked_dies_at_once(swarmfs_mount, multi, workdir):
    payload, torrent = multi
    hold = os.path.join(workdir, "hold")
    open(hold, "w").close()
    m = serve_complete(swarmfs_mount, payload, torrent, "--debug-hold-reads-while", hold)
    f = payload.largest()
    with blocked_reader(m.join(f.path), 0.3) as reader:
        reader.kill()
        reader.wait(timeout=2)  # a killed reader is gone at once, not stuck in D state
    os.unlink(hold)
    # The mount keeps serving, with the right bytes.
    assert m.read(f.path, 1000, 5000) == payload.read(f, 1000, 5000)


def test_interrupted_direct_read_is_cancelled_with_eintr(swarmfs_mount, multi, workdir):
    """An O_DIRECT read is a synchronous FUSE request: a killed reader can only go once the
    daemon answers the kernel's INTERRUPT, and the read must then be withdrawn from the source."""
    payload, torrent = multi
    hold = os.path.join(workdir, "hold")
    open(hold, "w").close()
    m = serve_complete(swarmfs_mount, payload, torrent, "--debug-hold-reads-while", hold)
    f = payload.largest()
    reader = subprocess.Popen(["dd", f"if={m.join(f.path)}", "iflag=direct", "bs=64k", "count=1",
                               "of=/dev/null"], stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        wait_blocked(reader.pid)
        wait_until(lambda: m.status()["pendingReads"] == 1, 5, 0.02)
        start = time.monotonic()
        reader.kill()
        reader.wait(timeout=2)
        assert time.monotonic() - start < 1.0
        wait_until(lambda: m.status()["pendingReads"] == 0, 2, 0.02)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait(5)
    os.unlink(hold)
    assert m.read(f.path, 0, 4096) == payload.read(f, 0, 4096)


def test_held_read_completes_when_data_arrives(swarmfs_mount, multi, workdir):
    payload, torrent = multi
    hold = os.path.join(workdir, "hold")
    open(hold, "w").close()
    m = serve_complete(swarmfs_mount, payload, torrent, "--debug-hold-reads-while", hold)
    f = payload.largest()
    with blocked_reader(m.join(f.path), 0.2) as reader:
        assert m.status()["pendingReads"] >= 1
        os.unlink(hold)
        out, _ = reader.communicate(timeout=10)
        assert out.split() == ["ok", str(min(65536, f.size))]


def stop_under_blocked_reader(m, reader, how, swarmfs_bin, mnt, reader_limit):
    """Stop mount `m` (SIGTERM, SIGINT or `swarmfs unmount`) while `reader` is blocked in a read:
    the reader gets an error within `reader_limit` s and the daemon exits 0 within 2 s."""
    start = time.monotonic()
    if how == "sigterm":
        m.command.popen.send_signal(signal.SIGTERM)
    elif how == "sigint":
        m.command.popen.send_signal(signal.SIGINT)
    else:
        result = subprocess.run([swarmfs_bin, "unmount", mnt], capture_output=True, text=True,
                                timeout=20)
        assert result.returncode == 0, result.stderr
    out, _ = reader.communicate(timeout=10)
    reader_seconds = time.monotonic() - start
    assert out.startswith("error"), f"a read with no data must fail, got {out!r}"
    assert reader_seconds < reader_limit, f"the blocked reader waited {reader_seconds:.2f} s"
    assert m.command.wait(10) == 0, m.command.tail()
    assert time.monotonic() - start < 2.0


@pytest.mark.parametrize("how", ["sigterm", "sigint", "swarmfs-unmount"])
def test_shutdown_while_a_read_is_blocked(swarmfs_bin, procs, multi, workdir, how):
    payload, torrent = multi
    hold = os.path.join(workdir, "hold")
    open(hold, "w").close()
    mnt = os.path.join(workdir, "mnt")
    argv = foreground_argv(swarmfs_bin, torrent, mnt, payload.save_path,
                           "--debug-hold-reads-while", hold)
    with mounted(argv, mnt, procs=procs, swarmfs_bin=swarmfs_bin) as m:
        with blocked_reader(m.join(payload.largest().path), 0.2) as reader:
            stop_under_blocked_reader(m, reader, how, swarmfs_bin, mnt, reader_limit=1.0)
            assert not is_mounted(mnt)


def test_fusermount_unmount_ends_the_daemon(swarmfs_bin, procs, multi, workdir):
    payload, torrent = multi
    mnt = os.path.join(workdir, "mnt")
    with mounted(foreground_argv(swarmfs_bin, torrent, mnt, payload.save_path), mnt,
                 procs=procs, swarmfs_bin=swarmfs_bin) as m:
        assert m.read(payload.largest().path, 0, 100) == payload.read(payload.largest(), 0, 100)
        start = time.monotonic()
        assert subprocess.run(["fusermount3", "-u", mnt], timeout=10).returncode == 0
        assert m.command.wait(5) == 0
        assert time.monotonic() - start < 2.0


def test_background_mount_returns_once_serving_and_unmounts(swarmfs_bin, run, multi, workdir):
    payload, torrent = multi
    mnt = os.path.join(workdir, "mnt")
    os.makedirs(mnt)
    try:
        result = run("mount", torrent.path, mnt, "--cache-dir", payload.save_path,
                     "--download", "none")
        assert result.returncode == 0, result.stderr
        # Serving as soon as the command returns: no polling needed.
        f = payload.largest()
        with open(os.path.join(mnt, f.path), "rb") as fh:
            assert fh.read(4096) == payload.read(f, 0, 4096)
        daemons = fuse_daemon_pids(mnt)
        assert len(daemons) == 1
        # The daemon runs in its own session, detached from our terminal.
        assert os.getsid(daemons[0]) == daemons[0]
        result = run("unmount", mnt)
        assert result.returncode == 0, result.stderr
        assert not is_mounted(mnt)
        wait_until(lambda: not pid_alive(daemons[0]), 3.0, 0.02)
    finally:
        for pid in fuse_daemon_pids(mnt):
            os.kill(pid, signal.SIGKILL)
        if is_mounted(mnt):
            subprocess.run(["fusermount3", "-uz", mnt])


# -- errors -------------------------------------------------------------------------------------

def test_mount_errors_exit_nonzero_and_leave_nothing_mounted(swarmfs_bin, run, multi, workdir,
                                                            swarmfs_mount):
    payload, torrent = multi
    missing = os.path.join(workdir, "missing")
    result = run("mount", torrent.path, missing, "--cache-dir", payload.save_path, "--download", "none")
    assert result.returncode == 2 and "does not exist" in result.stderr

    full = os.path.join(workdir, "full")
    os.makedirs(full)
    open(os.path.join(full, "x"), "w").close()
    result = run("mount", torrent.path, full, "--cache-dir", payload.save_path, "--download", "none")
    assert result.returncode == 2 and "not empty" in result.stderr
    assert not is_mounted(full)

    bad = os.path.join(workdir, "bad.torrent")
    with open(bad, "wb") as out:
        out.write(b"d4:infod4:name")
    empty = os.path.join(workdir, "empty")
    os.makedirs(empty)
    result = run("mount", bad, empty, "--cache-dir", payload.save_path)
    assert result.returncode == 2 and "torrent" in result.stderr
    assert not is_mounted(empty)

    result = run("mount", torrent.path, empty, "--download", "sometimes")
    assert result.returncode != 0
    assert not is_mounted(empty)

    m = serve_complete(swarmfs_mount, payload, torrent)
    result = run("mount", torrent.path, m.path, "--cache-dir", payload.save_path, "--download", "none")
    assert result.returncode != 0
    assert len(fuse_daemon_pids(m.path)) == 1


def test_stale_mount_is_cleared_on_the_next_mount(swarmfs_bin, procs, multi, workdir):
    payload, torrent = multi
    mnt = os.path.join(workdir, "mnt")
    with mounted(foreground_argv(swarmfs_bin, torrent, mnt, payload.save_path), mnt,
                 procs=procs, swarmfs_bin=swarmfs_bin) as m:
        m.command.popen.kill()
        m.command.popen.wait(5)
        with pytest.raises(OSError) as info:
            os.statvfs(mnt)  # stat may still answer from the attribute cache
        assert info.value.errno == errno.ENOTCONN
        assert is_mounted(mnt)
    # `mounted` cleaned up after itself; make the stale mount again, then mount over it.
    with mounted(foreground_argv(swarmfs_bin, torrent, mnt, payload.save_path), mnt,
                 procs=procs, swarmfs_bin=swarmfs_bin) as m:
        m.command.popen.kill()
        m.command.popen.wait(5)
        stale_argv = foreground_argv(swarmfs_bin, torrent, mnt, payload.save_path)
        proc = procs.spawn("remount", stale_argv)
        wait_until(lambda: _answers(mnt), 30, 0.05)
        f = payload.largest()
        with open(os.path.join(mnt, f.path), "rb") as fh:
            assert fh.read() == payload.read(f)
        subprocess.run(["fusermount3", "-u", mnt], timeout=10)
        assert proc.wait(5) == 0


def _answers(path: str) -> bool:
    try:
        os.statvfs(path)  # asks the daemon (stat may answer from the kernel's cache)
        return os.path.ismount(path)
    except OSError:
        return False


def test_mount_without_dev_fuse_fails_clearly(swarmfs_bin, procs, multi, workdir):
    if shutil.which("unshare") is None:
        pytest.skip("unshare is not installed")
    probe = subprocess.run(["unshare", "--mount", "--propagation", "private", "true"],
                           capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL)
    if probe.returncode != 0:
        pytest.skip(f"unshare --mount is not permitted here: {probe.stderr.strip()}")
    payload, torrent = multi
    mnt = os.path.join(workdir, "mnt")
    os.makedirs(mnt)
    stderr_path = os.path.join(workdir, "mount.stderr")
    # In a private mount namespace /dev/fuse is /dev/null: it opens, but it is no FUSE device.
    # After the command, report whether anything got mounted inside the namespace.
    script = ('mount --bind /dev/null /dev/fuse || exit 99\n'
              '"$0" mount "$1" "$2" --download none --cache-dir "$3" 2>"$4"\n'
              'code=$?\n'
              'if awk -v p="$2" \'$2 == p {found = 1} END {exit !found}\' /proc/self/mounts; then\n'
              '    echo "MOUNTED-IN-NAMESPACE"\n'
              'fi\n'
              'exit $code\n')
    start = time.monotonic()
    proc = procs.spawn("unshare-mount", ["unshare", "--mount", "--propagation", "private", "sh",
                                         "-c", script, swarmfs_bin, torrent.path, mnt,
                                         payload.save_path, stderr_path])
    try:
        code = proc.wait(30)
    finally:
        for pid in processes_naming(mnt):  # a daemon left behind is stopped by PID at teardown
            procs.adopt_pid("left-behind", pid)
    seconds = time.monotonic() - start
    assert code != 99, f"could not bind /dev/null over /dev/fuse:\n{proc.tail()}"
    assert code != 0
    assert seconds < 10, f"failing took {seconds:.1f} s"
    assert processes_naming(mnt) == [], "a swarmfs process outlived the failed mount"
    assert "MOUNTED-IN-NAMESPACE" not in proc.output()
    assert not is_mounted(mnt)
    with open("/proc/mounts") as f:
        assert not any(line.split()[1] == mnt for line in f)
    with open(stderr_path, encoding="utf-8", errors="replace") as f:
        stderr = f.read()
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, f"expected one line on stderr, got {stderr!r}"
    # The test's folder name has "fuse" in it: look for the word outside any of our paths.
    words = lines[0].replace(workdir, "<workdir>").lower()
    assert "fuse" in words, f"the error does not mention FUSE: {lines[0]!r}"


# -- mount(8) -----------------------------------------------------------------------------------

def test_mount_helper_through_mount_t(swarmfs_bin, multi, pool, workdir):
    if os.geteuid() != 0:
        pytest.skip("mount -t needs root")
    installed = "/sbin/mount.fuse.swarmfs"
    if os.path.exists(installed):
        pytest.skip(f"{installed} exists already; not replacing it")
    payload, torrent = multi
    mnt = os.path.join(workdir, "mnt")
    os.makedirs(mnt)
    shutil.copy(HELPER, installed)
    try:
        env = dict(os.environ, SWARMFS_BIN=swarmfs_bin)
        http_ip, http_port = pool.ip(), pool.port()
        # An fstab line has only -o: the command line's switches are there too.
        result = subprocess.run(
            ["mount", "-t", "fuse.swarmfs", torrent.path, mnt, "-o",
             f"cache_dir={payload.save_path},download=none,allow_other,noatime,_netdev,nofail,"
             f"http={http_ip}:{http_port},peer_encryption=disable,no_dht,no-utp,no_lsd"],
            env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        with open("/proc/self/mountinfo") as info:
            line = next(l for l in info if f" {mnt} " in l)
        assert "fuse.swarmfs" in line and torrent.path in line and "allow_other" in line
        assert "no_dht" not in line and "encryption" not in line  # ours, not the kernel's
        for f in payload.files:
            with open(os.path.join(mnt, f.path), "rb") as fh:
                assert fh.read() == payload.read(f)
        (daemon,) = fuse_daemon_pids(mnt)
        with open(f"/proc/{daemon}/cmdline", "rb") as fh:
            argv = fh.read().decode().split("\0")
        for flag in ("--no-dht", "--no-utp", "--no-lsd"):
            assert flag in argv, argv
        assert argv[argv.index("--encryption") + 1] == "disable", argv
        f = payload.files[0]
        url = f"http://{http_ip}:{http_port}/t/{torrent.info_hash}/{urllib.parse.quote(f.path)}"
        with urllib.request.urlopen(url, timeout=30) as response:
            assert response.read() == payload.read(f)
        result = subprocess.run(["umount", mnt], capture_output=True, text=True, timeout=20)
        assert result.returncode == 0, result.stderr
        assert not is_mounted(mnt)
    finally:
        os.unlink(installed)
        for pid in fuse_daemon_pids(mnt):
            os.kill(pid, signal.SIGKILL)
        if is_mounted(mnt):
            subprocess.run(["fusermount3", "-uz", mnt])


@pytest.mark.parametrize("through", ["swarmfs-mount", "mount-t"])
def test_mount_smoke_script_passes_and_cleans_up(swarmfs_bin, through):
    """Mount/smoke.sh, the check an installer runs: mount, sha256 every file, read-only, unmount."""
    installed = "/sbin/mount.fuse.swarmfs"
    argv = ["sh", os.path.join(REPO, "Mount", "smoke.sh"), swarmfs_bin]
    if through == "mount-t":
        if os.geteuid() != 0:
            pytest.skip("mount -t needs root")
        if os.path.exists(installed):
            pytest.skip(f"{installed} exists already; not replacing it")
        shutil.copy(HELPER, installed)
        argv.insert(2, "--mount-helper")
    before = set(os.listdir("/tmp"))
    try:
        result = subprocess.run(argv, capture_output=True, text=True, timeout=120,
                                env=dict(os.environ, SWARMFS_BIN=swarmfs_bin))
    finally:
        if through == "mount-t":
            os.unlink(installed)
    assert result.returncode == 0, result.stdout + result.stderr
    # It removes its own mount and files, also the daemon.
    left = [d for d in set(os.listdir("/tmp")) - before if d.startswith("swarmfs-smoke.")]
    assert left == [], left
    with open("/proc/self/mountinfo") as info:
        assert not any("swarmfs-smoke." in line for line in info)


# -- the real engine ----------------------------------------------------------------------------

def test_streams_from_libtorrent_seeders(swarmfs_mount, swarm, pool, workdir):
    payload = make_multi_payload(os.path.join(workdir, "seed-swarm"))
    s = swarm(payload, piece_size=32 * KiB, seeders=2)
    m = swarmfs_mount(s.torrent, "--listen-host", pool.ip(), "--download", "on-demand")
    f = payload.largest()
    assert m.read(f.path, 100_000, 70_000, timeout=60) == payload.read(f, 100_000, 70_000)
    for f in payload.files:
        assert m.read(f.path, timeout=60) == payload.read(f), f.path
    assert m.status()["verifiedBytes"] >= sum(f.size for f in payload.files if f.size) // 2


def test_session_mount_stops_cleanly_on_sigterm(swarmfs_bin, procs, swarm, pool, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed-sig"), size=2 * MiB + 3)
    s = swarm(payload, piece_size=64 * KiB, seeders=1)
    mnt = os.path.join(workdir, "mnt")
    argv = [swarmfs_bin, "mount", s.torrent.path, mnt, "--cache-dir", os.path.join(workdir, "cache"),
            "--listen-host", pool.ip(), "--listen-port", str(pool.port()), "-f"]
    with mounted(argv, mnt, procs=procs, swarmfs_bin=swarmfs_bin) as m:
        f = payload.files[0]
        assert m.read(f.path, 0, 100_000, timeout=60) == payload.read(f, 0, 100_000)
        start = time.monotonic()
        m.command.popen.send_signal(signal.SIGTERM)
        assert m.command.wait(5) == 0
        assert time.monotonic() - start < 2.0
        assert not is_mounted(mnt)


def test_read_timeout_answers_eio_when_no_peer_has_the_data(swarmfs_mount, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed-lonely"), size=1 * MiB)
    torrent = make_torrent(payload, piece_size=64 * KiB, trackers=[],
                           out_path=os.path.join(workdir, "lonely.torrent"))
    m = swarmfs_mount(torrent, "--no-trackers", "--read-timeout", "1", "--download", "on-demand")
    # Metadata never waits for the network.
    assert m.stat(payload.files[0].path, timeout=5).st_size == payload.files[0].size
    start = time.monotonic()
    with pytest.raises(OSError) as info:
        m.read(payload.files[0].path, 0, 4096, timeout=30)
    elapsed = time.monotonic() - start
    assert info.value.errno == errno.EIO
    assert 0.9 <= elapsed < 5.0, elapsed


def engine_argv(swarmfs_bin, pool, torrent, mnt, cache, *extra):
    """A foreground mount through the real engine (no trackers; peers given with --peer)."""
    return [swarmfs_bin, "mount", torrent.path, mnt, "--cache-dir", cache, "--listen-host", pool.ip(),
            "--listen-port", str(pool.port()), "--no-trackers", "--download", "on-demand", "-f",
            *map(str, extra)]


@pytest.mark.parametrize("how", ["swarmfs-unmount", "sigterm"])
def test_engine_reader_killed_while_blocked_dies_at_once(how, swarmfs_bin, procs, pool, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed-absent"), size=2 * MiB + 5)
    torrent = make_torrent(payload, piece_size=64 * KiB, trackers=[],
                           out_path=os.path.join(workdir, "absent.torrent"))
    # The only seeder is not running: its address is leased and nobody listens there, so every
    # read waits (no --read-timeout) for data that never comes.
    dead_ip, dead_port = pool.endpoint()
    mnt = os.path.join(workdir, "mnt")
    argv = engine_argv(swarmfs_bin, pool, torrent, mnt, os.path.join(workdir, "cache"),
                       "--peer", f"{dead_ip}:{dead_port}")
    f = payload.files[0]
    with mounted(argv, mnt, procs=procs, swarmfs_bin=swarmfs_bin) as m:
        assert m.status()["verifiedBytes"] == 0
        with blocked_reader(m.join(f.path), 0.5, "the read should be waiting for the absent seeder") as reader:
            start = time.monotonic()
            reader.kill()
            reader.wait(timeout=5)
            reaped = time.monotonic() - start
            assert reaped < 1.0, f"the killed reader took {reaped:.2f} s to go"
        # The mount still answers (metadata never waits for peers).
        assert m.stat(f.path, timeout=5).st_size == f.size

        with blocked_reader(m.join(f.path), 0.5, "the second read should be waiting too") as reader:
            stop_under_blocked_reader(m, reader, how, swarmfs_bin, mnt, reader_limit=2.0)
            assert not is_mounted(mnt)


def read_direct(path: str, offset: int, length: int) -> bytes:
    """One O_DIRECT pread (page-aligned buffer; `offset` and `length` multiples of 4 KiB)."""
    import mmap
    fd = os.open(path, os.O_RDONLY | os.O_DIRECT)
    try:
        buf = mmap.mmap(-1, length)
        count = os.preadv(fd, [buf], offset)
        return bytes(buf[:count])
    finally:
        os.close(fd)


def test_all_peers_gone_reads_time_out_never_wrong(swarmfs_mount, lt_seeder, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed-leaving"), size=8 * MiB + 3)
    torrent = make_torrent(payload, piece_size=64 * KiB, trackers=[],
                           out_path=os.path.join(workdir, "leaving.torrent"))
    seeder = lt_seeder(torrent, payload.save_path, use_tracker=False)
    timeout = 2.0
    m = swarmfs_mount(torrent, "--peer", seeder.endpoint, "--no-trackers", "--download", "on-demand",
                      "--read-timeout", timeout)
    f = payload.files[0]
    head = 256 * KiB
    assert m.read(f.path, 0, head, timeout=60) == payload.read(f, 0, head)
    time.sleep(1.5)  # let any readahead land
    seeder.stop()  # every peer is gone
    fetched = m.status()["verifiedBytes"]
    # Only the head and its readahead are here; the regions read below are not.
    assert head <= fetched <= 3 * MiB, fetched
    # One O_DIRECT read (a single FUSE request), then a plain buffered read (the kernel's
    # readahead request, then its retry of the page): each fails with EIO in about the timeout.
    seconds = {}
    for offset, how in ((6 * MiB, "direct"), (4 * MiB + 12_345, "buffered")):
        start = time.monotonic()
        try:
            if how == "direct":
                got = call_with_deadline(lambda: read_direct(m.join(f.path), offset, 64 * KiB), 30,
                                         m.abort)
            else:
                got = m.read(f.path, offset, 64 * KiB, timeout=30)
        except OSError as exc:
            got = exc
        elapsed = time.monotonic() - start
        assert isinstance(got, OSError), (
            f"a {how} read of data nobody has returned {len(got)} bytes "
            f"({'right' if got == payload.read(f, offset, len(got)) else 'WRONG'}) instead of failing")
        assert got.errno == errno.EIO, (how, got)
        seconds[how] = elapsed
    # What was read before the peers left still reads back exactly, through swarmfs (the
    # kernel's cached pages are dropped first).
    with open("/proc/sys/vm/drop_caches", "w") as fh:
        fh.write("1\n")
    assert m.read(f.path, 0, head, timeout=30) == payload.read(f, 0, head)
    slow = {how: round(t, 2) for how, t in seconds.items() if t >= timeout + 2.0}
    assert not slow, f"EIO took longer than --read-timeout {timeout} + 2 s: {slow}"


@pytest.mark.parametrize("how", ["fusermount", "swarmfs-unmount"])
def test_unmount_announces_stopped(how, swarmfs_mount, tracker, pool, workdir):
    payload = make_single_payload(os.path.join(workdir, "seed-announce"), size=1 * MiB + 7)
    torrent = make_torrent(payload, piece_size=64 * KiB, trackers=[tracker.announce_url],
                           out_path=os.path.join(workdir, "announce.torrent"))
    tracker.allow(torrent.info_hash)
    port = pool.port()
    # Listen on every address (the default): the tracker records the address our announce came
    # from (127.0.0.1) and the port we announce. No seeder exists: we stay a leecher.
    m = swarmfs_mount(torrent, "--download", "on-demand", listen_port=port)

    def listed():
        return [p for p in tracker.peers(torrent.info_hash) if p[1] == port]
    wait_until(listed, 30, 0.2, f"the tracker never listed our port {port}")
    daemons = list(m.daemon_pids)
    assert daemons, "no daemon found for the mount"
    if how == "swarmfs-unmount":
        result = m.unmount_with_swarmfs()
        assert result.returncode == 0, result.stderr
    swarmfs_mount.unmount(m)  # fusermount3 -u (or nothing left to do); waits for the daemon
    assert not is_mounted(m.path)
    assert m.daemon_exited_after_unmount is True, "the daemon did not exit after unmounting"
    # opentracker drops a peer when it announces `stopped`; without it we would stay listed for
    # the whole announce interval.
    wait_until(lambda: not listed(), 5, 0.2,
               f"the tracker still lists port {port} after the unmount: {listed()}")
