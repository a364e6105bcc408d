"""The generic object store: Kubernetes object semantics on the revisioned key-value store.

Why this module exists: create, get, list, update, delete and watch mean the same for every
kind (``k8s.io/apiserver/pkg/registry/generic/registry/store.go``): system metadata stamped on
create (uid, creationTimestamp, generateName), resourceVersion = the store revision, optimistic
concurrency (a stale resourceVersion is a Conflict), unconditional updates retried on races,
finalizers turning a delete into a deletionTimestamp, preconditions, dry runs, and namespaces
that must exist and not be terminating. Kind-specific rules come from ``strategy.py``.

Objects travel as dicts into writes, and as bytes out of reads (``codec.py``); a kind stored in
another kind's shape (events.k8s.io Events) is converted at that boundary (``conversion.py``).
"""

from __future__ import annotations

import builtins
import copy
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import orjson

from kcp_edge.apimachinery import errors, managedfields, names
from kcp_edge.registry import codec, conversion, keys, managed
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.strategy import Obj, Strategy, spec_of, strategy_for
from kcp_edge.registry.validation import validate_metadata
from kcp_edge.storage import (
    MAX_KEY_BYTES,
    CompactedError,
    FutureRevisionError,
    InvalidContinueError,
    WriteOp,
)
from kcp_edge.storage.aio import write
from kcp_edge.storage.interface import Store, Watch

_UPDATE_RETRIES = 1000
"""Writes racing an update are re-applied; this only bounds a pathological livelock."""
CLUSTER_ANNOTATION = "kcp.io/cluster"
"""Set on objects listed or watched across workspaces (``/clusters/*``), as kcp does."""

Mutator = Callable[[Obj], Obj | Awaitable[Obj]]


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class ListPage:
    items: list[bytes]
    revision: int
    continue_token: str | None


@dataclass(frozen=True, slots=True)
class DeleteResult:
    body: Obj
    """The object as deleted (or as marked for deletion when finalizers remain)."""
    finished: bool
    """True when the object is gone; False when it waits for its finalizers."""


class ObjectStore:
    """Kubernetes objects of every kind and logical cluster, on one `Store`."""

    def __init__(self, store: Store, *, namespaces: ResourceKind) -> None:
        self._store = store
        self._namespaces = namespaces

    @property
    def kv(self) -> Store:
        return self._store

    # -- reads -------------------------------------------------------------------------------

    def get_raw(self, kind: ResourceKind, cluster: str, namespace: str, name: str) -> bytes:
        kv = self._store.get(keys.object_key(kind, cluster, namespace, name))
        if kv is None:
            raise errors.not_found(kind.resource, name, group=kind.group)
        return conversion.raw(kind, kv.value, kv.mod_revision)

    def get(self, kind: ResourceKind, cluster: str, namespace: str, name: str) -> Obj:
        kv = self._store.get(keys.object_key(kind, cluster, namespace, name))
        if kv is None:
            raise errors.not_found(kind.resource, name, group=kind.group)
        return conversion.decode(kind, kv.value, kv.mod_revision)

    def list(
        self,
        kind: ResourceKind,
        cluster: str,
        namespace: str,
        *,
        limit: int = 0,
        continue_token: str | None = None,
        revision: int = 0,
        keep: Callable[[Obj], bool] | None = None,
    ) -> ListPage:
        """One page; ``keep`` filters decoded objects (selectors), pages stay ``limit`` long."""
        if namespace:
            prefix = keys.namespace_prefix(kind, cluster, namespace)
        elif cluster == "*":
            prefix = keys.resource_prefix(kind)
        else:
            prefix = keys.cluster_prefix(kind, cluster)
        items: list[bytes] = []
        converted = conversion.conversion_for(kind) is not None
        token = continue_token
        at = revision
        while True:
            try:
                page = self._store.list(
                    prefix,
                    revision=at if token is None else 0,
                    limit=(limit - len(items)) if limit else 0,
                    continue_token=token,
                )
            except CompactedError as exc:
                if token is not None:
                    raise errors.continue_expired(exc.continue_token) from exc
                raise errors.expired(errors.LIST_EXPIRED_MESSAGE) from exc
            except InvalidContinueError as exc:
                raise errors.bad_request(f"continue key is not valid: {exc}") from exc
            except FutureRevisionError as exc:
                raise errors.timeout(
                    f"Too large resource version: {exc.requested}, current: {exc.current}"
                ) from exc
            at = page.revision
            for kv in page.items:
                if cluster == "*":
                    obj = with_cluster(kv.key, conversion.decode(kind, kv.value, kv.mod_revision))
                    if keep is None or keep(obj):
                        items.append(orjson.dumps(obj))
                    continue
                if converted:
                    obj = conversion.decode(kind, kv.value, kv.mod_revision)
                    if keep is None or keep(obj):
                        items.append(orjson.dumps(obj))
                    continue
                body = codec.with_resource_version(kv.value, kv.mod_revision)
                if keep is None or keep(codec.decode(kv.value, kv.mod_revision)):
                    items.append(body)
            token = page.continue_token
            if token is None or keep is None or (limit and len(items) >= limit):
                return ListPage(items, at, token)

    def watch(self, kind: ResourceKind, cluster: str, namespace: str, after: int) -> Watch:
        if namespace:
            prefix = keys.namespace_prefix(kind, cluster, namespace)
        elif cluster == "*":
            prefix = keys.resource_prefix(kind)
        else:
            prefix = keys.cluster_prefix(kind, cluster)
        try:
            return self._store.watch(prefix, after_revision=after)
        except CompactedError as exc:
            raise errors.too_old_resource_version(exc.requested, exc.compacted) from exc
        except FutureRevisionError as exc:
            raise errors.timeout(
                f"Too large resource version: {exc.requested}, current: {exc.current}"
            ) from exc

    # -- writes ------------------------------------------------------------------------------

    def _check_namespace(self, kind: ResourceKind, cluster: str, namespace: str, name: str) -> None:
        if not kind.namespaced:
            return
        kv = self._store.get(keys.object_key(self._namespaces, cluster, "", namespace))
        if kv is None:
            raise errors.not_found("namespaces", namespace)
        ns = codec.decode(kv.value, kv.mod_revision)
        if ns["metadata"].get("deletionTimestamp"):
            raise errors.forbidden(
                kind.resource,
                name,
                f"unable to create new content in namespace {namespace} because it is being "
                "terminated",
                group=kind.group,
            )

    async def create(
        self,
        kind: ResourceKind,
        cluster: str,
        namespace: str,
        obj: Obj,
        *,
        dry_run: bool = False,
        manager: str = "",
    ) -> Obj:
        """Stamp system metadata, apply the kind's defaults, store. Returns the stored object.

        ``manager``: the field manager to record as owning every field set ("": the caller
        recorded managedFields itself, as server-side apply does).
        """
        strategy = strategy_for(kind)
        meta = obj.setdefault("metadata", {})
        if not meta.get("name") and isinstance(meta.get("generateName"), str):
            meta["name"] = names.generate_name(meta["generateName"])
        name = meta.get("name", "")
        if kind.namespaced:
            meta["namespace"] = namespace
        validate_metadata(kind, obj)
        self._check_namespace(kind, cluster, namespace, name)
        for field in (
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "selfLink",
        ):
            meta.pop(field, None)
        if kind.namespaced:
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)
        meta["uid"] = str(uuid.uuid4())
        meta["creationTimestamp"] = now_rfc3339()
        if strategy.tracks_generation:
            meta["generation"] = 1
        else:
            meta.pop("generation", None)
        strategy.on_create(obj)
        strategy.defaults(obj)
        if manager:
            _record(kind, None, obj, manager, "")
        omit_empty(meta)
        _validate(kind, strategy, obj, None)
        key = keys.object_key(kind, cluster, namespace, name)
        if len(key) > MAX_KEY_BYTES:
            raise _key_too_long(kind, cluster, name, len(key))
        if dry_run:
            return obj
        result = await write(self._store, WriteOp.create(key, conversion.encode(kind, obj)))
        if not result.succeeded:
            raise errors.already_exists(kind.resource, name, group=kind.group)
        meta["resourceVersion"] = str(result.revision)
        return obj

    def _merge_update(self, kind: ResourceKind, old: Obj, new: Obj, subresource: str) -> Obj:
        """The object an update stores: system fields kept, status split, generation bumped."""
        strategy = strategy_for(kind)
        if subresource == "status":
            merged = copy.deepcopy(old)
            merged["status"] = new.get("status", {})
        elif subresource == "finalize":  # namespaces: only spec.finalizers may change
            merged = copy.deepcopy(old)
            merged.setdefault("spec", {})["finalizers"] = new.get("spec", {}).get("finalizers", [])
        else:
            merged = new
            if strategy.has_status:
                if "status" in old:
                    merged["status"] = old["status"]
                else:
                    merged.pop("status", None)
        meta = merged.setdefault("metadata", {})
        old_meta = old["metadata"]
        for field in (
            "uid",
            "creationTimestamp",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
        ):
            if field in old_meta:
                meta[field] = old_meta[field]
            else:
                meta.pop(field, None)
        meta["name"] = old_meta["name"]
        if kind.namespaced:
            meta["namespace"] = old_meta.get("namespace", "")
        if (
            strategy.tracks_generation
            and subresource != "status"
            and spec_of(merged) != spec_of(old)
        ):
            meta["generation"] = int(old_meta.get("generation", 0)) + 1
        return merged

    async def update(
        self,
        kind: ResourceKind,
        cluster: str,
        namespace: str,
        name: str,
        mutate: Mutator,
        *,
        subresource: str = "",
        dry_run: bool = False,
        expected_revision: Callable[[Obj], int] | None = None,
        manager: str = "",
    ) -> Obj:
        """Read, ``mutate`` (a copy), write with compare-and-swap; retry when raced.

        ``expected_revision(new)`` names the resourceVersion the caller insists on (0: none,
        the update is unconditional and retried); a mismatch is a Conflict. ``manager``: the
        field manager the change is recorded for ("": none, or ``mutate`` applied).
        """
        key = keys.object_key(kind, cluster, namespace, name)
        for _ in range(_UPDATE_RETRIES):
            kv = self._store.get(key)
            if kv is None:
                raise errors.not_found(kind.resource, name, group=kind.group)
            old = conversion.decode(kind, kv.value, kv.mod_revision)
            mutated = mutate(copy.deepcopy(old))
            new = await mutated if isinstance(mutated, Awaitable) else mutated
            wanted = expected_revision(new) if expected_revision else 0
            if wanted and wanted != kv.mod_revision:
                raise errors.stale_update(kind.resource, name, group=kind.group)
            merged = self._merge_update(kind, old, new, subresource)
            validate_metadata(kind, merged)
            meta = merged["metadata"]
            strategy_for(kind).defaults(merged)
            if manager:
                _record(kind, old, merged, manager, subresource)
            omit_empty(meta)
            _validate(kind, strategy_for(kind), merged, old)
            if meta.get("deletionTimestamp") and strategy_for(kind).finalized(merged):
                # The last finalizer is gone: the update completes the deletion.
                if dry_run:
                    return merged
                result = await write(
                    self._store, WriteOp.delete(key, expected_revision=kv.mod_revision)
                )
            else:
                if dry_run:
                    meta["resourceVersion"] = str(kv.mod_revision)
                    return merged
                result = await write(
                    self._store,
                    WriteOp.update(
                        key, conversion.encode(kind, merged), expected_revision=kv.mod_revision
                    ),
                )
            if result.succeeded:
                meta["resourceVersion"] = str(result.revision)
                return merged
            # Raced by another write: read again and re-apply. A resourceVersion the client
            # sent no longer matches then and is refused above; a patch is re-applied to the
            # newer object, as GuaranteedUpdate does.
        raise errors.stale_update(kind.resource, name, group=kind.group)

    async def delete(
        self,
        kind: ResourceKind,
        cluster: str,
        namespace: str,
        name: str,
        *,
        precondition_uid: str = "",
        precondition_revision: int = 0,
        add_finalizers: tuple[str, ...] = (),
        dry_run: bool = False,
    ) -> DeleteResult:
        """Delete, or mark for deletion while finalizers remain (``add_finalizers`` too)."""
        key = keys.object_key(kind, cluster, namespace, name)
        for _ in range(_UPDATE_RETRIES):
            kv = self._store.get(key)
            if kv is None:
                raise errors.not_found(kind.resource, name, group=kind.group)
            obj = conversion.decode(kind, kv.value, kv.mod_revision)
            meta = obj["metadata"]
            if precondition_uid and precondition_uid != meta.get("uid"):
                raise errors.conflict(
                    kind.resource,
                    name,
                    f"Precondition failed: UID in precondition: {precondition_uid}, "
                    f"UID in object meta: {meta.get('uid', '')}",
                    group=kind.group,
                )
            if precondition_revision and precondition_revision != kv.mod_revision:
                raise errors.conflict(
                    kind.resource,
                    name,
                    f"Precondition failed: ResourceVersion in precondition: "
                    f"{precondition_revision}, ResourceVersion in object meta: {kv.mod_revision}",
                    group=kind.group,
                )
            finalizers = list(meta.get("finalizers", []))
            for extra in (*add_finalizers, *strategy_for(kind).delete_finalizers):
                if extra not in finalizers:
                    finalizers.append(extra)
            if finalizers or not strategy_for(kind).finalized(obj):
                return await self._mark_deleted(
                    kind, key, kv.mod_revision, obj, finalizers, dry_run=dry_run
                )
            if dry_run:
                return DeleteResult(obj, finished=True)
            result = await write(
                self._store, WriteOp.delete(key, expected_revision=kv.mod_revision)
            )
            if result.succeeded:
                meta["resourceVersion"] = str(result.revision)
                return DeleteResult(obj, finished=True)
        raise errors.stale_update(kind.resource, name, group=kind.group)

    async def _mark_deleted(
        self,
        kind: ResourceKind,
        key: bytes,
        revision: int,
        obj: Obj,
        finalizers: builtins.list[str],
        *,
        dry_run: bool,
    ) -> DeleteResult:
        meta = obj["metadata"]
        if meta.get("deletionTimestamp") and finalizers == meta.get("finalizers", []):
            return DeleteResult(obj, finished=False)  # already being deleted: nothing changes
        meta.setdefault("deletionTimestamp", now_rfc3339())
        meta.setdefault("deletionGracePeriodSeconds", 0)
        if finalizers:
            meta["finalizers"] = finalizers
        if kind.resource == "namespaces" and not kind.group:
            obj.setdefault("status", {})["phase"] = "Terminating"
        if dry_run:
            return DeleteResult(obj, finished=False)
        result = await write(
            self._store,
            WriteOp.update(key, conversion.encode(kind, obj), expected_revision=revision),
        )
        if not result.succeeded:
            raise errors.stale_update(kind.resource, meta.get("name", ""), group=kind.group)
        meta["resourceVersion"] = str(result.revision)
        return DeleteResult(obj, finished=False)


def _key_too_long(kind: ResourceKind, cluster: str, name: str, size: int) -> errors.StatusError:
    """A name that, in this workspace and namespace, makes a storage key over LMDB's limit."""
    allowed = len(name.encode()) - (size - MAX_KEY_BYTES)
    return errors.invalid(
        kind.kind,
        name,
        [
            {
                "reason": "FieldValueTooLong",
                "message": f"Too long: may not be more than {max(allowed, 0)} bytes in "
                f'workspace "{cluster}" (its storage key is limited to {MAX_KEY_BYTES} bytes)',
                "field": "metadata.name",
            }
        ],
        group=kind.group,
    )


def _record(kind: ResourceKind, old: Obj | None, new: Obj, manager: str, subresource: str) -> None:
    managedfields.record_update(
        old,
        new,
        manager=manager,
        types=managed.types_for(kind),
        api_version=kind.group_version,
        now=now_rfc3339(),
        subresource=subresource,
        ignored=managed.ignored_fields(kind, subresource),
    )


def _validate(kind: ResourceKind, strategy: Strategy, obj: Obj, old: Obj | None) -> None:
    if strategy.validate is None:
        return
    causes = strategy.validate(obj, old)
    if causes:
        name = obj["metadata"].get("name", "")
        raise errors.invalid(kind.kind, name, causes, group=kind.group)


_OMIT_EMPTY = ("labels", "annotations", "finalizers", "ownerReferences", "managedFields")


def omit_empty(meta: dict[str, Any]) -> None:
    """Drop empty metadata collections, as Go's omitempty does on every write (so a patch that
    adds ``annotations: {}`` leaves no trace, and ``kubectl diff`` sees no change)."""
    for field in _OMIT_EMPTY:
        if field in meta and not meta[field]:
            del meta[field]


def with_cluster(key: bytes, obj: Obj) -> Obj:
    """``obj`` annotated with the logical cluster its key names."""
    cluster = keys.split_key(key)[0]
    obj["metadata"].setdefault("annotations", {})[CLUSTER_ANNOTATION] = cluster
    return obj


def revision_of(obj: Obj) -> int:
    """The resourceVersion a client sent in ``obj``, as an int (0 if none)."""
    return parse_revision(str(obj.get("metadata", {}).get("resourceVersion") or ""))


def parse_revision(raw: str) -> int:
    """A client's resourceVersion as a store revision; "" and "0" mean none (0)."""
    if raw in ("", "0"):
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise errors.bad_request(f'invalid resource version: "{raw}"') from None
    if value <= 0:
        raise errors.bad_request(f'invalid resource version: "{raw}"')
    return value
