"""A deduplicating work queue with per-key retry backoff, for the engine's workers.

Why this module exists: watch events arrive faster than writes complete, and the same object
changes several times in a burst; like client-go's rate-limited work queue, a key is queued at
most once, never processed by two workers at once, and a failing key is retried after an
exponential delay with full jitter (edge-syncers §3.6: no retry storms after an outage).
`idle` tells the owner when everything seen so far has been handled, which is when the watch
watermark may be saved.
"""

from __future__ import annotations

import asyncio
import random
from collections import deque
from typing import Generic, TypeVar

K = TypeVar("K")

BASE_DELAY = 0.2
MAX_DELAY = 30.0


def backoff(failures: int, base: float = BASE_DELAY, cap: float = MAX_DELAY) -> float:
    """Full-jitter exponential backoff: a random delay up to ``base * 2**failures``."""
    return random.uniform(0, min(cap, base * 2 ** min(failures, 20)))  # noqa: S311


class KeyQueue(Generic[K]):
    """Keys to reconcile; owned by one engine component and its workers."""

    def __init__(self) -> None:
        self._order: deque[K] = deque()
        self._queued: set[K] = set()
        self._active: set[K] = set()
        self._again: set[K] = set()
        self._waiting: dict[K, asyncio.TimerHandle] = {}
        self._failures: dict[K, int] = {}
        self._ready = asyncio.Event()

    def add(self, key: K) -> None:
        timer = self._waiting.pop(key, None)
        if timer is not None:
            timer.cancel()
        if key in self._active:
            self._again.add(key)
        elif key not in self._queued:
            self._queued.add(key)
            self._order.append(key)
            self._ready.set()

    async def get(self) -> K:
        while not self._order:
            self._ready.clear()
            await self._ready.wait()
        key = self._order.popleft()
        self._queued.discard(key)
        self._active.add(key)
        return key

    def done(self, key: K, *, failed: bool = False) -> None:
        """``key`` is handled; a failed one comes back after its backoff delay."""
        self._active.discard(key)
        if failed:
            count = self._failures.get(key, 0)
            self._failures[key] = count + 1
            self._again.discard(key)
            loop = asyncio.get_running_loop()
            self._waiting[key] = loop.call_later(backoff(count), self._retry, key)
            return
        self._failures.pop(key, None)
        if key in self._again:
            self._again.discard(key)
            self.add(key)

    def _retry(self, key: K) -> None:
        self._waiting.pop(key, None)
        self.add(key)

    @property
    def idle(self) -> bool:
        return not (self._order or self._active or self._waiting)

    def __len__(self) -> int:
        return len(self._order) + len(self._active) + len(self._waiting)
