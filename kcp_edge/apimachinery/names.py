"""Object names and metadata validation, with the apiserver's exact error texts.

Why this module exists: ``kubectl create`` shows the apiserver's 422 message verbatim
(``The ConfigMap "Bad" is invalid: metadata.name: Invalid value: "Bad": a lowercase RFC 1123
subdomain ...``), so the rules and the words must be upstream's. This mirrors:

* the string checks of ``k8s.io/apimachinery/pkg/api/validate/content`` (``IsDNS1123Label``,
  ``IsDNS1123Subdomain``, ``IsDNS1035Label``, ``IsLabelKey``, ``IsLabelValue``) with their
  ``RegexError`` / ``MaxLenError`` wording; ``labels.py`` reuses them for selectors;
* the per-kind name functions of ``k8s.io/apimachinery/pkg/api/validation/generic.go``
  (``NameIsDNSSubdomain``, ``NameIsDNSLabel``, ``NameIsDNS1035Label``, the trailing-dash mask
  for ``generateName`` prefixes) and ``.../api/validation/path/name.go`` (path segments);
* ``ValidateObjectMetaAccessor`` of ``.../api/validation/objectmeta.go`` for name,
  generateName, namespace, labels, annotations (256 KiB total) and finalizers;
* ``k8s.io/apiserver/pkg/storage/names`` (``SimpleNameGenerator``) for ``generateName``;
* ``field.Error`` / ``ErrorList.ToAggregate`` (``.../util/validation/field``) and
  ``errors.NewInvalid`` for the message and ``details.causes`` of a 422 Status.

Length limits count UTF-8 bytes, as Go's ``len`` does; the messages say "bytes" as current
apimachinery does (older releases said "characters").
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from enum import Enum
from typing import Any, NamedTuple

# --- field.ErrorType values (also the ``reason`` of a Status cause) -------------------------

FIELD_VALUE_NOT_FOUND = "FieldValueNotFound"
FIELD_VALUE_REQUIRED = "FieldValueRequired"
FIELD_VALUE_DUPLICATE = "FieldValueDuplicate"
FIELD_VALUE_INVALID = "FieldValueInvalid"
FIELD_VALUE_NOT_SUPPORTED = "FieldValueNotSupported"
FIELD_VALUE_FORBIDDEN = "FieldValueForbidden"
FIELD_VALUE_TOO_LONG = "FieldValueTooLong"
FIELD_VALUE_TOO_MANY = "FieldValueTooMany"
FIELD_VALUE_INTERNAL = "InternalError"
FIELD_VALUE_TYPE_INVALID = "FieldValueTypeInvalid"

TYPE_WORDS = {
    FIELD_VALUE_NOT_FOUND: "Not found",
    FIELD_VALUE_REQUIRED: "Required value",
    FIELD_VALUE_DUPLICATE: "Duplicate value",
    FIELD_VALUE_INVALID: "Invalid value",
    FIELD_VALUE_NOT_SUPPORTED: "Unsupported value",
    FIELD_VALUE_FORBIDDEN: "Forbidden",
    FIELD_VALUE_TOO_LONG: "Too long",
    FIELD_VALUE_TOO_MANY: "Too many",
    FIELD_VALUE_INTERNAL: "Internal error",
    FIELD_VALUE_TYPE_INVALID: "Invalid value",
}
# These types never print the offending value (field.Error.ErrorBody).
VALUELESS = frozenset(
    {FIELD_VALUE_REQUIRED, FIELD_VALUE_FORBIDDEN, FIELD_VALUE_TOO_LONG, FIELD_VALUE_INTERNAL}
)

TOTAL_ANNOTATION_SIZE_LIMIT = 256 * 1024
DNS1123_LABEL_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253
DNS1035_LABEL_MAX_LENGTH = 63
LABEL_KEY_NAME_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63

# --- generateName (k8s.io/apiserver/pkg/storage/names) ---------------------------------------

NAME_SUFFIX_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"
"""``k8s.io/apimachinery/pkg/util/rand`` alphabet: no vowels, no 0/1/3, so no words."""
NAME_SUFFIX_LENGTH = 5
MAX_NAME_LENGTH = 63
MAX_GENERATED_BASE_LENGTH = MAX_NAME_LENGTH - NAME_SUFFIX_LENGTH


class NameValidationError(ValueError):
    """Base of this module's errors."""


class InvalidObjectError(NameValidationError):
    """A 422 Invalid: the message and causes are exactly what ``errors.NewInvalid`` builds."""

    def __init__(self, *, kind: str, group: str, name: str, errors: Sequence[FieldError]) -> None:
        self.kind = kind
        self.group = group
        self.name = name
        self.errors = tuple(errors)
        self.message = invalid_message(kind=kind, group=group, name=name, errors=errors)
        super().__init__(self.message)

    def causes(self) -> list[dict[str, str]]:
        return invalid_causes(self.errors)

    def details(self) -> dict[str, Any]:
        return invalid_details(kind=self.kind, group=self.group, name=self.name, errors=self.errors)


# --- Go-style value formatting ---------------------------------------------------------------

_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def go_quote(text: str) -> str:
    """``fmt.Sprintf("%q", text)``: Go's double-quoted, escaped form of a string."""
    out = ['"']
    for ch in text:
        if ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch == " " or ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x80:
            out.append(f"\\x{ord(ch):02x}")
        elif ord(ch) <= 0xFFFF:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(f"\\U{ord(ch):08x}")
    out.append('"')
    return "".join(out)


def go_value(value: Any) -> str:
    """How ``field.Error`` prints a bad value: strings quoted, numbers and bools bare."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        return go_quote(value)
    if isinstance(value, list | tuple) and all(isinstance(v, str) for v in value):
        if not value:
            return "[]string(nil)"
        return "[]string{" + ", ".join(go_quote(v) for v in value) + "}"
    return repr(value)


# --- field.Error -----------------------------------------------------------------------------


class FieldError(NamedTuple):
    """One ``field.Error``: ``type`` is a ``FIELD_VALUE_*`` constant."""

    type: str
    field: str
    value: Any
    detail: str

    def body(self) -> str:
        """``ErrorBody``: the message without the field, e.g. ``Invalid value: "x": ...``."""
        words = TYPE_WORDS.get(self.type, self.type)
        text = words if self.type in VALUELESS else f"{words}: {go_value(self.value)}"
        return f"{text}: {self.detail}" if self.detail else text

    def __str__(self) -> str:
        return f"{self.field}: {self.body()}"

    def cause(self) -> dict[str, str]:
        """The ``details.causes`` entry of a 422 Status."""
        return {"reason": self.type, "message": self.body(), "field": self.field}


def invalid(field: str, value: Any, detail: str) -> FieldError:
    return FieldError(FIELD_VALUE_INVALID, field, value, detail)


def required(field: str, detail: str = "") -> FieldError:
    return FieldError(FIELD_VALUE_REQUIRED, field, "", detail)


def forbidden(field: str, detail: str) -> FieldError:
    return FieldError(FIELD_VALUE_FORBIDDEN, field, "", detail)


def too_long(field: str, max_bytes: int) -> FieldError:
    return FieldError(FIELD_VALUE_TOO_LONG, field, "", f"must have at most {max_bytes} bytes")


def aggregate_message(errors: Iterable[object]) -> str:
    """``ErrorList.ToAggregate().Error()``: duplicates dropped, several wrapped in ``[...]``."""
    messages: list[str] = []
    for err in errors:
        text = str(err)
        if text not in messages:
            messages.append(text)
    if len(messages) == 1:
        return messages[0]
    return "[" + ", ".join(messages) + "]"


def invalid_message(*, kind: str, group: str, name: str, errors: Sequence[FieldError]) -> str:
    """``<Kind>[.<group>] "<name>" is invalid: <errors>`` as ``errors.NewInvalid`` says it."""
    qualified = f"{kind}.{group}" if group else kind
    if not errors:
        return f"{qualified} {go_quote(name)} is invalid"
    return f"{qualified} {go_quote(name)} is invalid: {aggregate_message(errors)}"


def invalid_causes(errors: Iterable[FieldError]) -> list[dict[str, str]]:
    return [err.cause() for err in errors]


def invalid_details(
    *, kind: str, group: str, name: str, errors: Sequence[FieldError]
) -> dict[str, Any]:
    """``details`` of the 422 Status; ``kind`` here is the Kind, not the resource."""
    details: dict[str, Any] = {}
    if name:
        details["name"] = name
    if group:
        details["group"] = group
    details["kind"] = kind
    details["causes"] = invalid_causes(errors)
    return details


def raise_if_invalid(*, kind: str, group: str, name: str, errors: Sequence[FieldError]) -> None:
    if errors:
        raise InvalidObjectError(kind=kind, group=group, name=name, errors=errors)


# --- string checks (k8s.io/apimachinery/pkg/api/validate/content) ----------------------------


def _byte_len(text: str) -> int:
    return len(text.encode("utf-8", "surrogatepass"))


def max_len_error(length: int) -> str:
    return f"must be no more than {length} bytes"


def empty_error() -> str:
    return "must be non-empty"


def regex_error(message: str, pattern: str, *examples: str) -> str:
    """``RegexError``: the examples joined the way upstream does (note the double spaces)."""
    if not examples:
        return f"{message} (regex used for validation is '{pattern}')"
    shown = " or ".join(f"'{example}', " for example in examples)
    return f"{message} (e.g. {shown}regex used for validation is '{pattern}')"


DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
DNS1123_SUBDOMAIN_FMT = DNS1123_LABEL_FMT + "(\\." + DNS1123_LABEL_FMT + ")*"
DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
LABEL_KEY_NAME_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
LABEL_VALUE_FMT = "(" + LABEL_KEY_NAME_FMT + ")?"

_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character"
)
_DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character"
)
_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or "
    "'.', and must start and end with an alphanumeric character"
)

# Go's regexp anchors ``$`` at the very end of the text: use fullmatch, never ``$``.
_DNS1123_LABEL_RE = re.compile(DNS1123_LABEL_FMT)
_DNS1123_SUBDOMAIN_RE = re.compile(DNS1123_SUBDOMAIN_FMT)
_DNS1035_LABEL_RE = re.compile(DNS1035_LABEL_FMT)
_LABEL_KEY_NAME_RE = re.compile(LABEL_KEY_NAME_FMT)
_LABEL_VALUE_RE = re.compile(LABEL_VALUE_FMT)


def is_dns1123_label(value: str) -> list[str]:
    errs: list[str] = []
    if _byte_len(value) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _DNS1123_LABEL_RE.fullmatch(value):
        if _DNS1123_SUBDOMAIN_RE.fullmatch(value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    errs: list[str] = []
    if _byte_len(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))
    if not _DNS1123_SUBDOMAIN_RE.fullmatch(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1035_label(value: str) -> list[str]:
    errs: list[str] = []
    if _byte_len(value) > DNS1035_LABEL_MAX_LENGTH:
        errs.append(max_len_error(DNS1035_LABEL_MAX_LENGTH))
    if not _DNS1035_LABEL_RE.fullmatch(value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_label_key(value: str) -> list[str]:
    """``IsLabelKey`` (a.k.a. qualified name): ``[prefix/]name``."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part " + empty_error())
        else:
            errs.extend("prefix part " + msg for msg in is_dns1123_subdomain(prefix))
    else:
        return [
            "a valid label key "
            + regex_error(_LABEL_KEY_MSG, LABEL_KEY_NAME_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part " + empty_error())
    elif _byte_len(name) > LABEL_KEY_NAME_MAX_LENGTH:
        errs.append("name part " + max_len_error(LABEL_KEY_NAME_MAX_LENGTH))
    if not _LABEL_KEY_NAME_RE.fullmatch(name):
        errs.append(
            "name part "
            + regex_error(_LABEL_KEY_MSG, LABEL_KEY_NAME_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def is_label_value(value: str) -> list[str]:
    errs: list[str] = []
    if _byte_len(value) > LABEL_VALUE_MAX_LENGTH:
        errs.append(max_len_error(LABEL_VALUE_MAX_LENGTH))
    if not _LABEL_VALUE_RE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs


def is_path_segment_name(name: str, *, prefix: bool = False) -> list[str]:
    """``path.ValidatePathSegmentName``: safe as one URL path segment and one storage key."""
    if not prefix and name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{bad}'" for bad in ("/", "%") if bad in name]


# --- per-kind name rules ---------------------------------------------------------------------


class NameRule(Enum):
    """Which ``ValidateNameFunc`` a kind's strategy uses for ``metadata.name``."""

    DNS1123_SUBDOMAIN = "DNS1123Subdomain"
    DNS1123_LABEL = "DNS1123Label"
    DNS1035_LABEL = "DNS1035Label"
    PATH_SEGMENT = "PathSegment"


_RBAC = "rbac.authorization.k8s.io"
_NAME_RULES: dict[tuple[str, str], NameRule] = {
    ("", "namespaces"): NameRule.DNS1123_LABEL,
    ("", "services"): NameRule.DNS1035_LABEL,
    (_RBAC, "roles"): NameRule.PATH_SEGMENT,
    (_RBAC, "clusterroles"): NameRule.PATH_SEGMENT,
    (_RBAC, "rolebindings"): NameRule.PATH_SEGMENT,
    (_RBAC, "clusterrolebindings"): NameRule.PATH_SEGMENT,
    # "We don't care what you call your certificate requests": only the generic check applies.
    ("certificates.k8s.io", "certificatesigningrequests"): NameRule.PATH_SEGMENT,
}


def name_rule_for(group: str, resource: str) -> NameRule:
    """The name rule of a built-in kind; everything else (CRs included) is a DNS subdomain."""
    return _NAME_RULES.get((group, resource), NameRule.DNS1123_SUBDOMAIN)


def _mask_trailing_dash(name: str) -> str:
    # Upstream replaces the last *two* characters by "a" when a prefix ends in "-".
    if name.endswith("-"):
        return name[:-2] + "a"
    return name


_RULE_CHECKS: dict[NameRule, Callable[[str], list[str]]] = {
    NameRule.DNS1123_SUBDOMAIN: is_dns1123_subdomain,
    NameRule.DNS1123_LABEL: is_dns1123_label,
    NameRule.DNS1035_LABEL: is_dns1035_label,
}


def validate_name(name: str, *, rule: NameRule, prefix: bool = False) -> list[str]:
    """The detail messages for ``name`` (a ``generateName`` prefix when ``prefix``)."""
    if rule is NameRule.PATH_SEGMENT:
        return is_path_segment_name(name, prefix=prefix)
    if prefix:
        name = _mask_trailing_dash(name)
    return _RULE_CHECKS[rule](name)


def generate_name(base: str, *, choice: Callable[[str], str] = secrets.choice) -> str:
    """``SimpleNameGenerator.GenerateName``: base cut to 58 bytes plus 5 random characters."""
    raw = base.encode("utf-8", "surrogatepass")
    if len(raw) > MAX_GENERATED_BASE_LENGTH:
        base = raw[:MAX_GENERATED_BASE_LENGTH].decode("utf-8", "ignore")
    return base + "".join(choice(NAME_SUFFIX_ALPHABET) for _ in range(NAME_SUFFIX_LENGTH))


# --- ObjectMeta ------------------------------------------------------------------------------


def _string_map(value: object) -> dict[str, str]:
    if not isinstance(value, Mapping):
        return {}
    return {str(k): v if isinstance(v, str) else str(v) for k, v in value.items()}


def validate_labels(labels: Mapping[str, str], *, field: str) -> list[FieldError]:
    """``ValidateLabels``: key rules, then value rules, per label (sorted by key)."""
    errs: list[FieldError] = []
    for key in sorted(labels):
        errs.extend(invalid(field, key, msg) for msg in is_label_key(key))
        errs.extend(invalid(field, labels[key], msg) for msg in is_label_value(labels[key]))
    return errs


def annotations_size(annotations: Mapping[str, str]) -> int:
    return sum(_byte_len(k) + _byte_len(v) for k, v in annotations.items())


def validate_annotations(annotations: Mapping[str, str], *, field: str) -> list[FieldError]:
    """``ValidateAnnotations``: keys are label keys compared lower-cased; 256 KiB in total."""
    errs: list[FieldError] = []
    for key in sorted(annotations):
        errs.extend(invalid(field, key, msg) for msg in is_label_key(key.lower()))
    if annotations_size(annotations) > TOTAL_ANNOTATION_SIZE_LIMIT:
        errs.append(too_long(field, TOTAL_ANNOTATION_SIZE_LIMIT))
    return errs


def validate_finalizers(finalizers: Sequence[str], *, field: str) -> list[FieldError]:
    errs: list[FieldError] = []
    for finalizer in finalizers:
        errs.extend(invalid(field, finalizer, msg) for msg in is_label_key(finalizer))
    names = set(finalizers)
    if "orphan" in names and "foregroundDeletion" in names:
        errs.append(
            invalid(
                field,
                list(finalizers),
                "finalizer orphan and foregroundDeletion cannot be both set",
            )
        )
    return errs


def validate_object_meta(
    metadata: Mapping[str, Any],
    *,
    rule: NameRule,
    namespaced: bool,
    field: str = "metadata",
) -> list[FieldError]:
    """``ValidateObjectMetaAccessor`` on create, after name generation has happened."""
    errs: list[FieldError] = []
    generate = metadata.get("generateName") or ""
    if isinstance(generate, str) and generate:
        for msg in validate_name(generate, rule=rule, prefix=True):
            errs.append(invalid(f"{field}.generateName", generate, msg))
    name = metadata.get("name") or ""
    if not isinstance(name, str) or not name:
        errs.append(required(f"{field}.name", "name or generateName is required"))
    else:
        errs.extend(invalid(f"{field}.name", name, msg) for msg in validate_name(name, rule=rule))
    namespace = metadata.get("namespace") or ""
    if namespaced:
        if not namespace:
            errs.append(required(f"{field}.namespace"))
        else:
            errs.extend(
                invalid(f"{field}.namespace", namespace, msg)
                for msg in validate_name(str(namespace), rule=NameRule.DNS1123_LABEL)
            )
    elif namespace:
        errs.append(forbidden(f"{field}.namespace", "not allowed on this type"))
    generation = metadata.get("generation")
    if isinstance(generation, int) and not isinstance(generation, bool) and generation < 0:
        errs.append(
            invalid(f"{field}.generation", generation, "must be greater than or equal to 0")
        )
    errs.extend(validate_labels(_string_map(metadata.get("labels")), field=f"{field}.labels"))
    errs.extend(
        validate_annotations(_string_map(metadata.get("annotations")), field=f"{field}.annotations")
    )
    finalizers = metadata.get("finalizers")
    if isinstance(finalizers, list):
        errs.extend(validate_finalizers([str(f) for f in finalizers], field=f"{field}.finalizers"))
    return errs
