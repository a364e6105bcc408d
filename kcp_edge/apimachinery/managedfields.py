"""Server-side apply and ``metadata.managedFields``: who owns which field, and what apply does.

Why this module exists: ``kubectl apply --server-side``, controllers and client libraries send
``application/apply-patch+yaml`` and expect the apiserver's merge, pruning, conflicts and
``managedFields``; every other write must record its manager as an ``Update`` entry, because
later applies decide conflicts from those entries. This restates the field manager stack of
``k8s.io/apimachinery/pkg/util/managedfields/internal`` over ``sigs.k8s.io/structured-merge-diff``
(``merge.Updater``, ``typed`` merge/compare/remove):

* `apply`: the object is the live one merged with the configuration (maps by key, keyed lists
  by item, sets by value, the rest replaced). The applier's entry becomes the set of its
  configuration; what it applied last time and omits now is pruned unless some other entry
  (Apply or Update) owns it. A changed field owned by another manager is a conflict
  (`ApplyConflict`, upstream's wording) unless ``force``, which takes it over. Applying to an
  object without ``managedFields`` first gives its fields to ``before-first-apply``. For the
  manager ``kubectl``, conflicts on fields that the ``last-applied-configuration`` annotation
  still matches are allowed (client-side to server-side upgrade), and that annotation, when
  present, is rewritten to the applied configuration.
* `record_update`: for create, update and non-apply patches, the fields that changed become
  the manager's (``operation: Update``, one entry per manager, API version and subresource)
  and leave the others' entries. ``managedFields`` sent by the client are kept when they
  decode (kubectl's CSA-to-SSA migration rewrites them with a JSON patch); ``[]`` resets
  them; an object that has none keeps none until it is applied to. At most ten Update
  entries are kept: the oldest merge into ``ancient-changes``.
* Entries never own ``apiVersion``, ``kind`` or the system fields of ``metadata`` (name,
  namespace, uid, resourceVersion, generation, creationTimestamp, ...): those are never
  pruned. Entries are sorted as upstream sorts them (Apply before Update, then time, manager,
  apiVersion, subresource); times are the caller's ``now``.

Built-in kinds are compared as Go objects: non-pointer structs and required lists count as
always present (`schematypes.TypeNode.zero_fields`), so ``.`` appears where the apiserver
puts it. Objects are plain JSON dicts and are never modified in place, except the ``new``
object of `record_update`, whose ``metadata.managedFields`` is set. Versions are not
converted: entries recorded at another API version are compared at the request's one.

Exception tree (``code`` and ``reason`` are the Status's; ``message`` is its text, also
callable as ``message()``; ``causes()`` its ``details.causes``)::

    ManagedFieldsError(ValueError)   500, no reason: "failed to create typed patch object ..."
    ├── ApplyBadRequestError         400 BadRequest: wrong apiVersion/kind, managedFields sent
    └── ApplyConflict                409 Conflict: "Apply failed with 1 conflict: ..."
"""

from __future__ import annotations

import copy
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from typing import Any, TypeVar

import orjson

from kcp_edge.apimachinery.fieldsets import (
    FieldsError,
    FieldSet,
    Path,
    PathElement,
    appeared,
    appeared_fields_v1,
    describe_path,
    field_element,
    first_items,
    go_json,
    item_element,
    make_path,
    set_of,
    typed_errors,
)
from kcp_edge.apimachinery.names import (
    TOTAL_ANNOTATION_SIZE_LIMIT,
    FieldError,
    go_quote,
    invalid,
    too_long,
)
from kcp_edge.apimachinery.schematypes import LEAF, LIST, MAP, TypeNode

APPLY = "Apply"
UPDATE = "Update"
FIELDS_V1 = "FieldsV1"
LAST_APPLIED_ANNOTATION = "kubectl.kubernetes.io/last-applied-configuration"
KUBECTL_MANAGER = "kubectl"
BEFORE_FIRST_APPLY = "before-first-apply"
ANCIENT_CHANGES = "ancient-changes"
MAX_UPDATE_MANAGERS = 10
FIELD_MANAGER_MAX_LENGTH = 128
MAX_SUBRESOURCE_NAME_LENGTH = 256
CONFLICT_CAUSE = "FieldManagerConflict"

_CURRENT_OPERATION = "\x00current-operation"
"""The identifier a write's own changes are computed under (never a real entry's)."""

STRIPPED_FIELDS = FieldSet.of(
    make_path("apiVersion"),
    make_path("kind"),
    make_path("metadata"),
    make_path("metadata", "name"),
    make_path("metadata", "namespace"),
    make_path("metadata", "creationTimestamp"),
    make_path("metadata", "selfLink"),
    make_path("metadata", "uid"),
    make_path("metadata", "clusterName"),
    make_path("metadata", "generation"),
    make_path("metadata", "managedFields"),
    make_path("metadata", "resourceVersion"),
)
"""Paths no entry ever owns (upstream's ``stripMetaManager``)."""


class _Missing:
    """An absent value, as opposed to JSON ``null``."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Any = _Missing()
_DUPLICATE: Any = _Missing()


# --- errors ----------------------------------------------------------------------------------


class StatusText(str):
    """A Status message that reads as a string (``exc.message``, as the patch modules' errors
    have it) and can also be called (``exc.message()``)."""

    __slots__ = ()

    def __call__(self) -> str:
        return str(self)


class ManagedFieldsError(ValueError):
    """Base of this module's errors: a 500 without reason unless a subclass says otherwise."""

    code = 500
    reason = ""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = StatusText(message)

    def causes(self) -> list[dict[str, str]]:
        return []

    def details(self) -> dict[str, Any]:
        """The Status's ``details``: only ``causes``, as ``NewApplyConflict`` builds them."""
        causes = self.causes()
        return {"causes": causes} if causes else {}


class ApplyBadRequestError(ManagedFieldsError):
    """400: the applied object has another apiVersion or kind, or carries managedFields."""

    code = 400
    reason = "BadRequest"


class ApplyConflict(ManagedFieldsError):  # noqa: N818 -- the name callers know
    """409: fields of the configuration that other managers own with another value.

    ``conflicts`` lists ``(manager, path)`` pairs such as ``('"kubectl" using v1',
    '.data.a')``, grouped by manager in upstream's order.
    """

    code = 409
    reason = "Conflict"

    def __init__(self, conflicts: Sequence[tuple[str, Path]]) -> None:
        self._items = list(conflicts)
        self.conflicts = [(manager, describe_path(path)) for manager, path in self._items]
        super().__init__(_conflict_message(self.conflicts))

    def causes(self) -> list[dict[str, str]]:
        return [
            {"reason": CONFLICT_CAUSE, "message": f"conflict with {manager}", "field": path}
            for manager, path in self.conflicts
        ]


def _conflict_message(conflicts: Sequence[tuple[str, str]]) -> str:
    if len(conflicts) == 1:
        manager, path = conflicts[0]
        return f"Apply failed with 1 conflict: conflict with {manager}: {path}"
    grouped: dict[str, list[str]] = {}
    for manager, path in conflicts:
        grouped.setdefault(manager, []).append(path)
    lines: list[str] = []
    for manager, paths in grouped.items():
        lines.append(f"conflicts with {manager}:")
        lines.extend(f"- {path}" for path in paths)
    return f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)


# --- entries ---------------------------------------------------------------------------------


def manager_identifier(manager: str, operation: str, api_version: str, subresource: str) -> str:
    """How upstream keys an entry (``BuildManagerIdentifier``): the entry's JSON without
    fields and time, and without apiVersion for Apply, so an applier keeps one entry."""
    parts = []
    if manager:
        parts.append(f'"manager":{go_json(manager)}')
    if operation:
        parts.append(f'"operation":{go_json(operation)}')
    if api_version and operation != APPLY:
        parts.append(f'"apiVersion":{go_json(api_version)}')
    if subresource:
        parts.append(f'"subresource":{go_json(subresource)}')
    return "{" + ",".join(parts) + "}"


@dataclass(frozen=True)
class _Entry:
    manager: str
    operation: str
    api_version: str
    subresource: str
    time: str | None
    fields: FieldSet

    @property
    def identifier(self) -> str:
        return manager_identifier(self.manager, self.operation, self.api_version, self.subresource)

    def describe(self) -> str:
        """``printManager``: ``"m"``, ``"m" with subresource "status"``, ``"m" using v1``."""
        text = go_quote(self.manager)
        if self.subresource:
            text = f"{text} with subresource {go_quote(self.subresource)}"
        if self.operation == UPDATE:
            text = f"{text} using {self.api_version}"
        return text

    def encode(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.manager:
            out["manager"] = self.manager
        out["operation"] = self.operation
        out["apiVersion"] = self.api_version
        if self.time is not None:
            out["time"] = self.time
        out["fieldsType"] = FIELDS_V1
        out["fieldsV1"] = self.fields.to_fields_v1()
        if self.subresource:
            out["subresource"] = self.subresource
        return out


_Managed = dict[str, _Entry]


def _text(entry: Mapping[str, Any], key: str, index: int) -> str:
    value = entry.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ManagedFieldsError(f"{key} of managed fields entry {index} must be a string")
    return value


def _decode(value: Any) -> _Managed:
    """``DecodeManagedFields``: raises `ManagedFieldsError` with upstream's words."""
    if value is None:
        return {}
    if not isinstance(value, list):
        raise ManagedFieldsError("managedFields must be a list")
    managed: _Managed = {}
    for index, raw in enumerate(value):
        if not isinstance(raw, Mapping):
            raise ManagedFieldsError(f"managed fields entry {index} must be an object")
        operation = _text(raw, "operation", index)
        if operation not in (APPLY, UPDATE):
            raise ManagedFieldsError("operation must be `Apply` or `Update`")
        api_version = _text(raw, "apiVersion", index)
        if not api_version:
            raise ManagedFieldsError("apiVersion must not be empty")
        fields_type = _text(raw, "fieldsType", index)
        if not fields_type:
            raise ManagedFieldsError(f"missing fieldsType in managed fields entry {index}")
        if fields_type != FIELDS_V1:
            raise ManagedFieldsError(
                f"invalid fieldsType {go_quote(fields_type)} in managed fields entry {index}"
            )
        fields_v1 = raw.get("fieldsV1")
        try:
            fields = FieldSet() if fields_v1 is None else FieldSet.from_fields_v1(fields_v1)
        except FieldsError as err:
            raise ManagedFieldsError(f"error decoding set: {err}") from err
        entry = _Entry(
            manager=_text(raw, "manager", index),
            operation=operation,
            api_version=api_version,
            subresource=_text(raw, "subresource", index),
            time=_normalized_time(raw.get("time"), index),
            fields=fields,
        )
        managed[entry.identifier] = entry
    return managed


def _normalized_time(value: Any, index: int) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise ManagedFieldsError(f"time of managed fields entry {index} must be a string")
    return _format_time(_parse_time(value, index))


def _parse_time(value: str, index: int = 0) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError as err:
        raise ManagedFieldsError(f"time of managed fields entry {index}: {err}") from err
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed


def _format_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _seconds(time: str | None) -> int:
    if time is None:
        return 0
    try:
        return int(_parse_time(time).timestamp())
    except ManagedFieldsError:
        return 0


def _encode(managed: _Managed) -> list[dict[str, Any]]:
    """The entries as ``metadata.managedFields``, in upstream's order."""
    entries = sorted(
        managed.values(),
        key=lambda e: (e.operation, _seconds(e.time), e.manager, e.api_version, e.subresource),
    )
    return [entry.encode() for entry in entries]


def _managed_fields_of(obj: Mapping[str, Any] | None) -> Any:
    meta = obj.get("metadata") if obj is not None else None
    return meta.get("managedFields") if isinstance(meta, Mapping) else None


def _clone(value: Any) -> Any:
    """A deep copy of a JSON value (through orjson, much faster than ``copy.deepcopy``)."""
    try:
        return orjson.loads(orjson.dumps(value))
    except (orjson.JSONEncodeError, TypeError):
        return copy.deepcopy(value)


def _without_managed_fields(obj: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = _clone(dict(obj))
    meta = out.get("metadata")
    if isinstance(meta, dict):
        meta.pop("managedFields", None)
    return out


def _store(obj: dict[str, Any], managed: _Managed) -> None:
    """Set (or, with no entries, remove) ``metadata.managedFields``."""
    meta = obj.get("metadata")
    if not managed:
        if isinstance(meta, dict):
            meta.pop("managedFields", None)
        return
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    meta["managedFields"] = _encode(managed)


# --- typed values ----------------------------------------------------------------------------


def _json_equal(a: Any, b: Any) -> bool:
    """JSON equality: booleans are not numbers, ints and floats compare by value."""
    kind = type(a)
    if kind is type(b) and (kind is str or kind is int):
        return bool(a == b)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and a.keys() == b.keys()
            and all(_json_equal(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, list):
        return (
            isinstance(b, list)
            and len(a) == len(b)
            and all(_json_equal(x, y) for x, y in zip(a, b, strict=True))
        )
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    return type(a) is type(b) and bool(a == b)


def _is_empty(value: Any) -> bool:
    if isinstance(value, dict | list):
        return not value
    return value is None or value is _MISSING


def _pair_shape(node: TypeNode, lhs: Any, rhs: Any) -> str:
    """How two values at the same place are walked together; a map or list that is empty or
    null on both sides is a leaf (upstream keeps the empty/null distinction that way)."""
    sides = [v for v in (lhs, rhs) if v is not _MISSING]
    shapes = {node.shape_of(v) for v in sides}
    if len(shapes) != 1:
        return LEAF
    shape = shapes.pop()
    if shape != LEAF and all(_is_empty(v) for v in sides):
        return LEAF
    return shape


_K = TypeVar("_K")


def _keys(lhs: Mapping[_K, Any], rhs: Mapping[_K, Any]) -> list[_K]:
    return [*lhs, *(k for k in rhs if k not in lhs)]


def _as_map(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _go_view(types: TypeNode, obj: Any) -> Any:
    """The object as a Go object of a built-in kind holds it: with the structs that are not
    pointers (``{}``) and the required lists (``null``) that Go always serializes. Custom
    resources are unstructured upstream too: they are compared as they are."""
    return _with_zero(types, obj) if types.zero_fields() else obj


def _with_zero(node: TypeNode, value: Any, depth: int = 0) -> Any:
    shape = node.shape_of(value)
    if shape == MAP and isinstance(value, dict):
        out = {k: _with_zero(node.field(k), v, depth + 1) for k, v in value.items()}
        if depth < 64:
            for name, zero in node.zero_fields().items():
                if name not in out:
                    out[name] = (
                        None if zero is None else _with_zero(node.field(name), {}, depth + 1)
                    )
        return out
    if shape == LIST and isinstance(value, list):
        return [_with_zero(node.items, item, depth + 1) for item in value]
    return value


@dataclass(frozen=True)
class _Comparison:
    added: FieldSet
    modified: FieldSet
    removed: FieldSet

    def excluding(self, ignored: FieldSet | None) -> _Comparison:
        if ignored is None or ignored.empty:
            return self
        return _Comparison(
            self.added.recursive_difference(ignored),
            self.modified.recursive_difference(ignored),
            self.removed.recursive_difference(ignored),
        )


def _compare(node: TypeNode, lhs: Any, rhs: Any) -> _Comparison:
    """``TypedValue.Compare``: leaves added, modified or removed, and maps, lists and items
    that appeared or disappeared as a whole."""
    result = _Comparison(FieldSet(), FieldSet(), FieldSet())
    _compare_into(node, lhs, rhs, None, result)
    return result


_Link = tuple[Any, PathElement] | None
"""A path as the walk goes down: ``(parent link, element)``; only changes materialize it."""


def _path_of(link: _Link) -> Path:
    out: list[PathElement] = []
    while link is not None:
        link, pe = link
        out.append(pe)
    out.reverse()
    return tuple(out)


def _compare_into(node: TypeNode, lhs: Any, rhs: Any, link: _Link, out: _Comparison) -> None:
    if lhs is _MISSING:
        out.added.insert_whole(_path_of(link), appeared(rhs, node))
        return
    if rhs is _MISSING:
        out.removed.insert_whole(_path_of(link), appeared(lhs, node))
        return
    shape = node.shape_of(lhs)
    if shape != node.shape_of(rhs) or shape == LEAF or (_is_empty(lhs) and _is_empty(rhs)):
        if not _json_equal(lhs, rhs):
            out.modified.insert(_path_of(link))
        return
    if shape == MAP:
        left, right = _as_map(lhs), _as_map(rhs)
        field = node.field
        for key, value in left.items():
            pe = field_element(key)
            _compare_into(field(key), value, right.get(key, _MISSING), (link, pe), out)
        for key, value in right.items():
            if key not in left:
                _compare_into(field(key), _MISSING, value, (link, field_element(key)), out)
        return
    left_items, right_items = first_items(node, lhs), first_items(node, rhs)
    items = node.items
    for pe, value in left_items.items():
        _compare_into(items, value, right_items.get(pe, _MISSING), (link, pe), out)
    for pe, value in right_items.items():
        if pe not in left_items:
            _compare_into(items, _MISSING, value, (link, pe), out)


def _merge(node: TypeNode, lhs: Any, rhs: Any) -> Any:
    """``TypedValue.Merge`` with the applied value winning every leaf."""
    if rhs is _MISSING:
        return lhs
    shape = _pair_shape(node, lhs, rhs)
    if shape == LEAF:
        return rhs
    if shape == MAP:
        left, right = _as_map(lhs), _as_map(rhs)
        out: dict[str, Any] = {}
        for key in _keys(left, right):
            applied = right.get(key, _MISSING)
            merged = _merge(node.field(key), left.get(key, _MISSING), applied)
            # An applied null on a leaf clears it (the Go types drop it); ownership stays.
            if merged is _MISSING or (merged is None and applied is None):
                continue
            out[key] = merged
        return out
    return _merge_list(node, _as_list(lhs), _as_list(rhs))


def _merge_list(node: TypeNode, lhs: list[Any], rhs: list[Any]) -> list[Any]:
    """Merge two keyed lists or sets as structured-merge-diff orders them: items of both in
    the applied order, live-only items where they were, new items where they are applied."""
    items = node.items
    left = [item_element(node, item) for item in lhs]
    right = [item_element(node, item) for item in rhs]
    left_seen: dict[PathElement, Any] = {}
    for pe, item in zip(left, lhs, strict=True):
        left_seen[pe] = _DUPLICATE if pe in left_seen else item
    right_seen = dict(zip(right, rhs, strict=True))
    shared = [pe for pe in right if pe in left_seen]
    shared_at = 0
    merged_right: set[PathElement] = set()
    out: list[Any] = []

    def take(pe: PathElement, lchild: Any) -> None:
        merged_right.add(pe)
        if lchild is _DUPLICATE:
            lchild = _MISSING
        merged = _merge(items, lchild, right_seen[pe])
        if merged is not _MISSING:
            out.append(merged)

    li = ri = 0
    while li < len(left) or ri < len(right):
        next_shared = shared[shared_at] if shared_at < len(shared) else None
        if li < len(left) and ri < len(right):
            pe = left[li]
            if pe == right[ri]:
                take(pe, left_seen[pe])
                li, ri, shared_at = li + 1, ri + 1, shared_at + 1
                continue
            if pe in right_seen and next_shared is not None and next_shared != pe:
                li += 1
                continue
        if li < len(left):
            pe = left[li]
            if pe not in right_seen:
                out.append(lhs[li])
                li += 1
                continue
            if pe in merged_right:
                li += 1
                continue
        if ri < len(right):
            pe = right[ri]
            take(pe, left_seen.get(pe, _MISSING))
            ri += 1
            if next_shared is not None and next_shared == pe:
                shared_at += 1
    return out


def _remove(node: TypeNode, value: Any, paths: FieldSet) -> Any:
    """``RemoveItems``: drop the fields, map entries and list items ``paths`` names.
    A map or list left empty goes too (upstream leaves a null the Go types then drop)."""
    shape = node.shape_of(value)
    if shape == MAP and isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, child in value.items():
            pe = field_element(key)
            if paths.has_member(pe):
                continue
            below = paths.child(pe)
            kept_child = child if below.empty else _remove(node.field(key), child, below)
            if kept_child is not _MISSING:
                out[key] = kept_child
        return out if out else _MISSING
    if shape == LIST and isinstance(value, list) and value:
        kept: list[Any] = []
        for item in value:
            pe = item_element(node, item)
            if paths.has_member(pe):
                continue
            below = paths.child(pe)
            kept_item = item if below.empty else _remove(node.items, item, below)
            if kept_item is not _MISSING:
                kept.append(kept_item)
        return kept if kept else _MISSING
    return value


def _remove_from(node: TypeNode, obj: dict[str, Any], paths: FieldSet) -> dict[str, Any]:
    if paths.empty:
        return obj
    result = _remove(node, obj, paths)
    return result if isinstance(result, dict) else {}


def _prune(
    node: TypeNode, merged: dict[str, Any], managed: _Managed, last: FieldSet
) -> dict[str, Any]:
    """``Updater.prune``: remove what the applier owned last time and omits now, unless an
    entry (its new configuration included) still owns it; a named struct field goes whole."""
    applied_before = last.ensure_named_fields_are_members(node)
    pruned = _remove_from(node, merged, applied_before)
    # Add back what any entry owns: remove only what is neither left nor owned.
    owned = FieldSet()
    for entry in managed.values():
        owned = owned.union(entry.fields)
    everything = set_of(merged, node).ensure_named_fields_are_members(node)
    left = set_of(pruned, node).ensure_named_fields_are_members(node)
    keep = left.union(owned.ensure_named_fields_are_members(node))
    pruned = _remove_from(node, merged, everything.difference(keep))
    # Add back what the applier did not own (dangling fields, Update-owned fields).
    left = set_of(pruned, node).ensure_named_fields_are_members(node)
    return _remove_from(node, merged, everything.difference(left).intersection(applied_before))


# --- the field manager -----------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    types: TypeNode
    api_version: str
    subresource: str
    now: str
    ignored: FieldSet | None

    def identifier(self, manager: str, operation: str) -> str:
        return manager_identifier(manager, operation, self.api_version, self.subresource)

    def compare(self, old: dict[str, Any], new: dict[str, Any]) -> _Comparison:
        zero_old, zero_new = _go_view(self.types, old), _go_view(self.types, new)
        return _compare(self.types, zero_old, zero_new).excluding(self.ignored)


def _settle(managed: _Managed, comparison: _Comparison, workflow: str, *, force: bool) -> _Managed:
    """``Updater.update``: the other entries lose what changed under them (a conflict unless
    ``force``) and what was removed; entries left empty disappear."""
    touched = comparison.modified.shared_union(comparison.added)
    conflicts: dict[str, FieldSet] = {}
    for ident, entry in managed.items():
        if ident != workflow:
            hit = entry.fields.intersection(touched)
            if not hit.empty:
                conflicts[ident] = hit
    if conflicts and not force:
        items = [
            (managed[ident].describe(), path)
            for ident in sorted(conflicts)
            for path in conflicts[ident].paths()
        ]
        raise ApplyConflict(items)
    out: _Managed = {}
    for ident, entry in managed.items():
        fields = entry.fields
        if ident != workflow:
            if ident in conflicts:
                fields = fields.shared_difference(conflicts[ident])
            fields = fields.shared_difference(comparison.removed)
        if not fields.empty:
            out[ident] = entry if fields is entry.fields else replace(entry, fields=fields)
    return out


def _record(
    request: _Request, old: dict[str, Any], new: dict[str, Any], managed: _Managed, manager: str
) -> _Managed:
    """An Update by ``manager``: what changed becomes its own, stamped ``now``."""
    comparison = request.compare(old, new)
    managed = _settle(managed, comparison, _CURRENT_OPERATION, force=True)
    fields = comparison.modified.shared_union(comparison.added)
    fields = fields.shared_difference(comparison.removed)
    if request.ignored is not None:
        fields = fields.recursive_difference(request.ignored)
    fields = fields.shared_difference(STRIPPED_FIELDS)
    if fields.empty:
        return managed
    ident = request.identifier(manager, UPDATE)
    previous = managed.get(ident)
    if previous is not None:
        fields = fields.shared_union(previous.fields)
    managed[ident] = _Entry(
        manager, UPDATE, request.api_version, request.subresource, request.now, fields
    )
    return managed


def _cap_updates(managed: _Managed) -> _Managed:
    """Keep at most `MAX_UPDATE_MANAGERS` Update entries: merge the oldest, per API version,
    into an ``ancient-changes`` entry (upstream's ``capManagersManager``)."""
    updaters = [ident for ident, entry in managed.items() if entry.operation == UPDATE]
    if len(updaters) <= MAX_UPDATE_MANAGERS:
        return managed
    updaters.sort(key=lambda ident: (_seconds(managed[ident].time), ident))
    managed = dict(managed)
    first_of_version: dict[str, str] = {}
    length = len(updaters)
    for ident in updaters:
        if length <= MAX_UPDATE_MANAGERS:
            break
        entry = managed[ident]
        version = entry.api_version
        bucket = manager_identifier(ANCIENT_CHANGES, UPDATE, version, "")
        first = first_of_version.get(version)
        if first is None:
            first_of_version[version] = ident
            continue
        if ident == bucket:  # an older bucket is never merged into itself
            continue
        if bucket not in managed:
            managed[bucket] = replace(managed.pop(first), manager=ANCIENT_CHANGES, subresource="")
        managed[bucket] = replace(
            managed[bucket], fields=entry.fields.union(managed[bucket].fields), time=entry.time
        )
        del managed[ident]
        length -= 1
    return managed


def _apply_once(
    request: _Request,
    live: dict[str, Any],
    applied: dict[str, Any],
    managed: _Managed,
    *,
    manager: str,
    force: bool,
) -> tuple[dict[str, Any], _Managed]:
    """``Updater.Apply`` with the entry's bookkeeping: merge, own, prune, settle, stamp."""
    types = request.types
    ident = request.identifier(manager, APPLY)
    managed = dict(managed)
    merged = _merge(types, live, applied)
    last = managed.get(ident)
    fields = set_of(applied, types)
    if request.ignored is not None:
        fields = fields.recursive_difference(request.ignored)
    managed[ident] = _Entry(
        manager,
        APPLY,
        request.api_version,
        request.subresource,
        last.time if last is not None else None,
        fields,
    )
    if last is not None and not last.fields.empty:
        merged = _prune(types, merged, managed, last.fields)
    managed = _settle(managed, request.compare(live, merged), ident, force=force)
    changed = not _json_equal(live, merged)
    entry = managed.get(ident)
    if entry is not None:
        stripped = entry.fields.difference(STRIPPED_FIELDS)
        if stripped.empty:
            del managed[ident]
        else:
            time = request.now if changed else entry.time
            managed[ident] = replace(entry, fields=stripped, time=time)
    return (merged if changed else live), managed


def _allowed_by_last_applied(request: _Request, live: dict[str, Any]) -> FieldSet | None:
    """The fields kubectl's client-side apply annotation still describes: what it sets with
    the value the live object has (``allowedConflictsFromLastApplied``)."""
    meta = live.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, dict) else None
    text = annotations.get(LAST_APPLIED_ANNOTATION) if isinstance(annotations, dict) else None
    if not isinstance(text, str) or not text:
        return None
    try:
        last_applied = orjson.loads(text)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(last_applied, dict) or last_applied.get("apiVersion") != request.api_version:
        return None
    try:
        owned = set_of(last_applied, request.types)
        comparison = _compare(request.types, last_applied, _go_view(request.types, live))
    except FieldsError:
        return None
    return (
        owned.difference(comparison.modified)
        .difference(comparison.added)
        .difference(comparison.removed)
    )


def _build_last_applied(applied: Mapping[str, Any]) -> str:
    """The annotation's value: the applied object without the annotation, as Go encodes an
    unstructured object (sorted keys, trailing newline)."""
    obj: dict[str, Any] = _clone(dict(applied))
    meta = obj.get("metadata")
    if isinstance(meta, dict) and isinstance(meta.get("annotations"), dict):
        meta["annotations"].pop(LAST_APPLIED_ANNOTATION, None)
    return go_json(obj) + "\n"


def _set_last_applied(obj: dict[str, Any], value: str) -> None:
    meta = obj.setdefault("metadata", {})
    annotations = meta.get("annotations")
    if not isinstance(annotations, dict):
        annotations = meta["annotations"] = {}
    annotations[LAST_APPLIED_ANNOTATION] = value
    size = sum(len(k.encode()) + len(str(v).encode()) for k, v in annotations.items())
    if size > TOTAL_ANNOTATION_SIZE_LIMIT:
        del annotations[LAST_APPLIED_ANNOTATION]


def _has_last_applied(obj: Mapping[str, Any]) -> bool:
    meta = obj.get("metadata")
    annotations = meta.get("annotations") if isinstance(meta, Mapping) else None
    return isinstance(annotations, Mapping) and bool(annotations.get(LAST_APPLIED_ANNOTATION))


def _group_version_kind(api_version: str, kind: str) -> str:
    """``schema.GroupVersionKind.String()``: ``apps/v1, Kind=Deployment``, ``/v1, Kind=...``."""
    group, version = "", ""
    if api_version.count("/") == 1:
        group, version = api_version.split("/")
    elif "/" not in api_version:
        version = api_version
    return f"{group}/{version}, Kind={kind}"


def _describe_object(obj: Mapping[str, Any]) -> str:
    """``objectGVKNN``: ``<namespace>/<name>; <group>/<version>, Kind=<kind>``."""
    meta = obj.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    namespace, name = str(meta.get("namespace") or ""), str(meta.get("name") or "")
    api_version, kind = obj.get("apiVersion"), obj.get("kind")
    gvk = _group_version_kind(
        api_version if isinstance(api_version, str) else "",
        kind if isinstance(kind, str) else "",
    )
    return f"{namespace}/{name}; {gvk}"


def _join_errors(errors: Sequence[str]) -> str:
    """``ValidationErrors.Error()``: one error alone, several under ``errors:``."""
    if len(errors) == 1:
        return errors[0]
    return "\n".join(["errors:", *(f"  {e}" for e in errors)])


def _check_applied(applied: Mapping[str, Any], api_version: str, kind: str) -> None:
    applied_version = applied.get("apiVersion")
    applied_kind = applied.get("kind")
    version_text = applied_version if isinstance(applied_version, str) else ""
    kind_text = applied_kind if isinstance(applied_kind, str) else ""
    if version_text != api_version or (kind and kind_text != kind):
        raise ApplyBadRequestError(
            f"invalid object type: {_group_version_kind(version_text, kind_text)}"
        )
    meta = applied.get("metadata")
    if isinstance(meta, Mapping) and meta.get("managedFields") is not None:
        raise ApplyBadRequestError("metadata.managedFields must be nil")


# --- public API ------------------------------------------------------------------------------


def apply(
    live: Mapping[str, Any] | None,
    applied: Mapping[str, Any],
    *,
    manager: str,
    force: bool,
    types: TypeNode,
    api_version: str,
    now: str,
    subresource: str = "",
    kind: str = "",
    ignored: FieldSet | None = None,
) -> dict[str, Any]:
    """Server-side apply of ``applied`` onto ``live`` (``None``: create) by ``manager``.

    Returns a new object: the merge, pruned, with ``metadata.managedFields`` set. ``kind``,
    when given, must match the applied kind (as must ``api_version`` always); ``ignored``
    are the request's reset fields (``status`` on the main resource of a kind with a status
    subresource, ``spec`` on ``/status``), which this request can neither own nor take.
    Raises `ApplyBadRequestError`, `ApplyConflict`, or `ManagedFieldsError` (500) for an
    applied object structured-merge-diff cannot type (missing list-map keys, duplicate
    items, undeclared fields).
    """
    _check_applied(applied, api_version, kind)
    errors = typed_errors(applied, types)
    if errors:
        raise ManagedFieldsError(
            f"failed to create typed patch object ({_describe_object(applied)}): "
            + _join_errors(errors)
        )
    config: dict[str, Any] = _clone(dict(applied))
    live_obj = _without_managed_fields(live) if live is not None else {}
    try:
        managed = _decode(_managed_fields_of(live))
    except ManagedFieldsError as err:
        raise ManagedFieldsError(f"failed to decode managed fields: {err}") from err
    request = _Request(types, api_version, subresource, now, ignored)
    try:
        if not managed and live is not None:
            managed = _record(request, {}, live_obj, managed, BEFORE_FIRST_APPLY)
        try:
            result, managed = _apply_once(
                request, live_obj, config, managed, manager=manager, force=force
            )
        except ApplyConflict as conflict:
            if manager != KUBECTL_MANAGER:
                raise
            allowed = _allowed_by_last_applied(request, live_obj)
            if allowed is None:
                raise
            remaining = [(who, path) for who, path in conflict._items if not allowed.has(path)]
            if remaining:
                raise ApplyConflict(remaining) from None
            result, managed = _apply_once(
                request, live_obj, config, managed, manager=manager, force=True
            )
    except FieldsError as err:
        raise ManagedFieldsError(
            f"failed to create typed live object ({_describe_object(live_obj)}): {err}"
        ) from err
    obj: dict[str, Any] = _clone(result)
    if manager == KUBECTL_MANAGER and _has_last_applied(obj):
        _set_last_applied(obj, _build_last_applied(config))
    _store(obj, managed)
    return obj


def record_update(
    old: Mapping[str, Any] | None,
    new: dict[str, Any],
    *,
    manager: str,
    types: TypeNode,
    api_version: str,
    now: str,
    subresource: str = "",
    ignored: FieldSet | None = None,
) -> None:
    """Record a create (``old`` None), update or non-apply patch by ``manager`` in
    ``new["metadata"]["managedFields"]``. Never raises: if the objects cannot be typed, the
    live object's managedFields are kept, as upstream's ``UpdateNoErrors`` does."""
    sent = _MISSING
    meta = new.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        sent = meta["managedFields"]
    previous = _managed_fields_of(old)
    try:
        managed = _starting_entries(previous, sent, from_request=not subresource)
        if not managed and old is not None:
            _store(new, {})
            return
        created = old is None and not managed and (ignored is None or ignored.empty)
        if created and not types.zero_fields():
            _store_created(
                new, types, _Entry(manager, UPDATE, api_version, subresource, now, FieldSet())
            )
            return
        request = _Request(types, api_version, subresource, now, ignored)
        old_obj = _without_managed_fields(old) if old is not None else {}
        managed = _record(request, old_obj, _without_managed_fields(new), managed, manager)
        managed = _cap_updates(managed)
    except (ManagedFieldsError, FieldsError):
        if previous is None:
            _store(new, {})
        else:
            new.setdefault("metadata", {})["managedFields"] = _clone(previous)
        return
    _store(new, managed)


def _store_created(new: dict[str, Any], types: TypeNode, entry: _Entry) -> None:
    """A create with no entries to start from, of a kind compared as it is (no Go zero
    values): the whole object is the manager's, so its ``FieldsV1`` is written in one walk
    (`appeared_fields_v1`) instead of comparing with nothing and taking set differences.
    ``entry`` is the entry to write, its (empty) fields replaced. The result is the entry
    `_record` makes (``test_managedfields`` checks that both ways agree)."""
    obj = new
    meta = new.get("metadata")
    if isinstance(meta, dict) and "managedFields" in meta:
        obj = dict(new)
        obj["metadata"] = {k: v for k, v in meta.items() if k != "managedFields"}
    fields = appeared_fields_v1(obj, types, STRIPPED_FIELDS)
    if not fields:
        _store(new, {})
        return
    encoded = entry.encode()
    encoded["fieldsV1"] = fields
    if not isinstance(meta, dict):
        meta = new["metadata"] = {}
    meta["managedFields"] = [encoded]


def _starting_entries(previous: Any, sent: Any, *, from_request: bool) -> _Managed:
    """``decodeLiveOrNew``: the request's managedFields if it sent some that decode (``[]``
    or ``[{}]`` resets them), else the live object's; subresources always use the live."""
    if from_request:
        if isinstance(sent, list) and (not sent or (len(sent) == 1 and _blank(sent[0]))):
            return {}
        if sent is not _MISSING:
            try:
                decoded = _decode(sent)
            except ManagedFieldsError:
                decoded = {}
            if decoded:
                return decoded
    try:
        return _decode(previous)
    except ManagedFieldsError:
        return {}


def _blank(entry: Any) -> bool:
    return isinstance(entry, Mapping) and all(v is None or v == "" for v in entry.values())


def default_manager(user_agent: str) -> str:
    """The manager of a write that names none: the User-Agent up to its first ``/``, without
    unprintable characters, cut to 128 bytes (``prefixFromUserAgent``)."""
    out: list[str] = []
    size = 0
    for ch in user_agent.split("/", 1)[0]:
        if not _printable(ch):
            continue
        width = len(ch.encode("utf-8", "surrogatepass"))
        if size + width > FIELD_MANAGER_MAX_LENGTH:
            break
        out.append(ch)
        size += width
    return "".join(out)


def _printable(ch: str) -> bool:
    """Go's ``unicode.IsPrint``: letters, marks, numbers, punctuation, symbols, ASCII space."""
    return ch == " " or unicodedata.category(ch)[0] in "LMNPS"


def validate_managed_fields(value: Any) -> list[dict[str, str]]:
    """The ``details.causes`` of a 422 for ``metadata.managedFields`` a client wrote
    (``ValidateManagedFields``): operation, fieldsType, manager and subresource."""
    base = "metadata.managedFields"
    if value is None:
        return []
    if not isinstance(value, list):
        return [invalid(base, value, "must be a list of managed fields entries").cause()]
    errors: list[FieldError] = []
    for index, entry in enumerate(value):
        path = f"{base}[{index}]"
        if not isinstance(entry, Mapping):
            errors.append(invalid(path, entry, "must be a managed fields entry"))
            continue
        operation = entry.get("operation") or ""
        if operation not in (APPLY, UPDATE):
            errors.append(invalid(f"{path}.operation", operation, "must be `Apply` or `Update`"))
        fields_type = entry.get("fieldsType") or ""
        if fields_type and fields_type != FIELDS_V1:
            errors.append(invalid(f"{path}.fieldsType", fields_type, "must be `FieldsV1`"))
        errors.extend(_manager_errors(f"{path}.manager", entry.get("manager") or ""))
        subresource = entry.get("subresource") or ""
        if isinstance(subresource, str) and len(subresource.encode()) > MAX_SUBRESOURCE_NAME_LENGTH:
            errors.append(too_long(f"{path}.subresource", MAX_SUBRESOURCE_NAME_LENGTH))
    return [err.cause() for err in errors]


def _manager_errors(field: str, manager: Any) -> list[FieldError]:
    if not isinstance(manager, str):
        return [invalid(field, manager, "must be a string")]
    errors: list[FieldError] = []
    encoded = manager.encode("utf-8", "surrogatepass")
    if len(encoded) > FIELD_MANAGER_MAX_LENGTH:
        errors.append(too_long(field, FIELD_MANAGER_MAX_LENGTH))
    offset = 0
    for ch in manager:
        if not _printable(ch):
            detail = f"invalid character U+{ord(ch):04X} (at index {offset})"
            errors.append(invalid(field, manager, detail))
        offset += len(ch.encode("utf-8", "surrogatepass"))
    return errors
