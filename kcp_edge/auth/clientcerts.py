"""Client certificates: who a TLS peer is, if a CA of ``--client-ca-file`` vouches for it.

Why this module exists: kubeconfigs may carry a client certificate instead of a token. As
kube-apiserver does, the user is the certificate's CN and its groups are the O entries, but only
after the chain the client presented has been verified against the CA bundle given with
``--client-ca-file``. This module owns that verification, so the server (which gets the peer's
chain from the TLS layer) only asks one question.

Verification uses ``cryptography``'s path builder (``x509.verification``: signatures, validity
at the injected time, CA basic constraints and path lengths, name chaining, unknown critical
extensions rejected, RSA keys >= 2048 bits) with a client-certificate profile instead of the
Web PKI one: like Go's ``x509.Verify`` that Kubernetes uses, it does not require subject
alternative names or key identifiers, which certificates made with ``openssl`` or ``kubeadm``
for users often lack. On top of that, as Go does for ``ExtKeyUsageClientAuth``: an extended key
usage, where present on the leaf or a CA, must allow ``clientAuth`` (or any usage); a CA's key
usage, where present, must allow signing certificates. A certificate without CN authenticates
nobody (Kubernetes: not an x509 user). Needs ``cryptography`` >= 45 (extension policies).

`ClientCertificates` is the request path's source: the TLS layer hands it the peer's chain on
every request, and a verified chain is remembered (by its bytes, within its validity) so that a
client's requests after the first cost a dictionary lookup instead of a path build (~0.2 ms).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    Policy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from kcp_edge.auth import UserInfo
from kcp_edge.auth.union import Authenticated, CertificateRejectedError, with_authenticated_group

SOURCE = "x509"
MAX_CHAIN_DEPTH = 8

CertificateInput = x509.Certificate | bytes
"""A certificate, or its DER encoding (what ``ssl`` hands out)."""


class ClientCertificateError(CertificateRejectedError):
    """The certificate does not authenticate anyone; the message says why (for the log)."""


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _certificate(value: CertificateInput) -> x509.Certificate:
    if isinstance(value, x509.Certificate):
        return value
    try:
        return x509.load_der_x509_certificate(value)
    except ValueError as exc:
        raise ClientCertificateError(f"malformed client certificate: {exc}") from exc


def _client_auth_allowed(_policy: Policy, _cert: x509.Certificate, ext: object) -> None:
    if isinstance(ext, x509.ExtendedKeyUsage):
        usages = set(ext)
        if not usages & {
            ExtendedKeyUsageOID.CLIENT_AUTH,
            ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE,
        }:
            raise ValueError("extended key usage does not allow client authentication")


def _may_sign_certificates(_policy: Policy, _cert: x509.Certificate, ext: object) -> None:
    if isinstance(ext, x509.KeyUsage) and not ext.key_cert_sign:
        raise ValueError("key usage of the CA does not allow signing certificates")


def _basic_constraints(_policy: Policy, _cert: x509.Certificate, ext: object) -> None:
    if isinstance(ext, x509.BasicConstraints) and not ext.ca:
        raise ValueError("not a CA certificate")


_CA_POLICY = (
    ExtensionPolicy.permit_all()
    .require_present(x509.BasicConstraints, Criticality.AGNOSTIC, _basic_constraints)
    .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _may_sign_certificates)
    .may_be_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _client_auth_allowed)
)
_EE_POLICY = ExtensionPolicy.permit_all().may_be_present(
    x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _client_auth_allowed
)


def certificate_user(cert: x509.Certificate) -> UserInfo | None:
    """CN as the user, O entries as groups (plus ``system:authenticated``); None without CN.

    Does not verify anything: only for a certificate `ClientCAs` has verified.
    """
    names = [a.value for a in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)]
    name = names[0] if names else ""
    if not isinstance(name, str) or not name:
        return None
    orgs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    groups = [o.value for o in orgs if isinstance(o.value, str)]
    return UserInfo(name, with_authenticated_group(groups))


@dataclass(frozen=True)
class ClientCAs:
    """The CAs of ``--client-ca-file``, and the check of client certificate chains against them."""

    roots: tuple[x509.Certificate, ...]
    clock: Callable[[], dt.datetime] = _now
    _store: Store = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not self.roots:
            raise ClientCertificateError("the client CA bundle holds no certificate")
        object.__setattr__(self, "_store", Store(list(self.roots)))

    @classmethod
    def load(cls, path: Path, *, clock: Callable[[], dt.datetime] = _now) -> ClientCAs:
        """Read a PEM bundle (``--client-ca-file``); `ClientCertificateError` if unusable."""
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ClientCertificateError(f"cannot read the client CA file {path}: {exc}") from exc
        try:
            roots = x509.load_pem_x509_certificates(data)
        except ValueError as exc:
            raise ClientCertificateError(
                f"the client CA file {path} holds no valid PEM certificate: {exc}"
            ) from exc
        return cls(tuple(roots), clock=clock)

    def verify_chain(
        self, leaf: CertificateInput, intermediates: Sequence[CertificateInput] = ()
    ) -> list[x509.Certificate]:
        """The verified chain from ``leaf`` to one of the CAs, or `ClientCertificateError`.

        ``intermediates`` are the other certificates the client sent (in any order; unneeded
        ones are ignored).
        """
        cert = _certificate(leaf)
        others = [_certificate(c) for c in intermediates]
        verifier = (
            PolicyBuilder()
            .store(self._store)
            .time(self.clock())
            .max_chain_depth(MAX_CHAIN_DEPTH)
            .extension_policies(ca_policy=_CA_POLICY, ee_policy=_EE_POLICY)
            .build_client_verifier()
        )
        try:
            return list(verifier.verify(cert, others).chain)
        except VerificationError as exc:
            raise ClientCertificateError(f"client certificate not trusted: {exc}") from exc

    def user_from_certificate(
        self, leaf: CertificateInput, intermediates: Sequence[CertificateInput] = ()
    ) -> UserInfo:
        """The user of a client certificate after verifying its chain; else raises."""
        chain = self.verify_chain(leaf, intermediates)
        user = certificate_user(chain[0])
        if user is None:
            raise ClientCertificateError("client certificate has no common name")
        return user

    def authenticate_certificate(
        self, leaf: CertificateInput, intermediates: Sequence[CertificateInput] = ()
    ) -> Authenticated | None:
        """As `user_from_certificate`, with None instead of an exception (then: 401)."""
        try:
            user = self.user_from_certificate(leaf, intermediates)
        except ClientCertificateError:
            return None
        return Authenticated(user=user, source=SOURCE)


@dataclass(frozen=True, slots=True)
class _Remembered:
    found: Authenticated | None
    not_before: dt.datetime
    not_after: dt.datetime


class ClientCertificates:
    """The `CertificateSource` of ``--client-ca-file``: verifies chains, remembers verified ones.

    A remembered chain is used again only while every certificate in it is valid; after that
    it is verified anew (and refused). Chains that fail are not remembered. At most
    ``cache_size`` chains are kept, the least recently used go first. For one event loop.
    """

    def __init__(self, cas: ClientCAs, *, cache_size: int = 1024) -> None:
        if cache_size < 1:
            raise ValueError("cache_size must be positive")
        self.cas = cas
        self._cache_size = cache_size
        self._cache: OrderedDict[bytes, _Remembered] = OrderedDict()

    def authenticate_chain(self, chain: Sequence[bytes]) -> Authenticated | None:
        """The user of a chain (DER, leaf first); None without CN; else `ClientCertificateError`."""
        if not chain:
            return None
        key = hashlib.sha256(b"".join(len(c).to_bytes(4, "big") + c for c in chain)).digest()
        now = self.cas.clock()
        remembered = self._cache.get(key)
        if remembered is not None and remembered.not_before <= now <= remembered.not_after:
            self._cache.move_to_end(key)
            return remembered.found
        self._cache.pop(key, None)
        verified = self.cas.verify_chain(chain[0], chain[1:])
        user = certificate_user(verified[0])
        found = None if user is None else Authenticated(user=user, source=SOURCE)
        self._cache[key] = _Remembered(
            found,
            max(c.not_valid_before_utc for c in verified),
            min(c.not_valid_after_utc for c in verified),
        )
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
        return found


__all__ = [
    "ClientCAs",
    "ClientCertificateError",
    "ClientCertificates",
    "certificate_user",
]
