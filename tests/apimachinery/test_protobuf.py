"""Kubernetes protobuf request bodies decode to the JSON a JSON client would have sent.

Upstream's round-trip fixtures (``tests/fixtures/protobuf``, copied byte for byte from
k8s.io/api and apiextensions-apiserver ``testdata/HEAD``) fill every field; the hand-built bodies
below cover what they do not: zero values as kubectl's Go marshaller writes them, absent
fields, the special types' edge cases, and every error with the apiserver's message. A
bit-flip / truncation fuzz loop checks that no input raises anything but `ProtobufError`.
"""

from __future__ import annotations

import random
import struct
from pathlib import Path
from typing import Any

import orjson
import pytest

from kcp_edge.apimachinery import protobuf
from kcp_edge.apimachinery.protobuf import (
    MalformedProtobufError,
    NotProtobufError,
    ProtobufError,
    UnknownKindError,
)
from kcp_edge.apimachinery.protobuf_wire import format_duration, format_micro_time, format_time

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "protobuf"
VECTORS = sorted(path.stem for path in FIXTURES.glob("*.pb"))

# --- a tiny protobuf writer for hand-built bodies ---------------------------------------------


def varint(value: int) -> bytes:
    value &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def tag(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def ld(number: int, payload: bytes | str) -> bytes:
    """A length-delimited field (string, bytes or message)."""
    data = payload.encode() if isinstance(payload, str) else payload
    return tag(number, 2) + varint(len(data)) + data


def num(number: int, value: int) -> bytes:
    return tag(number, 0) + varint(value)


def entry(number: int, key: str, value: bytes | str | None) -> bytes:
    """A map entry; None leaves the value out."""
    return ld(number, ld(1, key) + (b"" if value is None else ld(2, value)))


def envelope(api_version: str, kind: str, raw: bytes) -> bytes:
    type_meta = ld(1, api_version) + ld(2, kind)
    return b"k8s\x00" + ld(1, type_meta) + ld(2, raw) + ld(3, "") + ld(4, "")


def object_meta(name: str) -> bytes:
    """ObjectMeta as client-go writes it for a new object: every non-pointer field present."""
    strings = b"".join(
        ld(number, value) for number, value in enumerate([name, "", "", "", "", ""], 1)
    )
    return strings + num(7, 0) + ld(8, b"")


# --- upstream vectors -------------------------------------------------------------------------


def test_all_38_upstream_vectors_are_present() -> None:
    assert len(list(FIXTURES.iterdir())) == 38
    assert len(VECTORS) == 19


@pytest.mark.parametrize("name", VECTORS)
def test_every_upstream_vector_decodes_to_its_json_twin(name: str) -> None:
    want = orjson.loads((FIXTURES / f"{name}.json").read_bytes())
    assert protobuf.decode((FIXTURES / f"{name}.pb").read_bytes()) == want


def test_kinds_map_to_messages_with_core_for_the_legacy_group() -> None:
    assert protobuf.message_for_kind("v1", "Pod") == "k8s.io.api.core.v1.Pod"
    assert protobuf.message_for_kind("apps/v1", "Deployment") == "k8s.io.api.apps.v1.Deployment"
    assert protobuf.message_for_kind("core/v1", "Pod") is None
    assert protobuf.message_for_kind("v1", "Table") is None


# --- zero values as kubectl writes them ------------------------------------------------------


def test_configmap_with_only_a_name_and_an_empty_data_map() -> None:
    body = envelope("v1", "ConfigMap", ld(1, object_meta("y")))
    assert protobuf.decode(body) == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "y"},
    }


def test_configmap_entries_keep_empty_values_and_missing_values_are_empty() -> None:
    raw = (
        ld(1, object_meta("y"))
        + entry(2, "a", "1")
        + entry(2, "empty", "")
        + entry(2, "none", None)
    )
    decoded = protobuf.decode(envelope("v1", "ConfigMap", raw))
    assert decoded["data"] == {"a": "1", "empty": "", "none": ""}


def test_secret_binary_data_is_base64_and_a_false_pointer_is_kept() -> None:
    raw = (
        ld(1, object_meta("s"))
        + entry(2, "bin", b"\x00\xff\xfe\x01")
        + entry(2, "nothing", None)
        + ld(3, "Opaque")
        + num(5, 0)
    )
    assert protobuf.decode(envelope("v1", "Secret", raw)) == {
        "kind": "Secret",
        "apiVersion": "v1",
        "metadata": {"name": "s"},
        "data": {"bin": "AP/+AQ==", "nothing": ""},
        "type": "Opaque",
        "immutable": False,
    }


def test_namespace_without_spec_gets_the_empty_structs_go_writes() -> None:
    absent = protobuf.decode(envelope("v1", "Namespace", ld(1, object_meta("ns"))))
    written = protobuf.decode(
        envelope("v1", "Namespace", ld(1, object_meta("ns")) + ld(2, b"") + ld(3, b""))
    )
    assert (
        absent
        == written
        == {
            "kind": "Namespace",
            "apiVersion": "v1",
            "metadata": {"name": "ns"},
            "spec": {},
            "status": {},
        }
    )


def test_event_zero_times_are_dropped_and_non_omitempty_strings_kept() -> None:
    raw = (
        ld(1, object_meta("e"))
        + ld(2, b"")
        + ld(3, "Started")
        + ld(6, b"")  # firstTimestamp: the zero Time is an empty message
        + ld(7, num(1, 0))  # lastTimestamp: seconds 0 is the Unix epoch, not the zero time
        + num(8, 0)
        + ld(10, b"")  # eventTime (MicroTime): zero
    )
    assert protobuf.decode(envelope("v1", "Event", raw)) == {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": {"name": "e"},
        "involvedObject": {},
        "reason": "Started",
        "source": {},
        "lastTimestamp": "1970-01-01T00:00:00Z",
        "reportingComponent": "",
        "reportingInstance": "",
    }


def test_auth_can_i_self_subject_access_review_as_kubectl_sends_it() -> None:
    attributes = b"".join(
        ld(number, value)
        for number, value in enumerate(["kube-system", "get", "", "", "pods", "", ""], 1)
    )
    raw = (
        ld(1, object_meta("")) + ld(2, ld(1, attributes)) + ld(3, num(1, 0) + ld(2, "") + ld(3, ""))
    )
    assert protobuf.decode(envelope("authorization.k8s.io/v1", "SelfSubjectAccessReview", raw)) == {
        "kind": "SelfSubjectAccessReview",
        "apiVersion": "authorization.k8s.io/v1",
        "metadata": {},
        "spec": {
            "resourceAttributes": {"namespace": "kube-system", "verb": "get", "resource": "pods"}
        },
        "status": {"allowed": False},
    }


def test_embedded_structs_are_merged_into_their_parent() -> None:
    name = "k8s.io.api.core.v1.Volume"
    config_map = ld(2, ld(19, ld(1, ld(1, "cm"))))  # volumeSource.configMap.localObjectReference
    assert protobuf.decode_message(name, ld(1, "v") + config_map) == {
        "name": "v",
        "configMap": {"name": "cm"},
    }
    assert protobuf.decode_message(name, b"") == {"name": ""}  # no omitempty on the name


def test_a_later_zero_scalar_replaces_an_earlier_value() -> None:
    meta = "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    assert protobuf.decode_message(meta, ld(1, "a") + ld(1, "")) == {}
    assert protobuf.decode_message(meta, ld(1, "") + ld(1, "b")) == {"name": "b"}


def test_pointer_zero_replicas_is_kept_and_non_omitempty_nil_selector_is_null() -> None:
    raw = ld(1, object_meta("d")) + ld(2, num(1, 0) + ld(3, b""))
    decoded = protobuf.decode(envelope("apps/v1", "Deployment", raw))
    assert decoded["spec"]["replicas"] == 0
    assert decoded["spec"]["selector"] is None
    # PodSpec.containers has no omitempty: Go writes a nil list as null.
    assert decoded["spec"]["template"] == {"metadata": {}, "spec": {"containers": None}}
    assert decoded["spec"]["strategy"] == {}
    assert decoded["status"] == {}


def test_role_without_rules_writes_null_as_go_does() -> None:
    decoded = protobuf.decode(
        envelope("rbac.authorization.k8s.io/v1", "Role", ld(1, object_meta("r")))
    )
    assert decoded == {
        "kind": "Role",
        "apiVersion": "rbac.authorization.k8s.io/v1",
        "metadata": {"name": "r"},
        "rules": None,
    }


def test_negative_numbers_arrive_as_ten_byte_varints() -> None:
    assert len(varint(-1)) == 10
    data = num(5, -30) + ld(14, num(2, -1)) + num(25, -7)  # int64, int64, int32
    spec = protobuf.decode_message("k8s.io.api.core.v1.PodSpec", data)
    assert spec == {
        "containers": None,
        "activeDeadlineSeconds": -30,
        "securityContext": {"runAsUser": -1},
        "priority": -7,
    }


def test_packed_and_unpacked_repeated_numbers_decode_alike() -> None:
    unpacked = num(4, 1) + num(4, 2) + num(4, 300)
    packed = ld(4, varint(1) + varint(2) + varint(300))
    name = "k8s.io.api.core.v1.PodSecurityContext"
    assert protobuf.decode_message(name, unpacked) == {"supplementalGroups": [1, 2, 300]}
    assert protobuf.decode_message(name, packed) == {"supplementalGroups": [1, 2, 300]}
    assert protobuf.decode_message(name, ld(4, b"")) == {}


def test_unknown_fields_of_every_wire_type_are_skipped() -> None:
    unknown = (
        num(90, 7)
        + tag(91, 1)
        + b"\x00" * 8
        + ld(92, "x")
        + tag(93, 5)
        + b"\x00" * 4
        + tag(94, 3)
        + num(1, 1)
        + tag(94, 4)
    )
    body = envelope("v1", "ConfigMap", unknown + ld(1, object_meta("y")) + unknown)
    assert protobuf.decode(body)["metadata"] == {"name": "y"}


def test_a_singular_message_sent_twice_is_merged_as_protobuf_does() -> None:
    raw = ld(1, ld(1, "y")) + ld(1, ld(3, "ns"))
    assert protobuf.decode(envelope("v1", "ConfigMap", raw))["metadata"] == {
        "name": "y",
        "namespace": "ns",
    }


def test_an_empty_typemeta_takes_the_endpoint_kind() -> None:
    body = b"k8s\x00" + ld(2, ld(1, object_meta("y")))
    decoded = protobuf.decode(body, default_api_version="v1", default_kind="ConfigMap")
    assert decoded == {"kind": "ConfigMap", "apiVersion": "v1", "metadata": {"name": "y"}}


# --- special types ----------------------------------------------------------------------------


def test_int_or_string_is_a_number_or_a_string() -> None:
    name = "k8s.io.api.core.v1.ServicePort"
    assert protobuf.decode_message(name, num(3, 80) + ld(4, num(1, 0) + num(2, 8080))) == {
        "port": 80,
        "targetPort": 8080,
    }
    assert protobuf.decode_message(name, num(3, 80) + ld(4, num(1, 1) + ld(3, "http"))) == {
        "port": 80,
        "targetPort": "http",
    }
    assert protobuf.decode_message(name, b"") == {"port": 0, "targetPort": 0}


def test_quantities_are_their_strings_and_a_missing_one_is_zero() -> None:
    name = "k8s.io.api.core.v1.ResourceRequirements"
    data = entry(1, "cpu", ld(1, "100m")) + entry(2, "memory", ld(1, "1Gi")) + entry(2, "x", None)
    assert protobuf.decode_message(name, data) == {
        "limits": {"cpu": "100m"},
        "requests": {"memory": "1Gi", "x": "0"},
    }


def test_micro_time_keeps_microseconds_and_time_drops_nanos() -> None:
    name = "k8s.io.api.coordination.v1.LeaseSpec"
    stamp = num(1, 1_199_149_261) + num(2, 123_456_789)
    decoded = protobuf.decode_message(name, ld(3, stamp) + ld(4, stamp))
    assert decoded == {
        "acquireTime": "2008-01-01T01:01:01.123456Z",
        "renewTime": "2008-01-01T01:01:01.123456Z",
    }
    meta = protobuf.decode_message("k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta", ld(8, stamp))
    assert meta == {"creationTimestamp": "2008-01-01T01:01:01Z"}


def test_go_time_and_duration_formats() -> None:
    assert format_time(0) == "1970-01-01T00:00:00Z"
    assert format_time(-1) == "1969-12-31T23:59:59Z"
    assert format_time(253_402_300_799) == "9999-12-31T23:59:59Z"
    assert format_time(-62_135_596_800) == "0001-01-01T00:00:00Z"
    assert format_micro_time(0, -1) == "1969-12-31T23:59:59.999999Z"
    assert format_micro_time(1, 1_500_000_000) == "1970-01-01T00:00:02.500000Z"
    cases = {
        0: "0s",
        1: "1ns",
        1_500: "1.5\u00b5s",
        150_000_000: "150ms",
        1_000_000_000: "1s",
        3_723_500_000_000: "1h2m3.5s",
        3_600_000_000_000: "1h0m0s",
        60_000_000_001: "1m0.000000001s",
        -2_000_000: "-2ms",
    }
    assert {value: format_duration(value) for value in cases} == cases


def test_times_outside_years_1_to_9999_are_refused() -> None:
    # Go would write "10000-01-01T00:00:00Z", which its own RFC 3339 parser then refuses.
    meta = "k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    with pytest.raises(MalformedProtobufError, match="outside the years 0001 to 9999"):
        protobuf.decode_message(meta, ld(8, num(1, 253_402_300_800)))
    with pytest.raises(MalformedProtobufError, match="outside the years 0001 to 9999"):
        protobuf.decode_message(meta, ld(8, num(1, -62_135_596_801)))


def test_raw_extension_holds_json_or_a_nested_envelope() -> None:
    as_json = ld(1, "ADDED") + ld(2, ld(1, b'{"kind":"ConfigMap","apiVersion":"v1"}'))
    assert protobuf.decode(envelope("v1", "WatchEvent", as_json)) == {
        "kind": "WatchEvent",
        "apiVersion": "v1",
        "type": "ADDED",
        "object": {"kind": "ConfigMap", "apiVersion": "v1"},
    }
    nested = envelope("v1", "ConfigMap", ld(1, object_meta("y")) + entry(2, "k", "v"))
    decoded = protobuf.decode(envelope("v1", "WatchEvent", ld(1, "ADDED") + ld(2, ld(1, nested))))
    assert decoded["object"] == {
        "kind": "ConfigMap",
        "apiVersion": "v1",
        "metadata": {"name": "y"},
        "data": {"k": "v"},
    }
    empty = protobuf.decode(envelope("v1", "WatchEvent", ld(1, "DELETED") + ld(2, b"")))
    assert empty == {"kind": "WatchEvent", "apiVersion": "v1", "type": "DELETED", "object": None}


def test_schema_unions_of_apiextensions() -> None:
    name = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"
    string_schema = ld(5, "string")
    data = (
        ld(24, ld(1, string_schema))  # items: one schema
        + ld(30, num(1, 0))  # additionalProperties: false
        + ld(33, ld(2, string_schema))  # additionalItems: a schema
        + entry(32, "a", ld(2, "b") + ld(2, "c"))  # dependencies: a string list
        + entry(32, "d", ld(1, string_schema))  # dependencies: a schema
        + ld(8, ld(1, b'{"x": [1, 2.5]}'))  # default: raw JSON
        + ld(20, ld(1, b'"a"'))
        + ld(20, ld(1, b"null"))
        + tag(38, 0)
        + b"\x00"  # x-kubernetes-preserve-unknown-fields: false (a pointer, so kept)
    )
    assert protobuf.decode_message(name, data) == {
        "default": {"x": [1, 2.5]},
        "enum": ["a", None],
        "items": {"type": "string"},
        "additionalProperties": False,
        "dependencies": {"a": ["b", "c"], "d": {"type": "string"}},
        "additionalItems": {"type": "string"},
        "x-kubernetes-preserve-unknown-fields": False,
    }


def test_doubles_are_little_endian_fixed64() -> None:
    name = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"
    data = tag(9, 1) + struct.pack("<d", 9.5) + tag(11, 1) + struct.pack("<d", 0.0)
    assert protobuf.decode_message(name, data) == {"maximum": 9.5, "minimum": 0.0}


# --- errors, with the apiserver's messages ----------------------------------------------------

CONFIGMAP = (FIXTURES / "core.v1.ConfigMap.pb").read_bytes()


def decode_error(body: bytes) -> ProtobufError:
    with pytest.raises(ProtobufError) as caught:
        protobuf.decode(body, default_api_version="v1", default_kind="ConfigMap")
    return caught.value


def test_bodies_that_are_not_protobuf() -> None:
    empty = decode_error(b"")
    assert isinstance(empty, NotProtobufError)
    assert (
        str(empty)
        == "the object provided is unrecognized (must be of type ConfigMap): empty data (<empty>)"
    )
    json_body = decode_error(b'{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"x"}}')
    assert str(json_body) == (
        "the object provided is unrecognized (must be of type ConfigMap): provided data does "
        'not appear to be a protobuf message, expected prefix [107 56 115 0] ({"kind":"ConfigMap",'
        '"apiVersio ...)'
    )
    assert decode_error(b"k8s\x00").reason == "empty body"
    assert isinstance(decode_error(b"k8s"), NotProtobufError)


def test_a_truncated_envelope_is_unexpected_eof() -> None:
    error = decode_error(CONFIGMAP[:-1])
    assert isinstance(error, MalformedProtobufError)
    assert str(error) == (
        "the object provided is unrecognized (must be of type ConfigMap): unexpected EOF "
        f"({CONFIGMAP[:30].hex()} ...)"
    )


def test_malformed_objects_name_the_kind_from_the_envelope() -> None:
    cases = {
        num(1, 1): "proto: wrong wireType = 0 for field metadata",
        tag(1, 2) + b"\xff" * 11: "proto: integer overflow",
        tag(1, 2) + varint(-1): "proto: negative length found during unmarshaling",
        ld(1, b"\x0a\x05ab"): "unexpected EOF",
        b"\x00\x01": "proto: ConfigMap: illegal tag 0 (wire type 0)",
        tag(9, 4): "proto: ConfigMap: wiretype end group for non-group",
        tag(9, 6): "proto: illegal wireType 6",
        tag(9, 3) + num(1, 1): "unexpected EOF",
        ld(1, ld(1, b"\xff\xfe")): "proto: string field name is not valid UTF-8",
        entry(2, "k", b"\xc3"): "proto: string field data is not valid UTF-8",
    }
    for raw, reason in cases.items():
        error = decode_error(envelope("v1", "ConfigMap", raw))
        assert isinstance(error, MalformedProtobufError)
        assert (error.reason, error.kind, error.api_version) == (reason, "ConfigMap", "v1")
        assert str(error) == f'ConfigMap in version "v1" cannot be handled as a ConfigMap: {reason}'


def test_kinds_without_a_protobuf_form_are_not_registered() -> None:
    error = decode_error(envelope("v1", "Widget", b""))
    assert isinstance(error, UnknownKindError)
    assert str(error) == (
        'Widget in version "v1" cannot be handled as a ConfigMap: no kind "Widget" is registered '
        'for version "v1" in scheme "k8s.io/kubernetes/pkg/api/legacyscheme/scheme.go:30"'
    )
    error = decode_error(envelope("example.com/v1", "Widget", b""))
    assert error.reason.startswith('no kind "Widget" is registered for version "example.com/v1"')


def test_an_envelope_without_kind_and_no_default_is_missing_kind() -> None:
    with pytest.raises(UnknownKindError) as caught:
        protobuf.decode(envelope("v1", "", b""))
    assert (
        caught.value.reason
        == "Object 'Kind' is missing in 'runtime.TypeMeta{APIVersion:\"v1\", Kind:\"\"}'"
    )
    with pytest.raises(UnknownKindError) as caught:
        protobuf.decode(envelope("", "ConfigMap", b""))
    assert caught.value.reason.startswith("Object 'apiVersion' is missing in")


def test_values_json_cannot_carry_are_refused() -> None:
    name = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"
    for bad, reason in [
        (tag(9, 1) + struct.pack("<d", float("nan")), "json: unsupported value: NaN"),
        (tag(9, 1) + struct.pack("<d", float("-inf")), "json: unsupported value: -Inf"),
        (ld(8, ld(1, b"{nope")), "json: invalid JSON content"),
        (ld(8, ld(1, b"\xd9\xd9\xf7\xa0")), "JSON holds CBOR"),
    ]:
        with pytest.raises(MalformedProtobufError, match=reason.split(" ")[0]) as caught:
            protobuf.decode_message(name, bad)
        assert caught.value.reason.startswith(reason)
    with pytest.raises(MalformedProtobufError, match=r"impossible IntOrString\.Type"):
        protobuf.decode_message("k8s.io.api.core.v1.ServicePort", ld(4, num(1, 2)))


def nested_schema(levels: int) -> bytes:
    data = b""
    for _ in range(levels):
        data = ld(28, data)  # JSONSchemaProps.not
    return data


def test_nesting_deeper_than_100_messages_is_refused() -> None:
    name = "k8s.io.apiextensions_apiserver.pkg.apis.apiextensions.v1.JSONSchemaProps"
    value: Any = protobuf.decode_message(name, nested_schema(99))
    depth = 1
    while value:
        value = value["not"]
        depth += 1
    assert depth == 100
    with pytest.raises(MalformedProtobufError, match="maximum depth of 100"):
        protobuf.decode_message(name, nested_schema(100))
    # Through the envelope: watch events nested in RawExtensions, two messages a level.
    event = envelope("v1", "ConfigMap", b"")
    for _ in range(60):
        event = envelope("v1", "WatchEvent", ld(1, "ADDED") + ld(2, ld(1, event)))
    error = decode_error(event)
    assert isinstance(error, MalformedProtobufError)
    assert str(error) == (
        'WatchEvent in version "v1" cannot be handled as a ConfigMap: '
        "proto: message nesting exceeds the maximum depth of 100"
    )


def test_random_corruption_raises_only_protobuf_errors() -> None:
    rng = random.Random(20260724)
    bodies = [(FIXTURES / f"{name}.pb").read_bytes() for name in VECTORS]
    outcomes = {"decoded": 0, "refused": 0}
    for iteration in range(4000):
        body = bytearray(rng.choice(bodies))
        mutation = iteration % 4
        if mutation == 0:
            for _ in range(rng.randint(1, 4)):
                position = rng.randrange(4, len(body))
                body[position] ^= 1 << rng.randrange(8)
        elif mutation == 1:
            del body[rng.randrange(len(body)) :]
        elif mutation == 2:
            position = rng.randrange(4, len(body))
            body[position:position] = bytes(rng.randrange(256) for _ in range(rng.randint(1, 8)))
        else:
            position = rng.randrange(4, len(body))
            body[position] = rng.choice([0x00, 0x7F, 0x80, 0xFF])
        try:
            decoded = protobuf.decode(bytes(body))
        except ProtobufError:
            outcomes["refused"] += 1
        else:
            assert isinstance(decoded, dict)
            orjson.dumps(decoded)  # whatever decodes is valid JSON
            outcomes["decoded"] += 1
    assert outcomes["decoded"] > 100
    assert outcomes["refused"] > 100
