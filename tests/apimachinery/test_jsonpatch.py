"""RFC 6902 JSON patch as kube-apiserver applies it (gopkg.in/evanphx/json-patch.v4).

Each failure is checked twice: the Status the apiserver sends (422 Invalid with a generic
message, 400 or 413) and evanphx's own text, which the apiserver logs but hides and which
``kubectl patch --local`` prints (the last test compares with it).
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from kcp_edge.apimachinery.jsonpatch import (
    MAX_OPERATIONS,
    JSONPatchApplyError,
    JSONPatchDecodeError,
    JSONPatchError,
    JSONPatchTooLargeError,
    apply_json_patch,
    decode_json_patch,
)

GENERIC = "the server rejected our request due to an error in our request"


def config_map() -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": "settings",
            "namespace": "default",
            "annotations": {"example.com/owner~team": "web"},
            "finalizers": ["example.com/a", "example.com/b"],
        },
        "data": {"mode": "prod", "level": "info"},
    }


def apply(doc: dict[str, Any], ops: str) -> Any:
    return apply_json_patch(doc, decode_json_patch(ops.encode()))


def refused(doc: dict[str, Any], ops: str) -> JSONPatchApplyError:
    with pytest.raises(JSONPatchApplyError) as caught:
        apply(doc, ops)
    assert (caught.value.code, caught.value.reason, str(caught.value)) == (422, "Invalid", GENERIC)
    return caught.value


# --- the six operations ------------------------------------------------------------------------


def test_add_remove_replace_on_config_map_data() -> None:
    result = apply(
        config_map(),
        """[{"op": "add", "path": "/data/color", "value": "blue"},
            {"op": "remove", "path": "/data/level"},
            {"op": "replace", "path": "/data/mode", "value": "dev"}]""",
    )
    assert result["data"] == {"mode": "dev", "color": "blue"}


def test_add_to_a_list_by_index_and_with_dash() -> None:
    result = apply(
        config_map(),
        """[{"op": "add", "path": "/metadata/finalizers/-", "value": "example.com/z"},
            {"op": "add", "path": "/metadata/finalizers/0", "value": "example.com/first"}]""",
    )
    assert result["metadata"]["finalizers"] == [
        "example.com/first",
        "example.com/a",
        "example.com/b",
        "example.com/z",
    ]


def test_negative_indices_count_from_the_end() -> None:
    doc = config_map()
    ops = '[{"op": "add", "path": "/metadata/finalizers/-1", "value": "x"}]'
    assert apply(doc, ops)["metadata"]["finalizers"] == ["example.com/a", "example.com/b", "x"]
    ops = '[{"op": "remove", "path": "/metadata/finalizers/-2"}]'
    assert apply(doc, ops)["metadata"]["finalizers"] == ["example.com/b"]
    ops = '[{"op": "replace", "path": "/metadata/finalizers/-1", "value": "y"}]'
    assert apply(doc, ops)["metadata"]["finalizers"] == ["example.com/a", "y"]


def test_move_and_copy() -> None:
    result = apply(
        config_map(),
        """[{"op": "copy", "from": "/data", "path": "/metadata/labels"},
            {"op": "move", "from": "/data/level", "path": "/data/verbosity"}]""",
    )
    assert result["metadata"]["labels"] == {"mode": "prod", "level": "info"}
    assert result["data"] == {"mode": "prod", "verbosity": "info"}


def test_test_operation_guards_the_following_operations() -> None:
    ops = """[{"op": "test", "path": "/data/mode", "value": "prod"},
              {"op": "replace", "path": "/data/mode", "value": "dev"}]"""
    assert apply(config_map(), ops)["data"]["mode"] == "dev"
    err = refused(config_map(), ops.replace('"prod"', '"staging"'))
    assert err.detail == "testing value /data/mode failed: test failed"


def test_test_compares_whole_values_and_types() -> None:
    doc = config_map()
    assert apply(
        doc, '[{"op": "test", "path": "/data", "value": {"level": "info", "mode": "prod"}}]'
    )
    refused(doc, '[{"op": "test", "path": "/data", "value": {"mode": "prod"}}]')
    doc["spec"] = {"replicas": 1}
    refused(doc, '[{"op": "test", "path": "/spec/replicas", "value": 1.0}]')
    refused(doc, '[{"op": "test", "path": "/spec/replicas", "value": true}]')
    assert apply(doc, '[{"op": "test", "path": "/spec/replicas", "value": 1}]')


def test_test_of_a_missing_member_passes_for_null() -> None:
    assert apply(config_map(), '[{"op": "test", "path": "/data/absent", "value": null}]')
    refused(config_map(), '[{"op": "test", "path": "/data/absent", "value": "x"}]')


def test_escaped_pointer_tokens() -> None:
    doc = config_map()
    ops = """[{"op": "copy", "from": "/metadata/annotations/example.com~1owner~0team",
               "path": "/metadata/annotations/a~1b"},
              {"op": "remove", "path": "/metadata/annotations/example.com~1owner~0team"}]"""
    assert apply(doc, ops)["metadata"]["annotations"] == {"a/b": "web"}


def test_replace_of_a_missing_member_adds_it_as_evanphx_v4_does() -> None:
    result = apply(config_map(), '[{"op": "replace", "path": "/data/new", "value": "v"}]')
    assert result["data"]["new"] == "v"


def test_replace_of_the_whole_document() -> None:
    new = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}}
    assert apply(config_map(), json.dumps([{"op": "replace", "path": "", "value": new}])) == new
    err = refused(config_map(), '[{"op": "replace", "path": "", "value": 5}]')
    assert err.detail == "replace operation value must be object or array: %!w(<nil>)"


def test_csa_upgrade_rewrites_managed_fields() -> None:
    """The JSON patch client-go's csaupgrade sends after ``kubectl apply --server-side``."""
    doc = config_map()
    doc["metadata"]["resourceVersion"] = "42"
    doc["metadata"]["managedFields"] = [{"manager": "kubectl-client-side-apply"}]
    managed = [{"manager": "kubectl", "operation": "Apply", "fieldsType": "FieldsV1"}]
    ops = [
        {"op": "replace", "path": "/metadata/managedFields", "value": managed},
        {"op": "replace", "path": "/metadata/resourceVersion", "value": "42"},
    ]
    assert apply_json_patch(doc, ops)["metadata"]["managedFields"] == managed


def test_inputs_are_not_modified() -> None:
    doc = config_map()
    ops = [{"op": "add", "path": "/data/x", "value": {"nested": ["a"]}}]
    before_doc, before_ops = copy.deepcopy(doc), copy.deepcopy(ops)
    result = apply_json_patch(doc, ops)
    result["data"]["x"]["nested"].append("b")
    assert doc == before_doc
    assert ops == before_ops


def test_a_null_patch_changes_nothing() -> None:
    assert apply(config_map(), "null") == config_map()
    assert apply_json_patch(config_map(), None) == config_map()


# --- operations that do not apply: 422 with the library's text as detail -----------------------


@pytest.mark.parametrize(
    ("ops", "detail"),
    [
        (
            '[{"op": "remove", "path": "/data/absent"}]',
            "error in remove for path: '/data/absent': "
            "Unable to remove nonexistent key: absent: missing value",
        ),
        (
            '[{"op": "remove", "path": "/spec/absent"}]',
            'remove operation does not apply: doc is missing path: "/spec/absent": missing value',
        ),
        (
            '[{"op": "replace", "path": "/spec/x", "value": 1}]',
            "replace operation does not apply: doc is missing path: /spec/x: missing value",
        ),
        (
            '[{"op": "replace", "path": "/metadata/finalizers/5", "value": "x"}]',
            "replace operation does not apply: doc is missing key: /metadata/finalizers/5: "
            "missing value",
        ),
        (
            '[{"op": "add", "path": "/metadata/finalizers/9", "value": "x"}]',
            "error in add for path: '/metadata/finalizers/9': "
            "Unable to access invalid index: 9: invalid index referenced",
        ),
        (
            '[{"op": "add", "path": "/metadata/finalizers/x", "value": "x"}]',
            "error in add for path: '/metadata/finalizers/x': value was not a proper array "
            "index: 'x': strconv.Atoi: parsing \"x\": invalid syntax",
        ),
        (
            '[{"op": "add", "path": "/data/mode/deeper", "value": 1}]',
            'add operation does not apply: doc is missing path: "/data/mode/deeper": missing value',
        ),
        (
            '[{"op": "move", "from": "/data/absent", "path": "/data/x"}]',
            "error in move for path: 'absent': Unable to remove nonexistent key: absent: "
            "missing value",
        ),
        (
            '[{"op": "move", "from": "/data", "path": "/data/inner"}]',
            "move operation does not apply: doc is missing destination path: /data/inner: "
            "missing value",
        ),
        ('[{"op": "add", "value": 1}]', "add operation failed to decode path: missing value"),
        (
            '[{"op": "test", "value": 1}]',
            "test operation failed to decode path: operation missing path field: missing value",
        ),
        ('[{"op": "frob", "path": "/data"}]', "Unexpected kind: frob"),
        ('[{"path": "/data"}]', "Unexpected kind: unknown"),
        ("[null]", "Unexpected kind: unknown"),
        (
            '[{"op": "add", "path": "", "value": {}}]',
            'add operation does not apply: doc is missing path: "": missing value',
        ),
    ],
)
def test_operations_that_do_not_apply(ops: str, detail: str) -> None:
    assert refused(config_map(), ops).detail == detail


def test_copy_is_limited_to_three_mebibytes_in_total() -> None:
    doc = config_map()
    doc["data"]["blob"] = "x" * (1024 * 1024 - 2)  # 1 MiB once JSON-encoded, with its quotes
    ops = [{"op": "copy", "from": "/data/blob", "path": f"/data/c{i}"} for i in range(3)]
    apply_json_patch(doc, ops)
    err = refused(doc, json.dumps([*ops, {"op": "copy", "from": "/data/blob", "path": "/data/c3"}]))
    assert err.detail.startswith("Unable to complete the copy, the accumulated size increase")
    assert err.detail.endswith("exceeding the limit 3145728")


def test_more_than_ten_thousand_operations_is_too_large() -> None:
    ops = [{"op": "test", "path": "/kind", "value": "ConfigMap"}] * (MAX_OPERATIONS + 1)
    with pytest.raises(JSONPatchTooLargeError) as caught:
        apply_json_patch(config_map(), ops)
    assert (caught.value.code, caught.value.reason) == (413, "RequestEntityTooLarge")
    assert str(caught.value) == (
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, "
        "got 10001"
    )
    assert apply_json_patch(config_map(), ops[:MAX_OPERATIONS]) == config_map()


# --- bodies that are not JSON patches: 400 -------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "strict", "message"),
    [
        (
            b'{"op": "add"}',
            False,
            "json: cannot unmarshal object into Go value of type jsonpatch.Patch",
        ),
        (
            b'{"op": "add"}',
            True,
            "error decoding patch: json: cannot unmarshal object into Go value of type "
            "[]handlers.jsonPatchOp",
        ),
        (b'"add"', False, "json: cannot unmarshal string into Go value of type jsonpatch.Patch"),
        (b"[1]", False, "json: cannot unmarshal number into Go value of type jsonpatch.Operation"),
        (
            b'[{"op": "add", "path": 5}]',
            True,
            "error decoding patch: json: cannot unmarshal number into Go struct field "
            "jsonPatchOp.path of type string",
        ),
        (b"[{op: add}]", False, "invalid character 'o' looking for beginning of object key string"),
        (b"[", True, "error decoding patch: unexpected end of JSON input"),
        (b"[] []", False, "invalid character '[' after top-level value"),
        (b"[nul]", False, "invalid character ']' in literal null (expecting 'l')"),
        (b'["\\q"]', False, "invalid character 'q' in string escape code"),
        (b"[-]", False, "invalid character ']' in numeric literal"),
        (b"[1e]", False, "invalid character ']' in exponent of numeric literal"),
        (b"[NaN]", False, "invalid character 'N' looking for beginning of value"),
        (b"\xef\xbb\xbf[]", False, "invalid character '\u00ef' looking for beginning of value"),
    ],
)
def test_bodies_that_are_not_json_patches(body: bytes, strict: bool, message: str) -> None:
    with pytest.raises(JSONPatchDecodeError) as caught:
        decode_json_patch(body, strict=strict)
    assert (caught.value.code, caught.value.reason, str(caught.value)) == (
        400,
        "BadRequest",
        message,
    )
    assert isinstance(caught.value, JSONPatchError)


def test_decoding_keeps_integers_and_accepts_null_operations() -> None:
    ops = decode_json_patch(b'[{"op": "add", "path": "/spec/replicas", "value": 3}, null]')
    assert ops[0]["value"] == 3
    assert isinstance(ops[0]["value"], int)
    assert ops[1] is None


# --- upstream's own answer ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "ops",
    [
        '[{"op": "add", "path": "/metadata/finalizers/-1", "value": "x"}]',
        '[{"op": "replace", "path": "/data/new", "value": "v"}]',
        '[{"op": "add", "path": "data/new", "value": "v"}]',
        '[{"op": "test", "path": "/data/absent", "value": null}]',
        '[{"op": "copy", "from": "/data", "path": "/metadata/labels"}]',
        '[{"op": "remove", "path": "/data/absent"}]',
        '[{"op": "add", "path": "/metadata/finalizers/9", "value": "x"}]',
    ],
)
def test_results_and_details_match_kubectl_patch_local(ops: str, tmp_path: Path) -> None:
    """``kubectl patch --local --type=json`` runs the same evanphx/json-patch.v4 code."""
    from tests.conftest import KUBECTL

    if KUBECTL is None:
        pytest.skip("kubectl is not installed next to the Python interpreter")
    manifest = tmp_path / "cm.json"
    manifest.write_text(json.dumps(config_map()))
    args = ["patch", "--local", "-f", str(manifest), "--type", "json", "-o", "json", "-p", ops]
    run = subprocess.run(
        [KUBECTL, *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "KUBECONFIG": os.devnull},
    )
    try:
        result = apply(config_map(), ops)
    except JSONPatchApplyError as err:
        assert run.returncode != 0
        assert run.stderr.strip() == f"error: {err.detail}"
    else:
        assert run.returncode == 0, run.stderr
        assert result == json.loads(run.stdout)
