"""Fields of the wrong JSON type are refused in the words of the apiserver's Go decoders.

Cases restate Go's ``encoding/json`` (as forked in ``sigs.k8s.io/json``: ``UnmarshalTypeError``
with the struct holding the last field and the struct fields from the root, ``base64`` errors
for ``[]byte``, custom ``UnmarshalJSON`` errors stopping the decoder) and
``runtime.DefaultUnstructuredConverter.FromUnstructured`` (``converter.go``), against the
bundled OpenAPI schemas of the built-in kinds.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from kcp_edge.apimachinery.godecode import (
    QUANTITY_FORMAT_WRONG,
    base64_error,
    convert_error,
    decode_error,
)
from kcp_edge.registry.openapi_data import component_schemas

CORE = component_schemas(group="", version="v1")
COORDINATION = component_schemas(group="coordination.k8s.io", version="v1")
RBAC = component_schemas(group="rbac.authorization.k8s.io", version="v1")
APIEXT = component_schemas(group="apiextensions.k8s.io", version="v1")
CONFIGMAP = "io.k8s.api.core.v1.ConfigMap"
POD = "io.k8s.api.core.v1.Pod"
LEASE = "io.k8s.api.coordination.v1.Lease"
ROLE = "io.k8s.api.rbac.v1.Role"
CRD = "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition"


def configmap(**extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, **extra}


def pod_container(**fields: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Pod", "spec": {"containers": [{"name": "a", **fields}]}}


def unmarshal(what: str, field: str, go: str) -> str:
    return f"json: cannot unmarshal {what} into Go struct field {field} of type {go}"


def test_a_well_typed_object_decodes() -> None:
    obj = configmap(
        data={"k": "v", "n": None},
        binaryData={"b": "aGVsbG8=", "e": ""},
        immutable=False,
        metadata={"name": "c", "labels": {"a": "b"}, "creationTimestamp": None},
    )
    assert decode_error(obj, schemas=CORE, root=CONFIGMAP) is None
    assert convert_error(obj, schemas=CORE, root=CONFIGMAP) is None


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"data": {"k": 1}}, unmarshal("number", "ConfigMap.data", "string")),
        ({"data": ["k"]}, unmarshal("array", "ConfigMap.data", "map[string]string")),
        ({"immutable": "yes"}, unmarshal("string", "ConfigMap.immutable", "bool")),
        ({"binaryData": {"k": "!!"}}, "illegal base64 data at input byte 0"),
        ({"binaryData": {"k": 5}}, unmarshal("number", "ConfigMap.binaryData", "[]uint8")),
        ({"metadata": "x"}, unmarshal("string", "ConfigMap.metadata", "v1.ObjectMeta")),
        ({"metadata": {"name": 5}}, unmarshal("number", "ObjectMeta.metadata.name", "string")),
        (
            {"metadata": {"labels": ["a"]}},
            unmarshal("array", "ObjectMeta.metadata.labels", "map[string]string"),
        ),
        (
            {"metadata": {"labels": {"a": True}}},
            unmarshal("bool", "ObjectMeta.metadata.labels", "string"),
        ),
        (
            {"metadata": {"finalizers": "x"}},
            unmarshal("string", "ObjectMeta.metadata.finalizers", "[]string"),
        ),
        (
            {"metadata": {"ownerReferences": [{"controller": "yes"}]}},
            unmarshal("string", "OwnerReference.metadata.ownerReferences.controller", "bool"),
        ),
    ],
    ids=[
        "map-value",
        "map-as-list",
        "pointer-bool",
        "base64",
        "bytes-number",
        "struct-as-string",
        "meta-string",
        "labels-list",
        "label-value",
        "finalizers",
        "nested-struct-in-list",
    ],
)
def test_configmap_type_errors(extra: dict[str, Any], message: str) -> None:
    assert decode_error(configmap(**extra), schemas=CORE, root=CONFIGMAP) == message


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"leaseDurationSeconds": "x"},
            unmarshal("string", "LeaseSpec.spec.leaseDurationSeconds", "int32"),
        ),
        (
            {"leaseDurationSeconds": 1.5},
            unmarshal("number 1.5", "LeaseSpec.spec.leaseDurationSeconds", "int32"),
        ),
        (
            {"leaseDurationSeconds": 2**31},
            unmarshal("number 2147483648", "LeaseSpec.spec.leaseDurationSeconds", "int32"),
        ),
        ({"leaseTransitions": True}, unmarshal("bool", "LeaseSpec.spec.leaseTransitions", "int32")),
        ({"acquireTime": 5}, unmarshal("number", "LeaseSpec.spec.acquireTime", "string")),
    ],
    ids=["string-int", "fraction", "overflow", "bool-int", "microtime"],
)
def test_lease_type_errors(spec: dict[str, Any], message: str) -> None:
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease", "spec": spec}
    assert decode_error(lease, schemas=COORDINATION, root=LEASE) == message


def test_a_list_of_structs_names_the_element_type() -> None:
    role: dict[str, Any] = {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "rules": "x",
    }
    assert decode_error(role, schemas=RBAC, root=ROLE) == unmarshal(
        "string", "Role.rules", "[]v1.PolicyRule"
    )
    role["rules"] = [{"verbs": ["get"]}, {"verbs": "get"}]
    assert decode_error(role, schemas=RBAC, root=ROLE) == unmarshal(
        "string", "PolicyRule.rules.verbs", "[]string"
    )


def test_paths_name_struct_fields_only() -> None:
    pod = pod_container(ports=[{"containerPort": "80"}])
    assert decode_error(pod, schemas=CORE, root=POD) == unmarshal(
        "string", "ContainerPort.spec.containers.ports.containerPort", "int32"
    )
    pod = pod_container(resources={"limits": "x"})
    assert decode_error(pod, schemas=CORE, root=POD) == unmarshal(
        "string",
        "ResourceRequirements.spec.containers.resources.limits",
        "map[string]resource.Quantity",
    )


def test_the_first_saved_error_wins() -> None:
    obj = configmap(immutable="yes", data={"k": 1})
    assert decode_error(obj, schemas=CORE, root=CONFIGMAP) == unmarshal(
        "string", "ConfigMap.immutable", "bool"
    )


def test_a_custom_decoder_stops_the_decoder_and_its_error_wins() -> None:
    obj = configmap(data={"k": 1}, metadata={"name": "c", "creationTimestamp": True})
    assert decode_error(obj, schemas=CORE, root=CONFIGMAP) == unmarshal(
        "bool", "ObjectMeta.metadata.creationTimestamp", "string"
    )


@pytest.mark.parametrize(
    ("port", "message"),
    [
        ("http", None),
        (8080, None),
        (None, None),
        (
            True,
            unmarshal("bool", "HTTPGetAction.spec.containers.livenessProbe.httpGet.port", "int32"),
        ),
        (
            1.5,
            unmarshal(
                "number 1.5", "HTTPGetAction.spec.containers.livenessProbe.httpGet.port", "int32"
            ),
        ),
        (
            {},
            unmarshal(
                "object", "HTTPGetAction.spec.containers.livenessProbe.httpGet.port", "int32"
            ),
        ),
    ],
    ids=["string", "int", "null", "bool", "fraction", "object"],
)
def test_int_or_string(port: Any, message: str | None) -> None:
    pod = pod_container(livenessProbe={"httpGet": {"port": port}})
    assert decode_error(pod, schemas=CORE, root=POD) == message


@pytest.mark.parametrize(("cpu", "fails"), [("100m", False), (2, False), (True, True), ([], True)])
def test_a_quantity_must_be_a_string_or_a_number(cpu: Any, fails: bool) -> None:
    pod = pod_container(resources={"limits": {"cpu": cpu}})
    expected = QUANTITY_FORMAT_WRONG if fails else None
    assert decode_error(pod, schemas=CORE, root=POD) == expected
    assert convert_error(pod, schemas=CORE, root=POD) == expected


def test_opaque_fields_are_not_looked_into() -> None:
    obj = configmap(metadata={"name": "c", "managedFields": [{"fieldsV1": {"f:x": 5}}]})
    assert decode_error(obj, schemas=CORE, root=CONFIGMAP) is None
    schema: dict[str, Any] = {"default": 5, "items": True, "type": "object"}
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "spec": {"versions": [{"schema": {"openAPIV3Schema": schema}}]},
    }
    assert decode_error(crd, schemas=APIEXT, root=CRD) is None
    schema["type"] = 5
    assert decode_error(crd, schemas=APIEXT, root=CRD) == unmarshal(
        "number", "JSONSchemaProps.spec.versions.schema.openAPIV3Schema.type", "string"
    )


def test_bytes_accept_an_array_of_small_numbers() -> None:
    assert decode_error(configmap(binaryData={"k": [1, 255]}), schemas=CORE, root=CONFIGMAP) is None
    assert decode_error(
        configmap(binaryData={"k": [1, 256]}), schemas=CORE, root=CONFIGMAP
    ) == unmarshal("number 256", "ConfigMap.binaryData", "uint8")


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("", None),
        ("aGVsbG8=", None),
        ("aGVs\nbG8=\r\n", None),
        ("aGVsbA==", None),
        ("!!", 0),
        ("QQ", 0),
        ("QQ=", 3),
        ("Q===", 1),
        ("QUFB====", 4),
        ("QQ==x", 4),
        ("a b", 1),
        ("aGVsbG8", 4),
    ],
)
def test_base64_errors_are_gos(text: str, bad: int | None) -> None:
    expected = None if bad is None else f"illegal base64 data at input byte {bad}"
    assert base64_error(text) == expected


# --- the unstructured converter (strategic merge patch results) ---------------------------------


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"data": {"k": 1}}, "cannot convert int64 to string"),
        ({"data": {"k": 1.5}}, "unrecognized type: string"),
        ({"data": {"k": True}}, "unrecognized type: string"),
        ({"data": ["k"]}, "cannot restore map from slice"),
        ({"immutable": "yes"}, "unrecognized type: bool"),
        ({"metadata": "x"}, "cannot restore struct from: string"),
        ({"metadata": {"finalizers": "x"}}, "cannot restore slice from string"),
        (
            {"binaryData": {"k": "!!"}},
            "error decoding from json: illegal base64 data at input byte 0",
        ),
        ({"binaryData": {"k": {}}}, "cannot restore slice from map"),
        (
            {"metadata": {"creationTimestamp": 5}},
            "json: cannot unmarshal number into Go value of type string",
        ),
    ],
)
def test_converter_errors(extra: dict[str, Any], message: str) -> None:
    assert convert_error(configmap(**extra), schemas=CORE, root=CONFIGMAP) == message


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (3, None),
        (3.0, None),
        (2**40, None),
        (1.5, "cannot convert float64 to int32"),
        ("3", "unrecognized type: int32"),
    ],
)
def test_converter_integers(value: Any, message: str | None) -> None:
    lease = {"spec": {"leaseDurationSeconds": value}}
    assert convert_error(lease, schemas=COORDINATION, root=LEASE) == message


@pytest.mark.parametrize(
    ("port", "message"),
    [
        (2.0, None),
        (1.5, "json: cannot unmarshal number 1.5 into Go value of type int32"),
        (False, "json: cannot unmarshal bool into Go value of type int32"),
    ],
)
def test_converter_int_or_string(port: Any, message: str | None) -> None:
    pod = pod_container(livenessProbe={"httpGet": {"port": port}})
    assert convert_error(pod, schemas=CORE, root=POD) == message


def test_a_configmap_check_stays_cheap() -> None:
    obj = configmap(
        data={f"key{i}": "value" for i in range(20)}, metadata={"name": "c", "labels": {"a": "b"}}
    )
    decode_error(obj, schemas=CORE, root=CONFIGMAP)
    start = time.perf_counter()
    for _ in range(2000):
        assert decode_error(obj, schemas=CORE, root=CONFIGMAP) is None
    per_check = (time.perf_counter() - start) / 2000
    assert per_check < 100e-6
