"""`bounded`: a time limit on an awaitable that never loses the caller's cancellation."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from syncer.kubehttp import bounded

Limiter = Callable[[Awaitable[Any], float], Awaitable[Any]]


def _cancelled_as_the_inner_finishes(limit: Limiter) -> str:
    """Cancel the caller in the very loop step in which its inner awaitable completes."""

    async def scenario() -> str:
        inner: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        caller = asyncio.create_task(limit(inner, 5.0))
        await asyncio.sleep(0)  # the caller now waits on the inner future
        inner.set_result(1)
        caller.cancel()
        try:
            await caller
        except asyncio.CancelledError:
            return "cancelled"
        return "cancellation lost"

    return asyncio.run(scenario())


def test_a_cancellation_racing_the_result_is_kept() -> None:
    assert _cancelled_as_the_inner_finishes(bounded) == "cancelled"


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="wait_for keeps it from Python 3.12 on")
def test_asyncio_wait_for_loses_it_which_is_why_bounded_exists() -> None:
    assert _cancelled_as_the_inner_finishes(asyncio.wait_for) == "cancellation lost"


def test_results_timeouts_and_no_limit() -> None:
    async def scenario() -> None:
        assert await bounded(asyncio.sleep(0, result="done"), 1.0) == "done"
        assert await bounded(asyncio.sleep(0, result="free"), None) == "free"
        cancelled = asyncio.Event()

        async def slow() -> None:
            try:
                await asyncio.sleep(10)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        with pytest.raises(TimeoutError):
            await bounded(slow(), 0.01)
        assert cancelled.is_set()  # the inner work was stopped before the timeout was raised

    asyncio.run(scenario())
