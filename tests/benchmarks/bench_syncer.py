"""Syncer benchmark: how fast a workload reaches its edge cluster and its status comes back, how
long a first sync of 1,000 objects takes, and what an idle syncer costs, in pull and push mode
(issue 7).

Not a test: it prints figures next to the anchors and the issue's goals (CI machines are noisy;
nothing here asserts timing).

    .venv/bin/python tests/benchmarks/bench_syncer.py [--count 1000] [--namespaces 50]
        [--mode pull|push|both] [--rate 25] [--idle-seconds 30]

Why it exists: the syncer is why kcp-edge exists, and the issue promises it is much faster than
the multi-cluster tools people compare it with (``performance-anchors.md`` section 7): Karmada
distributes with a p99 of about 1.0-1.3 s, OCM/Maestro applies in about 0.76 s on average at a
low rate, KubeStellar takes 2-7 s end to end. Goals: p99 < 100 ms each way on loopback, initial
sync < 10 s, idle syncer < 100 MB RSS.

Setup, per mode, on 127.0.0.1 in a temporary directory, as the end-to-end tests do it
(``tests/e2e/edge.py``): two fresh ``kcp start`` servers, the control plane with Organization
``telcops`` and Universal workspace ``team-a``, and the edge with root-level Organization
workspace ``ocp-bench`` holding the real apps/v1 Deployment schema as a CRD; everything through
kubectl and the ``kubectl ws``/``kubectl kcp`` plugins. Pull mode: ``kubectl kcp workload sync
ocp-bench --syncer-image x`` and ``kcp syncer`` as its own process (admin kubeconfigs both
ways). Push mode: ``kubectl kcp workload sync ocp-bench --push --to-kubeconfig <edge>`` (the
server runs the engine in-process). The control plane runs with
``--workload-cluster-heartbeat-threshold 10m`` so that the cluster stays Ready while phase 1
keeps its syncer stopped on purpose (with the default 1 min its namespaces would be unscheduled).

Phases, each timed by watches this script holds open (an asyncio HTTPS client of its own, not
the syncer's; label selector ``workloads.kcp.dev/cluster=ocp-bench`` on both servers):

1. initial sync: the syncer stopped (pull: SIGTERM; push: the cluster switched to pull with no
   pull syncer running, and the server's journal of it removed), ``--namespaces`` namespaces
   created and scheduled, ``--count`` ConfigMaps created in them, checked absent downstream;
   then the syncer started with an empty journal (pull: a new ``--state-dir``; push: ``sync
   --push`` again) and the time from that start until the edge's watch has shown every copy;
2. create to downstream: one warm-up ConfigMap per namespace (so the downstream namespaces
   exist), then ``--count`` ConfigMaps created one at a time at ``--rate`` per second, open
   loop (a slow answer does not delay the next create, so the syncer's queueing under a burst is
   not what is measured); latency = ADDED on the edge's watch minus the create's response;
3. status to upstream: ``--count`` Deployments created in a burst (8 connections; the time
   until all are at the edge is printed as the burst figure), then each one's status PATCHed
   at the edge (``/status``, as the edge's deployment controller would) at ``--rate``;
   latency = the upstream watch's first event with that status minus the PATCH's response;
4. idle: 5 s to settle, then ``--idle-seconds`` of nothing: pull, the syncer process's VmRSS and
   CPU seconds (``/proc``); push, the control plane's RSS growth from before the engine first
   ran to now and its CPU over the idle time. Both modes do the same work, so the pull run's
   control-plane growth is the same figure without an engine in it. The engine's process RSS
   after each phase is printed too (it caches every object it syncs, both sides).

Baselines in the same run: the control plane's own watch delivery (create -> ADDED on an
upstream watch, for the same ConfigMaps) and the edge's own (status PATCH -> MODIFIED on an
edge watch, for the same Deployments). A server sends the event with the write's answer, so
timed from the answer the baseline is about 0 ms and the difference is the syncer's whole cost;
the ratio is taken with both timed from the request's start (baseline = the write's round trip).
Every wait is bounded (``--timeout``); what did not arrive is reported, not waited for, and so
are non-2xx answers and the engine's WARNING/ERROR log lines (except "not served yet" while the
first syncer waits for API import). ``--keep`` keeps the directories, logs and a
``samples.json`` of every timing, to look at the tail.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn
from urllib.parse import urlencode

import orjson

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from syncer.naming import CLUSTER_LABEL, Locator  # noqa: E402
from tests.benchmarks.common import (  # noqa: E402
    JSON_TYPE,
    Child,
    Conn,
    Kcp,
    Pool,
    line,
    met,
    new_loop,
    pct,
    run_all,
    spawn,
    start_kcp,
)
from tests.conftest import kcp_command  # noqa: E402
from tests.e2e.edge import edge_cluster  # noqa: E402
from tests.tools.shell import Shell  # noqa: E402

AGENT = "kcp-bench-syncer"
WORKSPACE = "root:telcops:team-a"
CLUSTER = "ocp-bench"
EDGE_WS = f"root:{CLUSTER}"
SELECTOR = f"{CLUSTER_LABEL}={CLUSTER}"
UP = f"/clusters/{WORKSPACE}"
DOWN = f"/clusters/{EDGE_WS}"
WORKLOAD_CLUSTER = f"{UP}/apis/workload.kcp.dev/v1alpha1/workloadclusters/{CLUSTER}"
CONFIGMAPS = "/api/v1/configmaps"
DEPLOYMENTS = "/apis/apps/v1/deployments"
MERGE = "application/merge-patch+json"
CONNS = 8
SETTLE = 5.0
STOP_TIMEOUT = 60.0
POLL = 0.1
ANCHORS = "Karmada p99 ~1.0-1.3 s, OCM ~0.76 s avg, KubeStellar 2-7 s"
GOALS = {"p99_ms": 100.0, "init_s": 10.0, "rss_mb": 100.0}
STATUS = {
    "observedGeneration": 1,
    "replicas": 1,
    "updatedReplicas": 1,
    "readyReplicas": 1,
    "availableReplicas": 1,
}

Obj = dict[str, Any]
Key = tuple[str, str]
OnEvent = Callable[[str, Obj, float], None]
Job = Callable[[], Coroutine[Any, Any, None]]
KeyOf = Callable[[Obj], Key | None]


def mb(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def bail(message: str) -> NoReturn:
    raise BenchError(message)


class BenchError(Exception):
    """A step the benchmark cannot go on without failed."""


# --- the HTTPS client -------------------------------------------------------------------------


@dataclass
class Api:
    """Admin access to one server: pooled keep-alive connections, and watches on their own."""

    name: str
    pool: Pool
    problems: collections.Counter[str] = field(default_factory=collections.Counter)

    @classmethod
    async def connect(cls, name: str, server: Kcp) -> Api:
        api = cls(name, Pool(server.port, server.ctx, server.token, AGENT))
        await api.pool.open(CONNS)
        return api

    async def ok(
        self, method: str, path: str, body: bytes = b"", content_type: str = JSON_TYPE
    ) -> bool:
        """The request, with a non-2xx answer counted as a problem."""
        status, data = await self.pool.call(method, path, body, content_type)
        if 200 <= status < 300:
            return True
        self.problems[f"{self.name}: {method} -> {status} {data[:200]!r}"] += 1
        return False

    async def get(self, path: str) -> Any:
        status, data = await self.pool.call("GET", path)
        if status != 200:
            bail(f"{self.name}: GET {path} answered {status}: {data[:500]!r}")
        return orjson.loads(data)

    async def watch(self, path: str, on_event: OnEvent) -> Watch:
        """A watch of ``path`` (label selector ``SELECTOR``) from now on; returns once the
        server has answered, so nothing written afterwards is missed or seen late."""
        query = {"labelSelector": SELECTOR}
        listed = await self.get(f"{path}?{urlencode({**query, 'limit': '1'})}")
        revision = listed["metadata"]["resourceVersion"]
        conn = await self.pool.connect()
        query.update(watch="true", resourceVersion=revision, timeoutSeconds="3600")
        status, head = await conn.head(self.pool.raw("GET", f"{path}?{urlencode(query)}"))
        if status != 200:
            bail(f"{self.name}: watch {path} answered {status}: {await conn.body(head)!r}")
        return Watch(conn, asyncio.create_task(_read_events(conn, on_event)))


@dataclass
class Watch:
    conn: Conn
    task: asyncio.Task[None]

    async def close(self) -> None:
        self.task.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await self.task
        self.conn.close()


async def _read_events(conn: Conn, on_event: OnEvent) -> None:
    buffer = b""
    async for chunk in conn.chunks():
        at = time.perf_counter()
        buffer += chunk
        *events, buffer = buffer.split(b"\n")
        for text in events:
            if text.strip():
                event = orjson.loads(text)
                on_event(event["type"], event["object"], at)


def first_seen(
    times: dict[Key, float], key_of: Callable[[Obj], Key | None], test: Callable[[str, Obj], bool]
) -> OnEvent:
    """Records when each key's first event passing ``test`` arrived."""

    def on_event(kind: str, obj: Obj, at: float) -> None:
        if test(kind, obj):
            key = key_of(obj)
            if key is not None and key not in times:
                times[key] = at

    return on_event


def added(kind: str, obj: Obj) -> bool:
    return kind == "ADDED"


def has_status(kind: str, obj: Obj) -> bool:
    return (
        kind in ("ADDED", "MODIFIED")
        and (obj.get("status") or {}).get("availableReplicas") == STATUS["availableReplicas"]
    )


async def paced(jobs: list[Job], rate: float) -> float:
    """Job ``i`` started at ``i / rate`` s, open loop; the rate achieved."""
    t0 = time.perf_counter()
    tasks: list[asyncio.Task[None]] = []
    for i, job in enumerate(jobs):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(job()))
    span = time.perf_counter() - t0
    await asyncio.gather(*tasks)
    return (len(jobs) - 1) / span if span > 0 else float("inf")


# --- the objects ------------------------------------------------------------------------------


def dumps(obj: Obj) -> bytes:
    return orjson.dumps(obj)


def configmap(name: str) -> bytes:
    return dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "labels": {"app": "bench"}},
            "data": {"payload": "x" * 256},
        }
    )


def deployment(name: str) -> bytes:
    labels = {"app": name}
    return dumps(
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name, "labels": labels},
            "spec": {
                "replicas": 1,
                "selector": {"matchLabels": labels},
                "template": {
                    "metadata": {"labels": labels},
                    "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
                },
            },
        }
    )


def spread(prefix: str, namespaces: list[str], count: int) -> list[Key]:
    """``count`` keys round-robin over ``namespaces``."""
    return [(namespaces[i % len(namespaces)], f"{prefix}-{i:04d}") for i in range(count)]


# --- one mode ---------------------------------------------------------------------------------


@dataclass
class Timed:
    """One direction's samples: when each write was sent and answered, when the writing
    server's own watch showed it (the baseline), and when the other server's watch showed the
    syncer's copy of it."""

    count: int = 0
    rate: float = float("nan")
    sent: dict[Key, float] = field(default_factory=dict)
    answered: dict[Key, float] = field(default_factory=dict)
    watched: dict[Key, float] = field(default_factory=dict)
    synced: dict[Key, float] = field(default_factory=dict)

    def since(self, seen: dict[Key, float], start: dict[Key, float]) -> list[float]:
        return [seen[k] - start[k] for k in self.answered if k in seen]

    @property
    def latency(self) -> list[float]:
        """From the write's answer to the copy's event (the figure the goal is about)."""
        return self.since(self.synced, self.answered)

    @property
    def baseline(self) -> list[float]:
        return self.since(self.watched, self.answered)

    @property
    def missing(self) -> int:
        return self.count - len(self.latency)

    def overhead(self, q: float) -> str:
        return f"{pct(self.latency, q) - pct(self.baseline, q):+.1f} ms"

    def ratio(self, q: float) -> str:
        """Copy over baseline, both timed from the request's start: the server's own event
        leaves with its answer, so timed from the answer the baseline is about 0."""
        base = pct(self.since(self.watched, self.sent), q)
        return f"{pct(self.since(self.synced, self.sent), q) / base:.1f}x" if base > 0 else "n/a"


@dataclass
class Figures:
    mode: str
    init_s: float = float("nan")
    init_first_s: float = float("nan")
    init_arrived: int = 0
    create: Timed = field(default_factory=Timed)
    burst_s: float = float("nan")
    burst_arrived: int = 0
    status: Timed = field(default_factory=Timed)
    syncer_rss: int = 0
    syncer_cpu: float = float("nan")
    server_rss_before: int = 0
    server_rss_after: int = 0
    server_cpu: float = float("nan")
    rss: list[tuple[str, int]] = field(default_factory=list)
    """The engine's process (pull: the syncer; push: the control plane) after each phase."""
    problems: list[str] = field(default_factory=list)


@dataclass
class Bench:
    """Both servers, kubectl at each, and the syncer of one mode."""

    mode: str
    args: argparse.Namespace
    work: Path
    kcp: Child
    edge: Child
    user: Shell
    edge_kubeconfig: Path
    up: Api
    down: Api
    figures: Figures
    syncer: Child | None = None
    locators: dict[str, str] = field(default_factory=dict)

    # --- helpers --------------------------------------------------------------------------------

    def namespaces(self, prefix: str) -> list[str]:
        names = [f"{prefix}-{i:02d}" for i in range(self.args.namespaces)]
        for name in names:
            self.locators[Locator(WORKSPACE, name).downstream_namespace()] = name
        return names

    def down_key(self, obj: Obj) -> Key | None:
        meta = obj.get("metadata") or {}
        namespace = self.locators.get(str(meta.get("namespace", "")))
        return None if namespace is None else (namespace, str(meta.get("name", "")))

    @staticmethod
    def up_key(obj: Obj) -> Key | None:
        meta = obj.get("metadata") or {}
        return str(meta.get("namespace", "")), str(meta.get("name", ""))

    def alive(self) -> None:
        for proc in (self.kcp, self.edge, self.syncer):
            why = "" if proc is None else proc.exited()
            if why:
                bail(why)

    async def until(self, check: Callable[[], Awaitable[bool]], what: str) -> bool:
        deadline = time.monotonic() + self.args.timeout
        while time.monotonic() < deadline:
            self.alive()
            if await check():
                return True
            await asyncio.sleep(POLL)
        self.figures.problems.append(f"timed out after {self.args.timeout:g} s: {what}")
        return False

    async def arrived(self, times: dict[Key, float], keys: Iterable[Key], what: str) -> bool:
        wanted = set(keys)

        async def check() -> bool:
            return wanted.issubset(times)

        return await self.until(check, what)

    def cpu(self) -> dict[str, float]:
        procs = {"control plane": self.kcp, "edge": self.edge, "syncer": self.syncer}
        return {name: proc.cpu() for name, proc in procs.items() if proc is not None}

    def cpu_note(self, before: dict[str, float], seconds: float) -> str:
        """CPU cores each process used since ``before`` (a syncer started since: all of it)."""
        used = {name: (cpu - before.get(name, 0.0)) / seconds for name, cpu in self.cpu().items()}
        return "cores: " + ", ".join(f"{name} {cores:.2f}" for name, cores in used.items())

    async def kubectl(self, *args: str) -> str:
        done = await asyncio.to_thread(self.user, *args)
        return done.stdout

    # --- the syncer -----------------------------------------------------------------------------

    async def start_syncer(self, state: str) -> None:
        if self.mode == "push":
            await self.kubectl(
                *("kcp", "workload", "sync", CLUSTER, "--push"),
                *("--to-kubeconfig", str(self.edge_kubeconfig)),
            )
            return
        args = [
            "syncer",
            f"--from-kubeconfig={self.work / 'upstream.kubeconfig'}",
            f"--from-cluster={WORKSPACE}",
            f"--workload-cluster-name={CLUSTER}",
            f"--to-kubeconfig={self.edge_kubeconfig}",
            f"--state-dir={self.work / state}",
        ]
        log = self.work / f"syncer-{state}.log"
        self.syncer = Child(log.name, spawn(kcp_command(*args), log), log)

    async def stop_syncer(self) -> None:
        """Pull: SIGTERM the process. Push: switch the cluster to pull, with no pull syncer
        running, and remove the server's journal of it, so the next start has an empty one."""
        if self.syncer is not None:
            note = await asyncio.to_thread(self.syncer.stop, STOP_TIMEOUT)
            if note:
                self.figures.problems.append(note)
            self.syncer = None
            return
        await self.kubectl("kcp", "workload", "sync", CLUSTER, "--syncer-image", "bench/x:1")
        await asyncio.sleep(1.0)
        journal = list((self.work / "kcp" / "syncers").glob(f"*{CLUSTER}.db*"))
        if not journal:
            self.figures.problems.append("no push journal found to remove: the start is warm")
        for file in journal:
            file.unlink()

    async def ready(self) -> bool:
        async def check() -> bool:
            cluster = await self.up.get(WORKLOAD_CLUSTER)
            conditions = (cluster.get("status") or {}).get("conditions") or []
            is_ready = any(c["type"] == "Ready" and c["status"] == "True" for c in conditions)
            status, data = await self.up.pool.call("GET", f"{UP}/apis/apps/v1")
            return is_ready and status == 200 and b'"deployments"' in data

        return await self.until(check, "the workload cluster Ready with deployments imported")

    async def scheduled(self, names: list[str]) -> bool:
        for name in names:
            body = dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
            await self.up.ok("POST", f"{UP}/api/v1/namespaces", body)

        async def check() -> bool:
            listed = await self.up.get(
                f"{UP}/api/v1/namespaces?{urlencode({'labelSelector': SELECTOR})}"
            )
            return set(names) <= {item["metadata"]["name"] for item in listed["items"] or []}

        return await self.until(check, f"{len(names)} namespaces scheduled to {CLUSTER}")

    async def create(self, resource: str, keys: list[Key], body: Callable[[str], bytes]) -> None:
        def job(key: Key) -> Job:
            async def go() -> None:
                await self.up.ok("POST", self.path(resource, key[0]), body(key[1]))

            return go

        await run_all((job(k) for k in keys), CONNS)

    @staticmethod
    def path(resource: str, namespace: str, cluster: str = UP) -> str:
        group, _, plural = resource.rpartition("/")
        return f"{cluster}{group}/namespaces/{namespace}/{plural}"

    async def timed(
        self,
        keys: list[Key],
        write: Callable[[Key], Awaitable[bool]],
        test: Callable[[str, Obj], bool],
        *,
        origin: tuple[Api, str, KeyOf],
        target: tuple[Api, str, KeyOf],
    ) -> Timed:
        """``write`` each key at ``--rate``, open loop, with a watch on the server written to
        (``origin``) and one on the server the syncer copies to (``target``)."""
        timed = Timed(len(keys))
        api, path, key_of = origin
        own = await api.watch(path, first_seen(timed.watched, key_of, test))
        api, path, key_of = target
        other = await api.watch(path, first_seen(timed.synced, key_of, test))

        def job(key: Key) -> Job:
            async def go() -> None:
                timed.sent[key] = time.perf_counter()
                if await write(key):
                    timed.answered[key] = time.perf_counter()

            return go

        try:
            timed.rate = await paced([job(k) for k in keys], self.args.rate)
            await self.arrived(timed.synced, timed.answered, f"{len(keys)} copies via {path}")
        finally:
            await own.close()
            await other.close()
        return timed

    # --- phases ---------------------------------------------------------------------------------

    async def initial_sync(self) -> None:
        f = self.figures
        names = self.namespaces("init")
        keys = spread("init", names, self.args.count)
        await self.stop_syncer()
        if not await self.scheduled(names):
            return
        await self.create(CONFIGMAPS, keys, configmap)
        listed = await self.down.get(f"{DOWN}{CONFIGMAPS}?{urlencode({'labelSelector': SELECTOR})}")
        early = [o for o in listed["items"] or [] if self.down_key(o) in set(keys)]
        if early:
            f.problems.append(f"{len(early)} objects were downstream before the syncer started")
        times: dict[Key, float] = {}
        watch = await self.down.watch(
            f"{DOWN}{CONFIGMAPS}", first_seen(times, self.down_key, added)
        )
        try:
            cpu0, t0 = self.cpu(), time.perf_counter()
            await self.start_syncer("state")
            await self.arrived(times, keys, f"initial sync of {len(keys)} ConfigMaps")
            cpu = self.cpu_note(cpu0, time.perf_counter() - t0)
        finally:
            await watch.close()
        seen = [times[k] for k in keys if k in times]
        f.init_arrived = len(seen)
        if seen:
            f.init_s = max(seen) - t0
            f.init_first_s = min(seen) - t0
        line(
            f"initial sync, {len(keys):,} ConfigMaps in {len(names)} ns",
            f"{f.init_s:.2f} s",
            f"{f.init_arrived:,}/{len(keys):,} arrived, the first after {f.init_first_s:.2f} s;"
            f" goal < {GOALS['init_s']:g} s: {met(f.init_s < GOALS['init_s'])}; {cpu}",
        )

    async def create_to_downstream(self) -> None:
        f = self.figures
        names = self.namespaces("lat")
        if not await self.scheduled(names):
            return
        warm = [(name, "warmup") for name in names]
        warm_times: dict[Key, float] = {}
        watch = await self.down.watch(
            f"{DOWN}{CONFIGMAPS}", first_seen(warm_times, self.down_key, added)
        )
        try:
            await self.create(CONFIGMAPS, warm, configmap)
            await self.arrived(warm_times, warm, "warm-up ConfigMaps downstream")
        finally:
            await watch.close()

        keys = spread("cm", names, self.args.count)

        def write(key: Key) -> Awaitable[bool]:
            return self.up.ok("POST", self.path(CONFIGMAPS, key[0]), configmap(key[1]))

        f.create = await self.timed(
            keys,
            write,
            added,
            origin=(self.up, f"{UP}{CONFIGMAPS}", self.up_key),
            target=(self.down, f"{DOWN}{CONFIGMAPS}", self.down_key),
        )
        latency_line(f"create -> downstream ADDED, {len(keys):,} ConfigMaps", f.create)
        line("", f"at {f.create.rate:.1f} creates/s", f"{f.create.missing} not downstream in time")

    async def status_to_upstream(self) -> None:
        f = self.figures
        names = self.namespaces("lat")
        keys = spread("web", names, self.args.count)
        down_times: dict[Key, float] = {}
        watch = await self.down.watch(
            f"{DOWN}{DEPLOYMENTS}", first_seen(down_times, self.down_key, added)
        )
        try:
            cpu0, t0 = self.cpu(), time.perf_counter()
            await self.create(DEPLOYMENTS, keys, deployment)
            await self.arrived(down_times, keys, "Deployments downstream")
            cpu = self.cpu_note(cpu0, time.perf_counter() - t0)
        finally:
            await watch.close()
        seen = [down_times[k] for k in keys if k in down_times]
        f.burst_arrived = len(seen)
        f.burst_s = (max(seen) - t0) if seen else float("nan")
        line(
            f"burst: {len(keys):,} Deployments, create to all at edge",
            f"{f.burst_s:.2f} s",
            f"{len(seen) / f.burst_s:,.0f} objects/s through the syncer, "
            f"{f.burst_arrived:,}/{len(keys):,} arrived ({CONNS} connections creating); {cpu}",
        )

        body = dumps({"status": STATUS})
        down_ns = {up: down for down, up in self.locators.items()}

        def write(key: Key) -> Awaitable[bool]:
            path = f"{self.path(DEPLOYMENTS, down_ns[key[0]], DOWN)}/{key[1]}/status"
            return self.down.ok("PATCH", path, body, MERGE)

        f.status = await self.timed(
            keys,
            write,
            has_status,
            origin=(self.down, f"{DOWN}{DEPLOYMENTS}", self.down_key),
            target=(self.up, f"{UP}{DEPLOYMENTS}", self.up_key),
        )
        latency_line(f"status PATCH at edge -> upstream, {len(keys):,} Deploys", f.status)
        line("", f"at {f.status.rate:.1f} patches/s", f"{f.status.missing} not upstream in time")

    async def idle(self) -> None:
        f = self.figures
        await asyncio.sleep(SETTLE)
        self.alive()
        proc = self.syncer or self.kcp
        kcp0, own0 = self.kcp.cpu(), proc.cpu()
        await asyncio.sleep(self.args.idle_seconds)
        self.alive()
        f.server_cpu = (self.kcp.cpu() - kcp0) / self.args.idle_seconds
        f.server_rss_after = self.kcp.rss()
        if self.syncer is not None:
            f.syncer_rss = self.syncer.rss()
            f.syncer_cpu = (self.syncer.cpu() - own0) / self.args.idle_seconds
            line(
                f"idle syncer process, {self.args.idle_seconds:g} s",
                f"RSS {mb(f.syncer_rss)}",
                f"CPU {f.syncer_cpu * 100:.2f}% of a core; goal < {GOALS['rss_mb']:g} MB: "
                f"{met(f.syncer_rss < GOALS['rss_mb'] * 1e6)}",
            )
        trail = ", ".join(f"{mb(rss)} after {phase}" for phase, rss in f.rss)
        line("", "the engine's process RSS", trail)
        growth = f.server_rss_after - f.server_rss_before
        line(
            "control plane RSS, before syncer -> idle",
            f"+{mb(growth)}",
            f"{mb(f.server_rss_before)} -> {mb(f.server_rss_after)}; idle CPU "
            f"{f.server_cpu * 100:.2f}% of a core"
            + ("; engine in-process" if self.mode == "push" else "; no engine in it"),
        )

    async def run(self) -> None:
        self.figures.server_rss_before = self.kcp.rss()
        if self.mode == "pull":
            await self.kubectl("kcp", "workload", "sync", CLUSTER, "--syncer-image", "bench/x:1")
        await self.start_syncer("state-first")
        if not await self.ready():
            return
        for phase in (self.initial_sync, self.create_to_downstream, self.status_to_upstream):
            await phase()
            proc = self.syncer or self.kcp
            self.figures.rss.append((phase.__name__.replace("_", " "), proc.rss()))
        await self.idle()


def latency_line(label: str, timed: Timed) -> None:
    lat, base = timed.latency, timed.baseline
    line(
        label,
        f"p50 {pct(lat, 0.5):.1f} p99 {pct(lat, 0.99):.1f} ms",
        f"max {pct(lat, 1.0):.1f} ms; goal p99 < {GOALS['p99_ms']:g} ms: "
        f"{met(pct(lat, 0.99) < GOALS['p99_ms'])}",
    )
    line(
        "  the written server's own watch (baseline)",
        f"p50 {pct(base, 0.5):.1f} p99 {pct(base, 0.99):.1f} ms",
        f"syncer - baseline: p50 {timed.overhead(0.5)} p99 {timed.overhead(0.99)}; "
        f"syncer / baseline from the request: p50 {timed.ratio(0.5)} p99 {timed.ratio(0.99)}",
    )


# --- driver -----------------------------------------------------------------------------------


async def setup(mode: str, args: argparse.Namespace, work: Path) -> Bench:
    kcp = await asyncio.to_thread(
        start_kcp,
        work / "kcp",
        work / "kcp.log",
        "--workload-cluster-heartbeat-threshold",
        "10m",
        name="kcp.log",
    )
    edge = await asyncio.to_thread(start_kcp, work / "edge", work / "edge.log", name="edge.log")
    user = Shell.of(kcp.server, work / "user")
    edge_site = Shell.of(edge.server, work / "edge-admin")
    edge_kubeconfig = await asyncio.to_thread(edge_cluster, edge_site, CLUSTER, work)
    for args_ in (
        ("ws", "use", "root"),
        ("ws", "create", "telcops", "--type", "Organization", "--enter"),
        ("ws", "create", "team-a", "--enter"),
    ):
        await asyncio.to_thread(user, *args_)
    user.snapshot(work / "upstream.kubeconfig")
    up = await Api.connect("control plane", kcp)
    down = await Api.connect("edge", edge)
    return Bench(
        mode, args, work, kcp.child, edge.child, user, edge_kubeconfig, up, down, Figures(mode)
    )


async def bench_mode(mode: str, args: argparse.Namespace, work: Path) -> Figures:
    print(f"--- {mode} mode " + "-" * 100, flush=True)
    bench = await setup(mode, args, work)
    try:
        await bench.run()
    except BenchError as exc:
        bench.figures.problems.append(str(exc))
    finally:
        bench.up.pool.close()
        bench.down.pool.close()
        for proc in (bench.syncer, bench.kcp, bench.edge):
            if proc is not None:
                note = await asyncio.to_thread(proc.stop, STOP_TIMEOUT)
                if note:
                    bench.figures.problems.append(note)
        for counter in (bench.up.problems, bench.down.problems):
            bench.figures.problems += [f"{n} x {text}" for text, n in counter.items()]
        bench.figures.problems += syncer_warnings(work, mode)
        if args.keep:
            dump_samples(bench.figures, work / "samples.json")
    return bench.figures


def dump_samples(figures: Figures, file: Path) -> None:
    """Every sample, for a look at the tail: per key, when it was sent and answered, seen on
    the written server's watch and seen synced (``time.perf_counter`` seconds)."""
    data = {
        name: {
            f"{k[0]}/{k[1]}": [t.sent.get(k), t.answered.get(k), t.watched.get(k), t.synced.get(k)]
            for k in t.sent
        }
        for name, t in (("create", figures.create), ("status", figures.status))
    }
    file.write_bytes(orjson.dumps(data))


def syncer_warnings(work: Path, mode: str) -> list[str]:
    """The engine's WARNING/ERROR log lines (the syncer's logs; in push mode the server's)."""
    files = [work / "kcp.log"] if mode == "push" else sorted(work.glob("syncer-*.log"))
    found = [
        f"{file.name}: {text}"
        for file in files
        for text in file.read_text(errors="replace").splitlines()
        if ("WARNING" in text or "ERROR" in text)
        and "kcp.syncer" in text
        and "is not served yet" not in text
    ]
    if len(found) > 8:
        found = [*found[:8], f"... and {len(found) - 8} more engine warnings"]
    return found


def summary(results: list[Figures], args: argparse.Namespace) -> None:
    print("=" * 118)
    print(f"{'figure':<44}" + "".join(f"{f.mode:>26}" for f in results) + "   goal / anchors")

    def row(name: str, cell: Callable[[Figures], str], goal: str = "") -> None:
        print(f"{name:<44}" + "".join(f"{cell(f):>26}" for f in results) + f"   {goal}")

    def p(values: list[float]) -> str:
        return f"{pct(values, 0.5):.1f} / {pct(values, 0.99):.1f} ms"

    def overhead(t: Timed) -> str:
        return f"{t.overhead(0.5)} / {t.overhead(0.99)}"

    def ratio(t: Timed) -> str:
        return f"{t.ratio(0.5)} / {t.ratio(0.99)}"

    row("create -> downstream p50 / p99", lambda f: p(f.create.latency), f"p99 < 100 ms; {ANCHORS}")
    row("  control plane's own watch p50 / p99", lambda f: p(f.create.baseline))
    row("  syncer - own watch p50 / p99", lambda f: overhead(f.create))
    row("  syncer / own watch, from the request", lambda f: ratio(f.create))
    row("  creates/s (open loop)", lambda f: f"{f.create.rate:.1f}/s")
    row("status -> upstream p50 / p99", lambda f: p(f.status.latency), "p99 < 100 ms")
    row("  edge's own watch p50 / p99", lambda f: p(f.status.baseline))
    row("  syncer - own watch p50 / p99", lambda f: overhead(f.status))
    row("  syncer / own watch, from the request", lambda f: ratio(f.status))
    row("  status PATCHes/s (open loop)", lambda f: f"{f.status.rate:.1f}/s")
    row(
        f"initial sync, {args.count:,} in {args.namespaces} ns",
        lambda f: f"{f.init_s:.2f} s (first {f.init_first_s:.2f} s)",
        "< 10 s",
    )
    row(
        f"burst, {args.count:,} Deployments to the edge",
        lambda f: f"{f.burst_s:.2f} s ({f.burst_arrived / f.burst_s:,.0f}/s)",
    )
    row(
        "idle syncer RSS / CPU",
        lambda f: (
            f"{mb(f.syncer_rss)} / {f.syncer_cpu * 100:.2f}%"
            if f.mode == "pull"
            else f"+{mb(f.server_rss_after - f.server_rss_before)} / {f.server_cpu * 100:.2f}%"
        ),
        "< 100 MB (push: the control plane's growth and CPU)",
    )
    row(
        "control plane RSS growth / idle CPU",
        lambda f: f"+{mb(f.server_rss_after - f.server_rss_before)} / {f.server_cpu * 100:.2f}%",
    )
    for f in results:
        print(f"{f.mode} problems:" + ("" if f.problems else " none"))
        for text in f.problems:
            print(f"  {text}")


def run(args: argparse.Namespace) -> None:
    print(
        f"kcp-edge syncer benchmark  python {sys.version.split()[0]}  cpus {os.cpu_count()}"
        f"  {args.count:,} objects in {args.namespaces} namespaces  rate {args.rate:g}/s"
        f"  idle {args.idle_seconds:g} s",
        flush=True,
    )
    results: list[Figures] = []
    for mode in ("pull", "push") if args.mode == "both" else (args.mode,):
        work = Path(tempfile.mkdtemp(prefix=f"kcp-bench-syncer-{mode}-"))
        loop = new_loop()
        try:
            results.append(loop.run_until_complete(bench_mode(mode, args, work)))
        finally:
            loop.close()
        if args.keep:
            print(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    summary(results, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=1000, help="objects per phase")
    parser.add_argument("--namespaces", type=int, default=50, help="namespaces per phase")
    parser.add_argument("--mode", choices=("pull", "push", "both"), default="both")
    parser.add_argument("--rate", type=float, default=25.0, help="creates and patches per second")
    parser.add_argument("--idle-seconds", type=float, default=30.0, help="idle measurement")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per wait")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directories")
    args = parser.parse_args()
    args.count = min(max(args.count, 1), 100_000)
    args.namespaces = min(max(args.namespaces, 1), args.count)
    args.rate = max(args.rate, 0.1)
    run(args)


if __name__ == "__main__":
    main()
