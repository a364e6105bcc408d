"""The ``/openapi/v3/apis/<group>/<version>`` document of a CRD group-version.

Why this module exists: ``kubectl explain`` reads a kind's schema from ``components.schemas``
(found through the ``x-kubernetes-group-version-kind`` of a path's operations), and
``kubectl create/apply`` looks for a PATCH operation with a ``fieldValidation`` parameter to
leave validation to the server and for ``application/strategic-merge-patch+json`` to decide
how ``kubectl apply`` patches (kubernetes-wire.md sections 3 and 8.4). Built-in kinds have
bundled documents; a custom resource's document is built from its CRD, here, the way
``apiextensions-apiserver/pkg/controller/openapi/builder`` (``BuildOpenAPIV3``) does it:

* the kind's schema is the version's ``openAPIV3Schema`` with ``x-kubernetes-int-or-string``
  unfolded into ``anyOf`` (``Structural.Unfold``), ``apiVersion``/``kind`` from TypeMeta and
  ``metadata`` a ``$ref`` to ObjectMeta (also inside ``x-kubernetes-embedded-resource``
  nodes), tagged with its group-version-kind and its ``x-kubernetes-selectable-fields``;
  component names reverse the group (``com.example.v1.Widget``);
* the list kind: ``items`` of the kind, ``metadata`` a ListMeta;
* routes as the builder registers them: list (and list across namespaces), create,
  deletecollection, get, replace, delete, patch, and get/replace/patch of ``/status`` and
  ``/scale`` when the version has them. No watch routes, and PATCH accepts JSON patch, merge
  patch and apply patch only (custom resources have no strategic merge patch). Parameters,
  operation ids and tags follow ``kube-openapi``'s builder3 and the apiserver's
  ``GetOperationIDAndTags``: parameters shared by every operation of a path move to the path.

The machinery descriptions are left out, as in the bundled documents (``data/README.md``); the
CRD's own descriptions are kept, they are what ``kubectl explain`` prints. The meta types a
document references (ObjectMeta, ListMeta, Status, Patch, DeleteOptions, Scale and what they
reach) are copied from the bundled documents, so each document is self-contained.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

from kcp_edge.apimachinery.openapi import reachable_schemas
from kcp_edge.registry.openapi_data import component_schemas

REF = "#/components/schemas/"
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
OBJECT_META = META + "ObjectMeta"
LIST_META = META + "ListMeta"
STATUS = META + "Status"
PATCH = META + "Patch"
DELETE_OPTIONS = META + "DeleteOptions"
SCALE = "io.k8s.api.autoscaling.v1.Scale"

TITLE = "Kubernetes CRD Swagger"
INFO_VERSION = "v0.1.0"

JSON = "application/json"
YAML = "application/yaml"
PATCH_TYPES = (
    "application/json-patch+json",
    "application/merge-patch+json",
    "application/apply-patch+yaml",
)

# The query parameters ``endpoints.AddObjectParams`` derives from each options type.
_LIST_OPTIONS = (
    ("allowWatchBookmarks", "boolean"),
    ("continue", "string"),
    ("fieldSelector", "string"),
    ("labelSelector", "string"),
    ("limit", "integer"),
    ("resourceVersion", "string"),
    ("resourceVersionMatch", "string"),
    ("sendInitialEvents", "boolean"),
    ("timeoutSeconds", "integer"),
    ("watch", "boolean"),
)
_GET_OPTIONS = (("resourceVersion", "string"),)
_WRITE_OPTIONS = (("dryRun", "string"), ("fieldManager", "string"), ("fieldValidation", "string"))
_PATCH_OPTIONS = (*_WRITE_OPTIONS, ("force", "boolean"))
_DELETE_OPTIONS = (
    ("dryRun", "string"),
    ("gracePeriodSeconds", "integer"),
    ("ignoreStoreReadErrorWithClusterBreakingPotential", "boolean"),
    ("orphanDependents", "boolean"),
    ("propagationPolicy", "string"),
)


class CRDVersion(Protocol):
    """What a document needs of a served CRD version (``crds.ServedVersion`` fits)."""

    @property
    def group(self) -> str: ...
    @property
    def version(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def list_kind(self) -> str: ...
    @property
    def plural(self) -> str: ...
    @property
    def namespaced(self) -> bool: ...
    @property
    def schema(self) -> Mapping[str, Any] | None: ...
    @property
    def status_subresource(self) -> bool: ...
    @property
    def scale(self) -> object | None: ...
    @property
    def selectable_fields(self) -> Sequence[str]: ...


# --- names ----------------------------------------------------------------------------------


def component_name(group: str, version: str, kind: str) -> str:
    """``util.ToRESTFriendlyName("example.com/v1.Widget")``: ``com.example.v1.Widget``."""
    return ".".join([*reversed(group.split(".")), version, kind])


def valid_operation_id(text: str, *, capitalize_first: bool) -> str:
    """``ToValidOperationID``: drop what is not a letter, ``_`` or a non-leading digit, and
    capitalise the letter after each dropped character (and the first, when asked)."""
    out: list[str] = []
    capitalize = capitalize_first
    for i, ch in enumerate(text):
        if ch.isalpha() or ch == "_" or (i != 0 and ch.isdigit()):
            out.append(ch.upper() if capitalize else ch)
            capitalize = False
        else:
            capitalize = True
    return "".join(out)


_VERB_PREFIXES = ("deletecollection", "replace", "create", "delete", "patch", "read", "list")


def operation_id_and_tag(route_operation: str, group: str, version: str) -> tuple[str, str]:
    """``GetOperationIDAndTags`` for a route of ``/apis/<group>/<version>``.

    The verb prefix is the shortest known verb the operation starts with, so
    ``deletecollectionNamespacedWidget`` reads as ``delete`` + ``CollectionNamespacedWidget``,
    the same shape as the built-ins' ``deleteCoordinationV1CollectionNamespacedLease``.
    """
    verb = min((v for v in _VERB_PREFIXES if route_operation.startswith(v)), key=len)
    rest = route_operation[len(verb) :]
    trimmed = group.removesuffix(".k8s.io")
    prefix = (
        verb
        + valid_operation_id(trimmed, capitalize_first=True)
        + valid_operation_id(version, capitalize_first=True)
    )
    tag = (
        valid_operation_id(trimmed, capitalize_first=False)
        + "_"
        + valid_operation_id(version, capitalize_first=False)
    )
    return prefix + valid_operation_id(rest, capitalize_first=True), tag


# --- schemas --------------------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def _gvk(group: str, version: str, kind: str) -> dict[str, str]:
    return {"group": group, "kind": kind, "version": version}


def _is_int_or_string_pair(branches: object) -> bool:
    """``anyOf: [{type: integer}, {type: string}]`` (in either order), and nothing else."""
    if not isinstance(branches, list) or len(branches) != 2:
        return False
    types = set()
    for branch in branches:
        if not isinstance(branch, Mapping) or set(branch) != {"type"}:
            return False
        types.add(branch["type"])
    return types == {"integer", "string"}


def _unfold_int_or_string(node: dict[str, Any]) -> None:
    """``Structural.Unfold``: make ``x-kubernetes-int-or-string`` explicit as an ``anyOf``."""
    if node.get("x-kubernetes-int-or-string") is not True:
        return
    if _is_int_or_string_pair(node.get("anyOf")):
        return
    all_of = node.get("allOf")
    first = all_of[0] if isinstance(all_of, list) and all_of else None
    nested = first.get("anyOf") if isinstance(first, Mapping) and set(first) == {"anyOf"} else None
    if _is_int_or_string_pair(nested):
        return
    pair: list[dict[str, Any]] = [{"type": "integer"}, {"type": "string"}]
    if "anyOf" not in node:
        node["anyOf"] = pair
    else:
        node["allOf"] = [{"anyOf": pair}, *(all_of if isinstance(all_of, list) else [])]


def _children(node: Mapping[str, Any]) -> Iterable[dict[str, Any]]:
    properties = node.get("properties")
    if isinstance(properties, Mapping):
        yield from (child for child in properties.values() if isinstance(child, dict))
    for key in ("items", "additionalProperties"):
        child = node.get(key)
        if isinstance(child, dict):
            yield child


def _add_type_meta(node: dict[str, Any]) -> dict[str, Any]:
    properties: dict[str, Any] = node.setdefault("properties", {})
    properties["apiVersion"] = {"type": "string"}
    properties["kind"] = {"type": "string"}
    return properties


def _prepare(node: dict[str, Any]) -> None:
    """Unfold int-or-string and give embedded resources their TypeMeta and ObjectMeta, below
    and at ``node`` (``addEmbeddedProperties``)."""
    _unfold_int_or_string(node)
    for child in _children(node):
        _prepare(child)
    if node.get("x-kubernetes-embedded-resource") is True:
        properties = _add_type_meta(node)
        properties["metadata"] = _ref(OBJECT_META)
        required = node.setdefault("required", [])
        for name in ("kind", "apiVersion"):
            if name not in required:
                required.append(name)


def _selectable(fields: Sequence[str]) -> list[dict[str, str]]:
    return [{"fieldPath": path.removeprefix(".")} for path in fields]


def kind_schema(served: CRDVersion) -> dict[str, Any]:
    """``buildKubeNative``: the kind's component schema."""
    if served.schema is None:
        schema: dict[str, Any] = {"type": "object"}
    else:
        schema = copy.deepcopy(dict(served.schema))
        _prepare(schema)
        _add_type_meta(schema)["metadata"] = _ref(OBJECT_META)
    schema["x-kubernetes-group-version-kind"] = [_gvk(served.group, served.version, served.kind)]
    if served.selectable_fields:
        schema["x-kubernetes-selectable-fields"] = _selectable(served.selectable_fields)
    return schema


def list_schema(served: CRDVersion) -> dict[str, Any]:
    """``buildListSchema``: the list kind's component schema."""
    item = component_name(served.group, served.version, served.kind)
    schema: dict[str, Any] = {
        "type": "object",
        "description": f"{served.list_kind} is a list of {served.kind}",
        "required": ["items"],
        "properties": {
            "apiVersion": {"type": "string"},
            "items": {
                "type": "array",
                "description": f"List of {served.plural}. More info: "
                "https://git.k8s.io/community/contributors/devel/sig-architecture/"
                "api-conventions.md",
                "items": _ref(item),
            },
            "kind": {"type": "string"},
            "metadata": _ref(LIST_META),
        },
        "x-kubernetes-group-version-kind": [_gvk(served.group, served.version, served.list_kind)],
    }
    if served.selectable_fields:
        schema["x-kubernetes-selectable-fields"] = _selectable(served.selectable_fields)
    return schema


# --- routes ---------------------------------------------------------------------------------


def _param(name: str, kind: str, where: str = "query") -> dict[str, Any]:
    param: dict[str, Any] = {
        "in": where,
        "name": name,
        "schema": {"type": kind, "uniqueItems": True},
    }
    if where == "path":
        param["required"] = True
    return param


def _content(media_types: Iterable[str], schema: str) -> dict[str, Any]:
    return {media: {"schema": _ref(schema)} for media in media_types}


def _response(description: str, schema: str) -> dict[str, Any]:
    return {"description": description, "content": _content((JSON, YAML), schema)}


class _Route:
    """One operation of a path, as the builder's ``buildRoute`` describes it."""

    def __init__(
        self,
        *,
        method: str,
        action: str,
        operation: str,
        params: Sequence[dict[str, Any]],
        responds: str,
        reads: str = "",
        reads_required: bool = True,
    ) -> None:
        self.method = method
        self.action = action
        self.operation = operation
        self.params = list(params)
        self.responds = responds
        self.reads = reads
        self.reads_required = reads_required


_OPTIONS_BY_ACTION = {
    "get": _GET_OPTIONS,
    "list": _LIST_OPTIONS,
    "deletecollection": _LIST_OPTIONS,
    "put": _WRITE_OPTIONS,
    "post": _WRITE_OPTIONS,
    "patch": _PATCH_OPTIONS,
    "delete": _DELETE_OPTIONS,
}
_EXTRA_RESPONSES = {
    "post": (("201", "Created"), ("202", "Accepted")),
    "put": (("201", "Created"),),
    "delete": (("202", "Accepted"),),
}


def _param_order(param: Mapping[str, Any]) -> tuple[bool, str, str]:
    return (not param.get("required", False), str(param["in"]), str(param["name"]))


def _operation(
    route: _Route, served: CRDVersion, extra_params: Sequence[dict[str, Any]]
) -> dict[str, Any]:
    operation_id, tag = operation_id_and_tag(route.operation, served.group, served.version)
    responses: dict[str, Any] = {"200": _response("OK", route.responds)}
    for code, description in _EXTRA_RESPONSES.get(route.action, ()):
        responses[code] = _response(description, route.responds)
    responses["401"] = {"description": "Unauthorized"}
    op: dict[str, Any] = {
        "operationId": operation_id,
        "tags": [tag],
        "responses": responses,
        "x-kubernetes-action": route.action,
        "x-kubernetes-group-version-kind": _gvk(served.group, served.version, served.kind),
    }
    if extra_params:
        op["parameters"] = sorted(extra_params, key=_param_order)
    if route.reads:
        media = PATCH_TYPES if route.method == "patch" else (JSON, YAML)
        body: dict[str, Any] = {"content": _content(media, route.reads)}
        if route.reads_required:
            body["required"] = True
        op["requestBody"] = body
    return op


def _path_item(routes: Sequence[_Route], served: CRDVersion) -> dict[str, Any]:
    """Operations of one path; parameters every operation has move to the path."""
    keyed = [{(p["in"], p["name"]): p for p in route.params} for route in routes]
    shared = set(keyed[0]).intersection(*keyed[1:])
    item: dict[str, Any] = {
        "parameters": sorted((keyed[0][key] for key in shared), key=_param_order),
    }
    for route, params in zip(routes, keyed, strict=True):
        extra = [param for key, param in params.items() if key not in shared]
        item[route.method] = _operation(route, served, extra)
    return item


def _route(
    method: str,
    action: str,
    verb: str,
    served: CRDVersion,
    *,
    path_params: Sequence[dict[str, Any]],
    responds: str,
    subresource: str = "",
    reads: str = "",
    reads_required: bool = True,
    operation: str = "",
) -> _Route:
    scope = "Namespaced" if served.namespaced else ""
    name = operation or verb + scope + served.kind + subresource.title()
    params = [*path_params, _param("pretty", "string")]
    params += [_param(n, t) for n, t in _OPTIONS_BY_ACTION[action]]
    return _Route(
        method=method,
        action=action,
        operation=name,
        params=params,
        responds=responds,
        reads=reads,
        reads_required=reads_required,
    )


def paths_for(served: CRDVersion) -> dict[str, Any]:
    """Every path (and its operations) the builder registers for one CRD version."""
    kind = component_name(served.group, served.version, served.kind)
    kind_list = component_name(served.group, served.version, served.list_kind)
    prefix = f"/apis/{served.group}/{served.version}"
    paths: dict[str, Any] = {}
    scope_params: list[dict[str, Any]] = []
    root = f"{prefix}/{served.plural}"
    if served.namespaced:
        every = _route(
            "get",
            "list",
            "list",
            served,
            path_params=(),
            responds=kind_list,
            operation=f"list{served.kind}ForAllNamespaces",
        )
        paths[root] = _path_item([every], served)
        root = f"{prefix}/namespaces/{{namespace}}/{served.plural}"
        scope_params = [_param("namespace", "string", "path")]
    item_params = [_param("name", "string", "path"), *scope_params]

    def route(method: str, action: str, verb: str, **kw: Any) -> _Route:
        return _route(method, action, verb, served, **kw)

    paths[root] = _path_item(
        [
            route("get", "list", "list", path_params=scope_params, responds=kind_list),
            route("post", "post", "create", path_params=scope_params, responds=kind, reads=kind),
            route(
                "delete",
                "deletecollection",
                "deletecollection",
                path_params=scope_params,
                responds=STATUS,
            ),
        ],
        served,
    )
    paths[root + "/{name}"] = _path_item(
        [
            route("get", "get", "read", path_params=item_params, responds=kind),
            route("put", "put", "replace", path_params=item_params, responds=kind, reads=kind),
            route(
                "delete",
                "delete",
                "delete",
                path_params=item_params,
                responds=STATUS,
                reads=DELETE_OPTIONS,
                reads_required=False,
            ),
            route("patch", "patch", "patch", path_params=item_params, responds=kind, reads=PATCH),
        ],
        served,
    )
    subresources = [("status", kind)] if served.status_subresource else []
    if served.scale is not None:
        subresources.append(("scale", SCALE))
    for sub, schema in subresources:
        paths[f"{root}/{{name}}/{sub}"] = _path_item(
            [
                route(
                    "get", "get", "read", path_params=item_params, responds=schema, subresource=sub
                ),
                route(
                    "put",
                    "put",
                    "replace",
                    path_params=item_params,
                    responds=schema,
                    reads=schema,
                    subresource=sub,
                ),
                route(
                    "patch",
                    "patch",
                    "patch",
                    path_params=item_params,
                    responds=schema,
                    reads=PATCH,
                    subresource=sub,
                ),
            ],
            served,
        )
    return paths


# --- the document ---------------------------------------------------------------------------


def _meta_components(scale: bool) -> dict[str, Any]:
    pool = dict(component_schemas(group="apiextensions.k8s.io", version="v1"))
    if scale:
        pool.update(component_schemas(group="apps", version="v1"))
    return pool


def build_document(versions: Sequence[CRDVersion]) -> dict[str, Any]:
    """The OpenAPI v3 document of the served CRD versions of one group-version (merged, as
    the apiserver merges the documents of the CRDs sharing a group-version)."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for served in versions:
        paths.update(paths_for(served))
        schemas[component_name(served.group, served.version, served.kind)] = kind_schema(served)
        schemas[component_name(served.group, served.version, served.list_kind)] = list_schema(
            served
        )
    pool = _meta_components(any(served.scale is not None for served in versions))
    for name in sorted(reachable_schemas(value=[paths, schemas], schemas=pool)):
        schemas.setdefault(name, pool[name])
    return {
        "openapi": "3.0.0",
        "info": {"title": TITLE, "version": INFO_VERSION},
        "paths": paths,
        "components": {"schemas": schemas},
    }
