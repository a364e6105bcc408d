"""Authentication and authorization: who is calling, and may they do this.

Why this package exists: every way a caller proves who it is (the admin token, a token file,
service-account tokens, client certificates) ends in the same answer, a `UserInfo`, so the
server checks identities in one way whatever the credential was. This package never imports
starlette or uvicorn: the HTTP side lives in ``kcp_edge.server.authn``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class UserInfo:
    """An authenticated (or anonymous) caller, as Kubernetes' ``user.Info`` describes one."""

    name: str
    groups: tuple[str, ...] = ()


ANONYMOUS = UserInfo(name="system:anonymous", groups=("system:unauthenticated",))
"""Who a request without credentials is."""


class TokenAuthenticator(Protocol):
    """Turns a bearer token into a user; None means the token is not valid."""

    def authenticate_token(self, token: str) -> UserInfo | None: ...


__all__ = ["ANONYMOUS", "TokenAuthenticator", "UserInfo"]
