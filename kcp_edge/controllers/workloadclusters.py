"""WorkloadCluster health: ``HeartbeatHealthy`` from the syncer's heartbeats, ``Ready`` from that.

Why this module exists: a syncer proves it is alive only by writing
``status.lastSyncerHeartbeatTime`` every 20 s; nothing else notices when it stops. As kcp's
``kcp-cluster-heartbeat-manager`` does (reference §4.1), this controller keeps, on every
WorkloadCluster of every workspace, ``HeartbeatHealthy`` True while the last heartbeat is at
most ``threshold`` old, else False (reason ``ErrorHeartbeat``, severity Warning, ``No heartbeat
yet seen`` / ``No heartbeat since <time>``), and ``Ready`` as the summary of ``SyncerReady``,
``APIImporterReady`` and ``HeartbeatHealthy`` (those present). The namespace scheduler reads
``Ready``. ``spec.evictAfter`` and ``spec.unschedulable`` are the scheduler's business, not
health's.

A healthy cluster is looked at again when its heartbeat would turn stale (``last +
threshold``), through a timer of the work queue: no polling. Status is written only when a
condition changes, so the heartbeats themselves cause no writes here.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta, timezone
from typing import Any

import orjson

from kcp_edge.apimachinery.errors import StatusError
from kcp_edge.apimachinery.tables import parse_time
from kcp_edge.controllers import conditions
from kcp_edge.controllers.workqueue import WorkQueue, together
from kcp_edge.registry import keys
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.store import CLUSTER_ANNOTATION, ObjectStore
from kcp_edge.storage import EventType, StorageError
from kcp_edge.tenancy.systemcrds import WORKLOAD_GROUP

log = logging.getLogger(__name__)

Obj = dict[str, Any]
Key = tuple[str, str]
"""(logical cluster, WorkloadCluster name)."""

RETRY_SECONDS = 1.0
DEFAULT_THRESHOLD = 60.0
HEARTBEAT_HEALTHY = "HeartbeatHealthy"
SYNCER_READY = "SyncerReady"
API_IMPORTER_READY = "APIImporterReady"
SUMMARIZED = (SYNCER_READY, API_IMPORTER_READY, HEARTBEAT_HEALTHY)
ERROR_HEARTBEAT = "ErrorHeartbeat"
_MARGIN = 0.05
"""Seconds past ``last + threshold`` to look again, so the heartbeat is then strictly stale."""


def workload_cluster_kind(catalog: Catalog) -> ResourceKind:
    kind = catalog.lookup("*", WORKLOAD_GROUP, "v1alpha1", "workloadclusters")
    if kind is None:
        raise ValueError("the catalog serves no workloadclusters.workload.kcp.dev")
    return kind


def rfc3339(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def last_heartbeat(status: Obj) -> datetime | None:
    return parse_time(status.get("lastSyncerHeartbeatTime"))


def heartbeat_condition(status: Obj, *, now: datetime, threshold: float) -> Obj:
    """``HeartbeatHealthy`` for a WorkloadCluster ``status`` at ``now``."""
    last = last_heartbeat(status)
    if last is None:
        message = "No heartbeat yet seen"
    elif now - last > timedelta(seconds=threshold):
        message = f"No heartbeat since {rfc3339(last)}"
    else:
        return conditions.condition(HEARTBEAT_HEALTHY, True)
    return conditions.condition(
        HEARTBEAT_HEALTHY,
        False,
        reason=ERROR_HEARTBEAT,
        message=message,
        severity=conditions.WARNING,
    )


def with_health(status: Obj, *, now: datetime, threshold: float) -> list[Obj]:
    """``status.conditions`` with ``HeartbeatHealthy`` and the ``Ready`` summary brought up
    to date (transition times kept where the status did not change)."""
    stamp = rfc3339(now)
    found = list(status.get("conditions") or [])
    wanted = heartbeat_condition(status, now=now, threshold=threshold)
    found = conditions.set_condition(found, wanted, now=stamp)
    return conditions.set_condition(found, conditions.summary(found, SUMMARIZED), now=stamp)


def next_check(status: Obj, *, now: datetime, threshold: float) -> float | None:
    """Seconds until a healthy heartbeat turns stale; None when there is nothing to wait for."""
    last = last_heartbeat(status)
    if last is None:
        return None
    left = (last - now).total_seconds() + threshold
    return left + _MARGIN if left >= 0 else None


class WorkloadClusterHealth:
    """One task: the health conditions of the WorkloadClusters of every workspace."""

    def __init__(
        self, *, catalog: Catalog, objects: ObjectStore, threshold: float = DEFAULT_THRESHOLD
    ) -> None:
        if threshold <= 0:
            raise ValueError("the heartbeat threshold must be positive")
        self._kind = workload_cluster_kind(catalog)
        self._objects = objects
        self._threshold = threshold

    async def run(self) -> None:
        while True:
            queue: WorkQueue[Key] = WorkQueue()
            try:
                await self._session(queue)
            except (StatusError, StorageError):
                log.exception("workload cluster health: watch failed; starting over")
            finally:
                queue.close()
            await asyncio.sleep(RETRY_SECONDS)

    async def _session(self, queue: WorkQueue[Key]) -> None:
        page = self._objects.list(self._kind, "*", "")
        for raw in page.items:
            meta = orjson.loads(raw)["metadata"]
            queue.add((meta["annotations"][CLUSTER_ANNOTATION], meta["name"]))
        await together(self._follow(page.revision, queue), self._work(queue))

    async def _follow(self, revision: int, queue: WorkQueue[Key]) -> None:
        watch = self._objects.watch(self._kind, "*", "", revision)
        try:
            async for event in watch:
                if event.type is not EventType.DELETE:
                    cluster, _, name = keys.split_key(event.kv.key)
                    queue.add((cluster, name))
        finally:
            watch.close()

    async def _work(self, queue: WorkQueue[Key]) -> None:
        while True:
            key = await queue.get()
            try:
                delay = await self._reconcile(*key)
            except StatusError as exc:
                if exc.code != 404:
                    log.warning("workload cluster %s|%s: %s", *key, exc.message)
                    queue.add_after(key, RETRY_SECONDS)
                continue
            if delay is not None:
                queue.add_after(key, delay)

    async def _reconcile(self, cluster: str, name: str) -> float | None:
        """Bring the conditions up to date; when to look again (seconds), if ever."""
        obj = self._objects.get(self._kind, cluster, "", name)
        if obj["metadata"].get("deletionTimestamp"):
            return None
        now = datetime.now(timezone.utc)
        status: Obj = obj.get("status") or {}
        if with_health(status, now=now, threshold=self._threshold) != status.get("conditions"):

            def healthy(fresh: Obj) -> Obj:
                fresh_status = fresh.setdefault("status", {})
                fresh_status["conditions"] = with_health(
                    fresh_status, now=now, threshold=self._threshold
                )
                return fresh

            updated = await self._objects.update(
                self._kind, cluster, "", name, healthy, subresource="status"
            )
            status = updated.get("status") or {}
        return next_check(status, now=now, threshold=self._threshold)
