"""Field selectors behave as ``k8s.io/apimachinery/pkg/fields`` and the kinds' registries do.

Cases restate upstream's ``fields/selector_test.go`` (escaping, splitting, operators) and the
field label conversion functions of ``pkg/apis/core/v1/conversion.go`` and friends.
"""

from __future__ import annotations

from typing import Any

import pytest

from kcp_edge.apimachinery import fields
from kcp_edge.apimachinery.fields import FieldSelectorError, Requirement, UnsupportedFieldError

# An event as the kubelet writes it, and its events.k8s.io/v1 view.
PULLED: dict[str, Any] = {
    "kind": "Event",
    "apiVersion": "v1",
    "metadata": {"name": "web-1.17a3f0c2", "namespace": "default"},
    "involvedObject": {
        "kind": "Pod",
        "namespace": "default",
        "name": "web-1",
        "uid": "0b1c2d3e-aaaa-bbbb-cccc-000000000001",
        "apiVersion": "v1",
        "resourceVersion": "812",
        "fieldPath": "spec.containers{web}",
    },
    "reason": "Pulled",
    "message": 'Container image "nginx:1.27" already present on machine',
    "source": {"component": "kubelet", "host": "node-1"},
    "type": "Normal",
    "reportingComponent": "kubelet",
    "reportingInstance": "node-1",
}
PULLED_V1: dict[str, Any] = {
    "kind": "Event",
    "apiVersion": "events.k8s.io/v1",
    "metadata": {"name": "web-1.17a3f0c2", "namespace": "default"},
    "regarding": PULLED["involvedObject"],
    "reason": "Pulled",
    "note": PULLED["message"],
    "type": "Normal",
    "reportingController": "kubelet",
    "reportingInstance": "node-1",
    "deprecatedSource": {"component": "kubelet", "host": "node-1"},
}
DESCRIBE_QUERY = (
    "involvedObject.name=web-1,involvedObject.namespace=default,involvedObject.kind=Pod,"
    "involvedObject.uid=0b1c2d3e-aaaa-bbbb-cccc-000000000001"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", ()),
        ("a=b", (Requirement("a", "=", "b"),)),
        ("a==b", (Requirement("a", "==", "b"),)),
        ("a!=b", (Requirement("a", "!=", "b"),)),
        ("a=", (Requirement("a", "=", ""),)),
        ("c=d,a=b", (Requirement("a", "=", "b"), Requirement("c", "=", "d"))),
        ("a=b,,", (Requirement("a", "=", "b"),)),
        (r"x=a\,b", (Requirement("x", "=", "a,b"),)),
        (r"x=a\=b", (Requirement("x", "=", "a=b"),)),
        (r"x=a\\b", (Requirement("x", "=", "a\\b"),)),
        (r"x==\=b", (Requirement("x", "==", "=b"),)),
        (r"x!=\,\=\\", (Requirement("x", "!=", ",=\\"),)),
        ("x=a b", (Requirement("x", "=", "a b"),)),
    ],
)
def test_terms_are_split_unescaped_and_sorted(text: str, expected: tuple[Requirement, ...]) -> None:
    assert fields.parse_requirements(text) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("abc", "invalid selector: 'abc'; can't understand 'abc'"),
        ("a=b,c", "invalid selector: 'a=b,c'; can't understand 'c'"),
        ("a=b=c", "invalid field selector: unescaped character in value: 61"),
        (r"a=b\x", r"invalid field selector: invalid escape sequence: \x"),
        ("a=b\\", "invalid field selector: invalid escape sequence: \\"),
    ],
)
def test_malformed_selectors_give_upstream_messages(text: str, message: str) -> None:
    with pytest.raises(FieldSelectorError) as caught:
        fields.parse_requirements(text)
    assert str(caught.value) == message


def test_escaping_round_trips_through_the_string_form() -> None:
    value = r"a,b=c\d"
    selector = fields.parse(
        f"metadata.name={fields.escape_value(value)}", group="", resource="configmaps"
    )
    assert selector.requires_exact_match("metadata.name") == value
    assert str(selector) == r"metadata.name=a\,b\=c\\d"
    assert fields.unescape_value(fields.escape_value(value)) == value


def test_core_events_support_the_registered_labels() -> None:
    assert fields.supported_fields("", "events") == {
        "metadata.name",
        "metadata.namespace",
        "involvedObject.kind",
        "involvedObject.namespace",
        "involvedObject.name",
        "involvedObject.uid",
        "involvedObject.apiVersion",
        "involvedObject.resourceVersion",
        "involvedObject.fieldPath",
        "reason",
        "reportingComponent",
        "source",
        "type",
    }
    # events.k8s.io/v1 takes the core names and, through the field label conversion, its own
    # v1 names for the same fields (regarding.* for involvedObject.*, reportingController).
    v1_names = {
        f"regarding.{part}"
        for part in (
            "kind",
            "namespace",
            "name",
            "uid",
            "apiVersion",
            "resourceVersion",
            "fieldPath",
        )
    }
    assert fields.supported_fields("events.k8s.io", "events") == (
        fields.supported_fields("", "events") | v1_names | {"reportingController"}
    )


@pytest.mark.parametrize(
    ("group", "resource", "expected"),
    [
        ("", "secrets", {"metadata.name", "metadata.namespace", "type"}),
        ("", "namespaces", {"metadata.name", "status.phase"}),
        ("", "configmaps", {"metadata.name", "metadata.namespace"}),
        ("rbac.authorization.k8s.io", "clusterroles", {"metadata.name", "metadata.namespace"}),
        ("certificates.k8s.io", "certificatesigningrequests", {"metadata.name", "spec.signerName"}),
    ],
)
def test_supported_fields_per_kind(group: str, resource: str, expected: set[str]) -> None:
    assert fields.supported_fields(group, resource) == expected


@pytest.mark.parametrize(
    ("group", "resource", "text", "message"),
    [
        ("", "events", "foo=bar", "field label not supported: foo"),
        ("", "secrets", "data=x", "field label not supported: data"),
        ("", "namespaces", "metadata.namespace=x", "field label not supported: metadata.namespace"),
        ("", "configmaps", "data.a=b",
         '"data.a" is not a known field selector: only "metadata.name", "metadata.namespace"'),
        ("coordination.k8s.io", "leases", "spec.holderIdentity=x",
         '"spec.holderIdentity" is not a known field selector: only "metadata.name", '
         '"metadata.namespace"'),
    ],
)  # fmt: skip
def test_unsupported_labels_are_refused_with_the_kinds_wording(
    group: str, resource: str, text: str, message: str
) -> None:
    with pytest.raises(UnsupportedFieldError) as caught:
        fields.parse(text, group=group, resource=resource)
    assert str(caught.value) == message
    assert isinstance(caught.value, FieldSelectorError)


def test_the_first_unsupported_label_in_sorted_order_is_reported() -> None:
    with pytest.raises(UnsupportedFieldError) as caught:
        fields.parse("zeta=1,alpha=2,metadata.name=x", group="", resource="events")
    assert caught.value.label == "alpha"


def test_kubectl_describe_finds_the_events_of_its_object() -> None:
    selector = fields.parse(DESCRIBE_QUERY, group="", resource="events")
    assert selector.matches(PULLED)
    other_pod = {**PULLED, "involvedObject": {**PULLED["involvedObject"], "name": "web-2"}}
    assert not selector.matches(other_pod)


def test_events_k8s_io_labels_read_the_regarding_object() -> None:
    selector = fields.parse(DESCRIBE_QUERY, group="events.k8s.io", resource="events")
    assert selector.matches(PULLED_V1)
    assert fields.parse(
        "reportingComponent=kubelet", group="events.k8s.io", resource="events"
    ).matches(PULLED_V1)
    assert fields.parse("source=kubelet", group="events.k8s.io", resource="events").matches(
        PULLED_V1
    )


def test_event_source_falls_back_to_the_reporting_component() -> None:
    new_style = {key: value for key, value in PULLED.items() if key != "source"}
    selector = fields.parse("source=kubelet", group="", resource="events")
    assert selector.matches(PULLED)
    assert selector.matches(new_style)
    assert not selector.matches({**new_style, "reportingComponent": ""})


def test_not_equals_matches_objects_without_the_field() -> None:
    selector = fields.parse("type!=Opaque", group="", resource="secrets")
    assert selector.matches({"metadata": {"name": "s"}})
    assert selector.matches({"metadata": {"name": "s"}, "type": "kubernetes.io/tls"})
    assert not selector.matches({"metadata": {"name": "s"}, "type": "Opaque"})


def test_namespace_phase_and_names_select_namespaces() -> None:
    terminating = {"metadata": {"name": "old"}, "status": {"phase": "Terminating"}}
    assert fields.parse("status.phase=Terminating", group="", resource="namespaces").matches(
        terminating
    )
    assert not fields.parse("metadata.name=new", group="", resource="namespaces").matches(
        terminating
    )


def test_cluster_scoped_kinds_accept_an_empty_namespace_term() -> None:
    role = {"metadata": {"name": "view"}}
    rbac = "rbac.authorization.k8s.io"
    assert fields.parse("metadata.namespace=", group=rbac, resource="clusterroles").matches(role)
    assert not fields.parse("metadata.namespace=x", group=rbac, resource="clusterroles").matches(
        role
    )


def test_requires_exact_match_pins_names_for_get_watch() -> None:
    selector = fields.parse("metadata.name=x", group="", resource="configmaps")
    assert selector.requires_exact_match("metadata.name") == "x"
    assert (
        fields.parse("metadata.name!=x", group="", resource="configmaps").requires_exact_match(
            "metadata.name"
        )
        is None
    )
    assert fields.parse("", group="", resource="configmaps").empty


def test_custom_resources_follow_the_crd_selectable_fields() -> None:
    rules = fields.custom_resource_rules(
        namespaced=True, selectable_fields=[".spec.color", ".spec.size"]
    )
    assert rules.labels == {"metadata.name", "metadata.namespace", "spec.color", "spec.size"}
    widget = {
        "metadata": {"name": "w1", "namespace": "default"},
        "spec": {"color": "blue", "size": 3},
    }
    assert fields.compile_selector("spec.color=blue,spec.size=3", rules).matches(widget)
    with pytest.raises(UnsupportedFieldError) as caught:
        fields.compile_selector("spec.shape=round", rules)
    assert str(caught.value) == "field label not supported: spec.shape"


def test_cluster_scoped_custom_resources_refuse_metadata_namespace() -> None:
    rules = fields.custom_resource_rules(namespaced=False)
    with pytest.raises(UnsupportedFieldError) as caught:
        fields.compile_selector("metadata.namespace=x", rules)
    assert str(caught.value) == "field label not supported: metadata.namespace"


def test_simple_json_paths_compile_and_bad_ones_are_refused() -> None:
    get = fields.compile_json_path(".status.conditions[1]['type']")
    obj = {"status": {"conditions": [{"type": "A"}, {"type": "Ready"}]}}
    assert get(obj) == "Ready"
    assert get({"status": {}}) is None
    with pytest.raises(fields.JSONPathError):
        fields.compile_json_path(".spec[?(@.x)]")
