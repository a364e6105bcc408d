"""The admin kubeconfig that ``kcp start`` writes, and reading its token back on restart.

Why this module exists: the first thing a user does after ``kcp start`` is point kubectl at
``<root>/admin.kubeconfig``; it must work as is, with TLS verified against the server's CA and
the admin token. Its shape follows kcp (kcp-behaviour.md 1.3): one user ``admin``; clusters
``cross-cluster`` (``/clusters/*``), ``root``, ``root:default`` and ``system:admin`` (no path);
contexts ``cross-cluster``, ``root``, ``default`` (-> ``root:default``) and ``system:admin``;
current context ``default``. The file is written with mode 0600, atomically, on every start.

Which host the server URLs name (a decision; kcp used the machine's default external address,
which broke with ``--bind-address``, kcp issues #555 and #1452): ``--external-hostname`` if set,
else the bind address unless it is a wildcard (``0.0.0.0``, ``::``), else ``127.0.0.1``. All of
these are SANs of the generated serving certificate.

The YAML is written in kubectl's own block style, strings double-quoted (JSON escaping, valid
YAML) unless plainly safe, in a fixed order so that the file is stable across starts. It is read
back with PyYAML's safe loader: whatever rewrote it since (``kubectl config``, ``kubectl ws``,
an editor, another tool's flow style or comments), the admin token is found again on restart.
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from pathlib import Path

import yaml

from kcp_edge.auth.pki import is_wildcard_address, write_file_atomically

ADMIN_USER = "admin"
DEFAULT_CONTEXT = "default"

_PLAIN = re.compile(r"^[A-Za-z_][A-Za-z0-9._/+=-]*$")
_RESERVED = {"y", "n", "yes", "no", "true", "false", "on", "off", "null"}


def server_host(*, bind_address: str, external_hostname: str | None) -> str:
    """The host name or IP the kubeconfig's server URLs use (see the module docstring)."""
    if external_hostname:
        return external_hostname.strip().strip("[]")
    if not is_wildcard_address(bind_address):
        return bind_address.strip("[]")
    return "127.0.0.1"


def base_url(host: str, port: int) -> str:
    """``https://host:port``, with IPv6 addresses in brackets."""
    try:
        if ipaddress.ip_address(host).version == 6:
            host = f"[{host}]"
    except ValueError:
        pass
    return f"https://{host}:{port}"


def _quote(value: str) -> str:
    if _PLAIN.match(value) and value.lower() not in _RESERVED:
        return value
    return json.dumps(value)


def render_admin_kubeconfig(*, server: str, ca_pem: bytes, token: str) -> str:
    """The kubeconfig text; ``server`` is the base URL (``https://host:port``)."""
    ca = base64.b64encode(ca_pem).decode("ascii")
    clusters = [
        ("cross-cluster", f"{server}/clusters/*"),
        ("root", f"{server}/clusters/root"),
        ("root:default", f"{server}/clusters/root:default"),
        ("system:admin", server),
    ]
    contexts = [
        ("cross-cluster", "cross-cluster"),
        ("root", "root"),
        (DEFAULT_CONTEXT, "root:default"),
        ("system:admin", "system:admin"),
    ]
    lines = ["apiVersion: v1", "kind: Config", "clusters:"]
    for name, url in clusters:
        lines += [
            f"- name: {_quote(name)}",
            "  cluster:",
            f"    server: {_quote(url)}",
            f"    certificate-authority-data: {_quote(ca)}",
        ]
    lines.append("contexts:")
    for name, cluster in contexts:
        lines += [
            f"- name: {_quote(name)}",
            "  context:",
            f"    cluster: {_quote(cluster)}",
            f"    user: {_quote(ADMIN_USER)}",
        ]
    lines += [
        f"current-context: {_quote(DEFAULT_CONTEXT)}",
        "users:",
        f"- name: {_quote(ADMIN_USER)}",
        "  user:",
        f"    token: {_quote(token)}",
        "preferences: {}",
    ]
    return "\n".join(lines) + "\n"


def write_admin_kubeconfig(path: Path, *, server: str, ca_pem: bytes, token: str) -> None:
    """Write the admin kubeconfig to ``path`` (mode 0600, atomically)."""
    text = render_admin_kubeconfig(server=server, ca_pem=ca_pem, token=token)
    write_file_atomically(path, text.encode("utf-8"), mode=0o600)


def read_user_token(path: Path, *, user: str = ADMIN_USER) -> str | None:
    """The bearer token of ``user`` in the kubeconfig at ``path``; None if there is none.

    A missing or unreadable file, or one this reader does not understand, counts as "none".
    """
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    try:
        doc = yaml.safe_load(text)  # JSON is YAML too
    except yaml.YAMLError:
        return None
    users = doc.get("users") if isinstance(doc, dict) else None
    for entry in users if isinstance(users, list) else []:
        if isinstance(entry, dict) and entry.get("name") == user:
            info = entry.get("user")
            token = info.get("token") if isinstance(info, dict) else None
            return token if isinstance(token, str) and token else None
    return None
