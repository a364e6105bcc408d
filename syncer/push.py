"""Push mode: the server runs the sync engine itself for workload clusters that ask for it.

Why this module exists: an edge cluster next to the control plane (or reachable from it) needs
no agent; ``kubectl kcp workload sync <name> --push --to-kubeconfig <file>`` stores the edge
cluster's kubeconfig in a Secret of the workspace and marks the WorkloadCluster
``workload.kcp-edge.dev/syncer-mode: push``. This supervisor follows WorkloadClusters of every
workspace and runs one `Syncer` (the same engine as ``kcp syncer``) per push-mode cluster,
in the server's event loop, talking to the server over loopback HTTPS with the admin
credentials. Switching a cluster to pull stops its engine here; the engine at the edge takes
over from the same downstream state (same namespaces, same field manager), so nothing is
re-created. Journals live in ``<root>/syncers/``.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kcp_edge.version import __version__
from syncer.engine import (
    MODE_ANNOTATION,
    WATCH_IDLE_SECONDS,
    WORKLOAD_API,
    Syncer,
    SyncerOptions,
)
from syncer.journal import Journal, state_file
from syncer.kubeclient import ApiError, KubeClient
from syncer.kubeconfig import ClientConfig, ConfigError, load_kubeconfig
from syncer.queue import backoff
from syncer.resources import normalized

log = logging.getLogger("kcp.syncer.push")

Obj = dict[str, Any]
SECRET_ANNOTATION = "workload.kcp-edge.dev/push-kubeconfig-secret"  # noqa: S105 - a name
RESOURCES_ANNOTATION = "workload.kcp-edge.dev/resources"
CLUSTER_ANNOTATION = "kcp.io/cluster"


@dataclass(frozen=True)
class _Wanted:
    """What a push-mode cluster asks for; a change restarts its engine."""

    secret: str
    resources: tuple[str, ...]


class PushSyncers:
    """Runs engines for push-mode WorkloadClusters (a server controller: ``run`` forever)."""

    def __init__(
        self,
        *,
        server: ClientConfig,
        state_dir: Path,
        heartbeat_interval: float = 20.0,
        api_import_interval: float = 60.0,
    ) -> None:
        self._server = server
        self._state = state_dir
        self._heartbeat = heartbeat_interval
        self._import = api_import_interval
        self._running: dict[tuple[str, str], tuple[_Wanted, asyncio.Task[None]]] = {}
        self._engines: dict[tuple[str, str], Syncer] = {}
        self._task: asyncio.Task[Any] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopped = False

    def stop(self) -> None:
        """Stop every engine (callable from a signal handler): the engines hold watches on
        the server, which must not wait for them while it shuts down."""
        self._stopped = True
        if self._task is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._task.cancel)

    async def run(self) -> None:
        if self._stopped:
            return
        self._task, self._loop = asyncio.current_task(), asyncio.get_running_loop()
        client = KubeClient(self._server, user_agent=f"kcp-edge-push/{__version__}")
        failures = 0
        try:
            while True:
                try:
                    await self._follow(client)
                except ApiError as exc:
                    log.warning("push syncers: watching workload clusters failed: %s", exc)
                    await asyncio.sleep(backoff(failures, base=0.5, cap=10.0))
                    failures += 1
        finally:
            for _, task in self._running.values():
                task.cancel()
            await asyncio.gather(*(t for _, t in self._running.values()), return_exceptions=True)
            await client.close()

    async def _follow(self, client: KubeClient) -> None:
        path = f"/clusters/*{WORKLOAD_API}"
        listing = await client.list(path)
        seen: set[tuple[str, str]] = set()
        for obj in listing.get("items") or []:
            seen.add(self._consider(obj))
        for key in [k for k in self._running if k not in seen]:
            self._stop(key)
        revision = str((listing.get("metadata") or {}).get("resourceVersion", ""))
        query = {"resourceVersion": revision, "allowWatchBookmarks": "true"}
        async for event in client.watch(path, query, idle_timeout=WATCH_IDLE_SECONDS):
            kind, obj = event.get("type"), event.get("object") or {}
            if kind == "ERROR":
                raise ApiError(str(obj.get("message", "")), code=obj.get("code"))
            if kind == "DELETED":
                key = _key(obj)
                if key in self._running:
                    self._stop(key)
            elif kind in ("ADDED", "MODIFIED"):
                self._consider(obj)

    def _consider(self, obj: Obj) -> tuple[str, str]:
        key = _key(obj)
        meta = obj.get("metadata") or {}
        annotations = meta.get("annotations") or {}
        push = str(annotations.get(MODE_ANNOTATION, "")).lower() == "push"
        secret = str(annotations.get(SECRET_ANNOTATION, ""))
        resources = tuple(normalized(str(annotations.get(RESOURCES_ANNOTATION, "")).split(",")))
        wanted = _Wanted(secret, resources) if push and secret else None
        running = self._running.get(key)
        if running is not None and (running[1].done() or running[0] != wanted):
            self._stop(key)
            running = None
        engine = self._engines.get(key)
        if engine is not None and meta.get("deletionTimestamp"):
            engine.nudge()
        if wanted is not None and running is None:
            task = asyncio.create_task(self._engine(key, wanted), name=f"push {key}")
            self._running[key] = (wanted, task)
        return key

    def _stop(self, key: tuple[str, str]) -> None:
        _, task = self._running.pop(key)
        task.cancel()

    async def _engine(self, key: tuple[str, str], wanted: _Wanted) -> None:
        """One cluster's engine, restarted with backoff if it fails (logged, never silent)."""
        failures = 0
        while True:
            try:
                await self._engine_once(key, wanted)
                return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("push syncer %s|%s failed; restarting", *key)
                await asyncio.sleep(backoff(failures, base=1.0))
                failures += 1

    async def _engine_once(self, key: tuple[str, str], wanted: _Wanted) -> None:
        cluster, name = key
        upstream = KubeClient(self._server, user_agent=f"kcp-edge-push-syncer/{__version__}")
        failures = 0
        try:
            while True:
                try:
                    downstream_config = await self._kubeconfig(upstream, cluster, name, wanted)
                    downstream = KubeClient(
                        downstream_config,
                        user_agent=f"kcp-edge-push-syncer/{__version__} ({name})",
                    )
                    break
                except (ApiError, ConfigError) as exc:
                    log.warning("push syncer %s|%s: no usable kubeconfig: %s", cluster, name, exc)
                    await asyncio.sleep(backoff(failures, base=1.0))
                    failures += 1
            journal = Journal(state_file(self._state, cluster, name, ".db"))
            options = SyncerOptions(
                logical_cluster=cluster,
                workload_cluster=name,
                resources=wanted.resources,
                mode="Push",
                version=__version__,
                heartbeat_interval=self._heartbeat,
                api_import_interval=self._import,
            )
            engine = Syncer(
                upstream=upstream, downstream=downstream, options=options, journal=journal
            )
            self._engines[key] = engine
            try:
                log.info("push syncer for %s|%s started", cluster, name)
                await engine.run()
                log.info("push syncer for %s|%s finished", cluster, name)
            finally:
                if self._engines.get(key) is engine:
                    del self._engines[key]
                journal.close()
                await downstream.close()
        finally:
            await upstream.close()

    async def _kubeconfig(
        self, client: KubeClient, cluster: str, name: str, wanted: _Wanted
    ) -> ClientConfig:
        namespace, _, secret_name = wanted.secret.partition("/")
        secret = await client.get(
            f"/clusters/{cluster}/api/v1/namespaces/{namespace}/secrets/{secret_name}"
        )
        data = (secret.get("data") or {}).get("kubeconfig")
        if not data:
            raise ConfigError(f'secret "{wanted.secret}" has no "kubeconfig" key')
        self._state.mkdir(parents=True, exist_ok=True, mode=0o700)
        file = state_file(self._state, cluster, name, ".kubeconfig")
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(base64.b64decode(data))
        try:
            return load_kubeconfig(file)
        finally:
            with contextlib.suppress(OSError):
                file.unlink()


def _key(obj: Obj) -> tuple[str, str]:
    meta = obj.get("metadata") or {}
    cluster = str((meta.get("annotations") or {}).get(CLUSTER_ANNOTATION, ""))
    return cluster, str(meta.get("name", ""))
