"""``kcp install-plugins``: the symlinks, conflicts, ``--force``, the hints and the refusal from
a source checkout, through `main` with ``sys.argv[0]`` pointing at a stand-in single file (a zip
with a ``__main__.py``). The real pyz is exercised in ``tests/test_pyz.py``.
"""

from __future__ import annotations

import os
import sys
import zipfile
from pathlib import Path

import pytest

from kcp_edge.cli.main import PROGRAMS, main, run_kcp
from kcp_edge.cli.plugins import NOT_SINGLE_FILE, PLUGINS, single_file
from kcp_edge.cli.ws import run_kcp_plugin, run_ws


@pytest.fixture
def pyz(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in single file, set as the running program."""
    path = tmp_path / "opt" / "kcp-edge.pyz"
    path.parent.mkdir()
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("__main__.py", "print('hello')\n")
    path.chmod(0o755)
    monkeypatch.setattr(sys, "argv", [str(path)])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    return path


def install(*args: str) -> int:
    return main(["install-plugins", *args], prog="kcp")


def links(directory: Path) -> dict[str, str]:
    return {p.name: os.readlink(p) for p in sorted(directory.iterdir()) if p.is_symlink()}


def test_installs_the_three_links(
    pyz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bin_dir = tmp_path / "bin"
    assert install(str(bin_dir)) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == [f"{name} -> {pyz}" for name in PLUGINS]
    assert links(bin_dir) == {name: str(pyz) for name in PLUGINS}
    assert err.splitlines() == [
        f"note: {bin_dir} is not on PATH, where kubectl looks for plugins; add it: "
        f'export PATH="{bin_dir}:$PATH"'
    ]
    assert sorted(p.name for p in bin_dir.iterdir()) == sorted(PLUGINS)  # no temporary left


def test_every_plugin_name_is_dispatched() -> None:
    assert PROGRAMS["kubectl-ws"] is run_ws
    assert PROGRAMS["kubectl-workspaces"] is run_ws
    assert PROGRAMS["kubectl-kcp"] is run_kcp_plugin
    assert set(PLUGINS) <= set(PROGRAMS)


def test_no_hint_when_the_directory_is_on_path(
    pyz: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    bin_dir = tmp_path / "bin"
    monkeypatch.setenv("PATH", f"/usr/bin{os.pathsep}{bin_dir}/")
    assert install(str(bin_dir)) == 0
    assert capsys.readouterr().err == ""


def test_default_directory_is_home_local_bin(
    pyz: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("PATH", f"{home}/.local/bin{os.pathsep}/usr/bin")
    assert install() == 0
    assert links(home / ".local" / "bin") == {name: str(pyz) for name in PLUGINS}
    assert capsys.readouterr().err == ""


def test_run_through_a_symlink_links_to_the_file_itself(
    pyz: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    kcp = tmp_path / "kcp"
    kcp.symlink_to(os.path.relpath(pyz, tmp_path))
    monkeypatch.setattr(sys, "argv", [str(kcp)])
    monkeypatch.chdir(tmp_path)
    assert install("bin") == 0
    assert links(tmp_path / "bin") == {name: str(pyz) for name in PLUGINS}


def test_running_again_changes_nothing(
    pyz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl-kcp").symlink_to(os.path.relpath(pyz, bin_dir))  # same file, relative
    assert install(str(bin_dir)) == 0
    first = capsys.readouterr().out
    inode = (bin_dir / "kubectl-ws").lstat().st_ino
    assert install(str(bin_dir)) == 0
    assert capsys.readouterr().out == first
    assert (bin_dir / "kubectl-ws").lstat().st_ino == inode
    assert os.readlink(bin_dir / "kubectl-kcp") == os.path.relpath(pyz, bin_dir)


def test_a_link_elsewhere_is_replaced_only_with_force(
    pyz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl-kcp").symlink_to("/opt/old/kcp-edge.pyz")  # dangling
    assert install(str(bin_dir)) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == (
        f"error: {bin_dir}/kubectl-kcp already links to /opt/old/kcp-edge.pyz; "
        "--force replaces it\n"
    )
    assert links(bin_dir) == {"kubectl-kcp": "/opt/old/kcp-edge.pyz"}  # nothing else changed

    assert install(str(bin_dir), "--force") == 0
    assert links(bin_dir) == {name: str(pyz) for name in PLUGINS}


def test_a_file_that_is_not_a_symlink_is_never_replaced(
    pyz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "kubectl-ws").write_text("#!/bin/sh\n")
    assert install(str(bin_dir), "--force") == 1
    assert capsys.readouterr().err == (
        f"error: {bin_dir}/kubectl-ws exists and is not a symlink; remove it first\n"
    )
    assert links(bin_dir) == {}
    assert (bin_dir / "kubectl-ws").read_text() == "#!/bin/sh\n"


def test_directory_that_is_a_file(
    pyz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "bin").write_text("")
    assert install(str(tmp_path / "bin")) == 1
    assert capsys.readouterr().err == f"error: {tmp_path / 'bin'} is not a directory\n"


def test_unwritable_directory(
    pyz: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(mode=0o500)
    try:
        assert install(str(bin_dir)) == 1
    finally:
        bin_dir.chmod(0o700)
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot install the plugins in {bin_dir}: "), err


def test_hint_when_the_file_is_not_executable(
    pyz: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    pyz.chmod(0o644)
    bin_dir = tmp_path / "bin"
    monkeypatch.setenv("PATH", str(bin_dir))
    assert install(str(bin_dir)) == 0
    assert capsys.readouterr().err == (
        f"note: kubectl runs the plugins only once {pyz} is executable: chmod +x\n"
    )


@pytest.mark.parametrize("argv0", ["-m", "", "kcp_edge/__main__.py", "/nonexistent/kcp"])
def test_refused_from_a_source_checkout(
    argv0: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(sys, "argv", [argv0])
    monkeypatch.chdir(Path(__file__).resolve().parents[2])
    assert install(str(tmp_path / "bin")) == 1
    assert capsys.readouterr().err == f"error: {NOT_SINGLE_FILE}\n"
    assert not (tmp_path / "bin").exists()


def test_a_zip_without_main_is_not_the_single_file(tmp_path: Path) -> None:
    other = tmp_path / "other.zip"
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("x.txt", "")
    with pytest.raises(Exception, match=r"works from the single file"):
        single_file(str(other))


def test_listed_in_kcp_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert run_kcp("kcp", ["--help"]) == 0
    assert "install-plugins" in capsys.readouterr().out
    assert run_kcp("kcp", ["install-plugins", "--help"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: kcp install-plugins [-h] [--force] [DIR]"), out
