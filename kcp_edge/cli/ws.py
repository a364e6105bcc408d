"""``kubectl ws`` (also ``kubectl kcp ws`` / ``kubectl kcp workspace``): moving between workspaces.

Why this module exists: workspaces are only pleasant if switching between them is one short
command, and users follow kcp's walkthroughs, so the plugin behaves and prints as kcp's did in
2022 (kcp-behaviour.md 1.5, 2.3; ``pkg/cliplugins/workspace`` at kcp decced4), plus the later
forms the walkthrough of issue 5 accepts (``:root:org``, ``.``, ``tree``). It edits the user's
kubeconfig through `kubeconfigs` and talks to the server through `restclient`.

Commands (``kubectl ws --help``)::

    kubectl ws [<workspace>|..|-|.|:<absolute>|root:<absolute>]   use (no argument: print current)
    kubectl ws use <same>          kubectl ws cd <same>
    kubectl ws current [--short]
    kubectl ws create <name> [--type T] [--enter] [--ignore-existing]
    kubectl ws create-context [<name>] [--overwrite]
    kubectl ws tree [--full]       kubectl ws list       kubectl ws delete <name> (a hint)
    global flags: --kubeconfig FILE, --context NAME (and $KUBECONFIG, its first file)

Requests the plugin sends (``<c>`` is a workspace path such as ``root:telcops``; all JSON, over
the context's TLS settings and credentials; nothing else is ever requested):

* ``GET /clusters/<c>/apis/tenancy.kcp.dev/v1beta1/workspaces/<name>`` -- ``use <name>``
  (relative), ``create`` (with ``--ignore-existing`` on 409, and polling every 0.5 s for up to
  1 min until Ready). Expects a ``Workspace``: ``spec.type`` (a string such as ``Universal``; a
  ``{name, path}`` reference is printed as ``path:name``), ``status.phase`` (``Ready`` when
  usable) and ``status.URL`` (the workspace's server URL, ``https://host:port/clusters/<c>:<name>``).
  404 with a ``Status`` -> its message is printed (``workspaces.tenancy.kcp.dev "x" not found``).
* ``POST /clusters/<c>/apis/tenancy.kcp.dev/v1beta1/workspaces`` with
  ``{"apiVersion": "tenancy.kcp.dev/v1beta1", "kind": "Workspace", "metadata": {"name": n},
  "spec": {"type": T}}`` (``spec`` is ``{}`` without ``--type``) -- ``create``. Expects 201 with
  the Workspace (``spec.type`` defaulted, any phase); 409 ``AlreadyExists`` for an existing name;
  other failures as a ``Status`` whose message is printed. A 404 *without* a Status (the resource
  is not served there) prints kcp's ``creating a workspace under a universal type workspace is
  not supported``.
* ``GET /clusters/<c>/apis/tenancy.kcp.dev/v1beta1/workspaces`` -- ``tree`` (once per workspace
  in the subtree; a 404 there means "holds no workspaces", e.g. Universal) and ``list``. Expects
  a ``WorkspaceList`` (``items``).

kcp 2022 sent these to its ``workspaces`` virtual workspace (``/services/workspaces/<c>/
personal/...``); kcp-edge serves Workspaces in the parent workspace itself, as kcp's normal
``/clusters/<c>/apis/tenancy.kcp.dev/v1beta1/workspaces`` projection (and later kcp) did.
Absolute targets, ``..`` and ``-`` only rewrite the kubeconfig (no request), as in 2022.

Messages (the 2022 ones where kcp-behaviour.md shows two): ``Current workspace is "root:a".``,
``... (type "Organization").`` after a relative ``use``, ``Current workspace is the URL "..."``,
``Workspace "a" (type "Universal") created. Waiting for being ready.`` (modern kcp: ``(type
root:universal) created. Waiting for it to be ready...``), ``... already exists.``.
Decisions where kcp 2022 was odd: the "created" line is printed even when the answer to the POST
is already Ready (kcp printed nothing then), so the output does not depend on timing; no
``aliased as`` suffix (kcp-edge has no pretty/internal names); ``kubectl ws ~`` (home
workspaces, kcp v0.6-v0.10) is refused with a clear error; an absolute target also works from a
context whose URL has no path (``system:admin``); ``tree`` shows a workspace whose list answers
404 as a leaf (kcp dropped it). ``create --enter`` switches by the absolute path in
``status.URL``, so, as in kcp's 2022 code and docs, its last line has no ``(type ...)``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn, TextIO

from kcp_edge.cli.kubeconfigs import (
    Kubeconfig,
    KubeconfigError,
    client_config,
    context_name,
    create_context,
    is_workspace_path,
    kubeconfig_path,
    parent_workspace,
    parse_cluster_url,
    quoted,
    require_cluster_url,
    server_of,
    swap_with_previous,
    switch_workspace,
    workspace_url,
)
from kcp_edge.cli.restclient import RestClient, RestError
from kcp_edge.cli.workload import run_workload

if TYPE_CHECKING:
    from _typeshed import SupportsWrite

API_VERSION = "tenancy.kcp.dev/v1beta1"
WORKSPACES_API = f"/apis/{API_VERSION}/workspaces"
READY = "Ready"
READY_TIMEOUT = 60.0
"""How long ``create`` waits for Ready (kcp: one minute)."""
POLL_INTERVAL = 0.5
"""How often ``create`` looks while waiting (kcp: 500 ms)."""

HOME_NOT_SUPPORTED = (
    'home workspaces ("kubectl ws ~") are not supported by kcp-edge; '
    'use "kubectl ws use <workspace>" instead'
)
_UNIVERSAL_CANNOT_NEST = "creating a workspace under a universal type workspace is not supported"
_GENERIC_NOT_FOUND = "the server could not find the requested resource"
_DELETE_IS_GONE = (
    'The "delete" command is gone. Please do instead:\n\n'
    "  kubectl delete workspace <workspace-name>"
)
_WS_SUBCOMMANDS = ("ws", "workspace", "workspaces")
_WORKLOAD_SUBCOMMANDS = ("workload", "workloads")
_VALUE_FLAGS = ("--kubeconfig", "--context")


class WsError(ValueError):
    """A ``kubectl ws`` command cannot do what was asked; printed as ``error: <message>``."""


def workspaces_path(workspace: str, name: str | None = None) -> str:
    """The API path of the Workspaces in ``workspace`` (or of the one named ``name``)."""
    path = f"/clusters/{workspace}{WORKSPACES_API}"
    return f"{path}/{urllib.parse.quote(name, safe='')}" if name is not None else path


# --- reading Workspace objects --------------------------------------------------------------


def workspace_type(ws: Mapping[str, Any]) -> str:
    """``spec.type`` as kcp prints it: the string, or ``path:name`` of a type reference."""
    spec = ws.get("spec")
    value = spec.get("type") if isinstance(spec, dict) else None
    if isinstance(value, dict):
        name, path = str(value.get("name", "")), str(value.get("path", ""))
        return f"{path}:{name}" if path else name
    return value if isinstance(value, str) else ""


def _status(ws: Mapping[str, Any], key: str) -> str:
    status = ws.get("status")
    value = status.get(key) if isinstance(status, dict) else None
    return value if isinstance(value, str) else ""


def phase(ws: Mapping[str, Any]) -> str:
    """``status.phase`` ("" if unset)."""
    return _status(ws, "phase")


def url(ws: Mapping[str, Any]) -> str:
    """``status.URL`` ("" if unset)."""
    return _status(ws, "URL")


# --- a session: one kubeconfig, one context, one output -------------------------------------


@dataclasses.dataclass
class Session:
    """What every command works with: the kubeconfig, the context in use and the output."""

    config: Kubeconfig
    context: str
    out: TextIO
    ready_timeout: float = READY_TIMEOUT
    poll_interval: float = POLL_INTERVAL

    @property
    def server(self) -> str:
        return server_of(self.config, self.context)

    def client(self, base: str) -> RestClient:
        """A client for requests under ``base`` with the context's credentials."""
        return RestClient(
            dataclasses.replace(client_config(self.config, self.context), server=base)
        )

    def print(self, line: str) -> None:
        print(line, file=self.out)

    def base(self) -> str:
        """The URL under which ``/clusters/<path>`` are (the server URL before ``/clusters/``)."""
        parsed = parse_cluster_url(self.server)
        if parsed is not None:
            return parsed.base
        split = urllib.parse.urlsplit(self.server)
        if split.path.strip("/"):
            raise WsError(f"current URL {quoted(self.server)} does not point to cluster workspace")
        return f"{split.scheme}://{split.netloc}"

    def current_workspace(self) -> tuple[str, str]:
        """(base URL, workspace path) of the context, or kcp's error."""
        parsed = require_cluster_url(self.server)
        return parsed.base, parsed.workspace


# --- the commands ---------------------------------------------------------------------------


def print_current(session: Session, server: str, *, short: bool = False, ws_type: str = "") -> None:
    """kcp's ``Current workspace is "<path>"[ (type "<T>")].`` for ``server``."""
    parsed = parse_cluster_url(server)
    if parsed is None:
        if not short:
            session.print(f"Current workspace is the URL {quoted(server)}.")
        return
    if short:
        session.print(parsed.workspace)
        return
    message = f"Current workspace is {quoted(parsed.workspace)}"
    if ws_type:
        message += f" (type {quoted(ws_type)})"
    session.print(message + ".")


def use_workspace(session: Session, target: str, *, short: bool = False) -> None:
    """``kubectl ws [use] <target>``: switch the kubeconfig to another workspace."""
    if target in ("", "."):
        print_current(session, session.server, short=short)
        return
    if target == "~" or target.startswith("~:"):
        raise WsError(HOME_NOT_SUPPORTED)
    if target == "-":
        changed = swap_with_previous(session.config, session.context)
        changed.save()
        current = changed.context(changed.current_context) or {}
        cluster = changed.cluster(str(current.get("cluster", ""))) or {}
        print_current(session, str(cluster.get("server", "")), short=short)
        return
    ws_type = ""
    if target == "..":
        base, workspace = session.current_workspace()
        parent = parent_workspace(workspace)
        if parent is None:
            if workspace == "root":
                raise WsError(f"current workspace is {quoted(workspace)}")
            raise WsError(f"current workspace {quoted(workspace)} has no parent")
        server = workspace_url(base, parent)
    elif target.startswith(":") or ":" in target or target == "root":
        absolute = target[1:] if target.startswith(":") else target
        absolute = absolute or "root"
        if not is_workspace_path(absolute):
            raise WsError(f"invalid workspace name format: {target}")
        server = workspace_url(session.base(), absolute)
    else:
        base, workspace = session.current_workspace()
        ws = session.client(base).get(workspaces_path(workspace, target))
        if phase(ws) != READY or not url(ws):
            raise WsError(f"workspace {quoted(target)} is not ready")
        server, ws_type = url(ws), workspace_type(ws)
    switch_workspace(session.config, session.context, server).save()
    print_current(session, server, short=short, ws_type=ws_type)


def create_workspace(
    session: Session, name: str, *, ws_type: str, enter: bool, ignore_existing: bool
) -> None:
    """``kubectl ws create``: POST the Workspace, wait for Ready, optionally enter it."""
    base, workspace = session.current_workspace()
    client = session.client(base)
    body: dict[str, Any] = {
        "apiVersion": API_VERSION,
        "kind": "Workspace",
        "metadata": {"name": name},
        "spec": {"type": ws_type} if ws_type else {},
    }
    existed = False
    try:
        ws = client.post(workspaces_path(workspace), body)
    except RestError as exc:
        if exc.code == 404 and exc.message == _GENERIC_NOT_FOUND:
            raise WsError(_UNIVERSAL_CANNOT_NEST) from None
        if not (exc.code == 409 and exc.reason == "AlreadyExists" and ignore_existing):
            raise
        existed = True
        ws = client.get(workspaces_path(workspace, name))
    reference = f"Workspace {quoted(name)} (type {quoted(workspace_type(ws))})"
    ready = phase(ws) == READY
    if existed:
        if ws_type and workspace_type(ws) != ws_type:
            raise WsError(
                f"workspace {quoted(name)} already exists with different type "
                f"{quoted(workspace_type(ws))}"
            )
        waiting = " Waiting for being ready." if not ready and session.ready_timeout > 0 else ""
        session.print(f"{reference} already exists.{waiting}")
    elif session.ready_timeout > 0:
        session.print(f"{reference} created. Waiting for being ready.")
    elif not ready:
        raise WsError(
            f"workspace {quoted(name)} (type {quoted(workspace_type(ws))}) created but not ready"
        )
    if not ready:
        ws = _wait_until_ready(session, client, workspaces_path(workspace, name))
    if enter:
        parsed = parse_cluster_url(url(ws))
        if parsed is None:
            raise WsError(f"workspace {quoted(name)} has no usable URL: {quoted(url(ws))}")
        use_workspace(session, parsed.workspace)


def _wait_until_ready(session: Session, client: RestClient, path: str) -> dict[str, Any]:
    deadline = time.monotonic() + session.ready_timeout
    while True:
        ws = client.get(path)
        if phase(ws) == READY:
            return ws
        if time.monotonic() + session.poll_interval > deadline:
            raise WsError("timed out waiting for the condition")
        time.sleep(session.poll_interval)


def tree(session: Session, *, full: bool) -> None:
    """``kubectl ws tree``: the current workspace and everything below it, kcp's tree drawing."""
    server = session.server
    parsed = parse_cluster_url(server)
    if parsed is None:
        raise WsError(f"current config context URL {quoted(server)} does not point to workspace")
    client = session.client(parsed.base)
    lines = ["."]
    _branch(client, parsed.workspace, lines, prefix="", last=True, full=full)
    # kcp printed treeprint's string (which ends in a newline) with Println: one blank line.
    session.print("\n".join(lines) + "\n")


def _branch(
    client: RestClient, workspace: str, lines: list[str], *, prefix: str, last: bool, full: bool
) -> None:
    label = workspace if full else workspace.rsplit(":", 1)[-1]
    lines.append(f"{prefix}{'└── ' if last else '├── '}{label}")
    children = _child_workspaces(client, workspace)
    inner = prefix + ("    " if last else "│   ")
    for i, child in enumerate(children):
        _branch(client, child, lines, prefix=inner, last=i == len(children) - 1, full=full)


def _child_workspaces(client: RestClient, workspace: str) -> list[str]:
    try:
        listed = client.get(workspaces_path(workspace))
    except RestError as exc:
        if exc.code == 404:  # a workspace that cannot hold workspaces (Universal)
            return []
        raise
    children = []
    for item in _items(listed):
        parsed = parse_cluster_url(url(item))
        metadata = item.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else None
        if parsed is not None:
            children.append(parsed.workspace)
        elif isinstance(name, str) and name:
            children.append(f"{workspace}:{name}")
    return children


def _items(listed: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = listed.get("items")
    return [i for i in items if isinstance(i, dict)] if isinstance(items, list) else []


def list_workspaces(session: Session) -> None:
    """``kubectl ws list``: the Workspaces of the current workspace, NAME TYPE PHASE URL."""
    base, workspace = session.current_workspace()
    rows = [["NAME", "TYPE", "PHASE", "URL"]]
    for item in _items(session.client(base).get(workspaces_path(workspace))):
        metadata = item.get("metadata")
        name = metadata.get("name") if isinstance(metadata, dict) else ""
        rows.append([str(name or ""), workspace_type(item), phase(item), url(item)])
    if len(rows) == 1:
        session.print("No resources found")
        return
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        cells = [cell.ljust(width) for cell, width in zip(row, widths, strict=True)]
        session.print("   ".join(cells).rstrip())


def create_context_command(session: Session, name: str | None, *, overwrite: bool) -> None:
    """``kubectl ws create-context [<name>] [--overwrite]``."""
    changed, message = create_context(session.config, session.context, name, overwrite=overwrite)
    changed.save()
    session.print(message)


# --- argument parsing -----------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """argparse that raises `WsError` (printed as ``error: ...``, exit 1) on bad arguments."""

    out: TextIO | None = None
    """Where ``--help`` goes (default: stdout)."""

    def print_help(self, file: SupportsWrite[str] | None = None) -> None:
        super().print_help(file or self.out)

    def error(self, message: str) -> NoReturn:
        raise WsError(f"{message}\nSee '{self.prog} --help' for usage.")


def _global_flags() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--kubeconfig", metavar="FILE", help="path to the kubeconfig file to use")
    common.add_argument("--context", metavar="NAME", help="the kubeconfig context to use")
    return common


def _parsers(prog: str, out: TextIO) -> dict[str, _Parser]:
    """One parser per command (help goes to ``out``); "" is the bare ``kubectl ws [<target>]``."""
    common = [_global_flags()]
    targets = "<workspace>|..|-|.|:<absolute:path>"
    root = _Parser(
        prog=prog,
        parents=common,
        usage=f"{prog} [use|current|create|create-context|tree|list] [{targets}] [flags]",
        description=(
            "Manages kcp-edge workspaces. Without arguments prints the current workspace; "
            "with one, uses it: a child name, an absolute path (:root:org or root:org), "
            ".. (parent), - (previous) or . (current)."
        ),
        epilog=(
            f"commands: use (alias cd), current, create, create-context, tree, list. "
            f"'{prog} <command> --help' for each."
        ),
    )
    root.add_argument("target", nargs="?", default="", help=targets)
    root.add_argument("--short", action="store_true", help="print only the workspace path")
    use = _Parser(prog=f"{prog} use", parents=common, description="Use the given workspace.")
    use.add_argument("target", help=targets)
    use.add_argument("--short", action="store_true", help="print only the workspace path")
    current = _Parser(
        prog=f"{prog} current", parents=common, description="Print the current workspace."
    )
    current.add_argument("--short", action="store_true", help="print only the workspace path")
    create = _Parser(
        prog=f"{prog} create", parents=common, description="Create a workspace in the current one."
    )
    create.add_argument("name")
    create.add_argument("--type", default="", help="workspace type (default: Universal)")
    create.add_argument("--enter", action="store_true", help="enter the workspace once ready")
    create.add_argument("--use", dest="enter", action="store_true", help=argparse.SUPPRESS)
    create.add_argument(
        "--ignore-existing", action="store_true", help="do not fail if the workspace exists"
    )
    create_ctx = _Parser(
        prog=f"{prog} create-context",
        parents=common,
        description="Create a kubeconfig context for the current workspace and switch to it.",
    )
    create_ctx.add_argument("name", nargs="?", default=None)
    create_ctx.add_argument("--overwrite", action="store_true", help="update an existing context")
    tree_parser = _Parser(
        prog=f"{prog} tree",
        parents=common,
        description="Show the tree below the current workspace.",
    )
    tree_parser.add_argument("-f", "--full", action="store_true", help="show full workspace paths")
    listing = _Parser(prog=f"{prog} list", parents=common, description="List child workspaces.")
    delete = _Parser(prog=f"{prog} delete", parents=common, description="Replaced.")
    delete.add_argument("name")
    parsers = {
        "": root,
        "use": use,
        "cd": use,
        "current": current,
        "create": create,
        "create-context": create_ctx,
        "tree": tree_parser,
        "list": listing,
        "delete": delete,
    }
    for parser in parsers.values():
        parser.out = out
    return parsers


def split_command(args: Sequence[str]) -> tuple[str | None, list[str]]:
    """The first positional word of ``args`` (skipping global flags) and the other args."""
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            if i + 1 < len(args):
                return args[i + 1], [*args[:i], *args[i + 2 :]]
            return None, list(args)
        if arg in _VALUE_FLAGS:
            i += 2
            continue
        if arg.startswith("-") and arg != "-":
            i += 1
            continue
        return arg, [*args[:i], *args[i + 1 :]]
    return None, list(args)


def _run(ns: argparse.Namespace, command: str, session: Session) -> None:
    if command in ("", "use", "cd"):
        use_workspace(session, ns.target, short=ns.short)
    elif command == "current":
        print_current(session, session.server, short=ns.short)
    elif command == "create":
        create_workspace(
            session, ns.name, ws_type=ns.type, enter=ns.enter, ignore_existing=ns.ignore_existing
        )
    elif command == "create-context":
        create_context_command(session, ns.name, overwrite=ns.overwrite)
    elif command == "tree":
        tree(session, full=ns.full)
    elif command == "list":
        list_workspaces(session)


def run_ws(
    prog: str,
    args: list[str],
    *,
    env: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
    ready_timeout: float = READY_TIMEOUT,
    poll_interval: float = POLL_INTERVAL,
) -> int:
    """``kubectl ws ...`` (``prog`` is the program name, e.g. ``kubectl-ws``); the exit code."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    display = _display_name(prog)
    parsers = _parsers(display, out)
    word, rest = split_command(args)
    command = word if word in parsers and word else ""
    try:
        ns = parsers[command].parse_args(rest if command else args)
        if command == "delete":
            print(_DELETE_IS_GONE, file=out)
            return 0
        environment = os.environ if env is None else env
        path = kubeconfig_path(ns.kubeconfig, environment)
        config = Kubeconfig.load(path, must_exist=bool(ns.kubeconfig))
        session = Session(
            config=config,
            context=context_name(config, ns.context),
            out=out,
            ready_timeout=ready_timeout,
            poll_interval=poll_interval,
        )
        _run(ns, command, session)
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    except (WsError, KubeconfigError, RestError) as exc:
        print(f"error: {exc}", file=err)
        return 1
    return 0


def run_kcp_plugin(
    prog: str,
    args: list[str],
    *,
    env: Mapping[str, str] | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """``kubectl kcp ...``: ``workspace`` (aliases ``ws``, ``workspaces``) and ``workload``
    (alias ``workloads``, `workload.run_workload`)."""
    out, err = stdout or sys.stdout, stderr or sys.stderr
    display = _display_name(prog)
    word, rest = split_command(args)
    if word in _WS_SUBCOMMANDS:
        return run_ws(f"{prog} {word}", rest, env=env, stdout=out, stderr=err)
    if word in _WORKLOAD_SUBCOMMANDS:
        return run_workload(f"{display} {word}", rest, env=env, stdout=out, stderr=err)
    if word is None:
        print(
            f"kcp-edge kubectl plugin.\n\nUsage:\n  {display} [command]\n\n"
            "Available commands:\n  workspace   Manages kcp-edge workspaces (aliases: ws, "
            "workspaces)\n  workload    Manages KCP workload clusters (alias: workloads)\n\n"
            f"Use '{display} <command> --help' for more about a command.",
            file=out,
        )
        return 0
    print(f"error: unknown command {quoted(word)} for {quoted(display)}", file=err)
    return 1


def _display_name(prog: str) -> str:
    """``kubectl-ws`` -> ``kubectl ws`` (how users type it); other names unchanged."""
    return "kubectl " + prog[len("kubectl-") :] if prog.startswith("kubectl-") else prog
