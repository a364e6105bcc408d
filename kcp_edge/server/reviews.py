"""The review APIs: "may I?", "what may I?", "who am I?", and the same asked about others.

Why this module exists: ``kubectl auth can-i`` (SelfSubjectAccessReview, and
SelfSubjectRulesReview for ``--list``), ``kubectl auth whoami`` (SelfSubjectReview) and
controllers (SubjectAccessReview, LocalSubjectAccessReview, TokenReview) ask the server to
evaluate its own authentication and authorization. These kinds are never stored: a create is
answered from the request with the same decision `authz.Authorization` makes for real requests,
and the object comes back with its ``status`` filled in (201, as the apiserver answers).
"""

from __future__ import annotations

from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from kcp_edge.apimachinery import errors
from kcp_edge.auth import ANONYMOUS, UserInfo, rbac
from kcp_edge.auth.union import UnionAuthenticator
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.server import bodies
from kcp_edge.server.authz import Authorization
from kcp_edge.server.requestinfo import RequestInfo

Obj = dict[str, Any]
JSON = "application/json"
REVIEW_GROUPS = ("authentication.k8s.io", "authorization.k8s.io")


def is_review(kind: ResourceKind) -> bool:
    return kind.group in REVIEW_GROUPS and not kind.storage_id


def _attributes(user: str, groups: tuple[str, ...], spec: Obj, namespace: str) -> rbac.Attributes:
    resource = spec.get("resourceAttributes")
    if isinstance(resource, dict):
        return rbac.Attributes(
            user,
            groups,
            str(resource.get("verb", "")),
            str(resource.get("group", "")),
            str(resource.get("resource", "")),
            str(resource.get("subresource", "")),
            name=str(resource.get("name", "")),
            namespace=namespace or str(resource.get("namespace", "")),
        )
    other = spec.get("nonResourceAttributes")
    if isinstance(other, dict):
        return rbac.Attributes.for_path(
            user, groups, str(other.get("path", "")), str(other.get("verb", ""))
        )
    raise errors.invalid(
        "SubjectAccessReview",
        "",
        [
            {
                "reason": "FieldValueRequired",
                "message": "Required value: exactly one of nonResourceAttributes or "
                "resourceAttributes must be specified",
                "field": "spec.resourceAttributes",
            }
        ],
        group="authorization.k8s.io",
    )


def _access_status(authorization: Authorization, cluster: str, attrs: rbac.Attributes) -> Obj:
    allowed, reason = authorization.decide(cluster, attrs)
    status: Obj = {"allowed": allowed}
    if reason:
        status["reason"] = reason
    return status


def _user_info(user: UserInfo) -> Obj:
    return {"username": user.name, "groups": list(user.groups)}


async def create(
    request: Request,
    kind: ResourceKind,
    info: RequestInfo,
    authorization: Authorization,
    authenticator: UnionAuthenticator,
) -> Response:
    """Evaluate the review in the request body and answer it with its status."""
    raw = await bodies.read_body(request)
    review = bodies.decode_object(
        raw, bodies.media_type(request), api_version=kind.group_version, kind=kind.kind
    )
    if review.get("kind") not in (None, "", kind.kind):
        raise errors.bad_request(f"the object is not a {kind.kind}")
    review.update(apiVersion=kind.group_version, kind=kind.kind)
    review.setdefault("metadata", {})
    given = review.get("spec")
    spec: Obj = given if isinstance(given, dict) else {}
    user: UserInfo = request.scope.get("user", ANONYMOUS)
    # Inside the workspace the caller also has what entering it gave (kcp's access and admin
    # groups): the self reviews answer for those, as the authorizer decides real requests.
    groups = tuple(getattr(request.state, "groups", user.groups))
    if kind.resource == "selfsubjectreviews":
        review["status"] = {"userInfo": _user_info(user)}
    elif kind.resource == "tokenreviews":
        found = authenticator.authenticate(str(spec.get("token", "")), cluster=info.cluster)
        review["status"] = (
            {"authenticated": True, "user": _user_info(found.user)}
            if found is not None
            else {"authenticated": False, "user": {}}
        )
    elif kind.resource == "selfsubjectrulesreviews":
        rules = authorization.authorizer(info.cluster).rules_for(
            user.name, groups, str(spec.get("namespace", ""))
        )
        status: Obj = {
            "resourceRules": rules.resource_rules,
            "nonResourceRules": rules.non_resource_rules,
            "incomplete": rules.incomplete,
        }
        if rules.evaluation_error:
            status["evaluationError"] = rules.evaluation_error
        review["status"] = status
    elif kind.resource == "selfsubjectaccessreviews":
        attrs = _attributes(user.name, groups, spec, "")
        review["status"] = _access_status(authorization, info.cluster, attrs)
    else:  # subjectaccessreviews, localsubjectaccessreviews: about someone else
        groups = tuple(str(g) for g in spec.get("groups") or ())
        attrs = _attributes(str(spec.get("user", "")), groups, spec, info.namespace)
        review["status"] = _access_status(authorization, info.cluster, attrs)
    return Response(orjson.dumps(review), status_code=201, media_type=JSON)
