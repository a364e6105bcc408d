"""What the server knows about one resource: names, scope, verbs, schema.

Why this module exists: discovery, OpenAPI, request routing, tables and storage keys all start
from the same facts about a resource (``configmaps`` is namespaced, kind ``ConfigMap``, short
name ``cm``, ...). They are described once here, as plain frozen data, whatever the kind's
origin (built in, a CRD, imported from an edge cluster).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True, kw_only=True)
class ResourceKind:
    """One resource of one group-version, as discovery describes it."""

    group: str
    """API group; "" for the legacy core group (served under /api/v1)."""
    version: str
    resource: str
    """Plural, lower case: ``configmaps``."""
    singular: str
    kind: str
    namespaced: bool
    verbs: tuple[str, ...] = ALL_VERBS
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    subresources: tuple[str, ...] = ()
    """Served subresources: ``status``, ``scale``, ``finalize`` (namespaces)."""
    schema: str = ""
    """The OpenAPI component name of the kind's schema: ``io.k8s.api.core.v1.ConfigMap``."""
    storage_id: int = 0
    """A short, stable number for storage keys (never reused for another resource)."""
    extra: dict[str, str] = field(default_factory=dict, compare=False, hash=False)
    definition: object = field(default=None, compare=False, hash=False)
    """For a custom resource: its served CRD version (``kcp_edge.registry.crds.ServedVersion``)."""

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def api_prefix(self) -> str:
        """``/api/v1`` or ``/apis/<group>/<version>``."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def qualified(self) -> str:
        """``configmaps`` for core, ``leases.coordination.k8s.io`` otherwise (as kubectl says)."""
        return f"{self.resource}.{self.group}" if self.group else self.resource
