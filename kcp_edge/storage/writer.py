"""The one writer thread: group commit of every pending write.

Why this module exists: an fsync costs far more than applying a write (on the reference machine
~280 us against a few us), so durable throughput comes from sharing one fsync among many writes.
The writer thread takes *every* write queued since its last commit, hands the batch to the
backend's ``apply`` (one transaction, one sync), then resolves each waiter's future. This is how
etcd batches its backend commits; it also gives LMDB what it requires, a single thread owning
every write transaction.

The thread is owned by the store: started on open, drained and joined on close. Futures are
resolved only after ``apply`` returned, i.e. after the commit is durable.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from typing import Generic, TypeVar

from kcp_edge.storage.errors import StorageError, StoreClosedError

log = logging.getLogger(__name__)

Op = TypeVar("Op")
Res = TypeVar("Res")

DEFAULT_MAX_BATCH = 4096


class GroupCommitWriter(Generic[Op, Res]):
    """Queue of pending writes drained by one thread into batches.

    ``apply(ops)`` runs on the writer thread and returns one result (or a `StorageError`) per op,
    plus a callback run after the futures are resolved (the backend publishes watch events there).
    If ``apply`` raises, every op of the batch fails with that error (wrapped if foreign).
    """

    def __init__(
        self,
        apply: Callable[[Sequence[Op]], tuple[list[Res | StorageError], Callable[[], None]]],
        *,
        name: str = "kcp-edge-storage-writer",
        max_batch: int = DEFAULT_MAX_BATCH,
    ) -> None:
        self._apply = apply
        self._max_batch = max_batch
        self._queue: deque[tuple[Op, Future[Res]]] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def submit(self, op: Op) -> Future[Res]:
        future: Future[Res] = Future()
        with self._cond:
            if self._closing:
                future.set_exception(StoreClosedError("the store is closed"))
                return future
            self._queue.append((op, future))
            if len(self._queue) == 1:
                self._cond.notify()
        return future

    def close(self) -> None:
        """Apply everything already queued, then stop the thread."""
        with self._cond:
            self._closing = True
            self._cond.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join()

    def _next_batch(self) -> list[tuple[Op, Future[Res]]] | None:
        with self._cond:
            while not self._queue:
                if self._closing:
                    return None
                self._cond.wait()
            count = min(len(self._queue), self._max_batch)
            return [self._queue.popleft() for _ in range(count)]

    def _run(self) -> None:
        while (batch := self._next_batch()) is not None:
            ops = [op for op, _ in batch]
            try:
                results, after = self._apply(ops)
            except StorageError as exc:
                for _, future in batch:
                    future.set_exception(exc)
                continue
            except Exception as exc:  # a bug: fail the waiters loudly, keep the writer alive
                log.exception("storage writer failed to apply a batch")
                err = StorageError(f"internal storage error: {exc!r}")
                for _, future in batch:
                    future.set_exception(err)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if isinstance(result, StorageError):
                    future.set_exception(result)
                else:
                    future.set_result(result)
            try:
                after()
            except Exception:
                log.exception("storage writer: post-commit callback failed")
