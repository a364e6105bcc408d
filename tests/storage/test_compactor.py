"""The periodic compactor keeps a window of history and no more."""

from __future__ import annotations

import time

import pytest

from kcp_edge.storage import CompactedError
from kcp_edge.storage.compactor import Compactor
from kcp_edge.storage.interface import Store


def test_compact_once_keeps_the_configured_window(store: Store) -> None:
    for i in range(20):
        store.create(f"/r/{i}".encode(), b"v")
    compactor = Compactor(store, retain_revisions=5, interval_seconds=3600)
    assert compactor.compact_once() == 15
    assert store.watch(b"/r/", after_revision=15).start_revision == 15
    with pytest.raises(CompactedError):
        store.watch(b"/r/", after_revision=14)
    assert compactor.compact_once() == 15  # nothing new: nothing to do


def test_the_compactor_thread_compacts_on_its_interval_until_stopped(store: Store) -> None:
    for i in range(10):
        store.create(f"/r/{i}".encode(), b"v")
    compactor = Compactor(store, retain_revisions=2, interval_seconds=0.01)
    compactor.start()
    try:
        deadline = time.monotonic() + 10
        while store.compact_revision != 8 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        compactor.stop()
    assert store.compact_revision == 8


def test_a_window_below_one_revision_is_refused(store: Store) -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Compactor(store, retain_revisions=0, interval_seconds=1)
