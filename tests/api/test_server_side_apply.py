"""Server-side apply through the real kubectl: managers, conflicts, force, removal, upgrade.

What users see is asserted exactly: ``serverside-applied``, the conflict error with kubectl's
advice, and the managedFields entries ``kubectl get --show-managed-fields`` prints.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.api.helpers import Kubectl, kubectl

__all__ = ["kubectl"]  # a fixture, used by name


def configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def write(tmp_path: Path, name: str, obj: dict[str, Any]) -> str:
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return str(path)


def managed(kubectl: Kubectl, name: str) -> list[dict[str, Any]]:
    got = json.loads(
        kubectl("get", "configmap", name, "-o", "json", "--show-managed-fields").stdout
    )
    entries: list[dict[str, Any]] = got["metadata"]["managedFields"]
    return entries


def data_of(kubectl: Kubectl, name: str) -> dict[str, str]:
    got = json.loads(kubectl("get", "configmap", name, "-o", "json").stdout)
    data: dict[str, str] = got.get("data", {})
    return data


def test_two_managers_conflict_then_force(kubectl: Kubectl, tmp_path: Path) -> None:
    path = write(tmp_path, "a.json", configmap("ssa", {"a": "1", "b": "2"}))
    done = kubectl("apply", "--server-side", "-f", path)
    assert done.stdout.strip() == "configmap/ssa serverside-applied"
    entries = managed(kubectl, "ssa")
    assert [(e["manager"], e["operation"]) for e in entries] == [("kubectl", "Apply")]
    assert entries[0]["fieldsV1"] == {"f:data": {"f:a": {}, "f:b": {}}}
    other = write(tmp_path, "b.json", configmap("ssa", {"a": "changed"}))
    done = kubectl("apply", "--server-side", "--field-manager=other", "-f", other, check=False)
    assert done.returncode == 1
    first, *rest = done.stderr.strip().splitlines()
    assert first == ('error: Apply failed with 1 conflict: conflict with "kubectl": .data.a')
    advice = " ".join(line.strip() for line in rest)  # kubectl wraps its advice
    assert advice.startswith(
        "Please review the fields above--they currently have other managers. Here are the ways "
        "you can resolve this warning:"
    )
    assert "--force-conflicts" in advice
    assert data_of(kubectl, "ssa") == {"a": "1", "b": "2"}
    done = kubectl(
        "apply", "--server-side", "--field-manager=other", "--force-conflicts", "-f", other
    )
    assert done.stdout.strip() == "configmap/ssa serverside-applied"
    assert data_of(kubectl, "ssa") == {"a": "changed", "b": "2"}
    owners = {e["manager"]: e["fieldsV1"] for e in managed(kubectl, "ssa")}
    assert owners == {
        "kubectl": {"f:data": {"f:b": {}}},
        "other": {"f:data": {"f:a": {}}},
    }


def test_a_field_dropped_from_the_configuration_is_removed(
    kubectl: Kubectl, tmp_path: Path
) -> None:
    kubectl(
        "apply",
        "--server-side",
        "-f",
        write(tmp_path, "1.json", configmap("drop", {"a": "1", "b": "2"})),
    )
    kubectl(
        "apply", "--server-side", "-f", write(tmp_path, "2.json", configmap("drop", {"a": "1"}))
    )
    assert data_of(kubectl, "drop") == {"a": "1"}


def test_a_field_shared_with_another_manager_stays(kubectl: Kubectl, tmp_path: Path) -> None:
    both = configmap("shared", {"a": "1", "b": "2"})
    kubectl("apply", "--server-side", "-f", write(tmp_path, "1.json", both))
    kubectl(
        "apply",
        "--server-side",
        "--field-manager=other",
        "-f",
        write(tmp_path, "2.json", configmap("shared", {"b": "2"})),
    )
    kubectl(
        "apply", "--server-side", "-f", write(tmp_path, "3.json", configmap("shared", {"a": "1"}))
    )
    assert data_of(kubectl, "shared") == {"a": "1", "b": "2"}


def test_client_side_apply_then_server_side_apply(kubectl: Kubectl, tmp_path: Path) -> None:
    path = write(tmp_path, "1.json", configmap("upgrade", {"a": "1", "b": "2"}))
    assert kubectl("apply", "-f", path).stdout.strip() == "configmap/upgrade created"
    entries = managed(kubectl, "upgrade")
    assert [(e["manager"], e["operation"]) for e in entries] == [
        ("kubectl-client-side-apply", "Update")
    ]
    path = write(tmp_path, "2.json", configmap("upgrade", {"a": "1"}))
    done = kubectl("apply", "--server-side", "-f", path)
    assert done.stdout.strip() == "configmap/upgrade serverside-applied"
    assert data_of(kubectl, "upgrade") == {"a": "1"}
    managers = [(e["manager"], e["operation"]) for e in managed(kubectl, "upgrade")]
    assert ("kubectl", "Apply") in managers
    assert ("kubectl-client-side-apply", "Update") not in managers


def test_update_entries_name_the_writer(kubectl: Kubectl, tmp_path: Path) -> None:
    kubectl("create", "configmap", "writers", "--from-literal=a=1")
    kubectl("label", "configmap", "writers", "team=edge")
    managers = {(e["manager"], e["operation"]) for e in managed(kubectl, "writers")}
    assert managers == {("kubectl-create", "Update"), ("kubectl-label", "Update")}
    by_manager = {e["manager"]: e["fieldsV1"] for e in managed(kubectl, "writers")}
    assert by_manager["kubectl-label"] == {"f:metadata": {"f:labels": {".": {}, "f:team": {}}}}
