"""``/version`` (also under ``/clusters/<name>/``): which Kubernetes this server speaks.

Why this module exists: ``kubectl version`` prints the server's ``gitVersion``, client-go checks
version skew, and the Python client's ``VersionInfo`` model rejects a body missing any of the
nine classic fields. kcp-edge reports Kubernetes 1.35 (the API level it implements) with its own
version as build metadata: ``v1.35.0+kcp-edge-<version>``. The body never changes while the
process runs, so it is encoded once.
"""

from __future__ import annotations

import platform
import sys

import orjson
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from kcp_edge.version import BUILD_DATE, GIT_COMMIT, GIT_TREE_STATE, __version__

KUBERNETES_MAJOR = "1"
KUBERNETES_MINOR = "35"
GIT_VERSION = f"v{KUBERNETES_MAJOR}.{KUBERNETES_MINOR}.0+kcp-edge-{__version__}"

_ARCHITECTURES = {
    "x86_64": "amd64",
    "amd64": "amd64",
    "aarch64": "arm64",
    "arm64": "arm64",
    "armv7l": "arm",
    "armv6l": "arm",
    "i386": "386",
    "i686": "386",
    "ppc64le": "ppc64le",
    "s390x": "s390x",
    "riscv64": "riscv64",
}


def go_style_platform() -> str:
    """``linux/amd64`` style, as Go's GOOS/GOARCH would name this machine."""
    system = "windows" if sys.platform == "win32" else platform.system().lower() or sys.platform
    machine = platform.machine().lower()
    return f"{system}/{_ARCHITECTURES.get(machine, machine or 'unknown')}"


def version_info() -> dict[str, str]:
    """The ``version.Info`` object this server reports."""
    return {
        "major": KUBERNETES_MAJOR,
        "minor": KUBERNETES_MINOR,
        "emulationMajor": KUBERNETES_MAJOR,
        "emulationMinor": KUBERNETES_MINOR,
        "minCompatibilityMajor": KUBERNETES_MAJOR,
        "minCompatibilityMinor": str(int(KUBERNETES_MINOR) - 1),
        "gitVersion": GIT_VERSION,
        "gitCommit": GIT_COMMIT,
        "gitTreeState": GIT_TREE_STATE,
        "buildDate": BUILD_DATE,
        "goVersion": f"python{platform.python_version()}",
        "compiler": platform.python_implementation().lower(),
        "platform": go_style_platform(),
    }


_BODY = orjson.dumps(version_info(), option=orjson.OPT_INDENT_2)


async def version(_request: Request) -> Response:
    return Response(_BODY, media_type="application/json")


ROUTES: list[BaseRoute] = [
    Route("/version", version, methods=["GET"]),
    Route("/version/", version, methods=["GET"]),
    Route("/clusters/{cluster}/version", version, methods=["GET"]),
    Route("/clusters/{cluster}/version/", version, methods=["GET"]),
]
