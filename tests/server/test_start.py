"""``kcp start`` end to end: a real server process, real kubectl, HTTPS verified by our CA.

Why this module exists: it pins what a user sees first: the admin kubeconfig works with kubectl
as is, restarts keep credentials, errors are one clear line, TLS is 1.2+, and the process stops
cleanly on SIGTERM and Ctrl-C.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import http.client
import ipaddress
import json
import signal
import socket
import ssl
import stat
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from cryptography import x509

from kcp_edge.auth.pki import ensure_serving_certificate, required_names
from kcp_edge.cli.main import main, program_name
from kcp_edge.cli.start import build_server_config
from tests.conftest import (
    KUBECTL,
    KUBECTL_1_32,
    KcpServer,
    free_port,
    https_request,
    kubectl,
    run_kcp,
    running_kcp,
    start_args,
    tls_context,
)

SERVER_VERSION = "Server Version: v1.35.0+kcp-edge-0.1.0"
UNAUTHORIZED = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "Unauthorized",
    "reason": "Unauthorized",
    "code": 401,
}
NOT_FOUND = {
    "kind": "Status",
    "apiVersion": "v1",
    "metadata": {},
    "status": "Failure",
    "message": "the server could not find the requested resource",
    "reason": "NotFound",
    "details": {},
    "code": 404,
}


def kubeconfig_json(path: Path) -> dict[str, object]:
    """The kubeconfig as kubectl itself reads it."""
    out = kubectl("config", "view", "--raw", "-o", "json", kubeconfig=path)
    assert out.returncode == 0, out.stderr
    doc: dict[str, object] = json.loads(out.stdout)
    return doc


def admin_token(path: Path) -> str:
    users = kubeconfig_json(path)["users"]
    assert isinstance(users, list)
    token: str = next(u["user"]["token"] for u in users if u["name"] == "admin")
    return token


def served_certificate(server: KcpServer, server_hostname: str) -> x509.Certificate:
    ctx = tls_context(server.ca_file)
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname=server_hostname) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


KUBECTLS = [
    pytest.param(KUBECTL, id="kubectl-1.37"),
    pytest.param(
        str(KUBECTL_1_32),
        id="kubectl-1.32",
        marks=pytest.mark.skipif(not KUBECTL_1_32.exists(), reason="no kubectl 1.32"),
    ),
]


@pytest.mark.parametrize("binary", KUBECTLS)
def test_kubectl_version(kcp_server: KcpServer, binary: str | None) -> None:
    out = kubectl("version", kubeconfig=kcp_server.kubeconfig, binary=binary)
    assert out.returncode == 0, out.stderr
    assert SERVER_VERSION in out.stdout.splitlines()


def test_admin_kubeconfig(kcp_server: KcpServer) -> None:
    root, base = kcp_server.root, kcp_server.url
    assert stat.S_IMODE(root.stat().st_mode) == 0o700
    for secret in ("admin.kubeconfig", ".admin-token-store", "certs/ca.key", "certs/apiserver.key"):
        assert stat.S_IMODE((root / secret).stat().st_mode) == 0o600, secret
    doc = kubeconfig_json(kcp_server.kubeconfig)
    assert doc["current-context"] == "default"
    ca_data = base64.b64encode(kcp_server.ca_file.read_bytes()).decode()
    clusters = {c["name"]: c["cluster"] for c in doc["clusters"]}  # type: ignore[attr-defined]
    assert clusters == {
        "cross-cluster": {"server": f"{base}/clusters/*", "certificate-authority-data": ca_data},
        "root": {"server": f"{base}/clusters/root", "certificate-authority-data": ca_data},
        "root:default": {
            "server": f"{base}/clusters/root:default",
            "certificate-authority-data": ca_data,
        },
        "system:admin": {"server": base, "certificate-authority-data": ca_data},
    }
    assert "insecure-skip-tls-verify" not in kcp_server.kubeconfig.read_text()
    contexts = {c["name"]: c["context"] for c in doc["contexts"]}  # type: ignore[attr-defined]
    assert contexts == {
        "cross-cluster": {"cluster": "cross-cluster", "user": "admin"},
        "root": {"cluster": "root", "user": "admin"},
        "default": {"cluster": "root:default", "user": "admin"},
        "system:admin": {"cluster": "system:admin", "user": "admin"},
    }
    token = admin_token(kcp_server.kubeconfig)
    stored = (root / ".admin-token-store").read_text().strip()
    assert stored == hashlib.sha256(token.encode()).hexdigest()


def test_restart_reuses_token_and_ca(tmp_path: Path) -> None:
    root, port = tmp_path / "kcp", free_port()
    with running_kcp(root, log=tmp_path / "first.log", port=port) as first:
        old = tmp_path / "old.kubeconfig"
        old.write_bytes(first.kubeconfig.read_bytes())
        ca = first.ca_file.read_bytes()
        token = admin_token(old)
    # kubectl rewrites the file in its own YAML style; the token must still be found.
    edit = kubectl("config", "set-context", "extra", "--cluster=root", kubeconfig=first.kubeconfig)
    assert edit.returncode == 0, edit.stderr
    with running_kcp(root, log=tmp_path / "second.log", port=port) as second:
        assert second.ca_file.read_bytes() == ca
        assert admin_token(second.kubeconfig) == token
        out = kubectl("version", kubeconfig=old)
        assert out.returncode == 0, out.stderr
        assert SERVER_VERSION in out.stdout


@pytest.mark.parametrize(
    "rewrite",
    [
        pytest.param(lambda doc: "# edited by hand\n" + yaml.safe_dump(doc), id="comments"),
        pytest.param(lambda doc: yaml.safe_dump(doc, default_flow_style=True), id="flow-style"),
        pytest.param(lambda doc: json.dumps(doc, indent=2), id="json"),
    ],
)
def test_the_token_is_found_in_a_kubeconfig_any_tool_rewrote(
    tmp_path: Path, rewrite: Callable[[dict[str, Any]], str]
) -> None:
    """Another tool or an editor may rewrite the admin kubeconfig in any valid YAML; the next
    start must find the token again (else it refuses to start: the token hash would not match)."""
    root = tmp_path / "kcp"
    with running_kcp(root, log=tmp_path / "first.log") as first:
        token = admin_token(first.kubeconfig)
    path = root / "admin.kubeconfig"
    path.write_text(rewrite(yaml.safe_load(path.read_text())))
    with running_kcp(root, log=tmp_path / "second.log") as second:
        assert admin_token(second.kubeconfig) == token


def test_changed_token_hash_fails_start(tmp_path: Path) -> None:
    root, port = tmp_path / "kcp", free_port()
    with running_kcp(root, log=tmp_path / "kcp.log", port=port):
        pass
    hash_file = root / ".admin-token-store"
    hash_file.write_text(hashlib.sha256(b"someone-else").hexdigest())
    result = run_kcp(*start_args(root, port))
    assert result.returncode == 1
    expected = (
        f"admin token in file {root / 'admin.kubeconfig'} is not valid anymore. "
        f"Remove file {hash_file} and restart KCP"
    )
    assert expected in result.stderr
    assert "Traceback" not in result.stderr


def test_bearer_tokens(kcp_server: KcpServer) -> None:
    ca = kcp_server.ca_file
    bad = https_request(
        kcp_server.url, "/version", ca_file=ca, headers={"Authorization": "Bearer wrong"}
    )
    assert bad.status == 401
    assert bad.headers["content-type"] == "application/json"
    assert json.loads(bad.body) == UNAUTHORIZED
    token = admin_token(kcp_server.kubeconfig)
    good = https_request(
        kcp_server.url, "/version", ca_file=ca, headers={"Authorization": f"bearer {token}"}
    )
    assert good.status == 200
    assert https_request(kcp_server.url, "/version", ca_file=ca).status == 200  # anonymous


@pytest.mark.parametrize("path", ["/healthz", "/livez", "/readyz", "/clusters/root/readyz"])
def test_health_endpoints(kcp_server: KcpServer, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):  # health skips authentication
        resp = https_request(kcp_server.url, path, ca_file=kcp_server.ca_file, headers=headers)
        assert (resp.status, resp.body) == (200, b"ok")
        assert resp.headers["content-type"].startswith("text/plain")


@pytest.mark.parametrize("path", ["/apis/nope", "/clusters/root/nope/x"])
def test_an_anonymous_unknown_path_is_forbidden(kcp_server: KcpServer, path: str) -> None:
    # Authorization comes before routing, as in the apiserver: anonymous callers learn nothing.
    resp = https_request(kcp_server.url, path, ca_file=kcp_server.ca_file)
    assert resp.status == 403


@pytest.mark.parametrize("path", ["/apis/nope", "/clusters/root/nope/x"])
def test_unknown_path_is_a_404_status(kcp_server: KcpServer, path: str) -> None:
    token = admin_token(kcp_server.kubeconfig)
    headers = {"Authorization": f"Bearer {token}"}
    resp = https_request(kcp_server.url, path, ca_file=kcp_server.ca_file, headers=headers)
    assert resp.status == 404
    assert resp.headers["content-type"] == "application/json"
    assert json.loads(resp.body) == NOT_FOUND


def test_version_body(kcp_server: KcpServer) -> None:
    path = "/clusters/root:default/version"
    resp = https_request(kcp_server.url, path, ca_file=kcp_server.ca_file)
    info = json.loads(resp.body)
    assert set(info) == {
        "major", "minor", "gitVersion", "gitCommit", "gitTreeState", "buildDate", "goVersion",
        "compiler", "platform", "emulationMajor", "emulationMinor", "minCompatibilityMajor",
        "minCompatibilityMinor",
    }  # fmt: skip
    assert (info["major"], info["minor"]) == ("1", "35")
    assert info["gitVersion"] == "v1.35.0+kcp-edge-0.1.0"
    assert info["compiler"] == "cpython"
    assert info["goVersion"].startswith("python3.")


def _handshake(server: KcpServer, version: ssl.TLSVersion) -> str | None:
    ctx = tls_context(server.ca_file)
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client really offer old protocols
    ctx.minimum_version = ctx.maximum_version = version
    with (
        socket.create_connection(("127.0.0.1", server.port), timeout=10) as raw,
        ctx.wrap_socket(raw, server_hostname="127.0.0.1") as tls,
    ):
        return tls.version()


@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated:DeprecationWarning")
def test_tls_1_2_or_newer_only(kcp_server: KcpServer) -> None:
    assert _handshake(kcp_server, ssl.TLSVersion.TLSv1_2) == "TLSv1.2"
    assert _handshake(kcp_server, ssl.TLSVersion.TLSv1_3) == "TLSv1.3"
    with pytest.raises(ssl.SSLError) as refused:
        _handshake(kcp_server, ssl.TLSVersion.TLSv1_1)
    assert "NO_PROTOCOLS_AVAILABLE" not in str(refused.value)  # the server said no


async def _asgi_app(scope: object, receive: object, send: object) -> None:
    raise NotImplementedError


def test_uvicorn_ssl_context_is_tls_1_2_minimum(tmp_path: Path) -> None:
    names = required_names(bind_address="127.0.0.1", external_hostname=None)
    cert = ensure_serving_certificate(cert_dir=tmp_path, names=names)
    plain = uvicorn.Config(_asgi_app, ssl_certfile=cert.cert_file, ssl_keyfile=cert.key_file)
    plain.load()
    assert plain.ssl is not None
    assert plain.ssl.minimum_version >= ssl.TLSVersion.TLSv1_2  # Python 3.10+ default
    ours = build_server_config(app=_asgi_app, cert=cert, verbosity=2)
    assert ours.ssl is not None
    assert ours.ssl.minimum_version >= ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signals_stop_cleanly(tmp_path: Path, sig: signal.Signals) -> None:
    root = tmp_path / "kcp"
    with running_kcp(root, log=tmp_path / "kcp.log", stop_signal=sig) as server:
        assert https_request(server.url, "/readyz", ca_file=server.ca_file).status == 200
    assert "kcp-edge serving on https://127.0.0.1:" in (tmp_path / "kcp.log").read_text()


def test_external_hostname(tmp_path: Path) -> None:
    root, port = tmp_path / "kcp", free_port()
    ext = ["--external-hostname", "kcp.example.test"]
    with running_kcp(root, *ext, log=tmp_path / "1.log", port=port) as server:
        cert = served_certificate(server, "kcp.example.test")  # verified against the CA
        doc = kubeconfig_json(server.kubeconfig)
        assert f"https://kcp.example.test:{port}" in json.dumps(doc)
        ca = server.ca_file.read_bytes()
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert x509.DNSName("kcp.example.test") in sans
    assert x509.DNSName("localhost") in sans
    assert x509.IPAddress(ipaddress.ip_address("::1")) in sans
    assert x509.IPAddress(ipaddress.ip_address("127.0.0.1")) in sans
    # A new name re-issues the serving certificate from the same CA.
    ext = ["--external-hostname", "10.11.12.13"]
    with running_kcp(root, *ext, log=tmp_path / "2.log", port=port) as server:
        assert server.ca_file.read_bytes() == ca
        cert = served_certificate(server, "10.11.12.13")
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert x509.IPAddress(ipaddress.ip_address("10.11.12.13")) in sans


def test_serving_certificate_is_reused_then_renewed_from_the_same_ca(tmp_path: Path) -> None:
    names = required_names(bind_address="127.0.0.1", external_hostname=None)
    first = ensure_serving_certificate(cert_dir=tmp_path, names=names)
    cert_pem = first.cert_file.read_bytes()
    again = ensure_serving_certificate(cert_dir=tmp_path, names=names)
    assert (again.ca_pem, again.cert_file.read_bytes()) == (first.ca_pem, cert_pem)
    in_340_days = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=340)
    renewed = ensure_serving_certificate(cert_dir=tmp_path, names=names, now=in_340_days)
    assert renewed.ca_pem == first.ca_pem
    cert = x509.load_pem_x509_certificate(renewed.cert_file.read_bytes())
    assert cert.not_valid_after_utc > in_340_days + dt.timedelta(days=300)
    ca = x509.load_pem_x509_certificate(first.ca_pem)
    cert.verify_directly_issued_by(ca)
    assert ca.subject.rfc4514_string() == "CN=kcp-edge-ca"


def test_given_tls_certificate(tmp_path: Path) -> None:
    names = required_names(bind_address="127.0.0.1", external_hostname=None)
    own = ensure_serving_certificate(cert_dir=tmp_path / "own", names=names)
    chain = tmp_path / "chain.pem"
    chain.write_bytes(own.cert_file.read_bytes() + own.ca_pem)
    flags = ["--tls-cert-file", str(chain), "--tls-private-key-file", str(own.key_file)]
    root = tmp_path / "kcp"
    # The generated CA is not used; wait for readiness with the given chain instead.
    (root / "certs").mkdir(parents=True)
    (root / "certs" / "ca.crt").write_bytes(own.ca_pem)
    with running_kcp(root, *flags, log=tmp_path / "kcp.log") as server:
        out = kubectl("version", kubeconfig=server.kubeconfig)
        assert out.returncode == 0, out.stderr
        assert SERVER_VERSION in out.stdout
    assert not (root / "certs" / "ca.key").exists()


def _one_clear_line(result_stderr: str) -> str:
    assert "Traceback" not in result_stderr
    lines = result_stderr.strip().splitlines()
    assert len(lines) == 1, result_stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def test_port_in_use(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_kcp(*start_args(tmp_path / "kcp", port))
    assert result.returncode == 1
    line = _one_clear_line(result.stderr)
    assert f"cannot listen on 127.0.0.1:{port}: the address is already in use" in line


def test_unusable_root_directory(tmp_path: Path) -> None:
    root = tmp_path / "not-a-directory"
    root.write_text("")
    result = run_kcp(*start_args(root, free_port()))
    assert result.returncode == 1
    assert "exists and is not a directory" in _one_clear_line(result.stderr)


def test_one_server_per_root_directory(kcp_server: KcpServer) -> None:
    result = run_kcp(*start_args(kcp_server.root, free_port()))
    assert result.returncode == 1
    assert "another kcp-edge is already running" in _one_clear_line(result.stderr)


def test_command_line(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main([], prog="kcp") == 0
    assert "start" in capsys.readouterr().out
    assert main(["start", "options"], prog="kcp") == 0
    flags = capsys.readouterr().out
    for flag in (
        "--root-directory", "--bind-address", "--secure-port", "--external-hostname",
        "--kubeconfig-path", "--cert-dir", "--tls-cert-file", "--tls-private-key-file", "--v",
    ):  # fmt: skip
        assert flag in flags
    assert main(["version"], prog="/usr/bin/kcp-edge.pyz") == 0
    assert "kcp-edge 0.1.0" in capsys.readouterr().out
    for plugin, args in (("kubectl-ws", ["use", "root"]), ("kubectl-kcp.pyz", ["ws", "root"])):
        missing = tmp_path / "no-such.kubeconfig"
        assert main([*args, "--kubeconfig", str(missing)], prog=plugin) == 1
        assert capsys.readouterr().err == f"error: stat {missing}: no such file or directory\n"
        assert not missing.exists()
    assert main(["start", "--bind-address", "localhost"], prog="kcp") == 1
    assert "not an IP address" in capsys.readouterr().err
    assert main(["frobnicate"], prog="kcp") == 2
    capsys.readouterr()


@pytest.mark.parametrize(
    ("argv0", "name"),
    [("/usr/bin/kcp", "kcp"), ("kubectl-ws.pyz", "kubectl-ws"), ("x/__main__.py", "__main__")],
)
def test_program_name(argv0: str, name: str) -> None:
    assert program_name(argv0) == name


def test_python_dash_m() -> None:
    result = run_kcp("version")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("kcp-edge 0.1.0")
    assert sys.executable  # the same interpreter runs the server in every test


def test_sigterm_ends_open_watches_at_once(tmp_path: Path) -> None:
    """An open watch must not hold shutdown for the grace period."""
    with running_kcp(tmp_path / "kcp", log=tmp_path / "kcp.log") as server:
        token = admin_token(server.kubeconfig)
        host, port = server.url.removeprefix("https://").rsplit(":", 1)
        conn = http.client.HTTPSConnection(
            host, int(port), context=tls_context(server.ca_file), timeout=30
        )
        conn.request(
            "GET",
            "/clusters/root/api/v1/namespaces/default/configmaps?watch=1",
            headers={"Authorization": f"Bearer {token}"},
        )
        resp = conn.getresponse()
        assert resp.status == 200
        ended = threading.Event()

        def drain() -> None:
            resp.read()  # returns when the server ends the stream
            ended.set()
            conn.close()  # as kubectl does when its watch ends

        reader = threading.Thread(target=drain, daemon=True)
        reader.start()
        started = time.monotonic()
    # running_kcp sent SIGTERM and waited for a clean exit (code 0, no traceback).
    assert ended.wait(5)
    assert time.monotonic() - started < 5
