"""Authentication middleware: who is making this request.

Why this module exists: every request must carry a known identity before any handler runs, and a
wrong credential must fail loudly (401) rather than quietly fall back to anonymous, as the
Kubernetes apiserver does. Only ``Authorization: Bearer <token>`` is checked today; a request
without it is anonymous (only public endpoints exist yet). Health paths skip authentication.
The identity is left in ``scope["user"]`` (``request.user`` in starlette). Tokens never reach a
log line or an error message.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Receive, Scope, Send

from kcp_edge.auth import ANONYMOUS, TokenAuthenticator, UserInfo
from kcp_edge.server.health import is_health_path
from kcp_edge.server.status import unauthorized


class AuthenticationMiddleware:
    """Pure ASGI middleware; answers 401 with a ``Status`` for an invalid bearer token."""

    def __init__(self, app: ASGIApp, *, authenticator: TokenAuthenticator) -> None:
        self.app = app
        self.authenticator = authenticator

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_health_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        user = self._authenticate(scope)
        if user is None:
            await unauthorized()(scope, receive, send)
            return
        scope["user"] = user
        await self.app(scope, receive, send)

    def _authenticate(self, scope: Scope) -> UserInfo | None:
        header = _authorization(scope)
        if header is None:
            return ANONYMOUS
        # As the apiserver's bearer-token authenticator: "Bearer" in any case, then the token;
        # other schemes are not ours to judge.
        parts = header.strip().split(" ", 2)
        if len(parts) < 2 or parts[0].lower() != "bearer":
            return ANONYMOUS
        token = parts[1]
        if not token:
            return None
        return self.authenticator.authenticate_token(token)


def _authorization(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"authorization":
            text: str = value.decode("latin-1")
            return text
    return None
