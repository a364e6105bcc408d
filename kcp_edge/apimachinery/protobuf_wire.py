"""The protobuf wire format and Go's JSON rendering of the scalars Kubernetes puts on it.

Why this module exists: `kcp_edge.apimachinery.protobuf` turns Kubernetes protobuf request
bodies into JSON. The low-level help it needs is kept here, so that module stays about
Kubernetes rules:

* the field table, loaded and compiled per message on first use (`table`, `message`), and the wire
  format's primitives: varints, lengths, skipping unknown fields (groups included), map entries,
  packed numbers. They fail the way the gogo-protobuf code generated into
  ``k8s.io/api/*/generated.pb.go`` fails: ``unexpected EOF``, ``proto: integer overflow``,
  ``proto: negative length found during unmarshaling``, ``proto: wrong wireType = N for field
  X``, ``proto: X: illegal tag N (wire type N)``, ``proto: illegal wireType N``, ``proto:
  unexpected end of group``;
* writing values the way Go's JSON encoder writes them after a protobuf decode:
  ``metav1.Time`` as RFC 3339 with whole seconds, ``metav1.MicroTime`` with six fraction
  digits (``k8s.io/apimachinery/pkg/apis/meta/v1/time.go``, ``micro_time.go``),
  ``time.Duration.String()`` for ``metav1.Duration``, and ``[]byte`` as standard base64. Times
  outside the years 0001-9999 are refused: Go would write them, but not parse them back.

Everything raises `WireError` (a `ValueError` carrying Go's reason text), which the decoder turns
into its public error with the apiserver's full message.
"""

from __future__ import annotations

import binascii
import math
import struct
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any

import orjson

STRING, BYTES, INT32, INT64, BOOL, DOUBLE, MESSAGE, MAP, RAW = range(9)
"""Field kinds: the table's scalar types, a nested message, a map; RAW is bytes kept as bytes
(the fields of special messages, whose JSON is computed from them)."""
_KINDS = {"string": STRING, "bytes": BYTES, "int32": INT32, "int64": INT64, "bool": BOOL}
_KINDS.update(double=DOUBLE, map=MAP)

MASK64 = (1 << 64) - 1
MASK32 = (1 << 32) - 1

EOF = "unexpected EOF"
INTEGER_OVERFLOW = "proto: integer overflow"
NEGATIVE_LENGTH = "proto: negative length found during unmarshaling"
END_OF_GROUP = "proto: unexpected end of group"

_NANOS_PER_SECOND = 1_000_000_000
_EPOCH = datetime(1970, 1, 1)  # naive on purpose: isoformat() then has no offset to strip
_MIN_SECONDS = -62_135_596_800  # 0001-01-01T00:00:00Z
_MAX_SECONDS = 253_402_300_800  # 10000-01-01T00:00:00Z


class WireError(ValueError):
    """Malformed protobuf data; ``str()`` is the reason Go's generated decoder would give."""


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a compiled message."""

    number: int
    name: str
    """The JSON name (the Go json tag), not the proto name."""
    kind: int
    type_name: str
    """The message type of a MESSAGE field, or of a MAP field's values."""
    value_kind: int
    """For MAP fields: STRING, BYTES or MESSAGE (keys are always strings)."""
    repeated: bool
    pointer: bool
    keep: bool
    """Listed in ``_nonomitempty``: Go writes it even when zero, and nil as null."""
    inline: bool
    drop_zero: bool
    """A zero value is left out of the JSON (a non-pointer scalar with omitempty)."""


@dataclass(frozen=True, slots=True)
class Message:
    """One message of the field table, compiled for decoding."""

    name: str
    short: str
    """The last part of the name, for errors: ``ConfigMap``."""
    special: str
    """The ``_special`` tag when its JSON is not its fields (then every field is kept raw)."""
    fields: dict[int, Field]
    defaults: tuple[Field, ...]
    """The fields Go's JSON has even when absent: non-omitempty ones, non-pointer messages."""


SPECIALS = frozenset(
    {"time", "microtime", "duration", "quantity", "stringlist", "intorstring", "json"}
    | {"fieldsv1", "rawextension", "schema-or-array", "schema-or-bool", "schema-or-stringarray"}
)
"""The ``_special`` tags whose JSON is not their fields ("timestamp" is a plain message)."""
_NULL_ZERO = frozenset({"time", "microtime", "json", "fieldsv1", "rawextension", "stringlist"})
"""Special types whose Go zero value is JSON null."""


def compile_message(name: str, entries: dict[str, Any]) -> Message:
    """The table's entry for message ``name`` as a `Message`.

    Special messages (and the ``runtime.Unknown`` envelope) are read by code, not written as
    JSON: their bytes stay bytes and their zero values are kept.
    """
    spec = entries[name]
    special = spec.get("_special", "")
    special = special if special in SPECIALS else ""
    raw = bool(special) or name.endswith(".runtime.Unknown")
    keep = set(spec.get("_nonomitempty", ()))
    fields: dict[int, Field] = {}
    for number, field in spec.items():
        if number.startswith("_"):
            continue
        kind = _KINDS.get(field["type"], MESSAGE)
        value_type = field["map"]["value"] if kind == MAP else ""
        pointer = bool(field.get("pointer"))
        fields[int(number)] = Field(
            number=int(number),
            name=field["name"],
            kind=RAW if raw and kind == BYTES else kind,
            type_name=field["type"] if kind == MESSAGE else value_type,
            value_kind=_KINDS.get(value_type, MESSAGE) if kind == MAP else STRING,
            repeated=field["label"] == "repeated",
            pointer=pointer,
            keep=field["name"] in keep,
            inline=bool(field.get("inline")),
            drop_zero=not (raw or pointer or field["name"] in keep),
        )
    defaults = [
        field
        for _, field in sorted(fields.items())
        if field.keep
        or (
            field.kind == MESSAGE
            and not (field.repeated or field.pointer)
            and entries.get(field.type_name, {}).get("_special") not in _NULL_ZERO
        )
    ]
    return Message(name, name.rpartition(".")[2], special, fields, () if raw else tuple(defaults))


_table: dict[str, Any] = {}
compiled: dict[str, Message] = {}
"""Every message compiled so far, by name (read directly on the decoder's hot path)."""


def table() -> dict[str, Any]:
    """The field table, read from ``data/protobuf-fields.json`` on first use."""
    if not _table:
        data = resources.files(__package__) / "data" / "protobuf-fields.json"
        _table.update(orjson.loads(data.read_bytes()))
    return _table


def message(name: str) -> Message:
    """The compiled message ``name`` (compiled once, on first use)."""
    found = compiled.get(name)
    if found is None:
        if name.startswith("_") or name not in table():
            raise WireError(f"no protobuf message {name!r} in the field table")
        found = compiled[name] = compile_message(name, _table)
    return found


_DOUBLE = struct.Struct("<d")


def to_int64(value: int) -> int:
    """The low 64 bits of a varint as a signed number (Go's ``int64(x)``)."""
    value &= MASK64
    return value - (1 << 64) if value >> 63 else value


def to_int32(value: int) -> int:
    """The low 32 bits of a varint as a signed number (Go's ``int32(x)``)."""
    value &= MASK32
    return value - (1 << 32) if value >> 31 else value


def read_varint(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """A varint at ``pos`` (not past ``end``): its value (mod 2**64) and the next position."""
    result = 0
    shift = 0
    while True:
        if shift >= 64:
            raise WireError(INTEGER_OVERFLOW)
        if pos >= end:
            raise WireError(EOF)
        byte = buf[pos]
        pos += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result & MASK64, pos
        shift += 7


def read_length(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """The span of a length-delimited value whose length varint starts at ``pos``."""
    if pos < end and buf[pos] < 0x80:
        start = pos + 1
        stop = start + buf[pos]
    else:
        length, start = read_varint(buf, pos, end)
        if length >> 63:  # Go reads the length into an int: negative is its own error
            raise WireError(NEGATIVE_LENGTH)
        stop = start + length
    if stop > end:
        raise WireError(EOF)
    return start, stop


def skip_field(buf: bytes, pos: int, end: int, wire_type: int) -> int:
    """Skip an unknown field whose tag ended just before ``pos`` (groups included)."""
    depth = 0
    while True:
        if wire_type == 0:
            _, pos = read_varint(buf, pos, end)
        elif wire_type == 1:
            pos += 8
        elif wire_type == 2:
            _, pos = read_length(buf, pos, end)
        elif wire_type == 3:
            depth += 1
        elif wire_type == 4:
            if depth == 0:
                raise WireError(END_OF_GROUP)
            depth -= 1
        elif wire_type == 5:
            pos += 4
        else:
            raise WireError(f"proto: illegal wireType {wire_type}")
        if pos > end:
            raise WireError(EOF)
        if depth == 0:
            return pos
        tag, pos = read_varint(buf, pos, end)
        wire_type = tag & 7


def skip_unknown(buf: bytes, pos: int, end: int, number: int, wire_type: int, *, short: str) -> int:
    """Skip a field the table does not know; Go's checks on the tag come first."""
    if number <= 0:
        raise WireError(f"proto: {short}: illegal tag {number} (wire type {wire_type})")
    if wire_type == 4:
        raise WireError(f"proto: {short}: wiretype end group for non-group")
    return skip_field(buf, pos, end, wire_type)


def wrong_wire_type(wire_type: int, field: Field) -> WireError:
    return WireError(f"proto: wrong wireType = {wire_type} for field {field.name}")


def not_utf8(field: Field) -> WireError:
    return WireError(f"proto: string field {field.name} is not valid UTF-8")


def integer(kind: int, value: int) -> int | bool:
    """A varint as the field's Go type: int32 and int64 wrap around, bool is "not zero"."""
    if kind == INT32:
        return to_int32(value)
    if kind == INT64:
        return to_int64(value)
    return value != 0


def read_double(buf: bytes, pos: int, end: int) -> float:
    if pos + 8 > end:
        raise WireError(EOF)
    value: float = _DOUBLE.unpack_from(buf, pos)[0]
    if not math.isfinite(value):
        # Go decodes it, then encoding/json refuses it; JSON cannot carry it either.
        text = "NaN" if math.isnan(value) else ("+Inf" if value > 0 else "-Inf")
        raise WireError(f"json: unsupported value: {text}")
    return value


def packed(buf: bytes, pos: int, end: int, kind: int) -> list[Any]:
    """A packed repeated number field (Kubernetes writes them unpacked; both are valid)."""
    if kind == DOUBLE:
        if (end - pos) % 8:
            raise WireError(EOF)
        return [read_double(buf, offset, end) for offset in range(pos, end, 8)]
    items: list[Any] = []
    while pos < end:
        value, pos = read_varint(buf, pos, end)
        items.append(integer(kind, value))
    return items


def map_entry(buf: bytes, pos: int, end: int, field: Field) -> tuple[str, Any]:
    """One ``{1: key, 2: value}`` map entry; a missing key or value is its type's zero value.

    String values come back as str, bytes values in base64, message values as the ``(start,
    stop)`` span of ``buf`` (None when missing) for the caller to decode.
    """
    key = ""
    value: Any = None
    value_kind = field.value_kind
    while pos < end:
        tag = buf[pos]
        pos += 1
        if tag < 0x80:
            number = tag >> 3
        else:
            tag, pos = read_varint(buf, pos - 1, end)
            number = to_int32(tag >> 3)
        wire_type = tag & 7
        if number not in (1, 2):
            pos = skip_unknown(buf, pos, end, number, wire_type, short=field.name)
            continue
        if wire_type != 2:
            raise wrong_wire_type(wire_type, field)
        if pos < end and buf[pos] < 0x80:
            start = pos + 1
            pos = start + buf[pos]
            if pos > end:
                raise WireError(EOF)
        else:
            start, pos = read_length(buf, pos, end)
        if number == 2 and value_kind == MESSAGE:
            value = (start, pos)
            continue
        try:
            text = buf[start:pos].decode() if number == 1 or value_kind == STRING else ""
        except UnicodeDecodeError:
            raise not_utf8(field) from None
        if number == 1:
            key = text
        else:
            value = text if value_kind == STRING else base64(buf[start:pos])
    if value is None and value_kind != MESSAGE:
        value = ""
    return key, value


def base64(data: bytes) -> str:
    """Standard base64 with padding, as Go's encoding/json writes a ``[]byte``."""
    return binascii.b2a_base64(data, newline=False).decode("ascii")


def _utc(seconds: int, microseconds: int = 0) -> datetime:
    # Go would write other years too, but its RFC 3339 parser then refuses them: so do we, now.
    if not _MIN_SECONDS <= seconds < _MAX_SECONDS:
        raise WireError(f"time {seconds}s since 1970 is outside the years 0001 to 9999")
    return _EPOCH + timedelta(seconds=seconds, microseconds=microseconds)


def format_time(seconds: int) -> str:
    """``metav1.Time`` in JSON: UTC RFC 3339 with whole seconds (``2008-01-01T01:01:01Z``)."""
    return _utc(seconds).isoformat() + "Z"


def format_micro_time(seconds: int, nanos: int) -> str:
    """``metav1.MicroTime`` in JSON: RFC 3339 with six fraction digits, truncated, in UTC.

    Go builds it with ``time.Unix(seconds, nanos)``, which carries out-of-range nanos into the
    seconds, so this does too.
    """
    seconds, nanos = divmod(seconds * _NANOS_PER_SECOND + nanos, _NANOS_PER_SECOND)
    return _utc(seconds, nanos // 1000).isoformat(timespec="microseconds") + "Z"


def _fraction(value: int, digits: int) -> str:
    whole, frac = divmod(value, 10**digits)
    text = f"{frac:0{digits}d}".rstrip("0")
    return f"{whole}.{text}" if text else str(whole)


def format_duration(nanos: int) -> str:
    """Go's ``time.Duration.String()``: ``0s``, ``1.5µs``, ``150ms``, ``1h2m3.5s``."""
    size = abs(nanos)
    if size == 0:
        return "0s"
    if size < 1_000:
        text = f"{size}ns"
    elif size < 1_000_000:
        text = _fraction(size, 3) + "\u00b5s"
    elif size < _NANOS_PER_SECOND:
        text = _fraction(size, 6) + "ms"
    else:
        minutes, rest = divmod(size, 60 * _NANOS_PER_SECOND)
        hours, minutes = divmod(minutes, 60)
        text = _fraction(rest, 9) + "s"
        if hours:
            text = f"{hours}h{minutes}m{text}"
        elif minutes:
            text = f"{minutes}m{text}"
    return "-" + text if nanos < 0 else text
