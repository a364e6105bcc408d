"""Kubernetes protobuf request bodies (``application/vnd.kubernetes.protobuf``) as JSON objects.

Why this module exists: client-go v0.32+ typed clients send built-in kinds as protobuf, so
``kubectl create configmap|secret|namespace|...``, ``auth can-i`` and ``auth whoami`` post
protobuf and never fall back to JSON. `decode` turns such a body into the object the same
request would carry as ``application/json``: what Go gets by unmarshalling it into the typed
struct (``k8s.io/apimachinery/pkg/runtime/serializer/protobuf``) and encoding that with
``encoding/json``. It is table-driven: ``data/protobuf-fields.json`` (from the
``generated.proto`` files and ``types.go`` json tags of k8s.io/api, apimachinery and
apiextensions-apiserver) gives each message's field numbers, JSON names, types, pointers,
inlining and omitempty; a message is compiled on first use. Time, MicroTime, Duration,
IntOrString, Quantity, RawExtension, FieldsV1, the string-list wrappers and apiextensions' JSON
and schema unions have their own rules (SPECIAL.md of the fixtures).

Errors are `ProtobufError` (a `ValueError`) whose ``str()`` is kube-apiserver's 400 BadRequest
message (``transformDecodeError``, ``k8s.io/apiserver/pkg/endpoints/handlers/rest.go``):
``ConfigMap in version "v1" cannot be handled as a ConfigMap: unexpected EOF`` once the
envelope named a kind, ``the object provided is unrecognized (must be of type ConfigMap):
<reason> (<first 30 bytes in hex> ...)`` before. The reasons are Go's (the serializer's ``empty
data`` / ``provided data does not appear to be a protobuf message, expected prefix [107 56 115
0]`` / ``empty body``, gogo's wire errors, runtime's ``Object 'Kind' is missing in ...`` and
``no kind "X" is registered for version "v1" in scheme ...``), except three limits Go does not
have: more than `MAX_DEPTH` nested messages, invalid UTF-8 in a string (Go would keep it and
write U+FFFD), and CBOR in RawExtension / FieldsV1.
"""

from __future__ import annotations

from typing import Any

import orjson

from kcp_edge.apimachinery import protobuf_wire as wire
from kcp_edge.apimachinery.protobuf_wire import MAP, MESSAGE, STRING, Message, WireError

MAGIC = b"k8s\x00"
CBOR_PREFIX = b"\xd9\xd9\xf7"
MAX_DEPTH = 100
"""Most messages nested in one body, the object itself being the first."""
SCHEME = "k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30"
"""The scheme name kube-apiserver's "no kind ... is registered" errors carry."""

_ZEROS: dict[int, Any] = {STRING: "", wire.INT32: 0, wire.INT64: 0, wire.BOOL: False}
_ZEROS[wire.DOUBLE] = 0.0
_UNKNOWN = "k8s.io.apimachinery.pkg.runtime.Unknown"


class ProtobufError(ValueError):
    """A body kube-apiserver refuses with 400 BadRequest; ``str()`` is the apiserver's message.

    ``reason`` is the underlying Go error text. ``api_version`` and ``kind`` are what the
    envelope said (after defaults), empty when decoding failed before that was known.
    """

    def __init__(
        self,
        reason: str,
        *,
        api_version: str = "",
        kind: str = "",
        target_kind: str = "",
        body: bytes = b"",
    ) -> None:
        self.reason = reason
        self.api_version = api_version
        self.kind = kind
        target = target_kind or kind
        if kind:
            version = _quote(api_version.rpartition("/")[2])
            message = f"{kind} in version {version} cannot be handled as a {target}: {reason}"
        else:
            message = "the object provided is unrecognized"
            if target:
                message += f" (must be of type {target})"
            message += f": {reason} ({_summary(body)})"
        super().__init__(message)


class NotProtobufError(ProtobufError):
    """The body is empty, or does not start with the ``k8s\\x00`` magic."""


class MalformedProtobufError(ProtobufError):
    """Truncated or malformed wire data, a wrong wire type, too deep, bad UTF-8 or JSON."""


class UnknownKindError(ProtobufError):
    """The envelope names no kind, no version, or a kind that has no protobuf form."""


def _quote(text: str) -> str:
    return orjson.dumps(text).decode()  # Go's %q, for the printable names seen here


def _summary(body: bytes) -> str:
    # The apiserver's summarizeData: the first 30 bytes, as text for JSON, else as hex.
    if not body:
        return "<empty>"
    head = body[:30].decode("utf-8", "replace") if body[:1] == b"{" else body[:30].hex()
    return head + (" ..." if len(body) > 30 else "")


_zero_json: dict[str, bytes] = {}
_messages = wire.compiled
_message = wire.message


def message_for_kind(api_version: str, kind: str) -> str | None:
    """The message of ``apiVersion``/``kind`` (``v1``, ``Pod`` -> ``k8s.io.api.core.v1.Pod``)."""
    group, _, version = api_version.rpartition("/")
    if group == "core" or not version:
        return None  # "core" is only the table's spelling of the legacy group
    name: str | None = wire.table()["_kinds"].get(f"{group or 'core'}/{version}/{kind}")
    return name


# --- the public entry points ------------------------------------------------------------------


def decode(body: bytes, *, default_api_version: str = "", default_kind: str = "") -> dict[str, Any]:
    """A whole protobuf request body (magic + ``runtime.Unknown``) as its JSON object.

    ``default_api_version`` and ``default_kind`` are the endpoint's: they fill an empty
    typeMeta as the apiserver's decoder does, and ``default_kind`` is the expected type that
    error messages name.
    """
    api_version = kind = ""

    def fail(error: type[ProtobufError], reason: str) -> ProtobufError:
        return error(
            reason, api_version=api_version, kind=kind, target_kind=default_kind, body=body
        )

    if not body:
        raise fail(NotProtobufError, "empty data")
    if body[:4] != MAGIC:
        reason = "provided data does not appear to be a protobuf message, expected prefix"
        raise fail(NotProtobufError, f"{reason} [107 56 115 0]")
    if len(body) == 4:
        raise fail(NotProtobufError, "empty body")
    try:
        envelope_version, envelope_kind, raw = _envelope(body)
    except WireError as exc:
        raise fail(MalformedProtobufError, str(exc)) from None
    # copyKindDefaults: the endpoint's kind and group/version fill what the envelope left out.
    group, version = _group_version(envelope_version)
    if not version and _group_version(default_api_version)[1]:
        group, version = _group_version(default_api_version)
    api_version = f"{group}/{version}" if group else version
    kind = envelope_kind or default_kind
    try:
        return _object(api_version, kind, raw, 1)
    except _KindError as exc:
        raise fail(UnknownKindError, str(exc)) from None
    except (WireError, RecursionError) as exc:
        raise fail(MalformedProtobufError, str(exc)) from None


def decode_message(type_name: str, data: bytes) -> Any:
    """One message's bytes (no magic, no envelope) as JSON, for a fully qualified type name."""
    try:
        return _sub(type_name, data, (0, len(data)), 1)
    except (WireError, RecursionError) as exc:
        raise MalformedProtobufError(str(exc), kind=type_name.rpartition(".")[2]) from None


class _KindError(WireError):
    """The envelope's kind cannot be decoded (missing, or not in the table)."""


def _group_version(api_version: str) -> tuple[str, str]:
    # schema.ParseGroupVersion; runtime.Unknown treats an unparsable value as empty.
    if api_version.count("/") > 1:
        return "", ""
    group, _, version = api_version.rpartition("/")
    return group, version


def _envelope(body: bytes) -> tuple[str, str, bytes]:
    """A ``k8s\\x00`` + ``runtime.Unknown`` body: apiVersion, kind and raw.

    contentEncoding and contentType are ignored, as the Go serializer ignores them.
    """
    unknown = _fields(_message(_UNKNOWN), body, len(MAGIC), len(body), 1)
    type_meta = unknown.get("typeMeta") or {}
    return type_meta.get("apiVersion", ""), type_meta.get("kind", ""), unknown.get("raw", b"")


def _object(api_version: str, kind: str, raw: bytes, depth: int) -> dict[str, Any]:
    type_meta = f"runtime.TypeMeta{{APIVersion:{_quote(api_version)}, Kind:{_quote(kind)}}}"
    if not kind:
        raise _KindError(f"Object 'Kind' is missing in '{type_meta}'")
    if not _group_version(api_version)[1]:
        raise _KindError(f"Object 'apiVersion' is missing in '{type_meta}'")
    name = message_for_kind(api_version, kind)
    if name is None:
        reason = f"no kind {_quote(kind)} is registered for version {_quote(api_version)}"
        raise _KindError(f"{reason} in scheme {_quote(SCHEME)}")
    value = _sub(name, raw, (0, len(raw)), depth)
    if not isinstance(value, dict):
        raise WireError(f"{kind} does not decode to a JSON object")
    return {"kind": kind, "apiVersion": api_version, **value}


# --- messages to JSON -------------------------------------------------------------------------


def _sub(type_name: str, buf: bytes, span: tuple[int, int] | None, depth: int) -> Any:
    """Message ``type_name`` at ``buf[span]`` as JSON; None (absent): Go's zero value's JSON."""
    message = _messages.get(type_name) or _message(type_name)
    if span is None:
        cached = _zero_json.get(type_name)
        if cached is None:
            cached = _zero_json[type_name] = orjson.dumps(_sub(type_name, b"", (0, 0), 1))
        return orjson.loads(cached)
    if message.special:
        return _special(message, buf, span[0], span[1], depth)
    return _fields(message, buf, span[0], span[1], depth)


def _fields(message: Message, buf: bytes, pos: int, end: int, depth: int) -> dict[str, Any]:
    """Go's encoding/json output for the struct that protobuf decoding of ``buf[pos:end]`` fills.

    One pass over the wire, writing JSON names: zero non-pointer scalars are left out unless
    the field lacks omitempty, and non-pointer messages are always written (``{}`` when empty)
    except a special one that is null (a zero Time). Then the fields Go writes although absent:
    non-pointer messages, and null or zero for those without omitempty. ``depth`` counts this
    message and the ones it is nested in.
    """
    if depth > MAX_DEPTH:
        raise WireError(f"proto: message nesting exceeds the maximum depth of {MAX_DEPTH}")
    out: dict[str, Any] = {}
    seen: dict[int, Any] | None = None  # singular message fields met: number -> span(s)
    merged: list[int] | None = None
    fields = message.fields
    depth += 1  # from here on: the depth of the nested messages
    while pos < end:
        tag = buf[pos]
        pos += 1
        if tag < 0x80:
            number = tag >> 3
        else:
            tag, pos = wire.read_varint(buf, pos - 1, end)
            number = wire.to_int32(tag >> 3)  # Go: fieldNum := int32(wire >> 3)
        wire_type = tag & 7
        field = fields.get(number)
        if field is None:
            pos = wire.skip_unknown(buf, pos, end, number, wire_type, short=message.short)
            continue
        kind = field.kind
        name = field.name
        value: Any
        if wire_type == 2:
            if pos < end and buf[pos] < 0x80:
                start = pos + 1
                pos = start + buf[pos]
                if pos > end:
                    raise WireError(wire.EOF)
            else:
                start, pos = wire.read_length(buf, pos, end)
            if kind == STRING:
                try:
                    value = buf[start:pos].decode()
                except UnicodeDecodeError:
                    raise wire.not_utf8(field) from None
            elif kind == MESSAGE:
                sub = _messages.get(field.type_name) or _message(field.type_name)
                if not field.repeated:
                    if seen is None:
                        seen = {number: (start, pos)}
                    elif number in seen:  # protobuf merges a singular message sent twice
                        if merged is None:
                            merged = []
                        if number not in merged:
                            merged.append(number)
                            seen[number] = [seen[number]]
                        seen[number].append((start, pos))
                        continue
                    else:
                        seen[number] = (start, pos)
                if sub.special:
                    value = _special(sub, buf, start, pos, depth)
                else:
                    value = _fields(sub, buf, start, pos, depth)
                if not field.repeated:
                    if value is None or field.inline:
                        _put(out, field, value, merge=False)
                    else:
                        out[name] = value
                    continue
            elif kind == MAP:
                key, value = wire.map_entry(buf, start, pos, field)
                if field.value_kind == MESSAGE:
                    value = _sub(field.type_name, buf, value, depth)
                entries = out.get(name)
                if entries is None:
                    out[name] = {key: value}
                else:
                    entries[key] = value
                continue
            elif kind == wire.BYTES:
                value = wire.base64(buf[start:pos])
            elif kind == wire.RAW:
                value = buf[start:pos]
            elif field.repeated and wire.INT32 <= kind <= wire.DOUBLE:
                items = wire.packed(buf, start, pos, kind)
                if items:
                    out.setdefault(name, []).extend(items)
                continue
            else:
                raise wire.wrong_wire_type(wire_type, field)
        elif wire_type == 0 and wire.INT32 <= kind <= wire.BOOL:
            if pos < end and buf[pos] < 0x80:
                value = buf[pos]
                pos += 1
                if kind == wire.BOOL:
                    value = value != 0
            else:
                value, pos = wire.read_varint(buf, pos, end)
                value = wire.integer(kind, value)
        elif wire_type == 1 and kind == wire.DOUBLE:
            value = wire.read_double(buf, pos, end)
            pos += 8
        elif wire_type == 4:
            raise WireError(f"proto: {message.short}: wiretype end group for non-group")
        else:
            raise wire.wrong_wire_type(wire_type, field)
        if field.repeated:
            values = out.get(name)
            if values is None:
                out[name] = [value]
            else:
                values.append(value)
        elif value or not field.drop_zero:
            out[name] = value
        elif name in out:
            del out[name]  # a later zero value replaces an earlier one
    for number in merged or ():
        joined = b"".join(buf[start:stop] for start, stop in seen[number])  # type: ignore[index]
        value = _sub(fields[number].type_name, joined, (0, len(joined)), depth)
        _put(out, fields[number], value, merge=True)
    for field in message.defaults:
        if field.kind == MESSAGE and not field.repeated and not field.pointer:
            if seen is None or field.number not in seen:
                _put(out, field, _sub(field.type_name, buf, None, depth), merge=False)
        elif field.name not in out:
            absent_is_nil = field.repeated or field.pointer or field.kind in (MAP, wire.BYTES)
            out[field.name] = None if absent_is_nil else _ZEROS[field.kind]
    return out


def _put(out: dict[str, Any], field: wire.Field, value: Any, *, merge: bool) -> None:
    """Write a singular message's JSON: merged into ``out`` for an embedded (inline) struct."""
    if field.inline and isinstance(value, dict):
        for key, item in value.items():
            if merge or key not in out:  # Go: the outer struct's own fields win
                out[key] = item
    elif value is not None or field.keep or field.pointer:
        out[field.name] = value
    elif merge:
        out.pop(field.name, None)


# --- types whose JSON is not their fields (SPECIAL.md) ----------------------------------------

_NULL_WHEN_EMPTY = frozenset({"time", "microtime", "json", "fieldsv1", "rawextension"})


def _special(message: Message, buf: bytes, start: int, stop: int, depth: int) -> Any:
    tag = message.special
    if start == stop and tag in _NULL_WHEN_EMPTY:
        return None  # the zero Time / MicroTime, nil raw bytes
    if tag == "time" and buf[start] == 0x08:  # the usual {1: seconds, 2: nanos}, read directly
        seconds, pos = wire.read_varint(buf, start + 1, stop)
        if pos == stop or (buf[pos] == 0x10 and wire.read_varint(buf, pos + 1, stop)[1] == stop):
            return wire.format_time(wire.to_int64(seconds))
    vals = _fields(message, buf, start, stop, depth)  # raw: by JSON name, zeros kept
    if tag == "time":  # Go drops the nanos of a metav1.Time in both directions
        return wire.format_time(vals.get("seconds", 0))
    if tag == "microtime":
        return wire.format_micro_time(vals.get("seconds", 0), vals.get("nanos", 0))
    if tag == "duration":
        return wire.format_duration(vals.get("duration", 0))
    if tag == "quantity":  # Go's marshaller writes the canonical string; zero is "0"
        return vals.get("string", "0")
    if tag == "stringlist":  # a Go []string under a message name: null when it has no items
        return vals.get("items")
    if tag == "intorstring":
        if vals.get("type", 0) == 0:
            return vals.get("intVal", 0)
        if vals["type"] == 1:
            return vals.get("strVal", "")
        reason = "json: error calling MarshalJSON for type *intstr.IntOrString"
        raise WireError(f"{reason}: impossible IntOrString.Type")
    if tag in _NULL_WHEN_EMPTY:  # json, fieldsv1, rawextension: JSON bytes, written as they are
        raw = vals.get(message.fields[1].name)  # "raw", or "Raw" in FieldsV1
        if not raw:
            return None
        if tag == "rawextension" and raw.startswith(MAGIC):  # nested envelope (watch events)
            api_version, kind, inner = _envelope(raw)
            try:
                return _object(api_version, kind, inner, depth + 1)
            except _KindError as exc:
                raise WireError(str(exc)) from None
        if raw.startswith(CBOR_PREFIX):
            raise WireError(f"{message.short} holds CBOR, which this server does not accept")
        try:
            return orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise WireError(f"json: invalid {message.short} content: {exc}") from None
    # apiextensions' JSONSchemaPropsOr{Array,Bool,StringArray} (their MarshalJSON methods)
    if tag == "schema-or-bool":
        return vals["schema"] if "schema" in vals else vals.get("allows", False)
    many = vals.get("property" if tag == "schema-or-stringarray" else "jSONSchemas")
    return many if many else vals.get("schema")
