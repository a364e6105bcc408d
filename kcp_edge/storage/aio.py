"""Awaiting store writes from an event loop.

Why this module exists: the server is asyncio, the store's writer is a thread. A write is
submitted to the writer and awaited through the loop, so the event loop never blocks on an
fsync. ``asyncio.wrap_future`` would wake the loop once per write (one self-pipe write each);
a group commit resolves dozens of writes at once, so here the writer thread hands its results
to a per-loop inbox and wakes the loop once per batch.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections import deque
from concurrent.futures import Future

from kcp_edge.storage.interface import Store, WriteOp, WriteResult

_Pair = tuple["asyncio.Future[WriteResult]", "Future[WriteResult]"]


class _LoopInbox:
    """Results for one event loop, delivered in one wake-up per batch of commits."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._lock = threading.Lock()
        self._pending: deque[_Pair] = deque()
        self._scheduled = False

    def deliver(self, waiter: asyncio.Future[WriteResult], done: Future[WriteResult]) -> None:
        """Writer thread (a done-callback of ``done``)."""
        with self._lock:
            self._pending.append((waiter, done))
            if self._scheduled:
                return
            self._scheduled = True
        # A closed loop raises RuntimeError: its waiters are gone with it.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(self._flush)

    def _flush(self) -> None:
        """Event-loop thread."""
        with self._lock:
            items = list(self._pending)
            self._pending.clear()
            self._scheduled = False
        for waiter, done in items:
            if waiter.done():  # cancelled by its caller; the write itself still happened
                continue
            exc = done.exception()
            if exc is not None:
                waiter.set_exception(exc)
            else:
                waiter.set_result(done.result())


_inboxes: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopInbox] = (
    weakref.WeakKeyDictionary()
)
_inboxes_lock = threading.Lock()


def _inbox(loop: asyncio.AbstractEventLoop) -> _LoopInbox:
    inbox = _inboxes.get(loop)
    if inbox is None:
        with _inboxes_lock:
            inbox = _inboxes.setdefault(loop, _LoopInbox(loop))
    return inbox


async def write(store: Store, op: WriteOp) -> WriteResult:
    """Submit ``op`` and wait, without blocking the loop, until it is durable."""
    loop = asyncio.get_running_loop()
    inbox = _inbox(loop)
    waiter: asyncio.Future[WriteResult] = loop.create_future()
    store.submit(op).add_done_callback(lambda done: inbox.deliver(waiter, done))
    return await waiter
