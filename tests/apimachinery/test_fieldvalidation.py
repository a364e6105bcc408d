"""Server-side field validation reports unknown and duplicate fields as kube-apiserver does.

Cases restate what ``sigs.k8s.io/json`` strict decoding (``kubernetes_patch.go``: paths joined
with ``.`` and ``[i]``, errors deduplicated) and the create, update and patch handlers of
``k8s.io/apiserver/pkg/endpoints/handlers`` produce, against the bundled OpenAPI schemas of the
built-in kinds.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from kcp_edge.apimachinery import errors
from kcp_edge.apimachinery import fieldvalidation as fv
from kcp_edge.apimachinery.fieldvalidation import FieldValidation
from kcp_edge.registry.openapi_data import component_schemas

CORE = component_schemas(group="", version="v1")
APPS = component_schemas(group="apps", version="v1")
RBAC = component_schemas(group="rbac.authorization.k8s.io", version="v1")
APIEXT = component_schemas(group="apiextensions.k8s.io", version="v1")
CONFIGMAP = "io.k8s.api.core.v1.ConfigMap"
NAMESPACE = "io.k8s.api.core.v1.Namespace"
DEPLOYMENT = "io.k8s.api.apps.v1.Deployment"
ROLE = "io.k8s.api.rbac.v1.Role"
CRD = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"


def configmap(**extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, **extra}


def crd(schema: dict[str, Any], **version: Any) -> dict[str, Any]:
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com"},
        "spec": {
            "group": "example.com",
            "names": {"plural": "widgets", "kind": "Widget"},
            "scope": "Namespaced",
            "versions": [
                {"name": "v1", "served": True, "storage": True, "schema": schema, **version}
            ],
        },
    }


# --- unknown fields ------------------------------------------------------------------------------


def test_configmap_with_an_unknown_top_level_field() -> None:
    assert fv.unknown_fields(configmap(bogus=1), schemas=CORE, root=CONFIGMAP) == ["bogus"]
    assert fv.unknown_fields(configmap(data={"a": "b"}), schemas=CORE, root=CONFIGMAP) == []


def test_namespace_with_spec_bogus() -> None:
    ns = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}
    ns["spec"] = {"finalizers": ["kubernetes"], "bogus": True}
    assert fv.unknown_fields(ns, schemas=CORE, root=NAMESPACE) == ["spec.bogus"]


def test_role_with_an_unknown_field_in_the_second_rule() -> None:
    rule = {"apiGroups": [""], "resources": ["pods"], "verbs": ["get"]}
    role = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "r", "namespace": "default"},
        "rules": [rule, {**rule, "verb": ["list"]}],
    }
    assert fv.unknown_fields(role, schemas=RBAC, root=ROLE) == ["rules[1].verb"]


def test_maps_accept_any_key() -> None:
    obj = configmap(
        data={"any key": "1", "spec": "2"},
        binaryData={"b": "AAAA"},
    )
    obj["metadata"]["labels"] = {"app.kubernetes.io/name": "x", "bogus": "y"}
    obj["metadata"]["annotations"] = {"kubectl.kubernetes.io/last-applied-configuration": "{}"}
    assert fv.unknown_fields(obj, schemas=CORE, root=CONFIGMAP) == []


def test_managed_fields_entries_and_their_opaque_fields_v1() -> None:
    entry = {
        "manager": "kubectl",
        "operation": "Update",
        "apiVersion": "v1",
        "time": "2026-01-01T00:00:00Z",
        "fieldsType": "FieldsV1",
        "fieldsV1": {"f:data": {".": {}, "f:a": {}}, "anything": [1, {"x": 2}]},
        "subresource": "status",
    }
    obj = configmap()
    obj["metadata"]["managedFields"] = [entry, {**entry, "bogus": 1}]
    got = fv.unknown_fields(obj, schemas=CORE, root=CONFIGMAP)
    assert got == ["metadata.managedFields[1].bogus"]


def test_int_or_string_and_quantity_values() -> None:
    container: dict[str, Any] = {
        "name": "c",
        "image": "nginx",
        "ports": [{"containerPort": 80, "protocol": "TCP"}],
        "resources": {"limits": {"cpu": "500m", "memory": 1024}, "requests": {"cpu": 0.5}},
        "livenessProbe": {"httpGet": {"port": "http", "path": "/"}},
        "readinessProbe": {"tcpSocket": {"port": 8080}},
    }
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "d"}},
            "strategy": {"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1}},
            "template": {"metadata": {"labels": {"app": "d"}}, "spec": {"containers": [container]}},
        },
    }
    assert fv.unknown_fields(deployment, schemas=APPS, root=DEPLOYMENT) == []
    container["ports"][0]["bogus"] = 1
    container["env"] = [{"name": "A", "valueFrom": {"fieldRef": {"fieldPath": "x", "y": 1}}}]
    assert fv.unknown_fields(deployment, schemas=APPS, root=DEPLOYMENT) == [
        "spec.template.spec.containers[0].ports[0].bogus",
        "spec.template.spec.containers[0].env[0].valueFrom.fieldRef.y",
    ]


def test_values_of_the_wrong_shape_are_not_unknown_fields() -> None:
    # Go reports these as type errors, not strict errors.
    obj = configmap(data=["x"], immutable={"a": 1})
    obj["metadata"]["labels"] = [{"a": 1}]
    assert fv.unknown_fields(obj, schemas=CORE, root=CONFIGMAP) == []


def test_crd_schemas_follow_the_go_types() -> None:
    schema = {
        "openAPIV3Schema": {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "default": {"any": {"thing": 1}},
                    "items": {"type": "string", "bogus": 1},
                    "properties": {"size": {"type": "integer", "bogus": 2}},
                }
            },
        }
    }
    obj = crd(schema, subresources={"status": {"bogus": 3}})
    assert fv.unknown_fields(obj, schemas=APIEXT, root=CRD) == [
        "spec.versions[0].schema.openAPIV3Schema.properties.spec.properties.size.bogus",
        "spec.versions[0].subresources.status.bogus",
    ]


def test_preserve_unknown_fields_and_embedded_resources() -> None:
    schemas = {
        **CORE,
        "com.example.v1.Widget": {
            "type": "object",
            "properties": {
                "spec": {
                    "type": "object",
                    "x-kubernetes-preserve-unknown-fields": True,
                    "properties": {"size": {"type": "object", "properties": {"a": {}}}},
                },
                "raw": {"x-kubernetes-preserve-unknown-fields": True},
                "template": {"type": "object", "x-kubernetes-embedded-resource": True},
            },
        },
    }
    widget = {
        "spec": {"free": {"form": [1, {"x": 2}]}, "size": {"a": 1, "b": 2}},
        "raw": {"anything": {"goes": True}},
        "template": {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "x": 1}},
    }
    got = fv.unknown_fields(widget, schemas=schemas, root="com.example.v1.Widget")
    assert got == ["spec.size.b", "template.metadata.x"]


def test_deep_bodies_do_not_exhaust_the_stack() -> None:
    props: dict[str, Any] = {"type": "object", "bogus": 1}
    for _ in range(600):
        props = {"type": "object", "properties": {"p": props}}
    assert fv.unknown_fields(crd({"openAPIV3Schema": props}), schemas=APIEXT, root=CRD) == []
    props = {"type": "object", "bogus": 1}
    for _ in range(3):
        props = {"type": "object", "properties": {"p": props}}
    got = fv.unknown_fields(crd({"openAPIV3Schema": props}), schemas=APIEXT, root=CRD)
    path = "spec.versions[0].schema.openAPIV3Schema" + ".properties.p" * 3 + ".bogus"
    assert got == [path]


def test_an_unknown_root_checks_nothing_and_schemas_compile_once() -> None:
    assert fv.unknown_fields(configmap(bogus=1), schemas=CORE, root="no.such.Kind") == []
    assert fv._compiled(CORE, CONFIGMAP) is fv._compiled(CORE, CONFIGMAP)


# --- duplicate fields ----------------------------------------------------------------------------

DUPLICATES = (
    b'{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"a","name":"a",'
    b'"managedFields":[{"manager":"m","fieldsV1":{"f:data":{},"f:data":{}}}]},'
    b'"bogus":1,"data":{"k":"1","k":"2"},"bogus":2}'
)


def test_duplicates_and_unknowns_in_document_order() -> None:
    obj = orjson.loads(DUPLICATES)
    assert fv.strict_errors(obj, schemas=CORE, root=CONFIGMAP, raw=DUPLICATES) == [
        'duplicate field "metadata.name"',
        'unknown field "bogus"',
        'duplicate field "data.k"',
    ]
    assert fv.strict_errors(obj, schemas=CORE, root=CONFIGMAP) == ['unknown field "bogus"']


def test_duplicate_fields_of_an_untyped_body() -> None:
    assert fv.duplicate_fields(DUPLICATES) == [
        "metadata.name",
        "metadata.managedFields[0].fieldsV1.f:data",
        "data.k",
        "bogus",
    ]
    assert fv.duplicate_fields(b'[{"a":1,"a":2},{"b":[{"c":1,"c":1}]}]') == ["[0].a", "[1].b[0].c"]
    assert fv.duplicate_fields(b'{"a":{"b":1}}') == []
    assert fv.duplicate_fields(b"not json") == []


@pytest.mark.parametrize(
    "raw",
    [
        b'{"metadata":{"annotations":{"x":"{\\"a\\":1}"}},"data":{"k":"1","k":"2"}}',
        b'{"data" :{"k":"1","k" : "2"}}',
        b'{"data":{"k\\\\":"1","k\\\\":"2"}}',
        '{"data":{"k":"é","k":"2"}}',
    ],
)
def test_repeated_keys_are_found_whatever_the_spelling(raw: bytes | str) -> None:
    assert len(fv.duplicate_fields(raw)) == 1
    obj = orjson.loads(raw)
    (error,) = fv.strict_errors(obj, schemas=CORE, root=CONFIGMAP, raw=raw)
    assert error.startswith('duplicate field "data.k')


def test_repeated_keys_inside_opaque_values_are_not_reported() -> None:
    raw_extension = {"$ref": "#/components/schemas/io.k8s.apimachinery.pkg.runtime.RawExtension"}
    schemas = {
        **CORE,
        "x.T": {
            "type": "object",
            "properties": {"raws": {"type": "array", "items": raw_extension}},
        },
    }
    raw = b'{"raws":[{"a":1,"a":2}],"raws":[]}'
    got = fv.strict_errors(orjson.loads(raw), schemas=schemas, root="x.T", raw=raw)
    assert got == ['duplicate field "raws"']


def test_quoted_colons_in_values_are_not_keys() -> None:
    raw = b'{"metadata":{"annotations":{"x":"{\\"a\\":1,\\"a\\":2}"}},"data":{"k":"1"}}'
    assert fv.strict_errors(orjson.loads(raw), schemas=CORE, root=CONFIGMAP, raw=raw) == []


def test_errors_are_deduplicated_and_capped_at_100() -> None:
    obj = configmap(**{f"f{i}": i for i in range(150)})
    got = fv.strict_errors(obj, schemas=CORE, root=CONFIGMAP)
    assert len(got) == 100
    assert got[0] == 'unknown field "f0"'
    assert fv.unknown_fields(configmap(**{'a"b': 1}), schemas=CORE, root=CONFIGMAP) == ['a"b']
    assert fv.strict_errors(configmap(**{'a"b': 1}), schemas=CORE, root=CONFIGMAP) == [
        'unknown field "a\\"b"'
    ]


# --- patches -------------------------------------------------------------------------------------


def test_merge_patch_reports_the_body_duplicates_then_the_patched_unknowns() -> None:
    body = b'{"data":{"a":"1","a":"2"},"bogus":1}'
    patched = configmap(data={"a": "2"}, bogus=1)
    got = fv.patch_strict_errors(
        patched, schemas=CORE, root=CONFIGMAP, patch=body, patch_type=fv.MERGE_PATCH
    )
    assert got == ['duplicate field "data.a"', 'unknown field "bogus"']


def test_json_patch_operations_are_decoded_strictly() -> None:
    body = (
        b'[{"op":"add","path":"/data/x","value":"1","bogus":true},'
        b'{"op":"add","op":"add","path":"/spec","value":{"a":1,"a":2}}]'
    )
    patched = configmap(data={"x": "1"}, spec={"a": 2})
    got = fv.patch_strict_errors(
        patched, schemas=CORE, root=CONFIGMAP, patch=body, patch_type=fv.JSON_PATCH
    )
    assert got == [
        'json patch unknown field "[0].bogus"',
        'json patch duplicate field "[1].op"',
        'json patch duplicate field "[1].value.a"',
        'unknown field "spec"',
    ]


def test_strategic_merge_patch_errors_are_sorted_and_drop_map_keys() -> None:
    body = b'{"zzz":1,"aaa":{"x":1}}'
    patched = configmap(zzz=1, aaa={"x": 1})
    got = fv.patch_strict_errors(
        patched, schemas=CORE, root=CONFIGMAP, patch=body, patch_type=fv.STRATEGIC_PATCH
    )
    assert got == ['unknown field "aaa"', 'unknown field "zzz"']
    obj = crd({"openAPIV3Schema": {"type": "object", "properties": {"s": {"bogus": 1}}}})
    got = fv.patch_strict_errors(
        obj, schemas=APIEXT, root=CRD, patch=b"{}", patch_type=fv.STRATEGIC_PATCH
    )
    assert got == ['unknown field "spec.versions[0].schema.openAPIV3Schema.properties.bogus"']
    value = fv.patch_invalid_value(fv.STRATEGIC_PATCH, patch={"zzz": 1, "aaa": {"x": 1}})
    assert value == "map[aaa:map[x:1] zzz:1]"


# --- directives and outcomes ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, FieldValidation.WARN),
        ("", FieldValidation.WARN),
        ("Strict", FieldValidation.STRICT),
        ("Warn", FieldValidation.WARN),
        ("Ignore", FieldValidation.IGNORE),
    ],
)
def test_parse_directive(value: str | None, expected: FieldValidation) -> None:
    assert fv.parse_directive(value) is expected


@pytest.mark.parametrize(
    ("verb", "kind"),
    [("create", "CreateOptions"), ("update", "UpdateOptions"), ("patch", "PatchOptions")],
)
def test_an_invalid_directive_is_refused_with_422(verb: str, kind: str) -> None:
    with pytest.raises(errors.StatusError) as caught:
        fv.parse_directive("strict", verb=verb)
    err = caught.value
    assert (err.code, err.reason) == (422, "Invalid")
    assert err.message == (
        f'{kind}.meta.k8s.io "" is invalid: fieldValidation: Unsupported value: "strict": '
        'supported values: "", "Ignore", "Strict", "Warn"'
    )
    assert err.details == {
        "group": "meta.k8s.io",
        "kind": kind,
        "causes": [
            {
                "reason": "FieldValueNotSupported",
                "message": 'Unsupported value: "strict": supported values: "", "Ignore", '
                '"Strict", "Warn"',
                "field": "fieldValidation",
            }
        ],
    }


PROBLEMS = ['unknown field "bogus"', 'duplicate field "data.k"']


@pytest.mark.parametrize("verb", ["create", "update"])
def test_strict_create_and_update_answer_400(verb: str) -> None:
    error, warnings = fv.outcome(
        FieldValidation.STRICT, PROBLEMS, kind="ConfigMap", version="v1", verb=verb
    )
    assert warnings == []
    assert error is not None
    assert (error.code, error.reason) == (400, "BadRequest")
    assert error.message == (
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: '
        'unknown field "bogus", duplicate field "data.k"'
    )


def test_strict_patch_answers_422_with_the_patched_object() -> None:
    patched = configmap(bogus=1)
    value = fv.patch_invalid_value(fv.MERGE_PATCH, patched=patched)
    assert value == '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"bogus":1}'
    error, warnings = fv.outcome(
        FieldValidation.STRICT,
        PROBLEMS[:1],
        kind="ConfigMap",
        version="v1",
        verb="patch",
        invalid_value=value,
    )
    assert warnings == []
    assert error is not None
    assert (error.code, error.reason) == (422, "Invalid")
    body = (
        'Invalid value: "{\\"apiVersion\\":\\"v1\\",\\"kind\\":\\"ConfigMap\\",\\"metadata\\":'
        '{\\"name\\":\\"c\\"},\\"bogus\\":1}": strict decoding error: unknown field "bogus"'
    )
    assert error.message == f' "" is invalid: patch: {body}'
    assert error.details == {
        "causes": [{"reason": "FieldValueInvalid", "message": body, "field": "patch"}]
    }


def test_warn_gives_one_warning_per_problem_and_ignore_nothing() -> None:
    for verb in ("create", "update", "patch"):
        assert fv.outcome(
            FieldValidation.WARN, PROBLEMS, kind="ConfigMap", version="v1", verb=verb
        ) == (None, PROBLEMS)
        assert fv.outcome(
            FieldValidation.IGNORE, PROBLEMS, kind="ConfigMap", version="v1", verb=verb
        ) == (None, [])
        assert fv.outcome(
            FieldValidation.STRICT, [], kind="ConfigMap", version="v1", verb=verb
        ) == (None, [])


def test_warning_header_values() -> None:
    assert fv.warning_header('unknown field "spec.foo"') == '299 - "unknown field \\"spec.foo\\""'
    assert fv.warning_header("a\\b") == '299 - "a\\\\b"'
    assert fv.warning_header("line\nbreak") is None
