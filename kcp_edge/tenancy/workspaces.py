"""The workspace model (kcp 2022, ``tenancy.kcp.dev``): types, nesting, Workspace admission,
logical cluster names and the bootstrap objects, as pure functions over object dicts.

Why this module exists: workspaces are what make kcp multi-tenant, and every layer above needs
the same answers to "may this workspace be created here?", "is this write to a Workspace
allowed?" and "which URL serves this cluster?", with kcp's words in the errors users see. It
owns:

* the built-in types (`ORGANIZATION`, `TEAM`, `UNIVERSAL`, plus `ROOT_TYPE` for ``root``) and
  custom ones (`ClusterWorkspaceType`, read from a ``clusterworkspacetypes`` object);
* `allowed_child` / `nesting_error`: root holds Organizations; an Organization holds Teams,
  Universal workspaces and its own custom types; a Team holds Universal workspaces; a
  Universal workspace holds none (issue 5, reference §2.1);
* `default_workspace` / `validate_workspace`: ``spec.type`` defaults to Universal, names are
  DNS-1035 labels other than ``root``/``system``, the type is immutable and ``status.phase``
  only moves forward (kcp's ``tenancy.kcp.dev/ClusterWorkspace`` admission: 403 Forbidden);
* `validate_cluster_workspace_type` (kcp's ``ClusterWorkspaceType`` admission);
* `cluster_id`, `workspace_url`, `is_valid_cluster`, `invalid_cluster_message` (§1.1);
* `default_organization`: the ``root:default`` Workspace stored in ``root`` at bootstrap;
* `system_crds` (re-exported from ``systemcrds``): the kcp APIs a type serves.

Refusals: 422 causes are returned (the caller wraps them with ``errors.invalid``); admission
refusals raise `StatusError` 403 as kcp's ``admission.NewForbidden`` does, e.g.
``workspaces.tenancy.kcp.dev "x" is forbidden: spec.type "Foo" does not exist``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from kcp_edge.apimachinery import errors, names
from kcp_edge.apimachinery.errors import StatusError
from kcp_edge.apimachinery.names import FieldError
from kcp_edge.tenancy.systemcrds import (
    ORGANIZATION,
    ROOT_TYPE,
    TEAM,
    TENANCY_GROUP,
    TYPE_PATTERN,
    UNIVERSAL,
    holds_workspaces,
    system_crds,
)

__all__ = [
    "ANY_TYPE",
    "BUILTIN_TYPES",
    "DEFAULT_ORG",
    "ORGANIZATION",
    "PHASES",
    "ROOT",
    "ROOT_TYPE",
    "TEAM",
    "TENANCY_GROUP",
    "UNIVERSAL",
    "Cause",
    "ClusterWorkspaceType",
    "allowed_child",
    "cluster_id",
    "default_organization",
    "default_workspace",
    "holds_workspaces",
    "invalid_cluster_message",
    "is_valid_cluster",
    "nesting_error",
    "parent_cluster",
    "system_crds",
    "validate_cluster_workspace_type",
    "validate_workspace",
    "workspace_type",
    "workspace_url",
]

Cause = dict[str, str]
"""A ``details.causes`` entry of a 422 Status: ``{"reason", "message", "field"}``."""
Obj = dict[str, Any]

ROOT = "root"
DEFAULT_ORG = "root:default"
WORKSPACES = "workspaces"
CLUSTER_WORKSPACE_TYPES = "clusterworkspacetypes"
API_VERSION = f"{TENANCY_GROUP}/v1beta1"
BUILTIN_TYPES = (ORGANIZATION, TEAM, UNIVERSAL)
ANY_TYPE = "Any"
"""In ``allowedParentWorkspaceTypes`` / ``allowedChildWorkspaceTypes``: every type."""
RESERVED_NAMES = ("root", "system")
CONTENT_FINALIZER = "tenancy.kcp.dev/content"
"""Held by a workspace until its content and nested workspaces are deleted."""

SCHEDULING = "Scheduling"
INITIALIZING = "Initializing"
READY = "Ready"
TERMINATING = "Terminating"
PHASES = (SCHEDULING, INITIALIZING, READY, TERMINATING)
_PHASE_ORDINAL = {"": 1, SCHEDULING: 2, INITIALIZING: 3, READY: 4, TERMINATING: 5}
"""kcp's ``phaseOrdinal`` (admission/clusterworkspace), with Terminating after Ready."""

CLUSTER_PATTERN = r"([a-z]([a-z0-9-]{0,61}[a-z0-9])?:)*[a-z]([a-z0-9-]{0,61}[a-z0-9])?"
_CLUSTER_RE = re.compile(CLUSTER_PATTERN)
_TYPE_RE = re.compile(TYPE_PATTERN[1:-1])

_BUILTIN_PARENTS: dict[str, tuple[str, ...]] = {
    ORGANIZATION.lower(): (ROOT_TYPE,),
    TEAM.lower(): (ORGANIZATION,),
    UNIVERSAL.lower(): (ORGANIZATION, TEAM),
}
_BUILTIN_CHILDREN: dict[str, tuple[str, ...]] = {
    ROOT_TYPE: (ORGANIZATION,),
    ORGANIZATION.lower(): (TEAM, UNIVERSAL),
    TEAM.lower(): (UNIVERSAL,),
    UNIVERSAL.lower(): (),
}
_CUSTOM_DEFAULT_PARENTS = (ORGANIZATION,)


# --- reading dicts ------------------------------------------------------------------------------


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _strings(value: object) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(item for item in value if isinstance(item, str))


# --- types --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ClusterWorkspaceType:
    """A custom workspace type: a ``clusterworkspacetypes.tenancy.kcp.dev`` object in the
    workspace whose children may use it. Its name is the lower-cased type name."""

    name: str
    initializers: tuple[str, ...] = ()
    additional_workspace_labels: Mapping[str, str] = field(default_factory=dict)
    allowed_parents: tuple[str, ...] = ()
    """Types a workspace of this type may be created in; empty: Organization only."""
    allowed_children: tuple[str, ...] = ()
    """Types of the workspaces it may hold; empty: none."""

    @classmethod
    def from_object(cls, obj: Mapping[str, Any]) -> ClusterWorkspaceType:
        spec = _map(obj.get("spec"))
        labels = {
            str(k): v
            for k, v in _map(spec.get("additionalWorkspaceLabels")).items()
            if isinstance(v, str)
        }
        return cls(
            name=_str(_map(obj.get("metadata")).get("name")),
            initializers=_strings(spec.get("initializers")),
            additional_workspace_labels=labels,
            allowed_parents=_strings(spec.get("allowedParentWorkspaceTypes")),
            allowed_children=_strings(spec.get("allowedChildWorkspaceTypes")),
        )

    def parents(self) -> tuple[str, ...]:
        return self.allowed_parents or _CUSTOM_DEFAULT_PARENTS


CustomTypes = Mapping[str, ClusterWorkspaceType]
"""The ClusterWorkspaceTypes of one workspace, by object name (the lower-cased type)."""


def _is_builtin(kind: str) -> bool:
    return kind.lower() in _BUILTIN_PARENTS


def _matches(kind: str, allowed: Sequence[str]) -> bool:
    return any(a == ANY_TYPE or a.lower() == kind.lower() for a in allowed)


def _either(types: Sequence[str]) -> str:
    quoted = [f'"{t}"' for t in types]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]


def _type_label(kind: str) -> str:
    """How a type is named in messages: ``root`` for the root workspace."""
    return "the root workspace" if kind.lower() == ROOT_TYPE else f'a workspace of type "{kind}"'


def _parents_of(child: str, custom_types: CustomTypes) -> tuple[str, ...] | None:
    if _is_builtin(child):
        return _BUILTIN_PARENTS[child.lower()]
    custom = custom_types.get(child.lower())
    return custom.parents() if custom is not None else None


def _children_of(
    parent: str, custom_types: CustomTypes, parent_definition: ClusterWorkspaceType | None
) -> tuple[str, ...]:
    key = parent.lower()
    if key in _BUILTIN_CHILDREN:
        builtin = _BUILTIN_CHILDREN[key]
        if key in (ORGANIZATION.lower(), TEAM.lower()):
            return builtin + tuple(custom_types)
        return builtin
    return parent_definition.allowed_children if parent_definition is not None else ()


def allowed_child(
    parent_type: str,
    child_type: str,
    custom_types: CustomTypes,
    *,
    parent_definition: ClusterWorkspaceType | None = None,
) -> str | None:
    """None if a workspace of ``child_type`` may be created in one of ``parent_type`` (``root``
    for the root workspace), else why not, in the words of the 403 (`nesting_error`).

    ``custom_types`` are the ClusterWorkspaceTypes of the parent workspace (custom types are
    only usable where defined, and only by an Organization or Team parent their
    ``allowedParentWorkspaceTypes`` name); ``parent_definition`` is the parent's own type when
    that is custom (its ``allowedChildWorkspaceTypes``)."""
    parents = _parents_of(child_type, custom_types)
    if parents is None:
        return f'spec.type "{child_type}" does not exist'
    custom_parent = parent_type.lower() != ROOT_TYPE and not _is_builtin(parent_type)
    if custom_parent and child_type.lower() == UNIVERSAL.lower():
        parents = (*parents, parent_type)  # a custom type may hold Universal workspaces
    if not _matches(parent_type, parents):
        if tuple(p.lower() for p in parents) == (ROOT_TYPE,):
            return f'workspace type "{child_type}" may only be created in root'
        return (
            f'workspace type "{child_type}" may only be created in a workspace of type '
            f"{_either(parents)}"
        )
    children = _children_of(parent_type, custom_types, parent_definition)
    if not _matches(child_type, children):
        if not children:
            return f"{_type_label(parent_type)} may not contain workspaces"
        return f"{_type_label(parent_type)} may only contain workspaces of type {_either(children)}"
    return None


def nesting_error(
    name: str,
    parent_type: str,
    child_type: str,
    custom_types: CustomTypes,
    *,
    parent_definition: ClusterWorkspaceType | None = None,
) -> StatusError | None:
    """The 403 refusing to create Workspace ``name`` of ``child_type`` in ``parent_type``
    (None: allowed): ``workspaces.tenancy.kcp.dev "<name>" is forbidden: <why>``."""
    why = allowed_child(parent_type, child_type, custom_types, parent_definition=parent_definition)
    if why is None:
        return None
    return errors.forbidden(WORKSPACES, name, why, group=TENANCY_GROUP)


# --- Workspace objects --------------------------------------------------------------------------


def workspace_type(obj: Mapping[str, Any]) -> str:
    """A Workspace's ``spec.type``, Universal when unset."""
    return _str(_map(obj.get("spec")).get("type")) or UNIVERSAL


def default_workspace(obj: Obj) -> None:
    """The schema defaults, in place: ``spec`` exists and ``spec.type`` is Universal if unset."""
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        spec = obj["spec"] = {}
    if not _str(spec.get("type")):
        spec["type"] = UNIVERSAL


def _name_errors(name: str) -> list[FieldError]:
    if not name:
        return [names.required("metadata.name", "name or generateName is required")]
    errs = [names.invalid("metadata.name", name, m) for m in names.is_dns1035_label(name)]
    if name in RESERVED_NAMES:
        errs.append(names.invalid("metadata.name", name, '"root" and "system" are reserved names'))
    return errs


def _schema_errors(new: Mapping[str, Any]) -> list[FieldError]:
    errs: list[FieldError] = []
    kind = workspace_type(new)
    if not _TYPE_RE.fullmatch(kind):
        errs.append(
            names.invalid("spec.type", kind, f"spec.type in body should match '{TYPE_PATTERN}'")
        )
    phase = _map(new.get("status")).get("phase")
    if phase not in (None, "", *PHASES):
        supported = ", ".join(names.go_quote(p) for p in PHASES)
        errs.append(
            FieldError(
                names.FIELD_VALUE_NOT_SUPPORTED,
                "status.phase",
                phase,
                f"supported values: {supported}",
            )
        )
    return errs


def _forbidden(name: str, why: str) -> StatusError:
    return errors.forbidden(WORKSPACES, name, why, group=TENANCY_GROUP)


def _admit_update(new: Mapping[str, Any], old: Mapping[str, Any], name: str) -> None:
    """kcp's ``tenancy.kcp.dev/ClusterWorkspace`` admission on update."""
    kind, old_kind = workspace_type(new), workspace_type(old)
    if kind != old_kind:
        raise _forbidden(name, str(names.invalid("spec.type", kind, "field is immutable")))
    status, old_status = _map(new.get("status")), _map(old.get("status"))
    if _str(old_status.get("URL")) and not _str(status.get("URL")):
        raise _forbidden(name, "status.URL cannot be unset")
    phase, old_phase = _str(status.get("phase")), _str(old_status.get("phase"))
    if _PHASE_ORDINAL[old_phase] > _PHASE_ORDINAL[phase]:
        raise _forbidden(name, f'cannot transition from "{old_phase}" to "{phase}"')
    deleting = _map(new.get("metadata")).get("deletionTimestamp") is not None
    if phase == TERMINATING and old_phase != TERMINATING and not deleting:
        raise _forbidden(name, "status.phase may only become Terminating on deletion")


def _admit_status(new: Mapping[str, Any], name: str) -> None:
    status = _map(new.get("status"))
    phase = _str(status.get("phase"))
    if _PHASE_ORDINAL[phase] > _PHASE_ORDINAL[INITIALIZING] and _strings(
        status.get("initializers")
    ):
        raise _forbidden(name, f"status.initializers must be empty for phase {phase}")
    if _PHASE_ORDINAL[phase] > _PHASE_ORDINAL[SCHEDULING] and not _str(status.get("URL")):
        raise _forbidden(name, f"status.URL must be set for phase {phase}")


def validate_workspace(
    new: Mapping[str, Any],
    old: Mapping[str, Any] | None,
    *,
    parent_type: str,
    custom_types: CustomTypes,
    parent_definition: ClusterWorkspaceType | None = None,
) -> list[Cause]:
    """Why a write of Workspace ``new`` (a create when ``old`` is None) in a workspace of
    ``parent_type`` is refused.

    Returns the 422 causes (name, ``spec.type`` pattern, unknown ``status.phase``); when there
    are none, raises the 403 `StatusError` of kcp's admission: the nesting rules on create
    (`allowed_child`), on update an immutable ``spec.type``
    (``spec.type: Invalid value: "Team": field is immutable``), a phase moving back
    (``cannot transition from "Ready" to "Initializing"``), Terminating without deletion, and
    in any write initializers left past Initializing or no ``status.URL`` past Scheduling.
    ``spec.type`` is read as Universal when unset (`default_workspace` writes it)."""
    meta = _map(new.get("metadata"))
    name = _str(meta.get("name"))
    errs = _name_errors(name) if old is None else []
    errs += _schema_errors(new)
    if errs:
        return [e.cause() for e in errs]
    if old is None:
        refused = nesting_error(
            name,
            parent_type,
            workspace_type(new),
            custom_types,
            parent_definition=parent_definition,
        )
        if refused is not None:
            raise refused
    else:
        _admit_update(new, old, name)
    _admit_status(new, name)
    return []


def validate_cluster_workspace_type(obj: Mapping[str, Any], cluster: str) -> None:
    """kcp's ``tenancy.kcp.dev/ClusterWorkspaceType`` admission: the ``organization`` type may
    only be defined in root (403 ``organization type can only be created in root
    workspace``)."""
    name = _str(_map(obj.get("metadata")).get("name"))
    if name == ORGANIZATION.lower() and cluster != ROOT:
        raise errors.forbidden(
            CLUSTER_WORKSPACE_TYPES,
            name,
            "organization type can only be created in root workspace",
            group=TENANCY_GROUP,
        )


# --- logical clusters ---------------------------------------------------------------------------


def cluster_id(parent: str, name: str) -> str:
    """The logical cluster of workspace ``name`` in ``parent``: the path ``parent:name``
    (kcp-edge uses paths as cluster ids)."""
    return f"{parent}:{name}"


def parent_cluster(cluster: str) -> str | None:
    """``root:org`` for ``root:org:ws``; None for ``root`` (no parent)."""
    parent, sep, _ = cluster.rpartition(":")
    return parent if sep else None


def workspace_url(base_url: str, cluster: str) -> str:
    """``<base>/clusters/<cluster>``: a Workspace's ``status.URL``."""
    return f"{base_url.rstrip('/')}/clusters/{cluster}"


def is_valid_cluster(name: str) -> bool:
    """Whether ``name`` matches the server's logical cluster regex (reference §1.1)."""
    return _CLUSTER_RE.fullmatch(name) is not None


def invalid_cluster_message(name: str) -> str:
    """The 400 message for a cluster name that does not match the regex."""
    return f'invalid cluster: "{name}" does not match the regex'


# --- bootstrap ----------------------------------------------------------------------------------


def default_organization(base_url: str) -> Obj:
    """The Workspace ``default`` (type Organization) that bootstrap stores in ``root``: the
    logical cluster ``root:default`` (reference §1.4), Ready, served at ``base_url``."""
    return {
        "apiVersion": API_VERSION,
        "kind": "Workspace",
        "metadata": {"name": "default", "finalizers": [CONTENT_FINALIZER]},
        "spec": {"type": ORGANIZATION},
        "status": {"phase": READY, "URL": workspace_url(base_url, DEFAULT_ORG)},
    }
