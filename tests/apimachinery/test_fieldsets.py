"""Field paths, field sets and their FieldsV1 form, as structured-merge-diff has them.

The FieldsV1 documents are the shapes a real apiserver writes (kubernetes-wire.md §5.5 and
``kubectl get -o yaml --show-managed-fields`` of objects created by kubectl).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from kcp_edge.apimachinery.fieldsets import (
    FieldsError,
    FieldSet,
    appeared,
    appeared_fields_v1,
    describe_path,
    field_element,
    go_json,
    index_element,
    item_element,
    key_element,
    make_path,
    parse_element,
    set_of,
    typed_errors,
    value_element,
)
from kcp_edge.apimachinery.patchmeta import load_components
from kcp_edge.apimachinery.schematypes import builtin_types, inline_types

OPENAPI = Path(__file__).resolve().parents[2] / "kcp_edge" / "registry" / "data" / "openapi"
COMPONENTS: dict[str, Any] = {}
for _document in sorted(OPENAPI.glob("*.json")):
    if _document.name != "apis.json":
        COMPONENTS.update(load_components(_document))

CONFIGMAP = builtin_types(COMPONENTS, "io.k8s.api.core.v1.ConfigMap")
DEPLOYMENT = builtin_types(COMPONENTS, "io.k8s.api.apps.v1.Deployment")

WIDGET = inline_types(
    {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["port"],
                        "items": {"type": "object", "properties": {"port": {"type": "integer"}}},
                    }
                },
            }
        },
    }
)

CSA_FIELDS = {
    "f:data": {".": {}, "f:a": {}},
    "f:metadata": {
        "f:annotations": {".": {}, "f:kubectl.kubernetes.io/last-applied-configuration": {}},
        "f:labels": {".": {}, "f:app": {}},
    },
}


def test_fields_v1_round_trips_the_wire_example() -> None:
    fields = FieldSet.from_fields_v1(CSA_FIELDS)
    assert fields.to_fields_v1() == CSA_FIELDS
    assert fields.has(make_path("data"))
    assert fields.has(make_path("data", "a"))
    assert not fields.has(make_path("metadata"))
    assert fields.has(make_path("metadata", "labels", "app"))


def test_fields_v1_writes_dot_first_and_elements_in_upstream_order() -> None:
    fields = FieldSet.of(
        make_path("spec", "b"),
        make_path("spec", "a"),
        (field_element("list"), index_element(2)),
        (field_element("list"), value_element("x")),
        (field_element("list"), value_element(3)),
        (field_element("list"), value_element(True)),
        (field_element("list"), key_element({"name": "z"})),
        make_path("list"),
    )
    document = fields.to_fields_v1()
    assert list(document) == ["f:list", "f:spec"]
    assert list(document["f:list"]) == [
        ".",
        'k:{"name":"z"}',
        "v:3",
        'v:"x"',
        "v:true",
        "i:2",
    ]
    assert list(document["f:spec"]) == ["f:a", "f:b"]


def test_key_fields_are_sorted_by_name_and_written_as_go_json() -> None:
    pe = key_element({"protocol": "TCP", "containerPort": 80})
    assert pe.serialize() == 'k:{"containerPort":80,"protocol":"TCP"}'
    assert parse_element('k:{"protocol":"TCP","containerPort":80}') == pe
    assert pe.describe() == '[containerPort=80,protocol="TCP"]'


def test_booleans_and_numbers_are_different_keys_and_values() -> None:
    assert key_element({"a": 1}).serialize() == 'k:{"a":1}'
    assert key_element({"a": True}).serialize() == 'k:{"a":true}'
    assert value_element(1) != value_element(True)
    assert value_element(1) == value_element(1.0)
    assert key_element({"a": [1]}).serialize() == 'k:{"a":[1]}'


def test_keys_order_by_field_then_value() -> None:
    fields = FieldSet.of(
        (key_element({"name": "b"}),),
        (key_element({"name": "a"}),),
        (key_element({"containerPort": 80, "protocol": "UDP"}),),
        (key_element({"containerPort": 80, "protocol": "TCP"}),),
    )
    assert list(fields.to_fields_v1()) == [
        'k:{"containerPort":80,"protocol":"TCP"}',
        'k:{"containerPort":80,"protocol":"UDP"}',
        'k:{"name":"a"}',
        'k:{"name":"b"}',
    ]


def test_unknown_element_types_are_skipped_and_leave_a_member() -> None:
    fields = FieldSet.from_fields_v1({"f:a": {"x:future": {}}, "z:other": {}})
    assert fields.to_fields_v1() == {"f:a": {}}


@pytest.mark.parametrize(
    "document",
    [
        {"k:notjson": {}},
        {"k:[1]": {}},
        {"i:one": {}},
        {"x": {}},
        {"f:a": "not an object"},
    ],
)
def test_malformed_fields_v1_is_an_error(document: dict[str, Any]) -> None:
    with pytest.raises(FieldsError):
        FieldSet.from_fields_v1(document)


def test_empty_documents() -> None:
    assert FieldSet.from_fields_v1({}).empty
    assert FieldSet().to_fields_v1() == {}
    with pytest.raises(FieldsError):
        FieldSet.from_fields_v1([])


def test_set_operations() -> None:
    a = FieldSet.from_fields_v1({"f:data": {".": {}, "f:a": {}, "f:b": {}}})
    b = FieldSet.from_fields_v1({"f:data": {"f:b": {}, "f:c": {}}})
    assert a.union(b).to_fields_v1() == {"f:data": {".": {}, "f:a": {}, "f:b": {}, "f:c": {}}}
    assert a.intersection(b).to_fields_v1() == {"f:data": {"f:b": {}}}
    assert a.difference(b).to_fields_v1() == {"f:data": {".": {}, "f:a": {}}}
    assert b.difference(a).to_fields_v1() == {"f:data": {"f:c": {}}}
    assert a.difference(a).empty


def test_difference_keeps_children_and_recursive_difference_drops_them() -> None:
    a = FieldSet.from_fields_v1({"f:data": {".": {}, "f:a": {}}})
    data = FieldSet.of(make_path("data"))
    assert a.difference(data).to_fields_v1() == {"f:data": {"f:a": {}}}
    assert a.recursive_difference(data).empty


def test_operations_do_not_change_their_operands() -> None:
    a = FieldSet.from_fields_v1({"f:x": {"f:y": {}}})
    b = FieldSet.from_fields_v1({"f:x": {"f:z": {}}})
    a.union(b).insert(make_path("x", "w"))
    assert a.to_fields_v1() == {"f:x": {"f:y": {}}}
    assert b.to_fields_v1() == {"f:x": {"f:z": {}}}


def test_paths_iterate_members_first_then_children_and_leaves_skip_parents() -> None:
    fields = FieldSet.from_fields_v1({"f:data": {".": {}, "f:a": {}}, "f:spec": {}})
    assert [describe_path(p) for p in fields.paths()] == [".data", ".spec", ".data.a"]
    assert [describe_path(p) for p in fields.leaves()] == [".spec", ".data.a"]


def test_describe_paths() -> None:
    path = (
        field_element("spec"),
        field_element("containers"),
        key_element({"name": "c"}),
        field_element("ports"),
        key_element({"containerPort": 80, "protocol": "TCP"}),
    )
    assert (
        describe_path(path) == '.spec.containers[name="c"].ports[containerPort=80,protocol="TCP"]'
    )
    assert describe_path((*make_path("metadata", "finalizers"), value_element("a/b"))) == (
        '.metadata.finalizers[="a/b"]'
    )
    assert describe_path(make_path("args", 0)) == ".args[0]"


def test_go_json_matches_encoding_json() -> None:
    assert go_json({"b": 1, "a": [True, None, 1.5, 80.0]}) == '{"a":[true,null,1.5,80],"b":1}'
    assert go_json("<a&b>") == '"\\u003ca\\u0026b\\u003e"'
    assert go_json(1e21) == "1e+21"
    assert go_json(1.5e-7) == "1.5e-7"
    assert go_json(1e20) == "100000000000000000000"
    assert go_json("é\n") == '"é\\n"'


def test_set_of_configmap_owns_data_entries_not_the_data_field() -> None:
    obj = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "labels": {"app": "a"}},
        "data": {"a": "1", "b": "2"},
    }
    assert set_of(obj, CONFIGMAP).to_fields_v1() == {
        "f:apiVersion": {},
        "f:data": {"f:a": {}, "f:b": {}},
        "f:kind": {},
        "f:metadata": {"f:labels": {"f:app": {}}, "f:name": {}},
    }


def test_set_of_deployment_keys_containers_and_defaults_port_protocol() -> None:
    obj = {
        "spec": {
            "selector": {"matchLabels": {"app": "x"}},
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "c",
                            "image": "nginx",
                            "args": ["a"],
                            "ports": [{"containerPort": 80}],
                        }
                    ]
                }
            },
        }
    }
    assert set_of(obj, DEPLOYMENT).to_fields_v1() == {
        "f:spec": {
            "f:selector": {},
            "f:template": {
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"c"}': {
                            ".": {},
                            "f:args": {},
                            "f:image": {},
                            "f:name": {},
                            "f:ports": {
                                'k:{"containerPort":80,"protocol":"TCP"}': {
                                    ".": {},
                                    "f:containerPort": {},
                                }
                            },
                        }
                    }
                }
            },
        }
    }


def test_set_of_finalizers_and_owner_references() -> None:
    obj = {
        "metadata": {
            "finalizers": ["b", "a"],
            "ownerReferences": [{"uid": "u1", "name": "o", "kind": "K", "apiVersion": "v1"}],
        }
    }
    assert set_of(obj, DEPLOYMENT).to_fields_v1() == {
        "f:metadata": {
            "f:finalizers": {'v:"a"': {}, 'v:"b"': {}},
            "f:ownerReferences": {'k:{"uid":"u1"}': {}},
        }
    }


def test_set_of_untyped_values_owns_every_map_entry() -> None:
    schema = {
        "type": "object",
        "properties": {
            "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
        },
    }
    obj = {"spec": {"a": {"b": 1}, "list": [1, 2]}}
    assert set_of(obj, inline_types(schema)).to_fields_v1() == {
        "f:spec": {"f:a": {".": {}, "f:b": {}}, "f:list": {}}
    }


def test_item_element_errors_use_upstream_words() -> None:
    containers = DEPLOYMENT.field("spec").field("template").field("spec").field("containers")
    finalizers = DEPLOYMENT.field("metadata").field("finalizers")
    ports = WIDGET.field("spec").field("ports")
    with pytest.raises(FieldsError, match="may not have a null element"):
        item_element(containers, None)
    with pytest.raises(FieldsError, match="may not have non-map elements"):
        item_element(containers, "c")
    with pytest.raises(FieldsError) as missing:
        item_element(ports, {"name": "o"})
    assert str(missing.value) == (
        'associative list with keys has an element that omits key field "port" '
        "(and doesn't have default value)"
    )
    with pytest.raises(FieldsError, match="that's a map type"):
        item_element(finalizers, {"a": 1})
    with pytest.raises(FieldsError, match="explicit null"):
        item_element(finalizers, None)
    assert item_element(finalizers, "x") == value_element("x")


def test_typed_errors_report_what_apply_refuses() -> None:
    obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "spec": {
            "bogus": 1,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "c", "env": [{"name": "A"}, {"name": "A"}]},
                        {"image": "x"},
                    ]
                }
            },
        },
    }
    assert typed_errors(obj, DEPLOYMENT) == [
        ".spec.bogus: field not declared in schema",
        '.spec.template.spec.containers[name="c"].env: duplicate entries for key [name="A"]',
    ]
    assert typed_errors({"spec": {"ports": [{"port": 1}, {"name": "o"}]}}, WIDGET) == [
        ".spec.ports: element 1: associative list with keys has an element "
        'that omits key field "port" (and doesn\'t have default value)'
    ]
    assert typed_errors({"data": {"a": "b"}, "metadata": {"labels": {"x": "y"}}}, CONFIGMAP) == []


def test_container_name_defaults_to_empty_string_as_the_schema_says() -> None:
    containers = DEPLOYMENT.field("spec").field("template").field("spec").field("containers")
    assert item_element(containers, {"image": "x"}) == key_element({"name": ""})


def test_ensure_named_fields_are_members() -> None:
    fields = FieldSet.from_fields_v1(
        {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}}
    )
    ensured = fields.ensure_named_fields_are_members(CONFIGMAP)
    assert ensured.to_fields_v1() == {
        "f:data": {".": {}, "f:a": {}},
        "f:metadata": {".": {}, "f:labels": {".": {}, "f:app": {}}},
    }


def test_parse_element() -> None:
    assert parse_element("f:a") == field_element("a")
    assert parse_element("i:3") == index_element(3)
    assert parse_element('v:"x"') == value_element("x")
    assert parse_element("v:1.0") == value_element(1)
    assert parse_element("q:x") is None
    assert parse_element("ab") is None
    with pytest.raises(FieldsError, match="2 characters"):
        parse_element("f")


_POD = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"name": "p", "labels": {"a": "b"}, "annotations": {}},
    "spec": {
        "containers": [
            {"name": "c", "ports": [{"containerPort": 80}, {"containerPort": 80}]},
            {"name": "d", "args": ["x"], "env": None},
        ],
        "nodeSelector": {"k": "v"},
    },
}


@pytest.mark.parametrize(
    "without",
    [
        FieldSet(),
        FieldSet.of(make_path("kind"), make_path("metadata"), make_path("metadata", "name")),
        FieldSet.of(make_path("spec", "containers", {"name": "c"})),
        FieldSet.of(make_path("spec", "containers", {"name": "c"}, "name")),
    ],
)
def test_appeared_fields_v1_is_the_difference_of_appeared_in_one_walk(without: FieldSet) -> None:
    node = builtin_types(COMPONENTS, "io.k8s.api.core.v1.Pod")
    whole = FieldSet()
    whole.insert_whole((), appeared(_POD, node))
    expected = whole.difference(without).to_fields_v1()
    assert list(appeared_fields_v1(_POD, node, without).items()) == list(expected.items())
    assert str(appeared_fields_v1(_POD, node, without)) == str(expected)


def test_shared_set_operations_equal_the_copying_ones() -> None:
    a = FieldSet.from_fields_v1({"f:a": {".": {}, "f:b": {}}, "f:c": {"f:d": {}}})
    b = FieldSet.from_fields_v1({"f:a": {"f:e": {}}, "f:c": {}, "f:f": {}})
    for x, y in ((a, b), (b, a), (a, FieldSet()), (FieldSet(), a)):
        assert x.shared_union(y) == x.union(y)
        assert x.shared_difference(y) == x.difference(y)
