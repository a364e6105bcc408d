"""Strategic merge patch on real kinds, with the bundled Kubernetes 1.35 OpenAPI schemas.

The patches are the ones kubectl sends (kubectl apply, edit, patch, set image, rollout
restart); the ordering and directive cases follow upstream's own cases in
``k8s.io/apimachinery/pkg/util/strategicpatch/patch_test.go``, restated on real fields
(``containers`` for a list merged on ``name``, ``metadata.finalizers`` for a merged list of
scalars, ``args`` for a list without a strategy).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kcp_edge.apimachinery.patchmeta import (
    EMPTY,
    PatchMetaError,
    PatchMetaIndex,
    load_components,
)
from kcp_edge.apimachinery.strategicpatch import (
    StrategicMergePatchBadRequestError,
    StrategicMergePatchError,
    StrategicMergePatchInternalError,
    StrategicMergePatchInvalidError,
    decode_strategic_merge_patch,
    strategic_merge_patch,
)

OPENAPI = Path(__file__).resolve().parents[2] / "kcp_edge" / "registry" / "data" / "openapi"
COMPONENTS: dict[str, Any] = {}
for _document in sorted(OPENAPI.glob("*.json")):
    if _document.name != "apis.json":
        COMPONENTS.update(load_components(_document))
INDEX = PatchMetaIndex(COMPONENTS)

DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"


def smp(kind: str, original: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    return strategic_merge_patch(original, patch, schema=INDEX.lookup(kind))


def deployment(*containers: dict[str, Any], **spec: Any) -> dict[str, Any]:
    pod_spec = {"containers": list(containers), **spec}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": pod_spec,
            },
        },
    }


def pod_spec(obj: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = obj["spec"]["template"]["spec"]
    return spec


def template_patch(**pod: Any) -> dict[str, Any]:
    return {"spec": {"template": {"spec": pod}}}


def names(items: list[dict[str, Any]]) -> list[Any]:
    return [item["name"] for item in items]


NGINX = {
    "name": "nginx",
    "image": "nginx:1.27",
    "ports": [{"containerPort": 80, "name": "http", "protocol": "TCP"}],
    "env": [{"name": "MODE", "value": "prod"}, {"name": "LOG", "value": "info"}],
}
SIDECAR = {"name": "sidecar", "image": "busybox:1.36", "args": ["sleep", "3600"]}


# --- PatchMeta from the bundled schemas --------------------------------------------------------


def test_patch_meta_reads_strategy_and_merge_key_from_the_property() -> None:
    spec = INDEX.lookup(DEPLOYMENT).field("spec").field("template").field("spec")
    containers = spec.field("containers")
    assert containers.strategies == ("merge",)
    assert containers.merge_key == "name"
    assert containers.list_type == "map"
    assert containers.list_map_keys == ("name",)
    assert containers.items.name == "io.k8s.api.core.v1.Container"
    assert containers.items.field("ports").merge_key == "containerPort"
    assert containers.items.field("volumeMounts").merge_key == "mountPath"
    volumes = spec.field("volumes")
    assert volumes.strategies == ("merge", "retainKeys")
    assert volumes.retain_keys
    assert spec.field("tolerations").strategies == ()
    assert spec.field("tolerations").list_type == "atomic"
    assert INDEX.lookup(DEPLOYMENT).field("spec").field("strategy").strategies == ("retainKeys",)


def test_patch_meta_of_metadata_lists() -> None:
    meta = INDEX.lookup("io.k8s.api.core.v1.ConfigMap").field("metadata")
    assert meta.name == "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    assert meta.field("finalizers").strategies == ("merge",)
    assert meta.field("finalizers").merge_key == ""
    assert meta.field("finalizers").items.kind == "primitive"
    assert meta.field("ownerReferences").merge_key == "uid"
    assert meta.field("labels").kind == "map"
    assert meta.field("managedFields").strategies == ()


def test_patch_meta_is_shared_per_component_name() -> None:
    pod = INDEX.lookup("io.k8s.api.core.v1.Pod").field("spec").field("containers").items
    dep = INDEX.lookup(DEPLOYMENT).field("spec").field("template").field("spec")
    assert pod.schema_type is dep.field("initContainers").items.schema_type


def test_patch_meta_of_an_unknown_field_or_kind_knows_nothing() -> None:
    assert INDEX.lookup(DEPLOYMENT).field("spec").field("noSuchField") is EMPTY
    unknown = INDEX.lookup("io.example.v1.Widget")
    assert unknown.field("spec").field("items").strategies == ()
    assert EMPTY.items is EMPTY


def test_patch_meta_map_entries_share_the_additional_properties_schema() -> None:
    props = INDEX.lookup(
        "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"
    )
    schema = props.field("spec").field("versions").items.field("schema")
    properties = schema.field("openAPIV3Schema").field("properties")
    assert properties.kind == "map"
    assert properties.field("anyName").name.endswith("JSONSchemaProps")


def test_load_components_refuses_a_file_that_is_not_openapi(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text('{"openapi": "3.0.0"}')
    with pytest.raises(PatchMetaError, match="components"):
        load_components(bad)


# --- what kubectl sends ------------------------------------------------------------------------


def test_kubectl_set_image_changes_only_the_named_container() -> None:
    live = deployment(NGINX, SIDECAR)
    patch = template_patch(
        **{
            "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
            "containers": [{"image": "nginx:1.28", "name": "nginx"}],
        }
    )
    result = smp(DEPLOYMENT, live, patch)
    expected = copy.deepcopy(live)
    pod_spec(expected)["containers"][0]["image"] = "nginx:1.28"
    assert result == expected


def test_kubectl_rollout_restart_adds_an_annotation_to_the_pod_template() -> None:
    live = deployment(NGINX)
    live["spec"]["template"]["metadata"]["annotations"] = {"team": "web"}
    stamp = "2026-01-01T00:00:00Z"
    patch = {
        "spec": {
            "template": {"metadata": {"annotations": {"kubectl.kubernetes.io/restartedAt": stamp}}}
        }
    }
    result = smp(DEPLOYMENT, live, patch)
    assert result["spec"]["template"]["metadata"]["annotations"] == {
        "team": "web",
        "kubectl.kubernetes.io/restartedAt": stamp,
    }
    assert pod_spec(result) == pod_spec(live)


def test_kubectl_apply_three_way_patch_with_every_directive() -> None:
    """The patch kubectl 1.37 sent for d1.yaml -> d2.yaml (see kubernetes-wire.md, 5.3)."""
    live = deployment(
        {
            "name": "a",
            "image": "nginx",
            "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}],
        },
        {"name": "b", "image": "busybox"},
    )
    patch = {
        "spec": {
            "replicas": 2,
            "strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"},
            "template": {
                "spec": {
                    "$setElementOrder/containers": [{"name": "c"}, {"name": "a"}],
                    "containers": [
                        {"image": "redis", "name": "c"},
                        {
                            "$setElementOrder/env": [{"name": "Y"}],
                            "args": ["--p"],
                            "env": [{"$patch": "delete", "name": "X"}],
                            "image": "nginx:2",
                            "name": "a",
                        },
                        {"$patch": "delete", "name": "b"},
                    ],
                }
            },
        }
    }
    result = smp(DEPLOYMENT, live, patch)
    assert result["spec"]["replicas"] == 2
    assert result["spec"]["strategy"] == {"type": "Recreate"}
    assert pod_spec(result)["containers"] == [
        {"image": "redis", "name": "c"},
        {"name": "a", "image": "nginx:2", "env": [{"name": "Y", "value": "2"}], "args": ["--p"]},
    ]


def test_kubectl_apply_switches_a_volume_source_with_retain_keys() -> None:
    live = deployment(
        NGINX,
        volumes=[
            {"name": "data", "emptyDir": {}},
            {"name": "cfg", "configMap": {"name": "one"}},
        ],
    )
    patch = template_patch(
        **{
            "$setElementOrder/volumes": [{"name": "data"}, {"name": "cfg"}],
            "volumes": [
                {"$retainKeys": ["configMap", "name"], "configMap": {"name": "two"}, "name": "data"}
            ],
        }
    )
    result = smp(DEPLOYMENT, live, patch)
    assert pod_spec(result)["volumes"] == [
        {"name": "data", "configMap": {"name": "two"}},
        {"name": "cfg", "configMap": {"name": "one"}},
    ]


def test_kubectl_edit_removes_an_env_var_and_changes_the_image() -> None:
    live = deployment(NGINX, SIDECAR)
    patch = template_patch(
        **{
            "$setElementOrder/containers": [{"name": "nginx"}, {"name": "sidecar"}],
            "containers": [
                {
                    "$setElementOrder/env": [{"name": "MODE"}],
                    "env": [{"$patch": "delete", "name": "LOG"}],
                    "image": "nginx:1.29",
                    "name": "nginx",
                }
            ],
        }
    )
    result = smp(DEPLOYMENT, live, patch)
    nginx = pod_spec(result)["containers"][0]
    assert nginx["env"] == [{"name": "MODE", "value": "prod"}]
    assert nginx["image"] == "nginx:1.29"
    assert nginx["ports"] == NGINX["ports"]
    assert pod_spec(result)["containers"][1] == SIDECAR


def test_kubectl_patch_default_type_merges_labels_and_replicas() -> None:
    live = deployment(NGINX)
    result = smp(
        DEPLOYMENT, live, {"metadata": {"labels": {"tier": "front"}}, "spec": {"replicas": 3}}
    )
    assert result["metadata"]["labels"] == {"app": "web", "tier": "front"}
    assert result["spec"]["replicas"] == 3


def test_strategic_patch_leaves_its_inputs_untouched() -> None:
    live = deployment(NGINX, SIDECAR)
    patch = template_patch(containers=[{"name": "nginx", "$patch": "delete"}])
    live_before, patch_before = copy.deepcopy(live), copy.deepcopy(patch)
    smp(DEPLOYMENT, live, patch)
    assert live == live_before
    assert patch == patch_before


# --- lists merged by key, lists replaced ------------------------------------------------------


def test_container_ports_merge_by_container_port_new_ones_first() -> None:
    ports = [{"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"}]
    live = deployment({"name": "nginx", "image": "nginx", "ports": ports})
    patch = template_patch(containers=[{"name": "nginx", "ports": [{"containerPort": 8080}]}])
    got = pod_spec(smp(DEPLOYMENT, live, patch))["containers"][0]["ports"]
    assert [p["containerPort"] for p in got] == [8080, 80, 443]
    patch = template_patch(
        containers=[{"name": "nginx", "ports": [{"containerPort": 443, "protocol": "TCP"}]}]
    )
    got = pod_spec(smp(DEPLOYMENT, live, patch))["containers"][0]["ports"]
    assert got == [ports[0], {"containerPort": 443, "name": "https", "protocol": "TCP"}]


def test_env_merges_by_name_and_null_removes_a_member() -> None:
    live = deployment(NGINX)
    secret = {"secretKeyRef": {"name": "s", "key": "mode"}}
    patch = template_patch(
        containers=[
            {"name": "nginx", "env": [{"name": "MODE", "value": None, "valueFrom": secret}]}
        ]
    )
    env = pod_spec(smp(DEPLOYMENT, live, patch))["containers"][0]["env"]
    assert env == [{"name": "MODE", "valueFrom": secret}, {"name": "LOG", "value": "info"}]


def test_tolerations_have_no_strategy_and_are_replaced() -> None:
    old = [{"key": "a", "operator": "Exists"}, {"key": "b", "operator": "Exists"}]
    new = [{"key": "c", "operator": "Equal", "value": "x", "effect": "NoSchedule"}]
    live = deployment(NGINX, tolerations=old)
    assert pod_spec(smp(DEPLOYMENT, live, template_patch(tolerations=new)))["tolerations"] == new


def test_args_without_strategy_are_replaced_not_merged() -> None:
    live = deployment(SIDECAR)
    patch = template_patch(containers=[{"name": "sidecar", "args": ["sleep", "10"]}])
    assert pod_spec(smp(DEPLOYMENT, live, patch))["containers"][0]["args"] == ["sleep", "10"]


def test_service_ports_merge_by_port() -> None:
    live = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "web"},
        "spec": {
            "selector": {"app": "web"},
            "ports": [
                {"name": "http", "port": 80, "targetPort": 80, "protocol": "TCP"},
                {"name": "https", "port": 443, "targetPort": 443, "protocol": "TCP"},
            ],
        },
    }
    patch = {"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}
    result = smp("io.k8s.api.core.v1.Service", live, patch)
    assert [(p["port"], p["targetPort"]) for p in result["spec"]["ports"]] == [
        (80, 8080),
        (443, 443),
    ]


def test_role_rules_have_no_strategy_and_are_replaced() -> None:
    live = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "r", "namespace": "default"},
        "rules": [
            {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]},
            {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["list"]},
        ],
    }
    rules = [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}]
    result = smp("io.k8s.api.rbac.v1.Role", live, {"rules": rules})
    assert result["rules"] == rules


def test_config_map_data_merges_and_null_deletes_a_key() -> None:
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}}
    live["data"]["b"] = "2"
    result = smp("io.k8s.api.core.v1.ConfigMap", live, {"data": {"b": None, "c": "3"}})
    assert result["data"] == {"a": "1", "c": "3"}


def test_owner_references_merge_by_uid() -> None:
    owner = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs1", "uid": "u-1"}
    other = {"apiVersion": "v1", "kind": "ConfigMap", "name": "cm", "uid": "u-2"}
    live = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "ownerReferences": [owner]},
    }
    kind = "io.k8s.api.core.v1.Pod"
    added = smp(kind, live, {"metadata": {"ownerReferences": [other]}})
    assert added["metadata"]["ownerReferences"] == [other, owner]
    controller = {"uid": "u-1", "controller": True}
    updated = smp(kind, live, {"metadata": {"ownerReferences": [controller]}})
    assert updated["metadata"]["ownerReferences"] == [{**owner, "controller": True}]
    gone = smp(kind, live, {"metadata": {"ownerReferences": [{"$patch": "delete", "uid": "u-1"}]}})
    assert gone["metadata"]["ownerReferences"] == []


# --- lists of scalars ---------------------------------------------------------------------------


def namespace(finalizers: list[str], spec_finalizers: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": "team", "finalizers": finalizers},
        "spec": {"finalizers": spec_finalizers},
    }


NAMESPACE = "io.k8s.api.core.v1.Namespace"


def test_metadata_finalizers_are_a_set_union_and_spec_finalizers_are_replaced() -> None:
    live = namespace(["example.com/a", "example.com/b"], ["kubernetes"])
    patch = {
        "metadata": {"finalizers": ["example.com/b", "example.com/c"]},
        "spec": {"finalizers": ["example.com/x"]},
    }
    result = smp(NAMESPACE, live, patch)
    # upstream: elements the patch mentions come first in its order, the others keep their place
    assert result["metadata"]["finalizers"] == ["example.com/a", "example.com/b", "example.com/c"]
    # NamespaceSpec.finalizers has no patch strategy in the schema (x-kubernetes-list-type: atomic)
    assert result["spec"]["finalizers"] == ["example.com/x"]


def test_scalar_union_puts_new_items_before_untouched_ones() -> None:
    live = namespace(["one", "two", "three"], [])
    result = smp(NAMESPACE, live, {"metadata": {"finalizers": ["three", "one"]}})
    assert result["metadata"]["finalizers"] == ["two", "three", "one"]
    result = smp(NAMESPACE, live, {"metadata": {"finalizers": ["zero"]}})
    assert result["metadata"]["finalizers"] == ["zero", "one", "two", "three"]


def test_delete_from_primitive_list_removes_finalizers() -> None:
    live = namespace(["a", "b", "c"], ["kubernetes"])
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b", "not-there"]}}
    assert smp(NAMESPACE, live, patch)["metadata"]["finalizers"] == ["a", "c"]


def test_delete_from_primitive_list_with_set_element_order_as_kubectl_apply_sends_it() -> None:
    live = namespace(["a", "b", "c"], [])
    patch = {
        "metadata": {
            "$setElementOrder/finalizers": ["c", "a"],
            "$deleteFromPrimitiveList/finalizers": ["b"],
        }
    }
    assert smp(NAMESPACE, live, patch)["metadata"]["finalizers"] == ["c", "a"]


def test_delete_from_primitive_list_works_on_a_list_without_strategy() -> None:
    live = deployment({"name": "x", "image": "x", "args": ["a", "b", "c"]})
    patch = template_patch(containers=[{"name": "x", "$deleteFromPrimitiveList/args": ["b"]}])
    assert pod_spec(smp(DEPLOYMENT, live, patch))["containers"][0]["args"] == ["a", "c"]


def test_delete_from_primitive_list_of_a_missing_list_adds_nothing() -> None:
    live = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}
    assert smp(NAMESPACE, live, patch) == live


def test_merging_scalars_keeps_them_unique() -> None:
    live = namespace(["1", "2"], [])
    assert smp(NAMESPACE, live, {"metadata": {"finalizers": ["2", "3"]}})["metadata"][
        "finalizers"
    ] == ["1", "2", "3"]


# --- $setElementOrder ---------------------------------------------------------------------------


def containers(*spec: str) -> list[dict[str, Any]]:
    """``"n1"`` is ``{"name": "n1"}``; ``"n2=v"`` also sets ``image``."""
    out = []
    for item in spec:
        name, _, image = item.partition("=")
        out.append({"name": name, **({"image": image} if image else {})})
    return out


def order(*items: str) -> list[dict[str, str]]:
    return [{"name": name} for name in items]


def test_set_element_order_adds_an_element_where_asked() -> None:
    live = deployment(*containers("n1", "n2=2"))
    patch = template_patch(
        **{"$setElementOrder/containers": order("n3", "n1", "n2"), "containers": containers("n3=3")}
    )
    assert pod_spec(smp(DEPLOYMENT, live, patch))["containers"] == containers("n3=3", "n1", "n2=2")


def test_set_element_order_adds_several_elements_where_asked() -> None:
    live = deployment(*containers("n1", "n2=2"))
    patch = template_patch(
        **{
            "$setElementOrder/containers": order("n1", "n4", "n2", "n3"),
            "containers": containers("n4=4", "n3=3"),
        }
    )
    result = pod_spec(smp(DEPLOYMENT, live, patch))["containers"]
    assert names(result) == ["n1", "n4", "n2", "n3"]


def test_set_element_order_with_an_added_and_a_deleted_element() -> None:
    live = deployment(*containers("n1", "n2=2", "n3=3"))
    patch = template_patch(
        **{
            "$setElementOrder/containers": order("n4", "n2", "n1"),
            "containers": [*containers("n4=4"), {"name": "n3", "$patch": "delete"}],
        }
    )
    assert pod_spec(smp(DEPLOYMENT, live, patch))["containers"] == containers("n4=4", "n2=2", "n1")


def test_set_element_order_keeps_server_only_elements_in_place() -> None:
    live = deployment(*containers("n1", "n2=2", "n7", "n9", "n8", "n3=3", "n4=4"))
    patch = template_patch(**{"$setElementOrder/containers": order("n2", "n1", "n4", "n3")})
    result = pod_spec(smp(DEPLOYMENT, live, patch))["containers"]
    assert names(result) == ["n2", "n1", "n7", "n9", "n8", "n4", "n3"]


def test_set_element_order_may_name_elements_that_do_not_exist() -> None:
    live = deployment(*containers("n1", "n3"))
    patch = template_patch(
        **{
            "$setElementOrder/containers": order("n3", "n2", "n1"),
            "containers": containers("n3=3", "n1=1"),
        }
    )
    assert pod_spec(smp(DEPLOYMENT, live, patch))["containers"] == containers("n3=3", "n1=1")


def test_set_element_order_of_scalars() -> None:
    live = namespace(["1", "4", "2"], [])
    patch = {"metadata": {"$setElementOrder/finalizers": ["3", "1", "2"], "finalizers": ["3"]}}
    assert smp(NAMESPACE, live, patch)["metadata"]["finalizers"] == ["3", "1", "4", "2"]


def test_set_element_order_of_a_nested_list() -> None:
    live = deployment(NGINX, volumes=[{"name": "v", "emptyDir": {}}])
    env = [{"name": "A", "value": "a"}]
    patch = template_patch(
        **{
            "$setElementOrder/containers": order("nginx"),
            "containers": [
                {"name": "nginx", "$setElementOrder/env": order("A", "MODE", "LOG"), "env": env}
            ],
        }
    )
    result = pod_spec(smp(DEPLOYMENT, live, patch))["containers"][0]["env"]
    assert names(result) == ["A", "MODE", "LOG"]


# --- $patch on maps and lists, nulls, values taken whole ---------------------------------------


def test_patch_replace_on_a_map_replaces_it() -> None:
    live = deployment(NGINX)
    patch = {"metadata": {"labels": {"$patch": "replace", "tier": "front"}}}
    assert smp(DEPLOYMENT, live, patch)["metadata"]["labels"] == {"tier": "front"}


def test_patch_delete_on_a_map_empties_it() -> None:
    live = deployment(NGINX)
    patch = {"spec": {"template": {"metadata": {"$patch": "delete"}}}}
    assert smp(DEPLOYMENT, live, patch)["spec"]["template"]["metadata"] == {}


def test_patch_replace_element_replaces_the_whole_list() -> None:
    live = deployment(NGINX, SIDECAR)
    new = {"name": "only", "image": "only:1"}
    patch = template_patch(containers=[{"$patch": "replace"}, new])
    assert pod_spec(smp(DEPLOYMENT, live, patch))["containers"] == [new]


def test_patch_delete_removes_every_element_with_that_key() -> None:
    env = [
        {"name": "A"},
        {"name": "A"},
        {"name": "B", "value": "b"},
        {"name": "C"},
        {"name": "C"},
    ]
    live = deployment({"name": "x", "image": "x", "env": env})
    patch = template_patch(
        containers=[
            {
                "name": "x",
                "env": [{"name": "A", "$patch": "delete"}, {"name": "C", "$patch": "delete"}],
            }
        ]
    )
    result = pod_spec(smp(DEPLOYMENT, live, patch))["containers"][0]["env"]
    assert result == [{"name": "B", "value": "b"}]


def test_directives_for_a_field_that_does_not_exist_add_nothing() -> None:
    live = deployment(NGINX)
    patch = template_patch(securityContext={"$patch": "delete"}, affinity={"$patch": "replace"})
    assert smp(DEPLOYMENT, live, patch) == live


def test_a_new_field_loses_nested_directives_and_nulls() -> None:
    live = deployment(NGINX)
    del live["metadata"]["labels"]
    patch = {
        "metadata": {"labels": {"a": "1", "b": None}},
        "spec": {
            "template": {
                "spec": {
                    "volumes": [
                        {"$retainKeys": ["emptyDir", "name"], "emptyDir": {}, "name": "v"},
                        {"$patch": "delete", "name": "gone"},
                    ]
                }
            }
        },
    }
    result = smp(DEPLOYMENT, live, patch)
    assert result["metadata"]["labels"] == {"a": "1"}
    assert pod_spec(result)["volumes"] == [{"emptyDir": {}, "name": "v"}]


def test_null_for_a_missing_field_is_ignored_and_original_nulls_stay() -> None:
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": None}
    result = smp("io.k8s.api.core.v1.ConfigMap", live, {"binaryData": None, "immutable": True})
    assert result == {**live, "immutable": True}


def test_retain_keys_clears_the_other_members() -> None:
    live = deployment(NGINX)
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert smp(DEPLOYMENT, live, patch)["spec"]["strategy"] == {"type": "Recreate"}


def test_a_list_of_an_unknown_kind_is_replaced() -> None:
    live = {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"items": [1, 2]}}
    result = strategic_merge_patch(live, {"spec": {"items": [3]}}, schema=INDEX.lookup("nope"))
    assert result["spec"]["items"] == [3]


def test_a_root_patch_replace_returns_the_patch() -> None:
    live = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}
    patch = {"$patch": "replace", "apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}}
    result = smp("io.k8s.api.core.v1.ConfigMap", live, patch)
    assert result == {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"}}


# --- errors, with the status and text the apiserver gives ---------------------------------------


def refused(kind: str, live: dict[str, Any], patch: dict[str, Any]) -> StrategicMergePatchError:
    with pytest.raises(StrategicMergePatchError) as caught:
        smp(kind, live, patch)
    return caught.value


def test_set_element_order_that_contradicts_the_patch_is_an_internal_error() -> None:
    live = deployment(*containers("n1", "n3", "n2"))
    patch = template_patch(
        **{
            "$setElementOrder/containers": order("n1", "n2", "n3"),
            "containers": containers("n3=3", "n1=1"),
        }
    )
    err = refused(DEPLOYMENT, live, patch)
    assert isinstance(err, StrategicMergePatchInternalError)
    assert (err.code, err.reason) == (500, "")
    assert str(err) == (
        "The order in patch list:\n[map[image:3 name:n3] map[image:1 name:n1]]\n"
        " doesn't match $setElementOrder list:\n[map[name:n1] map[name:n2] map[name:n3]]\n"
    )


def test_a_merge_list_element_without_its_merge_key_is_refused() -> None:
    live = deployment(NGINX)
    err = refused(DEPLOYMENT, live, template_patch(containers=[{"image": "nginx:2"}]))
    assert str(err) == "map: map[image:nginx:2] does not contain declared merge key: name"
    err = refused(DEPLOYMENT, live, template_patch(containers=[{"$patch": "delete"}]))
    assert str(err) == "map: map[$patch:delete] does not contain declared merge key: name"


def test_unknown_patch_directive_is_refused() -> None:
    live = deployment(NGINX)
    err = refused(DEPLOYMENT, live, {"metadata": {"labels": {"$patch": "frob"}}})
    assert str(err) == "unknown patch type: frob in map: map[$patch:frob]"
    err = refused(DEPLOYMENT, live, template_patch(containers=[{"name": "x", "$patch": 1}]))
    assert str(err) == "unknown patch type: %!s(int64=1) in map: map[$patch:1 name:x]"
    err = refused(DEPLOYMENT, live, template_patch(containers=[{"name": "x", "$patch": "merge"}]))
    assert str(err) == "merging lists cannot yet be specified in the patch"


def test_malformed_directives_are_bad_requests() -> None:
    live = deployment(NGINX)
    cases = [
        ({"spec": {"strategy": {"$retainKeys": "type"}}}, "invalid patch format of retainKeys"),
        (
            {"spec": {"strategy": {"$retainKeys": ["type"], "rollingUpdate": {}}}},
            "invalid patch format of retainKeys",
        ),
        (
            {"metadata": {"$deleteFromPrimitiveList": ["a"]}},
            "invalid patch format of primitive list",
        ),
        (
            template_patch(**{"$setElementOrderX/containers": []}),
            "invalid patch format of setElementOrder list",
        ),
    ]
    for patch, message in cases:
        err = refused(DEPLOYMENT, live, patch)
        assert isinstance(err, StrategicMergePatchBadRequestError), patch
        assert (err.code, err.reason, str(err)) == (400, "BadRequest", message)


def test_set_element_order_that_is_not_a_list_is_refused() -> None:
    err = refused(
        DEPLOYMENT, deployment(NGINX), template_patch(**{"$setElementOrder/containers": "x"})
    )
    assert str(err) == "expected a []interface {}, but received a string"


def test_mixed_element_types_and_lists_of_lists_are_refused() -> None:
    err = refused(NAMESPACE, namespace(["a"], []), {"metadata": {"finalizers": [1]}})
    assert str(err) == "list element types are not identical: [[a] [1]]"
    err = refused(NAMESPACE, namespace([], []), {"metadata": {"finalizers": [["a"]]}})
    assert isinstance(err, StrategicMergePatchInvalidError)
    assert (err.code, err.reason) == (422, "Invalid")
    assert str(err) == "the server rejected our request due to an error in our request"
    assert err.detail == "lists of lists are not supported"


def test_maps_in_a_merged_scalar_list_are_refused() -> None:
    err = refused(NAMESPACE, namespace([], []), {"metadata": {"finalizers": [{"a": 1.5}]}})
    assert str(err) == "cannot merge lists without merge key for string"


def test_decode_refuses_bodies_that_are_not_json_objects() -> None:
    cases = [
        (b"[]", "json: cannot unmarshal array into Go value of type map[string]interface {}"),
        (b'"x"', "json: cannot unmarshal string into Go value of type map[string]interface {}"),
        (b"{x}", "invalid character 'x' looking for beginning of object key string"),
        (b'{"a":1,}', "invalid character '}' looking for beginning of object key string"),
        (b'{"a" 1}', "invalid character '1' after object key"),
        (b'{"a":[1 2]}', "invalid character '2' after array element"),
        (b'{"a":1 "b":2}', "invalid character '\"' after object key:value pair"),
        (b'{"a":tru}', "invalid character '}' in literal true (expecting 'e')"),
        (b'{"a":1}x', "invalid character 'x' after top-level value"),
        (b"", "unexpected end of JSON input"),
        (b'{"a":', "unexpected end of JSON input"),
        (b'{"a":"\x01"}', "invalid character '\\x01' in string literal"),
        (b'{"a":1.x}', "invalid character 'x' after decimal point in numeric literal"),
    ]
    for body, message in cases:
        with pytest.raises(StrategicMergePatchBadRequestError) as caught:
            decode_strategic_merge_patch(body)
        assert str(caught.value) == message, body


def test_decode_reads_null_as_an_empty_patch_and_keeps_integers() -> None:
    assert decode_strategic_merge_patch(b"null") == {}
    body = b'{"spec":{"replicas":3,"x":1.0,"big":123456789012345678901234567890}}'
    decoded = decode_strategic_merge_patch(body)
    assert decoded["spec"]["replicas"] == 3
    assert isinstance(decoded["spec"]["replicas"], int)
    assert isinstance(decoded["spec"]["x"], float)
    assert isinstance(decoded["spec"]["big"], float)


def test_decode_replaces_invalid_utf8_as_go_does() -> None:
    assert decode_strategic_merge_patch(b'{"a":"\xff"}') == {"a": "\ufffd"}
    assert decode_strategic_merge_patch(b'{"a":"\\ud800"}') == {"a": "\ufffd"}


# --- upstream's own answer: kubectl runs the same Go code offline ---------------------------------


def test_kubectl_apply_renaming_a_container_next_to_an_injected_sidecar() -> None:
    """Upstream appends the new container into the slot the deleted one freed, and orders the
    result by that array: the sidecar the patch does not mention stays before the new one."""
    live = deployment(*containers("web=w", "old=o", "istio-proxy=i"))
    patch = template_patch(
        **{
            "$setElementOrder/containers": order("web", "new"),
            "containers": [{"name": "new", "image": "n"}, {"$patch": "delete", "name": "old"}],
        }
    )
    result = pod_spec(smp(DEPLOYMENT, live, patch))["containers"]
    assert result == containers("web=w", "istio-proxy=i", "new=n")


def decoded(value: Any) -> Any:
    """What the apiserver keeps when it decodes a merged map into the Go type."""
    if isinstance(value, dict):
        return {k: decoded(v) for k, v in value.items() if v is not None and not k.startswith("$")}
    if isinstance(value, list):
        return [decoded(v) for v in value]
    return value


def _oracle_cases() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(id, kind, live, patch); lists in ``live`` have 1, 2 or 4 elements, so that kubectl's
    decoded slices have no spare capacity, like the apiserver's deep-copied object."""
    four = containers("n1", "n2=2", "n3=3", "n4=4")
    ports = [{"containerPort": 80, "name": "http"}, {"containerPort": 443, "name": "https"}]
    return [
        (
            "set-image",
            DEPLOYMENT,
            deployment(NGINX, SIDECAR),
            template_patch(
                **{
                    "$setElementOrder/containers": order("nginx", "sidecar"),
                    "containers": [{"image": "nginx:2", "name": "nginx"}],
                }
            ),
        ),
        (
            "new-port-first",
            DEPLOYMENT,
            deployment({"name": "n", "image": "n", "ports": ports}),
            template_patch(containers=[{"name": "n", "ports": [{"containerPort": 8080}]}]),
        ),
        (
            "delete-and-add-with-order",
            DEPLOYMENT,
            deployment(*four),
            template_patch(
                **{
                    "$setElementOrder/containers": order("n5", "n3"),
                    "containers": [
                        {"name": "n2", "$patch": "delete"},
                        {"name": "n5", "image": "5"},
                        {"name": "n6", "$patch": "delete"},
                    ],
                }
            ),
        ),
        (
            "delete-two-add-three",
            DEPLOYMENT,
            deployment(*four),
            template_patch(
                **{
                    "$setElementOrder/containers": order("n4", "n7", "n6", "n5"),
                    "containers": [
                        {"name": "n1", "$patch": "delete"},
                        {"name": "n3", "$patch": "delete"},
                        *containers("n7=7", "n6=6", "n5=5"),
                    ],
                }
            ),
        ),
        (
            "server-only-elements",
            DEPLOYMENT,
            deployment(*four),
            template_patch(**{"$setElementOrder/containers": order("n3", "n1")}),
        ),
        (
            "patch-order-without-set-element-order",
            DEPLOYMENT,
            deployment(*four),
            template_patch(containers=containers("n4=x", "n9", "n2=y")),
        ),
        (
            "nested-env-order",
            DEPLOYMENT,
            deployment(NGINX),
            template_patch(
                **{
                    "$setElementOrder/containers": order("nginx"),
                    "containers": [
                        {
                            "name": "nginx",
                            "$setElementOrder/env": order("A", "MODE", "B"),
                            "env": [
                                {"name": "A"},
                                {"name": "B"},
                                {"name": "LOG", "$patch": "delete"},
                            ],
                        }
                    ],
                }
            ),
        ),
        (
            "finalizers",
            NAMESPACE,
            namespace(["a", "b", "c", "d"], ["kubernetes"]),
            {
                "metadata": {
                    "$setElementOrder/finalizers": ["e", "c", "a"],
                    "$deleteFromPrimitiveList/finalizers": ["b"],
                    "finalizers": ["e"],
                },
                "spec": {"finalizers": []},
            },
        ),
        (
            "retain-keys-and-new-values",
            DEPLOYMENT,
            deployment(NGINX, volumes=[{"name": "v", "emptyDir": {}}]),
            {
                "metadata": {"annotations": {"a": "1", "b": None}},
                "spec": {
                    "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
                    "template": {
                        "spec": {
                            "volumes": [
                                {"$retainKeys": ["name", "secret"], "name": "v", "secret": {}},
                            ],
                            "tolerations": [{"key": "k", "value": None}],
                        }
                    },
                },
            },
        ),
        (
            "replace-and-delete-maps",
            DEPLOYMENT,
            deployment(NGINX, SIDECAR),
            {
                "metadata": {"labels": {"$patch": "replace", "x": "y"}},
                "spec": {
                    "selector": {"$patch": "delete"},
                    "template": {"spec": {"containers": [{"$patch": "replace"}, SIDECAR]}},
                },
            },
        ),
    ]


@pytest.mark.parametrize(
    ("kind", "live", "patch"),
    [case[1:] for case in _oracle_cases()],
    ids=[case[0] for case in _oracle_cases()],
)
def test_results_match_kubectl_patch_local(
    kind: str, live: dict[str, Any], patch: dict[str, Any], tmp_path: Path
) -> None:
    """``kubectl patch --local`` applies upstream's StrategicMergePatch with the Go types."""
    from tests.conftest import KUBECTL

    if KUBECTL is None:
        pytest.skip("kubectl is not installed next to the Python interpreter")
    manifest = tmp_path / "live.json"
    manifest.write_text(json.dumps(live))
    args = ["patch", "--local", "-f", str(manifest), "--type", "strategic", "-o", "json"]
    run = subprocess.run(
        [KUBECTL, *args, "-p", json.dumps(patch)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "KUBECONFIG": os.devnull},
    )
    assert run.returncode == 0, run.stderr
    assert smp(kind, live, patch) == decoded(json.loads(run.stdout))


def test_patch_meta_cache_does_not_grow_with_client_keys() -> None:
    index = PatchMetaIndex(COMPONENTS)
    data = index.lookup("io.k8s.api.core.v1.ConfigMap").field("data")
    limits = index.lookup("io.k8s.api.core.v1.ResourceRequirements").field("limits")
    for i in range(100):
        assert data.field(f"key-{i}").kind == "primitive"
        assert limits.field(f"example.com/gpu-{i}").name.endswith("Quantity")
        index.lookup(DEPLOYMENT).field(f"unknown-{i}")
    assert len(data.schema_type._fields) == 1
    assert len(index.lookup(DEPLOYMENT).schema_type._fields) == 0
