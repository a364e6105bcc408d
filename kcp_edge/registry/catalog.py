"""Which logical clusters exist, and which kinds each serves.

Why this module exists: routing, discovery and OpenAPI all ask the same question per request:
"does this workspace serve <group>/<version>/<resource>?". Every logical cluster serves the
built-in kinds of a generic control plane (``builtin.py``); on top of them the kcp APIs of its
workspace type (``Workspace`` in root, organizations and teams, ``WorkloadCluster`` in
universal workspaces: kcp's system CRDs, projected by type) and the kinds its own
CustomResourceDefinitions establish. The workspace controller says which clusters exist and of
what type (``set_cluster``), the CRD controller what their CRDs add (``set_custom``); requests
only read, so a lookup is a few dictionary reads and no lock: a cluster's tables are
replaced whole (one dictionary assignment), never changed in place. Clusters of one type
without CRDs share one kinds tuple, so an empty workspace costs a dictionary entry.
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
        self._by_storage_id: dict[int, ResourceKind] = {}
        for kind in builtins:  # a shared id names the first kind, the storage shape
            if kind.storage_id:
                self._by_storage_id.setdefault(kind.storage_id, kind)
        namespaces = self._by_resource.get(("", "v1", "namespaces"))
        if namespaces is None:
            raise ValueError("the catalog must serve core/v1 namespaces")
        self.namespaces = namespaces
        self._custom: dict[str, dict[_GVR, ResourceKind]] = {}
        self._kinds: dict[str, tuple[ResourceKind, ...]] = {}
        self._types: dict[str, str] = {}
        """Logical cluster -> workspace type ("root" for root)."""
        self._system: dict[str, dict[_GVR, ResourceKind]] = {}
        """Workspace type -> the kcp kinds it serves."""
        self._type_kinds: dict[str, tuple[ResourceKind, ...]] = {}
        self._write_lock = threading.Lock()

    # -- logical clusters ---------------------------------------------------------------------

    def define_type(self, workspace_type: str, kinds: Sequence[ResourceKind]) -> None:
        """The kcp kinds every cluster of ``workspace_type`` serves (set once, at start-up)."""
        with self._write_lock:
            self._system[workspace_type] = {(k.group, k.version, k.resource): k for k in kinds}
            self._type_kinds[workspace_type] = self._builtins + tuple(kinds)

    def has_type(self, workspace_type: str) -> bool:
        return workspace_type in self._system

    def set_cluster(self, cluster: str, workspace_type: str | None) -> None:
        """``cluster`` exists with ``workspace_type`` (None: it is gone)."""
        with self._write_lock:
            if workspace_type is None:
                self._types.pop(cluster, None)
                self._custom.pop(cluster, None)
                self._kinds.pop(cluster, None)
            else:
                self._types[cluster] = workspace_type
                self._rebuild(cluster)

    def cluster_type(self, cluster: str) -> str | None:
        """The workspace type of an existing logical cluster; None if there is no such cluster."""
        return self._types.get(cluster)

    def clusters(self) -> list[str]:
        return list(self._types)

    def _rebuild(self, cluster: str) -> None:
        base = self._type_kinds.get(self._types.get(cluster, ""), self._builtins)
        custom = self._custom.get(cluster)
        if custom:
            self._kinds[cluster] = base + tuple(custom.values())
        elif base is not self._builtins:
            self._kinds[cluster] = base
        else:
            self._kinds.pop(cluster, None)

    # -- kinds --------------------------------------------------------------------------------

    def lookup(self, cluster: str, group: str, version: str, resource: str) -> ResourceKind | None:
        found = self._by_resource.get((group, version, resource))
        if found is not None:
            return found
        gvr = (group, version, resource)
        if cluster == "*":
            for table in (*self._system.values(), *self._custom.values()):
                if gvr in table:
                    return table[gvr]
            return None
        system = self._system.get(self._types.get(cluster, ""))
        if system and gvr in system:
            return system[gvr]
        custom = self._custom.get(cluster)
        return custom.get(gvr) if custom else None

    def by_storage_id(self, storage_id: int, cluster: str = "") -> ResourceKind | None:
        """The kind whose objects are stored under ``storage_id`` (watch events name only keys).

        A custom resource's kind is looked up in ``cluster``, where its CRD lives.
        """
        found = self._by_storage_id.get(storage_id)
        if found is not None or not cluster:
            return found
        system = self._system.get(self._types.get(cluster, ""), {})
        for kind in (*system.values(), *self._custom.get(cluster, {}).values()):
            if kind.storage_id == storage_id:
                return kind
        return None

    def kinds(self, cluster: str) -> Sequence[ResourceKind]:
        return self._kinds.get(cluster, self._builtins)

    def clusters_with_custom_kinds(self) -> list[str]:
        """The logical clusters whose CRDs currently add kinds."""
        return list(self._custom)

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
            if cluster not in self._types:
                return  # no such workspace (any more): nothing to serve
            if table:
                self._custom[cluster] = table
            else:
                self._custom.pop(cluster, None)
            self._rebuild(cluster)

    def namespaced_kinds(self, cluster: str) -> list[ResourceKind]:
        """Every namespaced kind, one entry per stored resource (a namespace's content)."""
        seen: set[int] = set()
        out = []
        for kind in self.kinds(cluster):
            if kind.namespaced and kind.storage_id and kind.storage_id not in seen:
                seen.add(kind.storage_id)
                out.append(kind)
        return out
