"""Helpers and fixtures shared by the newer API test modules (kubectl generators, more Python client
behaviour, error answers).

Why this module exists: those modules need the same kubectl runner as ``test_kubectl.py`` (also in
the ``KUBE_FEATURE_WatchListClient=false`` variant), raw HTTPS requests with a body to provoke the
error paths no client would send, and a quick way to push the shared server's history past its
compaction window. Fixtures defined here are imported by name into the modules that use them.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import subprocess
import uuid
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from tests.conftest import KUBECTL, KUBECTL_1_32, KcpServer, Response, tls_context

# (binary, extra environment): 1.37 with its default watch-list informers, 1.37 with them off
# (LIST then WATCH, as older clients do), and 1.32 (which lists then watches by default).
WATCH_LIST_OFF = {"KUBE_FEATURE_WatchListClient": "false"}
BINARIES = [pytest.param((KUBECTL, {}), id="kubectl-1.37")]
BINARIES_WITH_WATCH_LIST_OFF = [
    *BINARIES,
    pytest.param((KUBECTL, WATCH_LIST_OFF), id="kubectl-1.37-watchlist-off"),
]
if KUBECTL_1_32.exists():
    BINARIES.append(pytest.param((str(KUBECTL_1_32), {}), id="kubectl-1.32"))
    BINARIES_WITH_WATCH_LIST_OFF.append(pytest.param((str(KUBECTL_1_32), {}), id="kubectl-1.32"))


class Kubectl:
    """``kubectl --kubeconfig <admin> -n <namespace> ...``, HOME fresh (no cached discovery)."""

    def __init__(
        self, binary: str | None, env: dict[str, str], server: KcpServer, namespace: str, home: Path
    ) -> None:
        if binary is None:
            pytest.skip("kubectl is not installed next to the Python interpreter")
        self.binary = binary
        self.env = env
        self.server = server
        self.namespace = namespace
        self.home = home

    @property
    def is_1_32(self) -> bool:
        return self.binary == str(KUBECTL_1_32)

    def command(self, *args: str) -> list[str]:
        return [
            self.binary,
            "--kubeconfig",
            str(self.server.kubeconfig),
            "-n",
            self.namespace,
            *args,
        ]

    def environment(self) -> dict[str, str]:
        return {**os.environ, "HOME": str(self.home), **self.env}

    def __call__(
        self,
        *args: str,
        stdin: str | None = None,
        env_extra: dict[str, str] | None = None,
        check: bool = True,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            self.command(*args),
            input=stdin,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env={**self.environment(), **(env_extra or {})},
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{done.stderr}")
        return done


@pytest.fixture(params=BINARIES)
def kubectl(
    request: pytest.FixtureRequest, shared_kcp: KcpServer, namespace: str, tmp_path: Path
) -> Kubectl:
    """kubectl (1.37, and 1.32 where installed) in the test's namespace."""
    binary, env = request.param
    return Kubectl(binary, env, shared_kcp, namespace, tmp_path)


@pytest.fixture(params=BINARIES_WITH_WATCH_LIST_OFF)
def kubectl_watching(
    request: pytest.FixtureRequest, shared_kcp: KcpServer, namespace: str, tmp_path: Path
) -> Kubectl:
    """As `kubectl`, plus 1.37 with ``KUBE_FEATURE_WatchListClient=false``: for wait and -w."""
    binary, env = request.param
    return Kubectl(binary, env, shared_kcp, namespace, tmp_path)


def lines(text: str) -> list[str]:
    """Output lines with runs of blanks collapsed, as the existing kubectl tests compare them."""
    return [re.sub(r"\s+", " ", line).strip() for line in text.strip().splitlines()]


# --- raw HTTPS ---------------------------------------------------------------------------------


def admin_token(server: KcpServer) -> str:
    for line in server.kubeconfig.read_text().splitlines():
        if "token:" in line:
            return line.split("token:", 1)[1].strip().strip('"')
    raise AssertionError("no token in the kubeconfig")


def https_call(
    server: KcpServer,
    method: str,
    path: str,
    body: bytes | Iterable[bytes] | None = None,
    *,
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10,
) -> Response:
    """One authenticated request with an optional body (``https_request`` sends none); a body
    given as an iterable of chunks goes out with ``Transfer-Encoding: chunked``."""
    host, port = server.url.removeprefix("https://").rsplit(":", 1)
    all_headers = {"Authorization": f"Bearer {admin_token(server)}", **(headers or {})}
    if content_type is not None:
        all_headers["Content-Type"] = content_type
    conn = http.client.HTTPSConnection(
        host, int(port), context=tls_context(server.ca_file), timeout=timeout
    )
    try:
        chunked = body is not None and not isinstance(body, bytes)
        conn.request(method, path, body=body, headers=all_headers, encode_chunked=chunked)
        resp = conn.getresponse()
        data = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, data)
    finally:
        conn.close()


def status_of(resp: Response) -> dict[str, Any]:
    """The JSON ``Status`` of an error answer, after checking it is one."""
    assert resp.headers.get("content-type", "").startswith("application/json"), resp
    body: dict[str, Any] = json.loads(resp.body)
    assert body["kind"] == "Status" and body["apiVersion"] == "v1", body
    assert body["status"] == "Failure", body
    return body


@pytest.fixture(scope="session")
def cluster_path(api_client: client.ApiClient) -> str:
    """The path prefix of the admin kubeconfig's current context (``/clusters/root:default``)."""
    return urlsplit(api_client.configuration.host).path.rstrip("/")


def server_log(server: KcpServer) -> str:
    """The shared server's log (``shared_kcp`` writes it next to the root directory)."""
    return (server.root.parent / "kcp.log").read_text(errors="replace")


@pytest.fixture
def no_server_traceback(shared_kcp: KcpServer) -> Iterator[None]:
    """Fails the test if the shared server logged a traceback while it ran (an unhandled error
    behind an answer that may still look right)."""
    before = len(server_log(shared_kcp))
    yield
    assert "Traceback" not in server_log(shared_kcp)[before:]


class NamespaceApi:
    """Raw HTTPS requests against one namespace of the admin kubeconfig's workspace."""

    def __init__(self, server: KcpServer, prefix: str, namespace: str) -> None:
        self.server = server
        self.prefix = prefix
        self.namespace = namespace

    def path(self, resource: str = "configmaps", name: str = "", query: str = "") -> str:
        """The workspace's path of a core/v1 collection (or object) in the namespace."""
        path = f"{self.prefix}/api/v1/namespaces/{self.namespace}/{resource}"
        if name:
            path += f"/{name}"
        return path + (f"?{query}" if query else "")

    def call(
        self,
        method: str,
        path: str,
        body: str | bytes | Iterable[bytes] | None = None,
        content_type: str | None = None,
    ) -> Response:
        """``path`` as given: from `path`, or any server path (``/clusters/*/...``)."""
        data = body.encode() if isinstance(body, str) else body
        return https_call(self.server, method, path, data, content_type=content_type or None)

    def names(self, path: str | None = None) -> list[str]:
        """The names listed at ``path`` (default: the namespace's configmaps)."""
        resp = self.call("GET", path or self.path())
        assert resp.status == 200, resp
        return [item["metadata"]["name"] for item in json.loads(resp.body)["items"]]

    def data(self, name: str) -> Any:
        resp = self.call("GET", self.path(name=name))
        assert resp.status == 200, resp
        return json.loads(resp.body).get("data")


@pytest.fixture
def api(shared_kcp: KcpServer, cluster_path: str, namespace: str) -> NamespaceApi:
    return NamespaceApi(shared_kcp, cluster_path, namespace)


# --- history and compaction --------------------------------------------------------------------

# The shared server compacts every 0.5 s and keeps 200 revisions: 410 writes push any earlier
# resourceVersion out of the history, and 2 s give the compactor time to run.
COMPACTION_WRITES = 410
COMPACTION_WAIT = 2.0
CHURN_WORKERS = 8


def churn(api_client: client.ApiClient, namespace: str, writes: int = COMPACTION_WRITES) -> None:
    """At least ``writes`` new revisions in ``namespace``: 8 workers, each merge-patching a
    configmap of its own (so that no write waits for another)."""
    core = client.CoreV1Api(api_client)
    prefix = f"churn-{uuid.uuid4().hex[:6]}"

    def work(worker: int) -> None:
        name = f"{prefix}-{worker}"
        core.create_namespaced_config_map(
            namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name))
        )
        for i in range(-(-writes // CHURN_WORKERS)):
            core.patch_namespaced_config_map(
                name,
                namespace,
                {"data": {"i": str(i)}},
                _content_type="application/merge-patch+json",
            )

    with ThreadPoolExecutor(max_workers=CHURN_WORKERS) as pool:
        list(pool.map(work, range(CHURN_WORKERS)))


@pytest.fixture
def fresh_namespace(api_client: client.ApiClient) -> Iterator[str]:
    """A namespace name (not created) that is deleted afterwards if the test left it behind."""
    name = f"t-{uuid.uuid4().hex[:10]}"
    yield name
    core = client.CoreV1Api(api_client)
    try:
        core.delete_namespace(name)
    except ApiException as exc:
        if exc.status != 404:
            raise
