"""libtorrent seeders and leechers, each a child process on its own loopback address."""

from __future__ import annotations

import json
import os
import sys
from typing import Optional, Sequence, Union

from .procs import ManagedProcess, PeerProcess, ProcessGroup
from .torrents import TorrentFile
from .waiting import TimeoutExpired, wait_until

PEERS_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "peers")
LT_PEER = os.path.join(PEERS_DIR, "lt_peer.py")
LIBTORRENT_PYTHON = "/usr/bin/python3"  # Debian's python3-libtorrent is only importable here

TorrentLike = Union[TorrentFile, str]


def _torrent_path(torrent: TorrentLike) -> str:
    return torrent.path if isinstance(torrent, TorrentFile) else str(torrent)


class _LibtorrentPeer(PeerProcess):
    role = ""

    def __init__(self, torrent: TorrentLike, save_path: str, ip: str, port: int, *,
                 procs: ProcessGroup, use_tracker: bool = True, encryption: str = "default",
                 transport: str = "tcp"):
        self.encryption = encryption
        self.torrent = torrent
        self.transport = transport
        self.save_path = save_path
        self.ip, self.port = ip, port
        self.procs = procs
        self.use_tracker = use_tracker
        self.status_path = os.path.join(procs.log_dir, f"lt-{self.role}-{ip}-{port}.json")
        self.process: Optional[ManagedProcess] = None

    def _argv(self) -> list:
        argv = [LIBTORRENT_PYTHON, "-u", "-X", "faulthandler", LT_PEER, self.role, "--ip", self.ip,
                "--port", str(self.port), "--status", self.status_path]
        if not self.use_tracker:
            argv.append("--no-tracker")
        if self.encryption != "default":
            argv += ["--encryption", self.encryption]
        argv += ["--transport", self.transport]
        return argv

    def status(self) -> dict:
        """The latest status file (refreshed every 0.5 s); {} before the first one."""
        try:
            with open(self.status_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def uploaded(self) -> int:
        """Payload bytes this peer has uploaded so far."""
        return int(self.status().get("uploaded", 0))

    def uploaded_to(self, ip: str) -> int:
        """Payload bytes uploaded to connections from `ip` (any port)."""
        return self._bytes_with(ip, exact="blocks_out", sampled="uploaded")

    def downloaded_from(self, ip: str) -> int:
        """Payload bytes downloaded from connections to/from `ip` (any port)."""
        return self._bytes_with(ip, exact="blocks_in", sampled="downloaded")

    def _bytes_with(self, ip: str, exact: str, sampled: str) -> int:
        """The exact per-block counts when the seeder logged any for `ip`, else the sampled ones.
        libtorrent's peer-info sample can name one connection by another endpoint than its
        block alerts do (seen: the peer's listen port), so adding both would count it twice."""
        peers = [v for k, v in self.status().get("peers", {}).items() if k.rsplit(":", 1)[0] == ip]
        if any(exact in v for v in peers):
            return sum(v.get(exact, 0) for v in peers)
        return sum(v[sampled] for v in peers)


class LibtorrentSeeder(_LibtorrentPeer):
    """A libtorrent seeder of `torrent` from `save_path` (the payload's save_path).

    have_mask: one bool per piece for a *partial* seeder (holds only those pieces, never fetches
    the others). use_tracker=False: never announces (reach it with `--peer ip:port`).
    upload_limit: bytes/s (0 = unlimited), for slow-seeder tests. transport: "tcp" (default),
    "utp" (TCP off both ways) or "both"."""

    role = "seed"

    def __init__(self, torrent: TorrentLike, save_path: str, ip: str, port: int,
                 have_mask: Optional[Sequence[bool]] = None, *, procs: ProcessGroup,
                 use_tracker: bool = True, upload_limit: int = 0, encryption: str = "default",
                 transport: str = "tcp"):
        super().__init__(torrent, save_path, ip, port, procs=procs, use_tracker=use_tracker,
                         encryption=encryption, transport=transport)
        self.have_mask = list(have_mask) if have_mask is not None else None
        self.upload_limit = upload_limit

    def start(self, timeout: float = 60.0) -> "LibtorrentSeeder":
        """Start it and wait for READY (seeding, and announced unless use_tracker=False)."""
        self.start_async()
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        assert self.process is not None, "start_async() first"
        self.process.wait_for_output(r"^READY$", timeout)

    def start_async(self) -> "LibtorrentSeeder":
        """Start it without waiting (then `wait_ready()`)."""
        argv = self._argv()
        if self.have_mask is not None:
            mask_path = self.status_path + ".mask"
            with open(mask_path, "w") as f:
                f.write("".join("1" if b else "0" for b in self.have_mask))
            argv += ["--have-mask-file", mask_path]
        if self.upload_limit:
            argv += ["--upload-limit", str(self.upload_limit)]
        argv += [_torrent_path(self.torrent), self.save_path]
        self.process = self.procs.spawn(f"lt-seeder-{self.ip}", argv)
        return self


class LibtorrentLeecher(_LibtorrentPeer):
    """A libtorrent client downloading `torrent` into `save_path` (for upload tests).

    peers: "ip:port" endpoints to connect to directly (retried while not connected).
    use_tracker=False: the given peers are its only source."""

    role = "download"

    def __init__(self, torrent: TorrentLike, save_path: str, ip: str, port: int,
                 peers: Sequence[str] = (), *, procs: ProcessGroup, use_tracker: bool = True,
                 keep_running: bool = False, timeout: float = 120.0, encryption: str = "default",
                 transport: str = "tcp"):
        super().__init__(torrent, save_path, ip, port, procs=procs, use_tracker=use_tracker,
                         encryption=encryption, transport=transport)
        self.peers = list(peers)
        self.keep_running = keep_running
        self.timeout = timeout

    def start(self) -> "LibtorrentLeecher":
        os.makedirs(self.save_path, exist_ok=True)
        argv = self._argv() + ["--timeout", str(self.timeout)]
        for peer in self.peers:
            argv += ["--peer", peer]
        if self.keep_running:
            argv.append("--keep-running")
        argv += [_torrent_path(self.torrent), self.save_path]
        self.process = self.procs.spawn(f"lt-leecher-{self.ip}", argv)
        self.process.wait_for_output(r"^STARTED$", 30)
        return self

    def wait_complete(self, timeout: float = 120.0) -> dict:
        """Wait for COMPLETE and return its report (seconds, downloaded, hash_failures, peers)."""
        assert self.process is not None, "start() first"
        proc = self.process

        def check():
            out = proc.output()
            for line in out.splitlines():
                if line.startswith("COMPLETE "):
                    return json.loads(line[len("COMPLETE "):])
                if line.startswith("TIMEOUT "):
                    raise TimeoutExpired(f"libtorrent leecher {self.endpoint} gave up: {line}")
            if not proc.running():
                raise TimeoutExpired(f"libtorrent leecher {self.endpoint} exited "
                                     f"{proc.returncode()} without completing:\n{proc.tail()}")
            return None

        return wait_until(check, timeout, 0.1,
                          f"libtorrent leecher {self.endpoint} incomplete after {timeout}s: "
                          f"{self.status()}")


def python_has_libtorrent() -> bool:
    """Whether this interpreter can import libtorrent (pytest must run under /usr/bin/python3)."""
    try:
        import libtorrent  # noqa: F401
        return True
    except ImportError:
        return False


def assert_libtorrent_interpreter() -> None:
    if not python_has_libtorrent():
        raise RuntimeError(f"{sys.executable} cannot import libtorrent; run pytest with "
                           f"{LIBTORRENT_PYTHON} -m pytest (Debian's python3-libtorrent)")
