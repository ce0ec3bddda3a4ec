"""Child processes that are always stopped: by PID, SIGTERM first, then SIGKILL.

Every helper that starts a program (seeders, trackers, the swarmfs daemon, ...) goes through a
`ProcessGroup`, which the `procs` fixture stops at the end of each test, passed or failed.
Output goes to a log file per process, so a failing test can show what each peer said.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from dataclasses import dataclass, field
from typing import Iterable, Optional, Sequence

from .waiting import TimeoutExpired, wait_until


def pid_alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (FileNotFoundError, ProcessLookupError, IndexError, PermissionError):
        return False


def proc_start_time(pid: int) -> Optional[int]:
    """The process's start time (clock ticks since boot), which tells a PID's owners apart."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (FileNotFoundError, ProcessLookupError, IndexError, ValueError, PermissionError):
        return None


def stop_pid(pid: int, grace: float = 5.0, start_time: Optional[int] = None) -> None:
    """SIGTERM `pid`, wait up to `grace` seconds, then SIGKILL it. Never signals anything else:
    with `start_time` (from `proc_start_time` when we took responsibility for the PID), a PID
    that now belongs to another process is left alone."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 3.0)):
        if start_time is not None and proc_start_time(pid) != start_time:
            return
        try:
            os.kill(pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return
            time.sleep(0.02)


@dataclass
class ManagedProcess:
    """One started program: its Popen, its name and its log file (stdout and stderr)."""

    name: str
    argv: list
    popen: subprocess.Popen
    log_path: str
    stopped: bool = field(default=False)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def running(self) -> bool:
        return self.popen.poll() is None

    def returncode(self) -> Optional[int]:
        return self.popen.poll()

    def output(self) -> str:
        """Everything the process wrote so far."""
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except FileNotFoundError:
            return ""

    def tail(self, chars: int = 2000) -> str:
        return self.output()[-chars:]

    def wait_for_output(self, pattern: str, timeout: float = 30.0) -> re.Match:
        """Wait until the log matches the regex `pattern`; fail early if the process exits."""
        rx = re.compile(pattern, re.MULTILINE)
        found: list = []

        def check() -> bool:
            m = rx.search(self.output())
            if m:
                found.append(m)
                return True
            if not self.running():
                m = rx.search(self.output())  # it may have printed and then exited
                if m:
                    found.append(m)
                    return True
                raise ProcessDied(f"{self.name} (pid {self.pid}) exited with {self.returncode()} "
                                  f"before printing /{pattern}/:\n{self.tail()}")
            return False

        try:
            wait_until(check, timeout, interval=0.05)
        except TimeoutExpired:
            raise TimeoutExpired(f"{self.name} (pid {self.pid}) did not print /{pattern}/ within "
                                 f"{timeout}s:\n{self.tail()}") from None
        return found[0]

    def wait(self, timeout: float) -> int:
        """Wait for the process to exit by itself and return its exit status."""
        try:
            return self.popen.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise TimeoutExpired(f"{self.name} (pid {self.pid}) still running after {timeout}s:\n"
                                 f"{self.tail()}") from None

    def stop(self, grace: float = 5.0) -> None:
        """Stop it (SIGTERM, then SIGKILL) and reap it. Idempotent."""
        if self.popen.poll() is None:
            stop_pid(self.pid, grace)
        try:
            self.popen.wait(timeout=3)
        except subprocess.TimeoutExpired:
            pass
        self.stopped = True


class PeerProcess:
    """What every helper peer started as a child process shares: it listens on `ip:port` and its
    process (None until started) is stopped by PID."""

    ip: str
    port: int
    process: Optional[ManagedProcess] = None

    @property
    def endpoint(self) -> str:
        """"ip:port", as given to `swarmfs --peer`."""
        return f"{self.ip}:{self.port}"

    def running(self) -> bool:
        return self.process is not None and self.process.running()

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()


class ProcessDied(RuntimeError):
    """A helper process exited while we were waiting for it to get ready."""


class ProcessGroup:
    """Starts processes and remembers them; `stop_all()` stops every one by PID, newest first.

    Extra PIDs that we did not fork ourselves but are responsible for (a FUSE daemon that the
    `swarmfs mount` command left behind) are registered with `adopt_pid` and stopped the same way.
    """

    def __init__(self, log_dir: str):
        self.log_dir = log_dir
        os.makedirs(log_dir, exist_ok=True)
        self.processes: list[ManagedProcess] = []
        self.adopted: list[tuple[str, int, Optional[int]]] = []  # (name, pid, start time)
        self.mounts: list = []  # live swarmkit.mount.Mount objects, for the watchdog
        self._counter = 0

    def spawn(self, name: str, argv: Sequence, env: Optional[dict] = None,
              cwd: Optional[str] = None, extra_env: Optional[dict] = None) -> ManagedProcess:
        """Start `argv` in the background with stdin closed and output to `<log_dir>/<name>.log`."""
        self._counter += 1
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", name)
        log_path = os.path.join(self.log_dir, f"{self._counter:02d}-{safe}.log")
        if extra_env:
            env = dict(env if env is not None else os.environ)
            env.update(extra_env)
        argv = [str(a) for a in argv]
        with open(log_path, "ab") as out:
            popen = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, env=env, cwd=cwd)
        proc = ManagedProcess(name, argv, popen, log_path)
        self.processes.append(proc)
        return proc

    def adopt_pid(self, name: str, pid: int, start_time: Optional[int] = None) -> None:
        """Make `stop_all` stop `pid` too (a daemon forked by a command we ran). Its start time
        is recorded so that a recycled PID is never signalled."""
        if all(p != pid for _, p, _ in self.adopted):
            self.adopted.append((name, pid, start_time or proc_start_time(pid)))

    def register_mount(self, mount) -> None:
        self.mounts.append(mount)

    def unregister_mount(self, mount) -> None:
        if mount in self.mounts:
            self.mounts.remove(mount)

    def abort_mounts(self) -> None:
        """Kill every live mount's daemon and lazily unmount (unblocks hung FUSE reads)."""
        for mount in list(self.mounts):
            mount.abort()

    def stop_all(self, grace: float = 5.0) -> None:
        for _name, pid, start in reversed(self.adopted):
            if start is not None:
                stop_pid(pid, grace, start)
        for proc in reversed(self.processes):
            proc.stop(grace)

    def kill_all_now(self) -> None:
        """SIGKILL everything at once (the watchdog's emergency brake)."""
        for _name, pid, start in self.adopted:
            if start is not None and proc_start_time(pid) == start:
                try:
                    os.kill(pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
        for proc in self.processes:
            if proc.running():
                try:
                    os.kill(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass

    def logs(self) -> Iterable[tuple[str, str]]:
        """(name, tail of output) for every process, for failure reports."""
        for proc in self.processes:
            yield f"{proc.name} (pid {proc.pid}, exit {proc.returncode()})", proc.tail(3000)
