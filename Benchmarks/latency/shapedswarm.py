"""The shaped swarm: shaper.py in front of swarmbench's seeders, proxies on the tracker.

    with ShapedSwarm(swarm, torrents, latency_ms=40, rate="4M") as shaped:
        ...  # leechers announce to the tracker and get only proxy addresses

`swarm` is a running swarmbench Swarm whose seeders do not announce
(Swarm(..., announce=False)).  Seeder i (127.0.0.(i+2):51001+i) gets listener
127.0.1.(i+2) on the same port.  An Announcer puts those addresses on the
tracker; `tracker_peers` then checks what the tracker hands out.

`traffic()` snapshots what proves that every byte went through the proxies:
each seeder's payload upload and the remote IPs it ever saw (peer.py's
status), and each route's connections and bytes (shaper.py's status).
`traffic_check(before, after)` says, for one phase, whether a seeder saw any
address other than its proxy's, and how the bytes the proxies carried down
compare with what the seeders uploaded (protocol overhead makes it >= 1).
"""

import json
import os
import sys
import time

from announcer import PROBE, Announcer, tracker_peers
from common import MiB, log, proc_cpu_seconds, spawn, stop_proc
from swarm import TRACKER_IP

HERE = os.path.dirname(os.path.abspath(__file__))
PROXY_NET = "127.0.1"


class ShapedSwarm:
    """Context manager: starts the proxies and the announcer, always stops them.
    Invariant while entered: the tracker lists every proxy for every torrent,
    and no seeder address."""

    def __init__(self, swarm, torrents, latency_ms, rate, cap="down", tracker_port=6969):
        self.swarm, self.torrents = swarm, torrents
        self.latency_ms, self.rate, self.cap = latency_ms, rate, cap
        self.tracker = (TRACKER_IP, tracker_port)
        self.routes = [((f"{PROXY_NET}.{i + 2}", port), (ip, port))
                       for i, (ip, port, _p, _s) in enumerate(swarm.seeders)]
        self.dir = os.path.join(swarm.dir, f"shaper-{latency_ms:g}ms")
        self.status_path = os.path.join(self.dir, "shaper.json")
        self.proc = self.announcer = None
        self.tracker_list = {}

    @property
    def proxy_ips(self):
        return [listen[0] for listen, _target in self.routes]

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()

    def start(self):
        import libtorrent as lt
        os.makedirs(self.dir, exist_ok=True)
        log_path = os.path.join(self.dir, "shaper.log")
        if os.path.exists(log_path):
            os.remove(log_path)  # spawn() appends: an old READY must not count
        argv = [sys.executable, os.path.join(HERE, "shaper.py"), "--latency-ms",
                str(self.latency_ms), "--rate-per-seeder", self.rate, "--cap", self.cap,
                "--status", self.status_path]
        for listen, target in self.routes:
            argv += ["--route", "%s:%d=%s:%d" % (*listen, *target)]
        self.proc = spawn(argv, log_path)
        deadline = time.monotonic() + 15
        while True:
            with open(log_path) as f:
                if "READY" in f.read():
                    break
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"shaper did not start: see {log_path}")
            time.sleep(0.02)
        hashes = [lt.torrent_info(t).info_hashes().v1.to_bytes() for t, _root in self.torrents]
        self.announcer = Announcer(self.tracker, [listen for listen, _t in self.routes],
                                   hashes).start()
        seeder_ips = {target[0] for _l, target in self.routes}
        for (torrent, _root), ih in zip(self.torrents, hashes):
            peers = [p for p in tracker_peers(self.tracker, ih) if p != PROBE]
            self.tracker_list[os.path.basename(torrent)] = peers
            ips = {p.rsplit(":", 1)[0] for p in peers}
            missing = ["%s:%d" % listen for listen, _t in self.routes
                       if "%s:%d" % listen not in peers]
            if missing or ips & seeder_ips:
                raise RuntimeError(f"tracker hands out {peers} for {os.path.basename(torrent)}: "
                                   f"missing proxies {missing}, seeders {sorted(ips & seeder_ips)}")
        log(f"shaped swarm: {len(self.routes)} seeders behind proxies {PROXY_NET}.x, "
            f"{self.latency_ms:g} ms one way, {self.rate}/s per seeder ({self.cap}); "
            f"tracker hands out {next(iter(self.tracker_list.values()))}")

    def stop(self):
        if self.announcer:
            self.announcer.stop()
            self.announcer = None
        stop_proc(self.proc)

    # -- what fusebench expects of a swarm ------------------------------------
    def uploads(self):
        return self.swarm.uploads()

    def cpu_seconds(self):
        """Seeders and the proxy process: the swarm's side of the machine."""
        proxy = proc_cpu_seconds(self.proc.pid) if self.proc else None
        return self.swarm.cpu_seconds() + (proxy or 0)

    def proxy_cpu_seconds(self):
        return proc_cpu_seconds(self.proc.pid) if self.proc else None

    # -- proof that all traffic went through the proxies -----------------------
    def proxy_status(self):
        try:
            with open(self.status_path) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def traffic(self):
        time.sleep(0.6)  # both status files are rewritten at least every 0.5 s
        return {"uploads": self.swarm.uploads(), "peers_by_ip": self.swarm.peers_by_ip(),
                "proxy": self.proxy_status()}


def traffic_check(before, after, proxy_ips):
    """One phase's traffic: seeders' new endpoints by remote IP, bytes."""
    leaks = {}
    for seeder, now in after["peers_by_ip"].items():
        was = before["peers_by_ip"].get(seeder) or {}
        for ip, n in (now or {}).items():
            if n > was.get(ip, 0) and ip not in proxy_ips:
                leaks.setdefault(seeder, {})[ip] = n - was.get(ip, 0)
    uploaded = sum((after["uploads"].get(ip) or 0) - (v or 0)
                   for ip, v in before["uploads"].items())

    def routes(snapshot):
        return {r["target"]: r for r in (snapshot["proxy"] or {}).get("routes", [])}
    r0, r1 = routes(before), routes(after)
    down = sum(r["bytes_down"] - r0.get(t, {}).get("bytes_down", 0) for t, r in r1.items())
    up = sum(r["bytes_up"] - r0.get(t, {}).get("bytes_up", 0) for t, r in r1.items())
    conns = sum(r["accepted"] - r0.get(t, {}).get("accepted", 0) for t, r in r1.items())
    clients = {}
    for t, r in r1.items():
        for ip, n in r["clients"].items():
            d = n - r0.get(t, {}).get("clients", {}).get(ip, 0)
            if d:
                clients[ip] = clients.get(ip, 0) + d
    return {"ok": not leaks, "non_proxy_endpoints_at_seeders": leaks,
            "seeder_upload_mib": uploaded / MiB, "proxy_down_mib": down / MiB,
            "proxy_up_mib": up / MiB, "proxy_connections": conns, "proxy_clients": clients,
            "proxy_down_over_upload": down / uploaded if uploaded else None}
