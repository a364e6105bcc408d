"""kubectl as a user runs it: its own kubeconfig and home, the kcp-edge plugins on PATH.

Why this module exists: the workspace, workload-plugin and syncer tests all drive the real
kubectl with ``kubectl ws`` and ``kubectl kcp`` installed as plugins, as the single file's
symlinks would be; the plugins run from the repository as small scripts in ``<home>/bin``.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import KUBECTL, REPO, KcpServer

PLUGIN = """#!{python}
import sys
sys.path.insert(0, {repo!r})
from kcp_edge.cli.main import main
sys.exit(main(sys.argv[1:], prog={prog!r}))
"""


class Shell:
    """kubectl with ``kubeconfig`` and ``home``; commands run in ``home``."""

    def __init__(self, kubeconfig: Path, home: Path) -> None:
        if KUBECTL is None:
            pytest.skip("kubectl is not installed next to the Python interpreter")
        bin_dir = home / "bin"
        bin_dir.mkdir(parents=True, exist_ok=True)
        for prog in ("kubectl-ws", "kubectl-kcp"):
            script = bin_dir / prog
            script.write_text(PLUGIN.format(python=sys.executable, repo=str(REPO), prog=prog))
            script.chmod(script.stat().st_mode | stat.S_IXUSR)
        self.home = home
        self.kubeconfig = kubeconfig
        self.env = {
            **os.environ,
            "HOME": str(home),
            "KUBECONFIG": str(kubeconfig),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    @classmethod
    def of(cls, server: KcpServer, home: Path) -> Shell:
        """A shell with a private copy of ``server``'s admin kubeconfig."""
        home.mkdir(parents=True, exist_ok=True)
        kubeconfig = home / "kubeconfig"
        kubeconfig.write_text(server.kubeconfig.read_text())
        kubeconfig.chmod(0o600)
        return cls(kubeconfig, home)

    def __call__(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(KUBECTL), *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
            env=self.env,
            cwd=self.home,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{done.stderr}")
        return done

    def out(self, *args: str) -> str:
        return self(*args).stdout

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json").stdout)

    def using(self, kubeconfig: Path) -> Shell:
        """The same user with another kubeconfig (another workspace or server)."""
        return type(self)(kubeconfig, self.home)

    def snapshot(self, path: Path) -> Path:
        """A copy of the kubeconfig as it is now (pointing at the current workspace)."""
        path.write_text(self.kubeconfig.read_text())
        path.chmod(0o600)
        return path
