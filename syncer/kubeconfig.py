"""Where a Kubernetes API server is and how to authenticate to it, read from a kubeconfig.

Why this module exists: the sync engine talks to two API servers (kcp upstream, the edge
cluster downstream) through its own client (`syncer.kubeclient`), not the ``kubernetes``
package, so it needs its own reading of the two usual sources of connection settings, as
client-go's ``clientcmd`` and ``rest.InClusterConfig`` read them:

* `load_kubeconfig`: one context of a kubeconfig file (its ``current-context`` by default).
  File paths in it (``certificate-authority``, ``client-certificate``, ``client-key``,
  ``tokenFile``) are relative to the kubeconfig's directory. Credential plugins (``exec``,
  ``auth-provider``) and basic auth are refused with a `ConfigError`: the syncer runs
  unattended from a single file and cannot run them.
* `in_cluster_config`: the pod's service account, whose bound token rotates, so it is kept as
  a ``token_file`` for the client to re-read.
* `kubeconfig_yaml`: the inverse, a self-contained kubeconfig (data inlined) for a
  `ClientConfig`, e.g. for the syncer's Secret in pull mode.

Every failure is a `ConfigError` whose message names the file and the entry at fault.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


@dataclass(frozen=True)
class ClientConfig:
    """One API server and the credentials for it: a kubeconfig context, resolved."""

    server: str
    """``https://host:port`` with an optional path (``/clusters/root:org``), no trailing ``/``."""
    ca_pem: bytes | None = None
    """The CA bundle to trust (and only it); None: the system's trust store."""
    insecure: bool = False
    tls_server_name: str | None = None
    token: str | None = field(default=None, repr=False)
    token_file: str | None = None
    """Re-read by the client when its copy is older than 60 s; wins over ``token``."""
    client_cert_pem: bytes | None = None
    client_key_pem: bytes | None = field(default=None, repr=False)
    namespace: str | None = None


class ConfigError(ValueError):
    """The connection settings cannot be read or used; the message is meant for the user."""


def _quoted(value: str) -> str:
    return json.dumps(value, ensure_ascii=False)


def normalized_server(server: object, where: str) -> str:
    """``server`` checked to be an http(s) URL with a host, without its trailing ``/``."""
    if not isinstance(server, str) or not server:
        raise ConfigError(f"{where}: no server defined")
    url = urlsplit(server)
    if url.scheme not in ("https", "http") or not url.hostname or url.query or url.fragment:
        raise ConfigError(f"{where}: invalid server URL {_quoted(server)}")
    return server.rstrip("/")


# --- kubeconfig files ------------------------------------------------------------------------


def load_kubeconfig(path: str | Path, context: str | None = None) -> ClientConfig:
    """The settings of ``context`` (default: ``current-context``) in the kubeconfig ``path``."""
    file = Path(path).expanduser()
    doc = _read_document(file)
    where = f"kubeconfig {file}"
    name = context or doc.get("current-context")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{where}: no context given and no current-context set")
    ctx = _entry(doc, "contexts", "context", name, where)
    if ctx is None:
        raise ConfigError(f"{where}: context {_quoted(name)} not found")
    cluster_name = str(ctx.get("cluster") or "")
    cluster = _entry(doc, "clusters", "cluster", cluster_name, where)
    if cluster is None:
        message = f"cluster {_quoted(cluster_name)} of context {_quoted(name)} not found"
        raise ConfigError(f"{where}: {message}")
    user_name = str(ctx.get("user") or "")
    user = _entry(doc, "users", "user", user_name, where) if user_name else {}
    if user is None:
        raise ConfigError(
            f"{where}: user {_quoted(user_name)} of context {_quoted(name)} not found"
        )
    _refuse_unsupported(user, f"{where}: user {_quoted(user_name)}")
    namespace = ctx.get("namespace")
    return ClientConfig(
        server=normalized_server(
            cluster.get("server"), f"{where}: cluster {_quoted(cluster_name)}"
        ),
        ca_pem=_data(file, cluster, "certificate-authority", where),
        insecure=_insecure(cluster, f"{where}: cluster {_quoted(cluster_name)}"),
        tls_server_name=_string(cluster.get("tls-server-name")),
        token=_string(user.get("token")),
        token_file=_path_string(file, user.get("tokenFile")),
        client_cert_pem=_data(file, user, "client-certificate", where),
        client_key_pem=_data(file, user, "client-key", where),
        namespace=namespace if isinstance(namespace, str) and namespace else None,
    )


def _read_document(file: Path) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"kubeconfig {file}: cannot read it: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"kubeconfig {file}: not valid YAML: {exc}") from None
    if not isinstance(doc, dict):
        raise ConfigError(f"kubeconfig {file}: not a mapping")
    return doc


def _entry(
    doc: Mapping[str, Any], section: str, key: str, name: str, where: str
) -> dict[str, Any] | None:
    entries = doc.get(section) or []
    if not isinstance(entries, list):
        raise ConfigError(f"{where}: {section!r} is not a list")
    for entry in entries:
        if isinstance(entry, dict) and entry.get("name") == name:
            value = entry.get(key) or {}
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: {key} {_quoted(name)} is not a mapping")
            return value
    return None


def _refuse_unsupported(user: Mapping[str, Any], where: str) -> None:
    for key, what in (
        ("exec", "an exec credential plugin"),
        ("auth-provider", "an auth-provider plugin"),
        ("username", "basic authentication"),
    ):
        if user.get(key):
            raise ConfigError(
                f"{where} uses {what}, which the syncer does not support; "
                "use a token, a token file or a client certificate"
            )
    has_cert = user.get("client-certificate-data") or user.get("client-certificate")
    if has_cert and not (user.get("client-key-data") or user.get("client-key")):
        raise ConfigError(f"{where}: client-certificate given without client-key")


def _insecure(cluster: Mapping[str, Any], where: str) -> bool:
    insecure = cluster.get("insecure-skip-tls-verify") in (True, "true")
    if insecure and (
        cluster.get("certificate-authority-data") or cluster.get("certificate-authority")
    ):
        raise ConfigError(
            f"{where}: specifying a root certificates file with the insecure flag is not allowed"
        )
    return insecure


def _string(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _resolve(file: Path, value: str) -> Path:
    path = Path(value).expanduser()
    return path if path.is_absolute() else file.parent / path


def _path_string(file: Path, value: object) -> str | None:
    return str(_resolve(file, value)) if isinstance(value, str) and value else None


def _data(file: Path, entry: Mapping[str, Any], key: str, where: str) -> bytes | None:
    """``<key>-data`` (base64) or the contents of the file ``<key>`` names; None if neither."""
    data = entry.get(f"{key}-data")
    if isinstance(data, str) and data:
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{where}: {key}-data is not valid base64") from None
    name = entry.get(key)
    if not isinstance(name, str) or not name:
        return None
    try:
        return _resolve(file, name).read_bytes()
    except OSError as exc:
        raise ConfigError(f"{where}: cannot read {key} {name}: {exc}") from None


# --- in a pod --------------------------------------------------------------------------------


def in_cluster_config(*, directory: Path = SERVICE_ACCOUNT_DIR) -> ClientConfig:
    """The pod's own API server and service account (client-go's ``rest.InClusterConfig``)."""
    host = os.environ.get("KUBERNETES_SERVICE_HOST", "")
    port = os.environ.get("KUBERNETES_SERVICE_PORT", "")
    if not host:
        raise ConfigError("not running in a cluster: KUBERNETES_SERVICE_HOST is not set")
    if not port:
        raise ConfigError("not running in a cluster: KUBERNETES_SERVICE_PORT is not set")
    token_file = directory / "token"
    if not token_file.is_file():
        raise ConfigError(f"in-cluster configuration: no service account token at {token_file}")
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return ClientConfig(
        server=normalized_server(f"https://{host}:{port}", "in-cluster configuration"),
        ca_pem=_optional_bytes(directory / "ca.crt"),
        token_file=str(token_file),
        namespace=(_optional_bytes(directory / "namespace") or b"")
        .decode("utf-8", "replace")
        .strip()
        or None,
    )


def _optional_bytes(path: Path) -> bytes | None:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"in-cluster configuration: cannot read {path}: {exc}") from None


# --- writing ---------------------------------------------------------------------------------


def kubeconfig_yaml(
    config: ClientConfig,
    *,
    cluster_name: str = "default-cluster",
    context_name: str = "default-context",
    user_name: str = "default-user",
) -> str:
    """A kubeconfig with one cluster, user and context for ``config``, data inlined (base64)."""
    cluster: dict[str, Any] = {"server": config.server}
    if config.ca_pem is not None:
        cluster["certificate-authority-data"] = _b64(config.ca_pem)
    if config.insecure:
        cluster["insecure-skip-tls-verify"] = True
    if config.tls_server_name:
        cluster["tls-server-name"] = config.tls_server_name
    user: dict[str, Any] = {}
    if config.token:
        user["token"] = config.token
    if config.token_file:
        user["tokenFile"] = config.token_file
    if config.client_cert_pem is not None:
        user["client-certificate-data"] = _b64(config.client_cert_pem)
    if config.client_key_pem is not None:
        user["client-key-data"] = _b64(config.client_key_pem)
    context: dict[str, Any] = {"cluster": cluster_name, "user": user_name}
    if config.namespace:
        context["namespace"] = config.namespace
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": cluster_name, "cluster": cluster}],
        "users": [{"name": user_name, "user": user}],
        "contexts": [{"name": context_name, "context": context}],
        "current-context": context_name,
    }
    return yaml.safe_dump(doc, default_flow_style=False, sort_keys=False)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")
