"""Real players on a mount: a moov-at-end H.264 MP4, first frame, cold seeks, playback.

The video: ffmpeg's testsrc2 (1280x720, 30 fps) with a 440 Hz tone, H.264 at a
constant 12 Mbit/s (x264 CBR with filler, keyframe every 2 s), AAC 128 kbit/s,
written with ffmpeg's default mp4 flags, which put the moov atom (the index a
player needs before it can decode anything) after the media data.  Bit-exact
flags, no metadata and a single x264 thread make the file the same on every
run of the same ffmpeg (see encode_args); its sha256 is in the manifest.
`top_level_atoms` reads the box headers to check that moov comes last.

Measures, each on a fresh mount (freshmount.on_fresh_mount) so nothing of the
file has been fetched before:
  * first frame: the mount command starts, the file is listed, then
    `ffmpeg -i FILE -frames:v 1 -f null -` (or mpv --frames=1): seconds from the
    mount command to the player's exit, and of the player alone;
  * cold seek at T, right after that on the same mount: a new
    `ffmpeg -ss T -i FILE -frames:v 1 -f null -` (mpv --start=T), timed alone.
    As for a user who seeks, the peers are connected and what the player read
    to start (the moov at the end, the first packets) is cached; the data at T
    is not: T is far enough into the file (>= 30 s, ~45 MB) that a background
    fill from the start cannot have reached it yet.  T are keyframe times, so
    the decoder's own work is one frame;
  * playback: `ffmpeg -re -i FILE -t 60 -f null -`, progress every 0.1 s.
    lag = wall time - media time; a stall is a stretch where it exceeds its
    steady value (its minimum) by more than STALL_S (see analyse_lag).
    ffmpeg's -re catches up after a stall (it paces against its start time),
    so each stall's delay is its peak and `stall_s` their sum: what a player
    that does not skip would have lost; `wall_minus_media_s` is the plain
    difference at the end, which the catching up hides.
The same commands on the local file give the floor (ffmpeg/mpv start-up and
decode time on this machine).
"""

import hashlib
import json
import os
import shutil
import struct
import subprocess
import threading
import time

from common import Deadline, MiB, log, stop_pid

STALL_S = 0.25
FFMPEG = ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error"]


def video_id(seconds, mbit):
    return f"video-{seconds}s-{mbit}M"


def encode_args(seconds, mbit):
    """ffmpeg's arguments (before the output file).  x264 runs on one thread: its
    threaded CBR rate control gave a different file on each of three runs; one
    thread gives the same bytes every time (with the same ffmpeg and x264)."""
    rate = f"{mbit}M"
    return ["-f", "lavfi", "-i", f"testsrc2=size=1280x720:rate=30:duration={seconds}",
            "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={seconds}",
            "-map", "0:v", "-map", "1:a", "-c:v", "libx264", "-preset", "veryfast",
            "-threads:v", "1", "-b:v", rate, "-minrate", rate, "-maxrate", rate,
            "-bufsize", rate, "-x264-params", "nal-hrd=cbr:keyint=60:min-keyint=60:scenecut=0",
            "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "128k",
            "-fflags", "+bitexact", "-flags:v", "+bitexact", "-flags:a", "+bitexact",
            "-map_metadata", "-1"]


def ensure_video(workdir, seconds=90, mbit=12):
    """Create (once) payload/<id>/video.mp4 and its manifest; returns the manifest
    in payload.py's format (big_file, files with sha256, root, total_size).  A
    file made with other encoder arguments is made again."""
    vid = video_id(seconds, mbit)
    root = os.path.join(workdir, "payload", vid)
    path = os.path.join(root, "video.mp4")
    manifest_path = root + ".json"
    args = encode_args(seconds, mbit)
    if os.path.exists(manifest_path) and os.path.exists(path):
        with open(manifest_path) as f:
            manifest = json.load(f)
        if os.path.getsize(path) == manifest["total_size"] and manifest.get("encode") == args:
            return manifest
    os.makedirs(root, exist_ok=True)
    log(f"encoding {vid}: testsrc2 1280x720 30 fps, H.264 CBR {mbit} Mbit/s, {seconds} s")
    subprocess.run(FFMPEG + ["-y", *args, path + ".tmp.mp4"], check=True)
    os.replace(path + ".tmp.mp4", path)
    atoms = [name for name, _off, _size in top_level_atoms(path)]
    if "moov" not in atoms or atoms.index("moov") < atoms.index("mdat"):
        raise RuntimeError(f"{path}: expected moov after mdat, got {atoms}")
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(4 * MiB):
            h.update(block)
    size = os.path.getsize(path)
    manifest = {"id": vid, "dataset": "video", "seed": 0, "content": "video.mp4",
                "big_file": "video.mp4", "root": root, "total_size": size,
                "files": [{"path": "video.mp4", "size": size, "sha256": h.hexdigest()}],
                "seconds": seconds, "mbit": mbit, "atoms": atoms, "encode": args}
    with open(manifest_path, "w") as f:
        json.dump(manifest, f, indent=1)
    return manifest


def top_level_atoms(path):
    """[(type, offset, size)] of the file's top-level MP4 boxes."""
    out, size = [], os.path.getsize(path)
    with open(path, "rb") as f:
        off = 0
        while off + 8 <= size:
            f.seek(off)
            head = f.read(16)
            n, kind = struct.unpack(">I4s", head[:8])
            if n == 1:
                n = struct.unpack(">Q", head[8:16])[0]
            elif n == 0:
                n = size - off
            if n < 8:
                raise ValueError(f"{path}: bad box size {n} at {off}")
            out.append((kind.decode("latin-1"), off, n))
            off += n
    return out


def player_argv(player, path, start=None):
    if player == "ffmpeg":
        return FFMPEG + (["-ss", f"{start:g}"] if start else []) + [
            "-i", path, "-frames:v", "1", "-f", "null", "-"]
    if player == "mpv":
        return ["mpv", "--no-config", "--really-quiet", "--vo=null", "--ao=null", "--frames=1",
                *([f"--start={start:g}"] if start else []), path]
    raise ValueError(player)


def run_player(argv, timeout, on_timeout=None):
    """Run a player to completion: (rc, seconds, tail of stderr).  On timeout,
    on_timeout() unblocks it (kills the FUSE daemon) and it is killed by PID."""
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL)
    try:
        _out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        if on_timeout:
            on_timeout()
        stop_pid(proc.pid, grace=1)
        proc.communicate()
        raise Deadline(f"{argv[0]} timed out after {timeout:.0f}s") from None
    except BaseException:  # Ctrl+C: never leave a player behind
        stop_pid(proc.pid, grace=1)
        proc.wait()
        raise
    return proc.returncode, time.perf_counter() - t0, err.decode(errors="replace")[-300:]


def playback(path, seconds, timeout, on_timeout=None):
    """ffmpeg -re for `seconds` of media; returns the lag analysis (module doc).
    A watchdog thread ends it after `timeout` s (a FUSE read may never return)."""
    argv = FFMPEG + ["-re", "-i", path, "-t", str(seconds), "-f", "null", "-",
                     "-progress", "pipe:1", "-stats_period", "0.1"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, text=True)
    expired = []

    def expire():
        expired.append(True)
        if on_timeout:
            on_timeout()
        stop_pid(proc.pid, grace=1)
    watchdog = threading.Timer(timeout, expire)
    watchdog.start()
    samples = []  # (wall s since start, media s)
    try:
        for line in proc.stdout:
            if line.startswith("out_time_us="):
                try:
                    samples.append((time.perf_counter() - t0, int(line.split("=")[1]) / 1e6))
                except ValueError:
                    pass  # "N/A" before the first frame
        rc = proc.wait()
    except BaseException:  # Ctrl+C: never leave a player behind
        stop_pid(proc.pid, grace=1)
        proc.wait()
        raise
    finally:
        watchdog.cancel()
    if expired:
        raise Deadline(f"playback timed out after {timeout:.0f}s")
    wall = time.perf_counter() - t0
    return dict(analyse_lag(samples, seconds), rc=rc, wall_s=wall)


def analyse_lag(samples, seconds):
    """Stalls in a -re progress series [(wall s, media s)] (see the module doc).
    lag = wall - media; its minimum is the steady pace (ffmpeg -re paces media
    against its own clock, started once the input was opened); a stall is a
    stretch where lag exceeds that minimum by more than STALL_S.  A stretch
    that begins with the first decoded sample is start-up, not a stall."""
    started = [(w, m) for w, m in samples if m > 0]
    if not started:
        return {"first_progress_s": None, "stalls": None, "stall_s": None,
                "max_excess_lag_s": None, "media_s": 0.0, "wall_minus_media_s": None,
                "complete": False}
    base = min(w - m for w, m in started)
    stalls, stall_s, max_excess, peak, in_startup = 0, 0.0, 0.0, None, True
    for w, m in started:
        excess = (w - m) - base
        if excess > STALL_S:
            if in_startup:
                continue
            max_excess = max(max_excess, excess)
            if peak is None:
                stalls += 1
            peak = max(peak or 0.0, excess)
        else:
            in_startup = False
            if peak is not None:
                stall_s += peak
                peak = None
    stall_s += peak or 0.0
    w_end, m_end = samples[-1]
    return {"first_progress_s": started[0][0], "stalls": stalls, "stall_s": stall_s,
            "max_excess_lag_s": max_excess, "media_s": m_end, "wall_minus_media_s": w_end - m_end,
            "samples": len(samples), "complete": m_end >= seconds - 0.2}


def first_frame_and_seek_action(player, start, timeout):
    """An action for on_fresh_mount: the player's first frame (timed from the mount
    command), then at once a new player process seeking to `start` (timed alone)."""
    def action(run, path):
        rc, secs, err = run_player(player_argv(player, path), timeout, run.kill_fs)
        res = {"first_frame_player_s": secs, "first_frame_s": time.perf_counter() - run.t0}
        if rc:
            return dict(res, error=f"{player} exited {rc}: {err.strip()[-200:]}")
        rc, secs, err = run_player(player_argv(player, path, start), timeout, run.kill_fs)
        res["seek_s"] = secs
        if rc:
            res["error"] = f"{player} -ss {start:g} exited {rc}: {err.strip()[-200:]}"
        return res
    return action


def playback_action(seconds, timeout):
    def action(run, path):
        return playback(path, seconds, timeout, run.kill_fs)
    return action


def local_floor(path, players, seek_times, playback_s=None):
    """The same player commands on the local file (page cache): the floor."""
    out = {}
    for player in players:
        rc, secs, _ = run_player(player_argv(player, path), 60)
        out[f"{player}_first_frame_s"] = secs if rc == 0 else None
        seeks = []
        for t in seek_times:
            rc, secs, _ = run_player(player_argv(player, path, t), 60)
            if rc == 0:
                seeks.append(secs)
        out[f"{player}_seek_s"] = seeks
    if playback_s:
        out["playback"] = playback(path, playback_s, playback_s * 3)
    return out


def have_mpv():
    return shutil.which("mpv") is not None
