"""CREATE, UPDATE, PATCH, DELETE and DELETECOLLECTION of objects.

Why this module exists: writes check what the request says against the URL before anything is
stored (``k8s.io/apiserver/pkg/endpoints/handlers/create.go``, ``update.go``, ``patch.go``,
``delete.go``): apiVersion and kind must match the endpoint, the body's namespace and name must
match the path, dryRun=All runs everything but the write, and each outcome is answered with the
status code and body shape kubectl and the Python client expect (201 on create, the deleted
object or a success Status on delete).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from kcp_edge.apimachinery import errors, managedfields
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.store import ObjectStore, revision_of
from kcp_edge.registry.strategy import Obj, strategy_for
from kcp_edge.server import admission, applying, bodies, fieldchecks, patching
from kcp_edge.server.reads import list_body
from kcp_edge.server.requestinfo import RequestInfo

JSON = "application/json"
IMMORTAL_NAMESPACES = frozenset({"default", "kube-system", "kube-public"})


def dry_run(request: Request) -> bool:
    values = request.query_params.getlist("dryRun")
    for value in values:
        if value != "All":
            raise errors.bad_request(f'invalid dry run option: "{value}"; only "All" is allowed')
    return bool(values)


def _admitted(
    request: Request,
    objects: ObjectStore,
    kind: ResourceKind,
    info: RequestInfo,
    *,
    old: Obj,
    new: Obj,
) -> Obj:
    admission.admit_update(request, objects, kind, info, old=old, new=new)
    return new


def field_manager(request: Request) -> str:
    """The request's ``fieldManager``, or the one upstream derives from the User-Agent."""
    return request.query_params.get("fieldManager") or managedfields.default_manager(
        request.headers.get("user-agent", "")
    )


def _respond(obj: Obj, code: int = 200) -> Response:
    return Response(orjson.dumps(obj), status_code=code, media_type=JSON)


def _check_type(kind: ResourceKind, obj: Obj) -> None:
    """The body's type must be the endpoint's, worded as the decoder's transformDecodeError."""
    api_version = obj.get("apiVersion") or kind.group_version
    obj_kind = obj.get("kind") or kind.kind
    if not isinstance(api_version, str) or not isinstance(obj_kind, str):
        raise errors.bad_request("apiVersion and kind must be strings")
    version = api_version.rsplit("/", 1)[-1]
    prefix = f'{obj_kind} in version "{version}" cannot be handled as a {kind.kind}: '
    if api_version != kind.group_version:
        raise errors.bad_request(
            f'{prefix}no kind "{obj_kind}" is registered for version "{api_version}" in scheme '
            '"k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30"'
        )
    if obj_kind != kind.kind:
        raise errors.bad_request(
            f"{prefix}converting ({version}.{obj_kind}) to ({kind.version}.{kind.kind}): "
            "unknown conversion"
        )
    obj["apiVersion"] = kind.group_version
    obj["kind"] = kind.kind
    metadata = obj.get("metadata")
    if metadata is None:
        obj["metadata"] = {}
    elif not isinstance(metadata, dict):
        raise _undecodable(kind, "metadata", metadata, "v1.ObjectMeta")
    else:
        _check_meta_types(kind, metadata)


_GO_TYPES = {
    str: "string",
    bool: "bool",
    int: "number",
    float: "number",
    list: "array",
    dict: "object",
    type(None): "null",
}
_META_STRINGS = ("name", "generateName", "namespace", "uid", "resourceVersion")


def _undecodable(kind: ResourceKind, field: str, value: Any, go_type: str) -> errors.StatusError:
    """The apiserver's 400 for a body whose field has the wrong JSON type."""
    got = _GO_TYPES.get(type(value), "value")
    return errors.bad_request(
        f'{kind.kind} in version "{kind.version}" cannot be handled as a {kind.kind}: json: '
        f"cannot unmarshal {got} into Go struct field ObjectMeta.metadata.{field} of type "
        f"{go_type}"
    )


def _check_meta_types(kind: ResourceKind, meta: dict[str, Any]) -> None:
    """ObjectMeta fields must have their Go types, or nothing downstream can trust them."""
    for field in _META_STRINGS:
        value = meta.get(field)
        if value is not None and not isinstance(value, str):
            raise _undecodable(kind, field, value, "string")
    for field in ("labels", "annotations"):
        value = meta.get(field)
        if value is None:
            continue
        if not isinstance(value, dict):
            raise _undecodable(kind, field, value, "map[string]string")
        for item in value.values():
            if not isinstance(item, str):
                raise _undecodable(kind, field, item, "string")
    finalizers = meta.get("finalizers")
    if finalizers is not None and (
        not isinstance(finalizers, list) or not all(isinstance(f, str) for f in finalizers)
    ):
        raise _undecodable(kind, "finalizers", finalizers, "[]string")


def _check_namespace(kind: ResourceKind, info: RequestInfo, obj: Obj) -> None:
    if not kind.namespaced:
        return
    body_ns = obj["metadata"].get("namespace")
    if body_ns and body_ns != info.namespace:
        raise errors.bad_request(
            "the namespace of the provided object does not match the namespace sent on the request"
        )


async def _read_object(
    kind: ResourceKind, info: RequestInfo, request: Request, verb: str
) -> tuple[Obj, list[str]]:
    """The request's object, checked against the endpoint; with its field warnings."""
    mode = fieldchecks.directive(request, verb)
    raw = await bodies.read_body(request)
    media = bodies.media_type(request)
    obj = bodies.decode_object(raw, media, api_version=kind.group_version, kind=kind.kind)
    warnings = fieldchecks.check_object(
        kind, obj, raw=raw if media == bodies.JSON else None, mode=mode, verb=verb
    )
    _check_type(kind, obj)
    _check_namespace(kind, info, obj)
    return obj, warnings


async def create(
    objects: ObjectStore, kind: ResourceKind, info: RequestInfo, request: Request
) -> Response:
    if info.name:
        raise errors.method_not_supported(kind.resource, "create", group=kind.group)
    obj, warnings = await _read_object(kind, info, request, "create")
    admission.admit_create(request, objects, kind, info, obj)
    dry = dry_run(request)
    created = await objects.create(
        kind, info.cluster, info.namespace, obj, dry_run=dry, manager=field_manager(request)
    )
    if not dry:
        await admission.after_create(request, objects, kind, info, created)
    return fieldchecks.with_warnings(_respond(created, 201), warnings)


async def update(
    objects: ObjectStore, kind: ResourceKind, info: RequestInfo, request: Request
) -> Response:
    obj, warnings = await _read_object(kind, info, request, "update")
    if not strategy_for(kind).allow_unconditional_update and not revision_of(obj):
        # The generic store names the resource here, not the kind (store.go Update).
        raise errors.invalid(
            kind.resource,
            info.name,
            [
                {
                    "reason": "FieldValueInvalid",
                    "message": "Invalid value: 0: must be specified for an update",
                    "field": "metadata.resourceVersion",
                }
            ],
            group=kind.group,
        )
    body_name = obj["metadata"].get("name", "")
    if body_name != info.name:
        raise errors.bad_request(
            f"the name of the object ({body_name}) does not match the name on the URL ({info.name})"
        )
    updated = await objects.update(
        kind,
        info.cluster,
        info.namespace,
        info.name,
        lambda old: _admitted(request, objects, kind, info, old=old, new=obj),
        subresource=info.subresource,
        dry_run=dry_run(request),
        expected_revision=revision_of,
        manager=field_manager(request),
    )
    return fieldchecks.with_warnings(_respond(updated), warnings)


async def patch(
    objects: ObjectStore, kind: ResourceKind, info: RequestInfo, request: Request
) -> Response:
    media = bodies.media_type(request)
    raw = await bodies.read_body(request)
    if media == bodies.APPLY_PATCH:
        return await applying.apply(objects, kind, info, request, raw, dry_run=dry_run(request))
    if request.query_params.get("force"):
        raise applying.patch_options_invalid(
            "force", "FieldValueForbidden", "Forbidden: may not be specified for non-apply patch"
        )
    mode = fieldchecks.directive(request, "patch")
    patch_with = patching.patcher(kind, media, raw, request)
    warnings: list[str] = []

    def apply(obj: Obj) -> Obj:
        patched = patch_with(obj)
        # Decoded first (a custom resource is pruned and defaulted), then admitted, as the
        # create and update paths do.
        warnings[:] = fieldchecks.check_patched(
            kind, patched, patch=raw, patch_type=media, mode=mode
        )
        return _admitted(request, objects, kind, info, old=obj, new=patched)

    updated = await objects.update(
        kind,
        info.cluster,
        info.namespace,
        info.name,
        apply,
        subresource=info.subresource,
        dry_run=dry_run(request),
        expected_revision=revision_of,
        manager=field_manager(request),
    )
    return fieldchecks.with_warnings(_respond(updated), warnings)


async def _delete_options(request: Request) -> dict[str, Any]:
    raw = await bodies.read_body(request)
    options: dict[str, Any] = {}
    if raw.strip():
        media = bodies.media_type(request)
        if media == bodies.PROTOBUF:
            options = bodies.decode_object(raw, media)
        else:
            parsed = bodies.parse_json(raw)
            if not isinstance(parsed, dict):
                raise errors.bad_request("DeleteOptions must be a JSON object")
            options = parsed
    for name in ("propagationPolicy", "gracePeriodSeconds"):
        if name in request.query_params and name not in options:
            options[name] = request.query_params[name]
    policy = options.get("propagationPolicy")
    if policy not in (None, "Background", "Foreground", "Orphan"):
        raise errors.StatusError(
            code=422,
            reason="Invalid",
            message=f'DeleteOptions.meta.k8s.io "" is invalid: propagationPolicy: Unsupported '
            f'value: "{policy}": supported values: "Foreground", "Background", "Orphan"',
            details={},
        )
    return options


_POLICY_FINALIZERS = {"Foreground": ("foregroundDeletion",), "Orphan": ("orphan",)}


async def delete(
    objects: ObjectStore, kind: ResourceKind, info: RequestInfo, request: Request
) -> Response:
    options = await _delete_options(request)
    if not kind.group and kind.resource == "namespaces" and info.name in IMMORTAL_NAMESPACES:
        # The NamespaceLifecycle admission plugin's immortal namespaces.
        raise errors.forbidden("namespaces", info.name, "this namespace may not be deleted")
    preconditions = options.get("preconditions") or {}
    rv = preconditions.get("resourceVersion") or ""
    result = await objects.delete(
        kind,
        info.cluster,
        info.namespace,
        info.name,
        precondition_uid=preconditions.get("uid") or "",
        precondition_revision=int(rv) if str(rv).isdigit() else 0,
        add_finalizers=_POLICY_FINALIZERS.get(options.get("propagationPolicy") or "", ()),
        dry_run=dry_run(request),
    )
    if not result.finished:
        return _respond(result.body, 202)  # waits for finalizers, as handlers/delete.go answers
    if strategy_for(kind).return_deleted_object:
        return _respond(result.body)
    meta = result.body["metadata"]
    details: dict[str, Any] = {"name": info.name}
    if kind.group:
        details["group"] = kind.group
    details["kind"] = kind.resource
    details["uid"] = meta.get("uid", "")
    return _respond(
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": details,
        }
    )


async def delete_collection(
    objects: ObjectStore,
    kind: ResourceKind,
    info: RequestInfo,
    request: Request,
    keep: Callable[[Obj], bool] | None,
) -> Response:
    options = await _delete_options(request)
    page = objects.list(kind, info.cluster, info.namespace, keep=keep)
    deleted: list[bytes] = []
    dry = dry_run(request)
    for item in page.items:
        obj = orjson.loads(item)
        meta = obj["metadata"]
        try:
            result = await objects.delete(
                kind,
                info.cluster,
                meta.get("namespace", ""),
                meta["name"],
                add_finalizers=_POLICY_FINALIZERS.get(options.get("propagationPolicy") or "", ()),
                dry_run=dry,
            )
        except errors.StatusError as exc:
            if exc.code == 404:
                continue  # deleted meanwhile
            raise
        deleted.append(orjson.dumps(result.body))
    return Response(list_body(kind, deleted, page.revision, None), media_type=JSON)
