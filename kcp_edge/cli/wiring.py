"""Putting the server together: catalog, object store, controllers, application.

Why this module exists: the server, registry and controllers layers may not import each other
sideways (see the import contracts); the CLI is the one place that knows all of them, so the
parts are created and connected here, once, for ``kcp start`` and for tests.
"""

from __future__ import annotations

from starlette.applications import Starlette

from kcp_edge.auth import TokenAuthenticator
from kcp_edge.controllers.bootstrap import DEFAULT_ORG, ROOT, ensure_default_namespace
from kcp_edge.controllers.crds import CRDController
from kcp_edge.controllers.garbage import GarbageCollector
from kcp_edge.controllers.namespaces import NamespaceLifecycle
from kcp_edge.registry.builtin import BUILTIN_KINDS
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.openapi_data import openapi_documents
from kcp_edge.registry.store import ObjectStore
from kcp_edge.server.app import build_app
from kcp_edge.server.discovery import Discovery
from kcp_edge.storage.interface import Store


def server_app(*, store: Store, authenticator: TokenAuthenticator) -> Starlette:
    """The whole kcp-edge application over an open store."""
    catalog = Catalog(BUILTIN_KINDS)
    objects = ObjectStore(store, namespaces=catalog.namespaces)
    crd_kind = catalog.lookup(ROOT, "apiextensions.k8s.io", "v1", "customresourcedefinitions")
    assert crd_kind is not None
    crd_controller = CRDController(catalog=catalog, objects=objects, kind=crd_kind)
    return build_app(
        store=store,
        authenticator=authenticator,
        catalog=catalog,
        objects=objects,
        discovery=Discovery(catalog=catalog, documents=openapi_documents()),
        controllers=[
            NamespaceLifecycle(catalog=catalog, objects=objects),
            GarbageCollector(catalog=catalog, objects=objects),
            crd_controller,
        ],
        startup=[
            crd_controller.load,
            lambda: ensure_default_namespace(catalog, objects, ROOT),
            lambda: ensure_default_namespace(catalog, objects, DEFAULT_ORG),
        ],
    )
