"""``kubectl kcp workload`` (alias ``workloads``): connecting edge clusters to a workspace.

Why this module exists: a WorkloadCluster is only useful once a syncer runs for it, and setting
one up by hand means a service account, its RBAC, its token and a manifest with a dozen exact
names. kcp's 2022 plugin made that one command (kcp-behaviour.md 5.1; ``pkg/cliplugins/
workload`` at kcp decced4), and users follow its walkthroughs, so names, flags, messages and the
manifest are kcp's (`syncermanifest` builds the objects; this module does the requests, reads
and writes files and prints). Commands::

    kubectl kcp workload sync <name> --syncer-image <image> [--resources r1,r2] [--replicas 0|1]
        [--kcp-namespace default] [-o file]                      pull: a manifest for the edge
    kubectl kcp workload sync <name> --push --to-kubeconfig F [--to-context C]
                                                                 push: the server runs the syncer
    kubectl kcp workload sync <name> --process [--output-dir D] [--to-kubeconfig F]
                                                                 pull, as a process under systemd
    kubectl kcp workload cordon|uncordon|drain <name>
    global flags: --kubeconfig FILE, --context NAME (and $KUBECONFIG, its first file)

``sync`` works in the workspace of the current context (its server URL must end in
``/clusters/<logical cluster>``) and is idempotent: run twice, it writes nothing the second
time and prints the same. Requests, all under ``/clusters/<lc>``:

1. ``GET workload.kcp.dev/v1alpha1 workloadclusters/<name>``, ``POST`` it (empty spec) if 404.
2. ServiceAccount, ClusterRole and ClusterRoleBinding ``syncer-<name>`` (in ``--kcp-namespace``
   for the account), each owned by the WorkloadCluster: ``GET``, then ``POST`` if missing or
   ``PUT`` if it differs (owners are merged, the rules and subjects replaced; a binding with
   another ``roleRef``, such as kcp 2022's ``cluster-admin`` one, is deleted and made again,
   since ``roleRef`` cannot change). Conflicts are retried on a fresh ``GET``.
3. Pull modes: ``GET`` the ServiceAccount every 100 ms for up to 20 s until ``secrets[0]``
   names a Secret whose ``data.token`` is set (kcp-edge's token controller makes it), and use
   that token. The same Secret is reused on every run.
4. The mode, on the WorkloadCluster: annotation ``workload.kcp-edge.dev/syncer-mode`` ``pull``
   or ``push``. Push also writes Secret ``syncer-<name>-push`` (Opaque, key ``kubeconfig``: the
   ``--to-kubeconfig`` context alone, files inlined) and annotation ``workload.kcp-edge.dev/
   push-kubeconfig-secret: <namespace>/<secret>``; pull removes that annotation and deletes
   ``syncer-<name>-push`` in ``--kcp-namespace`` and in the annotated namespace. Nothing on
   the edge cluster is touched: switching pull -> push leaves the old Deployment running, and
   it stands by while the annotation says push; scale it to 0 (``kubectl -n kcpsync... scale
   deployment kcp-syncer --replicas=0``) or delete its namespace.

``--process`` writes ``kcp-syncer-<name>.kubeconfig`` (mode 0600, the same upstream kubeconfig
as the manifest's Secret) and ``kcp-syncer-<name>.service`` (`syncermanifest.systemd_unit`) to
``--output-dir``, prints the command line, a blank line and the unit on stdout, and says what
it wrote on stderr. The ``--to-kubeconfig`` file is only named there, never read.

``cordon``/``uncordon``/``drain`` read the WorkloadCluster and ``PUT`` it back changed
(``spec.unschedulable``, ``spec.evictAfter``), the effect of kcp's merge patches (`restclient`
speaks JSON only, so writes are read-modify-``PUT`` with the resourceVersion); output kcp's
``<name> cordoned``, ``<name> already cordoned``, ``... uncordoned``, ``... draining``.

Decisions where kcp said nothing or differed: the manifest file (``-o``) is written mode 0600
(it holds a token); ``uncordon`` also clears an ``evictAfter`` left without ``unschedulable``
(kcp said "already uncordoned"); kcp's "failed to get WorkloadCluster <name>: ..." wraps a
missing one; the push Secret refuses contexts with exec or auth-provider users (the server would
run the command); ``--push``, ``--process`` and ``--syncer-image`` exclude each other, and flags
of another mode are refused rather than ignored. The name-length message is kcp's, which
counts ``syncer-`` in: "the maximum length of the workload-cluster-name is 254".
"""

from __future__ import annotations

import argparse
import base64
import binascii
import copy
import dataclasses
import datetime as dt
import os
import sys
import time
import urllib.parse
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from kcp_edge.auth.pki import write_file_atomically
from kcp_edge.cli import syncermanifest as sm
from kcp_edge.cli.kubeconfigs import (
    Kubeconfig,
    KubeconfigError,
    client_config,
    context_name,
    kubeconfig_path,
    quoted,
    require_cluster,
    require_cluster_url,
    require_context,
    server_of,
)
from kcp_edge.cli.restclient import ClientConfig, RestClient, RestError

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

Obj = dict[str, Any]

WORKLOAD_CLUSTERS = f"/apis/{sm.WORKLOAD_API_VERSION}/workloadclusters"
CLUSTER_ROLES = f"/apis/{sm.RBAC_API_VERSION}/clusterroles"
CLUSTER_ROLE_BINDINGS = f"/apis/{sm.RBAC_API_VERSION}/clusterrolebindings"
TOKEN_TIMEOUT = 20.0
"""How long ``sync`` waits for the service account's token (kcp: 20 s)."""
POLL_INTERVAL = 0.1
"""How often it looks (kcp: 100 ms)."""
CONFLICT_RETRIES = 5

_COMMANDS = ("sync", "cordon", "uncordon", "drain")
_VALUE_FLAGS = ("--kubeconfig", "--context")
_SWITCH_NOTE = (
    "Switching from pull to push leaves the syncer Deployment on the edge cluster in place; it "
    "stands by while the WorkloadCluster says push. Scale it down: kubectl -n <kcpsync...> "
    "scale deployment kcp-syncer --replicas=0."
)


class WorkloadError(ValueError):
    """A ``kubectl kcp workload`` command cannot do what was asked; printed as ``error: ...``."""


# --- the workspace --------------------------------------------------------------------------


def _quote(name: str) -> str:
    return urllib.parse.quote(name, safe="")


def _namespaced(namespace: str, plural: str, name: str | None = None) -> str:
    path = f"/api/v1/namespaces/{_quote(namespace)}/{plural}"
    return f"{path}/{_quote(name)}" if name is not None else path


def _named(collection: str, name: str) -> str:
    return f"{collection}/{_quote(name)}"


@dataclasses.dataclass
class Workspace:
    """The workspace of the current context: a client for it and what the syncer needs of it."""

    client: RestClient
    logical_cluster: str
    base: str
    """The server URL before ``/clusters/``."""
    credentials: ClientConfig
    token_timeout: float = TOKEN_TIMEOUT
    poll_interval: float = POLL_INTERVAL

    def get(self, path: str) -> Obj | None:
        """The object at ``path``; None on 404."""
        try:
            return self.client.get(path)
        except RestError as exc:
            if exc.code == 404:
                return None
            raise

    def delete(self, path: str) -> None:
        """Delete the object at ``path``; a missing one is fine."""
        try:
            self.client.request("DELETE", path)
        except RestError as exc:
            if exc.code != 404:
                raise


def _metadata(obj: Mapping[str, Any]) -> Obj:
    metadata = obj.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def merged_owners(existing: Sequence[Any], owner: Mapping[str, Any]) -> list[Any]:
    """``existing`` with ``owner`` in it: kept if there, replacing a stale reference to an
    object of the same kind and name (an older WorkloadCluster), else appended."""
    result = list(existing)
    for i, ref in enumerate(result):
        if not isinstance(ref, dict):
            continue
        if ref.get("uid") == owner["uid"]:
            return result
        same = ("apiVersion", "kind", "name")
        if all(ref.get(k) == owner[k] for k in same):
            result[i] = dict(owner)
            return result
    return [*result, dict(owner)]


Change = Callable[[Obj], Obj | None]
"""Given the object as it is, the object as it should be; None when nothing is to change."""


def ensure(ws: Workspace, collection: str, desired: Obj, change: Change) -> Obj:
    """Create ``desired`` in ``collection`` if missing, else apply ``change`` (``PUT``), retrying
    conflicts on a fresh read. Returns the object as stored."""
    path = _named(collection, str(desired["metadata"]["name"]))
    for _ in range(CONFLICT_RETRIES):
        current = ws.get(path)
        try:
            if current is None:
                return ws.client.post(collection, desired)
            updated = change(current)
            if updated is None:
                return current
            return ws.client.request("PUT", path, updated)
        except RestError as exc:
            if exc.code != 409:
                raise
    raise WorkloadError(f"{path}: gave up after {CONFLICT_RETRIES} conflicting updates")


def _owned_change(owner: Mapping[str, Any], fields: Mapping[str, Any]) -> Change:
    """A `Change` that merges ``owner`` into the owners and sets the top-level ``fields``."""

    def change(current: Obj) -> Obj | None:
        updated = copy.deepcopy(current)
        metadata = updated.setdefault("metadata", {})
        owners = metadata.get("ownerReferences") or []
        metadata["ownerReferences"] = merged_owners(owners, owner)
        updated.update(copy.deepcopy(dict(fields)))
        return None if updated == current else updated

    return change


def _workload_cluster(name: str) -> Obj:
    return {
        "apiVersion": sm.WORKLOAD_API_VERSION,
        "kind": "WorkloadCluster",
        "metadata": {"name": name},
        "spec": {},
    }


def ensure_workload_cluster(ws: Workspace, name: str) -> Obj:
    """kcp's step 1: the WorkloadCluster, created with an empty spec if missing."""
    try:
        return ensure(ws, WORKLOAD_CLUSTERS, _workload_cluster(name), lambda _: None)
    except RestError as exc:
        if exc.code == 404:  # the resource itself is not served here
            raise WorkloadError(
                f"workspace {quoted(ws.logical_cluster)} does not serve workloadclusters."
                "workload.kcp.dev; use a Universal workspace"
            ) from None
        raise


def ensure_auth(ws: Workspace, name: str, namespace: str, resources: Sequence[str]) -> Obj:
    """The WorkloadCluster, and ServiceAccount, ClusterRole and ClusterRoleBinding
    ``syncer-<name>`` owned by it; the ownerReference to the WorkloadCluster."""
    owner = sm.owner_reference(ensure_workload_cluster(ws, name))
    account = sm.upstream_service_account(name, namespace, owner)
    ensure(ws, _namespaced(namespace, "serviceaccounts"), account, _owned_change(owner, {}))
    role = sm.upstream_cluster_role(name, resources, owner)
    ensure(ws, CLUSTER_ROLES, role, _owned_change(owner, {"rules": role["rules"]}))
    binding = sm.upstream_cluster_role_binding(name, namespace, owner)
    current = ws.get(_named(CLUSTER_ROLE_BINDINGS, sm.auth_name(name)))
    if current is not None and current.get("roleRef") != binding["roleRef"]:
        ws.delete(_named(CLUSTER_ROLE_BINDINGS, sm.auth_name(name)))  # roleRef is immutable
    fields = {"roleRef": binding["roleRef"], "subjects": binding["subjects"]}
    ensure(ws, CLUSTER_ROLE_BINDINGS, binding, _owned_change(owner, fields))
    return owner


def wait_for_token(ws: Workspace, name: str, namespace: str) -> str:
    """The token in the Secret ``serviceAccount.secrets[0]`` names, once it is there."""
    account = sm.auth_name(name)
    deadline = time.monotonic() + ws.token_timeout
    secret_name = ""
    while True:
        sa = ws.get(_namespaced(namespace, "serviceaccounts", account)) or {}
        secrets = sa.get("secrets")
        if isinstance(secrets, list) and secrets and isinstance(secrets[0], dict):
            secret_name = str(secrets[0].get("name", ""))
        if secret_name:
            token = _token_of(ws.get(_namespaced(namespace, "secrets", secret_name)))
            if token:
                return token
        if time.monotonic() + ws.poll_interval > deadline:
            break
        time.sleep(ws.poll_interval)
    if not secret_name:
        raise WorkloadError(
            "timed out waiting for token secret name to be set on ServiceAccount "
            f"{namespace}/{account}"
        )
    raise WorkloadError(f"token secret {namespace}/{secret_name} is missing a value for `token`")


def _token_of(secret: Obj | None) -> str:
    data = (secret or {}).get("data")
    value = data.get("token") if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        return ""
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return ""


def set_mode(ws: Workspace, name: str, mode: str, push_secret: str | None = None) -> None:
    """The mode annotations on the WorkloadCluster (``push_secret`` is ``<ns>/<name>``)."""

    def change(current: Obj) -> Obj | None:
        updated = copy.deepcopy(current)
        annotations = updated.setdefault("metadata", {}).get("annotations") or {}
        annotations[sm.MODE_ANNOTATION] = mode
        if push_secret is None:
            annotations.pop(sm.PUSH_SECRET_ANNOTATION, None)
        else:
            annotations[sm.PUSH_SECRET_ANNOTATION] = push_secret
        updated["metadata"]["annotations"] = annotations
        return None if updated == current else updated

    ensure(ws, WORKLOAD_CLUSTERS, _workload_cluster(name), change)


def switch_to_pull(ws: Workspace, name: str, namespace: str) -> None:
    """Mode ``pull``; the push Secret deleted (in ``namespace`` and in the one annotated)."""
    current = ws.get(_named(WORKLOAD_CLUSTERS, name)) or {}
    annotated = str(
        (_metadata(current).get("annotations") or {}).get(sm.PUSH_SECRET_ANNOTATION, "")
    )
    set_mode(ws, name, sm.PULL)
    namespaces = {namespace}
    secret_ns, _, secret_name = annotated.partition("/")
    if secret_ns and secret_name == sm.push_secret_name(name):
        namespaces.add(secret_ns)
    for secret_namespace in sorted(namespaces):
        ws.delete(_namespaced(secret_namespace, "secrets", sm.push_secret_name(name)))


# --- the edge cluster's kubeconfig (push mode) ----------------------------------------------


def flattened_kubeconfig(path: Path, context: str | None) -> Obj:
    """One context of the kubeconfig at ``path`` with its cluster and user, files inlined
    (``kubectl config view --minify --flatten``)."""
    config = Kubeconfig.load(path, must_exist=True)
    name = context_name(config, context)
    ctx = dict(require_context(config, name))
    cluster_name = str(ctx.get("cluster", ""))
    cluster = dict(require_cluster(config, cluster_name))
    resolved = client_config(config, name)
    cluster = _inlined(cluster, {"certificate-authority-data": resolved.ca_pem})
    doc: Obj = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "contexts": [{"name": name, "context": ctx}],
        "current-context": name,
    }
    user_name = ctx.get("user")
    if user_name:
        doc["users"] = [{"name": user_name, "user": _flat_user(config, str(user_name), resolved)}]
    return doc


def _flat_user(config: Kubeconfig, name: str, resolved: ClientConfig) -> Obj:
    user = dict(config.user(name) or {})
    return _inlined(
        user,
        {
            "client-certificate-data": resolved.client_cert_pem,
            "client-key-data": resolved.client_key_pem,
            "token": resolved.token,
        },
    )


_FILE_KEYS = {
    "certificate-authority-data": "certificate-authority",
    "client-certificate-data": "client-certificate",
    "client-key-data": "client-key",
    "token": "tokenFile",
}


def _inlined(entry: Mapping[str, Any], values: Mapping[str, bytes | str | None]) -> Obj:
    """``entry`` with each key of ``values`` (and the file key it replaces) set to the resolved
    value, base64 for bytes, in the place where the entry had either; absent if None."""
    replaced = {key: key for key in values} | {_FILE_KEYS[key]: key for key in values}
    result: Obj = {}
    for key, value in entry.items():
        if key not in replaced:
            result[key] = value
            continue
        new_key = replaced[key]
        resolved = values[new_key]
        if resolved is not None and new_key not in result:
            result[new_key] = (
                base64.b64encode(resolved).decode("ascii")
                if isinstance(resolved, bytes)
                else resolved
            )
    return result


# --- sync -----------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, kw_only=True)
class SyncOptions:
    """``sync``'s flags, checked."""

    name: str
    resources: list[str]
    namespace: str
    image: str = ""
    replicas: int = 1
    output_file: str = "-"
    push: bool = False
    process: bool = False
    to_kubeconfig: str = ""
    to_context: str = ""
    output_dir: str = "."


def sync_options(ns: argparse.Namespace) -> SyncOptions:
    """Check ``sync``'s flags in kcp's order and with its messages."""
    modes = [
        flag
        for flag, on in (
            ("--syncer-image", ns.syncer_image),
            ("--push", ns.push),
            ("--process", ns.process),
        )
        if on
    ]
    if len(modes) > 1:
        raise WorkloadError(f"{' and '.join(modes)} cannot be used together")
    if not modes:
        raise WorkloadError("a value must be specified for --syncer-image")
    mode = modes[0]
    if ns.push and not ns.to_kubeconfig:
        raise WorkloadError("a value must be specified for --to-kubeconfig")
    if mode == "--syncer-image" and (ns.to_kubeconfig or ns.to_context):
        raise WorkloadError("--to-kubeconfig and --to-context need --push or --process")
    if mode != "--syncer-image" and ns.output_file not in (None, "-"):
        raise WorkloadError(f"--output-file cannot be used with {mode}")
    if mode != "--process" and ns.output_dir is not None:
        raise WorkloadError("--output-dir needs --process")
    if not ns.kcp_namespace:
        raise WorkloadError("a value must be specified for --kcp-namespace")
    if ns.replicas < 0:
        raise WorkloadError("a non-negative value must be specified for --replicas")
    if ns.replicas > 1:
        raise WorkloadError("only 0 and 1 are allowed as --replicas values")
    if len(ns.name) + len(sm.AUTH_PREFIX) > sm.MAX_AUTH_NAME:
        raise WorkloadError(
            f"the maximum length of the workload-cluster-name is {sm.MAX_AUTH_NAME}"
        )
    try:
        resources = sm.resources_to_sync(ns.resources or [])
    except sm.ManifestError as exc:
        raise WorkloadError(str(exc)) from None
    return SyncOptions(
        name=ns.name,
        resources=resources,
        namespace=ns.kcp_namespace,
        image=ns.syncer_image or "",
        replicas=ns.replicas,
        output_file=ns.output_file or "-",
        push=ns.push,
        process=ns.process,
        to_kubeconfig=ns.to_kubeconfig or "",
        to_context=ns.to_context or "",
        output_dir=ns.output_dir or ".",
    )


def _upstream(ws: Workspace, options: SyncOptions, token: str) -> sm.Upstream:
    return sm.Upstream(
        server=ws.base,
        namespace=options.namespace,
        token=token,
        ca_pem=ws.credentials.ca_pem,
        insecure=ws.credentials.insecure,
    )


def sync(ws: Workspace, options: SyncOptions, out: TextIO, err: TextIO) -> None:
    """``kubectl kcp workload sync``: one of the three modes."""
    if options.push:
        sync_push(ws, options, out)
        return
    ensure_auth(ws, options.name, options.namespace, options.resources)
    token = wait_for_token(ws, options.name, options.namespace)
    switch_to_pull(ws, options.name, options.namespace)
    if options.process:
        sync_process(ws, options, token, out, err)
        return
    manifest = sm.Manifest(
        logical_cluster=ws.logical_cluster,
        workload_cluster=options.name,
        resources=options.resources,
        image=options.image,
        replicas=options.replicas,
        upstream=_upstream(ws, options, token),
    )
    text = sm.render_manifest(sm.manifest_objects(manifest))
    if options.output_file == "-":
        out.write(text)
        return
    _write(Path(options.output_file), text, mode=0o600)
    sid = sm.syncer_id(ws.logical_cluster, options.name)
    print(
        f"Wrote physical cluster manifest to {options.output_file} for namespace {quoted(sid)}. "
        f"Use\n\n  KUBECONFIG=<pcluster-config> kubectl apply -f {quoted(options.output_file)}"
        "\n\nto apply it.",
        file=err,
    )


def sync_push(ws: Workspace, options: SyncOptions, out: TextIO) -> None:
    """Push mode: the edge kubeconfig in a Secret, the annotations on the WorkloadCluster."""
    edge = flattened_kubeconfig(Path(options.to_kubeconfig), options.to_context or None)
    owner = ensure_auth(ws, options.name, options.namespace, options.resources)
    secret = sm.push_secret(options.name, options.namespace, sm.dump_yaml(edge), owner)
    fields = {"type": secret["type"], "data": secret["data"]}
    path = _namespaced(options.namespace, "secrets", secret["metadata"]["name"])
    current = ws.get(path)
    if current is not None and current.get("type", "Opaque") != secret["type"]:
        ws.delete(path)  # a Secret's type is immutable
    ensure(ws, _namespaced(options.namespace, "secrets"), secret, _owned_change(owner, fields))
    set_mode(ws, options.name, sm.PUSH, f"{options.namespace}/{secret['metadata']['name']}")
    print(
        f"workload cluster {quoted(options.name)} is now synced by the server (push mode)", file=out
    )


def sync_process(ws: Workspace, options: SyncOptions, token: str, out: TextIO, err: TextIO) -> None:
    """Process mode: the upstream kubeconfig and the unit written, the command printed."""
    directory = Path(options.output_dir).expanduser().absolute()
    kubeconfig = directory / f"kcp-syncer-{options.name}.kubeconfig"
    edge = (
        str(Path(options.to_kubeconfig).expanduser().absolute())
        if options.to_kubeconfig
        else sm.EDGE_KUBECONFIG_PLACEHOLDER
    )
    process = sm.Process(
        logical_cluster=ws.logical_cluster,
        workload_cluster=options.name,
        resources=options.resources,
        upstream_kubeconfig=str(kubeconfig),
        edge_kubeconfig=edge,
        edge_context=options.to_context or None,
    )
    unit_path = directory / process.unit_name
    unit = sm.systemd_unit(process)
    _write(
        kubeconfig, sm.dump_yaml(sm.upstream_kubeconfig(_upstream(ws, options, token))), mode=0o600
    )
    _write(unit_path, unit, mode=0o644)
    print(f"{sm.process_command(process)}\n\n{unit}", end="", file=out)
    print(
        f"Wrote the syncer's kubeconfig to {kubeconfig} (mode 0600) and the systemd unit to "
        f"{unit_path}. Run the command above on the edge host, or install the unit.",
        file=err,
    )


def _write(path: Path, text: str, *, mode: int) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_file_atomically(path, text.encode("utf-8"), mode=mode)
    except OSError as exc:
        raise WorkloadError(f"writing {path}: {exc}") from None


# --- cordon, uncordon, drain ----------------------------------------------------------------


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _spec_change(ws: Workspace, name: str, change: Callable[[Obj], bool]) -> bool:
    """Apply ``change`` to the WorkloadCluster's spec (True if it changed it) and ``PUT``;
    whether anything was written."""
    path = _named(WORKLOAD_CLUSTERS, name)
    for _ in range(CONFLICT_RETRIES):
        try:
            current = ws.client.get(path)
        except RestError as exc:
            raise WorkloadError(f"failed to get WorkloadCluster {name}: {exc}") from None
        updated = copy.deepcopy(current)
        spec = updated.get("spec")
        updated["spec"] = spec = spec if isinstance(spec, dict) else {}
        if not change(spec):
            return False
        try:
            ws.client.request("PUT", path, updated)
        except RestError as exc:
            if exc.code == 409:
                continue
            raise WorkloadError(f"failed to update WorkloadCluster {name}: {exc}") from None
        return True
    raise WorkloadError(f"failed to update WorkloadCluster {name}: too many conflicts")


def cordon(ws: Workspace, name: str, out: TextIO) -> None:
    """``spec.unschedulable=true``."""

    def change(spec: Obj) -> bool:
        if spec.get("unschedulable") is True:
            return False
        spec["unschedulable"] = True
        return True

    print(name, "cordoned" if _spec_change(ws, name, change) else "already cordoned", file=out)


def uncordon(ws: Workspace, name: str, out: TextIO) -> None:
    """``spec.unschedulable=false``, ``spec.evictAfter`` removed."""

    def change(spec: Obj) -> bool:
        if spec.get("unschedulable") is not True and spec.get("evictAfter") is None:
            return False
        spec["unschedulable"] = False
        spec.pop("evictAfter", None)
        return True

    print(name, "uncordoned" if _spec_change(ws, name, change) else "already uncordoned", file=out)


def drain(ws: Workspace, name: str, out: TextIO) -> None:
    """``spec.unschedulable=true`` and ``spec.evictAfter`` now."""

    def change(spec: Obj) -> bool:
        if spec.get("unschedulable") is True and spec.get("evictAfter") is not None:
            return False
        spec["unschedulable"] = True
        spec["evictAfter"] = _now()
        return True

    print(name, "draining" if _spec_change(ws, name, change) else "already draining", file=out)


# --- argument parsing -----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse that raises `WorkloadError` on bad arguments; help goes to ``out``."""

    out: TextIO | None = None

    def print_help(self, file: SupportsWrite[str] | None = None) -> None:
        super().print_help(file or self.out)

    def error(self, message: str) -> NoReturn:
        raise WorkloadError(f"{message}\nSee '{self.prog} --help' for usage.")


def _global_flags() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--kubeconfig", metavar="FILE", help="path to the kubeconfig file to use")
    common.add_argument("--context", metavar="NAME", help="the kubeconfig context to use")
    return common


def _sync_parser(prog: str, common: list[argparse.ArgumentParser]) -> _Parser:
    parser = _Parser(
        prog=f"{prog} sync",
        parents=common,
        usage=(
            f"{prog} sync <workload-cluster-name> --syncer-image <kcp-syncer-image> "
            "[--resources=<resource1>,<resource2>..] | --push --to-kubeconfig FILE | --process"
        ),
        description=(
            "Deploy a syncer for the given workload cluster. Creates the WorkloadCluster and "
            "the syncer's service account and RBAC in the current workspace, then: prints the "
            "manifest to apply to the edge cluster (--syncer-image, pull mode); or has the "
            "server run the syncer (--push); or writes a kubeconfig and a systemd unit to run "
            "it as a process on the edge host (--process, pull mode)."
        ),
        epilog=(
            f"Example:\n  {prog} sync <workload-cluster-name> --syncer-image <kcp-syncer-image> "
            f"-o syncer.yaml\n  KUBECONFIG=<pcluster-config> kubectl apply -f syncer.yaml\n\n"
            f"{_SWITCH_NOTE}"
        ),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    flag = parser.add_argument
    flag("name", metavar="workload-cluster-name")
    flag(
        "--syncer-image",
        metavar="IMAGE",
        help="the syncer image to use in the syncer's deployment YAML",
    )
    flag(
        "--resources",
        action="append",
        metavar="R[,R...]",
        help="resources to synchronize with kcp, in addition to " + ", ".join(sm.DEFAULT_RESOURCES),
    )
    flag(
        "--replicas",
        type=int,
        default=1,
        metavar="N",
        help="replicas of the syncer deployment (0 or 1)",
    )
    flag(
        "--kcp-namespace",
        default="default",
        metavar="NAMESPACE",
        help="the kcp namespace to create the service account in (default: default)",
    )
    flag(
        "-o",
        "--output-file",
        metavar="FILE",
        help="where the manifest goes; - for stdout (default)",
    )
    flag("--push", action="store_true", help="the server runs the syncer (push mode)")
    flag("--to-kubeconfig", metavar="FILE", help="the edge cluster's kubeconfig")
    flag("--to-context", metavar="NAME", help="its context (default: its current context)")
    flag("--process", action="store_true", help="run the syncer as a process on the edge host")
    flag("--output-dir", metavar="DIR", help="where --process writes its files (default: .)")
    return parser


def _parsers(prog: str, out: TextIO) -> dict[str, _Parser]:
    common = [_global_flags()]
    root = _Parser(
        prog=prog,
        parents=common,
        usage=f"{prog} [sync|cordon|uncordon|drain] <workload-cluster-name> [flags]",
        description="Manages KCP workload clusters",
        epilog=f"'{prog} <command> --help' for each command.",
    )
    parsers = {"": root, "sync": _sync_parser(prog, common)}
    for command, short in (
        ("cordon", "Mark workload cluster as unschedulable"),
        ("uncordon", "Mark workload cluster as schedulable"),
        ("drain", "Start draining workload cluster in preparation for maintenance"),
    ):
        parser = _Parser(prog=f"{prog} {command}", parents=common, description=short)
        parser.add_argument("name", metavar="workload-cluster-name")
        parsers[command] = parser
    for parser in parsers.values():
        parser.out = out
    return parsers


def _split_command(args: Sequence[str]) -> tuple[str | None, list[str]]:
    """The first word that is not a global flag or its value, and the other arguments."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg in _VALUE_FLAGS:
            i += 2
        elif arg.startswith("-"):
            i += 1
        else:
            return arg, [*args[:i], *args[i + 1 :]]
    return None, list(args)


def workspace_of(config: Kubeconfig, context: str) -> Workspace:
    """The workspace the context points at, or kcp's error."""
    parsed = require_cluster_url(server_of(config, context))
    credentials = client_config(config, context)
    return Workspace(
        client=RestClient(credentials),
        logical_cluster=parsed.workspace,
        base=parsed.base,
        credentials=credentials,
    )


def run_workload(
    prog: str,
    args: list[str],
    *,
    env: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    token_timeout: float = TOKEN_TIMEOUT,
) -> int:
    """``kubectl kcp workload ...`` (``prog`` as users type it); the exit code."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    parsers = _parsers(prog, out)
    command, rest = _split_command(args)
    try:
        if command is not None and command not in _COMMANDS:
            raise WorkloadError(f"unknown command {quoted(command)} for {quoted(prog)}")
        ns = parsers[command or ""].parse_args(rest)
        if command is None:
            parsers[""].print_help()
            return 0
        options = sync_options(ns) if command == "sync" else None
        environment = os.environ if env is None else env
        config = Kubeconfig.load(
            kubeconfig_path(ns.kubeconfig, environment), must_exist=bool(ns.kubeconfig)
        )
        ws = workspace_of(config, context_name(config, ns.context))
        ws.token_timeout = token_timeout
        if options is not None:
            sync(ws, options, out, err)
        else:
            {"cordon": cordon, "uncordon": uncordon, "drain": drain}[command](ws, ns.name, out)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except (WorkloadError, KubeconfigError, RestError) as exc:
        print(f"error: {exc}", file=err)
        return 1
    return 0
