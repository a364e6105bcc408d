"""Strategic merge patch, applied as kube-apiserver applies it to built-in kinds.

Why this module exists: ``kubectl apply`` (client-side), ``edit``, ``patch`` (its default
type), ``set image`` and ``rollout restart``, and the Python client's ``patch_namespaced_*``
with a dict, send ``application/strategic-merge-patch+json``; as a plain merge patch,
``kubectl set image`` would drop every container but one. This is ``StrategicMergeMapPatch`` of
``k8s.io/apimachinery/pkg/util/strategicpatch/patch.go`` (server side), driven by `PatchMeta`
from the bundled OpenAPI schemas: maps merge and ``null`` deletes; a list whose field has the
``merge`` strategy merges on its merge key (``containers`` on ``name``), or as a set union for
scalars (``metadata.finalizers``); other lists are replaced. Directives: ``$patch: replace`` /
``delete`` on a map or as a list element (``delete`` by merge key), ``$retainKeys`` (clears
unlisted members, wherever it appears, as upstream), ``$setElementOrder/<list>`` and
``$deleteFromPrimitiveList/<list>`` (whatever the list's strategy). Merged lists are ordered as
upstream's ``normalizeElementOrder`` orders them: without ``$setElementOrder`` the elements the
patch mentions come first, in the patch's order, and the others keep their relative place.
That order depends on Go slice aliasing when one patch deletes and adds elements of a list
(``kubectl apply`` renaming a container): we replay it, for an original whose slices have no
spare capacity, as the apiserver's deep-copied object has (``kubectl patch --local``, which
decodes JSON, can differ when the original list already holds duplicate scalars). Keys of one
patch are applied in its order, where Go's map order is random (it only matters for a patch
that adds and deletes the same scalar).

Where upstream takes a patch value whole (nothing to merge into, a changed type, a replaced
list or map, a new list element), its directive maps are dropped where upstream drops them
(``removeDirectives``), and leftover directive keys and ``null`` members go, as decoding into
the Go type makes them go. Other ``$`` keys are ordinary members: checking members against the
schema is the caller's business. Errors carry the status ``interpretStrategicMergePatchError``
gives them::

    StrategicMergePatchError(ValueError)     .code, .reason; str() is the Status message
    ├── StrategicMergePatchBadRequestError   400: not JSON, not an object, a malformed
    │                                        $retainKeys, $setElementOrder, $deleteFromPrimitiveList
    ├── StrategicMergePatchInvalidError      422, generic message (.detail): lists of lists
    └── StrategicMergePatchInternalError     500, reason "", upstream's text: "unknown patch
                                             type", "does not contain declared merge key", ...
"""

from __future__ import annotations

from typing import Any

import orjson

from kcp_edge.apimachinery.mergepatch import (
    GoJSONError,
    decode_json,
    go_format,
    go_type,
    go_v,
    unmarshal_type_message,
)
from kcp_edge.apimachinery.patchmeta import PatchMeta

DIRECTIVE = "$patch"
RETAIN_KEYS = "$retainKeys"
SET_ELEMENT_ORDER = "$setElementOrder"
DELETE_FROM_PRIMITIVE_LIST = "$deleteFromPrimitiveList"
GENERIC_UNPROCESSABLE = "the server rejected our request due to an error in our request"


class StrategicMergePatchError(ValueError):
    """Base of strategic merge patch failures; ``code`` and ``reason`` are the Status's."""

    code = 500
    reason = ""

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or message


class StrategicMergePatchBadRequestError(StrategicMergePatchError):
    """The body or one of its directives is malformed (upstream's ``mergepatch.ErrBad*``)."""

    code = 400
    reason = "BadRequest"


class StrategicMergePatchInvalidError(StrategicMergePatchError):
    """Upstream answers with a generic 422 and drops the reason (kept as ``detail``)."""

    code = 422
    reason = "Invalid"

    def __init__(self, detail: str) -> None:
        super().__init__(GENERIC_UNPROCESSABLE, detail=detail)


class StrategicMergePatchInternalError(StrategicMergePatchError):
    """Any other failure: upstream returns the bare error, which becomes a 500."""


def decode_strategic_merge_patch(body: bytes | str) -> dict[str, Any]:
    """Decode an SMP body as the PATCH handler does; ``null`` is an empty patch."""
    try:
        value = decode_json(body)
    except GoJSONError as err:
        raise StrategicMergePatchBadRequestError(str(err)) from None
    if value is None:
        return {}
    if not isinstance(value, dict):
        message = unmarshal_type_message(value, "map[string]interface {}")
        raise StrategicMergePatchBadRequestError(message)
    return value


def strategic_merge_patch(
    original: dict[str, Any], patch: dict[str, Any], *, schema: PatchMeta
) -> dict[str, Any]:
    """Merge ``patch`` into a copy of ``original``; ``schema`` describes the kind's object."""
    doc = orjson.loads(orjson.dumps(original))
    try:
        merged: dict[str, Any] = _merge_map(doc, patch, schema)
        return merged
    except RecursionError:
        raise StrategicMergePatchInternalError("patch is too deeply nested") from None


# --- maps -------------------------------------------------------------------------------------


def _merge_map(original: dict[str, Any], patch: dict[str, Any], schema: PatchMeta) -> Any:
    """Upstream ``mergeMap``. ``original`` is ours to change; ``patch`` is only read (what is
    kept of it is rebuilt, by `_take`, `_strip` or a nested merge)."""
    patch = dict(patch)
    if DIRECTIVE in patch:
        directive = patch[DIRECTIVE]
        if directive == "replace":
            del patch[DIRECTIVE]
            return _strip(patch)
        if directive == "delete":
            return {}
        raise _bad_patch_type(directive, patch)
    _retain_keys(original, patch)
    _merge_ordered_lists(original, patch, schema)
    for name, value in list(patch.items()):
        delete_list = name.startswith(DELETE_FROM_PRIMITIVE_LIST)
        key = _field_of(name, DELETE_FROM_PRIMITIVE_LIST) if delete_list else name
        if value is None:
            original.pop(key, None)
            continue
        if key not in original or type(original[key]) is not type(value):
            if not delete_list:
                taken, keep = _take(value)
                if keep:
                    original[key] = taken
                else:
                    original.pop(key, None)
            continue
        current = original[key]
        if isinstance(current, dict):
            field = schema.field(key)
            if _strategy(field) == "replace":
                original[key] = _strip(value)
            else:
                original[key] = _merge_map(current, value, field)
        elif isinstance(current, list):
            field = schema.field(key)
            merge = _strategy(field) == "merge"
            original[key] = _merge_list(current, value, field, merge=merge, delete=delete_list)[0]
        else:
            original[key] = value
    return original


def _retain_keys(original: dict[str, Any], patch: dict[str, Any]) -> None:
    if RETAIN_KEYS not in patch:
        return
    listed = patch.pop(RETAIN_KEYS)
    if not isinstance(listed, list):
        raise StrategicMergePatchBadRequestError("invalid patch format of retainKeys")
    keep = {k for k in listed if isinstance(k, str)}
    for key, value in patch.items():
        if value is None or key.startswith((DELETE_FROM_PRIMITIVE_LIST, SET_ELEMENT_ORDER)):
            continue
        if key not in keep:
            raise StrategicMergePatchBadRequestError("invalid patch format of retainKeys")
    for key in [k for k in original if k not in keep]:
        del original[key]


def _merge_ordered_lists(
    original: dict[str, Any], patch: dict[str, Any], schema: PatchMeta
) -> None:
    """Upstream ``mergePatchIntoOriginal``: merge each list named by a ``$setElementOrder``."""
    for directive in [k for k in patch if k.startswith(SET_ELEMENT_ORDER)]:
        order = patch.pop(directive)
        if not isinstance(order, list):
            raise _bad_arg_type("[]interface {}", order)
        key = _field_of(directive, SET_ELEMENT_ORDER)
        in_original, in_patch = key in original, key in patch
        original_list: Any = original[key] if in_original else []
        patch_list: Any = patch[key] if in_patch else []
        for value in (original_list, patch_list):
            if not isinstance(value, list):
                raise _bad_arg_type("[]interface {}", value)
        field = schema.field(key)
        merge_key = field.merge_key
        _strategy(field)
        _check_order(patch_list, order, merge_key)
        server_order = original_list
        if in_original and not in_patch:
            merged = original_list
        elif in_patch and not in_original:
            merged = _take(patch_list)[0]
        elif in_patch:
            merge = _strategy(field) == "merge"
            merged, server_order = _merge_list(
                original_list, patch_list, field, merge=merge, delete=False
            )
        else:
            continue
        mentioned, others = _partition(merged, order, merge_key)
        element = _element_type(original_list, patch_list)
        original[key] = _normalize(
            mentioned,
            others,
            order=order,
            server_order=server_order,
            merge_key=merge_key,
            maps=element is dict,
        )
        patch.pop(key, None)


def _check_order(patch_list: list[Any], order: list[Any], merge_key: str) -> None:
    """Upstream ``validatePatchWithSetOrderList``: patch items must follow the given order."""
    if not order or not patch_list:
        return
    items = patch_list
    if merge_key:
        for item in patch_list:
            if not isinstance(item, dict):
                raise _bad_arg_type("map[string]interface {}", item)
        items = [item for item in patch_list if item.get(DIRECTIVE) != "delete"]
    at = seen = 0
    while at < len(items) and seen < len(order):
        if isinstance(items[at], dict) and DIRECTIVE in items[at]:
            at += 1
            continue
        if _same_key(items[at], order[seen], merge_key):
            at += 1
        seen += 1
    if at < len(items) and seen >= len(order):
        raise StrategicMergePatchInternalError(
            f"The order in patch list:\n{go_v(patch_list)}\n doesn't match "
            f"{SET_ELEMENT_ORDER} list:\n{go_v(order)}\n"
        )


def _same_key(left: Any, right: Any, merge_key: str) -> bool:
    if not merge_key:
        return _same(left, right)
    _require_keyed((left, right), merge_key)
    return _same(left[merge_key], right[merge_key])


def _require_keyed(items: Any, merge_key: str) -> None:
    """Upstream ``validateMergeKeyInLists``: maps that all carry the merge key."""
    for item in items:
        if not isinstance(item, dict):
            raise _bad_arg_type("map[string]interface {}", item)
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)


# --- lists ------------------------------------------------------------------------------------


def _merge_list(
    original: list[Any], patch: list[Any], field: PatchMeta, *, merge: bool, delete: bool
) -> tuple[list[Any], list[Any]]:
    """Upstream ``mergeSliceHandler`` and ``mergeSlice``.

    Returns the merged list and what the Go backing array of ``original`` holds afterwards:
    upstream deletes elements by shifting them inside that array and appends new elements
    into the room this frees, and ``mergePatchIntoOriginal`` then orders the result by that
    array. The apiserver's original is a deep copy, so its capacity is its length.
    """
    if not merge and not delete:
        return _strip(patch), original
    if not original and not patch:
        return original, original
    element = _element_type(original, patch)
    merge_key = field.merge_key
    backing = original
    replaced = False
    if element is not dict:
        if delete:
            doomed = {_hashable(v) for v in patch}
            return [v for v in original if _hashable(v) not in doomed], original
        merged = _dedupe(original + patch)
    else:
        if not merge_key:
            kind = field.items.schema_type.go_kind
            raise StrategicMergePatchInternalError(
                f"cannot merge lists without merge key for {kind}"
            )
        backing = list(original)
        size, plain, replaced = _special_elements(backing, patch, merge_key)
        if replaced:
            original, patch, merged = plain, [], list(plain)
        else:
            original, patch = backing[:size], plain
            merged = _merge_elements(backing, size, patch, merge_key, field.items)
    mentioned, others = _partition(merged, patch, merge_key)
    result = _normalize(
        mentioned,
        others,
        order=patch,
        server_order=original,
        merge_key=merge_key,
        maps=element is dict,
    )
    return ([_strip(v) for v in result] if replaced else result), backing


def _merge_elements(
    backing: list[Any], size: int, patch: list[Any], merge_key: str, items: PatchMeta
) -> list[Any]:
    """Upstream ``mergeSliceWithoutSpecialElements``, appending in place while there is room."""
    array, shared = backing, True
    for item in patch:
        if merge_key not in item:
            raise _no_merge_key(item, merge_key)
        at = _find(array, merge_key, item[merge_key], size)
        if at >= 0:
            array[at] = _merge_map(array[at], item, items)
            continue
        if shared and size < len(backing):
            array[size] = _strip(item)
        else:
            if shared:
                array, shared = array[:size], False
            array.append(_strip(item))
        size += 1
    return array[:size]


def _special_elements(
    backing: list[Any], patch: list[Any], merge_key: str
) -> tuple[int, list[Any], bool]:
    """Apply ``$patch`` elements; return (the original's length, the other elements, replaced).

    Deleted elements are shifted out of ``backing`` in place, as upstream's
    ``deleteMatchingEntries`` does.
    """
    size = len(backing)
    plain: list[Any] = []
    replace = False
    for item in patch:
        if DIRECTIVE not in item:
            plain.append(item)
            continue
        directive = item[DIRECTIVE]
        if directive == "delete":
            if merge_key not in item:
                raise _no_merge_key(item, merge_key)
            while (at := _find(backing, merge_key, item[merge_key], size)) >= 0:
                backing[at : size - 1] = backing[at + 1 : size]
                size -= 1
        elif directive == "replace":
            replace = True
        elif directive == "merge":
            raise StrategicMergePatchInternalError(
                "merging lists cannot yet be specified in the patch"
            )
        else:
            raise _bad_patch_type(directive, item)
    return size, plain, replace


def _element_type(*lists: list[Any]) -> type:
    """Upstream ``sliceElementType``: every element of every list must have one JSON type."""
    found: type | None = None
    for values in lists:
        for value in values:
            if found is None:
                if value is None:
                    raise StrategicMergePatchInternalError(
                        "runtime error: invalid memory address or nil pointer dereference"
                    )
                if isinstance(value, list):
                    raise StrategicMergePatchInvalidError("lists of lists are not supported")
                found = type(value)
            elif type(value) is not found:
                raise StrategicMergePatchInternalError(
                    f"list element types are not identical: {go_v(list(lists))}"
                )
    if found is None:
        raise StrategicMergePatchInternalError("no elements in any of the given slices")
    return found


def _dedupe(values: list[Any]) -> list[Any]:
    """Upstream ``deduplicateScalars``: a duplicate is overwritten by the last element."""
    last = len(values) - 1
    i = 0
    while i < last:
        j = i + 1
        while j <= last:
            if _same(values[i], values[j]):
                values[j] = values[last]
                del values[last]
                last -= 1
            else:
                j += 1
        i += 1
    return values


def _find(values: list[Any], merge_key: str, wanted: Any, size: int) -> int:
    for at in range(size):
        value = values[at]
        if merge_key in value and _same(value[merge_key], wanted):
            return at
    return -1


def _partition(merged: list[Any], by: list[Any], merge_key: str) -> tuple[list[Any], list[Any]]:
    """Split into the elements ``by`` mentions and the others, keeping their order."""
    if not merge_key:
        named = set(_keys(by, "", maps=False))
        mentioned = [v for v in merged if _hashable(v) in named]
        return mentioned, [v for v in merged if _hashable(v) not in named]
    first: set[Any] = set()
    not_map = -1  # upstream scans ``by`` for each element and fails at the first non-map
    for at, item in enumerate(by):
        if type(item) is not dict:
            not_map = at
            break
        if merge_key in item:
            first.add(_hashable(item[merge_key]))
    inside: list[Any] = []
    outside: list[Any] = []
    for value in merged:
        _require_keyed((value,), merge_key)
        found = _hashable(value[merge_key]) in first
        if not found and not_map >= 0:
            raise StrategicMergePatchInternalError(f"value for key {not_map} is not a map")
        (inside if found else outside).append(value)
    return inside, outside


def _normalize(
    mentioned: list[Any],
    others: list[Any],
    *,
    order: list[Any],
    server_order: list[Any],
    merge_key: str,
    maps: bool,
) -> list[Any]:
    """Upstream ``normalizeElementOrder`` and ``mergeSortedSlice``.

    ``mentioned`` is sorted by ``order``, ``others`` by ``server_order``, then the two are
    merged: an element of ``others`` goes first only when both it and the next of
    ``mentioned`` are in ``server_order`` and it comes earlier there.
    """
    if maps:  # upstream ``validateMergeKeyInLists`` on both orders
        _require_keyed(order, merge_key)
        _require_keyed(server_order, merge_key)
    server = _positions(_keys(server_order, merge_key, maps=maps))
    mentioned = _sort(mentioned, _positions(_keys(order, merge_key, maps=maps)), merge_key, maps)
    others = _sort(others, server, merge_key, maps)
    if not mentioned or not others:
        return mentioned or others
    left = [server.get(k, -1) for k in _keys(others, merge_key, maps=maps)]
    right = [server.get(k, -1) for k in _keys(mentioned, merge_key, maps=maps)]
    result: list[Any] = []
    i = j = 0
    while i < len(others) and j < len(mentioned):
        if left[i] >= 0 and right[j] >= 0 and left[i] < right[j]:
            result.append(others[i])
            i += 1
        else:
            result.append(mentioned[j])
            j += 1
    return result + others[i:] + mentioned[j:]


def _sort(values: list[Any], where: dict[Any, int], merge_key: str, maps: bool) -> list[Any]:
    """Upstream ``normalizeSliceOrder``: a stable sort by position, ``$patch: delete`` last."""
    doomed: list[Any] = []
    if maps and any(v.get(DIRECTIVE) == "delete" for v in values):
        doomed = [v for v in values if v.get(DIRECTIVE) == "delete"]
        values = [v for v in values if v.get(DIRECTIVE) != "delete"]
    rank = [where.get(k, -1) for k in _keys(values, merge_key, maps=maps)]
    if -1 not in rank:
        return [values[i] for i in sorted(range(len(values)), key=rank.__getitem__)] + doomed
    # Go's insertion sort, with a "less" that is true whenever a position is unknown
    ordered = list(values)
    for i in range(1, len(ordered)):
        j = i
        while j > 0 and (rank[j] < 0 or rank[j - 1] < 0 or rank[j] < rank[j - 1]):
            ordered[j], ordered[j - 1] = ordered[j - 1], ordered[j]
            rank[j], rank[j - 1] = rank[j - 1], rank[j]
            j -= 1
    return ordered + doomed


def _positions(keys: list[Any]) -> dict[Any, int]:
    """The first position of each key."""
    where: dict[Any, int] = {}
    for at, key in enumerate(keys):
        where.setdefault(key, at)
    return where


def _keys(values: list[Any], merge_key: str, *, maps: bool) -> list[Any]:
    """What upstream's ``index`` compares: the merge key's value of a map, or the scalar."""
    if maps:
        return [_hashable(v.get(merge_key) if type(v) is dict else None) for v in values]
    return [_hashable(v) for v in values]


def _hashable(value: Any) -> Any:
    """A key that is equal only for values Go's ``==`` finds equal (1 and 1.0 and True differ)."""
    kind = type(value)
    if kind is str:
        return value
    if kind is dict or kind is list:
        return (kind, id(value))
    return (kind, value)


def _same(left: Any, right: Any) -> bool:
    return type(left) is type(right) and left == right


# --- values taken whole -----------------------------------------------------------------------


def _is_directive(key: str) -> bool:
    return key.startswith(("$patch", RETAIN_KEYS, SET_ELEMENT_ORDER, DELETE_FROM_PRIMITIVE_LIST))


def _take(value: Any) -> tuple[Any, bool]:
    """Upstream ``discardNullValuesFromPatch`` then ``removeDirectives``, then the decode."""
    if isinstance(value, dict):
        if value.get(DIRECTIVE) is not None:
            return None, False
        taken: dict[str, Any] = {}
        for key, member in value.items():
            if member is None or _is_directive(key):
                continue
            kept, keep = _take(member)
            if keep:
                taken[key] = kept
        return taken, True
    if isinstance(value, list):
        return [v for v, keep in map(_take, value) if keep], True
    return value, True


def _strip(value: Any) -> Any:
    """What decoding into the Go type keeps of a value: no directive keys, no null members."""
    if isinstance(value, dict):
        return {k: _strip(v) for k, v in value.items() if v is not None and not _is_directive(k)}
    if isinstance(value, list):
        return [_strip(v) for v in value]
    return value


# --- small helpers ----------------------------------------------------------------------------


def _field_of(key: str, prefix: str) -> str:
    head, _, rest = key.partition("/")
    if head != prefix or "/" not in key:
        if prefix == SET_ELEMENT_ORDER:
            raise StrategicMergePatchBadRequestError("invalid patch format of setElementOrder list")
        raise StrategicMergePatchBadRequestError("invalid patch format of primitive list")
    return rest


def _strategy(field: PatchMeta) -> str:
    """Upstream ``extractRetainKeysPatchStrategy``: the strategy besides ``retainKeys``."""
    others = [s for s in field.strategies if s != "retainKeys"]
    if len(field.strategies) > 2 or len(others) > 1:
        message = f"unexpected patch strategy: [{' '.join(field.strategies)}]"
        raise StrategicMergePatchInternalError(message)
    return others[0] if others else ""


def _bad_patch_type(directive: Any, where: dict[str, Any]) -> StrategicMergePatchError:
    return StrategicMergePatchInternalError(
        f"unknown patch type: {go_format(directive, 's')} in map: {go_v(where)}"
    )


def _no_merge_key(item: dict[str, Any], merge_key: str) -> StrategicMergePatchError:
    return StrategicMergePatchInternalError(
        f"map: {go_v(item)} does not contain declared merge key: {merge_key}"
    )


def _bad_arg_type(expected: str, actual: Any) -> StrategicMergePatchError:
    return StrategicMergePatchInternalError(
        f"expected a {expected}, but received a {go_type(actual)}"
    )
