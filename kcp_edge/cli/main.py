"""The entry point of every command line kcp-edge ships, and the ``kcp`` command line itself.

Why this module exists: the single file is installed (or symlinked) under several names, and the
name it runs as picks the command line, as busybox does: ``kcp``/``kcp-edge`` (and ``python -m
kcp_edge``, any other name) get the kcp commands; ``kubectl-ws`` and ``kubectl-kcp`` are the
kubectl plugins (``ws.py``; also ``kubectl-workspaces``, as kcp shipped). `PROGRAMS` is the
dispatch table.
The flags of ``kcp start`` are parsed and checked here into `StartOptions`; ``start.py`` runs
the server from them.
"""

from __future__ import annotations

import argparse
import ipaddress
import sys
from collections.abc import Callable
from pathlib import Path, PurePath

from kcp_edge.apimachinery.schemaformats import parse_go_duration
from kcp_edge.auth.pki import PkiError, host_name
from kcp_edge.cli.plugins import add_install_arguments, run_install_plugins
from kcp_edge.cli.start import DEFAULT_FAILED_AUTH_LIMIT, StartError, StartOptions, run_start
from kcp_edge.cli.ws import run_kcp_plugin, run_ws
from kcp_edge.server.version import GIT_VERSION, go_style_platform, version_info
from kcp_edge.version import __version__

_IN_ROOT = "relative to the root directory"

Program = Callable[[str, list[str]], int]
"""A command line: called with its program name and the arguments; returns the exit code."""


def program_name(argv0: str) -> str:
    """The name a program runs as: ``/usr/bin/kubectl-ws.pyz`` -> ``kubectl-ws``."""
    name = PurePath(argv0).name
    for suffix in (".pyz", ".py"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def _exit_code(exc: SystemExit) -> int:
    if exc.code is None:
        return 0
    if isinstance(exc.code, int):
        return exc.code
    print(exc.code, file=sys.stderr)
    return 1


def add_start_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of ``kcp start``; names and defaults follow kcp's."""
    flag = parser.add_argument
    flag(
        "--root-directory",
        metavar="DIR",
        default=".kcp",
        help="directory of all state, created mode 0700 (default: .kcp)",
    )
    flag(
        "--bind-address",
        metavar="IP",
        default="0.0.0.0",  # noqa: S104 - kcp's default: every interface
        help="address to listen on (default: 0.0.0.0, every interface)",
    )
    flag(
        "--secure-port",
        metavar="PORT",
        type=int,
        default=6443,
        help="HTTPS port (default: 6443; 0 picks a free one)",
    )
    flag(
        "--external-hostname",
        metavar="HOST",
        help="host name or IP clients reach the server by (kubeconfig URLs, certificate SAN)",
    )
    flag(
        "--kubeconfig-path",
        metavar="PATH",
        default="admin.kubeconfig",
        help=f"admin kubeconfig to write, {_IN_ROOT} (default: admin.kubeconfig)",
    )
    flag(
        "--authentication-admin-token-path",
        metavar="PATH",
        default=".admin-token-store",
        help=f"SHA-256 of the admin token, {_IN_ROOT} (default: .admin-token-store)",
    )
    flag(
        "--cert-dir",
        metavar="DIR",
        help="generated CA and serving certificate (default: <root directory>/certs)",
    )
    flag(
        "--token-auth-file",
        metavar="FILE",
        help='static bearer tokens, one user per line: token,user,uid,"group1,group2"',
    )
    flag(
        "--client-ca-file",
        metavar="FILE",
        help="PEM bundle of CAs for client certificates: CN is the user, O entries its groups",
    )
    flag(
        "--failed-auth-limit",
        metavar="N",
        type=int,
        default=DEFAULT_FAILED_AUTH_LIMIT,
        help="failed authentications per minute per client address before 429 "
        f"(default: {DEFAULT_FAILED_AUTH_LIMIT}; 0: no limit)",
    )
    flag("--tls-cert-file", metavar="FILE", help="serve this PEM certificate (or chain) instead")
    flag("--tls-private-key-file", metavar="FILE", help="the PEM private key of --tls-cert-file")
    flag(
        "--storage-compaction-interval",
        metavar="SECONDS",
        type=float,
        default=300.0,
        help="how often history is compacted (default: 300, as kube-apiserver's etcd compaction)",
    )
    flag(
        "--storage-history-revisions",
        metavar="N",
        type=int,
        default=10_000,
        help="revisions of history kept for watches and paged lists (default: 10000)",
    )
    flag(
        "--workload-cluster-heartbeat-threshold",
        metavar="DURATION",
        default="1m",
        help="time without a syncer heartbeat after which a workload cluster is not Ready "
        "(a Go duration such as 30s or 1m; default: 1m)",
    )
    flag("-v", "--v", dest="verbosity", metavar="N", type=int, default=2, help="log verbosity (2)")


def options_from_namespace(ns: argparse.Namespace) -> StartOptions:
    """Check and resolve the parsed flags."""
    root = Path(ns.root_directory).expanduser().absolute()
    try:
        ipaddress.ip_address(ns.bind_address.strip("[]"))
    except ValueError:
        raise StartError(f"--bind-address {ns.bind_address!r} is not an IP address") from None
    if not 0 <= ns.secure_port <= 65535:
        raise StartError(f"--secure-port {ns.secure_port} is not a port number")
    if ns.external_hostname:
        try:
            host_name(ns.external_hostname)
        except PkiError as exc:
            raise StartError(f"--external-hostname: {exc}") from None
    if ns.storage_compaction_interval <= 0:
        raise StartError("--storage-compaction-interval must be positive")
    if ns.storage_history_revisions < 1:
        raise StartError("--storage-history-revisions must be at least 1")
    if ns.failed_auth_limit < 0:
        raise StartError("--failed-auth-limit must not be negative (0: no limit)")
    if bool(ns.tls_cert_file) != bool(ns.tls_private_key_file):
        raise StartError("--tls-cert-file and --tls-private-key-file go together")
    try:
        heartbeat_threshold = parse_go_duration(ns.workload_cluster_heartbeat_threshold)
    except ValueError as exc:
        raise StartError(f"--workload-cluster-heartbeat-threshold: {exc}") from None
    if heartbeat_threshold <= 0:
        raise StartError("--workload-cluster-heartbeat-threshold must be positive")
    return StartOptions(
        root_directory=root,
        bind_address=ns.bind_address.strip("[]"),
        secure_port=ns.secure_port,
        external_hostname=ns.external_hostname or None,
        kubeconfig_path=root / Path(ns.kubeconfig_path).expanduser(),
        admin_token_path=root / Path(ns.authentication_admin_token_path).expanduser(),
        cert_dir=Path(ns.cert_dir).expanduser().absolute() if ns.cert_dir else root / "certs",
        tls_cert_file=_optional_path(ns.tls_cert_file),
        tls_private_key_file=_optional_path(ns.tls_private_key_file),
        token_auth_file=_optional_path(ns.token_auth_file),
        client_ca_file=_optional_path(ns.client_ca_file),
        failed_auth_limit=ns.failed_auth_limit,
        compaction_interval=ns.storage_compaction_interval,
        history_revisions=ns.storage_history_revisions,
        verbosity=ns.verbosity,
        heartbeat_threshold=heartbeat_threshold,
    )


def _optional_path(value: str | None) -> Path | None:
    return Path(value).expanduser() if value else None


def _kcp_parsers(prog: str) -> tuple[argparse.ArgumentParser, argparse.ArgumentParser]:
    parser = argparse.ArgumentParser(
        prog=prog,
        description="kcp-edge: a kcp-style multi-tenant Kubernetes control plane for edge fleets.",
    )
    parser.add_argument("--version", action="version", version=f"kcp-edge {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    start = commands.add_parser(
        "start",
        help="run the control plane",
        description=(
            "Run the kcp-edge control plane: it serves HTTPS on port 6443 and keeps its state "
            "in .kcp in the current directory unless told otherwise. "
            "'start options' prints all flags."
        ),
    )
    add_start_arguments(start)
    start.add_argument(
        "start_command",
        nargs="?",
        choices=["options"],
        metavar="options",
        help="print all flags of 'start' and exit",
    )
    commands.add_parser("version", help="print the version of kcp-edge")
    commands.add_parser(
        "syncer",
        help="run the sync engine for one workload cluster (pull mode; 'syncer --help')",
        add_help=False,
    )
    add_install_arguments(
        commands.add_parser(
            "install-plugins", help="symlink the kubectl plugins (kubectl ws, kcp) to this file"
        )
    )
    return parser, start


def run_kcp(prog: str, args: list[str]) -> int:
    """``kcp``: start the server, print its flags or its version."""
    parser, start = _kcp_parsers("kcp" if prog in ("", "__main__") else prog)
    if args[:1] == ["syncer"]:
        from syncer.main import run_syncer  # noqa: PLC0415 - only the syncer pays for it

        return run_syncer(f"{parser.prog} syncer", args[1:])
    try:
        ns = parser.parse_args(args)
    except SystemExit as exc:  # --help, --version and usage errors
        return _exit_code(exc)
    if ns.command == "version":
        info = version_info()
        print(
            f"kcp-edge {__version__} (serves Kubernetes {GIT_VERSION}; commit {info['gitCommit']}, "
            f"built {info['buildDate']}, {info['goVersion']} {go_style_platform()})"
        )
        return 0
    if ns.command == "install-plugins":
        return run_install_plugins(ns)
    if ns.command == "start":
        if ns.start_command == "options":
            print(start.format_help(), end="")
            return 0
        try:
            options = options_from_namespace(ns)
        except StartError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        return run_start(options)
    parser.print_help()
    return 0


PROGRAMS: dict[str, Program] = {
    "kcp": run_kcp,
    "kcp-edge": run_kcp,
    "__main__": run_kcp,
    "kubectl-ws": run_ws,
    "kubectl-workspaces": run_ws,
    "kubectl-kcp": run_kcp_plugin,
}
"""Program name -> command line; any name not listed gets `run_kcp`."""


def main(argv: list[str] | None = None, *, prog: str | None = None) -> int:
    """Run the command line chosen by ``prog`` (default: ``sys.argv[0]``) with ``argv``.

    ``argv`` are the arguments after the program name (default: ``sys.argv[1:]``).
    """
    name = program_name(prog if prog is not None else (sys.argv[0] if sys.argv else "kcp"))
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        return PROGRAMS.get(name, run_kcp)(name, args)
    except KeyboardInterrupt:  # Ctrl-C before the server took over the signal
        return 130
