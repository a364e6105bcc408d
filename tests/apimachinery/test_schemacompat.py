"""The least common denominator of two (or more) structural schemas."""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

import orjson
import pytest

from kcp_edge.apimachinery.openapiimport import crd_schema_from_openapi
from kcp_edge.apimachinery.schemacompat import Incompatibility, common_schema, lcd
from kcp_edge.apimachinery.structural import check_structural

DATA = Path(__file__).resolve().parents[2] / "kcp_edge" / "registry" / "data" / "openapi"
STRING = {"type": "string"}
INTEGER = {"type": "integer"}


@functools.cache
def _deployment() -> dict[str, Any]:
    doc = orjson.loads((DATA / "apis__apps__v1.json").read_bytes())
    return crd_schema_from_openapi(doc, "apps", "v1", "Deployment")


def deployment() -> dict[str, Any]:
    return copy.deepcopy(_deployment())


def obj(**props: Any) -> dict[str, Any]:
    return {"type": "object", "properties": props}


def containers(schema: dict[str, Any]) -> dict[str, Any]:
    spec = schema["properties"]["spec"]["properties"]["template"]["properties"]["spec"]
    node: dict[str, Any] = spec["properties"]["containers"]["items"]
    return node


def test_identical_schemas_give_the_same_schema() -> None:
    schema = deployment()
    result, problems = common_schema(schema, deployment())
    assert problems == []
    assert result == schema
    assert check_structural(result, field_path="x") == []


def test_a_property_known_on_one_side_only_is_dropped() -> None:
    newer = deployment()
    containers(newer)["properties"]["resizePolicy2"] = {"type": "string"}
    result, problems = common_schema(deployment(), newer)
    assert problems == []
    assert "resizePolicy2" not in containers(result)["properties"]
    result, problems = common_schema(newer, deployment())
    assert problems == []
    assert "resizePolicy2" not in containers(result)["properties"]


def test_a_preserving_side_keeps_what_the_other_knows() -> None:
    open_side = {**obj(a=STRING), "x-kubernetes-preserve-unknown-fields": True}
    result, problems = common_schema(open_side, obj(a=STRING, b=INTEGER))
    assert problems == []
    assert result == obj(a=STRING, b=INTEGER)
    both_open = common_schema(open_side, open_side)[0]
    assert both_open["x-kubernetes-preserve-unknown-fields"] is True


def test_an_untyped_preserving_node_meets_anything() -> None:
    anything = {"x-kubernetes-preserve-unknown-fields": True}
    result, problems = common_schema(obj(v=anything), obj(v=obj(a=STRING)))
    assert problems == []
    assert result == obj(v=obj(a=STRING))


def test_type_mismatches_are_incompatible_with_paths() -> None:
    changed = deployment()
    containers(changed)["properties"]["image"] = {"type": "integer"}
    changed["properties"]["spec"]["properties"]["replicas"] = {"type": "string"}
    result, problems = common_schema(deployment(), changed)
    assert problems == [
        Incompatibility(".spec.replicas", "type integer is not compatible with type string"),
        Incompatibility(
            ".spec.template.spec.containers[*].image",
            "type string is not compatible with type integer",
        ),
    ]
    assert str(problems[0]) == ".spec.replicas: type integer is not compatible with type string"
    assert result["properties"]["spec"]["properties"]["replicas"]["type"] == "integer"


def test_integer_and_number_meet_in_integer() -> None:
    result, problems = common_schema(
        {"type": "number", "minimum": 1}, {"type": "integer", "format": "int32", "maximum": 9}
    )
    assert problems == []
    assert result == {"type": "integer", "format": "int32", "minimum": 1, "maximum": 9}


def test_int_or_string_meets_its_alternatives() -> None:
    either = {"anyOf": [INTEGER, STRING], "x-kubernetes-int-or-string": True}
    assert common_schema(either, STRING) == (STRING, [])
    assert common_schema(INTEGER, either) == (INTEGER, [])
    assert common_schema(either, either) == (either, [])
    _, problems = common_schema(either, {"type": "boolean"})
    assert problems == [
        Incompatibility("", "type int-or-string is not compatible with type boolean")
    ]


def test_enums_intersect() -> None:
    a = {"type": "string", "enum": ["TCP", "UDP", "SCTP"]}
    b = {"type": "string", "enum": ["SCTP", "TCP"]}
    assert common_schema(a, b) == ({"type": "string", "enum": ["TCP", "SCTP"]}, [])
    assert common_schema(a, STRING) == (a, [])
    _, problems = common_schema(obj(p=a), obj(p={"type": "string", "enum": ["HTTP"]}))
    assert [p.path for p in problems] == [".p"]
    assert "nothing in common" in problems[0].message


def test_required_is_the_union_of_kept_properties() -> None:
    a = {**obj(x=STRING, y=STRING, z=STRING), "required": ["y", "x"]}
    b = {**obj(x=STRING, y=STRING), "required": ["x"]}
    c = {**obj(x=STRING, y=STRING), "required": ["y"]}
    assert common_schema(a, b)[0]["required"] == ["x", "y"]
    assert common_schema(b, c)[0]["required"] == ["x", "y"]
    only_z = {**obj(z=STRING), "required": ["z"]}
    assert "required" not in common_schema(only_z, obj(x=STRING))[0]


def test_bounds_take_the_tighter_value() -> None:
    a = {"type": "string", "minLength": 1, "maxLength": 63}
    b = {"type": "string", "minLength": 2, "maxLength": 253, "pattern": "^[a-z]+$"}
    assert common_schema(a, b)[0] == {
        "type": "string",
        "minLength": 2,
        "maxLength": 63,
        "pattern": "^[a-z]+$",
    }
    numbers = common_schema(
        {"type": "integer", "minimum": 0, "exclusiveMinimum": True},
        {"type": "integer", "minimum": 0, "maximum": 10},
    )[0]
    assert numbers == {"type": "integer", "minimum": 0, "exclusiveMinimum": True, "maximum": 10}


def test_formats_must_agree() -> None:
    assert (
        common_schema(
            {"type": "integer", "format": "int64"}, {"type": "integer", "format": "int32"}
        )[0]["format"]
        == "int32"
    )
    _, problems = common_schema(
        obj(when={"type": "string", "format": "date-time"}),
        obj(when={"type": "string", "format": "date"}),
    )
    assert problems == [
        Incompatibility(".when", "format date-time is not compatible with format date")
    ]


def test_nullable_and_preserve_only_when_both_have_them() -> None:
    a = {"type": "object", "nullable": True, "x-kubernetes-preserve-unknown-fields": True}
    b = {"type": "object", "nullable": True}
    assert common_schema(a, b)[0] == {"type": "object", "nullable": True}


def test_nested_lists_recurse_into_items() -> None:
    a = {"type": "array", "items": {"type": "array", "items": obj(k=STRING, v=INTEGER)}}
    b = {"type": "array", "items": {"type": "array", "items": obj(k=STRING, v=STRING)}}
    result, problems = common_schema(obj(rows=a), obj(rows=b))
    assert problems == [
        Incompatibility(".rows[*][*].v", "type integer is not compatible with type string")
    ]
    assert result["properties"]["rows"]["items"]["items"]["properties"]["k"] == STRING


def test_list_types_and_map_keys_must_match() -> None:
    keyed = {
        "type": "array",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["name"],
        "items": {**obj(name=STRING), "required": ["name"]},
    }
    assert common_schema(keyed, keyed) == (keyed, [])
    atomic = {"type": "array", "items": obj(name=STRING)}
    _, problems = common_schema(obj(l=keyed), obj(l=atomic))
    assert [str(p) for p in problems] == [
        ".l: x-kubernetes-list-type 'map' is not compatible with 'atomic'",
        ".l: x-kubernetes-list-map-keys ['name'] is not compatible with None",
    ]
    other_keys = {**keyed, "x-kubernetes-list-map-keys": ["id"]}
    _, problems = common_schema(keyed, other_keys)
    assert [p.message for p in problems] == [
        "x-kubernetes-list-map-keys ['name'] is not compatible with ['id']"
    ]
    granular = {"type": "object", "additionalProperties": STRING}
    atomic_map = {**granular, "x-kubernetes-map-type": "atomic"}
    assert len(common_schema(granular, atomic_map)[1]) == 1


def test_maps_and_structs_meet_in_the_struct() -> None:
    labels = {"type": "object", "additionalProperties": STRING}
    struct = obj(app=STRING, tier=INTEGER)
    result, problems = common_schema(labels, struct)
    assert result["properties"]["app"] == STRING
    assert problems == [Incompatibility(".tier", "type string is not compatible with type integer")]
    assert common_schema(labels, labels) == (labels, [])


def test_lcd_folds_from_the_left() -> None:
    a = obj(x=STRING, y=STRING, z=STRING)
    b = obj(x=STRING, y=STRING)
    c = obj(y=STRING, w=INTEGER)
    assert lcd([a]) == (a, [])
    assert lcd([a, b, c]) == (obj(y=STRING), [])
    _, problems = lcd([a, obj(x=INTEGER, y=STRING), obj(x=STRING, y=INTEGER)])
    assert [p.path for p in problems] == [".x", ".y"]
    with pytest.raises(ValueError, match="at least one"):
        lcd([])


def test_the_output_is_deterministic() -> None:
    a = obj(b=STRING, a=STRING, c=STRING)
    b = obj(c=STRING, a=STRING, b=STRING)
    first, _ = common_schema(a, b)
    second, _ = common_schema(b, a)
    assert list(first["properties"]) == list(second["properties"]) == ["a", "b", "c"]
    assert orjson.dumps(first) == orjson.dumps(second)
