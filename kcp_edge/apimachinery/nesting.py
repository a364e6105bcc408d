"""How deeply JSON values nest, and the one limit on what the server keeps.

Why this module exists: kube-apiserver decodes JSON up to 10,000 levels (Go's
``encoding/json``), but kcp-edge walks objects with recursive Python (merges, field sets,
copies) and writes them with orjson, which refuses values nested more than 254 levels. A kept
object also grows after it is sent: its managedFields repeat its fields five levels further
down, and a Table row wraps it three more. So what is kept (stored, merged, answered) may nest
at most `MAX_DEPTH` levels, the object itself being the first; a body may be read deeper, as
long as what lies deeper is dropped (the unknown fields of a built-in kind, the pruned fields
of a custom resource).
"""

from __future__ import annotations

from typing import Any

import orjson

MAX_DEPTH = 200
"""Levels of nesting kept; with managedFields (+5) and a Table (+3), 208 < orjson's 254."""
MANAGED_FIELDS_DEPTH = 5
"""How much deeper ``metadata.managedFields`` nest than the fields they record."""

_CONTAINERS = (dict, list)


def too_deep(value: Any, limit: int = MAX_DEPTH) -> dict[str, Any] | list[Any] | None:
    """A container of ``value`` nested deeper than ``limit`` levels, or None (a scalar is 0
    levels deep, ``{}`` one). Iterative, so any depth is safe to ask about."""
    if type(value) not in _CONTAINERS:
        return None
    pending: list[tuple[dict[str, Any] | list[Any], int]] = [(value, 1)]
    while pending:
        container, depth = pending.pop()
        if depth > limit:
            return container
        for item in container.values() if isinstance(container, dict) else container:
            if type(item) in _CONTAINERS:
                pending.append((item, depth + 1))
    return None


def object_too_deep(obj: dict[str, Any], limit: int = MAX_DEPTH) -> bool:
    """Whether the object ``obj`` nests deeper than ``limit`` levels, its managedFields being
    allowed the `MANAGED_FIELDS_DEPTH` levels more that a field set takes to record a field."""
    try:  # orjson writes faster than Python walks: most objects have too few brackets
        if not may_be_deeper(orjson.dumps(obj), limit):
            return False
    except orjson.JSONEncodeError:
        pass  # deeper than orjson writes, or not JSON: the walk tells
    meta = obj.get("metadata")
    if type(meta) is not dict or "managedFields" not in meta:
        return too_deep(obj, limit) is not None
    rest = {**obj, "metadata": {k: v for k, v in meta.items() if k != "managedFields"}}
    # managedFields sit at level 3 of the object: their own level 1.
    managed_limit = limit + MANAGED_FIELDS_DEPTH - 2
    return (
        too_deep(rest, limit) is not None
        or too_deep(meta["managedFields"], managed_limit) is not None
    )


def may_be_deeper(text: bytes | str, limit: int = MAX_DEPTH) -> bool:
    """False when the JSON ``text`` opens too few containers to nest deeper than ``limit``:
    the cheap test that spares most documents `too_deep`'s walk."""
    if isinstance(text, bytes):
        return text.count(b"{") + text.count(b"[") > limit
    return text.count("{") + text.count("[") > limit


def opening(container: Any) -> str:
    """The character that opens ``container`` in JSON."""
    return "[" if type(container) is list else "{"


def opening_at(text: str, pos: int) -> str:
    """The character that opened the container at ``pos`` of ``text``, where orjson reports
    its depth limit (at the bracket, or just past it)."""
    return "[" if text.rfind("[", 0, pos + 1) > text.rfind("{", 0, pos + 1) else "{"


def go_depth_error(bracket: str) -> str:
    """Go's ``encoding/json`` error for a document nested too deeply at ``bracket``."""
    return f"invalid character '{bracket}' exceeded max depth"
