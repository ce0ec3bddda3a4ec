"""The machine's memory condition before each measured item (mount or download).

Why: on a VM with free page reporting (virtio-balloon), memory the guest frees goes back to the
host after a moment, and the next touch of it is a host page fault: about 1.2 s of system time
per GiB here, against 0.4 s for memory the host still backs. Every client writes its download
into the page cache, and a FUSE mount also fills the page cache of its own files, so who pays
that tax depends on what ran before and how long ago: a freshly booted VM (all memory unbacked)
measured 0.53x where a warm one measured 0.81x. The condition is chosen, not left to chance:

- ``fresh``: before every item the page cache is dropped, the payload read back, and the run waits
  until the guest has reported what it freed: each item starts where a freshly booted VM does.
- ``warm``: free page reporting is switched off for the run (page_reporting_order above the
  buddy allocator's largest order; restored at the end) and free memory is touched once, so
  every item runs on memory the host already backs: a machine that has been up for a while.
- ``asis``: neither (the condition of earlier runs).
"""

import os
import time

from common import log

REPORTING = "/sys/module/page_reporting/parameters"
CONDITIONS = ("asis", "fresh", "warm")


def _read(name):
    try:
        with open(os.path.join(REPORTING, name)) as f:
            return f.read().strip()
    except OSError:
        return None


def _write(path, text):
    with open(path, "w") as f:
        f.write(text)


def reporting_available():
    return _read("page_reporting_order") is not None


def drop_page_cache():
    os.sync()
    _write("/proc/sys/vm/drop_caches", "3")


def wait_for_reporting(quiet_s=1.5, limit_s=20.0):
    """Waits until the guest stops reporting freed memory to the host (reported_kib steady for
    quiet_s), at most limit_s. Returns the KiB reported meanwhile."""
    first = last = int(_read("reported_kib") or 0)
    start = steady_since = time.monotonic()
    while time.monotonic() - start < limit_s:
        time.sleep(0.25)
        now = int(_read("reported_kib") or 0)
        if now != last:
            last, steady_since = now, time.monotonic()
        elif time.monotonic() - steady_since >= quiet_s:
            break
    return last - first


TOUCH = """
import mmap, sys
chunk, count = int(sys.argv[1]), int(sys.argv[2])
maps = []
for _ in range(count):
    m = mmap.mmap(-1, chunk)
    for off in range(0, chunk, 4096):
        m[off] = 1
    maps.append(m)
"""


def touch_free_memory(keep_free_mib=2048, chunk_mib=256):
    """Touches most of the free memory once (anonymous, then freed), so the host backs it.
    In a child process: a child's peak RSS (wait4) starts from its parent's at fork, and the
    downloads' peak RSS is measured that way. Returns MiB touched."""
    import subprocess
    import sys
    with open("/proc/meminfo") as f:
        free_kib = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable"))
    count = max(0, free_kib // 1024 - keep_free_mib) // chunk_mib
    subprocess.run([sys.executable, "-c", TOUCH, str(chunk_mib << 20), str(count)], check=True)
    return count * chunk_mib


class Condition:
    """Context manager for a run; ``before_item()`` is called before every measured item."""

    def __init__(self, name, warm_payload):
        if name not in CONDITIONS:
            raise ValueError(name)
        if name != "asis" and not reporting_available():
            log(f"memory condition {name}: no free page reporting on this machine; "
                "every condition is the same here (asis)")
            name = "asis"
        self.name = name
        self.warm_payload = warm_payload
        self.saved_order = None

    def __enter__(self):
        if self.name == "warm":
            self.saved_order = _read("page_reporting_order")
            _write(os.path.join(REPORTING, "page_reporting_order"), "11")
            log(f"memory warm: free page reporting off (order {self.saved_order} -> 11); "
                f"touched {touch_free_memory()} MiB")
        return self

    def __exit__(self, *exc):
        if self.saved_order is not None:
            _write(os.path.join(REPORTING, "page_reporting_order"), self.saved_order)
            log(f"memory: free page reporting restored (order {self.saved_order})")
        return False

    def before_item(self):
        if self.name != "fresh":
            return
        drop_page_cache()
        self.warm_payload()
        kib = wait_for_reporting()
        log(f"  memory fresh: page cache dropped, {kib // 1024} MiB returned to the host")
