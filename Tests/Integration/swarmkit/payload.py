"""Deterministic payloads (the bytes seeders serve) and checks of what a client produced.

Bytes come from `random.Random("swarmkit:<seed>:<path>")`, so the same call gives the same files on
every machine. Layout under a payload's `save_path` is the torrent's own layout: a single file
`<save_path>/<name>`, or a folder `<save_path>/<name>/...` for a multi-file torrent.
"""

from __future__ import annotations

import hashlib
import os
import random
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

KiB = 1 << 10
MiB = 1 << 20

# Nested folders, empty files and sizes that are not multiples of anything.
DEFAULT_MULTI_LAYOUT: tuple[tuple[str, int], ...] = (
    ("README.txt", 1_234),
    ("empty.dat", 0),
    ("a/one-byte.bin", 1),
    ("a/b/c/deep.bin", 700_001),
    ("a/b/empty-too.bin", 0),
    ("a/b/odd.bin", 1 * MiB + 17),
    ("media/movie.mkv", 2 * MiB + 333_333),
    ("media/subs/movie.srt", 45_678),
    ("z-last.bin", 262_145),
)


@dataclass(frozen=True)
class PayloadFile:
    """One file of a payload."""

    path: str          # relative to the payload's save_path, '/'-separated, starts with the name
    torrent_path: str  # relative to the torrent's root (multi-file: without the name)
    size: int
    sha256: str


@dataclass
class Payload:
    """Files on disk that a torrent describes; `save_path` is what seeders are given."""

    save_path: str
    name: str
    multi_file: bool
    files: list[PayloadFile] = field(default_factory=list)
    seed: int = 1

    @property
    def content_path(self) -> str:
        """The file (single-file) or folder (multi-file) named like the torrent."""
        return os.path.join(self.save_path, self.name)

    @property
    def total_size(self) -> int:
        return sum(f.size for f in self.files)

    def file(self, torrent_path: str) -> PayloadFile:
        for f in self.files:
            if f.torrent_path == torrent_path or f.path == torrent_path:
                return f
        raise KeyError(torrent_path)

    def local_path(self, f: PayloadFile | str) -> str:
        """Where a file's original bytes are."""
        rel = f.path if isinstance(f, PayloadFile) else self.file(f).path
        return os.path.join(self.save_path, rel)

    def read(self, f: PayloadFile | str, offset: int = 0, length: Optional[int] = None) -> bytes:
        """The expected bytes of a file range (clamped to the file end, like read(2))."""
        with open(self.local_path(f), "rb") as fh:
            fh.seek(offset)
            return fh.read() if length is None else fh.read(length)

    def largest(self) -> PayloadFile:
        return max(self.files, key=lambda f: f.size)


def _rng(seed: int, relpath: str) -> random.Random:
    # str seeds are hashed with SHA-512 by random.seed(): stable across runs and machines.
    return random.Random(f"swarmkit:{seed}:{relpath}")


def _write_file(path: str, size: int, rng: random.Random) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    digest = hashlib.sha256()
    left = size
    with open(path, "wb") as f:
        while left:
            chunk = rng.randbytes(min(MiB, left))
            digest.update(chunk)
            f.write(chunk)
            left -= len(chunk)
    return digest.hexdigest()


def make_single_payload(save_path: str, size: int = 3 * MiB + 12_345, name: str = "single.bin",
                        seed: int = 1) -> Payload:
    """One file `<save_path>/<name>` of `size` deterministic random bytes."""
    os.makedirs(save_path, exist_ok=True)
    sha = _write_file(os.path.join(save_path, name), size, _rng(seed, name))
    return Payload(save_path, name, False, [PayloadFile(name, name, size, sha)], seed)


def make_multi_payload(save_path: str, layout: Sequence[tuple[str, int]] = DEFAULT_MULTI_LAYOUT,
                       name: str = "multi", seed: int = 1) -> Payload:
    """A folder `<save_path>/<name>/` holding `layout` ((path inside the torrent, size) pairs),
    in the given order (which is also the torrent's file order)."""
    files = []
    for rel, size in layout:
        path = f"{name}/{rel}"
        sha = _write_file(os.path.join(save_path, path), size, _rng(seed, path))
        files.append(PayloadFile(path, rel, size, sha))
    return Payload(save_path, name, True, files, seed)


def sha256_file(path: str, chunk: int = MiB) -> str:
    """Hex sha256 of a file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while True:
            block = f.read(chunk)
            if not block:
                break
            digest.update(block)
    return digest.hexdigest()


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def list_files(root: str, ignore: Iterable[str] = (".swarmfs",)) -> dict[str, int]:
    """{relative path: size} of the regular files below `root`, skipping folders named in
    `ignore` (swarmfs keeps its state in `.swarmfs/`)."""
    skip = set(ignore)
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            full = os.path.join(dirpath, name)
            out[os.path.relpath(full, root).replace(os.sep, "/")] = os.path.getsize(full)
    return out


def compare_tree(payload: Payload, root: str, exact: bool = True) -> list[str]:
    """Differences between the payload and the same layout under `root` (a download folder or a
    mount: `root/<name>` is the torrent's content). Empty list = identical.

    Checks presence, size and sha256 of every file; with `exact`, extra files are differences too
    (swarmfs's `.swarmfs/` state folder is ignored)."""
    problems = []
    for f in payload.files:
        path = os.path.join(root, f.path)
        if not os.path.isfile(path):
            problems.append(f"missing: {f.path}")
            continue
        size = os.path.getsize(path)
        if size != f.size:
            problems.append(f"size of {f.path}: {size} != {f.size}")
            continue
        if sha256_file(path) != f.sha256:
            problems.append(f"content of {f.path} differs")
    if exact:
        expected = {f.path for f in payload.files}
        present = list_files(root)
        top = payload.name
        for rel in sorted(present):
            if (rel == top or rel.startswith(top + "/")) and rel not in expected:
                problems.append(f"unexpected file: {rel}")
    return problems


def assert_tree_matches(payload: Payload, root: str, exact: bool = True) -> None:
    """Assert `compare_tree` finds nothing."""
    problems = compare_tree(payload, root, exact)
    assert not problems, "tree differs from payload:\n  " + "\n  ".join(problems)
