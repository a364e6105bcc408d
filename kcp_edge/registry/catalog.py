"""Which kinds each logical cluster serves.

Why this module exists: routing, discovery and OpenAPI all ask the same question per request:
"does this workspace serve <group>/<version>/<resource>?". Today every logical cluster serves
the built-in kinds of a generic control plane (``builtin.py``); CRDs and kinds imported from
edge clusters add per-cluster kinds later, behind this same interface.
"""

from __future__ import annotations

from collections.abc import Sequence

from kcp_edge.registry.kinds import ResourceKind


class Catalog:
    """The kinds served, by (group, version, resource) and by (group, kind)."""

    def __init__(self, builtins: Sequence[ResourceKind]) -> None:
        self._builtins = tuple(builtins)
        self._by_resource = {(k.group, k.version, k.resource): k for k in builtins}
        self._by_storage_id = {k.storage_id: k for k in builtins}
        namespaces = self._by_resource.get(("", "v1", "namespaces"))
        if namespaces is None:
            raise ValueError("the catalog must serve core/v1 namespaces")
        self.namespaces = namespaces

    def lookup(self, cluster: str, group: str, version: str, resource: str) -> ResourceKind | None:
        del cluster  # every logical cluster serves the built-ins (CRDs: later)
        return self._by_resource.get((group, version, resource))

    def by_storage_id(self, storage_id: int) -> ResourceKind | None:
        """The kind whose objects are stored under ``storage_id`` (watch events name only keys)."""
        return self._by_storage_id.get(storage_id)

    def kinds(self, cluster: str) -> Sequence[ResourceKind]:
        del cluster
        return self._builtins

    def namespaced_kinds(self, cluster: str) -> list[ResourceKind]:
        """Every namespaced kind, one entry per stored resource (a namespace's content)."""
        seen: set[int] = set()
        out = []
        for kind in self.kinds(cluster):
            if kind.namespaced and kind.storage_id not in seen:
                seen.add(kind.storage_id)
                out.append(kind)
        return out
