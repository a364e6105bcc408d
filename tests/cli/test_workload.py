"""``kubectl kcp workload`` end to end: the real kubectl runs the plugin from PATH against two real
servers, a kcp-edge "control plane" (a Universal workspace ``root:org:<team>`` per test) and a
second kcp-edge standing in for the edge cluster (``root:edge``).

What is checked: ``sync`` twice prints the same and writes nothing the second time; the manifest
applies to the edge workspace with ``kubectl apply``; the syncer's token can do what the syncer
needs in its workspace and nothing else; push mode stores the flattened edge kubeconfig and the
annotations, and pull mode removes them; ``--process`` writes a 0600 kubeconfig and a unit and
prints the command; cordon, uncordon and drain; kcp's error messages.
"""

from __future__ import annotations

import base64
import json
import re
import stat
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kcp_edge.cli import syncermanifest as sm
from tests.conftest import KcpServer, running_kcp
from tests.tools.apps import deployment_crd
from tests.tools.shell import Shell as BaseShell

pytestmark = pytest.mark.slow


class Shell(BaseShell):
    def kcp(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return self("kcp", "workload", *args, check=check)


def shell_for(server: KcpServer, home: Path) -> Shell:
    return Shell.of(server, home)


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KcpServer]:
    """The control plane, with organization ``root:org``."""
    root = tmp_path_factory.mktemp("upstream")
    with running_kcp(root / "kcp", log=root / "kcp.log") as server:
        sh = shell_for(server, root / "home")
        sh("ws", "use", "root")
        sh("ws", "create", "org", "--type", "Organization")
        yield server


@pytest.fixture(scope="module")
def edge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shell]:
    """The edge cluster: workspace ``root:edge`` of a second server, serving apps/v1 Deployments."""
    root = tmp_path_factory.mktemp("edge")
    with running_kcp(root / "kcp", log=root / "kcp.log") as server:
        sh = shell_for(server, root / "home")
        sh("ws", "use", "root")
        sh("ws", "create", "edge", "--type", "Organization", "--enter")
        sh("apply", "-f", "-", stdin=json.dumps(deployment_crd()))
        sh("wait", "--for", "condition=Established", "crd/deployments.apps")
        yield sh


@pytest.fixture
def team(upstream: KcpServer, tmp_path: Path) -> tuple[Shell, str]:
    """A shell whose current context is a fresh Universal workspace; its logical cluster."""
    sh = shell_for(upstream, tmp_path / "home")
    name = f"t{uuid.uuid4().hex[:8]}"
    sh("ws", "use", "root:org")
    sh("ws", "create", name, "--enter")
    return sh, f"root:org:{name}"


def meta(sh: Shell, *what: str) -> dict[str, Any]:
    return dict(sh.json("get", *what)["metadata"])


def resource_versions(sh: Shell, name: str, namespace: str = "default") -> list[str]:
    """Of the objects ``sync`` owns (the WorkloadCluster's status is the server's and syncer's)."""
    return [
        meta(sh, *what)["resourceVersion"]
        for what in (
            ("serviceaccount", f"syncer-{name}", "-n", namespace),
            ("clusterrole", f"syncer-{name}"),
            ("clusterrolebinding", f"syncer-{name}"),
        )
    ]


def documents(text: str) -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(text)}


# --- sync (pull, manifest) ------------------------------------------------------------------


def test_sync_twice_prints_the_same_and_changes_nothing(
    team: tuple[Shell, str], upstream: KcpServer
) -> None:
    sh, lc = team
    first = sh.kcp(
        "sync", "edge-1", "--syncer-image", "example/kcp-edge:1", "--resources", "services"
    )
    versions = resource_versions(sh, "edge-1")
    second = sh.kcp(
        "sync", "edge-1", "--syncer-image", "example/kcp-edge:1", "--resources", "services"
    )
    assert second.stdout == first.stdout
    assert (first.stderr, second.stderr) == ("", "")
    assert resource_versions(sh, "edge-1") == versions

    wc = sh.json("get", "workloadcluster", "edge-1")
    owner = sm.owner_reference(wc)
    assert wc["metadata"]["annotations"] == {"workload.kcp-edge.dev/syncer-mode": "pull"}
    resources = sm.resources_to_sync(["services"])
    role = sh.json("get", "clusterrole", "syncer-edge-1")
    assert role["rules"] == sm.upstream_rules("edge-1", resources)
    for what in ("clusterrole", "clusterrolebinding", "serviceaccount"):
        assert meta(sh, what, "syncer-edge-1")["ownerReferences"] == [owner]
    binding = sh.json("get", "clusterrolebinding", "syncer-edge-1")
    assert binding["roleRef"]["name"] == "syncer-edge-1"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "syncer-edge-1", "namespace": "default"}
    ]

    docs = documents(first.stdout)
    sid = sm.syncer_id(lc, "edge-1")
    assert list(docs) == [
        "Namespace",
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Secret",
        "Deployment",
    ]
    assert docs["Namespace"]["metadata"]["name"] == sid
    kubeconfig = yaml.safe_load(docs["Secret"]["stringData"]["kubeconfig"])
    cluster = kubeconfig["clusters"][0]["cluster"]
    assert cluster["server"] == upstream.url, "no /clusters path"
    assert base64.b64decode(cluster["certificate-authority-data"]) == upstream.ca_file.read_bytes()
    account = sh.json("get", "serviceaccount", "syncer-edge-1")
    token_secret = sh.json("get", "secret", account["secrets"][0]["name"])
    token = base64.b64decode(token_secret["data"]["token"]).decode()
    assert kubeconfig["users"][0]["user"]["token"] == token
    args = docs["Deployment"]["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"--from-cluster={lc}" in args
    assert "--resources=services" in args


def test_the_manifest_applies_to_the_edge_workspace(
    team: tuple[Shell, str], edge: Shell, tmp_path: Path
) -> None:
    sh, lc = team
    manifest = tmp_path / "syncer.yaml"
    done = sh.kcp("sync", "edge-2", "--syncer-image", "example/kcp-edge:1", "-o", str(manifest))
    sid = sm.syncer_id(lc, "edge-2")
    assert done.stdout == ""
    assert done.stderr == (
        f'Wrote physical cluster manifest to {manifest} for namespace "{sid}". Use\n\n'
        f'  KUBECONFIG=<pcluster-config> kubectl apply -f "{manifest}"\n\nto apply it.\n'
    )
    assert stat.S_IMODE(manifest.stat().st_mode) == 0o600, "it holds a token"
    text = manifest.read_text()
    assert text == sh.kcp("sync", "edge-2", "--syncer-image", "example/kcp-edge:1").stdout

    applied = edge("apply", "-f", str(manifest))
    assert applied.stdout.splitlines() == [
        f"namespace/{sid} created",
        "serviceaccount/kcp-syncer created",
        f"clusterrole.rbac.authorization.k8s.io/{sid} created",
        f"clusterrolebinding.rbac.authorization.k8s.io/{sid} created",
        "secret/kcp-syncer-config created",
        "deployment.apps/kcp-syncer created",
    ]
    again = edge("apply", "-f", str(manifest))
    # As on Kubernetes, a Secret with stringData is "configured" on every apply (stringData is
    # not stored, so kubectl's patch always sets it again); its data stays the same.
    assert again.stdout.splitlines() == [
        f"namespace/{sid} unchanged",
        "serviceaccount/kcp-syncer unchanged",
        f"clusterrole.rbac.authorization.k8s.io/{sid} unchanged",
        f"clusterrolebinding.rbac.authorization.k8s.io/{sid} unchanged",
        "secret/kcp-syncer-config configured",
        "deployment.apps/kcp-syncer unchanged",
    ]
    docs = documents(text)
    stored = edge.json("get", "secret", "kcp-syncer-config", "-n", sid)["data"]["kubeconfig"]
    assert base64.b64decode(stored).decode() == docs["Secret"]["stringData"]["kubeconfig"]
    labels = edge.json("get", "namespace", sid)["metadata"]["labels"]
    assert labels["workload.kcp.io/logical-cluster"] == lc.replace(":", "_")
    assert labels["workload.kcp.io/workload-cluster"] == "edge-2"
    deployment = edge.json("get", "deployment", "kcp-syncer", "-n", sid)
    assert deployment["spec"] == docs["Deployment"]["spec"], "nothing pruned by the schema"


def test_the_syncer_token_can_do_only_what_the_syncer_needs(
    team: tuple[Shell, str], upstream: KcpServer, tmp_path: Path
) -> None:
    sh, lc = team
    sh.kcp("sync", "other", "--syncer-image", "example/kcp-edge:1")
    text = sh.kcp("sync", "edge-4", "--syncer-image", "example/kcp-edge:1").stdout
    kubeconfig = tmp_path / "syncer.kubeconfig"
    kubeconfig.write_text(documents(text)["Secret"]["stringData"]["kubeconfig"])
    workspace = f"{upstream.url}/clusters/{lc}"

    def syncer(*args: str) -> subprocess.CompletedProcess[str]:
        return sh("--kubeconfig", str(kubeconfig), "--server", workspace, *args, check=False)

    def can(*args: str) -> str:
        return syncer("auth", "can-i", *args).stdout.strip()

    allowed = [
        ("list", "workloadclusters.workload.kcp.dev"),
        ("update", "workloadclusters.workload.kcp.dev/edge-4"),
        ("patch", "workloadclusters.workload.kcp.dev/edge-4", "--subresource=status"),
        ("create", "apiresourceimports.apiresource.kcp.dev"),
        ("delete", "apiresourceimports.apiresource.kcp.dev"),
        ("watch", "namespaces"),
        ("create", "events"),
        ("list", "configmaps", "-A"),
        ("update", "secrets", "-n", "default"),
        ("patch", "serviceaccounts", "--subresource=status", "-n", "default"),
    ]
    denied = [
        ("update", "workloadclusters.workload.kcp.dev/other"),
        ("patch", "workloadclusters.workload.kcp.dev/other", "--subresource=status"),
        ("create", "workloadclusters.workload.kcp.dev"),
        ("create", "namespaces"),
        ("create", "secrets"),
        ("delete", "configmaps"),
        ("list", "roles"),
        ("create", "rolebindings"),
        ("create", "clusterrolebindings"),
        ("get", "workspaces.tenancy.kcp.dev"),
    ]
    assert {a: can(*a) for a in allowed} == dict.fromkeys(allowed, "yes")
    assert {d: can(*d) for d in denied} == dict.fromkeys(denied, "no")
    assert syncer("get", "workloadclusters", "-o", "name").stdout.split() == [
        "workloadcluster.workload.kcp.dev/edge-4",
        "workloadcluster.workload.kcp.dev/other",
    ]
    refused = syncer("create", "rolebinding", "x", "--clusterrole=admin", "--user=mallory")
    assert refused.returncode == 1
    assert "forbidden" in refused.stderr


# --- push and process -----------------------------------------------------------------------


def test_push_stores_the_edge_kubeconfig_and_pull_removes_it(
    team: tuple[Shell, str], edge: Shell, tmp_path: Path
) -> None:
    sh, _ = team
    edge_config = yaml.safe_load(edge.kubeconfig.read_text())
    # The edge kubeconfig with its CA in a file and its token in a file: both are inlined.
    ca_file, token_file = tmp_path / "ca.crt", tmp_path / "token"
    current = next(c for c in edge_config["clusters"] if c["name"] == "workspace.kcp.dev/current")
    ca_file.write_bytes(base64.b64decode(current["cluster"].pop("certificate-authority-data")))
    current["cluster"]["certificate-authority"] = "ca.crt"
    admin = next(u for u in edge_config["users"] if u["name"] == "admin")
    token_file.write_text(admin["user"].pop("token"))
    admin["user"]["tokenFile"] = str(token_file)
    to_kubeconfig = tmp_path / "edge.kubeconfig"
    to_kubeconfig.write_text(yaml.safe_dump(edge_config))

    # The syncer's credentials in a namespace the scheduler leaves alone (else its objects would
    # be labelled for the cluster and copied down by the push engine, Secrets included).
    sh("create", "namespace", "syncers")
    sh("label", "namespace", "syncers", "experimental.workloads.kcp.dev/scheduling-disabled=")
    args = (
        "sync",
        "edge-5",
        "--push",
        "--to-kubeconfig",
        str(to_kubeconfig),
        "--kcp-namespace",
        "syncers",
    )
    done = sh.kcp(*args, "--to-context", "workspace.kcp.dev/current")
    assert done.stdout == 'workload cluster "edge-5" is now synced by the server (push mode)\n'
    wc = sh.json("get", "workloadcluster", "edge-5")
    assert wc["metadata"]["annotations"] == {
        "workload.kcp-edge.dev/syncer-mode": "push",
        "workload.kcp-edge.dev/push-kubeconfig-secret": "syncers/syncer-edge-5-push",
    }
    secret = sh.json("get", "secret", "syncer-edge-5-push", "-n", "syncers")
    assert secret["type"] == "Opaque"
    assert secret["metadata"]["ownerReferences"] == [sm.owner_reference(wc)]
    stored = yaml.safe_load(base64.b64decode(secret["data"]["kubeconfig"]))
    assert stored["current-context"] == "workspace.kcp.dev/current"
    assert [c["name"] for c in stored["contexts"]] == ["workspace.kcp.dev/current"]
    (cluster,) = stored["clusters"]
    assert cluster["cluster"]["server"].endswith("/clusters/root:edge")
    assert (
        base64.b64decode(cluster["cluster"]["certificate-authority-data"]) == ca_file.read_bytes()
    )
    assert "certificate-authority" not in cluster["cluster"]
    assert stored["users"] == [{"name": "admin", "user": {"token": token_file.read_text()}}]
    # The stored kubeconfig works against the edge workspace.
    usable = tmp_path / "stored.kubeconfig"
    usable.write_text(yaml.safe_dump(stored))
    assert sh("--kubeconfig", str(usable), "get", "namespaces", "-o", "name").returncode == 0

    versions = [*resource_versions(sh, "edge-5", "syncers"), secret["metadata"]["resourceVersion"]]
    assert sh.kcp(*args).stdout == done.stdout
    again = sh.json("get", "secret", "syncer-edge-5-push", "-n", "syncers")["metadata"]
    again = again["resourceVersion"]
    assert [*resource_versions(sh, "edge-5", "syncers"), again] == versions

    # Pull, with another kcp namespace: the annotated Secret goes all the same.
    sh.kcp("sync", "edge-5", "--syncer-image", "example/kcp-edge:1")
    annotations = meta(sh, "workloadcluster", "edge-5")["annotations"]
    assert annotations == {"workload.kcp-edge.dev/syncer-mode": "pull"}
    gone = sh("get", "secret", "syncer-edge-5-push", "-n", "syncers", check=False)
    assert gone.returncode == 1
    assert "not found" in gone.stderr


def test_process_writes_the_kubeconfig_and_the_unit_and_prints_the_command(
    team: tuple[Shell, str], upstream: KcpServer, tmp_path: Path
) -> None:
    sh, lc = team
    out_dir = tmp_path / "out"
    args = ("sync", "edge-6", "--process", "--output-dir", str(out_dir), "--resources", "services")
    done = sh.kcp(*args)
    kubeconfig = out_dir / "kcp-syncer-edge-6.kubeconfig"
    unit = out_dir / "kcp-syncer-edge-6.service"
    command, _, rest = done.stdout.partition("\n\n")
    assert command == (
        f"python3 /usr/local/bin/kcp-edge.pyz syncer --from-kubeconfig={kubeconfig} "
        f"--from-cluster={lc} --workload-cluster-name=edge-6 --resources=configmaps "
        "--resources=deployments.apps --resources=secrets --resources=serviceaccounts "
        "--resources=services --to-kubeconfig=/etc/kcp-syncer/edge.kubeconfig "
        "--state-dir=/var/lib/kcp-syncer/edge-6"
    )
    assert rest == unit.read_text()
    assert f"LoadCredential=upstream.kubeconfig:{kubeconfig}\n" in rest
    assert stat.S_IMODE(kubeconfig.stat().st_mode) == 0o600
    config = yaml.safe_load(kubeconfig.read_text())
    assert config["clusters"][0]["cluster"]["server"] == upstream.url
    assert config["contexts"][0]["context"]["namespace"] == "default"
    assert re.search(rf"{kubeconfig} \(mode 0600\)", done.stderr)
    assert meta(sh, "workloadcluster", "edge-6")["annotations"] == {
        "workload.kcp-edge.dev/syncer-mode": "pull"
    }
    # The written kubeconfig is the service account's (in its workspace).
    whoami = sh(
        "--kubeconfig",
        str(kubeconfig),
        "--server",
        f"{upstream.url}/clusters/{lc}",
        "auth",
        "whoami",
        "-o",
        "jsonpath={.status.userInfo.username}",
    )
    assert whoami.stdout == "system:serviceaccount:default:syncer-edge-6"

    versions = resource_versions(sh, "edge-6")
    again = sh.kcp(*args, "--to-kubeconfig", "edge.yaml", "--to-context", "k3s")
    assert f"--to-kubeconfig={sh.home}/edge.yaml --to-context=k3s" in again.stdout
    assert resource_versions(sh, "edge-6") == versions


# --- cordon, uncordon, drain ----------------------------------------------------------------


def test_cordon_uncordon_drain(team: tuple[Shell, str]) -> None:
    sh, _ = team
    sh.kcp("sync", "edge-7", "--syncer-image", "example/kcp-edge:1")

    def spec() -> dict[str, Any]:
        return dict(sh.json("get", "workloadcluster", "edge-7")["spec"])

    steps = [
        ("cordon", "edge-7 cordoned", {"unschedulable": True}),
        ("cordon", "edge-7 already cordoned", {"unschedulable": True}),
        ("uncordon", "edge-7 uncordoned", {"unschedulable": False}),
        ("uncordon", "edge-7 already uncordoned", {"unschedulable": False}),
    ]
    for command, output, expected in steps:
        assert sh.kcp(command, "edge-7").stdout == output + "\n"
        assert spec() == expected
    assert sh.kcp("drain", "edge-7").stdout == "edge-7 draining\n"
    drained = spec()
    assert drained["unschedulable"] is True
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", drained["evictAfter"])
    assert sh.kcp("drain", "edge-7").stdout == "edge-7 already draining\n"
    assert sh.kcp("uncordon", "edge-7").stdout == "edge-7 uncordoned\n"
    assert spec() == {"unschedulable": False}
    missing = sh.kcp("cordon", "nope", check=False)
    assert (missing.returncode, missing.stdout) == (1, "")
    assert missing.stderr == (
        'error: failed to get WorkloadCluster nope: workloadclusters.workload.kcp.dev "nope" '
        "not found\n"
    )


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["sync", "x"], "a value must be specified for --syncer-image"),
        (
            ["sync", "x", "--syncer-image", "i", "--replicas", "2"],
            "only 0 and 1 are allowed as --replicas values",
        ),
        (
            ["sync", "x", "--syncer-image", "i", "--replicas=-1"],
            "a non-negative value must be specified for --replicas",
        ),
        (
            ["sync", "x" * 248, "--syncer-image", "i"],
            "the maximum length of the workload-cluster-name is 254",
        ),
        (["sync", "x", "--push"], "a value must be specified for --to-kubeconfig"),
        (["sync", "x", "--push", "--process"], "--push and --process cannot be used together"),
        (
            ["sync", "x", "--syncer-image", "i", "--to-kubeconfig", "k"],
            "--to-kubeconfig and --to-context need --push or --process",
        ),
        (["sync", "x", "--process", "-o", "m.yaml"], "--output-file cannot be used with --process"),
        (
            ["sync", "x", "--syncer-image", "i", "--resources", "Pods"],
            'invalid resource "Pods": expected <resource> or <resource>.<group>',
        ),
    ],
    ids=[
        "no image",
        "replicas 2",
        "replicas -1",
        "name too long",
        "push without kubeconfig",
        "two modes",
        "edge kubeconfig for a manifest",
        "output file with process",
        "bad resource",
    ],
)
def test_flag_errors(team: tuple[Shell, str], args: list[str], message: str) -> None:
    sh, _ = team
    done = sh.kcp(*args, check=False)
    assert (done.returncode, done.stdout, done.stderr) == (1, "", f"error: {message}\n")


def test_the_context_must_point_at_a_workspace_that_serves_workload_clusters(
    team: tuple[Shell, str], upstream: KcpServer
) -> None:
    sh, _ = team
    sh("config", "use-context", "system:admin")
    no_workspace = sh.kcp("sync", "x", "--syncer-image", "i", check=False)
    assert no_workspace.returncode == 1
    assert no_workspace.stderr == (
        f'error: current URL "{upstream.url}" does not point to cluster workspace\n'
    )
    organization = sh.kcp("sync", "x", "--syncer-image", "i", "--context", "root", check=False)
    assert organization.returncode == 1
    assert organization.stderr == (
        'error: workspace "root" does not serve workloadclusters.workload.kcp.dev; '
        "use a Universal workspace\n"
    )


def test_help_and_unknown_commands(team: tuple[Shell, str]) -> None:
    sh, _ = team
    overview = sh("kcp", "--help").stdout
    assert "workload    Manages KCP workload clusters (alias: workloads)" in overview
    usage = sh.kcp().stdout
    assert usage.startswith("usage: kubectl kcp workload [sync|cordon|uncordon|drain]")
    sync_help = " ".join(sh.kcp("sync", "--help").stdout.split())
    assert "Switching from pull to push leaves the syncer Deployment" in sync_help
    assert "scale deployment kcp-syncer --replicas=0" in sync_help
    unknown = sh("kcp", "workloads", "delete", "x", check=False)
    assert (unknown.returncode, unknown.stderr) == (
        1,
        'error: unknown command "delete" for "kubectl kcp workloads"\n',
    )
