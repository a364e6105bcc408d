"""The ``/openapi/v3`` surface: per-workspace filtering, hashes, caching headers, and kubectl.

Documents are the committed bundle (``kcp_edge/registry/data/openapi``, real Kubernetes 1.35
data); kubectl 1.37 reads them over loopback HTTP (see ``test_discovery.loopback_server``).
"""

from __future__ import annotations

import dataclasses
import hashlib
from calendar import timegm
from pathlib import Path
from typing import Any

import orjson
import pytest

from kcp_edge.apimachinery.openapi import (
    DocumentNotFoundError,
    OpenAPIDocuments,
    document_key,
    filter_document,
    path_resource,
    serve_document,
    serve_index,
)
from kcp_edge.registry.builtin import BUILTIN_KINDS
from kcp_edge.registry.openapi_data import bundled_documents, openapi_documents
from tests.apimachinery.test_discovery import loopback_server, run_kubectl
from tests.conftest import KUBECTL

NOW = float(timegm((2026, 7, 1, 12, 0, 0)))
KINDS_WITHOUT_SECRETS = tuple(k for k in BUILTIN_KINDS if k.resource != "secrets")


def core_document(kinds: Any = BUILTIN_KINDS) -> dict[str, Any]:
    body = openapi_documents().document(key="api/v1", kinds=kinds).body
    parsed: dict[str, Any] = orjson.loads(body)
    return parsed


def refs(value: Any) -> set[str]:
    found: set[str] = set()
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for key, sub in item.items():
                if key == "$ref" and isinstance(sub, str):
                    found.add(sub)
                else:
                    stack.append(sub)
        elif isinstance(item, list):
            stack.extend(item)
    return found


# -- the index -------------------------------------------------------------------------------


def test_index_lists_the_served_group_versions_with_the_hash_of_each_document() -> None:
    surface = openapi_documents()
    index = orjson.loads(surface.index(kinds=BUILTIN_KINDS))
    assert list(index["paths"]) == [
        "api/v1",
        "apis",
        "apis/admissionregistration.k8s.io/v1",
        "apis/apiextensions.k8s.io/v1",
        "apis/authentication.k8s.io/v1",
        "apis/authorization.k8s.io/v1",
        "apis/certificates.k8s.io/v1",
        "apis/coordination.k8s.io/v1",
        "apis/events.k8s.io/v1",
        "apis/rbac.authorization.k8s.io/v1",
    ]
    for key, entry in index["paths"].items():
        url = entry["serverRelativeURL"]
        path, _, query = url.partition("?hash=")
        assert path == f"/openapi/v3/{key}"
        served = surface.document(key=key, kinds=BUILTIN_KINDS)
        assert query == hashlib.sha512(served.body).hexdigest().upper()


def test_index_hash_changes_when_the_served_kinds_change() -> None:
    surface = openapi_documents()
    full = orjson.loads(surface.index(kinds=BUILTIN_KINDS))["paths"]
    fewer = orjson.loads(surface.index(kinds=KINDS_WITHOUT_SECRETS))["paths"]
    assert full["api/v1"] != fewer["api/v1"]
    assert full["apis/coordination.k8s.io/v1"] == fewer["apis/coordination.k8s.io/v1"]
    assert (
        "/api/v1/namespaces/{namespace}/secrets"
        not in core_document(KINDS_WITHOUT_SECRETS)["paths"]
    )


def test_unserved_or_unknown_documents_are_not_found() -> None:
    surface = openapi_documents()
    for key in ("apis/apps/v1", "apis/batch/v1", "apis/example.com/v1", "api/v2"):
        with pytest.raises(DocumentNotFoundError) as caught:
            surface.document(key=key, kinds=BUILTIN_KINDS)
        assert caught.value.code == 404
        assert str(caught.value) == "the server could not find the requested resource"


# -- filtering -------------------------------------------------------------------------------


def test_core_document_keeps_served_resources_and_drops_pods_services_and_deployments() -> None:
    document = core_document()
    paths = document["paths"]
    assert "/api/v1/" in paths
    assert "/api/v1/namespaces/{namespace}/configmaps/{name}" in paths
    assert "/api/v1/namespaces/{name}/finalize" in paths
    assert "/api/v1/namespaces/{name}/status" in paths
    assert "/api/v1/watch/namespaces/{namespace}/events" in paths
    assert not [p for p in paths if "/pods" in p or "/services" in p or "/nodes" in p]
    # serviceaccounts are served, and so is their token subresource (TokenRequest)
    assert "/api/v1/namespaces/{namespace}/serviceaccounts/{name}" in paths
    assert "/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token" in paths
    schemas = document["components"]["schemas"]
    assert "io.k8s.api.core.v1.ConfigMap" in schemas
    assert "io.k8s.api.core.v1.Pod" not in schemas
    assert "io.k8s.api.core.v1.PodSpec" not in schemas
    assert "io.k8s.api.core.v1.Service" not in schemas
    assert document["components"]["securitySchemes"] == {
        "BearerToken": {"in": "header", "name": "authorization", "type": "apiKey"}
    }
    assert document["openapi"] == "3.0.0"


def test_filtered_documents_are_closed_under_references_and_keep_nothing_unreachable() -> None:
    for document in openapi_documents().documents(kinds=BUILTIN_KINDS):
        parsed = orjson.loads(document.body)
        schemas = parsed.get("components", {}).get("schemas", {})
        reached: set[str] = set()
        frontier = {ref.rsplit("/", 1)[1] for ref in refs(parsed["paths"])}
        while frontier:
            name = frontier.pop()
            assert name in schemas, f"{document.key}: dangling reference to {name}"
            reached.add(name)
            frontier |= {ref.rsplit("/", 1)[1] for ref in refs(schemas[name])} - reached
        assert set(schemas) == reached, document.key


def test_a_fully_served_group_version_is_the_bundled_document_byte_for_byte() -> None:
    bundle = Path(__file__).resolve().parents[2] / "kcp_edge/registry/data/openapi"
    for key, file in (
        ("apis/coordination.k8s.io/v1", "apis__coordination.k8s.io__v1.json"),
        ("apis/rbac.authorization.k8s.io/v1", "apis__rbac.authorization.k8s.io__v1.json"),
    ):
        served = openapi_documents().document(key=key, kinds=BUILTIN_KINDS)
        assert served.body == (bundle / file).read_bytes()


def test_every_served_kind_has_a_schema_and_a_patch_with_field_validation() -> None:
    for kind in (k for k in BUILTIN_KINDS if k.storage_id):  # reviews: create only
        key = document_key(group=kind.group, version=kind.version)
        document = orjson.loads(openapi_documents().document(key=key, kinds=BUILTIN_KINDS).body)
        gvk = {"group": kind.group, "kind": kind.kind, "version": kind.version}
        schema = document["components"]["schemas"][kind.schema]
        assert gvk in schema["x-kubernetes-group-version-kind"]
        scope = "namespaces/{namespace}/" if kind.namespaced else ""
        item = document["paths"][f"{kind.api_prefix}/{scope}{kind.resource}/{{name}}"]
        patch = item["patch"]
        assert patch["x-kubernetes-group-version-kind"] == gvk
        assert patch["x-kubernetes-action"] == "patch"
        assert {"in": "query", "name": "fieldValidation"}.items() <= next(
            p for p in patch["parameters"] if p["name"] == "fieldValidation"
        ).items()
        assert set(patch["requestBody"]["content"]) >= {
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
            "application/apply-patch+yaml",
        }


def core_path(path: str) -> tuple[str, str] | None:
    return path_resource(prefix="/api/v1", path=path)


def test_path_resource_tells_namespaced_paths_from_the_namespace_object() -> None:
    assert core_path("/api/v1/") is None
    assert core_path("/api/v1/namespaces") == ("namespaces", "")
    assert core_path("/api/v1/namespaces/{name}/status") == ("namespaces", "status")
    assert core_path("/api/v1/namespaces/{namespace}/configmaps/{name}") == ("configmaps", "")
    assert core_path("/api/v1/watch/namespaces/{namespace}/pods/{name}") == ("pods", "")
    assert core_path("/api/v1/nodes/{name}/proxy/{path}") == ("nodes", "proxy")


def test_filter_document_on_raw_data_keeps_only_the_named_resources() -> None:
    raw = bundled_documents()["api/v1"]
    filtered = filter_document(document=raw, prefix="/api/v1", served={"configmaps": ()})
    resources = {core_path(p) for p in filtered["paths"]}
    assert resources == {None, ("configmaps", "")}
    assert "io.k8s.api.core.v1.Secret" not in filtered["components"]["schemas"]
    assert raw["paths"].get("/api/v1/namespaces/{namespace}/pods") is not None  # input untouched


def test_documents_are_built_once_per_kind_set_not_per_workspace() -> None:
    surface = OpenAPIDocuments(documents=bundled_documents())
    copies = [
        dataclasses.replace(k, extra={"workspace": str(i)}) for i, k in enumerate(BUILTIN_KINDS)
    ]
    first = surface.document(key="api/v1", kinds=BUILTIN_KINDS)
    assert surface.document(key="api/v1", kinds=copies) is first
    assert surface.document(key="api/v1", kinds=reversed(BUILTIN_KINDS)) is first
    assert surface.document(key="api/v1", kinds=KINDS_WITHOUT_SECRETS) is not first


# -- serving rules ---------------------------------------------------------------------------


def test_current_hash_is_served_immutable_for_a_year() -> None:
    document = openapi_documents().document(key="api/v1", kinds=BUILTIN_KINDS)
    answer = serve_document(
        document,
        requested_hash=document.hash,
        accept="application/json",
        if_none_match=None,
        now=NOW,
    )
    assert answer.status == 200
    assert answer.body == document.body
    assert dict(answer.headers) == {
        "Vary": "Accept",
        "Content-Type": "application/json",
        "Etag": f'"{document.hash}"',
        "Cache-Control": "public, immutable",
        "Expires": "Thu, 01 Jul 2027 12:00:00 GMT",
    }


def test_no_hash_is_revalidated_and_a_stale_hash_redirects_to_the_current_url() -> None:
    document = openapi_documents().document(key="apis/events.k8s.io/v1", kinds=BUILTIN_KINDS)
    plain = serve_document(document, requested_hash=None, accept=None, if_none_match=None, now=NOW)
    assert plain.status == 200
    assert dict(plain.headers)["Cache-Control"] == "no-cache, private"
    assert "Expires" not in dict(plain.headers)
    stale = serve_document(
        document,
        requested_hash="0BAD",
        accept="application/json",
        if_none_match=None,
        now=NOW,
        prefix="/clusters/root:org",
    )
    assert stale.status == 301
    assert stale.body == b""
    assert dict(stale.headers)["Location"] == (
        f"/clusters/root:org/openapi/v3/apis/events.k8s.io/v1?hash={document.hash}"
    )


def test_if_none_match_gets_304_and_protobuf_only_gets_406() -> None:
    document = openapi_documents().document(key="api/v1", kinds=BUILTIN_KINDS)
    etag = f'"{document.hash}"'
    cached = serve_document(
        document,
        requested_hash=document.hash,
        accept="application/json",
        if_none_match=f'"other", {etag}',
        now=NOW,
    )
    assert cached.status == 304
    assert cached.body == b""
    assert "Content-Type" not in dict(cached.headers)
    assert dict(cached.headers)["Etag"] == etag
    refused = serve_document(
        document,
        requested_hash=None,
        accept="application/com.github.proto-openapi.spec.v3.v1.0+protobuf",
        if_none_match=None,
        now=NOW,
    )
    assert refused.status == 406


def test_index_is_served_with_its_own_etag() -> None:
    body = openapi_documents().index(kinds=BUILTIN_KINDS)
    answer = serve_index(body, if_none_match=None)
    etag = '"' + hashlib.sha512(body).hexdigest().upper() + '"'
    assert answer.status == 200
    assert dict(answer.headers) == {
        "Content-Type": "application/json",
        "Etag": etag,
        "Cache-Control": "no-cache, private",
    }
    assert serve_index(body, if_none_match=etag).status == 304


def test_expires_rolls_a_leap_day_over_like_go() -> None:
    document = openapi_documents().document(key="api/v1", kinds=BUILTIN_KINDS)
    answer = serve_document(
        document,
        requested_hash=document.hash,
        accept=None,
        if_none_match=None,
        now=float(timegm((2028, 2, 29, 8, 30, 0))),
    )
    assert dict(answer.headers)["Expires"] == "Thu, 01 Mar 2029 08:30:00 GMT"


# -- kubectl ---------------------------------------------------------------------------------


def test_kubectl_explains_and_validates_from_the_documents(tmp_path: Path) -> None:
    manifest = tmp_path / "csr.yaml"
    manifest.write_text(
        "apiVersion: certificates.k8s.io/v1\nkind: CertificateSigningRequest\n"
        "metadata: {name: x}\nspec: {request: aGk=, signerName: example.com/x}\n"
    )
    with loopback_server() as (url, seen):
        cm = run_kubectl(KUBECTL, url, tmp_path, "explain", "configmaps.data")
        csr = run_kubectl(KUBECTL, url, tmp_path, "explain", "csr.spec")
        events = run_kubectl(
            KUBECTL, url, tmp_path, "explain", "events.regarding", "--api-version=events.k8s.io/v1"
        )
        create = run_kubectl(
            KUBECTL, url, tmp_path, "create", "-f", str(manifest), "--dry-run=client", "-o", "name"
        )
    assert cm.returncode == 0, cm.stderr
    assert "FIELD: data <map[string]string>" in cm.stdout
    assert csr.returncode == 0, csr.stderr
    assert "signerName\t<string> -required-" in csr.stdout
    assert events.returncode == 0, events.stderr
    assert "KIND:       Event" in events.stdout
    assert "GROUP:      events.k8s.io" in events.stdout
    assert create.returncode == 0, create.stderr
    assert create.stdout.strip() == "certificatesigningrequest.certificates.k8s.io/x"
    assert ("/openapi/v3/apis/certificates.k8s.io/v1", "application/json") in seen
