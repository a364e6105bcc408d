"""An acknowledged write survives ``kill -9``: the crash test of the LMDB store.

A child process writes from many threads and prints each write once the store acknowledged it;
the test kills it with SIGKILL at a random moment, reopens the store and checks that every
acknowledged write is there, with its revision, and that the store is consistent (its history
replays as one unbroken run of revisions, and it takes new writes).
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kcp_edge.storage import LmdbOptions, LmdbStore

CHILD = Path(__file__).with_name("crash_writer.py")
ROOT = Path(__file__).resolve().parents[2]


def _run_and_kill(path: Path, seed: int) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, str(CHILD), str(path), str(rng.choice([1, 4, 16]))],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
        text=True,
    )
    assert child.stdout is not None and child.stderr is not None
    assert child.stdout.readline().strip() == "ready"
    acked: list[str] = []
    reader = threading.Thread(target=lambda: acked.extend(child.stdout), daemon=True)  # type: ignore[arg-type]
    reader.start()
    time.sleep(rng.uniform(0.1, 1.0))
    child.send_signal(signal.SIGKILL)
    child.wait(10)
    reader.join(10)
    child.stdout.close()
    child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    # A line cut by the kill was not fully reported: only whole lines count as acknowledged.
    return [(k, int(r)) for k, r in (line.split() for line in acked if line.endswith("\n"))]


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(6))
def test_every_acknowledged_write_survives_sigkill(tmp_path: Path, seed: int) -> None:
    path = tmp_path / "store"
    acked = _run_and_kill(path, seed)
    assert acked, "the child acknowledged nothing before it was killed"
    store = LmdbStore.open(LmdbOptions(path=path))
    try:
        for key, revision in acked:
            kv = store.get(key.encode())
            assert kv is not None, f"acknowledged {key} is lost"
            assert kv.mod_revision == revision
            worker, seq = key.split("/")[2:4]
            assert kv.value.startswith(f"{worker}:{int(seq)}:".encode())
        current = store.current_revision
        assert current >= max(r for _, r in acked)
        # Consistency: the history replays as revisions 2..current with no gap.
        with store.watch(b"/crash/", after_revision=1) as watch:
            seen: list[int] = []
            while len(seen) < current - 1:
                events = watch.next_events(timeout=1)
                assert events, f"history stops at {seen[-1] if seen else 1} of {current}"
                seen.extend(e.revision for e in events)
        assert seen == list(range(2, current + 1))
        for kv in store.list(b"/crash/").items:
            assert kv.mod_revision <= current
        assert store.create(b"/after/crash", b"v").revision == current + 1
    finally:
        store.close()
