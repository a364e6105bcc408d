"""Core/v1 and events.k8s.io/v1 Events convert both ways without loss."""

from __future__ import annotations

from kcp_edge.registry import codec, conversion
from kcp_edge.registry.builtin import BUILTIN_KINDS

EVENTS_V1 = next(k for k in BUILTIN_KINDS if (k.group, k.resource) == ("events.k8s.io", "events"))
CONFIGMAPS = next(k for k in BUILTIN_KINDS if (k.group, k.resource) == ("", "configmaps"))

MODERN = {
    "apiVersion": "events.k8s.io/v1",
    "kind": "Event",
    "metadata": {"name": "e.1", "namespace": "default"},
    "eventTime": "2026-01-02T03:04:05.000000Z",
    "series": {"count": 2, "lastObservedTime": "2026-01-02T03:04:06.000000Z"},
    "reportingController": "example.com/c",
    "reportingInstance": "c-0",
    "action": "Reconcile",
    "reason": "Synced",
    "type": "Normal",
    "note": "done",
    "regarding": {"kind": "ConfigMap", "name": "app"},
    "related": {"kind": "Secret", "name": "s"},
    "deprecatedSource": {"component": "c"},
    "deprecatedFirstTimestamp": "2026-01-02T03:04:05Z",
    "deprecatedLastTimestamp": "2026-01-02T03:04:06Z",
    "deprecatedCount": 2,
}


def test_an_events_k8s_io_event_is_stored_in_the_core_shape_and_read_back_unchanged() -> None:
    stored = conversion.encode(EVENTS_V1, MODERN)
    as_core = codec.decode(stored, 7)
    assert as_core["apiVersion"] == "v1"
    assert as_core["involvedObject"] == {"kind": "ConfigMap", "name": "app"}
    assert as_core["message"] == "done"
    assert as_core["reportingComponent"] == "example.com/c"
    assert (as_core["source"], as_core["count"]) == ({"component": "c"}, 2)
    assert as_core["firstTimestamp"] == "2026-01-02T03:04:05Z"
    back = conversion.decode(EVENTS_V1, stored, 7)
    assert back == {**MODERN, "metadata": {**MODERN["metadata"], "resourceVersion": "7"}}


def test_kinds_without_a_conversion_are_read_without_json_work() -> None:
    stored = codec.encode({"metadata": {"name": "a"}, "data": {"k": "v"}})
    assert conversion.conversion_for(CONFIGMAPS) is None
    assert conversion.raw(CONFIGMAPS, stored, 3) == codec.with_resource_version(stored, 3)
