"""API import end to end: APIResourceImports written as a syncer writes them, negotiated into
CRDs, and used through kubectl and the Python client in a Universal workspace.

One server serves the module; each test makes its own workspace ``root:default:<name>``.
"""

from __future__ import annotations

import copy
import functools
import json
import re
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import orjson
import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from kcp_edge.apimachinery.openapiimport import crd_from_openapi, crd_schema_from_openapi
from kcp_edge.apimachinery.structural import check_structural
from kcp_edge.registry import crds
from tests.conftest import KcpServer, kubectl, running_kcp
from tests.tools.apps import deployment_crd

DATA = Path(__file__).resolve().parents[2] / "kcp_edge" / "registry" / "data" / "openapi"
IMPORTS = ("apiresource.kcp.dev", "v1alpha1", "apiresourceimports")
NEGOTIATED = ("apiresource.kcp.dev", "v1alpha1", "negotiatedapiresources")
CLUSTERS = ("workload.kcp.dev", "v1alpha1", "workloadclusters")
CRDS = ("apiextensions.k8s.io", "v1", "customresourcedefinitions")
T = TypeVar("T")


@functools.cache
def _document(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads((DATA / f"{name}.json").read_bytes())
    return loaded


def deployment_schema() -> dict[str, Any]:
    return crd_schema_from_openapi(_document("apis__apps__v1"), "apps", "v1", "Deployment")


def wait_for(probe: Callable[[], T | None], what: str, timeout: float = 20) -> T:
    deadline = time.monotonic() + timeout
    while True:
        found = probe()
        if found:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KcpServer]:
    base = tmp_path_factory.mktemp("negotiation")
    with running_kcp(base / "kcp", log=base / "kcp.log") as running:
        yield running


class Workspace:
    """A fresh Universal workspace with clients and a kubeconfig pointing at it."""

    def __init__(self, server: KcpServer, home: Path) -> None:
        self.name = f"neg-{uuid.uuid4().hex[:8]}"
        self.cluster = f"root:default:{self.name}"
        admin = config.new_client_from_config(config_file=str(server.kubeconfig))
        try:
            custom = client.CustomObjectsApi(admin)
            workspace = {
                "apiVersion": "tenancy.kcp.dev/v1beta1",
                "kind": "Workspace",
                "metadata": {"name": self.name},
                "spec": {"type": "Universal"},
            }
            custom.create_cluster_custom_object(
                "tenancy.kcp.dev", "v1beta1", "workspaces", workspace
            )
            wait_for(
                lambda: (
                    custom.get_cluster_custom_object(
                        "tenancy.kcp.dev", "v1beta1", "workspaces", self.name
                    )
                    .get("status", {})
                    .get("phase")
                    == "Ready"
                ),
                "the workspace to be ready",
            )
        finally:
            admin.close()
        home.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = home / "kubeconfig"
        self.kubeconfig.write_text(
            server.kubeconfig.read_text().replace(
                "/clusters/root:default", f"/clusters/{self.cluster}"
            )
        )
        self.api = config.new_client_from_config(config_file=str(self.kubeconfig))
        self.custom = client.CustomObjectsApi(self.api)

    def close(self) -> None:
        self.api.close()

    def kubectl(self, *args: str) -> str:
        done = kubectl(*args, kubeconfig=self.kubeconfig)
        assert done.returncode == 0, done.stderr
        return done.stdout

    def get(self, gvr: tuple[str, str, str], name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self.custom.get_cluster_custom_object(*gvr, name)
        except ApiException as exc:
            if exc.status == 404:
                return None
            raise
        return found

    def names(self, gvr: tuple[str, str, str]) -> list[str]:
        items = self.custom.list_cluster_custom_object(*gvr)["items"]
        return sorted(item["metadata"]["name"] for item in items)

    def workload_cluster(self, name: str) -> dict[str, Any]:
        body = {
            "apiVersion": "workload.kcp.dev/v1alpha1",
            "kind": "WorkloadCluster",
            "metadata": {"name": name},
        }
        made: dict[str, Any] = self.custom.create_cluster_custom_object(*CLUSTERS, body)
        return made

    def import_resource(
        self,
        location: dict[str, Any],
        *,
        group: str,
        plural: str,
        kind: str,
        schema: dict[str, Any],
        short_names: tuple[str, ...] = (),
        subresources: tuple[str, ...] = ("status",),
    ) -> str:
        """Write an APIResourceImport exactly as the syncer does; its name."""
        cluster = location["metadata"]["name"]
        name = f"{plural}.{cluster}.v1.{group or 'core'}"
        body = {
            "apiVersion": "apiresource.kcp.dev/v1alpha1",
            "kind": "APIResourceImport",
            "metadata": {
                "name": name,
                "annotations": {"apiresource.kcp.dev/apiVersion": f"{group}/v1".lstrip("/")},
                "ownerReferences": [
                    {
                        "apiVersion": "workload.kcp.dev/v1alpha1",
                        "kind": "WorkloadCluster",
                        "name": cluster,
                        "uid": location["metadata"]["uid"],
                        "controller": True,
                    }
                ],
            },
            "spec": {
                "location": cluster,
                "schemaUpdateStrategy": "UpdateUnpublished",
                "groupVersion": {"group": group, "version": "v1"},
                "scope": "Namespaced",
                "plural": plural,
                "singular": kind.lower(),
                "kind": kind,
                "listKind": f"{kind}List",
                "shortNames": list(short_names),
                "subResources": [{"name": sub} for sub in subresources],
                "openAPIV3Schema": schema,
            },
        }
        self.custom.create_cluster_custom_object(*IMPORTS, body)
        return name

    def cluster_status(self, name: str) -> dict[str, Any]:
        """A WorkloadCluster's status once the negotiation wrote it (after the imports')."""

        def written() -> dict[str, Any] | None:
            status: dict[str, Any] = (self.get(CLUSTERS, name) or {}).get("status", {})
            return status if status.get("apiResources") else None

        return wait_for(written, f"the status of WorkloadCluster {name}")

    def conditions(self, gvr: tuple[str, str, str], name: str) -> dict[str, dict[str, Any]]:
        obj = self.get(gvr, name) or {}
        return {c["type"]: c for c in obj.get("status", {}).get("conditions", [])}

    def wait_condition(
        self, gvr: tuple[str, str, str], name: str, kind: str, status: str
    ) -> dict[str, Any]:
        return wait_for(
            lambda: (c := self.conditions(gvr, name).get(kind)) and c["status"] == status and c,
            f"{name} {kind}={status}",
        )


@pytest.fixture
def ws(server: KcpServer, tmp_path: Path) -> Iterator[Workspace]:
    workspace = Workspace(server, tmp_path / "home")
    try:
        yield workspace
    finally:
        workspace.close()


def deployment(name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": 2,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
            },
            **spec,
        },
    }


def test_one_import_publishes_deployments(ws: Workspace) -> None:
    east = ws.workload_cluster("east")
    name = ws.import_resource(
        east,
        group="apps",
        plural="deployments",
        kind="Deployment",
        schema=deployment_schema(),
        short_names=("deploy",),
        subresources=("status", "scale"),
    )
    assert name == "deployments.east.v1.apps"
    ws.wait_condition(IMPORTS, name, "Available", "True")
    assert ws.conditions(IMPORTS, name)["Compatible"]["status"] == "True"

    crd = ws.get(CRDS, "deployments.apps")
    assert crd is not None
    assert crd["metadata"]["annotations"]["apiresource.kcp.dev/negotiated"] == "true"
    version = crd["spec"]["versions"][0]
    assert set(version["subresources"]) == {"status", "scale"}
    negotiated = ws.get(NEGOTIATED, "deployments.v1.apps")
    assert negotiated is not None
    assert negotiated["spec"]["publish"] is True
    assert {c["type"]: c["status"] for c in negotiated["status"]["conditions"]} == {
        "Submitted": "True",
        "Published": "True",
    }

    rows = ws.kubectl("api-resources").splitlines()
    assert [r for r in rows if r.startswith("deployments ")] == [
        next(
            r
            for r in rows
            if re.fullmatch(r"deployments\s+deploy\s+apps/v1\s+true\s+Deployment", r)
        )
    ]
    explained = ws.kubectl("explain", "deployments.spec.replicas")
    assert "FIELD: replicas <integer>" in explained
    assert "GROUP:      apps" in explained

    apps = client.AppsV1Api(ws.api)
    apps.create_namespaced_deployment("default", deployment("web"))
    got = apps.read_namespaced_deployment("web", "default")
    assert got.spec.replicas == 2
    assert got.spec.template.spec.containers[0].image == "nginx:1.25"
    scale = apps.read_namespaced_deployment_scale("web", "default")
    assert scale.spec.replicas == 2

    status = ws.cluster_status("east")
    assert status["syncedResources"] == ["deployments.apps"]
    assert status["apiResources"] == [
        {"group": "apps", "resource": "deployments", "version": "v1", "state": "Accepted"}
    ]


def test_a_field_one_cluster_lacks_is_pruned(ws: Workspace) -> None:
    older = deployment_schema()
    del older["properties"]["spec"]["properties"]["paused"]
    east, west = ws.workload_cluster("east"), ws.workload_cluster("west")
    full = ws.import_resource(
        east, group="apps", plural="deployments", kind="Deployment", schema=deployment_schema()
    )
    ws.wait_condition(IMPORTS, full, "Available", "True")
    lacking = ws.import_resource(
        west, group="apps", plural="deployments", kind="Deployment", schema=older
    )
    ws.wait_condition(IMPORTS, lacking, "Compatible", "True")

    def crd_spec() -> dict[str, Any]:
        crd = ws.get(CRDS, "deployments.apps") or {}
        schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        spec: dict[str, Any] = schema["properties"]["spec"]["properties"]
        return spec

    wait_for(lambda: "paused" not in crd_spec(), "the CRD schema to lose spec.paused")
    apps = client.AppsV1Api(ws.api)

    def refused() -> str | None:
        try:
            apps.create_namespaced_deployment(
                "default",
                deployment("paused", paused=True),
                field_validation="Strict",
                dry_run="All",
            )
        except ApiException as exc:
            return str(exc.body) if exc.status == 400 else None
        return None

    body = wait_for(refused, "a strict create with spec.paused to be refused")
    assert 'strict decoding error: unknown field "spec.paused"' in json.loads(body)["message"]
    made = apps.create_namespaced_deployment("default", deployment("lenient", paused=True))
    assert made.spec.paused is None
    for cluster in ("east", "west"):
        assert ws.cluster_status(cluster)["syncedResources"] == ["deployments.apps"]


def test_incompatible_types_are_reported_on_the_import(ws: Workspace) -> None:
    east, west = ws.workload_cluster("east"), ws.workload_cluster("west")
    good = ws.import_resource(
        east, group="apps", plural="deployments", kind="Deployment", schema=deployment_schema()
    )
    ws.wait_condition(IMPORTS, good, "Available", "True")
    odd = deployment_schema()
    odd["properties"]["spec"]["properties"]["replicas"] = {"type": "string"}
    bad = ws.import_resource(
        west, group="apps", plural="deployments", kind="Deployment", schema=odd
    )
    compatible = ws.wait_condition(IMPORTS, bad, "Compatible", "False")
    message = ".spec.replicas: type integer is not compatible with type string"
    assert compatible["reason"] == "IncompatibleSchema"
    assert compatible["message"] == message
    assert ws.conditions(IMPORTS, bad)["Available"]["status"] == "False"
    assert ws.conditions(IMPORTS, good)["Compatible"]["status"] == "True"

    status = ws.cluster_status("west")
    assert status["syncedResources"] == []
    assert status["apiResources"] == [
        {
            "group": "apps",
            "resource": "deployments",
            "version": "v1",
            "state": "Incompatible",
            "message": message,
        }
    ]
    crd = ws.get(CRDS, "deployments.apps") or {}
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert schema["properties"]["spec"]["properties"]["replicas"]["type"] == "integer"


def test_built_in_kinds_are_enforced(ws: Workspace) -> None:
    east = ws.workload_cluster("east")
    doc = _document("api__v1")
    names = [
        ws.import_resource(
            east,
            group="",
            plural=plural,
            kind=kind,
            schema=crd_schema_from_openapi(doc, "", "v1", kind),
            subresources=(),
        )
        for plural, kind in (
            ("secrets", "Secret"),
            ("configmaps", "ConfigMap"),
            ("serviceaccounts", "ServiceAccount"),
        )
    ]
    assert names[0] == "secrets.east.v1.core"
    for name in names:
        ws.wait_condition(IMPORTS, name, "Available", "True")
        assert ws.conditions(IMPORTS, name)["Compatible"]["status"] == "True"
    enforced = ws.conditions(NEGOTIATED, "secrets.v1.core")["Enforced"]
    assert enforced["status"] == "True"
    assert enforced["reason"] == "BuiltInAPI"
    assert (ws.get(NEGOTIATED, "secrets.v1.core") or {})["spec"]["publish"] is False
    assert ws.names(CRDS) == []
    synced = ws.cluster_status("east")["syncedResources"]
    assert synced == ["configmaps", "secrets", "serviceaccounts"]


def test_a_users_crd_is_enforced(ws: Workspace) -> None:
    crd = crd_from_openapi(
        _document("apis__apps__v1"),
        "apps",
        "v1",
        "StatefulSet",
        plural="statefulsets",
        singular="statefulset",
        short_names=("sts",),
    )
    ws.custom.create_cluster_custom_object(*CRDS, crd)
    east = ws.workload_cluster("east")
    name = ws.import_resource(
        east,
        group="apps",
        plural="statefulsets",
        kind="StatefulSet",
        schema={"type": "object", "properties": {"spec": {"type": "object"}}},
    )
    ws.wait_condition(IMPORTS, name, "Available", "True")
    enforced = ws.wait_condition(NEGOTIATED, "statefulsets.v1.apps", "Enforced", "True")
    assert enforced["reason"] == "CustomResourceDefinition"
    mine = ws.get(CRDS, "statefulsets.apps") or {}
    assert "annotations" not in mine["metadata"]
    assert (
        mine["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
        == crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    )


def test_a_crd_built_from_openapi_serves_real_deployments(ws: Workspace) -> None:
    crd = deployment_crd()
    ws.custom.create_cluster_custom_object(*CRDS, crd)
    wait_for(
        lambda: any(
            c["type"] == "Established" and c["status"] == "True"
            for c in (ws.get(CRDS, "deployments.apps") or {})
            .get("status", {})
            .get("conditions", [])
        ),
        "the CRD to be established",
    )
    apps = client.AppsV1Api(ws.api)
    made = wait_for(
        lambda: _create_or_none(apps, deployment("from-openapi")), "deployments to be served"
    )
    assert made.spec.template.spec.containers[0].name == "web"
    out = ws.kubectl("get", "deploy", "from-openapi", "-o", "json")
    assert json.loads(out)["spec"]["replicas"] == 2


def test_kubectl_apply_twice_and_set_image_on_a_crd_declared_deployment(
    ws: Workspace, tmp_path: Path
) -> None:
    """kubectl knows apps/v1 Deployments and sends them strategic merge patches (a re-apply,
    ``set image``); a CRD re-declaring the type merges them with the upstream schema instead
    of answering 415."""
    ws.custom.create_cluster_custom_object(*CRDS, deployment_crd())
    wait_for(
        lambda: "deployments" in ws.kubectl("api-resources", "--api-group=apps", "-o", "name"),
        "deployments in discovery",
    )
    manifest = tmp_path / "web.json"
    body = deployment("web")
    body["spec"]["template"]["spec"]["containers"].append({"name": "sidecar", "image": "busybox"})
    manifest.write_text(json.dumps(body))
    assert ws.kubectl("apply", "-f", str(manifest)).strip() == "deployment.apps/web created"
    body["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.26"
    manifest.write_text(json.dumps(body))
    assert ws.kubectl("apply", "-f", str(manifest)).strip() == "deployment.apps/web configured"
    out = ws.kubectl("set", "image", "deployment/web", "sidecar=busybox:1.36")
    assert out.strip() == "deployment.apps/web image updated"
    got = json.loads(ws.kubectl("get", "deploy", "web", "-o", "json"))
    containers = got["spec"]["template"]["spec"]["containers"]
    assert [(c["name"], c["image"]) for c in containers] == [
        ("web", "nginx:1.26"),
        ("sidecar", "busybox:1.36"),
    ]


def _create_or_none(apps: client.AppsV1Api, body: dict[str, Any]) -> Any:
    try:
        return apps.create_namespaced_deployment("default", copy.deepcopy(body))
    except ApiException as exc:
        if exc.status == 404:
            return None
        raise


def test_core_group_imports_are_served_under_api_v1(ws: Workspace) -> None:
    east = ws.workload_cluster("east")
    schema = crd_schema_from_openapi(_document("api__v1"), "", "v1", "Service")
    name = ws.import_resource(
        east, group="", plural="services", kind="Service", schema=schema, short_names=("svc",)
    )
    ws.wait_condition(IMPORTS, name, "Available", "True")
    assert (ws.get(NEGOTIATED, "services.v1.core") or {})["spec"]["publish"] is True
    assert ws.names(CRDS) == ["services.core"]
    rows = ws.kubectl("api-resources")
    assert re.search(r"^services\s+svc\s+v1\s+true\s+Service$", rows, re.M), rows
    wait_for(
        lambda: "services" in ws.kubectl("api-resources", "--api-group=", "-o", "name").split(),
        "services in discovery",
    )
    ws.kubectl("create", "service", "clusterip", "web", "--tcp=80:8080")
    got = json.loads(ws.kubectl("get", "service", "web", "-o", "json"))
    assert got["spec"]["ports"][0]["targetPort"] == 8080
    assert "ports" in ws.kubectl("explain", "services.spec")
    assert "ConfigMap" in ws.kubectl("explain", "configmaps"), "built-in core kinds keep theirs"


def test_the_last_import_gone_leaves_the_crd(ws: Workspace) -> None:
    east = ws.workload_cluster("east")
    name = ws.import_resource(
        east, group="apps", plural="deployments", kind="Deployment", schema=deployment_schema()
    )
    ws.wait_condition(IMPORTS, name, "Available", "True")
    ws.custom.delete_cluster_custom_object(*CLUSTERS, "east")
    wait_for(lambda: ws.get(IMPORTS, name) is None, "the garbage collector to delete the import")
    wait_for(lambda: ws.get(NEGOTIATED, "deployments.v1.apps") is None, "negotiated to go")
    assert ws.get(CRDS, "deployments.apps") is not None


def test_the_marker_lets_a_negotiated_crd_keep_a_dotless_group() -> None:
    crd = crd_from_openapi(
        _document("api__v1"), "", "v1", "ConfigMap", plural="gadgets", singular="gadget"
    )
    crd["metadata"]["name"] = "gadgets.example"
    crd["spec"]["group"] = "example"
    crds.default_crd(crd)

    def check(schema: Any, path: str) -> list[dict[str, str]]:
        return check_structural(schema, field_path=path)

    refused = crds.validate_crd(crd, old=None, check_schema=check)
    assert [c["message"] for c in refused] == [
        'Invalid value: "example": should be a domain with at least one dot'
    ]
    crd["metadata"]["annotations"] = {crds.NEGOTIATED_ANNOTATION: "true"}
    assert crds.validate_crd(crd, old=None, check_schema=check) == []
