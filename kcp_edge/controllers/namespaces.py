"""Namespace lifecycle: empty a terminating namespace, then let it go.

Why this module exists: deleting a namespace only marks it ``Terminating``; as the namespace
controller of ``k8s.io/kubernetes/pkg/controller/namespace`` does, this controller then deletes
every object in it (of every namespaced kind the workspace serves), waits for objects held by
finalizers, and finally removes the ``kubernetes`` finalizer (the ``/finalize`` subresource),
after which the namespace object disappears. It watches namespaces of every logical cluster.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from kcp_edge.apimachinery.errors import StatusError
from kcp_edge.registry import codec, keys
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.store import CLUSTER_ANNOTATION, ObjectStore
from kcp_edge.storage import EventType, StorageError

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
FINALIZER = "kubernetes"


class NamespaceLifecycle:
    """One task: watch namespaces, clean up the terminating ones."""

    def __init__(self, *, catalog: Catalog, objects: ObjectStore) -> None:
        self._catalog = catalog
        self._objects = objects
        self._busy: set[tuple[str, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> None:
        kind = self._catalog.namespaces
        while True:
            try:
                page = self._objects.list(kind, "*", "")
                for raw in page.items:
                    ns = codec_obj(raw)
                    self._consider(ns["metadata"]["annotations"][CLUSTER_ANNOTATION], ns)
                watch = self._objects.watch(kind, "*", "", page.revision)
                try:
                    async for event in watch:
                        if event.type is EventType.DELETE:
                            continue
                        cluster = keys.split_key(event.kv.key)[0]
                        self._consider(cluster, codec.decode(event.kv.value, event.revision))
                finally:
                    watch.close()
            except asyncio.CancelledError:
                for task in self._tasks:
                    task.cancel()
                raise
            except (StatusError, StorageError):
                log.exception("namespace controller: watch failed; starting over")
            await asyncio.sleep(RETRY_SECONDS)

    def _consider(self, cluster: str, ns: dict[str, Any]) -> None:
        meta = ns["metadata"]
        if not meta.get("deletionTimestamp"):
            return
        key = (cluster, meta["name"])
        if key in self._busy:
            return
        self._busy.add(key)
        task = asyncio.create_task(self._clean(cluster, meta["name"]))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _clean(self, cluster: str, name: str) -> None:
        try:
            while not await self._empty(cluster, name):
                await asyncio.sleep(RETRY_SECONDS)
            await self._finalize(cluster, name)
        except StatusError as exc:
            if exc.code != 404:
                log.warning("namespace %s/%s: cleanup failed: %s", cluster, name, exc.message)
        finally:
            self._busy.discard((cluster, name))

    async def _empty(self, cluster: str, namespace: str) -> bool:
        """Delete everything in the namespace; True once nothing is left."""
        left = 0
        for kind in self._catalog.namespaced_kinds(cluster):
            page = self._objects.list(kind, cluster, namespace)
            for raw in page.items:
                obj = codec_obj(raw)
                left += 1
                if obj["metadata"].get("deletionTimestamp"):
                    continue  # waiting for its finalizers
                try:
                    await self._objects.delete(kind, cluster, namespace, obj["metadata"]["name"])
                except StatusError as exc:
                    if exc.code != 404:
                        raise
        return left == 0

    async def _finalize(self, cluster: str, name: str) -> None:
        def drop_finalizer(ns: dict[str, Any]) -> dict[str, Any]:
            spec = ns.setdefault("spec", {})
            spec["finalizers"] = [f for f in spec.get("finalizers", []) if f != FINALIZER]
            return ns

        await self._objects.update(
            self._catalog.namespaces, cluster, "", name, drop_finalizer, subresource="finalize"
        )


def codec_obj(raw: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = orjson.loads(raw)
    return obj
