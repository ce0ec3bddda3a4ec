"""One action on a fresh mount, and the cold-seek action.

on_fresh_mount() mounts with swarmbench's MountRun (fresh mount point and
cache), waits until the file is listed, runs action(run, path), and always
unmounts: a player, or the cold seeks below.

Cold seeks get a mount of their own, apart from the sequential read: a mount
that downloads in the background ("all" in swarmfs, everything in btfs)
would otherwise have fetched part of the file before the read starts, and a
read that finds its data already there is neither a seek nor streaming.
First one 64 KiB read at offset 0 (timed as warmup_s, not a seek): as for a
user who seeks in a file already open, the peers are then connected.  The
seeks are 64 KiB preads at seeded random offsets in the upper half of the
file (each in a different piece), in random order: swarmfs's background fill
goes from the start of the file, so they stay cold for as long as it has not
got there (btfs fetches in random order, so some of its seeks may be warm).
Each block is compared with the payload.
"""

import os
import time

from common import Deadline, log, percentile, safe_rmtree
from fusebench import READ_SIZE, MountRun, seek_offsets, source_bytes


def on_fresh_mount(run_dir, mount_tpl, unmount_tpl, variables, relpath, action, timeout):
    """Mount afresh, wait until relpath is listed, run action(run, path), unmount.
    Returns the action's dict plus listing_s and the unmount's figures; on a
    failure {"error": ...} instead of the action's figures."""
    run = MountRun(run_dir, mount_tpl, unmount_tpl, variables,
                   {"mount": 60, "read": timeout, "stream": timeout, "unmount": 30})
    os.makedirs(run_dir)
    res = {}
    try:
        res["listing_s"] = run.mount_and_wait(relpath)
        res.update(action(run, os.path.join(run.mnt, relpath)))
        run.find_daemon()  # after the timed part: unmount() then waits for the daemon to exit
    except (Deadline, RuntimeError, OSError) as exc:
        res["error"] = f"{type(exc).__name__}: {exc}"
        res["mount_log"] = run.mount_log()
        log(f"  run failed: {res['error']}")
    finally:
        if run.proc is not None:
            res.update(run.unmount())
        if not safe_rmtree(run_dir):
            res["error"] = (res.get("error") or "") + f" (still mounted: {run.mnt})"
    return res


def upper_half_offsets(size, piece_size, count, seed=1, relpath="seek"):
    """`count` offsets in distinct piece-sized slots of the file's upper half."""
    offsets = [o for o in seek_offsets(seed, relpath, size, piece_size) if o >= size // 2]
    return offsets[:count]


def seek_action(src, offsets, timeout):
    """An action for on_fresh_mount: timed 64 KiB preads at `offsets`, each
    checked against the payload file `src`."""
    def action(run, path):
        lat, problems = [], []
        fd = os.open(path, os.O_RDONLY)
        try:
            def warmup():
                t0 = time.perf_counter()
                os.pread(fd, READ_SIZE, 0)
                return time.perf_counter() - t0
            warmup_s = run.timed("warm-up read", warmup, timeout)
            for off in offsets:
                def one(off=off):
                    t0 = time.perf_counter()
                    data = os.pread(fd, READ_SIZE, off)
                    return time.perf_counter() - t0, data
                dt, data = run.timed("seek", one, timeout)
                lat.append(dt * 1000)
                if data != source_bytes(src, off, READ_SIZE):
                    problems.append(f"block at {off} differs")
        finally:
            os.close(fd)
        res = {"warmup_s": warmup_s, "seek_ms": lat, "seek_offsets": offsets,
               "verify": "FAIL" if problems else "pass",
               "verify_problems": problems}
        if lat:
            res.update(seek_p50_ms=percentile(lat, 50), seek_p90_ms=percentile(lat, 90),
                       seek_max_ms=max(lat))
        return res
    return action
