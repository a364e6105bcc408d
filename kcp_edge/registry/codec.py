"""Stored object bytes that are almost response-ready: resourceVersion is spliced in on read.

Why this module exists: a GET should be one store read and one socket write, not a decode and
re-encode of the object. But the store assigns an object's revision (its resourceVersion) only
when the write commits, after the bytes were made. So objects are stored as JSON whose first
key is ``metadata`` with ``resourceVersion`` left out, and a read inserts
``"resourceVersion":"<mod_revision>",`` right after the opening ``{"metadata":{``: one
concatenation per read, no JSON work. Everything else of the object is stored as given.
"""

from __future__ import annotations

from typing import Any

import orjson

_HEAD = b'{"metadata":{'
_HEAD_LEN = len(_HEAD)


def encode(obj: dict[str, Any]) -> bytes:
    """Bytes to store for ``obj`` (its metadata.resourceVersion is dropped)."""
    metadata = {k: v for k, v in obj["metadata"].items() if k != "resourceVersion"}
    if not metadata:
        raise ValueError("an object to store needs metadata (at least a name)")
    rest = {k: v for k, v in obj.items() if k != "metadata"}
    return orjson.dumps({"metadata": metadata, **rest})


def with_resource_version(stored: bytes, revision: int) -> bytes:
    """The object's JSON with ``metadata.resourceVersion`` set to ``revision``."""
    return b'{"metadata":{"resourceVersion":"%d",' % revision + stored[_HEAD_LEN:]


def decode(stored: bytes, revision: int) -> dict[str, Any]:
    obj: dict[str, Any] = orjson.loads(stored)
    obj["metadata"]["resourceVersion"] = str(revision)
    return obj
