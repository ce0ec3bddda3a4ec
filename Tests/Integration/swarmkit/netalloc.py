"""Distinct loopback addresses and free ports for every peer of every test.

Leases are files under /tmp/swarmkit-leases (created with O_EXCL, holding the owner's PID), so
concurrent pytest runs on the same machine never hand out the same address or port; leases of
dead owners are reclaimed. A port is only leased if nothing is bound to it on any address, TCP or
UDP, so a client that listens on 0.0.0.0 (as swarmfs may) cannot collide either.
"""

from __future__ import annotations

import errno
import os
import random
import socket
from typing import Optional

from .procs import pid_alive

LEASE_DIR = "/tmp/swarmkit-leases"
# 127.0.0.1 is everybody's default source address: never lease it to a peer.
IP_POOL = [f"127.0.0.{i}" for i in range(10, 251)] + [f"127.0.1.{i}" for i in range(10, 251)]
# Below Linux's ephemeral range (32768-60999), so outgoing connections never steal our ports.
PORT_RANGE = (20000, 32000)


def _try_lease(name: str) -> bool:
    os.makedirs(LEASE_DIR, exist_ok=True)
    path = os.path.join(LEASE_DIR, name)
    for _attempt in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            try:
                with open(path) as f:
                    owner = int(f.read().strip() or "0")
            except (OSError, ValueError):
                owner = 0
            if owner and (owner == os.getpid() or pid_alive(owner)):
                return False
            try:  # the owner is gone: reclaim
                os.unlink(path)
            except FileNotFoundError:
                pass
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True
    return False


def _release(name: str) -> None:
    try:
        os.unlink(os.path.join(LEASE_DIR, name))
    except FileNotFoundError:
        pass


def port_is_free(port: int) -> bool:
    """Nothing bound to `port` on any IPv4 address, TCP or UDP."""
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        s = socket.socket(socket.AF_INET, kind)
        try:
            s.bind(("0.0.0.0", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
        finally:
            s.close()
    return True


class AddressPool:
    """Hands out loopback IPs and ports for one test; `release()` gives them all back."""

    def __init__(self, rng: Optional[random.Random] = None):
        self._rng = rng or random.Random()
        self._held: list[str] = []

    def ip(self) -> str:
        """A 127.0.x.y address no other live test holds."""
        candidates = IP_POOL[:]
        self._rng.shuffle(candidates)
        for ip in candidates:
            if _try_lease("ip-" + ip):
                self._held.append("ip-" + ip)
                return ip
        raise RuntimeError("no free loopback address left in the pool")

    def port(self) -> int:
        """A TCP+UDP port free on every address, leased to this test."""
        for _attempt in range(500):
            port = self._rng.randrange(*PORT_RANGE)
            if not _try_lease(f"port-{port}"):
                continue
            if port_is_free(port):
                self._held.append(f"port-{port}")
                return port
            _release(f"port-{port}")
        raise RuntimeError("no free port found")

    def ports(self, count: int) -> list[int]:
        """`count` ports (not necessarily consecutive)."""
        return [self.port() for _ in range(count)]

    def port_range(self, count: int) -> tuple[int, int]:
        """`count` consecutive free ports, as (first, last)."""
        for _attempt in range(200):
            first = self._rng.randrange(PORT_RANGE[0], PORT_RANGE[1] - count)
            got: list[int] = []
            ok = True
            for port in range(first, first + count):
                if not _try_lease(f"port-{port}"):
                    ok = False
                    break
                got.append(port)
                if not port_is_free(port):
                    ok = False
                    break
            if ok:
                self._held.extend(f"port-{p}" for p in got)
                return first, first + count - 1
            for port in got:
                _release(f"port-{port}")
        raise RuntimeError(f"no {count} consecutive free ports found")

    def endpoint(self) -> tuple[str, int]:
        """(ip, port) for one peer."""
        return self.ip(), self.port()

    def release(self) -> None:
        for name in self._held:
            _release(name)
        self._held.clear()
