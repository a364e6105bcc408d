"""Garbage collection of dependents through ``metadata.ownerReferences``.

Why this module exists: deleting an owner must act on its dependents as the delete's
``propagationPolicy`` says (``k8s.io/kubernetes/pkg/controller/garbagecollector``):

* Background (the default): the owner goes at once; its dependents are deleted afterwards, or,
  when a dependent still has another owner that exists, only the dead reference is dropped.
* Foreground: the owner stays, with the ``foregroundDeletion`` finalizer, until its dependents
  are gone; then the finalizer is removed and the owner disappears.
* Orphan: the ``orphan`` finalizer makes the collector remove the owner's references from its
  dependents, then the finalizer; the dependents stay.

The controller watches every stored object of every logical cluster (one prefix watch) and
looks dependents up by scanning the owner's namespace (or, for a cluster-scoped owner, its
whole logical cluster). Scans are cheap at edge scale and cost no memory while idle; an owner
index is the upgrade path if fleets grow.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from kcp_edge.apimachinery.errors import StatusError
from kcp_edge.registry import codec, keys
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.store import ObjectStore
from kcp_edge.storage import EventType, StorageError
from kcp_edge.storage.interface import Event

log = logging.getLogger(__name__)

FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"
RETRY_SECONDS = 1.0
_OWNER_MARK = b'"ownerReferences"'

Obj = dict[str, Any]


class GarbageCollector:
    """One task: react to owners being deleted, per their propagation policy."""

    def __init__(self, *, catalog: Catalog, objects: ObjectStore) -> None:
        self._catalog = catalog
        self._objects = objects
        self._pending: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        while True:
            try:
                watch = self._objects.kv.watch(
                    b"/r/", after_revision=self._objects.kv.current_revision
                )
                try:
                    async for event in watch:
                        self._on_event(event)
                finally:
                    watch.close()
            except asyncio.CancelledError:
                for task in self._tasks:
                    task.cancel()
                raise
            except StorageError:
                log.exception("garbage collector: watch failed; starting over")
            await asyncio.sleep(RETRY_SECONDS)

    def _on_event(self, event: Event) -> None:
        if event.type is EventType.PUT and b'"deletionTimestamp"' not in event.kv.value:
            return  # the common case: a write that deletes nothing
        cluster, namespace, _ = keys.split_key(event.kv.key)
        if self._catalog.cluster_type(cluster) is None:
            return  # its workspace is being deleted with everything in it
        kind = self._catalog.by_storage_id(int(event.kv.key.split(b"/")[2], 16), cluster)
        if kind is None:
            return
        obj = codec.decode(event.kv.value, event.revision)
        meta = obj["metadata"]
        uid = meta.get("uid", "")
        finalizers = meta.get("finalizers") or []
        if event.type is EventType.DELETE:
            self._spawn(uid, self._collect(cluster, kind, namespace, uid, orphan=False))
        elif meta.get("deletionTimestamp") and FOREGROUND in finalizers:
            self._spawn(uid, self._foreground(cluster, kind, namespace, meta["name"], uid))
        elif meta.get("deletionTimestamp") and ORPHAN in finalizers:
            self._spawn(uid, self._orphan(cluster, kind, namespace, meta["name"], uid))

    def _spawn(self, uid: str, work: Any) -> None:
        key = (uid, getattr(work, "__name__", ""))
        if not uid or key in self._pending:
            work.close()
            return
        self._pending.add(key)
        task: asyncio.Task[None] = asyncio.create_task(work)
        self._tasks.add(task)

        def done(t: asyncio.Task[None]) -> None:
            self._tasks.discard(t)
            self._pending.discard(key)
            if not t.cancelled() and t.exception() is not None:
                log.warning("garbage collector: %s", t.exception())

        task.add_done_callback(done)

    def _dependents(
        self, cluster: str, owner: ResourceKind, namespace: str, uid: str
    ) -> list[tuple[ResourceKind, Obj]]:
        found: list[tuple[ResourceKind, Obj]] = []
        seen: set[int] = set()
        for kind in self._catalog.kinds(cluster):
            if not kind.storage_id or kind.storage_id in seen:
                continue  # never stored (the review APIs), or another version of a CRD
            seen.add(kind.storage_id)
            if owner.namespaced and not kind.namespaced:
                continue  # a namespaced owner cannot own cluster-scoped objects
            scope = namespace if (owner.namespaced and kind.namespaced) else ""
            for raw in self._objects.list(kind, cluster, scope).items:
                if _OWNER_MARK not in raw:
                    continue
                obj: Obj = orjson.loads(raw)
                refs = obj["metadata"].get("ownerReferences") or []
                if any(ref.get("uid") == uid for ref in refs):
                    found.append((kind, obj))
        return found

    def _owner_alive(self, cluster: str, namespace: str, ref: dict[str, Any]) -> bool:
        api_version = str(ref.get("apiVersion", ""))
        group, _, version = api_version.rpartition("/")
        for kind in self._catalog.kinds(cluster):
            if kind.group == group and kind.version == version and kind.kind == ref.get("kind"):
                try:
                    owner = self._objects.get(
                        kind, cluster, namespace if kind.namespaced else "", str(ref.get("name"))
                    )
                except StatusError:
                    return False
                return bool(owner["metadata"].get("uid") == ref.get("uid"))
        return False

    async def _collect(
        self, cluster: str, owner: ResourceKind, namespace: str, uid: str, *, orphan: bool
    ) -> None:
        """The owner is gone: delete dependents it alone owned, unlink the others."""
        for kind, obj in self._dependents(cluster, owner, namespace, uid):
            meta = obj["metadata"]
            dep_ns = meta.get("namespace", "")
            others = [r for r in meta.get("ownerReferences") or [] if r.get("uid") != uid]
            if orphan or any(self._owner_alive(cluster, dep_ns, ref) for ref in others):
                await self._unlink(cluster, kind, dep_ns, meta["name"], uid)
            else:
                await self._ignore_missing(
                    self._objects.delete(kind, cluster, dep_ns, meta["name"])
                )

    async def _foreground(
        self, cluster: str, owner: ResourceKind, namespace: str, name: str, uid: str
    ) -> None:
        while True:
            dependents = self._dependents(cluster, owner, namespace, uid)
            if not dependents:
                break
            for kind, obj in dependents:
                meta = obj["metadata"]
                if not meta.get("deletionTimestamp"):
                    await self._ignore_missing(
                        self._objects.delete(
                            kind,
                            cluster,
                            meta.get("namespace", ""),
                            meta["name"],
                            add_finalizers=(FOREGROUND,),
                        )
                    )
            await asyncio.sleep(RETRY_SECONDS / 4)
        await self._drop_finalizer(cluster, owner, namespace, name, FOREGROUND)

    async def _orphan(
        self, cluster: str, owner: ResourceKind, namespace: str, name: str, uid: str
    ) -> None:
        await self._collect(cluster, owner, namespace, uid, orphan=True)
        await self._drop_finalizer(cluster, owner, namespace, name, ORPHAN)

    async def _unlink(
        self, cluster: str, kind: ResourceKind, namespace: str, name: str, uid: str
    ) -> None:
        def drop(obj: Obj) -> Obj:
            meta = obj["metadata"]
            refs = [r for r in meta.get("ownerReferences") or [] if r.get("uid") != uid]
            if refs:
                meta["ownerReferences"] = refs
            else:
                meta.pop("ownerReferences", None)
            return obj

        await self._ignore_missing(self._objects.update(kind, cluster, namespace, name, drop))

    async def _drop_finalizer(
        self, cluster: str, kind: ResourceKind, namespace: str, name: str, finalizer: str
    ) -> None:
        def drop(obj: Obj) -> Obj:
            meta = obj["metadata"]
            meta["finalizers"] = [f for f in meta.get("finalizers") or [] if f != finalizer]
            if not meta["finalizers"]:
                del meta["finalizers"]
            return obj

        await self._ignore_missing(self._objects.update(kind, cluster, namespace, name, drop))

    @staticmethod
    async def _ignore_missing(work: Any) -> None:
        try:
            await work
        except StatusError as exc:
            if exc.code != 404:
                raise
