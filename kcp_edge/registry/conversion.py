"""One stored object served through two APIs: core/v1 and events.k8s.io/v1 Events.

Why this module exists: the apiserver keeps Events in one place and serves them through both
``/api/v1/.../events`` and ``/apis/events.k8s.io/v1/.../events``, converting between the two
shapes (``pkg/apis/events/v1`` conversion: ``regarding`` is ``involvedObject``, ``note`` is
``message``, the ``deprecated*`` fields are the core timestamps, count and source,
``reportingController`` is ``reportingComponent``). An Event a controller records through one
API is therefore listed, watched, patched and deleted through the other; ``kubectl get events``
and ``kubectl events`` (events.k8s.io) see the same objects.

kcp-edge stores such objects once, in the storage shape (core/v1), under the storage id of the
storage kind; a kind served through another API names its conversion here. The object store
converts at its storage boundary (``encode`` before a write, ``decode``/``raw`` after a read), so
validation, defaults, patches, managed fields and selectors all see the requested API's shape.
Kinds without a conversion pay one dictionary lookup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from kcp_edge.registry import codec
from kcp_edge.registry.kinds import ResourceKind

Obj = dict[str, Any]


@dataclass(frozen=True)
class Conversion:
    """How objects of one served kind map to the shape they are stored in."""

    to_storage: Callable[[Obj], Obj]
    from_storage: Callable[[Obj], Obj]


def _renamer(pairs: tuple[tuple[str, str], ...], api_version: str) -> Callable[[Obj], Obj]:
    """A converter renaming top-level fields ``a -> b`` for each pair; order is kept, the
    metadata first (the codec's stored layout starts with it)."""
    names = dict(pairs)

    def convert(obj: Obj) -> Obj:
        out = {names.get(key, key): value for key, value in obj.items()}
        if "apiVersion" in out:
            out["apiVersion"] = api_version
        return out

    return convert


_EVENT_FIELDS = (
    ("regarding", "involvedObject"),
    ("note", "message"),
    ("reportingController", "reportingComponent"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
)

EVENTS_V1 = Conversion(
    to_storage=_renamer(_EVENT_FIELDS, "v1"),
    from_storage=_renamer(tuple((b, a) for a, b in _EVENT_FIELDS), "events.k8s.io/v1"),
)

_CONVERSIONS: dict[tuple[str, str], Conversion] = {("events.k8s.io", "events"): EVENTS_V1}


def conversion_for(kind: ResourceKind) -> Conversion | None:
    """The conversion of a kind stored in another kind's shape, or None (most kinds)."""
    return _CONVERSIONS.get((kind.group, kind.resource))


def decode(kind: ResourceKind, stored: bytes, revision: int) -> Obj:
    """A stored object as ``kind`` serves it, with its resourceVersion."""
    obj = codec.decode(stored, revision)
    conversion = _CONVERSIONS.get((kind.group, kind.resource))
    return obj if conversion is None else conversion.from_storage(obj)


def raw(kind: ResourceKind, stored: bytes, revision: int) -> bytes:
    """A stored object's JSON as ``kind`` serves it: no JSON work unless it converts."""
    conversion = _CONVERSIONS.get((kind.group, kind.resource))
    if conversion is None:
        return codec.with_resource_version(stored, revision)
    return orjson.dumps(conversion.from_storage(codec.decode(stored, revision)))


def encode(kind: ResourceKind, obj: Obj) -> bytes:
    """The bytes to store for ``obj``, an object in ``kind``'s shape."""
    conversion = _CONVERSIONS.get((kind.group, kind.resource))
    return codec.encode(obj if conversion is None else conversion.to_storage(obj))
