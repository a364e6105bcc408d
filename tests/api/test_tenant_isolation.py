"""The tenant-isolation matrix: every identity tries every verb in every workspace.

Two organizations with two team workspaces each. In each team workspace a token-file user has
``edit`` in namespace ``default`` (entry granted in the organization), and a service account
(token from its Secret) has ``view`` there. Each identity then tries get, list, watch, create,
update, delete, discovery, OpenAPI, the wildcard and a SelfSubjectAccessReview in all four
team workspaces; the test asserts each answer's code, and the exact denial text where it is
kcp's workspace rule. Raw HTTPS, so the answers are exactly what the server sends.
"""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.conftest import KcpServer, running_kcp

ORGS = ("o1", "o2")
TEAMS = ("t1", "t2")
WORKSPACES = [f"root:{org}:{team}" for org in ORGS for team in TEAMS]
USERS = {ws: f"user-{ws.replace(':', '-')}" for ws in WORKSPACES}
RBAC = "rbac.authorization.k8s.io"


class Api:
    def __init__(self, server: KcpServer, token: str) -> None:
        self.server = server
        self.token = token

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
        import http.client
        import ssl

        host, port = self.server.url.removeprefix("https://").rsplit(":", 1)
        context = ssl.create_default_context(cafile=str(self.server.ca_file))
        conn = http.client.HTTPSConnection(host, int(port), context=context, timeout=20)
        try:
            headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
            data = None if body is None else json.dumps(body).encode()
            conn.request(method, path, body=data, headers=headers)
            resp = conn.getresponse()
            raw = resp.read()
            if path.endswith("watch=true&timeoutSeconds=1") and resp.status == 200:
                return resp.status, {}  # a stream of events, not one object
            return resp.status, json.loads(raw) if raw else {}
        finally:
            conn.close()


def admin_api(server: KcpServer) -> Api:
    for line in server.kubeconfig.read_text().splitlines():
        if "token:" in line:
            return Api(server, line.split("token:", 1)[1].strip().strip('"'))
    raise AssertionError("no admin token")


def create(api: Api, path: str, obj: dict[str, Any]) -> dict[str, Any]:
    status, body = api.call("POST", path, obj)
    assert status == 201, body
    return body


def workspace(api: Api, parent: str, name: str, kind: str) -> None:
    path = f"/clusters/{parent}/apis/tenancy.kcp.dev/v1beta1/workspaces"
    create(api, path, {"apiVersion": "tenancy.kcp.dev/v1beta1", "kind": "Workspace",
                       "metadata": {"name": name}, "spec": {"type": kind}})  # fmt: skip
    deadline = time.monotonic() + 10
    while api.call("GET", f"{path}/{name}")[1].get("status", {}).get("phase") != "Ready":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def binding(
    kind: str, name: str, role: str, subject: dict[str, Any], ns: str = ""
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if ns:
        meta["namespace"] = ns
    return {"apiVersion": f"{RBAC}/v1", "kind": kind, "metadata": meta,
            "roleRef": {"apiGroup": RBAC, "kind": "ClusterRole", "name": role},
            "subjects": [subject]}  # fmt: skip


@pytest.fixture(scope="module")
def tenants(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[KcpServer, dict[str, str]]]:
    base = tmp_path_factory.mktemp("tenants")
    tokens = {user: f"{user}-secret-token-0123456789" for user in USERS.values()}
    (base / "tokens.csv").write_text("".join(f"{t},{u},{u}\n" for u, t in tokens.items()))
    with running_kcp(
        base / "kcp", "--token-auth-file", str(base / "tokens.csv"), log=base / "kcp.log"
    ) as server:
        admin = admin_api(server)
        identities: dict[str, str] = {}
        for org in ORGS:
            workspace(admin, "root", org, "Organization")
            for team in TEAMS:
                ws = f"root:{org}:{team}"
                user = USERS[ws]
                workspace(admin, f"root:{org}", team, "Universal")
                create(admin, f"/clusters/root:{org}/apis/{RBAC}/v1/clusterroles", {
                    "apiVersion": f"{RBAC}/v1", "kind": "ClusterRole",
                    "metadata": {"name": f"enter-{team}"},
                    "rules": [{"apiGroups": ["tenancy.kcp.dev"],
                               "resources": ["workspaces/content"],
                               "resourceNames": [team], "verbs": ["access"]}],
                })  # fmt: skip
                create(admin, f"/clusters/root:{org}/apis/{RBAC}/v1/clusterrolebindings",
                       binding("ClusterRoleBinding", f"enter-{team}", f"enter-{team}",
                               {"apiGroup": RBAC, "kind": "User", "name": user}))  # fmt: skip
                create(admin, f"/clusters/{ws}/apis/{RBAC}/v1/namespaces/default/rolebindings",
                       binding("RoleBinding", "user-edits", "edit",
                               {"apiGroup": RBAC, "kind": "User", "name": user},
                               "default"))  # fmt: skip
                create(
                    admin,
                    f"/clusters/{ws}/api/v1/namespaces/default/serviceaccounts",
                    {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot"}},
                )
                create(admin, f"/clusters/{ws}/apis/{RBAC}/v1/namespaces/default/rolebindings",
                       binding("RoleBinding", "bot-views", "view",
                               {"kind": "ServiceAccount", "name": "bot", "namespace": "default"},
                               "default"))  # fmt: skip
                create(admin, f"/clusters/{ws}/api/v1/namespaces/default/configmaps",
                       {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "data"},
                        "data": {"owner": ws}})  # fmt: skip
                identities[f"user@{ws}"] = tokens[user]
                identities[f"sa@{ws}"] = service_account_token(admin, ws)
        yield server, identities


def service_account_token(admin: Api, ws: str) -> str:
    path = f"/clusters/{ws}/api/v1/namespaces/default/serviceaccounts/bot"
    deadline = time.monotonic() + 10
    while not (account := admin.call("GET", path)[1]).get("secrets"):
        assert time.monotonic() < deadline
        time.sleep(0.05)
    name = account["secrets"][0]["name"]
    secret = admin.call("GET", f"/clusters/{ws}/api/v1/namespaces/default/secrets/{name}")[1]
    return base64.b64decode(secret["data"]["token"]).decode()


CM = "/api/v1/namespaces/default/configmaps"
PROBES: dict[str, tuple[str, str, Any]] = {
    "get": ("GET", f"{CM}/data", None),
    "list": ("GET", CM, None),
    "watch": ("GET", f"{CM}?watch=true&timeoutSeconds=1", None),
    "create": ("POST", CM, {"apiVersion": "v1", "kind": "ConfigMap",
                            "metadata": {"generateName": "x-"}}),
    "update": ("PUT", f"{CM}/data", {"apiVersion": "v1", "kind": "ConfigMap",
                                     "metadata": {"name": "data"}, "data": {"owner": "changed"}}),
    "delete": ("DELETE", f"{CM}/nope", None),
    "discovery": ("GET", "/api/v1", None),
    "openapi": ("GET", "/openapi/v3", None),
    "review": ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
               {"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
                "spec": {"resourceAttributes": {"namespace": "default", "verb": "get",
                                                "resource": "configmaps"}}}),
}  # fmt: skip
# What each kind of identity may do in its own workspace (codes; others: 403 or 401).
OWN = {
    "user": {"get": 200, "list": 200, "watch": 200, "create": 201, "update": 200,
             "delete": 404, "discovery": 200, "openapi": 200, "review": 201},
    "sa": {"get": 200, "list": 200, "watch": 200, "create": 403, "update": 403,
           "delete": 403, "discovery": 200, "openapi": 200, "review": 201},
}  # fmt: skip


@pytest.mark.parametrize("probe", list(PROBES))
@pytest.mark.parametrize("identity", [f"{k}@{ws}" for ws in WORKSPACES for k in ("user", "sa")])
def test_every_identity_in_every_workspace(
    tenants: tuple[KcpServer, dict[str, str]], identity: str, probe: str
) -> None:
    server, identities = tenants
    api = Api(server, identities[identity])
    who, home = identity.split("@")
    method, path, body = PROBES[probe]
    if probe == "update":
        body = {**body, "data": {"owner": identity}}
    for ws in WORKSPACES:
        status, answer = api.call(method, f"/clusters/{ws}{path}", body)
        if ws == home:
            assert status == OWN[who][probe], (ws, answer)
            if probe == "review":  # both may read configmaps in default: the answer says so
                assert answer["status"]["allowed"] is True, answer
            continue
        if who == "sa":
            # A service-account token names its workspace: anywhere else it is no credential.
            assert (status, answer.get("reason")) == (401, "Unauthorized"), (ws, answer)
        else:
            assert status == 403, (ws, answer)
            assert answer["message"].endswith(f'"{ws}" workspace access not permitted'), answer
    # Nobody but system:masters may use the wildcard.
    status, answer = api.call("GET", f"/clusters/*{CM.replace('/namespaces/default', '')}")
    if who == "sa":
        assert status == 401
    else:
        assert status == 403
        assert 'the "*" logical cluster is only for privileged users' in answer["message"]


def test_no_write_crossed_a_workspace(tenants: tuple[KcpServer, dict[str, str]]) -> None:
    server, _ = tenants
    admin = admin_api(server)
    for ws in WORKSPACES:
        data = admin.call("GET", f"/clusters/{ws}{CM}/data")[1]["data"]
        assert data["owner"] in (ws, f"user@{ws}")
