"""RFC 6902 JSON patch as kube-apiserver applies it.

Why this module exists: ``kubectl patch --type=json``, client-go's managedFields upgrade
(``csaupgrade``) and Python clients that send a list all reach
``k8s.io/apiserver/pkg/endpoints/handlers/patch.go``, which decodes the body with
``gopkg.in/evanphx/json-patch.v4`` and applies it to the object's JSON. This module follows that
library, including where it departs from the RFC, and says which status each failure becomes:

* a body that does not decode: 400 BadRequest with Go's ``encoding/json`` message, prefixed with
  ``error decoding patch:`` when fieldValidation is Strict or Warn (the handler then decodes it
  a first time, strictly, into ``[]handlers.jsonPatchOp``);
* more than 10,000 operations: 413 RequestEntityTooLarge;
* an operation that does not apply (a failed ``test``, a missing path): 422 Invalid with the
  generic message ``the server rejected our request due to an error in our request``. The
  handler builds it with ``NewGenericServerResponse``, which drops the library's own message;
  that message (the same text, word for word) is kept on the exception as ``detail``.

What evanphx v4 does that the RFC does not: ``replace`` of a missing member of an existing
object adds it; negative array indices count from the end; a path without a leading ``/`` is
read as if its first segment were the root; ``add`` without a ``value`` adds ``null``;
``test`` of a missing member passes when the value is ``null``. ``copy`` may add at most 3 MiB
(``JSONPatchMaxCopyBytes`` in ``k8s.io/apiserver/pkg/server/config.go``). Values are compared
as decoded JSON, where evanphx compares raw bytes of scalars (so Go's escaping of ``<`` in the
stored object, or ``1.0`` against ``1``, can make a real server's ``test`` fail where ours
passes for the former).

Exception tree::

    JSONPatchError(ValueError)        .code, .reason; str() is the Status message
    ├── JSONPatchDecodeError          400 BadRequest: the body is not a JSON patch
    ├── JSONPatchTooLargeError        413 RequestEntityTooLarge: over 10,000 operations
    ├── JSONPatchApplyError           422 Invalid: an operation does not apply (.detail)
    └── JSONPatchTooDeepError         400 BadRequest: a copy deeper than kcp-edge keeps
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import orjson

from kcp_edge.apimachinery.mergepatch import (
    GoJSONError,
    decode_json,
    go_json_kind,
    unmarshal_type_message,
)
from kcp_edge.apimachinery.nesting import MAX_DEPTH

MAX_OPERATIONS = 10_000
MAX_COPY_BYTES = 3 * 1024 * 1024
GENERIC_UNPROCESSABLE = "the server rejected our request due to an error in our request"


class JSONPatchError(ValueError):
    """Base of JSON patch failures; ``code`` and ``reason`` are the Status's."""

    code = 500
    reason = "InternalError"

    def __init__(self, message: str, *, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail or message


class JSONPatchDecodeError(JSONPatchError):
    """The body is not JSON, or not an array of operation objects."""

    code = 400
    reason = "BadRequest"


class JSONPatchTooLargeError(JSONPatchError):
    """The patch has more operations than the apiserver accepts."""

    code = 413
    reason = "RequestEntityTooLarge"


class JSONPatchApplyError(JSONPatchError):
    """An operation does not apply to the document; the message is the apiserver's generic one."""

    code = 422
    reason = "Invalid"

    def __init__(self, detail: str) -> None:
        super().__init__(GENERIC_UNPROCESSABLE, detail=detail)


class JSONPatchTooDeepError(JSONPatchError):
    """A ``copy`` of a value nested deeper than orjson writes, so deeper than any object kept
    (``nesting.MAX_DEPTH``); Go would copy it, to refuse or keep the result later."""

    code = 400
    reason = "BadRequest"


# --- RFC 6902 -------------------------------------------------------------------------------


def decode_json_patch(body: bytes | str, *, strict: bool = False) -> list[Any]:
    """Decode a JSON patch body as the PATCH handler does (``strict``: Strict/Warn validation)."""
    prefix = "error decoding patch: " if strict else ""
    try:
        value = decode_json(body)
    except GoJSONError as err:
        raise JSONPatchDecodeError(prefix + str(err)) from None
    if value is None:
        return []
    array_type, op_type = ("[]handlers.jsonPatchOp", "handlers.jsonPatchOp")
    if not strict:
        array_type, op_type = ("jsonpatch.Patch", "jsonpatch.Operation")
    if not isinstance(value, list):
        raise JSONPatchDecodeError(prefix + unmarshal_type_message(value, array_type))
    for op in value:
        if op is not None and not isinstance(op, dict):
            raise JSONPatchDecodeError(prefix + unmarshal_type_message(op, op_type))
        if strict and op is not None:
            for name, field in op.items():
                if name in ("op", "path", "from") and not isinstance(field, (str, type(None))):
                    kind = go_json_kind(field)
                    raise JSONPatchDecodeError(
                        f"{prefix}json: cannot unmarshal {kind} into Go struct field "
                        f"jsonPatchOp.{name} of type string"
                    )
    return value


def apply_json_patch(document: Any, patch: Sequence[Any] | None) -> Any:
    """Apply decoded operations to a copy of ``document`` and return the result."""
    operations = patch or ()
    if len(operations) > MAX_OPERATIONS:
        raise JSONPatchTooLargeError(
            "Request entity too large: The allowed maximum operations in a JSON patch is "
            f"{MAX_OPERATIONS}, got {len(operations)}"
        )
    doc = orjson.loads(orjson.dumps(document))
    copied = [0]
    for op in operations:
        try:
            doc = _apply(doc, op if isinstance(op, dict) else {}, copied)
        except _OperationError as err:
            raise JSONPatchApplyError(str(err)) from None
    return doc


class _OperationError(Exception):
    """An operation that does not apply; the message is evanphx/json-patch's."""


_MISSING = "missing value"
_INVALID_INDEX = "invalid index referenced"


def _apply(doc: Any, op: dict[str, Any], copied: list[int]) -> Any:
    kind = op.get("op")
    kind = kind if isinstance(kind, str) else "unknown"
    if kind == "add":
        path = _field(op, "path", f"add operation failed to decode path: {_MISSING}")
        container, key = _locate(
            doc, path, f'add operation does not apply: doc is missing path: "{path}"'
        )
        _wrap(f"error in add for path: '{path}'", _add, container, key, _clone(op.get("value")))
    elif kind == "remove":
        path = _field(op, "path", f"remove operation failed to decode path: {_MISSING}")
        missing = f'remove operation does not apply: doc is missing path: "{path}"'
        container, key = _locate(doc, path, missing)
        _wrap(f"error in remove for path: '{path}'", _remove, container, key)
    elif kind == "replace":
        return _replace(doc, op)
    elif kind == "test":
        _test(doc, op)
    elif kind in ("move", "copy"):
        _move_or_copy(doc, op, kind, copied)
    else:
        raise _OperationError(f"Unexpected kind: {kind}")
    return doc


def _field(op: dict[str, Any], name: str, failure: str = "") -> str:
    """The ``path`` or ``from`` of an operation; ``failure`` replaces upstream's own message."""
    value = op.get(name)
    if isinstance(value, str):
        return value
    if value is None:
        what = "operation missing path field" if name == "path" else "operation, missing from field"
        cause = f"{what}: {_MISSING}"
    else:
        cause = f"json: cannot unmarshal {go_json_kind(value)} into Go value of type string"
    raise _OperationError(failure or f"{op.get('op')} operation failed to decode {name}: {cause}")


def _wrap(context: str, action: Any, *args: Any) -> Any:
    try:
        return action(*args)
    except _OperationError as err:
        raise _OperationError(f"{context}: {err}") from None


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def _locate(doc: Any, path: str, missing: str) -> tuple[Any, str]:
    """evanphx ``findObject``: the container of the last token, and that token."""
    parts = path.split("/")
    found = len(parts) >= 2 and isinstance(doc, (dict, list))
    container = doc
    for part in parts[1:-1] if found else ():
        try:
            container = _get(container, _unescape(part))
        except _OperationError:
            found = False
            break
        if not isinstance(container, (dict, list)):
            found = False
            break
    if not found:
        raise _OperationError(f"{missing}: {_MISSING}")
    return container, _unescape(parts[-1])


_INDEX = re.compile(r"[+-]?[0-9]+")


def _index(container: list[Any], key: str, *, extra: int = 0) -> int:
    if not _INDEX.fullmatch(key):
        raise _OperationError(f'strconv.Atoi: parsing "{key}": invalid syntax')
    idx, size = int(key), len(container) + extra
    if abs(idx) > 2**63 - 1:
        raise _OperationError(f'strconv.Atoi: parsing "{key}": value out of range')
    if idx >= size or idx < -size:
        raise _OperationError(f"Unable to access invalid index: {idx}: {_INVALID_INDEX}")
    return idx + size if idx < 0 else idx


def _get(container: Any, key: str) -> Any:
    if isinstance(container, dict):
        return container.get(key)
    return container[_index(container, key)]


def _add(container: Any, key: str, value: Any) -> None:
    if isinstance(container, dict):
        container[key] = value
    elif key == "-":
        container.append(value)
    else:
        try:
            at = _index(container, key, extra=1)
        except _OperationError as err:
            if str(err).startswith("strconv"):
                raise _OperationError(
                    f"value was not a proper array index: '{key}': {err}"
                ) from None
            raise
        container.insert(at, value)


def _remove(container: Any, key: str) -> None:
    if isinstance(container, dict):
        if key not in container:
            raise _OperationError(f"Unable to remove nonexistent key: {key}: {_MISSING}")
        del container[key]
    else:
        del container[_index(container, key)]


def _replace(doc: Any, op: dict[str, Any]) -> Any:
    path = _field(op, "path")
    value = _clone(op.get("value"))
    if path == "":
        if not isinstance(value, (dict, list)):
            raise _OperationError("replace operation value must be object or array: %!w(<nil>)")
        return value
    container, key = _locate(
        doc, path, f"replace operation does not apply: doc is missing path: {path}"
    )
    if isinstance(container, dict):
        container[key] = value
    else:
        try:
            container[_index(container, key)] = value
        except _OperationError:
            missing = f"replace operation does not apply: doc is missing key: {path}: {_MISSING}"
            raise _OperationError(missing) from None
    return doc


def _move_or_copy(doc: Any, op: dict[str, Any], kind: str, copied: list[int]) -> None:
    source_path = _field(op, "from")
    missing = f"{kind} operation does not apply: doc is missing from path: {source_path}"
    source, key = _locate(doc, source_path, missing)
    if kind == "move":
        value = _wrap(f"error in move for path: '{key}'", _get, source, key)
        _wrap(f"error in move for path: '{key}'", _remove, source, key)
        path = _field(op, "path")
    else:
        value = _wrap(f"error in copy for from: '{source_path}'", _get, source, key)
        value = _clone(value, f"error in copy for from: '{source_path}'")
        path = _field(op, "path", f"copy operation failed to decode path: {_MISSING}")
    missing = f"{kind} operation does not apply: doc is missing destination path: {path}"
    target, dest = _locate(doc, path, missing)
    if kind == "copy":
        copied[0] += len(orjson.dumps(value)) if value is not None else 0
        if copied[0] > MAX_COPY_BYTES:
            raise _OperationError(
                "Unable to complete the copy, the accumulated size increase of copy is "
                f"{copied[0]}, exceeding the limit {MAX_COPY_BYTES}"
            )
    context = (
        f"error in move for path: '{path}'"
        if kind == "move"
        else "error while adding value during copy"
    )
    _wrap(context, _add, target, dest, value)


def _test(doc: Any, op: dict[str, Any]) -> None:
    path = _field(op, "path")
    if path == "":
        current = doc
    else:
        container, key = _locate(
            doc, path, f"test operation does not apply: is missing path: {path}"
        )
        current = _wrap(f"error in test for path: '{path}'", _get, container, key)
    if ("value" not in op and current is not None) or not _equal(current, op.get("value")):
        raise _OperationError(f"testing value {path} failed: test failed")


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, dict):
        return (
            isinstance(b, dict)
            and len(a) == len(b)
            and all(k in b and _equal(v, b[k]) for k, v in a.items())
        )
    if isinstance(a, list):
        return isinstance(b, list) and len(a) == len(b) and all(map(_equal, a, b))
    return type(a) is type(b) and a == b


def _clone(value: Any, context: str = "") -> Any:
    if not isinstance(value, (dict, list)):
        return value
    try:
        return orjson.loads(orjson.dumps(value))
    except orjson.JSONEncodeError:
        prefix = f"{context}: " if context else ""
        raise JSONPatchTooDeepError(f"{prefix}exceeded max depth of {MAX_DEPTH}") from None
