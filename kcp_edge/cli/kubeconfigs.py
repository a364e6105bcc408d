"""A user's kubeconfig as ``kubectl ws`` reads and edits it, the way kcp's plugin does.

Why this module exists: ``kubectl ws`` moves between workspaces by rewriting the user's own
kubeconfig, and users keep other clusters, users and settings in that file, so every edit must
be the one kcp's plugin makes (kcp-behaviour.md 1.5; ``pkg/cliplugins/workspace/plugin/
kubeconfig.go`` at kcp decced4, May 2022) and nothing else in the file may change. (The admin
kubeconfig that ``kcp start`` writes is ``kubeconfig.py``'s.) What it owns:

* which file: ``--kubeconfig``, else the first entry of ``$KUBECONFIG``, else ``~/.kube/config``
  (kubectl merges a ``$KUBECONFIG`` list; the plugin reads and writes its first file only);
* reading and writing it: PyYAML, every field kept (also ones this module does not know),
  written atomically with the file's mode (0600 for a new file), through symlinks;
* the workspace of a server URL: the name after ``/clusters/`` (or ``/services/workspaces/``),
  a colon path under ``root`` or ``system`` that is valid on the server (kcp's 2022 plugin was
  stricter: two characters at least per segment);
* the edits: `switch_workspace` (contexts ``workspace.kcp.dev/current`` and
  ``workspace.kcp.dev/previous``, CA and user kept), `swap_with_previous` (``kubectl ws -``)
  and `create_context` (``kubectl ws create-context``), each returning a changed copy;
* `client_config`: one context's server, CA, TLS settings and credentials for `restclient`.

Error texts are kcp's and client-go's (``current URL "..." does not point to cluster
workspace``, ``no previous workspace found in kubeconfig``, ``context was not found for
specified context: x``, ...).
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from kcp_edge.auth.pki import write_file_atomically
from kcp_edge.cli.restclient import ClientConfig

CURRENT_KEY = "workspace.kcp.dev/current"
"""Name of the context and cluster ``kubectl ws`` points at the current workspace."""
PREVIOUS_KEY = "workspace.kcp.dev/previous"
"""Name of the context (and, if needed, cluster) of the workspace before, for ``kubectl ws -``."""

# The server's rule for logical cluster paths (kcp-behaviour.md 1.1). kcp's 2022 plugin used
# ``[a-z][a-z0-9-]*[a-z0-9]`` per segment, which refused one-letter names the server accepts.
_WORKSPACE_PATH = re.compile(
    r"^([a-z]([a-z0-9-]{0,61}[a-z0-9])?:)*[a-z]([a-z0-9-]{0,61}[a-z0-9])?$"
)
_URL_PREFIXES = ("/clusters/", "/services/workspaces/")
_SECTIONS = {"clusters": "cluster", "contexts": "context", "users": "user"}
_NO_CONFIGURATION = (
    "invalid configuration: no configuration has been provided, "
    "try setting KUBERNETES_MASTER environment variable"
)


class KubeconfigError(ValueError):
    """The kubeconfig cannot be read, written or used as asked; the message is for the user."""


def quoted(value: str) -> str:
    """``value`` as Go's ``%q`` prints it (for the ASCII names this module deals in)."""
    return json.dumps(value, ensure_ascii=False)


# --- which file, reading and writing --------------------------------------------------------


def kubeconfig_path(explicit: str | None, env: Mapping[str, str]) -> Path:
    """The file to use: ``--kubeconfig``, the first ``$KUBECONFIG`` entry, ``~/.kube/config``."""
    if explicit:
        return Path(explicit).expanduser()
    for entry in env.get("KUBECONFIG", "").split(os.pathsep):
        if entry.strip():
            return Path(entry.strip()).expanduser()
    home = env.get("HOME")
    return (Path(home) if home else Path.home()) / ".kube" / "config"


@dataclass
class Kubeconfig:
    """A kubeconfig document and the file it came from (or will go to)."""

    path: Path
    doc: dict[str, Any]

    @classmethod
    def load(cls, path: Path, *, must_exist: bool = False) -> Kubeconfig:
        """Read ``path``; a missing file is an empty config unless ``must_exist``."""
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            if must_exist:
                raise KubeconfigError(f"stat {path}: no such file or directory") from None
            return cls(path, {})
        except (OSError, UnicodeDecodeError) as exc:
            raise KubeconfigError(f"error loading config file {quoted(str(path))}: {exc}") from None
        try:
            doc = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            message = f"error loading config file {quoted(str(path))}: {exc}"
            raise KubeconfigError(message) from None
        if doc is None:
            doc = {}
        if not isinstance(doc, dict):
            message = f"error loading config file {quoted(str(path))}: not a mapping"
            raise KubeconfigError(message)
        return cls(path, doc)

    def save(self) -> None:
        """Write the document back atomically, keeping the file's mode (0600 if new)."""
        target = self.path.resolve()
        try:
            mode = target.stat().st_mode & 0o777
        except FileNotFoundError:
            mode = 0o600
            target.parent.mkdir(parents=True, exist_ok=True)
        text = yaml.safe_dump(self.doc, default_flow_style=False, sort_keys=False)
        try:
            write_file_atomically(target, text.encode("utf-8"), mode=mode)
        except OSError as exc:
            raise KubeconfigError(f"error writing {target}: {exc}") from None

    def copy(self) -> Kubeconfig:
        """A deep copy, to change while this one stays as read."""
        return Kubeconfig(self.path, copy.deepcopy(self.doc))

    @property
    def current_context(self) -> str:
        value = self.doc.get("current-context")
        return value if isinstance(value, str) else ""

    @current_context.setter
    def current_context(self, name: str) -> None:
        self.doc["current-context"] = name

    def context(self, name: str) -> dict[str, Any] | None:
        """The ``context`` mapping of the context named ``name``."""
        return self._get("contexts", name)

    def cluster(self, name: str) -> dict[str, Any] | None:
        """The ``cluster`` mapping of the cluster named ``name``."""
        return self._get("clusters", name)

    def user(self, name: str) -> dict[str, Any] | None:
        """The ``user`` mapping of the user named ``name``."""
        return self._get("users", name)

    def set_context(self, name: str, value: Mapping[str, Any]) -> None:
        self._set("contexts", name, value)

    def set_cluster(self, name: str, value: Mapping[str, Any]) -> None:
        self._set("clusters", name, value)

    def _entries(self, section: str, *, create: bool = False) -> list[Any]:
        """The section's list; reading never adds it (the file must not change on a read)."""
        entries = self.doc.get(section)
        if entries is None:
            entries = []
            if create:
                self.doc[section] = entries
        if not isinstance(entries, list):
            raise KubeconfigError(f"{self.path}: {section!r} is not a list")
        return entries

    def _get(self, section: str, name: str) -> dict[str, Any] | None:
        for entry in self._entries(section):
            if isinstance(entry, dict) and entry.get("name") == name:
                value = entry.get(_SECTIONS[section])
                if value is None:
                    return {}  # an empty entry, read as such (and left as it is)
                if not isinstance(value, dict):
                    raise KubeconfigError(f"{self.path}: {section[:-1]} {name!r} is not a mapping")
                return value
        return None

    def _set(self, section: str, name: str, value: Mapping[str, Any]) -> None:
        entries = self._entries(section, create=True)
        new = {"name": name, _SECTIONS[section]: copy.deepcopy(dict(value))}
        for i, entry in enumerate(entries):
            if isinstance(entry, dict) and entry.get("name") == name:
                entries[i] = new
                return
        entries.append(new)


# --- contexts and their servers -------------------------------------------------------------


def context_name(config: Kubeconfig, override: str | None) -> str:
    """The context in use: ``--context`` if given, else ``current-context``."""
    name = override or config.current_context
    if not name:
        raise KubeconfigError(_NO_CONFIGURATION)
    return name


def require_context(config: Kubeconfig, name: str) -> dict[str, Any]:
    """The context ``name``; kcp's error if it is missing."""
    context = config.context(name)
    if context is None:
        raise KubeconfigError(f"context was not found for specified context: {name}")
    return context


def require_cluster(config: Kubeconfig, name: str) -> dict[str, Any]:
    """The cluster ``name``; kcp's error if it is missing."""
    cluster = config.cluster(name)
    if cluster is None:
        raise KubeconfigError(f"cluster {quoted(name)} not found in kubeconfig")
    return cluster


def server_of(config: Kubeconfig, context: str) -> str:
    """The server URL the context ``context`` talks to."""
    cluster = require_cluster(config, str(require_context(config, context).get("cluster", "")))
    server = cluster.get("server")
    if not isinstance(server, str) or not server:
        raise KubeconfigError("invalid configuration: cluster has no server defined")
    return server


# --- workspaces in server URLs --------------------------------------------------------------


def is_workspace_path(name: str) -> bool:
    """A colon path kcp's plugin accepts: its regex, under ``root`` or ``system``."""
    if not _WORKSPACE_PATH.match(name):
        return False
    top = name.split(":", 1)[0]
    return top in ("root", "system")


@dataclass(frozen=True)
class ClusterURL:
    """A server URL split into the part before ``/clusters/`` and the workspace path."""

    base: str
    """Scheme, host, port and any path prefix before ``/clusters/``; no trailing slash."""
    workspace: str


def parse_cluster_url(server: str) -> ClusterURL | None:
    """The workspace ``server`` points at; None if it does not point at one."""
    scheme, sep, rest = server.partition("://")
    if not sep:
        return None
    slash = rest.find("/")
    if slash < 0:
        return None
    authority, path = rest[:slash], rest[slash:]
    for prefix in _URL_PREFIXES:
        index = path.find(prefix)
        if index >= 0:
            workspace = path[index + len(prefix) :].split("/", 1)[0]
            if not is_workspace_path(workspace):
                return None
            return ClusterURL(f"{scheme}://{authority}{path[:index]}".rstrip("/"), workspace)
    return None


def workspace_url(base: str, workspace: str) -> str:
    """The server URL of ``workspace`` under ``base`` (``<base>/clusters/<workspace>``)."""
    return f"{base.rstrip('/')}/clusters/{workspace}"


def parent_workspace(workspace: str) -> str | None:
    """``root:a:b`` -> ``root:a``; None for a top-level name."""
    parent, sep, _ = workspace.rpartition(":")
    return parent if sep else None


def require_cluster_url(server: str) -> ClusterURL:
    """`parse_cluster_url`, or kcp's error ``current URL ... does not point to ...``."""
    parsed = parse_cluster_url(server)
    if parsed is None:
        raise KubeconfigError(f"current URL {quoted(server)} does not point to cluster workspace")
    return parsed


# --- the edits ------------------------------------------------------------------------------


def switch_workspace(config: Kubeconfig, context: str, server: str) -> Kubeconfig:
    """A copy of ``config`` whose current context talks to ``server`` (``kubectl ws use``).

    Cluster ``workspace.kcp.dev/current`` becomes a copy of the context's cluster with only
    ``server`` replaced; context ``workspace.kcp.dev/current`` a copy of the context (same user
    and namespace) on that cluster; the context itself is kept as ``workspace.kcp.dev/previous``
    (with its cluster copied to cluster ``workspace.kcp.dev/previous`` when it was the current
    workspace's cluster, which is about to change); and it becomes the current context.
    """
    current = config.context(context)
    if current is None:
        raise KubeconfigError(f"current {quoted(context)} context not found")
    cluster_name = str(current.get("cluster", ""))
    old_cluster = require_cluster(config, cluster_name)
    result = config.copy()
    result.set_cluster(CURRENT_KEY, {**old_cluster, "server": server})
    result.set_context(CURRENT_KEY, {**current, "cluster": CURRENT_KEY})
    previous = dict(current)
    if cluster_name == CURRENT_KEY:
        previous["cluster"] = PREVIOUS_KEY
        result.set_cluster(PREVIOUS_KEY, old_cluster)
    result.set_context(PREVIOUS_KEY, previous)
    result.current_context = CURRENT_KEY
    return result


def swap_with_previous(config: Kubeconfig, context: str) -> Kubeconfig:
    """A copy of ``config`` with the current and previous workspaces swapped (``kubectl ws -``)."""
    previous = config.context(PREVIOUS_KEY)
    if previous is None:
        raise KubeconfigError("no previous workspace found in kubeconfig")
    current = config.context(context)
    if current is None:
        raise KubeconfigError(f"current {quoted(context)} context not found")
    result = config.copy()
    new_previous, new_current = dict(current), dict(previous)
    if current.get("cluster") == CURRENT_KEY:
        new_previous["cluster"] = PREVIOUS_KEY
        result.set_cluster(PREVIOUS_KEY, require_cluster(config, CURRENT_KEY))
    if previous.get("cluster") == PREVIOUS_KEY:
        new_current["cluster"] = CURRENT_KEY
        result.set_cluster(CURRENT_KEY, require_cluster(config, PREVIOUS_KEY))
    result.set_context(CURRENT_KEY, new_current)
    result.set_context(PREVIOUS_KEY, new_previous)
    result.current_context = CURRENT_KEY
    return result


def create_context(
    config: Kubeconfig, context: str, name: str | None, *, overwrite: bool
) -> tuple[Kubeconfig, str]:
    """``kubectl ws create-context [name]``: the changed copy and the message to print.

    The context's cluster and context are copied under ``name`` (default: the workspace path)
    and it becomes the current context.
    """
    current = config.context(context)
    if current is None:
        raise KubeconfigError(f"current context {quoted(context)} is not found in kubeconfig")
    cluster_name = str(current.get("cluster", ""))
    cluster = config.cluster(cluster_name)
    if cluster is None:
        raise KubeconfigError(f"current cluster {quoted(cluster_name)} is not found in kubeconfig")
    workspace = require_cluster_url(str(cluster.get("server", ""))).workspace
    name = name or workspace
    existed = config.context(name) is not None
    if existed and not overwrite:
        raise KubeconfigError(
            f"context {quoted(name)} already exists in kubeconfig, use --overwrite to update it"
        )
    result = config.copy()
    result.set_cluster(name, cluster)
    result.set_context(name, {**current, "cluster": name})
    result.current_context = name
    if not existed:
        return result, f"Created context {quoted(name)} and switched to it."
    if config.current_context == name:
        return result, f"Updated context {quoted(name)}."
    return result, f"Updated context {quoted(name)} and switched to it."


# --- credentials ----------------------------------------------------------------------------


def client_config(config: Kubeconfig, context: str) -> ClientConfig:
    """How `restclient` talks to the server of ``context``: TLS settings and credentials.

    File paths in the kubeconfig are relative to the kubeconfig's directory, as in kubectl.
    """
    ctx = require_context(config, context)
    cluster = require_cluster(config, str(ctx.get("cluster", "")))
    user_name = ctx.get("user")
    user = config.user(str(user_name)) if user_name else None
    user = user or {}
    if user.get("exec") or user.get("auth-provider"):
        raise KubeconfigError(
            f"user {quoted(str(user_name))}: exec and auth-provider credential plugins are not "
            "supported by kcp-edge's kubectl plugins; use a token or a client certificate"
        )
    token = _text(config, user, "token", "tokenFile")
    return ClientConfig(
        server=server_of(config, context),
        ca_pem=_bytes(config, cluster, "certificate-authority-data", "certificate-authority"),
        insecure=cluster.get("insecure-skip-tls-verify") in (True, "true"),
        tls_server_name=_str_or_none(cluster.get("tls-server-name")),
        token=token.strip() if token else None,
        client_cert_pem=_bytes(config, user, "client-certificate-data", "client-certificate"),
        client_key_pem=_bytes(config, user, "client-key-data", "client-key"),
        username=_str_or_none(user.get("username")),
        password=_str_or_none(user.get("password")),
    )


def _str_or_none(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _file(config: Kubeconfig, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else config.path.parent / path


def _bytes(
    config: Kubeconfig, entry: Mapping[str, Any], data_key: str, file_key: str
) -> bytes | None:
    """Base64 ``data_key`` or the contents of the file named by ``file_key``; None if neither."""
    data = entry.get(data_key)
    if isinstance(data, str) and data:
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise KubeconfigError(f"{data_key}: illegal base64 data") from None
    name = entry.get(file_key)
    if isinstance(name, str) and name:
        try:
            return _file(config, name).read_bytes()
        except OSError as exc:
            raise KubeconfigError(f"unable to read {file_key} {name}: {exc}") from None
    return None


def _text(config: Kubeconfig, entry: Mapping[str, Any], key: str, file_key: str) -> str | None:
    value = entry.get(key)
    if isinstance(value, str) and value:
        return value
    name = entry.get(file_key)
    if not isinstance(name, str) or not name:
        return None
    try:
        return _file(config, name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise KubeconfigError(f"unable to read {file_key} {name}: {exc}") from None
