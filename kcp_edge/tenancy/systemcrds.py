"""The kcp system CRDs (``tenancy.kcp.dev``, ``workload.kcp.dev``, ``apiresource.kcp.dev``) as
data: Established ``apiextensions.k8s.io/v1`` CRD objects, per workspace type.

Why this module exists: kcp installs its own APIs once, as CRDs in ``system:system-crds``, and
projects them into workspaces by type (reference §1.4, §3) rather than installing them per
workspace. kcp-edge does the same: the server asks `system_crds` for a workspace's type and
serves these CRDs next to the workspace's own, through the same machinery
(``kcp_edge.registry.crds.served_kinds``). Each CRD is computed once per process and carries a
fixed uid (uuid5 of its name), so compiled schemas can be shared by every workspace.

The schemas follow kcp's generated CRDs of May 2022 (``config/crds``), reduced to the fields
kcp-edge uses; they are structural, so ``check_structural`` accepts them.
"""

from __future__ import annotations

import copy
import uuid
from functools import cache
from typing import Any

from kcp_edge.registry import crds

Obj = dict[str, Any]

TENANCY_GROUP = "tenancy.kcp.dev"
WORKLOAD_GROUP = "workload.kcp.dev"
APIRESOURCE_GROUP = "apiresource.kcp.dev"
SCHEDULABLE_LABEL = "workloads.kcp.dev/schedulable"
"""On a Workspace (value ``"true"``): its namespaces are scheduled to its WorkloadClusters."""
CLUSTER_LABEL = "workloads.kcp.dev/cluster"
"""On a namespace and everything in it: the WorkloadCluster it is scheduled to."""
SCHEDULING_DISABLED_LABEL = "experimental.workloads.kcp.dev/scheduling-disabled"
"""On a namespace (any value): no automatic scheduling, no propagation to its content."""
UNLABELLED_RESOURCES = frozenset(
    {("networking.k8s.io", "ingresses"), ("", "events"), ("events.k8s.io", "events")}
)
"""(group, resource) of namespaced objects that never get ``CLUSTER_LABEL``: ingresses, as kcp
left them to its ingress splitter, and events, which are never synced down."""
CATEGORY = "kcp"
TYPE_PATTERN = "^[A-Z][a-zA-Z0-9]+$"
"""``spec.type`` of a Workspace: a capitalised type name (its ClusterWorkspaceType is the
lower-cased name)."""

ROOT_TYPE = "root"
ORGANIZATION = "Organization"
TEAM = "Team"
UNIVERSAL = "Universal"

_UID_NAMESPACE = uuid.UUID("5b0f3c1e-7a43-5b8e-9c43-6b6370000000")
"""uuid5 namespace of the system CRDs' uids (any fixed value: the uids only need to be stable)."""
_CREATED = "2022-05-04T00:00:00Z"
"""creationTimestamp and condition times of the system CRDs (kcp's decced4 baseline)."""


def system_crd_uid(name: str) -> str:
    """The fixed uid of the system CRD ``name`` (``workspaces.tenancy.kcp.dev``)."""
    return str(uuid.uuid5(_UID_NAMESPACE, name))


# --- schema pieces ------------------------------------------------------------------------------

_STRING: Obj = {"type": "string"}
_STRINGS: Obj = {"type": "array", "items": {"type": "string"}}
_DATE_TIME: Obj = {"type": "string", "format": "date-time"}
_CONDITIONS: Obj = {
    "type": "array",
    "description": "Current processing state (kcp's conditions: severity only when False).",
    "items": {
        "type": "object",
        "required": ["lastTransitionTime", "status", "type"],
        "properties": {
            "lastTransitionTime": _DATE_TIME,
            "message": _STRING,
            "reason": _STRING,
            "severity": _STRING,
            "status": _STRING,
            "type": _STRING,
        },
    },
}
_QUANTITIES: Obj = {
    "type": "object",
    "additionalProperties": {
        "anyOf": [{"type": "integer"}, {"type": "string"}],
        "pattern": (
            r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|"
            r"([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$"
        ),
        "x-kubernetes-int-or-string": True,
    },
}
_PRESERVE: Obj = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
_API_RESOURCES: Obj = {
    "type": "array",
    "description": "The imported API resources of this cluster and whether the workspace "
    "accepted them (written by the API negotiation controller).",
    "items": {
        "type": "object",
        "required": ["group", "resource", "version", "state"],
        "properties": {
            "group": _STRING,
            "resource": _STRING,
            "version": _STRING,
            "state": {"type": "string", "enum": ["Accepted", "Incompatible"]},
            "message": _STRING,
        },
    },
}


def _root(spec: Obj, status: Obj, description: str) -> Obj:
    return {
        "type": "object",
        "description": description,
        "properties": {
            "apiVersion": _STRING,
            "kind": _STRING,
            "metadata": {"type": "object"},
            "spec": spec,
            "status": status,
        },
    }


def _column(name: str, json_path: str, description: str, priority: int = 0) -> Obj:
    column: Obj = {
        "name": name,
        "type": "string",
        "jsonPath": json_path,
        "description": description,
    }
    if priority:
        column["priority"] = priority
    return column


WORKSPACE_SCHEMA: Obj = _root(
    {
        "type": "object",
        "default": {},
        "properties": {
            "type": {
                "type": "string",
                "default": UNIVERSAL,
                "pattern": TYPE_PATTERN,
                "description": "The workspace type; immutable. Its ClusterWorkspaceType is the "
                "lower-cased name, in the parent workspace.",
            },
        },
    },
    {
        "type": "object",
        "properties": {
            "URL": {
                "type": "string",
                "description": "Where the workspace is served: <base>/clusters/<cluster>.",
            },
            "phase": {
                "type": "string",
                "description": "Scheduling, Initializing, Ready or Terminating (forward only).",
            },
            "conditions": _CONDITIONS,
            "initializers": _STRINGS,
        },
    },
    "Workspace defines a generic Kubernetes-cluster-like endpoint, with standard Kubernetes "
    "discovery APIs, OpenAPI and resource API endpoints.",
)
WORKSPACE_COLUMNS: tuple[Obj, ...] = (
    _column("Type", ".spec.type", "Type of the workspace"),
    _column("Phase", ".status.phase", "The current phase (e.g. Scheduling, Initializing, Ready)"),
    _column("URL", ".status.URL", "URL to access the workspace"),
)

CLUSTER_WORKSPACE_TYPE_SCHEMA: Obj = _root(
    {
        "type": "object",
        "properties": {
            "initializers": _STRINGS,
            "additionalWorkspaceLabels": {
                "type": "object",
                "additionalProperties": {"type": "string"},
            },
            "allowedChildWorkspaceTypes": _STRINGS,
            "allowedParentWorkspaceTypes": _STRINGS,
        },
    },
    {"type": "object", "properties": {"conditions": _CONDITIONS}},
    "ClusterWorkspaceType specifies behaviour of workspaces of this type.",
)

WORKLOAD_CLUSTER_SCHEMA: Obj = _root(
    {
        "type": "object",
        "properties": {
            "unschedulable": {"type": "boolean", "default": False},
            "evictAfter": _DATE_TIME,
        },
    },
    {
        "type": "object",
        "properties": {
            "allocatable": _QUANTITIES,
            "capacity": _QUANTITIES,
            "conditions": _CONDITIONS,
            "lastSyncerHeartbeatTime": _DATE_TIME,
            "syncer": {
                "type": "object",
                "description": "The syncer heartbeating for this cluster: Push or Pull mode, "
                "and its version.",
                "properties": {"mode": _STRING, "version": _STRING},
            },
            "syncedResources": _STRINGS,
            "apiResources": _API_RESOURCES,
            "virtualWorkspaces": {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["url"],
                    "properties": {"url": {"type": "string", "minLength": 1}},
                },
            },
        },
    },
    "WorkloadCluster describes a member cluster capable of running workloads.",
)
WORKLOAD_CLUSTER_COLUMNS: tuple[Obj, ...] = (
    _column("Location", ".metadata.name", "The name of the workload cluster", 1),
    _column("Ready", '.status.conditions[?(@.type=="Ready")].status', "The Ready condition", 2),
    _column("Synced API resources", ".status.syncedResources", "Synced API resources", 3),
)

API_IMPORT_SCHEMA: Obj = _root(_PRESERVE, _PRESERVE, "API import object (kept permissive).")


# --- CRD objects --------------------------------------------------------------------------------


def _crd(
    *,
    group: str,
    version: str,
    kind: str,
    plural: str,
    schema: Obj,
    columns: tuple[Obj, ...] = (),
    status: bool = True,
) -> Obj:
    name = f"{plural}.{group}"
    version_spec: Obj = {
        "name": version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": copy.deepcopy(schema)},
    }
    if status:
        version_spec["subresources"] = {"status": {}}
    if columns:
        version_spec["additionalPrinterColumns"] = [dict(c) for c in columns]
    crd: Obj = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": name,
            "uid": system_crd_uid(name),
            "generation": 1,
            "creationTimestamp": _CREATED,
        },
        "spec": {
            "group": group,
            "names": {
                "plural": plural,
                "singular": kind.lower(),
                "kind": kind,
                "listKind": kind + "List",
                "categories": [CATEGORY],
            },
            "scope": crds.CLUSTER,
            "versions": [version_spec],
        },
    }
    crds.default_crd(crd)
    crd["status"] = crds.accepted_status(crd, [], now=_CREATED)
    return crd


@cache
def _workspaces_crd() -> Obj:
    return _crd(
        group=TENANCY_GROUP,
        version="v1beta1",
        kind="Workspace",
        plural="workspaces",
        schema=WORKSPACE_SCHEMA,
        columns=WORKSPACE_COLUMNS,
    )


@cache
def _cluster_workspace_types_crd() -> Obj:
    return _crd(
        group=TENANCY_GROUP,
        version="v1alpha1",
        kind="ClusterWorkspaceType",
        plural="clusterworkspacetypes",
        schema=CLUSTER_WORKSPACE_TYPE_SCHEMA,
    )


@cache
def _workload_clusters_crd() -> Obj:
    return _crd(
        group=WORKLOAD_GROUP,
        version="v1alpha1",
        kind="WorkloadCluster",
        plural="workloadclusters",
        schema=WORKLOAD_CLUSTER_SCHEMA,
        columns=WORKLOAD_CLUSTER_COLUMNS,
    )


@cache
def _api_resource_imports_crd() -> Obj:
    return _crd(
        group=APIRESOURCE_GROUP,
        version="v1alpha1",
        kind="APIResourceImport",
        plural="apiresourceimports",
        schema=API_IMPORT_SCHEMA,
    )


@cache
def _negotiated_api_resources_crd() -> Obj:
    return _crd(
        group=APIRESOURCE_GROUP,
        version="v1alpha1",
        kind="NegotiatedAPIResource",
        plural="negotiatedapiresources",
        schema=API_IMPORT_SCHEMA,
    )


def holds_workspaces(workspace_type: str) -> bool:
    """Whether a workspace of this type serves the Workspace API (root, Organization, Team)."""
    return workspace_type.lower() in (ROOT_TYPE, ORGANIZATION.lower(), TEAM.lower())


@cache
def _for_type(kind: str) -> tuple[Obj, ...]:
    if holds_workspaces(kind):
        return (_workspaces_crd(), _cluster_workspace_types_crd())
    return (_workload_clusters_crd(), _api_resource_imports_crd(), _negotiated_api_resources_crd())


def system_crds(workspace_type: str) -> list[Obj]:
    """The Established system CRDs a workspace of this type serves (reference §3):
    ``workspaces`` and ``clusterworkspacetypes`` in root, Organization and Team workspaces;
    ``workloadclusters``, ``apiresourceimports`` and ``negotiatedapiresources`` in Universal
    ones (custom types serve what Universal serves). Type names compare case-insensitively.

    The CRD objects are built once per process and shared: callers must not mutate them."""
    key = workspace_type.lower()
    if not holds_workspaces(key):
        key = UNIVERSAL.lower()
    return list(_for_type(key))
