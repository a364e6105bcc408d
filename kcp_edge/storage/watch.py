"""Fan-out of committed events to watchers, and the watch stream every backend hands out.

Why this module exists: "never a gap, never a duplicate, never unbounded memory" is the hard
part of a watch, and it is the same for every backend, so it is written once. The recipe is
kine's (``pkg/logstructured``): **subscribe to live events first, then replay history after the
requested revision, then drop live events the replay already covered**. Each watcher has a
bounded buffer; a watcher that falls behind is cut off with `WatchExpiredError` (Kubernetes: 410)
instead of growing a queue: the client re-lists, exactly as after a compaction.

Concurrency: the backend's writer thread calls `Broadcaster.publish` after each durable commit;
a watch's consumer (a thread, or an asyncio task) reads from its `WatchStream`. Each
subscription has its own lock; the publisher never blocks on a consumer.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType

from kcp_edge.storage.errors import WatchExpiredError
from kcp_edge.storage.interface import Event, Revision

HistoryReader = Callable[[Revision, int], tuple[list[Event], Revision]]
"""``(after, max_records) -> (events under the prefix, last revision scanned)``.

Returns events after ``after`` in revision order and the highest revision it looked at; when
that equals ``after`` the history is exhausted. Raises `CompactedError` if ``after`` is gone.
"""

DEFAULT_WATCH_BUFFER = 10_000
_REPLAY_CHUNK = 512


class _Subscription:
    """A watcher's live buffer, filled by the publisher and drained by the consumer."""

    __slots__ = ("_async_waiter", "_cond", "_events", "closed", "limit", "overflowed", "prefix")

    def __init__(self, prefix: bytes, limit: int) -> None:
        self.prefix = prefix
        self.limit = limit
        self._events: deque[Event] = deque()
        self._cond = threading.Condition(threading.Lock())
        self._async_waiter: tuple[asyncio.AbstractEventLoop, asyncio.Event] | None = None
        self.overflowed = False
        self.closed = False

    def push(
        self, events: list[Event]
    ) -> tuple[bool, tuple[asyncio.AbstractEventLoop, asyncio.Event] | None]:
        """Called by the publisher: (still alive?, the async waiter to wake, if any).

        Waking async waiters is left to the publisher, which wakes each event loop once for
        all its waiters instead of once per watch.
        """
        with self._cond:
            if self.closed or self.overflowed:
                return False, None
            if len(self._events) + len(events) > self.limit:
                self.overflowed = True
                self._events.clear()
            else:
                self._events.extend(events)
            self._cond.notify_all()
            waiter, self._async_waiter = self._async_waiter, None
            return not self.overflowed, waiter

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()
            waiter, self._async_waiter = self._async_waiter, None
        if waiter is not None:
            _wake_loops([waiter])

    def take(self, timeout: float | None) -> list[Event]:
        with self._cond:
            if not self._events and not self.closed and not self.overflowed:
                self._cond.wait(timeout)
            return self._drain_locked()

    def take_nowait_or_arm(
        self, loop: asyncio.AbstractEventLoop, event: asyncio.Event
    ) -> list[Event]:
        """Drain what is there; if nothing, arm ``event`` to be set on the next push or close."""
        with self._cond:
            taken = self._drain_locked()
            if not taken and not self.closed and not self.overflowed:
                event.clear()
                self._async_waiter = (loop, event)
            return taken

    def _drain_locked(self) -> list[Event]:
        taken = list(self._events)
        self._events.clear()
        return taken


def _wake_loops(waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
    """Set each waiter's event from any thread: one call into each event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[asyncio.Event]] = {}
    for loop, event in waiters:
        by_loop.setdefault(loop, []).append(event)
    for loop, events in by_loop.items():
        if loop.is_closed():  # its consumers abandoned their watches: nothing to wake
            continue
        try:
            loop.call_soon_threadsafe(_set_all, events)
        except RuntimeError:
            continue  # closed meanwhile


def _set_all(events: list[asyncio.Event]) -> None:
    for event in events:
        event.set()


class Broadcaster:
    """Delivers each committed batch of events to every subscription whose prefix matches."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subs: list[_Subscription] = []
        self._ended = False

    def subscribe(self, prefix: bytes, limit: int) -> _Subscription:
        sub = _Subscription(prefix, limit)
        with self._lock:
            if not self._ended:
                self._subs.append(sub)
                return sub
        sub.close()  # shutting down: a client that reconnects gets an ended stream at once
        return sub

    def unsubscribe(self, sub: _Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subs)

    def publish(self, events: list[Event]) -> None:
        if not events:
            return
        with self._lock:
            subs = list(self._subs)
        dead: list[_Subscription] = []
        waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []
        for sub in subs:
            prefix = sub.prefix
            matching = [e for e in events if e.kv.key.startswith(prefix)] if prefix else events
            if not matching:
                continue
            alive, waiter = sub.push(matching)
            if waiter is not None:
                waiters.append(waiter)
            if not alive:
                dead.append(sub)
        if waiters:
            _wake_loops(waiters)
        if dead:
            with self._lock:
                self._subs = [s for s in self._subs if s not in dead]

    def close_all(self, *, for_good: bool = False) -> None:
        """End every subscription; ``for_good``: and every later one (server shutdown)."""
        with self._lock:
            self._ended = self._ended or for_good
            subs, self._subs = self._subs, []
        for sub in subs:
            sub.close()


class WatchStream:
    """The `Watch` every backend returns: initial state, then history, then live events.

    One consumer at a time. Events come in revision order, each once; `WatchExpiredError` is
    raised after the last event delivered if the live buffer overflowed.
    """

    def __init__(
        self,
        *,
        broadcaster: Broadcaster,
        subscription: _Subscription,
        start_revision: Revision,
        initial: list[Event],
        history: HistoryReader | None,
    ) -> None:
        self._broadcaster = broadcaster
        self._sub = subscription
        self._start = start_revision
        self._initial = initial
        self._history = history
        self._covered = start_revision  # every event <= this was delivered (or not ours)
        self._wake_event = asyncio.Event()

    @property
    def start_revision(self) -> Revision:
        return self._start

    @property
    def closed(self) -> bool:
        return self._sub.closed

    def close(self) -> None:
        self._sub.close()
        self._broadcaster.unsubscribe(self._sub)

    def __enter__(self) -> WatchStream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _from_history(self) -> list[Event] | None:
        """The next chunk of initial state or history; None once both are exhausted."""
        if self._initial:
            initial, self._initial = self._initial, []
            return initial
        while self._history is not None and not self._sub.closed:
            events, scanned = self._history(self._covered, _REPLAY_CHUNK)
            if scanned <= self._covered:
                self._history = None
                break
            self._covered = scanned
            if events:
                return events
        return None

    def _fresh(self, live: list[Event]) -> list[Event]:
        covered = self._covered
        fresh = [e for e in live if e.revision > covered]
        if fresh:
            self._covered = fresh[-1].revision
        return fresh

    def _check_expired(self) -> None:
        if self._sub.overflowed:
            self.close()
            raise WatchExpiredError(self._covered, self._sub.limit)

    def next_events(self, timeout: float | None = None) -> list[Event]:
        replay = self._from_history()
        if replay is not None:
            return replay
        while True:
            live = self._sub.take(timeout)
            if not live:
                self._check_expired()
                return []
            fresh = self._fresh(live)
            if fresh:
                return fresh

    def __iter__(self) -> Iterator[Event]:
        while not self.closed:
            yield from self.next_events()
        self._check_expired()

    async def next_batch(self, timeout: float | None = None) -> list[Event]:
        """Every event available now, waiting up to ``timeout`` s for one; [] on timeout.

        The batch form lets an event-loop consumer write many events at once; it creates no
        task per wait. Raises `WatchExpiredError` as iteration does; [] once closed.
        """
        replay = self._from_history()
        if replay is not None:
            return replay
        loop = asyncio.get_running_loop()
        wake = self._wake_event
        deadline = None if timeout is None else loop.time() + timeout
        while True:
            live = self._sub.take_nowait_or_arm(loop, wake)
            if live:
                fresh = self._fresh(live)
                if fresh:
                    return fresh
                continue
            self._check_expired()
            if self._sub.closed:
                return []
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return []
            if remaining is None:
                await wake.wait()
                continue
            timer = loop.call_later(remaining, wake.set)
            try:
                await wake.wait()
            finally:
                timer.cancel()

    def __aiter__(self) -> AsyncIterator[Event]:
        return self._aiter()

    async def _aiter(self) -> AsyncIterator[Event]:
        loop = asyncio.get_running_loop()
        wake = asyncio.Event()
        while True:
            replay = self._from_history()
            if replay is None:
                break
            for event in replay:
                yield event
        while True:
            live = self._sub.take_nowait_or_arm(loop, wake)
            if live:
                for event in self._fresh(live):
                    yield event
                continue
            self._check_expired()
            if self._sub.closed:
                return
            await wake.wait()
