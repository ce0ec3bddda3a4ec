#!/usr/bin/python3
"""Check the shaping proxy against a direct loopback connection.

    linkcheck.py [--latency-ms 40] [--rate 4M] [--json FILE]

Starts shaper.py (one route, to a test server in this process) and measures
through it and directly:
  * round trip: median of 100 one-byte echo round trips: direct, through the
    proxy at 0 ms / no cap (its own overhead), and at --latency-ms (expected:
    2 x latency + the overhead);
  * bulk rate, server -> client: 64 MiB direct and through the proxy at 0 ms /
    no cap (the proxy's ceiling; it must stay far above a swarm's cap), and
    through the capped proxy (expected: --rate);
  * first byte of a fresh connection through the shaped proxy: connect, send
    one byte, read the echo (expected: 4 x latency, see shaper.py).
Loopback has no delay of its own, so the differences are the proxy's.
"""

import argparse
import json
import os
import socket
import statistics
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                                "swarmbench"))

from common import log, spawn, stop_proc  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MiB = 1 << 20
SERVER_IP, PROXY_IP = "127.0.4.1", "127.0.4.2"


class TestServer:
    """Echo (first byte b'e') or bulk sender (first byte b'b' + 8-byte size)."""

    def __init__(self, ip):
        self.sock = socket.create_server((ip, 0), backlog=16)
        self.addr = self.sock.getsockname()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    @staticmethod
    def _serve(conn):
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        with conn:
            mode = conn.recv(1)
            if mode == b"e":
                conn.sendall(b"e")
                while data := conn.recv(65536):
                    conn.sendall(data)
            elif mode == b"b":
                size = int.from_bytes(_recv_exact(conn, 8), "big")
                block = b"\x5a" * MiB
                while size > 0:
                    n = min(size, len(block))
                    conn.sendall(block[:n])
                    size -= n

    def close(self):
        self.sock.close()


def _recv_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise ConnectionError("closed early")
        buf += chunk
    return buf


def _connect(addr):
    s = socket.create_connection(addr, timeout=30)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def round_trip_ms(addr, count=100):
    with _connect(addr) as s:
        s.sendall(b"e")
        _recv_exact(s, 1)
        samples = []
        for _ in range(count):
            t0 = time.perf_counter()
            s.sendall(b"x")
            _recv_exact(s, 1)
            samples.append((time.perf_counter() - t0) * 1000)
    return statistics.median(samples)


def first_byte_ms(addr):
    t0 = time.perf_counter()
    with _connect(addr) as s:
        s.sendall(b"e")
        _recv_exact(s, 1)
        return (time.perf_counter() - t0) * 1000


def bulk_MBps(addr, size):
    """Rate from the first byte received to the last (the initial delay excluded)."""
    with _connect(addr) as s:
        s.sendall(b"b" + size.to_bytes(8, "big"))
        got, t_first = 0, None
        while got < size:
            chunk = s.recv(4 * MiB)
            if not chunk:
                raise ConnectionError(f"bulk: closed after {got} bytes")
            if t_first is None:
                t_first, first_len = time.perf_counter(), len(chunk)
            got += len(chunk)
        dt = time.perf_counter() - t_first
    return (got - first_len) / dt / 1e6 if dt > 0 else None


class Shaper:
    """shaper.py in its own process, one route to `target`; stopped by PID."""

    def __init__(self, work_dir, target, latency_ms, rate, port):
        self.listen = (PROXY_IP, port)
        route = "%s:%d=%s:%d" % (*self.listen, *target)
        self.log = os.path.join(work_dir, f"linkcheck-shaper-{port}.log")
        if os.path.exists(self.log):
            os.remove(self.log)  # spawn() appends: an old READY must not count
        self.proc = spawn([sys.executable, os.path.join(HERE, "shaper.py"), "--latency-ms",
                           str(latency_ms), "--rate-per-seeder", rate, "--route", route],
                          self.log)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            with open(self.log) as f:
                if "READY" in f.read():
                    return
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        stop_proc(self.proc)
        raise RuntimeError(f"shaper did not start: see {self.log}")

    def stop(self):
        stop_proc(self.proc)


def check(work_dir, latency_ms, rate, bulk_size=64 * MiB):
    """Returns a dict of measured figures (see the module doc)."""
    from shaper import parse_rate
    os.makedirs(work_dir, exist_ok=True)
    server = TestServer(SERVER_IP)
    plain = shaped = None
    try:
        plain = Shaper(work_dir, server.addr, 0, "0", 52400)
        shaped = Shaper(work_dir, server.addr, latency_ms, rate, 52401)
        cap = parse_rate(rate)
        capped_size = int(cap * 2) if cap else bulk_size
        out = {"latency_ms": latency_ms, "rate": rate,
               "rtt_direct_ms": round_trip_ms(server.addr),
               "rtt_proxy0_ms": round_trip_ms(plain.listen),
               "rtt_shaped_ms": round_trip_ms(shaped.listen, count=20),
               "rtt_expected_ms": 2 * latency_ms,
               "first_byte_shaped_ms": first_byte_ms(shaped.listen),
               "first_byte_expected_ms": 4 * latency_ms,
               "bulk_direct_MBps": bulk_MBps(server.addr, bulk_size),
               "bulk_proxy0_MBps": bulk_MBps(plain.listen, bulk_size),
               "bulk_shaped_MBps": bulk_MBps(shaped.listen, capped_size),
               "bulk_expected_MBps": cap / 1e6 if cap else None}
        out["proxy0_added_rtt_ms"] = out["rtt_proxy0_ms"] - out["rtt_direct_ms"]
        return out
    finally:
        for s in (plain, shaped):
            if s:
                s.stop()
        server.close()


def describe(r):
    return (f"proxy check: RTT direct {r['rtt_direct_ms']:.2f} ms, via proxy at 0 ms "
            f"{r['rtt_proxy0_ms']:.2f} ms (+{r['proxy0_added_rtt_ms']:.2f}), shaped "
            f"{r['rtt_shaped_ms']:.1f} ms (expect {r['rtt_expected_ms']:.0f}); first byte of a "
            f"new connection {r['first_byte_shaped_ms']:.1f} ms (expect "
            f"{r['first_byte_expected_ms']:.0f}); bulk direct {r['bulk_direct_MBps']:.0f} MB/s, "
            f"via proxy at 0 ms {r['bulk_proxy0_MBps']:.0f} MB/s, shaped "
            f"{r['bulk_shaped_MBps']:.2f} MB/s (cap "
            + (f"{r['bulk_expected_MBps']:.2f})" if r["bulk_expected_MBps"] else "none)"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--latency-ms", type=float, default=40)
    ap.add_argument("--rate", default="4M")
    ap.add_argument("--work-dir", default="/tmp/swarmbench-latency/linkcheck")
    ap.add_argument("--json")
    args = ap.parse_args()
    r = check(args.work_dir, args.latency_ms, args.rate)
    log(describe(r))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(r, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
