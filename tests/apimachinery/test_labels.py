"""Label selectors behave as ``k8s.io/apimachinery/pkg/labels`` does.

The cases restate upstream's ``selector_test.go`` (parse/String round trips, matching, the
set-based parser) plus the exact 400 messages real apiservers give, as seen by kubectl users.
"""

from __future__ import annotations

import pytest

from kcp_edge.apimachinery import labels
from kcp_edge.apimachinery.labels import LabelSelectorError

KEY_NAME_RULE = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
    "with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
    "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)


@pytest.mark.parametrize(
    "text",
    ["x=a,y=b,z=c", "", "x!=a,y=b", "x=", "x= ", "x=,z= ", "x= ,z= ", "!x", "x>1", "x>1,z<5"],
)
def test_valid_selectors_print_back_without_spaces(text: str) -> None:
    assert str(labels.parse(text)) == text.replace(" ", "")


@pytest.mark.parametrize(
    "text",
    ["x=a||y=b", "x==a==b", "!x=a", "x<a", "x,,y", ",x,y", "x nott in (y)", "x in (a", "x y"],
)
def test_malformed_selectors_are_refused(text: str) -> None:
    with pytest.raises(LabelSelectorError):
        labels.parse(text)


def test_requirements_are_sorted_by_key_so_parsing_is_deterministic() -> None:
    assert str(labels.parse("x=a,a=x")) == str(labels.parse("a=x,x=a")) == "a=x,x=a"


@pytest.mark.parametrize(
    ("text", "have", "expected"),
    [
        ("", {"x": "y"}, True),
        ("x=y", {"x": "y"}, True),
        ("x=y,z=w", {"x": "y", "z": "w"}, True),
        ("x!=y,z!=w", {"x": "z", "z": "a"}, True),
        ("notin=in", {"notin": "in"}, True),
        ("x", {"x": "z"}, True),
        ("!x", {"y": "z"}, True),
        ("x>1", {"x": "2"}, True),
        ("x<1", {"x": "0"}, True),
        ("x=z", {}, False),
        ("x=y", {"x": "z"}, False),
        ("x=y,z=w", {"x": "w", "z": "w"}, False),
        ("x!=y,z!=w", {"x": "z", "z": "w"}, False),
        ("x", {"y": "z"}, False),
        ("!x", {"x": "z"}, False),
        ("x>1", {"x": "0"}, False),
        ("x<1", {"x": "2"}, False),
        ("foo=bar,foobar=bar,baz=blah", {"foo": "bar", "baz": "blah"}, False),
    ],
)
def test_selector_matches_label_sets(text: str, have: dict[str, str], expected: bool) -> None:
    assert labels.parse(text).matches(have) is expected


@pytest.mark.parametrize(
    ("text", "have", "expected"),
    [
        ("x notin (abc)", {}, True),
        ("x!=abc", {}, True),
        ("x in (abc)", {}, False),
        ("x in ()", {"y": "baz"}, False),
        ("x in ()", {"x": ""}, True),
        ("x notin (),y", {"y": ""}, True),
        ("!x,y", {"y": ""}, True),
        ("x notin (),!y", {"y": ""}, False),
        ("z>1", {"z": "v2"}, False),
        ("z>1", {"z": "2"}, True),
        ("z>5", {"z": "+6"}, True),
        ("z<9223372036854775807", {"z": "9223372036854775808"}, False),
    ],
)
def test_set_and_comparison_requirements_treat_missing_keys_as_upstream(
    text: str, have: dict[str, str], expected: bool
) -> None:
    assert labels.parse(text).matches(have) is expected


@pytest.mark.parametrize(
    ("text", "printed"),
    [
        ("\rx", "x"),
        ("this-is-a-dns.domain.com/key-with-dash", "this-is-a-dns.domain.com/key-with-dash"),
        ("this-is-another-dns.domain.com/key-with-dash in (so,what)", None),
        ("0.1.2.domain/99 notin (10.10.100.1, tick.tack.clock)", None),
        ("foo  in\t (abc)", "foo in (abc)"),
        ("x notin\n (abc)", "x notin (abc)"),
        ("x  notin\t\t\t(abc,def)", "x notin (abc,def)"),
        ("x in (abc,)", "x in (,abc)"),
        ("x in ()", "x in ()"),
        ("x notin (abc,,def),bar,z in (),w", "bar,w,x notin (,abc,def),z in ()"),
        ("x,y in (a)", "x,y in (a)"),
        ("x=a,y!=b,z in (h,i,j)", "x=a,y!=b,z in (h,i,j)"),
        ("x notin ( )", "x notin ()"),
        ("x in (in)", "x in (in)"),
        ("in in (notin)", "in in (notin)"),
    ],
)
def test_set_based_syntax_and_whitespace_parse(text: str, printed: str | None) -> None:
    selector = labels.parse(text)
    assert str(selector) == (printed if printed is not None else text.replace(", ", ","))


def test_a_key_with_a_colon_gives_the_message_kubectl_users_see() -> None:
    with pytest.raises(LabelSelectorError) as caught:
        labels.parse("app:monolith")
    assert str(caught.value) == (
        f'unable to parse requirement: <nil>: Invalid value: "app:monolith": {KEY_NAME_RULE}'
    )


def test_a_bad_key_prefix_names_the_prefix_part() -> None:
    with pytest.raises(LabelSelectorError) as caught:
        labels.parse("app.kubernetes_io/name=vault")
    assert str(caught.value).startswith(
        'unable to parse requirement: <nil>: Invalid value: "app.kubernetes_io/name": '
        "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric "
        "characters, '-' or '.', and must start and end with an alphanumeric character"
    )


def test_a_key_with_two_slashes_is_not_a_label_key() -> None:
    with pytest.raises(LabelSelectorError) as caught:
        labels.parse("a/b/c ?=? def")
    assert str(caught.value) == (
        'unable to parse requirement: <nil>: Invalid value: "a/b/c": a valid label key must '
        "consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
        "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
        "validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS "
        "subdomain prefix and '/' (e.g. 'example.com/MyName')"
    )


def test_a_value_over_63_bytes_is_refused_with_its_path() -> None:
    with pytest.raises(LabelSelectorError) as caught:
        labels.parse("good-key=" + "z" * 64)
    assert str(caught.value) == (
        f'unable to parse requirement: values[0][good-key]: Invalid value: "{"z" * 64}": '
        "must be no more than 63 bytes"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("x<a", "unable to parse requirement: values[0]: Invalid value: \"a\": "
         "for 'Gt', 'Lt' operators, the value must be an integer"),
        ("x==a==b", "found '==', expected: ',' or 'end of string'"),
        ("!x=a", "found '=', expected: ',' or 'end of string'"),
        (",x", "found ',', expected: !, identifier, or 'end of string'"),
        ("x,", "found '', expected: identifier after ','"),
        ("x y", "unable to parse requirement: found 'y', expected: in, notin, =, ==, !=, gt, lt"),
        ("x in", "unable to parse requirement: found '' expected: '('"),
        ("x in (a b)", "unable to parse requirement: found 'b', expected: ',' or ')'"),
        ("x in ((a)", "unable to parse requirement: found '(', expected: ',', ')' or identifier"),
        ("x=(", "unable to parse requirement: found '(', expected: identifier"),
        ("!=a", "found '!=', expected: !, identifier, or 'end of string'"),
        ("!,x", "unable to parse requirement: found ',', expected: identifier"),
    ],
)  # fmt: skip
def test_parse_errors_use_upstream_wording(text: str, message: str) -> None:
    with pytest.raises(LabelSelectorError) as caught:
        labels.parse(text)
    assert str(caught.value) == message


def test_selector_errors_are_value_errors() -> None:
    assert issubclass(LabelSelectorError, ValueError)


def test_requires_exact_match_reports_a_pinned_value() -> None:
    selector = labels.parse("workloads.kcp.dev/cluster=edge-1,tier in (a,b),x in (only)")
    assert selector.requires_exact_match("workloads.kcp.dev/cluster") == "edge-1"
    assert selector.requires_exact_match("x") == "only"
    assert selector.requires_exact_match("tier") is None
    assert selector.requires_exact_match("absent") is None


def test_empty_selector_selects_everything_and_null_labels_count_as_none() -> None:
    selector = labels.parse("")
    assert selector.empty
    assert selector.matches(None)
    assert labels.parse("!x").matches(None)
    assert not labels.parse("x").matches(None)


def test_label_selector_object_null_matches_nothing_and_empty_matches_everything() -> None:
    assert not labels.from_label_selector(None).matches({})
    assert not labels.from_label_selector(None).empty
    assert labels.from_label_selector({}).empty
    assert labels.from_label_selector({"matchLabels": {}, "matchExpressions": []}).matches({})


def test_label_selector_object_combines_match_labels_and_expressions() -> None:
    selector = labels.from_label_selector(
        {
            "matchLabels": {"app": "web"},
            "matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["front", "edge"]},
                {"key": "canary", "operator": "DoesNotExist"},
                {"key": "zone", "operator": "Exists"},
                {"key": "env", "operator": "NotIn", "values": ["dev"]},
            ],
        }
    )
    assert str(selector) == "app=web,!canary,env notin (dev),tier in (edge,front),zone"
    assert selector.matches({"app": "web", "tier": "edge", "zone": "a"})
    assert not selector.matches({"app": "web", "tier": "edge", "zone": "a", "canary": "1"})
    assert not selector.matches({"app": "web", "tier": "edge", "zone": "a", "env": "dev"})
    assert not selector.matches({"app": "web", "tier": "back", "zone": "a"})


@pytest.mark.parametrize(
    ("expression", "message"),
    [
        (
            {"key": "name", "operator": "Seriously"},
            '"Seriously" is not a valid label selector operator',
        ),
        (
            {"key": "name", "operator": "In", "values": []},
            "values: Invalid value: []string(nil): "
            "for 'in', 'notin' operators, values set can't be empty",
        ),
        (
            {"key": "name", "operator": "Exists", "values": ["a"]},
            'values: Invalid value: []string{"a"}: '
            "values set must be empty for exists and does not exist",
        ),
        ({"key": "-bad", "operator": "Exists"}, f'key: Invalid value: "-bad": {KEY_NAME_RULE}'),
    ],
)
def test_label_selector_object_errors_match_upstream(
    expression: dict[str, object], message: str
) -> None:
    with pytest.raises(LabelSelectorError) as caught:
        labels.from_label_selector({"matchExpressions": [expression]})
    assert str(caught.value) == message
