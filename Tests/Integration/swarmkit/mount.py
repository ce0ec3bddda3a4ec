"""FUSE mounts that are always undone: `with mounted(argv, mnt, procs=...) as m:`.

At exit (normal or not) the mount is unmounted with `fusermount3 -u`, then `-uz` if that did not
work, and the FUSE daemon is stopped by PID (SIGTERM, then SIGKILL). The daemon is found the way
swarmbench finds it: the process that holds /dev/fuse and has the mount point on its command line
(the CLI contract keeps MOUNTPOINT on the daemon's command line).
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import time
from typing import Iterator, Optional, Sequence

from .procs import ManagedProcess, ProcessGroup, pid_alive, proc_start_time, stop_pid
from .waiting import Deadline, TimeoutExpired, call_with_deadline, wait_until


class MountFailed(AssertionError):
    """The mount command failed or the mount never appeared."""


def _unescape(field: str) -> str:
    return field.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n") \
        .replace("\\134", "\\")


def mount_entry(path: str) -> Optional[dict]:
    """The /proc/self/mountinfo entry for exactly `path` (mount point, fstype, source), or None."""
    real = os.path.realpath(path)
    found = None
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields = left.split()
            if len(fields) >= 5 and _unescape(fields[4]) == real:
                rest = right.split()
                found = {"mount_point": real, "fstype": rest[0] if rest else "",
                         "source": rest[1] if len(rest) > 1 else "",
                         "options": fields[5] if len(fields) > 5 else ""}
    return found  # the last entry wins: it is the one on top


def is_mounted(path: str) -> bool:
    return mount_entry(path) is not None


def is_fuse_mounted(path: str) -> bool:
    entry = mount_entry(path)
    return entry is not None and entry["fstype"].startswith("fuse")


def fuse_daemon_pids(mountpoint: str) -> list[int]:
    """PIDs that hold /dev/fuse open and have `mountpoint` on their command line."""
    found = []
    needles = {os.fsencode(mountpoint), os.fsencode(os.path.realpath(mountpoint))}
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                args = f.read().split(b"\0")
            if not needles.intersection(args):
                continue
            fds = os.listdir(f"/proc/{entry}/fd")
        except OSError:  # the process is gone (or not ours to read)
            continue
        if any(_fd_target(entry, fd) == "/dev/fuse" for fd in fds):
            found.append(int(entry))
    return found


def _fd_target(pid: str, fd: str) -> str | None:
    # A busy daemon opens and closes cache files while we scan: one descriptor that closed under
    # us must not hide the process (that once made a test see no daemon at all, at load 41).
    try:
        return os.readlink(f"/proc/{pid}/fd/{fd}")
    except OSError:
        return None


def fusermount(mountpoint: str, lazy: bool = False, timeout: float = 10.0) -> bool:
    """`fusermount3 -u[z] MOUNTPOINT`; True if it exited 0 in time."""
    argv = ["fusermount3", "-uz" if lazy else "-u", mountpoint]
    try:
        result = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                                timeout=timeout)
    except subprocess.TimeoutExpired:  # subprocess.run killed it (by its PID)
        return False
    return result.returncode == 0


class Mount:
    """A live mount: its path, the command that made it, the daemon PIDs."""

    def __init__(self, path: str, command: ManagedProcess, procs: ProcessGroup,
                 swarmfs_bin: Optional[str] = None):
        self.path = path
        self.command = command
        self.procs = procs
        self.swarmfs_bin = swarmfs_bin
        self.daemon_pids: list[int] = []
        self._start_times: dict[int, Optional[int]] = {}
        self.mount_seconds: Optional[float] = None
        self.daemon_exited_after_unmount: Optional[bool] = None

    def join(self, *parts: str) -> str:
        return os.path.join(self.path, *parts)

    def _ours(self, pid: int) -> bool:
        """Still the daemon we found (not a recycled PID)?"""
        start = self._start_times.get(pid)
        return start is not None and proc_start_time(pid) == start and pid_alive(pid)

    def daemon_alive(self) -> bool:
        return any(self._ours(pid) for pid in self.daemon_pids)

    def _track_daemons(self) -> None:
        for pid in fuse_daemon_pids(self.path):
            if pid not in self.daemon_pids:
                start = proc_start_time(pid)
                if start is None:
                    continue
                self.daemon_pids.append(pid)
                self._start_times[pid] = start
                self.procs.adopt_pid(f"fuse-daemon {self.path}", pid, start)

    def _stop_daemons(self, grace: float) -> None:
        for pid in self.daemon_pids:
            start = self._start_times.get(pid)
            if start is not None:
                stop_pid(pid, grace, start)

    # -- reading with a deadline --------------------------------------------------------------

    def read(self, relpath: str, offset: int = 0, length: Optional[int] = None,
             timeout: float = 60.0) -> bytes:
        """pread from a file under the mount. If it does not return in `timeout` seconds the
        daemon is killed (which unblocks the read with ENOTCONN) and Deadline is raised."""
        path = self.join(relpath)

        def do_read() -> bytes:
            fd = os.open(path, os.O_RDONLY)
            try:
                if length is None:
                    chunks = []
                    pos = offset
                    while True:
                        chunk = os.pread(fd, 1 << 20, pos)
                        if not chunk:
                            break
                        chunks.append(chunk)
                        pos += len(chunk)
                    return b"".join(chunks)
                out = bytearray()
                while len(out) < length:
                    chunk = os.pread(fd, length - len(out), offset + len(out))
                    if not chunk:
                        break
                    out += chunk
                return bytes(out)
            finally:
                os.close(fd)

        return call_with_deadline(do_read, timeout, self.abort)

    def listdir(self, relpath: str = "", timeout: float = 30.0) -> list[str]:
        return call_with_deadline(lambda: sorted(os.listdir(self.join(relpath))), timeout,
                                  self.abort)

    def stat(self, relpath: str = "", timeout: float = 30.0) -> os.stat_result:
        return call_with_deadline(lambda: os.stat(self.join(relpath)), timeout, self.abort)

    # -- swarmfs commands -----------------------------------------------------------------

    def status(self, timeout: float = 15.0) -> dict:
        """`swarmfs status MOUNTPOINT --json`, parsed."""
        if not self.swarmfs_bin:
            raise RuntimeError("status() needs swarmfs_bin")
        result = subprocess.run([self.swarmfs_bin, "status", self.path, "--json"],
                                stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                timeout=timeout)
        if result.returncode != 0:
            raise AssertionError(f"swarmfs status exited {result.returncode}: {result.stderr}")
        return json.loads(result.stdout)

    def unmount_with_swarmfs(self, timeout: float = 20.0) -> subprocess.CompletedProcess:
        """`swarmfs unmount MOUNTPOINT` (the graceful path tests may want to check)."""
        if not self.swarmfs_bin:
            raise RuntimeError("unmount_with_swarmfs() needs swarmfs_bin")
        return subprocess.run([self.swarmfs_bin, "unmount", self.path],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout)

    def wait_daemon_exit(self, timeout: float = 10.0) -> bool:
        """True if every daemon PID exits within `timeout` seconds."""
        try:
            wait_until(lambda: not self.daemon_alive(), timeout, 0.05)
            return True
        except TimeoutExpired:
            return False

    # -- tear-down ----------------------------------------------------------------------------

    def abort(self) -> None:
        """Emergency: SIGKILL the daemon (pending reads fail with ENOTCONN), lazy unmount."""
        self._track_daemons()
        self._stop_daemons(grace=0.0)
        if is_mounted(self.path):
            fusermount(self.path, lazy=True)

    def cleanup(self) -> None:
        """Unmount (fusermount3 -u, then -uz) and stop the daemon and the command by PID."""
        if is_mounted(self.path):
            self._track_daemons()
            if not fusermount(self.path):
                fusermount(self.path, lazy=True)
        if self.daemon_pids:
            self.daemon_exited_after_unmount = self.wait_daemon_exit(10.0)
        self._stop_daemons(grace=5.0)
        self.command.stop()
        if is_mounted(self.path):  # the daemon died with the mount still there: ENOTCONN
            fusermount(self.path, lazy=True)


@contextlib.contextmanager
def mounted(argv: Sequence, mountpoint: str, *, procs: ProcessGroup, timeout: float = 60.0,
            swarmfs_bin: Optional[str] = None, env: Optional[dict] = None) -> Iterator[Mount]:
    """Run a mount command, wait until `mountpoint` is a FUSE mount that answers `stat`, yield a
    Mount, and always unmount and stop the daemon at exit, even on failure.

    The command may daemonise (`swarmfs mount` returns 0 once the mount answers) or stay in the
    foreground (`-f`); either way its daemon is found and stopped by PID. If it exits non-zero
    before the mount appears, MountFailed carries its output."""
    os.makedirs(mountpoint, exist_ok=True)
    start = time.monotonic()
    command = procs.spawn(f"mount {os.path.basename(mountpoint)}", argv, env=env)
    m = Mount(mountpoint, command, procs, swarmfs_bin)
    procs.register_mount(m)
    try:
        def ready() -> bool:
            if is_fuse_mounted(mountpoint):
                m._track_daemons()
                return True
            code = command.returncode()
            if code is not None and code != 0:
                raise MountFailed(f"mount command exited {code}:\n{command.tail()}")
            return False

        try:
            wait_until(ready, timeout, 0.02)
        except TimeoutExpired:
            raise MountFailed(f"{mountpoint} not mounted after {timeout}s; command "
                              f"{'running' if command.running() else 'exited'}:\n"
                              f"{command.tail()}") from None
        try:
            m.stat(timeout=min(timeout, 30.0))
        except (Deadline, OSError) as exc:
            raise MountFailed(f"{mountpoint} is mounted but does not answer stat: {exc!r}\n"
                              f"{command.tail()}") from None
        m.mount_seconds = time.monotonic() - start
        # A daemonising command exits soon; a foreground one is the daemon itself.
        if command.running():
            m._track_daemons()
        yield m
    finally:
        m.cleanup()
        procs.unregister_mount(m)


def _pids_whose_arguments(match) -> list[int]:
    """PIDs (other than ours) with a command-line argument for which `match(arg)` holds."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                if any(match(a) for a in f.read().split(b"\0")):
                    found.append(int(entry))
        except OSError:
            continue
    return found


def processes_naming(path: str) -> list[int]:
    """PIDs (other than ours) with exactly `path` as an argument on their command line."""
    needle = os.fsencode(path)
    return _pids_whose_arguments(lambda arg: arg == needle)


def fuse_daemons_below(root: str) -> list[int]:
    """PIDs holding /dev/fuse whose command line names a path at or below `root`."""
    root = os.path.realpath(root)
    prefix = os.fsencode(root + "/")
    exact = os.fsencode(root)
    found = []
    for pid in _pids_whose_arguments(lambda arg: arg == exact or arg.startswith(prefix)):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        if any(_fd_target(str(pid), fd) == "/dev/fuse" for fd in fds):
            found.append(pid)
    return found


def mounts_below(root: str) -> list[str]:
    """Mount points at or below `root`, deepest first."""
    root = os.path.realpath(root)
    with open("/proc/self/mountinfo") as f:
        points = [_unescape(line.split()[4]) for line in f]
    below = {p for p in points if p == root or p.startswith(root + "/")}
    return sorted(below, key=len, reverse=True)


def cleanup_below(root: str) -> list[str]:
    """Safety net for a test's scratch folder: unmount every mount below `root`
    (`fusermount3 -u`, then `-uz`) and stop (by PID) every FUSE daemon whose command line names
    a path below it; such daemons can only have been started by that test. Returns what it did."""
    done = []
    for point in mounts_below(root):
        if not fusermount(point):
            fusermount(point, lazy=True)
        done.append(f"unmounted {point}")
    for pid in fuse_daemons_below(root):
        start = proc_start_time(pid)
        if start is not None:
            stop_pid(pid, 3.0, start)
            done.append(f"stopped FUSE daemon {pid}")
    for point in mounts_below(root):  # a daemon that died left ENOTCONN behind
        fusermount(point, lazy=True)
    return done
