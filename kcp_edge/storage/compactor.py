"""Periodic compaction with a retained window, for any backend.

Why this module exists: history (the revision log) must not grow forever, yet watches and
continue tokens need a recent window of it. Like the Kubernetes apiserver's compactor (every 5
minutes against etcd) this thread compacts to ``current - retain`` revisions on an interval;
reads and watches older than that then get `CompactedError` (410) and re-list.
"""

from __future__ import annotations

import logging
import threading

from kcp_edge.storage.errors import StorageError
from kcp_edge.storage.interface import Store

log = logging.getLogger(__name__)


class Compactor:
    """Owns one daemon thread; `start` once, `stop` on shutdown."""

    def __init__(self, store: Store, *, retain_revisions: int, interval_seconds: float) -> None:
        if retain_revisions < 1:
            raise ValueError("retain_revisions must be at least 1")
        self._store = store
        self._retain = retain_revisions
        self._interval = interval_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="kcp-edge-compactor", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def compact_once(self) -> int:
        """Compact to ``current - retain``; returns the compact revision after the call."""
        target = self._store.current_revision - self._retain
        if target > self._store.compact_revision:
            self._store.compact(target)
        return self._store.compact_revision

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self.compact_once()
            except StorageError:
                log.exception("compaction failed; retrying at the next interval")
