"""API negotiation: publish the resources edge clusters import as CRDs of their workspace.

Why this module exists: a syncer imports the schema of each resource it syncs (reference §4.2)
as an **APIResourceImport**; the workspace must then serve one schema per resource that every
importing cluster can hold, so that ``kubectl api-resources`` lists ``deployments`` and
``kubectl explain deployments.spec`` works. This one task (kcp's ``apiresource`` controller,
reduced) watches imports, CRDs, NegotiatedAPIResources and WorkloadClusters of every workspace
and reconciles a workspace at a time:

* per group-version-resource, a kind the workspace already serves wins ("Enforced", as kcp
  says): a built-in or kcp system kind (``secrets``, ``configmaps``, ``serviceaccounts``), or a
  CRD a user created (one without the ``apiresource.kcp.dev/negotiated: "true"`` annotation).
  Imports are then accepted as they are and nothing is published;
* otherwise the imports are folded, oldest first, into their least common denominator
  (`kcp_edge.apimachinery.schemacompat.common_schema`); an import that cannot be folded in
  (types disagree, different kind or scope) is ``Compatible=False`` (reason
  ``IncompatibleSchema``) and left out. The result is written as the NegotiatedAPIResource
  ``<plural>.<version>.<group or core>`` (conditions ``Submitted``, ``Published``) and as the
  CRD ``<plural>.<group>`` (``<plural>.core`` for the core group: see below) with the marker
  annotation, which the CRD controller then establishes;
* when the last import of a resource is gone, its NegotiatedAPIResource is deleted but the CRD
  stays: deleting it would delete the objects users created (kcp also left it);
* each WorkloadCluster gets ``status.syncedResources`` (``<plural>.<group>``, the plural alone
  for the core group, of its compatible imports) and ``status.apiResources``
  (``[{group, resource, version, state: Accepted|Incompatible, message}]``).

The import a syncer writes (cluster-scoped, ``apiresource.kcp.dev/v1alpha1``)::

    metadata:
      name: <plural>.<workload cluster>.<version>.<group or "core">
      annotations: {apiresource.kcp.dev/apiVersion: apps/v1}
      ownerReferences: [{apiVersion: workload.kcp.dev/v1alpha1, kind: WorkloadCluster,
                         name: <workload cluster>, uid: <its uid>, controller: true}]
    spec:
      location: <workload cluster name>
      schemaUpdateStrategy: UpdateUnpublished
      groupVersion: {group: apps, version: v1}       # group "" (or absent) for core
      scope: Namespaced                              # or Cluster
      plural: deployments
      singular: deployment
      kind: Deployment
      listKind: DeploymentList
      shortNames: [deploy]
      categories: [all]
      subResources: [{name: status}, {name: scale}]  # scale may name specReplicasPath,
                                                     # statusReplicasPath, labelSelectorPath
      columnDefinitions: [{name, type, jsonPath, description?, priority?, format?}]
      openAPIV3Schema: {...structural schema, e.g. openapiimport.crd_schema_from_openapi...}

Core-group resources that kcp-edge does not build in (``services`` from ``/openapi/v3/api/v1``)
are published as ``<plural>.core`` CRDs with ``spec.group: ""`` and served under ``/api/v1``;
discovery serves their OpenAPI from the bundled Kubernetes ``/api/v1`` document, so the
built-in core kinds keep theirs.
Negotiated CRDs of Kubernetes' dotless groups (``apps``) are accepted by CRD validation because
of the marker annotation (``registry/crds.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from kcp_edge.apimachinery.errors import StatusError
from kcp_edge.apimachinery.schemacompat import common_schema
from kcp_edge.apimachinery.structural import check_structural
from kcp_edge.registry import codec, crds, keys
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.store import CLUSTER_ANNOTATION, ObjectStore, now_rfc3339
from kcp_edge.storage import EventType, StorageError

log = logging.getLogger(__name__)

RETRY_SECONDS = 1.0
APIRESOURCE_GROUP = "apiresource.kcp.dev"
APIRESOURCE_VERSION = "v1alpha1"
NEGOTIATED_ANNOTATION = crds.NEGOTIATED_ANNOTATION
"""``apiresource.kcp.dev/negotiated: "true"``: the CRD is this controller's to update."""
SPEC_HASH_ANNOTATION = "apiresource.kcp.dev/negotiated-spec"
"""A hash of what the controller last wrote into a CRD's spec (rewritten when it changes)."""
UNAPPROVED = "unapproved, imported from an edge cluster by kcp-edge's API negotiation"
"""The API approval a ``*.k8s.io`` group's CRD needs (``networking.k8s.io`` ingresses)."""
INCOMPATIBLE = "IncompatibleSchema"
ACCEPTED, REFUSED = "Accepted", "Incompatible"
_DEFAULT_SCALE = {"specReplicasPath": ".spec.replicas", "statusReplicasPath": ".status.replicas"}
_SCALE_KEYS = ("specReplicasPath", "statusReplicasPath", "labelSelectorPath")
_COLUMN_KEYS = ("name", "type", "format", "description", "priority", "jsonPath")

Obj = dict[str, Any]
_GVR = tuple[str, str, str]


def _decode(raw: bytes) -> Obj:
    obj: Obj = orjson.loads(raw)
    obj["metadata"].get("annotations", {}).pop(CLUSTER_ANNOTATION, None)
    return obj


def _digest(value: Any) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _strings(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def resource_name(group: str, version: str, plural: str) -> str:
    """A NegotiatedAPIResource's name: ``<plural>.<version>.<group or core>``."""
    return f"{plural}.{version}.{group or 'core'}"


def crd_name(group: str, plural: str) -> str:
    """The CRD that publishes a negotiated resource: ``<plural>.<group or core>``."""
    return f"{plural}.{group or 'core'}"


@dataclass(frozen=True)
class _Import:
    name: str
    location: str
    group: str
    version: str
    plural: str
    spec: Mapping[str, Any]
    status: Mapping[str, Any]
    created: str

    @property
    def gvr(self) -> _GVR:
        return (self.group, self.version, self.plural)

    @property
    def synced_name(self) -> str:
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @classmethod
    def parse(cls, obj: Obj) -> _Import | None:
        meta, spec = obj["metadata"], _mapping(obj.get("spec"))
        group_version = _mapping(spec.get("groupVersion"))
        version, plural = str(group_version.get("version", "")), str(spec.get("plural", ""))
        if meta.get("deletionTimestamp") or not version or not plural:
            return None
        return cls(
            name=meta["name"],
            location=str(spec.get("location", "")),
            group=str(group_version.get("group", "") or ""),
            version=version,
            plural=plural,
            spec=spec,
            status=_mapping(obj.get("status")),
            created=str(meta.get("creationTimestamp", "")),
        )


@dataclass(frozen=True)
class _Verdict:
    compatible: bool
    available: bool
    message: str = ""
    reason: str = ""


@dataclass(frozen=True)
class _Fold:
    """The negotiation of one resource's imports: the common schema, who is in, who is out."""

    schema: Obj | None
    accepted: tuple[_Import, ...]
    refused: dict[str, str]


class APINegotiation:
    """One task: negotiate the imported APIs of every workspace and publish them."""

    def __init__(self, *, catalog: Catalog, objects: ObjectStore) -> None:
        self._catalog = catalog
        self._objects = objects
        self._imports = self._kind(APIRESOURCE_GROUP, APIRESOURCE_VERSION, "apiresourceimports")
        self._negotiated = self._kind(
            APIRESOURCE_GROUP, APIRESOURCE_VERSION, "negotiatedapiresources"
        )
        self._clusters = self._kind("workload.kcp.dev", "v1alpha1", "workloadclusters")
        self._crds = self._kind("apiextensions.k8s.io", "v1", "customresourcedefinitions")
        self._dirty: set[str] = set()
        self._wake = asyncio.Event()
        self._folds: dict[tuple[str, _GVR], tuple[str, _Fold]] = {}

    def _kind(self, group: str, version: str, resource: str) -> ResourceKind:
        kind = self._catalog.lookup("*", group, version, resource)
        if kind is None:
            raise LookupError(f"the catalog does not serve {resource}.{group}")
        return kind

    async def run(self) -> None:
        worker = asyncio.create_task(self._work())
        try:
            while True:
                kinds = (self._imports, self._crds, self._negotiated, self._clusters)
                tasks = [asyncio.create_task(self._follow(kind)) for kind in kinds]
                try:
                    await asyncio.gather(*tasks)
                except (StatusError, StorageError):
                    log.exception("API negotiation: watch failed; starting over")
                finally:
                    for task in tasks:
                        task.cancel()
                await asyncio.sleep(RETRY_SECONDS)
        finally:
            worker.cancel()

    async def _follow(self, kind: ResourceKind) -> None:
        page = self._objects.list(kind, "*", "")
        for raw in page.items:
            obj: Obj = orjson.loads(raw)
            self._mark(obj["metadata"]["annotations"][CLUSTER_ANNOTATION])
        watch = self._objects.watch(kind, "*", "", page.revision)
        try:
            async for event in watch:
                cluster = keys.split_key(event.kv.key)[0]
                if kind is self._clusters and event.type is not EventType.DELETE:
                    obj = codec.decode(event.kv.value, event.revision)
                    if self._cluster_status_current(cluster, obj):
                        continue  # a heartbeat: nothing negotiated depends on it
                self._mark(cluster)
        finally:
            watch.close()

    def _mark(self, cluster: str) -> None:
        self._dirty.add(cluster)
        self._wake.set()

    async def _work(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._dirty:
                cluster = self._dirty.pop()
                try:
                    await self.reconcile(cluster)
                except Exception:  # one workspace's failure must not stop the others
                    log.exception("API negotiation: reconciling %s failed; retrying", cluster)
                    self._dirty.add(cluster)
                    await asyncio.sleep(RETRY_SECONDS)

    # -- one workspace --------------------------------------------------------------------------

    def _list(self, kind: ResourceKind, cluster: str) -> list[Obj]:
        return [_decode(raw) for raw in self._objects.list(kind, cluster, "").items]

    async def reconcile(self, cluster: str) -> None:
        """Bring one workspace's negotiated resources, CRDs and statuses up to date."""
        if self._catalog.cluster_type(cluster) is None:
            for key in [key for key in self._folds if key[0] == cluster]:
                del self._folds[key]
            return
        imports = [imp for obj in self._list(self._imports, cluster) if (imp := _Import.parse(obj))]
        by_gvr: dict[_GVR, list[_Import]] = defaultdict(list)
        for imp in imports:
            by_gvr[imp.gvr].append(imp)
        found_crds = {crd["metadata"]["name"]: crd for crd in self._list(self._crds, cluster)}
        negotiated = {n["metadata"]["name"]: n for n in self._list(self._negotiated, cluster)}
        verdicts: dict[str, _Verdict] = {}
        for gvr in sorted(by_gvr):
            verdicts.update(await self._resource(cluster, gvr, by_gvr[gvr], found_crds, negotiated))
        for name in sorted(set(negotiated) - {resource_name(*gvr) for gvr in by_gvr}):
            await self._ignore_missing(self._objects.delete(self._negotiated, cluster, "", name))
        for key in [key for key in self._folds if key[0] == cluster and key[1] not in by_gvr]:
            del self._folds[key]
        for imp in imports:
            await self._import_status(cluster, imp, verdicts[imp.name])
        await self._cluster_statuses(cluster, imports, verdicts)

    async def _resource(
        self,
        cluster: str,
        gvr: _GVR,
        imports: list[_Import],
        found_crds: Mapping[str, Obj],
        negotiated: Mapping[str, Obj],
    ) -> dict[str, _Verdict]:
        ordered = sorted(imports, key=lambda imp: (imp.created, imp.name))
        enforcer = self._enforcer(cluster, gvr, found_crds)
        name = resource_name(*gvr)
        if enforcer is not None:
            spec = {**_common_spec(ordered[0], ordered), "publish": False}
            conditions = [("Enforced", True, enforcer[0], enforcer[1])]
            await self._write_negotiated(cluster, name, spec, conditions, negotiated.get(name))
            return {imp.name: _Verdict(compatible=True, available=True) for imp in ordered}
        fold = self._fold(cluster, gvr, ordered)
        verdicts = {
            imp: _Verdict(compatible=False, available=False, message=msg, reason=INCOMPATIBLE)
            for imp, msg in fold.refused.items()
        }
        if fold.schema is None or not fold.accepted:
            return verdicts
        spec = {**_common_spec(fold.accepted[0], fold.accepted), "publish": True}
        spec["openAPIV3Schema"] = fold.schema
        published, why = await self._publish(cluster, spec, found_crds)
        conditions = [
            ("Submitted", True, "Submitted", ""),
            ("Published", published, "Published" if published else "Pending", why),
        ]
        await self._write_negotiated(cluster, name, spec, conditions, negotiated.get(name))
        for imp in fold.accepted:
            reason = "" if published else "NotPublished"
            verdicts[imp.name] = _Verdict(
                compatible=True, available=published, reason=reason, message=why
            )
        return verdicts

    def _enforcer(
        self, cluster: str, gvr: _GVR, found_crds: Mapping[str, Obj]
    ) -> tuple[str, str] | None:
        """Why the workspace's own kind wins over the imports (reason, message), or None."""
        group, _, plural = gvr
        for name, crd in sorted(found_crds.items()):
            spec = _mapping(crd.get("spec"))
            if spec.get("group") != group or _mapping(spec.get("names")).get("plural") != plural:
                continue
            if _mapping(crd["metadata"].get("annotations")).get(NEGOTIATED_ANNOTATION) != "true":
                return "CustomResourceDefinition", f"served by CustomResourceDefinition {name}"
        custom = {(k.group, k.resource) for k in self._catalog.custom_kinds(cluster)}
        for kind in self._catalog.kinds(cluster):
            if (kind.group, kind.resource) == (group, plural) and (group, plural) not in custom:
                return "BuiltInAPI", f"{kind.qualified} is built into kcp-edge"
        return None

    def _fold(self, cluster: str, gvr: _GVR, ordered: Sequence[_Import]) -> _Fold:
        key = _digest([[imp.name, imp.spec] for imp in ordered])
        cached = self._folds.get((cluster, gvr))
        if cached is not None and cached[0] == key:
            return cached[1]
        fold = _negotiate(ordered)
        self._folds[(cluster, gvr)] = (key, fold)
        return fold

    async def _publish(
        self, cluster: str, spec: Mapping[str, Any], found_crds: Mapping[str, Obj]
    ) -> tuple[bool, str]:
        """Create or update the CRD; whether it is established, and if not why."""
        desired = _crd(spec)
        name = desired["metadata"]["name"]
        current = found_crds.get(name)
        digest = desired["metadata"]["annotations"][SPEC_HASH_ANNOTATION]
        try:
            if current is None:
                await self._objects.create(self._crds, cluster, "", desired)
                return False, f"CustomResourceDefinition {name} was created"
            annotations = _mapping(current["metadata"].get("annotations"))
            if annotations.get(SPEC_HASH_ANNOTATION) != digest:
                await self._objects.update(
                    self._crds, cluster, "", name, lambda fresh: _updated_crd(fresh, desired)
                )
        except StatusError as exc:
            if exc.code == 409:
                raise
            log.warning("API negotiation in %s: CRD %s refused: %s", cluster, name, exc.message)
            return False, f"CustomResourceDefinition {name} was refused: {exc.message}"
        if crds.is_established(current):
            return True, ""
        return False, f"CustomResourceDefinition {name} is not established yet"

    async def _write_negotiated(
        self,
        cluster: str,
        name: str,
        spec: Obj,
        wanted: Iterable[tuple[str, bool, str, str]],
        current: Obj | None,
    ) -> None:
        if current is None:
            obj: Obj = {
                "apiVersion": f"{APIRESOURCE_GROUP}/{APIRESOURCE_VERSION}",
                "kind": "NegotiatedAPIResource",
                "metadata": {"name": name},
                "spec": spec,
            }
            current = await self._objects.create(self._negotiated, cluster, "", obj)
        elif current.get("spec") != spec:
            current = await self._objects.update(
                self._negotiated, cluster, "", name, lambda fresh: {**fresh, "spec": spec}
            )
        conditions = _conditions(_mapping(current.get("status")).get("conditions"), wanted)
        if _mapping(current.get("status")).get("conditions") != conditions:
            await self._objects.update(
                self._negotiated,
                cluster,
                "",
                name,
                lambda fresh: {**fresh, "status": {"conditions": conditions}},
                subresource="status",
            )

    async def _import_status(self, cluster: str, imp: _Import, verdict: _Verdict) -> None:
        compatible = ("Compatible", True, "", "")
        if not verdict.compatible:
            compatible = ("Compatible", False, verdict.reason, verdict.message)
        wanted = [compatible, ("Available", verdict.available, verdict.reason, verdict.message)]
        conditions = _conditions(imp.status.get("conditions"), wanted)
        if imp.status.get("conditions") == conditions:
            return

        def with_conditions(fresh: Obj) -> Obj:
            status = dict(_mapping(fresh.get("status")))
            status["conditions"] = _conditions(status.get("conditions"), wanted)
            return {**fresh, "status": status}

        await self._ignore_missing(
            self._objects.update(
                self._imports, cluster, "", imp.name, with_conditions, subresource="status"
            )
        )

    # -- workload clusters ------------------------------------------------------------------------

    def _cluster_status_current(self, cluster: str, obj: Obj) -> bool:
        """Whether a WorkloadCluster's status already says what the imports say."""
        imports = [imp for o in self._list(self._imports, cluster) if (imp := _Import.parse(o))]
        mine = [imp for imp in imports if imp.location == obj["metadata"]["name"]]
        verdicts = {imp.name: _verdict_of(imp) for imp in mine}
        return _cluster_status_equal(obj, _cluster_status(mine, verdicts))

    async def _cluster_statuses(
        self, cluster: str, imports: Sequence[_Import], verdicts: Mapping[str, _Verdict]
    ) -> None:
        for obj in self._list(self._clusters, cluster):
            name = obj["metadata"]["name"]
            wanted = _cluster_status([imp for imp in imports if imp.location == name], verdicts)
            if _cluster_status_equal(obj, wanted):
                continue

            def with_status(fresh: Obj, wanted: Obj = wanted) -> Obj:
                return {**fresh, "status": {**_mapping(fresh.get("status")), **wanted}}

            await self._ignore_missing(
                self._objects.update(
                    self._clusters, cluster, "", name, with_status, subresource="status"
                )
            )

    @staticmethod
    async def _ignore_missing(write: Any) -> None:
        try:
            await write
        except StatusError as exc:
            if exc.code != 404:
                raise


# --- negotiation -------------------------------------------------------------------------------


def _negotiate(ordered: Sequence[_Import]) -> _Fold:
    """Fold the imports' schemas, oldest first; an import that does not fit is refused."""
    schema: Obj | None = None
    accepted: list[_Import] = []
    refused: dict[str, str] = {}
    for imp in ordered:
        problems = _spec_problems(accepted[0], imp) if accepted else []
        raw = imp.spec.get("openAPIV3Schema")
        candidate: Obj | None = None
        if not isinstance(raw, Mapping):
            problems.append("spec.openAPIV3Schema is missing")
        elif schema is None:
            candidate = _structural(raw, problems)
        else:
            merged, found = common_schema(schema, raw)
            problems.extend(str(problem) for problem in found)
            candidate = None if found else _structural(merged, problems)
        if problems or candidate is None:
            refused[imp.name] = "; ".join(problems)
            continue
        schema = candidate
        accepted.append(imp)
    return _Fold(schema, tuple(accepted), refused)


def _structural(schema: Mapping[str, Any], problems: list[str]) -> Obj | None:
    causes = check_structural(schema, field_path="spec.openAPIV3Schema")
    if causes:
        problems.extend(f"{c['field']}: {c['message']}" for c in causes[:5])
        return None
    return dict(schema)


def _spec_problems(first: _Import, imp: _Import) -> list[str]:
    problems = []
    for key in ("kind", "scope"):
        if first.spec.get(key) != imp.spec.get(key):
            theirs, ours = imp.spec.get(key), first.spec.get(key)
            problems.append(f"spec.{key} {theirs!r} differs from {ours!r} of {first.name}")
    return problems


def _verdict_of(imp: _Import) -> _Verdict:
    """An import's verdict as its status records it (for change detection)."""
    conditions = {c.get("type"): c for c in imp.status.get("conditions") or []}
    compatible = conditions.get("Compatible", {})
    return _Verdict(
        compatible=compatible.get("status") == "True",
        available=conditions.get("Available", {}).get("status") == "True",
        message=str(compatible.get("message", "")),
    )


def _common_spec(first: _Import, imports: Sequence[_Import]) -> Obj:
    """The NegotiatedAPIResource spec (without schema): names of the oldest import, the
    subresources every import has."""
    spec = first.spec
    out: Obj = {
        "groupVersion": {"group": first.group, "version": first.version},
        "scope": spec.get("scope", crds.NAMESPACED),
        "plural": first.plural,
        "singular": spec.get("singular") or str(spec.get("kind", "")).lower(),
        "kind": spec.get("kind", ""),
        "listKind": spec.get("listKind") or f"{spec.get('kind', '')}List",
    }
    for key in ("shortNames", "categories"):
        values = _strings(spec.get(key))
        if values:
            out[key] = values
    subresources = [
        sub
        for sub in _subresources(first)
        if all(sub["name"] in {s["name"] for s in _subresources(imp)} for imp in imports)
    ]
    if subresources:
        out["subResources"] = subresources
    columns = [dict(c) for c in spec.get("columnDefinitions") or [] if isinstance(c, Mapping)]
    if columns:
        out["columnDefinitions"] = columns
    return out


def _subresources(imp: _Import) -> list[Obj]:
    subs = imp.spec.get("subResources")
    return [dict(s) for s in subs or [] if isinstance(s, Mapping) and s.get("name")]


def _crd(spec: Mapping[str, Any]) -> Obj:
    group = str(spec["groupVersion"]["group"])
    version = str(spec["groupVersion"]["version"])
    names: Obj = {
        key: spec[key]
        for key in ("plural", "singular", "kind", "listKind", "shortNames", "categories")
        if spec.get(key)
    }
    served: Obj = {
        "name": version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": spec["openAPIV3Schema"]},
    }
    subresources: Obj = {}
    for sub in spec.get("subResources") or []:
        if sub["name"] == "status":
            subresources["status"] = {}
        elif sub["name"] == "scale":
            scale = {k: sub[k] for k in _SCALE_KEYS if isinstance(sub.get(k), str)}
            subresources["scale"] = {**_DEFAULT_SCALE, **scale}
    if subresources:
        served["subresources"] = subresources
    columns = [
        {k: c[k] for k in _COLUMN_KEYS if k in c}
        for c in spec.get("columnDefinitions") or []
        if c.get("jsonPath") and c.get("name") and c.get("type")
    ]
    if columns:
        served["additionalPrinterColumns"] = columns
    crd_spec: Obj = {
        "group": group,
        "names": names,
        "scope": spec["scope"],
        "versions": [served],
    }
    annotations = {NEGOTIATED_ANNOTATION: "true", SPEC_HASH_ANNOTATION: _digest(crd_spec)}
    if crds.is_protected_group(group):
        annotations[crds.API_APPROVAL_ANNOTATION] = UNAPPROVED
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": crd_name(group, str(spec["plural"])), "annotations": annotations},
        "spec": crd_spec,
    }


def _updated_crd(fresh: Obj, desired: Obj) -> Obj:
    """The CRD with the negotiated spec (scope and group are immutable: kept)."""
    spec = fresh.setdefault("spec", {})
    spec["names"] = desired["spec"]["names"]
    spec["versions"] = desired["spec"]["versions"]
    fresh["metadata"].setdefault("annotations", {}).update(desired["metadata"]["annotations"])
    return fresh


# --- statuses --------------------------------------------------------------------------------


def _conditions(old: Any, wanted: Iterable[tuple[str, bool, str, str]]) -> list[Obj]:
    """kcp-style conditions; a condition keeps its transition time while its status holds."""
    previous = {c.get("type"): c for c in old or [] if isinstance(c, Mapping)}
    out = []
    for kind, ok, reason, message in wanted:
        status = "True" if ok else "False"
        before = previous.get(kind, {})
        condition: Obj = {"type": kind, "status": status}
        if not ok:
            condition["severity"] = "Error"
        if reason:
            condition["reason"] = reason
        if message:
            condition["message"] = message
        same = before.get("status") == status and before.get("lastTransitionTime")
        condition["lastTransitionTime"] = before["lastTransitionTime"] if same else now_rfc3339()
        out.append(condition)
    return out


def _cluster_status(imports: Sequence[_Import], verdicts: Mapping[str, _Verdict]) -> Obj:
    synced = sorted({imp.synced_name for imp in imports if verdicts[imp.name].compatible})
    entries = []
    for imp in sorted(imports, key=lambda i: (i.group, i.plural, i.version)):
        verdict = verdicts[imp.name]
        entry: Obj = {
            "group": imp.group,
            "resource": imp.plural,
            "version": imp.version,
            "state": ACCEPTED if verdict.compatible else REFUSED,
        }
        if not verdict.compatible and verdict.message:
            entry["message"] = verdict.message
        entries.append(entry)
    return {"syncedResources": synced, "apiResources": entries}


def _cluster_status_equal(obj: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    status = _mapping(obj.get("status"))
    return all(status.get(key, []) == value for key, value in wanted.items())
