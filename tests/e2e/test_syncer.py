"""The workload walkthrough end to end: two teams, two edge clusters, pull and push mode.

Server ``kcp`` is the control plane users talk to; server ``edge`` plays the edge clusters
(root-level workspaces ``ocp-sno`` and ``ocp-ztp`` with the real apps/v1 Deployment schema).
Team A syncs ``ocp-sno`` in pull mode (the manifest applied at the edge, the syncer run as its
own process with the credentials from the manifest's Secret); team B syncs ``ocp-ztp`` in push
mode (the server runs the engine). The test plays the edge's deployment controller.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from kcp_edge.version import __version__
from syncer.naming import Locator
from tests.conftest import KcpServer, running_kcp
from tests.e2e.edge import (
    edge_cluster,
    eventually,
    secret_kubeconfig,
    syncer_process,
)
from tests.tools.shell import Shell

pytestmark = pytest.mark.slow


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[tuple[KcpServer, KcpServer]]:
    with (
        running_kcp(tmp_path / "kcp", log=tmp_path / "kcp.log") as kcp,
        running_kcp(tmp_path / "edge", log=tmp_path / "edge.log") as edge,
    ):
        yield kcp, edge


def _label(site: Shell, namespace: str) -> str:
    return site.out(
        "get",
        "namespace",
        namespace,
        "-o",
        r"jsonpath={.metadata.labels.workloads\.kcp\.dev/cluster}",
    )


def _edge_status(site: Shell, namespace: str, name: str) -> None:
    """What the edge's deployment controller would write."""
    site(
        "patch",
        "deployment",
        name,
        "-n",
        namespace,
        "--subresource=status",
        "--type=merge",
        "-p",
        '{"status":{"observedGeneration":1,"replicas":1,"updatedReplicas":1,'
        '"readyReplicas":1,"availableReplicas":1,"conditions":[{"type":"Available",'
        '"status":"True","reason":"MinimumReplicasAvailable",'
        '"message":"Deployment has minimum availability.",'
        '"lastUpdateTime":"2026-11-24T00:00:00Z","lastTransitionTime":"2026-11-24T00:00:00Z"}]}}',
    )


def test_the_workload_walkthrough_in_pull_and_push_mode(
    servers: tuple[KcpServer, KcpServer], tmp_path: Path
) -> None:
    kcp_server, edge_server = servers
    kcp = Shell.of(kcp_server, tmp_path / "user")
    edge = Shell.of(edge_server, tmp_path / "edge-admin")
    sno = edge_cluster(edge, "ocp-sno", tmp_path)
    ztp = edge_cluster(edge, "ocp-ztp", tmp_path)

    kcp("ws", "use", "root")
    kcp("ws", "create", "telcops", "--type", "Organization", "--enter")
    kcp("ws", "create", "team-a", "--enter")

    # --- team A, pull mode ----------------------------------------------------------------------
    manifest = kcp.out("kcp", "workload", "sync", "ocp-sno", "--syncer-image", "example/syncer:1")
    assert manifest == kcp.out(
        "kcp", "workload", "sync", "ocp-sno", "--syncer-image", "example/syncer:1"
    ), "running sync twice must change nothing"
    (tmp_path / "syncer-ocp-sno.yaml").write_text(manifest)
    applied = edge(
        "--kubeconfig", str(sno), "apply", "-f", str(tmp_path / "syncer-ocp-sno.yaml")
    ).stdout
    sync_id = re.search(r"namespace/(kcpsync[0-9a-f]{56}) created", applied)
    assert sync_id, applied
    assert "deployment.apps/kcp-syncer created" in applied
    upstream_config = secret_kubeconfig(
        edge.using(sno), sync_id.group(1), tmp_path / "up.kubeconfig"
    )
    args = [
        f"--from-kubeconfig={upstream_config}",
        "--from-cluster=root:telcops:team-a",
        "--workload-cluster-name=ocp-sno",
        f"--to-kubeconfig={sno}",
        f"--state-dir={tmp_path / 'state-sno'}",
    ]
    with syncer_process(args, tmp_path / "syncer-sno.log"):
        eventually(
            lambda: re.search(
                r"^deployments\s+deploy\s+apps/v1\s+true\s+Deployment$",
                kcp.out("api-resources"),
                re.M,
            ),
            what="deployments in the workspace's discovery",
        )
        kcp("create", "namespace", "reverse-words")
        eventually(lambda: _label(kcp, "reverse-words") == "ocp-sno", what="scheduling")
        kcp(
            "-n",
            "reverse-words",
            "create",
            "deployment",
            "reversewords",
            "--image",
            "quay.io/mavazque/reversewords:latest",
        )
        pods = kcp("get", "pods", check=False)
        assert pods.stderr.strip() == 'error: the server doesn\'t have a resource type "pods"'

        down_ns = Locator("root:telcops:team-a", "reverse-words").downstream_namespace()
        at_edge = edge.using(sno)
        listed = eventually(
            lambda: at_edge.out(
                "get", "deployments", "-A", "-l", "app=reversewords", "-o", "name"
            ).strip(),
            what="the deployment at the edge",
        )
        assert listed == "deployment.apps/reversewords"
        down = at_edge.json("get", "deployment", "reversewords", "-n", down_ns)
        assert down["spec"]["template"]["spec"]["containers"][0]["image"] == (
            "quay.io/mavazque/reversewords:latest"
        )
        assert down["metadata"]["labels"]["workloads.kcp.dev/cluster"] == "ocp-sno"
        assert "finalizers" not in down["metadata"]
        namespace = at_edge.json("get", "namespace", down_ns)
        assert namespace["metadata"]["annotations"]["kcp.dev/namespace-locator"] == (
            '{"logical-cluster":"root:telcops:team-a","namespace":"reverse-words"}'
        )

        _edge_status(at_edge, down_ns, "reversewords")
        eventually(
            lambda: (
                kcp.out(
                    "-n",
                    "reverse-words",
                    "get",
                    "deployment",
                    "reversewords",
                    "-o",
                    "jsonpath={.status.availableReplicas}",
                )
                == "1"
            ),
            what="status up",
        )
        described = kcp.out("-n", "reverse-words", "describe", "deployment", "reversewords")
        assert re.search(
            r"^Replicas:\s+1 desired \| 1 updated \| 1 total \| 1 available", described, re.M
        ), described
        cluster = kcp.json("get", "workloadcluster", "ocp-sno")
        ready = {c["type"]: c["status"] for c in cluster["status"]["conditions"]}
        assert ready["Ready"] == "True"
        assert cluster["status"]["syncer"]["mode"] == "Pull"

        # --- team B, push mode: the server runs the engine ----------------------------------
        kcp("ws", "..")
        kcp("ws", "create", "team-b", "--enter")
        out = kcp.out("kcp", "workload", "sync", "ocp-ztp", "--push", "--to-kubeconfig", str(ztp))
        assert 'workload cluster "ocp-ztp"' in out
        eventually(
            lambda: "deployments.apps" in kcp.out("api-resources", "-o", "name").split(),
            what="deployments in team-b",
        )
        kcp("create", "namespace", "shop")
        eventually(lambda: _label(kcp, "shop") == "ocp-ztp", what="scheduling in team-b")
        kcp("-n", "shop", "create", "deployment", "web", "--image", "nginx")
        at_ztp = edge.using(ztp)
        eventually(
            lambda: (
                at_ztp.out("get", "deployments", "-A", "-o", "name").strip()
                == "deployment.apps/web"
            ),
            what="team B's deployment on ocp-ztp",
        )
        on_sno = at_edge.out("get", "deployments", "-A", "-l", "workloads.kcp.dev/cluster")
        assert "reversewords" in on_sno and "web" not in on_sno, "each team on its own cluster"
        assert eventually(
            lambda: kcp.json("get", "workloadcluster", "ocp-ztp")["status"].get("syncer")
        ) == {"mode": "Push", "version": __version__}

        # --- deletion upstream removes the copy downstream --------------------------------
        kcp("-n", "shop", "delete", "deployment", "web", "--wait=true", "--timeout=30s")
        eventually(
            lambda: at_ztp.out("get", "deployments", "-A", "-o", "name").strip() == "",
            what="deletion downstream",
        )
