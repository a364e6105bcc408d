"""``/openapi/v2`` through real kubectl (1.37, and 1.32 where installed) and raw HTTPS.

kubectl validates a ``kind: List`` on the client against the swagger 2.0 document (protobuf),
so ``apply -f`` and ``create -f`` of a List depend on it. Custom resources are left out of the
document on purpose: ``kubectl apply`` of one must stay a merge patch (a strategic merge patch is
415 for them), and the server validates their fields instead. Each kubectl test works in a fresh
namespace of the shared server.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from kcp_edge.apimachinery import openapiv2
from kcp_edge.apimachinery.openapi import content_hash
from tests.api.helpers import Kubectl, cluster_path, https_call, kubectl, lines
from tests.api.test_crds import group, install, widget, widget_crd
from tests.conftest import KcpServer

__all__ = ["cluster_path", "group", "kubectl"]  # fixtures pytest must find here

KUBECTL_ACCEPT = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def config_map(name: str, **data: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def write_list(tmp_path: Path, name: str, *items: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": list(items)}))
    return str(path)


def validation_error(path: str, detail: str) -> str:
    return (
        f'error: error validating "{path}": error validating data: {detail}; '
        "if you choose to ignore these errors, turn validation off with --validate=false"
    )


# --- kubectl and kind: List ---------------------------------------------------------------------


def test_apply_a_list_then_apply_it_changed(kubectl: Kubectl, tmp_path: Path) -> None:
    path = write_list(tmp_path, "list.yaml", config_map("l1", a="1"), config_map("l2", b="2"))
    done = kubectl("apply", "-f", path)
    assert lines(done.stdout) == ["configmap/l1 created", "configmap/l2 created"]
    assert done.stderr == ""
    path = write_list(tmp_path, "list.yaml", config_map("l1", a="3"), config_map("l2", b="2"))
    done = kubectl("apply", "-f", path)
    assert lines(done.stdout) == ["configmap/l1 configured", "configmap/l2 unchanged"]
    got = json.loads(kubectl("get", "configmap", "l1", "-o", "json").stdout)
    assert got["data"] == {"a": "3"}


def test_create_a_list(kubectl: Kubectl, tmp_path: Path) -> None:
    path = write_list(tmp_path, "list.yaml", config_map("c1", a="1"), config_map("c2"))
    done = kubectl("create", "-f", path)
    assert lines(done.stdout) == ["configmap/c1 created", "configmap/c2 created"]
    names = lines(kubectl("get", "configmaps", "c1", "c2", "-o", "name").stdout)
    assert names == ["configmap/c1", "configmap/c2"]


def test_an_unknown_field_in_a_list_is_kubectls_own_error(kubectl: Kubectl, tmp_path: Path) -> None:
    bad = {**config_map("b2", a="1"), "bogus": 1}
    path = write_list(tmp_path, "bad.yaml", config_map("b1", a="1"), bad)
    expected = validation_error(
        path, 'ValidationError(ConfigMap): unknown field "bogus" in io.k8s.api.core.v1.ConfigMap'
    )
    for verb in ("apply", "create"):
        done = kubectl(verb, "-f", path, check=False)
        assert (done.returncode, done.stdout, done.stderr.strip()) == (1, "", expected)
    done = kubectl("get", "configmaps", "b1", check=False)
    assert done.stderr.strip() == 'Error from server (NotFound): configmaps "b1" not found'


def test_a_list_of_a_built_in_kind_and_a_custom_resource(
    kubectl: Kubectl, tmp_path: Path, group: str
) -> None:
    install(kubectl, tmp_path, widget_crd(group))
    path = write_list(tmp_path, "mixed.yaml", config_map("m1", a="1"), widget(group, "w1", size=1))
    done = kubectl("apply", "-f", path)
    assert lines(done.stdout) == ["configmap/m1 created", f"widget.{group}/w1 created"]
    path = write_list(tmp_path, "mixed.yaml", config_map("m1", a="2"), widget(group, "w1", size=2))
    done = kubectl("apply", "-f", path)
    assert lines(done.stdout) == ["configmap/m1 configured", f"widget.{group}/w1 configured"]
    assert done.stderr == ""
    got = json.loads(kubectl("get", f"widgets.{group}", "w1", "-o", "json").stdout)
    assert got["spec"] == {"size": 2, "color": "red"}


def test_a_custom_resources_unknown_field_in_a_list_is_the_servers_error(
    kubectl: Kubectl, tmp_path: Path, group: str
) -> None:
    """Not in v2, so kubectl does not check it: the server's strict field validation does."""
    install(kubectl, tmp_path, widget_crd(group))
    path = write_list(
        tmp_path, "mixed.yaml", config_map("u1"), widget(group, "w1", size=1, bogus=True)
    )
    done = kubectl("create", "-f", path, check=False)
    assert done.returncode == 1
    assert lines(done.stdout) == ["configmap/u1 created"]
    assert done.stderr.strip() == (
        f'Error from server (BadRequest): error when creating "{path}": Widget in version "v1" '
        'cannot be handled as a Widget: strict decoding error: unknown field "spec.bogus"'
    )


def test_applying_a_custom_resource_twice_stays_a_merge_patch(
    kubectl: Kubectl, tmp_path: Path, group: str
) -> None:
    install(kubectl, tmp_path, widget_crd(group))
    path = tmp_path / "w1.json"
    path.write_text(json.dumps(widget(group, "w1", size=1, tags=["a"])))
    assert kubectl("apply", "-f", str(path)).stdout.strip() == f"widget.{group}/w1 created"
    path.write_text(json.dumps(widget(group, "w1", size=5, tags=["b"])))
    done = kubectl("apply", "-f", str(path), "-v=8")
    assert done.stdout.strip() == f"widget.{group}/w1 configured"
    assert "/openapi/v2" in done.stderr  # consulted, and found no patch type for the kind
    assert "Content-Type: application/merge-patch+json" in done.stderr
    assert "Content-Type: application/strategic-merge-patch+json" not in done.stderr
    got = json.loads(kubectl("get", f"widgets.{group}", "w1", "-o", "json").stdout)
    assert got["spec"] == {"size": 5, "color": "red", "tags": ["b"]}


# --- raw HTTPS ----------------------------------------------------------------------------------


def get(server: KcpServer, path: str, **headers: str) -> Any:
    return https_call(server, "GET", path, headers=headers)


def test_protobuf_and_json_forms_of_one_document(shared_kcp: KcpServer, cluster_path: str) -> None:
    url = f"{cluster_path}/openapi/v2?timeout=32s"
    proto = get(shared_kcp, url, Accept=KUBECTL_ACCEPT)
    assert proto.status == 200
    assert proto.headers["content-type"] == PROTOBUF
    assert proto.headers["vary"] == "Accept"
    assert proto.headers["cache-control"] == "no-cache, private"
    plain = get(shared_kcp, url, Accept="application/json")
    assert plain.status == 200
    assert plain.headers["content-type"] == "application/json"
    assert plain.headers["etag"] == proto.headers["etag"] == f'"{content_hash(plain.body)}"'
    document = json.loads(plain.body)
    assert proto.body == openapiv2.encode_document(document)
    version = json.loads(get(shared_kcp, f"{cluster_path}/version").body)["gitVersion"]
    assert document["swagger"] == "2.0"
    assert document["info"] == {"title": "Kubernetes", "version": version}
    config_map = document["definitions"]["io.k8s.api.core.v1.ConfigMap"]
    assert config_map["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "ConfigMap", "version": "v1"}
    ]
    assert get(shared_kcp, f"{cluster_path}/openapi/v2").body == plain.body  # no Accept: JSON


def test_revalidation_and_unacceptable_forms(shared_kcp: KcpServer, cluster_path: str) -> None:
    url = f"{cluster_path}/openapi/v2"
    etag = get(shared_kcp, url, Accept=KUBECTL_ACCEPT).headers["etag"]
    again = get(shared_kcp, url, Accept=KUBECTL_ACCEPT, **{"If-None-Match": etag})
    assert (again.status, again.body, again.headers["etag"]) == (304, b"", etag)
    assert "content-type" not in again.headers
    changed = get(shared_kcp, url, Accept=KUBECTL_ACCEPT, **{"If-None-Match": '"OTHER"'})
    assert changed.status == 200
    refused = get(shared_kcp, url, Accept="text/plain")
    assert (refused.status, refused.body, refused.headers["vary"]) == (406, b"", "Accept")


def test_custom_resources_stay_out_of_every_workspaces_document(
    kubectl: Kubectl, tmp_path: Path, group: str, shared_kcp: KcpServer, cluster_path: str
) -> None:
    install(kubectl, tmp_path, widget_crd(group))
    v3 = json.loads(get(shared_kcp, f"{cluster_path}/openapi/v3").body)
    assert f"apis/{group}/v1" in v3["paths"]
    with_crd = get(shared_kcp, f"{cluster_path}/openapi/v2", Accept="application/json")
    other = get(shared_kcp, "/clusters/root/openapi/v2", Accept="application/json")
    for answer in (with_crd, other):
        definitions = json.loads(answer.body)["definitions"]
        assert "io.k8s.api.core.v1.ConfigMap" in definitions
        assert not [name for name in definitions if "Widget" in name or group in name]
        kinds = {
            gvk["kind"]
            for schema in definitions.values()
            for gvk in schema.get("x-kubernetes-group-version-kind", [])
        }
        assert "Widget" not in kinds
    assert with_crd.body == other.body  # one document per set of built-in kinds
