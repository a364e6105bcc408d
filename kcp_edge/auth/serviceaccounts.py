"""Service-account tokens: signed JWTs that name one service account in one logical cluster.

Why this module exists: workloads (the syncer, pods using in-cluster config, ``kubectl create
token``) authenticate as service accounts with JWTs the server signed itself. In kcp a service
account lives in one workspace, and its token must never work in another, not even in a
namespace of the same name; so, as kcp does, every token carries its logical cluster, and
verification compares it with the cluster of the request.

Two shapes, as Kubernetes and kcp 2022 make them:

* **bound tokens** (TokenRequest, ``kubectl create token``): issuer `TokenIssuer.issuer`
  (kcp: ``https://kcp.default.svc``), ``sub`` ``system:serviceaccount:<ns>:<name>``, ``aud``,
  ``exp``/``iat``/``nbf``, ``jti``, and ``kubernetes.io: {namespace, serviceaccount: {name, uid},
  [pod|secret|node: {name, uid}], clusterName}`` -- ``clusterName`` is kcp's addition.
* **legacy tokens** (the ``token`` of a ``kubernetes.io/service-account-token`` Secret, which
  kcp 2022's ``kubectl kcp workload sync`` reads): issuer ``kubernetes/serviceaccount``, flat
  claims ``kubernetes.io/serviceaccount/{namespace, secret.name, service-account.name,
  service-account.uid, clusterName}``, no expiry.

Signing: ES256 (ECDSA P-256, SHA-256) with a key made once and kept like the CA key (``sa.key``,
PKCS#8 PEM, mode 0600). Chosen over kcp's RSA-4096 because with ``cryptography`` a P-256 key is
made in ~1.5 ms (RSA-4096: ~1 s, RSA-2048: ~40 ms) and signs in ~50 us (RSA-2048: ~1.5 ms,
RSA-4096: ~8 ms), and every namespace's default service account gets a token Secret; verifying
costs about the same (~0.1 ms), and verified tokens are cached anyway. An RSA key (>= 2048 bits,
e.g. kcp's own ``sa.key``) is accepted too and then signs RS256. The algorithm is fixed by the
key: a token's ``alg`` header must match it (no ``none``, no algorithm confusion).

The server must still check, per request, that the service account (and for legacy tokens the
Secret, for bound tokens the bound object) exists with the uid in the token, as kube-apiserver's
``--service-account-lookup`` does: a workspace deleted and made again under the same name would
otherwise accept old tokens. `ServiceAccountIdentity` carries what that check needs.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)

from kcp_edge.auth import UserInfo
from kcp_edge.auth.pki import write_file_atomically
from kcp_edge.auth.union import (
    CLUSTER_NAME_EXTRA,
    Authenticated,
    OutOfScopeTokenError,
    TokenRejectedError,
    with_authenticated_group,
)

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

DEFAULT_ISSUER = "https://kcp.default.svc"
"""kcp's ``--service-account-issuer`` default."""
LEGACY_ISSUER = "kubernetes/serviceaccount"
"""The fixed issuer of legacy (Secret) tokens."""
USER_PREFIX = "system:serviceaccount:"
GROUP = "system:serviceaccounts"
SOURCE = "service-account"

CLUSTER_CLAIM = "clusterName"
"""kcp's claim inside ``kubernetes.io`` of a bound token: the service account's cluster."""
_LEGACY = "kubernetes.io/serviceaccount/"
LEGACY_CLUSTER_CLAIM = _LEGACY + "clusterName"

MIN_EXPIRATION_SECONDS = 600
DEFAULT_EXPIRATION_SECONDS = 3600
MAX_EXPIRATION_SECONDS = 1 << 32
BOUND_KINDS = ("Pod", "Secret", "Node")

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")


class ServiceAccountTokenError(TokenRejectedError):
    """A token of our issuer that is not valid here; the message (no token in it) says why."""


class ExpiredTokenError(ServiceAccountTokenError, OutOfScopeTokenError):
    """A token of ours, correctly signed, that has expired or is not valid yet."""


class WrongAudienceError(ServiceAccountTokenError, OutOfScopeTokenError):
    """A token of ours, correctly signed, for an audience other than this server."""


class WrongClusterError(ServiceAccountTokenError, OutOfScopeTokenError):
    """A valid token used in another logical cluster than its own.

    ``identity`` is who the token names, for a server that prefers kcp's 403 ("workspace access
    not permitted") to a 401.
    """

    def __init__(self, identity: ServiceAccountIdentity, cluster_of_request: str) -> None:
        super().__init__(
            f"token of {identity.user.name} in {identity.cluster!r} used in {cluster_of_request!r}"
        )
        self.identity = identity


@dataclass(frozen=True, slots=True)
class BoundObject:
    """The object a bound token lives and dies with (TokenRequest ``spec.boundObjectRef``)."""

    kind: str
    """``Pod``, ``Secret`` or ``Node``."""
    name: str
    uid: str


@dataclass(frozen=True, slots=True)
class ServiceAccountIdentity:
    """A verified service-account token: who, in which cluster, bound to what."""

    user: UserInfo
    cluster: str
    namespace: str
    name: str
    uid: str
    legacy: bool
    secret_name: str | None = None
    """The token Secret of a legacy token."""
    bound_object: BoundObject | None = None
    token_id: str | None = None
    """The ``jti`` of a bound token."""
    expires_at: int | None = None
    """Unix time of ``exp``; None for legacy tokens."""

    @property
    def extra(self) -> dict[str, tuple[str, ...]]:
        """User extra as Kubernetes (pod/node names, credential id) and kcp (cluster) set it."""
        extra: dict[str, tuple[str, ...]] = {CLUSTER_NAME_EXTRA: (self.cluster,)}
        bound = self.bound_object
        if bound is not None and bound.kind in ("Pod", "Node"):
            kind = bound.kind.lower()
            extra[f"authentication.kubernetes.io/{kind}-name"] = (bound.name,)
            extra[f"authentication.kubernetes.io/{kind}-uid"] = (bound.uid,)
        if self.token_id:
            extra["authentication.kubernetes.io/credential-id"] = (f"JTI={self.token_id}",)
        return extra

    def authenticated(self) -> Authenticated:
        return Authenticated(
            user=self.user, source=SOURCE, uid=self.uid, extra=self.extra, cluster=self.cluster
        )


def service_account_user(namespace: str, name: str) -> UserInfo:
    """The user a service account authenticates as, with Kubernetes' groups."""
    groups = (GROUP, f"{GROUP}:{namespace}")
    return UserInfo(f"{USER_PREFIX}{namespace}:{name}", with_authenticated_group(groups))


def load_or_create_signing_key(path: Path) -> SigningKey:
    """Read the signing key at ``path``, or make a P-256 key there (PKCS#8 PEM, mode 0600).

    `ValueError` (message for the user) for a key that cannot be read or used.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        key = ec.generate_private_key(ec.SECP256R1())
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        write_file_atomically(path, pem, mode=0o600)
        return key
    try:
        loaded = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"cannot read the service-account key {path}: {exc}") from exc
    if not isinstance(loaded, (ec.EllipticCurvePrivateKey, rsa.RSAPrivateKey)):
        raise ValueError(f"the service-account key {path} is neither ECDSA P-256 nor RSA")
    _algorithm(loaded)  # refuses unusable curves and sizes
    return loaded


def _algorithm(key: SigningKey) -> str:
    if isinstance(key, rsa.RSAPrivateKey):
        if key.key_size < 2048:
            raise ValueError("an RSA service-account key must have at least 2048 bits")
        return "RS256"
    if not isinstance(key.curve, ec.SECP256R1):
        raise ValueError("an ECDSA service-account key must be on curve P-256")
    return "ES256"


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(part: str) -> bytes | None:
    """Strict, canonical base64url without padding; None for anything else."""
    if len(part) % 4 == 1 or not _B64URL.match(part):
        return None
    try:
        data = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        return None
    return data if _b64encode(data) == part else None  # one spelling per token


def _json_object(part: str) -> dict[str, Any] | None:
    raw = _b64decode(part)
    if raw is None:
        return None
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


@dataclass(frozen=True, slots=True)
class _Verified:
    identity: ServiceAccountIdentity
    not_before: float | None


class TokenIssuer:
    """Signs service-account tokens and verifies them.

    ``api_audiences`` are the audiences this server accepts (kube-apiserver's
    ``--api-audiences``, by default the issuer); a bound token must name one of them. ``leeway``
    seconds of clock skew are tolerated on ``exp`` and ``nbf`` (go-jose's default, 60).
    Verified tokens are remembered (by SHA-256, at most ``cache_size``) so a repeated token
    costs a dictionary lookup plus the expiry and cluster checks, never a signature check.
    """

    def __init__(
        self,
        key: SigningKey,
        issuer: str = DEFAULT_ISSUER,
        *,
        api_audiences: Sequence[str] | None = None,
        accept_legacy: bool = True,
        leeway: float = 60.0,
        clock: Callable[[], float] = time.time,
        cache_size: int = 4096,
    ) -> None:
        if not issuer or issuer == LEGACY_ISSUER:
            raise ValueError(f"the service-account issuer must be set and not {LEGACY_ISSUER!r}")
        self.algorithm = _algorithm(key)
        self.issuer = issuer
        self.api_audiences = tuple(api_audiences) if api_audiences else (issuer,)
        self.accept_legacy = accept_legacy
        self._key = key
        self._public = key.public_key()
        der = self._public.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_id = _b64encode(hashlib.sha256(der).digest())
        """As Kubernetes: base64url(SHA-256(DER public key))."""
        self._header = _b64encode(orjson.dumps({"alg": self.algorithm, "kid": self.key_id}))
        self._leeway = leeway
        self._clock = clock
        self._cache: OrderedDict[bytes, _Verified] = OrderedDict()
        self._cache_size = cache_size
        self._lock = threading.Lock()

    # -- issuing -----------------------------------------------------------------------------

    def issue(
        self,
        *,
        cluster: str,
        namespace: str,
        sa_name: str,
        sa_uid: str,
        audiences: Sequence[str] | None = None,
        expiration_seconds: int = DEFAULT_EXPIRATION_SECONDS,
        bound_object: BoundObject | None = None,
    ) -> str:
        """A bound token for the service account, valid ``expiration_seconds`` from now."""
        token, _ = self.issue_with_expiry(
            cluster=cluster,
            namespace=namespace,
            sa_name=sa_name,
            sa_uid=sa_uid,
            audiences=audiences,
            expiration_seconds=expiration_seconds,
            bound_object=bound_object,
        )
        return token

    def issue_with_expiry(
        self,
        *,
        cluster: str,
        namespace: str,
        sa_name: str,
        sa_uid: str,
        audiences: Sequence[str] | None = None,
        expiration_seconds: int = DEFAULT_EXPIRATION_SECONDS,
        bound_object: BoundObject | None = None,
    ) -> tuple[str, int]:
        """As `issue`, and the token's ``exp`` (Unix time)."""
        _require(cluster=cluster, namespace=namespace, sa_name=sa_name, sa_uid=sa_uid)
        if expiration_seconds <= 0:
            raise ValueError("expiration_seconds must be positive")
        if bound_object is not None and bound_object.kind not in BOUND_KINDS:
            raise ValueError(f"cannot bind a token to a {bound_object.kind}")
        now = int(self._clock())
        private: dict[str, Any] = {
            "namespace": namespace,
            "serviceaccount": {"name": sa_name, "uid": sa_uid},
            CLUSTER_CLAIM: cluster,
        }
        if bound_object is not None:
            private[bound_object.kind.lower()] = {
                "name": bound_object.name,
                "uid": bound_object.uid,
            }
        expires = now + expiration_seconds
        claims = {
            "aud": list(audiences) if audiences else list(self.api_audiences),
            "exp": expires,
            "iat": now,
            "iss": self.issuer,
            "jti": str(uuid.uuid4()),
            "kubernetes.io": private,
            "nbf": now,
            "sub": f"{USER_PREFIX}{namespace}:{sa_name}",
        }
        return self._sign(claims), expires

    def issue_legacy(
        self, *, cluster: str, namespace: str, sa_name: str, sa_uid: str, secret_name: str
    ) -> str:
        """The never-expiring token of a ``kubernetes.io/service-account-token`` Secret."""
        _require(
            cluster=cluster,
            namespace=namespace,
            sa_name=sa_name,
            sa_uid=sa_uid,
            secret_name=secret_name,
        )
        claims = {
            "iss": LEGACY_ISSUER,
            _LEGACY + "namespace": namespace,
            _LEGACY + "secret.name": secret_name,
            _LEGACY + "service-account.name": sa_name,
            _LEGACY + "service-account.uid": sa_uid,
            LEGACY_CLUSTER_CLAIM: cluster,
            "sub": f"{USER_PREFIX}{namespace}:{sa_name}",
        }
        return self._sign(claims)

    def _sign(self, claims: Mapping[str, Any]) -> str:
        signing_input = f"{self._header}.{_b64encode(orjson.dumps(claims))}"
        data = signing_input.encode("ascii")
        if isinstance(self._key, rsa.RSAPrivateKey):
            signature = self._key.sign(data, padding.PKCS1v15(), hashes.SHA256())
        else:
            r, s = decode_dss_signature(self._key.sign(data, ec.ECDSA(hashes.SHA256())))
            signature = r.to_bytes(32, "big") + s.to_bytes(32, "big")
        return f"{signing_input}.{_b64encode(signature)}"

    # -- verifying ---------------------------------------------------------------------------

    def verify(self, token: str, *, cluster_of_request: str) -> ServiceAccountIdentity | None:
        """Who ``token`` is, if it is valid in ``cluster_of_request``.

        None when the token is not a JWT of this issuer (another source may know it); raises
        `ServiceAccountTokenError` when it is ours but tampered, expired, not yet valid, for
        another audience, or malformed, and `WrongClusterError` when it is valid but belongs to
        another logical cluster.
        """
        identity = self._identity(token)
        if identity is not None and identity.cluster != cluster_of_request:
            raise WrongClusterError(identity, cluster_of_request)
        return identity

    def cluster_of(self, token: str) -> str | None:
        """The logical cluster of a valid token of ours, else None.

        For kcp's in-cluster rewrite: a request without ``/clusters/<name>`` that carries a
        service-account token goes to the token's cluster. Never raises.
        """
        try:
            identity = self._identity(token)
        except ServiceAccountTokenError:
            return None
        return None if identity is None else identity.cluster

    def authenticate(self, token: str, *, cluster: str) -> Authenticated | None:
        """`TokenSource`: the service account behind ``token`` in ``cluster``."""
        identity = self.verify(token, cluster_of_request=cluster)
        return None if identity is None else identity.authenticated()

    def _identity(self, token: str) -> ServiceAccountIdentity | None:
        key = hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
        if cached is None:
            cached = self._verify_signed(token)
            if cached is None:
                return None
            with self._lock:
                self._cache[key] = cached
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        now = self._clock()
        identity = cached.identity
        if identity.expires_at is not None and now > identity.expires_at + self._leeway:
            with self._lock:
                self._cache.pop(key, None)
            raise ExpiredTokenError(f"token of {identity.user.name} has expired")
        if cached.not_before is not None and now + self._leeway < cached.not_before:
            raise ExpiredTokenError(f"token of {identity.user.name} is not valid yet")
        return identity

    def _verify_signed(self, token: str) -> _Verified | None:
        """Checks everything that does not depend on the time; None if not our token."""
        parts = token.split(".")
        if len(parts) != 3:
            return None
        claims = _json_object(parts[1])
        if claims is None:
            return None
        issuer = claims.get("iss")
        legacy = issuer == LEGACY_ISSUER
        if not (issuer == self.issuer or (legacy and self.accept_legacy)):
            return None
        # From here on the token claims to be ours: anything wrong is a rejection.
        header = _json_object(parts[0])
        if header is None:
            raise ServiceAccountTokenError("malformed token header")
        if header.get("alg") != self.algorithm:
            raise ServiceAccountTokenError(f"token algorithm is not {self.algorithm}")
        if "crit" in header or header.get("typ", "JWT") != "JWT":
            raise ServiceAccountTokenError("unsupported token header")
        if header.get("kid", self.key_id) != self.key_id:
            raise ServiceAccountTokenError("token signed by an unknown key")
        signature = _b64decode(parts[2])
        if signature is None or not self._signature_valid(
            f"{parts[0]}.{parts[1]}".encode("ascii"), signature
        ):
            raise ServiceAccountTokenError("invalid token signature")
        if legacy:
            return _Verified(_legacy_identity(claims), None)
        return self._bound(claims)

    def _signature_valid(self, data: bytes, signature: bytes) -> bool:
        try:
            if isinstance(self._public, rsa.RSAPublicKey):
                self._public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
            else:
                if len(signature) != 64:
                    return False
                r, s = int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
                der = encode_dss_signature(r, s)
                self._public.verify(der, data, ec.ECDSA(hashes.SHA256()))
        except (InvalidSignature, ValueError):
            return False
        return True

    def _bound(self, claims: Mapping[str, Any]) -> _Verified:
        private = claims.get("kubernetes.io")
        if not isinstance(private, dict):
            raise ServiceAccountTokenError("token lacks the kubernetes.io claim")
        sa = private.get("serviceaccount")
        sa = sa if isinstance(sa, dict) else {}
        namespace = _text(private.get("namespace"), "namespace")
        name = _text(sa.get("name"), "service account name")
        uid = _text(sa.get("uid"), "service account uid")
        cluster = _text(private.get(CLUSTER_CLAIM), "cluster")
        if claims.get("sub") != f"{USER_PREFIX}{namespace}:{name}":
            raise ServiceAccountTokenError("token subject does not match its service account")
        exp = _number(claims.get("exp"), "exp")
        nbf = _number(claims.get("nbf"), "nbf") if "nbf" in claims else None
        audiences = claims.get("aud")
        if isinstance(audiences, str):
            audiences = [audiences]
        if not isinstance(audiences, list) or not set(audiences) & set(self.api_audiences):
            raise WrongAudienceError("token audiences do not include this server")
        bound: BoundObject | None = None
        for kind in BOUND_KINDS:
            ref = private.get(kind.lower())
            if ref is None:
                continue
            if not isinstance(ref, dict):
                raise ServiceAccountTokenError(f"malformed {kind.lower()} claim")
            ref_name = _text(ref.get("name"), f"{kind.lower()} name")
            ref_uid = _text(ref.get("uid"), f"{kind.lower()} uid")
            if bound is None or kind != "Node":  # a pod-bound token also names its node
                bound = BoundObject(kind, ref_name, ref_uid)
        jti = claims.get("jti")
        identity = ServiceAccountIdentity(
            user=service_account_user(namespace, name),
            cluster=cluster,
            namespace=namespace,
            name=name,
            uid=uid,
            legacy=False,
            bound_object=bound,
            token_id=jti if isinstance(jti, str) and jti else None,
            expires_at=int(exp),
        )
        return _Verified(identity, nbf)


def _legacy_identity(claims: Mapping[str, Any]) -> ServiceAccountIdentity:
    namespace = _text(claims.get(_LEGACY + "namespace"), "namespace")
    name = _text(claims.get(_LEGACY + "service-account.name"), "service account name")
    uid = _text(claims.get(_LEGACY + "service-account.uid"), "service account uid")
    secret = _text(claims.get(_LEGACY + "secret.name"), "secret name")
    cluster = _text(claims.get(LEGACY_CLUSTER_CLAIM), "cluster")
    if claims.get("sub") != f"{USER_PREFIX}{namespace}:{name}":
        raise ServiceAccountTokenError("token subject does not match its service account")
    return ServiceAccountIdentity(
        user=service_account_user(namespace, name),
        cluster=cluster,
        namespace=namespace,
        name=name,
        uid=uid,
        legacy=True,
        secret_name=secret,
    )


def _text(value: object, what: str) -> str:
    if not isinstance(value, str) or not value:
        raise ServiceAccountTokenError(f"token lacks the {what}")
    return value


def _number(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ServiceAccountTokenError(f"token lacks a numeric {what}")
    return float(value)


def _require(**values: str) -> None:
    for what, value in values.items():
        if not value:
            raise ValueError(f"{what} must not be empty")


# -- TokenRequest ------------------------------------------------------------------------------


class TokenRequestError(ValueError):
    """A TokenRequest the API must refuse with 422 Invalid: ``field``, ``value``, ``detail``."""

    def __init__(self, field_path: str, value: object, detail: str) -> None:
        super().__init__(f"{field_path}: Invalid value: {value!r}: {detail}")
        self.field = field_path
        self.value = value
        self.detail = detail


@dataclass(frozen=True)
class TokenRequest:
    """An ``authentication.k8s.io/v1`` TokenRequest (the ``serviceaccounts/token`` subresource).

    `from_body` validates and defaults the spec as kube-apiserver does; the server then resolves
    ``bound_object_ref`` (the object must exist, its uid must match: else 409 as upstream) and
    calls `respond`, which signs the token and answers the object ``kubectl create token``
    reads ``status.token`` from.
    """

    body: Mapping[str, Any] = field(repr=False)
    audiences: tuple[str, ...]
    expiration_seconds: int
    bound_object_ref: Mapping[str, str] | None

    @classmethod
    def from_body(cls, body: Mapping[str, Any]) -> TokenRequest:
        spec = body.get("spec") or {}
        if not isinstance(spec, Mapping):
            raise TokenRequestError("spec", spec, "must be an object")
        audiences = spec.get("audiences") or []
        if not isinstance(audiences, list) or not all(isinstance(a, str) and a for a in audiences):
            raise TokenRequestError("spec.audiences", audiences, "must be a list of strings")
        seconds = spec.get("expirationSeconds")
        if seconds is None:
            seconds = DEFAULT_EXPIRATION_SECONDS
        if isinstance(seconds, bool) or not isinstance(seconds, int):
            raise TokenRequestError("spec.expirationSeconds", seconds, "must be an integer")
        if seconds < MIN_EXPIRATION_SECONDS:
            raise TokenRequestError(
                "spec.expirationSeconds", seconds, "may not specify a duration less than 10 minutes"
            )
        if seconds > MAX_EXPIRATION_SECONDS:
            raise TokenRequestError(
                "spec.expirationSeconds",
                seconds,
                "may not specify a duration larger than 2^32 seconds",
            )
        ref = spec.get("boundObjectRef")
        bound_ref: dict[str, str] | None = None
        if ref is not None:
            if not isinstance(ref, Mapping) or not all(
                isinstance(ref.get(k, ""), str) for k in ("kind", "apiVersion", "name", "uid")
            ):
                raise TokenRequestError("spec.boundObjectRef", ref, "must be an object reference")
            kind, api_version = ref.get("kind", ""), ref.get("apiVersion", "v1")
            if kind not in BOUND_KINDS or api_version != "v1":
                raise TokenRequestError(
                    "spec.boundObjectRef.kind", kind, "only v1 Pod, Secret and Node can be bound"
                )
            if not ref.get("name"):
                raise TokenRequestError("spec.boundObjectRef.name", "", "name is required")
            bound_ref = {
                "kind": kind,
                "apiVersion": "v1",
                "name": ref["name"],
                "uid": ref.get("uid", ""),
            }
        return cls(
            body=body,
            audiences=tuple(audiences),
            expiration_seconds=seconds,
            bound_object_ref=bound_ref,
        )

    def respond(
        self,
        issuer: TokenIssuer,
        *,
        cluster: str,
        namespace: str,
        sa_name: str,
        sa_uid: str,
        bound_object: BoundObject | None = None,
    ) -> dict[str, Any]:
        """Sign the token and return the TokenRequest with defaulted spec and its status."""
        if (bound_object is None) != (self.bound_object_ref is None):
            raise ValueError("bound_object must be given exactly when boundObjectRef is")
        audiences = self.audiences or issuer.api_audiences
        token, expires_at = issuer.issue_with_expiry(
            cluster=cluster,
            namespace=namespace,
            sa_name=sa_name,
            sa_uid=sa_uid,
            audiences=audiences,
            expiration_seconds=self.expiration_seconds,
            bound_object=bound_object,
        )
        expires = dt.datetime.fromtimestamp(expires_at, tz=dt.timezone.utc)
        metadata = dict(self.body.get("metadata") or {})
        metadata.update({"name": sa_name, "namespace": namespace})
        metadata.setdefault("creationTimestamp", None)
        spec: dict[str, Any] = {
            "audiences": list(audiences),
            "expirationSeconds": self.expiration_seconds,
        }
        if self.bound_object_ref is not None and bound_object is not None:
            spec["boundObjectRef"] = {**self.bound_object_ref, "uid": bound_object.uid}
        return {
            "kind": "TokenRequest",
            "apiVersion": "authentication.k8s.io/v1",
            "metadata": metadata,
            "spec": spec,
            "status": {
                "token": token,
                "expirationTimestamp": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            },
        }


__all__ = [
    "DEFAULT_ISSUER",
    "LEGACY_ISSUER",
    "BoundObject",
    "ExpiredTokenError",
    "ServiceAccountIdentity",
    "ServiceAccountTokenError",
    "TokenIssuer",
    "TokenRequest",
    "TokenRequestError",
    "WrongAudienceError",
    "WrongClusterError",
    "load_or_create_signing_key",
    "service_account_user",
]
