"""WorkloadCluster health and namespace scheduling, through the official Python client and kubectl.

The server runs with a 3 s heartbeat threshold, so a cluster whose "syncer" (this test, patching
``status`` as a syncer does) stops heartbeating is not Ready within seconds. Every test works in
a Universal workspace of its own inside the default organization, where namespaces are
scheduled; root-level workspaces (which the edge tests use as edge clusters) never are.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar

import pytest
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from kcp_edge.controllers import conditions
from kcp_edge.controllers.workloadclusters import heartbeat_condition, next_check, with_health
from kcp_edge.controllers.workqueue import WorkQueue
from tests.conftest import KcpServer, kubectl, running_kcp

THRESHOLD = 3.0
WORKLOAD = ("workload.kcp.dev", "v1alpha1", "workloadclusters")
TENANCY = ("tenancy.kcp.dev", "v1beta1", "workspaces")
CLUSTER_LABEL = "workloads.kcp.dev/cluster"
OPT_OUT = "experimental.workloads.kcp.dev/scheduling-disabled"
UNSCHEDULABLE = {
    "type": "NamespaceScheduled",
    "status": "False",
    "reason": "Unschedulable",
    "message": "No clusters are available to schedule Namespaces to.",
}
DISABLED = {
    "type": "NamespaceScheduled",
    "status": "False",
    "reason": "SchedulingDisabled",
    "message": "Automatic scheduling is deactivated and can be performed by setting the "
    "cluster label manually.",
}
T = TypeVar("T")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KcpServer]:
    base = tmp_path_factory.mktemp("scheduling")
    with running_kcp(
        base / "kcp",
        "--workload-cluster-heartbeat-threshold",
        f"{THRESHOLD:g}s",
        log=base / "kcp.log",
    ) as running:
        yield running


def eventually(check: Callable[[], T], timeout: float = 15.0) -> T:
    """The first truthy result of ``check``; fails with the last one after ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            assert result, f"still {result!r} after {timeout}s"
            return result
        time.sleep(0.1)


class Workspace:
    """The Python client pointed at one logical cluster."""

    def __init__(self, server: KcpServer, cluster: str) -> None:
        self.server = server
        self.path = cluster
        self.api = config.new_client_from_config(config_file=str(server.kubeconfig))
        self.api.configuration.host = f"{server.url}/clusters/{cluster}"
        self.api.configuration.refresh_api_key_hook = None  # it would restore the host
        self.core = client.CoreV1Api(self.api)
        self.custom = client.CustomObjectsApi(self.api)

    def close(self) -> None:
        self.api.close()

    def kubeconfig(self, path: Path) -> Path:
        """A copy of the admin kubeconfig whose context is this workspace."""
        text = self.server.kubeconfig.read_text()
        path.write_text(text.replace("/clusters/root:default", f"/clusters/{self.path}"))
        return path

    # -- WorkloadClusters --------------------------------------------------------------------

    def create_cluster(self, name: str, **spec: Any) -> None:
        body = {"apiVersion": "workload.kcp.dev/v1alpha1", "kind": "WorkloadCluster",
                "metadata": {"name": name}, "spec": spec}  # fmt: skip
        self.custom.create_cluster_custom_object(*WORKLOAD, body)

    def cluster(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.custom.get_cluster_custom_object(*WORKLOAD, name)
        return found

    def condition(self, name: str, kind: str, status: str = "") -> dict[str, Any] | None:
        """The cluster's condition of ``kind`` (only when its status is ``status``, if given)."""
        found = conditions.find(self.cluster(name).get("status", {}).get("conditions", []), kind)
        return found if found and found["status"] == (status or found["status"]) else None

    def heartbeat(self, name: str) -> str:
        now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
        status = {"lastSyncerHeartbeatTime": now, "syncer": {"mode": "Push", "version": "test"}}
        self.custom.patch_cluster_custom_object_status(*WORKLOAD, name, {"status": status})
        return now

    def patch_cluster(self, name: str, spec: dict[str, Any]) -> None:
        self.custom.patch_cluster_custom_object(*WORKLOAD, name, {"spec": spec})

    # -- namespaces and their content --------------------------------------------------------

    def create_namespace(self, name: str, labels: dict[str, str] | None = None) -> None:
        meta = client.V1ObjectMeta(name=name, labels=labels)
        self.core.create_namespace(client.V1Namespace(metadata=meta))

    def placement(self, namespace: str) -> str | None:
        labels = self.core.read_namespace(namespace).metadata.labels or {}
        return labels.get(CLUSTER_LABEL)

    def scheduled(self, namespace: str) -> dict[str, Any] | None:
        ns = self.core.read_namespace(namespace)
        for found in (ns.status.conditions or []) if ns.status else []:
            if found.type == "NamespaceScheduled":
                as_dict: dict[str, Any] = self.api.sanitize_for_serialization(found)
                return as_dict
        return None

    def create_configmap(
        self, namespace: str, name: str, labels: dict[str, str] | None = None
    ) -> None:
        meta = client.V1ObjectMeta(name=name, labels=labels)
        self.core.create_namespaced_config_map(namespace, client.V1ConfigMap(metadata=meta))

    def configmap_placement(self, namespace: str, name: str) -> str | None:
        labels = self.core.read_namespaced_config_map(name, namespace).metadata.labels or {}
        return labels.get(CLUSTER_LABEL)


def without_time(condition: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in condition.items() if k != "lastTransitionTime"}


def _ready(api: client.CustomObjectsApi, name: str) -> bool:
    try:
        ws = api.get_cluster_custom_object(*TENANCY, name)
    except ApiException:
        return False
    return ws.get("status", {}).get("phase") == "Ready"


def new_workspace(server: KcpServer, parent: str, kind: str) -> Workspace:
    """A fresh workspace of ``kind`` in ``parent``, Ready."""
    name = f"{kind.lower()}-{uuid.uuid4().hex[:8]}"
    owner = Workspace(server, parent)
    try:
        body = {"apiVersion": "tenancy.kcp.dev/v1beta1", "kind": "Workspace",
                "metadata": {"name": name}, "spec": {"type": kind}}  # fmt: skip
        owner.custom.create_cluster_custom_object(*TENANCY, body)
        eventually(lambda: _ready(owner.custom, name))
    finally:
        owner.close()
    return Workspace(server, f"{parent}:{name}")


@pytest.fixture
def ws(server: KcpServer) -> Iterator[Workspace]:
    found = new_workspace(server, "root:default", "Universal")
    yield found
    found.close()


class Syncers:
    """Heartbeats for some WorkloadClusters, every 0.5 s, from a thread, until stopped."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws
        self.alive: set[str] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()

    def start(self, name: str) -> None:
        with self._lock:
            self.alive.add(name)

    def stop(self, name: str) -> None:
        with self._lock:
            self.alive.discard(name)

    def _beat(self) -> None:
        while not self._stop.wait(0.5):
            with self._lock:
                names = sorted(self.alive)
            for name in names:
                self.ws.heartbeat(name)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()


@pytest.fixture
def syncers(ws: Workspace) -> Iterator[Syncers]:
    running = Syncers(ws)
    yield running
    running.close()


def ready_cluster(ws: Workspace, syncers: Syncers, name: str, **spec: Any) -> None:
    ws.create_cluster(name, **spec)
    syncers.start(name)
    eventually(lambda: ws.condition(name, "Ready", status="True"))


# --- pure rules -------------------------------------------------------------------------------


NOW = datetime(2022, 5, 4, 12, 0, 0, tzinfo=timezone.utc)


def test_heartbeat_rules_at_the_threshold() -> None:
    fresh = {"lastSyncerHeartbeatTime": "2022-05-04T11:59:30Z"}
    stale = {"lastSyncerHeartbeatTime": "2022-05-04T11:58:59Z"}
    assert heartbeat_condition({}, now=NOW, threshold=60) == {
        "type": "HeartbeatHealthy", "status": "False", "severity": "Warning",
        "reason": "ErrorHeartbeat", "message": "No heartbeat yet seen",
    }  # fmt: skip
    assert heartbeat_condition(fresh, now=NOW, threshold=60)["status"] == "True"
    assert heartbeat_condition(stale, now=NOW, threshold=60)["message"] == (
        "No heartbeat since 2022-05-04T11:58:59Z"
    )
    assert next_check(fresh, now=NOW, threshold=60) == pytest.approx(30.05)
    assert next_check(stale, now=NOW, threshold=60) is None
    assert next_check({}, now=NOW, threshold=60) is None


def test_ready_summarizes_the_first_false_condition_most_severe_first() -> None:
    present = [
        {"type": "SyncerReady", "status": "False", "severity": "Info", "reason": "A"},
        {"type": "APIImporterReady", "status": "False", "severity": "Error", "reason": "B",
         "message": "importer down"},
        {"type": "Other", "status": "False", "severity": "Error", "reason": "C"},
    ]  # fmt: skip
    assert conditions.summary(present, ("SyncerReady", "APIImporterReady")) == {
        "type": "Ready", "status": "False", "severity": "Error", "reason": "B",
        "message": "importer down",
    }  # fmt: skip
    assert conditions.summary(present, ("Missing",)) == {"type": "Ready", "status": "True"}
    status = {"lastSyncerHeartbeatTime": "2022-05-04T11:59:30Z", "conditions": present}
    written = with_health(status, now=NOW, threshold=60)
    assert [c["type"] for c in written] == [
        "Ready", "APIImporterReady", "HeartbeatHealthy", "Other", "SyncerReady",
    ]  # fmt: skip
    assert written[0]["reason"] == "B"


def test_the_work_queue_deduplicates_and_keeps_the_earliest_timer() -> None:
    async def scenario() -> list[str]:
        queue: WorkQueue[str] = WorkQueue()
        queue.add("a")
        queue.add("b")
        queue.add("a")
        assert len(queue) == 2
        queue.add_after("late", 0.05)
        queue.add_after("late", 5)  # the earlier timer stays
        queue.add_after("gone", 0.01)
        started = time.monotonic()
        got = [await queue.get() for _ in range(4)]
        assert time.monotonic() - started < 1
        queue.add_after("never", 0.01)
        queue.close()
        await asyncio.sleep(0.05)
        assert len(queue) == 0
        return got

    assert asyncio.run(scenario()) == ["a", "b", "gone", "late"]


# --- WorkloadCluster health -------------------------------------------------------------------


def test_heartbeats_make_a_cluster_ready_and_their_absence_not(ws: Workspace) -> None:
    ws.create_cluster("edge")
    missing = eventually(lambda: ws.condition("edge", "HeartbeatHealthy"))
    assert without_time(missing) == {
        "type": "HeartbeatHealthy", "status": "False", "severity": "Warning",
        "reason": "ErrorHeartbeat", "message": "No heartbeat yet seen",
    }  # fmt: skip
    ready = ws.condition("edge", "Ready")
    assert ready is not None
    assert (ready["status"], ready["reason"], ready["severity"], ready["message"]) == (
        "False", "ErrorHeartbeat", "Warning", "No heartbeat yet seen",
    )  # fmt: skip
    assert [c["type"] for c in ws.cluster("edge")["status"]["conditions"]] == [
        "Ready", "HeartbeatHealthy",
    ]  # fmt: skip

    beat = ws.heartbeat("edge")
    healthy = eventually(lambda: ws.condition("edge", "HeartbeatHealthy", status="True"))
    assert set(healthy) == {"type", "status", "lastTransitionTime"}
    assert ws.condition("edge", "Ready") == {**healthy, "type": "Ready"}
    assert ws.cluster("edge")["status"]["syncer"] == {"mode": "Push", "version": "test"}
    time.sleep(1)
    ws.heartbeat("edge")
    time.sleep(0.5)
    assert ws.condition("edge", "HeartbeatHealthy") == healthy  # same status, same transition

    stale = eventually(
        lambda: ws.condition("edge", "HeartbeatHealthy", status="False"), timeout=THRESHOLD + 5
    )
    last = ws.cluster("edge")["status"]["lastSyncerHeartbeatTime"]
    assert last >= beat
    assert stale["message"] == f"No heartbeat since {last}"
    assert (stale["reason"], stale["severity"]) == ("ErrorHeartbeat", "Warning")
    assert ws.condition("edge", "Ready")["message"] == stale["message"]


def test_kubectl_shows_workload_clusters_ready_in_wide_output(
    ws: Workspace, syncers: Syncers, tmp_path: Path
) -> None:
    ready_cluster(ws, syncers, "east")
    ws.create_cluster("west")
    kubeconfig = ws.kubeconfig(tmp_path / "kubeconfig")
    eventually(lambda: ws.condition("west", "Ready"))
    wide = kubectl("get", "workloadclusters", "-o", "wide", kubeconfig=kubeconfig)
    assert wide.returncode == 0, wide.stderr
    rows = [re.split(r"\s{2,}", line.strip()) for line in wide.stdout.strip().splitlines()]
    assert rows == [
        ["NAME", "LOCATION", "READY", "SYNCED API RESOURCES"],
        ["east", "east", "True"],  # no synced resources: an empty cell
        ["west", "west", "False"],
    ]
    plain = kubectl("get", "workloadclusters", kubeconfig=kubeconfig)
    assert plain.stdout.split() == ["NAME", "east", "west"]


# --- scheduling -------------------------------------------------------------------------------


def test_universal_workspaces_are_schedulable(server: KcpServer, ws: Workspace) -> None:
    parent, _, name = ws.path.rpartition(":")
    owner = Workspace(server, parent)
    try:
        labels = owner.custom.get_cluster_custom_object(*TENANCY, name)["metadata"]["labels"]
    finally:
        owner.close()
    assert labels == {"workloads.kcp.dev/schedulable": "true"}


def test_a_namespace_waits_for_a_ready_cluster_and_its_content_follows(
    ws: Workspace, syncers: Syncers, tmp_path: Path
) -> None:
    ws.create_namespace("apps")
    found = eventually(lambda: ws.scheduled("apps"))
    assert without_time(found) == UNSCHEDULABLE
    assert found["lastTransitionTime"]
    assert ws.placement("apps") is None
    ws.create_configmap("apps", "before", labels={CLUSTER_LABEL: "elsewhere"})
    assert ws.configmap_placement("apps", "before") is None  # the namespace has none

    ws.create_cluster("edge")
    time.sleep(0.5)
    assert ws.placement("apps") is None  # not Ready: no heartbeat yet
    syncers.start("edge")
    eventually(lambda: ws.placement("apps") == "edge")
    assert eventually(lambda: (ws.scheduled("apps") or {}).get("status") == "True")
    scheduled = ws.scheduled("apps")
    assert scheduled is not None and scheduled.get("reason") is None
    assert eventually(lambda: ws.configmap_placement("apps", "before") == "edge")
    ws.create_configmap("apps", "after")
    assert ws.configmap_placement("apps", "after") == "edge"
    ws.create_configmap("apps", "lying", labels={CLUSTER_LABEL: "other", "app": "x"})
    lying = ws.core.read_namespaced_config_map("lying", "apps").metadata.labels
    assert lying == {CLUSTER_LABEL: "edge", "app": "x"}
    ws.core.patch_namespaced_config_map(
        "after", "apps", {"metadata": {"labels": {CLUSTER_LABEL: None}}}
    )
    assert ws.configmap_placement("apps", "after") == "edge"
    assert eventually(lambda: ws.placement("default") == "edge")

    kubeconfig = ws.kubeconfig(tmp_path / "kubeconfig")
    label = r"{.metadata.labels.workloads\.kcp\.dev/cluster}"
    printed = kubectl("get", "namespace", "apps", "-o", f"jsonpath={label}", kubeconfig=kubeconfig)
    assert (printed.returncode, printed.stdout) == (0, "edge")


def test_system_namespaces_are_ignored(ws: Workspace, syncers: Syncers) -> None:
    ready_cluster(ws, syncers, "edge")
    for name in ("kube-system", "kube-public", "kube-node-lease"):
        ws.create_namespace(name)
    ws.create_namespace("watched")
    eventually(lambda: ws.placement("watched") == "edge")
    for name in ("kube-system", "kube-public", "kube-node-lease"):
        assert ws.placement(name) is None
        assert ws.scheduled(name) is None


def test_a_namespace_can_opt_out(ws: Workspace, syncers: Syncers) -> None:
    ready_cluster(ws, syncers, "edge")
    ws.create_namespace("manual", labels={OPT_OUT: "", CLUSTER_LABEL: "by-hand"})
    assert without_time(eventually(lambda: ws.scheduled("manual"))) == DISABLED
    assert ws.placement("manual") == "by-hand"
    ws.create_configmap("manual", "mine", labels={CLUSTER_LABEL: "my-own"})
    ws.create_configmap("manual", "bare")
    assert ws.configmap_placement("manual", "mine") == "my-own"
    assert ws.configmap_placement("manual", "bare") is None


def test_draining_a_cluster_moves_its_namespaces_and_their_content(
    ws: Workspace, syncers: Syncers
) -> None:
    ready_cluster(ws, syncers, "one")
    ready_cluster(ws, syncers, "two")
    names = [f"ns-{i}" for i in range(4)]
    for name in names:
        ws.create_namespace(name)
        ws.create_configmap(name, "data")
    placed = {name: eventually(lambda n=name: ws.placement(n)) for name in names}
    assert set(placed.values()) <= {"one", "two"}
    drained = placed["ns-0"]
    other = "two" if drained == "one" else "one"
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    ws.patch_cluster(drained, {"unschedulable": True, "evictAfter": now})
    for name in names:
        eventually(lambda n=name: ws.placement(n) == other)
        eventually(lambda n=name: ws.configmap_placement(n, "data") == other)
    assert ws.condition(drained, "Ready", status="True")  # evictAfter is not a health matter

    ws.patch_cluster(drained, {"unschedulable": False, "evictAfter": None})
    ws.create_namespace("later")
    syncers.stop(other)
    for name in names:
        eventually(lambda n=name: ws.placement(n) == drained, timeout=THRESHOLD + 10)
        eventually(lambda n=name: ws.configmap_placement(n, "data") == drained)
    eventually(lambda: ws.placement("later") == drained)
    ws.create_configmap("later", "data")
    assert ws.configmap_placement("later", "data") == drained


def test_unschedulable_keeps_what_is_placed_and_takes_nothing_new(
    ws: Workspace, syncers: Syncers
) -> None:
    ready_cluster(ws, syncers, "edge")
    ws.create_namespace("placed")
    eventually(lambda: ws.placement("placed") == "edge")
    ws.patch_cluster("edge", {"unschedulable": True})
    ws.create_namespace("unplaced")
    found = eventually(lambda: ws.scheduled("unplaced"))
    assert found["reason"] == "Unschedulable"
    assert ws.placement("placed") == "edge"
    syncers.stop("edge")
    eventually(lambda: ws.placement("placed") is None, timeout=THRESHOLD + 10)
    assert eventually(lambda: (ws.scheduled("placed") or {}).get("reason") == "Unschedulable")


def test_a_future_evict_after_moves_namespaces_when_it_passes(
    ws: Workspace, syncers: Syncers
) -> None:
    soon = datetime.fromtimestamp(time.time() + 3, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    ready_cluster(ws, syncers, "leaving", evictAfter=soon)
    ws.create_namespace("moving")
    eventually(lambda: ws.placement("moving") == "leaving")
    ws.create_configmap("moving", "data")
    eventually(lambda: ws.placement("moving") is None, timeout=10)
    assert eventually(lambda: ws.configmap_placement("moving", "data") is None)


def test_root_level_workspaces_never_schedule(server: KcpServer) -> None:
    edge = new_workspace(server, "root", "Organization")
    try:
        parent = Workspace(server, "root")
        try:
            ws = parent.custom.get_cluster_custom_object(*TENANCY, edge.path.split(":")[1])
        finally:
            parent.close()
        assert "labels" not in ws["metadata"]
        edge.create_namespace("synced", labels={CLUSTER_LABEL: "pcluster"})
        edge.create_configmap("synced", "plain")
        edge.create_configmap("synced", "own", labels={CLUSTER_LABEL: "upstream"})
        time.sleep(1)
        assert edge.scheduled("synced") is None
        assert edge.placement("synced") == "pcluster"
        assert edge.configmap_placement("synced", "plain") is None
        assert edge.configmap_placement("synced", "own") == "upstream"
    finally:
        edge.close()
