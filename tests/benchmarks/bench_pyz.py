"""Single-file benchmark: the pyz against ``python -m kcp_edge`` from the venv, in the same run.

Not a test: it prints figures, ratios and goals (CI machines are noisy; nothing here asserts).

    .venv/bin/python tests/benchmarks/bench_pyz.py [--pyz dist/kcp-edge.pyz] [--runs 5]

Without ``--pyz`` it builds one with ``build/pyz.py`` into a temp dir. Figures:

- pyz size (goal < 15 MB);
- first run: launch to ``/readyz`` answering ``ok`` with an empty ``SHIV_ROOT`` (so shiv's
  extraction and the first compile of every module are included) and an empty root directory;
  the venv baseline starts with an empty root directory too (its .pyc files exist already);
- warm run: median of ``--runs`` restarts on the same ``SHIV_ROOT`` and root directory;
- idle RSS: VmRSS of the server process 2 s after ``/readyz`` (median of the warm runs).

Each server runs as ``kcp start --root-directory <tmp> --secure-port <free> --bind-address
127.0.0.1``; ``/readyz`` is polled every 10 ms over HTTPS, verified with ``<root>/certs/ca.crt``,
then the server gets SIGTERM and is waited for. The pyz runs under a fresh venv without pip made
from the same base interpreter, so nothing outside the file can be imported and no launcher
shim (pyenv) adds its own start-up time.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import signal
import ssl
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from tests.benchmarks.common import memory  # noqa: E402
from tests.conftest import free_port  # noqa: E402

POLL_SECONDS = 0.01
READY_TIMEOUT = 60.0
IDLE_SECONDS = 2.0
GOAL_SIZE_MB = 15.0
GOAL_FIRST_READY_S = 2.0  # performance-anchors.md Part C: "<2 s to ready is a fair goal"
GOAL_WARM_READY_S = 1.0  # the foundation issue: warm launch to /readyz under 1 s
GOAL_RSS_MB = 60.0


class BenchError(Exception):
    """A server did not come up or did not stop cleanly."""


@dataclass(frozen=True)
class Run:
    ready_s: float
    rss_mb: float | None
    exit_code: int


def _ready(port: int, ctx: ssl.SSLContext) -> bool:
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=1.0)
    try:
        conn.request("GET", "/readyz")
        resp = conn.getresponse()
        return resp.status == 200 and resp.read().strip() == b"ok"
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def vm_rss_mb(pid: int) -> float | None:
    rss = memory(pid).get("VmRSS")
    return None if rss is None else rss / (1 << 20)


def run_server(
    cmd: list[str], *, root: Path, port: int, env: dict[str, str], log: Path, idle: bool
) -> Run:
    """Start one server, time it to /readyz, optionally read its idle RSS, SIGTERM it."""
    argv = [
        *cmd,
        "start",
        "--root-directory",
        str(root),
        "--secure-port",
        str(port),
        "--bind-address",
        "127.0.0.1",
    ]
    ca = root / "certs" / "ca.crt"
    with log.open("wb") as out:
        started = time.perf_counter()
        proc = subprocess.Popen(
            argv, env=env, cwd=root.parent, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            ctx: ssl.SSLContext | None = None
            while True:
                if proc.poll() is not None:
                    raise BenchError(
                        f"{' '.join(argv)} exited with {proc.returncode} before /readyz:\n"
                        + log.read_text(errors="replace")[-2000:]
                    )
                if ctx is None and ca.is_file():
                    try:
                        ctx = ssl.create_default_context(cafile=str(ca))
                    except (OSError, ssl.SSLError):
                        ctx = None  # still being written
                if ctx is not None and _ready(port, ctx):
                    ready = time.perf_counter() - started
                    break
                if time.perf_counter() - started > READY_TIMEOUT:
                    raise BenchError(f"{' '.join(argv)}: no /readyz within {READY_TIMEOUT} s")
                time.sleep(POLL_SECONDS)
            rss = None
            if idle:
                time.sleep(IDLE_SECONDS)
                rss = vm_rss_mb(proc.pid)
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    return Run(ready, rss, code)


def build_pyz(out_dir: Path) -> tuple[Path, float]:
    out = out_dir / "kcp-edge.pyz"
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, str(REPO / "build" / "pyz.py"), "--output", str(out)],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise BenchError(f"build/pyz.py failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
    return out, time.perf_counter() - started


def clean_python(tmp: Path) -> Path:
    """A venv without pip or site-packages: the pyz can import only what it carries."""
    venv = tmp / "clean-python"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return venv / "bin" / "python"


def du_mb(path: Path) -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) / 1e6


def fmt_line(name: str, value: str, base: str, goal: str) -> None:
    print(f"{name:<32} {value:>10}  {base:<26} {goal}".rstrip())


def compare(name: str, pyz: float, venv: float, unit: str, goal: float) -> None:
    verdict = "ok" if pyz < goal else "MISSED"
    fmt_line(
        name,
        f"{pyz:.3f} {unit}" if unit == "s" else f"{pyz:.1f} {unit}",
        f"venv {venv:.3f} {unit}  x{pyz / venv:.2f}"
        if unit == "s"
        else f"venv {venv:.1f} {unit}  x{pyz / venv:.2f}",
        f"goal < {goal:g} {unit}  {verdict}",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--pyz", type=Path, help="benchmark this file instead of building one")
    parser.add_argument("--runs", type=int, default=5, help="warm runs of each (default 5)")
    parser.add_argument(
        "--python", type=Path, help="interpreter for the pyz (default: a clean venv, no pip)"
    )
    parser.add_argument(
        "--venv-python",
        type=Path,
        default=REPO / ".venv" / "bin" / "python",
        help="interpreter for the `python -m kcp_edge` baseline (default: .venv)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="kcp-edge-bench-pyz-") as tmp_name:
        tmp = Path(tmp_name)
        print(
            f"kcp-edge single-file benchmark: CPython {platform.python_version()} "
            f"{platform.machine()}, {os.cpu_count()} CPUs"
        )
        try:
            if args.pyz is None:
                pyz, build_s = build_pyz(tmp)
                fmt_line("build (build/pyz.py)", f"{build_s:.1f} s", "", "")
            else:
                pyz = args.pyz.resolve()
            pyz_python = args.python or clean_python(tmp)
            size_mb = pyz.stat().st_size / 1e6
            fmt_line(
                "pyz size",
                f"{size_mb:.2f} MB",
                "",
                f"goal < {GOAL_SIZE_MB:g} MB  {'ok' if size_mb < GOAL_SIZE_MB else 'MISSED'}",
            )

            base_env = dict(os.environ)
            if base_env.pop("PYTHONDONTWRITEBYTECODE", None) is not None:
                print("note: PYTHONDONTWRITEBYTECODE is set here; unset for the runs (see below)")
            env = dict(base_env)
            env["SHIV_ROOT"] = str(tmp / "shiv-root")
            for name in ("SHIV_FORCE_EXTRACT", "SHIV_COMPILE_PYC", "SHIV_ENTRY_POINT"):
                env.pop(name, None)
            venv_env = dict(base_env)
            venv_env["PYTHONPATH"] = os.pathsep.join(
                p for p in (str(REPO), venv_env.get("PYTHONPATH", "")) if p
            )
            pyz_cmd = [str(pyz_python), str(pyz)]
            venv_cmd = [str(args.venv_python), "-m", "kcp_edge"]
            pyz_root, venv_root = tmp / "pyz-root", tmp / "venv-root"

            def one(
                cmd: list[str], root: Path, run_env: dict[str, str], tag: str, *, idle: bool = True
            ) -> Run:
                run = run_server(
                    cmd,
                    root=root,
                    port=free_port(),
                    env=run_env,
                    log=tmp / f"{tag}.log",
                    idle=idle,
                )
                if run.exit_code != 0:
                    print(f"  note: {tag} exited with {run.exit_code} after SIGTERM")
                return run

            first_pyz = one(pyz_cmd, pyz_root, env, "pyz-first")
            first_venv = one(venv_cmd, venv_root, venv_env, "venv-first")
            warm_pyz: list[Run] = []
            warm_venv: list[Run] = []
            for i in range(args.runs):  # interleaved, so drift hits both alike
                warm_pyz.append(one(pyz_cmd, pyz_root, env, f"pyz-warm-{i}"))
                warm_venv.append(one(venv_cmd, venv_root, venv_env, f"venv-warm-{i}"))
            # With PYTHONDONTWRITEBYTECODE=1 (common in container images) the extracted
            # site-packages never get .pyc files, so every start compiles all it imports.
            nobytecode_env = dict(
                env, PYTHONDONTWRITEBYTECODE="1", SHIV_ROOT=str(tmp / "shiv-root-nobytecode")
            )
            nobytecode = [
                one(pyz_cmd, pyz_root, nobytecode_env, f"pyz-nobytecode-{i}", idle=False)
                for i in range(args.runs + 1)
            ][1:]  # the first one extracts
        except BenchError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1

        compare(
            "first run to /readyz",
            first_pyz.ready_s,
            first_venv.ready_s,
            "s",
            GOAL_FIRST_READY_S,
        )
        compare(
            f"warm run to /readyz (med/{args.runs})",
            statistics.median(r.ready_s for r in warm_pyz),
            statistics.median(r.ready_s for r in warm_venv),
            "s",
            GOAL_WARM_READY_S,
        )
        compare(
            "warm, PYTHONDONTWRITEBYTECODE=1",
            statistics.median(r.ready_s for r in nobytecode),
            statistics.median(r.ready_s for r in warm_venv),
            "s",
            GOAL_WARM_READY_S,
        )
        rss_pyz = [r.rss_mb for r in warm_pyz if r.rss_mb is not None]
        rss_venv = [r.rss_mb for r in warm_venv if r.rss_mb is not None]
        if rss_pyz and rss_venv:
            compare(
                "idle RSS, ready + 2 s (med)",
                statistics.median(rss_pyz),
                statistics.median(rss_venv),
                "MB",
                GOAL_RSS_MB,
            )
        if first_pyz.rss_mb is not None and first_venv.rss_mb is not None:
            compare("idle RSS, first run", first_pyz.rss_mb, first_venv.rss_mb, "MB", GOAL_RSS_MB)
        fmt_line("extracted SHIV_ROOT", f"{du_mb(tmp / 'shiv-root'):.1f} MB", "", "")
    return 0


if __name__ == "__main__":
    sys.exit(main())
