"""The ASGI application: routes, middleware and lifespan in one declarative place.

Why this module exists: the CLI (and tests) need one call that turns an open store and an
authenticator into a servable application, without knowing how requests are routed. Requests
pass: error handling (starlette, outermost) -> authentication -> routes; every error leaves as a
Kubernetes ``Status`` (see ``status.py``). The store is opened and closed by the caller; the
lifespan only tells ``/readyz`` when the application is up.
"""

from __future__ import annotations

from types import TracebackType

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from kcp_edge.auth import TokenAuthenticator
from kcp_edge.server import version
from kcp_edge.server.authn import AuthenticationMiddleware
from kcp_edge.server.health import Health
from kcp_edge.server.status import exception_handlers
from kcp_edge.storage.interface import Store


class _Lifespan:
    """Ready between start-up and shutdown of the application."""

    def __init__(self, app: Starlette) -> None:
        self.health: Health = app.state.health

    async def __aenter__(self) -> None:
        self.health.ready = True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.health.ready = False


def build_app(*, store: Store, authenticator: TokenAuthenticator) -> Starlette:
    """The kcp-edge application over an open ``store``."""
    health = Health()
    routes: list[BaseRoute] = [*health.routes(), *version.ROUTES]
    app = Starlette(
        routes=routes,
        middleware=[Middleware(AuthenticationMiddleware, authenticator=authenticator)],
        exception_handlers=exception_handlers(),
        lifespan=_Lifespan,
    )
    app.state.health = health
    app.state.store = store
    return app
