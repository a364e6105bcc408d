"""What authentication plus authorization cost per request (issue 6's benchmark).

Starts a ``kcp start`` with a token file, makes a workspace ``root:bench:ws`` holding 1,000
RoleBindings (to other users) plus one that lets a service account read configmaps, and then,
in one run and alternating, GETs one ConfigMap there with the admin token (``system:masters``:
no RBAC evaluation) and with the service account's token (JWT verification, workspace rule and
RBAC over the 1,000 bindings). Prints requests/s and latency for each and the ratio; the goal
is under 15% overhead (ratio >= 0.87). Not a timed test: CI machines are noisy.

    .venv/bin/python tests/benchmarks/bench_authz.py [--requests 3000] [--bindings 1000]
"""

from __future__ import annotations

import argparse
import base64
import http.client
import json
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.benchmarks.common import pct  # noqa: E402
from tests.conftest import KcpServer, running_kcp  # noqa: E402

RBAC = "rbac.authorization.k8s.io"
WS = "root:bench:ws"
CONNECTIONS = 8


class Client:
    """One keep-alive HTTPS connection with a bearer token."""

    def __init__(self, server: KcpServer, token: str) -> None:
        host, port = server.url.removeprefix("https://").rsplit(":", 1)
        context = ssl.create_default_context(cafile=str(server.ca_file))
        self.conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=30)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        self.conn.request(method, path, body=data, headers=self.headers)
        resp = self.conn.getresponse()
        raw = resp.read()
        return resp.status, json.loads(raw) if raw else None


def admin_token(server: KcpServer) -> str:
    for line in server.kubeconfig.read_text().splitlines():
        if "token:" in line:
            return line.split("token:", 1)[1].strip().strip('"')
    raise SystemExit("no admin token in the kubeconfig")


def ok(result: tuple[int, Any], *codes: int) -> Any:
    status, body = result
    if status not in codes:
        raise SystemExit(f"unexpected {status}: {body}")
    return body


def wait_for(check: Any, what: str) -> Any:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise SystemExit(f"timed out waiting for {what}")


def setup(server: KcpServer, bindings: int) -> str:
    """The workspace, its bindings and configmap; the service account's token."""
    admin = Client(server, admin_token(server))
    for parent, name, kind in (
        ("root", "bench", "Organization"),
        ("root:bench", "ws", "Universal"),
    ):
        path = f"/clusters/{parent}/apis/tenancy.kcp.dev/v1beta1/workspaces"
        workspace = {"apiVersion": "tenancy.kcp.dev/v1beta1", "kind": "Workspace",
                     "metadata": {"name": name}, "spec": {"type": kind}}  # fmt: skip
        ok(admin.call("POST", path, workspace), 201)
        wait_for(
            lambda p=path, n=name: (
                (admin.call("GET", f"{p}/{n}")[1] or {}).get("status", {}).get("phase") == "Ready"
            ),
            f"workspace {name}",
        )
    base = f"/clusters/{WS}"
    ok(admin.call("POST", f"{base}/api/v1/namespaces/default/configmaps",
                  {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "target"},
                   "data": {"k": "v"}}), 201)  # fmt: skip
    ok(admin.call("POST", f"{base}/api/v1/namespaces/default/serviceaccounts",
                  {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "reader"}}),
       201)  # fmt: skip
    for i in range(bindings):
        ok(admin.call("POST", f"{base}/apis/{RBAC}/v1/namespaces/default/rolebindings", {
            "apiVersion": f"{RBAC}/v1", "kind": "RoleBinding",
            "metadata": {"name": f"other-{i}"},
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"},
            "subjects": [{"apiGroup": RBAC, "kind": "User", "name": f"user-{i}"}],
        }), 201)  # fmt: skip
    ok(admin.call("POST", f"{base}/apis/{RBAC}/v1/namespaces/default/rolebindings", {
        "apiVersion": f"{RBAC}/v1", "kind": "RoleBinding", "metadata": {"name": "reader"},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": "view"},
        "subjects": [{"kind": "ServiceAccount", "name": "reader", "namespace": "default"}],
    }), 201)  # fmt: skip
    account = wait_for(
        lambda: (
            (admin.call("GET", f"{base}/api/v1/namespaces/default/serviceaccounts/reader")[1])
            if (
                admin.call("GET", f"{base}/api/v1/namespaces/default/serviceaccounts/reader")[1]
                or {}
            ).get("secrets")
            else None
        ),
        "the service account's token Secret",
    )
    secret = ok(
        admin.call(
            "GET", f"{base}/api/v1/namespaces/default/secrets/{account['secrets'][0]['name']}"
        ),
        200,
    )
    return base64.b64decode(secret["data"]["token"]).decode()


def measure(server: KcpServer, token: str, requests: int) -> tuple[float, list[float]]:
    """requests/s and per-request latencies (ms) of GETs over CONNECTIONS connections."""
    path = f"/clusters/{WS}/api/v1/namespaces/default/configmaps/target"
    latencies: list[float] = []
    lock = threading.Lock()
    per_thread = requests // CONNECTIONS

    def work() -> None:
        client = Client(server, token)
        mine = []
        for _ in range(per_thread):
            start = time.perf_counter()
            ok(client.call("GET", path), 200)
            mine.append((time.perf_counter() - start) * 1000)
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=work) for _ in range(CONNECTIONS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(latencies) / (time.perf_counter() - began), latencies


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--bindings", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        (base / "tokens.csv").write_text("unused-token-0123456789,nobody,nobody\n")
        with running_kcp(
            base / "kcp", "--token-auth-file", str(base / "tokens.csv"), log=base / "kcp.log"
        ) as server:
            started = time.perf_counter()
            sa_token = setup(server, args.bindings)
            print(f"setup: workspace, {args.bindings:,} RoleBindings, service account "
                  f"({time.perf_counter() - started:.1f} s)")  # fmt: skip
            results: dict[str, list[tuple[float, list[float]]]] = {"admin": [], "sa": []}
            tokens = {"admin": admin_token(server), "sa": sa_token}
            measure(server, tokens["sa"], 400)  # warm the caches (JWT, RBAC index)
            for _ in range(args.rounds):
                for who in ("admin", "sa"):
                    results[who].append(measure(server, tokens[who], args.requests))
            best = {who: max(runs, key=lambda r: r[0]) for who, runs in results.items()}
            labels = {
                "admin": "admin token (system:masters)",
                "sa": f"service account via RBAC, {args.bindings:,} bindings",
            }
            for who, label in labels.items():
                rate, lat = best[who]
                p99 = pct(lat, 0.99, scale=1.0)  # lat is in ms already
                print(f"GET, {CONNECTIONS} conns, {label:<44} {rate:8,.0f}/s  "
                      f"p50 {statistics.median(lat):.2f} p99 {p99:.2f} ms")  # fmt: skip
            ratio = best["sa"][0] / best["admin"][0]
            verdict = "met" if ratio >= 0.87 else "missed"
            print(f"ratio service account / admin: {ratio:.2f} "
                  f"(overhead {100 * (1 - ratio):.0f}%; goal under 15%: {verdict})")  # fmt: skip


if __name__ == "__main__":
    main()
