"""Turn a Kubernetes OpenAPI v3 document into a structural CRD schema for one kind.

Why this module exists: a syncer imports the edge cluster's built-in types (``apps/v1``
Deployments, ...) into a workspace, where they are served as CustomResourceDefinitions. An edge
cluster publishes those types only as OpenAPI v3 (``/openapi/v3/apis/apps/v1``): component
schemas joined by ``$ref`` (wrapped as ``allOf: [{$ref}]`` beside ``default`` and
``description``), ``oneOf`` for int-or-string, empty schemas for free-form JSON. A CRD needs one
self-contained *structural* schema (`kcp_edge.apimachinery.structural.check_structural`), so
this module inlines every reference and rewrites what a CRD cannot say:

* ``IntOrString`` and ``resource.Quantity`` become ``x-kubernetes-int-or-string``;
  ``Time``/``MicroTime`` a ``date-time`` string; ``RawExtension``, ``FieldsV1``, untyped and
  property-less object schemas ``x-kubernetes-preserve-unknown-fields``;
* a reference already on the current path (``JSONSchemaProps``) becomes a preserving object;
* the root's ``metadata`` is ``{"type": "object"}`` (the CRD rule), ``apiVersion``/``kind`` strings;
* ``default`` is dropped (the edge cluster's apiserver defaults), except on the keys of
  ``x-kubernetes-list-type: map`` lists that are not required: structural schemas insist such
  keys are required or defaulted (``ports[].protocol`` defaults to ``TCP``);
* ``x-kubernetes-patch-*``, ``x-kubernetes-group-version-kind``, ``x-kubernetes-unions`` and
  other keywords a CRD schema refuses are dropped; formats the apiserver strips anyway are kept
  only for the numeric ones (``int32``, ``int64``, ``float``, ``double``) that explain shows.

The module is pure and imports nothing above ``apimachinery``: the syncer uses it too.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from kcp_edge.apimachinery import schemaformats

CRD_API_VERSION = "apiextensions.k8s.io/v1"

_INT_OR_STRING: dict[str, Any] = {
    "anyOf": [{"type": "integer"}, {"type": "string"}],
    "x-kubernetes-int-or-string": True,
}
_DATE_TIME: dict[str, Any] = {"type": "string", "format": "date-time"}
_PRESERVE_OBJECT: dict[str, Any] = {
    "type": "object",
    "x-kubernetes-preserve-unknown-fields": True,
}
_PRESERVE_ANY: dict[str, Any] = {"x-kubernetes-preserve-unknown-fields": True}

_SPECIAL_COMPONENTS: dict[str, dict[str, Any]] = {
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": _INT_OR_STRING,
    "io.k8s.apimachinery.pkg.api.resource.Quantity": _INT_OR_STRING,
    "io.k8s.apimachinery.pkg.apis.meta.v1.Time": _DATE_TIME,
    "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime": _DATE_TIME,
    "io.k8s.apimachinery.pkg.runtime.RawExtension": _PRESERVE_OBJECT,
    "io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1": _PRESERVE_OBJECT,
    "io.k8s.apiextensions-apiserver.pkg.apis.apiextensions.v1.JSON": _PRESERVE_ANY,
}

_COPIED_KEYWORDS = (
    "description",
    "type",
    "nullable",
    "enum",
    "pattern",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "multipleOf",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "x-kubernetes-embedded-resource",
    "x-kubernetes-int-or-string",
)
_NUMERIC_FORMATS = frozenset({"int32", "int64", "float", "double"})
_WRAPPER_OVERRIDES = ("description", "nullable")
_REF_PREFIX = "#/components/schemas/"


class OpenAPIImportError(ValueError):
    """The document cannot be turned into a CRD schema for the asked kind."""


class KindNotFoundError(OpenAPIImportError):
    """No component schema of the document declares the group, version and kind."""


def find_component(document: Mapping[str, Any], group: str, version: str, kind: str) -> str:
    """The name of the component schema whose ``x-kubernetes-group-version-kind`` lists the kind."""
    for name, schema in _components(document).items():
        gvks = (
            schema.get("x-kubernetes-group-version-kind") if isinstance(schema, Mapping) else None
        )
        for gvk in gvks if isinstance(gvks, list) else []:
            if not isinstance(gvk, Mapping):
                continue
            if (gvk.get("group", ""), gvk.get("version"), gvk.get("kind")) == (
                group,
                version,
                kind,
            ):
                return str(name)
    gv = f"{group}/{version}" if group else version
    raise KindNotFoundError(f"kind {kind} of {gv} is not in the OpenAPI document")


def crd_schema_from_openapi(
    document: Mapping[str, Any], group: str, version: str, kind: str
) -> dict[str, Any]:
    """The structural ``openAPIV3Schema`` of ``kind`` in ``group/version`` (``""``: core)."""
    name = find_component(document, group, version, kind)
    converter = _Converter(_components(document))
    root = converter.component(name, ())
    return _rooted(root)


def crd_from_openapi(
    document: Mapping[str, Any],
    group: str,
    version: str,
    kind: str,
    *,
    plural: str,
    singular: str,
    short_names: Sequence[str] = (),
    categories: Sequence[str] = (),
    scope: str = "Namespaced",
    status: bool = True,
    scale: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A complete ``apiextensions.k8s.io/v1`` CRD (``<plural>.<group>``) serving the kind.

    ``scale`` is the CRD's scale subresource (``specReplicasPath``, ``statusReplicasPath``,
    ``labelSelectorPath``); ``status`` adds the status subresource.
    """
    schema = crd_schema_from_openapi(document, group, version, kind)
    subresources: dict[str, Any] = {}
    if status:
        subresources["status"] = {}
    if scale is not None:
        subresources["scale"] = dict(scale)
    names: dict[str, Any] = {
        "plural": plural,
        "singular": singular,
        "kind": kind,
        "listKind": f"{kind}List",
    }
    if short_names:
        names["shortNames"] = list(short_names)
    if categories:
        names["categories"] = list(categories)
    served: dict[str, Any] = {
        "name": version,
        "served": True,
        "storage": True,
        "schema": {"openAPIV3Schema": schema},
    }
    if subresources:
        served["subresources"] = subresources
    return {
        "apiVersion": CRD_API_VERSION,
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {"group": group, "names": names, "scope": scope, "versions": [served]},
    }


def _components(document: Mapping[str, Any]) -> Mapping[str, Any]:
    components = document.get("components")
    schemas = components.get("schemas") if isinstance(components, Mapping) else None
    if not isinstance(schemas, Mapping):
        raise OpenAPIImportError("the OpenAPI document has no components.schemas")
    return schemas


def _rooted(schema: dict[str, Any]) -> dict[str, Any]:
    """Apply the CRD root rules: object type, plain ``metadata``, string ``apiVersion``/``kind``."""
    schema.pop("nullable", None)
    schema["type"] = "object"
    schema.pop("x-kubernetes-preserve-unknown-fields", None)
    props = schema.setdefault("properties", {})
    for key in ("apiVersion", "kind"):
        props[key] = _described({"type": "string"}, props.get(key))
    props["metadata"] = _described({"type": "object"}, props.get("metadata"))
    return schema


def _described(schema: dict[str, Any], source: Any) -> dict[str, Any]:
    if isinstance(source, Mapping) and isinstance(source.get("description"), str):
        schema["description"] = source["description"]
    return schema


class _Converter:
    """Inlines references of one document; ``path`` is the component names being expanded."""

    def __init__(self, components: Mapping[str, Any]) -> None:
        self.components = components

    def component(self, name: str, path: tuple[str, ...]) -> dict[str, Any]:
        special = _SPECIAL_COMPONENTS.get(name)
        if special is not None:
            return _copy_schema(special)
        if name in path:
            return dict(_PRESERVE_OBJECT)
        raw = self.components.get(name)
        if not isinstance(raw, Mapping):
            raise OpenAPIImportError(f"the OpenAPI document has no component schema {name}")
        return self.schema(raw, (*path, name))

    def schema(self, raw: Mapping[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
        target = _single_ref(raw)
        if target is not None:
            resolved = self.component(target, path)
            for key in _WRAPPER_OVERRIDES:
                if key in raw:
                    resolved[key] = raw[key]
            return resolved
        if _is_int_or_string(raw):
            return _described(_copy_schema(_INT_OR_STRING), raw)
        return self._plain(raw, path)

    def _plain(self, raw: Mapping[str, Any], path: tuple[str, ...]) -> dict[str, Any]:
        out: dict[str, Any] = {k: _deep_copy(raw[k]) for k in _COPIED_KEYWORDS if k in raw}
        fmt = raw.get("format")
        if isinstance(fmt, str) and (
            fmt in _NUMERIC_FORMATS or schemaformats.checker_for(fmt) is not None
        ):
            out["format"] = fmt
        if raw.get("x-kubernetes-preserve-unknown-fields") is True:
            out["x-kubernetes-preserve-unknown-fields"] = True
        props = raw.get("properties")
        if isinstance(props, Mapping) and props:
            out["properties"] = {
                str(k): self.schema(v, path) for k, v in props.items() if isinstance(v, Mapping)
            }
            required = raw.get("required")
            if isinstance(required, list) and required:
                out["required"] = sorted(r for r in required if r in out["properties"])
        self._additional(raw, out, path)
        items = raw.get("items")
        if isinstance(items, Mapping):
            out["items"] = self.schema(items, path)
        elif out.get("type") == "array":
            out["items"] = dict(_PRESERVE_ANY)
        _complete(out)
        _fix_list_type(out, raw, self, path)
        return out

    def _additional(
        self, raw: Mapping[str, Any], out: dict[str, Any], path: tuple[str, ...]
    ) -> None:
        additional = raw.get("additionalProperties")
        if isinstance(additional, Mapping) and "properties" not in out:
            out["additionalProperties"] = self.schema(additional, path)
            out.setdefault("type", "object")
        elif additional is True:
            out["x-kubernetes-preserve-unknown-fields"] = True

    def key_default(self, raw_items: Mapping[str, Any], key: str) -> Any:
        """The ``default`` an (unresolved) list item schema declares for one of its keys."""
        target = _single_ref(raw_items)
        if target is not None:
            component = self.components.get(target)
            raw_items = component if isinstance(component, Mapping) else {}
        props = raw_items.get("properties")
        prop = props.get(key) if isinstance(props, Mapping) else None
        if isinstance(prop, Mapping) and isinstance(prop.get("default"), str | int | float):
            return prop["default"]
        return None


def _single_ref(raw: Mapping[str, Any]) -> str | None:
    """The component a schema stands for: ``$ref`` itself or kube's ``allOf: [{$ref}]`` wrapper."""
    ref = raw.get("$ref")
    if ref is None:
        all_of = raw.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1 and isinstance(all_of[0], Mapping):
            ref = all_of[0].get("$ref")
    if not isinstance(ref, str):
        return None
    if not ref.startswith(_REF_PREFIX):
        raise OpenAPIImportError(f"unsupported $ref {ref!r}: only {_REF_PREFIX}... is resolved")
    return ref[len(_REF_PREFIX) :]


def _is_int_or_string(raw: Mapping[str, Any]) -> bool:
    if raw.get("format") == "int-or-string" or raw.get("x-kubernetes-int-or-string") is True:
        return True
    alternatives = raw.get("oneOf") or raw.get("anyOf")
    if not isinstance(alternatives, list):
        return False
    types = {a.get("type") for a in alternatives if isinstance(a, Mapping)}
    return types in ({"integer", "string"}, {"number", "string"})


def _complete(out: dict[str, Any]) -> None:
    """Give every node a type a structural schema accepts (untyped: preserve unknown fields)."""
    declared = out.get("type")
    if out.get("x-kubernetes-int-or-string") is True:
        out.pop("type", None)
        return
    if not isinstance(declared, str) or not declared:
        out.pop("type", None)
        out["x-kubernetes-preserve-unknown-fields"] = True
        return
    if declared == "object" and "properties" not in out and "additionalProperties" not in out:
        out["x-kubernetes-preserve-unknown-fields"] = True
    if declared != "array":
        for key in ("x-kubernetes-list-type", "x-kubernetes-list-map-keys"):
            out.pop(key, None)
    if declared != "object":
        out.pop("x-kubernetes-map-type", None)


def _fix_list_type(
    out: dict[str, Any], raw: Mapping[str, Any], converter: _Converter, path: tuple[str, ...]
) -> None:
    """Make list-set and list-map annotations satisfy the structural rules (else: atomic)."""
    list_type = out.get("x-kubernetes-list-type")
    items = out.get("items")
    if list_type is None or not isinstance(items, dict):
        return
    if list_type == "set":
        if items.get("type") in ("object", "array") or items.get("nullable") is True:
            out["x-kubernetes-list-type"] = "atomic"
        return
    if list_type != "map":
        return
    keys = out.get("x-kubernetes-list-map-keys")
    props = items.get("properties")
    if not isinstance(keys, list) or not keys or not isinstance(props, dict):
        _atomic(out)
        return
    items.pop("nullable", None)
    required = set(items.get("required", []))
    raw_items = raw.get("items")
    for key in keys:
        prop = props.get(key)
        if not isinstance(prop, dict) or prop.get("type") in ("object", "array", None):
            _atomic(out)
            return
        prop.pop("nullable", None)
        if key in required:
            continue
        default = converter.key_default(raw_items, key) if isinstance(raw_items, Mapping) else None
        if default is None:
            _atomic(out)
            return
        prop["default"] = default


def _atomic(out: dict[str, Any]) -> None:
    out["x-kubernetes-list-type"] = "atomic"
    out.pop("x-kubernetes-list-map-keys", None)


def _copy_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    return {str(k): _deep_copy(v) for k, v in schema.items()}


def _deep_copy(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {str(k): _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value
