"""Owner references: deleting an owner acts on its dependents per propagationPolicy."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException


def _owned(core: client.CoreV1Api, namespace: str, owner: client.V1ConfigMap, name: str) -> None:
    ref = client.V1OwnerReference(
        api_version="v1", kind="ConfigMap", name=owner.metadata.name, uid=owner.metadata.uid
    )
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name=name, owner_references=[ref]))
    core.create_namespaced_config_map(namespace, body)


def _exists(core: client.CoreV1Api, namespace: str, name: str) -> bool:
    try:
        core.read_namespaced_config_map(name, namespace)
    except ApiException as exc:
        assert exc.status == 404
        return False
    return True


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            pytest.fail("condition not reached in time")
        time.sleep(0.05)


def _owner(core: client.CoreV1Api, namespace: str) -> client.V1ConfigMap:
    body = client.V1ConfigMap(metadata=client.V1ObjectMeta(name="owner"))
    return core.create_namespaced_config_map(namespace, body)


def test_background_deletion_removes_dependents_after_the_owner(
    core: client.CoreV1Api, namespace: str
) -> None:
    owner = _owner(core, namespace)
    _owned(core, namespace, owner, "dep")
    core.delete_namespaced_config_map("owner", namespace)
    assert not _exists(core, namespace, "owner")
    eventually(lambda: not _exists(core, namespace, "dep"))


def test_foreground_deletion_keeps_the_owner_until_dependents_are_gone(
    core: client.CoreV1Api, namespace: str
) -> None:
    owner = _owner(core, namespace)
    _owned(core, namespace, owner, "dep")
    core.delete_namespaced_config_map(
        "owner", namespace, body=client.V1DeleteOptions(propagation_policy="Foreground")
    )
    marked = core.read_namespaced_config_map("owner", namespace)
    assert marked.metadata.deletion_timestamp is not None
    assert "foregroundDeletion" in marked.metadata.finalizers
    eventually(lambda: not _exists(core, namespace, "dep"))
    eventually(lambda: not _exists(core, namespace, "owner"))


def test_orphan_deletion_keeps_dependents_and_drops_their_reference(
    core: client.CoreV1Api, namespace: str
) -> None:
    owner = _owner(core, namespace)
    _owned(core, namespace, owner, "dep")
    core.delete_namespaced_config_map(
        "owner", namespace, body=client.V1DeleteOptions(propagation_policy="Orphan")
    )
    eventually(lambda: not _exists(core, namespace, "owner"))
    dep = core.read_namespaced_config_map("dep", namespace)
    assert not dep.metadata.owner_references


def test_a_dependent_with_another_living_owner_is_only_unlinked(
    core: client.CoreV1Api, namespace: str
) -> None:
    owner = _owner(core, namespace)
    other = core.create_namespaced_config_map(
        namespace, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="other"))
    )
    refs = [
        client.V1OwnerReference(
            api_version="v1", kind="ConfigMap", name=o.metadata.name, uid=o.metadata.uid
        )
        for o in (owner, other)
    ]
    core.create_namespaced_config_map(
        namespace,
        client.V1ConfigMap(metadata=client.V1ObjectMeta(name="dep", owner_references=refs)),
    )
    core.delete_namespaced_config_map("owner", namespace)

    def unlinked() -> bool:
        dep = core.read_namespaced_config_map("dep", namespace)
        return [r.name for r in dep.metadata.owner_references] == ["other"]

    eventually(unlinked)
