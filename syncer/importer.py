"""API import: tell the workspace which types the edge cluster serves, with their schemas.

Why this module exists: a workspace starts without ``deployments``; the types appear because
each syncer reports what its edge cluster serves (reference §4.2) and the server negotiates one
schema per type across the workspace's clusters (``kcp_edge.controllers.apinegotiation``). Every
``api_import_interval`` this reads, for each synced resource, the edge's schema (from its CRD
when the type is a CRD, else from the edge's OpenAPI v3 document of the group-version) and
applies an APIResourceImport named ``<plural>.<cluster>.<version>.<group or core>``, owned by the
WorkloadCluster so it goes with it. Writes happen only when the import changed.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from kcp_edge.apimachinery.openapiimport import OpenAPIImportError, crd_schema_from_openapi
from syncer import naming, transform
from syncer.kubeclient import ApiError
from syncer.queue import backoff
from syncer.resources import Resource, ResourceNotServedError, discover

if TYPE_CHECKING:
    from syncer.engine import Syncer

log = logging.getLogger("kcp.syncer.import")

Obj = dict[str, Any]
IMPORTS = "/apis/apiresource.kcp.dev/v1alpha1/apiresourceimports"


def import_name(resource: Resource, cluster: str) -> str:
    return f"{resource.resource}.{cluster}.{resource.version}.{resource.group or 'core'}"


def api_resource_import(resource: Resource, cluster: str, cluster_uid: str, schema: Obj) -> Obj:
    """The APIResourceImport object for ``resource`` as ``cluster`` serves it."""
    sub_resources: list[Obj] = []
    if resource.status:
        sub_resources.append({"name": "status"})
    if resource.scale:
        sub_resources.append({"name": "scale"})
    spec: Obj = {
        "location": cluster,
        "schemaUpdateStrategy": "UpdateUnpublished",
        "groupVersion": {"group": resource.group, "version": resource.version},
        "scope": "Namespaced" if resource.namespaced else "Cluster",
        "plural": resource.resource,
        "singular": resource.singular or resource.kind.lower(),
        "kind": resource.kind,
        "listKind": f"{resource.kind}List",
        "subResources": sub_resources,
        "openAPIV3Schema": schema,
    }
    if resource.short_names:
        spec["shortNames"] = list(resource.short_names)
    if resource.categories:
        spec["categories"] = list(resource.categories)
    return {
        "apiVersion": "apiresource.kcp.dev/v1alpha1",
        "kind": "APIResourceImport",
        "metadata": {
            "name": import_name(resource, cluster),
            "annotations": {"apiresource.kcp.dev/apiVersion": resource.group_version},
            "ownerReferences": [
                {
                    "apiVersion": "workload.kcp.dev/v1alpha1",
                    "kind": "WorkloadCluster",
                    "name": cluster,
                    "uid": cluster_uid,
                    "controller": True,
                }
            ],
        },
        "spec": spec,
    }


class APIImporter:
    """The engine's importer loop (owned by one `Syncer`)."""

    def __init__(self, engine: Syncer) -> None:
        self.engine = engine
        self._written: dict[str, str] = {}

    async def run(self) -> None:
        failures = 0
        while True:
            await self.engine.state.active.wait()
            try:
                for name in self.engine.options.resources:
                    await self._import(name)
                failures = 0
                await asyncio.sleep(self.engine.options.api_import_interval)
            except (ApiError, ResourceNotServedError, OpenAPIImportError) as exc:
                log.warning("API import failed: %s", exc)
                await asyncio.sleep(min(5.0, 1.0 + backoff(failures, base=0.5)))
                failures += 1

    async def _import(self, name: str) -> None:
        down = self.engine.down
        resource = await discover(down, name)
        schema = await self._schema(resource)
        cluster = self.engine.options.workload_cluster
        obj = api_resource_import(resource, cluster, self.engine.state.uid, schema)
        digest = transform.content_hash(obj)
        if self._written.get(name) == digest:
            return
        path = f"{self.engine.prefix}{IMPORTS}/{obj['metadata']['name']}"
        await self.engine.up.apply(path, obj, field_manager=naming.SYNCER_FIELD_MANAGER, force=True)
        self._written[name] = digest

    async def _schema(self, resource: Resource) -> Obj:
        down = self.engine.down
        if resource.group:
            crd_path = (
                "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/"
                f"{resource.resource}.{resource.group}"
            )
            try:
                crd = await down.get(crd_path)
            except ApiError as exc:
                if exc.code not in (403, 404):
                    raise
            else:
                for version in crd.get("spec", {}).get("versions") or []:
                    if version.get("name") == resource.version:
                        schema = (version.get("schema") or {}).get("openAPIV3Schema")
                        if isinstance(schema, dict):
                            return schema
        gv_path = f"apis/{resource.group}/{resource.version}" if resource.group else "api/v1"
        root = await down.get("/openapi/v3")
        entry = (root.get("paths") or {}).get(gv_path) or {}
        url = str(entry.get("serverRelativeURL") or f"/openapi/v3/{gv_path}")
        path, _, query = url.partition("?")
        params = dict(part.split("=", 1) for part in query.split("&") if "=" in part)
        document = await down.get(path, params or None)
        return crd_schema_from_openapi(document, resource.group, resource.version, resource.kind)
