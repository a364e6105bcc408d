"""The ClusterRoles and ClusterRoleBindings every workspace starts with, as objects to store.

Why this module exists: Kubernetes users expect ``cluster-admin``, ``admin``, ``edit`` and
``view`` to exist and mean what they mean upstream (``bootstrappolicy`` in the Kubernetes tree),
and every caller must be able to discover the API and review its own access before anyone has
written a single binding. This is data only: the bootstrap code stores these objects in each new
workspace; `kcp_edge.auth.rbac` evaluates them like any others.

What is here, as in Kubernetes 1.3x:

* ``cluster-admin``: everything, bound to group ``system:masters``.
* ``admin``, ``edit``, ``view``: aggregated (``aggregationRule``) from the roles labelled
  ``rbac.authorization.k8s.io/aggregate-to-<name>: "true"``; ``view`` feeds ``edit`` and ``edit``
  feeds ``admin`` through the same labels. Their ``rules`` are stored already aggregated.
* ``system:aggregate-to-admin`` / ``-edit`` / ``-view``: upstream's rules verbatim, including
  kinds kcp-edge serves only through API import (pods, deployments, services, ...), so a synced
  kind is covered by the same defaults as in a real cluster. ``view`` deliberately leaves out
  secrets; ``edit`` leaves out roles and bindings; none of them covers CRDs.
* ``system:discovery`` and ``system:basic-user`` (bound to ``system:authenticated``) and
  ``system:public-info-viewer`` (bound to authenticated and unauthenticated callers).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from kcp_edge.auth.rbac import RBAC_GROUP, aggregate

_API_VERSION = f"{RBAC_GROUP}/v1"
_LABELS = {"kubernetes.io/bootstrapping": "rbac-defaults"}
_ANNOTATIONS = {"rbac.authorization.kubernetes.io/autoupdate": "true"}
_AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"

READ = ["get", "list", "watch"]
WRITE = ["create", "delete", "deletecollection", "patch", "update"]
READ_WRITE = ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"]


def _r(groups: list[str], resources: list[str], verbs: list[str]) -> dict[str, list[str]]:
    return {"verbs": verbs, "apiGroups": groups, "resources": resources}


def _urls(urls: list[str], verbs: list[str]) -> dict[str, list[str]]:
    return {"verbs": verbs, "nonResourceURLs": urls}


_AGGREGATE_TO_ADMIN = [
    _r(["authorization.k8s.io"], ["localsubjectaccessreviews"], ["create"]),
    _r([RBAC_GROUP], ["rolebindings", "roles"], READ_WRITE),
]

_AGGREGATE_TO_EDIT = [
    _r(
        [""],
        ["pods/attach", "pods/exec", "pods/portforward", "pods/proxy", "secrets", "services/proxy"],
        READ,
    ),
    _r([""], ["serviceaccounts"], ["impersonate"]),
    _r([""], ["pods", "pods/attach", "pods/exec", "pods/portforward", "pods/proxy"], WRITE),
    _r([""], ["pods/eviction"], ["create"]),
    _r(
        [""],
        [
            "configmaps",
            "events",
            "persistentvolumeclaims",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "secrets",
            "serviceaccounts",
            "services",
            "services/proxy",
        ],
        WRITE,
    ),
    _r([""], ["serviceaccounts/token"], ["create"]),
    _r(
        ["apps"],
        [
            "daemonsets",
            "deployments",
            "deployments/rollback",
            "deployments/scale",
            "replicasets",
            "replicasets/scale",
            "statefulsets",
            "statefulsets/scale",
        ],
        WRITE,
    ),
    _r(["autoscaling"], ["horizontalpodautoscalers"], WRITE),
    _r(["batch"], ["cronjobs", "jobs"], WRITE),
    _r(
        ["extensions"],
        [
            "daemonsets",
            "deployments",
            "deployments/rollback",
            "deployments/scale",
            "ingresses",
            "networkpolicies",
            "replicasets",
            "replicasets/scale",
            "replicationcontrollers/scale",
        ],
        WRITE,
    ),
    _r(["policy"], ["poddisruptionbudgets"], WRITE),
    _r(["networking.k8s.io"], ["ingresses", "networkpolicies"], WRITE),
    _r(["coordination.k8s.io"], ["leases"], READ_WRITE),
]

_AGGREGATE_TO_VIEW = [
    _r(
        [""],
        [
            "configmaps",
            "endpoints",
            "persistentvolumeclaims",
            "persistentvolumeclaims/status",
            "pods",
            "replicationcontrollers",
            "replicationcontrollers/scale",
            "serviceaccounts",
            "services",
            "services/status",
        ],
        READ,
    ),
    _r(
        [""],
        [
            "bindings",
            "events",
            "limitranges",
            "namespaces/status",
            "pods/log",
            "pods/status",
            "replicationcontrollers/status",
            "resourcequotas",
            "resourcequotas/status",
        ],
        READ,
    ),
    _r([""], ["namespaces"], READ),
    _r(["discovery.k8s.io"], ["endpointslices"], READ),
    _r(
        ["apps"],
        [
            "controllerrevisions",
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "statefulsets",
            "statefulsets/scale",
            "statefulsets/status",
        ],
        READ,
    ),
    _r(["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"], READ),
    _r(["batch"], ["cronjobs", "cronjobs/status", "jobs", "jobs/status"], READ),
    _r(
        ["extensions"],
        [
            "daemonsets",
            "daemonsets/status",
            "deployments",
            "deployments/scale",
            "deployments/status",
            "ingresses",
            "ingresses/status",
            "networkpolicies",
            "replicasets",
            "replicasets/scale",
            "replicasets/status",
            "replicationcontrollers/scale",
        ],
        READ,
    ),
    _r(["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"], READ),
    _r(["networking.k8s.io"], ["ingresses", "ingresses/status", "networkpolicies"], READ),
]


def _cluster_role(
    name: str,
    rules: list[dict[str, list[str]]] | None,
    *,
    labels: dict[str, str] | None = None,
    aggregate_from: str | None = None,
) -> dict[str, Any]:
    role: dict[str, Any] = {
        "apiVersion": _API_VERSION,
        "kind": "ClusterRole",
        "metadata": {
            "name": name,
            "labels": {**_LABELS, **(labels or {})},
            "annotations": dict(_ANNOTATIONS),
        },
    }
    if aggregate_from is not None:
        selector = {"matchLabels": {_AGGREGATE_TO + aggregate_from: "true"}}
        role["aggregationRule"] = {"clusterRoleSelectors": [selector]}
    role["rules"] = rules or []
    return role


def _binding(name: str, groups: list[str]) -> dict[str, Any]:
    return {
        "apiVersion": _API_VERSION,
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "labels": dict(_LABELS), "annotations": dict(_ANNOTATIONS)},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name},
        "subjects": [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": g} for g in groups],
    }


def _build_cluster_roles() -> list[dict[str, Any]]:
    to_admin = {_AGGREGATE_TO + "admin": "true"}
    to_edit = {_AGGREGATE_TO + "edit": "true"}
    to_view = {_AGGREGATE_TO + "view": "true"}
    roles = [
        _cluster_role(
            "cluster-admin",
            [_r(["*"], ["*"], ["*"]), _urls(["*"], ["*"])],
        ),
        _cluster_role("admin", None, aggregate_from="admin"),
        _cluster_role("edit", None, labels=to_admin, aggregate_from="edit"),
        _cluster_role("view", None, labels=to_edit, aggregate_from="view"),
        _cluster_role("system:aggregate-to-admin", _AGGREGATE_TO_ADMIN, labels=to_admin),
        _cluster_role("system:aggregate-to-edit", _AGGREGATE_TO_EDIT, labels=to_edit),
        _cluster_role("system:aggregate-to-view", _AGGREGATE_TO_VIEW, labels=to_view),
        _cluster_role(
            "system:basic-user",
            [
                _r(
                    ["authorization.k8s.io"],
                    ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
                    ["create"],
                ),
                _r(["authentication.k8s.io"], ["selfsubjectreviews"], ["create"]),
            ],
        ),
        _cluster_role(
            "system:discovery",
            [
                _urls(
                    [
                        "/api",
                        "/api/*",
                        "/apis",
                        "/apis/*",
                        "/healthz",
                        "/livez",
                        "/openapi",
                        "/openapi/*",
                        "/readyz",
                        "/version",
                        "/version/",
                    ],
                    ["get"],
                )
            ],
        ),
        _cluster_role(
            "system:public-info-viewer",
            [_urls(["/healthz", "/livez", "/readyz", "/version", "/version/"], ["get"])],
        ),
    ]
    aggregated = aggregate(roles)
    for role in roles:
        name = role["metadata"]["name"]
        if name in aggregated:
            role["rules"] = aggregated[name]
    return roles


_CLUSTER_ROLES = _build_cluster_roles()
_CLUSTER_ROLE_BINDINGS = [
    _binding("cluster-admin", ["system:masters"]),
    _binding("system:basic-user", ["system:authenticated"]),
    _binding("system:discovery", ["system:authenticated"]),
    _binding("system:public-info-viewer", ["system:authenticated", "system:unauthenticated"]),
]


def default_cluster_roles() -> list[dict[str, Any]]:
    """The default ClusterRoles (fresh copies, safe to change and store)."""
    return copy.deepcopy(_CLUSTER_ROLES)


def default_cluster_role_bindings() -> list[dict[str, Any]]:
    """The default ClusterRoleBindings (fresh copies)."""
    return copy.deepcopy(_CLUSTER_ROLE_BINDINGS)


DEFAULT_CLUSTER_ROLES: tuple[Mapping[str, Any], ...] = tuple(_CLUSTER_ROLES)
"""The same, shared and read-only: for evaluating (an Authorizer never changes its input)."""
DEFAULT_CLUSTER_ROLE_BINDINGS: tuple[Mapping[str, Any], ...] = tuple(_CLUSTER_ROLE_BINDINGS)


def default_objects() -> list[dict[str, Any]]:
    """Roles first, then bindings: the order to store them in."""
    return default_cluster_roles() + default_cluster_role_bindings()


__all__ = [
    "DEFAULT_CLUSTER_ROLES",
    "DEFAULT_CLUSTER_ROLE_BINDINGS",
    "default_cluster_role_bindings",
    "default_cluster_roles",
    "default_objects",
]
