"""Polling with deadlines, and calls that may block forever (FUSE reads) run under a deadline."""

from __future__ import annotations

import socket
import threading
import time
from typing import Callable, Optional, TypeVar

T = TypeVar("T")


class TimeoutExpired(AssertionError):
    """A condition did not become true in time (an AssertionError so pytest shows it plainly)."""


def wait_until(predicate: Callable[[], T], timeout: float, interval: float = 0.05,
               message: Optional[str] = None) -> T:
    """Call `predicate` until it returns something truthy, and return that value.

    Raises TimeoutExpired after `timeout` seconds. Exceptions from the predicate propagate, so a
    predicate can fail fast (for example when the process it waits for has died)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise TimeoutExpired(message or f"condition not met within {timeout}s: {predicate!r}")
        time.sleep(interval)


def port_open(ip: str, port: int) -> bool:
    """True if something accepts TCP connections on ip:port."""
    try:
        with socket.create_connection((ip, port), timeout=0.5):
            return True
    except OSError:
        return False


def wait_port(ip: str, port: int, timeout: float = 15.0) -> None:
    """Wait until ip:port accepts TCP connections."""
    wait_until(lambda: port_open(ip, port), timeout, 0.05,
               f"nothing listens on {ip}:{port} after {timeout}s")


class Deadline(AssertionError):
    """A blocking call did not return in time."""


def call_with_deadline(fn: Callable[[], T], timeout: float,
                       on_timeout: Optional[Callable[[], None]] = None) -> T:
    """Run `fn()` in a daemon thread and return its result, or raise Deadline.

    A read from a hung FUSE mount blocks in the kernel and no Python signal can interrupt it; on
    timeout `on_timeout()` is called (it should unblock `fn`, e.g. by killing the FUSE daemon by
    PID, which makes the read fail with ENOTCONN), then Deadline is raised."""
    box: dict = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # re-raised in the caller's thread
            box["error"] = exc

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(timeout)
    if thread.is_alive():
        if on_timeout is not None:
            on_timeout()
            thread.join(15)
        raise Deadline(f"call did not return within {timeout}s")
    if "error" in box:
        raise box["error"]
    return box["value"]
