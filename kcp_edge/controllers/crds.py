"""CustomResourceDefinitions: accept their names, establish them, serve them, clean up after them.

Why this module exists: a CRD becomes an API through controllers, as in
``apiextensions-apiserver`` (the naming, establishing and finalizer controllers): its names are
checked against the other CRDs of its logical cluster (``NamesAccepted``), the accepted ones
are served (``Established``, then discovery, OpenAPI and the resource endpoints, all through
the catalog), and deleting it deletes its objects before the CRD goes
(``customresourcecleanup.apiextensions.k8s.io``). This one task owns the catalog's custom kinds:
it fills them at start-up, before the server reports ready, and on every change of a CRD.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from typing import Any

import orjson

from kcp_edge.apimachinery.errors import StatusError
from kcp_edge.registry import crds, custom, keys
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.store import CLUSTER_ANNOTATION, ObjectStore, now_rfc3339
from kcp_edge.storage import StorageError

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
Obj = dict[str, Any]


def _decode(raw: bytes) -> Obj:
    obj: Obj = orjson.loads(raw)
    return obj


def _condition(crd: Obj, kind: str) -> Obj | None:
    for condition in crd.get("status", {}).get("conditions") or []:
        if condition.get("type") == kind:
            found: Obj = condition
            return found
    return None


def _established(crd: Obj) -> bool:
    condition = _condition(crd, "Established")
    return condition is not None and condition.get("status") == "True"


class CRDController:
    """One task: reconcile the CRDs of every logical cluster and publish what they serve."""

    def __init__(self, *, catalog: Catalog, objects: ObjectStore, kind: ResourceKind) -> None:
        self._catalog = catalog
        self._objects = objects
        self._kind = kind
        self._revision = 0
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._terminating: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def _list(self, cluster: str) -> list[Obj]:
        return [_decode(raw) for raw in self._objects.list(self._kind, cluster, "").items]

    async def load(self) -> None:
        """Start-up, and after a watch gap: serve exactly the established CRDs (before the first
        request, at start-up)."""
        page = self._objects.list(self._kind, "*", "")
        by_cluster: dict[str, list[Obj]] = defaultdict(list)
        for raw in page.items:
            crd = _decode(raw)
            cluster = crd["metadata"]["annotations"].pop(CLUSTER_ANNOTATION)
            if not crd["metadata"]["annotations"]:
                del crd["metadata"]["annotations"]
            by_cluster[cluster].append(crd)
        # After a watch gap, a workspace whose last CRD went meanwhile is in no list: its kinds
        # must go too.
        gone = set(self._catalog.clusters_with_custom_kinds()) - set(by_cluster)
        for cluster, found in [*by_cluster.items(), *((c, []) for c in gone)]:
            self._publish(cluster, found)
        self._dirty.update(by_cluster)
        self._revision = page.revision

    async def run(self) -> None:
        worker = asyncio.create_task(self._work())
        try:
            while True:
                try:
                    await self._follow()
                except (StatusError, StorageError):
                    log.exception("CRD controller: watch failed; starting over")
                await asyncio.sleep(RETRY_SECONDS)
                self._revision = 0
        finally:
            worker.cancel()
            for task in self._tasks:
                task.cancel()

    async def _follow(self) -> None:
        if not self._revision:
            await self.load()
            self._wake.set()
        watch = self._objects.watch(self._kind, "*", "", self._revision)
        try:
            async for event in watch:
                self._revision = event.revision
                self._dirty.add(keys.split_key(event.kv.key)[0])
                self._wake.set()
        finally:
            watch.close()

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._dirty:
                cluster = self._dirty.pop()
                try:
                    await self._reconcile(cluster)
                except (StatusError, StorageError):
                    log.exception("CRD controller: reconciling %s failed; retrying", cluster)
                    self._dirty.add(cluster)
                    await asyncio.sleep(RETRY_SECONDS)

    async def _reconcile(self, cluster: str) -> None:
        found = self._list(cluster)
        desired = []
        for crd in found:
            others = [other for other in found if other is not crd]
            desired.append((crd, others, _desired_status(crd, others)))
        # Serve first, then say so: a client that sees Established can use the kind at once.
        self._publish(cluster, [{**crd, "status": status} for crd, _, status in desired])
        for crd, others, status in desired:
            if crd["metadata"].get("deletionTimestamp"):
                self._terminate(cluster, crd)
            if status != crd.get("status"):
                await self._write_status(cluster, crd, others)

    async def _write_status(self, cluster: str, crd: Obj, others: list[Obj]) -> None:
        def with_status(fresh: Obj) -> Obj:
            fresh["status"] = _desired_status(fresh, others)
            return fresh

        try:
            await self._objects.update(
                self._kind, cluster, "", crd["metadata"]["name"], with_status, subresource="status"
            )
        except StatusError as exc:
            if exc.code != 404:
                raise

    def _publish(self, cluster: str, found: list[Obj]) -> None:
        kinds: list[ResourceKind] = []
        for crd in found:
            if _established(crd):
                kinds.extend(custom.custom_kinds(crd))
        self._catalog.set_custom(cluster, kinds)

    # -- deletion -------------------------------------------------------------------------------

    def _terminate(self, cluster: str, crd: Obj) -> None:
        key = (cluster, crd["metadata"]["name"])
        if key in self._terminating:
            return
        self._terminating.add(key)
        task = asyncio.create_task(self._delete_instances(cluster, crd))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _delete_instances(self, cluster: str, crd: Obj) -> None:
        name = crd["metadata"]["name"]
        try:
            kinds = crds.served_kinds(crd) if _established(crd) else []
            if kinds:
                while not await self._empty(cluster, kinds[0]):
                    await asyncio.sleep(RETRY_SECONDS)
            await self._objects.update(self._kind, cluster, "", name, _drop_cleanup_finalizer)
        except StatusError as exc:
            if exc.code != 404:
                log.warning("CRD %s/%s: cleanup failed: %s", cluster, name, exc.message)
        finally:
            self._terminating.discard((cluster, name))

    async def _empty(self, cluster: str, kind: ResourceKind) -> bool:
        """Delete every object of ``kind``; True once none is left."""
        left = 0
        for raw in self._objects.list(kind, cluster, "").items:
            meta = _decode(raw)["metadata"]
            left += 1
            if meta.get("deletionTimestamp"):
                continue
            try:
                await self._objects.delete(kind, cluster, meta.get("namespace", ""), meta["name"])
            except StatusError as exc:
                if exc.code != 404:
                    raise
        return left == 0


def _desired_status(crd: Obj, others: list[Obj]) -> Obj:
    """The status the controllers agree on: names, establishment, and termination."""
    status: Obj = crds.accepted_status(crd, others, now=now_rfc3339())
    if not crd["metadata"].get("deletionTimestamp"):
        return status
    terminating = _condition(crd, "Terminating") or {
        "type": "Terminating",
        "status": "True",
        "reason": "InstanceDeletionInProgress",
        "message": "CustomResource deletion is in progress",
        "lastTransitionTime": now_rfc3339(),
    }
    conditions = [c for c in status.get("conditions", []) if c.get("type") != "Terminating"]
    return {**status, "conditions": [*conditions, terminating]}


def _drop_cleanup_finalizer(crd: Obj) -> Obj:
    meta = crd["metadata"]
    meta["finalizers"] = [f for f in meta.get("finalizers", []) if f != crds.CLEANUP_FINALIZER]
    return crd
