"""The built-in kinds every logical cluster serves, and the order the apiserver lists them in.

Why this module exists: a kcp workspace of 2022 is a "generic control plane" (the 1.23 fork
without pods, services or deployments; kcp-behaviour.md section 3). Discovery, OpenAPI, routing
and storage keys all start from this one table: names, short names and categories as the real
1.35 apiserver's discovery reports them (``pkg/registry/<group>/<resource>/storage/storage.go``:
``ShortNames()`` and ``Categories()``), verbs, served subresources, the OpenAPI component of the
schema, and a storage id.

Storage ids are part of the on-disk key layout (``keys.py``): one per resource, never reused and
never changed, even when a resource is dropped. Next free id: 18. Custom resources get ids
above 2**40, derived from their name (``crds.storage_id_for``).

    id  resource
     1  namespaces                                (core/v1)
     2  configmaps                                (core/v1)
     3  secrets                                   (core/v1)
     4  serviceaccounts                           (core/v1)
     5  events                                    (core/v1)
     6  limitranges                               (core/v1)
     7  resourcequotas                            (core/v1)
     8  (retired: events.events.k8s.io before it shared id 5)
     9  leases.coordination.k8s.io                (v1)
    10  roles.rbac.authorization.k8s.io           (v1)
    11  rolebindings.rbac.authorization.k8s.io    (v1)
    12  clusterroles.rbac.authorization.k8s.io    (v1)
    13  clusterrolebindings.rbac.authorization.k8s.io (v1)
    14  certificatesigningrequests.certificates.k8s.io (v1)
    15  mutatingwebhookconfigurations.admissionregistration.k8s.io (v1)
    16  validatingwebhookconfigurations.admissionregistration.k8s.io (v1)
    17  customresourcedefinitions.apiextensions.k8s.io (v1)

events.k8s.io/v1 Events share id 5 with core/v1 Events: as upstream keeps them in the same etcd
keys, one stored Event is served through both APIs (``conversion.py`` converts between the two
shapes); a lookup by storage id names the core kind, the storage shape.

Group order: the aggregator sorts APIServices by ``groupPriorityMinimum`` (highest first), then
by APIService name (``<version>.<group>``), and the versions of one group by
``versionPriority``, then kube-aware version order
(``k8s.io/kube-aggregator/pkg/apis/apiregistration/v1/helper/helpers.go``). The built-in
priorities are ``DefaultGenericAPIServicePriorities`` of
``k8s.io/kubernetes/pkg/controlplane/apiserver/aggregator.go`` plus the kube-apiserver's own
groups; CRD groups get 1000 and version priority 100 (``crdregistration_controller.go``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from kcp_edge.registry.kinds import ResourceKind

_NO_DELETECOLLECTION = ("create", "delete", "get", "list", "patch", "update", "watch")
_CORE = "io.k8s.api.core.v1."

BUILTIN_KINDS: tuple[ResourceKind, ...] = (
    ResourceKind(
        group="",
        version="v1",
        resource="namespaces",
        singular="namespace",
        kind="Namespace",
        namespaced=False,
        verbs=_NO_DELETECOLLECTION,
        short_names=("ns",),
        subresources=("finalize", "status"),
        schema=_CORE + "Namespace",
        storage_id=1,
    ),
    ResourceKind(
        group="",
        version="v1",
        resource="configmaps",
        singular="configmap",
        kind="ConfigMap",
        namespaced=True,
        short_names=("cm",),
        schema=_CORE + "ConfigMap",
        storage_id=2,
    ),
    ResourceKind(
        group="",
        version="v1",
        resource="secrets",
        singular="secret",
        kind="Secret",
        namespaced=True,
        schema=_CORE + "Secret",
        storage_id=3,
    ),
    ResourceKind(
        group="",
        version="v1",
        resource="serviceaccounts",
        singular="serviceaccount",
        kind="ServiceAccount",
        namespaced=True,
        short_names=("sa",),
        schema=_CORE + "ServiceAccount",
        subresources=("token",),
        storage_id=4,
    ),
    ResourceKind(
        group="",
        version="v1",
        resource="events",
        singular="event",
        kind="Event",
        namespaced=True,
        short_names=("ev",),
        schema=_CORE + "Event",
        storage_id=5,
    ),
    ResourceKind(
        group="",
        version="v1",
        resource="limitranges",
        singular="limitrange",
        kind="LimitRange",
        namespaced=True,
        short_names=("limits",),
        schema=_CORE + "LimitRange",
        storage_id=6,
    ),
    ResourceKind(
        group="",
        version="v1",
        resource="resourcequotas",
        singular="resourcequota",
        kind="ResourceQuota",
        namespaced=True,
        short_names=("quota",),
        subresources=("status",),
        schema=_CORE + "ResourceQuota",
        storage_id=7,
    ),
    ResourceKind(
        group="events.k8s.io",
        version="v1",
        resource="events",
        singular="event",
        kind="Event",
        namespaced=True,
        short_names=("ev",),
        schema="io.k8s.api.events.v1.Event",
        storage_id=5,  # stored as core/v1 Events (conversion.py)
    ),
    ResourceKind(
        group="coordination.k8s.io",
        version="v1",
        resource="leases",
        singular="lease",
        kind="Lease",
        namespaced=True,
        schema="io.k8s.api.coordination.v1.Lease",
        storage_id=9,
    ),
    ResourceKind(
        group="rbac.authorization.k8s.io",
        version="v1",
        resource="roles",
        singular="role",
        kind="Role",
        namespaced=True,
        schema="io.k8s.api.rbac.v1.Role",
        storage_id=10,
    ),
    ResourceKind(
        group="rbac.authorization.k8s.io",
        version="v1",
        resource="rolebindings",
        singular="rolebinding",
        kind="RoleBinding",
        namespaced=True,
        schema="io.k8s.api.rbac.v1.RoleBinding",
        storage_id=11,
    ),
    ResourceKind(
        group="rbac.authorization.k8s.io",
        version="v1",
        resource="clusterroles",
        singular="clusterrole",
        kind="ClusterRole",
        namespaced=False,
        schema="io.k8s.api.rbac.v1.ClusterRole",
        storage_id=12,
    ),
    ResourceKind(
        group="rbac.authorization.k8s.io",
        version="v1",
        resource="clusterrolebindings",
        singular="clusterrolebinding",
        kind="ClusterRoleBinding",
        namespaced=False,
        schema="io.k8s.api.rbac.v1.ClusterRoleBinding",
        storage_id=13,
    ),
    ResourceKind(
        group="certificates.k8s.io",
        version="v1",
        resource="certificatesigningrequests",
        singular="certificatesigningrequest",
        kind="CertificateSigningRequest",
        namespaced=False,
        short_names=("csr",),
        subresources=("approval", "status"),
        schema="io.k8s.api.certificates.v1.CertificateSigningRequest",
        storage_id=14,
    ),
    ResourceKind(
        group="admissionregistration.k8s.io",
        version="v1",
        resource="mutatingwebhookconfigurations",
        singular="mutatingwebhookconfiguration",
        kind="MutatingWebhookConfiguration",
        namespaced=False,
        categories=("api-extensions",),
        schema="io.k8s.api.admissionregistration.v1.MutatingWebhookConfiguration",
        storage_id=15,
    ),
    ResourceKind(
        group="admissionregistration.k8s.io",
        version="v1",
        resource="validatingwebhookconfigurations",
        singular="validatingwebhookconfiguration",
        kind="ValidatingWebhookConfiguration",
        namespaced=False,
        categories=("api-extensions",),
        schema="io.k8s.api.admissionregistration.v1.ValidatingWebhookConfiguration",
        storage_id=16,
    ),
    ResourceKind(
        group="apiextensions.k8s.io",
        version="v1",
        resource="customresourcedefinitions",
        singular="customresourcedefinition",
        kind="CustomResourceDefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        categories=("api-extensions",),
        subresources=("status",),
        schema="io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.CustomResourceDefinition",
        storage_id=17,
    ),
    # The review APIs: create-only, answered from the request, never stored (storage id 0).
    *(
        ResourceKind(
            group=group,
            version="v1",
            resource=resource,
            singular=kind.lower(),
            kind=kind,
            namespaced=namespaced,
            verbs=("create",),
            schema=f"io.k8s.api.{group.split('.')[0]}.v1.{kind}",
        )
        for group, resource, kind, namespaced in (
            ("authentication.k8s.io", "selfsubjectreviews", "SelfSubjectReview", False),
            ("authentication.k8s.io", "tokenreviews", "TokenReview", False),
            ("authorization.k8s.io", "localsubjectaccessreviews", "LocalSubjectAccessReview", True),
            ("authorization.k8s.io", "selfsubjectaccessreviews", "SelfSubjectAccessReview", False),
            ("authorization.k8s.io", "selfsubjectrulesreviews", "SelfSubjectRulesReview", False),
            ("authorization.k8s.io", "subjectaccessreviews", "SubjectAccessReview", False),
        )
    ),
)

# (group, version) -> (groupPriorityMinimum, versionPriority), as the apiserver registers them.
API_SERVICE_PRIORITIES: Mapping[tuple[str, str], tuple[int, int]] = {
    ("", "v1"): (18000, 1),
    ("apps", "v1"): (17800, 15),
    ("events.k8s.io", "v1"): (17750, 15),
    ("authentication.k8s.io", "v1"): (17700, 15),
    ("authorization.k8s.io", "v1"): (17600, 15),
    ("autoscaling", "v2"): (17500, 30),
    ("autoscaling", "v1"): (17500, 15),
    ("batch", "v1"): (17400, 15),
    ("certificates.k8s.io", "v1"): (17300, 15),
    ("networking.k8s.io", "v1"): (17200, 15),
    ("policy", "v1"): (17100, 15),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("storage.k8s.io", "v1"): (16800, 15),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("scheduling.k8s.io", "v1"): (16600, 15),
    ("coordination.k8s.io", "v1"): (16500, 15),
    ("node.k8s.io", "v1"): (16300, 15),
    ("discovery.k8s.io", "v1"): (16200, 15),
    ("flowcontrol.apiserver.k8s.io", "v1"): (16100, 21),
}
CRD_PRIORITY = (1000, 100)
"""groupPriorityMinimum and versionPriority of the APIServices of CRD group-versions."""

_BY_RESOURCE: dict[tuple[str, str, str], ResourceKind] = {
    (k.group, k.version, k.resource): k for k in BUILTIN_KINDS
}
_BY_KIND: dict[tuple[str, str, str], ResourceKind] = {
    (k.group, k.version, k.kind): k for k in BUILTIN_KINDS
}


def lookup_resource(*, group: str, version: str, resource: str) -> ResourceKind | None:
    """The built-in kind served at ``<group>/<version>/<resource>`` (plural), if any."""
    return _BY_RESOURCE.get((group, version, resource))


def lookup_kind(*, group: str, version: str, kind: str) -> ResourceKind | None:
    """The built-in resource of a kind (``""``, ``"v1"``, ``"ConfigMap"``), if any."""
    return _BY_KIND.get((group, version, kind))


def priority(*, group: str, version: str) -> tuple[int, int]:
    """(groupPriorityMinimum, versionPriority) of a group-version's APIService."""
    return API_SERVICE_PRIORITIES.get((group, version), CRD_PRIORITY)


_KUBE_VERSION = re.compile(r"^v([1-9][0-9]*)(?:(alpha|beta)([1-9][0-9]*))?$")
_STABILITY = {None: 2, "beta": 1, "alpha": 0}


def kube_version_key(version: str) -> tuple[int, int, int, int, str]:
    """Sort key, ascending = preferred first: v2 > v1 > v1beta2 > v1beta1 > v1alpha1 > "foo".

    Mirrors ``version.CompareKubeAwareVersionStrings`` (k8s.io/apimachinery/pkg/version): GA
    before beta before alpha, higher numbers first, and versions that do not look like Kubernetes
    versions last, in alphabetical order.
    """
    match = _KUBE_VERSION.match(version)
    if match is None:
        return (1, 0, 0, 0, version)
    major, stability, minor = match.groups()
    return (0, -_STABILITY[stability], -int(major), -int(minor or 0), "")


def served_group_versions(
    *, kinds: Iterable[ResourceKind] = BUILTIN_KINDS
) -> tuple[tuple[str, str], ...]:
    """Every (group, version) with a served resource, in the order the apiserver lists them.

    The core group ("", "v1") comes first (priority 18000). Groups follow the first appearance
    of any of their versions in APIService order; inside a group, versions by version priority
    and then kube-aware version order (the first is the preferred version).
    """
    group_versions = {(k.group, k.version) for k in kinds}
    services = sorted(
        group_versions,
        key=lambda gv: (-priority(group=gv[0], version=gv[1])[0], f"{gv[1]}.{gv[0]}"),
    )
    groups: dict[str, list[str]] = {}
    for group, version in services:
        groups.setdefault(group, []).append(version)
    ordered: list[tuple[str, str]] = []
    for group, versions in groups.items():
        versions.sort(key=lambda v: (-priority(group=group, version=v)[1], kube_version_key(v)))
        ordered.extend((group, v) for v in versions)
    return tuple(ordered)
