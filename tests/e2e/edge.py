"""Two kcp-edge servers, one playing the control plane and one playing the edge clusters.

Why this module exists: the syncer is tested as kcp's own e2e tests did it, without a real
edge cluster: each edge "cluster" is a root-level workspace of a second server with the real
``apps/v1`` Deployment schema installed as a CRD (so API import reads a real schema), and the
test plays the edge's deployment controller by writing Deployment status there. Users run
kubectl with the plugins (``tests/tools/shell.py``). A `Cuttable` TCP proxy sits between a
syncer and the control plane to cut the link on demand.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import REPO, kcp_command, kcp_env
from tests.tools.apps import deployment_crd
from tests.tools.shell import Shell


def install_deployments(site: Shell) -> None:
    """The real apps/v1 Deployment schema as a CRD in the site's current workspace."""
    site("apply", "-f", "-", stdin=json.dumps(deployment_crd()))
    site("wait", "--for=condition=Established", "crd/deployments.apps", "--timeout=30s")


def edge_cluster(site: Shell, name: str, tmp: Path) -> Path:
    """A root-level workspace of the edge server playing cluster ``name`` (an Organization:
    root holds no Universal workspaces, and nothing is scheduled there); its kubeconfig."""
    site("ws", "use", "root")
    site("ws", "create", name, "--type", "Organization", "--enter")
    install_deployments(site)
    return site.snapshot(tmp / f"{name}.kubeconfig")


def eventually(
    check: Callable[[], Any], *, timeout: float = 30.0, interval: float = 0.2, what: str = ""
) -> Any:
    """``check()`` until it returns something truthy; fails with the last value or error."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except AssertionError as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    pytest.fail(f"timed out waiting for {what or check}: last {last!r}")


def secret_kubeconfig(site: Shell, namespace: str, path: Path) -> Path:
    """The upstream kubeconfig the manifest's Secret carries (what the pod would mount)."""
    data = site.out(
        "get", "secret", "-n", namespace, "kcp-syncer-config", "-o", "jsonpath={.data.kubeconfig}"
    )
    text = base64.b64decode(data).decode() if data else ""
    if not text:
        config = site.json("get", "secret", "-n", namespace, "kcp-syncer-config")
        text = config.get("stringData", {}).get("kubeconfig", "")
    yaml.safe_load(text)  # it must be a kubeconfig
    path.write_text(text)
    path.chmod(0o600)
    return path


class SyncerProcess:
    """``kcp syncer`` as its own process, as the pull-mode pod or systemd unit runs it."""

    def __init__(self, args: list[str], log: Path) -> None:
        self.args = args
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> SyncerProcess:
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                kcp_command("syncer", *self.args),
                cwd=REPO,
                env=kcp_env(),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        return self

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                code = self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                raise
            assert code == 0, self.log.read_text()
        assert "Traceback" not in self.log.read_text(), self.log.read_text()


@contextlib.contextmanager
def syncer_process(args: list[str], log: Path) -> Iterator[SyncerProcess]:
    process = SyncerProcess(args, log).start()
    try:
        yield process
    finally:
        process.stop()


class Cuttable:
    """A TCP proxy on loopback to ``target`` port; `cut` drops every connection and refuses
    new ones until `mend` (a network partition between a syncer and the control plane)."""

    def __init__(self, target: int) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.listener.getsockname()[1]
        self.open = True
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if not self.open:
                client.close()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        self.open = False
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def mend(self) -> None:
        self.open = True

    def close(self) -> None:
        self.cut()
        self.listener.close()


def via(kubeconfig: Path, proxy: Cuttable, real_port: int, out: Path) -> Path:
    """``kubeconfig`` with its server port replaced by the proxy's."""
    text = re.sub(rf"127\.0\.0\.1:{real_port}\b", f"127.0.0.1:{proxy.port}", kubeconfig.read_text())
    out.write_text(text)
    out.chmod(0o600)
    return out
