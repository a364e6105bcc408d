"""Reading request bodies: size limit, media type, JSON / YAML / Kubernetes protobuf.

Why this module exists: clients send the same object in several encodings (kubectl 1.32+ sends
protobuf for generator commands, the Python client sends JSON with no Content-Type at all,
some tools send YAML), and malformed or oversized input must become a clear ``Status``, never a
500 or a partial write. Limits follow the apiserver: 3 MiB bodies
(``k8s.io/apiserver/pkg/server/config.go`` MaxRequestBodyBytes), and a nesting limit so a
hostile document cannot exhaust the stack.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from starlette.requests import ClientDisconnect, Request

from kcp_edge.apimachinery import errors, protobuf

MAX_BODY_BYTES = 3 * 1024 * 1024
MAX_DEPTH = 100

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

OBJECT_TYPES = (JSON, YAML, PROTOBUF)
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)


def media_type(request: Request) -> str:
    """The request's media type without parameters; a missing one means JSON."""
    raw = request.headers.get("content-type", "")
    return raw.split(";", 1)[0].strip().lower() or JSON


async def read_body(request: Request) -> bytes:
    """The whole body, refusing more than `MAX_BODY_BYTES` without reading it all.

    A client that goes away before its body is complete gets a 400 nobody reads (rather than
    an error in the server log): the request is simply not carried out.
    """
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise errors.request_entity_too_large(MAX_BODY_BYTES)
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise errors.request_entity_too_large(MAX_BODY_BYTES)
            chunks.append(chunk)
    except ClientDisconnect:
        raise errors.bad_request("the client disconnected before sending the whole body") from None
    return b"".join(chunks)


def _check_depth(value: Any, depth: int = 0) -> None:
    if depth > MAX_DEPTH:
        raise errors.bad_request(f"the request body is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for item in value.values():
            _check_depth(item, depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_depth(item, depth + 1)


def parse_json(raw: bytes) -> Any:
    try:
        # orjson refuses documents nested deeper than 1024 levels itself.
        value = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise errors.bad_request(f"the request body is not valid JSON: {exc}") from None
    _check_depth(value)
    return value


class _NoAliasLoader(yaml.SafeLoader):
    """Safe YAML without anchors and aliases (which allow exponential "billion laughs")."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.YAMLError("YAML aliases are not allowed")
        return super().compose_node(parent, index)


def parse_yaml(raw: bytes) -> Any:
    try:
        return parse_json(raw)  # JSON is YAML, and the common case (server-side apply)
    except errors.StatusError:
        pass
    try:
        value = yaml.load(raw, Loader=_NoAliasLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, RecursionError) as exc:
        raise errors.bad_request(f"the request body is not valid YAML: {exc}") from None
    _check_depth(value)
    # Round-trip through JSON: YAML timestamps and other non-JSON scalars become strings.
    try:
        return orjson.loads(orjson.dumps(value, default=str))
    except orjson.JSONEncodeError as exc:
        raise errors.bad_request(f"the request body cannot be represented as JSON: {exc}") from None


def decode_object(
    raw: bytes, media: str, *, api_version: str = "", kind: str = ""
) -> dict[str, Any]:
    """An object body (create, update) in any accepted encoding, as a JSON dict.

    ``api_version`` and ``kind`` are the endpoint's: a protobuf body with an empty type takes
    them, as the apiserver's decoder does.
    """
    if media == JSON:
        value = parse_json(raw)
    elif media == YAML:
        value = parse_yaml(raw)
    elif media == PROTOBUF:
        try:
            value = protobuf.decode(raw, default_api_version=api_version, default_kind=kind)
        except protobuf.ProtobufError as exc:
            raise errors.bad_request(str(exc)) from None
    else:
        raise errors.unsupported_media_type(media, OBJECT_TYPES)
    if not isinstance(value, dict):
        raise errors.bad_request("the request body must be a JSON object")
    return value
