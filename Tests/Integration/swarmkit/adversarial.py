"""`AdversarialPeer`: our own misbehaving seeder (peers/evil_peer.py) in a child process."""

from __future__ import annotations

import json
import os
from typing import Callable, Iterable, Optional, Sequence

from .libtorrent_peers import LIBTORRENT_PYTHON, PEERS_DIR, TorrentLike, _torrent_path
from .procs import ManagedProcess, PeerProcess, ProcessGroup
from .tracker import Opentracker
from .waiting import wait_until

EVIL_PEER = os.path.join(PEERS_DIR, "evil_peer.py")

MODES = ("honest", "corrupt", "lying-bitfield", "have-out-of-range", "huge-length-prefix",
         "garbage-after-handshake", "vanish-mid-piece", "wrong-infohash", "unsolicited-piece",
         "choked-allowed-fast")


class AdversarialPeer(PeerProcess):
    """A seeder that speaks enough BEP 3 to handshake, send a bitfield, unchoke and answer
    requests from the payload, misbehaving as `mode` says (see MODES and evil_peer.py).

    corrupt_pieces: pieces served with wrong bytes in `corrupt` mode (default: all).
    have_mask: pieces it claims and serves (default: all).
    tracker: announce to this tracker once at start (else reach it with `--peer`).
    connect: "host:port" peers it dials itself (to attack a client's listening side).
    connect_times: how often it dials each of them, one connection after the other.
    vanish_after_blocks: good blocks served per connection before vanishing.
    """

    def __init__(self, torrent: TorrentLike, save_path: str, ip: str, port: int, mode: str, *,
                 procs: ProcessGroup, corrupt_pieces: Optional[Iterable[int]] = None,
                 have_mask: Optional[Sequence[bool]] = None,
                 tracker: Optional[Opentracker] = None, connect: Sequence[str] = (),
                 vanish_after_blocks: int = 0, connect_times: int = 1):
        if mode not in MODES:
            raise ValueError(f"unknown mode {mode!r}; one of {MODES}")
        self.torrent, self.save_path = torrent, save_path
        self.ip, self.port, self.mode = ip, port, mode
        self.procs = procs
        self.corrupt_pieces = None if corrupt_pieces is None else sorted(set(corrupt_pieces))
        self.have_mask = None if have_mask is None else list(have_mask)
        self.tracker = tracker
        self.connect = list(connect)
        self.vanish_after_blocks = vanish_after_blocks
        self.connect_times = connect_times
        self.process: Optional[ManagedProcess] = None

    def start(self, timeout: float = 30.0) -> "AdversarialPeer":
        # -X faulthandler: a crash leaves a Python stack in the log.
        argv = [LIBTORRENT_PYTHON, "-u", "-X", "faulthandler", EVIL_PEER, "--ip", self.ip,
                "--port", str(self.port), "--mode", self.mode,
                "--vanish-after-blocks", str(self.vanish_after_blocks),
                "--connect-times", str(self.connect_times)]
        if self.corrupt_pieces is not None:
            argv += ["--corrupt-pieces", ",".join(map(str, self.corrupt_pieces))]
        if self.have_mask is not None:
            mask = os.path.join(self.procs.log_dir, f"evil-{self.ip}-{self.port}.mask")
            with open(mask, "w") as f:
                f.write("".join("1" if b else "0" for b in self.have_mask))
            argv += ["--have-mask-file", mask]
        if self.tracker is not None:
            argv += ["--announce", self.tracker.announce_url]
        for target in self.connect:
            argv += ["--connect", target]
        argv += [_torrent_path(self.torrent), self.save_path]
        self.process = self.procs.spawn(f"evil-{self.mode}-{self.ip}", argv)
        self.process.wait_for_output(r"^READY$", timeout)
        return self

    def events(self, kind: Optional[str] = None) -> list[dict]:
        """Everything it reported so far (optionally only events of one kind)."""
        out = []
        if self.process is None:
            return out
        for line in self.process.output().splitlines():
            if line.startswith("EVENT "):
                try:
                    e = json.loads(line[6:])
                except ValueError:
                    continue
                if kind is None or e.get("event") == kind:
                    out.append(e)
        return out

    def wait_event(self, kind: str, timeout: float = 30.0,
                   where: Optional[Callable[[dict], bool]] = None) -> dict:
        """Wait for an event of `kind` (matching `where`) and return it."""
        def find():
            for e in self.events(kind):
                if where is None or where(e):
                    return e
            return None
        return wait_until(find, timeout, 0.05,
                          f"evil peer ({self.mode}) reported no {kind!r} event in {timeout}s; "
                          f"events: {self.events()[-20:]}")

    def connections(self) -> int:
        return len(self.events("connection"))

    def bytes_served(self) -> int:
        return sum(e.get("length", 0) for e in self.events("served"))
