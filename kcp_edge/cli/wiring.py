"""Putting the server together: catalog, object store, controllers, application.

Why this module exists: the server, registry and controllers layers may not import each other
sideways (see the import contracts); the CLI is the one place that knows all of them, so the
parts are created and connected here, once, for ``kcp start`` and for tests.
"""

from __future__ import annotations

from collections.abc import Sequence

from starlette.applications import Starlette

from kcp_edge.auth.serviceaccounts import TokenIssuer
from kcp_edge.auth.union import UnionAuthenticator
from kcp_edge.controllers.apinegotiation import APINegotiation
from kcp_edge.controllers.bootstrap import ensure_default_namespace, ensure_default_organization
from kcp_edge.controllers.crds import CRDController
from kcp_edge.controllers.garbage import GarbageCollector
from kcp_edge.controllers.namespaces import NamespaceLifecycle
from kcp_edge.controllers.scheduling import NamespaceScheduler
from kcp_edge.controllers.serviceaccounts import ServiceAccountTokens
from kcp_edge.controllers.workloadclusters import DEFAULT_THRESHOLD, WorkloadClusterHealth
from kcp_edge.controllers.workspaces import WorkspaceController
from kcp_edge.registry.builtin import BUILTIN_KINDS
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.custom import custom_kinds
from kcp_edge.registry.openapi_data import openapi_documents
from kcp_edge.registry.store import ObjectStore
from kcp_edge.server.app import Controller, build_app
from kcp_edge.server.discovery import Discovery
from kcp_edge.storage.interface import Store
from kcp_edge.tenancy.workspaces import BUILTIN_TYPES, DEFAULT_ORG, ROOT, ROOT_TYPE, system_crds


def server_app(
    *,
    store: Store,
    authenticator: UnionAuthenticator,
    base_url: str = "https://127.0.0.1:6443",
    token_issuer: TokenIssuer | None = None,
    ca_pem: bytes = b"",
    extra_controllers: Sequence[Controller] = (),
    heartbeat_threshold: float = DEFAULT_THRESHOLD,
) -> Starlette:
    """The whole kcp-edge application over an open store; ``base_url``: the server's external
    address, for workspace URLs; ``extra_controllers`` run beside the built-in ones (the
    push-mode syncers); ``heartbeat_threshold``: seconds without a syncer heartbeat after
    which a WorkloadCluster is no longer Ready."""
    catalog = Catalog(BUILTIN_KINDS)
    for workspace_type in (ROOT_TYPE, *BUILTIN_TYPES):
        kinds = [k for crd in system_crds(workspace_type) for k in custom_kinds(crd)]
        catalog.define_type(workspace_type, kinds)
    catalog.set_cluster(ROOT, ROOT_TYPE)
    objects = ObjectStore(store, namespaces=catalog.namespaces)
    crd_kind = catalog.lookup(ROOT, "apiextensions.k8s.io", "v1", "customresourcedefinitions")
    workspace_kind = catalog.lookup(ROOT, "tenancy.kcp.dev", "v1beta1", "workspaces")
    assert crd_kind is not None and workspace_kind is not None
    crd_controller = CRDController(catalog=catalog, objects=objects, kind=crd_kind)
    workspaces = WorkspaceController(
        catalog=catalog, objects=objects, kind=workspace_kind, base_url=base_url
    )
    return build_app(
        store=store,
        authenticator=authenticator,
        token_issuer=token_issuer,
        catalog=catalog,
        objects=objects,
        discovery=Discovery(catalog=catalog, documents=openapi_documents()),
        controllers=[
            NamespaceLifecycle(catalog=catalog, objects=objects),
            GarbageCollector(catalog=catalog, objects=objects),
            crd_controller,
            workspaces,
            WorkloadClusterHealth(catalog=catalog, objects=objects, threshold=heartbeat_threshold),
            NamespaceScheduler(catalog=catalog, objects=objects),
            APINegotiation(catalog=catalog, objects=objects),
            *(
                [
                    ServiceAccountTokens(
                        catalog=catalog, objects=objects, issuer=token_issuer, ca_pem=ca_pem
                    )
                ]
                if token_issuer is not None
                else []
            ),
            *extra_controllers,
        ],
        startup=[
            workspaces.load,
            crd_controller.load,
            lambda: ensure_default_organization(catalog, objects, workspace_kind, base_url),
            lambda: ensure_default_namespace(catalog, objects, ROOT),
            lambda: ensure_default_namespace(catalog, objects, DEFAULT_ORG),
        ],
    )
