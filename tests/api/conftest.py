"""One real kcp-edge for the API tests, the official Python client, a fresh namespace per test.

Why this module exists: the API is tested through the clients users run (the ``kubernetes``
Python client here, kubectl in the kubectl tests) against a real server over HTTPS with the
generated admin kubeconfig. Starting a server costs about a second, so the module's tests share
one, and each test gets its own namespace to stay independent.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client, config

from tests.conftest import KcpServer, running_kcp


@pytest.fixture(scope="session")
def shared_kcp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KcpServer]:
    base = tmp_path_factory.mktemp("shared-kcp")
    with running_kcp(
        base / "kcp",
        "--storage-compaction-interval",
        "0.5",
        "--storage-history-revisions",
        "200",
        log=base / "kcp.log",
    ) as server:
        yield server


@pytest.fixture(scope="session")
def api_client(shared_kcp: KcpServer) -> Iterator[client.ApiClient]:
    api = config.new_client_from_config(config_file=str(shared_kcp.kubeconfig))
    try:
        yield api
    finally:
        api.close()


@pytest.fixture
def core(api_client: client.ApiClient) -> client.CoreV1Api:
    return client.CoreV1Api(api_client)


@pytest.fixture
def namespace(core: client.CoreV1Api) -> Iterator[str]:
    name = f"t-{uuid.uuid4().hex[:10]}"
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name)


@pytest.fixture
def kubeconfig(shared_kcp: KcpServer) -> Path:
    return shared_kcp.kubeconfig
