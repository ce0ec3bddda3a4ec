#!/usr/bin/python3
"""HTTP streaming vs the FUSE mount, in the same run, and vs a plain static file server.

For each repetition, one `swarmfs mount TORRENT MNT --http HOST:PORT` process serves both
interfaces, so the two are measured against the same daemon, cache and swarm:

  complete  the cache already holds the whole payload (`--download none`): the serving path
            alone. FUSE: open + read through a fresh mount; HTTP: GET through the same process,
            after one HTTP pass that checks the bytes (and has the daemon hash the cache once).
            Static servers of the same file: nginx (`sendfile on`, when installed), `python3 -m http.server`
            (read/write copies), and sendfile_server.py, a sendfile(2) loop as nginx serves
            static files — the ceiling for HTTP over TCP here — measured in each repetition
            beside FUSE and HTTP, in rotating order, with per-repetition ratios.
  swarm     an empty cache and a local swarm (opentracker + libtorrent seeders on loopback):
            a fresh mount (and cache) per measurement, so each one downloads what it streams.

Per interface: time to first byte (the first 64 KiB in hand, from open/connect) and the stream
rate of the whole file (FUSE: 1 MiB preads; HTTP: 1 MiB recv_into, no curl: it was the ceiling), with the payload's sha256
checked once per case outside the timing. Raw numbers go to Benchmarks/results/http-*.json.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "Tests", "Integration"))

from swarmkit import AddressPool, ProcessGroup, Swarm, make_single_payload, make_torrent  # noqa: E402
from swarmkit.mount import mounted  # noqa: E402
from swarmkit.waiting import wait_until  # noqa: E402

MiB = 1024 * 1024
FIRST = 64 * 1024


def fuse_ttfb_and_rate(path: str, size: int) -> tuple[float, float]:
    start = time.monotonic()
    fd = os.open(path, os.O_RDONLY)
    try:
        first = os.pread(fd, FIRST, 0)
        ttfb = time.monotonic() - start
        assert len(first) == FIRST
        done = len(first)
        while done < size:
            chunk = os.pread(fd, MiB, done)
            if not chunk:
                break
            done += len(chunk)
        elapsed = time.monotonic() - start
    finally:
        os.close(fd)
    assert done == size, (done, size)
    return ttfb, size / elapsed / 1e6


def http_ttfb(host: str, port: int, path: str) -> float:
    """Seconds from connect to the first 64 KiB of the body in hand."""
    start = time.monotonic()
    with socket.create_connection((host, port), timeout=120) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while b"\r\n\r\n" not in data:
            data += sock.recv(65536)
        body = len(data.split(b"\r\n\r\n", 1)[1])
        while body < FIRST:
            chunk = sock.recv(65536)
            if not chunk:
                break
            body += len(chunk)
    return time.monotonic() - start


def http_rate(host: str, port: int, path: str, size: int) -> float:
    """MB/s of a whole GET, received into one 1 MiB buffer (as the FUSE side reads 1 MiB at a time:
    the same client cost on both sides, and less than curl's, which would be the ceiling here)."""
    buffer = bytearray(MiB)
    view = memoryview(buffer)
    start = time.monotonic()
    with socket.create_connection((host, port), timeout=600) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}:{port}\r\nConnection: close\r\n\r\n".encode())
        head = b""
        while b"\r\n\r\n" not in head:
            head += sock.recv(4096)
        body = len(head.split(b"\r\n\r\n", 1)[1])
        while True:
            got = sock.recv_into(view)
            if not got:
                break
            body += got
    elapsed = time.monotonic() - start
    assert body == size, (body, size)
    return size / elapsed / 1e6


NGINX_CONF = """worker_processes 1;
user root;
error_log {work}/nginx-error.log;
pid {work}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {work}/nginx-tmp;
    proxy_temp_path {work}/nginx-tmp;
    fastcgi_temp_path {work}/nginx-tmp;
    uwsgi_temp_path {work}/nginx-tmp;
    scgi_temp_path {work}/nginx-tmp;
    server {{
        listen {host}:{port};
        root {root};
    }}
}}
"""


def start_nginx(work, procs, pool, root):
    """nginx serving `root` (static files, `sendfile on`, one worker), or None if it is not
    installed: (host, port)."""
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else None)
    if binary is None:
        print("nginx not installed: the sendfile loop is the only static reference", flush=True)
        return None
    host, port = pool.ip(), pool.port()
    os.makedirs(os.path.join(work, "nginx-tmp"), exist_ok=True)
    conf = os.path.join(work, "nginx.conf")
    with open(conf, "w") as f:
        f.write(NGINX_CONF.format(work=work, host=host, port=port, root=root))
    procs.spawn("nginx", [binary, "-p", work, "-c", conf, "-g", "daemon off;"])
    wait_until(lambda: _port_open(host, port), 20)
    return host, port


def sha256_url(url: str) -> str:
    proc = subprocess.Popen(["curl", "-s", url], stdout=subprocess.PIPE)
    digest = hashlib.sha256()
    for chunk in iter(lambda: proc.stdout.read(MiB), b""):
        digest.update(chunk)
    proc.wait()
    return digest.hexdigest()


def mount_argv(binary, torrent, mnt, cache, http, *extra):
    return [binary, "mount", torrent.path, mnt, "--cache-dir", cache, "--http", http, *extra]


def run(args) -> dict:
    work = tempfile.mkdtemp(prefix="swarmfs-httpbench-")
    procs = ProcessGroup(os.path.join(work, "logs"))
    pool = AddressPool()
    results = {"args": vars(args), "complete": [], "swarm": [], "static": [], "sendfile": []}
    try:
        payload = make_single_payload(os.path.join(work, "seed"), size=args.size * MiB, name="movie.mkv")
        sha = payload.files[0].sha256
        size = payload.total_size
        rel = "movie.mkv"

        # The ceiling, a sendfile(2) loop over the same file, runs beside the mount and is
        # measured in the same repetitions, interleaved: the machine's noise (shared cores)
        # moves all three alike, and each repetition gives its own ratios.
        sf_host, sf_port = pool.ip(), pool.port()
        ceiling = procs.spawn("sendfile-server", [sys.executable, os.path.join(os.path.dirname(__file__), "sendfile_server.py"),
                                                  sf_host, str(sf_port), os.path.join(payload.save_path, rel)])
        wait_until(lambda: _port_open(sf_host, sf_port), 20)

        # complete: the seed folder is a complete cache.
        t = make_torrent(payload, args.piece_size * 1024, [], out_path=os.path.join(work, "c.torrent"))
        url_path = f"/t/{t.info_hash}/{rel}"
        kinds = ["fuse", "http", "sendfile"]
        ng = start_nginx(work, procs, pool, payload.save_path)
        if ng:
            kinds.append("nginx")
        for rep in range(args.reps):
            host, port = pool.ip(), pool.port()
            mnt = os.path.join(work, f"mnt-c{rep}")
            argv = mount_argv(args.binary, t, mnt, payload.save_path, f"{host}:{port}", "--download", "none")
            with mounted(argv, mnt, procs=procs):
                # A first pass (HTTP: it fills no FUSE page cache) checks the bytes, and lets the
                # daemon verify the pieces of the cache it serves, which it does on first read;
                # both interfaces are then measured serving, not hashing.
                assert sha256_url(f"http://{host}:{port}{url_path}") == sha
                # Each kind first, second, ... in turn.
                shift = rep % len(kinds)
                order = kinds[shift:] + kinds[:shift]
                if (rep // len(kinds)) % 2:
                    order.reverse()
                row = {}
                for kind in order:
                    if kind == "fuse":
                        row["fuse_ttfb"], row["fuse_rate"] = fuse_ttfb_and_rate(os.path.join(mnt, rel), size)
                    elif kind == "http":
                        row["http_ttfb"] = http_ttfb(host, port, url_path)
                        row["http_rate"] = http_rate(host, port, url_path, size)
                    elif kind == "sendfile":
                        row["sendfile_ttfb"] = http_ttfb(sf_host, sf_port, "/" + rel)
                        row["sendfile_rate"] = http_rate(sf_host, sf_port, "/" + rel, size)
                    else:
                        row["nginx_ttfb"] = http_ttfb(ng[0], ng[1], "/" + rel)
                        row["nginx_rate"] = http_rate(ng[0], ng[1], "/" + rel, size)
                row["http_per_fuse"] = row["http_rate"] / row["fuse_rate"]
                row["http_per_sendfile"] = row["http_rate"] / row["sendfile_rate"]
                row["sendfile_per_fuse"] = row["sendfile_rate"] / row["fuse_rate"]
                if ng:
                    row["http_per_nginx"] = row["http_rate"] / row["nginx_rate"]
                    row["nginx_per_fuse"] = row["nginx_rate"] / row["fuse_rate"]
                results["complete"].append(row)
                print("complete", rep, row, flush=True)

        # static ceiling: python's http.server over the same folder.
        host, port = pool.ip(), pool.port()
        static = procs.spawn("http.server", [sys.executable, "-m", "http.server", str(port), "--bind", host,
                                             "--directory", payload.save_path])
        wait_until(lambda: _port_open(host, port), 20)
        for rep in range(args.reps):
            row = {"static_ttfb": http_ttfb(host, port, "/" + rel),
                   "static_rate": http_rate(host, port, "/" + rel, size)}
            results["static"].append(row)
            print("static", rep, row, flush=True)
        static.stop()
        ceiling.stop()

        # swarm: fresh caches, a real download under each read.
        if args.swarm_reps:
            swarm = Swarm(payload, os.path.join(work, "swarm"), procs=procs, pool=pool,
                          piece_size=args.piece_size * 1024, seeders=args.seeders).start()
            st = swarm.torrent
            url_path = f"/t/{st.info_hash}/{rel}"
            for rep in range(args.swarm_reps):
                row = {}
                order = ["fuse", "http"] if rep % 2 == 0 else ["http", "fuse"]
                for kind in order:
                    host, port = pool.ip(), pool.port()
                    mnt = os.path.join(work, f"mnt-s{rep}-{kind}")
                    cache = os.path.join(work, f"cache-s{rep}-{kind}")
                    argv = mount_argv(args.binary, st, mnt, cache, f"{host}:{port}", "--download", "on-demand",
                                      "--listen-host", host, "--listen-port", str(pool.port()))
                    with mounted(argv, mnt, procs=procs):
                        if kind == "fuse":
                            row["fuse_ttfb"], row["fuse_rate"] = fuse_ttfb_and_rate(os.path.join(mnt, rel), size)
                        else:
                            row["http_ttfb"] = http_ttfb(host, port, url_path)
                            row["http_rate"] = http_rate(host, port, url_path, size)
                    shutil.rmtree(cache, ignore_errors=True)
                results["swarm"].append(row)
                print("swarm", rep, row, flush=True)
    finally:
        procs.stop_all()
        pool.release()
        shutil.rmtree(work, ignore_errors=True)
    return results


def _port_open(host, port):
    with contextlib.suppress(OSError), socket.create_connection((host, port), timeout=1):
        return True
    return False


def med(rows, key):
    values = [r[key] for r in rows if key in r]
    return statistics.median(values) if values else float("nan")


def report(results) -> str:
    lines = [f"payload {results['args']['size']} MiB, piece {results['args']['piece_size']} KiB, "
             f"binary {results['args']['binary']}", "",
             "| case | FUSE MB/s | HTTP MB/s | HTTP/FUSE | FUSE TTFB ms | HTTP TTFB ms |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for case in ("complete", "swarm"):
        rows = results[case]
        if not rows:
            continue
        f, h = med(rows, "fuse_rate"), med(rows, "http_rate")
        lines.append(f"| {case} (median of {len(rows)}) | {f:.0f} | {h:.0f} | {h / f:.2f}x | "
                     f"{med(rows, 'fuse_ttfb') * 1000:.1f} | {med(rows, 'http_ttfb') * 1000:.1f} |")
    if results["static"]:
        s = med(results["static"], "static_rate")
        h = med(results["complete"], "http_rate")
        lines.append(f"| static: python http.server, complete file | - | {s:.0f} | swarmfs HTTP = {h / s:.2f}x of it | - | "
                     f"{med(results['static'], 'static_ttfb') * 1000:.1f} |")
    rows = [r for r in results["complete"] if "sendfile_rate" in r]
    if rows:
        s = med(rows, "sendfile_rate")
        lines.append(f"| ceiling: sendfile(2) loop (nginx-style), complete file, interleaved | - | {s:.0f} | - | - | "
                     f"{med(rows, 'sendfile_ttfb') * 1000:.1f} |")
        if any("nginx_rate" in r for r in rows):
            lines.append(f"| ceiling: nginx (sendfile on), complete file, interleaved | - | {med(rows, 'nginx_rate'):.0f} | - | - | "
                         f"{med(rows, 'nginx_ttfb') * 1000:.1f} |")
        lines.append("")
        lines.append("complete cache, per-repetition ratios (min / median / max): "
                     + "; ".join(f"{name} {_spread(rows, key)}" for name, key in
                                 (("HTTP/FUSE", "http_per_fuse"), ("HTTP/sendfile loop", "http_per_sendfile"),
                                  ("sendfile loop/FUSE", "sendfile_per_fuse"), ("HTTP/nginx", "http_per_nginx"),
                                  ("nginx/FUSE", "nginx_per_fuse"))))
    return "\n".join(lines)


def _spread(rows, key):
    values = sorted(r[key] for r in rows if key in r)
    if not values:
        return "-"
    return f"{values[0]:.2f} / {statistics.median(values):.2f} / {values[-1]:.2f}x"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--binary", default=os.environ.get("SWARMFS_BIN", os.path.join(REPO, ".build/release/swarmfs")))
    parser.add_argument("--size", type=int, default=512, help="payload MiB (default 512)")
    parser.add_argument("--piece-size", type=int, default=1024, help="KiB (default 1024)")
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--swarm-reps", type=int, default=2)
    parser.add_argument("--seeders", type=int, default=3)
    parser.add_argument("--out", default=os.path.join(REPO, "Benchmarks", "results"))
    args = parser.parse_args()
    args.binary = os.path.abspath(args.binary)
    results = run(args)
    text = report(results)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    with open(os.path.join(args.out, f"http-{stamp}.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
