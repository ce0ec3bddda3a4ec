"""Debian's opentracker on a loopback address: HTTP and UDP announce on the same port.

Debian builds it in whitelist mode and it refuses to keep root privileges, so it runs as the
package's `_opentracker` user, chrooted to its own folder, with a whitelist of info-hashes there
(`allow()` adds more and makes it reload with SIGHUP).
"""

from __future__ import annotations

import os
import signal
import struct
import urllib.parse
import urllib.request
from typing import Iterable, Optional

from .bencode import bdecode
from .procs import ManagedProcess, ProcessGroup
from .waiting import wait_port, wait_until

TRACKER_USER = "_opentracker"
OBSERVER_PEER_ID = b"-SK0001-observer0000"
OBSERVER_PORT = 1


class TrackerRefused(RuntimeError):
    """The tracker answered an announce with a failure reason."""


class Opentracker:
    """`Opentracker(procs, workdir, ip, port, info_hashes).start()`; stopped with the group."""

    def __init__(self, procs: ProcessGroup, workdir: str, ip: str, port: int,
                 info_hashes: Iterable[str] = ()):
        self.procs = procs
        self.dir = workdir
        self.ip, self.port = ip, port
        self.info_hashes: list[str] = []
        for h in info_hashes:
            self._add_hash(h)
        self.process: Optional[ManagedProcess] = None

    # The URLs clients announce to. libtorrent only accepts a loopback tracker whose path is
    # exactly /announce (SSRF mitigation).
    @property
    def announce_url(self) -> str:
        return f"http://{self.ip}:{self.port}/announce"

    @property
    def udp_url(self) -> str:
        return f"udp://{self.ip}:{self.port}/announce"

    @property
    def scrape_url(self) -> str:
        return f"http://{self.ip}:{self.port}/scrape"

    def _add_hash(self, info_hash: str) -> None:
        h = info_hash.lower()
        if len(h) != 40 or any(c not in "0123456789abcdef" for c in h):
            raise ValueError(f"not a hex v1 info-hash: {info_hash!r}")
        if h not in self.info_hashes:
            self.info_hashes.append(h)

    def _write_whitelist(self) -> None:
        path = os.path.join(self.dir, "whitelist.txt")
        with open(path + ".tmp", "w") as f:
            f.write("".join(h + "\n" for h in self.info_hashes))
        os.chmod(path + ".tmp", 0o644)
        os.replace(path + ".tmp", path)

    def start(self) -> "Opentracker":
        os.makedirs(self.dir, exist_ok=True)
        # After chroot(dir) and setuid(_opentracker) it must still read the whitelist.
        os.chmod(self.dir, 0o755)
        self._write_whitelist()
        conf = os.path.join(self.dir, "opentracker.conf")
        with open(conf, "w") as f:
            f.write("access.whitelist whitelist.txt\n")  # relative to the chroot
        os.chmod(conf, 0o644)
        argv = ["opentracker", "-f", conf, "-i", self.ip, "-p", str(self.port),
                "-P", str(self.port), "-u", TRACKER_USER, "-d", self.dir]
        self.process = self.procs.spawn(f"opentracker-{self.ip}", argv)
        wait_port(self.ip, self.port)
        # The whitelist is loaded by a worker thread; wait until it answers for our hashes.
        if self.info_hashes:
            wait_until(lambda: self._accepts(self.info_hashes[-1]), 10, 0.05,
                       f"opentracker did not load its whitelist:\n{self.process.tail()}")
        return self

    def allow(self, info_hash: str) -> None:
        """Whitelist another torrent while running (opentracker reloads on SIGHUP)."""
        self._add_hash(info_hash)
        self._write_whitelist()
        if self.process is not None and self.process.running():
            os.kill(self.process.pid, signal.SIGHUP)
            wait_until(lambda: self._accepts(info_hash), 10, 0.05,
                       "opentracker did not reload its whitelist")

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    # -- queries -------------------------------------------------------------------------------

    def _accepts(self, info_hash: str) -> bool:
        """True once an announce for the torrent is not refused (whitelist loaded)."""
        try:
            self._observe(info_hash)
            return True
        except (OSError, TrackerRefused):
            return False

    def _announce(self, info_hash: str, event: Optional[str], numwant: int = 50) -> dict:
        params = {"info_hash": bytes.fromhex(info_hash), "peer_id": OBSERVER_PEER_ID,
                  "port": OBSERVER_PORT, "uploaded": 0, "downloaded": 0, "left": 0,
                  "compact": 1, "numwant": numwant}
        if event:
            params["event"] = event
        # %20, never '+': opentracker does not decode '+' in info_hash (a space byte).
        url = self.announce_url + "?" + urllib.parse.urlencode(params,
                                                               quote_via=urllib.parse.quote)
        with urllib.request.urlopen(url, timeout=3) as r:
            body = bdecode(r.read())
        if not isinstance(body, dict) or b"failure reason" in body:
            reason = body.get(b"failure reason") if isinstance(body, dict) else body
            raise TrackerRefused(f"tracker refused {info_hash}: {reason!r}")
        return body

    def _observe(self, info_hash: str, numwant: int = 50) -> dict:
        # opentracker answers `stopped` without checking the whitelist and without peers, so
        # announce for real and withdraw at once.
        try:
            return self._announce(info_hash, None, numwant)
        finally:
            try:
                self._announce(info_hash, "stopped")
            except (OSError, TrackerRefused):
                pass

    def scrape(self, info_hash: str) -> Optional[dict]:
        """{'complete': seeders, 'incomplete': leechers, 'downloaded': n}, or None while nobody
        has announced the torrent."""
        q = urllib.parse.quote_from_bytes(bytes.fromhex(info_hash))
        with urllib.request.urlopen(f"{self.scrape_url}?info_hash={q}", timeout=3) as r:
            body = bdecode(r.read())
        files = body.get(b"files", {}) if isinstance(body, dict) else {}
        entry = files.get(bytes.fromhex(info_hash))
        if entry is None:
            return None
        return {k.decode(): v for k, v in entry.items()}

    def peers(self, info_hash: str, numwant: int = 50) -> list[tuple[str, int]]:
        """The peers the tracker hands out for a torrent (we announce as an observer on port 1,
        withdraw at once, and leave ourselves out)."""
        body = self._observe(info_hash, numwant)
        raw = body.get(b"peers", b"") if isinstance(body, dict) else b""
        out = []
        if isinstance(raw, bytes):
            for i in range(0, len(raw) - len(raw) % 6, 6):
                ip = ".".join(str(b) for b in raw[i:i + 4])
                port = struct.unpack(">H", raw[i + 4:i + 6])[0]
                if port != OBSERVER_PORT:  # ourselves
                    out.append((ip, port))
        return out

    def wait_for_seeders(self, info_hash: str, count: int = 1, timeout: float = 30.0) -> None:
        """Wait until `count` seeders of the torrent have announced."""
        wait_until(lambda: (self.scrape(info_hash) or {}).get("complete", 0) >= count,
                   timeout, 0.1, f"tracker never saw {count} seeder(s) of {info_hash}")
