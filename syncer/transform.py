"""What an upstream object looks like downstream, and how drift is recognised.

Why this module exists: the copy down is the syncer's one piece of real policy, and it is pure,
so it is kept apart from the I/O and tested on its own. Down: server-owned metadata is stripped
(uid, resourceVersion, managedFields, ownerReferences, finalizers, deletion fields: cascading
deletion and finalization happen upstream only), the namespace is mapped, labels and annotations
are kept, ``status`` is left to the edge. Two kcp-edge decisions beyond kcp 2022: service-account
token Secrets are never copied (they are kcp-edge credentials, useless and dangerous at the
edge, and the edge's token controller would delete them), nor anything a WorkloadCluster
owns (the syncer's service account, the push-mode kubeconfig Secret), and ServiceAccounts lose
their ``secrets`` list. Pods keep the edge cluster's own service accounts:
kcp-edge creates no per-namespace ``default`` account nor ``kube-root-ca.crt`` to point them at.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

import orjson

from syncer import naming

Obj = dict[str, Any]

_STRIPPED_META = (
    "uid",
    "resourceVersion",
    "managedFields",
    "ownerReferences",
    "finalizers",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "creationTimestamp",
    "generation",
    "selfLink",
    "clusterName",
)
_TOKEN_SECRET = "kubernetes.io/service-account-token"  # noqa: S105 - a Secret type
_SERVER_ANNOTATIONS = ("kcp.io/cluster",)


def syncable(resource: str, obj: Obj) -> bool:
    """Whether this upstream object is copied down at all: not token Secrets, and nothing a
    WorkloadCluster owns (the syncer's own service account, the push-mode Secret holding the
    edge's kubeconfig: the workspace's plumbing, not workload)."""
    if resource == "secrets" and obj.get("type") == _TOKEN_SECRET:
        return False
    owners = (obj.get("metadata") or {}).get("ownerReferences") or []
    return not any(
        isinstance(o, dict)
        and o.get("kind") == "WorkloadCluster"
        and str(o.get("apiVersion", "")).startswith("workload.kcp.dev/")
        for o in owners
    )


def downstream_object(resource: str, upstream: Obj, logical_cluster: str) -> Obj:
    """The object the syncer applies downstream for ``upstream``."""
    obj = copy.deepcopy(upstream)
    obj.pop("status", None)
    meta = obj.setdefault("metadata", {})
    for key in _STRIPPED_META:
        meta.pop(key, None)
    annotations = meta.get("annotations")
    if isinstance(annotations, dict):
        for key in _SERVER_ANNOTATIONS:
            annotations.pop(key, None)
        if not annotations:
            meta.pop("annotations", None)
    namespace = meta.get("namespace", "")
    meta["namespace"] = naming.Locator(logical_cluster, namespace).downstream_namespace()
    meta["name"] = naming.downstream_name(resource, meta.get("name", ""))
    if resource == "serviceaccounts":
        obj.pop("secrets", None)
    return obj


def content_hash(obj: Obj) -> str:
    """A stable digest of an object, to skip writes that would change nothing."""
    return hashlib.sha256(orjson.dumps(obj, option=orjson.OPT_SORT_KEYS)).hexdigest()[:32]


def status_hash(obj: Obj) -> str | None:
    status = obj.get("status")
    if status is None:
        return None
    return content_hash({"status": status})


def contains(actual: Any, desired: Any) -> bool:
    """Whether ``actual`` holds everything ``desired`` says: the edge's apiserver adds defaults
    (and its own metadata), so a downstream object drifted only when a desired value differs."""
    if isinstance(desired, dict):
        if not isinstance(actual, dict):
            return False
        return all(key in actual and contains(actual[key], value) for key, value in desired.items())
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(actual) != len(desired):
            return False
        return all(contains(a, d) for a, d in zip(actual, desired, strict=True))
    return bool(actual == desired)


def drifted(downstream: Obj, desired: Obj) -> bool:
    """Whether someone changed what the syncer owns in the downstream copy."""
    for key, value in desired.items():
        if key in ("metadata", "apiVersion", "kind"):
            continue
        if not contains(downstream.get(key), value):
            return True
    meta, want = downstream.get("metadata") or {}, desired.get("metadata") or {}
    return not all(
        contains(meta.get(field) or {}, want.get(field) or {})
        for field in ("labels", "annotations")
    )


def downstream_namespace(locator: naming.Locator, workload_cluster: str) -> Obj:
    """The namespace the syncer creates at the edge before the first object of ``locator``."""
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {
            "name": locator.downstream_namespace(),
            "annotations": {naming.LOCATOR_ANNOTATION: locator.json()},
            "labels": {naming.CLUSTER_LABEL: workload_cluster},
        },
    }
