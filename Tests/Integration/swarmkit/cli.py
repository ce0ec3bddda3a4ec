"""Running the swarmfs binary."""

from __future__ import annotations

import os
import subprocess
from typing import Optional

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__)))))


def default_swarmfs_bin() -> str:
    """$SWARMFS_BIN, else <repo>/.build/debug/swarmfs."""
    return os.environ.get("SWARMFS_BIN") or os.path.join(REPO_ROOT, ".build", "debug", "swarmfs")


def run_swarmfs(swarmfs_bin: str, *args, timeout: float = 120.0, input: Optional[bytes] = None,
                env: Optional[dict] = None, check: bool = False) -> subprocess.CompletedProcess:
    """Run `swarmfs ARGS...` to completion (text output captured). With `check`, a non-zero exit
    fails with both output streams in the message."""
    result = subprocess.run([swarmfs_bin, *[str(a) for a in args]], capture_output=True,
                            timeout=timeout, env=env,
                            stdin=subprocess.DEVNULL if input is None else None, input=input)
    result.stdout = result.stdout.decode("utf-8", "replace")
    result.stderr = result.stderr.decode("utf-8", "replace")
    if check and result.returncode != 0:
        raise AssertionError(f"swarmfs {' '.join(map(str, args))} exited {result.returncode}\n"
                             f"stdout: {result.stdout}\nstderr: {result.stderr}")
    return result
