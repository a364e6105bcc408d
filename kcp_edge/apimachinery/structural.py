"""Structural OpenAPI v3 schemas of CustomResourceDefinitions: refuse, default, prune, validate.

Why this module exists: every create, update and patch of a custom resource runs through the
CRD version's ``openAPIV3Schema`` exactly as ``apiextensions-apiserver`` does it, and clients
see upstream's words (``spec.size: Invalid value: "string": spec.size in body must be of type
integer: "string"``). The schema is compiled once per CRD version into a tree of `SchemaNode`
with precompiled check closures and patterns, so the per-object path never walks raw schema
dicts nor compiles a regex. This mirrors:

* `check_structural`: ``apiextensions/validation`` ``validateCustomResourceDefinitionValidation``
  for one version: ``nullable`` at the root, then ``schema.ValidateStructural`` (invariants and
  completeness, errors sorted), or when those pass ``defaulting.ValidateDefaults`` (defaults
  must be pruned and valid), then ``ValidateCustomResourceDefinitionOpenAPISchema`` (unsupported
  keywords, ``properties`` with ``additionalProperties``, list and map types, defaults in
  top-level metadata). CEL ``x-kubernetes-validations`` are refused: this server has no CEL.
* `CompiledSchema.default`: ``defaulting.PruneNonNullableNullsWithoutDefaults`` then
  ``defaulting.Default`` (also for ``additionalProperties`` values and array items).
* `CompiledSchema.prune`: ``pruning.PruneWithOptions`` with unknown-field tracking; the root
  and ``x-kubernetes-embedded-resource`` nodes keep ``apiVersion``, ``kind``, ``metadata``.
* `CompiledSchema.validate`: kube-openapi's ``validate.SchemaValidator`` (type, format, enum,
  pattern, bounds, lengths, items, properties, ``required``, ``allOf``/``anyOf``/``oneOf``/
  ``not``) turned into causes as ``kubeOpenAPIResultToFieldErrors`` does, then
  ``objectmeta.Validate`` for embedded resources, then ``listtype.ValidateListSetsAndMaps``.

Paths follow upstream: validation errors carry kube-openapi names (``spec.items[0].name``,
map values as ``spec.labels.key``), list-type errors ``field.Path`` (``spec.labels[key]``),
pruned fields ``spec.containers[0].bogus``. Go maps iterate randomly, so where upstream's
order is random this module uses the object's (or the schema's) key order.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple, TypeGuard

import orjson

from kcp_edge.apimachinery import schemaformats
from kcp_edge.apimachinery.mergepatch import go_v
from kcp_edge.apimachinery.names import (
    FIELD_VALUE_DUPLICATE,
    FIELD_VALUE_FORBIDDEN,
    FIELD_VALUE_INVALID,
    FIELD_VALUE_NOT_SUPPORTED,
    FIELD_VALUE_REQUIRED,
    FIELD_VALUE_TOO_LONG,
    FIELD_VALUE_TOO_MANY,
    FIELD_VALUE_TYPE_INVALID,
    TYPE_WORDS,
    VALUELESS,
    FieldError,
    NameRule,
    go_quote,
    is_dns1035_label,
    validate_object_meta,
)

Cause = dict[str, str]
"""One ``details.causes`` entry: ``{"reason", "message", "field"}``."""

CEL_REFUSED = (
    "CEL validation rules are not supported by this server (kcp-edge); "
    "remove x-kubernetes-validations"
)
OPENAPI_V3_TYPES = ("array", "boolean", "integer", "number", "object", "string")
_META_FIELDS = frozenset({"apiVersion", "kind", "metadata"})


class SchemaError(ValueError):
    """A schema that cannot be compiled at all (not a JSON object where one is required)."""


class _Missing:
    """Marks an absent key or an absent ``default``."""


_MISSING = _Missing()


# --- errors as field.Error builds them --------------------------------------------------------

_NAMED, _AT_BASE, _LITERAL = 0, 1, 2


class _GoText(str):
    """A bad value already rendered the way Go prints it (``[]string{"a", "b"}``)."""


class _Err(NamedTuple):
    """One field error. ``name`` is a kube-openapi name (``_NAMED``: the field is derived from
    it), ignored (``_AT_BASE``: the error sits at the validator's base path), or a ready field
    path (``_LITERAL``)."""

    type: str
    name: str
    value: Any
    detail: str
    where: int = _NAMED


_Errs = list[_Err]


def _go_sharp(value: Any) -> str:
    """Go's ``%#v`` of a decoded JSON value held in an ``interface{}``."""
    if value is None:
        return "interface {}(nil)"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, float):
        return go_v(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, Mapping):
        members = ", ".join(f"{go_quote(str(k))}:{_go_sharp(value[k])}" for k in sorted(value))
        return "map[string]interface {}{" + members + "}"
    if isinstance(value, list | tuple):
        return "[]interface {}{" + ", ".join(_go_sharp(v) for v in value) + "}"
    return go_quote(str(value))


def _go_bad_value(value: Any) -> str:
    """How ``field.Error.ErrorBody`` prints a bad value (nil prints as the string "null")."""
    if isinstance(value, _GoText):
        return str(value)
    if value is None:
        return '"null"'
    if isinstance(value, str):
        return go_quote(value)
    return _go_sharp(value)


def _body(err: _Err) -> str:
    words = TYPE_WORDS.get(err.type, err.type)
    text = words if err.type in VALUELESS else f"{words}: {_go_bad_value(err.value)}"
    return f"{text}: {err.detail}" if err.detail else text


def _field_of(err: _Err, base: str | None) -> str:
    if err.where == _LITERAL:
        return err.name
    name = err.name
    if err.where == _AT_BASE or name in ("", "."):
        return "<nil>" if base is None else base
    relative = name[1:] if name.startswith(".") else name
    return relative if base is None else f"{base}.{relative}"


def _cause(err: _Err | FieldError, base: str | None = None) -> Cause:
    if isinstance(err, FieldError):
        return err.cause()
    return {"reason": err.type, "message": _body(err), "field": _field_of(err, base)}


def _literal(kind: str, field: str, value: Any = "", detail: str = "") -> _Err:
    return _Err(kind, field, value, detail, _LITERAL)


def _too_long_detail(limit: int) -> str:
    return f"may not be more than {limit} {'byte' if limit == 1 else 'bytes'}"


def _too_many_detail(limit: int) -> str:
    return f"must have at most {limit} {'item' if limit == 1 else 'items'}"


# --- small helpers on raw schema dicts ---------------------------------------------------------


def _is_mapping(value: Any) -> TypeGuard[Mapping[str, Any]]:
    # Decoded JSON is a dict; the ABC check (slow) is only for other mappings.
    return type(value) is dict or isinstance(value, Mapping)


def _mapping(value: Any) -> Mapping[str, Any] | None:
    return value if _is_mapping(value) else None


def _props(schema: Mapping[str, Any]) -> Mapping[str, Mapping[str, Any]]:
    props = schema.get("properties")
    if props is None or not _is_mapping(props):
        return {}
    return {str(k): v for k, v in props.items() if _is_mapping(v)}


def _schema_list(schema: Mapping[str, Any], key: str) -> list[Mapping[str, Any]]:
    value = schema.get(key)
    if not isinstance(value, list):
        return []
    return [v if _is_mapping(v) else {} for v in value]


def _type_of(schema: Mapping[str, Any]) -> str:
    declared = schema.get("type")
    return declared if isinstance(declared, str) else ""


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _count(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return int(value)


def _has_default(schema: Mapping[str, Any]) -> bool:
    return schema.get("default") is not None


def _json_key(value: Any) -> Any:
    """A hashable identity for a JSON value: Go's ``==`` for scalars, JSON text for the rest."""
    if isinstance(value, dict | list):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return (type(value), value)


def _go_json(value: Any) -> str:
    """``json.Marshal`` of a decoded value (whole floats print without a fraction)."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e21:
        return str(int(value))
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def _specified(value: Any) -> bool:
    """Whether a keyword counts as set the way Go's zero values decide it (0 is set)."""
    if value is None or value is False:
        return False
    return not (isinstance(value, str | list) and not value)


def _copy_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy_json(v) for v in value]
    return value


# --- compiled value checks (kube-openapi validate.SchemaValidator) -----------------------------

_Check = Callable[[Any, str, _Errs], None]


class _Compiled(NamedTuple):
    """A node's check, and the value types it has nothing to say about (callers skip it)."""

    check: _Check
    trivial: frozenset[type]


_CheckCache = dict[int, "_Compiled | None"]

_PY_KINDS: dict[type, tuple[str, str]] = {
    bool: ("boolean", ""),
    int: ("integer", "int64"),
    float: ("number", "float64"),
    str: ("string", ""),
    list: ("array", ""),
    dict: ("object", ""),
}
_KIND_SAMPLES: dict[type, Any] = {bool: True, int: 1, float: 0.5, str: "", list: [], dict: {}}
_MAX_JSON_INT = float(1 << 53)


def _canonical_type(value: Any) -> type:
    kind = type(value)
    if kind in _PY_KINDS or value is None:
        return kind
    for candidate in (bool, int, float, str, dict, list):
        if isinstance(value, candidate):
            return candidate
    if isinstance(value, Mapping):
        return dict
    return list if isinstance(value, tuple) else str


def _is_json_integer(value: float) -> bool:
    """go-openapi ``swag.IsFloat64AJSONInteger``: integral (within 1e-9) and within 2^53."""
    if math.isnan(value) or math.isinf(value) or abs(value) > _MAX_JSON_INT:
        return False
    nearest = float(round(value))
    if value == nearest:
        return True
    return abs(value - nearest) / (abs(value) + abs(nearest)) < 1e-9


def _type_error(types: tuple[str, ...], fmt: str, value: Any) -> tuple[str, str] | None:
    """kube-openapi ``typeValidator.Validate`` for a non-null value: (expected, found) or None."""
    kind = _canonical_type(value)
    found, found_format = _PY_KINDS[kind]
    float_int = found == "number" and "integer" in types and _is_json_integer(float(value))
    int_float = found == "integer" and "number" in types
    stringish = kind is str or kind is list
    if (
        not stringish
        and fmt
        and not (found in types or found_format == fmt or float_int or int_float)
    ):
        return fmt, found_format
    if fmt and stringish and "number" not in types and "integer" not in types:
        return None
    if not (found in types or float_int or int_float):
        return ",".join(types), found
    return None


@functools.cache
def _passing_kinds(types: tuple[str, ...], fmt: str) -> frozenset[type]:
    """The value types that always pass the type check (floats only when ``number`` is allowed)."""
    return frozenset(
        kind for kind, sample in _KIND_SAMPLES.items() if _type_error(types, fmt, sample) is None
    )


@functools.cache
def _type_check(types: tuple[str, ...], nullable: bool, fmt: str) -> _Check:
    """The type check of one (types, nullable, format) combination; closures are shared."""
    joined = ",".join(types)
    passing = _passing_kinds(types, fmt)

    def check(value: Any, path: str, errs: _Errs) -> None:
        if type(value) in passing:
            return
        if value is None:
            if types and not nullable:
                errs.append(_type_invalid(path, joined, "null"))
            return
        problem = _type_error(types, fmt, value)
        if problem is not None:
            errs.append(_type_invalid(path, *problem))

    return check


def _type_invalid(path: str, expected: str, found: str) -> _Err:
    detail = f"{path} in body must be of type {expected}: {go_quote(found)}"
    return _Err(FIELD_VALUE_TYPE_INVALID, path, found, detail)


def _composite(path: str, text: str) -> _Err:
    """Errors that are not ``*errors.Validation``: always at the base path, value ``""``."""
    return _Err(FIELD_VALUE_INVALID, "", "", f"{go_quote(path)} {text}", _AT_BASE)


def _junctor_check(
    any_of: list[_Check], one_of: list[_Check], all_of: list[_Check], not_: _Check | None
) -> _Check:
    def run(alternative: _Check, value: Any, path: str) -> _Errs:
        found: _Errs = []
        alternative(value, path, found)
        return found

    def check(value: Any, path: str, errs: _Errs) -> None:
        if any_of:
            first_failure: _Errs | None = None
            for alternative in any_of:
                found = run(alternative, value, path)
                if not found:
                    break
                first_failure = first_failure or found
            else:
                errs.append(_composite(path, "must validate at least one schema (anyOf)"))
                errs.extend(first_failure or ())
        if one_of:
            valid = 0
            best: _Errs | None = None
            for alternative in one_of:
                found = run(alternative, value, path)
                if not found:
                    valid += 1
                    best = None
                elif valid == 0 and best is None:
                    best = found
            if valid != 1:
                why = "Found none valid" if valid == 0 else f"Found {valid} valid alternatives"
                errs.append(
                    _composite(path, f"must validate one and only one schema (oneOf). {why}")
                )
                errs.extend(best or ())
        if all_of:
            valid = 0
            for alternative in all_of:
                found = run(alternative, value, path)
                valid += not found
                errs.extend(found)
            if valid != len(all_of):
                suffix = ". None validated" if valid == 0 else ""
                errs.append(_composite(path, f"must validate all the schemas (allOf){suffix}"))
        if not_ is not None and not run(not_, value, path):
            errs.append(_composite(path, "must not validate the schema (not)"))

    return check


_GO_UNSUPPORTED_RE = re.compile(r"\(\?<?[=!]|\\[1-9]")


def _compile_pattern(pattern: str) -> tuple[re.Pattern[str] | None, str]:
    """The pattern compiled once, or Go's ``regexp.Compile`` complaint about it. RE2 has no
    lookaround and no backreferences; Python's own syntax errors are reported in its words."""
    unsupported = _GO_UNSUPPORTED_RE.search(pattern)
    if unsupported is not None:
        token = unsupported.group()
        code = (
            "invalid escape sequence"
            if token.startswith("\\")
            else "invalid or unsupported Perl syntax"
        )
        return None, f"error parsing regexp: {code}: `{token}`"
    try:
        return re.compile(_go_anchors(pattern), re.ASCII), ""
    except re.error as exc:
        return None, f"error parsing regexp: {_go_regexp_error(exc, pattern)}"


def _go_anchors(pattern: str) -> str:
    r"""``pattern`` with each unescaped ``$`` outside a character class as ``\Z``.

    In RE2 (Go) ``$`` without the ``m`` flag matches only at the very end of the text; in
    Python it also matches before a final newline, so ``^[a-z]+$`` would accept ``"abc\n"``.
    (``re.ASCII`` likewise gives ``\d``, ``\w`` and ``\s`` RE2's ASCII meaning.)
    """
    if "$" not in pattern or "(?m" in pattern:
        return pattern
    out: list[str] = []
    in_class = escaped = False
    for ch in pattern:
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "$":
            out.append("\\Z")
            continue
        out.append(ch)
    return "".join(out)


def _go_regexp_error(exc: re.error, pattern: str) -> str:
    """Go's ``regexp/syntax`` wording for the syntax errors both engines share."""
    message, at = str(exc.msg), exc.pos or 0
    if message.startswith("unterminated character set"):
        return f"missing closing ]: `{pattern[at:]}`"
    if message.startswith("missing ), unterminated subpattern"):
        return f"missing closing ): `{pattern}`"
    if message.startswith("unbalanced parenthesis"):
        return f"unexpected ): `{pattern}`"
    if message.startswith(("nothing to repeat", "multiple repeat")):
        return f"missing argument to repetition operator: `{pattern[at : at + 1]}`"
    return message


def _string_check(max_len: int | None, min_len: int | None, pattern: str) -> _Check:
    compiled, problem = _compile_pattern(pattern) if pattern else (None, "")

    def check(value: str, path: str, errs: _Errs) -> None:
        if max_len is not None and len(value) > max_len:
            errs.append(_Err(FIELD_VALUE_TOO_LONG, path, "", _too_long_detail(max_len)))
        elif min_len is not None and len(value) < min_len:
            detail = f"{path} in body should be at least {min_len} chars long"
            errs.append(_Err(FIELD_VALUE_INVALID, path, value, detail))
        elif pattern and (compiled is None or compiled.search(value) is None):
            shown = (
                pattern if compiled is not None else f"{pattern}, but pattern is invalid: {problem}"
            )
            detail = f"{path} in body should match '{shown}'"
            errs.append(_Err(FIELD_VALUE_INVALID, path, value, detail))

    return check


def _format_check(fmt: str, valid: schemaformats.FormatChecker) -> _Check:
    def check(value: str, path: str, errs: _Errs) -> None:
        if not valid(value):
            errs.append(_type_invalid(path, fmt, value))

    return check


def _bound_text(bound: float, as_int: bool) -> str:
    return str(int(bound)) if as_int else go_v(bound)


def _multiple_error(factor: float, value: float, path: str) -> _Err | None:
    """``MultipleOfNativeType``: integers against the truncated factor, floats as floats."""
    factor_int = int(factor)
    if isinstance(value, int) and factor_int != 0:
        if factor_int < 0:
            detail = f"factor MultipleOf declared for {path} must be positive: {factor_int}"
            return _Err(FIELD_VALUE_INVALID, path, factor_int, detail)
        if value % factor_int:
            detail = f"{path} in body should be a multiple of {factor_int}"
            return _Err(FIELD_VALUE_INVALID, path, value, detail)
        return None
    if factor < 0:
        detail = f"factor MultipleOf declared for {path} must be positive: {go_v(factor)}"
        return _Err(FIELD_VALUE_INVALID, path, factor, detail)
    quotient = (1 / factor * value) if factor < 1 else (value / factor)
    if not _is_json_integer(quotient):
        detail = f"{path} in body should be a multiple of {go_v(factor)}"
        return _Err(FIELD_VALUE_INVALID, path, value, detail)
    return None


def _bound_error(
    bound: float, exclusive: bool, value: float, path: str, *, upper: bool
) -> _Err | None:
    """``MinimumNativeType`` / ``MaximumNativeType``: integers compare to the truncated bound."""
    as_int = isinstance(value, int)
    limit = int(bound) if as_int else bound
    beyond = value > limit if upper else value < limit
    if not (beyond or (exclusive and value == limit)):
        return None
    relation = "less than" if upper else "greater than"
    relation = relation if exclusive else f"{relation} or equal to"
    detail = f"{path} in body should be {relation} {_bound_text(bound, as_int)}"
    return _Err(FIELD_VALUE_INVALID, path, value, detail)


def _number_check(
    multiple_of: float | None,
    minimum: float | None,
    exclusive_min: bool,
    maximum: float | None,
    exclusive_max: bool,
) -> _Check:
    def check(value: float, path: str, errs: _Errs) -> None:
        found = (
            _multiple_error(multiple_of, value, path) if multiple_of is not None else None,
            _bound_error(minimum, exclusive_min, value, path, upper=False)
            if minimum is not None
            else None,
            _bound_error(maximum, exclusive_max, value, path, upper=True)
            if maximum is not None
            else None,
        )
        errs.extend(err for err in found if err is not None)

    return check


def _slice_check(
    items: _Compiled | None, min_items: int | None, max_items: int | None, unique: bool
) -> _Check:
    def check(value: list[Any], path: str, errs: _Errs) -> None:
        if items is not None:
            item_check, trivial = items
            for i, item in enumerate(value):
                if type(item) not in trivial:
                    item_check(item, f"{path}[{i}]", errs)
        size = len(value)
        if min_items is not None and size < min_items:
            detail = f"{path} in body should have at least {min_items} items"
            errs.append(_Err(FIELD_VALUE_INVALID, path, size, detail))
        if max_items is not None and size > max_items:
            errs.append(_Err(FIELD_VALUE_TOO_MANY, path, size, _too_many_detail(max_items)))
        if unique and len({_json_key(v) for v in value}) != size:
            detail = f"{path} in body shouldn't contain duplicates"
            errs.append(_Err(FIELD_VALUE_INVALID, path, "", detail))

    return check


def _enum_matches(value: Any, allowed: Any) -> bool:
    """kube-openapi's enum test: ``reflect.DeepEqual``, after a Go conversion where one exists."""
    if value is None:
        return False
    if isinstance(value, bool) or isinstance(allowed, bool):
        return type(value) is type(allowed) and bool(value == allowed)
    if isinstance(value, int | float) and isinstance(allowed, int | float):
        if isinstance(allowed, int) and isinstance(value, float):
            return math.isfinite(value) and int(value) == allowed
        return float(value) == float(allowed)
    if isinstance(value, dict | list) or isinstance(allowed, dict | list):
        return bool(_json_key(value) == _json_key(allowed))
    return type(value) is type(allowed) and bool(value == allowed)


def _enum_check(allowed: list[Any]) -> _Check:
    strings = frozenset(v for v in allowed if isinstance(v, str))
    shown = ", ".join(go_quote(v if isinstance(v, str) else _go_json(v)) for v in allowed)
    detail = f"supported values: {shown}"

    def check(value: Any, path: str, errs: _Errs) -> None:
        if type(value) is str and value in strings:
            return
        if not any(_enum_matches(value, candidate) for candidate in allowed):
            errs.append(_Err(FIELD_VALUE_NOT_SUPPORTED, path, value, detail))

    return check


class _ObjectRules(NamedTuple):
    known: frozenset[str]
    checks: dict[str, _Compiled]
    required: tuple[str, ...]
    forbid_others: bool
    others: _Check | None
    min_properties: int | None
    max_properties: int | None


def _object_check(rules: _ObjectRules) -> _Check:
    known, checks, required, forbid_others, others, min_props, max_props = rules
    visit_all = forbid_others or others is not None

    def check(value: dict[str, Any], path: str, errs: _Errs) -> None:
        size = len(value)
        if min_props is not None and size < min_props:
            detail = f"{path} in body should have at least {min_props} properties"
            errs.append(_Err(FIELD_VALUE_INVALID, path, size, detail))
            return
        if max_props is not None and size > max_props:
            errs.append(_Err(FIELD_VALUE_TOO_MANY, path, size, _too_many_detail(max_props)))
            return
        prefix = f"{path}." if path else ""
        if visit_all:
            for key, item in value.items():
                sub = checks.get(key)
                if sub is not None:
                    if type(item) not in sub.trivial:
                        sub.check(item, prefix + key, errs)
                elif key in known:
                    continue
                elif others is not None:
                    others(item, f"{path}.{key}", errs)
                else:
                    detail = f"{path}.{key} in body is a forbidden property"
                    errs.append(_Err(FIELD_VALUE_INVALID, path, key, detail))
        elif checks:
            for key, item in value.items():
                sub = checks.get(key)
                if sub is not None and type(item) not in sub.trivial:
                    sub.check(item, prefix + key, errs)
        for name in required:
            if name not in value:
                errs.append(_Err(FIELD_VALUE_REQUIRED, f"{path}.{name}", "", ""))

    return check


def _object_rules(schema: Mapping[str, Any], cache: _CheckCache) -> _ObjectRules | None:
    props = _props(schema)
    checks = {
        name: c for name, sub in props.items() if (c := _compile_check(sub, cache)) is not None
    }
    raw_required = schema.get("required")
    required = tuple(str(r) for r in raw_required) if isinstance(raw_required, list) else ()
    additional = schema.get("additionalProperties")
    forbid_others = additional is False
    compiled = _compile_check(additional, cache) if _is_mapping(additional) else None
    others = compiled.check if compiled is not None else None
    min_props, max_props = _count(schema.get("minProperties")), _count(schema.get("maxProperties"))
    bounded = min_props is not None or max_props is not None
    if not (checks or required or forbid_others or others or bounded):
        return None
    rules = (frozenset(props), checks, required, forbid_others, others, min_props, max_props)
    return _ObjectRules(*rules)


def _junctors(schema: Mapping[str, Any], cache: _CheckCache) -> _Check | None:
    def check_of(sub: Mapping[str, Any]) -> _Check:
        compiled = _compile_check(sub, cache)
        return compiled.check if compiled is not None else _accept

    def compiled(key: str) -> list[_Check]:
        return [check_of(sub) for sub in _schema_list(schema, key)]

    not_schema = _mapping(schema.get("not"))
    not_ = check_of(not_schema) if not_schema is not None else None
    any_of, one_of, all_of = compiled("anyOf"), compiled("oneOf"), compiled("allOf")
    if not (any_of or one_of or all_of or not_):
        return None
    return _junctor_check(any_of, one_of, all_of, not_)


def _accept(value: Any, path: str, errs: _Errs) -> None:
    """The check of an empty schema: everything validates."""


def _declared_types(schema: Mapping[str, Any]) -> tuple[str, ...]:
    if schema.get("x-kubernetes-int-or-string") is True:
        return ("integer", "string")
    declared = schema.get("type")
    return (declared,) if isinstance(declared, str) and declared else ()


def _compile_check(schema: Mapping[str, Any], cache: _CheckCache) -> _Compiled | None:
    """One schema's kube-openapi validators in upstream order, dispatched on the value's type.
    ``cache`` (by ``id`` of the schema dict) makes compiling a whole tree linear."""
    key = id(schema)
    if key not in cache:
        cache[key] = _compile_leaf_or_node(schema, cache)
    return cache[key]


# Keywords that need more than a type check; a schema without any of them is a "leaf".
_VALUE_KEYWORDS = frozenset(
    {
        "allOf",
        "anyOf",
        "oneOf",
        "not",
        "pattern",
        "maxLength",
        "minLength",
        "multipleOf",
        "minimum",
        "maximum",
        "items",
        "minItems",
        "maxItems",
        "uniqueItems",
        "enum",
        "properties",
        "required",
        "additionalProperties",
        "minProperties",
        "maxProperties",
    }
)


@functools.cache
def _leaf(types: tuple[str, ...], nullable: bool, fmt: str) -> _Compiled | None:
    """The shared check of a schema that only declares a type (and maybe a format)."""
    checker = schemaformats.checker_for(fmt)
    if not types and checker is None:
        return None
    return _compile_uncached({"type": types[0]} if types else {}, {}, types, nullable, fmt)


def _compile_leaf_or_node(schema: Mapping[str, Any], cache: _CheckCache) -> _Compiled | None:
    types = _declared_types(schema)
    raw_format = schema.get("format")
    fmt = raw_format if isinstance(raw_format, str) else ""
    if schemaformats.checker_for(fmt) is None:
        fmt = ""  # unknown formats check nothing; keep tenants' strings out of the cache key
    nullable = schema.get("nullable") is True
    if _VALUE_KEYWORDS.isdisjoint(schema):
        return _leaf(types, nullable, fmt)
    return _compile_uncached(schema, cache, types, nullable, fmt)


def _compile_uncached(
    schema: Mapping[str, Any],
    cache: _CheckCache,
    types: tuple[str, ...],
    nullable: bool,
    fmt: str,
) -> _Compiled | None:
    checker = schemaformats.checker_for(fmt)
    fmt = fmt if checker is not None else ""
    type_check = _type_check(types, nullable, fmt) if types or fmt else None
    passing = _passing_kinds(types, fmt) if type_check is not None else frozenset(_PY_KINDS)
    junctors = _junctors(schema, cache)
    pattern = schema.get("pattern")
    max_len, min_len = _count(schema.get("maxLength")), _count(schema.get("minLength"))
    has_string = max_len is not None or min_len is not None or bool(pattern)
    string = _string_check(max_len, min_len, str(pattern or "")) if has_string else None
    formatted = _format_check(fmt, checker) if checker is not None else None
    bounds = [_number(schema.get(k)) for k in ("multipleOf", "minimum", "maximum")]
    number = None
    if any(b is not None for b in bounds):
        number = _number_check(
            bounds[0],
            bounds[1],
            schema.get("exclusiveMinimum") is True,
            bounds[2],
            schema.get("exclusiveMaximum") is True,
        )
    items_schema = _mapping(schema.get("items"))
    items = _compile_check(items_schema, cache) if items_schema is not None else None
    min_items, max_items = _count(schema.get("minItems")), _count(schema.get("maxItems"))
    unique = schema.get("uniqueItems") is True
    has_slice = items is not None or min_items is not None or max_items is not None or unique
    slice_ = _slice_check(items, min_items, max_items, unique) if has_slice else None
    enum = schema.get("enum")
    enum_check = _enum_check(list(enum)) if isinstance(enum, list) and enum else None
    rules = _object_rules(schema, cache)
    obj = _object_check(rules) if rules is not None else None

    table: dict[type, tuple[_Check, ...]] = {}
    for kind in (dict, list, str, int, float, bool, type(None)):
        seq = [type_check] if kind is not type(None) else [type_check, enum_check]
        if kind is not type(None):
            seq = [None if kind in passing else type_check, junctors]
            seq.extend((string, formatted) if kind is str else ())
            seq.append(number if kind in (int, float) else None)
            seq.append(slice_ if kind is list else None)
            seq.append(enum_check)
            seq.append(obj if kind is dict else None)
        table[kind] = tuple(c for c in seq if c is not None)
    if not any(table.values()):
        return None
    trivial = frozenset(kind for kind, checks in table.items() if not checks)
    return _Compiled(_dispatch(table), trivial)


def _dispatch(table: dict[type, tuple[_Check, ...]]) -> _Check:
    def check(value: Any, path: str, errs: _Errs) -> None:
        checks = table.get(type(value))
        if checks is None:
            checks = table.get(_canonical_type(value), ())
        for one in checks:
            one(value, path, errs)

    objects = table[dict]
    if len(objects) != 1:
        return check
    only = objects[0]

    def object_first(value: Any, path: str, errs: _Errs) -> None:
        if type(value) is dict:
            only(value, path, errs)
        else:
            check(value, path, errs)

    return object_first


# --- the structural tree ------------------------------------------------------------------------


def _prune_untyped(value: Any, path: str, out: list[str]) -> None:
    """``prune(x, nil)``: every key of every object below is unknown."""
    if isinstance(value, dict):
        for key in value:
            out.append(f"{path}.{key}" if path else key)
        value.clear()
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _prune_untyped(item, f"{path}[{i}]", out)


class SchemaNode:
    """One node of a compiled structural schema. Read-only by convention.

    ``type`` is the declared type ("" when none), ``list_type`` is ``atomic``, ``set``, ``map``
    or "" (not declared: atomic for apply), ``map_type`` ``granular``, ``atomic`` or "".
    """

    __slots__ = (
        "_check",
        "_default",
        "_default_props",
        "_walks_defaults",
        "additional",
        "allows_additional",
        "embedded",
        "has_embedded",
        "has_list_rules",
        "int_or_string",
        "items",
        "list_map_keys",
        "list_type",
        "map_type",
        "nullable",
        "preserve_unknown",
        "properties",
        "raw",
        "type",
    )

    def __init__(self, raw: Mapping[str, Any], *, _cache: _CheckCache | None = None) -> None:
        if not _is_mapping(raw):
            raise SchemaError(f"a schema must be a JSON object, not {type(raw).__name__}")
        self.raw = raw
        declared = raw.get("type")
        self.type: str = declared if isinstance(declared, str) else ""
        self.nullable = raw.get("nullable") is True
        self._default: Any = raw["default"] if _has_default(raw) else _MISSING
        self.preserve_unknown = raw.get("x-kubernetes-preserve-unknown-fields") is True
        self.embedded = raw.get("x-kubernetes-embedded-resource") is True
        self.int_or_string = raw.get("x-kubernetes-int-or-string") is True
        list_type, map_type = raw.get("x-kubernetes-list-type"), raw.get("x-kubernetes-map-type")
        self.list_type: str = list_type if isinstance(list_type, str) else ""
        self.map_type: str = map_type if isinstance(map_type, str) else ""
        keys = raw.get("x-kubernetes-list-map-keys")
        self.list_map_keys: tuple[str, ...] = (
            tuple(str(k) for k in keys) if isinstance(keys, list) else ()
        )
        cache: _CheckCache = {} if _cache is None else _cache
        self.properties: dict[str, SchemaNode] = {
            k: SchemaNode(v, _cache=cache) for k, v in _props(raw).items()
        }
        additional = raw.get("additionalProperties")
        self.allows_additional = additional is not None
        self.additional = SchemaNode(additional, _cache=cache) if _is_mapping(additional) else None
        items = _mapping(raw.get("items"))
        self.items = SchemaNode(items, _cache=cache) if items is not None else None
        self._check = _compile_check(raw, cache)
        children = self._children()
        self._default_props = tuple(
            (k, node) for k, node in self.properties.items() if node._default is not _MISSING
        )
        self._walks_defaults = bool(children)
        self.has_list_rules: bool = self.list_type in ("set", "map") or any(
            c.has_list_rules for c in children
        )
        self.has_embedded: bool = self.embedded or any(c.has_embedded for c in children)

    def _children(self) -> list[SchemaNode]:
        children = list(self.properties.values())
        children.extend(n for n in (self.additional, self.items) if n is not None)
        return children

    def field(self, name: str) -> SchemaNode | None:
        """The schema of object field ``name``: a property, else the ``additionalProperties``."""
        return self.properties.get(name) or self.additional

    # -- defaulting (defaulting.PruneNonNullableNullsWithoutDefaults + defaulting.Default) --

    def apply_defaults(self, value: Any) -> None:
        """Default ``value`` (of this node's schema) in place."""
        if type(value) is dict:
            self._default_object(value)
        elif type(value) is list and self.items is not None:
            self._default_items(value, self.items)

    def _default_object(self, obj: dict[str, Any]) -> None:
        props, additional = self.properties, self.additional
        if None in obj.values():
            for key in [k for k, v in obj.items() if v is None]:
                schema = props.get(key) or additional
                if schema is not None and not schema.nullable and schema._default is _MISSING:
                    del obj[key]
        for key, defaulted in self._default_props:
            current = obj.get(key, _MISSING)
            if current is _MISSING or (current is None and not defaulted.nullable):
                obj[key] = _copy_json(defaulted._default)
        for key, item in obj.items():
            kind = type(item)
            if kind is dict or kind is list:
                node = props.get(key) or additional
                if node is None or not node._walks_defaults:
                    continue
                if kind is dict:
                    node._default_object(item)
                elif node.items is not None:
                    node._default_items(item, node.items)
            elif item is None and key not in props and _defaults_null(additional):
                obj[key] = _copy_json(additional._default)  # type: ignore[union-attr]
                additional.apply_defaults(obj[key])  # type: ignore[union-attr]

    @staticmethod
    def _default_items(items: list[Any], node: SchemaNode) -> None:
        for i, original in enumerate(items):
            item = original
            if item is None and not node.nullable and node._default is not _MISSING:
                items[i] = item = _copy_json(node._default)
            if type(item) is dict and node._walks_defaults:
                node._default_object(item)
            elif type(item) is list and node.items is not None:
                node._default_items(item, node.items)

    # -- pruning (pruning.PruneWithOptions) --------------------------------------------------

    def prune_value(self, value: Any, path: str, out: list[str], *, resource: bool) -> None:
        """Drop unknown fields of ``value`` in place, appending their paths to ``out``.
        ``resource``: treat this node as a resource root (keep apiVersion, kind, metadata)."""
        if self.preserve_unknown:
            self._skip_prune(value, path, out, resource=resource)
        elif type(value) is dict:
            self._prune_object(value, path, out, resource=resource or self.embedded)
        elif type(value) is list:
            self._prune_items(value, path, out)

    def _prune_object(
        self, obj: dict[str, Any], path: str, out: list[str], *, resource: bool
    ) -> None:
        props, additional, open_ = self.properties, self.additional, self.allows_additional
        unknown: list[str] | None = None
        for key, item in obj.items():
            if resource and key in _META_FIELDS:
                continue
            node = props.get(key)
            if node is None and not open_:
                if key not in _META_FIELDS or path:
                    out.append(f"{path}.{key}" if path else key)
                (unknown := unknown or []).append(key)
                continue
            if type(item) is not dict and type(item) is not list:
                continue
            child = f"{path}.{key}" if path else key
            if node is None:
                node = additional
            if node is None:
                _prune_untyped(item, child, out)
            else:
                node.prune_value(item, child, out, resource=False)
        for key in unknown or ():
            del obj[key]

    def _prune_items(self, items: list[Any], path: str, out: list[str]) -> None:
        node = self.items
        for i, item in enumerate(items):
            if type(item) is dict or type(item) is list:
                if node is None:
                    _prune_untyped(item, f"{path}[{i}]", out)
                else:
                    node.prune_value(item, f"{path}[{i}]", out, resource=False)

    def _skip_prune(self, value: Any, path: str, out: list[str], *, resource: bool) -> None:
        """``skipPrune``: below x-kubernetes-preserve-unknown-fields only known fields prune."""
        if type(value) is dict:
            resource = resource or self.embedded
            for key, item in value.items():
                if resource and key in _META_FIELDS:
                    continue
                node = self.properties.get(key)
                if node is None and not self.allows_additional:
                    continue
                child = f"{path}.{key}" if path else key
                node = node or self.additional
                if node is None:
                    _prune_untyped(item, child, out)
                else:
                    node.prune_value(item, child, out, resource=False)
        elif type(value) is list and self.items is not None:
            for i, item in enumerate(value):
                self.items._skip_prune(item, f"{path}[{i}]", out, resource=False)

    # -- validation -----------------------------------------------------------------------------

    def check_value(self, value: Any, errs: _Errs) -> None:
        """kube-openapi validation of ``value`` against this node, names relative to it."""
        if self._check is not None and type(value) not in self._check.trivial:
            self._check.check(value, "", errs)

    def _containers_below(
        self, value: Any, path: str, wanted: Callable[[SchemaNode], bool]
    ) -> Iterator[tuple[SchemaNode, Any, str]]:
        """(schema, value, field.Path) of the object or array children of ``value`` whose
        schema is ``wanted``: properties by name, map values as ``[key]``, items as ``[i]``."""
        if type(value) is dict:
            for key, item in value.items():
                if type(item) is not dict and type(item) is not list:
                    continue
                node = self.properties.get(key)
                if node is not None:
                    if wanted(node):
                        yield node, item, f"{path}.{key}" if path else key
                elif self.additional is not None and wanted(self.additional):
                    yield self.additional, item, f"{path}[{key}]"
        elif type(value) is list and self.items is not None and wanted(self.items):
            for i, item in enumerate(value):
                if type(item) is dict or type(item) is list:
                    yield self.items, item, f"{path}[{i}]"

    def list_errors(self, value: Any, path: str, errs: list[Any]) -> None:
        """``listtype.ValidateListSetsAndMaps``: unique set items and map keys."""
        if type(value) is list and self.list_type in ("set", "map"):
            if self.list_type == "set":
                for i in _repeated(value):
                    errs.append(_literal(FIELD_VALUE_DUPLICATE, f"{path}[{i}]", value[i]))
            else:
                errs.extend(self._map_list_errors(value, path))
        for node, item, child in self._containers_below(value, path, _has_list_rules):
            node.list_errors(item, child, errs)

    def _map_list_errors(self, items: list[Any], path: str) -> _Errs:
        for i, item in enumerate(items):
            if item is not None and type(item) is not dict:
                detail = "must be an object for an array of list-type map"
                return [_literal(FIELD_VALUE_INVALID, f"{path}[{i}]", item, detail)]
        keys = [
            {k: item[k] for k in self.list_map_keys if k in item} if item is not None else {}
            for item in items
        ]
        return [_literal(FIELD_VALUE_DUPLICATE, f"{path}[{i}]", keys[i]) for i in _repeated(keys)]

    def embedded_errors(self, value: Any, path: str, errs: list[Any], *, resource: bool) -> None:
        """``objectmeta.Validate``: apiVersion, kind and metadata of embedded resources."""
        if type(value) is dict and (resource or self.embedded):
            errs.extend(_embedded_resource_errors(value, path))
        for node, item, child in self._containers_below(value, path, _has_embedded):
            node.embedded_errors(item, child, errs, resource=False)


def _defaults_null(node: SchemaNode | None) -> bool:
    """``isNonNullableNull`` with a default to put in the null's place."""
    return node is not None and not node.nullable and node._default is not _MISSING


def _has_list_rules(node: SchemaNode) -> bool:
    return node.has_list_rules


def _has_embedded(node: SchemaNode) -> bool:
    return node.has_embedded


def _repeated(values: list[Any]) -> list[int]:
    """``validateListSet``: the index of each value's second occurrence."""
    seen: dict[Any, int] = {}
    repeated: list[int] = []
    for i, value in enumerate(values):
        key = _json_key(value)
        times = seen.get(key, 0)
        if times == 1:
            repeated.append(i)
        seen[key] = times + 1
    return repeated


def _embedded_resource_errors(obj: dict[str, Any], path: str) -> list[Any]:
    prefix = f"{path}." if path else ""
    errs: list[Any] = []
    for required in ("apiVersion", "kind"):
        if required not in obj:
            errs.append(_literal(FIELD_VALUE_REQUIRED, prefix + required))
    for key, value in obj.items():
        if key == "apiVersion":
            errs.extend(_api_version_errors(value, prefix + key))
        elif key == "kind":
            errs.extend(_kind_errors(value, prefix + key))
        elif key == "metadata":
            errs.extend(_embedded_metadata_errors(value, prefix + key))
    return errs


def _api_version_errors(value: Any, field: str) -> _Errs:
    if not isinstance(value, str):
        return [_literal(FIELD_VALUE_INVALID, field, value, "must be a string")]
    if not value:
        return [_literal(FIELD_VALUE_INVALID, field, value, "must not be empty")]
    if value.count("/") > 1:
        return [
            _literal(FIELD_VALUE_INVALID, field, value, f"unexpected GroupVersion string: {value}")
        ]
    return []


def _kind_errors(value: Any, field: str) -> _Errs:
    if not isinstance(value, str):
        return [_literal(FIELD_VALUE_INVALID, field, value, "must be a string")]
    if not value:
        return [_literal(FIELD_VALUE_INVALID, field, value, "must not be empty")]
    problems = is_dns1035_label(value.lower())
    if problems:
        detail = "may have mixed case, but should otherwise match: " + ",".join(problems)
        return [_literal(FIELD_VALUE_INVALID, field, value, detail)]
    return []


_META_STRINGS = ("name", "generateName", "namespace")


def _embedded_metadata_errors(value: Any, field: str) -> list[Any]:
    if not isinstance(value, dict) or any(
        k in value and not isinstance(value[k], str) for k in _META_STRINGS
    ):
        return [_literal(FIELD_VALUE_INVALID, field, value, "cannot be decoded as ObjectMeta")]
    meta = dict(value)
    meta["name"] = meta.get("name") or "fakename"
    namespaced = bool(meta.get("namespace"))
    return list(
        validate_object_meta(meta, rule=NameRule.PATH_SEGMENT, namespaced=namespaced, field=field)
    )


class CompiledSchema:
    """One CRD version's ``openAPIV3Schema``, compiled once; safe to share between requests."""

    __slots__ = ("root",)

    def __init__(self, root: SchemaNode) -> None:
        self.root = root

    @classmethod
    def compile(cls, schema: Mapping[str, Any]) -> CompiledSchema:
        """Compile a schema `check_structural` accepted (anything else compiles leniently)."""
        return cls(SchemaNode(schema))

    def default(self, obj: dict[str, Any]) -> None:
        """Apply ``default:`` values in place and drop nulls of non-nullable undefaulted fields."""
        self.root.apply_defaults(obj)

    def prune(self, obj: dict[str, Any]) -> list[str]:
        """Drop unknown fields in place; return their paths, sorted (``spec.foo``)."""
        out: list[str] = []
        self.root.prune_value(obj, "", out, resource=True)
        out.sort()
        return out

    def validate(self, obj: Any) -> list[Cause]:
        """The causes a create or update of ``obj`` fails with (empty: valid)."""
        errs: list[Any] = []
        self.root.check_value(obj, errs)
        if self.root.has_embedded:
            self.root.embedded_errors(obj, "", errs, resource=False)
        if self.root.has_list_rules:
            self.root.list_errors(obj, "", errs)
        return [_cause(err) for err in errs]


# --- check_structural: why a CRD version's schema is refused ------------------------------------


def _key(path: str, key: str) -> str:
    return f"{path}[{key}]"


def check_structural(schema: Mapping[str, Any], *, field_path: str) -> list[Cause]:
    """Why a CRD version's ``openAPIV3Schema`` is refused (empty: fine). ``field_path`` is the
    schema's own path, e.g. ``spec.versions[0].schema.openAPIV3Schema``."""
    causes: list[Cause] = []
    if schema.get("nullable") is True:
        causes.append(
            _cause(
                _literal(
                    FIELD_VALUE_FORBIDDEN,
                    f"{field_path}.nullable",
                    "",
                    "nullable cannot be true at the root",
                )
            )
        )
    unsupported = _unsupported_field(schema)
    if unsupported is None:
        structural = _structural_errors(schema, field_path)
        if structural:
            causes.extend(structural)
        else:
            causes.extend(_default_errors(SchemaNode(schema), field_path))
    openapi: list[Cause] = []
    _openapi_errors(schema, field_path, _Rules(), openapi, root=True)
    causes.extend(openapi)
    if not causes and unsupported is not None:
        causes.append(_cause(_literal(FIELD_VALUE_INVALID, field_path, "", unsupported)))
    return causes


# structural.NewStructural refuses these before any structural check runs.
_UNSUPPORTED_KEYS = (
    ("id", "id"),
    ("$schema", "schema"),
    ("$ref", "$ref"),
    ("patternProperties", "patternProperties"),
    ("dependencies", "dependencies"),
    ("additionalItems", "additionalItems"),
    ("definitions", "definitions"),
)


def _unsupported_field(schema: Mapping[str, Any]) -> str | None:
    """``NewStructural``'s error for the first keyword a structural schema cannot carry."""
    for key, name in _UNSUPPORTED_KEYS:
        value = schema.get(key)
        if value is not None and value not in ("", {}):
            return f"OpenAPIV3Schema '{name}' is not supported"
    nested = [_mapping(schema.get("not"))]
    nested.extend(_schema_list(schema, "allOf") + _schema_list(schema, "anyOf"))
    nested.extend(_schema_list(schema, "oneOf"))
    additional = _mapping(schema.get("additionalProperties"))
    for sub in [*nested, additional]:
        problem = _unsupported_field(sub) if sub is not None else None
        if problem:
            return problem
    if schema.get("x-kubernetes-preserve-unknown-fields") is False:
        return "internal error: 'x-kubernetes-preserve-unknown-fields' must be true or undefined"
    items = schema.get("items")
    if isinstance(items, list):
        return "OpenAPIV3Schema 'items' must be a schema, but is an array"
    for sub in [_mapping(items), *_props(schema).values()]:
        problem = _unsupported_field(sub) if sub is not None else None
        if problem:
            return problem
    return None


_ROOT, _ITEM, _FIELD = "root", "item", "field"
_EMPTY_TYPE = {
    _ROOT: "must not be empty at the root",
    _ITEM: "must not be empty for specified array items",
    _FIELD: "must not be empty for specified object fields",
}


def _structural_errors(schema: Mapping[str, Any], path: str) -> list[Cause]:
    """``ValidateStructural``: invariants of every node plus root completeness, sorted."""
    errs: _Errs = []
    _invariants(schema, _ROOT, path, errs)
    _value_completeness(schema, schema, path, path, errs)
    causes = [_cause(err) for err in errs]
    causes.sort(key=lambda c: f"{c['field']}: {c['message']}")
    return causes


def _forbidden(field: str, detail: str) -> _Err:
    return _literal(FIELD_VALUE_FORBIDDEN, field, "", detail)


def _required(field: str, detail: str) -> _Err:
    return _literal(FIELD_VALUE_REQUIRED, field, "", detail)


def _invalid(field: str, value: Any, detail: str) -> _Err:
    return _literal(FIELD_VALUE_INVALID, field, value, detail)


def _type_required_or_invalid(field: str, declared: str, detail: str) -> _Err:
    return _required(field, detail) if not declared else _invalid(field, declared, detail)


def _is_int_or_string_any_of(alternatives: list[Mapping[str, Any]]) -> bool:
    return [dict(a) for a in alternatives] == [{"type": "integer"}, {"type": "string"}]


def _invariants(s: Mapping[str, Any], level: str, path: str, errs: _Errs) -> None:
    """``validateStructuralInvariants`` of one node and (recursively) its structural children."""
    declared = _type_of(s)
    items = _mapping(s.get("items"))
    if declared == "array" and items is None:
        errs.append(_required(f"{path}.items", "must be specified"))
    if items is not None:
        _invariants(items, _ITEM, f"{path}.items", errs)
    props = _props(s)
    for key, prop in props.items():
        _invariants(prop, _FIELD, _key(f"{path}.properties", key), errs)
    additional = s.get("additionalProperties")
    if additional is not None:
        if level == _ROOT:
            errs.append(_forbidden(f"{path}.additionalProperties", "must not be used at the root"))
        if _is_mapping(additional):
            _invariants(additional, _FIELD, f"{path}.additionalProperties", errs)
    embedded = s.get("x-kubernetes-embedded-resource") is True
    int_or_string = s.get("x-kubernetes-int-or-string") is True
    preserve = s.get("x-kubernetes-preserve-unknown-fields") is True
    if int_or_string and preserve:
        detail = "must be false if x-kubernetes-int-or-string is true"
        errs.append(_invalid(f"{path}.x-kubernetes-preserve-unknown-fields", True, detail))
    if int_or_string and embedded:
        detail = "must be false if x-kubernetes-int-or-string is true"
        errs.append(_invalid(f"{path}.x-kubernetes-embedded-resource", True, detail))
    any_of, all_of = _schema_list(s, "anyOf"), _schema_list(s, "allOf")
    skip_any_of = _is_int_or_string_any_of(any_of)
    skip_first = bool(all_of) and _is_int_or_string_any_of(_schema_list(all_of[0], "anyOf"))
    _value_validation(
        s, skip_any_of=skip_any_of, skip_first_all_of=skip_first, level=level, path=path, errs=errs
    )
    check_metadata = level == _ROOT or embedded
    if embedded and declared != "object":
        detail = "must be object if x-kubernetes-embedded-resource is true"
        errs.append(_type_required_or_invalid(f"{path}.type", declared, detail))
    elif not declared and not int_or_string and not preserve:
        errs.append(_required(f"{path}.type", _EMPTY_TYPE[level]))
    if embedded and additional is not None:
        detail = "must not be used if x-kubernetes-embedded-resource is set"
        errs.append(_forbidden(f"{path}.additionalProperties", detail))
    if level == _ROOT and declared and declared != "object":
        errs.append(_invalid(f"{path}.type", declared, "must be object at the root"))
    for meta_key in ("kind", "apiVersion"):
        if meta_key in props and check_metadata:
            meta_type = props[meta_key].get("type") or ""
            if meta_type != "string":
                field = f"{_key(f'{path}.properties', meta_key)}.type"
                errs.append(_invalid(field, meta_type, "must be string"))
    if "metadata" in props:
        metadata_path = _key(f"{path}.properties", "metadata")
        _metadata_invariants(props["metadata"], check_metadata, level, metadata_path, errs)
    if embedded and not preserve and not props:
        detail = (
            "must not be empty if x-kubernetes-embedded-resource is true without "
            "x-kubernetes-preserve-unknown-fields"
        )
        errs.append(_required(f"{path}.properties", detail))


# Keys that make root metadata "specify something" besides name and generateName.
_NON_TRIVIAL_METADATA_KEYS = (
    "description",
    "title",
    "nullable",
    "additionalProperties",
    "items",
    "format",
    "maximum",
    "exclusiveMaximum",
    "minimum",
    "exclusiveMinimum",
    "maxLength",
    "minLength",
    "pattern",
    "maxItems",
    "minItems",
    "uniqueItems",
    "multipleOf",
    "enum",
    "maxProperties",
    "minProperties",
    "required",
    "allOf",
    "oneOf",
    "anyOf",
    "not",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-list-type",
    "x-kubernetes-map-type",
    "x-kubernetes-validations",
)


def _metadata_invariants(
    m: Mapping[str, Any], check_metadata: bool, level: str, path: str, errs: _Errs
) -> None:
    declared = _type_of(m)
    if check_metadata and declared != "object":
        errs.append(_invalid(f"{path}.type", declared, "must be object"))
    if level != _ROOT:
        return
    props = set(_props(m))
    constrained = bool(props) and not props <= {"name", "generateName"}
    specified = any(_specified(m.get(key)) for key in _NON_TRIVIAL_METADATA_KEYS)
    specified = specified or m.get("additionalProperties") is not None
    if constrained or specified:
        detail = (
            "must not specify anything other than name and generateName, but metadata is "
            "implicitly specified"
        )
        errs.append(_forbidden(path, detail))


def _value_validation(
    s: Mapping[str, Any],
    *,
    skip_any_of: bool,
    skip_first_all_of: bool,
    level: str,
    path: str,
    errs: _Errs,
) -> None:
    """``validateValueValidation``: the junctors under a node and its ``pattern``."""
    if not skip_any_of:
        for i, sub in enumerate(_schema_list(s, "anyOf")):
            _nested(sub, skip_any_of=False, level=level, path=f"{path}.anyOf[{i}]", errs=errs)
    for i, sub in enumerate(_schema_list(s, "allOf")):
        skip = skip_first_all_of and i == 0
        _nested(sub, skip_any_of=skip, level=level, path=f"{path}.allOf[{i}]", errs=errs)
    for i, sub in enumerate(_schema_list(s, "oneOf")):
        _nested(sub, skip_any_of=False, level=level, path=f"{path}.oneOf[{i}]", errs=errs)
    not_ = _mapping(s.get("not"))
    if not_ is not None:
        _nested(not_, skip_any_of=False, level=level, path=f"{path}.not", errs=errs)
    pattern = s.get("pattern")
    if isinstance(pattern, str) and pattern:
        compiled, problem = _compile_pattern(pattern)
        if compiled is None:
            detail = f"must be a valid regular expression, but isn't: {problem}"
            errs.append(_invalid(f"{path}.pattern", pattern, detail))


# (keyword, what upstream says when a junctor specifies it)
_NESTED_FORBIDDEN = (
    ("type", "must be empty to be structural"),
    ("additionalProperties", "must be undefined to be structural"),
    ("default", "must be undefined to be structural"),
    ("title", "must be empty to be structural"),
    ("description", "must be empty to be structural"),
    ("nullable", "must be false to be structural"),
    ("externalDocs", "must be undefined to be structural"),
    ("x-kubernetes-preserve-unknown-fields", "must be false to be structural"),
    ("x-kubernetes-embedded-resource", "must be false to be structural"),
    ("x-kubernetes-int-or-string", "must be false to be structural"),
    ("x-kubernetes-list-map-keys", "must be empty to be structural"),
    ("x-kubernetes-list-type", "must be undefined to be structural"),
    ("x-kubernetes-map-type", "must be undefined to be structural"),
    ("x-kubernetes-validations", "must be empty to be structural"),
)


def _nested(
    v: Mapping[str, Any],
    *,
    skip_any_of: bool,
    level: str,
    path: str,
    errs: _Errs,
) -> None:
    """``validateNestedValueValidation``: a junctor may only restrict, never specify."""
    _value_validation(
        v, skip_any_of=skip_any_of, skip_first_all_of=False, level=level, path=path, errs=errs
    )
    items = _mapping(v.get("items"))
    if items is not None:
        _nested(items, skip_any_of=False, level=level, path=f"{path}.items", errs=errs)
    props = _props(v)
    for key, prop in props.items():
        prop_path = _key(f"{path}.properties", key)
        _nested(prop, skip_any_of=False, level=_FIELD, path=prop_path, errs=errs)
    for keyword, detail in _NESTED_FORBIDDEN:
        value = v.get(keyword)
        if _specified(value) or (keyword == "additionalProperties" and value is not None):
            errs.append(_forbidden(f"{path}.{keyword}", detail))
    if "metadata" in props:
        detail = "must not be specified in a nested context"
        errs.append(_forbidden(_key(f"{path}.properties", "metadata"), detail))


def _value_completeness(
    v: Mapping[str, Any], s: Mapping[str, Any] | None, s_path: str, v_path: str, errs: _Errs
) -> None:
    """``validateValueValidationCompleteness`` (upstream checks the root's junctors only)."""
    not_ = _mapping(v.get("not"))
    if not_ is not None:
        _nested_completeness(not_, s, s_path, f"{v_path}.not", errs)
    for keyword in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(_schema_list(v, keyword)):
            _nested_completeness(sub, s, s_path, f"{v_path}.{keyword}[{i}]", errs)


def _nested_completeness(
    v: Mapping[str, Any], s: Mapping[str, Any] | None, s_path: str, v_path: str, errs: _Errs
) -> None:
    if s is None:
        errs.append(_required(s_path, f"because it is defined in {v_path}"))
        return
    _value_completeness(v, s, s_path, v_path, errs)
    items = _mapping(v.get("items"))
    if items is not None:
        _nested_completeness(
            items, _mapping(s.get("items")), f"{s_path}.items", f"{v_path}.items", errs
        )
    s_props = _props(s)
    for key, prop in _props(v).items():
        s_key, v_key = _key(f"{s_path}.properties", key), _key(f"{v_path}.properties", key)
        if key not in s_props:
            errs.append(_required(s_key, f"because it is defined in {v_key}"))
        else:
            _nested_completeness(prop, s_props[key], s_key, v_key, errs)


def _default_errors(root: SchemaNode, path: str) -> list[Cause]:
    """``defaulting.ValidateDefaults``: each default pruned, valid metadata, valid value."""
    causes: list[Cause] = []
    _walk_defaults(root, path, causes, inside_meta=False, resource=True)
    return causes


def _walk_defaults(
    node: SchemaNode, path: str, causes: list[Cause], *, inside_meta: bool, resource: bool
) -> None:
    resource = resource or node.embedded
    if node.embedded:
        inside_meta = False
    if node._default is not _MISSING:
        causes.extend(_one_default_errors(node, path, inside_meta=inside_meta))
    if node.items is not None:
        _walk_defaults(node.items, f"{path}.items", causes, inside_meta=inside_meta, resource=False)
    for key, prop in node.properties.items():
        sub_meta = inside_meta or (resource and key in _META_FIELDS)
        prop_path = _key(f"{path}.properties", key)
        _walk_defaults(prop, prop_path, causes, inside_meta=sub_meta, resource=False)


def _one_default_errors(node: SchemaNode, path: str, *, inside_meta: bool) -> list[Cause]:
    base = f"{path}.default"
    default = node._default
    causes: list[Cause] = []
    if not inside_meta:
        pruned = _copy_json(default)
        node.prune_value(pruned, "", [], resource=node.embedded)
        if pruned != default:
            causes.append(_cause(_invalid(base, default, "must not have unknown fields")))
        embedded: list[Any] = []
        node.embedded_errors(default, base, embedded, resource=node.embedded)
        if embedded:
            return causes + [_cause(err) for err in embedded]
    errs: _Errs = []
    node.check_value(default, errs)
    causes.extend(_cause(err, base) for err in errs)
    return causes


class _Rules(NamedTuple):
    """``specStandardValidatorV3``'s state while descending the schema."""

    allow_defaults: bool = True
    defaults_reason: str = ""
    inside_meta: bool = False

    def without_defaults(self, reason: str) -> _Rules:
        return self._replace(allow_defaults=False, defaults_reason=reason)


def _openapi_errors(
    s: Mapping[str, Any], path: str, rules: _Rules, out: list[Cause], *, root: bool
) -> None:
    """``ValidateCustomResourceDefinitionOpenAPISchema`` (with the v1 CRD create options)."""
    out.extend(_cause(err) for err in _standard_errors(s, path, rules))
    if s.get("uniqueItems") is True:
        detail = "uniqueItems cannot be set to true since the runtime complexity becomes quadratic"
        out.append(_cause(_forbidden(f"{path}.uniqueItems", detail)))
    props = _props(s)
    additional = s.get("additionalProperties")
    if additional is not None:
        if props and (additional is False or _is_mapping(additional)):
            detail = "additionalProperties and properties are mutual exclusive"
            out.append(_cause(_forbidden(f"{path}.additionalProperties", detail)))
        if _is_mapping(additional):
            sub = rules
            if rules.inside_meta:
                sub = rules.without_defaults(
                    "inside additionalProperties applying to object metadata"
                )
            _openapi_errors(additional, f"{path}.additionalProperties", sub, out, root=False)
    for key, prop in props.items():
        sub = rules
        if (root or s.get("x-kubernetes-embedded-resource") is True) and key in _META_FIELDS:
            sub = sub._replace(inside_meta=True)
            if root:
                sub = sub.without_defaults(f"in top-level {key}")
        _openapi_errors(prop, _key(f"{path}.properties", key), sub, out, root=False)
    for child, child_path in _openapi_children(s, path):
        _openapi_errors(child, child_path, rules, out, root=False)
    out.extend(_cause(err) for err in _extension_errors(s, path))
    validations = s.get("x-kubernetes-validations")
    if isinstance(validations, list) and validations:
        out.append(_cause(_forbidden(f"{path}.x-kubernetes-validations", CEL_REFUSED)))


def _openapi_children(s: Mapping[str, Any], path: str) -> Iterator[tuple[Mapping[str, Any], str]]:
    not_ = _mapping(s.get("not"))
    if not_ is not None:
        yield not_, f"{path}.not"
    for keyword in ("allOf", "oneOf", "anyOf"):
        for i, sub in enumerate(_schema_list(s, keyword)):
            yield sub, f"{path}.{keyword}[{i}]"
    definitions = _mapping(s.get("definitions")) or {}
    for key, sub in definitions.items():
        if _is_mapping(sub):
            yield sub, _key(f"{path}.definitions", str(key))
    items = s.get("items")
    if _is_mapping(items):
        yield items, f"{path}.items"
    elif isinstance(items, list):
        for i, sub in enumerate(items):
            if _is_mapping(sub):
                yield sub, f"{path}.items[{i}]"
    dependencies = _mapping(s.get("dependencies")) or {}
    for key, sub in dependencies.items():
        if _is_mapping(sub):
            yield sub, _key(f"{path}.dependencies", str(key))


def _standard_errors(s: Mapping[str, Any], path: str, rules: _Rules) -> _Errs:
    """``specStandardValidatorV3.validate``: keywords a CRD schema may not use."""
    errs: _Errs = []
    declared = s.get("type")
    if isinstance(declared, str) and declared and declared not in OPENAPI_V3_TYPES:
        detail = "supported values: " + ", ".join(go_quote(t) for t in OPENAPI_V3_TYPES)
        errs.append(_literal(FIELD_VALUE_NOT_SUPPORTED, f"{path}.type", declared, detail))
    if _has_default(s) and not rules.allow_defaults:
        reason = f" {rules.defaults_reason}" if rules.defaults_reason else ""
        errs.append(_forbidden(f"{path}.default", f"must not be set{reason}"))
    present = {
        "id": bool(s.get("id")),
        "additionalItems": s.get("additionalItems") is not None,
        "patternProperties": bool(s.get("patternProperties")),
        "definitions": bool(s.get("definitions")),
        "dependencies": s.get("dependencies") is not None,
        "$ref": s.get("$ref") is not None,
    }
    for key, is_set in present.items():
        if is_set:
            errs.append(_forbidden(f"{path}.{key}", f"{key} is not supported"))
    if declared == "null":
        detail = "type cannot be set to null, use nullable as an alternative"
        errs.append(_forbidden(f"{path}.type", detail))
    if isinstance(s.get("items"), list) and s.get("items"):
        errs.append(_forbidden(f"{path}.items", "items must be a schema object and not an array"))
    if rules.inside_meta and s.get("x-kubernetes-embedded-resource") is True:
        detail = "must not be used inside of resource meta"
        errs.append(_forbidden(f"{path}.x-kubernetes-embedded-resource", detail))
    return errs


def _extension_errors(s: Mapping[str, Any], path: str) -> _Errs:
    """The x-kubernetes-* rules of ``ValidateCustomResourceDefinitionOpenAPISchema``."""
    errs: _Errs = []
    declared = _type_of(s)
    if s.get("x-kubernetes-preserve-unknown-fields") is False:
        errs.append(
            _invalid(
                f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined"
            )
        )
    map_type = s.get("x-kubernetes-map-type")
    if map_type is not None:
        if declared != "object":
            detail = "must be object if x-kubernetes-map-type is specified"
            errs.append(_type_required_or_invalid(f"{path}.type", declared, detail))
        if map_type not in ("atomic", "granular"):
            detail = 'supported values: "atomic", "granular"'
            errs.append(
                _literal(
                    FIELD_VALUE_NOT_SUPPORTED, f"{path}.x-kubernetes-map-type", map_type, detail
                )
            )
    errs.extend(_list_type_errors(s, path, declared))
    return errs


def _list_type_errors(s: Mapping[str, Any], path: str, declared: str) -> _Errs:
    errs: _Errs = []
    list_type = s.get("x-kubernetes-list-type")
    items = _mapping(s.get("items"))
    if list_type is not None and declared != "array":
        detail = "must be array if x-kubernetes-list-type is specified"
        errs.append(_type_required_or_invalid(f"{path}.type", declared, detail))
    elif list_type == "set" and items is not None:
        detail = "must be atomic as item of a list with x-kubernetes-list-type=set"
        item_list_type = items.get("x-kubernetes-list-type")
        if items.get("type") == "array" and item_list_type not in (None, "atomic"):
            errs.append(_invalid(f"{path}.items.x-kubernetes-list-type", item_list_type, detail))
        if items.get("type") == "object" and items.get("x-kubernetes-map-type") != "atomic":
            errs.append(_invalid(f"{path}.items.x-kubernetes-map-type", item_list_type, detail))
    if list_type is not None and list_type not in ("atomic", "set", "map"):
        detail = 'supported values: "atomic", "set", "map"'
        errs.append(
            _literal(FIELD_VALUE_NOT_SUPPORTED, f"{path}.x-kubernetes-list-type", list_type, detail)
        )
    raw_keys = s.get("x-kubernetes-list-map-keys")
    keys = [str(k) for k in raw_keys] if isinstance(raw_keys, list) else []
    if keys and list_type != "map":
        detail = "must be map if x-kubernetes-list-map-keys is non-empty"
        field = f"{path}.x-kubernetes-list-type"
        errs.append(
            _required(field, detail) if list_type is None else _invalid(field, list_type, detail)
        )
    if list_type == "map":
        errs.extend(_map_list_errors(s, path, keys, items))
    if items is not None and list_type in ("set", "map"):
        errs.extend(_map_set_item_errors(items, path, str(list_type), keys))
    return errs


def _go_strings(values: list[str]) -> _GoText:
    return _GoText("[]string{" + ", ".join(go_quote(v) for v in values) + "}")


def _map_list_errors(
    s: Mapping[str, Any], path: str, keys: list[str], items: Mapping[str, Any] | None
) -> _Errs:
    errs: _Errs = []
    if not keys:
        detail = "must not be empty if x-kubernetes-list-type is map"
        errs.append(_required(f"{path}.x-kubernetes-list-map-keys", detail))
    if s.get("items") is None:
        errs.append(
            _required(f"{path}.items", "must have a schema if x-kubernetes-list-type is map")
        )
    elif items is None:
        detail = "must only have a single schema if x-kubernetes-list-type is map"
        errs.append(_invalid(f"{path}.items", "", detail))
    if items is None:
        return errs
    item_type = _type_of(items)
    if item_type != "object":
        detail = "must be object if parent array's x-kubernetes-list-type is map"
        return [*errs, _invalid(f"{path}.items.type", item_type, detail)]
    props, seen = _props(items), set()
    for key in keys:
        if key in props:
            if props[key].get("type") in ("array", "object"):
                field = f"{_key(f'{path}.items.properties', key)}.type"
                detail = "must be a scalar type if parent array's x-kubernetes-list-type is map"
                errs.append(_invalid(field, item_type, detail))
        else:
            detail = "entries must all be names of item properties"
            errs.append(_invalid(f"{path}.x-kubernetes-list-map-keys", _go_strings(keys), detail))
        if key in seen:
            detail = "must not contain duplicate entries"
            errs.append(_invalid(f"{path}.x-kubernetes-list-map-keys", _go_strings(keys), detail))
        seen.add(key)
    return errs


def _map_set_item_errors(
    items: Mapping[str, Any], path: str, list_type: str, keys: list[str]
) -> _Errs:
    """``validateMapListKeysMapSet``: set and map items are never null; map keys always set."""
    errs: _Errs = []
    if items.get("nullable") is True:
        detail = f"cannot be nullable when x-kubernetes-list-type is {list_type}"
        errs.append(_forbidden(f"{path}.items.nullable", detail))
    if list_type != "map":
        return errs
    props = _props(items)
    raw_required = items.get("required")
    required = set(raw_required) if isinstance(raw_required, list) else set()
    for key in keys:
        prop = props.get(key)
        if prop is None:
            continue
        prop_path = _key(f"{path}.items.properties", key)
        if key not in required and not _has_default(prop):
            detail = (
                "this property is in x-kubernetes-list-map-keys, so it must have a default or be "
                "a required property"
            )
            errs.append(_required(f"{prop_path}.default", detail))
        if prop.get("nullable") is True:
            detail = "this property is in x-kubernetes-list-map-keys, so it cannot be nullable"
            errs.append(_forbidden(f"{prop_path}.nullable", detail))
    return errs
