"""CustomResourceDefinitions (``apiextensions.k8s.io/v1``): defaults, validation, status, serving.

Why this module exists: a CRD turns into an API in steps that each have upstream's exact
rules and words, and kubectl users see every one of them. This module holds them as pure
functions over CRD dicts (no I/O, no server):

* `default_crd`: ``SetDefaults_CustomResourceDefinition`` (singular, listKind, conversion,
  storedVersions) plus what the strategy's PrepareForCreate/PrepareForUpdate do to
  ``status.storedVersions`` (the storage version is always recorded); `prepare_for_create`
  is the rest of PrepareForCreate (a new CRD's status starts empty);
* `validate_crd`: ``apiextensions/validation/validation.go`` (``ValidateCustomResourceDefinition``
  and ``...Update``) for what a v1 CRD can express. As upstream, a v1 CRD is first seen the
  way its internal form is: ``schema``, ``subresources``, ``additionalPrinterColumns`` and
  ``selectableFields`` that are identical in every version are checked once, at the top level
  (``spec.validation.openAPIV3Schema``, ``spec.subresources``, ...), because the v1 to
  internal conversion moves them there (``apis/apiextensions/v1/conversion.go``); a version
  whose value differs is checked at ``spec.versions[i]...``. The schema's own structural rules
  are not here: the caller passes ``check_schema`` (``apimachinery/structural.py``). Webhook
  conversion is refused: this server does not call webhooks;
* `accepted_status`: what the naming controller (``controller/status/naming_controller.go``),
  the establishing controller and the API approval controller (``controller/apiapproval``)
  write into ``status``;
* `served_kinds`: the `ResourceKind` of each served version of an established CRD, under its
  accepted names, with a `ServedVersion` as its definition; `openapi_document` builds the
  ``/openapi/v3`` document of a CRD group-version (``crdopenapi.py``);
* `to_scale` / `from_scale` (``registry/customresource/etcd.go``, ``ScaleREST``) and
  `selectable_value` (``customresource/strategy.go``, ``selectableFields``).
"""

from __future__ import annotations

import copy
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

from kcp_edge.apimachinery import names
from kcp_edge.apimachinery.names import FieldError
from kcp_edge.registry import crdopenapi
from kcp_edge.registry.kinds import ALL_VERBS, ResourceKind

Cause = dict[str, str]
"""A ``details.causes`` entry of a 422 Status: ``{"reason", "message", "field"}``."""
SchemaCheck = Callable[[Mapping[str, Any], str], list[Cause]]
"""Structural checks of one ``openAPIV3Schema``; the second argument is its field path."""
Obj = dict[str, Any]

GROUP = "apiextensions.k8s.io"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
API_APPROVAL_ANNOTATION = "api-approved.kubernetes.io"
NEGOTIATED_ANNOTATION = "apiresource.kcp.dev/negotiated"
"""``"true"`` on the CRDs the API negotiation controller publishes (kcp-edge's marker): they
keep Kubernetes' own group names, dotless ones included, and the controller owns them."""
CORE_GROUP_NAME = "core"
"""How a negotiated CRD of the core group (``spec.group: ""``) is named: ``services.core``."""
KUBERNETES_GROUPS = frozenset({"apps", "batch", "autoscaling", "policy", "extensions"})
"""Kubernetes' dotless API groups kcp-edge does not serve itself: like kcp, it accepts CRDs for
them (``deployments.apps`` installed by hand, or published by API negotiation)."""
NAMESPACED = "Namespaced"
CLUSTER = "Cluster"
MAX_SELECTABLE_FIELDS = 8
MAX_DEPRECATION_WARNING = 256
PRINTER_COLUMN_TYPES = ("boolean", "date", "integer", "number", "string")
PRINTER_COLUMN_FORMATS = (
    "byte",
    "date",
    "date-time",
    "double",
    "float",
    "int32",
    "int64",
    "password",
)
UNSET_REPLICAS = -2147483648
"""``invalidSpecReplicas``: spec replicas that count as unset in a Scale written back."""
_BUILTIN_ID_LIMIT = 1 << 40
_NO_VERSION_SCHEMA = (
    "selectableFields may only be set when version.schema.openAPIV3Schema is not included"
)
_NO_TOP_SCHEMA = "selectableFields may only be set when validations.schema is included"


class CRDError(ValueError):
    """A refusal with the apiserver's status code, reason and message (the scale subresource);
    ``errors.from_coded`` turns it into the Status."""

    def __init__(self, message: str, *, code: int = 400, reason: str = "BadRequest") -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.reason = reason


# --- reading CRD dicts ------------------------------------------------------------------------


def _map(value: object) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _list(value: object) -> list[Any]:
    return value if isinstance(value, list) else []


def _str(value: object) -> str:
    return value if isinstance(value, str) else ""


def _strings(value: object) -> list[str]:
    return [item for item in _list(value) if isinstance(item, str)]


def _versions(crd: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [_map(v) for v in _list(_map(crd.get("spec")).get("versions"))]


def storage_version(crd: Mapping[str, Any]) -> str:
    """The name of the version marked ``storage`` ("" when none is)."""
    for version in _versions(crd):
        if version.get("storage") is True:
            return _str(version.get("name"))
    return ""


def condition(crd: Mapping[str, Any], kind: str) -> Mapping[str, Any] | None:
    for found in _list(_map(crd.get("status")).get("conditions")):
        if isinstance(found, Mapping) and found.get("type") == kind:
            return found
    return None


def is_established(crd: Mapping[str, Any]) -> bool:
    found = condition(crd, "Established")
    return found is not None and found.get("status") == "True"


# --- defaults ---------------------------------------------------------------------------------


def default_crd(crd: Obj) -> None:
    """Defaults of a v1 CRD, in place, on every write (``apis/apiextensions/v1/defaults.go``).

    ``names.singular`` is the lower-cased kind, ``names.listKind`` is ``<kind>List``,
    ``conversion`` is ``{"strategy": "None"}``, a webhook service port is 443, and the storage
    version joins ``status.storedVersions`` (SetDefaults when the list is empty, the
    strategy's PrepareForCreate/PrepareForUpdate otherwise). Conditions and accepted names are
    left to the controllers.
    """
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return
    crd_names = spec.get("names")
    if isinstance(crd_names, dict):
        kind = _str(crd_names.get("kind"))
        if not crd_names.get("singular") and kind:
            crd_names["singular"] = kind.lower()
        if not crd_names.get("listKind") and kind:
            crd_names["listKind"] = kind + "List"
    if spec.get("conversion") is None:
        spec["conversion"] = {"strategy": "None"}
    service = _map(_map(_map(spec.get("conversion")).get("webhook")).get("clientConfig")).get(
        "service"
    )
    if isinstance(service, dict) and service.get("port") is None:
        service["port"] = 443
    stored = storage_version(crd)
    if stored:
        status = crd.get("status")
        if not isinstance(status, dict):
            status = crd["status"] = {}
        versions = status.get("storedVersions")
        if not isinstance(versions, list):
            versions = status["storedVersions"] = []
        if stored not in versions:
            versions.append(stored)


def prepare_for_create(crd: Obj) -> None:
    """PrepareForCreate of the CRD strategy: a new CRD's status is empty (the storage version
    aside, which `default_crd` records)."""
    crd["status"] = {}
    default_crd(crd)


# --- validation -------------------------------------------------------------------------------


def _invalid(path: str, value: Any, detail: str) -> FieldError:
    return names.invalid(path, value, detail)


def _required(path: str, detail: str = "") -> FieldError:
    return names.required(path, detail)


def _not_supported(path: str, value: Any, supported: Sequence[str]) -> FieldError:
    detail = "supported values: " + ", ".join(names.go_quote(v) for v in supported)
    return FieldError(names.FIELD_VALUE_NOT_SUPPORTED, path, value, detail)


def _forbidden(path: str, detail: str) -> FieldError:
    return names.forbidden(path, detail)


def _dns1035(path: str, value: str) -> list[FieldError]:
    errs = names.is_dns1035_label(value)
    return [_invalid(path, value, ",".join(errs))] if errs else []


class _Versions:
    """The ``versions[*]`` fields of a v1 CRD that the internal form hoists to the top level
    when every version has the same value (``Convert_v1_CustomResourceDefinitionSpec_To_...``):
    ``hoisted[field]`` is True when they are checked once at ``spec.<field>``."""

    FIELDS = ("schema", "subresources", "additionalPrinterColumns", "selectableFields")

    def __init__(self, versions: Sequence[Mapping[str, Any]]) -> None:
        self.versions = versions
        self.hoisted = {
            name: bool(versions)
            and all(_semantic(v.get(name)) == _semantic(versions[0].get(name)) for v in versions)
            for name in self.FIELDS
        }

    def value(self, index: int, name: str) -> Any:
        return self.versions[index].get(name)

    def top(self, name: str) -> Any:
        return self.versions[0].get(name) if self.hoisted[name] and self.versions else None


def _semantic(value: Any) -> Any:
    """``apiequality.Semantic.DeepEqual`` normal form: nil and empty lists are equal; a present
    empty object (``subresources: {}``, ``status: {}``) is not absent."""
    if isinstance(value, Mapping):
        return {k: _semantic(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [_semantic(v) for v in value] or None
    return value


def _openapi_schema(validation: Any) -> Mapping[str, Any] | None:
    schema = _map(validation).get("openAPIV3Schema")
    return schema if isinstance(schema, Mapping) else None


def _status_enabled(subresources: Any) -> bool:
    return isinstance(subresources, Mapping) and subresources.get("status") is not None


def _validate_root_schema(
    schema: Mapping[str, Any], *, status_enabled: bool, path: str
) -> list[FieldError]:
    """The checks ``validateCustomResourceDefinitionValidation`` makes before the structural
    ones: the root of a schema whose status is a subresource must be an object, and the root
    may not be nullable."""
    errs: list[FieldError] = []
    root_type = schema.get("type")
    if status_enabled and root_type not in (None, "", "object"):
        errs.append(
            _invalid(
                f"{path}.openAPIV3Schema.type",
                root_type,
                'only "object" is allowed as the type at the root of the schema if the status '
                "subresource is enabled",
            )
        )
    if schema.get("nullable") is True:
        errs.append(
            _forbidden(f"{path}.openAPIV3Schema.nullable", "nullable cannot be true at the root")
        )
    return errs


def _validate_schema(
    validation: Any,
    *,
    status_enabled: bool,
    path: str,
    check_schema: SchemaCheck,
) -> list[Cause]:
    schema = _openapi_schema(validation)
    if schema is None:
        return []
    causes = [
        e.cause() for e in _validate_root_schema(schema, status_enabled=status_enabled, path=path)
    ]
    return causes + list(check_schema(schema, f"{path}.openAPIV3Schema"))


def _simple_json_path(value: str, path: str) -> list[FieldError]:
    """``validateSimpleJSONPath``."""
    if not value:
        return [_invalid(path, value, "must not be empty")]
    if not value.startswith("."):
        return [_invalid(path, value, "must be a simple json path starting with .")]
    return []


def _validate_subresources(subresources: Any, path: str) -> list[FieldError]:
    """``ValidateCustomResourceDefinitionSubresources``: the scale paths."""
    scale = _map(subresources).get("scale")
    if not isinstance(scale, Mapping):
        return []
    errs: list[FieldError] = []
    for key, under, words in (
        ("specReplicasPath", (".spec.",), "should be a json path under .spec"),
        ("statusReplicasPath", (".status.",), "should be a json path under .status"),
    ):
        value = _str(scale.get(key))
        where = f"{path}.scale.{key}"
        if not value:
            errs.append(_required(where))
        elif bad := _simple_json_path(value, where):
            errs.extend(bad)
        elif not value.startswith(under):
            errs.append(_invalid(where, value, words))
    selector = _str(scale.get("labelSelectorPath"))
    if selector:
        where = f"{path}.scale.labelSelectorPath"
        if bad := _simple_json_path(selector, where):
            errs.extend(bad)
        elif not selector.startswith((".spec.", ".status.")):
            errs.append(
                _invalid(where, selector, "should be a json path under either .spec or .status")
            )
    return errs


def _validate_column(column: Mapping[str, Any], path: str) -> list[FieldError]:
    """``ValidateCustomResourceColumnDefinition`` (note upstream's ``JSONPath`` field name)."""
    errs: list[FieldError] = []
    if not _str(column.get("name")):
        errs.append(_required(f"{path}.name"))
    kind = _str(column.get("type"))
    one_of = "must be one of " + ",".join(PRINTER_COLUMN_TYPES)
    if not kind:
        errs.append(_required(f"{path}.type", one_of))
    elif kind not in PRINTER_COLUMN_TYPES:
        errs.append(_invalid(f"{path}.type", kind, one_of))
    fmt = _str(column.get("format"))
    if fmt and fmt not in PRINTER_COLUMN_FORMATS:
        errs.append(
            _invalid(f"{path}.format", fmt, "must be one of " + ",".join(PRINTER_COLUMN_FORMATS))
        )
    json_path = _str(column.get("jsonPath"))
    if not json_path:
        errs.append(_required(f"{path}.JSONPath"))
    else:
        errs.extend(_simple_json_path(json_path, f"{path}.JSONPath"))
    return errs


class _PathError(ValueError):
    """A selectable field's jsonPath does not resolve in the schema (``cel.ValidFieldPath``)."""


def _tokens(json_path: str) -> list[str]:
    """``ValidFieldPath``'s scanner: ``.``, ``[`` and ``]`` alone, quoted strings whole."""
    out: list[str] = []
    i = 0
    while i < len(json_path):
        ch = json_path[i]
        if ch == "'":
            end = i + 1
            while end < len(json_path) and not (
                json_path[end] == "'" and json_path[end - 1] != "\\"
            ):
                end += 1
            out.append(json_path[i : end + 1])
            i = end + 1
        elif ch in ".[]":
            out.append(ch)
            i += 1
        else:
            end = i
            while end < len(json_path) and json_path[end] not in ".[]":
                end += 1
            out.append(json_path[i:end])
            i = end
    return out


def resolve_field_path(
    json_path: str, schema: Mapping[str, Any]
) -> tuple[str, Mapping[str, Any] | None]:
    """``cel.ValidFieldPath(path, schema, WithFieldPathAllowArrayNotation(false))``: the field
    path (``spec.color``, map keys as ``spec.labels[k]``) and the schema it reaches."""
    parts: list[str] = []
    node: Mapping[str, Any] | None = schema
    tokens = iter(_tokens(json_path))
    for step in tokens:
        if step == "[":
            raise _PathError("array notation is not allowed")
        if step != ".":
            raise _PathError(f"expected [ or . but got: {step}")
        name = next(tokens, None)
        if name is None:
            raise _PathError("unexpected end of JSON path")
        if node is None:
            raise _PathError("does not refer to a valid field")
        properties = node.get("properties")
        additional = node.get("additionalProperties")
        if isinstance(properties, Mapping):
            child = properties.get(name)
            if not isinstance(child, Mapping):
                raise _PathError("does not refer to a valid field")
            parts.append(f".{name}" if parts else name)
            node = child
        elif additional is not None and additional is not False:
            parts.append(f"[{name}]")
            node = additional if isinstance(additional, Mapping) else None
        else:
            raise _PathError("does not refer to a valid field")
    return "".join(parts), node


def _validate_selectable_fields(
    fields: Sequence[Any], schema: Mapping[str, Any], path: str
) -> list[FieldError]:
    """``ValidateCustomResourceSelectableFields``."""
    errs: list[FieldError] = []
    seen: set[str] = set()
    for i, entry in enumerate(fields):
        where = f"{path}[{i}].jsonPath"
        json_path = _str(_map(entry).get("jsonPath"))
        if not json_path:
            errs.append(_required(where))
            continue
        try:
            resolved, found = resolve_field_path(json_path, schema)
        except _PathError as exc:
            errs.append(_invalid(where, json_path, f"is an invalid path: {exc}"))
            continue
        if resolved.split(".", 1)[0].split("[", 1)[0] == "metadata":
            errs.append(_invalid(where, json_path, "must not point to fields in metadata"))
        if found is None or found.get("type") not in ("string", "boolean", "integer"):
            errs.append(
                _invalid(
                    where,
                    json_path,
                    "must point to a field of type string, boolean or integer. Enum string "
                    "fields and strings with formats are allowed.",
                )
            )
        if resolved in seen:
            errs.append(FieldError(names.FIELD_VALUE_DUPLICATE, where, json_path, ""))
        seen.add(resolved)
    if len(seen) > MAX_SELECTABLE_FIELDS:
        errs.append(
            FieldError(
                names.FIELD_VALUE_TOO_MANY,
                path,
                len(seen),
                f"must have at most {MAX_SELECTABLE_FIELDS} items",
            )
        )
    return errs


def _deprecation_warning(version: Mapping[str, Any], path: str) -> list[FieldError]:
    """``validateDeprecationWarning``."""
    if "deprecationWarning" not in version or version["deprecationWarning"] is None:
        return []
    warning = _str(version["deprecationWarning"])
    where = f"{path}.deprecationWarning"
    if version.get("deprecated") is not True:
        return [_invalid(where, warning, "can only be set for deprecated versions")]
    errs: list[str] = []
    if len(warning.encode("utf-8", "surrogatepass")) > MAX_DEPRECATION_WARNING:
        errs.append("must be <= 256 characters long")
    if not warning:
        errs.append("must not be an empty string")
    offset = 0
    for ch in warning:
        # Go checks unicode.IsPrint first, so a control character is "non-printable" too.
        if not ch.isprintable():
            errs.append(
                "must only contain printable UTF-8 characters; non-printable character found "
                f"at index {offset}"
            )
            break
        offset += len(ch.encode("utf-8", "surrogatepass"))
    return [_invalid(where, warning, err) for err in errs]


def _validate_names(crd_names: Mapping[str, Any], path: str) -> list[FieldError]:
    """``ValidateCustomResourceDefinitionNames`` (spec.names and status.acceptedNames)."""
    errs: list[FieldError] = []
    for key in ("plural", "singular"):
        value = _str(crd_names.get(key))
        if value:
            errs.extend(_dns1035(f"{path}.{key}", value))
    for key in ("kind", "listKind"):
        value = _str(crd_names.get(key))
        problems = names.is_dns1035_label(value.lower()) if value else []
        if problems:
            detail = "may have mixed case, but should otherwise match: " + ",".join(problems)
            errs.append(_invalid(f"{path}.{key}", value, detail))
    for i, short in enumerate(_list(crd_names.get("shortNames"))):
        errs.extend(_dns1035(f"{path}.shortNames[{i}]", _str(short)))
    kind = _str(crd_names.get("kind"))
    if kind and kind == _str(crd_names.get("listKind")):
        errs.append(_invalid(f"{path}.listKind", kind, "kind and listKind may not be the same"))
    for i, category in enumerate(_list(crd_names.get("categories"))):
        errs.extend(_dns1035(f"{path}.categories[{i}]", _str(category)))
    return errs


def _validate_conversion(conversion: Any, preserve: bool, path: str) -> list[FieldError]:
    """``validateCustomResourceConversion``; ``Webhook`` is refused (no webhooks here)."""
    errs: list[FieldError] = []
    if not isinstance(conversion, Mapping):
        return errs
    strategy = _str(conversion.get("strategy"))
    if strategy != "None" and preserve:
        errs.append(
            _invalid(
                f"{path}.strategy", strategy, "must be None if spec.preserveUnknownFields is true"
            )
        )
    if not strategy:
        errs.append(_required(f"{path}.strategy"))
        return errs
    if strategy != "None":
        errs.append(_not_supported(f"{path}.strategy", strategy, ["None"]))
        return errs
    webhook = _map(conversion.get("webhook"))
    if webhook.get("clientConfig") is not None:
        errs.append(
            _forbidden(
                f"{path}.webhookClientConfig",
                "should not be set when strategy is not set to Webhook",
            )
        )
    if _list(webhook.get("conversionReviewVersions")):
        errs.append(
            _forbidden(
                f"{path}.conversionReviewVersions",
                "should not be set when strategy is not set to Webhook",
            )
        )
    return errs


def _all_versions_have_schemas(spec: Mapping[str, Any]) -> bool:
    return all(
        _openapi_schema(_map(v).get("schema")) is not None for v in _list(spec.get("versions"))
    )


def _causes(errs: Sequence[FieldError]) -> list[Cause]:
    return [e.cause() for e in errs]


def is_negotiated(crd: Mapping[str, Any]) -> bool:
    """A CRD the API negotiation controller published (`NEGOTIATED_ANNOTATION`)."""
    annotations = _map(_map(crd.get("metadata")).get("annotations"))
    return annotations.get(NEGOTIATED_ANNOTATION) == "true"


def _validate_group_and_scope(spec: Mapping[str, Any], *, negotiated: bool) -> list[FieldError]:
    """kcp-edge: an imported API keeps Kubernetes' own group name, dotless (``apps``) or not;
    built-in kinds still win over it in the catalog."""
    errs: list[FieldError] = []
    group = _str(spec.get("group"))
    if not group:
        if not negotiated:  # the core group, published as <plural>.core by API negotiation
            errs.append(_required("spec.group"))
    elif problems := names.is_dns1123_subdomain(group):
        errs.append(_invalid("spec.group", group, ",".join(problems)))
    elif len(group.split(".")) < 2 and not negotiated and group not in KUBERNETES_GROUPS:
        errs.append(_invalid("spec.group", group, "should be a domain with at least one dot"))
    scope = _str(spec.get("scope"))
    if not scope:
        errs.append(_required("spec.scope"))
    elif scope not in (CLUSTER, NAMESPACED):
        errs.append(_not_supported("spec.scope", scope, [CLUSTER, NAMESPACED]))
    return errs


def _validate_schemas_present(
    shape: _Versions, *, require: bool, preserve: bool
) -> list[FieldError]:
    """v1 requires a schema in every version (on update: if the old CRD had them all)."""
    errs: list[FieldError] = []
    if _openapi_schema(shape.top("schema")) is not None:
        return errs
    for i, version in enumerate(shape.versions):
        if _openapi_schema(version.get("schema")) is not None:
            continue
        where = f"spec.versions[{i}].schema.openAPIV3Schema"
        if require:
            errs.append(_required(where, "schemas are required"))
        elif not preserve and version.get("served") is True:
            errs.append(_required(where, "because otherwise all fields are pruned"))
    if preserve and _has_defaults(shape.versions):
        detail = "must be false in order to use defaults in the schema"
        errs.append(_invalid("spec.preserveUnknownFields", True, detail))
    return errs


def _validate_version(
    i: int, version: Mapping[str, Any], shape: _Versions, check_schema: SchemaCheck
) -> list[Cause]:
    """``validateCustomResourceDefinitionVersion`` and the version name; the fields every
    version shares are checked at the top level instead (`_validate_hoisted`)."""
    base = f"spec.versions[{i}]"
    out = _causes(_dns1035(f"{base}.name", _str(version.get("name"))))
    out += _causes(_deprecation_warning(version, base))
    if not shape.hoisted["schema"]:
        out += _validate_schema(
            version.get("schema"),
            status_enabled=_status_enabled(version.get("subresources")),
            path=f"{base}.schema",
            check_schema=check_schema,
        )
    errs: list[FieldError] = []
    if not shape.hoisted["subresources"]:
        errs += _validate_subresources(version.get("subresources"), f"{base}.subresources")
    if not shape.hoisted["additionalPrinterColumns"]:
        for j, column in enumerate(_list(version.get("additionalPrinterColumns"))):
            errs += _validate_column(_map(column), f"{base}.additionalPrinterColumns[{j}]")
    selectable = _list(version.get("selectableFields"))
    if not shape.hoisted["selectableFields"] and selectable:
        # A hoisted schema is no longer the version's own: upstream then refuses per-version
        # selectableFields, and so does this.
        own = None if shape.hoisted["schema"] else _openapi_schema(version.get("schema"))
        if own is None:
            errs.append(_invalid(f"{base}.selectableFields", "", _NO_VERSION_SCHEMA))
        else:
            errs += _validate_selectable_fields(selectable, own, f"{base}.selectableFields")
    return out + _causes(errs)


def _validate_version_list(versions: Sequence[Mapping[str, Any]]) -> list[FieldError]:
    """Unique names, exactly one storage version, and the internal ``spec.version`` (the
    first version's name, checked again)."""
    errs: list[FieldError] = []
    listed = [_str(v.get("name")) for v in versions]
    if len(set(listed)) != len(listed):
        errs.append(_invalid("spec.versions", listed, "must contain unique version names"))
    if sum(v.get("storage") is True for v in versions) != 1:
        detail = "must have exactly one version marked as storage version"
        errs.append(_invalid("spec.versions", listed, detail))
    if listed:
        errs += _dns1035("spec.version", listed[0])
    return errs


def _validate_spec_names(crd_names: Mapping[str, Any]) -> list[FieldError]:
    errs = [
        _required(f"spec.names.{key}")
        for key in ("plural", "singular", "kind", "listKind")
        if not _str(crd_names.get(key))
    ]
    return errs + _validate_names(crd_names, "spec.names")


def _validate_hoisted(shape: _Versions, check_schema: SchemaCheck) -> list[Cause]:
    """The top-level ``validation``, ``subresources``, ``additionalPrinterColumns`` and
    ``selectableFields`` of the internal form: the values every version shares."""
    out: list[Cause] = []
    if shape.hoisted["schema"]:
        out += _validate_schema(
            shape.top("schema"),
            status_enabled=any(_status_enabled(v.get("subresources")) for v in shape.versions),
            path="spec.validation",
            check_schema=check_schema,
        )
    errs: list[FieldError] = []
    if shape.hoisted["subresources"]:
        errs += _validate_subresources(shape.top("subresources"), "spec.subresources")
    if shape.hoisted["additionalPrinterColumns"]:
        for j, column in enumerate(_list(shape.top("additionalPrinterColumns"))):
            errs += _validate_column(_map(column), f"spec.additionalPrinterColumns[{j}]")
    selectable = _list(shape.top("selectableFields"))
    if selectable:
        top_schema = _openapi_schema(shape.top("schema"))
        if top_schema is None:
            errs.append(_invalid("spec.selectableFields", "", _NO_TOP_SCHEMA))
        else:
            errs += _validate_selectable_fields(selectable, top_schema, "spec.selectableFields")
    return out + _causes(errs)


def _validate_spec(
    spec: Mapping[str, Any],
    *,
    old: Mapping[str, Any] | None,
    check_schema: SchemaCheck,
    negotiated: bool = False,
) -> list[Cause]:
    """``validateCustomResourceDefinitionSpec`` of the internal form of a v1 spec."""
    preserve = spec.get("preserveUnknownFields") is True
    shape = _Versions([_map(v) for v in _list(spec.get("versions"))])
    require = old is None or _all_versions_have_schemas(_map(old.get("spec")))
    out = _causes(_validate_group_and_scope(spec, negotiated=negotiated))
    out += _causes(_validate_schemas_present(shape, require=require, preserve=preserve))
    for i, version in enumerate(shape.versions):
        out += _validate_version(i, version, shape, check_schema)
    out += _causes(_validate_version_list(shape.versions))
    out += _causes(_validate_spec_names(_map(spec.get("names"))))
    out += _validate_hoisted(shape, check_schema)
    out += _causes(_validate_conversion(spec.get("conversion"), preserve, "spec.conversion"))
    return out


def _sub_schemas(node: Mapping[str, Any]) -> list[Any]:
    """The schemas nested in a schema node (``SchemaHas``'s walk)."""
    found: list[Any] = list(_map(node.get("properties")).values())
    for key in ("items", "additionalProperties", "not"):
        if isinstance(node.get(key), Mapping):
            found.append(node[key])
    for key in ("allOf", "anyOf", "oneOf"):
        found.extend(_list(node.get(key)))
    return found


def _schema_has_default(node: Any) -> bool:
    if not isinstance(node, Mapping):
        return False
    return node.get("default") is not None or any(map(_schema_has_default, _sub_schemas(node)))


def _has_defaults(versions: Sequence[Mapping[str, Any]]) -> bool:
    return any(_schema_has_default(_openapi_schema(v.get("schema"))) for v in versions)


def _validate_immutable(spec: Mapping[str, Any], old: Mapping[str, Any]) -> list[FieldError]:
    """``validateCustomResourceDefinitionSpecUpdate``: what storage keys and names depend on."""
    old_spec = _map(old.get("spec"))
    errs: list[FieldError] = []
    pairs = [("group",), ("names", "plural")]
    if is_established(old):
        pairs = [("scope",), ("names", "kind"), *pairs]
    for keys in pairs:
        new_value: Any = spec
        old_value: Any = old_spec
        for key in keys:
            new_value = _map(new_value).get(key)
            old_value = _map(old_value).get(key)
        if _str(new_value) != _str(old_value):
            errs.append(_invalid("spec." + ".".join(keys), _str(new_value), "field is immutable"))
    return errs


def _validate_stored_versions(crd: Mapping[str, Any]) -> list[FieldError]:
    """``ValidateCustomResourceDefinitionStoredVersions``."""
    path = "status.storedVersions"
    stored = _strings(_map(crd.get("status")).get("storedVersions"))
    if not stored:
        return [_invalid(path, stored, "must have at least one stored version")]
    errs: list[FieldError] = []
    remaining = {name: i for i, name in enumerate(stored)}
    for version in _versions(crd):
        name = _str(version.get("name"))
        if version.get("storage") is True and name not in remaining:
            errs.append(_invalid(path, stored, "must have the storage version " + name))
        remaining.pop(name, None)
    for name, i in sorted(remaining.items(), key=lambda item: item[1]):
        errs.append(
            _invalid(
                f"{path}[{i}]",
                name,
                f"missing from spec.versions; {name} was previously a storage version, and must "
                f"remain in spec.versions until a storage migration ensures no data remains "
                f"persisted in {name} and removes {name} from status.storedVersions",
            )
        )
    return errs


def is_protected_group(group: str) -> bool:
    """``IsProtectedCommunityGroup``: ``*.k8s.io`` and ``*.kubernetes.io`` need API approval."""
    return group in ("k8s.io", "kubernetes.io") or group.endswith((".k8s.io", ".kubernetes.io"))


def api_approval_state(annotations: Mapping[str, Any]) -> tuple[str, str]:
    """``GetAPIApprovalState``: (``Missing``|``Bypassed``|``Approved``|``Invalid``, reason)."""
    value = _str(annotations.get(API_APPROVAL_ANNOTATION))
    quoted = names.go_quote(API_APPROVAL_ANNOTATION)
    if not value:
        return (
            "Missing",
            f"protected groups must have approval annotation {quoted}, see "
            "https://github.com/kubernetes/enhancements/pull/1111",
        )
    if value.startswith("unapproved"):
        return "Bypassed", f"not approved: {names.go_quote(value)}"
    parsed = urlparse(value)
    if parsed.scheme and parsed.netloc and not any(ch.isspace() for ch in value):
        return "Approved", f"approved in {value}"
    return (
        "Invalid",
        f"protected groups must have approval annotation {quoted} with either a URL or a reason "
        'starting with "unapproved", see https://github.com/kubernetes/enhancements/pull/1111',
    )


def _validate_api_approval(
    crd: Mapping[str, Any], old: Mapping[str, Any] | None
) -> list[FieldError]:
    """``validateAPIApproval``: unchanged approval states are never refused."""
    if not is_protected_group(_str(_map(crd.get("spec")).get("group"))):
        return []
    annotations = _map(_map(crd.get("metadata")).get("annotations"))
    state, reason = api_approval_state(annotations)
    if old is not None:
        old_state, _ = api_approval_state(_map(_map(old.get("metadata")).get("annotations")))
        if old_state == state:
            return []
    path = f"metadata.annotations[{API_APPROVAL_ANNOTATION}]"
    if state == "Missing":
        return [_required(path, reason)]
    if state == "Invalid":
        return [_invalid(path, _str(annotations.get(API_APPROVAL_ANNOTATION)), reason)]
    return []


def validate_crd(
    crd: Mapping[str, Any], *, old: Mapping[str, Any] | None, check_schema: SchemaCheck
) -> list[Cause]:
    """Why the apiserver refuses this CRD (on create when ``old`` is None, else on update), as
    422 causes in upstream's order; empty when it is fine. Object metadata rules other than
    the CRD's own name rule are the generic store's."""
    out: list[Cause] = []
    spec = _map(crd.get("spec"))
    crd_names = _map(spec.get("names"))
    if old is None:
        name = _str(_map(crd.get("metadata")).get("name"))
        group = _str(spec.get("group")) or (CORE_GROUP_NAME if is_negotiated(crd) else "")
        wanted = _str(crd_names.get("plural")) + "." + group
        if name and name != wanted:
            out.append(
                _invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group').cause()
            )
    negotiated = is_negotiated(crd)
    out.extend(_validate_spec(spec, old=old, check_schema=check_schema, negotiated=negotiated))
    if old is not None:
        out.extend(e.cause() for e in _validate_immutable(spec, old))
    errs = _validate_names(
        _map(_map(crd.get("status")).get("acceptedNames")), "status.acceptedNames"
    )
    errs += _validate_stored_versions(crd)
    errs += _validate_api_approval(crd, old)
    old_preserve = old is not None and _map(old.get("spec")).get("preserveUnknownFields") is True
    if spec.get("preserveUnknownFields") is True and not old_preserve:
        errs.append(
            _invalid(
                "spec.preserveUnknownFields",
                True,
                "cannot set to true, set x-kubernetes-preserve-unknown-fields to true in "
                "spec.versions[*].schema instead",
            )
        )
    out.extend(e.cause() for e in errs)
    unique: list[Cause] = []
    for cause in out:
        if cause not in unique:
            unique.append(cause)
    return unique


# --- status: names, establishment, API approval ----------------------------------------------

_NAME_KEYS = ("plural", "singular", "shortNames", "kind", "listKind", "categories")


def _names_of(value: object) -> dict[str, Any]:
    """A ``CustomResourceDefinitionNames`` as v1 JSON writes it: empty fields omitted, except
    ``plural`` and ``kind``, which Go always writes (and the Python client requires)."""
    source = _map(value)
    out: dict[str, Any] = {}
    for key in _NAME_KEYS:
        item = source.get(key)
        if key in ("shortNames", "categories"):
            if _strings(item):
                out[key] = _strings(item)
        elif _str(item) or key in ("plural", "kind"):
            out[key] = _str(item)
    return out


def _in_use(requested: str, accepted: str, used: set[str]) -> str | None:
    """``equalToAcceptedOrFresh``: the conflict message, or None."""
    if requested == accepted or requested not in used:
        return None
    return f"{names.go_quote(requested)} is already in use"


def _calculate_names(
    crd: Mapping[str, Any], others: Sequence[Mapping[str, Any]]
) -> tuple[dict[str, Any], Obj, Obj]:
    """``calculateNamesAndConditions``: accepted names, NamesAccepted and Established."""
    group = _str(_map(crd.get("spec")).get("group"))
    name = _str(_map(crd.get("metadata")).get("name"))
    resources: set[str] = set()
    kinds: set[str] = set()
    for other in [crd, *others]:
        other_spec = _map(other.get("spec"))
        if _str(other_spec.get("group")) != group:
            continue
        if other is not crd and _str(_map(other.get("metadata")).get("name")) == name:
            continue
        taken = _map(_map(other.get("status")).get("acceptedNames"))
        resources.update((_str(taken.get("plural")), _str(taken.get("singular"))))
        resources.update(_strings(taken.get("shortNames")))
        kinds.update((_str(taken.get("kind")), _str(taken.get("listKind"))))

    requested = _names_of(_map(crd.get("spec")).get("names"))
    accepted = _names_of(_map(crd.get("status")).get("acceptedNames"))
    new_names = dict(accepted)
    reason, message = "", ""
    for key, used, why in (
        ("plural", resources, "PluralConflict"),
        ("singular", resources, "SingularConflict"),
    ):
        problem = _in_use(requested.get(key, ""), accepted.get(key, ""), used)
        if problem:
            reason, message = why, problem
        else:
            new_names[key] = requested.get(key, "")
    wanted_short = requested.get("shortNames", [])
    had_short = accepted.get("shortNames", [])
    if wanted_short != had_short:
        problems = [
            problem
            for short in wanted_short
            if short not in had_short and (problem := _in_use(short, "", resources))
        ]
        if problems:
            reason, message = "ShortNamesConflict", names.aggregate_message(problems)
        else:
            new_names["shortNames"] = wanted_short
    for key, why in (("kind", "KindConflict"), ("listKind", "ListKindConflict")):
        problem = _in_use(requested.get(key, ""), accepted.get(key, ""), kinds)
        if problem:
            reason, message = why, problem
        else:
            new_names[key] = requested.get(key, "")
    new_names["categories"] = requested.get("categories", [])

    names_accepted: Obj = {"type": "NamesAccepted", "status": "False"}
    if reason:
        names_accepted.update(reason=reason, message=message)
    else:
        names_accepted.update(status="True", reason="NoConflicts", message="no conflicts found")
    established: Obj = {
        "type": "Established",
        "status": "False",
        "reason": "NotAccepted",
        "message": "not all names are accepted",
    }
    old = condition(crd, "Established")
    if old is not None:
        established = dict(old)
    if established.get("status") != "True" and names_accepted["status"] == "True":
        established = {
            "type": "Established",
            "status": "False",
            "reason": "Installing",
            "message": "the initial names have been accepted",
        }
    return _names_of(new_names), names_accepted, established


def _set_condition(conditions: list[Obj], new: Mapping[str, Any], now: str) -> None:
    """``SetCRDCondition``: the transition time moves only when the status changes."""
    for existing in conditions:
        if existing.get("type") == new["type"]:
            if existing.get("status") != new["status"] or not existing.get("lastTransitionTime"):
                existing["lastTransitionTime"] = now
            existing["status"] = new["status"]
            for key in ("reason", "message"):
                if new.get(key):
                    existing[key] = new[key]
                else:
                    existing.pop(key, None)
            return
    conditions.append(
        {
            "type": new["type"],
            "status": new["status"],
            "lastTransitionTime": now,
            **{key: new[key] for key in ("reason", "message") if new.get(key)},
        }
    )


def _equivalent(new: Mapping[str, Any], old: Mapping[str, Any] | None) -> bool:
    """``IsCRDConditionEquivalent``: equal but for the transition time."""
    if old is None:
        return False
    return all(
        _str(new.get(k)) == _str(old.get(k)) for k in ("type", "status", "reason", "message")
    )


_APPROVAL_CONDITIONS = {
    "Invalid": ("False", "InvalidAnnotation"),
    "Missing": ("False", "MissingAnnotation"),
    "Approved": ("True", "ApprovedAnnotation"),
    "Bypassed": ("False", "UnapprovedAnnotation"),
}


def approval_condition(crd: Mapping[str, Any]) -> Obj | None:
    """The ``KubernetesAPIApprovalPolicyConformant`` condition of a protected group's CRD."""
    if not is_protected_group(_str(_map(crd.get("spec")).get("group"))):
        return None
    state, reason = api_approval_state(_map(_map(crd.get("metadata")).get("annotations")))
    status, why = _APPROVAL_CONDITIONS[state]
    return {
        "type": "KubernetesAPIApprovalPolicyConformant",
        "status": status,
        "reason": why,
        "message": reason,
    }


def accepted_status(
    crd: Mapping[str, Any], others: Sequence[Mapping[str, Any]], *, now: str
) -> Obj:
    """The ``status`` the CRD controllers converge on, given the other CRDs of the same logical
    cluster: accepted names and ``NamesAccepted`` (naming controller), ``Established``
    (establishing controller), ``KubernetesAPIApprovalPolicyConformant`` (API approval
    controller) and ``storedVersions``. Other conditions (``Terminating``) are kept; a
    condition's ``lastTransitionTime`` moves only when its status changes."""
    status: Obj = copy.deepcopy(dict(_map(crd.get("status"))))
    conditions: list[Obj] = [
        dict(c) for c in _list(status.get("conditions")) if isinstance(c, Mapping)
    ]
    requested = _names_of(_map(crd.get("spec")).get("names"))
    accepted = _names_of(status.get("acceptedNames"))
    if requested != accepted:
        new_names, names_accepted, established = _calculate_names(crd, others)
        current = next((c for c in conditions if c.get("type") == "NamesAccepted"), None)
        if new_names != accepted or not _equivalent(names_accepted, current):
            status["acceptedNames"] = new_names
            _set_condition(conditions, names_accepted, now)
            _set_condition(conditions, established, now)
    names_ok = any(
        c.get("type") == "NamesAccepted" and c.get("status") == "True" for c in conditions
    )
    is_up = any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions)
    if names_ok and not is_up:
        _set_condition(
            conditions,
            {
                "type": "Established",
                "status": "True",
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
            },
            now,
        )
    approval = approval_condition(crd)
    if approval is not None:
        current = next((c for c in conditions if c.get("type") == approval["type"]), None)
        if not _equivalent(approval, current):
            _set_condition(conditions, approval, now)
    status["conditions"] = conditions
    status.setdefault("acceptedNames", _names_of(status.get("acceptedNames")))
    stored = _strings(status.get("storedVersions"))
    storage = storage_version(crd)
    if storage and storage not in stored:
        stored.append(storage)
    status["storedVersions"] = stored
    return status


# --- serving ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ScalePaths:
    """``subresources.scale`` of a CRD version."""

    spec_replicas_path: str
    status_replicas_path: str
    label_selector_path: str | None = None


@dataclass(frozen=True, kw_only=True)
class ServedVersion:
    """One served version of an established CRD: everything serving its resources needs."""

    crd_name: str
    crd_uid: str
    group: str
    version: str
    storage_version: str
    """The CRD's storage version (objects of every version are stored alike: no conversion)."""
    plural: str
    singular: str
    kind: str
    list_kind: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    schema: Mapping[str, Any] | None = field(default=None, repr=False)
    status_subresource: bool = False
    scale: ScalePaths | None = None
    printer_columns: tuple[Mapping[str, Any], ...] = ()
    selectable_fields: tuple[str, ...] = ()
    """The versions's ``selectableFields[*].jsonPath`` (``.spec.color``)."""
    deprecated: bool = False
    deprecation_warning: str | None = None
    """The ``Warning`` every request of a deprecated version gets (None: not deprecated)."""
    served: bool = True

    def __hash__(self) -> int:
        # The schema and columns are dicts: hash what names the version (equal versions agree).
        return hash((self.crd_uid, self.crd_name, self.group, self.version, self.plural))

    @property
    def group_version(self) -> str:
        return f"{self.group}/{self.version}"

    @property
    def field_labels(self) -> tuple[str, ...]:
        """The field selector labels of the selectable fields (``spec.color``)."""
        return tuple(path.removeprefix(".") for path in self.selectable_fields)


def storage_id_for(group: str, plural: str) -> int:
    """A stable storage id for a CRD's resource, the same in every logical cluster: 2**40 plus
    the first 40 bits of ``sha256("<plural>.<group>")``, far above the built-in ids."""
    digest = hashlib.sha256(f"{plural}.{group}".encode()).digest()
    return _BUILTIN_ID_LIMIT | int.from_bytes(digest[:5], "big")


def _scale_paths(subresources: Mapping[str, Any]) -> ScalePaths | None:
    scale = subresources.get("scale")
    if not isinstance(scale, Mapping):
        return None
    return ScalePaths(
        spec_replicas_path=_str(scale.get("specReplicasPath")),
        status_replicas_path=_str(scale.get("statusReplicasPath")),
        label_selector_path=_str(scale.get("labelSelectorPath")) or None,
    )


def _warning(version: Mapping[str, Any], group: str, kind: str) -> str | None:
    """The crdHandler's deprecation warning: the CRD's text, or ``<group>/<v> <Kind> is
    deprecated``."""
    if version.get("deprecated") is not True:
        return None
    text = version.get("deprecationWarning")
    if isinstance(text, str):
        return text
    return f"{group}/{_str(version.get('name'))} {kind} is deprecated"


def served_kinds(crd: Mapping[str, Any]) -> list[ResourceKind]:
    """One `ResourceKind` per served version of an established CRD, under the accepted names
    (none for a CRD that is not ``Established``)."""
    if not is_established(crd):
        return []
    spec = _map(crd.get("spec"))
    meta = _map(crd.get("metadata"))
    accepted = _names_of(_map(crd.get("status")).get("acceptedNames"))
    plural, kind = accepted.get("plural", ""), accepted.get("kind", "")
    if not plural or not kind:
        return []
    group = _str(spec.get("group"))
    namespaced = spec.get("scope") == NAMESPACED
    short_names = tuple(accepted.get("shortNames", ()))
    categories = tuple(accepted.get("categories", ()))
    storage = storage_version(crd)
    out = []
    for version in _versions(crd):
        if version.get("served") is not True:
            continue
        name = _str(version.get("name"))
        subresources = _map(version.get("subresources"))
        served = ServedVersion(
            crd_name=_str(meta.get("name")),
            crd_uid=_str(meta.get("uid")),
            group=group,
            version=name,
            storage_version=storage,
            plural=plural,
            singular=accepted.get("singular", "") or kind.lower(),
            kind=kind,
            list_kind=accepted.get("listKind", "") or kind + "List",
            namespaced=namespaced,
            short_names=short_names,
            categories=categories,
            schema=_openapi_schema(version.get("schema")),
            status_subresource=_status_enabled(subresources),
            scale=_scale_paths(subresources),
            printer_columns=tuple(
                dict(c)
                for c in _list(version.get("additionalPrinterColumns"))
                if isinstance(c, Mapping)
            ),
            selectable_fields=tuple(
                path
                for entry in _list(version.get("selectableFields"))
                if (path := _str(_map(entry).get("jsonPath")))
            ),
            deprecated=version.get("deprecated") is True,
            deprecation_warning=_warning(version, group, kind),
        )
        subs = tuple(
            sub
            for sub, on in (("status", served.status_subresource), ("scale", served.scale))
            if on
        )
        out.append(
            ResourceKind(
                group=group,
                version=name,
                resource=plural,
                singular=served.singular,
                kind=kind,
                namespaced=namespaced,
                verbs=ALL_VERBS,
                short_names=short_names,
                categories=categories,
                subresources=subs,
                storage_id=storage_id_for(group, plural),
                definition=served,
            )
        )
    return out


def served_version(kind: ResourceKind) -> ServedVersion | None:
    """The `ServedVersion` behind a custom resource's kind (also through a compiled definition
    that carries it as ``served``); None for built-in kinds."""
    definition = kind.definition
    if isinstance(definition, ServedVersion):
        return definition
    inner = getattr(definition, "served", None)
    return inner if isinstance(inner, ServedVersion) else None


def openapi_document(kinds: Sequence[ResourceKind]) -> Obj:
    """The ``/openapi/v3/apis/<group>/<version>`` document of the CR kinds of one group-version
    (``crdopenapi.build_document``)."""
    versions = [found for kind in kinds if (found := served_version(kind)) is not None]
    return crdopenapi.build_document(versions)


# --- the scale subresource --------------------------------------------------------------------


def _go_type(value: object) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, str):
        return "string"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, dict):
        return "map[string]interface {}"
    if isinstance(value, list):
        return "[]interface {}"
    return type(value).__name__


def _nested(obj: Mapping[str, Any], path: str, want: type) -> tuple[Any, bool]:
    """``unstructured.NestedInt64``/``NestedString`` at a ``.a.b`` path: (value, found)."""
    fields = path.removeprefix(".").split(".")
    current: Any = obj
    for i, name in enumerate(fields):
        if current is None:
            return None, False
        if not isinstance(current, Mapping):
            shown = "." + ".".join(fields[:i])
            raise CRDError(
                f"{shown} accessor error: {current} is of the type {_go_type(current)}, "
                "expected map[string]interface{}",
                code=500,
                reason="Unknown",
            )
        if name not in current:
            return None, False
        current = current[name]
    ok = (
        isinstance(current, want) and not isinstance(current, bool)
        if want is int
        else isinstance(current, want)
    )
    if not ok:
        expected = "int64" if want is int else "string"
        raise CRDError(
            f"{path if path.startswith('.') else '.' + path} accessor error: {current} is of the "
            f"type {_go_type(current)}, expected {expected}",
            code=500,
            reason="Unknown",
        )
    return current, True


def to_scale(
    obj: Mapping[str, Any], paths: ScalePaths, *, require_spec_replicas: bool = False
) -> Obj:
    """The ``autoscaling/v1`` Scale of a custom resource (``scaleFromCustomResource``).

    A missing spec replicas field reads as 0 (``spec: {}``, as Go omits a zero); with
    ``require_spec_replicas`` (GET .../scale) it is the apiserver's 500 instead.
    """
    spec_replicas, found = _nested(obj, paths.spec_replicas_path, int)
    if not found and require_spec_replicas:
        raise CRDError(
            f"Internal error occurred: the spec replicas field "
            f"{names.go_quote(paths.spec_replicas_path)} does not exist",
            code=500,
            reason="InternalError",
        )
    status_replicas, _ = _nested(obj, paths.status_replicas_path, int)
    selector = ""
    if paths.label_selector_path:
        selector, _ = _nested(obj, paths.label_selector_path, str)
    meta = _map(obj.get("metadata"))
    scale_meta: Obj = {"name": _str(meta.get("name"))}
    for key in ("namespace", "uid", "resourceVersion"):
        if meta.get(key):
            scale_meta[key] = meta[key]
    scale_meta["creationTimestamp"] = meta.get("creationTimestamp")
    status: Obj = {"replicas": int(status_replicas or 0)}
    if selector:
        status["selector"] = selector
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": int(spec_replicas)} if spec_replicas else {},
        "status": status,
    }


def validate_scale(scale: Mapping[str, Any]) -> list[Cause]:
    """``ValidateScale``: the replica count may not be negative (422 ``Scale.autoscaling``)."""
    replicas = _map(scale.get("spec")).get("replicas", 0)
    if isinstance(replicas, int) and not isinstance(replicas, bool) and replicas < 0:
        return [_invalid("spec.replicas", replicas, "must be greater than or equal to 0").cause()]
    return []


def from_scale(obj: Mapping[str, Any], scale: Mapping[str, Any], paths: ScalePaths) -> Obj:
    """The custom resource with the Scale's spec replicas written back
    (``scaleUpdatedObjectInfo.UpdatedObject``); the Scale's resourceVersion, when it has one,
    becomes the object's (the update's precondition). Raises `CRDError` (400) when neither the
    Scale nor the object has spec replicas."""
    causes = validate_scale(scale)
    if causes:
        raise CRDError(
            names.invalid_message(
                kind="Scale",
                group="autoscaling",
                name=_str(_map(scale.get("metadata")).get("name")),
                errors=[
                    _invalid(
                        "spec.replicas",
                        _map(scale.get("spec")).get("replicas"),
                        "must be greater than or equal to 0",
                    )
                ],
            ),
            code=422,
            reason="Invalid",
        )
    replicas = _map(scale.get("spec")).get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas == UNSET_REPLICAS:
        _, found = _nested(obj, paths.spec_replicas_path, int)
        if not found or replicas == UNSET_REPLICAS:
            raise CRDError(
                f"the spec replicas field {names.go_quote(paths.spec_replicas_path)} cannot be "
                "empty"
            )
        replicas = 0
    out: Obj = copy.deepcopy(dict(obj))
    fields = paths.spec_replicas_path.removeprefix(".").split(".")
    node = out
    for name in fields[:-1]:
        child = node.get(name)
        if not isinstance(child, dict):
            child = node[name] = {}
        node = child
    node[fields[-1]] = replicas
    version = _str(_map(scale.get("metadata")).get("resourceVersion"))
    if version:
        out.setdefault("metadata", {})["resourceVersion"] = version
    return out


# --- selectable fields ------------------------------------------------------------------------


def selectable_value(obj: Mapping[str, Any], json_path: str) -> str:
    """A selectable field's value as field selectors compare it (``fmt.Sprint`` of the value;
    "" when the field is absent or null)."""
    current: Any = obj
    for name in json_path.removeprefix(".").split("."):
        if not isinstance(current, Mapping) or name not in current:
            return ""
        current = current[name]
    if current is None:
        return ""
    if isinstance(current, bool):
        return "true" if current else "false"
    if isinstance(current, float) and current.is_integer() and abs(current) < 1e21:
        return str(int(current))
    return str(current)
