"""From a request's method, path and query to who-what-where: cluster, verb, resource, name.

Why this module exists: every later decision (authorization, routing to a handler, discovery)
starts from the same parse of the URL, done once. It mirrors
``k8s.io/apiserver/pkg/endpoints/request/requestinfo.go`` (API prefixes, the ``namespaces``
segment, namespace subresources, verbs from methods) and kcp's ``WithClusterScope`` filter
(``/clusters/<logical-cluster>/...``; no prefix means ``root``; ``*`` is the cross-workspace view).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from kcp_edge.apimachinery.errors import StatusError, bad_request

ROOT_CLUSTER = "root"
WILDCARD_CLUSTER = "*"
_CLUSTER_NAME = re.compile(r"^([a-z]([a-z0-9-]{0,61}[a-z0-9])?:)*[a-z]([a-z0-9-]{0,61}[a-z0-9])?$")
_NAMESPACE_SUBRESOURCES = frozenset({"status", "finalize"})


@dataclass(frozen=True, kw_only=True)
class RequestInfo:
    """A parsed request. ``is_resource`` False means a non-resource path (``/version``...)."""

    cluster: str
    path: str
    """The path with the ``/clusters/<name>`` prefix removed."""
    verb: str
    is_resource: bool = False
    api_prefix: str = ""
    group: str = ""
    version: str = ""
    namespace: str = ""
    resource: str = ""
    name: str = ""
    subresource: str = ""
    parts: tuple[str, ...] = ()


def split_cluster(path: str) -> tuple[str, str]:
    """(logical cluster, rest of the path) as kcp's ``WithClusterScope`` does."""
    if not path.startswith("/clusters/"):
        return ROOT_CLUSTER, path
    rest = path[len("/clusters/") :]
    cluster, slash, tail = rest.partition("/")
    if not slash:
        raise bad_request(f"unable to parse cluster: no `/` found in path {path}")
    if cluster != WILDCARD_CLUSTER and not _CLUSTER_NAME.match(cluster):
        raise StatusError(
            code=400,
            reason="BadRequest",
            message=f'invalid cluster: "{cluster}" does not match the regex',
        )
    return cluster, "/" + tail


def _verb(method: str, *, has_name: bool, watch: bool) -> str:
    if method in ("GET", "HEAD"):
        if watch:
            return "watch"
        return "get" if has_name else "list"
    if method == "POST":
        return "create"
    if method == "PUT":
        return "update"
    if method == "PATCH":
        return "patch"
    if method == "DELETE":
        return "delete" if has_name else "deletecollection"
    return method.lower()


def parse(method: str, raw_path: str, query: dict[str, str]) -> RequestInfo:
    """Parse one request; the query as a flat dict of its last values."""
    cluster, path = split_cluster(raw_path)
    segments = [s for s in path.split("/") if s]
    nonresource = RequestInfo(cluster=cluster, path=path, verb=method.lower())
    if not segments or segments[0] not in ("api", "apis"):
        return nonresource
    if segments[0] == "api":
        group, rest = "", segments[1:]
    else:
        if len(segments) < 2:
            return nonresource
        group, rest = segments[1], segments[2:]
    if not rest:  # /api or /apis/<group>: discovery
        return RequestInfo(
            cluster=cluster, path=path, verb=method.lower(), api_prefix=segments[0], group=group
        )
    version, parts = rest[0], rest[1:]
    if not parts:
        return RequestInfo(
            cluster=cluster,
            path=path,
            verb=method.lower(),
            api_prefix=segments[0],
            group=group,
            version=version,
        )
    namespace = ""
    if parts[0] == "namespaces" and len(parts) >= 2:
        namespace = parts[1]
        if len(parts) >= 3 and not (len(parts) == 3 and parts[2] in _NAMESPACE_SUBRESOURCES):
            parts = parts[2:]
    watch = query.get("watch", "").lower() in ("true", "1")
    resource = parts[0]
    name = parts[1] if len(parts) >= 2 else ""
    subresource = parts[2] if len(parts) >= 3 else ""
    if resource == "namespaces" and name:
        namespace = ""  # a namespace object is cluster-scoped
    return RequestInfo(
        cluster=cluster,
        path=path,
        verb=_verb(method, has_name=bool(name), watch=watch),
        is_resource=True,
        api_prefix=segments[0],
        group=group,
        version=version,
        namespace=namespace,
        resource=resource,
        name=name,
        subresource=subresource,
        parts=tuple(parts),
    )
