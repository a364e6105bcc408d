"""fieldValidation on writes: unknown and duplicate fields refused (Strict) or warned (Warn).

Why this module exists: kubectl 1.27+ asks the server to validate fields (``fieldValidation=
Strict`` on create -f, apply, replace and edit), and without the parameter the apiserver warns
(``Warn``), which kubectl prints as ``Warning: unknown field "..."``. The checks are the pure
functions of ``apimachinery/fieldvalidation.py`` against the kind's bundled schema; this module
picks the directive, runs them and turns warnings into ``Warning`` headers.

Before those, whatever the directive, a built-in object must decode into its Go type
(``apimachinery/godecode.py``): a field of the wrong JSON type is the decoder's 400 on create
and update, and a 422 on field ``patch`` for a patch result. Custom resources have their
structural schema instead (``custom.admit``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from kcp_edge.apimachinery import errors, godecode
from kcp_edge.apimachinery import fieldvalidation as fv
from kcp_edge.apimachinery.names import go_quote
from kcp_edge.apimachinery.names import invalid as invalid_field
from kcp_edge.registry.custom import custom_kind
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.openapi_data import component_schemas
from kcp_edge.server import bodies

_TOO_DEEP_TO_WALK = (RecursionError, orjson.JSONEncodeError)
"""What a value nested deeper than the checks can walk (Python) or write (orjson) raises."""


def directive(request: Request, verb: str) -> fv.FieldValidation:
    return fv.parse_directive(request.query_params.get("fieldValidation"), verb=verb)


def check_object(
    kind: ResourceKind,
    obj: dict[str, Any],
    *,
    raw: bytes | None,
    mode: fv.FieldValidation,
    verb: str,
) -> list[str]:
    """Warnings for ``obj`` as sent; raises the Strict error. ``raw``: JSON body bytes.

    What is not kept goes first, whatever the mode: a custom resource is pruned and defaulted,
    as its decoder does, and a built-in object loses its unknown fields. What is left may not
    nest deeper than ``bodies.MAX_DEPTH`` (the body itself may have: ``bodies.py``).
    """
    try:
        warnings = _check_object(kind, obj, raw=raw, mode=mode, verb=verb)
    except _TOO_DEEP_TO_WALK:
        raise bodies.too_deep(kind.kind, kind.version) from None
    bodies.check_depth(obj, kind=kind.kind, version=kind.version, raw=raw)
    return warnings


def _check_object(
    kind: ResourceKind,
    obj: dict[str, Any],
    *,
    raw: bytes | None,
    mode: fv.FieldValidation,
    verb: str,
) -> list[str]:
    custom = custom_kind(kind)
    if custom is not None:
        problems = custom.admit(obj)
        if raw is not None and mode is not fv.FieldValidation.IGNORE:
            problems += fv.duplicate_fields(raw)
        return _outcome(kind, mode, problems, verb=verb)
    if not kind.schema:
        return []
    schemas = component_schemas(group=kind.group, version=kind.version)
    if _typed_as(kind, obj):
        problem = godecode.decode_error(obj, schemas=schemas, root=kind.schema)
        if problem is not None:
            version = go_quote(kind.version)
            raise errors.bad_request(
                f"{kind.kind} in version {version} cannot be handled as a {kind.kind}: {problem}"
            )
    if mode is fv.FieldValidation.IGNORE:
        fv.drop_unknown_fields(obj, schemas=schemas, root=kind.schema)
        return []
    problems = fv.strict_errors(obj, schemas=schemas, root=kind.schema, raw=raw)
    warnings = _outcome(kind, mode, problems, verb=verb)
    if _any_unknown(problems):
        fv.drop_unknown_fields(obj, schemas=schemas, root=kind.schema)
    return warnings


def _any_unknown(problems: list[str]) -> bool:
    """Whether the strict errors name an unknown field (else there is nothing to drop), or
    may have been cut short before they did."""
    if len(problems) >= fv.MAX_STRICT_ERRORS:
        return True
    return any(problem.startswith(fv.UNKNOWN) for problem in problems)


def _typed_as(kind: ResourceKind, obj: dict[str, Any]) -> bool:
    """The body claims the endpoint's type (else the type check answers, as the decoder does)."""
    return (obj.get("apiVersion") or kind.group_version) == kind.group_version and (
        obj.get("kind") or kind.kind
    ) == kind.kind


def check_patched(
    kind: ResourceKind,
    patched: dict[str, Any],
    *,
    patch: bytes,
    patch_type: str,
    mode: fv.FieldValidation,
) -> list[str]:
    """As `check_object`, for the result of a JSON, merge or strategic merge patch."""
    try:
        warnings = _check_patched(kind, patched, patch=patch, patch_type=patch_type, mode=mode)
    except _TOO_DEEP_TO_WALK:
        raise bodies.too_deep(kind.kind, kind.version) from None
    bodies.check_depth(patched, kind=kind.kind, version=kind.version)
    return warnings


def _check_patched(
    kind: ResourceKind,
    patched: dict[str, Any],
    *,
    patch: bytes,
    patch_type: str,
    mode: fv.FieldValidation,
) -> list[str]:
    custom = custom_kind(kind)
    if custom is not None:
        problems = custom.admit(patched)
    elif not kind.schema:
        return []
    else:
        schemas = component_schemas(group=kind.group, version=kind.version)
        _check_patched_types(kind, schemas, patched, patch=patch, patch_type=patch_type)
        if mode is fv.FieldValidation.IGNORE:
            fv.drop_unknown_fields(patched, schemas=schemas, root=kind.schema)
            return []
        problems = fv.patch_strict_errors(
            patched, schemas=schemas, root=kind.schema, patch=patch, patch_type=patch_type
        )
    invalid = ""
    if problems and mode is fv.FieldValidation.STRICT:
        invalid = _invalid_value(patched, patch=patch, patch_type=patch_type)
    warnings = _outcome(kind, mode, problems, verb="patch", invalid_value=invalid)
    if custom is None and _any_unknown(problems):
        fv.drop_unknown_fields(patched, schemas=schemas, root=kind.schema)
    return warnings


def _check_patched_types(
    kind: ResourceKind,
    schemas: Mapping[str, Mapping[str, Any]],
    patched: dict[str, Any],
    *,
    patch: bytes,
    patch_type: str,
) -> None:
    """A patch result that does not decode is a 422 on ``patch``, before any strict error: a
    strategic merge patch result goes through the unstructured converter, others through JSON."""
    if patch_type == fv.STRATEGIC_PATCH:
        problem = godecode.convert_error(patched, schemas=schemas, root=kind.schema)
    else:
        problem = godecode.decode_error(patched, schemas=schemas, root=kind.schema)
    if problem is None:
        return
    error = invalid_field(
        "patch", _invalid_value(patched, patch=patch, patch_type=patch_type), problem
    )
    raise errors.StatusError(
        code=422,
        reason="Invalid",
        message=f' "" is invalid: {error}',
        details={"causes": [error.cause()]},
    )


def _invalid_value(patched: dict[str, Any], *, patch: bytes, patch_type: str) -> str:
    """The patched object, or for a strategic merge patch the patch map as decoded."""
    decoded: Any = None
    if patch_type == fv.STRATEGIC_PATCH:
        try:
            decoded = orjson.loads(patch)
        except orjson.JSONDecodeError:
            decoded = None
    return fv.patch_invalid_value(patch_type, patched=patched, patch=decoded)


def _outcome(
    kind: ResourceKind,
    mode: fv.FieldValidation,
    problems: list[str],
    *,
    verb: str,
    invalid_value: str = "",
) -> list[str]:
    if not problems:
        return []
    error, warnings = fv.outcome(
        mode,
        problems,
        kind=kind.kind,
        version=kind.version,
        verb=verb,
        invalid_value=invalid_value,
    )
    if error is not None:
        raise error
    return warnings


def with_warnings(response: Response, warnings: list[str]) -> Response:
    for text in warnings:
        header = fv.warning_header(text)
        if header is not None:
            response.headers.append("Warning", header)
    return response
