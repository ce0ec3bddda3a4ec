"""`swarmfs verify` and `swarmfs cache` against folders laid out by libtorrent's own payload tools
(the same layout any client produces), checked with real .torrent files from libtorrent."""

from __future__ import annotations

import json
import os
import shutil

from swarmkit.torrents import make_torrent


def _flip_byte(path: str, offset: int) -> None:
    with open(path, "r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))


def test_verify_complete_folder_exits_zero(run, multi_payload):
    torrent = make_torrent(multi_payload, piece_size=32 * 1024)
    result = run("verify", torrent.path, multi_payload.save_path)
    assert result.returncode == 0, result.stderr
    assert f"{torrent.num_pieces}/{torrent.num_pieces} pieces valid" in result.stdout
    assert "incomplete" not in result.stdout
    # verify never writes into the folder it checks
    assert not os.path.exists(os.path.join(multi_payload.save_path, ".swarmfs"))


def test_verify_reports_the_damaged_file_and_piece(run, multi_payload):
    torrent = make_torrent(multi_payload, piece_size=32 * 1024)
    victim = multi_payload.file("multi/media/movie.mkv")
    _flip_byte(multi_payload.local_path(victim), 100_000)
    result = run("verify", "--json", torrent.path, multi_payload.save_path)
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert report["infoHash"] == torrent.info_hash
    assert report["validPieces"] == torrent.num_pieces - 1
    assert report["complete"] is False
    by_path = {f["path"]: f for f in report["files"]}
    assert by_path["multi/media/movie.mkv"]["complete"] is False
    assert by_path["multi/media/movie.mkv"]["verifiedBytes"] <= victim.size - 32 * 1024
    assert by_path["multi/README.txt"]["complete"] is True
    assert by_path["multi/empty.dat"]["complete"] is True


def test_verify_missing_and_truncated_files(run, single_payload):
    torrent = make_torrent(single_payload, piece_size=64 * 1024)
    path = single_payload.local_path(single_payload.files[0])
    with open(path, "r+b") as f:
        f.truncate(1024 * 1024)
    result = run("verify", torrent.path, single_payload.save_path)
    assert result.returncode == 1
    assert f"16/{torrent.num_pieces} pieces valid" in result.stdout
    os.remove(path)
    result = run("verify", torrent.path, single_payload.save_path)
    assert result.returncode == 1
    assert f"0/{torrent.num_pieces} pieces valid" in result.stdout


def test_verify_bad_input_exits_two(run, single_payload, tmp_path):
    torrent = make_torrent(single_payload, piece_size=64 * 1024)
    garbage = tmp_path / "garbage.torrent"
    garbage.write_bytes(b"d4:infoi3ee")
    for args in (["verify", str(tmp_path / "missing.torrent"), single_payload.save_path],
                 ["verify", str(garbage), single_payload.save_path],
                 ["verify", torrent.path, str(tmp_path / "no-such-dir")]):
        result = run(*args)
        assert result.returncode == 2, (args, result.stdout, result.stderr)
        assert result.stderr.strip(), "one sentence on stderr"


def _fake_cache_entry(root: str, torrent, payload, last_used: int) -> str:
    """A cache directory as a mount leaves it: the torrent's files plus .swarmfs/torrent."""
    entry = os.path.join(root, torrent.info_hash)
    shutil.copytree(payload.save_path, entry)
    os.makedirs(os.path.join(entry, ".swarmfs"))
    shutil.copy(torrent.path, os.path.join(entry, ".swarmfs", "torrent"))
    stamp = os.path.join(entry, ".swarmfs", "last-used")
    open(stamp, "w").close()
    os.utime(stamp, (last_used, last_used))
    return entry


def test_cache_list_remove_prune(run, tmp_path):
    from swarmkit import make_single_payload

    root = tmp_path / "xdg" / "swarmfs"
    root.mkdir(parents=True)
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "xdg"))
    entries = []
    for index, name in enumerate(["alpha.bin", "beta.bin", "gamma.bin"]):
        payload = make_single_payload(str(tmp_path / f"p{index}"), size=300_000 + index, name=name, seed=index + 5)
        torrent = make_torrent(payload, piece_size=16 * 1024)
        entries.append((name, torrent, _fake_cache_entry(str(root), torrent, payload, 1_000_000 + index)))

    listed = json.loads(run("cache", "list", "--json", env=env, check=True).stdout)
    assert [e["name"] for e in listed] == ["gamma.bin", "beta.bin", "alpha.bin"]
    assert all(e["sizeOnDisk"] >= 300_000 for e in listed)
    assert {e["infoHash"] for e in listed} == {t.info_hash for _, t, _ in entries}

    text = run("cache", "list", env=env, check=True).stdout
    assert "alpha.bin" in text and entries[0][1].info_hash in text

    removed = run("cache", "remove", "beta.bin", env=env, check=True)
    assert "beta.bin" in removed.stdout
    assert not os.path.exists(entries[1][2])
    assert run("cache", "remove", "beta.bin", env=env).returncode == 2

    # Prune to a size that fits one entry: the least recently used (alpha) goes first.
    result = run("cache", "prune", "--max-size", "400K", env=env, check=True)
    assert "alpha.bin" in result.stdout
    assert not os.path.exists(entries[0][2])
    assert os.path.exists(entries[2][2])
    run("cache", "prune", "--max-size", "0", env=env, check=True)
    assert json.loads(run("cache", "list", "--json", env=env, check=True).stdout) == []
    assert run("cache", "prune", "--max-size", "12Q", env=env).returncode == 2
