"""Server-side apply and managedFields recording, on real kinds.

ConfigMaps and Deployments use the bundled Kubernetes 1.35 schemas; a CRD-style inline
schema stands for custom resources. Expected entries, merges, prunes and messages follow
the apiserver (kubernetes-wire.md §4.4 and §5.5) and structured-merge-diff's own cases.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from kcp_edge.apimachinery.fieldsets import FieldSet, make_path
from kcp_edge.apimachinery.managedfields import (
    LAST_APPLIED_ANNOTATION,
    ApplyBadRequestError,
    ApplyConflict,
    ManagedFieldsError,
    apply,
    default_manager,
    record_update,
    validate_managed_fields,
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
                "properties": {"size": {"type": "integer"}, "color": {"type": "string"}},
            },
            "status": {"type": "object", "properties": {"ready": {"type": "boolean"}}},
        },
    }
)

T0 = "2026-01-01T00:00:00Z"
T1 = "2026-01-01T00:01:00Z"
T2 = "2026-01-01T00:02:00Z"
T3 = "2026-01-01T00:03:00Z"


def configmap(data: dict[str, Any] | None = None, **meta: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "x", "namespace": "default", **meta},
    }
    if data is not None:
        obj["data"] = data
    return obj


def stored(obj: dict[str, Any], uid: str = "u-1") -> dict[str, Any]:
    """The object as the server stores it after a create: with uid and resourceVersion."""
    out = copy.deepcopy(obj)
    out["metadata"].setdefault("uid", uid)
    out["metadata"].setdefault("resourceVersion", "1")
    return out


def created(obj: dict[str, Any], manager: str, types: Any = CONFIGMAP, **kw: Any) -> dict[str, Any]:
    new = copy.deepcopy(obj)
    kw.setdefault("api_version", new["apiVersion"])
    record_update(None, new, manager=manager, types=types, now=T0, **kw)
    return stored(new)


def updated(
    old: dict[str, Any], new: dict[str, Any], manager: str, *, now: str = T1, **kw: Any
) -> dict[str, Any]:
    new = copy.deepcopy(new)
    kw.setdefault("types", CONFIGMAP)
    kw.setdefault("api_version", new["apiVersion"])
    record_update(old, new, manager=manager, now=now, **kw)
    return new


def applied(
    live: dict[str, Any] | None,
    config: dict[str, Any],
    manager: str,
    *,
    now: str = T1,
    force: bool = False,
    **kw: Any,
) -> dict[str, Any]:
    kw.setdefault("types", CONFIGMAP)
    kw.setdefault("api_version", config["apiVersion"])
    out = apply(live, config, manager=manager, force=force, now=now, **kw)
    return stored(out)


def entries(obj: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (e["manager"], e["operation"], e["fieldsV1"])
        for e in obj["metadata"].get("managedFields", [])
    ]


def entry(obj: dict[str, Any], manager: str, operation: str = "Update") -> dict[str, Any]:
    for e in obj["metadata"]["managedFields"]:
        if e["manager"] == manager and e["operation"] == operation:
            return dict(e)
    raise AssertionError(f"no {operation} entry for {manager}: {entries(obj)}")


# --- record_update ---------------------------------------------------------------------------


def test_create_records_the_client_side_apply_entry_of_the_wire_reference() -> None:
    obj = configmap(
        {"a": "1"},
        labels={"app": "x"},
        annotations={LAST_APPLIED_ANNOTATION: "{}\n"},
    )
    new = copy.deepcopy(obj)
    record_update(
        None, new, manager="kubectl-client-side-apply", types=CONFIGMAP, api_version="v1", now=T0
    )
    assert new["metadata"]["managedFields"] == [
        {
            "manager": "kubectl-client-side-apply",
            "operation": "Update",
            "apiVersion": "v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {
                "f:data": {".": {}, "f:a": {}},
                "f:metadata": {
                    "f:annotations": {".": {}, f"f:{LAST_APPLIED_ANNOTATION}": {}},
                    "f:labels": {".": {}, "f:app": {}},
                },
            },
        }
    ]
    assert {k: v for k, v in new.items() if k != "metadata"} == {
        k: v for k, v in obj.items() if k != "metadata"
    }


def test_create_of_a_builtin_counts_go_zero_structs_as_present() -> None:
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "labels": {"app": "d"}},
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    obj = created(deployment, "kubectl-create", types=DEPLOYMENT)
    assert entry(obj, "kubectl-create")["fieldsV1"] == {
        "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
        "f:spec": {
            "f:replicas": {},
            "f:selector": {},
            "f:template": {
                "f:metadata": {"f:labels": {".": {}, "f:app": {}}},
                "f:spec": {
                    "f:containers": {
                        'k:{"name":"c"}': {
                            ".": {},
                            "f:image": {},
                            "f:name": {},
                            "f:resources": {},
                        }
                    }
                },
            },
        },
    }


def test_create_of_a_custom_resource_owns_spec_itself() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    widget["spec"] = {"size": 1}
    obj = created(widget, "kubectl-create", types=WIDGET)
    assert entry(obj, "kubectl-create")["fieldsV1"] == {"f:spec": {".": {}, "f:size": {}}}


_PORT = {
    "type": "object",
    "properties": {
        "containerPort": {"type": "integer"},
        "protocol": {"type": "string", "default": "TCP"},
        "name": {"type": "string"},
    },
}
WORKLOAD = inline_types(
    {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "replicas": {"type": "integer"},
                    "selector": {"type": "object", "x-kubernetes-map-type": "atomic"},
                    "containers": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            "properties": {
                                "name": {"type": "string"},
                                "image": {"type": "string"},
                                "args": {"type": "array", "items": {"type": "string"}},
                                "ports": {
                                    "type": "array",
                                    "x-kubernetes-list-type": "map",
                                    "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
                                    "items": _PORT,
                                },
                                "resources": {"x-kubernetes-preserve-unknown-fields": True},
                                "port": {"x-kubernetes-int-or-string": True},
                            },
                        },
                    },
                    "tags": {
                        "type": "array",
                        "x-kubernetes-list-type": "set",
                        "items": {"type": "string"},
                    },
                    "env": {"type": "object", "additionalProperties": {"type": "string"}},
                },
            },
        },
    }
)
_CONTAINER = {
    "name": "web",
    "image": "nginx",
    "args": ["a", "a"],
    "ports": [{"containerPort": 80}, {"containerPort": 80, "protocol": "UDP"}],
    "resources": {"limits": {"cpu": 1}, "requests": {}},
    "port": "http",
}
_WORKLOAD_OBJECT = {
    "apiVersion": "example.com/v1",
    "kind": "Workload",
    "metadata": {
        "name": "w",
        "namespace": "default",
        "labels": {"app": "web", "<&>": ""},
        "finalizers": ["b", "a"],
        "ownerReferences": [{"uid": "u-2", "name": "o", "kind": "K", "apiVersion": "v1"}],
        "annotations": {},
        "uid": "ignored",
    },
    "spec": {
        "replicas": 3,
        "selector": {"matchLabels": {"app": "web"}},
        "containers": [_CONTAINER, {"name": "sidecar"}, {"name": "web", "image": "repeated"}],
        "tags": ["z", "a", "z"],
        "env": {"B": "1", "A": "2"},
    },
    "status": {"ready": True, "conditions": [{"type": "Ready"}]},
}


@pytest.mark.parametrize(
    ("types", "obj"),
    [
        (CONFIGMAP, configmap({"a": "1", "b": ""}, labels={"x": "y"})),
        (DEPLOYMENT, {**copy.deepcopy(_WORKLOAD_OBJECT), "apiVersion": "apps/v1"}),
        (WORKLOAD, _WORKLOAD_OBJECT),
        (WORKLOAD, {**_WORKLOAD_OBJECT, "metadata": {"name": "w", "managedFields": []}}),
        (WORKLOAD, {"apiVersion": "example.com/v1", "kind": "W", "metadata": {"name": "w"}}),
        (WORKLOAD, {"apiVersion": "example.com/v1", "kind": "W", "spec": {"containers": [{}]}}),
        (WORKLOAD, {"apiVersion": "example.com/v1", "kind": "W", "metadata": None, "spec": {}}),
        (WIDGET, {"apiVersion": "example.com/v1", "kind": "Widget", "spec": {"size": 1}}),
        (inline_types({}), {"apiVersion": "example.com/v1", "kind": "X", "a": {"b": [1]}}),
    ],
)
def test_create_fast_path_writes_what_the_general_comparison_writes(
    types: Any, obj: dict[str, Any]
) -> None:
    # An ignored set that names nothing changes nothing but takes the general path.
    nothing = FieldSet.of(make_path("no-such-field"))
    fast, general = copy.deepcopy(obj), copy.deepcopy(obj)
    record_update(None, fast, manager="m", types=types, api_version="example.com/v1", now=T0)
    record_update(
        None,
        general,
        manager="m",
        types=types,
        api_version="example.com/v1",
        now=T0,
        ignored=nothing,
    )
    assert json.dumps(fast) == json.dumps(general)


def test_update_moves_changed_fields_to_the_writer() -> None:
    obj = created(configmap({"a": "1", "b": "2"}), "creator")
    new = updated(obj, configmap({"a": "changed", "b": "2"}), "editor")
    assert entries(new) == [
        ("creator", "Update", {"f:data": {".": {}, "f:b": {}}}),
        ("editor", "Update", {"f:data": {"f:a": {}}}),
    ]
    assert entry(new, "creator")["time"] == T0
    assert entry(new, "editor")["time"] == T1


def test_update_that_changes_nothing_records_nothing() -> None:
    obj = created(configmap({"a": "1"}), "creator")
    new = updated(obj, obj, "idle")
    assert new["metadata"]["managedFields"] == obj["metadata"]["managedFields"]


def test_update_by_the_same_manager_merges_and_restamps() -> None:
    obj = created(configmap({"a": "1"}), "creator")
    new = updated(obj, configmap({"a": "1", "b": "2"}), "creator", now=T2)
    assert entries(new) == [("creator", "Update", {"f:data": {".": {}, "f:a": {}, "f:b": {}}})]
    assert entry(new, "creator")["time"] == T2


def test_update_that_removes_a_field_takes_it_from_every_entry() -> None:
    obj = created(configmap({"a": "1", "b": "2"}), "creator")
    obj = updated(obj, configmap({"a": "x", "b": "2"}), "editor")
    new = updated(obj, configmap({"b": "2"}), "remover", now=T2)
    assert entries(new) == [("creator", "Update", {"f:data": {".": {}, "f:b": {}}})]


def test_update_entries_are_per_api_version_and_subresource() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    obj = created({**widget, "spec": {"size": 1}}, "ctrl", types=WIDGET)
    obj = updated(
        obj,
        {**obj, "status": {"ready": True}},
        "ctrl",
        types=WIDGET,
        subresource="status",
    )
    obj = updated(
        obj,
        {**obj, "apiVersion": "example.com/v2", "spec": {"size": 2}},
        "ctrl",
        types=WIDGET,
        now=T2,
    )
    assert [
        (e["apiVersion"], e.get("subresource", ""), e["time"], e["fieldsV1"])
        for e in obj["metadata"]["managedFields"]
    ] == [
        ("example.com/v1", "", T0, {"f:spec": {}}),
        ("example.com/v1", "status", T1, {"f:status": {".": {}, "f:ready": {}}}),
        ("example.com/v2", "", T2, {"f:spec": {"f:size": {}}}),
    ]


def test_managed_fields_sent_by_the_client_are_kept() -> None:
    """kubectl's CSA-to-SSA migration JSON-patches /metadata/managedFields and nothing else."""
    obj = created(configmap({"a": "1"}, labels={"app": "x"}), "kubectl-client-side-apply")
    csa = entry(obj, "kubectl-client-side-apply")
    migrated = {**csa, "manager": "kubectl", "operation": "Apply"}
    new = copy.deepcopy(obj)
    new["metadata"]["managedFields"] = [migrated]
    new = updated(obj, new, "kubectl", now=T2)
    assert new["metadata"]["managedFields"] == [migrated]


def test_an_empty_managed_fields_list_resets_them() -> None:
    obj = created(configmap({"a": "1"}), "creator")
    new = copy.deepcopy(obj)
    new["metadata"]["managedFields"] = []
    assert "managedFields" not in updated(obj, new, "resetter")["metadata"]
    new["metadata"]["managedFields"] = [{}]
    assert "managedFields" not in updated(obj, new, "resetter")["metadata"]


def test_undecodable_managed_fields_from_the_client_fall_back_to_the_live_ones() -> None:
    obj = created(configmap({"a": "1"}), "creator")
    new = copy.deepcopy(obj)
    new["metadata"]["managedFields"] = [{"manager": "x", "operation": "Bogus"}]
    assert (
        updated(obj, new, "other")["metadata"]["managedFields"]
        == (obj["metadata"]["managedFields"])
    )


def test_subresource_writes_ignore_the_client_managed_fields() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    obj = created({**widget, "spec": {"size": 1}}, "creator", types=WIDGET)
    new = copy.deepcopy(obj)
    new["metadata"]["managedFields"] = []
    new["status"] = {"ready": True}
    new = updated(obj, new, "ctrl", types=WIDGET, subresource="status")
    assert [e["manager"] for e in new["metadata"]["managedFields"]] == ["creator", "ctrl"]


def test_an_object_without_managed_fields_stays_without() -> None:
    old = stored(configmap({"a": "1"}))
    new = updated(old, configmap({"a": "2"}), "editor")
    assert "managedFields" not in new["metadata"]


def test_more_than_ten_update_managers_merge_the_oldest_into_ancient_changes() -> None:
    obj = created(configmap({"k0": "v"}), "m00")
    for i in range(1, 11):
        data = {f"k{j}": "v" for j in range(i + 1)}
        obj = stored(updated(obj, configmap(data), f"m{i:02d}", now=f"2026-01-01T00:{i:02d}:00Z"))
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == 10
    assert managers[0] == "ancient-changes"
    assert "m00" not in managers
    assert "m01" not in managers
    ancient = entry(obj, "ancient-changes")
    assert ancient["fieldsV1"] == {"f:data": {".": {}, "f:k0": {}, "f:k1": {}}}
    assert ancient["time"] == "2026-01-01T00:01:00Z"


def test_an_existing_ancient_changes_entry_keeps_collecting_the_oldest_updates() -> None:
    def update_entry(manager: str, minute: int) -> dict[str, Any]:
        return {
            "manager": manager,
            "operation": "Update",
            "apiVersion": "v1",
            "time": f"2026-01-01T00:{minute:02d}:00Z",
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {f"f:{manager}": {}}},
        }

    minutes = {"old": 0, "ancient-changes": 5, **{f"m{i:02d}": i for i in range(6, 15)}}
    live = stored(configmap(dict.fromkeys(minutes, "v")))
    live["metadata"]["managedFields"] = [update_entry(m, t) for m, t in minutes.items()]
    obj = updated(
        live, {**live, "data": {**live["data"], "m15": "v"}}, "m15", now="2026-01-01T00:30:00Z"
    )
    managers = [e["manager"] for e in obj["metadata"]["managedFields"]]
    assert len(managers) == 10
    assert "old" in managers
    assert "m06" not in managers
    assert "m07" not in managers
    assert entry(obj, "ancient-changes")["fieldsV1"] == {
        "f:data": {"f:ancient-changes": {}, "f:m06": {}, "f:m07": {}}
    }


def test_record_update_never_raises_and_keeps_the_live_entries() -> None:
    old = created(configmap({"a": "1"}), "creator")
    broken = configmap({"a": "1"})
    broken["metadata"]["finalizers"] = [{"not": "a string"}]
    new = updated(old, broken, "editor")
    assert new["metadata"]["managedFields"] == old["metadata"]["managedFields"]


# --- apply -----------------------------------------------------------------------------------


def test_apply_creates_the_object_with_an_apply_entry() -> None:
    config = configmap({"a": "1"}, labels={"app": "x"})
    obj = apply(
        None, config, manager="kubectl", force=False, types=CONFIGMAP, api_version="v1", now=T0
    )
    assert obj["metadata"].pop("managedFields") == [
        {
            "manager": "kubectl",
            "operation": "Apply",
            "apiVersion": "v1",
            "time": T0,
            "fieldsType": "FieldsV1",
            "fieldsV1": {"f:data": {"f:a": {}}, "f:metadata": {"f:labels": {"f:app": {}}}},
        }
    ]
    assert obj == config


def test_apply_merges_into_the_live_object_and_leaves_the_inputs_alone() -> None:
    live = created(configmap({"a": "1"}), "creator")
    before = copy.deepcopy(live)
    config = configmap({"b": "2"})
    obj = applied(live, config, "kubectl")
    assert obj["data"] == {"a": "1", "b": "2"}
    assert live == before
    assert config == configmap({"b": "2"})
    assert entries(obj) == [
        ("kubectl", "Apply", {"f:data": {"f:b": {}}}),
        ("creator", "Update", {"f:data": {".": {}, "f:a": {}}}),
    ]


def test_one_conflict_has_the_apiserver_wording() -> None:
    live = created(configmap({"a": "1"}), "creator")
    with pytest.raises(ApplyConflict) as caught:
        applied(live, configmap({"a": "2"}), "kubectl")
    conflict = caught.value
    assert conflict.code == 409
    assert conflict.reason == "Conflict"
    expected = 'Apply failed with 1 conflict: conflict with "creator" using v1: .data.a'
    assert conflict.message() == expected
    assert conflict.message == expected
    assert str(conflict) == expected
    assert conflict.conflicts == [('"creator" using v1', ".data.a")]
    assert conflict.causes() == [
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "creator" using v1',
            "field": ".data.a",
        }
    ]
    assert conflict.details() == {"causes": conflict.causes()}


def test_many_conflicts_are_grouped_by_sorted_manager() -> None:
    live = created(configmap({"a": "1", "c": "3"}), "alpha")
    live = applied(live, configmap({"b": "2"}), "beta")
    with pytest.raises(ApplyConflict) as caught:
        applied(live, configmap({"a": "x", "b": "x", "c": "x"}), "gamma")
    assert caught.value.message() == (
        "Apply failed with 3 conflicts: "
        'conflicts with "alpha" using v1:\n'
        "- .data.a\n"
        "- .data.c\n"
        'conflicts with "beta":\n'
        "- .data.b"
    )
    assert [c["field"] for c in caught.value.causes()] == [".data.a", ".data.c", ".data.b"]


def test_conflicts_with_subresource_managers_name_the_subresource() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    live = created({**widget, "spec": {"size": 1}}, "creator", types=WIDGET)
    live = stored(
        updated(
            live, {**live, "status": {"ready": True}}, "ctrl", types=WIDGET, subresource="status"
        )
    )
    config = {**widget, "status": {"ready": False}}
    with pytest.raises(ApplyConflict) as caught:
        applied(live, config, "me", types=WIDGET)
    assert caught.value.message() == (
        'Apply failed with 1 conflict: conflict with "ctrl" with subresource "status" '
        "using example.com/v1: .status.ready"
    )
    status_applier = applied(
        live, config, "status-applier", types=WIDGET, subresource="status", force=True
    )
    with pytest.raises(ApplyConflict) as again:
        applied(status_applier, {**widget, "status": {"ready": True}}, "me", types=WIDGET)
    assert again.value.conflicts == [
        ('"status-applier" with subresource "status"', ".status.ready")
    ]


def test_force_takes_the_field_over() -> None:
    live = created(configmap({"a": "1", "b": "2"}), "creator")
    obj = applied(live, configmap({"a": "2"}), "kubectl", force=True)
    assert obj["data"] == {"a": "2", "b": "2"}
    assert entries(obj) == [
        ("kubectl", "Apply", {"f:data": {"f:a": {}}}),
        ("creator", "Update", {"f:data": {".": {}, "f:b": {}}}),
    ]


def test_a_dropped_field_is_removed() -> None:
    obj = applied(None, configmap({"a": "1", "b": "2"}), "kubectl")
    obj = applied(obj, configmap({"a": "1"}), "kubectl", now=T2)
    assert obj["data"] == {"a": "1"}
    assert entries(obj) == [("kubectl", "Apply", {"f:data": {"f:a": {}}})]
    obj = applied(obj, configmap(), "kubectl", now=T3)
    assert "data" not in obj
    assert "managedFields" not in obj["metadata"]


def test_a_field_shared_with_another_manager_is_not_removed() -> None:
    obj = applied(None, configmap({"a": "1"}), "one")
    obj = applied(obj, configmap({"a": "1"}), "two")
    # "two" changed nothing: as upstream, its new entry has no time (so it sorts first).
    assert entries(obj) == [
        ("two", "Apply", {"f:data": {"f:a": {}}}),
        ("one", "Apply", {"f:data": {"f:a": {}}}),
    ]
    assert "time" not in entry(obj, "two", "Apply")
    obj = applied(obj, configmap({"b": "2"}), "one", now=T2)
    assert obj["data"] == {"a": "1", "b": "2"}
    obj = applied(obj, configmap(), "two", now=T3)
    assert obj["data"] == {"b": "2"}


def test_a_field_an_update_owns_too_is_not_removed() -> None:
    live = created(configmap({"a": "1"}), "creator")
    obj = applied(live, configmap({"a": "1"}), "kubectl")
    obj = applied(obj, configmap({"b": "2"}), "kubectl", now=T2)
    assert obj["data"] == {"a": "1", "b": "2"}


def test_labels_and_finalizers() -> None:
    obj = applied(None, configmap(labels={"a": "1", "b": "2"}, finalizers=["x"]), "one")
    obj = applied(obj, configmap(finalizers=["y"]), "two")
    assert obj["metadata"]["finalizers"] == ["x", "y"]
    obj = applied(obj, configmap(labels={"a": "1"}), "one", now=T2)
    assert obj["metadata"]["labels"] == {"a": "1"}
    assert obj["metadata"]["finalizers"] == ["y"]
    assert entry(obj, "two", "Apply")["fieldsV1"] == {"f:metadata": {"f:finalizers": {'v:"y"': {}}}}
    obj = applied(obj, configmap(), "one", now=T3)
    assert "labels" not in obj["metadata"]


def test_owner_references_merge_by_uid() -> None:
    owner = {"apiVersion": "v1", "kind": "Secret", "name": "s", "uid": "u-s"}
    obj = applied(None, configmap(ownerReferences=[owner]), "gc")
    other = {**owner, "name": "t", "uid": "u-t"}
    obj = applied(obj, configmap(ownerReferences=[other]), "other")
    assert [o["uid"] for o in obj["metadata"]["ownerReferences"]] == ["u-s", "u-t"]
    assert entry(obj, "gc", "Apply")["fieldsV1"] == {
        "f:metadata": {"f:ownerReferences": {'k:{"uid":"u-s"}': {}}}
    }


def deployment(*containers: dict[str, Any], replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d", "namespace": "default"},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "d"}},
            "template": {
                "metadata": {"labels": {"app": "d"}},
                "spec": {"containers": list(containers)},
            },
        },
    }


def containers_of(obj: dict[str, Any]) -> list[dict[str, Any]]:
    result: list[dict[str, Any]] = obj["spec"]["template"]["spec"]["containers"]
    return result


def test_deployment_containers_merge_by_name_and_ports_by_port_and_protocol() -> None:
    web = {
        "name": "web",
        "image": "nginx:1",
        "ports": [{"containerPort": 80}, {"containerPort": 443, "protocol": "TCP"}],
    }
    side = {"name": "side", "image": "busybox"}
    obj = applied(None, deployment(web, side), "kubectl", types=DEPLOYMENT)
    fields = entry(obj, "kubectl", "Apply")["fieldsV1"]
    web_fields = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert web_fields == {
        ".": {},
        "f:image": {},
        "f:name": {},
        "f:ports": {
            'k:{"containerPort":443,"protocol":"TCP"}': {
                ".": {},
                "f:containerPort": {},
                "f:protocol": {},
            },
            'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}},
        },
    }
    # Another manager adds a port with another protocol: same containerPort, another key.
    udp = {"name": "web", "ports": [{"containerPort": 80, "protocol": "UDP"}]}
    obj = applied(obj, deployment(udp), "dns", types=DEPLOYMENT)
    assert [p.get("protocol") for p in containers_of(obj)[0]["ports"]] == [None, "TCP", "UDP"]
    # kubectl drops the sidecar and port 443 and changes the image.
    web2 = {"name": "web", "image": "nginx:2", "ports": [{"containerPort": 80}]}
    obj = applied(obj, deployment(web2), "kubectl", types=DEPLOYMENT, now=T2)
    assert containers_of(obj) == [
        {
            "name": "web",
            "image": "nginx:2",
            "ports": [{"containerPort": 80}, {"containerPort": 80, "protocol": "UDP"}],
        }
    ]


def test_merged_lists_follow_the_applied_order_and_keep_live_only_items_in_place() -> None:
    a, b, c = ({"name": n, "image": n} for n in "abc")
    live = created(deployment(a, b), "creator", types=DEPLOYMENT)
    obj = applied(live, deployment(c, a), "kubectl", types=DEPLOYMENT)
    assert [x["name"] for x in containers_of(obj)] == ["c", "a", "b"]
    # Shared items take the applied order; "b" stays right after the item it followed.
    obj = applied(obj, deployment(a, c), "kubectl", types=DEPLOYMENT, now=T2)
    assert [x["name"] for x in containers_of(obj)] == ["a", "b", "c"]


def test_apply_to_an_object_without_managed_fields_conflicts_with_before_first_apply() -> None:
    live = stored(configmap({"a": "1"}))
    with pytest.raises(ApplyConflict) as caught:
        applied(live, configmap({"a": "2"}), "me")
    assert caught.value.message() == (
        'Apply failed with 1 conflict: conflict with "before-first-apply" using v1: .data.a'
    )
    obj = applied(live, configmap({"b": "2"}), "me")
    assert [(e["manager"], e["operation"]) for e in obj["metadata"]["managedFields"]] == [
        ("me", "Apply"),
        ("before-first-apply", "Update"),
    ]


def client_side_applied(data: dict[str, Any]) -> dict[str, Any]:
    """A configmap as ``kubectl apply`` (client-side) creates it, annotation included."""
    manifest = configmap(data)
    annotation = '{"apiVersion":"v1","data":' + _compact(data) + ',"kind":"ConfigMap",'
    annotation += '"metadata":{"annotations":{},"name":"x","namespace":"default"}}\n'
    obj = configmap(data, annotations={LAST_APPLIED_ANNOTATION: annotation})
    assert manifest["data"] == obj["data"]
    return created(obj, "kubectl-client-side-apply")


def _compact(value: dict[str, Any]) -> str:
    return "{" + ",".join(f'"{k}":"{v}"' for k, v in sorted(value.items())) + "}"


def test_kubectl_server_side_apply_takes_over_what_client_side_apply_set() -> None:
    live = client_side_applied({"a": "1", "b": "2"})
    obj = applied(live, configmap({"a": "changed", "b": "2"}), "kubectl")
    assert obj["data"] == {"a": "changed", "b": "2"}
    assert entries(obj)[0] == ("kubectl", "Apply", {"f:data": {"f:a": {}, "f:b": {}}})
    assert entry(obj, "kubectl-client-side-apply")["fieldsV1"]["f:data"] == {".": {}, "f:b": {}}
    annotation = obj["metadata"]["annotations"][LAST_APPLIED_ANNOTATION]
    assert annotation == (
        '{"apiVersion":"v1","data":{"a":"changed","b":"2"},"kind":"ConfigMap",'
        '"metadata":{"name":"x","namespace":"default"}}\n'
    )


def test_other_managers_get_the_conflict_with_client_side_apply() -> None:
    live = client_side_applied({"a": "1"})
    with pytest.raises(ApplyConflict) as caught:
        applied(live, configmap({"a": "changed"}), "helm")
    assert caught.value.conflicts == [('"kubectl-client-side-apply" using v1', ".data.a")]


def test_client_side_apply_fields_the_annotation_no_longer_matches_still_conflict() -> None:
    live = client_side_applied({"a": "1"})
    live = updated(live, {**live, "data": {"a": "edited"}}, "kubectl-client-side-apply")
    with pytest.raises(ApplyConflict) as caught:
        applied(stored(live), configmap({"a": "changed"}), "kubectl")
    assert caught.value.conflicts == [('"kubectl-client-side-apply" using v1', ".data.a")]


def test_csa_upgrade_then_server_side_apply_prunes_what_was_client_side_applied() -> None:
    live = client_side_applied({"a": "1", "b": "2"})
    csa = entry(live, "kubectl-client-side-apply")
    patched = copy.deepcopy(live)
    patched["metadata"]["managedFields"] = [{**csa, "manager": "kubectl", "operation": "Apply"}]
    upgraded = stored(updated(live, patched, "kubectl"))
    assert entries(upgraded) == [("kubectl", "Apply", csa["fieldsV1"])]
    obj = applied(upgraded, configmap({"a": "1"}), "kubectl", now=T2)
    assert obj["data"] == {"a": "1"}
    assert entries(obj) == [("kubectl", "Apply", {"f:data": {"f:a": {}}})]


def test_the_last_applied_annotation_is_only_written_for_kubectl_when_present() -> None:
    obj = applied(None, configmap({"a": "1"}), "kubectl")
    assert "annotations" not in obj["metadata"]
    live = client_side_applied({"a": "1"})
    obj = applied(live, configmap({"a": "1", "b": "2"}), "helm")
    assert obj["metadata"]["annotations"] == live["metadata"]["annotations"]


def test_apply_checks_the_applied_type() -> None:
    with pytest.raises(ApplyBadRequestError) as wrong_version:
        applied(None, {**configmap(), "apiVersion": "v2"}, "me", api_version="v1")
    assert wrong_version.value.code == 400
    assert wrong_version.value.message == "invalid object type: /v2, Kind=ConfigMap"
    with pytest.raises(ApplyBadRequestError, match=r"^invalid object type: /v1, Kind=Secret$"):
        applied(None, {**configmap(), "kind": "Secret"}, "me", kind="ConfigMap")
    with pytest.raises(ApplyBadRequestError, match=r"^metadata.managedFields must be nil$"):
        applied(None, configmap(managedFields=[]), "me")


def test_apply_refuses_what_structured_merge_diff_cannot_type() -> None:
    config = {**configmap({"a": "1"}), "extra": True}
    with pytest.raises(ManagedFieldsError) as caught:
        applied(None, config, "me")
    assert caught.value.code == 500
    assert caught.value.reason == ""
    assert caught.value.message == (
        "failed to create typed patch object (default/x; /v1, Kind=ConfigMap): "
        ".extra: field not declared in schema"
    )
    twice = {"name": "c", "image": "x"}
    with pytest.raises(ManagedFieldsError) as several:
        applied(None, {"bogus": 1, **deployment(twice, twice)}, "me", types=DEPLOYMENT)
    assert several.value.message == (
        "failed to create typed patch object (default/d; apps/v1, Kind=Deployment): errors:\n"
        "  .bogus: field not declared in schema\n"
        '  .spec.template.spec.containers: duplicate entries for key [name="c"]'
    )


def test_an_applied_null_clears_the_field_and_keeps_it_owned() -> None:
    live = applied(None, configmap({"a": "1", "b": "2"}), "one")
    obj = applied(live, configmap({"a": None}), "two", force=True)
    assert obj["data"] == {"b": "2"}
    assert entry(obj, "two", "Apply")["fieldsV1"] == {"f:data": {"f:a": {}}}


def test_an_apply_that_changes_nothing_keeps_the_time() -> None:
    obj = applied(None, configmap({"a": "1"}), "kubectl", now=T1)
    again = applied(obj, configmap({"a": "1"}), "kubectl", now=T2)
    assert entry(again, "kubectl", "Apply")["time"] == T1
    assert again["data"] == obj["data"]


def test_reset_fields_are_neither_owned_nor_taken() -> None:
    widget = {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}
    status = FieldSet.of(make_path("status"))
    live = created({**widget, "spec": {"size": 1}}, "creator", types=WIDGET)
    live = stored(
        updated(
            live, {**live, "status": {"ready": True}}, "ctrl", types=WIDGET, subresource="status"
        )
    )
    obj = applied(
        live,
        {**widget, "spec": {"size": 1}, "status": {"ready": False}},
        "kubectl",
        types=WIDGET,
        ignored=status,
    )
    assert entry(obj, "kubectl", "Apply")["fieldsV1"] == {"f:spec": {"f:size": {}}}
    assert entry(obj, "ctrl")["fieldsV1"] == {"f:status": {".": {}, "f:ready": {}}}


def test_entries_are_sorted_apply_first_then_by_time_and_manager() -> None:
    obj = created(configmap({"a": "1"}), "zeta")
    obj = stored(updated(obj, configmap({"a": "1", "b": "2"}), "alpha", now=T2))
    obj = applied(obj, configmap({"c": "3"}), "mid", now=T3)
    obj = applied(obj, configmap({"d": "4"}), "early", now=T1)
    assert [(e["manager"], e["operation"]) for e in obj["metadata"]["managedFields"]] == [
        ("early", "Apply"),
        ("mid", "Apply"),
        ("zeta", "Update"),
        ("alpha", "Update"),
    ]


def test_system_metadata_is_never_owned_nor_pruned() -> None:
    config = configmap({"a": "1"})
    obj = applied(None, config, "kubectl")
    assert entries(obj) == [("kubectl", "Apply", {"f:data": {"f:a": {}}})]
    bare = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "x"}}
    obj = applied(obj, bare, "kubectl", now=T2)
    assert obj["metadata"]["namespace"] == "default"
    assert obj["metadata"]["uid"] == "u-1"
    assert obj["apiVersion"] == "v1"


# --- helpers for the server --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("agent", "manager"),
    [
        ("kubectl/v1.32.0 (linux/amd64) kubernetes/abc", "kubectl"),
        ("OpenAPI-Generator/37.0.0/python", "OpenAPI-Generator"),
        ("Go-http-client/2.0", "Go-http-client"),
        ("bad\x07agent/1", "badagent"),
        ("", ""),
        ("x" * 200, "x" * 128),
        ("é" * 100, "é" * 64),
    ],
)
def test_default_manager_is_the_user_agent_prefix(agent: str, manager: str) -> None:
    assert default_manager(agent) == manager


def test_validate_managed_fields() -> None:
    good = {"manager": "m", "operation": "Update", "apiVersion": "v1", "fieldsType": "FieldsV1"}
    assert validate_managed_fields([good]) == []
    assert validate_managed_fields(None) == []
    bad = [
        {**good, "operation": "Patch", "fieldsType": "FieldsV2"},
        {**good, "manager": "m" * 129, "subresource": "s" * 257},
        {**good, "manager": "a\x01b"},
    ]
    assert validate_managed_fields(bad) == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "Patch": must be `Apply` or `Update`',
            "field": "metadata.managedFields[0].operation",
        },
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "FieldsV2": must be `FieldsV1`',
            "field": "metadata.managedFields[0].fieldsType",
        },
        {
            "reason": "FieldValueTooLong",
            "message": "Too long: must have at most 128 bytes",
            "field": "metadata.managedFields[1].manager",
        },
        {
            "reason": "FieldValueTooLong",
            "message": "Too long: must have at most 256 bytes",
            "field": "metadata.managedFields[1].subresource",
        },
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "a\\x01b": invalid character U+0001 (at index 1)',
            "field": "metadata.managedFields[2].manager",
        },
    ]
