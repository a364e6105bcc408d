"""Storage keys of Kubernetes objects: short ids first, names last.

Why this module exists: the key layout decides which reads are one prefix scan, and LMDB keys
are at most 511 bytes. As in kcp, the resource comes before the logical cluster, so a list of
one resource across every workspace (``/clusters/*/...``, used by controllers and the syncer)
is one scan. Resource and cluster are short ids (``ResourceKind.storage_id``, the logical
cluster id), never long names; the longest key is well inside the limit:

    /r/<storage_id hex>/<cluster id>/<namespace or empty>/<name>
    /r/5/root/default/my-config             a namespaced object
    /r/1/root//default                      a cluster-scoped object (the namespace "default")

Names and namespaces cannot contain ``/`` (name validation), so the layout is unambiguous.
"""

from __future__ import annotations

from kcp_edge.registry.kinds import ResourceKind


def resource_prefix(kind: ResourceKind) -> bytes:
    """Every object of ``kind`` in every logical cluster."""
    return b"/r/%x/" % kind.storage_id


def cluster_prefix(kind: ResourceKind, cluster: str) -> bytes:
    """Every object of ``kind`` in one logical cluster (all namespaces)."""
    return b"/r/%x/%s/" % (kind.storage_id, cluster.encode())


def namespace_prefix(kind: ResourceKind, cluster: str, namespace: str) -> bytes:
    return b"/r/%x/%s/%s/" % (kind.storage_id, cluster.encode(), namespace.encode())


def object_key(kind: ResourceKind, cluster: str, namespace: str, name: str) -> bytes:
    return b"/r/%x/%s/%s/%s" % (
        kind.storage_id,
        cluster.encode(),
        namespace.encode(),
        name.encode(),
    )


def split_key(key: bytes) -> tuple[str, str, str]:
    """(cluster, namespace, name) of an object key."""
    _, _, _, cluster, namespace, name = key.split(b"/", 5)
    return cluster.decode(), namespace.decode(), name.decode()
