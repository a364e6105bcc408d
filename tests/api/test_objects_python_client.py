"""Object semantics through the official Python client: what a controller author relies on."""

from __future__ import annotations

import json
import threading
import time

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from tests.conftest import KcpServer, https_request


def cm(name: str, **data: str) -> client.V1ConfigMap:
    return client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name), data=data or None)


def status_of(exc: ApiException) -> dict:  # type: ignore[type-arg]
    body: dict = json.loads(exc.body)  # type: ignore[type-arg]
    return body


def test_create_stamps_system_metadata_and_get_returns_it(
    core: client.CoreV1Api, namespace: str
) -> None:
    created = core.create_namespaced_config_map(namespace, cm("a", k="v"))
    meta = created.metadata
    assert meta.uid and meta.creation_timestamp and meta.resource_version
    assert meta.namespace == namespace
    got = core.read_namespaced_config_map("a", namespace)
    assert got.data == {"k": "v"}
    assert got.metadata.resource_version == meta.resource_version
    assert got.metadata.uid == meta.uid


def test_create_of_an_existing_name_is_already_exists(
    core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_config_map(namespace, cm("a"))
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(namespace, cm("a"))
    assert caught.value.status == 409
    body = status_of(caught.value)
    assert body["reason"] == "AlreadyExists"
    assert body["message"] == 'configmaps "a" already exists'


def test_get_of_a_missing_object_is_not_found_with_the_apiserver_message(
    core: client.CoreV1Api, namespace: str
) -> None:
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("missing", namespace)
    assert caught.value.status == 404
    assert status_of(caught.value)["message"] == 'configmaps "missing" not found'


def test_update_with_a_stale_resource_version_is_a_conflict(
    core: client.CoreV1Api, namespace: str
) -> None:
    created = core.create_namespaced_config_map(namespace, cm("a", k="1"))
    fresh = core.read_namespaced_config_map("a", namespace)
    fresh.data = {"k": "2"}
    core.replace_namespaced_config_map("a", namespace, fresh)
    created.data = {"k": "3"}
    with pytest.raises(ApiException) as caught:
        core.replace_namespaced_config_map("a", namespace, created)
    assert caught.value.status == 409
    assert status_of(caught.value)["message"] == (
        'Operation cannot be fulfilled on configmaps "a": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert core.read_namespaced_config_map("a", namespace).data == {"k": "2"}


def test_generate_name_creates_a_unique_name(core: client.CoreV1Api, namespace: str) -> None:
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(generate_name="gen-"))
    names = {core.create_namespaced_config_map(namespace, body).metadata.name for _ in range(3)}
    assert len(names) == 3
    assert all(n.startswith("gen-") and len(n) == 9 for n in names)


def test_dry_run_writes_nothing(core: client.CoreV1Api, namespace: str) -> None:
    core.create_namespaced_config_map(namespace, cm("dry"), dry_run="All")
    with pytest.raises(ApiException) as caught:
        core.read_namespaced_config_map("dry", namespace)
    assert caught.value.status == 404


def test_an_invalid_name_is_refused_with_the_field_and_rule(
    core: client.CoreV1Api, namespace: str
) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map(namespace, cm("Not_Valid"))
    assert caught.value.status == 422
    body = status_of(caught.value)
    assert body["reason"] == "Invalid"
    assert body["message"].startswith(
        'ConfigMap "Not_Valid" is invalid: metadata.name: Invalid value: "Not_Valid": '
        "a lowercase RFC 1123 subdomain must consist of"
    )
    assert body["details"]["causes"][0]["field"] == "metadata.name"


def test_writes_into_a_missing_namespace_are_not_found(core: client.CoreV1Api) -> None:
    with pytest.raises(ApiException) as caught:
        core.create_namespaced_config_map("no-such-namespace", cm("a"))
    assert caught.value.status == 404
    assert status_of(caught.value)["message"] == 'namespaces "no-such-namespace" not found'


def test_list_pages_are_one_consistent_snapshot(core: client.CoreV1Api, namespace: str) -> None:
    for i in range(7):
        core.create_namespaced_config_map(namespace, cm(f"cm-{i}", v="old"))
    first = core.list_namespaced_config_map(namespace, limit=3)
    assert len(first.items) == 3 and first.metadata._continue
    core.create_namespaced_config_map(namespace, cm("cm-9", v="new"))
    core.delete_namespaced_config_map("cm-5", namespace)
    seen = list(first.items)
    token = first.metadata._continue
    while token:
        page = core.list_namespaced_config_map(namespace, limit=3, _continue=token)
        assert page.metadata.resource_version == first.metadata.resource_version
        seen.extend(page.items)
        token = page.metadata._continue
    assert [c.metadata.name for c in seen] == [f"cm-{i}" for i in range(7)]


def test_an_empty_list_has_items_not_null(core: client.CoreV1Api, namespace: str) -> None:
    assert core.list_namespaced_config_map(namespace).items == []


def test_label_selector_filters_lists(core: client.CoreV1Api, namespace: str) -> None:
    for name, tier in (("a", "web"), ("b", "db"), ("c", "web")):
        body = cm(name)
        body.metadata.labels = {"tier": tier}
        core.create_namespaced_config_map(namespace, body)
    names = [
        c.metadata.name
        for c in core.list_namespaced_config_map(namespace, label_selector="tier=web").items
    ]
    assert names == ["a", "c"]


def test_watch_resumes_from_a_resource_version(core: client.CoreV1Api, namespace: str) -> None:
    first = core.create_namespaced_config_map(namespace, cm("a"))
    core.create_namespaced_config_map(namespace, cm("b"))
    core.delete_namespaced_config_map("a", namespace)
    seen = []
    for event in watch.Watch().stream(
        core.list_namespaced_config_map,
        namespace,
        resource_version=first.metadata.resource_version,
        timeout_seconds=5,
    ):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 2:
            break
    assert seen == [("ADDED", "b"), ("DELETED", "a")]


def test_watch_from_now_starts_with_the_current_objects(
    core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_config_map(namespace, cm("existing"))

    def later() -> None:
        time.sleep(0.3)
        core.create_namespaced_config_map(namespace, cm("new"))

    thread = threading.Thread(target=later)
    thread.start()
    seen = []
    for event in watch.Watch().stream(
        core.list_namespaced_config_map, namespace, timeout_seconds=5
    ):
        seen.append((event["type"], event["object"].metadata.name))
        if len(seen) == 2:
            break
    thread.join()
    assert seen == [("ADDED", "existing"), ("ADDED", "new")]


def test_deleting_a_namespace_deletes_its_content_then_the_namespace(
    core: client.CoreV1Api,
) -> None:
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="doomed")))
    core.create_namespaced_config_map("doomed", cm("a"))
    deleted = core.delete_namespace("doomed")
    # As from a real apiserver, the answer is the Namespace, now terminating (the client's
    # V1Status model cannot hold it, so it hands over the plain dict).
    assert deleted["kind"] == "Namespace"
    assert deleted["status"]["phase"] == "Terminating"
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            ns = core.read_namespace("doomed")
        except ApiException as exc:
            assert exc.status == 404
            break
        assert ns.status.phase == "Terminating"
        time.sleep(0.1)
    else:
        pytest.fail("the namespace was not deleted")
    assert core.list_namespaced_config_map("doomed").items == []


def test_pods_are_not_served(shared_kcp: KcpServer) -> None:
    resp = https_request(
        shared_kcp.url,
        "/clusters/root/api/v1/pods",
        ca_file=shared_kcp.ca_file,
        headers={"Authorization": f"Bearer {_token(shared_kcp)}"},
    )
    assert resp.status == 404
    assert json.loads(resp.body)["message"] == "the server could not find the requested resource"


def _token(server: KcpServer) -> str:
    for line in server.kubeconfig.read_text().splitlines():
        if "token:" in line:
            return line.split("token:", 1)[1].strip().strip('"')
    raise AssertionError("no token in the kubeconfig")


def test_metadata_only_clients_get_partial_object_metadata(
    shared_kcp: KcpServer, core: client.CoreV1Api, namespace: str
) -> None:
    core.create_namespaced_config_map(namespace, cm("meta", k="v"))
    headers = {
        "Authorization": f"Bearer {_token(shared_kcp)}",
        "Accept": "application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1",
    }
    path = f"/clusters/root:default/api/v1/namespaces/{namespace}/configmaps"
    listed = https_request(shared_kcp.url, path, ca_file=shared_kcp.ca_file, headers=headers)
    assert listed.headers["content-type"] == (
        "application/json;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io"
    )
    body = json.loads(listed.body)
    assert body["kind"] == "PartialObjectMetadataList"
    assert [i["metadata"]["name"] for i in body["items"]] == ["meta"]
    assert "data" not in body["items"][0]
    headers["Accept"] = "application/json;as=PartialObjectMetadata;g=meta.k8s.io;v=v1"
    one = https_request(shared_kcp.url, path + "/meta", ca_file=shared_kcp.ca_file, headers=headers)
    assert json.loads(one.body)["kind"] == "PartialObjectMetadata"
