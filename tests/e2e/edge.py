"""Two kcp-edge servers, one playing the control plane and one playing the edge clusters.

Why this module exists: the syncer is tested as kcp's own e2e tests did it, without a real
edge cluster: each edge "cluster" is a root-level workspace of a second server with the real
``apps/v1`` Deployment schema installed as a CRD (so API import reads a real schema), and the
test plays the edge's deployment controller by writing Deployment status there. Users run
kubectl with the ``kubectl ws``/``kubectl kcp`` plugins; `Site` is that shell for one server.
A `Cuttable` TCP proxy sits between a syncer and the control plane to cut the link on demand.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import socket
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from kcp_edge.apimachinery.openapiimport import crd_from_openapi
from tests.conftest import KUBECTL, REPO, KcpServer, kcp_command, kcp_env

PLUGIN = """#!{python}
import sys
sys.path.insert(0, {repo!r})
from kcp_edge.cli.main import main
sys.exit(main(sys.argv[1:], prog={prog!r}))
"""
APPS_V1 = REPO / "kcp_edge" / "registry" / "data" / "openapi" / "apis__apps__v1.json"


class Site:
    """kubectl (with the plugins) against one server, with its own kubeconfig copy."""

    def __init__(self, server: KcpServer, home: Path) -> None:
        if KUBECTL is None:
            pytest.skip("kubectl is not installed next to the Python interpreter")
        self.server = server
        self.home = home
        bin_dir = home / "bin"
        bin_dir.mkdir(parents=True)
        for prog in ("kubectl-ws", "kubectl-kcp"):
            script = bin_dir / prog
            script.write_text(PLUGIN.format(python=sys.executable, repo=str(REPO), prog=prog))
            script.chmod(script.stat().st_mode | stat.S_IXUSR)
        self.kubeconfig = home / "kubeconfig"
        self.kubeconfig.write_text(server.kubeconfig.read_text())
        self.env = {
            **os.environ,
            "HOME": str(home),
            "KUBECONFIG": str(self.kubeconfig),
            "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        }

    def __call__(
        self, *args: str, check: bool = True, stdin: str | None = None
    ) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [str(KUBECTL), *args],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
            env=self.env,
            input=stdin,
        )
        if check and done.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{done.stderr}")
        return done

    def out(self, *args: str) -> str:
        return self(*args).stdout

    def json(self, *args: str) -> Any:
        return json.loads(self(*args, "-o", "json").stdout)

    def using(self, kubeconfig: Path) -> Site:
        """The same shell pointed at another kubeconfig (an edge cluster's workspace)."""
        other = Site.__new__(Site)
        other.server, other.home, other.kubeconfig = self.server, self.home, kubeconfig
        other.env = {**self.env, "KUBECONFIG": str(kubeconfig)}
        return other

    def snapshot(self, path: Path) -> Path:
        """A copy of the kubeconfig as it is now (pointing at the current workspace)."""
        path.write_text(self.kubeconfig.read_text())
        return path


def install_deployments(site: Site) -> None:
    """The real apps/v1 Deployment schema as a CRD in the site's current workspace."""
    document = json.loads(APPS_V1.read_text())
    crd = crd_from_openapi(
        document,
        "apps",
        "v1",
        "Deployment",
        plural="deployments",
        singular="deployment",
        short_names=("deploy",),
        categories=("all",),
        scale={
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        },
    )
    site("apply", "-f", "-", stdin=json.dumps(crd))
    site("wait", "--for=condition=Established", "crd/deployments.apps", "--timeout=30s")


def edge_cluster(site: Site, name: str, tmp: Path) -> Path:
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


def secret_kubeconfig(site: Site, namespace: str, path: Path) -> Path:
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
