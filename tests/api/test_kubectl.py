"""The real kubectl against a real kcp-edge: the lines users see, asserted exactly.

Runs with kubectl 1.37 (the pinned wheel) and, where the machine has it, Google's 1.32. Each
test works in a fresh namespace of the shared server.
"""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.conftest import KUBECTL, KUBECTL_1_32, KcpServer

BINARIES = [pytest.param(KUBECTL, id="kubectl-1.37")]
if KUBECTL_1_32.exists():
    BINARIES.append(pytest.param(str(KUBECTL_1_32), id="kubectl-1.32"))

Kubectl = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture(params=BINARIES)
def kubectl(
    request: pytest.FixtureRequest, shared_kcp: KcpServer, namespace: str, tmp_path: Path
) -> Kubectl:
    binary = request.param
    if binary is None:
        pytest.skip("kubectl is not installed next to the Python interpreter")

    def run(
        *args: str, stdin: str | None = None, env: dict[str, str] | None = None, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [binary, "--kubeconfig", str(shared_kcp.kubeconfig), "-n", namespace, *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
            env={**os.environ, "HOME": str(tmp_path), **(env or {})},
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{done.stderr}")
        return done

    return run


def lines(text: str) -> list[str]:
    return [re.sub(r"\s+", " ", line).strip() for line in text.strip().splitlines()]


def test_pods_are_not_a_resource_type(kubectl: Kubectl) -> None:
    done = kubectl("get", "pods", check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == 'error: the server doesn\'t have a resource type "pods"'


def test_api_resources_lists_the_generic_control_plane(kubectl: Kubectl) -> None:
    out = lines(kubectl("api-resources").stdout)
    assert out[0] == "NAME SHORTNAMES APIVERSION NAMESPACED KIND"
    assert "configmaps cm v1 true ConfigMap" in out
    assert "namespaces ns v1 false Namespace" in out
    assert "leases coordination.k8s.io/v1 true Lease" in out
    assert not any(line.startswith(("pods ", "deployments ", "services ")) for line in out)


def test_create_get_and_delete_a_configmap_in_every_output(
    kubectl: Kubectl, namespace: str
) -> None:
    created = kubectl("create", "configmap", "app", "--from-literal=a=1", "--from-literal=b=2")
    assert created.stdout.strip() == "configmap/app created"
    table = lines(kubectl("get", "configmaps").stdout)
    assert table[0] == "NAME DATA AGE"
    assert re.fullmatch(r"app 2 \d+s", table[1])
    assert kubectl("get", "cm", "-o", "name").stdout.strip() == "configmap/app"
    assert kubectl("get", "cm", "app", "-o", "jsonpath={.data.b}").stdout == "2"
    as_json = json.loads(kubectl("get", "cm", "app", "-o", "json").stdout)
    assert as_json["metadata"]["namespace"] == namespace
    assert as_json["data"] == {"a": "1", "b": "2"}
    assert "resourceVersion:" in kubectl("get", "cm", "app", "-o", "yaml").stdout
    deleted = kubectl("delete", "configmap", "app")
    assert deleted.stdout.strip() in (
        'configmap "app" deleted',
        f'configmap "app" deleted from {namespace} namespace',
    )
    missing = kubectl("get", "cm", "app", check=False)
    assert missing.stderr.strip() == 'Error from server (NotFound): configmaps "app" not found'


def test_create_of_an_existing_object_says_already_exists(kubectl: Kubectl) -> None:
    kubectl("create", "configmap", "dup")
    again = kubectl("create", "configmap", "dup", check=False)
    assert again.returncode == 1
    assert again.stderr.strip() == (
        'error: failed to create configmap: configmaps "dup" already exists'
    )


def test_secrets_print_type_and_data_count(kubectl: Kubectl) -> None:
    kubectl("create", "secret", "generic", "s", "--from-literal=k=v")
    table = lines(kubectl("get", "secrets").stdout)
    assert table[0] == "NAME TYPE DATA AGE"
    assert re.fullmatch(r"s Opaque 1 \d+s", table[1])


def test_namespaces_print_their_phase(kubectl: Kubectl, namespace: str) -> None:
    table = lines(kubectl("get", "namespace", namespace).stdout)
    assert table[0] == "NAME STATUS AGE"
    assert re.fullmatch(rf"{namespace} Active \d+s", table[1])


def test_create_from_a_file_validates_against_openapi(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-file\ndata:\n  k: v\n"
    )
    assert kubectl("create", "-f", str(manifest)).stdout.strip() == "configmap/from-file created"
    assert kubectl("get", "cm", "from-file", "-o", "jsonpath={.data.k}").stdout == "v"


def test_delete_all_and_wait_for_deletion(kubectl: Kubectl) -> None:
    for name in ("a", "b", "c"):
        kubectl("create", "configmap", name)
    out = lines(kubectl("delete", "configmaps", "--all").stdout)
    assert len(out) == 3 and all("deleted" in line for line in out)
    assert kubectl("get", "cm", "-o", "name").stdout.strip() == ""


def test_the_default_namespace_cannot_be_deleted(kubectl: Kubectl) -> None:
    done = kubectl("delete", "namespace", "default", check=False)
    # (kubectl first warns that -n does not scope a cluster-scoped delete.)
    assert done.stderr.strip().splitlines()[-1] == (
        'Error from server (Forbidden): namespaces "default" is forbidden: '
        "this namespace may not be deleted"
    )


def test_get_raw_reads_any_path(kubectl: Kubectl) -> None:
    version = json.loads(kubectl("get", "--raw", "/version").stdout)
    assert version["major"] == "1"
    index = json.loads(kubectl("get", "--raw", "/openapi/v3").stdout)
    assert "api/v1" in index["paths"]


def test_edit_with_an_editor_script(kubectl: Kubectl, tmp_path: Path) -> None:
    kubectl("create", "configmap", "edited", "--from-literal=k=old")
    editor = tmp_path / "editor.sh"
    editor.write_text('#!/bin/sh\nsed -i "s/k: old/k: new/" "$1"\n')
    editor.chmod(editor.stat().st_mode | stat.S_IEXEC)
    done = kubectl("edit", "configmap", "edited", env={"EDITOR": str(editor)})
    assert done.stdout.strip() == "configmap/edited edited"
    assert kubectl("get", "cm", "edited", "-o", "jsonpath={.data.k}").stdout == "new"


def test_label_and_annotate_show_in_get(kubectl: Kubectl) -> None:
    kubectl("create", "configmap", "lab")
    assert kubectl("label", "cm", "lab", "tier=web").stdout.strip() == "configmap/lab labeled"
    assert kubectl("annotate", "cm", "lab", "note=hi").stdout.strip() == ("configmap/lab annotated")
    shown = lines(kubectl("get", "cm", "lab", "--show-labels").stdout)
    assert shown[0] == "NAME DATA AGE LABELS"
    assert re.fullmatch(r"lab 0 \d+s tier=web", shown[1])
    column = lines(kubectl("get", "cm", "-L", "tier").stdout)
    assert column[0] == "NAME DATA AGE TIER"
    assert kubectl("get", "cm", "-l", "tier=web", "-o", "name").stdout.strip() == "configmap/lab"
    assert kubectl("get", "cm", "lab", "-o", "jsonpath={.metadata.annotations.note}").stdout == (
        "hi"
    )


@pytest.mark.parametrize(
    ("patch_type", "patch"),
    [
        ("strategic", '{"data":{"k":"s"}}'),
        ("merge", '{"data":{"k":"m"}}'),
        ("json", '[{"op":"replace","path":"/data/k","value":"j"}]'),
    ],
)
def test_patch_in_all_three_types(kubectl: Kubectl, patch_type: str, patch: str) -> None:
    kubectl("create", "configmap", "p", "--from-literal=k=v")
    done = kubectl("patch", "cm", "p", "--type", patch_type, "-p", patch)
    assert done.stdout.strip() == "configmap/p patched"
    expected = json.loads(patch)
    value = expected["data"]["k"] if isinstance(expected, dict) else expected[0]["value"]
    assert kubectl("get", "cm", "p", "-o", "jsonpath={.data.k}").stdout == value


def test_apply_twice_with_a_field_removed(kubectl: Kubectl, tmp_path: Path) -> None:
    manifest = tmp_path / "cm.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '1'\n  b: '2'\n"
    )
    assert kubectl("apply", "-f", str(manifest)).stdout.strip() == "configmap/applied created"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '3'\n"
    )
    assert kubectl("apply", "-f", str(manifest)).stdout.strip() == "configmap/applied configured"
    data = json.loads(kubectl("get", "cm", "applied", "-o", "jsonpath={.data}").stdout)
    assert data == {"a": "3"}
    assert kubectl("apply", "-f", str(manifest)).stdout.strip() == "configmap/applied unchanged"


def test_replace_from_a_file(kubectl: Kubectl, tmp_path: Path) -> None:
    kubectl("create", "configmap", "rep", "--from-literal=k=old")
    manifest = tmp_path / "rep.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rep\ndata:\n  k: new\n"
    )
    assert kubectl("replace", "-f", str(manifest)).stdout.strip() == "configmap/rep replaced"
    assert kubectl("get", "cm", "rep", "-o", "jsonpath={.data.k}").stdout == "new"


def test_describe_a_configmap(kubectl: Kubectl, namespace: str) -> None:
    kubectl("create", "configmap", "desc", "--from-literal=key=value")
    out = kubectl("describe", "configmap", "desc").stdout
    assert re.search(r"^Name:\s+desc$", out, re.M)
    assert re.search(rf"^Namespace:\s+{namespace}$", out, re.M)
    assert "key:\n----\nvalue" in out


def test_wait_for_delete(kubectl: Kubectl) -> None:
    kubectl("create", "configmap", "gone")
    kubectl("delete", "configmap", "gone", "--wait=false")
    done = kubectl("wait", "--for=delete", "configmap/gone", "--timeout=10s", check=False)
    assert done.returncode == 0, done.stderr


def test_get_watch_prints_changes_until_the_timeout(kubectl: Kubectl) -> None:
    kubectl("create", "configmap", "w1")
    done = kubectl("get", "cm", "-w", "--request-timeout=2s", check=False)
    out = lines(done.stdout)
    assert out[0] == "NAME DATA AGE"
    assert re.fullmatch(r"w1 0 \d+s", out[1])


def test_unknown_fields_are_refused_by_strict_validation(kubectl: Kubectl, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\nbogus: 1\n")
    done = kubectl("create", "-f", str(bad), check=False)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f'Error from server (BadRequest): error when creating "{bad}": ConfigMap in version "v1" '
        'cannot be handled as a ConfigMap: strict decoding error: unknown field "bogus"'
    )
    assert kubectl("get", "cm", "bad", check=False).returncode == 1  # nothing was written
    warned = kubectl("create", "-f", str(bad), "--validate=warn")
    assert 'Warning: unknown field "bogus"' in warned.stderr
    assert warned.stdout.strip() == "configmap/bad created"
