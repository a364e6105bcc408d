"""fieldValidation on writes: unknown and duplicate fields refused (Strict) or warned (Warn).

Why this module exists: kubectl 1.27+ asks the server to validate fields (``fieldValidation=
Strict`` on create -f, apply, replace and edit), and without the parameter the apiserver warns
(``Warn``), which kubectl prints as ``Warning: unknown field "..."``. The checks are the pure
functions of ``apimachinery/fieldvalidation.py`` against the kind's bundled schema; this module
picks the directive, runs them and turns warnings into ``Warning`` headers.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from kcp_edge.apimachinery import fieldvalidation as fv
from kcp_edge.registry.custom import custom_kind
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.openapi_data import component_schemas


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

    A custom resource is pruned and defaulted here, as its decoder does, whatever the mode.
    """
    custom = custom_kind(kind)
    if custom is not None:
        problems = custom.admit(obj)
        if raw is not None and mode is not fv.FieldValidation.IGNORE:
            problems += fv.duplicate_fields(raw)
        return _outcome(kind, mode, problems, verb=verb)
    if mode is fv.FieldValidation.IGNORE or not kind.schema:
        return []
    schemas = component_schemas(group=kind.group, version=kind.version)
    problems = fv.strict_errors(obj, schemas=schemas, root=kind.schema, raw=raw)
    return _outcome(kind, mode, problems, verb=verb)


def check_patched(
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
    elif mode is fv.FieldValidation.IGNORE or not kind.schema:
        return []
    else:
        schemas = component_schemas(group=kind.group, version=kind.version)
        problems = fv.patch_strict_errors(
            patched, schemas=schemas, root=kind.schema, patch=patch, patch_type=patch_type
        )
    invalid = ""
    if problems and mode is fv.FieldValidation.STRICT:
        invalid = fv.patch_invalid_value(patch_type, patched=patched)
    return _outcome(kind, mode, problems, verb="patch", invalid_value=invalid)


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
