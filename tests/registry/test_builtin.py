"""The built-in kinds of a workspace: what is served, under which names, ids and schemas.

Facts are checked against real data: the 2022 kcp API surface (kcp-behaviour.md section 3), the
names the 1.35 apiserver's discovery reports, and the committed OpenAPI bundle.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from kcp_edge.registry.builtin import (
    BUILTIN_KINDS,
    kube_version_key,
    lookup_kind,
    lookup_resource,
    served_group_versions,
)
from kcp_edge.registry.kinds import ALL_VERBS, ResourceKind
from kcp_edge.registry.openapi_data import bundled_documents, component_schemas, kind_schema

# The storage ids are part of the on-disk key layout: changing one orphans stored objects.
STORAGE_IDS = {
    ("", "namespaces"): 1,
    ("", "configmaps"): 2,
    ("", "secrets"): 3,
    ("", "serviceaccounts"): 4,
    ("", "events"): 5,
    ("", "limitranges"): 6,
    ("", "resourcequotas"): 7,
    ("events.k8s.io", "events"): 5,  # shares core/v1 Events' storage (8 is retired)
    ("coordination.k8s.io", "leases"): 9,
    ("rbac.authorization.k8s.io", "roles"): 10,
    ("rbac.authorization.k8s.io", "rolebindings"): 11,
    ("rbac.authorization.k8s.io", "clusterroles"): 12,
    ("rbac.authorization.k8s.io", "clusterrolebindings"): 13,
    ("certificates.k8s.io", "certificatesigningrequests"): 14,
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): 15,
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): 16,
    ("apiextensions.k8s.io", "customresourcedefinitions"): 17,
}


STORED = tuple(k for k in BUILTIN_KINDS if k.storage_id)
"""The stored kinds (the review APIs are answered, never stored)."""
REVIEWS = {
    ("authentication.k8s.io", "selfsubjectreviews"),
    ("authentication.k8s.io", "tokenreviews"),
    ("authorization.k8s.io", "localsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectaccessreviews"),
    ("authorization.k8s.io", "selfsubjectrulesreviews"),
    ("authorization.k8s.io", "subjectaccessreviews"),
}


def kind(group: str, resource: str) -> ResourceKind:
    found = [k for k in BUILTIN_KINDS if (k.group, k.resource) == (group, resource)]
    assert len(found) == 1
    return found[0]


def test_a_workspace_serves_the_generic_control_plane_and_not_workloads() -> None:
    served = {(k.group, k.resource) for k in BUILTIN_KINDS}
    assert served == set(STORAGE_IDS) | REVIEWS
    assert all(k.verbs == ("create",) for k in BUILTIN_KINDS if not k.storage_id)
    for group, resource in (("", "pods"), ("", "services"), ("apps", "deployments"), ("", "nodes")):
        assert (group, resource) not in served


def test_storage_ids_are_unique_small_and_never_change() -> None:
    assert {(k.group, k.resource): k.storage_id for k in STORED} == STORAGE_IDS
    shared = {i for i, n in Counter(k.storage_id for k in STORED).items() if n > 1}
    assert shared == {5}  # Events, served through core/v1 and events.k8s.io/v1
    assert 8 not in {k.storage_id for k in STORED}  # retired: never given to another kind


def test_short_names_and_categories_are_those_of_real_discovery() -> None:
    short = {(k.group, k.resource): k.short_names for k in BUILTIN_KINDS if k.short_names}
    assert short == {
        ("", "namespaces"): ("ns",),
        ("", "configmaps"): ("cm",),
        ("", "serviceaccounts"): ("sa",),
        ("", "events"): ("ev",),
        ("", "limitranges"): ("limits",),
        ("", "resourcequotas"): ("quota",),
        ("events.k8s.io", "events"): ("ev",),
        ("certificates.k8s.io", "certificatesigningrequests"): ("csr",),
        ("apiextensions.k8s.io", "customresourcedefinitions"): ("crd", "crds"),
    }
    categories = {(k.group, k.resource): k.categories for k in BUILTIN_KINDS if k.categories}
    assert categories == {
        ("admissionregistration.k8s.io", "mutatingwebhookconfigurations"): ("api-extensions",),
        ("admissionregistration.k8s.io", "validatingwebhookconfigurations"): ("api-extensions",),
        ("apiextensions.k8s.io", "customresourcedefinitions"): ("api-extensions",),
    }


def test_verbs_scope_and_subresources() -> None:
    assert kind("", "namespaces").verbs == tuple(v for v in ALL_VERBS if v != "deletecollection")
    assert all(k.verbs == ALL_VERBS for k in STORED if k.resource != "namespaces")
    assert all(list(k.verbs) == sorted(k.verbs) for k in BUILTIN_KINDS)
    subresources = {(k.group, k.resource): k.subresources for k in BUILTIN_KINDS if k.subresources}
    assert subresources == {
        ("", "namespaces"): ("finalize", "status"),
        ("", "resourcequotas"): ("status",),
        ("", "serviceaccounts"): ("token",),
        ("certificates.k8s.io", "certificatesigningrequests"): ("approval", "status"),
        ("apiextensions.k8s.io", "customresourcedefinitions"): ("status",),
    }
    cluster_scoped = {k.resource for k in STORED if not k.namespaced}
    assert cluster_scoped == {
        "namespaces",
        "clusterroles",
        "clusterrolebindings",
        "certificatesigningrequests",
        "mutatingwebhookconfigurations",
        "validatingwebhookconfigurations",
        "customresourcedefinitions",
    }
    assert all(k.singular == k.kind.lower() for k in BUILTIN_KINDS)


def test_every_kind_has_its_schema_in_the_bundled_documents() -> None:
    for k in BUILTIN_KINDS:
        schema = kind_schema(k)
        assert schema is not None, k.qualified
        gvk = {"group": k.group, "kind": k.kind, "version": k.version}
        assert gvk in schema["x-kubernetes-group-version-kind"]
        assert "metadata" in schema["properties"]
        schemas = component_schemas(group=k.group, version=k.version)
        assert (f"{k.schema}List" in schemas) == bool(k.storage_id)  # reviews have no lists


def test_every_kind_has_a_patch_operation_with_field_validation_in_its_document() -> None:
    for k in STORED:
        key = f"apis/{k.group}/{k.version}" if k.group else f"api/{k.version}"
        scope = "namespaces/{namespace}/" if k.namespaced else ""
        item = bundled_documents()[key]["paths"][f"{k.api_prefix}/{scope}{k.resource}/{{name}}"]
        parameters = {p["name"] for p in item["patch"]["parameters"]}
        assert {"fieldValidation", "fieldManager", "dryRun", "force"} <= parameters
        assert item["patch"]["x-kubernetes-group-version-kind"]["kind"] == k.kind


def walk(value: Any) -> Any:
    if isinstance(value, dict):
        yield value
        for sub in value.values():
            yield from walk(sub)
    elif isinstance(value, list):
        for sub in value:
            yield from walk(sub)


@pytest.mark.parametrize("key", sorted(bundled_documents()))
def test_bundled_documents_are_stripped_and_have_no_dangling_references(key: str) -> None:
    document = bundled_documents()[key]
    schemas = document.get("components", {}).get("schemas", {})
    for node in walk(document):
        assert not isinstance(node.get("description"), str)
        ref = node.get("$ref")
        if isinstance(ref, str):
            assert ref.startswith("#/components/schemas/")
            assert ref.removeprefix("#/components/schemas/") in schemas


def test_converted_documents_use_the_v3_layout_of_the_real_ones() -> None:
    events = bundled_documents()["apis/events.k8s.io/v1"]
    event = events["components"]["schemas"]["io.k8s.api.events.v1.Event"]
    # value structs get allOf + default {}, pointers only allOf, as openapi-gen writes them
    assert event["properties"]["metadata"]["default"] == {}
    assert event["properties"]["regarding"]["default"] == {}
    assert "default" not in event["properties"]["related"]
    assert "default" not in event["properties"]["series"]
    assert event["properties"]["series"]["allOf"] == [
        {"$ref": "#/components/schemas/io.k8s.api.events.v1.EventSeries"}
    ]
    # a component the real core/v1 document also has is taken from it unchanged
    core = bundled_documents()["api/v1"]["components"]["schemas"]
    assert (
        events["components"]["schemas"]["io.k8s.api.core.v1.ObjectReference"]
        == core["io.k8s.api.core.v1.ObjectReference"]
    )
    webhook = bundled_documents()["apis/admissionregistration.k8s.io/v1"]["components"]["schemas"][
        "io.k8s.api.admissionregistration.v1.MutatingWebhook"
    ]
    assert webhook["properties"]["name"]["default"] == ""
    assert "default" not in webhook["properties"]["sideEffects"]  # *SideEffectClass
    path = "/apis/certificates.k8s.io/v1/certificatesigningrequests/{name}"
    patch = bundled_documents()["apis/certificates.k8s.io/v1"]["paths"][path]["patch"]
    assert sorted(patch["requestBody"]["content"]) == [
        "application/apply-patch+cbor",
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ]
    assert sorted(patch["responses"]["200"]["content"]) == [
        "application/cbor",
        "application/json",
        "application/vnd.kubernetes.protobuf",
        "application/yaml",
    ]


def test_lookups_by_resource_and_by_kind() -> None:
    configmaps = lookup_resource(group="", version="v1", resource="configmaps")
    assert configmaps is not None
    assert configmaps.kind == "ConfigMap"
    assert lookup_kind(group="", version="v1", kind="ConfigMap") is configmaps
    events = lookup_kind(group="events.k8s.io", version="v1", kind="Event")
    assert events is not None
    assert events.qualified == "events.events.k8s.io"
    assert lookup_resource(group="", version="v1", resource="pods") is None
    assert lookup_resource(group="", version="v1", resource="cm") is None  # names, not aliases
    assert lookup_kind(group="apps", version="v1", kind="Deployment") is None


def test_group_versions_come_in_the_apiserver_priority_order() -> None:
    assert served_group_versions() == (
        ("", "v1"),
        ("events.k8s.io", "v1"),
        ("authentication.k8s.io", "v1"),
        ("authorization.k8s.io", "v1"),
        ("certificates.k8s.io", "v1"),
        ("rbac.authorization.k8s.io", "v1"),
        ("admissionregistration.k8s.io", "v1"),
        ("apiextensions.k8s.io", "v1"),
        ("coordination.k8s.io", "v1"),
    )


def extra_kind(group: str, version: str) -> ResourceKind:
    return ResourceKind(
        group=group,
        version=version,
        resource="things",
        singular="thing",
        kind="Thing",
        namespaced=True,
    )


def test_equal_priorities_sort_by_apiservice_name_and_crd_groups_come_last() -> None:
    kinds = (
        *BUILTIN_KINDS,
        extra_kind("apiextensions.k8s.io", "v1"),
        extra_kind("apps", "v1"),
        extra_kind("example.com", "v1alpha1"),
        extra_kind("example.com", "v1"),
        extra_kind("example.com", "v2beta1"),
        extra_kind("aaa.io", "v1"),
    )
    order = served_group_versions(kinds=kinds)
    assert order[:3] == (("", "v1"), ("apps", "v1"), ("events.k8s.io", "v1"))
    # same groupPriorityMinimum 16700: "v1.admissionregistration..." < "v1.apiextensions..."
    assert order.index(("admissionregistration.k8s.io", "v1")) + 1 == order.index(
        ("apiextensions.k8s.io", "v1")
    )
    # CRD groups (priority 1000) after every built-in; versions GA, then beta, then alpha
    assert order[-4:] == (
        ("aaa.io", "v1"),
        ("example.com", "v1"),
        ("example.com", "v2beta1"),
        ("example.com", "v1alpha1"),
    )


def test_kube_aware_version_order_matches_upstream_example() -> None:
    versions = [
        "v11alpha2",
        "foo10",
        "v1",
        "v12alpha1",
        "v10beta3",
        "foo1",
        "v2",
        "v10",
        "v3beta1",
        "v11beta2",
    ]
    assert sorted(versions, key=kube_version_key) == [
        "v10",
        "v2",
        "v1",
        "v11beta2",
        "v10beta3",
        "v3beta1",
        "v12alpha1",
        "v11alpha2",
        "foo1",
        "foo10",
    ]
