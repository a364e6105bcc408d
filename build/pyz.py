#!/usr/bin/env python3
"""Build ``dist/kcp-edge.pyz``: kcp-edge and its runtime dependencies in one executable file.

Why this exists: kcp-edge ships as one file. The server (``kcp start``), the kubectl plugins
(``kubectl-ws``, ``kubectl-kcp``: symlinks to the pyz, dispatched on ``sys.argv[0]``) and the
syncer all run from it, so an edge machine needs only a matching ``python3``. The file is a
shiv zipapp (PEP 441 plus a bootstrap). This script makes the build repeatable on a fresh machine
that has only ``python3`` and pip.

Steps:

1. Find shiv 1.0.8: the running interpreter if it has it, else the build venv ``build/.venv``
   (created here, git-ignored). Where ``venv`` cannot install pip (Debian without
   ``python3-venv``), shiv is installed with ``pip --target build/.shiv`` instead.
2. ``pip install --target <staging>`` of ``packaging/requirements.txt``: wheels only, no
   ``.pyc`` (the runtime writes its own next to the extracted sources). The build fails if pip
   pulls in a distribution the file does not pin.
3. ``pip install --no-deps`` of the project itself (a wheel built by hatchling), so only the
   pinned set ends up in the file.
4. Remove what is dead weight at run time: ``bin/`` console scripts (their shebangs point at the
   build machine) and ``direct_url.json`` (the build path). Native modules are stripped with
   ``strip --strip-unneeded`` when binutils is installed (``--no-strip`` to skip): most wheels
   ship debug info, and stripping takes the pyz from about 10.8 to 6.4 MB.
5. ``shiv --site-packages <staging> --reproducible``, written next to the output and renamed into
   place, so a running server is never reading a half-written file. The same sources give a
   byte-identical file (timestamps are 1980-01-01 unless ``SOURCE_DATE_EPOCH`` is set). shiv's
   ``--compile-pyc`` stays off: compiling every bundled module at extraction made the first
   start about 0.6 s slower, while Python caches bytecode for what it imports anyway. Where
   ``PYTHONDONTWRITEBYTECODE=1`` is set, ``SHIV_COMPILE_PYC=1`` on the first start does it.

The pyz holds native wheels for the interpreter that ran this script: it runs on the same CPython
minor version and platform only.

At run time shiv extracts the bundled site-packages once, on the first start, into
``$SHIV_ROOT/<file name>_<build id>/`` (``SHIV_ROOT`` defaults to ``~/.shiv``; the build id is a
hash of the contents) and imports from there, because native modules must be loaded from a real
file. Later starts reuse that directory. The file name is taken after resolving symlinks, so the
``kubectl-ws`` and ``kubectl-kcp`` symlinks share one extraction. The root is deliberately left
at shiv's default (no ``--root``): per user, nothing to configure for a developer; services set
``SHIV_ROOT`` to a directory they own (``packaging/kcp-edge.service``). Old builds' directories
are not removed by shiv; delete them after an upgrade.

Usage: ``python3 build/pyz.py [--output PATH] [--python SHEBANG] [--no-compressed] [--no-strip]``
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.metadata
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHIV_VERSION = "1.0.8"
BUILD_VENV = ROOT / "build" / ".venv"
BUILD_TARGET = ROOT / "build" / ".shiv"
DEFAULT_OUTPUT = ROOT / "dist" / "kcp-edge.pyz"
DEFAULT_REQUIREMENTS = ROOT / "packaging" / "requirements.txt"
DEFAULT_ENTRY_POINT = "kcp_edge.cli.main:main"
DEFAULT_SHEBANG = "/usr/bin/env python3"

_PIN = re.compile(r"([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*[^\s;,]+\s*(;.*)?")
_PROBE = (
    "import importlib.metadata as m, sys\n"
    "try:\n    v = m.version('shiv')\n"
    "except m.PackageNotFoundError:\n    v = '-'\n"
    "print('%d.%d' % sys.version_info[:2], v)\n"
)


class BuildError(Exception):
    """A build step failed; the message says which and what to do."""


@dataclass(frozen=True)
class Tool:
    """An interpreter that can run ``-m pip`` and ``-m shiv`` (with ``pythonpath`` if set)."""

    python: Path
    pythonpath: Path | None = None

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # shiv does the same: --target installs must not be refused outside a venv.
        env.pop("PIP_REQUIRE_VIRTUALENV", None)
        if self.pythonpath is not None:
            env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(self.pythonpath), env.get("PYTHONPATH", "")) if p
            )
        return env


def _run(what: str, cmd: Sequence[str | Path], env: Mapping[str, str] | None = None) -> None:
    argv = [str(c) for c in cmd]
    try:
        proc = subprocess.run(argv, env=env, check=False)
    except OSError as exc:
        raise BuildError(f"{what}: cannot run {argv[0]}: {exc}") from exc
    if proc.returncode != 0:
        raise BuildError(f"{what} failed (exit {proc.returncode}): {shlex.join(argv)}")


def _probe(python: Path, env: Mapping[str, str] | None = None) -> tuple[str, str] | None:
    """Return (``X.Y``, shiv version or ``-``) for an interpreter, or None if it does not run."""
    try:
        proc = subprocess.run(
            [str(python), "-c", _PROBE], env=env, capture_output=True, text=True, check=False
        )
    except OSError:
        return None
    fields = proc.stdout.split()
    if proc.returncode != 0 or len(fields) != 2:
        return None
    return fields[0], fields[1]


def _has_pip(python: Path, env: Mapping[str, str] | None = None) -> bool:
    proc = subprocess.run(
        [str(python), "-m", "pip", "--version"], env=env, capture_output=True, check=False
    )
    return proc.returncode == 0


def find_shiv() -> Tool:
    """Return a Tool with shiv ``SHIV_VERSION`` and pip for the running Python's version."""
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    try:
        local_shiv = importlib.metadata.version("shiv")
    except importlib.metadata.PackageNotFoundError:
        local_shiv = None
    current = Tool(Path(sys.executable))
    if local_shiv == SHIV_VERSION and _has_pip(current.python):
        return current

    venv_python = BUILD_VENV / "bin" / "python"
    venv = Tool(venv_python)
    found = _probe(venv_python)
    if found == (here, SHIV_VERSION):
        return venv
    if found is None or found[0] != here:
        print(f"build/pyz.py: creating the build venv {BUILD_VENV} (Python {here})", flush=True)
        try:
            _run("creating the build venv", [sys.executable, "-m", "venv", "--clear", BUILD_VENV])
        except BuildError as exc:
            print(f"build/pyz.py: {exc}; installing shiv with pip --target instead", flush=True)
            shutil.rmtree(BUILD_VENV, ignore_errors=True)
            return _shiv_by_target(here)
    _run(
        "installing shiv into the build venv",
        [venv_python, "-m", "pip", "install", "--quiet", f"shiv=={SHIV_VERSION}"],
        venv.env(),
    )
    return venv


def _shiv_by_target(here: str) -> Tool:
    """Fallback without ``venv``: shiv into ``build/.shiv``, run by this interpreter."""
    tool = Tool(Path(sys.executable), BUILD_TARGET)
    if _probe(tool.python, tool.env()) == (here, SHIV_VERSION):
        return tool
    if not _has_pip(tool.python):
        raise BuildError(
            f"{sys.executable} has neither a working venv module nor pip; install one of them "
            "(Debian: apt-get install python3-venv, or python3-pip)"
        )
    shutil.rmtree(BUILD_TARGET, ignore_errors=True)
    _run(
        "installing shiv with pip --target",
        [
            tool.python,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--target",
            BUILD_TARGET,
            f"shiv=={SHIV_VERSION}",
        ],
        tool.env(),
    )
    return tool


def _normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pinned_names(requirements: Path) -> set[str]:
    """Names pinned with ``==`` in a requirements file; anything else is an error."""
    try:
        text = requirements.read_text(encoding="utf-8")
    except OSError as exc:
        raise BuildError(f"cannot read {requirements}: {exc}") from exc
    names: set[str] = set()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        match = _PIN.fullmatch(line)
        if match is None:
            raise BuildError(
                f"{requirements}:{number}: every line must pin one distribution as "
                f"'name==version [; marker]', got: {line}"
            )
        names.add(_normalize(match[1]))
    return names


def check_pinned(staging: Path, requirements: Path) -> None:
    """Fail if pip installed a distribution that the requirements file does not pin."""
    pinned = pinned_names(requirements)
    extra = sorted(
        f"{dist.metadata['Name']}=={dist.version}"
        for dist in importlib.metadata.distributions(path=[str(staging)])
        if _normalize(dist.metadata["Name"]) not in pinned
    )
    if extra:
        raise BuildError(
            f"pip pulled in distributions that {requirements} does not pin: {', '.join(extra)}. "
            "Pin them there (exact versions from `.venv/bin/pip freeze`)."
        )


def _check_entry_point(staging: Path, entry_point: str) -> None:
    module, sep, attr = entry_point.partition(":")
    if not sep or not module or not attr:
        raise BuildError(f"entry point must look like 'package.module:function', got {entry_point}")
    base = staging.joinpath(*module.split("."))
    if not (base.with_suffix(".py").is_file() or (base / "__init__.py").is_file()):
        raise BuildError(
            f"entry point module {module} is not in the built project "
            f"(no {module.replace('.', '/')}.py); is it written yet?"
        )


def prune(staging: Path) -> None:
    """Remove files that are of no use inside the pyz, and their lines in RECORD files.

    The console scripts and ``direct_url.json`` carry the build machine's paths; without them
    (and their RECORD lines) the pyz is byte-for-byte the same wherever it is built.
    """
    shutil.rmtree(staging / "bin", ignore_errors=True)
    for path in staging.glob("*.dist-info/direct_url.json"):
        path.unlink()
    for path in sorted(staging.rglob("__pycache__"), reverse=True):
        shutil.rmtree(path, ignore_errors=True)
    for record in staging.glob("*.dist-info/RECORD"):
        lines = record.read_bytes().splitlines(keepends=True)
        kept = [
            line
            for line in lines
            if not line.startswith((b"../", b"bin/"))
            and not line.split(b",", 1)[0].endswith(b".dist-info/direct_url.json")
        ]
        if len(kept) != len(lines):
            record.write_bytes(b"".join(kept))


def strip_native(staging: Path) -> None:
    """Strip symbols and debug info from native modules if binutils' strip is installed."""
    native = sorted(
        p
        for p in staging.rglob("*")
        if p.is_file() and (p.suffix == ".so" or ".so." in p.name) and not p.is_symlink()
    )
    if not native:
        return
    strip = shutil.which("strip")
    if strip is None:
        print(
            "build/pyz.py: note: `strip` (binutils) not found; native modules keep their debug "
            "info and the pyz is about 4 MB larger",
            flush=True,
        )
        return
    before = sum(p.stat().st_size for p in native)
    # strip writes a temporary copy and renames it, so a file it fails on is left intact.
    proc = subprocess.run([strip, "--strip-unneeded", *map(str, native)], check=False)
    if proc.returncode != 0:
        print("build/pyz.py: warning: strip failed on some native modules (kept as is)", flush=True)
    after = sum(p.stat().st_size for p in native)
    print(
        f"build/pyz.py: stripped {len(native)} native modules: "
        f"{before / 1e6:.1f} MB -> {after / 1e6:.1f} MB",
        flush=True,
    )


def build(
    *,
    output: Path,
    shebang: str,
    compressed: bool,
    strip: bool,
    requirements: Path,
    project: Path,
    entry_point: str,
    verbose: bool,
) -> Path:
    """Build the pyz at ``output`` and return its path."""
    if not (project / "pyproject.toml").is_file():
        raise BuildError(f"{project} has no pyproject.toml")
    pinned_names(requirements)  # fail early on a malformed file
    tool = find_shiv()
    env = tool.env()
    quiet: list[str | Path] = [] if verbose else ["--quiet"]
    pip: list[str | Path] = [tool.python, "-m", "pip", "--disable-pip-version-check", "--no-input"]
    output.parent.mkdir(parents=True, exist_ok=True)
    partial = output.with_name(f".{output.name}.partial")
    with tempfile.TemporaryDirectory(prefix="kcp-edge-pyz-") as tmp:
        staging = Path(tmp) / "site-packages"
        _run(
            f"installing {requirements}",
            [
                *pip,
                "install",
                *quiet,
                "--target",
                staging,
                "--no-compile",
                "--only-binary=:all:",
                "--no-warn-script-location",
                "--requirement",
                requirements,
            ],
            env,
        )
        check_pinned(staging, requirements)
        shutil.rmtree(staging / "bin", ignore_errors=True)  # else pip warns it exists
        _run(
            f"installing the project {project}",
            [
                *pip,
                "install",
                *quiet,
                "--target",
                staging,
                "--no-compile",
                "--no-deps",
                "--no-warn-script-location",
                project,
            ],
            env,
        )
        _check_entry_point(staging, entry_point)
        prune(staging)
        if strip:
            strip_native(staging)
        try:
            _run(
                "shiv",
                [
                    tool.python,
                    "-m",
                    "shiv",
                    "--site-packages",
                    staging,
                    "--entry-point",
                    entry_point,
                    "--output-file",
                    partial,
                    "--python",
                    shebang,
                    "--compressed" if compressed else "--uncompressed",
                    "--reproducible",
                ],
                env,
            )
            partial.chmod(0o755)
            partial.replace(output)
        finally:
            partial.unlink(missing_ok=True)
    return output


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="build/pyz.py",
        description="Build the kcp-edge single-file zipapp with shiv.",
    )
    parser.add_argument(
        "--output", type=Path, default=DEFAULT_OUTPUT, help="pyz to write (dist/kcp-edge.pyz)"
    )
    parser.add_argument(
        "--python",
        default=DEFAULT_SHEBANG,
        metavar="SHEBANG",
        help=f"interpreter for the #! line (default: {DEFAULT_SHEBANG})",
    )
    parser.add_argument(
        "--compressed",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="deflate the zip members (default: on)",
    )
    parser.add_argument(
        "--strip",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="strip native modules with binutils' strip when it is installed (default: on)",
    )
    parser.add_argument(
        "--requirements",
        type=Path,
        default=DEFAULT_REQUIREMENTS,
        help="pinned runtime dependencies (packaging/requirements.txt)",
    )
    parser.add_argument(
        "--project-dir", type=Path, default=ROOT, help="project to bundle (this repository)"
    )
    parser.add_argument(
        "--entry-point",
        default=DEFAULT_ENTRY_POINT,
        help=f"callable the pyz runs (default: {DEFAULT_ENTRY_POINT})",
    )
    parser.add_argument("--verbose", action="store_true", help="show pip's output")
    args = parser.parse_args(argv)

    started = time.monotonic()
    try:
        output = build(
            output=args.output.resolve(),
            shebang=args.python,
            compressed=args.compressed,
            strip=args.strip,
            requirements=args.requirements.resolve(),
            project=args.project_dir.resolve(),
            entry_point=args.entry_point,
            verbose=args.verbose,
        )
    except BuildError as exc:
        print(f"build/pyz.py: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("build/pyz.py: interrupted", file=sys.stderr)
        return 130
    data = output.read_bytes()
    print(f"sha256 {hashlib.sha256(data).hexdigest()}")
    print(
        f"built {output} ({len(data) / 1e6:.2f} MB, {len(data)} bytes) "
        f"in {time.monotonic() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
