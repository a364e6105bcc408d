"""The ASGI application: routes, middleware and lifespan in one declarative place.

Why this module exists: the CLI (and tests) need one call that turns an open store and an
authenticator into a servable application, without knowing how requests are routed. Requests
pass: error handling (starlette, outermost) -> authentication -> routes; every error leaves as a
Kubernetes ``Status`` (see ``status.py``). The store is opened and closed by the caller; the
lifespan only tells ``/readyz`` when the application is up.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from types import TracebackType
from typing import Protocol

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute

from kcp_edge.apimachinery.errors import StatusError
from kcp_edge.auth.serviceaccounts import TokenIssuer
from kcp_edge.auth.union import UnionAuthenticator
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.store import ObjectStore
from kcp_edge.server import version
from kcp_edge.server.api import API
from kcp_edge.server.authn import AuthenticationMiddleware
from kcp_edge.server.authz import Authorization
from kcp_edge.server.discovery import Discovery
from kcp_edge.server.health import Health
from kcp_edge.server.resources import ResourceHandler
from kcp_edge.server.status import exception_handlers
from kcp_edge.storage.interface import Store


class Controller(Protocol):
    """A background loop the server starts with the application and cancels on shutdown."""

    async def run(self) -> None: ...


class _Lifespan:
    """Ready between start-up and shutdown of the application."""

    def __init__(self, app: Starlette) -> None:
        self.health: Health = app.state.health
        self.controllers: list[Controller] = app.state.controllers
        self.startup: list[Callable[[], Awaitable[None]]] = app.state.startup
        self.tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> None:
        for step in self.startup:
            await step()
        for controller in self.controllers:
            self.tasks.append(asyncio.create_task(controller.run()))
        self.health.ready = True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.health.ready = False
        for task in self.tasks:
            task.cancel()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _account_uid(catalog: Catalog, objects: ObjectStore) -> Callable[[str, str, str], str | None]:
    """The uid of a stored service account, for the authentication middleware."""

    def uid(cluster: str, namespace: str, name: str) -> str | None:
        kind = catalog.lookup(cluster, "", "v1", "serviceaccounts")
        if kind is None:
            return None
        try:
            account = objects.get(kind, cluster, namespace, name)
        except StatusError:
            return None
        value = account.get("metadata", {}).get("uid")
        return value if isinstance(value, str) else None

    return uid


def build_app(
    *,
    store: Store,
    authenticator: UnionAuthenticator,
    token_issuer: TokenIssuer | None = None,
    catalog: Catalog,
    objects: ObjectStore,
    discovery: Discovery,
    controllers: Sequence[Controller] = (),
    startup: Sequence[Callable[[], Awaitable[None]]] = (),
) -> Starlette:
    """The kcp-edge application over an open ``store``.

    ``startup`` steps run in order before the server reports ready; ``controllers`` run beside
    it until shutdown.
    """
    health = Health()
    authorization = Authorization(catalog=catalog, objects=objects)
    api = API(
        resources=ResourceHandler(catalog=catalog, objects=objects),
        discovery=discovery,
        authorization=authorization,
    )
    routes: list[BaseRoute] = [*health.routes(), *version.ROUTES, *api.routes()]
    authentication = Middleware(
        AuthenticationMiddleware,
        authenticator=authenticator,
        account_uid=_account_uid(catalog, objects),
    )
    app = Starlette(
        routes=routes,
        middleware=[authentication],
        exception_handlers=exception_handlers(),
        lifespan=_Lifespan,
    )
    app.state.health = health
    app.state.store = store
    app.state.catalog = catalog
    app.state.objects = objects
    app.state.controllers = [*controllers, authorization]
    app.state.authorization = authorization
    app.state.authenticator = authenticator
    app.state.token_issuer = token_issuer
    app.state.startup = list(startup)
    return app
