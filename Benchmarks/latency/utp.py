#!/usr/bin/python3
"""uTP against TCP through the same latency links, in the same run (issue 14's uTP figure).

    Benchmarks/latency/utp.py [--latency-ms 40] [--rate-per-seeder 4M] [--seeders 2] [--size 128M]
                              [--reps 3] [--loss 0] [--json FILE]

N libtorrent seeders (swarmbench's peer.py, uTP and TCP on, never announcing) each sit behind
two proxies on one address of their own: shaper.py for TCP (latency each way, token-bucket cap)
and Tests/Integration/peers/udp_proxy.py for UDP (the same latency, the same cap as a drain rate
with a 2 s queue, optional random loss). `swarmfs download --peer PROXY...` fetches the payload
with `--no-utp` (TCP through the shapers) and with `--no-tcp` (uTP through the relays), the two
interleaved and alternating which goes first; every download is checked byte for byte. Result:
MB/s of each, their ratio (goal: uTP >= 0.9x TCP), and swarmfs's CPU seconds per run (the uTP
path copies each byte once more, through a socket pair). Never builds: SWARMFS_BIN (default
<repo>/.build/release/swarmfs). `--direct` skips the proxies (loopback straight to the seeders:
what each transport costs in CPU when nothing else limits it). Every process is stopped by PID.
"""

import argparse
import datetime
import hashlib
import json
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.realpath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.dont_write_bytecode = True
sys.path[:0] = [HERE, os.path.join(REPO, "Benchmarks", "swarmbench")]

LIBTORRENT_PYTHON = "/usr/bin/python3"
if os.path.realpath(sys.executable) != os.path.realpath(LIBTORRENT_PYTHON):
    os.execv(LIBTORRENT_PYTHON, [LIBTORRENT_PYTHON, os.path.abspath(__file__), *sys.argv[1:]])

from common import MiB, log, median, safe_rmtree, spawn, stop_proc  # noqa: E402
from payload import ensure_payload, ensure_torrent  # noqa: E402
from shaper import parse_rate  # noqa: E402

PEER_PY = os.path.join(REPO, "Benchmarks", "swarmbench", "peer.py")
SHAPER_PY = os.path.join(HERE, "shaper.py")
UDP_PROXY_PY = os.path.join(REPO, "Tests", "Integration", "peers", "udp_proxy.py")
SEEDER_IP, PROXY_IP, LEECHER_IP, PORT = "127.0.5.{}", "127.0.6.{}", "127.0.7.1", 53001


def parse_size(text):
    units = {"K": 1024, "M": MiB, "G": 1024 * MiB}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)


def wait_output(path, needle, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, errors="replace") as f:
                if needle in f.read():
                    return
        except FileNotFoundError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{path}: no {needle!r} after {timeout}s")


def sha256_of(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(4 * MiB), b""):
            h.update(chunk)
    return h.hexdigest()


def download(swarmfs, torrent, manifest, work, mode, proxies, timeout, rep):
    out = os.path.join(work, f"out-{mode}-{rep}")
    safe_rmtree(out)
    os.makedirs(out)
    flag = "--no-utp" if mode == "tcp" else "--no-tcp"
    argv = [swarmfs, "download", torrent, "-o", out, "--no-trackers", "--no-dht", "--no-lsd", flag,
            "--listen-host", LEECHER_IP, "--listen-port", str(PORT + 100 + rep), "--log-level", "info"]
    for proxy in proxies:
        argv += ["--peer", proxy]
    log_path = os.path.join(work, "logs", f"download-{mode}-{rep}.log")
    start = time.monotonic()
    proc = spawn(argv, log_path)
    try:
        # wait4: the child's exact CPU time (user + system, all its threads) when it exits.
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                proc.returncode = os.waitstatus_to_exitcode(status)
                break
            if time.monotonic() - start > timeout:
                raise RuntimeError(f"{mode} download took over {timeout}s (log {log_path})")
            time.sleep(0.02)
    finally:
        stop_proc(proc)
    seconds = time.monotonic() - start
    cpu = usage.ru_utime + usage.ru_stime
    if proc.returncode != 0:
        raise RuntimeError(f"{mode} download exited {proc.returncode} (log {log_path})")
    for entry in manifest["files"]:
        if sha256_of(os.path.join(out, entry["path"])) != entry["sha256"]:
            raise RuntimeError(f"{mode} download: {entry['path']} differs")
    safe_rmtree(out)
    return {"mode": mode, "rep": rep, "seconds": round(seconds, 3),
            "mb_per_s": round(manifest["total_size"] / seconds / 1e6, 3), "cpu_seconds": round(cpu, 2)}


def main():
    ap = argparse.ArgumentParser(description="uTP vs TCP through the same latency links")
    ap.add_argument("--latency-ms", type=float, default=40.0)
    ap.add_argument("--rate-per-seeder", default="4M")
    ap.add_argument("--seeders", type=int, default=2)
    ap.add_argument("--size", default="128M")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--loss", type=float, default=0.0, help="percent of UDP datagrams dropped (TCP: none)")
    ap.add_argument("--direct", action="store_true",
                    help="no proxies: straight to the seeders on loopback (the CPU cost of each transport)")
    ap.add_argument("--json")
    args = ap.parse_args()
    swarmfs = os.environ.get("SWARMFS_BIN", os.path.join(REPO, ".build", "release", "swarmfs"))
    rate = parse_rate(args.rate_per_seeder)
    work = os.environ.get("SWARMBENCH_UTP_DIR", "/tmp/swarmbench-utp")
    os.makedirs(os.path.join(work, "logs"), exist_ok=True)
    manifest = ensure_payload(work, "single", 1, single_size=parse_size(args.size))
    torrent = ensure_torrent(work, manifest, MiB, "http://127.0.0.1:1/announce")
    procs = []
    try:
        proxies = []
        for i in range(args.seeders):
            seeder, proxy = SEEDER_IP.format(i + 2), PROXY_IP.format(i + 2)
            status = os.path.join(work, "logs", f"seeder-{i}.json")
            log_path = os.path.join(work, "logs", f"seeder-{i}.log")
            open(log_path, "w").close()
            procs.append(spawn([LIBTORRENT_PYTHON, PEER_PY, "seed", "--ip", seeder, "--port", str(PORT), "--status", status,
                                "--utp", "--no-announce", f"{torrent}:{manifest['root']}"], log_path))
            if args.direct:
                wait_output(log_path, "READY", 120)
                proxies.append(f"{seeder}:{PORT}")
                continue
            shaper_log = os.path.join(work, "logs", f"shaper-{i}.log")
            procs.append(spawn([sys.executable, SHAPER_PY, "--latency-ms", str(args.latency_ms), "--rate-per-seeder",
                                args.rate_per_seeder, "--route", f"{proxy}:{PORT}={seeder}:{PORT}"], shaper_log))
            udp_log = os.path.join(work, "logs", f"udp-proxy-{i}.log")
            open(udp_log, "w").close()
            procs.append(spawn([sys.executable, "-u", UDP_PROXY_PY, "--listen", f"{proxy}:{PORT}", "--upstream",
                                f"{seeder}:{PORT}", "--delay-ms", str(args.latency_ms), "--loss", str(args.loss),
                                "--rate", str(rate or 0), "--seed", str(i + 1)], udp_log))
            wait_output(udp_log, "READY", 10)
            wait_output(log_path, "READY", 120)
            proxies.append(f"{proxy}:{PORT}")
        time.sleep(1.0)
        cap = 0 if args.direct else (rate or 0) * args.seeders
        timeout = max(120.0, 10 * manifest["total_size"] / cap) if cap else 600.0
        runs = []
        for rep in range(args.reps):
            for mode in (("tcp", "utp") if rep % 2 == 0 else ("utp", "tcp")):
                run = download(swarmfs, torrent, manifest, work, mode, proxies, timeout, rep)
                log(f"rep {rep} {mode}: {run['seconds']} s, {run['mb_per_s']} MB/s, cpu {run['cpu_seconds']} s")
                runs.append(run)
    finally:
        for proc in reversed(procs):
            stop_proc(proc)
    by_mode = {mode: [r for r in runs if r["mode"] == mode] for mode in ("tcp", "utp")}
    summary = {}
    for mode, rows in by_mode.items():
        rates = sorted(r["mb_per_s"] for r in rows)
        summary[mode] = {"mb_per_s_min": rates[0], "mb_per_s_median": median(rates), "mb_per_s_max": rates[-1],
                         "cpu_seconds_median": median([r["cpu_seconds"] for r in rows])}
    ratio = summary["utp"]["mb_per_s_median"] / summary["tcp"]["mb_per_s_median"]
    result = {
        "benchmark": "utp-vs-tcp", "date": datetime.datetime.now().isoformat(timespec="seconds"),
        "swarmfs": swarmfs, "direct": args.direct, "latency_ms_one_way": 0 if args.direct else args.latency_ms, "rate_per_seeder": rate, "seeders": args.seeders,
        "cap_mb_per_s": round(cap / 1e6, 3), "size": manifest["total_size"], "reps": args.reps, "udp_loss_percent": args.loss,
        "runs": runs, "summary": summary, "utp_over_tcp": round(ratio, 3),
        "utp_cpu_over_tcp": round(summary["utp"]["cpu_seconds_median"] / max(summary["tcp"]["cpu_seconds_median"], 0.01), 3),
    }
    path = args.json or os.path.join(REPO, "Benchmarks", "results",
                                     f"utp-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    print(f"cap {result['cap_mb_per_s']} MB/s at {result['latency_ms_one_way']} ms one way, {args.seeders} seeders"
          + (" (direct, no proxies)" if args.direct else ""))
    for mode in ("tcp", "utp"):
        s = summary[mode]
        print(f"  {mode}: {s['mb_per_s_min']}/{s['mb_per_s_median']}/{s['mb_per_s_max']} MB/s (min/median/max), "
              f"cpu {s['cpu_seconds_median']} s")
    print(f"  uTP/TCP {result['utp_over_tcp']}x, CPU {result['utp_cpu_over_tcp']}x  -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
