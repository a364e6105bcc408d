"""Field ownership on writes: the type tree of each kind, and who a write is done by.

Why this module exists: every create, update and patch records its field manager in
``metadata.managedFields``, and server-side apply merges by the same type information
(``x-kubernetes-list-type``, merge keys). The algorithms are pure
(``apimachinery/managedfields.py``); this module picks the type tree of a kind (the bundled
OpenAPI of a built-in, the compiled schema of a custom resource) and names the fields a
request may not own (``status`` through the main resource of a kind with a status
subresource, everything but ``status`` through ``/status``).
"""

from __future__ import annotations

from functools import cache

from kcp_edge.apimachinery import schematypes
from kcp_edge.apimachinery.fieldsets import FieldSet, make_path
from kcp_edge.registry.custom import custom_kind
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.openapi_data import component_schemas
from kcp_edge.registry.strategy import strategy_for

_STATUS_ONLY_RESET = FieldSet.of(
    make_path("spec"), make_path("metadata"), make_path("apiVersion"), make_path("kind")
)
_MAIN_RESET = FieldSet.of(make_path("status"))


@cache
def _builtin_types(group: str, version: str, schema: str) -> schematypes.TypeNode:
    return schematypes.builtin_types(component_schemas(group=group, version=version), schema)


def types_for(kind: ResourceKind) -> schematypes.TypeNode:
    """The type tree field sets and apply merges of ``kind`` follow."""
    custom = custom_kind(kind)
    if custom is not None:
        return custom.types
    return _builtin_types(kind.group, kind.version, kind.schema)


def ignored_fields(kind: ResourceKind, subresource: str) -> FieldSet | None:
    """Fields a write through ``subresource`` ("" for the main resource) can never own."""
    if subresource == "status":
        return _STATUS_ONLY_RESET
    if not subresource and strategy_for(kind).has_status:
        return _MAIN_RESET
    return None
