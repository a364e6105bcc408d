"""Server-side field validation: unknown and duplicate JSON fields, reported as the apiserver does.

Why this module exists: kubectl 1.27+ sends ``fieldValidation=Strict`` on ``create -f``,
``apply``, ``replace`` and ``edit``; without the parameter the apiserver uses ``Warn``
(``fieldValidation()`` in ``k8s.io/apiserver/pkg/endpoints/handlers/rest.go``). This mirrors:

* create and update: ``sigs.k8s.io/json`` ``UnmarshalStrict`` of the body into the Go struct.
  A key that is no field is ``unknown field "<path>"``; a key repeated in a struct, map or
  untyped object is ``duplicate field "<path>"``; in document order, deduplicated, at most 100.
  Paths join keys with ``.`` and indexes as ``[i]``: ``spec.containers[0].foo``,
  ``metadata.labels.app``. Strict: 400 ``<Kind> in version "<v>" cannot be handled as a <Kind>:
  strict decoding error: <e1>, <e2>`` (``transformDecodeError``); Warn: one ``Warning: 299 -
  "<e>"`` header each; Ignore: no check.
* patch (``patch.go``): the duplicates of the body (``json patch <e>`` for a JSON patch's
  operations), then the unknown fields of the patched object; Strict: 422 `` "" is invalid:
  patch: Invalid value: "<patched JSON>": strict decoding error: ...``. A strategic merge patch
  uses ``FromUnstructuredWithValidation``: sorted, unescaped errors without map keys in the
  path, and Go's ``%+v`` of the patch map as the value.
* ``Validate{Create,Update,Patch}Options``: any other value is a 422 ``fieldValidation:
  Unsupported value: "x": supported values: "", "Ignore", "Strict", "Warn"``.

Schemas are a kind's OpenAPI v3 components, read as the Go types decode: ``properties`` is a
struct, ``additionalProperties`` a map, ``items`` a list, ``type: object`` alone an empty
struct; ``FieldsV1`` and ``RawExtension`` (custom ``UnmarshalJSON``), ``{}`` schemas,
IntOrString, Quantity and scalars are opaque, never looked into.
``x-kubernetes-preserve-unknown-fields`` accepts any key; ``x-kubernetes-embedded-resource``
adds apiVersion, kind and metadata.

Besides reporting them, `drop_unknown_fields` removes unknown fields from a built-in object
before it is stored, as decoding into the Go type does. Apply patches (structured-merge-diff's
``field not declared in schema``) and YAML bodies are not covered. A schema root is compiled
once and cached; checking a ConfigMap takes a few microseconds, a three-container Deployment a
few tens.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from enum import Enum
from typing import Any

import orjson

from kcp_edge.apimachinery import errors
from kcp_edge.apimachinery.mergepatch import go_v
from kcp_edge.apimachinery.names import FIELD_VALUE_NOT_SUPPORTED, FieldError, go_quote
from kcp_edge.apimachinery.names import invalid as invalid_field

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"

MAX_STRICT_ERRORS = 100
"""``sigs.k8s.io/json`` stops collecting strict errors at 100."""

OPAQUE_COMPONENTS = frozenset(
    {
        "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1",
        "io.k8s.apimachinery.pkg.runtime.RawExtension",
    }
)
"""``type: object`` components whose Go type decodes itself (raw bytes): nothing is checked."""

_OBJECT_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
_OPTIONS_KINDS = {"create": "CreateOptions", "update": "UpdateOptions", "patch": "PatchOptions"}
_SUPPORTED_DETAIL = 'supported values: "", "Ignore", "Strict", "Warn"'
UNKNOWN = "unknown field"
DUPLICATE = "duplicate field"


class FieldValidation(str, Enum):
    """The ``fieldValidation`` directive of a create, update or patch."""

    STRICT = "Strict"
    WARN = "Warn"
    IGNORE = "Ignore"


def parse_directive(value: str | None, *, verb: str = "create") -> FieldValidation:
    """The directive of the first ``fieldValidation`` query value (none: Warn), or a 422."""
    if not value:
        return FieldValidation.WARN
    try:
        return FieldValidation(value)
    except ValueError:
        pass
    error = FieldError(FIELD_VALUE_NOT_SUPPORTED, "fieldValidation", value, _SUPPORTED_DETAIL)
    kind = _OPTIONS_KINDS.get(verb, "CreateOptions")
    raise errors.invalid(kind, "", [error.cause()], group="meta.k8s.io")


_LEAF, _ANY, _STRUCT, _MAP, _LIST = range(5)


class _Node:
    """One schema node as the Go decoder sees it; ``trivial``: nothing below can be unknown."""

    __slots__ = ("child", "fields", "kind", "preserve", "trivial")

    def __init__(self, kind: int = _LEAF) -> None:
        self.kind = kind
        self.fields: dict[str, _Node] = {}
        self.child: _Node | None = None
        self.preserve = False
        self.trivial = kind in (_LEAF, _ANY)


_LEAF_NODE = _Node(_LEAF)
_ANY_NODE = _Node(_ANY)
_ANY_NODE.child = _ANY_NODE


class _Compiler:
    def __init__(self, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        self.schemas = schemas
        self.named: dict[str, _Node] = {}
        self.built: list[_Node] = []

    def node(self, schema: Any) -> _Node:
        if not isinstance(schema, Mapping):
            return _ANY_NODE if schema is True else _LEAF_NODE
        name = _ref_name(schema)
        if name is None:
            return self.fill(_Node(), schema)
        if name in self.named:
            return self.named[name]
        target = self.schemas.get(name)
        if name in OPAQUE_COMPONENTS or not isinstance(target, Mapping):
            return _LEAF_NODE
        node = self.named[name] = _Node()
        return self.fill(node, target)

    def fill(self, node: _Node, schema: Mapping[str, Any]) -> _Node:
        self.built.append(node)
        props = schema.get("properties")
        embedded = bool(schema.get("x-kubernetes-embedded-resource"))
        preserve = bool(schema.get("x-kubernetes-preserve-unknown-fields"))
        extra = schema.get("additionalProperties")
        if schema.get("x-kubernetes-int-or-string"):
            node.kind = _LEAF
        elif isinstance(props, Mapping) or embedded:
            node.kind, node.preserve = _STRUCT, preserve
            for key, sub in (props or {}).items():
                node.fields[key] = self.node(sub)
            if embedded:
                node.fields.setdefault("apiVersion", _LEAF_NODE)
                node.fields.setdefault("kind", _LEAF_NODE)
                node.fields.setdefault("metadata", self.node({"$ref": _OBJECT_META}))
        elif preserve:
            node.kind = _ANY
        elif isinstance(extra, Mapping) or extra is True:
            node.kind, node.child = _MAP, self.node(extra) if extra else _ANY_NODE
        elif schema.get("type") == "object":
            node.kind = _STRUCT
        elif schema.get("type") == "array":
            node.kind, node.child = _LIST, self.node(schema.get("items", True))
        node.trivial = node.kind in (_LEAF, _ANY)
        return node

    def finish(self) -> None:
        """Maps and lists of trivial nodes are trivial too (computed once the cycles are tied)."""
        changed = True
        while changed:
            changed = False
            for node in self.built:
                child = node.child
                if not node.trivial and node.kind in (_MAP, _LIST) and child and child.trivial:
                    node.trivial = changed = True


def _ref_name(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    if ref is None:
        all_of = schema.get("allOf")
        if isinstance(all_of, Sequence) and len(all_of) == 1 and isinstance(all_of[0], Mapping):
            ref = all_of[0].get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


_COMPILED: dict[tuple[int, str], tuple[Mapping[str, Any], _Node]] = {}
_CACHE_LIMIT = 1024


def _compiled(schemas: Mapping[str, Mapping[str, Any]], root: str) -> _Node:
    """The compiled schema of ``root``, cached per (schemas mapping, root); the entry pins it."""
    key = (id(schemas), root)
    hit = _COMPILED.get(key)
    if hit is not None and hit[0] is schemas:
        return hit[1]
    compiler = _Compiler(schemas)
    node = compiler.node({"$ref": root})
    compiler.finish()
    if len(_COMPILED) >= _CACHE_LIMIT:
        _COMPILED.clear()
    _COMPILED[key] = (schemas, node)
    return node


class _Pairs:
    """A JSON object with its keys as written, repeats included (``object_pairs_hook``)."""

    __slots__ = ("items",)

    def __init__(self, items: list[tuple[str, Any]]) -> None:
        self.items = items


_CONTAINERS = (dict, list, _Pairs)
_JSON = (dict, list)
MAX_DEPTH = 256
"""Nesting below which nothing is checked (Go checks to 10000; no real object gets near)."""


def _events(
    value: Any, root: _Node, *, pairs: bool = False, map_keys: bool = True
) -> list[tuple[str, str]]:
    """``(UNKNOWN|DUPLICATE, path)`` in Go's decoding order; a `_pairs_tree` (``pairs``) is
    also checked for repeated keys, everywhere but in opaque nodes, as Go's decoder does."""
    out: list[tuple[str, str]] = []

    def walk(value: Any, node: _Node, prefix: str, depth: int) -> None:
        kind = node.kind
        if type(value) is list:
            item_node = node.child or _ANY_NODE
            if kind not in (_LIST, _ANY) or item_node.kind == _LEAF:
                return
            if item_node.trivial and not pairs:
                return
            for index, item in enumerate(value):
                if type(item) in _CONTAINERS and depth < MAX_DEPTH:
                    walk(item, item_node, f"{prefix}[{index}]", depth + 1)
            return
        if kind == _LIST:
            return
        seen: set[str] | None = None
        if type(value) is _Pairs:
            entries, seen = value.items, set()
        else:
            entries = value.items()
        struct, fields, preserve = kind == _STRUCT, node.fields, node.preserve
        for key, item in entries:
            child: _Node | None = fields.get(key) if struct else node.child
            if child is None:
                if struct and not preserve:
                    out.append((UNKNOWN, f"{prefix}.{key}" if prefix else key))
                    continue
                child = _ANY_NODE
            elif not pairs and (child.trivial or type(item) not in _CONTAINERS):
                continue
            path = f"{prefix}.{key}" if prefix else key
            if seen is not None:
                if key in seen:
                    out.append((DUPLICATE, path))
                seen.add(key)
            if child.kind == _LEAF or (child.trivial and not pairs):
                continue
            if type(item) in _CONTAINERS and depth < MAX_DEPTH:
                walk(item, child, path if map_keys or struct else prefix, depth + 1)

    if type(value) in _CONTAINERS and root.kind != _LEAF and (pairs or not root.trivial):
        walk(value, root, "", 0)
    return out


def _go_messages(events: Sequence[tuple[str, str]]) -> list[str]:
    """``sigs.k8s.io/json`` strict errors: deduplicated, at most 100, path ``strconv.Quote``d."""
    messages: list[str] = []
    seen: set[tuple[str, str]] = set()
    for event in events:
        if len(messages) >= MAX_STRICT_ERRORS:
            break
        if event not in seen:
            seen.add(event)
            messages.append(f"{event[0]} {go_quote(event[1])}")
    return messages


_KEY_SPACE = re.compile(rb'"[ \t\r\n]+:')


def _key_count(text: bytes) -> int:
    return text.count(b'":') - text.count(b'\\":')


def _may_repeat_keys(raw: bytes, obj: Any) -> bool:
    """False when ``raw`` holds as many keys as ``obj``: a key is a ``"`` that no backslash
    precedes followed by ``:`` (a key ending in ``\\\\`` or spaced from its colon: True)."""
    if b'\\\\"' in raw or _KEY_SPACE.search(raw) is not None:
        return True
    try:
        dumped = orjson.dumps(obj)
    except TypeError:
        return True
    return b'\\\\"' in dumped or _key_count(raw) != _key_count(dumped)


def _pairs_tree(raw: bytes) -> Any:
    try:
        return json.loads(raw, object_pairs_hook=_Pairs)
    except (ValueError, RecursionError):
        return None


def _as_bytes(raw: bytes | str) -> bytes:
    return raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw


def unknown_fields(obj: Any, *, schemas: Mapping[str, Mapping[str, Any]], root: str) -> list[str]:
    """Paths (``spec.containers[0].foo``) of the fields ``root`` does not declare, in order."""
    found = [path for what, path in _events(obj, _compiled(schemas, root)) if what == UNKNOWN]
    return list(dict.fromkeys(found))


def drop_unknown_fields(obj: Any, *, schemas: Mapping[str, Mapping[str, Any]], root: str) -> None:
    """Remove from ``obj``, in place, the fields `unknown_fields` reports: Go's decoder ignores
    them, so the object the apiserver stores never has them. Iterative, to `MAX_DEPTH`."""
    node = _compiled(schemas, root)
    if type(obj) not in _JSON or node.trivial:
        return
    pending: list[tuple[Any, _Node, int]] = [(obj, node, 0)]
    while pending:
        value, node, depth = pending.pop()
        if type(value) is list:
            child = node.child or _ANY_NODE
            if node.kind == _LIST and not child.trivial and depth < MAX_DEPTH:
                pending.extend((item, child, depth + 1) for item in value if type(item) in _JSON)
            continue
        if node.kind == _LIST:
            continue
        struct = node.kind == _STRUCT
        if struct and not node.preserve:
            for key in [key for key in value if key not in node.fields]:
                del value[key]
        if depth >= MAX_DEPTH:
            continue
        for key, item in value.items():
            below = node.fields.get(key) if struct else node.child
            if below is not None and not below.trivial and type(item) in _JSON:
                pending.append((item, below, depth + 1))


def duplicate_fields(raw: bytes | str) -> list[str]:
    """Paths of the keys repeated in a JSON body, as ``UnmarshalStrict`` into a Go map finds
    them (the untyped reading of patch bodies and custom resources)."""
    data = _as_bytes(raw)
    try:
        if not _may_repeat_keys(data, orjson.loads(data)):
            return []
    except orjson.JSONDecodeError:
        pass
    tree = _pairs_tree(data)
    found = [path for what, path in _events(tree, _ANY_NODE, pairs=True) if what == DUPLICATE]
    return list(dict.fromkeys(found))


def strict_errors(
    obj: Any,
    *,
    schemas: Mapping[str, Mapping[str, Any]],
    root: str,
    raw: bytes | str | None = None,
) -> list[str]:
    """The strict errors of a create or update body: ``obj`` as decoded, unchanged, and
    ``raw`` for a JSON body so that repeated keys are found too."""
    node = _compiled(schemas, root)
    if raw is not None:
        data = _as_bytes(raw)
        if _may_repeat_keys(data, obj):
            tree = _pairs_tree(data)
            if tree is not None:
                return _go_messages(_events(tree, node, pairs=True))
    return _go_messages(_events(obj, node))


_JSON_PATCH_OPS = _Node(_LIST)
_JSON_PATCH_OPS.child = _Node(_STRUCT)
_JSON_PATCH_OPS.child.fields.update(
    op=_LEAF_NODE, path=_LEAF_NODE, value=_ANY_NODE, **{"from": _LEAF_NODE}
)


def patch_strict_errors(
    patched: Any,
    *,
    schemas: Mapping[str, Mapping[str, Any]],
    root: str,
    patch: bytes | str,
    patch_type: str,
) -> list[str]:
    """The strict errors of a JSON, merge or strategic merge patch body ``patch`` whose result
    is ``patched``, in the handler's order."""
    data = _as_bytes(patch)
    if patch_type == JSON_PATCH:
        events = _events(_pairs_tree(data), _JSON_PATCH_OPS, pairs=True)
        applied = [f"json patch {message}" for message in _go_messages(events)]
    else:
        applied = [f"{DUPLICATE} {go_quote(path)}" for path in duplicate_fields(data)]
    node = _compiled(schemas, root)
    if patch_type == STRATEGIC_PATCH:
        events = _events(patched, node, map_keys=False)
        return applied + sorted(f'{what} "{path}"' for what, path in events)
    return applied + _go_messages(_events(patched, node))


def patch_invalid_value(patch_type: str, *, patched: Any = None, patch: Any = None) -> str:
    """The ``Invalid value`` a Strict patch error shows: the patched object as compact JSON, or
    for a strategic merge patch Go's ``%+v`` of the decoded patch map."""
    if patch_type == STRATEGIC_PATCH:
        return go_v(patch)
    return orjson.dumps(patched).decode()


def outcome(
    directive: FieldValidation,
    problems: Sequence[str],
    *,
    kind: str,
    version: str,
    verb: str,
    invalid_value: str = "",
) -> tuple[errors.StatusError | None, list[str]]:
    """``(error to raise or None, warning texts)``: Strict gives 400 on create and update
    (``version`` is the body's: ``v1``), 422 on patch (``invalid_value``: `patch_invalid_value`);
    Warn one warning per problem (a header each, see `warning_header`); Ignore nothing."""
    if not problems or directive is FieldValidation.IGNORE:
        return None, []
    if directive is FieldValidation.WARN:
        return None, list(problems)
    text = "strict decoding error: " + ", ".join(problems)
    if verb != "patch":
        message = f"{kind} in version {go_quote(version)} cannot be handled as a {kind}: {text}"
        return errors.bad_request(message), []
    error = invalid_field("patch", invalid_value, text)
    status = errors.StatusError(
        code=422,
        reason="Invalid",
        message=f' "" is invalid: {error}',
        details={"causes": [error.cause()]},
    )
    return status, []


def warning_header(text: str) -> str | None:
    """``net.NewWarningHeader(299, "-", text)``; None for text with control characters, which the
    apiserver drops."""
    if any(ch < " " or "\x7f" <= ch <= "\x9f" for ch in text):
        return None
    return '299 - "' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'
