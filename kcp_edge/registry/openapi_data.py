"""The bundled OpenAPI v3 documents, read once: schemas of the built-in kinds and ``/openapi/v3``.

Why this module exists: ``kcp_edge.apimachinery.openapi`` does no I/O, so the registry reads the
committed data (``data/openapi/``, made by ``build/openapi_bundle.py`` from the Kubernetes 1.35
documents, descriptions stripped) and hands it over. Each file is parsed on first use, once per
process (a document no workspace serves, such as ``apps/v1`` before an API import, is never
parsed); every logical cluster then shares the same parsed documents and the same filtered,
serialised copies.

File names follow upstream: ``api__v1.json`` is ``/openapi/v3/api/v1``,
``apis__apps__v1.json`` is ``/openapi/v3/apis/apps/v1``, ``apis.json`` is ``/openapi/v3/apis``.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import orjson

from kcp_edge.apimachinery.openapi import OpenAPIDocuments, document_key
from kcp_edge.registry.kinds import ResourceKind

if TYPE_CHECKING:
    from importlib.abc import Traversable  # importlib.resources.abc from Python 3.11


def key_of(file_name: str) -> str:
    """``apis__apps__v1.json`` -> ``apis/apps/v1`` (the path after ``/openapi/v3/``)."""
    return file_name.removesuffix(".json").replace("__", "/")


class BundledDocuments(Mapping[str, Mapping[str, Any]]):
    """Index key -> parsed document, each file parsed on first access."""

    def __init__(self, folder: Traversable) -> None:
        self._files = {
            key_of(entry.name): entry for entry in folder.iterdir() if entry.name.endswith(".json")
        }
        self._parsed: dict[str, Mapping[str, Any]] = {}
        self._lock = threading.Lock()

    def __getitem__(self, key: str) -> Mapping[str, Any]:
        with self._lock:
            if key not in self._parsed:
                self._parsed[key] = orjson.loads(self._files[key].read_bytes())
            return self._parsed[key]

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._files))

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, key: object) -> bool:
        return key in self._files


@cache
def bundled_documents() -> BundledDocuments:
    """Every bundled document, by index key."""
    return BundledDocuments(
        resources.files("kcp_edge.registry").joinpath("data").joinpath("openapi")
    )


@cache
def openapi_documents() -> OpenAPIDocuments:
    """The shared ``/openapi/v3`` surface over the bundled documents."""
    return OpenAPIDocuments(documents=bundled_documents())


def kind_schema(kind: ResourceKind) -> Mapping[str, Any] | None:
    """The schema of a kind (its ``ResourceKind.schema`` component), if bundled."""
    key = document_key(group=kind.group, version=kind.version)
    documents = bundled_documents()
    if not kind.schema or key not in documents:
        return None
    schemas: Mapping[str, Mapping[str, Any]] = (
        documents[key].get("components", {}).get("schemas", {})
    )
    return schemas.get(kind.schema)


def component_schemas(*, group: str, version: str) -> Mapping[str, Mapping[str, Any]]:
    """All ``components.schemas`` of one group-version's document (empty if none bundled).

    The ``$ref`` targets of a kind's schema are all in its own group-version's document.
    """
    key = document_key(group=group, version=version)
    documents = bundled_documents()
    if key not in documents:
        return {}
    schemas: Mapping[str, Mapping[str, Any]] = (
        documents[key].get("components", {}).get("schemas", {})
    )
    return schemas
