"""Kubernetes ``Status`` error responses: THE place where errors turn into HTTP.

Why this module exists: clients (kubectl, client-go, the Python client) read the ``message`` and
``reason`` of a JSON ``Status`` body to print errors and decide retries; any other error body
makes them invent generic messages. So every failure leaves the server through here: handlers
raise `StatusError`, starlette's own 404/405 and unexpected exceptions are mapped by the handlers
of `exception_handlers`, and middleware that answers early uses `status_response`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import orjson
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ExceptionHandler

from kcp_edge.apimachinery.errors import StatusError

log = logging.getLogger(__name__)

JSON_MEDIA_TYPE = "application/json"
NOT_FOUND_MESSAGE = "the server could not find the requested resource"
METHOD_NOT_ALLOWED_MESSAGE = "the server does not allow this method on the requested resource"

_REASONS = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    410: "Expired",
    413: "RequestEntityTooLarge",
    415: "UnsupportedMediaType",
    422: "Invalid",
    429: "TooManyRequests",
    500: "InternalError",
    503: "ServiceUnavailable",
    504: "Timeout",
}


def status_body(
    *,
    code: int,
    reason: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    continue_token: str | None = None,
) -> bytes:
    """The JSON bytes of a failure ``Status``, fields in the order the apiserver writes them."""
    status: dict[str, Any] = {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {"continue": continue_token} if continue_token else {},
        "status": "Failure",
        "message": message,
        "reason": reason,
    }
    if details is not None:
        status["details"] = dict(details)
    status["code"] = code
    return orjson.dumps(status)


def status_response(
    *,
    code: int,
    reason: str,
    message: str,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
    continue_token: str | None = None,
) -> Response:
    body = status_body(
        code=code, reason=reason, message=message, details=details, continue_token=continue_token
    )
    return Response(body, status_code=code, headers=headers, media_type=JSON_MEDIA_TYPE)


def unauthorized() -> Response:
    return status_response(code=401, reason="Unauthorized", message="Unauthorized")


def not_found() -> Response:
    return status_response(code=404, reason="NotFound", message=NOT_FOUND_MESSAGE, details={})


async def _on_status_error(_request: Request, exc: Exception) -> Response:
    if not isinstance(exc, StatusError):  # registered for StatusError only
        raise exc
    return status_response(
        code=exc.code,
        reason=exc.reason,
        message=exc.message,
        details=exc.details,
        continue_token=exc.continue_token,
    )


async def _on_http_exception(_request: Request, exc: Exception) -> Response:
    if not isinstance(exc, HTTPException):  # registered for HTTPException only
        raise exc
    if exc.status_code == 404:
        return not_found()
    message = METHOD_NOT_ALLOWED_MESSAGE if exc.status_code == 405 else exc.detail
    reason = _REASONS.get(exc.status_code, "Unknown")
    return status_response(
        code=exc.status_code, reason=reason, message=message, details={}, headers=exc.headers
    )


async def _on_unexpected(_request: Request, exc: Exception) -> Response:
    # The traceback is logged by the server (starlette re-raises after answering).
    return status_response(
        code=500,
        reason="InternalError",
        message=f"Internal error occurred: {type(exc).__name__}; see the server log",
        details={},
    )


def exception_handlers() -> dict[Any, ExceptionHandler]:
    """The handlers to give `starlette.applications.Starlette`."""
    return {
        StatusError: _on_status_error,
        HTTPException: _on_http_exception,
        Exception: _on_unexpected,
    }
