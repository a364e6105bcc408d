"""Patch benchmark: strategic merge patch of a Deployment against a plain merge patch.

Not a test: it prints figures and ratios measured in the same run (nothing here asserts timing).

    .venv/bin/python tests/benchmarks/bench_patch.py [--seconds 1.0]

Figures: microseconds per patch applied to a realistic Deployment (3 containers with env,
ports, mounts and probes; 4 volumes; the last-applied annotation), for the two strategic
patches kubectl sends most: a ``kubectl set image`` patch and a client-side ``kubectl apply``
patch (``$setElementOrder``, ``$retainKeys``, ``$patch: delete``, a new env var and the
refreshed annotation). The baseline is a plain JSON merge patch of the same shape (the same
patch without its directives) on the same object, and the copy both make of the object
(an orjson round trip). Schemas come from the bundled OpenAPI documents, loaded once.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kcp_edge.apimachinery.mergepatch import apply_merge_patch
from kcp_edge.apimachinery.patchmeta import PatchMetaIndex, load_components
from kcp_edge.apimachinery.strategicpatch import strategic_merge_patch
from tests.benchmarks.common import Columns

OPENAPI = Path(__file__).resolve().parents[2] / "kcp_edge" / "registry" / "data" / "openapi"
line = Columns(60, 10).line


def container(name: str, image: str) -> dict[str, Any]:
    return {
        "name": name,
        "image": image,
        "imagePullPolicy": "IfNotPresent",
        "args": ["--port=8080", "--log-level=info"],
        "ports": [
            {"containerPort": 8080, "name": "http", "protocol": "TCP"},
            {"containerPort": 9090, "name": "metrics", "protocol": "TCP"},
        ],
        "env": [{"name": f"VAR_{i}", "value": f"value-{i}"} for i in range(10)],
        "resources": {
            "limits": {"cpu": "500m", "memory": "256Mi"},
            "requests": {"cpu": "100m", "memory": "128Mi"},
        },
        "volumeMounts": [
            {"name": "config", "mountPath": f"/etc/{name}"},
            {"name": "data", "mountPath": "/var/lib/data"},
        ],
        "readinessProbe": {"httpGet": {"path": "/healthz", "port": 8080}, "periodSeconds": 5},
        "terminationMessagePath": "/dev/termination-log",
        "terminationMessagePolicy": "File",
    }


def deployment() -> dict[str, Any]:
    containers = [container(n, f"example.com/{n}:1.0") for n in ("web", "sidecar", "logger")]
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": "default",
            "uid": "6b9d5c1e-0000-4000-8000-000000000001",
            "resourceVersion": "12345",
            "generation": 3,
            "labels": {"app": "web", "tier": "front"},
            "annotations": {
                "deployment.kubernetes.io/revision": "3",
                "kubectl.kubernetes.io/last-applied-configuration": '{"apiVersion":"apps/v1"}\n',
            },
        },
        "spec": {
            "replicas": 3,
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": {"app": "web"}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"},
            },
            "template": {
                "metadata": {"labels": {"app": "web", "tier": "front"}},
                "spec": {
                    "containers": containers,
                    "volumes": [
                        {"name": "config", "configMap": {"name": "web-config"}},
                        {"name": "data", "emptyDir": {}},
                        {"name": "certs", "secret": {"secretName": "web-certs"}},
                        {"name": "cache", "emptyDir": {"medium": "Memory"}},
                    ],
                    "restartPolicy": "Always",
                    "terminationGracePeriodSeconds": 30,
                    "dnsPolicy": "ClusterFirst",
                    "schedulerName": "default-scheduler",
                },
            },
        },
        "status": {"replicas": 3, "readyReplicas": 3, "observedGeneration": 3},
    }


SET_IMAGE: dict[str, Any] = {
    "spec": {
        "template": {
            "spec": {
                "$setElementOrder/containers": [
                    {"name": "web"},
                    {"name": "sidecar"},
                    {"name": "logger"},
                ],
                "containers": [{"image": "example.com/web:2.0", "name": "web"}],
            }
        }
    }
}

LAST_APPLIED = '{"apiVersion":"apps/v1","kind":"Deployment"}\n'
APPLY: dict[str, Any] = {
    "metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": LAST_APPLIED}},
    "spec": {
        "replicas": 4,
        "strategy": {"$retainKeys": ["type"], "rollingUpdate": None, "type": "Recreate"},
        "template": {
            "spec": {
                "$setElementOrder/containers": [{"name": "web"}, {"name": "sidecar"}],
                "$setElementOrder/volumes": [
                    {"name": "config"},
                    {"name": "data"},
                    {"name": "certs"},
                ],
                "containers": [
                    {
                        "$setElementOrder/env": [{"name": f"VAR_{i}"} for i in range(11)],
                        "env": [{"name": "VAR_10", "value": "new"}],
                        "image": "example.com/web:2.0",
                        "name": "web",
                    },
                    {"$patch": "delete", "name": "logger"},
                ],
                "volumes": [
                    {"$retainKeys": ["name", "persistentVolumeClaim"], "name": "data"}
                    | {"persistentVolumeClaim": {"claimName": "web-data"}},
                    {"$patch": "delete", "name": "cache"},
                ],
            }
        },
    },
}


def without_directives(value: Any) -> Any:
    """The merge patch of the same shape: directive keys and directive elements removed."""
    if isinstance(value, dict):
        return {k: without_directives(v) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [without_directives(v) for v in value if not (isinstance(v, dict) and "$patch" in v)]
    return value


def per_call_us(fn: Callable[[], object], seconds: float) -> float:
    """Median of a few timed rounds, in microseconds per call."""
    calls = 1
    while True:  # size a round to ~seconds/5
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        if time.perf_counter() - start > seconds / 5:
            break
        calls *= 2
    rounds = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        rounds.append((time.perf_counter() - start) / calls * 1e6)
    return sorted(rounds)[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per figure")
    args = parser.parse_args()

    components: dict[str, Any] = {}
    for document in sorted(OPENAPI.glob("apis__apps__v1.json")):
        components.update(load_components(document))
    schema = PatchMetaIndex(components).lookup("io.k8s.api.apps.v1.Deployment")
    live = deployment()
    size = len(orjson.dumps(live))
    print(f"Deployment of {size} bytes of JSON; Python {sys.version.split()[0]}")

    copy_us = per_call_us(lambda: orjson.loads(orjson.dumps(live)), args.seconds)
    line("baseline: copy of the object (orjson round trip)", f"{copy_us:.1f} us")
    for name, patch in (("kubectl set image", SET_IMAGE), ("kubectl apply", APPLY)):
        merge = without_directives(patch)
        strategic_merge_patch(live, patch, schema=schema)  # warm the schema caches
        smp_us = per_call_us(
            lambda p=patch: strategic_merge_patch(live, p, schema=schema), args.seconds
        )
        merge_us = per_call_us(lambda p=merge: apply_merge_patch(live, p), args.seconds)
        line(f"{name}: merge patch of the same shape (baseline)", f"{merge_us:.1f} us")
        line(
            f"{name}: strategic merge patch",
            f"{smp_us:.1f} us",
            f"x{smp_us / merge_us:.2f} the merge patch",
        )


if __name__ == "__main__":
    main()
