"""Helm 4 against a real kcp-edge: install, upgrade, list and uninstall a chart with a CRD.

Why this module exists: Helm is how most applications reach a cluster, and Helm 4 changed the
wire protocol: it applies every object with server-side apply by default. A chart with a
CustomResourceDefinition in ``crds/``, a custom resource of it, configmaps, a secret, a service
account and namespaced RBAC (``charts/widgets``) exercises CRD serving, apply patches, deletes and
Helm's release storage (secrets) in one go. The binary comes from a pinned PyPI wheel
(``tests/tools/helm.py``).

What Helm 4.3.1 sends (captured with a logging proxy in front of kcp-edge, and read in
``pkg/kube/client.go`` and ``pkg/action/install.go`` of helm v4):

* reachability: ``GET /version``; discovery with the aggregated v2 ``Accept``
  (``application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json``);
  ``GET /openapi/v3`` and the group-version documents of every kind in the chart (client-side
  "Strict" validation looks for a ``fieldValidation`` parameter on the kind's PATCH operation,
  as kubectl does), so a CRD's group-version must be in ``/openapi/v3`` too.
* release storage: a typed client-go client speaking protobuf
  (``Content-Type: application/vnd.kubernetes.protobuf``): ``GET secrets?labelSelector=
  name=<release>,owner=helm``, ``POST`` of ``sh.helm.release.v1.<release>.v<revision>``
  (type ``helm.sh/release.v1``), ``PUT`` to change its status label, ``DELETE`` on uninstall.
* CRDs from ``crds/`` first, then the templates, each object as one server-side apply:
  ``PATCH <object URL>?fieldManager=helm&fieldValidation=Strict&force=false`` with
  ``Content-Type: application/apply-patch+yaml`` and a JSON body (the whole object: apiVersion,
  kind, metadata with Helm's labels/annotations, spec/data; the CRD as written in ``crds/``);
  ``Accept: application/json``.
  ``force`` is always sent, ``false`` unless ``--force-conflicts``. A 415 answer becomes
  "server-side apply not available on the server". The install GETs each object first (404
  expected) to refuse adopting objects it does not own.
* Without ``--wait`` Helm 4 does not wait for a new CRD to be Established; it resets its REST
  mapper and re-reads discovery, so the new kind must be in discovery at once. These tests pass
  ``--wait=legacy``: it polls ``GET`` until the CRD's ``Established`` condition is True (or
  ``NamesAccepted`` is False) and treats other kinds as ready. The default ``watcher`` strategy
  watches every kind with watch-list (``sendInitialEvents=true``) and may keep waiting on a
  custom resource whose status no controller fills.
* upgrade (``--server-side=auto``: the method the release was installed with): ``GET`` each
  object, apply it again (same query and content type), ``DELETE`` the objects no longer
  rendered with body ``{"propagationPolicy":"Background"}``; the release secrets are
  ``PUT``/``POST`` as above. With ``--server-side=false`` (client-side apply) the
  install ``POST``\\ s each object with ``?fieldManager=helm`` and upgrades send strategic merge
  patches (built-ins) or JSON merge patches (custom resources).
* uninstall: ``GET`` each object, ``DELETE`` with ``{"propagationPolicy":"Background"}``, then
  ``DELETE`` each release secret. CRDs from ``crds/`` are never deleted (nor upgraded).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.api.helpers import cluster_path, https_call
from tests.conftest import KUBECTL, KcpServer
from tests.tools.helm import HOST_SUPPORTED, helm_binary

CHART = Path(__file__).resolve().parent / "charts" / "widgets"
RELEASE = "demo"
CRD_NAME = "widgets.widgets.example.com"  # <plural>.<group>
WAIT = ("--wait=legacy", "--timeout=60s")
CRD_PATH = f"/apis/apiextensions.k8s.io/v1/customresourcedefinitions/{CRD_NAME}"
CRD_GONE_TIMEOUT = 60.0

__all__ = ["cluster_path"]  # a fixture pytest must find here


class Helm:
    """``helm <args> --namespace <namespace>`` with the admin kubeconfig and a private HOME."""

    def __init__(self, binary: Path, kubeconfig: Path, namespace: str, home: Path) -> None:
        self.binary = binary
        self.namespace = namespace
        env = {k: v for k, v in os.environ.items() if not k.startswith(("HELM_", "KUBE"))}
        self.env = {
            **env,
            "KUBECONFIG": str(kubeconfig),
            "HOME": str(home),
            "XDG_CACHE_HOME": str(home / "cache"),
            "XDG_CONFIG_HOME": str(home / "config"),
            "XDG_DATA_HOME": str(home / "data"),
        }

    def __call__(
        self, *args: str, check: bool = True, timeout: float = 90
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(self.binary), *args, "--namespace", self.namespace],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=self.env,
        )
        if check and done.returncode != 0:
            raise AssertionError(
                f"helm {' '.join(args)} exited with {done.returncode}:\n{done.stderr}"
            )
        return done

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "--output", "json").stdout)


@pytest.fixture(scope="session")
def helm_path() -> Path:
    if not HOST_SUPPORTED:
        pytest.skip("the pinned helm binary is linux-amd64 only")
    return helm_binary()


@pytest.fixture
def helm(helm_path: Path, shared_kcp: KcpServer, namespace: str, tmp_path: Path) -> Helm:
    return Helm(helm_path, shared_kcp.kubeconfig, namespace, tmp_path / "helm-home")


@pytest.fixture(scope="module", autouse=True)
def no_widgets_crd(shared_kcp: KcpServer, cluster_path: str) -> Iterator[None]:
    """The workspace holds no widgets CRD before this module (the first install creates it) and
    none after it (Helm never deletes CRDs; other modules may define their own Widget)."""
    _delete_crd(shared_kcp, cluster_path)
    yield
    _delete_crd(shared_kcp, cluster_path)


def _delete_crd(server: KcpServer, cluster_path: str) -> None:
    path = f"{cluster_path}{CRD_PATH}"
    resp = https_call(server, "DELETE", path)
    assert resp.status in (200, 202, 404), resp
    deadline = time.monotonic() + CRD_GONE_TIMEOUT
    while https_call(server, "GET", path).status != 404:
        assert time.monotonic() < deadline, f"{CRD_NAME} still there after {CRD_GONE_TIMEOUT}s"
        time.sleep(0.2)


class Cluster:
    """The objects of the release as the server stores them: plain JSON over HTTPS, so that the
    assertions see the wire names (``managedFields``, ``fieldsV1``) and nothing a client adds."""

    def __init__(self, server: KcpServer, cluster_path: str, namespace: str) -> None:
        self.server = server
        self.cluster_path = cluster_path
        self.namespace = namespace

    def find(self, path: str) -> dict[str, Any] | None:
        """The object at ``path`` (below the workspace; ``{ns}`` is the test's namespace), or
        None when the server answers 404."""
        resp = https_call(
            self.server, "GET", self.cluster_path + path.format(ns=self.namespace), timeout=30
        )
        if resp.status == 404:
            return None
        assert resp.status == 200, resp
        obj: dict[str, Any] = json.loads(resp.body)
        return obj

    def get(self, path: str) -> dict[str, Any]:
        obj = self.find(path)
        assert obj is not None, f"{path} not found"
        return obj

    def release_secrets(self) -> list[dict[str, Any]]:
        """Helm's release records (``sh.helm.release.v1.<release>.v<revision>``), by name."""
        found = self.get(
            f"/api/v1/namespaces/{{ns}}/secrets?labelSelector=owner%3Dhelm%2Cname%3D{RELEASE}"
        )
        items: list[dict[str, Any]] = found["items"]
        return sorted(items, key=lambda s: str(s["metadata"]["name"]))


# Every object the chart renders, as ``kind/name`` -> path below the workspace.
WIDGET = "/apis/widgets.example.com/v1/namespaces/{ns}/widgets/demo-widget"
CONFIG = "/api/v1/namespaces/{ns}/configmaps/demo-config"
EXTRA = "/api/v1/namespaces/{ns}/configmaps/demo-extra"
CREDENTIALS = "/api/v1/namespaces/{ns}/secrets/demo-credentials"
ACCOUNT = "/api/v1/namespaces/{ns}/serviceaccounts/demo-operator"
ROLE = "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/roles/demo-widget-editor"
BINDING = "/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/demo-widget-editor"
RELEASE_OBJECTS = {
    "Widget/demo-widget": WIDGET,
    "ConfigMap/demo-config": CONFIG,
    "ConfigMap/demo-extra": EXTRA,
    "Secret/demo-credentials": CREDENTIALS,
    "ServiceAccount/demo-operator": ACCOUNT,
    "Role/demo-widget-editor": ROLE,
    "RoleBinding/demo-widget-editor": BINDING,
}


@pytest.fixture
def cluster(shared_kcp: KcpServer, cluster_path: str, namespace: str) -> Cluster:
    return Cluster(shared_kcp, cluster_path, namespace)


HELM_LABELS = {
    "app.kubernetes.io/instance": RELEASE,
    "app.kubernetes.io/managed-by": "Helm",
    "app.kubernetes.io/name": "widgets",
    "helm.sh/chart": "widgets-0.1.0",
}
PASSWORD = base64.b64encode(b"s3cr3t").decode()


def install(helm: Helm, *extra: str) -> None:
    done = helm("install", RELEASE, str(CHART), *WAIT, *extra)
    assert "STATUS: deployed" in done.stdout, done.stdout


def assert_owned_by_release(obj: dict[str, Any], namespace: str) -> None:
    """Helm's labels from the chart and the two ownership annotations Helm adds to each object."""
    assert obj["metadata"]["labels"] == HELM_LABELS
    assert obj["metadata"]["annotations"] == {
        "meta.helm.sh/release-name": RELEASE,
        "meta.helm.sh/release-namespace": namespace,
    }


def managers(obj: dict[str, Any]) -> list[tuple[str, str]]:
    """(manager, operation) of each ``managedFields`` entry."""
    return [(e["manager"], e["operation"]) for e in obj["metadata"].get("managedFields", [])]


def fields_of(obj: dict[str, Any], manager: str, operation: str) -> dict[str, Any]:
    """The ``fieldsV1`` set one manager owns through one operation."""
    for entry in obj["metadata"].get("managedFields", []):
        if (entry["manager"], entry["operation"]) == (manager, operation):
            fields: dict[str, Any] = entry["fieldsV1"]
            return fields
    raise AssertionError(f"no {operation} entry of {manager}: {managers(obj)}")


# --- the binary and the chart, no server -------------------------------------------------------


def test_the_wheel_ships_helm_4(helm_path: Path) -> None:
    done = subprocess.run(
        [str(helm_path), "version", "--template", "{{.Version}}"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert done.stdout.startswith("v4."), done.stdout


def test_the_chart_lints_and_renders_every_kind(helm: Helm) -> None:
    helm("lint", "--strict", str(CHART))
    rendered = helm("template", RELEASE, str(CHART), "--include-crds").stdout
    kinds = [
        line.removeprefix("kind: ") for line in rendered.splitlines() if line.startswith("kind: ")
    ]
    assert sorted(kinds) == [
        "ConfigMap",
        "ConfigMap",
        "CustomResourceDefinition",
        "Role",
        "RoleBinding",
        "Secret",
        "ServiceAccount",
        "Widget",
    ]


# --- install -------------------------------------------------------------------------------------


def test_install_creates_the_crd_and_every_object(
    helm: Helm, cluster: Cluster, namespace: str
) -> None:
    install(helm)

    crd = cluster.get(CRD_PATH)
    assert (crd["spec"]["group"], crd["spec"]["scope"]) == ("widgets.example.com", "Namespaced")
    assert (crd["spec"]["names"]["kind"], crd["spec"]["names"]["plural"]) == ("Widget", "widgets")
    conditions = {c["type"]: c["status"] for c in crd["status"]["conditions"]}
    assert conditions["Established"] == "True", crd["status"]
    assert "labels" not in crd["metadata"]  # crds/ files are applied as written, not templated

    widget = cluster.get(WIDGET)
    assert widget["spec"] == {"size": 3, "color": "blue", "tags": [RELEASE]}
    assert_owned_by_release(widget, namespace)

    config = cluster.get(CONFIG)
    assert config["data"] == {"greeting": "hello", "size": "3"}
    assert_owned_by_release(config, namespace)
    assert cluster.get(EXTRA)["data"] == {"mode": "fast"}

    secret = cluster.get(CREDENTIALS)
    assert (secret["type"], secret["data"]) == ("Opaque", {"password": PASSWORD})
    assert "stringData" not in secret
    assert_owned_by_release(cluster.get(ACCOUNT), namespace)

    role = cluster.get(ROLE)
    assert role["rules"] == [
        {
            "apiGroups": ["widgets.example.com"],
            "resources": ["widgets", "widgets/status"],
            "verbs": ["get", "list", "watch", "update", "patch"],
        },
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list", "watch"]},
    ]
    binding = cluster.get(BINDING)
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": "demo-widget-editor",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "demo-operator", "namespace": namespace}
    ]

    [stored] = cluster.release_secrets()
    assert stored["metadata"]["name"] == f"sh.helm.release.v1.{RELEASE}.v1"
    assert stored["type"] == "helm.sh/release.v1"
    labels = stored["metadata"]["labels"]
    assert {k: labels[k] for k in ("name", "owner", "status", "version")} == {
        "name": RELEASE,
        "owner": "helm",
        "status": "deployed",
        "version": "1",
    }


def test_install_applies_server_side_by_default(helm: Helm, cluster: Cluster) -> None:
    # Helm 4 sends every object as PATCH ...?fieldManager=helm&fieldValidation=Strict&force=false
    # with Content-Type application/apply-patch+yaml (see the module docstring), so the server
    # records one Apply entry for manager "helm" owning exactly the fields of the chart.
    install(helm)

    assert helm.json("get", "metadata", RELEASE)["applyMethod"] == "ssa"
    config = cluster.get(CONFIG)
    assert managers(config) == [("helm", "Apply")]
    applied = fields_of(config, "helm", "Apply")
    assert applied["f:data"] == {"f:greeting": {}, "f:size": {}}
    assert applied["f:metadata"]["f:annotations"] == {
        "f:meta.helm.sh/release-name": {},
        "f:meta.helm.sh/release-namespace": {},
    }

    widget = cluster.get(WIDGET)
    assert managers(widget) == [("helm", "Apply")]
    assert fields_of(widget, "helm", "Apply")["f:spec"] == {
        "f:size": {},
        "f:color": {},
        "f:tags": {},
    }
    # The CRD too; the apiserver's own status writes (Established) are a second entry.
    assert ("helm", "Apply") in managers(cluster.get(CRD_PATH))


def test_install_with_client_side_apply_creates_with_post(helm: Helm, cluster: Cluster) -> None:
    install(helm, "--server-side=false")

    assert helm.json("get", "metadata", RELEASE)["applyMethod"] == "csa"
    assert cluster.get(WIDGET)["spec"] == {"size": 3, "color": "blue", "tags": [RELEASE]}
    assert managers(cluster.get(CONFIG)) == [("helm", "Update")]


# --- upgrade, list, uninstall -----------------------------------------------------------------


def test_upgrade_changes_and_removes_objects(helm: Helm, cluster: Cluster) -> None:
    install(helm)
    first_uid = cluster.get(CONFIG)["metadata"]["uid"]

    done = helm(
        "upgrade",
        RELEASE,
        str(CHART),
        *WAIT,
        "--set",
        "widget.size=5",
        "--set",
        "widget.color=null",
        "--set",
        "greeting=hi",
        "--set",
        "extraConfig.enabled=false",
    )
    assert f'Release "{RELEASE}" has been upgraded.' in done.stdout, done.stdout
    assert "REVISION: 2" in done.stdout

    # spec.color was applied by helm in revision 1 and left out of revision 2: apply removes it.
    assert cluster.get(WIDGET)["spec"] == {"size": 5, "tags": [RELEASE]}
    config = cluster.get(CONFIG)
    assert config["data"] == {"greeting": "hi", "size": "5"}
    assert config["metadata"]["uid"] == first_uid  # patched in place, not replaced
    assert cluster.find(EXTRA) is None
    assert cluster.get(CREDENTIALS)["data"] == {"password": PASSWORD}

    history = helm.json("history", RELEASE)
    assert [(h["revision"], h["status"], h["description"]) for h in history] == [
        (1, "superseded", "Install complete"),
        (2, "deployed", "Upgrade complete"),
    ]
    assert [s["metadata"]["labels"]["status"] for s in cluster.release_secrets()] == [
        "superseded",
        "deployed",
    ]


def test_list_shows_the_release_and_its_revision(helm: Helm, namespace: str) -> None:
    assert helm.json("list") == []
    install(helm)
    helm("upgrade", RELEASE, str(CHART), *WAIT, "--set", "greeting=hi")

    [listed] = helm.json("list")
    assert {k: listed[k] for k in ("name", "namespace", "revision", "status", "chart")} == {
        "name": RELEASE,
        "namespace": namespace,
        "revision": "2",
        "status": "deployed",
        "chart": "widgets-0.1.0",
    }
    assert listed["app_version"] == "1.0.0"


def test_uninstall_removes_everything_but_the_crd(helm: Helm, cluster: Cluster) -> None:
    install(helm)
    assert [name for name, path in RELEASE_OBJECTS.items() if cluster.find(path) is None] == []

    done = helm("uninstall", RELEASE, *WAIT)
    assert done.stdout.strip() == f'release "{RELEASE}" uninstalled'

    assert [name for name, path in RELEASE_OBJECTS.items() if cluster.find(path)] == []
    assert cluster.release_secrets() == []
    assert helm.json("list") == []
    # Helm keeps CRDs (deleting one would delete every Widget of every release).
    assert "deletionTimestamp" not in cluster.get(CRD_PATH)["metadata"]


def test_kubectl_shows_the_widget_with_its_printer_columns(
    helm: Helm, shared_kcp: KcpServer, namespace: str, tmp_path: Path
) -> None:
    if KUBECTL is None:
        pytest.skip("kubectl is not installed next to the Python interpreter")
    install(helm, "--set", "widget.size=7")
    done = subprocess.run(
        # Fully qualified: other modules may define a Widget kind in another group.
        [KUBECTL, "--kubeconfig", str(shared_kcp.kubeconfig), "-n", namespace, "get", CRD_NAME],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "HOME": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    header, row = (line.split() for line in done.stdout.strip().splitlines())
    assert header == ["NAME", "SIZE", "COLOR", "AGE"]
    assert row[:3] == ["demo-widget", "7", "blue"]
