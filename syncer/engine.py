"""The sync engine: one workload cluster, one logical cluster, both directions.

Why this module exists: it is the one codebase behind both placements (push: the server runs
`Syncer.run` in its own event loop; pull: ``kcp syncer`` runs it at the edge). It is written
around the failures edge clusters live with (reference edge-syncers §3):

* **Nothing downstream is deleted on doubt.** A downstream copy is deleted only when the
  upstream object is seen deleting (the syncer's finalizer holds it until then), or when a GET
  against the control plane proves it is gone or scheduled elsewhere, and only within the same
  epoch (the WorkloadCluster's uid, kept in the `Journal`). Lost connections, relists, restarts
  of either side and 410s never delete anything.
* **Resume, don't relist.** The upstream watch watermark is saved once every event up to it has
  been handled; a restart watches from there and relists only when the server says it is gone.
* **Offline, the edge still converges.** The journal keeps every desired object, so a copy
  edited or deleted by hand at the edge is restored while the control plane is away.
* **Honest reporting.** Heartbeats carry the mode and version; a per-object failure becomes an
  Event on the upstream object (``kubectl describe`` shows it).

Concurrency: `Syncer` owns the shared state (journal, namespace map, activity flag) and starts
one `ResourceSyncer` per resource; each of those owns its caches and its `KeyQueue` and runs
two followers (upstream and downstream list+watch) and a few workers. Everything runs in one
event loop, so the dictionaries need no locks; the only awaits are HTTP calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from syncer import naming, transform
from syncer.journal import Entry, Journal, Key
from syncer.kubeclient import ApiError, KubeClient
from syncer.kubehttp import bounded
from syncer.queue import KeyQueue, backoff
from syncer.resources import Resource, ResourceNotServedError, discover

log = logging.getLogger("kcp.syncer")

Obj = dict[str, Any]
WORKLOAD_API = "/apis/workload.kcp.dev/v1alpha1/workloadclusters"
MODE_ANNOTATION = "workload.kcp-edge.dev/syncer-mode"
ON_DELETE_ANNOTATION = "workload.kcp-edge.dev/on-delete"
CLUSTER_FINALIZER = "workload.kcp-edge.dev/syncer"
WORKERS = 4
PAGE = 500
WATCH_SECONDS = 300
WATCH_IDLE_SECONDS = 150.0
"""A watch silent for this long is dead (a half-open connection): servers send a BOOKMARK
about every minute to watchers that allow them."""


@dataclass(frozen=True)
class SyncerOptions:
    """What one engine syncs, and how it reports."""

    logical_cluster: str
    workload_cluster: str
    resources: tuple[str, ...]
    mode: str = "Pull"
    """``Pull`` or ``Push``: reported in heartbeats; an engine stands by while the
    WorkloadCluster's mode annotation names the other one."""
    version: str = "v0.0.0"
    heartbeat_interval: float = 20.0
    api_import_interval: float = 60.0


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


@dataclass
class _State:
    """What the engine knows about its WorkloadCluster."""

    uid: str = ""
    active: asyncio.Event = field(default_factory=asyncio.Event)
    finished: asyncio.Event = field(default_factory=asyncio.Event)


class Syncer:
    """One workload cluster's engine. ``upstream`` talks to the kcp-edge server (paths get the
    ``/clusters/<logical cluster>`` prefix here), ``downstream`` to the edge cluster."""

    def __init__(
        self,
        *,
        upstream: KubeClient,
        downstream: KubeClient,
        options: SyncerOptions,
        journal: Journal,
    ) -> None:
        self.up = upstream
        self.down = downstream
        self.options = options
        self.journal = journal
        self.prefix = (
            "" if "/clusters/" in upstream.base_path else f"/clusters/{options.logical_cluster}"
        )
        self.state = _State()
        self.locators: dict[str, str] = {}
        """downstream namespace -> upstream namespace, for the namespaces this engine owns."""
        self.known_namespaces: set[str] = set()
        self.syncers: list[ResourceSyncer] = []
        self._wake = asyncio.Event()
        self._offline: list[asyncio.Task[None]] = []
        for namespace in journal.namespaces():
            self._remember(namespace)

    @property
    def cluster_path(self) -> str:
        return f"{self.prefix}{WORKLOAD_API}/{self.options.workload_cluster}"

    def _remember(self, upstream_namespace: str) -> str:
        locator = naming.Locator(self.options.logical_cluster, upstream_namespace)
        down = locator.downstream_namespace()
        self.locators[down] = upstream_namespace
        return down

    # --- lifecycle ------------------------------------------------------------------------------

    async def run(self) -> None:
        """Sync until cancelled, or until the WorkloadCluster is deleted and cleaned up."""
        try:
            await self._first_contact()
            await self._run()
        finally:
            for syncer in self.syncers:
                syncer.stop()
            offline, self._offline = self._offline, []
            for task in offline:
                task.cancel()
            await asyncio.gather(*offline, return_exceptions=True)

    async def _run(self) -> None:
        from syncer.importer import APIImporter  # noqa: PLC0415 - importer imports this module

        importer = APIImporter(self)
        tasks = [
            asyncio.create_task(self._heartbeats(), name="heartbeat"),
            asyncio.create_task(importer.run(), name="api-import"),
            *(
                asyncio.create_task(self._resource(name), name=f"sync {name}")
                for name in self.options.resources
            ),
        ]
        finished = asyncio.create_task(self.state.finished.wait())
        pending: set[asyncio.Task[Any]] = {*tasks, finished}
        try:
            while True:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                if finished in done:
                    break
                for task in done:  # a crashed component stops the engine loudly
                    if not task.cancelled() and task.exception() is not None:
                        task.result()
        finally:
            for task in [*tasks, finished]:
                task.cancel()
            await asyncio.gather(*tasks, finished, return_exceptions=True)

    async def _first_contact(self) -> None:
        """Learn the WorkloadCluster's uid (the epoch), retrying until the server answers; a
        journal of another epoch is forgotten, never acted upon."""
        failures = 0
        while True:
            try:
                cluster = await self.up.get(self.cluster_path)
                break
            except ApiError as exc:
                log.warning("waiting for workload cluster %s: %s", self.cluster_path, exc.message)
                if self.journal.epoch is not None:
                    self.state.uid = self.journal.epoch
                    self.state.active.set()  # offline start: keep the edge converged meanwhile
                    self._start_offline()
                await asyncio.sleep(backoff(failures, base=1.0))
                failures += 1
        uid = str(_meta(cluster).get("uid", ""))
        if self.journal.adopt_epoch(uid):
            log.info("workload cluster %s has a new uid %s: journal reset", self.cluster_path, uid)
            self.locators.clear()
        self.state.uid = uid
        last_mode = str(((cluster.get("status") or {}).get("syncer") or {}).get("mode", ""))
        if last_mode and last_mode.lower() != self.options.mode.lower():
            log.info("the %s-mode syncer ran last: relisting instead of resuming", last_mode)
            self.journal.drop_watermarks()
        self._consider_cluster(cluster)

    def _start_offline(self) -> None:
        """While the control plane is unreachable at start, run the downstream side from the
        journal (drift correction) for the resources it knows."""
        if self.syncers:
            return
        for name in self.options.resources:
            if self.journal.entries(name):
                offline = ResourceSyncer(self, None, name)
                self.syncers.append(offline)
                self._offline.append(asyncio.create_task(offline.run_offline()))

    def _consider_cluster(self, cluster: Obj) -> None:
        meta = _meta(cluster)
        mode = (meta.get("annotations") or {}).get(MODE_ANNOTATION)
        mine = mode is None or str(mode).lower() == self.options.mode.lower()
        if mine and not self.state.active.is_set():
            log.info("syncing workload cluster %s (%s mode)", self.cluster_path, self.options.mode)
            self.state.active.set()
        elif not mine and self.state.active.is_set():
            log.info(
                "workload cluster %s is synced in %s mode: standing by", self.cluster_path, mode
            )
            self.state.active.clear()

    async def _resource(self, name: str) -> None:
        """Discover ``name`` at the edge and in the workspace, then sync it forever."""
        failures = 0
        while True:
            try:
                resource = await discover(self.down, name)
                await discover(self.up, name, self.prefix)
                break
            except (ResourceNotServedError, ApiError) as exc:
                if failures % 30 == 0:
                    log.warning(
                        "resource %s is not served yet by both clusters (%s); waiting", name, exc
                    )
                failures += 1
                await asyncio.sleep(min(30.0, 1.0 + backoff(failures, base=0.1)))
        for stale in [s for s in self.syncers if s.name == name]:
            stale.stop()
            self.syncers.remove(stale)
        syncer = ResourceSyncer(self, resource, name)
        self.syncers.append(syncer)
        await syncer.run()

    # --- heartbeats and the cluster's own lifecycle ---------------------------------------------

    def nudge(self) -> None:
        """Look at the WorkloadCluster now rather than at the next heartbeat (push mode calls
        this when the cluster starts deleting)."""
        self._wake.set()

    async def _heartbeats(self) -> None:
        failures = 0
        while True:
            try:
                cluster = await self.up.get(self.cluster_path)
                if str(_meta(cluster).get("uid", "")) != self.state.uid:
                    log.warning("workload cluster %s was re-created: restarting", self.cluster_path)
                    self.state.finished.set()
                    return
                self._consider_cluster(cluster)
                if _meta(cluster).get("deletionTimestamp") and self.state.active.is_set():
                    await self._cluster_deleted(cluster)
                    return
                if self.state.active.is_set() and await self._edge_answers():
                    await self._ensure_cluster_finalizer(cluster)
                    await self.up.patch(
                        f"{self.cluster_path}/status",
                        {
                            "status": {
                                "lastSyncerHeartbeatTime": now_rfc3339(),
                                "syncer": {
                                    "mode": self.options.mode,
                                    "version": self.options.version,
                                },
                            }
                        },
                        "merge",
                    )
                failures = 0
                with contextlib.suppress(TimeoutError):
                    await bounded(self._wake.wait(), self.options.heartbeat_interval)
                self._wake.clear()
            except ApiError as exc:
                if exc.code == 404:
                    log.warning("workload cluster %s is gone: stopping", self.cluster_path)
                    self.state.finished.set()
                    return
                log.warning("heartbeat failed: %s", exc.message)
                await asyncio.sleep(min(1.0 + backoff(failures, base=0.5, cap=5.0), 6.0))
                failures += 1

    async def _edge_answers(self) -> bool:
        """Whether the edge cluster's API answers: a heartbeat says the whole path works, so a
        syncer that cannot reach its edge (push mode, mostly) lets the cluster go NotReady."""
        try:
            await self.down.get("/version")
        except ApiError as exc:
            log.warning("edge cluster unreachable, no heartbeat: %s", exc.message)
            return False
        return True

    async def _ensure_cluster_finalizer(self, cluster: Obj) -> None:
        if CLUSTER_FINALIZER in (_meta(cluster).get("finalizers") or []):
            return
        await self.up.patch(
            self.cluster_path, _add_finalizer_patch(cluster, CLUSTER_FINALIZER), "json"
        )

    async def _cluster_deleted(self, cluster: Obj) -> None:
        """The WorkloadCluster is being deleted: clean the edge unless asked to orphan, release
        every upstream object, then release the cluster itself."""
        policy = str((_meta(cluster).get("annotations") or {}).get(ON_DELETE_ANNOTATION, "Delete"))
        orphan = policy.lower() == "orphan"
        log.info("workload cluster %s deleted: %s downstream objects", self.cluster_path, policy)
        for syncer in self.syncers:
            syncer.stop()
            await syncer.release_all(delete_downstream=not orphan)
        if not orphan:
            for namespace in sorted(self.known_namespaces | set(self.locators)):
                await self._delete_own_namespace(namespace)
        fresh = await self.up.get(self.cluster_path)
        patch = _remove_finalizer_patch(fresh, CLUSTER_FINALIZER)
        if patch:
            await self.up.patch(self.cluster_path, patch, "json")
        self.state.finished.set()

    async def _delete_own_namespace(self, namespace: str) -> None:
        """Delete a ``kcp…`` namespace at the edge if it carries this cluster's label (another
        WorkloadCluster may share the edge and the namespace)."""
        path = f"/api/v1/namespaces/{namespace}"
        try:
            found = await self.down.get(path)
            labels = _meta(found).get("labels") or {}
            if labels.get(naming.CLUSTER_LABEL) == self.options.workload_cluster:
                await self.down.delete(path)
        except ApiError as exc:
            if exc.code != 404:
                raise

    # --- shared helpers -------------------------------------------------------------------------

    async def ensure_namespace(self, upstream_namespace: str) -> str:
        down = self._remember(upstream_namespace)
        if down in self.known_namespaces:
            return down
        locator = naming.Locator(self.options.logical_cluster, upstream_namespace)
        body = transform.downstream_namespace(locator, self.options.workload_cluster)
        try:
            await self.down.create("/api/v1/namespaces", body)
        except ApiError as exc:
            if exc.code != 409:
                raise
        self.known_namespaces.add(down)
        return down

    async def report(self, resource: Resource, upstream: Obj, reason: str, message: str) -> None:
        """A Warning Event on the upstream object, so ``kubectl describe`` shows the failure."""
        meta = _meta(upstream)
        namespace, name = meta.get("namespace"), meta.get("name")
        if not namespace or not name:
            return
        event_name = f"{name}.kcpsync-{self.options.workload_cluster}-{reason.lower()}"[:253]
        path = f"{self.prefix}/api/v1/namespaces/{namespace}/events"
        now = now_rfc3339()
        text = f"workload cluster {self.options.workload_cluster}: {message}"
        try:
            try:
                current = await self.up.get(f"{path}/{event_name}")
                current.update(message=text, lastTimestamp=now, count=current.get("count", 1) + 1)
                await self.up.replace(f"{path}/{event_name}", current)
            except ApiError as exc:
                if exc.code != 404:
                    raise
                await self.up.create(
                    path,
                    {
                        "apiVersion": "v1",
                        "kind": "Event",
                        "metadata": {"name": event_name, "namespace": namespace},
                        "involvedObject": {
                            "apiVersion": resource.group_version,
                            "kind": resource.kind,
                            "name": name,
                            "namespace": namespace,
                            "uid": meta.get("uid", ""),
                        },
                        "reason": reason,
                        "message": text,
                        "type": "Warning",
                        "source": {"component": f"kcp-syncer-{self.options.workload_cluster}"},
                        "firstTimestamp": now,
                        "lastTimestamp": now,
                        "count": 1,
                    },
                )
        except ApiError as exc:
            log.warning("could not report %s on %s/%s: %s", reason, namespace, name, exc.message)


def _add_finalizer_patch(obj: Obj, finalizer: str) -> list[Obj]:
    meta = _meta(obj)
    finalizers = meta.get("finalizers")
    test = {"op": "test", "path": "/metadata/resourceVersion", "value": meta["resourceVersion"]}
    if not finalizers:
        return [test, {"op": "add", "path": "/metadata/finalizers", "value": [finalizer]}]
    return [test, {"op": "add", "path": "/metadata/finalizers/-", "value": finalizer}]


def _remove_finalizer_patch(obj: Obj, finalizer: str) -> list[Obj] | None:
    meta = _meta(obj)
    finalizers = list(meta.get("finalizers") or [])
    if finalizer not in finalizers:
        return None
    index = finalizers.index(finalizer)
    return [
        {"op": "test", "path": f"/metadata/finalizers/{index}", "value": finalizer},
        {"op": "remove", "path": f"/metadata/finalizers/{index}"},
    ]


class ResourceSyncer:
    """Syncs one resource: followers fill the caches, workers converge key by key."""

    def __init__(self, engine: Syncer, resource: Resource | None, name: str) -> None:
        self.engine = engine
        self.resource = resource
        self.name = name
        self.upstream: dict[Key, Obj] = {}
        self.downstream: dict[Key, Obj] = {}
        self.suspects: set[Key] = set()
        self.queue: KeyQueue[Key] = KeyQueue()
        self.down_ready = False
        self.up_synced = False
        """Whether the upstream side is current: relisted, or resumed from our own watermark."""
        self.offline = resource is None
        self.latest_revision: str | None = None
        self.finalizer = naming.finalizer_name(engine.options.workload_cluster)
        self.selector = f"{naming.CLUSTER_LABEL}={engine.options.workload_cluster}"
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def journal(self) -> Journal:
        return self.engine.journal

    def stop(self) -> None:
        for task in self._tasks:
            task.cancel()

    async def run(self) -> None:
        self._tasks = [
            asyncio.create_task(self._follow_upstream()),
            asyncio.create_task(self._follow_downstream()),
            *(asyncio.create_task(self._work()) for _ in range(WORKERS)),
        ]
        try:
            await asyncio.gather(*self._tasks)
        finally:
            self.stop()

    async def run_offline(self) -> None:
        """Only the downstream side, from the journal, until stopped."""
        self._tasks = [
            asyncio.create_task(self._follow_downstream()),
            *(asyncio.create_task(self._work()) for _ in range(WORKERS)),
        ]
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*self._tasks)

    # --- followers ------------------------------------------------------------------------------

    async def _follow_upstream(self) -> None:
        assert self.resource is not None
        path = self.resource.collection(self.engine.prefix)
        revision = self.journal.watermark(self.name)
        self.up_synced = revision is not None  # resuming from our own watermark
        await self._follow(
            "upstream",
            self.engine.up,
            path,
            revision=revision,
            relist=self._relist,
            on_event=self._upstream_event,
        )

    async def _follow_downstream(self) -> None:
        resource = self.resource or await self._journal_resource()
        path = resource.collection()
        await self._follow(
            "downstream",
            self.engine.down,
            path,
            revision=None,
            relist=self._relist_downstream,
            on_event=self._downstream_event,
        )

    async def _follow(
        self,
        side: str,
        client: KubeClient,
        path: str,
        *,
        revision: str | None,
        relist: Callable[[str], Awaitable[str]],
        on_event: Callable[[Obj], str | None],
    ) -> None:
        """List (when there is no revision to resume from) and watch one side, forever: a 410
        relists (with backoff when repeated), other failures back off and resume."""
        failures = 0
        while True:
            try:
                if revision is None:
                    revision = await relist(path)
                started, events = time.monotonic(), 0
                async for event in self._watch(client, path, revision):
                    revision = on_event(event) or revision
                    failures, events = 0, events + 1
                if not events and time.monotonic() - started < 1.0:  # a server shutting down
                    await asyncio.sleep(backoff(failures, base=0.5))
                    failures += 1
            except ApiError as exc:
                if exc.code == 410:
                    log.info("%s: %s watch expired; relisting", self.name, side)
                    revision = None
                    failures = await _pause_if_repeated(failures)
                    continue
                log.warning("%s: %s watch failed: %s", self.name, side, exc.message)
                await asyncio.sleep(backoff(failures, base=0.5))
                failures += 1

    async def _relist(self, path: str) -> str:
        items, revision = await _list_all(self.engine.up, path, self.selector)
        seen: set[Key] = set()
        for obj in items:
            key = _key(obj)
            seen.add(key)
            self.upstream[key] = _slim(obj)
            self.queue.add(key)
        for key in [k for k in self.upstream if k not in seen]:
            del self.upstream[key]
        for key in self.journal.entries(self.name):
            if key not in seen:
                self.suspects.add(key)
                self.queue.add(key)
        self.latest_revision = revision
        self._save_watermark()
        self.up_synced = True
        return revision

    async def _relist_downstream(self, path: str) -> str:
        items, revision = await _list_all(self.engine.down, path, self.selector)
        current: dict[Key, Obj] = {}
        for obj in items:
            key = self._upstream_key(obj)
            if key is not None:
                current[key] = _slim(obj)
        for key in set(self.downstream) | set(current) | set(self.journal.entries(self.name)):
            self.queue.add(key)
        self.downstream = current
        self.down_ready = True
        return revision

    def _upstream_event(self, event: Obj) -> str | None:
        kind, obj, revision = _parse_event(event)
        if kind == "BOOKMARK":
            self.latest_revision = revision
            self._save_watermark()
            return revision
        key = _key(obj)
        if kind == "DELETED":
            self.upstream.pop(key, None)
            ours = self.finalizer in (_meta(obj).get("finalizers") or [])
            if ours or self.journal.get(self.name, key) is not None:
                self.suspects.add(key)
        else:
            self.upstream[key] = _slim(obj)
        self.queue.add(key)
        self.latest_revision = revision
        return revision

    def _save_watermark(self) -> None:
        if self.queue.idle and self.latest_revision:
            self.journal.set_watermark(self.name, self.latest_revision)

    async def _journal_resource(self) -> Resource:
        """Offline: what the edge serves for this resource (the edge is local, so reachable)."""
        failures = 0
        while True:
            try:
                resource = await discover(self.engine.down, self.name)
                self.resource = resource
                return resource
            except (ApiError, ResourceNotServedError) as exc:
                log.warning("%s: edge discovery failed: %s", self.name, exc)
                await asyncio.sleep(backoff(failures, base=1.0))
                failures += 1

    def _downstream_event(self, event: Obj) -> str | None:
        kind, obj, revision = _parse_event(event)
        key = None if kind == "BOOKMARK" else self._upstream_key(obj)
        if key is None:
            return revision
        if kind == "DELETED":
            self.downstream.pop(key, None)
        else:
            self.downstream[key] = _slim(obj)
        self.queue.add(key)
        return revision

    def _upstream_key(self, downstream: Obj) -> Key | None:
        meta = _meta(downstream)
        upstream_namespace = self.engine.locators.get(str(meta.get("namespace", "")))
        if upstream_namespace is None:
            return None
        return upstream_namespace, naming.upstream_name(self.name.split(".")[0], meta["name"])

    def _watch(self, client: KubeClient, path: str, revision: str) -> AsyncIterator[Obj]:
        return client.watch(
            path,
            idle_timeout=WATCH_IDLE_SECONDS,
            query={
                "labelSelector": self.selector,
                "resourceVersion": revision,
                "allowWatchBookmarks": "true",
                "timeoutSeconds": str(WATCH_SECONDS + random.randint(0, 60)),  # noqa: S311
            },
        )

    # --- workers --------------------------------------------------------------------------------

    async def _work(self) -> None:
        while True:
            key = await self.queue.get()
            await self.engine.state.active.wait()
            failed = False
            try:
                await self._reconcile(key)
            except ApiError as exc:
                failed = True
                log.warning("%s %s/%s: %s", self.name, key[0], key[1], exc.message)
            except Exception:
                failed = True
                log.exception("%s %s/%s: unexpected failure", self.name, key[0], key[1])
            self.queue.done(key, failed=failed)
            self._save_watermark()

    async def _reconcile(self, key: Key) -> None:
        resource = self.resource
        assert resource is not None
        short = resource.resource
        up = self.upstream.get(key)
        if key in self.suspects:
            up = await self._confirm(resource, key)
            self.suspects.discard(key)
            if up is None:
                await self._delete_downstream(resource, key)
                return
        if up is not None and (
            _gone_from_us(up, self.selector)
            or not transform.syncable(short, up)
            or _meta(up).get("deletionTimestamp")
        ):
            await self._release(resource, key, up)
            return
        entry = self.journal.get(self.name, key)
        if up is not None:
            entry = await self._apply_from_upstream(resource, key, up, entry)
        elif entry is not None and self.down_ready and (self.up_synced or self.offline):
            down = self.downstream.get(key)
            if down is None or transform.drifted(down, entry.desired):
                await self._apply(resource, key, entry.desired)
        if entry is not None:
            await self._status_up(resource, key, entry)

    async def _confirm(self, resource: Resource, key: Key) -> Obj | None:
        """The upstream object, fetched to decide about a copy the watch no longer shows:
        None only when the control plane says it does not exist (same epoch)."""
        path = resource.object_path(self.engine.prefix, key[0], key[1])
        before = self.upstream.get(key)
        try:
            obj = await self.engine.up.get(path)
        except ApiError as exc:
            details = (exc.status or {}).get("details") or {}
            if (
                exc.code == 404
                and exc.reason == "NotFound"
                and details.get("name") == key[1]
                and self.journal.epoch == self.engine.state.uid
            ):
                if self.upstream.get(key) is before:
                    self.upstream.pop(key, None)
                return None
            raise
        return obj

    async def _apply_from_upstream(
        self, resource: Resource, key: Key, up: Obj, entry: Entry | None
    ) -> Entry:
        desired = transform.downstream_object(
            resource.resource, up, self.engine.options.logical_cluster
        )
        digest = transform.content_hash(desired)
        uid = str(_meta(up).get("uid", ""))
        if self.finalizer not in (_meta(up).get("finalizers") or []):
            if entry is None:  # known before the finalizer exists, so it is always released
                entry = Entry(desired, "", uid)
                self.journal.put(self.name, key, entry)
            before = self.upstream.get(key)
            path = resource.object_path(self.engine.prefix, key[0], key[1])
            up = await self.engine.up.patch(path, _add_finalizer_patch(up, self.finalizer), "json")
            if self.upstream.get(key) is before:  # else the watch brought something newer
                self.upstream[key] = _slim(up)
        down = self.downstream.get(key)
        stale = entry is None or entry.hash != digest
        missing = self.down_ready and down is None
        if stale or missing or (down is not None and transform.drifted(down, desired)):
            await self._apply(resource, key, desired, upstream=up)
        if stale:
            entry = Entry(desired, digest, uid, entry.status_hash if entry else None)
            self.journal.put(self.name, key, entry)
        assert entry is not None
        return entry

    async def _apply(
        self, resource: Resource, key: Key, desired: Obj, *, upstream: Obj | None = None
    ) -> None:
        namespace = await self.engine.ensure_namespace(key[0])
        name = _meta(desired)["name"]
        before = self.downstream.get(key)
        try:
            applied = await self.engine.down.apply(
                resource.object_path("", namespace, name),
                desired,
                field_manager=naming.SYNCER_FIELD_MANAGER,
                force=True,
            )
        except ApiError as exc:
            if exc.code == 404:  # the namespace went away at the edge: create it again
                self.engine.known_namespaces.discard(namespace)
            if upstream is not None and exc.code is not None and 400 <= exc.code < 500:
                await self.engine.report(resource, upstream, "SyncFailed", exc.message)
            raise
        if self.downstream.get(key) is before:  # else the watch brought something newer
            self.downstream[key] = _slim(applied)

    async def _status_up(self, resource: Resource, key: Key, entry: Entry) -> None:
        down = self.downstream.get(key)
        if not resource.status or down is None or "status" not in down:
            return
        digest = transform.status_hash(down)
        if digest == entry.status_hash:
            return
        path = resource.object_path(self.engine.prefix, key[0], key[1]) + "/status"
        try:
            await self.engine.up.patch(
                path, [{"op": "add", "path": "/status", "value": down["status"]}], "json"
            )
        except ApiError as exc:
            if exc.code == 404:
                return
            raise
        self.journal.set_status_hash(self.name, key, digest)

    async def _delete_downstream(
        self, resource: Resource, key: Key, *, keep_entry: bool = False
    ) -> None:
        entry = self.journal.get(self.name, key)
        namespace = naming.Locator(self.engine.options.logical_cluster, key[0])
        name = naming.downstream_name(resource.resource, key[1])
        if entry is not None:
            name = _meta(entry.desired).get("name", name)
        path = resource.object_path("", namespace.downstream_namespace(), name)
        copy = self.downstream.get(key)
        foreign = copy is not None and _gone_from_us(copy, self.selector)
        if not foreign:  # a copy another WorkloadCluster applied to a shared edge stays
            try:
                await self.engine.down.delete(path, propagation_policy="Background")
            except ApiError as exc:
                if exc.code != 404:
                    raise
        if not keep_entry:
            self.downstream.pop(key, None)
            self.journal.remove(self.name, key)

    async def _release(self, resource: Resource, key: Key, up: Obj) -> None:
        """The object is deleting upstream or no longer scheduled here: delete the copy, then
        let go of the upstream object."""
        await self._delete_downstream(resource, key, keep_entry=True)
        if self.upstream.get(key) is up:
            self.upstream.pop(key, None)
        await self._drop_finalizer(resource, key, up)
        self.downstream.pop(key, None)
        self.journal.remove(self.name, key)

    async def _drop_finalizer(self, resource: Resource, key: Key, up: Obj) -> None:
        path = resource.object_path(self.engine.prefix, key[0], key[1])
        for attempt in range(6):
            patch = _remove_finalizer_patch(up, self.finalizer)
            if patch is None:
                return
            try:
                await self.engine.up.patch(path, patch, "json")
                return
            except ApiError as exc:
                if exc.code == 404:
                    return
                if exc.code not in (409, 422) or attempt == 5:
                    raise
            await asyncio.sleep(backoff(attempt, base=0.1))
            up = await self.engine.up.get(path)

    async def release_all(self, *, delete_downstream: bool) -> None:
        """The WorkloadCluster is going away: every upstream object loses the finalizer; the
        downstream copies go too unless they are to be orphaned."""
        resource = self.resource
        if resource is None:
            return
        for key in list(self.journal.entries(self.name)):  # errors propagate: retried later
            path = resource.object_path(self.engine.prefix, key[0], key[1])
            if delete_downstream:
                await self._delete_downstream(resource, key, keep_entry=True)
            try:
                up = await self.engine.up.get(path)
            except ApiError as exc:
                if exc.code != 404:
                    raise
            else:
                await self._drop_finalizer(resource, key, up)
            self.journal.remove(self.name, key)


async def _pause_if_repeated(failures: int) -> int:
    """Relist at once after one 410, with backoff after several in a row (no relist storms)."""
    if failures:
        await asyncio.sleep(backoff(failures, base=0.5))
    return failures + 1


def _parse_event(event: Obj) -> tuple[str, Obj, str | None]:
    """(type, object, resourceVersion) of a watch event; an ERROR event raises its Status as
    `ApiError` (410: the revision is too old, relist)."""
    kind, obj = str(event.get("type", "")), event.get("object") or {}
    if kind == "ERROR":
        raise ApiError(
            str(obj.get("message", "")),
            code=obj.get("code"),
            reason=str(obj.get("reason", "")),
            status=obj,
        )
    revision = _meta(obj).get("resourceVersion")
    return kind, obj, str(revision) if revision else None


def _key(obj: Obj) -> Key:
    meta = _meta(obj)
    return str(meta.get("namespace", "")), str(meta.get("name", ""))


def _slim(obj: Obj) -> Obj:
    """``obj`` without managedFields, often its largest part, which the engine never reads:
    the caches hold one copy per object on each side."""
    meta = obj.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        meta.pop("managedFields")
    return obj


def _gone_from_us(obj: Obj, selector: str) -> bool:
    label, _, value = selector.partition("=")
    return (_meta(obj).get("labels") or {}).get(label) != value


async def _list_all(client: KubeClient, path: str, selector: str) -> tuple[list[Obj], str]:
    items: list[Obj] = []
    token = ""
    while True:
        query = {"labelSelector": selector, "limit": str(PAGE)}
        if token:
            query["continue"] = token
        page = await client.list(path, query)
        items.extend(page.get("items") or [])
        meta = page.get("metadata") or {}
        token = str(meta.get("continue") or "")
        if not token:
            return items, str(meta.get("resourceVersion", ""))


async def retrying(
    what: str, call: Callable[[], Awaitable[Any]], *, attempts: int | None = None
) -> Any:
    """``call`` until it succeeds, with jittered backoff (a helper for start-up steps)."""
    failures = 0
    while True:
        try:
            return await call()
        except ApiError as exc:
            failures += 1
            if attempts is not None and failures >= attempts:
                raise
            log.warning("%s failed: %s", what, exc.message)
            await asyncio.sleep(backoff(failures, base=0.5))
