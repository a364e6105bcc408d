"""The least common denominator of structural schemas: what every imported cluster can hold.

Why this module exists: when several edge clusters import the same resource into a workspace
(``deployments.apps`` from a 1.27 and a 1.30 cluster), the workspace serves one schema for it.
An object written there is synced to every cluster, so the served schema may only allow what
each of them allows: the narrower cluster wins. `common_schema` computes that schema for two
structural schemas (kcp's ``pkg/schemacompat`` idea), `lcd` folds a list:

* a property known on one side only is dropped (unless the other side preserves unknown
  fields, then it is kept as the knowing side describes it): dropping is narrowing, not a
  conflict;
* ``type`` must agree (``integer`` and ``number`` meet in ``integer``; int-or-string meets
  ``integer`` or ``string`` in that type; an untyped preserve-unknown-fields node meets
  anything in the other side);
* ``enum`` intersects (empty: conflict), ``required`` is the union of kept properties, bounds
  take the tighter value, ``format``/``pattern``/``multipleOf`` must agree when both are set,
  ``nullable`` and ``x-kubernetes-preserve-unknown-fields`` only survive if both sides have them;
* ``x-kubernetes-list-type``/``-list-map-keys``/``-map-type`` must agree (absent: the defaults).

Conflicts come back as `Incompatibility` values with a field path
(``.spec.template.spec.containers[*].image``); where one occurs the left side's node is kept.
The output is deterministic: properties and ``required`` sorted, ``enum`` in the left order.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Schema = dict[str, Any]


@dataclass(frozen=True)
class Incompatibility:
    """One reason two schemas cannot be served as one (``path``: ``.spec.replicas``)."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '.'}: {self.message}"


_LOWER_BOUNDS = ("minLength", "minItems", "minProperties")
_UPPER_BOUNDS = ("maxLength", "maxItems", "maxProperties")
_MUST_AGREE = ("pattern", "multipleOf", "default", "anyOf", "allOf", "oneOf", "not")
_INT_OR_STRING_ANY_OF = [{"type": "integer"}, {"type": "string"}]
_NARROWER_FORMAT = {
    frozenset({"int32", "int64"}): "int32",
    frozenset({"float", "double"}): "float",
}
_HANDLED = frozenset(
    {
        "type",
        "description",
        "properties",
        "required",
        "items",
        "additionalProperties",
        "enum",
        "format",
        "nullable",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "exclusiveMaximum",
        "x-kubernetes-preserve-unknown-fields",
        "x-kubernetes-int-or-string",
        "x-kubernetes-embedded-resource",
        "x-kubernetes-list-type",
        "x-kubernetes-list-map-keys",
        "x-kubernetes-map-type",
        *_LOWER_BOUNDS,
        *_UPPER_BOUNDS,
        *_MUST_AGREE,
    }
)


def lcd(schemas: Sequence[Mapping[str, Any]]) -> tuple[Schema, list[Incompatibility]]:
    """Fold `common_schema` over ``schemas`` (at least one) from the left."""
    if not schemas:
        raise ValueError("lcd needs at least one schema")
    result = _copy_schema(schemas[0])
    problems: list[Incompatibility] = []
    for schema in schemas[1:]:
        result, found = common_schema(result, schema)
        problems.extend(found)
    return result, problems


def common_schema(
    a: Mapping[str, Any], b: Mapping[str, Any], path: str = ""
) -> tuple[Schema, list[Incompatibility]]:
    """The schema both ``a`` and ``b`` accept everything of, and why that is impossible (if so)."""
    merger = _Merger()
    return merger.node(a, b, path), merger.problems


def _copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _copy(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_copy(v) for v in value]
    return value


def _copy_schema(schema: Mapping[str, Any]) -> Schema:
    return {str(k): _copy(v) for k, v in schema.items()}


def _strings(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _is_any(schema: Mapping[str, Any]) -> bool:
    """An untyped node keeping whatever it is given (``RawExtension``-like)."""
    return (
        not schema.get("type")
        and schema.get("x-kubernetes-preserve-unknown-fields") is True
        and schema.get("x-kubernetes-int-or-string") is not True
    )


def _is_int_or_string(schema: Mapping[str, Any]) -> bool:
    return schema.get("x-kubernetes-int-or-string") is True


def _type_name(schema: Mapping[str, Any]) -> str:
    if _is_int_or_string(schema):
        return "int-or-string"
    declared = schema.get("type")
    return declared if isinstance(declared, str) and declared else "any"


def _json_key(value: Any) -> str:
    return repr(_sorted(value))


def _sorted(value: Any) -> Any:
    if isinstance(value, Mapping):
        return sorted((str(k), _sorted(v)) for k, v in value.items())
    if isinstance(value, list | tuple):
        return [_sorted(v) for v in value]
    return (type(value).__name__, value)


def _mapping(value: Any) -> Mapping[str, Any] | None:
    return value if isinstance(value, Mapping) else None


class _Merger:
    def __init__(self) -> None:
        self.problems: list[Incompatibility] = []

    def conflict(self, path: str, message: str) -> None:
        self.problems.append(Incompatibility(path, message))

    def node(self, a: Mapping[str, Any], b: Mapping[str, Any], path: str) -> Schema:
        if _is_any(a) and not _is_any(b):
            return self._narrowed(b, a)
        if _is_any(b) and not _is_any(a):
            return self._narrowed(a, b)
        out: Schema = {}
        if not self._types(a, b, out, path):
            return _copy_schema(a)
        self._annotations(a, b, out)
        self._enum(a, b, out, path)
        self._format(a, b, out, path)
        self._bounds(a, b, out)
        self._must_agree(a, b, out, path)
        if "type" in out and out.get("anyOf") == _INT_OR_STRING_ANY_OF:
            del out["anyOf"]  # int-or-string met integer or string: the alternatives are gone
        self._lists(a, b, out, path)
        self._object(a, b, out, path)
        items_a, items_b = _mapping(a.get("items")), _mapping(b.get("items"))
        if items_a is not None and items_b is not None:
            out["items"] = self.node(items_a, items_b, f"{path}[*]")
        elif items_a is not None or items_b is not None:
            out["items"] = _copy(items_a if items_a is not None else items_b)
        for key in sorted(set(a) & set(b) - _HANDLED):
            if _json_key(a[key]) == _json_key(b[key]):
                out[key] = _copy(a[key])
        return out

    @staticmethod
    def _narrowed(schema: Mapping[str, Any], wide: Mapping[str, Any]) -> Schema:
        """``schema`` met with an untyped preserving node: ``schema`` without what only it had."""
        out = _copy_schema(schema)
        if not out.get("description") and wide.get("description"):
            out["description"] = wide["description"]
        if wide.get("nullable") is not True:
            out.pop("nullable", None)
        return out

    def _types(self, a: Mapping[str, Any], b: Mapping[str, Any], out: Schema, path: str) -> bool:
        ta, tb = _type_name(a), _type_name(b)
        if ta == tb:
            if _is_int_or_string(a):
                out["x-kubernetes-int-or-string"] = True
            elif ta != "any":
                out["type"] = ta
            return True
        pair = {ta, tb}
        if pair == {"integer", "number"}:
            out["type"] = "integer"
        elif "int-or-string" in pair and pair & {"integer", "string"}:
            out["type"] = (pair - {"int-or-string"}).pop()
        else:
            self.conflict(path, f"type {ta} is not compatible with type {tb}")
            return False
        return True

    @staticmethod
    def _annotations(a: Mapping[str, Any], b: Mapping[str, Any], out: Schema) -> None:
        description = a.get("description") or b.get("description")
        if description:
            out["description"] = description
        for key in ("nullable", "x-kubernetes-preserve-unknown-fields"):
            if a.get(key) is True and b.get(key) is True:
                out[key] = True
        if a.get("x-kubernetes-embedded-resource") or b.get("x-kubernetes-embedded-resource"):
            out["x-kubernetes-embedded-resource"] = True

    def _enum(self, a: Mapping[str, Any], b: Mapping[str, Any], out: Schema, path: str) -> None:
        ea, eb = a.get("enum"), b.get("enum")
        if not isinstance(ea, list) and not isinstance(eb, list):
            return
        if not isinstance(ea, list) or not isinstance(eb, list):
            out["enum"] = _copy(ea if isinstance(ea, list) else eb)
            return
        allowed = {_json_key(v) for v in eb}
        common = [_copy(v) for v in ea if _json_key(v) in allowed]
        if not common:
            self.conflict(path, f"enum values {ea!r} and {eb!r} have nothing in common")
        out["enum"] = common or _copy(ea)

    def _format(self, a: Mapping[str, Any], b: Mapping[str, Any], out: Schema, path: str) -> None:
        fa, fb = a.get("format"), b.get("format")
        if fa is None or fb is None or fa == fb:
            if fa is not None or fb is not None:
                out["format"] = fa if fa is not None else fb
            return
        narrower = _NARROWER_FORMAT.get(frozenset({str(fa), str(fb)}))
        if narrower is None:
            self.conflict(path, f"format {fa} is not compatible with format {fb}")
            narrower = str(fa)
        out["format"] = narrower

    @staticmethod
    def _bounds(a: Mapping[str, Any], b: Mapping[str, Any], out: Schema) -> None:
        for key in _LOWER_BOUNDS:
            _tighter(a, b, out, key, max)
        for key in _UPPER_BOUNDS:
            _tighter(a, b, out, key, min)
        _numeric_bound(a, b, out, ("minimum", "exclusiveMinimum"), max)
        _numeric_bound(a, b, out, ("maximum", "exclusiveMaximum"), min)

    def _must_agree(
        self, a: Mapping[str, Any], b: Mapping[str, Any], out: Schema, path: str
    ) -> None:
        for key in _MUST_AGREE:
            if key not in a and key not in b:
                continue
            if key in a and key in b and _json_key(a[key]) != _json_key(b[key]):
                self.conflict(path, f"{key} {a[key]!r} differs from {b[key]!r}")
            out[key] = _copy(a[key] if key in a else b[key])

    def _lists(self, a: Mapping[str, Any], b: Mapping[str, Any], out: Schema, path: str) -> None:
        defaults = (
            ("x-kubernetes-list-type", "atomic", out.get("type") == "array"),
            ("x-kubernetes-list-map-keys", None, out.get("type") == "array"),
            ("x-kubernetes-map-type", "granular", out.get("type") == "object"),
        )
        for key, default, applies in defaults:
            va, vb = a.get(key, default), b.get(key, default)
            if not applies or (key not in a and key not in b):
                continue
            if va != vb:
                self.conflict(path, f"{key} {va!r} is not compatible with {vb!r}")
            chosen = a[key] if key in a else b[key]
            out[key] = _copy(chosen)

    def _object(self, a: Mapping[str, Any], b: Mapping[str, Any], out: Schema, path: str) -> None:
        props_a, props_b = _mapping(a.get("properties")), _mapping(b.get("properties"))
        add_a, add_b = (
            _mapping(a.get("additionalProperties")),
            _mapping(b.get("additionalProperties")),
        )
        if add_a is not None and add_b is not None:
            out["additionalProperties"] = self.node(add_a, add_b, f"{path}[*]")
        elif props_a is not None and add_b is not None:
            props_b = dict.fromkeys(props_a, add_b)
        elif props_b is not None and add_a is not None:
            props_a = dict.fromkeys(props_b, add_a)
        elif add_a is not None or add_b is not None:
            out["additionalProperties"] = _copy(add_a if add_a is not None else add_b)
        if props_a is None and props_b is None:
            return
        props = self._properties(a, b, props_a or {}, props_b or {}, path)
        out["properties"] = props
        required = {str(r) for side in (a, b) for r in _strings(side.get("required"))}
        kept = sorted(required & set(props))
        if kept:
            out["required"] = kept

    def _properties(
        self,
        a: Mapping[str, Any],
        b: Mapping[str, Any],
        props_a: Mapping[str, Any],
        props_b: Mapping[str, Any],
        path: str,
    ) -> Schema:
        open_a = a.get("x-kubernetes-preserve-unknown-fields") is True
        open_b = b.get("x-kubernetes-preserve-unknown-fields") is True
        props: Schema = {}
        for key in sorted(set(props_a) | set(props_b)):
            in_a, in_b = _mapping(props_a.get(key)), _mapping(props_b.get(key))
            if in_a is not None and in_b is not None:
                props[key] = self.node(in_a, in_b, f"{path}.{key}")
            elif in_a is not None and open_b:
                props[key] = _copy(in_a)
            elif in_b is not None and open_a:
                props[key] = _copy(in_b)
        return props


def _tighter(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    out: Schema,
    key: str,
    pick: Callable[[Any, Any], Any],
) -> None:
    va, vb = a.get(key), b.get(key)
    if va is not None and vb is not None:
        out[key] = pick(va, vb)
    elif va is not None or vb is not None:
        out[key] = va if va is not None else vb


def _numeric_bound(
    a: Mapping[str, Any],
    b: Mapping[str, Any],
    out: Schema,
    keys: tuple[str, str],
    pick: Callable[[Any, Any], Any],
) -> None:
    """``minimum``/``maximum`` with their OpenAPI 3.0 boolean ``exclusive*`` companions."""
    key, exclusive_key = keys
    va, vb = a.get(key), b.get(key)
    if va is None and vb is None:
        return
    if va is None or vb is None:
        side = a if va is not None else b
        out[key] = side[key]
        exclusive = side.get(exclusive_key) is True
    else:
        out[key] = pick(va, vb)
        exclusive = any(
            side.get(exclusive_key) is True for side, v in ((a, va), (b, vb)) if v == out[key]
        )
    if exclusive:
        out[exclusive_key] = True
