"""Storage benchmark: our LMDB store against raw py-lmdb, measured in the same run.

Not a test: it prints figures and ratios (CI machines are noisy; nothing here asserts timing).

    .venv/bin/python tests/benchmarks/bench_storage.py [--dir /path/on/the/disk/to/measure]

Figures, for ~1 KiB values: durable writes/s with 1 and 64 concurrent writers (threads and
asyncio tasks), p50/p99 write latency, gets/s, a 10,000-key prefix list, watch delivery to 100
subscribers; baselines: raw py-lmdb with one synced transaction per put, one synced transaction
per batch of 64 puts, raw gets, and a raw cursor scan.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import lmdb

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kcp_edge.storage import LmdbOptions, LmdbStore, WriteOp
from kcp_edge.storage.aio import write
from tests.benchmarks.common import Columns, pct

VALUE = (
    b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cm"},"data":{"k":"'
    + b"x" * 950
    + b'"}}'
)
GOALS = {
    "writes64": 5000.0,  # acknowledged durable writes/s with 64 concurrent writers
    "p99_ms": 20.0,
    "get_ratio": 0.5,
}
line = Columns(52, 16).line


def key(i: int) -> bytes:
    return f"/registry/cm/1/default/cm-{i:08d}".encode()


def raw_env(path: Path) -> lmdb.Environment:
    return lmdb.open(str(path), map_size=4 << 30, sync=True, metasync=True)


def raw_put_per_txn(path: Path, n: int) -> float:
    env = raw_env(path)
    t = time.perf_counter()
    for i in range(n):
        with env.begin(write=True) as txn:
            txn.put(key(i), VALUE)
    rate = n / (time.perf_counter() - t)
    env.close()
    return rate


def raw_put_batched(path: Path, n: int, batch: int) -> float:
    env = raw_env(path)
    t = time.perf_counter()
    for start in range(0, n, batch):
        with env.begin(write=True) as txn:
            for i in range(start, min(n, start + batch)):
                txn.put(key(i), VALUE)
    rate = n / (time.perf_counter() - t)
    env.close()
    return rate


def raw_gets_and_scan(path: Path, n: int, gets: int) -> tuple[float, float]:
    env = raw_env(path)
    with env.begin(write=True) as txn:
        for i in range(n):
            txn.put(key(i), VALUE)
    order = [key(random.randrange(n)) for _ in range(gets)]
    t = time.perf_counter()
    for k in order:
        with env.begin() as txn:
            txn.get(k)
    get_rate = gets / (time.perf_counter() - t)

    def scan_all() -> int:
        with env.begin() as txn:
            cur = txn.cursor()
            cur.set_range(b"/registry/cm/")
            return len([(k, v) for k, v in cur if k.startswith(b"/registry/cm/")])

    scan = timed(scan_all)
    assert scan_all() == n
    env.close()
    return get_rate, scan


def threaded_writes(
    store: LmdbStore, writers: int, per_writer: int, base: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []
    lock = threading.Lock()

    def work(w: int) -> None:
        mine: list[float] = []
        for i in range(per_writer):
            t = time.perf_counter()
            store.create(key(base + w * per_writer + i), VALUE)
            mine.append(time.perf_counter() - t)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work, args=(w,)) for w in range(writers)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return writers * per_writer / (time.perf_counter() - t), latencies


def async_writes(
    store: LmdbStore, writers: int, per_writer: int, base: int
) -> tuple[float, list[float]]:
    latencies: list[float] = []

    async def work(w: int) -> None:
        for i in range(per_writer):
            t = time.perf_counter()
            await write(store, WriteOp.create(key(base + w * per_writer + i), VALUE))
            latencies.append(time.perf_counter() - t)

    async def main() -> float:
        t = time.perf_counter()
        await asyncio.gather(*(work(w) for w in range(writers)))
        return time.perf_counter() - t

    elapsed = asyncio.run(main())
    return writers * per_writer / elapsed, latencies


def watch_fanout(store: LmdbStore, subscribers: int, events: int, base: int) -> float:
    watches = [store.watch(b"/registry/watched/", after_revision=0) for _ in range(subscribers)]
    done = threading.Barrier(subscribers + 1)

    def consume(w: object) -> None:
        got = 0
        while got < events:
            got += len(w.next_events(timeout=5))  # type: ignore[attr-defined]
        done.wait()

    threads = [threading.Thread(target=consume, args=(w,)) for w in watches]
    for th in threads:
        th.start()
    t = time.perf_counter()
    futures = [
        store.submit(WriteOp.create(b"/registry/watched/%08d" % (base + i), VALUE))
        for i in range(events)
    ]
    for f in futures:
        f.result()
    done.wait()
    elapsed = time.perf_counter() - t
    for w in watches:
        w.close()
    for th in threads:
        th.join()
    return subscribers * events / elapsed


def timed(fn: Callable[[], object], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=None, help="where to put the databases")
    parser.add_argument("--writes", type=int, default=3000, help="writes per write case")
    args = parser.parse_args()
    base_dir = Path(tempfile.mkdtemp(prefix="kcp-bench-", dir=args.dir))
    n = args.writes
    print(
        f"kcp-edge storage benchmark  python {sys.version.split()[0]}  lmdb {lmdb.version()}  "
        f"cpus {os.cpu_count()}  dir {base_dir}  value {len(VALUE)} B"
    )
    print("-" * 100)

    raw_sync = raw_put_per_txn(base_dir / "raw1", n)
    raw_batch = raw_put_batched(base_dir / "raw64", n * 4, 64)
    raw_get, raw_scan = raw_gets_and_scan(base_dir / "rawget", 10_000, 200_000)
    line("raw py-lmdb: 1 synced txn per put", f"{raw_sync:,.0f}/s")
    line("raw py-lmdb: 1 synced txn per 64 puts", f"{raw_batch:,.0f}/s")
    line("raw py-lmdb: get (1 read txn per get)", f"{raw_get:,.0f}/s")
    line("raw py-lmdb: cursor scan of 10,000 keys", f"{raw_scan * 1000:.2f} ms")
    print("-" * 100)

    store = LmdbStore.open(LmdbOptions(path=base_dir / "ours"))
    w1, lat1 = threaded_writes(store, 1, n, 0)
    line(
        "ours: durable writes/s, 1 writer",
        f"{w1:,.0f}/s",
        f"ratio {w1 / raw_sync:.2f} of raw 1-txn-per-put",
    )
    line(
        "ours: write latency p50 / p99, 1 writer",
        f"{pct(lat1, 0.5):.2f} / {pct(lat1, 0.99):.2f} ms",
    )
    w64, lat64 = threaded_writes(store, 64, max(1, n * 4 // 64), 10_000_000)
    line(
        "ours: durable writes/s, 64 writer threads",
        f"{w64:,.0f}/s",
        f"ratio {w64 / raw_batch:.2f} of raw 64-per-txn, {w64 / raw_sync:.1f}x raw 1-per-txn; "
        f"goal >= {GOALS['writes64']:,.0f}/s",
    )
    line(
        "ours: write latency p50 / p99, 64 threads",
        f"{pct(lat64, 0.5):.2f} / {pct(lat64, 0.99):.2f} ms",
        f"goal p99 < {GOALS['p99_ms']} ms",
    )
    a64, alat = async_writes(store, 64, max(1, n * 4 // 64), 20_000_000)
    line(
        "ours: durable writes/s, 64 asyncio tasks",
        f"{a64:,.0f}/s",
        f"ratio {a64 / raw_batch:.2f} of raw 64-per-txn; goal >= {GOALS['writes64']:,.0f}/s",
    )
    line(
        "ours: write latency p50 / p99, 64 tasks",
        f"{pct(alat, 0.5):.2f} / {pct(alat, 0.99):.2f} ms",
        f"goal p99 < {GOALS['p99_ms']} ms",
    )
    store.close()

    store = LmdbStore.open(LmdbOptions(path=base_dir / "reads"))
    futures = [store.submit(WriteOp.create(key(i), VALUE)) for i in range(10_000)]
    for f in futures:
        f.result()
    order = [key(random.randrange(10_000)) for _ in range(100_000)]
    env, keys_db = store._env, store._keys  # raw py-lmdb on the very same file, interleaved

    def ours_gets() -> None:
        for k in order:
            store.get(k)

    def raw_gets() -> None:
        for k in order:
            with env.begin() as txn:
                txn.get(k, db=keys_db)

    ours_t = raw_t = float("inf")
    for _ in range(5):
        ours_t = min(ours_t, timed(ours_gets, 1))
        raw_t = min(raw_t, timed(raw_gets, 1))
    get_rate = len(order) / ours_t
    line("raw py-lmdb get on the same file, interleaved", f"{len(order) / raw_t:,.0f}/s")
    line(
        "ours: get",
        f"{get_rate:,.0f}/s",
        f"ratio {raw_t / ours_t:.2f} of raw; goal >= {GOALS['get_ratio']:.2f}",
    )
    scan = timed(lambda: store.list(b"/registry/cm/"))
    assert len(store.list(b"/registry/cm/").items) == 10_000
    line(
        "ours: list of a 10,000-key prefix",
        f"{scan * 1000:.2f} ms",
        f"ratio {raw_scan / scan:.2f} of raw scan speed ({10_000 / scan:,.0f} keys/s)",
    )
    page = timed(lambda: store.list(b"/registry/cm/", limit=500))
    line("ours: first page of 500 of that prefix", f"{page * 1000:.2f} ms")
    fan = watch_fanout(store, 100, 1000, 0)
    line(
        "ours: watch delivery, 100 subscribers x 1000 events",
        f"{fan:,.0f} ev/s",
        f"({fan / 100:,.0f} writes/s fully fanned out)",
    )
    store.close()


if __name__ == "__main__":
    main()
