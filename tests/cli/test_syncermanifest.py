"""What ``kubectl kcp workload sync`` prints and writes, field by field, without a server: kcp's
names and hash, the RBAC tables on both sides, the Deployment, the embedded kubeconfig, the
process command line and the systemd unit (checked by ``systemd-analyze verify`` where present).
"""

from __future__ import annotations

import base64
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from kcp_edge.cli import syncermanifest as sm

CA = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
OWNER = {
    "apiVersion": "workload.kcp.dev/v1alpha1",
    "kind": "WorkloadCluster",
    "name": "edge-1",
    "uid": "0f6c8a57-1c84-4b8e-9a4c-4b3a8e2f1c11",
}
UPSTREAM = sm.Upstream(
    server="https://kcp.example:6443", namespace="default", token="t0k", ca_pem=CA
)
SID = sm.syncer_id("root:org:team", "edge-1")


def manifest(**changes: object) -> sm.Manifest:
    values: dict[str, object] = {
        "logical_cluster": "root:org:team",
        "workload_cluster": "edge-1",
        "resources": sm.resources_to_sync(["services"]),
        "image": "ghcr.io/example/kcp-edge:1.0",
        "replicas": 1,
        "upstream": UPSTREAM,
    }
    values.update(changes)
    return sm.Manifest(**values)  # type: ignore[arg-type]


def by_kind(objects: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {o["kind"]: o for o in objects}


# --- names ----------------------------------------------------------------------------------


def test_the_syncer_id_is_kcps_hash() -> None:
    assert sm.syncer_id("root:default:my-workspace", "kind") == (
        "kcpsync1c120248c49b659159adfecaf9f94aa9527b61ee3430c4870b4d1df8"
    )
    assert len(SID) == 63


def test_workspace_side_names() -> None:
    assert sm.auth_name("edge-1") == "syncer-edge-1"
    assert sm.push_secret_name("edge-1") == "syncer-edge-1-push"
    assert sm.label_safe("root:org:team") == "root_org_team"


# --- resources ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("requested", "expected"),
    [
        ([], ["configmaps", "deployments.apps", "secrets", "serviceaccounts"]),
        (
            ["services,routes.route.openshift.io", "ingresses.networking.k8s.io"],
            [
                "configmaps",
                "deployments.apps",
                "ingresses.networking.k8s.io",
                "routes.route.openshift.io",
                "secrets",
                "serviceaccounts",
                "services",
            ],
        ),
        (
            ["secrets", " configmaps ,", ""],
            ["configmaps", "deployments.apps", "secrets", "serviceaccounts"],
        ),
    ],
    ids=[
        "defaults only",
        "comma lists and repeats are unioned and sorted",
        "duplicates and blanks",
    ],
)
def test_resources_are_the_defaults_plus_the_requested_sorted(
    requested: list[str], expected: list[str]
) -> None:
    assert sm.resources_to_sync(requested) == expected


@pytest.mark.parametrize("bad", ["Services", "pods/status", "a b", ".apps", "deployments."])
def test_a_malformed_resource_is_refused(bad: str) -> None:
    with pytest.raises(sm.ManifestError, match=r"expected <resource> or <resource>\.<group>"):
        sm.resources_to_sync([bad])


def test_group_mappings_split_at_the_first_dot() -> None:
    resources = ["services", "deployments.apps", "routes.route.openshift.io", "configmaps"]
    assert sm.group_mappings(resources) == [
        ("", ["configmaps", "services"]),
        ("apps", ["deployments"]),
        ("route.openshift.io", ["routes"]),
    ]


# --- the workspace side ---------------------------------------------------------------------


def test_the_upstream_rules_are_least_privilege() -> None:
    rules = sm.upstream_rules("edge-1", ["configmaps", "deployments.apps"])
    assert rules == [
        {
            "apiGroups": ["workload.kcp.dev"],
            "resources": ["workloadclusters"],
            "verbs": ["get", "list", "watch"],
        },
        {
            "apiGroups": ["workload.kcp.dev"],
            "resources": ["workloadclusters"],
            "resourceNames": ["edge-1"],
            "verbs": ["update", "patch"],
        },
        {
            "apiGroups": ["workload.kcp.dev"],
            "resources": ["workloadclusters/status"],
            "resourceNames": ["edge-1"],
            "verbs": ["get", "update", "patch"],
        },
        {
            "apiGroups": ["apiresource.kcp.dev"],
            "resources": ["apiresourceimports"],
            "verbs": ["get", "list", "watch", "create", "update", "patch", "delete"],
        },
        {"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get", "list", "watch"]},
        {"apiGroups": [""], "resources": ["events"], "verbs": ["create", "patch", "update"]},
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "verbs": ["get", "list", "watch", "update", "patch"],
        },
        {
            "apiGroups": [""],
            "resources": ["configmaps/status"],
            "verbs": ["get", "update", "patch"],
        },
        {
            "apiGroups": ["apps"],
            "resources": ["deployments"],
            "verbs": ["get", "list", "watch", "update", "patch"],
        },
        {
            "apiGroups": ["apps"],
            "resources": ["deployments/status"],
            "verbs": ["get", "update", "patch"],
        },
    ]
    assert not any(
        verb in ("*", "create", "delete")
        for rule in [rules[4], *rules[6:]]
        for verb in rule["verbs"]
    ), "no creating or deleting synced objects or namespaces"


def test_the_workspace_objects_are_owned_by_the_workload_cluster() -> None:
    role = sm.upstream_cluster_role("edge-1", ["secrets"], OWNER)
    binding = sm.upstream_cluster_role_binding("edge-1", "kcp-ns", OWNER)
    account = sm.upstream_service_account("edge-1", "kcp-ns", OWNER)
    for obj in (role, binding, account):
        assert obj["metadata"]["name"] == "syncer-edge-1"
        assert obj["metadata"]["ownerReferences"] == [OWNER]
        assert list(obj)[:3] == ["apiVersion", "kind", "metadata"]
    assert account["metadata"]["namespace"] == "kcp-ns"
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": "syncer-edge-1",
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "syncer-edge-1", "namespace": "kcp-ns"}
    ]


def test_owner_reference_of_a_stored_workload_cluster() -> None:
    stored = {
        "apiVersion": "workload.kcp.dev/v1alpha1",
        "kind": "WorkloadCluster",
        "metadata": {"name": "edge-1", "uid": OWNER["uid"], "resourceVersion": "7"},
    }
    assert sm.owner_reference(stored) == OWNER


def test_the_push_secret_holds_the_kubeconfig() -> None:
    secret = sm.push_secret("edge-1", "kcp-ns", "apiVersion: v1\n", OWNER)
    assert secret["metadata"] == {
        "name": "syncer-edge-1-push",
        "namespace": "kcp-ns",
        "ownerReferences": [OWNER],
    }
    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["kubeconfig"]) == b"apiVersion: v1\n"


# --- the manifest ---------------------------------------------------------------------------


def test_the_manifest_has_kcps_objects_in_kcps_order() -> None:
    objects = sm.manifest_objects(manifest())
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("Namespace", SID),
        ("ServiceAccount", "kcp-syncer"),
        ("ClusterRole", SID),
        ("ClusterRoleBinding", SID),
        ("Secret", "kcp-syncer-config"),
        ("Deployment", "kcp-syncer"),
    ]
    for obj in objects:
        assert list(obj)[:3] == ["apiVersion", "kind", "metadata"]
        if obj["kind"] not in ("Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert obj["metadata"]["namespace"] == SID
    assert objects[0]["metadata"]["labels"] == {
        "workload.kcp.io/logical-cluster": "root_org_team",
        "workload.kcp.io/workload-cluster": "edge-1",
    }


def test_the_edge_cluster_role() -> None:
    objects = by_kind(sm.manifest_objects(manifest()))
    assert objects["ClusterRole"]["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["namespaces"],
            "verbs": ["create", "list", "watch", "get", "delete"],
        },
        {
            "apiGroups": ["apiextensions.k8s.io"],
            "resources": ["customresourcedefinitions"],
            "verbs": ["get", "watch", "list"],
        },
        {
            "apiGroups": [""],
            "resources": ["configmaps", "secrets", "serviceaccounts", "services"],
            "verbs": ["*"],
        },
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["*"]},
    ]
    assert objects["ClusterRoleBinding"]["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "ClusterRole",
        "name": SID,
    }
    assert objects["ClusterRoleBinding"]["subjects"] == [
        {"kind": "ServiceAccount", "name": "kcp-syncer", "namespace": SID}
    ]


def test_the_deployment() -> None:
    deployment = by_kind(sm.manifest_objects(manifest(replicas=0)))["Deployment"]
    spec = deployment["spec"]
    assert spec["replicas"] == 0
    assert spec["strategy"] == {"type": "Recreate"}
    assert spec["selector"] == {"matchLabels": {"app": SID}}
    assert spec["template"]["metadata"] == {"labels": {"app": SID}}
    pod = spec["template"]["spec"]
    assert pod["serviceAccountName"] == "kcp-syncer"
    assert pod["volumes"] == [
        {"name": "kcp-config", "secret": {"secretName": "kcp-syncer-config", "optional": False}},
        {"name": "state", "emptyDir": {}},
    ]
    (container,) = pod["containers"]
    assert container == {
        "name": "kcp-syncer",
        "command": ["kcp", "syncer"],
        "args": [
            "--from-kubeconfig=/kcp/kubeconfig",
            "--workload-cluster-name=edge-1",
            "--from-cluster=root:org:team",
            "--resources=configmaps",
            "--resources=deployments.apps",
            "--resources=secrets",
            "--resources=serviceaccounts",
            "--resources=services",
            "--state-dir=/var/lib/kcp-syncer",
        ],
        "image": "ghcr.io/example/kcp-edge:1.0",
        "imagePullPolicy": "IfNotPresent",
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [
            {"name": "kcp-config", "mountPath": "/kcp/", "readOnly": True},
            {"name": "state", "mountPath": "/var/lib/kcp-syncer"},
        ],
    }


def test_the_secret_carries_kcps_kubeconfig() -> None:
    secret = by_kind(sm.manifest_objects(manifest()))["Secret"]
    assert list(secret["stringData"]) == ["kubeconfig"]
    config = yaml.safe_load(secret["stringData"]["kubeconfig"])
    assert config == {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {
                "name": "default-cluster",
                "cluster": {
                    "certificate-authority-data": base64.b64encode(CA).decode(),
                    "server": "https://kcp.example:6443",
                },
            }
        ],
        "contexts": [
            {
                "name": "default-context",
                "context": {
                    "cluster": "default-cluster",
                    "namespace": "default",
                    "user": "default-user",
                },
            }
        ],
        "current-context": "default-context",
        "users": [{"name": "default-user", "user": {"token": "t0k"}}],
    }


def test_an_insecure_context_is_passed_on_without_a_ca() -> None:
    upstream = sm.Upstream(
        server="https://h:1", namespace="ns", token="t", ca_pem=CA, insecure=True
    )
    cluster = sm.upstream_kubeconfig(upstream)["clusters"][0]["cluster"]
    assert cluster == {"insecure-skip-tls-verify": True, "server": "https://h:1"}


def test_the_rendered_manifest_is_a_yaml_stream_of_the_objects() -> None:
    objects = sm.manifest_objects(manifest())
    text = sm.render_manifest(objects)
    assert text.count("\n---\n") == len(objects) - 1
    assert list(yaml.safe_load_all(text)) == objects
    assert text.startswith("apiVersion: v1\nkind: Namespace\nmetadata:\n")
    assert "  kubeconfig: |\n    apiVersion: v1\n" in text, "the kubeconfig as a literal block"


# --- a process under systemd ----------------------------------------------------------------


def process(**changes: object) -> sm.Process:
    values: dict[str, object] = {
        "logical_cluster": "root:org:team",
        "workload_cluster": "edge-1",
        "resources": sm.resources_to_sync([]),
        "upstream_kubeconfig": "/etc/kcp-syncer/kcp-syncer-edge-1.kubeconfig",
    }
    values.update(changes)
    return sm.Process(**values)  # type: ignore[arg-type]


def test_the_process_command() -> None:
    assert sm.process_command(process()) == (
        "python3 /usr/local/bin/kcp-edge.pyz syncer "
        "--from-kubeconfig=/etc/kcp-syncer/kcp-syncer-edge-1.kubeconfig "
        "--from-cluster=root:org:team --workload-cluster-name=edge-1 "
        "--resources=configmaps --resources=deployments.apps --resources=secrets "
        "--resources=serviceaccounts --to-kubeconfig=/etc/kcp-syncer/edge.kubeconfig "
        "--state-dir=/var/lib/kcp-syncer/edge-1"
    )


def test_the_process_command_is_shell_quoted_and_takes_the_edge_context() -> None:
    command = sm.process_command(
        process(
            upstream_kubeconfig="/home/a b/k.kubeconfig",
            edge_kubeconfig="/e/k3s.yaml",
            edge_context="default",
        )
    )
    assert "'--from-kubeconfig=/home/a b/k.kubeconfig'" in command
    assert command.endswith(
        "--to-kubeconfig=/e/k3s.yaml --to-context=default --state-dir=/var/lib/kcp-syncer/edge-1"
    )


def unit_values(text: str, key: str) -> list[str]:
    return [line.split("=", 1)[1] for line in text.splitlines() if line.startswith(f"{key}=")]


def test_the_systemd_unit() -> None:
    unit = sm.systemd_unit(process())
    assert unit_values(unit, "ExecStart") == [
        "/usr/bin/python3 /usr/local/bin/kcp-edge.pyz syncer "
        "--from-kubeconfig=%d/upstream.kubeconfig --from-cluster=root:org:team "
        "--workload-cluster-name=edge-1 --resources=configmaps --resources=deployments.apps "
        "--resources=secrets --resources=serviceaccounts --to-kubeconfig=%d/edge.kubeconfig "
        "--state-dir=/var/lib/kcp-syncer/edge-1"
    ]
    assert unit_values(unit, "LoadCredential") == [
        "upstream.kubeconfig:/etc/kcp-syncer/kcp-syncer-edge-1.kubeconfig",
        "edge.kubeconfig:/etc/kcp-syncer/edge.kubeconfig",
    ]
    assert unit_values(unit, "Restart") == ["always"]
    assert unit_values(unit, "RestartSec") == ["5s"]
    assert unit_values(unit, "StateDirectory") == ["kcp-syncer/edge-1"]
    assert unit_values(unit, "DynamicUser") == ["true"]
    packaged = (Path(__file__).parents[2] / "packaging" / "kcp-edge.service").read_text()
    hardening = packaged.split("# Hardening", 1)[1].split("[Install]", 1)[0]
    for line in hardening.splitlines()[1:]:
        if line and not line.startswith("#") and not line.startswith("ReadWritePaths="):
            assert line in unit.splitlines(), f"{line} is missing"
    assert unit.rstrip().endswith("[Install]\nWantedBy=multi-user.target")


def test_the_unit_escapes_specifiers_and_quotes_blanks() -> None:
    unit = sm.systemd_unit(process(upstream_kubeconfig="/srv/100%/a b.kubeconfig"))
    assert unit_values(unit, "LoadCredential")[0] == "upstream.kubeconfig:/srv/100%%/a b.kubeconfig"
    assert "--from-kubeconfig=%d/upstream.kubeconfig" in unit_values(unit, "ExecStart")[0]


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="systemd-analyze not installed")
@pytest.mark.parametrize("edge_context", [None, "k3s"])
def test_systemd_accepts_the_unit(tmp_path: Path, edge_context: str | None) -> None:
    unit = tmp_path / "kcp-syncer-edge-1.service"
    unit.write_text(sm.systemd_unit(process(edge_context=edge_context)))
    done = subprocess.run(
        ["systemd-analyze", "verify", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    problems = [line for line in done.stderr.splitlines() if str(unit) in line]
    assert problems == []
