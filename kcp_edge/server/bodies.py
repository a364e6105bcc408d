"""Reading request bodies: size limit, media type, JSON / YAML / Kubernetes protobuf, nesting.

Why this module exists: clients send the same object in several encodings (kubectl 1.32+ sends
protobuf for generator commands, the Python client sends JSON with no Content-Type at all,
some tools send YAML), and malformed, oversized or hostile input must become a clear
``Status``, never a 500 or a partial write. Limits follow the apiserver where kcp-edge can:

* 3 MiB bodies (``k8s.io/apiserver/pkg/server/config.go`` MaxRequestBodyBytes);
* nesting: Go reads JSON 10,000 levels deep; orjson reads `MAX_PARSE_DEPTH` (1024), and a
  JSON object body may be that deep, because what is kept of it is checked later, once the
  unknown fields of a built-in kind are dropped or a custom resource is pruned
  (`check_depth`, from ``fieldchecks``): `MAX_DEPTH` levels (``apimachinery/nesting.py``
  says why). YAML, server-side apply and review bodies are held to `MAX_DEPTH` as read;
* YAML anchors and aliases resolve, within go-yaml's alias budget (see `_GoYAMLLoader`), so a
  "billion laughs" document is refused after a linear pass, before anything is expanded.

Errors that the apiserver's decoders would also raise carry their words: ``invalid character
'{' exceeded max depth``, ``yaml: document contains excessive aliasing``, framed as the create
handler (``the object provided is unrecognized ...``) or server-side apply (``error converting
YAML to JSON: ...``) frames them.
"""

from __future__ import annotations

from typing import Any

import orjson
import yaml
from starlette.requests import ClientDisconnect, Request

from kcp_edge.apimachinery import errors, nesting, protobuf
from kcp_edge.apimachinery.names import go_quote
from kcp_edge.registry import builtin

MAX_BODY_BYTES = 3 * 1024 * 1024
MAX_PARSE_DEPTH = 1024
"""orjson's own limit on JSON nesting (kube-apiserver: 10,000)."""
MAX_DEPTH = nesting.MAX_DEPTH

JSON = "application/json"
YAML = "application/yaml"
PROTOBUF = "application/vnd.kubernetes.protobuf"
JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"

OBJECT_TYPES = (JSON, YAML, PROTOBUF)
PATCH_TYPES = (JSON_PATCH, MERGE_PATCH, STRATEGIC_PATCH, APPLY_PATCH)

_BUILTIN_GROUPS = frozenset(kind.group for kind in builtin.BUILTIN_KINDS)


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


class _GoDecodeError(Exception):
    """A body Go's decoders refuse too; the message is theirs, without the handler's frame."""


def check_depth(obj: dict[str, Any], *, kind: str, version: str, raw: bytes | None = None) -> None:
    """Refuse an object to keep (store, merge, answer) that nests deeper than `MAX_DEPTH`.

    ``raw``: the JSON the object was read from, if it was, for the cheap test first.
    """
    if raw is not None and not nesting.may_be_deeper(raw):
        return
    if nesting.object_too_deep(obj):
        raise too_deep(kind, version)


def too_deep(kind: str, version: str) -> errors.StatusError:
    """400 for an object deeper than `MAX_DEPTH`, in the words of the apiserver's decode errors
    (``transformDecodeError`` around ``util/json``'s ``exceeded max depth of %d``)."""
    return errors.bad_request(
        f"{kind} in version {go_quote(version)} cannot be handled as a {kind}: "
        f"exceeded max depth of {MAX_DEPTH}"
    )


def _json_value(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        if exc.msg.startswith("depth limit"):
            bracket = nesting.opening_at(exc.doc, exc.pos)
            raise _GoDecodeError(nesting.go_depth_error(bracket)) from None
        raise errors.bad_request(f"the request body is not valid JSON: {exc}") from None


def parse_json(raw: bytes) -> Any:
    """A JSON body, up to `MAX_PARSE_DEPTH` levels deep."""
    try:
        return _json_value(raw)
    except _GoDecodeError as exc:
        raise errors.bad_request(f"the request body is not valid JSON: {exc}") from None


# --- YAML ---------------------------------------------------------------------------------------

_ALIAS_RATIO_LOW = 400_000
_ALIAS_RATIO_HIGH = 4_000_000


def _allowed_alias_ratio(decodes: int) -> float:
    """go-yaml's ``allowedAliasRatio``: the share of decoded nodes that may come from alias
    expansion, 99% up to 400,000 decodes, falling linearly to 10% at 4,000,000."""
    if decodes <= _ALIAS_RATIO_LOW:
        return 0.99
    if decodes >= _ALIAS_RATIO_HIGH:
        return 0.10
    span = _ALIAS_RATIO_HIGH - _ALIAS_RATIO_LOW
    return 0.99 - 0.89 * (decodes - _ALIAS_RATIO_LOW) / span


class _GoYAMLLoader(yaml.SafeLoader):
    """Safe YAML that resolves anchors and aliases as go-yaml (``sigs.k8s.io/yaml``) does.

    go-yaml's decoder counts every node it decodes, and those decoded again because an alias
    led to them; past 100 of the latter and 1,000 in all, their share must stay within
    `_allowed_alias_ratio`, else ``document contains excessive aliasing``. The composer
    counts the same way without expanding anything: each node's size (itself and everything
    below, aliases included) is known once it is composed, so an alias adds its target's size
    in one step. A later anchor of the same name replaces the earlier one, and an alias
    inside its own anchor is refused, as in Go (merge keys aside, the counts are Go's).
    Collections nest at most `MAX_DEPTH` levels, aliases expanded (the recursive composer
    could not go much deeper; Go allows 10,000).
    """

    def __init__(self, stream: bytes) -> None:
        super().__init__(stream)
        self.decodes = 1  # the document node
        self.aliased = 0
        self.open_collections = 0
        self.totals: list[list[int]] = [[0, 0]]  # per open node: size and depth below it
        self.anchored: dict[yaml.Node, tuple[int, int]] = {}

    def compose_node(self, parent: Any, index: Any) -> Any:
        event: Any = self.peek_event()  # type: ignore[no-untyped-call]
        if isinstance(event, yaml.AliasEvent):
            return self._alias(event, parent, index)
        collection = isinstance(event, yaml.CollectionStartEvent)
        if collection and self.open_collections >= MAX_DEPTH:
            raise _GoDecodeError(f"yaml: {_line(event)}exceeded max depth of {MAX_DEPTH}")
        if event.anchor is not None:
            self.anchors.pop(event.anchor, None)
        self._count(1, 0)
        self.open_collections += collection
        self.totals.append([0, 0])
        node: Any = super().compose_node(parent, index)
        below, depth = self.totals.pop()
        self.open_collections -= collection
        size, depth = 1 + below, depth + collection
        if event.anchor is not None:
            self.anchored[node] = (size, depth)
        self._add(size, depth)
        return node

    def _alias(self, event: Any, parent: Any, index: Any) -> Any:
        if event.anchor not in self.anchors:
            raise _GoDecodeError(f"yaml: unknown anchor '{event.anchor}' referenced")
        node: Any = super().compose_node(parent, index)
        if node not in self.anchored:
            raise _GoDecodeError(f"yaml: anchor '{event.anchor}' value contains itself")
        size, depth = self.anchored[node]
        if self.open_collections + depth > MAX_DEPTH:
            raise _GoDecodeError(f"yaml: {_line(event)}exceeded max depth of {MAX_DEPTH}")
        self._count(1 + size, size)
        self._add(1 + size, depth)
        return node

    def _count(self, decodes: int, aliased: int) -> None:
        # Within one alias the share only grows, and outside aliases it can only cross the
        # (falling) allowed ratio once aliases are over 100: checking here is Go's check.
        self.decodes += decodes
        self.aliased += aliased
        if (
            self.aliased > 100
            and self.decodes > 1000
            and self.aliased / self.decodes > _allowed_alias_ratio(self.decodes)
        ):
            raise _GoDecodeError("yaml: document contains excessive aliasing")

    def _add(self, size: int, depth: int) -> None:
        total = self.totals[-1]
        total[0] += size
        total[1] = max(total[1], depth)


def _line(event: Any) -> str:
    """go-yaml's ``line N: `` prefix, which it leaves out on the first line."""
    line = event.start_mark.line
    return f"line {line + 1}: " if line else ""


def _yaml_value(raw: bytes) -> Any:
    try:  # JSON is YAML, and the common case (server-side apply)
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return _load_yaml(raw)
    if nesting.may_be_deeper(raw) and nesting.too_deep(value) is not None:
        raise _GoDecodeError(f"yaml: exceeded max depth of {MAX_DEPTH}")
    return value


def _load_yaml(raw: bytes) -> Any:
    try:
        value = yaml.load(raw, Loader=_GoYAMLLoader)  # noqa: S506 - a SafeLoader subclass
    except (yaml.YAMLError, RecursionError) as exc:
        raise errors.bad_request(f"the request body is not valid YAML: {exc}") from None
    # Round-trip through JSON: YAML timestamps and other non-JSON scalars become strings, and
    # aliases (shared Python objects here) become copies.
    try:
        return orjson.loads(orjson.dumps(value, default=str))
    except orjson.JSONEncodeError as exc:
        raise errors.bad_request(f"the request body cannot be represented as JSON: {exc}") from None


def parse_yaml(raw: bytes) -> Any:
    """A YAML (or JSON) body as server-side apply reads it: at most `MAX_DEPTH` levels deep,
    aliases within go-yaml's budget; go-yaml's refusals framed as ``sigs.k8s.io/yaml`` does."""
    try:
        return _yaml_value(raw)
    except _GoDecodeError as exc:
        raise errors.bad_request(f"error converting YAML to JSON: {exc}") from None


# --- objects ------------------------------------------------------------------------------------


def _unrecognized(kind: str, reason: str, raw: bytes) -> errors.StatusError:
    """The create handler's ``transformDecodeError`` when the body named no kind it could read."""
    target = f" (must be of type {kind})" if kind else ""
    head = raw[:30].decode("utf-8", "replace") if raw[:1] == b"{" else raw[:30].hex()
    summary = (head + " ...") if len(raw) > 30 else head or "<empty>"
    return errors.bad_request(f"the object provided is unrecognized{target}: {reason} ({summary})")


def _answered_as_sent(api_version: str, kind: str) -> bool:
    """Whether the body is answered rather than stored (reviews, TokenRequest, DeleteOptions):
    what it holds is then all kept, so it may not nest deeper than `MAX_DEPTH`. An object to
    store is checked once its unknown or pruned fields are gone (`check_depth`)."""
    group, _, version = api_version.rpartition("/")
    found = builtin.lookup_kind(group=group, version=version, kind=kind)
    if found is not None:
        return not found.storage_id
    return group in _BUILTIN_GROUPS


def decode_object(
    raw: bytes, media: str, *, api_version: str = "", kind: str = ""
) -> dict[str, Any]:
    """An object body (create, update) in any accepted encoding, as a JSON dict.

    ``api_version`` and ``kind`` are the endpoint's: a protobuf body with an empty type takes
    them, as the apiserver's decoder does.
    """
    if media == JSON:
        try:
            value = _json_value(raw)
        except _GoDecodeError as exc:
            reason = f"couldn't get version/kind; json parse error: {exc}"
            raise _unrecognized(kind, reason, raw) from None
    elif media == YAML:
        try:
            value = _yaml_value(raw)
        except _GoDecodeError as exc:
            raise _unrecognized(kind, str(exc), raw) from None
    elif media == PROTOBUF:
        try:
            value = protobuf.decode(raw, default_api_version=api_version, default_kind=kind)
        except protobuf.ProtobufError as exc:
            raise errors.bad_request(str(exc)) from None
    else:
        raise errors.unsupported_media_type(media, OBJECT_TYPES)
    if not isinstance(value, dict):
        raise errors.bad_request("the request body must be a JSON object")
    if _answered_as_sent(api_version, kind):
        version = api_version.rpartition("/")[2]
        check_depth(value, kind=kind, version=version, raw=raw if media == JSON else None)
    return value
