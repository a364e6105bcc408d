"""The official Python client, part two: the dynamic client, paging to the end, watching across a
compaction, deletecollection, the patch types, conflicts.

Each test works in a fresh namespace of the shared server (see ``conftest.py``), which compacts
every 0.5 s keeping 200 revisions.
"""

from __future__ import annotations

import datetime
import gc
import json
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from kubernetes import client, dynamic, watch
from kubernetes.client.exceptions import ApiException

from tests.api.helpers import COMPACTION_WAIT, churn


def cm(name: str, labels: dict[str, str] | None = None, **data: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(
        metadata=client.V1ObjectMeta(name=name, labels=labels), data=data or None
    )


@pytest.fixture(autouse=True)
def _release_connections() -> Iterator[None]:
    """Let go of the HTTPS connections that failed calls hold, after each test.

    An ``ApiException`` keeps its response, and so its connection, checked out of the client's
    pool: caught by ``pytest.raises`` it sits in a reference cycle (exception, traceback, frame)
    until the garbage collector runs, and the last exception of an xfailed test stays in
    ``sys.last_value``. kcp-edge's shutdown waits its whole 10 s grace period for such idle TLS
    keep-alive connections, so the session's end would stall on them.
    """
    yield
    for name in ("last_type", "last_value", "last_traceback", "last_exc"):
        if hasattr(sys, name):
            setattr(sys, name, None)
    gc.collect()


@pytest.fixture
def dyn(api_client: client.ApiClient, tmp_path: Path) -> dynamic.DynamicClient:
    # Its own discovery cache file: the default one is shared by every client of this host.
    return dynamic.DynamicClient(api_client, cache_file=str(tmp_path / "discovery.json"))


# --- the dynamic client -------------------------------------------------------------------------


def test_dynamic_client_crud_on_configmaps(dyn: dynamic.DynamicClient, namespace: str) -> None:
    configmaps = dyn.resources.get(api_version="v1", kind="ConfigMap")
    assert configmaps.name == "configmaps" and configmaps.namespaced
    created = configmaps.create(
        body={
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "d"},
            "data": {"a": "1"},
        },
        namespace=namespace,
    )
    assert created.metadata.name == "d"
    assert created.metadata.namespace == namespace
    assert created.data.a == "1"

    got = configmaps.get(name="d", namespace=namespace)
    assert got.kind == "ConfigMap" and got.apiVersion == "v1"
    assert got.metadata.uid == created.metadata.uid

    listed = configmaps.get(namespace=namespace)
    assert listed.kind == "ConfigMapList"
    assert [item.metadata.name for item in listed.items] == ["d"]

    patched = configmaps.patch(
        name="d",
        namespace=namespace,
        body={"data": {"b": "2"}},
        content_type="application/merge-patch+json",
    )
    assert patched.data.to_dict() == {"a": "1", "b": "2"}

    body = patched.to_dict()
    body["data"] = {"c": "3"}
    replaced = configmaps.replace(body=body, namespace=namespace)
    assert replaced.data.to_dict() == {"c": "3"}
    assert int(replaced.metadata.resourceVersion) > int(patched.metadata.resourceVersion)

    deleted = configmaps.delete(name="d", namespace=namespace)
    assert deleted.kind == "Status" and deleted.status == "Success"
    assert deleted.details.name == "d" and deleted.details.kind == "configmaps"
    with pytest.raises(ApiException) as caught:
        configmaps.get(name="d", namespace=namespace)
    assert caught.value.status == 404


def test_dynamic_client_crud_on_leases(dyn: dynamic.DynamicClient, namespace: str) -> None:
    leases = dyn.resources.get(api_version="coordination.k8s.io/v1", kind="Lease")
    assert leases.name == "leases" and leases.namespaced
    created = leases.create(
        body={
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": "lock"},
            "spec": {"holderIdentity": "a", "leaseDurationSeconds": 10},
        },
        namespace=namespace,
    )
    assert created.spec.holderIdentity == "a"
    assert created.spec.leaseDurationSeconds == 10

    renewed = leases.patch(
        name="lock",
        namespace=namespace,
        body={"spec": {"holderIdentity": "b", "renewTime": "2026-01-02T03:04:05.000000Z"}},
        content_type="application/merge-patch+json",
    )
    assert renewed.spec.holderIdentity == "b"
    assert renewed.spec.renewTime == "2026-01-02T03:04:05.000000Z"

    listed = leases.get(namespace=namespace)
    assert listed.kind == "LeaseList" and listed.apiVersion == "coordination.k8s.io/v1"
    assert [item.metadata.name for item in listed.items] == ["lock"]

    stale = created.to_dict()
    stale["spec"]["holderIdentity"] = "c"
    with pytest.raises(ApiException) as caught:
        leases.replace(body=stale, namespace=namespace)
    assert caught.value.status == 409
    status = json.loads(caught.value.body)
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Operation cannot be fulfilled on leases.coordination.k8s.io "lock": the object has been '
        "modified; please apply your changes to the latest version and try again"
    )
    assert status["details"] == {
        "name": "lock",
        "group": "coordination.k8s.io",
        "kind": "leases",
    }
    assert leases.get(name="lock", namespace=namespace).spec.holderIdentity == "b"

    deleted = leases.delete(name="lock", namespace=namespace)
    assert deleted.kind == "Status" and deleted.status == "Success"
    assert leases.get(namespace=namespace).items == []


# --- paging -----------------------------------------------------------------------------------


def test_paging_with_a_label_selector_reaches_the_end(
    core: client.CoreV1Api, namespace: str
) -> None:
    for i in range(11):
        core.create_namespaced_config_map(
            namespace, cm(f"cm-{i:02}", labels={"parity": "even" if i % 2 == 0 else "odd"})
        )
    pages, token = [], None
    while True:
        page = core.list_namespaced_config_map(
            namespace, label_selector="parity=even", limit=2, _continue=token
        )
        pages.append([item.metadata.name for item in page.items])
        token = page.metadata._continue
        if not token:
            break
    assert pages == [["cm-00", "cm-02"], ["cm-04", "cm-06"], ["cm-08", "cm-10"]]

    everything = core.list_namespaced_config_map(namespace, limit=20)
    assert len(everything.items) == 11
    assert everything.metadata._continue is None


# --- watch across a compaction -----------------------------------------------------------------


def test_watch_from_a_compacted_version_is_gone_then_relist_and_watch_again(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_config_map(namespace, cm("early"))
    old = core.list_namespaced_config_map(namespace).metadata.resource_version
    churn(api_client, namespace)
    time.sleep(COMPACTION_WAIT)

    # The apiserver answers 200 and a single ERROR event (code 410); with timeout_seconds the
    # client does not retry and raises it. A server answering HTTP 410 raises the same way.
    with pytest.raises(ApiException) as caught:
        for _ in watch.Watch().stream(
            core.list_namespaced_config_map,
            namespace,
            resource_version=old,
            timeout_seconds=5,
        ):
            pytest.fail("an event arrived from a compacted resourceVersion")
    assert caught.value.status == 410
    assert "too old resource version" in str(caught.value)

    relisted = core.list_namespaced_config_map(namespace)
    assert "early" in [item.metadata.name for item in relisted.items]
    fresh = relisted.metadata.resource_version
    assert int(fresh) > int(old)

    def create_later() -> None:
        time.sleep(0.3)
        core.create_namespaced_config_map(namespace, cm("late"))

    creator = threading.Thread(target=create_later)
    creator.start()
    seen = []
    try:
        for event in watch.Watch().stream(
            core.list_namespaced_config_map,
            namespace,
            resource_version=fresh,
            timeout_seconds=5,
        ):
            seen.append((event["type"], event["object"].metadata.name))
            break
    finally:
        creator.join()
    assert seen == [("ADDED", "late")]


# --- deletecollection -------------------------------------------------------------------------


def test_delete_collection_with_a_label_selector(core: client.CoreV1Api, namespace: str) -> None:
    for name, tier in (("a", "web"), ("b", "db"), ("c", "web"), ("d", "cache")):
        core.create_namespaced_config_map(namespace, cm(name, labels={"tier": tier}))
    answer = core.delete_collection_namespaced_config_map(
        namespace, label_selector="tier=web", _preload_content=False
    )
    assert answer.status == 200
    deleted = json.loads(answer.data)
    # The apiserver answers with the list of the deleted objects.
    assert deleted["kind"] == "ConfigMapList"
    assert deleted["apiVersion"] == "v1"
    assert sorted(item["metadata"]["name"] for item in deleted["items"]) == ["a", "c"]
    left = core.list_namespaced_config_map(namespace)
    assert [item.metadata.name for item in left.items] == ["b", "d"]

    core.delete_collection_namespaced_config_map(namespace, label_selector="tier in (db,cache)")
    assert core.list_namespaced_config_map(namespace).items == []


# --- patch types -------------------------------------------------------------------------------


def test_a_dict_patch_is_a_strategic_merge_patch(core: client.CoreV1Api, namespace: str) -> None:
    created = cm("smp", k="v", other="o")
    created.metadata.finalizers = ["example.com/a", "example.com/b"]
    core.create_namespaced_config_map(namespace, created)
    try:
        removed = core.patch_namespaced_config_map(
            "smp",
            namespace,
            {"metadata": {"$deleteFromPrimitiveList/finalizers": ["example.com/a"]}},
        )
        assert removed.metadata.finalizers == ["example.com/b"]
        replaced = core.patch_namespaced_config_map(
            "smp", namespace, {"data": {"$patch": "replace", "only": "this"}}
        )
        assert replaced.data == {"only": "this"}
        merged = core.patch_namespaced_config_map(
            "smp", namespace, {"metadata": {"finalizers": ["example.com/b"]}}
        )
        assert merged.metadata.finalizers == ["example.com/b"]  # already there: no duplicate
    finally:
        core.patch_namespaced_config_map(
            "smp", namespace, [{"op": "remove", "path": "/metadata/finalizers"}]
        )
    assert core.read_namespaced_config_map("smp", namespace).metadata.finalizers is None


def test_a_strategic_patch_orders_a_merged_list_of_scalars_as_upstream(
    core: client.CoreV1Api, namespace: str
) -> None:
    """Upstream's ``mergeSlice`` then ``normalizeElementOrder``: items of the live list keep their
    place only relative to patch items the live list also holds; a new item is put before the
    live-only items (``mergeSortedSlice`` takes the patch's item when either is not in the live
    list). So [a] patched with [b] is [b, a], and [x, y] patched with [y, z] is [x, y, z]."""
    created = cm("order")
    created.metadata.finalizers = ["example.com/a"]
    core.create_namespaced_config_map(namespace, created)
    try:
        merged = core.patch_namespaced_config_map(
            "order", namespace, {"metadata": {"finalizers": ["example.com/b"]}}
        )
        assert merged.metadata.finalizers == ["example.com/b", "example.com/a"]
        core.patch_namespaced_config_map(
            "order",
            namespace,
            [
                {
                    "op": "replace",
                    "path": "/metadata/finalizers",
                    "value": ["example.com/x", "example.com/y"],
                }
            ],
        )
        merged = core.patch_namespaced_config_map(
            "order", namespace, {"metadata": {"finalizers": ["example.com/y", "example.com/z"]}}
        )
        assert merged.metadata.finalizers == ["example.com/x", "example.com/y", "example.com/z"]
    finally:
        core.patch_namespaced_config_map(
            "order", namespace, [{"op": "remove", "path": "/metadata/finalizers"}]
        )


def test_a_merge_patch_replaces_lists_and_deletes_with_null(
    core: client.CoreV1Api, namespace: str
) -> None:
    created = cm("mp", labels={"keep": "1", "drop": "1"}, k="v")
    created.metadata.finalizers = ["example.com/a"]
    core.create_namespaced_config_map(namespace, created)
    try:
        patched = core.patch_namespaced_config_map(
            "mp",
            namespace,
            {
                "metadata": {"labels": {"drop": None}, "finalizers": ["example.com/b"]},
                "data": {"k2": "v2"},
            },
            _content_type="application/merge-patch+json",
        )
        assert patched.metadata.labels == {"keep": "1"}
        assert patched.metadata.finalizers == ["example.com/b"]
        assert patched.data == {"k": "v", "k2": "v2"}
    finally:
        core.patch_namespaced_config_map(
            "mp",
            namespace,
            {"metadata": {"finalizers": None}},
            _content_type="application/merge-patch+json",
        )
    assert core.read_namespaced_config_map("mp", namespace).metadata.finalizers is None


def test_a_merge_patch_has_no_directives(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, cm("nodirective", k="v"))
    # "$patch" means nothing to a merge patch: it would be a data key, and not a valid one.
    with pytest.raises(ApiException) as caught:
        core.patch_namespaced_config_map(
            "nodirective",
            namespace,
            {"data": {"$patch": "replace"}},
            _content_type="application/merge-patch+json",
        )
    assert caught.value.status == 422
    status = json.loads(caught.value.body)
    assert status["reason"] == "Invalid"
    assert status["message"].startswith(
        'ConfigMap "nodirective" is invalid: data[$patch]: Invalid value: "$patch": '
        "a valid config key must consist of alphanumeric characters, '-', '_' or '.'"
    )
    assert status["details"]["causes"][0]["field"] == "data[$patch]"
    assert core.read_namespaced_config_map("nodirective", namespace).data == {"k": "v"}


def test_concurrent_patches_of_one_object_all_apply(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, cm("hot"))

    def write(i: int) -> None:
        core.patch_namespaced_config_map(
            "hot",
            namespace,
            {"data": {f"k{i}": str(i)}},
            _content_type="application/merge-patch+json",
        )

    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(write, range(128)))
    data = core.read_namespaced_config_map("hot", namespace).data
    assert data == {f"k{i}": str(i) for i in range(128)}


# --- conflicts -----------------------------------------------------------------------------------


def test_replace_of_a_lease_with_a_stale_resource_version_is_a_conflict(
    api_client: client.ApiClient, namespace: str
) -> None:
    coordination = client.CoordinationV1Api(api_client)
    body = client.V1Lease(
        metadata=client.V1ObjectMeta(name="l"),
        spec=client.V1LeaseSpec(holder_identity="a", lease_duration_seconds=5),
    )
    first = coordination.create_namespaced_lease(namespace, body)
    current = coordination.read_namespaced_lease("l", namespace)
    current.spec.holder_identity = "b"
    coordination.replace_namespaced_lease("l", namespace, current)
    first.spec.holder_identity = "c"
    with pytest.raises(ApiException) as caught:
        coordination.replace_namespaced_lease("l", namespace, first)
    assert caught.value.status == 409
    assert json.loads(caught.value.body)["reason"] == "Conflict"
    assert coordination.read_namespaced_lease("l", namespace).spec.holder_identity == "b"


def test_a_lease_update_needs_a_resource_version(
    api_client: client.ApiClient, namespace: str
) -> None:
    coordination = client.CoordinationV1Api(api_client)
    body = client.V1Lease(
        metadata=client.V1ObjectMeta(name="l"),
        spec=client.V1LeaseSpec(holder_identity="a", lease_duration_seconds=5),
    )
    coordination.create_namespaced_lease(namespace, body)
    body.spec.holder_identity = "c"
    with pytest.raises(ApiException) as caught:
        coordination.replace_namespaced_lease("l", namespace, body)
    assert caught.value.status == 422
    status = json.loads(caught.value.body)
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        'leases.coordination.k8s.io "l" is invalid: metadata.resourceVersion: Invalid value: 0: '
        "must be specified for an update"
    )
    assert coordination.read_namespaced_lease("l", namespace).spec.holder_identity == "a"


# --- discovery paths the client's API classes call ---------------------------------------------


def test_version_api_get_code(api_client: client.ApiClient) -> None:
    info = client.VersionApi(api_client).get_code()
    assert info.major == "1"
    assert info.git_version.startswith("v1.")


def test_get_api_group_with_the_trailing_slash(api_client: client.ApiClient) -> None:
    group = client.CoordinationApi(api_client).get_api_group()
    assert group.name == "coordination.k8s.io"
    assert [v.group_version for v in group.versions] == ["coordination.k8s.io/v1"]
    assert group.preferred_version.version == "v1"


def test_events_v1_filtered_by_regarding(api_client: client.ApiClient, namespace: str) -> None:
    events = client.EventsV1Api(api_client)
    for name, about in (("e1", "app"), ("e2", "other")):
        events.create_namespaced_event(
            namespace,
            client.EventsV1Event(
                metadata=client.V1ObjectMeta(name=name),
                event_time=datetime.datetime.now(datetime.timezone.utc),
                reporting_controller="example.com/tester",
                reporting_instance="tester-1",
                action="Testing",
                reason="Tested",
                type="Normal",
                note="hello",
                regarding=client.V1ObjectReference(
                    api_version="v1", kind="ConfigMap", name=about, namespace=namespace
                ),
            ),
        )
    listed = events.list_namespaced_event(
        namespace, field_selector="regarding.kind=ConfigMap,regarding.name=app"
    )
    assert [e.metadata.name for e in listed.items] == ["e1"]


def test_an_events_k8s_io_watch_sees_core_events_in_its_own_shape(
    api_client: client.ApiClient, core: client.CoreV1Api, namespace: str
) -> None:
    """One stored Event, two APIs: a watch through events.k8s.io/v1 gets the Event recorded
    through core/v1 converted (``regarding``, ``note``), and its deletion."""
    events = client.EventsV1Api(api_client)
    start = events.list_namespaced_event(namespace).metadata.resource_version
    core.create_namespaced_event(
        namespace,
        client.CoreV1Event(
            metadata=client.V1ObjectMeta(name="recorded.1"),
            involved_object=client.V1ObjectReference(kind="ConfigMap", name="app"),
            # The client's EventsV1Event refuses a null eventTime (as against any apiserver).
            event_time=datetime.datetime.now(datetime.timezone.utc),
            reporting_component="example.com/recorder",
            reporting_instance="recorder-0",
            action="Load",
            reason="Loaded",
            message="through core/v1",
            type="Normal",
        ),
    )
    core.delete_namespaced_event("recorded.1", namespace)
    seen = []
    for event in watch.Watch().stream(
        events.list_namespaced_event,
        namespace,
        resource_version=start,
        timeout_seconds=5,
        _request_timeout=10,
    ):
        obj = event["object"]
        seen.append((event["type"], obj.metadata.name, obj.note, obj.regarding.name))
        if len(seen) == 2:
            break
    assert seen == [
        ("ADDED", "recorded.1", "through core/v1", "app"),
        ("DELETED", "recorded.1", "through core/v1", "app"),
    ]
