"""Which representation a client asked for: plain JSON or a server-side printed Table.

Why this module exists: ``kubectl get`` asks for ``application/json;as=Table;v=v1;g=meta.k8s.io``
first and falls back to the plain list (and then prints only NAME and AGE). The apiserver picks
the first Accept clause it can serve (``k8s.io/apiserver/pkg/endpoints/handlers/negotiation``);
the answer's Content-Type names the Table it sent.
"""

from __future__ import annotations

from starlette.requests import Request

TABLE_VERSIONS = ("v1", "v1beta1")


def table_version(request: Request) -> str | None:
    """ "v1" or "v1beta1" if the first servable Accept clause is a Table; else None (JSON)."""
    accept = request.headers.get("accept", "")
    for clause in accept.split(","):
        media, *params = (part.strip() for part in clause.split(";"))
        values = dict(p.split("=", 1) for p in params if "=" in p)
        if media not in ("application/json", "*/*", "application/*"):
            continue
        if values.get("as") == "Table" and values.get("g") == "meta.k8s.io":
            if values.get("v") in TABLE_VERSIONS:
                return values["v"]
            continue
        if "as" in values:
            continue  # another transformation we do not serve (PartialObjectMetadata...)
        return None
    return None


def table_content_type(version: str) -> str:
    return f"application/json;as=Table;v={version};g=meta.k8s.io"
