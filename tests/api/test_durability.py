"""An acknowledged API write survives ``kill -9`` of the server.

Objects are created through the Python client, the server is killed with SIGKILL (no shutdown
at all), restarted on the same root directory, and every acknowledged object is read back.
"""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

from kubernetes import client, config

from tests.conftest import (
    REPO,
    free_port,
    kcp_command,
    kcp_env,
    running_kcp,
    start_args,
    wait_ready,
)


def test_acknowledged_creates_survive_sigkill(tmp_path: Path) -> None:
    root = tmp_path / "kcp"
    port = free_port()
    log = tmp_path / "first.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            kcp_command(*start_args(root, port)),
            cwd=REPO,
            env=kcp_env(),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    acknowledged: list[str] = []
    try:
        wait_ready(proc, f"https://127.0.0.1:{port}", root / "certs" / "ca.crt", log)
        api = config.new_client_from_config(config_file=str(root / "admin.kubeconfig"))
        core = client.CoreV1Api(api)
        for i in range(50):
            body = client.V1ConfigMap(
                metadata=client.V1ObjectMeta(name=f"durable-{i}"), data={"i": str(i)}
            )
            core.create_namespaced_config_map("default", body)
            acknowledged.append(f"durable-{i}")
        api.close()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
    assert proc.returncode == -signal.SIGKILL
    with running_kcp(root, log=tmp_path / "second.log", port=port) as server:
        api = config.new_client_from_config(config_file=str(server.kubeconfig))
        try:
            names = {
                cm.metadata.name
                for cm in client.CoreV1Api(api).list_namespaced_config_map("default").items
            }
        finally:
            api.close()
    assert set(acknowledged) <= names
