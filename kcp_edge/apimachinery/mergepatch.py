"""RFC 7386 JSON merge patch as kube-apiserver applies it, and the Go JSON conventions of patches.

Why this module exists: ``kubectl label``, ``kubectl annotate``, ``kubectl scale``,
``kubectl patch --type=merge``, client-side ``kubectl apply`` and ``kubectl edit`` of custom
resources, and the Python client's ``CustomObjectsApi.patch_*`` all send
``application/merge-patch+json``. ``k8s.io/apiserver/pkg/endpoints/handlers/patch.go`` applies it
with ``jsonpatch.MergePatch`` from ``gopkg.in/evanphx/json-patch.v4``, whose behaviour this
module follows:

* ``null`` deletes a member; an object merges into an object, recursively; anything else
  replaces the member;
* a value added where the document has nothing to merge into (or ``null``, or a non-object)
  loses its ``null`` members at any depth, inside arrays too (``null`` elements of arrays
  stay); an array or scalar that replaces an object is taken as it is;
* a patch that is an array replaces the whole document (the handler then fails to decode it
  into the kind); a patch that is ``null``, a string, a number or a boolean is refused with
  ``Invalid JSON Patch`` (RFC 7386 would make it the result), as is one that is not JSON.
  With fieldValidation Strict or Warn the handler first decodes the body into a Go map, so a
  body that is not an object is refused with ``error decoding patch: json: cannot unmarshal``.

Merge patch is the base the other patch types build on, so the conventions all three share
live here too: decoding a body as Go's ``encoding/json`` does (`decode_json`, whose errors
carry Go's text, e.g. ``invalid character 'x' looking for beginning of value``) and printing a
value as Go's ``%v`` does (`go_v`), which upstream's strategic-merge messages embed.

Exception tree::

    MergePatchError(ValueError)        .code, .reason; str() is the Status message
    ├── MergePatchBadRequestError      400 BadRequest: not a usable merge patch
    └── MergePatchDocumentError        500: the document is JSON ``null`` (Invalid JSON Document)
    GoJSONError(ValueError)            text Go's encoding/json refuses; str() is Go's message
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

import orjson

from kcp_edge.apimachinery.nesting import (
    go_depth_error,
    may_be_deeper,
    opening,
    opening_at,
    too_deep,
)

INVALID_PATCH = "Invalid JSON Patch"


class MergePatchError(ValueError):
    """Base of merge patch failures; ``code`` and ``reason`` are the Status's."""

    code = 500
    reason = ""


class MergePatchBadRequestError(MergePatchError):
    """The body is not JSON, or not a patch evanphx/json-patch accepts."""

    code = 400
    reason = "BadRequest"


class MergePatchDocumentError(MergePatchError):
    """The document to patch is JSON ``null`` (upstream answers 500 with this message)."""


class GoJSONError(ValueError):
    """Text Go's ``encoding/json`` refuses; the message is the one Go gives."""


def decode_merge_patch(body: bytes | str, *, strict: bool = False) -> Any:
    """Decode a merge patch body as the PATCH handler does (``strict`` for Strict/Warn)."""
    try:
        value = decode_json(body)
    except GoJSONError as err:
        message = f"error decoding patch: {err}" if strict else INVALID_PATCH
        raise MergePatchBadRequestError(message) from None
    if strict and value is not None and not isinstance(value, dict):
        message = unmarshal_type_message(value, "map[string]interface {}")
        raise MergePatchBadRequestError(f"error decoding patch: {message}")
    return value


def apply_merge_patch(document: Any, patch: Any) -> Any:
    """Merge ``patch`` into a copy of ``document`` and return the result."""
    if isinstance(patch, list):
        return _prune_list(patch)
    if not isinstance(patch, dict):
        raise MergePatchBadRequestError(INVALID_PATCH)
    if document is None:
        raise MergePatchDocumentError("Invalid JSON Document")
    if not isinstance(document, dict):
        return _prune_map(patch)
    doc = orjson.loads(orjson.dumps(document))
    _merge_into(doc, patch)
    return doc


def _merge_into(doc: dict[str, Any], patch: dict[str, Any]) -> None:
    for key, value in patch.items():
        if value is None:
            doc.pop(key, None)
            continue
        current = doc.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            _merge_into(current, value)
        elif isinstance(current, dict):  # an object replaced by a non-object: taken as is
            doc[key] = _clone(value)
        else:  # nothing (or null, or a non-object) to merge into: nulls are pruned
            doc[key] = _prune(value)


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        return _prune_map(value)
    if isinstance(value, list):
        return _prune_list(value)
    return value


def _prune_map(value: dict[str, Any]) -> dict[str, Any]:
    return {k: _prune(v) for k, v in value.items() if v is not None}


def _prune_list(value: list[Any]) -> list[Any]:
    return [_prune(v) for v in value]


def _clone(value: Any) -> Any:
    if isinstance(value, (dict, list)):
        return orjson.loads(orjson.dumps(value))
    return value


# --- Go-compatible JSON decoding ------------------------------------------------------------


def decode_json(body: bytes | str) -> Any:
    """Decode JSON as Go does, or raise `GoJSONError` with Go's message.

    Invalid UTF-8 becomes U+FFFD, as in Go; integers that do not fit 64 bits become floats.
    Go refuses nesting past 10,000 levels; this refuses it past `nesting.MAX_DEPTH` (in Go's
    words), which is as deep as the patch walkers and what they produce may go.
    """
    text = body.decode("utf-8", errors="replace") if isinstance(body, bytes) else body
    try:
        return _shallow(orjson.loads(text), text)
    except orjson.JSONDecodeError as err:
        if err.msg.startswith("depth limit"):
            raise GoJSONError(go_depth_error(opening_at(text, err.pos))) from None
    try:  # what orjson refuses but Go accepts: lone surrogate escapes, huge exponents
        value = json.loads(text, parse_constant=_reject_constant)
    except _ConstantError as err:
        raise GoJSONError(str(err)) from None
    except json.JSONDecodeError as err:
        raise GoJSONError(_go_syntax_message(text, err)) from None
    except RecursionError:
        raise GoJSONError(go_depth_error("{")) from None
    return _fix_strings(_shallow(value, text))


def _shallow(value: Any, text: str) -> Any:
    deep = too_deep(value) if may_be_deeper(text) else None
    if deep is not None:
        raise GoJSONError(go_depth_error(opening(deep)))
    return value


def go_json_kind(value: Any) -> str:
    """How Go's ``UnmarshalTypeError`` names a JSON value."""
    if isinstance(value, dict):
        return "object"
    if isinstance(value, list):
        return "array"
    if isinstance(value, str):
        return "string"
    if isinstance(value, bool):
        return "bool"
    return "number"


def unmarshal_type_message(value: Any, go_type: str) -> str:
    return f"json: cannot unmarshal {go_json_kind(value)} into Go value of type {go_type}"


class _ConstantError(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    if name.startswith("-"):
        raise _ConstantError("invalid character 'I' in numeric literal")
    raise _ConstantError(f"invalid character '{name[0]}' looking for beginning of value")


def _fix_strings(value: Any) -> Any:
    if isinstance(value, str):
        return value.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    if isinstance(value, list):
        return [_fix_strings(v) for v in value]
    if isinstance(value, dict):
        return {_fix_strings(k): _fix_strings(v) for k, v in value.items()}
    if isinstance(value, float) and value in (float("inf"), float("-inf")):
        raise GoJSONError("json: cannot unmarshal number into Go value of type float64")
    return value


def _quote_char(text: str, pos: int) -> str:
    """Go's ``quoteChar`` of the byte at ``pos`` (a non-ASCII byte reads as a Latin-1 char)."""
    byte = text[pos].encode("utf-8", errors="replace")[0]
    if byte == ord("'"):
        return "'\\''"
    if byte == ord('"'):
        return "'\"'"
    char = chr(byte)
    named = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t"}
    if char in named:
        return f"'{named[char]}'"
    if char == "\\":
        return "'\\\\'"
    if byte < 0x20 or byte == 0x7F:
        return f"'\\x{byte:02x}'"
    if 0x80 <= byte < 0xA0 or byte == 0xAD:
        return f"'\\u{byte:04x}'"
    return f"'{char}'"


_LITERALS = {"t": "true", "f": "false", "n": "null"}


def _go_syntax_message(text: str, err: json.JSONDecodeError) -> str:
    pos, msg = err.pos, err.msg
    if msg.startswith("Unterminated string") or pos >= len(text) or not text[pos:].strip():
        return "unexpected end of JSON input"
    char = _quote_char(text, pos)
    if msg.startswith(("Expecting value", "Unexpected UTF-8 BOM")):
        head = text[pos]
        if head in _LITERALS:
            word = _LITERALS[head]
            for i, expected in enumerate(word):
                if pos + i >= len(text):
                    return "unexpected end of JSON input"
                if text[pos + i] != expected:
                    got = _quote_char(text, pos + i)
                    return f"invalid character {got} in literal {word} (expecting '{expected}')"
        if head == "-":
            if pos + 1 >= len(text):
                return "unexpected end of JSON input"
            return f"invalid character {_quote_char(text, pos + 1)} in numeric literal"
        return f"invalid character {char} looking for beginning of value"
    if text[pos] in ".eE" and _plain_integer_before(text, pos):
        where = "after decimal point in" if text[pos] == "." else "in exponent of"
        if pos + 1 >= len(text):
            return "unexpected end of JSON input"
        return f"invalid character {_quote_char(text, pos + 1)} {where} numeric literal"
    if msg.startswith("Illegal trailing comma before end of array"):  # Python 3.13+
        return f"invalid character {char} looking for beginning of value"
    if msg.startswith(("Expecting property name", "Illegal trailing comma")):
        return f"invalid character {char} looking for beginning of object key string"
    if msg.startswith("Expecting ':'"):
        return f"invalid character {char} after object key"
    if msg.startswith("Expecting ','"):
        inside = "object key:value pair" if _innermost(text, pos) == "{" else "array element"
        return f"invalid character {char} after {inside}"
    if msg.startswith("Invalid control character"):
        return f"invalid character {char} in string literal"
    if msg.startswith("Invalid \\escape"):
        return f"invalid character {_quote_char(text, pos + 1)} in string escape code"
    if msg.startswith("Invalid \\u"):
        bad = next((i for i in range(pos + 2, len(text)) if text[i] not in _HEX), len(text) - 1)
        return f"invalid character {_quote_char(text, bad)} in \\u hexadecimal character escape"
    return f"invalid character {char} after top-level value"


_HEX = frozenset("0123456789abcdefABCDEF")


def _plain_integer_before(text: str, pos: int) -> bool:
    """Whether ``text[:pos]`` ends with digits that are not already a fraction or exponent."""
    start = pos
    while start > 0 and text[start - 1] in "0123456789.eE+-":
        start -= 1
    token = text[start:pos].lstrip("-")
    return token.isdigit()


def _innermost(text: str, pos: int) -> str:
    """The bracket that is open at ``pos``, skipping strings."""
    stack: list[str] = []
    in_string = escaped = False
    for char in text[:pos]:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in "[{":
            stack.append(char)
        elif char in "]}" and stack:
            stack.pop()
    return stack[-1] if stack else ""


# --- Go's %v ---------------------------------------------------------------------------------

_GO_TYPES: dict[type, str] = {
    dict: "map[string]interface {}",
    list: "[]interface {}",
    str: "string",
    bool: "bool",
    int: "int64",
    float: "float64",
}


def go_type(value: Any) -> str:
    """How Go's ``%s`` prints ``reflect.TypeOf`` of a decoded JSON value (``nil`` for null)."""
    return _GO_TYPES.get(type(value), "%!s(<nil>)")


def go_v(value: Any) -> str:
    """Go's ``%v`` of a decoded JSON value (maps print with sorted keys)."""
    return go_format(value, "v")


def go_format(value: Any, verb: str) -> str:
    """Go's ``%v`` (``verb="v"``) or ``%s`` (``verb="s"``) of a decoded JSON value."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        members = " ".join(f"{k}:{go_format(value[k], verb)}" for k in sorted(value))
        return f"map[{members}]"
    if isinstance(value, list):
        return "[" + " ".join(go_format(v, verb) for v in value) + "]"
    if value is None:
        text = "<nil>"
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float):
        text = _go_float(value)
    else:
        text = str(value)
    if verb == "v":
        return text
    if value is None:
        return "%!s(<nil>)"
    return f"%!s({go_type(value)}={text})"


def _go_float(value: float) -> str:
    """``strconv.FormatFloat(v, 'g', -1, 64)`` with fmt's ``%v`` exponent rule."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == 0:
        return "-0" if str(value).startswith("-") else "0"
    sign, digits, exponent = Decimal(repr(value)).normalize().as_tuple()
    if not isinstance(exponent, int):
        return repr(value)
    text = "".join(map(str, digits))
    point = len(text) + exponent
    minus = "-" if sign else ""
    if point - 1 < -4 or point - 1 >= 6:  # shortest 'g' decides with precision 6
        mantissa = text[0] + ("." + text[1:] if len(text) > 1 else "")
        return f"{minus}{mantissa}e{point - 1:+03d}"
    if point <= 0:
        return f"{minus}0.{'0' * -point}{text}"
    if point >= len(text):
        return f"{minus}{text}{'0' * (point - len(text))}"
    return f"{minus}{text[:point]}.{text[point:]}"
