"""The storage contract, behaviour by behaviour (names follow k8s.io/apiserver's storage tests).

Written against `kcp_edge.storage.Store` only, so every backend runs it (see conftest.py).
"""

from __future__ import annotations

import asyncio
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from kcp_edge.storage import (
    MAX_KEY_BYTES,
    CompactedError,
    EventType,
    FutureRevisionError,
    InvalidContinueError,
    InvalidKeyError,
    StorageFullError,
    StoreClosedError,
    WatchExpiredError,
    WriteOp,
)
from kcp_edge.storage.aio import write
from kcp_edge.storage.interface import Event, Store

from .conftest import StoreFactory


def _drain(watch, want: int, timeout: float = 10.0) -> list[Event]:  # type: ignore[no-untyped-def]
    got: list[Event] = []
    deadline = threading.Event()
    timer = threading.Timer(timeout, deadline.set)
    timer.start()
    try:
        while len(got) < want and not deadline.is_set():
            got.extend(watch.next_events(timeout=0.2))
    finally:
        timer.cancel()
    return got


# -- create, get, update, delete ---------------------------------------------------------------


def test_create_assigns_increasing_revisions_and_get_returns_the_value(store: Store) -> None:
    a = store.create(b"/r/a", b"1")
    b = store.create(b"/r/b", b"2")
    assert a.succeeded and b.succeeded
    assert b.revision == a.revision + 1
    assert store.current_revision == b.revision
    got = store.get(b"/r/a")
    assert got is not None
    assert (got.value, got.create_revision, got.mod_revision) == (b"1", a.revision, a.revision)


def test_create_with_key_exist_is_a_result_with_the_existing_object(store: Store) -> None:
    first = store.create(b"/r/a", b"1")
    again = store.create(b"/r/a", b"2")
    assert not again.succeeded
    assert again.kv is not None and again.kv.value == b"1"
    assert again.kv.mod_revision == first.revision
    assert store.current_revision == first.revision  # a failed write takes no revision


def test_get_of_a_missing_key_is_none(store: Store) -> None:
    assert store.get(b"/r/nothing") is None


def test_get_after_delete_is_none_and_create_after_delete_starts_a_new_incarnation(
    store: Store,
) -> None:
    created = store.create(b"/r/a", b"1")
    deleted = store.delete(b"/r/a")
    assert deleted.succeeded and deleted.kv is not None and deleted.kv.value == b"1"
    assert store.get(b"/r/a") is None
    again = store.create(b"/r/a", b"2")
    assert again.succeeded and again.kv is not None
    assert again.kv.create_revision == again.revision > created.revision


def test_update_bumps_mod_revision_and_keeps_create_revision(store: Store) -> None:
    created = store.create(b"/r/a", b"1")
    updated = store.update(b"/r/a", b"2", expected_revision=created.revision)
    assert updated.succeeded and updated.kv is not None
    assert updated.kv.create_revision == created.revision
    assert updated.kv.mod_revision == updated.revision == created.revision + 1


def test_update_with_stale_revision_is_a_conflict_result_with_the_current_object(
    store: Store,
) -> None:
    created = store.create(b"/r/a", b"1")
    store.update(b"/r/a", b"2", expected_revision=created.revision)
    stale = store.update(b"/r/a", b"3", expected_revision=created.revision)
    assert not stale.succeeded
    assert stale.kv is not None and stale.kv.value == b"2"
    assert store.get(b"/r/a").value == b"2"  # type: ignore[union-attr]


def test_update_of_a_missing_key_fails_with_no_current_object(store: Store) -> None:
    result = store.update(b"/r/a", b"1", expected_revision=0)
    assert not result.succeeded and result.kv is None


def test_conditional_delete_with_stale_revision_keeps_the_object(store: Store) -> None:
    created = store.create(b"/r/a", b"1")
    updated = store.update(b"/r/a", b"2", expected_revision=created.revision)
    stale = store.delete(b"/r/a", expected_revision=created.revision)
    assert not stale.succeeded and stale.kv is not None
    assert stale.kv.mod_revision == updated.revision
    fresh = store.delete(b"/r/a", expected_revision=updated.revision)
    assert fresh.succeeded
    assert store.delete(b"/r/a").succeeded is False


def test_writes_in_one_group_commit_see_each_other(store: Store) -> None:
    futures = [store.submit(WriteOp.create(b"/r/a", str(i).encode())) for i in range(50)]
    results = [f.result() for f in futures]
    assert sum(r.succeeded for r in results) == 1
    assert results[0].succeeded  # submission order is application order


def test_guaranteed_update_from_many_threads_loses_no_increment(store: Store) -> None:
    store.create(b"/r/counter", b"0")

    def increment() -> None:
        while True:
            cur = store.get(b"/r/counter")
            assert cur is not None
            nxt = str(int(cur.value) + 1).encode()
            if store.update(b"/r/counter", nxt, expected_revision=cur.mod_revision).succeeded:
                return

    with ThreadPoolExecutor(8) as pool:
        for f in [pool.submit(increment) for _ in range(200)]:
            f.result()
    assert store.get(b"/r/counter").value == b"200"  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("key", "reason"),
    [(b"", "empty"), (b"/x" * 300, "too long"), (b"/a\x00b", "NUL")],
)
def test_invalid_keys_are_rejected_before_anything_is_written(
    store: Store, key: bytes, reason: str
) -> None:
    with pytest.raises(InvalidKeyError):
        store.create(key, b"v")
    assert store.current_revision == 0, reason


def test_the_longest_allowed_key_is_accepted(store: Store) -> None:
    key = b"/" + b"k" * (MAX_KEY_BYTES - 1)
    assert store.create(key, b"v").succeeded
    assert store.get(key) is not None


def test_writes_from_an_event_loop_are_awaited_without_blocking_it(store: Store) -> None:
    async def main() -> list[bool]:
        results = await asyncio.gather(
            *(write(store, WriteOp.create(f"/r/{i}".encode(), b"v")) for i in range(64))
        )
        return [r.succeeded for r in results]

    assert all(asyncio.run(main()))
    assert store.count(b"/r/") == 64


# -- reads at a revision -----------------------------------------------------------------------


def test_get_at_a_past_revision_sees_that_version(store: Store) -> None:
    r1 = store.create(b"/r/a", b"1").revision
    r2 = store.update(b"/r/a", b"2", expected_revision=r1).revision
    r3 = store.delete(b"/r/a").revision
    r4 = store.create(b"/r/a", b"4").revision
    assert store.get(b"/r/a", revision=r1).value == b"1"  # type: ignore[union-attr]
    assert store.get(b"/r/a", revision=r2).value == b"2"  # type: ignore[union-attr]
    assert store.get(b"/r/a", revision=r3) is None
    assert store.get(b"/r/a", revision=r4).value == b"4"  # type: ignore[union-attr]


def test_get_at_a_future_revision_fails(store: Store) -> None:
    store.create(b"/r/a", b"1")
    with pytest.raises(FutureRevisionError):
        store.get(b"/r/a", revision=store.current_revision + 1)


# -- list --------------------------------------------------------------------------------------


def test_list_returns_only_keys_under_the_prefix_in_key_order(store: Store) -> None:
    for key in [b"/r/b", b"/r/a", b"/rr/x", b"/q/z", b"/r/c"]:
        store.create(key, key)
    store.delete(b"/r/c")
    result = store.list(b"/r/")
    assert [kv.key for kv in result.items] == [b"/r/a", b"/r/b"]
    assert result.revision == store.current_revision
    assert result.continue_token is None
    assert store.count(b"/r/") == 2


def test_list_continuation_stays_consistent_while_writes_continue(store: Store) -> None:
    for i in range(10):
        store.create(f"/r/{i:02d}".encode(), b"old")
    first = store.list(b"/r/", limit=4)
    assert [kv.key for kv in first.items] == [f"/r/{i:02d}".encode() for i in range(4)]
    assert first.continue_token is not None
    # Writes after the first page: none of them may show in the following pages.
    store.update(b"/r/05", b"new", expected_revision=0)
    store.delete(b"/r/06")
    store.create(b"/r/04a", b"new")
    store.create(b"/r/99", b"new")
    pages = [first]
    while pages[-1].continue_token is not None:
        pages.append(store.list(b"/r/", limit=4, continue_token=pages[-1].continue_token))
    seen = [kv for page in pages for kv in page.items]
    assert [kv.key for kv in seen] == [f"/r/{i:02d}".encode() for i in range(10)]
    assert {kv.value for kv in seen} == {b"old"}
    assert {page.revision for page in pages} == {first.revision}


def test_list_at_an_exact_limit_has_no_continue(store: Store) -> None:
    for i in range(4):
        store.create(f"/r/{i}".encode(), b"v")
    assert store.list(b"/r/", limit=4).continue_token is None


def test_list_continue_whose_revision_was_compacted_fails_as_expired(store: Store) -> None:
    for i in range(5):
        store.create(f"/r/{i}".encode(), b"v")
    page = store.list(b"/r/", limit=2)
    store.update(b"/r/0", b"w", expected_revision=0)
    store.compact(store.current_revision)
    with pytest.raises(CompactedError) as caught:
        store.list(b"/r/", limit=2, continue_token=page.continue_token)
    fresh = caught.value.continue_token
    assert fresh is not None
    rest = store.list(b"/r/", continue_token=fresh)
    assert [kv.key for kv in rest.items] == [b"/r/2", b"/r/3", b"/r/4"]
    assert rest.revision == store.current_revision


def test_list_with_a_foreign_continue_token_is_invalid(store: Store) -> None:
    for i in range(3):
        store.create(f"/r/{i}".encode(), b"v")
        store.create(f"/s/{i}".encode(), b"v")
    token = store.list(b"/s/", limit=1).continue_token
    with pytest.raises(InvalidContinueError):
        store.list(b"/r/", continue_token=token)
    with pytest.raises(InvalidContinueError):
        store.list(b"/r/", continue_token="not-a-token")


def test_list_at_a_past_revision_sees_the_state_of_then(store: Store) -> None:
    store.create(b"/r/a", b"1")
    rev = store.create(b"/r/b", b"1").revision
    store.delete(b"/r/a")
    store.update(b"/r/b", b"2", expected_revision=0)
    store.create(b"/r/c", b"1")
    then = store.list(b"/r/", revision=rev)
    assert [(kv.key, kv.value) for kv in then.items] == [(b"/r/a", b"1"), (b"/r/b", b"1")]


# -- watch -------------------------------------------------------------------------------------


def test_watch_from_zero_sends_the_current_state_then_changes(store: Store) -> None:
    store.create(b"/r/a", b"1")
    store.create(b"/r/b", b"1")
    store.create(b"/other", b"1")
    with store.watch(b"/r/", after_revision=0) as watch:
        assert watch.start_revision == store.current_revision
        store.update(b"/r/a", b"2", expected_revision=0)
        store.delete(b"/r/b")
        events = _drain(watch, 4)
    assert [(e.type, e.kv.key, e.kv.value) for e in events] == [
        (EventType.PUT, b"/r/a", b"1"),
        (EventType.PUT, b"/r/b", b"1"),
        (EventType.PUT, b"/r/a", b"2"),
        (EventType.DELETE, b"/r/b", b"1"),
    ]


def test_watch_from_a_revision_replays_history_after_it_then_goes_live(store: Store) -> None:
    r1 = store.create(b"/r/a", b"1").revision
    store.update(b"/r/a", b"2", expected_revision=r1)
    store.create(b"/x/ignored", b"1")
    store.delete(b"/r/a")
    with store.watch(b"/r/", after_revision=r1) as watch:
        store.create(b"/r/b", b"live")
        events = _drain(watch, 3)
    assert [(e.type, e.kv.key, e.kv.value) for e in events] == [
        (EventType.PUT, b"/r/a", b"2"),
        (EventType.DELETE, b"/r/a", b"2"),
        (EventType.PUT, b"/r/b", b"live"),
    ]
    assert events[-1].is_create
    revisions = [e.revision for e in events]
    assert revisions == sorted(revisions)


def test_watch_from_a_compacted_revision_fails_at_once(store: Store) -> None:
    for i in range(5):
        store.create(f"/r/{i}".encode(), b"v")
    store.compact(4)
    with pytest.raises(CompactedError):
        store.watch(b"/r/", after_revision=2)
    with store.watch(b"/r/", after_revision=4) as watch:
        assert [e.kv.key for e in _drain(watch, 1)] == [b"/r/4"]


def test_watch_from_the_future_fails(store: Store) -> None:
    with pytest.raises(FutureRevisionError):
        store.watch(b"/r/", after_revision=store.current_revision + 5)


def test_watch_while_many_threads_write_sees_every_event_once_in_order(store: Store) -> None:
    writers, per_writer = 8, 150
    base = store.create(b"/w/seed", b"0").revision
    with store.watch(b"/w/", after_revision=base) as watch:
        # A second watch joins mid-stream from a past revision: replay and live must join up.
        def write_many(n: int) -> None:
            for i in range(per_writer):
                key = f"/w/{n}/{i % 7}".encode()
                if not store.create(key, b"c").succeeded:
                    store.update(key, str(i).encode(), expected_revision=0)

        with ThreadPoolExecutor(writers) as pool:
            futures = [pool.submit(write_many, n) for n in range(writers)]
            late = store.watch(b"/w/", after_revision=base)
            for f in futures:
                f.result()
        total = store.current_revision - base
        events = _drain(watch, total)
        late_events = _drain(late, total)
        late.close()
    for got in (events, late_events):
        revisions = [e.revision for e in got]
        assert revisions == list(range(base + 1, store.current_revision + 1))


def test_watch_is_iterable_from_an_event_loop(store: Store) -> None:
    async def main() -> list[bytes]:
        watch = store.watch(b"/r/", after_revision=0)
        got: list[bytes] = []

        async def consume() -> None:
            async for event in watch:
                got.append(event.kv.key)
                if len(got) == 3:
                    watch.close()

        task = asyncio.create_task(consume())
        for i in range(3):
            await write(store, WriteOp.create(f"/r/{i}".encode(), b"v"))
        await asyncio.wait_for(task, 10)
        return got

    assert asyncio.run(main()) == [b"/r/0", b"/r/1", b"/r/2"]


def test_a_slow_watcher_is_cut_off_as_too_old_instead_of_buffering_without_bound(
    open_store: StoreFactory,
) -> None:
    store = open_store(watch_buffer=10)
    watch = store.watch(b"/r/", after_revision=0)
    for i in range(20):
        store.create(f"/r/{i}".encode(), b"v")
    with pytest.raises(WatchExpiredError):
        list(watch)
    assert watch.closed


def test_closing_the_store_ends_watches_and_refuses_writes(open_store: StoreFactory) -> None:
    store = open_store()
    watch = store.watch(b"/r/", after_revision=0)
    store.close()
    assert list(watch) == []
    with pytest.raises(StoreClosedError):
        store.create(b"/r/a", b"v")


# -- compaction --------------------------------------------------------------------------------


def test_compaction_keeps_the_latest_version_of_every_key(store: Store) -> None:
    r1 = store.create(b"/r/a", b"1").revision
    store.update(b"/r/a", b"2", expected_revision=r1)
    store.create(b"/r/b", b"1")
    store.create(b"/r/gone", b"1")
    store.delete(b"/r/gone")
    store.compact(store.current_revision)
    assert store.compact_revision == store.current_revision
    assert [(kv.key, kv.value) for kv in store.list(b"/r/").items] == [
        (b"/r/a", b"2"),
        (b"/r/b", b"1"),
    ]
    with pytest.raises(CompactedError):
        store.get(b"/r/a", revision=r1)
    assert store.create(b"/r/gone", b"again").succeeded


def test_reads_at_the_compact_revision_still_see_versions_written_before_it(
    store: Store,
) -> None:
    r1 = store.create(b"/r/a", b"1").revision
    store.create(b"/r/b", b"1")
    kept = store.current_revision
    store.update(b"/r/a", b"2", expected_revision=r1)
    store.delete(b"/r/b")
    store.compact(kept)
    then = store.list(b"/r/", revision=kept)
    assert [(kv.key, kv.value) for kv in then.items] == [(b"/r/a", b"1"), (b"/r/b", b"1")]
    assert store.get(b"/r/a", revision=kept).value == b"1"  # type: ignore[union-attr]
    with store.watch(b"/r/", after_revision=kept) as watch:
        assert [e.type for e in _drain(watch, 2)] == [EventType.PUT, EventType.DELETE]


def test_compaction_is_idempotent_and_refuses_the_future(store: Store) -> None:
    for i in range(4):
        store.create(f"/r/{i}".encode(), b"v")
    store.compact(3)
    store.compact(2)
    store.compact(3)
    assert store.compact_revision == 3
    with pytest.raises(FutureRevisionError):
        store.compact(store.current_revision + 1)


def test_compaction_of_a_long_history_in_chunks_keeps_reads_correct(store: Store) -> None:
    keys = [f"/r/{i:03d}".encode() for i in range(50)]
    for key in keys:
        store.create(key, b"0")
    for round_ in range(1, 60):
        for key in keys[:: round_ % 5 + 1]:
            store.update(key, str(round_).encode(), expected_revision=0)
    mid = store.current_revision - 100
    expected = {kv.key: kv.value for kv in store.list(b"/r/", revision=mid).items}
    store.compact(mid)
    assert {kv.key: kv.value for kv in store.list(b"/r/", revision=mid).items} == expected
    store.compact(store.current_revision)
    assert store.count(b"/r/") == 50


def test_state_and_revisions_survive_a_reopen(open_store: StoreFactory) -> None:
    store = open_store()
    store.create(b"/r/a", b"1")
    store.create(b"/r/b", b"1")
    store.compact(1)
    rev = store.current_revision
    store.close()
    again = open_store()
    assert again.current_revision == rev
    assert again.compact_revision == 1
    assert again.create(b"/r/c", b"1").revision == rev + 1


# -- size limits -------------------------------------------------------------------------------


def test_a_full_store_refuses_writes_clearly_and_stays_readable(open_store: StoreFactory) -> None:
    store = open_store(initial_map_size=1 << 20, max_map_size=4 << 20)
    acked: list[bytes] = []
    with pytest.raises(StorageFullError, match="size limit"):
        for i in range(100_000):
            key = f"/r/{i:06d}".encode()
            store.create(key, b"x" * 1024)
            acked.append(key)
    assert len(acked) > 1000  # the map grew from 1 MiB before it hit the limit
    rev = store.current_revision
    assert store.count(b"/r/") == len(acked)
    assert store.get(acked[-1]) is not None
    # Nothing of the failed batch was applied, and the store still serves reads and watches.
    assert store.current_revision == rev
    with store.watch(b"/r/", after_revision=rev - 1) as watch:
        assert [e.kv.key for e in _drain(watch, 1)] == [acked[-1]]


def test_reads_from_many_threads_stay_correct_while_the_map_grows(
    open_store: StoreFactory,
) -> None:
    store = open_store(initial_map_size=1 << 20)
    store.create(b"/r/fixed", b"fixed")
    stop = threading.Event()
    failures: list[str] = []

    def read() -> None:
        while not stop.is_set():
            kv = store.get(b"/r/fixed")
            if kv is None or kv.value != b"fixed":
                failures.append(f"get saw {kv!r}")
            if store.list(b"/r/fixed").items[0].value != b"fixed":
                failures.append("list lost the key")

    readers = [threading.Thread(target=read) for _ in range(4)]
    for t in readers:
        t.start()
    try:
        futures = [store.submit(WriteOp.create(b"/g/%06d" % i, b"x" * 2048)) for i in range(4000)]
        assert all(f.result().succeeded for f in futures)
    finally:
        stop.set()
        for t in readers:
            t.join()
    assert failures == []
    assert store.count(b"/g/") == 4000


def test_next_batch_returns_everything_available_and_times_out_empty(store: Store) -> None:
    async def main() -> tuple[list[bytes], list[bytes]]:
        watch = store.watch(b"/r/", after_revision=0)
        for i in range(3):
            await write(store, WriteOp.create(f"/r/{i}".encode(), b"v"))
        got = await watch.next_batch(5)
        while len(got) < 3:
            got += await watch.next_batch(5)
        empty = await watch.next_batch(0.05)
        watch.close()
        return [e.kv.key for e in got], [e.kv.key for e in empty]

    got, empty = asyncio.run(main())
    assert got == [b"/r/0", b"/r/1", b"/r/2"]
    assert empty == []
