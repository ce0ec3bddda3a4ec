#!/usr/bin/python3
"""A lossy, delayed UDP relay for one client and one upstream (uTP tests).

    udp_proxy.py --listen IP:PORT --upstream IP:PORT [--delay-ms D] [--loss PCT] [--rate BYTES/S] [--seed N]
                 [--blackout-after N --blackout-secs S]

Datagrams from anyone but the upstream are relayed to the upstream from the listening socket;
the upstream's datagrams go back to the last client heard. Each datagram is dropped with
probability PCT% (seeded: a run repeats) and otherwise delivered D ms later each way; with
--rate, each direction also drains through a queue at that rate (datagrams beyond 2 s of
queue are dropped, as a router's full buffer would); with --blackout-after, once N datagrams
have been relayed every datagram either way is dropped for S seconds (a peer that vanishes, a
route that breaks). Prints READY once bound, and on SIGTERM the
counters as `STATS {json}`, with `sizes_down`: how many datagrams of each length came from the
upstream (the packet sizes its uTP chose).
"""

from __future__ import annotations

import argparse
import heapq
import json
import random
import select
import signal
import socket
import struct
import time


def endpoint(text: str) -> tuple:
    host, port = text.rsplit(":", 1)
    return host, int(port)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--listen", type=endpoint, required=True)
    ap.add_argument("--upstream", type=endpoint, required=True)
    ap.add_argument("--delay-ms", type=float, default=0.0)
    ap.add_argument("--loss", type=float, default=0.0, help="percent of datagrams dropped")
    ap.add_argument("--rate", type=float, default=0.0, help="bytes/s each way, 0 = unlimited")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--blackout-after", type=int, default=0, help="datagrams relayed before the blackout")
    ap.add_argument("--blackout-secs", type=float, default=0.0, help="how long everything is dropped")
    ap.add_argument("--trace", action="store_true", help="print each uTP header relayed (debugging)")
    args = ap.parse_args()

    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    signal.signal(signal.SIGINT, lambda *_: stop.append(1))
    rng = random.Random(args.seed)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    sock.bind(args.listen)
    sock.setblocking(False)
    upstream = (socket.gethostbyname(args.upstream[0]), args.upstream[1])
    client = None
    pending = []  # (due, order, data, toward_upstream)
    order = 0
    queue_free = {True: 0.0, False: 0.0}
    stats = {"relayed": 0, "dropped": 0, "queue_dropped": 0, "bytes": 0, "blackout_dropped": 0, "syns_up": 0}
    sizes_down = {}
    blackout_until = None  # set when the blackout starts
    print("READY", flush=True)
    while not stop:
        timeout = max(0.0, pending[0][0] - time.monotonic()) if pending else 0.2
        try:
            readable, _, _ = select.select([sock], [], [], min(timeout, 0.2))
        except InterruptedError:
            continue
        now = time.monotonic()
        if readable:
            for _ in range(256):
                try:
                    data, source = sock.recvfrom(65536)
                except BlockingIOError:
                    break
                toward_upstream = source != upstream
                if toward_upstream:
                    client = source
                else:
                    sizes_down[len(data)] = sizes_down.get(len(data), 0) + 1
                if args.trace and len(data) >= 20:
                    kind, _ext, conn, _ts, _td, wnd, seq, ack = struct.unpack(">BBHIIIHH", data[:20])
                    print(f"{now:.4f} {'->' if toward_upstream else '<-'} type={kind >> 4} conn={conn} seq={seq} "
                          f"ack={ack} wnd={wnd} len={len(data)}", flush=True)
                if toward_upstream and len(data) >= 20 and data[0] >> 4 == 4:
                    stats["syns_up"] += 1  # uTP connections opened through the relay
                if blackout_until is None and args.blackout_after and stats["relayed"] >= args.blackout_after:
                    blackout_until = now + args.blackout_secs
                if blackout_until is not None and now < blackout_until:
                    stats["blackout_dropped"] += 1
                    continue
                if rng.random() * 100 < args.loss:
                    stats["dropped"] += 1
                    continue
                due = now
                if args.rate > 0:
                    start = max(now, queue_free[toward_upstream])
                    if start - now > 2.0:
                        stats["queue_dropped"] += 1
                        continue
                    due = queue_free[toward_upstream] = start + len(data) / args.rate
                order += 1
                heapq.heappush(pending, (due + args.delay_ms / 1000, order, data, toward_upstream))
        now = time.monotonic()
        while pending and pending[0][0] <= now:
            _, _, data, toward_upstream = heapq.heappop(pending)
            target = upstream if toward_upstream else client
            if target is None:
                continue
            try:
                sock.sendto(data, target)
                stats["relayed"] += 1
                stats["bytes"] += len(data)
            except (BlockingIOError, OSError):
                stats["dropped"] += 1
    stats["sizes_down"] = sizes_down
    print("STATS", json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
