"""``serviceaccounts/<name>/token``: TokenRequest, the way ``kubectl create token`` gets a token.

Why this module exists: service-account tokens are how workloads (and the syncer) call the
server; the TokenRequest subresource signs a short-lived token bound to the service account,
its workspace and optionally a Secret, after checking that what it names exists. Validation and
signing are pure (``auth/serviceaccounts.py``); this module reads the service account and the
bound object from the store and answers 201 with the TokenRequest and its ``status.token``.
"""

from __future__ import annotations

import orjson
from starlette.requests import Request
from starlette.responses import Response

from kcp_edge.apimachinery import errors
from kcp_edge.auth.serviceaccounts import BoundObject, TokenIssuer, TokenRequest, TokenRequestError
from kcp_edge.registry.catalog import Catalog
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.store import ObjectStore
from kcp_edge.server import bodies
from kcp_edge.server.requestinfo import RequestInfo


def _invalid(exc: TokenRequestError) -> errors.StatusError:
    return errors.invalid(
        "TokenRequest",
        "",
        [
            {
                "reason": "FieldValueInvalid",
                "message": f"Invalid value: {exc.value!r}: {exc.detail}",
                "field": exc.field,
            }
        ],
        group="authentication.k8s.io",
    )


async def create_token(
    request: Request, objects: ObjectStore, kind: ResourceKind, info: RequestInfo
) -> Response:
    issuer: TokenIssuer | None = request.app.state.token_issuer
    if issuer is None:
        raise errors.service_unavailable("service-account tokens are not enabled")
    raw = await bodies.read_body(request)
    body = bodies.decode_object(
        raw, bodies.media_type(request), api_version="authentication.k8s.io/v1", kind="TokenRequest"
    )
    try:
        token_request = TokenRequest.from_body(body)
    except TokenRequestError as exc:
        raise _invalid(exc) from None
    account = objects.get(kind, info.cluster, info.namespace, info.name)
    bound = None
    if token_request.bound_object_ref is not None:
        ref = token_request.bound_object_ref
        catalog: Catalog = request.app.state.catalog
        target = catalog.lookup(info.cluster, "", "v1", ref["kind"].lower() + "s")
        if target is None:
            raise errors.bad_request(f"cannot bind a token to a {ref['kind']}")
        found = objects.get(target, info.cluster, info.namespace, ref["name"])
        uid = found["metadata"].get("uid", "")
        if ref.get("uid") and ref["uid"] != uid:
            raise errors.conflict(
                target.resource,
                ref["name"],
                f"the UID in the bound object reference ({ref['uid']}) does not match the UID "
                f"in record. The object might have been deleted and then recreated",
            )
        bound = BoundObject(kind=ref["kind"], name=ref["name"], uid=uid)
    answer = token_request.respond(
        issuer,
        cluster=info.cluster,
        namespace=info.namespace,
        sa_name=info.name,
        sa_uid=str(account["metadata"].get("uid", "")),
        bound_object=bound,
    )
    return Response(orjson.dumps(answer), status_code=201, media_type="application/json")
