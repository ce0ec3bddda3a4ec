"""Hostile names and sizes in a torrent (issue 11): what a user sees through the CLI and a mount.

Torrents here are made by hand (bencode) because libtorrent's create_torrent refuses to write
most of them; where data must be served, a libtorrent seeder is given the files where libtorrent
itself puts them (`lt.torrent_info(...).files()`), so the test does not guess its naming rules.
"""
import hashlib
import os
import random

import pytest

from swarmkit import bencode, wait_until

INT64_MAX = (1 << 63) - 1
ACCENTS = "\u0301" * 127


def write_torrent(path, info):
    with open(path, "wb") as f:
        f.write(bencode({b"info": info}))
    return path


def info_for(name, files, piece_length=16 * 1024):
    """An info dictionary for `files` = [(path components, bytes)]; single-file when the only
    path is None. Returns (info, data laid end to end)."""
    data = b"".join(content for _, content in files)
    pieces = b"".join(hashlib.sha1(data[i:i + piece_length]).digest()
                      for i in range(0, len(data), piece_length))
    info = {b"name": name.encode() if isinstance(name, str) else name,
            b"piece length": piece_length, b"pieces": pieces}
    if len(files) == 1 and files[0][0] is None:
        info[b"length"] = len(files[0][1])
    else:
        info[b"files"] = [{b"length": len(content), b"path": [p.encode() for p in path]}
                          for path, content in files]
    return info


def lay_out_like_libtorrent(torrent_path, save_path, files):
    """Writes each file's bytes where libtorrent would keep it; returns those relative paths."""
    import libtorrent as lt
    storage = lt.torrent_info(torrent_path).files()
    paths = [storage.file_path(i) for i in range(storage.num_files())]
    for relative, (_, content) in zip(paths, files):
        full = os.path.join(save_path, relative)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "wb") as f:
            f.write(content)
    return paths


def files_under(root):
    found = {}
    for folder, _, names in os.walk(root):
        for name in names:
            full = os.path.join(folder, name)
            found[os.path.relpath(full, root)] = full
    return found


def payload(size, seed):
    return random.Random(seed).randbytes(size)


# -- item 2 and 15: sizes and names that are refused -------------------------------------------

HOSTILE_INFOS = {
    "length-int64-max": {b"name": b"huge", b"piece length": 16384, b"length": INT64_MAX,
                         b"pieces": bytes(20)},
    "offsets-near-int64-max": {b"name": b"huge", b"piece length": 16384, b"pieces": bytes(20),
                               b"files": [{b"length": INT64_MAX - 10, b"path": [b"a"]},
                                          {b"length": 5, b"path": [b"b"]}]},
    "zero-length": {b"name": b"nothing", b"piece length": 16384, b"length": 0, b"pieces": b""},
    "zero-length-files": {b"name": b"nothing", b"piece length": 16384, b"pieces": b"",
                          b"files": [{b"length": 0, b"path": [b"a"]}]},
    "empty-name": {b"name": b"", b"piece length": 16384, b"length": 5, b"pieces": bytes(20)},
}


@pytest.mark.parametrize("case", sorted(HOSTILE_INFOS))
def test_hostile_torrents_are_refused_with_one_sentence(run, workdir, case):
    torrent = write_torrent(os.path.join(workdir, f"{case}.torrent"), HOSTILE_INFOS[case])
    mnt = os.path.join(workdir, "mnt")
    os.makedirs(mnt)
    out = os.path.join(workdir, "out")
    for argv in (["info", torrent], ["mount", torrent, mnt, "--cache-dir", out],
                 ["download", torrent, "-o", out], ["verify", torrent, out]):
        r = run(*argv, timeout=60)
        assert r.returncode == 2, (argv, r.returncode, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("swarmfs: "), (argv, r.stderr)
    assert not os.path.ismount(mnt)


def test_cache_commands_survive_a_hostile_stored_torrent(run, workdir):
    root = os.path.join(workdir, "cache-root")
    entry = os.path.join(root, "ab" * 20)
    os.makedirs(os.path.join(entry, ".swarmfs"))
    write_torrent(os.path.join(entry, ".swarmfs", "torrent"), HOSTILE_INFOS["length-int64-max"])
    r = run("cache", "list", "--root", root)
    assert r.returncode == 0, r.stderr
    assert "ab" * 20 in r.stdout
    r = run("cache", "remove", "--root", root, "ab" * 20)
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(entry)
    os.makedirs(os.path.join(entry, ".swarmfs"))
    write_torrent(os.path.join(entry, ".swarmfs", "torrent"), HOSTILE_INFOS["length-int64-max"])
    r = run("cache", "prune", "--root", root, "--max-size", "0")
    assert r.returncode == 0, r.stderr
    assert not os.path.exists(entry)


# -- item 3: --no-keep removes only what is the torrent's ---------------------------------------

def test_no_keep_never_removes_the_cache_folders_parent(swarmfs_mount, workdir):
    # Trimmed at a grapheme boundary this name used to become "..": DIR/.. is the parent.
    # Siblings made before and after the cache folder, so that whatever order a recursive
    # removal of DIR/.. walks them in, some come before the cache folder itself.
    outer = os.path.join(workdir, "throwaway")
    cache = os.path.join(outer, "cache")
    before = [os.path.join(outer, "a-first.txt"), os.path.join(outer, "b-first", "deep.txt")]
    after = [os.path.join(outer, "z-after.txt"), os.path.join(outer, "y-after", "deep.txt")]
    siblings = before + after
    for path in before + [None] + after:
        if path is None:
            os.makedirs(cache)
            continue
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("not swarmfs's\n")
    content = payload(1000, 1)
    torrent = write_torrent(os.path.join(workdir, "dots.torrent"),
                            info_for("..." + ACCENTS, [(None, content)]))
    m = swarmfs_mount(torrent, "--download", "none", "--no-keep", cache_dir=cache)
    names = m.listdir()
    assert len(names) == 1 and names[0] not in ("", ".", "..")
    swarmfs_mount.unmount(m)
    missing = [path for path in siblings if not os.path.exists(path)]
    assert missing == []


def test_no_keep_leaves_a_users_file_inside_the_torrents_folder(swarmfs_mount, lt_seeder, workdir):
    files = [(["a.bin"], payload(40_000, 2)), (["sub", "b.bin"], payload(3000, 3))]
    torrent = write_torrent(os.path.join(workdir, "t.torrent"), info_for("album", files))
    seed = os.path.join(workdir, "seed")
    lay_out_like_libtorrent(torrent, seed, files)
    seeder = lt_seeder(torrent, seed, use_tracker=False)
    cache = os.path.join(workdir, "cache")
    os.makedirs(os.path.join(cache, "album", "sub"))
    mine = [os.path.join(cache, "album", "notes.txt"), os.path.join(cache, "album", "sub", "mine.txt")]
    for path in mine:
        with open(path, "w") as f:
            f.write("a user's own file\n")
    m = swarmfs_mount(torrent, "--no-keep", "--peer", seeder.endpoint, cache_dir=cache)
    assert m.read("album/a.bin", timeout=60) == files[0][1]
    swarmfs_mount.unmount(m)
    wait_until(lambda: not os.path.exists(os.path.join(cache, "album", "a.bin")), timeout=10)
    for path in mine:
        assert os.path.exists(path), path
    assert not os.path.exists(os.path.join(cache, "album", "sub", "b.bin"))
    assert not os.path.exists(os.path.join(cache, ".swarmfs"))


# -- items 13, 14, 16: names as libtorrent keeps them, read from a libtorrent seeder -----------

def test_nfc_and_nfd_names_are_two_files(swarmfs_mount, lt_seeder, workdir):
    nfc, nfd = "caf\u00e9", "cafe\u0301"
    files = [([nfc], payload(20_000, 4)), ([nfd], payload(30_000, 5))]
    torrent = write_torrent(os.path.join(workdir, "t.torrent"), info_for("forms", files))
    seed = os.path.join(workdir, "seed")
    assert lay_out_like_libtorrent(torrent, seed, files) == [f"forms/{nfc}", f"forms/{nfd}"]
    seeder = lt_seeder(torrent, seed, use_tracker=False)
    m = swarmfs_mount(torrent, "--peer", seeder.endpoint)
    assert m.listdir("forms") == sorted([nfc, nfd])
    assert m.read(f"forms/{nfc}", timeout=60) == files[0][1]
    assert m.read(f"forms/{nfd}", timeout=60) == files[1][1]


def test_a_folder_beside_a_file_of_its_name_is_adopted_as_libtorrent_left_it(swarmfs_mount, workdir):
    # The file is exactly one piece, so a/b's pieces hold none of its bytes: swarmfs names the
    # renamed file "a (2)", libtorrent "a.1", and only the folder is shared.
    files = [(["a"], payload(16 * 1024, 6)), (["a", "b"], payload(7000, 7))]
    torrent = write_torrent(os.path.join(workdir, "t.torrent"), info_for("t", files))
    downloaded = os.path.join(workdir, "downloaded")
    paths = lay_out_like_libtorrent(torrent, downloaded, files)
    assert paths[1] == "t/a/b"        # libtorrent keeps the folder and renames the file
    m = swarmfs_mount(torrent, "--download", "none", cache_dir=downloaded)
    assert os.path.isdir(m.join("t", "a"))
    assert m.read("t/a/b", timeout=30) == files[1][1]


@pytest.mark.parametrize("name,paths", [
    ("..", [["inside.bin"]]),
    ("../../../tmp/x", None),
], ids=["multi-file-named-dotdot", "single-file-named-a-path"])
def test_torrents_named_like_paths_read_from_a_libtorrent_seeder(swarmfs_mount, lt_seeder, workdir,
                                                                  name, paths):
    content = payload(70_000, 8)
    files = [(paths[0] if paths else None, content)]
    torrent = write_torrent(os.path.join(workdir, "t.torrent"), info_for(name, files))
    seed = os.path.join(workdir, "seed")
    lay_out_like_libtorrent(torrent, seed, files)
    seeder = lt_seeder(torrent, seed, use_tracker=False)
    cache = os.path.join(workdir, "box", "cache")
    os.makedirs(cache)
    m = swarmfs_mount(torrent, "--peer", seeder.endpoint, cache_dir=cache)
    shown = files_under(m.path)
    assert len(shown) == 1, shown
    (relative, full), = shown.items()
    assert ".." not in relative.split(os.sep)
    assert m.read(relative, timeout=60) == content
    # Whatever it is named, the data stays inside the cache folder.
    assert set(os.listdir(os.path.join(workdir, "box"))) == {"cache"}
