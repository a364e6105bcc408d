"""``kcp install-plugins [DIR] [--force]``: the kubectl plugins as symlinks to the single file.

Why this module exists: kubectl runs a plugin ``kubectl-<name>`` found on ``PATH``, and the
single file answers as whatever name it runs as (``cli/main.py``), so installing the plugins is
making ``kubectl-ws``, ``kubectl-kcp`` and ``kubectl-workspaces`` symlinks to it. Doing that by
hand is three ``ln -s`` with an absolute path that is easy to get wrong; this is one command.

Rules:

* The target is the running single file: ``sys.argv[0]`` when it is a zip archive with a
  ``__main__.py`` (as shiv's bootstrap itself finds its archive), resolved to an absolute path
  without symlinks, so ``kcp install-plugins`` run through a ``kcp`` symlink links to the pyz.
  From a source checkout (``python -m kcp_edge``, a console script) there is no file to link to:
  the command refuses with `NOT_SINGLE_FILE`.
* ``DIR`` defaults to ``~/.local/bin`` (on ``PATH`` in most distributions' login shells) and is
  created if missing.
* A link that already resolves to the target is left as it is. A symlink that points elsewhere
  (or nowhere) is replaced only with ``--force``; anything that is not a symlink is never
  replaced. Everything is checked before anything is changed, so a refusal changes nothing.
  Each link is made under a temporary name and renamed into place (never a missing plugin).
* Output: one line per link on stdout, ``kubectl-ws -> /opt/kcp-edge.pyz``; on stderr a hint
  when ``DIR`` is not on ``PATH`` or the target is not executable (kubectl executes the link, so
  the pyz needs its execute bit and a ``python3`` on ``PATH`` for its shebang). Failures print
  ``error: ...`` and exit 1.
"""

from __future__ import annotations

import argparse
import os
import sys
import zipfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

PLUGINS = ("kubectl-ws", "kubectl-kcp", "kubectl-workspaces")
"""The names kubectl finds the plugins by; each is a program name `cli.main.PROGRAMS` knows."""

DEFAULT_DIR = "~/.local/bin"
NOT_SINGLE_FILE = "install-plugins works from the single file (kcp-edge.pyz)"


class InstallError(Exception):
    """The plugins cannot be installed; the message says why (printed as ``error: ...``)."""


def add_install_arguments(parser: argparse.ArgumentParser) -> None:
    """The arguments of ``kcp install-plugins``."""
    parser.add_argument(
        "directory",
        nargs="?",
        metavar="DIR",
        default=DEFAULT_DIR,
        help=f"where the symlinks go; a directory on PATH (default: {DEFAULT_DIR})",
    )
    parser.add_argument(
        "--force",
        action="store_true",
        help="replace existing symlinks of these names that point elsewhere",
    )


def single_file(argv0: str) -> Path:
    """The single file the process runs from (absolute, symlinks resolved); else `InstallError`."""
    path = Path(argv0) if argv0 else None
    try:
        if path is None or not path.is_file() or not zipfile.is_zipfile(path):
            raise InstallError(NOT_SINGLE_FILE)
        with zipfile.ZipFile(path) as archive:
            archive.getinfo("__main__.py")
    except (OSError, KeyError, zipfile.BadZipFile):
        raise InstallError(NOT_SINGLE_FILE) from None
    return path.resolve()


@dataclass(frozen=True)
class Link:
    """One plugin symlink to make (``change``) or already in place."""

    name: str
    path: Path
    change: bool


def plan(directory: Path, target: Path, *, force: bool) -> list[Link]:
    """What to do for each plugin; raises `InstallError` (before any change) on a conflict."""
    if directory.exists() and not directory.is_dir():
        raise InstallError(f"{directory} is not a directory")
    links = []
    for name in PLUGINS:
        path = directory / name
        if path.is_symlink():
            if _resolves_to(path, target):
                links.append(Link(name, path, change=False))
                continue
            if not force:
                raise InstallError(
                    f"{path} already links to {path.readlink()}; --force replaces it"
                )
        elif path.exists():
            raise InstallError(f"{path} exists and is not a symlink; remove it first")
        links.append(Link(name, path, change=True))
    return links


def _resolves_to(path: Path, target: Path) -> bool:
    try:
        return path.resolve() == target
    except (OSError, RuntimeError):  # a symlink loop
        return False


def make_link(link: Link, target: Path) -> None:
    """Point ``link.path`` at ``target``: a new symlink renamed over the old name."""
    temporary = link.path.with_name(f".{link.name}.{os.getpid()}.tmp")
    temporary.unlink(missing_ok=True)
    temporary.symlink_to(target)
    try:
        temporary.replace(link.path)
    except OSError:
        temporary.unlink(missing_ok=True)
        raise


def on_path(directory: Path, path_env: str) -> bool:
    """Whether ``directory`` is one of the entries of a ``PATH`` value."""
    wanted = directory.resolve()
    for entry in path_env.split(os.pathsep):
        if entry and Path(entry).expanduser().resolve() == wanted:
            return True
    return False


def install_plugins(
    directory: Path, target: Path, *, force: bool, environ: Mapping[str, str]
) -> list[str]:
    """Install the links; returns the hints for stderr. Raises `InstallError`."""
    links = plan(directory, target, force=force)
    try:
        directory.mkdir(parents=True, exist_ok=True)
        for link in links:
            if link.change:
                make_link(link, target)
    except OSError as exc:
        raise InstallError(f"cannot install the plugins in {directory}: {exc}") from None
    for link in links:
        print(f"{link.name} -> {target}")
    hints = []
    if not on_path(directory, environ.get("PATH", "")):
        hints.append(
            f"note: {directory} is not on PATH, where kubectl looks for plugins; add it: "
            f'export PATH="{directory}:$PATH"'
        )
    if not os.access(target, os.X_OK):
        hints.append(f"note: kubectl runs the plugins only once {target} is executable: chmod +x")
    return hints


def run_install_plugins(
    ns: argparse.Namespace,
    *,
    argv0: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> int:
    """``kcp install-plugins`` from its parsed arguments; returns the exit code."""
    argv: Sequence[str] = sys.argv
    try:
        target = single_file(argv0 if argv0 is not None else (argv[0] if argv else ""))
        directory = Path(ns.directory).expanduser().absolute()
        hints = install_plugins(
            directory, target, force=ns.force, environ=os.environ if environ is None else environ
        )
    except InstallError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for hint in hints:
        print(hint, file=sys.stderr)
    return 0
