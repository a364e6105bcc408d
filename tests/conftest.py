"""Shared test helpers: a real ``kcp start`` in a subprocess, HTTPS requests, kubectl.

Why this module exists: the server is tested the way users run it, as its own process spoken to
over TLS by real clients, never with mocks. `running_kcp` starts one, waits until ``/readyz``
answers over HTTPS verified against the generated CA, and on the way out stops it with a signal
and checks that it exited with 0 and without a traceback.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import pytest

REPO = Path(__file__).resolve().parents[1]
KUBECTL = shutil.which("kubectl", path=str(Path(sys.executable).parent))
KUBECTL_1_32 = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.32")
START_TIMEOUT = 30.0
STOP_TIMEOUT = 30.0


class KcpServer(NamedTuple):
    url: str
    root: Path
    kubeconfig: Path

    @property
    def ca_file(self) -> Path:
        return self.root / "certs" / "ca.crt"

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


class Response(NamedTuple):
    status: int
    headers: dict[str, str]
    body: bytes


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def kcp_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "kcp_edge", *args]


def kcp_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    return env


def run_kcp(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a kcp command to completion (for commands expected to fail or return)."""
    return subprocess.run(
        kcp_command(*args),
        cwd=REPO,
        env=kcp_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_args(root: Path, port: int, *extra: str) -> list[str]:
    return [
        "start",
        "--root-directory",
        str(root),
        "--secure-port",
        str(port),
        "--bind-address",
        "127.0.0.1",
        *extra,
    ]


def tls_context(ca_file: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


def https_request(
    url: str,
    path: str,
    *,
    ca_file: Path,
    method: str = "GET",
    headers: dict[str, str] | None = None,
) -> Response:
    host, port = url.removeprefix("https://").rsplit(":", 1)
    conn = http.client.HTTPSConnection(host, int(port), context=tls_context(ca_file), timeout=10)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read()
        return Response(resp.status, {k.lower(): v for k, v in resp.getheaders()}, body)
    finally:
        conn.close()


def wait_ready(proc: subprocess.Popen[bytes], url: str, ca_file: Path, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"kcp exited with {proc.returncode}:\n{log.read_text()}")
        if ca_file.exists():
            with contextlib.suppress(OSError, ssl.SSLError, http.client.HTTPException):
                resp = https_request(url, "/readyz", ca_file=ca_file)
                if resp.status == 200 and resp.body == b"ok":
                    return
        time.sleep(0.05)
    pytest.fail(f"kcp did not become ready within {START_TIMEOUT}s:\n{log.read_text()}")


def stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    """Signal the server and wait for it; kill it if it does not stop in time."""
    if proc.poll() is None:
        proc.send_signal(sig)
    try:
        return proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise


@contextlib.contextmanager
def running_kcp(
    root: Path,
    *extra: str,
    log: Path,
    port: int | None = None,
    stop_signal: int = signal.SIGTERM,
) -> Iterator[KcpServer]:
    """``kcp start`` on 127.0.0.1; stopped with ``stop_signal``, which must exit it cleanly."""
    port = port or free_port()
    with log.open("wb") as out:
        proc = subprocess.Popen(
            kcp_command(*start_args(root, port, *extra)),
            cwd=REPO,
            env=kcp_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    url = f"https://127.0.0.1:{port}"
    try:
        wait_ready(proc, url, root / "certs" / "ca.crt", log)
        yield KcpServer(url, root, root / "admin.kubeconfig")
    finally:
        code = stop(proc, stop_signal)
    text = log.read_text()
    assert code == 0, text
    assert "Traceback" not in text, text


@pytest.fixture
def kcp_server(tmp_path: Path) -> Iterator[KcpServer]:
    """A running server in a fresh root directory: (url, root dir, kubeconfig path)."""
    with running_kcp(tmp_path / "kcp", log=tmp_path / "kcp.log") as server:
        yield server


def kubectl(
    *args: str, kubeconfig: Path, binary: str | None = None
) -> subprocess.CompletedProcess[str]:
    exe = binary or KUBECTL
    if exe is None:
        pytest.skip("kubectl is not installed next to the Python interpreter")
    return subprocess.run(
        [exe, "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
