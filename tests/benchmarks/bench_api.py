"""API benchmark: a real ``kcp start`` over HTTPS against a bare starlette endpoint, same run.

Not a test: it prints figures and ratios (CI machines are noisy; nothing here asserts timing).

    .venv/bin/python tests/benchmarks/bench_api.py [--seconds 5] [--client auto|wrk|python]

Why it exists: the storage benchmark measures the store alone; this one measures what a client
sees, through TLS, uvicorn, routing, authentication, the handlers and the store, and puts it next
to the cheapest thing uvicorn can serve with the same certificate and settings (the server's own
``build_server_config``, one process): a starlette app whose endpoints return the very bytes our
server returned for the same request (fetched first). The ratio is the share of the bare
endpoint's throughput we keep; the bare endpoint is the ceiling of this stack on this machine.

Cases, each with the baseline and the ratio: single-object GET of a ~1 KiB ConfigMap with 16
connections (goal: >= 40% of the bare endpoint's requests/s); LIST of 1,000 ConfigMaps as JSON
and as a Table with 4 connections; CREATE of ~1 KiB ConfigMaps with 32 concurrent clients
(goal: >= 2,000/s, p99 < 50 ms; the bare endpoint reads the body and answers 201 with the bytes
our server returned for a create). Then watch delivery: 100 watches from the current
resourceVersion on one namespace, 200 creates/s for 5 s, and per watcher the time from each
create's request start and from its response to the event (goal: p99 < 20 ms).

Load generator: ``wrk`` (one thread, keep-alive) when installed; when it is missing and we run as
root it is installed with apt-get if the archive has it (``--no-install`` to skip); otherwise a
Python asyncio HTTPS client with keep-alive connections and no pipelining. The same generator
drives both targets, so the ratios are fair; the figures are not comparable across generators.
The watch case always uses the Python client. Everything runs on 127.0.0.1 in a temporary root
directory, and every loop is bounded in count and time (about two minutes in all).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar, cast

import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks.common import (
    HOST,
    JSON_TYPE,
    Child,
    Conn,
    Kcp,
    Result,
    WrkCase,
    client_cpu,
    find_wrk,
    finish,
    line,
    pct,
    populate,
    process_cpu,
    python_load,
    raw_request,
    spawn,
    start_kcp,
    wait_ready,
)
from tests.conftest import free_port

T = TypeVar("T")
AGENT = "kcp-bench-api"
PREFIX = "/clusters/root"
TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io"
GET_CONNS = 16
LIST_CONNS = 4
LIST_SIZE = 1000
CREATE_CONNS = 32
WATCHERS = 100
WATCH_RATE = 200
WATCH_SECONDS = 5.0
WATCH_CREATORS = 4
WATCH_DRAIN_SECONDS = 15.0
GOALS = {"get_ratio": 0.40, "creates": 2000.0, "create_p99_ms": 50.0, "watch_p99_ms": 20.0}

NS_GET, NS_LIST, NS_CREATE, NS_WATCH = "bench-get", "bench-list", "bench-create", "bench-watch"
CM_PATH = f"{PREFIX}/api/v1/namespaces/{{ns}}/configmaps"
GET_PATH = CM_PATH.format(ns=NS_GET) + "/bench-cm"
LIST_PATH = CM_PATH.format(ns=NS_LIST)
CREATE_PATH = CM_PATH.format(ns=NS_CREATE)
WATCH_PATH = CM_PATH.format(ns=NS_WATCH)
FILLER = "x" * 900


def configmap(name: str) -> bytes:
    """A ~1 KiB ConfigMap body (JSON)."""
    return (
        b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"'
        + name.encode()
        + b'","labels":{"app":"bench"}},"data":{"k":"'
        + FILLER.encode()
        + b'"}}'
    )


# --- the servers ------------------------------------------------------------------------------


def start_baseline(spec_file: Path, work: Path, ca_file: Path) -> Child:
    port = free_port()
    log = work / "baseline.log"
    argv = [sys.executable, __file__, "--serve-baseline", str(spec_file), "--port", str(port)]
    target = Child("bare starlette", spawn(argv, log), log, port)
    wait_ready(target, ca_file, GET_PATH)
    return target


def serve_baseline(spec_file: Path, port: int) -> None:
    """The bare endpoint: fixed bytes per route, served with our server's uvicorn config."""
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    from kcp_edge.auth.pki import load_serving_certificate
    from kcp_edge.cli.start import build_server_config

    spec = json.loads(spec_file.read_text())
    bodies = {k: Path(v).read_bytes() for k, v in spec["bodies"].items()}
    types = spec["types"]

    async def get(request: Request) -> Response:
        return Response(bodies["get"], media_type=types["get"])

    async def list_(request: Request) -> Response:
        if "as=Table" in request.headers.get("accept", ""):
            return Response(bodies["table"], media_type=types["table"])
        return Response(bodies["list"], media_type=types["list"])

    async def create(request: Request) -> Response:
        await request.body()
        return Response(bodies["create"], status_code=201, media_type=types["create"])

    app = Starlette(
        routes=[
            Route(spec["paths"]["get"], get, methods=["GET"]),
            Route(spec["paths"]["list"], list_, methods=["GET"]),
            Route(spec["paths"]["create"], create, methods=["POST"]),
        ]
    )
    cert = load_serving_certificate(
        cert_file=Path(spec["cert_file"]), key_file=Path(spec["key_file"])
    )
    config = build_server_config(app=app, cert=cert, verbosity=0)
    sock = socket.create_server((HOST, port), backlog=2048)
    # uvicorn re-raises the SIGTERM it handled once it has shut down: exit 0 then.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.Server(config).run(sockets=[sock])


# --- results ----------------------------------------------------------------------------------


@contextlib.contextmanager
def cpu_meter(server_pid: int, *, wrk: bool) -> Iterator[Callable[[], str]]:
    """Busy cores of the server and of the load generator (wrk, or this process) meanwhile."""
    wall, server, mine = time.perf_counter(), process_cpu(server_pid), client_cpu(wrk)
    figures: list[str] = []
    yield lambda: figures[0] if figures else ""
    elapsed = time.perf_counter() - wall
    figures.append(
        f"cpu server {(process_cpu(server_pid) - server) / elapsed:.2f} "
        f"client {(client_cpu(wrk) - mine) / elapsed:.2f}"
    )


@dataclass
class Problems:
    """Non-2xx answers and socket errors seen from our server, with the request that caused them."""

    seen: list[str] = field(default_factory=list)

    def note(self, what: str, result: Result) -> None:
        bad = result.failed()
        if bad or result.socket_errors or result.status_errors:
            text = f"{what}: statuses {bad}, socket errors {result.socket_errors}"
            if result.status_errors:
                text += f", {result.status_errors} answers >= 400 (wrk)"
            if result.sample:
                text += f"; sample body: {result.sample[:600]}"
            self.seen.append(text)


# --- the benchmark ----------------------------------------------------------------------------


@dataclass
class Bench:
    ours: Kcp
    loop: asyncio.AbstractEventLoop
    work: Path
    seconds: float
    warmup: float
    wrk: str | None
    rounds: int
    watchers: int
    problems: Problems = field(default_factory=Problems)
    runs: int = 0

    def run(self, coro: Coroutine[object, object, T]) -> T:
        return self.loop.run_until_complete(coro)

    def populate(self, ns: str, count: int) -> None:
        """``count`` ConfigMaps in ``ns``, 16 at a time."""
        path = CM_PATH.format(ns=ns)
        port, token = self.ours.port, self.ours.token

        def make(i: int) -> tuple[str, bytes]:
            name = f"cm-{i:05d}"
            raw = raw_request("POST", path, port, token, agent=AGENT, body=configmap(name))
            return f"{path} {name}", raw

        failures = self.run(populate(port, self.ours.ctx, count, make))
        if failures:
            sys.exit("setup failed:\n" + "\n".join(failures[:5]))

    def load(
        self,
        target: Child,
        conns: int,
        path: str,
        *,
        accept: str = JSON_TYPE,
        create: bool = False,
    ) -> Result:
        """`_load`, noting the cores the server and the load generator kept busy meanwhile."""
        with cpu_meter(target.proc.pid, wrk=self.wrk is not None) as cpu:
            result = self._load(target, conns, path, accept=accept, create=create)
        result.cpu = cpu()
        return result

    def _load(
        self,
        target: Child,
        conns: int,
        path: str,
        *,
        accept: str = JSON_TYPE,
        create: bool = False,
    ) -> Result:
        """Warm up, then measure ``conns`` keep-alive connections against ``target``."""
        self.runs += 1
        prefix = f"r{self.runs}"
        token = self.ours.token
        if self.wrk is not None:
            head, tail = configmap("\0").split(b"\0")
            case = WrkCase.write(
                self.wrk,
                self.work / ("wrk-create.lua" if create else "wrk-read.lua"),
                url=target.url + path,
                token=token,
                agent=AGENT,
                conns=conns,
                accept=accept,
                body=(head, tail) if create else None,
            )
            if self.warmup > 0:
                warm = case.run(self.warmup, prefix + "w")
                if target is self.ours.child:
                    self.problems.note(f"warm-up of {'POST' if create else 'GET'} {path}", warm)
            result = case.run(self.seconds, prefix)
            if result.status_errors and not create and target is self.ours.child:
                status, body, _ = self.ours.call("GET", path, accept=accept)
                result.sample = (
                    f"a probe GET answered {status}: {body[:500].decode(errors='replace')}"
                )
            return result
        fixed = raw_request("GET", path, target.port, token, agent=AGENT, accept=accept)

        def make(c: int, i: int) -> bytes:
            if not create:
                return fixed
            body = configmap(f"{prefix}-{c}-{i}")
            return raw_request("POST", path, target.port, token, agent=AGENT, body=body)

        return self.run(
            python_load(
                port=target.port,
                ctx=self.ours.ctx,
                conns=conns,
                seconds=self.seconds,
                warmup=self.warmup,
                make=make,
            )
        )

    def compare(
        self,
        label: str,
        bare: Child,
        conns: int,
        path: str,
        *,
        accept: str = JSON_TYPE,
        create: bool = False,
        goal: str = "",
    ) -> tuple[Result, Result]:
        """Interleaved rounds (bare, ours, bare, ours, ...); the best round of each is shown."""
        bases: list[Result] = []
        ourses: list[Result] = []
        method = "POST" if create else "GET"
        for _ in range(self.rounds):
            base = self.load(bare, conns, path, accept=accept, create=create)
            ours = self.load(self.ours.child, conns, path, accept=accept, create=create)
            self.problems.note(f"{method} {path} (Accept: {accept}), {conns} connections", ours)
            if (
                not base.requests
                or base.status_errors
                or any(not 200 <= s < 300 for s in base.statuses)
            ):
                self.problems.seen.append(f"baseline {label}: statuses {dict(base.statuses)}")
            bases.append(base)
            ourses.append(ours)
        base = max(bases, key=lambda r: r.rate)
        ours = max(ourses, key=lambda r: r.rate)
        line(f"{label}: bare starlette", base.figures(), base.cpu)
        ratio = ours.rate / base.rate if base.rate else float("nan")
        extra = f"ratio {ratio:.2f} of bare" + (f"; {goal}" if goal else "") + f"; {ours.cpu}"
        line(f"{label}: ours", ours.figures(), extra)
        return base, ours


async def watch_latency(bench: Bench, rv: str) -> tuple[list[float], list[float], int, int, int]:
    """100 watches, creates at a steady rate; per-watcher latencies from request start and from
    the create's response, plus (events expected, events missing, failed creates)."""
    loop = asyncio.get_running_loop()
    port, token = bench.ours.port, bench.ours.token
    pattern = re.compile(rb'"name":"(bw-\d{6})"')
    request = raw_request(
        "GET", f"{WATCH_PATH}?watch=1&resourceVersion={rv}", port, token, agent=AGENT
    )

    class Watcher(asyncio.Protocol):
        def __init__(self) -> None:
            self.seen: dict[bytes, float] = {}
            self.tail = b""
            self.head = b""
            self.started = loop.create_future()
            self.transport: asyncio.Transport | None = None

        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            self.transport = cast(asyncio.Transport, transport)
            self.transport.write(request)

        def data_received(self, data: bytes) -> None:
            now = time.perf_counter()
            if not self.started.done():
                self.head += data
                if b"\r\n\r\n" in self.head:
                    self.started.set_result(self.head.split(b"\r\n", 1)[0])
            buf = self.tail + data
            for m in pattern.finditer(buf):
                self.seen.setdefault(m.group(1), now)
            self.tail = buf[-48:]

        def connection_lost(self, exc: Exception | None) -> None:
            if not self.started.done():
                self.started.set_result(b"closed before the response: " + repr(exc).encode())

    watchers: list[Watcher] = []
    for _ in range(bench.watchers):
        _, proto = await loop.create_connection(Watcher, HOST, port, ssl=bench.ours.ctx)
        watchers.append(proto)
    heads = await asyncio.wait_for(asyncio.gather(*(w.started for w in watchers)), 30)
    bad = [h for h in heads if not h.startswith(b"HTTP/1.1 200")]
    if bad:
        bench.problems.seen.append(f"watch GET {WATCH_PATH}?watch=1: {len(bad)} x {bad[0]!r}")

    total = int(WATCH_RATE * WATCH_SECONDS)
    sent: dict[bytes, float] = {}
    answered: dict[bytes, float] = {}
    failed: list[str] = []
    t0 = time.perf_counter() + 0.1

    async def creator(k: int) -> None:
        conn = await Conn.open(port, bench.ours.ctx)
        try:
            for i in range(k, total, WATCH_CREATORS):
                delay = t0 + i / WATCH_RATE - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                name = f"bw-{i:06d}"
                raw = raw_request(
                    "POST", WATCH_PATH, port, token, agent=AGENT, body=configmap(name)
                )
                start = time.perf_counter()
                status, body = await asyncio.wait_for(conn.request(raw), 30)
                done = time.perf_counter()
                if status == 201:
                    sent[name.encode()] = start
                    answered[name.encode()] = done
                else:
                    failed.append(f"POST {WATCH_PATH} {name}: {status} {body[:300]!r}")
        finally:
            conn.close()

    await asyncio.gather(*(creator(k) for k in range(WATCH_CREATORS)))
    deadline = time.perf_counter() + WATCH_DRAIN_SECONDS
    expected = len(sent) * len(watchers)
    while time.perf_counter() < deadline:
        if sum(len(w.seen) for w in watchers) >= expected:
            break
        await asyncio.sleep(0.05)
    from_start: list[float] = []
    from_response: list[float] = []
    missing = 0
    for w in watchers:
        for name, at in sent.items():
            got = w.seen.get(name)
            if got is None:
                missing += 1
                continue
            from_start.append(got - at)
            from_response.append(got - answered[name])
        if w.transport is not None:
            w.transport.close()
    bench.problems.seen.extend(failed[:5])
    return from_start, from_response, expected, missing, len(failed)


def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="kcp-bench-api-"))
    root = work / "kcp"
    wrk = None if args.client == "python" else find_wrk(not args.no_install)
    if args.client == "wrk" and wrk is None:
        sys.exit("wrk is not installed")
    ours = start_kcp(root, work / "kcp.log")
    baseline: Child | None = None
    notes: list[str] = []
    try:
        loop = uvloop.new_event_loop()
        try:
            bench = Bench(
                ours=ours,
                loop=loop,
                work=work,
                seconds=args.seconds,
                warmup=args.warmup,
                wrk=wrk,
                rounds=args.rounds,
                watchers=args.watchers,
            )
            client = f"wrk ({wrk}, 1 thread)" if wrk else "Python asyncio client (uvloop)"
            print(
                f"kcp-edge API benchmark  python {sys.version.split()[0]}  cpus {os.cpu_count()}"
                f"  client {client}\n{args.seconds:g} s per case after {args.warmup:g} s warm-up, "
                f"best of {args.rounds} interleaved rounds; 'cpu': cores kept busy meanwhile"
            )
            print("-" * 110, flush=True)
            baseline = prepare(bench, root, work)
            measure(bench, baseline)
        finally:
            loop.close()
        notes += [baseline.stop(), ours.child.stop()]
    finally:
        for server in (baseline, ours.child):
            if server is not None:
                server.kill()
    print("-" * 110)
    finish(bench.problems.seen + [n for n in notes if n], work, keep=args.keep)


def prepare(bench: Bench, root: Path, work: Path) -> Child:
    """Namespaces and objects on our server; the bytes the bare endpoint serves; start it."""
    for ns in (NS_GET, NS_LIST, NS_CREATE, NS_WATCH):
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        bench.ours.must("POST", f"{PREFIX}/api/v1/namespaces", json.dumps(namespace).encode())
    bench.ours.must("POST", CM_PATH.format(ns=NS_GET), configmap("bench-cm"))
    t = time.perf_counter()
    bench.populate(NS_LIST, LIST_SIZE)
    setup_rate = LIST_SIZE / (time.perf_counter() - t)
    captured: dict[str, tuple[bytes, str]] = {}
    for key, method, path, body, accept in (
        ("get", "GET", GET_PATH, b"", JSON_TYPE),
        ("list", "GET", LIST_PATH, b"", JSON_TYPE),
        ("table", "GET", LIST_PATH, b"", TABLE_ACCEPT),
        ("create", "POST", CREATE_PATH, configmap("bench-probe"), JSON_TYPE),
    ):
        status, data, ctype = bench.ours.call(method, path, body, accept)
        if not 200 <= status < 300:
            sys.exit(f"{method} {path} (Accept: {accept}) answered {status}: {data[:600]!r}")
        captured[key] = (data, ctype)
    items = len(json.loads(captured["list"][0])["items"])
    rows = len(json.loads(captured["table"][0])["rows"])
    if items != LIST_SIZE or rows != LIST_SIZE:
        bench.problems.seen.append(f"LIST {LIST_PATH}: {items} items, {rows} table rows")
    for key in captured:
        (work / f"{key}.body").write_bytes(captured[key][0])
    spec = {
        "paths": {"get": GET_PATH, "list": LIST_PATH, "create": CREATE_PATH},
        "bodies": {key: str(work / f"{key}.body") for key in captured},
        "types": {key: captured[key][1] for key in captured},
        "cert_file": str(root / "certs" / "apiserver.crt"),
        "key_file": str(root / "certs" / "apiserver.key"),
    }
    spec_file = work / "baseline.json"
    spec_file.write_text(json.dumps(spec))
    sizes = ", ".join(f"{k} {len(v[0]):,} B" for k, v in captured.items())
    line("setup: 1,000 ConfigMaps, 16 connections", f"{setup_rate:,.0f}/s", f"bodies: {sizes}")
    return start_baseline(spec_file, work, root / "certs" / "ca.crt")


def measure(bench: Bench, bare: Child) -> None:
    bench.compare(
        f"GET configmap, {GET_CONNS} conns",
        bare,
        GET_CONNS,
        GET_PATH,
        goal=f"goal >= {GOALS['get_ratio']:.2f}",
    )
    bench.compare(f"LIST 1,000 JSON, {LIST_CONNS} conns", bare, LIST_CONNS, LIST_PATH)
    bench.compare(
        f"LIST 1,000 Table, {LIST_CONNS} conns", bare, LIST_CONNS, LIST_PATH, accept=TABLE_ACCEPT
    )
    bench.compare(
        f"CREATE configmap, {CREATE_CONNS} clients",
        bare,
        CREATE_CONNS,
        CREATE_PATH,
        create=True,
        goal=f"goal >= {GOALS['creates']:,.0f}/s, p99 < {GOALS['create_p99_ms']:g} ms",
    )
    rv = json.loads(bench.ours.must("GET", WATCH_PATH))["metadata"]["resourceVersion"]
    with cpu_meter(bench.ours.child.proc.pid, wrk=False) as cpu:
        from_start, from_response, expected, missing, failed = bench.run(watch_latency(bench, rv))
    total = int(WATCH_RATE * WATCH_SECONDS)
    line(
        f"WATCH {bench.watchers} watchers, {WATCH_RATE} creates/s",
        f"{len(from_start):,} of {expected:,} events",
        f"{total} creates ({failed} failed), {missing} events missing after "
        f"{WATCH_DRAIN_SECONDS:g} s; {cpu()}",
    )
    line(
        "WATCH delivery from create request start",
        f"p50 {pct(from_start, 0.5):.2f} p99 {pct(from_start, 0.99):.2f} ms",
        f"max {pct(from_start, 1.0):.2f} ms; goal p99 < {GOALS['watch_p99_ms']:g} ms",
    )
    line(
        "WATCH delivery from create response",
        f"p50 {pct(from_response, 0.5):.2f} p99 {pct(from_response, 0.99):.2f} ms",
        f"max {pct(from_response, 1.0):.2f} ms (negative: event before the response)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds per case")
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds per case")
    parser.add_argument("--rounds", type=int, default=2, help="interleaved rounds per case")
    parser.add_argument("--watchers", type=int, default=WATCHERS, help="watches to open")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--no-install", action="store_true", help="never apt-get install wrk")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument("--serve-baseline", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_baseline is not None:
        serve_baseline(args.serve_baseline, args.port)
        return
    args.seconds = min(max(args.seconds, 1.0), 30.0)
    args.warmup = min(max(args.warmup, 0.0), 10.0)
    args.rounds = min(max(args.rounds, 1), 5)
    args.watchers = min(max(args.watchers, 1), 500)
    run(args)


if __name__ == "__main__":
    main()
