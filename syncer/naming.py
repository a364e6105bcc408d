"""Where an upstream object lands downstream, and back: namespace hashing, the locator, names.

Why this module exists: the mapping must be the same in the engine, in tests and in anything
that inspects an edge cluster by hand, and it must stay reversible. It follows kcp 2022
(reference §5.5-§5.6): an upstream namespace ``ns`` of logical cluster ``lc`` becomes
``kcp`` + SHA-224 hex of the compact JSON locator ``{"logical-cluster":lc,"namespace":ns}``
(59 characters, a valid namespace name for any input); the locator itself is kept in the
downstream namespace's ``kcp.dev/namespace-locator`` annotation, which is how status finds its
way back up and how several syncers share one edge cluster without touching each other's
namespaces. Object names are kept, except the three per-namespace defaults kcp renamed.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

CLUSTER_LABEL = "workloads.kcp.dev/cluster"
"""On upstream namespaces and objects: the workload cluster they are scheduled to."""
LOCATOR_ANNOTATION = "kcp.dev/namespace-locator"
SYNCER_FIELD_MANAGER = "syncer"

_DOWN_NAMES = {
    ("configmaps", "kube-root-ca.crt"): "kcp-root-ca.crt",
    ("serviceaccounts", "default"): "kcp-default",
}
_UP_NAMES = {(resource, down): up for (resource, up), down in _DOWN_NAMES.items()}


@dataclass(frozen=True)
class Locator:
    """Which upstream namespace of which logical cluster a downstream namespace holds."""

    logical_cluster: str
    namespace: str

    def json(self) -> str:
        """The compact JSON kcp hashes and stores, keys in kcp's order."""
        return orjson.dumps(
            {"logical-cluster": self.logical_cluster, "namespace": self.namespace}
        ).decode()

    def downstream_namespace(self) -> str:
        return "kcp" + hashlib.sha224(self.json().encode()).hexdigest()


def parse_locator(annotations: dict[str, Any] | None) -> Locator | None:
    """The locator of a downstream namespace, or None when it is not one of ours."""
    raw = (annotations or {}).get(LOCATOR_ANNOTATION)
    if not isinstance(raw, str):
        return None
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    if not isinstance(data, dict):
        return None
    cluster, namespace = data.get("logical-cluster"), data.get("namespace")
    if not isinstance(cluster, str) or not isinstance(namespace, str):
        return None
    return Locator(cluster, namespace)


def downstream_name(resource: str, name: str) -> str:
    """kcp's renames of per-namespace defaults the edge cluster makes itself."""
    if resource == "secrets" and "default-token-" in name:
        return "kcp-default-token"
    return _DOWN_NAMES.get((resource, name), name)


def upstream_name(resource: str, name: str) -> str:
    return _UP_NAMES.get((resource, name), name)


def finalizer_name(workload_cluster: str) -> str:
    """The finalizer a syncer puts on the upstream objects it has copied down."""
    return f"workload.kcp.dev/syncer-{workload_cluster}"
