#!/usr/bin/python3
"""What uploading over uTP costs the seed: `swarmfs seed` builds side by side.

    Benchmarks/latency/utp_upload.py [--baseline BIN] [--size 128M] [--reps 3] [--transports utp,tcp]
                                     [--latency-ms 0] [--rate 0] [--json FILE]

Each build (SWARMFS_BIN, default <repo>/.build/release/swarmfs, labelled "target"; and
--baseline BIN, labelled "baseline") runs `swarmfs seed` of one payload on a loopback address of
its own. A libtorrent downloader (swarmbench's peer.py, uTP only: TCP off both ways; with
--transports utp,tcp also one over TCP only, for the reference) fetches the payload from it,
directly or, for uTP with --latency-ms or --rate, through Tests/Integration/peers/udp_proxy.py
(that delay each way, --rate bytes/s each way). Repetitions alternate which build goes first.
Per download: seconds, MB/s, and the seed's CPU seconds spent on it (utime + stime from
/proc/PID/stat, before and after), and the datagram sizes the seed sent when a relay is in the
path (the relay counts them: what path MTU discovery chose). Every download is checked by
libtorrent's own hash check (it exits only when complete). Every process is stopped by PID.
"""

import argparse
import datetime
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
from utp import parse_size, wait_output  # noqa: E402

PEER_PY = os.path.join(REPO, "Benchmarks", "swarmbench", "peer.py")
UDP_PROXY_PY = os.path.join(REPO, "Tests", "Integration", "peers", "udp_proxy.py")
SEED_IP, PROXY_IP, LEECHER_IP, PORT = "127.0.8.{}", "127.0.9.{}", "127.0.10.1", 54001
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def one_download(label, transport, seed, endpoint, torrent, work, rep, args):
    save = os.path.join(work, f"leech-{label}-{transport}-{rep}")
    safe_rmtree(save)
    os.makedirs(save)
    relay = None
    target = endpoint
    if transport == "utp" and (args.latency_ms > 0 or args.rate > 0):
        relay_log = os.path.join(work, "logs", f"relay-{label}-{rep}.log")
        open(relay_log, "w").close()
        # A relay address of its own per download: the seed of the download before may still
        # send to the last one (its connection timing out), and a relay takes whoever sends as
        # its client.
        listen = f"{PROXY_IP.format(2)}:{PORT + 100 + 2 * rep + (label == 'baseline')}"
        relay = spawn([sys.executable, "-u", UDP_PROXY_PY, "--listen", listen, "--upstream", endpoint,
                       "--delay-ms", str(args.latency_ms), "--rate", str(args.rate)], relay_log)
        wait_output(relay_log, "READY", 10)
        target = listen
    leech_log = os.path.join(work, "logs", f"leech-{label}-{transport}-{rep}.log")
    slot = 4 * rep + 2 * (label == "baseline") + (transport == "tcp")
    before = cpu_seconds(seed.pid)
    start = time.monotonic()
    leech = spawn([LIBTORRENT_PYTHON, PEER_PY, "download", "--ip", LEECHER_IP, "--port", str(PORT + 50 + slot),
                   "--peer", target, "--no-tracker", *(["--utp-only"] if transport == "utp" else []),
                   "--timeout", str(args.timeout), torrent, save],
                  leech_log)
    sizes = {}
    try:
        leech.wait(args.timeout + 30)
        seconds = time.monotonic() - start
        cpu = cpu_seconds(seed.pid) - before
    finally:
        stop_proc(leech)
        if relay is not None:
            stop_proc(relay)
            with open(relay_log) as f:
                for line in f:
                    if line.startswith("STATS "):
                        sizes = json.loads(line[len("STATS "):]).get("sizes_down", {})
    with open(leech_log) as f:
        report = json.loads([line for line in f if line.startswith("{")][-1])
    if "error" in report:
        raise RuntimeError(f"{label} rep {rep}: {report} (log {leech_log})")
    safe_rmtree(save)
    common = sorted(sizes.items(), key=lambda kv: -kv[1])[:3]
    return {"label": label, "transport": transport, "rep": rep, "seconds": round(seconds, 3), "cpu_seconds": round(cpu, 2),
            "datagram_sizes_top3": [[int(k), v] for k, v in common], "datagrams": sum(sizes.values())}


def main():
    ap = argparse.ArgumentParser(description="the seed's CPU for uTP uploads, two builds side by side")
    ap.add_argument("--baseline", help="another swarmfs binary, measured in the same run")
    ap.add_argument("--size", default="128M")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--transports", default="utp", help="utp, tcp or utp,tcp (TCP goes direct: the reference)")
    ap.add_argument("--latency-ms", type=float, default=0.0)
    ap.add_argument("--rate", type=float, default=0.0, help="bytes/s each way through the relay, 0 = no cap")
    ap.add_argument("--timeout", type=float, default=600.0)
    ap.add_argument("--json")
    args = ap.parse_args()
    builds = [("target", os.environ.get("SWARMFS_BIN", os.path.join(REPO, ".build", "release", "swarmfs")))]
    if args.baseline:
        builds.append(("baseline", args.baseline))
    work = os.environ.get("SWARMBENCH_UTP_DIR", "/tmp/swarmbench-utp")
    os.makedirs(os.path.join(work, "logs"), exist_ok=True)
    manifest = ensure_payload(work, "single", 1, single_size=parse_size(args.size))
    torrent = ensure_torrent(work, manifest, MiB, "http://127.0.0.1:1/announce")
    seeds = {}
    runs = []
    try:
        for index, (label, binary) in enumerate(builds):
            ip = SEED_IP.format(index + 2)
            cache = os.path.join(work, f"seed-cache-{label}")
            safe_rmtree(cache)
            os.makedirs(cache)
            # The seed's cache holds the payload: link the files in (nothing is copied).
            for entry in manifest["files"]:
                dest = os.path.join(cache, entry["path"])
                os.makedirs(os.path.dirname(dest) or cache, exist_ok=True)
                os.link(os.path.join(manifest["root"], entry["path"]), dest)
            log_path = os.path.join(work, "logs", f"seed-{label}.log")
            proc = spawn([binary, "seed", torrent, "--cache-dir", cache, "--listen-host", ip,
                          "--listen-port", str(PORT), "--no-trackers", "--no-dht", "--no-lsd"], log_path)
            seeds[label] = (proc, f"{ip}:{PORT}")
        time.sleep(3.0)  # the seeds verify their cache before they serve
        for rep in range(args.reps):
            order = builds if rep % 2 == 0 else list(reversed(builds))
            for label, _ in order:
                for transport in args.transports.split(","):
                    proc, endpoint = seeds[label]
                    run = one_download(label, transport, proc, endpoint, torrent, work, rep, args)
                    run["mb_per_s"] = round(manifest["total_size"] / run["seconds"] / 1e6, 3)
                    log(f"rep {rep} {label} {transport}: {run['seconds']} s, {run['mb_per_s']} MB/s, "
                        f"seed cpu {run['cpu_seconds']} s, datagrams {run['datagrams']} {run['datagram_sizes_top3']}")
                    runs.append(run)
    finally:
        for proc, _ in seeds.values():
            stop_proc(proc)
    summary = {}
    for label, transport in [(label, t) for label, _ in builds for t in args.transports.split(",")]:
        rows = [r for r in runs if r["label"] == label and r["transport"] == transport]
        summary[f"{label} {transport}"] = {"mb_per_s_median": median([r["mb_per_s"] for r in rows]),
                          "cpu_seconds_median": median([r["cpu_seconds"] for r in rows])}
    result = {"benchmark": "utp-upload", "date": datetime.datetime.now().isoformat(timespec="seconds"),
              "builds": dict(builds), "size": manifest["total_size"], "latency_ms_one_way": args.latency_ms,
              "rate": args.rate, "reps": args.reps, "transports": args.transports, "runs": runs, "summary": summary}
    path = args.json or os.path.join(REPO, "Benchmarks", "results",
                                     f"utp-upload-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}.json")
    with open(path, "w") as f:
        json.dump(result, f, indent=1)
    for label, s in summary.items():
        print(f"  {label}: {s['mb_per_s_median']} MB/s, seed cpu {s['cpu_seconds_median']} s (medians)")
    print(f"  -> {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
