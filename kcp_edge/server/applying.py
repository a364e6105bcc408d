"""Server-side apply: ``PATCH`` with ``application/apply-patch+yaml``, for every kind.

Why this module exists: Helm 4, kubectl ``apply --server-side``, Argo CD, Flux and
controller-runtime write by applying a configuration as a named field manager
(``k8s.io/apiserver/pkg/endpoints/handlers/patch.go``, ``applyPatcher``). The merge and the
ownership bookkeeping are pure (``apimachinery/managedfields.py``); this module checks the
request's options and body, runs the merge inside the store's compare-and-swap loop (a race
re-applies to the newer object), creates the object when it is missing, and translates
conflicts into the apiserver's 409.
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from kcp_edge.apimachinery import errors, managedfields
from kcp_edge.apimachinery import fieldvalidation as fv
from kcp_edge.registry import managed
from kcp_edge.registry.custom import custom_kind
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.openapi_data import component_schemas
from kcp_edge.registry.store import ObjectStore, now_rfc3339, revision_of
from kcp_edge.server import admission, bodies, fieldchecks
from kcp_edge.server.requestinfo import RequestInfo

Obj = dict[str, Any]
JSON = "application/json"


def patch_options_invalid(field: str, reason: str, message: str) -> errors.StatusError:
    """422 for a PatchOptions query parameter (``fieldManager``, ``force``)."""
    cause = {"reason": reason, "message": message, "field": field}
    return errors.invalid("PatchOptions", "", [cause], group="meta.k8s.io")


def _force(request: Request) -> bool:
    value = request.query_params.get("force", "")
    if value in ("", "false", "0", "False"):
        return False
    if value in ("true", "1", "True"):
        return True
    raise errors.bad_request(f'invalid boolean value for "force": "{value}"')


def _unknown_fields(kind: ResourceKind, applied: Obj) -> list[str]:
    """Unknown fields of the configuration; a custom resource's are pruned from it."""
    custom = custom_kind(kind)
    if custom is not None:
        return custom.unknown_fields(applied)
    if not kind.schema:
        return []
    schemas = component_schemas(group=kind.group, version=kind.version)
    return fv.strict_errors(applied, schemas=schemas, root=kind.schema)


def _field_warnings(kind: ResourceKind, applied: Obj, request: Request) -> list[str]:
    mode = fieldchecks.directive(request, "patch")
    problems = _unknown_fields(kind, applied)
    if not problems or mode is fv.FieldValidation.IGNORE:
        return []
    if mode is fv.FieldValidation.WARN:
        return problems
    raise errors.bad_request("error strict decoding patch: " + ", ".join(problems))


def _translate(exc: managedfields.ManagedFieldsError) -> errors.StatusError:
    if exc.code == 500:
        return errors.internal(str(exc.message))
    return errors.StatusError(
        code=exc.code, reason=exc.reason, message=str(exc.message), details=exc.details()
    )


async def apply(
    objects: ObjectStore,
    kind: ResourceKind,
    info: RequestInfo,
    request: Request,
    raw: bytes,
    *,
    dry_run: bool,
) -> Response:
    """Apply the configuration in ``raw``; 201 when it created the object, else 200."""
    manager = request.query_params.get("fieldManager", "")
    if not manager:
        raise patch_options_invalid(
            "fieldManager", "FieldValueRequired", "Required value: is required for apply patch"
        )
    force = _force(request)
    applied = bodies.parse_yaml(raw)
    if not isinstance(applied, dict):
        raise errors.bad_request("the applied configuration must be a JSON or YAML object")
    warnings = _field_warnings(kind, applied, request)
    meta = applied.get("metadata")
    name = meta.get("name") if isinstance(meta, dict) else None
    if name not in (None, "", info.name):
        raise errors.bad_request(
            f"the name of the object ({name}) does not match the name on the URL ({info.name})"
        )
    custom = custom_kind(kind)
    ignored = managed.ignored_fields(kind, info.subresource)
    wanted = revision_of(applied) if isinstance(meta, dict) else 0

    def merge(live: Obj | None) -> Obj:
        try:
            result = managedfields.apply(
                live,
                applied,
                manager=manager,
                force=force,
                types=managed.types_for(kind),
                api_version=kind.group_version,
                now=now_rfc3339(),
                subresource=info.subresource,
                kind=kind.kind,
                ignored=ignored,
            )
        except managedfields.ManagedFieldsError as exc:
            raise _translate(exc) from None
        if custom is not None:
            custom.admit(result)
        if live is None:
            admission.admit_create(request, objects, kind, info, result)
        else:
            admission.admit_update(request, objects, kind, info, old=live, new=result)
        return result

    for _ in range(3):
        try:
            updated = await objects.update(
                kind,
                info.cluster,
                info.namespace,
                info.name,
                merge,
                subresource=info.subresource,
                dry_run=dry_run,
                expected_revision=lambda _new: wanted,
            )
            return fieldchecks.with_warnings(_respond(updated, 200), warnings)
        except errors.StatusError as exc:
            if exc.code != 404 or info.subresource:
                raise
        new = merge(None)
        new.setdefault("metadata", {})["name"] = info.name
        try:
            created = await objects.create(kind, info.cluster, info.namespace, new, dry_run=dry_run)
        except errors.StatusError as exc:
            if exc.reason == "AlreadyExists":
                continue  # created meanwhile: apply to it
            raise
        if not dry_run:
            await admission.after_create(request, objects, kind, info, created)
        return fieldchecks.with_warnings(_respond(created, 201), warnings)
    raise errors.stale_update(kind.resource, info.name, group=kind.group)


def _respond(obj: Obj, code: int) -> Response:
    return Response(orjson.dumps(obj), status_code=code, media_type=JSON)
