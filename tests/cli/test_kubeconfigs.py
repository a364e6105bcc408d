"""The kubeconfig edits of ``kubectl ws``, on real files: kcp's rules (kcp-behaviour.md 1.5).

The starting point is the admin kubeconfig ``kcp start`` writes (rendered by ``kubeconfig.py``),
so the tests edit exactly the file users begin the walkthrough with.
"""

from __future__ import annotations

import base64
import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from kcp_edge.cli.kubeconfig import render_admin_kubeconfig
from kcp_edge.cli.kubeconfigs import (
    CURRENT_KEY,
    PREVIOUS_KEY,
    ClusterURL,
    Kubeconfig,
    KubeconfigError,
    client_config,
    context_name,
    create_context,
    is_workspace_path,
    kubeconfig_path,
    parent_workspace,
    parse_cluster_url,
    quoted,
    require_cluster_url,
    server_of,
    swap_with_previous,
    switch_workspace,
    workspace_url,
)

BASE = "https://127.0.0.1:6443"
CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
TOKEN = "0123-token"


@pytest.fixture
def admin(tmp_path: Path) -> Kubeconfig:
    path = tmp_path / "admin.kubeconfig"
    path.write_text(render_admin_kubeconfig(server=BASE, ca_pem=CA, token=TOKEN))
    path.chmod(0o600)
    return Kubeconfig.load(path)


def server(config: Kubeconfig, context: str | None = None) -> str:
    return server_of(config, context or config.current_context)


# --- which file -----------------------------------------------------------------------------


def test_path_explicit_flag_wins(tmp_path: Path) -> None:
    env = {"KUBECONFIG": "/a/b", "HOME": str(tmp_path)}
    assert kubeconfig_path(str(tmp_path / "x"), env) == tmp_path / "x"


def test_path_first_entry_of_kubeconfig_list(tmp_path: Path) -> None:
    env = {"KUBECONFIG": os.pathsep.join(["", "/first", "/second"]), "HOME": "/h"}
    assert kubeconfig_path(None, env) == Path("/first")


def test_path_defaults_to_home(tmp_path: Path) -> None:
    assert kubeconfig_path(None, {"HOME": str(tmp_path)}) == tmp_path / ".kube" / "config"
    assert kubeconfig_path(None, {"KUBECONFIG": "", "HOME": "/h"}) == Path("/h/.kube/config")


# --- reading and writing --------------------------------------------------------------------


def test_load_admin_kubeconfig(admin: Kubeconfig) -> None:
    assert admin.current_context == "default"
    assert server(admin) == f"{BASE}/clusters/root:default"
    assert server(admin, "system:admin") == BASE
    assert server(admin, "cross-cluster") == f"{BASE}/clusters/*"
    assert admin.user("admin") == {"token": TOKEN}


def test_load_missing_file(tmp_path: Path) -> None:
    assert Kubeconfig.load(tmp_path / "none").doc == {}
    with pytest.raises(KubeconfigError, match=r"^stat .*/none: no such file or directory$"):
        Kubeconfig.load(tmp_path / "none", must_exist=True)


@pytest.mark.parametrize("text", ["a: [b\n", "- just\n- a list\n"])
def test_load_rejects_broken_files(tmp_path: Path, text: str) -> None:
    path = tmp_path / "config"
    path.write_text(text)
    with pytest.raises(KubeconfigError, match=r'^error loading config file ".*/config": '):
        Kubeconfig.load(path)


def test_load_empty_file_is_empty_config(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("")
    config = Kubeconfig.load(path)
    with pytest.raises(KubeconfigError, match="no configuration has been provided"):
        context_name(config, None)


def test_save_keeps_unknown_fields_mode_and_symlink(tmp_path: Path) -> None:
    real = tmp_path / "real"
    doc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Config",
        "preferences": {"colors": True},
        "extensions": [{"name": "x", "extension": {"k": "v"}}],
        "clusters": [
            {"name": "c", "cluster": {"server": f"{BASE}/clusters/root", "proxy-url": "p"}}
        ],
        "contexts": [{"name": "ctx", "context": {"cluster": "c", "user": "u", "namespace": "ns"}}],
        "users": [{"name": "u", "user": {"token": "t"}}],
        "current-context": "ctx",
    }
    real.write_text(yaml.safe_dump(doc))
    real.chmod(0o640)
    link = tmp_path / "link"
    link.symlink_to(real)
    changed = switch_workspace(Kubeconfig.load(link), "ctx", f"{BASE}/clusters/root:a")
    changed.save()
    assert link.is_symlink()
    assert real.stat().st_mode & 0o777 == 0o640
    saved = yaml.safe_load(real.read_text())
    for key in ("preferences", "extensions", "users"):
        assert saved[key] == doc[key]
    assert saved["clusters"][1] == {
        "name": CURRENT_KEY,
        "cluster": {"server": f"{BASE}/clusters/root:a", "proxy-url": "p"},
    }
    assert saved["contexts"][1] == {
        "name": CURRENT_KEY,
        "context": {"cluster": CURRENT_KEY, "user": "u", "namespace": "ns"},
    }


def test_save_new_file_is_private(tmp_path: Path) -> None:
    config = Kubeconfig(tmp_path / "dir" / "config", {"current-context": "x"})
    config.save()
    assert (tmp_path / "dir" / "config").stat().st_mode & 0o777 == 0o600
    assert Kubeconfig.load(tmp_path / "dir" / "config").current_context == "x"


# --- contexts -------------------------------------------------------------------------------


def test_context_override_and_errors(admin: Kubeconfig) -> None:
    assert context_name(admin, None) == "default"
    assert context_name(admin, "root") == "root"
    with pytest.raises(KubeconfigError, match=r"^context was not found for specified context: no$"):
        server_of(admin, "no")
    admin.set_context("dangling", {"cluster": "gone", "user": "admin"})
    with pytest.raises(KubeconfigError, match=r'^cluster "gone" not found in kubeconfig$'):
        server_of(admin, "dangling")
    admin.set_cluster("empty", {})
    admin.set_context("empty", {"cluster": "empty"})
    with pytest.raises(KubeconfigError, match="cluster has no server defined"):
        server_of(admin, "empty")


# --- workspaces in URLs ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"{BASE}/clusters/root", ClusterURL(BASE, "root")),
        (f"{BASE}/clusters/root:org:team-a", ClusterURL(BASE, "root:org:team-a")),
        (f"{BASE}/clusters/root:org/", ClusterURL(BASE, "root:org")),
        ("https://h/prefix/clusters/root:a/api", ClusterURL("https://h/prefix", "root:a")),
        (f"{BASE}/services/workspaces/root:org/personal", ClusterURL(BASE, "root:org")),
        (f"{BASE}/clusters/system:admin", ClusterURL(BASE, "system:admin")),
        (BASE, None),
        (f"{BASE}/", None),
        (f"{BASE}/clusters/*", None),
        (f"{BASE}/clusters/default", None),  # not under root or system
        (f"{BASE}/clusters/root:Org", None),
        (f"{BASE}/clusters/root:a:b", ClusterURL(BASE, "root:a:b")),  # one letter is valid
        (f"{BASE}/clusters/root:" + "a" * 64, None),
        (f"{BASE}/clusters/root::a", None),
        ("not a url", None),
    ],
)
def test_parse_cluster_url(url: str, expected: ClusterURL | None) -> None:
    assert parse_cluster_url(url) == expected


def test_require_cluster_url_error() -> None:
    with pytest.raises(
        KubeconfigError,
        match=r'^current URL "https://127.0.0.1:6443" does not point to cluster workspace$',
    ):
        require_cluster_url(BASE)


def test_path_helpers() -> None:
    assert workspace_url(BASE + "/", "root:org") == f"{BASE}/clusters/root:org"
    assert parent_workspace("root:org:team") == "root:org"
    assert parent_workspace("root") is None
    assert is_workspace_path("root:org-1")
    assert is_workspace_path("system:admin")
    assert not is_workspace_path("rooty:org")
    assert not is_workspace_path("root:-x")
    assert quoted('a"b') == '"a\\"b"'


# --- use, previous, create-context ----------------------------------------------------------


def test_first_switch_keeps_ca_and_user(admin: Kubeconfig) -> None:
    changed = switch_workspace(admin, "default", f"{BASE}/clusters/root")
    assert changed.current_context == CURRENT_KEY
    assert changed.cluster(CURRENT_KEY) == {
        "server": f"{BASE}/clusters/root",
        "certificate-authority-data": base64.b64encode(CA).decode(),
    }
    assert changed.context(CURRENT_KEY) == {"cluster": CURRENT_KEY, "user": "admin"}
    assert changed.context(PREVIOUS_KEY) == {"cluster": "root:default", "user": "admin"}
    assert changed.cluster(PREVIOUS_KEY) is None  # root:default is still there
    # the original is untouched (the edit works on a copy)
    assert admin.current_context == "default"
    assert admin.context(CURRENT_KEY) is None


def test_second_switch_saves_the_current_cluster_as_previous(admin: Kubeconfig) -> None:
    first = switch_workspace(admin, "default", f"{BASE}/clusters/root")
    second = switch_workspace(first, CURRENT_KEY, f"{BASE}/clusters/root:org")
    assert server(second) == f"{BASE}/clusters/root:org"
    assert second.context(PREVIOUS_KEY) == {"cluster": PREVIOUS_KEY, "user": "admin"}
    assert server(second, PREVIOUS_KEY) == f"{BASE}/clusters/root"
    assert len([c for c in second.doc["clusters"] if c["name"] == CURRENT_KEY]) == 1


def test_switch_from_an_explicit_context(admin: Kubeconfig) -> None:
    changed = switch_workspace(admin, "system:admin", f"{BASE}/clusters/root")
    assert changed.context(PREVIOUS_KEY) == {"cluster": "system:admin", "user": "admin"}
    with pytest.raises(KubeconfigError, match=r'^current "nope" context not found$'):
        switch_workspace(admin, "nope", BASE)


def test_swap_with_previous_goes_back_and_forth(admin: Kubeconfig) -> None:
    with pytest.raises(KubeconfigError, match=r"^no previous workspace found in kubeconfig$"):
        swap_with_previous(admin, "default")
    first = switch_workspace(admin, "default", f"{BASE}/clusters/root")
    back = swap_with_previous(first, CURRENT_KEY)
    assert server(back) == f"{BASE}/clusters/root:default"
    assert back.context(CURRENT_KEY) == {"cluster": "root:default", "user": "admin"}
    assert server(back, PREVIOUS_KEY) == f"{BASE}/clusters/root"
    forth = swap_with_previous(back, CURRENT_KEY)
    assert server(forth) == f"{BASE}/clusters/root"
    assert server(forth, PREVIOUS_KEY) == f"{BASE}/clusters/root:default"
    two = switch_workspace(forth, CURRENT_KEY, f"{BASE}/clusters/root:org")
    swapped = swap_with_previous(two, CURRENT_KEY)
    assert server(swapped) == f"{BASE}/clusters/root"
    assert server(swapped, PREVIOUS_KEY) == f"{BASE}/clusters/root:org"


def test_create_context_messages(admin: Kubeconfig) -> None:
    changed, message = create_context(admin, "default", None, overwrite=False)
    assert message == 'Created context "root:default" and switched to it.'
    assert changed.current_context == "root:default"
    assert changed.context("root:default") == {"cluster": "root:default", "user": "admin"}
    with pytest.raises(
        KubeconfigError,
        match=r'^context "root:default" already exists in kubeconfig, use --overwrite to update',
    ):
        create_context(changed, "default", None, overwrite=False)
    _, message = create_context(changed, "default", None, overwrite=True)
    assert message == 'Updated context "root:default".'
    _, message = create_context(admin, "default", "root", overwrite=True)
    assert message == 'Updated context "root" and switched to it.'
    with pytest.raises(KubeconfigError, match="does not point to cluster workspace"):
        create_context(admin, "system:admin", None, overwrite=False)


# --- credentials ----------------------------------------------------------------------------


def test_client_config_from_admin_kubeconfig(admin: Kubeconfig) -> None:
    config = client_config(admin, "default")
    assert config.server == f"{BASE}/clusters/root:default"
    assert config.ca_pem == CA
    assert config.token == TOKEN
    assert not config.insecure
    assert config.client_cert_pem is None


def test_client_config_reads_files_relative_to_the_kubeconfig(tmp_path: Path) -> None:
    (tmp_path / "certs").mkdir()
    (tmp_path / "certs" / "ca.crt").write_bytes(CA)
    (tmp_path / "certs" / "client.crt").write_bytes(b"CERT")
    (tmp_path / "certs" / "client.key").write_bytes(b"KEY")
    (tmp_path / "token").write_text("file-token\n")
    doc = {
        "clusters": [
            {
                "name": "c",
                "cluster": {
                    "server": BASE,
                    "certificate-authority": "certs/ca.crt",
                    "tls-server-name": "kcp.example",
                },
            }
        ],
        "users": [
            {"name": "u", "user": {"client-certificate": "certs/client.crt"}},
            {"name": "t", "user": {"tokenFile": str(tmp_path / "token")}},
            {"name": "b", "user": {"username": "alice", "password": "pw"}},
            {"name": "e", "user": {"exec": {"command": "x"}}},
        ],
        "contexts": [
            {"name": "cert", "context": {"cluster": "c", "user": "u"}},
            {"name": "tok", "context": {"cluster": "c", "user": "t"}},
            {"name": "basic", "context": {"cluster": "c", "user": "b"}},
            {"name": "exec", "context": {"cluster": "c", "user": "e"}},
            {"name": "nobody", "context": {"cluster": "c"}},
        ],
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(doc))
    config = Kubeconfig.load(path)
    cert = client_config(config, "cert")
    assert (cert.ca_pem, cert.client_cert_pem, cert.tls_server_name) == (CA, b"CERT", "kcp.example")
    assert cert.client_key_pem is None
    config.user("u")["client-key"] = "certs/client.key"  # type: ignore[index]
    assert client_config(config, "cert").client_key_pem == b"KEY"
    assert client_config(config, "tok").token == "file-token"
    basic = client_config(config, "basic")
    assert (basic.username, basic.password, basic.token) == ("alice", "pw", None)
    assert client_config(config, "nobody").token is None
    with pytest.raises(KubeconfigError, match="exec and auth-provider credential plugins"):
        client_config(config, "exec")
    config.user("u")["client-key"] = "certs/missing.key"  # type: ignore[index]
    with pytest.raises(KubeconfigError, match=r"unable to read client-key certs/missing.key"):
        client_config(config, "cert")


def test_client_config_insecure_and_bad_base64(admin: Kubeconfig) -> None:
    cluster = admin.cluster("root")
    assert cluster is not None
    cluster["insecure-skip-tls-verify"] = True
    del cluster["certificate-authority-data"]
    config = client_config(admin, "root")
    assert config.insecure
    assert config.ca_pem is None
    cluster["certificate-authority-data"] = "not base64!"
    with pytest.raises(KubeconfigError, match="certificate-authority-data: illegal base64 data"):
        client_config(admin, "root")
