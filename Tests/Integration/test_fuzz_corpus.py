"""The .torrent inputs the fuzzer found crashing (Tests/Fuzz/Corpus/metainfo/crash-*), through the
real CLI: `swarmfs info` must answer each with a one-line error naming the file (exit 2) or with
its facts (exit 0), never die on a signal. The unit test SwarmFuzzReplayTests replays the same
inputs through the parser alone."""

from __future__ import annotations

import os

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CRASHES = os.path.join(REPO, "Tests", "Fuzz", "Corpus", "metainfo")


def crash_inputs() -> list[str]:
    return sorted(name for name in os.listdir(CRASHES) if name.startswith("crash-"))


@pytest.mark.parametrize("name", crash_inputs())
def test_info_answers_fuzzer_crash_torrents_without_dying(run, name):
    path = os.path.join(CRASHES, name)
    result = run("info", path, timeout=30)
    assert result.returncode in (0, 2), \
        f"swarmfs info {name} exited {result.returncode}\nstderr: {result.stderr[-2000:]}"
    if result.returncode == 2:
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and path in lines[0], result.stderr[-2000:]
