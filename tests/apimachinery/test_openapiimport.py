"""OpenAPI v3 documents of Kubernetes group-versions turned into structural CRD schemas.

The documents are kcp-edge's bundled copies of a real apiserver's ``/openapi/v3`` answers
(``kcp_edge/registry/data/openapi``), so every kind a syncer may import is covered.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import orjson
import pytest

from kcp_edge.apimachinery.openapiimport import (
    KindNotFoundError,
    OpenAPIImportError,
    crd_from_openapi,
    crd_schema_from_openapi,
)
from kcp_edge.apimachinery.structural import CompiledSchema, check_structural

DATA = Path(__file__).resolve().parents[2] / "kcp_edge" / "registry" / "data" / "openapi"
ROOT = "spec.versions[0].schema.openAPIV3Schema"


@functools.cache
def document(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = orjson.loads((DATA / f"{name}.json").read_bytes())
    return loaded


def apps() -> dict[str, Any]:
    return document("apis__apps__v1")


def core() -> dict[str, Any]:
    return document("api__v1")


def at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    """The node at ``spec.template.spec.containers[*].ports`` (``[*]``: the items)."""
    node = schema
    for part in path.split("."):
        name, _, items = part.partition("[")
        node = node["properties"][name]
        if items:
            node = node["items"]
    return node


@pytest.mark.parametrize(
    ("doc", "group", "kind"),
    [
        ("apis__apps__v1", "apps", "Deployment"),
        ("apis__apps__v1", "apps", "StatefulSet"),
        ("apis__apps__v1", "apps", "DaemonSet"),
        ("api__v1", "", "Service"),
        ("api__v1", "", "ConfigMap"),
        ("api__v1", "", "Pod"),
        ("apis__batch__v1", "batch", "CronJob"),
        ("apis__networking.k8s.io__v1", "networking.k8s.io", "Ingress"),
        ("apis__apiextensions.k8s.io__v1", "apiextensions.k8s.io", "CustomResourceDefinition"),
    ],
)
def test_the_schema_is_structural(doc: str, group: str, kind: str) -> None:
    schema = crd_schema_from_openapi(document(doc), group, "v1", kind)
    assert check_structural(schema, field_path=ROOT) == []
    assert '"$ref":"#/' not in orjson.dumps(schema).decode()


def test_every_kind_of_every_bundled_document_converts() -> None:
    converted = 0
    for path in sorted(DATA.glob("ap*__*.json")):
        doc = document(path.stem)
        for name, component in doc["components"]["schemas"].items():
            for gvk in component.get("x-kubernetes-group-version-kind", []):
                if name.rsplit(".", 1)[-1] != gvk["kind"] or "List" in gvk["kind"]:
                    continue  # meta kinds (DeleteOptions, WatchEvent) list every group
                schema = crd_schema_from_openapi(doc, gvk["group"], gvk["version"], gvk["kind"])
                assert check_structural(schema, field_path=ROOT) == [], gvk
                converted += 1
    assert converted > 40


def test_the_root_follows_the_crd_rules() -> None:
    schema = crd_schema_from_openapi(apps(), "apps", "v1", "Deployment")
    assert schema["type"] == "object"
    assert schema["properties"]["metadata"] == {"type": "object"}
    assert schema["properties"]["apiVersion"] == {"type": "string"}
    assert schema["properties"]["kind"] == {"type": "string"}
    assert sorted(schema["properties"]) == ["apiVersion", "kind", "metadata", "spec", "status"]


def test_references_are_inlined_with_required_and_formats() -> None:
    spec = crd_schema_from_openapi(apps(), "apps", "v1", "Deployment")["properties"]["spec"]
    assert spec["required"] == ["selector", "template"]
    assert spec["properties"]["replicas"] == {"type": "integer", "format": "int32"}
    container = at(spec, "template.spec.containers[*]")
    assert container["required"] == ["name"]
    assert container["properties"]["image"] == {"type": "string"}


def test_int_or_string_and_quantities() -> None:
    schema = crd_schema_from_openapi(apps(), "apps", "v1", "Deployment")
    surge = at(schema, "spec.strategy.rollingUpdate.maxSurge")
    assert surge == {
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "x-kubernetes-int-or-string": True,
    }
    limits = at(schema, "spec.template.spec.containers[*].resources.limits")
    assert limits["type"] == "object"
    assert limits["additionalProperties"]["x-kubernetes-int-or-string"] is True
    compiled = CompiledSchema.compile(schema)
    rolling = {"maxSurge": "25%", "maxUnavailable": 1}
    obj = {"spec": {"selector": {}, "template": {}, "strategy": {"rollingUpdate": rolling}}}
    assert compiled.validate(obj) == []
    rolling["maxSurge"] = 2.5
    assert "spec.strategy.rollingUpdate.maxSurge" in [c["field"] for c in compiled.validate(obj)]


def test_times_are_date_time_strings() -> None:
    schema = crd_schema_from_openapi(apps(), "apps", "v1", "Deployment")
    condition = at(schema, "status.conditions[*]")
    assert condition["properties"]["lastUpdateTime"] == {"type": "string", "format": "date-time"}
    template_meta = at(schema, "spec.template.metadata")
    assert template_meta["properties"]["creationTimestamp"]["format"] == "date-time"


def test_raw_and_free_form_json_preserve_unknown_fields() -> None:
    crd = crd_schema_from_openapi(
        document("apis__apiextensions.k8s.io__v1"),
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
    )
    props = at(crd, "spec.versions[*].schema.openAPIV3Schema")["properties"]
    assert props["default"] == {"x-kubernetes-preserve-unknown-fields": True}
    managed = at(
        crd_schema_from_openapi(apps(), "apps", "v1", "Deployment"),
        "spec.template.metadata.managedFields[*].fieldsV1",
    )
    assert managed == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def test_recursion_becomes_a_preserving_object() -> None:
    crd = crd_schema_from_openapi(
        document("apis__apiextensions.k8s.io__v1"),
        "apiextensions.k8s.io",
        "v1",
        "CustomResourceDefinition",
    )
    schema_props = at(crd, "spec.versions[*].schema.openAPIV3Schema")
    assert schema_props["properties"]["not"] == {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }
    assert schema_props["properties"]["properties"]["additionalProperties"] == {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
    }


def test_defaults_and_patch_extensions_are_dropped_except_list_map_keys() -> None:
    schema = crd_schema_from_openapi(apps(), "apps", "v1", "Deployment")
    text = orjson.dumps(schema).decode()
    for word in ("x-kubernetes-patch", "x-kubernetes-group-version-kind", "x-kubernetes-unions"):
        assert word not in text
    strategy = at(schema, "spec.strategy")
    assert "default" not in strategy
    ports = at(schema, "spec.template.spec.containers[*].ports")
    assert ports["x-kubernetes-list-type"] == "map"
    assert ports["x-kubernetes-list-map-keys"] == ["containerPort", "protocol"]
    assert ports["items"]["properties"]["protocol"]["default"] == "TCP"
    assert "default" not in ports["items"]["properties"]["containerPort"]


def test_list_and_map_types_are_kept() -> None:
    schema = crd_schema_from_openapi(apps(), "apps", "v1", "Deployment")
    assert at(schema, "spec.template.spec.containers")["x-kubernetes-list-map-keys"] == ["name"]
    assert at(schema, "spec.selector")["x-kubernetes-map-type"] == "atomic"


def test_core_kinds_use_the_empty_group() -> None:
    service = crd_schema_from_openapi(core(), "", "v1", "Service")
    ports = at(service, "spec.ports[*]")
    assert ports["properties"]["targetPort"]["x-kubernetes-int-or-string"] is True
    config = crd_schema_from_openapi(core(), "", "v1", "ConfigMap")
    assert config["properties"]["data"] == {
        "type": "object",
        "additionalProperties": {"type": "string"},
    }
    assert config["properties"]["binaryData"]["additionalProperties"]["format"] == "byte"


def test_a_pruned_and_validated_deployment() -> None:
    compiled = CompiledSchema.compile(crd_schema_from_openapi(apps(), "apps", "v1", "Deployment"))
    obj: dict[str, Any] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 2,
            "bogus": True,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}, "creationTimestamp": None},
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]}
                    ]
                },
            },
        },
    }
    assert compiled.prune(obj) == ["spec.bogus"]
    compiled.default(obj)
    assert obj["spec"]["template"]["spec"]["containers"][0]["ports"] == [
        {"containerPort": 80, "protocol": "TCP"}
    ]
    assert compiled.validate(obj) == []
    obj["spec"]["replicas"] = "two"
    assert [c["field"] for c in compiled.validate(obj)] == ["spec.replicas"]


def test_a_full_crd() -> None:
    crd = crd_from_openapi(
        apps(),
        "apps",
        "v1",
        "Deployment",
        plural="deployments",
        singular="deployment",
        short_names=("deploy",),
        categories=("all",),
        scale={"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"},
    )
    assert crd["metadata"] == {"name": "deployments.apps"}
    assert crd["spec"]["names"] == {
        "plural": "deployments",
        "singular": "deployment",
        "kind": "Deployment",
        "listKind": "DeploymentList",
        "shortNames": ["deploy"],
        "categories": ["all"],
    }
    assert crd["spec"]["scope"] == "Namespaced"
    (version,) = crd["spec"]["versions"]
    assert version["subresources"] == {
        "status": {},
        "scale": {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"},
    }
    assert version["served"] is version["storage"] is True
    plain = crd_from_openapi(
        core(), "", "v1", "ConfigMap", plural="configmaps", singular="configmap", status=False
    )
    assert "subresources" not in plain["spec"]["versions"][0]


def test_an_unknown_kind_is_a_clear_value_error() -> None:
    with pytest.raises(KindNotFoundError, match="kind Gizmo of apps/v1 is not in the OpenAPI"):
        crd_schema_from_openapi(apps(), "apps", "v1", "Gizmo")
    with pytest.raises(ValueError, match="kind Deployment of v1 is not in"):
        crd_schema_from_openapi(core(), "", "v1", "Deployment")
    with pytest.raises(OpenAPIImportError, match=r"no components\.schemas"):
        crd_schema_from_openapi({"openapi": "3.0.0"}, "apps", "v1", "Deployment")


def test_synthetic_documents() -> None:
    doc = {
        "components": {
            "schemas": {
                "x.Node": {
                    "type": "object",
                    "x-kubernetes-group-version-kind": [
                        {"group": "example.dev", "version": "v1", "kind": "Node"}
                    ],
                    "properties": {
                        "child": {"allOf": [{"$ref": "#/components/schemas/x.Node"}]},
                        "anything": {},
                        "free": {"type": "object"},
                        "list": {"type": "array"},
                        "either": {"oneOf": [{"type": "string"}, {"type": "number"}]},
                        "when": {"type": "string", "format": "date-time", "default": "x"},
                        "mode": {"type": "string", "enum": ["a", "b"], "format": "custom"},
                        "settable": {
                            "type": "array",
                            "x-kubernetes-list-type": "set",
                            "items": {"type": "object", "properties": {"a": {"type": "string"}}},
                        },
                    },
                }
            }
        }
    }
    schema = crd_schema_from_openapi(doc, "example.dev", "v1", "Node")
    props = schema["properties"]
    assert props["child"] == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert props["anything"] == {"x-kubernetes-preserve-unknown-fields": True}
    assert props["free"] == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert props["list"]["items"] == {"x-kubernetes-preserve-unknown-fields": True}
    assert props["either"]["x-kubernetes-int-or-string"] is True
    assert props["when"] == {"type": "string", "format": "date-time"}
    assert props["mode"] == {"type": "string", "enum": ["a", "b"]}
    assert props["settable"]["x-kubernetes-list-type"] == "atomic"
    assert check_structural(schema, field_path=ROOT) == []
