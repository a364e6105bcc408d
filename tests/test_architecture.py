"""The architecture's rules, checked in the test run rather than remembered.

* the import contracts of ``docs/architecture.md`` (layers; which package may import lmdb,
  starlette, uvicorn and the kubernetes client), via import-linter's contracts in pyproject.toml;
* every module of the packages says why it exists (a module docstring).
"""

from __future__ import annotations

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("kcp_edge", "syncer")


def test_import_contracts_hold() -> None:
    lint = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    assert lint is not None, "import-linter is not installed next to this python"
    done = subprocess.run(
        [lint, "--no-cache"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "0 broken" in done.stdout


def test_every_module_has_a_docstring_saying_why_it_exists() -> None:
    missing = []
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            if path.name == "__init__.py" and not tree.body:
                continue  # an empty package marker
            if not ast.get_docstring(tree):
                missing.append(str(path.relative_to(ROOT)))
    assert missing == []
