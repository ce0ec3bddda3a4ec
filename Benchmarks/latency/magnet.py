#!/usr/bin/python3
"""Magnet link -> first 64 KiB of the file through the mount, on a shaped swarm: 3 libtorrent
seeders (16 MiB, 256 KiB pieces) each behind shaper.py (LATENCY ms each way, 4 MiB/s down),
named by the link's x.pe (no tracker, no DHT). Each swarmfs binary given is run REPS times,
interleaved, from a fresh mount and cache; the time runs from `swarmfs mount` to the bytes in
hand (metadata phase, the torrent's connections, the first piece). Compare two builds in one
run (e.g. before and after a change); results go to Benchmarks/results/magnet-*.json.

    unshare --net sh -c 'ip link set lo up; Benchmarks/latency/magnet.py 40 6 OLD_BIN NEW_BIN'

Options, before LATENCY: `--swarmfs-seeders[=BIN]`: the seeders are `swarmfs seed` of BIN
(default: the last binary given) instead of libtorrent; `--torrent`: mount the .torrent file,
the proxies given with `--peer`, instead of the magnet link (no metadata phase).
"""
import json, os, sys, time, shutil, tempfile, statistics
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(REPO, "Tests", "Integration"))
from swarmkit import AddressPool, ProcessGroup, make_single_payload, make_torrent, LibtorrentSeeder
from swarmkit.mount import mounted
from swarmkit.waiting import wait_port
MiB = 1 << 20
args = sys.argv[1:]
seeding = [a for a in args if a.startswith("--swarmfs-seeders")]
use_torrent = "--torrent" in args
args = [a for a in args if a != "--torrent" and not a.startswith("--swarmfs-seeders")]
latency, reps, bins = int(args[0]), int(args[1]), args[2:]
seed_bin = (seeding[0].partition("=")[2] or bins[-1]) if seeding else None  # None: libtorrent seeds
work = tempfile.mkdtemp(); procs = ProcessGroup(os.path.join(work, "logs")); pool = AddressPool()
try:
    payload = make_single_payload(os.path.join(work, "seed"), size=16 * MiB, name="movie.mkv")
    torrent = make_torrent(payload, piece_size=256 * 1024, trackers=[], out_path=os.path.join(work, "t.torrent"))
    seeders = []
    for i in range(3):
        ip, port = pool.ip(), pool.port()
        if seed_bin:
            cache = os.path.join(work, f"seed{i}")
            shutil.copytree(payload.save_path, cache)
            procs.spawn(f"seed{i}", [seed_bin, "seed", torrent.path, "--cache-dir", cache, "--no-trackers",
                                            "--no-dht", "--no-lsd", "--no-utp", "--listen-host", ip, "--listen-port", str(port)])
            wait_port(ip, port, 30)
        else:
            LibtorrentSeeder(torrent, payload.save_path, ip, port, procs=procs, use_tracker=False).start()
        seeders.append((ip, port))
    routes, proxies = [], []
    for ip, port in seeders:
        lip, lport = pool.ip(), pool.port()
        routes += ["--route", f"{lip}:{lport}={ip}:{port}"]
        proxies.append(f"{lip}:{lport}")
    shaper = procs.spawn("shaper", [sys.executable, os.path.join(REPO, "Benchmarks", "latency", "shaper.py"), "--latency-ms", str(latency),
                                    "--rate-per-seeder", "4M", "--cap", "down", "--status", os.path.join(work, "shaper.json"), *routes])
    shaper.wait_for_output(r"READY", 15)
    link = f"magnet:?xt=urn:btih:{torrent.info_hash}&dn=movie.mkv" + "".join(f"&x.pe={p}" for p in proxies)
    want = payload.read("movie.mkv")[:65536]
    results = {b: [] for b in bins}
    for rep in range(reps):
        for b in (bins if rep % 2 == 0 else list(reversed(bins))):
            mnt, cache = os.path.join(work, f"m{rep}{len(results[b])}{bins.index(b)}"), os.path.join(work, f"c{rep}{bins.index(b)}")
            source = [torrent.path] + [a for p in proxies for a in ("--peer", p)] if use_torrent else [link]
            argv = [b, "mount", source[0], mnt, *source[1:], "--cache-dir", cache, "--no-trackers", "--no-dht", "--no-lsd",
                    "--listen-host", pool.ip(), "--listen-port", str(pool.port()), "-f"]
            t0 = time.monotonic()
            with mounted(argv, mnt, procs=procs):
                with open(os.path.join(mnt, "movie.mkv"), "rb") as f:
                    got = f.read(65536)
                t = time.monotonic() - t0
                assert got == want
            shutil.rmtree(cache, ignore_errors=True)
            results[b].append(t)
            print(rep, b, f"{t*1000:.0f} ms", flush=True)
    summary = {}
    for b in bins:
        r = sorted(results[b])
        summary[b] = {"median_s": statistics.median(r), "min_s": r[0], "max_s": r[-1], "runs_s": results[b]}
        print(b, "median", f"{statistics.median(r)*1000:.0f} ms", "min", f"{r[0]*1000:.0f}", "max", f"{r[-1]*1000:.0f}")
    out = os.path.join(REPO, "Benchmarks", "results", time.strftime("magnet-%Y%m%d-%H%M%S.json"))
    with open(out, "w") as f:
        json.dump({"latency_ms": latency, "reps": reps, "seeders": 3, "rate_per_seeder": "4M", "size": 16 * MiB,
                   "seeder": f"swarmfs seed ({seed_bin})" if seed_bin else "libtorrent", "source": "torrent" if use_torrent else "magnet",
                   "piece_size": 256 * 1024, "binaries": summary}, f, indent=1)
    print("results:", out)
finally:
    procs.stop_all(); shutil.rmtree(work, ignore_errors=True)
