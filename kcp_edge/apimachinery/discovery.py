"""Discovery documents of one logical cluster: legacy and aggregated, and how the form is chosen.

Why this module exists: kubectl and every client-go program learn what a server serves from
discovery before anything else (resource names, short names, categories, scope, verbs), and they
are strict about its shape (kubernetes-wire.md sections 0.5, 2 and 13):

* legacy discovery, ``k8s.io/apiserver/pkg/endpoints/discovery``: ``/api`` (``APIVersions``),
  ``/apis`` (``APIGroupList``), ``/apis/<group>`` (``APIGroup``) and ``/api/v1``,
  ``/apis/<group>/<version>`` (``APIResourceList``, subresources as ``<resource>/<sub>``);
* aggregated discovery, ``.../endpoints/discovery/aggregated``: one ``APIGroupDiscoveryList``
  for ``/api`` (the core group) and one for ``/apis`` (all other groups), in
  ``apidiscovery.k8s.io/v2`` or ``v2beta1``, with an exact Content-Type (client-go reads
  a plain ``application/json`` answer as a legacy list and finds nothing), ``ETag`` (upper-case
  hex SHA-512 of the body, quoted: ``etag.go``) and ``Cache-Control: public``;
* `negotiate`: the ``Accept`` header decides the form as ``WrapAggregatedDiscoveryToHandler``
  does: the first clause (goautoneg order: by ``q``, wildcards last) that names a media type
  the server writes *and* asks for ``g=apidiscovery.k8s.io;v=v2|v2beta1;as=APIGroupDiscoveryList``
  selects the aggregated form; clauses without those parameters never do, so the answer is the
  legacy document when no clause asks for aggregation. kcp-edge writes JSON only: a protobuf
  clause is skipped in favour of the next one. Whether any clause is acceptable at all (a 406)
  is the server's general content negotiation, not decided here.

The builders are pure: they take the served resources of one logical cluster (anything shaped
like ``kcp_edge.registry.kinds.ResourceKind``) and the group-version order (the registry's
``served_group_versions``), and return response bytes with their headers. Results are memoised
on those inputs, so all workspaces serving the same kinds share one copy of each document.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Sequence
from enum import Enum
from functools import lru_cache
from typing import Any, NamedTuple, Protocol

import orjson

JSON = "application/json"
AGGREGATED_V2 = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
AGGREGATED_V2BETA1 = "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
NO_CACHE = "no-cache, private"
"""What the apiserver's ``WithCacheControl`` filter sets on answers that set none themselves."""


class DiscoveryError(ValueError):
    """A discovery request the apiserver answers with an error ``Status``."""

    code = 500
    reason = "InternalError"


class NotFoundError(DiscoveryError):
    """A group or group-version this logical cluster does not serve (404 NotFound)."""

    code = 404
    reason = "NotFound"

    def __init__(self) -> None:
        super().__init__("the server could not find the requested resource")


class UnknownSubresourceError(DiscoveryError):
    """A served subresource this module has no discovery facts for (a programming error)."""


class ServedResource(Protocol):
    """What discovery needs of a resource; ``kcp_edge.registry.kinds.ResourceKind`` fits."""

    @property
    def group(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def resource(self) -> str: ...
    @property
    def singular(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def namespaced(self) -> bool: ...
    @property
    def verbs(self) -> Sequence[str]: ...
    @property
    def short_names(self) -> Sequence[str]: ...
    @property
    def categories(self) -> Sequence[str]: ...
    @property
    def subresources(self) -> Sequence[str]: ...
    @property
    def storage_id(self) -> int: ...


class DiscoveryForm(Enum):
    LEGACY = "legacy"
    AGGREGATED_V2 = "v2"
    AGGREGATED_V2BETA1 = "v2beta1"


class DiscoveryResponse(NamedTuple):
    """A discovery answer: body and the headers the apiserver sends with it."""

    body: bytes
    content_type: str
    etag: str
    """Quoted (``"<HEX>"``); empty for legacy documents, which carry none."""

    @property
    def headers(self) -> tuple[tuple[str, str], ...]:
        if not self.etag:
            return (("Content-Type", self.content_type), ("Cache-Control", NO_CACHE))
        return (
            ("Content-Type", self.content_type),
            ("ETag", self.etag),
            ("Vary", "Accept"),
            ("Cache-Control", "public"),
        )

    def not_modified(self, if_none_match: str | None) -> bool:
        """True when the client's ``If-None-Match`` names this body: answer 304, no body."""
        return bool(self.etag) and if_none_match == self.etag


# Subresource -> (response kind as (group, version, kind), or None for the parent's; verbs).
# From the REST storage of each subresource in k8s.io/kubernetes/pkg/registry.
_SUBRESOURCES: dict[str, tuple[tuple[str, str, str] | None, tuple[str, ...]]] = {
    "status": (None, ("get", "patch", "update")),
    "finalize": (None, ("update",)),
    "approval": (None, ("get", "patch", "update")),
    "scale": (("autoscaling", "v1", "Scale"), ("get", "patch", "update")),
    "token": (("authentication.k8s.io", "v1", "TokenRequest"), ("create",)),
}


def negotiate(accept: str | None) -> DiscoveryForm:
    """Which discovery form an ``Accept`` header asks for (see the module docstring)."""
    if not accept:
        return DiscoveryForm.LEGACY
    for media_type, subtype, params in _parse_accept(accept):
        if not _writes(media_type, subtype):
            continue
        if not ("g" in params or "v" in params or "as" in params):
            continue  # no conversion asked for: not allowed on the aggregated endpoint
        target = (params.get("g", ""), params.get("v", ""), params.get("as", ""))
        if target == ("apidiscovery.k8s.io", "v2", "APIGroupDiscoveryList"):
            return DiscoveryForm.AGGREGATED_V2
        if target == ("apidiscovery.k8s.io", "v2beta1", "APIGroupDiscoveryList"):
            return DiscoveryForm.AGGREGATED_V2BETA1
    return DiscoveryForm.LEGACY


def _writes(media_type: str, subtype: str) -> bool:
    """Whether a clause matches ``application/json``, the one media type answered."""
    if media_type == "*" and subtype == "*":
        return True
    return media_type == "application" and subtype in ("json", "*")


def _parse_accept(accept: str) -> list[tuple[str, str, dict[str, str]]]:
    """Accept clauses as goautoneg parses them: sorted by q (stable), wildcards last."""
    clauses: list[tuple[float, bool, bool, int, str, str, dict[str, str]]] = []
    for index, part in enumerate(accept.split(",")):
        media_range, *raw_params = part.strip(" ").split(";")
        kind, _, subtype = media_range.partition("/")
        kind, subtype = kind.strip(" "), subtype.strip(" ")
        if not subtype:
            if kind != "*":
                continue
            subtype = "*"
        q = 1.0
        params: dict[str, str] = {}
        for raw in raw_params:
            name, sep, value = raw.partition("=")
            if not sep:
                continue
            if name.strip(" ") == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
            else:
                params[name.strip(" ")] = value.strip(" ")
        clauses.append((-q, kind == "*", subtype == "*", index, kind, subtype, params))
    clauses.sort(key=lambda c: c[:4])
    return [(c[4], c[5], c[6]) for c in clauses]


def storage_version_hash(*, group: str, version: str, kind: str) -> str:
    """``discovery.StorageVersionHash``: base64 of the first 8 bytes of SHA-256 of ``g/v/Kind``."""
    digest = hashlib.sha256(f"{group}/{version}/{kind}".encode()).digest()
    return base64.b64encode(digest[:8]).decode()


def body_etag(body: bytes) -> str:
    """The quoted ETag the apiserver computes for a discovery (or OpenAPI) body."""
    return '"' + hashlib.sha512(body).hexdigest().upper() + '"'


def _legacy(document: dict[str, Any]) -> DiscoveryResponse:
    return DiscoveryResponse(orjson.dumps(document), JSON, "")


def _group_version(group: str, version: str) -> str:
    return f"{group}/{version}" if group else version


# -- legacy discovery ------------------------------------------------------------------------


def api_versions(*, kinds: Sequence[ServedResource], server_address: str) -> DiscoveryResponse:
    """``GET /api``: the core versions served (the Python client needs the CIDR list)."""
    versions = sorted({k.version for k in kinds if not k.group})
    return _legacy(
        {
            "kind": "APIVersions",
            "versions": versions,
            "serverAddressByClientCIDRs": [
                {"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}
            ],
        }
    )


def api_group_list(
    *, kinds: Sequence[ServedResource], order: Sequence[tuple[str, str]]
) -> DiscoveryResponse:
    """``GET /apis``: every non-core group, preferred (first) version first."""
    return _api_group_list(tuple(kinds), tuple(order))


@lru_cache(maxsize=64)
def _api_group_list(
    kinds: tuple[ServedResource, ...], order: tuple[tuple[str, str], ...]
) -> DiscoveryResponse:
    groups = [_api_group(name, versions) for name, versions in _groups(kinds, order) if name]
    return _legacy({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})


def api_group(
    *, kinds: Sequence[ServedResource], order: Sequence[tuple[str, str]], group: str
) -> DiscoveryResponse:
    """``GET /apis/<group>``: one group's versions; `NotFoundError` if not served."""
    for name, versions in _groups(tuple(kinds), tuple(order)):
        if name == group and name:
            return _legacy({"kind": "APIGroup", "apiVersion": "v1", **_api_group(name, versions)})
    raise NotFoundError


def _api_group(name: str, versions: Sequence[str]) -> dict[str, Any]:
    entries = [{"groupVersion": f"{name}/{v}", "version": v} for v in versions]
    # The Python dynamic client compares preferredVersion with the entry as whole dicts.
    return {"name": name, "versions": entries, "preferredVersion": dict(entries[0])}


def _groups(
    kinds: tuple[ServedResource, ...], order: tuple[tuple[str, str], ...]
) -> list[tuple[str, list[str]]]:
    """(group, versions) in ``order``, for the group-versions that have a served resource."""
    served = {(k.group, k.version) for k in kinds}
    groups: dict[str, list[str]] = {}
    for group, version in order:
        if (group, version) in served:
            groups.setdefault(group, []).append(version)
    return list(groups.items())


def api_resource_list(
    *, kinds: Sequence[ServedResource], group: str, version: str
) -> DiscoveryResponse:
    """``GET /api/v1`` or ``/apis/<group>/<version>``; `NotFoundError` if none served."""
    return _api_resource_list(tuple(kinds), group, version)


@lru_cache(maxsize=256)
def _api_resource_list(
    kinds: tuple[ServedResource, ...], group: str, version: str
) -> DiscoveryResponse:
    mine = [k for k in kinds if k.group == group and k.version == version]
    if not mine:
        raise NotFoundError
    resources: list[dict[str, Any]] = []
    for kind in mine:
        resources.append(_legacy_resource(kind))
        resources.extend(_legacy_subresource(kind, sub) for sub in kind.subresources)
    resources.sort(key=lambda r: str(r["name"]))
    document: dict[str, Any] = {"kind": "APIResourceList"}
    if group:
        document["apiVersion"] = "v1"  # /api/v1 is written without one, as upstream does
    document["groupVersion"] = _group_version(group, version)
    document["resources"] = resources
    return _legacy(document)


def _legacy_resource(kind: ServedResource) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": kind.resource,
        "singularName": kind.singular,
        "namespaced": kind.namespaced,
        "kind": kind.kind,
        "verbs": list(kind.verbs),
    }
    if kind.short_names:
        entry["shortNames"] = list(kind.short_names)
    if kind.categories:
        entry["categories"] = list(kind.categories)
    if kind.storage_id:
        entry["storageVersionHash"] = storage_version_hash(
            group=kind.group, version=kind.version, kind=kind.kind
        )
    return entry


def _subresource(kind: ServedResource, sub: str) -> tuple[tuple[str, str, str], tuple[str, ...]]:
    try:
        response_kind, verbs = _SUBRESOURCES[sub]
    except KeyError:
        raise UnknownSubresourceError(f"no discovery facts for subresource {sub!r}") from None
    return response_kind or (kind.group, kind.version, kind.kind), verbs


def _legacy_subresource(kind: ServedResource, sub: str) -> dict[str, Any]:
    (group, version, response_kind), verbs = _subresource(kind, sub)
    entry: dict[str, Any] = {
        "name": f"{kind.resource}/{sub}",
        "singularName": "",
        "namespaced": kind.namespaced,
    }
    if (group, version) != (kind.group, kind.version):
        entry["group"] = group
        entry["version"] = version
    entry["kind"] = response_kind
    entry["verbs"] = list(verbs)
    return entry


# -- aggregated discovery --------------------------------------------------------------------


def aggregated(
    *,
    kinds: Sequence[ServedResource],
    order: Sequence[tuple[str, str]],
    core: bool,
    form: DiscoveryForm,
) -> DiscoveryResponse:
    """The ``APIGroupDiscoveryList`` of ``/api`` (``core``) or ``/apis``, in ``form``."""
    if form is DiscoveryForm.LEGACY:
        raise ValueError("aggregated() builds the aggregated forms only")
    return _aggregated(tuple(kinds), tuple(order), core, form)


@lru_cache(maxsize=64)
def _aggregated(
    kinds: tuple[ServedResource, ...],
    order: tuple[tuple[str, str], ...],
    core: bool,
    form: DiscoveryForm,
) -> DiscoveryResponse:
    items = []
    for name, versions in _groups(kinds, order):
        if bool(name) == core:
            continue
        items.append(
            {
                "metadata": {"name": name},
                "versions": [
                    {
                        "version": version,
                        "resources": _aggregated_resources(kinds, name, version),
                        "freshness": "Current",
                    }
                    for version in versions
                ],
            }
        )
    api_version = f"apidiscovery.k8s.io/{form.value}"
    document = {"kind": "APIGroupDiscoveryList", "apiVersion": api_version, "metadata": {}}
    body = orjson.dumps({**document, "items": items})
    content_type = AGGREGATED_V2 if form is DiscoveryForm.AGGREGATED_V2 else AGGREGATED_V2BETA1
    return DiscoveryResponse(body, content_type, body_etag(body))


def _aggregated_resources(
    kinds: tuple[ServedResource, ...], group: str, version: str
) -> list[dict[str, Any]]:
    out = []
    for kind in sorted(
        (k for k in kinds if k.group == group and k.version == version), key=lambda k: k.resource
    ):
        entry: dict[str, Any] = {
            "resource": kind.resource,
            "responseKind": {"group": kind.group, "version": kind.version, "kind": kind.kind},
            "scope": "Namespaced" if kind.namespaced else "Cluster",
            "singularResource": kind.singular,
            "verbs": list(kind.verbs),
        }
        if kind.short_names:
            entry["shortNames"] = list(kind.short_names)
        if kind.categories:
            entry["categories"] = list(kind.categories)
        subresources = []
        for sub in sorted(kind.subresources):
            (sub_group, sub_version, sub_kind), verbs = _subresource(kind, sub)
            subresources.append(
                {
                    "subresource": sub,
                    "responseKind": {"group": sub_group, "version": sub_version, "kind": sub_kind},
                    "verbs": list(verbs),
                }
            )
        if subresources:
            entry["subresources"] = subresources
        out.append(entry)
    return out
