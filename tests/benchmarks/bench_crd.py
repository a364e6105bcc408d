"""Custom-resource benchmark: a Deployment-shaped custom resource against ConfigMaps, same run.

Not a test: it prints figures and ratios (CI machines are noisy; nothing here asserts timing).

    .venv/bin/python tests/benchmarks/bench_crd.py [--quick] [--seconds 5] [--client auto|python]

Why it exists: a custom resource costs the server more per request than a ConfigMap of the
same size: its CRD's structural schema defaults, prunes and validates every object, and its
managedFields record every field of a deep object rather than one ``data`` key. This measures
how much of the ConfigMap throughput a realistic custom resource keeps (goal: within 20%,
ratio CR/ConfigMap >= 0.8) and where the difference goes.

It starts a real ``kcp start`` over HTTPS, installs a CRD (``deployments.bench.example.com``,
namespaced) whose schema is the real ``apps/v1`` Deployment schema inlined from the bundled
OpenAPI document (``$ref`` and ``allOf: [{$ref}]`` replaced by their target, IntOrString and
Quantity as ``x-kubernetes-int-or-string``, ``default: {}`` and descriptions dropped, metadata
as a bare object), waits for it to be Established, and then measures, interleaved and against
ConfigMaps whose ``data`` holds a Deployment-sized payload (request bodies within a few bytes
of the custom resource's): CREATE with 32 concurrent clients (objects/s, p50/p99), GET of one
object with 16 connections (requests/s) and LIST of 1,000 objects on one connection (ms per
list). Each line shows the custom resource's figure and the ratio CR/ConfigMap, and the
server's CPU time per request of both.

Then, in this process, the work the schema adds per object (compile once; default, prune and
validate the benchmark object, microseconds each) and the managedFields cost of a create of
the same object (``record_update`` with ``inline_types(schema)``, next to a ConfigMap with
the built-in type tree), so the figures say where the time goes.

Load generator: ``wrk`` (one thread, keep-alive) when installed, else a Python asyncio HTTPS
client; the same one drives both kinds, so the ratios are fair. Everything runs on 127.0.0.1
in a temporary root directory; about two minutes in all (``--quick``: about one).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson
import uvloop

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kcp_edge.apimachinery import managedfields, schematypes
from kcp_edge.apimachinery.structural import CompiledSchema, check_structural
from kcp_edge.registry.openapi_data import component_schemas
from tests.benchmarks.common import (
    Columns,
    Kcp,
    Result,
    WrkCase,
    client_cpu,
    find_wrk,
    finish,
    populate,
    process_cpu,
    python_load,
    raw_request,
    start_kcp,
)
from tests.conftest import REPO

OPENAPI = REPO / "kcp_edge" / "registry" / "data" / "openapi" / "apis__apps__v1.json"
T = TypeVar("T")
AGENT = "kcp-bench-crd"  # the field manager: managedFields recorded
PREFIX = "/clusters/root"
ESTABLISH_TIMEOUT = 30.0
CREATE_CONNS = 32
GET_CONNS = 16
LIST_CONNS = 1
POPULATE_CONNS = 16
GOAL_RATIO = 0.8

GROUP = "bench.example.com"
CRD_NAME = f"deployments.{GROUP}"
CR_API_VERSION = f"{GROUP}/v1"
NS_GET, NS_LIST, NS_CREATE = "bench-get", "bench-list", "bench-create"
PATHS = {
    "cr": f"{PREFIX}/apis/{GROUP}/v1/namespaces/{{ns}}/deployments",
    "cm": f"{PREFIX}/api/v1/namespaces/{{ns}}/configmaps",
}
LABELS = {"cr": "custom resource", "cm": "configmap"}
PLACEHOLDER = "NAME-PLACEHOLDER"
line = Columns(44, 34).line


# --- the schema and the objects ---------------------------------------------------------------

_REF_PREFIX = "#/components/schemas/"
_INT_OR_STRING = frozenset(
    {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        "io.k8s.apimachinery.pkg.api.resource.Quantity",
    }
)
# Extensions of the built-in OpenAPI that a CRD's JSONSchemaProps has no field for.
_DROPPED = frozenset(
    {
        "description",
        "x-kubernetes-patch-strategy",
        "x-kubernetes-patch-merge-key",
        "x-kubernetes-unions",
        "x-kubernetes-group-version-kind",
    }
)


def _inline(schema: Any, components: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Resolve ``$ref`` (and ``allOf: [{$ref}]``) into one schema, as a CRD carries it: int-or-
    string types become the marker, ``default: {}`` and descriptions are dropped (a copy of the
    helper in ``tests/apimachinery/test_structural.py``)."""
    if isinstance(schema, list):
        return [_inline(item, components, seen) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    rest = {k: v for k, v in schema.items() if k != "$ref"}
    all_of = schema.get("allOf")
    if ref is None and isinstance(all_of, list) and len(all_of) == 1 and "$ref" in all_of[0]:
        ref = all_of[0]["$ref"]
        rest = {k: v for k, v in schema.items() if k != "allOf"}
    out: dict[str, Any] = {}
    if ref is not None:
        name = ref.removeprefix(_REF_PREFIX)
        if name in _INT_OR_STRING:
            out = {"x-kubernetes-int-or-string": True}
        elif name in seen:
            out = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        else:
            out = _inline(components[name], components, (*seen, name))
    for key, value in rest.items():
        if key in _DROPPED or (key == "default" and value == {}):
            continue
        if key == "properties":
            out[key] = {k: _inline(v, components, seen) for k, v in value.items()}
        else:
            out[key] = _inline(value, components, seen)
    return out


def deployment_schema() -> dict[str, Any]:
    components = orjson.loads(OPENAPI.read_bytes())["components"]["schemas"]
    schema: dict[str, Any] = _inline(components["io.k8s.api.apps.v1.Deployment"], components)
    schema["properties"]["metadata"] = {"type": "object"}
    return schema


def crd(schema: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": CRD_NAME},
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "plural": "deployments",
                "singular": "deployment",
                "kind": "Deployment",
                "listKind": "DeploymentList",
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": schema},
                }
            ],
        },
    }


def deployment(name: str) -> dict[str, Any]:
    """A realistic Deployment: two containers with ports, env, resources, probes, mounts."""
    container = {
        "name": "web",
        "image": "nginx:1.27",
        "imagePullPolicy": "IfNotPresent",
        "args": ["--port=8080", "--log-level=info"],
        "ports": [
            {"name": "http", "containerPort": 8080, "protocol": "TCP"},
            {"name": "metrics", "containerPort": 9090},
        ],
        "env": [{"name": f"VAR_{i}", "value": f"value-{i}"} for i in range(6)]
        + [{"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": 1}},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/web", "readOnly": True}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
        "livenessProbe": {"tcpSocket": {"port": "http"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    return {
        "apiVersion": CR_API_VERSION,
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1},
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [container, {"name": "sidecar", "image": "envoy:1.30"}],
                    "volumes": [
                        {"name": "config", "configMap": {"name": "web", "defaultMode": 420}}
                    ],
                    "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
                },
            },
        },
    }


def configmap(name: str, size: int) -> dict[str, Any]:
    """A ConfigMap whose ``data`` holds the Deployment's spec as JSON text, cut so that its
    body is no longer than ``size`` bytes (and within a few bytes of it)."""
    text = orjson.dumps(deployment(name)["spec"]).decode()
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "labels": {"app": "web"}},
        "data": {"deployment.json": text},
    }
    while len(orjson.dumps(obj)) > size and text:
        text = text[: -max(1, (len(orjson.dumps(obj)) - size) // 2)]
        obj["data"]["deployment.json"] = text
    return obj


@dataclass(frozen=True)
class Kind:
    """One benchmarked kind: its collection path pattern and its body template."""

    key: str
    head: bytes
    tail: bytes

    def body(self, name: str) -> bytes:
        return self.head + name.encode() + self.tail

    def path(self, ns: str) -> str:
        return PATHS[self.key].format(ns=ns)


def kinds() -> dict[str, Kind]:
    cr = orjson.dumps(deployment(PLACEHOLDER))
    cm = orjson.dumps(configmap(PLACEHOLDER, len(cr)))
    out = {}
    for key, raw in (("cr", cr), ("cm", cm)):
        head, tail = raw.split(PLACEHOLDER.encode())
        out[key] = Kind(key, head, tail)
    return out


# --- the server -------------------------------------------------------------------------------


def install_crd(server: Kcp, schema: dict[str, Any]) -> float:
    """Create the CRD, wait for Established and for its collection to answer; seconds taken."""
    causes = check_structural(schema, field_path="spec.versions[0].schema.openAPIV3Schema")
    if causes:
        sys.exit(f"the inlined Deployment schema is not structural: {causes[:5]}")
    t = time.perf_counter()
    path = f"{PREFIX}/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
    server.must("POST", path, orjson.dumps(crd(schema)))
    deadline = time.monotonic() + ESTABLISH_TIMEOUT
    established = False
    while time.monotonic() < deadline:
        if not established:
            got = orjson.loads(server.must("GET", f"{path}/{CRD_NAME}"))
            conditions = {c["type"]: c for c in got.get("status", {}).get("conditions") or []}
            established = conditions.get("Established", {}).get("status") == "True"
        if established and server.call("GET", PATHS["cr"].format(ns=NS_GET))[0] == 200:
            return time.perf_counter() - t
        time.sleep(0.05)
    sys.exit(f"{CRD_NAME} was not Established and served within {ESTABLISH_TIMEOUT:g}s")


# --- the benchmark ----------------------------------------------------------------------------


@dataclass
class Bench:
    server: Kcp
    kinds: dict[str, Kind]
    loop: asyncio.AbstractEventLoop
    work: Path
    wrk: str | None
    seconds: float
    warmup: float
    rounds: int
    problems: list[str] = field(default_factory=list)
    runs: int = 0

    def run(self, coro: Coroutine[object, object, T]) -> T:
        return self.loop.run_until_complete(coro)

    def raw(self, method: str, path: str, body: bytes = b"") -> bytes:
        server = self.server
        return raw_request(method, path, server.port, server.token, agent=AGENT, body=body)

    def populate(self, kind: Kind, ns: str, count: int) -> float:
        """``count`` objects of ``kind`` in ``ns``, 16 connections; creates per second."""
        path = kind.path(ns)
        server = self.server

        def make(i: int) -> tuple[str, bytes]:
            name = f"obj-{i:05d}"
            body = kind.body(name)
            return f"{path} {name}", self.raw("POST", path, body)

        t = time.perf_counter()
        failures = self.run(populate(server.port, server.ctx, count, make, conns=POPULATE_CONNS))
        if failures:
            sys.exit("setup failed:\n" + "\n".join(failures[:5]))
        return count / (time.perf_counter() - t)

    def load(self, kind: Kind, conns: int, path: str, *, create: bool) -> Result:
        """Warm up, then measure ``conns`` keep-alive connections; server CPU per request."""
        self.runs += 1
        pfx = f"r{self.runs}-{kind.key}"
        server = self.server
        measured: Callable[[], Result]
        if self.wrk is not None:
            case = WrkCase.write(
                self.wrk,
                self.work / f"wrk-{kind.key}-{'create' if create else 'read'}.lua",
                url=server.child.url + path,
                token=server.token,
                agent=AGENT,
                conns=conns,
                body=(kind.head, kind.tail) if create else None,
            )
            if self.warmup > 0:
                warm = case.run(self.warmup, pfx + "w")
                if warm.bad():
                    self.problems.append(f"warm-up {path}: {warm.bad()}")
            seconds = self.seconds

            def measured() -> Result:
                return case.run(seconds, pfx)

        else:
            fixed = self.raw("GET", path)

            def make(c: int, i: int) -> bytes:
                if not create:
                    return fixed
                return self.raw("POST", path, kind.body(f"{pfx}-{c}-{i}"))

            seconds, warmup = self.seconds, self.warmup

            def measured() -> Result:
                return self.run(
                    python_load(
                        port=server.port,
                        ctx=server.ctx,
                        conns=conns,
                        seconds=seconds,
                        warmup=warmup,
                        make=make,
                    )
                )

        uses_wrk = self.wrk is not None
        wall, cpu, mine = (
            time.perf_counter(),
            process_cpu(server.child.proc.pid),
            client_cpu(uses_wrk),
        )
        result = measured()
        elapsed = time.perf_counter() - wall
        busy = process_cpu(server.child.proc.pid) - cpu
        mine = client_cpu(uses_wrk) - mine
        if not uses_wrk:  # the Python client's warm-up is inside the measured call
            busy *= self.seconds / (self.seconds + self.warmup)
            mine *= self.seconds / (self.seconds + self.warmup)
            elapsed *= self.seconds / (self.seconds + self.warmup)
        result.server_cpu_us = busy / max(1, result.requests) * 1e6
        result.cpu = f"server {busy / elapsed:.2f} client {mine / elapsed:.2f}"
        if result.bad():
            self.problems.append(f"{'POST' if create else 'GET'} {path}: {result.bad()}")
        return result


def best(results: list[Result]) -> Result:
    return max(results, key=lambda r: r.rate)


def compare(
    bench: Bench, conns: int, ns: str, suffix: str = "", *, create: bool = False
) -> tuple[Result, Result]:
    """Interleaved rounds (configmap, CR, configmap, CR, ...); the best round of each."""
    got: dict[str, list[Result]] = {"cm": [], "cr": []}
    for _ in range(bench.rounds):
        for key in ("cm", "cr"):
            kind = bench.kinds[key]
            got[key].append(bench.load(kind, conns, kind.path(ns) + suffix, create=create))
    cm, cr = best(got["cm"]), best(got["cr"])
    return cm, cr


def report(label: str, cm: Result, cr: Result, *, latency_only: bool = False) -> float:
    ratio = cr.rate / cm.rate if cm.rate else float("nan")
    verdict = "met" if ratio >= GOAL_RATIO else "missed"
    for key, r in (("cm", cm), ("cr", cr)):
        if latency_only:
            figures = f"{r.p50_ms:.1f} ms/list (p99 {r.p99_ms:.1f}), {r.rate:,.1f}/s"
        else:
            figures = f"{r.rate:,.0f}/s p50 {r.p50_ms:.2f} p99 {r.p99_ms:.2f} ms"
        extra = f"server cpu {r.server_cpu_us:,.0f} us/request; cores {r.cpu}"
        if key == "cr":
            extra = f"ratio CR/configmap {ratio:.2f} (goal >= {GOAL_RATIO}: {verdict}); " + extra
        line(f"{label}: {LABELS[key]}", figures, extra)
    return ratio


# --- in-process: where the time goes ----------------------------------------------------------


def per_object_us(objects: list[Any], work: Callable[[Any], object]) -> float:
    """Microseconds per object; the first tenth (lazy type resolution, caches) is a warm-up."""
    warm = max(1, len(objects) // 10)
    for obj in objects[:warm]:
        work(obj)
    t = time.perf_counter()
    for obj in objects[warm:]:
        work(obj)
    return (time.perf_counter() - t) / max(1, len(objects) - warm) * 1e6


def in_process(schema: dict[str, Any], count: int, create_gap_us: float | None) -> None:
    """Schema and managedFields work per object, measured here on fresh copies."""
    cr_raw = orjson.dumps(deployment("in-process"))
    cm_raw = orjson.dumps(configmap("in-process", len(cr_raw)))

    def copies(raw: bytes) -> list[Any]:
        return [orjson.loads(raw) for _ in range(count)]

    t = time.perf_counter()
    compiled = CompiledSchema.compile(schema)
    compile_ms = (time.perf_counter() - t) * 1000
    t = time.perf_counter()
    cr_types = schematypes.inline_types(schema)
    types_ms = (time.perf_counter() - t) * 1000
    cm_types = schematypes.builtin_types(
        component_schemas(group="", version="v1"), "io.k8s.api.core.v1.ConfigMap"
    )

    check = orjson.loads(cr_raw)
    compiled.default(check)
    pruned = compiled.prune(check)
    causes = compiled.validate(check)
    if pruned or causes:
        sys.exit(f"the benchmark object does not fit the schema: pruned {pruned}, {causes[:3]}")

    def record(types: schematypes.TypeNode, api_version: str) -> Callable[[Any], object]:
        def run(obj: Any) -> None:
            managedfields.record_update(
                None,
                obj,
                manager="kcp-bench-crd",
                types=types,
                api_version=api_version,
                now="2024-01-01T00:00:00Z",
            )

        return run

    def all_three(obj: Any) -> None:
        compiled.default(obj)
        compiled.prune(obj)
        compiled.validate(obj)

    decode = per_object_us([cr_raw] * count, orjson.loads)
    staged = copies(cr_raw)  # each step on the output of the one before, as a create runs them
    default = per_object_us(staged, compiled.default)
    prune = per_object_us(staged, compiled.prune)
    validate = per_object_us(staged, compiled.validate)
    total = per_object_us(copies(cr_raw), all_three)
    mf_cr = per_object_us(copies(cr_raw), record(cr_types, CR_API_VERSION))
    mf_cm = per_object_us(copies(cm_raw), record(cm_types, "v1"))
    sample = orjson.loads(cr_raw)
    record(cr_types, CR_API_VERSION)(sample)
    entry = orjson.dumps(sample["metadata"]["managedFields"])

    print(f"in-process, {count:,} objects each (the {len(cr_raw):,}-byte benchmark Deployment):")
    line("  compile the schema (once per CRD version)", f"{compile_ms:,.1f} ms")
    line("  inline_types(schema) (once per CRD version)", f"{types_ms:,.1f} ms")
    line("  orjson.loads of the body (for scale)", f"{decode:,.1f} us/object")
    line("  default", f"{default:,.1f} us/object")
    line("  prune", f"{prune:,.1f} us/object")
    line("  validate", f"{validate:,.1f} us/object")
    line("  default + prune + validate", f"{total:,.1f} us/object")
    line(
        "  managedFields on create: custom resource",
        f"{mf_cr:,.1f} us/object",
        f"entry {len(entry):,} B",
    )
    line("  managedFields on create: configmap", f"{mf_cm:,.1f} us/object")
    if create_gap_us is not None:
        explained = total + mf_cr - mf_cm
        line(
            "  server CPU per create, CR minus configmap",
            f"{create_gap_us:,.0f} us/object",
            f"schema work + managedFields difference here: {explained:,.0f} us "
            f"({explained / create_gap_us:.0%})"
            if create_gap_us > 0
            else "",
        )


# --- main -------------------------------------------------------------------------------------


def run(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="kcp-bench-crd-"))
    root = work / "kcp"
    wrk = None if args.client == "python" else find_wrk(install=False)
    schema = deployment_schema()
    server = start_kcp(root, work / "kcp.log", agent=AGENT)
    notes: list[str] = []
    problems: list[str] = []
    create_gap_us: float | None = None
    try:
        loop = uvloop.new_event_loop()
        try:
            bench = Bench(
                server=server,
                kinds=kinds(),
                loop=loop,
                work=work,
                wrk=wrk,
                seconds=args.seconds,
                warmup=args.warmup,
                rounds=args.rounds,
            )
            problems = bench.problems
            create_gap_us = measure(bench, schema, args.list_size)
        finally:
            loop.close()
        notes.append(server.child.stop())
    finally:
        server.child.kill()
    print("-" * 116)
    in_process(schema, args.objects, create_gap_us)
    print("-" * 116)
    finish(problems + [n for n in notes if n], work, keep=args.keep)


def measure(bench: Bench, schema: dict[str, Any], list_size: int) -> float:
    """Set up and run the cases; the server CPU per create of a CR minus that of a configmap."""
    server = bench.server
    client = f"wrk ({bench.wrk}, 1 thread)" if bench.wrk else "Python asyncio client (uvloop)"
    print(
        f"kcp-edge CRD benchmark  python {sys.version.split()[0]}  cpus {os.cpu_count()}  "
        f"client {client}\n{bench.seconds:g} s per case after {bench.warmup:g} s warm-up, best "
        f"of {bench.rounds} interleaved rounds; 'cores': cores kept busy meanwhile"
    )
    print("-" * 116, flush=True)
    for ns in (NS_GET, NS_LIST, NS_CREATE):
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
        server.must("POST", f"{PREFIX}/api/v1/namespaces", orjson.dumps(namespace))
    crd_bytes = len(orjson.dumps(crd(schema)))
    took = install_crd(server, schema)
    line("CRD created, Established and served", f"{took * 1000:,.0f} ms", f"CRD {crd_bytes:,} B")

    sizes: dict[str, str] = {}
    for key, kind in bench.kinds.items():
        sent = kind.body("obj")
        stored = server.must("POST", kind.path(NS_GET), sent)
        sizes[key] = f"request {len(sent):,} B, stored {len(stored):,} B"
        if key == "cr":
            obj = orjson.loads(stored)
            ports = obj["spec"]["template"]["spec"]["containers"][0]["ports"]
            if ports[1].get("protocol") != "TCP":
                bench.problems.append(f"the CR was not defaulted: ports {ports}")
    line("bodies: custom resource", sizes["cr"])
    line("bodies: configmap", sizes["cm"])
    for key in ("cm", "cr"):
        rate = bench.populate(bench.kinds[key], NS_LIST, list_size)
        line(f"setup: {list_size:,} {LABELS[key]}s, {POPULATE_CONNS} conns", f"{rate:,.0f}/s")
    lists = {key: server.must("GET", kind.path(NS_LIST)) for key, kind in bench.kinds.items()}
    for key, body in lists.items():
        items = len(orjson.loads(body)["items"])
        if items != list_size:
            bench.problems.append(f"LIST {LABELS[key]}: {items} items, not {list_size}")
    print("-" * 116, flush=True)

    cm, cr = compare(bench, CREATE_CONNS, NS_CREATE, create=True)
    report(f"CREATE, {CREATE_CONNS} clients", cm, cr)
    create_gap_us = cr.server_cpu_us - cm.server_cpu_us
    cm, cr = compare(bench, GET_CONNS, NS_GET, "/obj")
    report(f"GET one object, {GET_CONNS} conns", cm, cr)
    cm, cr = compare(bench, LIST_CONNS, NS_LIST)
    kib = {key: f"{len(body) // 1024:,} KiB" for key, body in lists.items()}
    report(f"LIST {list_size:,} (CR {kib['cr']}, cm {kib['cm']})", cm, cr, latency_only=True)
    return create_gap_us


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer objects, shorter cases")
    parser.add_argument("--seconds", type=float, help="measured seconds per case (5; quick 2)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds per case (1; quick 1)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds per case (2; quick 1)")
    parser.add_argument("--client", choices=("auto", "python"), default="auto")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    args = parser.parse_args()
    quick = bool(args.quick)
    args.seconds = min(max(args.seconds or (2.0 if quick else 5.0), 1.0), 30.0)
    args.warmup = min(max(args.warmup if args.warmup is not None else 1.0, 0.0), 10.0)
    args.rounds = min(max(args.rounds or (1 if quick else 2), 1), 5)
    args.list_size = 200 if quick else 1000
    args.objects = 200 if quick else 1000
    run(args)


if __name__ == "__main__":
    main()
