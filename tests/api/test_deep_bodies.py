"""Deeply nested and aliased bodies: what is read, what is kept, and where each path says no.

Why this module exists: kube-apiserver reads JSON 10,000 levels deep, drops what a built-in
kind does not declare, prunes custom resources, and resolves YAML aliases within go-yaml's
budget. kcp-edge reads JSON as deep as orjson does (1024 levels) but keeps at most 200 levels
(``kcp_edge/apimachinery/nesting.py``), and every path a deep value can take (create, update,
the three patch types, server-side apply, YAML, reviews) must end in a clear 4xx or a success,
never a 500. Bodies are built as text: Python's own ``json`` cannot write them this deep.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.helpers import (
    NamespaceApi,
    api,
    cluster_path,
    https_call,
    no_server_traceback,
    status_of,
)
from tests.conftest import Response

__all__ = ["api", "cluster_path", "no_server_traceback"]  # fixtures pytest must find here
pytestmark = pytest.mark.usefixtures("no_server_traceback")

LIMIT = 200
"""``nesting.MAX_DEPTH``: levels of nesting kept, the object itself being the first."""
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def chain(levels: int, leaf: str = "1") -> str:
    """JSON text of ``levels`` objects nested in one another around ``leaf`` (``{"a":{"a":1}}``
    is 2 levels; a ``{}`` leaf is one more)."""
    return '{"a":' * levels + leaf + "}" * levels


def blob(name: str, spec_levels: int, group: str) -> str:
    """A Blob whose ``spec`` nests ``spec_levels`` levels: the object nests one more."""
    head = f'{{"apiVersion":"{group}/v1","kind":"Blob","metadata":{{"name":"{name}"}}'
    return f'{head},"spec":{chain(spec_levels - 1, "{}")}}}'


def expect(resp: Response, code: int, message: str | None = None) -> dict[str, Any]:
    assert resp.status == code, resp
    if code < 400:
        body: dict[str, Any] = json.loads(resp.body)
        return body
    status = status_of(resp)
    if message is not None:
        assert status["message"] == message
    return status


class Blobs:
    """A CRD whose ``spec`` keeps anything (``x-kubernetes-preserve-unknown-fields``) and whose
    ``pruned`` field keeps only ``x``."""

    def __init__(self, api: NamespaceApi) -> None:
        self.api = api
        self.group = f"t{uuid.uuid4().hex[:8]}.example.com"
        self.path = f"{api.prefix}/apis/{self.group}/v1/namespaces/{api.namespace}/blobs"

    def crd(self) -> dict[str, Any]:
        schema = {
            "type": "object",
            "properties": {
                "spec": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
                "pruned": {"type": "object", "properties": {"x": {"type": "string"}}},
            },
        }
        version = {"name": "v1", "served": True, "storage": True}
        return {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"blobs.{self.group}"},
            "spec": {
                "group": self.group,
                "scope": "Namespaced",
                "names": {"plural": "blobs", "singular": "blob", "kind": "Blob"},
                "versions": [{**version, "schema": {"openAPIV3Schema": schema}}],
            },
        }

    def install(self) -> None:
        crds = f"{self.api.prefix}/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        expect(self.api.call("POST", crds, json.dumps(self.crd()), "application/json"), 201)
        deadline = time.monotonic() + 10
        while self.api.call("GET", self.path).status != 200:
            assert time.monotonic() < deadline, "the CRD is not served"
            time.sleep(0.05)

    def remove(self) -> None:
        crd = f"{self.api.prefix}/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
        crd += f"/blobs.{self.group}"
        self.api.call("DELETE", crd)

    def create(self, name: str, spec_levels: int) -> Response:
        body = blob(name, spec_levels, self.group)
        return self.api.call("POST", f"{self.path}?fieldManager=deep", body, "application/json")

    def get(self, name: str = "", accept: str = "", query: str = "") -> Response:
        path = self.path + (f"/{name}" if name else "")
        path += f"?{query}" if query else ""
        headers = {"Accept": accept} if accept else None
        return https_call(self.api.server, "GET", path, headers=headers)

    def too_deep(self) -> str:
        return f'Blob in version "v1" cannot be handled as a Blob: exceeded max depth of {LIMIT}'


@pytest.fixture
def blobs(api: NamespaceApi) -> Iterator[Blobs]:
    kind = Blobs(api)
    kind.install()
    yield kind
    kind.remove()


# --- custom resources: preserved content is kept, so it is held to the limit ---------------------


def test_preserved_content_at_the_limit_is_stored_and_served(blobs: Blobs) -> None:
    created = expect(blobs.create("edge", LIMIT - 1), 201)
    assert created["metadata"]["managedFields"]  # recorded five levels deeper than the fields
    assert json.loads(blobs.get("edge").body)["spec"] == created["spec"]
    expect(blobs.get("edge", TABLE), 200)
    rows = expect(blobs.get(accept=TABLE, query="includeObject=Object"), 200)["rows"]
    assert rows[0]["object"]["spec"] == created["spec"]
    watched = blobs.get(query="watch=1&timeoutSeconds=1")
    assert watched.status == 200 and b'"ADDED"' in watched.body
    # A read-modify-write keeps it, managedFields and all.
    current = blobs.get("edge").body
    expect(blobs.api.call("PUT", f"{blobs.path}/edge", current, "application/json"), 200)


def test_preserved_content_over_the_limit_is_refused_and_nothing_stored(blobs: Blobs) -> None:
    for spec_levels in (LIMIT, 600):
        expect(blobs.create("over", spec_levels), 400, blobs.too_deep())
    assert blobs.api.names(blobs.path) == []


def test_content_pruned_away_may_be_deeper_than_the_limit(blobs: Blobs) -> None:
    head = f'{{"apiVersion":"{blobs.group}/v1","kind":"Blob","metadata":{{"name":"pruned"}}'
    body = f'{head},"spec":{{}},"pruned":{{"x":"kept","y":{chain(900)}}}}}'
    created = expect(blobs.api.call("POST", blobs.path, body, "application/json"), 201)
    assert created["pruned"] == {"x": "kept"}


# --- patches -------------------------------------------------------------------------------------


def test_a_merge_patch_adding_deep_content(blobs: Blobs) -> None:
    expect(blobs.create("m", 1), 201)
    url = f"{blobs.path}/m"
    at_limit = f'{{"spec":{{"deep":{chain(LIMIT - 2)}}}}}'  # spec is level 2 of the object
    patched = expect(blobs.api.call("PATCH", url, at_limit, "application/merge-patch+json"), 200)
    assert json.dumps(patched["spec"]["deep"]).count("{") == LIMIT - 2
    over = f'{{"spec":{{"deeper":{chain(LIMIT - 1)}}}}}'
    expect(
        blobs.api.call("PATCH", url, over, "application/merge-patch+json"),
        400,
        "Invalid JSON Patch",  # what evanphx/json-patch says of a document Go will not read
    )
    expect(
        blobs.api.call(
            "PATCH", url + "?fieldValidation=Strict", over, "application/merge-patch+json"
        ),
        400,
        "error decoding patch: invalid character '{' exceeded max depth",
    )
    assert "deeper" not in json.loads(blobs.get("m").body)["spec"]


def test_a_json_patch_adding_deep_content(blobs: Blobs) -> None:
    expect(blobs.create("j", 100), 201)  # spec.a.a... : 100 levels under spec
    url = f"{blobs.path}/j"
    add = '[{{"op":"add","path":"{path}","value":{value}}}]'
    at_limit = add.format(path="/spec/b", value=chain(LIMIT - 2))
    expect(blobs.api.call("PATCH", url, at_limit, "application/json-patch+json"), 200)
    # A shallow patch can still make the object too deep: the value goes 100 levels down.
    deep_path = "/spec" + "/a" * 99 + "/c"
    over = add.format(path=deep_path, value=chain(LIMIT - 100))
    expect(blobs.api.call("PATCH", url, over, "application/json-patch+json"), 400, blobs.too_deep())
    # So can a copy of what is already there.
    copy = f'[{{"op":"copy","from":"/spec","path":"{deep_path}"}}]'
    expect(blobs.api.call("PATCH", url, copy, "application/json-patch+json"), 400, blobs.too_deep())
    too_long = add.format(path="/spec/d", value=chain(LIMIT))
    expect(
        blobs.api.call("PATCH", url, too_long, "application/json-patch+json"),
        400,
        "invalid character '{' exceeded max depth",
    )
    spec = json.loads(blobs.get("j").body)["spec"]
    assert sorted(spec) == ["a", "b"]


def test_json_patch_copies_that_keep_doubling_the_depth(blobs: Blobs) -> None:
    expect(blobs.create("c", 100), 201)
    below = "/spec" + "/a" * 99 + "/c"
    ops = [
        {"op": "copy", "from": "/spec", "path": below},  # 201 levels: over, but not yet checked
        {"op": "copy", "from": "/spec", "path": below + "/a" * 99 + "/c"},  # 301
        {"op": "copy", "from": "/spec", "path": "/spec/z"},  # more than orjson can copy
    ]
    expect(
        blobs.api.call("PATCH", f"{blobs.path}/c", json.dumps(ops), "application/json-patch+json"),
        400,
        f"error in copy for from: '/spec': exceeded max depth of {LIMIT}",
    )
    # Two copies deep and a field to prune, strictly: the Strict error would quote the whole
    # result, which is too deep to write, so the depth is the answer.
    strict = [{"op": "add", "path": "/pruned", "value": {"y": 1}}, *ops[:2]]
    expect(
        blobs.api.call(
            "PATCH",
            f"{blobs.path}/c?fieldValidation=Strict",
            json.dumps(strict),
            "application/json-patch+json",
        ),
        400,
        blobs.too_deep(),
    )
    assert sorted(json.loads(blobs.get("c").body)["spec"]) == ["a"]


def test_server_side_apply_is_held_to_the_limit(blobs: Blobs) -> None:
    url = f"{blobs.path}/s?fieldManager=deep&force=true"
    applied = blob("s", LIMIT - 1, blobs.group)
    expect(blobs.api.call("PATCH", url, applied, "application/apply-patch+yaml"), 201)
    over = blob("s", LIMIT, blobs.group)
    expect(
        blobs.api.call("PATCH", url, over, "application/apply-patch+yaml"),
        400,
        f"error converting YAML to JSON: yaml: exceeded max depth of {LIMIT}",
    )


# --- built-in kinds: unknown fields are dropped, whatever their depth ----------------------------


def test_unknown_fields_are_dropped_even_past_the_kept_limit(api: NamespaceApi) -> None:
    head = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u","bogus":1}'
    body = f'{head},"data":{{"k":"v"}},"extra":{chain(1000)}}}'
    resp = api.call("POST", api.path(), body, "application/json")
    created = expect(resp, 201)
    assert resp.headers["warning"].startswith('299 - "unknown field ')
    assert "extra" not in created and "bogus" not in created["metadata"]
    assert created["data"] == {"k": "v"}


def test_unknown_fields_are_dropped_with_field_validation_ignore(api: NamespaceApi) -> None:
    body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"i"},"extra":1}'
    resp = api.call("POST", api.path(query="fieldValidation=Ignore"), body, "application/json")
    assert "extra" not in expect(resp, 201)
    assert "warning" not in resp.headers


def test_a_strategic_merge_patch_with_a_deep_unknown_field(api: NamespaceApi) -> None:
    body = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"p"}}'
    expect(api.call("POST", api.path(), body, "application/json"), 201)
    smp = "application/strategic-merge-patch+json"
    patched = expect(
        api.call("PATCH", api.path(name="p"), f'{{"extra":{chain(LIMIT - 1)}}}', smp), 200
    )
    assert "extra" not in patched
    expect(
        api.call("PATCH", api.path(name="p"), f'{{"extra":{chain(LIMIT)}}}', smp),
        400,
        "invalid character '{' exceeded max depth",
    )


def test_json_deeper_than_orjson_reads_is_the_decoders_error(api: NamespaceApi) -> None:
    head = '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"o"}'
    body = f'{head},"extra":{chain(1024)}}}'
    expect(
        api.call("POST", api.path(), body, "application/json"),
        400,
        "the object provided is unrecognized (must be of type ConfigMap): couldn't get "
        "version/kind; json parse error: invalid character '{' exceeded max depth "
        '({"apiVersion":"v1","kind":"Con ...)',
    )
    assert api.names() == []


def test_a_review_is_answered_as_sent_so_it_is_held_to_the_limit(api: NamespaceApi) -> None:
    path = f"{api.prefix}/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
    head = '{"apiVersion":"authorization.k8s.io/v1","kind":"SelfSubjectAccessReview"'
    spec = '"spec":{"resourceAttributes":{"verb":"get","resource":"pods"}}'
    ok = f'{head},{spec},"extra":{chain(LIMIT - 1)}}}'
    expect(api.call("POST", path, ok, "application/json"), 201)
    over = f'{head},{spec},"extra":{chain(LIMIT)}}}'
    expect(
        api.call("POST", path, over, "application/json"),
        400,
        'SelfSubjectAccessReview in version "v1" cannot be handled as a SelfSubjectAccessReview: '
        f"exceeded max depth of {LIMIT}",
    )


# --- YAML ----------------------------------------------------------------------------------------


def block_yaml(name: str, levels: int) -> str:
    """A ConfigMap whose unknown ``extra`` nests in block style: ``levels`` mappings in all."""
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", f"  name: {name}", "extra:"]
    lines += ["  " * depth + "a:" for depth in range(1, levels - 1)]
    lines.append("  " * (levels - 1) + "a: 1")
    return "\n".join(lines) + "\n"


def test_yaml_is_read_to_the_limit(api: NamespaceApi) -> None:
    resp = api.call("POST", api.path(), block_yaml("y", LIMIT), "application/yaml")
    assert "extra" not in expect(resp, 201)
    status = expect(
        api.call("POST", api.path(), block_yaml("z", LIMIT + 1), "application/yaml"), 400
    )
    assert status["message"].startswith(
        "the object provided is unrecognized (must be of type ConfigMap): "
        f"yaml: line {LIMIT + 5}: exceeded max depth of {LIMIT} ("
    )
    assert api.names() == ["y"]


def test_yaml_with_a_few_aliases_and_a_merge_key_is_created(api: NamespaceApi) -> None:
    body = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: few
  labels: &labels {app: web, tier: front}
  annotations: *labels
data:
  <<: *labels
  extra: x
"""
    created = expect(api.call("POST", api.path(), body, "application/yaml"), 201)
    assert created["metadata"]["labels"] == created["metadata"]["annotations"]
    assert created["data"] == {"app": "web", "tier": "front", "extra": "x"}


def aliased(name: str, aliases: int) -> str:
    """A ConfigMap whose unknown ``extra`` holds a 200-item list and ``aliases`` aliases of it.

    go-yaml counts 213 nodes decoded once (the document, the root and metadata mappings, 8
    keys and values, ``extra``'s list, the anchored list and its 200 items) and, per alias, the
    alias node and its 201 nodes again, those 201 as "from aliases". It refuses the document once
    over 100 and 1,000 of those and their share is over 99%: 201k / (213 + 202k) > 0.99
    first holds for k = 207.
    """
    items = ", ".join(str(i) for i in range(200))
    refs = ", ".join(["*a"] * aliases)
    return (
        f"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n"
        f"extra: [&a [{items}], {refs}]\n"
    )


def test_an_alias_expansion_just_within_the_budget_is_created(api: NamespaceApi) -> None:
    resp = api.call("POST", api.path(), aliased("within", 206), "application/yaml")
    assert "extra" not in expect(resp, 201)
    assert resp.headers["warning"] == '299 - "unknown field \\"extra\\""'


def test_an_alias_expansion_just_over_the_budget_is_refused_fast(api: NamespaceApi) -> None:
    body = aliased("over", 207)
    started = time.monotonic()
    resp = api.call("POST", api.path(), body, "application/yaml")
    elapsed = time.monotonic() - started
    status = expect(resp, 400)
    assert status["message"] == (
        "the object provided is unrecognized (must be of type ConfigMap): yaml: document "
        f"contains excessive aliasing ({body[:30].encode().hex()} ...)"
    )
    assert elapsed < 1.0
    apply = api.path(name="over", query="fieldManager=deep")
    expect(
        api.call("PATCH", apply, body, "application/apply-patch+yaml"),
        400,
        "error converting YAML to JSON: yaml: document contains excessive aliasing",
    )
    assert api.names() == []


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param("a: &x [*x]\n", "yaml: anchor 'x' value contains itself", id="recursive"),
        pytest.param("a: *x\n", "yaml: unknown anchor 'x' referenced", id="unknown"),
    ],
)
def test_broken_aliases_are_go_yamls_errors(api: NamespaceApi, body: str, message: str) -> None:
    apply = api.path(name="broken", query="fieldManager=deep")
    expect(
        api.call("PATCH", apply, body, "application/apply-patch+yaml"),
        400,
        f"error converting YAML to JSON: {message}",
    )


def test_a_later_anchor_replaces_an_earlier_one(api: NamespaceApi) -> None:
    body = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: again}\n"
    body += "data: {a: &v one, b: *v, c: &v two, d: *v}\n"
    created = expect(api.call("POST", api.path(), body, "application/yaml"), 201)
    assert created["data"] == {"a": "one", "b": "one", "c": "two", "d": "two"}
