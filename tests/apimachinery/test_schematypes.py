"""How server-side apply reads list and map semantics from OpenAPI v3 schemas.

Built-in kinds come from the bundled Kubernetes 1.35 documents (the same components the
strategic merge patch uses); custom resources from CRD-style inline schemas.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kcp_edge.apimachinery.patchmeta import load_components
from kcp_edge.apimachinery.schematypes import (
    ATOMIC,
    GRANULAR,
    LEAF,
    LIST,
    MAP,
    SCALAR,
    SET,
    UNTYPED,
    builtin_types,
    inline_types,
)

OPENAPI = Path(__file__).resolve().parents[2] / "kcp_edge" / "registry" / "data" / "openapi"
COMPONENTS: dict[str, Any] = {}
for _document in sorted(OPENAPI.glob("*.json")):
    if _document.name != "apis.json":
        COMPONENTS.update(load_components(_document))

DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"


def pod_spec() -> Any:
    return builtin_types(COMPONENTS, DEPLOYMENT).field("spec").field("template").field("spec")


def test_configmap_data_is_a_granular_map_of_scalars() -> None:
    root = builtin_types(COMPONENTS, "io.k8s.api.core.v1.ConfigMap")
    data = root.field("data")
    assert root.kind == MAP
    assert root.declares("data")
    assert not root.declares("a")
    assert data.kind == MAP
    assert data.map_type == GRANULAR
    assert not data.declares("a")
    assert data.field("anything").is_scalar


def test_containers_are_a_map_list_keyed_by_name() -> None:
    containers = pod_spec().field("containers")
    assert containers.kind == LIST
    assert containers.list_type == MAP
    assert containers.list_map_keys == ("name",)
    assert containers.items.declares("image")


def test_ports_are_keyed_by_container_port_and_protocol_with_a_protocol_default() -> None:
    ports = pod_spec().field("containers").items.field("ports")
    assert ports.list_type == MAP
    assert ports.list_map_keys == ("containerPort", "protocol")
    assert ports.items.default_of("protocol") == (True, "TCP")
    assert ports.items.default_of("hostIP") == (False, None)


def test_args_are_atomic_and_finalizers_a_set() -> None:
    container = pod_spec().field("containers").items
    assert container.field("args").list_type == ATOMIC
    meta = builtin_types(COMPONENTS, DEPLOYMENT).field("metadata")
    assert meta.field("finalizers").list_type == SET
    assert meta.field("labels").map_type == GRANULAR


def test_owner_references_are_keyed_by_uid_and_each_is_atomic() -> None:
    owners = builtin_types(COMPONENTS, DEPLOYMENT).field("metadata").field("ownerReferences")
    assert owners.list_type == MAP
    assert owners.list_map_keys == ("uid",)
    assert owners.items.map_type == ATOMIC
    assert owners.items.shape_of({"uid": "u"}) == LEAF


def test_label_selector_is_an_atomic_map() -> None:
    selector = builtin_types(COMPONENTS, DEPLOYMENT).field("spec").field("selector")
    assert selector.map_type == ATOMIC
    assert selector.shape_of({"matchLabels": {"a": "b"}}) == LEAF


def test_patch_merge_key_without_list_type_is_a_map_list_as_schemaconv_infers() -> None:
    components = {
        "T": {
            "type": "object",
            "properties": {
                "keyed": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"id": {"type": "string"}}},
                    "x-kubernetes-patch-strategy": "merge",
                    "x-kubernetes-patch-merge-key": "id",
                },
                "union": {
                    "type": "array",
                    "items": {"type": "string"},
                    "x-kubernetes-patch-strategy": "merge",
                },
                "retained": {
                    "type": "array",
                    "items": {"type": "string"},
                    "x-kubernetes-patch-strategy": "retainKeys",
                },
                "plain": {"type": "array", "items": {"type": "string"}},
            },
        }
    }
    root = builtin_types(components, "T")
    assert (root.field("keyed").list_type, root.field("keyed").list_map_keys) == (MAP, ("id",))
    assert root.field("union").list_type == SET
    assert root.field("retained").list_type == ATOMIC
    assert root.field("plain").list_type == ATOMIC


def test_builtin_zero_fields_follow_go_zero_values() -> None:
    root = builtin_types(COMPONENTS, DEPLOYMENT)
    assert root.zero_fields() == {"metadata": {}, "spec": {}, "status": {}}
    spec = root.field("spec").zero_fields()
    assert spec["strategy"] == {}
    assert spec["template"] == {}
    assert spec["selector"] is None
    assert "replicas" not in spec
    assert pod_spec().zero_fields()["containers"] is None


def test_unknown_root_is_untyped() -> None:
    root = builtin_types(COMPONENTS, "io.example.Missing")
    assert root.kind == UNTYPED
    assert root.shape_of({"a": 1}) == MAP
    assert root.shape_of([1]) == LEAF
    assert root.field("a").field("b").kind == UNTYPED


def test_nodes_are_cached_per_components() -> None:
    first = builtin_types(COMPONENTS, DEPLOYMENT)
    second = builtin_types(COMPONENTS, DEPLOYMENT)
    assert first is second
    assert first.field("spec") is second.field("spec")


WIDGET: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {
            "type": "object",
            "properties": {
                "tags": {"type": "array", "items": {"type": "string"}},
                "names": {
                    "type": "array",
                    "items": {"type": "string"},
                    "x-kubernetes-list-type": "set",
                },
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["port"],
                    "items": {
                        "type": "object",
                        "properties": {
                            "port": {"type": "integer"},
                            "protocol": {"type": "string", "default": "TCP"},
                        },
                    },
                },
                "ref": {
                    "type": "object",
                    "x-kubernetes-map-type": "atomic",
                    "properties": {"name": {"type": "string"}},
                },
                "settings": {"type": "object", "additionalProperties": {"type": "string"}},
                "blob": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "open": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {
                        "inner": {"type": "object", "properties": {"a": {"type": "string"}}}
                    },
                },
                "count": {"x-kubernetes-int-or-string": True},
                "template": {
                    "type": "object",
                    "x-kubernetes-embedded-resource": True,
                    "properties": {"spec": {"type": "object"}},
                },
            },
        },
        "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
    },
}


def test_crd_lists_are_atomic_unless_the_schema_says_otherwise() -> None:
    spec = inline_types(WIDGET).field("spec")
    assert spec.field("tags").list_type == ATOMIC
    assert spec.field("names").list_type == SET
    assert spec.field("ports").list_type == MAP
    assert spec.field("ports").list_map_keys == ("port",)
    assert spec.field("ports").items.default_of("protocol") == (True, "TCP")


def test_crd_maps_are_granular_unless_atomic() -> None:
    spec = inline_types(WIDGET).field("spec")
    assert spec.map_type == GRANULAR
    assert spec.field("settings").map_type == GRANULAR
    assert spec.field("ref").map_type == ATOMIC


def test_crd_unknown_fields_and_int_or_string_are_untyped() -> None:
    spec = inline_types(WIDGET).field("spec")
    blob = spec.field("blob")
    assert blob.kind == UNTYPED
    assert blob.shape_of({"x": {"y": 1}}) == MAP
    assert blob.field("x").shape_of([1, 2]) == LEAF
    assert spec.field("count").kind == UNTYPED
    assert spec.field("count").shape_of(3) == LEAF


def test_crd_root_and_embedded_resources_have_object_meta() -> None:
    root = inline_types(WIDGET)
    assert root.declares("apiVersion")
    assert root.declares("metadata")
    meta = root.field("metadata")
    assert meta.field("labels").map_type == GRANULAR
    assert meta.field("finalizers").list_type == SET
    assert meta.field("ownerReferences").list_map_keys == ("uid",)
    template = root.field("spec").field("template")
    assert template.declares("metadata")
    assert template.declares("spec")


def test_closed_structs_reject_undeclared_fields() -> None:
    root = inline_types(WIDGET)
    assert root.closed
    assert root.field("spec").closed
    assert not root.field("spec").field("settings").closed
    assert not root.field("spec").field("blob").closed
    # x-kubernetes-preserve-unknown-fields carries down into inline schemas
    assert not root.field("spec").field("open").closed
    assert not root.field("spec").field("open").field("inner").closed
    assert root.field("spec").field("open").field("extra").kind == UNTYPED
    assert builtin_types(COMPONENTS, "io.k8s.api.core.v1.ConfigMap").closed


def test_shape_of_values() -> None:
    spec = inline_types(WIDGET).field("spec")
    assert spec.shape_of({}) == MAP
    assert spec.shape_of(None) == MAP
    assert spec.shape_of("text") == LEAF
    assert spec.field("names").shape_of(["a"]) == LIST
    assert spec.field("names").shape_of(None) == LIST
    assert spec.field("tags").shape_of(["a"]) == LEAF
    assert spec.field("tags").shape_of(None) == LEAF
    assert spec.field("ports").items.field("port").kind == SCALAR


def test_crds_have_no_zero_fields() -> None:
    assert inline_types(WIDGET).zero_fields() == {}
