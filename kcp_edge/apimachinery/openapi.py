"""The OpenAPI v3 surface of a logical cluster: the ``/openapi/v3`` index and its documents.

Why this module exists: ``kubectl create/apply/replace/edit`` (``--validate=strict``, the
default) and ``kubectl explain`` read ``/openapi/v3`` and then the document of the object's
group-version; without them those commands fail (kubernetes-wire.md sections 0.3 and 3). This
module mirrors ``k8s.io/kube-openapi/pkg/handler3``:

* the index is ``{"paths": {"<gv path>": {"serverRelativeURL": "/openapi/v3/<gv path>?hash=H"}}}``
  where ``H`` is the upper-case hex SHA-512 of the document's bytes (``computeETag``), keys
  sorted as Go's ``json.Marshal`` writes a map;
* a document requested with the current ``?hash=`` is immutable: ``Cache-Control: public,
  immutable``, ``Expires`` a year ahead, ``Vary: Accept``; another hash gets a 301 to the
  current URL; no hash gets the ``Cache-Control: no-cache, private`` that the apiserver's
  ``WithCacheControl`` filter puts on every answer that sets none; ``ETag`` is the quoted hash
  and a matching ``If-None-Match`` gets 304 (``http.ServeContent``); only JSON is written, so a
  request that accepts neither JSON nor a wildcard gets 406.

Each workspace publishes only what it serves: a group-version document keeps the paths of the
served resources (and of their served subresources) and the ``components.schemas`` reachable
from them, so ``pods`` never shows up in core/v1 of a workspace without pods. A filtered document
is built once per distinct set of served resources of its group-version and kept as bytes with
its hash; the cache key is that set, never the workspace, so 10,000 workspaces serving the same
kinds share one copy. The raw documents come from the caller (the registry loads the bundled
files once); nothing here does I/O.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from typing import Any, NamedTuple, Protocol

import orjson

JSON = "application/json"
NO_CACHE = "no-cache, private"
_CACHE_SIZE = 256


class OpenAPIError(ValueError):
    """An OpenAPI request the apiserver answers with an error ``Status``."""

    code = 500
    reason = "InternalError"


class DocumentNotFoundError(OpenAPIError):
    """No such group-version document in this logical cluster (404)."""

    code = 404
    reason = "NotFound"

    def __init__(self) -> None:
        super().__init__("the server could not find the requested resource")


class ServedResource(Protocol):
    """What filtering needs of a resource; ``kcp_edge.registry.kinds.ResourceKind`` fits."""

    @property
    def group(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def resource(self) -> str: ...
    @property
    def subresources(self) -> Sequence[str]: ...


class OpenAPIDocument(NamedTuple):
    key: str
    """``api/v1``, ``apis/<group>/<version>``, ``apis``: the path after ``/openapi/v3/``."""
    body: bytes
    hash: str
    """Upper-case hex SHA-512 of ``body``: the ``?hash=`` of its URL and its ETag."""

    @property
    def server_relative_url(self) -> str:
        return f"/openapi/v3/{self.key}?hash={self.hash}"


class OpenAPIResponse(NamedTuple):
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


def document_key(*, group: str, version: str) -> str:
    """The index key (and URL path after ``/openapi/v3/``) of a group-version."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def content_hash(body: bytes) -> str:
    return hashlib.sha512(body).hexdigest().upper()


def make_document(*, key: str, document: Mapping[str, Any]) -> OpenAPIDocument:
    """Serialise a document (keys sorted, no whitespace) with its hash."""
    body = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return OpenAPIDocument(key, body, content_hash(body))


# -- filtering -------------------------------------------------------------------------------


def path_resource(*, prefix: str, path: str) -> tuple[str, str] | None:
    """(resource, subresource or "") a path of a group-version document is about.

    ``None`` for the group-version's own path (``<prefix>/``, its APIResourceList). Handles
    ``watch/`` paths and ``namespaces/{namespace}/`` (not ``namespaces/{name}``, the namespace
    object itself).
    """
    rest = path[len(prefix) :].strip("/")
    if not rest:
        return None
    parts = rest.split("/")
    if parts[0] == "watch":
        parts = parts[1:]
    if len(parts) >= 3 and parts[0] == "namespaces" and parts[1] == "{namespace}":
        parts = parts[2:]
    return parts[0], (parts[2] if len(parts) >= 3 else "")


def reachable_schemas(*, value: Any, schemas: Mapping[str, Any]) -> set[str]:
    """Names of the ``#/components/schemas/`` entries reachable from ``value``."""
    seen: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, sub in item.items():
                if key == "$ref" and isinstance(sub, str):
                    name = sub.rsplit("/", 1)[-1]
                    if name not in seen and name in schemas:
                        seen.add(name)
                        stack.append(schemas[name])
                else:
                    stack.append(sub)
        elif isinstance(item, list):
            stack.extend(item)
    return seen


def filter_document(
    *,
    document: Mapping[str, Any],
    prefix: str,
    served: Mapping[str, Iterable[str]],
) -> dict[str, Any]:
    """A group-version document restricted to ``served`` (resource -> served subresources).

    ``prefix`` is ``/api/v1`` or ``/apis/<group>/<version>``. Paths of other resources and of
    unserved subresources go; so do the schemas only they reached.
    """
    subresources = {resource: set(subs) for resource, subs in served.items()}
    paths = {}
    for path, item in document.get("paths", {}).items():
        about = path_resource(prefix=prefix, path=path)
        if about is not None:
            resource, sub = about
            if resource not in subresources or (sub and sub not in subresources[resource]):
                continue
        paths[path] = item
    components = dict(document.get("components", {}))
    schemas = components.get("schemas", {})
    keep = reachable_schemas(value=paths, schemas=schemas)
    components["schemas"] = {name: schema for name, schema in schemas.items() if name in keep}
    return {**document, "components": components, "paths": paths}


# -- the per-cluster surface -----------------------------------------------------------------


_Signature = tuple[str, frozenset[tuple[str, frozenset[str]]]]
"""A cache key: document key and the served (resource, subresources) of its group-version."""


class OpenAPIDocuments:
    """The bundled documents, filtered per set of served resources and memoised as bytes."""

    def __init__(self, *, documents: Mapping[str, Mapping[str, Any]]) -> None:
        """``documents``: index key (``api/v1``, ``apis/apps/v1``, ``apis``) -> raw v3 JSON.

        Keys that are not group-versions (``apis``) are served as they are, to every cluster.
        A group-version document is only read from the mapping when first needed, so a lazy
        mapping keeps unserved documents unparsed.
        """
        self._raw = documents
        self._lock = threading.Lock()
        self._cache: OrderedDict[_Signature, OpenAPIDocument] = OrderedDict()
        self._static = {
            key: make_document(key=key, document=documents[key])
            for key in documents
            if _is_static(key)
        }

    def document(self, *, key: str, kinds: Iterable[ServedResource]) -> OpenAPIDocument:
        """The document at ``/openapi/v3/<key>`` for a cluster serving ``kinds``."""
        if key in self._static:
            return self._static[key]
        signature = frozenset(
            (k.resource, frozenset(k.subresources))
            for k in kinds
            if document_key(group=k.group, version=k.version) == key
        )
        if not signature or key not in self._raw:
            raise DocumentNotFoundError
        cache_key = (key, signature)
        with self._lock:
            cached = self._cache.get(cache_key)
            if cached is not None:
                self._cache.move_to_end(cache_key)
                return cached
        raw = self._raw[key]
        built = make_document(
            key=key,
            document=filter_document(document=raw, prefix=_prefix_of(key), served=dict(signature)),
        )
        with self._lock:
            self._cache[cache_key] = built
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return built

    def documents(self, *, kinds: Iterable[ServedResource]) -> list[OpenAPIDocument]:
        """Every document a cluster serving ``kinds`` publishes, in key order."""
        kinds = tuple(kinds)
        keys = {document_key(group=k.group, version=k.version) for k in kinds}
        served = [self.document(key=key, kinds=kinds) for key in keys if key in self._raw]
        return sorted([*served, *self._static.values()], key=lambda d: d.key)

    def index(
        self, *, kinds: Iterable[ServedResource], extra: Iterable[OpenAPIDocument] = ()
    ) -> bytes:
        """The ``/openapi/v3`` body; ``extra``: documents built elsewhere (CRDs)."""
        return index_body([*self.documents(kinds=kinds), *extra])


def _is_static(key: str) -> bool:
    parts = key.split("/")
    return not ((parts[0] == "api" and len(parts) == 2) or (parts[0] == "apis" and len(parts) == 3))


def _prefix_of(key: str) -> str:
    return "/" + key


def index_body(documents: Iterable[OpenAPIDocument]) -> bytes:
    """``{"paths": {key: {"serverRelativeURL": ...}}}`` with keys sorted."""
    paths = {d.key: {"serverRelativeURL": d.server_relative_url} for d in documents}
    return orjson.dumps({"paths": paths}, option=orjson.OPT_SORT_KEYS)


# -- serving rules ---------------------------------------------------------------------------


def serve_index(body: bytes, *, if_none_match: str | None) -> OpenAPIResponse:
    """``GET /openapi/v3``: JSON, quoted-hash ETag, revalidated on every use."""
    etag = f'"{content_hash(body)}"'
    headers = (("Content-Type", JSON), ("Etag", etag), ("Cache-Control", NO_CACHE))
    return _conditional(headers, body, etag, if_none_match)


def serve_document(
    document: OpenAPIDocument,
    *,
    requested_hash: str | None,
    accept: str | None,
    if_none_match: str | None,
    now: float,
    prefix: str = "",
) -> OpenAPIResponse:
    """``GET /openapi/v3/<key>[?hash=H]`` as handler3 answers it.

    ``now`` is the request time (epoch seconds, for ``Expires``); ``prefix`` is the client's
    path prefix (``/clusters/root:org``) put in front of a redirect's ``Location``.
    """
    if not _accepts_json(accept or "*/*"):
        return OpenAPIResponse(406, (("Vary", "Accept"), ("Cache-Control", NO_CACHE)), b"")
    etag = f'"{document.hash}"'
    headers: list[tuple[str, str]] = [("Vary", "Accept"), ("Content-Type", JSON), ("Etag", etag)]
    if requested_hash:
        if requested_hash != document.hash:
            headers += [("Location", prefix + document.server_relative_url)]
            headers += [("Cache-Control", NO_CACHE)]
            return OpenAPIResponse(301, tuple(headers), b"")
        headers += [("Cache-Control", "public, immutable"), ("Expires", _a_year_after(now))]
    else:
        headers += [("Cache-Control", NO_CACHE)]
    return _conditional(tuple(headers), document.body, etag, if_none_match)


def _conditional(
    headers: tuple[tuple[str, str], ...], body: bytes, etag: str, if_none_match: str | None
) -> OpenAPIResponse:
    """200, or 304 without body and Content-Type when ``If-None-Match`` names the ETag."""
    if if_none_match and _etag_matches(if_none_match, etag):
        kept = tuple((name, value) for name, value in headers if name != "Content-Type")
        return OpenAPIResponse(304, kept, b"")
    return OpenAPIResponse(200, headers, body)


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison over a list of entity tags, or ``*`` (RFC 9110, ``checkIfNoneMatch``)."""
    for candidate in if_none_match.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def _accepts_json(accept: str) -> bool:
    for clause in accept.split(","):
        media_range = clause.split(";", 1)[0].strip()
        kind, _, subtype = media_range.partition("/")
        if (kind, subtype) in (("application", "json"), ("application", "*"), ("*", "*")):
            return True
        if media_range == "*":
            return True
    return False


def _a_year_after(now: float) -> str:
    """``time.Now().AddDate(1, 0, 0)`` as an HTTP date (Feb 29 rolls over to Mar 1, as Go)."""
    moment = datetime.fromtimestamp(now, tz=timezone.utc)
    try:
        later = moment.replace(year=moment.year + 1)
    except ValueError:
        later = moment.replace(year=moment.year + 1, day=28) + timedelta(days=1)
    return format_datetime(later, usegmt=True)
