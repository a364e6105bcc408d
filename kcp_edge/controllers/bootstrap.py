"""What exists right after the first start: ``default`` namespaces in ``root`` and ``root:default``.

Why this module exists: kubectl and most tools assume a ``default`` namespace (kcp creates it
in every workspace, ``kcp-behaviour.md`` §1.4). It is created at start-up, before the server
reports ready, and only if missing, so restarts change nothing.
"""

from __future__ import annotations

from kcp_edge.apimachinery.errors import StatusError
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.store import ObjectStore

ROOT = "root"
DEFAULT_ORG = "root:default"
"""The admin kubeconfig's current context points here (kcp's default organization)."""


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
