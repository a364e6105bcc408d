"""The CRD controller after a watch gap: it serves exactly the CRDs the store holds.

A watch that expires (compaction, a slow consumer) makes the controller list everything again.
A workspace whose last CRD was deleted during the gap is in no list any more; its kinds must
still stop being served.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kcp_edge.controllers.crds import CRDController
from kcp_edge.registry import codec, keys
from kcp_edge.registry.builtin import BUILTIN_KINDS
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.custom import custom_kinds
from kcp_edge.registry.store import ObjectStore
from kcp_edge.storage import LmdbOptions, LmdbStore
from kcp_edge.tenancy.workspaces import BUILTIN_TYPES, ROOT, ROOT_TYPE, UNIVERSAL, system_crds
from tests.tools.apps import deployment_crd

TEAM = "root:org:team"


@pytest.fixture
def parts(tmp_path: Path) -> Iterator[tuple[Catalog, ObjectStore, CRDController]]:
    store = LmdbStore.open(LmdbOptions(path=tmp_path / "store"))
    catalog = Catalog(BUILTIN_KINDS)
    for workspace_type in (ROOT_TYPE, *BUILTIN_TYPES):
        kinds = [k for crd in system_crds(workspace_type) for k in custom_kinds(crd)]
        catalog.define_type(workspace_type, kinds)
    catalog.set_cluster(ROOT, ROOT_TYPE)
    catalog.set_cluster(TEAM, UNIVERSAL)
    objects = ObjectStore(store, namespaces=catalog.namespaces)
    kind = catalog.lookup(ROOT, "apiextensions.k8s.io", "v1", "customresourcedefinitions")
    assert kind is not None
    try:
        yield catalog, objects, CRDController(catalog=catalog, objects=objects, kind=kind)
    finally:
        store.close()


def _established(crd: dict[str, Any]) -> dict[str, Any]:
    crd = copy.deepcopy(crd)
    crd["status"] = {
        "conditions": [{"type": "Established", "status": "True"}],
        "acceptedNames": crd["spec"]["names"],
    }
    return crd


def _served(catalog: Catalog) -> bool:
    return catalog.lookup(TEAM, "apps", "v1", "deployments") is not None


def test_a_crd_deleted_during_a_watch_gap_stops_being_served(
    parts: tuple[Catalog, ObjectStore, CRDController],
) -> None:
    catalog, objects, controller = parts
    crd_kind = catalog.lookup(ROOT, "apiextensions.k8s.io", "v1", "customresourcedefinitions")
    assert crd_kind is not None
    key = keys.object_key(crd_kind, TEAM, "", "deployments.apps")
    objects.kv.create(key, codec.encode(_established(deployment_crd())))
    asyncio.run(controller.load())
    assert _served(catalog)
    objects.kv.delete(key)  # while the controller's watch was gone
    asyncio.run(controller.load())  # what the controller does when it starts over
    assert not _served(catalog)
    assert catalog.clusters_with_custom_kinds() == []
