"""The shape of a kind's values as server-side apply sees it, read from OpenAPI v3 schemas.

Why this module exists: server-side apply and ``managedFields`` need to know, for every field,
whether a map merges key by key or is replaced whole, whether a list is atomic, a set of
scalars or a map of items keyed by some of their fields, and which map keys are declared
struct fields (a declared field is not owned by itself, a map entry is). kube-apiserver gets
this from ``k8s.io/kube-openapi/pkg/schemaconv``, which turns the OpenAPI models into a
structured-merge-diff schema; `TypeNode` is the same knowledge read lazily from the schema
dicts we already have:

* built-in kinds (`builtin_types`): the components of the bundled documents, ``$ref`` (often
  wrapped as ``allOf: [{$ref}]``) resolved, extensions read on the property first and then on
  the referred schema. A list is what ``x-kubernetes-list-type`` says (``map`` keyed by
  ``x-kubernetes-list-map-keys``); without it, ``x-kubernetes-patch-strategy: merge`` makes a
  map keyed by ``x-kubernetes-patch-merge-key`` (a set when there is no key), as schemaconv
  does for Go types; anything else is atomic.
* custom resources (`inline_types`): a CRD version's ``openAPIV3Schema``; lists are atomic
  unless ``x-kubernetes-list-type`` says otherwise, the patch extensions do not exist there.
  ``metadata`` at the root (and in ``x-kubernetes-embedded-resource`` objects) is ObjectMeta,
  as the apiserver builds the CR's OpenAPI.

Maps are granular unless ``x-kubernetes-map-type: atomic``. Schemas that say nothing usable
(no type, ``x-kubernetes-int-or-string``, ``x-kubernetes-preserve-unknown-fields`` without
properties, an object with neither properties nor additionalProperties) are *untyped*, like
structured-merge-diff's ``__untyped_deduced_``: an object value is a granular map of untyped
values, a list is atomic, anything else a leaf.

Built-in kinds also report their Go zero value (`TypeNode.zero_fields`): structs that are not
pointers (``default: {}`` in the schema) and required lists and maps are always serialized by
Go, so upstream never sees them appear or disappear; `managedfields` fills them in before
comparing two objects so that ``.`` entries match the apiserver's.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from kcp_edge.apimachinery.patchmeta import component_ref

SCALAR = "scalar"
MAP = "map"
LIST = "list"
UNTYPED = "untyped"

ATOMIC = "atomic"
GRANULAR = "granular"
SET = "set"

LEAF = "leaf"
"""What `TypeNode.shape_of` answers for scalars, atomic maps and lists, and mismatched values."""

_SCALAR_TYPES = frozenset({"string", "integer", "number", "boolean"})
_EMPTY: Mapping[str, Any] = {}
_MAX_CACHED_RESOLVERS = 8

_STRING: Mapping[str, Any] = {"type": "string"}
_STRING_MAP: Mapping[str, Any] = {"type": "object", "additionalProperties": _STRING}
OBJECT_META_SCHEMA: Mapping[str, Any] = {
    "type": "object",
    "properties": {
        "annotations": _STRING_MAP,
        "creationTimestamp": _STRING,
        "deletionGracePeriodSeconds": {"type": "integer"},
        "deletionTimestamp": _STRING,
        "finalizers": {
            "type": "array",
            "items": _STRING,
            "x-kubernetes-list-type": "set",
        },
        "generateName": _STRING,
        "generation": {"type": "integer"},
        "labels": _STRING_MAP,
        "managedFields": {
            "type": "array",
            "items": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
            "x-kubernetes-list-type": "atomic",
        },
        "name": _STRING,
        "namespace": _STRING,
        "ownerReferences": {
            "type": "array",
            "items": {
                "type": "object",
                "x-kubernetes-map-type": "atomic",
                "properties": {
                    "apiVersion": _STRING,
                    "blockOwnerDeletion": {"type": "boolean"},
                    "controller": {"type": "boolean"},
                    "kind": _STRING,
                    "name": _STRING,
                    "uid": _STRING,
                },
            },
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["uid"],
        },
        "resourceVersion": _STRING,
        "selfLink": _STRING,
        "uid": _STRING,
    },
}
"""ObjectMeta as server-side apply sees it, for custom resources (built-ins use their own)."""

_TYPE_META: Mapping[str, Mapping[str, Any]] = {
    "apiVersion": _STRING,
    "kind": _STRING,
    "metadata": OBJECT_META_SCHEMA,
}


class TypeNode:
    """What server-side apply knows about the values at one place of an object.

    ``kind`` is `SCALAR`, `MAP` (a struct or a map), `LIST` or `UNTYPED`. Children are resolved
    on first use and cached: one node per declared property, one shared by every entry of a
    map, so client-chosen keys cannot grow the cache.
    """

    __slots__ = (
        "_declared",
        "_entry",
        "_fields",
        "_items",
        "_resolver",
        "_zero",
        "kind",
        "list_map_keys",
        "list_type",
        "map_type",
        "preserve_unknown",
        "prop",
        "target",
        "walks_list",
        "walks_map",
        "walks_null_map",
    )

    def __init__(
        self,
        resolver: _Resolver | None,
        prop: Mapping[str, Any],
        target: Mapping[str, Any],
        *,
        preserve_unknown: bool = False,
        extra_fields: Mapping[str, Mapping[str, Any]] = _EMPTY,
    ) -> None:
        self._resolver = resolver
        self.prop = prop
        self.target = target
        self.preserve_unknown = preserve_unknown or (
            target.get("x-kubernetes-preserve-unknown-fields") is True
        )
        self.kind = _kind_of(target) if resolver is not None else UNTYPED
        properties = target.get("properties")
        declared = dict(properties) if isinstance(properties, Mapping) else {}
        declared.update(extra_fields)
        if target.get("x-kubernetes-embedded-resource") is True:
            declared.update({k: v for k, v in _TYPE_META.items() if k not in declared})
        if declared and self.kind == UNTYPED and resolver is not None:
            self.kind = MAP
        self._declared: Mapping[str, Mapping[str, Any]] = declared
        self._fields: dict[str, TypeNode] = {}
        self._entry: TypeNode | None = None
        self._items: TypeNode | None = None
        self._zero: Mapping[str, Any] | None = None
        self.list_type, self.list_map_keys = self._list_semantics()
        self.map_type = self._map_semantics()
        # `shape_of`, answered once per node: the walks ask it for every value they visit.
        self.walks_map = self.kind in (MAP, UNTYPED) and self.map_type != ATOMIC
        """Whether an object value here is walked key by key (`MAP`), not as a `LEAF`."""
        self.walks_list = self.kind == LIST and self.list_type in (SET, MAP)
        """Whether a list value here is walked item by item (`LIST`), not as a `LEAF`."""
        self.walks_null_map = self.kind == MAP and self.map_type != ATOMIC
        """Whether ``null`` here walks as an empty granular map."""

    def __repr__(self) -> str:
        return f"<TypeNode {self.kind} list={self.list_type!r} map={self.map_type!r}>"

    @property
    def is_scalar(self) -> bool:
        return self.kind == SCALAR

    def declares(self, name: str) -> bool:
        """Whether ``name`` is a declared (struct) field here: such fields are not owned as
        themselves, only through what they hold; map entries are."""
        return name in self._declared

    @property
    def closed(self) -> bool:
        """Whether a key that is not declared is an error (``field not declared in schema``):
        a struct with properties and no additionalProperties, neither it nor an inline schema
        above it preserving unknown fields (schemaconv passes that flag down)."""
        if self.kind != MAP or not self._declared or self.preserve_unknown:
            return False
        extra = self.target.get("additionalProperties")
        return not (extra is True or isinstance(extra, Mapping))

    def field(self, name: str) -> TypeNode:
        """The node of property ``name``, or of any entry of a map (untyped if unknown)."""
        cached = self._fields.get(name)
        if cached is not None:
            return cached
        resolver = self._resolver
        if resolver is None:
            return self
        prop = self._declared.get(name)
        if isinstance(prop, Mapping):
            node = self._fields[name] = resolver.node(prop, self.preserve_unknown)
            return node
        if self._entry is None:
            extra = self.target.get("additionalProperties")
            self._entry = (
                resolver.node(extra, self.preserve_unknown)
                if isinstance(extra, Mapping)
                else resolver.untyped
            )
        return self._entry

    @property
    def items(self) -> TypeNode:
        """The node of a list's elements (untyped if the schema does not say)."""
        if self._items is None:
            resolver = self._resolver
            if resolver is None:
                return self
            items = self.target.get("items")
            self._items = (
                resolver.node(items, self.preserve_unknown)
                if isinstance(items, Mapping)
                else resolver.untyped
            )
        return self._items

    def default_of(self, name: str) -> tuple[bool, Any]:
        """``(True, value)`` if property ``name`` has a schema default (used for missing
        list-map keys, as structured-merge-diff does), else ``(False, None)``."""
        prop = self._declared.get(name)
        if not isinstance(prop, Mapping):
            return False, None
        if "default" in prop:
            return True, prop["default"]
        target = self._resolver.target_of(prop) if self._resolver is not None else _EMPTY
        if "default" in target:
            return True, target["default"]
        return False, None

    def zero_fields(self) -> Mapping[str, Any]:
        """Fields Go always serializes for a struct of a built-in kind: ``{}`` for structs that
        are not pointers, ``null`` for required lists and maps. Empty for custom resources."""
        if self._zero is not None:
            return self._zero
        resolver = self._resolver
        if resolver is None or not resolver.builtin or self.kind != MAP:
            return _EMPTY
        required = self.target.get("required")
        required_names = set(required) if isinstance(required, list) else set()
        zero: dict[str, Any] = {}
        for name, prop in self._declared.items():
            child = self.field(name)
            if isinstance(prop.get("default"), Mapping) and child.kind == MAP:
                zero[name] = {}
            elif name in required_names and child.kind in (MAP, LIST):
                zero[name] = None
        self._zero = zero
        return zero

    def shape_of(self, value: Any) -> str:
        """How a value is walked here: `MAP` (granular), `LIST` (a set or a keyed list) or
        `LEAF` (scalars, atomic maps and lists, values that do not fit the schema).
        ``null`` on a granular map or an associative list walks as that empty container."""
        if isinstance(value, dict):
            return MAP if self.walks_map else LEAF
        if isinstance(value, list):
            return LIST if self.walks_list else LEAF
        if value is None:
            if self.walks_null_map:
                return MAP
            if self.walks_list:
                return LIST
        return LEAF

    def _list_semantics(self) -> tuple[str, tuple[str, ...]]:
        if self.kind == UNTYPED:
            return ATOMIC, ()
        if self.kind != LIST:
            return "", ()
        list_type = self._ext("x-kubernetes-list-type")
        if list_type == MAP:
            keys = self._ext("x-kubernetes-list-map-keys")
            names = tuple(k for k in keys if isinstance(k, str)) if isinstance(keys, list) else ()
            return (MAP, names) if names else (ATOMIC, ())
        if list_type in (SET, ATOMIC):
            return str(list_type), ()
        if self._resolver is not None and self._resolver.builtin:
            strategy = self._ext("x-kubernetes-patch-strategy")
            if strategy in ("merge", "merge,retainKeys"):
                key = self._ext("x-kubernetes-patch-merge-key")
                return (MAP, (key,)) if isinstance(key, str) and key else (SET, ())
        return ATOMIC, ()

    def _map_semantics(self) -> str:
        if self.kind == UNTYPED:
            return GRANULAR
        if self.kind != MAP:
            return ""
        return ATOMIC if self._ext("x-kubernetes-map-type") == ATOMIC else GRANULAR

    def _ext(self, key: str) -> Any:
        """An extension of the property, else of the schema it refers to."""
        value = self.prop.get(key)
        return self.target.get(key) if value is None else value


def _kind_of(schema: Mapping[str, Any]) -> str:
    if schema.get("x-kubernetes-int-or-string") is True:
        return UNTYPED
    kind = schema.get("type")
    if kind == "array":
        return LIST
    extra = schema.get("additionalProperties")
    if isinstance(schema.get("properties"), Mapping) or isinstance(extra, Mapping):
        return MAP
    if kind in _SCALAR_TYPES:
        return SCALAR
    return UNTYPED


class _Resolver:
    """Builds and caches the nodes of one set of schemas (components, or one CRD version)."""

    def __init__(self, components: Mapping[str, Any], *, builtin: bool) -> None:
        self.components = components
        self.builtin = builtin
        self.untyped = TypeNode(None, _EMPTY, _EMPTY)
        self._nodes: dict[tuple[int, bool], TypeNode] = {}
        self._roots: dict[str, TypeNode] = {}

    def node(self, prop: Mapping[str, Any], preserve_unknown: bool = False) -> TypeNode:
        """The node of a property (or ``items`` / ``additionalProperties``) schema.

        ``preserve_unknown`` is the flag of the schema above; it carries into inline schemas
        only, a ``$ref`` starts afresh (schemaconv converts named types on their own).
        Nodes are cached by the identity of the schema dict; the node keeps the dict alive,
        so the identity cannot be reused while cached.
        """
        inherited = preserve_unknown and not component_ref(prop)
        key = (id(prop), inherited)
        cached = self._nodes.get(key)
        if cached is not None:
            return cached
        node = TypeNode(self, prop, self.target_of(prop), preserve_unknown=inherited)
        self._nodes[key] = node
        return node

    def named(self, name: str) -> TypeNode:
        """The node of a whole object of component ``name`` (untyped if unknown)."""
        cached = self._roots.get(name)
        if cached is None:
            target = self.components.get(name)
            if not isinstance(target, Mapping):
                target = None
            cached = self.untyped if target is None else TypeNode(self, _EMPTY, target)
            self._roots[name] = cached
        return cached

    def root(
        self, schema: Mapping[str, Any], *, extra: Mapping[str, Mapping[str, Any]]
    ) -> TypeNode:
        return TypeNode(self, schema, schema, extra_fields=extra)

    def target_of(self, prop: Mapping[str, Any]) -> Mapping[str, Any]:
        """The schema a property refers to (directly or through ``allOf``), else itself."""
        name = component_ref(prop)
        if not name:
            return prop
        target = self.components.get(name)
        return target if isinstance(target, Mapping) else _EMPTY


_RESOLVERS: dict[int, tuple[Mapping[str, Any], _Resolver]] = {}


def builtin_types(components: Mapping[str, Mapping[str, Any]], root: str) -> TypeNode:
    """The root node of a built-in kind, e.g. ``io.k8s.api.core.v1.ConfigMap``.

    Resolvers are kept per components mapping (a few at most), so the nodes of ``Container``
    are built once whichever workload kind refers to them. An unknown root is untyped.
    """
    entry = _RESOLVERS.get(id(components))
    if entry is None or entry[0] is not components:
        if len(_RESOLVERS) >= _MAX_CACHED_RESOLVERS:
            _RESOLVERS.clear()
        entry = (components, _Resolver(components, builtin=True))
        _RESOLVERS[id(components)] = entry
    return entry[1].named(root)


def inline_types(schema: Mapping[str, Any]) -> TypeNode:
    """The root node of a custom resource, from its CRD version's ``openAPIV3Schema``."""
    resolver = _Resolver(_EMPTY, builtin=False)
    return resolver.root(schema, extra=_TYPE_META)
