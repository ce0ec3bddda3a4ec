"""A lossy, delayed UDP relay in front of one peer (peers/udp_proxy.py as a child process)."""

from __future__ import annotations

import json
import os
from typing import Optional

from .procs import ManagedProcess, PeerProcess, ProcessGroup

UDP_PROXY = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "peers", "udp_proxy.py")


class UDPProxy(PeerProcess):
    """Relays datagrams between whoever sends to ip:port and `upstream` ("ip:port"), dropping
    `loss` percent and delaying each `delay_ms` one way (optionally at `rate` bytes/s); with
    `blackout_after`, everything is dropped for `blackout_secs` once that many datagrams went by."""

    def __init__(self, ip: str, port: int, upstream: str, *, procs: ProcessGroup, delay_ms: float = 0.0,
                 loss: float = 0.0, rate: float = 0.0, seed: int = 1, blackout_after: int = 0,
                 blackout_secs: float = 0.0):
        self.ip, self.port = ip, port
        self.upstream = upstream
        self.procs = procs
        self.argv = ["/usr/bin/python3", "-u", UDP_PROXY, "--listen", f"{ip}:{port}", "--upstream", upstream,
                     "--delay-ms", str(delay_ms), "--loss", str(loss), "--rate", str(rate), "--seed", str(seed),
                     "--blackout-after", str(blackout_after), "--blackout-secs", str(blackout_secs)]
        self.process: Optional[ManagedProcess] = None

    def start(self) -> "UDPProxy":
        self.process = self.procs.spawn(f"udp-proxy-{self.ip}", self.argv)
        self.process.wait_for_output(r"^READY$", 10)
        return self

    def stop(self) -> dict:
        """Stops the relay; its counters (relayed, dropped, bytes), {} if it printed none."""
        if self.process is None:
            return {}
        self.process.stop()
        for line in self.process.output().splitlines():
            if line.startswith("STATS "):
                return json.loads(line[len("STATS "):])
        return {}
