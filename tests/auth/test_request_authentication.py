"""One request's credentials through the union: certificate first, then the bearer token, with
the failed-authentication limiter in front of the token sources.

Why this module exists: the order of the sources and what counts as a failed try decide who a
request is and whether a guesser is slowed down; both are pure functions of the credentials and
a clock, so they are tested here without a server (the wiring is tested end to end in
``tests/api/test_hardening.py``).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from kcp_edge.auth import UserInfo
from kcp_edge.auth.admin_token import AdminToken
from kcp_edge.auth.clientcerts import ClientCAs, ClientCertificateError, ClientCertificates
from kcp_edge.auth.serviceaccounts import TokenIssuer
from kcp_edge.auth.union import (
    Authenticated,
    Credentials,
    FailedAuthLimiter,
    PlainTokenSource,
    Refused,
    TokenSource,
    UnionAuthenticator,
)
from tests.auth.test_authn import (
    AUTH,
    CLIENT,
    DAY,
    NOW,
    FakeClock,
    Issued,
    _name,
    make_cert,
    sa_token,
    with_part,
)

ADMIN = "admin-secret-token"
CLUSTER = "root:org:team"


class Counting:
    """A token source that recognises nothing and counts how often it was asked."""

    def __init__(self) -> None:
        self.calls = 0

    def authenticate(self, token: str, *, cluster: str) -> Authenticated | None:
        self.calls += 1
        return None


def der(issued: Issued) -> bytes:
    return issued.cert.public_bytes(serialization.Encoding.DER)


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> dt.datetime:
        return self.now


@pytest.fixture(scope="module")
def root() -> Issued:
    return make_cert(_name("client-ca"), ca=True, key_usage_cert_sign=True)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def issuer(clock: FakeClock) -> TokenIssuer:
    return TokenIssuer(ec.generate_private_key(ec.SECP256R1()), clock=clock)


def union(
    *sources: TokenSource,
    root: Issued | None = None,
    limiter: FailedAuthLimiter | None = None,
) -> UnionAuthenticator:
    certificates = None
    if root is not None:
        certificates = ClientCertificates(ClientCAs((root.cert,), clock=lambda: NOW))
    return UnionAuthenticator(
        [PlainTokenSource(AdminToken(ADMIN), "admin"), *sources],
        certificates=certificates,
        limiter=limiter,
    )


def ask(
    authenticator: UnionAuthenticator,
    token: str | None = None,
    chain: Sequence[bytes] = (),
    *,
    client: str = "10.0.0.1",
    cluster: str = CLUSTER,
) -> Authenticated | Refused | None:
    return authenticator.authenticate_request(
        Credentials(client=client, cluster=cluster, token=token, certificate_chain=chain)
    )


def test_a_verified_certificate_decides_before_any_token(root: Issued) -> None:
    counting = Counting()
    limiter = FailedAuthLimiter(max_failures=1)
    auth = union(counting, root=root, limiter=limiter)
    carol = make_cert(_name("carol", ("team-a",)), root, eku=CLIENT)
    expected = Authenticated(user=UserInfo("carol", ("team-a", AUTH)), source="x509")
    assert ask(auth, None, [der(carol)]) == expected
    assert ask(auth, "wrong-token", [der(carol)]) == expected
    assert counting.calls == 0
    assert len(limiter) == 0


def test_a_certificate_without_common_name_leaves_it_to_the_token(root: Issued) -> None:
    auth = union(root=root)
    nameless = make_cert(_name(None, ("team-a",)), root, eku=CLIENT)
    assert ask(auth, None, [der(nameless)]) is None  # anonymous
    found = ask(auth, ADMIN, [der(nameless)])
    assert isinstance(found, Authenticated) and found.source == "admin"


def test_an_untrusted_certificate_is_401_unless_a_token_authenticates(root: Issued) -> None:
    auth = union(root=root)
    stranger = make_cert(_name("mallory", ("system:masters",)), eku=CLIENT)
    refused = ask(auth, None, [der(stranger)])
    assert isinstance(refused, Refused) and refused.retry_after is None
    assert refused.why.startswith("client certificate refused: client certificate not trusted")
    found = ask(auth, ADMIN, [der(stranger)])
    assert isinstance(found, Authenticated) and found.source == "admin"


def test_certificates_are_ignored_without_a_client_ca(root: Issued) -> None:
    carol = make_cert(_name("carol"), root, eku=CLIENT)
    assert ask(union(), None, [der(carol)]) is None


def test_over_the_limit_no_token_is_even_looked_at() -> None:
    clock = FakeClock(0.0)
    counting = Counting()
    auth = union(counting, limiter=FailedAuthLimiter(max_failures=3, clock=clock))
    for _ in range(3):
        refused = ask(auth, "guess")
        assert isinstance(refused, Refused) and refused.retry_after is None
        assert refused.why == "authentication refused: unknown token"
    asked = counting.calls
    for token in ("guess", ADMIN):
        refused = ask(auth, token)
        assert refused == Refused("too many failed authentications from 10.0.0.1", 20)
    assert counting.calls == asked
    assert isinstance(ask(auth, ADMIN, client="10.0.0.2"), Authenticated)
    assert ask(auth, None) is None  # no credential, nothing to limit: anonymous
    clock.now = 20.0
    assert isinstance(ask(auth, ADMIN), Authenticated)


def test_genuine_tokens_out_of_their_scope_are_not_counted(
    issuer: TokenIssuer, clock: FakeClock
) -> None:
    limiter = FailedAuthLimiter(max_failures=2, clock=clock)
    auth = union(issuer, limiter=limiter)
    token = sa_token(issuer, cluster=CLUSTER)
    other_audience = sa_token(issuer, cluster=CLUSTER, audiences=["vault"])
    for _ in range(5):
        for refused in (
            ask(auth, token, cluster="root:org:other"),
            ask(auth, other_audience),
        ):
            assert isinstance(refused, Refused) and refused.retry_after is None
    assert len(limiter) == 0
    clock.now += 7200  # the token (one hour) has expired
    for _ in range(5):
        refused = ask(auth, token)
        assert isinstance(refused, Refused) and "has expired" in refused.why
    assert len(limiter) == 0
    tampered = with_part(token, 2, "A" * 86)
    for _ in range(2):
        refused = ask(auth, tampered)
        assert refused == Refused("authentication refused: invalid token signature")
    refused = ask(auth, tampered)
    assert isinstance(refused, Refused) and refused.retry_after is not None


def test_an_empty_token_is_no_credential() -> None:
    limiter = FailedAuthLimiter(max_failures=1)
    auth = union(limiter=limiter)
    assert ask(auth, "") is None
    assert len(limiter) == 0


class CountingCAs(ClientCAs):
    calls = 0

    def verify_chain(
        self, leaf: x509.Certificate | bytes, intermediates: Sequence[x509.Certificate | bytes] = ()
    ) -> list[x509.Certificate]:
        type(self).calls += 1
        return super().verify_chain(leaf, intermediates)


def test_verified_chains_are_remembered_while_valid(root: Issued) -> None:
    clock = Clock()
    cas = CountingCAs((root.cert,), clock=clock)
    certificates = ClientCertificates(cas, cache_size=2)
    carol = make_cert(_name("carol"), root, eku=CLIENT, not_after=NOW + DAY / 2)
    for _ in range(3):
        found = certificates.authenticate_chain([der(carol)])
        assert found is not None and found.user.name == "carol"
    assert CountingCAs.calls == 1
    nameless = make_cert(_name(None), root, eku=CLIENT)
    assert certificates.authenticate_chain([der(nameless)]) is None
    assert certificates.authenticate_chain([der(nameless)]) is None
    assert CountingCAs.calls == 2
    clock.now = NOW + DAY  # carol's certificate has expired meanwhile
    with pytest.raises(ClientCertificateError, match="not trusted"):
        certificates.authenticate_chain([der(carol)])
    others = [make_cert(_name(f"u{i}"), root, eku=CLIENT) for i in range(3)]
    for other in others:
        certificates.authenticate_chain([der(other)])
    calls = CountingCAs.calls
    certificates.authenticate_chain([der(others[0])])  # evicted: at most two are kept
    assert CountingCAs.calls == calls + 1
    assert certificates.authenticate_chain([]) is None
    with pytest.raises(ValueError, match="positive"):
        ClientCertificates(cas, cache_size=0)
