"""Field paths and field sets, and their ``FieldsV1`` wire form in ``metadata.managedFields``.

Why this module exists: every entry of ``managedFields`` is a set of field paths; server-side
apply unions, subtracts and intersects them to find owners, conflicts and fields to prune,
and clients (kubectl's CSA-to-SSA upgrade) read and write them. This is the path and set
model of ``sigs.k8s.io/structured-merge-diff`` (``fieldpath``), restated:

* a path element is a field name (``f:name``), the key of an item of a keyed list
  (``k:{"containerPort":80,"protocol":"TCP"}``: the key fields as JSON, sorted by name), a
  value of a set (``v:"a"``) or an index into an atomic list (``i:0``);
* a set is a tree: at each node some elements are members (paths ending there) and some have
  children; a path can be both (``{".":{},"f:a":{}}``: ``.`` is "this node itself");
* ``FieldsV1`` orders elements as upstream does (field names, then keys, then values, then
  indexes; values ordered numbers < strings < booleans < lists < maps < null), writes JSON
  the way Go does (sorted object keys, ``<``, ``>``, ``&`` escaped), skips element types it
  does not know when reading, and rejects malformed ones with `FieldsError`;
* `set_of` is ``TypedValue.ToFieldSet``: every leaf, every item of a keyed list or set, and
  every map entry that is not a declared struct field, as `schematypes.TypeNode` says;
  `typed_errors` is the check an applied configuration must pass first (missing list-map
  keys, duplicate items, undeclared fields), with upstream's messages;
* `appeared` is what a comparison reports under a value that appears or disappears whole,
  built as a tree directly, and `appeared_fields_v1` the ``FieldsV1`` of a create in one
  walk: the field manager's hot paths (``shared_union``/``shared_difference`` likewise share
  subtrees instead of copying them, for sets nobody inserts into afterwards).

Exception tree::

    FieldsError(ValueError)   a malformed FieldsV1 document, or a list item with no path
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from kcp_edge.apimachinery.names import go_quote
from kcp_edge.apimachinery.schematypes import LEAF, LIST, MAP, TypeNode

FIELD = "f"
KEY = "k"
VALUE = "v"
INDEX = "i"
_KIND_ORDER = {FIELD: 0, KEY: 1, VALUE: 2, INDEX: 3}
_INTEGER = re.compile(r"[+-]?[0-9]+")
_EXPONENT_PAD = re.compile(r"e([+-])0*([0-9])")


class FieldsError(ValueError):
    """A ``FieldsV1`` document that does not parse, or a list item that has no path."""


# --- Go's JSON -------------------------------------------------------------------------------

_HTML_ESCAPES = {"<": "\\u003c", ">": "\\u003e", "&": "\\u0026", "\u2028": "\\u2028"}
_HTML_ESCAPES["\u2029"] = "\\u2029"
_HTML = re.compile("[<>&\u2028\u2029]")


def go_json(value: Any) -> str:
    """Compact JSON as Go's ``encoding/json`` writes a decoded value: object keys sorted,
    HTML characters escaped, integral floats without a fraction."""
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return _go_json_float(value)
    if isinstance(value, str):
        return _go_json_string(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(go_json(v) for v in value) + "]"
    if isinstance(value, Mapping):
        items = (f"{_go_json_string(str(k))}:{go_json(value[k])}" for k in sorted(value))
        return "{" + ",".join(items) + "}"
    raise TypeError(f"not a JSON value: {type(value).__name__}")


def _go_json_string(text: str) -> str:
    encoded = orjson.dumps(text).decode()
    if _HTML.search(encoded) is None:
        return encoded
    return _HTML.sub(lambda m: _HTML_ESCAPES[m.group()], encoded)


def _go_json_float(value: float) -> str:
    """``strconv.AppendFloat(f, 'f' or 'e', -1, 64)`` as encoding/json picks the format."""
    magnitude = abs(value)
    if magnitude != 0 and (magnitude < 1e-6 or magnitude >= 1e21):
        return _EXPONENT_PAD.sub(r"e\1\2", repr(value))
    text = format(Decimal(repr(value)), "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def _go_v(value: Any) -> str:
    """``value.ToString``: how a key or set value appears in a printed path."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list):
        return "[" + ",".join(_go_v(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ";".join(f"{k}={_go_v(v)}" for k, v in value.items()) + "}"
    return str(value)


# --- path elements ---------------------------------------------------------------------------


class PathElement(NamedTuple):
    """One step of a path: ``kind`` is ``f``, ``k``, ``v`` or ``i``; ``text`` is the field
    name, or the canonical JSON of the key fields, the value, or the index."""

    kind: str
    text: str

    def serialize(self) -> str:
        """The ``FieldsV1`` key: ``f:name``, ``k:{...}``, ``v:...``, ``i:3``."""
        return f"{self.kind}:{self.text}"

    def describe(self) -> str:
        """``PathElement.String()``: ``.name``, ``[k=v,...]``, ``[=v]``, ``[3]``."""
        if self.kind == FIELD:
            return "." + self.text
        if self.kind == KEY:
            fields = _parsed(self.text)
            return "[" + ",".join(f"{k}={_go_v(v)}" for k, v in fields.items()) + "]"
        if self.kind == VALUE:
            return f"[={_go_v(_parsed(self.text))}]"
        return f"[{self.text}]"


Path = tuple[PathElement, ...]


def field_element(name: str) -> PathElement:
    return _cached_field(name) if type(name) is str else PathElement(FIELD, name)


@lru_cache(maxsize=16384)
def _cached_field(name: str) -> PathElement:
    return PathElement(FIELD, name)


def key_element(fields: Mapping[str, Any]) -> PathElement:
    """The element of a keyed-list item from its key fields (sorted by name, as upstream)."""
    try:
        return _cached_key(tuple((k, type(v).__name__, v) for k, v in sorted(fields.items())))
    except TypeError:  # an unhashable key value: rare enough not to cache
        return PathElement(KEY, go_json({k: fields[k] for k in sorted(fields)}))


def value_element(value: Any) -> PathElement:
    try:
        return _cached_value(type(value).__name__, value)
    except TypeError:
        return PathElement(VALUE, go_json(value))


# The type is part of the cache keys: True == 1 and hash(True) == hash(1).
@lru_cache(maxsize=8192)
def _cached_key(items: tuple[tuple[str, str, Any], ...]) -> PathElement:
    return PathElement(KEY, go_json({k: v for k, _t, v in items}))


@lru_cache(maxsize=8192)
def _cached_value(_type: str, value: Any) -> PathElement:
    return PathElement(VALUE, go_json(value))


def index_element(index: int) -> PathElement:
    return PathElement(INDEX, str(index))


def describe_path(path: Path) -> str:
    """``Path.String()``: e.g. ``.spec.containers[name="a"].image``."""
    return "".join(pe.describe() for pe in path)


def make_path(*parts: str | int | Mapping[str, Any]) -> Path:
    """A path from names (fields), mappings (keys) and ints (indexes); for tests and callers
    that name fixed paths such as reset fields."""
    out: list[PathElement] = []
    for part in parts:
        if isinstance(part, str):
            out.append(field_element(part))
        elif isinstance(part, int):
            out.append(index_element(part))
        else:
            out.append(key_element(part))
    return tuple(out)


def parse_element(text: str) -> PathElement | None:
    """A ``FieldsV1`` key as a path element; ``None`` for an unknown type (skipped, as
    upstream skips what a newer version might write). Raises `FieldsError` if malformed.
    Every write decodes the stored entries, so keys seen before are remembered."""
    return _parse_cached(text) if type(text) is str else _parse_element(text)


@lru_cache(maxsize=16384)
def _parse_cached(text: str) -> PathElement | None:
    return _parse_element(text)


def _parse_element(text: str) -> PathElement | None:
    if len(text) < 2:
        raise FieldsError("key must be 2 characters long:")
    if text[1] != ":":
        return None
    kind, body = text[0], text[2:]
    if kind == FIELD:
        return field_element(body)
    if kind == INDEX:
        if not _INTEGER.fullmatch(body):
            raise FieldsError(f'strconv.Atoi: parsing "{body}": invalid syntax')
        return index_element(int(body))
    if kind not in (KEY, VALUE):
        return None
    try:
        parsed = orjson.loads(body)
    except orjson.JSONDecodeError as err:
        raise FieldsError(f"parsing {text!r}: {err}") from err
    if kind == VALUE:
        return value_element(parsed)
    if not isinstance(parsed, dict):
        raise FieldsError(f"parsing {text!r}: a key must be a JSON object")
    return key_element(parsed)


@lru_cache(maxsize=4096)
def _parsed(text: str) -> Any:
    return orjson.loads(text)


def _value_order(value: Any) -> tuple[Any, ...]:
    """structured-merge-diff's total order of values: numbers (ints and floats together),
    strings, booleans, lists, maps, null."""
    if isinstance(value, bool):
        return (2, value)
    if isinstance(value, int | float):
        return (0, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list):
        return (3, tuple(_value_order(v) for v in value))
    if isinstance(value, dict):
        return (4, tuple((k, _value_order(value[k])) for k in sorted(value)))
    return (5,)


@lru_cache(maxsize=8192)
def _element_order(pe: PathElement) -> tuple[Any, ...]:
    rank = _KIND_ORDER.get(pe.kind, 4)
    if pe.kind == FIELD:
        return (rank, pe.text)
    if pe.kind == KEY:
        fields = _parsed(pe.text)
        return (rank, tuple((k, _value_order(fields[k])) for k in sorted(fields)))
    if pe.kind == VALUE:
        return (rank, _value_order(_parsed(pe.text)))
    return (rank, int(pe.text))


def _sorted(elements: Iterator[PathElement] | set[PathElement]) -> list[PathElement]:
    return sorted(elements, key=_element_order)


# --- sets ------------------------------------------------------------------------------------


class FieldSet:
    """A set of paths, as a tree of members and children (``fieldpath.Set``).

    The set operations return new sets; `insert` is for building one. Children are never
    left empty, so the ``FieldsV1`` form round-trips.
    """

    __slots__ = ("_children", "_members")

    def __init__(self) -> None:
        self._members: set[PathElement] = set()
        self._children: dict[PathElement, FieldSet] = {}

    @classmethod
    def of(cls, *paths: Path) -> FieldSet:
        out = cls()
        for path in paths:
            out.insert(path)
        return out

    def __repr__(self) -> str:
        return f"FieldSet({self.to_fields_v1()!r})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, FieldSet):
            return NotImplemented
        return self._members == other._members and self._children == other._children

    __hash__ = None  # type: ignore[assignment]

    @property
    def empty(self) -> bool:
        return not self._members and not self._children

    def insert(self, path: Path) -> None:
        """Add one path (the empty path is no field and is ignored)."""
        if not path:
            return
        node = self
        for pe in path[:-1]:
            child = node._children.get(pe)
            if child is None:
                child = node._children[pe] = FieldSet()
            node = child
        node._members.add(path[-1])

    def has(self, path: Path) -> bool:
        if not path:
            return False
        node: FieldSet | None = self
        for pe in path[:-1]:
            node = node._children.get(pe) if node is not None else None
            if node is None:
                return False
        return node is not None and path[-1] in node._members

    def has_member(self, pe: PathElement) -> bool:
        return pe in self._members

    def child(self, pe: PathElement) -> FieldSet:
        """The paths under ``pe``, without it (``WithPrefix``); empty if none. Read only."""
        found = self._children.get(pe)
        return found if found is not None else FieldSet()

    def copy(self) -> FieldSet:
        out = FieldSet()
        out._members = set(self._members)
        out._children = {pe: child.copy() for pe, child in self._children.items()}
        return out

    def union(self, other: FieldSet) -> FieldSet:
        out = self.copy()
        out._members |= other._members
        for pe, child in other._children.items():
            mine = out._children.get(pe)
            out._children[pe] = child.copy() if mine is None else mine.union(child)
        return out

    def intersection(self, other: FieldSet) -> FieldSet:
        out = FieldSet()
        out._members = self._members & other._members
        for pe, child in self._children.items():
            theirs = other._children.get(pe)
            if theirs is not None:
                both = child.intersection(theirs)
                if not both.empty:
                    out._children[pe] = both
        return out

    def difference(self, other: FieldSet) -> FieldSet:
        """The paths of this set not in ``other``; a removed member keeps its children."""
        out = FieldSet()
        out._members = self._members - other._members
        for pe, child in self._children.items():
            theirs = other._children.get(pe)
            rest = child.copy() if theirs is None else child.difference(theirs)
            if not rest.empty:
                out._children[pe] = rest
        return out

    def recursive_difference(self, other: FieldSet) -> FieldSet:
        """Like `difference`, but a member of ``other`` also removes everything under it."""
        out = FieldSet()
        out._members = self._members - other._members
        for pe, child in self._children.items():
            if pe in other._members:
                continue
            theirs = other._children.get(pe)
            rest = child.copy() if theirs is None else child.recursive_difference(theirs)
            if not rest.empty:
                out._children[pe] = rest
        return out

    def shared_union(self, other: FieldSet) -> FieldSet:
        """`union` that may share subtrees with both sets instead of copying them: for sets
        that nobody inserts into afterwards (the field manager's, which only combines)."""
        if other.empty:
            return self
        if self.empty:
            return other
        out = FieldSet()
        out._members = self._members | other._members
        out._children = dict(self._children)
        for pe, child in other._children.items():
            mine = out._children.get(pe)
            out._children[pe] = child if mine is None else mine.shared_union(child)
        return out

    def shared_difference(self, other: FieldSet) -> FieldSet:
        """`difference` that may share subtrees with this set (see `shared_union`)."""
        if other.empty:
            return self
        out = FieldSet()
        out._members = self._members - other._members
        theirs_all = other._children
        for pe, child in self._children.items():
            theirs = theirs_all.get(pe)
            rest = child if theirs is None else child.shared_difference(theirs)
            if not rest.empty:
                out._children[pe] = rest
        return out

    def insert_whole(self, path: Path, below: FieldSet | None) -> None:
        """Add ``path`` with ``below`` as the paths under it (taken, not copied): how a value
        that appeared or disappeared whole is recorded (`appeared`)."""
        if not path:
            if below is not None:
                self._members |= below._members
                for pe, below_pe in below._children.items():
                    mine = self._children.get(pe)
                    self._children[pe] = below_pe if mine is None else mine.union(below_pe)
            return
        node = self
        for pe in path[:-1]:
            child = node._children.get(pe)
            if child is None:
                child = node._children[pe] = FieldSet()
            node = child
        last = path[-1]
        node._members.add(last)
        if below is not None and not below.empty:
            mine = node._children.get(last)
            node._children[last] = below if mine is None else mine.union(below)

    def paths(self) -> list[Path]:
        """Every path, in upstream's iteration order: members, then each child's paths."""
        out: list[Path] = []
        self._collect((), out, leaves_only=False)
        return out

    def leaves(self) -> list[Path]:
        """The members that have no paths under them."""
        out: list[Path] = []
        self._collect((), out, leaves_only=True)
        return out

    def _collect(self, prefix: Path, out: list[Path], *, leaves_only: bool) -> None:
        for pe in _sorted(self._members):
            if not leaves_only or pe not in self._children:
                out.append((*prefix, pe))
        for pe in _sorted(iter(self._children)):
            self._children[pe]._collect((*prefix, pe), out, leaves_only=leaves_only)

    def to_fields_v1(self) -> dict[str, Any]:
        """The ``FieldsV1`` object (``{"f:data":{".":{},"f:a":{}}}``), in upstream's order."""
        return self._emit(include_self=False)

    def _emit(self, *, include_self: bool) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if include_self and not self.empty:
            out["."] = {}
        for pe in _sorted(self._members | set(self._children)):
            child = self._children.get(pe)
            if child is None:
                out[pe.serialize()] = {}
            else:
                out[pe.serialize()] = child._emit(include_self=pe in self._members)
        return out

    @classmethod
    def from_fields_v1(cls, document: Any) -> FieldSet:
        """Read a ``FieldsV1`` object; raises `FieldsError` if it is malformed."""
        if not isinstance(document, Mapping):
            raise FieldsError("FieldsV1 must be a JSON object")
        children, _member = _read_node(document)
        return children if children is not None else cls()

    def ensure_named_fields_are_members(self, node: TypeNode) -> FieldSet:
        """This set, plus every declared struct field that has paths under it as a member
        (``EnsureNamedFieldsAreMembers``): pruning removes such a field whole."""
        out = FieldSet()
        out._members = set(self._members)
        for pe, child in self._children.items():
            if pe.kind == FIELD:
                if node.declares(pe.text):
                    out._members.add(pe)
                child_node = node.field(pe.text)
            else:
                child_node = node.items
            out._children[pe] = child.ensure_named_fields_are_members(child_node)
        return out


def _read_node(document: Mapping[str, Any]) -> tuple[FieldSet | None, bool]:
    """One object of a ``FieldsV1`` document: (the set under it or None, whether it is itself
    a member). An object with no children (``{}`` or ``{".":{}}``) is a member."""
    children: FieldSet | None = None
    member = False
    for key, value in document.items():
        if key == ".":
            member = True
            continue
        pe = parse_element(key)
        if pe is None:
            continue
        if not isinstance(value, Mapping):
            raise FieldsError(f"{key}: FieldsV1 values must be JSON objects")
        grandchildren, child_member = _read_node(value)
        if children is None:
            children = FieldSet()
        if child_member:
            children._members.add(pe)
        if grandchildren is not None and not grandchildren.empty:
            children._children[pe] = grandchildren
    if children is None:
        member = True
    return children, member


# --- typed values ----------------------------------------------------------------------------


def item_element(list_node: TypeNode, item: Any) -> PathElement:
    """The path element of one item of a keyed list or set (``listItemToPathElement``).

    A missing key field takes its schema default, if any. Raises `FieldsError` with
    upstream's text when the item cannot have a path.
    """
    if list_node.list_type == MAP:
        if item is None:
            raise FieldsError("associative list with keys may not have a null element")
        if not isinstance(item, dict):
            raise FieldsError("associative list with keys may not have non-map elements")
        fields: dict[str, Any] = {}
        for name in list_node.list_map_keys:
            if name in item:
                fields[name] = item[name]
                continue
            has_default, default = list_node.items.default_of(name)
            if not has_default or default is None:
                raise FieldsError(
                    "associative list with keys has an element that omits key field "
                    f"{go_quote(name)} (and doesn't have default value)"
                )
            fields[name] = default
        return key_element(fields)
    if isinstance(item, dict):
        raise FieldsError("associative list without keys has an element that's a map type")
    if isinstance(item, list):
        raise FieldsError("not supported: associative list with lists as elements")
    if item is None:
        raise FieldsError("associative list without keys has an element that's an explicit null")
    return value_element(item)


def set_of(value: Any, node: TypeNode) -> FieldSet:
    """The fields a value sets (``ToFieldSet``): leaves, list items, undeclared map entries.

    Repeated list items are allowed (live objects may hold them); an item with no path
    raises `FieldsError`.
    """
    out = FieldSet()
    _collect_set(value, node, (), out)
    return out


def _collect_set(value: Any, node: TypeNode, path: Path, out: FieldSet) -> None:
    shape = node.shape_of(value)
    if shape == LEAF:
        out.insert(path)
    elif shape == MAP and isinstance(value, dict):
        for key, child in value.items():
            child_path = (*path, field_element(key))
            _collect_set(child, node.field(key), child_path, out)
            if not node.declares(key):
                out.insert(child_path)
    elif shape == LIST and isinstance(value, list):
        items = node.items
        for item in value:
            item_path = (*path, item_element(node, item))
            _collect_set(item, items, item_path, out)
            out.insert(item_path)


def first_items(node: TypeNode, value: Any) -> dict[PathElement, Any]:
    """A keyed list's or set's items by path element; a repeated item counts once (the
    first). Every item's element is computed before any is used, so the first item with no
    path is the one reported (`FieldsError`)."""
    out: dict[PathElement, Any] = {}
    if isinstance(value, list):
        for item in value:
            out.setdefault(item_element(node, item), item)
    return out


def appeared(value: Any, node: TypeNode) -> FieldSet | None:
    """The paths under a value that appears (or disappears) whole, as a comparison reports
    them: every map entry and list item walked, and every path under those; ``None`` for a
    leaf, an empty or ``null`` container (the value itself is the only path)."""
    if isinstance(value, dict):
        if not value or not node.walks_map:
            return None
        out = FieldSet()
        members = out._members
        children = out._children
        field = node.field
        for key, child in value.items():
            pe = field_element(key)
            members.add(pe)
            below = appeared(child, field(key))
            if below is not None:
                children[pe] = below
        return out
    if isinstance(value, list):
        if not value or not node.walks_list:
            return None
        out = FieldSet()
        items = node.items
        for pe, item in first_items(node, value).items():
            out._members.add(pe)
            below = appeared(item, items)
            if below is not None:
                out._children[pe] = below
        return out
    return None


def appeared_fields_v1(value: Any, node: TypeNode, without: FieldSet) -> dict[str, Any]:
    """``appeared(value, node).difference(without).to_fields_v1()`` in one walk, with no
    intermediate set, paths or sorting of elements: what a create records (the whole object
    is new), the largest ``FieldsV1`` the field manager writes. Raises `FieldsError` where
    `appeared` does (the first bad item may differ)."""
    return _appeared_v1(value, node, without, member=False) or {}


def _appeared_v1(
    value: Any, node: TypeNode, without: FieldSet | None, *, member: bool
) -> dict[str, Any] | None:
    """The ``FieldsV1`` object of a value that appeared (``.`` first if it is a member);
    ``None`` when nothing is under it."""
    if isinstance(value, dict):
        if not value or not node.walks_map:
            return None
        out: dict[str, Any] = {".": {}} if member else {}
        field = node.field
        if without is None:
            for key in sorted(value):
                below = _appeared_v1(value[key], field(key), None, member=True)
                out["f:" + key] = {} if below is None else below
        else:
            dropped, under = without._members, without._children
            for key in sorted(value):
                pe = field_element(key)
                kept = pe not in dropped
                below = _appeared_v1(value[key], field(key), under.get(pe), member=kept)
                if below is not None:
                    out["f:" + key] = below
                elif kept:
                    out["f:" + key] = {}
        return out if len(out) > member else None
    if isinstance(value, list):
        if not value or not node.walks_list:
            return None
        found = first_items(node, value)
        out = {".": {}} if member else {}
        items = node.items
        if without is None:
            for pe in sorted(found, key=_element_order):
                below = _appeared_v1(found[pe], items, None, member=True)
                out[pe.kind + ":" + pe.text] = {} if below is None else below
            return out
        dropped, under = without._members, without._children
        for pe in sorted(found, key=_element_order):
            kept = pe not in dropped
            below = _appeared_v1(found[pe], items, under.get(pe), member=kept)
            if below is not None:
                out[pe.kind + ":" + pe.text] = below
            elif kept:
                out[pe.kind + ":" + pe.text] = {}
        return out if len(out) > member else None
    return None


def typed_errors(value: Any, node: TypeNode) -> list[str]:
    """What makes an applied configuration unusable, as structured-merge-diff words it:
    ``.spec.foo: field not declared in schema``, ``.spec.containers: element 0: ...``,
    ``...: duplicate entries for key [name="a"]``. Empty when the value is fine."""
    errors: list[str] = []
    _check(value, node, (), errors)
    return errors


def _check(value: Any, node: TypeNode, path: Path, errors: list[str]) -> None:
    shape = node.shape_of(value)
    if shape == MAP and isinstance(value, dict):
        closed = node.closed
        for key, child in value.items():
            child_path = (*path, field_element(key))
            if closed and not node.declares(key):
                errors.append(f"{describe_path(child_path)}: field not declared in schema")
                continue
            _check(child, node.field(key), child_path, errors)
    elif shape == LIST and isinstance(value, list):
        where = describe_path(path)
        prefix = f"{where}: " if where else ""
        seen: set[PathElement] = set()
        for index, item in enumerate(value):
            try:
                pe = item_element(node, item)
            except FieldsError as err:
                errors.append(f"{prefix}element {index}: {err}")
                continue
            if pe in seen:
                errors.append(f"{prefix}duplicate entries for key {pe.describe()}")
                continue
            seen.add(pe)
            _check(item, node.items, (*path, pe), errors)
