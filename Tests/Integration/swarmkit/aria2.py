"""aria2c as a seeder: a BitTorrent implementation that is not libtorrent."""

from __future__ import annotations

from typing import Optional

from .libtorrent_peers import TorrentLike, _torrent_path
from .procs import ManagedProcess, PeerProcess, ProcessGroup
from .tracker import Opentracker
from .waiting import wait_port


class Aria2Seeder(PeerProcess):
    """aria2c seeding a complete payload from `save_path`, listening on ip:port, with its
    outgoing connections (tracker announces included) bound to ip. No DHT, LPD or PEX; the data
    is trusted without a hash check (`--bt-seed-unverified`), and it seeds until stopped."""

    def __init__(self, torrent: TorrentLike, save_path: str, ip: str, port: int, *,
                 procs: ProcessGroup):
        self.torrent = torrent
        self.save_path = save_path
        self.ip, self.port = ip, port
        self.procs = procs
        self.process: Optional[ManagedProcess] = None

    def start(self, tracker: Optional[Opentracker] = None, info_hash: Optional[str] = None,
              timeout: float = 30.0) -> "Aria2Seeder":
        """Start it; wait until it listens and, if `tracker` is given, until the tracker lists
        it as a seeder (`info_hash` defaults to the TorrentFile's)."""
        argv = ["aria2c", "--no-conf",
                "--enable-dht=false", "--enable-dht6=false", "--bt-enable-lpd=false",
                "--enable-peer-exchange=false", "--disable-ipv6=true",
                "--seed-ratio=0.0",                 # 0.0 = seed for ever
                "--bt-seed-unverified=true",
                f"--interface={self.ip}", f"--listen-port={self.port}",
                f"--bt-external-ip={self.ip}",
                "--bt-max-peers=0",                # no limit
                "--file-allocation=none", "--auto-file-renaming=false",
                "--allow-overwrite=false", "--bt-save-metadata=false",
                "--summary-interval=0", "--console-log-level=notice", "--enable-color=false",
                "--show-console-readout=false",
                "-d", self.save_path, _torrent_path(self.torrent)]
        self.process = self.procs.spawn(f"aria2c-{self.ip}", argv)
        wait_port(self.ip, self.port, timeout)
        if tracker is not None:
            h = info_hash or getattr(self.torrent, "info_hash", None)
            if h is None:
                raise ValueError("info_hash needed to wait for the tracker")
            tracker.wait_for_seeders(h, 1, timeout)
        return self


def aria2c_leecher_argv(torrent_path: str, out: str, ip: str, port: int, *extra: str) -> list[str]:
    """aria2c downloading `torrent_path` into `out` from ip:port, finding peers through the
    torrent's tracker only (no DHT, LPD or PEX), and exiting once done (no seeding)."""
    return ["aria2c", "--no-conf", "--enable-dht=false", "--enable-dht6=false",
            "--bt-enable-lpd=false", "--enable-peer-exchange=false", "--disable-ipv6=true",
            "--seed-time=0", f"--interface={ip}", f"--listen-port={port}",
            "--file-allocation=none", "--summary-interval=0", "--console-log-level=warn",
            "--bt-save-metadata=false", *extra, "-d", out, torrent_path]
