"""RBAC as a library: rule matching, bindings, aggregation, escalation, messages, kcp access.

Expected behaviour and words are upstream's (``plugin/pkg/auth/authorizer/rbac``,
``pkg/registry/rbac/validation``, ``pkg/apis/rbac/v1`` helpers, ``bootstrappolicy``, the
apiserver's forbidden writer) and kcp's for workspace access.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from kcp_edge.auth import rbac
from kcp_edge.auth.rbac import Attributes, Authorizer
from kcp_edge.auth.rbacdefaults import (
    default_cluster_role_bindings,
    default_cluster_roles,
    default_objects,
)
from kcp_edge.auth.serviceaccounts import service_account_user

RBAC = "rbac.authorization.k8s.io"
AUTHED = ("system:authenticated",)
ANON = ("system:unauthenticated",)


def rule(verbs: Any, groups: Any = None, resources: Any = None, **more: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"verbs": list(verbs)}
    if groups is not None:
        out["apiGroups"] = list(groups)
    if resources is not None:
        out["resources"] = list(resources)
    if "names" in more:
        out["resourceNames"] = list(more["names"])
    if "urls" in more:
        out["nonResourceURLs"] = list(more["urls"])
    return out


def cluster_role(
    name: str, *rules: dict[str, Any], labels: dict[str, str] | None = None, agg: Any = None
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRole",
        "metadata": {"name": name, "labels": labels or {}},
        "rules": list(rules),
    }
    if agg is not None:
        obj["aggregationRule"] = {"clusterRoleSelectors": agg}
    return obj


def role(name: str, namespace: str, *rules: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "Role",
        "metadata": {"name": name, "namespace": namespace},
        "rules": list(rules),
    }


def subject(kind: str, name: str, namespace: str | None = None) -> dict[str, Any]:
    out = {"kind": kind, "name": name}
    if kind != "ServiceAccount":
        out["apiGroup"] = RBAC
    if namespace is not None:
        out["namespace"] = namespace
    return out


def crb(name: str, role_name: str, *subjects: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name},
        "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role_name},
        "subjects": list(subjects),
    }


def rb(
    name: str, namespace: str, kind: str, role_name: str, *subjects: dict[str, Any]
) -> dict[str, Any]:
    return {
        "apiVersion": f"{RBAC}/v1",
        "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": namespace},
        "roleRef": {"apiGroup": RBAC, "kind": kind, "name": role_name},
        "subjects": list(subjects),
    }


def res(
    verb: str,
    resource: str,
    *,
    group: str = "",
    sub: str = "",
    name: str = "",
    ns: str = "",
    user: str = "alice",
    groups: tuple[str, ...] = AUTHED,
) -> Attributes:
    return Attributes(user, groups, verb, group, resource, sub, name, ns)


def path(p: str, verb: str = "get", user: str = "alice", groups: Any = AUTHED) -> Attributes:
    return Attributes.for_path(user, groups, p, verb)


def only_rule(r: dict[str, Any]) -> Authorizer:
    return Authorizer(
        cluster_roles=[cluster_role("r", r)],
        cluster_role_bindings=[crb("b", "r", subject("User", "alice"))],
    )


# --- rule matching ----------------------------------------------------------------------------

RULE_CASES = [
    # (rule, request, allowed)
    (rule(["get"], [""], ["configmaps"]), res("get", "configmaps", ns="d"), True),
    (rule(["get"], [""], ["configmaps"]), res("list", "configmaps", ns="d"), False),
    (rule(["*"], [""], ["configmaps"]), res("deletecollection", "configmaps"), True),
    (rule(["get"], ["apps"], ["configmaps"]), res("get", "configmaps"), False),
    (rule(["get"], ["*"], ["leases"]), res("get", "leases", group="coordination.k8s.io"), True),
    (rule(["get"], [""], ["*"]), res("get", "secrets"), True),
    # "*" resources also cover subresources
    (rule(["get"], [""], ["*"]), res("get", "pods", sub="log"), True),
    # a bare resource does not cover its subresources, nor the other way round
    (rule(["get"], [""], ["pods"]), res("get", "pods", sub="log"), False),
    (rule(["get"], [""], ["pods/log"]), res("get", "pods"), False),
    (rule(["get"], [""], ["pods/log"]), res("get", "pods", sub="log"), True),
    (rule(["get"], [""], ["*/status"]), res("get", "resourcequotas", sub="status"), True),
    (rule(["get"], [""], ["*/status"]), res("get", "resourcequotas"), False),
    (rule(["get"], [""], ["*/status"]), res("get", "pods", sub="log"), False),
    # "pods/*" is not "every subresource": only a subresource literally named "*"
    (rule(["get"], [""], ["pods/*"]), res("get", "pods", sub="log"), False),
    (rule(["get"], [""], ["*/*"]), res("get", "pods", sub="log"), False),
    # resourceNames
    (rule(["get"], [""], ["secrets"], names=["a"]), res("get", "secrets", name="a"), True),
    (rule(["get"], [""], ["secrets"], names=["a"]), res("get", "secrets", name="b"), False),
    (rule(["list"], [""], ["secrets"], names=["a"]), res("list", "secrets"), False),
    (rule(["create"], [""], ["secrets"], names=["a"]), res("create", "secrets"), False),
    # resource rules never match non-resource requests and vice versa
    (rule(["get"], ["*"], ["*"]), path("/healthz"), False),
    (rule(["get"], urls=["*"]), res("get", "configmaps"), False),
    # non-resource URLs
    (rule(["get"], urls=["/healthz"]), path("/healthz"), True),
    (rule(["get"], urls=["/healthz"]), path("/healthz/etcd"), False),
    (rule(["get"], urls=["/healthz"]), path("/healthz", "post"), False),
    (rule(["get"], urls=["/apis/*"]), path("/apis/apps/v1"), True),
    (rule(["get"], urls=["/apis/*"]), path("/apis/"), True),
    (rule(["get"], urls=["/apis/*"]), path("/apis"), False),
    (rule(["get"], urls=["/apis*"]), path("/apisx"), True),
    (rule(["get"], urls=["*"]), path("/anything"), True),
    (rule(["*"], urls=["/metrics"]), path("/metrics", "put"), True),
]


@pytest.mark.parametrize(("policy", "attrs", "expected"), RULE_CASES)
def test_rule_matching(policy: dict[str, Any], attrs: Attributes, expected: bool) -> None:
    allowed, reason = only_rule(policy).allowed(attrs)
    assert allowed is expected
    assert reason == (
        'RBAC: allowed by ClusterRoleBinding "b" of ClusterRole "r" to User "alice"'
        if expected
        else ""
    )


# --- bindings and subjects --------------------------------------------------------------------

READ_CM = rule(["get", "list"], [""], ["configmaps"])
_SA = service_account_user("team", "robot")
SA_USER, SA_GROUPS = _SA.name, _SA.groups


def world() -> Authorizer:
    return Authorizer(
        roles=[
            role("reader", "team", READ_CM),
            role("reader", "other", rule(["*"], ["*"], ["*"])),
        ],
        cluster_roles=[
            cluster_role("cm-reader", READ_CM),
            cluster_role("secret-get", rule(["get"], [""], ["secrets"])),
        ],
        role_bindings=[
            rb("bob-reads", "team", "Role", "reader", subject("User", "bob")),
            rb("carol-cr", "team", "ClusterRole", "secret-get", subject("User", "carol")),
            # a ServiceAccount subject without namespace means the binding's namespace
            rb("robot", "team", "ClusterRole", "cm-reader", subject("ServiceAccount", "robot")),
            rb(
                "all-sas",
                "team",
                "ClusterRole",
                "secret-get",
                subject("Group", "system:serviceaccounts:team"),
            ),
            rb(
                "elsewhere",
                "other",
                "ClusterRole",
                "cm-reader",
                subject("ServiceAccount", "robot", "team"),
            ),
        ],
        cluster_role_bindings=[
            crb("dave-global", "cm-reader", subject("Group", "readers")),
            crb(
                "sa-global",
                "secret-get",
                subject("ServiceAccount", "robot", "team"),
            ),
            # a ServiceAccount subject without namespace in a ClusterRoleBinding matches nobody
            crb("nobody", "cm-reader", subject("ServiceAccount", "robot")),
        ],
    )


BINDING_CASES = [
    # (attrs, allowed, reason)
    (
        res("get", "configmaps", ns="team", user="bob"),
        True,
        'RBAC: allowed by RoleBinding "bob-reads/team" of Role "reader" to User "bob"',
    ),
    (res("get", "configmaps", ns="other", user="bob"), False, ""),
    (res("get", "configmaps", user="bob"), False, ""),  # cluster scope: RoleBindings ignored
    (res("watch", "configmaps", ns="team", user="bob"), False, ""),
    (
        res("get", "secrets", ns="team", user="carol"),
        True,
        'RBAC: allowed by RoleBinding "carol-cr/team" of ClusterRole "secret-get" to User "carol"',
    ),
    (res("get", "secrets", ns="default", user="carol"), False, ""),
    (res("get", "secrets", user="carol"), False, ""),
    (
        res("list", "configmaps", ns="anywhere", user="dave", groups=("readers", *AUTHED)),
        True,
        'RBAC: allowed by ClusterRoleBinding "dave-global" of ClusterRole "cm-reader" '
        'to Group "readers"',
    ),
    (
        res("list", "configmaps", user="dave", groups=("readers",)),
        True,
        'RBAC: allowed by ClusterRoleBinding "dave-global" of ClusterRole "cm-reader" '
        'to Group "readers"',
    ),
    (
        res("get", "configmaps", ns="team", user=SA_USER, groups=SA_GROUPS),
        True,
        'RBAC: allowed by RoleBinding "robot/team" of ClusterRole "cm-reader" '
        'to ServiceAccount "robot/team"',
    ),
    (
        res("get", "configmaps", ns="other", user=SA_USER, groups=SA_GROUPS),
        True,
        'RBAC: allowed by RoleBinding "elsewhere/other" of ClusterRole "cm-reader" '
        'to ServiceAccount "robot/team"',
    ),
    (
        res("get", "secrets", ns="x", user=SA_USER, groups=SA_GROUPS),
        True,
        'RBAC: allowed by ClusterRoleBinding "sa-global" of ClusterRole "secret-get" '
        'to ServiceAccount "robot/team"',
    ),
    # same name, other namespace: another service account
    (
        res(
            "get",
            "configmaps",
            ns="team",
            user="system:serviceaccount:other:robot",
            groups=service_account_user("other", "robot").groups,
        ),
        False,
        "",
    ),
    # the group of all service accounts in "team"
    (
        res(
            "get",
            "secrets",
            ns="team",
            user="system:serviceaccount:team:builder",
            groups=service_account_user("team", "builder").groups,
        ),
        True,
        'RBAC: allowed by RoleBinding "all-sas/team" of ClusterRole "secret-get" '
        'to Group "system:serviceaccounts:team"',
    ),
    # a user named like a service account is that service account to RBAC (authn prevents it)
    (res("get", "configmaps", ns="team", user="nobody", groups=()), False, ""),
    # system:masters may do anything, without RBAC
    (res("escalate", "anything", group="x", user="root", groups=("system:masters",)), True, ""),
    (path("/clusters/*", "delete", user="root", groups=("system:masters",)), True, ""),
]


@pytest.mark.parametrize(("attrs", "expected", "reason"), BINDING_CASES)
def test_bindings(attrs: Attributes, expected: bool, reason: str) -> None:
    assert world().allowed(attrs) == (expected, reason)


def test_first_matching_subject_of_a_binding_is_reported() -> None:
    authz = Authorizer(
        cluster_roles=[cluster_role("r", READ_CM)],
        cluster_role_bindings=[
            crb("b", "r", subject("Group", "system:authenticated"), subject("User", "alice"))
        ],
    )
    assert authz.allowed(res("get", "configmaps")) == (
        True,
        'RBAC: allowed by ClusterRoleBinding "b" of ClusterRole "r" '
        'to Group "system:authenticated"',
    )


def test_missing_roles_are_reported_on_denial_only() -> None:
    authz = Authorizer(
        cluster_roles=[cluster_role("r", READ_CM)],
        role_bindings=[
            rb("gone", "ns", "Role", "nope", subject("User", "alice")),
            rb("odd", "ns", "Thing", "x", subject("User", "alice")),
        ],
        cluster_role_bindings=[
            crb("missing", "absent", subject("User", "alice")),
            crb("missing-2", "absent", subject("Group", "system:authenticated")),
            crb("ok", "r", subject("User", "alice")),
        ],
    )
    assert authz.allowed(res("get", "configmaps", ns="ns"))[0] is True
    assert authz.allowed(res("get", "secrets", ns="ns")) == (
        False,
        'RBAC: [clusterrole.rbac.authorization.k8s.io "absent" not found, '
        'role.rbac.authorization.k8s.io "nope" not found, '
        'unsupported role reference kind: "Thing"]',
    )
    assert authz.allowed(res("get", "secrets")) == (
        False,
        'RBAC: clusterrole.rbac.authorization.k8s.io "absent" not found',
    )


def test_a_role_binding_never_reaches_a_role_of_another_namespace() -> None:
    authz = Authorizer(
        roles=[role("r", "a", READ_CM)],
        role_bindings=[rb("b", "b", "Role", "r", subject("User", "alice"))],
    )
    assert authz.allowed(res("get", "configmaps", ns="b")) == (
        False,
        'RBAC: role.rbac.authorization.k8s.io "r" not found',
    )
    assert authz.allowed(res("get", "configmaps", ns="a")) == (False, "")


def test_from_objects_sorts_by_kind() -> None:
    authz = Authorizer.from_objects(
        [
            cluster_role("r", READ_CM),
            crb("b", "r", subject("User", "alice")),
            {"kind": "ConfigMap", "metadata": {"name": "ignored"}},
        ]
    )
    assert authz.allowed(res("get", "configmaps"))[0] is True


# --- defaults ---------------------------------------------------------------------------------


def defaults_plus(*objects: dict[str, Any]) -> Authorizer:
    return Authorizer.from_objects([*default_objects(), *objects])


DEFAULT_CASES = [
    # anonymous: only the public info
    (path("/healthz", user="system:anonymous", groups=ANON), True),
    (path("/version", user="system:anonymous", groups=ANON), True),
    (path("/livez", user="system:anonymous", groups=ANON), True),
    (path("/api", user="system:anonymous", groups=ANON), False),
    (path("/openapi/v2", user="system:anonymous", groups=ANON), False),
    (
        res(
            "create",
            "selfsubjectaccessreviews",
            group="authorization.k8s.io",
            user="system:anonymous",
            groups=ANON,
        ),
        False,
    ),
    # any authenticated user: discovery, OpenAPI, self reviews
    (path("/api"), True),
    (path("/api/v1"), True),
    (path("/apis/apps/v1"), True),
    (path("/openapi/v3/apis/apps/v1"), True),
    (path("/version/"), True),
    (path("/metrics"), False),
    (path("/api", "post"), False),
    (res("create", "selfsubjectaccessreviews", group="authorization.k8s.io"), True),
    (res("create", "selfsubjectrulesreviews", group="authorization.k8s.io"), True),
    (res("create", "selfsubjectreviews", group="authentication.k8s.io"), True),
    (res("create", "subjectaccessreviews", group="authorization.k8s.io"), False),
    (res("list", "configmaps", ns="default"), False),
    (res("get", "namespaces", name="default"), False),
]


@pytest.mark.parametrize(("attrs", "expected"), DEFAULT_CASES)
def test_default_bindings(attrs: Attributes, expected: bool) -> None:
    assert defaults_plus().allowed(attrs)[0] is expected


def bound(role_name: str, namespace: str = "") -> Authorizer:
    if namespace:
        return defaults_plus(rb("x", namespace, "ClusterRole", role_name, subject("User", "alice")))
    return defaults_plus(crb("x", role_name, subject("User", "alice")))


ROLE_CASES = [
    # (verb, resource[/sub], group, allowed in "team" by (view, edit, admin, cluster-admin))
    ("get", "configmaps", "", (True, True, True, True)),
    ("list", "secrets", "", (False, True, True, True)),
    ("create", "secrets", "", (False, True, True, True)),
    ("create", "configmaps", "", (False, True, True, True)),
    ("delete", "events", "", (False, True, True, True)),
    ("list", "events", "events.k8s.io", (False, False, False, True)),
    ("watch", "leases", "coordination.k8s.io", (False, True, True, True)),
    ("create", "leases", "coordination.k8s.io", (False, True, True, True)),
    ("create", "serviceaccounts", "", (False, True, True, True)),
    ("create", "serviceaccounts/token", "", (False, True, True, True)),
    ("impersonate", "serviceaccounts", "", (False, True, True, True)),
    ("get", "limitranges", "", (True, True, True, True)),
    ("create", "limitranges", "", (False, False, False, True)),
    ("list", "resourcequotas", "", (True, True, True, True)),
    ("update", "resourcequotas", "", (False, False, False, True)),
    ("get", "resourcequotas/status", "", (True, True, True, True)),
    ("list", "roles", RBAC, (False, False, True, True)),
    ("create", "rolebindings", RBAC, (False, False, True, True)),
    ("bind", "clusterroles", RBAC, (False, False, False, True)),
    ("escalate", "roles", RBAC, (False, False, False, True)),
    ("create", "localsubjectaccessreviews", "authorization.k8s.io", (False, False, True, True)),
    ("get", "namespaces", "", (True, True, True, True)),
    ("delete", "namespaces", "", (False, False, False, True)),
    ("create", "deployments", "apps", (False, True, True, True)),
    ("get", "deployments/scale", "apps", (True, True, True, True)),
    ("list", "customresourcedefinitions", "apiextensions.k8s.io", (False, False, False, True)),
    ("list", "workspaces", "tenancy.kcp.dev", (False, False, False, True)),
]


@pytest.mark.parametrize(("verb", "resource", "group", "grants"), ROLE_CASES)
def test_default_roles_in_a_namespace(
    verb: str, resource: str, group: str, grants: tuple[bool, bool, bool, bool]
) -> None:
    resource, _, sub = resource.partition("/")
    attrs = res(verb, resource, group=group, sub=sub, ns="team")
    for name, expected in zip(("view", "edit", "admin", "cluster-admin"), grants, strict=True):
        assert bound(name, "team").allowed(attrs)[0] is expected, name
        # the same role bound in another namespace grants nothing here
        assert bound(name, "elsewhere").allowed(attrs)[0] is False, name


def test_cluster_admin_binding_allows_non_resource_urls_and_cluster_scope() -> None:
    authz = bound("cluster-admin")
    assert authz.allowed(path("/metrics", "get"))[0] is True
    assert authz.allowed(res("delete", "clusterroles", group=RBAC, name="x"))[0] is True
    # a RoleBinding to cluster-admin is namespace-admin only
    authz = bound("cluster-admin", "team")
    assert authz.allowed(res("delete", "clusterroles", group=RBAC, name="x"))[0] is False
    assert authz.allowed(res("delete", "namespaces", name="team"))[0] is False


def test_default_objects_shape() -> None:
    roles = {r["metadata"]["name"]: r for r in default_cluster_roles()}
    assert set(roles) == {
        "cluster-admin",
        "admin",
        "edit",
        "view",
        "system:aggregate-to-admin",
        "system:aggregate-to-edit",
        "system:aggregate-to-view",
        "system:basic-user",
        "system:discovery",
        "system:public-info-viewer",
    }
    for obj in roles.values():
        assert obj["apiVersion"] == "rbac.authorization.k8s.io/v1"
        assert obj["metadata"]["labels"]["kubernetes.io/bootstrapping"] == "rbac-defaults"
        assert obj["metadata"]["annotations"] == {
            "rbac.authorization.kubernetes.io/autoupdate": "true"
        }
    assert roles["edit"]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-admin"]
    assert roles["view"]["metadata"]["labels"]["rbac.authorization.k8s.io/aggregate-to-edit"]
    assert roles["admin"]["aggregationRule"] == {
        "clusterRoleSelectors": [
            {"matchLabels": {"rbac.authorization.k8s.io/aggregate-to-admin": "true"}}
        ]
    }
    # aggregated rules are stored filled: edit = aggregate-to-edit then view (by name order)
    assert roles["view"]["rules"] == roles["system:aggregate-to-view"]["rules"]
    assert (
        roles["edit"]["rules"]
        == roles["system:aggregate-to-edit"]["rules"] + roles["view"]["rules"]
    )
    assert (
        roles["admin"]["rules"]
        == roles["edit"]["rules"] + roles["system:aggregate-to-admin"]["rules"]
    )
    bindings = {b["metadata"]["name"]: b for b in default_cluster_role_bindings()}
    assert {n: [s["name"] for s in b["subjects"]] for n, b in bindings.items()} == {
        "cluster-admin": ["system:masters"],
        "system:basic-user": ["system:authenticated"],
        "system:discovery": ["system:authenticated"],
        "system:public-info-viewer": ["system:authenticated", "system:unauthenticated"],
    }
    # copies: changing one does not change the next
    default_cluster_roles()[0]["rules"].clear()
    assert default_cluster_roles()[0]["rules"]


# --- aggregation ------------------------------------------------------------------------------


def test_aggregate_match_labels_expressions_order_and_dedup() -> None:
    a = rule(["get"], [""], ["a"])
    b = rule(["get"], [""], ["b"])
    c = rule(["get"], [""], ["c"])
    roles = [
        cluster_role(
            "agg",
            rule(["stale"], [""], ["x"]),
            labels={"x": "1"},
            agg=[
                {"matchLabels": {"x": "1"}},
                {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["gold"]}]},
            ],
        ),
        cluster_role("zeta", a, labels={"x": "1"}),
        cluster_role(
            "alpha", b, {"verbs": ["get"], "apiGroups": [""], "resources": ["a"]}, labels={"x": "1"}
        ),
        cluster_role("gold", c, a, labels={"tier": "gold"}),
        cluster_role("silver", rule(["*"], ["*"], ["*"]), labels={"tier": "silver"}),
    ]
    # first selector: alpha then zeta (by name, never itself); second: gold; each rule once
    assert rbac.aggregate(roles) == {"agg": [b, a, c]}


def test_aggregate_chains_to_a_fixed_point_and_skips_bad_selectors() -> None:
    roles = [
        cluster_role("top", agg=[{"matchLabels": {"to": "top"}}]),
        cluster_role("middle", labels={"to": "top"}, agg=[{"matchLabels": {"to": "middle"}}]),
        cluster_role("leaf", rule(["get"], [""], ["pods"]), labels={"to": "middle"}),
        cluster_role(
            "broken",
            rule(["keep"], [""], ["x"]),
            agg=[{"matchExpressions": [{"key": "a", "operator": "Sideways"}]}],
        ),
        cluster_role("nothing", agg=[]),
        cluster_role("loop-a", labels={"loop": "b"}, agg=[{"matchLabels": {"loop": "a"}}]),
        cluster_role("loop-b", labels={"loop": "a"}, agg=[{"matchLabels": {"loop": "b"}}]),
    ]
    got = rbac.aggregate(roles)
    pods = [rule(["get"], [""], ["pods"])]
    assert got == {"top": pods, "middle": pods, "nothing": [], "loop-a": [], "loop-b": []}
    # the authorizer evaluates the aggregated rules even when the stored ones are stale
    authz = Authorizer(
        cluster_roles=roles, cluster_role_bindings=[crb("b", "top", subject("User", "alice"))]
    )
    assert authz.allowed(res("get", "pods", ns="x"))[0] is True
    # a role whose aggregation cannot be computed keeps its stored rules
    authz = Authorizer(
        cluster_roles=roles, cluster_role_bindings=[crb("b", "broken", subject("User", "alice"))]
    )
    assert authz.allowed(res("keep", "x"))[0] is True


# --- rules review -----------------------------------------------------------------------------


def test_rules_for() -> None:
    authz = Authorizer.from_objects(
        [
            *default_objects(),
            cluster_role("mixed", rule(["get"], [""], ["secrets"], names=["s"], urls=["/x"])),
            crb("m", "mixed", subject("User", "alice")),
            rb("e", "team", "ClusterRole", "edit", subject("User", "alice")),
            rb("gone", "team", "Role", "absent", subject("User", "alice")),
        ]
    )
    review = authz.rules_for("alice", AUTHED, "team")
    assert review.incomplete is False
    assert review.evaluation_error == 'role.rbac.authorization.k8s.io "absent" not found'
    assert review.resource_rules[:3] == [
        {
            "verbs": ["create"],
            "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
        },
        {
            "verbs": ["create"],
            "apiGroups": ["authentication.k8s.io"],
            "resources": ["selfsubjectreviews"],
        },
        {"verbs": ["get"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s"]},
    ]
    assert len(review.resource_rules) == 3 + len(
        next(r for r in default_cluster_roles() if r["metadata"]["name"] == "edit")["rules"]
    )
    assert review.non_resource_rules[-1] == {"verbs": ["get"], "nonResourceURLs": ["/x"]}
    assert {
        "verbs": ["get"],
        "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"],
    } in review.non_resource_rules
    # at cluster scope the RoleBindings do not count
    cluster = authz.rules_for("alice", AUTHED, "")
    assert len(cluster.resource_rules) == 3
    assert cluster.evaluation_error == ""
    assert authz.rules_for("nobody", (), "team") == rbac.RulesReview([], [], False, "")


# --- escalation -------------------------------------------------------------------------------

COVER_CASES = [
    # (owner rules, requested rules, missing)
    ([rule(["*"], ["*"], ["*"])], [rule(["get", "list"], ["", "apps"], ["a", "b/c"])], []),
    ([rule(["get"], [""], ["secrets"])], [rule(["get"], [""], ["secrets"])], []),
    (
        [rule(["get"], [""], ["secrets"])],
        [rule(["get", "list"], [""], ["secrets"])],
        [rule(["list"], [""], ["secrets"])],
    ),
    # "*" asked for must be held as "*"
    (
        [rule(["get", "list"], [""], ["secrets"])],
        [rule(["*"], [""], ["secrets"])],
        [rule(["*"], [""], ["secrets"])],
    ),
    ([rule(["get"], [""], ["*/status"])], [rule(["get"], [""], ["pods/status"])], []),
    (
        [rule(["get"], [""], ["pods"])],
        [rule(["get"], [""], ["pods/status"])],
        [rule(["get"], [""], ["pods/status"])],
    ),
    # names: an unrestricted owner covers any name; a named owner never covers the unnamed
    ([rule(["get"], [""], ["secrets"])], [rule(["get"], [""], ["secrets"], names=["a", "b"])], []),
    (
        [rule(["get"], [""], ["secrets"], names=["a"])],
        [rule(["get"], [""], ["secrets"], names=["a", "b"])],
        [rule(["get"], [""], ["secrets"], names=["b"])],
    ),
    (
        [rule(["get"], [""], ["secrets"], names=["a"])],
        [rule(["get"], [""], ["secrets"])],
        [rule(["get"], [""], ["secrets"])],
    ),
    # URLs: prefix with a trailing "*"
    ([rule(["get"], urls=["/apis/*"])], [rule(["get"], urls=["/apis/apps", "/apis/*"])], []),
    (
        [rule(["get"], urls=["/apis/*"])],
        [rule(["get"], urls=["/api"])],
        [rule(["get"], urls=["/api"])],
    ),
    (
        [rule(["get"], ["*"], ["*"])],
        [rule(["get"], urls=["/healthz"])],
        [rule(["get"], urls=["/healthz"])],
    ),
    ([rule(["get"], urls=["*"])], [rule(["get"], [""], ["pods"])], [rule(["get"], [""], ["pods"])]),
    # a rule without groups breaks down to nothing (validation refuses it anyway)
    ([], [rule(["get"], None, ["pods"])], []),
]


@pytest.mark.parametrize(("owner", "requested", "missing"), COVER_CASES)
def test_uncovered_rules(owner: Any, requested: Any, missing: Any) -> None:
    assert rbac.uncovered_rules(owner, requested) == missing


def test_escalation_message_is_upstreams() -> None:
    missing = rbac.uncovered_rules(
        [],
        [
            rule(["get", "list"], [""], ["secrets"]),
            rule(["get"], [""], ["configmaps"], names=["a", "b"]),
            rule(["get"], urls=["/x"]),
        ],
    )
    assert rbac.escalation_message("bob", ["team-1", "system:authenticated"], missing) == (
        'user "bob" (groups=["team-1" "system:authenticated"]) is attempting to grant RBAC '
        "permissions not currently held:\n"
        '{APIGroups:[""], Resources:["configmaps"], ResourceNames:["a"], Verbs:["get"]}\n'
        '{APIGroups:[""], Resources:["configmaps"], ResourceNames:["b"], Verbs:["get"]}\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get" "list"]}\n'
        '{NonResourceURLs:["/x"], Verbs:["get"]}'
    )
    assert rbac.escalation_message("u", [], [rule(["get"], [""], ["secrets"])], "boom") == (
        'user "u" (groups=[]) is attempting to grant RBAC permissions not currently held:\n'
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}; resolution errors: [boom]'
    )


EDIT_USER = ("erin", ("system:authenticated",))


def team_world(*extra: dict[str, Any]) -> Authorizer:
    return defaults_plus(
        rb("erin-edit", "team", "ClusterRole", "edit", subject("User", "erin")),
        rb("frank-admin", "team", "ClusterRole", "admin", subject("User", "frank")),
        role("erins", "team", rule(["get"], [""], ["configmaps"])),
        *extra,
    )


def test_edit_user_cannot_bind_cluster_admin() -> None:
    user, groups = EDIT_USER
    binding = crb("mine", "cluster-admin", subject("User", "erin"))
    err = team_world().binding_write_error(user, groups, binding)
    assert err is not None
    assert err.code == 403
    assert err.message.startswith(
        'clusterrolebindings.rbac.authorization.k8s.io "mine" is forbidden: user "erin" '
        '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not '
        "currently held:\n"
        '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n{NonResourceURLs:["*"], Verbs:["*"]}'
    )
    assert err.details == {"name": "mine", "group": RBAC, "kind": "clusterrolebindings"}
    # also in its own namespace: cluster-admin's "*" is more than edit has
    binding = rb("mine", "team", "ClusterRole", "cluster-admin", subject("User", "erin"))
    assert team_world().binding_write_error(user, groups, binding) is not None


def test_admin_may_bind_what_it_holds_in_its_namespace_only() -> None:
    authz = team_world()
    for role_name in ("edit", "view", "admin"):
        binding = rb("b", "team", "ClusterRole", role_name, subject("User", "gina"))
        assert authz.binding_write_error("frank", AUTHED, binding) is None, role_name
        binding = rb("b", "other", "ClusterRole", role_name, subject("User", "gina"))
        assert authz.binding_write_error("frank", AUTHED, binding) is not None, role_name
    # a binding to a Role of the namespace
    binding = rb("b", "team", "Role", "erins", subject("User", "gina"))
    assert authz.binding_write_error("frank", AUTHED, binding) is None
    # edit cannot create bindings through RBAC, but the check here is only escalation:
    assert authz.binding_write_error("erin", AUTHED, binding) is None
    # a missing role is a 404 of the registry
    missing = authz.binding_write_error(
        "frank", AUTHED, rb("b", "team", "Role", "absent", subject("User", "gina"))
    )
    assert missing is not None
    assert (missing.code, missing.message) == (
        404,
        'roles.rbac.authorization.k8s.io "absent" not found',
    )


def test_bind_verb_and_masters_skip_the_escalation_check() -> None:
    binder = cluster_role(
        "binder", rule(["bind"], [RBAC], ["clusterroles"], names=["cluster-admin"])
    )
    authz = team_world(binder, crb("hank", "binder", subject("User", "hank")))
    binding = crb("mine", "cluster-admin", subject("User", "hank"))
    assert authz.binding_write_error("hank", AUTHED, binding) is None
    other = crb("mine", "admin", subject("User", "hank"))
    assert authz.binding_write_error("hank", AUTHED, other) is not None
    assert authz.binding_write_error("root", ("system:masters",), binding) is None


def test_widening_ones_own_role() -> None:
    authz = team_world()
    old = role("erins", "team", rule(["get"], [""], ["configmaps"]))
    wider = role(
        "erins", "team", rule(["get"], [""], ["configmaps"]), rule(["get"], [RBAC], ["roles"])
    )
    err = authz.role_write_error("erin", AUTHED, wider, old)
    assert err is not None
    assert err.message == (
        'roles.rbac.authorization.k8s.io "erins" is forbidden: user "erin" '
        '(groups=["system:authenticated"]) is attempting to grant RBAC permissions not '
        'currently held:\n{APIGroups:["rbac.authorization.k8s.io"], Resources:["roles"], '
        'Verbs:["get"]}'
    )
    # within what edit holds: fine
    fine = role("erins", "team", rule(["get", "list", "create"], [""], ["secrets", "configmaps"]))
    assert authz.role_write_error("erin", AUTHED, fine, old) is None
    # the same role in a namespace where erin holds nothing
    elsewhere = role("erins", "other", rule(["get"], [""], ["configmaps"]))
    assert authz.role_write_error("erin", AUTHED, elsewhere) is not None
    # only ownerReferences/finalizers changed: allowed even with rules erin lacks
    held = role("held", "team", rule(["*"], ["*"], ["*"]))
    touched = {**held, "metadata": {**held["metadata"], "finalizers": ["x"]}}
    assert authz.role_write_error("erin", AUTHED, touched, held) is None
    relabelled = {**held, "metadata": {**held["metadata"], "labels": {"a": "b"}}}
    assert authz.role_write_error("erin", AUTHED, relabelled, held) is not None


def test_escalate_verb_and_aggregation_rule() -> None:
    escalator = cluster_role("escalator", rule(["escalate"], [RBAC], ["clusterroles"]))
    authz = team_world(escalator, crb("ivy", "escalator", subject("User", "ivy")))
    everything = cluster_role("big", rule(["*"], ["*"], ["*"]))
    assert authz.role_write_error("ivy", AUTHED, everything) is None
    assert authz.role_write_error("erin", AUTHED, everything) is not None
    # an aggregationRule needs everything, even with no rules
    lister = cluster_role("agg-lister", rule(["list"], [RBAC], ["clusterroles"]))
    authz = team_world(lister, crb("jo", "agg-lister", subject("User", "jo")))
    agg = cluster_role("agg", agg=[{"matchLabels": {"a": "b"}}])
    err = authz.role_write_error("jo", AUTHED, agg)
    assert err is not None
    assert err.message == (
        'clusterroles.rbac.authorization.k8s.io "agg" is forbidden: '
        "must have cluster-admin privileges to use the aggregationRule"
    )
    # unchanged aggregationRule on update: only the rules count
    relabelled = {**agg, "metadata": {**agg["metadata"], "labels": {"x": "y"}}}
    assert authz.role_write_error("jo", AUTHED, relabelled, agg) is None
    removed = cluster_role("agg")
    assert authz.role_write_error("jo", AUTHED, removed, agg) is not None
    admin = team_world(crb("kim", "cluster-admin", subject("User", "kim")))
    assert admin.role_write_error("kim", AUTHED, agg) is None


# --- messages ---------------------------------------------------------------------------------

FORBIDDEN_CASES = [
    (
        res("get", "configmaps", name="x", ns="default"),
        "",
        'configmaps "x" is forbidden: User "alice" cannot get resource "configmaps" in API group '
        '"" in the namespace "default"',
        {"name": "x", "kind": "configmaps"},
    ),
    (
        res("list", "configmaps", ns="default"),
        "",
        'configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" '
        'in the namespace "default"',
        {"kind": "configmaps"},
    ),
    (
        res("get", "deployments", group="apps", sub="scale", name="web", ns="team"),
        "",
        'deployments.apps "web" is forbidden: User "alice" cannot get resource '
        '"deployments/scale" in API group "apps" in the namespace "team"',
        {"name": "web", "group": "apps", "kind": "deployments"},
    ),
    (
        res("list", "workspaces", group="tenancy.kcp.dev"),
        "",
        'workspaces.tenancy.kcp.dev is forbidden: User "alice" cannot list resource "workspaces" '
        'in API group "tenancy.kcp.dev" at the cluster scope',
        {"group": "tenancy.kcp.dev", "kind": "workspaces"},
    ),
    (
        path("/healthz"),
        "",
        'forbidden: User "alice" cannot get path "/healthz"',
        {},
    ),
    (
        path("/", user="system:anonymous", groups=ANON),
        rbac.workspace_denied_reason("root:default"),
        'forbidden: User "system:anonymous" cannot get path "/": "root:default" workspace '
        "access not permitted",
        {},
    ),
    (
        res("list", "configmaps", ns="default", user="bob"),
        rbac.workspace_denied_reason("root:org"),
        'configmaps is forbidden: User "bob" cannot list resource "configmaps" in API group "" '
        'in the namespace "default": "root:org" workspace access not permitted',
        {"kind": "configmaps"},
    ),
]


@pytest.mark.parametrize(("attrs", "reason", "message", "details"), FORBIDDEN_CASES)
def test_forbidden(attrs: Attributes, reason: str, message: str, details: Any) -> None:
    assert rbac.forbidden_message(attrs, reason) == message
    err = rbac.forbidden_error(attrs, reason)
    assert (err.code, err.reason, err.message, err.details) == (403, "Forbidden", message, details)


# --- kcp workspace access ---------------------------------------------------------------------


def test_workspace_access() -> None:
    content = ["workspaces/content"]
    parent = defaults_plus(
        cluster_role("ws-a-access", rule(["access"], ["tenancy.kcp.dev"], content, names=["a"])),
        cluster_role("ws-a-admin", rule(["admin"], ["tenancy.kcp.dev"], content, names=["a"])),
        cluster_role("all-ws", rule(["access"], ["tenancy.kcp.dev"], content)),
        crb("u1", "ws-a-access", subject("User", "user-1")),
        crb("u2", "ws-a-admin", subject("User", "user-2")),
        crb("team", "all-ws", subject("Group", "team-3")),
        # a RoleBinding grants nothing for workspaces (cluster-scoped)
        rb("ns", "default", "ClusterRole", "ws-a-admin", subject("User", "user-4")),
    )
    cases = [
        ("user-1", AUTHED, "a", True, False),
        ("user-1", AUTHED, "b", False, False),
        ("user-2", AUTHED, "a", True, True),
        ("user-3", ("team-3", *AUTHED), "a", True, False),
        ("user-3", ("team-3", *AUTHED), "zzz", True, False),
        ("user-4", AUTHED, "a", False, False),
        ("system:anonymous", ANON, "a", False, False),
        ("root", ("system:masters",), "a", True, True),
    ]
    for user, groups, ws, access, admin in cases:
        got = rbac.workspace_access(parent, user, groups, ws)
        assert (got.access, got.admin) == (access, admin), (user, ws)
    assert rbac.workspace_access(parent, "user-2", AUTHED, "a").groups == (
        rbac.WORKSPACE_ACCESS_GROUP,
        rbac.WORKSPACE_ADMIN_GROUP,
    )
    assert rbac.workspace_access(parent, "user-1", AUTHED, "a").groups == (
        rbac.WORKSPACE_ACCESS_GROUP,
    )
    assert rbac.workspace_access(parent, "user-1", AUTHED, "b").groups == ()


# --- scale ------------------------------------------------------------------------------------


def test_one_thousand_bindings_timing() -> None:
    objects: list[dict[str, Any]] = [*default_objects()]
    for i in range(1000):
        ns = f"ns-{i % 50}"
        objects.append(
            role(f"r-{i}", ns, rule(["get", "list"], [""], ["configmaps"], names=[f"cm-{i}"]))
        )
        objects.append(rb(f"rb-{i}", ns, "Role", f"r-{i}", subject("User", f"user-{i}")))
        objects.append(crb(f"crb-{i}", "view", subject("Group", f"group-{i}")))
    started = time.perf_counter()
    authz = Authorizer.from_objects(objects)
    built = time.perf_counter() - started
    checks = [
        res("get", "configmaps", name="cm-517", ns="ns-17", user="user-517"),  # allowed
        res("get", "configmaps", name="cm-1", ns="ns-17", user="user-517"),  # denied
        res("list", "pods", ns="ns-3", user="x", groups=("group-999", *AUTHED)),  # allowed
        res("delete", "pods", ns="ns-3", user="x", groups=("group-999", *AUTHED)),  # denied
        path("/api/v1", user="user-5"),  # allowed by discovery
    ]
    expected = [True, False, True, False, True]
    assert [authz.allowed(a)[0] for a in checks] == expected
    rounds = 2000
    started = time.perf_counter()
    for _ in range(rounds):
        for attrs in checks:
            authz.allowed(attrs)
    per_check = (time.perf_counter() - started) / (rounds * len(checks))
    print(
        f"\nRBAC with 2,000 bindings + defaults: built in {built * 1e3:.1f} ms, "
        f"{per_check * 1e6:.2f} us per check"
    )
