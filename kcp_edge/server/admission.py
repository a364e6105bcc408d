"""Admission of kcp's own kinds: which workspaces may be created where, and how they may change.

Why this module exists: a Workspace's rules depend on where it is written (the parent
workspace's type and its ClusterWorkspaceTypes), which no per-kind strategy knows; kcp checks
them in admission plugins (``tenancy.kcp.dev/ClusterWorkspace``, ``ClusterWorkspaceTypeExists``).
The rules are pure (``tenancy/workspaces.py``); this module gathers the context from the request
and the catalog, runs them on create and update, and resets what a client may not set on
create (the status, which the workspace controller owns; the content finalizer it needs).
Universal workspaces are labelled schedulable, and objects written in a scheduled namespace get
its ``workloads.kcp.dev/cluster`` label (kcp's namespace scheduler, reference §5.9).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request

from kcp_edge.apimachinery import errors
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.store import ObjectStore
from kcp_edge.server.requestinfo import RequestInfo
from kcp_edge.tenancy import workspaces as tenancy
from kcp_edge.tenancy.systemcrds import (
    CLUSTER_LABEL,
    SCHEDULABLE_LABEL,
    SCHEDULING_DISABLED_LABEL,
    UNLABELLED_RESOURCES,
)

Obj = dict[str, Any]
_RBAC = "rbac.authorization.k8s.io"


def _is_workspace(kind: ResourceKind) -> bool:
    return kind.group == tenancy.TENANCY_GROUP and kind.resource == tenancy.WORKSPACES


def _custom_types(
    objects: ObjectStore, catalog: Catalog, cluster: str
) -> dict[str, tenancy.ClusterWorkspaceType]:
    kind = catalog.lookup(
        cluster, tenancy.TENANCY_GROUP, "v1alpha1", tenancy.CLUSTER_WORKSPACE_TYPES
    )
    if kind is None:
        return {}
    found = {}
    for raw in objects.list(kind, cluster, "").items:
        definition = tenancy.ClusterWorkspaceType.from_object(orjson.loads(raw))
        found[definition.name] = definition
    return found


def _check(
    request: Request, objects: ObjectStore, info: RequestInfo, new: Obj, old: Obj | None
) -> dict[str, tenancy.ClusterWorkspaceType]:
    """Refuse what the rules refuse; the parent's custom workspace types, by name."""
    catalog: Catalog = request.app.state.catalog
    parent_type = catalog.cluster_type(info.cluster) or tenancy.ROOT_TYPE
    tenancy.default_workspace(new)
    custom_types = _custom_types(objects, catalog, info.cluster)
    causes = tenancy.validate_workspace(
        new, old, parent_type=parent_type, custom_types=custom_types
    )
    if causes:
        name = new.get("metadata", {}).get("name", "")
        raise errors.invalid("Workspace", name, causes, group=tenancy.TENANCY_GROUP)
    return custom_types


def _apply_type(obj: Obj, definition: tenancy.ClusterWorkspaceType | None) -> None:
    """What a custom type gives a new workspace: its labels, and its initializers (the
    workspace then waits in Initializing until every initializer has removed itself)."""
    if definition is None:
        return
    if definition.additional_workspace_labels:
        labels = obj["metadata"].setdefault("labels", {})
        labels.update(definition.additional_workspace_labels)
    if definition.initializers:
        obj["status"]["initializers"] = list(definition.initializers)


MAX_CLUSTER_PATH = 177
"""The longest workspace path: with it, a 63-character namespace and a 253-character name
still fit a storage key (``/r/<12 hex>/<path>/<namespace>/<name>``) in LMDB's 511 bytes."""


def _no_escalation(
    request: Request, kind: ResourceKind, info: RequestInfo, new: Obj, old: Obj | None
) -> None:
    """RBAC's escalation prevention: nobody grants (or binds) what they do not hold."""
    if kind.group != _RBAC:
        return
    user = request.scope.get("user")
    if user is None:
        return
    groups = tuple(getattr(request.state, "groups", user.groups))
    if "system:masters" in groups:
        return  # holds everything (and must not pay for an RBAC index per write)
    authorizer = request.app.state.authorization.authorizer(info.cluster)
    obj = {**new, "kind": kind.kind}
    # The message names the request's own groups, as kcp's (the workspace access groups
    # authorization added count for the check, not for the words).
    shown = tuple(user.groups)
    if kind.resource in ("roles", "clusterroles"):
        error = authorizer.role_write_error(user.name, groups, obj, old, shown_groups=shown)
    else:
        error = authorizer.binding_write_error(user.name, groups, obj, old, shown_groups=shown)
    if error is not None:
        raise error


def _schedulable(objects: ObjectStore, catalog: Catalog, cluster: str) -> bool:
    """Whether the Workspace object of ``cluster`` carries ``workloads.kcp.dev/schedulable``."""
    parent = tenancy.parent_cluster(cluster)
    if parent is None:
        return False
    kind = catalog.lookup(parent, tenancy.TENANCY_GROUP, "v1beta1", tenancy.WORKSPACES)
    if kind is None:
        return False
    try:
        ws = objects.get(kind, parent, "", cluster.rpartition(":")[2])
    except errors.StatusError:
        return False
    return (ws["metadata"].get("labels") or {}).get(SCHEDULABLE_LABEL) == "true"


def _cluster_label(
    request: Request, objects: ObjectStore, kind: ResourceKind, info: RequestInfo, obj: Obj
) -> None:
    """An object written in a namespace of a schedulable workspace carries the namespace's
    ``workloads.kcp.dev/cluster`` label, or none, whatever the request said (the namespace
    scheduler relabels what is already stored when the namespace's label changes). Namespaces
    that opted out of scheduling keep what their objects say. One namespace read per write;
    the Workspace is read only when the label has to change."""
    unlabelled = (kind.group, kind.resource) in UNLABELLED_RESOURCES
    if not kind.namespaced or info.subresource or unlabelled:
        return
    catalog: Catalog = request.app.state.catalog
    workspace_type = catalog.cluster_type(info.cluster)
    if workspace_type is None or tenancy.holds_workspaces(workspace_type):
        return  # root, organizations and teams serve no WorkloadClusters: nothing is scheduled
    try:
        ns = objects.get(catalog.namespaces, info.cluster, "", info.namespace)
    except errors.StatusError:
        return  # the store refuses the write with its own words
    ns_labels = ns["metadata"].get("labels") or {}
    meta = obj.get("metadata")
    if SCHEDULING_DISABLED_LABEL in ns_labels or not isinstance(meta, dict):
        return
    labels = meta.get("labels")
    if not isinstance(labels, dict | None):
        return  # a body the type checks refuse
    wanted = ns_labels.get(CLUSTER_LABEL)
    if (labels or {}).get(CLUSTER_LABEL) == wanted or not _schedulable(
        objects, catalog, info.cluster
    ):
        return
    labels = meta["labels"] = dict(labels or {})
    if wanted is None:
        del labels[CLUSTER_LABEL]
    else:
        labels[CLUSTER_LABEL] = wanted


def _mark_schedulable(obj: Obj) -> None:
    """kcp's ``universal`` ClusterWorkspaceType labels its workspaces (never created in root)
    ``workloads.kcp.dev/schedulable: "true"``: their namespaces go to their WorkloadClusters."""
    if tenancy.workspace_type(obj).lower() == tenancy.UNIVERSAL.lower():
        meta = obj.setdefault("metadata", {})
        meta["labels"] = {**(meta.get("labels") or {}), SCHEDULABLE_LABEL: "true"}


def admit_create(
    request: Request, objects: ObjectStore, kind: ResourceKind, info: RequestInfo, obj: Obj
) -> None:
    """Check (and prepare) a new object of a kcp or RBAC kind; other kinds pass unchanged,
    but for the cluster label of objects in scheduled namespaces."""
    _no_escalation(request, kind, info, obj, None)
    _cluster_label(request, objects, kind, info, obj)
    if not _is_workspace(kind):
        return
    obj["status"] = {"phase": tenancy.SCHEDULING}
    custom_types = _check(request, objects, info, obj, None)
    _apply_type(obj, custom_types.get(tenancy.workspace_type(obj).lower()))
    _mark_schedulable(obj)
    name = str(obj.get("metadata", {}).get("name", ""))
    path = f"{info.cluster}:{name}"
    if len(path) > MAX_CLUSTER_PATH:
        raise errors.invalid(
            "Workspace",
            name,
            [
                {
                    "reason": "FieldValueInvalid",
                    "message": f'Invalid value: "{name}": the workspace path "{path}" would be '
                    f"{len(path)} characters long; at most {MAX_CLUSTER_PATH} are allowed",
                    "field": "metadata.name",
                }
            ],
            group=tenancy.TENANCY_GROUP,
        )
    meta = obj.setdefault("metadata", {})
    finalizers = list(meta.get("finalizers") or [])
    if tenancy.CONTENT_FINALIZER not in finalizers:
        meta["finalizers"] = [*finalizers, tenancy.CONTENT_FINALIZER]


def admit_update(
    request: Request,
    objects: ObjectStore,
    kind: ResourceKind,
    info: RequestInfo,
    *,
    old: Obj,
    new: Obj,
) -> None:
    """Check a changed object of a kcp kind against the stored one (as the store will merge
    it: a main-resource write keeps the stored status)."""
    _no_escalation(request, kind, info, new, old)
    _cluster_label(request, objects, kind, info, new)
    if _is_workspace(kind):
        merged = new if info.subresource else {**new, "status": old.get("status", {})}
        _check(request, objects, info, merged, old)


def _replace_with(obj: Obj) -> Callable[[Obj], Obj]:
    return lambda _old: obj


async def after_create(
    request: Request, objects: ObjectStore, kind: ResourceKind, info: RequestInfo, created: Obj
) -> None:
    """The creator of a workspace becomes its admin (kcp's owner rule): a ClusterRole granting
    ``admin`` and ``access`` on the new workspace's content, bound to the creator, in the
    parent. ``system:masters`` needs none."""
    user = request.scope.get("user")
    if not _is_workspace(kind) or user is None or "system:masters" in user.groups:
        return
    catalog: Catalog = request.app.state.catalog
    name = created["metadata"]["name"]
    role_name = f"kcp-edge:workspace-admin:{name}"
    owner = {"apiVersion": kind.group_version, "kind": kind.kind, "name": name,
             "uid": created["metadata"].get("uid", "")}  # fmt: skip
    role = {
        "apiVersion": f"{_RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": role_name, "ownerReferences": [owner]},
        "rules": [
            {
                "apiGroups": [tenancy.TENANCY_GROUP],
                "resources": ["workspaces/content"],
                "resourceNames": [name],
                "verbs": ["admin", "access"],
            }
        ],
    }
    binding = {
        "apiVersion": f"{_RBAC}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": role_name, "ownerReferences": [owner]},
        "roleRef": {"apiGroup": _RBAC, "kind": "ClusterRole", "name": role_name},
        "subjects": [{"apiGroup": _RBAC, "kind": "User", "name": user.name}],
    }
    pairs: tuple[tuple[str, Obj], ...] = (("clusterroles", role), ("clusterrolebindings", binding))
    for resource, obj in pairs:
        rbac_kind = catalog.lookup(info.cluster, _RBAC, "v1", resource)
        if rbac_kind is None:
            continue
        try:
            await objects.create(rbac_kind, info.cluster, "", obj, manager="kcp-edge")
        except errors.StatusError as exc:
            if exc.code != 409:
                raise
            # A leftover of an earlier workspace of that name (its garbage is collected
            # later), or planted by someone: this workspace's creator is who it names now.
            await objects.update(rbac_kind, info.cluster, "", role_name, _replace_with(obj))
