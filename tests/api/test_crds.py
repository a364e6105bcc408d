"""CustomResourceDefinitions through the real kubectl and the Python client.

Each test installs its own CRD in a group of its own (``<random>.example.com``), so tests never
see each other's kinds, and removes it afterwards (which also exercises the cleanup finalizer).
"""

from __future__ import annotations

import copy
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, dynamic
from kubernetes.client.exceptions import ApiException

from tests.api.helpers import Kubectl, kubectl, lines
from tests.conftest import running_kcp

__all__ = ["kubectl"]  # a fixture, used by name

WIDGET_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "required": ["size"],
            "properties": {
                "size": {"type": "integer", "minimum": 1},
                "color": {"type": "string", "enum": ["red", "green", "blue"], "default": "red"},
                "replicas": {"type": "integer"},
                "tags": {"type": "array", "items": {"type": "string"}},
                "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            },
        },
        "status": {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer"},
                "selector": {"type": "string"},
                "phase": {"type": "string"},
            },
        },
    },
}


def widget_crd(group: str, **version_extra: Any) -> dict[str, Any]:
    version = {
        "name": "v1",
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": copy.deepcopy(WIDGET_SCHEMA)},
        "subresources": {
            "status": {},
            "scale": {
                "specReplicasPath": ".spec.replicas",
                "statusReplicasPath": ".status.replicas",
                "labelSelectorPath": ".status.selector",
            },
        },
        "additionalPrinterColumns": [
            {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
            {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
            {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
        ],
        **version_extra,
    }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"widgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "shortNames": ["wd"],
                "categories": ["gadgets"],
            },
            "versions": [version],
        },
    }


@pytest.fixture
def group(api_client: client.ApiClient) -> Iterator[str]:
    name = f"t{uuid.uuid4().hex[:8]}.example.com"
    yield name
    ext = client.ApiextensionsV1Api(api_client)
    try:
        ext.delete_custom_resource_definition(f"widgets.{name}")
    except ApiException as exc:
        if exc.status != 404:
            raise


def wait_established(api_client: client.ApiClient, name: str, timeout: float = 5) -> dict[str, Any]:
    ext = client.ApiextensionsV1Api(api_client)
    deadline = time.monotonic() + timeout
    while True:
        crd = api_client.sanitize_for_serialization(ext.read_custom_resource_definition(name))
        conditions = {c["type"]: c for c in crd.get("status", {}).get("conditions") or []}
        if conditions.get("Established", {}).get("status") == "True":
            return dict(crd)
        if time.monotonic() > deadline:
            raise AssertionError(f"{name} not established: {conditions}")
        time.sleep(0.05)


def install(kubectl: Kubectl, tmp_path: Path, crd: dict[str, Any]) -> None:
    path = tmp_path / "crd.json"
    path.write_text(json.dumps(crd))
    done = kubectl("apply", "-f", str(path))
    assert done.stdout.strip() == (
        f"customresourcedefinition.apiextensions.k8s.io/{crd['metadata']['name']} created"
    )
    kubectl("wait", "--for=condition=Established", f"crd/{crd['metadata']['name']}")


def write(tmp_path: Path, name: str, obj: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return str(path)


def widget(group: str, name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{group}/v1",
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": spec,
    }


def test_crd_status_and_discovery(
    kubectl: Kubectl, tmp_path: Path, group: str, api_client: client.ApiClient
) -> None:
    install(kubectl, tmp_path, widget_crd(group))
    crd = wait_established(api_client, f"widgets.{group}")
    conditions = {c["type"]: c for c in crd["status"]["conditions"]}
    assert conditions["NamesAccepted"]["reason"] == "NoConflicts"
    assert conditions["NamesAccepted"]["message"] == "no conflicts found"
    assert conditions["Established"]["reason"] == "InitialNamesAccepted"
    assert crd["status"]["acceptedNames"]["kind"] == "Widget"
    assert crd["status"]["acceptedNames"]["shortNames"] == ["wd"]
    assert crd["status"]["storedVersions"] == ["v1"]
    resources = lines(kubectl("api-resources", f"--api-group={group}").stdout)
    assert resources == [
        "NAME SHORTNAMES APIVERSION NAMESPACED KIND",
        f"widgets wd {group}/v1 true Widget",
    ]
    assert f"{group}/v1" in kubectl("api-versions").stdout.split()


def test_custom_resources_with_kubectl(
    kubectl: Kubectl, tmp_path: Path, group: str, api_client: client.ApiClient
) -> None:
    install(kubectl, tmp_path, widget_crd(group))
    done = kubectl("apply", "-f", write(tmp_path, "w1.json", widget(group, "w1", size=3)))
    assert done.stdout.strip() == f"widget.{group}/w1 created"
    kubectl("create", "-f", write(tmp_path, "w2.json", widget(group, "w2", size=5, color="blue")))
    table = lines(kubectl("get", f"widgets.{group}").stdout)
    assert table[0] == "NAME SIZE COLOR AGE"
    assert table[1].startswith("w1 3 red ")
    assert table[2].startswith("w2 5 blue ")
    assert lines(kubectl("get", f"widgets.{group}", "-o", "name").stdout) == [
        f"widget.{group}/w1",
        f"widget.{group}/w2",
    ]
    # Defaulting: color was filled in on create.
    got = json.loads(kubectl("get", f"widgets.{group}", "w1", "-o", "json").stdout)
    assert got["spec"] == {"size": 3, "color": "red"}
    assert got["metadata"]["generation"] == 1
    # Apply again with a change.
    kubectl("apply", "-f", write(tmp_path, "w1.json", widget(group, "w1", size=4)))
    got = json.loads(kubectl("get", f"widgets.{group}", "w1", "-o", "json").stdout)
    assert got["spec"]["size"] == 4
    assert got["metadata"]["generation"] == 2
    # Field selectors: name only (no selectableFields declared).
    assert lines(
        kubectl(
            "get", f"widgets.{group}", "--field-selector", "metadata.name=w2", "-o", "name"
        ).stdout
    ) == [f"widget.{group}/w2"]


def test_invalid_custom_resources_are_refused(kubectl: Kubectl, tmp_path: Path, group: str) -> None:
    install(kubectl, tmp_path, widget_crd(group))
    bad = widget(group, "w1", size="big")
    done = kubectl("create", "-f", write(tmp_path, "bad.json", bad), check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        'The Widget "w1" is invalid: spec.size: Invalid value: "string": spec.size in body '
        'must be of type integer: "string"'
    )
    missing = widget(group, "w2", color="red")
    done = kubectl("create", "-f", write(tmp_path, "missing.json", missing), check=False)
    assert done.stderr.strip() == 'The Widget "w2" is invalid: spec.size: Required value'
    enum = widget(group, "w3", size=1, color="pink")
    done = kubectl("create", "-f", write(tmp_path, "enum.json", enum), check=False)
    assert done.stderr.strip() == (
        'The Widget "w3" is invalid: spec.color: Unsupported value: "pink": supported values: '
        '"red", "green", "blue"'
    )


def test_unknown_fields_strict_warn_and_pruned(
    kubectl: Kubectl, tmp_path: Path, group: str
) -> None:
    install(kubectl, tmp_path, widget_crd(group))
    extra = widget(group, "w1", size=1, bogus=True, free={"any": {"thing": 1}})
    path = write(tmp_path, "extra.json", extra)
    done = kubectl("create", "-f", path, check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f'Error from server (BadRequest): error when creating "{path}": Widget in version "v1" '
        'cannot be handled as a Widget: strict decoding error: unknown field "spec.bogus"'
    )
    done = kubectl("create", "-f", path, "--validate=warn")
    assert 'Warning: unknown field "spec.bogus"' in done.stderr
    got = json.loads(kubectl("get", f"widgets.{group}", "w1", "-o", "json").stdout)
    assert got["spec"] == {"size": 1, "color": "red", "free": {"any": {"thing": 1}}}


def test_patch_types_and_scale(kubectl: Kubectl, tmp_path: Path, group: str) -> None:
    install(kubectl, tmp_path, widget_crd(group))
    kubectl("create", "-f", write(tmp_path, "w.json", widget(group, "w1", size=1, replicas=1)))
    done = kubectl("patch", f"widgets.{group}", "w1", "-p", '{"spec":{"size":2}}', check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: application/strategic-merge-patch+json is not supported by {group}/v1, "
        "Kind=Widget: the body of the request was in an unknown "
        "format - accepted media types include: application/json-patch+json, "
        "application/merge-patch+json, application/apply-patch+yaml"
    )
    done = kubectl("patch", f"widgets.{group}", "w1", "--type=merge", "-p", '{"spec":{"size":2}}')
    assert done.stdout.strip() == f"widget.{group}/w1 patched"
    done = kubectl(
        "patch",
        f"widgets.{group}",
        "w1",
        "--type=json",
        "-p",
        '[{"op":"replace","path":"/spec/color","value":"green"}]',
    )
    assert done.stdout.strip() == f"widget.{group}/w1 patched"
    done = kubectl("scale", f"widgets.{group}", "w1", "--replicas=3")
    assert done.stdout.strip() == f"widget.{group}/w1 scaled"
    got = json.loads(kubectl("get", f"widgets.{group}", "w1", "-o", "json").stdout)
    assert got["spec"] == {"size": 2, "color": "green", "replicas": 3}
    scale = json.loads(kubectl("get", "--raw", _scale_path(kubectl, group, "w1")).stdout)
    assert scale["kind"] == "Scale"
    assert scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 3}


def _scale_path(kubectl: Kubectl, group: str, name: str) -> str:
    # kubectl 1.32's --raw drops the kubeconfig server's path (/clusters/root:default).
    prefix = "/clusters/root:default" if kubectl.is_1_32 else ""
    return f"{prefix}/apis/{group}/v1/namespaces/{kubectl.namespace}/widgets/{name}/scale"


def test_explain_custom_resource(kubectl: Kubectl, tmp_path: Path, group: str) -> None:
    install(kubectl, tmp_path, widget_crd(group))
    out = kubectl("explain", "widgets.spec", f"--api-version={group}/v1").stdout
    assert f"GROUP:      {group}" in out
    assert "KIND:       Widget" in out
    assert "FIELD: spec <Object>" in out
    assert "size\t<integer> -required-" in out
    assert "color\t<string>" in out


def test_python_clients_on_custom_resources(
    kubectl: Kubectl, tmp_path: Path, group: str, api_client: client.ApiClient
) -> None:
    install(kubectl, tmp_path, widget_crd(group))
    ns = kubectl.namespace
    custom = client.CustomObjectsApi(api_client)
    made = custom.create_namespaced_custom_object(
        group, "v1", ns, "widgets", widget(group, "w1", size=1)
    )
    assert made["spec"] == {"size": 1, "color": "red"}
    patched = custom.patch_namespaced_custom_object(
        group, "v1", ns, "widgets", "w1", {"spec": {"size": 9}}
    )
    assert patched["spec"]["size"] == 9
    status = custom.patch_namespaced_custom_object_status(
        group, "v1", ns, "widgets", "w1", {"status": {"phase": "Ready"}}
    )
    assert status["status"] == {"phase": "Ready"}
    assert status["metadata"]["generation"] == 2
    listed = custom.list_namespaced_custom_object(group, "v1", ns, "widgets")
    assert [item["metadata"]["name"] for item in listed["items"]] == ["w1"]
    dyn = dynamic.DynamicClient(api_client)
    widgets = dyn.resources.get(api_version=f"{group}/v1", kind="Widget")
    dyn_made = widgets.create(body=widget(group, "w2", size=2), namespace=ns)
    assert dyn_made.spec.color == "red"
    assert sorted(w.metadata.name for w in widgets.get(namespace=ns).items) == ["w1", "w2"]
    widgets.delete(name="w2", namespace=ns)
    with pytest.raises(ApiException) as caught:
        custom.get_namespaced_custom_object(group, "v1", ns, "widgets", "w2")
    assert caught.value.status == 404
    assert json.loads(caught.value.body)["message"] == f'widgets.{group} "w2" not found'


def test_deleting_a_crd_deletes_its_objects(
    kubectl: Kubectl, tmp_path: Path, group: str, api_client: client.ApiClient
) -> None:
    install(kubectl, tmp_path, widget_crd(group))
    kubectl("create", "-f", write(tmp_path, "w.json", widget(group, "w1", size=1)))
    done = kubectl("delete", "crd", f"widgets.{group}", timeout=30)
    assert done.stdout.strip() == (
        f'customresourcedefinition.apiextensions.k8s.io "widgets.{group}" deleted'
    )
    done = kubectl("get", f"widgets.{group}", check=False)
    assert done.returncode == 1
    in_group = "" if kubectl.is_1_32 else f' in group "{group}"'
    assert done.stderr.strip() == (
        f'error: the server doesn\'t have a resource type "widgets"{in_group}'
    )
    # Recreating the CRD finds no leftover objects.
    install(kubectl, tmp_path, widget_crd(group))
    assert kubectl("get", f"widgets.{group}", "-o", "name").stdout.strip() == ""


def test_name_conflicts_are_reported(
    kubectl: Kubectl, tmp_path: Path, group: str, api_client: client.ApiClient
) -> None:
    install(kubectl, tmp_path, widget_crd(group))
    other = widget_crd(group)
    other["metadata"]["name"] = f"gizmos.{group}"
    # Same kind (a distinct listKind, or the later ListKindConflict check would win).
    other["spec"]["names"] = {
        "plural": "gizmos",
        "singular": "gizmo",
        "kind": "Widget",
        "listKind": "GizmoList",
    }
    kubectl("create", "-f", write(tmp_path, "gizmo.json", other))
    ext = client.ApiextensionsV1Api(api_client)
    deadline = time.monotonic() + 5
    while True:
        crd = api_client.sanitize_for_serialization(
            ext.read_custom_resource_definition(f"gizmos.{group}")
        )
        conditions = {c["type"]: c for c in crd.get("status", {}).get("conditions") or []}
        if "NamesAccepted" in conditions or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert conditions["NamesAccepted"]["status"] == "False"
    assert conditions["NamesAccepted"]["reason"] == "KindConflict"
    assert conditions["NamesAccepted"]["message"] == '"Widget" is already in use'
    assert conditions["Established"]["status"] == "False"
    ext.delete_custom_resource_definition(f"gizmos.{group}")


def test_invalid_crds_are_refused(kubectl: Kubectl, tmp_path: Path, group: str) -> None:
    crd = widget_crd(group)
    crd["metadata"]["name"] = f"gadgets.{group}"
    done = kubectl("create", "-f", write(tmp_path, "crd.json", crd), check=False)
    assert done.returncode == 1
    assert (
        f'metadata.name: Invalid value: "gadgets.{group}": must be spec.names.plural+"."+spec.group'
        in done.stderr
    )
    untyped = widget_crd(group)
    untyped["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"].pop("type")
    done = kubectl("create", "-f", write(tmp_path, "untyped.json", untyped), check=False)
    assert done.returncode == 1
    assert (
        # One version: upstream reports the schema at the top level (spec.validation).
        "spec.validation.openAPIV3Schema.properties[spec].type: Required value: must "
        "not be empty for specified object fields" in done.stderr
    )
    cel = widget_crd(group)
    cel["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "x-kubernetes-validations"
    ] = [{"rule": "self.size > 0"}]
    done = kubectl("create", "-f", write(tmp_path, "cel.json", cel), check=False)
    assert done.returncode == 1
    assert "x-kubernetes-validations" in done.stderr
    assert "CEL validation rules are not supported" in done.stderr


def test_crd_is_served_after_a_restart(tmp_path: Path) -> None:
    """The catalog is rebuilt from storage before the server reports ready."""
    group = "restart.example.com"
    root = tmp_path / "kcp"
    with running_kcp(root, log=tmp_path / "first.log") as server:
        api = config.new_client_from_config(config_file=str(server.kubeconfig))
        try:
            client.ApiextensionsV1Api(api).create_custom_resource_definition(widget_crd(group))
            wait_established(api, f"widgets.{group}")
            client.CustomObjectsApi(api).create_namespaced_custom_object(
                group, "v1", "default", "widgets", widget(group, "w", size=1)
            )
        finally:
            api.close()
    with running_kcp(root, log=tmp_path / "second.log") as server:
        api = config.new_client_from_config(config_file=str(server.kubeconfig))
        try:
            got = client.CustomObjectsApi(api).get_namespaced_custom_object(
                group, "v1", "default", "widgets", "w"
            )
            assert got["spec"] == {"size": 1, "color": "red"}
        finally:
            api.close()


def test_server_side_apply_on_custom_resources(
    kubectl: Kubectl, tmp_path: Path, group: str
) -> None:
    install(kubectl, tmp_path, widget_crd(group))
    resource = f"widgets.{group}"
    first = write(tmp_path, "1.json", widget(group, "w1", size=1, tags=["a"]))
    done = kubectl("apply", "--server-side", "-f", first)
    assert done.stdout.strip() == f"widget.{group}/w1 serverside-applied"
    other = write(tmp_path, "2.json", widget(group, "w1", size=2))
    done = kubectl("apply", "--server-side", "--field-manager=ci", "-f", other, check=False)
    assert done.returncode == 1
    assert done.stderr.splitlines()[0] == (
        'error: Apply failed with 1 conflict: conflict with "kubectl": .spec.size'
    )
    kubectl("apply", "--server-side", "--field-manager=ci", "--force-conflicts", "-f", other)
    got = json.loads(kubectl("get", resource, "w1", "-o", "json").stdout)
    assert got["spec"] == {"size": 2, "color": "red", "tags": ["a"]}
    # kubectl drops tags from its configuration: they go (nobody else owns them).
    kubectl("apply", "--server-side", "-f", write(tmp_path, "3.json", widget(group, "w1")))
    got = json.loads(kubectl("get", resource, "w1", "-o", "json").stdout)
    assert got["spec"] == {"size": 2, "color": "red"}


def test_several_versions_share_the_objects(
    kubectl: Kubectl, tmp_path: Path, group: str, api_client: client.ApiClient
) -> None:
    crd = widget_crd(group)
    beta = copy.deepcopy(crd["spec"]["versions"][0])
    beta.update(name="v1beta1", storage=False, deprecated=True)
    crd["spec"]["versions"].append(beta)
    install(kubectl, tmp_path, crd)
    custom = client.CustomObjectsApi(api_client)
    ns = kubectl.namespace
    made = custom.create_namespaced_custom_object(
        group,
        "v1beta1",
        ns,
        "widgets",
        {**widget(group, "w1", size=1), "apiVersion": f"{group}/v1beta1"},
    )
    assert made["apiVersion"] == f"{group}/v1beta1"
    got = custom.get_namespaced_custom_object(group, "v1", ns, "widgets", "w1")
    assert got["apiVersion"] == f"{group}/v1"
    listed = custom.list_namespaced_custom_object(group, "v1", ns, "widgets")
    assert [i["apiVersion"] for i in listed["items"]] == [f"{group}/v1"]
    done = kubectl("get", f"widgets.v1beta1.{group}", "w1", "-o", "name")
    assert f"Warning: {group}/v1beta1 Widget is deprecated" in done.stderr


def test_a_schema_change_applies_to_new_writes(
    kubectl: Kubectl, tmp_path: Path, group: str, api_client: client.ApiClient
) -> None:
    install(kubectl, tmp_path, widget_crd(group))
    custom = client.CustomObjectsApi(api_client)
    ns = kubectl.namespace
    with pytest.raises(ApiException) as caught:
        custom.create_namespaced_custom_object(
            group, "v1", ns, "widgets", widget(group, "w1", size=1, color="pink")
        )
    assert caught.value.status == 422
    crd = widget_crd(group)
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "color"
    ]["enum"].append("pink")
    kubectl("apply", "-f", write(tmp_path, "crd2.json", crd))
    deadline = time.monotonic() + 5
    while True:
        try:
            made = custom.create_namespaced_custom_object(
                group, "v1", ns, "widgets", widget(group, "w1", size=1, color="pink")
            )
            break
        except ApiException as exc:
            assert exc.status == 422 and time.monotonic() < deadline
            time.sleep(0.05)
    assert made["spec"]["color"] == "pink"


def test_cluster_scoped_custom_resources(
    kubectl: Kubectl, tmp_path: Path, group: str, api_client: client.ApiClient
) -> None:
    crd = widget_crd(group)
    crd["spec"]["scope"] = "Cluster"
    install(kubectl, tmp_path, crd)
    custom = client.CustomObjectsApi(api_client)
    made = custom.create_cluster_custom_object(group, "v1", "widgets", widget(group, "c1", size=1))
    assert "namespace" not in made["metadata"]
    assert [
        i["metadata"]["name"]
        for i in custom.list_cluster_custom_object(group, "v1", "widgets")["items"]
    ] == ["c1"]
    assert lines(kubectl("get", f"widgets.{group}", "-o", "name").stdout) == [f"widget.{group}/c1"]
