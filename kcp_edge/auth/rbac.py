"""Kubernetes RBAC over one workspace's Roles, ClusterRoles and bindings, as pure functions.

Why this module exists: every request after authentication asks "may this user do this here?",
and Kubernetes clients expect the answer RBAC gives (``plugin/pkg/auth/authorizer/rbac`` and
``pkg/registry/rbac/validation`` upstream), with the apiserver's exact words when it says no.
This module owns those semantics and nothing else: it reads RBAC objects as the stored JSON
dicts, never the store itself, so the server (request filter, review APIs, RBAC writes) and the
controllers (ClusterRole aggregation) share one implementation that tests can drive directly.

What it holds:

* `Attributes` (what a request wants) and `Authorizer` (the workspace's RBAC, indexed once by
  subject so a check costs a few dictionary reads however many bindings exist). ``system:masters``
  may do everything; otherwise ClusterRoleBindings apply everywhere and RoleBindings only in their
  namespace (a RoleBinding to a ClusterRole grants that role's rules in the binding's namespace
  only). Rules match as upstream: ``*`` for verbs, groups, resources and URLs, ``resource/sub``
  and ``*/sub`` resources, resourceNames (a rule with names never matches a request without a
  name, such as list or create), and non-resource URLs ending in ``*`` as prefixes.
* `aggregate`: the ClusterRole aggregation controller's result (``aggregationRule`` label
  selectors filling ``rules``) as one pure computation, to a fixed point.
* Escalation prevention: `uncovered_rules` (upstream's ``Covers``: the requested rules, broken
  down to single verb/group/resource/name, that none of the owner's rules covers), the message of
  a refused grant, and the whole create/update decision for roles and bindings
  (`Authorizer.role_write_error`, `Authorizer.binding_write_error`), including the ``escalate``
  and ``bind`` verbs.
* `Authorizer.rules_for`: what SelfSubjectRulesReview answers.
* `forbidden_message` / `forbidden_error`: the 403 the apiserver writes for a denied request,
  and kcp's workspace denial reason (`workspace_denied_reason`).
* `workspace_access`: kcp's rule for entering a workspace, decided by the *parent* workspace's
  RBAC (verbs ``access``/``admin`` on ``workspaces/content`` in ``tenancy.kcp.dev``, resourceName
  the workspace's name).

The groups ``system:authenticated``/``system:unauthenticated`` and the service-account groups
(``system:serviceaccounts``, ``system:serviceaccounts:<ns>``) are added by authentication; here
they are ordinary group subjects. The default ClusterRoles and bindings each workspace gets are in
`kcp_edge.auth.rbacdefaults`.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from kcp_edge.apimachinery import errors
from kcp_edge.apimachinery.errors import StatusError
from kcp_edge.apimachinery.labels import LabelSelectorError, Selector, from_label_selector
from kcp_edge.apimachinery.names import go_quote

RBAC_GROUP = "rbac.authorization.k8s.io"
PRIVILEGED_GROUP = "system:masters"
"""Members may do everything, before RBAC is asked (the apiserver's privileged group)."""
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"
ALL = "*"

TENANCY_GROUP = "tenancy.kcp.dev"
WORKSPACE_ACCESS_GROUP = "system:kcp:clusterworkspace:access"
"""kcp adds this group to a user allowed ``access`` to a workspace (in that workspace only)."""
WORKSPACE_ADMIN_GROUP = "system:kcp:clusterworkspace:admin"
"""kcp adds this group to a user allowed ``admin`` on a workspace; bound to cluster-admin."""

RuleDict = dict[str, list[str]]
"""A PolicyRule as stored: ``verbs``, ``apiGroups``, ``resources``, ``resourceNames``,
``nonResourceURLs``; empty fields left out."""

_RULE_FIELDS = ("verbs", "apiGroups", "resources", "resourceNames", "nonResourceURLs")


# --- attributes and messages ------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Attributes:
    """What one request asks to do (``authorizer.AttributesRecord``).

    A resource request names ``api_group``/``resource`` (plural), perhaps a ``subresource``,
    ``name`` and ``namespace``; a non-resource request (``is_resource_request=False``) names a
    ``path`` such as ``/healthz`` or ``/apis``.
    """

    user: str
    groups: tuple[str, ...] = ()
    verb: str = "get"
    api_group: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    namespace: str = ""
    is_resource_request: bool = True
    path: str = ""

    @classmethod
    def for_path(cls, user: str, groups: Sequence[str], path: str, verb: str = "get") -> Attributes:
        """A non-resource request (``/healthz``, ``/api``, ``/openapi/v2``)."""
        return cls(user, tuple(groups), verb, is_resource_request=False, path=path)


def forbidden_message(attrs: Attributes, reason: str = "") -> str:
    """The message of the apiserver's 403 for a denied request, ``reason`` appended after ``: ``.

    ``configmaps "x" is forbidden: User "alice" cannot get resource "configmaps" in API group ""
    in the namespace "default"``; cluster-scoped requests end ``at the cluster scope``;
    non-resource ones read ``forbidden: User "alice" cannot get path "/healthz"``.
    """
    return forbidden_error(attrs, reason).message


def forbidden_error(attrs: Attributes, reason: str = "") -> StatusError:
    """The whole 403 Status (``responsewriters.ForbiddenStatusError``) for a denied request."""
    user = go_quote(attrs.user)
    if not attrs.is_resource_request:
        why = f"User {user} cannot {attrs.verb} path {go_quote(attrs.path)}"
    else:
        resource = attrs.resource
        if attrs.subresource:
            resource = f"{resource}/{attrs.subresource}"
        why = (
            f"User {user} cannot {attrs.verb} resource {go_quote(resource)} "
            f"in API group {go_quote(attrs.api_group)} "
        )
        if attrs.namespace:
            why += f"in the namespace {go_quote(attrs.namespace)}"
        else:
            why += "at the cluster scope"
    if reason:
        why = f"{why}: {reason}"
    if not attrs.is_resource_request or not attrs.resource:
        # NewForbidden with an empty GroupResource: no target, details without any field.
        return StatusError(code=403, reason="Forbidden", message=f"forbidden: {why}", details={})
    target = attrs.resource if not attrs.api_group else f"{attrs.resource}.{attrs.api_group}"
    if attrs.name:
        target = f"{target} {go_quote(attrs.name)}"
    details: dict[str, Any] = {}
    if attrs.name:
        details["name"] = attrs.name
    if attrs.api_group:
        details["group"] = attrs.api_group
    details["kind"] = attrs.resource
    return StatusError(
        code=403, reason="Forbidden", message=f"{target} is forbidden: {why}", details=details
    )


def workspace_denied_reason(cluster: str) -> str:
    """kcp's reason for a request into a workspace the user may not enter (``root:org:team``)."""
    return f"{go_quote(cluster)} workspace access not permitted"


def _go_list(values: Sequence[str]) -> str:
    """``fmt.Sprintf("%q", []string{...})``: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(v) for v in values) + "]"


# --- rules ------------------------------------------------------------------------------------


def normalize_rule(rule: Mapping[str, Any]) -> RuleDict:
    """A PolicyRule with only its non-empty fields, in the API's field order (JSON-ready)."""
    out: RuleDict = {}
    for field in _RULE_FIELDS:
        values = rule.get(field)
        if values:
            out[field] = [str(v) for v in values]
    return out


def _rule_key(rule: Mapping[str, Any]) -> tuple[tuple[str, ...], ...]:
    """Equality as ``equality.Semantic.DeepEqual`` sees it (nil and empty lists are equal)."""
    return tuple(tuple(rule.get(field) or ()) for field in _RULE_FIELDS)


class _Rule:
    """One PolicyRule compiled for matching: sets instead of lists, ``*`` as flags."""

    __slots__ = (
        "all_groups",
        "all_resources",
        "all_urls",
        "all_verbs",
        "groups",
        "names",
        "resources",
        "star_subresources",
        "url_prefixes",
        "urls",
        "verbs",
    )

    def __init__(self, rule: Mapping[str, Any]) -> None:
        verbs = rule.get("verbs") or ()
        groups = rule.get("apiGroups") or ()
        resources = rule.get("resources") or ()
        urls = rule.get("nonResourceURLs") or ()
        self.all_verbs = ALL in verbs
        self.verbs = frozenset(verbs)
        self.all_groups = ALL in groups
        self.groups = frozenset(groups)
        self.all_resources = ALL in resources
        self.resources = frozenset(resources)
        # "*/status" matches the subresource "status" of any resource.
        self.star_subresources = frozenset(r[2:] for r in resources if r.startswith("*/"))
        names = rule.get("resourceNames") or ()
        self.names: frozenset[str] | None = frozenset(names) if names else None
        self.all_urls = ALL in urls
        self.urls = frozenset(urls)
        self.url_prefixes = tuple(u.rstrip("*") for u in urls if u.endswith("*"))

    def allows(self, attrs: Attributes, combined: str) -> bool:
        """``RuleAllows``; ``combined`` is ``resource[/subresource]``."""
        if not (self.all_verbs or attrs.verb in self.verbs):
            return False
        if attrs.is_resource_request:
            if not (self.all_groups or attrs.api_group in self.groups):
                return False
            if not (
                self.all_resources
                or combined in self.resources
                or (attrs.subresource and attrs.subresource in self.star_subresources)
            ):
                return False
            return self.names is None or attrs.name in self.names
        if self.all_urls or attrs.path in self.urls:
            return True
        return any(attrs.path.startswith(prefix) for prefix in self.url_prefixes)


# --- escalation: covers -----------------------------------------------------------------------


def breakdown_rule(rule: Mapping[str, Any]) -> list[RuleDict]:
    """Split a rule into rules of one group, resource, verb and name (or URL and verb)."""
    verbs = list(rule.get("verbs") or ())
    names = list(rule.get("resourceNames") or ())
    out: list[RuleDict] = []
    for group in rule.get("apiGroups") or ():
        for resource in rule.get("resources") or ():
            for verb in verbs:
                base: RuleDict = {"verbs": [verb], "apiGroups": [group], "resources": [resource]}
                if names:
                    out.extend({**base, "resourceNames": [name]} for name in names)
                else:
                    out.append(base)
    for url in rule.get("nonResourceURLs") or ():
        out.extend({"verbs": [verb], "nonResourceURLs": [url]} for verb in verbs)
    return out


def _has_all(owner: Sequence[str], wanted: Sequence[str]) -> bool:
    have = set(owner)
    return all(w in have for w in wanted)


def _resources_cover(owner: Sequence[str], wanted: Sequence[str]) -> bool:
    if ALL in owner or _has_all(owner, wanted):
        return True
    for resource in wanted:
        if resource in owner:
            continue
        if "/" not in resource:
            return False
        if "*/" + resource.split("/", 1)[1] not in owner:
            return False
    return True


def _url_covers(owner: str, wanted: str) -> bool:
    return owner == wanted or (owner.endswith("*") and wanted.startswith(owner.rstrip("*")))


def rule_covers(owner: Mapping[str, Any], wanted: Mapping[str, Any]) -> bool:
    """Upstream ``ruleCovers``: does ``owner`` grant at least what ``wanted`` grants?"""
    owner_verbs = owner.get("verbs") or ()
    owner_groups = owner.get("apiGroups") or ()
    owner_names = owner.get("resourceNames") or ()
    owner_urls = owner.get("nonResourceURLs") or ()
    wanted_names = wanted.get("resourceNames") or ()
    if not (ALL in owner_verbs or _has_all(owner_verbs, wanted.get("verbs") or ())):
        return False
    if not (ALL in owner_groups or _has_all(owner_groups, wanted.get("apiGroups") or ())):
        return False
    if not _resources_cover(owner.get("resources") or (), wanted.get("resources") or ()):
        return False
    for url in wanted.get("nonResourceURLs") or ():
        if not any(_url_covers(o, url) for o in owner_urls):
            return False
    if not wanted_names:
        return not owner_names
    return not owner_names or _has_all(owner_names, wanted_names)


def uncovered_rules(
    owner_rules: Iterable[Mapping[str, Any]], requested_rules: Iterable[Mapping[str, Any]]
) -> list[RuleDict]:
    """Upstream ``Covers``: the broken-down requested rules no owner rule covers (empty: ok)."""
    owners = list(owner_rules)
    missing: list[RuleDict] = []
    for requested in requested_rules:
        for sub in breakdown_rule(requested):
            if not any(rule_covers(owner, sub) for owner in owners):
                missing.append(sub)
    return missing


def compact_rules(rules: Iterable[Mapping[str, Any]]) -> list[RuleDict]:
    """Upstream ``CompactRules``: merge the verbs of rules on one group/resource(/name)."""
    compacted: list[RuleDict] = []
    simple: dict[tuple[str, str, bool, str], RuleDict] = {}
    for rule in rules:
        norm = normalize_rule(rule)
        groups = norm.get("apiGroups", [])
        resources = norm.get("resources", [])
        names = norm.get("resourceNames", [])
        if len(names) > 1 or "nonResourceURLs" in norm or len(groups) != 1 or len(resources) != 1:
            compacted.append(norm)
            continue
        key = (groups[0], resources[0], bool(names), names[0] if names else "")
        if key in simple:
            simple[key].setdefault("verbs", []).extend(norm.get("verbs", []))
        else:
            simple[key] = copy.deepcopy(norm)
    compacted.extend(simple.values())
    return compacted


def compact_string(rule: Mapping[str, Any]) -> str:
    """Upstream ``CompactString``: ``{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}``."""
    parts = []
    for field, label in (
        ("apiGroups", "APIGroups"),
        ("resources", "Resources"),
        ("nonResourceURLs", "NonResourceURLs"),
        ("resourceNames", "ResourceNames"),
        ("verbs", "Verbs"),
    ):
        values = rule.get(field)
        if values:
            parts.append(f"{label}:{_go_list(values)}")
    return "{" + ", ".join(parts) + "}"


def escalation_message(
    user: str,
    groups: Sequence[str],
    missing: Iterable[Mapping[str, Any]],
    resolution_error: str = "",
) -> str:
    """Why a role or binding write is refused (``ConfirmNoEscalation``'s error text).

    The caller wraps it as ``<resource>.rbac.authorization.k8s.io "<name>" is forbidden: ...``.
    """
    descriptions = sorted({compact_string(rule) for rule in compact_rules(missing)})
    message = (
        f"user {go_quote(user)} (groups={_go_list(groups)}) is attempting to grant RBAC "
        "permissions not currently held:\n" + "\n".join(descriptions)
    )
    if resolution_error:
        message += f"; resolution errors: [{resolution_error}]"
    return message


FULL_AUTHORITY: tuple[RuleDict, ...] = (
    {"verbs": [ALL], "apiGroups": [ALL], "resources": [ALL]},
    {"verbs": [ALL], "nonResourceURLs": [ALL]},
)
"""What setting a ClusterRole's aggregationRule requires (it can gather anything)."""


# --- aggregation ------------------------------------------------------------------------------


def aggregate(cluster_roles: Iterable[Mapping[str, Any]]) -> dict[str, list[RuleDict]]:
    """The rules of every ClusterRole with an ``aggregationRule``, as the controller sets them.

    For each selector in order, the ClusterRoles whose labels match (by name, never the role
    itself) contribute their rules, each rule once. Aggregated roles feed others (``view`` into
    ``edit`` into ``admin``), so this runs to a fixed point; a role whose selectors do not parse
    is left out (the controller fails on it and leaves its rules alone).
    """
    by_name: dict[str, Mapping[str, Any]] = {}
    for role in cluster_roles:
        name = (role.get("metadata") or {}).get("name")
        if isinstance(name, str):
            by_name[name] = role
    sources: dict[str, list[str]] = {}
    for name, role in by_name.items():
        rule = role.get("aggregationRule")
        if not isinstance(rule, Mapping):
            continue
        try:
            selectors: list[Selector] = [
                from_label_selector(s) for s in rule.get("clusterRoleSelectors") or ()
            ]
        except (LabelSelectorError, AttributeError, TypeError):
            continue
        names: list[str] = []
        for selector in selectors:
            names.extend(
                other
                for other in sorted(by_name)
                if other != name
                and selector.matches((by_name[other].get("metadata") or {}).get("labels") or {})
            )
        sources[name] = names
    current: dict[str, list[RuleDict]] = {
        name: [normalize_rule(r) for r in role.get("rules") or ()]
        for name, role in by_name.items()
        if name not in sources
    }
    current.update({name: [] for name in sources})
    for _ in range(len(sources) + 1):
        changed = False
        for name, names in sources.items():
            rules: list[RuleDict] = []
            seen: set[tuple[tuple[str, ...], ...]] = set()
            for other in names:
                for rule in current[other]:
                    key = _rule_key(rule)
                    if key not in seen:
                        seen.add(key)
                        rules.append(rule)
            if rules != current[name]:
                current[name] = rules
                changed = True
        if not changed:
            break
    return {name: [dict(r) for r in current[name]] for name in sources}


# --- the authorizer ---------------------------------------------------------------------------


class RulesReview(NamedTuple):
    """SelfSubjectRulesReview's status: rules as JSON dicts, and any resolution error text."""

    resource_rules: list[dict[str, list[str]]]
    non_resource_rules: list[dict[str, list[str]]]
    incomplete: bool
    evaluation_error: str


class _Grant:
    """One binding, its role's rules resolved: what any subject it names may do."""

    __slots__ = ("binding", "error", "kind", "namespace", "order", "raw_rules", "rules")

    def __init__(
        self,
        binding: Mapping[str, Any],
        *,
        kind: str,
        namespace: str,
        order: int,
        raw_rules: list[RuleDict] | None,
        error: str,
    ) -> None:
        self.binding = binding
        self.kind = kind
        self.namespace = namespace
        self.order = order
        self.raw_rules = raw_rules or []
        self.rules = [_Rule(r) for r in self.raw_rules]
        self.error = error

    def subject_for(self, user: str, groups: Sequence[str]) -> Mapping[str, Any] | None:
        """The first subject of the binding that is this user (``appliesTo``)."""
        for subject in self.binding.get("subjects") or ():
            if not isinstance(subject, Mapping):
                continue
            if _subject_username(subject, self.namespace) == user:
                return subject
            if subject.get("kind") == "Group" and subject.get("name") in groups:
                return subject
        return None

    def describe(self, subject: Mapping[str, Any]) -> str:
        name = (self.binding.get("metadata") or {}).get("name", "")
        ref = self.binding.get("roleRef") or {}
        if subject.get("kind") == "ServiceAccount":
            who = f"{subject.get('name', '')}/{subject.get('namespace') or self.namespace}"
        else:
            who = str(subject.get("name", ""))
        if self.kind == "RoleBinding":
            name = f"{name}/{self.namespace}"
        return (
            f"{self.kind} {go_quote(name)} of {ref.get('kind', '')} {go_quote(ref.get('name', ''))}"
            f" to {subject.get('kind', '')} {go_quote(who)}"
        )


def _subject_username(subject: Mapping[str, Any], binding_namespace: str) -> str | None:
    """The user name a User or ServiceAccount subject stands for (None: a group, or nobody)."""
    kind = subject.get("kind")
    if kind == "User":
        return str(subject.get("name", ""))
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        if not namespace:
            return None
        return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{subject.get('name', '')}"
    return None


class _Index:
    """Grants by user name and by group name."""

    __slots__ = ("by_group", "by_user")

    def __init__(self) -> None:
        self.by_user: dict[str, list[_Grant]] = {}
        self.by_group: dict[str, list[_Grant]] = {}

    def add(self, grant: _Grant) -> None:
        for subject in grant.binding.get("subjects") or ():
            if not isinstance(subject, Mapping):
                continue
            if subject.get("kind") == "Group":
                target = self.by_group.setdefault(str(subject.get("name", "")), [])
            else:
                username = _subject_username(subject, grant.namespace)
                if username is None:
                    continue
                target = self.by_user.setdefault(username, [])
            if not target or target[-1] is not grant:
                target.append(grant)

    def grants(self, user: str, groups: Sequence[str]) -> list[_Grant]:
        """The grants naming this user or a group of it, each once, in binding order."""
        found = self.by_user.get(user)
        lists = [found] if found else []
        for group in groups:
            hit = self.by_group.get(group)
            if hit:
                lists.append(hit)
        if not lists:
            return []
        if len(lists) == 1:
            return lists[0]
        merged = {id(g): g for grants in lists for g in grants}
        return sorted(merged.values(), key=lambda g: g.order)


def _meta(obj: Mapping[str, Any], field: str) -> str:
    value = (obj.get("metadata") or {}).get(field)
    return value if isinstance(value, str) else ""


class Authorizer:
    """RBAC over one workspace's objects, indexed once; build a new one when they change.

    ``cluster_roles`` with an ``aggregationRule`` get their aggregated rules (`aggregate`), so
    the answer does not wait for a controller to write them.
    """

    def __init__(
        self,
        *,
        roles: Iterable[Mapping[str, Any]] = (),
        cluster_roles: Iterable[Mapping[str, Any]] = (),
        role_bindings: Iterable[Mapping[str, Any]] = (),
        cluster_role_bindings: Iterable[Mapping[str, Any]] = (),
    ) -> None:
        cluster_role_list = list(cluster_roles)
        self._cluster_roles: dict[str, list[RuleDict]] = {
            _meta(r, "name"): [normalize_rule(x) for x in r.get("rules") or ()]
            for r in cluster_role_list
        }
        self._cluster_roles.update(aggregate(cluster_role_list))
        self._roles: dict[tuple[str, str], list[RuleDict]] = {
            (_meta(r, "namespace"), _meta(r, "name")): [
                normalize_rule(x) for x in r.get("rules") or ()
            ]
            for r in roles
        }
        self._cluster = _Index()
        self._namespaced: dict[str, _Index] = {}
        order = 0
        for binding in cluster_role_bindings:
            rules, error = self.role_ref_rules(binding.get("roleRef") or {}, "")
            self._cluster.add(
                _Grant(
                    binding,
                    kind="ClusterRoleBinding",
                    namespace="",
                    order=order,
                    raw_rules=rules,
                    error=error,
                )
            )
            order += 1
        for binding in role_bindings:
            namespace = _meta(binding, "namespace")
            rules, error = self.role_ref_rules(binding.get("roleRef") or {}, namespace)
            index = self._namespaced.setdefault(namespace, _Index())
            index.add(
                _Grant(
                    binding,
                    kind="RoleBinding",
                    namespace=namespace,
                    order=order,
                    raw_rules=rules,
                    error=error,
                )
            )
            order += 1

    @classmethod
    def from_objects(cls, objects: Iterable[Mapping[str, Any]]) -> Authorizer:
        """Sort a mixed list of RBAC objects by ``kind``; other kinds are ignored."""
        by_kind: dict[str, list[Mapping[str, Any]]] = {}
        for obj in objects:
            by_kind.setdefault(str(obj.get("kind", "")), []).append(obj)
        return cls(
            roles=by_kind.get("Role", ()),
            cluster_roles=by_kind.get("ClusterRole", ()),
            role_bindings=by_kind.get("RoleBinding", ()),
            cluster_role_bindings=by_kind.get("ClusterRoleBinding", ()),
        )

    def role_ref_rules(
        self, role_ref: Mapping[str, Any], namespace: str
    ) -> tuple[list[RuleDict] | None, str]:
        """A binding's role's rules, or None and the lister's error (``GetRoleReferenceRules``)."""
        kind = role_ref.get("kind")
        name = str(role_ref.get("name", ""))
        if kind == "ClusterRole":
            rules = self._cluster_roles.get(name)
            if rules is None:
                return None, f"clusterrole.{RBAC_GROUP} {go_quote(name)} not found"
            return rules, ""
        if kind == "Role":
            rules = self._roles.get((namespace, name)) if namespace else None
            if rules is None:
                return None, f"role.{RBAC_GROUP} {go_quote(name)} not found"
            return rules, ""
        return None, f"unsupported role reference kind: {go_quote(str(kind or ''))}"

    def _grants(self, user: str, groups: Sequence[str], namespace: str) -> list[_Grant]:
        grants = self._cluster.grants(user, groups)
        if namespace:
            index = self._namespaced.get(namespace)
            if index is not None:
                local = index.grants(user, groups)
                if local:
                    grants = [*grants, *local]
        return grants

    def allowed(self, attrs: Attributes) -> tuple[bool, str]:
        """Is the request allowed, and why (``RBAC: allowed by ...``; on denial, errors met)."""
        if PRIVILEGED_GROUP in attrs.groups:
            return True, ""
        combined = attrs.resource
        if attrs.subresource:
            combined = f"{attrs.resource}/{attrs.subresource}"
        problems: list[str] = []
        for grant in self._grants(attrs.user, attrs.groups, attrs.namespace):
            if grant.error:
                problems.append(grant.error)
                continue
            for rule in grant.rules:
                if rule.allows(attrs, combined):
                    subject = grant.subject_for(attrs.user, attrs.groups)
                    if subject is not None:  # always: the index found the grant by subject
                        return True, f"RBAC: allowed by {grant.describe(subject)}"
        if problems:
            return False, f"RBAC: {_aggregate_errors(problems)}"
        return False, ""

    def rules_for(self, user: str, groups: Sequence[str], namespace: str = "") -> RulesReview:
        """Every rule that applies to the user in ``namespace`` (SelfSubjectRulesReview)."""
        resource_rules: list[dict[str, list[str]]] = []
        non_resource_rules: list[dict[str, list[str]]] = []
        problems: list[str] = []
        for grant in self._grants(user, tuple(groups), namespace):
            if grant.error:
                problems.append(grant.error)
            for rule in grant.raw_rules:
                if rule.get("resources"):
                    info = {"verbs": list(rule.get("verbs", []))}
                    for field in ("apiGroups", "resources", "resourceNames"):
                        if rule.get(field):
                            info[field] = list(rule[field])
                    resource_rules.append(info)
                if rule.get("nonResourceURLs"):
                    non_resource_rules.append(
                        {
                            "verbs": list(rule.get("verbs", [])),
                            "nonResourceURLs": list(rule["nonResourceURLs"]),
                        }
                    )
        return RulesReview(resource_rules, non_resource_rules, False, _aggregate_errors(problems))

    def _rules_and_error(
        self, user: str, groups: Sequence[str], namespace: str
    ) -> tuple[list[RuleDict], str]:
        rules: list[RuleDict] = []
        problems: list[str] = []
        for grant in self._grants(user, tuple(groups), namespace):
            if grant.error:
                problems.append(grant.error)
            rules.extend(grant.raw_rules)
        return rules, _aggregate_errors(problems)

    def confirm_no_escalation(
        self,
        user: str,
        groups: Sequence[str],
        namespace: str,
        rules: Iterable[Mapping[str, Any]],
        *,
        shown_groups: Sequence[str] | None = None,
    ) -> str | None:
        """None if the user holds every rule in ``namespace``, else why not (the message, naming
        ``shown_groups``: the request's own groups, without those authorization added)."""
        owner, problem = self._rules_and_error(user, groups, namespace)
        missing = uncovered_rules(owner, rules)
        if not missing:
            return None
        shown = groups if shown_groups is None else shown_groups
        return escalation_message(user, shown, missing, problem)

    def role_write_error(
        self,
        user: str,
        groups: Sequence[str],
        obj: Mapping[str, Any],
        old: Mapping[str, Any] | None = None,
        *,
        shown_groups: Sequence[str] | None = None,
    ) -> StatusError | None:
        """Why creating (or, with ``old``, updating) a Role or ClusterRole is refused, or None.

        As the RBAC registry decides: ``system:masters`` and holders of the ``escalate`` verb on
        the role pass; an update that only touches ownerReferences/finalizers passes; else the
        user must hold every rule, and only a holder of everything may set (or change) a
        ClusterRole's ``aggregationRule``.
        """
        cluster = obj.get("kind") == "ClusterRole"
        resource = "clusterroles" if cluster else "roles"
        name = _meta(obj, "name")
        namespace = "" if cluster else _meta(obj, "namespace")
        if PRIVILEGED_GROUP in groups:
            return None
        if old is not None and _only_gc_fields_changed(obj, old):
            return None
        # The request's own name: empty on create (a POST to the collection).
        escalate = Attributes(
            user,
            tuple(groups),
            "escalate",
            RBAC_GROUP,
            resource,
            name=name if old is not None else "",
            namespace=namespace,
        )
        if self.allowed(escalate)[0]:
            return None
        why = self.confirm_no_escalation(
            user, groups, namespace, obj.get("rules") or (), shown_groups=shown_groups
        )
        if why is not None:
            return errors.forbidden(resource, name, why, group=RBAC_GROUP)
        if old is None:
            changed = _has_aggregation(obj)
        else:
            changed = (_has_aggregation(obj) or _has_aggregation(old)) and _semantic(
                obj.get("aggregationRule")
            ) != _semantic(old.get("aggregationRule"))
        if (
            cluster
            and changed
            and self.confirm_no_escalation(user, groups, "", FULL_AUTHORITY) is not None
        ):
            return errors.forbidden(
                resource,
                name,
                "must have cluster-admin privileges to use the aggregationRule",
                group=RBAC_GROUP,
            )
        return None

    def binding_write_error(
        self,
        user: str,
        groups: Sequence[str],
        obj: Mapping[str, Any],
        old: Mapping[str, Any] | None = None,
        *,
        shown_groups: Sequence[str] | None = None,
    ) -> StatusError | None:
        """Why creating (or updating) a RoleBinding or ClusterRoleBinding is refused, or None.

        ``system:masters`` and holders of the ``bind`` verb on the referenced role (checked in
        the binding's namespace) pass; else the referenced role must exist (404 otherwise) and
        the user must hold all of its rules in that namespace.
        """
        cluster = obj.get("kind") == "ClusterRoleBinding"
        resource = "clusterrolebindings" if cluster else "rolebindings"
        name = _meta(obj, "name")
        namespace = "" if cluster else _meta(obj, "namespace")
        if PRIVILEGED_GROUP in groups:
            return None
        if old is not None and _only_gc_fields_changed(obj, old):
            return None
        ref = obj.get("roleRef") or {}
        ref_kind = ref.get("kind")
        if ref_kind not in ("Role", "ClusterRole"):
            return errors.forbidden(
                resource,
                name,
                f"unsupported role reference kind: {go_quote(str(ref_kind or ''))}",
                group=RBAC_GROUP,
            )
        ref_resource = "clusterroles" if ref_kind == "ClusterRole" else "roles"
        bind = Attributes(
            user,
            tuple(groups),
            "bind",
            str(ref.get("apiGroup", "")),
            ref_resource,
            name=str(ref.get("name", "")),
            namespace=namespace,
        )
        if self.allowed(bind)[0]:
            return None
        rules, _ = self.role_ref_rules(ref, namespace)
        if rules is None:
            return errors.not_found(ref_resource, str(ref.get("name", "")), group=RBAC_GROUP)
        why = self.confirm_no_escalation(user, groups, namespace, rules, shown_groups=shown_groups)
        if why is not None:
            return errors.forbidden(resource, name, why, group=RBAC_GROUP)
        return None


def _aggregate_errors(messages: Sequence[str]) -> str:
    """``utilerrors.NewAggregate(...).Error()``: one message as is, several deduplicated in []."""
    unique = list(dict.fromkeys(messages))
    if not unique:
        return ""
    if len(unique) == 1:
        return unique[0]
    return "[" + ", ".join(unique) + "]"


def _has_aggregation(role: Mapping[str, Any]) -> bool:
    """An aggregationRule counts only with at least one selector."""
    rule = role.get("aggregationRule")
    return isinstance(rule, Mapping) and bool(rule.get("clusterRoleSelectors"))


def _semantic(value: Any) -> Any:
    """Drop empty values so that nil and empty compare equal, as ``Semantic.DeepEqual`` does."""
    if isinstance(value, Mapping):
        out = {k: _semantic(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, [], {})}
    if isinstance(value, list):
        return [_semantic(v) for v in value]
    return value


def _only_gc_fields_changed(obj: Mapping[str, Any], old: Mapping[str, Any]) -> bool:
    """``IsOnlyMutatingGCFields``: equal once ownerReferences, finalizers and the like match."""
    copied = copy.deepcopy(dict(obj))
    meta = dict(copied.get("metadata") or {})
    old_meta = old.get("metadata") or {}
    for field in ("ownerReferences", "finalizers", "selfLink", "managedFields"):
        if field in old_meta:
            meta[field] = old_meta[field]
        else:
            meta.pop(field, None)
    copied["metadata"] = meta
    return bool(_semantic(copied) == _semantic(old))


# --- kcp workspace access ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WorkspaceAccess:
    """What a user may do with a workspace, as the parent workspace's RBAC says."""

    access: bool
    admin: bool

    @property
    def groups(self) -> tuple[str, ...]:
        """The groups kcp adds to the user inside the workspace."""
        if self.admin:
            return (WORKSPACE_ACCESS_GROUP, WORKSPACE_ADMIN_GROUP)
        if self.access:
            return (WORKSPACE_ACCESS_GROUP,)
        return ()


def workspace_access(
    parent: Authorizer, user: str, groups: Sequence[str], workspace: str
) -> WorkspaceAccess:
    """May ``user`` enter (``access``) or administer (``admin``) the workspace ``workspace``?

    ``parent`` is the RBAC of the workspace holding the Workspace object; the check is the
    verb on ``workspaces/content`` of ``tenancy.kcp.dev`` with resourceName ``workspace``.
    ``admin`` implies ``access``. Whether the root workspace or a service account's own
    workspace is open anyway is the caller's rule, not RBAC's.
    """

    def may(verb: str) -> bool:
        attrs = Attributes(
            user,
            tuple(groups),
            verb,
            TENANCY_GROUP,
            "workspaces",
            "content",
            name=workspace,
        )
        return parent.allowed(attrs)[0]

    admin = may("admin")
    return WorkspaceAccess(access=admin or may("access"), admin=admin)


__all__ = [
    "FULL_AUTHORITY",
    "PRIVILEGED_GROUP",
    "RBAC_GROUP",
    "TENANCY_GROUP",
    "WORKSPACE_ACCESS_GROUP",
    "WORKSPACE_ADMIN_GROUP",
    "Attributes",
    "Authorizer",
    "RulesReview",
    "WorkspaceAccess",
    "aggregate",
    "breakdown_rule",
    "compact_rules",
    "compact_string",
    "escalation_message",
    "forbidden_error",
    "forbidden_message",
    "normalize_rule",
    "rule_covers",
    "uncovered_rules",
    "workspace_access",
    "workspace_denied_reason",
]
