"""Which kinds each logical cluster serves.

Why this module exists: routing, discovery and OpenAPI all ask the same question per request:
"does this workspace serve <group>/<version>/<resource>?". Every logical cluster serves the
built-in kinds of a generic control plane (``builtin.py``); on top of them each serves the
kinds its own CustomResourceDefinitions establish. The CRD controller is the one writer of
those (``set_custom``); requests only read, so a lookup is two dictionary reads and no lock:
the per-cluster tables are replaced whole, never changed in place.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from kcp_edge.registry.kinds import ResourceKind

_GVR = tuple[str, str, str]


class Catalog:
    """The kinds served, by (group, version, resource), per logical cluster."""

    def __init__(self, builtins: Sequence[ResourceKind]) -> None:
        self._builtins = tuple(builtins)
        self._by_resource = {(k.group, k.version, k.resource): k for k in builtins}
        self._by_storage_id = {k.storage_id: k for k in builtins}
        namespaces = self._by_resource.get(("", "v1", "namespaces"))
        if namespaces is None:
            raise ValueError("the catalog must serve core/v1 namespaces")
        self.namespaces = namespaces
        self._custom: dict[str, dict[_GVR, ResourceKind]] = {}
        self._kinds: dict[str, tuple[ResourceKind, ...]] = {}
        self._write_lock = threading.Lock()
        self.generation = 0
        """Grows with every change of any cluster's custom kinds (cache keys use it)."""

    def lookup(self, cluster: str, group: str, version: str, resource: str) -> ResourceKind | None:
        found = self._by_resource.get((group, version, resource))
        if found is not None:
            return found
        gvr = (group, version, resource)
        if cluster == "*":
            for kinds in self._custom.values():
                if gvr in kinds:
                    return kinds[gvr]
            return None
        custom = self._custom.get(cluster)
        return custom.get(gvr) if custom else None

    def by_storage_id(self, storage_id: int, cluster: str = "") -> ResourceKind | None:
        """The kind whose objects are stored under ``storage_id`` (watch events name only keys).

        A custom resource's kind is looked up in ``cluster``, where its CRD lives.
        """
        found = self._by_storage_id.get(storage_id)
        if found is not None or not cluster:
            return found
        for kind in self._custom.get(cluster, {}).values():
            if kind.storage_id == storage_id:
                return kind
        return None

    def kinds(self, cluster: str) -> Sequence[ResourceKind]:
        return self._kinds.get(cluster, self._builtins)

    def custom_kinds(self, cluster: str) -> Sequence[ResourceKind]:
        """The kinds ``cluster``'s CRDs add, in no particular order."""
        return tuple(self._custom.get(cluster, {}).values())

    def set_custom(self, cluster: str, kinds: Sequence[ResourceKind]) -> None:
        """Replace what ``cluster``'s CRDs serve (built-in names always win)."""
        table = {
            (k.group, k.version, k.resource): k
            for k in kinds
            if (k.group, k.version, k.resource) not in self._by_resource
        }
        with self._write_lock:
            if table:
                self._custom[cluster] = table
                self._kinds[cluster] = self._builtins + tuple(table.values())
            else:
                self._custom.pop(cluster, None)
                self._kinds.pop(cluster, None)
            self.generation += 1

    def namespaced_kinds(self, cluster: str) -> list[ResourceKind]:
        """Every namespaced kind, one entry per stored resource (a namespace's content)."""
        seen: set[int] = set()
        out = []
        for kind in self.kinds(cluster):
            if kind.namespaced and kind.storage_id not in seen:
                seen.add(kind.storage_id)
                out.append(kind)
        return out
