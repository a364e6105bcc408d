"""What ``kubectl kcp workload sync`` writes: the manifest, the RBAC, the kubeconfigs, the unit.

Why this module exists: the objects the plugin creates in the workspace and prints for the edge
cluster are a contract with three readers (the server, the syncer, the user's ``kubectl apply``),
and the names must be kcp's 2022 ones (kcp-behaviour.md 5.1; ``pkg/cliplugins/workload/plugin``
at kcp decced4) so that kcp's walkthroughs and tooling keep working. Keeping them pure (no I/O,
everything passed in) lets the tests pin every field; ``workload.py`` does the requests and the
file writes.

The decisions (the lead's, followed here):

* **The syncer** is ``kcp syncer`` (the single file, ``kcp-edge.pyz syncer``; ``syncer/main.py``).
  The container image runs ``["kcp", "syncer"]`` (kcp: ``/ko-app/syncer``); the Deployment's
  args are kcp's (``--from-kubeconfig=/kcp/kubeconfig``, ``--workload-cluster-name``,
  ``--from-cluster``, one ``--resources`` each) plus ``--state-dir=/var/lib/kcp-syncer``, the
  syncer's local journal, on an ``emptyDir`` volume ``state``.
* **Names** (kcp 2022): in the workspace, ServiceAccount, ClusterRole and ClusterRoleBinding
  ``syncer-<name>``, owned by the WorkloadCluster. On the edge cluster everything is in namespace
  `syncer_id` (``kcpsync`` + SHA-224 of logical cluster + name, 63 characters), with
  ServiceAccount and Deployment ``kcp-syncer``, Secret ``kcp-syncer-config`` and ClusterRole and
  binding named like the namespace.
* **Least privilege upstream** (kcp 2022 bound the syncer to ``cluster-admin``, issue #916):
  `upstream_rules` is the whole table of what the syncer may do in its workspace.
* **Edge RBAC** is kcp's, plus ``get`` and ``delete`` on namespaces (the syncer removes the
  namespaces it made when a WorkloadCluster is deleted with cleanup).
* **The upstream kubeconfig** (the Secret's, and ``--process``'s file) names the server by the
  URL before ``/clusters/`` (kcp: scheme and host only; the same unless the server sits under a
  path prefix), the CA inline, the context's namespace and the service account's token; a
  context that skips TLS verification passes that on instead of a CA.
* **Process mode** runs the syncer from the single file under systemd: `process_command` is
  the command line, `systemd_unit` the service. The unit runs as a dynamic user and receives both
  kubeconfigs through ``LoadCredential=`` (systemd reads them as root and hands the service a
  private copy, so they stay mode 0600 wherever they are; needs systemd 248 for ``%d``), with
  the hardening of ``packaging/kcp-edge.service``.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shlex
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

Obj = dict[str, Any]

SYNCER_ID_PREFIX = "kcpsync"
AUTH_PREFIX = "syncer-"
"""Prefix of the ServiceAccount, ClusterRole and ClusterRoleBinding in the workspace."""
MAX_AUTH_NAME = 254
"""kcp's ``MaxSyncerAuthResourceName``: ``syncer-<name>`` may have at most this many characters."""
DEFAULT_RESOURCES = ("deployments.apps", "secrets", "configmaps", "serviceaccounts")
"""Always synced, whatever ``--resources`` says (kcp's ``requiredResourcesToSync``)."""

SYNCER_NAME = "kcp-syncer"
"""The edge cluster's ServiceAccount, Deployment and container."""
SYNCER_SECRET = "kcp-syncer-config"  # noqa: S105 - a Secret's name
SECRET_KEY = "kubeconfig"  # noqa: S105 - a key in that Secret
IMAGE_COMMAND = ("kcp", "syncer")
STATE_DIR = "/var/lib/kcp-syncer"
CONFIG_MOUNT = "/kcp/"

LOGICAL_CLUSTER_LABEL = "workload.kcp.io/logical-cluster"
WORKLOAD_CLUSTER_LABEL = "workload.kcp.io/workload-cluster"
MODE_ANNOTATION = "workload.kcp-edge.dev/syncer-mode"
PUSH_SECRET_ANNOTATION = "workload.kcp-edge.dev/push-kubeconfig-secret"  # noqa: S105 - a name
PUSH, PULL = "push", "pull"

WORKLOAD_API_VERSION = "workload.kcp.dev/v1alpha1"
RBAC_GROUP = "rbac.authorization.k8s.io"
RBAC_API_VERSION = f"{RBAC_GROUP}/v1"

PYZ = "/usr/local/bin/kcp-edge.pyz"
"""Where ``--process`` expects the single file on the edge host."""
EDGE_KUBECONFIG_PLACEHOLDER = "/etc/kcp-syncer/edge.kubeconfig"
"""The edge cluster's kubeconfig in ``--process`` output when ``--to-kubeconfig`` is not given."""

_RESOURCE = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")


class ManifestError(ValueError):
    """An input cannot go into the manifest (printed as ``error: <message>``)."""


# --- names ----------------------------------------------------------------------------------


def syncer_id(logical_cluster: str, workload_cluster: str) -> str:
    """kcp's ``GetSyncerID``: ``kcpsync`` + hex SHA-224 of the two names, no separator."""
    digest = hashlib.sha224((logical_cluster + workload_cluster).encode()).hexdigest()
    return SYNCER_ID_PREFIX + digest


def auth_name(workload_cluster: str) -> str:
    """``syncer-<name>``: the workspace's ServiceAccount, ClusterRole and binding."""
    return AUTH_PREFIX + workload_cluster


def push_secret_name(workload_cluster: str) -> str:
    """The Secret that holds the edge kubeconfig in push mode."""
    return f"{AUTH_PREFIX}{workload_cluster}-push"


def label_safe(logical_cluster: str) -> str:
    """The logical cluster as a label value (kcp: ``:`` becomes ``_``)."""
    return logical_cluster.replace(":", "_")


# --- resources ------------------------------------------------------------------------------


def resources_to_sync(requested: Iterable[str]) -> list[str]:
    """``--resources`` values (each may be a comma-separated list) unioned with the defaults,
    sorted; each is ``<resource>`` or ``<resource>.<group>``, lower case."""
    result = set(DEFAULT_RESOURCES)
    for value in requested:
        for item in value.split(","):
            resource = item.strip()
            if not resource:
                continue
            if not _RESOURCE.match(resource):
                raise ManifestError(
                    f'invalid resource "{resource}": expected <resource> or <resource>.<group>'
                )
            result.add(resource)
    return sorted(result)


def group_mappings(resources: Iterable[str]) -> list[tuple[str, list[str]]]:
    """``(group, resources)`` pairs, groups sorted (core ``""`` first), resources sorted."""
    groups: dict[str, set[str]] = {}
    for item in resources:
        name, _, group = item.partition(".")
        groups.setdefault(group, set()).add(name)
    return [(group, sorted(names)) for group, names in sorted(groups.items())]


# --- the workspace side ---------------------------------------------------------------------


def owner_reference(workload_cluster: Mapping[str, Any]) -> Obj:
    """The ownerReference to a WorkloadCluster object (kcp: no controller flag)."""
    metadata = workload_cluster.get("metadata") or {}
    return {
        "apiVersion": WORKLOAD_API_VERSION,
        "kind": "WorkloadCluster",
        "name": str(metadata.get("name", "")),
        "uid": str(metadata.get("uid", "")),
    }


def _rule(group: str, resources: Sequence[str], verbs: Sequence[str], *names: str) -> Obj:
    rule: Obj = {"apiGroups": [group], "resources": list(resources)}
    if names:
        rule["resourceNames"] = list(names)
    rule["verbs"] = list(verbs)
    return rule


def upstream_rules(workload_cluster: str, resources: Iterable[str]) -> list[Obj]:
    """What the syncer may do in its workspace, and nothing more (kcp 2022: ``cluster-admin``).

    Its own WorkloadCluster (read all, write only its own, heartbeat in ``status``), its API
    imports, namespaces to read, events to write, and for each synced resource read and write
    (no create or delete: the syncer only reads spec down and writes status and finalizers up).
    """
    group = WORKLOAD_API_VERSION.split("/", 1)[0]
    rules = [
        _rule(group, ["workloadclusters"], ["get", "list", "watch"]),
        _rule(group, ["workloadclusters"], ["update", "patch"], workload_cluster),
        _rule(group, ["workloadclusters/status"], ["get", "update", "patch"], workload_cluster),
        _rule(
            "apiresource.kcp.dev",
            ["apiresourceimports"],
            ["get", "list", "watch", "create", "update", "patch", "delete"],
        ),
        _rule("", ["namespaces"], ["get", "list", "watch"]),
        _rule("", ["events"], ["create", "patch", "update"]),
    ]
    for api_group, names in group_mappings(resources):
        rules.append(_rule(api_group, names, ["get", "list", "watch", "update", "patch"]))
        rules.append(_rule(api_group, [f"{n}/status" for n in names], ["get", "update", "patch"]))
    return rules


def upstream_cluster_role(
    workload_cluster: str, resources: Iterable[str], owner: Mapping[str, Any]
) -> Obj:
    """ClusterRole ``syncer-<name>`` with `upstream_rules`, owned by the WorkloadCluster."""
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRole",
        "metadata": {"name": auth_name(workload_cluster), "ownerReferences": [dict(owner)]},
        "rules": upstream_rules(workload_cluster, resources),
    }


def upstream_cluster_role_binding(
    workload_cluster: str, namespace: str, owner: Mapping[str, Any]
) -> Obj:
    """ClusterRoleBinding ``syncer-<name>``: the ClusterRole to ServiceAccount ``syncer-<name>``."""
    name = auth_name(workload_cluster)
    return {
        "apiVersion": RBAC_API_VERSION,
        "kind": "ClusterRoleBinding",
        "metadata": {"name": name, "ownerReferences": [dict(owner)]},
        "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": name},
        "subjects": [{"kind": "ServiceAccount", "name": name, "namespace": namespace}],
    }


def upstream_service_account(
    workload_cluster: str, namespace: str, owner: Mapping[str, Any]
) -> Obj:
    """ServiceAccount ``syncer-<name>`` in the kcp namespace, owned by the WorkloadCluster."""
    return {
        "apiVersion": "v1",
        "kind": "ServiceAccount",
        "metadata": {
            "name": auth_name(workload_cluster),
            "namespace": namespace,
            "ownerReferences": [dict(owner)],
        },
    }


def push_secret(
    workload_cluster: str, namespace: str, kubeconfig: str, owner: Mapping[str, Any]
) -> Obj:
    """Secret ``syncer-<name>-push`` (Opaque, key ``kubeconfig``): the edge cluster's kubeconfig
    for the server's push-mode engine."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {
            "name": push_secret_name(workload_cluster),
            "namespace": namespace,
            "ownerReferences": [dict(owner)],
        },
        "type": "Opaque",
        "data": {SECRET_KEY: base64.b64encode(kubeconfig.encode()).decode("ascii")},
    }


@dataclass(frozen=True, kw_only=True)
class Upstream:
    """How the syncer reaches its workspace: what goes into its kubeconfig."""

    server: str
    """The URL before ``/clusters/`` (kcp: ``scheme://host:port``)."""
    namespace: str
    """The kcp namespace of the service account."""
    token: str
    ca_pem: bytes | None = None
    insecure: bool = False


def upstream_kubeconfig(upstream: Upstream) -> Obj:
    """kcp's syncer kubeconfig: ``default-cluster``, ``default-context``, ``default-user``."""
    cluster: Obj = {}
    if upstream.ca_pem is not None and not upstream.insecure:
        cluster["certificate-authority-data"] = base64.b64encode(upstream.ca_pem).decode("ascii")
    if upstream.insecure:
        cluster["insecure-skip-tls-verify"] = True
    cluster["server"] = upstream.server
    return {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "default-cluster", "cluster": cluster}],
        "contexts": [
            {
                "name": "default-context",
                "context": {
                    "cluster": "default-cluster",
                    "namespace": upstream.namespace,
                    "user": "default-user",
                },
            }
        ],
        "current-context": "default-context",
        "users": [{"name": "default-user", "user": {"token": upstream.token}}],
    }


# --- the edge side: the manifest ------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Manifest:
    """Everything the printed manifest depends on."""

    logical_cluster: str
    workload_cluster: str
    resources: Sequence[str]
    image: str
    replicas: int
    upstream: Upstream


def downstream_rules(resources: Iterable[str]) -> list[Obj]:
    """The edge ClusterRole's rules: namespaces, CRDs, then ``*`` per synced API group."""
    rules = [
        _rule("", ["namespaces"], ["create", "list", "watch", "get", "delete"]),
        _rule("apiextensions.k8s.io", ["customresourcedefinitions"], ["get", "watch", "list"]),
    ]
    rules += [_rule(group, names, ["*"]) for group, names in group_mappings(resources)]
    return rules


def deployment_args(manifest: Manifest) -> list[str]:
    """The syncer container's args: kcp's, then the state directory."""
    return [
        f"--from-kubeconfig={CONFIG_MOUNT}{SECRET_KEY}",
        f"--workload-cluster-name={manifest.workload_cluster}",
        f"--from-cluster={manifest.logical_cluster}",
        *(f"--resources={r}" for r in manifest.resources),
        f"--state-dir={STATE_DIR}",
    ]


def manifest_objects(manifest: Manifest) -> list[Obj]:
    """Namespace, ServiceAccount, ClusterRole, ClusterRoleBinding, Secret, Deployment."""
    sid = syncer_id(manifest.logical_cluster, manifest.workload_cluster)
    return [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": sid,
                "labels": {
                    LOGICAL_CLUSTER_LABEL: label_safe(manifest.logical_cluster),
                    WORKLOAD_CLUSTER_LABEL: manifest.workload_cluster,
                },
            },
        },
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {"name": SYNCER_NAME, "namespace": sid},
        },
        {
            "apiVersion": RBAC_API_VERSION,
            "kind": "ClusterRole",
            "metadata": {"name": sid},
            "rules": downstream_rules(manifest.resources),
        },
        {
            "apiVersion": RBAC_API_VERSION,
            "kind": "ClusterRoleBinding",
            "metadata": {"name": sid},
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": sid},
            "subjects": [{"kind": "ServiceAccount", "name": SYNCER_NAME, "namespace": sid}],
        },
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": SYNCER_SECRET, "namespace": sid},
            "stringData": {SECRET_KEY: dump_yaml(upstream_kubeconfig(manifest.upstream))},
        },
        _deployment(manifest, sid),
    ]


def _deployment(manifest: Manifest, sid: str) -> Obj:
    container: Obj = {
        "name": SYNCER_NAME,
        "command": list(IMAGE_COMMAND),
        "args": deployment_args(manifest),
        "image": manifest.image,
        "imagePullPolicy": "IfNotPresent",
        "terminationMessagePolicy": "FallbackToLogsOnError",
        "volumeMounts": [
            {"name": "kcp-config", "mountPath": CONFIG_MOUNT, "readOnly": True},
            {"name": "state", "mountPath": STATE_DIR},
        ],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": SYNCER_NAME, "namespace": sid},
        "spec": {
            "replicas": manifest.replicas,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": {"app": sid}},
            "template": {
                "metadata": {"labels": {"app": sid}},
                "spec": {
                    "containers": [container],
                    "serviceAccountName": SYNCER_NAME,
                    "volumes": [
                        {
                            "name": "kcp-config",
                            "secret": {"secretName": SYNCER_SECRET, "optional": False},
                        },
                        {"name": "state", "emptyDir": {}},
                    ],
                },
            },
        },
    }


class _Dumper(yaml.SafeDumper):
    """safe_dump, with multi-line strings (the embedded kubeconfig) as literal blocks."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def dump_yaml(obj: Mapping[str, Any]) -> str:
    """One YAML document, keys in the order given."""
    return yaml.dump(dict(obj), Dumper=_Dumper, sort_keys=False, default_flow_style=False)


def render_manifest(objects: Sequence[Mapping[str, Any]]) -> str:
    """The objects as a multi-document YAML stream (``---`` between documents)."""
    return yaml.dump_all(
        [dict(o) for o in objects], Dumper=_Dumper, sort_keys=False, default_flow_style=False
    )


# --- the edge side: a process under systemd -------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Process:
    """Everything the ``--process`` command line and unit depend on."""

    logical_cluster: str
    workload_cluster: str
    resources: Sequence[str]
    upstream_kubeconfig: str
    """Absolute path of the upstream kubeconfig the plugin wrote."""
    edge_kubeconfig: str = EDGE_KUBECONFIG_PLACEHOLDER
    """Absolute path of the edge cluster's kubeconfig (``--to-kubeconfig``)."""
    edge_context: str | None = None

    @property
    def unit_name(self) -> str:
        return f"kcp-syncer-{self.workload_cluster}.service"

    @property
    def state_dir(self) -> str:
        return f"{STATE_DIR}/{self.workload_cluster}"


def syncer_flags(process: Process, *, upstream: str, edge: str) -> list[str]:
    """``kcp syncer``'s flags for ``process``, with the two kubeconfig paths given."""
    flags = [
        f"--from-kubeconfig={upstream}",
        f"--from-cluster={process.logical_cluster}",
        f"--workload-cluster-name={process.workload_cluster}",
        *(f"--resources={r}" for r in process.resources),
        f"--to-kubeconfig={edge}",
    ]
    if process.edge_context:
        flags.append(f"--to-context={process.edge_context}")
    flags.append(f"--state-dir={process.state_dir}")
    return flags


def process_command(process: Process) -> str:
    """The shell command that runs the syncer on the edge host from the single file."""
    flags = syncer_flags(
        process, upstream=process.upstream_kubeconfig, edge=process.edge_kubeconfig
    )
    return shlex.join(["python3", PYZ, "syncer", *flags])


_UPSTREAM_MARK, _EDGE_MARK = "@UPSTREAM@", "@EDGE@"
"""Stand-ins for the credential paths (``%d/...``), which must not be escaped."""


def _unit_word(value: str) -> str:
    """One ExecStart word: specifiers and variables escaped, quoted if it has blanks."""
    value = value.replace("%", "%%").replace("$", "$$")
    if re.search(r"[\s\"'\\;]", value):
        value = '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return value


def systemd_unit(process: Process) -> str:
    """``kcp-syncer-<name>.service``: the syncer as a hardened, always-restarted service."""
    name, lc = process.workload_cluster, process.logical_cluster
    state = f"kcp-syncer/{name}"
    flags = syncer_flags(process, upstream=_UPSTREAM_MARK, edge=_EDGE_MARK)
    words = ["/usr/bin/python3", PYZ, "syncer", *flags]
    exec_start = (
        " ".join(_unit_word(w) for w in words)
        .replace(_UPSTREAM_MARK, "%d/upstream.kubeconfig")
        .replace(_EDGE_MARK, "%d/edge.kubeconfig")
    )
    upstream_path = process.upstream_kubeconfig.replace("%", "%%")
    edge_path = process.edge_kubeconfig.replace("%", "%%")
    return f"""\
# kcp-syncer for workload cluster "{name}" of kcp workspace "{lc}" (pull mode, as a process).
# Written by "kubectl kcp workload sync {name} --process".
#
# Install on the edge host (systemd 248 or later):
#   install -D -m 0755 kcp-edge.pyz {PYZ}
#   install -m 0644 {process.unit_name} /etc/systemd/system/
#   systemctl daemon-reload && systemctl enable --now {process.unit_name}
#
# systemd reads both kubeconfigs as root (LoadCredential=) and gives the service a private copy,
# so they stay mode 0600 where they are; the service runs as a dynamic user. The edge kubeconfig
# must be self-contained (kubectl config view --flatten --minify).

[Unit]
Description=kcp-syncer for workload cluster {name} of kcp workspace {lc}
Wants=network-online.target
After=network-online.target

[Service]
Type=simple
DynamicUser=true
# {process.state_dir}: the syncer's journal, kept across restarts.
StateDirectory={state}
StateDirectoryMode=0700
# shiv extracts the bundled site-packages here on the first start.
CacheDirectory={state}
Environment=SHIV_ROOT=/var/cache/{state}
Environment=PYTHONUNBUFFERED=1
LoadCredential=upstream.kubeconfig:{upstream_path}
LoadCredential=edge.kubeconfig:{edge_path}
ExecStart={exec_start}

KillSignal=SIGTERM
TimeoutStopSec=30
Restart=always
RestartSec=5s

# Hardening: the process can write only its state and cache directories and a private /tmp.
NoNewPrivileges=true
ProtectSystem=strict
PrivateTmp=true
PrivateDevices=true
ProtectHome=true
ProtectKernelTunables=true
ProtectKernelModules=true
ProtectKernelLogs=true
ProtectControlGroups=true
ProtectClock=true
ProtectHostname=true
RestrictSUIDSGID=true
RestrictRealtime=true
RestrictNamespaces=true
LockPersonality=true
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
SystemCallArchitectures=native
CapabilityBoundingSet=
AmbientCapabilities=
UMask=0077

[Install]
WantedBy=multi-user.target
"""
