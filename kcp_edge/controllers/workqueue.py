"""A deduplicating work queue with delayed adds, for controllers that react to time as well as
to watch events.

Why this module exists: kcp's controllers are built on client-go's delaying work queue: a key
added while it is already waiting is not added twice, and ``AddAfter`` brings a key back at a
time (a heartbeat going stale, an ``evictAfter`` passing) without anyone polling. Here the
delays are event-loop timers owned by the queue: `close` cancels every one of them, so the
controller that owns the queue owns its timers too. Only one worker reads a queue, so a key is
never processed twice at the same time. `together` runs a controller's watches and worker as
one unit: when one fails, the others are cancelled and awaited before it starts over.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Hashable
from typing import Any, Generic, TypeVar

K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    """Keys to process, each at most once in the queue, in the order they were first added."""

    def __init__(self) -> None:
        self._pending: dict[K, None] = {}
        self._wakeup = asyncio.Event()
        self._timers: dict[K, asyncio.TimerHandle] = {}

    def add(self, key: K) -> None:
        self._pending[key] = None
        self._wakeup.set()

    def add_after(self, key: K, delay: float) -> None:
        """Add ``key`` in ``delay`` seconds; an earlier pending timer of the same key wins."""
        if delay <= 0:
            self.add(key)
            return
        loop = asyncio.get_running_loop()
        when = loop.time() + delay
        timer = self._timers.get(key)
        if timer is not None:
            if timer.when() <= when:
                return
            timer.cancel()
        self._timers[key] = loop.call_at(when, self._fire, key)

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key)

    async def get(self) -> K:
        """The next key, waiting for one."""
        while not self._pending:
            self._wakeup.clear()
            await self._wakeup.wait()
        key = next(iter(self._pending))
        del self._pending[key]
        return key

    def __len__(self) -> int:
        return len(self._pending)

    def close(self) -> None:
        """Cancel every timer and drop what is waiting."""
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        self._pending.clear()


async def together(*work: Coroutine[Any, Any, None]) -> None:
    """Run ``work`` until one fails (or all end); the others are cancelled and awaited."""
    tasks = [asyncio.create_task(w) for w in work]
    try:
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
