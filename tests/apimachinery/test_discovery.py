"""Discovery documents: their shape as the Python client and kubectl read them, and negotiation.

The bodies are parsed by the real ``kubernetes`` client (``ApiClient.deserialize``, the path its
API calls take) and served to a real kubectl over loopback HTTP by `loopback_server`, a minimal
stand-in for the server's discovery routes built only from the functions under test.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import http.server
import os
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import orjson
import pytest
from kubernetes.client import ApiClient

from kcp_edge.apimachinery import discovery
from kcp_edge.apimachinery.discovery import DiscoveryForm, negotiate
from kcp_edge.apimachinery.openapi import serve_document, serve_index
from kcp_edge.registry.builtin import BUILTIN_KINDS, served_group_versions
from kcp_edge.registry.kinds import ResourceKind
from kcp_edge.registry.openapi_data import openapi_documents
from tests.conftest import KUBECTL, KUBECTL_1_32

ORDER = served_group_versions()
KUBECTL_137_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"
)
KUBECTL_132_ACCEPT = (
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,"
    "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
    "application/json"
)


def deserialize(response: discovery.DiscoveryResponse, model: str) -> Any:
    with ApiClient() as client:
        return client.deserialize(response.body.decode(), model, response.content_type)


def resources_of(response: discovery.DiscoveryResponse) -> dict[str, dict[str, Any]]:
    return {r["name"]: r for r in orjson.loads(response.body)["resources"]}


# -- negotiation -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "form"),
    [
        (KUBECTL_137_ACCEPT, DiscoveryForm.AGGREGATED_V2),
        (KUBECTL_132_ACCEPT, DiscoveryForm.AGGREGATED_V2),
        (
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,"
            "application/json",
            DiscoveryForm.AGGREGATED_V2BETA1,
        ),
        ("application/json", DiscoveryForm.LEGACY),
        ("application/json, */*", DiscoveryForm.LEGACY),
        ("", DiscoveryForm.LEGACY),
        (None, DiscoveryForm.LEGACY),
        # a plain clause never selects the aggregated handler, whatever its position
        (
            "application/json,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList",
            DiscoveryForm.AGGREGATED_V2,
        ),
        # q-values order the clauses
        (
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0.5,"
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList",
            DiscoveryForm.AGGREGATED_V2BETA1,
        ),
        # newer client-go prepends a profile variant; unknown parameters are ignored
        (
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;profile=nopeer,"
            + KUBECTL_137_ACCEPT,
            DiscoveryForm.AGGREGATED_V2,
        ),
        # only JSON is written: a protobuf clause is skipped for the next one
        (
            "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2beta1;"
            "as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2;"
            "as=APIGroupDiscoveryList",
            DiscoveryForm.AGGREGATED_V2,
        ),
        ("*/*;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList", DiscoveryForm.AGGREGATED_V2),
        (
            "application/json;g=apidiscovery.k8s.io;v=v3;as=APIGroupDiscoveryList",
            DiscoveryForm.LEGACY,
        ),
        ("application/json;g=example.com;v=v2;as=APIGroupDiscoveryList", DiscoveryForm.LEGACY),
        ("application/json;as=Table;v=v1;g=meta.k8s.io", DiscoveryForm.LEGACY),
    ],
)
def test_negotiate_picks_the_form_the_apiserver_would(
    accept: str | None, form: DiscoveryForm
) -> None:
    assert negotiate(accept) is form


# -- legacy discovery ------------------------------------------------------------------------


def test_api_versions_parse_into_the_python_client_model_with_cidrs() -> None:
    response = discovery.api_versions(kinds=BUILTIN_KINDS, server_address="10.0.0.1:6443")
    versions = deserialize(response, "V1APIVersions")
    assert versions.versions == ["v1"]
    assert versions.server_address_by_client_cidrs[0].client_cidr == "0.0.0.0/0"
    assert versions.server_address_by_client_cidrs[0].server_address == "10.0.0.1:6443"
    assert response.content_type == "application/json"
    assert dict(response.headers)["Cache-Control"] == "no-cache, private"


def test_api_group_list_lists_groups_in_priority_order_with_whole_dict_preferred_versions() -> None:
    response = discovery.api_group_list(kinds=BUILTIN_KINDS, order=ORDER)
    group_list = deserialize(response, "V1APIGroupList")
    assert [g.name for g in group_list.groups] == [
        "events.k8s.io",
        "authentication.k8s.io",
        "authorization.k8s.io",
        "certificates.k8s.io",
        "rbac.authorization.k8s.io",
        "admissionregistration.k8s.io",
        "apiextensions.k8s.io",
        "coordination.k8s.io",
    ]
    raw = orjson.loads(response.body)
    assert raw["kind"] == "APIGroupList"
    for group in raw["groups"]:
        assert group["preferredVersion"] == group["versions"][0]  # the dynamic client's check


def test_api_group_answers_one_group_and_404s_for_others() -> None:
    response = discovery.api_group(kinds=BUILTIN_KINDS, order=ORDER, group="coordination.k8s.io")
    group = deserialize(response, "V1APIGroup")
    assert group.preferred_version.group_version == "coordination.k8s.io/v1"
    with pytest.raises(discovery.NotFoundError) as caught:
        discovery.api_group(kinds=BUILTIN_KINDS, order=ORDER, group="apps")
    assert str(caught.value) == "the server could not find the requested resource"
    assert caught.value.code == 404


def test_core_resource_list_has_kubectl_fields_and_subresources() -> None:
    response = discovery.api_resource_list(kinds=BUILTIN_KINDS, group="", version="v1")
    model = deserialize(response, "V1APIResourceList")
    assert model.group_version == "v1"
    raw = orjson.loads(response.body)
    assert "apiVersion" not in raw  # as /api/v1 is written upstream
    resources = resources_of(response)
    assert list(resources) == sorted(resources)
    assert set(resources) == {
        "configmaps",
        "events",
        "limitranges",
        "namespaces",
        "namespaces/finalize",
        "namespaces/status",
        "resourcequotas",
        "resourcequotas/status",
        "secrets",
        "serviceaccounts",
        "serviceaccounts/token",
    }
    assert resources["serviceaccounts/token"] == {
        "name": "serviceaccounts/token",
        "singularName": "",
        "namespaced": True,
        "group": "authentication.k8s.io",
        "version": "v1",
        "kind": "TokenRequest",
        "verbs": ["create"],
    }
    assert resources["configmaps"] == {
        "name": "configmaps",
        "singularName": "configmap",
        "namespaced": True,
        "kind": "ConfigMap",
        "verbs": [
            "create",
            "delete",
            "deletecollection",
            "get",
            "list",
            "patch",
            "update",
            "watch",
        ],
        "shortNames": ["cm"],
        "storageVersionHash": "qFsyl6wFWjQ=",
    }
    assert resources["namespaces"]["verbs"] == [
        "create",
        "delete",
        "get",
        "list",
        "patch",
        "update",
        "watch",
    ]
    assert resources["namespaces/status"] == {
        "name": "namespaces/status",
        "singularName": "",
        "namespaced": False,
        "kind": "Namespace",
        "verbs": ["get", "patch", "update"],
    }
    assert resources["namespaces/finalize"]["verbs"] == ["update"]
    short = {name: r.get("shortNames") for name, r in resources.items() if "/" not in name}
    assert short == {
        "configmaps": ["cm"],
        "events": ["ev"],
        "limitranges": ["limits"],
        "namespaces": ["ns"],
        "resourcequotas": ["quota"],
        "secrets": None,
        "serviceaccounts": ["sa"],
    }
    assert all("categories" not in r for r in resources.values())  # no "all" in a workspace


def test_group_resource_lists_parse_and_carry_api_version() -> None:
    for group, version in ORDER:
        if not group:
            continue
        response = discovery.api_resource_list(kinds=BUILTIN_KINDS, group=group, version=version)
        model = deserialize(response, "V1APIResourceList")
        assert model.group_version == f"{group}/{version}"
        assert orjson.loads(response.body)["apiVersion"] == "v1"
    csr = resources_of(
        discovery.api_resource_list(kinds=BUILTIN_KINDS, group="certificates.k8s.io", version="v1")
    )
    assert csr["certificatesigningrequests"]["shortNames"] == ["csr"]
    assert csr["certificatesigningrequests/approval"]["verbs"] == ["get", "patch", "update"]
    assert csr["certificatesigningrequests/status"]["kind"] == "CertificateSigningRequest"
    webhooks = resources_of(
        discovery.api_resource_list(
            kinds=BUILTIN_KINDS, group="admissionregistration.k8s.io", version="v1"
        )
    )
    assert webhooks["mutatingwebhookconfigurations"]["categories"] == ["api-extensions"]


def test_unserved_group_versions_are_not_found() -> None:
    for group, version in (("apps", "v1"), ("", "v2"), ("batch", "v1")):
        with pytest.raises(discovery.NotFoundError):
            discovery.api_resource_list(kinds=BUILTIN_KINDS, group=group, version=version)


def test_subresources_of_another_group_name_their_group_and_version() -> None:
    deployments = ResourceKind(
        group="apps",
        version="v1",
        resource="deployments",
        singular="deployment",
        kind="Deployment",
        namespaced=True,
        short_names=("deploy",),
        categories=("all",),
        subresources=("scale", "status"),
        storage_id=100,
    )
    legacy = resources_of(
        discovery.api_resource_list(kinds=(deployments,), group="apps", version="v1")
    )
    assert legacy["deployments/scale"] == {
        "name": "deployments/scale",
        "singularName": "",
        "namespaced": True,
        "group": "autoscaling",
        "version": "v1",
        "kind": "Scale",
        "verbs": ["get", "patch", "update"],
    }
    assert "group" not in legacy["deployments/status"]
    aggregated = orjson.loads(
        discovery.aggregated(
            kinds=(deployments,),
            order=(("apps", "v1"),),
            core=False,
            form=DiscoveryForm.AGGREGATED_V2,
        ).body
    )
    resource = aggregated["items"][0]["versions"][0]["resources"][0]
    assert resource["categories"] == ["all"]
    assert resource["subresources"][0] == {
        "subresource": "scale",
        "responseKind": {"group": "autoscaling", "version": "v1", "kind": "Scale"},
        "verbs": ["get", "patch", "update"],
    }


def test_storage_version_hash_matches_upstream_value() -> None:
    assert (
        discovery.storage_version_hash(group="", version="v1", kind="ConfigMap") == "qFsyl6wFWjQ="
    )


# -- aggregated discovery --------------------------------------------------------------------


def test_aggregated_core_has_exact_content_type_and_parses_into_the_v2_model() -> None:
    response = discovery.aggregated(
        kinds=BUILTIN_KINDS, order=ORDER, core=True, form=DiscoveryForm.AGGREGATED_V2
    )
    assert response.content_type == (
        "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
    )
    model = deserialize(response, "V2APIGroupDiscoveryList")
    assert [item.metadata.name for item in model.items] == [""]
    version = model.items[0].versions[0]
    assert version.version == "v1"
    assert version.freshness == "Current"
    by_name = {r.resource: r for r in version.resources}
    assert by_name["configmaps"].scope == "Namespaced"
    assert by_name["configmaps"].short_names == ["cm"]
    assert by_name["namespaces"].scope == "Cluster"
    assert by_name["namespaces"].response_kind.kind == "Namespace"
    assert by_name["namespaces"].response_kind.group == ""
    assert [(s.subresource, s.verbs) for s in by_name["namespaces"].subresources] == [
        ("finalize", ["update"]),
        ("status", ["get", "patch", "update"]),
    ]
    assert "pods" not in by_name
    raw = orjson.loads(response.body)
    assert raw["apiVersion"] == "apidiscovery.k8s.io/v2"
    assert raw["metadata"] == {}


def test_aggregated_groups_follow_priorities_and_v2beta1_differs_only_in_version() -> None:
    v2 = discovery.aggregated(
        kinds=BUILTIN_KINDS, order=ORDER, core=False, form=DiscoveryForm.AGGREGATED_V2
    )
    beta = discovery.aggregated(
        kinds=BUILTIN_KINDS, order=ORDER, core=False, form=DiscoveryForm.AGGREGATED_V2BETA1
    )
    assert beta.content_type == (
        "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList"
    )
    model = deserialize(beta, "V2beta1APIGroupDiscoveryList")
    assert [item.metadata.name for item in model.items] == [g for g, _ in ORDER if g]
    v2_raw, beta_raw = orjson.loads(v2.body), orjson.loads(beta.body)
    assert beta_raw["apiVersion"] == "apidiscovery.k8s.io/v2beta1"
    assert v2_raw["items"] == beta_raw["items"]
    every = [r for item in v2_raw["items"] for v in item["versions"] for r in v["resources"]]
    assert all(r["responseKind"]["kind"] for r in every)
    assert all(s["responseKind"] for r in every for s in r.get("subresources", []))


def test_aggregated_etag_is_the_quoted_sha512_of_the_body_and_revalidates() -> None:
    response = discovery.aggregated(
        kinds=BUILTIN_KINDS, order=ORDER, core=False, form=DiscoveryForm.AGGREGATED_V2
    )
    expected = '"' + hashlib.sha512(response.body).hexdigest().upper() + '"'
    assert response.etag == expected
    assert dict(response.headers) == {
        "Content-Type": discovery.AGGREGATED_V2,
        "ETag": expected,
        "Vary": "Accept",
        "Cache-Control": "public",
    }
    assert response.not_modified(expected)
    assert not response.not_modified('"something else"')
    assert not response.not_modified(None)


def test_workspaces_with_the_same_kinds_share_one_document() -> None:
    same_kinds = tuple(dataclasses.replace(k, extra={"workspace": "other"}) for k in BUILTIN_KINDS)
    first = discovery.aggregated(
        kinds=BUILTIN_KINDS, order=ORDER, core=True, form=DiscoveryForm.AGGREGATED_V2
    )
    second = discovery.aggregated(
        kinds=same_kinds, order=ORDER, core=True, form=DiscoveryForm.AGGREGATED_V2
    )
    assert first.body is second.body


def test_aggregated_lists_are_never_null() -> None:
    response = discovery.aggregated(
        kinds=BUILTIN_KINDS, order=(("", "v1"),), core=False, form=DiscoveryForm.AGGREGATED_V2
    )
    assert orjson.loads(response.body)["items"] == []


# -- real kubectl over loopback HTTP ---------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    """Serves discovery and OpenAPI the way the server wires these functions."""

    seen: list[tuple[str, str]]

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self.seen.append((url.path, self.headers.get("Accept", "")))
        status, headers, body = self.answer(url.path, parse_qs(url.query))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def answer(self, path: str, query: dict[str, list[str]]) -> tuple[int, Any, bytes]:
        accept = self.headers.get("Accept")
        form = negotiate(accept)
        try:
            if path in ("/api", "/apis") and form is not DiscoveryForm.LEGACY:
                response = discovery.aggregated(
                    kinds=BUILTIN_KINDS, order=ORDER, core=path == "/api", form=form
                )
            elif path == "/api":
                response = discovery.api_versions(kinds=BUILTIN_KINDS, server_address="x:1")
            elif path == "/apis":
                response = discovery.api_group_list(kinds=BUILTIN_KINDS, order=ORDER)
            elif path == "/openapi/v3":
                index = openapi_documents().index(kinds=BUILTIN_KINDS)
                return serve_index(index, if_none_match=None)
            elif path.startswith("/openapi/v3/"):
                document = openapi_documents().document(
                    key=path.removeprefix("/openapi/v3/"), kinds=BUILTIN_KINDS
                )
                return serve_document(
                    document,
                    requested_hash=query.get("hash", [""])[0],
                    accept=accept,
                    if_none_match=self.headers.get("If-None-Match"),
                    now=time.time(),
                )
            else:
                parts = path.strip("/").split("/")
                group, version = ("", parts[1]) if parts[0] == "api" else (parts[1], parts[2])
                response = discovery.api_resource_list(
                    kinds=BUILTIN_KINDS, group=group, version=version
                )
        except (discovery.DiscoveryError, ValueError, IndexError):
            status = {
                "kind": "Status",
                "apiVersion": "v1",
                "metadata": {},
                "status": "Failure",
                "message": "the server could not find the requested resource",
                "reason": "NotFound",
                "details": {},
                "code": 404,
            }
            return 404, [("Content-Type", "application/json")], orjson.dumps(status)
        return 200, response.headers, response.body

    def log_message(self, format: str, *args: Any) -> None:
        del format, args


@contextlib.contextmanager
def loopback_server() -> Iterator[tuple[str, list[tuple[str, str]]]]:
    """An HTTP server on 127.0.0.1 answering from the functions under test; yields (url, log)."""
    seen: list[tuple[str, str]] = []
    handler = type("Handler", (_Handler,), {"seen": seen})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def run_kubectl(
    binary: str | Path | None, url: str, home: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    if binary is None or not Path(binary).exists():
        pytest.skip(f"kubectl binary {binary} is not installed")
    kubeconfig = home / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        f"clusters: [{{name: c, cluster: {{server: '{url}'}}}}]\n"
        "users: [{name: u, user: {}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    env = {**os.environ, "HOME": str(home), "KUBECONFIG": str(kubeconfig)}
    return subprocess.run(
        [str(binary), *args], capture_output=True, text=True, timeout=60, env=env, check=False
    )


@pytest.mark.parametrize("binary", [KUBECTL, KUBECTL_1_32], ids=["kubectl-1.37", "kubectl-1.32"])
def test_kubectl_api_resources_reads_aggregated_discovery(
    binary: str | Path | None, tmp_path: Path
) -> None:
    with loopback_server() as (url, seen):
        done = run_kubectl(binary, url, tmp_path, "api-resources")
    assert done.returncode == 0, done.stderr
    rows = {tuple(line.split()) for line in done.stdout.splitlines()[1:]}
    assert ("configmaps", "cm", "v1", "true", "ConfigMap") in rows
    assert ("namespaces", "ns", "v1", "false", "Namespace") in rows
    assert ("secrets", "v1", "true", "Secret") in rows
    assert ("events", "ev", "events.k8s.io/v1", "true", "Event") in rows
    assert (
        "certificatesigningrequests",
        "csr",
        "certificates.k8s.io/v1",
        "false",
        "CertificateSigningRequest",
    ) in rows
    assert ("leases", "coordination.k8s.io/v1", "true", "Lease") in rows
    assert len(rows) == len(BUILTIN_KINDS)
    # aggregated discovery was understood: no per-group-version documents were fetched
    assert {path for path, _ in seen} == {"/api", "/apis"}


def test_kubectl_finds_no_pods_and_resolves_short_names(tmp_path: Path) -> None:
    with loopback_server() as (url, _):
        pods = run_kubectl(KUBECTL, url, tmp_path, "get", "pods")
        explain = run_kubectl(KUBECTL, url, tmp_path, "explain", "cm.data")
    assert pods.returncode != 0
    assert 'the server doesn\'t have a resource type "pods"' in pods.stderr
    assert explain.returncode == 0, explain.stderr
    assert "KIND:       ConfigMap" in explain.stdout
