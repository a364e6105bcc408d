"""The plumbing the benchmark scripts share: one copy of each helper, taken the same way by all.

Why this module exists: every script in this folder runs on its own (``.venv/bin/python
tests/benchmarks/bench_x.py``) and each used to carry its own copy of the same helpers: a
keep-alive HTTPS connection that reads content-length and chunked bodies, a pool of them, raw
request bytes, ``kcp start`` brought up and stopped, CPU and memory read from ``/proc``,
percentiles, figure lines, the asyncio load generator and the ``wrk`` runner. The copies had
started to drift (one read a body without a length as chunked, two did not bound their loops).
Here each exists once; where scripts need something different it is a parameter.

Scripts put the repository on ``sys.path`` and import it as ``tests.benchmarks.common``. It is
not a test module and not part of the packages, so it builds on ``tests.conftest`` (the free
port, the ``kcp start`` command line and its environment) rather than repeating it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import http.client
import json
import os
import re
import resource
import shutil
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from kcp_edge.cli.kubeconfig import read_user_token
from tests.conftest import REPO, KcpServer, free_port, kcp_command, kcp_env, start_args

HOST = "127.0.0.1"
JSON_TYPE = "application/json"
START_TIMEOUT = 30.0
LOAD_READ_LIMIT = 1 << 20
POOL_READ_LIMIT = 1 << 22
MAX_LOOPS = 10_000_000


# --- figures ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Columns:
    """A figure line: the name left-aligned, the value right-aligned, then free text."""

    name: int = 46
    value: int = 30

    def line(self, name: str, value: str, extra: str = "") -> None:
        print(f"{name:<{self.name}} {value:>{self.value}}  {extra}", flush=True)


line = Columns().line


def pct(values: list[float], q: float, *, scale: float = 1000.0) -> float:
    """The q-quantile of ``values`` times ``scale`` (seconds to milliseconds by default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * scale


def met(ok: bool) -> str:
    return "met" if ok else "MISSED"


# --- /proc ------------------------------------------------------------------------------------


def process_cpu(pid: int) -> float:
    """User + system CPU seconds used so far by process ``pid`` (0 where /proc has none)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def memory(pid: int, names: Iterable[str] = ("VmRSS",)) -> dict[str, int]:
    """The named ``/proc/<pid>/status`` fields (``VmRSS``, ``RssAnon``, ...) in bytes; the ones
    missing, or all where /proc has no such process, are left out."""
    wanted = set(names)
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return {}
    found = {}
    for row in text.splitlines():
        name, _, value = row.partition(":")
        if name in wanted:
            found[name] = int(value.split()[0]) * 1024
    return found


def client_cpu(wrk: bool) -> float:
    """CPU seconds of the load generator: ``wrk`` (finished children) or this process."""
    if wrk:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        return usage.ru_utime + usage.ru_stime
    return time.process_time()


# --- processes --------------------------------------------------------------------------------


@dataclass
class Child:
    """A child process (a server or a syncer), its log and, for a server, its port."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    port: int = 0

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}"

    def cpu(self) -> float:
        return process_cpu(self.proc.pid)

    def memory(self, *names: str) -> dict[str, int]:
        return memory(self.proc.pid, names or ("VmRSS",))

    def rss(self) -> int:
        return self.memory().get("VmRSS", 0)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def exited(self) -> str:
        """Why the process is gone, or "" while it runs."""
        if self.proc.poll() is None:
            return ""
        return f"{self.name}: exited with {self.proc.returncode}:\n{self.tail()}"

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def stop(self, timeout: float = 30.0) -> str:
        """SIGTERM and wait; a note when it did not exit cleanly."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return f"{self.name}: did not stop within {timeout:g} s after SIGTERM (killed)"
        if code != 0 or "Traceback" in self.log.read_text(errors="replace"):
            return f"{self.name}: exited with {code}; log tail:\n{self.tail()}"
        return ""


def spawn(argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    """``argv`` from the repository with it on ``PYTHONPATH``, output appended to ``log``."""
    with log.open("ab") as out:
        return subprocess.Popen(argv, cwd=REPO, env=kcp_env(), stdout=out, stderr=subprocess.STDOUT)


def _answers(port: int, ca_file: Path, path: str) -> bool:
    with contextlib.suppress(OSError, ssl.SSLError, http.client.HTTPException):
        ctx = ssl.create_default_context(cafile=ca_file)
        conn = http.client.HTTPSConnection(HOST, port, context=ctx, timeout=5)
        try:
            conn.request("GET", path)
            return conn.getresponse().status == 200
        finally:
            conn.close()
    return False


def wait_ready(child: Child, ca_file: Path, path: str = "/readyz") -> None:
    """Until ``path`` answers 200 over HTTPS verified with ``ca_file`` (once it exists); exits
    when the child does, or kills it and exits after ``START_TIMEOUT``."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        why = child.exited()
        if why:
            sys.exit(why)
        if ca_file.exists() and _answers(child.port, ca_file, path):
            return
        time.sleep(0.05)
    child.kill()
    sys.exit(f"{child.name}: not ready within {START_TIMEOUT:g} s:\n{child.tail()}")


@dataclass
class Kcp:
    """A ready ``kcp start`` on loopback: its process, and blocking admin requests to it (setup
    and checks, one connection each; never what is measured)."""

    child: Child
    root: Path
    ctx: ssl.SSLContext
    token: str
    agent: str | None = None

    @property
    def port(self) -> int:
        return self.child.port

    @property
    def server(self) -> KcpServer:
        return KcpServer(self.child.url, self.root, self.root / "admin.kubeconfig")

    def call(
        self, method: str, path: str, body: bytes = b"", accept: str = JSON_TYPE
    ) -> tuple[int, bytes, str]:
        """Status, body and content type."""
        conn = http.client.HTTPSConnection(HOST, self.port, context=self.ctx, timeout=30)
        try:
            headers = {"Authorization": f"Bearer {self.token}", "Accept": accept}
            if self.agent is not None:
                headers["User-Agent"] = self.agent  # the field manager of managedFields
            if body:
                headers["Content-Type"] = JSON_TYPE
            conn.request(method, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.read(), resp.getheader("content-type") or ""
        finally:
            conn.close()

    def must(self, method: str, path: str, body: bytes = b"", accept: str = JSON_TYPE) -> bytes:
        status, data, _ = self.call(method, path, body, accept)
        if not 200 <= status < 300:
            sys.exit(f"setup: {method} {path} answered {status}: {data[:800]!r}")
        return data


def start_kcp(
    root: Path, log: Path, *extra: str, name: str = "kcp-edge", agent: str | None = None
) -> Kcp:
    """``kcp start`` with ``extra`` flags on a free loopback port, once ``/readyz`` answers."""
    port = free_port()
    child = Child(name, spawn(kcp_command(*start_args(root, port, *extra)), log), log, port)
    ca_file = root / "certs" / "ca.crt"
    wait_ready(child, ca_file)
    token = read_user_token(root / "admin.kubeconfig")
    if token is None:
        child.kill()
        sys.exit(f"no admin token in {root / 'admin.kubeconfig'}")
    return Kcp(child, root, ssl.create_default_context(cafile=ca_file), token, agent)


def new_loop() -> asyncio.AbstractEventLoop:
    """uvloop's event loop where it is installed (the ``fast`` extra), else asyncio's."""
    try:
        import uvloop
    except ImportError:
        return asyncio.new_event_loop()
    return uvloop.new_event_loop()


def finish(problems: list[str], work: Path, *, keep: bool) -> None:
    """Print the problems seen (or that there were none); keep or remove the work directory."""
    print("errors and non-2xx answers:" + ("" if problems else " none"))
    for text in problems:
        print(f"  {text}")
    if keep:
        print(f"kept {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)


# --- the asyncio HTTPS client -----------------------------------------------------------------


class Conn:
    """One keep-alive HTTPS connection; one request at a time (no pipelining)."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int, ctx: ssl.SSLContext, *, limit: int = LOAD_READ_LIMIT) -> Conn:
        reader, writer = await asyncio.open_connection(
            HOST, port, ssl=ctx, server_hostname=HOST, limit=limit
        )
        return cls(reader, writer)

    async def head(self, raw: bytes) -> tuple[int, bytes]:
        """Send ``raw``; the status and the lower-cased head of the answer."""
        self.writer.write(raw)
        head = await self.reader.readuntil(b"\r\n\r\n")
        return int(head[9:12]), head.lower()

    async def body(self, head: bytes) -> bytes:
        at = head.find(b"\r\ncontent-length:")
        if at >= 0:
            end = head.index(b"\r\n", at + 2)
            return await self.reader.readexactly(int(head[at + 17 : end]))
        if b"\r\ntransfer-encoding: chunked" in head:
            return b"".join([chunk async for chunk in self.chunks()])
        return b""

    async def chunks(self) -> AsyncIterator[bytes]:
        """The chunks of a chunked body as they arrive, until the last one."""
        for _ in range(MAX_LOOPS):
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            data = await self.reader.readexactly(size + 2)
            if size == 0:
                return
            yield data[:-2]

    async def request(self, raw: bytes) -> tuple[int, bytes]:
        status, head = await self.head(raw)
        return status, await self.body(head)

    def close(self) -> None:
        self.writer.close()


def raw_request(
    method: str,
    path: str,
    port: int,
    token: str,
    *,
    agent: str,
    body: bytes = b"",
    accept: str = JSON_TYPE,
    content_type: str = JSON_TYPE,
) -> bytes:
    """The bytes of one HTTP/1.1 request with a bearer token (``agent``: the field manager)."""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {HOST}:{port}\r\nAuthorization: Bearer {token}\r\n"
        f"Accept: {accept}\r\nUser-Agent: {agent}\r\n"
    )
    if method in ("POST", "PUT", "PATCH"):
        head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"\r\n" + body


@dataclass
class Pool:
    """Keep-alive connections to one server, lent out one request at a time."""

    port: int
    ctx: ssl.SSLContext
    token: str
    agent: str
    idle: asyncio.Queue[Conn] = field(default_factory=asyncio.Queue)

    async def connect(self) -> Conn:
        """A connection of its own, outside the pool (a watch, a timed sequence)."""
        return await Conn.open(self.port, self.ctx, limit=POOL_READ_LIMIT)

    async def open(self, conns: int) -> None:
        for _ in range(conns):
            self.idle.put_nowait(await self.connect())

    def close(self) -> None:
        while not self.idle.empty():
            self.idle.get_nowait().close()

    def raw(
        self, method: str, path: str, body: bytes = b"", content_type: str = JSON_TYPE
    ) -> bytes:
        return raw_request(
            method,
            path,
            self.port,
            self.token,
            agent=self.agent,
            body=body,
            content_type=content_type,
        )

    async def call(
        self, method: str, path: str, body: bytes = b"", content_type: str = JSON_TYPE
    ) -> tuple[int, bytes]:
        """One request on a pooled connection; a connection the server closed while it was idle
        (uvicorn's keep-alive timeout) is replaced and the request sent again on the new one."""
        raw = self.raw(method, path, body, content_type)
        conn = await self.idle.get()
        try:
            try:
                result = await asyncio.wait_for(conn.request(raw), 60)
            except (asyncio.IncompleteReadError, ConnectionError) as exc:
                if isinstance(exc, asyncio.IncompleteReadError) and exc.partial:
                    raise
                conn.close()
                conn = await self.connect()
                result = await asyncio.wait_for(conn.request(raw), 60)
        except BaseException:
            conn.close()
            self.idle.put_nowait(await self.connect())
            raise
        self.idle.put_nowait(conn)
        return result


async def run_all(jobs: Iterable[Callable[[], Awaitable[None]]], workers: int) -> None:
    """The jobs, ``workers`` at a time, in order."""
    queue = collections.deque(jobs)

    async def worker() -> None:
        while queue:
            await queue.popleft()()

    await asyncio.gather(*(worker() for _ in range(workers)))


async def populate(
    port: int,
    ctx: ssl.SSLContext,
    count: int,
    make: Callable[[int], tuple[str, bytes]],
    *,
    conns: int = 16,
) -> list[str]:
    """Send ``make(i)`` (what it is, the raw request) for each ``i < count`` over ``conns``
    keep-alive connections; the answers other than 201, as text."""
    failures: list[str] = []

    async def worker(w: int) -> None:
        conn = await Conn.open(port, ctx)
        try:
            for i in range(w, count, conns):
                what, raw = make(i)
                status, answer = await asyncio.wait_for(conn.request(raw), 30)
                if status != 201:
                    failures.append(f"POST {what}: {status} {answer[:600]!r}")
        finally:
            conn.close()

    await asyncio.gather(*(worker(w) for w in range(conns)))
    return failures


# --- load: the result, the asyncio generator, wrk ---------------------------------------------


@dataclass
class Result:
    """One measured load: throughput, latency, and what went wrong."""

    rate: float
    p50_ms: float
    p99_ms: float
    requests: int
    statuses: collections.Counter[int] = field(default_factory=collections.Counter)
    socket_errors: int = 0
    status_errors: int = 0  # answers >= 400 counted by wrk (reads: statuses are not tallied)
    sample: str = ""  # the body of one non-2xx answer
    cpu: str = ""  # the cores kept busy meanwhile, as text
    server_cpu_us: float = 0.0  # the server's CPU time per request

    def figures(self) -> str:
        return f"{self.rate:,.0f}/s p50 {self.p50_ms:.2f} p99 {self.p99_ms:.2f} ms"

    def failed(self) -> dict[int, int]:
        """The non-2xx statuses and how many of each."""
        return {s: n for s, n in sorted(self.statuses.items()) if not 200 <= s < 300}

    def bad(self) -> str:
        """What went wrong, or ""."""
        errors = self.socket_errors + self.status_errors
        failed = self.failed()
        if not failed and not errors:
            return ""
        return f"statuses {failed}, errors {errors}; sample: {self.sample[:400]}"


async def python_load(
    *,
    port: int,
    ctx: ssl.SSLContext,
    conns: int,
    seconds: float,
    warmup: float,
    make: Callable[[int, int], bytes],
) -> Result:
    """``conns`` connections, each sending ``make(conn, i)`` back to back until the time is up;
    requests that start after the warm-up and finish before the end are counted."""
    start = time.perf_counter() + warmup
    end = start + seconds
    latencies: list[float] = []
    statuses: collections.Counter[int] = collections.Counter()
    errors = 0
    sample = ""

    async def worker(c: int) -> None:
        nonlocal errors, sample
        try:
            conn = await Conn.open(port, ctx)
        except (OSError, ssl.SSLError):
            errors += 1
            return
        try:
            for i in range(MAX_LOOPS):
                raw = make(c, i)
                t0 = time.perf_counter()
                if t0 >= end:
                    return
                status, body = await asyncio.wait_for(conn.request(raw), 30)
                t1 = time.perf_counter()
                if t0 >= start and t1 <= end:
                    latencies.append(t1 - t0)
                    statuses[status] += 1
                if not 200 <= status < 300 and not sample:
                    sample = body.decode(errors="replace")
        except (OSError, ssl.SSLError, asyncio.IncompleteReadError, asyncio.TimeoutError):
            errors += 1
        finally:
            conn.close()

    await asyncio.gather(*(worker(c) for c in range(conns)))
    return Result(
        rate=len(latencies) / seconds,
        p50_ms=pct(latencies, 0.50),
        p99_ms=pct(latencies, 0.99),
        requests=len(latencies),
        statuses=statuses,
        socket_errors=errors,
        sample=sample,
    )


WRK_SCRIPT = r"""
tid = 0
threads = {}
counts = {}
sample = ""
counter = 0
prefix = "w"

function setup(thread)
  tid = tid + 1
  thread:set("tid", tid)
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1] or "w"
end

CREATE_FUNCTIONS

function done(summary, latency, requests)
  local merged = {}
  local first = ""
  for _, t in ipairs(threads) do
    for s, n in pairs(t:get("counts")) do merged[s] = (merged[s] or 0) + n end
    local s = t:get("sample")
    if first == "" and s ~= nil then first = s end
  end
  local parts = {}
  for s, n in pairs(merged) do table.insert(parts, string.format('"%d":%d', s, n)) end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"p50_us":%d,"p99_us":%d,' ..
    '"socket_errors":%d,"status_errors":%d,"statuses":{%s},"sample":%q}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    e.connect + e.read + e.write + e.timeout, e.status, table.concat(parts, ","),
    (first:sub(1, 600):gsub("[^%w%p ]", " "))))
end
"""

# Only creates tally statuses: a response() hook makes wrk hand every body to Lua, which costs
# more than the bare endpoint itself on 1 MiB lists; reads rely on wrk's count of answers >= 400
# and on one probe request when there are any.
WRK_CREATE = """
function request()
  counter = counter + 1
  local name = prefix .. "-" .. tid .. "-" .. counter
  return wrk.format("POST", nil, nil, BODY_HEAD .. name .. BODY_TAIL)
end

function response(status, headers, body)
  counts[status] = (counts[status] or 0) + 1
  if (status < 200 or status > 299) and sample == "" then sample = body or "" end
end
"""


def lua_string(data: bytes) -> str:
    return '"' + "".join(f"\\{b:03d}" for b in data) + '"'


@dataclass(frozen=True)
class WrkCase:
    """One ``wrk`` load: one thread, ``conns`` keep-alive connections to ``url``."""

    binary: str
    url: str
    script: Path
    conns: int
    headers: dict[str, str]

    @classmethod
    def write(
        cls,
        binary: str,
        script: Path,
        *,
        url: str,
        token: str,
        agent: str,
        conns: int,
        accept: str = JSON_TYPE,
        body: tuple[bytes, bytes] | None = None,
    ) -> WrkCase:
        """A case with its Lua script written to ``script``: GETs, or with ``body`` (the bytes
        before and after the name) POSTs of bodies named ``<prefix>-<thread>-<n>``."""
        headers = {"Authorization": f"Bearer {token}", "Accept": accept, "User-Agent": agent}
        func = ""
        if body is not None:
            headers["Content-Type"] = JSON_TYPE
            func = WRK_CREATE.replace("BODY_HEAD", lua_string(body[0]))
            func = func.replace("BODY_TAIL", lua_string(body[1]))
        script.write_text(WRK_SCRIPT.replace("CREATE_FUNCTIONS", func))
        return cls(binary, url, script, conns, headers)

    def run(self, seconds: float, prefix: str) -> Result:
        """One run of ``seconds`` (whole seconds, at least one) and what wrk reported."""
        args = [self.binary, "-t1", f"-c{self.conns}", f"-d{max(1, round(seconds))}s"]
        args += ["--timeout", "10s", "-s", str(self.script)]
        for k, v in self.headers.items():
            args += ["-H", f"{k}: {v}"]
        args += [self.url, "--", prefix]
        out = subprocess.run(
            args, capture_output=True, text=True, timeout=seconds + 60, check=False
        )
        found = re.search(r"^BENCH_JSON (.*)$", out.stdout, re.M)
        if out.returncode != 0 or found is None:
            sys.exit(f"wrk failed ({out.returncode}):\n{out.stdout}\n{out.stderr}")
        data = json.loads(found.group(1))
        return Result(
            rate=data["requests"] / (data["duration_us"] / 1e6),
            p50_ms=data["p50_us"] / 1000,
            p99_ms=data["p99_us"] / 1000,
            requests=data["requests"],
            statuses=collections.Counter({int(k): v for k, v in data["statuses"].items()}),
            socket_errors=data["socket_errors"],
            status_errors=data["status_errors"],
            sample=data["sample"],
        )


def find_wrk(install: bool) -> str | None:
    """``wrk`` on PATH; when missing, ``install`` and root, installed with apt-get if the
    archive has it."""
    found = shutil.which("wrk")
    if found or not install or os.geteuid() != 0 or shutil.which("apt-get") is None:
        return found
    policy = subprocess.run(
        ["apt-cache", "policy", "wrk"], capture_output=True, text=True, timeout=60, check=False
    )
    candidate = re.search(r"Candidate:\s*(\S+)", policy.stdout)
    if candidate is None or candidate.group(1) == "(none)":
        return None
    print("installing wrk with apt-get ...", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    with contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run(
            ["apt-get", "install", "-y", "-q", "wrk"],
            capture_output=True,
            timeout=180,
            check=False,
            env=env,
        )
    return shutil.which("wrk")
