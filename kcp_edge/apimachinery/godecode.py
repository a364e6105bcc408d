"""Fields of the wrong JSON type in built-in objects, refused in the Go decoders' own words.

Why this module exists: the apiserver decodes a built-in object into its Go struct before
anything else looks at it, so ``{"data": {"k": 1}}`` never reaches storage: a create or update
is a 400 ``ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal
number into Go struct field ConfigMap.data of type string``, and a patch whose result does not
decode a 422 on field ``patch``. Two decoders do that upstream, with different words:

* `decode_error` is ``sigs.k8s.io/json`` (Go's ``encoding/json``) reading a body or a JSON or
  merge patch result: ``json: cannot unmarshal <number|string|bool|array|object> into Go
  struct field <Struct>.<dotted.path> of type <go type>``, where ``<Struct>`` is the struct
  holding the last field and the path names struct fields only (no map keys, no indexes).
  A number that does not fit an integer field is ``number <literal>``. Type errors are saved
  and the walk goes on (the first one is reported), but a type with its own ``UnmarshalJSON``
  (Time, MicroTime, IntOrString, Quantity) stops the decoder with its error; ``format: byte``
  strings must be standard padded base64 (``illegal base64 data at input byte N``).
* `convert_error` is ``runtime.DefaultUnstructuredConverter.FromUnstructured`` reading a
  strategic merge patch result: ``cannot convert int64 to string``, ``unrecognized type:
  bool``, ``cannot restore slice from string``, ... and the first error stops it.

Types come from a kind's OpenAPI v3 components, as ``fieldvalidation`` reads them: a ``$ref``
to a struct component is ``<package>.<Name>`` (``v1.PolicyRule``), ``integer`` is int32 or
int64 per ``format``, ``number`` float64, ``items`` ``[]<elem>``, ``additionalProperties``
``map[string]<elem>``. Null is always fine. RawExtension, FieldsV1, ``{}`` schemas and
``x-kubernetes-preserve-unknown-fields`` are opaque. The schemas do not name Go's named
scalar types (``v1.PullPolicy`` prints as ``string``), only their JSON types; a Time's text,
and a Quantity's string or number, are not parsed. A schema root is compiled once and cached;
checking a ConfigMap takes a few microseconds.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from kcp_edge.apimachinery.fieldvalidation import OPAQUE_COMPONENTS

_QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
QUANTITY_FORMAT_WRONG = (
    "quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'"
)
"""``resource.ErrFormatWrong``: a Quantity that is neither a string nor a number."""

ANY, STRING, BOOL, INT, FLOAT, BYTES, STRUCT, MAP, LIST, TIME, INT_OR_STRING, QUANTITY = range(12)
_INT_RANGES = {
    "int32": (-(2**31), 2**31 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint8": (0, 255),
}
_SCALAR_GO = {STRING: "string", BOOL: "bool", FLOAT: "float64", ANY: "interface {}"}


class _Type:
    """A Go type as the decoders see it: ``go`` its name, ``name`` a struct's bare name,
    ``plain`` the Python type that always fits it (``str`` for a string), checked inline."""

    __slots__ = ("child", "code", "fields", "go", "high", "low", "name", "plain")

    def __init__(self, code: int = ANY, go: str = "interface {}", name: str = "") -> None:
        self.code = code
        self.go = go
        self.name = name
        self.fields: dict[str, _Type] = {}
        self.child: _Type = _ANY_TYPE if code != ANY else self
        self.low = self.high = 0
        self.plain: type | None = None


_ANY_TYPE = _Type()


def _int_type(go: str) -> _Type:
    node = _Type(INT, go)
    node.low, node.high = _INT_RANGES[go]
    return node


def _ref_name(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    if ref is None:
        all_of = schema.get("allOf")
        if isinstance(all_of, Sequence) and len(all_of) == 1 and isinstance(all_of[0], Mapping):
            ref = all_of[0].get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


class _Compiler:
    def __init__(self, schemas: Mapping[str, Mapping[str, Any]]) -> None:
        self.schemas = schemas
        self.named: dict[str, _Type] = {}

    def node(self, schema: Any) -> _Type:
        if not isinstance(schema, Mapping):
            return _ANY_TYPE
        name = _ref_name(schema)
        if name is None:
            return self.fill(_Type(), schema)
        if name in self.named:
            return self.named[name]
        target = self.schemas.get(name)
        if name in OPAQUE_COMPONENTS or not isinstance(target, Mapping):
            return _ANY_TYPE
        if name == _QUANTITY:
            return _Type(QUANTITY, "resource.Quantity")
        package, _, bare = name.rpartition(".")
        node = self.named[name] = _Type(STRUCT, f"{package.rpartition('.')[2]}.{bare}", bare)
        return self.fill(node, target)

    def fill(self, node: _Type, schema: Mapping[str, Any]) -> _Type:
        kind, fmt = schema.get("type"), schema.get("format")
        extra = schema.get("additionalProperties")
        if schema.get("x-kubernetes-int-or-string") or fmt == "int-or-string":
            node.code, node.go = INT_OR_STRING, "intstr.IntOrString"
        elif schema.get("x-kubernetes-preserve-unknown-fields") or schema.get(
            "x-kubernetes-embedded-resource"
        ):
            node.code, node.go = ANY, "interface {}"
        elif isinstance(schema.get("properties"), Mapping) or (kind == "object" and extra is None):
            node.code = STRUCT
            node.go = node.go if node.name else "struct"
            for key, sub in (schema.get("properties") or {}).items():
                node.fields[key] = self.node(sub)
        elif isinstance(extra, Mapping) or extra is True:
            node.code, node.child = MAP, self.node(extra)
            node.go = f"map[string]{node.child.go}"
        elif kind == "array":
            node.code, node.child = LIST, self.node(schema.get("items"))
            node.go = f"[]{node.child.go}"
        else:
            self.scalar(node, kind, fmt)
        return node

    def scalar(self, node: _Type, kind: Any, fmt: Any) -> None:
        if kind == "string" and fmt == "byte":
            node.code, node.go, node.child = BYTES, "[]uint8", _int_type("uint8")
        elif kind == "string" and fmt == "date-time":
            node.code, node.go = TIME, "string"
        elif kind == "integer":
            integer = _int_type("int32" if fmt == "int32" else "int64")
            node.code, node.go, node.low, node.high = INT, integer.go, integer.low, integer.high
        else:
            node.code = {"string": STRING, "boolean": BOOL, "number": FLOAT}.get(kind, ANY)
            node.go = _SCALAR_GO[node.code]
            node.plain = {STRING: str, BOOL: bool}.get(node.code)


_COMPILED: dict[tuple[int, str], tuple[Mapping[str, Any], _Type]] = {}
_CACHE_LIMIT = 1024


def _compiled(schemas: Mapping[str, Mapping[str, Any]], root: str) -> _Type:
    """The compiled type of ``root``, cached per (schemas mapping, root); the entry pins it."""
    key = (id(schemas), root)
    hit = _COMPILED.get(key)
    if hit is not None and hit[0] is schemas:
        return hit[1]
    node = _Compiler(schemas).node({"$ref": root})
    if len(_COMPILED) >= _CACHE_LIMIT:
        _COMPILED.clear()
    _COMPILED[key] = (schemas, node)
    return node


# --- what Go calls a value --------------------------------------------------------------------


def json_kind(value: Any) -> str:
    """How ``encoding/json`` names a JSON value in an ``UnmarshalTypeError``."""
    if type(value) is dict:
        return "object"
    if type(value) is list:
        return "array"
    if type(value) is str:
        return "string"
    if type(value) is bool:
        return "bool"
    return "number"


def _go_number(value: int | float) -> str:
    """The number's text: Python's shortest repr (Go keeps the literal as sent: ``1e3``)."""
    return repr(value)


def _go_marshalled(value: int | float) -> str:
    """``json.Marshal`` of a float64: whole numbers below 1e21 print without a fraction."""
    if type(value) is float and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


def _unstructured_type(value: Any) -> str:
    """``reflect.Type.String()`` of a value of an unstructured object."""
    if type(value) is dict:
        return "map[string]interface {}"
    if type(value) is list:
        return "[]interface {}"
    if type(value) is bool:
        return "bool"
    if type(value) is int:
        return "int64"
    if type(value) is float:
        return "float64"
    return "string"


def _unstructured_kind(value: Any) -> str:
    """``reflect.Kind.String()`` of a value of an unstructured object."""
    if type(value) is dict:
        return "map"
    if type(value) is list:
        return "slice"
    return _unstructured_type(value)


def _type_error(what: str, go: str, struct: str, path: tuple[str, ...]) -> str:
    if path:
        field = ".".join(path)
        return f"json: cannot unmarshal {what} into Go struct field {struct}.{field} of type {go}"
    return f"json: cannot unmarshal {what} into Go value of type {go}"


_BASE64_OK = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_BASE64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/")
_NEWLINES = (0x0A, 0x0D)


def base64_error(text: str) -> str | None:
    """``base64.StdEncoding.Decode``'s error for ``text`` (``\\r`` and ``\\n`` are skipped)."""
    if _BASE64_OK.fullmatch(text.replace("\n", "").replace("\r", "")):
        return None
    data = text.encode("utf-8", "surrogatepass")
    at = 0
    while at < len(data):
        at, bad = _base64_quantum(data, at)
        if bad is not None:
            return f"illegal base64 data at input byte {bad}"
    return None


def _base64_quantum(src: bytes, at: int) -> tuple[int, int | None]:
    """One 4-character quantum of Go's ``decodeQuantum``: (next offset, bad byte or None)."""
    size, filled = len(src), 0
    while filled < 4:
        if at == size:
            return at, None if filled == 0 else at - filled
        byte = src[at]
        at += 1
        if byte in _BASE64_ALPHABET:
            filled += 1
            continue
        if byte in _NEWLINES:
            continue
        if byte != 0x3D or filled < 2:
            return at, at - 1
        if filled == 2:
            while at < size and src[at] in _NEWLINES:
                at += 1
            if at == size:
                return at, size
            if src[at] != 0x3D:
                return at, at - 1
            at += 1
        while at < size and src[at] in _NEWLINES:
            at += 1
        return at, at if at < size else None
    return at, None


# --- the walks ----------------------------------------------------------------------------------


class _DecodeError(Exception):
    """The decoder gives up here with this message."""


class _Walk:
    """Both decoders' traversal: struct fields by name, map values, list items; null is fine.

    ``path`` holds the struct fields from the root and ``struct`` the bare name of the struct
    holding the last one: map keys and indexes are never in it, as in Go's error context.
    """

    def value(self, value: Any, node: _Type, struct: str, path: tuple[str, ...]) -> None:
        code, kind = node.code, type(value)
        if value is None or code == ANY or kind is node.plain:
            return
        if code == STRUCT and kind is dict:
            self.struct(value, node, path)
        elif (code == MAP and kind is dict) or (code == LIST and kind is list):
            child = node.child
            plain = child.plain
            for item in value.values() if kind is dict else value:
                if item is not None and type(item) is not plain:
                    self.value(item, child, struct, path)
        elif code != INT or kind is not int or not node.low <= value <= node.high:
            self.other(value, node, struct, path)

    def struct(self, obj: dict[str, Any], node: _Type, path: tuple[str, ...]) -> None:
        fields, name = node.fields, node.name
        for key, item in obj.items():
            child = fields.get(key)
            if child is not None and item is not None and type(item) is not child.plain:
                self.value(item, child, name, (*path, key))

    def other(self, value: Any, node: _Type, struct: str, path: tuple[str, ...]) -> None:
        raise NotImplementedError


class _Decode(_Walk):
    """``encoding/json``: type errors are saved (the first one wins), custom decoders stop."""

    def __init__(self) -> None:
        self.saved: str | None = None

    def save(self, message: str) -> None:
        if self.saved is None:
            self.saved = message

    def other(self, value: Any, node: _Type, struct: str, path: tuple[str, ...]) -> None:
        code, kind = node.code, type(value)
        if code == FLOAT and kind in (int, float):
            return
        if code == BYTES and kind is str:
            problem = base64_error(value)
            if problem is not None:
                self.save(problem)
            return
        if code == BYTES and kind is list:
            self.value(value, _bytes_list(node), struct, path)
            return
        if code in (TIME, INT_OR_STRING, QUANTITY):
            self.custom(value, node, struct, path)
            return
        what = json_kind(value)
        if code == INT and kind in (int, float):
            what = f"number {_go_number(value)}"
        self.save(_type_error(what, node.go, struct, path))

    def custom(self, value: Any, node: _Type, struct: str, path: tuple[str, ...]) -> None:
        code, kind = node.code, type(value)
        if kind is str:
            return
        if code == QUANTITY:
            if kind in (int, float):
                return
            raise _DecodeError(QUANTITY_FORMAT_WRONG)
        if code == TIME:
            raise _DecodeError(_type_error(json_kind(value), "string", struct, path))
        if kind is int and _INT_RANGES["int32"][0] <= value <= _INT_RANGES["int32"][1]:
            return
        what = f"number {_go_number(value)}" if kind in (int, float) else json_kind(value)
        raise _DecodeError(_type_error(what, "int32", struct, path))


def _bytes_list(node: _Type) -> _Type:
    """A JSON array into ``[]uint8``: Go decodes it element by element."""
    listed = _Type(LIST, node.go)
    listed.child = node.child
    return listed


class _Convert(_Walk):
    """``FromUnstructured``: the first error stops the conversion."""

    def other(self, value: Any, node: _Type, struct: str, path: tuple[str, ...]) -> None:
        code, kind = node.code, type(value)
        if code in (STRING, BOOL, INT, FLOAT):
            self.scalar(value, node)
        elif code == BYTES:
            self.bytes(value, node, struct, path)
        elif code == STRUCT:
            raise _DecodeError(f"cannot restore struct from: {_unstructured_kind(value)}")
        elif code == MAP:
            raise _DecodeError(f"cannot restore map from {_unstructured_kind(value)}")
        elif code == LIST:
            raise _DecodeError(f"cannot restore slice from {_unstructured_kind(value)}")
        elif kind is not str:
            self.custom(value, node)

    @staticmethod
    def scalar(value: Any, node: _Type) -> None:
        code, kind = node.code, type(value)
        number = kind in (int, float)
        if code == FLOAT and number:
            return
        if code == INT and (kind is int or (kind is float and value.is_integer())):
            return
        if (code == STRING and kind is int) or (code == INT and kind is float):
            raise _DecodeError(f"cannot convert {_unstructured_type(value)} to {node.go}")
        raise _DecodeError(f"unrecognized type: {node.go}")

    def bytes(self, value: Any, node: _Type, struct: str, path: tuple[str, ...]) -> None:
        kind = type(value)
        if kind is str:
            problem = base64_error(value)
            if problem is not None:
                raise _DecodeError(f"error decoding from json: {problem}")
        elif kind is list:
            self.value(value, _bytes_list(node), struct, path)
        else:
            raise _DecodeError(f"cannot restore slice from {_unstructured_kind(value)}")

    @staticmethod
    def custom(value: Any, node: _Type) -> None:
        code, kind = node.code, type(value)
        if code == QUANTITY:
            if kind in (int, float):
                return
            raise _DecodeError(QUANTITY_FORMAT_WRONG)
        if code == TIME:
            raise _DecodeError(_type_error(json_kind(value), "string", "", ()))
        if kind in (int, float):
            text = _go_marshalled(value)
            if text.lstrip("-").isdigit() and -(2**31) <= int(text) < 2**31:
                return
            raise _DecodeError(_type_error(f"number {text}", "int32", "", ()))
        raise _DecodeError(_type_error(json_kind(value), "int32", "", ()))


def decode_error(obj: Any, *, schemas: Mapping[str, Mapping[str, Any]], root: str) -> str | None:
    """The error of Go's JSON decoder reading ``obj`` into the type of component ``root``
    (a create or update body, a JSON or merge patch result), or None."""
    node = _compiled(schemas, root)
    walk = _Decode()
    try:
        walk.value(obj, node, node.name, ())
    except _DecodeError as stop:
        return str(stop)
    return walk.saved


def convert_error(obj: Any, *, schemas: Mapping[str, Mapping[str, Any]], root: str) -> str | None:
    """The error of the unstructured converter reading ``obj`` into the type of ``root`` (a
    strategic merge patch result), or None."""
    node = _compiled(schemas, root)
    try:
        _Convert().value(obj, node, node.name, ())
    except _DecodeError as stop:
        return str(stop)
    return None
