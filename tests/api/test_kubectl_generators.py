"""kubectl against a real kcp-edge, part two: every ``create`` generator we serve and the commands
issue 3 lists that ``test_kubectl.py`` does not run (diff, get --raw of a list, api-versions,
explain, delete of a namespace with content and the wait, wait --for=jsonpath, -A, several kinds
at once, events and leases from YAML, describe, event field selectors).

Outputs are compared line by line with what a real cluster prints (runs of blanks collapsed);
ages are matched by pattern. Each test works in a fresh namespace; kubectl 1.37 and 1.32 both
run every test, and the watching commands (wait, get -w, the delete-namespace wait) run a third
time with ``KUBE_FEATURE_WatchListClient=false``.
"""

from __future__ import annotations

import base64
import datetime
import json
import queue
import re
import shutil
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.api.helpers import (
    Kubectl,
    cluster_path,
    fresh_namespace,
    kubectl,
    kubectl_watching,
    lines,
)

__all__ = [
    "cluster_path",
    "fresh_namespace",
    "kubectl",
    "kubectl_watching",
]  # fixtures pytest must find here

AGE = r"\d+(s|m\d*s?|h\d*m?)"
TIMESTAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


def self_signed_pair(tmp_path: Path) -> tuple[Path, Path]:
    """A certificate and its EC key in PEM files, as ``kubectl create secret tls`` reads them."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kcp-edge-test")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp_path / "tls.crt", tmp_path / "tls.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.TraditionalOpenSSL,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def row(table: list[str], name: str) -> str:
    """The one line of ``table`` for ``name`` (first cell)."""
    found = [line for line in table if line.split(" ", 1)[0] == name]
    assert len(found) == 1, table
    return found[0]


# --- create <generator>, then get ----------------------------------------------------------------


def test_create_namespace_then_get_it(kubectl: Kubectl, fresh_namespace: str) -> None:
    done = kubectl("create", "namespace", fresh_namespace)
    assert done.stdout.strip() == f"namespace/{fresh_namespace} created"
    table = lines(kubectl("get", "namespace", fresh_namespace).stdout)
    assert table[0] == "NAME STATUS AGE"
    assert re.fullmatch(rf"{fresh_namespace} Active {AGE}", table[1])
    labels = kubectl(
        "get", "namespace", fresh_namespace, "-o", "jsonpath={.metadata.labels}"
    ).stdout
    assert json.loads(labels) == {"kubernetes.io/metadata.name": fresh_namespace}


def test_create_configmap_from_files_and_env_file(kubectl: Kubectl, tmp_path: Path) -> None:
    (tmp_path / "app.conf").write_text("port=80\n")
    (tmp_path / "vars.env").write_text("# comment\nA=1\nB=two\n")
    done = kubectl(
        "create", "configmap", "files", f"--from-file={tmp_path / 'app.conf'}", "--from-literal=x=y"
    )
    assert done.stdout.strip() == "configmap/files created"
    kubectl("create", "configmap", "env", f"--from-env-file={tmp_path / 'vars.env'}")
    table = lines(kubectl("get", "configmaps", "files", "env").stdout)
    assert table[0] == "NAME DATA AGE"
    assert re.fullmatch(rf"files 2 {AGE}", row(table, "files"))
    assert re.fullmatch(rf"env 2 {AGE}", row(table, "env"))
    data = json.loads(kubectl("get", "cm", "files", "-o", "jsonpath={.data}").stdout)
    assert data == {"app.conf": "port=80\n", "x": "y"}
    assert json.loads(kubectl("get", "cm", "env", "-o", "jsonpath={.data}").stdout) == {
        "A": "1",
        "B": "two",
    }


def test_create_secret_generic_and_docker_registry(kubectl: Kubectl) -> None:
    done = kubectl(
        "create", "secret", "generic", "creds", "--from-literal=user=admin", "--from-literal=pw=s3"
    )
    assert done.stdout.strip() == "secret/creds created"
    done = kubectl(
        "create",
        "secret",
        "docker-registry",
        "pull",
        "--docker-server=registry.example.com",
        "--docker-username=u",
        "--docker-password=p",
    )
    assert done.stdout.strip() == "secret/pull created"
    table = lines(kubectl("get", "secrets").stdout)
    assert table[0] == "NAME TYPE DATA AGE"
    assert re.fullmatch(rf"creds Opaque 2 {AGE}", row(table, "creds"))
    assert re.fullmatch(rf"pull kubernetes.io/dockerconfigjson 1 {AGE}", row(table, "pull"))
    user = kubectl("get", "secret", "creds", "-o", "jsonpath={.data.user}").stdout
    assert base64.b64decode(user) == b"admin"


def test_create_secret_tls(kubectl: Kubectl, tmp_path: Path) -> None:
    cert_file, key_file = self_signed_pair(tmp_path)
    done = kubectl("create", "secret", "tls", "web", f"--cert={cert_file}", f"--key={key_file}")
    assert done.stdout.strip() == "secret/web created"
    table = lines(kubectl("get", "secret", "web").stdout)
    assert table[0] == "NAME TYPE DATA AGE"
    assert re.fullmatch(rf"web kubernetes.io/tls 2 {AGE}", table[1])
    data = json.loads(kubectl("get", "secret", "web", "-o", "jsonpath={.data}").stdout)
    assert base64.b64decode(data["tls.crt"]) == cert_file.read_bytes()
    assert base64.b64decode(data["tls.key"]) == key_file.read_bytes()


def test_create_serviceaccount(kubectl: Kubectl) -> None:
    done = kubectl("create", "serviceaccount", "robot")
    assert done.stdout.strip() == "serviceaccount/robot created"
    table = lines(kubectl("get", "serviceaccounts").stdout)
    # Since 1.35 (kubernetes/kubernetes#117160) there is no SECRETS column.
    assert table[0] == "NAME AGE"
    assert re.fullmatch(rf"robot {AGE}", row(table, "robot"))


def test_create_role_and_rolebinding(kubectl: Kubectl, namespace: str) -> None:
    done = kubectl("create", "role", "reader", "--verb=get,list", "--resource=configmaps,secrets")
    assert done.stdout.strip() == "role.rbac.authorization.k8s.io/reader created"
    table = lines(kubectl("get", "roles").stdout)
    assert table[0] == "NAME CREATED AT"
    assert re.fullmatch(rf"reader {TIMESTAMP}", table[1])
    rules = json.loads(kubectl("get", "role", "reader", "-o", "jsonpath={.rules}").stdout)
    assert rules == [
        {"apiGroups": [""], "resources": ["configmaps", "secrets"], "verbs": ["get", "list"]}
    ]

    done = kubectl(
        "create",
        "rolebinding",
        "readers",
        "--role=reader",
        "--user=alice",
        f"--serviceaccount={namespace}:robot",
    )
    assert done.stdout.strip() == "rolebinding.rbac.authorization.k8s.io/readers created"
    table = lines(kubectl("get", "rolebindings").stdout)
    assert table[0] == "NAME ROLE AGE"
    assert re.fullmatch(rf"readers Role/reader {AGE}", table[1])
    wide = lines(kubectl("get", "rolebindings", "-o", "wide").stdout)
    assert wide[0] == "NAME ROLE AGE USERS GROUPS SERVICEACCOUNTS"
    assert re.fullmatch(rf"readers Role/reader {AGE} alice {namespace}/robot", wide[1])


def test_create_clusterrole_and_clusterrolebinding(kubectl: Kubectl, namespace: str) -> None:
    role, binding = f"{namespace}-viewer", f"{namespace}-viewers"
    try:
        done = kubectl("create", "clusterrole", role, "--verb=get", "--resource=namespaces")
        assert done.stdout.strip() == f"clusterrole.rbac.authorization.k8s.io/{role} created"
        table = lines(kubectl("get", "clusterrole", role).stdout)
        assert table == ["NAME CREATED AT", table[1]]
        assert re.fullmatch(rf"{role} {TIMESTAMP}", table[1])

        done = kubectl(
            "create", "clusterrolebinding", binding, f"--clusterrole={role}", "--group=devs"
        )
        assert done.stdout.strip() == (
            f"clusterrolebinding.rbac.authorization.k8s.io/{binding} created"
        )
        table = lines(kubectl("get", "clusterrolebinding", binding).stdout)
        assert table[0] == "NAME ROLE AGE"
        assert re.fullmatch(rf"{binding} ClusterRole/{role} {AGE}", table[1])
        wide = lines(kubectl("get", "clusterrolebinding", binding, "-o", "wide").stdout)
        assert wide[0] == "NAME ROLE AGE USERS GROUPS SERVICEACCOUNTS"
        assert re.fullmatch(rf"{binding} ClusterRole/{role} {AGE} devs", wide[1])
    finally:
        kubectl("delete", "clusterrolebinding", binding, "--ignore-not-found", check=False)
        kubectl("delete", "clusterrole", role, "--ignore-not-found", check=False)


def test_create_quota(kubectl: Kubectl) -> None:
    done = kubectl("create", "quota", "small", "--hard=configmaps=10,secrets=5")
    assert done.stdout.strip() == "resourcequota/small created"
    table = lines(kubectl("get", "quota").stdout)
    # Age moved last in 1.33 (kubernetes/kubernetes#129419). REQUEST shows used/hard from the
    # status, which only a quota controller fills in.
    assert table[0] == "NAME REQUEST LIMIT AGE"
    assert re.fullmatch(rf"small (configmaps: 0/10, secrets: 0/5 )?{AGE}", table[1])
    hard = json.loads(kubectl("get", "quota", "small", "-o", "jsonpath={.spec.hard}").stdout)
    assert hard == {"configmaps": "10", "secrets": "5"}


# --- events and leases from YAML -------------------------------------------------------------

EVENTS_AND_A_LEASE = """\
apiVersion: v1
kind: Event
metadata:
  name: app.1
involvedObject:
  apiVersion: v1
  kind: ConfigMap
  name: app
  namespace: {ns}
reason: Configured
message: configuration loaded
type: Normal
source:
  component: tester
count: 3
firstTimestamp: "{ts}"
lastTimestamp: "{ts}"
---
apiVersion: v1
kind: Event
metadata:
  name: other.1
involvedObject:
  apiVersion: v1
  kind: Secret
  name: other
  namespace: {ns}
reason: Rotated
message: key rotated
type: Warning
source:
  component: tester
firstTimestamp: "{ts}"
lastTimestamp: "{ts}"
---
apiVersion: coordination.k8s.io/v1
kind: Lease
metadata:
  name: leader
spec:
  holderIdentity: node-a
  leaseDurationSeconds: 15
"""


def _create_events_and_a_lease(kubectl: Kubectl, namespace: str, tmp_path: Path) -> None:
    when = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(minutes=20)
    stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ")
    manifest = tmp_path / "objects.yaml"
    manifest.write_text(EVENTS_AND_A_LEASE.format(ns=namespace, ts=stamp))
    done = kubectl("create", "-f", str(manifest))
    assert done.stdout.strip().splitlines() == [
        "event/app.1 created",
        "event/other.1 created",
        "lease.coordination.k8s.io/leader created",
    ]


def test_events_and_leases_from_yaml_are_listed(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    _create_events_and_a_lease(kubectl, namespace, tmp_path)
    events = lines(kubectl("get", "events").stdout)
    assert events[0] == "LAST SEEN TYPE REASON OBJECT MESSAGE"
    assert sorted(events[1:]) == [
        "20m Normal Configured configmap/app configuration loaded",
        "20m Warning Rotated secret/other key rotated",
    ]
    wide = lines(kubectl("get", "events", "-o", "wide").stdout)
    assert wide[0] == (
        "LAST SEEN TYPE REASON OBJECT SUBOBJECT SOURCE MESSAGE FIRST SEEN COUNT NAME"
    )
    assert sorted(wide[1:]) == [
        "20m Normal Configured configmap/app tester configuration loaded 20m 3 app.1",
        "20m Warning Rotated secret/other tester key rotated 20m 1 other.1",
    ]
    leases = lines(kubectl("get", "leases").stdout)
    assert leases[0] == "NAME HOLDER AGE"
    assert re.fullmatch(rf"leader node-a {AGE}", leases[1])


def test_events_filtered_by_involved_object(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    _create_events_and_a_lease(kubectl, namespace, tmp_path)
    by_name = lines(kubectl("get", "events", "--field-selector", "involvedObject.name=app").stdout)
    assert by_name == [
        "LAST SEEN TYPE REASON OBJECT MESSAGE",
        "20m Normal Configured configmap/app configuration loaded",
    ]
    as_names = kubectl(
        "get",
        "events",
        "--field-selector",
        "involvedObject.kind=Secret,type=Warning",
        "-o",
        "name",
    ).stdout
    assert as_names.strip() == "event/other.1"
    none = kubectl("get", "events", "--field-selector", "involvedObject.name=nothing")
    assert none.stdout == ""
    assert none.stderr.strip() == f"No resources found in {namespace} namespace."


def test_core_events_are_also_events_k8s_io_events(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    _create_events_and_a_lease(kubectl, namespace, tmp_path)
    names = kubectl("get", "events.v1.events.k8s.io", "-o", "name").stdout.split()
    assert sorted(names) == ["event.events.k8s.io/app.1", "event.events.k8s.io/other.1"]
    seen = json.loads(kubectl("get", "events.v1.events.k8s.io", "app.1", "-o", "json").stdout)
    assert seen["apiVersion"] == "events.k8s.io/v1"
    assert seen["regarding"]["name"] == "app"
    assert seen["note"] == "configuration loaded"
    assert seen["deprecatedCount"] == 3
    assert seen["deprecatedSource"] == {"component": "tester"}
    assert "involvedObject" not in seen and "message" not in seen
    by_regarding = kubectl(
        "get", "events.v1.events.k8s.io", "--field-selector", "regarding.name=other", "-o", "name"
    )
    assert by_regarding.stdout.split() == ["event.events.k8s.io/other.1"]


EVENTS_K8S_IO_EVENT = """\
apiVersion: events.k8s.io/v1
kind: Event
metadata:
  name: modern.1
eventTime: "2026-01-02T03:04:05.000000Z"
reportingController: example.com/controller
reportingInstance: controller-0
action: Reconcile
reason: Synced
type: Normal
note: synced through events.k8s.io
regarding:
  kind: ConfigMap
  name: app
  namespace: {ns}
"""


def test_an_events_k8s_io_event_is_a_core_event(
    kubectl: Kubectl, namespace: str, tmp_path: Path
) -> None:
    manifest = tmp_path / "event.yaml"
    manifest.write_text(EVENTS_K8S_IO_EVENT.format(ns=namespace))
    done = kubectl("create", "-f", str(manifest))
    assert done.stdout.strip() == "event.events.k8s.io/modern.1 created"
    core = json.loads(kubectl("get", "events", "modern.1", "-o", "json").stdout)
    assert core["apiVersion"] == "v1"
    assert core["involvedObject"] == {"kind": "ConfigMap", "name": "app", "namespace": namespace}
    assert core["message"] == "synced through events.k8s.io"
    assert core["reportingComponent"] == "example.com/controller"
    assert "note" not in core and "regarding" not in core
    by_object = kubectl(
        "get", "events", "--field-selector", "involvedObject.name=app", "-o", "name"
    )
    assert by_object.stdout.split() == ["event/modern.1"]
    kubectl("annotate", "events", "modern.1", "seen=core")
    patched = json.loads(
        kubectl(
            "patch",
            "events.v1.events.k8s.io",
            "modern.1",
            "--type=merge",
            "-p",
            '{"note":"patched through events.k8s.io"}',
            "-o",
            "json",
        ).stdout
    )
    assert patched["metadata"]["annotations"] == {"seen": "core"}
    assert patched["note"] == "patched through events.k8s.io"
    again = json.loads(kubectl("get", "events", "modern.1", "-o", "json").stdout)
    assert again["message"] == "patched through events.k8s.io"
    assert again["metadata"]["resourceVersion"] == patched["metadata"]["resourceVersion"]
    gone = kubectl("delete", "events", "modern.1")
    assert gone.stdout.strip() in (
        'event "modern.1" deleted',  # kubectl 1.32
        f'event "modern.1" deleted from {namespace} namespace',  # kubectl 1.37
    )
    missing = kubectl("get", "events.v1.events.k8s.io", "modern.1", check=False)
    assert missing.stderr.strip() == (
        'Error from server (NotFound): events.events.k8s.io "modern.1" not found'
    )


# --- get across namespaces and kinds --------------------------------------------------------------


def test_get_all_namespaces_adds_the_namespace_column(kubectl: Kubectl, namespace: str) -> None:
    kubectl("create", "configmap", "everywhere", "--from-literal=k=v")
    table = lines(kubectl("get", "cm", "-A").stdout)
    assert table[0] == "NAMESPACE NAME DATA AGE"
    mine = [line for line in table[1:] if line.startswith(f"{namespace} ")]
    assert len(mine) == 1
    assert re.fullmatch(rf"{namespace} everywhere 1 {AGE}", mine[0])


def test_get_of_several_kinds_prefixes_names_with_the_kind(kubectl: Kubectl) -> None:
    kubectl("create", "configmap", "conf", "--from-literal=k=v")
    kubectl("create", "secret", "generic", "cred", "--from-literal=k=v")
    out = lines(kubectl("get", "cm,secrets").stdout)
    assert len(out) == 5, out
    assert out[0] == "NAME DATA AGE"
    assert re.fullmatch(rf"configmap/conf 1 {AGE}", out[1])
    assert out[2] == ""
    assert out[3] == "NAME TYPE DATA AGE"
    assert re.fullmatch(rf"secret/cred Opaque 1 {AGE}", out[4])
    names = kubectl("get", "cm,secrets", "-o", "name").stdout.split()
    assert names == ["configmap/conf", "secret/cred"]


# --- describe ------------------------------------------------------------------------------------


def test_describe_a_namespace(kubectl: Kubectl, namespace: str) -> None:
    out = kubectl("describe", "namespace", namespace).stdout
    assert lines(out) == [
        f"Name: {namespace}",
        f"Labels: kubernetes.io/metadata.name={namespace}",
        "Annotations: <none>",
        "Status: Active",
        "",
        "No resource quota.",
        "",
        "No LimitRange resource.",
    ]


def test_describe_a_secret(kubectl: Kubectl, namespace: str) -> None:
    kubectl("create", "secret", "generic", "db", "--from-literal=password=hunter22")
    out = kubectl("describe", "secret", "db").stdout
    assert lines(out) == [
        "Name: db",
        f"Namespace: {namespace}",
        "Labels: <none>",
        "Annotations: <none>",
        "",
        "Type: Opaque",
        "",
        "Data",
        "====",
        "password: 8 bytes",
    ]


# --- raw reads, discovery, explain -----------------------------------------------------------


def test_get_raw_of_a_list(kubectl: Kubectl, namespace: str, cluster_path: str) -> None:
    for name in ("a", "b", "c"):
        kubectl("create", "configmap", name)
    path = f"/api/v1/namespaces/{namespace}/configmaps"
    if kubectl.is_1_32:
        # kubectl 1.32 sends --raw paths as given, without the path of the kubeconfig's server
        # URL (1.37 prefixes it), so against a workspace URL the path must name the workspace.
        path = cluster_path + path
    listed = json.loads(kubectl("get", "--raw", path).stdout)
    assert listed["kind"] == "ConfigMapList"
    assert listed["apiVersion"] == "v1"
    assert listed["metadata"]["resourceVersion"].isdigit()
    assert [item["metadata"]["name"] for item in listed["items"]] == ["a", "b", "c"]
    page = json.loads(kubectl("get", "--raw", f"{path}?limit=2").stdout)
    assert [item["metadata"]["name"] for item in page["items"]] == ["a", "b"]
    assert page["metadata"]["continue"]


def test_api_versions(kubectl: Kubectl) -> None:
    versions = kubectl("api-versions").stdout.split()
    assert versions == sorted(versions)
    for expected in (
        "admissionregistration.k8s.io/v1",
        "certificates.k8s.io/v1",
        "coordination.k8s.io/v1",
        "events.k8s.io/v1",
        "rbac.authorization.k8s.io/v1",
        "v1",
    ):
        assert expected in versions
    assert "apps/v1" not in versions


def test_explain_configmaps_header(kubectl: Kubectl) -> None:
    out = kubectl("explain", "configmaps").stdout.splitlines()
    assert out[:4] == ["KIND:       ConfigMap", "VERSION:    v1", "", "DESCRIPTION:"]
    fields = kubectl("explain", "configmaps.data").stdout.splitlines()
    assert fields[:3] == ["KIND:       ConfigMap", "VERSION:    v1", ""]
    assert fields[3].split() == ["FIELD:", "data", "<map[string]string>"]


# --- diff -----------------------------------------------------------------------------------------


def _needs_diff() -> None:
    if shutil.which("diff") is None:
        pytest.skip("kubectl diff runs the diff program, which is not installed")


def _diff_lines(out: str) -> list[str]:
    """The changed lines of a unified diff (no file headers)."""
    return [
        line
        for line in out.splitlines()
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]


def test_diff_of_a_new_object(kubectl: Kubectl, namespace: str, tmp_path: Path) -> None:
    _needs_diff()
    manifest = tmp_path / "new.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fresh\ndata:\n  k: v\n"
    )
    done = kubectl("diff", "-f", str(manifest), check=False)
    assert done.returncode == 1, done.stderr  # 1: differences found
    changed = _diff_lines(done.stdout)
    assert changed[:3] == ["+apiVersion: v1", "+data:", "+  k: v"]
    assert "+kind: ConfigMap" in changed
    assert "+  name: fresh" in changed
    assert f"+  namespace: {namespace}" in changed
    assert not [line for line in changed if line.startswith("-")]
    # A dry run: nothing was created.
    missing = kubectl("get", "cm", "fresh", check=False)
    assert missing.stderr.strip() == 'Error from server (NotFound): configmaps "fresh" not found'


def test_diff_of_a_changed_object_shows_only_the_change(kubectl: Kubectl, tmp_path: Path) -> None:
    _needs_diff()
    kubectl("create", "configmap", "live", "--from-literal=k=old")
    manifest = tmp_path / "live.yaml"
    manifest.write_text(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: live\ndata:\n  k: new\n"
    )
    done = kubectl("diff", "-f", str(manifest), check=False)
    assert done.returncode == 1, done.stderr
    assert _diff_lines(done.stdout) == ["-  k: old", "+  k: new"]
    assert kubectl("get", "cm", "live", "-o", "jsonpath={.data.k}").stdout == "old"


def test_diff_of_an_unchanged_object_is_empty(kubectl: Kubectl, tmp_path: Path) -> None:
    _needs_diff()
    kubectl("create", "configmap", "same", "--from-literal=k=v")
    manifest = tmp_path / "same.yaml"
    manifest.write_text("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: same\ndata:\n  k: v\n")
    done = kubectl("diff", "-f", str(manifest), check=False)
    assert (done.returncode, done.stdout) == (0, "")


# --- deleting a namespace with content, waiting --------------------------------------------------


def test_delete_a_namespace_with_content_and_wait(
    kubectl_watching: Kubectl, fresh_namespace: str
) -> None:
    kubectl = kubectl_watching
    ns = fresh_namespace
    kubectl("create", "namespace", ns)
    kubectl("-n", ns, "create", "configmap", "c", "--from-literal=k=v")
    kubectl("-n", ns, "create", "secret", "generic", "s", "--from-literal=k=v")
    kubectl("-n", ns, "create", "serviceaccount", "sa")
    done = kubectl("delete", "namespace", ns, "--wait=false")
    assert done.stdout.strip() == f'namespace "{ns}" deleted'
    waited = kubectl("wait", "--for=delete", f"namespace/{ns}", "--timeout=30s", check=False)
    assert waited.returncode == 0, waited.stderr
    # It printed "condition met", unless the namespace was gone before the wait looked.
    assert waited.stdout.strip() in ("", f"namespace/{ns} condition met")
    gone = kubectl("get", "namespace", ns, check=False)
    assert gone.stderr.strip() == f'Error from server (NotFound): namespaces "{ns}" not found'


def test_delete_a_namespace_with_content_waits_until_it_is_gone(
    kubectl_watching: Kubectl, fresh_namespace: str
) -> None:
    kubectl = kubectl_watching
    ns = fresh_namespace
    kubectl("create", "namespace", ns)
    kubectl("-n", ns, "create", "configmap", "c")
    done = kubectl("delete", "namespace", ns, "--timeout=30s")
    assert done.stdout.strip() == f'namespace "{ns}" deleted'
    gone = kubectl("get", "namespace", ns, check=False)
    assert gone.stderr.strip() == f'Error from server (NotFound): namespaces "{ns}" not found'


def test_wait_for_a_jsonpath_value(kubectl_watching: Kubectl) -> None:
    kubectl = kubectl_watching
    kubectl("create", "configmap", "x", "--from-literal=k=v")
    done = kubectl("wait", "--for=jsonpath={.data.k}=v", "configmap/x", "--timeout=10s")
    assert done.stdout.strip() == "configmap/x condition met"

    def change_later() -> None:
        time.sleep(0.7)
        kubectl("patch", "configmap", "x", "--type=merge", "-p", '{"data":{"k":"w"}}')

    changer = threading.Thread(target=change_later)
    changer.start()
    try:
        done = kubectl("wait", "--for=jsonpath={.data.k}=w", "configmap/x", "--timeout=15s")
    finally:
        changer.join()
    assert done.stdout.strip() == "configmap/x condition met"

    timed_out = kubectl(
        "wait", "--for=jsonpath={.data.k}=never", "configmap/x", "--timeout=500ms", check=False
    )
    assert timed_out.returncode == 1
    assert timed_out.stderr.strip() == "error: timed out waiting for the condition on configmaps/x"


def test_get_watch_prints_later_changes(kubectl_watching: Kubectl) -> None:
    kubectl = kubectl_watching
    kubectl("create", "configmap", "before")
    proc = subprocess.Popen(
        kubectl.command("get", "cm", "-w", "--request-timeout=20s"),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=kubectl.environment(),
    )
    printed: queue.Queue[str] = queue.Queue()
    reader = threading.Thread(target=lambda: [printed.put(line) for line in proc.stdout or ()])
    reader.start()
    try:
        out = [printed.get(timeout=20), printed.get(timeout=20)]
        # The list is printed: kubectl now watches from its resourceVersion.
        kubectl("create", "configmap", "after", "--from-literal=k=v")
        out.append(printed.get(timeout=20))
    finally:
        proc.terminate()
        proc.communicate(timeout=10)
        reader.join()
    out = lines("".join(out))
    assert out[0] == "NAME DATA AGE"
    assert re.fullmatch(rf"before 0 {AGE}", out[1])
    assert re.fullmatch(rf"after 1 {AGE}", out[2])


def test_wait_for_create_then_condition_met(kubectl_watching: Kubectl) -> None:
    kubectl = kubectl_watching
    name = f"later-{uuid.uuid4().hex[:6]}"

    def create_later() -> None:
        time.sleep(0.7)
        kubectl("create", "configmap", name)

    creator = threading.Thread(target=create_later)
    creator.start()
    try:
        done = kubectl("wait", "--for=create", f"configmap/{name}", "--timeout=15s", check=False)
    finally:
        creator.join()
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == f"configmap/{name} condition met"
