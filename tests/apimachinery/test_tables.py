"""Tables carry the columns and cells the 1.35 apiserver prints for each kind.

Durations restate ``k8s.io/apimachinery/pkg/util/duration/duration_test.go``; columns and cells
follow ``pkg/printers/internalversion/printers.go``; custom resources follow
``apiextensions-apiserver``'s ``tableconvertor``.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

import orjson
import pytest

from kcp_edge.apimachinery import tables
from kcp_edge.apimachinery.tables import TableError

NOW = datetime(2025, 6, 1, 12, 0, 0, tzinfo=timezone.utc)


def stamp(ago: timedelta, *, micro: bool = False) -> str:
    moment = NOW - ago
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ" if micro else "%Y-%m-%dT%H:%M:%SZ")


def meta(name: str, ago: timedelta, **extra: Any) -> dict[str, Any]:
    return {"name": name, "creationTimestamp": stamp(ago), **extra}


def columns(table: dict[str, Any]) -> list[tuple[str, str, str, int]]:
    return [(c["name"], c["type"], c["format"], c["priority"]) for c in table["columnDefinitions"]]


def cells(kind_key: str, obj: dict[str, Any]) -> list[Any]:
    row: list[Any] = tables.table_for(kind_key, [obj], now=NOW)["rows"][0]["cells"]
    return row


S, M, H, D = timedelta(seconds=1), timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)
MS, Y = timedelta(milliseconds=1), timedelta(days=365)


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (S, "1s"), (70 * S, "70s"), (190 * S, "3m10s"), (70 * M, "70m"), (47 * H, "47h"),
        (49 * H, "2d1h"), ((8 * 24 + 2) * H, "8d"), (367 * D, "367d"),
        (2 * Y + 25 * H, "2y1d"), (8 * Y + 2 * H, "8y"),
        (-2 * S, "<invalid>"), (-2 * S + timedelta(microseconds=1), "0s"), (timedelta(0), "0s"),
        (S - MS, "0s"), (2 * M - MS, "119s"), (2 * M, "2m"), (2 * M + S, "2m1s"),
        (10 * M - MS, "9m59s"), (10 * M, "10m"), (10 * M + S, "10m"), (3 * H - MS, "179m"),
        (3 * H, "3h"), (3 * H + M, "3h1m"), (8 * H - MS, "7h59m"), (8 * H, "8h"),
        (8 * H + 59 * M, "8h"), (2 * D - MS, "47h"), (2 * D, "2d"), (2 * D + H, "2d1h"),
        (8 * D - MS, "7d23h"), (8 * D, "8d"), (8 * D + 23 * H, "8d"), (2 * Y - MS, "729d"),
        (2 * Y, "2y"), (2 * Y + 23 * H + 59 * M, "2y"), (2 * Y + D - MS, "2y"),
        (2 * Y + D, "2y1d"), (2 * Y + 100 * D, "2y100d"), (3 * Y, "3y"), (7 * Y, "7y"),
        (8 * Y - MS, "7y364d"), (8 * Y, "8y"), (8 * Y + 364 * D, "8y"), (9 * Y, "9y"),
    ],
)  # fmt: skip
def test_human_duration_matches_upstream(delta: timedelta, text: str) -> None:
    assert tables.human_duration(delta) == text


def test_age_of_missing_future_and_odd_timestamps() -> None:
    assert tables.age(None, NOW) == "<unknown>"
    assert tables.age("", NOW) == "<unknown>"
    assert tables.age(stamp(-S), NOW) == "0s"
    assert tables.age(stamp(-3 * S), NOW) == "<invalid>"
    assert tables.age("2025-06-01T13:55:00+02:00", NOW) == "5m"
    assert tables.age("2025-06-01T11:59:15.123456Z", NOW) == "44s"
    assert tables.age(stamp(45 * S), NOW.replace(tzinfo=None)) == "45s"


def test_configmaps_count_data_and_binary_data() -> None:
    table = tables.table_for(
        "configmaps",
        [
            {
                "metadata": meta("app", 5 * M),
                "data": {"a": "1", "b": "2"},
                "binaryData": {"c": "AA=="},
            }
        ],
        now=NOW,
    )
    assert columns(table) == [
        ("Name", "string", "name", 0),
        ("Data", "string", "", 0),
        ("Age", "string", "", 0),
    ]
    assert table["rows"][0]["cells"] == ["app", 3, "5m"]


def test_secrets_namespaces_serviceaccounts_and_leases() -> None:
    secret = {
        "metadata": meta("tls", 51 * H),
        "type": "kubernetes.io/tls",
        "data": {"a": "", "b": ""},
    }
    assert cells("secrets", secret) == ["tls", "kubernetes.io/tls", 2, "2d3h"]
    namespace = {"metadata": meta("default", 9 * D), "status": {"phase": "Active"}}
    assert cells("namespaces", namespace) == ["default", "Active", "9d"]
    account = {"metadata": meta("default", 200 * S), "secrets": [{"name": "legacy"}]}
    assert cells("serviceaccounts", account) == ["default", "3m20s"]
    lease = {"metadata": meta("node-1", 2 * Y + 100 * D), "spec": {"holderIdentity": "node-1"}}
    assert cells("leases.coordination.k8s.io", lease) == ["node-1", "node-1", "2y100d"]
    assert cells("leases.coordination.k8s.io", {"metadata": meta("free", S)}) == ["free", "", "1s"]


def test_role_bindings_print_the_role_and_wide_subjects() -> None:
    binding = {
        "metadata": meta("read", 45 * S),
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
        "subjects": [
            {"kind": "User", "name": "alice"},
            {"kind": "Group", "name": "devs"},
            {"kind": "User", "name": "bob"},
            {"kind": "ServiceAccount", "name": "builder", "namespace": "ci"},
        ],
    }
    key = "rolebindings.rbac.authorization.k8s.io"
    table = tables.table_for(key, [binding], now=NOW)
    assert columns(table) == [
        ("Name", "string", "name", 0),
        ("Role", "string", "", 0),
        ("Age", "string", "", 0),
        ("Users", "string", "", 1),
        ("Groups", "string", "", 1),
        ("ServiceAccounts", "string", "", 1),
    ]
    assert table["rows"][0]["cells"] == [
        "read",
        "ClusterRole/view",
        "45s",
        "alice, bob",
        "devs",
        "ci/builder",
    ]
    assert (
        cells("clusterrolebindings.rbac.authorization.k8s.io", binding) == table["rows"][0]["cells"]
    )


@pytest.mark.parametrize(
    ("spec", "status", "expected"),
    [
        ({"signerName": "kubernetes.io/kube-apiserver-client", "username": "alice",
          "expirationSeconds": 86400},
         {"conditions": [{"type": "Approved", "status": "True"}], "certificate": "LS0t"},
         ["kubernetes.io/kube-apiserver-client", "alice", "24h", "Approved,Issued"]),
        ({"username": "bob"}, {}, ["<none>", "bob", "<none>", "Pending"]),
        ({"signerName": "x/y", "username": "eve", "expirationSeconds": 600},
         {"conditions": [{"type": "Approved"}, {"type": "Denied"}, {"type": "Failed"}]},
         ["x/y", "eve", "10m", "Denied,Failed"]),
    ],
)  # fmt: skip
def test_certificate_signing_requests(
    spec: dict[str, Any], status: dict[str, Any], expected: list[Any]
) -> None:
    csr = {"metadata": meta("csr-1", 2 * M), "spec": spec, "status": status}
    assert cells("certificatesigningrequests.certificates.k8s.io", csr) == [
        "csr-1",
        "2m",
        *expected,
    ]


def test_webhook_configurations_count_their_webhooks() -> None:
    config = {"metadata": meta("policy", H), "webhooks": [{"name": "a.example.com"}, {"name": "b"}]}
    for kind in ("mutating", "validating"):
        key = f"{kind}webhookconfigurations.admissionregistration.k8s.io"
        table = tables.table_for(key, [config], now=NOW)
        assert columns(table)[1] == ("Webhooks", "integer", "", 0)
        assert table["rows"][0]["cells"] == ["policy", 2, "60m"]


def test_resource_quotas_split_requests_and_limits_with_age_last() -> None:
    quota = {
        "metadata": meta("compute", 3 * H),
        "status": {
            "hard": {"requests.cpu": "1", "limits.memory": "2Gi", "pods": "10", "limits.cpu": "2"},
            "used": {"requests.cpu": "500m", "pods": "3", "limits.cpu": "1"},
        },
    }
    table = tables.table_for("resourcequotas", [quota], now=NOW)
    assert [c[0] for c in columns(table)] == ["Name", "Request", "Limit", "Age"]
    assert table["rows"][0]["cells"] == [
        "compute",
        "pods: 3/10, requests.cpu: 500m/1",
        "limits.cpu: 1/2, limits.memory: 0/2Gi",
        "3h",
    ]


@pytest.mark.parametrize(
    "kind_key",
    ["roles.rbac.authorization.k8s.io", "clusterroles.rbac.authorization.k8s.io", "limitranges",
     "widgets.example.com"],
)  # fmt: skip
def test_kinds_without_a_printer_get_name_and_created_at(kind_key: str) -> None:
    table = tables.table_for(kind_key, [{"metadata": meta("pod-reader", H)}], now=NOW)
    assert columns(table) == [("Name", "string", "name", 0), ("Created At", "date", "", 0)]
    assert table["rows"][0]["cells"] == ["pod-reader", "2025-06-01T11:00:00Z"]
    assert tables.table_for(kind_key, [{"metadata": {"name": "x"}}], now=NOW)["rows"][0][
        "cells"
    ] == ["x", "0001-01-01T00:00:00Z"]


KUBELET_EVENT: dict[str, Any] = {
    "metadata": meta("web-1.17a3f0c2", 5 * M, namespace="default"),
    "involvedObject": {"kind": "Pod", "namespace": "default", "name": "web-1",
                       "fieldPath": "spec.containers{web}"},
    "reason": "Pulled",
    "message": 'Container image "nginx:1.27" already present on machine\n',
    "source": {"component": "kubelet", "host": "node-1"},
    "firstTimestamp": stamp(5 * M),
    "lastTimestamp": stamp(60 * S),
    "count": 3,
    "type": "Normal",
    "eventTime": None,
    "reportingComponent": "",
    "reportingInstance": "",
}  # fmt: skip


def test_events_print_last_seen_first_and_the_wide_columns() -> None:
    table = tables.table_for("events", [KUBELET_EVENT], now=NOW)
    assert columns(table) == [
        ("Last Seen", "string", "", 0),
        ("Type", "string", "", 0),
        ("Reason", "string", "", 0),
        ("Object", "string", "", 0),
        ("Subobject", "string", "", 1),
        ("Source", "string", "", 1),
        ("Message", "string", "", 0),
        ("First Seen", "string", "", 1),
        ("Count", "string", "", 1),
        ("Name", "string", "name", 1),
    ]
    assert table["rows"][0]["cells"] == [
        "60s", "Normal", "Pulled", "pod/web-1", "spec.containers{web}", "kubelet, node-1",
        'Container image "nginx:1.27" already present on machine', "5m", 3, "web-1.17a3f0c2",
    ]  # fmt: skip


def test_new_style_events_fall_back_to_event_time_and_count_one() -> None:
    event = {
        "metadata": meta("sched.1", 30 * S, namespace="default"),
        "involvedObject": {"kind": "Node"},
        "reason": "Scheduled",
        "message": "ok",
        "type": "Normal",
        "eventTime": stamp(30 * S, micro=True),
        "reportingComponent": "default-scheduler",
        "reportingInstance": "",
    }
    assert cells("events", event) == [
        "30s", "Normal", "Scheduled", "node", "", "default-scheduler", "ok", "30s", 1, "sched.1",
    ]  # fmt: skip
    series = {**event, "series": {"count": 7, "lastObservedTime": stamp(10 * S, micro=True)}}
    assert cells("events", series)[0] == "10s"
    assert cells("events", series)[8] == 7


def test_events_k8s_io_events_print_like_their_core_twins() -> None:
    v1 = {
        "metadata": KUBELET_EVENT["metadata"],
        "regarding": KUBELET_EVENT["involvedObject"],
        "reason": "Pulled",
        "note": KUBELET_EVENT["message"],
        "type": "Normal",
        "deprecatedSource": {"component": "kubelet", "host": "node-1"},
        "deprecatedFirstTimestamp": KUBELET_EVENT["firstTimestamp"],
        "deprecatedLastTimestamp": KUBELET_EVENT["lastTimestamp"],
        "deprecatedCount": 3,
    }
    assert cells("events.events.k8s.io", v1) == cells("events", KUBELET_EVENT)


PRINTER_COLUMNS = [
    {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
    {"name": "Ready", "type": "boolean", "jsonPath": ".status.ready", "priority": 1},
    {"name": "Phase", "type": "string", "jsonPath": ".status.phase", "description": "the phase"},
    {"name": "Started", "type": "date", "jsonPath": ".status.startTime"},
    {"name": "Ratio", "type": "number", "jsonPath": ".status.ratio", "format": "float"},
    {"name": "Labels", "type": "string", "jsonPath": ".metadata.labels"},
    {"name": "First", "type": "string", "jsonPath": ".status.conditions[0].type"},
]


def test_custom_resource_columns_follow_additional_printer_columns() -> None:
    source = tables.custom_resource_source(PRINTER_COLUMNS)
    widget = {
        "metadata": meta("w1", H, labels={"app": "x"}),
        "spec": {"replicas": 3},
        "status": {"ready": True, "phase": "Running", "startTime": stamp(45 * S), "ratio": 1,
                   "conditions": [{"type": "Ready"}]},
    }  # fmt: skip
    table = tables.table_for(source, [widget], now=NOW)
    assert columns(table) == [
        ("Name", "string", "name", 0),
        ("Replicas", "integer", "", 0),
        ("Ready", "boolean", "", 1),
        ("Phase", "string", "", 0),
        ("Started", "date", "", 0),
        ("Ratio", "number", "float", 0),
        ("Labels", "string", "", 0),
        ("First", "string", "", 0),
    ]
    definitions = table["columnDefinitions"]
    assert definitions[3]["description"] == "the phase"
    assert definitions[1]["description"] == (
        "Custom resource definition column (in JSONPath format): .spec.replicas"
    )
    assert table["rows"][0]["cells"] == [
        "w1",
        3,
        True,
        "Running",
        "45s",
        1.0,
        '{"app":"x"}',
        "Ready",
    ]


def test_custom_resource_cells_of_missing_or_mistyped_values_are_null() -> None:
    source = tables.custom_resource_source(PRINTER_COLUMNS)
    odd = {
        "metadata": {"name": "w2"},
        "spec": {"replicas": "3"},
        "status": {"startTime": "soon", "ratio": 2.5},
    }
    assert tables.table_for(source, [odd], now=NOW)["rows"][0]["cells"] == [
        "w2", None, None, None, "<invalid>", 2.5, None, None,
    ]  # fmt: skip
    numbers = {"metadata": {"name": "w3"}, "spec": {"replicas": 2.0}, "status": {"phase": 1.5}}
    assert tables.table_for(source, [numbers], now=NOW)["rows"][0]["cells"][1:4] == [2, None, "1.5"]


def test_custom_resources_without_columns_show_age() -> None:
    table = tables.table_for(
        tables.custom_resource_source([]), [{"metadata": meta("w", 5 * M)}], now=NOW
    )
    assert columns(table) == [("Name", "string", "name", 0), ("Age", "date", "", 0)]
    assert table["rows"][0]["cells"] == ["w", "5m"]


def test_unsupported_column_paths_are_refused() -> None:
    with pytest.raises(TableError) as caught:
        tables.custom_resource_source([{"name": "X", "type": "string", "jsonPath": ".a[?(@.b)]"}])
    assert str(caught.value) == 'unrecognized column definition ".a[?(@.b)]"'


def test_rows_carry_partial_object_metadata_by_default() -> None:
    obj = {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": meta("x", S, namespace="default", labels={"a": "b"}),
    }
    row = tables.table_for("configmaps", [obj], now=NOW)["rows"][0]
    assert row["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }
    assert (
        tables.table_for("configmaps", [obj], now=NOW, include_object="Object")["rows"][0]["object"]
        == obj
    )
    assert (
        tables.table_for("configmaps", [obj], now=NOW, include_object="None")["rows"][0]["object"]
        is None
    )
    with pytest.raises(TableError) as caught:
        tables.table_for("configmaps", [obj], now=NOW, include_object="All")
    assert str(caught.value) == (
        "includeObject: Invalid value: \"All\": must be 'Metadata', 'Object', 'None', or empty"
    )


def test_list_metadata_and_watch_headers() -> None:
    table = tables.table_for(
        "configmaps",
        [],
        now=NOW,
        list_metadata={"resourceVersion": "42", "continue": "", "remainingItemCount": 0},
    )
    assert table["metadata"] == {"resourceVersion": "42", "remainingItemCount": 0}
    assert table["rows"] == []
    assert table["kind"] == "Table"
    assert table["apiVersion"] == "meta.k8s.io/v1"
    assert tables.table_for("configmaps", [], now=NOW, no_headers=True)["columnDefinitions"] is None


@pytest.mark.parametrize("kind_key", [*tables.SOURCES, "anything-else"])
def test_every_row_has_one_cell_per_column_and_encodes(kind_key: str) -> None:
    table = tables.table_for(kind_key, [{}, {"metadata": meta("x", S)}], now=NOW)
    for row in table["rows"]:
        assert len(row["cells"]) == len(table["columnDefinitions"])
    assert orjson.loads(orjson.dumps(table)) == table


def test_condition_columns_filter_a_list_by_equality() -> None:
    paths = {
        "Ready": '.status.conditions[?(@.type=="Ready")].status',
        "Why": ".status.conditions[?(@.type=='Ready')].reason",
        "Cond": '.status.conditions[?(@.type == "Ok")]',
    }
    columns_ = [{"name": name, "type": "string", "jsonPath": path} for name, path in paths.items()]
    source = tables.custom_resource_source(columns_)
    conditions = [
        {"type": "Ok", "status": "True"},
        {"type": "Ready", "status": "False"},
        {"type": "Ready", "status": "True", "reason": "Second"},
    ]
    ready = {"metadata": {"name": "a"}, "status": {"conditions": conditions}}
    not_yet = {"metadata": {"name": "b"}, "status": {"conditions": "odd"}}
    rows = tables.table_for(source, [ready, not_yet], now=NOW)["rows"]
    assert rows[0]["cells"] == ["a", "False", "Second", '{"type":"Ok","status":"True"}']
    assert rows[1]["cells"] == ["b", None, None, None]
