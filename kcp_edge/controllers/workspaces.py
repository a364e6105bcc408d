"""Workspaces: make each one a logical cluster, get it Ready, and delete its content with it.

Why this module exists: a ``Workspace`` object in a parent workspace stands for a logical
cluster (``<parent>:<name>``) with its own namespaces, CRDs and discovery. As kcp's workspace
controllers do, this one task registers every workspace's cluster and type in the catalog
(start-up first, before the server reports ready), initializes new ones (a ``default``
namespace, then phase ``Ready`` with ``status.URL``), and when one is deleted marks it
``Terminating``, deletes everything stored in it and in its nested workspaces, and only then
lets the object go (finalizer ``tenancy.kcp.dev/content``).

Deleting content bypasses the per-object API path on purpose: the workspace is going, nothing
in it may hold the deletion, and the store's group commit takes thousands of deletes per batch.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from kcp_edge.apimachinery.errors import StatusError
from kcp_edge.registry import codec, keys
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.custom import custom_kinds
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.store import CLUSTER_ANNOTATION, ObjectStore, now_rfc3339
from kcp_edge.storage import EventType, StorageError, WriteOp
from kcp_edge.tenancy.workspaces import (
    CONTENT_FINALIZER,
    cluster_id,
    system_crds,
    workspace_url,
)

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
_DELETE_BATCH = 512
Obj = dict[str, Any]


class WorkspaceController:
    """One task: register, initialize and delete the workspaces of every logical cluster."""

    def __init__(
        self, *, catalog: Catalog, objects: ObjectStore, kind: ResourceKind, base_url: str
    ) -> None:
        self._catalog = catalog
        self._objects = objects
        self._kind = kind
        self._base_url = base_url.rstrip("/")
        self._revision = 0
        self._busy: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def load(self) -> None:
        """Start-up: every stored workspace is a logical cluster before the first request."""
        page = self._objects.list(self._kind, "*", "")
        pending = []
        for raw in page.items:
            ws: Obj = orjson.loads(raw)
            parent = ws["metadata"]["annotations"].pop(CLUSTER_ANNOTATION)
            self._register(parent, ws)
            pending.append((parent, ws))
        self._revision = page.revision
        for parent, ws in pending:
            self._consider(parent, ws)

    async def run(self) -> None:
        try:
            while True:
                try:
                    if not self._revision:
                        await self.load()
                    await self._follow()
                except (StatusError, StorageError):
                    log.exception("workspace controller: watch failed; starting over")
                    self._revision = 0
                await asyncio.sleep(RETRY_SECONDS)
        finally:
            for task in self._tasks:
                task.cancel()

    async def _follow(self) -> None:
        watch = self._objects.watch(self._kind, "*", "", self._revision)
        try:
            async for event in watch:
                self._revision = event.revision
                parent, _, name = keys.split_key(event.kv.key)
                if event.type is EventType.DELETE:
                    self._gone(cluster_id(parent, name))
                    continue
                ws = codec.decode(event.kv.value, event.revision)
                self._register(parent, ws)
                self._consider(parent, ws)
        finally:
            watch.close()

    def _register(self, parent: str, ws: Obj) -> None:
        cluster = cluster_id(parent, ws["metadata"]["name"])
        if self._catalog.cluster_type(parent) is None:
            return  # an orphan of a deleted parent: its content goes with the parent
        wanted = str(ws.get("spec", {}).get("type") or "Universal")
        if not self._catalog.has_type(wanted):  # a ClusterWorkspaceType of the parent
            kinds = [k for crd in system_crds(wanted) for k in custom_kinds(crd)]
            self._catalog.define_type(wanted, kinds)
        if self._catalog.cluster_type(cluster) != wanted:
            self._catalog.set_cluster(cluster, wanted)

    def _gone(self, cluster: str) -> None:
        """The object went without its finalizer's work (or after it): drop what is left.

        A nested workspace removed with its ancestor's content is no longer registered: its
        content went in the same sweep, so there is nothing to do.
        """
        if self._catalog.cluster_type(cluster) is None:
            return
        ids = self._content_ids(cluster)
        self._forget_below(cluster, itself=True)
        if ids:
            self._spawn(cluster, self._delete_quietly(cluster, ids))

    async def _delete_quietly(self, cluster: str, ids: set[int]) -> None:
        try:
            await self._delete_content(cluster, ids)
        except StorageError:
            log.exception("workspace %s: deleting content failed", cluster)

    def _consider(self, parent: str, ws: Obj) -> None:
        cluster = cluster_id(parent, ws["metadata"]["name"])
        if cluster in self._busy:
            return
        if ws["metadata"].get("deletionTimestamp"):
            self._spawn(cluster, self._terminate(parent, ws))
        elif self._needs_work(ws.get("status", {})):
            self._spawn(cluster, self._initialize(parent, ws))

    @staticmethod
    def _needs_work(status: Obj) -> bool:
        phase = status.get("phase")
        if phase == "Initializing":
            return not status.get("initializers")
        return phase != "Ready"

    def _spawn(self, cluster: str, work: Any) -> None:
        self._busy.add(cluster)
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            self._busy.discard(cluster)

        task.add_done_callback(done)

    # -- initialization ------------------------------------------------------------------------

    async def _initialize(self, parent: str, ws: Obj) -> None:
        name = ws["metadata"]["name"]
        cluster = cluster_id(parent, name)
        try:
            await self._ensure_default_namespace(cluster)

            def ready(fresh: Obj) -> Obj:
                status = fresh.setdefault("status", {})
                # Initializers (from a ClusterWorkspaceType) remove themselves through
                # /status; until the last one has, the workspace stays Initializing.
                status["phase"] = "Initializing" if status.get("initializers") else "Ready"
                status["URL"] = workspace_url(self._base_url, cluster)
                return fresh

            await self._objects.update(self._kind, parent, "", name, ready, subresource="status")
        except StatusError as exc:
            if exc.code != 404:
                log.warning("workspace %s: initialization failed: %s", cluster, exc.message)

    async def _ensure_default_namespace(self, cluster: str) -> None:
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "default"}}
        try:
            await self._objects.create(self._catalog.namespaces, cluster, "", namespace)
        except StatusError as exc:
            if exc.code != 409:
                raise

    # -- deletion ------------------------------------------------------------------------------

    async def _terminate(self, parent: str, ws: Obj) -> None:
        name = ws["metadata"]["name"]
        cluster = cluster_id(parent, name)
        try:
            if ws.get("status", {}).get("phase") != "Terminating":
                await self._set_phase(parent, name, "Terminating", deleting=True)
            ids = self._content_ids(cluster)
            self._forget_below(cluster, itself=False)
            removed = await self._delete_content(cluster, ids)
            log.info("workspace %s: deleted %d objects", cluster, removed)

            def release(fresh: Obj) -> Obj:
                meta = fresh["metadata"]
                meta["finalizers"] = [
                    f for f in meta.get("finalizers", []) if f != CONTENT_FINALIZER
                ]
                return fresh

            await self._objects.update(self._kind, parent, "", name, release)
        except StatusError as exc:
            if exc.code != 404:
                log.warning("workspace %s: deletion failed: %s", cluster, exc.message)

    async def _set_phase(self, parent: str, name: str, phase: str, *, deleting: bool) -> None:
        def with_phase(fresh: Obj) -> Obj:
            status = fresh.setdefault("status", {})
            status["phase"] = phase
            conditions = [
                c
                for c in status.get("conditions", [])
                if c.get("type") != "WorkspaceDeletionContentSuccess"
            ]
            if deleting:
                conditions.append(
                    {
                        "type": "WorkspaceDeletionContentSuccess",
                        "status": "False",
                        "reason": "ContentDeletionInProgress",
                        "message": "deleting the workspace's content and nested workspaces",
                        "lastTransitionTime": now_rfc3339(),
                    }
                )
            status["conditions"] = conditions
            return fresh

        await self._objects.update(self._kind, parent, "", name, with_phase, subresource="status")

    def _content_ids(self, cluster: str) -> set[int]:
        """The storage ids of every kind served in ``cluster`` and the clusters below it."""
        ids: set[int] = set()
        for known in self._catalog.clusters():
            if known == cluster or known.startswith(cluster + ":"):
                ids.update(kind.storage_id for kind in self._catalog.kinds(known))
        return ids

    def _forget_below(self, cluster: str, *, itself: bool) -> None:
        for known in self._catalog.clusters():
            if (itself and known == cluster) or known.startswith(cluster + ":"):
                self._catalog.set_cluster(known, None)

    async def _delete_content(self, cluster: str, ids: set[int]) -> int:
        """Delete every object stored in ``cluster`` and in clusters nested below it."""
        store = self._objects.kv
        removed = 0
        for storage_id in sorted(ids):
            for prefix in (
                b"/r/%x/%s/" % (storage_id, cluster.encode()),
                b"/r/%x/%s:" % (storage_id, cluster.encode()),
            ):
                removed += await self._delete_prefix(store, prefix)
        return removed

    @staticmethod
    async def _delete_prefix(store: Any, prefix: bytes) -> int:
        removed = 0
        while True:
            page = store.list(prefix, limit=_DELETE_BATCH)
            if not page.items:
                return removed
            futures = [store.submit(WriteOp.delete(kv.key)) for kv in page.items]
            for future in futures:
                await asyncio.wrap_future(future)
            removed += len(page.items)
            if len(page.items) < _DELETE_BATCH:
                return removed
