"""``kubectl ws`` end to end against a canned HTTPS Workspace API, over real TLS.

The server here is a stand-in for kcp-edge's Workspace API (not built yet): an ``http.server``
with a certificate made by ``cryptography``, answering only the requests ``ws.py`` documents
(GET/POST ``/clusters/<c>/apis/tenancy.kcp.dev/v1beta1/workspaces[/<name>]``) with Workspace
objects and Status errors shaped like kcp's. New workspaces start in ``Scheduling`` and turn
``Ready`` after a number of GETs, so the waiting is exercised. The walkthrough of issue 5 is
replayed verbatim and its output and requests are asserted.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import ipaddress
import json
import re
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, NamedTuple

import pytest
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from kcp_edge.cli.kubeconfig import render_admin_kubeconfig
from kcp_edge.cli.kubeconfigs import CURRENT_KEY, PREVIOUS_KEY, Kubeconfig
from kcp_edge.cli.restclient import ClientConfig, RestClient, RestError
from kcp_edge.cli.ws import HOME_NOT_SUPPORTED, run_kcp_plugin, run_ws

TOKEN = "s3cr3t-admin-token"
API = "/apis/tenancy.kcp.dev/v1beta1/workspaces"
ROUTE = re.compile(r"^/clusters/([^/]+)/apis/tenancy\.kcp\.dev/v1beta1/workspaces(?:/([^/]+))?$")

# --- certificates ---------------------------------------------------------------------------


class Pem(NamedTuple):
    cert: bytes
    key: bytes


def _issue(
    cn: str, issuer: tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None, *, usage: str
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    now = dt.datetime.now(dt.timezone.utc)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
    signer_cert, signer_key = issuer if issuer else (None, key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(signer_cert.subject if signer_cert else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=usage == "ca", path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if usage == "ca":
        builder = builder.add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
    else:
        builder = builder.add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(signer_key.public_key()),
            critical=False,
        ).add_extension(
            x509.ExtendedKeyUsage(
                [
                    ExtendedKeyUsageOID.SERVER_AUTH
                    if usage == "server"
                    else ExtendedKeyUsageOID.CLIENT_AUTH
                ]
            ),
            critical=False,
        )
    if usage == "server":
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    return builder.sign(signer_key, hashes.SHA256()), key


def _pem(pair: tuple[x509.Certificate, ec.EllipticCurvePrivateKey]) -> Pem:
    cert, key = pair
    return Pem(
        cert.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )


@dataclass(frozen=True)
class Pki:
    ca: Pem
    server: Pem
    client: Pem
    other_ca: Pem


@pytest.fixture(scope="module")
def pki() -> Pki:
    ca = _issue("test-ca", None, usage="ca")
    return Pki(
        ca=_pem(ca),
        server=_pem(_issue("kcp", ca, usage="server")),
        client=_pem(_issue("alice", ca, usage="client")),
        other_ca=_pem(_issue("other-ca", None, usage="ca")),
    )


# --- the canned Workspace API ---------------------------------------------------------------


def _status(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


@dataclass
class FakeApi:
    base: str = ""
    polls_until_ready: int = 1
    types: dict[str, str] = field(default_factory=lambda: {"root": "Root"})
    objects: dict[str, dict[str, Any]] = field(default_factory=dict)
    pending: dict[str, int] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    client_names: list[str] = field(default_factory=list)

    def add(self, parent: str, name: str, ws_type: str, phase: str = "Ready") -> dict[str, Any]:
        path = f"{parent}:{name}"
        self.types[path] = ws_type
        self.objects[path] = {
            "apiVersion": "tenancy.kcp.dev/v1beta1",
            "kind": "Workspace",
            "metadata": {"name": name},
            "spec": {"type": ws_type},
            "status": {"phase": phase, "URL": f"{self.base}/clusters/{path}"},
        }
        return self.objects[path]

    def answer(
        self, method: str, path: str, headers: Any, body: bytes, peer: Any
    ) -> tuple[int, Any]:
        self.requests.append(f"{method} {path}")
        if peer:
            self.client_names.append(dict(x[0] for x in peer["subject"])["commonName"])
        elif headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, _status(401, "Unauthorized", "Unauthorized")
        match = ROUTE.match(path)
        if not match or self.types.get(match[1]) in (None, "Universal"):
            return 404, "404 page not found\n"
        parent, name = match[1], match[2]
        if method == "POST" and name is None:
            return self._create(parent, json.loads(body))
        if method == "GET" and name is None:
            items = [o for p, o in sorted(self.objects.items()) if p.rsplit(":", 1)[0] == parent]
            return 200, {
                "kind": "WorkspaceList",
                "apiVersion": "tenancy.kcp.dev/v1beta1",
                "items": items,
            }
        if method == "GET":
            return self._get(f"{parent}:{name}", name)
        return 405, _status(405, "MethodNotAllowed", "method not allowed")

    def _get(self, path: str, name: str) -> tuple[int, Any]:
        if path not in self.objects:
            return 404, _status(404, "NotFound", f'workspaces.tenancy.kcp.dev "{name}" not found')
        if path in self.pending:
            self.pending[path] -= 1
            if self.pending[path] <= 0:
                del self.pending[path]
                self.objects[path]["status"]["phase"] = "Ready"
        return 200, self.objects[path]

    def _create(self, parent: str, body: dict[str, Any]) -> tuple[int, Any]:
        assert body["apiVersion"] == "tenancy.kcp.dev/v1beta1" and body["kind"] == "Workspace"
        name = body["metadata"]["name"]
        if f"{parent}:{name}" in self.objects:
            return 409, _status(
                409, "AlreadyExists", f'workspaces.tenancy.kcp.dev "{name}" already exists'
            )
        ready = self.polls_until_ready <= 0
        ws = self.add(
            parent,
            name,
            body["spec"].get("type") or "Universal",
            "Ready" if ready else "Scheduling",
        )
        if not ready:
            self.pending[f"{parent}:{name}"] = self.polls_until_ready
        return 201, ws


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        peer = self.connection.getpeercert()
        code, answer = self.server.api.answer(self.command, self.path, self.headers, body, peer)
        data = answer.encode() if isinstance(answer, str) else json.dumps(answer).encode()
        self.send_response(code)
        self.send_header(
            "Content-Type", "text/plain" if isinstance(answer, str) else "application/json"
        )
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: FakeApi


@pytest.fixture
def api(pki: Pki, tmp_path: Path) -> Iterator[FakeApi]:
    (tmp_path / "server.crt").write_bytes(pki.server.cert)
    (tmp_path / "server.key").write_bytes(pki.server.key)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(tmp_path / "server.crt", tmp_path / "server.key")
    context.load_verify_locations(cadata=pki.ca.cert.decode())
    context.verify_mode = ssl.CERT_OPTIONAL
    server = _Server(("127.0.0.1", 0), _Handler)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    fake = FakeApi(base=f"https://127.0.0.1:{server.server_address[1]}")
    fake.add("root", "default", "Organization")
    server.api = fake
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# --- running the plugin ---------------------------------------------------------------------


class Result(NamedTuple):
    code: int
    out: str
    err: str


@pytest.fixture
def kubeconfig(api: FakeApi, pki: Pki, tmp_path: Path) -> Path:
    path = tmp_path / ".kcp" / "admin.kubeconfig"
    path.parent.mkdir()
    path.write_text(render_admin_kubeconfig(server=api.base, ca_pem=pki.ca.cert, token=TOKEN))
    path.chmod(0o600)
    return path


def ws(kubeconfig: Path, *args: str, prog: str = "kubectl-ws", timeout: float = 5.0) -> Result:
    out, err = io.StringIO(), io.StringIO()
    env = {"KUBECONFIG": str(kubeconfig), "HOME": str(kubeconfig.parent)}
    if prog == "kubectl-kcp":
        code = run_kcp_plugin(prog, list(args), env=env, stdout=out, stderr=err)
    else:
        code = run_ws(
            prog,
            list(args),
            env=env,
            stdout=out,
            stderr=err,
            ready_timeout=timeout,
            poll_interval=0.01,
        )
    return Result(code, out.getvalue(), err.getvalue())


def ok(kubeconfig: Path, *args: str, **kwargs: Any) -> str:
    result = ws(kubeconfig, *args, **kwargs)
    assert (result.code, result.err) == (0, ""), result
    return result.out


def fails(kubeconfig: Path, *args: str) -> str:
    result = ws(kubeconfig, *args)
    assert result.code == 1 and result.out == "", result
    assert result.err.startswith("error: "), result
    return result.err.removeprefix("error: ").rstrip("\n")


def current_server(kubeconfig: Path) -> str:
    config = Kubeconfig.load(kubeconfig)
    context = config.context(config.current_context) or {}
    return str((config.cluster(str(context.get("cluster"))) or {}).get("server"))


# --- the walkthrough ------------------------------------------------------------------------


def test_issue_5_walkthrough(api: FakeApi, kubeconfig: Path, pki: Pki) -> None:
    base, telcops = api.base, f"/clusters/root:telcops{API}"
    assert ok(kubeconfig, "use", "root") == 'Current workspace is "root".\n'
    assert api.requests == []  # an absolute path only rewrites the kubeconfig
    assert ok(kubeconfig, "create", "telcops", "--type", "Organization") == (
        'Workspace "telcops" (type "Organization") created. Waiting for being ready.\n'
    )
    assert ok(kubeconfig, "use", "telcops") == (
        'Current workspace is "root:telcops" (type "Organization").\n'
    )
    assert ok(kubeconfig, "create", "team-a") == (
        'Workspace "team-a" (type "Universal") created. Waiting for being ready.\n'
    )
    assert ok(kubeconfig, "use", "team-a") == (
        'Current workspace is "root:telcops:team-a" (type "Universal").\n'
    )
    assert current_server(kubeconfig) == f"{base}/clusters/root:telcops:team-a"
    assert ok(kubeconfig, "..") == 'Current workspace is "root:telcops".\n'
    assert ok(kubeconfig, "create", "team-b", "--enter") == (
        'Workspace "team-b" (type "Universal") created. Waiting for being ready.\n'
        'Current workspace is "root:telcops:team-b".\n'
    )
    assert api.requests == [
        f"POST /clusters/root{API}",
        f"GET /clusters/root{API}/telcops",
        f"GET /clusters/root{API}/telcops",
        f"POST {telcops}",
        f"GET {telcops}/team-a",
        f"GET {telcops}/team-a",
        f"POST {telcops}",
        f"GET {telcops}/team-b",
    ]
    # the later forms the issue accepts too
    assert ok(kubeconfig, "-") == 'Current workspace is "root:telcops".\n'
    assert ok(kubeconfig, "-") == 'Current workspace is "root:telcops:team-b".\n'
    assert ok(kubeconfig, ":root:telcops:team-a") == 'Current workspace is "root:telcops:team-a".\n'
    assert ok(kubeconfig, ".") == 'Current workspace is "root:telcops:team-a".\n'
    assert ok(kubeconfig) == 'Current workspace is "root:telcops:team-a".\n'
    assert ok(kubeconfig, "current", "--short") == "root:telcops:team-a\n"
    assert ok(kubeconfig, ":") == 'Current workspace is "root".\n'
    assert ok(kubeconfig, "tree") == (
        ".\n└── root\n    ├── default\n    └── telcops\n        ├── team-a\n        └── team-b\n\n"
    )
    # the kubeconfig: kcp's contexts, the CA and the admin user kept
    config = Kubeconfig.load(kubeconfig)
    assert config.current_context == CURRENT_KEY
    ca_data = base64.b64encode(pki.ca.cert).decode()
    assert config.cluster(CURRENT_KEY) == {
        "server": f"{base}/clusters/root",
        "certificate-authority-data": ca_data,
    }
    assert config.context(CURRENT_KEY) == {"cluster": CURRENT_KEY, "user": "admin"}
    assert config.context(PREVIOUS_KEY) == {"cluster": PREVIOUS_KEY, "user": "admin"}
    assert config.cluster(PREVIOUS_KEY) == {
        "server": f"{base}/clusters/root:telcops:team-a",
        "certificate-authority-data": ca_data,
    }
    assert config.context("default") == {"cluster": "root:default", "user": "admin"}
    assert kubeconfig.stat().st_mode & 0o777 == 0o600


def test_tree_full_and_from_a_leaf(api: FakeApi, kubeconfig: Path) -> None:
    api.add("root:default", "edge", "Universal")
    ok(kubeconfig, "use", "root")
    assert ok(kubeconfig, "tree", "--full") == (
        ".\n└── root\n    └── root:default\n        └── root:default:edge\n\n"
    )
    ok(kubeconfig, "root:default:edge")
    assert ok(kubeconfig, "tree") == ".\n└── edge\n\n"


def test_kcp_plugin_forms(api: FakeApi, kubeconfig: Path) -> None:
    assert (
        ok(kubeconfig, "ws", "use", "root", prog="kubectl-kcp") == 'Current workspace is "root".\n'
    )
    assert ok(kubeconfig, "workspace", ".", prog="kubectl-kcp") == 'Current workspace is "root".\n'
    assert ok(kubeconfig, "workspaces", "current", prog="kubectl-kcp") == (
        'Current workspace is "root".\n'
    )
    assert "workspace" in ok(kubeconfig, prog="kubectl-kcp")
    result = ws(kubeconfig, "bogus", "sync", prog="kubectl-kcp")
    assert result == (1, "", 'error: unknown command "bogus" for "kubectl kcp"\n')
    help_text = ok(kubeconfig, "ws", "create", "--help", prog="kubectl-kcp")
    assert help_text.startswith("usage: kubectl kcp ws create")


# --- errors, with kcp's words ---------------------------------------------------------------


def test_navigation_errors(api: FakeApi, kubeconfig: Path) -> None:
    assert fails(kubeconfig, "-") == "no previous workspace found in kubeconfig"
    assert fails(kubeconfig, "~") == HOME_NOT_SUPPORTED
    assert fails(kubeconfig, "nope") == 'workspaces.tenancy.kcp.dev "nope" not found'
    assert fails(kubeconfig, "foo:bar") == "invalid workspace name format: foo:bar"
    ok(kubeconfig, "root")
    assert fails(kubeconfig, "..") == 'current workspace is "root"'
    api.add("root", "slow", "Organization", phase="Initializing")
    assert fails(kubeconfig, "slow") == 'workspace "slow" is not ready'
    ok(kubeconfig, "system:admin")
    assert ok(kubeconfig, "..") == 'Current workspace is "system".\n'
    assert fails(kubeconfig, "..") == 'current workspace "system" has no parent'


def test_non_workspace_url(api: FakeApi, kubeconfig: Path) -> None:
    assert ok(kubeconfig, "--context", "system:admin", "current") == (
        f'Current workspace is the URL "{api.base}".\n'
    )
    assert ok(kubeconfig, "--context", "system:admin", "current", "--short") == ""
    assert fails(kubeconfig, "--context", "cross-cluster", "team-a") == (
        f'current URL "{api.base}/clusters/*" does not point to cluster workspace'
    )
    assert fails(kubeconfig, "--context", "cross-cluster", "tree") == (
        f'current config context URL "{api.base}/clusters/*" does not point to workspace'
    )
    # an absolute path works from a context without a path (kcp 2022 refused it)
    assert (
        ok(kubeconfig, "--context", "system:admin", "use", "root")
        == 'Current workspace is "root".\n'
    )
    assert Kubeconfig.load(kubeconfig).context(PREVIOUS_KEY) == {
        "cluster": "system:admin",
        "user": "admin",
    }


def test_create_existing(api: FakeApi, kubeconfig: Path) -> None:
    ok(kubeconfig, "use", "root")
    assert fails(kubeconfig, "create", "default") == (
        'workspaces.tenancy.kcp.dev "default" already exists'
    )
    assert ok(kubeconfig, "create", "default", "--ignore-existing") == (
        'Workspace "default" (type "Organization") already exists.\n'
    )
    assert fails(kubeconfig, "create", "default", "--type", "Team", "--ignore-existing") == (
        'workspace "default" already exists with different type "Organization"'
    )
    api.add("root", "slow", "Organization", phase="Initializing")
    api.pending["root:slow"] = 2
    assert ok(kubeconfig, "create", "slow", "--type", "Organization", "--ignore-existing") == (
        'Workspace "slow" (type "Organization") already exists. Waiting for being ready.\n'
    )


def test_create_ready_at_once_and_under_universal(api: FakeApi, kubeconfig: Path) -> None:
    api.polls_until_ready = 0
    ok(kubeconfig, "use", "root:default")
    assert ok(kubeconfig, "create", "edge", "--enter") == (
        'Workspace "edge" (type "Universal") created. Waiting for being ready.\n'
        'Current workspace is "root:default:edge".\n'
    )
    assert fails(kubeconfig, "create", "deeper") == (
        "creating a workspace under a universal type workspace is not supported"
    )


def test_create_times_out(api: FakeApi, kubeconfig: Path) -> None:
    api.polls_until_ready = 10**9
    result = ws(kubeconfig, "create", "never", timeout=0.2)
    assert result.code == 1
    assert result.out == 'Workspace "never" (type "Universal") created. Waiting for being ready.\n'
    assert result.err == "error: timed out waiting for the condition\n"


def test_argument_errors(api: FakeApi, kubeconfig: Path) -> None:
    assert fails(kubeconfig, "create").startswith("the following arguments are required: name")
    assert "unrecognized arguments: --frob" in fails(kubeconfig, "use", "root", "--frob")
    assert "See 'kubectl ws create --help' for usage." in fails(kubeconfig, "create")
    help_text = ok(kubeconfig, "--help")
    assert help_text.startswith("usage: kubectl ws [use|current|create|create-context|tree|list]")
    missing = ws(kubeconfig, "--kubeconfig", str(kubeconfig.parent / "missing"), ".")
    assert (
        missing.err == f"error: stat {kubeconfig.parent / 'missing'}: no such file or directory\n"
    )
    assert ok(kubeconfig, "delete", "x") == (
        'The "delete" command is gone. Please do instead:\n\n'
        "  kubectl delete workspace <workspace-name>\n"
    )


def test_explicit_kubeconfig_flag_and_context(
    api: FakeApi, kubeconfig: Path, tmp_path: Path
) -> None:
    other = tmp_path / "other.kubeconfig"
    other.write_bytes(kubeconfig.read_bytes())
    before = kubeconfig.read_bytes()
    assert ok(other, "--kubeconfig", str(other), "--context", "root", "default") == (
        'Current workspace is "root:default" (type "Organization").\n'
    )
    assert kubeconfig.read_bytes() == before
    assert Kubeconfig.load(other).context(PREVIOUS_KEY) == {"cluster": "root", "user": "admin"}


def test_create_context_and_list(api: FakeApi, kubeconfig: Path) -> None:
    ok(kubeconfig, "use", "root")
    assert fails(kubeconfig, "create-context") == (
        'context "root" already exists in kubeconfig, use --overwrite to update it'
    )
    assert ok(kubeconfig, "create-context", "--overwrite") == (
        'Updated context "root" and switched to it.\n'
    )
    assert ok(kubeconfig, "create-context", "--overwrite") == 'Updated context "root".\n'
    assert ok(kubeconfig, "create-context", "mine") == (
        'Created context "mine" and switched to it.\n'
    )
    assert Kubeconfig.load(kubeconfig).current_context == "mine"
    assert ok(kubeconfig, "list") == (
        "NAME      TYPE           PHASE   URL\n"
        f"default   Organization   Ready   {api.base}/clusters/root:default\n"
    )


# --- the REST client and TLS ----------------------------------------------------------------


def test_bad_token_gets_the_status_message(api: FakeApi, kubeconfig: Path) -> None:
    text = kubeconfig.read_text().replace(TOKEN, "wrong")
    kubeconfig.write_text(text)
    assert fails(kubeconfig, "create", "x") == "Unauthorized"


def test_wrong_ca_is_refused(api: FakeApi, kubeconfig: Path, pki: Pki) -> None:
    text = kubeconfig.read_text()
    good = base64.b64encode(pki.ca.cert).decode()
    kubeconfig.write_text(text.replace(good, base64.b64encode(pki.other_ca.cert).decode()))
    message = fails(kubeconfig, "create", "x")
    assert message.startswith(f'Post "{api.base}/clusters/root:default{API}": ')
    assert "tls: failed to verify certificate" in message
    assert api.requests == []


def _edit(kubeconfig: Path, cluster: dict[str, Any], user: dict[str, Any]) -> None:
    doc = yaml.safe_load(kubeconfig.read_text())
    for entry in doc["clusters"]:
        if entry["name"] == "root:default":
            entry["cluster"] = cluster
    doc["users"] = [{"name": "admin", "user": user}]
    kubeconfig.write_text(yaml.safe_dump(doc))


def test_insecure_skip_tls_verify(api: FakeApi, kubeconfig: Path) -> None:
    server = f"{api.base}/clusters/root:default"
    _edit(kubeconfig, {"server": server, "insecure-skip-tls-verify": True}, {"token": TOKEN})
    assert ok(kubeconfig, "create", "x", "--enter").endswith('"root:default:x".\n')


def test_client_certificate_files(api: FakeApi, kubeconfig: Path, pki: Pki) -> None:
    (kubeconfig.parent / "ca.crt").write_bytes(pki.ca.cert)
    (kubeconfig.parent / "alice.crt").write_bytes(pki.client.cert)
    (kubeconfig.parent / "alice.key").write_bytes(pki.client.key)
    port = api.base.rsplit(":", 1)[1]
    cluster = {
        "server": f"https://localhost:{port}/clusters/root:default",
        "certificate-authority": "ca.crt",
    }
    _edit(kubeconfig, cluster, {"client-certificate": "alice.crt", "client-key": "alice.key"})
    assert ok(kubeconfig, "create", "x").startswith('Workspace "x"')
    assert api.client_names == ["alice", "alice"]


def test_client_certificate_data_and_tls_server_name(api: FakeApi, pki: Pki) -> None:
    config = ClientConfig(
        server=api.base,  # 127.0.0.1, checked as "localhost"
        ca_pem=pki.ca.cert,
        tls_server_name="localhost",
        client_cert_pem=pki.client.cert,
        client_key_pem=pki.client.key,
    )
    listed = RestClient(config).get(f"/clusters/root{API}")
    assert [item["metadata"]["name"] for item in listed["items"]] == ["default"]
    assert api.client_names == ["alice"]
    wrong_name = RestClient(
        ClientConfig(server=api.base, ca_pem=pki.ca.cert, tls_server_name="kcp.example")
    )
    with pytest.raises(RestError, match="tls: failed to verify certificate"):
        wrong_name.get(f"/clusters/root{API}")


def test_rest_errors(api: FakeApi, pki: Pki) -> None:
    client = RestClient(ClientConfig(server=api.base, ca_pem=pki.ca.cert, token=TOKEN))
    with pytest.raises(RestError) as not_served:
        client.get(f"/clusters/root:nowhere{API}")
    assert (not_served.value.code, not_served.value.reason) == (404, "NotFound")
    assert str(not_served.value) == "the server could not find the requested resource"
    with pytest.raises(RestError) as missing:
        client.get(f"/clusters/root{API}/nope")
    assert missing.value.status is not None and missing.value.status["reason"] == "NotFound"
    with pytest.raises(RestError) as conflict:
        body = {"apiVersion": "tenancy.kcp.dev/v1beta1", "kind": "Workspace"}
        client.post(f"/clusters/root{API}", {**body, "metadata": {"name": "default"}, "spec": {}})
    assert (conflict.value.code, conflict.value.reason) == (409, "AlreadyExists")
    closed = RestClient(ClientConfig(server="https://127.0.0.1:1", ca_pem=pki.ca.cert))
    with pytest.raises(RestError, match=r'^Get "https://127.0.0.1:1/x": ') as refused:
        closed.get("/x")
    assert refused.value.code is None
    with pytest.raises(RestError, match="invalid server URL"):
        RestClient(ClientConfig(server="ftp://x"))
    with pytest.raises(RestError, match="unable to load the certificate authority"):
        RestClient(ClientConfig(server=api.base, ca_pem=b"garbage"))


def test_main_dispatches_the_plugins(
    api: FakeApi,
    kubeconfig: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from kcp_edge.cli.main import main

    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    assert main(["use", "root"], prog="/usr/local/bin/kubectl-ws.pyz") == 0
    assert main(["ws", "."], prog="kubectl-kcp") == 0
    assert main(["current", "--short"], prog="kubectl-workspaces") == 0
    assert (
        capsys.readouterr().out
        == 'Current workspace is "root".\nCurrent workspace is "root".\nroot\n'
    )
