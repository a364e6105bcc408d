"""The real apps/v1 Deployment schema as a CRD, for servers that play an edge cluster.

Why this module exists: kcp-edge serves no Deployments of its own; tests that need them (an edge
cluster the syncer imports from, a manifest applied at the edge, negotiation) install the kind
from Kubernetes' published OpenAPI, bundled in the package, exactly as API import reads it.
"""

from __future__ import annotations

import json
from typing import Any

from kcp_edge.apimachinery.openapiimport import crd_from_openapi
from tests.conftest import REPO

APPS_V1 = REPO / "kcp_edge" / "registry" / "data" / "openapi" / "apis__apps__v1.json"


def deployment_crd() -> dict[str, Any]:
    """``deployments.apps`` (short name ``deploy``, category ``all``, status and scale)."""
    return crd_from_openapi(
        json.loads(APPS_V1.read_text()),
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
