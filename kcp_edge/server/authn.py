"""Authentication middleware: who is making this request.

Why this module exists: every request must carry a known identity before any handler runs, and a
wrong credential must fail loudly (401) rather than quietly fall back to anonymous, as the
Kubernetes apiserver does. ``Authorization: Bearer <token>`` is checked by the union of token
sources (the admin token, the static token file, service-account tokens); a request without it
is anonymous. Service-account tokens are bound to their workspace, so the source is told which
logical cluster the request is for (a token from another workspace is 401 here). Health paths
skip authentication. The identity is left in ``scope["user"]`` and, for a service account, its
home workspace in ``scope["user_cluster"]``. Tokens never reach a log line or an error message.
"""

from __future__ import annotations

import logging

from starlette.types import ASGIApp, Receive, Scope, Send

from kcp_edge.apimachinery.errors import StatusError
from kcp_edge.auth import ANONYMOUS
from kcp_edge.auth.union import Authenticated, TokenRejectedError, UnionAuthenticator
from kcp_edge.server.health import is_health_path
from kcp_edge.server.requestinfo import ROOT_CLUSTER, split_cluster
from kcp_edge.server.status import unauthorized

log = logging.getLogger(__name__)


class AuthenticationMiddleware:
    """Pure ASGI middleware; answers 401 with a ``Status`` for an invalid bearer token."""

    def __init__(self, app: ASGIApp, *, authenticator: UnionAuthenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_health_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        header = _authorization(scope)
        if header is None:
            scope["user"] = ANONYMOUS
            await self.app(scope, receive, send)
            return
        found = self._authenticate(header, scope["path"])
        if found is None:
            await unauthorized()(scope, receive, send)
            return
        scope["user"] = found.user
        scope["user_cluster"] = found.cluster
        await self.app(scope, receive, send)

    def _authenticate(self, header: str, path: str) -> Authenticated | None:
        # As the apiserver's bearer-token authenticator: "Bearer" in any case, then the token;
        # other schemes are not ours to judge (anonymous).
        parts = header.strip().split(" ", 2)
        if len(parts) < 2 or parts[0].lower() != "bearer":
            return Authenticated(user=ANONYMOUS, source="anonymous")
        token = parts[1]
        try:
            cluster, _ = split_cluster(path)
        except StatusError:
            cluster = ROOT_CLUSTER  # the handler answers the malformed path
        try:
            return self.authenticator.authenticate_or_reject(token, cluster=cluster)
        except TokenRejectedError as exc:  # why, for the operator; the client sees only 401
            log.info("authentication refused: %s", exc)
            return None


def _authorization(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            text: str = value.decode("latin-1")
            return text
    return None
