"""GET of one object, LIST with paging and selectors, and WATCH as a stream of JSON lines.

Why this module exists: reads are the hot path and carry most of the protocol subtleties
(``k8s.io/apiserver/pkg/endpoints/handlers/get.go`` and ``watch.go``): stored bytes go to the
socket without re-encoding; lists are one consistent snapshot across pages, never
``"items": null``; a watch from "now" (resourceVersion unset or 0) starts with synthetic ADDED
events, ``sendInitialEvents=true`` ends them with the ``k8s.io/initial-events-end`` bookmark
(client-go >= 0.35 and kubectl >= 1.35 wait for it), and a watch that is too old ends with an
ERROR event carrying a 410 ``Status``.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timezone
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from kcp_edge.apimachinery import errors, tables
from kcp_edge.registry import conversion
from kcp_edge.registry.custom import custom_kind
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.store import ObjectStore, parse_revision, with_cluster
from kcp_edge.server.negotiation import PARTIAL, content_type, representation
from kcp_edge.server.requestinfo import WILDCARD_CLUSTER, RequestInfo
from kcp_edge.server.selection import Filter
from kcp_edge.server.status import status_body
from kcp_edge.storage import EventType, WatchExpiredError
from kcp_edge.storage.interface import Event

JSON = "application/json"

BOOKMARK_INTERVAL_SECONDS = 60.0
MAX_WATCH_SECONDS = 1800.0


def _int_param(request: Request, name: str) -> int:
    raw = request.query_params.get(name, "")
    if not raw:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise errors.bad_request(f'invalid {name}: "{raw}"') from None
    if value < 0:
        raise errors.bad_request(f"{name} must not be negative")
    return value


def resource_version_param(request: Request) -> int:
    return parse_revision(request.query_params.get("resourceVersion", ""))


def _include_object(request: Request) -> str:
    return request.query_params.get("includeObject", "") or tables.INCLUDE_METADATA


def _table(
    kind: ResourceKind,
    items: list[bytes],
    request: Request,
    version: str,
    *,
    list_metadata: dict[str, Any] | None = None,
    no_headers: bool = False,
) -> bytes:
    try:
        custom = custom_kind(kind)
        table = tables.table_for(
            custom.table if custom is not None else kind.qualified,
            [orjson.loads(item) for item in items],
            now=datetime.now(timezone.utc),
            include_object=_include_object(request),
            list_metadata=list_metadata,
            no_headers=no_headers,
        )
    except tables.TableError as exc:
        raise errors.bad_request(str(exc)) from None
    table["apiVersion"] = f"meta.k8s.io/{version}"
    return orjson.dumps(table)


Rewrite = Callable[[bytes], bytes]


def version_rewrite(kind: ResourceKind) -> Rewrite | None:
    """For a custom resource of a CRD with several versions: stored objects of another version
    get the requested ``apiVersion`` (conversion strategy None: only apiVersion changes)."""
    custom = custom_kind(kind)
    if custom is None or not custom.several_versions:
        return None
    wanted = kind.group_version

    def rewrite(body: bytes) -> bytes:
        obj = orjson.loads(body)
        if obj.get("apiVersion") == wanted:
            return body
        obj["apiVersion"] = wanted
        return orjson.dumps(obj)

    return rewrite


def get_object(
    objects: ObjectStore, kind: ResourceKind, info: RequestInfo, request: Request
) -> Response:
    body = objects.get_raw(kind, info.cluster, info.namespace, info.name)
    rewrite = version_rewrite(kind)
    if rewrite is not None:
        body = rewrite(body)
    found = representation(request)
    if found is None:
        return Response(body, media_type=JSON)
    if found.kind == PARTIAL:
        partial = _partial(orjson.loads(body), found.version)
        return Response(orjson.dumps(partial), media_type=content_type(found, listing=False))
    return Response(
        _table(kind, [body], request, found.version),
        media_type=content_type(found, listing=False),
    )


def _partial(obj: dict[str, Any], version: str) -> dict[str, Any]:
    return {
        "kind": "PartialObjectMetadata",
        "apiVersion": f"meta.k8s.io/{version}",
        "metadata": obj.get("metadata", {}),
    }


def list_body(kind: ResourceKind, items: list[bytes], revision: int, token: str | None) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(revision)}
    if token:
        meta["continue"] = token
    head = orjson.dumps(
        {"kind": kind.list_kind, "apiVersion": kind.group_version, "metadata": meta}
    )
    return head[:-1] + b',"items":[' + b",".join(items) + b"]}"


def _list_options_invalid(field: str, detail: str) -> errors.StatusError:
    return errors.StatusError(
        code=422,
        reason="Invalid",
        message=f'ListOptions.meta.k8s.io "" is invalid: {field}: Forbidden: {detail}',
        details={
            "kind": "ListOptions",
            "group": "meta.k8s.io",
            "causes": [
                {"reason": "FieldValueForbidden", "message": f"Forbidden: {detail}", "field": field}
            ],
        },
    )


def _validate_list_options(request: Request, match: str) -> None:
    """``ValidateListOptions``: options that make no sense together are a 422."""
    if match and not request.query_params.get("resourceVersion"):
        raise _list_options_invalid(
            "resourceVersionMatch",
            "resourceVersionMatch is forbidden unless resourceVersion is provided",
        )
    if request.query_params.get("sendInitialEvents"):
        raise _list_options_invalid("sendInitialEvents", "sendInitialEvents is forbidden for list")


def list_objects(
    objects: ObjectStore,
    kind: ResourceKind,
    info: RequestInfo,
    request: Request,
    keep: Filter | None,
) -> Response:
    limit = _int_param(request, "limit")
    _int_param(request, "timeoutSeconds")  # decoded (and refused if malformed) like all options
    token = request.query_params.get("continue") or None
    revision = resource_version_param(request)
    match = request.query_params.get("resourceVersionMatch", "")
    if match and match not in ("NotOlderThan", "Exact"):
        raise errors.bad_request(f'invalid resourceVersionMatch: "{match}"')
    _validate_list_options(request, match)
    # Exact reads at that revision; NotOlderThan (and unset) may read the latest, which is
    # never older than any revision this server handed out.
    at = revision if match == "Exact" else 0
    page = objects.list(
        kind,
        info.cluster,
        info.namespace,
        limit=limit,
        continue_token=token,
        revision=at,
        keep=keep,
    )
    rewrite = version_rewrite(kind)
    if rewrite is not None:
        page = dataclasses.replace(page, items=[rewrite(item) for item in page.items])
    found = representation(request)
    if found is not None:
        meta: dict[str, Any] = {"resourceVersion": str(page.revision)}
        if page.continue_token:
            meta["continue"] = page.continue_token
        if found.kind == PARTIAL:
            partial = {
                "kind": "PartialObjectMetadataList",
                "apiVersion": f"meta.k8s.io/{found.version}",
                "metadata": meta,
                "items": [_partial(orjson.loads(item), found.version) for item in page.items],
            }
            body = orjson.dumps(partial)
        else:
            body = _table(kind, page.items, request, found.version, list_metadata=meta)
        return Response(body, media_type=content_type(found, listing=True))
    return Response(
        list_body(kind, page.items, page.revision, page.continue_token), media_type=JSON
    )


def _event_line(kind: str, body: bytes) -> bytes:
    return b'{"type":"' + kind.encode() + b'","object":' + body + b"}\n"


def _bookmark(kind: ResourceKind, revision: int, *, initial_end: bool) -> bytes:
    meta: dict[str, Any] = {"resourceVersion": str(revision)}
    if initial_end:
        meta["annotations"] = {"k8s.io/initial-events-end": "true"}
    obj = {"kind": kind.kind, "apiVersion": kind.group_version, "metadata": meta}
    return _event_line("BOOKMARK", orjson.dumps(obj))


def _error_line(exc: errors.StatusError) -> bytes:
    body = status_body(code=exc.code, reason=exc.reason, message=exc.message, details=exc.details)
    return _event_line("ERROR", body)


def _translate(
    kind: ResourceKind,
    event: Event,
    keep: Filter | None,
    rewrite: Rewrite | None = None,
    *,
    wildcard: bool = False,
) -> bytes | None:
    """One store event as a watch line, honouring selectors (objects leaving a selection are
    DELETED for that watcher, objects entering it ADDED, as the apiserver's cacher does)."""
    body = conversion.raw(kind, event.kv.value, event.revision)
    if wildcard:  # which workspace the object lives in, as a wildcard list says
        body = orjson.dumps(with_cluster(event.kv.key, orjson.loads(body)))
    if rewrite is not None:
        body = rewrite(body)
    if event.type is EventType.DELETE:
        if keep is not None and not keep(orjson.loads(body)):
            return None
        return _event_line("DELETED", body)
    change = "ADDED" if event.is_create else "MODIFIED"
    if keep is None:
        return _event_line(change, body)
    now_in = keep(orjson.loads(body))
    prev = event.prev_kv
    was_in = (
        keep(conversion.decode(kind, prev.value, prev.mod_revision))
        if prev is not None
        else not event.is_create
    )
    if now_in:
        return _event_line("ADDED" if not was_in else change, body)
    if was_in and not event.is_create:
        return _event_line("DELETED", body)
    return None


def watch_objects(
    objects: ObjectStore,
    kind: ResourceKind,
    info: RequestInfo,
    request: Request,
    keep: Filter | None,
) -> Response:
    revision = resource_version_param(request)
    send_initial = request.query_params.get("sendInitialEvents", "").lower() == "true"
    if send_initial and request.query_params.get("resourceVersionMatch") != "NotOlderThan":
        raise errors.StatusError(
            code=422,
            reason="Invalid",
            message="resourceVersionMatch: Forbidden: sendInitialEvents requires setting "
            "resourceVersionMatch to NotOlderThan",
            details={},
        )
    bookmarks = request.query_params.get("allowWatchBookmarks", "").lower() == "true"
    timeout = float(_int_param(request, "timeoutSeconds") or MAX_WATCH_SECONDS)

    initial: list[bytes] = []
    rewrite = version_rewrite(kind)
    wildcard = info.cluster == WILDCARD_CLUSTER
    if revision == 0 or send_initial:
        page = objects.list(kind, info.cluster, info.namespace, keep=keep)
        initial = [_event_line("ADDED", rewrite(item) if rewrite else item) for item in page.items]
        after = page.revision if revision == 0 else max(revision, page.revision)
        if send_initial:
            initial.append(_bookmark(kind, after, initial_end=True))
    else:
        after = revision
    try:
        watch = objects.watch(kind, info.cluster, info.namespace, after)
    except errors.StatusError as exc:
        if exc.code != 410:
            raise
        # As the apiserver does: the stream opens (200) and its one event is the 410.
        return Response(_error_line(exc), media_type=JSON)
    found = representation(request)
    headers_sent = False

    def render(line: bytes) -> bytes:
        """As the representation asked for (Table headers on the first event only)."""
        nonlocal headers_sent
        if found is None or b'"type":"ERROR"' in line[:20] or b'"BOOKMARK"' in line[:20]:
            return line
        event = orjson.loads(line)
        if found.kind == PARTIAL:
            partial = _partial(event["object"], found.version)
            return _event_line(event["type"], orjson.dumps(partial))
        table = _table(
            kind, [orjson.dumps(event["object"])], request, found.version, no_headers=headers_sent
        )
        headers_sent = True
        return _event_line(event["type"], table)

    async def stream() -> AsyncIterator[bytes]:
        deadline = time.monotonic() + timeout
        last = after
        try:
            if initial:
                yield b"".join(render(line) for line in initial)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                wait = min(remaining, BOOKMARK_INTERVAL_SECONDS) if bookmarks else remaining
                try:
                    batch = await watch.next_batch(wait)
                except WatchExpiredError as exc:
                    too_old = errors.too_old_resource_version(exc.last_revision, exc.last_revision)
                    yield _error_line(too_old)
                    return
                if not batch:
                    if watch.closed:
                        return
                    if bookmarks and time.monotonic() < deadline:
                        yield _bookmark(kind, last, initial_end=False)
                    continue
                last = batch[-1].revision
                # One write for everything that arrived together, not one per event.
                translated = (_translate(kind, e, keep, rewrite, wildcard=wildcard) for e in batch)
                lines = [line for line in translated if line]
                if lines:
                    yield b"".join(render(line) for line in lines)
        finally:
            watch.close()

    media = content_type(found, listing=False) if found is not None else JSON
    return StreamingResponse(stream(), media_type=media)
