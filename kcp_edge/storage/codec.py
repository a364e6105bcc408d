"""Byte layouts of the LMDB backend's records and of continue tokens.

Why this module exists: the on-disk format is a promise (a restart, or a newer kcp-edge, must
read what an older one wrote), so it lives in one place, small and explicit, with a format
version in the meta table. See ``docs/storage.md`` for the layout with worked examples.

Tables (LMDB named databases):

``keys``  user key -> ``>QQB`` (mod_revision, create_revision, flags) + value
          The latest version of every key, so a get is one lookup. A deleted key is kept as a
          tombstone (flag 1, empty value, mod_revision = the delete's revision) until
          compaction passes it, so reads at older revisions can find its history.
``log``   revision (8 bytes big-endian) -> ``>BQQH`` (type, create_revision, prev_revision,
          key length) + key + value
          One record per write, in revision order (appends). ``prev_revision`` links every
          record to the previous version of the same key: reads at a past revision walk this
          chain back from the latest version. A delete record holds the deleted value.
``meta``  b"rev", b"compact" -> 8 bytes big-endian; b"format" -> format version.
"""

from __future__ import annotations

import base64
import binascii
import json
import struct
from typing import NamedTuple

from kcp_edge.storage.errors import InvalidContinueError
from kcp_edge.storage.interface import EventType, KeyValue, Revision

FORMAT_VERSION = b"1"

_REV = struct.Struct(">Q")
LATEST = struct.Struct(">QQB")
"""Header of a ``keys`` record (the get fast path unpacks it directly)."""
_LOG = struct.Struct(">BQQH")

FLAG_LIVE = 0
FLAG_TOMBSTONE = 1

_TYPE_CODES = {EventType.PUT: 1, EventType.DELETE: 2}
_CODE_TYPES = {code: kind for kind, code in _TYPE_CODES.items()}


def encode_revision(revision: int) -> bytes:
    return _REV.pack(revision)


def decode_revision(raw: bytes) -> Revision:
    return Revision(_REV.unpack(raw)[0])


class Latest(NamedTuple):
    mod_revision: Revision
    create_revision: Revision
    tombstone: bool
    value: bytes

    def kv(self, key: bytes) -> KeyValue:
        return KeyValue(key, self.value, self.create_revision, self.mod_revision)


def encode_latest(mod_revision: int, create_revision: int, value: bytes) -> bytes:
    return LATEST.pack(mod_revision, create_revision, FLAG_LIVE) + value


def encode_tombstone(mod_revision: int) -> bytes:
    return LATEST.pack(mod_revision, 0, FLAG_TOMBSTONE)


def decode_latest(raw: bytes) -> Latest:
    mod, create, flags = LATEST.unpack_from(raw)
    return Latest(Revision(mod), Revision(create), flags == FLAG_TOMBSTONE, raw[LATEST.size :])


def latest_kv(key: bytes, raw: bytes) -> KeyValue | None:
    """The live version in a ``keys`` record, None for a tombstone (the get fast path)."""
    mod, create, flags = LATEST.unpack_from(raw)
    if flags == FLAG_TOMBSTONE:
        return None
    return KeyValue(key, raw[LATEST.size :], create, mod)


def latest_mod_revision(raw: bytes) -> int:
    """The mod revision alone, without copying the value (hot in list scans)."""
    return int(_REV.unpack_from(raw)[0])


class LogRecord(NamedTuple):
    revision: Revision
    type: EventType
    key: bytes
    value: bytes
    create_revision: Revision
    prev_revision: Revision

    def kv(self) -> KeyValue:
        return KeyValue(self.key, self.value, self.create_revision, self.revision)


def encode_log(
    kind: EventType, key: bytes, value: bytes, *, create_revision: int, prev_revision: int
) -> bytes:
    return _LOG.pack(_TYPE_CODES[kind], create_revision, prev_revision, len(key)) + key + value


def decode_log(revision: int, raw: bytes) -> LogRecord:
    code, create, prev, key_len = _LOG.unpack_from(raw)
    start = _LOG.size
    key = raw[start : start + key_len]
    return LogRecord(
        Revision(revision),
        _CODE_TYPES[code],
        key,
        raw[start + key_len :],
        Revision(create),
        Revision(prev),
    )


def log_prev_revision(raw: bytes) -> int:
    """Only the chain link of a log record (walking history back needs nothing else)."""
    return int(_LOG.unpack_from(raw)[2])


def log_key(raw: bytes) -> bytes:
    key_len = _LOG.unpack_from(raw)[3]
    return raw[_LOG.size : _LOG.size + key_len]


_TOKEN_VERSION = "kcp-edge.storage/v1"  # noqa: S105 - a format tag, not a secret


def encode_continue(revision: int, last_key: bytes) -> str:
    """An opaque, URL-safe token: the list's revision (0: the latest) and the last key returned."""
    body = json.dumps(
        {"v": _TOKEN_VERSION, "rv": revision, "start": base64.b64encode(last_key).decode()},
        separators=(",", ":"),
    )
    return base64.urlsafe_b64encode(body.encode()).decode().rstrip("=")


def decode_continue(token: str, prefix: bytes) -> tuple[Revision, bytes]:
    """(revision, last key) of a token issued for ``prefix``; `InvalidContinueError` otherwise."""
    try:
        padded = token + "=" * (-len(token) % 4)
        body = json.loads(base64.urlsafe_b64decode(padded.encode()))
        if not isinstance(body, dict) or body.get("v") != _TOKEN_VERSION:
            raise InvalidContinueError("continue key is not valid: unknown version")
        revision = body["rv"]
        last_key = base64.b64decode(body["start"], validate=True)
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        if isinstance(exc, InvalidContinueError):
            raise
        raise InvalidContinueError(f"continue key is not valid: {exc}") from exc
    if not isinstance(revision, int) or revision < 0:
        raise InvalidContinueError("continue key is not valid: bad revision")
    if not last_key.startswith(prefix):
        raise InvalidContinueError("continue key is not valid: it belongs to another list")
    return Revision(revision), last_key
