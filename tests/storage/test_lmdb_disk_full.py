"""A really full disk (ENOSPC), not a configured limit: LMDB-specific, on a 2 MiB tmpfs.

Needs permission to mount (root, as on CI); elsewhere it is skipped with the reason shown.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from kcp_edge.storage import LmdbOptions, LmdbStore, StorageFullError


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    mount = tmp_path / "disk"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", str(mount)], check=True)


def test_enospc_is_a_clear_error_and_the_store_stays_readable(tiny_disk: Path) -> None:
    store = LmdbStore.open(LmdbOptions(path=tiny_disk / "store", initial_map_size=8 << 20))
    acked: list[bytes] = []
    try:
        with pytest.raises(StorageFullError, match="disk holding the store is full"):
            for i in range(100_000):
                key = f"/r/{i:06d}".encode()
                store.create(key, b"x" * 1024)
                acked.append(key)
        assert acked
        assert store.count(b"/r/") == len(acked)
        assert store.current_revision == len(acked)
        assert all(store.get(key) is not None for key in acked[-10:])
    finally:
        store.close()
    reopened = LmdbStore.open(LmdbOptions(path=tiny_disk / "store", initial_map_size=8 << 20))
    try:
        assert reopened.count(b"/r/") == len(acked)
    finally:
        reopened.close()
