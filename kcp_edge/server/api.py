"""The catch-all API endpoint: object requests, discovery and OpenAPI of every workspace.

Why this module exists: Kubernetes paths are not a fixed route table (groups, versions and
resources come from the catalog, per logical cluster), so everything under ``/api``, ``/apis``,
``/openapi`` and ``/clusters/<name>/...`` that the fixed routes (health, version) do not take
arrives here, is parsed once (``requestinfo.py``) and is handed to the resource handler or the
discovery documents. Anything else is the apiserver's plain 404 ``Status``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from kcp_edge.auth import ANONYMOUS
from kcp_edge.server import requestinfo
from kcp_edge.server.authz import Authorization
from kcp_edge.server.discovery import Discovery
from kcp_edge.server.resources import NOT_FOUND, ResourceHandler

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]


class API:
    """Routes the rest of the URL space to resources and discovery."""

    def __init__(
        self, *, resources: ResourceHandler, discovery: Discovery, authorization: Authorization
    ) -> None:
        self.resources = resources
        self.discovery = discovery
        self.authorization = authorization

    async def endpoint(self, request: Request) -> Response:
        query = dict(request.query_params)
        info = requestinfo.parse(request.method, request.url.path, query)
        request.state.info = info
        request.state.groups = self.authorization.check(
            request.scope.get("user", ANONYMOUS),
            info,
            request.method,
            home=request.scope.get("user_cluster"),
        )
        if info.is_resource:
            return await self.resources.handle(request, info)
        if request.method in ("GET", "HEAD"):
            answer = self.discovery.serve(request, info)
            if answer is not None:
                return answer
        raise NOT_FOUND

    def routes(self) -> list[BaseRoute]:
        return [Route("/{path:path}", self.endpoint, methods=METHODS)]
