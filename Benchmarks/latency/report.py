"""Summaries, issue 14's goals and the printed tables of a latency run (Benchmarks/latency/run).

summarize(out) adds out["latencies"][L]["summary"] (medians per target, pooled
seek percentiles, ratios to the swarm's cap and to libtorrent, goal checks for
swarmfs); render(out) prints them.  Both accept partial results (a run that
failed or was interrupted).
"""

from common import MiB, median, percentile
from shaper import parse_rate

FIRST_FRAME_GOAL_S = 0.6   # moov-at-end MP4, first decoded frame from the mount command (40 ms)
SEEK_P50_GOAL_S, SEEK_P90_GOAL_S = 0.5, 0.8
STREAM_CAP_GOAL = 0.9      # sequential read >= 0.9 x the swarm's cap, and >= libtorrent


def _pooled(values):
    vals = [v for v in values if isinstance(v, (int, float))]
    if not vals:
        return None, None
    return percentile(vals, 50), percentile(vals, 90)


def _ratio(a, b):
    return a / b if isinstance(a, (int, float)) and isinstance(b, (int, float)) and b else None


def summarize_stream(stream, cap_MBps):
    """Per target: medians of the sequential mounts, seek percentiles pooled over
    the seek mounts, and ratios.  Two rates each: after the first byte (the
    mount's sequential read, which starts once its first 64 KiB arrived;
    libtorrent's download after its first payload byte), and the whole file
    from the start (mount command / libtorrent process start to the last byte)."""
    out = {}
    for label in dict.fromkeys(r["target"] for r in stream["runs"]):
        runs = [r for r in stream["runs"] if r["target"] == label]
        seek_runs = [r for r in stream.get("seeks", []) if r["target"] == label]
        p50, p90 = _pooled([ms for r in seek_runs for ms in r.get("seek_ms", [])])
        mbps = median([r.get("stream_MBps") for r in runs])
        # the whole file from the mount command, as libtorrent's from its process start
        whole = median([r["stream_bytes"] / 1e6 / (r["mount_to_first_byte_s"] + r["stream_s"])
                        for r in runs if r.get("stream_s") and r.get("mount_to_first_byte_s")])
        good = runs + seek_runs
        out[label] = {"stream_MBps": mbps, "stream_over_cap": _ratio(mbps, cap_MBps),
                      "from_start_MBps": whole,
                      "mount_to_first_byte_s": median([r.get("mount_to_first_byte_s")
                                                       for r in runs]),
                      "listing_s": median([r.get("listing_s") for r in runs]),
                      "ttfb_s": median([r.get("ttfb_s") for r in runs]),
                      "seek_p50_ms": p50, "seek_p90_ms": p90,
                      "seeks": sum(len(r.get("seek_ms", [])) for r in seek_runs),
                      "verify": "pass" if good and all(r.get("verify") == "pass" for r in good)
                      else "FAIL", "errors": [r["error"] for r in good if r.get("error")],
                      "daemon_cpu_s": median([r.get("cpu_s") for r in runs])}
    if stream.get("libtorrent"):
        lt = [d for d in stream["libtorrent"] if d.get("verify") == "pass"]
        wall = median([d["MBps"] for d in lt])
        steady = median([d.get("MBps_after_first_byte") for d in lt])
        out["libtorrent"] = {"stream_MBps": steady, "stream_over_cap": _ratio(steady, cap_MBps),
                             "from_start_MBps": wall,
                             "after_first_byte_over_cap": _ratio(steady, cap_MBps),
                             "mount_to_first_byte_s": median([d.get("first_byte_s") for d in lt]),
                             "verify": "pass" if lt and len(lt) == len(stream["libtorrent"])
                             else "FAIL"}
        for label, s in out.items():
            if label != "libtorrent":
                s["stream_over_libtorrent"] = _ratio(s["stream_MBps"], steady)
                s["from_start_over_libtorrent"] = _ratio(s["from_start_MBps"], wall)
    return out


def summarize_player(player):
    out = {}
    for r in player["runs"]:
        s = out.setdefault(f"{r['target']}/{r['player']}",
                           {"first_frame": [], "first_frame_player": [], "seek": [], "errors": []})
        if r.get("error"):
            s["errors"].append(r["error"])
        for key, dest in (("first_frame_s", "first_frame"),
                          ("first_frame_player_s", "first_frame_player"), ("seek_s", "seek")):
            if r.get(key) is not None and not (key == "seek_s" and r.get("error")):
                s[dest].append(r[key])
    for s in out.values():
        s["first_frame_from_mount_s"] = median(s["first_frame"])
        s["first_frame_player_s"] = median(s["first_frame_player"])
        s["seek_p50_s"], s["seek_p90_s"] = _pooled(s["seek"])
    for r in player.get("playback", []):
        s = out.setdefault(f"{r['target']}/ffmpeg", {"errors": []})
        s["playback"] = {k: r.get(k) for k in ("stalls", "stall_s", "max_excess_lag_s",
                                               "first_progress_s", "wall_minus_media_s",
                                               "media_s", "complete", "error")}
    return out


def goals(block, summary, piece_size, cap_MBps):
    """Issue 14's goals for swarmfs at this latency: [(goal, value, bound, ok)]."""
    lat_s = block["latency_ms"] / 1000
    out = []
    st = summary.get("stream", {}).get("swarmfs")
    if st:
        out.append(("sequential read / swarm cap", st["stream_over_cap"], STREAM_CAP_GOAL, ">="))
        if "stream_over_libtorrent" in st:
            # libtorrent after its first byte, as the mount's read starts after its own
            out.append(("sequential read / libtorrent", st["stream_over_libtorrent"], 1.0, ">="))
        bound = 3 * 2 * lat_s + piece_size / (cap_MBps * 1e6)
        out.append(("mount -> first byte (s)", st["mount_to_first_byte_s"], bound, "<="))
    pl = summary.get("player", {}).get("swarmfs/ffmpeg")
    if pl:
        if block["latency_ms"] == 40:  # the issue sets this bound for 40 ms only
            out.append(("ffmpeg first frame from mount (s)", pl.get("first_frame_from_mount_s"),
                        FIRST_FRAME_GOAL_S, "<="))
        out.append(("ffmpeg cold seek p50 (s)", pl.get("seek_p50_s"), SEEK_P50_GOAL_S, "<="))
        out.append(("ffmpeg cold seek p90 (s)", pl.get("seek_p90_s"), SEEK_P90_GOAL_S, "<="))
        if pl.get("playback"):
            out.append(("stalls in real-time playback", pl["playback"].get("stalls"), 0, "<="))
    return [{"goal": g, "value": v, "bound": b, "op": op,
             "ok": None if v is None else (v >= b if op == ">=" else v <= b)}
            for g, v, b, op in out]


def summarize(out):
    cfg = out["config"]
    cap = cfg["seeders"] * (parse_rate(cfg["rate_per_seeder"]) or 0) / 1e6 or None
    out["cap_MBps"] = cap
    ov = out.get("overhead")
    if ov:
        for path in ("direct", "proxy-0ms"):
            ov[f"{path}_MBps"] = median([d["MBps"] for d in ov["downloads"]
                                         if d["path"] == path and d["verify"] == "pass"])
        ov["proxy0_over_direct"] = _ratio(ov["proxy-0ms_MBps"], ov["direct_MBps"])
    for block in out["latencies"].values():
        s = block["summary"] = {}
        if "stream" in block:
            s["stream"] = summarize_stream(block["stream"], cap)
        if "player" in block:
            s["player"] = summarize_player(block["player"])
        s["goals"] = goals(block, s, cfg["piece_bytes"], cap) if cap else []


def swarmfs_failed(out):
    """Whether any swarmfs measurement failed or read wrong bytes, or any seeder
    saw an address other than its proxy's (the exit status of the run)."""
    for block in out["latencies"].values():
        if not block.get("traffic", {}).get("ok", True):
            return True
        runs = [r for part in ("stream", "player") for key in ("runs", "seeks", "playback")
                for r in block.get(part, {}).get(key, []) if r.get("target") == "swarmfs"]
        if any(r.get("error") or r.get("verify") == "FAIL" for r in runs):
            return True
    return False


def fmt(v, unit=""):
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if isinstance(v, int):
        return f"{v}{unit}"
    return (f"{v:.3f}" if abs(v) < 10 else f"{v:.1f}") + unit


def describe_traffic(t):
    leaks = t["non_proxy_endpoints_at_seeders"]
    return (("all through proxies" if t["ok"] else f"LEAK: seeders saw {leaks}")
            + f"; seeders uploaded {t['seeder_upload_mib']:.0f} MiB, proxies carried "
            f"{t['proxy_down_mib']:.0f} MiB down / {t['proxy_up_mib']:.1f} MiB up in "
            f"{t['proxy_connections']} connections from {t['proxy_clients']}")


def render(out):
    cfg, cap = out["config"], out.get("cap_MBps")
    lines = [f"swarmfs {out['swarmfs_bin']} vs btfs vs libtorrent; {cfg['seeders']} seeders, each "
             f"behind a proxy capped at {cfg['rate_per_seeder']}/s ({cfg['cap']}): swarm cap "
             f"{fmt(cap)} MB/s; stream payload {out['stream_torrent']['total_size'] / MiB:.0f} MiB "
             f"in {out['stream_torrent']['piece_size'] // 1024} KiB pieces; video "
             f"{out['video']['id']} ({out['video']['total_size'] / 1e6:.0f} MB, atoms "
             f"{' '.join(out['video']['atoms'])})"]
    ov = out.get("overhead")
    if ov:
        lines.append(f"proxy overhead: libtorrent full download direct {fmt(ov['direct_MBps'])} "
                     f"MB/s, through the proxies at 0 ms / no cap {fmt(ov['proxy-0ms_MBps'])} MB/s "
                     f"({fmt(ov['proxy0_over_direct'])}x)")
    fl = out.get("player_floor")
    if fl:
        lines.append("players on the local file: " + ", ".join(
            f"{p} first frame {fmt(fl.get(p + '_first_frame_s'))} s, seek p50 "
            f"{fmt(_pooled(fl.get(p + '_seek_s', []))[0])} s" for p in cfg["player_list"])
            + (f"; playback stalls {fl['playback'].get('stalls')}" if fl.get("playback") else ""))
    for key, block in out["latencies"].items():
        s = block.get("summary", {})
        lc = block.get("linkcheck")
        lines.append(f"\n== {key} ms one way (RTT {2 * block['latency_ms']:g} ms)")
        if lc:
            lines.append("   proxy measured: RTT %.1f ms, new connection to first byte %.0f ms, "
                         "capped bulk %.2f MB/s; own overhead +%.2f ms per round trip"
                         % (lc["rtt_shaped_ms"], lc["first_byte_shaped_ms"],
                            lc["bulk_shaped_MBps"], lc["proxy0_added_rtt_ms"]))
        st = s.get("stream")
        if st:
            cols = list(st)
            lines.append(f"{'stream':38}" + "".join(f"{c:>12}" for c in cols))
            for k, text, unit in (("stream_MBps", "sequential after 1st byte (MB/s)", ""),
                                  ("stream_over_cap", "  / swarm cap", "x"),
                                  ("stream_over_libtorrent", "  / libtorrent's", "x"),
                                  ("from_start_MBps", "whole file from start (MB/s)", ""),
                                  ("from_start_over_libtorrent", "  / libtorrent's", "x"),
                                  ("mount_to_first_byte_s", "start -> first byte (s)", ""),
                                  ("listing_s", "  of which listing (s)", ""),
                                  ("seek_p50_ms", "cold 64 KiB seek p50 (ms)", ""),
                                  ("seek_p90_ms", "cold 64 KiB seek p90 (ms)", ""),
                                  ("verify", "verify sha256", "")):
                lines.append(f"{text:38}" + "".join(f"{fmt(st[c].get(k), unit):>12}" for c in cols))
            for c in cols:
                for e in st[c].get("errors", []):
                    lines.append(f"   {c} error: {e}")
        pl = s.get("player")
        if pl:
            cols = list(pl)
            lines.append(f"{'player':38}" + "".join(f"{c:>16}" for c in cols))
            for k, text in (("first_frame_from_mount_s", "first frame, from mount (s)"),
                            ("first_frame_player_s", "  of which the player (s)"),
                            ("seek_p50_s", "cold seek p50, player (s)"),
                            ("seek_p90_s", "cold seek p90, player (s)")):
                lines.append(f"{text:38}" + "".join(f"{fmt(pl[c].get(k)):>16}" for c in cols))
            for k, text in (("stalls", "playback: stalls > 0.25 s"),
                            ("stall_s", "playback: stall time (s)"),
                            ("max_excess_lag_s", "playback: worst lag (s)")):
                lines.append(f"{text:38}" + "".join(
                    f"{fmt((pl[c].get('playback') or {}).get(k)):>16}" for c in cols))
            errs = [e for c in cols for e in pl[c].get("errors", [])]
            if errs:
                lines.append(f"   player errors: {errs[:3]}")
        if block.get("traffic"):
            lines.append("traffic: " + describe_traffic(block["traffic"])
                         + f"; proxy CPU {fmt(block.get('proxy_cpu_s'))} s")
        for g in s.get("goals", []):
            mark = {True: "ok", False: "MISSED", None: "-"}[g["ok"]]
            lines.append(f"goal {g['goal']:36} {fmt(g['value']):>8} {g['op']} "
                         f"{fmt(g['bound']):<8} {mark}")
    return "\n".join(lines)
