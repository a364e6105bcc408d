#!/usr/bin/env python3
"""Regenerate ``kcp_edge/registry/data/openapi/``: the OpenAPI v3 documents of the built-in kinds.

Why this exists: the bundled documents give every built-in kind its schema (validation,
strategic-merge keys, ``kubectl explain``) and its ``/openapi/v3/<group-version>`` document
(kubectl's ``--validate=strict`` looks for the PATCH operation's ``fieldValidation`` parameter).
They are committed data; this script records exactly how they were made, from the Kubernetes 1.35
fixtures in ``../shared/fixtures/kubernetes-openapi/`` (the published API schema data of the
Kubernetes project, Apache-2.0):

1. The eight stripped v3 documents (``stripped/*_openapi.json``: core/v1, apps/v1, batch/v1,
   networking.k8s.io/v1, rbac.authorization.k8s.io/v1, coordination.k8s.io/v1,
   apiextensions.k8s.io/v1 and the ``/apis`` document) are copied minified:
   ``api__v1_openapi.json`` becomes ``api__v1.json`` (served as ``/openapi/v3/api/v1``).
2. Group-versions kcp-edge serves that have no v3 file there (events.k8s.io/v1,
   certificates.k8s.io/v1, admissionregistration.k8s.io/v1, authorization.k8s.io/v1,
   authentication.k8s.io/v1) are converted from ``swagger.json`` (OpenAPI v2) into the layout the
   apiserver's v3 builder (``k8s.io/kube-openapi/pkg/builder3``) produces:

   * paths: every ``/apis/<group>/<version>/...`` path with its operations; parameters inlined
     (v2 ``#/parameters/...`` references resolved), each parameter's type moved under
     ``schema``; the v2 ``body`` parameter becomes ``requestBody`` with one entry per
     ``consumes`` media type (the PATCH operations list json-patch, merge-patch,
     strategic-merge-patch and both apply-patch types, and keep ``fieldValidation``); each
     response with a schema gets one ``content`` entry per ``produces`` media type;
     ``x-kubernetes-action`` and ``x-kubernetes-group-version-kind`` are kept;
   * ``components.schemas``: only the schemas reachable from those paths. A schema that one of
     the real v3 documents of step 1 also holds is taken from there unchanged. The others are
     converted: ``#/definitions/`` references become ``#/components/schemas/``; a reference
     that carries a description or a default is wrapped in ``allOf`` (as builder3 does), and
     defaults are added where openapi-gen adds them: ``{}`` for list items, map values and
     value (non-pointer) struct fields, the zero value for list items and map values of
     strings and integers and for required (non-omitempty) scalar fields. Which struct fields
     are values and which required fields are pointers is not visible in v2; ``metadata``,
     and ``spec``/``status`` of kinds, are values, and the few other cases are listed in
     ``VALUE_STRUCT_FIELDS`` and ``POINTER_REQUIRED_FIELDS`` (read from the Go types in
     ``k8s.io/api``);
   * every string ``description`` is removed, as in ``stripped/``.

   The converter checks itself before writing: converting the seven group-versions that do have
   a real v3 document must reproduce their ``paths`` exactly (it does, byte for byte after
   key sorting), and it prints how many of their schemas the schema rules reproduce.

Usage (from the repository root): ``python build/openapi_bundle.py [--fixtures DIR] [--check]``.
``--check`` writes nothing and fails if the committed files differ from what would be written.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import orjson

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_FIXTURES = ROOT.parent / "shared" / "fixtures" / "kubernetes-openapi"
OUT = ROOT / "kcp_edge" / "registry" / "data" / "openapi"

# Group-versions served by kcp-edge with no v3 document among the fixtures: converted from v2.
CONVERTED = (
    "events.k8s.io/v1",
    "certificates.k8s.io/v1",
    "admissionregistration.k8s.io/v1",
    "authorization.k8s.io/v1",
    "authentication.k8s.io/v1",
)

# Struct-typed fields declared by value in Go (so openapi-gen gives them ``default: {}``) that
# are neither required nor ``metadata``/``spec``/``status``: k8s.io/api events/v1/types.go and
# authentication/v1/types.go.
VALUE_STRUCT_FIELDS = frozenset(
    {
        ("io.k8s.api.events.v1.Event", "regarding"),
        ("io.k8s.api.events.v1.Event", "deprecatedSource"),
        ("io.k8s.api.authentication.v1.TokenReviewStatus", "user"),
        ("io.k8s.api.authentication.v1.SelfSubjectReviewStatus", "userInfo"),
    }
)
# Required scalar fields that are pointers in Go (so no zero default):
# k8s.io/api admissionregistration/v1/types.go ``SideEffects *SideEffectClass``.
POINTER_REQUIRED_FIELDS = frozenset(
    {
        ("io.k8s.api.admissionregistration.v1.MutatingWebhook", "sideEffects"),
        ("io.k8s.api.admissionregistration.v1.ValidatingWebhook", "sideEffects"),
    }
)

# Schemas whose v3 form openapi-gen writes by hand (``oneOf``), not derivable from v2.
HAND_WRITTEN = frozenset(
    {
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
        "io.k8s.apimachinery.pkg.api.resource.Quantity",
    }
)

V2_REF = "#/definitions/"
V3_REF = "#/components/schemas/"
Json = dict[str, Any]


def strip_descriptions(value: Any) -> Any:
    """Drop every string-valued ``description`` (properties *named* description are objects)."""
    if isinstance(value, dict):
        return {
            k: strip_descriptions(v)
            for k, v in value.items()
            if not (k == "description" and isinstance(v, str))
        }
    if isinstance(value, list):
        return [strip_descriptions(v) for v in value]
    return value


def is_ref(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("$ref"), str)


def v3_ref(ref: str) -> str:
    if not ref.startswith(V2_REF):
        raise ValueError(f"unexpected reference {ref!r}")
    return V3_REF + ref[len(V2_REF) :]


class Converter:
    """OpenAPI v2 (swagger.json) to the v3 layout of one group-version."""

    def __init__(self, swagger: Json, known_v3_schemas: Mapping[str, Any]) -> None:
        self.swagger = swagger
        self.definitions: Json = swagger["definitions"]
        self.parameters: Json = swagger["parameters"]
        self.known = known_v3_schemas

    # -- paths --------------------------------------------------------------------------------

    def paths(self, prefix: str) -> Json:
        out: Json = {}
        for path, item in self.swagger["paths"].items():
            if path != prefix + "/" and not path.startswith(prefix + "/"):
                continue
            converted: Json = {}
            for method, operation in item.items():
                if method == "parameters":
                    converted["parameters"] = [self.parameter(p) for p in operation]
                else:
                    converted[method] = self.operation(operation)
            out[path] = converted
        return out

    def resolve_parameter(self, param: Json) -> Json:
        if "$ref" in param:
            resolved: Json = self.parameters[param["$ref"].rsplit("/", 1)[1]]
            return resolved
        return param

    def parameter(self, param: Json) -> Json:
        p = self.resolve_parameter(param)
        out: Json = {"in": p["in"], "name": p["name"]}
        if p.get("required"):
            out["required"] = True
        out["schema"] = {
            k: v for k, v in p.items() if k not in ("in", "name", "required", "description")
        }
        return out

    def operation(self, op: Json) -> Json:
        out: Json = {}
        params: list[Json] = []
        body: Json | None = None
        for param in op.get("parameters", []):
            if self.resolve_parameter(param)["in"] == "body":
                body = self.resolve_parameter(param)
            else:
                params.append(self.parameter(param))
        skip = ("consumes", "produces", "schemes", "parameters", "responses")
        out.update((k, v) for k, v in op.items() if k not in skip)
        if params:
            out["parameters"] = params
        if body is not None:
            schema = self.schema_ref(body["schema"])
            request: Json = {"content": {mt: {"schema": schema} for mt in op.get("consumes", [])}}
            if body.get("required"):
                request["required"] = True
            out["requestBody"] = request
        responses: Json = {}
        for code, response in op["responses"].items():
            converted = {k: v for k, v in response.items() if k not in ("schema", "description")}
            if "schema" in response:
                schema = self.schema_ref(response["schema"])
                converted["content"] = {mt: {"schema": schema} for mt in op.get("produces", [])}
            responses[code] = converted
        out["responses"] = responses
        return out

    def schema_ref(self, schema: Json) -> Json:
        """A schema used by an operation: references renamed, nothing else changes."""
        if is_ref(schema):
            return {"$ref": v3_ref(schema["$ref"])}
        return {k: (self.schema_ref(v) if isinstance(v, dict) else v) for k, v in schema.items()}

    # -- schemas ------------------------------------------------------------------------------

    def component(self, name: str) -> Json:
        if name in self.known:
            known: Json = self.known[name]
            return known
        converted: Json = strip_descriptions(self.schema(name, self.definitions[name]))
        return converted

    def is_struct(self, ref: str) -> bool:
        return "properties" in self.definitions[ref.rsplit("/", 1)[1]]

    def schema(self, name: str, schema: Json) -> Json:
        out: Json = {}
        for key, value in schema.items():
            if key == "properties":
                required = set(schema.get("required", ()))
                out[key] = {
                    prop: self.property(name, prop, sub, prop in required, schema)
                    for prop, sub in value.items()
                }
            elif key in ("items", "additionalProperties") and isinstance(value, dict):
                out[key] = self.element(name, value)
            else:
                out[key] = value
        return out

    def reference(self, ref_schema: Json, *, value_struct: bool) -> Json:
        """A ``$ref`` use: wrapped in ``allOf`` when it carries siblings (builder3's layout)."""
        ref = ref_schema["$ref"]
        siblings = {k: v for k, v in ref_schema.items() if k != "$ref"}
        if value_struct and self.is_struct(ref):
            siblings["default"] = {}
        if not siblings:
            return {"$ref": v3_ref(ref)}
        return {"allOf": [{"$ref": v3_ref(ref)}], **siblings}

    def element(self, name: str, schema: Json) -> Json:
        """List items and map values: never nil in Go, so openapi-gen gives them a default."""
        if is_ref(schema):
            return self.reference(schema, value_struct=True)
        out = self.schema(name, schema)
        zero = zero_value(schema)
        if zero is not None and "default" not in out:
            out["default"] = zero
        return out

    def property(self, name: str, prop: str, schema: Json, required: bool, parent: Json) -> Json:
        if is_ref(schema):
            is_kind = "x-kubernetes-group-version-kind" in parent
            value_struct = (
                required
                or prop == "metadata"
                or (is_kind and prop in ("spec", "status"))
                or (name, prop) in VALUE_STRUCT_FIELDS
            )
            return self.reference(schema, value_struct=value_struct)
        out = self.schema(name, schema)
        if required and (name, prop) not in POINTER_REQUIRED_FIELDS:
            zero = zero_value(schema)
            if zero is not None:
                out["default"] = zero
        return out

    # -- documents ----------------------------------------------------------------------------

    def reachable(self, start: Any) -> list[str]:
        """Names of the definitions reachable from ``start`` (v2 or v3 references)."""
        seen: set[str] = set()
        stack = [start]
        while stack:
            value = stack.pop()
            if isinstance(value, dict):
                for key, sub in value.items():
                    if key == "$ref" and isinstance(sub, str):
                        target = sub.rsplit("/", 1)[1]
                        if target not in seen:
                            seen.add(target)
                            stack.append(self.definitions[target])
                    else:
                        stack.append(sub)
            elif isinstance(value, list):
                stack.extend(value)
        return sorted(seen)

    def document(self, prefix: str) -> Json:
        paths = strip_descriptions(self.paths(prefix))
        schemas = {name: self.component(name) for name in self.reachable(paths)}
        security = strip_descriptions(self.swagger["securityDefinitions"])
        return {
            "components": {"schemas": schemas, "securitySchemes": security},
            "info": self.swagger["info"],
            "openapi": "3.0.0",
            "paths": paths,
        }


def zero_value(schema: Json) -> Any:
    kind = schema.get("type")
    if kind == "string" and schema.get("format") != "byte":
        return ""
    if kind == "integer":
        return 0
    if kind == "boolean":
        return False
    return None


def out_name(group_version: str) -> str:
    """``events.k8s.io/v1`` -> ``apis__events.k8s.io__v1.json``; ``v1`` -> ``api__v1.json``."""
    if "/" not in group_version:
        return f"api__{group_version}.json"
    group, version = group_version.split("/")
    return f"apis__{group}__{version}.json"


def prefix_of(group_version: str) -> str:
    return f"/apis/{group_version}" if "/" in group_version else f"/api/{group_version}"


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def real_v3_files(fixtures: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted((fixtures / "stripped").glob("*_openapi.json")):
        yield path.name.replace("_openapi.json", ".json"), path


def group_version_of(file_name: str) -> str | None:
    """``apis__apps__v1.json`` -> ``apps/v1``; ``api__v1.json`` -> ``v1``; ``apis.json`` -> None."""
    parts = file_name.removesuffix(".json").split("__")
    if parts[0] == "api" and len(parts) == 2:
        return parts[1]
    if parts[0] == "apis" and len(parts) == 3:
        return f"{parts[1]}/{parts[2]}"
    return None


def build(fixtures: Path) -> dict[str, bytes]:
    """File name -> bytes of every bundled document."""
    outputs: dict[str, bytes] = {}
    real: dict[str, Json] = {}
    for name, path in real_v3_files(fixtures):
        document = orjson.loads(path.read_bytes())
        outputs[name] = orjson.dumps(document)
        if dumps(document) != outputs[name]:
            raise SystemExit(f"{path}: keys are not sorted; the bundle expects upstream's order")
        real[name] = document

    known: dict[str, Any] = {}
    for document in real.values():
        for schema_name, schema in document.get("components", {}).get("schemas", {}).items():
            if known.setdefault(schema_name, schema) != schema:
                raise SystemExit(f"schema {schema_name} differs between the v3 documents")

    swagger = orjson.loads((fixtures / "swagger.json").read_bytes())
    self_check(swagger, real)
    converter = Converter(swagger, known)
    for group_version in CONVERTED:
        outputs[out_name(group_version)] = dumps(converter.document(prefix_of(group_version)))
    return outputs


def self_check(swagger: Json, real: Mapping[str, Json]) -> None:
    """Convert the group-versions that have a real v3 document and compare with it."""
    bare = Converter(swagger, {})
    same = total = 0
    for name, document in sorted(real.items()):
        group_version = group_version_of(name)
        if group_version is None:
            continue
        paths = dumps(strip_descriptions(bare.paths(prefix_of(group_version))))
        if paths != dumps(document["paths"]):
            raise SystemExit(f"self-check: converted paths of {group_version} differ from {name}")
        if bare.reachable(document["paths"]) != sorted(document["components"]["schemas"]):
            raise SystemExit(f"self-check: reachable schemas of {group_version} differ")
        for schema_name, schema in document["components"]["schemas"].items():
            total += 1
            definition = swagger["definitions"][schema_name]
            converted = strip_descriptions(bare.schema(schema_name, definition))
            same += dumps(converted) == dumps(schema)
            if schema_name not in HAND_WRITTEN and dumps(without_defaults(converted)) != dumps(
                without_defaults(schema)
            ):
                raise SystemExit(f"self-check: {schema_name} differs beyond defaults")
    print(
        f"self-check: paths of {len(real) - 1} real v3 documents reproduced exactly; the schema "
        f"rules reproduce {same} of {total} of their schemas, the others differ only in "
        "defaults (+default markers, Go pointer types) or are the hand-written int-or-string "
        "and quantity schemas; those are copied from the real documents"
    )


def without_defaults(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: without_defaults(v) for k, v in value.items() if k != "default"}
    if isinstance(value, list):
        return [without_defaults(v) for v in value]
    return value


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", type=Path, default=DEFAULT_FIXTURES)
    parser.add_argument("--check", action="store_true", help="compare, write nothing")
    args = parser.parse_args(argv)

    outputs = build(args.fixtures)
    stale = []
    for name, data in sorted(outputs.items()):
        target = OUT / name
        digest = hashlib.sha512(data).hexdigest().upper()[:16]
        current = target.read_bytes() if target.exists() else None
        if current != data:
            stale.append(name)
            if not args.check:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        print(f"{name:48} {len(data):>9,} bytes  sha512 {digest}...")
    extra = sorted(p.name for p in OUT.glob("*.json") if p.name not in outputs)
    if extra:
        print(f"not produced by this script: {', '.join(extra)}", file=sys.stderr)
    if args.check and (stale or extra):
        print(f"out of date: {', '.join(stale + extra)}", file=sys.stderr)
        return 1
    print("up to date" if not stale else f"wrote {len(stale)} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
