"""Per-kind rules the generic store applies: status split, generation, defaults on create.

Why this module exists: the generic store (``store.py``) is the same for every kind, as
``k8s.io/apiserver/pkg/registry/generic/registry/store.go`` is; what differs per kind lives in a
small strategy, as ``pkg/registry/<group>/<kind>/strategy.go`` does upstream: whether the kind
has a status subresource (then a main-resource update keeps the old status and ``/status``
changes only the status), whether it tracks ``metadata.generation`` (kinds with a ``spec``), and
what a new object gets (a namespace starts ``Active`` with the ``kubernetes`` finalizer).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from kcp_edge.apimachinery import structural
from kcp_edge.registry import crds
from kcp_edge.registry.kinds import ResourceKind

Obj = dict[str, Any]


def _no_defaults(_obj: Obj) -> None:
    return None


def _namespace_defaults(obj: Obj) -> None:
    obj["spec"] = {"finalizers": ["kubernetes"]}
    obj["status"] = {"phase": "Active"}
    labels = obj["metadata"].setdefault("labels", {})
    labels["kubernetes.io/metadata.name"] = obj["metadata"]["name"]


def _secret_defaults(obj: Obj) -> None:
    obj.setdefault("type", "Opaque")


def _secret_string_data(obj: Obj) -> None:
    """``stringData`` is write-only: merged into ``data`` (base64) on every write, never stored."""
    string_data = obj.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = obj.get("data")
        if not isinstance(data, dict):
            data = obj["data"] = {}
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def _validate_crd(obj: Obj, old: Obj | None) -> list[dict[str, str]]:
    return crds.validate_crd(obj, old=old, check_schema=_check_schema)


def _check_schema(schema: Mapping[str, Any], path: str) -> list[dict[str, str]]:
    return structural.check_structural(schema, field_path=path)


@dataclass(frozen=True, kw_only=True)
class Strategy:
    has_status: bool = False
    """A ``status`` subresource: the main resource cannot change status, and vice versa."""
    tracks_generation: bool = False
    """``metadata.generation`` starts at 1 and grows with every change outside metadata/status."""
    on_create: Callable[[Obj], None] = _no_defaults
    """Defaults for a new object (after metadata is stamped)."""
    defaults: Callable[[Obj], None] = _no_defaults
    """Defaults for every object written, new or updated (before validation)."""
    return_deleted_object: bool = False
    """Answer a delete with the object (namespaces) rather than a success Status."""
    spec_finalizers: bool = False
    """``spec.finalizers`` hold the deletion too (namespaces: ``kubernetes``, via /finalize)."""
    allow_unconditional_update: bool = True
    """False: an update must carry the resourceVersion it read (leases: leader election)."""
    validate: Callable[[Obj, Obj | None], list[dict[str, str]]] | None = None
    """The kind's own validation of a new object (old: None on create), as 422 causes."""
    delete_finalizers: tuple[str, ...] = ()
    """Finalizers every delete adds (CRDs: ``customresourcecleanup.apiextensions.k8s.io``)."""

    def finalized(self, obj: Obj) -> bool:
        """Whether nothing holds the object's deletion any more."""
        if obj.get("metadata", {}).get("finalizers"):
            return False
        return not (self.spec_finalizers and obj.get("spec", {}).get("finalizers"))


_STRATEGIES: dict[tuple[str, str], Strategy] = {
    ("", "namespaces"): Strategy(
        has_status=True,
        on_create=_namespace_defaults,
        return_deleted_object=True,
        spec_finalizers=True,
    ),
    ("", "secrets"): Strategy(on_create=_secret_defaults, defaults=_secret_string_data),
    ("", "resourcequotas"): Strategy(has_status=True),
    ("coordination.k8s.io", "leases"): Strategy(allow_unconditional_update=False),
    ("certificates.k8s.io", "certificatesigningrequests"): Strategy(has_status=True),
    ("apiextensions.k8s.io", "customresourcedefinitions"): Strategy(
        has_status=True,
        tracks_generation=True,
        on_create=crds.prepare_for_create,
        defaults=crds.default_crd,
        validate=_validate_crd,
        delete_finalizers=(crds.CLEANUP_FINALIZER,),
    ),
}


def strategy_for(kind: ResourceKind) -> Strategy:
    custom = getattr(kind.definition, "strategy", None)
    if isinstance(custom, Strategy):
        return custom
    found = _STRATEGIES.get((kind.group, kind.resource))
    if found is not None:
        return found
    return Strategy(has_status="status" in kind.subresources)


def spec_of(obj: Obj) -> Obj:
    """Everything the generation counts: the object without metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}
