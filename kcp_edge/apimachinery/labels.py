"""Label selectors: the ``labelSelector`` query parameter and ``metav1.LabelSelector`` objects.

Why this module exists: ``kubectl get -l``, client-go informers, the Python client and the
syncer (``workloads.kcp.dev/cluster=X``) all filter lists and watches with label selectors, and a
bad one must fail with the apiserver's own 400 message. This mirrors
``k8s.io/apimachinery/pkg/labels/selector.go``: its lexer (whitespace, the operator symbols
``= == != ! ( ) , > <``, ``in``/``notin`` as keywords except where a value is expected), its
recursive-descent parser and error texts (``unable to parse requirement: ...``), the checks of
``NewRequirement`` (key and value rules, integer values for ``>``/``<``), sorting by key, the
canonical ``String()`` form, and ``metav1.LabelSelectorAsSelector`` for selector objects.

A selector is parsed once into an immutable `Selector` whose `Selector.matches` is cheap to call
per object.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

from kcp_edge.apimachinery.names import go_value, is_label_key, is_label_value

EXISTS = "exists"
DOES_NOT_EXIST = "!"
EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
IN = "in"
NOT_IN = "notin"
GREATER_THAN = "gt"
LESS_THAN = "lt"

_BINARY_OPERATORS = (IN, NOT_IN, EQUALS, DOUBLE_EQUALS, NOT_EQUALS, GREATER_THAN, LESS_THAN)
_TOKEN_OPERATORS = {
    "in": IN,
    "notin": NOT_IN,
    "=": EQUALS,
    "==": DOUBLE_EQUALS,
    "!=": NOT_EQUALS,
    ">": GREATER_THAN,
    "<": LESS_THAN,
}
_INT64_MIN, _INT64_MAX = -(2**63), 2**63 - 1


class LabelSelectorError(ValueError):
    """A selector the apiserver refuses (400 BadRequest with this message)."""


# --- lexer -----------------------------------------------------------------------------------

_WHITESPACE = frozenset(" \t\r\n")
_SPECIAL = frozenset("=!(),><")
_SYMBOL_TOKENS = {"=", "==", "!", "!=", "(", ")", ",", ">", "<"}

_IDENT = "identifier"
_EOS = "end"
_ERROR = "error"
_KEYWORDS = {"in": IN, "notin": NOT_IN}


class _Token(NamedTuple):
    kind: str
    """``identifier``, ``end``, ``error``, a symbol such as ``==``, or ``in``/``notin``."""
    literal: str


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    pos, end = 0, len(text)
    while True:
        while pos < end and text[pos] in _WHITESPACE:
            pos += 1
        if pos >= end:
            tokens.append(_Token(_EOS, ""))
            return tokens
        if text[pos] in _SPECIAL:
            # Longest run of symbols that still forms a token ("!=" over "!").
            best = ""
            probe = pos
            while probe < end and text[probe] in _SPECIAL:
                candidate = text[pos : probe + 1]
                if candidate in _SYMBOL_TOKENS:
                    best = candidate
                elif best:
                    break
                probe += 1
            if not best:
                tokens.append(_Token(_ERROR, f"error expected: keyword found '{text[pos:probe]}'"))
                pos = probe
                continue
            tokens.append(_Token(best, best))
            pos += len(best)
            continue
        start = pos
        while pos < end and text[pos] not in _SPECIAL and text[pos] not in _WHITESPACE:
            pos += 1
        word = text[start:pos]
        tokens.append(_Token(word if word in _KEYWORDS else _IDENT, word))


# --- requirements ----------------------------------------------------------------------------


class Requirement(NamedTuple):
    """One requirement; ``operator`` is one of the module's operator constants."""

    key: str
    operator: str
    values: tuple[str, ...]

    def matches(self, labels: Mapping[str, str]) -> bool:
        op = self.operator
        if op in (EQUALS, DOUBLE_EQUALS, IN):
            return self.key in labels and labels[self.key] in self.values
        if op in (NOT_EQUALS, NOT_IN):
            return self.key not in labels or labels[self.key] not in self.values
        if op == EXISTS:
            return self.key in labels
        if op == DOES_NOT_EXIST:
            return self.key not in labels
        # Gt / Lt: both sides must be base-10 int64 values.
        have = _parse_int64(labels.get(self.key))
        want = _parse_int64(self.values[0]) if len(self.values) == 1 else None
        if have is None or want is None:
            return False
        return have > want if op == GREATER_THAN else have < want

    def __str__(self) -> str:
        if self.operator == EXISTS:
            return self.key
        if self.operator == DOES_NOT_EXIST:
            return "!" + self.key
        values = ",".join(sorted(self.values)) if len(self.values) > 1 else self.values[0]
        if self.operator in (IN, NOT_IN):
            return f"{self.key} {self.operator} ({values})"
        symbol = {GREATER_THAN: ">", LESS_THAN: "<"}.get(self.operator, self.operator)
        return f"{self.key}{symbol}{values}"


def _parse_int64(text: str | None) -> int | None:
    """``strconv.ParseInt(text, 10, 64)``: optional sign, ASCII digits, in range."""
    if text is None:
        return None
    digits = text[1:] if text[:1] in ("+", "-") else text
    if not digits or not all("0" <= c <= "9" for c in digits):
        return None
    value = int(text)
    return value if _INT64_MIN <= value <= _INT64_MAX else None


def _field_error(field: str, value: Any, detail: str) -> str:
    return f"{field}: Invalid value: {go_value(value)}: {detail}"


def _join(errors: list[str]) -> str:
    unique = list(dict.fromkeys(errors))
    return unique[0] if len(unique) == 1 else "[" + ", ".join(unique) + "]"


def _key_error(key: str, field: str) -> str | None:
    errs = is_label_key(key)
    return _field_error(field, key, "; ".join(errs)) if errs else None


def new_requirement(key: str, operator: str, values: list[str]) -> Requirement:
    """``NewRequirement``: validates, then builds; errors as the aggregated field errors."""
    errs: list[str] = []
    key_err = _key_error(key, "key")
    if key_err:
        errs.append(key_err)
    if operator in (IN, NOT_IN):
        if not values:
            errs.append(
                _field_error(
                    "values", values, "for 'in', 'notin' operators, values set can't be empty"
                )
            )
    elif operator in (EQUALS, DOUBLE_EQUALS, NOT_EQUALS):
        if len(values) != 1:
            errs.append(
                _field_error(
                    "values", values, "exact-match compatibility requires one single value"
                )
            )
    elif operator in (EXISTS, DOES_NOT_EXIST):
        if values:
            errs.append(
                _field_error(
                    "values", values, "values set must be empty for exists and does not exist"
                )
            )
    elif operator in (GREATER_THAN, LESS_THAN):
        if len(values) != 1:
            errs.append(
                _field_error(
                    "values", values, "for 'Gt', 'Lt' operators, exactly one value is required"
                )
            )
        for i, value in enumerate(values):
            if _parse_int64(value) is None:
                errs.append(
                    _field_error(
                        f"values[{i}]",
                        value,
                        "for 'Gt', 'Lt' operators, the value must be an integer",
                    )
                )
    else:
        errs.append(f"operator: Unsupported value: {go_value(operator)}")
    for i, value in enumerate(values):
        value_errs = is_label_value(value)
        if value_errs:
            errs.append(_field_error(f"values[{i}][{key}]", value, "; ".join(value_errs)))
    if errs:
        raise LabelSelectorError(_join(errs))
    return Requirement(key, operator, tuple(values))


# --- parser ----------------------------------------------------------------------------------


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _lex(text)
        self.pos = 0

    def _peek(self, *, values: bool) -> _Token:
        return self._as(self.tokens[self.pos], values=values)

    def _next(self, *, values: bool) -> _Token:
        token = self.tokens[self.pos]
        self.pos += 1
        return self._as(token, values=values)

    @staticmethod
    def _as(token: _Token, *, values: bool) -> _Token:
        # Where a value may stand, "in" and "notin" are plain words ("x in (in)").
        if values and token.kind in _KEYWORDS.values():
            return _Token(_IDENT, token.literal)
        return token

    def parse(self) -> list[Requirement]:
        requirements: list[Requirement] = []
        while True:
            token = self._peek(values=True)
            if token.kind == _EOS:
                return requirements
            if token.kind not in (_IDENT, "!"):
                raise LabelSelectorError(
                    f"found '{token.literal}', expected: !, identifier, or 'end of string'"
                )
            try:
                requirements.append(self._requirement())
            except LabelSelectorError as err:
                raise LabelSelectorError(f"unable to parse requirement: {err}") from None
            after = self._next(values=True)
            if after.kind == _EOS:
                return requirements
            if after.kind != ",":
                raise LabelSelectorError(
                    f"found '{after.literal}', expected: ',' or 'end of string'"
                )
            following = self._peek(values=True)
            if following.kind not in (_IDENT, "!"):
                raise LabelSelectorError(
                    f"found '{following.literal}', expected: identifier after ','"
                )

    def _requirement(self) -> Requirement:
        operator = ""
        token = self._next(values=True)
        if token.kind == "!":
            operator = DOES_NOT_EXIST
            token = self._next(values=True)
        if token.kind != _IDENT:
            raise LabelSelectorError(f"found '{token.literal}', expected: identifier")
        key = token.literal
        key_err = _key_error(key, "<nil>")
        if key_err:
            raise LabelSelectorError(key_err)
        if self._peek(values=True).kind in (_EOS, ",") and operator != DOES_NOT_EXIST:
            operator = EXISTS
        if operator in (EXISTS, DOES_NOT_EXIST):
            return new_requirement(key, operator, [])
        operator = self._operator()
        values = self._set_values() if operator in (IN, NOT_IN) else self._exact_value()
        return new_requirement(key, operator, sorted(values))

    def _operator(self) -> str:
        token = self._next(values=False)
        if token.kind not in _TOKEN_OPERATORS:
            raise LabelSelectorError(
                f"found '{token.literal}', expected: {', '.join(_BINARY_OPERATORS)}"
            )
        return _TOKEN_OPERATORS[token.kind]

    def _set_values(self) -> set[str]:
        token = self._next(values=True)
        if token.kind != "(":
            raise LabelSelectorError(f"found '{token.literal}' expected: '('")
        first = self._peek(values=True)
        if first.kind in (_IDENT, ","):
            values = self._identifiers()
            if self._next(values=True).kind != ")":
                # Upstream reports the literal seen right after "(", not the offending one.
                raise LabelSelectorError(f"found '{first.literal}', expected: ')'")
            return values
        if first.kind == ")":
            self._next(values=True)
            return {""}
        raise LabelSelectorError(f"found '{first.literal}', expected: ',', ')' or identifier")

    def _identifiers(self) -> set[str]:
        values: set[str] = set()
        while True:
            token = self._next(values=True)
            if token.kind == _IDENT:
                values.add(token.literal)
                following = self._peek(values=True)
                if following.kind == ",":
                    continue
                if following.kind == ")":
                    return values
                raise LabelSelectorError(f"found '{following.literal}', expected: ',' or ')'")
            if token.kind == ",":
                if not values:
                    values.add("")  # "(,"
                following = self._peek(values=True)
                if following.kind == ")":
                    values.add("")  # ",)"
                    return values
                if following.kind == ",":
                    values.add("")  # ",,"
                continue
            raise LabelSelectorError(f"found '{token.literal}', expected: ',', or identifier")

    def _exact_value(self) -> set[str]:
        if self._peek(values=True).kind in (_EOS, ","):
            return {""}
        token = self._next(values=True)
        if token.kind == _IDENT:
            return {token.literal}
        raise LabelSelectorError(f"found '{token.literal}', expected: identifier")


# --- selector --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Selector:
    """An AND of requirements, sorted by key; ``nothing`` matches no object at all."""

    requirements: tuple[Requirement, ...] = ()
    nothing: bool = False

    def matches(self, labels: Mapping[str, str] | None) -> bool:
        if self.nothing:
            return False
        have = labels if labels is not None else {}
        return all(requirement.matches(have) for requirement in self.requirements)

    @property
    def empty(self) -> bool:
        """True when the selector does not restrict anything (``Everything``)."""
        return not self.nothing and not self.requirements

    def requires_exact_match(self, key: str) -> str | None:
        """The single value ``key`` must have, if the selector pins one (for index lookups)."""
        for requirement in self.requirements:
            if requirement.key == key:
                if (
                    requirement.operator in (EQUALS, DOUBLE_EQUALS, IN)
                    and len(requirement.values) == 1
                ):
                    return requirement.values[0]
                return None
        return None

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)


EVERYTHING = Selector()
NOTHING = Selector(nothing=True)


def parse(text: str) -> Selector:
    """Parse a ``labelSelector`` query value; raises `LabelSelectorError` with upstream's text."""
    requirements = _Parser(text).parse()
    return Selector(tuple(sorted(requirements, key=lambda r: r.key)))


_EXPRESSION_OPERATORS = {
    "In": IN,
    "NotIn": NOT_IN,
    "Exists": EXISTS,
    "DoesNotExist": DOES_NOT_EXIST,
}


def from_label_selector(obj: Mapping[str, Any] | None) -> Selector:
    """``metav1.LabelSelectorAsSelector``: null matches nothing, ``{}`` matches everything."""
    if obj is None:
        return NOTHING
    match_labels = obj.get("matchLabels") or {}
    expressions = obj.get("matchExpressions") or []
    if not match_labels and not expressions:
        return EVERYTHING
    requirements: list[Requirement] = []
    for key in sorted(match_labels):
        requirements.append(new_requirement(str(key), EQUALS, [str(match_labels[key])]))
    for expression in expressions:
        operator = expression.get("operator", "")
        if operator not in _EXPRESSION_OPERATORS:
            raise LabelSelectorError(
                f"{go_value(str(operator))} is not a valid label selector operator"
            )
        values = [str(v) for v in expression.get("values") or []]
        requirements.append(
            new_requirement(str(expression.get("key", "")), _EXPRESSION_OPERATORS[operator], values)
        )
    return Selector(tuple(sorted(requirements, key=lambda r: r.key)))
