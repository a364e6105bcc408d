"""Field selectors: the ``fieldSelector`` query parameter, checked per kind and matched on JSON.

Why this module exists: ``kubectl describe`` lists events with
``involvedObject.name=..,involvedObject.namespace=..,involvedObject.kind=..,involvedObject.uid=..``,
``kubectl get x -w`` and ``kubectl wait`` send ``metadata.name=x``, and a field the kind does not
support must fail with the apiserver's 400 text. This mirrors:

* ``k8s.io/apimachinery/pkg/fields/selector.go``: comma-separated ``=``/``==``/``!=`` terms, a
  backslash escaping ``\\``, ``,`` and ``=`` in values, terms sorted before use, and its error
  texts (``invalid selector: ...``, ``invalid field selector: ...``);
* the field label conversion functions registered per kind (``pkg/apis/core/v1/conversion.go``
  for events, namespaces, secrets; ``pkg/apis/events/v1``; ``pkg/apis/certificates/v1``) whose
  refusal is ``field label not supported: <label>``, and
  ``runtime.DefaultMetaV1FieldSelectorConversion`` for every other kind
  (``"<label>" is not a known field selector: only "metadata.name", "metadata.namespace"``);
* the ``GetAttrs`` / ``ToSelectableFields`` of ``pkg/registry/core/*/strategy.go`` for the
  value each label reads (an event's ``source`` falls back to its reporting controller).

Custom resources follow ``apiextensions-apiserver``'s converter: ``metadata.name``,
``metadata.namespace`` when namespaced, and the CRD's ``selectableFields``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

EQUALS = "="
DOUBLE_EQUALS = "=="
NOT_EQUALS = "!="
_OPERATORS = (NOT_EQUALS, DOUBLE_EQUALS, EQUALS)  # "==" before "=": no "=" left in the value

META_FIELDS = ("metadata.name", "metadata.namespace")


class FieldSelectorError(ValueError):
    """A selector the apiserver refuses (400 BadRequest with this message)."""


class UnsupportedFieldError(FieldSelectorError):
    """A field label this kind cannot be selected by."""

    def __init__(self, message: str, *, label: str) -> None:
        super().__init__(message)
        self.label = label


class Requirement(NamedTuple):
    field: str
    operator: str
    value: str

    def __str__(self) -> str:
        return (
            f"{self.field}{'!=' if self.operator == NOT_EQUALS else '='}{escape_value(self.value)}"
        )


def escape_value(value: str) -> str:
    """``fields.EscapeValue``: the literal value as a selector term may carry it."""
    return value.replace("\\", "\\\\").replace(",", "\\,").replace("=", "\\=")


def unescape_value(text: str) -> str:
    """``fields.UnescapeValue``; refuses unknown escapes and bare ``,`` or ``=``."""
    if not any(c in text for c in "\\,="):
        return text
    out: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            if ch not in "\\,=":
                raise FieldSelectorError(f"invalid field selector: invalid escape sequence: \\{ch}")
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch in ",=":
            # Go prints the rune with %v: its code point number.
            raise FieldSelectorError(
                f"invalid field selector: unescaped character in value: {ord(ch)}"
            )
        else:
            out.append(ch)
    if escaped:
        raise FieldSelectorError("invalid field selector: invalid escape sequence: \\")
    return "".join(out)


def _split_terms(text: str) -> list[str]:
    terms: list[str] = []
    start, escaped = 0, False
    for i, ch in enumerate(text):
        if escaped:
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == ",":
            terms.append(text[start:i])
            start = i + 1
    terms.append(text[start:])
    return terms


def _split_term(term: str) -> tuple[str, str, str] | None:
    for i in range(len(term)):
        for op in _OPERATORS:
            if term.startswith(op, i):
                return term[:i], op, term[i + len(op) :]
    return None


def parse_requirements(text: str) -> tuple[Requirement, ...]:
    """``fields.ParseSelector`` without the per-kind check; terms come back sorted."""
    if not text:
        return ()
    requirements: list[Requirement] = []
    for term in sorted(_split_terms(text)):
        if not term:
            continue
        split = _split_term(term)
        if split is None:
            raise FieldSelectorError(f"invalid selector: '{text}'; can't understand '{term}'")
        field, op, raw = split
        requirements.append(Requirement(field, op, unescape_value(raw)))
    return tuple(requirements)


# --- what each kind can be selected by -------------------------------------------------------

Getter = Callable[[Mapping[str, Any]], str]


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    return str(value)


def lookup(obj: Mapping[str, Any], path: str) -> Any:
    """The value at a dotted path such as ``involvedObject.name``, or None."""
    current: Any = obj
    for part in path.split("."):
        if not isinstance(current, Mapping):
            return None
        current = current.get(part)
    return current


class JSONPathError(ValueError):
    """A JSONPath outside the simple form CRDs allow (``.a.b``, ``[0]``, ``['a.b']``)."""


_PATH_STEP = re.compile(r"\.([^.\[\]]+)|\[(\d+)\]|\['([^']*)'\]|\[\"([^\"]*)\"\]")


def compile_json_path(json_path: str) -> Callable[[Any], Any]:
    """A getter for a simple JSONPath (``.spec.replicas``, ``.status.conditions[0].type``)."""
    steps: list[str | int] = []
    pos = 0
    while pos < len(json_path):
        match = _PATH_STEP.match(json_path, pos)
        if match is None:
            raise JSONPathError(f"unsupported JSONPath: {json_path}")
        field, index, single, double = match.groups()
        steps.append(int(index) if index is not None else field or single or double or "")
        pos = match.end()
    if not steps:
        raise JSONPathError(f"unsupported JSONPath: {json_path!r}")

    def get(obj: Any) -> Any:
        for step in steps:
            if isinstance(step, int):
                if not isinstance(obj, list) or step >= len(obj):
                    return None
                obj = obj[step]
            elif isinstance(obj, Mapping) and step in obj:
                obj = obj[step]
            else:
                return None
        return obj

    return get


def _json_path_getter(json_path: str) -> Getter:
    get = compile_json_path(json_path)
    return lambda obj: _text(get(obj))


def path_getter(path: str) -> Getter:
    return lambda obj: _text(lookup(obj, path))


def _first_of(*paths: str) -> Getter:
    def get(obj: Mapping[str, Any]) -> str:
        for path in paths:
            value = _text(lookup(obj, path))
            if value:
                return value
        return ""

    return get


@dataclass(frozen=True)
class FieldRules:
    """The field labels one kind accepts, how to read each, and how refusals are worded."""

    getters: Mapping[str, Getter]
    registered: bool
    """True: a conversion function exists (``field label not supported: x``)."""

    @property
    def labels(self) -> frozenset[str]:
        return frozenset(self.getters)

    def refuse(self, label: str) -> UnsupportedFieldError:
        if self.registered:
            return UnsupportedFieldError(f"field label not supported: {label}", label=label)
        return UnsupportedFieldError(
            f'"{label}" is not a known field selector: only "metadata.name", "metadata.namespace"',
            label=label,
        )


def _rules(
    *labels: str, registered: bool = True, special: Mapping[str, Getter] | None = None
) -> FieldRules:
    getters: dict[str, Getter] = {label: path_getter(label) for label in labels}
    getters.update(special or {})
    return FieldRules(getters=getters, registered=registered)


_INVOLVED = ("kind", "namespace", "name", "uid", "apiVersion", "resourceVersion", "fieldPath")

_CORE_EVENT = _rules(
    "metadata.name",
    "metadata.namespace",
    *(f"involvedObject.{part}" for part in _INVOLVED),
    "reason",
    "reportingComponent",
    "type",
    special={"source": _first_of("source.component", "reportingComponent")},
)
# events.k8s.io/v1 shares the core storage and its labels; the JSON names differ.
_EVENTS_V1_EVENT = _rules(
    "metadata.name",
    "metadata.namespace",
    "reason",
    "type",
    special={
        "reportingComponent": path_getter("reportingController"),
        "source": _first_of("deprecatedSource.component", "reportingController"),
        **{f"involvedObject.{part}": path_getter(f"regarding.{part}") for part in _INVOLVED},
        # The v1 names too: the field label conversion maps regarding.* to involvedObject.*.
        **{f"regarding.{part}": path_getter(f"regarding.{part}") for part in _INVOLVED},
        "reportingController": path_getter("reportingController"),
    },
)

_KINDS: dict[tuple[str, str], FieldRules] = {
    ("", "events"): _CORE_EVENT,
    ("events.k8s.io", "events"): _EVENTS_V1_EVENT,
    ("", "namespaces"): _rules("metadata.name", "status.phase"),
    ("", "secrets"): _rules("metadata.name", "metadata.namespace", "type"),
    ("certificates.k8s.io", "certificatesigningrequests"): _rules(
        "metadata.name", "spec.signerName"
    ),
}
_DEFAULT = _rules(*META_FIELDS, registered=False)


def rules_for(group: str, resource: str) -> FieldRules:
    """The rules of a built-in resource; unlisted kinds accept only name and namespace."""
    return _KINDS.get((group, resource), _DEFAULT)


def custom_resource_rules(*, namespaced: bool, selectable_fields: Iterable[str] = ()) -> FieldRules:
    """A CRD version's rules: ``selectable_fields`` are its ``jsonPath`` values (``.spec.x``)."""
    labels = ["metadata.name"] + (["metadata.namespace"] if namespaced else [])
    special = {path.lstrip("."): _json_path_getter(path) for path in selectable_fields}
    return _rules(*labels, special=special)


def supported_fields(group: str, resource: str) -> frozenset[str]:
    return rules_for(group, resource).labels


# --- selector --------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSelector:
    """Checked requirements with the getters to evaluate them on a JSON object."""

    requirements: tuple[Requirement, ...]
    getters: tuple[Getter, ...]

    def matches(self, obj: Mapping[str, Any]) -> bool:
        for requirement, get in zip(self.requirements, self.getters, strict=True):
            equal = get(obj) == requirement.value
            if equal == (requirement.operator == NOT_EQUALS):
                return False
        return True

    @property
    def empty(self) -> bool:
        return not self.requirements

    def requires_exact_match(self, field: str) -> str | None:
        """The value ``field`` must equal, when one ``=`` term pins it (``metadata.name=x``)."""
        for requirement in self.requirements:
            if requirement.field == field and requirement.operator != NOT_EQUALS:
                return requirement.value
        return None

    def __str__(self) -> str:
        return ",".join(str(requirement) for requirement in self.requirements)


def compile_selector(text: str, rules: FieldRules) -> FieldSelector:
    """Parse, then check every label against ``rules`` (first refusal in sorted order wins)."""
    requirements = parse_requirements(text)
    getters: list[Getter] = []
    for requirement in requirements:
        getter = rules.getters.get(requirement.field)
        if getter is None:
            raise rules.refuse(requirement.field)
        getters.append(getter)
    return FieldSelector(requirements, tuple(getters))


def parse(text: str, *, group: str, resource: str) -> FieldSelector:
    """A ``fieldSelector`` query value for a built-in resource."""
    return compile_selector(text, rules_for(group, resource))
