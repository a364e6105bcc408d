"""Authentication middleware: who is making this request.

Why this module exists: every request must carry a known identity before any handler runs, and a
wrong credential must fail loudly (401) rather than quietly fall back to anonymous, as the
Kubernetes apiserver does. This module only gathers what the request carries (the TLS peer's
certificate chain from the ASGI ``tls`` extension, ``Authorization: Bearer <token>``, the
client's address, the logical cluster of the path) and turns the answer of the union
authenticator (``auth/union.py``: order, rate limit, what counts as a failure) into HTTP: 401, or
429 with ``Retry-After`` for a client that failed too often; a request without credentials is
anonymous. As kube-apiserver's ``--service-account-lookup``, a service-account token only
counts while its account exists with the uid in the token (deleted, or deleted and made again:
401). Health paths skip authentication. The identity is left in ``scope["user"]`` and, for
a service account, its home workspace in ``scope["user_cluster"]``. Credentials never reach a
log line or an error message.
"""

from __future__ import annotations

import logging
import ssl
from collections.abc import Callable, Sequence

from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from kcp_edge.apimachinery.errors import StatusError
from kcp_edge.auth import ANONYMOUS
from kcp_edge.auth.serviceaccounts import SOURCE as SERVICE_ACCOUNT
from kcp_edge.auth.serviceaccounts import USER_PREFIX
from kcp_edge.auth.union import Authenticated, Credentials, Refused, UnionAuthenticator
from kcp_edge.server.health import is_health_path
from kcp_edge.server.requestinfo import ROOT_CLUSTER, split_cluster
from kcp_edge.server.status import status_response, unauthorized

log = logging.getLogger(__name__)

TOO_MANY_FAILURES_MESSAGE = "Too many failed authentication attempts, please try again later."

AccountUid = Callable[[str, str, str], str | None]
"""The uid of the service account (cluster, namespace, name); None if there is none."""


class AuthenticationMiddleware:
    """Pure ASGI middleware; answers 401 (or 429) with a ``Status`` for refused credentials."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        authenticator: UnionAuthenticator,
        account_uid: AccountUid | None = None,
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.account_uid = account_uid

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or is_health_path(scope["path"]):
            await self.app(scope, receive, send)
            return
        found = self.authenticator.authenticate_request(_credentials(scope))
        if isinstance(found, Authenticated) and not self._account_exists(found):
            found = Refused(f"authentication refused: {found.user.name} no longer exists")
        if isinstance(found, Refused):
            log.info("%s", found.why)
            await _refusal(found)(scope, receive, send)
            return
        if found is None:
            found = Authenticated(user=ANONYMOUS, source="anonymous")
        scope["user"] = found.user
        scope["user_cluster"] = found.cluster
        await self.app(scope, receive, send)

    def _account_exists(self, found: Authenticated) -> bool:
        if found.source != SERVICE_ACCOUNT or self.account_uid is None or found.cluster is None:
            return True
        namespace, _, name = found.user.name.removeprefix(USER_PREFIX).partition(":")
        return self.account_uid(found.cluster, namespace, name) == found.uid


def _refusal(refused: Refused) -> Response:
    if refused.retry_after is None:
        return unauthorized()
    return status_response(
        code=429,
        reason="TooManyRequests",
        message=TOO_MANY_FAILURES_MESSAGE,
        details={"retryAfterSeconds": refused.retry_after},
        headers={"Retry-After": str(refused.retry_after)},
    )


def _credentials(scope: Scope) -> Credentials:
    try:
        cluster, _ = split_cluster(scope["path"])
    except StatusError:
        cluster = ROOT_CLUSTER  # the handler answers the malformed path
    client = scope.get("client")
    return Credentials(
        client=client[0] if client else "",
        cluster=cluster,
        token=_bearer_token(scope),
        certificate_chain=_certificate_chain(scope),
    )


def _bearer_token(scope: Scope) -> str | None:
    """The token of ``Authorization: Bearer <token>``, as the apiserver reads it.

    "Bearer" in any case, then the token up to the next space; another scheme or an empty
    token is no credential at all (anonymous), not a wrong one.
    """
    for name, value in scope["headers"]:
        if name == b"authorization":
            header: str = value.decode("latin-1")
            parts = header.strip().split(" ", 2)
            if len(parts) < 2 or parts[0].lower() != "bearer" or not parts[1]:
                return None
            return parts[1]
    return None


def _certificate_chain(scope: Scope) -> Sequence[bytes]:
    tls = scope.get("extensions", {}).get("tls")
    if not isinstance(tls, dict):
        return ()
    return tuple(ssl.PEM_cert_to_DER_cert(pem) for pem in tls.get("client_cert_chain", ()))
