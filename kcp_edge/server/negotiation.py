"""Which representation a client asked for: the object, a Table, or only its metadata.

Why this module exists: ``kubectl get`` asks for ``application/json;as=Table;v=v1;g=meta.k8s.io``
first and falls back to the plain list (and then prints only NAME and AGE); metadata-only
clients (controller-runtime's metadata informers, garbage collectors) ask for
``as=PartialObjectMetadata`` / ``PartialObjectMetadataList``. The apiserver serves the first
Accept clause it can (``k8s.io/apiserver/pkg/endpoints/handlers/negotiation``); the answer's
Content-Type names the transformation it applied.
"""

from __future__ import annotations

from typing import NamedTuple

from starlette.requests import Request

VERSIONS = ("v1", "v1beta1")
TABLE = "Table"
PARTIAL = "PartialObjectMetadata"
_AS = {"Table": TABLE, "PartialObjectMetadata": PARTIAL, "PartialObjectMetadataList": PARTIAL}


class Representation(NamedTuple):
    kind: str
    """`TABLE` or `PARTIAL`."""
    version: str
    """meta.k8s.io version: v1 or v1beta1."""


def representation(request: Request) -> Representation | None:
    """The transformation of the first servable Accept clause; None for the plain object."""
    accept = request.headers.get("accept", "")
    for clause in accept.split(","):
        media, *params = (part.strip() for part in clause.split(";"))
        values = dict(p.split("=", 1) for p in params if "=" in p)
        if media not in ("application/json", "*/*", "application/*"):
            continue
        wanted = values.get("as")
        if wanted is None:
            return None
        if wanted in _AS and values.get("g") == "meta.k8s.io" and values.get("v") in VERSIONS:
            return Representation(_AS[wanted], values["v"])
    return None


def content_type(found: Representation, *, listing: bool) -> str:
    name = found.kind
    if name == PARTIAL and listing:
        name = "PartialObjectMetadataList"
    return f"application/json;as={name};v={found.version};g=meta.k8s.io"
