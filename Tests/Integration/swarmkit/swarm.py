"""A ready-made local swarm: one opentracker plus N libtorrent seeders, all on their own
loopback addresses, for a payload and torrent made on the spot."""

from __future__ import annotations

import os
from typing import Optional

from .libtorrent_peers import LibtorrentSeeder
from .netalloc import AddressPool
from .payload import Payload
from .procs import ProcessGroup
from .torrents import TorrentFile, make_torrent
from .tracker import Opentracker


def partial_mask(num_pieces: int, index: int, seeders: int, copies: int) -> list[bool]:
    """Seeder `index` of `seeders` holds piece p iff (p - index) mod seeders < copies, so every
    piece is on exactly `copies` seeders (the swarmbench rule)."""
    return [(p - index) % seeders < copies for p in range(num_pieces)]


class Swarm:
    """tracker + seeders for one payload. `start()` returns when every seeder has announced."""

    def __init__(self, payload: Payload, workdir: str, *, procs: ProcessGroup,
                 pool: AddressPool, piece_size: int = 64 * 1024, seeders: int = 2,
                 copies: Optional[int] = None, udp_tracker: bool = False,
                 upload_limit: int = 0):
        """copies: partial seeders, each piece on `copies` of the `seeders` (None: all full).
        udp_tracker: the torrent announces to udp:// instead of http:// (same opentracker)."""
        self.payload = payload
        self.dir = workdir
        self.procs, self.pool = procs, pool
        self.piece_size = piece_size
        self.n_seeders = seeders
        self.copies = copies
        self.udp_tracker = udp_tracker
        self.upload_limit = upload_limit
        self.tracker: Optional[Opentracker] = None
        self.torrent: Optional[TorrentFile] = None
        self.seeders: list[LibtorrentSeeder] = []

    def start(self) -> "Swarm":
        os.makedirs(self.dir, exist_ok=True)
        ip, port = self.pool.endpoint()
        self.tracker = Opentracker(self.procs, os.path.join(self.dir, "tracker"), ip, port)
        url = self.tracker.udp_url if self.udp_tracker else self.tracker.announce_url
        self.torrent = make_torrent(self.payload, self.piece_size, [url],
                                    out_path=os.path.join(self.dir, self.payload.name + ".torrent"))
        self.tracker.info_hashes.append(self.torrent.info_hash)
        self.tracker.start()
        for i in range(self.n_seeders):
            mask = None
            if self.copies is not None:
                mask = partial_mask(self.torrent.num_pieces, i, self.n_seeders, self.copies)
            seeder = LibtorrentSeeder(self.torrent, self.payload.save_path, *self.pool.endpoint(),
                                      have_mask=mask, procs=self.procs,
                                      upload_limit=self.upload_limit)
            self.seeders.append(seeder)
        # Start them all, then wait: READY takes about as long for one as for four.
        for seeder in self.seeders:
            seeder.start_async()
        for seeder in self.seeders:
            seeder.wait_ready()
        return self

    @property
    def peer_endpoints(self) -> list[str]:
        return [s.endpoint for s in self.seeders]

    def total_uploaded(self) -> int:
        return sum(s.uploaded() for s in self.seeders)

    def stop(self) -> None:
        for seeder in self.seeders:
            seeder.stop()
        if self.tracker is not None:
            self.tracker.stop()
