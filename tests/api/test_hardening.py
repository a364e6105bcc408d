"""Hardening of the server's front door: client certificates, request-head limits, the
failed-authentication limiter, secrets kept out of the log, and private state files.

Why this module exists: these properties live below the API (the TLS layer, the HTTP/1.1
protocol, the log configuration), so only a real ``kcp start`` spoken to over real sockets shows
them. Certificates are made here with ``cryptography``; kubectl presents them from a
kubeconfig's ``client-certificate-data``. Raw TLS sockets send what no client would: 17 KiB
paths, endless headers, garbage instead of HTTP.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import os
import socket
import ssl
import stat
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from tests.conftest import (
    KUBECTL,
    KcpServer,
    free_port,
    https_request,
    run_kcp,
    running_kcp,
    start_args,
    tls_context,
)

TOKEN_FILE_TOKEN = "dora-token-5f0c2a9e71d34b8c"
NOW = dt.datetime.now(dt.timezone.utc)


class Pair(NamedTuple):
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey

    def write(self, directory: Path, name: str) -> tuple[Path, Path]:
        crt, key = directory / f"{name}.crt", directory / f"{name}.key"
        crt.write_bytes(self.cert_pem)
        key.write_bytes(self.key_pem)
        return crt, key

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    @property
    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def issue(
    cn: str | None,
    orgs: tuple[str, ...] = (),
    *,
    by: Pair | None = None,
    ca: bool = False,
    not_after: dt.datetime = NOW + dt.timedelta(days=1),
) -> Pair:
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [x509.NameAttribute(NameOID.ORGANIZATION_NAME, o) for o in orgs]
    if cn is not None:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    subject = x509.Name(attrs)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(by.cert.subject if by else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=2))
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if not ca:
        builder = builder.add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
    return Pair(builder.sign(by.key if by else key, hashes.SHA256()), key)


class Hardened(NamedTuple):
    server: KcpServer
    ca: Pair
    log: Path


@pytest.fixture(scope="module")
def hardened(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hardened]:
    """A server with a client CA and a token file, logging everything (``--v 6``: uvicorn's
    access log and its ASGI trace)."""
    base = tmp_path_factory.mktemp("hardened")
    ca = issue("test-client-ca", ca=True)
    (base / "client-ca.crt").write_bytes(ca.cert_pem)
    (base / "tokens.csv").write_text(f'{TOKEN_FILE_TOKEN},dora,uid-dora,"ops"\n')
    log = base / "kcp.log"
    with running_kcp(
        base / "kcp",
        "--client-ca-file",
        str(base / "client-ca.crt"),
        "--token-auth-file",
        str(base / "tokens.csv"),
        "--failed-auth-limit",
        "0",
        "--v",
        "6",
        log=log,
    ) as server:
        yield Hardened(server, ca, log)


def admin_token(server: KcpServer) -> str:
    config = yaml.safe_load(server.kubeconfig.read_text())
    token: str = config["users"][0]["user"]["token"]
    return token


def client_kubeconfig(server: KcpServer, pair: Pair, path: Path) -> Path:
    """The admin kubeconfig with a client certificate instead of the admin token, in root
    (which every authenticated user may enter)."""
    config = yaml.safe_load(server.kubeconfig.read_text())
    config["current-context"] = "root"
    for user in config["users"]:
        user["user"] = {
            "client-certificate-data": base64.b64encode(pair.cert_pem).decode(),
            "client-key-data": base64.b64encode(pair.key_pem).decode(),
        }
    path.write_text(json.dumps(config))
    return path


def kubectl(kubeconfig: Path, *args: str) -> subprocess.CompletedProcess[str]:
    if KUBECTL is None:
        pytest.skip("kubectl is not installed next to the Python interpreter")
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "HOME": str(kubeconfig.parent)},
    )


def tls_with(server: KcpServer, pair: Pair | None, tmp_path: Path) -> ssl.SSLContext:
    context = tls_context(server.ca_file)
    if pair is not None:
        crt, key = pair.write(tmp_path, "client")
        context.load_cert_chain(str(crt), str(key))
    return context


def call(
    server: KcpServer,
    path: str,
    *,
    context: ssl.SSLContext | None = None,
    token: str | None = None,
) -> tuple[int, dict[str, str], dict[str, Any]]:
    conn = http.client.HTTPSConnection(
        "127.0.0.1", server.port, context=context or tls_context(server.ca_file), timeout=10
    )
    try:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        conn.request("GET", path, headers=headers)
        resp = conn.getresponse()
        body = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, json.loads(body)
    finally:
        conn.close()


def whoami(done: subprocess.CompletedProcess[str]) -> list[str]:
    assert done.returncode == 0, done.stderr
    return [" ".join(line.split()) for line in done.stdout.splitlines()]


# --- client certificates ------------------------------------------------------------------------


def test_kubectl_with_a_client_certificate(hardened: Hardened, tmp_path: Path) -> None:
    carol = issue("carol", ("team-a", "team-b"), by=hardened.ca)
    config = client_kubeconfig(hardened.server, carol, tmp_path / "carol.kubeconfig")
    assert whoami(kubectl(config, "auth", "whoami")) == [
        "ATTRIBUTE VALUE",
        "Username carol",
        "Groups [team-a team-b system:authenticated]",
    ]
    done = kubectl(config, "get", "namespaces")
    assert done.returncode == 1
    assert done.stderr.strip() == (
        'Error from server (Forbidden): namespaces is forbidden: User "carol" cannot list '
        'resource "namespaces" in API group "" at the cluster scope'
    )
    root = issue("root-operator", ("system:masters",), by=hardened.ca)
    config = client_kubeconfig(hardened.server, root, tmp_path / "root.kubeconfig")
    assert kubectl(config, "auth", "can-i", "*", "*").stdout.strip() == "yes"
    assert "namespace/default" in kubectl(config, "get", "ns", "-o", "name").stdout.split()


@pytest.mark.parametrize(
    "who",
    ["another CA", "expired"],
)
def test_certificates_the_client_ca_does_not_vouch_for_fail_the_handshake(
    hardened: Hardened, tmp_path: Path, who: str
) -> None:
    # kube-apiserver asks for a certificate without verifying it in the handshake and answers
    # 401; Python's ssl module can only ask for a certificate it then verifies, so here the
    # handshake fails (the server closes the connection) and nobody is authenticated.
    if who == "another CA":
        pair = issue("mallory", ("system:masters",), by=issue("rogue-ca", ca=True))
    else:
        pair = issue("carol", by=hardened.ca, not_after=NOW - dt.timedelta(days=1))
    config = client_kubeconfig(hardened.server, pair, tmp_path / "kubeconfig")
    done = kubectl(config, "auth", "whoami")
    assert done.returncode == 1
    assert done.stderr.startswith("Unable to connect to the server: "), done.stderr
    context = tls_with(hardened.server, pair, tmp_path)
    with pytest.raises((ssl.SSLError, ConnectionError, http.client.RemoteDisconnected)):
        call(hardened.server, "/version", context=context)
    assert call(hardened.server, "/version")[0] == 200  # the server is fine


def test_a_certificate_without_common_name_names_nobody(hardened: Hardened, tmp_path: Path) -> None:
    nameless = tls_with(hardened.server, issue(None, ("team-a",), by=hardened.ca), tmp_path)
    status, _, body = call(hardened.server, "/clusters/root:default/api", context=nameless)
    assert (status, body["message"]) == (
        403,
        'forbidden: User "system:anonymous" cannot get path "/api": "root:default" workspace '
        "access not permitted",
    )
    token = admin_token(hardened.server)
    assert (
        call(hardened.server, "/clusters/root:default/api", context=nameless, token=token)[0] == 200
    )


def test_a_certificate_wins_over_a_bearer_token(hardened: Hardened, tmp_path: Path) -> None:
    carol = tls_with(hardened.server, issue("carol", by=hardened.ca), tmp_path)
    status, _, body = call(
        hardened.server, "/api/v1/namespaces", context=carol, token=admin_token(hardened.server)
    )
    assert status == 403, body  # as kube's union: x509 is asked first, and carol is carol
    assert 'User "carol" cannot list resource "namespaces"' in body["message"]


# --- request-head limits ------------------------------------------------------------------------


class Raw(NamedTuple):
    status: int
    headers: dict[str, str]
    body: dict[str, Any]
    seconds: float


def raw(server: KcpServer, data: bytes) -> Raw:
    """Send ``data`` as is over TLS and read the one answer."""
    started = time.monotonic()
    context = tls_context(server.ca_file)
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as plain,
        context.wrap_socket(plain, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(data)
        resp = http.client.HTTPResponse(tls)
        resp.begin()
        body = resp.read()
        return Raw(
            resp.status,
            {k.lower(): v for k, v in resp.getheaders()},
            json.loads(body),
            time.monotonic() - started,
        )


def request(target: bytes = b"/version", *headers: bytes) -> bytes:
    return b"GET " + target + b" HTTP/1.1\r\nHost: kcp\r\n" + b"".join(headers) + b"\r\n"


def expect_status(answer: Raw, code: int, reason: str, message: str) -> None:
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["connection"] == "close"
    assert (answer.status, answer.body) == (
        code,
        {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": message,
            "reason": reason,
            "code": code,
        },
    )


def test_a_path_up_to_16_kib_is_served_and_a_longer_one_is_414(hardened: Hardened) -> None:
    server = hardened.server
    limit = 16 * 1024
    fits = b"/version?" + b"x" * (limit - len(b"/version?"))
    assert raw(server, request(fits)).status == 200
    expect_status(
        raw(server, request(fits + b"x")),
        414,
        "RequestURITooLong",
        "the request URI is longer than 16384 bytes",
    )


def test_header_fields_are_limited_in_size_and_number(hardened: Hardened) -> None:
    server = hardened.server
    big = b"X-Big: " + b"b" * (60 * 1024) + b"\r\n"
    assert raw(server, request(b"/version", big)).status == 200
    too_large = (
        431,
        "RequestHeaderFieldsTooLarge",
        "the request line and header fields are longer than 65536 bytes",
    )
    expect_status(raw(server, request(b"/version", big, big)), *too_large)
    many = [b"X-F%d: v\r\n" % i for i in range(99)]  # and Host: 100 fields
    assert raw(server, request(b"/version", *many)).status == 200
    expect_status(
        raw(server, request(b"/version", *many, b"X-One-More: v\r\n")),
        431,
        "RequestHeaderFieldsTooLarge",
        "the request has more than 100 header fields",
    )


def test_an_endless_header_is_cut_off(hardened: Hardened) -> None:
    """A header that never ends is refused once the head passes 64 KiB, not buffered forever."""
    server = hardened.server
    context = tls_context(server.ca_file)
    started = time.monotonic()
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as plain,
        context.wrap_socket(plain, server_hostname="127.0.0.1") as tls,
    ):
        tls.sendall(b"GET /version HTTP/1.1\r\nHost: kcp\r\nX-Endless: ")
        answer = b""
        try:
            for _ in range(1024):  # up to 16 MiB
                tls.sendall(b"e" * 16384)
        except (ConnectionError, ssl.SSLError):
            pass
        try:
            while chunk := tls.recv(65536):
                answer += chunk
        except (ConnectionError, ssl.SSLError):
            pass
    assert time.monotonic() - started < 10
    # The answer is a 431 Status; if the reset raced it away, the connection is at least gone.
    assert answer == b"" or answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large")
    assert https_request(server.url, "/readyz", ca_file=server.ca_file).status == 200


def test_what_is_not_http_is_a_400_status(hardened: Hardened) -> None:
    for garbage in (
        b"HELLO\r\n\r\n",
        b"GET / HTTP/1.1\r\nNo colon here\r\n\r\n",
        b"\x00\xff\r\n\r\n",
    ):
        expect_status(
            raw(hardened.server, garbage), 400, "BadRequest", "Invalid HTTP request received."
        )


# --- the failed-authentication limiter ----------------------------------------------------------


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KcpServer]:
    base = tmp_path_factory.mktemp("limited")
    with running_kcp(base / "kcp", "--failed-auth-limit", "3", log=base / "kcp.log") as server:
        yield server


def test_too_many_failed_authentications_are_429_before_any_token_is_checked(
    limited: KcpServer,
) -> None:
    for guess in range(3):
        status, _, body = call(limited, "/version", token=f"guess-{guess}")
        assert (status, body["reason"]) == (401, "Unauthorized")
    for token in ("guess-3", admin_token(limited)):
        status, headers, body = call(limited, "/version", token=token)
        assert status == 429
        wait = int(headers["retry-after"])
        assert 1 <= wait <= 20  # one more try every 60/3 seconds
        assert body == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Too many failed authentication attempts, please try again later.",
            "reason": "TooManyRequests",
            "details": {"retryAfterSeconds": wait},
            "code": 429,
        }
    assert call(limited, "/version")[0] == 200  # anonymous: nothing to limit
    assert https_request(limited.url, "/readyz", ca_file=limited.ca_file).status == 200


# --- secrets and state on disk ------------------------------------------------------------------


def test_no_credential_reaches_the_log(hardened: Hardened) -> None:
    server = hardened.server
    admin = admin_token(server)
    secrets = {
        "admin token": admin,
        "token-file token": TOKEN_FILE_TOKEN,
        "guessed token": "guessed-4b0d6f1e2a",
        "query token": "query-token-9d2e7c41",
        "secret data": "s3cr3t-v4lue-7a1f",
    }
    sa = api(server, admin, "POST", "/api/v1/namespaces/default/serviceaccounts",
             {"metadata": {"name": "logged"}})  # fmt: skip
    assert sa[0] == 201
    status, answer = api(server, admin, "POST",
                         "/api/v1/namespaces/default/serviceaccounts/logged/token",
                         {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                          "spec": {}})  # fmt: skip
    assert status == 201
    secrets["service-account token"] = answer["status"]["token"]
    assert call(server, "/version", token=TOKEN_FILE_TOKEN)[0] == 200
    assert (
        call(server, "/clusters/root:default/version", token=secrets["service-account token"])[0]
        == 200
    )
    assert call(server, "/version", token=secrets["guessed token"])[0] == 401
    assert call(server, f"/version?access_token={secrets['query token']}")[0] == 200
    secret = {"metadata": {"name": "logged"}, "stringData": {"key": secrets["secret data"]}}
    assert api(server, admin, "POST", "/api/v1/namespaces/default/secrets", secret)[0] == 201
    assert api(server, admin, "GET", "/api/v1/namespaces/default/secrets/logged")[0] == 200
    text = hardened.log.read_text(errors="replace")
    assert '"GET /version?access_token=<redacted> HTTP/1.1" 200' in text  # the access log is on
    assert "ASGI [" in text  # and so is uvicorn's trace of every ASGI message
    leaked = [what for what, value in secrets.items() if value in text]
    encoded = base64.b64encode(secrets["secret data"].encode()).decode()
    assert leaked == [] and encoded not in text


def api(
    server: KcpServer, token: str, method: str, path: str, body: Any = None
) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPSConnection(
        "127.0.0.1", server.port, context=tls_context(server.ca_file), timeout=10
    )
    try:
        conn.request(
            method,
            f"/clusters/root:default{path}",
            body=None if body is None else json.dumps(body),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        return resp.status, json.loads(resp.read())
    finally:
        conn.close()


PRIVATE = (
    "sa.key",
    "certs/ca.key",
    "certs/apiserver.key",
    "admin.kubeconfig",
    ".admin-token-store",
)


def test_state_is_private_to_the_owner(hardened: Hardened) -> None:
    root = hardened.server.root
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    for name in PRIVATE:
        assert stat.S_IMODE((root / name).stat().st_mode) == 0o600, name
    for path in [root, *root.rglob("*")]:
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert not mode & (stat.S_IWGRP | stat.S_IWOTH), (path, oct(mode))
        if path.suffix != ".crt":  # certificates are public; nothing else is
            assert not mode & (stat.S_IRGRP | stat.S_IROTH), (path, oct(mode))


def test_flags_that_cannot_work_are_refused(tmp_path: Path) -> None:
    args = start_args(tmp_path / "kcp", free_port())
    done = run_kcp(*args, "--failed-auth-limit", "-1")
    assert done.returncode == 1
    assert done.stderr.strip() == "error: --failed-auth-limit must not be negative (0: no limit)"
    (tmp_path / "not-pem.crt").write_text("nothing here")
    for path, why in (
        (tmp_path / "missing.crt", "cannot read the client CA file {}: "),
        (tmp_path / "not-pem.crt", "the client CA file {} holds no valid PEM certificate: "),
    ):
        done = run_kcp(*args, "--client-ca-file", str(path))
        assert done.returncode == 1, done.stderr
        assert done.stderr.startswith(f"error: --client-ca-file: {why.format(path)}")
        assert "Traceback" not in done.stderr
