"""CustomResourceDefinitions: defaults, validation, naming status, served kinds, OpenAPI, scale.

Expected messages are upstream's, from ``k8s.io/apiextensions-apiserver``:
``pkg/apis/apiextensions/validation/validation.go`` (CRD validation), ``pkg/apis/apiextensions/
v1/conversion.go`` (identical per-version fields are validated at the top level),
``pkg/apihelpers/helpers.go`` (API approval), ``pkg/controller/status/naming_controller.go``,
``pkg/controller/establish``, ``pkg/controller/apiapproval``, ``pkg/controller/openapi/builder``
and ``pkg/registry/customresource`` (scale, selectable fields).
"""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import orjson
import pytest

from kcp_edge.apimachinery import errors
from kcp_edge.apimachinery.openapi import (
    document_key,
    filter_document,
    make_document,
    path_resource,
    reachable_schemas,
)
from kcp_edge.registry import crdopenapi, crds
from kcp_edge.registry.kinds import ALL_VERBS, ResourceKind

DNS1035 = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or "
    "'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
)
NOW = "2025-01-02T03:04:05Z"
LATER = "2025-01-02T04:00:00Z"

SPEC_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["size"],
    "properties": {
        "size": {"type": "integer", "minimum": 1, "description": "How big."},
        "color": {"type": "string", "enum": ["red", "green", "blue"], "default": "red"},
        "replicas": {"type": "integer"},
        "port": {"x-kubernetes-int-or-string": True},
        "template": {
            "type": "object",
            "x-kubernetes-embedded-resource": True,
            "x-kubernetes-preserve-unknown-fields": True,
        },
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
}
WIDGET_V1_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "A Widget is a thing with a size and a color.",
    "properties": {
        "apiVersion": {"type": "string"},
        "kind": {"type": "string"},
        "metadata": {"type": "object"},
        "spec": SPEC_SCHEMA,
        "status": {
            "type": "object",
            "properties": {
                "replicas": {"type": "integer"},
                "selector": {"type": "string"},
                "phase": {"type": "string"},
            },
        },
    },
}
WIDGET_V1BETA1_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "spec": {"type": "object", "properties": {"size": {"type": "integer"}}},
        "status": {"type": "object", "x-kubernetes-preserve-unknown-fields": True},
    },
}
SCALE = {
    "specReplicasPath": ".spec.replicas",
    "statusReplicasPath": ".status.replicas",
    "labelSelectorPath": ".status.selector",
}
COLUMNS = [
    {"name": "Size", "type": "integer", "jsonPath": ".spec.size"},
    {"name": "Color", "type": "string", "jsonPath": ".spec.color", "priority": 1},
    {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
]


def widget_crd() -> dict[str, Any]:
    """Two versions: v1 (served, storage, status + scale, columns, selectable fields) and
    v1beta1 (served, deprecated, its own smaller schema)."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "widgets.example.com", "uid": "0b7f5c1e-0000-4000-8000-000000000001"},
        "spec": {
            "group": "example.com",
            "scope": "Namespaced",
            "names": {
                "plural": "widgets",
                "singular": "widget",
                "kind": "Widget",
                "listKind": "WidgetList",
                "shortNames": ["wd"],
                "categories": ["all", "toys"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": copy.deepcopy(WIDGET_V1_SCHEMA)},
                    "subresources": {"status": {}, "scale": dict(SCALE)},
                    "additionalPrinterColumns": copy.deepcopy(COLUMNS),
                    "selectableFields": [{"jsonPath": ".spec.color"}],
                },
                {
                    "name": "v1beta1",
                    "served": True,
                    "storage": False,
                    "deprecated": True,
                    "schema": {"openAPIV3Schema": copy.deepcopy(WIDGET_V1BETA1_SCHEMA)},
                },
            ],
            "conversion": {"strategy": "None"},
        },
    }


def gadget_crd(group: str = "example.com") -> dict[str, Any]:
    """A one-version, cluster-scoped CRD: per-version fields are "identical" and hoisted."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"gadgets.{group}"},
        "spec": {
            "group": group,
            "scope": "Cluster",
            "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {"mode": {"type": "string"}},
                                }
                            },
                        }
                    },
                }
            ],
        },
    }


class SchemaChecks:
    """A stand-in for the structural checks: records every call, refuses nothing unless told."""

    def __init__(self, causes: list[crds.Cause] | None = None) -> None:
        self.calls: list[str] = []
        self.causes = causes or []

    def __call__(self, schema: Any, path: str) -> list[crds.Cause]:
        self.calls.append(path)
        return [dict(c, field=path + c["field"]) for c in self.causes]


def validate(crd: dict[str, Any], old: dict[str, Any] | None = None) -> list[str]:
    """The causes as ``field: message`` lines, after defaulting, as the store does."""
    crds.default_crd(crd)
    causes = crds.validate_crd(crd, old=old, check_schema=SchemaChecks())
    return [f"{c['field']}: {c['message']}" for c in causes]


def established(crd: dict[str, Any], others: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    crds.default_crd(crd)
    crd["status"] = crds.accepted_status(crd, others or [], now=NOW)
    return crd


# --- defaults ---------------------------------------------------------------------------------


def test_defaults_fill_singular_list_kind_conversion_and_stored_versions() -> None:
    crd = gadget_crd()
    crds.default_crd(crd)
    assert crd["spec"]["names"] == {
        "plural": "gadgets",
        "singular": "gadget",
        "kind": "Gadget",
        "listKind": "GadgetList",
    }
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    assert crd["status"] == {"storedVersions": ["v1"]}


def test_defaults_keep_what_is_set() -> None:
    crd = gadget_crd()
    crd["spec"]["names"].update(singular="thing", listKind="Gadgets")
    crd["spec"]["conversion"] = {"strategy": "None"}
    crds.default_crd(crd)
    assert crd["spec"]["names"]["singular"] == "thing"
    assert crd["spec"]["names"]["listKind"] == "Gadgets"


def test_defaults_webhook_service_port() -> None:
    crd = gadget_crd()
    crd["spec"]["conversion"] = {
        "strategy": "Webhook",
        "webhook": {"clientConfig": {"service": {"name": "conv", "namespace": "default"}}},
    }
    crds.default_crd(crd)
    assert crd["spec"]["conversion"]["webhook"]["clientConfig"]["service"]["port"] == 443


def test_a_new_storage_version_joins_stored_versions() -> None:
    crd = widget_crd()
    crds.default_crd(crd)
    assert crd["status"]["storedVersions"] == ["v1"]
    crd["spec"]["versions"][0]["storage"] = False
    crd["spec"]["versions"][1]["storage"] = True
    crds.default_crd(crd)
    assert crd["status"]["storedVersions"] == ["v1", "v1beta1"]


def test_prepare_for_create_drops_a_client_status() -> None:
    crd = gadget_crd()
    crd["status"] = {"conditions": [{"type": "Established", "status": "True"}]}
    crds.prepare_for_create(crd)
    assert crd["status"] == {"storedVersions": ["v1"]}


# --- validation: accepted CRDs and where schemas are checked ----------------------------------


def test_a_valid_two_version_crd_passes() -> None:
    assert validate(widget_crd()) == []


def test_different_schemas_are_checked_per_version() -> None:
    crd = widget_crd()
    crds.default_crd(crd)
    checks = SchemaChecks()
    assert crds.validate_crd(crd, old=None, check_schema=checks) == []
    assert checks.calls == [
        "spec.versions[0].schema.openAPIV3Schema",
        "spec.versions[1].schema.openAPIV3Schema",
    ]


def test_identical_schemas_are_checked_once_at_the_top_level() -> None:
    # conversion.go moves identical per-version schemas to spec.validation before validation,
    # so real errors read "spec.validation.openAPIV3Schema..." (e.g. kubernetes#100933,
    # giantswarm/muster#174).
    crd = gadget_crd()
    crds.default_crd(crd)
    checks = SchemaChecks(
        [
            {
                "reason": "FieldValueRequired",
                "message": "Required value: must not be empty for specified object fields",
                "field": ".properties[spec].type",
            }
        ]
    )
    causes = crds.validate_crd(crd, old=None, check_schema=checks)
    assert checks.calls == ["spec.validation.openAPIV3Schema"]
    assert causes == [
        {
            "reason": "FieldValueRequired",
            "message": "Required value: must not be empty for specified object fields",
            "field": "spec.validation.openAPIV3Schema.properties[spec].type",
        }
    ]


def test_the_status_of_a_422_reads_as_upstream() -> None:
    crd = gadget_crd()
    crd["metadata"]["name"] = "gizmos.example.com"
    crds.default_crd(crd)
    causes = crds.validate_crd(crd, old=None, check_schema=SchemaChecks())
    status = errors.invalid(
        "CustomResourceDefinition", "gizmos.example.com", causes, group=crds.GROUP
    )
    assert status.code == 422
    assert status.message == (
        'CustomResourceDefinition.apiextensions.k8s.io "gizmos.example.com" is invalid: '
        'metadata.name: Invalid value: "gizmos.example.com": must be spec.names.plural+"."+'
        "spec.group"
    )
    assert status.details is not None
    assert status.details["causes"] == [
        {
            "reason": "FieldValueInvalid",
            "message": 'Invalid value: "gizmos.example.com": must be '
            'spec.names.plural+"."+spec.group',
            "field": "metadata.name",
        }
    ]


# --- validation: group, scope, versions, names ------------------------------------------------


@pytest.mark.parametrize(
    ("group", "expected"),
    [
        ("", ["spec.group: Required value"]),
        (
            "example",
            ['spec.group: Invalid value: "example": should be a domain with at least one dot'],
        ),
        (
            "Example.com",
            [
                'spec.group: Invalid value: "Example.com": a lowercase RFC 1123 subdomain must '
                "consist of lower case alphanumeric characters, '-' or '.', and must start and "
                "end with an alphanumeric character (e.g. 'example.com', regex used for "
                "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
            ],
        ),
    ],
)
def test_group_rules(group: str, expected: list[str]) -> None:
    crd = gadget_crd()
    crd["spec"]["group"] = group
    crd["metadata"]["name"] = f"gadgets.{group}"
    assert validate(crd) == expected


def test_scope_rules() -> None:
    crd = gadget_crd()
    crd["spec"]["scope"] = ""
    assert validate(crd) == ["spec.scope: Required value"]
    crd["spec"]["scope"] = "Global"
    assert validate(crd) == [
        'spec.scope: Unsupported value: "Global": supported values: "Cluster", "Namespaced"'
    ]


def test_versions_need_exactly_one_storage_version() -> None:
    crd = widget_crd()
    crd["spec"]["versions"][1]["storage"] = True
    assert validate(crd) == [
        'spec.versions: Invalid value: []string{"v1", "v1beta1"}: must have exactly one version '
        "marked as storage version",
        # Only the first storage version is recorded (PrepareForCreate stops at it).
        'status.storedVersions: Invalid value: []string{"v1"}: must have the storage version '
        "v1beta1",
    ]
    crd = gadget_crd()
    crd["spec"]["versions"] = []
    assert (
        "spec.versions: Invalid value: []string(nil): must have exactly one version marked as "
        "storage version" in validate(crd)
    )


def test_version_names_are_unique_dns1035_labels() -> None:
    crd = widget_crd()
    crd["spec"]["versions"][1]["name"] = "v1"
    crd["spec"]["versions"][1]["schema"] = crd["spec"]["versions"][0]["schema"]
    assert (
        'spec.versions: Invalid value: []string{"v1", "v1"}: must contain unique version names'
        in validate(crd)
    )
    crd = gadget_crd()
    crd["spec"]["versions"][0]["name"] = "V1"
    # The internal form repeats the first version's name as spec.version, checked again.
    assert validate(crd) == [
        f'spec.versions[0].name: Invalid value: "V1": {DNS1035}',
        f'spec.version: Invalid value: "V1": {DNS1035}',
    ]


def test_names_are_dns1035_labels() -> None:
    crd = gadget_crd()
    crd["spec"]["names"] = {"plural": "Gadgets", "kind": "gadget_kind", "shortNames": ["g!"]}
    crd["metadata"]["name"] = "Gadgets.example.com"
    mixed = "may have mixed case, but should otherwise match: " + DNS1035
    # The singular defaults to the lower-cased kind, the listKind to <kind>List.
    assert validate(crd) == [
        f'spec.names.plural: Invalid value: "Gadgets": {DNS1035}',
        f'spec.names.singular: Invalid value: "gadget_kind": {DNS1035}',
        f'spec.names.kind: Invalid value: "gadget_kind": {mixed}',
        f'spec.names.listKind: Invalid value: "gadget_kindList": {mixed}',
        f'spec.names.shortNames[0]: Invalid value: "g!": {DNS1035}',
    ]


def test_kind_and_list_kind_may_not_be_the_same() -> None:
    crd = gadget_crd()
    crd["spec"]["names"]["listKind"] = "Gadget"
    assert validate(crd) == [
        'spec.names.listKind: Invalid value: "Gadget": kind and listKind may not be the same'
    ]


def test_missing_names() -> None:
    crd = gadget_crd()
    crd["spec"]["names"] = {"plural": "gadgets"}
    assert validate(crd) == [
        "spec.names.singular: Required value",
        "spec.names.kind: Required value",
        "spec.names.listKind: Required value",
    ]


def test_categories_are_dns1035_labels() -> None:
    crd = gadget_crd()
    crd["spec"]["names"]["categories"] = ["all", "Toys"]
    assert validate(crd)[0].startswith(
        'spec.names.categories[1]: Invalid value: "Toys": a DNS-1035'
    )


# --- validation: schemas, subresources, columns, selectable fields ----------------------------


def test_every_version_needs_a_schema() -> None:
    # metacontroller/metacontroller#717: "spec.versions[0].schema.openAPIV3Schema: Required
    # value: schemas are required".
    crd = gadget_crd()
    del crd["spec"]["versions"][0]["schema"]
    assert validate(crd) == [
        "spec.versions[0].schema.openAPIV3Schema: Required value: schemas are required"
    ]


def test_status_subresource_needs_an_object_root() -> None:
    crd = widget_crd()
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["type"] = "string"
    assert validate(crd) == [
        'spec.versions[0].schema.openAPIV3Schema.type: Invalid value: "string": only "object" is '
        "allowed as the type at the root of the schema if the status subresource is enabled"
    ]


def test_the_root_may_not_be_nullable() -> None:
    crd = gadget_crd()
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["nullable"] = True
    assert validate(crd) == [
        "spec.validation.openAPIV3Schema.nullable: Forbidden: nullable cannot be true at the root"
    ]


def test_scale_paths() -> None:
    crd = widget_crd()
    crd["spec"]["versions"][0]["subresources"]["scale"] = {
        "specReplicasPath": ".status.replicas",
        "statusReplicasPath": "status.replicas",
        "labelSelectorPath": ".metadata.labels",
    }
    base = "spec.versions[0].subresources.scale"
    assert validate(crd) == [
        f'{base}.specReplicasPath: Invalid value: ".status.replicas": should be a json path under '
        ".spec",
        f'{base}.statusReplicasPath: Invalid value: "status.replicas": must be a simple json path '
        "starting with .",
        f'{base}.labelSelectorPath: Invalid value: ".metadata.labels": should be a json path '
        "under either .spec or .status",
    ]
    crd["spec"]["versions"][0]["subresources"]["scale"] = {}
    assert validate(crd) == [
        f"{base}.specReplicasPath: Required value",
        f"{base}.statusReplicasPath: Required value",
    ]


def test_identical_subresources_are_checked_at_the_top_level() -> None:
    crd = gadget_crd()
    crd["spec"]["versions"][0]["subresources"] = {
        "scale": {"specReplicasPath": ".spec", "statusReplicasPath": ".status.n"}
    }
    assert validate(crd) == [
        'spec.subresources.scale.specReplicasPath: Invalid value: ".spec": should be a json path '
        "under .spec"
    ]


def test_printer_columns() -> None:
    crd = widget_crd()
    crd["spec"]["versions"][0]["additionalPrinterColumns"] = [
        {"type": "integer", "jsonPath": ".spec.size"},
        {"name": "Kind", "type": "object", "format": "uuid", "jsonPath": "spec.kind"},
        {"name": "Empty"},
    ]
    base = "spec.versions[0].additionalPrinterColumns"
    assert validate(crd) == [
        f"{base}[0].name: Required value",
        f'{base}[1].type: Invalid value: "object": must be one of '
        "boolean,date,integer,number,string",
        f'{base}[1].format: Invalid value: "uuid": must be one of '
        "byte,date,date-time,double,float,int32,int64,password",
        f'{base}[1].JSONPath: Invalid value: "spec.kind": must be a simple json path starting '
        "with .",
        f"{base}[2].type: Required value: must be one of boolean,date,integer,number,string",
        f"{base}[2].JSONPath: Required value",
    ]


def test_identical_columns_are_checked_at_the_top_level() -> None:
    crd = gadget_crd()
    crd["spec"]["versions"][0]["additionalPrinterColumns"] = [
        {"name": "Mode", "type": "text", "jsonPath": ".spec.mode"}
    ]
    assert validate(crd) == [
        'spec.additionalPrinterColumns[0].type: Invalid value: "text": must be one of '
        "boolean,date,integer,number,string"
    ]


def test_selectable_fields_must_resolve_to_scalars() -> None:
    crd = widget_crd()
    crd["spec"]["versions"][0]["selectableFields"] = [
        {"jsonPath": ".spec.color"},
        {"jsonPath": ".spec.tags"},
        {"jsonPath": ".spec.nope"},
        {"jsonPath": ".metadata.name"},
        {"jsonPath": ".spec.labels.team"},
        {"jsonPath": ".spec.tags[0]"},
        {"jsonPath": "spec.size"},
        {"jsonPath": ".spec.color"},
        {},
    ]
    base = "spec.versions[0].selectableFields"
    assert validate(crd) == [
        f'{base}[1].jsonPath: Invalid value: ".spec.tags": must point to a field of type string, '
        "boolean or integer. Enum string fields and strings with formats are allowed.",
        f'{base}[2].jsonPath: Invalid value: ".spec.nope": is an invalid path: does not refer to '
        "a valid field",
        f'{base}[3].jsonPath: Invalid value: ".metadata.name": is an invalid path: does not refer '
        "to a valid field",
        f'{base}[5].jsonPath: Invalid value: ".spec.tags[0]": is an invalid path: array notation '
        "is not allowed",
        f'{base}[6].jsonPath: Invalid value: "spec.size": is an invalid path: expected [ or . but '
        "got: spec",
        f'{base}[7].jsonPath: Duplicate value: ".spec.color"',
        f"{base}[8].jsonPath: Required value",
    ]


def test_selectable_fields_may_not_point_into_metadata() -> None:
    crd = widget_crd()
    schema = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    schema["properties"]["metadata"] = {
        "type": "object",
        "properties": {"name": {"type": "string"}},
    }
    crd["spec"]["versions"][0]["selectableFields"] = [{"jsonPath": ".metadata.name"}]
    assert validate(crd) == [
        'spec.versions[0].selectableFields[0].jsonPath: Invalid value: ".metadata.name": must not '
        "point to fields in metadata"
    ]


def test_at_most_eight_selectable_fields() -> None:
    crd = widget_crd()
    properties = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"][
        "properties"
    ]
    for i in range(9):
        properties[f"f{i}"] = {"type": "string"}
    crd["spec"]["versions"][0]["selectableFields"] = [{"jsonPath": f".spec.f{i}"} for i in range(9)]
    assert validate(crd) == [
        "spec.versions[0].selectableFields: Too many: 9: must have at most 8 items"
    ]


def test_identical_selectable_fields_are_checked_at_the_top_level() -> None:
    crd = gadget_crd()
    crd["spec"]["versions"][0]["selectableFields"] = [{"jsonPath": ".spec.other"}]
    assert validate(crd) == [
        'spec.selectableFields[0].jsonPath: Invalid value: ".spec.other": is an invalid path: '
        "does not refer to a valid field"
    ]


def test_per_version_selectable_fields_need_the_versions_own_schema() -> None:
    # Upstream quirk kept: identical schemas are hoisted, so a version no longer "has" one.
    crd = widget_crd()
    crd["spec"]["versions"][1]["schema"] = copy.deepcopy(crd["spec"]["versions"][0]["schema"])
    assert validate(crd) == [
        'spec.versions[0].selectableFields: Invalid value: "": selectableFields may only be set '
        "when version.schema.openAPIV3Schema is not included"
    ]


def test_resolve_field_path_through_maps() -> None:
    path, found = crds.resolve_field_path(".spec.labels.team", WIDGET_V1_SCHEMA)
    assert path == "spec.labels[team]"
    assert found == {"type": "string"}
    with pytest.raises(ValueError, match="array notation is not allowed"):
        crds.resolve_field_path(".spec['size']", WIDGET_V1_SCHEMA)
    with pytest.raises(ValueError, match="unexpected end of JSON path"):
        crds.resolve_field_path(".spec.", WIDGET_V1_SCHEMA)


def test_deprecation_warnings() -> None:
    crd = widget_crd()
    crd["spec"]["versions"][0]["deprecationWarning"] = "use v2"
    assert validate(crd) == [
        'spec.versions[0].deprecationWarning: Invalid value: "use v2": can only be set for '
        "deprecated versions"
    ]
    crd = widget_crd()
    crd["spec"]["versions"][1]["deprecationWarning"] = "x" * 257
    assert validate(crd) == [
        f'spec.versions[1].deprecationWarning: Invalid value: "{"x" * 257}": must be <= 256 '
        "characters long"
    ]
    crd["spec"]["versions"][1]["deprecationWarning"] = "bad\tword"
    assert validate(crd) == [
        'spec.versions[1].deprecationWarning: Invalid value: "bad\\tword": must only contain '
        "printable UTF-8 characters; non-printable character found at index 3"
    ]


# --- validation: preserveUnknownFields, conversion, approval ----------------------------------


def test_preserve_unknown_fields_must_be_false() -> None:
    crd = widget_crd()
    crd["spec"]["preserveUnknownFields"] = True
    assert validate(crd) == [
        "spec.preserveUnknownFields: Invalid value: true: must be false in order to use "
        "defaults in the schema",
        "spec.preserveUnknownFields: Invalid value: true: cannot set to true, set "
        "x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead",
    ]


def test_webhook_conversion_is_refused() -> None:
    crd = widget_crd()
    crd["spec"]["conversion"] = {
        "strategy": "Webhook",
        "webhook": {
            "clientConfig": {"url": "https://convert.example.com/"},
            "conversionReviewVersions": ["v1"],
        },
    }
    assert validate(crd) == [
        'spec.conversion.strategy: Unsupported value: "Webhook": supported values: "None"'
    ]


def test_conversion_none_takes_no_webhook() -> None:
    crd = widget_crd()
    crd["spec"]["conversion"] = {
        "strategy": "None",
        "webhook": {
            "clientConfig": {"url": "https://x.example.com"},
            "conversionReviewVersions": ["v1"],
        },
    }
    assert validate(crd) == [
        "spec.conversion.webhookClientConfig: Forbidden: should not be set when strategy is not "
        "set to Webhook",
        "spec.conversion.conversionReviewVersions: Forbidden: should not be set when strategy is "
        "not set to Webhook",
    ]
    crd["spec"]["conversion"] = {"strategy": ""}
    assert validate(crd) == ["spec.conversion.strategy: Required value"]


def test_protected_groups_need_api_approval() -> None:
    crd = gadget_crd("gadgets.k8s.io")
    assert validate(crd) == [
        "metadata.annotations[api-approved.kubernetes.io]: Required value: protected groups "
        'must have approval annotation "api-approved.kubernetes.io", see '
        "https://github.com/kubernetes/enhancements/pull/1111"
    ]
    crd["metadata"]["annotations"] = {"api-approved.kubernetes.io": "maybe later"}
    assert validate(crd) == [
        'metadata.annotations[api-approved.kubernetes.io]: Invalid value: "maybe later": '
        'protected groups must have approval annotation "api-approved.kubernetes.io" with '
        'either a URL or a reason starting with "unapproved", see '
        "https://github.com/kubernetes/enhancements/pull/1111"
    ]
    for fine in ("unapproved, experimental", "https://github.com/kubernetes/kubernetes/pull/1"):
        crd["metadata"]["annotations"] = {"api-approved.kubernetes.io": fine}
        assert validate(crd) == []


def test_an_unchanged_approval_state_is_never_refused_on_update() -> None:
    old = established(gadget_crd("gadgets.k8s.io"))
    new = copy.deepcopy(old)
    new["spec"]["names"]["shortNames"] = ["gd"]
    assert validate(new, old) == []


# --- validation: updates ----------------------------------------------------------------------


def test_group_and_plural_are_immutable() -> None:
    old = gadget_crd()
    crds.default_crd(old)
    new = copy.deepcopy(old)
    new["spec"]["group"] = "example.org"
    new["spec"]["names"]["plural"] = "gizmos"
    assert validate(new, old) == [
        'spec.group: Invalid value: "example.org": field is immutable',
        'spec.names.plural: Invalid value: "gizmos": field is immutable',
    ]


def test_scope_and_kind_are_immutable_once_established() -> None:
    old = gadget_crd()
    crds.default_crd(old)
    new = copy.deepcopy(old)
    new["spec"]["scope"] = "Namespaced"
    new["spec"]["names"].update(kind="Gizmo", listKind="GizmoList")
    assert validate(new, old) == []
    old = established(old)
    new["status"] = copy.deepcopy(old["status"])
    assert validate(new, old) == [
        'spec.scope: Invalid value: "Namespaced": field is immutable',
        'spec.names.kind: Invalid value: "Gizmo": field is immutable',
    ]


def test_stored_versions_must_stay_in_spec_versions() -> None:
    old = widget_crd()
    crds.default_crd(old)
    old["status"]["storedVersions"] = ["v1beta1", "v1"]
    new = copy.deepcopy(old)
    del new["spec"]["versions"][1]
    assert validate(new, old) == [
        'status.storedVersions[0]: Invalid value: "v1beta1": missing from spec.versions; v1beta1 '
        "was previously a storage version, and must remain in spec.versions until a storage "
        "migration ensures no data remains persisted in v1beta1 and removes v1beta1 from "
        "status.storedVersions"
    ]


def test_stored_versions_must_hold_the_storage_version() -> None:
    crd = widget_crd()
    crd["status"] = {"storedVersions": ["v1beta1"]}
    causes = crds.validate_crd(crd, old=None, check_schema=SchemaChecks())
    assert [c["message"] for c in causes] == [
        'Invalid value: []string{"v1beta1"}: must have the storage version v1'
    ]
    crd["status"] = {}
    causes = crds.validate_crd(crd, old=None, check_schema=SchemaChecks())
    assert [c["message"] for c in causes] == [
        "Invalid value: []string(nil): must have at least one stored version"
    ]


def test_schemas_stay_optional_on_update_when_they_were() -> None:
    old = widget_crd()
    del old["spec"]["versions"][1]["schema"]
    crds.default_crd(old)
    new = copy.deepcopy(old)
    assert validate(new, old) == [
        "spec.versions[1].schema.openAPIV3Schema: Required value: because otherwise all "
        "fields are pruned"
    ]
    new["spec"]["versions"][1]["served"] = False
    assert validate(new, old) == []


# --- status: names, establishment, approval ---------------------------------------------------


def test_a_fresh_crd_is_accepted_and_established() -> None:
    crd = widget_crd()
    crds.default_crd(crd)
    status = crds.accepted_status(crd, [], now=NOW)
    assert status == {
        "storedVersions": ["v1"],
        "acceptedNames": {
            "plural": "widgets",
            "singular": "widget",
            "shortNames": ["wd"],
            "kind": "Widget",
            "listKind": "WidgetList",
            "categories": ["all", "toys"],
        },
        "conditions": [
            {
                "type": "NamesAccepted",
                "status": "True",
                "lastTransitionTime": NOW,
                "reason": "NoConflicts",
                "message": "no conflicts found",
            },
            {
                "type": "Established",
                "status": "True",
                "lastTransitionTime": NOW,
                "reason": "InitialNamesAccepted",
                "message": "the initial names have been accepted",
            },
        ],
    }


def test_transition_times_stay_while_statuses_do() -> None:
    crd = established(widget_crd())
    again = crds.accepted_status(crd, [], now=LATER)
    assert again == crd["status"]
    crd["status"]["conditions"].append(
        {"type": "Terminating", "status": "True", "reason": "InstanceDeletionInProgress"}
    )
    assert crds.accepted_status(crd, [], now=LATER)["conditions"][2]["type"] == "Terminating"


def test_a_plural_taken_in_the_same_group_is_a_conflict() -> None:
    first = established(widget_crd())
    second = widget_crd()
    second["metadata"]["name"] = "widgets2.example.com"
    second["spec"]["names"] = {"plural": "widgets", "singular": "widget2", "kind": "Widget2"}
    crds.default_crd(second)
    status = crds.accepted_status(second, [first], now=NOW)
    assert status["acceptedNames"] == {
        "plural": "",
        "singular": "widget2",
        "kind": "Widget2",
        "listKind": "Widget2List",
    }
    names_accepted, est = status["conditions"]
    assert names_accepted == {
        "type": "NamesAccepted",
        "status": "False",
        "lastTransitionTime": NOW,
        "reason": "PluralConflict",
        "message": '"widgets" is already in use',
    }
    assert est == {
        "type": "Established",
        "status": "False",
        "lastTransitionTime": NOW,
        "reason": "NotAccepted",
        "message": "not all names are accepted",
    }
    second["status"] = status
    assert crds.served_kinds(second) == []


def test_the_last_conflict_names_the_reason() -> None:
    first = established(widget_crd())
    second = gadget_crd()
    second["spec"]["names"] = {"plural": "gadgets", "singular": "widget", "kind": "Widget"}
    crds.default_crd(second)
    status = crds.accepted_status(second, [first], now=NOW)
    assert status["conditions"][0]["reason"] == "ListKindConflict"
    assert status["conditions"][0]["message"] == '"WidgetList" is already in use'
    assert status["acceptedNames"] == {"plural": "gadgets", "kind": ""}


def test_kind_conflict_message() -> None:
    first = established(widget_crd())
    second = gadget_crd()
    second["spec"]["names"] = {
        "plural": "gizmos",
        "singular": "gizmo",
        "kind": "Widget",
        "listKind": "GizmoList",
    }
    crds.default_crd(second)
    status = crds.accepted_status(second, [first], now=NOW)
    assert status["conditions"][0]["reason"] == "KindConflict"
    assert status["conditions"][0]["message"] == '"Widget" is already in use'


def test_short_name_conflicts_are_aggregated() -> None:
    first = established(widget_crd())
    second = gadget_crd()
    second["spec"]["names"]["shortNames"] = ["wd", "widget", "gd"]
    crds.default_crd(second)
    status = crds.accepted_status(second, [first], now=NOW)
    assert status["conditions"][0]["reason"] == "ShortNamesConflict"
    assert (
        status["conditions"][0]["message"] == '["wd" is already in use, "widget" is already in use]'
    )
    assert "shortNames" not in status["acceptedNames"]


def test_other_groups_do_not_conflict() -> None:
    first = established(widget_crd())
    other = widget_crd()
    other["metadata"]["name"] = "widgets.example.org"
    other["spec"]["group"] = "example.org"
    crds.default_crd(other)
    status = crds.accepted_status(other, [first], now=NOW)
    assert status["conditions"][0]["reason"] == "NoConflicts"


def test_an_established_crd_keeps_serving_when_a_new_name_conflicts() -> None:
    first = established(widget_crd())
    second = established(gadget_crd())
    second["spec"]["names"]["shortNames"] = ["wd"]
    status = crds.accepted_status(second, [first], now=LATER)
    conditions = {c["type"]: c for c in status["conditions"]}
    assert conditions["NamesAccepted"]["status"] == "False"
    assert conditions["NamesAccepted"]["lastTransitionTime"] == LATER
    assert conditions["Established"]["status"] == "True"
    assert conditions["Established"]["lastTransitionTime"] == NOW
    second["status"] = status
    assert [k.short_names for k in crds.served_kinds(second)] == [()]


def test_api_approval_condition() -> None:
    crd = gadget_crd("gadgets.k8s.io")
    crd["metadata"]["annotations"] = {"api-approved.kubernetes.io": "unapproved, testing"}
    status = established(crd)["status"]
    assert status["conditions"][2] == {
        "type": "KubernetesAPIApprovalPolicyConformant",
        "status": "False",
        "lastTransitionTime": NOW,
        "reason": "UnapprovedAnnotation",
        "message": 'not approved: "unapproved, testing"',
    }
    crd["metadata"]["annotations"] = {
        "api-approved.kubernetes.io": "https://github.com/kubernetes/enhancements/pull/1111"
    }
    approved = crds.accepted_status(crd, [], now=LATER)["conditions"][2]
    assert approved["status"] == "True"
    assert approved["reason"] == "ApprovedAnnotation"
    assert approved["message"] == "approved in https://github.com/kubernetes/enhancements/pull/1111"
    assert approved["lastTransitionTime"] == LATER


# --- served kinds -----------------------------------------------------------------------------


def test_unestablished_crds_serve_nothing() -> None:
    crd = widget_crd()
    crds.default_crd(crd)
    assert crds.served_kinds(crd) == []


def test_served_kinds_of_a_two_version_crd() -> None:
    crd = established(widget_crd())
    v1, v1beta1 = crds.served_kinds(crd)
    storage_id = crds.storage_id_for("example.com", "widgets")
    assert v1 == ResourceKind(
        group="example.com",
        version="v1",
        resource="widgets",
        singular="widget",
        kind="Widget",
        namespaced=True,
        verbs=ALL_VERBS,
        short_names=("wd",),
        categories=("all", "toys"),
        subresources=("status", "scale"),
        storage_id=storage_id,
    )
    assert v1beta1.subresources == ()
    assert v1beta1.storage_id == storage_id
    served = v1.definition
    assert isinstance(served, crds.ServedVersion)
    assert served.crd_name == "widgets.example.com"
    assert served.crd_uid == "0b7f5c1e-0000-4000-8000-000000000001"
    assert served.storage_version == "v1"
    assert served.list_kind == "WidgetList"
    assert served.schema == WIDGET_V1_SCHEMA
    assert served.status_subresource is True
    assert served.scale == crds.ScalePaths(".spec.replicas", ".status.replicas", ".status.selector")
    assert served.printer_columns == tuple(COLUMNS)
    assert served.selectable_fields == (".spec.color",)
    assert served.field_labels == ("spec.color",)
    assert (served.deprecated, served.deprecation_warning) == (False, None)
    old = v1beta1.definition
    assert isinstance(old, crds.ServedVersion)
    assert old.deprecated is True
    assert old.deprecation_warning == "example.com/v1beta1 Widget is deprecated"
    assert crds.served_version(v1) is served


def test_unserved_versions_are_not_served_and_warnings_are_the_crds() -> None:
    crd = widget_crd()
    crd["spec"]["versions"][1]["deprecationWarning"] = (
        "example.com/v1beta1 Widget is going away; use v1"
    )
    crd = established(crd)
    served = crds.served_version(crds.served_kinds(crd)[1])
    assert served is not None
    assert served.deprecation_warning == "example.com/v1beta1 Widget is going away; use v1"
    crd["spec"]["versions"][1]["served"] = False
    assert [k.version for k in crds.served_kinds(crd)] == ["v1"]


def test_served_versions_compare_and_hash() -> None:
    first = [crds.served_version(k) for k in crds.served_kinds(established(widget_crd()))]
    again = [crds.served_version(k) for k in crds.served_kinds(established(widget_crd()))]
    assert first == again
    assert len({*first, *again}) == 2
    changed = widget_crd()
    changed["spec"]["versions"][0]["additionalPrinterColumns"].pop()
    assert crds.served_version(crds.served_kinds(established(changed))[0]) != first[0]


def test_storage_ids_are_stable_and_above_the_builtins() -> None:
    widget = crds.storage_id_for("example.com", "widgets")
    assert widget == crds.storage_id_for("example.com", "widgets")
    assert 1 << 40 <= widget < 1 << 41
    assert widget != crds.storage_id_for("example.org", "widgets")
    assert widget != crds.storage_id_for("example.com", "gadgets")


# --- OpenAPI ----------------------------------------------------------------------------------


def widget_document() -> dict[str, Any]:
    kinds = [k for k in crds.served_kinds(established(widget_crd())) if k.version == "v1"]
    return crds.openapi_document(kinds)


def test_openapi_document_components() -> None:
    doc = widget_document()
    assert doc["openapi"] == "3.0.0"
    schemas = doc["components"]["schemas"]
    widget = schemas["com.example.v1.Widget"]
    assert widget["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "kind": "Widget", "version": "v1"}
    ]
    assert widget["x-kubernetes-selectable-fields"] == [{"fieldPath": "spec.color"}]
    assert widget["description"] == "A Widget is a thing with a size and a color."
    assert widget["properties"]["metadata"] == {
        "$ref": "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
    }
    assert widget["properties"]["apiVersion"] == {"type": "string"}
    spec = widget["properties"]["spec"]
    assert spec["required"] == ["size"]
    assert spec["properties"]["size"]["description"] == "How big."
    assert spec["properties"]["port"] == {
        "x-kubernetes-int-or-string": True,
        "anyOf": [{"type": "integer"}, {"type": "string"}],
    }
    template = spec["properties"]["template"]
    assert template["required"] == ["kind", "apiVersion"]
    assert template["properties"]["metadata"]["$ref"].endswith("meta.v1.ObjectMeta")
    widget_list = schemas["com.example.v1.WidgetList"]
    assert widget_list["x-kubernetes-group-version-kind"] == [
        {"group": "example.com", "kind": "WidgetList", "version": "v1"}
    ]
    assert widget_list["properties"]["items"]["items"] == {
        "$ref": "#/components/schemas/com.example.v1.Widget"
    }
    assert widget_list["required"] == ["items"]
    for name in (
        "ObjectMeta",
        "ListMeta",
        "ManagedFieldsEntry",
        "OwnerReference",
        "Time",
        "FieldsV1",
        "Status",
        "Patch",
        "DeleteOptions",
    ):
        assert f"io.k8s.apimachinery.pkg.apis.meta.v1.{name}" in schemas
    assert "io.k8s.api.autoscaling.v1.Scale" in schemas
    # The source schema is not modified.
    assert WIDGET_V1_SCHEMA["properties"]["spec"]["properties"]["port"] == {
        "x-kubernetes-int-or-string": True
    }


def test_openapi_document_is_self_contained() -> None:
    doc = widget_document()
    schemas = doc["components"]["schemas"]
    refs: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    refs.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(doc)
    assert refs
    for ref in refs:
        assert ref.startswith("#/components/schemas/")
        assert ref.removeprefix("#/components/schemas/") in schemas
    reachable = reachable_schemas(value=doc["paths"], schemas=schemas)
    assert reachable == set(schemas)


def test_openapi_paths_and_operations() -> None:
    doc = widget_document()
    prefix = "/apis/example.com/v1"
    assert sorted(doc["paths"]) == [
        f"{prefix}/namespaces/{{namespace}}/widgets",
        f"{prefix}/namespaces/{{namespace}}/widgets/{{name}}",
        f"{prefix}/namespaces/{{namespace}}/widgets/{{name}}/scale",
        f"{prefix}/namespaces/{{namespace}}/widgets/{{name}}/status",
        f"{prefix}/widgets",
    ]
    item = doc["paths"][f"{prefix}/namespaces/{{namespace}}/widgets/{{name}}"]
    assert [p["name"] for p in item["parameters"]] == ["name", "namespace", "pretty"]
    patch = item["patch"]
    assert patch["operationId"] == "patchExampleComV1NamespacedWidget"
    assert patch["tags"] == ["exampleCom_v1"]
    assert patch["x-kubernetes-action"] == "patch"
    assert patch["x-kubernetes-group-version-kind"] == {
        "group": "example.com",
        "kind": "Widget",
        "version": "v1",
    }
    assert [p["name"] for p in patch["parameters"]] == [
        "dryRun",
        "fieldManager",
        "fieldValidation",
        "force",
    ]
    assert {
        "in": "query",
        "name": "fieldValidation",
        "schema": {"type": "string", "uniqueItems": True},
    } in patch["parameters"]
    assert sorted(patch["requestBody"]["content"]) == [
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
    ]
    assert patch["requestBody"]["required"] is True
    assert item["get"]["parameters"] == [
        {
            "in": "query",
            "name": "resourceVersion",
            "schema": {"type": "string", "uniqueItems": True},
        }
    ]
    assert item["get"]["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/com.example.v1.Widget"
    }
    assert "required" not in item["delete"]["requestBody"]
    assert sorted(item["delete"]["responses"]) == ["200", "202", "401"]
    collection = doc["paths"][f"{prefix}/namespaces/{{namespace}}/widgets"]
    assert [p["name"] for p in collection["parameters"]] == ["namespace", "pretty"]
    assert collection["post"]["operationId"] == "createExampleComV1NamespacedWidget"
    assert sorted(collection["post"]["responses"]) == ["200", "201", "202", "401"]
    assert collection["delete"]["operationId"] == "deleteExampleComV1CollectionNamespacedWidget"
    assert collection["delete"]["x-kubernetes-action"] == "deletecollection"
    assert collection["get"]["x-kubernetes-action"] == "list"
    assert "watch" in [p["name"] for p in collection["get"]["parameters"]]
    every = doc["paths"][f"{prefix}/widgets"]
    assert every["get"]["operationId"] == "listExampleComV1WidgetForAllNamespaces"
    assert "parameters" not in every["get"]
    assert [p["name"] for p in every["parameters"]][:3] == [
        "allowWatchBookmarks",
        "continue",
        "fieldSelector",
    ]
    scale = doc["paths"][f"{prefix}/namespaces/{{namespace}}/widgets/{{name}}/scale"]
    assert scale["get"]["operationId"] == "readExampleComV1NamespacedWidgetScale"
    assert scale["put"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "autoscaling.v1.Scale"
    )
    status = doc["paths"][f"{prefix}/namespaces/{{namespace}}/widgets/{{name}}/status"]
    assert status["patch"]["operationId"] == "patchExampleComV1NamespacedWidgetStatus"
    assert status["patch"]["x-kubernetes-group-version-kind"]["kind"] == "Widget"


def test_strategic_merge_patch_is_never_offered() -> None:
    raw = orjson.dumps(widget_document())
    assert b"strategic-merge-patch" not in raw
    assert b"/watch/" not in raw


def test_cluster_scoped_paths() -> None:
    doc = crds.openapi_document(crds.served_kinds(established(gadget_crd())))
    assert sorted(doc["paths"]) == [
        "/apis/example.com/v1/gadgets",
        "/apis/example.com/v1/gadgets/{name}",
    ]
    item = doc["paths"]["/apis/example.com/v1/gadgets/{name}"]
    assert item["put"]["operationId"] == "replaceExampleComV1Gadget"
    assert [p["name"] for p in item["parameters"]] == ["name", "pretty"]
    assert "io.k8s.api.autoscaling.v1.Scale" not in doc["components"]["schemas"]


def test_openapi_round_trips_through_the_openapi_surface() -> None:
    kinds = [k for k in crds.served_kinds(established(widget_crd())) if k.version == "v1"]
    doc = crds.openapi_document(kinds)
    key = document_key(group="example.com", version="v1")
    assert key == "apis/example.com/v1"
    made = make_document(key=key, document=doc)
    assert orjson.loads(made.body) == doc
    assert made.server_relative_url == f"/openapi/v3/apis/example.com/v1?hash={made.hash}"
    assert make_document(key=key, document=crds.openapi_document(kinds)).hash == made.hash
    prefix = "/apis/example.com/v1"
    served = {k.resource: k.subresources for k in kinds}
    assert filter_document(document=doc, prefix=prefix, served=served) == doc
    assert {path_resource(prefix=prefix, path=p) for p in doc["paths"]} == {
        ("widgets", ""),
        ("widgets", "status"),
        ("widgets", "scale"),
    }
    without_scale = filter_document(document=doc, prefix=prefix, served={"widgets": ["status"]})
    assert "io.k8s.api.autoscaling.v1.Scale" not in without_scale["components"]["schemas"]


def test_openapi_accepts_compiled_definitions() -> None:
    class Compiled:
        def __init__(self, served: object) -> None:
            self.served = served

    kinds = [k for k in crds.served_kinds(established(widget_crd())) if k.version == "v1"]
    wrapped = [dataclasses.replace(k, definition=Compiled(k.definition)) for k in kinds]
    assert crds.openapi_document(wrapped) == crds.openapi_document(kinds)


def test_operation_ids() -> None:
    assert crdopenapi.operation_id_and_tag(
        "listNamespacedWidget", "stable.example.com", "v1beta1"
    ) == (
        "listStableExampleComV1beta1NamespacedWidget",
        "stableExampleCom_v1beta1",
    )
    assert crdopenapi.operation_id_and_tag("readNodeThing", "things.k8s.io", "v1") == (
        "readThingsV1NodeThing",
        "things_v1",
    )
    assert (
        crdopenapi.component_name("stable.example.com", "v1", "CronTab")
        == "com.example.stable.v1.CronTab"
    )


def test_an_unschemaed_version_is_a_plain_object() -> None:
    crd = established(widget_crd())
    del crd["spec"]["versions"][1]["schema"]
    doc = crds.openapi_document([k for k in crds.served_kinds(crd) if k.version == "v1beta1"])
    assert doc["components"]["schemas"]["com.example.v1beta1.Widget"] == {
        "type": "object",
        "x-kubernetes-group-version-kind": [
            {"group": "example.com", "kind": "Widget", "version": "v1beta1"}
        ],
    }


# --- scale ------------------------------------------------------------------------------------

PATHS = crds.ScalePaths(".spec.replicas", ".status.replicas", ".status.selector")


def widget(**spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {
            "name": "w1",
            "namespace": "default",
            "uid": "u-1",
            "resourceVersion": "42",
            "creationTimestamp": NOW,
        },
        "spec": {"size": 3, **spec},
        "status": {"replicas": 2, "selector": "app=w1"},
    }


def test_to_scale() -> None:
    assert crds.to_scale(widget(replicas=3), PATHS) == {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": "w1",
            "namespace": "default",
            "uid": "u-1",
            "resourceVersion": "42",
            "creationTimestamp": NOW,
        },
        "spec": {"replicas": 3},
        "status": {"replicas": 2, "selector": "app=w1"},
    }


def test_to_scale_without_spec_replicas() -> None:
    obj = widget()
    del obj["status"]
    assert crds.to_scale(obj, PATHS)["spec"] == {}
    assert crds.to_scale(obj, PATHS)["status"] == {"replicas": 0}
    with pytest.raises(crds.CRDError) as caught:
        crds.to_scale(obj, PATHS, require_spec_replicas=True)
    assert (caught.value.code, caught.value.reason) == (500, "InternalError")
    assert (
        caught.value.message
        == 'Internal error occurred: the spec replicas field ".spec.replicas" does not exist'
    )


def test_to_scale_refuses_a_wrong_type() -> None:
    with pytest.raises(crds.CRDError) as caught:
        crds.to_scale(widget(replicas="three"), PATHS)
    assert (
        caught.value.message
        == ".spec.replicas accessor error: three is of the type string, expected int64"
    )
    assert errors.from_coded(caught.value).code == 500


def test_from_scale_writes_spec_replicas_back() -> None:
    scale = crds.to_scale(widget(replicas=1), PATHS)
    scale["spec"]["replicas"] = 5
    scale["metadata"]["resourceVersion"] = "40"
    updated = crds.from_scale(widget(replicas=1), scale, PATHS)
    assert updated["spec"] == {"size": 3, "replicas": 5}
    assert updated["metadata"]["resourceVersion"] == "40"
    nested = crds.ScalePaths(".spec.scaling.count", ".status.count")
    obj = crds.from_scale(widget(), {"spec": {"replicas": 2}}, nested)
    assert obj["spec"]["scaling"] == {"count": 2}


def test_from_scale_refusals() -> None:
    with pytest.raises(crds.CRDError) as caught:
        crds.from_scale(widget(), {"metadata": {"name": "w1"}, "spec": {}}, PATHS)
    assert (caught.value.code, caught.value.message) == (
        400,
        'the spec replicas field ".spec.replicas" cannot be empty',
    )
    assert crds.from_scale(widget(replicas=4), {"spec": {}}, PATHS)["spec"]["replicas"] == 0
    with pytest.raises(crds.CRDError) as caught:
        crds.from_scale(
            widget(replicas=4), {"metadata": {"name": "w1"}, "spec": {"replicas": -1}}, PATHS
        )
    assert caught.value.code == 422
    assert (
        caught.value.message
        == 'Scale.autoscaling "w1" is invalid: spec.replicas: Invalid value: -1: must be greater '
        "than or equal to 0"
    )
    assert crds.validate_scale({"spec": {"replicas": -1}}) == [
        {
            "reason": "FieldValueInvalid",
            "message": "Invalid value: -1: must be greater than or equal to 0",
            "field": "spec.replicas",
        }
    ]


# --- selectable fields ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "path", "expected"),
    [
        ({"color": "red"}, ".spec.color", "red"),
        ({"size": 3}, ".spec.size", "3"),
        ({"on": True}, ".spec.on", "true"),
        ({"on": False}, ".spec.on", "false"),
        ({}, ".spec.color", ""),
        ({"color": None}, ".spec.color", ""),
        ({"nested": "x"}, ".spec.nested.deeper", ""),
    ],
)
def test_selectable_value(spec: dict[str, Any], path: str, expected: str) -> None:
    assert crds.selectable_value({"spec": spec}, path) == expected
