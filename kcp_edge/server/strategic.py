"""Strategic merge patch for built-in kinds, driven by each kind's bundled schema.

Why this module exists: kubectl sends strategic merge patches by default (patch, apply, edit,
label, annotate, set image, rollout restart); merging them needs the kind's patch strategies
and merge keys (``x-kubernetes-patch-strategy`` / ``-merge-key`` in its OpenAPI schema). The
patch metadata of a group-version is indexed once and shared by every request. Custom resources
answer 415, as the apiserver does, with one exception: a CRD that re-declares a Kubernetes type
(API negotiation's ``deployments.apps``, ``services``) merges with that type's bundled upstream
schema. kubectl knows those types and sends them strategic merge patches (``apply`` of a changed
Deployment, ``set image``, ``rollout restart``); on a real cluster they are built in, so a 415
there would break ``kubectl apply`` the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from kcp_edge.apimachinery import errors, strategicpatch
from kcp_edge.apimachinery.patchmeta import PatchMetaIndex
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.openapi_data import component_schemas

PatchFn = Callable[[dict[str, Any]], dict[str, Any]]
"""Applies one request's patch to an object (re-applied on every compare-and-swap retry)."""

STRATEGIC = "application/strategic-merge-patch+json"
OTHERS = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)


@lru_cache(maxsize=64)
def _index(group: str, version: str) -> PatchMetaIndex:
    return PatchMetaIndex(component_schemas(group=group, version=version))


@lru_cache(maxsize=256)
def kubernetes_schema(group: str, version: str, kind: str) -> str:
    """The bundled upstream component of the Kubernetes type ``group/version, Kind=kind``, or ""
    (a custom resource's kind that Kubernetes does not define)."""
    for name, schema in component_schemas(group=group, version=version).items():
        for gvk in schema.get("x-kubernetes-group-version-kind", ()):
            if (gvk.get("group", ""), gvk.get("version"), gvk.get("kind")) == (
                group,
                version,
                kind,
            ):
                return name
    return ""


def strategic_patcher(kind: ResourceKind, raw: bytes, schema: str | None = None) -> PatchFn:
    """The function applying this strategic merge patch to an object of ``kind``, merged by the
    component ``schema`` (default: the kind's own).

    Unknown fields are not this function's business: field validation reports them.
    """
    schema = kind.schema if schema is None else schema
    if not schema:
        raise errors.StatusError(
            code=415,
            reason="UnsupportedMediaType",
            message=f"{STRATEGIC} is not supported by {kind.group_version}, Kind={kind.kind}: "
            "the body of the request was in an unknown format - accepted media types include: "
            + ", ".join(OTHERS),
            details={},
        )
    try:
        patch = strategicpatch.decode_strategic_merge_patch(raw)
    except strategicpatch.StrategicMergePatchError as exc:
        raise errors.from_coded(exc) from None
    meta = _index(kind.group, kind.version).lookup(schema)

    def apply(obj: dict[str, Any]) -> dict[str, Any]:
        try:
            return strategicpatch.strategic_merge_patch(obj, patch, schema=meta)
        except strategicpatch.StrategicMergePatchError as exc:
            raise errors.from_coded(exc) from None

    return apply
