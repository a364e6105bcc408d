"""Serving discovery (``/api``, ``/apis``, legacy and aggregated) and OpenAPI v3 per workspace.

Why this module exists: kubectl resolves every resource name through discovery, and
``create -f``, ``apply -f``, ``edit`` and ``explain`` fetch OpenAPI v3 first; both must
describe exactly what the requested logical cluster serves. The documents are built by the pure
functions of ``apimachinery/discovery.py`` and ``apimachinery/openapi.py`` (memoised per set of
kinds, not per workspace); this module picks the document for a path, negotiates the form from
the Accept header, and answers with the apiserver's headers (ETag, 304, Content-Type).
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import Response

from kcp_edge.apimachinery import discovery, openapi, openapiv2
from kcp_edge.registry import crds
from kcp_edge.registry.builtin import served_group_versions
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.custom import custom_kind
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.openapi_data import bundled_documents
from kcp_edge.server.requestinfo import RequestInfo
from kcp_edge.server.resources import NOT_FOUND
from kcp_edge.server.version import GIT_VERSION

_CUSTOM_CACHE_SIZE = 256


def _answer(doc: discovery.DiscoveryResponse, request: Request) -> Response:
    headers = dict(doc.headers)
    if doc.not_modified(request.headers.get("if-none-match")):
        headers.pop("Content-Type", None)
        return Response(status_code=304, headers=headers)
    media = headers.pop("Content-Type")
    return Response(doc.body, headers=headers, media_type=media)


class Discovery:
    """The discovery and OpenAPI documents of every logical cluster."""

    def __init__(
        self,
        *,
        catalog: Catalog,
        documents: openapi.OpenAPIDocuments,
        swagger: openapiv2.SwaggerDocuments | None = None,
    ) -> None:
        self._catalog = catalog
        self._documents = documents
        self._swagger = swagger or openapiv2.SwaggerDocuments(
            documents=bundled_documents(), version=GIT_VERSION
        )
        self._custom_cache: dict[tuple[str, frozenset[object]], openapi.OpenAPIDocument] = {}

    def serve(self, request: Request, info: RequestInfo) -> Response | None:
        """The answer for a discovery or OpenAPI path, or None if the path is neither."""
        path = info.path.rstrip("/") or "/"
        kinds = self._catalog.kinds(info.cluster)
        if path.startswith("/openapi/v3"):
            return self._openapi(request, info, path)
        if path == "/openapi/v2":
            return self._openapi_v2(request, info)
        try:
            if path in ("/api", "/apis"):
                form = discovery.negotiate(request.headers.get("accept"))
                order = served_group_versions(kinds=kinds)
                if form is not discovery.DiscoveryForm.LEGACY:
                    doc = discovery.aggregated(
                        kinds=kinds, order=order, core=path == "/api", form=form
                    )
                elif path == "/api":
                    doc = discovery.api_versions(kinds=kinds, server_address=self._address(request))
                else:
                    doc = discovery.api_group_list(kinds=kinds, order=order)
                return _answer(doc, request)
            if info.version:
                doc = discovery.api_resource_list(
                    kinds=kinds, group=info.group, version=info.version
                )
                return _answer(doc, request)
            if info.group:
                order = served_group_versions(kinds=kinds)
                return _answer(
                    discovery.api_group(kinds=kinds, order=order, group=info.group), request
                )
        except discovery.NotFoundError:
            raise NOT_FOUND from None
        return None

    @staticmethod
    def _address(request: Request) -> str:
        host = request.url.hostname or "127.0.0.1"
        port = request.url.port or 443
        return f"{host}:{port}"

    def _custom_documents(self, cluster: str) -> dict[str, openapi.OpenAPIDocument]:
        """The OpenAPI documents of the group-versions ``cluster`` serves from CRDs (its own and
        kcp's system CRDs of its workspace type), built once per change."""
        by_key: dict[str, list[ResourceKind]] = {}
        for kind in self._catalog.kinds(cluster):
            if custom_kind(kind) is None or not kind.group:  # core: see _openapi
                continue
            key = openapi.document_key(group=kind.group, version=kind.version)
            by_key.setdefault(key, []).append(kind)
        out = {}
        for key, kinds in by_key.items():
            signature = (key, frozenset(k.definition for k in kinds))
            document = self._custom_cache.get(signature)
            if document is None:
                kinds.sort(key=lambda k: k.resource)
                document = openapi.make_document(key=key, document=crds.openapi_document(kinds))
                if len(self._custom_cache) > _CUSTOM_CACHE_SIZE:
                    self._custom_cache.clear()
                self._custom_cache[signature] = document
            out[key] = document
        return out

    def _openapi(self, request: Request, info: RequestInfo, path: str) -> Response:
        custom = self._custom_documents(info.cluster)
        # Built-in kinds, and core-group kinds published by API negotiation (services): their
        # schemas come from the bundled /api/v1 document, which a CRD's document would replace.
        served = [
            k for k in self._catalog.kinds(info.cluster) if custom_kind(k) is None or not k.group
        ]
        if path == "/openapi/v3":
            result = openapi.serve_index(
                self._documents.index(kinds=served, extra=custom.values()),
                if_none_match=request.headers.get("if-none-match"),
            )
        else:
            key = path[len("/openapi/v3/") :]
            document = custom.get(key)
            if document is None:
                try:
                    document = self._documents.document(key=key, kinds=served)
                except openapi.DocumentNotFoundError:
                    raise NOT_FOUND from None
            prefix = request.url.path[: len(request.url.path) - len(info.path)]
            result = openapi.serve_document(
                document,
                requested_hash=request.query_params.get("hash"),
                accept=request.headers.get("accept"),
                if_none_match=request.headers.get("if-none-match"),
                now=time.time(),
                prefix=prefix,
            )
        headers = dict(result.headers)
        media = headers.pop("Content-Type", None)
        return Response(result.body, status_code=result.status, headers=headers, media_type=media)

    def _openapi_v2(self, request: Request, info: RequestInfo) -> Response:
        """Built-in kinds only: a custom resource (CRD or API negotiation) found in v2 would be
        validated there on the client; leaving it out keeps kubectl's own fallbacks, as with
        no document at all (docs/api.md)."""
        kinds = [k for k in self._catalog.kinds(info.cluster) if custom_kind(k) is None]
        result = openapiv2.serve_swagger(
            self._swagger.document(kinds=kinds),
            accept=request.headers.get("accept"),
            if_none_match=request.headers.get("if-none-match"),
        )
        headers = dict(result.headers)
        media = headers.pop("Content-Type", None)
        return Response(result.body, status_code=result.status, headers=headers, media_type=media)
