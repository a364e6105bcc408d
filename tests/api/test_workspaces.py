"""Workspaces: the issue's walkthrough through the real kubectl and the `kubectl ws` plugin,
isolation between workspaces, the wildcard, deletion with content, nesting rules, restarts.

Each test runs its own server (workspaces change ``root``, which every other test reads). The
plugin runs from the repository as ``kubectl-ws`` on PATH, so kubectl finds it as it would the
single file's symlink.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KUBECTL, KcpServer, running_kcp
from tests.tools.shell import Shell


@pytest.fixture
def server(tmp_path: Path) -> Iterator[KcpServer]:
    with running_kcp(tmp_path / "kcp", log=tmp_path / "kcp.log") as running:
        yield running


TREE = """.
└── root
    ├── acme
    │   └── ops
    │       └── edge
    └── default

"""


def rows(text: str) -> list[str]:
    return [re.sub(r"\s+", " ", line).strip() for line in text.strip().splitlines()]


@pytest.fixture
def sh(server: KcpServer, tmp_path: Path) -> Shell:
    return Shell.of(server, tmp_path / "home")


def test_the_walkthrough(sh: Shell, server: KcpServer) -> None:
    url = server.url
    assert sh("ws", "use", "root").stdout.strip() == 'Current workspace is "root".'
    assert rows(sh("get", "workspaces").stdout) == [
        "NAME TYPE PHASE URL",
        f"default Organization Ready {url}/clusters/root:default",
    ]
    out = sh("ws", "create", "telcops", "--type", "Organization").stdout
    assert out.splitlines()[0] == (
        'Workspace "telcops" (type "Organization") created. Waiting for being ready.'
    )
    assert sh("ws", "use", "telcops").stdout.strip() == (
        'Current workspace is "root:telcops" (type "Organization").'
    )
    sh("ws", "create", "team-a")
    assert rows(sh("get", "workspaces").stdout) == [
        "NAME TYPE PHASE URL",
        f"team-a Universal Ready {url}/clusters/root:telcops:team-a",
    ]
    sh("ws", "use", "team-a")
    resources = sh("api-resources").stdout
    assert re.search(r"^configmaps\s+cm\s+v1\s+true\s+ConfigMap$", resources, re.M)
    assert re.search(
        r"^workloadclusters\s+workload.kcp.dev/v1alpha1\s+false\s+WorkloadCluster$", resources, re.M
    )
    done = sh("get", "deployments", check=False)
    assert done.stderr.strip() == 'error: the server doesn\'t have a resource type "deployments"'
    assert sh("ws", "..").stdout.strip() == 'Current workspace is "root:telcops".'
    out = sh("ws", "create", "team-b", "--enter").stdout
    assert out.strip().splitlines()[-1].startswith('Current workspace is "root:telcops:team-b"')
    assert sh("get", "namespaces", "-o", "name").stdout.split() == ["namespace/default"]


def test_workspaces_are_isolated(sh: Shell, server: KcpServer) -> None:
    sh("ws", "use", "root")
    sh("ws", "create", "org", "--type", "Organization", "--enter")
    sh("ws", "create", "a")
    sh("ws", "create", "b")
    sh("ws", "use", "a")
    sh("create", "configmap", "same", "--from-literal=who=a")
    sh("create", "namespace", "only-in-a")
    sh("ws", "use", "root:org:b")
    sh("create", "configmap", "same", "--from-literal=who=b")
    got = json.loads(sh("get", "configmap", "same", "-o", "json").stdout)
    assert got["data"] == {"who": "b"}
    assert sh("get", "namespace", "only-in-a", check=False).returncode == 1
    everywhere = json.loads(
        sh("--server", f"{server.url}/clusters/*", "get", "--raw", "/api/v1/configmaps").stdout
    )
    owners = sorted(
        (i["metadata"]["annotations"]["kcp.io/cluster"], i["metadata"]["name"])
        for i in everywhere["items"]
        if i["metadata"]["name"] == "same"
    )
    assert owners == [("root:org:a", "same"), ("root:org:b", "same")]


def test_deleting_a_workspace_deletes_its_content(sh: Shell, server: KcpServer) -> None:
    sh("ws", "use", "root")
    sh("ws", "create", "org", "--type", "Organization", "--enter")
    sh("ws", "create", "team", "--type", "Team", "--enter")
    sh("ws", "create", "leaf", "--enter")
    sh("create", "configmap", "deep", "--from-literal=a=1")
    sh("ws", "use", "root")
    sh("delete", "workspace", "org", "--timeout=60s")
    deadline = time.monotonic() + 30
    while sh("get", "workspace", "org", check=False).returncode == 0:
        assert time.monotonic() < deadline
        time.sleep(0.2)
    everywhere = json.loads(
        sh("--server", f"{server.url}/clusters/*", "get", "--raw", "/api/v1/configmaps").stdout
    )
    assert not [i for i in everywhere["items"] if i["metadata"]["name"] == "deep"]
    done = sh("--server", f"{server.url}/clusters/root:org:team:leaf", "get", "cm", check=False)
    assert done.returncode == 1


def test_workspaces_survive_a_restart(tmp_path: Path) -> None:
    root = tmp_path / "kcp"
    with running_kcp(root, log=tmp_path / "1.log") as first:
        sh = Shell.of(first, tmp_path / "home1")
        sh("ws", "use", "root")
        sh("ws", "create", "org", "--type", "Organization", "--enter")
        sh("ws", "create", "keep", "--enter")
        sh("create", "configmap", "kept", "--from-literal=a=1")
    with running_kcp(root, log=tmp_path / "2.log") as second:
        sh = Shell.of(second, tmp_path / "home2")
        sh("ws", "use", "root:org:keep")
        got = json.loads(sh("get", "configmap", "kept", "-o", "json").stdout)
        assert got["data"] == {"a": "1"}


def test_cousins_do_not_share_crds_discovery_or_watches(sh: Shell, server: KcpServer) -> None:
    sh("ws", "use", "root")
    for org in ("o1", "o2"):
        sh("ws", "create", org, "--type", "Organization")
        sh("ws", "use", f"root:{org}")
        sh("ws", "create", "t")
        sh("ws", "use", "root")
    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "gadgets.example.com"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }
    path = sh.home / "crd.json"
    path.write_text(json.dumps(crd))
    sh("ws", "use", "root:o1:t")
    sh("apply", "-f", str(path))
    sh("wait", "--for=condition=Established", "crd/gadgets.example.com")
    assert "gadgets" in sh("api-resources", "--api-group=example.com").stdout
    sh("ws", "use", "root:o2:t")
    assert sh("get", "crd", "-o", "name").stdout.strip() == ""
    done = sh("get", "gadgets", check=False)
    assert done.stderr.strip() == 'error: the server doesn\'t have a resource type "gadgets"'
    # A watch in one workspace sees nothing of a cousin's writes.
    watch = subprocess.Popen(
        [str(KUBECTL), "get", "configmaps", "-w", "--request-timeout=4s", "-o", "name"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=sh.env,
    )
    time.sleep(1.5)
    other = Shell.of(server, sh.home.parent / "other")
    other("ws", "use", "root:o1:t")
    other("create", "configmap", "noise", "--from-literal=a=1")
    sh("create", "configmap", "signal", "--from-literal=a=1")  # the watch's own workspace
    out, _ = watch.communicate(timeout=30)
    assert "configmap/signal" in out.split()  # the watch did see its workspace's writes...
    assert "noise" not in out  # ...and none of the cousin's
    # The wildcard sees both workspaces' namespaces.
    everywhere = json.loads(
        sh("--server", f"{server.url}/clusters/*", "get", "--raw", "/api/v1/namespaces").stdout
    )
    clusters = {i["metadata"]["annotations"]["kcp.io/cluster"] for i in everywhere["items"]}
    assert {"root", "root:default", "root:o1:t", "root:o2:t"} <= clusters


def test_the_wildcard_watch_sees_every_workspace(sh: Shell, server: KcpServer) -> None:
    sh("ws", "use", "root")
    sh("ws", "create", "w", "--type", "Organization")
    watch = subprocess.Popen(
        [
            str(KUBECTL),
            "--server",
            f"{server.url}/clusters/*",
            "get",
            "--raw",
            "/api/v1/configmaps?watch=true&timeoutSeconds=5",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=sh.env,
    )
    time.sleep(1.5)
    sh("ws", "use", "root:w")
    sh("create", "configmap", "seen-in-w", "--from-literal=a=1")
    sh("ws", "use", "root")
    sh("create", "configmap", "seen-in-root", "--from-literal=a=1")
    out, _ = watch.communicate(timeout=30)
    events = [json.loads(line) for line in out.splitlines() if line.strip()]
    seen = {
        (e["object"]["metadata"]["annotations"]["kcp.io/cluster"], e["object"]["metadata"]["name"])
        for e in events
    }
    assert {("root:w", "seen-in-w"), ("root", "seen-in-root")} <= seen
    done = sh(
        "--server", f"{server.url}/clusters/*", "delete", "configmap", "seen-in-w", check=False
    )
    assert done.returncode == 1


def test_nesting_messages(sh: Shell) -> None:
    sh("ws", "use", "root")
    done = sh("ws", "create", "plain", "--type", "Team", check=False)
    assert done.stderr.strip() == (
        'error: workspaces.tenancy.kcp.dev "plain" is forbidden: workspace type "Team" may only '
        'be created in a workspace of type "Organization"'
    )
    done = sh("ws", "create", "u", check=False)
    assert done.stderr.strip() == (
        'error: workspaces.tenancy.kcp.dev "u" is forbidden: workspace type "Universal" may only '
        'be created in a workspace of type "Organization" or "Team"'
    )
    sh("ws", "create", "org", "--type", "Organization", "--enter")
    done = sh("ws", "create", "sub", "--type", "Organization", check=False)
    assert done.stderr.strip() == (
        'error: workspaces.tenancy.kcp.dev "sub" is forbidden: workspace type "Organization" may '
        "only be created in root"
    )
    sh("ws", "create", "u", "--enter")
    done = sh("get", "workspaces", check=False)
    assert done.stderr.strip() == ('error: the server doesn\'t have a resource type "workspaces"')


def test_tree_and_the_kcp_plugin_forms(sh: Shell) -> None:
    sh("ws", "use", "root")
    sh("ws", "create", "acme", "--type", "Organization", "--enter")
    sh("ws", "create", "ops", "--type", "Team", "--enter")
    sh("ws", "create", "edge")
    sh("ws", "use", "root")
    assert sh("ws", "tree").stdout == TREE
    assert sh("kcp", "ws", "current").stdout.strip() == 'Current workspace is "root".'
    assert sh("kcp", "workspace", "use", "acme").stdout.strip() == (
        'Current workspace is "root:acme" (type "Organization").'
    )
    assert sh("ws", "-").stdout.strip() == 'Current workspace is "root".'


def test_a_custom_workspace_type(sh: Shell) -> None:
    sh("ws", "use", "root")
    sh("ws", "create", "corp", "--type", "Organization", "--enter")
    cwt = {
        "apiVersion": "tenancy.kcp.dev/v1alpha1",
        "kind": "ClusterWorkspaceType",
        "metadata": {"name": "lab"},
        "spec": {},
    }
    path = sh.home / "cwt.json"
    path.write_text(json.dumps(cwt))
    sh("apply", "-f", str(path))
    out = sh("ws", "create", "lab1", "--type", "Lab", "--enter").stdout
    assert out.strip().splitlines()[-1].startswith('Current workspace is "root:corp:lab1"')
    assert "workloadclusters" in sh("api-resources").stdout


def test_names_that_would_not_fit_a_storage_key_are_refused(sh: Shell) -> None:
    long = "a" * 60
    sh("ws", "use", "root")
    sh("ws", "create", f"o{long}", "--type", "Organization", "--enter")
    sh("ws", "create", f"t{long}", "--type", "Team", "--enter")
    done = sh("ws", "create", f"u{long}", check=False)
    assert done.returncode == 1
    assert "would be 190 characters long; at most 177 are allowed" in done.stderr
    # At the deepest allowed path the longest namespace and name still fit a storage key.
    sh("create", "namespace", "n" * 63)
    sh("-n", "n" * 63, "create", "configmap", "c" * 253)


def test_a_workspace_type_with_initializers_and_labels(sh: Shell) -> None:
    sh("ws", "use", "root")
    sh("ws", "create", "corp", "--type", "Organization", "--enter")
    cwt = {
        "apiVersion": "tenancy.kcp.dev/v1alpha1",
        "kind": "ClusterWorkspaceType",
        "metadata": {"name": "gated"},
        "spec": {
            "initializers": ["example.com/gate"],
            "additionalWorkspaceLabels": {"example.com/tier": "gold"},
        },
    }
    ws = {
        "apiVersion": "tenancy.kcp.dev/v1beta1",
        "kind": "Workspace",
        "metadata": {"name": "g1"},
        "spec": {"type": "Gated"},
    }
    for name, obj in (("cwt.json", cwt), ("ws.json", ws)):
        (sh.home / name).write_text(json.dumps(obj))
        sh("create", "-f", str(sh.home / name))

    def status() -> dict[str, Any]:
        got = json.loads(sh("get", "workspace", "g1", "-o", "json").stdout)
        assert got["metadata"]["labels"] == {"example.com/tier": "gold"}
        found: dict[str, Any] = got.get("status", {})
        return found

    deadline = time.monotonic() + 10
    while status().get("phase") != "Initializing":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    assert status()["initializers"] == ["example.com/gate"]
    sh(
        "patch", "workspace", "g1", "--subresource=status", "--type=merge",
        "-p", '{"status":{"initializers":[]}}',
    )  # fmt: skip
    while status().get("phase") != "Ready":
        assert time.monotonic() < deadline
        time.sleep(0.1)
