"""Custom resources: what serving one CRD version needs on every request, compiled once.

Why this module exists: a custom resource's writes are pruned, defaulted and validated against
its CRD's structural schema, its tables print the CRD's columns and its field selectors accept
the CRD's selectable fields. Compiling a schema costs far more than using it, so each served
CRD version is compiled once, when the CRD controller publishes it (``custom_kinds``), and the
result rides on the `ResourceKind` (``definition``) the catalog hands to every request.
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from collections.abc import Mapping
from typing import Any

from kcp_edge.apimachinery import fields, schematypes, structural, tables
from kcp_edge.registry import crds
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.strategy import Obj, Strategy

Cause = dict[str, str]


@dataclasses.dataclass(frozen=True, eq=False)
class CustomKind:
    """A served CRD version, ready for requests (``ResourceKind.definition`` of a CR)."""

    served: crds.ServedVersion
    schema: structural.CompiledSchema | None
    table: tables.TableRowSource
    field_rules: fields.FieldRules
    strategy: Strategy
    types: schematypes.TypeNode
    """The field types server-side apply merges by (list types and map keys of the schema)."""
    several_versions: bool = False
    """The CRD has other versions: stored objects may carry another ``apiVersion``."""

    def unknown_fields(self, obj: Obj) -> list[str]:
        """Prune unknown fields only (an applied configuration is not defaulted)."""
        if self.schema is None:
            return []
        return [f'unknown field "{path}"' for path in self.schema.prune(obj)]

    def admit(self, obj: Obj) -> list[str]:
        """Prune unknown fields and apply defaults; the unknown-field problems, as decoding
        reports them (``unknown field "spec.x"``)."""
        if self.schema is None:
            return []
        unknown = self.schema.prune(obj)
        self.schema.default(obj)
        return [f'unknown field "{path}"' for path in unknown]


_ANYTHING = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


def _validator(schema: structural.CompiledSchema | None) -> Any:
    if schema is None:
        return None

    def validate(obj: Obj, old: Obj | None) -> list[Cause]:
        del old
        return schema.validate(obj)

    return validate


def _compile(served: crds.ServedVersion) -> CustomKind:
    schema = None
    if served.schema is not None:
        schema = structural.CompiledSchema.compile(served.schema)
    return CustomKind(
        served=served,
        schema=schema,
        table=tables.custom_resource_source(served.printer_columns),
        field_rules=fields.custom_resource_rules(
            namespaced=served.namespaced, selectable_fields=served.selectable_fields
        ),
        strategy=Strategy(
            has_status=served.status_subresource,
            tracks_generation=True,
            validate=_validator(schema),
        ),
        types=schematypes.inline_types(served.schema or _ANYTHING),
    )


_cache: weakref.WeakValueDictionary[tuple[str, str], CustomKind] = weakref.WeakValueDictionary()
"""(CRD uid, version) -> its compiled form while something (the catalog) still serves it."""
_cache_lock = threading.Lock()


def custom_kinds(crd: Mapping[str, Any]) -> list[ResourceKind]:
    """The kinds an established CRD serves, each with its compiled `CustomKind`.

    Compiled once per CRD version, and again only when what it serves changed (a schema
    update takes effect for the next write; the old compiled form is replaced, not kept).
    """
    meta = crd.get("metadata", {})
    versions = crd.get("spec", {}).get("versions") or []
    several = len(versions) > 1 or bool(crd.get("status", {}).get("storedVersions", [None])[1:])
    out = []
    for kind in crds.served_kinds(dict(crd)):
        served = kind.definition
        assert isinstance(served, crds.ServedVersion)
        key = (str(meta.get("uid", "")), kind.version)
        with _cache_lock:
            compiled = _cache.get(key)
        if compiled is None or compiled.served != served or compiled.several_versions != several:
            compiled = dataclasses.replace(_compile(served), several_versions=several)
            with _cache_lock:
                _cache[key] = compiled
        out.append(dataclasses.replace(kind, definition=compiled))
    return out


def custom_kind(kind: ResourceKind) -> CustomKind | None:
    """The compiled definition of a custom resource's kind; None for built-in kinds."""
    definition = kind.definition
    return definition if isinstance(definition, CustomKind) else None
