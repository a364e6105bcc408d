"""What exists right after the first start: ``root``, the Organization ``root:default``, and a
``default`` namespace in each.

Why this module exists: kubectl and most tools assume a ``default`` namespace (kcp creates it
in every workspace, ``kcp-behaviour.md`` §1.4). It is created at start-up, before the server
reports ready, and only if missing, so restarts change nothing.
"""

from __future__ import annotations

from kcp_edge.apimachinery.errors import StatusError
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.store import ObjectStore
from kcp_edge.tenancy.workspaces import DEFAULT_ORG, ORGANIZATION, ROOT, default_organization


async def ensure_default_namespace(catalog: Catalog, objects: ObjectStore, cluster: str) -> None:
    """Create namespace ``default`` in ``cluster`` unless it exists."""
    kind = catalog.namespaces
    try:
        objects.get(kind, cluster, "", "default")
        return
    except StatusError as exc:
        if exc.code != 404:
            raise
    obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
    try:
        await objects.create(kind, cluster, "", obj)
    except StatusError as exc:
        if exc.code != 409:  # created meanwhile
            raise


async def ensure_default_organization(
    catalog: Catalog, objects: ObjectStore, kind: ResourceKind, base_url: str
) -> None:
    """The Organization workspace ``root:default`` (kcp's default org), Ready, unless it exists."""
    catalog.set_cluster(DEFAULT_ORG, ORGANIZATION)
    try:
        objects.get(kind, ROOT, "", "default")
        return
    except StatusError as exc:
        if exc.code != 404:
            raise
    try:
        await objects.create(kind, ROOT, "", default_organization(base_url))
    except StatusError as exc:
        if exc.code != 409:
            raise
