"""The ``/scale`` subresource of custom resources: an ``autoscaling/v1`` Scale view of an object.

Why this module exists: ``kubectl scale`` and autoscalers read and write a CR's replica count
through ``.../<name>/scale``, whatever paths its CRD declares (``specReplicasPath``,
``statusReplicasPath``, ``labelSelectorPath``). The object is read and written as usual; this
module only converts to and from the Scale (``crds.to_scale`` / ``crds.from_scale``) around the
store's compare-and-swap update, so a scale racing another write is re-applied, not lost.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from kcp_edge.apimachinery import errors
from kcp_edge.registry import crds
from kcp_edge.registry.custom import CustomKind
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.store import ObjectStore, parse_revision
from kcp_edge.server import bodies, patching
from kcp_edge.server.requestinfo import RequestInfo

Obj = dict[str, Any]
JSON = "application/json"


def _paths(custom: CustomKind) -> crds.ScalePaths:
    # The kind serves "scale" (checked before this) only when its CRD declares the paths.
    paths = custom.served.scale
    assert paths is not None
    return paths


def _respond(scale: Obj) -> Response:
    return Response(orjson.dumps(scale), media_type=JSON)


async def serve(
    objects: ObjectStore,
    kind: ResourceKind,
    custom: CustomKind,
    info: RequestInfo,
    request: Request,
    *,
    dry_run: bool,
) -> Response:
    """GET, PUT or PATCH ``.../<name>/scale``."""
    paths = _paths(custom)
    if info.verb == "get":
        obj = objects.get(kind, info.cluster, info.namespace, info.name)
        return _respond(crds.to_scale(obj, paths, require_spec_replicas=True))
    raw = await bodies.read_body(request)
    media = bodies.media_type(request)
    if info.verb == "update":
        scale = bodies.decode_object(raw, media, api_version="autoscaling/v1", kind="Scale")
        wanted = parse_revision(str(scale.get("metadata", {}).get("resourceVersion") or "0"))
        mutate = lambda old: crds.from_scale(old, scale, paths)  # noqa: E731
        expected = (lambda _new: wanted) if wanted else None
    else:
        if media not in (bodies.JSON_PATCH, bodies.MERGE_PATCH):
            raise errors.unsupported_media_type(media, (bodies.JSON_PATCH, bodies.MERGE_PATCH))
        patch_with = patching.patcher(kind, media, raw, request)

        def mutate(old: Obj) -> Obj:
            return crds.from_scale(old, patch_with(crds.to_scale(old, paths)), paths)

        expected = None
    updated = await objects.update(
        kind,
        info.cluster,
        info.namespace,
        info.name,
        mutate,
        dry_run=dry_run,
        expected_revision=expected,
    )
    return _respond(crds.to_scale(updated, paths))
