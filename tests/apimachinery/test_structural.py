"""Structural CRD schemas: refusal, defaulting, pruning and validation with upstream's words."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import orjson
import pytest

from kcp_edge.apimachinery import schemaformats
from kcp_edge.apimachinery.structural import (
    CEL_REFUSED,
    CompiledSchema,
    SchemaError,
    SchemaNode,
    check_structural,
)

ROOT = "spec.versions[0].schema.openAPIV3Schema"


def refusals(schema: dict[str, Any]) -> list[str]:
    """Each cause as kubectl prints it: ``<field>: <message>``."""
    return [f"{c['field']}: {c['message']}" for c in check_structural(schema, field_path=ROOT)]


def with_spec(spec: dict[str, Any]) -> dict[str, Any]:
    return {"type": "object", "properties": {"spec": spec}}


def errors(spec_schema: dict[str, Any], spec: Any) -> list[str]:
    compiled = CompiledSchema.compile(with_spec(spec_schema))
    return [f"{c['field']}: {c['message']}" for c in compiled.validate({"spec": spec})]


# --- check_structural -------------------------------------------------------------------------


def test_a_typed_schema_is_structural() -> None:
    schema = with_spec({"type": "object", "properties": {"size": {"type": "integer"}}})
    assert check_structural(schema, field_path=ROOT) == []


def test_a_property_without_type_is_refused_with_the_wire_cause() -> None:
    causes = check_structural(with_spec({"properties": {}}), field_path=ROOT)
    assert causes == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: must not be empty for specified object fields",
            "field": f"{ROOT}.properties[spec].type",
        }
    ]


def test_types_at_the_root_and_in_items() -> None:
    assert refusals({"properties": {}}) == [
        f"{ROOT}.type: Required value: must not be empty at the root"
    ]
    assert refusals({"type": "string"}) == [
        f'{ROOT}.type: Invalid value: "string": must be object at the root'
    ]
    assert refusals(with_spec({"type": "array"})) == [
        f"{ROOT}.properties[spec].items: Required value: must be specified"
    ]
    assert refusals(with_spec({"type": "array", "items": {}})) == [
        f"{ROOT}.properties[spec].items.type: Required value: must not be empty for specified "
        "array items"
    ]


def test_int_or_string_and_preserve_unknown_fields_stand_in_for_type() -> None:
    schema = with_spec(
        {
            "type": "object",
            "properties": {
                "port": {"x-kubernetes-int-or-string": True},
                "any": {"x-kubernetes-preserve-unknown-fields": True},
            },
        }
    )
    assert refusals(schema) == []


def test_int_or_string_excludes_the_other_markers() -> None:
    schema = with_spec(
        {"x-kubernetes-int-or-string": True, "x-kubernetes-preserve-unknown-fields": True}
    )
    assert refusals(schema) == [
        f"{ROOT}.properties[spec].x-kubernetes-preserve-unknown-fields: Invalid value: true: "
        "must be false if x-kubernetes-int-or-string is true"
    ]


def test_the_int_or_string_any_of_pattern_may_carry_types() -> None:
    port = {
        "x-kubernetes-int-or-string": True,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "pattern": "^[0-9]+%?$",
    }
    assert refusals(with_spec(port)) == []


def test_properties_with_additional_properties_and_root_additional_properties() -> None:
    both = with_spec(
        {
            "type": "object",
            "properties": {"a": {"type": "string"}},
            "additionalProperties": {"type": "string"},
        }
    )
    assert refusals(both) == [
        f"{ROOT}.properties[spec].additionalProperties: Forbidden: additionalProperties and "
        "properties are mutual exclusive"
    ]
    root = {"type": "object", "additionalProperties": {"type": "string"}}
    assert refusals(root) == [
        f"{ROOT}.additionalProperties: Forbidden: must not be used at the root"
    ]


def test_metadata_may_only_constrain_name_and_generate_name() -> None:
    fine: dict[str, Any] = {
        "type": "object",
        "properties": {
            "metadata": {
                "type": "object",
                "properties": {"name": {"type": "string", "maxLength": 10}},
            }
        },
    }
    assert refusals(fine) == []
    labels = copy.deepcopy(fine)
    labels["properties"]["metadata"]["properties"]["labels"] = {"type": "object"}
    assert refusals(labels) == [
        f"{ROOT}.properties[metadata]: Forbidden: must not specify anything other than name and "
        "generateName, but metadata is implicitly specified"
    ]
    assert refusals({"type": "object", "properties": {"metadata": {"type": "string"}}}) == [
        f'{ROOT}.properties[metadata].type: Invalid value: "string": must be object'
    ]


def test_value_validations_may_not_specify_structure() -> None:
    spec = {
        "type": "object",
        "properties": {"a": {"type": "string"}},
        "anyOf": [
            {
                "type": "object",
                "default": {},
                "nullable": True,
                "additionalProperties": True,
                "x-kubernetes-map-type": "atomic",
                "properties": {"a": {"minLength": 1}},
            }
        ],
    }
    path = f"{ROOT}.properties[spec].anyOf[0]"
    assert refusals(with_spec(spec)) == [
        f"{path}.additionalProperties: Forbidden: must be undefined to be structural",
        f"{path}.default: Forbidden: must be undefined to be structural",
        f"{path}.nullable: Forbidden: must be false to be structural",
        f"{path}.type: Forbidden: must be empty to be structural",
        f"{path}.x-kubernetes-map-type: Forbidden: must be undefined to be structural",
    ]


def test_root_value_validations_must_name_specified_fields() -> None:
    schema = {
        "type": "object",
        "properties": {"spec": {"type": "object"}},
        "oneOf": [{"required": ["spec"]}, {"properties": {"status": {}}}],
    }
    assert refusals(schema) == [
        f"{ROOT}.properties[status]: Required value: because it is defined in "
        f"{ROOT}.oneOf[1].properties[status]"
    ]
    nested = {
        "type": "object",
        "properties": {"spec": {"type": "object"}},
        "allOf": [{"properties": {"spec": {"properties": {"metadata": {}}}}}],
    }
    assert refusals(nested) == [
        f"{ROOT}.allOf[0].properties[spec].properties[metadata]: Forbidden: must not be "
        "specified in a nested context",
        f"{ROOT}.properties[spec].properties[metadata]: Required value: because it is defined "
        f"in {ROOT}.allOf[0].properties[spec].properties[metadata]",
    ]


def test_embedded_resources_need_an_object_type_with_properties() -> None:
    assert refusals(with_spec({"x-kubernetes-embedded-resource": True})) == [
        f"{ROOT}.properties[spec].properties: Required value: must not be empty if "
        "x-kubernetes-embedded-resource is true without x-kubernetes-preserve-unknown-fields",
        f"{ROOT}.properties[spec].type: Required value: must be object if "
        "x-kubernetes-embedded-resource is true",
    ]
    preserved = {
        "type": "object",
        "x-kubernetes-embedded-resource": True,
        "x-kubernetes-preserve-unknown-fields": True,
    }
    assert refusals(with_spec(preserved)) == []


def test_list_map_rules() -> None:
    ports: dict[str, Any] = {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name", "protocol"],
        "items": {
            "type": "object",
            "required": ["name"],
            "properties": {"name": {"type": "string"}, "protocol": {"type": "string"}},
        },
    }
    path = f"{ROOT}.properties[spec]"
    assert refusals(with_spec(ports)) == [
        f"{path}.items.properties[protocol].default: Required value: this property is in "
        "x-kubernetes-list-map-keys, so it must have a default or be a required property"
    ]
    ports["items"]["properties"]["protocol"]["default"] = "TCP"
    assert refusals(with_spec(ports)) == []
    no_keys = {"type": "array", "x-kubernetes-list-type": "map", "items": {"type": "string"}}
    assert refusals(with_spec(no_keys)) == [
        f"{path}.x-kubernetes-list-map-keys: Required value: must not be empty if "
        "x-kubernetes-list-type is map",
        f'{path}.items.type: Invalid value: "string": must be object if parent array\'s '
        "x-kubernetes-list-type is map",
    ]
    keys_on_set = {
        "type": "array",
        "x-kubernetes-list-type": "set",
        "x-kubernetes-list-map-keys": ["a"],
        "items": {"type": "string"},
    }
    assert refusals(with_spec(keys_on_set)) == [
        f'{path}.x-kubernetes-list-type: Invalid value: "set": must be map if '
        "x-kubernetes-list-map-keys is non-empty"
    ]
    assert refusals(with_spec({"type": "string", "x-kubernetes-list-type": "bag"})) == [
        f'{path}.type: Invalid value: "string": must be array if x-kubernetes-list-type is '
        "specified",
        f'{path}.x-kubernetes-list-type: Unsupported value: "bag": supported values: '
        '"atomic", "set", "map"',
    ]


def test_defaults_must_be_valid_and_pruned() -> None:
    spec = {
        "type": "object",
        "properties": {
            "replicas": {"type": "integer", "default": "three"},
            "tls": {
                "type": "object",
                "properties": {"secret": {"type": "string"}},
                "default": {"secret": "s", "bogus": 1},
            },
        },
    }
    path = f"{ROOT}.properties[spec].properties"
    assert refusals(with_spec(spec)) == [
        f'{path}[replicas].default: Invalid value: "string":  in body must be of type integer: '
        '"string"',
        f'{path}[tls].default: Invalid value: map[string]interface {{}}{{"bogus":1, "secret":"s"}}'
        ": must not have unknown fields",
    ]


def test_defaults_inside_top_level_metadata_are_forbidden() -> None:
    schema = {"type": "object", "properties": {"metadata": {"type": "object", "default": {}}}}
    assert refusals(schema) == [
        f"{ROOT}.properties[metadata].default: Forbidden: must not be set in top-level metadata"
    ]


def test_cel_rules_are_refused_once_per_occurrence() -> None:
    spec = {
        "type": "object",
        "x-kubernetes-validations": [{"rule": "self.a > 1"}, {"rule": "self.a < 9"}],
        "properties": {
            "a": {"type": "integer", "x-kubernetes-validations": [{"rule": "self > 0"}]}
        },
    }
    causes = check_structural(with_spec(spec), field_path=ROOT)
    assert causes == [
        {
            "reason": "FieldValueForbidden",
            "message": f"Forbidden: {CEL_REFUSED}",
            "field": f"{ROOT}.properties[spec].properties[a].x-kubernetes-validations",
        },
        {
            "reason": "FieldValueForbidden",
            "message": f"Forbidden: {CEL_REFUSED}",
            "field": f"{ROOT}.properties[spec].x-kubernetes-validations",
        },
    ]
    assert CEL_REFUSED == (
        "CEL validation rules are not supported by this server (kcp-edge); remove "
        "x-kubernetes-validations"
    )


def test_unsupported_keywords_skip_the_structural_checks() -> None:
    schema = with_spec({"$ref": "#/definitions/x"})
    assert refusals(schema) == [f"{ROOT}.properties[spec].$ref: Forbidden: $ref is not supported"]


def test_keywords_crds_never_accept() -> None:
    schema = {
        "type": "object",
        "nullable": True,
        "properties": {
            "a": {"type": "null"},
            "b": {"type": "array", "items": {"type": "string"}, "uniqueItems": True},
        },
    }
    assert refusals(schema) == [
        f"{ROOT}.nullable: Forbidden: nullable cannot be true at the root",
        f'{ROOT}.properties[a].type: Unsupported value: "null": supported values: "array", '
        '"boolean", "integer", "number", "object", "string"',
        f"{ROOT}.properties[a].type: Forbidden: type cannot be set to null, use nullable as an "
        "alternative",
        f"{ROOT}.properties[b].uniqueItems: Forbidden: uniqueItems cannot be set to true since "
        "the runtime complexity becomes quadratic",
    ]


def test_patterns_must_compile_as_go_regular_expressions() -> None:
    spec = {"type": "string", "pattern": "^(?!x)"}
    assert refusals(with_spec(spec)) == [
        f'{ROOT}.properties[spec].pattern: Invalid value: "^(?!x)": must be a valid regular '
        "expression, but isn't: error parsing regexp: invalid or unsupported Perl syntax: `(?!`"
    ]


def test_structural_errors_are_sorted_by_their_text() -> None:
    schema = {"type": "object", "properties": {"b": {}, "a": {}}}
    assert refusals(schema) == [
        f"{ROOT}.properties[a].type: Required value: must not be empty for specified object fields",
        f"{ROOT}.properties[b].type: Required value: must not be empty for specified object fields",
    ]


# --- validate ------------------------------------------------------------------------------------


def test_a_wrong_type_is_the_wire_cause() -> None:
    compiled = CompiledSchema.compile(
        with_spec({"type": "object", "properties": {"size": {"type": "integer"}}})
    )
    assert compiled.validate({"spec": {"size": "string"}}) == [
        {
            "reason": "FieldValueTypeInvalid",
            "message": 'Invalid value: "string": spec.size in body must be of type integer: '
            '"string"',
            "field": "spec.size",
        }
    ]


def test_required_fields() -> None:
    compiled = CompiledSchema.compile(with_spec({"type": "object", "required": ["x"]}))
    assert compiled.validate({"spec": {}}) == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.x"}
    ]
    root = CompiledSchema.compile({"type": "object", "required": ["spec"]})
    assert root.validate({"apiVersion": "a/v1", "kind": "W"}) == [
        {"reason": "FieldValueRequired", "message": "Required value", "field": "spec"}
    ]


def test_enums() -> None:
    compiled = CompiledSchema.compile(with_spec({"type": "string", "enum": ["a", "b"]}))
    assert compiled.validate({"spec": "x"}) == [
        {
            "reason": "FieldValueNotSupported",
            "message": 'Unsupported value: "x": supported values: "a", "b"',
            "field": "spec",
        }
    ]
    assert errors({"type": "integer", "enum": [1, 2]}, 3) == [
        'spec: Unsupported value: 3: supported values: "1", "2"'
    ]
    assert errors({"type": "integer", "enum": [1, 2]}, 1.0) == []
    assert errors({"type": "boolean", "enum": [True]}, True) == []


def test_nulls() -> None:
    assert errors({"type": "integer"}, None) == [
        'spec: Invalid value: "null": spec in body must be of type integer: "null"'
    ]
    assert errors({"type": "integer", "nullable": True}, None) == []


def test_numbers() -> None:
    bounded = {"type": "integer", "minimum": 2, "maximum": 10, "multipleOf": 3}
    assert errors(bounded, 11) == [
        "spec: Invalid value: 11: spec in body should be a multiple of 3",
        "spec: Invalid value: 11: spec in body should be less than or equal to 10",
    ]
    assert errors(bounded, 1) == [
        "spec: Invalid value: 1: spec in body should be a multiple of 3",
        "spec: Invalid value: 1: spec in body should be greater than or equal to 2",
    ]
    exclusive = {
        "type": "number",
        "minimum": 0.5,
        "exclusiveMinimum": True,
        "maximum": 10,
        "exclusiveMaximum": True,
    }
    assert errors(exclusive, 0.5) == [
        "spec: Invalid value: 0.5: spec in body should be greater than 0.5"
    ]
    assert errors(exclusive, 10.0) == [
        "spec: Invalid value: 10: spec in body should be less than 10"
    ]
    assert errors({"type": "integer"}, 2.0) == []
    assert errors({"type": "integer"}, 2.5) == [
        'spec: Invalid value: "number": spec in body must be of type integer: "number"'
    ]
    assert errors({"type": "number"}, 2) == []
    assert errors({"type": "integer"}, True) == [
        'spec: Invalid value: "boolean": spec in body must be of type integer: "boolean"'
    ]


def test_strings() -> None:
    assert errors({"type": "string", "maxLength": 3}, "abcd") == [
        "spec: Too long: may not be more than 3 bytes"
    ]
    assert errors({"type": "string", "maxLength": 3}, "äöü") == []
    assert errors({"type": "string", "minLength": 2, "pattern": "^a"}, "b") == [
        'spec: Invalid value: "b": spec in body should be at least 2 chars long'
    ]
    assert errors({"type": "string", "pattern": "^a"}, "ba") == [
        "spec: Invalid value: \"ba\": spec in body should match '^a'"
    ]


def test_formats_the_apiserver_enforces() -> None:
    uuid = {"type": "string", "format": "uuid"}
    assert errors(uuid, "nope") == [
        'spec: Invalid value: "nope": spec in body must be of type uuid: "nope"'
    ]
    assert errors(uuid, "123e4567-e89b-12d3-a456-426614174000") == []
    assert errors({"type": "string", "format": "date-time"}, "2024-01-02T03:04:05Z") == []
    assert errors({"type": "string", "format": "date-time"}, "2024-01-02") == [
        'spec: Invalid value: "2024-01-02": spec in body must be of type date-time: "2024-01-02"'
    ]
    assert errors({"type": "integer", "format": "int32"}, 1 << 40) == []
    assert errors({"type": "string", "format": "no-such-format"}, "x") == []


def test_arrays() -> None:
    schema = {"type": "array", "maxItems": 1, "items": {"type": "string"}}
    assert errors(schema, ["a", 1]) == [
        'spec[1]: Invalid value: "integer": spec[1] in body must be of type string: "integer"',
        "spec: Too many: 2: must have at most 1 item",
    ]
    assert errors({"type": "array", "minItems": 2, "items": {"type": "string"}}, []) == [
        "spec: Invalid value: 0: spec in body should have at least 2 items"
    ]
    nested = {"type": "array", "items": {"type": "object", "required": ["name"]}}
    assert errors(nested, [{"name": "a"}, {}]) == ["spec[1].name: Required value"]


def test_objects_and_maps() -> None:
    labels = {"type": "object", "additionalProperties": {"type": "string"}}
    assert errors(labels, {"a": 1}) == [
        'spec.a: Invalid value: "integer": spec.a in body must be of type string: "integer"'
    ]
    closed = {"type": "object", "additionalProperties": False}
    assert errors(closed, {"a": 1}) == [
        'spec: Invalid value: "a": spec.a in body is a forbidden property'
    ]
    assert errors({"type": "object", "maxProperties": 1}, {"a": 1, "b": 2}) == [
        "spec: Too many: 2: must have at most 1 item"
    ]
    assert errors({"type": "object", "minProperties": 2}, {"a": 1}) == [
        "spec: Invalid value: 1: spec in body should have at least 2 properties"
    ]


def test_value_validation_junctors() -> None:
    one_of = {"type": "object", "oneOf": [{"required": ["a"]}, {"required": ["b"]}]}
    assert errors(one_of, {"a": 1, "b": 2}) == [
        '<nil>: Invalid value: "": "spec" must validate one and only one schema (oneOf). '
        "Found 2 valid alternatives"
    ]
    assert errors(one_of, {}) == [
        '<nil>: Invalid value: "": "spec" must validate one and only one schema (oneOf). '
        "Found none valid",
        "spec.a: Required value",
    ]
    any_of = {"type": "object", "anyOf": [{"required": ["a"]}, {"required": ["b"]}]}
    assert errors(any_of, {"b": 1}) == []
    assert errors(any_of, {}) == [
        '<nil>: Invalid value: "": "spec" must validate at least one schema (anyOf)',
        "spec.a: Required value",
    ]
    all_of = {"type": "object", "allOf": [{"required": ["a"]}, {"required": ["b"]}]}
    assert errors(all_of, {"a": 1}) == [
        "spec.b: Required value",
        '<nil>: Invalid value: "": "spec" must validate all the schemas (allOf)',
    ]
    not_ = {"type": "object", "not": {"required": ["a"]}}
    assert errors(not_, {"a": 1}) == [
        '<nil>: Invalid value: "": "spec" must not validate the schema (not)'
    ]


def test_int_or_string() -> None:
    port = {"x-kubernetes-int-or-string": True}
    assert errors(port, 80) == []
    assert errors(port, "http") == []
    assert errors(port, True) == [
        'spec: Invalid value: "boolean": spec in body must be of type integer,string: "boolean"'
    ]


def test_embedded_resources_need_api_version_kind_and_valid_metadata() -> None:
    schema = {
        "type": "object",
        "x-kubernetes-embedded-resource": True,
        "x-kubernetes-preserve-unknown-fields": True,
    }
    assert errors(schema, {"metadata": {"name": "a/b"}}) == [
        "spec.apiVersion: Required value",
        "spec.kind: Required value",
        "spec.metadata.name: Invalid value: \"a/b\": may not contain '/'",
    ]
    assert errors(schema, {"apiVersion": "a/b/c", "kind": "my_kind"}) == [
        'spec.apiVersion: Invalid value: "a/b/c": unexpected GroupVersion string: a/b/c',
        'spec.kind: Invalid value: "my_kind": may have mixed case, but should otherwise match: '
        "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with "
        "an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
        "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')",
    ]
    assert errors(schema, {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}}) == []


def test_list_sets_and_maps_are_unique() -> None:
    tags = {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}}
    assert errors(tags, ["a", "b", "a", "a"]) == ['spec[2]: Duplicate value: "a"']
    assert errors(
        {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "integer"}}, [1, 1]
    ) == ["spec[1]: Duplicate value: 1"]
    ports = {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["port", "protocol"],
        "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    }
    value = [{"port": 80, "protocol": "TCP"}, {"port": 80, "protocol": "TCP", "x": 1}]
    assert errors(ports, value) == [
        'spec[1]: Duplicate value: map[string]interface {}{"port":80, "protocol":"TCP"}'
    ]
    by_name = {
        "type": "object",
        "additionalProperties": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    }
    assert errors(by_name, {"k": [{"name": "a"}, {"name": "a"}]}) == [
        'spec[k][1]: Duplicate value: map[string]interface {}{"name":"a"}'
    ]


def test_root_type_meta_needs_no_schema() -> None:
    compiled = CompiledSchema.compile(with_spec({"type": "object"}))
    obj = {"apiVersion": "a/v1", "kind": "W", "metadata": {"name": "w"}, "spec": {}}
    assert compiled.validate(obj) == []


# --- default -------------------------------------------------------------------------------------


def test_defaults_apply_to_missing_fields_inside_existing_objects() -> None:
    schema = with_spec(
        {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer", "default": 1},
                "strategy": {
                    "type": "object",
                    "properties": {"type": {"type": "string", "default": "Rolling"}},
                },
                "tls": {
                    "type": "object",
                    "default": {},
                    "properties": {"port": {"type": "integer", "default": 443}},
                },
            },
        }
    )
    compiled = CompiledSchema.compile(schema)
    obj: dict[str, Any] = {"spec": {}}
    compiled.default(obj)
    assert obj == {"spec": {"replicas": 1, "tls": {"port": 443}}}
    absent: dict[str, Any] = {}
    compiled.default(absent)
    assert absent == {}


def test_nulls_are_defaulted_dropped_or_kept() -> None:
    schema = with_spec(
        {
            "type": "object",
            "properties": {
                "a": {"type": "string", "default": "x"},
                "b": {"type": "string"},
                "c": {"type": "string", "nullable": True, "default": "y"},
            },
        }
    )
    obj: dict[str, Any] = {"spec": {"a": None, "b": None, "c": None}}
    CompiledSchema.compile(schema).default(obj)
    assert obj == {"spec": {"a": "x", "c": None}}


def test_defaults_of_items_and_map_values_are_deep_copies() -> None:
    schema = with_spec(
        {
            "type": "object",
            "properties": {
                "ports": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"protocol": {"type": "string", "default": "TCP"}},
                    },
                },
                "limits": {
                    "type": "object",
                    "additionalProperties": {"type": "object", "default": {"max": [1]}},
                },
            },
        }
    )
    compiled = CompiledSchema.compile(schema)
    obj: dict[str, Any] = {"spec": {"ports": [{}, {"protocol": "UDP"}], "limits": {"a": None}}}
    compiled.default(obj)
    assert obj == {
        "spec": {
            "ports": [{"protocol": "TCP"}, {"protocol": "UDP"}],
            "limits": {"a": {"max": [1]}},
        }
    }
    obj["spec"]["limits"]["a"]["max"].append(2)
    again: dict[str, Any] = {"spec": {"limits": {"b": None}}}
    compiled.default(again)
    assert again["spec"]["limits"]["b"] == {"max": [1]}


# --- prune ---------------------------------------------------------------------------------------


def test_prune_drops_unknown_fields_and_reports_their_paths() -> None:
    schema = with_spec(
        {
            "type": "object",
            "properties": {
                "containers": {
                    "type": "array",
                    "items": {"type": "object", "properties": {"name": {"type": "string"}}},
                },
                "labels": {
                    "type": "object",
                    "additionalProperties": {
                        "type": "object",
                        "properties": {"v": {"type": "string"}},
                    },
                },
            },
        }
    )
    obj = {
        "apiVersion": "a/v1",
        "kind": "W",
        "metadata": {"name": "w", "whatever": 1},
        "spec": {
            "foo": 1,
            "containers": [{"name": "c", "bogus": True}],
            "labels": {"x": {"v": "1", "w": 2}},
        },
        "status": {},
    }
    assert CompiledSchema.compile(schema).prune(obj) == [
        "spec.containers[0].bogus",
        "spec.foo",
        "spec.labels.x.w",
        "status",
    ]
    assert obj == {
        "apiVersion": "a/v1",
        "kind": "W",
        "metadata": {"name": "w", "whatever": 1},
        "spec": {"containers": [{"name": "c"}], "labels": {"x": {"v": "1"}}},
    }


def test_preserve_unknown_fields_keeps_unknown_but_prunes_known() -> None:
    schema = with_spec(
        {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": True,
            "properties": {"known": {"type": "object", "properties": {"a": {"type": "string"}}}},
        }
    )
    obj = {"spec": {"free": {"x": 1}, "known": {"a": "1", "b": 2}}}
    assert CompiledSchema.compile(schema).prune(obj) == ["spec.known.b"]
    assert obj == {"spec": {"free": {"x": 1}, "known": {"a": "1"}}}


def test_embedded_resources_keep_their_type_and_object_meta() -> None:
    schema = with_spec(
        {
            "type": "object",
            "x-kubernetes-embedded-resource": True,
            "properties": {"spec": {"type": "object"}},
        }
    )
    obj = {"spec": {"apiVersion": "v1", "kind": "Pod", "metadata": {"x": 1}, "spec": {}, "junk": 1}}
    assert CompiledSchema.compile(schema).prune(obj) == ["spec.junk"]
    assert obj["spec"] == {"apiVersion": "v1", "kind": "Pod", "metadata": {"x": 1}, "spec": {}}


def test_scalar_schemas_drop_the_fields_of_objects_sent_in_their_place() -> None:
    obj = {"spec": {"a": 1}}
    assert CompiledSchema.compile(with_spec({"type": "string"})).prune(obj) == ["spec.a"]
    assert obj == {"spec": {}}


# --- the node tree for server-side apply ---------------------------------------------------------


def test_the_node_tree_answers_list_and_map_types() -> None:
    schema = with_spec(
        {
            "type": "object",
            "properties": {
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["port", "protocol"],
                    "items": {"type": "object", "properties": {"port": {"type": "integer"}}},
                },
                "selector": {"type": "object", "x-kubernetes-map-type": "atomic"},
                "labels": {"type": "object", "additionalProperties": {"type": "string"}},
            },
        }
    )
    root = CompiledSchema.compile(schema).root
    spec = root.field("spec")
    assert spec is not None
    assert spec.type == "object"
    ports = spec.field("ports")
    assert ports is not None
    assert (ports.list_type, ports.list_map_keys) == ("map", ("port", "protocol"))
    assert ports.items is not None
    assert ports.items.field("port") is not None
    assert ports.items.field("nope") is None
    selector = spec.field("selector")
    assert selector is not None
    assert selector.map_type == "atomic"
    labels = spec.field("labels")
    assert labels is not None
    assert labels.field("anything") is labels.additional
    assert isinstance(labels.field("anything"), SchemaNode)


def test_a_schema_that_is_not_an_object_cannot_compile() -> None:
    with pytest.raises(SchemaError, match=r"^a schema must be a JSON object, not list$"):
        CompiledSchema.compile([])  # type: ignore[arg-type]


# --- formats -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        ("date", "2024-02-29", "2023-02-29"),
        ("date-time", "2024-01-02T03:04:05.5+01:00", "2024-01-02T24:00:00Z"),
        ("duration", "1h30m", "1 fortnight"),
        ("ipv4", "10.0.0.1", "10.0.0.01"),
        ("ipv6", "fe80::1", "fe80::1%eth0"),
        ("cidr", "10.0.0.0/8", "10.0.0.0/33"),
        ("mac", "00:00:5e:00:53:01", "00:00:5e:00:53"),
        ("hostname", "example.com", "-bad-.com"),
        ("email", "Jane <jane@example.com>", "jane"),
        ("uri", "https://example.com/x", "example.com"),
        ("byte", "aGVsbG8=", "aGVsbG8"),
        ("k8s-short-name", "my-name", "My-Name"),
        ("k8s-long-name", "a.b-c.d", "a..b"),
        ("isbn13", "978-0321751041", "978-0321751042"),
        ("hexcolor", "#fff", "#ffff"),
    ],
)
def test_format_checkers(fmt: str, good: str, bad: str) -> None:
    check = schemaformats.checker_for(fmt)
    assert check is not None
    assert check(good)
    assert not check(bad)


def test_formats_the_apiserver_strips_are_not_checked() -> None:
    assert [schemaformats.checker_for(f) for f in ("int32", "int64", "float", "double", "")] == [
        None
    ] * 5


# --- a realistic schema: apps/v1 Deployment as a CRD would carry it ------------------------------

OPENAPI = Path(__file__).parents[2] / "kcp_edge/registry/data/openapi/apis__apps__v1.json"
_REF_PREFIX = "#/components/schemas/"
_INT_OR_STRING = frozenset(
    {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        "io.k8s.apimachinery.pkg.api.resource.Quantity",
    }
)


def _inline(schema: Any, components: dict[str, Any], seen: tuple[str, ...] = ()) -> Any:
    """Resolve ``$ref`` (and ``allOf: [{$ref}]``) into one schema, as a CRD carries it: int-or-
    string types become the marker, ``default: {}`` of object references is dropped."""
    if isinstance(schema, list):
        return [_inline(item, components, seen) for item in schema]
    if not isinstance(schema, dict):
        return schema
    ref = schema.get("$ref")
    rest = {k: v for k, v in schema.items() if k != "$ref"}
    all_of = schema.get("allOf")
    if ref is None and isinstance(all_of, list) and len(all_of) == 1 and "$ref" in all_of[0]:
        ref = all_of[0]["$ref"]
        rest = {k: v for k, v in schema.items() if k != "allOf"}
    out: dict[str, Any] = {}
    if ref is not None:
        name = ref.removeprefix(_REF_PREFIX)
        if name in _INT_OR_STRING:
            out = {"x-kubernetes-int-or-string": True}
        elif name in seen:
            out = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
        else:
            out = _inline(components[name], components, (*seen, name))
    for key, value in rest.items():
        if key == "default" and value == {}:
            continue
        if key == "properties":
            out[key] = {k: _inline(v, components, seen) for k, v in value.items()}
        else:
            out[key] = _inline(value, components, seen)
    return out


@functools.cache
def deployment_schema() -> dict[str, Any]:
    components = orjson.loads(OPENAPI.read_bytes())["components"]["schemas"]
    schema: dict[str, Any] = _inline(components["io.k8s.api.apps.v1.Deployment"], components)
    schema.pop("x-kubernetes-group-version-kind", None)
    schema["properties"]["metadata"] = {"type": "object"}
    return schema


@functools.cache
def deployment() -> CompiledSchema:
    return CompiledSchema.compile(deployment_schema())


def a_deployment() -> dict[str, Any]:
    container = {
        "name": "web",
        "image": "nginx:1.27",
        "imagePullPolicy": "IfNotPresent",
        "ports": [
            {"name": "http", "containerPort": 8080, "protocol": "TCP"},
            {"containerPort": 9090},
        ],
        "env": [
            {"name": "A", "value": "1"},
            {"name": "POD", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}},
        ],
        "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"cpu": 1}},
        "volumeMounts": [{"name": "config", "mountPath": "/etc/web", "readOnly": True}],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 10},
        "livenessProbe": {"tcpSocket": {"port": "http"}},
        "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "default", "labels": {"app": "web"}},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 1},
            },
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {
                    "containers": [container, {"name": "sidecar", "image": "envoy:1.30"}],
                    "volumes": [
                        {"name": "config", "configMap": {"name": "web", "defaultMode": 420}}
                    ],
                    "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoSchedule"}],
                    "securityContext": {"runAsNonRoot": True, "runAsUser": 1000},
                },
            },
        },
        "status": {
            "replicas": 3,
            "conditions": [
                {
                    "type": "Available",
                    "status": "True",
                    "lastTransitionTime": "2024-01-01T00:00:00Z",
                    "reason": "MinimumReplicasAvailable",
                }
            ],
        },
    }


def test_the_deployment_schema_is_structural() -> None:
    assert check_structural(deployment_schema(), field_path=ROOT) == []


def test_a_valid_deployment_defaults_prunes_and_validates_cleanly() -> None:
    obj = a_deployment()
    deployment().default(obj)
    ports = obj["spec"]["template"]["spec"]["containers"][0]["ports"]
    assert ports[1] == {"containerPort": 9090, "protocol": "TCP"}
    assert deployment().prune(obj) == []
    assert deployment().validate(obj) == []


def test_an_invalid_deployment_reports_deep_paths() -> None:
    obj = a_deployment()
    template = obj["spec"]["template"]["spec"]
    obj["spec"]["replicas"] = "three"
    template["containers"][0]["ports"][0]["containerPort"] = "http"
    template["containers"][0]["bogus"] = 1
    template["containers"].append({"name": "web", "image": "again"})
    del obj["spec"]["selector"]
    deployment().default(obj)
    assert deployment().prune(obj) == ["spec.template.spec.containers[0].bogus"]
    assert [f"{c['field']}: {c['message']}" for c in deployment().validate(obj)] == [
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: '
        '"string"',
        'spec.template.spec.containers[0].ports[0].containerPort: Invalid value: "string": '
        "spec.template.spec.containers[0].ports[0].containerPort in body must be of type "
        'integer: "string"',
        "spec.selector: Required value",
        'spec.template.spec.containers[2]: Duplicate value: map[string]interface {}{"name":"web"}',
    ]


def test_patterns_and_formats_follow_go_regexp_semantics() -> None:
    """RE2: ``$`` matches only at the very end, ``\\d`` only ASCII digits."""
    schema = CompiledSchema.compile(
        {
            "type": "object",
            "properties": {
                "word": {"type": "string", "pattern": "^[a-z]+$"},
                "digits": {"type": "string", "pattern": "^\\d+$"},
                "id": {"type": "string", "format": "uuid"},
                "day": {"type": "string", "format": "date"},
            },
        }
    )
    good = {"word": "abc", "digits": "42", "id": "123e4567-e89b-12d3-a456-426614174000"}
    assert schema.validate({**good, "day": "2020-01-01"}) == []
    bad = {
        "word": "abc\n",
        "digits": "\u0663\u0664",
        "id": good["id"] + "\n",
        "day": "\u0662\u0660\u0662\u0660-01-01",
    }
    assert sorted(c["field"] for c in schema.validate(bad)) == ["day", "digits", "id", "word"]
