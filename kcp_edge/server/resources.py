"""The resource endpoint: ``/api/v1/...`` and ``/apis/<group>/<version>/...`` in every workspace.

Why this module exists: one place maps a parsed request (``requestinfo.py``) to the kind it
names and the verb handler that serves it, and refuses what the kind does not support with the
apiserver's own answers (404 for resources a workspace does not serve, 405 for verbs a kind
does not allow, ``*`` only for list and watch).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kcp_edge.apimachinery import errors
from kcp_edge.apimachinery.fieldvalidation import warning_header
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.custom import CustomKind, custom_kind
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.store import ObjectStore
from kcp_edge.server import reads, reviews, scale, tokens, writes
from kcp_edge.server.requestinfo import WILDCARD_CLUSTER, RequestInfo
from kcp_edge.server.selection import selection_filter

NOT_FOUND = errors.StatusError(
    code=404,
    reason="NotFound",
    message="the server could not find the requested resource",
    details={},
)


_SUBRESOURCE_VERBS = {"token": ("create",)}
"""Verbs of the subresources that are not views of the object (those: get, update, patch)."""


def _subresource_allowed(kind: ResourceKind, info: RequestInfo) -> None:
    if info.subresource and info.subresource not in kind.subresources:
        raise NOT_FOUND
    verbs = _SUBRESOURCE_VERBS.get(info.subresource, ("get", "update", "patch"))
    if info.subresource and info.verb not in verbs:
        raise errors.method_not_supported(
            f"{kind.resource}/{info.subresource}", info.verb, group=kind.group
        )


def _with_deprecation(
    response: Response, kind: ResourceKind, custom: CustomKind | None
) -> Response:
    """A deprecated CRD version warns on every request, as the CR handler does."""
    if custom is not None and custom.served.deprecated:
        text = custom.served.deprecation_warning
        header = warning_header(text or f"{kind.group_version} {kind.kind} is deprecated")
        if header is not None:
            response.headers.append("Warning", header)
    return response


class ResourceHandler:
    """Serves object requests for every logical cluster from one catalog and one store."""

    def __init__(self, *, catalog: Catalog, objects: ObjectStore) -> None:
        self.catalog = catalog
        self.objects = objects

    def kind_for(self, info: RequestInfo) -> ResourceKind:
        kind = self.catalog.lookup(info.cluster, info.group, info.version, info.resource)
        if kind is None:
            raise NOT_FOUND
        if info.namespace and not kind.namespaced:
            raise NOT_FOUND
        return kind

    async def handle(self, request: Request, info: RequestInfo) -> Response:
        kind = self.kind_for(info)
        verb = info.verb
        if info.cluster == WILDCARD_CLUSTER and verb not in ("list", "watch"):
            raise errors.StatusError(
                code=405,
                reason="MethodNotAllowed",
                message=f'{verb} is not supported on resources of kind "{kind.qualified}" in '
                "the `*` logical cluster",
                details={"group": kind.group, "kind": kind.resource}
                if kind.group
                else {"kind": kind.resource},
            )
        _subresource_allowed(kind, info)
        if not info.subresource and verb not in kind.verbs:
            raise errors.method_not_supported(kind.resource, verb, group=kind.group)
        objects = self.objects
        if reviews.is_review(kind):  # verbs: create only (checked above)
            state = request.app.state
            return await reviews.create(
                request, kind, info, state.authorization, state.authenticator
            )
        if info.subresource == "token":  # serviceaccounts/token: create only (checked above)
            return await tokens.create_token(request, objects, kind, info)
        custom = custom_kind(kind)
        if info.subresource == "scale" and custom is not None:
            scaled = await scale.serve(
                objects, kind, custom, info, request, dry_run=writes.dry_run(request)
            )
            return _with_deprecation(scaled, kind, custom)
        keep = self._filter(kind, request)
        handlers: dict[str, Callable[[], Any]] = {
            "get": lambda: reads.get_object(objects, kind, info, request),
            "list": lambda: reads.list_objects(objects, kind, info, request, keep),
            "watch": lambda: reads.watch_objects(objects, kind, info, request, keep),
            "create": lambda: writes.create(objects, kind, info, request),
            "update": lambda: writes.update(objects, kind, info, request),
            "patch": lambda: writes.patch(objects, kind, info, request),
            "delete": lambda: writes.delete(objects, kind, info, request),
            "deletecollection": lambda: writes.delete_collection(
                objects, kind, info, request, keep
            ),
        }
        handler = handlers.get(verb)
        if handler is None:
            raise errors.method_not_supported(kind.resource, verb, group=kind.group)
        result = handler()
        response: Response = result if isinstance(result, Response) else await result
        return _with_deprecation(response, kind, custom)

    @staticmethod
    def _filter(kind: ResourceKind, request: Request) -> Callable[[dict[str, Any]], bool] | None:
        return selection_filter(
            kind,
            label_selector=request.query_params.get("labelSelector", ""),
            field_selector=request.query_params.get("fieldSelector", ""),
        )
