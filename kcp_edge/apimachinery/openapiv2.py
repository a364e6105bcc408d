"""The swagger 2.0 document of a logical cluster (``/openapi/v2``), as JSON and as protobuf.

Why this module exists: kubectl's default ``--validate=strict`` checks a ``kind: List`` on the
client, because ``v1/List`` has no PATCH operation in ``/openapi/v3``. That check downloads
``/openapi/v2`` as gnostic's ``openapi_v2.Document`` protobuf (the only form client-go's
``DiscoveryClient.OpenAPISchema`` asks for) and validates every item against the definition
whose ``x-kubernetes-group-version-kind`` names the item's kind. Without the document, ``kubectl
apply -f list.yaml`` fails. The apiserver builds its v2 document beside the v3 ones; here it is
derived from the v3 documents (``openapi.py``):

* definitions are the ``components.schemas`` of the served group-versions, under the same names,
  with ``$ref`` pointing at ``#/definitions/``. What swagger 2.0 cannot carry goes, the way the
  apiserver's own v2 output and ``ToStructuralOpenAPIV2`` (apiextensions-apiserver) drop it: an
  ``allOf`` around a single ``$ref`` becomes that ``$ref``, ``oneOf``/``anyOf``/``not`` go (a
  primitive union with a string branch, IntOrString and Quantity, is ``type: string`` as in
  upstream's v2), ``nullable`` makes a value untyped. Vendor extensions stay;
* ``paths`` stays empty. kubectl reads v2 paths in two places only: the PATCH ``consumes`` list
  (``apply``/``edit``/``diff`` when v3 refuses strategic merge patch) and the fallback
  ``fieldValidation`` check (when v3 fails outright). With no path, the first falls back to
  kubectl's compiled-in types or to a merge patch, exactly as it does on a 404, and the second
  answers "unsupported", so the client validates against the definitions;
* the caller chooses the kinds; kcp-edge passes its built-in kinds only (see ``discovery.py``).

The protobuf form is written by hand from gnostic's ``openapiv2/OpenAPIv2.proto``: a schema is
``Schema`` (``$ref`` 1 ... vendor extensions 31), its ``type`` a ``TypeItem``, ``items`` an
``ItemsItem``, ``properties`` a ``Properties`` of ``NamedSchema``, ``additionalProperties`` the
``AdditionalPropertiesItem`` oneof, and ``default``/``enum``/``example``/extensions an ``Any``
whose ``yaml`` is the value as JSON (JSON being YAML). Fields are written in number order and
zero scalars are left out, as Go's ``proto.Marshal`` does.

A document is built once per distinct set of served resources and kept as bytes (JSON, protobuf
and the ETag, the SHA-512 of the JSON as kube-openapi computes it for both forms); the cache key
is that set, never the workspace. Nothing here does I/O.
"""

from __future__ import annotations

import json
import struct
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, NamedTuple

import orjson

from kcp_edge.apimachinery.openapi import (
    JSON,
    NO_CACHE,
    OpenAPIResponse,
    ServedResource,
    content_hash,
    document_key,
    filter_document,
)

PROTOBUF_REQUESTED = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
"""What client-go's ``OpenAPISchema`` asks for (kube-openapi's deprecated subtype)."""
PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"
"""The Content-Type kube-openapi answers for either protobuf subtype."""
_FORMS = (
    (("application", "json"), JSON),
    (("application", "com.github.proto-openapi.spec.v2@v1.0+protobuf"), PROTOBUF),
    (("application", "com.github.proto-openapi.spec.v2.v1.0+protobuf"), PROTOBUF),
)
_CACHE_SIZE = 16
_V3_REF = "#/components/schemas/"
_V2_REF = "#/definitions/"


class SwaggerDocument(NamedTuple):
    json: bytes
    protobuf: bytes
    hash: str
    """Upper-case hex SHA-512 of ``json``: the ETag of both forms."""


# -- v3 schemas to swagger 2.0 ---------------------------------------------------------------

_KEPT = frozenset(
    {"$ref", "format", "title", "description", "default", "multipleOf", "maximum"}
    | {"exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern"}
    | {"maxItems", "minItems", "uniqueItems", "maxProperties", "minProperties", "required"}
    | {"enum", "additionalProperties", "type", "items", "properties", "readOnly", "example"}
)
"""The v3 schema keywords a swagger 2.0 schema has too (``allOf`` is unwrapped or dropped)."""


def to_v2_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """One OpenAPI v3 schema as a swagger 2.0 schema (a new dict; ``schema`` is not changed)."""
    out = {key: value for key, value in schema.items() if key in _KEPT or key.startswith("x-")}
    branches = schema.get("allOf")
    if isinstance(branches, list) and len(branches) == 1 and set(branches[0]) == {"$ref"}:
        out["$ref"] = branches[0]["$ref"]
    union = schema.get("oneOf", schema.get("anyOf"))
    if "type" not in out and isinstance(union, list) and {"type": "string"} in union:
        out["type"] = "string"
    ref = out.get("$ref")
    if isinstance(ref, str) and ref.startswith(_V3_REF):
        out["$ref"] = _V2_REF + ref[len(_V3_REF) :]
    if isinstance(out.get("items"), Mapping):
        out["items"] = to_v2_schema(out["items"])
    if isinstance(out.get("additionalProperties"), Mapping):
        out["additionalProperties"] = to_v2_schema(out["additionalProperties"])
    properties = out.get("properties")
    if isinstance(properties, Mapping):
        out["properties"] = {name: to_v2_schema(sub) for name, sub in properties.items()}
        nullable = {name for name, sub in properties.items() if _nullable(sub)}
        if nullable and isinstance(out.get("required"), list):
            out["required"] = [name for name in out["required"] if name not in nullable]
            if not out["required"]:
                del out["required"]
    _untype(out, nullable=_nullable(schema))
    return out


def _nullable(schema: Any) -> bool:
    return isinstance(schema, Mapping) and schema.get("nullable") is True


def _untype(out: dict[str, Any], *, nullable: bool) -> None:
    """``ToStructuralOpenAPIV2``: kubectl's v2 validation rejects null and unknown fields."""
    preserve = out.get("x-kubernetes-preserve-unknown-fields") is True
    if nullable or preserve:
        out.pop("items", None)
        out.pop("properties", None)
    if nullable or (preserve and out.get("type") == "object"):
        out.pop("type", None)
    if out.get("type") == "array" and "items" not in out:
        del out["type"]


def definitions(documents: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The v2 ``definitions`` of several v3 documents, by component name.

    A name means the same Go type in every group-version document, so the first one is kept.
    """
    out: dict[str, dict[str, Any]] = {}
    for document in documents:
        for name, schema in document.get("components", {}).get("schemas", {}).items():
            if name not in out:
                out[name] = to_v2_schema(schema)
    return out


def swagger_document(
    *, definitions: Mapping[str, Mapping[str, Any]], version: str
) -> dict[str, Any]:
    """The whole swagger 2.0 document: ``info.version`` is the server's ``gitVersion``."""
    return {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": version},
        "paths": {},
        "definitions": dict(definitions),
    }


# -- the protobuf form (gnostic openapi_v2.Document) -----------------------------------------

_VARINT, _FIXED64, _LENGTH = 0, 1, 2
_DOUBLE = struct.Struct("<d")


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _tag(number: int, wire_type: int) -> bytes:
    return _varint(number << 3 | wire_type)


def _message(number: int, payload: bytes) -> bytes:
    return _tag(number, _LENGTH) + _varint(len(payload)) + payload


def _string(number: int, text: str) -> bytes:
    return _message(number, text.encode()) if text else b""


def _integer(number: int, value: int) -> bytes:
    return _tag(number, _VARINT) + _varint(int(value)) if value else b""


def _boolean(number: int, value: bool) -> bytes:
    return _tag(number, _VARINT) + b"\x01" if value else b""


def _double(number: int, value: float) -> bytes:
    return _tag(number, _FIXED64) + _DOUBLE.pack(float(value)) if value else b""


def _yaml(value: Any) -> bytes:
    """``Any{yaml: 2}``: the value as JSON with a space after ``:`` and ``,``, which is YAML."""
    return _string(2, json.dumps(value, sort_keys=True, ensure_ascii=False) + "\n")


def _any(number: int, value: Any) -> bytes:
    return _message(number, _yaml(value))


def _named(number: int, name: str, value: bytes) -> bytes:
    """A ``Named*`` entry: ``{name: 1, value: 2}``."""
    return _message(number, _string(1, name) + _message(2, value))


_Encoder = Callable[[int, Any], bytes]
_SCALARS: tuple[tuple[str, int, _Encoder], ...] = (
    ("$ref", 1, _string),
    ("format", 2, _string),
    ("title", 3, _string),
    ("description", 4, _string),
    ("default", 5, _any),
    ("multipleOf", 6, _double),
    ("maximum", 7, _double),
    ("exclusiveMaximum", 8, _boolean),
    ("minimum", 9, _double),
    ("exclusiveMinimum", 10, _boolean),
    ("maxLength", 11, _integer),
    ("minLength", 12, _integer),
    ("pattern", 13, _string),
    ("maxItems", 14, _integer),
    ("minItems", 15, _integer),
    ("uniqueItems", 16, _boolean),
    ("maxProperties", 17, _integer),
    ("minProperties", 18, _integer),
)
"""``Schema`` fields 1-18, in number order."""


def encode_schema(schema: Mapping[str, Any]) -> bytes:
    """A swagger 2.0 schema as gnostic's ``Schema`` message."""
    out = bytearray()
    for key, number, encode in _SCALARS:
        if key in schema:
            out += encode(number, schema[key])
    for name in schema.get("required", ()):
        out += _message(19, name.encode())
    for value in schema.get("enum", ()):
        out += _any(20, value)
    if "additionalProperties" in schema:
        extra = schema["additionalProperties"]
        if isinstance(extra, Mapping):
            out += _message(21, _message(1, encode_schema(extra)))
        else:  # a oneof member is written even when false
            out += _message(21, _tag(2, _VARINT) + _varint(bool(extra)))
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        out += _message(22, b"".join(_message(1, t.encode()) for t in types))
    if "items" in schema:
        out += _message(23, _message(1, encode_schema(schema["items"])))
    if "properties" in schema:
        properties = sorted(schema["properties"].items())
        entries = (_named(1, name, encode_schema(sub)) for name, sub in properties)
        out += _message(25, b"".join(entries))
    if "readOnly" in schema:
        out += _boolean(27, schema["readOnly"])
    if "example" in schema:
        out += _any(30, schema["example"])
    for key in sorted(k for k in schema if k.startswith("x-")):
        out += _named(31, key, _yaml(schema[key]))
    return bytes(out)


def encode_document(document: Mapping[str, Any]) -> bytes:
    """The document of `swagger_document` as gnostic's ``openapi_v2.Document``.

    Fields: swagger 1, info 2 (title 1, version 2), paths 8 (written empty: this server
    publishes none), definitions 9 (``NamedSchema`` entries). Map entries are sorted by key,
    the order of the JSON form that gnostic reads them from upstream.
    """
    info = document["info"]
    entries = sorted(document["definitions"].items())
    named = (_named(1, name, encode_schema(schema)) for name, schema in entries)
    return (
        _string(1, document["swagger"])
        + _message(2, _string(1, info["title"]) + _string(2, info["version"]))
        + _message(8, b"")
        + _message(9, b"".join(named))
    )


def make_swagger(document: Mapping[str, Any]) -> SwaggerDocument:
    """Both forms of a document, keys sorted as Go's ``json.Marshal`` writes maps."""
    body = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
    return SwaggerDocument(body, encode_document(document), content_hash(body))


# -- the per-cluster surface -----------------------------------------------------------------

_Signature = frozenset[tuple[str, str, frozenset[str]]]
"""A cache key: (document key, resource, served subresources) of every served resource."""


class SwaggerDocuments:
    """The v2 document of each distinct set of served resources, memoised as bytes."""

    def __init__(self, *, documents: Mapping[str, Mapping[str, Any]], version: str) -> None:
        """``documents``: the raw v3 documents by index key (``api/v1``, ``apis/apps/v1``), as
        `kcp_edge.apimachinery.openapi.OpenAPIDocuments` takes them; ``version``: the
        server's ``gitVersion``."""
        self._raw = documents
        self._version = version
        self._lock = threading.Lock()
        self._cache: OrderedDict[_Signature, SwaggerDocument] = OrderedDict()

    def document(self, *, kinds: Iterable[ServedResource]) -> SwaggerDocument:
        """The ``/openapi/v2`` document of a cluster serving ``kinds``."""
        signature = frozenset(
            (key, k.resource, frozenset(k.subresources))
            for k in kinds
            if (key := document_key(group=k.group, version=k.version)) in self._raw
        )
        with self._lock:
            cached = self._cache.get(signature)
            if cached is not None:
                self._cache.move_to_end(signature)
                return cached
        built = make_swagger(self._build(signature))
        with self._lock:
            self._cache[signature] = built
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        return built

    def _build(self, signature: _Signature) -> dict[str, Any]:
        served: dict[str, dict[str, frozenset[str]]] = {}
        for key, resource, subresources in signature:
            served.setdefault(key, {})[resource] = subresources
        filtered = (
            filter_document(document=self._raw[key], prefix="/" + key, served=served[key])
            for key in sorted(served)
        )
        return swagger_document(definitions=definitions(filtered), version=self._version)


# -- serving rules ---------------------------------------------------------------------------


def negotiate(accept: str | None) -> str | None:
    """The Content-Type to answer (JSON or `PROTOBUF`), or None (406), as kube-openapi's v2
    handler picks it: clauses by quality, then specific before wildcard, and for each clause
    JSON first, then the two protobuf subtypes."""
    clauses = []
    for position, clause in enumerate((accept or "*/*").split(",")):
        media_range, *params = (part.strip() for part in clause.split(";"))
        if media_range == "*":
            media_range = "*/*"
        kind, slash, subtype = media_range.partition("/")
        if not slash:
            continue
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        clauses.append((-quality, kind == "*", subtype == "*", position, kind, subtype))
    for *_, kind, subtype in sorted(clauses):
        for (want_kind, want_subtype), answer in _FORMS:
            if kind in (want_kind, "*") and subtype in (want_subtype, "*"):
                return answer
    return None


def serve_swagger(
    document: SwaggerDocument, *, accept: str | None, if_none_match: str | None
) -> OpenAPIResponse:
    """``GET /openapi/v2``: the negotiated form, one ETag for both, 304 on a match, else 406."""
    media = negotiate(accept)
    if media is None:
        return OpenAPIResponse(406, (("Vary", "Accept"), ("Cache-Control", NO_CACHE)), b"")
    etag = f'"{document.hash}"'
    headers = (("Vary", "Accept"), ("Etag", etag), ("Cache-Control", NO_CACHE))
    if if_none_match and _etag_matches(if_none_match, etag):
        return OpenAPIResponse(304, headers, b"")
    body = document.protobuf if media == PROTOBUF else document.json
    return OpenAPIResponse(200, (("Content-Type", media), *headers), body)


def _etag_matches(if_none_match: str, etag: str) -> bool:
    """Weak comparison over a list of entity tags, or ``*`` (``http.ServeContent``)."""
    tags = (candidate.strip() for candidate in if_none_match.split(","))
    return any(tag == "*" or tag.removeprefix("W/") == etag for tag in tags)
