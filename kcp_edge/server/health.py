"""``/healthz``, ``/livez`` and ``/readyz``, also under ``/clusters/<name>/``.

Why this module exists: process supervisors (systemd, Kubernetes probes, load balancers) and our
own tests need to know when the server is alive and when it can answer API requests. These paths
bypass authentication, as in kcp (``--authorization-always-allow-paths``). ``/readyz`` answers
``ok`` only between application start-up (the store is open) and shutdown; the other two answer
``ok`` whenever the process serves HTTP at all.
"""

from __future__ import annotations

import re

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

CHECKS = ("healthz", "livez", "readyz")

_HEALTH_PATH = re.compile(r"^(/clusters/[^/]+)?/(healthz|livez|readyz)/?$")


def is_health_path(path: str) -> bool:
    """True for the paths served here (they skip authentication)."""
    return _HEALTH_PATH.match(path) is not None


class Health:
    """The health endpoints and the readiness flag they report."""

    def __init__(self) -> None:
        self.ready = False

    async def alive(self, _request: Request) -> Response:
        return PlainTextResponse("ok")

    async def readyz(self, _request: Request) -> Response:
        if self.ready:
            return PlainTextResponse("ok")
        return PlainTextResponse("readyz check failed: not ready\n", status_code=503)

    def routes(self) -> list[BaseRoute]:
        routes: list[BaseRoute] = []
        for prefix in ("", "/clusters/{cluster}"):
            routes.append(Route(f"{prefix}/healthz", self.alive, methods=["GET"]))
            routes.append(Route(f"{prefix}/livez", self.alive, methods=["GET"]))
            routes.append(Route(f"{prefix}/readyz", self.readyz, methods=["GET"]))
        return routes
