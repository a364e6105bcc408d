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

The YAML is written by hand (PyYAML is not a dependency): block style, strings double-quoted
(JSON escaping, valid YAML) unless plainly safe. Reading back accepts JSON and the block-style
YAML subset that kubectl itself writes, enough to find the admin user's token after kubectl has
rewritten the file (``kubectl config ...``, ``kubectl ws``).
"""

from __future__ import annotations

import base64
import ipaddress
import json
import re
from pathlib import Path

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
        doc = json.loads(text) if text.lstrip().startswith("{") else _BlockYaml(text).document()
    except ValueError:
        return None
    users = doc.get("users") if isinstance(doc, dict) else None
    for entry in users if isinstance(users, list) else []:
        if isinstance(entry, dict) and entry.get("name") == user:
            info = entry.get("user")
            token = info.get("token") if isinstance(info, dict) else None
            return token if isinstance(token, str) and token else None
    return None


class _BlockYaml:
    """A reader for block-style YAML with string scalars: what kubeconfigs look like.

    Mappings, sequences (also "- " at the parent key's indent), plain, quoted and block scalars,
    ``{}``/``[]``, comments. Anything else raises ValueError. Scalars stay strings.
    """

    def __init__(self, text: str) -> None:
        self.lines: list[tuple[int, str]] = []
        for raw in text.splitlines():
            body = raw.strip(" ")
            if body.startswith("\t") or "\t" in raw[: len(raw) - len(raw.lstrip())]:
                raise ValueError("tabs in indentation")
            if body and not body.startswith("#") and body not in ("---", "..."):
                self.lines.append((len(raw) - len(raw.lstrip(" ")), body.rstrip()))
        self.i = 0

    def document(self) -> object:
        value = self._node(0) if self.lines else None
        if self.i != len(self.lines):
            raise ValueError(f"unexpected content at line {self.i + 1}")
        return value

    def _node(self, indent: int) -> object:
        line_indent, text = self.lines[self.i]
        if line_indent < indent:
            return None
        if text == "-" or text.startswith("- "):
            return self._sequence(line_indent)
        return self._mapping(line_indent)

    def _sequence(self, indent: int) -> list[object]:
        items: list[object] = []
        while self.i < len(self.lines):
            line_indent, text = self.lines[self.i]
            if line_indent != indent or not (text == "-" or text.startswith("- ")):
                if line_indent > indent:
                    raise ValueError(f"bad indentation at line {self.i + 1}")
                break
            rest = text[1:].lstrip(" ")
            if not rest:
                self.i += 1
                items.append(self._child(indent))
            elif rest.startswith("- ") or _key_value(rest) is not None:
                self.lines[self.i] = (indent + len(text) - len(rest), rest)
                items.append(self._node(indent + 1))
            else:
                self.i += 1
                items.append(self._scalar(rest, indent))
        return items

    def _mapping(self, indent: int) -> dict[str, object]:
        result: dict[str, object] = {}
        while self.i < len(self.lines):
            line_indent, text = self.lines[self.i]
            if line_indent < indent or (text == "-" or text.startswith("- ")):
                break
            pair = _key_value(text) if line_indent == indent else None
            if pair is None:
                raise ValueError(f"expected a mapping key at line {self.i + 1}")
            key, value = pair
            self.i += 1
            result[key] = self._child(indent) if not value else self._scalar(value, indent)
        return result

    def _child(self, indent: int) -> object:
        """The block value under a key (or a bare "-") at ``indent``, if any."""
        if self.i >= len(self.lines):
            return None
        line_indent, text = self.lines[self.i]
        if line_indent > indent or (
            line_indent == indent and (text == "-" or text.startswith("- "))
        ):
            return self._node(line_indent)
        return None

    def _scalar(self, value: str, indent: int) -> object:
        if value[0] in "|>":  # block scalar: the deeper lines that follow
            parts = []
            while self.i < len(self.lines) and self.lines[self.i][0] > indent:
                parts.append(self.lines[self.i][1])
                self.i += 1
            return ("\n" if value[0] == "|" else " ").join(parts)
        return _flow_scalar(value)


def _flow_scalar(value: str) -> object:
    if value.startswith('"'):
        end = _closing_quote(value)
        decoded: str = json.loads(value[: end + 1])
        return decoded
    if value.startswith("'"):
        end = _closing_quote(value)
        return value[1:end].replace("''", "'")
    value = value.split(" #", 1)[0].rstrip()
    if value in ("{}", "[]"):
        return {} if value == "{}" else []
    if value in ("null", "~", "Null", "NULL"):
        return None
    return value


def _closing_quote(value: str) -> int:
    quote, i = value[0], 1
    while i < len(value):
        if quote == '"' and value[i] == "\\":
            i += 2
            continue
        if value[i] == quote:
            if quote == "'" and value[i + 1 : i + 2] == "'":
                i += 2
                continue
            return i
        i += 1
    raise ValueError("unterminated quoted string")


def _key_value(text: str) -> tuple[str, str] | None:
    """Split ``key: value`` (value may be empty); None if ``text`` is not a mapping entry."""
    if text[0] in "\"'":
        end = _closing_quote(text)
        key_obj, after = _flow_scalar(text[: end + 1]), text[end + 1 :]
        if not after.startswith(":") or (len(after) > 1 and after[1] != " "):
            return None
        return str(key_obj), after[1:].strip()
    match = re.match(r"^([^#{\[][^#]*?):(?: +(.*))?$", text)
    if match is None:
        return None
    return match.group(1).rstrip(), (match.group(2) or "").strip()
