"""The API error tree: every failure a client sees, with the apiserver's exact wording.

Why this module exists: kubectl prints ``Error from server (<reason>): <message>`` and client-go
decides retries from ``reason`` and ``code``, so the registry and handlers raise `StatusError`
with the same code, reason, message and details that ``k8s.io/apimachinery/pkg/api/errors``
builds (NewNotFound, NewAlreadyExists, NewConflict, NewInvalid, NewBadRequest, NewForbidden,
NewMethodNotSupported, NewGone/NewResourceExpired, NewRequestEntityTooLargeError, ...). Only
``kcp_edge/server/status.py`` turns them into HTTP responses.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

LIST_EXPIRED_MESSAGE = "The resourceVersion for the provided list is too old."
_CONTINUE_TOO_OLD = (
    "The provided continue parameter is too old to display a consistent list result. "
    "You can start a new list without the continue parameter"
)
CONTINUE_EXPIRED_MESSAGE = (
    f"{_CONTINUE_TOO_OLD}, or use the continue token in "
    "this response to retrieve the remainder of the results. Continuing with the provided "
    "token results in an inconsistent list - objects that were created, modified, or deleted "
    "between the time the first chunk was returned and now may show up in the list."
)


class StatusError(Exception):
    """A failure answered with a Kubernetes ``Status`` (``details`` None: no details field).

    ``continue_token``: the Status's ``metadata.continue`` (an expired list's fresh token).
    """

    def __init__(
        self,
        *,
        code: int,
        reason: str,
        message: str,
        details: Mapping[str, Any] | None = None,
        continue_token: str | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.continue_token = continue_token


def _details(name: str, group: str, kind: str) -> dict[str, Any]:
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    return details


def _qualified(resource: str, group: str) -> str:
    return f"{resource}.{group}" if group else resource


def not_found(resource: str, name: str, *, group: str = "") -> StatusError:
    return StatusError(
        code=404,
        reason="NotFound",
        message=f'{_qualified(resource, group)} "{name}" not found',
        details=_details(name, group, resource),
    )


def already_exists(resource: str, name: str, *, group: str = "") -> StatusError:
    return StatusError(
        code=409,
        reason="AlreadyExists",
        message=f'{_qualified(resource, group)} "{name}" already exists',
        details=_details(name, group, resource),
    )


def conflict(resource: str, name: str, reason_text: str, *, group: str = "") -> StatusError:
    return StatusError(
        code=409,
        reason="Conflict",
        message=f'Operation cannot be fulfilled on {_qualified(resource, group)} "{name}": '
        f"{reason_text}",
        details=_details(name, group, resource),
    )


MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def stale_update(resource: str, name: str, *, group: str = "") -> StatusError:
    return conflict(resource, name, MODIFIED, group=group)


def invalid(
    kind: str, name: str, causes: Sequence[Mapping[str, str]], *, group: str = ""
) -> StatusError:
    """422: ``causes`` are ``{"reason", "message", "field"}`` as in ``details.causes``."""
    messages = [f"{c['field']}: {c['message']}" if c.get("field") else c["message"] for c in causes]
    text = messages[0] if len(messages) == 1 else "[" + ", ".join(messages) + "]"
    details = _details(name, group, kind)
    details["causes"] = [dict(c) for c in causes]
    return StatusError(
        code=422,
        reason="Invalid",
        message=f'{kind}.{group} "{name}" is invalid: {text}'
        if group
        else f'{kind} "{name}" is invalid: {text}',
        details=details,
    )


def from_coded(exc: Exception) -> StatusError:
    """The Status of an error that carries its own ``code``, ``reason`` and ``message``
    (the patch modules' errors). An empty reason stays empty: upstream's 500s for broken
    patches carry none, so kubectl prints "Error from server: ..." as against a real cluster.
    """
    return StatusError(
        code=int(getattr(exc, "code", 400) or 400),
        reason=str(getattr(exc, "reason", "")),
        message=str(getattr(exc, "message", "") or exc),
        details={},
    )


def bad_request(message: str) -> StatusError:
    """NewBadRequest: no details field at all."""
    return StatusError(code=400, reason="BadRequest", message=message)


def forbidden(resource: str, name: str, why: str, *, group: str = "") -> StatusError:
    target = f'{_qualified(resource, group)} "{name}"' if name else _qualified(resource, group)
    return StatusError(
        code=403,
        reason="Forbidden",
        message=f"{target} is forbidden: {why}",
        details=_details(name, group, resource),
    )


def method_not_supported(resource: str, action: str, *, group: str = "") -> StatusError:
    return StatusError(
        code=405,
        reason="MethodNotAllowed",
        message=f'{action} is not supported on resources of kind "{_qualified(resource, group)}"',
        details=_details("", group, resource),
    )


def unsupported_media_type(content_type: str, accepted: Sequence[str]) -> StatusError:
    return StatusError(
        code=415,
        reason="UnsupportedMediaType",
        message=f"the body of the request was in an unknown format - accepted media types "
        f"include: {', '.join(accepted)}",
    )


def expired(message: str) -> StatusError:
    return StatusError(code=410, reason="Expired", message=message, details={})


def continue_expired(fresh_token: str | None) -> StatusError:
    """A list continued from a compacted token; ``fresh_token`` continues it at the latest."""
    if fresh_token is None:
        return expired(f"{_CONTINUE_TOO_OLD}.")
    return StatusError(
        code=410,
        reason="Expired",
        message=CONTINUE_EXPIRED_MESSAGE,
        details={},
        continue_token=fresh_token,
    )


def too_old_resource_version(requested: int, oldest: int) -> StatusError:
    return expired(f"too old resource version: {requested} ({oldest})")


def request_entity_too_large(limit: int) -> StatusError:
    return StatusError(
        code=413,
        reason="RequestEntityTooLarge",
        message=f"Request entity too large: limit is {limit}",
    )


def timeout(message: str) -> StatusError:
    return StatusError(code=504, reason="Timeout", message=message, details={})


def internal(message: str) -> StatusError:
    return StatusError(
        code=500, reason="InternalError", message=f"Internal error occurred: {message}", details={}
    )


def service_unavailable(message: str) -> StatusError:
    return StatusError(code=503, reason="ServiceUnavailable", message=message, details={})


class ClientError(Exception):
    """What kcp-edge's own clients (the kubectl plugins, the syncer) raise for a failed request:
    the server's ``code``/``reason``/``status``, or ``code`` None for transport failures."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        reason: str = "",
        status: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason
        self.status = dict(status) if status is not None else None


_GENERIC_RESPONSES = {
    400: ("BadRequest", "the server rejected our request for an unknown reason"),
    401: ("Unauthorized", "the server has asked for the client to provide credentials"),
    404: ("NotFound", "the server could not find the requested resource"),
    405: ("MethodNotAllowed", "the server does not allow this method on the requested resource"),
    409: ("Conflict", "the server reported a conflict"),
    410: ("Gone", "the server reported that the requested resource is gone"),
    422: ("Invalid", "the server rejected our request due to an error in our request"),
    429: (
        "TooManyRequests",
        "the server has received too many requests and has asked us to try again later",
    ),
    504: (
        "Timeout",
        "the server was unable to return a response in the time allotted, "
        "but may still be processing the request",
    ),
}


def read_error_response(
    code: int, method: str, raw: bytes
) -> tuple[str, str, dict[str, Any] | None]:
    """How client-go reads an error answer (``NewGenericServerResponse``): its ``Status`` when the
    body is one, else generic words by code. (reason, message, the Status or None); used by the
    clients kcp-edge ships (the kubectl plugins, the syncer)."""
    try:
        value = json.loads(raw)
    except ValueError:
        value = None
    if isinstance(value, dict) and value.get("kind") == "Status" and value.get("message"):
        return str(value.get("reason") or ""), str(value["message"]), value
    text = raw.decode("utf-8", "replace").strip()
    if code in (403, 406, 415):  # client-go keeps the server's words for these
        return ("Forbidden" if code == 403 else "Unknown"), text or f"status code {code}", None
    if code >= 500 and code != 504:
        message = (
            f"an error on the server ({json.dumps(text)}) has prevented the request from succeeding"
        )
        return "InternalError", message, None
    default = (
        f"the server responded with the status code {code} but did not return more information"
    )
    reason, message = _GENERIC_RESPONSES.get(code, ("Unknown", default))
    if code == 409 and method == "POST":
        reason = "AlreadyExists"
    return reason, message, None
