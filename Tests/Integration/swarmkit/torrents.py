"""Creating .torrent files with libtorrent's `create_torrent` (the reference implementation)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from typing import Optional, Sequence, Union

from .payload import Payload

Trackers = Sequence[Union[str, Sequence[str]]]


@dataclass(frozen=True)
class TorrentFile:
    """A .torrent on disk and the facts tests compare against."""

    path: str
    info_hash: str        # v1, 40 lowercase hex digits
    name: str
    piece_length: int
    num_pieces: int
    total_size: int
    payload: Payload

    @property
    def info_hash_bytes(self) -> bytes:
        return bytes.fromhex(self.info_hash)

    def piece_size(self, index: int) -> int:
        """Length of piece `index` (the last one may be short)."""
        if index == self.num_pieces - 1:
            return self.total_size - self.piece_length * (self.num_pieces - 1)
        return self.piece_length


def make_torrent(payload: Payload, piece_size: int = 64 * 1024, trackers: Trackers = (),
                 out_path: Optional[str] = None, private: bool = False,
                 comment: Optional[str] = None, web_seeds: Sequence[str] = (),
                 pad_files: bool = False, creator: str = "swarmkit") -> TorrentFile:
    """Write a v1 .torrent for `payload` and describe it.

    trackers: URLs (one tier each) or lists of URLs (one tier per list). A loopback tracker must
      have the path `/announce` or libtorrent refuses it (SSRF mitigation).
    pad_files: BEP 47 padding files aligning every file to a piece boundary (libtorrent's
      canonical layout); off by default so the file list is exactly the payload's.
    The file order is the payload's order, so the info-hash is deterministic.
    """
    import libtorrent as lt  # only /usr/bin/python3 has it

    fs = lt.file_storage()
    if payload.multi_file:
        for f in payload.files:
            fs.add_file(f.path, f.size)
    else:
        fs.add_file(payload.name, payload.files[0].size)
    flags = lt.create_torrent.v1_only
    if pad_files:
        flags |= lt.create_torrent.canonical_files
    ct = lt.create_torrent(fs, piece_size, flags=flags)
    for tier, entry in enumerate(trackers):
        for url in ([entry] if isinstance(entry, str) else entry):
            ct.add_tracker(url, tier)
    for url in web_seeds:
        ct.add_url_seed(url)
    if private:
        ct.set_priv(True)
    if comment is not None:
        ct.set_comment(comment)
    ct.set_creator(creator)
    lt.set_piece_hashes(ct, payload.save_path)
    data = lt.bencode(ct.generate())
    if out_path is None:
        out_path = os.path.join(os.path.dirname(payload.save_path.rstrip("/")) or ".",
                                f"{payload.name}-{piece_size // 1024}k.torrent")
    tmp = out_path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(data)
    os.replace(tmp, out_path)
    ti = lt.torrent_info(out_path)
    info_hash = str(ti.info_hashes().v1)
    assert info_hash == hashlib.sha1(ti.info_section()).hexdigest()
    return TorrentFile(out_path, info_hash, ti.name(), ti.piece_length(), ti.num_pieces(),
                       ti.total_size(), payload)


def piece_hashes(torrent: TorrentFile) -> list[bytes]:
    """The 20-byte SHA-1 of every piece, from the .torrent."""
    import libtorrent as lt

    ti = lt.torrent_info(torrent.path)
    return [bytes(ti.hash_for_piece(i)) for i in range(ti.num_pieces())]
