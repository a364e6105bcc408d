"""The swagger 2.0 document: v3 to v2 conversion, the gnostic protobuf form, serving rules.

The protobuf form is read back with a decoder written here from gnostic's
``openapiv2/OpenAPIv2.proto`` field numbers (independently of the encoder's tables), and must
give back exactly the JSON form of the same document.
"""

from __future__ import annotations

import copy
import struct
from typing import Any

import orjson
import pytest

from kcp_edge.apimachinery import openapiv2
from kcp_edge.apimachinery.openapi import JSON, content_hash
from kcp_edge.apimachinery.protobuf_wire import read_length, read_varint
from kcp_edge.registry.builtin import BUILTIN_KINDS
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.openapi_data import bundled_documents

V3 = "#/components/schemas/"


def v3_document(schemas: dict[str, Any]) -> dict[str, Any]:
    return {"components": {"schemas": schemas}}


# --- v3 to v2 -----------------------------------------------------------------------------------


def test_a_single_ref_in_all_of_becomes_the_ref_with_its_siblings() -> None:
    schema = {"allOf": [{"$ref": V3 + "io.k8s.ObjectMeta"}], "default": {}, "description": "m"}
    assert openapiv2.to_v2_schema(schema) == {
        "$ref": "#/definitions/io.k8s.ObjectMeta",
        "default": {},
        "description": "m",
    }


def test_refs_are_rewritten_everywhere() -> None:
    schema = {
        "type": "object",
        "properties": {
            "items": {"type": "array", "items": {"$ref": V3 + "A"}},
            "labels": {"type": "object", "additionalProperties": {"$ref": V3 + "B"}},
        },
    }
    out = openapiv2.to_v2_schema(schema)
    assert out["properties"]["items"]["items"] == {"$ref": "#/definitions/A"}
    assert out["properties"]["labels"]["additionalProperties"] == {"$ref": "#/definitions/B"}


def test_primitive_unions_are_strings_as_upstreams_v2() -> None:
    int_or_string = {"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]}
    quantity = {"oneOf": [{"type": "string"}, {"type": "number"}]}
    assert openapiv2.to_v2_schema(int_or_string) == {"format": "int-or-string", "type": "string"}
    assert openapiv2.to_v2_schema(quantity) == {"type": "string"}
    assert openapiv2.to_v2_schema({"anyOf": [{"type": "integer"}, {"type": "boolean"}]}) == {}


def test_what_swagger_2_cannot_carry_is_dropped() -> None:
    schema = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "allOf": [{"required": ["a"]}, {"required": ["b"]}],
        "not": {"required": ["c"]},
        "discriminator": {"propertyName": "a"},
        "writeOnly": True,
        "deprecated": True,
        "x-kubernetes-map-type": "atomic",
    }
    assert openapiv2.to_v2_schema(schema) == {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "x-kubernetes-map-type": "atomic",
    }


def test_nullable_values_are_untyped_and_not_required() -> None:
    schema = {
        "type": "object",
        "required": ["a", "b"],
        "properties": {
            "a": {"type": "object", "nullable": True, "properties": {"x": {"type": "string"}}},
            "b": {"type": "string"},
        },
    }
    assert openapiv2.to_v2_schema(schema) == {
        "type": "object",
        "required": ["b"],
        "properties": {"a": {}, "b": {"type": "string"}},
    }


def test_preserved_unknown_fields_and_item_less_arrays_are_untyped() -> None:
    free = {
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": True,
        "properties": {"x": {"type": "string"}},
    }
    assert openapiv2.to_v2_schema(free) == {"x-kubernetes-preserve-unknown-fields": True}
    assert openapiv2.to_v2_schema({"type": "array"}) == {}


def test_vendor_extensions_and_values_stay() -> None:
    schema = {
        "type": "array",
        "items": {"type": "string", "default": ""},
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        "x-kubernetes-patch-strategy": "merge",
        "x-kubernetes-patch-merge-key": "name",
        "enum": ["a", "b"],
        "maxItems": 3,
    }
    assert openapiv2.to_v2_schema(schema) == schema


def test_the_input_is_not_changed() -> None:
    schema = {
        "type": "object",
        "required": ["a"],
        "properties": {"a": {"nullable": True, "allOf": [{"$ref": V3 + "A"}]}},
    }
    before = copy.deepcopy(schema)
    openapiv2.to_v2_schema(schema)
    assert schema == before


def test_definitions_keep_the_first_schema_of_a_name() -> None:
    first = v3_document({"A": {"type": "string"}, "B": {"type": "integer"}})
    second = v3_document({"A": {"type": "boolean"}, "C": {"type": "number"}})
    assert openapiv2.definitions([first, second]) == {
        "A": {"type": "string"},
        "B": {"type": "integer"},
        "C": {"type": "number"},
    }


def test_the_built_in_document_is_what_kubectl_can_parse() -> None:
    """kube-openapi's ``proto.NewOpenAPIData`` refuses dangling refs, a ref with a type or
    properties, arrays without exactly one item schema and unknown primitive types."""
    document = swagger_of(BUILTIN_KINDS)
    definitions = document["definitions"]
    assert document["swagger"] == "2.0"
    assert document["info"] == {"title": "Kubernetes", "version": "v9.9.9"}
    assert document["paths"] == {}
    problems = [
        problem
        for name, schema in definitions.items()
        for problem in kube_openapi_problems(schema, name, definitions)
    ]
    assert problems == []
    config_map = definitions["io.k8s.api.core.v1.ConfigMap"]
    assert config_map["x-kubernetes-group-version-kind"] == [
        {"group": "", "kind": "ConfigMap", "version": "v1"}
    ]
    assert config_map["properties"]["metadata"] == {
        "$ref": "#/definitions/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
        "default": {},
    }
    assert definitions["io.k8s.apimachinery.pkg.api.resource.Quantity"] == {"type": "string"}
    meta = definitions["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]
    assert meta["ownerReferences"]["x-kubernetes-patch-merge-key"] == "uid"
    assert meta["ownerReferences"]["x-kubernetes-patch-strategy"] == "merge"


def kube_openapi_problems(schema: Any, path: str, definitions: dict[str, Any]) -> list[str]:
    out = []
    if "$ref" in schema:
        name = schema["$ref"].removeprefix("#/definitions/")
        if not schema["$ref"].startswith("#/definitions/") or name not in definitions:
            out.append(f"{path}: dangling {schema['$ref']}")
        if "type" in schema or "properties" in schema:
            out.append(f"{path}: a reference with a type")
        return out
    kind = schema.get("type")
    if kind == "array" and not isinstance(schema.get("items"), dict):
        out.append(f"{path}: array without items")
    if kind not in (None, "object", "array", "string", "integer", "number", "boolean"):
        out.append(f"{path}: type {kind!r}")
    for key in ("allOf", "oneOf", "anyOf", "not", "nullable"):
        if key in schema:
            out.append(f"{path}: {key}")
    for name, sub in schema.get("properties", {}).items():
        out += kube_openapi_problems(sub, f"{path}.{name}", definitions)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            out += kube_openapi_problems(schema[key], f"{path}.{key}", definitions)
    return out


# --- memoisation --------------------------------------------------------------------------------


def swagger_documents() -> openapiv2.SwaggerDocuments:
    return openapiv2.SwaggerDocuments(documents=bundled_documents(), version="v9.9.9")


def swagger_of(kinds: tuple[ResourceKind, ...]) -> dict[str, Any]:
    result: dict[str, Any] = orjson.loads(swagger_documents().document(kinds=kinds).json)
    return result


def test_one_document_per_set_of_served_resources() -> None:
    documents = swagger_documents()
    config_maps = tuple(k for k in BUILTIN_KINDS if k.resource == "configmaps")
    first = documents.document(kinds=BUILTIN_KINDS)
    assert documents.document(kinds=list(reversed(BUILTIN_KINDS))) is first
    smaller = documents.document(kinds=config_maps)
    assert smaller is not first
    assert smaller.hash != first.hash
    names = set(orjson.loads(smaller.json)["definitions"])
    assert "io.k8s.api.core.v1.ConfigMap" in names
    assert "io.k8s.api.core.v1.Secret" not in names
    assert "io.k8s.api.rbac.v1.Role" not in names


def test_kinds_without_a_bundled_document_add_nothing() -> None:
    documents = swagger_documents()
    widgets = ResourceKind(
        group="example.com", version="v1", resource="widgets", singular="widget", kind="Widget",
        namespaced=True,
    )  # fmt: skip
    assert documents.document(kinds=(*BUILTIN_KINDS, widgets)) is documents.document(
        kinds=BUILTIN_KINDS
    )


def test_both_forms_share_the_hash_of_the_json() -> None:
    document = swagger_documents().document(kinds=BUILTIN_KINDS)
    assert document.hash == content_hash(document.json)
    assert document.json == orjson.dumps(orjson.loads(document.json), option=orjson.OPT_SORT_KEYS)


# --- the protobuf form, read back ---------------------------------------------------------------

# Field numbers of gnostic's openapiv2/OpenAPIv2.proto: message -> number -> (name, type).
# Types: "string", "bool", "int64", "double", "any", a message name; "[]" marks repeated.
PROTO: dict[str, dict[int, tuple[str, str]]] = {
    "Document": {
        1: ("swagger", "string"),
        2: ("info", "Info"),
        8: ("paths", "Paths"),
        9: ("definitions", "Definitions"),
    },
    "Info": {1: ("title", "string"), 2: ("version", "string")},
    "Paths": {1: ("vendor_extension", "[]NamedAny"), 2: ("path", "[]NamedPathItem")},
    "Definitions": {1: ("additional_properties", "[]NamedSchema")},
    "NamedSchema": {1: ("name", "string"), 2: ("value", "Schema")},
    "NamedAny": {1: ("name", "string"), 2: ("value", "Any")},
    "Any": {1: ("value", "bytes"), 2: ("yaml", "string")},
    "TypeItem": {1: ("value", "[]string")},
    "ItemsItem": {1: ("schema", "[]Schema")},
    "Properties": {1: ("additional_properties", "[]NamedSchema")},
    "AdditionalPropertiesItem": {1: ("schema", "Schema"), 2: ("boolean", "bool")},
    "Schema": {
        1: ("$ref", "string"),
        2: ("format", "string"),
        3: ("title", "string"),
        4: ("description", "string"),
        5: ("default", "Any"),
        6: ("multipleOf", "double"),
        7: ("maximum", "double"),
        8: ("exclusiveMaximum", "bool"),
        9: ("minimum", "double"),
        10: ("exclusiveMinimum", "bool"),
        11: ("maxLength", "int64"),
        12: ("minLength", "int64"),
        13: ("pattern", "string"),
        14: ("maxItems", "int64"),
        15: ("minItems", "int64"),
        16: ("uniqueItems", "bool"),
        17: ("maxProperties", "int64"),
        18: ("minProperties", "int64"),
        19: ("required", "[]string"),
        20: ("enum", "[]Any"),
        21: ("additionalProperties", "AdditionalPropertiesItem"),
        22: ("type", "TypeItem"),
        23: ("items", "ItemsItem"),
        24: ("allOf", "[]Schema"),
        25: ("properties", "Properties"),
        26: ("discriminator", "string"),
        27: ("readOnly", "bool"),
        30: ("example", "Any"),
        31: ("vendor_extension", "[]NamedAny"),
    },
}


def decode(buf: bytes, message: str) -> dict[str, Any]:
    """A message as {field name: value}, repeated fields as lists, in wire order."""
    fields = PROTO[message]
    out: dict[str, Any] = {}
    pos, end = 0, len(buf)
    numbers = []
    while pos < end:
        tag, pos = read_varint(buf, pos, end)
        number, wire_type = tag >> 3, tag & 7
        numbers.append(number)
        name, kind = fields[number]
        repeated = kind.startswith("[]")
        kind = kind.removeprefix("[]")
        value: Any
        if wire_type == 0:
            raw, pos = read_varint(buf, pos, end)
            value = bool(raw) if kind == "bool" else raw
            assert kind in ("bool", "int64"), (message, name)
        elif wire_type == 1:
            (value,) = struct.unpack_from("<d", buf, pos)
            pos += 8
            assert kind == "double", (message, name)
        else:
            assert wire_type == 2, (message, name)
            start, pos = read_length(buf, pos, end)
            chunk = buf[start:pos]
            value = chunk.decode() if kind == "string" else chunk
            if kind in PROTO:
                value = decode(chunk, kind)
        if repeated:
            out.setdefault(name, []).append(value)
        else:
            assert name not in out, (message, name)
            out[name] = value
    assert numbers == sorted(numbers), f"{message} fields out of order: {numbers}"
    return out


def yaml_value(any_message: dict[str, Any]) -> Any:
    # The encoder writes JSON text (a YAML subset); Go's YAML decoder reads it the same way.
    return orjson.loads(any_message["yaml"])


def schema_from_proto(message: dict[str, Any]) -> dict[str, Any]:
    """A decoded ``Schema`` back to its swagger 2.0 JSON shape."""
    out: dict[str, Any] = {}
    for name, value in message.items():
        if name in ("default", "example"):
            out[name] = yaml_value(value)
        elif name == "enum":
            out[name] = [yaml_value(v) for v in value]
        elif name == "type":
            types = value.get("value", [])
            out[name] = types[0] if len(types) == 1 else types
        elif name == "items":
            (only,) = value["schema"]
            out[name] = schema_from_proto(only)
        elif name == "properties":
            entries = value.get("additional_properties", [])
            out[name] = {e["name"]: schema_from_proto(e.get("value", {})) for e in entries}
        elif name == "additionalProperties":
            inner = value.get("schema")
            out[name] = schema_from_proto(inner) if inner is not None else value["boolean"]
        elif name == "vendor_extension":
            out.update({e["name"]: yaml_value(e["value"]) for e in value})
        else:
            out[name] = value
    return out


def document_from_proto(body: bytes) -> dict[str, Any]:
    message = decode(body, "Document")
    entries = message["definitions"]["additional_properties"]
    names = [e["name"] for e in entries]
    assert names == sorted(names)
    assert message["paths"] == {}
    return {
        "swagger": message["swagger"],
        "info": message["info"],
        "paths": {},
        "definitions": {e["name"]: schema_from_proto(e.get("value", {})) for e in entries},
    }


def test_the_protobuf_form_reads_back_as_the_json_form() -> None:
    document = swagger_documents().document(kinds=BUILTIN_KINDS)
    assert document_from_proto(document.protobuf) == orjson.loads(document.json)


def test_every_schema_field_reads_back() -> None:
    schema = {
        "$ref": "#/definitions/A",
        "format": "int32",
        "title": "t",
        "description": "d\u00e9",
        "default": {"a": [1, "x", None, True]},
        "multipleOf": 0.5,
        "maximum": 10.0,
        "exclusiveMaximum": True,
        "minimum": -3.25,
        "exclusiveMinimum": True,
        "maxLength": 9,
        "minLength": 1,
        "pattern": "^a$",
        "maxItems": 4,
        "minItems": 2,
        "uniqueItems": True,
        "maxProperties": 7,
        "minProperties": 1,
        "required": ["a", ""],
        "enum": ["yes", 1, {"k": "v"}],
        "additionalProperties": {"type": "integer"},
        "type": "object",
        "items": {"type": "string"},
        "properties": {"b": {"type": "boolean"}, "a": {}},
        "readOnly": True,
        "example": "no",
        "x-kubernetes-group-version-kind": [{"group": "", "kind": "K", "version": "v1"}],
        "x-kubernetes-patch-strategy": "merge,retainKeys",
    }
    assert schema_from_proto(decode(openapiv2.encode_schema(schema), "Schema")) == schema


def test_zero_scalars_are_left_out_but_a_false_oneof_is_written() -> None:
    schema = {"minLength": 0, "uniqueItems": False, "pattern": "", "additionalProperties": False}
    decoded = decode(openapiv2.encode_schema(schema), "Schema")
    assert decoded == {"additionalProperties": {"boolean": False}}
    assert openapiv2.encode_schema({"additionalProperties": False}) == b"\xaa\x01\x02\x10\x00"


def test_presence_of_empty_messages_is_kept() -> None:
    """``properties: {}`` makes kube-openapi read a kind without fields, not a free map."""
    assert decode(openapiv2.encode_schema({"properties": {}}), "Schema") == {"properties": {}}
    assert openapiv2.encode_schema({}) == b""


def test_negative_and_large_integers() -> None:
    decoded = decode(openapiv2.encode_schema({"minLength": -1, "maxLength": 2**40}), "Schema")
    assert decoded == {"maxLength": 2**40, "minLength": 2**64 - 1}  # int64 -1 on the wire


# --- serving rules ------------------------------------------------------------------------------

KUBECTL_ACCEPT = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"


@pytest.mark.parametrize(
    ("accept", "media"),
    [
        (None, JSON),
        ("", JSON),
        ("*/*", JSON),
        ("*", JSON),
        ("application/*", JSON),
        ("application/json", JSON),
        (KUBECTL_ACCEPT, openapiv2.PROTOBUF),
        ("application/com.github.proto-openapi.spec.v2.v1.0+protobuf", openapiv2.PROTOBUF),
        (f"application/json;q=0.5, {KUBECTL_ACCEPT}", openapiv2.PROTOBUF),
        (f"{KUBECTL_ACCEPT};q=0.2, */*;q=0.9", JSON),
        (f"*/*, {KUBECTL_ACCEPT}", openapiv2.PROTOBUF),
        ("text/plain", None),
        ("application/yaml, text/*", None),
        ("application/vnd.kubernetes.protobuf", None),
    ],
)
def test_negotiation(accept: str | None, media: str | None) -> None:
    assert openapiv2.negotiate(accept) == media


def served() -> openapiv2.SwaggerDocument:
    return swagger_documents().document(kinds=BUILTIN_KINDS)


def test_protobuf_and_json_answers() -> None:
    document = served()
    etag = f'"{document.hash}"'
    answer = openapiv2.serve_swagger(document, accept=KUBECTL_ACCEPT, if_none_match=None)
    assert answer.status == 200
    assert dict(answer.headers) == {
        "Content-Type": "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
        "Vary": "Accept",
        "Etag": etag,
        "Cache-Control": "no-cache, private",
    }
    assert answer.body == document.protobuf
    answer = openapiv2.serve_swagger(document, accept=None, if_none_match=None)
    assert dict(answer.headers)["Content-Type"] == "application/json"
    assert dict(answer.headers)["Etag"] == etag
    assert answer.body == document.json


@pytest.mark.parametrize("tag", ["{etag}", "W/{etag}", '"other", {etag}', "*"])
def test_a_matching_if_none_match_is_304(tag: str) -> None:
    document = served()
    etag = f'"{document.hash}"'
    answer = openapiv2.serve_swagger(
        document, accept=KUBECTL_ACCEPT, if_none_match=tag.format(etag=etag)
    )
    assert answer.status == 304
    assert answer.body == b""
    assert dict(answer.headers) == {
        "Vary": "Accept",
        "Etag": etag,
        "Cache-Control": "no-cache, private",
    }


def test_another_etag_gets_the_document() -> None:
    answer = openapiv2.serve_swagger(served(), accept=None, if_none_match='"ABC"')
    assert answer.status == 200


def test_an_unacceptable_form_is_406() -> None:
    answer = openapiv2.serve_swagger(served(), accept="text/plain", if_none_match=None)
    assert answer == (406, (("Vary", "Accept"), ("Cache-Control", "no-cache, private")), b"")
