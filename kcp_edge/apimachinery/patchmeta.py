"""Strategic-merge metadata of built-in kinds, read from their OpenAPI v3 schemas.

Why this module exists: a strategic merge patch needs to know, for every field it walks into,
whether a list merges element by element (and on which key) or is replaced. kube-apiserver
reads that from Go struct tags (``patchStrategy``, ``patchMergeKey``; see
``k8s.io/apimachinery/pkg/util/strategicpatch/meta.go``, ``PatchMetaFromStruct``); kubectl
reads the same facts from OpenAPI (``PatchMetaFromOpenAPI``). We have no Go structs, so we do as
kubectl does, from the documents bundled in ``kcp_edge/registry/data/openapi/``: the field
facts sit on the property (``x-kubernetes-patch-strategy``, ``x-kubernetes-patch-merge-key``,
``x-kubernetes-list-type`` ...) and the shape of the value sits behind a ``$ref``, usually
wrapped as ``allOf: [{$ref}]`` next to a ``default``.

A field the schema knows nothing about gets the empty `PatchMeta`: no strategy, so maps merge
and lists are replaced (upstream fails the request with "unable to find api field" instead;
only fields that are not in the schema, such as free-form JSON, can get there).

Resolved schemas are cached per component name inside a `PatchMetaIndex`, so building the
metadata of ``io.k8s.api.core.v1.Container`` happens once per index, whichever kind refers to
it. Reading files is kept to `load_components`; the registry loads the documents once and
hands the components to `PatchMetaIndex`.

Exception tree::

    PatchMetaError(ValueError)   a schema that cannot be read (`load_components`)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

REF_PREFIX = "#/components/schemas/"

_NO_SCHEMA: Mapping[str, Any] = {}
_ANY_ENTRY = "\x00any map entry"  # not a key JSON property names collide with in practice


class PatchMetaError(ValueError):
    """An OpenAPI document without ``components.schemas``, or a file that is not JSON."""


def load_components(path: str | Path) -> dict[str, Any]:
    """Read one OpenAPI v3 document and return its ``components.schemas`` mapping."""
    try:
        document = orjson.loads(Path(path).read_bytes())
        schemas = document["components"]["schemas"]
    except (orjson.JSONDecodeError, KeyError, TypeError) as err:
        raise PatchMetaError(f"{path}: not an OpenAPI v3 document with components: {err}") from err
    if not isinstance(schemas, dict):
        raise PatchMetaError(f"{path}: components.schemas is not an object")
    return schemas


@dataclass(frozen=True, eq=False)
class SchemaType:
    """One resolved schema (a named component or an inline schema) and its children's metadata.

    ``kind`` is how strategic merge sees the value: ``object`` (a struct with properties),
    ``map`` (``additionalProperties`` only), ``list``, ``primitive`` or ``unknown``.
    ``go_kind`` is the Go ``reflect.Kind`` name upstream prints in one error message.
    """

    name: str
    kind: str
    go_kind: str
    schema: Mapping[str, Any] = field(repr=False)
    index: PatchMetaIndex | None = field(repr=False)
    _fields: dict[str, PatchMeta] = field(default_factory=dict, repr=False)
    _items: list[PatchMeta] = field(default_factory=list, repr=False)

    def field(self, key: str) -> PatchMeta:
        """The metadata of property ``key``, or of any entry of a map.

        Only properties the schema names are cached one by one; all the entries of a map share
        one slot, so keys sent by clients cannot make the cache grow.
        """
        cached = self._fields.get(key)
        if cached is not None:
            return cached
        if self.index is None:
            return EMPTY
        properties = self.schema.get("properties")
        prop = properties.get(key) if isinstance(properties, dict) else None
        if isinstance(prop, dict):
            named = self._fields[key] = self.index.meta_of(prop)
            return named
        extra = self.schema.get("additionalProperties")
        if not isinstance(extra, dict):
            return EMPTY
        entry = self._fields.get(_ANY_ENTRY)
        if entry is None:
            entry = self._fields[_ANY_ENTRY] = self.index.meta_of(extra)
        return entry

    @property
    def items(self) -> PatchMeta:
        """The metadata of the elements of a list."""
        if not self._items:
            items = self.schema.get("items")
            meta = EMPTY
            if self.index is not None and isinstance(items, dict):
                meta = self.index.meta_of(items)
            self._items.append(meta)
        return self._items[0]


@dataclass(frozen=True, eq=False)
class PatchMeta:
    """What strategic merge patch knows about one field: its strategies and its value's shape.

    ``strategies`` is ``x-kubernetes-patch-strategy`` split on commas (``("merge",
    "retainKeys")``); ``merge_key`` is ``x-kubernetes-patch-merge-key``. The list and map
    markers are kept for server-side apply.
    """

    strategies: tuple[str, ...]
    merge_key: str
    list_type: str
    list_map_keys: tuple[str, ...]
    map_type: str
    schema_type: SchemaType

    @property
    def name(self) -> str:
        """The component name of the value's schema, "" for an inline or unknown schema."""
        return self.schema_type.name

    @property
    def kind(self) -> str:
        return self.schema_type.kind

    @property
    def retain_keys(self) -> bool:
        return "retainKeys" in self.strategies

    def field(self, key: str) -> PatchMeta:
        """The metadata of a property of this field's value (of any entry, for a map)."""
        return self.schema_type.field(key)

    @property
    def items(self) -> PatchMeta:
        """The metadata of the elements of this field's list."""
        return self.schema_type.items


EMPTY = PatchMeta(
    strategies=(),
    merge_key="",
    list_type="",
    list_map_keys=(),
    map_type="",
    schema_type=SchemaType(
        name="", kind="unknown", go_kind="interface", schema=_NO_SCHEMA, index=None
    ),
)
"""No information: maps merge, lists are replaced."""


class PatchMetaIndex:
    """Patch metadata for the components of OpenAPI documents, resolved lazily and cached."""

    def __init__(self, components: Mapping[str, Any]) -> None:
        self._components = components
        self._types: dict[str, SchemaType] = {}
        self._roots: dict[str, PatchMeta] = {}

    def lookup(self, name: str) -> PatchMeta:
        """The metadata of a whole object of component ``name``.

        ``name`` is e.g. ``io.k8s.api.apps.v1.Deployment``; an unknown name gives metadata that
        knows nothing (every list is replaced).
        """
        meta = self._roots.get(name)
        if meta is None:
            meta = PatchMeta(
                strategies=(),
                merge_key="",
                list_type="",
                list_map_keys=(),
                map_type="",
                schema_type=self._named(name),
            )
            self._roots[name] = meta
        return meta

    def meta_of(self, prop: Mapping[str, Any]) -> PatchMeta:
        """The metadata of a property (or ``items``/``additionalProperties``) schema."""
        ref = component_ref(prop)
        target = self._named(ref) if ref else self._inline(prop)
        outer = target.schema if ref else _NO_SCHEMA
        strategy = _ext(prop, outer, "x-kubernetes-patch-strategy")
        keys = _ext(prop, outer, "x-kubernetes-list-map-keys")
        return PatchMeta(
            strategies=tuple(s for s in strategy.split(",") if s)
            if isinstance(strategy, str)
            else (),
            merge_key=_text(_ext(prop, outer, "x-kubernetes-patch-merge-key")),
            list_type=_text(_ext(prop, outer, "x-kubernetes-list-type")),
            list_map_keys=tuple(k for k in keys if isinstance(k, str))
            if isinstance(keys, list)
            else (),
            map_type=_text(_ext(prop, outer, "x-kubernetes-map-type")),
            schema_type=target,
        )

    def _named(self, name: str) -> SchemaType:
        cached = self._types.get(name)
        if cached is None:
            schema = self._components.get(name)
            if not isinstance(schema, dict):
                schema = _NO_SCHEMA
            cached = self._make(name, schema)
            self._types[name] = cached
        return cached

    def _inline(self, schema: Mapping[str, Any]) -> SchemaType:
        return self._make("", schema)

    def _make(self, name: str, schema: Mapping[str, Any]) -> SchemaType:
        kind, go_kind = _kinds(schema, named=bool(name))
        return SchemaType(name=name, kind=kind, go_kind=go_kind, schema=schema, index=self)


def component_ref(schema: Mapping[str, Any]) -> str:
    """The component a schema points to, directly or through ``allOf``; "" if inline."""
    ref = schema.get("$ref")
    if not isinstance(ref, str):
        ref = None
        all_of = schema.get("allOf")
        if isinstance(all_of, list):
            for part in all_of:
                if isinstance(part, Mapping) and isinstance(part.get("$ref"), str):
                    ref = part["$ref"]
                    break
    if ref is None:
        return ""
    return ref[len(REF_PREFIX) :] if ref.startswith(REF_PREFIX) else ref


def _ext(prop: Mapping[str, Any], target: Mapping[str, Any], key: str) -> Any:
    """An extension of the property, else of the schema it refers to."""
    value = prop.get(key)
    return target.get(key) if value is None else value


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


_GO_NUMBER_KINDS = {"int32": "int32", "int64": "int64", "float": "float32", "double": "float64"}


def _kinds(schema: Mapping[str, Any], *, named: bool) -> tuple[str, str]:
    kind = schema.get("type")
    if kind == "array":
        return "list", "slice"
    if kind == "object" or "properties" in schema or "additionalProperties" in schema:
        if "properties" not in schema and isinstance(schema.get("additionalProperties"), dict):
            return "map", "map"
        return "object", "struct"
    if kind in ("string", "integer", "number", "boolean") or "oneOf" in schema:
        if named:  # Quantity, IntOrString, Time ... are Go structs serialized as scalars
            return "primitive", "struct"
        if kind == "boolean":
            return "primitive", "bool"
        if kind in ("integer", "number"):
            default = "int64" if kind == "integer" else "float64"
            return "primitive", _GO_NUMBER_KINDS.get(_text(schema.get("format")), default)
        return "primitive", "string"
    return "unknown", "interface"
