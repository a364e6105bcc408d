"""Authorization of every request: the wildcard, entering the workspace, then its RBAC.

Why this module exists: as kcp's authorizer chain does (``kcp-behaviour.md`` §6), a request is
allowed only if the caller may enter the workspace (``access`` or ``admin`` on
``workspaces/content`` named after it, granted in the parent workspace; root is open to every
authenticated user) and the workspace's own RBAC allows the verb. ``system:masters`` may do
everything, and only it may use the ``*`` cross-workspace view. The RBAC rules are pure
(``auth/rbac.py``); this module keeps one indexed `Authorizer` per workspace, built on first use
from the workspace's Roles, ClusterRoles and bindings plus the default policy (cluster-admin,
admin, edit, view, discovery; never stored per workspace, so an empty workspace costs nothing),
and drops it when a watch sees that workspace's RBAC objects change.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson

from kcp_edge.apimachinery.errors import StatusError
from kcp_edge.auth import UserInfo, rbac
from kcp_edge.auth.rbacdefaults import DEFAULT_CLUSTER_ROLE_BINDINGS, DEFAULT_CLUSTER_ROLES
from kcp_edge.registry import keys
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.store import ObjectStore
from kcp_edge.server.requestinfo import ROOT_CLUSTER, WILDCARD_CLUSTER, RequestInfo
from kcp_edge.storage import StorageError

log = logging.getLogger(__name__)

MASTERS = "system:masters"
UNAUTHENTICATED = "system:unauthenticated"
RBAC_GROUP = "rbac.authorization.k8s.io"
_RBAC_RESOURCES = ("roles", "clusterroles", "rolebindings", "clusterrolebindings")
RETRY_SECONDS = 1.0

_WORKSPACE_ADMINS: dict[str, Any] = {
    "apiVersion": "rbac.authorization.k8s.io/v1",
    "kind": "ClusterRoleBinding",
    "metadata": {"name": "system:kcp:clusterworkspace:admin"},
    "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": "cluster-admin"},
    "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": rbac.WORKSPACE_ADMIN_GROUP}],
}
"""kcp's bootstrap binding: whoever may ``admin`` a workspace is cluster-admin inside it."""


def attributes(user: UserInfo, groups: tuple[str, ...], info: RequestInfo, method: str) -> Any:
    if not info.is_resource:
        verb = {"GET": "get", "HEAD": "get", "POST": "post", "PUT": "put"}.get(method, "")
        verb = verb or method.lower()
        return rbac.Attributes.for_path(user.name, groups, info.path or "/", verb)
    return rbac.Attributes(
        user.name,
        groups,
        info.verb,
        info.group,
        info.resource,
        info.subresource,
        name=info.name,
        namespace=info.namespace,
    )


class Authorization:
    """Decides every request; one watch task keeps the per-workspace RBAC indexes fresh."""

    def __init__(self, *, catalog: Catalog, objects: ObjectStore) -> None:
        self._catalog = catalog
        self._objects = objects
        self._cache: dict[str, rbac.Authorizer] = {}
        self._kinds = [
            kind
            for resource in _RBAC_RESOURCES
            if (kind := catalog.lookup(ROOT_CLUSTER, RBAC_GROUP, "v1", resource)) is not None
        ]

    def authorizer(self, cluster: str) -> rbac.Authorizer:
        found = self._cache.get(cluster)
        if found is None:
            found = self._build(cluster)
            self._cache[cluster] = found
        return found

    def _build(self, cluster: str) -> rbac.Authorizer:
        stored: dict[str, list[dict[str, Any]]] = {}
        for kind in self._kinds:
            page = self._objects.list(kind, cluster, "")
            stored[kind.resource] = [orjson.loads(raw) for raw in page.items]
        local_roles = {r["metadata"]["name"] for r in stored["clusterroles"]}
        defaults = [r for r in DEFAULT_CLUSTER_ROLES if r["metadata"]["name"] not in local_roles]
        return rbac.Authorizer(
            roles=stored["roles"],
            cluster_roles=[*defaults, *stored["clusterroles"]],
            role_bindings=stored["rolebindings"],
            cluster_role_bindings=[
                *DEFAULT_CLUSTER_ROLE_BINDINGS,
                _WORKSPACE_ADMINS,
                *stored["clusterrolebindings"],
            ],
        )

    def check(
        self, user: UserInfo, info: RequestInfo, method: str, *, home: str | None = None
    ) -> tuple[str, ...]:
        """Raise the apiserver's 403 unless ``user`` may make this request; the caller's groups
        inside the workspace (entering it may add kcp's access and admin groups). ``home``: a
        service account's own workspace, which it may always enter (and no other)."""
        groups = tuple(user.groups)
        attrs = attributes(user, groups, info, method)
        if info.cluster != WILDCARD_CLUSTER and self._catalog.cluster_type(info.cluster) is None:
            # No workspace defines this cluster: denied exactly as a closed one is, so the
            # answer does not tell which workspaces exist (even to system:masters).
            raise rbac.forbidden_error(attrs, rbac.workspace_denied_reason(info.cluster))
        if MASTERS in groups:
            return groups
        if info.cluster == WILDCARD_CLUSTER:
            raise rbac.forbidden_error(
                attrs, 'the "*" logical cluster is only for privileged users'
            )
        extra = () if home == info.cluster else self._enter(user, groups, info, attrs)
        if extra:
            groups = (*groups, *extra)
            attrs = attributes(user, groups, info, method)
        allowed, _ = self.authorizer(info.cluster).allowed(attrs)
        if not allowed:
            raise rbac.forbidden_error(attrs)
        return groups

    def decide(self, cluster: str, attrs: rbac.Attributes) -> tuple[bool, str]:
        """A review's answer: may ``attrs`` be done in ``cluster`` (already entered)?"""
        if MASTERS in attrs.groups:
            return True, ""
        return self.authorizer(cluster).allowed(attrs)

    def _enter(
        self, user: UserInfo, groups: tuple[str, ...], info: RequestInfo, attrs: Any
    ) -> tuple[str, ...]:
        """The groups entering the workspace adds; raises kcp's denial if it is closed."""
        if info.cluster == ROOT_CLUSTER:
            if UNAUTHENTICATED not in groups:
                return ()
        else:
            parent, _, name = info.cluster.rpartition(":")
            access = rbac.workspace_access(self.authorizer(parent), user.name, groups, name)
            if access.access:
                return access.groups
        raise rbac.forbidden_error(attrs, rbac.workspace_denied_reason(info.cluster))

    # -- keeping the indexes fresh ---------------------------------------------------------------

    async def run(self) -> None:
        while True:
            # Watch from here, then forget every index: nothing changed between the two is
            # missed (an index built meanwhile is dropped by the watch's events).
            revision = self._objects.kv.current_revision
            self._cache.clear()
            tasks = [asyncio.create_task(self._follow(kind, revision)) for kind in self._kinds]
            try:
                await asyncio.gather(*tasks)
            except (StatusError, StorageError):
                log.exception("authorization: RBAC watch failed; starting over")
            finally:  # one failed: stop the others before starting over
                for task in tasks:
                    task.cancel()
            await asyncio.sleep(RETRY_SECONDS)

    async def _follow(self, kind: Any, revision: int) -> None:
        watch = self._objects.watch(kind, WILDCARD_CLUSTER, "", revision)
        try:
            async for event in watch:
                self._cache.pop(keys.split_key(event.kv.key)[0], None)
        finally:
            watch.close()
