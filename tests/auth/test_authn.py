"""Authentication sources as a library: token file, service-account JWTs, client certificates,
the union of them and the failed-authentication limiter.

Why this module exists: these are the doors into every workspace, so they are tested as an
attacker would use them: every part of a JWT tampered with, tokens replayed after expiry and in
other workspaces, certificate chains with the wrong CA, usages or validity (made here with
``cryptography``), and token files with every CSV oddity.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import json
import stat
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID, ObjectIdentifier

from kcp_edge.auth import TokenAuthenticator, UserInfo
from kcp_edge.auth.admin_token import AdminToken
from kcp_edge.auth.clientcerts import ClientCAs, ClientCertificateError, certificate_user
from kcp_edge.auth.serviceaccounts import (
    DEFAULT_ISSUER,
    LEGACY_ISSUER,
    BoundObject,
    ServiceAccountTokenError,
    TokenIssuer,
    TokenRequest,
    TokenRequestError,
    WrongClusterError,
    load_or_create_signing_key,
)
from kcp_edge.auth.tokenfile import StaticTokens, TokenFileError
from kcp_edge.auth.union import (
    Authenticated,
    FailedAuthLimiter,
    PlainTokenSource,
    TokenRejectedError,
    TokenSource,
    UnionAuthenticator,
)

AUTH = "system:authenticated"
T0 = 1_700_000_000.0


class FakeClock:
    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- helpers: JWTs made by hand, as an attacker would -----------------------------------------


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def parts(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes]:
    h, p, s = token.split(".")
    return json.loads(unb64(h)), json.loads(unb64(p)), unb64(s)


def es256(key: ec.EllipticCurvePrivateKey, header: dict[str, Any], claims: dict[str, Any]) -> str:
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(claims).encode())}"
    r, s = decode_dss_signature(key.sign(signing_input.encode(), ec.ECDSA(hashes.SHA256())))
    return f"{signing_input}.{b64(r.to_bytes(32, 'big') + s.to_bytes(32, 'big'))}"


def with_part(token: str, index: int, value: str) -> str:
    pieces = token.split(".")
    pieces[index] = value
    return ".".join(pieces)


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def issuer(key: ec.EllipticCurvePrivateKey, clock: FakeClock) -> TokenIssuer:
    return TokenIssuer(key, clock=clock)


def sa_token(issuer: TokenIssuer, cluster: str = "root:org:team", **kw: Any) -> str:
    args: dict[str, Any] = {
        "cluster": cluster,
        "namespace": "default",
        "sa_name": "builder",
        "sa_uid": "uid-1",
        **kw,
    }
    return issuer.issue(**args)


# -- static token file -----------------------------------------------------------------------


def test_token_file_users_groups_and_uid() -> None:
    tokens = StaticTokens.parse(
        'user-1-token,user-1,1111,"team-1"\n'
        "user-2-token,user-2,2222\n"
        'admin-token,admin,3333,"system:masters,team-1"\n'
    )
    assert len(tokens) == 3
    assert tokens.authenticate_token("user-1-token") == UserInfo("user-1", ("team-1", AUTH))
    assert tokens.authenticate_token("user-2-token") == UserInfo("user-2", (AUTH,))
    admin = tokens.authenticate_token("admin-token")
    assert admin == UserInfo("admin", ("system:masters", "team-1", AUTH))
    found = tokens.authenticate("user-1-token", cluster="root:any")
    assert found == Authenticated(
        user=UserInfo("user-1", ("team-1", AUTH)), source="token-file", uid="1111"
    )
    assert found.cluster is None


@pytest.mark.parametrize(
    "guess", ["", "user-1-toke", "user-1-token ", "USER-1-TOKEN", "user-1-tokenx", "user-1"]
)
def test_token_file_rejects_near_misses(guess: str) -> None:
    tokens = StaticTokens.parse("user-1-token,user-1,1111\n")
    assert tokens.authenticate_token(guess) is None
    assert tokens.authenticate(guess, cluster="root") is None


def test_token_file_csv_quoting_comments_blank_lines_whitespace_bom() -> None:
    text = (
        '\ufeff# a comment, with "quotes" and commas\n'
        "\n"
        "   \n"
        "  # indented comment\n"
        '"tok,with,commas","alice ""the admin""",u-1, "g1, g2 ,,g3"\n'
        'tok-2 , bob , u-2 ,"",extra, columns\n'
        'tok-3,carol,u-3,"' + AUTH + ',g1"\n'
    )
    tokens = StaticTokens.parse(text)
    alice = tokens.lookup("tok,with,commas")
    assert alice is not None
    assert alice.user == UserInfo('alice "the admin"', ("g1", "g2", "g3", AUTH))
    assert (alice.uid, alice.line) == ("u-1", 5)
    bob = tokens.lookup("tok-2")
    assert bob is not None and bob.user == UserInfo("bob", (AUTH,)) and bob.line == 6
    assert tokens.authenticate_token("tok-3") == UserInfo("carol", (AUTH, "g1"))
    assert tokens.warnings == ()


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("ok,user,1\nonly,two\n", 2, "at least 3 columns (token, user name, user uid), found 2"),
        ("# c\n\nlonely\n", 3, "found 1"),
        ("tok,,uid\n", 1, "the user name must not be empty"),
        ('ok,user,1\n"tok"x,user,uid\n', 2, "malformed CSV"),
        ('ok,user,1\ntok,"user,uid\n', 2, "malformed CSV"),
        ('tok,"us\ner",uid\nok,user,1\n', 1, "must not span lines"),
    ],
)
def test_token_file_errors_name_the_line(text: str, line: int, message: str) -> None:
    with pytest.raises(TokenFileError) as info:
        StaticTokens.parse(text, source="tokens.csv")
    assert str(info.value).startswith(f"tokens.csv:{line}: ")
    assert message in str(info.value)


def test_token_file_empty_and_duplicate_tokens_warn_like_upstream() -> None:
    tokens = StaticTokens.parse("dup,first,1\n,nobody,2\ndup,second,3\n", source="f.csv")
    assert tokens.authenticate_token("dup") == UserInfo("second", (AUTH,))
    assert tokens.authenticate_token("") is None
    assert tokens.warnings == (
        "f.csv:2: empty token, line skipped",
        "f.csv:3: token already used on line 1; this line wins",
    )


def test_token_file_load(tmp_path: Path) -> None:
    path = tmp_path / "tokens.csv"
    path.write_text('secret,alice,1,"devs"\n')
    tokens = StaticTokens.load(path)
    assert tokens.source == str(path)
    assert tokens.authenticate_token("secret") == UserInfo("alice", ("devs", AUTH))
    assert "secret" not in repr(tokens)
    with pytest.raises(TokenFileError, match="cannot read the token file"):
        StaticTokens.load(tmp_path / "missing.csv")
    path.write_bytes(b"\xff\xfe,bad\n")
    with pytest.raises(TokenFileError, match="cannot read the token file"):
        StaticTokens.load(path)


def test_token_file_is_a_token_authenticator() -> None:
    authenticator: TokenAuthenticator = StaticTokens.parse("t,u,1\n")
    source: TokenSource = StaticTokens.parse("t,u,1\n")
    assert authenticator.authenticate_token("t") is not None
    assert source.authenticate("t", cluster="root") is not None


# -- service-account tokens: issuing ---------------------------------------------------------


def test_bound_token_claims_are_kubernetes_and_kcp_shaped(
    issuer: TokenIssuer, clock: FakeClock
) -> None:
    token = sa_token(issuer, audiences=["api", "vault"], expiration_seconds=1200)
    header, claims, signature = parts(token)
    assert header == {"alg": "ES256", "kid": issuer.key_id}
    assert len(signature) == 64
    jti = claims.pop("jti")
    assert isinstance(jti, str) and len(jti) == 36
    assert claims == {
        "aud": ["api", "vault"],
        "exp": int(T0) + 1200,
        "iat": int(T0),
        "nbf": int(T0),
        "iss": DEFAULT_ISSUER,
        "sub": "system:serviceaccount:default:builder",
        "kubernetes.io": {
            "namespace": "default",
            "serviceaccount": {"name": "builder", "uid": "uid-1"},
            "clusterName": "root:org:team",
        },
    }


def test_bound_token_verifies_to_the_service_account(issuer: TokenIssuer) -> None:
    token = sa_token(issuer)
    identity = issuer.verify(token, cluster_of_request="root:org:team")
    assert identity is not None
    assert identity.user == UserInfo(
        "system:serviceaccount:default:builder",
        ("system:serviceaccounts", "system:serviceaccounts:default", AUTH),
    )
    assert (identity.cluster, identity.namespace, identity.name, identity.uid) == (
        "root:org:team",
        "default",
        "builder",
        "uid-1",
    )
    assert not identity.legacy and identity.expires_at == int(T0) + 3600
    _, claims, _ = parts(token)
    assert identity.extra == {
        "authentication.kubernetes.io/cluster-name": ("root:org:team",),
        "authentication.kubernetes.io/credential-id": (f"JTI={claims['jti']}",),
    }
    found = issuer.authenticate(token, cluster="root:org:team")
    assert found is not None
    assert (found.source, found.uid, found.cluster, found.user) == (
        "service-account",
        "uid-1",
        "root:org:team",
        identity.user,
    )
    assert issuer.cluster_of(token) == "root:org:team"


def test_pod_bound_token_carries_the_pod(issuer: TokenIssuer) -> None:
    pod = BoundObject("Pod", "web-0", "pod-uid")
    token = sa_token(issuer, bound_object=pod)
    assert parts(token)[1]["kubernetes.io"]["pod"] == {"name": "web-0", "uid": "pod-uid"}
    identity = issuer.verify(token, cluster_of_request="root:org:team")
    assert identity is not None and identity.bound_object == pod
    assert identity.extra["authentication.kubernetes.io/pod-name"] == ("web-0",)
    assert identity.extra["authentication.kubernetes.io/pod-uid"] == ("pod-uid",)
    with pytest.raises(ValueError, match="cannot bind"):
        sa_token(issuer, bound_object=BoundObject("ConfigMap", "x", "y"))


@pytest.mark.parametrize("missing", ["cluster", "namespace", "sa_name", "sa_uid"])
def test_issue_refuses_empty_fields(issuer: TokenIssuer, missing: str) -> None:
    with pytest.raises(ValueError, match=f"{missing} must not be empty"):
        sa_token(issuer, **{missing: ""})
    with pytest.raises(ValueError, match="positive"):
        sa_token(issuer, expiration_seconds=0)


# -- service-account tokens: what must be refused --------------------------------------------


def test_token_from_one_workspace_never_works_in_another(issuer: TokenIssuer) -> None:
    token = sa_token(issuer, cluster="root:org-a:team")
    # same namespace, same service account name, same uid: still another workspace
    for other in ("root:org-b:team", "root:org-a", "root:org-a:team2", "root", "*", ""):
        with pytest.raises(WrongClusterError) as info:
            issuer.verify(token, cluster_of_request=other)
        assert info.value.identity.cluster == "root:org-a:team"
        assert isinstance(info.value, TokenRejectedError)
        with pytest.raises(ServiceAccountTokenError):
            issuer.authenticate(token, cluster=other)
    assert issuer.verify(token, cluster_of_request="root:org-a:team") is not None


def test_expiry_with_a_fake_clock(issuer: TokenIssuer, clock: FakeClock) -> None:
    token = sa_token(issuer, expiration_seconds=600)
    assert issuer.verify(token, cluster_of_request="root:org:team") is not None  # now cached
    clock.now = T0 + 600 + 60  # exp plus the 60 s leeway: still valid
    assert issuer.verify(token, cluster_of_request="root:org:team") is not None
    clock.now = T0 + 600 + 61
    with pytest.raises(ServiceAccountTokenError, match="expired"):
        issuer.verify(token, cluster_of_request="root:org:team")
    assert issuer.cluster_of(token) is None
    clock.now = T0  # a clock going back does not resurrect it from a cache, only re-verifies
    assert issuer.verify(token, cluster_of_request="root:org:team") is not None


def test_not_yet_valid(key: ec.EllipticCurvePrivateKey) -> None:
    future = FakeClock(T0 + 3600)
    token = sa_token(TokenIssuer(key, clock=future))
    now = TokenIssuer(key, clock=FakeClock(T0))
    with pytest.raises(ServiceAccountTokenError, match="not valid yet"):
        now.verify(token, cluster_of_request="root:org:team")
    assert TokenIssuer(key, clock=FakeClock(T0 + 3600 - 60)).verify(
        token, cluster_of_request="root:org:team"
    )


def test_audiences(key: ec.EllipticCurvePrivateKey) -> None:
    issuer = TokenIssuer(key, api_audiences=["https://kcp.example", "api"])
    assert parts(sa_token(issuer))[1]["aud"] == ["https://kcp.example", "api"]
    assert issuer.verify(
        sa_token(issuer, audiences=["other", "api"]), cluster_of_request="root:org:team"
    )
    with pytest.raises(ServiceAccountTokenError, match="audiences"):
        issuer.verify(sa_token(issuer, audiences=["vault"]), cluster_of_request="root:org:team")


def _resign(key: ec.EllipticCurvePrivateKey, token: str, **changes: Any) -> str:
    header, claims, _ = parts(token)
    claims.update(changes)
    return es256(key, header, claims)


def test_tampered_payload_is_refused(issuer: TokenIssuer, key: ec.EllipticCurvePrivateKey) -> None:
    token = sa_token(issuer)
    header_part, payload_part, signature_part = token.split(".")
    _, claims, _ = parts(token)
    variants: list[dict[str, Any]] = []
    for change in (
        {"kubernetes.io": {**claims["kubernetes.io"], "clusterName": "root:victim"}},
        {"kubernetes.io": {**claims["kubernetes.io"], "namespace": "kube-system"}},
        {"sub": "system:serviceaccount:default:admin"},
        {"exp": claims["exp"] + 10**6},
        {"aud": ["elsewhere", *claims["aud"]]},
    ):
        variants.append({**claims, **change})
    for forged in variants:
        payload = b64(json.dumps(forged).encode())
        with pytest.raises(ServiceAccountTokenError, match="signature"):
            issuer.verify(
                f"{header_part}.{payload}.{signature_part}", cluster_of_request="root:victim"
            )
    # a flipped character anywhere in the payload: either not even a token of ours, or refused
    for i in range(len(payload_part)):
        c = payload_part[i]
        flipped = payload_part[:i] + ("A" if c != "A" else "B") + payload_part[i + 1 :]
        with contextlib.suppress(ServiceAccountTokenError):
            assert (
                issuer.verify(with_part(token, 1, flipped), cluster_of_request="root:org:team")
                is None
            )


def test_tampered_signature_is_refused(issuer: TokenIssuer) -> None:
    token = sa_token(issuer)
    signature = token.split(".")[2]
    raw = unb64(signature)
    bad = [
        "",
        signature[:-4],
        signature + "AAAA",
        b64(bytes([raw[0] ^ 1]) + raw[1:]),
        b64(raw[:32] + bytes(32)),
        b64(bytes(64)),
        signature[:-1] + "=",
        signature[:-1] + "+",
        signature + "=",
    ]
    # the last character carries spare bits: changing them spells the same bytes differently
    last = signature[-1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for c in alphabet:
        if c != last and unb64(signature[:-1] + c) == raw:
            bad.append(signature[:-1] + c)
    for value in bad:
        with pytest.raises(ServiceAccountTokenError, match="signature"):
            issuer.verify(with_part(token, 2, value), cluster_of_request="root:org:team")


def test_tampered_header_is_refused(issuer: TokenIssuer, key: ec.EllipticCurvePrivateKey) -> None:
    token = sa_token(issuer)
    header, claims, _ = parts(token)
    payload_part, signature_part = token.split(".")[1:]
    for forged_header, reason in (
        ({"alg": "none"}, "algorithm"),
        ({"alg": "HS256", "kid": issuer.key_id}, "algorithm"),
        ({"alg": "RS256", "kid": issuer.key_id}, "algorithm"),
        ({"alg": "ES256", "kid": "someone-else"}, "unknown key"),
        ({"alg": "ES256", "kid": issuer.key_id, "crit": ["exp"]}, "unsupported"),
        ({"alg": "ES256", "typ": "JWE"}, "unsupported"),
        ({**header, "extra": 1}, "signature"),
    ):
        forged = b64(json.dumps(forged_header).encode())
        with pytest.raises(ServiceAccountTokenError, match=reason):
            issuer.verify(
                f"{forged}.{payload_part}.{signature_part}", cluster_of_request="root:org:team"
            )
    # alg "none" with an empty signature, the classic
    none = b64(json.dumps({"alg": "none"}).encode())
    with pytest.raises(ServiceAccountTokenError):
        issuer.verify(f"{none}.{payload_part}.", cluster_of_request="root:org:team")
    for garbage in ("", "e30", "W10", "!!!", header_part_flip(token)):
        with pytest.raises(ServiceAccountTokenError):
            issuer.verify(with_part(token, 0, garbage), cluster_of_request="root:org:team")
    # the same claims signed by another key of the same issuer name
    other = ec.generate_private_key(ec.SECP256R1())
    with pytest.raises(ServiceAccountTokenError, match="signature"):
        issuer.verify(es256(other, header, claims), cluster_of_request="root:org:team")
    # and re-signed correctly by our key, the claims are fine: the checks above were real
    assert issuer.verify(es256(key, header, claims), cluster_of_request="root:org:team")


def header_part_flip(token: str) -> str:
    h = token.split(".", maxsplit=1)[0]
    return h[:-2] + ("A" if h[-2] != "A" else "B") + h[-1]


def test_tokens_that_are_not_ours_are_left_to_other_sources(
    issuer: TokenIssuer, key: ec.EllipticCurvePrivateKey
) -> None:
    token = sa_token(issuer)
    _, claims, _ = parts(token)
    foreign = es256(key, {"alg": "ES256"}, {**claims, "iss": "https://accounts.example"})
    for value in (
        "user-1-token",
        "a.b.c",
        "a.b",
        "a.b.c.d",
        token + ".x",
        "...",
        foreign,
        with_part(token, 1, b64(b"[1,2]")),
        with_part(token, 1, b64(b"not json")),
        with_part(
            token, 1, b64(json.dumps({k: v for k, v in claims.items() if k != "iss"}).encode())
        ),
    ):
        assert issuer.verify(value, cluster_of_request="root:org:team") is None
        assert issuer.authenticate(value, cluster="root:org:team") is None
        assert issuer.cluster_of(value) is None


@pytest.mark.parametrize(
    "change",
    [
        {"kubernetes.io": None},
        {"kubernetes.io": "x"},
        {"kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "b", "uid": "u"}}},
        {"sub": "system:serviceaccount:other:builder"},
        {"exp": "tomorrow"},
        {"exp": True},
        {"aud": 3},
        {"aud": []},
        {"nbf": "now"},
    ],
)
def test_well_signed_but_malformed_claims_are_refused(
    issuer: TokenIssuer, key: ec.EllipticCurvePrivateKey, change: dict[str, Any]
) -> None:
    forged = _resign(key, sa_token(issuer), **change)
    with pytest.raises(ServiceAccountTokenError):
        issuer.verify(forged, cluster_of_request="root:org:team")


def test_verified_tokens_are_cached_by_content(
    issuer: TokenIssuer, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = sa_token(issuer)
    calls: list[bytes] = []
    original = issuer._signature_valid

    def counting(data: bytes, signature: bytes) -> bool:
        calls.append(data)
        return original(data, signature)

    monkeypatch.setattr(issuer, "_signature_valid", counting)
    for _ in range(3):
        assert issuer.verify(token, cluster_of_request="root:org:team") is not None
    assert len(calls) == 1
    with pytest.raises(ServiceAccountTokenError):  # a tampered twin is not a cache hit
        issuer.verify(with_part(token, 2, b64(bytes(64))), cluster_of_request="root:org:team")
    assert len(calls) == 2


def test_cache_is_bounded(key: ec.EllipticCurvePrivateKey) -> None:
    issuer = TokenIssuer(key, cache_size=2)
    tokens = [sa_token(issuer, sa_uid=f"u{i}") for i in range(5)]
    for token in tokens:
        assert issuer.verify(token, cluster_of_request="root:org:team") is not None
    assert len(issuer._cache) == 2


# -- legacy (Secret) tokens ------------------------------------------------------------------


def test_legacy_secret_token(issuer: TokenIssuer) -> None:
    token = issuer.issue_legacy(
        cluster="root:org",
        namespace="ns",
        sa_name="syncer",
        sa_uid="u-9",
        secret_name="syncer-token-x",
    )
    _, claims, _ = parts(token)
    assert claims == {
        "iss": LEGACY_ISSUER,
        "sub": "system:serviceaccount:ns:syncer",
        "kubernetes.io/serviceaccount/namespace": "ns",
        "kubernetes.io/serviceaccount/secret.name": "syncer-token-x",
        "kubernetes.io/serviceaccount/service-account.name": "syncer",
        "kubernetes.io/serviceaccount/service-account.uid": "u-9",
        "kubernetes.io/serviceaccount/clusterName": "root:org",
    }
    identity = issuer.verify(token, cluster_of_request="root:org")
    assert identity is not None and identity.legacy and identity.expires_at is None
    assert (identity.secret_name, identity.uid) == ("syncer-token-x", "u-9")
    assert identity.extra == {"authentication.kubernetes.io/cluster-name": ("root:org",)}
    with pytest.raises(WrongClusterError):
        issuer.verify(token, cluster_of_request="root:other")
    strict = TokenIssuer(issuer._key, accept_legacy=False)
    assert strict.verify(token, cluster_of_request="root:org") is None


def test_legacy_token_without_cluster_is_refused(
    issuer: TokenIssuer, key: ec.EllipticCurvePrivateKey
) -> None:
    token = issuer.issue_legacy(
        cluster="root:org", namespace="ns", sa_name="s", sa_uid="u", secret_name="t"
    )
    header, claims, _ = parts(token)
    del claims["kubernetes.io/serviceaccount/clusterName"]  # an upstream Kubernetes token
    with pytest.raises(ServiceAccountTokenError, match="cluster"):
        issuer.verify(es256(key, header, claims), cluster_of_request="root:org")


# -- keys ------------------------------------------------------------------------------------


def test_signing_key_is_made_once_and_private(tmp_path: Path) -> None:
    path = tmp_path / "sa.key"
    first = load_or_create_signing_key(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    second = load_or_create_signing_key(path)
    assert TokenIssuer(first).key_id == TokenIssuer(second).key_id
    token = TokenIssuer(first).issue(cluster="c", namespace="n", sa_name="s", sa_uid="u")
    assert TokenIssuer(second).verify(token, cluster_of_request="c") is not None
    path.write_text("garbage")
    with pytest.raises(ValueError, match="cannot read the service-account key"):
        load_or_create_signing_key(path)
    p384 = ec.generate_private_key(ec.SECP384R1())
    path.write_bytes(
        p384.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    with pytest.raises(ValueError, match="P-256"):
        load_or_create_signing_key(path)


def test_rsa_keys_sign_rs256() -> None:
    key = rsa.generate_private_key(65537, 2048)
    issuer = TokenIssuer(key)
    token = issuer.issue(cluster="c", namespace="n", sa_name="s", sa_uid="u")
    assert parts(token)[0]["alg"] == "RS256"
    assert issuer.verify(token, cluster_of_request="c") is not None
    es = TokenIssuer(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ServiceAccountTokenError, match="algorithm"):
        es.verify(token, cluster_of_request="c")
    with pytest.raises(ServiceAccountTokenError, match="algorithm"):
        issuer.verify(
            es.issue(cluster="c", namespace="n", sa_name="s", sa_uid="u"), cluster_of_request="c"
        )
    with pytest.raises(ValueError, match="2048"):
        TokenIssuer(rsa.generate_private_key(65537, 1024))
    with pytest.raises(ValueError, match="issuer"):
        TokenIssuer(key, LEGACY_ISSUER)


# -- TokenRequest ----------------------------------------------------------------------------


def test_token_request_as_kubectl_create_token(issuer: TokenIssuer) -> None:
    body = {
        "kind": "TokenRequest",
        "apiVersion": "authentication.k8s.io/v1",
        "metadata": {},
        "spec": {},
    }
    request = TokenRequest.from_body(body)
    assert (request.audiences, request.expiration_seconds, request.bound_object_ref) == (
        (),
        3600,
        None,
    )
    answer = request.respond(
        issuer, cluster="root:org", namespace="default", sa_name="default", sa_uid="u"
    )
    assert answer["kind"] == "TokenRequest"
    assert answer["apiVersion"] == "authentication.k8s.io/v1"
    assert answer["metadata"] == {
        "name": "default",
        "namespace": "default",
        "creationTimestamp": None,
    }
    assert answer["spec"] == {"audiences": [DEFAULT_ISSUER], "expirationSeconds": 3600}
    expected = dt.datetime.fromtimestamp(T0 + 3600, tz=dt.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )
    assert answer["status"]["expirationTimestamp"] == expected
    identity = issuer.verify(answer["status"]["token"], cluster_of_request="root:org")
    assert identity is not None and identity.expires_at == int(T0) + 3600


def test_token_request_bound_to_a_secret(issuer: TokenIssuer) -> None:
    request = TokenRequest.from_body(
        {
            "spec": {
                "audiences": ["x"],
                "expirationSeconds": 600,
                "boundObjectRef": {"kind": "Secret", "apiVersion": "v1", "name": "s"},
            }
        }
    )
    with pytest.raises(ValueError, match="bound_object"):
        request.respond(issuer, cluster="c", namespace="n", sa_name="s", sa_uid="u")
    answer = request.respond(
        issuer,
        cluster="c",
        namespace="n",
        sa_name="sa",
        sa_uid="u",
        bound_object=BoundObject("Secret", "s", "sid"),
    )
    assert answer["spec"]["boundObjectRef"] == {
        "kind": "Secret",
        "apiVersion": "v1",
        "name": "s",
        "uid": "sid",
    }
    _, claims, _ = parts(answer["status"]["token"])
    assert claims["kubernetes.io"]["secret"] == {"name": "s", "uid": "sid"}
    assert claims["aud"] == ["x"]


@pytest.mark.parametrize(
    ("spec", "field", "detail"),
    [
        ({"expirationSeconds": 599}, "spec.expirationSeconds", "less than 10 minutes"),
        ({"expirationSeconds": 2**32 + 1}, "spec.expirationSeconds", "larger than 2^32 seconds"),
        ({"expirationSeconds": "600"}, "spec.expirationSeconds", "integer"),
        ({"audiences": "api"}, "spec.audiences", "list of strings"),
        ({"audiences": [""]}, "spec.audiences", "list of strings"),
        ({"boundObjectRef": {"kind": "ConfigMap", "name": "x"}}, "spec.boundObjectRef.kind", "Pod"),
        (
            {"boundObjectRef": {"kind": "Pod", "apiVersion": "v2", "name": "x"}},
            "spec.boundObjectRef.kind",
            "v1",
        ),
        ({"boundObjectRef": {"kind": "Pod"}}, "spec.boundObjectRef.name", "required"),
        ({"boundObjectRef": "pod"}, "spec.boundObjectRef", "reference"),
    ],
)
def test_token_request_validation(spec: dict[str, Any], field: str, detail: str) -> None:
    with pytest.raises(TokenRequestError) as info:
        TokenRequest.from_body({"spec": spec})
    assert info.value.field == field
    assert detail in info.value.detail


# -- client certificates ---------------------------------------------------------------------

NOW = dt.datetime(2030, 1, 1, tzinfo=dt.timezone.utc)
DAY = dt.timedelta(days=1)


def _name(cn: str | None, orgs: tuple[str, ...] = ()) -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    if cn is not None:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


class Issued:
    def __init__(self, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey) -> None:
        self.cert, self.key = cert, key


def make_cert(
    subject: x509.Name,
    issuer: Issued | None = None,
    *,
    ca: bool | None = False,
    path_length: int | None = None,
    eku: list[ObjectIdentifier] | None = None,
    key_usage_cert_sign: bool | None = None,
    not_before: dt.datetime = NOW - DAY,
    not_after: dt.datetime = NOW + DAY,
    extra: x509.ExtensionType | None = None,
) -> Issued:
    key = ec.generate_private_key(ec.SECP256R1())
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.cert.subject if issuer else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
    )
    if ca is not None:
        builder = builder.add_extension(
            x509.BasicConstraints(ca=ca, path_length=path_length), critical=True
        )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if key_usage_cert_sign is not None:
        builder = builder.add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=key_usage_cert_sign,
                crl_sign=key_usage_cert_sign,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
    if extra is not None:
        builder = builder.add_extension(extra, critical=True)
    signer = issuer.key if issuer is not None else key
    return Issued(builder.sign(signer, hashes.SHA256()), key)


@pytest.fixture(scope="module")
def root() -> Issued:
    return make_cert(_name("client-ca"), ca=True, key_usage_cert_sign=True)


@pytest.fixture
def cas(root: Issued) -> ClientCAs:
    return ClientCAs((root.cert,), clock=lambda: NOW)


CLIENT = [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_client_certificate_user_is_cn_and_groups_are_o(cas: ClientCAs, root: Issued) -> None:
    leaf = make_cert(_name("alice", ("team-1", "system:masters")), root, eku=CLIENT)
    expected = UserInfo("alice", ("team-1", "system:masters", AUTH))
    assert cas.user_from_certificate(leaf.cert) == expected
    der = leaf.cert.public_bytes(serialization.Encoding.DER)
    assert cas.user_from_certificate(der) == expected
    assert cas.verify_chain(der)[-1] == root.cert
    found = cas.authenticate_certificate(leaf.cert)
    assert found == Authenticated(user=expected, source="x509")


def test_client_certificate_without_extensions_like_openssl_makes_them(
    cas: ClientCAs, root: Issued
) -> None:
    leaf = make_cert(_name("bob"), root, ca=None)
    assert cas.user_from_certificate(leaf.cert) == UserInfo("bob", (AUTH,))
    any_usage = make_cert(_name("carol"), root, eku=[ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE])
    assert cas.user_from_certificate(any_usage.cert).name == "carol"


def test_client_certificate_through_an_intermediate(cas: ClientCAs, root: Issued) -> None:
    mid = make_cert(_name("intermediate"), root, ca=True, key_usage_cert_sign=True)
    leaf = make_cert(_name("dave", ("ops",)), mid, eku=CLIENT)
    unrelated = make_cert(_name("noise"), root, ca=True)
    chain = cas.verify_chain(leaf.cert, [unrelated.cert, mid.cert])
    assert [c.subject for c in chain] == [leaf.cert.subject, mid.cert.subject, root.cert.subject]
    assert cas.user_from_certificate(leaf.cert, [mid.cert]) == UserInfo("dave", ("ops", AUTH))
    with pytest.raises(ClientCertificateError, match="not trusted"):
        cas.user_from_certificate(leaf.cert)  # the intermediate was not sent


def _refused(cas: ClientCAs, leaf: Issued, intermediates: list[Issued] | None = None) -> str:
    others = [i.cert for i in intermediates or []]
    with pytest.raises(ClientCertificateError) as info:
        cas.user_from_certificate(leaf.cert, others)
    assert cas.authenticate_certificate(leaf.cert, others) is None
    return str(info.value)


def test_client_certificates_that_are_refused(cas: ClientCAs, root: Issued) -> None:
    other_ca = make_cert(_name("client-ca"), ca=True, key_usage_cert_sign=True)  # same name!
    _refused(cas, make_cert(_name("eve"), other_ca, eku=CLIENT))
    eku = _refused(cas, make_cert(_name("eve"), root, eku=[ExtendedKeyUsageOID.SERVER_AUTH]))
    assert "does not allow client authentication" in eku
    _refused(cas, make_cert(_name("eve"), root, not_before=NOW - 3 * DAY, not_after=NOW - DAY))
    _refused(cas, make_cert(_name("eve"), root, not_before=NOW + DAY, not_after=NOW + 3 * DAY))
    _refused(
        cas,
        make_cert(
            _name("eve"),
            root,
            extra=x509.UnrecognizedExtension(ObjectIdentifier("1.2.3.4"), b"\x05\x00"),
        ),
    )
    self_signed = make_cert(_name("client-ca"), ca=True, key_usage_cert_sign=True)
    _refused(cas, self_signed)
    assert "common name" in _refused(cas, make_cert(_name(None, ("team",)), root, eku=CLIENT))


def test_intermediates_must_be_cas_for_client_auth(cas: ClientCAs, root: Issued) -> None:
    for mid, reason in (
        (make_cert(_name("not-a-ca"), root, ca=False), "basicConstraints.cA"),
        (make_cert(_name("no-constraints"), root, ca=None), "2.5.29.19"),
        (
            make_cert(_name("no-cert-sign"), root, ca=True, key_usage_cert_sign=False),
            "does not allow signing certificates",
        ),
        (
            make_cert(_name("server-only"), root, ca=True, eku=[ExtendedKeyUsageOID.SERVER_AUTH]),
            "does not allow client authentication",
        ),
    ):
        assert reason in _refused(cas, make_cert(_name("mallory"), mid, eku=CLIENT), [mid])
    limited_root = make_cert(_name("limited"), ca=True, path_length=0)
    limited = ClientCAs((limited_root.cert,), clock=lambda: NOW)
    mid = make_cert(_name("mid"), limited_root, ca=True)
    _refused(limited, make_cert(_name("mallory"), mid), [mid])


def test_tampered_client_certificate(cas: ClientCAs, root: Issued) -> None:
    leaf = make_cert(_name("alice", ("dev",)), root, eku=CLIENT)
    der = bytearray(leaf.cert.public_bytes(serialization.Encoding.DER))
    index = der.find(b"dev")
    der[index : index + 3] = b"ops"  # promote oneself to another group
    with pytest.raises(ClientCertificateError):
        cas.user_from_certificate(bytes(der))
    with pytest.raises(ClientCertificateError, match="malformed"):
        cas.user_from_certificate(b"\x30\x03junk")


def test_client_ca_file(tmp_path: Path, root: Issued) -> None:
    path = tmp_path / "ca.crt"
    other = make_cert(_name("second-ca"), ca=True)
    path.write_bytes(
        b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (root.cert, other.cert))
    )
    cas = ClientCAs.load(path, clock=lambda: NOW)
    assert cas.roots == (root.cert, other.cert)
    leaf = make_cert(_name("zoe"), other, eku=CLIENT)
    assert cas.user_from_certificate(leaf.cert).name == "zoe"
    path.write_text("no pem here")
    with pytest.raises(ClientCertificateError, match="no valid PEM"):
        ClientCAs.load(path)
    with pytest.raises(ClientCertificateError, match="cannot read"):
        ClientCAs.load(tmp_path / "missing.crt")
    with pytest.raises(ClientCertificateError, match="no certificate"):
        ClientCAs(())


def test_certificate_user_mapping(root: Issued) -> None:
    assert certificate_user(make_cert(_name("x", ("a", "a", AUTH)), root).cert) == UserInfo(
        "x", ("a", AUTH)
    )
    assert certificate_user(make_cert(_name(None), root).cert) is None


# -- the union -------------------------------------------------------------------------------


class Rejecting:
    def __init__(self) -> None:
        self.calls = 0

    def authenticate(self, token: str, *, cluster: str) -> Authenticated | None:
        self.calls += 1
        if token.startswith("bad"):
            raise TokenRejectedError("bad token")
        return None


def test_union_first_source_that_recognises_wins(issuer: TokenIssuer) -> None:
    admin = AdminToken("admin-secret")
    tokens = StaticTokens.parse('user-1-token,user-1,1111,"team-1"\nadmin-secret,impostor,0\n')
    union = UnionAuthenticator([PlainTokenSource(admin, "admin"), tokens, issuer])
    found = union.authenticate("admin-secret", cluster="root")
    assert found == Authenticated(
        user=UserInfo("system:apiserver", ("system:masters", AUTH)), source="admin"
    )
    user = union.authenticate("user-1-token", cluster="root:org")
    assert user is not None and user.user.name == "user-1" and user.uid == "1111"
    token = sa_token(issuer)
    sa = union.authenticate(token, cluster="root:org:team")
    assert sa is not None and sa.source == "service-account" and sa.cluster == "root:org:team"
    for unknown in ("", "nobody", "a.b.c", token + "x"):
        assert union.authenticate(unknown, cluster="root:org:team") is None
    # a recognised but invalid token is refused, and the reason is available for the log
    assert union.authenticate(token, cluster="root:other") is None
    with pytest.raises(WrongClusterError):
        union.authenticate_or_reject(token, cluster="root:other")


def test_union_stops_at_a_rejection() -> None:
    first, second = Rejecting(), StaticTokens.parse("bad-token,someone,1\n")
    union = UnionAuthenticator([first, second])
    assert union.authenticate("bad-token", cluster="root") is None
    with pytest.raises(TokenRejectedError, match="bad token"):
        union.authenticate_or_reject("bad-token", cluster="root")
    assert union.authenticate("ok", cluster="root") is None
    assert first.calls == 3
    assert union.authenticate_or_reject("", cluster="root") is None
    assert first.calls == 3  # an empty token is nobody's, no source is asked


# -- failed-authentication limiter -----------------------------------------------------------


def test_limiter_allows_a_burst_then_answers_retry_after() -> None:
    clock = FakeClock(0.0)
    limiter = FailedAuthLimiter(max_failures=5, per_seconds=60, clock=clock)
    for _ in range(5):
        assert limiter.retry_after("10.0.0.1") is None
        limiter.record_failure("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 12  # one try every 60/5 s
    assert limiter.retry_after("10.0.0.2") is None  # others are not affected
    clock.now = 11.0
    assert limiter.retry_after("10.0.0.1") == 1
    clock.now = 12.0
    assert limiter.retry_after("10.0.0.1") is None
    limiter.record_failure("10.0.0.1")
    assert limiter.retry_after("10.0.0.1") == 12
    limiter.record_failure("10.0.0.1")  # failing while blocked does not dig deeper than empty
    clock.now = 24.0
    assert limiter.retry_after("10.0.0.1") is None


def test_limiter_forgets_forgiven_clients_and_is_bounded() -> None:
    clock = FakeClock(0.0)
    limiter = FailedAuthLimiter(max_failures=2, per_seconds=10, max_clients=3, clock=clock)
    limiter.record_failure("a")
    assert len(limiter) == 1
    clock.now = 5.0  # refilled completely: forgotten
    assert limiter.retry_after("a") is None
    assert len(limiter) == 0
    for client in ("a", "b", "c", "d"):
        limiter.record_failure(client)
        limiter.record_failure(client)
    assert len(limiter) == 3
    assert limiter.retry_after("a") is None  # the oldest made room
    assert limiter.retry_after("d") == 5
    clock.now = 100.0
    limiter.record_failure("e")  # full buckets are dropped before anyone is evicted
    assert len(limiter) == 1


@pytest.mark.parametrize("kwargs", [{"max_failures": 0}, {"per_seconds": 0}, {"max_clients": 0}])
def test_limiter_arguments(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match="positive"):
        FailedAuthLimiter(**kwargs)
