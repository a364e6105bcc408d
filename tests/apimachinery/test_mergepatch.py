"""RFC 7386 JSON merge patch as kube-apiserver applies it (gopkg.in/evanphx/json-patch.v4).

The patches are the ones kubectl sends as merge patches: ``label``, ``annotate``, ``scale``,
``patch --type=merge``; the RFC's own examples (its appendix A) are checked too, with the two
places where the library, and so the apiserver, answers differently.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kcp_edge.apimachinery.mergepatch import (
    MergePatchBadRequestError,
    MergePatchDocumentError,
    MergePatchError,
    apply_merge_patch,
    decode_json,
    decode_merge_patch,
    go_v,
)


def deployment() -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "labels": {"app": "web", "tier": "front"}},
        "spec": {
            "replicas": 1,
            "template": {
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:1"},
                        {"name": "log", "image": "busybox"},
                    ]
                }
            },
        },
    }


def test_kubectl_label_adds_and_removes_labels() -> None:
    result = apply_merge_patch(deployment(), {"metadata": {"labels": {"env": "prod"}}})
    assert result["metadata"]["labels"] == {"app": "web", "tier": "front", "env": "prod"}
    result = apply_merge_patch(deployment(), {"metadata": {"labels": {"tier": None}}})
    assert result["metadata"]["labels"] == {"app": "web"}


def test_kubectl_annotate_creates_the_annotations_map() -> None:
    patch = {"metadata": {"annotations": {"note": "hello", "gone": None}}}
    assert apply_merge_patch(deployment(), patch)["metadata"]["annotations"] == {"note": "hello"}


def test_kubectl_scale_sets_replicas() -> None:
    assert apply_merge_patch(deployment(), {"spec": {"replicas": 5}})["spec"]["replicas"] == 5


def test_lists_are_replaced_whole() -> None:
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "web", "image": "nginx:2"}]}}}}
    result = apply_merge_patch(deployment(), patch)
    assert result["spec"]["template"]["spec"]["containers"] == [{"name": "web", "image": "nginx:2"}]


def test_added_values_lose_their_null_members_at_any_depth() -> None:
    patch = {
        "spec": {"strategy": {"type": "Recreate", "rollingUpdate": None, "x": [{"a": None}, None]}}
    }
    result = apply_merge_patch(deployment(), patch)
    assert result["spec"]["strategy"] == {"type": "Recreate", "x": [{}, None]}


def test_an_array_replacing_an_object_is_taken_as_is() -> None:
    result = apply_merge_patch(deployment(), {"spec": [{"a": None}]})
    assert result["spec"] == [{"a": None}]


def test_null_in_the_document_is_replaced_like_a_missing_member() -> None:
    doc = deployment()
    doc["spec"]["selector"] = None
    result = apply_merge_patch(
        doc, {"spec": {"selector": {"matchLabels": {"app": "web", "x": None}}}}
    )
    assert result["spec"]["selector"] == {"matchLabels": {"app": "web"}}


def test_inputs_are_not_modified() -> None:
    doc = deployment()
    patch = {"metadata": {"labels": {"extra": "1"}}, "spec": {"template": {"spec": {"x": [1]}}}}
    before_doc, before_patch = copy.deepcopy(doc), copy.deepcopy(patch)
    result = apply_merge_patch(doc, patch)
    result["spec"]["template"]["spec"]["x"].append(2)
    result["metadata"]["labels"]["more"] = "2"
    assert doc == before_doc
    assert patch == before_patch


@pytest.mark.parametrize(
    ("target", "patch", "result"),
    [
        ({"a": "b"}, {"a": "c"}, {"a": "c"}),
        ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
        ({"a": "b"}, {"a": None}, {}),
        ({"a": "b", "b": "c"}, {"a": None}, {"b": "c"}),
        ({"a": ["b"]}, {"a": "c"}, {"a": "c"}),
        ({"a": "c"}, {"a": ["b"]}, {"a": ["b"]}),
        ({"a": {"b": "c"}}, {"a": {"b": "d", "c": None}}, {"a": {"b": "d"}}),
        ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
        (["a", "b"], ["c", "d"], ["c", "d"]),
        ({"a": "b"}, ["c"], ["c"]),
        ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
        ([1, 2], {"a": "b", "c": None}, {"a": "b"}),
        ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
    ],
)
def test_rfc7386_appendix_examples(target: Any, patch: Any, result: Any) -> None:
    assert apply_merge_patch(target, patch) == result


@pytest.mark.parametrize("patch", [None, "bar", 3, True])
def test_a_patch_that_is_not_an_object_or_array_is_refused(patch: Any) -> None:
    """RFC 7386 would make these the result; evanphx/json-patch refuses them."""
    with pytest.raises(MergePatchBadRequestError) as caught:
        apply_merge_patch({"a": "foo"}, patch)
    assert (caught.value.code, caught.value.reason, str(caught.value)) == (
        400,
        "BadRequest",
        "Invalid JSON Patch",
    )


def test_a_null_document_is_an_internal_error() -> None:
    with pytest.raises(MergePatchDocumentError) as caught:
        apply_merge_patch(None, {"a": 1})
    assert (caught.value.code, str(caught.value)) == (500, "Invalid JSON Document")


@pytest.mark.parametrize(
    ("body", "strict", "message"),
    [
        (b"{x}", False, "Invalid JSON Patch"),
        (
            b"{x}",
            True,
            "error decoding patch: invalid character 'x' looking for beginning of object key "
            "string",
        ),
        (
            b"[1]",
            True,
            "error decoding patch: json: cannot unmarshal array into Go value of type "
            "map[string]interface {}",
        ),
        (
            b'"x"',
            True,
            "error decoding patch: json: cannot unmarshal string into Go value of type "
            "map[string]interface {}",
        ),
        (b"", False, "Invalid JSON Patch"),
        (b'{"a":1', True, "error decoding patch: unexpected end of JSON input"),
    ],
)
def test_bodies_that_do_not_decode(body: bytes, strict: bool, message: str) -> None:
    with pytest.raises(MergePatchError) as caught:
        decode_merge_patch(body, strict=strict)
    assert (caught.value.code, str(caught.value)) == (400, message)


def test_bodies_that_decode() -> None:
    assert decode_merge_patch(b'{"metadata":{"labels":{"a":null}}}') == {
        "metadata": {"labels": {"a": None}}
    }
    assert decode_merge_patch(b"[1]") == [1]
    assert decode_merge_patch(b"null", strict=True) is None
    assert decode_json(b'{"a": "\xff"}') == {"a": "\ufffd"}


def test_go_v_prints_values_as_go_does() -> None:
    value = {"b": [1, 2.5, True, None], "a": {"z": "s", "y": 1e21}, "c": 1e-05, "d": 123456.0}
    assert go_v(value) == "map[a:map[y:1e+21 z:s] b:[1 2.5 true <nil>] c:1e-05 d:123456]"
    assert go_v(1234567.0) == "1.234567e+06"
    assert go_v(100.0) == "100"


@pytest.mark.parametrize(
    "patch",
    [
        {"metadata": {"labels": {"tier": None, "env": "prod"}}},
        {"spec": {"strategy": {"type": "Recreate", "x": [{"a": None}, None, 1]}}},
        {"spec": {"template": {"spec": {"containers": [{"name": "only", "image": None}]}}}},
        {"spec": {"replicas": {"a": None}}},
    ],
)
def test_results_match_kubectl_patch_local(patch: dict[str, Any], tmp_path: Path) -> None:
    """``kubectl patch --local --type=merge`` runs the same evanphx/json-patch.v4 code."""
    from tests.conftest import KUBECTL

    if KUBECTL is None:
        pytest.skip("kubectl is not installed next to the Python interpreter")
    manifest = tmp_path / "deploy.json"
    manifest.write_text(json.dumps(deployment()))
    args = ["patch", "--local", "-f", str(manifest), "--type", "merge", "-o", "json"]
    run = subprocess.run(
        [KUBECTL, *args, "-p", json.dumps(patch)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "KUBECONFIG": os.devnull},
    )
    assert run.returncode == 0, run.stderr
    assert apply_merge_patch(deployment(), patch) == json.loads(run.stdout)
