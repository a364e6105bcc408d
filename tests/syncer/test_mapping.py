"""The syncer's pure parts: namespace mapping (kcp's test vector), the copy down, drift, the
journal's durability across reopen, and the work queue's dedup and retry."""

from __future__ import annotations

import asyncio
from pathlib import Path

from syncer import naming, transform
from syncer.journal import Entry, Journal
from syncer.queue import KeyQueue, backoff
from syncer.resources import normalized


def test_namespace_hash_matches_kcp_vector() -> None:
    locator = naming.Locator("root:default:my-workspace", "default")
    assert locator.json() == '{"logical-cluster":"root:default:my-workspace","namespace":"default"}'
    assert locator.downstream_namespace() == (
        "kcpdbc0188a7297d9a8ff3d82b16f527867b9ee3444732201252eb5f57b"
    )
    assert naming.parse_locator({naming.LOCATOR_ANNOTATION: locator.json()}) == locator
    assert naming.parse_locator({naming.LOCATOR_ANNOTATION: "not json"}) is None
    assert naming.parse_locator(None) is None


def test_names_of_per_namespace_defaults_are_mapped_both_ways() -> None:
    assert naming.downstream_name("configmaps", "kube-root-ca.crt") == "kcp-root-ca.crt"
    assert naming.upstream_name("configmaps", "kcp-root-ca.crt") == "kube-root-ca.crt"
    assert naming.downstream_name("serviceaccounts", "default") == "kcp-default"
    assert naming.downstream_name("secrets", "default-token-abcde") == "kcp-default-token"
    assert naming.downstream_name("configmaps", "app") == "app"


def test_copy_down_strips_server_owned_metadata_and_maps_namespace() -> None:
    upstream = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "shop",
            "uid": "u",
            "resourceVersion": "5",
            "generation": 2,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "managedFields": [{}],
            "ownerReferences": [{"name": "x"}],
            "finalizers": ["workload.kcp.dev/syncer-edge"],
            "labels": {naming.CLUSTER_LABEL: "edge", "app": "web"},
            "annotations": {"kcp.io/cluster": "root:a", "note": "kept"},
        },
        "spec": {"replicas": 2},
        "status": {"replicas": 1},
    }
    down = transform.downstream_object("deployments", upstream, "root:a")
    assert down == {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": naming.Locator("root:a", "shop").downstream_namespace(),
            "labels": {naming.CLUSTER_LABEL: "edge", "app": "web"},
            "annotations": {"note": "kept"},
        },
        "spec": {"replicas": 2},
    }
    assert upstream["metadata"]["uid"] == "u"  # the input is not modified


def test_token_secrets_are_never_copied_and_accounts_lose_their_secret_list() -> None:
    token = {"type": "kubernetes.io/service-account-token", "metadata": {"name": "t"}}
    assert not transform.syncable("secrets", token)
    assert transform.syncable("secrets", {"type": "Opaque"})
    account = {"metadata": {"name": "a", "namespace": "n"}, "secrets": [{"name": "t"}]}
    assert "secrets" not in transform.downstream_object("serviceaccounts", account, "root:a")


def test_drift_ignores_defaults_the_edge_adds_but_not_changed_values() -> None:
    desired = {"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 2, "template": {}}}
    defaulted = {
        "metadata": {"labels": {"a": "1", "extra": "x"}, "uid": "d"},
        "spec": {"replicas": 2, "template": {}, "strategy": {"type": "RollingUpdate"}},
        "status": {},
    }
    assert not transform.drifted(defaulted, desired)
    edited = {**defaulted, "spec": {**defaulted["spec"], "replicas": 5}}
    assert transform.drifted(edited, desired)
    relabelled = {**defaulted, "metadata": {"labels": {"a": "2"}}}
    assert transform.drifted(relabelled, desired)


def test_journal_survives_reopen_and_forgets_on_a_new_epoch(tmp_path: Path) -> None:
    path = tmp_path / "state" / "j.db"
    journal = Journal(path)
    assert journal.adopt_epoch("uid-1")
    journal.put("configmaps", ("ns", "a"), Entry({"metadata": {"name": "a"}}, "h1", "u1"))
    journal.set_status_hash("configmaps", ("ns", "a"), "s1")
    journal.set_watermark("configmaps", "42")
    journal.close()

    reopened = Journal(path)
    assert reopened.epoch == "uid-1"
    assert not reopened.adopt_epoch("uid-1")
    entry = reopened.get("configmaps", ("ns", "a"))
    assert entry is not None and (entry.hash, entry.status_hash) == ("h1", "s1")
    assert reopened.watermark("configmaps") == "42"
    assert reopened.namespaces() == {"ns"}
    assert reopened.adopt_epoch("uid-2")
    assert reopened.get("configmaps", ("ns", "a")) is None
    assert reopened.watermark("configmaps") is None
    reopened.close()


def test_queue_dedups_requeues_while_active_and_retries_failures() -> None:
    async def scenario() -> list[str]:
        queue: KeyQueue[str] = KeyQueue()
        seen: list[str] = []
        queue.add("a")
        queue.add("a")
        queue.add("b")
        key = await queue.get()
        queue.add(key)  # changed while being worked on: comes back once
        queue.done(key)
        seen.append(key)
        seen.append(await queue.get())  # b
        queue.done("b", failed=True)
        seen.append(await queue.get())  # a again
        queue.done("a")
        seen.append(await asyncio.wait_for(queue.get(), 60))  # b after its backoff
        queue.done("b")
        assert queue.idle
        return seen

    assert asyncio.run(scenario()) == ["a", "b", "a", "b"]
    assert all(0 <= backoff(n) <= 30 for n in range(40))


def test_resources_are_unioned_with_the_defaults() -> None:
    assert normalized(["services", "deployments.apps,ingresses.networking.k8s.io"]) == [
        "configmaps",
        "deployments.apps",
        "ingresses.networking.k8s.io",
        "secrets",
        "serviceaccounts",
        "services",
    ]
