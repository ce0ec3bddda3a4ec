"""A loopback BEP 5 DHT mesh of libtorrent nodes, for tests of swarmfs's DHT (and bare magnets).

API:
    mesh = DHTMesh(procs, pool, size=8).start()   # 8 libtorrent DHT nodes on their own 127.x.y.z
                                                   # (ipv6=True: on [::1] with ports of their own),
                                                   # introduced to each other; READY when every
                                                   # routing table has nodes
    mesh.bootstrap        -> "ip:port" of one mesh node, for `swarmfs ... --dht-bootstrap`
    mesh.endpoints        -> every node's "ip:port"
    mesh.node_counts()    -> routing-table size of every node (from the status file)
    mesh.wait_announced("ip:port", timeout)        # until that peer sent a mesh node announce_peer
    seeder = mesh.seeder(torrent, save_path)       # a libtorrent seeder in the mesh, NO tracker:
                                                   # found through the DHT only; returns when it
                                                   # has announced (a MeshMember)
    leecher = mesh.leecher(torrent, save_path)     # a libtorrent leecher in the mesh, no tracker
    leecher.wait_complete(timeout) -> {"seconds": ..., "downloaded_from": {"ip:port": bytes}}
    magnet = mesh.magnet_leecher(uri, save_path)  # a libtorrent leecher of a magnet link (timings)
    member.endpoint, member.status(), member.running(), member.stop()

    no_dht_wrapper(real_bin, directory) -> path of a script that runs `real_bin` and adds
        --no-dht to mount/download/seed/info unless the command line names --dht-bootstrap or
        --no-dht itself (the harness's default: no test reaches for the public DHT routers), and
        --no-lsd to mount/download/seed unless $SWARMFS_TEST_LSD=1 (no multicast on the LAN).

Settings (issue 13): dht_restrict_routing_ips, dht_restrict_search_ips, dht_ignore_dark_internet
and dht_prefer_verified_node_ids off; dht_bootstrap_nodes empty; nodes introduced with
session.add_dht_node (a bootstrap "router" never enters a routing table). Every process is
started through `procs` and stopped by PID.
"""

from __future__ import annotations

import json
import os
import stat
from typing import Optional

from .libtorrent_peers import LIBTORRENT_PYTHON, PEERS_DIR
from .netalloc import AddressPool
from .procs import ManagedProcess, ProcessGroup
from .waiting import TimeoutExpired, wait_until

LT_DHT = os.path.join(PEERS_DIR, "lt_dht.py")


def joined(ip: str, port: int) -> str:
    """(ip, port) -> "IP:PORT", an IPv6 address in brackets."""
    return f"[{ip}]:{port}" if ":" in ip else f"{ip}:{port}"


class MeshMember:
    """One lt_dht.py process: some DHT nodes, maybe a seeder or leecher on the first."""

    def __init__(self, name: str, nodes: list[tuple[str, int]], procs: ProcessGroup, *,
                 join: list[str] = (), seed: Optional[tuple[str, str]] = None,
                 leech: Optional[tuple[str, str]] = None, leech_magnet: Optional[tuple[str, str]] = None,
                 min_nodes: int = 3):
        self.name = name
        self.nodes = nodes
        self.procs = procs
        self.status_path = os.path.join(procs.log_dir, f"lt-dht-{name}.json")
        argv = [LIBTORRENT_PYTHON, "-u", "-X", "faulthandler", LT_DHT, "--status", self.status_path,
                "--min-nodes", str(min_nodes)]
        for ip, port in nodes:
            argv += ["--node", joined(ip, port)]
        for endpoint in join:
            argv += ["--join", endpoint]
        if seed:
            argv += ["--seed", *seed]
        if leech:
            argv += ["--leech", *leech]
        if leech_magnet:
            argv += ["--leech-magnet", *leech_magnet]
        self.argv = argv
        self.process: Optional[ManagedProcess] = None

    @property
    def endpoint(self) -> str:
        """The first node's "ip:port" (its peer port too, for a seeder or leecher)."""
        ip, port = self.nodes[0]
        return joined(ip, port)

    def start(self, timeout: float = 60.0, wait_ready: bool = True) -> "MeshMember":
        self.process = self.procs.spawn(f"lt-dht-{self.name}", self.argv)
        self.process.wait_for_output(r"^STARTED$", 30)
        if wait_ready:
            self.process.wait_for_output(r"^READY$", timeout)
        return self

    def status(self) -> dict:
        try:
            with open(self.status_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return {}

    def wait_complete(self, timeout: float = 60.0) -> dict:
        assert self.process is not None
        proc = self.process

        def check():
            for line in proc.output().splitlines():
                if line.startswith("COMPLETE "):
                    return json.loads(line[len("COMPLETE "):])
            if not proc.running():
                raise TimeoutExpired(f"{self.name} exited {proc.returncode()}:\n{proc.tail()}")
            return None

        return wait_until(check, timeout, 0.1, f"{self.name} incomplete after {timeout}s: {self.status()}")

    def running(self) -> bool:
        return self.process is not None and self.process.running()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


class DHTMesh:
    """`size` libtorrent DHT nodes in one process, each on its own loopback address."""

    def __init__(self, procs: ProcessGroup, pool: AddressPool, size: int = 8, ipv6: bool = False):
        self.procs = procs
        self.pool = pool
        self.ipv6 = ipv6
        self.core = MeshMember("mesh", [self._endpoint() for _ in range(size)], procs,
                               min_nodes=min(3, size - 1))
        self.members: list[MeshMember] = [self.core]

    def _endpoint(self) -> tuple[str, int]:
        """A node's (ip, port): its own 127.x.y.z, or ::1 and a port of its own for an IPv6 mesh
        (BEP 32: a DHT of its own; ::1 is IPv6's only loopback address)."""
        return ("::1", self.pool.port()) if self.ipv6 else self.pool.endpoint()

    def start(self, timeout: float = 60.0) -> "DHTMesh":
        self.core.start(timeout)
        return self

    @property
    def endpoints(self) -> list[str]:
        return [joined(ip, port) for ip, port in self.core.nodes]

    @property
    def bootstrap(self) -> str:
        return self.endpoints[0]

    def node_counts(self) -> list[int]:
        return [n["dht_nodes"] for n in self.core.status().get("nodes", [])]

    def announces(self) -> list[str]:
        """Every "ip:port" that sent a mesh node an announce_peer so far."""
        return self.core.status().get("announces", [])

    def wait_announced(self, endpoint: str, timeout: float = 30.0) -> None:
        wait_until(lambda: endpoint in self.announces(), timeout, 0.1,
                   f"{endpoint} never announced to the mesh; announces: {self.announces()}")

    def seeder(self, torrent, save_path: str, timeout: float = 60.0) -> MeshMember:
        """A libtorrent seeder in the mesh (no tracker); returns once it announced to the DHT."""
        path = torrent.path if hasattr(torrent, "path") else str(torrent)
        member = MeshMember(f"seeder{len(self.members)}", [self._endpoint()], self.procs,
                            join=self.endpoints, seed=(path, save_path))
        self.members.append(member)
        member.start(timeout)
        self.wait_announced(member.endpoint, timeout)
        return member

    def leecher(self, torrent, save_path: str, timeout: float = 60.0) -> MeshMember:
        """A libtorrent leecher in the mesh (no tracker); `wait_complete` for its download."""
        path = torrent.path if hasattr(torrent, "path") else str(torrent)
        member = MeshMember(f"leecher{len(self.members)}", [self._endpoint()], self.procs,
                            join=self.endpoints, leech=(path, save_path))
        self.members.append(member)
        return member.start(timeout)

    def magnet_leecher(self, uri: str, save_path: str, timeout: float = 60.0) -> MeshMember:
        """A libtorrent leecher of a magnet link in the mesh; prints METADATA/FIRST_PIECE s."""
        member = MeshMember(f"magnet{len(self.members)}", [self._endpoint()], self.procs,
                            join=self.endpoints, leech_magnet=(uri, save_path), min_nodes=0)
        self.members.append(member)
        return member.start(timeout, wait_ready=False)

    def stop(self) -> None:
        for member in reversed(self.members):
            member.stop()


def no_dht_wrapper(real_bin: str, directory: str) -> str:
    """Writes DIRECTORY/swarmfs: `real_bin` with --no-dht added to mount/download/seed/info unless
    the command names --dht-bootstrap or --no-dht, and --no-lsd added to mount/download/seed
    unless $SWARMFS_TEST_LSD is 1 (local discovery multicasts on the LAN: only the test that runs
    it in a network namespace of its own turns it on). `exec` keeps the PID (tests stop by PID)."""
    os.makedirs(directory, exist_ok=True)
    path = os.path.join(directory, "swarmfs")
    quoted = real_bin.replace("'", "'\\''")
    script = f"""#!/bin/sh
# swarmkit: swarmfs without the DHT and local discovery unless the test asks (see swarmkit/dht.py).
real='{quoted}'
case "$1" in
    mount|download|seed|info)
        command=$1
        shift
        dht=--no-dht
        for arg in "$@"; do
            case "$arg" in --dht-bootstrap|--dht-bootstrap=*|--no-dht) dht= ;; esac
        done
        lsd=--no-lsd
        if [ "$command" = info ] || [ "${{SWARMFS_TEST_LSD:-}}" = 1 ]; then lsd=; fi
        exec "$real" "$command" $dht $lsd "$@" ;;
esac
exec "$real" "$@"
"""
    with open(path, "w") as f:
        f.write(script)
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path
