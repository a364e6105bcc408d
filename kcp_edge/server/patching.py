"""PATCH bodies: which patch type, decoded once, applied to the current object on every retry.

Why this module exists: ``k8s.io/apiserver/pkg/endpoints/handlers/patch.go`` accepts JSON
patch, merge patch, strategic merge patch (built-in kinds, and CRDs re-declaring a Kubernetes
type; other custom resources answer 415) and server-side apply, each with its own decoding
errors. The patch is decoded once per request
and applied inside the store's compare-and-swap loop, so a patch racing another write is
re-applied to the newer object instead of failing.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request

from kcp_edge.apimachinery import errors, jsonpatch, mergepatch
from kcp_edge.registry.custom import custom_kind
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.server import bodies
from kcp_edge.server.strategic import PatchFn, kubernetes_schema, strategic_patcher

Obj = dict[str, Any]


def _checked(result: Any) -> Obj:
    if not isinstance(result, dict):
        raise errors.bad_request("the patched object is not a JSON object")
    return result


def patcher(kind: ResourceKind, media: str, raw: bytes, request: Request) -> PatchFn:
    """The function that applies this request's patch to an object."""
    strict = request.query_params.get("fieldValidation", "") in ("Strict", "Warn")
    if media == bodies.JSON_PATCH:
        try:
            operations = jsonpatch.decode_json_patch(raw, strict=strict)
        except jsonpatch.JSONPatchError as exc:
            raise errors.from_coded(exc) from None

        def apply_json(obj: Obj) -> Obj:
            try:
                return _checked(jsonpatch.apply_json_patch(obj, operations))
            except jsonpatch.JSONPatchError as exc:
                raise errors.from_coded(exc) from None

        return apply_json
    if media == bodies.MERGE_PATCH:
        try:
            patch = mergepatch.decode_merge_patch(raw, strict=strict)
        except mergepatch.MergePatchError as exc:
            raise errors.from_coded(exc) from None

        def apply_merge(obj: Obj) -> Obj:
            try:
                return _checked(mergepatch.apply_merge_patch(obj, patch))
            except mergepatch.MergePatchError as exc:
                raise errors.from_coded(exc) from None

        return apply_merge
    custom = custom_kind(kind) is not None
    schema = kubernetes_schema(kind.group, kind.version, kind.kind) if custom else kind.schema
    if media == bodies.STRATEGIC_PATCH and schema:
        return strategic_patcher(kind, raw, schema)
    if not schema:
        accepted: tuple[str, ...] = (bodies.JSON_PATCH, bodies.MERGE_PATCH, bodies.APPLY_PATCH)
    else:
        accepted = (
            bodies.JSON_PATCH,
            bodies.MERGE_PATCH,
            bodies.STRATEGIC_PATCH,
            bodies.APPLY_PATCH,
        )
    raise errors.unsupported_media_type(media, accepted)
