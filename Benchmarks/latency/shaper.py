#!/usr/bin/python3
"""A userland TCP shaping proxy: one-way latency and a per-seeder rate cap.

    shaper.py --latency-ms 40 --rate-per-seeder 4M --seeders 4 [--status FILE]
    shaper.py --latency-ms 0 --route 127.0.2.2:51001=127.0.0.2:51001 ...

The kernel here has no netem, so a swarm "20-200 ms away" is made in userland:
every seeder gets a listener on an address of its own (default 127.0.1.(i+2),
same port as the seeder), and each accepted connection is forwarded to that
seeder over a new connection made FROM the listener's address, so the seeder
only ever sees the proxy's address.  Python standard library only (asyncio).

Model of one link (each direction of each connection is a Pipe):
  * rate: a token bucket per seeder and direction, computed as a virtual clock
    (GCRA): a chunk of n bytes read at `now` departs at
    max(now, tat - burst/rate) where tat advances by n/rate per chunk.  All
    connections to one seeder share its bucket, as they would share its uplink.
    By default only the seeder -> leecher direction is capped (a seeder's upload
    is what a slow peer limits; the leecher's requests are tiny); `--cap both`
    caps the other direction with a bucket of its own.
  * latency: a chunk is released to the other side at departure + D.  Chunks
    are timestamped when read and released by one timer per pipe, in order;
    nothing sleeps per byte.
  * TCP connect: the kernel completes the leecher's connect() at once, where a
    real one takes a round trip.  So leecher -> seeder bytes are not released
    before accept + 2D (+ D): the BitTorrent handshake reaches the seeder at 3D
    and its answer the leecher at 4D, exactly as after a real connect.
  * queueing: when more than --queue bytes (256 KiB) wait for tokens, a capped
    pipe stops reading its source until half of them have left, so further data
    waits in the sender's socket and send buffer, as behind a real bottleneck
    (the rate*D bytes in flight do not count).  An uncapped pipe holds at most
    64 MiB (so uncapped, D * throughput must stay below 32 MiB).
The tracker is not behind the proxy (the harness announces the proxies'
addresses itself), and UDP (uTP) is not forwarded: clients must use TCP.

Status (--status, JSON, rewritten every 0.25 s and at exit): per route the
connections accepted/open, the bytes forwarded each way, and the client
addresses that connected.  SIGTERM/SIGINT stop it cleanly.
"""

import argparse
import asyncio
import collections
import json
import os
import signal
import socket
import sys

MiB = 1 << 20
READ_SIZE = 64 * 1024
UNCAPPED_QUEUE = 64 * MiB
SLACK = 0.0005  # release chunks due within 0.5 ms together (timer granularity)


def parse_rate(text):
    """'4M' -> 4 MiB/s in bytes per second; '0' or 'none' -> None (no cap)."""
    t = text.strip().lower().rstrip("ib/s")
    if t in ("", "0", "none", "no"):
        return None
    units = {"k": 1 << 10, "m": 1 << 20, "g": 1 << 30}
    value = float(t[:-1]) * units[t[-1]] if t[-1] in units else float(t)
    if value <= 0:
        raise ValueError(f"rate must be positive: {text!r}")
    return value


def split_addr(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


class Bucket:
    """Token bucket as a virtual clock.  Invariant: `tat` (theoretical arrival
    time of the next byte) never moves backwards, so departures of successive
    chunks of one pipe never reorder."""

    def __init__(self, rate, burst):
        self.rate = rate
        self.tolerance = burst / rate if rate else 0.0
        self.tat = 0.0

    def departure(self, now, nbytes):
        if not self.rate:
            return now
        self.tat = max(self.tat, now) + nbytes / self.rate
        return max(now, self.tat - self.tolerance)


class RouteStats:
    def __init__(self, listen, target):
        self.listen, self.target = listen, target
        self.accepted = self.open = self.failed = 0
        self.bytes = {"up": 0, "down": 0}  # up: leecher -> seeder, down: seeder -> leecher
        self.clients = collections.Counter()

    def as_dict(self):
        return {"listen": "%s:%d" % self.listen, "target": "%s:%d" % self.target,
                "accepted": self.accepted, "open": self.open, "failed": self.failed,
                "bytes_up": self.bytes["up"], "bytes_down": self.bytes["down"],
                "clients": dict(self.clients)}


class Pipe:
    """One direction of one proxied connection.

    Invariants: `queue` holds (release_time, bytes) in non-decreasing release
    order; `buffered` is the sum of its byte counts; at most one release timer
    is armed.  The source is paused while more than `queue` bytes wait for
    tokens (capped) or more than UNCAPPED_QUEUE bytes are held (uncapped)."""

    def __init__(self, loop, direction, bucket, delay, queue, stats, opens_at=0.0):
        self.loop, self.direction, self.bucket, self.delay = loop, direction, bucket, delay
        self.high = UNCAPPED_QUEUE  # uncapped: bytes held in all (delay line included)
        self.queue_s = queue / bucket.rate if bucket.rate else None  # capped: seconds of backlog
        self.stats = stats
        self.opens_at = opens_at
        self.queue = collections.deque()
        self.buffered = 0
        self.src = self.dst = None
        self.src_paused = self.dst_paused = False
        self.timer = None
        self.eof = False      # the source has closed: close dst once drained
        self.dead = False     # the destination is gone: drop everything

    def feed(self, data):
        if self.dead:
            return
        now = self.loop.time()
        depart = self.bucket.departure(max(now, self.opens_at), len(data))
        self.queue.append((depart + self.delay, data))
        self.buffered += len(data)
        if self.src is None or self.src_paused:
            pass
        elif self.bucket.rate:
            # Bytes waiting for tokens (the bottleneck queue) are backlog * rate; the
            # delay line (rate * D in flight) does not count, or the link could not fill.
            backlog = depart - now
            if backlog > self.queue_s:
                self._pause_src()
                self.loop.call_at(depart - self.queue_s / 2, self._resume_src)
        elif self.buffered > self.high:
            self._pause_src()
        self._arm()

    def _pause_src(self):
        self.src_paused = True
        self.src.pause_reading()

    def _resume_src(self):
        if self.src_paused and not self.dead and not self.src.is_closing():
            self.src_paused = False
            self.src.resume_reading()

    def finish(self):
        """The source is gone: forward what is queued, then close dst."""
        self.eof = True
        self._arm()
        self._maybe_close()

    def kill(self):
        self.dead = True
        self.queue.clear()
        self.buffered = 0
        if self.timer:
            self.timer.cancel()
            self.timer = None

    def set_dst_paused(self, paused):
        self.dst_paused = paused
        if not paused:
            self._arm()

    def _arm(self):
        if self.timer or self.dead or not self.queue or self.dst is None or self.dst_paused:
            return
        self.timer = self.loop.call_at(self.queue[0][0], self._release)

    def _release(self):
        self.timer = None
        due = self.loop.time() + SLACK
        while self.queue and self.queue[0][0] <= due and not self.dst_paused and not self.dead:
            _when, data = self.queue.popleft()
            self.buffered -= len(data)
            self.stats.bytes[self.direction] += len(data)
            self.dst.write(data)  # may call pause_writing -> dst_paused
        if self.src_paused and not self.bucket.rate and self.buffered <= self.high // 2:
            self._resume_src()
        self._arm()
        self._maybe_close()

    def _maybe_close(self):
        if self.eof and not self.queue and self.dst is not None and not self.dst.is_closing():
            self.dst.close()  # flushes what the transport still buffers


class Side(asyncio.Protocol):
    """One socket of a proxied connection: what it reads goes into `out`, what
    `into` releases is written to it."""

    def __init__(self, conn, out, into, on_made=None):
        self.conn, self.out, self.into, self.on_made = conn, out, into, on_made
        self.transport = None

    def connection_made(self, transport):
        self.transport = transport
        sock = transport.get_extra_info("socket")
        if sock is not None:  # forward small messages (requests) at once, no Nagle
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.out.src = transport
        self.into.dst = transport
        self.into._arm()
        self.into._maybe_close()  # the other side may already be gone
        if self.on_made:
            self.on_made(transport)

    def data_received(self, data):
        self.out.feed(data)

    def eof_received(self):
        return False  # close our transport; connection_lost does the rest

    def pause_writing(self):
        self.into.set_dst_paused(True)

    def resume_writing(self):
        self.into.set_dst_paused(False)

    def connection_lost(self, exc):
        self.out.finish()
        self.into.kill()
        self.conn.side_lost(self)


class Connection:
    """A leecher's connection through the proxy and its upstream to the seeder."""

    def __init__(self, route, loop):
        self.route, self.loop = route, loop
        d = route.delay
        # The leecher's connect() completed at once; a real one takes a round trip.
        self.up = Pipe(loop, "up", route.up_bucket, d, route.queue, route.stats,
                       opens_at=loop.time() + 2 * d)
        self.down = Pipe(loop, "down", route.down_bucket, d, route.queue, route.stats)
        self.client = Side(self, self.up, self.down, on_made=self._client_made)

    def _client_made(self, transport):
        peer = transport.get_extra_info("peername")
        stats = self.route.stats
        stats.accepted += 1
        stats.open += 1
        stats.clients[peer[0] if peer else "?"] += 1
        self.loop.create_task(self._connect_upstream())

    async def _connect_upstream(self):
        host, port = self.route.target
        try:
            await self.loop.create_connection(
                lambda: Side(self, self.down, self.up), host, port,
                local_addr=(self.route.listen[0], 0))  # the seeder sees the proxy's address
        except OSError as exc:
            self.route.stats.failed += 1
            print(f"upstream {host}:{port}: {exc}", file=sys.stderr, flush=True)
            if self.client.transport is not None:
                self.client.transport.abort()

    def side_lost(self, side):
        if side is self.client:
            self.route.stats.open -= 1


class Route:
    """One listener and the seeder it forwards to, with that seeder's buckets."""

    def __init__(self, listen, target, delay, rate, cap, burst, queue):
        self.listen, self.target, self.delay = listen, target, delay
        self.stats = RouteStats(listen, target)
        self.down_bucket = Bucket(rate, burst)
        self.up_bucket = Bucket(rate if cap == "both" else None, burst)
        self.queue = queue


async def serve(args, routes):
    loop = asyncio.get_running_loop()
    servers = []
    for route in routes:
        servers.append(await loop.create_server(
            lambda route=route: Connection(route, loop).client, *route.listen,
            reuse_address=True, backlog=128))
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    write_status(args.status, routes, args)
    print("READY " + " ".join("%s:%d=%s:%d" % (*r.listen, *r.target) for r in routes),
          flush=True)
    while not stop.is_set():
        try:
            await asyncio.wait_for(stop.wait(), 0.25)
        except asyncio.TimeoutError:
            pass
        write_status(args.status, routes, args)
    for s in servers:
        s.close()
    write_status(args.status, routes, args)


def write_status(path, routes, args):
    if not path:
        return
    status = {"pid": os.getpid(), "latency_ms": args.latency_ms, "rate": args.rate,
              "cap": args.cap, "routes": [r.stats.as_dict() for r in routes]}
    with open(path + ".tmp", "w") as f:
        json.dump(status, f)
    os.replace(path + ".tmp", path)


def default_routes(n, seeder_ip_base, seeder_port, proxy_ip_base):
    """Seeder i at SEEDER_BASE+i:seeder_port+i behind PROXY_BASE+i:seeder_port+i."""
    def nth(base, i):
        a, b, c, d = (int(x) for x in base.split("."))
        return f"{a}.{b}.{c}.{d + i}"
    return [((nth(proxy_ip_base, i), seeder_port + i), (nth(seeder_ip_base, i), seeder_port + i))
            for i in range(n)]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 2)[2])
    ap.add_argument("--latency-ms", type=float, default=40.0, help="one-way delay (ms)")
    ap.add_argument("--rate-per-seeder", dest="rate", default="4M",
                    help="cap per seeder in bytes/s, K/M/G suffixes (0 = none); default 4M")
    ap.add_argument("--cap", choices=("down", "both"), default="down",
                    help="down: seeder -> leecher only (default); both: each direction")
    ap.add_argument("--seeders", type=int, default=4,
                    help="routes for seeders 0..N-1 (unless --route is given)")
    ap.add_argument("--seeder-ip", default="127.0.0.2", help="first seeder's address")
    ap.add_argument("--seeder-port", type=int, default=51001, help="first seeder's port")
    ap.add_argument("--proxy-ip", default="127.0.1.2", help="first listener's address")
    ap.add_argument("--route", action="append", default=[], metavar="LISTEN=TARGET",
                    help="explicit route HOST:PORT=HOST:PORT (repeatable)")
    ap.add_argument("--burst", type=int, default=16 * 1024, help="token bucket depth (bytes)")
    ap.add_argument("--queue", type=int, default=256 * 1024,
                    help="bytes a capped pipe queues beyond rate*latency before it stops "
                    "reading its source")
    ap.add_argument("--status", help="JSON status file")
    args = ap.parse_args(argv)
    rate = parse_rate(args.rate)
    if args.route:
        pairs = [tuple(split_addr(x) for x in r.split("=", 1)) for r in args.route]
    else:
        pairs = default_routes(args.seeders, args.seeder_ip, args.seeder_port, args.proxy_ip)
    routes = [Route(listen, target, args.latency_ms / 1000, rate, args.cap, args.burst,
                    args.queue) for listen, target in pairs]
    asyncio.run(serve(args, routes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
