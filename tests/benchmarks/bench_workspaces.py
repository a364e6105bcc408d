"""Workspace benchmark: a tree of 10,000 workspaces on one real ``kcp start``, created, made
Ready and deleted, with the server's memory, disk and GET latency around it (issue 5).

Not a test: it prints figures next to kcp's anchors and the issue's goals (CI machines are
noisy; nothing here asserts timing).

    .venv/bin/python tests/benchmarks/bench_workspaces.py [--count 10000] [--clients 16]

Why it exists: workspaces are what make the server multi-tenant, and the issue promises they
are cheap where kcp's are not (kcp, ``performance-anchors.md``: about 8 workspaces/s on 3
shards, 7.4-9.8 MiB of memory per empty workspace, about an hour to delete a 10,000-tree).
Goals: >= 200 workspaces/s created to Ready, < 64 KiB of RAM per empty workspace, the whole
10,000-tree deleted in < 60 s, and no GET slowdown with 10,000 workspaces present.

What it does, on 127.0.0.1 in a temporary root directory:

1. starts ``kcp start``, stores one ConfigMap in ``root:default`` and times 2,000 sequential
   GETs of it on one keep-alive connection (p50/p99); reads the server's RSS (``VmRSS`` in
   ``/proc/<pid>/status``) and the LMDB data file's allocated size (``st_blocks * 512``: the
   map file is sparse, its apparent size is the map size);
2. creates the tree level by level -- organizations in ``root``, teams in each organization,
   Universal workspaces in each team (10 x 10 x ~99 for 10,000) -- with ``--clients``
   concurrent keep-alive HTTPS connections (an asyncio client), waiting after each level until
   every workspace of it is ``Ready`` by polling the list of workspaces of each parent still
   pending (a child can only be created once its parent is a logical cluster); the rate is the
   count over the time from the first POST to the last workspace seen Ready;
3. reads RSS and disk again (growth / count = cost per empty workspace; RSS is shown split into
   anonymous memory, the Python heap, and file pages, mostly the LMDB map the server touched),
   checks the wildcard list holds every workspace, and times the 2,000 GETs again (ratio
   after/before). The disk figure includes the history of the three writes per workspace
   (create, ``default`` namespace, status): the server compacts every 300 s by default, which
   a run of a few minutes does not reach, and LMDB never shrinks its file;
4. deletes every organization (one DELETE each) and waits until ``root`` lists none of them and
   the wildcard lists no workspace or namespace of the tree, then GETs once more.

The server's CPU time per phase (``/proc/<pid>/stat``) is printed too, so a slow phase shows
whether the server or the client was the limit. Every wait is bounded (``--timeout``).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import functools
import json
import os
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.common import (
    Columns,
    Kcp,
    Pool,
    finish,
    met,
    new_loop,
    pct,
    run_all,
    start_kcp,
)

AGENT = "kcp-bench-workspaces"
WS_API = "/apis/tenancy.kcp.dev/v1beta1/workspaces"
GET_CLUSTER = "root:default"
GET_PATH = f"/clusters/{GET_CLUSTER}/api/v1/namespaces/default/configmaps/bench-cm"
GET_COUNT = 2000
GET_WARMUP = 200
POLL_SECONDS = 0.2
POLL_CONNS = 4
ORGS, TEAMS = 10, 10
ANCHORS = {"rate": "kcp ~8/s", "rss": "kcp 7.4-9.8 MiB", "delete": "kcp ~1 hour for 10,000"}
GOALS = {"rate": 200.0, "rss_kib": 64.0, "delete_s": 60.0}
MEMORY = ("VmRSS", "RssAnon", "RssFile")
line = Columns(44, 28).line


# --- the tree ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Spec:
    parent: str
    name: str
    type: str

    @property
    def cluster(self) -> str:
        return f"{self.parent}:{self.name}"

    def body(self) -> bytes:
        return json.dumps(
            {
                "apiVersion": "tenancy.kcp.dev/v1beta1",
                "kind": "Workspace",
                "metadata": {"name": self.name},
                "spec": {"type": self.type},
            },
            separators=(",", ":"),
        ).encode()


def plan(count: int) -> list[list[Spec]]:
    """Organizations, teams and Universal workspaces adding up to ``count`` (10 x 10 x ~99 for
    10,000; fewer organizations and teams when ``count`` is too small for 10 x 10)."""
    orgs, teams = ORGS, TEAMS
    while orgs > 1 and count < orgs * (1 + 2 * teams):
        orgs -= 1
    while teams > 1 and count < orgs * (1 + 2 * teams):
        teams -= 1
    level1 = [Spec("root", f"org-{o:02d}", "Organization") for o in range(orgs)]
    level2 = [Spec(org.cluster, f"team-{t:02d}", "Team") for org in level1 for t in range(teams)]
    leaves = max(0, count - len(level1) - len(level2))
    level3 = [
        Spec(team.cluster, f"ws-{u:03d}", "Universal")
        for i, team in enumerate(level2)
        for u in range(leaves // len(level2) + (1 if i < leaves % len(level2) else 0))
    ]
    return [lvl for lvl in (level1, level2, level3) if lvl]


# --- the server and the client ----------------------------------------------------------------


def check(server: Kcp) -> None:
    why = server.child.exited()
    if why:
        sys.exit(why)


def disk(server: Kcp) -> int:
    """Bytes allocated to the LMDB data file (sparse: blocks, not the apparent size)."""
    files = list(server.root.rglob("data.mdb"))
    return sum(f.stat().st_blocks * 512 for f in files)


async def settled(server: Kcp) -> tuple[dict[str, int], int]:
    """After a second to settle: ``VmRSS``, ``RssAnon`` and ``RssFile`` in bytes (file: mostly
    the LMDB map's pages), and the LMDB data file's allocated bytes."""
    await asyncio.sleep(1.0)
    return server.child.memory(*MEMORY), disk(server)


@dataclass
class Client:
    """A pool of keep-alive connections to the server, and what went wrong."""

    server: Kcp
    pool: Pool
    timeout: float
    problems: list[str] = field(default_factory=list)

    async def must(self, method: str, path: str, body: bytes = b"") -> Any:
        status, data = await self.pool.call(method, path, body)
        if not 200 <= status < 300:
            sys.exit(f"{method} {path} answered {status}: {data[:800]!r}")
        return json.loads(data)

    async def gets(self, count: int) -> list[float]:
        """``count`` sequential GETs of the benchmark ConfigMap on one connection."""
        conn = await self.pool.connect()
        raw = self.pool.raw("GET", GET_PATH)
        latencies: list[float] = []
        try:
            for _ in range(count):
                t0 = time.perf_counter()
                status, data = await asyncio.wait_for(conn.request(raw), 30)
                latencies.append(time.perf_counter() - t0)
                if status != 200:
                    sys.exit(f"GET {GET_PATH} answered {status}: {data[:800]!r}")
        finally:
            conn.close()
        return latencies


# --- the phases -------------------------------------------------------------------------------


@dataclass
class Level:
    label: str
    count: int
    create_s: float
    ready_s: float
    post_latencies: list[float]
    server_cpu: float


async def create_level(client: Client, specs: list[Spec], clients: int, label: str) -> Level:
    server = client.server
    cpu0 = server.child.cpu()
    latencies: list[float] = []
    failed: collections.Counter[int] = collections.Counter()

    def job(spec: Spec) -> Callable[[], Awaitable[None]]:
        async def go() -> None:
            path = f"/clusters/{spec.parent}{WS_API}"
            for attempt in range(5):
                t0 = time.perf_counter()
                status, data = await client.pool.call("POST", path, spec.body())
                if status == 201:
                    latencies.append(time.perf_counter() - t0)
                    return
                failed[status] += 1
                if len(client.problems) < 10:
                    client.problems.append(
                        f"POST {path} {spec.name} (attempt {attempt + 1}): {status} {data[:300]!r}"
                    )
                if status == 409:
                    return
                await asyncio.sleep(0.2 * (attempt + 1))

        return go

    t0 = time.perf_counter()
    await run_all((job(s) for s in specs), clients)
    created = time.perf_counter()
    check(server)
    await wait_ready(client, specs)
    ready = time.perf_counter()
    if failed:
        client.problems.append(f"{label}: non-201 answers to POST: {dict(failed)}")
    return Level(label, len(specs), created - t0, ready - t0, latencies, server.child.cpu() - cpu0)


async def list_names(client: Client, parent: str) -> dict[str, str]:
    """Name -> phase of the workspaces listed in ``parent``."""
    listed = await client.must("GET", f"/clusters/{parent}{WS_API}")
    return {
        item["metadata"]["name"]: (item.get("status") or {}).get("phase", "")
        for item in listed["items"] or []
    }


async def wait_ready(client: Client, specs: list[Spec]) -> None:
    """Poll the workspace list of every parent with a workspace not yet Ready."""
    pending: dict[str, set[str]] = collections.defaultdict(set)
    for spec in specs:
        pending[spec.parent].add(spec.name)
    deadline = time.monotonic() + client.timeout
    while pending:
        check(client.server)
        if time.monotonic() > deadline:
            left = sum(len(v) for v in pending.values())
            sys.exit(f"{left} workspaces not Ready after {client.timeout:g} s, e.g. {pending}")

        async def poll(parent: str) -> None:
            phases = await list_names(client, parent)
            pending[parent] -= {n for n in pending[parent] if phases.get(n) == "Ready"}
            if not pending[parent]:
                del pending[parent]

        await run_all([functools.partial(poll, p) for p in list(pending)], POLL_CONNS)
        if pending:
            await asyncio.sleep(POLL_SECONDS)


async def wildcard_count(client: Client, path: str, prefix: str) -> int:
    """Objects listed across all workspaces whose workspace is ``prefix`` or below it."""
    listed = await client.must("GET", f"/clusters/*{path}")
    count = 0
    for item in listed["items"] or []:
        cluster = (item["metadata"].get("annotations") or {}).get("kcp.io/cluster", "")
        if cluster == prefix or cluster.startswith(prefix + ":") or prefix == "*":
            count += 1
    return count


async def counts(client: Client) -> tuple[int, int]:
    """Workspaces and namespaces listed across all workspaces."""
    workspaces = await wildcard_count(client, WS_API, "*")
    return workspaces, await wildcard_count(client, "/api/v1/namespaces", "*")


async def delete_tree(client: Client, orgs: list[Spec], clients: int) -> tuple[float, float]:
    """DELETE every organization; the seconds until ``root`` lists none of them, and the
    server's CPU seconds meanwhile."""
    server = client.server
    cpu0 = server.child.cpu()
    names = {o.name for o in orgs}

    def job(org: Spec) -> Callable[[], Awaitable[None]]:
        async def go() -> None:
            await client.must("DELETE", f"/clusters/root{WS_API}/{org.name}")

        return go

    t0 = time.perf_counter()
    await run_all((job(o) for o in orgs), clients)
    deadline = time.monotonic() + client.timeout
    while names & set(await list_names(client, "root")):
        check(server)
        if time.monotonic() > deadline:
            sys.exit(f"organizations still listed after {client.timeout:g} s")
        await asyncio.sleep(POLL_SECONDS)
    return time.perf_counter() - t0, server.child.cpu() - cpu0


def latency_line(label: str, lat: list[float], base: list[float] | None) -> None:
    extra = f"max {pct(lat, 1.0):.2f} ms"
    if base is not None:
        r50 = pct(lat, 0.5) / pct(base, 0.5)
        r99 = pct(lat, 0.99) / pct(base, 0.99)
        extra += f"; ratio after/before p50 {r50:.2f} p99 {r99:.2f} (goal: no slowdown)"
    line(label, f"p50 {pct(lat, 0.5):.2f} p99 {pct(lat, 0.99):.2f} ms", extra)


def mib(n: float) -> str:
    return f"{n / (1 << 20):,.1f} MiB"


def split(memory: dict[str, int]) -> str:
    """RSS as anonymous memory (the Python heap) and file pages (mostly the LMDB map)."""
    return f"anon {mib(memory.get('RssAnon', 0))}, file {mib(memory.get('RssFile', 0))}"


async def bench(server: Kcp, args: argparse.Namespace) -> list[str]:
    client = Client(server, Pool(server.port, server.ctx, server.token, AGENT), args.timeout)
    await client.pool.open(max(args.clients, POLL_CONNS))
    try:
        return await phases(client, args)
    finally:
        client.pool.close()


async def phases(client: Client, args: argparse.Namespace) -> list[str]:
    server = client.server
    levels = plan(args.count)
    total = sum(len(lvl) for lvl in levels)
    shape = " x ".join(
        f"{len(lvl) / len(levels[i - 1]):.3g}" if i else str(len(lvl))
        for i, lvl in enumerate(levels)
    )
    print(
        f"kcp-edge workspace benchmark  python {sys.version.split()[0]}  cpus {os.cpu_count()}"
        f"  {total:,} workspaces ({shape}, levels {[len(lvl) for lvl in levels]})"
        f"  {args.clients} clients"
    )
    print("-" * 110, flush=True)
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "bench-cm"},
        "data": {"k": "x" * 900},
    }
    await client.must(
        "POST", GET_PATH.rsplit("/", 1)[0], json.dumps(cm, separators=(",", ":")).encode()
    )
    await client.gets(GET_WARMUP)
    before = await client.gets(GET_COUNT)
    ws0, ns0 = await counts(client)
    mem0, disk0 = await settled(server)
    cpu0 = server.child.cpu()
    rss0 = mem0.get("VmRSS", 0)
    line(
        "server at start",
        f"RSS {mib(rss0)}",
        f"{split(mem0)}; LMDB data file {mib(disk0)} allocated",
    )
    latency_line(f"GET configmap in {GET_CLUSTER}, before", before, None)

    done: list[Level] = []
    t0 = time.perf_counter()
    for specs, label in zip(levels, ("organizations", "teams", "universal"), strict=False):
        level = await create_level(client, specs, args.clients, label)
        done.append(level)
        lat = level.post_latencies
        line(
            f"create {level.count:,} {label}",
            f"{level.count / level.ready_s:,.0f}/s to Ready",
            f"POSTs answered in {level.create_s:.1f} s ({level.count / level.create_s:,.0f}/s,"
            f" p50 {pct(lat, 0.5):.1f} p99 {pct(lat, 0.99):.1f} ms), all Ready at "
            f"{level.ready_s:.1f} s; server cpu {level.server_cpu / level.ready_s:.2f} cores",
        )
    elapsed = time.perf_counter() - t0
    rate = total / elapsed
    line(
        f"create {total:,} workspaces, created to Ready",
        f"{rate:,.0f} workspaces/s",
        f"{elapsed:.1f} s; {ANCHORS['rate']}; goal >= {GOALS['rate']:g}/s: "
        f"{met(rate >= GOALS['rate'])}; server cpu {(server.child.cpu() - cpu0) / total * 1000:.1f}"
        " ms per workspace",
    )
    ws1, ns1 = await counts(client)
    if ws1 - ws0 != total or ns1 - ns0 != total:
        client.problems.append(
            f"wildcard lists {ws1 - ws0} new workspaces and {ns1 - ns0} new namespaces, "
            f"expected {total} of each"
        )
    mem1, disk1 = await settled(server)
    rss1 = mem1.get("VmRSS", 0)
    per_rss = (rss1 - rss0) / total
    growth = {k: (mem1.get(k, 0) - mem0.get(k, 0)) / total / 1024 for k in ("RssAnon", "RssFile")}
    line(
        "RSS growth per empty workspace",
        f"{per_rss / 1024:,.1f} KiB",
        f"anon {growth['RssAnon']:,.1f} + file {growth['RssFile']:,.1f} KiB; "
        f"RSS {mib(rss0)} -> {mib(rss1)}; {ANCHORS['rss']}; goal < {GOALS['rss_kib']:g} KiB: "
        f"{met(per_rss < GOALS['rss_kib'] * 1024)}",
    )
    line(
        "disk per workspace (LMDB data file growth)",
        f"{(disk1 - disk0) / total / 1024:,.1f} KiB",
        f"{mib(disk0)} -> {mib(disk1)} allocated",
    )
    after = await client.gets(GET_COUNT)
    latency_line(f"GET configmap, {total:,} workspaces present", after, before)

    orgs = levels[0]
    seconds, cpu = await delete_tree(client, orgs, args.clients)
    line(
        f"delete the tree ({len(orgs)} DELETEs of organizations)",
        f"{seconds:.1f} s",
        f"until root lists none; {ANCHORS['delete']}; goal < {GOALS['delete_s']:g} s: "
        f"{met(seconds < GOALS['delete_s'])}; server cpu {cpu / seconds:.2f} cores",
    )
    ws2, ns2 = await counts(client)
    if ws2 != ws0 or ns2 != ns0:
        client.problems.append(
            f"after deletion the wildcard lists {ws2} workspaces and {ns2} namespaces "
            f"(before the tree: {ws0} and {ns0})"
        )
    mem2, disk2 = await settled(server)
    rss2 = mem2.get("VmRSS", 0)
    line(
        "after deletion",
        f"RSS {mib(rss2)}",
        f"{split(mem2)}; LMDB data file {mib(disk2)} allocated (LMDB never shrinks it);"
        f" wildcard: {ws2} workspaces, {ns2} namespaces",
    )
    latency_line("GET configmap, after deletion", await client.gets(GET_COUNT), before)
    return client.problems


def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="kcp-bench-ws-"))
    server = start_kcp(work / "kcp", work / "kcp.log", name="kcp start")
    problems: list[str] = []
    try:
        loop = new_loop()
        try:
            problems = loop.run_until_complete(bench(server, args))
        finally:
            loop.close()
        note = server.child.stop(60.0)
        if note:
            problems.append(note)
    finally:
        server.child.kill()
    print("-" * 110)
    finish(problems, work, keep=args.keep)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000, help="workspaces in the tree")
    parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
    parser.add_argument("--timeout", type=float, default=900.0, help="seconds per wait")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    args.count = min(max(args.count, 3), 100_000)
    args.clients = min(max(args.clients, 1), 256)
    run(args)


if __name__ == "__main__":
    main()
