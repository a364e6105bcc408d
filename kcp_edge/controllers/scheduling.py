"""The namespace scheduler: each namespace of a schedulable workspace goes to one WorkloadCluster.

Why this module exists: a syncer copies down exactly the objects labelled
``workloads.kcp.dev/cluster=<its cluster>``; something has to choose that cluster per
namespace and keep the choice valid as clusters come and go. This is kcp's 2022
``namespace-scheduler`` (``pkg/reconciler/workload/namespace``, reference §5.9):

* it acts only in workspaces whose Workspace object carries ``workloads.kcp.dev/schedulable:
  "true"`` (every Universal workspace gets it at creation) and ignores ``kube-system``,
  ``kube-public`` and ``kube-node-lease``;
* a namespace labelled ``experimental.workloads.kcp.dev/scheduling-disabled`` is left alone
  (``NamespaceScheduled=False``, ``SchedulingDisabled``), its content too;
* a namespace keeps its cluster while that WorkloadCluster exists, is ``Ready`` and is not
  past ``spec.evictAfter`` (``spec.unschedulable`` only stops new placements); otherwise it
  gets one chosen at random among the workspace's Ready, schedulable, not evicted clusters, or
  none (label removed, ``NamespaceScheduled=False``, ``Unschedulable``);
* when a namespace's label changes, every object in it (of every namespaced kind the
  workspace serves) gets the same label, or loses it. ``networking.k8s.io`` ingresses are
  skipped, as kcp left them to its ingress splitter, and so are events (``events`` and
  ``events.k8s.io``): they are never synced down, and relabelling them would only rewrite
  history. Objects written later get the label from the server's admission
  (``server/admission.py``), so this pass only has to catch up once per change.

Cluster changes requeue the workspace's namespaces: a cluster turning not Ready or passing its
``evictAfter`` (a work-queue timer waits for a future one) moves its namespaces, a cluster
turning Ready and schedulable takes the unscheduled ones. One worker handles the queue, so a
namespace is never scheduled twice at once; watches only fill caches and the queue.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

from kcp_edge.apimachinery.errors import StatusError
from kcp_edge.apimachinery.tables import parse_time
from kcp_edge.controllers import conditions
from kcp_edge.controllers.workloadclusters import rfc3339, workload_cluster_kind
from kcp_edge.controllers.workqueue import WorkQueue, together
from kcp_edge.registry import codec, keys
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.store import CLUSTER_ANNOTATION, ObjectStore
from kcp_edge.storage import EventType, StorageError
from kcp_edge.tenancy.systemcrds import (
    CLUSTER_LABEL,
    SCHEDULABLE_LABEL,
    SCHEDULING_DISABLED_LABEL,
    TENANCY_GROUP,
    UNLABELLED_RESOURCES,
    holds_workspaces,
)
from kcp_edge.tenancy.workspaces import ROOT, cluster_id, workspace_type

log = logging.getLogger(__name__)

Obj = dict[str, Any]
RETRY_SECONDS = 1.0
IGNORED_NAMESPACES = frozenset({"kube-system", "kube-public", "kube-node-lease"})
NAMESPACE_SCHEDULED = "NamespaceScheduled"
UNSCHEDULABLE = conditions.condition(
    NAMESPACE_SCHEDULED,
    False,
    reason="Unschedulable",
    message="No clusters are available to schedule Namespaces to.",
)
SCHEDULING_DISABLED = conditions.condition(
    NAMESPACE_SCHEDULED,
    False,
    reason="SchedulingDisabled",
    message="Automatic scheduling is deactivated and can be performed by setting the cluster "
    "label manually.",
)
SCHEDULED = conditions.condition(NAMESPACE_SCHEDULED, True)


@dataclass(frozen=True, slots=True)
class NamespaceKey:
    cluster: str
    name: str


@dataclass(frozen=True, slots=True)
class ClusterKey:
    """A WorkloadCluster whose placement rules are due for a new look (an ``evictAfter``)."""

    cluster: str
    name: str


Key = NamespaceKey | ClusterKey


@dataclass(frozen=True, slots=True)
class Placement:
    """What scheduling needs of a WorkloadCluster."""

    ready: bool
    unschedulable: bool
    evict_after: datetime | None

    @classmethod
    def of(cls, obj: Obj) -> Placement:
        spec = obj.get("spec") or {}
        found = (obj.get("status") or {}).get("conditions") or []
        return cls(
            ready=conditions.is_true(found, conditions.READY),
            unschedulable=bool(spec.get("unschedulable")),
            evict_after=parse_time(spec.get("evictAfter")),
        )

    def evicted(self, now: datetime) -> bool:
        return self.evict_after is not None and self.evict_after <= now

    def keeps(self, now: datetime) -> bool:
        """Namespaces placed here may stay."""
        return self.ready and not self.evicted(now)

    def takes(self, now: datetime) -> bool:
        """New namespaces may be placed here."""
        return self.keeps(now) and not self.unschedulable


def cluster_labelled(obj: Obj, target: str | None) -> Obj:
    """``obj`` with ``workloads.kcp.dev/cluster`` set to ``target`` (None: removed)."""
    labels = obj.setdefault("metadata", {}).setdefault("labels", {})
    if target is None:
        labels.pop(CLUSTER_LABEL, None)
    else:
        labels[CLUSTER_LABEL] = target
    return obj


def _relabel(target: str | None) -> Callable[[Obj], Obj]:
    return lambda fresh: cluster_labelled(fresh, target)


def _same(found: Obj | None, wanted: Obj) -> bool:
    if found is None:
        return False
    return {k: v for k, v in found.items() if k != "lastTransitionTime"} == wanted


class NamespaceScheduler:
    """One task: place the namespaces of schedulable workspaces on WorkloadClusters."""

    def __init__(self, *, catalog: Catalog, objects: ObjectStore) -> None:
        workspaces = catalog.lookup(ROOT, TENANCY_GROUP, "v1beta1", "workspaces")
        if workspaces is None:
            raise ValueError("the catalog serves no workspaces.tenancy.kcp.dev")
        self._catalog = catalog
        self._objects = objects
        self._workspaces: ResourceKind = workspaces
        self._clusters_kind = workload_cluster_kind(catalog)
        self._schedulable: set[str] = set()
        self._clusters: dict[str, dict[str, Placement]] = {}
        self._usable: dict[ClusterKey, tuple[bool, bool]] = {}
        self._propagated: dict[NamespaceKey, str | None] = {}
        """The cluster label each namespace's content was last brought to."""

    async def run(self) -> None:
        while True:
            queue: WorkQueue[Key] = WorkQueue()
            try:
                await self._session(queue)
            except (StatusError, StorageError):
                log.exception("namespace scheduler: watch failed; starting over")
            finally:
                queue.close()
            await asyncio.sleep(RETRY_SECONDS)

    # -- caches and the queue ----------------------------------------------------------------

    async def _session(self, queue: WorkQueue[Key]) -> None:
        self._schedulable.clear()
        self._clusters.clear()
        self._usable.clear()
        self._propagated.clear()
        spaces, space_revision = self._listed(self._workspaces)
        for parent, name, ws in spaces:
            self._workspace_seen(parent, name, ws, queue)
        found, cluster_revision = self._listed(self._clusters_kind)
        for cluster, name, wc in found:
            self._cluster_seen(cluster, name, wc, queue)
        namespaces, namespace_revision = self._listed(self._catalog.namespaces)
        for cluster, name, _ in namespaces:
            self._namespace_seen(NamespaceKey(cluster, name), queue)
        await together(
            self._follow(self._workspaces, space_revision, queue),
            self._follow(self._clusters_kind, cluster_revision, queue),
            self._follow(self._catalog.namespaces, namespace_revision, queue),
            self._work(queue),
        )

    def _listed(self, kind: ResourceKind) -> tuple[list[tuple[str, str, Obj]], int]:
        """(cluster, name, object) of every object of ``kind``, and the revision listed at."""
        page = self._objects.list(kind, "*", "")
        found = []
        for raw in page.items:
            obj = orjson.loads(raw)
            meta = obj["metadata"]
            found.append((meta["annotations"].pop(CLUSTER_ANNOTATION), meta["name"], obj))
        return found, page.revision

    async def _follow(self, kind: ResourceKind, revision: int, queue: WorkQueue[Key]) -> None:
        watch = self._objects.watch(kind, "*", "", revision)
        try:
            async for event in watch:
                cluster, _, name = keys.split_key(event.kv.key)
                deleted = event.type is EventType.DELETE
                if kind is self._catalog.namespaces:
                    if deleted:
                        self._propagated.pop(NamespaceKey(cluster, name), None)
                    else:
                        self._namespace_seen(NamespaceKey(cluster, name), queue)
                    continue
                obj = None if deleted else codec.decode(event.kv.value, event.revision)
                if kind is self._workspaces:
                    self._workspace_seen(cluster, name, obj, queue)
                else:
                    self._cluster_seen(cluster, name, obj, queue)
        finally:
            watch.close()

    def _workspace_seen(
        self, parent: str, name: str, ws: Obj | None, queue: WorkQueue[Key]
    ) -> None:
        cluster = cluster_id(parent, name)
        labels = (ws or {}).get("metadata", {}).get("labels") or {}
        schedulable = (
            ws is not None
            and labels.get(SCHEDULABLE_LABEL) == "true"
            and not holds_workspaces(workspace_type(ws))
        )
        if not schedulable:
            self._schedulable.discard(cluster)
        elif cluster not in self._schedulable:
            self._schedulable.add(cluster)
            self._requeue_namespaces(cluster, queue)

    def _cluster_seen(self, cluster: str, name: str, wc: Obj | None, queue: WorkQueue[Key]) -> None:
        placements = self._clusters.setdefault(cluster, {})
        if wc is not None:
            placements[name] = Placement.of(wc)
        else:
            placements.pop(name, None)
            if not placements:
                del self._clusters[cluster]
        self._cluster_changed(ClusterKey(cluster, name), queue)

    def _cluster_changed(self, key: ClusterKey, queue: WorkQueue[Key]) -> None:
        """Requeue the workspace's namespaces when what the cluster allows changed."""
        placement = self._clusters.get(key.cluster, {}).get(key.name)
        if placement is None:
            self._usable.pop(key, None)
            self._requeue_namespaces(key.cluster, queue)
            return
        now = datetime.now(timezone.utc)
        usable = (placement.keeps(now), placement.takes(now))
        if self._usable.get(key) != usable:
            self._usable[key] = usable
            self._requeue_namespaces(key.cluster, queue)
        if placement.evict_after is not None and not placement.evicted(now):
            queue.add_after(key, (placement.evict_after - now).total_seconds())

    def _namespace_seen(self, key: NamespaceKey, queue: WorkQueue[Key]) -> None:
        if key.cluster in self._schedulable and key.name not in IGNORED_NAMESPACES:
            queue.add(key)

    def _requeue_namespaces(self, cluster: str, queue: WorkQueue[Key]) -> None:
        if cluster not in self._schedulable:
            return
        for raw in self._objects.list(self._catalog.namespaces, cluster, "").items:
            self._namespace_seen(
                NamespaceKey(cluster, orjson.loads(raw)["metadata"]["name"]), queue
            )

    async def _work(self, queue: WorkQueue[Key]) -> None:
        while True:
            key = await queue.get()
            if isinstance(key, ClusterKey):
                self._cluster_changed(key, queue)
                continue
            try:
                if not await self._schedule(key):
                    queue.add_after(key, RETRY_SECONDS)
            except StatusError as exc:
                if exc.code != 404:
                    log.warning("namespace %s|%s: %s", key.cluster, key.name, exc.message)
                    queue.add_after(key, RETRY_SECONDS)

    # -- scheduling --------------------------------------------------------------------------

    def _choose(self, cluster: str, current: str | None) -> str | None:
        now = datetime.now(timezone.utc)
        placements = self._clusters.get(cluster, {})
        kept = placements.get(current) if current else None
        if current and kept is not None and kept.keeps(now):
            return current
        candidates = sorted(name for name, p in placements.items() if p.takes(now))
        return secrets.choice(candidates) if candidates else None

    async def _schedule(self, key: NamespaceKey) -> bool:
        """Place one namespace and its content; False when some of it must be retried."""
        if key.cluster not in self._schedulable or key.name in IGNORED_NAMESPACES:
            return True
        ns = self._objects.get(self._catalog.namespaces, key.cluster, "", key.name)
        if ns["metadata"].get("deletionTimestamp"):
            return True
        labels = ns["metadata"].get("labels") or {}
        if SCHEDULING_DISABLED_LABEL in labels:
            self._propagated.pop(key, None)
            await self._set_condition(key, ns, SCHEDULING_DISABLED)
            return True
        current = labels.get(CLUSTER_LABEL)
        target = self._choose(key.cluster, current)
        if target != current:
            log.info("namespace %s|%s: scheduled to %s", key.cluster, key.name, target)
            await self._objects.update(
                self._catalog.namespaces, key.cluster, "", key.name, _relabel(target)
            )
        await self._set_condition(key, ns, SCHEDULED if target else UNSCHEDULABLE)
        if key in self._propagated and self._propagated[key] == target:
            return True
        if not await self._propagate(key, target):
            return False
        self._propagated[key] = target
        return True

    async def _set_condition(self, key: NamespaceKey, ns: Obj, wanted: Obj) -> None:
        found = (ns.get("status") or {}).get("conditions") or []
        if _same(conditions.find(found, NAMESPACE_SCHEDULED), wanted):
            return
        now = rfc3339(datetime.now(timezone.utc))

        def with_condition(fresh: Obj) -> Obj:
            status = fresh.setdefault("status", {})
            status["conditions"] = conditions.set_condition(
                status.get("conditions") or [], wanted, now=now
            )
            return fresh

        await self._objects.update(
            self._catalog.namespaces,
            key.cluster,
            "",
            key.name,
            with_condition,
            subresource="status",
        )

    async def _propagate(self, key: NamespaceKey, target: str | None) -> bool:
        """Give everything in the namespace its cluster label; False if something failed."""
        complete = True
        for kind in self._catalog.namespaced_kinds(key.cluster):
            if (kind.group, kind.resource) in UNLABELLED_RESOURCES:
                continue
            for raw in self._objects.list(kind, key.cluster, key.name).items:
                meta = orjson.loads(raw)["metadata"]
                if (meta.get("labels") or {}).get(CLUSTER_LABEL) == target:
                    continue
                try:
                    await self._objects.update(
                        kind, key.cluster, key.name, meta["name"], _relabel(target)
                    )
                except StatusError as exc:
                    if exc.code != 404:
                        log.warning(
                            "%s %s|%s/%s: cannot label: %s",
                            kind.resource, key.cluster, key.name, meta["name"], exc.message,
                        )  # fmt: skip
                        complete = False
        return complete
