"""transmission-daemon as a seeder: a third BitTorrent implementation (and MSE/PE peer)."""

from __future__ import annotations

import os
import subprocess
from typing import Optional

from .libtorrent_peers import TorrentLike, _torrent_path
from .procs import ManagedProcess, PeerProcess, ProcessGroup
from .waiting import wait_port, wait_until


class TransmissionSeeder(PeerProcess):
    """transmission-daemon in the foreground with its own config dir, peers on ip:port, RPC on
    ip:rpc_port (no auth, loopback only), no DHT, LPD, uTP, PEX or port mapping, seeding the
    complete payload in `save_path` once it has verified it. `encryption`: "required",
    "preferred" or "tolerated" (transmission's -er/-ep/-et). Stopped by PID."""

    def __init__(self, torrent: TorrentLike, save_path: str, ip: str, port: int, rpc_port: int, config_dir: str,
                 *, procs: ProcessGroup, encryption: str = "preferred"):
        self.torrent = torrent
        self.save_path = save_path
        self.ip, self.port, self.rpc_port = ip, port, rpc_port
        self.config_dir = config_dir
        self.procs = procs
        self.encryption = encryption
        self.process: Optional[ManagedProcess] = None

    def remote(self, *args: str, timeout: float = 10.0) -> str:
        """transmission-remote against this daemon; its stdout."""
        out = subprocess.run(["transmission-remote", f"{self.ip}:{self.rpc_port}", *args], capture_output=True,
                             text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"transmission-remote {args} failed: {out.stderr or out.stdout}")
        return out.stdout

    def start(self, timeout: float = 60.0) -> "TransmissionSeeder":
        """Start it, add the torrent and wait until it has verified the payload (100%)."""
        os.makedirs(self.config_dir, exist_ok=True)
        flag = {"required": "-er", "preferred": "-ep", "tolerated": "-et"}[self.encryption]
        argv = ["transmission-daemon", "-f", "-g", self.config_dir, "-w", self.save_path,
                "-i", self.ip, "-P", str(self.port), "-r", self.ip, "-p", str(self.rpc_port), "-T",
                "-a", "127.0.0.*", "-O", "-Y", "--no-utp", "-M", "-C", "--log-error", flag]
        self.process = self.procs.spawn(f"transmission-{self.ip}", argv)
        wait_port(self.ip, self.rpc_port, timeout)
        self.remote("--no-pex")
        self.remote("-a", _torrent_path(self.torrent), "-w", self.save_path)
        wait_until(lambda: "100%" in self.remote("-l"), timeout, 0.2,
                   f"transmission did not verify the payload in {timeout}s")
        wait_port(self.ip, self.port, timeout)
        return self
