"""Who may enter which workspace and do what there: users from a token file, kcp's workspace
access rule, the workspace's own RBAC, the wildcard, and anonymous callers.

The server runs with ``--token-auth-file``; the admin sets up an organization with two
workspaces and grants alice entry to one of them and ``edit`` in its ``default`` namespace.
Every answer is asserted as the user sees it (kubectl's lines, or the exact Status).
"""

from __future__ import annotations

import base64
import http.client
import json
import os
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KUBECTL, KcpServer, https_request, running_kcp, tls_context

TOKENS = {"alice": "alice-token-0123456789", "bob": "bob-token-0123456789"}


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KcpServer]:
    base = tmp_path_factory.mktemp("secured")
    token_file = base / "tokens.csv"
    token_file.write_text(
        "".join(f'{token},{user},uid-{user},"developers"\n' for user, token in TOKENS.items())
    )
    with running_kcp(
        base / "kcp", "--token-auth-file", str(token_file), log=base / "kcp.log"
    ) as server:
        admin = Kubectl(server, base / "admin-home", token=None)
        create_workspace(admin, base, "root", "acme", "Organization")
        create_workspace(admin, base, "root:acme", "a", "Universal")
        create_workspace(admin, base, "root:acme", "b", "Universal")
        apply(admin, "root:acme", base / "access.json", ACCESS_TO_A)
        apply(admin, "root:acme:a", base / "edit.json", EDIT_IN_DEFAULT)
        apply(admin, "root", base / "enter-acme.json", grant("enter-acme", ENTER_ACME))
        apply(admin, "root:acme", base / "creator.json", grant("creator", CREATE_WORKSPACES))
        yield server


ACCESS_TO_A: list[dict[str, Any]] = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRole",
        "metadata": {"name": "enter-a"},
        "rules": [
            {
                "apiGroups": ["tenancy.kcp.dev"],
                "resources": ["workspaces/content"],
                "resourceNames": ["a"],
                "verbs": ["access"],
            }
        ],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "ClusterRoleBinding",
        "metadata": {"name": "alice-enters-a"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "enter-a",
        },
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}],
    },
]
ENTER_ACME = {
    "apiGroups": ["tenancy.kcp.dev"],
    "resources": ["workspaces/content"],
    "resourceNames": ["acme"],
    "verbs": ["access"],
}
CREATE_WORKSPACES = {
    "apiGroups": ["tenancy.kcp.dev"],
    "resources": ["workspaces"],
    "verbs": ["create", "get", "list", "watch"],
}


def grant(name: str, rule: dict[str, Any]) -> list[dict[str, Any]]:
    """A ClusterRole with one rule, bound to alice."""
    return [
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRole",
            "metadata": {"name": name},
            "rules": [rule],
        },
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "ClusterRoleBinding",
            "metadata": {"name": name},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "ClusterRole",
                "name": name,
            },
            "subjects": [
                {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}
            ],
        },
    ]


EDIT_IN_DEFAULT: list[dict[str, Any]] = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "alice-edits", "namespace": "default"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "edit"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}],
    }
]


def apply(kubectl: Kubectl, cluster: str, path: Path, objects: list[dict[str, Any]]) -> None:
    # One document each: validating a `kind: List` makes kubectl fetch /openapi/v2.
    path.write_text("\n".join(json.dumps(obj) for obj in objects))
    kubectl.at(cluster, "apply", "-f", str(path))


def create_workspace(kubectl: Kubectl, base: Path, parent: str, name: str, kind: str) -> None:
    path = base / f"{name}.json"
    path.write_text(
        json.dumps(
            {
                "apiVersion": "tenancy.kcp.dev/v1beta1",
                "kind": "Workspace",
                "metadata": {"name": name},
                "spec": {"type": kind},
            }
        )
    )
    kubectl.at(parent, "create", "-f", str(path))
    kubectl.at(parent, "wait", "--for=jsonpath={.status.phase}=Ready", f"workspace/{name}")


class Kubectl:
    """kubectl as the admin (token None: the admin kubeconfig) or as a token-file user."""

    def __init__(self, server: KcpServer, home: Path, *, token: str | None) -> None:
        if KUBECTL is None:
            pytest.skip("kubectl is not installed next to the Python interpreter")
        home.mkdir(parents=True, exist_ok=True)
        self.kubeconfig = home / "kubeconfig"
        text = server.kubeconfig.read_text()
        if token is not None:
            config = json.loads(json.dumps(__import__("yaml").safe_load(text)))
            for user in config["users"]:
                user["user"] = {"token": token}
            text = json.dumps(config)
        self.kubeconfig.write_text(text)
        self.env = {**os.environ, "HOME": str(home), "KUBECONFIG": str(self.kubeconfig)}
        self.server = server

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(KUBECTL), *args],
            capture_output=True,
            text=True,
            timeout=60,
            env=self.env,
            check=False,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{done.stderr}")
        return done

    def at(self, cluster: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self("--server", f"{self.server.url}/clusters/{cluster}", *args, check=check)


@pytest.fixture
def alice(secured: KcpServer, tmp_path: Path) -> Kubectl:
    return Kubectl(secured, tmp_path / "alice", token=TOKENS["alice"])


@pytest.fixture
def bob(secured: KcpServer, tmp_path: Path) -> Kubectl:
    return Kubectl(secured, tmp_path / "bob", token=TOKENS["bob"])


def test_an_anonymous_request_is_refused_with_kcps_exact_answer(secured: KcpServer) -> None:
    resp = https_request(secured.url, "/clusters/root:default/", ca_file=secured.ca_file)
    assert resp.status == 403
    assert resp.body == (
        b'{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure","message":'
        b'"forbidden: User \\"system:anonymous\\" cannot get path \\"/\\": \\"root:default\\" '
        b'workspace access not permitted","reason":"Forbidden","details":{},"code":403}'
    )


def test_a_user_works_where_rbac_allows_it(alice: Kubectl) -> None:
    done = alice.at(
        "root:acme:a", "-n", "default", "create", "configmap", "mine", "--from-literal=a=1"
    )
    assert done.stdout.strip() == "configmap/mine created"
    assert alice.at(
        "root:acme:a", "-n", "default", "get", "configmap", "mine", "-o", "name"
    ).stdout.strip() == ("configmap/mine")
    done = alice.at("root:acme:a", "get", "namespaces", check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        'Error from server (Forbidden): namespaces is forbidden: User "alice" cannot list '
        'resource "namespaces" in API group "" at the cluster scope'
    )
    done = alice.at("root:acme:a", "-n", "kube-system", "get", "secrets", check=False)
    assert done.stderr.strip() == (
        'Error from server (Forbidden): secrets is forbidden: User "alice" cannot list resource '
        '"secrets" in API group "" in the namespace "kube-system"'
    )


def answer(server: KcpServer, user: str, path: str) -> tuple[int, str]:
    resp = https_request(
        server.url,
        path,
        ca_file=server.ca_file,
        headers={"Authorization": f"Bearer {TOKENS[user]}"},
    )
    return resp.status, json.loads(resp.body)["message"]


def test_a_sibling_workspace_is_closed(secured: KcpServer, alice: Kubectl) -> None:
    # kubectl's discovery fails first and prints only "Error from server (Forbidden): unknown".
    done = alice.at("root:acme:b", "-n", "default", "get", "configmaps", check=False)
    assert done.returncode == 1
    assert done.stderr.strip().endswith("Error from server (Forbidden): unknown")
    assert answer(
        secured, "alice", "/clusters/root:acme:b/api/v1/namespaces/default/configmaps"
    ) == (
        403,
        'configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" '
        'in the namespace "default": "root:acme:b" workspace access not permitted',
    )


def test_a_user_without_grants_cannot_enter(secured: KcpServer) -> None:
    assert answer(secured, "bob", "/clusters/root:acme:a/api") == (
        403,
        'forbidden: User "bob" cannot get path "/api": "root:acme:a" workspace access not '
        "permitted",
    )
    # root is open to every authenticated user; its RBAC decides the rest.
    assert answer(secured, "bob", "/clusters/root/api/v1/namespaces") == (
        403,
        'namespaces is forbidden: User "bob" cannot list resource "namespaces" in API group "" '
        "at the cluster scope",
    )


def test_the_wildcard_is_for_privileged_users(secured: KcpServer) -> None:
    assert answer(secured, "alice", "/clusters/*/api/v1/configmaps") == (
        403,
        'configmaps is forbidden: User "alice" cannot list resource "configmaps" in API group "" '
        'at the cluster scope: the "*" logical cluster is only for privileged users',
    )


def test_the_admin_may_do_everything(secured: KcpServer, tmp_path: Path) -> None:
    admin = Kubectl(secured, tmp_path / "admin", token=None)
    admin.at("root:acme:a", "-n", "default", "create", "configmap", "admins")
    listed = admin.at("root:acme:a", "get", "configmaps", "-A", "-o", "name").stdout.split()
    assert "configmap/admins" in listed
    everywhere = admin.at("*", "get", "namespaces", "-o", "name").stdout.split()
    assert "namespace/default" in everywhere


def test_the_creator_of_a_workspace_becomes_its_admin(
    secured: KcpServer, alice: Kubectl, tmp_path: Path
) -> None:
    create_workspace(alice, tmp_path, "root:acme", "alices", "Universal")
    done = alice.at("root:acme:alices", "create", "namespace", "mine")
    assert done.stdout.strip() == "namespace/mine created"
    assert answer(secured, "bob", "/clusters/root:acme:alices/api")[0] == 403


def test_kubectl_auth_can_i_and_whoami(secured: KcpServer, alice: Kubectl, tmp_path: Path) -> None:
    ws = "root:acme:a"
    done = alice.at(ws, "auth", "can-i", "create", "configmaps", "-n", "default")
    assert done.stdout.strip() == "yes"
    done = alice.at(ws, "auth", "can-i", "get", "secrets", "-n", "kube-system", check=False)
    assert (done.returncode, done.stdout.strip()) == (1, "no")
    listed = alice.at(ws, "auth", "can-i", "--list", "-n", "default").stdout
    assert re.search(r"^configmaps\s+\[\]\s+\[\]\s+\[.*create.*\]$", listed, re.M), listed
    who = [
        re.sub(r"\s+", " ", line).strip()
        for line in alice.at(ws, "auth", "whoami").stdout.splitlines()
    ]
    assert who == [
        "ATTRIBUTE VALUE",
        "Username alice",
        "Groups [developers system:authenticated]",
    ]
    admin = Kubectl(secured, tmp_path / "admin", token=None)
    assert admin.at(ws, "auth", "can-i", "*", "*").stdout.strip() == "yes"


def test_nobody_grants_what_they_do_not_hold(
    secured: KcpServer, alice: Kubectl, tmp_path: Path
) -> None:
    admin = Kubectl(secured, tmp_path / "admin", token=None)
    ws = "root:acme:a"
    admin.at(ws, "create", "namespace", "team")
    admin.at(
        ws,
        "-n",
        "team",
        "create",
        "rolebinding",
        "alice-admin",
        "--clusterrole=admin",
        "--user=alice",
    )
    # admin in "team" may manage bindings there, but not hand out cluster-admin...
    done = alice.at(
        ws, "-n", "team", "create", "rolebinding", "grab", "--clusterrole=cluster-admin",
        "--user=alice", check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr == (
        'error: failed to create rolebinding: rolebindings.rbac.authorization.k8s.io "grab" is '
        'forbidden: user "alice" (groups=["developers" "system:authenticated"]) is attempting '
        "to grant RBAC permissions not currently held:\n"
        '{APIGroups:["*"], Resources:["*"], Verbs:["*"]}\n{NonResourceURLs:["*"], Verbs:["*"]}\n'
    )
    # ...nor write itself a Role wider than what it holds (resourcequotas are view-only).
    done = alice.at(
        ws, "-n", "team", "create", "role", "wider", "--verb=create",
        "--resource=resourcequotas", check=False,
    )  # fmt: skip
    assert done.returncode == 1
    assert "is attempting to grant RBAC permissions not currently held" in done.stderr
    # What it holds it may grant.
    done = alice.at(
        ws, "-n", "team", "create", "role", "narrow", "--verb=get", "--resource=configmaps"
    )
    assert done.stdout.strip() == "role.rbac.authorization.k8s.io/narrow created"


def bearer(server: KcpServer, token: str, path: str) -> tuple[int, dict[str, Any]]:
    resp = https_request(
        server.url, path, ca_file=server.ca_file, headers={"Authorization": f"Bearer {token}"}
    )
    return resp.status, json.loads(resp.body)


def test_service_account_tokens_work_only_in_their_workspace(
    secured: KcpServer, tmp_path: Path
) -> None:
    admin = Kubectl(secured, tmp_path / "admin", token=None)
    ws = "root:acme:a"
    admin.at(ws, "-n", "default", "create", "serviceaccount", "robot")
    deadline = time.monotonic() + 10
    while True:
        account = json.loads(
            admin.at(ws, "-n", "default", "get", "sa", "robot", "-o", "json").stdout
        )
        if account.get("secrets"):
            break
        assert time.monotonic() < deadline
        time.sleep(0.1)
    secret = json.loads(
        admin.at(
            ws, "-n", "default", "get", "secret", account["secrets"][0]["name"], "-o", "json"
        ).stdout
    )
    assert secret["type"] == "kubernetes.io/service-account-token"
    legacy = base64.b64decode(secret["data"]["token"]).decode()
    path = "/clusters/root:acme:a/api/v1/namespaces/default/configmaps"
    status, body = bearer(secured, legacy, path)
    assert (status, body["message"]) == (
        403,
        'configmaps is forbidden: User "system:serviceaccount:default:robot" cannot list '
        'resource "configmaps" in API group "" in the namespace "default"',
    )
    admin.at(
        ws, "-n", "default", "create", "rolebinding", "robot-views", "--clusterrole=view",
        "--serviceaccount=default:robot",
    )  # fmt: skip
    deadline = time.monotonic() + 5
    while bearer(secured, legacy, path)[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    # The same token in a sibling workspace (which has a default/robot too) is not valid.
    admin.at("root:acme:b", "-n", "default", "create", "serviceaccount", "robot")
    status, body = bearer(
        secured, legacy, "/clusters/root:acme:b/api/v1/namespaces/default/configmaps"
    )
    assert (status, body["reason"]) == (401, "Unauthorized")
    # kubectl create token: a bound, expiring token for the same account.
    fresh = admin.at(ws, "-n", "default", "create", "token", "robot").stdout.strip()
    assert bearer(secured, fresh, path)[0] == 200
    assert bearer(secured, fresh[:-4] + "AAAA", path)[0] == 401


# --- escalation: what a user with `edit` cannot do ----------------------------------------------


def rejected(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1, done.stdout
    return done.stderr.strip()


def test_edit_cannot_bind_cluster_admin(alice: Kubectl) -> None:
    ws = "root:acme:a"
    done = alice.at(
        ws, "-n", "default", "create", "rolebinding", "grab", "--clusterrole=cluster-admin",
        "--user=alice", check=False,
    )  # fmt: skip
    assert rejected(done) == (
        "error: failed to create rolebinding: rolebindings.rbac.authorization.k8s.io is "
        'forbidden: User "alice" cannot create resource "rolebindings" in API group '
        '"rbac.authorization.k8s.io" in the namespace "default"'
    )
    done = alice.at(
        ws, "create", "clusterrolebinding", "grab", "--clusterrole=cluster-admin", "--user=alice",
        check=False,
    )  # fmt: skip
    assert rejected(done) == (
        "error: failed to create clusterrolebinding: clusterrolebindings.rbac.authorization.k8s.io"
        ' is forbidden: User "alice" cannot create resource "clusterrolebindings" in API group '
        '"rbac.authorization.k8s.io" at the cluster scope'
    )


def test_edit_mints_tokens_only_for_service_accounts_it_edits(
    secured: KcpServer, alice: Kubectl, tmp_path: Path
) -> None:
    admin = Kubectl(secured, tmp_path / "admin", token=None)
    ws = "root:acme:a"
    admin.at(ws, "create", "namespace", "ops")
    for namespace in ("default", "ops"):
        admin.at(ws, "-n", namespace, "create", "serviceaccount", "deployer")
    admin.at("root:acme:b", "-n", "default", "create", "serviceaccount", "deployer")
    # As upstream, `edit` includes serviceaccounts/token: a token for an account of its own
    # namespace works (and is that account's, not alice's).
    token = alice.at(ws, "-n", "default", "create", "token", "deployer").stdout.strip()
    assert who_is(secured, ws, token) == "system:serviceaccount:default:deployer"
    # Another namespace of the same workspace: the RBAC answer.
    done = alice.at(ws, "-n", "ops", "create", "token", "deployer", check=False)
    assert rejected(done) == (
        'error: failed to create token: serviceaccounts "deployer" is forbidden: User "alice" '
        'cannot create resource "serviceaccounts/token" in API group "" in the namespace "ops"'
    )
    # Another workspace, same namespace and name: kcp's workspace rule.
    done = alice.at("root:acme:b", "-n", "default", "create", "token", "deployer", check=False)
    assert rejected(done) == (
        'error: failed to create token: serviceaccounts "deployer" is forbidden: User "alice" '
        'cannot create resource "serviceaccounts/token" in API group "" in the namespace '
        '"default": "root:acme:b" workspace access not permitted'
    )


def who_is(server: KcpServer, ws: str, token: str) -> str:
    """The user name a SelfSubjectReview returns for ``token`` in ``ws``."""
    conn = http.client.HTTPSConnection(
        "127.0.0.1", server.port, context=tls_context(server.ca_file), timeout=10
    )
    try:
        review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}
        conn.request(
            "POST",
            f"/clusters/{ws}/apis/authentication.k8s.io/v1/selfsubjectreviews",
            body=json.dumps(review),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        resp = conn.getresponse()
        body = json.loads(resp.read())
        assert resp.status == 201, body
        name: str = body["status"]["userInfo"]["username"]
        return name
    finally:
        conn.close()


SELF_MANAGED: list[dict[str, Any]] = [
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "Role",
        "metadata": {"name": "alice-self", "namespace": "self"},
        "rules": [
            {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"],
             "verbs": ["get", "list", "watch", "update", "patch"]},
            {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]},
        ],
    },
    {
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "kind": "RoleBinding",
        "metadata": {"name": "alice-self", "namespace": "self"},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": "alice-self"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}],
    },
]  # fmt: skip


def test_nobody_widens_their_own_role(secured: KcpServer, alice: Kubectl, tmp_path: Path) -> None:
    admin = Kubectl(secured, tmp_path / "admin", token=None)
    ws = "root:acme:a"
    admin.at(ws, "create", "namespace", "self")
    apply(admin, ws, tmp_path / "self.json", SELF_MANAGED)
    add_secrets = json.dumps(
        [{"op": "add", "path": "/rules/-",
          "value": {"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}}]
    )  # fmt: skip
    done = alice.at(
        ws, "-n", "self", "patch", "role", "alice-self", "--type=json", "-p", add_secrets,
        check=False,
    )  # fmt: skip
    assert rejected(done) == (
        'Error from server (Forbidden): roles.rbac.authorization.k8s.io "alice-self" is '
        'forbidden: user "alice" (groups=["developers" "system:authenticated"]) is attempting '
        "to grant RBAC permissions not currently held:\n"
        '{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}'
    )
    # `edit` in default does not count in namespace "self" either: the same for configmaps.
    widen_verbs = '[{"op": "add", "path": "/rules/1/verbs/-", "value": "delete"}]'
    done = alice.at(
        ws, "-n", "self", "patch", "role", "alice-self", "--type=json", "-p", widen_verbs,
        check=False,
    )  # fmt: skip
    assert "is attempting to grant RBAC permissions not currently held:\n" in rejected(done)
    assert rejected(done).endswith('{APIGroups:[""], Resources:["configmaps"], Verbs:["delete"]}')
    # Narrowing is fine.
    narrow = '[{"op": "replace", "path": "/rules/1/verbs", "value": ["get"]}]'
    done = alice.at(ws, "-n", "self", "patch", "role", "alice-self", "--type=json", "-p", narrow)
    assert done.stdout.strip() == "role.rbac.authorization.k8s.io/alice-self patched"


def test_tokens_die_with_their_service_account(secured: KcpServer, tmp_path: Path) -> None:
    """As kube-apiserver's --service-account-lookup: a deleted account's tokens are 401, and
    so are they after an account of the same name is made again (another uid)."""
    admin = Kubectl(secured, tmp_path / "admin", token=None)
    ws = "root:acme:a"
    admin.at(ws, "-n", "default", "create", "serviceaccount", "ephemeral")
    admin.at(
        ws, "-n", "default", "create", "rolebinding", "ephemeral-views", "--clusterrole=view",
        "--serviceaccount=default:ephemeral",
    )  # fmt: skip
    token = admin.at(ws, "-n", "default", "create", "token", "ephemeral").stdout.strip()
    path = f"/clusters/{ws}/api/v1/namespaces/default/configmaps"
    deadline = time.monotonic() + 5
    while bearer(secured, token, path)[0] != 200:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    admin.at(ws, "-n", "default", "delete", "serviceaccount", "ephemeral")
    status, body = bearer(secured, token, path)
    assert (status, body["reason"]) == (401, "Unauthorized")
    admin.at(ws, "-n", "default", "create", "serviceaccount", "ephemeral")
    status, body = bearer(secured, token, path)
    assert (status, body["reason"]) == (401, "Unauthorized")
    fresh = admin.at(ws, "-n", "default", "create", "token", "ephemeral").stdout.strip()
    assert bearer(secured, fresh, path)[0] == 200
