"""The edge-first promises of the syncer, under the failures edge clusters live with.

* a partition: the syncer loses the control plane while the user changes and deletes things;
  nothing downstream is deleted during the outage, everything arrives after it;
* a syncer ``kill -9`` and restart while still offline: it restores hand-edited and
  hand-deleted copies from its journal, and resumes from its watermark afterwards;
* a kcp-edge ``kill -9`` during sync: nothing downstream is lost, the syncer reconnects;
* two clusters in one workspace: ``kubectl kcp workload drain`` moves the namespace.

The syncer reaches the control plane through a `Cuttable` proxy, so the test can cut the link
while users keep working with the server directly.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from syncer.naming import Locator
from tests.conftest import (
    REPO,
    KcpServer,
    free_port,
    kcp_command,
    kcp_env,
    running_kcp,
    start_args,
    wait_ready,
)
from tests.e2e.edge import Cuttable, edge_cluster, eventually, syncer_process, via
from tests.tools.shell import Shell

pytestmark = pytest.mark.slow

WORKSPACE = "root:telcops:team-a"
OUTAGE = float(os.environ.get("KCP_EDGE_PARTITION_SECONDS", "30"))


@pytest.fixture
def edge_server(tmp_path: Path) -> Iterator[KcpServer]:
    with running_kcp(tmp_path / "edge", log=tmp_path / "edge.log") as edge:
        yield edge


@pytest.fixture
def kcp_server(tmp_path: Path) -> Iterator[KcpServer]:
    with running_kcp(tmp_path / "kcp", log=tmp_path / "kcp.log") as kcp:
        yield kcp


def _team(kcp: Shell) -> None:
    kcp("ws", "use", "root")
    kcp("ws", "create", "telcops", "--type", "Organization", "--enter")
    kcp("ws", "create", "team-a", "--enter")


def _register(kcp: Shell, name: str) -> None:
    """The WorkloadCluster, its service account and roles (the manifest is not needed here:
    the syncer runs with the admin kubeconfig through the proxy)."""
    kcp.out("kcp", "workload", "sync", name, "--syncer-image", "example/syncer:1")


def _syncer_args(upstream: Path, edge: Path, name: str, state: Path) -> list[str]:
    return [
        f"--from-kubeconfig={upstream}",
        f"--from-cluster={WORKSPACE}",
        f"--workload-cluster-name={name}",
        f"--to-kubeconfig={edge}",
        f"--state-dir={state}",
        "--heartbeat-interval=2s",
    ]


def _configmaps(site: Shell, namespace: str) -> dict[str, dict[str, str]]:
    listed = site.json("get", "configmaps", "-n", namespace)
    return {item["metadata"]["name"]: item.get("data", {}) for item in listed["items"]}


def _scheduled(kcp: Shell, namespace: str, cluster: str) -> bool:
    labels = kcp.json("get", "namespace", namespace)["metadata"].get("labels", {})
    return bool(labels.get("workloads.kcp.dev/cluster") == cluster)


def _sites(kcp_server: KcpServer, edge_server: KcpServer, tmp_path: Path) -> tuple[Shell, Shell]:
    """The user in team-a, and the edge cluster ocp-sno's workspace (as the edge's admin)."""
    kcp = Shell.of(kcp_server, tmp_path / "user")
    edge = Shell.of(edge_server, tmp_path / "edge-admin")
    sno = edge.using(edge_cluster(edge, "ocp-sno", tmp_path))
    _team(kcp)
    return kcp, sno


def _schedule(kcp: Shell, namespace: str = "app", cluster: str = "ocp-sno") -> None:
    kcp("create", "namespace", namespace)
    eventually(lambda: _scheduled(kcp, namespace, cluster), what="scheduling")


def _ready_with_deployments(kcp: Shell) -> None:
    eventually(
        lambda: "deployments.apps" in kcp.out("api-resources", "-o", "name").split(),
        what="deployments imported",
    )


def test_a_partition_deletes_nothing_and_everything_arrives_after_it(
    kcp_server: KcpServer, edge_server: KcpServer, tmp_path: Path
) -> None:
    kcp, sno = _sites(kcp_server, edge_server, tmp_path)
    _register(kcp, "ocp-sno")
    proxy = Cuttable(kcp_server.port)
    upstream = via(kcp.snapshot(tmp_path / "up"), proxy, kcp_server.port, tmp_path / "up-proxy")
    down_ns = Locator(WORKSPACE, "app").downstream_namespace()
    args = _syncer_args(upstream, sno.kubeconfig, "ocp-sno", tmp_path / "state")
    with syncer_process(args, tmp_path / "syncer.log"):
        _ready_with_deployments(kcp)
        _schedule(kcp)
        for name in ("keep", "change", "remove"):
            kcp("-n", "app", "create", "configmap", name, f"--from-literal=v={name}")
        kcp("-n", "app", "create", "deployment", "web", "--image", "nginx")
        eventually(
            lambda: set(_configmaps(sno, down_ns)) >= {"keep", "change", "remove"},
            what="initial sync",
        )
        eventually(lambda: sno.out("get", "deployment", "web", "-n", down_ns), what="deployment")

        proxy.cut()
        started = time.monotonic()
        kcp("-n", "app", "patch", "configmap", "change", "--type=merge", "-p", '{"data":{"v":"2"}}')
        kcp("-n", "app", "delete", "configmap", "remove", "--wait=false")
        kcp("-n", "app", "delete", "deployment", "web", "--wait=false")
        kcp("-n", "app", "create", "configmap", "added", "--from-literal=v=new")
        while time.monotonic() - started < OUTAGE:
            assert set(_configmaps(sno, down_ns)) >= {"keep", "change", "remove"}
            assert sno.out("get", "deployment", "web", "-n", down_ns, "-o", "name")
            time.sleep(2)
        # the upstream objects wait for the syncer, visibly
        assert kcp.json("-n", "app", "get", "configmap", "remove")["metadata"]["deletionTimestamp"]
        proxy.mend()

        eventually(
            lambda: (
                _configmaps(sno, down_ns).get("change") == {"v": "2"}
                and "added" in _configmaps(sno, down_ns)
                and "remove" not in _configmaps(sno, down_ns)
            ),
            timeout=60,
            what="changes after the partition",
        )
        eventually(
            lambda: not sno.out("get", "deployments", "-n", down_ns, "-o", "name").strip(),
            what="the deployment deleted downstream",
        )
        eventually(
            lambda: "remove" not in kcp.out("-n", "app", "get", "configmaps", "-o", "name"),
            what="the finalizer released upstream",
        )
        assert "keep" in _configmaps(sno, down_ns)
    proxy.close()


def test_a_syncer_killed_while_offline_restores_the_edge_from_its_journal(
    kcp_server: KcpServer, edge_server: KcpServer, tmp_path: Path
) -> None:
    kcp, sno = _sites(kcp_server, edge_server, tmp_path)
    _register(kcp, "ocp-sno")
    proxy = Cuttable(kcp_server.port)
    upstream = via(kcp.snapshot(tmp_path / "up"), proxy, kcp_server.port, tmp_path / "up-proxy")
    down_ns = Locator(WORKSPACE, "app").downstream_namespace()
    args = _syncer_args(upstream, sno.kubeconfig, "ocp-sno", tmp_path / "state")
    log = tmp_path / "syncer.log"
    with syncer_process(args, log) as first:
        _ready_with_deployments(kcp)
        _schedule(kcp)
        kcp("-n", "app", "create", "configmap", "edited", "--from-literal=v=1")
        kcp("-n", "app", "create", "configmap", "deleted", "--from-literal=v=1")
        eventually(
            lambda: set(_configmaps(sno, down_ns)) >= {"edited", "deleted"}, what="initial sync"
        )
        time.sleep(1)  # let the watermark settle
        proxy.cut()
        first.kill()

    sno("-n", down_ns, "patch", "configmap", "edited", "--type=merge", "-p", '{"data":{"v":"x"}}')
    sno("-n", down_ns, "delete", "configmap", "deleted")
    with syncer_process(args, log):
        eventually(
            lambda: (
                _configmaps(sno, down_ns).get("edited") == {"v": "1"}
                and "deleted" in _configmaps(sno, down_ns)
            ),
            what="drift restored offline",
        )
        kcp("-n", "app", "create", "configmap", "later", "--from-literal=v=1")
        proxy.mend()
        eventually(lambda: "later" in _configmaps(sno, down_ns), what="sync after reconnect")
    text = log.read_text()
    assert "relisting" not in text, "a restart resumes from the watermark"
    proxy.close()


def test_a_kcp_edge_kill_9_during_sync_loses_nothing_downstream(
    edge_server: KcpServer, tmp_path: Path
) -> None:
    root, port = tmp_path / "kcp", free_port()

    def start(log: Path) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            proc = subprocess.Popen(
                kcp_command(*start_args(root, port)),
                cwd=REPO,
                env=kcp_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        wait_ready(proc, f"https://127.0.0.1:{port}", root / "certs" / "ca.crt", log)
        return proc

    proc = start(tmp_path / "kcp-1.log")
    server = KcpServer(f"https://127.0.0.1:{port}", root, root / "admin.kubeconfig")
    kcp = Shell.of(server, tmp_path / "user")
    edge = Shell.of(edge_server, tmp_path / "edge-admin")
    sno = edge.using(edge_cluster(edge, "ocp-sno", tmp_path))
    down_ns = Locator(WORKSPACE, "app").downstream_namespace()
    try:
        _team(kcp)
        _register(kcp, "ocp-sno")
        args = _syncer_args(kcp.snapshot(tmp_path / "up"), sno.kubeconfig, "ocp-sno", tmp_path)
        with syncer_process(args, tmp_path / "syncer.log"):
            _ready_with_deployments(kcp)
            _schedule(kcp)
            for i in range(20):
                kcp("-n", "app", "create", "configmap", f"c{i}", "--from-literal=v=1")
            proc.send_signal(signal.SIGKILL)
            proc.wait(30)
            before = set(_configmaps(sno, down_ns))
            time.sleep(3)
            assert set(_configmaps(sno, down_ns)) >= before, "nothing deleted while kcp is down"
            proc = start(tmp_path / "kcp-2.log")
            eventually(
                lambda: {f"c{i}" for i in range(20)} <= set(_configmaps(sno, down_ns)),
                timeout=60,
                what="every acknowledged object downstream",
            )
            kcp("-n", "app", "create", "configmap", "after", "--from-literal=v=1")
            eventually(lambda: "after" in _configmaps(sno, down_ns), what="sync after restart")
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(30)


def test_drain_moves_a_namespace_to_the_other_cluster(
    kcp_server: KcpServer, edge_server: KcpServer, tmp_path: Path
) -> None:
    kcp = Shell.of(kcp_server, tmp_path / "user")
    edge = Shell.of(edge_server, tmp_path / "edge-admin")
    clusters = {name: edge_cluster(edge, name, tmp_path) for name in ("ocp-sno", "ocp-ztp")}
    _team(kcp)
    for name, kubeconfig in clusters.items():
        kcp.out("kcp", "workload", "sync", name, "--push", "--to-kubeconfig", str(kubeconfig))
    _ready_with_deployments(kcp)
    for name in clusters:
        eventually(
            lambda name=name: any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in kcp.json("get", "workloadcluster", name)["status"].get("conditions", [])
            ),
            what=f"{name} ready",
        )
    kcp("create", "namespace", "app")
    first = eventually(
        lambda: (
            kcp.json("get", "namespace", "app")["metadata"]
            .get("labels", {})
            .get("workloads.kcp.dev/cluster")
        ),
        what="scheduling",
    )
    other = next(name for name in clusters if name != first)
    kcp("-n", "app", "create", "configmap", "moving", "--from-literal=v=1")
    down_ns = Locator(WORKSPACE, "app").downstream_namespace()
    at = {name: edge.using(kubeconfig) for name, kubeconfig in clusters.items()}
    eventually(lambda: "moving" in _configmaps(at[first], down_ns), what="on the first cluster")

    kcp("kcp", "workload", "drain", first)
    eventually(lambda: _scheduled(kcp, "app", other), what="rescheduled")
    eventually(
        lambda: "moving" in _configmaps(at[other], down_ns), what="copied to the other cluster"
    )
    eventually(
        lambda: "moving" not in _configmaps(at[first], down_ns), what="removed from the first"
    )
    cm = kcp.json("-n", "app", "get", "configmap", "moving")
    assert cm["metadata"]["labels"]["workloads.kcp.dev/cluster"] == other
    assert json.dumps(cm["metadata"].get("finalizers", [])).count("syncer-") == 1


def test_a_sync_error_is_visible_upstream_with_kubectl_describe(
    kcp_server: KcpServer, edge_server: KcpServer, tmp_path: Path
) -> None:
    kcp, sno = _sites(kcp_server, edge_server, tmp_path)
    down_ns = Locator(WORKSPACE, "app").downstream_namespace()
    # the edge refuses new content in that namespace: it is stuck terminating
    sno("create", "namespace", down_ns)
    sno("-n", down_ns, "create", "configmap", "hold")
    sno(
        "-n",
        down_ns,
        "patch",
        "configmap",
        "hold",
        "-p",
        '{"metadata":{"finalizers":["x.io/hold"]}}',
    )
    sno("delete", "namespace", down_ns, "--wait=false")
    kcp.out("kcp", "workload", "sync", "ocp-sno", "--push", "--to-kubeconfig", str(sno.kubeconfig))
    _ready_with_deployments(kcp)
    _schedule(kcp)
    kcp("-n", "app", "create", "configmap", "blocked", "--from-literal=v=1")
    described = eventually(
        lambda: (
            (out := kcp.out("-n", "app", "describe", "configmap", "blocked"))
            and "SyncFailed" in out
            and out
        ),
        what="the SyncFailed event",
    )
    assert "workload cluster ocp-sno: " in described
    assert "because it is being terminated" in described


@pytest.mark.parametrize("policy", ["Delete", "Orphan"])
def test_deleting_a_workload_cluster_cleans_or_orphans_the_edge(
    kcp_server: KcpServer, edge_server: KcpServer, tmp_path: Path, policy: str
) -> None:
    kcp, sno = _sites(kcp_server, edge_server, tmp_path)
    down_ns = Locator(WORKSPACE, "app").downstream_namespace()
    kcp.out("kcp", "workload", "sync", "ocp-sno", "--push", "--to-kubeconfig", str(sno.kubeconfig))
    _ready_with_deployments(kcp)
    _schedule(kcp)
    kcp("-n", "app", "create", "configmap", "payload", "--from-literal=v=1")
    eventually(lambda: "payload" in _configmaps(sno, down_ns), what="synced")
    kcp("annotate", "workloadcluster", "ocp-sno", f"workload.kcp-edge.dev/on-delete={policy}")
    kcp("delete", "workloadcluster", "ocp-sno", "--timeout=60s")
    assert kcp("get", "workloadcluster", "ocp-sno", check=False).returncode != 0
    upstream = kcp.json("-n", "app", "get", "configmap", "payload")
    assert not upstream["metadata"].get("finalizers"), "the upstream object is released"
    if policy == "Orphan":
        assert _configmaps(sno, down_ns)["payload"] == {"v": "1"}, "left running"
    else:
        eventually(
            lambda: sno("get", "namespace", down_ns, check=False).returncode != 0,
            what="the downstream namespace deleted",
        )


def test_switching_from_push_to_pull_disturbs_nothing_downstream(
    kcp_server: KcpServer, edge_server: KcpServer, tmp_path: Path
) -> None:
    kcp, sno = _sites(kcp_server, edge_server, tmp_path)
    down_ns = Locator(WORKSPACE, "app").downstream_namespace()
    kcp.out("kcp", "workload", "sync", "ocp-sno", "--push", "--to-kubeconfig", str(sno.kubeconfig))
    _ready_with_deployments(kcp)
    _schedule(kcp)
    kcp("-n", "app", "create", "configmap", "kept", "--from-literal=v=1")
    eventually(lambda: "kept" in _configmaps(sno, down_ns), what="synced in push mode")
    before = sno.json("-n", down_ns, "get", "configmap", "kept")["metadata"]["uid"]
    namespace_uid = sno.json("get", "namespace", down_ns)["metadata"]["uid"]

    _register(kcp, "ocp-sno")  # one command: back to pull mode
    args = _syncer_args(kcp.snapshot(tmp_path / "up"), sno.kubeconfig, "ocp-sno", tmp_path)
    with syncer_process(args, tmp_path / "syncer.log"):
        eventually(
            lambda: (
                kcp.json("get", "workloadcluster", "ocp-sno")["status"]
                .get("syncer", {})
                .get("mode")
                == "Pull"
            ),
            what="the pull syncer heartbeating",
        )
        kcp("-n", "app", "patch", "configmap", "kept", "--type=merge", "-p", '{"data":{"v":"2"}}')
        kcp("-n", "app", "create", "configmap", "new", "--from-literal=v=1")
        eventually(
            lambda: (
                _configmaps(sno, down_ns).get("kept") == {"v": "2"}
                and "new" in _configmaps(sno, down_ns)
            ),
            what="changes through the pull syncer",
        )
    assert sno.json("-n", down_ns, "get", "configmap", "kept")["metadata"]["uid"] == before
    assert sno.json("get", "namespace", down_ns)["metadata"]["uid"] == namespace_uid
