"""Name and metadata validation gives the apiserver's rules and exact 422 texts.

Cases restate upstream's ``util/validation/validation_test.go`` (DNS labels, subdomains,
qualified names, label values), ``api/validation/path/name_test.go``,
``api/validation/objectmeta_test.go`` and ``errors.NewInvalid``.
"""

from __future__ import annotations

import pytest

from kcp_edge.apimachinery import names
from kcp_edge.apimachinery.names import FieldError, InvalidObjectError, NameRule

SUBDOMAIN_RULE = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used "
    "for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
LABEL_RULE = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex "
    "used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
DNS1035_RULE = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
LABEL_VALUE_RULE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or "
    "'my_value',  or '12345', regex used for validation is "
    "'(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)


@pytest.mark.parametrize(
    "name",
    ["a", "ab", "abc", "a1", "a-1", "a--1--2--b", "0", "01", "012", "1a", "1-a", "1--a--b--2",
     "a.a", "ab.a", "a-1.a", "0.a", "a.b.c.d.e", "aa.bb.cc.dd.ee", "1.2.3.4.5", "a" * 253],
)  # fmt: skip
def test_dns_subdomains_upstream_accepts(name: str) -> None:
    assert names.is_dns1123_subdomain(name) == []


@pytest.mark.parametrize(
    "name",
    ["", "A", "ABC", "aBc", "A1", "A-1", "1-A", "-", "a-", "-a", "1-", "-1", "_", "a_", "_a",
     "a_b", "1_", "_1", "1_2", ".", "a.", ".a", "a..b", "1.", ".1", "1..2", " ", "a ", " a",
     "a b", "1 ", " 1", "1 2", "A.a", "aB.a", "ab.A", "A1.a", "a1.A", "A.1", "aB.1", "A1.1",
     "1A.1", "0.A", "01.A", "012.A", "1A.a", "1a.A", "A.B.C.D.E", "AA.BB.CC.DD.EE", "a.B.c.d.e",
     "aa.bB.cc.dd.ee", "a@b", "a,b", "a_b", "a;b", "a:b", "a%b", "a?b", "a$b"],
)  # fmt: skip
def test_dns_subdomains_upstream_refuses(name: str) -> None:
    assert names.is_dns1123_subdomain(name) == [SUBDOMAIN_RULE]


def test_a_subdomain_over_253_bytes_reports_the_length() -> None:
    assert names.is_dns1123_subdomain("a" * 254) == ["must be no more than 253 bytes"]
    assert names.is_dns1123_subdomain("é") == [SUBDOMAIN_RULE]


def test_a_trailing_newline_is_not_forgiven() -> None:
    # Go's regexp anchors $ at the end of text; Python's $ would accept "abc\n".
    assert names.is_dns1123_subdomain("abc\n") == [SUBDOMAIN_RULE]
    assert names.is_label_value("abc\n") == [LABEL_VALUE_RULE]


def test_dns_labels_refuse_dots_and_long_names() -> None:
    assert names.is_dns1123_label("my-ns") == []
    assert names.is_dns1123_label("a.b") == ["must not contain dots"]
    assert names.is_dns1123_label("Ab") == [LABEL_RULE]
    assert names.is_dns1123_label("a" * 64) == ["must be no more than 63 bytes"]


def test_dns1035_labels_must_start_with_a_letter() -> None:
    assert names.is_dns1035_label("svc-1") == []
    assert names.is_dns1035_label("1svc") == [DNS1035_RULE]


@pytest.mark.parametrize(
    ("key", "errors"),
    [
        ("simple", []),
        ("now-with-dashes", []),
        ("1-starts-with-num", []),
        ("1234", []),
        ("simple/simple", []),
        ("now-with-dashes/simple", []),
        ("example.com/Uppercase_And.dots-9", []),
        ("a" * 63, []),
        ("a" * 253 + "/a", []),
        ("/simple", ["prefix part must be non-empty"]),
        ("a" * 64, ["name part must be no more than 63 bytes"]),
        ("a" * 254 + "/a", ["prefix part must be no more than 253 bytes"]),
    ],
)
def test_label_keys(key: str, errors: list[str]) -> None:
    assert names.is_label_key(key) == errors


@pytest.mark.parametrize("key", ["nospecialchars%^=@", "cantendwithadash-", "-cantstartwithadash",
                                 "only/one/slash", "Example.com/abc", "example_com/abc",
                                 "example.com/", "*.example.com/abc"])  # fmt: skip
def test_invalid_label_keys_are_refused(key: str) -> None:
    assert names.is_label_key(key)


def test_an_empty_label_key_reports_both_emptiness_and_the_rule() -> None:
    errors = names.is_label_key("")
    assert errors[0] == "name part must be non-empty"
    assert errors[1].startswith("name part must consist of alphanumeric characters")


@pytest.mark.parametrize(
    "value",
    ["simple", "now-with-dashes", "1-starts-with-num", "end-with-num-1", "1234", "a" * 63, "",
     "Upper_and.dots"],
)  # fmt: skip
def test_label_values_upstream_accepts(value: str) -> None:
    assert names.is_label_value(value) == []


def test_label_values_upstream_refuses() -> None:
    assert names.is_label_value("-dash") == [LABEL_VALUE_RULE]
    assert names.is_label_value("a" * 64) == ["must be no more than 63 bytes"]
    assert names.is_label_value("x" * 63 + "-") == [
        "must be no more than 63 bytes",
        LABEL_VALUE_RULE,
    ]


@pytest.mark.parametrize(
    ("name", "prefix", "errors"),
    [
        ("system:controller:bootstrap-signer", False, []),
        ("Mixed_Case with spaces", False, []),
        (".", False, ["may not be '.'"]),
        ("..", False, ["may not be '..'"]),
        ("..", True, []),
        ("a/b", False, ["may not contain '/'"]),
        ("a%b/c", False, ["may not contain '/'", "may not contain '%'"]),
        ("a%b/c", True, ["may not contain '/'", "may not contain '%'"]),
    ],
)
def test_path_segment_names(name: str, prefix: bool, errors: list[str]) -> None:
    assert names.validate_name(name, rule=NameRule.PATH_SEGMENT, prefix=prefix) == errors


@pytest.mark.parametrize(
    ("group", "resource", "rule"),
    [
        ("", "configmaps", NameRule.DNS1123_SUBDOMAIN),
        ("", "namespaces", NameRule.DNS1123_LABEL),
        ("", "services", NameRule.DNS1035_LABEL),
        ("rbac.authorization.k8s.io", "clusterroles", NameRule.PATH_SEGMENT),
        ("rbac.authorization.k8s.io", "rolebindings", NameRule.PATH_SEGMENT),
        ("certificates.k8s.io", "certificatesigningrequests", NameRule.PATH_SEGMENT),
        ("example.com", "widgets", NameRule.DNS1123_SUBDOMAIN),
    ],
)
def test_name_rules_per_kind(group: str, resource: str, rule: NameRule) -> None:
    assert names.name_rule_for(group, resource) is rule


def test_generate_name_prefixes_may_end_in_a_dash() -> None:
    assert names.validate_name("web-", rule=NameRule.DNS1123_SUBDOMAIN, prefix=True) == []
    assert names.validate_name("ns-", rule=NameRule.DNS1123_LABEL, prefix=True) == []
    assert names.validate_name("web-", rule=NameRule.DNS1123_SUBDOMAIN) == [SUBDOMAIN_RULE]
    assert names.validate_name("Web-", rule=NameRule.DNS1123_SUBDOMAIN, prefix=True) == [
        SUBDOMAIN_RULE
    ]


def test_generated_names_use_five_characters_of_the_upstream_alphabet() -> None:
    for _ in range(50):
        name = names.generate_name("web-")
        assert name.startswith("web-")
        assert len(name) == 9
        assert set(name[4:]) <= set("bcdfghjklmnpqrstvwxz2456789")


def test_generated_names_cut_the_base_to_58_so_the_result_fits_63() -> None:
    name = names.generate_name("a" * 70, choice=lambda alphabet: alphabet[0])
    assert name == "a" * 58 + "bbbbb"
    assert names.is_dns1123_label(name) == []


def test_object_meta_requires_a_name() -> None:
    errors = names.validate_object_meta(
        {"namespace": "default"}, rule=NameRule.DNS1123_SUBDOMAIN, namespaced=True
    )
    assert [str(e) for e in errors] == [
        "metadata.name: Required value: name or generateName is required"
    ]


def test_a_bad_generate_name_reports_both_the_prefix_and_the_generated_name() -> None:
    errors = names.validate_object_meta(
        {"generateName": "Web-", "name": "Web-x7k2p", "namespace": "default"},
        rule=NameRule.DNS1123_SUBDOMAIN,
        namespaced=True,
    )
    assert [(e.field, e.value) for e in errors] == [
        ("metadata.generateName", "Web-"),
        ("metadata.name", "Web-x7k2p"),
    ]


def test_labels_and_annotations_are_checked_like_validate_object_meta() -> None:
    errors = names.validate_object_meta(
        {
            "name": "ok",
            "namespace": "default",
            "labels": {"app": "web", "bad key": "v", "tier": "-x"},
            "annotations": {"Example.COM/Mixed": "fine", "a/b/c": "no"},
        },
        rule=NameRule.DNS1123_SUBDOMAIN,
        namespaced=True,
    )
    assert [(e.type, e.field, e.value) for e in errors] == [
        ("FieldValueInvalid", "metadata.labels", "bad key"),
        ("FieldValueInvalid", "metadata.labels", "-x"),
        ("FieldValueInvalid", "metadata.annotations", "a/b/c"),
    ]
    assert str(errors[1]) == f'metadata.labels: Invalid value: "-x": {LABEL_VALUE_RULE}'


def test_annotations_over_256_kib_are_too_long() -> None:
    big = {"a": "x" * (256 * 1024 - 1)}
    assert names.validate_annotations(big, field="metadata.annotations") == []
    errors = names.validate_annotations({**big, "b": ""}, field="metadata.annotations")
    assert [str(e) for e in errors] == [
        "metadata.annotations: Too long: must have at most 262144 bytes"
    ]
    assert errors[0].cause() == {
        "reason": "FieldValueTooLong",
        "message": "Too long: must have at most 262144 bytes",
        "field": "metadata.annotations",
    }


def test_namespace_rules_for_namespaced_and_cluster_scoped_kinds() -> None:
    bad_ns = names.validate_object_meta(
        {"name": "x", "namespace": "Bad"}, rule=NameRule.DNS1123_SUBDOMAIN, namespaced=True
    )
    assert [str(e) for e in bad_ns] == [f'metadata.namespace: Invalid value: "Bad": {LABEL_RULE}']
    missing = names.validate_object_meta(
        {"name": "x"}, rule=NameRule.DNS1123_SUBDOMAIN, namespaced=True
    )
    assert [str(e) for e in missing] == ["metadata.namespace: Required value"]
    cluster = names.validate_object_meta(
        {"name": "x", "namespace": "default"}, rule=NameRule.PATH_SEGMENT, namespaced=False
    )
    assert [str(e) for e in cluster] == ["metadata.namespace: Forbidden: not allowed on this type"]


def test_finalizers_must_be_qualified_names_and_not_conflict() -> None:
    errors = names.validate_finalizers(
        ["kubernetes", "orphan", "foregroundDeletion", "bad/one/two"], field="metadata.finalizers"
    )
    assert errors[0].value == "bad/one/two"
    assert str(errors[1]) == (
        'metadata.finalizers: Invalid value: []string{"kubernetes", "orphan", '
        '"foregroundDeletion", "bad/one/two"}: '
        "finalizer orphan and foregroundDeletion cannot be both set"
    )


def test_the_invalid_message_for_one_error_has_no_brackets() -> None:
    errors = names.validate_object_meta(
        {"name": "Bad", "namespace": "default"}, rule=NameRule.DNS1123_SUBDOMAIN, namespaced=True
    )
    assert names.invalid_message(kind="ConfigMap", group="", name="Bad", errors=errors) == (
        f'ConfigMap "Bad" is invalid: metadata.name: Invalid value: "Bad": {SUBDOMAIN_RULE}'
    )


def test_several_errors_are_joined_in_brackets_and_qualified_by_group() -> None:
    errors = [
        names.invalid("metadata.name", "a/b", "may not contain '/'"),
        names.invalid("metadata.labels", "-x", LABEL_VALUE_RULE),
        names.invalid("metadata.name", "a/b", "may not contain '/'"),
    ]
    message = names.invalid_message(
        kind="Role", group="rbac.authorization.k8s.io", name="a/b", errors=errors
    )
    assert message == (
        'Role.rbac.authorization.k8s.io "a/b" is invalid: '
        "[metadata.name: Invalid value: \"a/b\": may not contain '/', "
        f'metadata.labels: Invalid value: "-x": {LABEL_VALUE_RULE}]'
    )


def test_invalid_error_carries_the_422_details() -> None:
    error = names.invalid("metadata.name", "Bad", SUBDOMAIN_RULE)
    with pytest.raises(InvalidObjectError) as caught:
        names.raise_if_invalid(kind="ConfigMap", group="", name="Bad", errors=[error])
    assert isinstance(caught.value, ValueError)
    assert caught.value.details() == {
        "name": "Bad",
        "kind": "ConfigMap",
        "causes": [
            {
                "reason": "FieldValueInvalid",
                "message": f'Invalid value: "Bad": {SUBDOMAIN_RULE}',
                "field": "metadata.name",
            }
        ],
    }
    names.raise_if_invalid(kind="ConfigMap", group="", name="ok", errors=[])


@pytest.mark.parametrize(
    ("error", "text"),
    [
        (
            FieldError("FieldValueInvalid", "f", 'say "hi"\n\t\\', "d"),
            'f: Invalid value: "say \\"hi\\"\\n\\t\\\\": d',
        ),
        (
            FieldError("FieldValueInvalid", "f", "\x00é\u200b", "d"),
            'f: Invalid value: "\\x00é\\u200b": d',
        ),
        (
            FieldError("FieldValueInvalid", "spec.replicas", -1, "must be at least 0"),
            "spec.replicas: Invalid value: -1: must be at least 0",
        ),
        (FieldError("FieldValueInvalid", "f", None, ""), "f: Invalid value: null"),
        (
            FieldError("FieldValueNotSupported", "f", "x", 'supported values: "a"'),
            'f: Unsupported value: "x": supported values: "a"',
        ),
        (FieldError("FieldValueRequired", "f", "", ""), "f: Required value"),
        (FieldError("FieldValueDuplicate", "f", "x", ""), 'f: Duplicate value: "x"'),
    ],
)
def test_field_errors_print_like_go(error: FieldError, text: str) -> None:
    assert str(error) == text
